/*
 * port_watch - see port_watch.h. A poll compares two small arrays (ports are few): O(n^2) in
 * the number of ports, which PORT_WATCH_MAX caps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad.h>

#include "base/log.h"
#include "base/loop.h"
#include "fabric/port_watch.h"
#include "wire/port_info.h"

struct port_watch {
	struct loop *loop;
	unsigned poll_ms;
	port_probe_fn probe;
	void *probe_arg;
	port_event_fn fn;
	void *arg;
	struct loop_timer timer;
	struct port_seen last[PORT_WATCH_MAX];
	size_t n_last;
	int last_err;		/* the probe's last error, logged once */
};

/* --- the umad probe -------------------------------------------------------- */

static void state_of(const umad_port_t *p, struct port_seen *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->ca_name, sizeof(out->ca_name), "%s", p->ca_name);
	out->port_num = (unsigned)p->portnum;
	/* An Ethernet (RoCE) port has no SA to ask (libibumad says "IB" without the sysfs file). */
	out->active = p->state == PORT_STATE_ACTIVE && strcmp(p->link_layer, "Ethernet");
	out->lid = (uint16_t)p->base_lid;
	out->lmc = (uint8_t)p->lmc;
	memcpy(out->gid.raw, &p->gid_prefix, 8);
	memcpy(out->gid.raw + 8, &p->port_guid, 8);
}

int port_watch_probe_umad(void *arg, struct port_seen *out, size_t max)
{
	char names[UMAD_MAX_DEVICES][UMAD_CA_NAME_LEN];
	int n_cas;
	size_t n = 0;

	(void)arg;
	if (umad_init() < 0)
		return -ENODEV;
	n_cas = umad_get_cas_names(names, UMAD_MAX_DEVICES);
	if (n_cas < 0)
		return n_cas;
	for (int c = 0; c < n_cas; c++) {
		umad_ca_t ca;

		if (umad_get_ca(names[c], &ca) < 0)
			continue;	/* gone since it was listed */
		for (int p = 1; p <= ca.numports && p < UMAD_CA_MAX_PORTS; p++)
			if (ca.ports[p] && n < max)
				state_of(ca.ports[p], &out[n++]);
		umad_release_ca(&ca);
	}
	return (int)n;
}

/* --- polling ---------------------------------------------------------------- */

static const struct port_seen *find(const struct port_seen *v, size_t n,
				     const struct port_seen *key)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].port_num == key->port_num && !strcmp(v[i].ca_name, key->ca_name))
			return &v[i];
	return NULL;
}

static bool readdressed(const struct port_seen *a, const struct port_seen *b)
{
	return a->lid != b->lid || a->lmc != b->lmc || memcmp(&a->gid, &b->gid, sizeof(a->gid));
}

int port_watch_poll(struct port_watch *w)
{
	struct port_seen now[PORT_WATCH_MAX], before[PORT_WATCH_MAX];
	size_t n_before = w->n_last;
	int n = w->probe(w->probe_arg, now, PORT_WATCH_MAX);

	if (n < 0) {
		if (n != w->last_err)
			LOG_WARN("cannot read the ports' state: %s", strerror(-n));
		w->last_err = n;
		return n;
	}
	w->last_err = 0;
	/* The new state first: a callback that asks for the ports sees this poll's. */
	memcpy(before, w->last, n_before * sizeof(before[0]));
	memcpy(w->last, now, (size_t)n * sizeof(now[0]));
	w->n_last = (size_t)n;
	for (size_t i = 0; i < n_before; i++) {
		const struct port_seen *p = find(now, (size_t)n, &before[i]);

		if (before[i].active && (!p || !p->active)) {
			struct port_seen gone = before[i];

			gone.active = false;
			w->fn(w->arg, PORT_DOWN, p ? p : &gone);
		}
	}
	for (size_t i = 0; i < (size_t)n; i++) {
		const struct port_seen *p = find(before, n_before, &now[i]);

		if (!now[i].active)
			continue;
		if (!p || !p->active)
			w->fn(w->arg, PORT_UP, &now[i]);
		else if (readdressed(p, &now[i]))
			w->fn(w->arg, PORT_READDRESSED, &now[i]);
	}
	return 0;
}

static void poll_tick(struct loop *loop, void *arg)
{
	struct port_watch *w = arg;

	loop_timer_start(loop, &w->timer, w->poll_ms, poll_tick, w);
	port_watch_poll(w);
}

/* --- public ----------------------------------------------------------------- */

int port_watch_new(struct loop *loop, unsigned poll_ms, port_probe_fn probe, void *probe_arg,
		   port_event_fn fn, void *arg, struct port_watch **out)
{
	struct port_watch *w;
	int n;

	if (!loop || !probe || !fn || !out)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct port_watch){ .loop = loop, .poll_ms = poll_ms, .probe = probe,
				  .probe_arg = probe_arg, .fn = fn, .arg = arg };
	n = probe(probe_arg, w->last, PORT_WATCH_MAX);
	if (n < 0) {
		free(w);
		return n;
	}
	w->n_last = (size_t)n;
	if (poll_ms)
		loop_timer_start(loop, &w->timer, poll_ms, poll_tick, w);
	*out = w;
	return 0;
}

void port_watch_free(struct port_watch *w)
{
	if (!w)
		return;
	loop_timer_stop(w->loop, &w->timer);
	free(w);
}

size_t port_watch_ports(const struct port_watch *w, struct port_seen *out, size_t max)
{
	memcpy(out, w->last, (w->n_last < max ? w->n_last : max) * sizeof(*out));
	return w->n_last;
}

void port_watch_set_period(struct port_watch *w, unsigned poll_ms)
{
	if (poll_ms == w->poll_ms)
		return;
	w->poll_ms = poll_ms;
	loop_timer_stop(w->loop, &w->timer);
	if (poll_ms)
		loop_timer_start(w->loop, &w->timer, poll_ms, poll_tick, w);
}
