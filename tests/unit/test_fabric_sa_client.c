/*
 * test_fabric_sa_client.c - the SA client and the resolver when a query cannot even be sent
 * (a port whose descriptor is gone): the submitting call returns the error, and no callback
 * runs, neither inside that call nor later. Before this was fixed, the callback ran inside
 * sa_client_send() and freed the query (and the resolver's fetch and waiter) that the caller
 * then used: ASan reports the use after free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "alloc_fail.h"
#include "base/loop.h"
#include "check.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

static unsigned sa_calls, resolve_calls, fill_calls;

static void sa_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	sa_calls++;
}

static void resolved(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		     size_t n)
{
	resolve_calls++;
}

static void filled(void *arg, int err, size_t records)
{
	fill_calls++;
}

static void stop(struct loop *loop, void *arg)
{
	loop_stop(loop);
}

/* A port whose sends fail at once: umad_send() on no descriptor. */
static struct mad_port dead_port(void)
{
	struct mad_port p;

	memset(&p, 0, sizeof(p));
	p.fd = -1;
	p.smp_agent = -1;
	p.lid = 1;
	p.sm_lid = 2;
	p.gid = gid_of(1);
	return p;
}

static void test_send_failure_is_returned(struct loop *loop)
{
	struct mad_port port = dead_port();
	struct sa_client_opts o = { 2, 100, 1, 200, 0, 0 };
	struct ibv_path_record q;
	struct sa_client_stats st;
	struct sa_client *sa;
	int64_t id;

	CHECK_INT(0, sa_client_new(loop, &port, &o, &sa));
	memset(&q, 0, sizeof(q));
	sa_calls = 0;
	id = sa_client_query(sa, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC, PR_CM_SGID, &q, sizeof(q),
			     sa_done, NULL);
	CHECK(id < 0);
	CHECK_INT(0, sa_calls);
	sa_client_stats(sa, &st);
	CHECK_INT(0, st.outstanding_now);	/* the credit came back */
	CHECK_INT(0, st.queued_now);
	/* Nothing is left to call back later either. */
	loop_timer_add(loop, 50, stop, NULL);
	loop_run(loop);
	CHECK_INT(0, sa_calls);
	sa_client_free(sa);
	CHECK_INT(0, sa_calls);
}

static void test_resolver_miss_and_fill(struct loop *loop)
{
	struct mad_port port = dead_port();
	struct sa_client_opts so = { 2, 100, 1, 200, 0, 0 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000 };
	struct ibv_path_record rec = rec_of(2, 2, 0, 7);
	struct pr_request req;
	struct resolver *res;
	struct sa_client *sa;
	int64_t ret;

	CHECK_INT(0, sa_client_new(loop, &port, &so, &sa));
	CHECK_INT(0, resolver_new(loop, &port, sa, &ro, &res));
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
	loop_timer_add(loop, 50, stop, NULL);
	loop_run(loop);
	CHECK_INT(1, resolve_calls);
	CHECK_INT(0, fill_calls);

	sa_client_free(sa);
	resolver_free(res);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	test_send_failure_is_returned(loop);
	test_resolver_miss_and_fill(loop);
	loop_free(loop);
	return CHECK_DONE();
}
