/*
 * test_fabric_distributor.c - the distributor over a scripted port: one all-pairs GetTable,
 * each receiver's slice pushed whole (PR_PUSH_FULL, authenticated, one message) and the
 * distributor's own slice kept; after a change only the difference (Set for changed or new
 * destinations, Delete for vanished ones, nothing for an unchanged receiver); heartbeats to
 * receivers in sync; a receiver whose push failed gets its whole slice again; the stats; an
 * all-pairs fetch that fails is tried again after a doubling pause up to retry_max_ms, until
 * the table comes (before: not until the next change).
 * Before the fix a push of two or three records went without RMPP, and the receiver took
 * only the first.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "fabric/distributor.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"
#include "wire/pr_push.h"

enum { KEY = 0x5eed, HEARTBEAT_MS = 30 };

struct fabric {
	struct ibv_path_record table[32];
	size_t n;
	uint16_t fail_lid;        /* pushes to this LID are refused */
	uint16_t fail_delete_lid; /* Deletes to this LID are refused */
	uint16_t hold_set_lid;    /* difference Sets to this LID wait in held[] for the test */
	struct script_sent held[4];
	size_t n_held;
	unsigned lose_tables;     /* this many GetTables go unanswered (timed out) */
	size_t own;               /* records of the distributor's own slice, last time */
	unsigned own_calls;
};

/* A path from GUID s to GUID d; every port's LID is its GUID. */
static struct ibv_path_record pair(uint64_t s, uint64_t d, uint32_t tag)
{
	struct ibv_path_record r = rec_of(d, (uint16_t)d, 0, tag);

	r.sgid = gid_of(s);
	r.slid = htobe16((uint16_t)s);
	return r;
}

/* Every pair among these GUIDs; a tag per pair. */
static void all_pairs(struct fabric *f, const uint64_t *guids, size_t n)
{
	f->n = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n; k++)
			if (i != k)
				f->table[f->n++] = pair(guids[i], guids[k], (uint32_t)(i * 16 + k));
}

static void drop_pair(struct fabric *f, uint64_t s, uint64_t d)
{
	union ibv_gid sg = gid_of(s), dg = gid_of(d);

	for (size_t i = 0; i < f->n; i++)
		if (!memcmp(&f->table[i].sgid, &sg, 16) && !memcmp(&f->table[i].dgid, &dg, 16)) {
			f->table[i] = f->table[--f->n];
			return;
		}
}

/* The master SA answers the GetTable (but loses lose_tables first); receivers accept pushes,
 * but fail_lid. */
static void fabric_side(struct mad_script *s, const struct script_sent *m, void *arg)
{
	struct fabric *f = arg;

	if (m->h.method == UMAD_SA_METHOD_GET_TABLE && f->lose_tables) {
		f->lose_tables--;
		script_time_out(s, m);
	} else if (m->h.method == UMAD_SA_METHOD_GET_TABLE) {
		script_answer(s, m, 0, f->table, PR_LEN, f->n);
	} else if (m->dlid == f->fail_lid ||
		   (m->dlid == f->fail_delete_lid && m->h.method == UMAD_SA_METHOD_DELETE)) {
		script_answer(s, m, UMAD_SA_STATUS_REQ_DENIED << 8, NULL, 0, 0);
	} else if (m->dlid == f->hold_set_lid && m->h.method == UMAD_METHOD_SET &&
		   !m->h.attr_mod && f->n_held < 4) {
		f->held[f->n_held++] = *m;	/* answered by script_answer(), from its header */
	} else {
		script_answer(s, m, 0, NULL, 0, 0);
	}
}

static void own_slice(void *arg, const struct ibv_path_record *recs, size_t n)
{
	struct fabric *f = arg;

	f->own = n;
	f->own_calls++;
}

static size_t records_in(const struct script_sent *m)
{
	return m->h.rmpp_paylen ? (m->h.rmpp_paylen - SA_RMPP_CLASS_HDR_LEN) / PR_LEN : 1;
}

/* Pushes to lid since index from: method, attribute modifier (-1: any), and the records
 * the last one carries, counted as the receiving SA door counts them: the RMPP PayLen, or
 * one record in a MAD without RMPP (the rest is padding). */
static size_t pushes(const struct mad_script *s, size_t from, uint16_t lid, uint8_t method,
		     int64_t attr_mod, size_t *records)
{
	size_t n = 0;

	for (size_t i = from; i < s->n_sent; i++) {
		const struct script_sent *m = &s->sent[i];

		if (m->dlid != lid || m->h.method != method ||
		    (attr_mod >= 0 && m->h.attr_mod != (uint32_t)attr_mod))
			continue;
		n++;
		if (records)
			*records = records_in(m);
	}
	return n;
}

