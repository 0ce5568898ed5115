/*
 * test_cache_pr_cache.c - the PathRecord store: ordering, QoS tuples, negatives, generations,
 * caps, a randomized run against an array-scan reference model, and a 1M-record scale check.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/pr_cache.h"
#include "check.h"
#include "pr_fixture.h"

static uint32_t tag_of(const struct pr_entry *e)
{
	return be32toh(e->rec.flowlabel_hoplimit);
}

static uint8_t sl_of(const struct pr_entry *e)
{
	return be16toh(e->rec.qosclass_sl) & 0xf;
}

static struct pr_cache *new_cache(uint32_t max_entries, uint32_t max_negative)
{
	struct pr_cache_limits lim = { .max_entries = max_entries, .max_negative = max_negative };
	struct pr_cache *c = NULL;

	CHECK_INT(0, pr_cache_new(&lim, &c));
	return c;
}

static uint16_t default_tuple(struct pr_cache *c)
{
	struct pr_tuple t = { .sgid = gid_of(1) };
	uint16_t id = 0xdead;

	CHECK_INT(0, pr_cache_tuple(c, &t, true, &id));
	return id;
}

/* Check that a lookup returns exactly the tags in order. */
#define CHECK_TAGS(out, got, ...)                                                        \
	do {                                                                             \
		const uint32_t want_[] = { __VA_ARGS__ };                                \
		size_t nw_ = sizeof(want_) / sizeof(want_[0]);                           \
		CHECK_INT(nw_, got);                                                     \
		for (size_t k_ = 0; k_ < nw_ && k_ < (size_t)(got); k_++)                \
			CHECK_INT(want_[k_], tag_of((out)[k_]));                         \
	} while (0)

/* --- behaviour --- */

static void test_lookup_order(void)
{
	struct pr_cache *c = new_cache(100, 10);
	uint16_t t = default_tuple(c);
	union ibv_gid a = gid_of(0xa);
	struct ibv_path_record recs[3] = {
		rec_of(0xa, 12, 0, 1), rec_of(0xa, 10, 0, 2), rec_of(0xa, 11, 0, 3),
	};
	struct pr_origin o = { .source = PR_SRC_SA, .generation = 7 };
	const struct pr_entry *out[4] = { NULL };
	struct pr_cache_stats st;
	size_t n;

	CHECK_INT(0, pr_cache_replace(c, t, &a, recs, 3, &o, 5500));
	n = pr_cache_lookup_dgid(c, t, &a, out, 4);
	CHECK_TAGS(out, n, 1, 2, 3);
	CHECK_INT(7, out[0]->generation);
	CHECK_INT(5, out[0]->added_s);
	CHECK_INT(t, out[0]->tuple);
	CHECK_INT(PR_SRC_SA, out[0]->source);
	CHECK_MEM(&recs[0], &out[0]->rec, sizeof(recs[0]));

	/* fewer slots than paths: the count, and the first ones in order */
	memset(out, 0, sizeof(out));
	CHECK_INT(3, pr_cache_lookup_dgid(c, t, &a, out, 2));
	CHECK_INT(1, tag_of(out[0]));
	CHECK_INT(2, tag_of(out[1]));
	CHECK(out[2] == NULL);
	CHECK_INT(3, pr_cache_lookup_dgid(c, t, &a, NULL, 0));

	n = pr_cache_lookup_dlid(c, t, 11, out, 4);
	CHECK_TAGS(out, n, 3);
	CHECK_INT(0, pr_cache_lookup_dlid(c, t, 13, out, 4));
	union ibv_gid b = gid_of(0xb);
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &b, out, 4));
	CHECK_INT(0, pr_cache_lookup_dgid(c, t + 1, &a, out, 4));

	pr_cache_stats(c, &st);
	CHECK_INT(3, st.entries);
	CHECK_INT(1, st.destinations);
	CHECK_INT(1, st.tuples);
	CHECK(st.bytes > 0);
	pr_cache_free(c);
	pr_cache_free(NULL);
}

static void test_replace(void)
{
	struct pr_cache *c = new_cache(100, 10);
	uint16_t t = default_tuple(c);
	union ibv_gid a = gid_of(0xa), b = gid_of(0xb);
	struct ibv_path_record ra[3] = { rec_of(0xa, 1, 0, 1), rec_of(0xa, 2, 0, 2),
					 rec_of(0xa, 3, 0, 3) };
	struct ibv_path_record ra2[2] = { rec_of(0xa, 3, 0, 4), rec_of(0xa, 1, 0, 5) };
	struct ibv_path_record rb = rec_of(0xb, 9, 0, 6);
	const struct pr_entry *out[4];
	struct pr_cache_stats st;
	size_t n;

	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 3, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, t, &b, &rb, 1, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, t, &a, ra2, 2, NULL, 0));
	n = pr_cache_lookup_dgid(c, t, &a, out, 4);
	CHECK_TAGS(out, n, 4, 5);
	n = pr_cache_lookup_dlid(c, t, 2, out, 4);
	CHECK_INT(0, n);
	n = pr_cache_lookup_dlid(c, t, 1, out, 4);
	CHECK_TAGS(out, n, 5);
	n = pr_cache_lookup_dgid(c, t, &b, out, 4);
	CHECK_TAGS(out, n, 6);

	/* a record filed under another DGID is refused, nothing changes */
	CHECK_INT(-EINVAL, pr_cache_replace(c, t, &a, &rb, 1, NULL, 0));
	CHECK_INT(-EINVAL, pr_cache_replace(c, 99, &a, ra, 1, NULL, 0));
	struct pr_origin bad = { .source = 7 };
	CHECK_INT(-EINVAL, pr_cache_replace(c, t, &a, ra, 1, &bad, 0));
	CHECK_INT(2, pr_cache_lookup_dgid(c, t, &a, out, 4));

	/* n == 0 removes */
	CHECK_INT(0, pr_cache_replace(c, t, &a, NULL, 0, NULL, 0));
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &a, out, 4));
	pr_cache_stats(c, &st);
	CHECK_INT(1, st.entries);
	CHECK_INT(1, st.destinations);

	/* the origin is recorded */
	struct pr_origin set = { .source = PR_SRC_SET, .lid = 77, .generation = 3 };
	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 1, &set, 0));
	CHECK_INT(1, pr_cache_lookup_dgid(c, t, &a, out, 4));
	CHECK_INT(PR_SRC_SET, out[0]->source);
	CHECK_INT(77, out[0]->source_lid);
	CHECK_INT(3, out[0]->generation);
	pr_cache_free(c);
}

static void test_load(void)
{
	struct pr_cache *c = new_cache(100, 10);
	uint16_t t = default_tuple(c);
	union ibv_gid a = gid_of(0xa), b = gid_of(0xb), cc = gid_of(0xc), d = gid_of(0xd);
	struct ibv_path_record rd = rec_of(0xd, 40, 0, 100);
	/* records of one DGID are not adjacent */
	struct ibv_path_record recs[6] = {
		rec_of(0xa, 10, 0, 1), rec_of(0xb, 20, 0, 2), rec_of(0xa, 11, 0, 3),
		rec_of(0xc, 30, 0, 4), rec_of(0xb, 21, 0, 5), rec_of(0xa, 12, 0, 6),
	};
	struct ibv_path_record again[3] = {
		rec_of(0xb, 22, 0, 7), rec_of(0xc, 31, 0, 8), rec_of(0xb, 20, 0, 9),
	};
	const struct pr_entry *out[8];
	struct pr_cache_stats st;
	size_t n;

	CHECK_INT(0, pr_cache_replace(c, t, &d, &rd, 1, NULL, 0));
	CHECK_INT(6, pr_cache_load(c, t, recs, 6, NULL, 0));
	n = pr_cache_lookup_dgid(c, t, &a, out, 8);
	CHECK_TAGS(out, n, 1, 3, 6);
	n = pr_cache_lookup_dgid(c, t, &b, out, 8);
	CHECK_TAGS(out, n, 2, 5);
	n = pr_cache_lookup_dgid(c, t, &cc, out, 8);
	CHECK_TAGS(out, n, 4);
	n = pr_cache_lookup_dgid(c, t, &d, out, 8);
	CHECK_TAGS(out, n, 100);

	/* a second load replaces the sets of the DGIDs it carries and no others */
	CHECK_INT(3, pr_cache_load(c, t, again, 3, NULL, 0));
	n = pr_cache_lookup_dgid(c, t, &a, out, 8);
	CHECK_TAGS(out, n, 1, 3, 6);
	n = pr_cache_lookup_dgid(c, t, &b, out, 8);
	CHECK_TAGS(out, n, 7, 9);
	n = pr_cache_lookup_dgid(c, t, &cc, out, 8);
	CHECK_TAGS(out, n, 8);
	n = pr_cache_lookup_dlid(c, t, 20, out, 8);
	CHECK_TAGS(out, n, 9);
	n = pr_cache_lookup_dlid(c, t, 30, out, 8);
	CHECK_INT(0, n);
	pr_cache_stats(c, &st);
	CHECK_INT(7, st.entries);
	CHECK_INT(4, st.destinations);
	CHECK_INT(0, pr_cache_load(c, t, NULL, 0, NULL, 0));
	CHECK_INT(-EINVAL, pr_cache_load(c, 5, recs, 1, NULL, 0));
	pr_cache_free(c);
}

