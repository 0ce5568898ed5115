/*
 * test_fabric_informer.c - InformInfo subscriptions and the Reports that come back, over a
 * scripted port: one Set(InformInfo) per trap to the SM, unsubscription with a callback once
 * all are answered; every Report answered with a ReportResp (same TID, to its sender) before
 * it is acted on; a resent Report (same sender, TID and Notice) acted on once; a new TID or a
 * new Notice is a new trap; a Report from a LID that is not the master SM's is refused:
 * counted, neither answered nor acted on, its owner told (before: any node could make the
 * daemon drop or fetch any GID's paths); a Report that is not a Notice is malformed;
 * queries still out when the informer is freed are cancelled without touching it; the
 * stats keep their keys.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "fabric/informer.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/notice.h"

struct traps_seen {
	unsigned calls;
	uint16_t trap;
	uint32_t tid;
	union ibv_gid gid;
	bool has_gid;
};

static void on_trap(void *arg, uint16_t trap, const union ibv_gid *gid, uint32_t tid)
{
	struct traps_seen *t = arg;

	t->calls++;
	t->trap = trap;
	t->tid = tid;
	t->has_gid = gid != NULL;
	if (gid)
		t->gid = *gid;
}

static void unsubscribed(void *arg)
{
	(*(unsigned *)arg)++;
}

static const uint16_t traps[] = { 64, 65 };

/* A scripted port, an SA client, and an informer for traps 64 and 65. */
struct env {
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *sa;
	struct informer *inf;
	struct traps_seen seen;
	unsigned refused;
};

static void refused(void *arg, uint16_t slid)
{
	(void)slid;
	(*(unsigned *)arg)++;
}

static void env_up(struct env *e, struct loop *loop)
{
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000 };

	memset(e, 0, sizeof(*e));
	script_init(&e->s);
	e->port = script_port(&e->s, loop);
	CHECK_INT(0, sa_client_new(loop, e->port, &so, &e->sa));
	CHECK_INT(0, informer_new(loop, e->port, e->sa, traps, 2, 0, on_trap, &e->seen, &e->inf));
}

static void env_down(struct env *e)
{
	informer_free(e->inf);
	sa_client_free(e->sa);
	mad_port_close(e->port);
}

static void test_subscriptions(struct loop *loop)
{
	struct informer_stats st;
	struct env e;
	unsigned done = 0;

	env_up(&e, loop);
	informer_subscribe(e.inf);
	CHECK_INT(2, e.s.n_sent);
	for (size_t i = 0; i < 2; i++) {
		const struct script_sent *m = &e.s.sent[i];
		struct inform_info ii;

		CHECK_INT(UMAD_METHOD_SET, m->h.method);
		CHECK_INT(UMAD_ATTR_INFORM_INFO, m->h.attr_id);
		CHECK_INT(SCRIPT_SM_LID, m->dlid);
		CHECK_INT(0, inform_info_decode(m->mad + SA_HDR_LEN, INFORM_INFO_LEN, &ii));
		CHECK_INT(traps[i], ii.trap_number);
		CHECK_INT(1, ii.subscribe);
		script_answer(&e.s, m, 0, m->mad + SA_HDR_LEN, 40, 1);
	}
	script_run(loop, 10);
	informer_stats(e.inf, &st);
	CHECK_INT(2, st.subscribe_sent);
	CHECK_INT(2, st.subscribe_ok);
	CHECK_INT(2, st.subscribed);

	/* Unsubscribing: one Set each, subscribe 0; done once both are answered. */
	informer_unsubscribe(e.inf, unsubscribed, &done);
	CHECK_INT(4, e.s.n_sent);
	for (size_t i = 2; i < 4; i++) {
		struct inform_info ii;

		CHECK_INT(0, inform_info_decode(e.s.sent[i].mad + SA_HDR_LEN, INFORM_INFO_LEN,
						&ii));
		CHECK_INT(0, ii.subscribe);
	}
	script_answer(&e.s, &e.s.sent[2], 0, NULL, 0, 0);
	script_run(loop, 10);
	CHECK_INT(0, done);
	script_answer(&e.s, &e.s.sent[3], 0, NULL, 0, 0);
	script_run(loop, 10);
	CHECK_INT(1, done);
	informer_stats(e.inf, &st);
	CHECK_INT(0, st.subscribed);
	CHECK_INT(0, e.seen.calls);
	env_down(&e);
}

