/*
 * sa_client - queries to the master SA with a bounded number outstanding
 * (credits, as ibacm's sa_depth), kernel timeouts per attempt, and retries
 * with exponential backoff. One callback per accepted query, always exactly
 * once and never from inside the call that submitted it.
 *
 * Two priorities: queries someone waits for (a client's lookup, a relayed
 * request, subscriptions) go before background work (fills, trap fetches),
 * which never takes the last credit and queues apart, so a flood of it can
 * neither delay nor refuse a lookup. PathRecord queries to the master SA
 * spend a budget: token buckets of queries and of records per second.
 */
#ifndef LOCALSA_FABRIC_SA_CLIENT_H
#define LOCALSA_FABRIC_SA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json;
struct loop;
struct mad_port;
struct sa_client;

struct sa_client_opts {
	unsigned credits;        /* queries outstanding at once (>= 1) */
	unsigned timeout_ms;     /* one attempt */
	unsigned retries;        /* attempts after the first */
	unsigned backoff_max_ms; /* cap of the doubling pause between attempts */
	unsigned max_queued;     /* queries waiting for a credit, per priority */
	unsigned id;             /* 0..15: TID space of this client on its port */
};

enum sa_prio {
	SA_PRIO_WAITED,          /* someone waits for the answer: first */
	SA_PRIO_BACKGROUND,      /* refreshes, trap fetches: after, never the last credit */
	SA_PRIOS,
};

/*
 * err: 0 with the SA's response (sa_status is its SA status code, 0 = ok),
 * -ETIMEDOUT when no attempt was answered, -ECANCELED when the client is
 * freed, other negative errno on a send failure.
 */
typedef void (*sa_done_fn)(void *arg, int err, uint8_t sa_status, const unsigned char *mad,
			   size_t len);

enum sa_stat {
	SA_STAT_GET, SA_STAT_GET_TABLE, SA_STAT_SET, SA_STAT_DELETE,
	SA_STAT_INFORM,  /* InformInfo Sets: subscriptions, not PathRecord pushes */
	SA_STAT_OTHER,
	SA_STAT_METHODS, /* count of the per-method counters above */
};

struct sa_client_stats {
	uint64_t sent[SA_STAT_METHODS];   /* queries (not attempts) by method */
	uint64_t attempts, retries, timeouts, failures, responses, queued_now, outstanding_now;
	uint64_t rejected;                /* queue full */
	uint64_t budget_waits;            /* queries that waited for the budget */
	uint64_t queued_background_now;
	uint64_t recoveries;              /* the SA answered again after a silence */
};

/* Clients sharing a port must use different ids (0..15): they split the TID space, and the
 * port's dispatcher hands each the responses and timeouts of its own (-EEXIST if taken). */
int sa_client_new(struct loop *loop, struct mad_port *port, const struct sa_client_opts *opts,
		  struct sa_client **out);
void sa_client_free(struct sa_client *c);  /* fails pending queries with -ECANCELED */
/* The budget of PathRecord queries to the master SA, per second (0: no limit): queries, and
 * records they bring (background work waits for those; someone waiting only for a query). */
void sa_client_set_budget(struct sa_client *c, unsigned queries_per_s, unsigned records_per_s);
/* rec (rec_len bytes, <= 200) is the attribute template; returns a query id > 0
 * or negative errno (-ENOBUFS when the queue is full, or the send error when the
 * query could not even be sent): then fn is never called. Someone waits for it. */
int64_t sa_client_query(struct sa_client *c, uint8_t method, uint16_t attr_id, uint64_t comp_mask,
			const void *rec, size_t rec_len, sa_done_fn fn, void *arg);
/* The same as background work, expected to bring about expect_records records. */
int64_t sa_client_query_bg(struct sa_client *c, uint8_t method, uint16_t attr_id,
			   uint64_t comp_mask, const void *rec, size_t rec_len,
			   uint32_t expect_records, sa_done_fn fn, void *arg);
/* A query to any SA-class agent (a local SA, for pushes): data may hold many records and
 * exceed one MAD (then it travels as one RMPP message, its PayLen exact); attr_offset =
 * rec_len / 8. */
struct sa_request {
	uint16_t dlid;            /* 0: the master SA */
	uint8_t method;
	uint16_t attr_id;
	uint32_t attr_mod;
	uint64_t comp_mask;
	uint64_t sm_key;
	const void *data;
	size_t len;               /* bytes of data */
	size_t rec_len;           /* one record, for the attribute offset */
	uint8_t prio;             /* enum sa_prio; 0: someone waits */
	uint32_t expect_records;  /* the records budget's charge until the answer counts them */
};
int64_t sa_client_send(struct sa_client *c, const struct sa_request *req, sa_done_fn fn,
		       void *arg);
void sa_client_stats(const struct sa_client *c, struct sa_client_stats *out);
/* Several clients' counters as one (the ports of a daemon). */
void sa_client_stats_add(struct sa_client_stats *sum, const struct sa_client_stats *x);
/* Its members of the stats object: "sa_queries" by method, "sa_attempts", ... "sa_queued". */
void sa_client_stats_json(const struct sa_client *c, struct json *j);
/* fn runs whenever an attempt goes unanswered (e.g. to look for a new SM). */
void sa_client_on_timeout(struct sa_client *c, void (*fn)(void *arg), void *arg);
/*
 * fn runs when the SA answers again after attempts went unanswered; the queries pausing before
 * a retry are sent at once first. was_down: a query even ran out of attempts meanwhile.
 */
void sa_client_on_recover(struct sa_client *c, void (*fn)(void *arg, bool was_down), void *arg);
const char *sa_stat_name(enum sa_stat s);

/* A reload: the next attempts use these (0 keeps a value). */
void sa_client_set_timing(struct sa_client *c, unsigned timeout_ms, unsigned retries,
			  unsigned backoff_max_ms);

#endif
