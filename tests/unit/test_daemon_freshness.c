/*
 * test_daemon_freshness.c - the freshness policy over a scripted port: an SM that moves is
 * found (by the periodic PortInfo read, or when the SA stops answering) and gets our
 * subscriptions again, with a full refresh from the new SM; traps act where they point (65:
 * no query; 64: one GetTable for that GID; repeats, resends and answers made stale by a later
 * trap cost nothing) and never cause a full refresh; a storm of Reports, spoofed or from the
 * SM, costs a bounded number of queries while a lookup still succeeds; a full fetch every node
 * makes starts at this node's slot of the spread window, and a periodic one that comes while
 * the fill runs joins it; a failed first fill is retried with the backoff, and at once when
 * the SA answers again; a table kept through an outage is fetched again, spread; a
 * receiver's watchdog is over once shutdown begins, whether or not the SA confirms the
 * unsubscriptions in time; the stats keep their keys and nesting.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

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
	bool answer_paths;        /* answer PathRecord queries: a path per DGID, `table` else */
	struct ibv_path_record table[16];
	size_t n_table;
	unsigned synced, done, filled;
	int filled_err;
	uint64_t full_wall_ms;    /* wall clock of the last full GetTable sent */
};

/* The SA and the SMA, as far as the test needs them: InformInfo is confirmed, PortInfo
 * tells where the SM is; PathRecord queries are answered on request. */
static void fabric_side(struct mad_script *s, const struct script_sent *m, void *arg)
{
	struct env *e = arg;

	if (m->h.method == UMAD_SA_METHOD_GET_TABLE && m->h.comp_mask == PR_CM_SGID)
		e->full_wall_ms = loop_wall_ms();
	if (m->h.mgmt_class == UMAD_CLASS_SUBN_DIRECTED_ROUTE) {
		script_port_info(s, m, SCRIPT_LID, e->sm_lid);
	} else if (m->h.attr_id == UMAD_ATTR_INFORM_INFO && e->confirm) {
		script_answer(s, m, 0, m->mad + SA_HDR_LEN, 40, 1);
	} else if (m->h.attr_id == UMAD_SA_ATTR_PATH_REC && e->answer_paths &&
		   m->h.method != UMAD_METHOD_REPORT_RESP) {
		struct ibv_path_record q, r;

		pr_decode(m->mad + SA_HDR_LEN, PR_LEN, &q);
		if (m->h.comp_mask & PR_CM_DGID) {
			r = rec_of(be64toh(q.dgid.global.interface_id), 77, 0, 5);
			script_answer(s, m, 0, &r, PR_LEN, 1);
		} else {
			script_answer(s, m, 0, e->table, PR_LEN, e->n_table);
		}
	}
}

static void synced(void *arg)
{
	((struct env *)arg)->synced++;
}

static void filled(void *arg, int err, size_t records)
{
	struct env *e = arg;

	(void)records;
	e->filled++;
	e->filled_err = err;
}

/* own_guid: this port's GUID (its rank among a table's ports). */
static void env_up_sa(struct env *e, struct loop *loop, struct freshness_opts *o,
		      const struct sa_client_opts *so, uint64_t own_guid)
{
	struct resolver_opts ro = { 1000, 0, 100000, 100000, NULL };

	memset(e, 0, sizeof(*e));
	e->sm_lid = SCRIPT_SM_LID;
	e->confirm = true;
	script_init(&e->s);
	e->s.attr.gid = gid_of(own_guid);
	e->s.on_send = fabric_side;
	e->s.on_send_arg = e;
	e->port = script_port(&e->s, loop);
	CHECK_INT(0, sa_client_new(loop, e->port, so, &e->sa));
	CHECK_INT(0, resolver_new(loop, e->port, e->sa, &ro, &e->res));
	o->traps = traps;
	o->n_traps = 2;
	o->on_synced = synced;
	o->synced_arg = e;
	o->on_filled = filled;
	o->filled_arg = e;
	CHECK_INT(0, freshness_new(loop, e->port, e->sa, e->res, o, &e->f));
}

static void env_up(struct env *e, struct loop *loop, struct freshness_opts *o)
{
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000, .retries = 0 };

	env_up_sa(e, loop, o, &so, 1);
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

/* GetTable PathRecord queries since from: full tables (SGID only), or for one DGID. */
static size_t tables(const struct env *e, size_t from, bool full)
{
	size_t n = 0;

	for (size_t i = from; i < e->s.n_sent; i++)
		n += e->s.sent[i].h.method == UMAD_SA_METHOD_GET_TABLE &&
		     e->s.sent[i].h.attr_id == UMAD_SA_ATTR_PATH_REC &&
		     (e->s.sent[i].h.comp_mask == PR_CM_SGID) == full;
	return n;
}

