/*
 * pr_store - see pr_store.h. A thin layer of policy over pr_cache: which generation a load
 * carries and what it sweeps, the order a whole table comes in, how long "no path" lasts. The
 * tables it knows are few (the default one and the prefetched tuples'), so they sit in a small
 * array searched linearly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pr_store.h"
#include "wire/path_rec.h"

enum { LOOKUP_MAX = 128 };	/* paths of one destination a table collects through the index */

/* A tuple whose whole table the store can give. */
struct table {
	uint16_t tuple;
	bool loaded;			/* complete: loaded in full, not flushed since */
	bool port;			/* a served port's default table: answered whatever happened */
	union ibv_gid *order;		/* DGIDs of its last ordered load, by first appearance */
	size_t n_order;
};

struct pr_store {
	struct pr_cache *cache;
	struct pr_store_opts opts;
	union ibv_gid own_sgid;
	uint16_t default_tuple;
	uint32_t fill_generation;
	uint64_t last_sa_ms;
	struct table *tables;		/* [0] is the default table: answered whatever happened */
	size_t n_tables;
};

/* --- requests ------------------------------------------------------------ */

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

/* --- life cycle ---------------------------------------------------------- */

int pr_store_new(const struct pr_store_opts *opts, const union ibv_gid *own_sgid,
		 struct pr_store **out)
{
	struct pr_cache_limits lim;
	struct pr_tuple t;
	struct pr_store *s;
	int ret;

	if (!opts || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	lim = (struct pr_cache_limits){ opts->max_entries, opts->max_negative };
	ret = pr_cache_new(&lim, &s->cache);
	if (ret < 0)
		goto out_free;
	if (!own_sgid) {	/* the first port added is the own one */
		*out = s;
		return 0;
	}
	s->own_sgid = *own_sgid;
	memset(&t, 0, sizeof(t));
	t.sgid = *own_sgid;
	ret = pr_cache_tuple(s->cache, &t, true, &s->default_tuple);
	if (ret < 0)
		goto out_cache;
	ret = pr_store_table_add(s, s->default_tuple);
	if (ret < 0)
		goto out_cache;
	s->tables[0].loaded = s->tables[0].port = true;
	*out = s;
	return 0;

out_cache:
	pr_cache_free(s->cache);
out_free:
	free(s);
	return ret;
}

void pr_store_free(struct pr_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_tables; i++)
		free(s->tables[i].order);
	free(s->tables);
	pr_cache_free(s->cache);
	free(s);
}

/* --- tuples -------------------------------------------------------------- */

int pr_store_tuple(struct pr_store *s, const struct pr_request *req, bool create, uint16_t *id)
{
	struct pr_tuple t;

	memset(&t, 0, sizeof(t));
	t.sgid = (req->has & PR_REQ_SGID) ? req->sgid : s->own_sgid;
	t.flags = req->tuple_flags & PR_TUPLE_ALL_FLAGS;
	t.service_id = req->service_id;
	t.pkey = req->pkey;
	t.qos_class = req->qos_class;
	t.sl = req->sl;
	t.tclass = req->tclass;
	return pr_cache_tuple(s->cache, &t, create, id);
}

uint16_t pr_store_default_tuple(const struct pr_store *s)
{
	return s->default_tuple;
}

int pr_store_pin(struct pr_store *s, uint16_t tuple)
{
	return pr_cache_tuple_pin(s->cache, tuple);
}

void pr_store_unpin(struct pr_store *s, uint16_t tuple)
{
	pr_cache_tuple_unpin(s->cache, tuple);
}

/* --- reading ------------------------------------------------------------- */

size_t pr_store_lookup(const struct pr_store *s, uint16_t tuple, const struct pr_request *req,
		       struct ibv_path_record *out, size_t max)
{
	const struct pr_entry *e[LOOKUP_MAX];
	size_t n, k = 0;

