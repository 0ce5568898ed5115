/*
 * resolver - see resolver.h. Pending SA fetches are keyed by the request
 * tuple and destination, so a thousand consumers missing the same path cost
 * the SA one query. Answers are filed under the tuple they answer; the bulk
 * fill covers the default tuple (this SGID, nothing else specified).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/log.h"
#include "base/loop.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "fabric/mad_port.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

struct waiter {
	struct waiter *next;
	int64_t id;
	resolve_fn fn;  /* NULL once cancelled */
	void *arg;
};

struct fetch {
	struct fetch *next;
	struct resolver *r;
	uint16_t tuple;
	uint8_t by;            /* PR_REQ_DGID, PR_REQ_DLID or both: the request's destination */
	union ibv_gid dgid;
	uint16_t dlid;
	union ibv_gid sgid;    /* the SGID asked for: every record of the answer must have it */
	bool stale;            /* a trap about its GID came after it was sent: not filed */
	struct waiter *waiters;
};

struct fill_waiter {
	struct fill_waiter *next;
	fill_fn fn;
	void *arg;
	bool joined;           /* came while the fill was out: one of its own if that one fails */
};

/*
 * A tuple besides the default one that every fill loads with one GetTable (SGID + its fields):
 * the SA's answers for, e.g., one ServiceID to every destination. The store answers its whole
 * table once loaded (pr_store_table_add).
 */
struct prefetch {
	struct resolver *r;
	struct pr_request req;     /* the tuple's fields, no destination */
	uint16_t tuple;
};

struct resolver {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *sa;
	struct pr_store *store;
	bool own_store;            /* made here; else the store of every port (opts.store) */
	struct resolver_opts opts;
	uint16_t default_tuple;
	struct fetch *fetches;
	int64_t next_waiter;
	struct fill_waiter *fill_waiters;
	bool authoritative;        /* default-tuple misses are "no path" (pushed table) */
	struct prefetch *prefetch; /* tuples filled by GetTable too, besides the default */
	size_t n_prefetch;
	unsigned fill_pending;     /* GetTable answers the fill in progress still awaits */
	int fill_err;              /* the default table's outcome, told once all are in */
	size_t fill_records;
	uint64_t fill_started_ms;
	uint64_t table_ports;      /* distinct destinations of the last default table */
	uint64_t table_rank;       /* ... that sort before this port's GID */
	struct resolver_stats stats;
};

/* --- helpers -------------------------------------------------------------- */

/* The records of a GetResp or GetTableResp, at most max (0: no limit); *recs is malloc'd
 * (never NULL on success, even for none). -ENOMEM. */
static int response_records(const unsigned char *mad, size_t len, size_t max,
			    struct ibv_path_record **recs, size_t *n)
{
	size_t rec_len = PR_LEN, count = 0;
	struct sa_hdr h;

	if (sa_hdr_decode(mad, len, &h) == 0) {
		if (h.method == UMAD_SA_METHOD_GET_TABLE_RESP) {
			if (sa_table_count(&h, len, &rec_len, &count) < 0 || rec_len < PR_LEN)
				count = 0;
		} else if (len >= SA_HDR_LEN + PR_LEN) {
			count = 1;
		}
	}
	if (max && count > max)
		count = max;
	*recs = calloc(count ? count : 1, sizeof(**recs));
	if (!*recs)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++)
		pr_decode(mad + SA_HDR_LEN + i * rec_len, rec_len, &(*recs)[i]);
	*n = count;
	return 0;
}

static int sa_status_errno(uint8_t status)
{
	switch (status) {
	case UMAD_SA_STATUS_NO_RECORDS: return -ENOENT;
	case UMAD_SA_STATUS_NO_RESOURCES: return -EBUSY;
	case UMAD_SA_STATUS_REQ_DENIED: return -EACCES;
	case UMAD_SA_STATUS_INSUF_COMPS: return -EDESTADDRREQ;
	case UMAD_SA_STATUS_INVALID_GID: return -EADDRNOTAVAIL;
	default: return -EINVAL;
	}
}