/* Runs the loop until n such GetTables were sent since from, at most max_ms; how many were.
 * (Timers are never early, but late on a busy machine: tests wait for events, and check the
 * moments they happened at against lower bounds.) */
static size_t wait_tables(struct env *e, struct loop *loop, size_t from, bool full, size_t n,
			  uint64_t max_ms)
{
	uint64_t t0 = loop_now_ms();

	while (tables(e, from, full) < n && loop_now_ms() - t0 < max_ms)
		script_run(loop, 5);
	return tables(e, from, full);
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

/* Runs the loop until the stats hold needle (true) or max_ms has passed (false). */
static bool wait_stats(const struct env *e, struct loop *loop, const char *needle,
		       uint64_t max_ms)
{
	char js[4096];

	for (uint64_t t0 = loop_now_ms(); loop_now_ms() - t0 < max_ms; script_run(loop, 20)) {
		stats(e, js, sizeof(js));
		if (strstr(js, needle))
			return true;
	}
	return false;
}

/* A table of guids [first, first + n) (own port: guid 1 unless the test changes it). */
static void load_table(struct env *e, uint64_t first, size_t n)
{
	e->n_table = n;
	for (size_t i = 0; i < n; i++)
		e->table[i] = rec_of(first + i, (uint16_t)(first + i), 0, (uint32_t)i);
	CHECK_INT(0, resolver_load_table(e->res, e->table, n));
}

/* --- an SM that moves --------------------------------------------------------- */

static void test_sm_change(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .sm_poll_ms = 10 };
	char js[2048];
	struct env e;
	size_t mark;

	env_up(&e, loop, &o);
	e.answer_paths = true;
	e.n_table = 0;
	freshness_start(e.f);	/* subscribes; the first fill, at once */
	CHECK_INT(2, sent_to(&e, 0, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, SCRIPT_SM_LID));
	CHECK_INT(1, tables(&e, 0, true));
	script_run(loop, 25);	/* polled: the same SM, nothing to do */
	for (int i = 0; i < 400 && !e.filled; i++)
		script_run(loop, 5);
	CHECK_INT(1, e.filled);
	CHECK_INT(0, e.filled_err);

	e.sm_lid = 7;
	mark = e.s.n_sent;
	for (int i = 0; i < 400 && e.port->sm_lid != 7; i++)	/* polled every 10 ms */
		script_run(loop, 5);
	script_run(loop, 5);
	CHECK_INT(7, e.port->sm_lid);
	/* Subscribed again at the new SM, and one full refresh from it (no spread configured). */
	CHECK_INT(2, sent_to(&e, mark, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, 7));
	CHECK_INT(1, sent_to(&e, mark, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, 7));
	CHECK_INT(0, sent_to(&e, mark, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, SCRIPT_SM_LID));
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"sm_changes\": 1, ") != NULL);
	CHECK(strstr(js, "\"full_fetches\": {\"start\": 1, \"periodic\": 0, \"sm_move\": 1, ") != NULL);
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

static struct pr_request dgid_req(uint64_t guid)
{
	struct pr_request req;

	memset(&req, 0, sizeof(req));
	req.dgid = gid_of(guid);
	req.has = PR_REQ_DGID;
	return req;
}

struct answer {
	unsigned calls;
	int err;
	uint16_t dlid;
};

static void resolved(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		     size_t n)
{
	struct answer *a = arg;

	(void)status;
	a->calls++;
	a->err = err;
	a->dlid = n ? pr_dlid(&recs[0]) : 0;
}

/* Is (default tuple, guid) cached? 1: a path, 0: nothing, -1: "no path". */
static int cached(struct env *e, uint64_t guid)
{
	struct pr_request req = dgid_req(guid);
	struct answer a = { 0 };

	resolver_resolve(e->res, &req, RESOLVE_CACHE_ONLY, resolved, &a);
	return !a.err ? 1 : 0;
}

