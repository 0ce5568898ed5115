/*
 * acm_server - see acm_server.h. A binary codec on the stream-client core (door_stream): each
 * client has a one-message input buffer and a capped output, and its requests are served one
 * at a time in arrival order, so replies come back in request order. A client whose lookup
 * waits for the SA is parked: its further input stays in the kernel's socket buffer until the
 * answer is written. A client that does not read its replies stops being read once ACM_OUT_HIGH
 * bytes are queued for it; one that leaves a message unfinished for partial_timeout_ms is
 * closed, and so is one being closed whose last (error) reply is not read within that time.
 * A slow or hostile client so costs its own slot and nobody else's time.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "doors/acm_server.h"
#include "doors/door_listen.h"
#include "doors/door_stream.h"
#include "fabric/path_service.h"
#include "wire/acm_msg.h"
#include "wire/path_rec.h"

enum {
	ACM_OUT_HIGH = 16 << 10,	/* stop reading a client's requests above this much unsent */
	ACM_OUT_MAX = 64 << 10,		/* hard cap of a client's output (never reached: HIGH + 592) */
	ACM_PREFETCH_SLOTS = 32,	/* background fetches started by NODELAY misses, at once */
	ACM_BACKLOG = 128,
	ACM_DEFAULT_MAX_CLIENTS = 512,
	ACM_DEFAULT_PARTIAL_MS = 5000,
	ACM_DEFAULT_NEW_TUPLES = 64,
	ACM_DEFAULT_NEW_TUPLES_PER_S = 4,
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

/* The one request of a client that waits for the service. */
struct acm_wait {
	struct acm_msg_hdr hdr;
	struct ibv_path_record want;	/* what the client specified, network order */
	uint64_t mask;			/* the fields of want an answer must match */
	bool verify, cache_only;
	bool in_resolve;		/* inside path_service_resolve(): an answer now is a hit */
	bool prefetch;			/* a cache-only miss: fetch it in the background */
	int64_t id;			/* the service's lookup while > 0 */
};

struct acm_prefetch {
	int64_t id;		/* the service's lookup while > 0 */
};

/* Counters: see acm_server_stats_json(). */
struct acm_stats {
	uint64_t counters[ACM_MAX_COUNTER];
	uint64_t perf_queries, ep_queries, verifications, verify_failures, prefetches;
	uint64_t protocol_errors;
};

struct acm_server {
	struct path_service *svc;
	struct acm_server_opts opts;
	struct door_stream *ds;
	struct acm_prefetch prefetch[ACM_PREFETCH_SLOTS];
	struct acm_stats st;
};

/* --- output --------------------------------------------------------------- */

/*
 * Queues one reply, which the core tries to send at once, so that a client reading one reply
 * per recv() (libacm does) finds it whole. Resolve replies feed the ERROR and NODATA counters,
 * as in ibacm. The output cap is never reached: requests stop at ACM_OUT_HIGH.
 */
static void send_reply(struct ds_client *c, const uint8_t *buf, size_t len, bool resolve)
{
	struct acm_server *s = ds_door(c);
	uint8_t status = buf[2];

	if (resolve && status == ACM_STATUS_ENODATA)
		s->st.counters[ACM_CNTR_NODATA]++;
	else if (resolve && status != ACM_STATUS_SUCCESS)
		s->st.counters[ACM_CNTR_ERROR]++;
	if (ds_reply(c, buf, len) < 0)
		ds_close_after_reply(c);
}

static void reply_error(struct ds_client *c, const struct acm_msg_hdr *req, uint8_t status)
{
	uint8_t buf[ACM_MSG_MAX_LEN];
	size_t len = acm_msg_error_encode(buf, req, status);

	LOG_DEBUG("opcode 0x%02x -> %s", req->opcode, acm_msg_status_str(status));
	send_reply(c, buf, len, req->opcode == ACM_OP_RESOLVE);
}

/* --- the ports served ----------------------------------------------------- */

static bool gid_is_zero(const union ibv_gid *g)
{
	static const union ibv_gid zero;

	return !memcmp(g, &zero, sizeof(zero));
}

static bool own_gid(struct acm_server *s, const union ibv_gid *g)
{
	struct path_port p;

	return path_service_port_by_gid(s->svc, g, &p) == 0;
}

