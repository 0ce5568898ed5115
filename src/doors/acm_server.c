/*
 * acm_server - see acm_server.h. One epoll loop, no threads. Each client has a one-message input
 * buffer and a capped output buffer, and its requests are served one at a time in arrival order,
 * so replies come back in request order. A client whose lookup waits for the SA is "waiting":
 * its further input stays in the kernel's socket buffer until the answer is written. A client
 * that does not read its replies stops being read once ACM_OUT_HIGH bytes are queued for it; one
 * that leaves a message unfinished for partial_timeout_ms is closed, and so is one being closed
 * whose last (error) reply is not read within that time. A slow or hostile client so
 * costs its own slot and nobody else's time.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "doors/acm_server.h"
#include "doors/door_listen.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "wire/acm_msg.h"
#include "wire/path_rec.h"

enum {
	ACM_OUT_HIGH = 16 << 10,	/* stop reading a client's requests above this much unsent */
	ACM_OUT_MAX = 64 << 10,		/* hard cap of a client's output (never reached: HIGH + 592) */
	ACM_PREFETCH_SLOTS = 32,	/* background fetches started by NODELAY misses, at once */
	ACM_ACCEPT_BATCH = 64,
	ACM_ACCEPT_PAUSE_MS = 100,	/* out of descriptors: stop accepting this long */
	ACM_BACKLOG = 128,
	ACM_DEFAULT_MAX_CLIENTS = 512,
	ACM_DEFAULT_PARTIAL_MS = 5000,
	ACM_SOCKET_MODE = 0666,		/* as ibacm: any local process may resolve paths */
	LID_UNICAST_END = 0xc000,
};

/* Every path localsa hands out serves both directions and GMPs, as ibacm's answers do. */
#define REPLY_PATH_FLAGS (IBV_PATH_FLAG_GMP | IBV_PATH_FLAG_PRIMARY | IBV_PATH_FLAG_BIDIRECTIONAL)

/*
 * Fields of a client's record that went into the SA query (and the cache key) and that the SA's
 * records need not echo: they are not matched again on the answer.
 */
#define ANSWERED_BY_QUERY (PR_CM_SERVICE_ID | PR_CM_QOS_CLASS | PR_CM_TCLASS)

struct acm_listener {
	struct acm_server *srv;
	int fd;
	bool tcp;
	bool bound;		/* we created the socket file: unlink it at the end */
	uint64_t pause_timer;
};

/* The one request of a client that waits for the resolver. */
struct acm_wait {
	struct acm_msg_hdr hdr;
	struct ibv_path_record want;	/* what the client specified, network order */
	uint64_t mask;			/* the fields of want an answer must match */
	bool verify, cache_only;
	bool prefetch;			/* a cache-only miss: fetch it in the background */
	int64_t id;			/* the resolver's waiter while > 0 */
};

struct acm_client {
	struct acm_client *prev, *next;
	struct acm_server *srv;
	int fd;
	uint32_t events;	/* what epoll watches now */
	bool waiting;		/* a lookup is pending; wait is valid */
	bool in_dispatch;	/* inside resolver_resolve(): the callback must not resume us */
	bool eof;		/* the peer shut its sending side: serve what is buffered, then close */
	bool closing;		/* protocol violation: flush the error reply, then close */
	bool dead;		/* socket error or hang-up: close now */
	size_t in_len;
	uint64_t timer;		/* unfinished message, or unread final reply: give up then */
	struct acm_wait wait;
	struct strbuf out;
	uint8_t in[ACM_MSG_MAX_LEN];
};

struct acm_prefetch {
	int64_t id;		/* resolver waiter while > 0 */
};

struct acm_server {
	struct loop *loop;
	struct resolver *res;
	struct mad_port *port;
	struct acm_server_opts opts;
	char path[108];
	struct acm_listener unix_l, tcp_l;
	struct acm_client *clients;
	struct acm_prefetch prefetch[ACM_PREFETCH_SLOTS];
	uint64_t node_guid;
	uint8_t num_ports;
	bool ca_known;
	struct acm_server_stats st;
};

static void client_process(struct acm_client *c);
static bool client_settle(struct acm_client *c);

/* --- output --------------------------------------------------------------- */

/* Writes what the socket takes now; the rest waits for EPOLLOUT. */
static void client_flush(struct acm_client *c)
{
	while (c->out.len && !c->dead) {
		ssize_t n = send(c->fd, c->out.buf, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0)
			strbuf_consume(&c->out, (size_t)n);
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
			c->dead = true;
	}
}

