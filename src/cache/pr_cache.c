/*
 * pr_cache.c - the PathRecord store behind every door of localsa.
 *
 * Entries live in one growable array addressed by uint32 index, with a free list; two chained
 * hash indexes, (tuple, DGID) and (tuple, DLID), link them through uint32 "next" fields inside
 * the entry, so there is no per-entry malloc and no pointer in an entry (96 bytes each, plus
 * 4-8 bytes of bucket per index). Chains are kept newest first: insertion is O(1) at the head
 * even when thousands of paths share a key, and readers reverse to get the SA's order.
 * Unlinking, rehashing and filtering all preserve the relative order of a chain. A third link,
 * doubly linked, strings each tuple's paths together, so that a sweep after a refresh of one
 * tuple's table costs that table's size, not the whole cache's.
 *
 * Every path inserted or freed also appends its (tuple, DGID) to the change journal, a window
 * of recent keys that lets the snapshot publisher apply changes instead of copying everything.
 * A refresh that brings a destination's paths again with the same DLIDs overwrites them where
 * they stand (no index work) and journals only records that differ: a periodic refresh of an
 * unchanged fabric costs one chain walk per destination and republishes nothing.
 */
#include "cache/hash.h"
#include "cache/pr_cache.h"
#include "wire/path_rec.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct ibv_path_record) == 64, "PathRecord is 64 bytes on the wire");
_Static_assert(sizeof(struct pr_entry) == 96, "pr_entry layout changed: recheck the byte budget");
_Static_assert(PR_TUPLE_MAX <= 4096, "tuple ids share a uint16 with the negative-entry kind");

#define NIL UINT32_MAX
#define TUPLE_NIL UINT16_MAX
#define TUPLE_CHUNK 256		/* tuples are allocated in chunks so their addresses never move */
#define TUPLE_BUCKETS 1024
#define TUPLE_EVICT_BATCH 64	/* tuples evicted with their SA answers per O(entries) scan */
#define MIN_BUCKETS 16
#define MIN_SLOTS 64
#define FOREACH_BATCH 64
#define PREFETCH_AHEAD 16	/* records ahead: bulk loads are latency bound */
#define JOURNAL_MIN 1024	/* keys the change journal holds at least ... */
#define JOURNAL_SHARE 8		/* ... or 1/8 of the paths */

/* With LIVE, during one pr_cache_load(): DOOMED marked for removal, KEPT to be overwritten. */
enum slot_state { SLOT_FREE = 0, SLOT_LIVE = 1, SLOT_DOOMED = 2, SLOT_KEPT = 4 };
enum neg_kind { NEG_FREE = 0, NEG_DGID = 1, NEG_DLID = 2 };
enum table_id { TABLE_DGID, TABLE_DLID, TABLE_NEG };

/* A "no path" answer. For NEG_DLID the key holds the DLID (host order) in raw[0..1], rest 0. */
struct pr_negative {
	union ibv_gid key;
	uint64_t expires_ms;
	uint32_t next;
	uint16_t tuple;
	uint8_t kind;
};

/* A tuple and what references it. Chunks of these never move (pr_cache_tuple_get() pointers). */
struct tuple_slot {
	struct pr_tuple t;
	uint64_t used;		/* c->tuple_clock at its last pr_cache_tuple() */
	uint32_t entries;	/* paths filed under it */
	uint32_t held;		/* ... of which pushed or added (not SA answers): never evicted */
	uint32_t negatives;
	uint32_t head;		/* its newest path (list through priv_tuple_next), NIL: none */
	uint16_t pins;
	bool live;
	bool evict;		/* chosen by tuple_evict(), for the length of one call */
};

/* Buckets of uint32 chain heads; the links live in the elements. Power-of-two sized. */
struct chain_table {
	uint32_t *head;
	uint32_t nbuckets;	/* 0 until first use */
	uint32_t mask;
	enum table_id id;
};

struct pr_cache {
	struct pr_cache_limits lim;
	uint32_t generation;

	struct pr_entry *ent;
	uint32_t ent_cap;	/* slots allocated */
	uint32_t ent_used;	/* slots ever handed out: ent[0..ent_used) are live or free-listed */
	uint32_t ent_free;	/* free list through priv_next_dgid */
	uint32_t nentries;
	uint32_t ndest;		/* distinct live (tuple, DGID) keys */
	struct chain_table by_dgid, by_dlid;

	struct pr_negative *neg;
	uint32_t neg_cap, neg_used, neg_free, nneg;
	struct chain_table neg_index;

	uint64_t changes;
	struct pr_change *journal;	/* positions [jbase, jbase + jlen) */
	uint64_t jbase;
	uint64_t jstamp;		/* `changes` when the last key was appended */
	uint32_t jlen, jcap;
	uint32_t jcall;			/* keys the current call appended */
	pr_cache_watch_fn watch_fn;
	void *watch_arg;

	uint16_t tuple_end;	/* ids ever handed out: 0 .. tuple_end-1, live or free-listed */
	uint16_t tuples_live;
	uint16_t tuple_free;	/* free ids, through tnext */
	uint64_t tuple_clock;
	uint64_t tuples_reclaimed;
	uint16_t thead[TUPLE_BUCKETS];
	uint16_t tnext[PR_TUPLE_MAX];
	struct tuple_slot *tchunk[PR_TUPLE_MAX / TUPLE_CHUNK];
};

static inline struct tuple_slot *tslot(const struct pr_cache *c, uint16_t id)
{
	return &c->tchunk[id / TUPLE_CHUNK][id % TUPLE_CHUNK];
}

static inline bool tuple_live(const struct pr_cache *c, uint16_t id)
{
	return id < c->tuple_end && tslot(c, id)->live;
}

/* --- hashing --- */

/* GIDs of one subnet share the prefix and differ in the GUID: both halves are mixed. */
static inline uint64_t hash_gid(uint16_t tuple, const union ibv_gid *g)
{
	uint64_t hi, lo;

	memcpy(&hi, g->raw, 8);
	memcpy(&lo, g->raw + 8, 8);
	return mix64(hi ^ mix64(lo + ((uint64_t)tuple + 1) * 0x9e3779b97f4a7c15ULL));
}