	if (req->has & PR_REQ_DGID)
		n = pr_cache_lookup_dgid(s->cache, tuple, &req->dgid, e, LOOKUP_MAX);
	else if (req->has & PR_REQ_DLID)
		n = pr_cache_lookup_dlid(s->cache, tuple, req->dlid, e, LOOKUP_MAX);
	else
		return 0;
	if (n > LOOKUP_MAX)
		n = LOOKUP_MAX;
	for (size_t i = 0; i < n && k < max; i++) {
		if ((req->has & PR_REQ_DGID) && (req->has & PR_REQ_DLID) &&
		    pr_dlid(&e[i]->rec) != req->dlid)
			continue;
		out[k++] = e[i]->rec;
	}
	return k;
}

bool pr_store_negative(const struct pr_store *s, uint16_t tuple, const struct pr_request *req,
		       uint64_t now_ms)
{
	uint8_t by = req->has & (PR_REQ_DGID | PR_REQ_DLID);

	if (by == PR_REQ_DGID)
		return pr_cache_negative_dgid(s->cache, tuple, &req->dgid, now_ms);
	if (by == PR_REQ_DLID)
		return pr_cache_negative_dlid(s->cache, tuple, req->dlid, now_ms);
	return false;
}

static struct table *table_of(const struct pr_store *s, uint16_t tuple)
{
	for (size_t i = 0; i < s->n_tables; i++)
		if (s->tables[i].tuple == tuple)
			return &s->tables[i];
	return NULL;
}

struct collect_ctx {
	uint16_t tuple;
	struct ibv_path_record *recs;
	size_t n, cap;
	bool failed;
};

