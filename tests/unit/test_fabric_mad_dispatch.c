/*
 * test_fabric_mad_dispatch.c - the MAD dispatcher: routes by class and kind (request,
 * response, Report, timed-out send), responses and timeouts by TID space on the low 32 TID
 * bits; overlapping routes refused; malformed and unclaimed MADs counted, not delivered; a
 * handler may remove itself; and a watched port drains a burst in bounded batches.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/loop.h"
#include "check.h"
#include "fabric/mad_dispatch.h"
#include "fabric/mad_port.h"
#include "mad_script.h"
#include "wire/sa_mad.h"

struct seen {
	const char *name;
	unsigned calls;
	enum mad_kind kind;
	uint64_t tid;
	bool sa;
	uint16_t attr_id;
	struct mad_dispatch *remove_from; /* removes itself on its first call */
};

static void handler(void *arg, const struct mad_in *in)
{
	struct seen *s = arg;

	s->calls++;
	s->kind = in->kind;
	s->tid = in->hdr.tid;
	s->sa = in->sa;
	s->attr_id = in->hdr.attr_id;
	if (s->remove_from)
		mad_dispatch_remove(s->remove_from, handler, s);
}

/* A MAD of len bytes (at least 24) with this header, as the transport hands it over. */
static struct umad_msg msg_of(unsigned char *buf, size_t len, uint8_t mgmt_class, uint8_t method,
			      uint64_t tid, int status)
{
	struct sa_hdr h;

	memset(buf, 0, MAD_LEN);
	sa_hdr_init_request(&h, method, UMAD_ATTR_NOTICE, tid, 0);
	h.mgmt_class = mgmt_class;
	sa_hdr_encode(buf, &h);
	return (struct umad_msg){ buf, len, status, 7, 1, 1 };
}

static void test_routes(void)
{
	struct mad_dispatch *d;
	struct seen c0 = { .name = "client 0" }, c1 = { .name = "client 1" };
	struct seen req = { .name = "requests" }, rep = { .name = "reports" };
	struct seen smp = { .name = "smp" };
	const uint32_t space = 0xf0000000u;
	struct mad_route r0 = { UMAD_CLASS_SUBN_ADM, MAD_KIND_RESPONSE | MAD_KIND_SEND_TIMEOUT,
				space, 0 };
	struct mad_route r1 = r0, rq = { UMAD_CLASS_SUBN_ADM, MAD_KIND_REQUEST, 0, 0 },
			 rr = { UMAD_CLASS_SUBN_ADM, MAD_KIND_REPORT, 0, 0 },
			 rs = { UMAD_CLASS_SUBN_DIRECTED_ROUTE,
				MAD_KIND_RESPONSE | MAD_KIND_SEND_TIMEOUT, 0, 0 };
	struct mad_route all = { UMAD_CLASS_SUBN_ADM, MAD_KIND_RESPONSE, 0, 0 };
	struct mad_dispatch_stats st;
	unsigned char buf[MAD_LEN];
	struct umad_msg m;

	r1.tid_value = 1u << 28;
	CHECK_INT(0, mad_dispatch_new(&d));
	CHECK_INT(0, mad_dispatch_add(d, &r0, handler, &c0));
	CHECK_INT(0, mad_dispatch_add(d, &r1, handler, &c1));
	CHECK_INT(0, mad_dispatch_add(d, &rq, handler, &req));
	CHECK_INT(0, mad_dispatch_add(d, &rr, handler, &rep));
	CHECK_INT(0, mad_dispatch_add(d, &rs, handler, &smp));
	/* One owner per class and kind, per TID for the matched kinds. */
	CHECK_INT(-EEXIST, mad_dispatch_add(d, &r0, handler, &req));
	CHECK_INT(-EEXIST, mad_dispatch_add(d, &rq, handler, &rep));
	CHECK_INT(-EEXIST, mad_dispatch_add(d, &all, handler, &req)); /* every TID: overlaps */
	all.kinds = 0;
	CHECK_INT(-EINVAL, mad_dispatch_add(d, &all, handler, &req));

	/* Responses and timeouts by TID space; the high 32 bits do not count. */
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET_RESP,
		   0xdeadbeef10000005ull, 0);
	CHECK(mad_dispatch_route(d, &m));
	CHECK_INT(1, c1.calls);
	CHECK_INT(MAD_KIND_RESPONSE, c1.kind);
	CHECK(c1.sa);
	CHECK_INT(UMAD_ATTR_NOTICE, c1.attr_id);
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET, 0x00000007, ETIMEDOUT);
	CHECK(mad_dispatch_route(d, &m));
	CHECK_INT(1, c0.calls);
	CHECK_INT(MAD_KIND_SEND_TIMEOUT, c0.kind);
	CHECK_INT(7, c0.tid);
	/* Requests, Reports and the directed-route answers to their owners. */
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_SA_METHOD_GET_TABLE, 0x10000005, 0);
	CHECK(mad_dispatch_route(d, &m));
	CHECK_INT(1, req.calls);
	CHECK_INT(1, c1.calls);	/* a request is no response, whatever its TID */
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_REPORT, 0x10000005, 0);
	CHECK(mad_dispatch_route(d, &m));
	CHECK_INT(1, rep.calls);
	CHECK_INT(MAD_KIND_REPORT, rep.kind);
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_DIRECTED_ROUTE, UMAD_METHOD_GET_RESP, 0x1234, 0);
	CHECK(mad_dispatch_route(d, &m));
	CHECK_INT(1, smp.calls);
	CHECK(!smp.sa);

	/* Nobody's: another TID space, another class, a ReportResp to nobody. */
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET_RESP, 0x20000001, 0);
	CHECK(!mad_dispatch_route(d, &m));
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_CM, UMAD_METHOD_SEND, 1, 0);
	CHECK(!mad_dispatch_route(d, &m));
	/* Malformed: shorter than the common header; an SA answer without its SA header. */
	m = msg_of(buf, MAD_HDR_LEN - 1, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET_RESP, 1, 0);
	CHECK(!mad_dispatch_route(d, &m));
	m = msg_of(buf, SA_HDR_LEN - 1, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET_RESP, 1, 0);
	CHECK(!mad_dispatch_route(d, &m));
	CHECK_INT(1, c0.calls);
	/* A short SA request is still the door's, to refuse in kind. */
	m = msg_of(buf, 40, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET, 1, 0);
	CHECK(mad_dispatch_route(d, &m));
	CHECK_INT(2, req.calls);
	CHECK(!req.sa);
	mad_dispatch_stats(d, &st);
	CHECK_INT(6, st.routed);
	CHECK_INT(2, st.unclaimed);
	CHECK_INT(2, st.malformed);

	/* A handler that removes itself: called once, then its MADs are nobody's. */
	rep.remove_from = d;
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_REPORT, 9, 0);
	CHECK(mad_dispatch_route(d, &m));
	CHECK(!mad_dispatch_route(d, &m));
	CHECK_INT(2, rep.calls);
	mad_dispatch_remove(d, handler, &c1);
	m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET_RESP, 0x10000005, 0);
	CHECK(!mad_dispatch_route(d, &m));
	CHECK_INT(1, c1.calls);
	CHECK_INT(0, mad_dispatch_add(d, &r1, handler, &c1)); /* its space is free again */
	mad_dispatch_free(d);
	mad_dispatch_free(NULL);
}