static inline uint64_t hash_lid(uint16_t tuple, uint16_t lid)
{
	return mix64(((uint64_t)tuple << 16 | lid) * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
}

/* --- keys: one code path serves the DGID and the DLID index --- */

struct pr_key {
	uint16_t tuple;
	bool by_dlid;
	uint16_t dlid;
	const union ibv_gid *dgid;
};

static inline struct pr_key dgid_key(uint16_t tuple, const union ibv_gid *dgid)
{
	return (struct pr_key){ .tuple = tuple, .dgid = dgid };
}

static inline struct pr_key dlid_key(uint16_t tuple, uint16_t dlid)
{
	return (struct pr_key){ .tuple = tuple, .by_dlid = true, .dlid = dlid };
}

static inline uint16_t entry_dlid(const struct pr_entry *e)
{
	return be16toh(e->rec.dlid);
}

static inline bool key_match(const struct pr_entry *e, const struct pr_key *k)
{
	if (e->tuple != k->tuple)
		return false;
	if (k->by_dlid)
		return entry_dlid(e) == k->dlid;
	return !memcmp(e->rec.dgid.raw, k->dgid->raw, sizeof(k->dgid->raw));
}

static inline uint64_t key_hash(const struct pr_key *k)
{
	return k->by_dlid ? hash_lid(k->tuple, k->dlid) : hash_gid(k->tuple, k->dgid);
}

static inline uint32_t entry_next(const struct pr_entry *e, bool by_dlid)
{
	return by_dlid ? e->priv_next_dlid : e->priv_next_dgid;
}

static inline const struct chain_table *key_table(const struct pr_cache *c, const struct pr_key *k)
{
	return k->by_dlid ? &c->by_dlid : &c->by_dgid;
}

/* Head of the chain that holds k, or NIL. */
static inline uint32_t key_chain(const struct pr_cache *c, const struct pr_key *k)
{
	const struct chain_table *t = key_table(c, k);

	return t->head ? t->head[key_hash(k) & t->mask] : NIL;
}

static bool chain_has_key(const struct pr_cache *c, uint32_t i, const struct pr_key *k)
{
	for (; i != NIL; i = entry_next(&c->ent[i], k->by_dlid))
		if (key_match(&c->ent[i], k))
			return true;
	return false;
}

/*
 * Is entry i (reached from prev in the DGID chain starting at head) the newest of its key in
 * that chain? Paths of one key are usually adjacent, so the check against prev settles most.
 */
static bool first_of_key(const struct pr_cache *c, uint32_t head, uint32_t prev, uint32_t i)
{
	const struct pr_entry *e = &c->ent[i];
	struct pr_key k = dgid_key(e->tuple, &e->rec.dgid);

	if (prev != NIL && key_match(&c->ent[prev], &k))
		return false;
	for (uint32_t j = head; j != i; j = c->ent[j].priv_next_dgid)
		if (key_match(&c->ent[j], &k))
			return false;
	return true;
}

/*
 * Count the paths of k and write those at SA positions [skip, skip+max) to out. The chain is
 * newest first, so the match found p-th from the head is SA position total-1-p.
 */
static size_t collect(const struct pr_cache *c, const struct pr_key *k, size_t skip,
		      const struct pr_entry **out, size_t max)
{
	uint32_t head = key_chain(c, k);
	size_t total = 0, p = 0;

	for (uint32_t i = head; i != NIL; i = entry_next(&c->ent[i], k->by_dlid))
		total += key_match(&c->ent[i], k);
	if (skip >= total || !max)
		return total;
	for (uint32_t i = head; i != NIL; i = entry_next(&c->ent[i], k->by_dlid)) {
		if (!key_match(&c->ent[i], k))
			continue;
		size_t s = total - 1 - p++;
		if (s >= skip && s - skip < max)
			out[s - skip] = &c->ent[i];
	}
	return total;
}

/* --- chain tables --- */

static uint32_t *slot_next(struct pr_cache *c, enum table_id id, uint32_t i)
{
	switch (id) {
	case TABLE_DGID:
		return &c->ent[i].priv_next_dgid;
	case TABLE_DLID:
		return &c->ent[i].priv_next_dlid;
	default:
		return &c->neg[i].next;
	}
}

static uint64_t neg_hash(uint16_t tuple, uint8_t kind, const union ibv_gid *key)
{
	/* tuple < 4096 leaves the top bits free to keep the two kinds apart */
	return hash_gid((uint16_t)(tuple | kind << 12), key);
}

static uint64_t slot_hash(const struct pr_cache *c, enum table_id id, uint32_t i)
{
	switch (id) {
	case TABLE_DGID:
		return hash_gid(c->ent[i].tuple, &c->ent[i].rec.dgid);
	case TABLE_DLID:
		return hash_lid(c->ent[i].tuple, entry_dlid(&c->ent[i]));
	default:
		return neg_hash(c->neg[i].tuple, c->neg[i].kind, &c->neg[i].key);
	}
}

/*
 * Make room for want elements at load <= 1. Growth is in place: with power-of-two sizes and
 * buckets taken from the low hash bits, old bucket b only feeds new buckets b + m*old, which are
 * b itself or fresh ones. Each old chain is reversed then pushed at the new heads, which keeps
 * its order. On -ENOMEM the table is unchanged.
 */
static int table_reserve(struct pr_cache *c, struct chain_table *t, size_t want)
{
	uint32_t old = t->nbuckets;
	size_t nb = old ? old : MIN_BUCKETS;
	uint32_t *h;

	if (want <= old)
		return 0;
	while (nb < want)
		nb <<= 1;
	if (nb > (size_t)1 << 31)
		return -ENOMEM;
	h = realloc(t->head, nb * sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t b = old; b < nb; b++)
		h[b] = NIL;
	t->head = h;
	t->nbuckets = (uint32_t)nb;
	t->mask = (uint32_t)nb - 1;
	for (uint32_t b = 0; b < old; b++) {
		uint32_t rev = NIL, i = h[b], next;

		h[b] = NIL;
		for (; i != NIL; i = next) {
			next = *slot_next(c, t->id, i);
			*slot_next(c, t->id, i) = rev;
			rev = i;
		}
		for (i = rev; i != NIL; i = next) {
			uint32_t nbk = (uint32_t)slot_hash(c, t->id, i) & t->mask;

			next = *slot_next(c, t->id, i);
			*slot_next(c, t->id, i) = h[nbk];
			h[nbk] = i;
		}
	}
	return 0;
}

static void table_release(struct chain_table *t)
{
	free(t->head);
	t->head = NULL;
	t->nbuckets = t->mask = 0;
}

/* Unlink element i from its chain in t. */
static void table_unlink(struct pr_cache *c, struct chain_table *t, uint32_t i)
{
	uint32_t *link = &t->head[slot_hash(c, t->id, i) & t->mask];

	while (*link != i)
		link = slot_next(c, t->id, *link);
	*link = *slot_next(c, t->id, i);
}

/* Grow an element array to hold want, by half again at least, never past limit. */
static int array_reserve(void **arr, uint32_t *cap, size_t want, size_t elem, uint32_t limit)
{
	size_t n = (size_t)*cap + *cap / 2;
	void *p;

	if (want <= *cap)
		return 0;
	if (n < want)
		n = want;
	if (n < MIN_SLOTS)
		n = MIN_SLOTS;
	if (n > limit)
		n = limit;
	p = realloc(*arr, n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = (uint32_t)n;
	return 0;
}

/*
 * Bulk loads are bound by memory latency (one random bucket and one random entry per record).
 * Touching the buckets of a record PREFETCH_AHEAD records early, and the head entry of its DGID
 * chain half as early, overlaps those misses. Both helpers are always_inline (PREFETCHER): a
 * function that only prefetches has no side effect to GCC's interprocedural analysis, which
 * deletes the calls (GCC 12 at -O2 did, and loads ran without these prefetches;
 * unit.cache_prefetch checks).
 */
#define PREFETCHER static inline __attribute__((always_inline))

/* The DLID bucket rec's insert will link into. */
PREFETCHER void prefetch_dlid_head(const struct pr_cache *c, uint16_t tuple,
				   const struct ibv_path_record *rec)
{
	__builtin_prefetch(&c->by_dlid.head[hash_lid(tuple, be16toh(rec->dlid)) & c->by_dlid.mask]);
}

PREFETCHER void prefetch_rec(const struct pr_cache *c, uint16_t tuple,
			     const struct ibv_path_record *rec, bool chain_too, bool dlid_too)
{
	const uint32_t *hd = &c->by_dgid.head[hash_gid(tuple, &rec->dgid) & c->by_dgid.mask];

	if (!chain_too) {
		__builtin_prefetch(hd);
		if (dlid_too)
			prefetch_dlid_head(c, tuple, rec);
	} else if (*hd != NIL) {
		__builtin_prefetch(&c->ent[*hd]);
	}
}

PREFETCHER void prefetch_load(const struct pr_cache *c, uint16_t tuple,
			      const struct ibv_path_record *recs, size_t n, size_t i, bool dlid_too)
{
	if (i + PREFETCH_AHEAD < n)
		prefetch_rec(c, tuple, &recs[i + PREFETCH_AHEAD], false, dlid_too);
	if (i + PREFETCH_AHEAD / 2 < n)
		prefetch_rec(c, tuple, &recs[i + PREFETCH_AHEAD / 2], true, dlid_too);
}

/* What prefetch_load(..., true) adds to prefetch_load(..., false) for the same i: the DLID
 * bucket. For a run that was planned as kept and turned out new, after the kept-mode pass. */
PREFETCHER void prefetch_load_dlid(const struct pr_cache *c, uint16_t tuple,
				   const struct ibv_path_record *recs, size_t n, size_t i)
{
	if (i + PREFETCH_AHEAD < n)
		prefetch_dlid_head(c, tuple, &recs[i + PREFETCH_AHEAD]);
}

/* --- the change journal --- */

/* Every older position becomes unreadable (its readers copy the whole cache again). */
static void journal_forget(struct pr_cache *c)
{
	c->jbase += c->jlen + 1;
	c->jlen = 0;
}

/*
 * Appends (tuple, dgid), unless the same call appended it last (a destination's paths come
 * together); never merged across calls, between which a reader may have taken the end. A full
 * window drops its older half: O(1) amortized; readers that were further behind copy the cache
 * instead. Without memory the journal forgets rather than fails the call.
 */
static void journal_add(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid)
{
	size_t limit = JOURNAL_MIN + c->nentries / JOURNAL_SHARE;
	struct pr_change *last = c->jlen ? &c->journal[c->jlen - 1] : NULL;

	if (c->jstamp != c->changes) {	/* a new call */
		c->jstamp = c->changes;
		c->jcall = 0;
	} else if (last && last->tuple == tuple && !memcmp(last->dgid.raw, dgid->raw, 16)) {
		return;
	}
	if (c->jcall > limit)	/* this call changes more than a window holds: forgotten */
		return;
	if (++c->jcall > limit) {
		journal_forget(c);
		return;
	}
	if (c->jlen == c->jcap && c->jcap < limit) {
		size_t cap = c->jcap ? 2 * (size_t)c->jcap : 64;
		struct pr_change *j = realloc(c->journal, (cap < limit ? cap : limit) * sizeof(*j));

		if (!j) {
			journal_forget(c);
			return;
		}
		c->journal = j;
		c->jcap = (uint32_t)(cap < limit ? cap : limit);
	}
	if (c->jlen == c->jcap) {
		uint32_t drop = c->jlen - c->jlen / 2;

		memmove(c->journal, c->journal + drop, (c->jlen - drop) * sizeof(*c->journal));
		c->jlen -= drop;
		c->jbase += drop;
	}
	c->journal[c->jlen].dgid = *dgid;
	c->journal[c->jlen].tuple = tuple;
	c->jlen++;
}

/* --- the tuples' lists of paths --- */

static void tuple_link(struct pr_cache *c, uint32_t i)
{
	struct tuple_slot *ts = tslot(c, c->ent[i].tuple);

	c->ent[i].priv_tuple_prev = NIL;
	c->ent[i].priv_tuple_next = ts->head;
	if (ts->head != NIL)
		c->ent[ts->head].priv_tuple_prev = i;
	ts->head = i;
}

static void tuple_unlink(struct pr_cache *c, uint32_t i)
{
	struct pr_entry *e = &c->ent[i];

	if (e->priv_tuple_prev != NIL)
		c->ent[e->priv_tuple_prev].priv_tuple_next = e->priv_tuple_next;
	else
		tslot(c, e->tuple)->head = e->priv_tuple_next;
	if (e->priv_tuple_next != NIL)
		c->ent[e->priv_tuple_next].priv_tuple_prev = e->priv_tuple_prev;
}

/* --- entries --- */

/* Room for want live entries: slots and buckets. Changes no contents. */
static int entries_reserve(struct pr_cache *c, size_t want)
{
	void *p = c->ent;
	int r = array_reserve(&p, &c->ent_cap, want, sizeof(*c->ent), c->lim.max_entries);

	c->ent = p;
	if (!r)
		r = table_reserve(c, &c->by_dgid, want);
	if (!r)
		r = table_reserve(c, &c->by_dlid, want);
	return r;
}

static void slot_free(struct pr_cache *c, uint32_t i)
{
	struct tuple_slot *ts = tslot(c, c->ent[i].tuple);

	journal_add(c, c->ent[i].tuple, &c->ent[i].rec.dgid);
	tuple_unlink(c, i);
	ts->entries--;
	ts->held -= c->ent[i].source != PR_SRC_SA;
	c->ent[i].priv_state = SLOT_FREE;
	c->ent[i].priv_next_dgid = c->ent_free;
	c->ent_free = i;
	c->nentries--;
}

/* Store one path; room must have been reserved. key_present: its DGID key already has paths. */
static void entry_insert(struct pr_cache *c, uint16_t tuple, const struct ibv_path_record *rec,
			 const struct pr_origin *o, uint32_t added_s, bool key_present)
{
	struct pr_key k = dgid_key(tuple, &rec->dgid);
	uint32_t i, *hd, *hl;
	struct pr_entry *e;

	if (c->ent_free != NIL) {
		i = c->ent_free;
		c->ent_free = c->ent[i].priv_next_dgid;
	} else {
		i = c->ent_used++;
	}
	e = &c->ent[i];
	e->rec = *rec;
	e->generation = o->generation;
	e->added_s = added_s;
	e->tuple = tuple;
	e->source_lid = o->lid;
	e->source = (uint8_t)o->source;
	e->priv_state = SLOT_LIVE;
	e->priv_reserved = 0;
	tslot(c, tuple)->entries++;
	tslot(c, tuple)->held += o->source != PR_SRC_SA;
	tuple_link(c, i);
	journal_add(c, tuple, &rec->dgid);

	hd = &c->by_dgid.head[key_hash(&k) & c->by_dgid.mask];
	if (!key_present && !chain_has_key(c, *hd, &k))
		c->ndest++;
	e->priv_next_dgid = *hd;
	*hd = i;
	hl = &c->by_dlid.head[hash_lid(tuple, entry_dlid(e)) & c->by_dlid.mask];
	e->priv_next_dlid = *hl;
	*hl = i;
	c->nentries++;
}

/* Remove one entry from both indexes, keeping the destination count right. */
static void entry_remove(struct pr_cache *c, uint32_t i)
{
	struct pr_entry *e = &c->ent[i];
	struct pr_key k = dgid_key(e->tuple, &e->rec.dgid);
	uint32_t *link = &c->by_dgid.head[key_hash(&k) & c->by_dgid.mask];
	bool others = false;

	while (*link != i) {
		others |= key_match(&c->ent[*link], &k);
		link = &c->ent[*link].priv_next_dgid;
	}
	*link = e->priv_next_dgid;
	if (!others && !chain_has_key(c, *link, &k))
		c->ndest--;
	table_unlink(c, &c->by_dlid, i);
	slot_free(c, i);
}

/* Remove the paths of (tuple, dgid), all of them or the doomed ones only. O(chain). */
static size_t remove_key(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			 bool doomed_only)
{
	struct pr_key k = dgid_key(tuple, dgid);
	uint32_t *link;
	size_t removed = 0, kept = 0;

	if (!c->by_dgid.head)
		return 0;
	link = &c->by_dgid.head[key_hash(&k) & c->by_dgid.mask];
	while (*link != NIL) {
		uint32_t i = *link;
		struct pr_entry *e = &c->ent[i];

		if (!key_match(e, &k)) {
			link = &e->priv_next_dgid;
		} else if (doomed_only && !(e->priv_state & SLOT_DOOMED)) {
			kept++;
			link = &e->priv_next_dgid;
		} else {
			*link = e->priv_next_dgid;
			table_unlink(c, &c->by_dlid, i);
			slot_free(c, i);
			removed++;
		}
	}
	if (removed && !kept)
		c->ndest--;
	return removed;
}

/* Set or clear the doomed mark on the paths of (tuple, dgid); returns how many changed. */
static size_t mark_key(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid, bool on)
{
	struct pr_key k = dgid_key(tuple, dgid);
	size_t changed = 0;

	for (uint32_t i = key_chain(c, &k); i != NIL; i = c->ent[i].priv_next_dgid) {
		struct pr_entry *e = &c->ent[i];

		if (!key_match(e, &k))
			continue;
		e->priv_state &= (uint8_t)~SLOT_KEPT;
		if (!!(e->priv_state & SLOT_DOOMED) == on)
			continue;
		e->priv_state ^= SLOT_DOOMED;
		changed++;
	}
	return changed;
}

/*
 * Pass 1 of a load, for the run recs[0..m) of one DGID. KEPT (overwritten in place later) when
 * the destination holds exactly m paths, none marked by an earlier run of this load, with the
 * run's DLIDs in the run's order (the chain is newest first: its p-th path of the key is SA
 * position m-1-p): then no index changes. Otherwise its paths are DOOMED; a destination met
 * again in a later run is thus replaced after all (what the earlier run kept becomes doomed).
 * Counts the paths so marked into *kept and *doomed.
 */
static void plan_run(struct pr_cache *c, uint16_t tuple, const struct ibv_path_record *run,
		     size_t m, size_t *kept, size_t *doomed)
{
	struct pr_key k = dgid_key(tuple, &run->dgid);
	uint32_t head = key_chain(c, &k);
	size_t p = 0;
	bool fits = true;

	for (uint32_t i = head; i != NIL && fits; i = c->ent[i].priv_next_dgid) {
		const struct pr_entry *e = &c->ent[i];

		if (!key_match(e, &k))
			continue;
		fits = p < m && e->priv_state == SLOT_LIVE && e->rec.dlid == run[m - 1 - p].dlid;
		p++;
	}
	if (!p)		/* a new destination: nothing to keep or doom */
		return;
	if (fits && p == m) {
		for (uint32_t i = head; i != NIL; i = c->ent[i].priv_next_dgid)
			if (key_match(&c->ent[i], &k))
				c->ent[i].priv_state |= SLOT_KEPT;
		*kept += m;
		return;
	}
	for (uint32_t i = head; i != NIL; i = c->ent[i].priv_next_dgid)
		if (key_match(&c->ent[i], &k) && (c->ent[i].priv_state & SLOT_KEPT))
			(*kept)--;
	*doomed += mark_key(c, tuple, &run->dgid, true);
}

/* Pass 2 for a run: if it was KEPT, its records overwrite the paths where they stand
 * (journaled when a record differs) and true; false (nothing done) for a run to insert. */
static bool overwrite_run(struct pr_cache *c, uint16_t tuple, const struct ibv_path_record *run,
			  size_t m, const struct pr_origin *o, uint32_t added_s)
{
	struct pr_key k = dgid_key(tuple, &run->dgid);
	struct tuple_slot *ts = tslot(c, tuple);
	bool differs = false;
	size_t p = 0;

	for (uint32_t i = key_chain(c, &k); i != NIL; i = c->ent[i].priv_next_dgid) {
		struct pr_entry *e = &c->ent[i];
		const struct ibv_path_record *rec;

		if (!key_match(e, &k))
			continue;
		if (!(e->priv_state & SLOT_KEPT))
			return false;	/* all of a key are kept, or none */
		rec = &run[m - 1 - p++];
		differs |= memcmp(&e->rec, rec, sizeof(*rec)) != 0;
		ts->held -= e->source != PR_SRC_SA;
		ts->held += o->source != PR_SRC_SA;
		e->rec = *rec;
		e->generation = o->generation;
		e->added_s = added_s;
		e->source_lid = o->lid;
		e->source = (uint8_t)o->source;
		e->priv_state = SLOT_LIVE;
	}
	if (differs)
		journal_add(c, tuple, &run->dgid);
	return p > 0;
}

/*
 * Drop doomed entries from every chain of t, in one pass over the buckets. For the DGID table,
 * also returns the number of distinct keys left (the destinations), counted on the way.
 */
static uint32_t table_filter_doomed(struct pr_cache *c, struct chain_table *t)
{
	uint32_t keys = 0;

	for (uint32_t b = 0; b < t->nbuckets; b++) {
		uint32_t *link = &t->head[b], prev = NIL;

		while (*link != NIL) {
			uint32_t i = *link;

			if (c->ent[i].priv_state & SLOT_DOOMED) {
				*link = *slot_next(c, t->id, i);
				continue;
			}
			if (t->id == TABLE_DGID)
				keys += first_of_key(c, t->head[b], prev, i);
			prev = i;
			link = slot_next(c, t->id, i);
		}
	}
	return keys;
}

/* Empty the indexes and the slot array, keeping the memory (a full refresh replaces all). */
/* No path is filed under any tuple any more. */
static void tuples_forget_entries(struct pr_cache *c)
{
	for (uint16_t id = 0; id < c->tuple_end; id++) {
		tslot(c, id)->entries = tslot(c, id)->held = 0;
		tslot(c, id)->head = NIL;
	}
	journal_forget(c);
}

static void entries_clear(struct pr_cache *c)
{
	tuples_forget_entries(c);
	if (c->by_dgid.head)
		memset(c->by_dgid.head, 0xff, c->by_dgid.nbuckets * sizeof(uint32_t));
	if (c->by_dlid.head)
		memset(c->by_dlid.head, 0xff, c->by_dlid.nbuckets * sizeof(uint32_t));
	c->ent_used = c->nentries = c->ndest = 0;
	c->ent_free = NIL;
}

/*
 * Remove the nd entries marked doomed. A few are unlinked one by one; many are filtered out of
 * the chains in one pass over the buckets, O(buckets + entries) whatever the chain shapes; all
 * of them (a full refresh) just empties the indexes.
 */
static size_t purge_doomed(struct pr_cache *c, size_t nd)
{
	if (!nd)
		return 0;
	if (nd == c->nentries) {
		entries_clear(c);
		return nd;
	}
	if (nd <= c->nentries / 16) {
		for (uint32_t i = 0; i < c->ent_used; i++)
			if (c->ent[i].priv_state & SLOT_DOOMED)
				entry_remove(c, i);
		return nd;
	}
	c->ndest = table_filter_doomed(c, &c->by_dgid);
	table_filter_doomed(c, &c->by_dlid);
	for (uint32_t i = 0; i < c->ent_used; i++)
		if (c->ent[i].priv_state & SLOT_DOOMED)
			slot_free(c, i);
	return nd;
}

/* Paths were added, replaced or removed: tell the watcher. */
static void paths_changed(struct pr_cache *c)
{
	c->changes++;
	if (c->watch_fn)
		c->watch_fn(c->watch_arg);
}

static int origin_get(const struct pr_cache *c, const struct pr_origin *origin,
		      struct pr_origin *o)
{
	if (!origin) {
		*o = (struct pr_origin){ .source = PR_SRC_SA, .generation = c->generation };
		return 0;
	}
	if ((unsigned)origin->source > PR_SRC_CLI)
		return -EINVAL;
	*o = *origin;
	return 0;
}

static inline bool gid_eq(const union ibv_gid *a, const union ibv_gid *b)
{
	return !memcmp(a->raw, b->raw, sizeof(a->raw));
}

/* --- negatives --- */

static union ibv_gid neg_dlid_key(uint16_t dlid)
{
	union ibv_gid k;

	memset(&k, 0, sizeof(k));
	memcpy(k.raw, &dlid, sizeof(dlid));
	return k;
}

static uint32_t neg_find(const struct pr_cache *c, uint16_t tuple, uint8_t kind,
			 const union ibv_gid *key)
{
	uint32_t i;

	if (!c->neg_index.head)
		return NIL;
	i = c->neg_index.head[neg_hash(tuple, kind, key) & c->neg_index.mask];
	for (; i != NIL; i = c->neg[i].next) {
		const struct pr_negative *n = &c->neg[i];

		if (n->tuple == tuple && n->kind == kind && gid_eq(&n->key, key))
			return i;
	}
	return NIL;
}

static void neg_remove(struct pr_cache *c, uint32_t i)
{
	tslot(c, c->neg[i].tuple)->negatives--;
	table_unlink(c, &c->neg_index, i);
	c->neg[i].kind = NEG_FREE;
	c->neg[i].next = c->neg_free;
	c->neg_free = i;
	c->nneg--;
}

static void neg_clear(struct pr_cache *c, uint16_t tuple, uint8_t kind, const union ibv_gid *key)
{
	uint32_t i = neg_find(c, tuple, kind, key);

	if (i != NIL)
		neg_remove(c, i);
}

/* A positive answer overrides the negatives for its DGID and its DLID. */
static void neg_clear_for(struct pr_cache *c, uint16_t tuple, const struct ibv_path_record *rec)
{
	union ibv_gid lk = neg_dlid_key(be16toh(rec->dlid));

	neg_clear(c, tuple, NEG_DGID, &rec->dgid);
	neg_clear(c, tuple, NEG_DLID, &lk);
}

static int neg_put(struct pr_cache *c, uint16_t tuple, uint8_t kind, const union ibv_gid *key,
		   uint64_t expires_ms)
{
	uint32_t i, *h;
	void *p;
	int r;

	if (!c || !tuple_live(c, tuple))
		return -EINVAL;
	i = neg_find(c, tuple, kind, key);
	if (i != NIL) {
		c->neg[i].expires_ms = expires_ms;
		return 0;
	}
	if (c->nneg >= c->lim.max_negative)
		return -ENOSPC;
	p = c->neg;
	r = array_reserve(&p, &c->neg_cap, (size_t)c->nneg + 1, sizeof(*c->neg),
			  c->lim.max_negative);
	c->neg = p;
	if (!r)
		r = table_reserve(c, &c->neg_index, (size_t)c->nneg + 1);
	if (r)
		return r;
	if (c->neg_free != NIL) {
		i = c->neg_free;
		c->neg_free = c->neg[i].next;
	} else {
		i = c->neg_used++;
	}
	c->neg[i] = (struct pr_negative){
		.key = *key, .expires_ms = expires_ms, .tuple = tuple, .kind = kind,
	};
	h = &c->neg_index.head[neg_hash(tuple, kind, key) & c->neg_index.mask];
	c->neg[i].next = *h;
	*h = i;
	c->nneg++;
	tslot(c, tuple)->negatives++;
	return 0;
}

static bool neg_get(const struct pr_cache *c, uint16_t tuple, uint8_t kind,
		    const union ibv_gid *key, uint64_t now_ms)
{
	uint32_t i;

	if (!c)
		return false;
	i = neg_find(c, tuple, kind, key);
	return i != NIL && now_ms < c->neg[i].expires_ms;
}

int pr_cache_put_negative_dgid(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			       uint64_t expires_ms)
{
	if (!dgid)
		return -EINVAL;
	return neg_put(c, tuple, NEG_DGID, dgid, expires_ms);
}

int pr_cache_put_negative_dlid(struct pr_cache *c, uint16_t tuple, uint16_t dlid,
			       uint64_t expires_ms)
{
	union ibv_gid k = neg_dlid_key(dlid);

	return neg_put(c, tuple, NEG_DLID, &k, expires_ms);
}

bool pr_cache_negative_dgid(const struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			    uint64_t now_ms)
{
	return dgid && neg_get(c, tuple, NEG_DGID, dgid, now_ms);
}

bool pr_cache_negative_dlid(const struct pr_cache *c, uint16_t tuple, uint16_t dlid,
			    uint64_t now_ms)
{
	union ibv_gid k = neg_dlid_key(dlid);

	return neg_get(c, tuple, NEG_DLID, &k, now_ms);
}

size_t pr_cache_expire_negatives(struct pr_cache *c, uint64_t now_ms)
{
	size_t n = 0;

	if (!c)
		return 0;
	for (uint32_t i = 0; i < c->neg_used; i++) {
		if (c->neg[i].kind != NEG_FREE && c->neg[i].expires_ms <= now_ms) {
			neg_remove(c, i);
			n++;
		}
	}
	return n;
}

/* --- tuples --- */

/* Zero what the request left unspecified, so that equal requests compare equal bytewise. */
static int tuple_normalize(const struct pr_tuple *t, struct pr_tuple *n)
{
	if (t->flags & ~PR_TUPLE_ALL_FLAGS)
		return -EINVAL;
	if ((t->flags & PR_TUPLE_SL && t->sl > 15) ||
	    (t->flags & PR_TUPLE_QOS_CLASS && t->qos_class > 0xfff))
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	n->sgid = t->sgid;
	n->flags = t->flags;
	if (t->flags & PR_TUPLE_SERVICE_ID)
		n->service_id = t->service_id;
	if (t->flags & PR_TUPLE_PKEY)
		n->pkey = t->pkey;
	if (t->flags & PR_TUPLE_QOS_CLASS)
		n->qos_class = t->qos_class;
	if (t->flags & PR_TUPLE_SL)
		n->sl = t->sl;
	if (t->flags & PR_TUPLE_TCLASS)
		n->tclass = t->tclass;
	return 0;
}

static uint32_t tuple_hash(const struct pr_tuple *t)
{
	uint64_t small = (uint64_t)t->pkey | (uint64_t)t->qos_class << 16 |
			 (uint64_t)t->sl << 32 | (uint64_t)t->tclass << 40 |
			 (uint64_t)t->flags << 48;

	return (uint32_t)(hash_gid(0, &t->sgid) ^ mix64(t->service_id ^ mix64(small))) &
	       (TUPLE_BUCKETS - 1);
}

static bool tuple_eq(const struct pr_tuple *a, const struct pr_tuple *b)
{
	return gid_eq(&a->sgid, &b->sgid) && a->service_id == b->service_id &&
	       a->pkey == b->pkey && a->qos_class == b->qos_class && a->sl == b->sl &&
	       a->tclass == b->tclass && a->flags == b->flags;
}

/* Unlinks a tuple nothing references any more and frees its id. */
static void tuple_release(struct pr_cache *c, uint16_t id)
{
	struct tuple_slot *ts = tslot(c, id);
	uint16_t *link = &c->thead[tuple_hash(&ts->t)];

	while (*link != id)
		link = &c->tnext[*link];
	*link = c->tnext[id];
	memset(ts, 0, sizeof(*ts));
	c->tnext[id] = c->tuple_free;
	c->tuple_free = id;
	c->tuples_live--;
	c->tuples_reclaimed++;
}

static bool evicted(const struct pr_entry *e, void *arg)
{
	return tslot(arg, e->tuple)->evict;
}

static int cmp_used(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

/*
 * Evicts up to TUPLE_EVICT_BATCH of the least recently used tuples that hold only SA answers,
 * with those answers: they can be fetched again, unlike pushed paths. One pass over the paths
 * and one over the negatives for the whole batch. Returns how many tuples were freed.
 */
static size_t tuple_evict(struct pr_cache *c)
{
	uint64_t cand[PR_TUPLE_MAX];	/* used << 16 | id: sorts by age, ids ride along */
	size_t n = 0;

	for (uint16_t id = 0; id < c->tuple_end; id++) {
		const struct tuple_slot *ts = tslot(c, id);

		if (ts->live && !ts->pins && !ts->held)
			cand[n++] = ts->used << 16 | id;
	}
	qsort(cand, n, sizeof(cand[0]), cmp_used);
	if (n > TUPLE_EVICT_BATCH)
		n = TUPLE_EVICT_BATCH;
	for (size_t k = 0; k < n; k++)
		tslot(c, (uint16_t)cand[k])->evict = true;
	pr_cache_remove_if(c, evicted, c);
	for (uint32_t i = 0; i < c->neg_used; i++)
		if (c->neg[i].kind != NEG_FREE && tslot(c, c->neg[i].tuple)->evict)
			neg_remove(c, i);
	for (size_t k = 0; k < n; k++)
		tuple_release(c, (uint16_t)cand[k]);
	return n;
}

/* Frees at least one tuple id: an unreferenced tuple if there is one, else an eviction batch. */
static int tuple_make_room(struct pr_cache *c)
{
	uint16_t best = TUPLE_NIL;

	for (uint16_t id = 0; id < c->tuple_end; id++) {
		const struct tuple_slot *ts = tslot(c, id);

		if (ts->live && !ts->entries && !ts->negatives && !ts->pins &&
		    (best == TUPLE_NIL || ts->used < tslot(c, best)->used))
			best = id;
	}
	if (best != TUPLE_NIL) {
		tuple_release(c, best);
		return 0;
	}
	return tuple_evict(c) ? 0 : -ENOSPC;
}

int pr_cache_tuple(struct pr_cache *c, const struct pr_tuple *t, bool create, uint16_t *id_out)
{
	struct tuple_slot *ts;
	struct pr_tuple n;
	uint32_t b;
	uint16_t id;
	int r;

	if (!c || !t || !id_out)
		return -EINVAL;
	r = tuple_normalize(t, &n);
	if (r)
		return r;
	b = tuple_hash(&n);
	for (id = c->thead[b]; id != TUPLE_NIL; id = c->tnext[id]) {
		if (tuple_eq(&tslot(c, id)->t, &n)) {
			tslot(c, id)->used = ++c->tuple_clock;
			*id_out = id;
			return 0;
		}
	}
	if (!create)
		return -ENOENT;
	if (c->tuples_live >= PR_TUPLE_MAX) {
		r = tuple_make_room(c);
		if (r)
			return r;
	}
	if (c->tuple_free != TUPLE_NIL) {
		id = c->tuple_free;
		c->tuple_free = c->tnext[id];
	} else {
		id = c->tuple_end;
		if (!c->tchunk[id / TUPLE_CHUNK]) {
			c->tchunk[id / TUPLE_CHUNK] = calloc(TUPLE_CHUNK, sizeof(struct tuple_slot));
			if (!c->tchunk[id / TUPLE_CHUNK])
				return -ENOMEM;
		}
		c->tuple_end++;
	}
	ts = tslot(c, id);
	*ts = (struct tuple_slot){ .t = n, .used = ++c->tuple_clock, .head = NIL, .live = true };
	c->tnext[id] = c->thead[b];
	c->thead[b] = id;
	c->tuples_live++;
	*id_out = id;
	return 0;
}

const struct pr_tuple *pr_cache_tuple_get(const struct pr_cache *c, uint16_t id)
{
	if (!c || !tuple_live(c, id))
		return NULL;
	return &tslot(c, id)->t;
}

int pr_cache_tuple_pin(struct pr_cache *c, uint16_t id)
{
	if (!c || !tuple_live(c, id) || tslot(c, id)->pins == UINT16_MAX)
		return -EINVAL;
	tslot(c, id)->pins++;
	return 0;
}

void pr_cache_tuple_unpin(struct pr_cache *c, uint16_t id)
{
	if (c && tuple_live(c, id) && tslot(c, id)->pins)
		tslot(c, id)->pins--;
}

/* --- life cycle --- */

int pr_cache_new(const struct pr_cache_limits *lim, struct pr_cache **out)
{
	struct pr_cache *c;

	if (!lim || !out || lim->max_entries > INT32_MAX || lim->max_negative > INT32_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->lim = *lim;
	c->ent_free = c->neg_free = NIL;
	c->by_dgid.id = TABLE_DGID;
	c->by_dlid.id = TABLE_DLID;
	c->neg_index.id = TABLE_NEG;
	c->tuple_free = TUPLE_NIL;
	memset(c->thead, 0xff, sizeof(c->thead));
	*out = c;
	return 0;
}

void pr_cache_flush(struct pr_cache *c)
{
	if (!c)
		return;
	if (c->nentries)
		paths_changed(c);
	tuples_forget_entries(c);
	for (uint16_t id = 0; id < c->tuple_end; id++)
		tslot(c, id)->negatives = 0;
	free(c->ent);
	c->ent = NULL;
	c->ent_cap = c->ent_used = c->nentries = c->ndest = 0;
	c->ent_free = NIL;
	table_release(&c->by_dgid);
	table_release(&c->by_dlid);
	free(c->neg);
	c->neg = NULL;
	c->neg_cap = c->neg_used = c->nneg = 0;
	c->neg_free = NIL;
	table_release(&c->neg_index);
}

void pr_cache_free(struct pr_cache *c)
{
	if (!c)
		return;
	pr_cache_flush(c);
	free(c->journal);
	for (size_t i = 0; i < PR_TUPLE_MAX / TUPLE_CHUNK; i++)
		free(c->tchunk[i]);
	free(c);
}

uint32_t pr_cache_begin_generation(struct pr_cache *c)
{
	if (!c)
		return 0;
	return ++c->generation;
}

/* --- filling --- */

int pr_cache_replace(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
		     const struct ibv_path_record *recs, size_t n, const struct pr_origin *origin,
		     uint64_t now_ms)
{
	struct pr_key k;
	struct pr_origin o;
	size_t old;
	int r;

	if (!c || !dgid || (n && !recs) || !tuple_live(c, tuple))
		return -EINVAL;
	r = origin_get(c, origin, &o);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		if (!gid_eq(&recs[i].dgid, dgid))
			return -EINVAL;
	k = dgid_key(tuple, dgid);
	old = collect(c, &k, 0, NULL, 0);
	if (n > c->lim.max_entries || c->nentries - old > c->lim.max_entries - n)
		return -ENOSPC;
	if (n) {
		r = entries_reserve(c, c->nentries - old + n);
		if (r)
			return r;
	}
	remove_key(c, tuple, dgid, false);
	for (size_t i = 0; i < n; i++)
		entry_insert(c, tuple, &recs[i], &o, (uint32_t)(now_ms / 1000), i > 0);
	if (c->nneg) {
		neg_clear(c, tuple, NEG_DGID, dgid);
		for (size_t i = 0; i < n && c->nneg; i++)
			neg_clear_for(c, tuple, &recs[i]);
	}
	if (n || old)
		paths_changed(c);
	return 0;
}

/*
 * Three passes, so that a refusal changes nothing. Plan each run of one DGID (plan_run): kept
 * in place, or its destination's old paths doomed; check the cap against the count that will
 * remain. Remove the doomed. Overwrite the kept runs, insert the others in order. A refresh
 * that changed little thus touches each destination's chain and no index.
 */
int pr_cache_load(struct pr_cache *c, uint16_t tuple, const struct ibv_path_record *recs,
		  size_t n, const struct pr_origin *origin, uint64_t now_ms)
{
	uint32_t added_s = (uint32_t)(now_ms / 1000);
	size_t doomed = 0, kept = 0;
	struct pr_origin o;
	int r;

	if (!c || (n && !recs) || !tuple_live(c, tuple))
		return -EINVAL;
	r = origin_get(c, origin, &o);
	if (r)
		return r;
	if (n > c->lim.max_entries)
		return -ENOSPC;
	if (c->nentries) {
		for (size_t i = 0, j; i < n; i = j) {
			j = pr_dgid_run_end(recs, n, i);
			for (size_t p = i; p < j; p++)
				prefetch_load(c, tuple, recs, n, p, false);
			plan_run(c, tuple, recs + i, j - i, &kept, &doomed);
		}
	}
	if (c->nentries - doomed > c->lim.max_entries - (n - kept))
		r = -ENOSPC;
	else if (n > kept)
		r = entries_reserve(c, c->nentries - doomed + (n - kept));
	if (r) {
		for (size_t i = 0; (doomed || kept) && i < n; i = pr_dgid_run_end(recs, n, i))
			mark_key(c, tuple, &recs[i].dgid, false);
		return r;
	}

	if (doomed > c->nentries / 16) {
		purge_doomed(c, doomed);
	} else if (doomed) {
		for (size_t i = 0; i < n; i = pr_dgid_run_end(recs, n, i))
			remove_key(c, tuple, &recs[i].dgid, true);
	}

	for (size_t i = 0, j; i < n; i = j) {
		j = pr_dgid_run_end(recs, n, i);
		if (kept) {
			for (size_t p = i; p < j; p++)
				prefetch_load(c, tuple, recs, n, p, false);
			if (overwrite_run(c, tuple, recs + i, j - i, &o, added_s))
				continue;
		}
		for (size_t p = i; p < j; p++) {
			if (kept)	/* the kept-mode prefetches of p were just made */
				prefetch_load_dlid(c, tuple, recs, n, p);
			else
				prefetch_load(c, tuple, recs, n, p, true);
			entry_insert(c, tuple, &recs[p], &o, added_s, p > i);
		}
	}
	for (size_t i = 0; i < n && c->nneg; i++)
		neg_clear_for(c, tuple, &recs[i]);
	if (n || doomed)
		paths_changed(c);
	return (int)n;
}

/* --- removal --- */

size_t pr_cache_sweep(struct pr_cache *c, uint16_t tuple, enum pr_source source,
		      uint32_t keep_generation)
{
	size_t n = 0;

	if (!c || !tuple_live(c, tuple))
		return 0;
	for (uint32_t i = tslot(c, tuple)->head, next; i != NIL; i = next) {
		const struct pr_entry *e = &c->ent[i];

		next = e->priv_tuple_next;
		if (e->source == (uint8_t)source && e->generation != keep_generation) {
			entry_remove(c, i);
			n++;
		}
	}
	if (n)
		paths_changed(c);
	return n;
}

size_t pr_cache_remove_dgid(struct pr_cache *c, const union ibv_gid *dgid)
{
	size_t n = 0;

	if (!c || !dgid)
		return 0;
	for (uint16_t t = 0; t < c->tuple_end && c->nentries; t++)
		n += remove_key(c, t, dgid, false);
	if (n)
		paths_changed(c);
	return n;
}

size_t pr_cache_remove_if(struct pr_cache *c, bool (*pred)(const struct pr_entry *e, void *arg),
			  void *arg)
{
	size_t nd = 0;

	if (!c || !pred)
		return 0;
	for (uint32_t i = 0; i < c->ent_used; i++) {
		struct pr_entry *e = &c->ent[i];

		if (e->priv_state == SLOT_LIVE && pred(e, arg)) {
			e->priv_state |= SLOT_DOOMED;
			nd++;
		}
	}
	nd = purge_doomed(c, nd);
	if (nd)
		paths_changed(c);
	return nd;
}

/* --- reading --- */

size_t pr_cache_lookup_dgid(const struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			    const struct pr_entry **out, size_t max)
{
	struct pr_key k;

	if (!c || !dgid || (max && !out))
		return 0;
	k = dgid_key(tuple, dgid);
	return collect(c, &k, 0, out, max);
}

size_t pr_cache_lookup_dlid(const struct pr_cache *c, uint16_t tuple, uint16_t dlid,
			    const struct pr_entry **out, size_t max)
{
	struct pr_key k;

	if (!c || (max && !out))
		return 0;
	k = dlid_key(tuple, dlid);
	return collect(c, &k, 0, out, max);
}

void pr_cache_foreach(const struct pr_cache *c, pr_cache_visit_fn fn, void *arg)
{
	const struct pr_entry *batch[FOREACH_BATCH];

	if (!c || !fn)
		return;
	for (uint32_t b = 0; b < c->by_dgid.nbuckets; b++) {
		uint32_t head = c->by_dgid.head[b], prev = NIL;

		/* buckets are read in order, their entries lie anywhere: fetch ahead (both lines) */
		if (b + PREFETCH_AHEAD < c->by_dgid.nbuckets) {
			uint32_t ahead = c->by_dgid.head[b + PREFETCH_AHEAD];

			if (ahead != NIL) {
				__builtin_prefetch(&c->ent[ahead]);
				__builtin_prefetch((const char *)&c->ent[ahead] + 64);
			}
		}
		for (uint32_t i = head; i != NIL; prev = i, i = c->ent[i].priv_next_dgid) {
			const struct pr_entry *e = &c->ent[i];
			struct pr_key k = dgid_key(e->tuple, &e->rec.dgid);
			size_t total = 1;

			if (!first_of_key(c, head, prev, i))
				continue;
			for (size_t skip = 0; skip < total; skip += FOREACH_BATCH) {
				total = collect(c, &k, skip, batch, FOREACH_BATCH);
				for (size_t j = 0; j < FOREACH_BATCH && skip + j < total; j++)
					if (!fn(batch[j], arg))
						return;
			}
		}
	}
}

/* Bit reversal, for the SCAN cursor: incrementing the reversed index walks the buckets so
 * that a doubling of the table never makes the walk skip or repeat a bucket's contents. */
static uint64_t rev64(uint64_t v)
{
	uint64_t mask = ~0ULL;

	for (unsigned s = 32; s; s >>= 1) {
		mask ^= mask << s;
		v = ((v >> s) & mask) | ((v << s) & ~mask);
	}
	return v;
}

void pr_cache_scan(const struct pr_cache *c, struct pr_cache_scan *scan, size_t max,
		   pr_cache_visit_fn fn, void *arg)
{
	const struct pr_entry *batch[FOREACH_BATCH];
	size_t visited = 0;

	if (!c || !scan || !fn)
		return;
	while (!scan->done && visited < max) {
		uint64_t mask = c->by_dgid.mask;
		uint32_t head, prev = NIL;
		size_t pos = 0;

		if (!c->by_dgid.nbuckets) {
			scan->done = true;
			return;
		}
		head = c->by_dgid.head[scan->bucket & mask];
		for (uint32_t i = head; i != NIL; prev = i, i = c->ent[i].priv_next_dgid) {
			const struct pr_entry *e = &c->ent[i];
			struct pr_key k = dgid_key(e->tuple, &e->rec.dgid);
			size_t total;

			if (!first_of_key(c, head, prev, i))
				continue;
			total = collect(c, &k, 0, NULL, 0);
			if (pos + total <= scan->skip) {
				pos += total;
				continue;
			}
			for (size_t sk = scan->skip - pos; sk < total; sk += FOREACH_BATCH) {
				size_t got = collect(c, &k, sk, batch, FOREACH_BATCH);

				for (size_t j = 0; j < FOREACH_BATCH && sk + j < got; j++) {
					scan->skip++;
					if (!fn(batch[j], arg) || ++visited == max)
						return;
				}
			}
			pos += total;
		}
		scan->skip = 0;
		scan->bucket = rev64(rev64(scan->bucket | ~mask) + 1);
		scan->done = !scan->bucket;
	}
}

void pr_cache_stats(const struct pr_cache *c, struct pr_cache_stats *out)
{
	uint64_t chunks = 0;

	if (!c || !out)
		return;
	for (size_t i = 0; i < PR_TUPLE_MAX / TUPLE_CHUNK; i++)
		chunks += c->tchunk[i] != NULL;
	*out = (struct pr_cache_stats){
		.entries = c->nentries,
		.negatives = c->nneg,
		.tuples = c->tuple_end,
		.tuples_live = c->tuples_live,
		.tuples_reclaimed = c->tuples_reclaimed,
		.destinations = c->ndest,
		.bytes = sizeof(*c) + (uint64_t)c->ent_cap * sizeof(*c->ent) +
			 ((uint64_t)c->by_dgid.nbuckets + c->by_dlid.nbuckets +
			  c->neg_index.nbuckets) * sizeof(uint32_t) +
			 (uint64_t)c->neg_cap * sizeof(*c->neg) +
			 (uint64_t)c->jcap * sizeof(*c->journal) +
			 chunks * TUPLE_CHUNK * sizeof(struct tuple_slot),
	};
	out->bytes_per_entry = out->entries ? out->bytes / out->entries : 0;
}

void pr_cache_watch(struct pr_cache *c, pr_cache_watch_fn fn, void *arg)
{
	if (!c)
		return;
	c->watch_fn = fn;
	c->watch_arg = arg;
}

uint64_t pr_cache_changes(const struct pr_cache *c)
{
	return c ? c->changes : 0;
}

uint64_t pr_cache_journal_end(const struct pr_cache *c)
{
	return c ? c->jbase + c->jlen : 0;
}

int pr_cache_journal(const struct pr_cache *c, uint64_t since, const struct pr_change **keys,
		     size_t *n)
{
	if (!c || !keys || !n || since > c->jbase + c->jlen)
		return -EINVAL;
	if (since < c->jbase)
		return -ERANGE;
	*keys = c->journal + (since - c->jbase);
	*n = (size_t)(c->jbase + c->jlen - since);
	return 0;
}
