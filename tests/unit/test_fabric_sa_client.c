/*
 * test_fabric_sa_client.c - the SA client over a scripted port: credits are never exceeded
 * and freed credits feed the FIFO queue; the pause between attempts doubles up to its cap;
 * a full queue refuses with -ENOBUFS; a send that fails at submission is the caller's error
 * (no callback, ever), one that fails on a retry ends that query and frees its credit; a
 * retry when memory runs out ends the query instead of stranding it with its credit; the
 * guard timer ends an attempt the transport never reports; more than one record travels
 * as one RMPP message even when one MAD holds it. Background work queues apart and never
 * takes the last credit, so a lookup goes first however much of it waits; the budget holds
 * PathRecord queries to its rate (records only for background work, corrected by what the
 * answer holds); when the SA answers again after a silence, the queries pausing before a
 * retry go at once and the owner hears whether a query was lost meanwhile. Also the resolver
 * when its queries cannot be sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "alloc_fail.h"
#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

struct done_log {
	unsigned calls;
	int err[16];
	uint8_t status[16];
	int order[16];            /* the tag of each callback, in order */
	bool stop;                /* stop the loop at each callback */
};

struct tagged {
	struct done_log *log;
	int tag;
};

static void sa_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct tagged *t = arg;
	struct done_log *l = t->log;

	if (l->calls < 16) {
		l->err[l->calls] = err;
		l->status[l->calls] = status;
		l->order[l->calls] = t->tag;
	}
	l->calls++;
}

static int64_t get(struct sa_client *sa, struct tagged *t)
{
	struct ibv_path_record q;

	memset(&q, 0, sizeof(q));
	pr_set_dlid(&q, (uint16_t)(100 + t->tag)); /* tells the queries apart on the wire */
	return sa_client_query(sa, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC, PR_CM_DLID, &q,
			       sizeof(q), sa_done, t);
}

static uint16_t sent_dlid(const struct script_sent *m)
{
	struct ibv_path_record r;

	pr_decode(m->mad + SA_HDR_LEN, PR_LEN, &r);
	return pr_dlid(&r);
}

/* A scripted port with one SA client on it; hook (may be NULL) plays the other side. */
struct env {
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *sa;
};

static void env_up(struct env *e, struct loop *loop, const struct sa_client_opts *o,
		   void (*hook)(struct mad_script *, const struct script_sent *, void *))
{
	script_init(&e->s);
	e->s.on_send = hook;
	e->port = script_port(&e->s, loop);
	CHECK_INT(0, sa_client_new(loop, e->port, o, &e->sa));
}

static void env_down(struct env *e)
{
	sa_client_free(e->sa);
	mad_port_close(e->port);
}

static void stop_on_done(void *arg, int err, uint8_t status, const unsigned char *mad,
			 size_t len)
{
	struct loop *loop = ((void **)arg)[0];
	int *got = ((void **)arg)[1];

	*got = err;
	loop_stop(loop);
}

/* One Get, and the loop run until it ends (at most max_ms): its error, or 1 if none came. */
static int get_and_wait(struct env *e, struct loop *loop, uint64_t max_ms)
{
	struct ibv_path_record q;
	int got = 1;
	void *ctx[2] = { loop, &got };

	memset(&q, 0, sizeof(q));
	CHECK(sa_client_query(e->sa, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC, 0, &q, sizeof(q),
			      stop_on_done, ctx) > 0);
	script_run(loop, max_ms);
	return got;
}

/* --- credits ---------------------------------------------------------------- */

