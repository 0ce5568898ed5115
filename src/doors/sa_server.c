/*
 * sa_server - see sa_server.h.
 *
 * Which PathRecord queries the cache answers: SGID given (without it OpenSM
 * answers for every source port), a destination (DGID or DLID), and otherwise
 * only the fields a tuple holds (PKey, ServiceID, QoS class, SL, TClass) and
 * NumbPath (Get only); each is answered from the paths the SA gave for that
 * same tuple, or fetched with exactly that request. A GetTable with SGID and
 * tuple fields but no destination is a whole table: answered when the cache
 * holds it (the default tuple, or a prefetched tuple once loaded). Anything
 * else — selectors, SLID, Reversible, raw traffic, no SGID, a table the cache
 * lacks — goes to the master SA unchanged, so its statuses are OpenSM's own.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/quota.h"
#include "doors/sa_server.h"
#include "fabric/mad_dispatch.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/push_acl.h"
#include "fabric/sa_client.h"
#include "wire/path_rec.h"
#include "wire/pr_push.h"
#include "wire/sa_mad.h"

#define CACHEABLE_MASK (PR_CM_SGID | PR_CM_DGID | PR_CM_DLID | PR_CM_PKEY | PR_CM_SERVICE_ID | \
			PR_CM_QOS_CLASS | PR_CM_SL | PR_CM_TCLASS | PR_CM_NUMB_PATH)

enum {
	PR_ATTR_OFFSET = PR_LEN / 8,
	QUOTA_LIDS = 1024,		/* source LIDs whose new-tuple quota is remembered */
	DEFAULT_NEW_TUPLES = 64,
	DEFAULT_NEW_TUPLES_PER_S = 4,
	PENDING_SHARE = 16,		/* a source LID waits for at most max_pending / 16 */
};

struct pending {
	struct pending *next;
	struct sa_server *srv;
	struct sa_hdr hdr;        /* the request's header */
	uint16_t slid;
	uint32_t sqpn;
	int64_t waiter;           /* the service's lookup, or 0 for a relay */
};

struct sa_server_stats {
	uint64_t requests, cache_answers, relayed, denied, malformed, unsupported, busy;
	uint64_t set_records, deleted_records, pending_now, quota_refused;
	uint64_t denied_source;   /* writes from a source push_from does not list */
};

struct sa_server {
	struct loop *loop;
	struct mad_port *port;
	struct path_service *svc;
	struct sa_client *sa;
	struct sa_server_opts opts;
	struct quota_table *lid_quota;	/* new cache tuples per source LID */
	struct pending *pending;
	struct sa_server_stats st;
};

/* --- responses ------------------------------------------------------------ */

static uint8_t resp_method(uint8_t method)
{
	return method == UMAD_METHOD_SET ? UMAD_METHOD_GET_RESP :
					   (uint8_t)(method | UMAD_METHOD_RESP_MASK);
}

/* Sends a response with mad_status (generic bits, SA status << 8) and records. */
static void respond(struct sa_server *s, const struct sa_hdr *req, uint16_t slid, uint32_t sqpn,
		    uint16_t mad_status, uint32_t attr_mod, const void *recs, size_t rec_len,
		    size_t n)
{
	size_t len = SA_HDR_LEN + n * rec_len;
	unsigned char *mad;
	struct sa_hdr h = *req;
	int ret;

	if (len < MAD_LEN)
		len = MAD_LEN;
	mad = calloc(1, len);
	if (!mad) {
		LOG_ERR("no memory for a %zu-byte answer", len);
		return;
	}
	h.method = resp_method(req->method);
	h.status = mad_status;
	h.attr_mod = attr_mod;
	h.attr_offset = (uint16_t)(rec_len / 8);
	/* A table is one RMPP message: the kernel segments; the header only says so. */
	sa_hdr_set_rmpp(&h, h.method == UMAD_SA_METHOD_GET_TABLE_RESP, n * rec_len);
	h.sm_key = 0;
	sa_hdr_encode(mad, &h);
	if (n)
		memcpy(mad + SA_HDR_LEN, recs, n * rec_len);
	ret = mad_port_send(s->port, s->port->sa_agent, slid, sqpn ? sqpn : 1, mad, len, 0, 0);
	if (ret < 0)
		LOG_WARN("answer to LID %u failed: %s", slid, strerror(-ret));
	free(mad);
}