/* A port answers to LID .. LID + 2^LMC - 1. A source LID picks that port: its SGID goes into
 * rq unless rq names one (which must then be the same port's). */
static bool own_lid(struct acm_server *s, uint16_t lid, struct pr_request *rq)
{
	struct path_port p;

	if (path_service_port_by_lid(s->svc, lid, &p) < 0)
		return false;
	if (!rq)
		return true;
	if (rq->has & PR_REQ_SGID)
		return !memcmp(&rq->sgid, &p.gid, sizeof(p.gid));
	rq->sgid = p.gid;
	rq->has |= PR_REQ_SGID;
	return true;
}

/* Does an entry name a port served (PERF_QUERY by source address)? */
static bool own_address(struct acm_server *s, const struct acm_ep_addr_data *ep)
{
	union ibv_gid g;

	switch (ep->type) {
	case ACM_MSG_EP_GID:
		acm_msg_ep_gid(ep, &g);
		return own_gid(s, &g);
	case ACM_MSG_EP_LID:
		return own_lid(s, acm_msg_ep_lid(ep), NULL);
	case ACM_EP_INFO_PATH:
		if (!gid_is_zero(&ep->info.path.sgid))
			return own_gid(s, &ep->info.path.sgid);
		return ep->info.path.slid && own_lid(s, be16toh(ep->info.path.slid), NULL);
	default:
		return false;	/* names and IP addresses: localsa has none */
	}
}

/* --- RESOLVE -------------------------------------------------------------- */

/* The lookup a path-form RESOLVE asks for: its destination, its source (which must be this
 * port) and every QoS-relevant field it sets, so the answer is the SA's for exactly that. */
static uint8_t request_from_path(struct acm_server *s, const struct ibv_path_record *p,
				 struct pr_request *rq)
{
	memset(rq, 0, sizeof(*rq));
	if (!gid_is_zero(&p->sgid)) {
		if (!own_gid(s, &p->sgid))
			return ACM_STATUS_ESRCADDR;
		rq->sgid = p->sgid;
		rq->has |= PR_REQ_SGID;
	}
	if (p->slid && !own_lid(s, be16toh(p->slid), rq))
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
static uint8_t request_from_addresses(struct acm_server *s, const struct acm_msg_resolve *r,
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
		if (!own_lid(s, lid, rq))
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
	case -EDQUOT:		/* this user's new tuples are spent for now */
		return ACM_STATUS_ENOMEM;
	case -EADDRNOTAVAIL:	/* no port served has that source */
		return ACM_STATUS_ESRCADDR;
	default:
		return ACM_STATUS_EINVAL;
	}
}

static void prefetch_done(void *arg, int err, uint8_t sa_status,
			  const struct ibv_path_record *recs, size_t n)
{
	struct acm_prefetch *p = arg;

	(void)err;
	(void)sa_status;
	(void)recs;
	(void)n;
	p->id = 0;
}

/* NODELAY: ibacm answers ENODATA at once but goes on resolving, so a retry finds the path. */
static void prefetch_start(struct acm_server *s, const struct path_query *q)
{
	for (int i = 0; i < ACM_PREFETCH_SLOTS; i++) {
		struct acm_prefetch *p = &s->prefetch[i];
		struct path_query bg = *q;
		int64_t ret;

		if (p->id)
			continue;
		bg.flags = 0;
		ret = path_service_resolve(s->svc, &bg, prefetch_done, p);
		if (ret > 0) {
			p->id = ret;
			s->st.prefetches++;
			s->st.counters[ACM_CNTR_ROUTE_QUERY]++;
		}
		return;
	}
	/* every slot busy: the client asked for no delay and will ask again */
}

/* The service's answer: the first record that satisfies what the client specified. Runs inside
 * path_service_resolve() for a cache hit, later for an SA query. */
