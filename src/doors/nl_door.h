/*
 * nl_door - the kernel's door: answers the PathRecord queries that ib_sa (rdma_cm route
 * resolution, IPoIB, SRP, NFS/RDMA) sends to the RDMA_NL_LS group of NETLINK_RDMA before it asks
 * the SA (docs/netlink.md). A datagram door on the lookup-service seam: each RESOLVE becomes the
 * exact request its attributes give, answered from the cache or after one (coalesced) SA query;
 * everything it cannot answer gets the error reply at once, so the kernel asks the SA itself
 * without waiting.
 */
#ifndef LOCALSA_DOORS_NL_DOOR_H
#define LOCALSA_DOORS_NL_DOOR_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct json;
struct path_service;
struct nl_door;

/* How the door reaches NETLINK_RDMA; the door tests give a datagram socket of their own. */
struct nl_door_io {
	/* A non-blocking, close-on-exec socket, or a negative errno. */
	int (*open)(void *ctx);
	/* Joins (true) or leaves RDMA_NL_GROUP_LS; 0 or a negative errno. */
	int (*membership)(void *ctx, int fd, bool join);
	void *ctx;
};

struct nl_door_opts {
	uint32_t timeout_ms;		/* SET_TIMEOUT sent at bind (the kernel clamps it to
					 * 100..200000 and so does the door); 0: none sent */
	unsigned max_pending;		/* requests waiting for the SA at once; more are answered from
					 * the cache only (a miss: the error reply); 0: 1024 */
	uint32_t new_tuples;		/* new cache tuples the kernel may create at once; 0: 64 */
	uint32_t new_tuples_per_s;	/* ... and per second after that; 0: 4 */
	const struct nl_door_io *io;	/* NULL: the kernel's NETLINK_RDMA */
	const char *proc_netlink;	/* the sockets to look for other responders in at bind;
					 * NULL: /proc/net/netlink */
};

/*
 * Opens the socket; the door does not join the group yet. -EPROTONOSUPPORT: the kernel has no
 * NETLINK_RDMA (no ib_core): the daemon runs without the door. Other negative errno: failure.
 */
int nl_door_new(struct loop *loop, struct path_service *svc, const struct nl_door_opts *opts,
		struct nl_door **out);
/*
 * The cache can answer (a fill or a distributor's push): join the group and send SET_TIMEOUT,
 * and warn when another socket (ibacm) is a member too: the kernel takes the first answer.
 * Without this call the door joins by itself once the service reports a fill (generation > 0),
 * which it checks every few hundred milliseconds. Idempotent; no effect after nl_door_leave().
 */
void nl_door_ready(struct nl_door *d);
/*
 * Leaves the group for good, then answers the requests already received with the error reply
 * and cancels their lookups, so that the kernel asks the SA at once instead of waiting for a
 * daemon that stops: call it first at shutdown, before anything else stops. Idempotent.
 */
void nl_door_leave(struct nl_door *d);
/* Accepts NULL. Leaves the group (nl_door_leave()) and closes the socket. */
void nl_door_free(struct nl_door *d);
/* Its counters as members of the stats object ("netlink_*"). Accepts NULL (writes nothing). */
void nl_door_stats_json(const struct nl_door *d, struct json *j);

#endif
