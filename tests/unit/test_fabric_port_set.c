/*
 * test_fabric_port_set.c - two scripted ports over one store behind one service: a lookup goes
 * to the port of its SGID (its own SA client asks, with that SGID), one without SGID to the
 * default port and to no other while the default is down, an SGID no port serves is refused
 * without a query; a refresh is one GetTable per port answered once; a cancel reaches the
 * right port's resolver; the counters are sums that do not shrink when a port leaves.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "cache/pr_store.h"
#include "check.h"
#include "fabric/path_service.h"
#include "fabric/port_set.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

enum { GUID_A = 1, GUID_B = 0x11 };

struct port {
	struct mad_script s;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
};

struct rig {
	struct loop *loop;
	struct pr_store *store;
	struct port a, b;
	struct port_set *ps;
	struct path_service *svc;
};

static void port_up(struct rig *g, struct port *p, unsigned num, uint64_t guid, uint16_t lid)
{
	struct sa_client_opts so = { .credits = 4, .timeout_ms = 1000, .retries = 1 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000, g->store };

	script_init(&p->s);
	p->s.attr.portnum = (int)num;
	p->s.attr.gid = gid_of(guid);
	p->s.attr.lid = lid;
	p->port = script_port(&p->s, g->loop);
	CHECK_INT(0, sa_client_new(g->loop, p->port, &so, &p->sa));
	CHECK_INT(0, resolver_new(g->loop, p->port, p->sa, &ro, &p->res));
	CHECK_INT(0, port_set_serve(g->ps, p->res, p->sa));
}

/* As the daemon takes a port down: out of the set, its paths out of the store, then freed. */
static void port_down(struct rig *g, struct port *p)
{
	union ibv_gid gid;

	if (!p->port)
		return;
	gid = p->port->gid;
	port_set_unserve(g->ps, p->res);
	pr_store_port_remove(g->store, &gid);
	sa_client_free(p->sa);
	resolver_free(p->res);
	mad_port_close(p->port);
	p->port = NULL;
}

static void rig_up(struct rig *g)
{
	struct pr_store_opts so = { 1000, 1000, 1000, 0 };
	union ibv_gid own = gid_of(GUID_A);

	memset(g, 0, sizeof(*g));
	CHECK_INT(0, loop_new(&g->loop));
	loop_skip_idle_time(g->loop, true);
	CHECK_INT(0, pr_store_new(&so, &own, &g->store));
	CHECK_INT(0, port_set_new(g->store, &g->ps));
	g->svc = port_set_service(g->ps);
	port_up(g, &g->a, 1, GUID_A, 1);
	port_up(g, &g->b, 2, GUID_B, 11);
}

static void rig_down(struct rig *g)
{
	port_down(g, &g->a);
	port_down(g, &g->b);
	port_set_free(g->ps);
	pr_store_free(g->store);
	loop_free(g->loop);
}

struct answer {
	unsigned calls;
	int err;
	size_t n;
};

static void answered(void *arg, int err, uint8_t status, const struct ibv_path_record *recs,
		     size_t n)
{
	struct answer *a = arg;

	(void)status;
	(void)recs;
	a->calls++;
	a->err = err;
	a->n = n;
}

static int64_t lookup(struct rig *g, const union ibv_gid *sgid, uint64_t dguid, struct answer *a)
{
	struct path_query q = { .req = { .has = PR_REQ_DGID } };

	q.req.dgid = gid_of(dguid);
	if (sgid) {
		q.req.sgid = *sgid;
		q.req.has |= PR_REQ_SGID;
	}
	return path_service_resolve(g->svc, &q, answered, a);
}

/* The SGID of the last Get a port sent. */
static union ibv_gid sent_sgid(const struct port *p)
{
	const struct script_sent *m = script_last(&p->s, UMAD_METHOD_GET, 0);
	struct ibv_path_record q;
	union ibv_gid g = { 0 };

	if (m) {
		pr_decode(m->mad + SA_HDR_LEN, PR_LEN, &q);
		memcpy(&g, &q.sgid, sizeof(g));
	}
	return g;
}

