/*
 * sa_client - see sa_client.h. Queries wait in a FIFO per priority for a
 * credit (and, PathRecord queries to the master SA, for the budget); each
 * attempt is sent with the kernel's timeout and no kernel retries, so the
 * pause between attempts is ours (doubling, capped). A guard timer per
 * attempt covers a transport that never reports the timeout. Responses are
 * matched on the low 32 TID bits: the kernel rewrites the high half.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/token_bucket.h"
#include "fabric/mad_dispatch.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "wire/sa_mad.h"

/* The low 28 TID bits count; the next 4 name the client on its port (its TID space). */
enum { TID_CLIENT_SHIFT = 28, TID_COUNT_MASK = (1u << TID_CLIENT_SHIFT) - 1 };

struct sa_query {
	struct sa_query *next;
	struct sa_client *owner;
	uint64_t id;
	uint32_t tid_lo;
	uint16_t dlid;             /* 0: the master SA, wherever it is at send time */
	uint8_t method;
	uint16_t attr_id;
	uint32_t attr_mod;
	uint64_t comp_mask, sm_key;
	unsigned char *data;
	size_t len, rec_len;
	unsigned attempt;
	struct loop_timer timer;  /* the pause before a retry, or the guard of an attempt */
	bool in_flight;       /* sent, waiting for the response */
	uint8_t prio;
	bool budgeted;        /* a PathRecord query to the master SA: spends the budget */
	bool waited;          /* counted once in budget_waits */
	uint32_t expect_records; /* charged to the records bucket until the answer counts */
	sa_done_fn fn;
	void *arg;
};

struct sa_queue {
	struct sa_query *head, *tail;
	unsigned n;
};

struct sa_client {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client_opts opts;
	struct sa_query *active;   /* in flight or pausing between attempts */
	struct sa_queue queue[SA_PRIOS];
	unsigned n_active;
	uint64_t next_id;
	uint32_t next_tid;
	struct token_bucket queries, records;
	struct loop_timer budget_timer; /* the budget lets the head of a queue go */
	bool silent;               /* attempts went unanswered since the last response */
	bool down;                 /* ... and a query ran out of attempts */
	struct sa_client_stats stats;
	void (*on_timeout)(void *arg);
	void *on_timeout_arg;
	void (*on_recover)(void *arg, bool was_down);
	void *on_recover_arg;
};

static enum sa_stat method_stat(uint8_t method, uint16_t attr_id)
{
	if (attr_id == UMAD_ATTR_INFORM_INFO)
		return SA_STAT_INFORM;
	switch (method) {
	case UMAD_METHOD_GET: return SA_STAT_GET;
	case UMAD_SA_METHOD_GET_TABLE: return SA_STAT_GET_TABLE;
	case UMAD_METHOD_SET: return SA_STAT_SET;
	case UMAD_SA_METHOD_DELETE: return SA_STAT_DELETE;
	default: return SA_STAT_OTHER;
	}
}

const char *sa_stat_name(enum sa_stat s)
{
	static const char *const names[] = { "get", "get_table", "set", "delete", "inform_info",
					     "other" };

	return s < SA_STAT_METHODS ? names[s] : "?";
}

static int attempt_send(struct sa_client *c, struct sa_query *q);
static void pump(struct sa_client *c);

static void active_remove(struct sa_client *c, struct sa_query *q)
{
	for (struct sa_query **pp = &c->active; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			c->n_active--;
			return;
		}
}

/* Records in an answer: a table's count, one for a Get's record, none for an error. */
static uint64_t answer_records(const unsigned char *mad, size_t len, uint8_t status)
{
	size_t rec_len = 0, n = 0;
	struct sa_hdr h;

	if (!mad || status || sa_hdr_decode(mad, len, &h) < 0)
		return 0;
	if (h.method != UMAD_SA_METHOD_GET_TABLE_RESP)
		return 1;
	return sa_table_count(&h, len, &rec_len, &n) < 0 ? 0 : n;
}

/* Ends a query: removes it, frees its credit, calls back, feeds the queue. */
static void finish(struct sa_client *c, struct sa_query *q, int err, uint8_t status,
		   const unsigned char *mad, size_t len)
{
	active_remove(c, q);
	loop_timer_stop(c->loop, &q->timer);
	/* The records charge was a guess: the answer says what it cost. */
	if (q->budgeted)
		token_bucket_charge(&c->records, (int64_t)answer_records(mad, len, status) -
				    (int64_t)q->expect_records, loop_now_ms());
	if (err == -ETIMEDOUT)
		c->down = true;
	if (err)
		c->stats.failures++;
	q->fn(q->arg, err, status, mad, len);
	free(q->data);
	free(q);
	pump(c);
}