/* The last Set to lid with attr_mod (heartbeats, which may come at any time on a loaded
 * machine, are told apart by theirs). */
static const struct script_sent *last_push(const struct mad_script *s, uint16_t lid,
					   uint32_t attr_mod)
{
	for (size_t i = s->n_sent; i-- > 0;)
		if (s->sent[i].dlid == lid && s->sent[i].h.method == UMAD_METHOD_SET &&
		    s->sent[i].h.attr_mod == attr_mod)
			return &s->sent[i];
	return NULL;
}

static bool has_record(const struct script_sent *m, uint64_t s, uint64_t d)
{
	size_t n = records_in(m);
	union ibv_gid sg = gid_of(s), dg = gid_of(d);

	for (size_t i = 0; i < n; i++) {
		const unsigned char *r = m->mad + SA_HDR_LEN + i * PR_LEN;
		struct ibv_path_record rec;

		pr_decode(r, PR_LEN, &rec);
		if (!memcmp(&rec.sgid, &sg, 16) && !memcmp(&rec.dgid, &dg, 16))
			return true;
	}
	return false;
}

/* The records of a Set to destination d. */
static size_t records_to(const struct script_sent *m, uint64_t d)
{
	union ibv_gid dg = gid_of(d);
	size_t n = records_in(m), k = 0;

	for (size_t i = 0; i < n; i++) {
		struct ibv_path_record rec;

		pr_decode(m->mad + SA_HDR_LEN + i * PR_LEN, PR_LEN, &rec);
		k += !memcmp(&rec.dgid, &dg, 16);
	}
	return k;
}

/* A scripted port answering as f says, the master's and the pushes' SA clients, a distributor. */
struct env {
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *master, *push;
	struct distributor *d;
};

static void env_up(struct env *e, struct loop *loop, struct fabric *f,
		   const struct sa_client_opts *mo, struct distributor_opts *o)
{
	struct sa_client_opts po = { .credits = 8, .timeout_ms = 1000, .id = 1 };

	script_init(&e->s);
	e->s.on_send = fabric_side;
	e->s.on_send_arg = f;
	e->port = script_port(&e->s, loop);
	CHECK_INT(0, sa_client_new(loop, e->port, mo, &e->master));
	CHECK_INT(0, sa_client_new(loop, e->port, &po, &e->push));
	o->own_arg = f;
	CHECK_INT(0, distributor_new(loop, e->port, e->master, e->push, o, &e->d));
}

static void env_down(struct env *e)
{
	distributor_free(e->d);
	sa_client_free(e->push);
	sa_client_free(e->master);
	mad_port_close(e->port);
}

