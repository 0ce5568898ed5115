/*
 * test_doors_sa_server.c - the SA door over a scripted port (tests/unit/mad_script.h): requests
 * reach it through the port's dispatcher, and every MAD it sends (answers, relays) is read back
 * from the script as the kernel would take it.
 *  - On the lookup-service seam with a scripted backend: Get and GetTable from the cache, a Get
 *    answered later, a foreign SGID relayed to the master SA, Set and Delete only with the
 *    SM_Key, and the per-source-LID quota of new tuples (issue 13, item 6): one LID asking for
 *    new ServiceIDs without end gets NO_RESOURCES, another LID does not.
 *  - Writes only from the sources push_from lists (issue 13, SA-door writes): the right SM_Key
 *    from another LID is REQ_DENIED and counted (denied_source), the SM, the distributor (its
 *    GID, at the LID the cache knows for it) and a listed LID write; a listed source with a
 *    wrong key is refused as before.
 *  - The door's part of the LMC rule, with the real resolver: with LMC 0 a GetTable for one
 *    destination is answered from the cache (one RMPP message, PayLen exact); with LMC > 0 the
 *    cache holds one path per port pair where the SA has several, so that GetTable is relayed
 *    and its answer goes back under the requester's TID, while a Get is still answered from the
 *    cache. One owner of the port's SA requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "doors/sa_server.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/port_set.h"
#include "fabric/push_acl.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "svc_fixture.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { KEY = 0x1234, CLIENT_LID = 9 };

/* --- the door on the seam, with a scripted backend --------------------------------------- */

static struct mad_script script;
static struct loop *loop;
static size_t next_sent;	/* the first MAD of the script's not yet read by sent() */

/* A PathRecord request from slid: method, comp_mask, the record. */
static void request(uint16_t slid, uint8_t method, uint64_t mask, const struct ibv_path_record *q,
		    uint64_t sm_key, uint64_t tid)
{
	unsigned char mad[MAD_LEN];
	struct sa_hdr h;

	memset(mad, 0, sizeof(mad));
	sa_hdr_init_request(&h, method, UMAD_SA_ATTR_PATH_REC, tid, mask);
	h.sm_key = sm_key;
	h.attr_offset = PR_LEN / 8;
	sa_hdr_encode(mad, &h);
	pr_encode(mad + SA_HDR_LEN, q);
	script_deliver(&script, mad, sizeof(mad), 0, slid);
	script_run(loop, 2);
}

/* The next MAD the port sent: its header, and its first record (if any) in *rec. */
static bool sent(struct sa_hdr *h, struct ibv_path_record *rec, size_t *nrec)
{
	const struct script_sent *m;
	size_t rl = PR_LEN;

	if (next_sent >= script.n_sent)
		return false;
	m = &script.sent[next_sent++];
	CHECK_INT(0, sa_hdr_decode(m->mad, m->len, h));
	*nrec = m->len > SA_HDR_LEN ? (m->len - SA_HDR_LEN) / PR_LEN : 0;
	if (h->method == UMAD_SA_METHOD_GET_TABLE_RESP)
		CHECK_INT(0, sa_table_count(h, m->len, &rl, nrec));
	if (rec && *nrec)
		pr_decode(m->mad + SA_HDR_LEN, PR_LEN, rec);
	return true;
}

static struct ibv_path_record query(uint64_t dguid, uint64_t sguid)
{
	struct ibv_path_record q;

	memset(&q, 0, sizeof(q));
	q.sgid = gid_of(sguid);
	if (dguid)
		q.dgid = gid_of(dguid);
	return q;
}

static uint64_t entries(struct fake_backend *f)
{
	struct pr_cache_stats st;

	pr_store_stats(f->store, &st);
	return st.entries;
}

/* The door over a scripted port and a fake backend holding recs[0..n). */
struct door {
	struct fake_backend f;
	struct mad_port *port;
	struct sa_client *sa;
	struct sa_server *s;
};

static void door_up(struct door *d, const struct ibv_path_record *recs, size_t n,
		    const struct sa_server_opts *so)
{
	struct sa_client_opts co = { 2, 1000, 0, 100, 0, 0 };

	script_init(&script);
	next_sent = 0;
	d->port = script_port(&script, loop);
	fake_init(&d->f, 0, recs, n);
	CHECK_INT(0, sa_client_new(loop, d->port, &co, &d->sa));
	CHECK_INT(0, sa_server_new(loop, d->port, d->f.svc, d->sa, so, &d->s));
}

static void door_down(struct door *d)
{
	sa_client_free(d->sa);
	sa_server_free(d->s);
	fake_fini(&d->f);
	mad_port_close(d->port);
}

