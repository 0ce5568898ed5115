/*
 * freshness - the policy that keeps the cache true: traps act at once
 * (65: drop the GID's paths; 64: fetch them), any topology trap schedules
 * one debounced full refresh, a periodic full refresh catches the rest, and
 * an SM that moves (or restarts and forgets us) gets our subscriptions again
 * and triggers a refresh. Serving stale entries is the resolver's
 * max_stale_ms policy.
 */
#ifndef LOCALSA_DAEMON_FRESHNESS_H
#define LOCALSA_DAEMON_FRESHNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct freshness_opts {
	enum freshness_role role;
	unsigned receiver_timeout_ms;   /* receiver: fall back after this long without a push */
	void (*on_change)(void *arg, const char *why); /* distributor: the fabric changed */
	void *change_arg;
	void (*on_synced)(void *arg);   /* receiver: first push or fallback fill */
	void *synced_arg;
	unsigned refresh_interval_s;    /* periodic full refresh; 0: off */
	unsigned trap_refresh_delay_ms; /* full refresh this long after the last trap; 0: off */
	unsigned sm_poll_ms;            /* PortInfo read period; 0: only on SA timeouts */
	unsigned inform_refresh_s;      /* re-subscription period; 0: only at start and SM change */
	const uint16_t *traps;          /* traps to subscribe to; n_traps 0: none */
	size_t n_traps;
	unsigned shutdown_grace_ms;     /* how long shutdown waits for the SA; 0: 1000 */
};

int freshness_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		  struct resolver *res, const struct freshness_opts *opts, struct freshness **out);
void freshness_free(struct freshness *f);
/* Subscribes; call once the port is in the loop. */
void freshness_start(struct freshness *f);
/* A full refresh for an external reason (SIGHUP). */
void freshness_refresh_now(struct freshness *f, const char *why);
/* Unsubscribes; done runs once the SA answered or after a short grace time. */
void freshness_shutdown(struct freshness *f, void (*done)(void *arg), void *arg);
/* Receiver: a distributor's Set or heartbeat was accepted. */
void freshness_on_push(struct freshness *f, uint16_t slid, size_t records, uint32_t flags);
/* Its members of the stats object, the informer's and the SM tracker's included. */
void freshness_stats_json(const struct freshness *f, struct json *j);

/* A reload: new periods; the periodic refresh is re-armed from now when its period changed. */
void freshness_set_timing(struct freshness *f, unsigned refresh_interval_s,
			  unsigned trap_refresh_delay_ms, unsigned receiver_timeout_ms);
/* When the periodic refresh is due (loop clock), 0 when off. */
uint64_t freshness_next_refresh_ms(const struct freshness *f);

/* The last trap received (0: none), the GID it was about, and when (loop clock). */
void freshness_last_trap(const struct freshness *f, uint16_t *trap, union ibv_gid *gid,
			 uint64_t *at_ms);

struct informer_stats;
/* The subscriptions' counters (zero when no trap is subscribed). */
void freshness_informer_stats(const struct freshness *f, struct informer_stats *out);

#endif
