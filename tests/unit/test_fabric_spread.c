/*
 * test_fabric_spread.c - the moment a node starts a fabric-wide fetch: the window grows with
 * the table (P x (R + 25) / rate), stops at its cap, and is 0 without a rate; every rank gets
 * its own slot, so P nodes with distinct ranks start at distinct moments at least half a slot
 * apart, and their starts per second never exceed what the rate allows; a node without a rank
 * starts anywhere in the window; the random source covers its range; periodic work keeps the
 * node's place in every period of the wall clock, whenever the node started.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "fabric/spread.h"

static void test_window(void)
{
	struct spread_opts o = { 50000, 300000 };

	/* a full table at N = 1024 (1,099 ports): 1099 x 1124 / 50000 s */
	CHECK_INT(24705, spread_window_ms(&o, 1099, 1099));
	/* one record each (a trap 64): 1099 x 26 / 50000 s */
	CHECK_INT(571, spread_window_ms(&o, 1099, 1));
	/* 4,400 ports x 4,400 records would be 389 s: the cap */
	CHECK_INT(300000, spread_window_ms(&o, 4400, 4400));
	CHECK_INT(300000, spread_window_ms(&o, UINT64_MAX, UINT64_MAX));
	CHECK_INT(0, spread_window_ms(&o, 0, 100));
	o.sa_rate = 0;
	CHECK_INT(0, spread_window_ms(&o, 1099, 1099));
	CHECK_INT(0, spread_moment_ms(&o, 1099, 3, 1099, 12345));
}

/* N nodes of one fabric react to one event: distinct slots, an even load. */
static void test_slots(void)
{
	struct spread_opts o = { 50000, 300000 };
	enum { P = 1099, N = 1024 };
	uint64_t *t = malloc(N * sizeof(*t)), w = spread_window_ms(&o, P, P), seed = 7, slot;
	unsigned per_s[30] = { 0 }, busiest = 0;

	if (!t)
		abort();
	slot = w / P;
	for (uint64_t i = 0; i < N; i++) {
		uint64_t rank = i * P / N;	/* the nodes' ranks among the table's ports */

		t[i] = spread_moment_ms(&o, P, rank, P, spread_random(&seed));
		CHECK(t[i] < w);
		CHECK(t[i] >= rank * w / P && t[i] < rank * w / P + slot / 2 + 1);
		if (i)
			CHECK(t[i] >= t[i - 1] + slot / 2);
		per_s[t[i] / 1000]++;
	}
	for (unsigned s = 0; s < 30; s++)
		busiest = per_s[s] > busiest ? per_s[s] : busiest;
	/* 50,000 records/s at 1,124 each: at most 45 fetches a second, one more at the edges */
	CHECK(busiest <= 50000 / (P + SPREAD_QUERY_RECORDS) + 1);
	free(t);
}

static void test_no_rank(void)
{
	struct spread_opts o = { 1000, 60000 };
	uint64_t w = spread_window_ms(&o, 100, 100), seed = 1, lo = UINT64_MAX, hi = 0;

	CHECK_INT(12500, w);
	for (int i = 0; i < 1000; i++) {
		uint64_t m = spread_moment_ms(&o, 100, 100, 100, spread_random(&seed));

		lo = m < lo ? m : lo;
		hi = m > hi ? m : hi;
	}
	CHECK(hi < w);
	CHECK(lo < w / 20);		/* anywhere in the window: both ends get used */
	CHECK(hi > w - w / 20);
	/* the same seed, the same sequence: the bench replays the daemon's choices */
	seed = 42;
	uint64_t a = spread_random(&seed);
	seed = 42;
	CHECK(a == spread_random(&seed));
	CHECK(a != spread_random(&seed));
}

static void test_periodic(void)
{
	/* 10 ports of 10 records at 3500/s: a 100 ms window, slots of 10 ms; a period of 1 s */
	struct spread_opts o = { 3500, 60000 };
	uint64_t seed = 3;

	for (uint64_t rank = 0; rank < 10; rank++)
		for (uint64_t wall = 5000000; wall < 5003000; wall += 37) {
			uint64_t d = spread_periodic_ms(&o, 1000, wall, 10, rank, 10,
							spread_random(&seed)), at = wall + d;

			/* whenever asked: within the next period, at the rank's slot of it */
			CHECK(d > 0 && d <= 1000);
			CHECK(at % 1000 >= rank * 10 && at % 1000 < rank * 10 + 5);
		}
	/* a window longer than the period wraps around it */
	o.sa_rate = 35;
	CHECK(spread_periodic_ms(&o, 1000, 7000, 10, 9, 10, 0) <= 1000);
	CHECK_INT(0, spread_periodic_ms(&o, 0, 7000, 10, 9, 10, 0));
}

int main(void)
{
	test_window();
	test_periodic();
	test_slots();
	test_no_rank();
	return CHECK_DONE();
}