/*
 * Queues one reply and tries to send it at once, so that a client reading one reply per recv()
 * (libacm does) finds it whole. Resolve replies feed the ERROR and NODATA counters, as in ibacm.
 */
static void send_reply(struct acm_client *c, const uint8_t *buf, size_t len, bool resolve)
{
	uint8_t status = buf[2];

	if (resolve && status == ACM_STATUS_ENODATA)
		c->srv->st.counters[ACM_CNTR_NODATA]++;
	else if (resolve && status != ACM_STATUS_SUCCESS)
		c->srv->st.counters[ACM_CNTR_ERROR]++;
	if (strbuf_append(&c->out, buf, len) < 0) {
		c->dead = true;
		return;
	}
	client_flush(c);
}

static void reply_error(struct acm_client *c, const struct acm_msg_hdr *req, uint8_t status)
{
	uint8_t buf[ACM_MSG_MAX_LEN];
	size_t len = acm_msg_error_encode(buf, req, status);

	LOG_DEBUG("fd %d: opcode 0x%02x -> %s", c->fd, req->opcode, acm_msg_status_str(status));
	send_reply(c, buf, len, req->opcode == ACM_OP_RESOLVE);
}

/* --- this port ------------------------------------------------------------ */

static bool gid_is_zero(const union ibv_gid *g)
{
	static const union ibv_gid zero;

	return !memcmp(g, &zero, sizeof(zero));
}

static bool own_gid(const struct acm_server *s, const union ibv_gid *g)
{
	return !memcmp(g, &s->port->gid, sizeof(*g));
}

/* The port answers to LID .. LID + 2^LMC - 1. */
static bool own_lid(const struct acm_server *s, uint16_t lid)
{
	uint32_t base = s->port->lid;

	return base && lid >= base && lid < base + (1u << (s->port->lmc & 7));
}

/* Does an entry name this port (PERF_QUERY by source address)? */
static bool own_address(const struct acm_server *s, const struct acm_ep_addr_data *ep)
{
	union ibv_gid g;

	switch (ep->type) {
	case ACM_MSG_EP_GID:
		acm_msg_ep_gid(ep, &g);
		return own_gid(s, &g);
	case ACM_MSG_EP_LID:
		return own_lid(s, acm_msg_ep_lid(ep));
	case ACM_EP_INFO_PATH:
		if (!gid_is_zero(&ep->info.path.sgid))
			return own_gid(s, &ep->info.path.sgid);
		return ep->info.path.slid && own_lid(s, be16toh(ep->info.path.slid));
	default:
		return false;	/* names and IP addresses: localsa has none */
	}
}

/* --- RESOLVE -------------------------------------------------------------- */

/* The lookup a path-form RESOLVE asks for: its destination, its source (which must be this
 * port) and every QoS-relevant field it sets, so the answer is the SA's for exactly that. */
static uint8_t request_from_path(const struct acm_server *s, const struct ibv_path_record *p,
				 struct pr_request *rq)
{
	memset(rq, 0, sizeof(*rq));
	if (!gid_is_zero(&p->sgid)) {
		if (!own_gid(s, &p->sgid))
			return ACM_STATUS_ESRCADDR;
		rq->sgid = p->sgid;
		rq->has |= PR_REQ_SGID;
	}
	if (p->slid && !own_lid(s, be16toh(p->slid)))
		return ACM_STATUS_ESRCADDR;
	if (!gid_is_zero(&p->dgid)) {
		rq->dgid = p->dgid;
		rq->has |= PR_REQ_DGID;
	}
	if (p->dlid) {
		rq->dlid = be16toh(p->dlid);
		if (rq->dlid >= LID_UNICAST_END)
			return ACM_STATUS_EDESTADDR;
		rq->has |= PR_REQ_DLID;
	}
	if (p->service_id) {
		rq->service_id = pr_service_id(p);
		rq->tuple_flags |= PR_TUPLE_SERVICE_ID;
	}
	if (p->pkey) {
		rq->pkey = pr_pkey(p);
		rq->tuple_flags |= PR_TUPLE_PKEY;
	}
	if (pr_qos_class(p)) {
		rq->qos_class = pr_qos_class(p);
		rq->tuple_flags |= PR_TUPLE_QOS_CLASS;
	}
	if (pr_sl(p)) {
		rq->sl = pr_sl(p);
		rq->tuple_flags |= PR_TUPLE_SL;
	}
	if (p->tclass) {
		rq->tclass = p->tclass;
		rq->tuple_flags |= PR_TUPLE_TCLASS;
	}
	return ACM_STATUS_SUCCESS;
}

