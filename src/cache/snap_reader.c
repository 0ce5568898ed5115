/*
 * snap_reader.c - see snap_reader.h. A lookup is a few hash probes and a copy; every load is
 * bounds-checked against the mapping, so a half being rewritten under it can make it retry but
 * never fault or loop, and a corrupt object gives -EIO/-EPROTO, never a fault.
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
	if (dgid) {
		q->dgid = *dgid;
		q->by_dgid = 1;
	}
	if (dlid) {
		q->dlid = *dlid;
		q->by_dlid = 1;
	}
}

/* --- a half's words --- */

static inline uint64_t ld(const _Atomic uint64_t *h, uint64_t i)
{
	return atomic_load_explicit(&h[i], memory_order_acquire);
}

/* A half's header words, checked against the room of the half: -EIO when they make no sense
 * (which, before the seqlock check, may just mean the writer is inside). */
struct half_view {
	uint64_t w[SH_WORDS];
};

static int half_view_load(const struct snap_map *m, const _Atomic uint64_t *h,
			  struct half_view *v)
{
	const uint64_t *x = v->w;

	for (int i = 0; i < SH_WORDS; i++)
		v->w[i] = ld(h, (uint64_t)i);
	if (!x[SH_USED])	/* never written: the empty snapshot of a new object */
		return x[SH_NTUPLES] || x[SH_NGROUPS] || x[SH_NRECORDS] || x[SH_DGID_SLOTS] ||
		       x[SH_DLID_SLOTS] ? -EIO : 0;
	/*
	 * Bounds first, so that no sum below can wrap: every offset and slot count <= USED <=
	 * half_words < 2^61 (the half lies inside the mapping), tuples <= 4096, groups <= records
	 * <= 2^32. (The || evaluates left to right.)
	 */
	if (x[SH_USED] > m->half_words || x[SH_NTUPLES] > PR_TUPLE_MAX ||
	    x[SH_NRECORDS] > UINT32_MAX || x[SH_NGROUPS] > x[SH_NRECORDS] ||
	    x[SH_DGID_SLOTS] > x[SH_USED] || x[SH_DLID_SLOTS] > x[SH_USED])
		return -EIO;
	for (int i = SH_OFF_TUPLES; i <= SH_OFF_DLID; i++)
		if (x[i] > x[SH_USED])
			return -EIO;
	if ((x[SH_DGID_SLOTS] & (x[SH_DGID_SLOTS] - 1)) ||
	    (x[SH_DLID_SLOTS] & (x[SH_DLID_SLOTS] - 1)) ||
	    /* the regions, in the writer's order, none overlapping the next */
	    x[SH_OFF_TUPLES] < SH_WORDS ||
	    x[SH_OFF_TUPLES] + SNAP_TUPLE_WORDS * x[SH_NTUPLES] > x[SH_OFF_GROUPS] ||
	    x[SH_OFF_GROUPS] + x[SH_NGROUPS] > x[SH_OFF_RECORDS] ||
	    x[SH_OFF_RECORDS] + SNAP_RECORD_WORDS * x[SH_NRECORDS] > x[SH_OFF_DGID] ||
	    x[SH_OFF_DGID] + SNAP_DGID_WORDS * x[SH_DGID_SLOTS] > x[SH_OFF_DLID] ||
	    x[SH_OFF_DLID] + SNAP_DLID_WORDS * x[SH_DLID_SLOTS] > x[SH_USED])
		return -EIO;
	return 0;
}

/* --- lookups --- */

static bool tuple_is(const _Atomic uint64_t *h, const struct half_view *v, uint64_t id,
		     const uint64_t tw[SNAP_TUPLE_WORDS])
{
	uint64_t base = v->w[SH_OFF_TUPLES] + id * SNAP_TUPLE_WORDS;

	if (id >= v->w[SH_NTUPLES])
		return false;
	for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
		if (ld(h, base + (uint64_t)i) != tw[i])
			return false;
	return true;
}

