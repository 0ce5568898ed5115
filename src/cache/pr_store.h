/*
 * pr_store - the one write path into the PathRecord cache, and what a request and a whole table
 * mean. Every writer (SA answers and fills in the resolver, Set/SetTable/Delete at the SA door,
 * add/delete/flush at the control socket) changes the cache through these calls only; everyone
 * else reads it. It owns the generations, the SA order of whole tables, the "no path" entries
 * and their lifetime, and the one staleness rule. Pure like pr_cache: callers pass the time.
 */
#ifndef LOCALSA_CACHE_PR_STORE_H
#define LOCALSA_CACHE_PR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>

#include "cache/pr_cache.h"

/* A consumer's request: a destination plus the optional QoS-relevant fields. */
struct pr_request {
	union ibv_gid sgid, dgid;
	uint16_t dlid;
	uint16_t pkey, qos_class;
	uint64_t service_id;
	uint8_t sl, tclass;
	uint8_t has;             /* PR_REQ_* */
	uint8_t tuple_flags;     /* PR_TUPLE_* for pkey, service_id, qos_class, sl, tclass */
};

enum {
	PR_REQ_SGID = 1 << 0,
	PR_REQ_DGID = 1 << 1,
	PR_REQ_DLID = 1 << 2,
};

/* Fills req from a PathRecord query: the fields comp_mask (PR_CM_*) selects
 * among SGID, DGID, DLID, PKey, ServiceID, QoS class, SL and TClass; other
 * bits are the caller's business. */
void pr_request_from_record(struct pr_request *req, const struct ibv_path_record *q,
			    uint64_t comp_mask);
/* The PathRecord query the SA gets for a request (SGID defaults to own_sgid),
 * and its component mask: exactly the request's fields. */
uint64_t pr_request_to_record(const struct pr_request *req, const union ibv_gid *own_sgid,
			      struct ibv_path_record *q);

struct pr_store_opts {
	uint32_t max_entries;
	uint32_t max_negative;
	unsigned negative_ttl_ms;  /* how long a "no path" answer is reused; 0: never */
	unsigned max_stale_ms;     /* 0: cached paths are served however long the SA is silent */
};

struct pr_store;

/* own_sgid: the default request's source (this port); NULL: the SGID of the first port added
 * (pr_store_port_add), for a store made before its ports. -EINVAL, -ENOMEM. */
int pr_store_new(const struct pr_store_opts *opts, const union ibv_gid *own_sgid,
		 struct pr_store **out);
void pr_store_free(struct pr_store *s);

/* --- tuples --- */

/* The tuple of req (its SGID, own_sgid if none, and its tuple fields; not its destination).
 * create: intern it if new (else -ENOENT); see pr_cache_tuple() for -ENOSPC. */
int pr_store_tuple(struct pr_store *s, const struct pr_request *req, bool create, uint16_t *id);
/* The default request's tuple (own SGID, nothing else): pinned for the store's life. */
uint16_t pr_store_default_tuple(const struct pr_store *s);
/* Keeps a tuple from being reclaimed while an answer for it is awaited (pins nest). */
int pr_store_pin(struct pr_store *s, uint16_t tuple);
void pr_store_unpin(struct pr_store *s, uint16_t tuple);

/* --- reading --- */

/* Up to max paths of (tuple, req's destination) in SA order; with both a DGID and a DLID,
 * those to that DGID through that DLID. */
size_t pr_store_lookup(const struct pr_store *s, uint16_t tuple, const struct pr_request *req,
		       struct ibv_path_record *out, size_t max);
/* A fresh "no path" for (tuple, req's DGID or DLID); never for both together (the SA checks
 * that they agree). */
bool pr_store_negative(const struct pr_store *s, uint16_t tuple, const struct pr_request *req,
		       uint64_t now_ms);
/*
 * A whole table: the paths of a request without destination (SGID and tuple fields), in the
 * SA order of its last full load, then the paths that arrived since. Only tables the store
 * knows are complete: the default one, and a table added with pr_store_table_add() once loaded
 * (and not flushed since). -ENOENT otherwise, -EINVAL with a destination. *out is malloc'd.
 */
int pr_store_table(struct pr_store *s, const struct pr_request *req,
		   struct ibv_path_record **out, size_t *n);
/* For the snapshot writer and dump; do not keep across modifying calls. */
const struct pr_cache *pr_store_cache(const struct pr_store *s);
void pr_store_stats(const struct pr_store *s, struct pr_cache_stats *out);
/* The generation of the last full load of a port's default table from the SA (0: none yet). */
uint32_t pr_store_generation(const struct pr_store *s);

/* --- writing --- */

/* A tuple whose whole table is loaded with PR_LOAD_FULL | PR_LOAD_ORDER (a prefetched
 * ServiceID, PKey or QoS class); pinned. -EEXIST, -ENOMEM. */
int pr_store_table_add(struct pr_store *s, uint16_t tuple);