static void test_traps(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE };
	union ibv_gid g3 = gid_of(3);
	const struct script_sent *m;
	struct ibv_path_record q, r3 = rec_of(3, 33, 0, 9);
	struct resolver_stats rs;
	char js[2048];
	struct env e;
	size_t mark;

	env_up(&e, loop, &o);
	load_table(&e, 2, 4);	/* guids 2..5 */
	CHECK_INT(1, cached(&e, 3));
	mark = e.s.n_sent;
	/* 65: its paths leave at once, at no cost to the SA. */
	script_report(&e.s, 65, &g3, 0x10, SCRIPT_SM_LID);
	script_run(loop, 5);
	CHECK_INT(0, cached(&e, 3));
	resolver_stats(e.res, &rs);
	CHECK_INT(1, rs.gids_out);
	CHECK_INT(0, script_count(&e.s, mark, UMAD_SA_METHOD_GET_TABLE, 0));
	/* 64, and the same 64 again (a repeat: same state, another TID): one GetTable for
	 * (this SGID, its DGID). */
	script_report(&e.s, 64, &g3, 0x11, SCRIPT_SM_LID);
	script_report(&e.s, 64, &g3, 0x12, SCRIPT_SM_LID);
	script_run(loop, 5);
	CHECK_INT(1, tables(&e, mark, false));
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	CHECK(m && m->h.comp_mask == (PR_CM_SGID | PR_CM_DGID));
	if (m) {
		pr_decode(m->mad + SA_HDR_LEN, PR_LEN, &q);
		CHECK_MEM(&g3, &q.dgid, sizeof(g3));
		script_answer(&e.s, m, 0, &r3, PR_LEN, 1);
	}
	script_run(loop, 5);
	CHECK_INT(1, cached(&e, 3));
	/* The SA resends the old 65 (its ReportResp lost), late: the informer's window for
	 * resends is over, but the GID's state knows that TID: already applied, no change. */
	script_run(loop, 1100);
	script_report(&e.s, 65, &g3, 0x10, SCRIPT_SM_LID);
	script_run(loop, 5);
	CHECK_INT(1, cached(&e, 3));
	/* 64 then 65 before the fetch is answered: the answer is for a state that is gone.
	 * (Past the per-GID interval: that 64 is fetched at once.) */
	script_report(&e.s, 65, &g3, 0x13, SCRIPT_SM_LID);
	script_run(loop, 5);
	mark = e.s.n_sent;
	script_report(&e.s, 64, &g3, 0x14, SCRIPT_SM_LID);
	script_run(loop, 5);
	CHECK_INT(1, tables(&e, mark, false));
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	script_report(&e.s, 65, &g3, 0x15, SCRIPT_SM_LID);
	script_run(loop, 5);
	if (m)
		script_answer(&e.s, m, 0, &r3, PR_LEN, 1);
	script_run(loop, 5);
	CHECK_INT(0, cached(&e, 3));
	resolver_stats(e.res, &rs);
	CHECK_INT(1, rs.stale_answers);
	/* No trap, however many, ever costs a full-table fetch. */
	CHECK_INT(0, tables(&e, 0, true));
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"trap_fetches\": 2, \"trap_repeats\": 1, \"trap_resent\": 1, ") != NULL);
	env_down(&e);

	/* A receiver leaves every change to its distributor. */
	o = (struct freshness_opts){ .role = ROLE_RECEIVER, .receiver_timeout_ms = 1000 };
	env_up(&e, loop, &o);
	script_report(&e.s, 65, &g3, 0x10, SCRIPT_SM_LID);
	script_report(&e.s, 64, &g3, 0x11, SCRIPT_SM_LID);
	script_run(loop, 20);
	CHECK_INT(2, e.s.n_sent);	/* only the ReportResps */
	CHECK_INT(UMAD_METHOD_REPORT_RESP, e.s.sent[0].h.method);
	env_down(&e);
}

/*
 * Issue 13, item 3: Reports were accepted from any LID, and every trap 64 was a GetTable:
 * 12,000 spoofed Reports in 1.3 s queued 9,436 GetTables and made lookups fail. Now a Report
 * from another LID is refused and counted, and a storm from the SM itself costs a bounded
 * number of GetTables (per-GID generations, a trap-fetch budget, one full fetch beyond it)
 * while a lookup is still answered.
 */
