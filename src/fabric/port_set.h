/*
 * port_set - the ports one daemon serves, as the lookup service's backend: every port has its
 * own resolver (and SA client, SM, fill) over the one store they share, and each lookup goes to
 * the resolver of the request's SGID - or of the default port when it gives none. Ports join
 * and leave as they come up and go down; a refresh covers every port served.
 */
#ifndef LOCALSA_FABRIC_PORT_SET_H
#define LOCALSA_FABRIC_PORT_SET_H

#include <stdbool.h>

struct pr_store;
struct path_service;
struct resolver;
struct sa_client;
struct port_set;

/* A set over store (the caller's; each resolver added shares it), serving no port yet. */
int port_set_new(struct pr_store *store, struct port_set **out);
/* Frees the service too; the resolvers stay their owners'. */
void port_set_free(struct port_set *ps);
/* What the doors use; it lives as long as the set. */
struct path_service *port_set_service(const struct port_set *ps);

/* A lookup without SGID is this port's, and fails while it is not served (-EADDRNOTAVAIL);
 * unset, the first port ever served is the default. */
void port_set_set_default(struct port_set *ps, const char *ca, unsigned port_num);
/* res (asking the SA through sa) serves its port from now on: lookups with its SGID go to it.
 * -EEXIST (the port, or its SGID, is served), -ENOSPC (PATH_PORTS_MAX ports), -EINVAL. */
int port_set_serve(struct port_set *ps, struct resolver *res, struct sa_client *sa);
/* The port of res is no longer served: lookups with its SGID fail from now on; a refresh that
 * waited for it no longer does; its counters stay in the sums. Before res and sa are freed. */
void port_set_unserve(struct port_set *ps, const struct resolver *res);
/* How many ports are served. */
unsigned port_set_count(const struct port_set *ps);

struct json;
/* One port's counters, under the names the service's stats give their sums. */
void port_set_port_stats_json(const struct resolver *res, const struct sa_client *sa,
			      struct json *j);

#endif
