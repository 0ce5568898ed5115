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
	bool stale;            /* a trap about its GID came after it was sent: not filed */
	struct waiter *waiters;
};

struct fill_waiter {
	struct fill_waiter *next;
	fill_fn fn;
	void *arg;
};

/*
 * A tuple besides the default one that every fill loads with one GetTable (SGID + its fields):
 * the SA's answers for, e.g., one ServiceID to every destination. Its table answers whole-table
 * queries only once loaded, and stops after a flush.
 */
struct prefetch {
	struct resolver *r;
	struct pr_request req;     /* the tuple's fields, no destination */
	uint16_t tuple;
	bool loaded;
	union ibv_gid *order;      /* DGIDs in its last answer's order */
	size_t n_order;
};

struct resolver {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *sa;
	struct pr_cache *cache;
	struct resolver_opts opts;
	uint16_t default_tuple;
	struct fetch *fetches;
	int64_t next_waiter;
	struct fill_waiter *fill_waiters;
	bool authoritative;        /* default-tuple misses are "no path" (pushed table) */
	union ibv_gid *order;      /* DGIDs in the last GetTable answer's order */
	size_t n_order;
	struct prefetch *prefetch; /* tuples filled by GetTable too, besides the default */
	size_t n_prefetch;
	unsigned fill_pending;     /* GetTable answers the fill in progress still awaits */
	int fill_err;              /* the default table's outcome, told once all are in */
	size_t fill_records;
	uint64_t fill_started_ms;
	struct resolver_stats stats;
};

/* --- helpers -------------------------------------------------------------- */

/* The request's tuple id; create: intern it if new (else -ENOENT). */
static int tuple_of(struct resolver *r, const struct pr_request *req, bool create, uint16_t *id)
{
	struct pr_tuple t;

	memset(&t, 0, sizeof(t));
	t.sgid = (req->has & PR_REQ_SGID) ? req->sgid : r->port->gid;
	t.flags = req->tuple_flags & PR_TUPLE_ALL_FLAGS;
	t.service_id = req->service_id;
	t.pkey = req->pkey;
	t.qos_class = req->qos_class;
	t.sl = req->sl;
	t.tclass = req->tclass;
	return pr_cache_tuple(r->cache, &t, create, id);
}

/* The request fields and their component-mask bits, both ways. */
void pr_request_from_record(struct pr_request *req, const struct ibv_path_record *q,
			    uint64_t mask)
{
	memset(req, 0, sizeof(*req));
	if (mask & PR_CM_SGID) {
		memcpy(&req->sgid, &q->sgid, sizeof(req->sgid));
		req->has |= PR_REQ_SGID;
	}
	if (mask & PR_CM_DGID) {
		memcpy(&req->dgid, &q->dgid, sizeof(req->dgid));
		req->has |= PR_REQ_DGID;
	}
	if (mask & PR_CM_DLID) {
		req->dlid = pr_dlid(q);
		req->has |= PR_REQ_DLID;
	}
	if (mask & PR_CM_SERVICE_ID) {
		req->service_id = pr_service_id(q);
		req->tuple_flags |= PR_TUPLE_SERVICE_ID;
	}
	if (mask & PR_CM_PKEY) {
		req->pkey = pr_pkey(q);
		req->tuple_flags |= PR_TUPLE_PKEY;
	}
	if (mask & PR_CM_QOS_CLASS) {
		req->qos_class = pr_qos_class(q);
		req->tuple_flags |= PR_TUPLE_QOS_CLASS;
	}
	if (mask & PR_CM_SL) {
		req->sl = pr_sl(q);
		req->tuple_flags |= PR_TUPLE_SL;
	}
	if (mask & PR_CM_TCLASS) {
		req->tclass = pr_tclass(q);
		req->tuple_flags |= PR_TUPLE_TCLASS;
	}
}

uint64_t pr_request_to_record(const struct pr_request *req, const union ibv_gid *own_sgid,
			      struct ibv_path_record *q)
{
	uint64_t mask = PR_CM_SGID;

