/*
 * test_daemon_freshness.c - the freshness policy over a scripted port: an SM that moves is
 * found (by the periodic PortInfo read, or when the SA stops answering) and gets our
 * subscriptions again, with a full refresh from the new SM; traps drop (65) or fetch (64) a
 * GID's paths and schedule one debounced full refresh; a receiver's watchdog is over once
 * shutdown begins, whether or not the SA confirms the unsubscriptions in time; the stats
 * keep their keys and nesting.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_sm.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "daemon/freshness.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

static const uint16_t traps[] = { 64, 65 };

struct env {
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
	struct freshness *f;
	uint16_t sm_lid;          /* what the PortInfo answers say */
	bool confirm;             /* answer InformInfo Sets (else leave them unanswered) */
	unsigned synced, done;
};

/* The SA and the SMA, as far as the test needs them: InformInfo is confirmed, PortInfo
 * tells where the SM is; everything else is left for the test to answer. */
static void fabric_side(struct mad_script *s, const struct script_sent *m, void *arg)
{
	struct env *e = arg;

	if (m->h.mgmt_class == UMAD_CLASS_SUBN_DIRECTED_ROUTE)
		script_port_info(s, m, SCRIPT_LID, e->sm_lid);
	else if (m->h.attr_id == UMAD_ATTR_INFORM_INFO && e->confirm)
		script_answer(s, m, 0, m->mad + SA_HDR_LEN, 40, 1);
}

static void synced(void *arg)
{
	((struct env *)arg)->synced++;
}

static void env_up(struct env *e, struct loop *loop, struct freshness_opts *o)
{
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000, .retries = 0 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000 };

	memset(e, 0, sizeof(*e));
	e->sm_lid = SCRIPT_SM_LID;
	e->confirm = true;
	script_init(&e->s);
	e->s.on_send = fabric_side;
	e->s.on_send_arg = e;
	e->port = script_port(&e->s, loop);
	CHECK_INT(0, sa_client_new(loop, e->port, &so, &e->sa));
	CHECK_INT(0, resolver_new(loop, e->port, e->sa, &ro, &e->res));
	o->traps = traps;
	o->n_traps = 2;
	o->on_synced = synced;
	o->synced_arg = e;
	CHECK_INT(0, freshness_new(loop, e->port, e->sa, e->res, o, &e->f));
}

static void env_down(struct env *e)
{
	freshness_free(e->f);
	sa_client_free(e->sa);
	resolver_free(e->res);
	mad_port_close(e->port);
}

/* Sent MADs with this method and attribute to dlid, since index from. */
static size_t sent_to(const struct env *e, size_t from, uint8_t method, uint16_t attr,
		      uint16_t dlid)
{
	size_t n = 0;

	for (size_t i = from; i < e->s.n_sent; i++)
		n += e->s.sent[i].h.method == method && e->s.sent[i].h.attr_id == attr &&
		     e->s.sent[i].dlid == dlid;
	return n;
}

/* The stats members, as the control socket shows them. */
static void stats(const struct env *e, char *out, size_t max)
{
	struct strbuf sb;
	struct json j;

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	freshness_stats_json(e->f, &j);
	CHECK_INT(0, json_finish(&j));
	snprintf(out, max, "%.*s", (int)sb.len, sb.buf);
	strbuf_free(&sb);
}

/* --- an SM that moves --------------------------------------------------------- */

static void test_sm_change(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .sm_poll_ms = 10 };
	char js[1024];
	struct env e;
	size_t mark;

	env_up(&e, loop, &o);
	freshness_start(e.f);
	CHECK_INT(2, sent_to(&e, 0, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, SCRIPT_SM_LID));
	script_run(loop, 25);	/* polled: the same SM, nothing to do */
	CHECK_INT(0, script_count(&e.s, 0, UMAD_SA_METHOD_GET_TABLE, 0));

	e.sm_lid = 7;
	mark = e.s.n_sent;
	script_run(loop, 25);
	CHECK_INT(7, e.port->sm_lid);
	/* Subscribed again at the new SM, and one full refresh from it. */
	CHECK_INT(2, sent_to(&e, mark, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, 7));
	CHECK_INT(1, sent_to(&e, mark, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, 7));
	CHECK_INT(0, sent_to(&e, mark, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, SCRIPT_SM_LID));
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"sm_changes\": 1, ") != NULL);
	CHECK(strstr(js, "\"sm_change\": 1, ") != NULL);
	CHECK(strstr(js, "\"subscriptions\": 2, ") != NULL);
	env_down(&e);
}

