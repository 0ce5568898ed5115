/*
 * pr_cache.h - the PathRecord store: every SA answer filed under the exact request it answers.
 *
 * With a QoS policy the SA gives a different SL/MTU/rate per ServiceID, QoS class and PKey, so a
 * cache keyed by destination alone returns wrong answers. Each record is kept under a "tuple"
 * (the request minus its destination) and found by (tuple, DGID) or (tuple, DLID), several paths
 * per destination in the SA's order. Pure: no I/O, no clock, no globals; callers pass the time.
 * Not thread-safe. Pointers it returns stay valid until the next call that modifies the cache,
 * except pr_cache_tuple_get(), whose pointers stay valid memory as long as the cache lives (the
 * tuple they show may be reclaimed and its id reused, see pr_cache_tuple()).
 */
#ifndef LOCALSA_CACHE_PR_CACHE_H
#define LOCALSA_CACHE_PR_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>

#define PR_TUPLE_MAX 4096	/* tuple ids are 0 .. PR_TUPLE_MAX-1 */

/* Which optional fields of struct pr_tuple the request specified. */
enum {
	PR_TUPLE_SERVICE_ID = 1 << 0,
	PR_TUPLE_PKEY = 1 << 1,
	PR_TUPLE_QOS_CLASS = 1 << 2,
	PR_TUPLE_SL = 1 << 3,
	PR_TUPLE_TCLASS = 1 << 4,
	PR_TUPLE_ALL_FLAGS = (1 << 5) - 1,
};

/*
 * The request "class" an answer belongs to: the request without its destination. Host byte
 * order. pr_cache_tuple() zeroes the fields whose flag is clear, so equal requests intern to the
 * same id. A bulk fill (GetTable with SGID only) uses flags 0.
 */
struct pr_tuple {
	union ibv_gid sgid;
	uint64_t service_id;
	uint16_t pkey;
	uint16_t qos_class;	/* 12 bits */
	uint8_t sl;		/* 4 bits */
	uint8_t tclass;
	uint8_t flags;		/* PR_TUPLE_* */
};

enum pr_source {
	PR_SRC_SA,	/* fetched from the master SA (Get or GetTable) */
	PR_SRC_SET,	/* pushed with Set/SetTable PathRecord */
	PR_SRC_CLI,	/* added by the operator */
};

/* Where a batch of records came from; NULL means { PR_SRC_SA, 0, current generation }. */
struct pr_origin {
	enum pr_source source;
	uint16_t lid;		/* the sender's LID for PR_SRC_SET, else 0 */
	uint32_t generation;
};

/* One cached path. Read-only to callers; the priv_ fields belong to the cache. */
struct pr_entry {
	struct ibv_path_record rec;	/* as the SA sent it, network byte order */
	uint32_t generation;
	uint32_t added_s;		/* now_ms / 1000 at insertion, caller's clock */
	uint16_t tuple;
	uint16_t source_lid;
	uint8_t source;			/* enum pr_source */
	uint8_t priv_state;
	uint16_t priv_reserved;
	uint32_t priv_next_dgid;
	uint32_t priv_next_dlid;
	uint32_t priv_tuple_prev;	/* the tuple's list of paths: a sweep visits only those */
	uint32_t priv_tuple_next;
};

struct pr_cache_limits {
	uint32_t max_entries;	/* paths, at most INT32_MAX */
	uint32_t max_negative;	/* "no path" answers */
};

struct pr_cache_stats {
	uint64_t entries;
	uint64_t negatives;	/* includes expired ones not yet reclaimed */
	uint64_t tuples;	/* tuple ids are below this (ids of reclaimed tuples may be free) */
	uint64_t tuples_live;	/* tuples interned now */
	uint64_t tuples_reclaimed; /* ids freed to make room, since the cache was made */
	uint64_t destinations;	/* distinct (tuple, DGID) with at least one path */
	uint64_t bytes;		/* all heap memory held, the context included */
	uint64_t bytes_per_entry; /* bytes / entries, 0 when empty */
};

struct pr_cache;

