/*
 * snap_half.c - see snap_half.h.
 *
 * Build: the cache is collected destination by destination (one pass, pointers to its entries),
 * the destinations sorted by home slot (radix sort), and laid out in that order: with homes
 * ascending, linear probing puts each at max(home, previous + 1), which is exactly the Robin
 * Hood layout, so the DGID table, the record runs behind it and the DLID table are each
 * written front to back - sequential stores instead of one cache miss per insert. The few
 * destinations that run past the end wrap around through the ordinary insert.
 *
 * Patch: per changed key, the slot is found by its Robin Hood probe and rewritten in place,
 * inserted (displacing richer neighbours) or removed (shifting the poorer ones back); records
 * beyond the inline first path move to a new run (freed runs are reused by length); then the
 * DLID slots of the old and the new paths are recomputed from the cache's DLID index.
 * O(changes x probe length), independent of the table.
 */
#include "cache/snap_half.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cache/snap_format.h"

#define BUILD_LOAD_NUM 10	/* tables are built at load 7/10 ... */
#define BUILD_LOAD_DEN 7
#define PATCH_LOAD_PCT 85	/* ... and rebuilt when a patch would pass 85 % */
#define FREE_RUNS 32		/* freed record runs kept for reuse, by length 1..32 */
#define PATCH_MIN_KEYS 64	/* a patch of more keys than this and a quarter of the */
#define PATCH_SHARE 4		/* destinations costs about what a rebuild does: a patched key
				 * costs a few times a laid-out one (probes, neighbours, DLIDs) */
#define TUPLE_HEADROOM 16
#define SORT_SMALL 512		/* below: qsort, above: radix sort */
#define NONE UINT64_MAX

struct run_stack {
	uint32_t *v;
	uint32_t n, cap;
};

struct lid_key {
	uint16_t tuple, dlid;
};

struct snap_half {
	bool valid;			/* the words below describe the half */
	const struct pr_cache *cache;	/* what it shows ... */
	uint64_t journal;		/* ... up to this journal position */
	uint64_t tcap, dslots, lslots, rslots, off_dgid, off_dlid, off_rec, used;
	uint64_t ntuples, ngroups, nrecords, nlids, rec_end;
	uint64_t thash[PR_TUPLE_MAX];	/* of the tuple words in the half */
	uint32_t tgroups[PR_TUPLE_MAX];	/* destinations per tuple id */
	struct run_stack free[FREE_RUNS + 1];
	const struct pr_entry **scratch;
	size_t scratch_cap;
	struct lid_key *lids;		/* DLID slots to recompute */
	size_t nl, lcap;
	uint64_t last_keys;
};

struct plan_group {
	uint64_t hash;
	uint32_t first;		/* in plan.e */
	uint32_t count;
	uint16_t tuple;
	bool inl;
};

#define BUILD_AHEAD 16		/* destinations ahead whose entries a build prefetches */

/* A sort element: k carries the order, v rides along. */
struct kv {
	uint64_t k, v;
};

struct snap_plan {
	const struct pr_cache *c;
	uint64_t journal;
	uint64_t ntuples, tcap;
	uint64_t thash[PR_TUPLE_MAX];
	uint64_t tw[PR_TUPLE_MAX][SNAP_TUPLE_WORDS];
	struct plan_group *g;	/* in cache order; sorted by home slot once laid out */
	uint64_t ng, gcap;
	const struct pr_entry **e;
	uint64_t ne, ecap;
	struct kv *lids;	/* the paths' (tuple, DLID), k = key, v = group; then distinct:
				 * k = home << 32 | plan DLID key, v = the destination's hash,
				 * ascending */
	uint64_t nl;
	uint64_t dslots, lslots, rslots, ovf, stored;
	bool open;		/* a destination is being collected */
	int err;
};

static inline void put(_Atomic uint64_t *h, uint64_t i, uint64_t v)
{
	atomic_store_explicit(&h[i], v, memory_order_release);
}

static inline uint64_t own(const _Atomic uint64_t *h, uint64_t i)
{
	return atomic_load_explicit(&h[i], memory_order_relaxed);
}