static void test_qos_tuples(void)
{
	struct pr_cache *c = new_cache(100, 10);
	struct pr_tuple def = { .sgid = gid_of(1) };
	struct pr_tuple svc = { .sgid = gid_of(1), .service_id = 0x1000,
				.flags = PR_TUPLE_SERVICE_ID };
	/* unspecified fields are ignored: this is the same request class as svc */
	struct pr_tuple svc2 = { .sgid = gid_of(1), .service_id = 0x1000, .pkey = 0x8001,
				 .sl = 9, .flags = PR_TUPLE_SERVICE_ID };
	struct pr_tuple pk = { .sgid = gid_of(1), .pkey = 0x8001, .flags = PR_TUPLE_PKEY };
	uint16_t td = 0, ts = 0, ts2 = 0, tp = 0;
	union ibv_gid a = gid_of(0xa);
	struct ibv_path_record r_def = rec_of(0xa, 5, 0, 1);
	struct ibv_path_record r_svc[2] = { rec_of(0xa, 5, 5, 2), rec_of(0xa, 6, 5, 3) };
	const struct pr_entry *out[4];
	size_t n;

	CHECK_INT(-ENOENT, pr_cache_tuple(c, &def, false, &td));
	CHECK_INT(0, pr_cache_tuple(c, &def, true, &td));
	CHECK_INT(0, pr_cache_tuple(c, &svc, true, &ts));
	CHECK_INT(0, pr_cache_tuple(c, &svc2, false, &ts2));
	CHECK_INT(0, pr_cache_tuple(c, &pk, true, &tp));
	CHECK(td != ts);
	CHECK_INT(ts, ts2);
	CHECK(tp != ts && tp != td);
	CHECK_INT(0, pr_cache_tuple(c, &def, false, &ts2));
	CHECK_INT(td, ts2);
	CHECK_INT(0x1000, pr_cache_tuple_get(c, ts)->service_id);
	CHECK_INT(0, pr_cache_tuple_get(c, ts)->pkey);
	CHECK_INT(PR_TUPLE_SERVICE_ID, pr_cache_tuple_get(c, ts)->flags);
	CHECK(pr_cache_tuple_get(c, 3) == NULL);
	struct pr_tuple bad = { .flags = 0x80 };
	CHECK_INT(-EINVAL, pr_cache_tuple(c, &bad, true, &ts2));
	struct pr_tuple badsl = { .sl = 16, .flags = PR_TUPLE_SL };
	CHECK_INT(-EINVAL, pr_cache_tuple(c, &badsl, true, &ts2));

	CHECK_INT(1, pr_cache_load(c, td, &r_def, 1, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, ts, &a, r_svc, 2, NULL, 0));
	n = pr_cache_lookup_dgid(c, td, &a, out, 4);
	CHECK_TAGS(out, n, 1);
	CHECK_INT(0, sl_of(out[0]));
	n = pr_cache_lookup_dgid(c, ts, &a, out, 4);
	CHECK_TAGS(out, n, 2, 3);
	CHECK_INT(5, sl_of(out[0]));
	CHECK_INT(5, sl_of(out[1]));
	n = pr_cache_lookup_dlid(c, td, 5, out, 4);
	CHECK_TAGS(out, n, 1);
	n = pr_cache_lookup_dlid(c, ts, 5, out, 4);
	CHECK_TAGS(out, n, 2);
	CHECK_INT(0, pr_cache_lookup_dgid(c, tp, &a, out, 4));

	/* replacing or removing one class leaves the other alone */
	CHECK_INT(0, pr_cache_replace(c, td, &a, NULL, 0, NULL, 0));
	n = pr_cache_lookup_dgid(c, ts, &a, out, 4);
	CHECK_TAGS(out, n, 2, 3);
	struct pr_cache_stats st;
	pr_cache_stats(c, &st);
	CHECK_INT(1, st.destinations);
	CHECK_INT(3, st.tuples);
	pr_cache_free(c);
}

/* Interns PR_TUPLE_MAX ServiceID tuples (ids 0 .. PR_TUPLE_MAX-1); returns the failures. */
static unsigned fill_tuples(struct pr_cache *c, uint64_t base)
{
	struct pr_tuple t = { .sgid = gid_of(1), .flags = PR_TUPLE_SERVICE_ID };
	unsigned bad = 0;
	uint16_t id;

	for (unsigned i = 0; i < PR_TUPLE_MAX; i++) {
		t.service_id = base + i;
		bad += pr_cache_tuple(c, &t, true, &id) != 0;
	}
	return bad;
}

/* At the cap every tuple pinned: -ENOSPC, nothing changes. Unpinned and unreferenced: the
 * least recently used one gives its id (issue 13, item 6: tuples were never freed). */
static void test_tuple_cap(void)
{
	struct pr_cache *c = new_cache(10, 10);
	struct pr_tuple t = { .sgid = gid_of(1), .flags = PR_TUPLE_SERVICE_ID };
	const struct pr_tuple *first;
	struct pr_cache_stats st;
	uint16_t id = 0;
	int r = 0;

	for (unsigned i = 0; i < PR_TUPLE_MAX && !r; i++) {
		t.service_id = i;
		r = pr_cache_tuple(c, &t, true, &id);
		if (!r && id != i)
			r = -1;
		if (!r)
			r = pr_cache_tuple_pin(c, id);
	}
	CHECK_INT(0, r);
	first = pr_cache_tuple_get(c, 0);
	t.service_id = PR_TUPLE_MAX;
	id = 0xbeef;
	CHECK_INT(-ENOSPC, pr_cache_tuple(c, &t, true, &id));
	CHECK_INT(0xbeef, id);
	t.service_id = 1234;
	CHECK_INT(0, pr_cache_tuple(c, &t, false, &id));
	CHECK_INT(1234, id);
	CHECK(first == pr_cache_tuple_get(c, 0));

	/* unpin 7 and 9; 9 is then used again: 7 is the least recently used free one */
	pr_cache_tuple_unpin(c, 7);
	pr_cache_tuple_unpin(c, 9);
	t.service_id = 9;
	CHECK_INT(0, pr_cache_tuple(c, &t, false, &id));
	t.service_id = 0x10000;
	CHECK_INT(0, pr_cache_tuple(c, &t, true, &id));
	CHECK_INT(7, id);
	CHECK_INT(0x10000, pr_cache_tuple_get(c, 7)->service_id);
	t.service_id = 7;
	CHECK_INT(-ENOENT, pr_cache_tuple(c, &t, false, &id));
	t.service_id = 0x10001;
	CHECK_INT(0, pr_cache_tuple(c, &t, true, &id));
	CHECK_INT(9, id);
	/* new tuples are not pinned: the older of the two goes next */
	t.service_id = 0x10002;
	CHECK_INT(0, pr_cache_tuple(c, &t, true, &id));
	CHECK_INT(7, id);
	pr_cache_stats(c, &st);
	CHECK_INT(PR_TUPLE_MAX, st.tuples);
	CHECK_INT(PR_TUPLE_MAX, st.tuples_live);
	CHECK_INT(3, st.tuples_reclaimed);
	CHECK_INT(-EINVAL, pr_cache_tuple_pin(c, PR_TUPLE_MAX));
	pr_cache_free(c);
}

/*
 * Tuples that hold answers: a tuple with pushed paths is never reclaimed; one with only SA
 * answers and negatives is evicted with them when no tuple is free, least recently used first;
 * a pinned one stays. A flood of new tuples thus never locks the table, and never drops pushes.
 */
