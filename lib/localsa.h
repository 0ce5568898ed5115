/*
 * localsa.h - liblocalsa: InfiniBand PathRecords from the node's local SA cache (localsad).
 *
 * A lookup is answered from a read-only shared-memory snapshot that localsad publishes: no
 * system call, no IPC, a few hash probes. What the snapshot does not hold (a miss, a request for
 * a QoS tuple nobody asked for yet, a "no path" answer) is asked of localsad over its control
 * socket; localsad answers from its cache or with one SA query, caches the answer, and publishes
 * it to the snapshot for the next lookup.
 *
 * Answers follow the cache's exact-request rule: a path is returned only if it is the SA's
 * answer to a request with the same SGID, PKey, ServiceID, QoS class, SL and TClass as the
 * query (the fields the query leaves unset count as unset, not as wildcards). A query with
 * PKey 0x8001 is never answered with a path fetched for the default PKey.
 *
 * All functions are thread-safe on a shared handle except localsa_close(). Errors are negative
 * errno values; the library never prints, logs, or raises signals (SIGPIPE included).
 * Link with -llocalsa (pkg-config liblocalsa).
 */
#ifndef LOCALSA_H
#define LOCALSA_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>	/* struct ibv_path_record, union ibv_gid */

#ifdef __cplusplus
extern "C" {
#endif

#define LOCALSA_DEFAULT_SOCKET "/run/localsa/localsa.sock"

struct localsa;

/* Which fields of struct localsa_query are set. */
enum localsa_query_flags {
	LOCALSA_Q_SGID = 1 << 0,	/* else: the port GID localsad serves */
	LOCALSA_Q_DGID = 1 << 1,	/* a destination: DGID, DLID or both */
	LOCALSA_Q_DLID = 1 << 2,	/* with DGID too: only that DGID's paths with this DLID */
	LOCALSA_Q_PKEY = 1 << 3,
	LOCALSA_Q_SERVICE_ID = 1 << 4,
	LOCALSA_Q_QOS_CLASS = 1 << 5,
	LOCALSA_Q_SL = 1 << 6,
	LOCALSA_Q_TCLASS = 1 << 7,
	LOCALSA_Q_SA = 1 << 8,		/* skip every cache: localsad asks the SA and caches the answer */
};

/* A PathRecord request. Host byte order; zero what you do not set. */
struct localsa_query {
	uint32_t flags;			/* LOCALSA_Q_* */
	uint16_t dlid;			/* 1 .. 0xbfff */
	uint16_t pkey;
	uint16_t qos_class;		/* 0 .. 0xfff */
	uint8_t sl;			/* 0 .. 15 */
	uint8_t tclass;
	uint64_t service_id;
	union ibv_gid sgid;
	union ibv_gid dgid;
};

/*
 * Opens a handle. socket_path: localsad's control socket; NULL means $LOCALSA_SOCKET, else
 * LOCALSA_DEFAULT_SOCKET. shm_name: the snapshot (shm_open name, "/..."); NULL means
 * $LOCALSA_SHM, else whatever localsad says when asked (one round trip, now or at the first
 * lookup); "none" or "" means no snapshot: every lookup asks the socket.
 * Succeeds even when localsad is not running: lookups then fail with -ECONNREFUSED until it is.
 * Errors: -EINVAL (a path too long, a name not starting with '/'), -ENOMEM.
 */
int localsa_open(const char *socket_path, const char *shm_name, struct localsa **out);

/* Releases the handle and its mappings. No other call on h may be running. Accepts NULL. */
void localsa_close(struct localsa *h);

/*
 * The first path for q (the SA's preferred one) into *path, network byte order as the SA sent
 * it. Returns 0, or:
 *   -ENOENT        the SA has no path for this request (answers of that kind are cached by
 *                  localsad for negative_ttl_ms)
 *   -EINVAL        a malformed query (no destination, a field out of range, an unknown flag)
 *   -ETIMEDOUT     the SA did not answer localsad in time, or localsad did not answer us
 *   -EREMOTEIO     the SA refused the request (a status other than "no records")
 *   -EADDRNOTAVAIL the source port (LOCALSA_Q_SGID, or the default port when none) is not
 *                  one localsad serves, or it is down
 *   -ECONNREFUSED  localsad is not running at the socket
 *   -EACCES        the socket's mode does not let this user in
 *   -EIO, -EPROTO  localsad failed or spoke nonsense
 * A hit in the snapshot makes no system call.
 */
int localsa_resolve(struct localsa *h, const struct localsa_query *q,
		    struct ibv_path_record *path);

/*
 * Every path for q, in the SA's order: writes the first min(n, max) to paths and returns n
 * (which may exceed max; paths may be NULL when max is 0). Errors as localsa_resolve().
 */
int localsa_resolve_all(struct localsa *h, const struct localsa_query *q,
			struct ibv_path_record *paths, size_t max);

/*
 * n queries at once: paths[i] gets the first path of qs[i] and status[i] 0 or a negative errno
 * as localsa_resolve() returns it. Hits come from the snapshot; the misses go to localsad
 * pipelined on one connection. Returns how many have status 0, or -EINVAL for NULL arrays.
 */
int localsa_resolve_batch(struct localsa *h, const struct localsa_query *qs, size_t n,
			  struct ibv_path_record *paths, int *status);

/*
 * Calls fn for every path of one publication of the snapshot (a consistent copy: the daemon may
 * publish meanwhile), destination by destination, each one's paths in the SA's order. key tells
 * the request the path answers: LOCALSA_Q_SGID and LOCALSA_Q_DGID always set, plus the fields
 * of the request it was filed under. A non-zero return of fn stops the walk and is returned.
 * Returns 0, -ENODATA (no snapshot: localsad runs without one or is not running), -ENOMEM,
 * -EAGAIN (localsad kept republishing faster than the copy could be taken).
 */
typedef int (*localsa_foreach_fn)(const struct ibv_path_record *path,
				  const struct localsa_query *key, void *arg);
int localsa_foreach(struct localsa *h, localsa_foreach_fn fn, void *arg);

/* Counters of a handle since localsa_open(). */
struct localsa_stats {
	uint64_t lookups;		/* queries, a batch counting each of its queries */
	uint64_t shm_hits;		/* answered from the snapshot */
	uint64_t fallbacks;		/* sent to localsad: not in the snapshot, LOCALSA_Q_SA, no snapshot */
	uint64_t fallback_errors;	/* ... that failed other than with -ENOENT */
	uint64_t seqlock_retries;	/* a lookup restarted because localsad overtook it */
	uint64_t remaps;		/* the snapshot moved (it grew, or localsad restarted) */
	uint64_t publication;		/* the snapshot's publication counter now; 0: none mapped */
	uint32_t object_gen;		/* the snapshot object's generation; 0: none mapped */
	uint32_t attached;		/* 1 if a snapshot is mapped */
};

/* Fills the first size bytes of *out (pass sizeof(*out): newer fields may be added at the end).
 * Returns 0 or -EINVAL. */
int localsa_get_stats(struct localsa *h, struct localsa_stats *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