static inline uint64_t next_slot(uint64_t i, uint64_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

static inline uint64_t dist(uint64_t i, uint64_t home, uint64_t n)
{
	return i >= home ? i - home : i + n - home;
}

static uint64_t slots_for(uint64_t keys)
{
	uint64_t n = keys * BUILD_LOAD_NUM / BUILD_LOAD_DEN + 1;

	return n < 8 ? 8 : n;
}

static uint64_t gid_hash(uint64_t thash, const union ibv_gid *dgid)
{
	uint64_t g0, g1;

	snap_gid_words(dgid, &g0, &g1);
	return snap_dgid_hash(thash, g0, g1);
}

/* Plan DLID keys: tuple << 16 | DLID (28 bits), and bit 30 for AMBIGUOUS. */
#define LID_AMBIGUOUS (1u << 30)

static uint64_t lid_slot_key(uint64_t k)
{
	return (k & 0x0fffffff) | (k & LID_AMBIGUOUS ? SNAP_AMBIGUOUS : 0) | SNAP_VALID;
}

/* The 8 words of a DGID slot for count paths, the first being first. */
static void slot_words(uint64_t w[SNAP_SLOT_WORDS], uint64_t hash, uint16_t tuple, uint64_t count,
		       bool inl, uint32_t idx, const struct ibv_path_record *first)
{
	uint64_t r[SNAP_RECORD_WORDS];

	memcpy(r, first, sizeof(r));
	w[SLOT_META] = SNAP_VALID | (inl ? SNAP_INLINE : 0) | (uint64_t)tuple << 48 |
		       count << 32 | idx;
	w[SLOT_HASH] = hash;
	w[SLOT_DGID0] = r[1];
	w[SLOT_DGID1] = r[2];
	w[SLOT_SVC] = inl ? r[0] : 0;
	w[SLOT_W5] = inl ? r[5] : 0;
	w[SLOT_W6] = inl ? r[6] : 0;
	w[SLOT_W7] = inl ? r[7] : 0;
}

static void put_slot(_Atomic uint64_t *h, uint64_t base, const uint64_t w[SNAP_SLOT_WORDS])
{
	for (int k = 0; k < SNAP_SLOT_WORDS; k++)
		put(h, base + (uint64_t)k, w[k]);
}

static void put_record(_Atomic uint64_t *h, uint64_t at, const struct ibv_path_record *rec)
{
	uint64_t w[SNAP_RECORD_WORDS];

	memcpy(w, rec, sizeof(w));
	for (int k = 0; k < SNAP_RECORD_WORDS; k++)
		put(h, at + (uint64_t)k, w[k]);
}

/* Does the record's SGID equal the tuple's (so the slot need not store it)? */
static bool sgid_is(const struct ibv_path_record *r, const uint64_t tw[SNAP_TUPLE_WORDS])
{
	uint64_t w[SNAP_RECORD_WORDS];

	memcpy(w, r, sizeof(w));
	return w[3] == tw[0] && w[4] == tw[1];
}

/* --- life cycle --- */

int snap_half_new(struct snap_half **out)
{
	struct snap_half *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return -ENOMEM;
	*out = hs;
	return 0;
}

void snap_half_free(struct snap_half *hs)
{
	if (!hs)
		return;
	for (int i = 0; i <= FREE_RUNS; i++)
		free(hs->free[i].v);
	free(hs->scratch);
	free(hs->lids);
	free(hs);
}

void snap_half_stats(const struct snap_half *hs, struct snap_half_stats *out)
{
	*out = (struct snap_half_stats){
		.groups = hs->valid ? hs->ngroups : 0,
		.records = hs->valid ? hs->nrecords : 0,
		.used_bytes = hs->valid ? hs->used * 8 : 0,
		.last_keys = hs->last_keys,
	};
}

static void header_words(struct snap_half *hs, _Atomic uint64_t *h)
{
	put(h, SH_NTUPLES, hs->ntuples);
	put(h, SH_DGID_SLOTS, hs->dslots);
	put(h, SH_OFF_DGID, hs->off_dgid);
	put(h, SH_DLID_SLOTS, hs->lslots);
	put(h, SH_OFF_DLID, hs->off_dlid);
	put(h, SH_RECORD_SLOTS, hs->rslots);
	put(h, SH_OFF_RECORDS, hs->off_rec);
	put(h, SH_NGROUPS, hs->ngroups);
	put(h, SH_NRECORDS, hs->nrecords);
	put(h, SH_USED, hs->used);
}

void snap_half_empty(struct snap_half *hs, _Atomic uint64_t *h)
{
	hs->valid = false;
	hs->ntuples = hs->dslots = hs->lslots = hs->rslots = hs->ngroups = hs->nrecords = 0;
	hs->off_dgid = hs->off_dlid = hs->off_rec = hs->used = 0;
	header_words(hs, h);
}

/* --- sorting by home slot --- */

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;

	return (x->k > y->k) - (x->k < y->k);
}

/* Sorts a[0..n) by k (stable in the radix case, which is what build order relies on only for
 * determinism). tmp: room for n. */