static void test_tuple_reclaim(void)
{
	struct pr_cache *c = new_cache(100, 2 * PR_TUPLE_MAX);
	struct pr_origin set = { PR_SRC_SET, 7, 0 };
	struct pr_tuple t = { .sgid = gid_of(1), .flags = PR_TUPLE_SERVICE_ID };
	struct ibv_path_record r1 = rec_of(0xa, 10, 1, 1), r2 = rec_of(0xb, 11, 2, 2);
	const struct pr_entry *out[2];
	union ibv_gid ga = gid_of(0xa), gb = gid_of(0xb), gc = gid_of(0xc);
	struct pr_cache_stats st;
	unsigned bad = 0;
	uint16_t id;

	CHECK_INT(0, fill_tuples(c, 0));
	/* 0: a pushed path; 1: an SA answer; 2: a negative; 3: an SA answer, pinned; the others
	 * a negative each, and used again since, so that 0..3 are the least recently used */
	CHECK_INT(0, pr_cache_replace(c, 0, &ga, &r1, 1, &set, 0));
	CHECK_INT(0, pr_cache_replace(c, 1, &gb, &r2, 1, NULL, 0));
	CHECK_INT(0, pr_cache_put_negative_dgid(c, 2, &gc, 1000));
	CHECK_INT(0, pr_cache_replace(c, 3, &ga, &r1, 1, NULL, 0));
	CHECK_INT(0, pr_cache_tuple_pin(c, 3));
	for (unsigned i = 4; i < PR_TUPLE_MAX; i++) {
		t.service_id = i;
		bad += pr_cache_tuple(c, &t, false, &id) != 0 || id != i;
		bad += pr_cache_put_negative_dlid(c, id, 99, 1000) != 0;
	}
	CHECK_INT(0, bad);
	/* no tuple is free: a batch of the oldest that hold only SA answers goes (1, 2, 4..65),
	 * never 0 (pushed) nor 3 (pinned); their answers go with them */
	t.service_id = 0x20000;
	CHECK_INT(0, pr_cache_tuple(c, &t, true, &id));
	CHECK_INT(65, id);
	CHECK(pr_cache_tuple_get(c, 0) != NULL);
	CHECK(pr_cache_tuple_get(c, 3) != NULL);
	CHECK(pr_cache_tuple_get(c, 1) == NULL);
	CHECK(pr_cache_tuple_get(c, 2) == NULL);
	CHECK(pr_cache_tuple_get(c, 66) != NULL);
	CHECK_INT(1, pr_cache_lookup_dgid(c, 0, &ga, out, 2));
	CHECK_INT(1, pr_cache_lookup_dgid(c, 3, &ga, out, 2));
	t.service_id = 1;
	CHECK_INT(-ENOENT, pr_cache_tuple(c, &t, false, &id));
	pr_cache_stats(c, &st);
	CHECK_INT(2, st.entries);
	CHECK_INT(PR_TUPLE_MAX - 64 + 1, st.tuples_live);
	CHECK_INT(1 + (PR_TUPLE_MAX - 4) - 1 - 62, st.negatives);
	CHECK_INT(64, st.tuples_reclaimed);
	/* a reclaimed id is reused clean */
	t.service_id = 0x20001;
	CHECK_INT(0, pr_cache_tuple(c, &t, true, &id));
	CHECK_INT(64, id);
	CHECK_INT(0, pr_cache_lookup_dgid(c, id, &gb, out, 2));
	CHECK(!pr_cache_negative_dlid(c, id, 99, 0));
	/* a flush drops every path and negative: all but the pinned tuple can be reused */
	pr_cache_flush(c);
	CHECK_INT(0, fill_tuples(c, 0x30000));
	CHECK(pr_cache_tuple_get(c, 3) != NULL && pr_cache_tuple_get(c, 3)->service_id == 3);
	pr_cache_tuple_unpin(c, 3);
	pr_cache_stats(c, &st);
	CHECK_INT(PR_TUPLE_MAX, st.tuples_live);
	pr_cache_free(c);
}

static void test_negatives(void)
{
	struct pr_cache *c = new_cache(100, 3);
	uint16_t t = default_tuple(c);
	union ibv_gid a = gid_of(0xa), b = gid_of(0xb);
	struct ibv_path_record ra = rec_of(0xa, 7, 0, 1);
	struct pr_cache_stats st;

	CHECK(!pr_cache_negative_dgid(c, t, &a, 0));
	CHECK_INT(0, pr_cache_put_negative_dgid(c, t, &a, 1000));
	CHECK(pr_cache_negative_dgid(c, t, &a, 999));
	CHECK(!pr_cache_negative_dgid(c, t, &a, 1000));
	CHECK(!pr_cache_negative_dgid(c, t, &b, 0));
	CHECK(!pr_cache_negative_dgid(c, t + 1, &a, 0));
	CHECK_INT(0, pr_cache_put_negative_dlid(c, t, 7, 2000));
	CHECK(pr_cache_negative_dlid(c, t, 7, 1500));
	CHECK(!pr_cache_negative_dlid(c, t, 8, 1500));
	CHECK_INT(-EINVAL, pr_cache_put_negative_dlid(c, 9, 7, 2000));

	/* a put on an existing key moves its expiry */
	CHECK_INT(0, pr_cache_put_negative_dgid(c, t, &a, 3000));
	CHECK(pr_cache_negative_dgid(c, t, &a, 2500));
	CHECK_INT(0, pr_cache_put_negative_dgid(c, t, &b, 10));
	CHECK_INT(-ENOSPC, pr_cache_put_negative_dlid(c, t, 9, 10));
	pr_cache_stats(c, &st);
	CHECK_INT(3, st.negatives);

	/* a positive answer clears the negatives of its DGID and DLID */
	CHECK_INT(0, pr_cache_replace(c, t, &a, &ra, 1, NULL, 0));
	CHECK(!pr_cache_negative_dgid(c, t, &a, 0));
	CHECK(!pr_cache_negative_dlid(c, t, 7, 0));
	CHECK(pr_cache_negative_dgid(c, t, &b, 0));

	/* expired negatives read as absent and are reclaimed on request */
	CHECK_INT(0, pr_cache_put_negative_dlid(c, t, 9, 500));
	CHECK_INT(0, pr_cache_put_negative_dlid(c, t, 10, 600));
	CHECK_INT(-ENOSPC, pr_cache_put_negative_dlid(c, t, 11, 600));
	CHECK_INT(2, pr_cache_expire_negatives(c, 500));
	CHECK(!pr_cache_negative_dgid(c, t, &b, 0));
	CHECK(pr_cache_negative_dlid(c, t, 10, 0));
	CHECK_INT(0, pr_cache_put_negative_dlid(c, t, 11, 600));
	pr_cache_stats(c, &st);
	CHECK_INT(2, st.negatives);

	/* load clears them too */
	struct ibv_path_record r11 = rec_of(0xe, 11, 0, 2);
	CHECK_INT(1, pr_cache_load(c, t, &r11, 1, NULL, 0));
	CHECK(!pr_cache_negative_dlid(c, t, 11, 0));
	CHECK(pr_cache_negative_dlid(c, t, 10, 0));
	pr_cache_free(c);

	c = new_cache(10, 0);
	t = default_tuple(c);
	CHECK_INT(-ENOSPC, pr_cache_put_negative_dgid(c, t, &a, 1));
	pr_cache_free(c);
}

static void test_sweep(void)
{
	struct pr_cache *c = new_cache(100, 10);
	uint16_t t = default_tuple(c);
	struct pr_tuple st2 = { .sgid = gid_of(1), .sl = 2, .flags = PR_TUPLE_SL };
	uint16_t t2 = 0;
	struct ibv_path_record r1[3] = { rec_of(0xa, 1, 0, 1), rec_of(0xb, 2, 0, 2),
					 rec_of(0xc, 3, 0, 3) };
	struct ibv_path_record r2[2] = { rec_of(0xa, 1, 0, 4), rec_of(0xb, 2, 0, 5) };
	struct ibv_path_record rset = rec_of(0xd, 4, 0, 6);
	union ibv_gid a = gid_of(0xa), cc = gid_of(0xc), d = gid_of(0xd);
	const struct pr_entry *out[4];
	struct pr_origin o = { .source = PR_SRC_SA };
	struct pr_origin os = { .source = PR_SRC_SET, .lid = 3 };
	uint32_t g1, g2;
	size_t n;

	CHECK_INT(0, pr_cache_tuple(c, &st2, true, &t2));
	g1 = pr_cache_begin_generation(c);
	CHECK_INT(1, g1);
	o.generation = g1;
	os.generation = g1;
	CHECK_INT(3, pr_cache_load(c, t, r1, 3, &o, 0));
	CHECK_INT(3, pr_cache_load(c, t2, r1, 3, &o, 0));
	CHECK_INT(0, pr_cache_replace(c, t, &d, &rset, 1, &os, 0));

	g2 = pr_cache_begin_generation(c);
	CHECK_INT(2, g2);
	o.generation = g2;
	CHECK_INT(2, pr_cache_load(c, t, r2, 2, &o, 0));
	CHECK_INT(1, pr_cache_sweep(c, t, PR_SRC_SA, g2));
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &cc, out, 4));
	n = pr_cache_lookup_dgid(c, t, &a, out, 4);
	CHECK_TAGS(out, n, 4);
	CHECK_INT(g2, out[0]->generation);
	/* other sources and other tuples are not swept */
	n = pr_cache_lookup_dgid(c, t, &d, out, 4);
	CHECK_TAGS(out, n, 6);
	CHECK_INT(1, pr_cache_lookup_dgid(c, t2, &cc, out, 4));
	CHECK_INT(0, pr_cache_sweep(c, t, PR_SRC_SA, g2));
	CHECK_INT(3, pr_cache_sweep(c, t2, PR_SRC_SA, g2));
	CHECK_INT(1, pr_cache_sweep(c, t, PR_SRC_SET, g2));
	struct pr_cache_stats s;
	pr_cache_stats(c, &s);
	CHECK_INT(2, s.entries);
	CHECK_INT(2, s.destinations);
	pr_cache_free(c);
}

static double ms_since(const struct timespec *t0);

/* Keys the journal holds since position from, as "tuple:guid" words, for comparison. */
static void journal_text(const struct pr_cache *c, uint64_t from, char *buf, size_t cap)
{
	const struct pr_change *k;
	size_t n = 0, len = 0;

	buf[0] = '\0';
	CHECK_INT(0, pr_cache_journal(c, from, &k, &n));
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%u:%llx", i ? " " : "", k[i].tuple,
					(unsigned long long)be64toh(k[i].dgid.global.interface_id));
}

/* The change journal: every destination whose paths a call changed, in order, once per run. */
static bool every_path(const struct pr_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return true;
}

