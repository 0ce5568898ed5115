/*
 * snap_format - the layout of the shared-memory snapshot: the one definition its writer
 * (localsad, cache/snap_writer) and its reader (liblocalsa, cache/snap_reader) share. The header
 * page, the words of a half and their regions, the tuple words, the hashes. All of it is ABI
 * between a daemon and the libraries of other processes: a change here is a new SNAP_ABI, and
 * the _Static_asserts at the end pin what readers of ABI 2 rely on. The hash values are pinned
 * by a known-answer test (test_cache_snapshot), C having no compile-time functions.
 *
 * The object (shm_open name, e.g. "/localsa") holds a header page and two halves. The writer
 * brings the inactive half up to date - rebuilt whole after a fill, or patched where the cache
 * changed since that half was last written - and flips `active`; each half has its own seqlock
 * sequence, so a reader that was still inside the half the writer starts changing sees the
 * sequence move and retries on the other one. Readers never write and never wait for the
 * writer; the writer never waits for readers. A half that outgrows its room makes the writer
 * publish a new object under the same name (object_gen + 1) and mark the old one REPLACED;
 * readers remap. Halves of more than 2 MiB start on 2 MiB boundaries of the object, so that
 * the kernel can back them with transparent huge pages where /dev/shm allows it.
 */
#ifndef LOCALSA_CACHE_SNAP_FORMAT_H
#define LOCALSA_CACHE_SNAP_FORMAT_H

#include <limits.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <infiniband/sa.h>

#include "cache/hash.h"
#include "cache/pr_cache.h"	/* struct pr_tuple and its PR_TUPLE_* flags: types only */

#define SNAP_MAGIC 0x5341534cu		/* "LSAS" in memory on little-endian hosts */
#define SNAP_ABI 2			/* readers refuse any other layout */
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
 *    the words it changes with release stores, then makes it even with a release store. A
 *    reader loads seq[h] (acquire), loads the words it needs (acquire), then loads seq[h] again:
 *    equal and even means no word came from an unfinished change. (If a word came from one, the
 *    release store that wrote it follows the odd store, so the second load sees at least that.)
 *    This holds whether the writer rewrites every word of h or patches a few slots (moving
 *    Robin Hood neighbours, reusing freed record runs): a reader that overlapped any of it
 *    discards what it read, and one that did not saw a whole earlier publication. Meanwhile a
 *    reader may meet words of two publications mixed - so it bounds every probe and index by
 *    the half's room and never trusts them before the second load.
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
	char control_socket[SNAP_SOCKET_MAX]; /* where misses go (a hint, never a proof) */
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
 * A half is an array of 64-bit words; offsets below are in words from its start. Header words
 * first - the first eight, all a lookup needs, on one cache line - then the regions:
 *   tuples   4 words each, indexed by the cache's tuple id (see snap_tuple_words()); room for
 *            more ids than are in use, so that a new tuple needs no new layout
 *   dgid     8 words per slot, one cache line (the region starts on a 64-byte boundary): a
 *            (tuple, DGID) destination and its FIRST PATH, so that a hit reads one line
 *              SLOT_META   VALID | INLINE | tuple << 48 | count << 32 | overflow index
 *              SLOT_HASH   snap_dgid_hash() of the key
 *              SLOT_DGID0, SLOT_DGID1: the DGID (raw bytes), = record words 1-2
 *              SLOT_SVC, SLOT_W5, SLOT_W6, SLOT_W7: record words 0, 5, 6, 7
 *            record words 3-4 are the SGID, which an INLINE slot does not store: it is the
 *            tuple's (the writer checked). count paths: an INLINE slot's first is the slot,
 *            the others are records[index ..]; otherwise all are records[index ..].
 *            Slot i is at home snap_home(hash, slots); open addressing, linear probing,
 *            Robin Hood order (a slot never sits closer to its home than one it passed), so a
 *            miss stops at the first slot nearer to its own home than the probe is.
 *   dlid     2 words per slot: key = DLID | tuple << 16 | AMBIGUOUS | VALID, value = the
 *            DGID slot's hash: the destination holding the DLID's paths. AMBIGUOUS: they
 *            span several destinations (or more than SNAP_DLID_PATHS_MAX), so readers ask the
 *            daemon, which orders them by insertion. Linear probing, home snap_home().
 *   records  8 words each (struct ibv_path_record, network order): the paths that are not
 *            inline, each destination's in a run, in the SA's order.
 * A destination of more than SNAP_GROUP_MAX paths is published with count SNAP_GROUP_MAX + 1
 * and no paths: readers ask the daemon. A half whose hot words are all 0 but the publication
 * was never written: every lookup misses (the empty snapshot of a new object).
 * The slot counts are no powers of two: a table is sized to its contents (bytes per path).
 */
