/*
 * distributor - the distributor role: fetch the all-pairs PathRecord table
 * from the master SA once per fabric change, split it by SGID, and push each
 * receiver its slice with SubnAdmSet(PathRecord) to its local SA (the SA
 * door), authenticated with the SM_Key. After a change only the difference
 * travels: Set for new or changed destinations, Delete for vanished ones.
 * Receivers that miss a push are resynchronised with a full slice; the
 * others get a heartbeat.
 */
#ifndef LOCALSA_FABRIC_DISTRIBUTOR_H
#define LOCALSA_FABRIC_DISTRIBUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>
#include <infiniband/verbs.h>

struct loop;
struct mad_port;
struct json;
struct sa_client;
struct distributor;

struct distributor_opts {
	uint64_t sm_key;
	const union ibv_gid *targets;  /* receivers' port GIDs; NULL with all */
	size_t n_targets;
	bool all;                      /* every SGID of the table but our own */
	unsigned heartbeat_ms;
	unsigned change_delay_ms;      /* fetch this long after a change signal */
	unsigned retry_max_ms;         /* a failed fetch again after 1 s, doubling up to this */
	uint32_t max_records_per_push;
	/* This node's own slice of each table, so it needs no GetTable of its own. */
	void (*own_slice)(void *arg, const struct ibv_path_record *recs, size_t n);
	void *own_arg;
};

/* master: queries to the master SA; push: Sets to receivers (another TID space). */
int distributor_new(struct loop *loop, struct mad_port *port, struct sa_client *master,
		    struct sa_client *push, const struct distributor_opts *opts,
		    struct distributor **out);
void distributor_free(struct distributor *d);
/* The fabric may have changed: fetch the table again (debounced). */
void distributor_changed(struct distributor *d, const char *why);
/* Its member of the stats object: "distributor": {...}. */
void distributor_stats_json(const struct distributor *d, struct json *j);

/*
 * A reload: a new receiver list (gids, n; or all: every SGID of the table). The table is fetched
 * again and every receiver, old or new, gets its whole slice (what an old one holds is not
 * known once answers in flight are dropped); one that left gets nothing more. -ENOMEM: the
 * old list stays.
 */
int distributor_set_targets(struct distributor *d, bool all, const union ibv_gid *gids,
			    size_t n);
/* A reload: the heartbeat period and the delay after a change, from the next ones on. */
void distributor_set_timing(struct distributor *d, unsigned heartbeat_ms, unsigned change_delay_ms);

#endif