/* An address-form RESOLVE: GID or LID entries only, the source (if any) this port. *want gets
 * the addresses as path-record fields, for matching the answer. */
static uint8_t request_from_addresses(const struct acm_server *s, const struct acm_msg_resolve *r,
				      struct pr_request *rq, struct ibv_path_record *want)
{
	const struct acm_ep_addr_data *d = &r->ep[r->dst];
	union ibv_gid g;
	uint16_t lid;

	memset(rq, 0, sizeof(*rq));
	memset(want, 0, sizeof(*want));
	switch (d->type) {
	case ACM_MSG_EP_GID:
		acm_msg_ep_gid(d, &rq->dgid);
		rq->has |= PR_REQ_DGID;
		want->dgid = rq->dgid;
		break;
	case ACM_MSG_EP_LID:
		lid = acm_msg_ep_lid(d);
		if (lid >= LID_UNICAST_END)
			return ACM_STATUS_EDESTADDR;
		rq->dlid = lid;
		rq->has |= PR_REQ_DLID;
		want->dlid = htobe16(lid);
		break;
	default:
		return ACM_STATUS_EDESTTYPE;	/* names and IP addresses: no address resolution */
	}
	if (r->src < 0)
		return ACM_STATUS_SUCCESS;
	d = &r->ep[r->src];
	switch (d->type) {
	case ACM_MSG_EP_GID:
		acm_msg_ep_gid(d, &g);
		if (!own_gid(s, &g))
			return ACM_STATUS_ESRCADDR;
		rq->sgid = g;
		rq->has |= PR_REQ_SGID;
		want->sgid = g;
		return ACM_STATUS_SUCCESS;
	case ACM_MSG_EP_LID:
		lid = acm_msg_ep_lid(d);
		if (!own_lid(s, lid))
			return ACM_STATUS_ESRCADDR;
		want->slid = htobe16(lid);
		return ACM_STATUS_SUCCESS;
	default:
		return ACM_STATUS_ESRCTYPE;
	}
}

static uint8_t status_of(int err)
{
	switch (err) {
	case -ENOENT:
		return ACM_STATUS_ENODATA;
	case -ETIMEDOUT:
		return ACM_STATUS_ETIMEDOUT;
	case -ENOMEM:
	case -ENOBUFS:
	case -EBUSY:
	case -ENOSPC:
		return ACM_STATUS_ENOMEM;
	case -EADDRNOTAVAIL:
		return ACM_STATUS_EDESTADDR;
	default:
		return ACM_STATUS_EINVAL;
	}
}

static void prefetch_done(void *arg, int err, uint8_t sa_status,
			  const struct ibv_path_record *recs, size_t n)
{
	struct acm_prefetch *p = arg;

	p->id = 0;
}

/* NODELAY: ibacm answers ENODATA at once but goes on resolving, so a retry finds the path. */
static void prefetch_start(struct acm_server *s, const struct pr_request *rq)
{
	for (int i = 0; i < ACM_PREFETCH_SLOTS; i++) {
		struct acm_prefetch *p = &s->prefetch[i];
		int64_t ret;

		if (p->id)
			continue;
		ret = resolver_resolve(s->res, rq, 0, prefetch_done, p);
		if (ret > 0) {
			p->id = ret;
			s->st.prefetches++;
			s->st.counters[ACM_CNTR_ROUTE_QUERY]++;
		}
		return;
	}
	/* every slot busy: the client asked for no delay and will ask again */
}

/* The resolver's answer: the first record that satisfies what the client specified. Runs inside
 * resolver_resolve() for a cache hit, later for an SA query. */