enum snap_half_word {
	/* the hot line */
	SH_PUBLICATION,
	SH_NTUPLES,		/* tuple ids in use are below */
	SH_DGID_SLOTS,
	SH_OFF_DGID,		/* a multiple of 8: slots are cache lines */
	SH_DLID_SLOTS,
	SH_OFF_DLID,
	SH_RECORD_SLOTS,	/* room of the records region */
	SH_OFF_RECORDS,
	/* the cold line: for statistics and for whole copies */
	SH_CACHE_GENERATION,	/* the cache's fill generation when published */
	SH_CACHE_CHANGES,	/* pr_cache_changes() when published */
	SH_NGROUPS,		/* destinations (valid DGID slots) */
	SH_NRECORDS,		/* paths */
	SH_USED,		/* words the layout spans */
	SH_WORDS = 16,
	SH_OFF_TUPLES = SH_WORDS,
};

enum snap_slot_word {
	SLOT_META, SLOT_HASH, SLOT_DGID0, SLOT_DGID1, SLOT_SVC, SLOT_W5, SLOT_W6, SLOT_W7,
	SNAP_SLOT_WORDS,
};

#define SNAP_VALID (1ULL << 63)
#define SNAP_INLINE (1ULL << 62)	/* DGID slot: its first path is in the slot */
#define SNAP_AMBIGUOUS (1ULL << 62)	/* DLID slot */
#define SNAP_TUPLE_WORDS 4
#define SNAP_RECORD_WORDS 8
#define SNAP_DLID_WORDS 2
#define SNAP_TUPLE_ID_MASK 0xfff	/* tuple ids in meta and key words: 12 bits */
#define SNAP_DLID_PATHS_MAX 64		/* paths of one (tuple, DLID) checked for one destination */

/* --- words and hashes: both sides must agree bit for bit --- */

static inline void snap_gid_words(const union ibv_gid *g, uint64_t *g0, uint64_t *g1)
{
	memcpy(g0, g->raw, 8);
	memcpy(g1, g->raw + 8, 8);
}

/*
 * The 4 words that stand for a tuple: SGID (raw bytes), ServiceID, and pkey | qos_class << 16 |
 * sl << 32 | tclass << 40 | flags << 48 | 1 << 63. Fields whose flag is clear count as 0, as in
 * pr_cache_tuple(), so a request and the tuple it was filed under give the same words.
 */
static inline void snap_tuple_words(const struct pr_tuple *t, uint64_t w[SNAP_TUPLE_WORDS])
{
	uint8_t f = t->flags & PR_TUPLE_ALL_FLAGS;
	uint64_t pkey = f & PR_TUPLE_PKEY ? t->pkey : 0;
	uint64_t qc = f & PR_TUPLE_QOS_CLASS ? t->qos_class & 0xfff : 0;
	uint64_t sl = f & PR_TUPLE_SL ? t->sl & 0xf : 0;
	uint64_t tc = f & PR_TUPLE_TCLASS ? t->tclass : 0;

	snap_gid_words(&t->sgid, &w[0], &w[1]);
	w[2] = f & PR_TUPLE_SERVICE_ID ? t->service_id : 0;
	w[3] = pkey | qc << 16 | sl << 32 | tc << 40 | (uint64_t)f << 48 | SNAP_VALID;
}

static inline void snap_tuple_from_words(const uint64_t w[SNAP_TUPLE_WORDS], struct pr_tuple *t)
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

static inline uint64_t snap_tuple_hash(const uint64_t w[SNAP_TUPLE_WORDS])
{
	return mix64(w[0] ^ mix64(w[1] ^ mix64(w[2] ^ mix64(w[3]))));
}

/* One xor-shift-multiply: the high bits, which snap_home() uses, depend on every input bit. */
static inline uint64_t snap_mix(uint64_t x)
{
	return (x ^ x >> 32) * 0xd6e8feb86659fd93ULL;
}

