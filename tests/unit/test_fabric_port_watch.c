/*
 * test_fabric_port_watch.c - the port poller over a scripted probe: the ports at start are
 * reported by nobody (the caller reads them), a port going inactive or vanishing is down, one
 * becoming active or appearing (a hot-plugged CA) is up, a new LID or GID is readdressed, an
 * unchanged poll says nothing, a failing probe keeps the last state; the timer polls every
 * poll_ms and not at all with 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/loop.h"
#include "check.h"
#include "fabric/port_watch.h"
#include "mad_script.h"
#include "pr_fixture.h"

struct probe {
	struct port_seen ports[4];
	int n;			/* < 0: the probe fails with it */
	unsigned calls;
};

static int scripted(void *arg, struct port_seen *out, size_t max)
{
	struct probe *p = arg;

	p->calls++;
	if (p->n < 0)
		return p->n;
	for (int i = 0; i < p->n && (size_t)i < max; i++)
		out[i] = p->ports[i];
	return p->n;
}

struct heard {
	unsigned n;
	enum port_event ev[8];
	char name[8][72];
};

static void on_event(void *arg, enum port_event ev, const struct port_seen *st)
{
	struct heard *h = arg;

	if (h->n < 8) {
		h->ev[h->n] = ev;
		snprintf(h->name[h->n], sizeof(h->name[0]), "%s:%u", st->ca_name, st->port_num);
	}
	h->n++;
}

static struct port_seen seen(const char *ca, unsigned num, bool active, uint16_t lid)
{
	struct port_seen s = { .port_num = num, .active = active, .lid = lid };

	snprintf(s.ca_name, sizeof(s.ca_name), "%s", ca);
	s.gid = gid_of(lid);
	return s;
}

static void test_events(void)
{
	struct probe p = { .ports = { seen("mlx5_0", 1, true, 1), seen("mlx5_0", 2, true, 2) },
			   .n = 2 };
	struct port_seen list[4];
	struct heard h = { 0 };
	struct port_watch *w;
	struct loop *loop;

	CHECK_INT(0, loop_new(&loop));
	CHECK_INT(0, port_watch_new(loop, 0, scripted, &p, on_event, &h, &w));
	CHECK_INT(1, p.calls);
	CHECK_INT(0, h.n);
	CHECK_INT(2, port_watch_ports(w, list, 4));
	CHECK_INT(2, list[1].port_num);

	/* nothing changed: nothing said */
	CHECK_INT(0, port_watch_poll(w));
	CHECK_INT(0, h.n);

	/* port 2 down (still listed, not active) */
	p.ports[1].active = false;
	CHECK_INT(0, port_watch_poll(w));
	CHECK_INT(1, h.n);
	CHECK_INT(PORT_DOWN, h.ev[0]);
	CHECK_STR("mlx5_0:2", h.name[0]);
	CHECK_INT(0, port_watch_poll(w));
	CHECK_INT(1, h.n);

	/* back up; and a CA hot-plugged with an active port */
	p.ports[1].active = true;
	p.ports[2] = seen("mlx5_1", 1, true, 7);
	p.n = 3;
	CHECK_INT(0, port_watch_poll(w));
	CHECK_INT(3, h.n);
	CHECK_INT(PORT_UP, h.ev[1]);
	CHECK_STR("mlx5_0:2", h.name[1]);
	CHECK_INT(PORT_UP, h.ev[2]);
	CHECK_STR("mlx5_1:1", h.name[2]);

	/* port 1 gets another LID: readdressed */
	p.ports[0].lid = 9;
	CHECK_INT(0, port_watch_poll(w));
	CHECK_INT(4, h.n);
	CHECK_INT(PORT_READDRESSED, h.ev[3]);
	CHECK_STR("mlx5_0:1", h.name[3]);

	/* a failing probe changes nothing */
	p.n = -EIO;
	CHECK_INT(-EIO, port_watch_poll(w));
	CHECK_INT(4, h.n);
	CHECK_INT(3, port_watch_ports(w, list, 4));

	/* the hot-plugged CA removed: its port is down */
	p.n = 2;
	CHECK_INT(0, port_watch_poll(w));
	CHECK_INT(5, h.n);
	CHECK_INT(PORT_DOWN, h.ev[4]);
	CHECK_STR("mlx5_1:1", h.name[4]);
	port_watch_free(w);
	loop_free(loop);
}

static void test_timer(void)
{
	struct probe p = { .ports = { seen("mlx5_0", 1, true, 1) }, .n = 1 };
	struct heard h = { 0 };
	struct port_watch *w;
	struct loop *loop;

	CHECK_INT(0, loop_new(&loop));
	CHECK_INT(0, port_watch_new(loop, 20, scripted, &p, on_event, &h, &w));
	p.ports[0].active = false;
	script_run(loop, 70);
	CHECK(p.calls >= 3 && p.calls <= 5);
	CHECK_INT(1, h.n);
	CHECK_INT(PORT_DOWN, h.ev[0]);
	/* period 0: no more polls */
	port_watch_set_period(w, 0);
	p.calls = 0;
	script_run(loop, 50);
	CHECK_INT(0, p.calls);
	port_watch_free(w);
	loop_free(loop);
}

int main(void)
{
	test_events();
	test_timer();
	return CHECK_DONE();
}
