/*
 * test_fabric_resolver.c - the resolver's dealings with the SA, over a scripted port:
 * identical misses share one Get (N waiters, one query; a cancelled waiter is not called);
 * a "no path" answer is reused until negative_ttl_ms, then asked again; with LMC > 0 an
 * answer to a DLID is not filed as the DGID's set of paths (with LMC 0 it is); a fill is
 * one GetTable with this port's SGID; who joins a fill that then fails gets a fill of its own.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/loop.h"
#include "check.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

struct env {
	struct loop *loop;
	struct script_fabric f;
};

static unsigned env_max_stale_ms;	/* env_up()'s resolver_opts.max_stale_ms */

static void env_up(struct env *e, struct loop *loop, uint8_t lmc, unsigned negative_ttl_ms)
{
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000, .retries = 1 };
	struct resolver_opts ro = { negative_ttl_ms, env_max_stale_ms, 1000, 1000, NULL };

	e->loop = loop;
	script_fabric_up(&e->f, loop, lmc, &so, &ro);
}

static void env_down(struct env *e)
{
	script_fabric_down(&e->f);
}

struct answer {
	unsigned calls;
	int err;
	size_t n;
	uint32_t tag;             /* of the first path */
};

static void resolved(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		     size_t n)
{
	struct answer *a = arg;

	a->calls++;
	a->err = err;
	a->n = n;
	a->tag = n ? be32toh(recs[0].flowlabel_hoplimit) : 0;
}

static int64_t resolve_gid(struct env *e, uint64_t guid, struct answer *a)
{
	struct pr_request req;

	memset(&req, 0, sizeof(req));
	req.dgid = gid_of(guid);
	req.has = PR_REQ_DGID;
	return resolver_resolve(e->f.res, &req, 0, resolved, a);
}

static int64_t resolve_lid(struct env *e, uint16_t lid, struct answer *a)
{
	struct pr_request req;

	memset(&req, 0, sizeof(req));
	req.dlid = lid;
	req.has = PR_REQ_DLID;
	return resolver_resolve(e->f.res, &req, 0, resolved, a);
}

static void test_coalescing(struct loop *loop)
{
	struct env e;
	struct answer a[6] = { { 0 } }, other = { 0 };
	struct ibv_path_record rec = rec_of(2, 2, 0, 7), q;
	struct resolver_stats rs;
	int64_t ids[6];

	env_up(&e, loop, 0, 1000);
	for (int i = 0; i < 6; i++) {
		ids[i] = resolve_gid(&e, 2, &a[i]);
		CHECK(ids[i] > 0);
	}
	CHECK(resolve_gid(&e, 3, &other) > 0);	/* another destination: its own Get */
	resolver_cancel(e.f.res, ids[5]);
	CHECK_INT(2, e.f.s.n_sent);
	CHECK_INT(UMAD_METHOD_GET, e.f.s.sent[0].h.method);
	CHECK_INT(UMAD_SA_ATTR_PATH_REC, e.f.s.sent[0].h.attr_id);
	CHECK(e.f.s.sent[0].h.comp_mask == (PR_CM_SGID | PR_CM_DGID));
	pr_decode(e.f.s.sent[0].mad + SA_HDR_LEN, PR_LEN, &q);
	CHECK_MEM(&rec.dgid, &q.dgid, sizeof(q.dgid));
	CHECK_MEM(&rec.sgid, &q.sgid, sizeof(q.sgid));
	resolver_stats(e.f.res, &rs);
	CHECK_INT(5, rs.coalesced);
	CHECK_INT(7, rs.misses);

	script_answer(&e.f.s, &e.f.s.sent[0], 0, &rec, PR_LEN, 1);
	script_run(loop, 10);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(1, a[i].calls);
		CHECK_INT(0, a[i].err);
		CHECK_INT(1, a[i].n);
		CHECK_INT(7, a[i].tag);
	}
	CHECK_INT(0, a[5].calls);	/* cancelled */
	CHECK_INT(0, other.calls);	/* still waiting for its own answer */
	/* Now a hit: answered inside the call, nothing sent. */
	CHECK_INT(0, resolve_gid(&e, 2, &a[0]));
	CHECK_INT(2, a[0].calls);
	CHECK_INT(2, e.f.s.n_sent);
	env_down(&e);
	CHECK_INT(1, other.calls);	/* the client's end fails what still waited */
	CHECK_INT(-ECANCELED, other.err);
}