static bool collect_tuple(const struct pr_entry *e, void *arg)
{
	struct collect_ctx *t = arg;

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

int pr_store_table(struct pr_store *s, const struct pr_request *req,
		   struct ibv_path_record **out, size_t *n)
{
	struct collect_ctx t = { 0 };
	const struct pr_entry *e[LOOKUP_MAX];
	const struct table *tb;
	struct ibv_path_record *res;
	union ibv_gid *sorted;
	uint16_t tuple;
	size_t k = 0;

	if (req->has & (PR_REQ_DGID | PR_REQ_DLID))
		return -EINVAL;
	if (pr_store_tuple(s, req, false, &tuple) < 0 ||
	    !(tb = table_of(s, tuple)) || !tb->loaded)
		return -ENOENT;
	t.tuple = tuple;
	pr_cache_foreach(s->cache, collect_tuple, &t);
	res = malloc((t.n ? t.n : 1) * sizeof(*res));
	sorted = malloc((tb->n_order ? tb->n_order : 1) * sizeof(*sorted));
	if (t.failed || !res || !sorted) {
		free(res);
		free(sorted);
		free(t.recs);
		return -ENOMEM;
	}
	/* SA order first, through the index; then what arrived since. O(n log n). */
	for (size_t i = 0; i < tb->n_order; i++) {
		size_t m = pr_cache_lookup_dgid(s->cache, tuple, &tb->order[i], e, LOOKUP_MAX);

		for (size_t j = 0; j < m && j < LOOKUP_MAX && k < t.n; j++)
			res[k++] = e[j]->rec;
	}
	if (tb->n_order)
		memcpy(sorted, tb->order, tb->n_order * sizeof(*sorted));
	qsort(sorted, tb->n_order, sizeof(*sorted), gid_cmp);
	for (size_t i = 0; i < t.n && k < t.n; i++)
		if (!bsearch(&t.recs[i].dgid, sorted, tb->n_order, sizeof(*sorted), gid_cmp))
			res[k++] = t.recs[i];
	free(sorted);
	free(t.recs);
	*out = res;
	*n = k;
	return 0;
}

const struct pr_cache *pr_store_cache(const struct pr_store *s)
{
	return s->cache;
}

void pr_store_stats(const struct pr_store *s, struct pr_cache_stats *out)
{
	pr_cache_stats(s->cache, out);
}

uint32_t pr_store_generation(const struct pr_store *s)
{
	return s->fill_generation;
}

/* --- writing ------------------------------------------------------------- */

int pr_store_table_add(struct pr_store *s, uint16_t tuple)
{
	struct table *nt;
	int ret;

	if (table_of(s, tuple))
		return -EEXIST;
	nt = realloc(s->tables, (s->n_tables + 1) * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	s->tables = nt;
	ret = pr_cache_tuple_pin(s->cache, tuple);
	if (ret < 0)
		return ret;
	s->tables[s->n_tables++] = (struct table){ .tuple = tuple };
	return 0;
}

struct gid_at {
	union ibv_gid gid;
	size_t at;
};

static int by_gid(const void *a, const void *b)
{
	const struct gid_at *x = a, *y = b;
	int c = memcmp(&x->gid, &y->gid, sizeof(x->gid));

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

static int by_position(const void *a, const void *b)
{
	const struct gid_at *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

/* Keeps the destinations' order of a table, each DGID once, where it first appears (an SA
 * groups a destination's paths, but nothing forces it to). O(n log n). On no memory the table
 * then comes in cache order. */
static void remember_order(struct table *tb, const struct ibv_path_record *recs, size_t n)
{
	struct gid_at *v = malloc((n ? n : 1) * sizeof(*v));
	union ibv_gid *order = malloc((n ? n : 1) * sizeof(*order));
	size_t k = 0, m = 0;

	if (!v || !order) {
		free(v);
		free(order);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!k || memcmp(&v[k - 1].gid, &recs[i].dgid, sizeof(v->gid))) {
			memcpy(&v[k].gid, &recs[i].dgid, sizeof(v->gid));
			v[k].at = k;
			k++;
		}
	qsort(v, k, sizeof(*v), by_gid);
	for (size_t i = 0; i < k; i++)	/* of equal GIDs, the first in the table stays */
		if (!i || memcmp(&v[i].gid, &v[i - 1].gid, sizeof(v->gid)))
			v[m++] = v[i];
	qsort(v, m, sizeof(*v), by_position);
	for (size_t i = 0; i < m; i++)
		order[i] = v[i].gid;
	free(v);
	free(tb->order);
	tb->order = order;
	tb->n_order = m;
}

static struct pr_origin origin_in(const struct pr_origin *o, uint32_t generation)
{
	struct pr_origin r = o ? *o : (struct pr_origin){ PR_SRC_SA, 0, 0 };

	r.generation = generation;
	return r;
}

int pr_store_load(struct pr_store *s, uint16_t tuple, const struct ibv_path_record *recs,
		  size_t n, const struct pr_origin *o, unsigned flags, uint64_t now_ms,
		  struct pr_load_result *res)
{
	struct pr_origin org = origin_in(o, pr_cache_begin_generation(s->cache));
	struct table *tb = table_of(s, tuple);
	size_t swept = 0;
	int ret;

	ret = pr_cache_load(s->cache, tuple, recs, n, &org, now_ms);
	if (ret < 0)
		return ret;
	if (flags & PR_LOAD_FULL)
		swept = pr_cache_sweep(s->cache, tuple, org.source, org.generation);
	if (tb && (flags & PR_LOAD_FULL) && org.source == PR_SRC_SA) {
		if (flags & PR_LOAD_ORDER)
			remember_order(tb, recs, n);
		tb->loaded = true;
		if (tb->port)
			s->fill_generation = org.generation;
	}
	if (res)
		*res = (struct pr_load_result){ org.generation, swept };
	return 0;
}

int pr_store_push(struct pr_store *s, const struct ibv_path_record *recs, size_t n,
		  const struct pr_origin *o, bool full, uint64_t now_ms, size_t *loaded)
{
	struct pr_origin org = origin_in(o, pr_cache_begin_generation(s->cache));
	int ret = 0;

	/* One generation for every group, so that a tuple whose records come in two groups keeps
	 * both through the sweep. */
	*loaded = 0;
	for (size_t i = 0; i < n && ret >= 0;) {
		struct pr_request req = { .has = PR_REQ_SGID };
		uint16_t tuple;
		size_t j = i;

		while (j < n && !memcmp(&recs[j].sgid, &recs[i].sgid, sizeof(recs[i].sgid)))
			j++;
		memcpy(&req.sgid, &recs[i].sgid, sizeof(req.sgid));
		ret = pr_store_tuple(s, &req, true, &tuple);
		if (ret >= 0)
			ret = pr_cache_load(s->cache, tuple, recs + i, j - i, &org, now_ms);
		if (ret >= 0) {
			*loaded += j - i;
			if (full)
				pr_cache_sweep(s->cache, tuple, org.source, org.generation);
		}
		i = j;
	}
	return ret < 0 ? ret : 0;
}

int pr_store_replace(struct pr_store *s, uint16_t tuple, const union ibv_gid *dgid,
		     const struct ibv_path_record *recs, size_t n, const struct pr_origin *o,
		     uint64_t now_ms)
{
	struct pr_origin sa = { PR_SRC_SA, 0, s->fill_generation };

	/* An SA answer joins the last fill's generation: the next fill sweeps it if the table
	 * lacks it. Other origins say their own. */
	return pr_cache_replace(s->cache, tuple, dgid, recs, n, o ? o : &sa, now_ms);
}

int pr_store_add(struct pr_store *s, const struct ibv_path_record *rec,
		 const struct pr_origin *o, uint64_t now_ms)
{
	struct pr_request req = { .has = PR_REQ_SGID };
	union ibv_gid dgid;
	uint16_t tuple;
	int ret;

	memcpy(&req.sgid, &rec->sgid, sizeof(req.sgid));
	memcpy(&dgid, &rec->dgid, sizeof(dgid));
	ret = pr_store_tuple(s, &req, true, &tuple);
	if (ret < 0)
		return ret;
	return pr_store_replace(s, tuple, &dgid, rec, 1, o, now_ms);
}

size_t pr_store_remove_dgid(struct pr_store *s, const union ibv_gid *dgid)
{
	return pr_cache_remove_dgid(s->cache, dgid);
}

struct match_ctx {
	const struct ibv_path_record *q;
	uint64_t mask;
};

static bool matches(const struct pr_entry *e, void *arg)
{
	const struct match_ctx *m = arg;

	return pr_matches(&e->rec, m->q, m->mask);
}

size_t pr_store_remove_matching(struct pr_store *s, const struct ibv_path_record *q,
				uint64_t comp_mask)
{
	struct match_ctx m = { q, comp_mask };

	return pr_cache_remove_if(s->cache, matches, &m);
}

void pr_store_flush(struct pr_store *s)
{
	pr_cache_flush(s->cache);
	for (size_t i = 0; i < s->n_tables; i++)
		s->tables[i].loaded = s->tables[i].port;
}

int pr_store_put_negative(struct pr_store *s, uint16_t tuple, const struct pr_request *req,
			  uint64_t now_ms)
{
	uint8_t by = req->has & (PR_REQ_DGID | PR_REQ_DLID);
	uint64_t exp = now_ms + s->opts.negative_ttl_ms;
	int ret = 0;

	/* "No path" for a DGID and a DLID together is no fact about either alone. */
	if (!s->opts.negative_ttl_ms || (by != PR_REQ_DGID && by != PR_REQ_DLID))
		return 0;
	for (int tries = 0; tries < 2; tries++) {
		ret = by == PR_REQ_DGID ?
			pr_cache_put_negative_dgid(s->cache, tuple, &req->dgid, exp) :
			pr_cache_put_negative_dlid(s->cache, tuple, req->dlid, exp);
		if (ret != -ENOSPC)
			break;
		pr_cache_expire_negatives(s->cache, now_ms);
	}
	return ret;
}

void pr_store_clear_negatives(struct pr_store *s, const union ibv_gid *dgid, uint64_t now_ms)
{
	struct pr_cache_stats st;

	/* Tuple ids may have holes (reclaimed ones): walk the whole id range. A replace with no
	 * paths clears the negative (the paths are gone already, or go too: both are stale). */
	pr_cache_stats(s->cache, &st);
	for (uint64_t t = 0; t < st.tuples; t++)
		if (pr_cache_negative_dgid(s->cache, (uint16_t)t, dgid, now_ms))
			pr_cache_replace(s->cache, (uint16_t)t, dgid, NULL, 0, NULL, now_ms);
}

void pr_store_watch(struct pr_store *s, pr_cache_watch_fn fn, void *arg)
{
	pr_cache_watch(s->cache, fn, arg);
}

/* --- ports -------------------------------------------------------------- */

int pr_store_port_add(struct pr_store *s, const union ibv_gid *sgid, uint16_t *tuple)
{
	struct pr_request req = { .has = PR_REQ_SGID, .sgid = *sgid };
	struct table *tb;
	uint16_t id;
	int ret;

	if (!s->n_tables) {	/* made without an own SGID: this port's is */
		s->own_sgid = *sgid;
		ret = pr_store_tuple(s, &req, true, &s->default_tuple);
		if (ret < 0)
			return ret;
	}
	ret = pr_store_tuple(s, &req, true, &id);
	if (ret < 0)
		return ret;
	tb = table_of(s, id);
	if (!tb) {
		ret = pr_store_table_add(s, id);
		if (ret < 0)
			return ret;
		tb = &s->tables[s->n_tables - 1];
	}
	tb->loaded = tb->port = true;
	*tuple = id;
	return 0;
}

static bool tuple_of_sgid(const struct pr_store *s, uint16_t tuple, const union ibv_gid *sgid)
{
	const struct pr_tuple *t = pr_cache_tuple_get(s->cache, tuple);

	return t && !memcmp(&t->sgid, sgid, sizeof(*sgid));
}

struct sgid_ctx {
	const struct pr_store *s;
	const union ibv_gid *sgid;
};

static bool entry_of_sgid(const struct pr_entry *e, void *arg)
{
	const struct sgid_ctx *x = arg;

	return tuple_of_sgid(x->s, e->tuple, x->sgid);
}

size_t pr_store_port_remove(struct pr_store *s, const union ibv_gid *sgid)
{
	struct sgid_ctx x = { s, sgid };
	size_t n = pr_cache_remove_if(s->cache, entry_of_sgid, &x), k = 1;

	/* Its tables go (unpinned) but the store's own, which stays answered, empty. */
	for (size_t i = 1; i < s->n_tables; i++) {
		if (!tuple_of_sgid(s, s->tables[i].tuple, sgid)) {
			s->tables[k++] = s->tables[i];
			continue;
		}
		pr_cache_tuple_unpin(s->cache, s->tables[i].tuple);
		free(s->tables[i].order);
	}
	s->n_tables = s->n_tables ? k : 0;
	if (s->n_tables && tuple_of_sgid(s, s->tables[0].tuple, sgid)) {
		free(s->tables[0].order);
		s->tables[0].order = NULL;
		s->tables[0].n_order = 0;
	}
	return n;
}

/* --- staleness ----------------------------------------------------------- */

void pr_store_sa_answered(struct pr_store *s, uint64_t now_ms)
{
	s->last_sa_ms = now_ms;
}

uint64_t pr_store_last_sa_answer(const struct pr_store *s)
{
	return s->last_sa_ms;
}

bool pr_store_stale(const struct pr_store *s, uint64_t now_ms)
{
	return s->opts.max_stale_ms && now_ms - s->last_sa_ms > s->opts.max_stale_ms;
}

void pr_store_set_negative_ttl(struct pr_store *s, unsigned ms)
{
	s->opts.negative_ttl_ms = ms;
}

size_t pr_store_table_order(const struct pr_store *s, uint16_t tuple, const union ibv_gid **order)
{
	const struct table *tb = table_of(s, tuple);

	if (!tb || !tb->loaded)
		return 0;
	*order = tb->order;
	return tb->n_order;
}