/* Without polling, an SA that stops answering is what makes us look for the SM. */
static void test_sa_silence_reads_port_info(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE };
	const struct script_sent *get_table;
	struct env e;

	env_up(&e, loop, &o);
	e.sm_lid = 9;
	CHECK_INT(0, resolver_fill(e.res, NULL, NULL));
	get_table = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	CHECK(get_table != NULL);
	CHECK_INT(0, script_count(&e.s, 0, UMAD_METHOD_GET, UMAD_SM_ATTR_PORT_INFO));
	script_time_out(&e.s, get_table);
	script_run(loop, 10);
	CHECK_INT(1, script_count(&e.s, 0, UMAD_METHOD_GET, UMAD_SM_ATTR_PORT_INFO));
	CHECK_INT(9, e.port->sm_lid);
	/* and the refresh goes to where the SM now is */
	CHECK_INT(1, sent_to(&e, 0, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, 9));
	env_down(&e);
}

/* --- traps -------------------------------------------------------------------- */

static void test_traps(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .trap_refresh_delay_ms = 20 };
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	union ibv_gid g3 = gid_of(3);
	const struct script_sent *m;
	struct ibv_path_record q;
	struct resolver_stats rs;
	struct pr_request req;
	struct env e;
	size_t mark;

	env_up(&e, loop, &o);
	CHECK_INT(0, resolver_load_table(e.res, recs, 2));
	mark = e.s.n_sent;
	/* 65: its paths leave at once, at no cost to the SA. */
	script_report(&e.s, 65, &g3, 0x10, SCRIPT_SM_LID);
	script_run(loop, 5);
	memset(&req, 0, sizeof(req));
	req.dgid = g3;
	req.has = PR_REQ_DGID;
	resolver_stats(e.res, &rs);
	CHECK_INT(1, rs.gids_out);
	CHECK_INT(0, script_count(&e.s, mark, UMAD_SA_METHOD_GET_TABLE, 0));
	/* 64: fetched back with one GetTable for (this SGID, its DGID). */
	script_report(&e.s, 64, &g3, 0x11, SCRIPT_SM_LID);
	script_report(&e.s, 64, &g3, 0x12, SCRIPT_SM_LID);
	script_run(loop, 5);
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	CHECK(m != NULL);
	if (m) {
		CHECK(m->h.comp_mask == (PR_CM_SGID | PR_CM_DGID));
		pr_decode(m->mad + SA_HDR_LEN, PR_LEN, &q);
		CHECK_MEM(&g3, &q.dgid, sizeof(g3));
	}
	/* The burst of traps costs one full refresh, once it is over. */
	mark = e.s.n_sent;
	script_run(loop, 40);
	CHECK_INT(1, script_count(&e.s, mark, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC));
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	CHECK(m && m->h.comp_mask == PR_CM_SGID);
	env_down(&e);

	/* A receiver leaves every change to its distributor. */
	o = (struct freshness_opts){ .role = ROLE_RECEIVER, .receiver_timeout_ms = 1000,
				     .trap_refresh_delay_ms = 5 };
	env_up(&e, loop, &o);
	script_report(&e.s, 65, &g3, 0x10, SCRIPT_SM_LID);
	script_run(loop, 20);
	CHECK_INT(1, e.s.n_sent);	/* only the ReportResp */
	CHECK_INT(UMAD_METHOD_REPORT_RESP, e.s.sent[0].h.method);
	env_down(&e);
}

/* --- the receiver's watchdog and shutdown -------------------------------------- */

