/*
 * snapshot.c - see snapshot.h. The writer rebuilds a whole half per publication: O(paths), a
 * sequential pass over the cache with one hash insert per destination and per DLID, no malloc.
 * The reader is a few hash probes and a copy, all loads bounds-checked against the mapping, so a
 * half being rewritten under it can make it retry but never fault or loop.
 */
#include "cache/hash.h"
#include "cache/snapshot.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct snap_header) <= SNAP_HEADER_SIZE, "the header fits its page");
_Static_assert(offsetof(struct snap_header, abi) == 4, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, object_id) == 16, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, half_offset) == 32, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, port_gid) == 56, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, control_socket) == 80, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, state) == 240, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, publication) == 248, "ABI 1 header layout");
_Static_assert(offsetof(struct snap_header, half) == 256, "ABI 1 header layout");
_Static_assert(sizeof(struct snap_header) == 384, "ABI 1 header layout");
_Static_assert(sizeof(struct ibv_path_record) == 64, "a record is 8 words");
_Static_assert(offsetof(struct ibv_path_record, dlid) == 40, "the DLID sits in word 5");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit words");
_Static_assert(PR_TUPLE_MAX <= 4096, "tuple ids fit 12 bits");

#define PAGE 4096u
#define MIN_HALF (1u << 20)
#define MAX_RETRIES 64		/* a reader retries only when two publications overtake it */
#define VALID (1ULL << 63)
#define AMBIGUOUS (1ULL << 62)
#define TUPLE_WORDS 4
#define RECORD_WORDS 8
#define DGID_WORDS 3
#define DLID_WORDS 2

/* --- hashing: part of the format, both sides must agree --- */

static uint64_t tuple_hash(const uint64_t w[TUPLE_WORDS])
{
	return mix64(w[0] ^ mix64(w[1] ^ mix64(w[2] ^ mix64(w[3]))));
}

static inline void gid_words(const union ibv_gid *g, uint64_t *g0, uint64_t *g1)
{
	memcpy(g0, g->raw, 8);
	memcpy(g1, g->raw + 8, 8);
}

static inline uint64_t dgid_hash(uint64_t thash, uint64_t g0, uint64_t g1)
{
	return mix64(thash ^ mix64(g0 ^ mix64(g1 + 0x9e3779b97f4a7c15ULL)));
}

static inline uint64_t dlid_hash(uint64_t thash, uint16_t dlid)
{
	return mix64(thash + ((uint64_t)dlid + 1) * 0x632be59bd9b4e019ULL);
}

void snap_tuple_words(const struct pr_tuple *t, uint64_t w[TUPLE_WORDS])
{
	uint8_t f = t->flags & PR_TUPLE_ALL_FLAGS;
	uint64_t pkey = f & PR_TUPLE_PKEY ? t->pkey : 0;
	uint64_t qc = f & PR_TUPLE_QOS_CLASS ? t->qos_class & 0xfff : 0;
	uint64_t sl = f & PR_TUPLE_SL ? t->sl & 0xf : 0;
	uint64_t tc = f & PR_TUPLE_TCLASS ? t->tclass : 0;

	gid_words(&t->sgid, &w[0], &w[1]);
	w[2] = f & PR_TUPLE_SERVICE_ID ? t->service_id : 0;
	w[3] = pkey | qc << 16 | sl << 32 | tc << 40 | (uint64_t)f << 48 | VALID;
}

static void tuple_from_words(const uint64_t w[TUPLE_WORDS], struct pr_tuple *t)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->sgid.raw, &w[0], 8);
	memcpy(t->sgid.raw + 8, &w[1], 8);
	t->service_id = w[2];
	t->pkey = (uint16_t)w[3];
	t->qos_class = (uint16_t)(w[3] >> 16) & 0xfff;
	t->sl = (uint8_t)(w[3] >> 32) & 0xf;
	t->tclass = (uint8_t)(w[3] >> 40);
	t->flags = (uint8_t)(w[3] >> 48) & PR_TUPLE_ALL_FLAGS;
}

void snap_query_init(struct snap_query *q, const struct pr_tuple *t, const union ibv_gid *dgid,
		     const uint16_t *dlid)
{
	memset(q, 0, sizeof(*q));
	snap_tuple_words(t, q->tw);
	q->thash = tuple_hash(q->tw);
	if (dgid) {
		q->dgid = *dgid;
		q->by_dgid = 1;
	}
	if (dlid) {
		q->dlid = *dlid;
		q->by_dlid = 1;
	}
}