static void respond_status(struct sa_server *s, const struct sa_hdr *req, uint16_t slid,
			   uint32_t sqpn, uint16_t mad_status)
{
	respond(s, req, slid, sqpn, mad_status, 0, NULL, 0, 0);
}

static uint16_t sa_status(uint8_t code)
{
	return (uint16_t)(code << 8);
}

/* --- pending requests ----------------------------------------------------- */

/* A request waiting for the resolver or the master SA; NULL after answering BUSY. */

/* Requests of one source LID: a share of max_pending, so that one node cannot make the door
 * answer BUSY to every other. */
static unsigned pending_of(const struct sa_server *s, uint16_t slid)
{
	unsigned n = 0;

	for (const struct pending *p = s->pending; p; p = p->next)
		n += p->slid == slid;
	return n;
}

static struct pending *pending_new(struct sa_server *s, const struct sa_hdr *h,
				   const struct umad_msg *msg)
{
	unsigned per_lid = s->opts.max_pending / PENDING_SHARE;
	struct pending *p;

	p = s->st.pending_now < s->opts.max_pending &&
	    pending_of(s, msg->slid) < (per_lid ? per_lid : 1) ? calloc(1, sizeof(*p)) : NULL;
	if (!p) { /* at a cap (or out of memory): the requester may try again */
		s->st.busy++;
		respond_status(s, h, msg->slid, msg->sqpn, UMAD_STATUS_BUSY);
		return NULL;
	}
	p->srv = s;
	p->hdr = *h;
	p->slid = msg->slid;
	p->sqpn = msg->sqpn;
	p->next = s->pending;
	s->pending = p;
	s->st.pending_now++;
	return p;
}

static void pending_free(struct pending *p)
{
	struct sa_server *s = p->srv;

	for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	s->st.pending_now--;
	free(p);
}

/* --- Get / GetTable PathRecord -------------------------------------------- */

/* The answer to the PathRecord request h from slid/sqpn, from the lookup's result. */
static void answer(struct sa_server *s, const struct sa_hdr *h, uint16_t slid, uint32_t sqpn,
		   int err, uint8_t status, const struct ibv_path_record *recs, size_t n)
{
	bool table = h->method == UMAD_SA_METHOD_GET_TABLE;

	if (!err) {
		respond(s, h, slid, sqpn, 0, 0, recs, PR_LEN, table ? n : 1);
	} else if (err == -ENOENT) {
		/* OpenSM: an empty table for GetTable, NO_RECORDS for Get. */
		respond(s, h, slid, sqpn, table ? 0 : sa_status(UMAD_SA_STATUS_NO_RECORDS), 0, NULL,
			PR_LEN, 0);
	} else {
		respond_status(s, h, slid, sqpn,
			       sa_status(status ? status : UMAD_SA_STATUS_NO_RESOURCES));
	}
}

static void resolved(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		     size_t n)
{
	struct pending *p = arg;

	answer(p->srv, &p->hdr, p->slid, p->sqpn, err, status, recs, n);
	pending_free(p);
}

/* The cache's answer, if it has one (a hit, or a fresh "no path"): no pending slot needed. */
struct cache_probe {
	struct sa_server *s;
	const struct sa_hdr *h;
	const struct umad_msg *msg;
	bool missed;
};

static void probed(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		   size_t n)
{
	struct cache_probe *cp = arg;

	if (err == -ENOENT && !status) {	/* a miss: the SA is to be asked */
		cp->missed = true;
		return;
	}
	answer(cp->s, cp->h, cp->msg->slid, cp->msg->sqpn, err, status, recs, n);
}