/*
 * A refresh overwrites a destination's paths where they stand when it brings as many, with the
 * same DLIDs in the same order: the same entries, the new generation, journaled only if a
 * record differs. Otherwise (a DLID moved, a count changed, the GUID in two runs) the paths are
 * replaced and indexed anew. A refused load leaves no mark behind.
 */
static void test_refresh_in_place(void)
{
	struct pr_cache *c = new_cache(6, 10);
	uint16_t t = default_tuple(c);
	struct ibv_path_record r[4] = { rec_of(0xa, 1, 0, 1), rec_of(0xa, 2, 0, 2),
					rec_of(0xb, 3, 0, 3), rec_of(0xc, 4, 0, 4) };
	union ibv_gid a = gid_of(0xa), b = gid_of(0xb), cg = gid_of(0xc);
	struct pr_origin o = { .source = PR_SRC_SA };
	const struct pr_entry *out[4], *before[2];
	const struct pr_change *k;
	char text[256];
	uint64_t p;
	size_t n;

	CHECK_INT(4, pr_cache_load(c, t, r, 4, &o, 0));
	CHECK_INT(2, pr_cache_lookup_dgid(c, t, &a, before, 2));
	/* the same table, a new generation: same entries, nothing journaled, nothing swept */
	o.generation = pr_cache_begin_generation(c);
	p = pr_cache_journal_end(c);
	CHECK_INT(4, pr_cache_load(c, t, r, 4, &o, 0));
	CHECK_INT(0, pr_cache_journal(c, p, &k, &n));
	CHECK_INT(0, n);
	n = pr_cache_lookup_dgid(c, t, &a, out, 4);
	CHECK_TAGS(out, n, 1, 2);
	CHECK(out[0] == before[0] && out[1] == before[1]);
	CHECK_INT(o.generation, out[0]->generation);
	CHECK_INT(0, pr_cache_sweep(c, t, PR_SRC_SA, o.generation));
	/* one record differs (its tag): in place, and journaled */
	r[1].flowlabel_hoplimit = htobe32(20);
	CHECK_INT(4, pr_cache_load(c, t, r, 4, &o, 0));
	journal_text(c, p, text, sizeof(text));
	CHECK_STR("0:a", text);
	n = pr_cache_lookup_dgid(c, t, &a, out, 4);
	CHECK_TAGS(out, n, 1, 20);
	CHECK(out[1] == before[1]);
	n = pr_cache_lookup_dlid(c, t, 2, out, 4);
	CHECK_TAGS(out, n, 20);
	/* a DLID moves: replaced, and the DLID index follows */
	r[3] = rec_of(0xc, 9, 0, 9);
	p = pr_cache_journal_end(c);
	CHECK_INT(4, pr_cache_load(c, t, r, 4, &o, 0));
	journal_text(c, p, text, sizeof(text));
	CHECK_STR("0:c", text);
	CHECK_INT(0, pr_cache_lookup_dlid(c, t, 4, out, 4));
	n = pr_cache_lookup_dlid(c, t, 9, out, 4);
	CHECK_TAGS(out, n, 9);
	/* a count changes: b's one path becomes two */
	{
		struct ibv_path_record two[2] = { rec_of(0xb, 3, 0, 30), rec_of(0xb, 5, 0, 31) };

		CHECK_INT(2, pr_cache_load(c, t, two, 2, &o, 0));
		n = pr_cache_lookup_dgid(c, t, &b, out, 4);
		CHECK_TAGS(out, n, 30, 31);
	}
	/* a's paths in two runs (a, c, a): replaced, both runs in order */
	{
		struct ibv_path_record split[3] = { rec_of(0xa, 1, 0, 40), rec_of(0xc, 9, 0, 41),
						    rec_of(0xa, 2, 0, 42) };

		CHECK_INT(3, pr_cache_load(c, t, split, 3, &o, 0));
		n = pr_cache_lookup_dgid(c, t, &a, out, 4);
		CHECK_TAGS(out, n, 40, 42);
		n = pr_cache_lookup_dgid(c, t, &cg, out, 4);
		CHECK_TAGS(out, n, 41);
	}
	/* refused (the cap is 6: 5 held, a's two kept, two new destinations make 7): nothing
	 * changed, no mark left - remove_if still sees every path as live */
	{
		struct ibv_path_record big[4] = { rec_of(0xa, 1, 0, 40), rec_of(0xa, 2, 0, 42),
						  rec_of(0xd, 6, 0, 50), rec_of(0xe, 7, 0, 51) };
		struct pr_cache_stats st;

		pr_cache_stats(c, &st);
		CHECK_INT(5, st.entries);
		CHECK_INT(-ENOSPC, pr_cache_load(c, t, big, 4, &o, 0));
		n = pr_cache_lookup_dgid(c, t, &a, out, 4);
		CHECK_TAGS(out, n, 40, 42);
		CHECK_INT(5, pr_cache_remove_if(c, every_path, NULL));
	}
	pr_cache_free(c);
}

static void test_journal(void)
{
	struct pr_cache *c = new_cache(100000, 10);
	uint16_t t = default_tuple(c);
	struct ibv_path_record r[3] = { rec_of(0xa, 1, 0, 1), rec_of(0xa, 2, 0, 2),
					rec_of(0xb, 3, 0, 3) };
	struct ibv_path_record rz = rec_of(0xf, 9, 0, 9);
	union ibv_gid a = gid_of(0xa), z = gid_of(0xf);
	const struct pr_change *k;
	struct pr_origin o = { .source = PR_SRC_SA };
	char text[256];
	uint64_t p0 = pr_cache_journal_end(c), p1, p2;
	size_t n;

	CHECK_INT(0, pr_cache_journal(c, p0, &k, &n));
	CHECK_INT(0, n);
	CHECK_INT(-EINVAL, pr_cache_journal(c, p0 + 1, &k, &n));
	CHECK_INT(0, pr_cache_replace(c, t, &a, r, 2, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, t, &z, &rz, 1, NULL, 0));
	journal_text(c, p0, text, sizeof(text));
	CHECK_STR("0:a 0:f", text);
	p1 = pr_cache_journal_end(c);
	o.generation = pr_cache_begin_generation(c);
	/* a's paths come again unchanged (overwritten in place: no change to journal), b is new */
	CHECK_INT(3, pr_cache_load(c, t, r, 3, &o, 0));
	journal_text(c, p1, text, sizeof(text));
	CHECK_STR("0:b", text);
	p1 = pr_cache_journal_end(c);
	CHECK_INT(4, pr_cache_sweep(c, t, PR_SRC_SA, o.generation + 1));
	CHECK_INT(0, (int)pr_cache_remove_dgid(c, &a));	/* swept already: no change */
	journal_text(c, p1, text, sizeof(text));
	if (!strstr(text, "0:a") || !strstr(text, "0:b") || !strstr(text, "0:f"))
		fprintf(stderr, "journal after the sweep: %s\n", text);
	CHECK(strstr(text, "0:a") && strstr(text, "0:b") && strstr(text, "0:f"));
	CHECK_INT(0, pr_cache_journal(c, p1, &k, &n));
	CHECK(n >= 3 && n <= 4);
	/* a flush forgets: what came before can no longer be replayed */
	p2 = pr_cache_journal_end(c);
	CHECK_INT(0, pr_cache_replace(c, t, &a, r, 1, NULL, 0));
	pr_cache_flush(c);
	CHECK_INT(-ERANGE, pr_cache_journal(c, p2, &k, &n));
	p2 = pr_cache_journal_end(c);
	CHECK_INT(0, pr_cache_journal(c, p2, &k, &n));
	CHECK_INT(0, n);
	/* a window of about 1/8 of the paths (1,024 at least): more changes drop the oldest */
	{
		struct ibv_path_record *big = calloc(20000, sizeof(*big));

		for (uint32_t i = 0; i < 20000; i++)
			big[i] = rec_of(0x1000 + i, (uint16_t)(1 + i % 40000), 0, i);
		CHECK_INT(20000, pr_cache_load(c, t, big, 20000, NULL, 0));
		CHECK_INT(-ERANGE, pr_cache_journal(c, p2, &k, &n));
		p2 = pr_cache_journal_end(c);
		CHECK_INT(0, pr_cache_replace(c, t, &big[7].dgid, &big[8], 0, NULL, 0));
		CHECK_INT(0, pr_cache_journal(c, p2, &k, &n));
		CHECK_INT(1, n);
		CHECK_INT(0x1007, be64toh(k[0].dgid.global.interface_id));
		free(big);
	}
	pr_cache_free(c);
}

/*
 * A sweep costs the paths of its tuple, not the cache's: after each of 1,000 tuples' tables is
 * refreshed, its sweep must not walk the other 999 (issue 18: a 1M-pair refresh took 6 s).
 * 2,000 sweeps of a 10-path tuple beside 300,000 paths of another took ~1 s when a sweep walked
 * every path; the bound leaves two orders of magnitude for slow machines and sanitizers.
 */
