/*
 * test_base_quota.c - token buckets (burst, refill, cap) and the keyed table: records made on
 * demand, referenced ones never dropped, refilled ones dropped first, then the least recently
 * used, and nothing when every record is referenced.
 */
#include <errno.h>

#include "base/quota.h"
#include "check.h"

static void test_bucket(void)
{
	struct quota q;
	unsigned got = 0;

	quota_init(&q, 3, 2, 1000);
	CHECK(quota_full(&q, 1000));
	while (quota_take(&q, 1000))
		got++;
	CHECK_INT(3, got);
	CHECK(!quota_take(&q, 1499));	/* 2 per second: the next token at 1500 */
	CHECK(quota_take(&q, 1500));
	CHECK(!quota_take(&q, 1500));
	CHECK(!quota_full(&q, 2000));
	CHECK(quota_full(&q, 10000));	/* refilled up to the burst, never past it */
	got = 0;
	while (quota_take(&q, 10000))
		got++;
	CHECK_INT(3, got);
	CHECK(!quota_take(&q, 5000));	/* a clock going back adds nothing */
	quota_init(&q, 0, 5, 0);
	CHECK(!quota_take(&q, 100000));
}

static void test_table(void)
{
	struct quota_table *t;
	struct quota_entry *a, *b, *c;

	CHECK_INT(0, quota_table_new(2, 1, 1, &t));
	a = quota_table_get(t, 7, 0);
	CHECK(a && a->key == 7 && !a->refs);
	CHECK(quota_table_get(t, 7, 10) == a);
	CHECK(quota_take(&a->q, 10));
	a->refs = 1;
	b = quota_table_get(t, 8, 20);
	CHECK(b && b != a);
	CHECK(quota_take(&b->q, 20));
	CHECK_INT(2, quota_table_count(t));
	/* full: 8 is unreferenced but in debt, 7 referenced: 8 goes */
	c = quota_table_get(t, 9, 30);
	CHECK(c == b && c->key == 9);
	CHECK(quota_table_find(t, 8) == NULL);
	CHECK(quota_table_find(t, 7) == a);
	/* everything referenced: no room */
	c->refs = 1;
	CHECK(quota_table_get(t, 10, 40) == NULL);
	/* unreferenced: a refilled record goes before an older one in debt */
	a->refs = 0;
	c->refs = 0;
	CHECK(quota_take(&c->q, 2500));	/* 9 in debt at 2500, 7 refilled long since */
	CHECK(quota_table_get(t, 11, 2600) == a);
	quota_table_free(t);
	CHECK_INT(-EINVAL, quota_table_new(0, 1, 1, &t));
}

int main(void)
{
	test_bucket();
	test_table();
	return CHECK_DONE();
}