static void test_credits(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 2, .timeout_ms = 1000, .retries = 1 };
	struct done_log log = { 0 };
	struct tagged t[6];
	struct sa_client_stats st;
	size_t answered = 0;
	struct strbuf sb;
	struct json j;
	struct env e;

	env_up(&e, loop, &o, NULL);
	for (int i = 0; i < 6; i++) {
		t[i] = (struct tagged){ &log, i };
		CHECK(get(e.sa, &t[i]) > 0);
	}
	/* Two go out at once, to the SM, in submission order; four wait. */
	CHECK_INT(2, e.s.n_sent);
	CHECK_INT(SCRIPT_SM_LID, e.s.sent[0].dlid);
	CHECK_INT(1, e.s.sent[0].dqpn);
	CHECK_INT(1000, e.s.sent[0].timeout_ms);
	sa_client_stats(e.sa, &st);
	CHECK_INT(2, st.outstanding_now);
	CHECK_INT(4, st.queued_now);
	/* Each answer frees a credit, which the oldest waiting query takes; never more than 2. */
	while (answered < e.s.n_sent) {
		script_answer(&e.s, &e.s.sent[answered++], 0, NULL, 0, 0);
		script_run(loop, 5);
		sa_client_stats(e.sa, &st);
		CHECK(st.outstanding_now <= 2);
		CHECK(e.s.n_sent - answered <= 2);
	}
	CHECK_INT(6, e.s.n_sent);
	CHECK_INT(6, log.calls);
	for (int i = 0; i < 6; i++) {
		CHECK_INT(100 + i, sent_dlid(&e.s.sent[i]));
		CHECK_INT(i, log.order[i]);
		CHECK_INT(0, log.err[i]);
	}
	sa_client_stats(e.sa, &st);
	CHECK_INT(6, st.sent[SA_STAT_GET]);
	CHECK_INT(6, st.attempts);
	CHECK_INT(6, st.responses);
	CHECK_INT(0, st.outstanding_now);
	/* Every TID carries the client's id in bits 28-31. */
	for (size_t i = 0; i < e.s.n_sent; i++)
		CHECK_INT(0, (uint32_t)e.s.sent[i].h.tid >> 28);
	/* The stats members, keys and nesting as the control socket has always shown them. */
	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	sa_client_stats_json(e.sa, &j);
	strbuf_append(&sb, "", 1);
	CHECK_STR("\"sa_queries\": {\"get\": 6, \"get_table\": 0, \"set\": 0, \"delete\": 0, "
		  "\"inform_info\": 0, \"other\": 0}, \"sa_attempts\": 6, \"sa_retries\": 0, "
		  "\"sa_timeouts\": 0, \"sa_failures\": 0, \"sa_outstanding\": 0, \"sa_queued\": 0, "
		  "\"sa_queued_background\": 0, \"sa_budget_waits\": 0, \"sa_recoveries\": 0", sb.buf);
	strbuf_free(&sb);
	env_down(&e);
}

/* --- retries: the pause doubles, up to its cap ------------------------------- */

static void time_out_at_once(struct mad_script *s, const struct script_sent *m, void *arg)
{
	script_time_out(s, m);
}

static void test_backoff(struct loop *loop)
{
	/* timeout 30 ms, pauses 30, 60, then capped at 70 */
	struct sa_client_opts o = { .credits = 1, .timeout_ms = 30, .retries = 4,
				    .backoff_max_ms = 70 };
	static const uint64_t pause[] = { 30, 60, 70, 70 };
	struct sa_client_stats st;
	struct env e;

	env_up(&e, loop, &o, time_out_at_once);
	CHECK_INT(-ETIMEDOUT, get_and_wait(&e, loop, 2000));
	CHECK_INT(5, e.s.n_sent);
	for (size_t i = 1; i < e.s.n_sent && i < 5; i++) {
		uint64_t gap = e.s.sent[i].at_ms - e.s.sent[i - 1].at_ms;

		/* never early; and each below the next step (so it did double, and did stop) */
		CHECK(gap >= pause[i - 1]);
		CHECK(gap < (i < 2 ? 2 * pause[i - 1] : 120));
		/* every attempt is a new transaction */
		CHECK((uint32_t)e.s.sent[i].h.tid != (uint32_t)e.s.sent[i - 1].h.tid);
	}
	sa_client_stats(e.sa, &st);
	CHECK_INT(5, st.attempts);
	CHECK_INT(4, st.retries);
	CHECK_INT(5, st.timeouts);
	CHECK_INT(1, st.failures);
	CHECK_INT(0, st.outstanding_now);
	env_down(&e);
}

/* A transport that never reports the timeout: the guard timer ends the attempt. */
static void test_guard(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 1, .timeout_ms = 5, .retries = 0 };
	uint64_t t0 = loop_now_ms();
	struct env e;

	env_up(&e, loop, &o, NULL);
	CHECK_INT(-ETIMEDOUT, get_and_wait(&e, loop, 2000));
	CHECK(loop_now_ms() - t0 >= 2 * 5 + 500);
	/* the kernel's report comes after all: nobody waits for it any more */
	script_time_out(&e.s, &e.s.sent[0]);
	script_run(loop, 5);
	env_down(&e);
}