static void retry_timer(struct loop *loop, void *arg)
{
	struct sa_query *q = arg;
	struct sa_client *c = q->owner;
	int ret;

	(void)loop;
	ret = attempt_send(c, q);
	if (ret < 0)
		finish(c, q, ret, 0, NULL, 0);
}

static void attempt_failed(struct sa_client *c, struct sa_query *q)
{
	uint64_t pause;

	q->in_flight = false;
	c->stats.timeouts++;
	c->silent = true;
	if (c->on_timeout)
		c->on_timeout(c->on_timeout_arg);
	if (q->attempt > c->opts.retries) {
		LOG_WARN_RL(30000, "SA %s %s: no answer after %u attempts",
			    sa_method_str(q->method), sa_attr_str(q->attr_id), q->attempt);
		finish(c, q, -ETIMEDOUT, 0, NULL, 0);
		return;
	}
	pause = (uint64_t)c->opts.timeout_ms << (q->attempt - 1 < 16 ? q->attempt - 1 : 16);
	if (pause > c->opts.backoff_max_ms)
		pause = c->opts.backoff_max_ms;
	c->stats.retries++;
	LOG_DEBUG("SA %s tid 0x%x timed out; retry in %llu ms", sa_method_str(q->method),
		  q->tid_lo, (unsigned long long)pause);
	loop_timer_start(c->loop, &q->timer, pause, retry_timer, q);
}

static void guard_timer(struct loop *loop, void *arg)
{
	struct sa_query *q = arg;
	struct sa_client *c = q->owner;

	(void)loop;
	attempt_failed(c, q);
}

/* Sends the next attempt of q. On failure q is untouched but for its attempt count: the caller
 * decides whether its owner hears of it now (never inside sa_client_send()). */
static int attempt_send(struct sa_client *c, struct sa_query *q)
{
	size_t len = SA_HDR_LEN + q->len < MAD_LEN ? MAD_LEN : SA_HDR_LEN + q->len;
	unsigned char *mad = calloc(1, len);
	uint16_t dlid = q->dlid ? q->dlid : c->port->sm_lid;
	struct sa_hdr h;
	int ret;

	if (!mad)
		return -ENOMEM;
	c->next_tid = (c->next_tid + 1) & TID_COUNT_MASK;
	q->tid_lo = (uint32_t)c->opts.id << TID_CLIENT_SHIFT | c->next_tid;
	sa_hdr_init_request(&h, q->method, q->attr_id, q->tid_lo, q->comp_mask);
	h.attr_offset = (uint16_t)(q->rec_len / 8);
	h.attr_mod = q->attr_mod;
	h.sm_key = q->sm_key;
	/* More than one record, or more than one MAD holds: one RMPP message (the kernel
	 * segments), whose PayLen tells the receiver how many records are real, not padding. */
	sa_hdr_set_rmpp(&h, q->len > q->rec_len || SA_HDR_LEN + q->len > MAD_LEN, q->len);
	sa_hdr_encode(mad, &h);
	memcpy(mad + SA_HDR_LEN, q->data, q->len);
	q->attempt++;
	c->stats.attempts++;
	ret = mad_port_send(c->port, c->port->sa_agent, dlid, 1, mad, len,
			    (int)c->opts.timeout_ms, 0);
	free(mad);
	if (ret < 0) {
		LOG_ERR("SA send to LID %u failed: %s", dlid, strerror(-ret));
		return ret;
	}
	q->in_flight = true;
	/* The kernel reports the timeout; this guard only covers its absence. */
	loop_timer_start(c->loop, &q->timer, (uint64_t)c->opts.timeout_ms * 2 + 500, guard_timer,
			 q);
	return 0;
}

static void activate(struct sa_client *c, struct sa_query *q)
{
	q->next = c->active;
	c->active = q;
	c->n_active++;
}

/* ms until the budget lets q go now: 0 when it may (queries outside the budget always may).
 * Someone waiting spends a query; background work also waits for its records. */
static uint64_t budget_wait(struct sa_client *c, const struct sa_query *q)
{
	uint64_t now = loop_now_ms(), w, wr;

	if (!q->budgeted)
		return 0;
	w = token_bucket_wait_ms(&c->queries, 1, now);
	if (q->prio == SA_PRIO_BACKGROUND) {
		wr = token_bucket_wait_ms(&c->records, q->expect_records, now);
		w = wr > w ? wr : w;
	}
	return w;
}