static void test_negative_ttl(struct loop *loop)
{
	struct env e;
	struct answer a = { 0 };
	struct resolver_stats rs;
	uint16_t no_records = UMAD_SA_STATUS_NO_RECORDS << 8;

	env_up(&e, loop, 0, 40);
	CHECK(resolve_gid(&e, 5, &a) > 0);
	CHECK_INT(1, e.f.s.n_sent);
	script_answer(&e.f.s, &e.f.s.sent[0], no_records, NULL, 0, 0);
	script_run(loop, 10);
	CHECK_INT(1, a.calls);
	CHECK_INT(-ENOENT, a.err);
	/* Reused while fresh: answered at once, no query. */
	CHECK_INT(0, resolve_gid(&e, 5, &a));
	CHECK_INT(2, a.calls);
	CHECK_INT(-ENOENT, a.err);
	CHECK_INT(1, e.f.s.n_sent);
	resolver_stats(e.f.res, &rs);
	CHECK_INT(1, rs.negative_hits);
	CHECK_INT(1, rs.sa_no_path);
	/* Expired: asked again. */
	script_run(loop, 50);
	CHECK(resolve_gid(&e, 5, &a) > 0);
	CHECK_INT(2, e.f.s.n_sent);
	/* "No path" for the DGID is no fact about other destinations. */
	CHECK(resolve_gid(&e, 6, &a) > 0);
	CHECK_INT(3, e.f.s.n_sent);
	env_down(&e);
}

/*
 * The SA silent past max_stale_ms: the cache is not to be served. A lookup asks the SA; a
 * cache-only one (the netlink and ACM doors' when their queue of SA waits is full) is a miss at
 * once - it was answered from the stale cache.
 */
static void test_stale_cache_only(struct loop *loop)
{
	struct env e;
	struct answer a = { 0 };
	struct ibv_path_record rec = rec_of(2, 2, 0, 7);
	struct pr_request req;
	struct resolver_stats rs, rs0;

	env_max_stale_ms = 50;
	env_up(&e, loop, 0, 1000);
	env_max_stale_ms = 0;
	CHECK(resolve_gid(&e, 2, &a) > 0);
	script_answer(&e.f.s, &e.f.s.sent[0], 0, &rec, PR_LEN, 1);
	script_run(loop, 10);
	CHECK_INT(1, a.calls);
	memset(&req, 0, sizeof(req));
	req.dgid = gid_of(2);
	req.has = PR_REQ_DGID;
	CHECK_INT(0, resolver_resolve(e.f.res, &req, RESOLVE_CACHE_ONLY, resolved, &a));
	CHECK_INT(2, a.calls);	/* fresh: a hit */
	CHECK_INT(0, a.err);
	resolver_stats(e.f.res, &rs0);
	script_run(loop, 120);	/* the SA silent past 50 ms */
	CHECK_INT(0, resolver_resolve(e.f.res, &req, RESOLVE_CACHE_ONLY, resolved, &a));
	CHECK_INT(3, a.calls);
	CHECK_INT(-ENOENT, a.err);
	CHECK_INT(1, e.f.s.n_sent);	/* nothing asked */
	CHECK(resolve_gid(&e, 2, &a) > 0);	/* an ordinary lookup asks the SA */
	CHECK_INT(2, e.f.s.n_sent);
	resolver_stats(e.f.res, &rs);
	CHECK_INT(2, rs.stale_bypass - rs0.stale_bypass);
	env_down(&e);
}

/*
 * An SA answer that is not about the question - paths to another DGID, or from another SGID -
 * is neither given to the requester nor cached (it was filed under its own DGID: a later lookup
 * of that one was served from it, foreign SGID and all).
 */
static void test_foreign_answer(struct loop *loop)
{
	struct env e;
	struct answer a = { 0 };
	struct ibv_path_record other = rec_of(0x77, 0x77, 0, 7), from = rec_of(0x55, 0x55, 0, 8);
	size_t sent;

	env_up(&e, loop, 0, 1000);
	CHECK(resolve_gid(&e, 0x55, &a) > 0);
	script_answer(&e.f.s, &e.f.s.sent[0], 0, &other, PR_LEN, 1);
	script_run(loop, 10);
	CHECK_INT(1, a.calls);
	CHECK_INT(-EPROTO, a.err);
	sent = e.f.s.n_sent;
	CHECK(resolve_gid(&e, 0x77, &a) > 0);	/* not cached: asked */
	CHECK_INT(sent + 1, e.f.s.n_sent);
	from.sgid = gid_of(0x99);
	CHECK(resolve_gid(&e, 0x55, &a) > 0);
	script_answer(&e.f.s, &e.f.s.sent[e.f.s.n_sent - 1], 0, &from, PR_LEN, 1);
	script_run(loop, 10);
	CHECK_INT(-EPROTO, a.err);
	env_down(&e);
}