	memset(q, 0, sizeof(*q));
	pr_set_sgid(q, (req->has & PR_REQ_SGID) ? &req->sgid : own_sgid);
	if (req->has & PR_REQ_DGID) {
		pr_set_dgid(q, &req->dgid);
		mask |= PR_CM_DGID;
	}
	if (req->has & PR_REQ_DLID) {
		pr_set_dlid(q, req->dlid);
		mask |= PR_CM_DLID;
	}
	if (req->tuple_flags & PR_TUPLE_SERVICE_ID) {
		pr_set_service_id(q, req->service_id);
		mask |= PR_CM_SERVICE_ID;
	}
	if (req->tuple_flags & PR_TUPLE_PKEY) {
		pr_set_pkey(q, req->pkey);
		mask |= PR_CM_PKEY;
	}
	if (req->tuple_flags & PR_TUPLE_QOS_CLASS) {
		pr_set_qos_class(q, req->qos_class);
		mask |= PR_CM_QOS_CLASS;
	}
	if (req->tuple_flags & PR_TUPLE_SL) {
		pr_set_sl(q, req->sl);
		mask |= PR_CM_SL;
	}
	if (req->tuple_flags & PR_TUPLE_TCLASS) {
		pr_set_tclass(q, req->tclass);
		mask |= PR_CM_TCLASS;
	}
	return mask;
}

/* Records of a GetResp or GetTableResp; NULL/0 when there are none. */
static const unsigned char *response_records(const unsigned char *mad, size_t len, size_t *n,
					     size_t *rec_len)
{
	struct sa_hdr h;

	*n = 0;
	*rec_len = PR_LEN;
	if (sa_hdr_decode(mad, len, &h) < 0)
		return NULL;
	if (h.method == UMAD_SA_METHOD_GET_TABLE_RESP) {
		if (sa_table_count(&h, len, rec_len, n) < 0 || *rec_len < PR_LEN)
			*n = 0;
	} else if (len >= SA_HDR_LEN + PR_LEN) {
		*n = 1;
	}
	return mad + SA_HDR_LEN;
}

/* Copies up to max paths of (tuple, dest) out of the cache. */
static size_t cache_lookup(struct resolver *r, uint16_t tuple, const struct pr_request *req,
			   struct ibv_path_record *out, size_t max)
{
	const struct pr_entry *e[RESOLVE_MAX_PATHS];
	size_t n, i, k = 0;

	if (req->has & PR_REQ_DGID)
		n = pr_cache_lookup_dgid(r->cache, tuple, &req->dgid, e, RESOLVE_MAX_PATHS);
	else
		n = pr_cache_lookup_dlid(r->cache, tuple, req->dlid, e, RESOLVE_MAX_PATHS);
	if (n > RESOLVE_MAX_PATHS)
		n = RESOLVE_MAX_PATHS;
	for (i = 0; i < n && k < max; i++) {
		if ((req->has & PR_REQ_DGID) && (req->has & PR_REQ_DLID) &&
		    pr_dlid(&e[i]->rec) != req->dlid)
			continue;
		out[k++] = e[i]->rec;
	}
	return k;
}

static bool cache_negative(struct resolver *r, uint16_t tuple, const struct pr_request *req)
{
	uint64_t now = loop_now_ms();

	/* With both, the SA checks that they agree (REQ_INVALID if not): ask it. */
	if ((req->has & PR_REQ_DGID) && (req->has & PR_REQ_DLID))
		return false;
	if (req->has & PR_REQ_DGID)
		return pr_cache_negative_dgid(r->cache, tuple, &req->dgid, now);
	return pr_cache_negative_dlid(r->cache, tuple, req->dlid, now);
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
	while ((w = f->waiters)) {
		f->waiters = w->next;
		if (w->fn)
			w->fn(w->arg, err, status, recs, n);
		free(w);
	}
	free(f);
}

