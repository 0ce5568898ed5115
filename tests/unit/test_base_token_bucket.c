/*
 * test_base_token_bucket.c - the rate limit behind the SA budget: a full bucket gives its
 * burst at once, then tokens come back at the rate; the wait is exact to the millisecond; a
 * request larger than the burst goes once the bucket is full and leaves a debt that delays
 * what follows; a correction after the fact (records known only with the answer) gives
 * tokens back or deepens the debt; rate 0 never waits; a clock that stalls or jumps far
 * neither underflows nor overflows.
 */
#include <stdint.h>

#include "base/token_bucket.h"
#include "check.h"

static void test_burst_then_rate(void)
{
	struct token_bucket b;
	uint64_t t = 1000;

	token_bucket_init(&b, 100, 0, t);	/* 100/s, burst 100 */
	for (int i = 0; i < 100; i++) {
		CHECK_INT(0, token_bucket_wait_ms(&b, 1, t));
		token_bucket_charge(&b, 1, t);
	}
	/* empty: the next token comes 10 ms later */
	CHECK_INT(10, token_bucket_wait_ms(&b, 1, t));
	CHECK_INT(5, token_bucket_wait_ms(&b, 1, t + 5));
	CHECK_INT(0, token_bucket_wait_ms(&b, 1, t + 10));
	CHECK_INT(1, token_bucket_level(&b, t + 10));
	/* never more than the burst, however long it rests */
	CHECK_INT(100, token_bucket_level(&b, t + 100000));
	CHECK_INT(0, token_bucket_wait_ms(&b, 102, t + 100000));	/* more than the burst: full */
}

static void test_large_request_and_debt(void)
{
	struct token_bucket b;
	uint64_t t = 0;

	token_bucket_init(&b, 1000, 500, t);	/* 1000/s, burst 500 */
	token_bucket_charge(&b, 100, t);
	/* 4000 > burst: waits until the bucket is full again (100 tokens: 100 ms)... */
	CHECK_INT(100, token_bucket_wait_ms(&b, 4000, t));
	t += 100;
	CHECK_INT(0, token_bucket_wait_ms(&b, 4000, t));
	token_bucket_charge(&b, 4000, t);
	/* ...and leaves a debt of 3500: one token is 3.501 s away */
	CHECK_INT(-3500, token_bucket_level(&b, t));
	CHECK_INT(3501, token_bucket_wait_ms(&b, 1, t));
	/* the answer held fewer records than expected: the difference comes back */
	token_bucket_charge(&b, -3000, t);
	CHECK_INT(-500, token_bucket_level(&b, t));
	CHECK_INT(501, token_bucket_wait_ms(&b, 1, t));
	/* more than expected: the debt deepens */
	token_bucket_charge(&b, 500, t);
	CHECK_INT(1001, token_bucket_wait_ms(&b, 1, t));
}

static void test_unlimited_and_clock(void)
{
	struct token_bucket b;

	token_bucket_init(&b, 0, 0, 5);
	CHECK_INT(0, token_bucket_wait_ms(&b, UINT32_MAX, 5));
	token_bucket_charge(&b, 1000000, 5);
	CHECK_INT(0, token_bucket_wait_ms(&b, 1, 5));

	/* a clock that goes back is a clock that stood still */
	token_bucket_init(&b, 10, 1, 1000);
	token_bucket_charge(&b, 1, 1000);
	CHECK_INT(100, token_bucket_wait_ms(&b, 1, 1000));
	CHECK_INT(100, token_bucket_wait_ms(&b, 1, 10));
	/* a jump of years, huge rates and charges stay in range */
	CHECK_INT(0, token_bucket_wait_ms(&b, 1, UINT64_C(1) << 50));
	token_bucket_init(&b, UINT64_MAX, UINT64_MAX, 0);
	token_bucket_charge(&b, INT64_MAX, 0);
	token_bucket_charge(&b, INT64_MAX, 0);
	CHECK(token_bucket_level(&b, 0) < 0);
	CHECK(token_bucket_wait_ms(&b, 1, 0) > 0);
	CHECK_INT(0, token_bucket_wait_ms(&b, 1, UINT64_C(1) << 40));
}

/* An exact bucket (a quota's): burst 0 never gives a token, rate 0 never refills. */
static void test_exact(void)
{
	struct token_bucket b;

	token_bucket_init_exact(&b, 5, 0, 1000);
	CHECK(token_bucket_wait_ms(&b, 1, 1000) == UINT64_MAX);
	CHECK(token_bucket_wait_ms(&b, 1, 100000) == UINT64_MAX);
	token_bucket_init_exact(&b, 0, 2, 1000);
	for (int i = 0; i < 2; i++) {
		CHECK_INT(0, token_bucket_wait_ms(&b, 1, 1000));
		token_bucket_charge(&b, 1, 1000);
	}
	CHECK(token_bucket_wait_ms(&b, 1, 1000000) == UINT64_MAX);
	CHECK_INT(0, token_bucket_level(&b, 1000000));
	token_bucket_init_exact(&b, 2, 3, 0);	/* as budget buckets otherwise */
	token_bucket_charge(&b, 3, 0);
	CHECK_INT(500, token_bucket_wait_ms(&b, 1, 0));
	CHECK_INT(0, token_bucket_wait_ms(&b, 1, 500));
}

int main(void)
{
	test_burst_then_rate();
	test_large_request_and_debt();
	test_unlimited_and_clock();
	test_exact();
	return CHECK_DONE();
}