static inline uint16_t word_dlid(uint64_t w5)
{
	uint8_t b[8];

	memcpy(b, &w5, 8);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint64_t pow2_slots(uint64_t keys)
{
	uint64_t n = 8;

	if (!keys)
		return 0;
	while (n < keys + keys / 3 + 1)	/* load <= 3/4 */
		n <<= 1;
	return n;
}

/* --- the writer --- */

/* One shm object as the writer holds it. */
struct snap_object {
	int fd;
	struct snap_header *hdr;
	uint64_t size;
	_Atomic uint64_t *half[2];
	uint64_t half_size;
	uint64_t backed[2];	/* bytes of each half known to have memory behind them */
	uint32_t seq[2];
};

struct snap_writer {
	char name[NAME_MAX + 1];
	mode_t mode;
	struct snap_writer_opts opts;
	char socket[SNAP_SOCKET_MAX];
	struct snap_object obj;
	uint32_t object_gen;
	uint64_t publication;
	enum snap_state state;
	struct snap_writer_stats st;
};

static inline void put(_Atomic uint64_t *h, uint64_t i, uint64_t v)
{
	atomic_store_explicit(&h[i], v, memory_order_release);
}

static inline uint64_t own(const _Atomic uint64_t *h, uint64_t i)
{
	return atomic_load_explicit(&h[i], memory_order_relaxed);
}

static uint64_t random_id(void)
{
	uint64_t id;
	struct timespec ts;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == (ssize_t)sizeof(id) && id)
		return id;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 48) | 1;
}

/* Give memory to [off, off+len) of the object now, so that a full /dev/shm is an error here
 * rather than a SIGBUS in the middle of a publication. */
static int back(int fd, uint64_t off, uint64_t len)
{
	int r;

	if (!len)
		return 0;
	do {
		r = fallocate(fd, 0, (off_t)off, (off_t)len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* Readers that were inside any half must retry, then see state s; the memory is released. */
static void object_retire(struct snap_object *o, enum snap_state s)
{
	if (!o->hdr)
		return;
	atomic_store_explicit(&o->hdr->state, s, memory_order_release);
	for (int h = 0; h < 2; h++) {
		uint32_t v = atomic_load_explicit(&o->hdr->half[h].seq, memory_order_relaxed);

		atomic_store_explicit(&o->hdr->half[h].seq, v | 1, memory_order_release);
	}
	(void)fallocate(o->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, SNAP_HEADER_SIZE,
			(off_t)(o->size - SNAP_HEADER_SIZE));
	munmap(o->hdr, o->size);
	close(o->fd);
	o->hdr = NULL;
	o->fd = -1;
}

/*
 * An object of our name left by a writer that is gone (crashed): retire it so that its readers
 * move on, and remember its generation and publication counter. A live writer keeps an
 * exclusive flock on its object for as long as it runs.
 */
static int retire_leftover(struct snap_writer *w)
{
	struct stat st;
	int fd = shm_open(w->name, O_RDWR | O_CLOEXEC, 0);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;

		close(fd);
		return r;
	}
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= SNAP_HEADER_SIZE) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (p != MAP_FAILED) {
			struct snap_header *hdr = p;

			if (atomic_load(&hdr->magic) == SNAP_MAGIC && hdr->abi == SNAP_ABI &&
			    hdr->object_size == (uint64_t)st.st_size) {
				struct snap_object old = { .fd = fd, .hdr = hdr, .size = hdr->object_size };

				w->object_gen = hdr->object_gen;
				w->publication = atomic_load(&hdr->publication);
				shm_unlink(w->name);
				object_retire(&old, SNAP_REPLACED);
				return 0;
			}
			munmap(p, (size_t)st.st_size);
		}
	}
	shm_unlink(w->name);
	close(fd);
	return 0;
}

/* Creates, locks, sizes and maps a new object under w->name; its half 0 is a valid empty
 * snapshot (zeros) and it is visible to readers (magic) when this returns 0. */