/* Fills req from a cacheable query; false if the SA must see it as it is. */
static bool cacheable(struct sa_server *s, const struct sa_hdr *h,
		      const struct ibv_path_record *q, struct pr_request *req)
{
	uint64_t mask = h->comp_mask;
	struct path_port port;

	if (mask & ~(uint64_t)CACHEABLE_MASK)
		return false;
	if ((mask & PR_CM_SERVICE_ID) && (mask & PR_CM_SERVICE_ID) != PR_CM_SERVICE_ID)
		return false;
	if ((mask & PR_CM_NUMB_PATH) && h->method == UMAD_SA_METHOD_GET_TABLE)
		return false; /* a partial table: let the SA choose which paths */
	/* Without SGID the SA answers for every source port (a Get: the first one), not for
	 * the requester's: that is no request the cache files. */
	if (!(mask & PR_CM_SGID))
		return false;
	pr_request_from_record(req, q, mask);
	/* The cache files requests from the ports served; others are the SA's to answer. */
	if (path_service_port_by_gid(s->svc, &req->sgid, &port) < 0)
		return false;
	/* Without destination only a GetTable, answered if the cache holds that whole table. */
	if (!(req->has & (PR_REQ_DGID | PR_REQ_DLID)) && h->method != UMAD_SA_METHOD_GET_TABLE)
		return false;
	/* With LMC > 0 a table holds several paths per port pair, a cached Get answer one. */
	if ((req->has & (PR_REQ_DGID | PR_REQ_DLID)) && h->method == UMAD_SA_METHOD_GET_TABLE &&
	    port.lmc)
		return false;
	return true;
}

static void relay(struct sa_server *s, const struct sa_hdr *h, const struct umad_msg *msg);

static void get_path(struct sa_server *s, const struct sa_hdr *h, const struct umad_msg *msg,
		     const struct ibv_path_record *q)
{
	struct path_query pq = { .flags = 0 };
	struct cache_probe probe = { s, h, msg, false };
	struct quota_entry *qe;
	struct pr_request req;
	struct pending *p;
	int64_t ret;

	if (!cacheable(s, h, q, &req)) {
		relay(s, h, msg);
		return;
	}
	if (!(req.has & (PR_REQ_DGID | PR_REQ_DLID))) {
		/* A whole table: this port's default one, or a prefetched tuple's. */
		struct ibv_path_record *recs;
		size_t n;

		if (path_service_table(s->svc, &req, &recs, &n) < 0) {
			relay(s, h, msg);
			return;
		}
		s->st.cache_answers++;
		respond(s, h, msg->slid, msg->sqpn, 0, 0, recs, PR_LEN, n);
		free(recs);
		return;
	}
	/* Each source LID may make only so many new tuples (request kinds) of the cache. */
	qe = quota_table_get(s->lid_quota, msg->slid, loop_now_ms());
	pq.req = req;
	pq.quota = qe ? &qe->q : NULL;
	/* The cache first, without a slot: however many requests wait for the SA, a hit is
	 * answered. Only a miss takes a slot of max_pending, and of its source LID's share. */
	pq.flags = PATH_Q_CACHE_ONLY;
	ret = qe ? path_service_resolve(s->svc, &pq, probed, &probe) : -EDQUOT;
	if (ret == 0 && !probe.missed) {
		s->st.cache_answers++;
		return;
	}
	if (ret >= 0) {	/* a miss: it waits for the SA in a slot */
		p = pending_new(s, h, msg);
		if (!p)
			return; /* answered BUSY */
		pq.flags = 0;
		ret = path_service_resolve(s->svc, &pq, resolved, p);
		if (ret > 0) {
			p->waiter = ret;
			return;
		}
		if (ret == 0) {
			s->st.cache_answers++; /* answered synchronously: p is gone */
			return;
		}
		pending_free(p);
	}
	s->st.quota_refused += ret == -EDQUOT;
	respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_NO_RESOURCES));
}