static void test_trap_storm(struct loop *loop)
{
	/* (an SA timeout longer than a loaded machine needs to read 24,000 Reports) */
	struct sa_client_opts so = { .credits = 2, .timeout_ms = 60000, .retries = 0 };
	struct freshness_opts o = { .role = ROLE_STANDALONE };
	struct pr_request req = dgid_req(0xabc);
	struct answer a = { 0 };
	char js[4096];
	struct env e;
	size_t mark;

	env_up_sa(&e, loop, &o, &so, 1);
	e.answer_paths = true;
	load_table(&e, 2, 8);
	/* spoofed: another node's LID, trap 64 for 12,000 GIDs */
	for (uint32_t i = 0; i < 12000; i++) {
		union ibv_gid g = gid_of(0x10000 + i);

		script_report(&e.s, 64, &g, i, 99);
	}
	/* every one read (however loaded the machine), then time for what must not follow */
	CHECK(wait_stats(&e, loop, "\"reports_refused\": 12000, ", 60000));
	script_run(loop, 200);
	/* not even a ReportResp; the SM's place read again, at most once a second */
	CHECK_INT(0, script_count(&e.s, 0, 0, UMAD_ATTR_NOTICE));
	CHECK_INT(0, tables(&e, 0, false));
	CHECK(script_count(&e.s, 0, UMAD_METHOD_GET, UMAD_SM_ATTR_PORT_INFO) <= 1);

	/* from the SM's LID: 12,000 trap 64 for 6,000 GIDs, each twice */
	mark = e.s.n_sent;
	for (uint32_t i = 0; i < 12000; i++) {
		union ibv_gid g = gid_of(0x20000 + i / 2);

		script_report(&e.s, 64, &g, 0x100000 + i, SCRIPT_SM_LID);
	}
	/* a client's lookup in the middle of it */
	CHECK(resolver_resolve(e.res, &req, 0, resolved, &a) > 0);
	/* (its answer comes after the Reports before it: the port reads in order) */
	for (int i = 0; i < 600 && !a.calls; i++)
		script_run(loop, 100);
	script_run(loop, 100);
	CHECK_INT(1, a.calls);
	CHECK_INT(0, a.err);
	CHECK_INT(77, a.dlid);
	/* bounded: the trap-fetch burst (100) and one full fetch instead of the rest */
	CHECK(tables(&e, mark, false) <= 100);
	CHECK(tables(&e, mark, true) == 1);
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"trap_overflow\": 1, ") != NULL);
	CHECK(strstr(js, "\"trap_repeats\": 6000, ") != NULL);
	env_down(&e);
}

/* --- the spread -------------------------------------------------------------------- */

static void test_spread(struct loop *loop)
{
	/* 10 ports of 10 records: 10 x 35 x 1000 / 3500 = 100 ms, slots of 10 ms */
	struct freshness_opts o = { .role = ROLE_STANDALONE, .spread = { 3500, 60000 } };
	char js[2048];
	uint64_t delay, t0;
	struct env e;
	size_t mark;

	env_up(&e, loop, &o);
	load_table(&e, 1, 10);	/* guids 1..10; this port is guid 1: rank 0 */
	delay = freshness_refresh(e.f);
	CHECK(delay < 5);
	env_down(&e);

	/* This port at guid 5: 4 ports sort before it, its slot is [40, 45) ms. */
	{
		struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000 };

		env_up_sa(&e, loop, &o, &so, 5);
	}
	load_table(&e, 1, 10);
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"full_fetch_scheduled\": false, \"full_fetch_in_ms\": 0, "
			 "\"spread_window_ms\": 100, ") != NULL);
	t0 = loop_now_ms();
	mark = e.s.n_sent;
	delay = freshness_refresh(e.f);
	CHECK(delay >= 40 && delay < 45);
	/* a second reason meanwhile joins the fetch already scheduled */
	CHECK(freshness_refresh(e.f) >= 40);
	CHECK_INT(1, wait_tables(&e, loop, mark, true, 1, 2000));
	if (tables(&e, mark, true))
		CHECK(e.s.sent[e.s.n_sent - 1].at_ms - t0 >= 40);
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"operator\": 1, ") != NULL);
	CHECK(strstr(js, "\"full_fetches_joined\": 1, ") != NULL);
	/* the operator's --now (and SIGHUP): at once */
	mark = e.s.n_sent;
	script_answer(&e.s, &e.s.sent[e.s.n_sent - 1], 0, e.table, PR_LEN, 10);
	script_run(loop, 5);
	freshness_refresh_now(e.f, "SIGHUP");
	CHECK_INT(1, tables(&e, mark, true));
	env_down(&e);
}

/* Periodic refreshes keep this node's place in every period of the wall clock: here the slot
 * [40, 45) ms of each second; one that would come within half a period of the fill is skipped. */
