/*
 * acm_server - the ibacm-compatible door: the ACM socket protocol (<infiniband/acm.h>) on a unix
 * stream socket and, optionally, on TCP 127.0.0.1, so that unmodified ACM clients (ib_acme,
 * librdmacm's route resolution) get their PathRecords from localsa's cache. RESOLVE by GID or
 * LID (path-record or address entries), QUERY_SA (ask the master SA, verify, refresh the cache),
 * NODELAY (cache only; a miss starts a fetch in the background), PERF_QUERY and EP_QUERY.
 */
#ifndef LOCALSA_DOORS_ACM_SERVER_H
#define LOCALSA_DOORS_ACM_SERVER_H

#include <stdint.h>

#include <infiniband/acm.h>

struct loop;
struct json;
struct path_service;
struct acm_server;

struct acm_server_opts {
	const char *path;		/* unix socket; NULL or "" for none */
	uint16_t tcp_port;		/* 127.0.0.1:tcp_port; 0 for none */
	unsigned max_clients;		/* 0: 512 */
	unsigned partial_timeout_ms;	/* a message begun but unfinished this long: close; 0: 5000 */
	unsigned idle_ms;		/* a connection idle this long is closed; 0: never (librdmacm
					 * keeps one per process and does not reconnect) */
	uint32_t new_tuples;		/* new cache tuples a user may create at once; 0: 64 */
	uint32_t new_tuples_per_s;	/* ... and per second after that; 0: 4 */
};

/* Either socket may be absent, not both (-EINVAL). An existing socket at path is replaced only
 * when nothing answers on it (-EADDRINUSE otherwise: ibacm may be running). A listening socket
 * for path passed by systemd (LISTEN_FDS) is used instead of binding one. */
int acm_server_new(struct loop *loop, struct path_service *svc,
		   const struct acm_server_opts *opts, struct acm_server **out);
/* Accepts NULL. Closes every client, cancels their lookups, unlinks the socket it bound. */
void acm_server_free(struct acm_server *s);
/*
 * Writes the counters as members of the stats object (acm_resolves, ...). The first five are
 * the ones PERF_QUERY reports (acm.h's ACM_CNTR_*): as in ibacm they count RESOLVEs - requests,
 * replies with an error other than ENODATA, ENODATA replies, route queries (lookups sent to
 * the SA: misses, verifications, NODELAY prefetches), route cache hits; the two address
 * counters stay 0 (localsa resolves no IP or name). Accepts NULL (writes nothing).
 */
void acm_server_stats_json(const struct acm_server *s, struct json *j);

#endif