static void test_sweep_cost(void)
{
	enum { BIG = 300000, SMALL = 10, SWEEPS = 2000 };
	struct pr_cache *c = new_cache(BIG + SMALL, 10);
	uint16_t t = default_tuple(c), t2 = 0;
	struct pr_tuple st2 = { .sgid = gid_of(2) };
	struct ibv_path_record *big = calloc(BIG, sizeof(*big)), small[SMALL];
	struct pr_origin o = { .source = PR_SRC_SA };
	struct timespec t0;
	double ms;

	CHECK_INT(0, pr_cache_tuple(c, &st2, true, &t2));
	for (uint32_t i = 0; i < BIG; i++)
		big[i] = rec_of(0x100000 + i, (uint16_t)(1 + i % 40000), 0, i);
	for (uint32_t i = 0; i < SMALL; i++)
		small[i] = rec_of(0x10 + i, (uint16_t)(1 + i), 0, i);
	o.generation = pr_cache_begin_generation(c);
	CHECK_INT(BIG, pr_cache_load(c, t, big, BIG, &o, 0));
	CHECK_INT(SMALL, pr_cache_load(c, t2, small, SMALL, &o, 0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < SWEEPS; i++)
		CHECK_INT(0, pr_cache_sweep(c, t2, PR_SRC_SA, o.generation));
	ms = ms_since(&t0);
	printf("sweep cost: %d sweeps of %d paths beside %d: %.2f ms\n", SWEEPS, SMALL, BIG, ms);
	CHECK(ms < 50);
	/* and it still sweeps: a new generation for half the small table */
	o.generation = pr_cache_begin_generation(c);
	CHECK_INT(SMALL / 2, pr_cache_load(c, t2, small, SMALL / 2, &o, 0));
	CHECK_INT(SMALL / 2, pr_cache_sweep(c, t2, PR_SRC_SA, o.generation));
	CHECK_INT(0, pr_cache_sweep(c, t, PR_SRC_SA, o.generation - 1));
	free(big);
	pr_cache_free(c);
}

static bool pred_sl(const struct pr_entry *e, void *arg)
{
	return sl_of(e) == *(uint8_t *)arg;
}

static void test_remove(void)
{
	struct pr_cache *c = new_cache(100, 10);
	uint16_t t = default_tuple(c), t2 = 0;
	struct pr_tuple svc = { .sgid = gid_of(1), .service_id = 1, .flags = PR_TUPLE_SERVICE_ID };
	union ibv_gid a = gid_of(0xa), b = gid_of(0xb);
	struct ibv_path_record ra[2] = { rec_of(0xa, 1, 3, 1), rec_of(0xa, 2, 0, 2) };
	struct ibv_path_record rb[2] = { rec_of(0xb, 3, 3, 3), rec_of(0xb, 4, 3, 4) };
	const struct pr_entry *out[4];
	struct pr_cache_stats st;
	uint8_t sl = 3;
	size_t n;

	CHECK_INT(0, pr_cache_tuple(c, &svc, true, &t2));
	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 2, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, t2, &a, ra, 2, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, t, &b, rb, 2, NULL, 0));
	CHECK_INT(4, pr_cache_remove_dgid(c, &a));
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &a, out, 4));
	CHECK_INT(0, pr_cache_lookup_dgid(c, t2, &a, out, 4));
	CHECK_INT(0, pr_cache_lookup_dlid(c, t2, 1, out, 4));
	CHECK_INT(2, pr_cache_lookup_dgid(c, t, &b, out, 4));
	CHECK_INT(0, pr_cache_remove_dgid(c, &a));

	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 2, NULL, 0));
	CHECK_INT(3, pr_cache_remove_if(c, pred_sl, &sl));
	n = pr_cache_lookup_dgid(c, t, &a, out, 4);
	CHECK_TAGS(out, n, 2);
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &b, out, 4));
	pr_cache_stats(c, &st);
	CHECK_INT(1, st.entries);
	CHECK_INT(1, st.destinations);
	pr_cache_free(c);
}

static void test_caps(void)
{
	struct pr_cache *c = new_cache(5, 10);
	uint16_t t = default_tuple(c);
	union ibv_gid a = gid_of(0xa), b = gid_of(0xb);
	struct ibv_path_record ra[4] = { rec_of(0xa, 1, 0, 1), rec_of(0xa, 2, 0, 2),
					 rec_of(0xa, 3, 0, 3), rec_of(0xa, 4, 0, 4) };
	struct ibv_path_record rb[3] = { rec_of(0xb, 5, 0, 5), rec_of(0xb, 6, 0, 6),
					 rec_of(0xb, 7, 0, 7) };
	struct ibv_path_record mix[6] = { rec_of(0xa, 1, 0, 8), rec_of(0xb, 5, 0, 9),
					  rec_of(0xc, 8, 0, 10), rec_of(0xa, 1, 0, 11),
					  rec_of(0xb, 5, 0, 12), rec_of(0xd, 9, 0, 13) };
	const struct pr_entry *out[8];
	size_t n;

	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 4, NULL, 0));
	CHECK_INT(-ENOSPC, pr_cache_replace(c, t, &b, rb, 2, NULL, 0));
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &b, out, 8));
	CHECK_INT(0, pr_cache_replace(c, t, &b, rb, 1, NULL, 0));
	/* replacing a set counts its old paths as gone */
	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 3, NULL, 0));
	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 4, NULL, 0));
	CHECK_INT(-ENOSPC, pr_cache_replace(c, t, &b, rb, 2, NULL, 0));
	n = pr_cache_lookup_dgid(c, t, &a, out, 8);
	CHECK_TAGS(out, n, 1, 2, 3, 4);
	n = pr_cache_lookup_dgid(c, t, &b, out, 8);
	CHECK_TAGS(out, n, 5);

	/* load is all or nothing: 5 - (4 + 1) + 6 = 6 > 5 */
	CHECK_INT(-ENOSPC, pr_cache_load(c, t, mix, 6, NULL, 0));
	n = pr_cache_lookup_dgid(c, t, &a, out, 8);
	CHECK_TAGS(out, n, 1, 2, 3, 4);
	n = pr_cache_lookup_dgid(c, t, &b, out, 8);
	CHECK_TAGS(out, n, 5);
	/* 5 - 5 + 5 = 5 fits, and the marks of the refused call left no trace */
	CHECK_INT(5, pr_cache_load(c, t, mix, 5, NULL, 0));
	n = pr_cache_lookup_dgid(c, t, &a, out, 8);
	CHECK_TAGS(out, n, 8, 11);
	n = pr_cache_lookup_dgid(c, t, &b, out, 8);
	CHECK_TAGS(out, n, 9, 12);
	CHECK_INT(-ENOSPC, pr_cache_load(c, t, mix + 5, 1, NULL, 0));
	pr_cache_free(c);

	struct pr_cache_limits lim = { .max_entries = 0x80000000u };
	c = (struct pr_cache *)&lim;
	CHECK_INT(-EINVAL, pr_cache_new(&lim, &c));
	CHECK(c == (struct pr_cache *)&lim);
}

static void test_flush(void)
{
	struct pr_cache *c = new_cache(100, 10);
	uint16_t t = default_tuple(c);
	union ibv_gid a = gid_of(0xa);
	struct ibv_path_record ra[2] = { rec_of(0xa, 1, 0, 1), rec_of(0xa, 2, 0, 2) };
	const struct pr_entry *out[4];
	struct pr_cache_stats st;
	uint16_t id = 99;

	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 2, NULL, 0));
	CHECK_INT(0, pr_cache_put_negative_dlid(c, t, 5, 100));
	pr_cache_flush(c);
	pr_cache_flush(NULL);
	pr_cache_stats(c, &st);
	CHECK_INT(0, st.entries);
	CHECK_INT(0, st.negatives);
	CHECK_INT(0, st.destinations);
	CHECK_INT(1, st.tuples);
	CHECK_INT(0, st.bytes_per_entry);
	CHECK_INT(0, pr_cache_lookup_dgid(c, t, &a, out, 4));
	CHECK_INT(0, pr_cache_lookup_dlid(c, t, 1, out, 4));
	CHECK(!pr_cache_negative_dlid(c, t, 5, 0));
	struct pr_tuple def = { .sgid = gid_of(1) };
	CHECK_INT(0, pr_cache_tuple(c, &def, false, &id));
	CHECK_INT(t, id);
	CHECK_INT(0, pr_cache_replace(c, t, &a, ra, 2, NULL, 0));
	CHECK_INT(2, pr_cache_lookup_dgid(c, t, &a, out, 4));
	pr_cache_free(c);
}

struct visit {
	uint32_t tags[64];
	size_t n, stop_after;
};

static bool visit_fn(const struct pr_entry *e, void *arg)
{
	struct visit *v = arg;

	if (v->n < 64)
		v->tags[v->n] = tag_of(e);
	v->n++;
	return v->n != v->stop_after;
}