static void test_on_the_seam(void)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct ibv_path_record later = rec_of(9, 9, 0, 3), q, rec, setrec = rec_of(7, 7, 0, 4);
	struct sa_server_opts so = { .writes_allowed = true, .sm_key = KEY, .relay = true,
				     .new_tuples = 4, .new_tuples_per_s = 1 };
	struct door d;
	struct fake_backend *f = &d.f;
	struct sa_hdr h;
	size_t n;
	int refused = 0;

	door_up(&d, recs, 2, &so);

	/* Get from the cache: answered at once */
	q = query(2, 1);
	request(10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 1);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_METHOD_GET_RESP, h.method);
	CHECK_INT(0, h.status);
	CHECK_INT(1, h.tid);
	CHECK_INT(2, pr_dlid(&rec));
	/* a miss: answered when the backend answers */
	q = query(9, 1);
	request(10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 2);
	CHECK(!sent(&h, &rec, &n));
	CHECK(fake_answer(f, 0, 0, &later, 1));
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(2, h.tid);
	CHECK_INT(9, pr_dlid(&rec));
	/* GetTable with the SGID alone: the whole table in the SA's order */
	q = query(0, 1);
	request(10, UMAD_SA_METHOD_GET_TABLE, PR_CM_SGID, &q, 0, 3);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_SA_METHOD_GET_TABLE_RESP, h.method);
	CHECK_INT(2, n);
	CHECK_INT(2, pr_dlid(&rec));
	/* a foreign SGID: not the cache's to answer; the master SA gets the query */
	f->resolves = 0;
	q = query(2, 44);
	request(10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 4);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_METHOD_GET, h.method);	/* the relay's own query, not an answer */
	CHECK_INT(0, f->resolves);

	/* Set: refused without the key, stored with it (the backend keeps no answers: 2 paths) */
	request(10, UMAD_METHOD_SET, 0, &setrec, 0x9999, 5);
	CHECK(sent(&h, &rec, &n) && h.status == UMAD_SA_STATUS_REQ_DENIED << 8);
	CHECK_INT(2, entries(f));
	request(10, UMAD_METHOD_SET, 0, &setrec, KEY, 6);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(0, h.status);
	CHECK_INT(1, h.attr_mod);
	CHECK_INT(3, entries(f));
	/* Delete: by DGID with the key; without a mask it would flush: refused */
	q = query(7, 1);
	request(10, UMAD_SA_METHOD_DELETE, PR_CM_DGID, &q, KEY, 7);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(1, h.attr_mod);
	CHECK_INT(2, entries(f));
	request(10, UMAD_SA_METHOD_DELETE, 0, &q, KEY, 8);
	CHECK(sent(&h, &rec, &n) && h.status == UMAD_SA_STATUS_INSUF_COMPS << 8);

	/* Item 6: LID 10 asks for 8 new ServiceIDs: 4 reach the backend, 4 are NO_RESOURCES */
	for (uint64_t sid = 1; sid <= 8; sid++) {
		q = query(2, 1);
		pr_set_service_id(&q, sid);
		request(10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID | PR_CM_SERVICE_ID, &q, 0,
			100 + sid);
		if (sent(&h, &rec, &n))
			refused += h.status == UMAD_SA_STATUS_NO_RESOURCES << 8;
		else
			fake_answer(f, 0, 0, recs, 1);
		while (sent(&h, &rec, &n))
			;
	}
	CHECK_INT(4, refused);
	/* LID 11 still gets a new one */
	q = query(2, 1);
	pr_set_service_id(&q, 99);
	request(11, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID | PR_CM_SERVICE_ID, &q, 0, 200);
	CHECK(!sent(&h, &rec, &n));
	CHECK(fake_answer(f, 0, 0, recs, 1));
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(0, h.status);

	door_down(&d);
}

/*
 * Requests waiting for the SA are bounded per source LID (max_pending / 16) and in all, and a
 * cache hit needs no slot: once one LID's misses filled max_pending, every other node's Get
 * was answered BUSY, cached paths included.
 */