static void resolve_done(void *arg, int err, uint8_t sa_status,
			 const struct ibv_path_record *recs, size_t n)
{
	struct acm_client *c = arg;
	struct acm_server *s = c->srv;
	struct acm_wait *w = &c->wait;
	const struct ibv_path_record *pick = NULL;
	uint8_t buf[ACM_MSG_MAX_LEN], st;

	c->waiting = false;
	w->id = 0;
	for (size_t i = 0; !err && i < n && !pick; i++)
		if (pr_matches(&recs[i], &w->want, w->mask))
			pick = &recs[i];
	st = err ? status_of(err) : pick ? ACM_STATUS_SUCCESS : ACM_STATUS_ENODATA;
	if (pick && c->in_dispatch)
		s->st.counters[ACM_CNTR_ROUTE_CACHE]++;
	if (w->verify && st != ACM_STATUS_SUCCESS)
		s->st.verify_failures++;
	if (err == -ENOENT && !sa_status && w->cache_only)
		w->prefetch = true;
	if (pick)
		send_reply(c, buf, acm_msg_resolve_reply_encode(buf, &w->hdr, pick, REPLY_PATH_FLAGS),
			   true);
	else
		reply_error(c, &w->hdr, st);
	if (!c->in_dispatch) {
		client_process(c);
		client_settle(c);
	}
}

static void serve_resolve(struct acm_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
			  size_t len)
{
	struct acm_server *s = c->srv;
	struct acm_wait *w = &c->wait;
	struct acm_msg_resolve r;
	struct pr_request rq;
	unsigned flags = 0;
	int64_t ret;
	uint8_t st;

	s->st.counters[ACM_CNTR_RESOLVE]++;
	memset(w, 0, sizeof(*w));
	w->hdr = *h;
	st = acm_msg_resolve_decode(msg, len, &r);
	if (st == ACM_STATUS_SUCCESS && r.path_form) {
		w->want = r.ep[0].info.path;
		st = request_from_path(s, &w->want, &rq);
	} else if (st == ACM_STATUS_SUCCESS) {
		st = request_from_addresses(s, &r, &rq, &w->want);
	}
	if (st != ACM_STATUS_SUCCESS) {
		reply_error(c, h, st);
		return;
	}
	w->mask = acm_msg_path_mask(&w->want) & ~(uint64_t)ANSWERED_BY_QUERY;
	if (r.flags & ACM_MSG_FLAG_QUERY_SA) {
		flags = RESOLVE_SA;
		w->verify = true;
		s->st.verifications++;
	} else if (r.flags & ACM_MSG_FLAG_NODELAY) {
		flags = RESOLVE_CACHE_ONLY;
		w->cache_only = true;
	}
	c->waiting = true;
	c->in_dispatch = true;
	ret = resolver_resolve(s->res, &rq, flags, resolve_done, c);
	c->in_dispatch = false;
	if (ret > 0) {
		w->id = ret;
		s->st.counters[ACM_CNTR_ROUTE_QUERY]++;
		return;
	}
	if (ret < 0) {
		c->waiting = false;
		LOG_DEBUG("cannot resolve: %s", strerror((int)-ret));
		reply_error(c, h, status_of((int)ret));
		return;
	}
	if (w->prefetch)	/* answered by resolve_done() already */
		prefetch_start(s, &rq);
}

/* --- PERF_QUERY and EP_QUERY --------------------------------------------- */

static void serve_perf(struct acm_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
		       size_t len)
{
	struct acm_server *s = c->srv;
	uint8_t buf[ACM_MSG_MAX_LEN];
	struct acm_msg_perf q;
	uint8_t st;

	s->st.perf_queries++;
	st = acm_msg_perf_decode(msg, len, &q);
	/* The whole service, unless an endpoint is named: by source entry or by index (1-based).
	 * localsa has one endpoint, so its counters are the service's. */
	if (st == ACM_STATUS_SUCCESS && q.has_ep && (q.ep.flags & ACM_EP_FLAG_SOURCE) &&
	    !own_address(s, &q.ep))
		st = ACM_STATUS_ESRCADDR;
	else if (st == ACM_STATUS_SUCCESS && !q.has_ep && q.index > 1)
		st = ACM_STATUS_ESRCADDR;
	if (st != ACM_STATUS_SUCCESS) {
		reply_error(c, h, st);
		return;
	}
	send_reply(c, buf, acm_msg_perf_reply_encode(buf, h, s->st.counters, ACM_MAX_COUNTER),
		   false);
}