/* --- relay to the master SA ----------------------------------------------- */

/* The SA's answer goes back unchanged but for the requester's TID. */
static void relayed(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct pending *p = arg;
	struct sa_server *s = p->srv;
	unsigned char *copy;
	uint64_t tid = htobe64(p->hdr.tid);

	(void)status;
	if (err == -ECANCELED) {
		pending_free(p);
		return;
	}
	if (err || len < SA_HDR_LEN || !(copy = malloc(len))) {
		respond_status(s, &p->hdr, p->slid, p->sqpn, sa_status(UMAD_SA_STATUS_NO_RESOURCES));
		pending_free(p);
		return;
	}
	memcpy(copy, mad, len);
	memcpy(copy + 8, &tid, sizeof(tid));
	if (mad_port_send(s->port, s->port->sa_agent, p->slid, p->sqpn ? p->sqpn : 1, copy, len,
			  0, 0) < 0)
		LOG_WARN("relayed answer to LID %u failed", p->slid);
	free(copy);
	pending_free(p);
}

static void relay(struct sa_server *s, const struct sa_hdr *h, const struct umad_msg *msg)
{
	struct pending *p;
	size_t data_len = msg->len - SA_HDR_LEN;
	int64_t ret;

	if (!s->opts.relay || data_len > SA_DATA_LEN || msg->len > MAD_LEN) {
		s->st.unsupported++;
		respond_status(s, h, msg->slid, msg->sqpn, UMAD_STATUS_ATTR_NOT_SUPPORTED);
		return;
	}
	p = pending_new(s, h, msg);
	if (!p)
		return; /* answered BUSY */
	s->st.relayed++;
	ret = sa_client_query(s->sa, h->method, h->attr_id, h->comp_mask, msg->mad + SA_HDR_LEN,
			      data_len & ~(size_t)7, relayed, p);
	if (ret < 0) {
		pending_free(p);
		respond_status(s, h, msg->slid, msg->sqpn, UMAD_STATUS_BUSY);
	}
}

/* --- Set / Delete PathRecord ---------------------------------------------- */

static bool write_allowed(struct sa_server *s, const struct sa_hdr *h, const struct umad_msg *msg)
{
	/* The source first: a node not listed learns nothing about the key it tried. */
	if (s->opts.writes_allowed && s->opts.push_from &&
	    !push_acl_allows(s->opts.push_from, msg->slid)) {
		s->st.denied_source++;
		LOG_WARN_RL(1000, "%s PathRecord from LID %u refused: not a source push_from lists",
			    sa_method_str(h->method), msg->slid);
		respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_REQ_DENIED));
		return false;
	}
	if (s->opts.writes_allowed && h->sm_key == s->opts.sm_key)
		return true;
	s->st.denied++;
	LOG_WARN("%s PathRecord from LID %u refused: %s", sa_method_str(h->method), msg->slid,
		 s->opts.writes_allowed ? "wrong SM_Key" : "writes are not enabled (sa_sm_key)");
	respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_REQ_DENIED));
	return false;
}