static void fetch_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct fetch *f = arg;
	struct resolver *r = f->r;
	struct ibv_path_record recs[RESOLVE_MAX_PATHS];
	const unsigned char *p = NULL;
	size_t n = 0, rec_len, i;

	if (err) {
		if (err == -ETIMEDOUT)
			r->stats.sa_timeouts++;
		fetch_complete(f, err, 0, NULL, 0);
		return;
	}
	r->stats.last_sa_ok_ms = loop_now_ms();
	if (status == UMAD_SA_STATUS_SUCCESS) {
		p = response_records(mad, len, &n, &rec_len);
		if (n > RESOLVE_MAX_PATHS)
			n = RESOLVE_MAX_PATHS;
		for (i = 0; i < n; i++)
			pr_decode(p + i * rec_len, rec_len, &recs[i]);
	}
	if (status == UMAD_SA_STATUS_NO_RECORDS || (status == UMAD_SA_STATUS_SUCCESS && !n)) {
		uint64_t exp = loop_now_ms() + r->opts.negative_ttl_ms;

		r->stats.sa_no_path++;
		/* "No path" for a DGID and a DLID together is no fact about either alone. */
		for (int tries = 0; !f->stale && f->by != (PR_REQ_DGID | PR_REQ_DLID) && tries < 2;
		     tries++) {
			int ret = f->by == PR_REQ_DGID ?
				pr_cache_put_negative_dgid(r->cache, f->tuple, &f->dgid, exp) :
				pr_cache_put_negative_dlid(r->cache, f->tuple, f->dlid, exp);

			if (ret != -ENOSPC)
				break;
			pr_cache_expire_negatives(r->cache, loop_now_ms());
		}
		fetch_complete(f, -ENOENT, UMAD_SA_STATUS_NO_RECORDS, NULL, 0);
		return;
	}
	if (status != UMAD_SA_STATUS_SUCCESS) {
		r->stats.sa_errors++;
		fetch_complete(f, sa_status_errno(status), status, NULL, 0);
		return;
	}
	/*
	 * File the answer under its tuple; all records of a pair share the DGID. An answer to a
	 * DLID is the (tuple, DGID) set only when each port has one LID: with LMC > 0 it holds
	 * the paths to one of the port's LIDs, and DGID lookups would find too few. An answer
	 * a later trap made stale goes to whoever waits for it, not into the cache.
	 */
	if (f->stale) {
		r->stats.stale_answers++;
	} else if (!(f->by & PR_REQ_DLID) || !r->port->lmc) {
		struct pr_origin origin = { PR_SRC_SA, 0, r->stats.generation };
		union ibv_gid dgid;

		memcpy(&dgid, &recs[0].dgid, sizeof(dgid));
		err = pr_cache_replace(r->cache, f->tuple, &dgid, recs, n, &origin, loop_now_ms());
		if (err < 0)
			LOG_WARN("cannot cache %zu paths: %s", n, strerror(-err));
	}
	fetch_complete(f, 0, 0, recs, n);
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
	if (!f)
		return -ENOMEM;
	f->r = r;
	f->tuple = tuple;
	f->by = req->has & (PR_REQ_DGID | PR_REQ_DLID);
	f->dgid = req->dgid;
	f->dlid = req->dlid;
	f->waiters = w;
	mask = pr_request_to_record(req, &r->port->gid, &q);
	/* A consumer waits for a Get; nobody for a trap's GetTable (one path per LID of the port). */
	if (w)
		ret = sa_client_query(r->sa, method, UMAD_SA_ATTR_PATH_REC, mask, &q, sizeof(q),
				      fetch_done, f);
	else
		ret = sa_client_query_bg(r->sa, method, UMAD_SA_ATTR_PATH_REC, mask, &q, sizeof(q),
					 1u << r->port->lmc, fetch_done, f);
	if (ret < 0) {
		free(f);
		return (int)ret;
	}
	f->next = r->fetches;
	r->fetches = f;
	return 0;
}

/* --- public --------------------------------------------------------------- */