static int object_create(struct snap_writer *w, uint64_t half_size, struct snap_object *o)
{
	struct snap_header *hdr;
	uint64_t size = SNAP_HEADER_SIZE + 2 * half_size;
	void *p;
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = shm_open(w->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (o->fd < 0)
		return errno == EEXIST ? -EADDRINUSE : -errno;
	if (flock(o->fd, LOCK_EX | LOCK_NB) < 0 || fchmod(o->fd, w->mode) < 0 ||
	    ftruncate(o->fd, (off_t)size) < 0) {
		r = -errno;
		goto out_unlink;
	}
	/* The header and the first page of each half: all a reader of an empty snapshot touches. */
	r = back(o->fd, 0, SNAP_HEADER_SIZE + PAGE);
	if (!r)
		r = back(o->fd, SNAP_HEADER_SIZE + half_size, PAGE);
	if (r)
		goto out_unlink;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out_unlink;
	}
	hdr = p;
	o->hdr = hdr;
	o->size = size;
	o->half_size = half_size;
	o->half[0] = (_Atomic uint64_t *)((char *)p + SNAP_HEADER_SIZE);
	o->half[1] = (_Atomic uint64_t *)((char *)p + SNAP_HEADER_SIZE + half_size);
	o->backed[0] = o->backed[1] = PAGE;

	hdr->abi = SNAP_ABI;
	hdr->header_size = SNAP_HEADER_SIZE;
	hdr->object_gen = ++w->object_gen;
	hdr->object_id = random_id();
	hdr->object_size = size;
	hdr->half_offset[0] = SNAP_HEADER_SIZE;
	hdr->half_offset[1] = SNAP_HEADER_SIZE + half_size;
	hdr->half_size = half_size;
	memcpy(hdr->port_gid, w->opts.port_gid.raw, 16);
	hdr->port_lid = w->opts.port_lid;
	memcpy(hdr->control_socket, w->socket, SNAP_SOCKET_MAX);
	atomic_store_explicit(&hdr->state, w->state, memory_order_relaxed);
	atomic_store_explicit(&hdr->active, 0, memory_order_relaxed);
	atomic_store_explicit(&hdr->publication, w->publication, memory_order_relaxed);
	atomic_store_explicit(&hdr->magic, SNAP_MAGIC, memory_order_release);
	return 0;

out_unlink:
	shm_unlink(w->name);
	close(o->fd);
	o->fd = -1;
	return r;
}

static int name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 2 && n <= NAME_MAX && name[0] == '/' && !strchr(name + 1, '/');
}

