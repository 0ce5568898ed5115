/*
 * trap_gids - see trap_gids.h. A fixed array of entries allocated once, chained from hash
 * buckets by index; the due fetches are found by a scan, which runs only when one is due.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/hash.h"
#include "fabric/trap_gids.h"

enum gid_state { GID_UNKNOWN, GID_IN, GID_OUT };

#define NONE UINT32_MAX

struct entry {
	union ibv_gid gid;
	uint32_t next;         /* in its bucket's chain, NONE at the end */
	uint8_t state;         /* enum gid_state */
	bool used;
	bool has_tid[2];       /* [0]: a 64 was applied, [1]: a 65 */
	uint32_t tid[2];
	uint64_t tid_ms[2];    /* when that change was applied */
	uint64_t changed_ms;
	uint64_t fetched_ms;   /* 0: never */
	uint64_t due_ms;       /* 0: no fetch due */
};

struct trap_gids {
	struct entry *e;
	uint32_t *bucket;
	uint32_t max, n_buckets, used;
	unsigned min_interval_ms;
	struct trap_gids_stats st;
};

static uint32_t bucket_of(const struct trap_gids *t, const union ibv_gid *gid)
{
	uint64_t a, b;

	memcpy(&a, gid->raw, 8);
	memcpy(&b, gid->raw + 8, 8);
	return (uint32_t)(mix64(a ^ mix64(b)) & (t->n_buckets - 1));
}

int trap_gids_new(unsigned max_gids, unsigned min_interval_ms, struct trap_gids **out)
{
	struct trap_gids *t;

	if (!max_gids || max_gids > (1u << 24))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->max = max_gids;
	for (t->n_buckets = 1; t->n_buckets < max_gids; t->n_buckets <<= 1)
		;
	t->e = calloc(max_gids, sizeof(*t->e));
	t->bucket = malloc(t->n_buckets * sizeof(*t->bucket));
	if (!t->e || !t->bucket) {
		trap_gids_free(t);
		return -ENOMEM;
	}
	t->min_interval_ms = min_interval_ms;
	trap_gids_reset(t);
	*out = t;
	return 0;
}

void trap_gids_free(struct trap_gids *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->bucket);
	free(t);
}

void trap_gids_reset(struct trap_gids *t)
{
	memset(t->e, 0, t->max * sizeof(*t->e));
	memset(t->bucket, 0xff, t->n_buckets * sizeof(*t->bucket));
	t->used = 0;
}

static struct entry *find(struct trap_gids *t, const union ibv_gid *gid)
{
	for (uint32_t i = t->bucket[bucket_of(t, gid)]; i != NONE; i = t->e[i].next)
		if (!memcmp(&t->e[i].gid, gid, sizeof(*gid)))
			return &t->e[i];
	return NULL;
}

static void unlink_entry(struct trap_gids *t, struct entry *x)
{
	uint32_t *pp = &t->bucket[bucket_of(t, &x->gid)], idx = (uint32_t)(x - t->e);

	while (*pp != NONE && *pp != idx)
		pp = &t->e[*pp].next;
	if (*pp == idx)
		*pp = x->next;
	memset(x, 0, sizeof(*x));
	t->used--;
}

/* A new entry for gid: a free one, else the least recently changed without a due fetch. */
static struct entry *add(struct trap_gids *t, const union ibv_gid *gid)
{
	struct entry *x = NULL;
	uint32_t b;

	if (t->used < t->max) {
		for (uint32_t i = 0; i < t->max && !x; i++)
			if (!t->e[i].used)
				x = &t->e[i];
	} else {
		for (uint32_t i = 0; i < t->max; i++)
			if (!t->e[i].due_ms && (!x || t->e[i].changed_ms < x->changed_ms))
				x = &t->e[i];
		if (!x)
			return NULL;
		unlink_entry(t, x);
		t->st.forgotten++;
	}
	b = bucket_of(t, gid);
	x->gid = *gid;
	x->used = true;
	x->next = t->bucket[b];
	t->bucket[b] = (uint32_t)(x - t->e);
	t->used++;
	return x;
}

enum trap_verdict trap_gids_report(struct trap_gids *t, uint16_t trap, const union ibv_gid *gid,
				   uint32_t tid, uint64_t now_ms, uint64_t delay_ms,
				   uint64_t *due_ms)
{
	int k = trap == 65;	/* index into has_tid/tid */
	uint8_t state = trap == 65 ? GID_OUT : GID_IN;
	struct entry *x;
	uint64_t due;

	if (trap != 64 && trap != 65)
		return TRAP_IGNORED;
	x = find(t, gid);
	if (x && x->state == state) {
		t->st.repeats++;
		return TRAP_REPEAT;
	}
	/* A change back to a state the GID had, announced by the very Report that announced it
	 * then: a resend that arrived after the newer change. */
	if (x && x->has_tid[k] && x->tid[k] == tid &&
	    now_ms - x->tid_ms[k] < TRAP_RESEND_WINDOW_MS) {
		t->st.resent++;
		return TRAP_RESENT;
	}
	if (!x && !(x = add(t, gid)))
		return TRAP_IGNORED;
	x->state = state;
	x->has_tid[k] = true;
	x->tid[k] = tid;
	x->tid_ms[k] = now_ms;
	x->changed_ms = now_ms;
	if (state == GID_OUT) {
		if (x->due_ms)
			t->st.cancelled++;
		x->due_ms = 0;
		t->st.outs++;
		return TRAP_OUT;
	}
	due = now_ms + delay_ms;
	if (x->fetched_ms && x->fetched_ms + t->min_interval_ms > due) {
		due = x->fetched_ms + t->min_interval_ms;
		t->st.deferred++;
	}
	x->due_ms = due ? due : 1;
	t->st.ins++;
	if (due_ms)
		*due_ms = x->due_ms;
	return TRAP_IN;
}

uint64_t trap_gids_next_due(const struct trap_gids *t)
{
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; i < t->max; i++)
		if (t->e[i].due_ms && t->e[i].due_ms < next)
			next = t->e[i].due_ms;
	return next;
}

bool trap_gids_take_due(struct trap_gids *t, uint64_t now_ms, union ibv_gid *gid)
{
	for (uint32_t i = 0; i < t->max; i++) {
		struct entry *x = &t->e[i];

		if (!x->due_ms || x->due_ms > now_ms)
			continue;
		x->due_ms = 0;
		x->fetched_ms = now_ms ? now_ms : 1;
		*gid = x->gid;
		return true;
	}
	return false;
}

void trap_gids_stats(const struct trap_gids *t, struct trap_gids_stats *out)
{
	*out = t->st;
	out->tracked_now = t->used;
	out->due_now = 0;
	for (uint32_t i = 0; i < t->max; i++)
		out->due_now += t->e[i].due_ms != 0;
}
