/*
 * path_service - the lookup-service seam between the doors and the rest of the daemon: all a
 * door may ask for (resolve a request, a whole table, authenticated writes, a refresh, the
 * ports served, read-only access and change notification for dump and the snapshot, counters)
 * in one place. A door is a codec plus this seam - the role ibacm's provider interface
 * (acm_prov.h) plays, seen from the other side. No door includes resolver.h or writes the cache.
 *
 * The service is the store (pr_store: the cache and its one write path) plus a backend: the part
 * that reaches the fabric (answers misses, refreshes, knows the ports and their state). The
 * daemon's backend is the port set (fabric/port_set.h), a resolver per port served. Door
 * tests give a scripted backend (path_service_new) over a real store: the store is pure and in
 * memory, so it needs no double and a test sees what a door really writes, while the backend is exactly the part whose
 * answers a test must script - now, later, or never.
 */
#ifndef LOCALSA_FABRIC_PATH_SERVICE_H
#define LOCALSA_FABRIC_PATH_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>

#include "cache/pr_store.h"

struct json;
struct quota;
struct path_service;

enum { PATH_PORTS_MAX = 32 };

/* A port the service answers for. */
struct path_port {
	char ca_name[64];
	unsigned port_num;
	uint64_t node_guid;	/* host order; 0: unknown */
	uint8_t num_ports;	/* the CA's physical ports; 0: unknown */
	union ibv_gid gid;	/* GID index 0, network order */
	uint16_t lid;		/* base LID: the port answers to lid .. lid + 2^lmc - 1 */
	uint8_t lmc;
	uint16_t sm_lid;
	bool serving;
};

enum {
	PATH_Q_SA = 1 << 0,		/* skip the cache: ask the SA, and refresh the entry */
	PATH_Q_CACHE_ONLY = 1 << 1,	/* a miss is -ENOENT at once (sa_status 0) */
};

/* A lookup. */
struct path_query {
	struct pr_request req;	/* an SGID picks the port (one served); none: the default port */
	unsigned flags;		/* PATH_Q_* */
	struct quota *quota;	/* new cache tuples the requester may still create; NULL: no cap */
};

/*
 * Called exactly once per accepted lookup, either inside path_service_resolve() (an answer
 * from the cache) or later. err: 0 with n >= 1 paths in the SA's order; -ENOENT no path (the
 * SA said so, sa_status set, or a cache-only miss, sa_status 0); -ETIMEDOUT the SA did not
 * answer; else the SA refused (sa_status) or the daemon failed. recs live during the call.
 */
typedef void (*path_answer_fn)(void *arg, int err, uint8_t sa_status,
			       const struct ibv_path_record *recs, size_t n);
/* A refresh ended: err, and the records of the default table. */
typedef void (*path_refresh_fn)(void *arg, int err, size_t records);

/* What the last full refresh did (the `refresh` command's reply). */
struct path_fill {
	uint32_t generation;
	uint64_t ms, swept;
	bool refreshing;
};

/* The backend. Every op but the last three may be called from inside a door's callback. */
struct path_backend_ops {
	/* A lookup the service checked (port served, quota), its SGID set to its port's:
	 * path_service_resolve()'s contract. */
	int64_t (*resolve)(void *ctx, const struct pr_request *req, unsigned flags,
			   path_answer_fn fn, void *arg);
	void (*cancel)(void *ctx, int64_t id);
	/* A full refresh; fn may be NULL. A refresh in progress is joined. */
	int (*refresh)(void *ctx, path_refresh_fn fn, void *arg);
	/* The refresh callbacks registered with arg will not run. */
	void (*cancel_refresh)(void *ctx, void *arg);
	void (*last_fill)(void *ctx, struct path_fill *out);
	/* The ports, written to out[0..max), the default first (listed even when not served,
	 * serving false: a lookup without SGID then fails); returns how many there are. */
	size_t (*ports)(void *ctx, struct path_port *out, size_t max);
	/* The default port (ports() lists it first); -ENOENT when it is not served. Every lookup
	 * without an SGID asks for it. */
	int (*default_port)(void *ctx, struct path_port *out);
	/* Its counters, as members of the stats object being written. */
	void (*stats_json)(void *ctx, struct json *j);
};