/* Errors: -EINVAL bad argument, -ENOMEM. */
int pr_cache_new(const struct pr_cache_limits *lim, struct pr_cache **out);
void pr_cache_free(struct pr_cache *c);

/*
 * Intern a tuple (and mark it used now, for the LRU below). -ENOENT if !create and unknown.
 * Tuples are reference counted by the paths and negatives filed under them and by pins. When
 * PR_TUPLE_MAX are interned, a new one takes the id of the least recently used tuple that
 * nothing references; failing that, of the least recently used ones that hold only SA answers
 * (PR_SRC_SA paths, negatives) and no pin: those answers are dropped with them (a batch at a
 * time, so the O(entries) scan is paid once per batch). -ENOSPC when every tuple is pinned or
 * holds pushed or added paths. A reclaimed id may be reused at once: readers that keep ids
 * across modifying calls (the snapshot, rebuilt whole from the cache, does not) must pin them.
 */
int pr_cache_tuple(struct pr_cache *c, const struct pr_tuple *t, bool create, uint16_t *id_out);
/* The normalized tuple, or NULL for an id not in use. */
const struct pr_tuple *pr_cache_tuple_get(const struct pr_cache *c, uint16_t id);
/* A pinned tuple is never reclaimed (pins nest). -EINVAL for an id not in use. */
int pr_cache_tuple_pin(struct pr_cache *c, uint16_t id);
void pr_cache_tuple_unpin(struct pr_cache *c, uint16_t id);

/* Start a fill generation; returns its number (the first call returns 1). */
uint32_t pr_cache_begin_generation(struct pr_cache *c);

/*
 * The paths of (tuple, dgid) become exactly recs[0..n), in that order; n == 0 removes them.
 * Every record must carry dgid (-EINVAL otherwise). Also clears the negative entries for
 * (tuple, dgid) and for (tuple, DLID of each record). Returns 0; on -ENOSPC (max_entries) or
 * -ENOMEM nothing changed.
 */
int pr_cache_replace(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
		     const struct ibv_path_record *recs, size_t n, const struct pr_origin *origin,
		     uint64_t now_ms);

/*
 * Bulk fill (a GetTable answer): for each DGID present in recs, the paths of (tuple, DGID)
 * become the records with that DGID, in their order in recs (they need not be adjacent).
 * Destinations absent from recs are untouched; pr_cache_sweep() removes them after a full
 * refresh. Clears negatives like pr_cache_replace(). Returns n, or -ENOSPC / -ENOMEM /
 * -EINVAL with nothing changed (the call is all or nothing). O(n).
 * A destination that gets as many paths as it holds, with the same DLIDs in the same order (a
 * refresh), is overwritten in place: the same entries, the new origin and generation, its
 * place among the paths of each DLID kept, a journal entry only if a record differs.
 */
int pr_cache_load(struct pr_cache *c, uint16_t tuple, const struct ibv_path_record *recs,
		  size_t n, const struct pr_origin *origin, uint64_t now_ms);

/* Remove the paths of tuple from source whose generation != keep_generation. O(paths of that
 * tuple): each tuple keeps a list of its paths. */
size_t pr_cache_sweep(struct pr_cache *c, uint16_t tuple, enum pr_source source,
		      uint32_t keep_generation);

/*
 * Paths of (tuple, dgid) or (tuple, dlid) in SA order. Returns how many exist, which may exceed
 * max: then out holds the first max. DLID matches across destinations come in insertion order.
 */
size_t pr_cache_lookup_dgid(const struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			    const struct pr_entry **out, size_t max);
size_t pr_cache_lookup_dlid(const struct pr_cache *c, uint16_t tuple, uint16_t dlid,
			    const struct pr_entry **out, size_t max);

/*
 * Negative entries: the SA said "no path" for (tuple, DGID) or (tuple, DLID) until expires_ms.
 * Independent of the paths, except that replace/load clear them. A put on an existing key moves
 * its expiry; a new key beyond max_negative gives -ENOSPC (reclaim with
 * pr_cache_expire_negatives()). Expired negatives read as absent.
 */
