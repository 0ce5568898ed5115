/*
 * mad_script.h - a scripted mad_transport for the unit tests of the fabric and the daemon:
 * what the code under test sends is captured (and can be made to fail), what it receives is
 * injected (responses, Reports, requests, timed-out sends), and an on_send hook can play the
 * other side at once. Its descriptor is an eventfd, readable while MADs wait, so a watched
 * port runs in the event loop exactly as on hardware; time is the loop's real clock.
 */
#ifndef LOCALSA_TEST_MAD_SCRIPT_H
#define LOCALSA_TEST_MAD_SCRIPT_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/loop.h"
#include "fabric/mad_port.h"
#include "fabric/mad_transport.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "pr_fixture.h"
#include "sock_fixture.h"
#include "wire/notice.h"
#include "wire/port_info.h"
#include "wire/sa_mad.h"

enum { SCRIPT_SA_AGENT = 1, SCRIPT_SMP_AGENT = 2, SCRIPT_SM_LID = 2, SCRIPT_LID = 1 };

struct script_sent {
	int agent;
	uint16_t dlid;
	uint32_t dqpn;
	int timeout_ms;
	unsigned char *mad;
	size_t len;
	struct sa_hdr h;          /* all of it for an SA MAD, else the common header */
	uint64_t at_ms;
};

struct script_msg {
	unsigned char *mad;
	size_t len;
	int status;
	uint16_t slid;
	uint32_t sqpn;
};

struct mad_script {
	struct mad_transport t;   /* first: the port's transport pointer is the script */
	struct mad_port attr;     /* the address fields the port reads (script_port_attr) */
	struct script_msg *in;    /* waiting to be received, FIFO from in_head */
	size_t n_in, in_head, in_cap;
	unsigned char *held;      /* the MAD received last: valid until the next recv */
	struct script_sent *sent;
	size_t n_sent, sent_cap;
	unsigned fail_sends;      /* the next fail_sends sends fail with send_err */
	int send_err;
	void (*on_send)(struct mad_script *s, const struct script_sent *m, void *arg);
	void *on_send_arg;
};

static inline struct mad_script *script_of(struct mad_transport *t)
{
	return (struct mad_script *)t;
}

static inline int script_port_attr(struct mad_transport *t, struct mad_port *out)
{
	const struct mad_port *a = &script_of(t)->attr;

	memcpy(out->ca_name, a->ca_name, sizeof(out->ca_name));
	out->portnum = a->portnum;
	out->lid = a->lid;
	out->lmc = a->lmc;
	out->sm_lid = a->sm_lid;
	out->sm_sl = a->sm_sl;
	out->gid = a->gid;
	return 0;
}

static inline int script_ca_info(struct mad_transport *t, uint64_t *node_guid,
				 uint8_t *num_ports)
{
	*node_guid = be64toh(script_of(t)->attr.gid.global.interface_id);
	*num_ports = 1;
	return 0;
}

/* Room for one more element in a growable array; the tests stop at the first failure. */
static inline void *script_grow(void *arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? 2 * *cap : 64;
	arr = realloc(arr, *cap * size);
	if (!arr)
		abort();
	return arr;
}

static inline int script_send(struct mad_transport *t, const struct mad_send *m)
{
	struct mad_script *s = script_of(t);
	struct script_sent *e;

	if (s->fail_sends) {
		s->fail_sends--;
		return s->send_err ? s->send_err : -EIO;
	}
	s->sent = script_grow(s->sent, s->n_sent, &s->sent_cap, sizeof(*s->sent));
	e = &s->sent[s->n_sent++];
	memset(e, 0, sizeof(*e));
	e->agent = m->agent;
	e->dlid = m->dlid;
	e->dqpn = m->dqpn;
	e->timeout_ms = m->timeout_ms;
	e->len = m->len;
	e->mad = malloc(m->len);
	if (!e->mad)
		abort();
	memcpy(e->mad, m->mad, m->len);
	if (sa_hdr_decode(e->mad, e->len, &e->h) < 0 || e->h.mgmt_class != UMAD_CLASS_SUBN_ADM)
		mad_hdr_decode(e->mad, e->len, &e->h);
	e->at_ms = loop_now_ms();
	if (s->on_send)
		s->on_send(s, e, s->on_send_arg);
	return 0;
}

