/*
 * freshness - the policy that keeps the cache true at a cost to the SA that grows with the
 * fabric as O(N), never O(N^2), and that never has every node hit the SA at once. Traps act
 * where they point (65: drop the GID's paths, no query; 64: one GetTable per cached tuple for
 * that GID), repeats and late resends by generation, rate-limited per GID; a full-table fetch
 * (periodic, after an SM move, after an SA outage, on request) starts at this node's moment
 * of a window that grows with its table (fabric/spread.h; periodic ones at that moment of each
 * period of the wall clock); a failed fill is retried with the
 * SA-failure backoff, and at once when the SA answers again. An SM that moves (or restarts and
 * forgets us) gets our subscriptions again. Serving stale entries is the resolver's
 * max_stale_ms policy.
 */
#ifndef LOCALSA_DAEMON_FRESHNESS_H
#define LOCALSA_DAEMON_FRESHNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/spread.h"
#include <infiniband/verbs.h>

struct json;
struct loop;
struct mad_port;
struct sa_client;
struct resolver;
struct freshness;

enum freshness_role {
	ROLE_STANDALONE,  /* fills itself with one GetTable, follows traps */
	ROLE_DISTRIBUTOR, /* changes go to on_change: the all-pairs fetch covers this node too */
	ROLE_RECEIVER,    /* a distributor pushes; falls back to standalone when it goes quiet */
};

/* Why a full-table fetch happens: its counters in the stats, by these names. */
enum fetch_cause {
	FETCH_START,        /* the first fill */
	FETCH_PERIODIC,     /* refresh_interval_s */
	FETCH_SM_MOVE,      /* the master SM is elsewhere */
	FETCH_SA_RECOVERED, /* the SA answers again after queries went unanswered */
	FETCH_OPERATOR,     /* SIGHUP, localsa refresh */
	FETCH_TRAP_OVERFLOW,/* more trap fetches waiting than is worth it: one fetch covers all */
	FETCH_FALLBACK,     /* a receiver without its distributor */
	FETCH_CAUSES,
};

struct freshness_opts {
	enum freshness_role role;
	unsigned receiver_timeout_ms;   /* receiver: fall back after this long without a push */
	void (*on_change)(void *arg, const char *why); /* distributor: the fabric changed */
	void *change_arg;
	void (*on_synced)(void *arg);   /* receiver: first push or fallback fill */
	void *synced_arg;
	void (*on_filled)(void *arg, int err, size_t records); /* the first fill's first attempt */
	void *filled_arg;
	unsigned refresh_interval_s;    /* periodic full refresh; 0: off */
	unsigned sm_poll_ms;            /* PortInfo read period; 0: only on SA timeouts */
	unsigned inform_refresh_s;      /* re-subscription period; 0: only at start and SM change */
	const uint16_t *traps;          /* traps to subscribe to; n_traps 0: none */
	size_t n_traps;
	unsigned shutdown_grace_ms;     /* how long shutdown waits for the SA; 0: 1000 */
	struct spread_opts spread;      /* when a fetch every node makes starts */
	unsigned start_spread_ms;       /* the first fill at a random moment of [0, this); 0: now */
	unsigned retry_min_ms;          /* a failed fill again after this, doubling; 0: 1000 */
	unsigned retry_max_ms;          /* ... up to this; 0: 8000 */
	unsigned trap_interval_ms;      /* a GID's paths fetched at most this often; 0: 1000 */
};

int freshness_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		  struct resolver *res, const struct freshness_opts *opts, struct freshness **out);
void freshness_free(struct freshness *f);
/* Subscribes and, standalone, starts the first fill; call once the port is in the loop. */
void freshness_start(struct freshness *f);
/* A full refresh the operator asked for, at once (SIGHUP, `localsa refresh --now`). */
void freshness_refresh_now(struct freshness *f, const char *why);
/* The same at this node's moment of the spread window (`localsa refresh` without --now, run
 * on many nodes at once): returns the ms until it starts (0: it has). */
uint64_t freshness_refresh(struct freshness *f);
/* Unsubscribes; done runs once the SA answered or after a short grace time. */
void freshness_shutdown(struct freshness *f, void (*done)(void *arg), void *arg);
/* Receiver: a distributor's Set or heartbeat was accepted. */
void freshness_on_push(struct freshness *f, uint16_t slid, size_t records, uint32_t flags);
/* Its members of the stats object, the informer's and the SM tracker's included. */
void freshness_stats_json(const struct freshness *f, struct json *j);
const char *fetch_cause_name(enum fetch_cause c);

/* A reload: new periods and spread; the periodic refresh is re-armed (its place in the new
 * period) when its period changed. */
void freshness_set_timing(struct freshness *f, unsigned refresh_interval_s,
			  unsigned receiver_timeout_ms, const struct spread_opts *spread);
/* When the periodic refresh is due (loop clock), 0 when off. */
uint64_t freshness_next_refresh_ms(const struct freshness *f);

/* The last trap received (0: none), the GID it was about, and when (loop clock). */
void freshness_last_trap(const struct freshness *f, uint16_t *trap, union ibv_gid *gid,
			 uint64_t *at_ms);

struct informer_stats;
/* The subscriptions' counters (zero when no trap is subscribed). */
void freshness_informer_stats(const struct freshness *f, struct informer_stats *out);

#endif