int resolver_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const struct resolver_opts *opts, struct resolver **out)
{
	struct pr_cache_limits lim = { opts->max_entries, opts->max_negative };
	struct pr_tuple t;
	struct resolver *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->port = port;
	r->sa = sa;
	r->opts = *opts;
	ret = pr_cache_new(&lim, &r->cache);
	if (ret < 0) {
		free(r);
		return ret;
	}
	memset(&t, 0, sizeof(t));
	t.sgid = port->gid;
	ret = pr_cache_tuple(r->cache, &t, true, &r->default_tuple);
	if (ret < 0) {
		pr_cache_free(r->cache);
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
	free(r->order);
	for (size_t i = 0; i < r->n_prefetch; i++)
		free(r->prefetch[i].order);
	free(r->prefetch);
	pr_cache_free(r->cache);
	free(r);
}

int64_t resolver_resolve(struct resolver *r, const struct pr_request *req, unsigned flags,
			 resolve_fn fn, void *arg)
{
	struct ibv_path_record out[RESOLVE_MAX_PATHS];
	struct waiter *w;
	struct fetch *f;
	uint16_t tuple;
	int64_t ret;

	if (!(req->has & (PR_REQ_DGID | PR_REQ_DLID)))
		return -EDESTADDRREQ;
	ret = tuple_of(r, req, true, &tuple);
	if (ret < 0)
		return ret;
	if (r->opts.max_stale_ms && !(flags & (RESOLVE_SA | RESOLVE_CACHE_ONLY)) &&
	    loop_now_ms() - r->stats.last_sa_ok_ms > r->opts.max_stale_ms) {
		r->stats.stale_bypass++;
		flags |= RESOLVE_SA;
	}
	if (!(flags & RESOLVE_SA)) {
		size_t n = cache_lookup(r, tuple, req, out, RESOLVE_MAX_PATHS);

		if (n) {
			r->stats.hits++;
			fn(arg, 0, 0, out, n);
			return 0;
		}
		if (cache_negative(r, tuple, req)) {
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
static void fill_step(struct resolver *r)
{
	struct fill_waiter *w;

	if (r->fill_pending > 1) {
		r->fill_pending--;
		return;
	}
	r->fill_pending = 0;
	r->stats.filling = false;
	while ((w = r->fill_waiters)) {
		r->fill_waiters = w->next;
		if (w->fn)
			w->fn(w->arg, r->fill_err, r->fill_records);
		free(w);
	}
}

/* The default table's answer is in (or failed). */
static void fill_finish(struct resolver *r, int err, size_t n)
{
	r->fill_err = err;
	r->fill_records = n;
	fill_step(r);
}

/* Keeps the destinations' order of a GetTable answer (first appearance). */
static void remember_order(union ibv_gid **orderp, size_t *n_orderp,
			   const struct ibv_path_record *recs, size_t n)
{
	union ibv_gid *order = malloc((n ? n : 1) * sizeof(*order));
	size_t k = 0;

	if (!order)
		return; /* the table then comes in cache order */
	for (size_t i = 0; i < n; i++)
		if (!k || memcmp(&order[k - 1], &recs[i].dgid, sizeof(*order)))
			memcpy(&order[k++], &recs[i].dgid, sizeof(*order));
	free(*orderp);
	*orderp = order;
	*n_orderp = k;
}

struct table_ctx {
	uint16_t tuple;
	struct ibv_path_record *recs;
	size_t n, cap;
	bool failed;
};

static bool collect_tuple(const struct pr_entry *e, void *arg)
{
	struct table_ctx *t = arg;

	if (e->tuple != t->tuple)
		return true;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct ibv_path_record *nr = realloc(t->recs, cap * sizeof(*nr));

		if (!nr) {
			t->failed = true;
			return false;
		}
		t->recs = nr;
		t->cap = cap;
	}
	t->recs[t->n++] = e->rec;
	return true;
}

static int gid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(union ibv_gid));
}

/* The paths of one tuple: in the order of its last GetTable answer, then what arrived since. */
static int table_collect(struct resolver *r, uint16_t tuple, const union ibv_gid *order,
			 size_t n_order, struct ibv_path_record **out, size_t *n)
{
	struct table_ctx t = { .tuple = tuple };
	const struct pr_entry *e[RESOLVE_MAX_PATHS];
	struct ibv_path_record *res;
	union ibv_gid *sorted;
	size_t k = 0;

	pr_cache_foreach(r->cache, collect_tuple, &t);
	res = malloc((t.n ? t.n : 1) * sizeof(*res));
	sorted = malloc((n_order ? n_order : 1) * sizeof(*sorted));
	if (t.failed || !res || !sorted) {
		free(res);
		free(sorted);
		free(t.recs);
		return -ENOMEM;
	}
	/* SA order first, through the index; then what arrived since. O(n log n). */
	for (size_t i = 0; i < n_order; i++) {
		size_t m = pr_cache_lookup_dgid(r->cache, tuple, &order[i], e, RESOLVE_MAX_PATHS);

		for (size_t j = 0; j < m && j < RESOLVE_MAX_PATHS && k < t.n; j++)
			res[k++] = e[j]->rec;
	}
	if (n_order)
		memcpy(sorted, order, n_order * sizeof(*sorted));
	qsort(sorted, n_order, sizeof(*sorted), gid_cmp);
	for (size_t i = 0; i < t.n && k < t.n; i++)
		if (!bsearch(&t.recs[i].dgid, sorted, n_order, sizeof(*sorted), gid_cmp))
			res[k++] = t.recs[i];
	free(sorted);
	free(t.recs);
	*out = res;
	*n = k;
	return 0;
}

int resolver_table(struct resolver *r, struct ibv_path_record **out, size_t *n)
{
	return table_collect(r, r->default_tuple, r->order, r->n_order, out, n);
}

int resolver_table_request(struct resolver *r, const struct pr_request *req,
			   struct ibv_path_record **out, size_t *n)
{
	uint16_t tuple;

	if (req->has & (PR_REQ_DGID | PR_REQ_DLID))
		return -EINVAL;
	if (tuple_of(r, req, false, &tuple) < 0)
		return -ENOENT;
	if (tuple == r->default_tuple)
		return resolver_table(r, out, n);
	for (size_t i = 0; i < r->n_prefetch; i++) {
		struct prefetch *p = &r->prefetch[i];

		if (p->tuple == tuple)
			return p->loaded ? table_collect(r, tuple, p->order, p->n_order, out, n) :
					   -ENOENT;
	}
	return -ENOENT;
}

uint16_t resolver_default_tuple(const struct resolver *r)
{
	return r->default_tuple;
}

static void fill_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct resolver *r = arg;
	struct ibv_path_record *recs;
	const unsigned char *p = NULL;
	size_t n = 0, rec_len, i;
	int ret;

	if (err || (status && status != UMAD_SA_STATUS_NO_RECORDS)) {
		r->stats.fill_failures++;
		LOG_WARN("full refresh failed: %s",
			 err ? strerror(-err) : sa_status_str((uint16_t)(status << 8)));
		fill_finish(r, err ? err : sa_status_errno(status), 0);
		return;
	}
	if (!status)
		p = response_records(mad, len, &n, &rec_len);
	recs = calloc(n ? n : 1, sizeof(*recs));
	if (!recs) {
		fill_finish(r, -ENOMEM, 0);
		return;
	}
	for (i = 0; i < n; i++)
		pr_decode(p + i * rec_len, rec_len, &recs[i]);
	ret = resolver_load_table(r, recs, n);
	free(recs);
	if (ret < 0) {
		fill_finish(r, ret, 0);
		return;
	}
	r->stats.last_fill_ms = loop_now_ms() - r->fill_started_ms;
	LOG_INFO("generation %u: %zu paths from one GetTable in %llu ms, %llu stale removed",
		 r->stats.generation, n, (unsigned long long)r->stats.last_fill_ms,
		 (unsigned long long)r->stats.last_fill_swept);
	fill_finish(r, 0, n);
}