static void test_foreach(void)
{
	struct pr_cache *c = new_cache(1000, 10);
	uint16_t t = default_tuple(c);
	struct ibv_path_record recs[9] = {
		rec_of(0xa, 1, 0, 1), rec_of(0xb, 2, 0, 2), rec_of(0xa, 3, 0, 3),
		rec_of(0xc, 4, 0, 4), rec_of(0xb, 5, 0, 5), rec_of(0xa, 6, 0, 6),
		rec_of(0xd, 7, 0, 7), rec_of(0xc, 8, 0, 8), rec_of(0xe, 9, 0, 9),
	};
	struct visit v = { .n = 0 };
	uint32_t last_of[16] = { 0 };
	bool seen[16] = { false };

	CHECK_INT(9, pr_cache_load(c, t, recs, 9, NULL, 0));
	pr_cache_foreach(c, visit_fn, &v);
	CHECK_INT(9, v.n);
	/* each destination's paths come together and in SA order */
	for (size_t i = 0; i < v.n && i < 9; i++) {
		uint32_t tag = v.tags[i];
		uint64_t g = be64toh(recs[tag - 1].dgid.global.interface_id);

		CHECK(tag > last_of[g]);
		if (seen[g] && i > 0)
			CHECK_INT(g, be64toh(recs[v.tags[i - 1] - 1].dgid.global.interface_id));
		seen[g] = true;
		last_of[g] = tag;
	}
	v = (struct visit){ .stop_after = 4 };
	pr_cache_foreach(c, visit_fn, &v);
	CHECK_INT(4, v.n);
	pr_cache_free(c);
}

/* The resumable walk: chunk by chunk it visits every path once, destinations whole and in SA
 * order; across growth of the index (new destinations) every path present throughout is still
 * visited exactly once. */
static bool scan_fn(const struct pr_entry *e, void *arg)
{
	unsigned *seen = arg;

	seen[tag_of(e)]++;
	return true;
}

struct order {
	uint32_t tags[16384];
	size_t n;
};

static bool order_fn(const struct pr_entry *e, void *arg)
{
	struct order *o = arg;

	if (o->n < 16384)
		o->tags[o->n++] = tag_of(e);
	return true;
}

static void test_scan(void)
{
	enum { N = 3000 };
	struct pr_cache *c = new_cache(4 * N, 10);
	uint16_t t = default_tuple(c);
	static unsigned seen[4 * N];
	static struct order v;
	struct pr_cache_scan sc = { 0 };
	unsigned bad = 0, calls = 0;

	for (uint32_t d = 0; d < N; d++) {
		struct ibv_path_record r[2] = { rec_of(0x1000 + d, 1, 0, 2 * d),
						rec_of(0x1000 + d, 2, 0, 2 * d + 1) };
		union ibv_gid g = gid_of(0x1000 + d);

		bad += pr_cache_replace(c, t, &g, r, 2, NULL, 0) != 0;
	}
	CHECK_INT(0, bad);
	/* small chunks, with the index growing (4x the destinations) half way */
	while (!sc.done && calls < 100000) {
		pr_cache_scan(c, &sc, 7, scan_fn, seen);
		if (++calls == 300) {
			for (uint32_t d = N; d < 2 * N; d++) {
				struct ibv_path_record r = rec_of(0x1000 + d, 3, 0, N + d);
				union ibv_gid g = gid_of(0x1000 + d);

				bad += pr_cache_replace(c, t, &g, &r, 1, NULL, 0) != 0;
			}
		}
	}
	CHECK(sc.done);
	CHECK_INT(0, bad);
	for (uint32_t i = 0; i < 2 * N; i++)
		bad += seen[i] != 1;
	CHECK_INT(0, bad);
	for (uint32_t i = 2 * N; i < 3 * N; i++)
		bad += seen[i] > 1;
	CHECK_INT(0, bad);
	/* a finished walk visits nothing more; paths of a destination come in SA order */
	pr_cache_scan(c, &sc, 10, scan_fn, seen);
	sc = (struct pr_cache_scan){ 0 };
	while (!sc.done)
		pr_cache_scan(c, &sc, 5, order_fn, &v);
	CHECK_INT(3 * N, v.n);
	for (size_t i = 0; i + 1 < v.n; i++)
		if (v.tags[i] % 2 == 0 && v.tags[i] < 2 * N)
			bad += v.tags[i + 1] != v.tags[i] + 1;
	CHECK_INT(0, bad);
	/* an empty cache is done at once */
	pr_cache_flush(c);
	sc = (struct pr_cache_scan){ 0 };
	pr_cache_scan(c, &sc, 10, scan_fn, seen);
	CHECK(sc.done);
	pr_cache_free(c);
}

/* Many destinations with several paths each, filled one at a time: every rehash keeps order. */
static void test_growth(void)
{
	enum { NDEST = 5000, NPATH = 3 };
	struct pr_cache *c = new_cache(NDEST * NPATH, 10);
	uint16_t t = default_tuple(c);
	const struct pr_entry *out[NPATH + 1];
	struct pr_cache_stats st;
	unsigned bad = 0;

	for (uint32_t d = 0; d < NDEST; d++) {
		struct ibv_path_record r[NPATH];
		union ibv_gid g = gid_of(0x1000 + d);

		for (uint32_t p = 0; p < NPATH; p++)
			r[p] = rec_of(0x1000 + d, (uint16_t)(1 + d * NPATH + NPATH - 1 - p), 0,
				      d * NPATH + p);
		bad += pr_cache_replace(c, t, &g, r, NPATH, NULL, 0) != 0;
	}
	CHECK_INT(0, bad);
	for (uint32_t d = 0; d < NDEST; d++) {
		union ibv_gid g = gid_of(0x1000 + d);
		size_t n = pr_cache_lookup_dgid(c, t, &g, out, NPATH + 1);

		bad += n != NPATH;
		for (uint32_t p = 0; p < NPATH && p < n; p++)
			bad += tag_of(out[p]) != d * NPATH + p;
		bad += pr_cache_lookup_dlid(c, t, (uint16_t)(1 + d * NPATH), out, 1) != 1 ||
		       tag_of(out[0]) != d * NPATH + NPATH - 1;
	}
	CHECK_INT(0, bad);
	pr_cache_stats(c, &st);
	CHECK_INT(NDEST * NPATH, st.entries);
	CHECK_INT(NDEST, st.destinations);
	pr_cache_free(c);
}

/* --- randomized comparison with an array-scan model --- */

#define M_MAX_ENTRIES 120
#define M_MAX_NEG 20
#define M_TUPLES 3
#define M_GIDS 40
#define M_LIDS 30

struct m_entry {
	uint16_t tuple;
	struct ibv_path_record rec;
	uint32_t generation;
	uint8_t source;
	uint16_t source_lid;
};

struct m_neg {
	uint16_t tuple;
	uint8_t kind;	/* 1 DGID, 2 DLID */
	uint64_t key;	/* GUID or DLID */
	uint64_t expires;
};

static struct m_entry model[M_MAX_ENTRIES + 64];
static size_t m_n;
static struct m_neg m_negs[M_MAX_NEG];
static size_t m_nneg;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? rng_state % n : 0;
}

static uint64_t guid_of_rec(const struct ibv_path_record *r)
{
	return be64toh(r->dgid.global.interface_id);
}

static void m_remove_where(bool (*f)(const struct m_entry *, const void *), const void *arg)
{
	size_t j = 0;

	for (size_t i = 0; i < m_n; i++)
		if (!f(&model[i], arg))
			model[j++] = model[i];
	m_n = j;
}

struct m_key {
	uint16_t tuple;
	uint64_t guid;
};

static bool m_is_key(const struct m_entry *e, const void *arg)
{
	const struct m_key *k = arg;

	return e->tuple == k->tuple && guid_of_rec(&e->rec) == k->guid;
}

static size_t m_count_key(uint16_t tuple, uint64_t guid)
{
	size_t n = 0;

	for (size_t i = 0; i < m_n; i++)
		n += model[i].tuple == tuple && guid_of_rec(&model[i].rec) == guid;
	return n;
}

static void m_neg_clear(uint16_t tuple, uint8_t kind, uint64_t key)
{
	for (size_t i = 0; i < m_nneg; i++) {
		if (m_negs[i].tuple == tuple && m_negs[i].kind == kind && m_negs[i].key == key) {
			m_negs[i] = m_negs[--m_nneg];
			return;
		}
	}
}

static void m_append(uint16_t tuple, const struct ibv_path_record *r, const struct pr_origin *o)
{
	model[m_n++] = (struct m_entry){ .tuple = tuple, .rec = *r, .generation = o->generation,
					 .source = (uint8_t)o->source, .source_lid = o->lid };
	m_neg_clear(tuple, 1, guid_of_rec(r));
	m_neg_clear(tuple, 2, be16toh(r->dlid));
}

static int m_replace(uint16_t tuple, uint64_t guid, const struct ibv_path_record *recs, size_t n,
		     const struct pr_origin *o)
{
	struct m_key k = { tuple, guid };

	if (m_n - m_count_key(tuple, guid) + n > M_MAX_ENTRIES)
		return -ENOSPC;
	m_remove_where(m_is_key, &k);
	m_neg_clear(tuple, 1, guid);
	for (size_t i = 0; i < n; i++)
		m_append(tuple, &recs[i], o);
	return 0;
}

struct m_load {
	uint16_t tuple;
	const struct ibv_path_record *recs;
	size_t n;
	const bool *kept;	/* per record: its run is overwritten in place */
};

static bool m_in_load(const struct m_entry *e, const void *arg)
{
	const struct m_load *l = arg;

	if (e->tuple != l->tuple)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (guid_of_rec(&l->recs[i]) == guid_of_rec(&e->rec))
			return !l->kept[i];
	return false;
}