static void test_periodic(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .refresh_interval_s = 1,
				    .spread = { 3500, 60000 } };
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000 };
	char js[2048];
	struct env e;
	size_t n;

	env_up_sa(&e, loop, &o, &so, 5);
	e.answer_paths = true;
	for (size_t i = 0; i < 10; i++)
		e.table[i] = rec_of(1 + i, (uint16_t)(1 + i), 0, (uint32_t)i);
	e.n_table = 10;
	freshness_start(e.f);
	script_run(loop, 5);
	CHECK_INT(1, tables(&e, 0, true));
	for (int i = 0; i < 50 && tables(&e, 0, true) < 2; i++)
		script_run(loop, 50);
	n = tables(&e, 0, true);
	CHECK_INT(2, n);
	if (n == 2)	/* at its slot, but for the timer's lateness on a busy machine */
		CHECK(e.full_wall_ms % 1000 >= 40 && e.full_wall_ms % 1000 < 540);
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"periodic\": 1, ") != NULL);
	env_down(&e);
}

/* A periodic tick while the start fill is still running sends nothing: it joins the fill, and
 * is counted as joined, not as a periodic fetch (full_fetches counts the GetTables sent). */
static void test_periodic_joins_running_fill(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .refresh_interval_s = 1,
				    .spread = { 3500, 60000 } };
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 5000 };
	const struct script_sent *m;
	char js[2048];
	struct env e;

	env_up_sa(&e, loop, &o, &so, 5);
	freshness_start(e.f);	/* the SA is slow: the start fill waits */
	CHECK_INT(1, tables(&e, 0, true));
	script_run(loop, 2500);	/* periodic ticks (two or three), all while the fill runs */
	CHECK_INT(1, tables(&e, 0, true));
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"full_fetches\": {\"start\": 1, \"periodic\": 0, ") != NULL);
	CHECK(strstr(js, "\"full_fetches_joined\": 0, ") == NULL);
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	load_table(&e, 1, 10);
	if (m)
		script_answer(&e.s, m, 0, e.table, PR_LEN, 10);
	script_run(loop, 10);
	CHECK_INT(1, e.filled);
	CHECK_INT(0, e.filled_err);
	env_down(&e);
}

/* --- the first fill, and the SA back after an outage --------------------------------- */

static void test_first_fill_retry(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .retry_min_ms = 100,
				    .retry_max_ms = 200 };
	static const uint64_t pause[] = { 100, 200, 200 };	/* doubling, capped */
	const struct script_sent *m;
	char js[2048];
	uint64_t t_fail;
	struct env e;

	env_up(&e, loop, &o);
	e.confirm = false;	/* the SA is down: nothing answers */
	freshness_start(e.f);
	CHECK_INT(1, tables(&e, 0, true));
	for (int i = 0; i < 3; i++) {
		m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
		t_fail = loop_now_ms();
		if (m)
			script_time_out(&e.s, m);
		CHECK_INT(i + 2, wait_tables(&e, loop, 0, true, (size_t)i + 2, 3000));
		CHECK_INT(1, e.filled);	/* the first attempt's outcome, once */
		CHECK_INT(-ETIMEDOUT, e.filled_err);
		m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
		CHECK(m && m->at_ms - t_fail >= pause[i]);
		CHECK(m && m->at_ms - t_fail < 2 * pause[i]);	/* the cap: not 400 */
	}
	/* The SA answers again: the fill succeeds and no retry follows. */
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	load_table(&e, 2, 3);
	if (m)
		script_answer(&e.s, m, 0, e.table, PR_LEN, 3);
	script_run(loop, 100);
	CHECK_INT(4, tables(&e, 0, true));
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"start\": 1, ") != NULL);
	CHECK(strstr(js, "\"full_fetch_retries\": 3, ") != NULL);
	env_down(&e);

	/* A long pause, cut short: the first answer from the SA after the silence (here to a
	 * subscription) sends the fill at once. */
	o.retry_min_ms = 60000;
	o.retry_max_ms = 60000;
	env_up(&e, loop, &o);
	e.confirm = false;
	freshness_start(e.f);
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	if (m)
		script_time_out(&e.s, m);
	script_run(loop, 10);
	CHECK_INT(1, tables(&e, 0, true));
	m = script_last(&e.s, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO);
	if (m)
		script_answer(&e.s, m, 0, m->mad + SA_HDR_LEN, 40, 1);
	script_run(loop, 10);
	CHECK_INT(2, tables(&e, 0, true));
	env_down(&e);
}