static void set_paths(struct sa_server *s, const struct sa_hdr *h, const struct umad_msg *msg)
{
	const unsigned char *data = msg->mad + SA_HDR_LEN;
	struct pr_origin origin = { PR_SRC_SET, msg->slid, 0 };
	struct ibv_path_record *recs;
	size_t n = (msg->len - SA_HDR_LEN) / PR_LEN, i, done = 0;
	int ret;

	if (!write_allowed(s, h, msg))
		return;
	if (h->attr_mod & PR_PUSH_HEARTBEAT) {
		if (s->opts.on_push)
			s->opts.on_push(s->opts.push_arg, msg->slid, 0, h->attr_mod);
		respond(s, h, msg->slid, msg->sqpn, 0, 0, NULL, PR_LEN, 0);
		return;
	}
	if (h->attr_offset != PR_ATTR_OFFSET || !n) {
		s->st.malformed++;
		respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_REQ_INVALID));
		return;
	}
	/* RMPP: the payload length says how many records are real, not padding. */
	if (h->rmpp_flags & UMAD_RMPP_FLAG_ACTIVE) {
		size_t rec_len = PR_LEN, count = 0;

		if (sa_table_count(h, msg->len, &rec_len, &count) < 0 || !count) {
			s->st.malformed++;
			respond_status(s, h, msg->slid, msg->sqpn,
				       sa_status(UMAD_SA_STATUS_REQ_INVALID));
			return;
		}
		n = count;
	} else {
		n = 1;
	}
	if (n > s->opts.max_set_records) {
		LOG_WARN("Set of %zu paths from LID %u refused: more than %u", n, msg->slid,
			 s->opts.max_set_records);
		respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_NO_RESOURCES));
		return;
	}
	recs = malloc(n * sizeof(*recs));
	if (!recs) {
		respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_NO_RESOURCES));
		return;
	}
	for (i = 0; i < n; i++)
		pr_decode(data + i * PR_LEN, PR_LEN, &recs[i]);
	/* Records group by SGID into tuples; each group loads like a GetTable, and
	 * a full push then drops what the previous pushes gave and this one lacks. */
	ret = path_service_push(s->svc, recs, n, &origin, h->attr_mod & PR_PUSH_FULL, &done);
	free(recs);
	s->st.set_records += done;
	LOG_INFO("%zu paths loaded by Set from LID %u%s", done, msg->slid,
		 h->attr_mod & PR_PUSH_FULL ? " (full slice)" : "");
	if (ret >= 0 && s->opts.on_push)
		s->opts.on_push(s->opts.push_arg, msg->slid, done, h->attr_mod);
	respond(s, h, msg->slid, msg->sqpn,
		ret < 0 ? sa_status(UMAD_SA_STATUS_NO_RESOURCES) : 0, (uint32_t)done,
		data, PR_LEN, 1);
}

static void delete_paths(struct sa_server *s, const struct sa_hdr *h, const struct umad_msg *msg,
			 const struct ibv_path_record *q)
{
	size_t n;

	if (!write_allowed(s, h, msg))
		return;
	if (!h->comp_mask) {
		/* A Delete without a mask would flush everything: say so explicitly. */
		respond_status(s, h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_INSUF_COMPS));
		return;
	}
	n = path_service_delete(s->svc, q, h->comp_mask);
	s->st.deleted_records += n;
	LOG_INFO("%zu paths deleted by LID %u", n, msg->slid);
	respond(s, h, msg->slid, msg->sqpn, n ? 0 : sa_status(UMAD_SA_STATUS_NO_RECORDS),
		(uint32_t)n, q, PR_LEN, 1);
}

/* --- dispatch ------------------------------------------------------------- */

