/*
 * ctl_server - the control socket door (unix stream socket) behind the
 * `localsa` CLI and liblocalsa's misses: path lookups, dump, stats, refresh,
 * flush, add, delete, and info (where the shared-memory snapshot is).
 * Writes are allowed to root and to the daemon's own user (SO_PEERCRED);
 * reads to whoever the socket's file mode lets connect. A line codec on the
 * stream-client core (door_stream), lookups and writes through the service.
 */
#ifndef LOCALSA_DOORS_CTL_SERVER_H
#define LOCALSA_DOORS_CTL_SERVER_H

#include <stdint.h>
#include <sys/types.h>

struct loop;
struct json;
struct path_service;
struct ctl_server;

struct ctl_server_opts {
	const char *path;
	mode_t mode;              /* e.g. 0660 */
	unsigned max_clients;     /* 0: 64; one of them only root may take */
	/* Writes daemon-level members into the stats object. */
	void (*extra_stats)(void *arg, struct json *j);
	void *extra_arg;
	/* The snapshot liblocalsa maps, told by `info` (NULL: none). */
	const char *shm_name;
	unsigned idle_ms;         /* a connection doing nothing this long is closed; 0: 60 s */
	uint32_t new_tuples;      /* new cache tuples a user may create at once; 0: 64 */
	uint32_t new_tuples_per_s;/* ... and per second after that; 0: 4 */
};

int ctl_server_new(struct loop *loop, struct path_service *svc,
		   const struct ctl_server_opts *opts, struct ctl_server **out);
void ctl_server_free(struct ctl_server *s);  /* closes clients, unlinks the socket */

#endif
