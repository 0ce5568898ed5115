/*
 * snap_format - the layout of the shared-memory snapshot: the one definition its writer
 * (localsad, cache/snap_writer) and its reader (liblocalsa, cache/snap_reader) share. The header
 * page, the words of a half and their regions, the tuple words, the hashes. All of it is ABI
 * between a daemon and the libraries of other processes: a change here is a new SNAP_ABI, and
 * the _Static_asserts at the end pin what readers of ABI 1 rely on. The hash values are pinned
 * by a known-answer test (test_cache_snapshot), C having no compile-time functions.
 *
 * The object (shm_open name, e.g. "/localsa") holds a header page and two halves. The writer
 * rebuilds the inactive half and flips `active`; each half has its own seqlock sequence, so a
 * reader that was still inside the half the writer starts rewriting sees the sequence move and
 * retries on the other one. Readers never write and never wait for the writer; the writer never
 * waits for readers. A half that outgrows its room makes the writer publish a new object under
 * the same name (object_gen + 1) and mark the old one REPLACED; readers remap.
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
 * readers treat as "ask the daemon". A half whose SH_USED is 0 was never written: every count
 * in it is 0 (the empty snapshot of a new object).
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

#define SNAP_VALID (1ULL << 63)
#define SNAP_AMBIGUOUS (1ULL << 62)
#define SNAP_TUPLE_WORDS 4
#define SNAP_RECORD_WORDS 8
#define SNAP_DGID_WORDS 3
#define SNAP_DLID_WORDS 2
#define SNAP_TUPLE_ID_MASK 0xfff	/* tuple ids in group, meta and key words: 12 bits */

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

static inline uint64_t snap_dgid_hash(uint64_t thash, uint64_t g0, uint64_t g1)
{
	return mix64(thash ^ mix64(g0 ^ mix64(g1 + 0x9e3779b97f4a7c15ULL)));
}

static inline uint64_t snap_dlid_hash(uint64_t thash, uint16_t dlid)
{
	return mix64(thash + ((uint64_t)dlid + 1) * 0x632be59bd9b4e019ULL);
}

/* The DLID of a record from its word 5 (bytes 40..47, network order). */
static inline uint16_t snap_record_dlid(uint64_t w5)
{
	uint8_t b[8];

	memcpy(b, &w5, 8);
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* A group's paths are records[first .. next group's first (or nrecords)). */
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

/* --- what ABI 1 pins --- */

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
_Static_assert(SH_USED == 13 && SH_WORDS == 16, "ABI 1 half words");
_Static_assert(sizeof(struct ibv_path_record) == 8 * SNAP_RECORD_WORDS, "a record is 8 words");
_Static_assert(offsetof(struct ibv_path_record, dgid) == 8, "the DGID sits in words 1-2");
_Static_assert(offsetof(struct ibv_path_record, dlid) == 40, "the DLID sits in word 5");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit words");
_Static_assert(PR_TUPLE_MAX <= SNAP_TUPLE_ID_MASK + 1, "tuple ids fit 12 bits");
_Static_assert(PR_TUPLE_SERVICE_ID == 1 && PR_TUPLE_PKEY == 2 && PR_TUPLE_QOS_CLASS == 4 &&
	       PR_TUPLE_SL == 8 && PR_TUPLE_TCLASS == 16 && PR_TUPLE_ALL_FLAGS == 31,
	       "ABI 1 tuple flag bits (word 3, bits 48-52)");
_Static_assert(SNAP_GROUP_MAX + 1 <= 0xffff, "a group count fits 16 bits");

#endif