static void shut(void *arg)
{
	((struct env *)arg)->done++;
}

/*
 * A receiver shutting down falls back to no one: from the moment shutdown begins, its
 * watchdog is over. Before the fix it was stopped only when the SA confirmed the
 * unsubscriptions within the grace time; when the SA did not, the watchdog still fired after
 * shutdown was done, filled the cache from the SA and announced a sync.
 */
static void test_shutdown_ends_watchdog(struct loop *loop)
{
	for (int confirm = 0; confirm < 2; confirm++) {
		struct freshness_opts o = { .role = ROLE_RECEIVER, .receiver_timeout_ms = 60,
					    .shutdown_grace_ms = 20 };
		char js[1024];
		struct env e;

		env_up(&e, loop, &o);
		freshness_start(e.f);	/* subscribes, arms the watchdog */
		script_run(loop, 5);
		e.confirm = confirm;
		freshness_shutdown(e.f, shut, &e);
		/* a push during the grace time is too late to re-arm it */
		freshness_on_push(e.f, 3, 0, 0);
		CHECK_INT(1, e.synced);
		script_run(loop, 30);
		CHECK_INT(1, e.done);
		script_run(loop, 80);	/* well past the watchdog's time */
		CHECK_INT(0, script_count(&e.s, 0, UMAD_SA_METHOD_GET_TABLE, 0));
		CHECK_INT(1, e.synced);
		stats(&e, js, sizeof(js));
		CHECK(strstr(js, "\"fallbacks\": 0, ") != NULL);
		env_down(&e);
	}
}

/* While it runs, the watchdog does its job: no push for receiver_timeout_ms, a fill. */
static void test_watchdog_fires(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_RECEIVER, .receiver_timeout_ms = 20 };
	struct env e;

	env_up(&e, loop, &o);
	freshness_start(e.f);
	script_run(loop, 10);
	freshness_on_push(e.f, 3, 5, 0);	/* re-armed: 20 ms from now */
	script_run(loop, 12);
	CHECK_INT(0, script_count(&e.s, 0, UMAD_SA_METHOD_GET_TABLE, 0));
	script_run(loop, 20);
	CHECK_INT(1, script_count(&e.s, 0, UMAD_SA_METHOD_GET_TABLE, 0));
	CHECK_INT(2, e.synced);
	env_down(&e);
}

/* --- stats: every key and its nesting as before ---------------------------------- */

static void test_stats_json(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE };
	char js[1024];
	struct env e;

	env_up(&e, loop, &o);
	stats(&e, js, sizeof(js));
	CHECK_STR("\"traps\": {\"64\": 0, \"65\": 0}, \"reports\": 0, \"reports_duplicate\": 0, "
		  "\"reports_malformed\": 0, \"subscriptions\": 0, \"subscribe_sent\": 0, "
		  "\"subscribe_ok\": 0, \"subscribe_failed\": 0, \"sm_changes\": 0, "
		  "\"refreshes\": {\"periodic\": 0, \"trap\": 0, \"sm_change\": 0, \"signal\": 0}",
		  js);
	env_down(&e);

	o = (struct freshness_opts){ .role = ROLE_RECEIVER, .receiver_timeout_ms = 1000 };
	env_up(&e, loop, &o);
	freshness_on_push(e.f, 12, 40, 0);
	freshness_on_push(e.f, 12, 0, 0);
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"refreshes\": {\"periodic\": 0, \"trap\": 0, \"sm_change\": 0, "
			 "\"signal\": 0}, \"receiver\": {\"distributor_lid\": 12, \"pushes\": 1, "
			 "\"records\": 40, \"heartbeats\": 1, \"fallbacks\": 0, "
			 "\"fallen_back\": false, \"last_push_age_ms\": ") != NULL);
	env_down(&e);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	test_sm_change(loop);
	test_sa_silence_reads_port_info(loop);
	test_traps(loop);
	test_shutdown_ends_watchdog(loop);
	test_watchdog_fires(loop);
	test_stats_json(loop);
	loop_free(loop);
	return CHECK_DONE();
}