/* --- fetches -------------------------------------------------------------- */

static void fetch_complete(struct fetch *f, int err, uint8_t status,
			   const struct ibv_path_record *recs, size_t n)
{
	struct resolver *r = f->r;
	struct waiter *w;

	for (struct fetch **pp = &r->fetches; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	pr_store_unpin(r->store, f->tuple);
	while ((w = f->waiters)) {
		f->waiters = w->next;
		if (w->fn)
			w->fn(w->arg, err, status, recs, n);
		free(w);
	}
	free(f);
}

/* Does the SA's answer fit the question: every record from the SGID asked for, all to one
 * DGID - the one asked for - and to the DLID asked for? Else it is neither given nor cached. */
static bool answer_fits(const struct fetch *f, const struct ibv_path_record *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (memcmp(&recs[i].sgid, &f->sgid, sizeof(f->sgid)) ||
		    memcmp(&recs[i].dgid, &recs[0].dgid, sizeof(f->dgid)))
			return false;
		if ((f->by & PR_REQ_DLID) && pr_dlid(&recs[i]) != f->dlid)
			return false;
	}
	return !(f->by & PR_REQ_DGID) || !memcmp(&recs[0].dgid, &f->dgid, sizeof(f->dgid));
}

static void fetch_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct fetch *f = arg;
	struct resolver *r = f->r;
	struct ibv_path_record *recs = NULL;
	struct pr_request dest = { .has = f->by, .dgid = f->dgid, .dlid = f->dlid };
	uint64_t now = loop_now_ms();
	size_t n = 0;

	if (err) {
		if (err == -ETIMEDOUT)
			r->stats.sa_timeouts++;
		fetch_complete(f, err, 0, NULL, 0);
		return;
	}
	pr_store_sa_answered(r->store, now);
	if (status == UMAD_SA_STATUS_SUCCESS &&
	    response_records(mad, len, RESOLVE_MAX_PATHS, &recs, &n) < 0) {
		fetch_complete(f, -ENOMEM, 0, NULL, 0);
		return;
	}
	if (status == UMAD_SA_STATUS_NO_RECORDS || (status == UMAD_SA_STATUS_SUCCESS && !n)) {
		r->stats.sa_no_path++;
		if (!f->stale)
			pr_store_put_negative(r->store, f->tuple, &dest, now);
		fetch_complete(f, -ENOENT, UMAD_SA_STATUS_NO_RECORDS, NULL, 0);
	} else if (status != UMAD_SA_STATUS_SUCCESS) {
		r->stats.sa_errors++;
		fetch_complete(f, sa_status_errno(status), status, NULL, 0);
	} else if (!answer_fits(f, recs, n)) {
		char want[INET6_ADDRSTRLEN], got[INET6_ADDRSTRLEN];

		r->stats.sa_errors++;
		pr_gid_to_text(&f->dgid, want);
		pr_gid_to_text(&recs[0].dgid, got);
		LOG_WARN("the SA answered a query for %s (DLID %u) with paths that are not its "
			 "(DGID %s, DLID %u): dropped", f->by & PR_REQ_DGID ? want : "-", f->dlid,
			 got, pr_dlid(&recs[0]));
		fetch_complete(f, -EPROTO, 0, NULL, 0);
	} else {
		/*
		 * File the answer under its tuple; all records of a pair share the DGID. An answer
		 * to a DLID is the (tuple, DGID) set only when each port has one LID: with LMC > 0
		 * it holds the paths to one of the port's LIDs, and DGID lookups would find too few.
		 * An answer a later trap made stale goes to whoever waits for it, not into the cache.
		 */
		if (f->stale) {
			r->stats.stale_answers++;
		} else if (!(f->by & PR_REQ_DLID) || !r->port->lmc) {
			union ibv_gid dgid;

			memcpy(&dgid, &recs[0].dgid, sizeof(dgid));
			err = pr_store_replace(r->store, f->tuple, &dgid, recs, n, NULL, now);
			if (err < 0)
				LOG_WARN("cannot cache %zu paths: %s", n, strerror(-err));
		}
		fetch_complete(f, 0, 0, recs, n);
	}
	free(recs);
}

