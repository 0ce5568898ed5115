/*
 * quota - see quota.h. The table is an array searched linearly: it holds a few hundred records
 * (users with connections, LIDs that asked for new tuples lately) and is consulted on accepts
 * and on tuple creations, not on every lookup.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/quota.h"

struct quota_table {
	struct quota_entry *e;
	size_t n, max;
	uint32_t burst, per_s;
};

void quota_init(struct quota *q, uint32_t burst, uint32_t per_s, uint64_t now_ms)
{
	token_bucket_init_exact(&q->b, per_s, burst, now_ms);
}

bool quota_take(struct quota *q, uint64_t now_ms)
{
	if (token_bucket_wait_ms(&q->b, 1, now_ms))
		return false;
	token_bucket_charge(&q->b, 1, now_ms);
	return true;
}

bool quota_full(struct quota *q, uint64_t now_ms)
{
	return token_bucket_level(&q->b, now_ms) == (int64_t)q->b.burst;
}

int quota_table_new(size_t max, uint32_t burst, uint32_t per_s, struct quota_table **out)
{
	struct quota_table *t;

	if (!max || !out)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->e = calloc(max, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return -ENOMEM;
	}
	t->max = max;
	t->burst = burst;
	t->per_s = per_s;
	*out = t;
	return 0;
}

void quota_table_free(struct quota_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t);
}

struct quota_entry *quota_table_find(struct quota_table *t, uint32_t key)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].key == key)
			return &t->e[i];
	return NULL;
}

/* The slot a new record takes: a free one, else the best unreferenced one to forget. */
static struct quota_entry *room(struct quota_table *t, uint64_t now_ms)
{
	struct quota_entry *victim = NULL;
	bool victim_full = false;

	if (t->n < t->max)
		return &t->e[t->n++];
	for (size_t i = 0; i < t->n; i++) {
		struct quota_entry *e = &t->e[i];
		bool full;

		if (e->refs)
			continue;
		full = quota_full(&e->q, now_ms);
		if (!victim || (full && !victim_full) ||
		    (full == victim_full && e->used_ms < victim->used_ms)) {
			victim = e;
			victim_full = full;
		}
	}
	return victim;
}

struct quota_entry *quota_table_get(struct quota_table *t, uint32_t key, uint64_t now_ms)
{
	struct quota_entry *e = quota_table_find(t, key);

	if (!e) {
		e = room(t, now_ms);
		if (!e)
			return NULL;
		*e = (struct quota_entry){ .key = key };
		quota_init(&e->q, t->burst, t->per_s, now_ms);
	}
	e->used_ms = now_ms;
	return e;
}

size_t quota_table_count(const struct quota_table *t)
{
	return t->n;
}
