/*
 * test_fabric_sm_tracker.c - where the master SM is, over a scripted port: a 0-hop
 * directed-route PortInfo read (one at a time), a changed MasterSMLID reported once with the
 * port updated, a changed port LID followed silently, a read that times out does not wedge
 * the tracker, periodic reads (none while one is unanswered), and without an SMP agent the
 * port's attributes read again.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sm.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "fabric/mad_port.h"
#include "fabric/sm_tracker.h"
#include "mad_script.h"

struct change {
	unsigned calls;
	uint16_t old_lid, new_lid;
};

static void on_change(void *arg, uint16_t old_lid, uint16_t new_lid)
{
	struct change *c = arg;

	c->calls++;
	c->old_lid = old_lid;
	c->new_lid = new_lid;
}

static void test_reads(struct loop *loop)
{
	struct change c = { 0 };
	struct sm_tracker *t;
	struct mad_script s;
	struct mad_port *port;
	struct strbuf sb;
	struct json j;

	script_init(&s);
	port = script_port(&s, loop);
	CHECK_INT(0, sm_tracker_new(loop, port, 0, on_change, &c, &t));
	sm_tracker_check(t);
	sm_tracker_check(t);	/* one read at a time */
	CHECK_INT(1, s.n_sent);
	CHECK_INT(SCRIPT_SMP_AGENT, s.sent[0].agent);
	CHECK_INT(0xffff, s.sent[0].dlid);
	CHECK_INT(0, s.sent[0].dqpn);
	CHECK_INT(UMAD_CLASS_SUBN_DIRECTED_ROUTE, s.sent[0].h.mgmt_class);
	CHECK_INT(UMAD_SM_ATTR_PORT_INFO, s.sent[0].h.attr_id);
	CHECK(s.sent[0].timeout_ms > 0);

	/* The SM moved: reported once, the port follows. */
	script_port_info(&s, &s.sent[0], SCRIPT_LID, 7);
	script_port_info(&s, &s.sent[0], SCRIPT_LID, 8);	/* a stale duplicate: ignored */
	script_run(loop, 10);
	CHECK_INT(1, c.calls);
	CHECK_INT(SCRIPT_SM_LID, c.old_lid);
	CHECK_INT(7, c.new_lid);
	CHECK_INT(7, port->sm_lid);

	/* Same SM, new port LID: followed, not reported. */
	sm_tracker_check(t);
	CHECK_INT(2, s.n_sent);
	CHECK((uint32_t)s.sent[1].h.tid != (uint32_t)s.sent[0].h.tid);
	script_port_info(&s, &s.sent[1], 5, 7);
	script_run(loop, 10);
	CHECK_INT(1, c.calls);
	CHECK_INT(5, port->lid);

	/* A read that times out frees the way for the next one. */
	sm_tracker_check(t);
	script_time_out(&s, &s.sent[2]);
	script_run(loop, 10);
	sm_tracker_check(t);
	CHECK_INT(4, s.n_sent);
	script_port_info(&s, &s.sent[3], 5, 9);
	script_run(loop, 10);
	CHECK_INT(2, c.calls);
	CHECK_INT(9, c.new_lid);

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	sm_tracker_stats_json(t, &j);
	strbuf_append(&sb, "", 1);
	CHECK_STR("\"sm_changes\": 2", sb.buf);
	strbuf_free(&sb);
	sm_tracker_free(t);
	mad_port_close(port);
}

static void answer_at_once(struct mad_script *s, const struct script_sent *m, void *arg)
{
	script_port_info(s, m, SCRIPT_LID, SCRIPT_SM_LID);
}

/* Polled every poll_ms; one read in flight at a time. */
static void test_polling(struct loop *loop)
{
	struct change c = { 0 };
	struct sm_tracker *t;
	struct mad_script s;
	struct mad_port *port;
	size_t n;

	script_init(&s);
	s.on_send = answer_at_once;
	port = script_port(&s, loop);
	CHECK_INT(0, sm_tracker_new(loop, port, 10, on_change, &c, &t));
	script_run(loop, 55);
	CHECK(s.n_sent >= 2 && s.n_sent <= 5);	/* again and again, never faster than 10 ms */
	/* Unanswered from now on: the reads stop while one is in flight. */
	s.on_send = NULL;
	n = s.n_sent;
	script_run(loop, 40);
	CHECK_INT(n + 1, s.n_sent);
	CHECK_INT(0, c.calls);
	sm_tracker_free(t);
	sm_tracker_free(NULL);
	mad_port_close(port);
}

/* Without a directed-route agent the port's own attributes say where the SM is. */
static void test_no_smp_agent(struct loop *loop)
{
	struct change c = { 0 };
	struct sm_tracker *t;
	struct mad_script s;
	struct mad_port *port;

	script_init(&s);
	s.t.smp_agent = -1;
	port = script_port(&s, loop);
	CHECK_INT(0, sm_tracker_new(loop, port, 0, on_change, &c, &t));
	s.attr.sm_lid = 11;
	sm_tracker_check(t);
	CHECK_INT(0, s.n_sent);
	CHECK_INT(1, c.calls);
	CHECK_INT(11, c.new_lid);
	CHECK_INT(11, port->sm_lid);
	sm_tracker_check(t);
	CHECK_INT(1, c.calls);
	sm_tracker_free(t);
	mad_port_close(port);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_reads(loop);
	test_polling(loop);
	test_no_smp_agent(loop);
	loop_free(loop);
	return CHECK_DONE();
}