/*
 * A retry sends no Set for a trap whose last one is still out: trap 64's is refused (a retry
 * in a second), trap 65's is never answered (a silent SA). Retries used to send both again,
 * and a silent SA's queue filled with them.
 */
static void test_one_set_out_per_trap(struct loop *loop)
{
	struct env e;

	env_up(&e, loop);
	informer_subscribe(e.inf);
	CHECK_INT(2, e.s.n_sent);
	script_answer(&e.s, &e.s.sent[0], UMAD_SA_STATUS_REQ_DENIED << 8, NULL, 0, 0);
	script_run(loop, 1100);	/* the retry: trap 64 only */
	CHECK_INT(3, e.s.n_sent);
	script_answer(&e.s, &e.s.sent[2], UMAD_SA_STATUS_REQ_DENIED << 8, NULL, 0, 0);
	script_run(loop, 1100);
	CHECK_INT(4, e.s.n_sent);
	for (size_t i = 2; i < 4; i++) {
		struct inform_info ii;

		CHECK_INT(0, inform_info_decode(e.s.sent[i].mad + SA_HDR_LEN, INFORM_INFO_LEN,
						&ii));
		CHECK_INT(traps[0], ii.trap_number);
	}
	env_down(&e);
}

static void check_stats_json(const struct informer *inf, const char *expect)
{
	struct strbuf sb;
	struct json j;

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	informer_stats_json(inf, &j);
	strbuf_append(&sb, "", 1);
	CHECK_STR(expect, sb.buf);
	strbuf_free(&sb);
}

