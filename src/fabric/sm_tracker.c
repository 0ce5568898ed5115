/*
 * sm_tracker - see sm_tracker.h. Without a directed-route agent it falls back
 * to re-reading the port attributes through libibumad (sysfs on hardware).
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sm.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "fabric/mad_dispatch.h"
#include "fabric/mad_port.h"
#include "fabric/sm_tracker.h"
#include "wire/port_info.h"

enum { SMP_TIMEOUT_MS = 500 };

struct sm_tracker {
	struct loop *loop;
	struct mad_port *port;
	unsigned poll_ms;
	sm_change_fn fn;
	void *arg;
	struct loop_timer timer;  /* the next periodic read */
	uint32_t tid;
	bool in_flight;
	uint64_t sent_ms;
	uint64_t changes;
};

static void apply(struct sm_tracker *t, uint16_t sm_lid, uint16_t lid)
{
	uint16_t old = t->port->sm_lid;

	if (lid && lid != t->port->lid) {
		LOG_INFO("port LID changed: %u -> %u", t->port->lid, lid);
		t->port->lid = lid;
	}
	if (!sm_lid || sm_lid == old)
		return;
	t->port->sm_lid = sm_lid;
	t->changes++;
	LOG_INFO("master SM moved: LID %u -> %u", old, sm_lid);
	t->fn(t->arg, old, sm_lid);
}

void sm_tracker_check(struct sm_tracker *t)
{
	unsigned char mad[256];
	int ret;

	/* A read lost without even a timeout report must not wedge us. */
	if (t->in_flight && loop_now_ms() - t->sent_ms < 4 * SMP_TIMEOUT_MS)
		return;
	if (t->port->smp_agent < 0) {
		uint16_t old_lid = t->port->lid, old_sm = t->port->sm_lid;

		if (mad_port_refresh(t->port) == 0) {
			uint16_t sm = t->port->sm_lid, lid = t->port->lid;

			t->port->sm_lid = old_sm;
			t->port->lid = old_lid;
			apply(t, sm, lid);
		}
		return;
	}
	memset(mad, 0, sizeof(mad));
	t->tid++;
	smp_encode_dr_get(mad, t->tid, UMAD_SM_ATTR_PORT_INFO, 0);
	ret = mad_port_send(t->port, t->port->smp_agent, 0xffff, 0, mad, sizeof(mad),
			    SMP_TIMEOUT_MS, 1);
	if (ret < 0) {
		LOG_WARN("PortInfo read failed: %s", strerror(-ret));
		return;
	}
	t->in_flight = true;
	t->sent_ms = loop_now_ms();
}

/* The answer to a PortInfo read, or its timeout: every directed-route answer is ours. */
static void on_mad(void *arg, const struct mad_in *in)
{
	struct sm_tracker *t = arg;
	const uint8_t *data;
	uint16_t sm_lid, lid;

	if (!t->in_flight || (uint32_t)in->hdr.tid != t->tid)
		return;
	t->in_flight = false;
	if (in->kind == MAD_KIND_SEND_TIMEOUT) {
		LOG_WARN("PortInfo read timed out");
		return;
	}
	if (smp_resp_data(in->msg->mad, in->msg->len, &data) < 0 ||
	    port_info_sm_lid(data, PORT_INFO_LEN, &sm_lid) < 0 ||
	    port_info_lid(data, PORT_INFO_LEN, &lid) < 0) {
		LOG_WARN("malformed PortInfo answer");
		return;
	}
	apply(t, sm_lid, lid);
}

static void poll_tick(struct loop *loop, void *arg)
{
	struct sm_tracker *t = arg;

	loop_timer_start(loop, &t->timer, t->poll_ms, poll_tick, t);
	sm_tracker_check(t);
}

int sm_tracker_new(struct loop *loop, struct mad_port *port, unsigned poll_ms,
		   sm_change_fn fn, void *arg, struct sm_tracker **out)
{
	const struct mad_route route = { UMAD_CLASS_SUBN_DIRECTED_ROUTE,
					 MAD_KIND_RESPONSE | MAD_KIND_SEND_TIMEOUT, 0, 0 };
	struct sm_tracker *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->port = port;
	t->poll_ms = poll_ms;
	t->fn = fn;
	t->arg = arg;
	t->tid = (uint32_t)(loop_now_ns() & 0xffff) << 16 | 0x8000;
	ret = mad_dispatch_add(port->dispatch, &route, on_mad, t);
	if (ret < 0) {
		free(t);
		return ret;
	}
	if (poll_ms)
		loop_timer_start(loop, &t->timer, poll_ms, poll_tick, t);
	*out = t;
	return 0;
}

void sm_tracker_free(struct sm_tracker *t)
{
	if (!t)
		return;
	mad_dispatch_remove(t->port->dispatch, on_mad, t);
	loop_timer_stop(t->loop, &t->timer);
	free(t);
}

void sm_tracker_stats_json(const struct sm_tracker *t, struct json *j)
{
	json_u64(j, "sm_changes", t->changes);
}