static void test_pending_shares(void)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) }, q, rec;
	struct sa_server_opts so = { .relay = true, .max_pending = 32, .new_tuples = 64 };
	struct door d;
	struct sa_hdr h;
	unsigned busy = 0;
	size_t n;

	door_up(&d, recs, 1, &so);

	/* LID 50: 3 misses, 2 wait (its share of 32), the third is BUSY */
	for (uint64_t g = 100; g < 103; g++) {
		q = query(g, 1);
		request(50, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, g);
	}
	while (sent(&h, &rec, &n))
		busy += h.status == UMAD_STATUS_BUSY;
	CHECK_INT(1, busy);
	CHECK_INT(2, d.f.n_pending);
	/* 15 more LIDs fill the door (32 waiting) */
	for (uint16_t lid = 51; lid < 66; lid++)
		for (uint64_t g = 0; g < 2; g++) {
			q = query(200 + lid * 2 + g, 1);
			request(lid, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, lid * 2 + g);
		}
	CHECK(!sent(&h, &rec, &n));	/* nothing answered yet: all 30 wait */
	CHECK_INT(32, d.f.n_pending);
	/* LID 70: its cache hit is answered; its miss is BUSY */
	q = query(2, 1);
	request(70, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 7000);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(0, h.status);
	CHECK_INT(7000, h.tid);
	CHECK_INT(2, pr_dlid(&rec));
	q = query(999, 1);
	request(70, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 7001);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_STATUS_BUSY, h.status);

	door_down(&d);
}

/* --- who may write ------------------------------------------------------------------------ */

static void test_push_from(void)
{
	struct ibv_path_record pusher = rec_of(5, 12, 0, 1), setrec = rec_of(7, 7, 0, 4);
	struct sa_server_opts so = { .writes_allowed = true, .sm_key = KEY };
	struct sa_client_opts co = { 2, 1000, 0, 100, 0, 0 };
	uint16_t denied = UMAD_SA_STATUS_REQ_DENIED << 8;
	struct fake_backend f;
	struct mad_port *port;
	struct sa_client *sa;
	struct sa_server *s;
	struct push_acl *acl;
	struct strbuf sb;
	struct json j;
	struct sa_hdr h;
	char msg[128];
	size_t n;

	script_init(&script);
	next_sent = 0;
	port = script_port(&script, loop);
	fake_init(&f, 0, &pusher, 1);	/* the cache knows GID ::5 at LID 12 */
	CHECK_INT(0, sa_client_new(loop, port, &co, &sa));
	CHECK_INT(-EINVAL, push_acl_new(loop, port, sa, f.store, "sm,nobody", "none", &acl, msg,
					sizeof(msg)));
	CHECK_INT(0, push_acl_new(loop, port, sa, f.store, "sm,distributor,40", "fe80::5", &acl,
				  msg, sizeof(msg)));
	so.push_from = acl;
	CHECK_INT(0, sa_server_new(loop, port, f.svc, sa, &so, &s));
	/* The right key from a LID not listed: refused, counted, nothing stored. */
	request(CLIENT_LID, UMAD_METHOD_SET, 0, &setrec, KEY, 1);
	CHECK(sent(&h, NULL, &n) && h.status == denied);
	CHECK_INT(1, entries(&f));
	/* The SM, the distributor and LID 40, with the key: stored. */
	request(SCRIPT_SM_LID, UMAD_METHOD_SET, 0, &setrec, KEY, 2);
	CHECK(sent(&h, NULL, &n) && !h.status);
	request(12, UMAD_METHOD_SET, 0, &setrec, KEY, 3);
	CHECK(sent(&h, NULL, &n) && !h.status);
	request(40, UMAD_METHOD_SET, 0, &setrec, KEY, 4);
	CHECK(sent(&h, NULL, &n) && !h.status);
	CHECK_INT(2, entries(&f));
	/* A listed source with a wrong key: refused as ever. */
	request(12, UMAD_METHOD_SET, 0, &setrec, 0x9999, 5);
	CHECK(sent(&h, NULL, &n) && h.status == denied);
	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	sa_server_stats_json(s, &j);
	strbuf_append(&sb, "", 1);
	CHECK(strstr(sb.buf, "\"denied\": 1, ") != NULL);
	CHECK(strstr(sb.buf, "\"denied_source\": 1}") != NULL);
	strbuf_free(&sb);
	sa_client_free(sa);
	sa_server_free(s);
	push_acl_free(acl);
	fake_fini(&f);
	mad_port_close(port);
}

/* --- the LMC rule, with the real resolver ------------------------------------------------ */

/* A PathRecord query to the door from CLIENT_LID: SGID (this port) and DGID. */
static void ask(struct mad_script *s, uint8_t method, uint64_t guid, uint32_t tid)
{
	unsigned char mad[MAD_LEN] = { 0 };
	struct ibv_path_record q;
	union ibv_gid sg = gid_of(1), dg = gid_of(guid);
	struct sa_hdr h;

	memset(&q, 0, sizeof(q));
	pr_set_sgid(&q, &sg);
	pr_set_dgid(&q, &dg);
	sa_hdr_init_request(&h, method, UMAD_SA_ATTR_PATH_REC, tid, PR_CM_SGID | PR_CM_DGID);
	h.attr_offset = PR_LEN / 8;
	sa_hdr_encode(mad, &h);
	pr_encode(mad + SA_HDR_LEN, &q);
	script_deliver(s, mad, sizeof(mad), 0, CLIENT_LID);
}