static void test_sa_recovered(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE, .spread = { 3500, 60000 } };
	struct pr_request req = dgid_req(0x99);
	struct answer a = { 0 };
	const struct script_sent *m;
	char js[2048];
	struct env e;
	size_t mark;
	uint64_t t0;

	{
		struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000 };

		env_up_sa(&e, loop, &o, &so, 5);	/* slot [40, 45) ms of 100 */
	}
	load_table(&e, 1, 10);
	/* A lookup whose Get nobody answers: the SA is down. */
	CHECK(resolver_resolve(e.res, &req, 0, resolved, &a) > 0);
	script_time_out(&e.s, &e.s.sent[0]);
	script_run(loop, 5);
	CHECK_INT(-ETIMEDOUT, a.err);
	/* The SA answers again: the table kept through the outage is fetched again, spread. */
	mark = e.s.n_sent;
	CHECK(resolver_resolve(e.res, &req, 0, resolved, &a) > 0);
	m = script_last(&e.s, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC);
	t0 = loop_now_ms();
	if (m)
		script_answer(&e.s, m, 0, e.table, PR_LEN, 1);
	CHECK_INT(1, wait_tables(&e, loop, mark, true, 1, 2000));
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	CHECK(m && m->at_ms - t0 >= 40);	/* its slot of the spread window */
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"sa_recovered\": 1, ") != NULL);
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
		char js[2048];
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

/* While it runs, the watchdog does its job: no push for receiver_timeout_ms, a fill; a push
 * re-arms it. */
static void test_watchdog_fires(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_RECEIVER, .receiver_timeout_ms = 200 };
	const struct script_sent *m;
	uint64_t t_push;
	struct env e;

	env_up(&e, loop, &o);
	freshness_start(e.f);
	script_run(loop, 100);
	t_push = loop_now_ms();
	freshness_on_push(e.f, 3, 5, 0);	/* re-armed: 200 ms from now */
	CHECK_INT(1, wait_tables(&e, loop, 0, true, 1, 2000));
	m = script_last(&e.s, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC);
	CHECK(m && m->at_ms - t_push >= 200);
	CHECK_INT(2, e.synced);
	env_down(&e);
}

/* --- stats: every key and its nesting ------------------------------------------- */

static void test_stats_json(struct loop *loop)
{
	struct freshness_opts o = { .role = ROLE_STANDALONE };
	char js[2048];
	struct env e;

	env_up(&e, loop, &o);
	stats(&e, js, sizeof(js));
	CHECK_STR("\"traps\": {\"64\": 0, \"65\": 0}, \"reports\": 0, \"reports_duplicate\": 0, "
		  "\"reports_malformed\": 0, \"reports_refused\": 0, \"subscriptions\": 0, "
		  "\"subscribe_sent\": 0, \"subscribe_ok\": 0, \"subscribe_failed\": 0, "
		  "\"sm_changes\": 0, \"full_fetches\": {\"start\": 0, \"periodic\": 0, "
		  "\"sm_move\": 0, \"sa_recovered\": 0, \"operator\": 0, \"trap_overflow\": 0, "
		  "\"fallback\": 0}, \"full_fetch_retries\": 0, \"full_fetches_joined\": 0, "
		  "\"full_fetch_scheduled\": false, \"full_fetch_in_ms\": 0, "
		  "\"spread_window_ms\": 0, \"trap_fetches\": 0, "
		  "\"trap_repeats\": 0, \"trap_resent\": 0, \"trap_deferred\": 0, "
		  "\"trap_overflows\": 0", js);
	env_down(&e);

	o = (struct freshness_opts){ .role = ROLE_RECEIVER, .receiver_timeout_ms = 1000 };
	env_up(&e, loop, &o);
	freshness_on_push(e.f, 12, 40, 0);
	freshness_on_push(e.f, 12, 0, 0);
	stats(&e, js, sizeof(js));
	CHECK(strstr(js, "\"trap_overflows\": 0, \"receiver\": {\"distributor_lid\": 12, "
			 "\"pushes\": 1, \"records\": 40, \"heartbeats\": 1, \"fallbacks\": 0, "
			 "\"fallen_back\": false, \"last_push_age_ms\": ") != NULL);
	env_down(&e);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_sm_change(loop);
	test_sa_silence_reads_port_info(loop);
	test_traps(loop);
	test_trap_storm(loop);
	test_spread(loop);
	test_periodic(loop);
	test_periodic_joins_running_fill(loop);
	test_first_fill_retry(loop);
	test_sa_recovered(loop);
	test_shutdown_ends_watchdog(loop);
	test_watchdog_fires(loop);
	test_stats_json(loop);
	loop_free(loop);
	return CHECK_DONE();
}
