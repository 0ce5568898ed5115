/*
 * test_cache_pr_store.c - the one write path: full loads (generation, sweep, SA order of whole
 * tables), pushes grouped by SGID in one generation, replace/add, removal by DGID and by
 * PathRecord + component mask, flush, negatives and their lifetime, the staleness rule, and the
 * change notification the snapshot follows.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/pr_store.h"
#include "check.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

static struct pr_store *new_store(unsigned ttl_ms, unsigned max_stale_ms)
{
	struct pr_store_opts o = { 1000, 2 * PR_TUPLE_MAX, ttl_ms, max_stale_ms };
	union ibv_gid own = gid_of(1);
	struct pr_store *s = NULL;

	CHECK_INT(0, pr_store_new(&o, &own, &s));
	return s;
}

static uint32_t tag(const struct ibv_path_record *r)
{
	return be32toh(r->flowlabel_hoplimit);
}

static struct pr_request dest(uint64_t guid)
{
	struct pr_request r = { .has = PR_REQ_DGID };

	r.dgid = gid_of(guid);
	return r;
}

/* Each table entry's tag, in order, as one number per record. */
#define CHECK_TABLE(s, req, ...)                                                         \
	do {                                                                             \
		const uint32_t want_[] = { __VA_ARGS__ };                                \
		struct ibv_path_record *t_ = NULL;                                       \
		size_t n_ = 0;                                                           \
		CHECK_INT(0, pr_store_table(s, req, &t_, &n_));                          \
		CHECK_INT(sizeof(want_) / sizeof(want_[0]), n_);                         \
		for (size_t k_ = 0; k_ < n_ && k_ < sizeof(want_) / sizeof(want_[0]); k_++) \
			CHECK_INT(want_[k_], tag(&t_[k_]));                              \
		free(t_);                                                                \
	} while (0)

static void test_requests(void)
{
	struct ibv_path_record q, back;
	struct pr_request req;
	union ibv_gid own = gid_of(1);
	uint64_t mask;

	memset(&q, 0, sizeof(q));
	q.dgid = gid_of(5);
	pr_set_dlid(&q, 7);
	pr_set_pkey(&q, 0x8001);
	pr_set_service_id(&q, 0x1234);
	pr_request_from_record(&req, &q, PR_CM_DGID | PR_CM_DLID | PR_CM_PKEY | PR_CM_SERVICE_ID);
	CHECK_INT(PR_REQ_DGID | PR_REQ_DLID, req.has);
	CHECK_INT(PR_TUPLE_PKEY | PR_TUPLE_SERVICE_ID, req.tuple_flags);
	mask = pr_request_to_record(&req, &own, &back);
	CHECK_INT(PR_CM_SGID | PR_CM_DGID | PR_CM_DLID | PR_CM_PKEY | PR_CM_SERVICE_ID, mask);
	CHECK(!memcmp(&back.sgid, &own, 16));
	CHECK_INT(0x1234, pr_service_id(&back));
	CHECK_INT(7, pr_dlid(&back));
}

static void test_full_loads(void)
{
	struct pr_store *s = new_store(1000, 0);
	uint16_t def = pr_store_default_tuple(s);
	struct ibv_path_record t1[4] = { rec_of(9, 9, 0, 1), rec_of(3, 3, 0, 2),
					 rec_of(9, 19, 0, 3), rec_of(5, 5, 0, 4) };
	struct ibv_path_record t2[2] = { rec_of(5, 5, 0, 11), rec_of(3, 3, 0, 12) };
	struct ibv_path_record out[4], got = rec_of(7, 7, 0, 21);
	struct pr_request def_req = { 0 }, d7 = dest(7);
	union ibv_gid g7 = gid_of(7);
	struct pr_load_result res;
	struct pr_cache_stats st;

	CHECK_INT(0, pr_store_generation(s));
	CHECK_INT(0, pr_store_load(s, def, t1, 4, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 1000, &res));
	CHECK_INT(1, res.generation);
	CHECK_INT(0, res.swept);
	CHECK_INT(1, pr_store_generation(s));
	/* destinations in the SA's order, each one's paths together */
	CHECK_TABLE(s, &def_req, 1, 3, 2, 4);
	/* a Get answer joins the fill's generation and comes after the ordered part */
	CHECK_INT(0, pr_store_replace(s, def, &g7, &got, 1, NULL, 1000));
	CHECK_TABLE(s, &def_req, 1, 3, 2, 4, 21);
	CHECK_INT(1, pr_store_lookup(s, def, &d7, out, 4));
	/* the next fill lacks 9 and 7: they are swept; its order wins */
	CHECK_INT(0, pr_store_load(s, def, t2, 2, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 2000, &res));
	CHECK_INT(2, res.generation);
	CHECK_INT(3, res.swept);
	CHECK_TABLE(s, &def_req, 11, 12);
	pr_store_stats(s, &st);
	CHECK_INT(2, st.entries);
	/* a load that is not full sweeps nothing and does not count as the fill */
	CHECK_INT(0, pr_store_load(s, def, t1, 1, NULL, 0, 3000, &res));
	CHECK_INT(0, res.swept);
	CHECK_INT(2, pr_store_generation(s));
	pr_store_free(s);
}