static int sa_server_handle(struct sa_server *s, const struct umad_msg *msg)
{
	struct ibv_path_record q;
	struct sa_hdr h;

	s->st.requests++;
	if (sa_hdr_decode(msg->mad, msg->len, &h) < 0) {
		/* Too short to answer in kind; an SA header is 56 bytes. */
		s->st.malformed++;
		LOG_DEBUG("dropped a %zu-byte SA MAD from LID %u", msg->len, msg->slid);
		return 1;
	}
	LOG_DEBUG("SA %s %s from LID %u", sa_method_str(h.method), sa_attr_str(h.attr_id),
		  msg->slid);
	if (h.class_version != UMAD_SA_CLASS_VERSION) {
		s->st.malformed++;
		respond_status(s, &h, msg->slid, msg->sqpn, UMAD_STATUS_BAD_VERSION);
		return 1;
	}
	if (h.attr_id != UMAD_SA_ATTR_PATH_REC) {
		if (h.method == UMAD_METHOD_GET || h.method == UMAD_SA_METHOD_GET_TABLE)
			relay(s, &h, msg);
		else
			respond_status(s, &h, msg->slid, msg->sqpn, UMAD_STATUS_ATTR_NOT_SUPPORTED);
		return 1;
	}
	if (h.method != UMAD_METHOD_SET &&
	    (msg->len < SA_HDR_LEN + PR_LEN || pr_decode(msg->mad + SA_HDR_LEN, PR_LEN, &q) < 0)) {
		s->st.malformed++;
		respond_status(s, &h, msg->slid, msg->sqpn, sa_status(UMAD_SA_STATUS_REQ_INVALID));
		return 1;
	}
	switch (h.method) {
	case UMAD_METHOD_GET:
	case UMAD_SA_METHOD_GET_TABLE:
		get_path(s, &h, msg, &q);
		break;
	case UMAD_METHOD_SET:
		set_paths(s, &h, msg);
		break;
	case UMAD_SA_METHOD_DELETE:
		delete_paths(s, &h, msg, &q);
		break;
	case UMAD_SA_METHOD_GET_MULTI:
		s->st.unsupported++;
		respond_status(s, &h, msg->slid, msg->sqpn, UMAD_STATUS_ATTR_NOT_SUPPORTED);
		break;
	default:
		s->st.unsupported++;
		respond_status(s, &h, msg->slid, msg->sqpn, UMAD_STATUS_METHOD_NOT_SUPPORTED);
		break;
	}
	return 1;
}

/* The port's dispatcher hands us every SA request (no response, Report or timeout). */
static void on_request(void *arg, const struct mad_in *in)
{
	sa_server_handle(arg, in->msg);
}

int sa_server_new(struct loop *loop, struct mad_port *port, struct path_service *svc,
		  struct sa_client *sa, const struct sa_server_opts *opts, struct sa_server **out)
{
	const struct mad_route route = { UMAD_CLASS_SUBN_ADM, MAD_KIND_REQUEST, 0, 0 };
	struct sa_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = mad_dispatch_add(port->dispatch, &route, on_request, s);
	if (ret < 0) {
		free(s);
		return ret;
	}
	s->loop = loop;
	s->port = port;
	s->svc = svc;
	s->sa = sa;
	s->opts = *opts;
	if (!s->opts.max_pending)
		s->opts.max_pending = 1024;
	if (!s->opts.max_set_records)
		s->opts.max_set_records = 65536;
	ret = quota_table_new(QUOTA_LIDS,
			      opts->new_tuples ? opts->new_tuples : DEFAULT_NEW_TUPLES,
			      opts->new_tuples_per_s ? opts->new_tuples_per_s :
						       DEFAULT_NEW_TUPLES_PER_S, &s->lid_quota);
	if (ret < 0) {
		mad_dispatch_remove(port->dispatch, on_request, s);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void sa_server_free(struct sa_server *s)
{
	/* Free it after the SA client: that one's cancel callbacks still answer
	 * (or drop) the requests pending here. */
	if (!s)
		return;
	mad_dispatch_remove(s->port->dispatch, on_request, s);
	while (s->pending) {
		struct pending *p = s->pending;

		if (p->waiter)
			path_service_cancel(s->svc, p->waiter);
		s->pending = p->next;
		free(p);
	}
	quota_table_free(s->lid_quota);
	free(s);
}

void sa_server_stats_json(const struct sa_server *s, struct json *j)
{
	json_object_begin(j, "sa_door");
	json_u64(j, "requests", s->st.requests);
	json_u64(j, "cache_answers", s->st.cache_answers);
	json_u64(j, "relayed", s->st.relayed);
	json_u64(j, "denied", s->st.denied);
	json_u64(j, "malformed", s->st.malformed);
	json_u64(j, "unsupported", s->st.unsupported);
	json_u64(j, "busy", s->st.busy);
	json_u64(j, "set_records", s->st.set_records);
	json_u64(j, "deleted_records", s->st.deleted_records);
	json_gauge(j, "pending", s->st.pending_now);
	json_u64(j, "quota_refused", s->st.quota_refused);
	json_u64(j, "denied_source", s->st.denied_source);
	json_object_end(j);
}
