/*
 * port_fleet - every port this daemon serves, followed through their life: at start the ports
 * the configuration names (or every active one) are checked and opened; then the port watcher
 * says which go down (closed: their SGIDs leave the set and the cache), come up or appear
 * (opened, filled, served) or change address (closed and opened again: a refill). The per-port
 * objects are served_port's; the routing between them is port_set's.
 */
#ifndef LOCALSA_DAEMON_PORT_FLEET_H
#define LOCALSA_DAEMON_PORT_FLEET_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct json;
struct loop;
struct port_set;
struct pr_store;
struct served_port;
struct port_fleet;

/* The daemon's hooks, arg first. */
struct port_fleet_hooks {
	void (*on_filled)(void *arg, struct served_port *p, int err, size_t records); /* first */
	void (*on_synced)(void *arg, struct served_port *p);	/* receiver: first push */
	void (*on_change)(void *arg, struct served_port *p, const char *why); /* distributor */
	void (*on_open)(void *arg, struct served_port *p);	/* serving from now on */
	void (*on_close)(void *arg, struct served_port *p);	/* closing (served_port_env) */
	void *arg;
};

/*
 * Checks the ports cfg names against the ports there are and opens those that are active
 * (not started yet). A port named that does not exist, or none to serve, is an error that
 * msg explains, naming the ports there are. cfg is read again by port_fleet_apply().
 */
int port_fleet_new(struct loop *loop, const struct config *cfg, struct pr_store *store,
		   struct port_set *set, const struct port_fleet_hooks *hooks,
		   struct port_fleet **out, char *msg, size_t msglen);
void port_fleet_free(struct port_fleet *f);
/* Starts every open port's fill and the watching. */
void port_fleet_start(struct port_fleet *f);
/* Unsubscribes every port at its SM; done(arg) once all are done. */
void port_fleet_shutdown(struct port_fleet *f, void (*done)(void *arg), void *arg);

/* The open ports, up to max into out; how many there are. */
size_t port_fleet_ports(const struct port_fleet *f, struct served_port **out, size_t max);
/* The default port (lookups without SGID), or NULL while it is not open. */
struct served_port *port_fleet_default(const struct port_fleet *f);

/* A reload: live options, the poll period; then each port refreshes. */
void port_fleet_apply(struct port_fleet *f);
void port_fleet_refresh_now(struct port_fleet *f, const char *why);
/* The prefetch lists of cfg that old lacks, on every open port. */
int port_fleet_prefetch(struct port_fleet *f, const struct config *old);

/* The "ports" array of the stats and of the status: the ports served, and those named or
 * seen that are down. */
void port_fleet_stats_json(struct port_fleet *f, struct json *j);
void port_fleet_status_json(struct port_fleet *f, struct json *j);

#endif
