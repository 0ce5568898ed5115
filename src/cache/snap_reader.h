/*
 * snap_reader - reads the shared-memory snapshot (cache/snap_format.h) that localsad publishes:
 * maps an object only if the daemon's user owns it, then answers lookups with no system call,
 * no lock and no store to shared memory. Compiled into liblocalsa; never trusts a word of the
 * object: every offset and count is checked, overflow-safe, before it is used.
 */
#ifndef LOCALSA_CACHE_SNAP_READER_H
#define LOCALSA_CACHE_SNAP_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache/snap_format.h"

/* A read-only mapping of one object. Immutable once opened; share it between threads. */
struct snap_map {
	const struct snap_header *hdr;
	size_t size;
	const _Atomic uint64_t *half[2];
	uint64_t half_words;
	uint64_t object_id;
	uint32_t object_gen;
};

/*
 * Maps the object called name if it is one the daemon published: a regular file (opened with
 * O_NOFOLLOW | O_NONBLOCK, so a symlink or a FIFO under the name neither redirects nor hangs
 * us) owned by owner or by root, writable by nobody else, whose size is the one its header
 * states. owner is the daemon's uid as the kernel tells it (SO_PEERCRED on its socket), never
 * anything the object says. *m is written only on success.
 * Errors: -EINVAL (name), -ENOENT, -EACCES, -ELOOP (a symlink), -EPERM (not a regular file,
 * another owner, writable by group or others), -EAGAIN (the writer is still creating it),
 * -EPROTO (not a snapshot of this ABI, or a header that contradicts the object), -errno of mmap.
 * Asks for transparent huge pages on the mapping (MADV_HUGEPAGE): granted where /dev/shm
 * allows them (tmpfs huge=advise or within_size), and harmless elsewhere.
 */
int snap_map_open(const char *name, uid_t owner, struct snap_map *m);
void snap_map_close(struct snap_map *m);

/* A request ready for lookups: its normalized tuple and destination, hashed. */
struct snap_query {
	uint64_t tw[SNAP_TUPLE_WORDS];	/* snap_tuple_words() */
	uint64_t thash;
	uint64_t dhash;			/* snap_dgid_hash() of the DGID, or snap_dlid_hash() */
	uint64_t g[2];			/* the DGID's words (snap_gid_words()) */
	uint16_t dlid;
	uint8_t by_dgid, by_dlid;
};

/* t->sgid must already be the SGID to use (the daemon's port GID when the request has none). */
void snap_query_init(struct snap_query *q, const struct pr_tuple *t, const union ibv_gid *dgid,
		     const uint16_t *dlid);
/* The destination of a query whose tuple is set (a copy of one made by snap_query_init()).
 * Inline: every lookup of liblocalsa makes one. */
static inline void snap_query_dest(struct snap_query *q, const union ibv_gid *dgid,
				   const uint16_t *dlid)
{
	q->by_dgid = !!dgid;
	q->by_dlid = !!dlid;
	q->dlid = dlid ? *dlid : 0;
	if (dgid) {
		snap_gid_words(dgid, &q->g[0], &q->g[1]);
		q->dhash = snap_dgid_hash(q->thash, q->g[0], q->g[1]);
	} else {
		q->g[0] = q->g[1] = 0;
		q->dhash = dlid ? snap_dlid_hash(q->thash, *dlid) : 0;
	}
}

/*
 * Starts fetching the DGID slot line where a lookup of destination hash dhash looks first in
 * m's active half, from words not checked yet (a prefetch never faults; the bounds only keep the
 * address inside the half). Only while the object is LIVE: a retired object's halves are
 * punched out of /dev/shm, and reading a word of one would put a page back (or, with /dev/shm
 * full, raise SIGBUS). snap_lookup() does it before its seqlock window opens, so that the
 * window's loads and checks run while the line comes; liblocalsa does it first thing for a
 * plain DGID query, so that its own checks run then too. Hit/chase p50 at 100k paths: 1.47x
 * with neither, 1.38x with the first, 1.18-1.25x with both (1M: 1.58, 1.47, 1.33-1.51x;
 * lib_latency --compare on each core, the old reader loaded twice as a control, 2026-12-01).
 * Always inlined, like the batch's prefetch helpers (see prefetch_query); CTest
 * unit.lookup_prefetch counts the single lookup's prefetches.
 */
static inline __attribute__((always_inline)) void snap_prefetch_home(const struct snap_map *m,
								     uint64_t dhash)
{
	const _Atomic uint64_t *h;
	uint64_t n, off;

	if (atomic_load_explicit(&m->hdr->state, memory_order_acquire) != SNAP_LIVE)
		return;
	h = m->half[atomic_load_explicit(&m->hdr->active, memory_order_relaxed) & 1];
	n = atomic_load_explicit(&h[SH_DGID_SLOTS], memory_order_relaxed);
	off = atomic_load_explicit(&h[SH_OFF_DGID], memory_order_relaxed);
	if (n <= m->half_words / SNAP_SLOT_WORDS && off <= m->half_words - n * SNAP_SLOT_WORDS)
		__builtin_prefetch((const void *)&h[off + snap_home(dhash, n) * SNAP_SLOT_WORDS]);
}

enum {
	SNAP_MISS = 0,	/* not in the snapshot: ask the daemon */
	SNAP_HIT = 1,
};

/*
 * The paths the cache holds for q, as pr_cache_lookup_dgid/_dlid would give them (DGID and
 * DLID together: the DGID's paths with that DLID). Copies min(total, max) to out and sets *total
 * (when not NULL) and *publication. No system call, no lock, no store to shared memory.
 * Returns SNAP_HIT or SNAP_MISS (also when the state is HOLD or the writer kept rewriting the
 * half: max_retries), -ESTALE (REPLACED or STOPPED: remap), -EIO (a finished half that makes
 * no sense). *retries (when not NULL) is incremented per seqlock retry.
 */
int snap_lookup(const struct snap_map *m, const struct snap_query *q,
		struct ibv_path_record *out, size_t max, size_t *total, uint64_t *publication,
		uint64_t *retries);

/*
 * n lookups of the first path each: res[i] is SNAP_HIT (out[i] holds the path), SNAP_MISS or
 * -EIO. The destination slots of the queries SNAP_BATCH_AHEAD places ahead are prefetched while
 * the current one is read (software pipelining), so that the memory latency of a random slot
 * is paid once per several queries, and the whole batch is read inside one seqlock window.
 * Returns 0, or -ESTALE (remap; res is then unset). No system call, no lock, no store to shared
 * memory. *retries (when not NULL) is incremented per seqlock retry.
 */
#define SNAP_BATCH_AHEAD 8
int snap_lookup_batch(const struct snap_map *m, const struct snap_query *qs, size_t n,
		      struct ibv_path_record *out, int *res, uint64_t *retries);

/* One publication, copied out whole: for iteration. Free with snap_contents_free(). */
struct snap_contents {
	uint64_t publication;
	uint32_t ntuples, ngroups, nrecords;
	struct pr_tuple *tuples;		/* ntuples, by tuple id */
	uint64_t *groups;			/* ngroups, as in the half */
	struct ibv_path_record *records;	/* nrecords */
};

/*
 * Destination by destination in slot order, each one's paths in the SA's order. -EAGAIN if the
 * writer kept rewriting; -ESTALE, -ENOMEM, -EIO. The copy is never larger than the half it
 * comes from (its counts are checked against the half's words first).
 */
int snap_read_all(const struct snap_map *m, struct snap_contents *out);
void snap_contents_free(struct snap_contents *c);

#endif