/* The group (first, count) of q's destination in one half, or SNAP_MISS. */
static int find_group(const _Atomic uint64_t *h, const struct half_view *v,
		      const struct snap_query *q, uint64_t *first, uint64_t *count,
		      bool *filter_dlid)
{
	if (q->by_dgid) {
		uint64_t n = v->w[SH_DGID_SLOTS], g0, g1, i, meta;

		if (!n)
			return SNAP_MISS;
		snap_gid_words(&q->dgid, &g0, &g1);
		i = snap_dgid_hash(q->thash, g0, g1) & (n - 1);
		for (uint64_t probes = 0; probes < n; probes++, i = (i + 1) & (n - 1)) {
			uint64_t base = v->w[SH_OFF_DGID] + i * SNAP_DGID_WORDS;

			meta = ld(h, base + 2);
			if (!(meta & SNAP_VALID))
				return SNAP_MISS;
			if (ld(h, base) != g0 || ld(h, base + 1) != g1 ||
			    !tuple_is(h, v, snap_group_tuple(meta), q->tw))
				continue;
			*first = snap_group_first(meta);
			*count = snap_group_count(meta);
			*filter_dlid = q->by_dlid;
			return SNAP_HIT;
		}
		return SNAP_MISS;
	}
	if (q->by_dlid) {
		uint64_t n = v->w[SH_DLID_SLOTS], i, key;

		if (!n)
			return SNAP_MISS;
		i = snap_dlid_hash(q->thash, q->dlid) & (n - 1);
		for (uint64_t probes = 0; probes < n; probes++, i = (i + 1) & (n - 1)) {
			uint64_t base = v->w[SH_OFF_DLID] + i * SNAP_DLID_WORDS, val;

			key = ld(h, base);
			if (!(key & SNAP_VALID))
				return SNAP_MISS;
			if ((uint16_t)key != q->dlid ||
			    !tuple_is(h, v, (key >> 16) & SNAP_TUPLE_ID_MASK, q->tw))
				continue;
			if (key & SNAP_AMBIGUOUS)
				return SNAP_MISS;
			val = ld(h, base + 1);
			*first = snap_group_first(val);
			*count = snap_group_count(val);
			*filter_dlid = true;
			return SNAP_HIT;
		}
	}
	return SNAP_MISS;
}

