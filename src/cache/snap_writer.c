/*
 * snap_writer.c - see snap_writer.h. A publication brings the inactive half up to date and flips
 * `active`: patched by the cache's change journal (cache/snap_half: O(changes)) when the half
 * was written from this cache and the journal still holds what changed since; rebuilt whole
 * otherwise (a fill, a flush, a full region). The half lags two publications, so a patch
 * replays the changes of both.
 *
 * An object's life: created under a temporary name (O_EXCL, mode 0600, locked with flock for as
 * long as this writer holds it), sized and backed with memory, header written and made visible
 * (magic), published into; only then named - link() when the name is free, rename() over the
 * old object otherwise - and the old object is retired (REPLACED: its readers remap). A failure
 * anywhere before the naming removes the temporary object and leaves the old one as it was.
 */
#include "cache/snap_writer.h"
#include "cache/snap_half.h"

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
#define HUGE_PAGE (2u << 20)	/* halves this large start on huge page boundaries */
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
	struct snap_half *hs[2];	/* what the writer knows of each half */
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

static uint64_t random_id(void)
{
	uint64_t id;
	struct timespec ts;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == (ssize_t)sizeof(id) && id)
		return id;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 48) | 1;
}

/* --- objects --- */

static void shm_path(const char *name, char out[sizeof(SHM_DIR) + NAME_MAX])
{
	snprintf(out, sizeof(SHM_DIR) + NAME_MAX, SHM_DIR "%s", name);
}

/*
 * Give memory to [off, off+len) of the object now, so that a full /dev/shm is an error here
 * rather than a SIGBUS in the middle of a publication. Faulted in through the mapping
 * (MADV_POPULATE_WRITE) where the kernel has it: that is the path on which a mapping's
 * MADV_HUGEPAGE gets huge pages (fallocate has no mapping to ask); a fault that would have
 * been a SIGBUS fails with EFAULT instead. fallocate() otherwise.
 */
