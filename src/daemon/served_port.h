/*
 * served_port - one InfiniBand port the daemon serves, with everything that is per port: its
 * MAD port (QP1 agents), SA client (credits, backoff, budget), resolver over the shared store,
 * freshness (fill, refresh schedule, SM tracking, InformInfo at its own SM), and its SA door
 * and write ACL. Opened when the port comes up, closed when it goes down: closing takes its
 * SGID out of the port set and its paths out of the store.
 */
#ifndef LOCALSA_DAEMON_SERVED_PORT_H
#define LOCALSA_DAEMON_SERVED_PORT_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct json;
struct loop;
struct mad_port;
struct port_set;
struct pr_store;
struct resolver;
struct sa_client;
struct freshness;
struct sa_server;
struct served_port;

/* What every port shares, and the daemon's hooks (arg: env.arg, p: the port). */
struct served_port_env {
	struct loop *loop;
	const struct config *cfg;      /* read at open and by served_port_apply() */
	struct pr_store *store;
	struct port_set *set;
	void (*on_filled)(void *arg, struct served_port *p, int err, size_t records);
	void (*on_synced)(void *arg, struct served_port *p);        /* receiver */
	void (*on_change)(void *arg, struct served_port *p, const char *why); /* distributor */
	/* Closing, its SA client already gone (what used it is failed): the last moment its MAD
	 * port may be let go of. */
	void (*on_close)(void *arg, struct served_port *p);
	void *arg;
};

/* Opens ca:port_num and serves it (served_port_start() starts its fill). distributes: in role
 * distributor, this port is the one that fetches and pushes (the others fill themselves). The
 * env must outlive the port. */
int served_port_open(const struct served_port_env *env, const char *ca, unsigned port_num,
		     bool distributes, struct served_port **out);
/* Out of the set, its paths out of the store, everything closed. NULL is fine. */
void served_port_close(struct served_port *p);
/* Subscribes at its SM and starts its first fill (standalone). */
void served_port_start(struct served_port *p);
/* Unsubscribes at its SM; done(arg) once the SA answered or after a grace time. */
void served_port_shutdown(struct served_port *p, void (*done)(void *arg), void *arg);

/* A reload: the live options of env.cfg, and a full refresh. */
void served_port_apply(struct served_port *p);
/* The prefetch lists of env.cfg that old lacks, for every fill from now on. */
int served_port_prefetch(struct served_port *p, const struct config *old);
void served_port_refresh_now(struct served_port *p, const char *why);

struct mad_port *served_port_mad(const struct served_port *p);
struct sa_client *served_port_sa(const struct served_port *p);
struct resolver *served_port_resolver(const struct served_port *p);
struct freshness *served_port_freshness(const struct served_port *p);
/* Its SA door, NULL with sa_server 0. */
struct sa_server *served_port_sa_door(const struct served_port *p);
bool served_port_sa_reachable(struct served_port *p);

/* Its object of the stats' ports array: addresses, its SA client's and freshness counters. */
void served_port_stats_json(struct served_port *p, struct json *j);
/* Its object of the status' ports array. */
void served_port_status_json(struct served_port *p, struct json *j);
/* ca, port, gid, lid, sm_lid: the members both begin with. */
void served_port_members(const struct served_port *p, struct json *j);

#endif
