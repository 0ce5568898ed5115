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
struct resolver;
struct mad_port;
struct strbuf;
struct acm_server;

struct acm_server_opts {
	const char *path;		/* unix socket; NULL or "" for none */
	uint16_t tcp_port;		/* 127.0.0.1:tcp_port; 0 for none */
	unsigned max_clients;		/* 0: 512 */
	unsigned partial_timeout_ms;	/* a message begun but unfinished this long: close; 0: 5000 */
};

/*
 * counters[] are the ones PERF_QUERY reports, indexed by acm.h's ACM_CNTR_*. As in ibacm they
 * count RESOLVEs: requests, replies with an error status other than ENODATA, ENODATA replies,
 * address queries and address cache hits (always 0: localsa resolves no IP or name addresses),
 * route queries (lookups sent to the SA: misses, verifications, NODELAY prefetches) and route
 * cache hits (answers from the cache). The other members count the rest of the door's work.
 */
struct acm_server_stats {
	uint64_t counters[ACM_MAX_COUNTER];
	uint64_t perf_queries, ep_queries, verifications, verify_failures, prefetches;
	uint64_t clients_now, clients_total, clients_rejected, protocol_errors;
};

/* Either socket may be absent, not both (-EINVAL). An existing socket at path is replaced only
 * when nothing answers on it (-EADDRINUSE otherwise: ibacm may be running). A listening socket
 * for path passed by systemd (LISTEN_FDS) is used instead of binding one. */
int acm_server_new(struct loop *loop, struct resolver *res, struct mad_port *port,
		   const struct acm_server_opts *opts, struct acm_server **out);
/* Accepts NULL. Closes every client, cancels their lookups, unlinks the socket it bound. */
void acm_server_free(struct acm_server *s);
void acm_server_stats(const struct acm_server *s, struct acm_server_stats *out);
/* Appends the stats as JSON members ("\"acm_resolves\": 12, "). Accepts NULL (appends nothing). */
void acm_server_append_json(const struct acm_server *s, struct strbuf *json);

#endif