static struct fetch *fetch_find(struct resolver *r, uint16_t tuple, const struct pr_request *req)
{
	uint8_t by = req->has & (PR_REQ_DGID | PR_REQ_DLID);

	/* Only the same request: a DGID with a wrong DLID is REQ_INVALID, the DGID alone is not.
	 * A stale fetch answers for a state of the fabric that is gone: nobody joins it. */
	for (struct fetch *f = r->fetches; f; f = f->next) {
		if (f->stale || f->tuple != tuple || f->by != by)
			continue;
		if ((by & PR_REQ_DGID) && memcmp(&f->dgid, &req->dgid, sizeof(f->dgid)))
			continue;
		if ((by & PR_REQ_DLID) && f->dlid != req->dlid)
			continue;
		return f;
	}
	return NULL;
}

/* Sends the SA query for (tuple, destination of req); w (may be NULL) waits. */
static int fetch_start(struct resolver *r, uint16_t tuple, const struct pr_request *req,
		       uint8_t method, struct waiter *w)
{
	struct ibv_path_record q;
	struct fetch *f;
	uint64_t mask;
	int64_t ret;

	f = calloc(1, sizeof(*f));
	if (!f || pr_store_pin(r->store, tuple) < 0) {
		free(f);
		return -ENOMEM;
	}
	f->r = r;
	f->tuple = tuple;
	f->by = req->has & (PR_REQ_DGID | PR_REQ_DLID);
	f->dgid = req->dgid;
	f->dlid = req->dlid;
	f->waiters = w;
	mask = pr_request_to_record(req, &r->port->gid, &q);
	f->sgid = q.sgid;
	/* A consumer waits for a Get; nobody for a trap's GetTable (one path per LID of the port). */
	if (w)
		ret = sa_client_query(r->sa, method, UMAD_SA_ATTR_PATH_REC, mask, &q, sizeof(q),
				      fetch_done, f);
	else
		ret = sa_client_query_bg(r->sa, method, UMAD_SA_ATTR_PATH_REC, mask, &q, sizeof(q),
					 1u << r->port->lmc, fetch_done, f);
	if (ret < 0) {
		pr_store_unpin(r->store, tuple);
		free(f);
		return (int)ret;
	}
	f->next = r->fetches;
	r->fetches = f;
	return 0;
}

/* A request without SGID is this port's: in a store that several ports share, the store's own
 * SGID may be another's. */
static const struct pr_request *with_sgid(const struct resolver *r, const struct pr_request *req,
					  struct pr_request *copy)
{
	if (req->has & PR_REQ_SGID)
		return req;
	*copy = *req;
	copy->sgid = r->port->gid;
	copy->has |= PR_REQ_SGID;
	return copy;
}

/* --- public --------------------------------------------------------------- */

