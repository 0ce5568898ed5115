/*
 * resolver - the PathRecord service every door calls: answer a request from
 * the cache when the cache provably holds the SA's answer to that exact
 * request, else fetch it from the master SA (one query per distinct request,
 * however many consumers wait), cache it, and answer. Also the bulk fill: one
 * GetTable with this port's SGID, then a sweep of what the new table lacks.
 */
#ifndef LOCALSA_FABRIC_RESOLVER_H
#define LOCALSA_FABRIC_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>

#include "cache/pr_store.h"

struct loop;
struct sa_client;
struct mad_port;
struct resolver;

enum {
	RESOLVE_SA = 1 << 0,      /* skip the cache: ask the SA and refresh the entry */
	RESOLVE_CACHE_ONLY = 1 << 1, /* a miss, or a cache not to be served (max_stale_ms), is
				      * -ENOENT at once (sa_status 0): nothing is asked */
};

enum { RESOLVE_MAX_PATHS = 128 };

/*
 * Called exactly once. err: 0 with n >= 1 paths in the SA's order; -ENOENT
 * when the SA has no path (or a cached "no path" is fresh); -ETIMEDOUT when
 * the SA did not answer; -EINVAL / -EACCES etc. for SA rejections (sa_status
 * gives the SA's code). recs are valid only during the call.
 */
typedef void (*resolve_fn)(void *arg, int err, uint8_t sa_status,
			   const struct ibv_path_record *recs, size_t n);

/* The store's options (pr_store_opts): the resolver makes the store and owns it. */
struct resolver_opts {
	unsigned negative_ttl_ms;  /* how long a "no path" answer is reused */
	unsigned max_stale_ms;     /* 0: serve cached paths however long the SA is silent;
				    * else: after this long without any SA answer, every lookup
				    * asks the SA and fails when it does not answer */
	uint32_t max_entries;
	uint32_t max_negative;
	struct pr_store *store;    /* NULL: the resolver makes its store (the options above) and
				    * owns it; else the store every port shares, where this port's
				    * SGID gets its table (pr_store_port_add) and which outlives it */
};

struct resolver_stats {
	uint64_t hits, misses, negative_hits, coalesced, sa_no_path, sa_errors, sa_timeouts;
	uint64_t fills, fill_failures, last_fill_records, last_fill_ms, last_fill_swept;
	uint64_t gids_out, gids_in, stale_bypass;
	uint64_t stale_answers;    /* answers a later trap made stale: not cached */
	uint64_t prefetch_tuples, prefetch_records, prefetch_failures; /* records: summed over fills */
	uint64_t last_sa_ok_ms;    /* loop clock of the last SA answer, 0 if none */
	uint64_t last_fill_at_ms;  /* loop clock of the last fill's end, 0 if none */
	uint32_t generation;
	bool filling;
};

typedef void (*fill_fn)(void *arg, int err, size_t records);

int resolver_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const struct resolver_opts *opts, struct resolver **out);
void resolver_free(struct resolver *r);
/* Returns a waiter id > 0 (pending), 0 if fn was already called, or negative errno. */
int64_t resolver_resolve(struct resolver *r, const struct pr_request *req, unsigned flags,
			 resolve_fn fn, void *arg);
/* The callback of a pending waiter will not run. */
void resolver_cancel(struct resolver *r, int64_t waiter);
/* The fill callbacks registered with arg will not run. */
void resolver_cancel_fill(struct resolver *r, void *arg);
/* Starts a full refresh (GetTable SGID = own port, then one per prefetched
 * tuple); fn may be NULL and hears the default table's outcome once every
 * table is in. A fill in progress is joined, not repeated. */
int resolver_fill(struct resolver *r, fill_fn fn, void *arg);
/*
 * Every fill from now on also loads req's tuple (this SGID or req's, plus its
 * PKey / ServiceID / QoS class / SL / TClass; no destination) with one
 * GetTable, swept by generation like the default tuple. -EINVAL (a
 * destination, or no field), -EEXIST, -EBUSY during a fill, -ENOSPC, -ENOMEM.
 */
int resolver_prefetch_add(struct resolver *r, const struct pr_request *req);
/* Loads a GetTable answer for this SGID (from the SA or from the all-pairs
 * table a distributor fetched) as a full refresh of the default tuple. */
int resolver_load_table(struct resolver *r, const struct ibv_path_record *recs, size_t n);
/* Authoritative: the default tuple holds a complete, pushed table, so a
 * destination missing from it has no path and costs the SA no query. */
void resolver_set_authoritative(struct resolver *r, bool on);
/* Trap 65: every path to gid leaves the cache at once, and "no path" is
 * remembered for the default tuple until the GID returns. Answers to queries
 * about gid still out are not cached when they come (nor by gid_back). */
void resolver_gid_out(struct resolver *r, const union ibv_gid *gid);
/* Trap 64: paths to gid in every tuple are dropped; the default tuple's and
 * each prefetched tuple's are fetched (one GetTable SGID+DGID(+fields) each). */
void resolver_gid_in(struct resolver *r, const union ibv_gid *gid);
/* The two halves of resolver_gid_in, for a fetch that starts later: drops the
 * paths and "no path" answers (returns the paths dropped), then fetches
 * (background work; returns the queries sent). */
size_t resolver_gid_back(struct resolver *r, const union ibv_gid *gid);
int resolver_gid_fetch(struct resolver *r, const union ibv_gid *gid);
/* The ports of the last default table (distinct destinations) and how many of
 * them sort before this port's GID: this node's rank among the table's ports. */
void resolver_table_rank(const struct resolver *r, uint64_t *ports, uint64_t *rank);
/* The store the resolver fills: the service hands it to the doors (reads, authenticated
 * writes); it lives as long as the resolver. */
struct pr_store *resolver_store(struct resolver *r);
/* The port it asks the SA through. */
const struct mad_port *resolver_port(const struct resolver *r);
void resolver_stats(const struct resolver *r, struct resolver_stats *out);
/* Several ports' counters as one: counts and records summed, times and the generation the
 * latest, filling when any is. */
void resolver_stats_add(struct resolver_stats *sum, const struct resolver_stats *x);

#endif
