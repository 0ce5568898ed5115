/*
 * push_acl - who may write paths at the SA door (Set / Delete PathRecord, which also need the
 * SM_Key): the master SM (at the LID the port tracks), the configured distributor, and listed
 * LIDs or port GIDs. The SM_Key travels in cleartext (as in the SA's own trusted requests), so
 * a node that sees one write could replay the key: the source LID, which the sender's HCA
 * stamps, narrows writes to the nodes that should make them. A GID is known by its LID: from
 * the paths the cache holds to it, or else the SA's NodeRecord of that port (one query, not a
 * PathRecord one), asked again when a write comes from an unknown LID (at most once a second).
 */
#ifndef LOCALSA_FABRIC_PUSH_ACL_H
#define LOCALSA_FABRIC_PUSH_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct mad_port;
struct pr_store;
struct sa_client;
struct push_acl;

enum { PUSH_ACL_MAX = 16 };

/*
 * spec: a comma list of "sm", "distributor" (the `distributor` value: a LID or a port GID,
 * "none" for none), "any" (every source), LIDs and port GIDs. -EINVAL with msg on a bad one.
 */
int push_acl_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const struct pr_store *store, const char *spec, const char *distributor,
		 struct push_acl **out, char *msg, size_t msglen);
void push_acl_free(struct push_acl *a);
/* May a write from slid go ahead? */
bool push_acl_allows(struct push_acl *a, uint16_t slid);
/* Checks spec and distributor as push_acl_new does, without a port (config checks). */
int push_acl_check(const char *spec, const char *distributor, char *msg, size_t msglen);

#endif