/* May a query of this priority take a credit now? Background work leaves the last one. */
static bool credit_free(const struct sa_client *c, uint8_t prio)
{
	unsigned limit = c->opts.credits;

	if (prio == SA_PRIO_BACKGROUND && limit > 1)
		limit--;
	return c->n_active < limit;
}

/* Takes q's share of the budget as it goes out. */
static void spend(struct sa_client *c, struct sa_query *q)
{
	if (!q->budgeted)
		return;
	token_bucket_charge(&c->queries, 1, loop_now_ms());
	token_bucket_charge(&c->records, q->expect_records, loop_now_ms());
}

static void budget_tick(struct loop *loop, void *arg)
{
	(void)loop;
	pump(arg);
}

/* The next query that may go now, taken off its queue; NULL when none may. A waiting client's
 * query that the budget holds back holds back everything after it. */
static struct sa_query *next_query(struct sa_client *c)
{
	uint64_t wait = 0;

	for (int p = 0; p < SA_PRIOS; p++) {
		struct sa_queue *qu = &c->queue[p];
		struct sa_query *q = qu->head;
		uint64_t w;

		if (!q)
			continue;
		if (!credit_free(c, (uint8_t)p))
			break;
		w = budget_wait(c, q);
		if (w) {
			if (!q->waited) {
				q->waited = true;
				c->stats.budget_waits++;
			}
			wait = w;
			break;
		}
		qu->head = q->next;
		if (!qu->head)
			qu->tail = NULL;
		qu->n--;
		return q;
	}
	if (wait && !loop_timer_pending(&c->budget_timer))
		loop_timer_start(c->loop, &c->budget_timer, wait, budget_tick, c);
	return NULL;
}

/* Feeds freed credits to queued queries. Runs only outside sa_client_send(), so a query that
 * cannot be sent is finished here: its owner hears of it in a callback of its own. */
static void pump(struct sa_client *c)
{
	struct sa_query *q;

	while (c->n_active < c->opts.credits && (q = next_query(c))) {
		int ret;

		activate(c, q);
		spend(c, q);
		ret = attempt_send(c, q);
		if (ret < 0) {
			finish(c, q, ret, 0, NULL, 0);	/* pumps again itself */
			return;
		}
	}
}

/* The SA answers again: whatever pauses before a retry goes now, then the owner hears. */
static void recovered(struct sa_client *c)
{
	bool was_down = c->down;
	struct sa_query *q;

	c->silent = false;
	c->down = false;
	c->stats.recoveries++;
	/* One at a time from the head: a send that fails finishes its query, which changes the
	 * list (and pumps), so the walk starts over; sent ones are in flight and skipped. */
	for (q = c->active; q;) {
		int ret;

		if (q->in_flight) {
			q = q->next;
			continue;
		}
		loop_timer_stop(c->loop, &q->timer);
		ret = attempt_send(c, q);
		if (ret < 0) {
			finish(c, q, ret, 0, NULL, 0);
			q = c->active;
			continue;
		}
		q = q->next;
	}
	if (c->on_recover)
		c->on_recover(c->on_recover_arg, was_down);
}

/* A response or a timed-out send in our TID space (the dispatcher matched the space). */
static void on_mad(void *arg, const struct mad_in *in)
{
	struct sa_client *c = arg;
	struct sa_query *q;

	for (q = c->active; q; q = q->next)
		if (q->in_flight && q->tid_lo == (uint32_t)in->hdr.tid)
			break;
	if (!q) {
		LOG_DEBUG("SA %s tid 0x%x: no query waits for it", sa_method_str(in->hdr.method),
			  (uint32_t)in->hdr.tid);
		return;
	}
	if (in->kind == MAD_KIND_SEND_TIMEOUT) {
		/* Our request came back unanswered: the kernel returns only its MAD header. */
		loop_timer_stop(c->loop, &q->timer);
		attempt_failed(c, q);
		return;
	}
	c->stats.responses++;
	/* The owner hears of the recovery while this query is still its own: a fill that is
	 * being answered is not one to send again. */
	if (c->silent)
		recovered(c);
	finish(c, q, 0, sa_status_code(in->hdr.status), in->msg->mad, in->msg->len);
}