static int lookup_half(const struct snap_map *m, const _Atomic uint64_t *h,
		       const struct snap_query *q, struct ibv_path_record *out, size_t max,
		       size_t *total, uint64_t *publication)
{
	struct half_view v;
	uint64_t first = 0, count = 0, rec;
	bool filter = false;
	size_t n = 0;
	int r;

	r = half_view_load(m, h, &v);
	if (r)
		return r;
	*publication = v.w[SH_PUBLICATION];
	r = find_group(h, &v, q, &first, &count, &filter);
	if (r != SNAP_HIT)
		return r;
	if (!count || count > SNAP_GROUP_MAX)
		return SNAP_MISS;
	if (first + count > v.w[SH_NRECORDS])	/* first < 2^32, count < 2^16 */
		return -EIO;
	rec = v.w[SH_OFF_RECORDS] + first * SNAP_RECORD_WORDS;
	for (uint64_t i = 0; i < count; i++, rec += SNAP_RECORD_WORDS) {
		if (filter && snap_record_dlid(ld(h, rec + 5)) != q->dlid)
			continue;
		if (n < max) {
			uint64_t w[SNAP_RECORD_WORDS];

			for (int k = 0; k < SNAP_RECORD_WORDS; k++)
				w[k] = ld(h, rec + (uint64_t)k);
			memcpy(&out[n], w, sizeof(w));
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

int snap_lookup(const struct snap_map *m, const struct snap_query *q,
		struct ibv_path_record *out, size_t max, size_t *total, uint64_t *publication,
		uint64_t *retries)
{
	const struct snap_header *hd = m->hdr;

	for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
		uint32_t st = atomic_load_explicit(&hd->state, memory_order_acquire);
		uint32_t a, s1, s2;
		uint64_t pub = 0;
		size_t n = 0;
		int r;

		if (st == SNAP_REPLACED || st == SNAP_STOPPED)
			return -ESTALE;
		if (st != SNAP_LIVE)
			return SNAP_MISS;
		a = atomic_load_explicit(&hd->active, memory_order_acquire) & 1;
		s1 = atomic_load_explicit(&hd->half[a].seq, memory_order_acquire);
		if (!(s1 & 1)) {
			r = lookup_half(m, m->half[a], q, out, max, &n, &pub);
			s2 = atomic_load_explicit(&hd->half[a].seq, memory_order_relaxed);
			if (s1 == s2) {
				if (r == SNAP_HIT) {
					if (total)
						*total = n;
					if (publication)
						*publication = pub;
				}
				return r;
			}
		}
		if (retries)
			(*retries)++;
		cpu_relax();
	}
	return SNAP_MISS;
}

/* --- the whole publication --- */

/* n + 1 elements (never 0 bytes), n counted in 64 bits: no wrap on any size_t. */
static void *alloc_n(uint64_t n, size_t size)
{
	if (n >= SIZE_MAX / size)
		return NULL;
	return calloc((size_t)n + 1, size);
}

/* Copies the half described by v; the caller checks the sequence afterwards. */
static int copy_half(const _Atomic uint64_t *h, const struct half_view *v,
		     struct snap_contents *c)
{
	c->publication = v->w[SH_PUBLICATION];
	c->ntuples = (uint32_t)v->w[SH_NTUPLES];
	c->ngroups = (uint32_t)v->w[SH_NGROUPS];
	c->nrecords = (uint32_t)v->w[SH_NRECORDS];
	/* each at most the size of its region of the half, which lies inside the mapping */
	c->tuples = alloc_n(c->ntuples, sizeof(*c->tuples));
	c->groups = alloc_n(c->ngroups, sizeof(*c->groups));
	c->records = alloc_n(c->nrecords, sizeof(*c->records));
	if (!c->tuples || !c->groups || !c->records)
		return -ENOMEM;
	for (uint32_t t = 0; t < c->ntuples; t++) {
		uint64_t tw[SNAP_TUPLE_WORDS];

		for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
			tw[i] = ld(h, v->w[SH_OFF_TUPLES] + (uint64_t)t * SNAP_TUPLE_WORDS + (uint64_t)i);
		snap_tuple_from_words(tw, &c->tuples[t]);
	}
	for (uint32_t g = 0; g < c->ngroups; g++)
		c->groups[g] = ld(h, v->w[SH_OFF_GROUPS] + g);
	for (uint32_t r = 0; r < c->nrecords; r++) {
		uint64_t w[SNAP_RECORD_WORDS];

		for (int k = 0; k < SNAP_RECORD_WORDS; k++)
			w[k] = ld(h, v->w[SH_OFF_RECORDS] + (uint64_t)r * SNAP_RECORD_WORDS + (uint64_t)k);
		memcpy(&c->records[r], w, sizeof(w));
	}
	return 0;
}

/* Groups tile the records in order (a group's size is the distance to the next). */
static bool groups_tile(const struct snap_contents *c)
{
	if (!c->ngroups)
		return c->nrecords == 0;
	if (snap_group_first(c->groups[0]) != 0)
		return false;
	for (uint32_t g = 0; g < c->ngroups; g++)
		if (snap_group_first(c->groups[g]) >= c->nrecords ||
		    (g && snap_group_first(c->groups[g]) <= snap_group_first(c->groups[g - 1])) ||
		    snap_group_tuple(c->groups[g]) >= c->ntuples)
			return false;
	return true;
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
		if (!r)
			r = copy_half(h, &v, &c);
		if (atomic_load_explicit(&hd->half[a].seq, memory_order_relaxed) != s1) {
			snap_contents_free(&c);
			continue;
		}
		if (!r && !groups_tile(&c))
			r = -EIO;
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
