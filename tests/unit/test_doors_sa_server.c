/*
 * test_doors_sa_server.c - the SA door on the lookup-service seam, with a scripted backend and
 * a port whose descriptor is one end of a socketpair: every MAD the door sends (answers,
 * relays) is read back from the other end, as the kernel would take it. Get and GetTable from
 * the cache, a Get answered later, a foreign SGID relayed to the master SA, Set and Delete
 * only with the SM_Key, and the per-source-LID quota of new tuples (issue 13, item 6): one LID
 * asking for new ServiceIDs without end gets NO_RESOURCES, another LID does not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <infiniband/umad.h>
#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/loop.h"
#include "check.h"
#include "doors/sa_server.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "svc_fixture.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { KEY = 0x1234 };

static int peer;	/* the fabric's end of the port */

/* A PathRecord request from slid: method, comp_mask, the record. */
static void request(struct sa_server *s, uint16_t slid, uint8_t method, uint64_t mask,
		    const struct ibv_path_record *q, uint64_t sm_key, uint64_t tid)
{
	unsigned char mad[MAD_LEN];
	struct umad_msg msg = { .mad = mad, .len = MAD_LEN, .slid = slid, .sqpn = 1 };
	struct sa_hdr h;

	memset(mad, 0, sizeof(mad));
	sa_hdr_init_request(&h, method, UMAD_SA_ATTR_PATH_REC, tid, mask);
	h.sm_key = sm_key;
	h.attr_offset = PR_LEN / 8;
	sa_hdr_encode(mad, &h);
	pr_encode(mad + SA_HDR_LEN, q);
	CHECK_INT(1, sa_server_handle(s, &msg));
}

/* The next MAD the port sent: its header, and its first record (if any) in *rec. */
static bool sent(struct sa_hdr *h, struct ibv_path_record *rec, size_t *nrec)
{
	static unsigned char buf[1 << 16];
	ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
	size_t len, rl = PR_LEN;

	if (n < (ssize_t)umad_size() + SA_HDR_LEN)
		return false;
	len = (size_t)n - umad_size();
	CHECK_INT(0, sa_hdr_decode(buf + umad_size(), len, h));
	*nrec = len > SA_HDR_LEN ? (len - SA_HDR_LEN) / PR_LEN : 0;
	if (h->method == UMAD_SA_METHOD_GET_TABLE_RESP)
		CHECK_INT(0, sa_table_count(h, len, &rl, nrec));
	if (rec && *nrec)
		pr_decode(buf + umad_size() + SA_HDR_LEN, PR_LEN, rec);
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

int main(void)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct ibv_path_record later = rec_of(9, 9, 0, 3), q, rec, setrec = rec_of(7, 7, 0, 4);
	struct sa_server_opts so = { .writes_allowed = true, .sm_key = KEY, .relay = true,
				     .new_tuples = 4, .new_tuples_per_s = 1 };
	struct sa_client_opts co = { 2, 1000, 0, 100, 0, 0 };
	struct fake_backend f;
	struct mad_port port;
	struct sa_client *sa;
	struct sa_server *s;
	struct loop *loop;
	struct sa_hdr h;
	size_t n;
	int sv[2], refused = 0;

	if (loop_new(&loop) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	peer = sv[1];
	memset(&port, 0, sizeof(port));
	port.fd = sv[0];
	port.sa_agent = 3;
	port.smp_agent = -1;
	port.lid = 1;
	port.sm_lid = 2;
	port.gid = gid_of(1);
	fake_init(&f, 0, recs, 2);
	CHECK_INT(0, sa_client_new(loop, &port, &co, &sa));
	CHECK_INT(0, sa_server_new(loop, &port, f.svc, sa, &so, &s));

	/* Get from the cache: answered at once */
	q = query(2, 1);
	request(s, 10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 1);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_METHOD_GET_RESP, h.method);
	CHECK_INT(0, h.status);
	CHECK_INT(1, h.tid);
	CHECK_INT(2, pr_dlid(&rec));
	/* a miss: answered when the backend answers */
	q = query(9, 1);
	request(s, 10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 2);
	CHECK(!sent(&h, &rec, &n));
	CHECK(fake_answer(&f, 0, 0, &later, 1));
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(2, h.tid);
	CHECK_INT(9, pr_dlid(&rec));
	/* GetTable with the SGID alone: the whole table in the SA's order */
	q = query(0, 1);
	request(s, 10, UMAD_SA_METHOD_GET_TABLE, PR_CM_SGID, &q, 0, 3);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_SA_METHOD_GET_TABLE_RESP, h.method);
	CHECK_INT(2, n);
	CHECK_INT(2, pr_dlid(&rec));
	/* a foreign SGID: not the cache's to answer; the master SA gets the query */
	f.resolves = 0;
	q = query(2, 44);
	request(s, 10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, &q, 0, 4);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(UMAD_METHOD_GET, h.method);	/* the relay's own query, not an answer */
	CHECK_INT(0, f.resolves);

	/* Set: refused without the key, stored with it (the backend keeps no answers: 2 paths) */
	request(s, 10, UMAD_METHOD_SET, 0, &setrec, 0x9999, 5);
	CHECK(sent(&h, &rec, &n) && h.status == UMAD_SA_STATUS_REQ_DENIED << 8);
	CHECK_INT(2, entries(&f));
	request(s, 10, UMAD_METHOD_SET, 0, &setrec, KEY, 6);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(0, h.status);
	CHECK_INT(1, h.attr_mod);
	CHECK_INT(3, entries(&f));
	/* Delete: by DGID with the key; without a mask it would flush: refused */
	q = query(7, 1);
	request(s, 10, UMAD_SA_METHOD_DELETE, PR_CM_DGID, &q, KEY, 7);
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(1, h.attr_mod);
	CHECK_INT(2, entries(&f));
	request(s, 10, UMAD_SA_METHOD_DELETE, 0, &q, KEY, 8);
	CHECK(sent(&h, &rec, &n) && h.status == UMAD_SA_STATUS_INSUF_COMPS << 8);

	/* Item 6: LID 10 asks for 8 new ServiceIDs: 4 reach the backend, 4 are NO_RESOURCES */
	for (uint64_t sid = 1; sid <= 8; sid++) {
		q = query(2, 1);
		pr_set_service_id(&q, sid);
		request(s, 10, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID | PR_CM_SERVICE_ID, &q, 0,
			100 + sid);
		if (sent(&h, &rec, &n))
			refused += h.status == UMAD_SA_STATUS_NO_RESOURCES << 8;
		else
			fake_answer(&f, 0, 0, recs, 1);
		while (sent(&h, &rec, &n))
			;
	}
	CHECK_INT(4, refused);
	/* LID 11 still gets a new one */
	q = query(2, 1);
	pr_set_service_id(&q, 99);
	request(s, 11, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID | PR_CM_SERVICE_ID, &q, 0, 200);
	CHECK(!sent(&h, &rec, &n));
	CHECK(fake_answer(&f, 0, 0, recs, 1));
	CHECK(sent(&h, &rec, &n));
	CHECK_INT(0, h.status);

	sa_client_free(sa);
	sa_server_free(s);
	fake_fini(&f);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
	return CHECK_DONE();
}
