/*
 * snapshot - the cache published in shared memory for liblocalsa: one writer (localsad's loop
 * thread), any number of readers in other processes, no lock on either side.
 *
 * The object (shm_open name, e.g. "/localsa") holds a header page and two halves. The writer
 * rebuilds the inactive half from the cache and flips `active`; each half has its own seqlock
 * sequence, so a reader that was still inside the half the writer starts rewriting sees the
 * sequence move and retries on the other one. Readers never write and never wait for the writer;
 * the writer never waits for readers. A half that outgrows its room makes the writer create a new
 * object under the same name (object_gen + 1) and mark the old one REPLACED; readers remap.
 * Layout, hashing and the reader's lookup are defined here, so that both sides share one copy.
 */
#ifndef LOCALSA_CACHE_SNAPSHOT_H
#define LOCALSA_CACHE_SNAPSHOT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/sa.h>

#include "cache/pr_cache.h"

#define SNAP_MAGIC 0x5341534cu		/* "LSAS" in memory on little-endian hosts */
#define SNAP_ABI 1			/* readers refuse any other layout */
#define SNAP_HEADER_SIZE 4096
#define SNAP_SOCKET_MAX 108		/* sizeof(sun_path) */
#define SNAP_GROUP_MAX 0xfffe		/* paths of one (tuple, destination) a reader is given */

/* header.state */
enum snap_state {
	SNAP_LIVE = 1,		/* answer from the active half */
	SNAP_HOLD = 2,		/* published but not to be served (stale): ask the daemon */
	SNAP_REPLACED = 3,	/* a newer object holds the name: remap */
	SNAP_STOPPED = 4,	/* the daemon stopped: ask the daemon (and remap once it is back) */
};

/*
 * The header page. Fields above `state` are written once, before `magic` is stored with release
 * order, and never change. state, active, publication and seq are what the writer changes later.
 *
 * Who writes and who reads:
 *  - seq[h]: the writer makes it odd (relaxed store) before its first store into half h, writes
 *    every word of h with release stores, then makes it even with a release store. A reader loads
 *    seq[h] (acquire), loads the words it needs (acquire), then loads seq[h] again: equal and even
 *    means no word came from an unfinished rewrite. (If a word came from a rewrite, the release
 *    store that wrote it follows the odd store, so the second load sees at least that.)
 *  - active: stored (release) after seq[h] became even; readers start from it.
 *  - publication: counts publications across objects of one name; stored after active.
 *  - state: written by the writer only; read on every lookup.
 * All words of a half are _Atomic uint64_t, so concurrent access is never a C data race; on
 * x86-64 these acquire loads and release stores are plain moves.
 */
struct snap_header {
	_Atomic uint32_t magic;
	uint32_t abi;
	uint32_t header_size;		/* SNAP_HEADER_SIZE */
	uint32_t object_gen;		/* 1 for the first object of a name, +1 per re-creation */
	uint64_t object_id;		/* random: tells apart objects that reused a name */
	uint64_t object_size;		/* header + both halves, bytes */
	uint64_t half_offset[2];	/* bytes from the start of the object */
	uint64_t half_size;		/* bytes of each half */
	uint8_t port_gid[16];		/* the daemon's port: the SGID of requests that give none */
	uint16_t port_lid;
	uint16_t reserved0;
	uint32_t reserved1;
	char control_socket[SNAP_SOCKET_MAX]; /* where misses go */
	uint8_t reserved2[52];
	_Atomic uint32_t state;		/* enum snap_state */
	_Atomic uint32_t active;	/* 0 or 1 */
	_Atomic uint64_t publication;
	alignas(64) struct {
		_Atomic uint32_t seq;
		uint8_t pad[60];
	} half[2];
};

/*
 * A half is an array of 64-bit words; offsets below are in words from its start. The header
 * words come first, then the regions, in this order:
 *   tuples   4 words each, indexed by the cache's tuple id (see snap_tuple_words())
 *   groups   1 word per (tuple, DGID): first record | count << 32 | tuple << 48, in record order
 *   records  8 words each (struct ibv_path_record, network order), grouped by (tuple, DGID),
 *            each group in the SA's order
 *   dgid     3 words per slot: DGID (2 words, raw bytes), meta = first | count << 32 |
 *            tuple << 48 | 1 << 63; open addressing, linear probing, power-of-two slots
 *   dlid     2 words per slot: key = DLID | tuple << 16 | AMBIGUOUS << 62 | 1 << 63,
 *            value = first | count << 32: the group holding the DLID's paths. AMBIGUOUS: they
 *            span several groups, so readers ask the daemon (which orders them by insertion).
 * A group of more than SNAP_GROUP_MAX paths is published with count SNAP_GROUP_MAX + 1, which
 * readers treat as "ask the daemon".
 */
