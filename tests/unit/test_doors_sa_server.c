/*
 * test_doors_sa_server.c - the SA door's part of the LMC rule, over a scripted port: with
 * LMC 0 a GetTable for one destination is answered from the cache (one RMPP message, PayLen
 * exact); with LMC > 0 the cache holds one path per port pair where the SA has several, so
 * that GetTable is relayed to the master SA and its answer goes back under the requester's
 * TID, while a Get is still answered from the cache. Requests reach the door through the
 * port's dispatcher. Writes (Set PathRecord) are taken only from the sources push_from lists:
 * with the right SM_Key from another LID, REQ_DENIED and counted.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/loop.h"
#include "check.h"
#include "doors/sa_server.h"
#include "base/strbuf.h"
#include "fabric/mad_port.h"
#include "fabric/push_acl.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

enum { CLIENT_LID = 9 };

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

static void test_lmc(struct loop *loop)
{
	for (uint8_t lmc = 0; lmc <= 2; lmc += 2) {
		struct ibv_path_record rec = rec_of(4, 4, 0, 5), two[2] = { rec_of(4, 4, 0, 6),
									    rec_of(4, 5, 0, 7) };
		struct sa_client_opts so = { .credits = 2, .timeout_ms = 1000 };
		struct resolver_opts ro = { 1000, 0, 1000, 1000 };
		struct sa_server_opts o = { .relay = true };
		const struct script_sent *a, *q;
		struct mad_script s;
		struct mad_port *port;
		struct sa_client *sa;
		struct resolver *res;
		struct sa_server *door, *second = NULL;
		size_t mark;

		script_init(&s);
		s.attr.lmc = lmc;
		port = script_port(&s, loop);
		CHECK_INT(0, sa_client_new(loop, port, &so, &sa));
		CHECK_INT(0, resolver_new(loop, port, sa, &ro, &res));
		CHECK_INT(0, resolver_load_table(res, &rec, 1));
		CHECK_INT(0, sa_server_new(loop, port, res, sa, &o, &door));
		/* one owner of the port's requests */
		CHECK_INT(-EEXIST, sa_server_new(loop, port, res, sa, &o, &second));

		ask(&s, UMAD_SA_METHOD_GET_TABLE, 4, 0x55);
		script_run(loop, 5);
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
		resolver_free(res);
		mad_port_close(port);
	}
}

/* A Set of one path with this SM_Key, from slid. */
static void set_from(struct mad_script *s, uint16_t slid, uint64_t key, uint32_t tid)
{
	unsigned char mad[MAD_LEN] = { 0 };
	struct ibv_path_record r = rec_of(6, 6, 0, 1);
	struct sa_hdr h;

	sa_hdr_init_request(&h, UMAD_METHOD_SET, UMAD_SA_ATTR_PATH_REC, tid, 0);
	h.attr_offset = PR_LEN / 8;
	h.sm_key = key;
	sa_hdr_encode(mad, &h);
	pr_encode(mad + SA_HDR_LEN, &r);
	script_deliver(s, mad, sizeof(mad), 0, slid);
}

/* The status of the door's answer to slid since mark; -1 without one. */
static int status_to(const struct mad_script *s, size_t mark, uint16_t slid)
{
	for (size_t i = mark; i < s->n_sent; i++)
		if (s->sent[i].dlid == slid)
			return s->sent[i].h.status;
	return -1;
}

static void test_push_from(struct loop *loop)
{
	struct sa_client_opts so = { .credits = 2, .timeout_ms = 1000 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000 };
	struct sa_server_opts o = { .writes_allowed = true, .sm_key = 0x77 };
	struct ibv_path_record pusher = rec_of(5, 12, 0, 1);	/* GID ::5 is at LID 12 */
	uint16_t denied = UMAD_SA_STATUS_REQ_DENIED << 8;
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
	struct push_acl *acl;
	struct sa_server *door;
	struct strbuf sb;
	char msg[128];
	size_t mark;

	script_init(&s);
	port = script_port(&s, loop);
	CHECK_INT(0, sa_client_new(loop, port, &so, &sa));
	CHECK_INT(0, resolver_new(loop, port, sa, &ro, &res));
	CHECK_INT(0, resolver_load_table(res, &pusher, 1));
	CHECK_INT(-EINVAL, push_acl_new(loop, port, sa, res, "sm,nobody", "none", &acl, msg,
					sizeof(msg)));
	CHECK_INT(-EINVAL, push_acl_check("sm,distributor", "host7", msg, sizeof(msg)));
	CHECK_INT(0, push_acl_new(loop, port, sa, res, "sm,distributor,40", "fe80::5", &acl, msg,
				  sizeof(msg)));
	o.push_from = acl;
	CHECK_INT(0, sa_server_new(loop, port, res, sa, &o, &door));
	/* The right key from a LID not listed: refused, counted. */
	mark = s.n_sent;
	set_from(&s, CLIENT_LID, 0x77, 0x60);
	script_run(loop, 5);
	CHECK_INT(denied, status_to(&s, mark, CLIENT_LID));
	/* The SM, the distributor (its GID, at the LID the cache's path to it says) and LID 40:
	 * accepted with the key; the distributor with a wrong key: refused. */
	mark = s.n_sent;
	set_from(&s, SCRIPT_SM_LID, 0x77, 0x61);
	set_from(&s, 12, 0x77, 0x62);
	set_from(&s, 40, 0x77, 0x63);
	script_run(loop, 5);
	CHECK_INT(0, status_to(&s, mark, SCRIPT_SM_LID));
	CHECK_INT(0, status_to(&s, mark, 12));
	CHECK_INT(0, status_to(&s, mark, 40));
	mark = s.n_sent;
	set_from(&s, 12, 0x78, 0x64);
	script_run(loop, 5);
	CHECK_INT(denied, status_to(&s, mark, 12));
	strbuf_init(&sb, 0);
	sa_server_stats_json(door, &sb);
	strbuf_append(&sb, "", 1);
	CHECK(strstr(sb.buf, "\"denied\": 1, ") != NULL);
	CHECK(strstr(sb.buf, "\"denied_source\": 1}") != NULL);
	strbuf_free(&sb);
	sa_client_free(sa);
	sa_server_free(door);
	push_acl_free(acl);
	resolver_free(res);
	mad_port_close(port);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	test_lmc(loop);
	test_push_from(loop);
	loop_free(loop);
	return CHECK_DONE();
}
