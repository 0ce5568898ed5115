/*
 * test_fabric_path_service.c - the lookup-service seam over a scripted backend: ports found by
 * GID, by LID within the LMC range and by name; a request's SGID picks the port (none: the
 * default) and a foreign one is refused before the backend sees it; the new-tuple quota is
 * taken only for tuples the cache does not know; tables, writes and counters reach the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/quota.h"
#include "base/strbuf.h"
#include "check.h"
#include "svc_fixture.h"
#include "wire/path_rec.h"

static uint64_t pr_cache_stats_entries(const struct pr_cache *c)
{
	struct pr_cache_stats st;

	pr_cache_stats(c, &st);
	return st.entries;
}

struct answer {
	int calls, err;
	size_t n;
};

static void answered(void *arg, int err, uint8_t sa_status, const struct ibv_path_record *recs,
		     size_t n)
{
	struct answer *a = arg;

	(void)sa_status;
	(void)recs;
	a->calls++;
	a->err = err;
	a->n = n;
}

static void test_ports(void)
{
	struct fake_backend f;
	struct path_port p;
	union ibv_gid g = gid_of(1), other = gid_of(2);

	fake_init(&f, 2, NULL, 0);
	f.ports[0].lid = 4;
	CHECK_INT(0, path_service_default_port(f.svc, &p));
	CHECK_INT(1, p.port_num);
	CHECK_INT(0, path_service_port_by_gid(f.svc, &g, &p));
	CHECK_INT(-ENOENT, path_service_port_by_gid(f.svc, &other, &p));
	CHECK_INT(-ENOENT, path_service_port_by_lid(f.svc, 3, &p));
	CHECK_INT(0, path_service_port_by_lid(f.svc, 4, &p));
	CHECK_INT(0, path_service_port_by_lid(f.svc, 7, &p));	/* LMC 2: 4 LIDs */
	CHECK_INT(-ENOENT, path_service_port_by_lid(f.svc, 8, &p));
	CHECK_INT(0, path_service_port_by_name(f.svc, "mlx5_0", 1, &p));
	CHECK_INT(-ENOENT, path_service_port_by_name(f.svc, "mlx5_0", 2, &p));
	CHECK_INT(-ENOENT, path_service_port_by_name(f.svc, "mlx5_1", 1, &p));
	CHECK_INT(1, path_service_ports(f.svc, NULL, 0));
	f.ports[0].lid = 0;	/* no LID yet: no LID is ours */
	CHECK_INT(-ENOENT, path_service_port_by_lid(f.svc, 0, &p));
	f.n_ports = 0;
	CHECK_INT(-ENOENT, path_service_default_port(f.svc, &p));
	fake_fini(&f);
}

static void test_resolve(void)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct path_query q = { .req = { .has = PR_REQ_DGID } };
	struct answer a = { 0 };
	struct fake_backend f;
	struct quota quota;

	fake_init(&f, 0, recs, 2);
	q.req.dgid = gid_of(2);
	/* a hit: answered inside the call */
	CHECK_INT(0, path_service_resolve(f.svc, &q, answered, &a));
	CHECK_INT(1, a.calls);
	CHECK_INT(1, a.n);
	/* a miss: later, and cancellable */
	q.req.dgid = gid_of(9);
	int64_t id = path_service_resolve(f.svc, &q, answered, &a);
	CHECK(id > 0);
	path_service_cancel(f.svc, id);
	CHECK_INT(1, f.cancels);
	/* no destination; a foreign SGID: the backend never sees them */
	f.resolves = 0;
	q.req.has = 0;
	CHECK_INT(-EDESTADDRREQ, path_service_resolve(f.svc, &q, answered, &a));
	q.req.has = PR_REQ_DGID | PR_REQ_SGID;
	q.req.sgid = gid_of(5);
	CHECK_INT(-EADDRNOTAVAIL, path_service_resolve(f.svc, &q, answered, &a));
	CHECK_INT(0, f.resolves);
	/* the SGID of a port served, and flags pass through */
	q.req.sgid = gid_of(1);
	q.req.dgid = gid_of(3);
	q.flags = PATH_Q_CACHE_ONLY;
	CHECK_INT(0, path_service_resolve(f.svc, &q, answered, &a));
	CHECK_INT(PATH_Q_CACHE_ONLY, f.last_flags);
	/* the quota: two new tuples, then -EDQUOT for a third; known ones never count */
	quota_init(&quota, 2, 0, 0);
	q.quota = &quota;
	q.flags = 0;
	q.req.tuple_flags = PR_TUPLE_SERVICE_ID;
	for (uint64_t sid = 1; sid <= 2; sid++) {
		q.req.service_id = sid;
		CHECK(path_service_resolve(f.svc, &q, answered, &a) > 0);
	}
	q.req.service_id = 3;
	CHECK_INT(-EDQUOT, path_service_resolve(f.svc, &q, answered, &a));
	q.req.service_id = 1;
	CHECK(path_service_resolve(f.svc, &q, answered, &a) > 0);
	q.req.tuple_flags = 0;
	CHECK_INT(0, path_service_resolve(f.svc, &q, answered, &a));
	fake_fini(&f);
}

static void test_tables_writes_counters(void)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct ibv_path_record push[1] = { rec_of(4, 4, 0, 3) }, q, *t;
	struct pr_origin set = { PR_SRC_SET, 5, 0 }, cli = { PR_SRC_CLI, 0, 0 };
	struct pr_request req = { 0 };
	struct fake_backend f;
	struct strbuf sb;
	struct json j;
	size_t n, loaded;

	fake_init(&f, 0, recs, 2);
	CHECK_INT(0, path_service_table(f.svc, &req, &t, &n));
	CHECK_INT(2, n);
	free(t);
	req.has = PR_REQ_SGID;
	req.sgid = gid_of(6);
	CHECK_INT(-EADDRNOTAVAIL, path_service_table(f.svc, &req, &t, &n));
	CHECK_INT(0, path_service_push(f.svc, push, 1, &set, false, &loaded));
	CHECK_INT(1, loaded);
	push[0] = rec_of(5, 5, 0, 4);
	CHECK_INT(0, path_service_add(f.svc, push, &cli));
	memset(&q, 0, sizeof(q));
	q.dgid = gid_of(2);
	CHECK_INT(1, path_service_delete(f.svc, &q, PR_CM_DGID));
	CHECK_INT(3, pr_cache_stats_entries(path_service_cache(f.svc)));
	path_service_flush(f.svc);
	CHECK_INT(0, pr_cache_stats_entries(path_service_cache(f.svc)));
	CHECK(!path_service_stale(f.svc));
	CHECK_INT(1, path_service_generation(f.svc));
	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	path_service_stats_json(f.svc, &j);
	json_object_end(&j);
	CHECK_INT(0, json_finish(&j));
	CHECK(strstr(sb.buf, "\"fake_resolves\": 0, \"entries\": 0, "));
	CHECK(strstr(sb.buf, "\"tuples\": 1, "));
	strbuf_free(&sb);
	fake_fini(&f);
}

int main(void)
{
	test_ports();
	test_resolve();
	test_tables_writes_counters();
	return CHECK_DONE();
}