int snap_writer_open(const struct snap_writer_opts *o, struct snap_writer **out)
{
	struct snap_writer *w;
	int r;

	if (!o || !out || !name_ok(o->name) ||
	    (o->control_socket && strlen(o->control_socket) >= SNAP_SOCKET_MAX))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	strcpy(w->name, o->name);
	w->opts = *o;
	w->opts.name = w->name;
	if (o->control_socket)
		strcpy(w->socket, o->control_socket);
	w->opts.control_socket = w->socket;
	if (!w->opts.min_half_size)
		w->opts.min_half_size = MIN_HALF;
	w->opts.min_half_size = (w->opts.min_half_size + PAGE - 1) / PAGE * PAGE;
	w->mode = 0600 | ((o->socket_mode & 0070) ? 0040 : 0) | ((o->socket_mode & 0007) ? 0004 : 0);
	w->state = SNAP_LIVE;
	w->obj.fd = -1;
	r = retire_leftover(w);
	if (!r)
		r = object_create(w, w->opts.min_half_size, &w->obj);
	if (r) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

/* --- building a half --- */

struct build {
	_Atomic uint64_t *h;
	const struct pr_cache *c;
	uint64_t off_tuples, off_groups, off_records, off_dgid, off_dlid;
	uint64_t dslots, lslots;
	uint64_t ntuples, max_groups, max_records, ngroups, nrecords;
	uint64_t *thash;		/* per tuple id */
	bool open;			/* a group is being written */
	uint16_t gtuple;
	union ibv_gid gdgid;
	uint64_t gfirst;
	int err;
};

/*
 * The indexes are filled after the records, group by group in record order, with the slot of
 * the group PREFETCH_GROUPS ahead prefetched: a random slot is a cache miss, and overlapping
 * them roughly halves the build time of a large snapshot.
 */
#define PREFETCH_GROUPS 16

/* Slot of group g's DGID in the DGID table (first probe). */
static uint64_t dgid_slot(const struct build *b, uint64_t g, uint64_t *g0, uint64_t *g1,
			  uint16_t *tuple)
{
	uint64_t gw = own(b->h, b->off_groups + g);
	uint64_t rec = b->off_records + (uint64_t)snap_group_first(gw) * RECORD_WORDS;

	*tuple = snap_group_tuple(gw);
	*g0 = own(b->h, rec + 1);	/* dgid: bytes 8..23 of the record */
	*g1 = own(b->h, rec + 2);
	return dgid_hash(b->thash[*tuple], *g0, *g1) & (b->dslots - 1);
}

static void dgid_insert(struct build *b, uint64_t g, uint64_t first, uint64_t count)
{
	uint64_t g0, g1, mask = b->dslots - 1, i;
	uint16_t tuple;

	i = dgid_slot(b, g, &g0, &g1, &tuple);
	while (own(b->h, b->off_dgid + i * DGID_WORDS + 2) & VALID)
		i = (i + 1) & mask;	/* terminates: load <= 3/4 */
	put(b->h, b->off_dgid + i * DGID_WORDS, g0);
	put(b->h, b->off_dgid + i * DGID_WORDS + 1, g1);
	put(b->h, b->off_dgid + i * DGID_WORDS + 2,
	    first | count << 32 | (uint64_t)tuple << 48 | VALID);
}

static uint64_t record_dlid_slot(const struct build *b, uint64_t r, uint16_t tuple,
				 uint16_t *dlid)
{
	*dlid = word_dlid(own(b->h, b->off_records + r * RECORD_WORDS + 5));
	return dlid_hash(b->thash[tuple], *dlid) & (b->lslots - 1);
}

/* A DLID seen again in the same group is a no-op; in another group it becomes AMBIGUOUS. */
static void dlid_insert(struct build *b, uint64_t r, uint16_t tuple, uint64_t first,
			uint64_t count)
{
	uint64_t mask = b->lslots - 1, i, k, key;
	uint16_t dlid;

	i = record_dlid_slot(b, r, tuple, &dlid);
	key = dlid | (uint64_t)tuple << 16 | VALID;
	while ((k = own(b->h, b->off_dlid + i * DLID_WORDS)) & VALID) {
		if ((k & ~AMBIGUOUS) == key) {
			if ((uint32_t)own(b->h, b->off_dlid + i * DLID_WORDS + 1) != first)
				put(b->h, b->off_dlid + i * DLID_WORDS, k | AMBIGUOUS);
			return;
		}
		i = (i + 1) & mask;
	}
	put(b->h, b->off_dlid + i * DLID_WORDS, key);
	put(b->h, b->off_dlid + i * DLID_WORDS + 1, first | count << 32);
}

static void group_close(struct build *b)
{
	uint64_t count = b->nrecords - b->gfirst;
	uint64_t shown = count > SNAP_GROUP_MAX ? SNAP_GROUP_MAX + 1 : count;

	if (!b->open)
		return;
	b->open = false;
	put(b->h, b->off_groups + b->ngroups++,
	    b->gfirst | shown << 32 | (uint64_t)b->gtuple << 48);
}

/* Both indexes, from the groups and records already written. */
static void build_indexes(struct build *b)
{
	for (uint64_t g = 0; g < b->ngroups; g++) {
		uint64_t gw = own(b->h, b->off_groups + g), g0, g1;
		uint16_t t;

		if (g + PREFETCH_GROUPS < b->ngroups)
			__builtin_prefetch((const void *)&b->h[b->off_dgid + DGID_WORDS *
				dgid_slot(b, g + PREFETCH_GROUPS, &g0, &g1, &t)], 1);
		dgid_insert(b, g, snap_group_first(gw), (gw >> 32) & 0xffff);
	}
	for (uint64_t g = 0, r = 0; g < b->ngroups; g++) {
		uint64_t gw = own(b->h, b->off_groups + g);
		uint64_t end = g + 1 < b->ngroups ?
			snap_group_first(own(b->h, b->off_groups + g + 1)) : b->nrecords;

		for (; r < end; r++) {
			uint16_t dlid;

			if (r + PREFETCH_GROUPS < b->nrecords) {
				uint64_t ahead = r + PREFETCH_GROUPS;
				/* the tuple of a record ahead: its group's, or (rarely) a later one;
				 * a wrong guess only costs a useless prefetch */
				__builtin_prefetch((const void *)&b->h[b->off_dlid + DLID_WORDS *
					record_dlid_slot(b, ahead, snap_group_tuple(gw), &dlid)], 1);
			}
			dlid_insert(b, r, snap_group_tuple(gw), snap_group_first(gw),
				    (gw >> 32) & 0xffff);
		}
	}
}

static bool build_entry(const struct pr_entry *e, void *arg)
{
	struct build *b = arg;
	uint64_t w[RECORD_WORDS];

	if (!b->open || e->tuple != b->gtuple || memcmp(e->rec.dgid.raw, b->gdgid.raw, 16)) {
		group_close(b);
		if (b->ngroups == b->max_groups || e->tuple >= b->ntuples) {
			b->err = -EOVERFLOW;
			return false;
		}
		b->open = true;
		b->gtuple = e->tuple;
		memcpy(b->gdgid.raw, e->rec.dgid.raw, 16);
		b->gfirst = b->nrecords;
	}
	if (b->nrecords == b->max_records) {
		b->err = -EOVERFLOW;
		return false;
	}
	memcpy(w, &e->rec, sizeof(w));
	for (int i = 0; i < RECORD_WORDS; i++)
		put(b->h, b->off_records + b->nrecords * RECORD_WORDS + (uint64_t)i, w[i]);
	b->nrecords++;
	return true;
}

/* Writes the cache into half hx of o, inside its seqlock window. The layout was sized from st. */
static int build_half(struct snap_writer *w, struct snap_object *o, int hx,
		      const struct pr_cache *c, const struct pr_cache_stats *st, uint32_t generation)
{
	struct build b = { .h = o->half[hx], .c = c };
	_Atomic uint64_t *h = o->half[hx];
	uint64_t used;
	int r = 0;

	b.ntuples = st->tuples;
	b.max_groups = st->destinations;
	b.max_records = st->entries;
	b.dslots = pow2_slots(b.max_groups);
	b.lslots = pow2_slots(b.max_records);
	b.off_tuples = SH_WORDS;
	b.off_groups = b.off_tuples + TUPLE_WORDS * b.ntuples;
	b.off_records = b.off_groups + b.max_groups;
	b.off_dgid = b.off_records + RECORD_WORDS * b.max_records;
	b.off_dlid = b.off_dgid + DGID_WORDS * b.dslots;
	used = b.off_dlid + DLID_WORDS * b.lslots;
	b.thash = malloc((b.ntuples ? b.ntuples : 1) * sizeof(*b.thash));
	if (!b.thash)
		return -ENOMEM;

	atomic_store_explicit(&o->hdr->half[hx].seq, ++o->seq[hx], memory_order_relaxed);
	for (uint64_t i = b.off_dgid; i < used; i++)
		put(h, i, 0);
	for (uint64_t t = 0; t < b.ntuples; t++) {
		const struct pr_tuple *tp = pr_cache_tuple_get(c, (uint16_t)t);
		uint64_t tw[TUPLE_WORDS] = { 0 };

		if (tp)
			snap_tuple_words(tp, tw);
		b.thash[t] = tuple_hash(tw);
		for (int i = 0; i < TUPLE_WORDS; i++)
			put(h, b.off_tuples + t * TUPLE_WORDS + (uint64_t)i, tw[i]);
	}
	pr_cache_foreach(c, build_entry, &b);
	group_close(&b);
	if (!b.err)
		build_indexes(&b);
	if (b.err)
		r = b.err;
	else if (b.nrecords != b.max_records)
		r = -EOVERFLOW;	/* the counts lied: never publish a short snapshot */
	/* A failed build leaves the half empty, never half-written: readers may still come here. */
	put(h, SH_PUBLICATION, w->publication + 1);
	put(h, SH_CACHE_GENERATION, generation);
	put(h, SH_CACHE_CHANGES, pr_cache_changes(c));
	put(h, SH_NTUPLES, r ? 0 : b.ntuples);
	put(h, SH_NGROUPS, r ? 0 : b.ngroups);
	put(h, SH_NRECORDS, r ? 0 : b.nrecords);
	put(h, SH_DGID_SLOTS, r ? 0 : b.dslots);
	put(h, SH_DLID_SLOTS, r ? 0 : b.lslots);
	put(h, SH_OFF_TUPLES, b.off_tuples);
	put(h, SH_OFF_GROUPS, b.off_groups);
	put(h, SH_OFF_RECORDS, b.off_records);
	put(h, SH_OFF_DGID, b.off_dgid);
	put(h, SH_OFF_DLID, b.off_dlid);
	put(h, SH_USED, used);
	atomic_store_explicit(&o->hdr->half[hx].seq, ++o->seq[hx], memory_order_release);
	free(b.thash);
	if (!r) {
		w->st.records = b.nrecords;
		w->st.groups = b.ngroups;
		w->st.half_used = used * 8;
	}
	return r;
}

static uint64_t layout_bytes(const struct pr_cache_stats *st)
{
	return 8 * (SH_WORDS + TUPLE_WORDS * st->tuples + st->destinations +
		    RECORD_WORDS * st->entries + DGID_WORDS * pow2_slots(st->destinations) +
		    DLID_WORDS * pow2_slots(st->entries));
}

/* Publish into o's inactive half and flip. */
static int publish_into(struct snap_writer *w, struct snap_object *o, const struct pr_cache *c,
			const struct pr_cache_stats *st, uint32_t generation)
{
	int hx = 1 - (int)atomic_load_explicit(&o->hdr->active, memory_order_relaxed);
	uint64_t need = (layout_bytes(st) + PAGE - 1) / PAGE * PAGE;
	int r;

	if (need > o->backed[hx]) {
		r = back(o->fd, o->hdr->half_offset[hx] + o->backed[hx], need - o->backed[hx]);
		if (r)
			return r;
		o->backed[hx] = need;
	}
	r = build_half(w, o, hx, c, st, generation);
	if (r)
		return r;
	atomic_store_explicit(&o->hdr->active, (uint32_t)hx, memory_order_release);
	atomic_store_explicit(&o->hdr->publication, ++w->publication, memory_order_release);
	w->st.publications++;
	return 0;
}

/*
 * The cache outgrew the object: a new one, twice the size needed, under the same name. The name
 * is free between the unlink and the create (new readers fall back to the daemon for that
 * moment); readers of the old object go on reading it until they see REPLACED.
 */
static int grow(struct snap_writer *w, const struct pr_cache *c, const struct pr_cache_stats *st,
		uint32_t generation)
{
	struct snap_object n;
	uint64_t half = (2 * layout_bytes(st) + PAGE - 1) / PAGE * PAGE;
	int r;

	if (half < w->opts.min_half_size)
		half = w->opts.min_half_size;
	shm_unlink(w->name);
	r = object_create(w, half, &n);
	if (r)
		return r;	/* the old object goes on serving its readers */
	r = publish_into(w, &n, c, st, generation);
	if (r) {
		object_retire(&n, SNAP_REPLACED);
		shm_unlink(w->name);
		return r;
	}
	object_retire(&w->obj, SNAP_REPLACED);
	w->obj = n;
	w->st.recreations++;
	return 0;
}

int snap_writer_publish(struct snap_writer *w, const struct pr_cache *c, uint32_t generation)
{
	struct pr_cache_stats st;

	if (!w || !c)
		return -EINVAL;
	pr_cache_stats(c, &st);
	if (st.entries > UINT32_MAX / RECORD_WORDS || st.destinations > st.entries)
		return -EOVERFLOW;
	if (!w->obj.hdr || layout_bytes(&st) > w->obj.half_size)
		return grow(w, c, &st, generation);
	return publish_into(w, &w->obj, c, &st, generation);
}

int snap_writer_set_state(struct snap_writer *w, enum snap_state s)
{
	if (!w || (s != SNAP_LIVE && s != SNAP_HOLD))
		return -EINVAL;
	w->state = s;
	if (w->obj.hdr)
		atomic_store_explicit(&w->obj.hdr->state, s, memory_order_release);
	return 0;
}

void snap_writer_stats(const struct snap_writer *w, struct snap_writer_stats *out)
{
	*out = w->st;
	out->publication = w->publication;
	out->object_size = w->obj.hdr ? w->obj.size : 0;
	out->object_gen = w->object_gen;
	out->state = w->state;
}

void snap_writer_close(struct snap_writer *w)
{
	if (!w)
		return;
	if (w->obj.hdr) {
		shm_unlink(w->name);
		object_retire(&w->obj, SNAP_STOPPED);
	}
	free(w);
}

/* --- the reader --- */

int snap_map_open(const char *name, struct snap_map *m)
{
	const struct snap_header *hdr;
	struct stat st;
	void *p;
	int fd, r;

	if (!name_ok(name) || !m)
		return -EINVAL;
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((uint64_t)st.st_size < SNAP_HEADER_SIZE) {
		close(fd);
		return -EAGAIN;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	r = -errno;
	close(fd);
	if (p == MAP_FAILED)
		return r;
	hdr = p;
	r = 0;
	switch (atomic_load_explicit(&hdr->magic, memory_order_acquire)) {
	case SNAP_MAGIC:
		break;
	case 0:
		r = -EAGAIN;
		break;
	default:
		r = -EPROTO;
	}
	if (!r && (hdr->abi != SNAP_ABI || hdr->header_size != SNAP_HEADER_SIZE ||
		   hdr->object_size != (uint64_t)st.st_size || hdr->half_size % 8 ||
		   hdr->half_offset[0] < SNAP_HEADER_SIZE || hdr->half_offset[1] < SNAP_HEADER_SIZE ||
		   hdr->half_offset[0] % 8 || hdr->half_offset[1] % 8 ||
		   hdr->half_offset[0] + hdr->half_size > hdr->object_size ||
		   hdr->half_offset[1] + hdr->half_size > hdr->object_size))
		r = -EPROTO;
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

void snap_writer_map(const struct snap_writer *w, struct snap_map *m)
{
	const struct snap_object *o = &w->obj;

	memset(m, 0, sizeof(*m));
	m->hdr = o->hdr;
	m->half[0] = o->half[0];
	m->half[1] = o->half[1];
	m->half_words = o->half_size / 8;
	m->object_id = o->hdr->object_id;
	m->object_gen = o->hdr->object_gen;
	/* size 0: not ours to unmap */
}

void snap_map_close(struct snap_map *m)
{
	if (!m || !m->hdr)
		return;
	if (m->size)
		munmap((void *)m->hdr, m->size);
	m->hdr = NULL;
}

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
		return x[SH_NTUPLES] || x[SH_NRECORDS] || x[SH_DGID_SLOTS] || x[SH_DLID_SLOTS] ?
			       -EIO : 0;
	/* each term below stays far from overflowing: offsets and counts are bounded first */
	for (int i = SH_OFF_TUPLES; i <= SH_OFF_DLID; i++)
		if (x[i] > x[SH_USED])
			return -EIO;
	if (x[SH_DGID_SLOTS] > x[SH_USED] || x[SH_DLID_SLOTS] > x[SH_USED])
		return -EIO;
	if (x[SH_USED] > m->half_words || x[SH_NTUPLES] > PR_TUPLE_MAX ||
	    x[SH_NRECORDS] > UINT32_MAX || x[SH_NGROUPS] > x[SH_NRECORDS] ||
	    (x[SH_DGID_SLOTS] & (x[SH_DGID_SLOTS] - 1)) ||
	    (x[SH_DLID_SLOTS] & (x[SH_DLID_SLOTS] - 1)) ||
	    /* the regions, in the writer's order, none overlapping the next */
	    x[SH_OFF_TUPLES] < SH_WORDS ||
	    x[SH_OFF_TUPLES] + TUPLE_WORDS * x[SH_NTUPLES] > x[SH_OFF_GROUPS] ||
	    x[SH_OFF_GROUPS] + x[SH_NGROUPS] > x[SH_OFF_RECORDS] ||
	    x[SH_OFF_RECORDS] + RECORD_WORDS * x[SH_NRECORDS] > x[SH_OFF_DGID] ||
	    x[SH_OFF_DGID] + DGID_WORDS * x[SH_DGID_SLOTS] > x[SH_OFF_DLID] ||
	    x[SH_OFF_DLID] + DLID_WORDS * x[SH_DLID_SLOTS] > x[SH_USED])
		return -EIO;
	return 0;
}

static bool tuple_is(const _Atomic uint64_t *h, const struct half_view *v, uint64_t id,
		     const uint64_t tw[TUPLE_WORDS])
{
	uint64_t base = v->w[SH_OFF_TUPLES] + id * TUPLE_WORDS;

	if (id >= v->w[SH_NTUPLES])
		return false;
	for (int i = 0; i < TUPLE_WORDS; i++)
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
		gid_words(&q->dgid, &g0, &g1);
		i = dgid_hash(q->thash, g0, g1) & (n - 1);
		for (uint64_t probes = 0; probes < n; probes++, i = (i + 1) & (n - 1)) {
			uint64_t base = v->w[SH_OFF_DGID] + i * DGID_WORDS;

			meta = ld(h, base + 2);
			if (!(meta & VALID))
				return SNAP_MISS;
			if (ld(h, base) != g0 || ld(h, base + 1) != g1 ||
			    !tuple_is(h, v, (meta >> 48) & 0xfff, q->tw))
				continue;
			*first = (uint32_t)meta;
			*count = (meta >> 32) & 0xffff;
			*filter_dlid = q->by_dlid;
			return SNAP_HIT;
		}
		return SNAP_MISS;
	}
	if (q->by_dlid) {
		uint64_t n = v->w[SH_DLID_SLOTS], i, key;

		if (!n)
			return SNAP_MISS;
		i = dlid_hash(q->thash, q->dlid) & (n - 1);
		for (uint64_t probes = 0; probes < n; probes++, i = (i + 1) & (n - 1)) {
			uint64_t base = v->w[SH_OFF_DLID] + i * DLID_WORDS, val;

			key = ld(h, base);
			if (!(key & VALID))
				return SNAP_MISS;
			if ((uint16_t)key != q->dlid || !tuple_is(h, v, (key >> 16) & 0xfff, q->tw))
				continue;
			if (key & AMBIGUOUS)
				return SNAP_MISS;
			val = ld(h, base + 1);
			*first = (uint32_t)val;
			*count = (val >> 32) & 0xffff;
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
	if (first + count > v.w[SH_NRECORDS])
		return -EIO;
	rec = v.w[SH_OFF_RECORDS] + first * RECORD_WORDS;
	for (uint64_t i = 0; i < count; i++, rec += RECORD_WORDS) {
		if (filter && word_dlid(ld(h, rec + 5)) != q->dlid)
			continue;
		if (n < max) {
			uint64_t w[RECORD_WORDS];

			for (int k = 0; k < RECORD_WORDS; k++)
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
		bool ok = true;

		if (st == SNAP_REPLACED || st == SNAP_STOPPED)
			return -ESTALE;
		a = atomic_load_explicit(&hd->active, memory_order_acquire) & 1;
		s1 = atomic_load_explicit(&hd->half[a].seq, memory_order_acquire);
		h = m->half[a];
		if (s1 & 1)
			continue;
		if (half_view_load(m, h, &v)) {
			ok = false;
		} else {
			c.publication = v.w[SH_PUBLICATION];
			c.ntuples = (uint32_t)v.w[SH_NTUPLES];
			c.ngroups = (uint32_t)v.w[SH_NGROUPS];
			c.nrecords = (uint32_t)v.w[SH_NRECORDS];
			c.tuples = calloc(c.ntuples + 1, sizeof(*c.tuples));
			c.groups = calloc(c.ngroups + 1, sizeof(*c.groups));
			c.records = calloc(c.nrecords + 1, sizeof(*c.records));
			if (!c.tuples || !c.groups || !c.records) {
				snap_contents_free(&c);
				return -ENOMEM;
			}
			for (uint32_t t = 0; t < c.ntuples; t++) {
				uint64_t tw[TUPLE_WORDS];

				for (int i = 0; i < TUPLE_WORDS; i++)
					tw[i] = ld(h, v.w[SH_OFF_TUPLES] + t * TUPLE_WORDS + (uint64_t)i);
				tuple_from_words(tw, &c.tuples[t]);
			}
			for (uint32_t g = 0; g < c.ngroups; g++)
				c.groups[g] = ld(h, v.w[SH_OFF_GROUPS] + g);
			for (uint32_t r = 0; r < c.nrecords; r++) {
				uint64_t w[RECORD_WORDS];

				for (int k = 0; k < RECORD_WORDS; k++)
					w[k] = ld(h, v.w[SH_OFF_RECORDS] + (uint64_t)r * RECORD_WORDS +
						     (uint64_t)k);
				memcpy(&c.records[r], w, sizeof(w));
			}
		}
		if (atomic_load_explicit(&hd->half[a].seq, memory_order_relaxed) != s1) {
			snap_contents_free(&c);
			continue;
		}
		if (!ok)
			return -EIO;
		/* Groups tile the records in order (a group's size is the distance to the next). */
		ok = c.ngroups ? snap_group_first(c.groups[0]) == 0 : c.nrecords == 0;
		for (uint32_t g = 0; g < c.ngroups && ok; g++)
			ok = snap_group_first(c.groups[g]) < c.nrecords &&
			     (!g || snap_group_first(c.groups[g]) > snap_group_first(c.groups[g - 1])) &&
			     snap_group_tuple(c.groups[g]) < c.ntuples;
		if (!ok) {
			snap_contents_free(&c);
			return -EIO;
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
