/*
 * snap_writer.c - see snap_writer.h. The writer rebuilds a whole half per publication: O(paths),
 * a sequential pass over the cache with one hash insert per destination and per DLID, no malloc
 * but the tuple hashes.
 *
 * An object's life: created under a temporary name (O_EXCL, mode 0600, locked with flock for as
 * long as this writer holds it), sized and backed with memory, header written and made visible
 * (magic), published into; only then named - link() when the name is free, rename() over the
 * old object otherwise - and the old object is retired (REPLACED: its readers remap). A failure
 * anywhere before the naming removes the temporary object and leaves the old one as it was.
 */
#include "cache/snap_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Where glibc's shm_open() keeps objects on Linux (tmpfs): link() and rename() need the path. */
#define SHM_DIR "/dev/shm"
#define PAGE 4096u
#define MIN_HALF (1u << 20)
#define NAME_TRIES 4		/* temporary names taken, or the name raced away: try again */

/* One shm object as the writer holds it. */
struct snap_object {
	int fd;
	struct snap_header *hdr;
	uint64_t size;
	_Atomic uint64_t *half[2];
	uint64_t half_size;
	uint64_t backed[2];	/* bytes of each half known to have memory behind them */
	uint32_t seq[2];
	char tmp[NAME_MAX + 1];	/* its temporary name, "" once named */
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

static uint64_t pow2_slots(uint64_t keys)
{
	uint64_t n = 8;

	if (!keys)
		return 0;
	while (n < keys + keys / 3 + 1)	/* load <= 3/4 */
		n <<= 1;
	return n;
}

/* --- objects --- */

static void shm_path(const char *name, char out[sizeof(SHM_DIR) + NAME_MAX])
{
	snprintf(out, sizeof(SHM_DIR) + NAME_MAX, SHM_DIR "%s", name);
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

/* An object that never got the name: nobody can be reading it. */
static void object_discard(struct snap_object *o)
{
	if (o->tmp[0])
		shm_unlink(o->tmp);
	o->tmp[0] = '\0';
	if (o->hdr)
		object_retire(o, SNAP_REPLACED);
	else if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

/* A new file under a temporary name nobody else holds (O_EXCL; a name taken is tried again). */
static int object_open_tmp(struct snap_object *o)
{
	for (int i = 0; i < NAME_TRIES; i++) {
		snprintf(o->tmp, sizeof(o->tmp), "/.localsa-%d-%016llx", (int)getpid(),
			 (unsigned long long)random_id());
		o->fd = shm_open(o->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (o->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	o->tmp[0] = '\0';
	return -errno;
}

/*
 * A complete object of generation gen under a temporary name: locked, sized, the header and the
 * first page of each half backed, half 0 a valid empty snapshot (zeros), magic set. Not yet
 * named: object_name() does that.
 */
static int object_create(struct snap_writer *w, uint64_t half_size, uint32_t gen,
			 struct snap_object *o)
{
	struct snap_header *hdr;
	uint64_t size = SNAP_HEADER_SIZE + 2 * half_size;
	void *p;
	int r;

	memset(o, 0, sizeof(*o));
	r = object_open_tmp(o);
	if (r)
		return r;
	if (flock(o->fd, LOCK_EX | LOCK_NB) < 0 || fchmod(o->fd, w->mode) < 0 ||
	    ftruncate(o->fd, (off_t)size) < 0) {
		r = -errno;
		goto out_discard;
	}
	/* The header and the first page of each half: all a reader of an empty snapshot touches. */
	r = back(o->fd, 0, SNAP_HEADER_SIZE + PAGE);
	if (!r)
		r = back(o->fd, SNAP_HEADER_SIZE + half_size, PAGE);
	if (r)
		goto out_discard;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out_discard;
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
	hdr->object_gen = gen;
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

out_discard:
	object_discard(o);
	return r;
}

/*
 * Gives o the writer's name in one step: rename() over the object holding it (replace), or
 * link() when it is free, which fails with -EEXIST rather than take a name that appeared since.
 * On error o keeps its temporary name (the caller discards it) and the name is untouched.
 */
static int object_name(struct snap_writer *w, struct snap_object *o, bool replace)
{
	char from[sizeof(SHM_DIR) + NAME_MAX], to[sizeof(SHM_DIR) + NAME_MAX];

	shm_path(o->tmp, from);
	shm_path(w->name, to);
	if (replace ? rename(from, to) < 0 : link(from, to) < 0)
		return -errno;
	if (!replace)
		unlink(from);
	o->tmp[0] = '\0';
	return 0;
}

/*
 * What holds the name when the writer starts. *present: something does. A snapshot object of
 * ours whose writer is gone (we got its flock, and the name still leads to it) is mapped into
 * old, and the writer continues its generation and publication counter; anything else under
 * the name is junk for object_name() to replace. -EAGAIN: the name moved while we looked.
 */
static int leftover_open(struct snap_writer *w, struct snap_object *old, bool *present)
{
	char path[sizeof(SHM_DIR) + NAME_MAX];
	struct stat st, named;
	int fd = shm_open(w->name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
	void *p;

	memset(old, 0, sizeof(*old));
	old->fd = -1;
	*present = fd >= 0 || errno != ENOENT;
	if (fd < 0)	/* a symlink, another user's file: replace it if the directory lets us */
		return errno == ENOENT || errno == ELOOP || errno == EACCES ? 0 : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;

		close(fd);
		return r;
	}
	shm_path(w->name, path);
	if (fstat(fd, &st) < 0 || stat(path, &named) < 0 || st.st_dev != named.st_dev ||
	    st.st_ino != named.st_ino) {
		close(fd);	/* renamed over or unlinked since: by a writer that was alive */
		return -EAGAIN;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (uint64_t)st.st_size < SNAP_HEADER_SIZE) {
		close(fd);
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return 0;
	}
	old->fd = fd;
	old->hdr = p;
	old->size = (uint64_t)st.st_size;
	if (atomic_load(&old->hdr->magic) == SNAP_MAGIC && old->hdr->abi == SNAP_ABI &&
	    old->hdr->object_size == old->size) {
		w->object_gen = old->hdr->object_gen;
		w->publication = atomic_load(&old->hdr->publication);
	}
	return 0;
}

int snap_writer_open(const struct snap_writer_opts *o, struct snap_writer **out)
{
	struct snap_writer *w;
	int r = -EAGAIN;

	if (!o || !out || !snap_name_ok(o->name) ||
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
	for (int i = 0; i < NAME_TRIES && r == -EAGAIN; i++) {
		struct snap_object old;
		bool present;

		r = leftover_open(w, &old, &present);
		if (r)
			continue;
		r = object_create(w, w->opts.min_half_size, w->object_gen + 1, &w->obj);
		if (!r)
			r = object_name(w, &w->obj, present);
		if (r == -EEXIST)	/* the free name was taken meanwhile: look again */
			r = -EAGAIN;
		if (r) {
			object_discard(&w->obj);
			if (old.hdr)
				munmap(old.hdr, old.size);
			if (old.fd >= 0)
				close(old.fd);
			continue;
		}
		w->object_gen++;
		object_retire(&old, SNAP_REPLACED);	/* its readers move to ours */
	}
	if (r) {
		free(w);
		return r == -EAGAIN ? -EADDRINUSE : r;
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
	uint64_t rec = b->off_records + (uint64_t)snap_group_first(gw) * SNAP_RECORD_WORDS;

	*tuple = snap_group_tuple(gw);
	*g0 = own(b->h, rec + 1);	/* dgid: bytes 8..23 of the record */
	*g1 = own(b->h, rec + 2);
	return snap_dgid_hash(b->thash[*tuple], *g0, *g1) & (b->dslots - 1);
}

static void dgid_insert(struct build *b, uint64_t g, uint64_t first, uint64_t count)
{
	uint64_t g0, g1, mask = b->dslots - 1, i;
	uint16_t tuple;

	i = dgid_slot(b, g, &g0, &g1, &tuple);
	while (own(b->h, b->off_dgid + i * SNAP_DGID_WORDS + 2) & SNAP_VALID)
		i = (i + 1) & mask;	/* terminates: load <= 3/4 */
	put(b->h, b->off_dgid + i * SNAP_DGID_WORDS, g0);
	put(b->h, b->off_dgid + i * SNAP_DGID_WORDS + 1, g1);
	put(b->h, b->off_dgid + i * SNAP_DGID_WORDS + 2,
	    first | count << 32 | (uint64_t)tuple << 48 | SNAP_VALID);
}

static uint64_t record_dlid_slot(const struct build *b, uint64_t r, uint16_t tuple,
				 uint16_t *dlid)
{
	*dlid = snap_record_dlid(own(b->h, b->off_records + r * SNAP_RECORD_WORDS + 5));
	return snap_dlid_hash(b->thash[tuple], *dlid) & (b->lslots - 1);
}

/* A DLID seen again in the same group is a no-op; in another group it becomes SNAP_AMBIGUOUS. */
static void dlid_insert(struct build *b, uint64_t r, uint16_t tuple, uint64_t first,
			uint64_t count)
{
	uint64_t mask = b->lslots - 1, i, k, key;
	uint16_t dlid;

	i = record_dlid_slot(b, r, tuple, &dlid);
	key = dlid | (uint64_t)tuple << 16 | SNAP_VALID;
	while ((k = own(b->h, b->off_dlid + i * SNAP_DLID_WORDS)) & SNAP_VALID) {
		if ((k & ~SNAP_AMBIGUOUS) == key) {
			if ((uint32_t)own(b->h, b->off_dlid + i * SNAP_DLID_WORDS + 1) != first)
				put(b->h, b->off_dlid + i * SNAP_DLID_WORDS, k | SNAP_AMBIGUOUS);
			return;
		}
		i = (i + 1) & mask;
	}
	put(b->h, b->off_dlid + i * SNAP_DLID_WORDS, key);
	put(b->h, b->off_dlid + i * SNAP_DLID_WORDS + 1, first | count << 32);
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
			__builtin_prefetch((const void *)&b->h[b->off_dgid + SNAP_DGID_WORDS *
				dgid_slot(b, g + PREFETCH_GROUPS, &g0, &g1, &t)], 1);
		dgid_insert(b, g, snap_group_first(gw), snap_group_count(gw));
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
				__builtin_prefetch((const void *)&b->h[b->off_dlid + SNAP_DLID_WORDS *
					record_dlid_slot(b, ahead, snap_group_tuple(gw), &dlid)], 1);
			}
			dlid_insert(b, r, snap_group_tuple(gw), snap_group_first(gw),
				    snap_group_count(gw));
		}
	}
}

static bool build_entry(const struct pr_entry *e, void *arg)
{
	struct build *b = arg;
	uint64_t w[SNAP_RECORD_WORDS];

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
	for (int i = 0; i < SNAP_RECORD_WORDS; i++)
		put(b->h, b->off_records + b->nrecords * SNAP_RECORD_WORDS + (uint64_t)i, w[i]);
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
	b.off_groups = b.off_tuples + SNAP_TUPLE_WORDS * b.ntuples;
	b.off_records = b.off_groups + b.max_groups;
	b.off_dgid = b.off_records + SNAP_RECORD_WORDS * b.max_records;
	b.off_dlid = b.off_dgid + SNAP_DGID_WORDS * b.dslots;
	used = b.off_dlid + SNAP_DLID_WORDS * b.lslots;
	b.thash = malloc((b.ntuples ? b.ntuples : 1) * sizeof(*b.thash));
	if (!b.thash)
		return -ENOMEM;

	atomic_store_explicit(&o->hdr->half[hx].seq, ++o->seq[hx], memory_order_relaxed);
	for (uint64_t i = b.off_dgid; i < used; i++)
		put(h, i, 0);
	for (uint64_t t = 0; t < b.ntuples; t++) {
		const struct pr_tuple *tp = pr_cache_tuple_get(c, (uint16_t)t);
		uint64_t tw[SNAP_TUPLE_WORDS] = { 0 };

		if (tp)
			snap_tuple_words(tp, tw);
		b.thash[t] = snap_tuple_hash(tw);
		for (int i = 0; i < SNAP_TUPLE_WORDS; i++)
			put(h, b.off_tuples + t * SNAP_TUPLE_WORDS + (uint64_t)i, tw[i]);
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
	return 8 * (SH_WORDS + SNAP_TUPLE_WORDS * st->tuples + st->destinations +
		    SNAP_RECORD_WORDS * st->entries + SNAP_DGID_WORDS * pow2_slots(st->destinations) +
		    SNAP_DLID_WORDS * pow2_slots(st->entries));
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
 * The cache outgrew the object: a new one, twice the size needed, published complete under a
 * temporary name, then renamed over the old one. Readers opening the name meanwhile get the
 * old publication; readers of the old object go on reading it until they see REPLACED.
 */
static int grow(struct snap_writer *w, const struct pr_cache *c, const struct pr_cache_stats *st,
		uint32_t generation)
{
	struct snap_object n;
	uint64_t half = (2 * layout_bytes(st) + PAGE - 1) / PAGE * PAGE;
	int r;

	if (half < w->opts.min_half_size)
		half = w->opts.min_half_size;
	r = object_create(w, half, w->object_gen + 1, &n);
	if (r)
		return r;	/* the old object goes on serving, under its name */
	r = publish_into(w, &n, c, st, generation);
	if (!r)
		r = object_name(w, &n, w->obj.hdr != NULL);
	if (r) {
		object_discard(&n);
		return r;
	}
	w->object_gen++;
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
	if (st.entries > UINT32_MAX / SNAP_RECORD_WORDS || st.destinations > st.entries)
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