/* Does the run recs[i..j) of one GUID overwrite its paths in place? When it is the GUID's only
 * run in recs, and the GUID has as many paths, with the run's DLIDs in order. */
static bool m_run_fits(uint16_t tuple, const struct ibv_path_record *recs, size_t n, size_t i,
		       size_t j)
{
	uint64_t g = guid_of_rec(&recs[i]);
	size_t p = 0;

	for (size_t x = 0; x < n; x++)
		if ((x < i || x >= j) && guid_of_rec(&recs[x]) == g)
			return false;
	for (size_t x = 0; x < m_n; x++) {
		if (model[x].tuple != tuple || guid_of_rec(&model[x].rec) != g)
			continue;
		if (i + p >= j || model[x].rec.dlid != recs[i + p].dlid)
			return false;
		p++;
	}
	return p == j - i;
}

/*
 * Puts the model's paths of (tuple, guid) - the same DLIDs in the same order, the records
 * themselves the same or retagged - at the front of recs (40 records at most), the n random
 * ones after; sometimes the first of them again at the end, a second run of the same GUID.
 */
static size_t m_refresh_recs(uint16_t tuple, uint64_t guid, struct ibv_path_record *recs,
			     size_t n, uint32_t *tag)
{
	struct ibv_path_record head[40];
	size_t h = 0;

	for (size_t x = 0; x < m_n && h < 20; x++)
		if (model[x].tuple == tuple && guid_of_rec(&model[x].rec) == guid) {
			head[h] = model[x].rec;
			if (rnd(2))
				head[h].flowlabel_hoplimit = htobe32((*tag)++);
			h++;
		}
	if (n > 40 - h - 1)
		n = 40 - h - 1;
	memmove(recs + h, recs, n * sizeof(*recs));
	memcpy(recs, head, h * sizeof(*recs));
	n += h;
	if (h && rnd(8) == 0) {	/* retagged: the model tells paths apart by their records */
		recs[n] = head[0];
		recs[n++].flowlabel_hoplimit = htobe32((*tag)++);
	}
	return n;
}

/* pr_cache_load(): kept runs stay where they are (in the DLID order too), the rest of the
 * GUIDs in recs are replaced, their new paths appended in order. */
static int m_loadrecs(uint16_t tuple, const struct ibv_path_record *recs, size_t n,
		      const struct pr_origin *o)
{
	bool kept[64] = { false };
	struct m_load l = { tuple, recs, n, kept };
	size_t doomed = 0;

	for (size_t i = 0; i < m_n; i++)	/* nothing kept yet: every path of recs' GUIDs */
		doomed += m_in_load(&model[i], &l);
	if (m_n - doomed + n > M_MAX_ENTRIES)
		return -ENOSPC;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && guid_of_rec(&recs[j]) == guid_of_rec(&recs[i]); j++)
			;
		for (size_t x = i; x < j; x++)
			kept[x] = m_run_fits(tuple, recs, n, i, j);
	}
	m_remove_where(m_in_load, &l);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t g = guid_of_rec(&recs[i]);

		for (j = i + 1; j < n && guid_of_rec(&recs[j]) == g; j++)
			;
		if (!kept[i]) {
			for (size_t x = i; x < j; x++)
				m_append(tuple, &recs[x], o);
			continue;
		}
		for (size_t x = 0, p = i; x < m_n && p < j; x++)
			if (model[x].tuple == tuple && guid_of_rec(&model[x].rec) == g)
				model[x] = (struct m_entry){ .tuple = tuple, .rec = recs[p++],
							     .generation = o->generation,
							     .source = (uint8_t)o->source,
							     .source_lid = o->lid };
		for (size_t x = i; x < j; x++) {
			m_neg_clear(tuple, 1, g);
			m_neg_clear(tuple, 2, be16toh(recs[x].dlid));
		}
	}
	return (int)n;
}

struct m_sweep {
	uint16_t tuple;
	uint8_t source;
	uint32_t keep;
};

static bool m_is_swept(const struct m_entry *e, const void *arg)
{
	const struct m_sweep *s = arg;

	return e->tuple == s->tuple && e->source == s->source && e->generation != s->keep;
}

static bool m_has_guid(const struct m_entry *e, const void *arg)
{
	return guid_of_rec(&e->rec) == *(const uint64_t *)arg;
}

/* remove_if predicate shared by the cache and the model: a DLID and a parity of the tag */
struct rm_arg {
	uint16_t dlid;
	uint32_t parity;
};

static bool rm_pred(const struct pr_entry *e, void *arg)
{
	const struct rm_arg *a = arg;

	return be16toh(e->rec.dlid) == a->dlid || tag_of(e) % 7 == a->parity;
}

static bool m_rm_pred(const struct m_entry *e, const void *arg)
{
	const struct rm_arg *a = arg;

	return be16toh(e->rec.dlid) == a->dlid ||
	       be32toh(e->rec.flowlabel_hoplimit) % 7 == a->parity;
}

static bool m_neg_get(uint16_t tuple, uint8_t kind, uint64_t key, uint64_t now)
{
	for (size_t i = 0; i < m_nneg; i++)
		if (m_negs[i].tuple == tuple && m_negs[i].kind == kind && m_negs[i].key == key)
			return now < m_negs[i].expires;
	return false;
}

static int m_neg_put(uint16_t tuple, uint8_t kind, uint64_t key, uint64_t expires)
{
	for (size_t i = 0; i < m_nneg; i++) {
		if (m_negs[i].tuple == tuple && m_negs[i].kind == kind && m_negs[i].key == key) {
			m_negs[i].expires = expires;
			return 0;
		}
	}
	if (m_nneg >= M_MAX_NEG)
		return -ENOSPC;
	m_negs[m_nneg++] = (struct m_neg){ tuple, kind, key, expires };
	return 0;
}

static size_t m_neg_expire(uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < m_nneg;) {
		if (m_negs[i].expires <= now) {
			m_negs[i] = m_negs[--m_nneg];
			n++;
		} else {
			i++;
		}
	}
	return n;
}

static size_t m_destinations(void)
{
	size_t n = 0;

	for (size_t i = 0; i < m_n; i++) {
		bool first = true;

		for (size_t j = 0; j < i && first; j++)
			first = !(model[j].tuple == model[i].tuple &&
				  guid_of_rec(&model[j].rec) == guid_of_rec(&model[i].rec));
		n += first;
	}
	return n;
}

static bool same_entry(const struct pr_entry *e, const struct m_entry *m)
{
	return !memcmp(&e->rec, &m->rec, sizeof(m->rec)) && e->tuple == m->tuple &&
	       e->generation == m->generation && e->source == m->source &&
	       e->source_lid == m->source_lid;
}

/* foreach must give each destination's paths together and in the model's (SA) order */
struct m_walk {
	size_t n, last;
	bool bad, started;
	uint16_t tuple;
	uint64_t guid;
	bool done[M_TUPLES][M_GIDS];	/* tuple ids 0..M_TUPLES-1 */
};

static bool walk_fn(const struct pr_entry *e, void *arg)
{
	struct m_walk *w = arg;
	uint64_t guid = be64toh(e->rec.dgid.global.interface_id);
	size_t at = m_n;

	for (size_t i = 0; i < m_n; i++)
		if (same_entry(e, &model[i]))
			at = i;
	w->n++;
	if (at == m_n || guid < 0x100 || guid >= 0x100 + M_GIDS || e->tuple >= M_TUPLES) {
		w->bad = true;
		return true;
	}
	if (w->started && w->tuple == e->tuple && w->guid == guid) {
		w->bad |= at <= w->last;
	} else {
		if (w->started)
			w->done[w->tuple][w->guid - 0x100] = true;
		w->bad |= w->done[e->tuple][guid - 0x100];
	}
	w->started = true;
	w->tuple = e->tuple;
	w->guid = guid;
	w->last = at;
	return true;
}