/* --- the queue's cap ------------------------------------------------------ */

static void test_queue_cap(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 1, .timeout_ms = 1000, .max_queued = 2 };
	struct done_log log = { 0 };
	struct tagged t[4];
	struct sa_client_stats st;
	struct env e;

	env_up(&e, loop, &o, NULL);
	for (int i = 0; i < 4; i++)
		t[i] = (struct tagged){ &log, i };
	CHECK(get(e.sa, &t[0]) > 0);
	CHECK(get(e.sa, &t[1]) > 0);
	CHECK(get(e.sa, &t[2]) > 0);
	CHECK_INT(-ENOBUFS, get(e.sa, &t[3]));
	sa_client_stats(e.sa, &st);
	CHECK_INT(1, st.rejected);
	CHECK_INT(1, st.outstanding_now);
	CHECK_INT(2, st.queued_now);
	CHECK_INT(0, log.calls);
	/* Freeing the client cancels the others; the refused one is never heard of. */
	env_down(&e);
	CHECK_INT(3, log.calls);
	for (unsigned i = 0; i < log.calls && i < 3; i++) {
		CHECK_INT(-ECANCELED, log.err[i]);
		CHECK(log.order[i] != 3);
	}
}

/* --- sends that fail ------------------------------------------------------- */

/* At submission: the caller hears the error, no callback ever runs, the credit is back. */
static void test_send_failure_is_returned(struct loop *loop)
{
	struct sa_client_opts o = { 2, 100, 1, 200, 0, 0 };
	struct done_log log = { 0 };
	struct tagged t = { &log, 0 };
	struct sa_client_stats st;
	struct env e;

	env_up(&e, loop, &o, NULL);
	e.s.fail_sends = 1;
	CHECK_INT(-EIO, get(e.sa, &t));
	CHECK_INT(0, log.calls);
	sa_client_stats(e.sa, &st);
	CHECK_INT(0, st.outstanding_now);
	CHECK_INT(0, st.queued_now);
	CHECK_INT(1, st.failures);
	script_run(loop, 20);
	CHECK_INT(0, log.calls);
	env_down(&e);
	CHECK_INT(0, log.calls);
}

/* On a retry: that query ends with the error, its credit goes to the next one. */
static void fail_the_retry(struct mad_script *s, const struct script_sent *m, void *arg)
{
	if (s->n_sent == 1) {
		script_time_out(s, m);
		s->fail_sends = 1;
	}
}

static void test_retry_send_failure(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 1, .timeout_ms = 5, .retries = 2 };
	struct done_log log = { 0 };
	struct tagged t[2] = { { &log, 0 }, { &log, 1 } };
	struct sa_client_stats st;
	struct env e;

	env_up(&e, loop, &o, fail_the_retry);
	CHECK(get(e.sa, &t[0]) > 0);
	CHECK(get(e.sa, &t[1]) > 0);
	script_run(loop, 60);
	CHECK_INT(1, log.calls);
	CHECK_INT(0, log.order[0]);
	CHECK_INT(-EIO, log.err[0]);
	CHECK_INT(2, e.s.n_sent);	/* the first attempt, then the second query */
	CHECK_INT(101, sent_dlid(&e.s.sent[1]));
	sa_client_stats(e.sa, &st);
	CHECK_INT(1, st.outstanding_now);
	script_answer(&e.s, &e.s.sent[1], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(2, log.calls);
	CHECK_INT(0, log.err[1]);
	env_down(&e);
}

/*
 * Memory runs out while an attempt is unanswered (here: from the moment its timeout is
 * reported). The retry
 * must still happen, find no memory for its MAD and end the query: before, the retry timer
 * could not be armed, and the query stayed forever, holding its credit, never called back.
 */
static void starve(void *arg)
{
	struct loop *loop = arg;

	(void)loop;
	alloc_fail_set(true);
}

static void test_retry_without_memory(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 1, .timeout_ms = 5, .retries = 2 };
	struct sa_client_stats st;
	struct env e;
	int got;

	env_up(&e, loop, &o, time_out_at_once);
	sa_client_on_timeout(e.sa, starve, loop);
	got = get_and_wait(&e, loop, 300);
	alloc_fail_set(false);
	CHECK_INT(-ENOMEM, got);
	sa_client_stats(e.sa, &st);
	CHECK_INT(0, st.outstanding_now);
	CHECK_INT(1, st.failures);
	env_down(&e);
}