static void describe_endpoint(const struct acm_server *s, struct acm_msg_ep_desc *d)
{
	const struct mad_port *p = s->port;
	uint64_t guid;

	memset(d, 0, sizeof(*d));
	memcpy(&guid, p->gid.raw + 8, sizeof(guid));
	d->dev_guid = s->ca_known ? s->node_guid : be64toh(guid);
	d->port_num = (uint8_t)p->portnum;
	d->phys_port_cnt = s->ca_known && s->num_ports >= d->port_num ? s->num_ports : d->port_num;
	d->pkey = 0xffff;
	snprintf(d->prov_name, sizeof(d->prov_name), "localsa");
	pr_gid_to_text(&p->gid, d->addrs[0]);
	snprintf(d->addrs[1], sizeof(d->addrs[1]), "lid %u", p->lid);
	d->n_addrs = 2;
}

static void serve_ep_query(struct acm_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
			   size_t len)
{
	struct acm_server *s = c->srv;
	uint8_t buf[ACM_MSG_MAX_LEN];
	struct acm_msg_ep_query q;
	struct acm_msg_ep_desc d;
	uint8_t st;

	s->st.ep_queries++;
	st = acm_msg_ep_query_decode(msg, len, &q);
	/* one endpoint, index 1, on this port; ibacm answers EINVAL for any other */
	if (st == ACM_STATUS_SUCCESS && (q.index != 1 || (q.port && q.port != s->port->portnum)))
		st = ACM_STATUS_EINVAL;
	if (st != ACM_STATUS_SUCCESS) {
		reply_error(c, h, st);
		return;
	}
	describe_endpoint(s, &d);
	send_reply(c, buf, acm_msg_ep_reply_encode(buf, h, &d), false);
}

/* --- clients -------------------------------------------------------------- */

static void dispatch(struct acm_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
		     size_t len)
{
	switch (h->opcode) {
	case ACM_OP_RESOLVE:
		serve_resolve(c, h, msg, len);
		break;
	case ACM_OP_PERF_QUERY:
		serve_perf(c, h, msg, len);
		break;
	case ACM_OP_EP_QUERY:
		serve_ep_query(c, h, msg, len);
		break;
	default:	/* framed, so the stream survives: answer and go on */
		c->srv->st.protocol_errors++;
		reply_error(c, h, ACM_STATUS_EINVAL);
		break;
	}
}

/* Serves the complete messages in the input, one at a time, while nothing blocks the client. */
static void client_process(struct acm_client *c)
{
	uint8_t msg[ACM_MSG_MAX_LEN];
	struct acm_msg_hdr h;
	int n;

	while (!c->waiting && !c->closing && !c->dead && c->out.len < ACM_OUT_HIGH) {
		n = acm_msg_frame(c->in, c->in_len, &h);
		if (n == 0) {
			if (c->eof && c->in_len) {	/* cut short by the peer */
				c->srv->st.protocol_errors++;
				if (c->in_len >= ACM_MSG_HDR_LENGTH)
					reply_error(c, &h, ACM_STATUS_EINVAL);
				c->closing = true;
			}
			return;
		}
		if (n < 0) {	/* bad version or length: no way to find the next message */
			c->srv->st.protocol_errors++;
			reply_error(c, &h, ACM_STATUS_EINVAL);
			c->closing = true;
			return;
		}
		/* Take the message out first: its reply may be written before dispatch returns. */
		memcpy(msg, c->in, (size_t)n);
		c->in_len -= (size_t)n;
		memmove(c->in, c->in + n, c->in_len);
		dispatch(c, &h, msg, (size_t)n);
	}
}