static void test_capacity(void)
{
	struct mad_dispatch *d;
	struct seen s = { .name = "any" };
	struct mad_route r = { UMAD_CLASS_SUBN_ADM, MAD_KIND_RESPONSE, 0xffffffffu, 0 };

	CHECK_INT(0, mad_dispatch_new(&d));
	for (unsigned i = 0; i < MAD_DISPATCH_MAX_ROUTES; i++) {
		r.tid_value = i;
		CHECK_INT(0, mad_dispatch_add(d, &r, handler, &s));
	}
	r.tid_value = MAD_DISPATCH_MAX_ROUTES;
	CHECK_INT(-ENOSPC, mad_dispatch_add(d, &r, handler, &s));
	mad_dispatch_remove(d, handler, &s); /* every route of (fn, arg) */
	CHECK_INT(0, mad_dispatch_add(d, &r, handler, &s));
	mad_dispatch_free(d);
}

/* A burst larger than one batch reaches its owner whole, through the port and the loop. */
static void test_port_burst(void)
{
	struct mad_script s;
	struct mad_port *port;
	struct loop *loop;
	struct seen req = { .name = "requests" };
	struct mad_route rq = { UMAD_CLASS_SUBN_ADM, MAD_KIND_REQUEST, 0, 0 };
	unsigned char buf[MAD_LEN];

	CHECK_INT(0, loop_new(&loop));
	loop_skip_idle_time(loop, true);
	script_init(&s);
	port = script_port(&s, loop);
	CHECK_INT(-EBUSY, mad_port_watch(port, loop));
	CHECK_INT(0, mad_dispatch_add(port->dispatch, &rq, handler, &req));
	for (int i = 0; i < 150; i++) {
		struct umad_msg m = msg_of(buf, MAD_LEN, UMAD_CLASS_SUBN_ADM, UMAD_METHOD_GET,
					   (uint64_t)i, 0);

		script_deliver(&s, m.mad, m.len, 0, 9);
	}
	script_run(loop, 20);
	CHECK_INT(150, req.calls);
	CHECK_INT(149, req.tid);
	mad_port_close(port);
	loop_free(loop);
}

int main(void)
{
	test_routes();
	test_capacity();
	test_port_burst();
	return CHECK_DONE();
}