int pr_cache_put_negative_dgid(struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			       uint64_t expires_ms);
int pr_cache_put_negative_dlid(struct pr_cache *c, uint16_t tuple, uint16_t dlid,
			       uint64_t expires_ms);
bool pr_cache_negative_dgid(const struct pr_cache *c, uint16_t tuple, const union ibv_gid *dgid,
			    uint64_t now_ms);
bool pr_cache_negative_dlid(const struct pr_cache *c, uint16_t tuple, uint16_t dlid,
			    uint64_t now_ms);
/* Reclaim negatives with expires_ms <= now_ms; returns how many. O(negatives). */
size_t pr_cache_expire_negatives(struct pr_cache *c, uint64_t now_ms);

/* Remove the paths to dgid under every tuple (trap 65). Returns the count removed. */
size_t pr_cache_remove_dgid(struct pr_cache *c, const union ibv_gid *dgid);

/* Remove every path for which pred returns true. pred must not modify the cache. O(entries). */
size_t pr_cache_remove_if(struct pr_cache *c, bool (*pred)(const struct pr_entry *e, void *arg),
			  void *arg);

/* Drop all paths and negatives and release their memory; tuples and the generation stay. */
void pr_cache_flush(struct pr_cache *c);

/*
 * Visit every path; fn returns false to stop and must not modify the cache. Order: destination
 * by destination ((tuple, DGID) sets, in DGID hash-bucket order, most recently filled first
 * within a bucket), each set's paths in SA order. Deterministic for a given history of calls.
 */
typedef bool (*pr_cache_visit_fn)(const struct pr_entry *e, void *arg);
void pr_cache_foreach(const struct pr_cache *c, pr_cache_visit_fn fn, void *arg);

/*
 * A walk that can stop and resume across modifying calls, for output produced as a reader
 * drains it (dump). Buckets are visited in reverse-binary order (Redis' SCAN): the index only
 * ever doubles, so a path present from the first call to the last is visited once, even if the
 * index grew in between; paths added or removed in between may or may not be visited, and after
 * a flush or a resize in the middle of one bucket a path may repeat. Paths of one destination
 * come in SA order. Start from a zeroed struct.
 */
struct pr_cache_scan {
	uint64_t bucket;	/* reverse-binary cursor */
	uint32_t skip;		/* paths of the current bucket already visited */
	bool done;
};
/* Visits at most max paths (fn returning false also stops, after that path). */
void pr_cache_scan(const struct pr_cache *c, struct pr_cache_scan *scan, size_t max,
		   pr_cache_visit_fn fn, void *arg);

void pr_cache_stats(const struct pr_cache *c, struct pr_cache_stats *out);

/*
 * Change tracking for the snapshot publisher: every call that adds, replaces or removes paths
 * bumps a counter, then calls the watcher (one at most; fn NULL removes it). Negatives and
 * tuples do not count: the snapshot holds paths only. The watcher must not modify the cache.
 */
typedef void (*pr_cache_watch_fn)(void *arg);
void pr_cache_watch(struct pr_cache *c, pr_cache_watch_fn fn, void *arg);
uint64_t pr_cache_changes(const struct pr_cache *c);

/*
 * The change journal, for a publisher that applies changes instead of copying the whole cache
 * (the snapshot): every (tuple, DGID) whose paths a call added, replaced or removed, in order,
 * at positions that only grow. A reader keeps the position it has applied up to
 * (pr_cache_journal_end() when it last read the whole cache) and asks for what came since.
 * The journal holds a bounded window (about a tenth of the paths, at least 1,024 keys): a call
 * that changes more than that, or a flush, makes every older position unreadable, and the
 * reader copies the whole cache again - cheaper than replaying that many changes anyway.
 * A key may appear more than once; its paths now are what counts.
 */
struct pr_change {
	union ibv_gid dgid;
	uint16_t tuple;
};

uint64_t pr_cache_journal_end(const struct pr_cache *c);
/* The keys changed since position since: *keys (valid until the next modifying call) and *n.
 * -ERANGE when the journal no longer holds them all, -EINVAL for a position not reached. */
int pr_cache_journal(const struct pr_cache *c, uint64_t since, const struct pr_change **keys,
		     size_t *n);

#endif