static void client_free(struct acm_client *c)
{
	struct acm_server *s = c->srv;

	if (c->waiting && c->wait.id > 0)
		resolver_cancel(s->res, c->wait.id);
	if (c->timer)
		loop_timer_cancel(s->loop, c->timer);
	loop_del_fd(s->loop, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->st.clients_now--;
	strbuf_free(&c->out);
	free(c);
}

static void client_expired(struct loop *loop, void *arg)
{
	struct acm_client *c = arg;
	struct acm_msg_hdr h;

	(void)loop;
	c->timer = 0;
	if (c->closing) {	/* the error reply was never read: drop it */
		c->dead = true;
		client_settle(c);
		return;
	}
	LOG_DEBUG("fd %d: message unfinished after %u ms, closing", c->fd,
		  c->srv->opts.partial_timeout_ms);
	c->srv->st.protocol_errors++;
	if (acm_msg_frame(c->in, c->in_len, &h) == 0 && c->in_len >= ACM_MSG_HDR_LENGTH)
		reply_error(c, &h, ACM_STATUS_EINVAL);
	c->closing = true;
	client_settle(c);
}

/*
 * Called after every event of a client: frees a client that is finished, otherwise sets what
 * epoll watches and its timer. Returns false if c was freed.
 */
static bool client_settle(struct acm_client *c)
{
	struct acm_server *s = c->srv;
	uint32_t ev = 0;
	bool timed;

	if (c->dead || ((c->closing || (c->eof && !c->in_len)) && !c->waiting && !c->out.len)) {
		client_free(c);
		return false;
	}
	if (!c->waiting && !c->closing && !c->eof && c->out.len < ACM_OUT_HIGH &&
	    c->in_len < sizeof(c->in))
		ev |= EPOLLIN;
	if (c->out.len)
		ev |= EPOLLOUT;
	if (ev != c->events && loop_mod_fd(s->loop, c->fd, ev) == 0)
		c->events = ev;
	/* Reading, yet bytes are left: they are a message begun and not finished. */
	/* Reading, yet bytes are left: they are a message begun and not finished. Or closing, yet
	 * the error reply is still unsent: the peer does not read. Either may not last. */
	timed = ((ev & EPOLLIN) && c->in_len) || (c->closing && c->out.len);
	if (timed && !c->timer) {
		c->timer = loop_timer_add(s->loop, s->opts.partial_timeout_ms, client_expired, c);
	} else if (!timed && c->timer) {
		loop_timer_cancel(s->loop, c->timer);
		c->timer = 0;
	}
	return true;
}

static void client_io(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct acm_client *c = arg;

	(void)loop;
	if (events & (EPOLLHUP | EPOLLERR)) {	/* gone both ways: nobody to answer */
		c->dead = true;
		client_settle(c);
		return;
	}
	if (events & EPOLLOUT)
		client_flush(c);
	if ((events & EPOLLIN) && !c->dead && !c->eof && c->in_len < sizeof(c->in)) {
		ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);

		if (n > 0)
			c->in_len += (size_t)n;
		else if (n == 0)
			c->eof = true;
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			c->dead = true;
	}
	if (!c->dead)
		client_process(c);
	client_settle(c);
}