int resolver_load_table(struct resolver *r, const struct ibv_path_record *recs, size_t n)
{
	struct pr_origin origin = { PR_SRC_SA, 0, 0 };
	int ret;

	remember_order(&r->order, &r->n_order, recs, n);
	origin.generation = pr_cache_begin_generation(r->cache);
	ret = pr_cache_load(r->cache, r->default_tuple, recs, n, &origin, loop_now_ms());
	if (ret < 0) {
		r->stats.fill_failures++;
		LOG_ERR("cannot load %zu paths: %s", n, strerror(-ret));
		return ret;
	}
	r->stats.last_fill_swept = pr_cache_sweep(r->cache, r->default_tuple, PR_SRC_SA,
						  origin.generation);
	r->stats.last_sa_ok_ms = loop_now_ms();
	r->stats.generation = origin.generation;
	r->stats.fills++;
	r->stats.last_fill_records = n;
	return 0;
}

/* A prefetched tuple's GetTable answer: loaded and swept like the default table. */
static void prefetch_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct prefetch *p = arg;
	struct resolver *r = p->r;
	struct pr_origin origin = { PR_SRC_SA, 0, 0 };
	struct ibv_path_record *recs = NULL;
	const unsigned char *data = NULL;
	size_t n = 0, rec_len, i;
	int ret = err ? err : (status && status != UMAD_SA_STATUS_NO_RECORDS) ? -EPROTO : 0;

	if (!ret && !status)
		data = response_records(mad, len, &n, &rec_len);
	if (!ret && !(recs = calloc(n ? n : 1, sizeof(*recs))))
		ret = -ENOMEM;
	if (!ret) {
		for (i = 0; i < n; i++)
			pr_decode(data + i * rec_len, rec_len, &recs[i]);
		origin.generation = pr_cache_begin_generation(r->cache);
		ret = pr_cache_load(r->cache, p->tuple, recs, n, &origin, loop_now_ms());
	}
	if (ret < 0) {
		r->stats.prefetch_failures++;
		if (err != -ECANCELED)
			LOG_WARN("prefetch of tuple %u failed: %s", p->tuple,
				 ret == -EPROTO ? sa_status_str((uint16_t)(status << 8)) :
						  strerror(-ret));
	} else {
		pr_cache_sweep(r->cache, p->tuple, PR_SRC_SA, origin.generation);
		remember_order(&p->order, &p->n_order, recs, n);
		p->loaded = true;
		r->stats.prefetch_records += n;
		LOG_DEBUG("tuple %u: %zu paths from one GetTable", p->tuple, n);
	}
	free(recs);
	fill_step(r);
}