int resolver_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const struct resolver_opts *opts, struct resolver **out)
{
	struct pr_store_opts so = { opts->max_entries, opts->max_negative, opts->negative_ttl_ms,
				    opts->max_stale_ms };
	struct resolver *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->port = port;
	r->sa = sa;
	r->opts = *opts;
	if (opts->store) {
		r->store = opts->store;
		ret = pr_store_port_add(r->store, &port->gid, &r->default_tuple);
	} else {
		r->own_store = true;
		ret = pr_store_new(&so, &port->gid, &r->store);
		if (ret == 0)
			r->default_tuple = pr_store_default_tuple(r->store);
	}
	if (ret < 0) {
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	/* The SA client is freed first by the owner, which fails our fetches. */
	free(r->prefetch);
	if (r->own_store)
		pr_store_free(r->store);
	free(r);
}

int64_t resolver_resolve(struct resolver *r, const struct pr_request *req, unsigned flags,
			 resolve_fn fn, void *arg)
{
	struct ibv_path_record out[RESOLVE_MAX_PATHS];
	struct pr_request own;
	struct waiter *w;
	struct fetch *f;
	uint16_t tuple;
	int64_t ret;

	if (!(req->has & (PR_REQ_DGID | PR_REQ_DLID)))
		return -EDESTADDRREQ;
	req = with_sgid(r, req, &own);
	ret = pr_store_tuple(r->store, req, true, &tuple);
	if (ret < 0)
		return ret;
	if (!(flags & RESOLVE_SA) && pr_store_stale(r->store, loop_turn_ms(r->loop))) {
		r->stats.stale_bypass++;
		if (flags & RESOLVE_CACHE_ONLY) {	/* the cache is not to be served: a miss */
			r->stats.misses++;
			fn(arg, -ENOENT, 0, NULL, 0);
			return 0;
		}
		flags |= RESOLVE_SA;
	}
	if (!(flags & RESOLVE_SA)) {
		size_t n = pr_store_lookup(r->store, tuple, req, out, RESOLVE_MAX_PATHS);

		if (n) {
			r->stats.hits++;
			fn(arg, 0, 0, out, n);
			return 0;
		}
		if (pr_store_negative(r->store, tuple, req, loop_turn_ms(r->loop))) {
			r->stats.negative_hits++;
			fn(arg, -ENOENT, UMAD_SA_STATUS_NO_RECORDS, NULL, 0);
			return 0;
		}
		if ((flags & RESOLVE_CACHE_ONLY) ||
		    (r->authoritative && tuple == r->default_tuple)) {
			r->stats.misses++;
			fn(arg, -ENOENT, 0, NULL, 0);
			return 0;
		}
	}
	r->stats.misses++;
	if (log_get_level() >= LOG_LVL_DEBUG) {
		char dgid[INET6_ADDRSTRLEN];

		pr_gid_to_text(&req->dgid, dgid);
		LOG_DEBUG("miss: dgid %s dlid %u tuple %u%s: asking the SA", dgid, req->dlid, tuple,
			  flags & RESOLVE_SA ? " (asked to)" : "");
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->id = ++r->next_waiter;
	w->fn = fn;
	w->arg = arg;
	f = fetch_find(r, tuple, req);
	if (f) {
		r->stats.coalesced++;
		w->next = f->waiters;
		f->waiters = w;
		return w->id;
	}
	ret = fetch_start(r, tuple, req, UMAD_METHOD_GET, w);
	if (ret < 0) {
		free(w);
		return ret;
	}
	return w->id;
}

void resolver_cancel(struct resolver *r, int64_t id)
{
	for (struct fetch *f = r->fetches; f; f = f->next)
		for (struct waiter *w = f->waiters; w; w = w->next)
			if (w->id == id) {
				w->fn = NULL;
				return;
			}
}

void resolver_cancel_fill(struct resolver *r, void *arg)
{
	for (struct fill_waiter *w = r->fill_waiters; w; w = w->next)
		if (w->arg == arg)
			w->fn = NULL;
}

/* One GetTable of the fill in progress was answered; the waiters hear the default table's
 * outcome (fill_err, fill_records) once every table of the fill is in. */
static int fill_send(struct resolver *r);
static void fill_finish(struct resolver *r, int err, size_t n);

static void fill_step(struct resolver *r)
{
	struct fill_waiter *w, *again = NULL, **pp;
	int ret;

	if (r->fill_pending > 1) {
		r->fill_pending--;
		return;
	}
	r->fill_pending = 0;
	r->stats.filling = false;
	/* A failed fill may have been sent long before some joined it (a retry while the SA was
	 * away, joined by a refresh once it is back): they get a fill of their own, once. */
	for (pp = &r->fill_waiters; r->fill_err && (w = *pp);) {
		if (!w->joined || !w->fn) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->joined = false;
		w->next = again;
		again = w;
	}
	while ((w = r->fill_waiters)) {
		r->fill_waiters = w->next;
		if (w->fn)
			w->fn(w->arg, r->fill_err, r->fill_records);
		free(w);
	}
	if (!again)
		return;
	for (w = again; w->next; w = w->next)
		;
	w->next = r->fill_waiters;	/* a callback above may have started a fill: join it */
	r->fill_waiters = again;
	if (!r->stats.filling && (ret = fill_send(r)) < 0)
		fill_finish(r, ret, 0);
}

/* The default table's answer is in (or failed). */
static void fill_finish(struct resolver *r, int err, size_t n)
{
	r->fill_err = err;
	r->fill_records = n;
	fill_step(r);
}

/* The records of a GetTable answer, loaded in full (generation, sweep, SA order) under tuple. */
static int load_answer(struct resolver *r, uint16_t tuple, int err, uint8_t status,
		       const unsigned char *mad, size_t len, size_t *n)
{
	struct ibv_path_record *recs = NULL;
	int ret;

	*n = 0;
	if (err)
		return err;
	if (status && status != UMAD_SA_STATUS_NO_RECORDS)
		return -EPROTO;
	if (!status) {
		ret = response_records(mad, len, 0, &recs, n);
		if (ret < 0)
			return ret;
	}
	if (tuple == r->default_tuple) {
		ret = resolver_load_table(r, recs, *n);
	} else {
		ret = pr_store_load(r->store, tuple, recs, *n, NULL, PR_LOAD_FULL | PR_LOAD_ORDER,
				    loop_now_ms(), NULL);
		if (!ret)
			pr_store_sa_answered(r->store, loop_now_ms());
	}
	free(recs);
	return ret;
}

static void fill_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct resolver *r = arg;
	size_t n;
	int ret = load_answer(r, r->default_tuple, err, status, mad, len, &n);

	if (ret < 0) {
		if (err || ret == -EPROTO) {
			r->stats.fill_failures++;
			LOG_WARN_RL(30000, "full refresh failed: %s",
				 err ? strerror(-err) : sa_status_str((uint16_t)(status << 8)));
		}
		fill_finish(r, ret == -EPROTO ? sa_status_errno(status) : ret, 0);
		return;
	}
	r->stats.last_fill_ms = loop_now_ms() - r->fill_started_ms;
	r->stats.last_fill_at_ms = loop_now_ms();
	LOG_INFO("generation %u: %zu paths from one GetTable in %llu ms, %llu stale removed",
		 r->stats.generation, n, (unsigned long long)r->stats.last_fill_ms,
		 (unsigned long long)r->stats.last_fill_swept);
	fill_finish(r, 0, n);
}

/* This port's rank among the destinations of a table in SA order (a port's paths are
 * adjacent): how many sort before its GID. */
static void table_rank(struct resolver *r, const struct ibv_path_record *recs, size_t n)
{
	uint64_t ports = 0, rank = 0;

	for (size_t i = 0; i < n; i++) {
		if (i && !memcmp(&recs[i].dgid, &recs[i - 1].dgid, sizeof(recs[i].dgid)))
			continue;
		ports++;
		rank += memcmp(&recs[i].dgid, &r->port->gid, sizeof(r->port->gid)) < 0;
	}
	r->table_ports = ports;
	r->table_rank = rank;
}

int resolver_load_table(struct resolver *r, const struct ibv_path_record *recs, size_t n)
{
	struct pr_load_result res;
	int ret;

	ret = pr_store_load(r->store, r->default_tuple, recs, n, NULL, PR_LOAD_FULL | PR_LOAD_ORDER,
			    loop_now_ms(), &res);
	if (ret < 0) {
		r->stats.fill_failures++;
		LOG_ERR("cannot load %zu paths: %s", n, strerror(-ret));
		return ret;
	}
	pr_store_sa_answered(r->store, loop_now_ms());
	table_rank(r, recs, n);
	r->stats.last_fill_swept = res.swept;
	r->stats.generation = res.generation;
	r->stats.fills++;
	r->stats.last_fill_records = n;
	return 0;
}

/* A prefetched tuple's GetTable answer: loaded and swept like the default table. */
static void prefetch_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct prefetch *p = arg;
	struct resolver *r = p->r;
	size_t n;
	int ret = load_answer(r, p->tuple, err, status, mad, len, &n);

	if (ret < 0) {
		r->stats.prefetch_failures++;
		if (err != -ECANCELED)
			LOG_WARN("prefetch of tuple %u failed: %s", p->tuple,
				 ret == -EPROTO ? sa_status_str((uint16_t)(status << 8)) :
						  strerror(-ret));
	} else {
		r->stats.prefetch_records += n;
		LOG_DEBUG("tuple %u: %zu paths from one GetTable", p->tuple, n);
	}
	fill_step(r);
}