static void client_new(struct acm_server *s, int fd, bool tcp)
{
	struct acm_client *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	if (tcp)	/* replies are small and awaited one by one: no Nagle delay */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	strbuf_init(&c->out, ACM_OUT_MAX);
	if (loop_add_fd(s->loop, fd, EPOLLIN, client_io, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->st.clients_now++;
	s->st.clients_total++;
}

/* --- listeners ------------------------------------------------------------ */

static void listener_resume(struct loop *loop, void *arg)
{
	struct acm_listener *l = arg;

	l->pause_timer = 0;
	loop_mod_fd(loop, l->fd, EPOLLIN);
}

static void listener_accept(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct acm_listener *l = arg;
	struct acm_server *s = l->srv;

	(void)events;
	for (int i = 0; i < ACM_ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and kin: the connection stays queued and the listener readable;
			 * look away for a moment instead of spinning. */
			LOG_WARN("ACM accept: %s; pausing %d ms", strerror(errno), ACM_ACCEPT_PAUSE_MS);
			if (loop_mod_fd(loop, fd, 0) == 0)
				l->pause_timer = loop_timer_add(loop, ACM_ACCEPT_PAUSE_MS,
								listener_resume, l);
			return;
		}
		if (s->st.clients_now >= s->opts.max_clients) {
			s->st.clients_rejected++;
			close(cfd);
			continue;
		}
		client_new(s, cfd, l->tcp);
	}
}

static void listener_close(struct acm_server *s, struct acm_listener *l)
{
	if (l->fd < 0)
		return;
	if (l->pause_timer)
		loop_timer_cancel(s->loop, l->pause_timer);
	loop_del_fd(s->loop, l->fd);
	close(l->fd);
	if (l->bound)
		unlink(s->path);
	l->fd = -1;
}

/* --- public --------------------------------------------------------------- */

int acm_server_new(struct loop *loop, struct resolver *res, struct mad_port *port,
		   const struct acm_server_opts *opts, struct acm_server **out)
{
	bool want_unix = opts->path && *opts->path;
	struct acm_server *s;
	int ret;

	if (!want_unix && !opts->tcp_port)
		return -EINVAL;
	if (want_unix && strlen(opts->path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->res = res;
	s->port = port;
	s->opts = *opts;
	if (!s->opts.max_clients)
		s->opts.max_clients = ACM_DEFAULT_MAX_CLIENTS;
	if (!s->opts.partial_timeout_ms)
		s->opts.partial_timeout_ms = ACM_DEFAULT_PARTIAL_MS;
	s->unix_l = (struct acm_listener){ .srv = s, .fd = -1 };
	s->tcp_l = (struct acm_listener){ .srv = s, .fd = -1, .tcp = true };
	s->ca_known = mad_port_ca_info(port, &s->node_guid, &s->num_ports) == 0;

	if (want_unix) {
		snprintf(s->path, sizeof(s->path), "%s", opts->path);
		ret = door_listen_unix(s->path, ACM_SOCKET_MODE, ACM_BACKLOG, &s->unix_l.fd,
				       &s->unix_l.bound);
		if (ret < 0) {
			LOG_ERR("ACM socket %s: %s%s", s->path, strerror(-ret),
				ret == -EADDRINUSE ? " (is ibacm running?)" : "");
			goto out_free;
		}
		ret = loop_add_fd(loop, s->unix_l.fd, EPOLLIN, listener_accept, &s->unix_l);
		if (ret < 0)
			goto out_close;
	}
	if (s->opts.tcp_port) {
		ret = door_listen_tcp_loopback(s->opts.tcp_port, ACM_BACKLOG, &s->tcp_l.fd);
		if (ret < 0) {
			LOG_ERR("ACM TCP port 127.0.0.1:%u: %s", s->opts.tcp_port, strerror(-ret));
			goto out_close;
		}
		ret = loop_add_fd(loop, s->tcp_l.fd, EPOLLIN, listener_accept, &s->tcp_l);
		if (ret < 0)
			goto out_close;
	}
	LOG_INFO("ACM service on %s%s%s%s", want_unix ? s->path : "",
		 want_unix && !s->unix_l.bound ? " (socket from systemd)" : "",
		 want_unix && s->opts.tcp_port ? " and " : "",
		 s->opts.tcp_port ? "127.0.0.1 (TCP)" : "");
	*out = s;
	return 0;

out_close:
	listener_close(s, &s->tcp_l);
	listener_close(s, &s->unix_l);
out_free:
	free(s);
	return ret;
}

void acm_server_free(struct acm_server *s)
{
	if (!s)
		return;
	while (s->clients)
		client_free(s->clients);
	for (int i = 0; i < ACM_PREFETCH_SLOTS; i++)
		if (s->prefetch[i].id > 0)
			resolver_cancel(s->res, s->prefetch[i].id);
	listener_close(s, &s->unix_l);
	listener_close(s, &s->tcp_l);
	free(s);
}

void acm_server_stats(const struct acm_server *s, struct acm_server_stats *out)
{
	*out = s->st;
}

void acm_server_append_json(const struct acm_server *s, struct strbuf *o)
{
	const uint64_t *k;

	if (!s)
		return;
	k = s->st.counters;
	strbuf_printf(o, "\"acm_resolves\": %llu, \"acm_route_cache\": %llu, "
		      "\"acm_route_queries\": %llu, \"acm_nodata\": %llu, \"acm_errors\": %llu, "
		      "\"acm_verifications\": %llu, \"acm_verify_failures\": %llu, "
		      "\"acm_prefetches\": %llu, \"acm_perf_queries\": %llu, \"acm_ep_queries\": %llu, "
		      "\"acm_clients\": %llu, \"acm_clients_total\": %llu, "
		      "\"acm_clients_rejected\": %llu, \"acm_protocol_errors\": %llu, ",
		      (unsigned long long)k[ACM_CNTR_RESOLVE],
		      (unsigned long long)k[ACM_CNTR_ROUTE_CACHE],
		      (unsigned long long)k[ACM_CNTR_ROUTE_QUERY],
		      (unsigned long long)k[ACM_CNTR_NODATA], (unsigned long long)k[ACM_CNTR_ERROR],
		      (unsigned long long)s->st.verifications,
		      (unsigned long long)s->st.verify_failures,
		      (unsigned long long)s->st.prefetches, (unsigned long long)s->st.perf_queries,
		      (unsigned long long)s->st.ep_queries, (unsigned long long)s->st.clients_now,
		      (unsigned long long)s->st.clients_total,
		      (unsigned long long)s->st.clients_rejected,
		      (unsigned long long)s->st.protocol_errors);
}