static void resolve_done(void *arg, int err, uint8_t sa_status,
			 const struct ibv_path_record *recs, size_t n)
{
	struct ds_client *c = arg;
	struct acm_server *s = ds_door(c);
	struct acm_wait *w = ds_state(c);
	const struct ibv_path_record *pick = NULL;
	uint8_t buf[ACM_MSG_MAX_LEN], st;

	w->id = 0;
	for (size_t i = 0; !err && i < n && !pick; i++)
		if (pr_matches(&recs[i], &w->want, w->mask))
			pick = &recs[i];
	st = err ? status_of(err) : pick ? ACM_STATUS_SUCCESS : ACM_STATUS_ENODATA;
	if (pick && w->in_resolve)
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
	ds_resume(c);
}

static void serve_resolve(struct ds_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
			  size_t len)
{
	struct acm_server *s = ds_door(c);
	struct acm_wait *w = ds_state(c);
	struct path_query q = { .quota = ds_quota(c) };
	struct acm_msg_resolve r;
	int64_t ret;
	uint8_t st;

	s->st.counters[ACM_CNTR_RESOLVE]++;
	memset(w, 0, sizeof(*w));
	w->hdr = *h;
	st = acm_msg_resolve_decode(msg, len, &r);
	if (st == ACM_STATUS_SUCCESS && r.path_form) {
		w->want = r.ep[0].info.path;
		st = request_from_path(s, &w->want, &q.req);
	} else if (st == ACM_STATUS_SUCCESS) {
		st = request_from_addresses(s, &r, &q.req, &w->want);
	}
	if (st != ACM_STATUS_SUCCESS) {
		reply_error(c, h, st);
		return;
	}
	w->mask = acm_msg_path_mask(&w->want) & ~(uint64_t)ANSWERED_BY_QUERY;
	if (r.flags & ACM_MSG_FLAG_QUERY_SA) {
		q.flags = PATH_Q_SA;
		w->verify = true;
		s->st.verifications++;
	} else if (r.flags & ACM_MSG_FLAG_NODELAY) {
		q.flags = PATH_Q_CACHE_ONLY;
		w->cache_only = true;
	}
	ds_park(c);
	w->in_resolve = true;
	ret = path_service_resolve(s->svc, &q, resolve_done, c);
	w->in_resolve = false;
	if (ret > 0) {
		w->id = ret;
		s->st.counters[ACM_CNTR_ROUTE_QUERY]++;
		return;
	}
	if (ret < 0) {
		LOG_DEBUG("cannot resolve: %s", strerror((int)-ret));
		reply_error(c, h, status_of((int)ret));
		ds_resume(c);
		return;
	}
	if (w->prefetch)	/* answered by resolve_done() already */
		prefetch_start(s, &q);
}

/* --- PERF_QUERY and EP_QUERY --------------------------------------------- */

/* The endpoints: the ports served (a default port that is down is none). */
static size_t served_ports(struct acm_server *s, struct path_port *out)
{
	size_t n = path_service_ports(s->svc, out, PATH_PORTS_MAX), k = 0;

	for (size_t i = 0; i < n && i < PATH_PORTS_MAX; i++)
		if (out[i].serving)
			out[k++] = out[i];
	return k;
}

static void serve_perf(struct ds_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
		       size_t len)
{
	struct acm_server *s = ds_door(c);
	uint8_t buf[ACM_MSG_MAX_LEN];
	struct acm_msg_perf q;
	uint8_t st;

	s->st.perf_queries++;
	st = acm_msg_perf_decode(msg, len, &q);
	/* The whole service, unless an endpoint is named: by source entry or by index (1-based).
	 * The counters are the service's, whichever endpoint is named. */
	if (st == ACM_STATUS_SUCCESS && q.has_ep && (q.ep.flags & ACM_EP_FLAG_SOURCE) &&
	    !own_address(s, &q.ep))
		st = ACM_STATUS_ESRCADDR;
	else if (st == ACM_STATUS_SUCCESS && !q.has_ep &&
		 q.index > served_ports(s, (struct path_port[PATH_PORTS_MAX]){ 0 }))
		st = ACM_STATUS_ESRCADDR;
	if (st != ACM_STATUS_SUCCESS) {
		reply_error(c, h, st);
		return;
	}
	send_reply(c, buf, acm_msg_perf_reply_encode(buf, h, s->st.counters, ACM_MAX_COUNTER),
		   false);
}