/* --- many records in one MAD: still one RMPP message, PayLen exact ------------ */

static void test_records_framing(struct loop *loop)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct sa_request req = { 9, UMAD_METHOD_SET, UMAD_SA_ATTR_PATH_REC, 0, 0, 0x77,
				  recs, 2 * PR_LEN, PR_LEN, SA_PRIO_WAITED, 0 };
	struct sa_client_opts o = { .credits = 1, .timeout_ms = 1000 };
	struct done_log log = { 0 };
	struct tagged t = { &log, 0 };
	struct env e;

	env_up(&e, loop, &o, NULL);
	CHECK(sa_client_send(e.sa, &req, sa_done, &t) > 0);
	req.len = PR_LEN;	/* one record: a plain MAD */
	CHECK(sa_client_send(e.sa, &req, sa_done, &t) > 0);
	script_answer(&e.s, &e.s.sent[0], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(2, e.s.n_sent);
	CHECK_INT(9, e.s.sent[0].dlid);
	CHECK_INT(MAD_LEN, e.s.sent[0].len);
	CHECK(e.s.sent[0].h.sm_key == 0x77);
	CHECK_INT(PR_LEN / 8, e.s.sent[0].h.attr_offset);
	CHECK(e.s.sent[0].h.rmpp_flags & UMAD_RMPP_FLAG_ACTIVE);
	CHECK_INT(SA_RMPP_CLASS_HDR_LEN + 2 * PR_LEN, e.s.sent[0].h.rmpp_paylen);
	CHECK_INT(0, e.s.sent[1].h.rmpp_flags);
	CHECK_INT(0, e.s.sent[1].h.rmpp_paylen);
	env_down(&e);
}


/* Runs the loop until n MADs were sent, at most max_ms. */
static void run_until_sent(struct env *e, struct loop *loop, size_t n, uint64_t max_ms)
{
	uint64_t t0 = loop_now_ms();

	while (e->s.n_sent < n && loop_now_ms() - t0 < max_ms)
		script_run(loop, 5);
}

/* --- priorities: someone waiting goes first -------------------------------- */

static int64_t get_bg(struct sa_client *sa, struct tagged *t, uint32_t records)
{
	struct ibv_path_record q;

	memset(&q, 0, sizeof(q));
	pr_set_dlid(&q, (uint16_t)(100 + t->tag));
	return sa_client_query_bg(sa, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, PR_CM_DLID,
				  &q, sizeof(q), records, sa_done, t);
}

