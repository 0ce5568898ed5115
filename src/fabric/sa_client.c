/*
 * sa_client - see sa_client.h. Queries wait in a FIFO for a credit; each
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
	sa_done_fn fn;
	void *arg;
};

struct sa_client {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client_opts opts;
	struct sa_query *active;   /* in flight or pausing between attempts */
	struct sa_query *queue_head, *queue_tail;
	unsigned n_active, n_queued;
	uint64_t next_id;
	uint32_t next_tid;
	struct sa_client_stats stats;
	void (*on_timeout)(void *arg);
	void *on_timeout_arg;
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

/* Ends a query: removes it, frees its credit, calls back, feeds the queue. */
static void finish(struct sa_client *c, struct sa_query *q, int err, uint8_t status,
		   const unsigned char *mad, size_t len)
{
	active_remove(c, q);
	loop_timer_stop(c->loop, &q->timer);
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

/* Feeds freed credits to queued queries. Runs only outside sa_client_send(), so a query that
 * cannot be sent is finished here: its owner hears of it in a callback of its own. */
static void pump(struct sa_client *c)
{
	while (c->queue_head && c->n_active < c->opts.credits) {
		struct sa_query *q = c->queue_head;
		int ret;

		c->queue_head = q->next;
		if (!c->queue_head)
			c->queue_tail = NULL;
		c->n_queued--;
		activate(c, q);
		ret = attempt_send(c, q);
		if (ret < 0) {
			finish(c, q, ret, 0, NULL, 0);	/* pumps again itself */
			return;
		}
	}
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

void sa_client_free(struct sa_client *c)
{
	struct sa_query *q;

	if (!c)
		return;
	mad_dispatch_remove(c->port->dispatch, on_mad, c);
	c->opts.credits = 0; /* nothing new is sent while callbacks run */
	while ((q = c->queue_head)) {
		c->queue_head = q->next;
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

int64_t sa_client_send(struct sa_client *c, const struct sa_request *req, sa_done_fn fn,
		       void *arg)
{
	struct sa_query *q;

	if (!fn || (req->rec_len && req->rec_len % 8) || req->len > (256u << 20))
		return -EINVAL;
	if (c->n_queued >= c->opts.max_queued) {
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
	q->fn = fn;
	q->arg = arg;
	/* A credit is free only when nothing queues (pump() keeps it so): send at once. A send
	 * that fails here is the caller's error, not a callback: the caller may not be ready for
	 * one yet (its state for this query is not linked anywhere). */
	if (!c->queue_head && c->n_active < c->opts.credits) {
		int ret;

		activate(c, q);
		ret = attempt_send(c, q);
		if (ret < 0) {
			active_remove(c, q);
			c->stats.failures++;
			free(q->data);
			free(q);
			return ret;
		}
	} else {
		if (c->queue_tail)
			c->queue_tail->next = q;
		else
			c->queue_head = q;
		c->queue_tail = q;
		c->n_queued++;
	}
	c->stats.sent[method_stat(req->method, req->attr_id)]++;
	LOG_DEBUG("SA %s %s to LID %u: query %llu", sa_method_str(req->method),
		  sa_attr_str(req->attr_id), req->dlid ? req->dlid : c->port->sm_lid,
		  (unsigned long long)q->id);
	return (int64_t)q->id;
}

int64_t sa_client_query(struct sa_client *c, uint8_t method, uint16_t attr_id, uint64_t comp_mask,
			const void *rec, size_t rec_len, sa_done_fn fn, void *arg)
{
	struct sa_request req = { 0, method, attr_id, 0, comp_mask, 0, rec, rec_len, rec_len };

	if (rec_len > SA_DATA_LEN || rec_len % 8)
		return -EINVAL;
	return sa_client_send(c, &req, fn, arg);
}

void sa_client_stats(const struct sa_client *c, struct sa_client_stats *out)
{
	*out = c->stats;
	out->queued_now = c->n_queued;
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
}

void sa_client_on_timeout(struct sa_client *c, void (*fn)(void *arg), void *arg)
{
	c->on_timeout = fn;
	c->on_timeout_arg = arg;
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