/*
 * On every lookup's critical path, before its one memory access: two multiplies that run side
 * by side (the GUID half varies within a subnet, the prefix half between subnets).
 */
static inline uint64_t snap_dgid_hash(uint64_t thash, uint64_t g0, uint64_t g1)
{
	return snap_mix(g1 ^ thash) ^ snap_mix(g0 + 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t snap_dlid_hash(uint64_t thash, uint16_t dlid)
{
	return snap_mix(thash + ((uint64_t)dlid + 1) * 0x632be59bd9b4e019ULL);
}

/* A hash's home slot among n: the high word of hash * n (no division, any n). */
static inline uint64_t snap_home(uint64_t hash, uint64_t n)
{
	__extension__ typedef unsigned __int128 u128;

	return (uint64_t)(((u128)hash * n) >> 64);
}

/* The DLID of a record from its word 5 (bytes 40..47, network order). */
static inline uint16_t snap_record_dlid(uint64_t w5)
{
	uint8_t b[8];

	memcpy(b, &w5, 8);
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* A DGID slot's meta word. */
static inline uint32_t snap_meta_index(uint64_t m) { return (uint32_t)m; }
static inline uint16_t snap_meta_count(uint64_t m) { return (uint16_t)(m >> 32); }
static inline uint16_t snap_meta_tuple(uint64_t m)
{
	return (uint16_t)((m >> 48) & SNAP_TUPLE_ID_MASK);
}

/* Group words of struct snap_contents (snap_read_all): first | count << 32 | tuple << 48.
 * A group's paths are records[first .. next group's first (or nrecords)). */
static inline uint32_t snap_group_first(uint64_t g) { return (uint32_t)g; }
static inline uint16_t snap_group_count(uint64_t g) { return (uint16_t)(g >> 32); }
static inline uint16_t snap_group_tuple(uint64_t g)
{
	return (uint16_t)((g >> 48) & SNAP_TUPLE_ID_MASK);
}

/* A shm_open name both sides accept: "/name", one slash, first; at most NAME_MAX bytes. */
static inline int snap_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 2 && n <= NAME_MAX && name[0] == '/' && !strchr(name + 1, '/');
}

/* --- what ABI 2 pins --- */

_Static_assert(sizeof(struct snap_header) <= SNAP_HEADER_SIZE, "the header fits its page");
_Static_assert(offsetof(struct snap_header, abi) == 4, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, object_id) == 16, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, half_offset) == 32, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, port_gid) == 56, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, control_socket) == 80, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, state) == 240, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, publication) == 248, "ABI 2 header layout");
_Static_assert(offsetof(struct snap_header, half) == 256, "ABI 2 header layout");
_Static_assert(sizeof(struct snap_header) == 384, "ABI 2 header layout");
_Static_assert(SH_OFF_RECORDS == 7 && SH_USED == 12 && SH_WORDS == 16,
	       "ABI 2 half words: the hot ones on the first line");
_Static_assert(SNAP_SLOT_WORDS * 8 == 64, "a DGID slot is one cache line");
_Static_assert(sizeof(struct ibv_path_record) == 8 * SNAP_RECORD_WORDS, "a record is 8 words");
_Static_assert(offsetof(struct ibv_path_record, dgid) == 8, "the DGID sits in words 1-2");
_Static_assert(offsetof(struct ibv_path_record, sgid) == 24, "the SGID sits in words 3-4");
_Static_assert(offsetof(struct ibv_path_record, dlid) == 40, "the DLID sits in word 5");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit words");
_Static_assert(PR_TUPLE_MAX <= SNAP_TUPLE_ID_MASK + 1, "tuple ids fit 12 bits");
_Static_assert(PR_TUPLE_SERVICE_ID == 1 && PR_TUPLE_PKEY == 2 && PR_TUPLE_QOS_CLASS == 4 &&
	       PR_TUPLE_SL == 8 && PR_TUPLE_TCLASS == 16 && PR_TUPLE_ALL_FLAGS == 31,
	       "ABI 2 tuple flag bits (word 3, bits 48-52)");
_Static_assert(SNAP_GROUP_MAX + 1 <= 0xffff, "a group count fits 16 bits");

#endif