static void test_tables(void)
{
	struct pr_store *s = new_store(1000, 0);
	struct pr_request svc = { .service_id = 0x42, .tuple_flags = PR_TUPLE_SERVICE_ID };
	struct pr_request other = { .service_id = 0x43, .tuple_flags = PR_TUPLE_SERVICE_ID };
	struct pr_request def_req = { 0 };
	struct ibv_path_record recs[2] = { rec_of(4, 4, 2, 1), rec_of(2, 2, 2, 2) };
	struct ibv_path_record *t;
	uint16_t ts;
	size_t n;

	CHECK_INT(-ENOENT, pr_store_table(s, &svc, &t, &n));
	CHECK_INT(0, pr_store_tuple(s, &svc, true, &ts));
	CHECK_INT(0, pr_store_table_add(s, ts));
	CHECK_INT(-EEXIST, pr_store_table_add(s, ts));
	/* known, but not loaded yet: no whole-table answer */
	CHECK_INT(-ENOENT, pr_store_table(s, &svc, &t, &n));
	CHECK_INT(0, pr_store_load(s, ts, recs, 2, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_TABLE(s, &svc, 1, 2);
	CHECK_INT(0, pr_store_generation(s));	/* not the default table's fill */
	/* a tuple with paths but no table added is never a whole table */
	CHECK_INT(0, pr_store_tuple(s, &other, true, &ts));
	CHECK_INT(0, pr_store_load(s, ts, recs, 2, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_INT(-ENOENT, pr_store_table(s, &other, &t, &n));
	struct pr_request with_dest = svc;
	with_dest.has = PR_REQ_DGID;
	CHECK_INT(-EINVAL, pr_store_table(s, &with_dest, &t, &n));
	/* after a flush the added table must be loaded again; the default one still answers */
	pr_store_flush(s);
	CHECK_INT(-ENOENT, pr_store_table(s, &svc, &t, &n));
	CHECK_INT(0, pr_store_table(s, &def_req, &t, &n));
	CHECK_INT(0, n);
	free(t);
	pr_store_free(s);
}

/* A push groups records by SGID; one generation for all, so that a full push keeps a tuple
 * whose records come in two groups, and drops what earlier pushes gave and this one lacks,
 * never the SA's paths. */
static void test_push(void)
{
	struct pr_store *s = new_store(1000, 0);
	struct pr_origin set = { PR_SRC_SET, 12, 0 };
	struct ibv_path_record sa = rec_of(8, 8, 0, 100);
	struct ibv_path_record p1[3] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2), rec_of(4, 4, 0, 3) };
	struct ibv_path_record p2[3] = { rec_of(2, 2, 0, 4), rec_of(5, 5, 0, 5), rec_of(3, 3, 0, 6) };
	struct pr_request other = { .has = PR_REQ_SGID };
	struct ibv_path_record out[2];
	struct pr_request d = dest(4);
	struct pr_cache_stats st;
	uint16_t def = pr_store_default_tuple(s), to;
	size_t loaded;

	other.sgid = gid_of(77);
	p2[1].sgid = gid_of(77);
	CHECK_INT(0, pr_store_load(s, def, &sa, 1, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_INT(0, pr_store_push(s, p1, 3, &set, true, 0, &loaded));
	CHECK_INT(3, loaded);
	pr_store_stats(s, &st);
	CHECK_INT(4, st.entries);
	/* SGID 1, 77, 1: the tuple of SGID 1 keeps both of its groups; 4 leaves (not pushed again) */
	CHECK_INT(0, pr_store_push(s, p2, 3, &set, true, 0, &loaded));
	CHECK_INT(3, loaded);
	pr_store_stats(s, &st);
	CHECK_INT(4, st.entries);
	CHECK_INT(0, pr_store_lookup(s, def, &d, out, 2));
	d = dest(3);
	CHECK_INT(1, pr_store_lookup(s, def, &d, out, 2));
	CHECK_INT(6, tag(&out[0]));
	d = dest(8);
	CHECK_INT(1, pr_store_lookup(s, def, &d, out, 2));	/* the SA's path stays */
	CHECK_INT(0, pr_store_tuple(s, &other, false, &to));
	d = dest(5);
	CHECK_INT(1, pr_store_lookup(s, to, &d, out, 2));
	/* not full: nothing is swept */
	CHECK_INT(0, pr_store_push(s, p1, 1, &set, false, 0, &loaded));
	pr_store_stats(s, &st);
	CHECK_INT(4, st.entries);
	pr_store_free(s);
}

static bool dump_gen(const struct pr_entry *e, void *arg)
{
	*(uint32_t *)arg = e->generation;
	return true;
}

static void test_removal(void)
{
	struct pr_store *s = new_store(1000, 0);
	struct pr_origin cli = { PR_SRC_CLI, 0, 0 };
	struct ibv_path_record t[4] = { rec_of(2, 2, 1, 1), rec_of(2, 12, 3, 2), rec_of(3, 3, 1, 3),
					rec_of(4, 4, 3, 4) };
	struct ibv_path_record q, added = rec_of(6, 6, 0, 9), out[4];
	struct pr_request svc = { .service_id = 1, .tuple_flags = PR_TUPLE_SERVICE_ID };
	struct pr_request d = dest(2);
	union ibv_gid g2 = gid_of(2);
	struct pr_cache_stats st;
	uint16_t def = pr_store_default_tuple(s), ts;
	uint32_t gen = 99;

	CHECK_INT(0, pr_store_load(s, def, t, 4, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_INT(0, pr_store_tuple(s, &svc, true, &ts));
	CHECK_INT(0, pr_store_replace(s, ts, &g2, t, 2, NULL, 0));
	/* Delete by SL 3: one path to 2 in each tuple, and 4 */
	memset(&q, 0, sizeof(q));
	pr_set_sl(&q, 3);
	CHECK_INT(3, pr_store_remove_matching(s, &q, PR_CM_SL));
	CHECK_INT(1, pr_store_lookup(s, def, &d, out, 4));
	CHECK_INT(1, pr_store_lookup(s, ts, &d, out, 4));
	/* a destination under every tuple */
	CHECK_INT(2, pr_store_remove_dgid(s, &g2));
	pr_store_stats(s, &st);
	CHECK_INT(1, st.entries);
	/* an added record: its SGID's tuple, the generation it was given */
	pr_store_flush(s);
	CHECK_INT(0, pr_store_add(s, &added, &cli, 0));
	d = dest(6);
	CHECK_INT(1, pr_store_lookup(s, def, &d, out, 4));
	pr_cache_foreach(pr_store_cache(s), dump_gen, &gen);
	CHECK_INT(0, gen);
	pr_store_free(s);
}

static void test_negatives(void)
{
	struct pr_store *s = new_store(500, 0), *off = new_store(0, 0);
	struct pr_request d = dest(5), l = { .has = PR_REQ_DLID, .dlid = 5 }, both = d;
	struct pr_request svc = { .service_id = 7, .tuple_flags = PR_TUPLE_SERVICE_ID };
	struct ibv_path_record r = rec_of(5, 5, 0, 1);
	union ibv_gid g5 = gid_of(5);
	uint16_t def = pr_store_default_tuple(s), ts;

	both.has |= PR_REQ_DLID;
	both.dlid = 5;
	CHECK_INT(0, pr_store_put_negative(s, def, &d, 1000));
	CHECK_INT(0, pr_store_put_negative(s, def, &l, 1000));
	CHECK_INT(0, pr_store_put_negative(s, def, &both, 1000));
	CHECK(pr_store_negative(s, def, &d, 1499));
	CHECK(!pr_store_negative(s, def, &d, 1500));
	CHECK(pr_store_negative(s, def, &l, 1000));
	CHECK(!pr_store_negative(s, def, &both, 1000));	/* never for both together */
	/* an answer clears "no path" for its DGID and its DLID */
	CHECK_INT(0, pr_store_replace(s, def, &g5, &r, 1, NULL, 1100));
	CHECK(!pr_store_negative(s, def, &d, 1200));
	CHECK(!pr_store_negative(s, def, &l, 1200));
	/* a TTL of 0 keeps none */
	CHECK_INT(0, pr_store_put_negative(off, def, &d, 1000));
	CHECK(!pr_store_negative(off, def, &d, 1000));
	/* the GID is back: its negatives go under every tuple, even past a hole in the ids */
	CHECK_INT(0, pr_store_tuple(s, &svc, true, &ts));
	CHECK_INT(0, pr_store_put_negative(s, ts, &d, 2000));
	CHECK_INT(0, pr_store_put_negative(s, def, &d, 2000));
	pr_store_clear_negatives(s, &g5, 2100);
	CHECK(!pr_store_negative(s, def, &d, 2100));
	CHECK(!pr_store_negative(s, ts, &d, 2100));
	pr_store_free(off);
	pr_store_free(s);
}

/* The GID is back: "no path" goes under every tuple, also past the holes that reclaimed tuple
 * ids leave (the resolver once walked the ids up to the first free one). */
static void test_negatives_past_hole(void)
{
	struct pr_store *s = new_store(500, 0);
	struct pr_request r = { .tuple_flags = PR_TUPLE_SERVICE_ID }, d = dest(5);
	union ibv_gid g5 = gid_of(5);
	uint16_t id = 0, last = 0;
	unsigned bad = 0;

	for (unsigned i = 1; i < PR_TUPLE_MAX; i++) {
		r.service_id = i;
		bad += pr_store_tuple(s, &r, true, &id) != 0;
		bad += pr_store_put_negative(s, id, &d, 1000) != 0;
		last = id;
	}
	CHECK_INT(0, bad);
	/* at the cap, every tuple holding a negative: a batch of the oldest is evicted (ids 1..64),
	 * the new tuple takes one id, the others stay free */
	r.service_id = 0x9999;
	CHECK_INT(0, pr_store_tuple(s, &r, true, &id));
	CHECK(pr_cache_tuple_get(pr_store_cache(s), 1) == NULL);
	CHECK(pr_store_negative(s, last, &d, 1100));
	pr_store_clear_negatives(s, &g5, 1100);
	CHECK(!pr_store_negative(s, last, &d, 1100));
	pr_store_free(s);
}

static void watched(void *arg)
{
	(*(unsigned *)arg)++;
}

static void test_stale_and_watch(void)
{
	struct pr_store *never = new_store(0, 0), *s = new_store(0, 1000);
	struct ibv_path_record r = rec_of(5, 5, 0, 1);
	unsigned changes = 0;

	CHECK(!pr_store_stale(never, 1000000));
	pr_store_sa_answered(s, 5000);
	CHECK_INT(5000, pr_store_last_sa_answer(s));
	CHECK(!pr_store_stale(s, 6000));
	CHECK(pr_store_stale(s, 6001));
	pr_store_watch(s, watched, &changes);
	CHECK_INT(0, pr_store_load(s, pr_store_default_tuple(s), &r, 1, NULL, PR_LOAD_FULL, 0, NULL));
	CHECK(changes >= 1);
	changes = 0;
	pr_store_flush(s);
	CHECK_INT(1, changes);
	pr_store_watch(s, NULL, NULL);
	pr_store_free(never);
	pr_store_free(s);
}

/* Two ports in one store: each SGID's table answers whole, its fills set the generation, and a
 * port that goes takes its paths and tables with it, the other port's staying. */
static void test_ports(void)
{
	struct pr_store *s = new_store(1000, 0);
	union ibv_gid own = gid_of(1), second = gid_of(2);
	struct pr_request p2 = { .has = PR_REQ_SGID, .sgid = gid_of(2) };
	struct pr_request p2svc = p2, def_req = { 0 };
	struct ibv_path_record a = rec_of(7, 7, 0, 1), b[2] = { rec_of(8, 8, 0, 2),
								rec_of(9, 9, 0, 3) };
	struct ibv_path_record *t;
	uint16_t t1, t2, ts;
	size_t n;

	memcpy(&b[0].sgid, &second, sizeof(second));
	memcpy(&b[1].sgid, &second, sizeof(second));
	CHECK_INT(0, pr_store_port_add(s, &own, &t1));
	CHECK_INT(pr_store_default_tuple(s), t1);
	CHECK_INT(0, pr_store_port_add(s, &second, &t2));
	CHECK(t1 != t2);
	/* answered before any load, like the default table: empty */
	CHECK_INT(0, pr_store_table(s, &p2, &t, &n));
	CHECK_INT(0, n);
	free(t);
	CHECK_INT(0, pr_store_load(s, t1, &a, 1, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_INT(0, pr_store_load(s, t2, b, 2, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_INT(2, pr_store_generation(s));	/* the second port's fill counts too */
	CHECK_TABLE(s, &p2, 2, 3);
	CHECK_TABLE(s, &def_req, 1);
	p2svc.service_id = 0x42;
	p2svc.tuple_flags = PR_TUPLE_SERVICE_ID;
	CHECK_INT(0, pr_store_tuple(s, &p2svc, true, &ts));
	CHECK_INT(0, pr_store_table_add(s, ts));
	CHECK_INT(0, pr_store_load(s, ts, b, 2, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	/* a push for that SGID: its paths go with the port too */
	CHECK_INT(0, pr_store_push(s, b, 2, &(struct pr_origin){ PR_SRC_SET, 3, 0 }, false, 0, &n));
	CHECK_INT(4, pr_store_port_remove(s, &second));
	CHECK_INT(-ENOENT, pr_store_table(s, &p2, &t, &n));
	CHECK_INT(-ENOENT, pr_store_table(s, &p2svc, &t, &n));
	CHECK_TABLE(s, &def_req, 1);
	/* back: its table answers again, and a prefetched table may be added again */
	CHECK_INT(0, pr_store_port_add(s, &second, &t2));
	CHECK_INT(0, pr_store_table(s, &p2, &t, &n));
	CHECK_INT(0, n);
	free(t);
	CHECK_INT(0, pr_store_tuple(s, &p2svc, true, &ts));
	CHECK_INT(0, pr_store_table_add(s, ts));
	/* a flush keeps the ports' tables answered */
	pr_store_flush(s);
	CHECK_INT(0, pr_store_table(s, &p2, &t, &n));
	free(t);
	/* the own port gone: its paths go, its table stays, empty */
	CHECK_INT(0, pr_store_load(s, t1, &a, 1, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_INT(1, pr_store_port_remove(s, &own));
	CHECK_INT(0, pr_store_table(s, &def_req, &t, &n));
	CHECK_INT(0, n);
	free(t);
	pr_store_free(s);

	/* made before its ports: the first port added is the own one */
	struct pr_store_opts o = { 1000, 1000, 1000, 0 };

	CHECK_INT(0, pr_store_new(&o, NULL, &s));
	CHECK_INT(0, pr_store_port_add(s, &second, &t2));
	CHECK_INT(pr_store_default_tuple(s), t2);
	CHECK_INT(0, pr_store_port_add(s, &own, &t1));
	CHECK(t1 != t2);
	CHECK_INT(0, pr_store_load(s, t2, b, 2, NULL, PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	CHECK_TABLE(s, &def_req, 2, 3);
	pr_store_free(s);
}

int main(void)
{
	test_requests();
	test_full_loads();
	test_tables();
	test_push();
	test_removal();
	test_negatives();
	test_negatives_past_hole();
	test_stale_and_watch();
	test_ports();
	return CHECK_DONE();
}