static void test_distribution(struct loop *loop)
{
	static const uint64_t guids[] = { 1, 10, 11, 12 };
	const union ibv_gid targets[] = { gid_of(10), gid_of(11) };
	struct sa_client_opts mo = { .credits = 1, .timeout_ms = 1000, .id = 0 };
	struct distributor_opts o = { .sm_key = KEY, .targets = targets, .n_targets = 2,
				      .heartbeat_ms = HEARTBEAT_MS, .change_delay_ms = 1,
				      .own_slice = own_slice };
	const struct script_sent *m;
	struct fabric f = { .n = 0 };
	struct strbuf sb;
	struct json j;
	struct env e;
	size_t mark, recs = 0;

	all_pairs(&f, guids, 4);
	env_up(&e, loop, &f, &mo, &o);

	/* One GetTable for all pairs, then each receiver's whole slice in one Set. */
	SCRIPT_RUN_UNTIL(loop, f.own_calls && pushes(&e.s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL,
						      NULL) &&
			 pushes(&e.s, 0, 11, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	script_run(loop, 10);	/* (nothing more may follow) */
	CHECK_INT(1, script_count(&e.s, 0, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC));
	CHECK(e.s.sent[0].h.comp_mask == 0);
	CHECK_INT(SCRIPT_SM_LID, e.s.sent[0].dlid);
	for (uint16_t lid = 10; lid <= 11; lid++) {
		CHECK_INT(1, pushes(&e.s, 0, lid, UMAD_METHOD_SET, PR_PUSH_FULL, &recs));
		CHECK_INT(3, recs);
	}
	m = last_push(&e.s, 11, PR_PUSH_FULL);
	CHECK(m && m->h.sm_key == KEY);
	CHECK(m && m->h.rmpp_flags & UMAD_RMPP_FLAG_ACTIVE);	/* one message beyond one MAD */
	CHECK_INT(1, f.own_calls);
	CHECK_INT(3, f.own);

	/* A change: 10's path to 11 differs, to 12 is gone, to 13 is new; 11's slice is as it
	 * was. Only the difference travels, to 10 only. */
	for (size_t i = 0; i < f.n; i++)
		if (!memcmp(&f.table[i].sgid, &targets[0], 16) && be16toh(f.table[i].dlid) == 11)
			f.table[i].flowlabel_hoplimit = htobe32(999);
	drop_pair(&f, 10, 12);
	f.table[f.n++] = pair(10, 13, 77);
	mark = e.s.n_sent;
	distributor_changed(e.d, "test");
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 10, UMAD_METHOD_SET, 0, NULL), 5000);
	script_run(loop, 10);
	CHECK_INT(1, pushes(&e.s, mark, 10, UMAD_SA_METHOD_DELETE, -1, NULL));
	m = script_last(&e.s, UMAD_SA_METHOD_DELETE, UMAD_SA_ATTR_PATH_REC);
	CHECK(m && m->h.comp_mask == (PR_CM_SGID | PR_CM_DGID) && has_record(m, 10, 12));
	CHECK_INT(1, pushes(&e.s, mark, 10, UMAD_METHOD_SET, 0, &recs));
	CHECK_INT(2, recs);
	m = last_push(&e.s, 10, 0);
	CHECK(m && has_record(m, 10, 11) && has_record(m, 10, 13));
	CHECK_INT(0, pushes(&e.s, mark, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));
	CHECK_INT(0, pushes(&e.s, mark, 11, UMAD_SA_METHOD_DELETE, -1, NULL) +
			     pushes(&e.s, mark, 11, UMAD_METHOD_SET, 0, NULL) +
			     pushes(&e.s, mark, 11, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));

	/* In sync: a heartbeat each, a Set with no record but a zero one. */
	mark = e.s.n_sent;
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 10, UMAD_METHOD_SET, PR_PUSH_HEARTBEAT, NULL) &&
			 pushes(&e.s, mark, 11, UMAD_METHOD_SET, PR_PUSH_HEARTBEAT, NULL), 5000);
	for (uint16_t lid = 10; lid <= 11; lid++)
		CHECK(pushes(&e.s, mark, lid, UMAD_METHOD_SET, PR_PUSH_HEARTBEAT, &recs) >= 1);

	/* 10 refuses a push: it is out of sync, and gets its whole slice again once it
	 * answers (after a pause: it failed once). */
	f.fail_lid = 10;
	f.table[f.n++] = pair(10, 14, 78);
	mark = e.s.n_sent;
	distributor_changed(e.d, "test");
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 10, UMAD_METHOD_SET, 0, NULL), 5000);
	CHECK_INT(1, pushes(&e.s, mark, 10, UMAD_METHOD_SET, 0, NULL));
	f.fail_lid = 0;
	mark = e.s.n_sent;
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	script_run(loop, 4 * HEARTBEAT_MS);	/* (and no second one) */
	CHECK_INT(1, pushes(&e.s, mark, 10, UMAD_METHOD_SET, PR_PUSH_FULL, &recs));
	CHECK_INT(4, recs);	/* 1, 11, 13, 14 */
	CHECK_INT(0, pushes(&e.s, mark, 11, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	distributor_stats_json(e.d, &j);
	strbuf_append(&sb, "", 1);
	CHECK(!strncmp(sb.buf, "\"distributor\": {\"receivers\": 2, \"in_sync\": 2, "
		       "\"fetches\": 3, \"fetch_failures\": 0, \"records_fetched\": 13, "
		       "\"pushes\": ", 106));
	CHECK(strstr(sb.buf, "\"deletes\": 1, ") != NULL);
	CHECK(strstr(sb.buf, "\"resyncs\": 3, ") != NULL);	/* two at start, one after */
	CHECK(strstr(sb.buf, "\"push_failures\": 1, ") != NULL);
	CHECK(strstr(sb.buf, "\"last_push_latency_ms\": ") != NULL);
	CHECK(strstr(sb.buf, "\"max_push_latency_ms\": ") != NULL);
	CHECK(sb.buf[sb.len - 2] == '}');
	strbuf_free(&sb);

	env_down(&e);
}

static void test_fetch_retry(struct loop *loop)
{
	static const uint64_t guids[] = { 1, 10 };
	const union ibv_gid targets[] = { gid_of(10) };
	struct sa_client_opts mo = { .credits = 1, .timeout_ms = 1000, .retries = 0, .id = 0 };
	struct distributor_opts o = { .sm_key = KEY, .targets = targets, .n_targets = 1,
				      .heartbeat_ms = 10000, .change_delay_ms = 1,
				      .retry_max_ms = 60, .own_slice = own_slice };
	struct fabric f = { .n = 0, .lose_tables = 3 };
	struct mad_script *s;
	uint64_t t0 = 0;
	struct env e;

	all_pairs(&f, guids, 2);
	env_up(&e, loop, &f, &mo, &o);
	s = &e.s;
	/* Three GetTables lost, the fourth answered: then the receiver has its slice. */
	SCRIPT_RUN_UNTIL(loop, pushes(s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	CHECK_INT(4, script_count(s, 0, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC));
	CHECK_INT(1, pushes(s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));
	/* the pauses: capped at 60 ms from the start (1 s otherwise), never shorter */
	for (size_t i = 0, k = 0; i < s->n_sent; i++) {
		if (s->sent[i].h.method != UMAD_SA_METHOD_GET_TABLE)
			continue;
		if (k++)
			CHECK(s->sent[i].at_ms - t0 >= 60 && s->sent[i].at_ms - t0 < 1000);
		t0 = s->sent[i].at_ms;
	}
	env_down(&e);
}

/* A reload's new receiver list: the table again, whole slices to the listed, none to the rest. */
static void test_set_targets(struct loop *loop)
{
	static const uint64_t guids[] = { 1, 10, 11, 12 };
	const union ibv_gid first[] = { gid_of(10) }, next[] = { gid_of(11), gid_of(12) };
	struct sa_client_opts mo = { .credits = 1, .timeout_ms = 1000, .id = 0 };
	struct distributor_opts o = { .sm_key = KEY, .targets = first, .n_targets = 1,
				      .heartbeat_ms = 10000, .change_delay_ms = 1,
				      .own_slice = own_slice };
	struct fabric f = { .n = 0 };
	size_t mark, recs = 0;
	struct env e;

	all_pairs(&f, guids, 4);
	env_up(&e, loop, &f, &mo, &o);
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	CHECK_INT(1, pushes(&e.s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));

	mark = e.s.n_sent;
	CHECK_INT(0, distributor_set_targets(e.d, false, next, 2));
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 11, UMAD_METHOD_SET, PR_PUSH_FULL, NULL) &&
			 pushes(&e.s, mark, 12, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	script_run(loop, 10);
	CHECK_INT(1, script_count(&e.s, mark, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC));
	for (uint16_t lid = 11; lid <= 12; lid++) {
		CHECK_INT(1, pushes(&e.s, mark, lid, UMAD_METHOD_SET, PR_PUSH_FULL, &recs));
		CHECK_INT(3, recs);
	}
	CHECK_INT(0, pushes(&e.s, mark, 10, UMAD_METHOD_SET, -1, NULL) +
			     pushes(&e.s, mark, 10, UMAD_SA_METHOD_DELETE, -1, NULL));

	/* all: every port of the table but this one, each its whole slice again */
	mark = e.s.n_sent;
	CHECK_INT(0, distributor_set_targets(e.d, true, NULL, 0));
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL) &&
			 pushes(&e.s, mark, 11, UMAD_METHOD_SET, PR_PUSH_FULL, NULL) &&
			 pushes(&e.s, mark, 12, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	for (uint16_t lid = 10; lid <= 12; lid++)
		CHECK_INT(1, pushes(&e.s, mark, lid, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));
	CHECK_INT(0, pushes(&e.s, mark, 1, UMAD_METHOD_SET, -1, NULL));
	env_down(&e);
}

/*
 * A difference larger than max_records_per_push is cut between destinations: a Set replaces
 * the receiver's paths to each DGID it names, so a destination (two paths to 12 here, as with
 * LMC > 0) split across two Sets kept only its second part.
 */
static void test_split_between_destinations(struct loop *loop)
{
	static const uint64_t guids[] = { 1, 10, 11, 12, 13 };
	const union ibv_gid targets[] = { gid_of(10) };
	struct sa_client_opts mo = { .credits = 1, .timeout_ms = 1000, .id = 0 };
	struct distributor_opts o = { .sm_key = KEY, .targets = targets, .n_targets = 1,
				      .heartbeat_ms = 10000, .change_delay_ms = 1,
				      .max_records_per_push = 3, .own_slice = own_slice };
	struct fabric f = { .n = 0 };
	size_t mark, sets = 0, total = 0;
	struct env e;

	all_pairs(&f, guids, 5);
	f.table[f.n] = pair(10, 12, 200);
	f.table[f.n++].dlid = htobe16(112);	/* a second path to 12 */
	env_up(&e, loop, &f, &mo, &o);
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	for (size_t i = 0; i < f.n; i++)	/* every path of 10 changes: 5 records */
		if (!memcmp(&f.table[i].sgid, &targets[0], 16))
			f.table[i].flowlabel_hoplimit = htobe32(1000 + (uint32_t)i);
	mark = e.s.n_sent;
	distributor_changed(e.d, "test");
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, mark, 10, UMAD_METHOD_SET, 0, NULL) >= 2, 5000);
	script_run(loop, 10);
	for (size_t i = mark; i < e.s.n_sent; i++) {
		const struct script_sent *m = &e.s.sent[i];
		size_t to12;

		if (m->dlid != 10 || m->h.method != UMAD_METHOD_SET || m->h.attr_mod)
			continue;
		sets++;
		total += records_in(m);
		to12 = records_to(m, 12);
		CHECK(to12 == 0 || to12 == 2);
		CHECK(records_in(m) <= 3);
	}
	CHECK_INT(2, sets);
	CHECK_INT(5, total);
	env_down(&e);
}

/*
 * A push that fails puts its receiver out of sync at once: a fetch that completes before the
 * receiver's other pushes of that generation come back sends its whole slice, not a difference
 * from a slice it never got whole (the refused Delete was never sent again).
 */
static void test_failed_push_then_fetch(struct loop *loop)
{
	static const uint64_t guids[] = { 1, 10, 11, 12 };
	const union ibv_gid targets[] = { gid_of(10) };
	struct sa_client_opts mo = { .credits = 1, .timeout_ms = 1000, .id = 0 };
	struct distributor_opts o = { .sm_key = KEY, .targets = targets, .n_targets = 1,
				      .heartbeat_ms = 10000, .change_delay_ms = 1,
				      .own_slice = own_slice };
	struct fabric f = { .n = 0 };
	size_t mark;
	struct env e;

	all_pairs(&f, guids, 4);
	env_up(&e, loop, &f, &mo, &o);
	SCRIPT_RUN_UNTIL(loop, pushes(&e.s, 0, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL), 5000);
	/* generation 2: 10 -> 11 changes (a Set, held), 10 -> 12 goes (a Delete, refused) */
	for (size_t i = 0; i < f.n; i++)
		if (!memcmp(&f.table[i].sgid, &targets[0], 16) && be16toh(f.table[i].dlid) == 11)
			f.table[i].flowlabel_hoplimit = htobe32(999);
	drop_pair(&f, 10, 12);
	f.fail_delete_lid = 10;
	f.hold_set_lid = 10;
	mark = e.s.n_sent;
	distributor_changed(e.d, "test");
	SCRIPT_RUN_UNTIL(loop, f.n_held == 1 &&
			 pushes(&e.s, mark, 10, UMAD_SA_METHOD_DELETE, -1, NULL), 5000);
	script_run(loop, 10);
	/* generation 3 is fetched before the held Set comes back */
	f.fail_delete_lid = 0;
	f.hold_set_lid = 0;
	f.table[f.n++] = pair(10, 11, 555);	/* (any change) */
	mark = e.s.n_sent;
	distributor_changed(e.d, "test");
	SCRIPT_RUN_UNTIL(loop, script_count(&e.s, mark, UMAD_SA_METHOD_GET_TABLE,
					    UMAD_SA_ATTR_PATH_REC) &&
			 pushes(&e.s, mark, 10, UMAD_METHOD_SET, -1, NULL), 5000);
	script_answer(&e.s, &f.held[0], 0, NULL, 0, 0);
	script_run(loop, 20);
	CHECK_INT(1, pushes(&e.s, mark, 10, UMAD_METHOD_SET, PR_PUSH_FULL, NULL));
	env_down(&e);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_distribution(loop);
	test_fetch_retry(loop);
	test_set_targets(loop);
	test_split_between_destinations(loop);
	test_failed_push_then_fetch(loop);
	loop_free(loop);
	return CHECK_DONE();
}