static void test_reports(struct loop *loop)
{
	union ibv_gid g9 = gid_of(9), g10 = gid_of(10);
	unsigned char bad[MAD_LEN] = { 0 };
	const struct script_sent *resp;
	struct informer_stats st;
	struct sa_hdr h;
	struct env e;

	env_up(&e, loop);
	/* Answered, then acted on. */
	script_report(&e.s, 65, &g9, 0x100, 2);
	script_run(loop, 10);
	CHECK_INT(1, e.s.n_sent);
	resp = &e.s.sent[0];
	CHECK_INT(UMAD_METHOD_REPORT_RESP, resp->h.method);
	CHECK_INT(UMAD_ATTR_NOTICE, resp->h.attr_id);
	CHECK_INT(0x100, (uint32_t)resp->h.tid);
	CHECK_INT(0, resp->h.status);
	CHECK_INT(2, resp->dlid);
	CHECK_INT(1, resp->dqpn);
	CHECK_INT(0, resp->timeout_ms);	/* a response expects none */
	CHECK_INT(1, e.seen.calls);
	CHECK_INT(65, e.seen.trap);
	CHECK(e.seen.has_gid);
	CHECK_MEM(&g9, &e.seen.gid, sizeof(g9));

	/* The same Report again (our ReportResp was lost): answered again, acted on once. */
	script_report(&e.s, 65, &g9, 0x100, 2);
	script_run(loop, 10);
	CHECK_INT(2, e.s.n_sent);
	CHECK_INT(UMAD_METHOD_REPORT_RESP, e.s.sent[1].h.method);
	CHECK_INT(1, e.seen.calls);
	/* A new TID, a new Notice: each a trap of its own. */
	script_report(&e.s, 65, &g9, 0x101, 2);
	script_report(&e.s, 64, &g9, 0x101, 2);
	script_report(&e.s, 64, &g10, 0x102, 2);
	script_run(loop, 10);
	CHECK_INT(5, e.s.n_sent);
	CHECK_INT(4, e.seen.calls);
	CHECK_INT(64, e.seen.trap);
	CHECK_INT(0x102, e.seen.tid);
	CHECK_MEM(&g10, &e.seen.gid, sizeof(g10));
	/* Another sender: not the SM, so not a trap at all: no answer, no action, counted. */
	informer_on_refused(e.inf, refused, &e.refused);
	script_report(&e.s, 65, &g10, 0x103, 3);
	script_report(&e.s, 64, &g9, 0x104, 7);
	script_run(loop, 10);
	CHECK_INT(5, e.s.n_sent);
	CHECK_INT(4, e.seen.calls);
	CHECK_INT(2, e.refused);
	/* The SM moved (the tracker updates the port): its Reports count, the old LID's not. */
	e.port->sm_lid = 3;
	script_report(&e.s, 65, &g10, 0x105, 3);
	script_report(&e.s, 65, &g9, 0x106, 2);
	script_run(loop, 10);
	CHECK_INT(6, e.s.n_sent);
	CHECK_INT(3, e.s.sent[5].dlid);
	CHECK_INT(5, e.seen.calls);
	CHECK_INT(3, e.refused);
	e.port->sm_lid = 2;

	/* A Report of another attribute: malformed, neither answered nor acted on. */
	sa_hdr_init_request(&h, UMAD_METHOD_REPORT, UMAD_ATTR_INFORM_INFO, 0x200, 0);
	sa_hdr_encode(bad, &h);
	script_deliver(&e.s, bad, sizeof(bad), 0, 2);
	script_run(loop, 10);
	CHECK_INT(6, e.s.n_sent);
	CHECK_INT(5, e.seen.calls);

	informer_stats(e.inf, &st);
	CHECK_INT(10, st.reports);
	check_stats_json(e.inf, "\"traps\": {\"64\": 2, \"65\": 3}, \"reports\": 10, "
			 "\"reports_duplicate\": 1, \"reports_malformed\": 1, "
			 "\"reports_refused\": 3, \"subscriptions\": 0, \"subscribe_sent\": 0, "
			 "\"subscribe_ok\": 0, \"subscribe_failed\": 0");
	/* no informer (no traps configured): the same keys, empty and zero */
	check_stats_json(NULL, "\"traps\": {}, \"reports\": 0, \"reports_duplicate\": 0, "
			 "\"reports_malformed\": 0, \"reports_refused\": 0, \"subscriptions\": 0, "
			 "\"subscribe_sent\": 0, \"subscribe_ok\": 0, \"subscribe_failed\": 0");
	CHECK_INT(1, st.duplicates);
	CHECK_INT(1, st.malformed);
	CHECK_INT(3, st.refused);
	CHECK_INT(2, st.traps[0]);	/* 64 */
	CHECK_INT(3, st.traps[1]);	/* 65 */
	informer_free(e.inf);
	e.inf = NULL;
	/* Without an informer a Report is nobody's: not answered. */
	script_report(&e.s, 65, &g9, 0x300, 2);
	script_run(loop, 10);
	CHECK_INT(6, e.s.n_sent);
	env_down(&e);
}

/*
 * The daemon frees the informer before the SA client, whose end cancels what is still out:
 * a subscription or an unsubscription nobody answered must then touch neither the informer
 * nor the unsubscription's caller (before the fix: a use after free at exit, when the SA
 * had not confirmed the unsubscriptions in time).
 */
static void test_free_with_queries_out(struct loop *loop)
{
	struct env e;
	unsigned done = 0;

	env_up(&e, loop);
	informer_subscribe(e.inf);
	script_answer(&e.s, &e.s.sent[0], 0, NULL, 0, 0);
	script_run(loop, 5);
	informer_unsubscribe(e.inf, unsubscribed, &done); /* trap 64's; 65's Set is still out */
	CHECK_INT(3, e.s.n_sent);
	informer_free(e.inf);
	e.inf = NULL;
	env_down(&e);	/* the SA client's end cancels both */
	CHECK_INT(0, done);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_subscriptions(loop);
	test_one_set_out_per_trap(loop);
	test_reports(loop);
	test_free_with_queries_out(loop);
	loop_free(loop);
	return CHECK_DONE();
}
