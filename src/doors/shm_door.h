/*
 * shm_door - the shared-memory door: keeps the snapshot that liblocalsa reads (cache/snap_writer)
 * in step with the cache. Every change to the cache's paths marks it dirty; a short timer
 * batches a burst of changes (a fill, a storm of misses) into one publication, and the pause
 * after a publication grows with its cost, so publishing never takes more than ~1/5 of the loop.
 * While the cache is stale (path_service_stale: max_stale_ms without an SA answer) the snapshot
 * is held: readers ask the daemon, which applies the same rule.
 */
#ifndef LOCALSA_DOORS_SHM_DOOR_H
#define LOCALSA_DOORS_SHM_DOOR_H

#include <stdint.h>
#include <sys/types.h>

struct loop;
struct json;
struct path_service;
struct shm_door;

struct shm_door_opts {
	const char *name;		/* shm_open name, "/localsa" */
	mode_t socket_mode;		/* the control socket's: who may connect may read */
	const char *control_socket;	/* written into the header, for readers' misses */
	uint16_t port_lid;
	unsigned max_stale_ms;		/* the resolver's; 0: never hold */
	unsigned batch_ms;		/* first delay after a change; 0: 2 ms */
};

/* Takes the service's change watcher and publishes once. -EADDRINUSE: another localsad
 * publishes under this name. */
int shm_door_new(struct loop *loop, struct path_service *svc, const struct shm_door_opts *opts,
		 struct shm_door **out);
/* Readers are told the daemon stopped (they ask the socket, which is gone). Accepts NULL. */
void shm_door_free(struct shm_door *d);
/* Writes "shm_name" and the "snapshot_*" counters into the stats. Accepts NULL. */
void shm_door_stats_json(const struct shm_door *d, struct json *j);

#endif