enum {
	PR_LOAD_FULL = 1 << 0,	/* the table is complete: sweep this source's paths it lacks */
	PR_LOAD_ORDER = 1 << 1,	/* its order is the SA's: whole-table answers keep it */
};

struct pr_load_result {
	uint32_t generation;	/* the new generation the records carry */
	size_t swept;		/* paths removed by PR_LOAD_FULL */
};

/*
 * Loads a table (a GetTable answer) under tuple in a new generation: for each DGID in recs the
 * paths become the records with that DGID, in their order. o: source and sender (its generation
 * is ignored; NULL is the SA). All or nothing: -ENOSPC, -ENOMEM, -EINVAL. res may be NULL.
 */
int pr_store_load(struct pr_store *s, uint16_t tuple, const struct ibv_path_record *recs,
		  size_t n, const struct pr_origin *o, unsigned flags, uint64_t now_ms,
		  struct pr_load_result *res);
/*
 * A push (Set / SetTable): records grouped by SGID, each group loaded under its SGID's tuple,
 * all in one new generation; full: each tuple then loses this source's paths the push lacks.
 * *loaded counts the records stored before an error (-ENOSPC, -ENOMEM, -EINVAL).
 */
int pr_store_push(struct pr_store *s, const struct ibv_path_record *recs, size_t n,
		  const struct pr_origin *o, bool full, uint64_t now_ms, size_t *loaded);
/* The paths of (tuple, dgid) become recs[0..n) (an SA answer to one request); n == 0 removes
 * them. Clears the negatives of (tuple, dgid) and of each record's DLID. o NULL: the SA, in the
 * generation of the last fill; else o as it is, its generation included. */
int pr_store_replace(struct pr_store *s, uint16_t tuple, const union ibv_gid *dgid,
		     const struct ibv_path_record *recs, size_t n, const struct pr_origin *o,
		     uint64_t now_ms);
/* One record added by hand: the only path of (its SGID's tuple, its DGID). */
int pr_store_add(struct pr_store *s, const struct ibv_path_record *rec,
		 const struct pr_origin *o, uint64_t now_ms);
/* Every path to dgid, under every tuple (trap 65, trap 64). Returns how many. */
size_t pr_store_remove_dgid(struct pr_store *s, const union ibv_gid *dgid);
/* Every path that matches q in the fields comp_mask (PR_CM_*) selects (Delete PathRecord). */
size_t pr_store_remove_matching(struct pr_store *s, const struct ibv_path_record *q,
				uint64_t comp_mask);
/* Every path and negative goes; added tables must be loaded again to answer whole. */
void pr_store_flush(struct pr_store *s);
/* "No path" for (tuple, req's DGID or DLID) for negative_ttl_ms; reclaims expired negatives
 * when full. 0, or -ENOSPC / -EINVAL; nothing for a request with both or a TTL of 0. */
int pr_store_put_negative(struct pr_store *s, uint16_t tuple, const struct pr_request *req,
			  uint64_t now_ms);
/* Forgets every "no path" to dgid, under every tuple (the GID is back). */
void pr_store_clear_negatives(struct pr_store *s, const union ibv_gid *dgid, uint64_t now_ms);

/* Tells the watcher (one at most; NULL removes it) after every change to the paths. */
void pr_store_watch(struct pr_store *s, pr_cache_watch_fn fn, void *arg);

/* --- ports: one store for every port served (their SGIDs key the tuples) --- */

/* A served port's default tuple (its SGID, no other field), with a whole table that is answered
 * whatever happened, like the own SGID's (whose tuple it returns for that SGID); pinned. Its
 * full loads set pr_store_generation(). -ENOSPC, -ENOMEM. */
int pr_store_port_add(struct pr_store *s, const union ibv_gid *sgid, uint16_t *tuple);
/* The port of sgid is no longer served: every path under a tuple of that SGID leaves, and so do
 * its tables (but the own SGID's, which stays, empty). Returns the paths removed. Its "no path"
 * answers stay until they expire. */
size_t pr_store_port_remove(struct pr_store *s, const union ibv_gid *sgid);

/* --- staleness: the one rule --- */

/* The SA answered something (a fill, a Get, even "no path"). */
void pr_store_sa_answered(struct pr_store *s, uint64_t now_ms);
uint64_t pr_store_last_sa_answer(const struct pr_store *s);
/* With max_stale_ms set and no SA answer for longer, the cache is not to be served: every
 * lookup goes to the SA, and the snapshot is held. */
bool pr_store_stale(const struct pr_store *s, uint64_t now_ms);

/* A reload: "no path" answers from now on are reused this long (0: never). */
void pr_store_set_negative_ttl(struct pr_store *s, unsigned ms);

/* A whole table's destinations in the SA's order of its last full load (by first appearance):
 * *order points into the store, valid until the next modifying call; 0 for a tuple without a
 * loaded table. For dump, which lists paths in that order without copying them. */
size_t pr_store_table_order(const struct pr_store *s, uint16_t tuple, const union ibv_gid **order);

#endif
