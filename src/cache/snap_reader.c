/*
 * snap_reader.c - see snap_reader.h. A hit reads the header line and the half's hot line (both
 * cached while lookups are frequent), the tuple's words, and one DGID slot: one cache line that
 * holds the key and the first path. Every load is bounds-checked against the mapping, so a
 * half being changed under it can make it retry but never fault or loop, and a corrupt object
 * gives -EIO/-EPROTO, never a fault.
 */
#include "cache/snap_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RETRIES 64		/* a reader retries only when two publications overtake it */

/* --- opening: whom to believe --- */

/*
 * The object must be the daemon's: a regular file of owner (or root) that nobody else may
 * write. These checks also settle the suspicion that a mapped object could be truncated under
 * the reader by another user at start-up (a SIGBUS on the next load): only its owner - the
 * daemon, which never shrinks an object, or root - can change its size, and the size is
 * checked against the header below, after the fstat that gave these facts.
 */
static int trusted(const struct stat *st, uid_t owner)
{
	if (!S_ISREG(st->st_mode) || (st->st_uid != owner && st->st_uid != 0) ||
	    (st->st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return 0;
}

/* The header against the object's real size, with no sum that can wrap. */
static int header_ok(const struct snap_header *h, uint64_t size)
{
	if (h->abi != SNAP_ABI || h->header_size != SNAP_HEADER_SIZE || h->object_size != size ||
	    h->half_size % 8 || h->half_size < SH_WORDS * 8)
		return -EPROTO;
	for (int i = 0; i < 2; i++) {
		uint64_t off = h->half_offset[i];

		if (off % 8 || off < SNAP_HEADER_SIZE || off > size || h->half_size > size - off)
			return -EPROTO;
	}
	return 0;
}

int snap_map_open(const char *name, uid_t owner, struct snap_map *m)
{
	const struct snap_header *hdr;
	struct stat st;
	void *p;
	int fd, r;

	if (!snap_name_ok(name) || !m)
		return -EINVAL;
	fd = shm_open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = fstat(fd, &st) < 0 ? -errno : trusted(&st, owner);
	if (!r && (uint64_t)st.st_size < SNAP_HEADER_SIZE)
		r = -EAGAIN;
	if (r) {
		close(fd);
		return r;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	r = -errno;
	close(fd);
	if (p == MAP_FAILED)
		return r;
	hdr = p;
	switch (atomic_load_explicit(&hdr->magic, memory_order_acquire)) {
	case SNAP_MAGIC:
		r = header_ok(hdr, (uint64_t)st.st_size);
		break;
	case 0:
		r = -EAGAIN;
		break;
	default:
		r = -EPROTO;
	}
	if (r) {
		munmap(p, (size_t)st.st_size);
		return r;
	}
	(void)madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);	/* a hint: EINVAL without THP */
	m->hdr = hdr;
	m->size = (size_t)st.st_size;
	m->half[0] = (const _Atomic uint64_t *)((const char *)p + hdr->half_offset[0]);
	m->half[1] = (const _Atomic uint64_t *)((const char *)p + hdr->half_offset[1]);
	m->half_words = hdr->half_size / 8;
	m->object_id = hdr->object_id;
	m->object_gen = hdr->object_gen;
	return 0;
}

void snap_map_close(struct snap_map *m)
{
	if (!m || !m->hdr)
		return;
	if (m->size)
		munmap((void *)m->hdr, m->size);
	m->hdr = NULL;
}

void snap_query_init(struct snap_query *q, const struct pr_tuple *t, const union ibv_gid *dgid,
		     const uint16_t *dlid)
{
	memset(q, 0, sizeof(*q));
	snap_tuple_words(t, q->tw);
	q->thash = snap_tuple_hash(q->tw);
	snap_query_dest(q, dgid, dlid);
}

/* --- a half's words --- */

/* On every lookup's path: inlined into it whatever the compiler's size budget. */
#define HOT static inline __attribute__((always_inline))

static inline uint64_t ld(const _Atomic uint64_t *h, uint64_t i)
{
	return atomic_load_explicit(&h[i], memory_order_acquire);
}

/* The hot line of a half's header words (see snap_format.h). */
struct half_view {
	uint64_t w[SH_CACHE_GENERATION];
};

enum { HALF_EMPTY = 1 };

/*
 * The hot words, checked against the room of the half: -EIO when they make no sense (which,
 * before the seqlock check, may just mean the writer is inside), HALF_EMPTY for the empty
 * snapshot of a new object (every lookup misses).
 */
HOT int half_view_load(const struct snap_map *m, const _Atomic uint64_t *h,
		       struct half_view *v)
{
	uint64_t *x = v->w, hw = m->half_words, bad;

	_Static_assert(SH_CACHE_GENERATION == 8, "the hot line is 8 words");
	x[0] = ld(h, 0);	/* written out: a loop of atomic loads is not unrolled */
	x[1] = ld(h, 1);
	x[2] = ld(h, 2);
	x[3] = ld(h, 3);
	x[4] = ld(h, 4);
	x[5] = ld(h, 5);
	x[6] = ld(h, 6);
	x[7] = ld(h, 7);
	if (!(x[SH_NTUPLES] | x[SH_DGID_SLOTS] | x[SH_DLID_SLOTS] | x[SH_RECORD_SLOTS]))
		return HALF_EMPTY;
	/*
	 * Every count and offset <= half_words < 2^44 (the half lies inside a mapping of user
	 * address space), and the regions in the writer's order, none overlapping the next. The
	 * sums may wrap only where a bound already failed; one branch for all (this runs on every
	 * lookup).
	 */
	bad = (x[SH_NTUPLES] > PR_TUPLE_MAX) | (x[SH_DGID_SLOTS] > hw) | (x[SH_OFF_DGID] > hw) |
	      (x[SH_DLID_SLOTS] > hw) | (x[SH_OFF_DLID] > hw) | (x[SH_RECORD_SLOTS] > hw) |
	      (x[SH_OFF_RECORDS] > hw) | (x[SH_OFF_DGID] % SNAP_SLOT_WORDS != 0) |
	      (SH_OFF_TUPLES + SNAP_TUPLE_WORDS * x[SH_NTUPLES] > x[SH_OFF_DGID]) |
	      (x[SH_OFF_DGID] + SNAP_SLOT_WORDS * x[SH_DGID_SLOTS] > x[SH_OFF_DLID]) |
	      (x[SH_OFF_DLID] + SNAP_DLID_WORDS * x[SH_DLID_SLOTS] > x[SH_OFF_RECORDS]) |
	      (x[SH_OFF_RECORDS] + SNAP_RECORD_WORDS * x[SH_RECORD_SLOTS] > hw);
	return bad ? -EIO : 0;
}

/* --- lookups --- */


static inline bool tuple_is(const _Atomic uint64_t *h, const struct half_view *v, uint64_t id,
			    const uint64_t tw[SNAP_TUPLE_WORDS])
{
	uint64_t base = SH_OFF_TUPLES + id * SNAP_TUPLE_WORDS;

	return id < v->w[SH_NTUPLES] &&
	       !((ld(h, base) ^ tw[0]) | (ld(h, base + 1) ^ tw[1]) | (ld(h, base + 2) ^ tw[2]) |
		 (ld(h, base + 3) ^ tw[3]));
}

static inline uint64_t next_slot(uint64_t i, uint64_t n)
{
	return i + 1 == n ? 0 : i + 1;
}

/* Is the slot at base q's destination: (tuple of q, hash, and g when given)? */
HOT bool slot_is(const _Atomic uint64_t *h, const struct half_view *v, uint64_t base,
			   const struct snap_query *q, uint64_t hash, const uint64_t g[2],
			   uint64_t *meta)
{
	uint64_t m = ld(h, base + SLOT_META);

	if (!(m & SNAP_VALID) ||
	    ((ld(h, base + SLOT_HASH) ^ hash) |
	     (g ? (ld(h, base + SLOT_DGID0) ^ g[0]) | (ld(h, base + SLOT_DGID1) ^ g[1]) : 0)) ||
	    !tuple_is(h, v, snap_meta_tuple(m), q->tw))
		return false;
	*meta = m;
	return true;
}

/*
 * The DGID slot of q's tuple whose hash is hash (and whose DGID is g, when given), as a word
 * offset; 0 when there is none. *meta: the slot's meta word.
 *
 * The home line is compared first, and when its hash matches (the common case) the lookup
 * waits for that line only; the next ones are only prefetched meanwhile. Waiting for the next
 * two before picking made a hit slower by a tenth of a DRAM miss at 100k paths (median
 * hit/chase 1.56 -> 1.45 over 10 alternated runs), and it still did with all three lines asked
 * for before the window (1.38 against 1.30 at 100k, 2026-12-01). Else the one of the next two
 * lines whose hash matches is picked without a branch per slot. Robin Hood at load 0.7 puts
 * 44 % of the keys at home, 85 % at most two slots past it and 96 % at most four: a single
 * lookup prefetches the four lines after home, so that the general probe of a key three or four
 * slots out finds its lines on their way. Against two, that took 3-16 % off the hit's p99 at
 * 100k and 1M paths with the p50 unchanged (lib_latency --compare on each core, the old reader
 * loaded twice as a control). The single lookup has asked for the home line before its window
 * opened (snap_prefetch_home). A batch prefetches the home line and two (prefetch_query).
 * Then the general probe: it stops at an empty slot or at one that sits nearer its own home
 * than the probe is from hash's. A match is a slot whose every key word is q's, so a stale
 * hash seen during a change costs a retry at most (the seqlock), never a wrong answer.
 */
HOT uint64_t dgid_find(const _Atomic uint64_t *h, const struct half_view *v,
		       const struct snap_query *q, uint64_t hash, const uint64_t g[2],
		       bool prefetch, uint64_t *meta)
{
	uint64_t n = v->w[SH_DGID_SLOTS], off = v->w[SH_OFF_DGID], i, i1, i2, b;

	if (!n)
		return 0;
	i = snap_home(hash, n);
	i1 = next_slot(i, n);
	i2 = next_slot(i1, n);
	if (prefetch) {	/* on their way while the home line is compared (a batch asked already) */
		uint64_t i3 = next_slot(i2, n), i4 = next_slot(i3, n);

		__builtin_prefetch((const void *)&h[off + i1 * SNAP_SLOT_WORDS]);
		__builtin_prefetch((const void *)&h[off + i2 * SNAP_SLOT_WORDS]);
		__builtin_prefetch((const void *)&h[off + i3 * SNAP_SLOT_WORDS]);
		__builtin_prefetch((const void *)&h[off + i4 * SNAP_SLOT_WORDS]);
	}
	if (ld(h, off + i * SNAP_SLOT_WORDS + SLOT_HASH) == hash) {
		b = i;
	} else {
		b = ld(h, off + i2 * SNAP_SLOT_WORDS + SLOT_HASH) == hash ? i2 : n;
		b = ld(h, off + i1 * SNAP_SLOT_WORDS + SLOT_HASH) == hash ? i1 : b;
	}
	if (b < n && slot_is(h, v, off + b * SNAP_SLOT_WORDS, q, hash, g, meta))
		return off + b * SNAP_SLOT_WORDS;
	for (uint64_t dist = 0; dist < n; dist++, i = next_slot(i, n)) {
		uint64_t base = off + i * SNAP_SLOT_WORDS, m = ld(h, base + SLOT_META), home;

		if (!(m & SNAP_VALID))
			return 0;
		if (slot_is(h, v, base, q, hash, g, meta))
			return base;
		home = snap_home(ld(h, base + SLOT_HASH), n);
		if ((i >= home ? i - home : i + n - home) < dist)
			return 0;
	}
	return 0;
}

/* The DGID hash of the destination holding q's DLID, or SNAP_MISS (none, or several). */
static int dlid_find(const _Atomic uint64_t *h, const struct half_view *v,
		     const struct snap_query *q, uint64_t *hash)
{
	uint64_t n = v->w[SH_DLID_SLOTS], i;

	if (!n)
		return SNAP_MISS;
	i = snap_home(q->dhash, n);
	for (uint64_t probes = 0; probes < n; probes++, i = next_slot(i, n)) {
		uint64_t base = v->w[SH_OFF_DLID] + i * SNAP_DLID_WORDS, key = ld(h, base);

		if (!(key & SNAP_VALID))
			return SNAP_MISS;
		if ((uint16_t)key != q->dlid ||
		    !tuple_is(h, v, (key >> 16) & SNAP_TUPLE_ID_MASK, q->tw))
			continue;
		if (key & SNAP_AMBIGUOUS)
			return SNAP_MISS;
		*hash = ld(h, base + 1);
		return SNAP_HIT;
	}
	return SNAP_MISS;
}

/* Word k of a path record, stored straight into *out: 8-byte stores that nothing reads back
 * here (a record assembled on the stack and copied out in 16-byte loads would stall on
 * store forwarding, about a third of a cached hit's time). */
static inline void put_word(struct ibv_path_record *out, unsigned k, uint64_t w)
{
	memcpy((unsigned char *)out + 8 * k, &w, 8);
}

/* The inline path of the DGID slot at base: the slot's words and the tuple's SGID. */
HOT void slot_path(const _Atomic uint64_t *h, uint64_t base,
		      const uint64_t tw[SNAP_TUPLE_WORDS], struct ibv_path_record *out)
{
	put_word(out, 0, ld(h, base + SLOT_SVC));
	put_word(out, 1, ld(h, base + SLOT_DGID0));
	put_word(out, 2, ld(h, base + SLOT_DGID1));
	put_word(out, 3, tw[0]);
	put_word(out, 4, tw[1]);
	put_word(out, 5, ld(h, base + SLOT_W5));
	put_word(out, 6, ld(h, base + SLOT_W6));
	put_word(out, 7, ld(h, base + SLOT_W7));
}

static void record_path(const _Atomic uint64_t *h, uint64_t rec, struct ibv_path_record *out)
{
	for (unsigned k = 0; k < SNAP_RECORD_WORDS; k++)
		put_word(out, k, ld(h, rec + k));
}

/* q's paths in the half of view v: SNAP_HIT with *total, SNAP_MISS, -EIO. */
HOT int lookup_view(const _Atomic uint64_t *h, const struct half_view *v,
		    const struct snap_query *q, struct ibv_path_record *out, size_t max,
		    bool prefetch, size_t *total)
{
	uint64_t meta = 0, base, hash = q->dhash, count, inl, idx, rec;
	bool filter = q->by_dlid;
	size_t n = 0;

	if (q->by_dgid) {
		base = dgid_find(h, v, q, hash, q->g, prefetch, &meta);
	} else if (q->by_dlid && dlid_find(h, v, q, &hash) == SNAP_HIT) {
		base = dgid_find(h, v, q, hash, NULL, prefetch, &meta);
	} else {
		return SNAP_MISS;
	}
	if (!base)
		return SNAP_MISS;
	count = snap_meta_count(meta);
	if (!count || count > SNAP_GROUP_MAX)
		return SNAP_MISS;
	inl = !!(meta & SNAP_INLINE);
	idx = snap_meta_index(meta);
	if (idx + (count - inl) > v->w[SH_RECORD_SLOTS])	/* idx < 2^32, count < 2^16 */
		return -EIO;
	if (!filter) {	/* the count is known: read only the paths asked for */
		uint64_t k = 0;

		*total = count;
		if (!max)
			return SNAP_HIT;
		if (inl)	/* the common case: the first path is in the line already read */
			slot_path(h, base, q->tw, &out[k++]);
		for (; k < count && k < max; k++)
			record_path(h, v->w[SH_OFF_RECORDS] + (idx + k - inl) * SNAP_RECORD_WORDS,
				    &out[k]);
		return SNAP_HIT;
	}
	for (uint64_t k = 0; k < count; k++) {
		rec = v->w[SH_OFF_RECORDS] + (idx + k - inl) * SNAP_RECORD_WORDS;
		if (snap_record_dlid(ld(h, k < inl ? base + SLOT_W5 : rec + 5)) != q->dlid)
			continue;
		if (n < max) {
			if (k < inl)
				slot_path(h, base, q->tw, &out[n]);
			else
				record_path(h, rec, &out[n]);
		}
		n++;
	}
	*total = n;
	return n ? SNAP_HIT : SNAP_MISS;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * The seqlock window around f: the active half's sequence, the hot words, f, the sequence again.
 * Returns f's result, or SNAP_MISS when the snapshot is held, empty or kept changing, or
 * -ESTALE.
 */
struct window {
	const struct snap_map *m;
	const _Atomic uint64_t *h;
	struct half_view v;
};

typedef int (*window_fn)(const struct window *w, void *arg);

/* Inlined into each caller, with f known: the single lookup pays no indirect call. */
static inline __attribute__((always_inline)) int in_window(const struct snap_map *m, window_fn f,
							   void *arg, uint64_t *retries)
{
	const struct snap_header *hd = m->hdr;

	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		uint32_t st = atomic_load_explicit(&hd->state, memory_order_acquire);
		uint32_t a, s1, s2;
		struct window w;
		int r;

		if (st == SNAP_REPLACED || st == SNAP_STOPPED)
			return -ESTALE;
		if (st != SNAP_LIVE)
			return SNAP_MISS;
		a = atomic_load_explicit(&hd->active, memory_order_acquire) & 1;
		s1 = atomic_load_explicit(&hd->half[a].seq, memory_order_acquire);
		if (!(s1 & 1)) {
			w.m = m;
			w.h = m->half[a];
			r = half_view_load(m, w.h, &w.v);
			if (!r)
				r = f(&w, arg);
			else if (r == HALF_EMPTY)
				r = SNAP_MISS;
			s2 = atomic_load_explicit(&hd->half[a].seq, memory_order_relaxed);
			if (s1 == s2)
				return r;
		}
		if (retries)
			(*retries)++;
		cpu_relax();
	}
	return SNAP_MISS;
}

struct one {
	const struct snap_query *q;
	struct ibv_path_record *out;
	size_t max, total;
	uint64_t publication;
};

static inline int one_lookup(const struct window *w, void *arg)
{
	struct one *o = arg;

	o->publication = w->v.w[SH_PUBLICATION];
	return lookup_view(w->h, &w->v, o->q, o->out, o->max, true, &o->total);
}

int snap_lookup(const struct snap_map *m, const struct snap_query *q,
		struct ibv_path_record *out, size_t max, size_t *total, uint64_t *publication,
		uint64_t *retries)
{
	struct one o = { q, out, max, 0, 0 };
	int r;

	if (q->by_dgid)
		snap_prefetch_home(m, q->dhash);
	r = in_window(m, one_lookup, &o, retries);

	if (r == SNAP_HIT) {
		if (total)
			*total = o.total;
		if (publication)
			*publication = o.publication;
	}
	return r;
}

struct batch {
	const struct snap_query *qs;
	size_t n;
	struct ibv_path_record *out;
	int *res;
};

/* Where query q's lookup will look first: the three slot lines dgid_find() compares first
 * (DGID), or its DLID slot, brought in early. HOT, not just inline: a function whose only
 * effects are prefetches has none to GCC's interprocedural analysis (pure), which then deletes
 * every call to it (GCC 12 at -O2 did: the batch prefetched nothing). CTest
 * unit.lib_prefetch checks the instructions are in the library.
 * Fetching fewer lines by reading where a home's keys start from the home line first (a skip
 * count in the spare meta bits, a second pipeline stage) was slower - cold batch of 64 at 100k
 * paths 18.5 against 21 M/s, at 1M 11-12 against 15-16 (lib_latency --compare, 2026-12-01):
 * that read is a demand load, and the 28 % of keys not first of their home miss on demand.
 * So were prefetcht1/t2/nta for the two neighbours (no change), a branchless pick of the
 * three lines (+5 % at 100k, -5 % at 1M), and liblocalsa asking for every query's home line
 * while it makes the queries, before the window (+3-8 % at 100k, -2-5 % at 1M). */
HOT void prefetch_query(const struct window *w, const struct snap_query *q)
{
	uint64_t n, off;

	if (q->by_dgid) {
		uint64_t i, i1, i2;

		n = w->v.w[SH_DGID_SLOTS];
		if (!n)
			return;
		off = w->v.w[SH_OFF_DGID];
		i = snap_home(q->dhash, n);
		i1 = next_slot(i, n);
		i2 = next_slot(i1, n);
		/* Slots of the checked view: inside the half. The home line first: the one every
		 * lookup reads (a cold batch at 1M paths 3-10 % faster than with it last,
		 * lib_latency --compare, 6 of 6 runs). */
		__builtin_prefetch((const void *)&w->h[off + i * SNAP_SLOT_WORDS]);
		__builtin_prefetch((const void *)&w->h[off + i1 * SNAP_SLOT_WORDS]);
		__builtin_prefetch((const void *)&w->h[off + i2 * SNAP_SLOT_WORDS]);
		return;
	}
	n = w->v.w[SH_DLID_SLOTS];
	off = w->v.w[SH_OFF_DLID] + snap_home(q->dhash, n) * SNAP_DLID_WORDS;
	if (n)
		__builtin_prefetch((const void *)&w->h[off]);
}

static int batch_lookup(const struct window *w, void *arg)
{
	struct batch *b = arg;
	size_t ahead = b->n < SNAP_BATCH_AHEAD ? b->n : SNAP_BATCH_AHEAD;

	for (size_t i = 0; i < ahead; i++)
		prefetch_query(w, &b->qs[i]);
	for (size_t i = 0; i < b->n; i++) {
		size_t total;

		if (i + ahead < b->n)
			prefetch_query(w, &b->qs[i + ahead]);
		b->res[i] = lookup_view(w->h, &w->v, &b->qs[i], &b->out[i], 1, false, &total);
	}
	return SNAP_HIT;
}

int snap_lookup_batch(const struct snap_map *m, const struct snap_query *qs, size_t n,
		      struct ibv_path_record *out, int *res, uint64_t *retries)
{
	struct batch b = { qs, n, out, res };
	int r = in_window(m, batch_lookup, &b, retries);

	if (r == -ESTALE)
		return r;
	if (r != SNAP_HIT)	/* held, empty, kept changing or nonsense: all miss */
		for (size_t i = 0; i < n; i++)
			res[i] = r == -EIO ? -EIO : SNAP_MISS;
	return 0;
}

/* --- the whole publication --- */

/* n + 1 elements (never 0 bytes), n counted in 64 bits: no wrap on any size_t. */
static void *alloc_n(uint64_t n, size_t size)
{
	if (n >= SIZE_MAX / size)
		return NULL;
	return calloc((size_t)n + 1, size);
}

/*
 * Copies the half described by v (empty: HALF_EMPTY) slot by slot; the caller checks the
 * sequence afterwards. The cold words say how many destinations and paths to expect: the
 * copy is sized by them, after they are checked against the room of the half, and must
 * come out exactly that size.
 */
static int copy_half(const _Atomic uint64_t *h, const struct half_view *v, bool empty,
		     struct snap_contents *c)
{
	uint64_t ngroups = ld(h, SH_NGROUPS), nrecords = ld(h, SH_NRECORDS), groups = 0;

	c->publication = v->w[SH_PUBLICATION];
	if (empty)
		return ngroups || nrecords ? -EIO : 0;
	if (ngroups > v->w[SH_DGID_SLOTS] ||
	    nrecords > v->w[SH_DGID_SLOTS] + v->w[SH_RECORD_SLOTS])
		return -EIO;
	c->ntuples = (uint32_t)v->w[SH_NTUPLES];
	c->tuples = alloc_n(c->ntuples, sizeof(*c->tuples));
	c->groups = alloc_n(ngroups, sizeof(*c->groups));
	c->records = alloc_n(nrecords, sizeof(*c->records));
	if (!c->tuples || !c->groups || !c->records)
		return -ENOMEM;
	for (uint32_t t = 0; t < c->ntuples; t++) {
		uint64_t tw[SNAP_TUPLE_WORDS];

		for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
			tw[i] = ld(h, SH_OFF_TUPLES + (uint64_t)t * SNAP_TUPLE_WORDS + (uint64_t)i);
		snap_tuple_from_words(tw, &c->tuples[t]);
	}
	for (uint64_t i = 0; i < v->w[SH_DGID_SLOTS]; i++) {
		uint64_t base = v->w[SH_OFF_DGID] + i * SNAP_SLOT_WORDS, m = ld(h, base + SLOT_META);
		uint64_t count = snap_meta_count(m), inl = !!(m & SNAP_INLINE);
		uint64_t idx = snap_meta_index(m), tuple = snap_meta_tuple(m);

		if (!(m & SNAP_VALID))
			continue;
		if (groups++ == ngroups || tuple >= c->ntuples || !count)
			return -EIO;
		if (count > SNAP_GROUP_MAX)	/* published without its paths */
			continue;
		if (count > nrecords - c->nrecords || idx + (count - inl) > v->w[SH_RECORD_SLOTS])
			return -EIO;
		c->groups[c->ngroups++] = c->nrecords | count << 32 | tuple << 48;
		for (uint64_t k = 0; k < count; k++) {
			uint64_t tw[SNAP_TUPLE_WORDS];

			snap_gid_words(&c->tuples[tuple].sgid, &tw[0], &tw[1]);
			if (k < inl)
				slot_path(h, base, tw, &c->records[c->nrecords++]);
			else
				record_path(h, v->w[SH_OFF_RECORDS] + (idx + k - inl) *
					    SNAP_RECORD_WORDS, &c->records[c->nrecords++]);
		}
	}
	return groups == ngroups && c->nrecords == nrecords ? 0 : -EIO;
}

int snap_read_all(const struct snap_map *m, struct snap_contents *out)
{
	const struct snap_header *hd = m->hdr;

	memset(out, 0, sizeof(*out));
	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		uint32_t st = atomic_load_explicit(&hd->state, memory_order_acquire);
		uint32_t a, s1;
		const _Atomic uint64_t *h;
		struct half_view v;
		struct snap_contents c = { 0 };
		int r;

		if (st == SNAP_REPLACED || st == SNAP_STOPPED)
			return -ESTALE;
		a = atomic_load_explicit(&hd->active, memory_order_acquire) & 1;
		s1 = atomic_load_explicit(&hd->half[a].seq, memory_order_acquire);
		h = m->half[a];
		if (s1 & 1)
			continue;
		r = half_view_load(m, h, &v);
		if (r >= 0)
			r = copy_half(h, &v, r == HALF_EMPTY, &c);
		if (atomic_load_explicit(&hd->half[a].seq, memory_order_relaxed) != s1) {
			snap_contents_free(&c);
			continue;
		}
		if (r) {
			snap_contents_free(&c);
			return r;
		}
		*out = c;
		return 0;
	}
	return -EAGAIN;
}

void snap_contents_free(struct snap_contents *c)
{
	if (!c)
		return;
	free(c->tuples);
	free(c->groups);
	free(c->records);
	memset(c, 0, sizeof(*c));
}