static void test_routing(void)
{
	struct rig g;
	union ibv_gid ga = gid_of(GUID_A), gb = gid_of(GUID_B), other = gid_of(0x77), sg;
	struct ibv_path_record rb = rec_of(9, 9, 0, 5);
	struct path_port ports[PATH_PORTS_MAX], p;
	struct answer a = { 0 };

	rig_up(&g);
	CHECK_INT(2, port_set_count(g.ps));
	CHECK_INT(2, path_service_ports(g.svc, ports, PATH_PORTS_MAX));
	CHECK_INT(1, ports[0].port_num);	/* the first served is the default */
	CHECK(ports[0].serving && ports[1].serving);
	CHECK_INT(0, path_service_port_by_gid(g.svc, &gb, &p));
	CHECK_INT(2, p.port_num);
	CHECK_INT(11, p.lid);
	CHECK_INT(0, path_service_port_by_name(g.svc, "script0", 2, &p));

	/* port B's SGID: B's SA client asks, with B's SGID; A sends nothing */
	CHECK(lookup(&g, &gb, 9, &a) > 0);
	CHECK_INT(1, g.b.s.n_sent);
	CHECK_INT(0, g.a.s.n_sent);
	sg = sent_sgid(&g.b);
	CHECK_MEM(&gb, &sg, 16);
	memcpy(&rb.sgid, &gb, sizeof(gb));
	script_answer(&g.b.s, &g.b.s.sent[0], 0, &rb, PR_LEN, 1);
	script_run(g.loop, 20);
	CHECK_INT(1, a.calls);
	CHECK_INT(0, a.err);
	/* now a hit from the one store, still nothing sent */
	CHECK_INT(0, lookup(&g, &gb, 9, &a));
	CHECK_INT(2, a.calls);
	CHECK_INT(1, g.b.s.n_sent);

	/* no SGID: the default port A, with A's SGID */
	CHECK(lookup(&g, NULL, 9, &a) > 0);
	CHECK_INT(1, g.a.s.n_sent);
	sg = sent_sgid(&g.a);
	CHECK_MEM(&ga, &sg, 16);
	/* another default: B, and its cached path answers at once */
	port_set_set_default(g.ps, "script0", 2);
	CHECK_INT(0, lookup(&g, NULL, 9, &a));
	CHECK_INT(1, g.b.s.n_sent);
	CHECK_INT(0, path_service_default_port(g.svc, &p));
	CHECK_INT(2, p.port_num);

	/* an SGID no port serves: refused, nothing sent */
	CHECK_INT(-EADDRNOTAVAIL, lookup(&g, &other, 9, &a));
	CHECK_INT(2, g.a.s.n_sent + g.b.s.n_sent);

	/* the default port B goes down: its SGID and no SGID are refused, A goes on */
	port_down(&g, &g.b);
	CHECK_INT(-EADDRNOTAVAIL, lookup(&g, &gb, 9, &a));
	CHECK_INT(-EADDRNOTAVAIL, lookup(&g, NULL, 9, &a));
	CHECK_INT(-ENOENT, path_service_default_port(g.svc, &p));
	CHECK_INT(-ENOENT, path_service_port_by_gid(g.svc, &gb, &p));
	CHECK_INT(2, path_service_ports(g.svc, ports, PATH_PORTS_MAX));
	CHECK(!ports[0].serving);		/* the default, listed, not served */
	CHECK_INT(2, ports[0].port_num);
	CHECK(ports[1].serving);
	CHECK(lookup(&g, &ga, 10, &a) > 0);
	CHECK_INT(2, g.a.s.n_sent);
	rig_down(&g);
}

struct refreshed {
	unsigned calls;
	int err;
	size_t records;
};

static void refresh_done(void *arg, int err, size_t records)
{
	struct refreshed *r = arg;

	r->calls++;
	r->err = err;
	r->records = records;
}

static void answer_table(struct port *p, size_t n)
{
	struct ibv_path_record recs[3] = { rec_of(5, 5, 0, 1), rec_of(6, 6, 0, 2),
					   rec_of(7, 7, 0, 3) };
	const struct script_sent *t = script_last(&p->s, UMAD_SA_METHOD_GET_TABLE, 0);

	for (size_t i = 0; i < n; i++)
		recs[i].sgid = p->port->gid;
	CHECK(t != NULL);
	if (t)
		script_answer(&p->s, t, 0, recs, PR_LEN, n);
}

static void test_refresh_and_counters(void)
{
	struct rig g;
	struct refreshed r = { 0 };
	struct answer a = { 0 };
	struct strbuf sb;
	struct json j;
	int64_t id;

	rig_up(&g);
	/* one GetTable per port, one answer once both are in */
	CHECK_INT(0, path_service_refresh(g.svc, refresh_done, &r));
	CHECK_INT(1, script_count(&g.a.s, 0, UMAD_SA_METHOD_GET_TABLE, 0));
	CHECK_INT(1, script_count(&g.b.s, 0, UMAD_SA_METHOD_GET_TABLE, 0));
	answer_table(&g.a, 2);
	script_run(g.loop, 20);
	CHECK_INT(0, r.calls);
	answer_table(&g.b, 3);
	script_run(g.loop, 20);
	CHECK_INT(1, r.calls);
	CHECK_INT(0, r.err);
	CHECK_INT(5, r.records);

	/* a refresh that waits for a port that leaves is answered by the others */
	memset(&r, 0, sizeof(r));
	CHECK_INT(0, path_service_refresh(g.svc, refresh_done, &r));
	answer_table(&g.a, 1);
	script_run(g.loop, 20);
	CHECK_INT(0, r.calls);

	/* a cancelled lookup on B: its answer calls no one */
	id = lookup(&g, &g.b.port->gid, 0x99, &a);
	CHECK(id > 0);
	path_service_cancel(g.svc, id);
	script_answer(&g.b.s, script_last(&g.b.s, UMAD_METHOD_GET, 0), 0, NULL, PR_LEN, 0);
	script_run(g.loop, 20);
	CHECK_INT(0, a.calls);

	port_down(&g, &g.b);
	CHECK_INT(1, r.calls);
	CHECK_INT(1, r.records);

	/* the sums keep what the port that left sent: 2 GetTables, 1 Get on B, 2 GetTables on A */
	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	path_service_stats_json(g.svc, &j);
	json_object_end(&j);
	CHECK_INT(0, json_finish(&j));
	CHECK(strstr(sb.buf, "\"get_table\": 4") != NULL);
	CHECK(strstr(sb.buf, "\"cache_misses\": 1") != NULL);
	strbuf_free(&sb);

	/* no port served: a refresh is refused */
	port_down(&g, &g.a);
	CHECK_INT(-EADDRNOTAVAIL, path_service_refresh(g.svc, refresh_done, &r));
	rig_down(&g);
}

int main(void)
{
	test_routing();
	test_refresh_and_counters();
	return CHECK_DONE();
}