/* A service over store with a backend; the store stays the caller's. */
int path_service_new(struct pr_store *store, const struct path_backend_ops *ops, void *ctx,
		     struct path_service **out);
void path_service_free(struct path_service *s);

/* --- ports --- */

/* Copies the ports to out[0..max), the default first; returns how many there are. Only the
 * default may be listed with serving false. */
size_t path_service_ports(struct path_service *s, struct path_port *out, size_t max);
/* The port served that matches; -ENOENT when none (the default: when it is not served). */
int path_service_default_port(struct path_service *s, struct path_port *out);
int path_service_port_by_gid(struct path_service *s, const union ibv_gid *gid,
			     struct path_port *out);
/* A LID of the port's LMC range. */
int path_service_port_by_lid(struct path_service *s, uint16_t lid, struct path_port *out);
int path_service_port_by_name(struct path_service *s, const char *ca, unsigned port_num,
			      struct path_port *out);

/* --- lookups --- */

/*
 * Returns > 0, an id for path_service_cancel(), when fn runs later; 0 when fn already ran;
 * < 0 when fn never runs: -EADDRNOTAVAIL the SGID is no port served, -EDQUOT the requester's
 * quota of new tuples is spent, -EDESTADDRREQ no destination, -ENOSPC, -ENOMEM, -ENOBUFS.
 */
int64_t path_service_resolve(struct path_service *s, const struct path_query *q,
			     path_answer_fn fn, void *arg);
/* The callback of a pending lookup will not run. */
void path_service_cancel(struct path_service *s, int64_t id);
/* A whole table (a request without destination): pr_store_table(); -EADDRNOTAVAIL for an SGID
 * not served. *out is malloc'd. */
int path_service_table(struct path_service *s, const struct pr_request *req,
		       struct ibv_path_record **out, size_t *n);

/* --- writes: the door has authenticated the writer --- */

/* pr_store_push() at the loop's time. */
int path_service_push(struct path_service *s, const struct ibv_path_record *recs, size_t n,
		      const struct pr_origin *o, bool full, size_t *loaded);
/* pr_store_add(). */
int path_service_add(struct path_service *s, const struct ibv_path_record *rec,
		     const struct pr_origin *o);
/* Removes every path matching q in comp_mask's fields; returns how many. */
size_t path_service_delete(struct path_service *s, const struct ibv_path_record *q,
			   uint64_t comp_mask);
void path_service_flush(struct path_service *s);
int path_service_refresh(struct path_service *s, path_refresh_fn fn, void *arg);
void path_service_cancel_refresh(struct path_service *s, void *arg);
void path_service_last_fill(struct path_service *s, struct path_fill *out);

/* --- reading, for dump and the snapshot --- */

/* Valid until the next change; never written through. */
const struct pr_cache *path_service_cache(const struct path_service *s);
/* The generation of the last fill of the default table. */
uint32_t path_service_generation(const struct path_service *s);
/* The staleness rule (pr_store_stale) now: the cache is not to be served. */
bool path_service_stale(const struct path_service *s);
/* fn runs after every change to the cached paths (one watcher; NULL removes it). */
void path_service_watch(struct path_service *s, void (*fn)(void *arg), void *arg);

/* --- counters --- */

/* The backend's and the cache's counters as members of the object j is writing. */
void path_service_stats_json(struct path_service *s, struct json *j);

/* pr_store_table_order() of the service's store. */
size_t path_service_table_order(const struct path_service *s, uint16_t tuple,
				const union ibv_gid **order);

#endif