static int back(struct snap_object *o, uint64_t off, uint64_t len)
{
	int r;

	if (!len)
		return 0;
#ifdef MADV_POPULATE_WRITE
	if (madvise((char *)o->hdr + off, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno == EFAULT)
		return -ENOSPC;
	if (errno != EINVAL)
		return -errno;
#endif
	do {
		r = fallocate(o->fd, 0, (off_t)off, (off_t)len);
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
	for (int h = 0; h < 2; h++) {
		snap_half_free(o->hs[h]);
		o->hs[h] = NULL;
	}
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
	for (int h = 0; h < 2; h++) {
		snap_half_free(o->hs[h]);
		o->hs[h] = NULL;
	}
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
 * first page of each half backed, both halves valid empty snapshots (zeros), magic set. Not yet
 * named: object_name() does that. Halves of a huge page or more are whole huge pages on huge
 * page boundaries, and the mapping asks for them (MADV_HUGEPAGE): where /dev/shm allows
 * transparent huge pages, a random lookup then costs no TLB miss to speak of.
 */
static int object_create(struct snap_writer *w, uint64_t half_size, uint32_t gen,
			 struct snap_object *o)
{
	struct snap_header *hdr;
	uint64_t first = SNAP_HEADER_SIZE, size;
	void *p;
	int r;

	if (half_size >= HUGE_PAGE) {
		half_size = (half_size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
		first = HUGE_PAGE;
	}
	size = first + 2 * half_size;
	memset(o, 0, sizeof(*o));
	r = snap_half_new(&o->hs[0]);
	if (!r)
		r = snap_half_new(&o->hs[1]);
	if (!r)
		r = object_open_tmp(o);
	if (r)
		goto out_discard;
	if (flock(o->fd, LOCK_EX | LOCK_NB) < 0 || fchmod(o->fd, w->mode) < 0 ||
	    ftruncate(o->fd, (off_t)size) < 0) {
		r = -errno;
		goto out_discard;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out_discard;
	}
	(void)madvise((char *)p + first, 2 * half_size, MADV_HUGEPAGE);	/* a hint */
	hdr = p;
	o->hdr = hdr;
	o->size = size;
	o->half_size = half_size;
	o->half[0] = (_Atomic uint64_t *)((char *)p + first);
	o->half[1] = (_Atomic uint64_t *)((char *)p + first + half_size);
	/* The header and the first page of each half: all a reader of an empty snapshot touches. */
	r = back(o, 0, SNAP_HEADER_SIZE);
	if (!r)
		r = back(o, first, PAGE);
	if (!r)
		r = back(o, first + half_size, PAGE);
	if (r)
		goto out_discard;
	o->backed[0] = o->backed[1] = PAGE;

	hdr->abi = SNAP_ABI;
	hdr->header_size = SNAP_HEADER_SIZE;
	hdr->object_gen = gen;
	hdr->object_id = random_id();
	hdr->object_size = size;
	hdr->half_offset[0] = first;
	hdr->half_offset[1] = first + half_size;
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

/* --- publishing --- */

static void window_open(struct snap_object *o, int hx)
{
	atomic_store_explicit(&o->hdr->half[hx].seq, ++o->seq[hx], memory_order_relaxed);
}

static void window_close(struct snap_object *o, int hx)
{
	atomic_store_explicit(&o->hdr->half[hx].seq, ++o->seq[hx], memory_order_release);
}

/*
 * Half hx of o, written inside its window, becomes a new publication: the words every
 * publication stamps, the window closed, then `active` and the counter readers see.
 */
static void publish_half(struct snap_writer *w, struct snap_object *o, int hx,
			 const struct pr_cache *c, uint32_t generation)
{
	struct snap_half_stats hst;

	put(o->half[hx], SH_PUBLICATION, w->publication + 1);
	put(o->half[hx], SH_CACHE_GENERATION, generation);
	put(o->half[hx], SH_CACHE_CHANGES, pr_cache_changes(c));
	window_close(o, hx);
	atomic_store_explicit(&o->hdr->active, (uint32_t)hx, memory_order_release);
	atomic_store_explicit(&o->hdr->publication, ++w->publication, memory_order_release);
	w->st.publications++;
	snap_half_stats(o->hs[hx], &hst);
	w->st.records = hst.records;
	w->st.groups = hst.groups;
	w->st.half_used = hst.used_bytes;
	w->st.last_changes = hst.last_keys;
}

/* The bytes a plan needs, rounded to pages. */
static uint64_t plan_need(const struct snap_plan *p)
{
	return (snap_plan_bytes(p) + PAGE - 1) / PAGE * PAGE;
}

/*
 * The plan into o's inactive half, and flip. The half is backed first: a full /dev/shm is an
 * error before the window opens, and the half is left as it was.
 */
static int build_into(struct snap_writer *w, struct snap_object *o, const struct snap_plan *p,
		      const struct pr_cache *c, uint32_t generation)
{
	int hx = 1 - (int)atomic_load_explicit(&o->hdr->active, memory_order_relaxed);
	uint64_t need = plan_need(p);
	int r;

	if (need > o->backed[hx]) {
		r = back(o, o->hdr->half_offset[hx] + o->backed[hx], need - o->backed[hx]);
		if (r)
			return r;
		o->backed[hx] = need;
	}
	window_open(o, hx);
	snap_half_build(o->hs[hx], o->half[hx], p);
	publish_half(w, o, hx, c, generation);
	w->st.rebuilds++;
	return 0;
}

/*
 * The cache outgrew the object: a new one, twice the size needed, published complete under a
 * temporary name, then renamed over the old one. Readers opening the name meanwhile get the
 * old publication; readers of the old object go on reading it until they see REPLACED.
 */
static int grow(struct snap_writer *w, const struct snap_plan *p, const struct pr_cache *c,
		uint32_t generation)
{
	struct snap_object n;
	uint64_t half = 2 * plan_need(p);
	int r;

	if (half < w->opts.min_half_size)
		half = w->opts.min_half_size;
	r = object_create(w, half, w->object_gen + 1, &n);
	if (r)
		return r;	/* the old object goes on serving, under its name */
	r = build_into(w, &n, p, c, generation);
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

/*
 * The changes since the inactive half was written, patched in. Returns 0 (published), or a
 * negative errno with the half emptied inside its window (no reader ever meets a half-patched
 * half) for the caller to rebuild.
 */
static int patch_into(struct snap_writer *w, struct snap_object *o, const struct pr_cache *c,
		      uint32_t generation)
{
	int hx = 1 - (int)atomic_load_explicit(&o->hdr->active, memory_order_relaxed);
	int r;

	window_open(o, hx);
	r = snap_half_patch(o->hs[hx], o->half[hx], c);
	if (r) {
		if (r != -ERANGE)	/* -ERANGE: refused before any store */
			snap_half_empty(o->hs[hx], o->half[hx]);
		window_close(o, hx);
		return r;
	}
	publish_half(w, o, hx, c, generation);
	w->st.patches++;
	return 0;
}

int snap_writer_publish(struct snap_writer *w, const struct pr_cache *c, uint32_t generation)
{
	struct snap_plan *p;
	int r;

	if (!w || !c)
		return -EINVAL;
	if (w->obj.hdr && patch_into(w, &w->obj, c, generation) == 0)
		return 0;
	r = snap_plan_make(c, &p);
	if (r)
		return r;
	if (!w->obj.hdr || plan_need(p) > w->obj.half_size)
		r = grow(w, p, c, generation);
	else
		r = build_into(w, &w->obj, p, c, generation);
	snap_plan_free(p);
	return r;
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
