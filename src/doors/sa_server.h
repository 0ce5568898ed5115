/*
 * sa_server - the SA door on QP1, the seed's interface: standard SA MADs sent
 * to this node's LID. Get/GetTable PathRecord are answered from the cache
 * when it provably holds the SA's answer, else fetched (cached) and relayed;
 * Set PathRecord (one record, or many in one RMPP message: "SetTable") loads
 * the cache and Delete PathRecord invalidates it, both only with the
 * configured SM_Key. Other attributes are relayed to the master SA.
 */
#ifndef LOCALSA_DOORS_SA_SERVER_H
#define LOCALSA_DOORS_SA_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct json;
struct mad_port;
struct path_service;
struct push_acl;
struct sa_client;
struct sa_server;

struct sa_server_opts {
	bool writes_allowed;      /* false: every Set/Delete is REQ_DENIED */
	uint64_t sm_key;          /* the key Set/Delete must carry */
	bool relay;               /* relay what the cache cannot answer to the master SA */
	uint32_t max_set_records; /* per Set; more is NO_RESOURCES */
	unsigned max_pending;     /* requests waiting for the SA at once */
	/* Called after every accepted Set: records loaded, PR_PUSH_* flags. */
	void (*on_push)(void *arg, uint16_t slid, size_t records, uint32_t flags);
	void *push_arg;
	uint32_t new_tuples;      /* new cache tuples a source LID may create at once; 0: 64 */
	uint32_t new_tuples_per_s;/* ... and per second after that; 0: 4 */
	struct push_acl *push_from; /* who may write (the key too); NULL: any source */
};

/* Takes the port's SA requests (its dispatcher's, -EEXIST if another owner has them). Lookups,
 * tables and writes go through svc; answers and relays leave through port and sa. */
int sa_server_new(struct loop *loop, struct mad_port *port, struct path_service *svc,
		  struct sa_client *sa, const struct sa_server_opts *opts, struct sa_server **out);
void sa_server_free(struct sa_server *s);
/* Writes the "sa_door" object into the stats. */
void sa_server_stats_json(const struct sa_server *s, struct json *j);

#endif