static void test_priorities(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 2, .timeout_ms = 1000, .max_queued = 3 };
	struct done_log log = { 0 };
	struct tagged t[8];
	struct sa_client_stats st;
	struct env e;

	env_up(&e, loop, &o, NULL);
	for (int i = 0; i < 8; i++)
		t[i] = (struct tagged){ &log, i };
	/* Background work takes one credit of two and queues the rest, up to its own cap. */
	for (int i = 0; i < 4; i++)
		CHECK(get_bg(e.sa, &t[i], 10) > 0);
	CHECK_INT(-ENOBUFS, get_bg(e.sa, &t[4], 10));
	CHECK_INT(1, e.s.n_sent);
	sa_client_stats(e.sa, &st);
	CHECK_INT(3, st.queued_background_now);
	/* A lookup is neither refused nor kept waiting: the last credit is its. */
	CHECK(get(e.sa, &t[5]) > 0);
	CHECK_INT(2, e.s.n_sent);
	CHECK_INT(105, sent_dlid(&e.s.sent[1]));
	/* Two more lookups wait for a credit, and go before the background work queued before. */
	CHECK(get(e.sa, &t[6]) > 0);
	CHECK(get(e.sa, &t[7]) > 0);
	script_answer(&e.s, &e.s.sent[0], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(3, e.s.n_sent);
	CHECK_INT(106, sent_dlid(&e.s.sent[2]));
	script_answer(&e.s, &e.s.sent[1], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(4, e.s.n_sent);
	CHECK_INT(107, sent_dlid(&e.s.sent[3]));
	/* Lookups all out: background work again, one at a time while a lookup holds a credit. */
	script_answer(&e.s, &e.s.sent[2], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(4, e.s.n_sent);
	script_answer(&e.s, &e.s.sent[3], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(5, e.s.n_sent);
	CHECK_INT(101, sent_dlid(&e.s.sent[4]));
	env_down(&e);
}

/* --- the budget -------------------------------------------------------------- */

static void test_budget(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 64, .timeout_ms = 5000 };
	struct ibv_path_record recs[160];
	struct done_log log = { 0 };
	struct tagged t[16];
	struct sa_client_stats st;
	uint64_t t0;
	struct env e;

	for (int i = 0; i < 160; i++)
		recs[i] = rec_of(2 + i, (uint16_t)(2 + i), 0, (uint32_t)i);
	for (int i = 0; i < 16; i++)
		t[i] = (struct tagged){ &log, i };
	/* Queries: a second's worth at once, then one per 100 ms. */
	env_up(&e, loop, &o, NULL);
	sa_client_set_budget(e.sa, 10, 0);
	t0 = loop_now_ms();
	for (int i = 0; i < 12; i++)
		CHECK(get(e.sa, &t[i]) > 0);
	CHECK_INT(10, e.s.n_sent);
	/* (timers are late on a busy machine, never early: the moments have lower bounds) */
	run_until_sent(&e, loop, 12, 3000);
	CHECK_INT(12, e.s.n_sent);
	if (e.s.n_sent == 12) {
		CHECK(e.s.sent[10].at_ms - t0 >= 95);
		CHECK(e.s.sent[11].at_ms - t0 >= 195);
	}
	sa_client_stats(e.sa, &st);
	CHECK_INT(2, st.budget_waits);
	/* Other attributes and other destinations are not PathRecord queries to the SA. */
	{
		struct sa_request req = { 9, UMAD_METHOD_SET, UMAD_SA_ATTR_PATH_REC, 0, 0, 0,
					  recs, PR_LEN, PR_LEN, SA_PRIO_WAITED, 0 };

		CHECK(sa_client_send(e.sa, &req, sa_done, &t[12]) > 0);
		CHECK(sa_client_query(e.sa, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, 0, recs, 40,
				      sa_done, &t[13]) > 0);
		CHECK_INT(14, e.s.n_sent);
	}
	env_down(&e);

	/* Records: charged as expected when sent, corrected by the answer. A table of 160 where
	 * 10 were expected leaves a debt that background work waits out; a lookup does not. */
	env_up(&e, loop, &o, NULL);
	sa_client_set_budget(e.sa, 1000, 100);
	CHECK(get_bg(e.sa, &t[0], 10) > 0);
	CHECK_INT(1, e.s.n_sent);
	script_answer(&e.s, &e.s.sent[0], 0, recs, PR_LEN, 160);
	script_run(loop, 5);
	t0 = loop_now_ms();
	CHECK(get_bg(e.sa, &t[1], 10) > 0);
	CHECK(get(e.sa, &t[2]) > 0);
	CHECK_INT(2, e.s.n_sent);
	CHECK_INT(102, sent_dlid(&e.s.sent[1]));
	run_until_sent(&e, loop, 3, 3000);
	CHECK_INT(3, e.s.n_sent);
	if (e.s.n_sent == 3) {
		CHECK_INT(101, sent_dlid(&e.s.sent[2]));
		CHECK(e.s.sent[2].at_ms - t0 >= 600);	/* a debt of 60, 10 more needed: 700 ms */
	}
	sa_client_stats(e.sa, &st);
	CHECK_INT(1, st.budget_waits);
	env_down(&e);
}

/* --- the SA answers again ------------------------------------------------------ */

struct recovery_log {
	unsigned calls;
	bool was_down;
};

static void on_recover(void *arg, bool was_down)
{
	struct recovery_log *r = arg;

	r->calls++;
	r->was_down = was_down;
}

static void test_recovery(struct loop *loop)
{
	struct sa_client_opts o = { .credits = 2, .timeout_ms = 2000, .retries = 2,
				    .backoff_max_ms = 5000 };
	struct done_log log = { 0 };
	struct tagged t[4] = { { &log, 0 }, { &log, 1 }, { &log, 2 }, { &log, 3 } };
	struct recovery_log rl = { 0 };
	struct sa_client_stats st;
	uint64_t t0;
	struct env e;

	env_up(&e, loop, &o, NULL);
	sa_client_on_recover(e.sa, on_recover, &rl);
	CHECK(get(e.sa, &t[0]) > 0);
	script_time_out(&e.s, &e.s.sent[0]);
	script_run(loop, 5);	/* now pausing 2 s before its second attempt */
	CHECK_INT(1, e.s.n_sent);
	CHECK(get(e.sa, &t[1]) > 0);
	t0 = loop_now_ms();
	script_answer(&e.s, &e.s.sent[1], 0, NULL, 0, 0);
	script_run(loop, 20);
	/* The answer ends the silence: the paused query goes at once, not 2 s later. */
	CHECK_INT(3, e.s.n_sent);
	if (e.s.n_sent == 3) {
		CHECK_INT(100, sent_dlid(&e.s.sent[2]));
		CHECK(e.s.sent[2].at_ms - t0 < 1000);
	}
	CHECK_INT(1, rl.calls);
	CHECK(!rl.was_down);
	/* Answers while nobody was silent are no news. */
	script_answer(&e.s, &e.s.sent[2], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(1, rl.calls);
	env_down(&e);

	/* A query that ran out of attempts meanwhile: the owner hears the SA was down. */
	o.retries = 0;
	env_up(&e, loop, &o, NULL);
	sa_client_on_recover(e.sa, on_recover, &rl);
	CHECK(get(e.sa, &t[2]) > 0);
	script_time_out(&e.s, &e.s.sent[0]);
	script_run(loop, 5);
	CHECK_INT(-ETIMEDOUT, log.err[log.calls - 1]);
	CHECK(get(e.sa, &t[3]) > 0);
	script_answer(&e.s, &e.s.sent[1], 0, NULL, 0, 0);
	script_run(loop, 5);
	CHECK_INT(2, rl.calls);
	CHECK(rl.was_down);
	sa_client_stats(e.sa, &st);
	CHECK_INT(1, st.recoveries);
	env_down(&e);
}

/* --- the resolver when its queries cannot be sent --------------------------- */

static unsigned resolve_calls, fill_calls;

static void resolved(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		     size_t n)
{
	resolve_calls++;
}

static void filled(void *arg, int err, size_t records)
{
	fill_calls++;
}

static void test_resolver_miss_and_fill(struct loop *loop)
{
	struct sa_client_opts so = { 2, 100, 1, 200, 0, 0 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000, NULL };
	struct ibv_path_record rec = rec_of(2, 2, 0, 7);
	struct pr_request req;
	struct resolver *res;
	struct env e;
	int64_t ret;

	env_up(&e, loop, &so, NULL);
	e.s.fail_sends = ~0u;
	CHECK_INT(0, resolver_new(loop, e.port, e.sa, &ro, &res));
	CHECK_INT(0, resolver_load_table(res, &rec, 1));

	/* A hit still answers inside the call. */
	memset(&req, 0, sizeof(req));
	req.dgid = gid_of(2);
	req.has = PR_REQ_DGID;
	resolve_calls = 0;
	CHECK_INT(0, resolver_resolve(res, &req, 0, resolved, NULL));
	CHECK_INT(1, resolve_calls);

	/* A miss whose Get cannot be sent: an error, no callback, no fetch left behind. */
	req.dgid = gid_of(3);
	ret = resolver_resolve(res, &req, 0, resolved, NULL);
	CHECK(ret < 0);
	CHECK_INT(1, resolve_calls);
	/* The same miss again must not join a fetch that no longer exists. */
	ret = resolver_resolve(res, &req, 0, resolved, NULL);
	CHECK(ret < 0);
	CHECK_INT(1, resolve_calls);

	fill_calls = 0;
	CHECK(resolver_fill(res, filled, NULL) < 0);
	CHECK_INT(0, fill_calls);
	script_run(loop, 20);
	CHECK_INT(1, resolve_calls);
	CHECK_INT(0, fill_calls);

	env_down(&e);
	resolver_free(res);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_credits(loop);
	test_backoff(loop);
	test_guard(loop);
	test_queue_cap(loop);
	test_send_failure_is_returned(loop);
	test_retry_send_failure(loop);
	test_retry_without_memory(loop);
	test_records_framing(loop);
	test_priorities(loop);
	test_budget(loop);
	test_recovery(loop);
	test_resolver_miss_and_fill(loop);
	loop_free(loop);
	return CHECK_DONE();
}