static inline int script_recv(struct mad_transport *t, struct umad_msg *msg)
{
	struct mad_script *s = script_of(t);
	struct script_msg *m;
	uint64_t v;

	free(s->held);
	s->held = NULL;
	if (s->in_head == s->n_in)
		return -EAGAIN;
	m = &s->in[s->in_head++];
	if (s->in_head == s->n_in) {
		s->in_head = s->n_in = 0;
		(void)!read(t->fd, &v, sizeof(v)); /* empty: no longer readable */
	}
	s->held = m->mad;
	*msg = (struct umad_msg){ m->mad, m->len, m->status, m->slid, m->sqpn, SCRIPT_SA_AGENT };
	return 0;
}

static inline void script_close(struct mad_transport *t)
{
	struct mad_script *s = script_of(t);

	close(t->fd);
	for (size_t i = s->in_head; i < s->n_in; i++)
		free(s->in[i].mad);
	free(s->in);
	free(s->held);
	for (size_t i = 0; i < s->n_sent; i++)
		free(s->sent[i].mad);
	free(s->sent);
	memset(s, 0, sizeof(*s));
}

static const struct mad_transport_ops script_ops = {
	script_port_attr, script_ca_info, script_send, script_recv, script_close,
};

/* A port at LID 1 (GUID 1), SM at LID 2, LMC 0; change s->attr before script_port(). */
static inline void script_init(struct mad_script *s)
{
	memset(s, 0, sizeof(*s));
	s->t.ops = &script_ops;
	s->t.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->t.sa_agent = SCRIPT_SA_AGENT;
	s->t.smp_agent = SCRIPT_SMP_AGENT;
	snprintf(s->attr.ca_name, sizeof(s->attr.ca_name), "script0");
	s->attr.portnum = 1;
	s->attr.lid = SCRIPT_LID;
	s->attr.sm_lid = SCRIPT_SM_LID;
	s->attr.gid = gid_of(1);
}

/* The port over the script, watched by loop (NULL: not watched). Closing it ends the script. */
static inline struct mad_port *script_port(struct mad_script *s, struct loop *loop)
{
	struct mad_port *p = NULL;

	if (mad_port_new(&s->t, &p) < 0 || (loop && mad_port_watch(p, loop) < 0))
		abort();
	return p;
}

/* Queues a MAD for the port to receive. */
static inline void script_deliver(struct mad_script *s, const void *mad, size_t len, int status,
				  uint16_t slid)
{
	struct script_msg *m;
	uint64_t one = 1;

	s->in = script_grow(s->in, s->n_in, &s->in_cap, sizeof(*s->in));
	m = &s->in[s->n_in++];
	m->mad = malloc(len ? len : 1);
	if (!m->mad)
		abort();
	memcpy(m->mad, mad, len);
	m->len = len;
	m->status = status;
	m->slid = slid;
	m->sqpn = 1;
	(void)!write(s->t.fd, &one, sizeof(one));
}

/* The SA's answer to a sent request: mad_status (SA status << 8), n records of rec_len. */
static inline void script_answer(struct mad_script *s, const struct script_sent *req,
				 uint16_t mad_status, const void *recs, size_t rec_len, size_t n)
{
	size_t len = SA_HDR_LEN + n * rec_len < MAD_LEN ? MAD_LEN : SA_HDR_LEN + n * rec_len;
	unsigned char *mad = calloc(1, len);
	struct sa_hdr h = req->h;

	if (!mad)
		abort();
	h.method = h.method == UMAD_METHOD_SET ? UMAD_METHOD_GET_RESP :
						 (uint8_t)(h.method | UMAD_METHOD_RESP_MASK);
	h.status = mad_status;
	h.attr_offset = (uint16_t)(rec_len / 8);
	sa_hdr_set_rmpp(&h, h.method == UMAD_SA_METHOD_GET_TABLE_RESP, n * rec_len);
	sa_hdr_encode(mad, &h);
	if (n)
		memcpy(mad + SA_HDR_LEN, recs, n * rec_len);
	script_deliver(s, mad, len, 0, req->dlid);
	free(mad);
}