static void test_random(void)
{
	struct pr_cache *c = new_cache(M_MAX_ENTRIES, M_MAX_NEG);
	uint16_t tuples[M_TUPLES];
	uint32_t generation = 0, tag = 1;
	uint64_t now = 0;
	unsigned mismatches = 0, ops = 200000, enospc = 0, sweeps = 0, removed = 0;
	bool first_bad = false;
	struct ibv_path_record recs[40];
	const struct pr_entry *out[8];
	const struct m_entry *mo[M_MAX_ENTRIES + 64];

	m_n = m_nneg = 0;
	for (int i = 0; i < M_TUPLES; i++) {
		struct pr_tuple t = { .sgid = gid_of(1), .service_id = (uint64_t)i,
				      .flags = i ? PR_TUPLE_SERVICE_ID : 0 };
		CHECK_INT(0, pr_cache_tuple(c, &t, true, &tuples[i]));
	}

	for (unsigned op = 0; op < ops && mismatches < 10; op++) {
		uint16_t t = tuples[rnd(M_TUPLES)];
		uint64_t guid = 0x100 + rnd(M_GIDS);
		uint16_t dlid = (uint16_t)(1 + rnd(M_LIDS));
		struct pr_origin o = { .source = (enum pr_source)rnd(3),
				       .lid = (uint16_t)rnd(4), .generation = generation };
		unsigned k = (unsigned)rnd(100);
		int r1, r2;

		now += rnd(50);
		if (o.source != PR_SRC_SET)
			o.lid = 0;
		if (k < 25) {
			size_t n = rnd(6);
			union ibv_gid g = gid_of(guid);

			for (size_t i = 0; i < n; i++)
				recs[i] = rec_of(guid, (uint16_t)(1 + rnd(M_LIDS)), (uint8_t)rnd(16),
						 tag++);
			r1 = pr_cache_replace(c, t, &g, recs, n, &o, now);
			r2 = m_replace(t, guid, recs, n, &o);
			mismatches += r1 != r2;
			enospc += r1 == -ENOSPC;
		} else if (k < 35) {
			size_t n = rnd(rnd(4) ? 12 : 40);

			for (size_t i = 0; i < n; i++)
				recs[i] = rec_of(0x100 + rnd(M_GIDS), (uint16_t)(1 + rnd(M_LIDS)),
						 (uint8_t)rnd(16), tag++);
			if (rnd(2))	/* a refresh: a destination's paths again, first */
				n = m_refresh_recs(t, guid, recs, n, &tag);
			r1 = pr_cache_load(c, t, recs, n, &o, now);
			r2 = m_loadrecs(t, recs, n, &o);
			mismatches += r1 != r2;
			enospc += r1 == -ENOSPC;
		} else if (k < 70) {
			bool by_gid = k < 55;
			size_t max = rnd(7), want = 0, got;
			union ibv_gid g = gid_of(guid);

			for (size_t i = 0; i < m_n; i++)
				if (model[i].tuple == t &&
				    (by_gid ? guid_of_rec(&model[i].rec) == guid
					    : be16toh(model[i].rec.dlid) == dlid))
					mo[want++] = &model[i];
			memset(out, 0, sizeof(out));
			got = by_gid ? pr_cache_lookup_dgid(c, t, &g, out, max)
				     : pr_cache_lookup_dlid(c, t, dlid, out, max);
			mismatches += got != want;
			for (size_t i = 0; i < max && i < want && got == want; i++)
				mismatches += !same_entry(out[i], mo[i]);
			mismatches += max < 8 && out[max] != NULL;
		} else if (k < 75) {
			uint64_t exp = now + rnd(500);

			if (rnd(2)) {
				union ibv_gid g = gid_of(guid);

				r1 = pr_cache_put_negative_dgid(c, t, &g, exp);
				r2 = m_neg_put(t, 1, guid, exp);
			} else {
				r1 = pr_cache_put_negative_dlid(c, t, dlid, exp);
				r2 = m_neg_put(t, 2, dlid, exp);
			}
			mismatches += r1 != r2;
		} else if (k < 85) {
			union ibv_gid g = gid_of(guid);

			mismatches += pr_cache_negative_dgid(c, t, &g, now) !=
				      m_neg_get(t, 1, guid, now);
			mismatches += pr_cache_negative_dlid(c, t, dlid, now) !=
				      m_neg_get(t, 2, dlid, now);
		} else if (k < 88) {
			struct m_sweep s = { t, (uint8_t)rnd(3), generation - (uint32_t)rnd(2) };
			size_t before = m_n, n;

			n = pr_cache_sweep(c, t, (enum pr_source)s.source, s.keep);
			m_remove_where(m_is_swept, &s);
			mismatches += n != before - m_n;
			sweeps++;
		} else if (k < 91) {
			generation = pr_cache_begin_generation(c);
		} else if (k < 94) {
			union ibv_gid g = gid_of(guid);
			size_t before = m_n, n = pr_cache_remove_dgid(c, &g);

			m_remove_where(m_has_guid, &guid);
			mismatches += n != before - m_n;
			removed += (unsigned)n;
		} else if (k < 95) {
			struct rm_arg a = { dlid, (uint32_t)rnd(40) };
			size_t before = m_n, n = pr_cache_remove_if(c, rm_pred, &a);

			m_remove_where(m_rm_pred, &a);
			mismatches += n != before - m_n;
			removed += (unsigned)n;
		} else if (k < 97) {
			mismatches += pr_cache_expire_negatives(c, now) != m_neg_expire(now);
		} else if (rnd(200) == 0) {
			pr_cache_flush(c);
			m_n = m_nneg = 0;
		} else {
			struct pr_cache_stats st;
			struct m_walk w = { .n = 0 };

			pr_cache_stats(c, &st);
			pr_cache_foreach(c, walk_fn, &w);
			mismatches += st.entries != m_n || w.n != m_n || w.bad ||
				      st.negatives != m_nneg || st.destinations != m_destinations();
		}
		if (mismatches && !first_bad) {
			first_bad = true;
			fprintf(stderr, "random: first mismatch at op %u (kind %u)\n", op, k);
		}
	}
	CHECK_INT(0, mismatches);
	CHECK(enospc > 0);
	CHECK(sweeps > 0);
	CHECK(removed > 0);
	printf("random: %u ops, %u refused with -ENOSPC, %zu entries at the end\n", ops, enospc,
	       m_n);
	pr_cache_free(c);
}

/* --- scale --- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_scale(void)
{
	const size_t n = 1000000;
	struct ibv_path_record *recs = malloc(n * sizeof(*recs));
	struct pr_cache *c = new_cache(1100000, 1000);
	uint16_t t = default_tuple(c);
	const struct pr_entry *out[2];
	struct pr_cache_stats st;
	struct pr_origin o = { .source = PR_SRC_SA };
	struct timespec t0;
	unsigned bad = 0;
	double ms;
	int r;

	CHECK(recs != NULL);
	if (!recs || !c)
		return;
	for (size_t i = 0; i < n; i++)
		recs[i] = rec_of(0x0002c90300000000ULL + i, (uint16_t)(1 + i % 49151), 0,
				 (uint32_t)i);

	o.generation = pr_cache_begin_generation(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pr_cache_load(c, t, recs, n, &o, 0);
	ms = ms_since(&t0);
	CHECK_INT(n, r);
	pr_cache_stats(c, &st);
	printf("scale: load of %zu records (one tuple, distinct DGIDs): %.1f ms, %llu bytes, "
	       "%llu bytes/entry\n", n, ms, (unsigned long long)st.bytes,
	       (unsigned long long)st.bytes_per_entry);
	CHECK_INT(n, st.entries);
	CHECK_INT(n, st.destinations);
	CHECK(st.bytes_per_entry <= 128);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++) {
		size_t j = (i * 7919) % n;
		union ibv_gid g = recs[j].dgid;

		bad += pr_cache_lookup_dgid(c, t, &g, out, 2) != 1 || tag_of(out[0]) != j;
	}
	ms = ms_since(&t0);
	CHECK_INT(0, bad);
	printf("scale: %zu DGID lookups: %.1f ms (%.0f ns each)\n", n, ms, ms * 1e6 / (double)n);

	/* a full refresh with the same table: the next generation replaces every path */
	o.generation = pr_cache_begin_generation(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pr_cache_load(c, t, recs, n, &o, 1000);
	ms = ms_since(&t0);
	CHECK_INT(n, r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(0, pr_cache_sweep(c, t, PR_SRC_SA, o.generation));
	printf("scale: refresh, same %zu records: load %.1f ms, sweep %.1f ms\n", n, ms,
	       ms_since(&t0));

	/* a refresh where 1,000 destinations left and 1,000 others came */
	o.generation = pr_cache_begin_generation(c);
	for (size_t i = 0; i < n; i += 1000)
		recs[i].dgid = gid_of(0x0003000000000000ULL + i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = pr_cache_load(c, t, recs, n, &o, 2000);
	ms = ms_since(&t0);
	CHECK_INT(n, r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(1000, pr_cache_sweep(c, t, PR_SRC_SA, o.generation));
	printf("scale: refresh, 1,000 destinations changed: load %.1f ms, sweep %.1f ms\n", ms,
	       ms_since(&t0));
	pr_cache_stats(c, &st);
	CHECK_INT(n, st.entries);
	CHECK_INT(n, st.destinations);
	CHECK(st.bytes_per_entry <= 128);
	printf("scale: after the refreshes %llu bytes/entry\n",
	       (unsigned long long)st.bytes_per_entry);
	for (size_t i = 0; i < n; i += 997) {
		union ibv_gid g = recs[i].dgid;

		bad += pr_cache_lookup_dgid(c, t, &g, out, 2) != 1 || tag_of(out[0]) != i ||
		       out[0]->generation != o.generation;
		bad += pr_cache_lookup_dlid(c, t, (uint16_t)(1 + i % 49151), out, 2) <= 1;
	}
	CHECK_INT(0, bad);
	pr_cache_free(c);
	free(recs);
}

int main(void)
{
	test_lookup_order();
	test_replace();
	test_load();
	test_qos_tuples();
	test_tuple_cap();
	test_tuple_reclaim();
	test_negatives();
	test_sweep();
	test_refresh_in_place();
	test_journal();
	test_sweep_cost();
	test_remove();
	test_caps();
	test_flush();
	test_foreach();
	test_scan();
	test_growth();
	test_random();
	test_scale();
	return CHECK_DONE();
}