enum snap_half_word {
	SH_PUBLICATION,
	SH_CACHE_GENERATION,	/* the cache's fill generation when published */
	SH_CACHE_CHANGES,	/* pr_cache_changes() when published */
	SH_NTUPLES,
	SH_NGROUPS,
	SH_NRECORDS,
	SH_DGID_SLOTS,
	SH_DLID_SLOTS,
	SH_OFF_TUPLES,
	SH_OFF_GROUPS,
	SH_OFF_RECORDS,
	SH_OFF_DGID,
	SH_OFF_DLID,
	SH_USED,		/* words in use */
	SH_WORDS = 16,
};

/* --- writer (localsad's loop thread only) --- */

struct snap_writer;

struct snap_writer_opts {
	const char *name;		/* "/name": one slash, first; at most NAME_MAX bytes */
	mode_t socket_mode;		/* of the control socket: who may connect may read */
	union ibv_gid port_gid;
	uint16_t port_lid;
	const char *control_socket;	/* may be NULL */
	size_t min_half_size;		/* bytes; 0: 1 MiB */
};

struct snap_writer_stats {
	uint64_t publications;		/* this writer's */
	uint64_t publication;		/* the counter readers see */
	uint64_t object_size;
	uint64_t half_used;		/* bytes of the last publication */
	uint64_t records, groups;
	uint32_t object_gen;
	uint32_t recreations;		/* objects created to grow */
	enum snap_state state;
};

/*
 * The object's mode: owner read-write; group and others may read if they may use the socket
 * (any bit of theirs in socket_mode). An object of the same name left by a dead daemon is
 * retired (readers see REPLACED) and replaced; one held by a live writer gives -EADDRINUSE.
 * Publishes an empty snapshot. Errors: -EINVAL (name), -ENOSPC (/dev/shm full), -errno.
 */
int snap_writer_open(const struct snap_writer_opts *o, struct snap_writer **out);
/*
 * Rebuild the inactive half from the cache and make it the active one; O(paths). A cache that no
 * longer fits moves to a new object twice its size. On error the previous publication stays
 * served (-ENOSPC: /dev/shm is full; -ENOMEM; -EOVERFLOW: the cache broke its own counts).
 */
int snap_writer_publish(struct snap_writer *w, const struct pr_cache *c, uint32_t generation);
/* SNAP_LIVE or SNAP_HOLD (readers ask the daemon instead); other values: -EINVAL. */
int snap_writer_set_state(struct snap_writer *w, enum snap_state s);
void snap_writer_stats(const struct snap_writer *w, struct snap_writer_stats *out);
/* Marks the object STOPPED, releases its memory and unlinks the name. Accepts NULL. */
void snap_writer_close(struct snap_writer *w);

/* --- reader (any thread of any process) --- */

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
 * -ENOENT (no such object), -EACCES, -EAGAIN (the writer is still creating it), -EPROTO (not a
 * snapshot of this ABI), -errno of mmap. *m is written only on success.
 */
int snap_map_open(const char *name, struct snap_map *m);
/*
 * A reader's view of the writer's own mapping, for threads of the writer's process (tests:
 * ThreadSanitizer sees races only through one mapping). Valid until the writer moves to a new
 * object (stats.recreations changes) or closes; snap_map_close() on it unmaps nothing.
 */
void snap_writer_map(const struct snap_writer *w, struct snap_map *m);
void snap_map_close(struct snap_map *m);

/* A request ready for lookups: its normalized tuple and destination. */
struct snap_query {
	uint64_t tw[4];			/* snap_tuple_words() */
	uint64_t thash;
	union ibv_gid dgid;
	uint16_t dlid;
	uint8_t by_dgid, by_dlid;
};

/*
 * The 4 words that stand for a tuple: SGID (raw bytes), ServiceID, and pkey | qos_class << 16 |
 * sl << 32 | tclass << 40 | flags << 48 | 1 << 63. Fields whose flag is clear count as 0, as in
 * pr_cache_tuple(), so a request and the tuple it was filed under give the same words.
 */
void snap_tuple_words(const struct pr_tuple *t, uint64_t w[4]);
/* t->sgid must already be the SGID to use (the daemon's port GID when the request has none). */
void snap_query_init(struct snap_query *q, const struct pr_tuple *t, const union ibv_gid *dgid,
		     const uint16_t *dlid);

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

/* One publication, copied out whole: for iteration. Free with snap_contents_free(). */
struct snap_contents {
	uint64_t publication;
	uint32_t ntuples, ngroups, nrecords;
	struct pr_tuple *tuples;		/* ntuples, by tuple id */
	uint64_t *groups;			/* ngroups, as in the half */
	struct ibv_path_record *records;	/* nrecords */
};

/* -EAGAIN if the writer kept rewriting; -ESTALE, -ENOMEM, -EIO. */
int snap_read_all(const struct snap_map *m, struct snap_contents *out);
void snap_contents_free(struct snap_contents *c);

/* A group's paths are records[first .. next group's first (or nrecords)). */
static inline uint32_t snap_group_first(uint64_t g) { return (uint32_t)g; }
static inline uint16_t snap_group_tuple(uint64_t g) { return (uint16_t)((g >> 48) & 0xfff); }

#endif