/* The kernel's report that nobody answered a sent request: its MAD back, status ETIMEDOUT. */
static inline void script_time_out(struct mad_script *s, const struct script_sent *req)
{
	script_deliver(s, req->mad, req->len, ETIMEDOUT, 0);
}

/* A Report(Notice) from the SM: trap 64/65 about gid. */
static inline void script_report(struct mad_script *s, uint16_t trap, const union ibv_gid *gid,
				 uint32_t tid, uint16_t slid)
{
	unsigned char mad[MAD_LEN] = { 0 };
	struct notice n;
	struct sa_hdr h;

	notice_for_trap(&n, trap, gid, slid);
	sa_hdr_init_request(&h, UMAD_METHOD_REPORT, UMAD_ATTR_NOTICE, tid, 0);
	sa_hdr_encode(mad, &h);
	notice_encode(mad + SA_HDR_LEN, &n);
	script_deliver(s, mad, sizeof(mad), 0, slid);
}

/* The local SMA's answer to a directed-route PortInfo read: this LID and master SM LID. */
static inline void script_port_info(struct mad_script *s, const struct script_sent *req,
				    uint16_t lid, uint16_t sm_lid)
{
	unsigned char mad[MAD_LEN];
	uint16_t be;

	memcpy(mad, req->mad, MAD_LEN);
	mad[3] = UMAD_METHOD_GET_RESP;
	mad[4] = 0x80;	/* the D bit of the status: inbound */
	be = htobe16(lid);
	memcpy(mad + SMP_DATA_OFFSET + 16, &be, 2);	/* PortInfo:LID */
	be = htobe16(sm_lid);
	memcpy(mad + SMP_DATA_OFFSET + 18, &be, 2);	/* PortInfo:MasterSMLID */
	script_deliver(s, mad, MAD_LEN, 0, 0xffff);
}

/* Sent MADs of this method and attribute (0: any) since index from. */
static inline size_t script_count(const struct mad_script *s, size_t from, uint8_t method,
				  uint16_t attr_id)
{
	size_t n = 0;

	for (size_t i = from; i < s->n_sent; i++)
		n += (!method || s->sent[i].h.method == method) &&
		     (!attr_id || s->sent[i].h.attr_id == attr_id);
	return n;
}

/* The last sent MAD with this method and attribute, or NULL. */
static inline const struct script_sent *script_last(const struct mad_script *s, uint8_t method,
						    uint16_t attr_id)
{
	for (size_t i = s->n_sent; i-- > 0;)
		if (s->sent[i].h.method == method && (!attr_id || s->sent[i].h.attr_id == attr_id))
			return &s->sent[i];
	return NULL;
}

/* The fixture of most fabric tests: a scripted port (LMC lmc), an SA client and a resolver. */
struct script_fabric {
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
};

static inline void script_fabric_up(struct script_fabric *f, struct loop *loop, uint8_t lmc,
				    const struct sa_client_opts *so, const struct resolver_opts *ro)
{
	script_init(&f->s);
	f->s.attr.lmc = lmc;
	f->port = script_port(&f->s, loop);
	if (sa_client_new(loop, f->port, so, &f->sa) < 0 ||
	    resolver_new(loop, f->port, f->sa, ro, &f->res) < 0)
		abort();
}

/* The SA client goes first: its end fails what the resolver still awaits. */
static inline void script_fabric_down(struct script_fabric *f)
{
	sa_client_free(f->sa);
	resolver_free(f->res);
	mad_port_close(f->port);
}

/* Runs the loop in 5 ms turns until cond holds or max_ms has passed (a loaded machine's
 * loop takes its time; a test waits for the event, not for a guess of how long it takes). */
#define SCRIPT_RUN_UNTIL(loop, cond, max_ms) \
	for (uint64_t t0_ = loop_now_ms(); !(cond) && loop_now_ms() - t0_ < (max_ms);) \
		script_run((loop), 5)

/* Runs the loop for ms, or until a callback stops it. */
static inline void script_run(struct loop *loop, uint64_t ms)
{
	run_for(loop, (unsigned)ms);
}

#endif