static void describe_endpoint(const struct path_port *p, struct acm_msg_ep_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->dev_guid = p->node_guid;
	d->port_num = (uint8_t)p->port_num;
	d->phys_port_cnt = p->num_ports >= d->port_num ? p->num_ports : d->port_num;
	d->pkey = 0xffff;
	snprintf(d->prov_name, sizeof(d->prov_name), "localsa");
	pr_gid_to_text(&p->gid, d->addrs[0]);
	snprintf(d->addrs[1], sizeof(d->addrs[1]), "lid %u", p->lid);
	d->n_addrs = 2;
}

static void serve_ep_query(struct ds_client *c, const struct acm_msg_hdr *h, const uint8_t *msg,
			   size_t len)
{
	struct acm_server *s = ds_door(c);
	struct path_port ports[PATH_PORTS_MAX];
	size_t n = served_ports(s, ports);
	uint8_t buf[ACM_MSG_MAX_LEN];
	struct acm_msg_ep_query q;
	struct acm_msg_ep_desc d;
	uint8_t st;

	s->st.ep_queries++;
	st = acm_msg_ep_query_decode(msg, len, &q);
	/* an endpoint per port, indexed from 1; ibacm answers EINVAL for any other */
	if (st == ACM_STATUS_SUCCESS && (!q.index || q.index > n || q.index > PATH_PORTS_MAX ||
					 (q.port && q.port != ports[q.index - 1].port_num)))
		st = ACM_STATUS_EINVAL;
	if (st != ACM_STATUS_SUCCESS) {
		reply_error(c, h, st);
		return;
	}
	describe_endpoint(&ports[q.index - 1], &d);
	send_reply(c, buf, acm_msg_ep_reply_encode(buf, h, &d), false);
}

/* --- the codec ------------------------------------------------------------ */

static ssize_t acm_frame(struct ds_client *c, const uint8_t *buf, size_t len)
{
	struct acm_server *s = ds_door(c);
	struct acm_msg_hdr h;
	int n = acm_msg_frame(buf, len, &h);

	if (n < 0) {	/* bad version or length: no way to find the next message */
		s->st.protocol_errors++;
		reply_error(c, &h, ACM_STATUS_EINVAL);
	}
	return n;
}

static void acm_dispatch(struct ds_client *c, uint8_t *msg, size_t len)
{
	struct acm_server *s = ds_door(c);
	struct acm_msg_hdr h;

	acm_msg_frame(msg, len, &h);
	switch (h.opcode) {
	case ACM_OP_RESOLVE:
		serve_resolve(c, &h, msg, len);
		break;
	case ACM_OP_PERF_QUERY:
		serve_perf(c, &h, msg, len);
		break;
	case ACM_OP_EP_QUERY:
		serve_ep_query(c, &h, msg, len);
		break;
	default:	/* framed, so the stream survives: answer and go on */
		s->st.protocol_errors++;
		reply_error(c, &h, ACM_STATUS_EINVAL);
		break;
	}
}

/* Cut short by the peer, or left unfinished: an error for what the header names, if any. */
static void acm_unfinished(struct ds_client *c, const uint8_t *buf, size_t len, bool timeout)
{
	struct acm_server *s = ds_door(c);
	struct acm_msg_hdr h;

	(void)timeout;
	s->st.protocol_errors++;
	if (acm_msg_frame(buf, len, &h) == 0 && len >= ACM_MSG_HDR_LENGTH)
		reply_error(c, &h, ACM_STATUS_EINVAL);
}

static void acm_closing(struct ds_client *c)
{
	struct acm_server *s = ds_door(c);
	struct acm_wait *w = ds_state(c);

	if (w->id > 0)
		path_service_cancel(s->svc, w->id);
}

static const struct door_stream_codec acm_codec = {
	.frame = acm_frame,
	.dispatch = acm_dispatch,
	.unfinished = acm_unfinished,
	.closing = acm_closing,
};

/* --- public --------------------------------------------------------------- */