/* With LMC > 0 a port has several LIDs: the paths to one of them are not all of its paths. */
static void test_lmc(struct loop *loop)
{
	for (uint8_t lmc = 0; lmc <= 1; lmc++) {
		struct ibv_path_record rec = rec_of(4, 8, 0, 9);
		struct answer a = { 0 };
		struct env e;

		env_up(&e, loop, lmc, 1000);
		CHECK(resolve_lid(&e, 8, &a) > 0);
		CHECK_INT(1, e.f.s.n_sent);
		CHECK(e.f.s.sent[0].h.comp_mask == (PR_CM_SGID | PR_CM_DLID));
		script_answer(&e.f.s, &e.f.s.sent[0], 0, &rec, PR_LEN, 1);
		script_run(loop, 10);
		CHECK_INT(1, a.calls);
		CHECK_INT(0, a.err);
		CHECK_INT(9, a.tag);
		/* LMC 0: the answer is the DGID's set, and a DGID lookup hits. LMC 1: it asks. */
		if (lmc) {
			CHECK(resolve_gid(&e, 4, &a) > 0);
			CHECK_INT(2, e.f.s.n_sent);
			CHECK(resolve_lid(&e, 8, &a) > 0);
			CHECK_INT(3, e.f.s.n_sent);
		} else {
			CHECK_INT(0, resolve_gid(&e, 4, &a));
			CHECK_INT(0, resolve_lid(&e, 8, &a));
			CHECK_INT(3, a.calls);
			CHECK_INT(9, a.tag);
			CHECK_INT(1, e.f.s.n_sent);
		}
		env_down(&e);
	}
}

static void filled(void *arg, int err, size_t records)
{
	int *got = arg;

	*got = err ? err : (int)records;
}

static void test_fill(struct loop *loop)
{
	struct ibv_path_record recs[3] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2),
					   rec_of(4, 4, 0, 3) };
	struct ibv_path_record q;
	struct answer a = { 0 };
	struct env e;
	int got = -1;

	env_up(&e, loop, 0, 1000);
	CHECK_INT(0, resolver_fill(e.f.res, filled, &got));
	CHECK_INT(0, resolver_fill(e.f.res, NULL, NULL));	/* joins the fill in progress */
	CHECK_INT(1, e.f.s.n_sent);
	CHECK_INT(UMAD_SA_METHOD_GET_TABLE, e.f.s.sent[0].h.method);
	CHECK(e.f.s.sent[0].h.comp_mask == PR_CM_SGID);
	pr_decode(e.f.s.sent[0].mad + SA_HDR_LEN, PR_LEN, &q);
	CHECK_MEM(&recs[0].sgid, &q.sgid, sizeof(q.sgid));
	script_answer(&e.f.s, &e.f.s.sent[0], 0, recs, PR_LEN, 3);
	script_run(loop, 10);
	CHECK_INT(3, got);
	CHECK_INT(0, resolve_gid(&e, 3, &a));
	CHECK_INT(2, a.tag);
	CHECK_INT(1, e.f.s.n_sent);
	env_down(&e);

	/* A fill that fails (sent while the SA was away, say) fails who started it; who joined
	 * it while it was out gets a fill of its own, once, and that one's outcome. */
	env_up(&e, loop, 0, 1000);
	got = -1;
	{
		int joined = -1;

		CHECK_INT(0, resolver_fill(e.f.res, filled, &got));
		CHECK_INT(0, resolver_fill(e.f.res, filled, &joined));
		CHECK_INT(1, e.f.s.n_sent);
		script_time_out(&e.f.s, &e.f.s.sent[0]);	/* retries 1: 1 s pause, then again */
		for (int i = 0; i < 400 && e.f.s.n_sent < 2; i++)
			script_run(loop, 10);
		CHECK_INT(2, e.f.s.n_sent);
		script_time_out(&e.f.s, &e.f.s.sent[1]);
		for (int i = 0; i < 200 && e.f.s.n_sent < 3; i++)
			script_run(loop, 10);
		CHECK_INT(-ETIMEDOUT, got);
		CHECK_INT(-1, joined);		/* still waiting: its own fill is out */
		CHECK_INT(3, e.f.s.n_sent);
		if (e.f.s.n_sent == 3) {
			CHECK_INT(UMAD_SA_METHOD_GET_TABLE, e.f.s.sent[2].h.method);
			script_answer(&e.f.s, &e.f.s.sent[2], 0, recs, PR_LEN, 3);
		}
		script_run(loop, 10);
		CHECK_INT(3, joined);
		CHECK_INT(-ETIMEDOUT, got);	/* told once */
	}
	env_down(&e);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_coalescing(loop);
	test_negative_ttl(loop);
	test_lmc(loop);
	test_fill(loop);
	test_stale_cache_only(loop);
	test_foreign_answer(loop);
	loop_free(loop);
	return CHECK_DONE();
}