static void sort_kv(struct kv *a, struct kv *tmp, uint64_t n)
{
	enum { BITS = 11, BUCKETS = 1 << BITS };
	uint64_t max = 0;

	if (n < SORT_SMALL) {
		qsort(a, n, sizeof(*a), cmp_kv);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		max |= a[i].k;
	for (unsigned shift = 0; shift < 64 && (max >> shift); shift += BITS) {
		uint64_t count[BUCKETS] = { 0 }, sum = 0;

		for (uint64_t i = 0; i < n; i++)
			count[(a[i].k >> shift) & (BUCKETS - 1)]++;
		for (unsigned b = 0; b < BUCKETS; b++) {
			uint64_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (uint64_t i = 0; i < n; i++)
			tmp[count[(a[i].k >> shift) & (BUCKETS - 1)]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
}

/* --- the plan --- */

/* One path of the cache's walk: everything the plan needs of an entry is taken now, while it
 * is in the cache; a build reads entries again only to copy them. */
static bool plan_entry(const struct pr_entry *e, void *arg)
{
	struct snap_plan *p = arg;
	struct plan_group *g = p->ng ? &p->g[p->ng - 1] : NULL;

	if (!g || e->tuple != g->tuple ||
	    memcmp(e->rec.dgid.raw, p->e[g->first]->rec.dgid.raw, 16)) {
		if (p->ng == p->gcap || e->tuple >= p->ntuples) {
			p->err = -EOVERFLOW;
			return false;
		}
		g = &p->g[p->ng++];
		*g = (struct plan_group){
			.hash = gid_hash(p->thash[e->tuple], &e->rec.dgid),
			.first = (uint32_t)p->ne, .tuple = e->tuple,
			.inl = sgid_is(&e->rec, p->tw[e->tuple]),
		};
	}
	if (p->ne == p->ecap) {
		p->err = -EOVERFLOW;
		return false;
	}
	p->lids[p->ne] = (struct kv){ (uint64_t)e->tuple << 16 | be16toh(e->rec.dlid),
				      p->ng - 1 };
	p->e[p->ne++] = e;
	g->count++;
	return true;
}

/* The distinct (tuple, DLID) of the plan's paths, each with the one destination holding its
 * paths or AMBIGUOUS (k), and that destination's group (v). tmp: room for ne. */
static void plan_lids(struct snap_plan *p, struct kv *tmp)
{
	struct kv *all = p->lids;
	uint64_t n = p->ne;

	sort_kv(all, tmp, n);
	p->nl = 0;
	for (uint64_t i = 0, j; i < n; i = j) {
		bool ambiguous = false;

		for (j = i + 1; j < n && all[j].k == all[i].k; j++)
			ambiguous |= all[j].v != all[i].v;
		ambiguous |= j - i > SNAP_DLID_PATHS_MAX;
		all[p->nl].k = all[i].k | (ambiguous ? LID_AMBIGUOUS : 0);
		all[p->nl++].v = all[i].v;
	}
}

/* Orders the groups by home slot (their DLIDs' values first become the groups' hashes). */
static int plan_order(struct snap_plan *p, struct kv *tmp)
{
	struct kv *order = malloc((p->ng ? p->ng : 1) * sizeof(*order));
	struct plan_group *sorted = malloc((p->ng ? p->ng : 1) * sizeof(*sorted));

	if (!order || !sorted) {
		free(order);
		free(sorted);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < p->nl; i++) {
		uint64_t key = p->lids[i].k & 0xffffffffu;
		uint64_t hash = snap_dlid_hash(p->thash[(key >> 16) & SNAP_TUPLE_ID_MASK],
					       (uint16_t)key);

		if (i + BUILD_AHEAD < p->nl)
			__builtin_prefetch(&p->g[p->lids[i + BUILD_AHEAD].v]);
		p->lids[i].k = snap_home(hash, p->lslots) << 32 | key;
		p->lids[i].v = p->g[p->lids[i].v].hash;
	}
	sort_kv(p->lids, tmp, p->nl);
	for (uint64_t i = 0; i < p->ng; i++)
		order[i] = (struct kv){ snap_home(p->g[i].hash, p->dslots) << 32 | i, i };
	sort_kv(order, tmp, p->ng);
	for (uint64_t i = 0; i < p->ng; i++) {
		if (i + BUILD_AHEAD < p->ng)
			__builtin_prefetch(&p->g[order[i + BUILD_AHEAD].v]);
		sorted[i] = p->g[order[i].v];
	}
	free(order);
	free(p->g);
	p->g = sorted;
	return 0;
}

int snap_plan_make(const struct pr_cache *c, struct snap_plan **out)
{
	struct pr_cache_stats st;
	struct snap_plan *p;
	struct kv *tmp = NULL;
	int r = -ENOMEM;

	pr_cache_stats(c, &st);
	if (st.entries > UINT32_MAX / SNAP_RECORD_WORDS || st.destinations > st.entries ||
	    st.tuples > PR_TUPLE_MAX)
		return -EOVERFLOW;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->journal = pr_cache_journal_end(c);
	p->ntuples = st.tuples;
	p->tcap = st.tuples + st.tuples / 2 + TUPLE_HEADROOM;
	if (p->tcap > PR_TUPLE_MAX)
		p->tcap = PR_TUPLE_MAX;
	p->gcap = st.destinations;
	p->ecap = st.entries;
	p->g = malloc((p->gcap ? p->gcap : 1) * sizeof(*p->g));
	p->e = malloc((p->ecap ? p->ecap : 1) * sizeof(*p->e));
	p->lids = malloc((p->ecap ? p->ecap : 1) * sizeof(*p->lids));
	tmp = malloc((p->ecap ? p->ecap : 1) * sizeof(*tmp));
	if (!p->g || !p->e || !p->lids || !tmp)
		goto out_free;
	for (uint64_t t = 0; t < p->ntuples; t++) {
		const struct pr_tuple *tp = pr_cache_tuple_get(c, (uint16_t)t);

		if (tp)
			snap_tuple_words(tp, p->tw[t]);
		p->thash[t] = snap_tuple_hash(p->tw[t]);
	}
	pr_cache_foreach(c, plan_entry, p);
	r = p->err;
	if (!r && (p->ne != st.entries || p->ng != st.destinations))
		r = -EOVERFLOW;	/* the counts lied: never publish a short snapshot */
	if (r)
		goto out_free;
	for (uint64_t i = 0; i < p->ng; i++) {
		struct plan_group *g = &p->g[i];

		g->inl &= g->count <= SNAP_GROUP_MAX;
		if (g->count <= SNAP_GROUP_MAX) {
			p->ovf += g->count - g->inl;
			p->stored += g->count;
		}
	}
	plan_lids(p, tmp);
	p->dslots = slots_for(p->ng);
	p->lslots = slots_for(p->nl);
	p->rslots = p->ovf + p->ovf / 8 + 8;
	r = plan_order(p, tmp);
	if (r)
		goto out_free;
	free(tmp);
	*out = p;
	return 0;

out_free:
	free(tmp);
	snap_plan_free(p);
	return r;
}

static uint64_t round8(uint64_t w)
{
	return (w + SNAP_SLOT_WORDS - 1) / SNAP_SLOT_WORDS * SNAP_SLOT_WORDS;
}

/* The layout of a half: regions in the format's order, slots on cache lines. */
static void layout(struct snap_half *hs, uint64_t tcap, uint64_t dslots, uint64_t lslots,
		   uint64_t rslots)
{
	hs->tcap = tcap;
	hs->dslots = dslots;
	hs->lslots = lslots;
	hs->rslots = rslots;
	hs->off_dgid = round8(SH_OFF_TUPLES + SNAP_TUPLE_WORDS * tcap);
	hs->off_dlid = hs->off_dgid + SNAP_SLOT_WORDS * dslots;
	hs->off_rec = hs->off_dlid + SNAP_DLID_WORDS * lslots;
	hs->used = hs->off_rec + SNAP_RECORD_WORDS * rslots;
}

uint64_t snap_plan_bytes(const struct snap_plan *p)
{
	struct snap_half hs;

	layout(&hs, p->tcap, p->dslots, p->lslots, p->rslots);
	return hs.used * 8;
}

void snap_plan_free(struct snap_plan *p)
{
	if (!p)
		return;
	free(p->g);
	free(p->e);
	free(p->lids);
	free(p);
}

/* --- slots: the Robin Hood DGID table and the linear-probing DLID table --- */

static uint64_t dslot(const struct snap_half *hs, uint64_t i)
{
	return hs->off_dgid + i * SNAP_SLOT_WORDS;
}

static uint64_t lslot(const struct snap_half *hs, uint64_t i)
{
	return hs->off_dlid + i * SNAP_DLID_WORDS;
}

/* Robin Hood insert of a slot whose key is absent: it takes the place of the first slot that
 * is nearer its home than it is, which moves on in its turn. */
static void dgid_insert(struct snap_half *hs, _Atomic uint64_t *h,
			const uint64_t w[SNAP_SLOT_WORDS])
{
	uint64_t cur[SNAP_SLOT_WORDS], n = hs->dslots, i, d = 0;

	memcpy(cur, w, sizeof(cur));
	i = snap_home(cur[SLOT_HASH], n);
	for (;;) {	/* ends: the table is never full (load <= PATCH_LOAD_PCT) */
		uint64_t base = dslot(hs, i), m = own(h, base + SLOT_META);

		if (!(m & SNAP_VALID)) {
			put_slot(h, base, cur);
			return;
		}
		uint64_t theirs = dist(i, snap_home(own(h, base + SLOT_HASH), n), n);

		if (theirs < d) {
			uint64_t t[SNAP_SLOT_WORDS];

			for (int k = 0; k < SNAP_SLOT_WORDS; k++)
				t[k] = own(h, base + (uint64_t)k);
			put_slot(h, base, cur);
			memcpy(cur, t, sizeof(cur));
			d = theirs;
		}
		i = next_slot(i, n);
		d++;
	}
}

/* The slot of (tuple, dgid) with hash, or NONE. */
static uint64_t dgid_locate(const struct snap_half *hs, const _Atomic uint64_t *h,
			    uint16_t tuple, uint64_t hash, const union ibv_gid *dgid)
{
	uint64_t n = hs->dslots, i, g0, g1;

	snap_gid_words(dgid, &g0, &g1);
	i = snap_home(hash, n);
	for (uint64_t d = 0; d < n; d++, i = next_slot(i, n)) {
		uint64_t base = dslot(hs, i), m = own(h, base + SLOT_META), sh;

		if (!(m & SNAP_VALID))
			return NONE;
		sh = own(h, base + SLOT_HASH);
		if (sh == hash && snap_meta_tuple(m) == tuple && own(h, base + SLOT_DGID0) == g0 &&
		    own(h, base + SLOT_DGID1) == g1)
			return i;
		if (dist(i, snap_home(sh, n), n) < d)
			return NONE;
	}
	return NONE;
}

/* Backward-shift deletion: the slots after i move back one until one is empty or at home. */
static void dgid_delete(struct snap_half *hs, _Atomic uint64_t *h, uint64_t i)
{
	uint64_t n = hs->dslots;

	for (;;) {
		uint64_t j = next_slot(i, n), bj = dslot(hs, j), m = own(h, bj + SLOT_META);

		if (!(m & SNAP_VALID) || snap_home(own(h, bj + SLOT_HASH), n) == j)
			break;
		for (int k = 0; k < SNAP_SLOT_WORDS; k++)
			put(h, dslot(hs, i) + (uint64_t)k, own(h, bj + (uint64_t)k));
		i = j;
	}
	for (int k = 0; k < SNAP_SLOT_WORDS; k++)
		put(h, dslot(hs, i) + (uint64_t)k, 0);
}

static uint64_t dlid_home(const struct snap_half *hs, uint64_t key)
{
	uint16_t t = (uint16_t)((key >> 16) & SNAP_TUPLE_ID_MASK);

	return snap_home(snap_dlid_hash(hs->thash[t], (uint16_t)key), hs->lslots);
}

static uint64_t dlid_locate(const struct snap_half *hs, const _Atomic uint64_t *h, uint64_t key)
{
	uint64_t n = hs->lslots, i = dlid_home(hs, key);

	for (uint64_t probes = 0; probes < n; probes++, i = next_slot(i, n)) {
		uint64_t k = own(h, lslot(hs, i));

		if (!(k & SNAP_VALID))
			return NONE;
		if ((k & ~SNAP_AMBIGUOUS) == key)
			return i;
	}
	return NONE;
}

static void dlid_insert(struct snap_half *hs, _Atomic uint64_t *h, uint64_t key, uint64_t val)
{
	uint64_t n = hs->lslots, i = dlid_home(hs, key & ~SNAP_AMBIGUOUS);

	while (own(h, lslot(hs, i)) & SNAP_VALID)	/* ends: load <= PATCH_LOAD_PCT */
		i = next_slot(i, n);
	put(h, lslot(hs, i) + 1, val);
	put(h, lslot(hs, i), key);
}

/* Knuth's algorithm R: slots after i whose home is not cyclically in (i, j] move back into i. */
static void dlid_delete(struct snap_half *hs, _Atomic uint64_t *h, uint64_t i)
{
	uint64_t n = hs->lslots, j = i;

	for (;;) {
		uint64_t k, home;

		j = next_slot(j, n);
		k = own(h, lslot(hs, j));
		if (!(k & SNAP_VALID))
			break;
		home = dlid_home(hs, k & ~SNAP_AMBIGUOUS);
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		put(h, lslot(hs, i) + 1, own(h, lslot(hs, j) + 1));
		put(h, lslot(hs, i), k);
		i = j;
	}
	put(h, lslot(hs, i), 0);
	put(h, lslot(hs, i) + 1, 0);
}

/* --- build --- */

static void build_tuples(struct snap_half *hs, _Atomic uint64_t *h, const struct snap_plan *p)
{
	for (uint64_t t = 0; t < hs->tcap; t++) {
		static const uint64_t zero[SNAP_TUPLE_WORDS];
		const uint64_t *tw = t < p->ntuples ? p->tw[t] : zero;

		for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
			put(h, SH_OFF_TUPLES + t * SNAP_TUPLE_WORDS + (uint64_t)i, tw[i]);
		hs->thash[t] = t < p->ntuples ? p->thash[t] : 0;
		hs->tgroups[t] = 0;
	}
	for (uint64_t w = SH_OFF_TUPLES + SNAP_TUPLE_WORDS * hs->tcap; w < hs->off_dgid; w++)
		put(h, w, 0);
}

/* The slot words of plan group g, its records written to a fresh run at the end. */
static void build_group(struct snap_half *hs, _Atomic uint64_t *h, const struct snap_plan *p,
			const struct plan_group *g, uint64_t w[SNAP_SLOT_WORDS])
{
	bool stored = g->count <= SNAP_GROUP_MAX;
	uint64_t count = stored ? g->count : SNAP_GROUP_MAX + 1;
	uint32_t idx = (uint32_t)hs->rec_end;

	slot_words(w, g->hash, g->tuple, count, g->inl, idx, &p->e[g->first]->rec);
	if (stored) {
		for (uint32_t k = g->inl; k < g->count; k++)
			put_record(h, hs->off_rec + hs->rec_end++ * SNAP_RECORD_WORDS,
				   &p->e[g->first + k]->rec);
		hs->nrecords += g->count;
	}
	hs->tgroups[g->tuple]++;
	hs->ngroups++;
}

static void zero_slots(struct snap_half *hs, _Atomic uint64_t *h, uint64_t from, uint64_t to)
{
	for (uint64_t w = dslot(hs, from); w < dslot(hs, to); w++)
		put(h, w, 0);
}

void snap_half_build(struct snap_half *hs, _Atomic uint64_t *h, const struct snap_plan *p)
{
	uint64_t pos = 0, tail = p->ng;

	for (int i = 0; i <= FREE_RUNS; i++)
		hs->free[i].n = 0;
	layout(hs, p->tcap, p->dslots, p->lslots, p->rslots);
	hs->ntuples = p->ntuples;
	hs->ngroups = hs->nrecords = hs->nlids = hs->rec_end = 0;
	build_tuples(hs, h, p);

	/*
	 * DGID slots front to back: homes ascend, each at max(home, previous + 1). The entries
	 * to copy lie anywhere in the cache: their pointers are fetched two steps ahead of them.
	 */
	for (uint64_t k = 0; k < p->ng; k++) {
		uint64_t home = snap_home(p->g[k].hash, hs->dslots), at = home > pos ? home : pos;
		uint64_t w[SNAP_SLOT_WORDS];

		if (k + 2 * BUILD_AHEAD < p->ng)
			__builtin_prefetch(&p->e[p->g[k + 2 * BUILD_AHEAD].first]);
		if (k + BUILD_AHEAD < p->ng) {
			const char *e = (const char *)p->e[p->g[k + BUILD_AHEAD].first];

			__builtin_prefetch(e);
			__builtin_prefetch(e + 63);	/* the record may straddle two lines */
		}
		if (at >= hs->dslots) {	/* these wrap to the front: inserted below */
			tail = k;
			break;
		}
		zero_slots(hs, h, pos, at);
		build_group(hs, h, p, &p->g[k], w);
		put_slot(h, dslot(hs, at), w);
		pos = at + 1;
	}
	zero_slots(hs, h, pos, hs->dslots);
	for (uint64_t k = tail; k < p->ng; k++) {
		uint64_t w[SNAP_SLOT_WORDS];

		build_group(hs, h, p, &p->g[k], w);
		dgid_insert(hs, h, w);
	}
	for (uint64_t r = hs->rec_end; r < hs->rslots; r++)
		for (int k = 0; k < SNAP_RECORD_WORDS; k++)
			put(h, hs->off_rec + r * SNAP_RECORD_WORDS + (uint64_t)k, 0);

	/* DLID slots, the same way */
	pos = 0;
	tail = p->nl;
	for (uint64_t k = 0; k < p->nl; k++) {
		uint64_t home = p->lids[k].k >> 32, at = home > pos ? home : pos;

		if (at >= hs->lslots) {
			tail = k;
			break;
		}
		for (uint64_t w = lslot(hs, pos); w < lslot(hs, at); w++)
			put(h, w, 0);
		put(h, lslot(hs, at), lid_slot_key(p->lids[k].k));
		put(h, lslot(hs, at) + 1, p->lids[k].v);
		pos = at + 1;
	}
	for (uint64_t w = lslot(hs, pos); w < lslot(hs, hs->lslots); w++)
		put(h, w, 0);
	for (uint64_t k = tail; k < p->nl; k++)
		dlid_insert(hs, h, lid_slot_key(p->lids[k].k), p->lids[k].v);
	hs->nlids = p->nl;
	hs->cache = p->c;
	hs->journal = p->journal;
	hs->valid = true;
	hs->last_keys = 0;
	header_words(hs, h);
}

/* --- patch --- */

static void run_free(struct snap_half *hs, uint32_t idx, uint64_t len)
{
	struct run_stack *s;

	if (!len || len > FREE_RUNS)
		return;	/* longer runs are left until the next rebuild */
	s = &hs->free[len];
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? 2 * s->cap : 16;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = idx;
}

static int run_alloc(struct snap_half *hs, uint64_t len, uint32_t *idx)
{
	if (!len) {
		*idx = 0;
		return 0;
	}
	if (len <= FREE_RUNS && hs->free[len].n) {
		*idx = hs->free[len].v[--hs->free[len].n];
		return 0;
	}
	if (len > hs->rslots - hs->rec_end)
		return -ENOSPC;
	*idx = (uint32_t)hs->rec_end;
	hs->rec_end += len;
	return 0;
}

static int lid_push(struct snap_half *hs, uint16_t tuple, uint16_t dlid)
{
	if (hs->nl == hs->lcap) {
		size_t cap = hs->lcap ? 2 * hs->lcap : 64;
		struct lid_key *v = realloc(hs->lids, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		hs->lids = v;
		hs->lcap = cap;
	}
	hs->lids[hs->nl++] = (struct lid_key){ tuple, dlid };
	return 0;
}

/* The cache's paths of (tuple, dgid) into hs->scratch; returns how many. */
static int paths_of(struct snap_half *hs, const struct pr_cache *c, uint16_t tuple,
		    const union ibv_gid *dgid, size_t *n)
{
	size_t total = pr_cache_lookup_dgid(c, tuple, dgid, hs->scratch, hs->scratch_cap);

	if (total > hs->scratch_cap) {
		const struct pr_entry **s = realloc(hs->scratch, total * sizeof(*s));

		if (!s)
			return -ENOMEM;
		hs->scratch = s;
		hs->scratch_cap = total;
		total = pr_cache_lookup_dgid(c, tuple, dgid, hs->scratch, total);
	}
	*n = total;
	return 0;
}

/* Tuple ids the cache has added since, and ids whose tuple changed while unused. */
static int patch_tuples(struct snap_half *hs, _Atomic uint64_t *h, const struct pr_cache *c)
{
	struct pr_cache_stats st;

	pr_cache_stats(c, &st);
	if (st.tuples > hs->tcap)
		return -ENOSPC;
	for (uint64_t t = 0; t < st.tuples; t++) {
		const struct pr_tuple *tp = pr_cache_tuple_get(c, (uint16_t)t);
		uint64_t tw[SNAP_TUPLE_WORDS] = { 0 }, base = SH_OFF_TUPLES + t * SNAP_TUPLE_WORDS;
		bool same = true;

		if (tp)
			snap_tuple_words(tp, tw);
		for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
			same &= own(h, base + (uint64_t)i) == tw[i];
		if (same)
			continue;
		if (hs->tgroups[t])
			return -ESTALE;
		for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
			put(h, base + (uint64_t)i, tw[i]);
		hs->thash[t] = snap_tuple_hash(tw);
	}
	if (st.tuples > hs->ntuples)
		hs->ntuples = st.tuples;
	return 0;
}

/* The DLIDs of the paths in the slot at base (the destination's old paths). */
static int old_lids(struct snap_half *hs, const _Atomic uint64_t *h, uint64_t base)
{
	uint64_t m = own(h, base + SLOT_META), count = snap_meta_count(m);
	uint64_t inl = !!(m & SNAP_INLINE), idx = snap_meta_index(m);
	uint16_t tuple = snap_meta_tuple(m);
	int r = 0;

	if (count > SNAP_GROUP_MAX)
		return 0;	/* its paths were not stored: the cache's DLID index knows them */
	for (uint64_t k = 0; k < count && !r; k++) {
		uint64_t w5 = k < inl ? own(h, base + SLOT_W5) :
			      own(h, hs->off_rec + (idx + k - inl) * SNAP_RECORD_WORDS + 5);

		r = lid_push(hs, tuple, snap_record_dlid(w5));
	}
	return r;
}

/* One changed destination: its slot becomes the cache's paths now. */
static int patch_key(struct snap_half *hs, _Atomic uint64_t *h, const struct pr_cache *c,
		     const struct pr_change *key)
{
	uint64_t hash = gid_hash(hs->thash[key->tuple], &key->dgid);
	uint64_t i = dgid_locate(hs, h, key->tuple, hash, &key->dgid), base = 0, w[SNAP_SLOT_WORDS];
	uint64_t tw[SNAP_TUPLE_WORDS], count, stored;
	size_t n;
	uint32_t idx;
	bool inl;
	int r;

	if (i != NONE) {	/* the old paths go: their run, their DLIDs, their counts */
		uint64_t m;

		base = dslot(hs, i);
		m = own(h, base + SLOT_META);
		r = old_lids(hs, h, base);
		if (r)
			return r;
		if (snap_meta_count(m) <= SNAP_GROUP_MAX) {
			run_free(hs, snap_meta_index(m), snap_meta_count(m) - !!(m & SNAP_INLINE));
			hs->nrecords -= snap_meta_count(m);
		}
		hs->ngroups--;
		hs->tgroups[key->tuple]--;
	}
	r = paths_of(hs, c, key->tuple, &key->dgid, &n);
	if (r)
		return r;
	if (!n) {
		if (i != NONE)
			dgid_delete(hs, h, i);
		return 0;
	}
	if (i == NONE && (hs->ngroups + 1) * 100 > hs->dslots * PATCH_LOAD_PCT)
		return -ENOSPC;
	for (int k = 0; k < SNAP_TUPLE_WORDS; k++)
		tw[k] = own(h, SH_OFF_TUPLES + key->tuple * SNAP_TUPLE_WORDS + (uint64_t)k);
	stored = n <= SNAP_GROUP_MAX ? n : 0;
	count = stored ? n : SNAP_GROUP_MAX + 1;
	inl = stored && sgid_is(&hs->scratch[0]->rec, tw);
	r = run_alloc(hs, stored - inl, &idx);
	if (r)
		return r;
	for (uint64_t k = inl; k < stored; k++)
		put_record(h, hs->off_rec + (idx + k - inl) * SNAP_RECORD_WORDS, &hs->scratch[k]->rec);
	slot_words(w, hash, key->tuple, count, inl, idx, &hs->scratch[0]->rec);
	if (i != NONE)
		put_slot(h, base, w);
	else
		dgid_insert(hs, h, w);
	hs->ngroups++;
	hs->nrecords += stored;
	hs->tgroups[key->tuple]++;
	for (size_t k = 0; k < n && !r; k++)
		r = lid_push(hs, key->tuple, be16toh(hs->scratch[k]->rec.dlid));
	return r;
}

/* A (tuple, DLID) slot becomes what the cache's DLID index says now. */
static int patch_lid(struct snap_half *hs, _Atomic uint64_t *h, const struct pr_cache *c,
		     struct lid_key lk)
{
	const struct pr_entry *e[SNAP_DLID_PATHS_MAX + 1];
	size_t n = pr_cache_lookup_dlid(c, lk.tuple, lk.dlid, e, SNAP_DLID_PATHS_MAX + 1);
	uint64_t key = lk.dlid | (uint64_t)lk.tuple << 16 | SNAP_VALID;
	uint64_t i = dlid_locate(hs, h, key), val = 0;
	bool ambiguous = n > SNAP_DLID_PATHS_MAX;

	if (!n) {
		if (i != NONE) {
			dlid_delete(hs, h, i);
			hs->nlids--;
		}
		return 0;
	}
	for (size_t k = 1; k < n && !ambiguous; k++)
		ambiguous = memcmp(e[k]->rec.dgid.raw, e[0]->rec.dgid.raw, 16) != 0;
	if (!ambiguous)
		val = gid_hash(hs->thash[lk.tuple], &e[0]->rec.dgid);
	if (ambiguous)
		key |= SNAP_AMBIGUOUS;
	if (i != NONE) {
		put(h, lslot(hs, i) + 1, val);
		put(h, lslot(hs, i), key);
		return 0;
	}
	if ((hs->nlids + 1) * 100 > hs->lslots * PATCH_LOAD_PCT)
		return -ENOSPC;
	dlid_insert(hs, h, key, val);
	hs->nlids++;
	return 0;
}

int snap_half_patch(struct snap_half *hs, _Atomic uint64_t *h, const struct pr_cache *c)
{
	const struct pr_change *keys;
	size_t n;
	int r;

	if (!hs->valid || hs->cache != c || pr_cache_journal(c, hs->journal, &keys, &n) ||
	    n > PATCH_MIN_KEYS + hs->ngroups / PATCH_SHARE)
		return -ERANGE;
	hs->valid = false;	/* until it is done */
	r = patch_tuples(hs, h, c);
	hs->nl = 0;
	for (size_t k = 0; k < n && !r; k++) {
		if (keys[k].tuple >= hs->ntuples)
			r = -ESTALE;
		else
			r = patch_key(hs, h, c, &keys[k]);
	}
	for (size_t k = 0; k < hs->nl && !r; k++)
		r = patch_lid(hs, h, c, hs->lids[k]);
	if (r)
		return r;
	hs->journal = pr_cache_journal_end(c);
	hs->last_keys = n;
	hs->valid = true;
	header_words(hs, h);
	return 0;
}
