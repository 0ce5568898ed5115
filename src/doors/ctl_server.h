/*
 * ctl_server - the control socket door (unix stream socket) behind the
 * `localsa` CLI and liblocalsa's misses: path lookups, dump, stats, refresh,
 * flush, add, delete, and info (where the shared-memory snapshot is).
 * Writes are allowed to root and to the daemon's own user (SO_PEERCRED);
 * reads to whoever the socket's file mode lets connect.
 */
#ifndef LOCALSA_DOORS_CTL_SERVER_H
#define LOCALSA_DOORS_CTL_SERVER_H

#include <sys/types.h>

struct loop;
struct resolver;
struct sa_client;
struct strbuf;
struct ctl_server;

struct ctl_server_opts {
	const char *path;
	mode_t mode;              /* e.g. 0660 */
	unsigned max_clients;
	/* Appends daemon-level members ("\"key\": value, ") to the stats JSON. */
	void (*extra_stats)(void *arg, struct strbuf *json);
	void *extra_arg;
	/* The snapshot liblocalsa maps, told by `info` (NULL: none). */
	const char *shm_name;
};

int ctl_server_new(struct loop *loop, struct resolver *res, struct sa_client *sa,
		   const struct ctl_server_opts *opts, struct ctl_server **out);
void ctl_server_free(struct ctl_server *s);  /* closes clients, unlinks the socket */

#endif
