/*
 * ctl_server - the control socket door (unix stream socket) behind the
 * `localsa` CLI and liblocalsa's misses: path lookups, dump, stats, status,
 * refresh, flush, add, delete, reload, and info (where the shared-memory
 * snapshot is). Writes are allowed to root and to the daemon's own user
 * (SO_PEERCRED); reads to whoever the socket's file mode lets connect. The
 * control protocol's codec (wire/ctl_proto) on the stream-client core
 * (door_stream), lookups and writes through the service.
 */
#ifndef LOCALSA_DOORS_CTL_SERVER_H
#define LOCALSA_DOORS_CTL_SERVER_H

#include <stdint.h>
#include <sys/types.h>

struct loop;
struct json;
struct path_service;
struct ctl_server;

/* What a `reload` did: comma lists of option names ("" for none), or why it failed. */
struct ctl_reload_result {
	char applied[1024];       /* changed and in effect now */
	char restart[1024];       /* changed, in effect after a restart */
	char why[256];            /* the failure (the config is kept as it was) */
};

struct ctl_server_opts {
	const char *path;
	mode_t mode;              /* e.g. 0666 */
	gid_t group;              /* the socket file's group; (gid_t)-1 or 0: the daemon's */
	unsigned max_clients;     /* 0: 64; one of them only root may take */
	/* Writes daemon-level members into the stats object. */
	void (*extra_stats)(void *arg, struct json *j);
	void *extra_arg;          /* the argument of every daemon-level hook */
	/* `status`: writes the members of the status object (NULL: the command is refused). */
	void (*status)(void *arg, struct json *j);
	/* `reload` (a write): re-reads the configuration; 0, or < 0 with r->why. NULL: refused. */
	int (*reload)(void *arg, struct ctl_reload_result *r);
	/* The snapshot liblocalsa maps, told by `info` (NULL: none). */
	const char *shm_name;
	unsigned idle_ms;         /* a connection doing nothing this long is closed; 0: 60 s */
	uint32_t new_tuples;      /* new cache tuples a user may create at once; 0: 64 */
	uint32_t new_tuples_per_s;/* ... and per second after that; 0: 4 */
	uint32_t dump_dests_per_s;/* destinations dumps of users other than root and the daemon's
				   * may list per second, in all; 0: 200,000 */
};

int ctl_server_new(struct loop *loop, struct path_service *svc,
		   const struct ctl_server_opts *opts, struct ctl_server **out);
void ctl_server_free(struct ctl_server *s);  /* closes clients, unlinks the socket */

#endif