int sa_client_new(struct loop *loop, struct mad_port *port, const struct sa_client_opts *opts,
		  struct sa_client **out)
{
	struct sa_client *c = calloc(1, sizeof(*c));
	struct mad_route route = { UMAD_CLASS_SUBN_ADM, MAD_KIND_RESPONSE | MAD_KIND_SEND_TIMEOUT,
				   ~(uint32_t)TID_COUNT_MASK, 0 };
	int ret;

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->port = port;
	c->opts = *opts;
	if (!c->opts.credits)
		c->opts.credits = 1;
	if (!c->opts.timeout_ms)
		c->opts.timeout_ms = 1000;
	if (c->opts.backoff_max_ms < c->opts.timeout_ms)
		c->opts.backoff_max_ms = c->opts.timeout_ms;
	if (!c->opts.max_queued)
		c->opts.max_queued = 4096;
	sa_client_set_budget(c, 0, 0);
	/* TIDs differ across restarts so late answers to a previous run don't match. */
	c->next_tid = (uint32_t)(loop_now_ns() & 0xfff) << 16;
	c->opts.id &= 0xf; /* the 4 TID bits above the count */
	route.tid_value = (uint32_t)c->opts.id << TID_CLIENT_SHIFT;
	ret = mad_dispatch_add(port->dispatch, &route, on_mad, c);
	if (ret < 0) {
		LOG_ERR("SA client %u: its TID space is taken: %s", c->opts.id, strerror(-ret));
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void sa_client_set_budget(struct sa_client *c, unsigned queries_per_s, unsigned records_per_s)
{
	token_bucket_init(&c->queries, queries_per_s, 0, loop_now_ms());
	token_bucket_init(&c->records, records_per_s, 0, loop_now_ms());
}

void sa_client_free(struct sa_client *c)
{
	struct sa_query *q;

	if (!c)
		return;
	mad_dispatch_remove(c->port->dispatch, on_mad, c);
	loop_timer_stop(c->loop, &c->budget_timer);
	c->opts.credits = 0; /* nothing new is sent while callbacks run */
	c->on_recover = NULL;
	for (int p = 0; p < SA_PRIOS; p++)
		while ((q = c->queue[p].head)) {
			c->queue[p].head = q->next;
			q->fn(q->arg, -ECANCELED, 0, NULL, 0);
			free(q->data);
			free(q);
		}
	while ((q = c->active)) {
		c->active = q->next;
		loop_timer_stop(c->loop, &q->timer);
		q->fn(q->arg, -ECANCELED, 0, NULL, 0);
		free(q->data);
		free(q);
	}
	free(c);
}

/* A PathRecord query to the master SA: what the budget is about. */
static bool is_budgeted(const struct sa_request *req)
{
	return !req->dlid && req->attr_id == UMAD_SA_ATTR_PATH_REC &&
	       (req->method == UMAD_METHOD_GET || req->method == UMAD_SA_METHOD_GET_TABLE ||
		req->method == UMAD_SA_METHOD_GET_MULTI);
}

int64_t sa_client_send(struct sa_client *c, const struct sa_request *req, sa_done_fn fn,
		       void *arg)
{
	uint8_t prio = req->prio < SA_PRIOS ? req->prio : SA_PRIO_BACKGROUND;
	struct sa_queue *qu = &c->queue[prio];
	struct sa_query *q;

	if (!fn || (req->rec_len && req->rec_len % 8) || req->len > (256u << 20))
		return -EINVAL;
	if (qu->n >= c->opts.max_queued) {
		c->stats.rejected++;
		return -ENOBUFS;
	}
	q = calloc(1, sizeof(*q));
	if (!q || !(q->data = malloc(req->len ? req->len : 1))) {
		free(q);
		return -ENOMEM;
	}
	q->owner = c;
	q->id = ++c->next_id;
	q->dlid = req->dlid;
	q->method = req->method;
	q->attr_id = req->attr_id;
	q->attr_mod = req->attr_mod;
	q->comp_mask = req->comp_mask;
	q->sm_key = req->sm_key;
	if (req->len)
		memcpy(q->data, req->data, req->len);
	q->len = req->len;
	q->rec_len = req->rec_len;
	q->prio = prio;
	q->budgeted = is_budgeted(req);
	q->expect_records = req->expect_records ? req->expect_records : 1;
	q->fn = fn;
	q->arg = arg;
	/* Send at once when nothing queues before it (pump() keeps it so), a credit is free and
	 * the budget allows. A send that fails here is the caller's error, not a callback: the
	 * caller may not be ready for one yet (its state for this query is not linked anywhere). */
	if (!c->queue[SA_PRIO_WAITED].head && !qu->head && credit_free(c, prio) &&
	    !budget_wait(c, q)) {
		int ret;

		activate(c, q);
		spend(c, q);
		ret = attempt_send(c, q);
		if (ret < 0) {
			active_remove(c, q);
			c->stats.failures++;
			free(q->data);
			free(q);
			return ret;
		}
	} else {
		if (qu->tail)
			qu->tail->next = q;
		else
			qu->head = q;
		qu->tail = q;
		qu->n++;
		/* Held back by the budget alone: nothing else would wake the queue. */
		if (credit_free(c, prio) && !loop_timer_pending(&c->budget_timer))
			loop_timer_start(c->loop, &c->budget_timer, 0, budget_tick, c);
	}
	c->stats.sent[method_stat(req->method, req->attr_id)]++;
	LOG_DEBUG("SA %s %s to LID %u: query %llu", sa_method_str(req->method),
		  sa_attr_str(req->attr_id), req->dlid ? req->dlid : c->port->sm_lid,
		  (unsigned long long)q->id);
	return (int64_t)q->id;
}

/* One attribute template to the master SA. */
static int64_t query(struct sa_client *c, uint8_t prio, uint8_t method, uint16_t attr_id,
		     uint64_t comp_mask, const void *rec, size_t rec_len, uint32_t expect_records,
		     sa_done_fn fn, void *arg)
{
	struct sa_request req = { 0, method, attr_id, 0, comp_mask, 0, rec, rec_len, rec_len,
				  prio, expect_records };

	if (rec_len > SA_DATA_LEN || rec_len % 8)
		return -EINVAL;
	return sa_client_send(c, &req, fn, arg);
}

int64_t sa_client_query(struct sa_client *c, uint8_t method, uint16_t attr_id, uint64_t comp_mask,
			const void *rec, size_t rec_len, sa_done_fn fn, void *arg)
{
	return query(c, SA_PRIO_WAITED, method, attr_id, comp_mask, rec, rec_len, 1, fn, arg);
}

int64_t sa_client_query_bg(struct sa_client *c, uint8_t method, uint16_t attr_id,
			   uint64_t comp_mask, const void *rec, size_t rec_len,
			   uint32_t expect_records, sa_done_fn fn, void *arg)
{
	return query(c, SA_PRIO_BACKGROUND, method, attr_id, comp_mask, rec, rec_len,
		     expect_records, fn, arg);
}

/* Every member is a uint64_t count or level: summed as an array. */
_Static_assert(sizeof(struct sa_client_stats) % sizeof(uint64_t) == 0,
	       "sa_client_stats holds uint64_t members only");

void sa_client_stats_add(struct sa_client_stats *sum, const struct sa_client_stats *x)
{
	uint64_t *s = (uint64_t *)sum;
	const uint64_t *v = (const uint64_t *)x;

	for (size_t i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
		s[i] += v[i];
}

void sa_client_stats(const struct sa_client *c, struct sa_client_stats *out)
{
	*out = c->stats;
	out->queued_now = c->queue[SA_PRIO_WAITED].n + c->queue[SA_PRIO_BACKGROUND].n;
	out->queued_background_now = c->queue[SA_PRIO_BACKGROUND].n;
	out->outstanding_now = c->n_active;
}

void sa_client_stats_json(const struct sa_client *c, struct json *j)
{
	struct sa_client_stats st;

	sa_client_stats(c, &st);
	json_object_begin(j, "sa_queries");
	for (int m = 0; m < SA_STAT_METHODS; m++)
		json_u64(j, sa_stat_name(m), st.sent[m]);
	json_object_end(j);
	json_u64(j, "sa_attempts", st.attempts);
	json_u64(j, "sa_retries", st.retries);
	json_u64(j, "sa_timeouts", st.timeouts);
	json_u64(j, "sa_failures", st.failures);
	json_gauge(j, "sa_outstanding", st.outstanding_now);
	json_gauge(j, "sa_queued", st.queued_now);
	json_gauge(j, "sa_queued_background", st.queued_background_now);
	json_u64(j, "sa_budget_waits", st.budget_waits);
	json_u64(j, "sa_recoveries", st.recoveries);
}

void sa_client_on_timeout(struct sa_client *c, void (*fn)(void *arg), void *arg)
{
	c->on_timeout = fn;
	c->on_timeout_arg = arg;
}

void sa_client_on_recover(struct sa_client *c, void (*fn)(void *arg, bool was_down), void *arg)
{
	c->on_recover = fn;
	c->on_recover_arg = arg;
}

void sa_client_set_timing(struct sa_client *c, unsigned timeout_ms, unsigned retries,
			  unsigned backoff_max_ms)
{
	if (timeout_ms)
		c->opts.timeout_ms = timeout_ms;
	c->opts.retries = retries;
	if (backoff_max_ms)
		c->opts.backoff_max_ms = backoff_max_ms;
	if (c->opts.backoff_max_ms < c->opts.timeout_ms)
		c->opts.backoff_max_ms = c->opts.timeout_ms;
}
