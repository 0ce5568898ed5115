/*
 * quota - what a peer may do only so often: a take-one-token bucket (base/token_bucket, exact:
 * burst 0 never gives a token, rate 0 never refills) and a bounded table of them keyed by a
 * number - cache tuples created per local user or per source LID, connections held per user.
 * Pure: callers pass the time; no I/O, no globals.
 */
#ifndef LOCALSA_BASE_QUOTA_H
#define LOCALSA_BASE_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/token_bucket.h"

struct quota {
	struct token_bucket b;
};

/* A full bucket. burst 0 is a bucket that is always empty. */
void quota_init(struct quota *q, uint32_t burst, uint32_t per_s, uint64_t now_ms);
/* Takes one token if there is one. */
bool quota_take(struct quota *q, uint64_t now_ms);
/* Refilled to its burst: forgetting it loses nothing. */
bool quota_full(struct quota *q, uint64_t now_ms);

/* A record of the table: refs belongs to the caller (e.g. connections held), and a record
 * with refs > 0 is never dropped. */
struct quota_entry {
	uint32_t key;
	uint32_t refs;
	struct quota q;
	uint64_t used_ms;	/* last quota_table_get() */
};

struct quota_table;

/* At most max records, each starting as a full (burst, per_s) bucket. -EINVAL, -ENOMEM. */
int quota_table_new(size_t max, uint32_t burst, uint32_t per_s, struct quota_table **out);
void quota_table_free(struct quota_table *t);
/*
 * The record of key, made if new. When the table is full, a record with refs 0 makes room:
 * one whose bucket has refilled if there is one (it loses nothing), else the least recently
 * used (its debt is forgiven: a peer can only gain this way by cycling more keys than the
 * table holds). NULL when every record is referenced. O(records).
 */
struct quota_entry *quota_table_get(struct quota_table *t, uint32_t key, uint64_t now_ms);
/* The record of key, or NULL; does not make one. */
struct quota_entry *quota_table_find(struct quota_table *t, uint32_t key);
/* Records in use. */
size_t quota_table_count(const struct quota_table *t);

#endif