int resolver_prefetch_add(struct resolver *r, const struct pr_request *req)
{
	struct pr_request own;
	struct prefetch *np;
	uint16_t tuple;
	int ret;

	if (req->has & (PR_REQ_DGID | PR_REQ_DLID) || !(req->tuple_flags & PR_TUPLE_ALL_FLAGS))
		return -EINVAL;
	if (r->stats.filling)
		return -EBUSY;
	req = with_sgid(r, req, &own);
	ret = pr_store_tuple(r->store, req, true, &tuple);
	if (ret < 0)
		return ret;
	if (tuple == r->default_tuple)
		return -EEXIST;
	np = realloc(r->prefetch, (r->n_prefetch + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	r->prefetch = np;
	ret = pr_store_table_add(r->store, tuple);
	if (ret < 0)
		return ret;
	np = &r->prefetch[r->n_prefetch++];
	memset(np, 0, sizeof(*np));
	np->r = r;
	np->req = *req;
	np->tuple = tuple;
	r->stats.prefetch_tuples = r->n_prefetch;
	return 0;
}

/* Records a table query is expected to bring: the last table's size, at least one. */
static uint32_t table_guess(const struct resolver *r)
{
	uint64_t last = r->stats.last_fill_records;

	return last ? (last < UINT32_MAX ? (uint32_t)last : UINT32_MAX) : 1;
}

/* Sends the fill's GetTables: the default tuple's, then one per prefetched tuple. */
static int fill_send(struct resolver *r)
{
	struct ibv_path_record q;
	int64_t ret;

	memset(&q, 0, sizeof(q));
	pr_set_sgid(&q, &r->port->gid);
	r->stats.filling = true;
	r->fill_started_ms = loop_now_ms();
	r->fill_pending = 1;
	/* Background work, expected to be as large as the last table (the budget's guess). */
	ret = sa_client_query_bg(r->sa, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, PR_CM_SGID,
				 &q, sizeof(q), table_guess(r), fill_done, r);
	if (ret < 0) {
		r->fill_pending = 0;
		r->stats.filling = false;
		return (int)ret;
	}
	/* One GetTable per prefetched tuple; the sa_client's credits pace them. The array does
	 * not move while they are out (resolver_prefetch_add refuses during a fill). */
	for (size_t i = 0; i < r->n_prefetch; i++) {
		struct prefetch *p = &r->prefetch[i];
		uint64_t mask = pr_request_to_record(&p->req, &r->port->gid, &q);

		r->fill_pending++;
		ret = sa_client_query_bg(r->sa, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, mask,
					 &q, sizeof(q), table_guess(r), prefetch_done, p);
		if (ret < 0) {
			r->fill_pending--;
			r->stats.prefetch_failures++;
			LOG_WARN("cannot prefetch tuple %u: %s", p->tuple, strerror((int)-ret));
		}
	}
	return 0;
}

int resolver_fill(struct resolver *r, fill_fn fn, void *arg)
{
	struct fill_waiter *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->joined = r->stats.filling;
	w->next = r->fill_waiters;
	r->fill_waiters = w;
	if (r->stats.filling)
		return 0;
	ret = fill_send(r);
	if (ret < 0) {
		r->fill_waiters = w->next;
		free(w);
	}
	return ret;
}

void resolver_set_authoritative(struct resolver *r, bool on)
{
	r->authoritative = on;
}

/* Answers to queries about gid sent before now describe a fabric that changed since. */
static void fetches_stale(struct resolver *r, const union ibv_gid *gid)
{
	for (struct fetch *f = r->fetches; f; f = f->next)
		if ((f->by & PR_REQ_DGID) && !memcmp(&f->dgid, gid, sizeof(*gid)))
			f->stale = true;
}

void resolver_gid_out(struct resolver *r, const union ibv_gid *gid)
{
	struct pr_request dest = { .has = PR_REQ_DGID, .dgid = *gid };
	size_t n = pr_store_remove_dgid(r->store, gid);

	r->stats.gids_out++;
	fetches_stale(r, gid);
	pr_store_put_negative(r->store, r->default_tuple, &dest, loop_now_ms());
	LOG_DEBUG("GID out of service: %zu paths dropped", n);
}

size_t resolver_gid_back(struct resolver *r, const union ibv_gid *gid)
{
	size_t n = pr_store_remove_dgid(r->store, gid);

	r->stats.gids_in++;
	fetches_stale(r, gid);
	/* "No path" to it, under any tuple, was said while it was out: forget it. */
	pr_store_clear_negatives(r->store, gid, loop_now_ms());
	return n;
}

int resolver_gid_fetch(struct resolver *r, const union ibv_gid *gid)
{
	struct pr_request req;
	int sent = 0;

	/* The default tuple, then every prefetched one: one GetTable (SGID, DGID, fields) each. */
	for (size_t i = 0; i <= r->n_prefetch; i++) {
		uint16_t tuple = i ? r->prefetch[i - 1].tuple : r->default_tuple;

		memset(&req, 0, sizeof(req));
		if (i)
			req = r->prefetch[i - 1].req;
		req.dgid = *gid;
		req.has |= PR_REQ_DGID;
		if (fetch_find(r, tuple, &req))
			continue;
		if (fetch_start(r, tuple, &req, UMAD_SA_METHOD_GET_TABLE, NULL) < 0)
			LOG_WARN("cannot fetch the paths of a GID back in service (tuple %u)", tuple);
		else
			sent++;
	}
	return sent;
}

void resolver_gid_in(struct resolver *r, const union ibv_gid *gid)
{
	size_t n = resolver_gid_back(r, gid);

	resolver_gid_fetch(r, gid);
	LOG_DEBUG("GID in service: %zu old paths dropped, fetching", n);
}

void resolver_table_rank(const struct resolver *r, uint64_t *ports, uint64_t *rank)
{
	*ports = r->table_ports;
	*rank = r->table_rank;
}

struct pr_store *resolver_store(struct resolver *r)
{
	return r->store;
}

const struct mad_port *resolver_port(const struct resolver *r)
{
	return r->port;
}

void resolver_stats(const struct resolver *r, struct resolver_stats *out)
{
	*out = r->stats;
	out->last_sa_ok_ms = pr_store_last_sa_answer(r->store);
}

#define MAX_OF(a, b) ((a) > (b) ? (a) : (b))

void resolver_stats_add(struct resolver_stats *sum, const struct resolver_stats *x)
{
	sum->hits += x->hits;
	sum->misses += x->misses;
	sum->negative_hits += x->negative_hits;
	sum->coalesced += x->coalesced;
	sum->sa_no_path += x->sa_no_path;
	sum->sa_errors += x->sa_errors;
	sum->sa_timeouts += x->sa_timeouts;
	sum->fills += x->fills;
	sum->fill_failures += x->fill_failures;
	sum->last_fill_records += x->last_fill_records;
	sum->last_fill_swept += x->last_fill_swept;
	sum->last_fill_ms = MAX_OF(sum->last_fill_ms, x->last_fill_ms);
	sum->gids_out += x->gids_out;
	sum->gids_in += x->gids_in;
	sum->stale_bypass += x->stale_bypass;
	sum->stale_answers += x->stale_answers;
	sum->prefetch_tuples += x->prefetch_tuples;
	sum->prefetch_records += x->prefetch_records;
	sum->prefetch_failures += x->prefetch_failures;
	sum->last_sa_ok_ms = MAX_OF(sum->last_sa_ok_ms, x->last_sa_ok_ms);
	sum->last_fill_at_ms = MAX_OF(sum->last_fill_at_ms, x->last_fill_at_ms);
	sum->generation = MAX_OF(sum->generation, x->generation);
	sum->filling |= x->filling;
}