int resolver_prefetch_add(struct resolver *r, const struct pr_request *req)
{
	struct prefetch *np;
	uint16_t tuple;
	int ret;

	if (req->has & (PR_REQ_DGID | PR_REQ_DLID) || !(req->tuple_flags & PR_TUPLE_ALL_FLAGS))
		return -EINVAL;
	if (r->stats.filling)
		return -EBUSY;
	ret = tuple_of(r, req, true, &tuple);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < r->n_prefetch; i++)
		if (r->prefetch[i].tuple == tuple)
			return -EEXIST;
	np = realloc(r->prefetch, (r->n_prefetch + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	r->prefetch = np;
	np = &r->prefetch[r->n_prefetch++];
	memset(np, 0, sizeof(*np));
	np->r = r;
	np->req = *req;
	np->tuple = tuple;
	r->stats.prefetch_tuples = r->n_prefetch;
	return 0;
}

void resolver_flush(struct resolver *r)
{
	pr_cache_flush(r->cache);
	for (size_t i = 0; i < r->n_prefetch; i++)
		r->prefetch[i].loaded = false;
}

/* Records a table query is expected to bring: the last one's size, at least one. */
static uint32_t table_guess(uint64_t last)
{
	return last ? (last < UINT32_MAX ? (uint32_t)last : UINT32_MAX) : 1;
}

int resolver_fill(struct resolver *r, fill_fn fn, void *arg)
{
	struct fill_waiter *w = calloc(1, sizeof(*w));
	struct ibv_path_record q;
	int64_t ret;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->next = r->fill_waiters;
	r->fill_waiters = w;
	if (r->stats.filling)
		return 0;
	memset(&q, 0, sizeof(q));
	pr_set_sgid(&q, &r->port->gid);
	r->stats.filling = true;
	r->fill_started_ms = loop_now_ms();
	r->fill_pending = 1;
	/* Background work, expected to be as large as the last table (the budget's guess). */
	ret = sa_client_query_bg(r->sa, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, PR_CM_SGID,
				 &q, sizeof(q), table_guess(r->stats.last_fill_records), fill_done,
				 r);
	if (ret < 0) {
		r->fill_waiters = w->next;
		free(w);
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
					 &q, sizeof(q), table_guess(p->n_order), prefetch_done, p);
		if (ret < 0) {
			r->fill_pending--;
			r->stats.prefetch_failures++;
			LOG_WARN("cannot prefetch tuple %u: %s", p->tuple, strerror((int)-ret));
		}
	}
	return 0;
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
	size_t n = pr_cache_remove_dgid(r->cache, gid);

	r->stats.gids_out++;
	fetches_stale(r, gid);
	if (r->opts.negative_ttl_ms)
		pr_cache_put_negative_dgid(r->cache, r->default_tuple, gid,
					   loop_now_ms() + r->opts.negative_ttl_ms);
	LOG_DEBUG("GID out of service: %zu paths dropped", n);
}

size_t resolver_gid_back(struct resolver *r, const union ibv_gid *gid)
{
	size_t n = pr_cache_remove_dgid(r->cache, gid);
	uint64_t now = loop_now_ms();

	r->stats.gids_in++;
	fetches_stale(r, gid);
	/* "No path" to it, under any tuple, was said while it was out: forget it (tuple ids are
	 * dense; a replace with no paths clears the negative). */
	for (uint16_t t = 0; pr_cache_tuple_get(r->cache, t); t++)
		if (pr_cache_negative_dgid(r->cache, t, gid, now))
			pr_cache_replace(r->cache, t, gid, NULL, 0, NULL, now);
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
	uint64_t below = 0;

	for (size_t i = 0; i < r->n_order; i++)
		below += memcmp(&r->order[i], &r->port->gid, sizeof(r->port->gid)) < 0;
	*ports = r->n_order;
	*rank = below;
}

struct pr_cache *resolver_cache(struct resolver *r)
{
	return r->cache;
}

const union ibv_gid *resolver_own_gid(const struct resolver *r)
{
	return &r->port->gid;
}

void resolver_stats(const struct resolver *r, struct resolver_stats *out)
{
	*out = r->stats;
}