/* The answers the door sent back to the client since index from. */
static const struct script_sent *answer_to_client(const struct mad_script *s, size_t from)
{
	for (size_t i = from; i < s->n_sent; i++)
		if (s->sent[i].dlid == CLIENT_LID)
			return &s->sent[i];
	return NULL;
}

static void test_lmc(void)
{
	for (uint8_t lmc = 0; lmc <= 2; lmc += 2) {
		struct ibv_path_record rec = rec_of(4, 4, 0, 5), two[2] = { rec_of(4, 4, 0, 6),
									    rec_of(4, 5, 0, 7) };
		struct sa_client_opts so = { .credits = 2, .timeout_ms = 1000 };
		struct resolver_opts ro = { 1000, 0, 1000, 1000, NULL };
		struct sa_server_opts o = { .relay = true };
		const struct script_sent *a, *q;
		struct mad_script s;
		struct mad_port *port;
		struct sa_client *sa;
		struct resolver *res;
		struct sa_server *door, *second = NULL;
		struct path_service *svc;
		struct port_set *ps;
		size_t mark;

		script_init(&s);
		s.attr.lmc = lmc;
		port = script_port(&s, loop);
		CHECK_INT(0, sa_client_new(loop, port, &so, &sa));
		CHECK_INT(0, resolver_new(loop, port, sa, &ro, &res));
		CHECK_INT(0, resolver_load_table(res, &rec, 1));
		CHECK_INT(0, port_set_new(resolver_store(res), &ps));
		CHECK_INT(0, port_set_serve(ps, res, sa));
		svc = port_set_service(ps);
		CHECK_INT(0, sa_server_new(loop, port, svc, sa, &o, &door));
		/* one owner of the port's requests */
		CHECK_INT(-EEXIST, sa_server_new(loop, port, svc, sa, &o, &second));

		ask(&s, UMAD_SA_METHOD_GET_TABLE, 4, 0x55);
		SCRIPT_RUN_UNTIL(loop, s.n_sent >= 1, 1000);
		if (!lmc) {
			/* The cache's answer: the table of that one destination. */
			CHECK_INT(1, s.n_sent);
			a = answer_to_client(&s, 0);
			CHECK(a != NULL);
			if (a) {
				CHECK_INT(UMAD_SA_METHOD_GET_TABLE_RESP, a->h.method);
				CHECK_INT(0x55, (uint32_t)a->h.tid);
				CHECK(a->h.rmpp_flags & UMAD_RMPP_FLAG_ACTIVE);
				CHECK_INT(SA_RMPP_CLASS_HDR_LEN + PR_LEN, a->h.rmpp_paylen);
				CHECK_MEM(&rec, a->mad + SA_HDR_LEN, PR_LEN);
			}
		} else {
			/* Relayed as it came; the SA's answer goes back under the client's TID. */
			CHECK_INT(1, s.n_sent);
			q = &s.sent[0];
			CHECK_INT(SCRIPT_SM_LID, q->dlid);
			CHECK_INT(UMAD_SA_METHOD_GET_TABLE, q->h.method);
			CHECK(q->h.comp_mask == (PR_CM_SGID | PR_CM_DGID));
			script_answer(&s, q, 0, two, PR_LEN, 2);
			script_run(loop, 5);
			a = answer_to_client(&s, 1);
			CHECK(a != NULL);
			if (a) {
				CHECK_INT(UMAD_SA_METHOD_GET_TABLE_RESP, a->h.method);
				CHECK_INT(0x55, (uint32_t)a->h.tid);
				CHECK_INT(SA_RMPP_CLASS_HDR_LEN + 2 * PR_LEN, a->h.rmpp_paylen);
				CHECK_MEM(two, a->mad + SA_HDR_LEN, 2 * PR_LEN);
			}
		}
		/* A Get wants one path: the cache's, whatever the LMC. */
		mark = s.n_sent;
		ask(&s, UMAD_METHOD_GET, 4, 0x56);
		script_run(loop, 5);
		CHECK_INT(mark + 1, s.n_sent);
		a = answer_to_client(&s, mark);
		CHECK(a && a->h.method == UMAD_METHOD_GET_RESP && (uint32_t)a->h.tid == 0x56);
		CHECK(a && !memcmp(&rec, a->mad + SA_HDR_LEN, PR_LEN));

		sa_client_free(sa);
		sa_server_free(door);
		port_set_free(ps);
		resolver_free(res);
		mad_port_close(port);
	}
}

int main(void)
{
	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_pending_shares();
	test_on_the_seam();
	test_push_from();
	test_lmc();
	loop_free(loop);
	return CHECK_DONE();
}