int acm_server_new(struct loop *loop, struct path_service *svc,
		   const struct acm_server_opts *opts, struct acm_server **out)
{
	bool want_unix = opts->path && *opts->path, inherited = false;
	struct door_stream_opts so;
	struct acm_server *s;
	int fd, ret;

	if (!want_unix && !opts->tcp_port)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->svc = svc;
	s->opts = *opts;
	if (!s->opts.max_clients)
		s->opts.max_clients = ACM_DEFAULT_MAX_CLIENTS;
	if (!s->opts.partial_timeout_ms)
		s->opts.partial_timeout_ms = ACM_DEFAULT_PARTIAL_MS;
	so = (struct door_stream_opts){
		.name = "ACM", .codec = &acm_codec, .door = s,
		.state_size = sizeof(struct acm_wait), .in_max = ACM_MSG_MAX_LEN,
		.out_high = ACM_OUT_HIGH, .out_max = ACM_OUT_MAX,
		.max_clients = s->opts.max_clients, .idle_ms = s->opts.idle_ms,
		.partial_ms = s->opts.partial_timeout_ms,
		.tuple_burst = opts->new_tuples ? opts->new_tuples : ACM_DEFAULT_NEW_TUPLES,
		.tuple_per_s = opts->new_tuples_per_s ? opts->new_tuples_per_s :
							ACM_DEFAULT_NEW_TUPLES_PER_S,
	};
	ret = door_stream_new(loop, &so, &s->ds);
	if (ret < 0)
		goto out_free;
	if (want_unix) {
		ret = door_stream_listen_unix(s->ds, opts->path, ACM_SOCKET_MODE, ACM_BACKLOG,
					      &inherited);
		if (ret < 0) {
			LOG_ERR("ACM socket %s: %s%s", opts->path, strerror(-ret),
				ret == -EADDRINUSE ? " (is ibacm running?)" : "");
			goto out_stream;
		}
	}
	if (s->opts.tcp_port) {
		ret = door_listen_tcp_loopback(s->opts.tcp_port, ACM_BACKLOG, &fd);
		if (ret < 0) {
			LOG_ERR("ACM TCP port 127.0.0.1:%u: %s", s->opts.tcp_port, strerror(-ret));
			goto out_stream;
		}
		ret = door_stream_listen(s->ds, fd, true);
		if (ret < 0) {
			close(fd);
			goto out_stream;
		}
	}
	LOG_INFO("ACM service on %s%s%s%s", want_unix ? opts->path : "",
		 inherited ? " (socket from systemd)" : "", want_unix && s->opts.tcp_port ? " and " : "",
		 s->opts.tcp_port ? "127.0.0.1 (TCP)" : "");
	*out = s;
	return 0;

out_stream:
	door_stream_free(s->ds);
out_free:
	free(s);
	return ret;
}

void acm_server_free(struct acm_server *s)
{
	if (!s)
		return;
	door_stream_free(s->ds);
	for (int i = 0; i < ACM_PREFETCH_SLOTS; i++)
		if (s->prefetch[i].id > 0)
			path_service_cancel(s->svc, s->prefetch[i].id);
	free(s);
}

void acm_server_stats_json(const struct acm_server *s, struct json *j)
{
	struct door_stream_stats ds;
	const uint64_t *k;

	if (!s)
		return;
	door_stream_stats(s->ds, &ds);
	k = s->st.counters;
	json_u64(j, "acm_resolves", k[ACM_CNTR_RESOLVE]);
	json_u64(j, "acm_route_cache", k[ACM_CNTR_ROUTE_CACHE]);
	json_u64(j, "acm_route_queries", k[ACM_CNTR_ROUTE_QUERY]);
	json_u64(j, "acm_nodata", k[ACM_CNTR_NODATA]);
	json_u64(j, "acm_errors", k[ACM_CNTR_ERROR]);
	json_u64(j, "acm_verifications", s->st.verifications);
	json_u64(j, "acm_verify_failures", s->st.verify_failures);
	json_u64(j, "acm_prefetches", s->st.prefetches);
	json_u64(j, "acm_perf_queries", s->st.perf_queries);
	json_u64(j, "acm_ep_queries", s->st.ep_queries);
	json_gauge(j, "acm_clients", ds.clients_now);
	json_u64(j, "acm_clients_total", ds.clients_total);
	json_u64(j, "acm_clients_rejected", ds.rejected);
	json_u64(j, "acm_protocol_errors", s->st.protocol_errors);
	json_u64(j, "acm_clients_evicted", ds.evicted);
	json_u64(j, "acm_idle_closed", ds.idle_closed);
}
