/*
 * token_bucket - see token_bucket.h. Milli-tokens keep the refill exact in integers: one
 * millisecond at `rate` tokens per second is `rate` milli-tokens.
 */
#include "base/token_bucket.h"

/* Caps that keep every product below 2^63: rates and bursts beyond them mean "a lot". */
#define TB_MAX_TOKENS (UINT64_C(1) << 40)
#define TB_MAX_MS (UINT64_C(1) << 22)

static int64_t cap_mt(const struct token_bucket *b)
{
	return (int64_t)(b->burst * 1000);
}

static void refill(struct token_bucket *b, uint64_t now_ms)
{
	uint64_t dt = now_ms > b->last_ms ? now_ms - b->last_ms : 0;

	b->last_ms = now_ms > b->last_ms ? now_ms : b->last_ms;
	if (dt > TB_MAX_MS)
		dt = TB_MAX_MS;
	b->level_mt += (int64_t)(dt * b->rate);
	if (b->level_mt > cap_mt(b))
		b->level_mt = cap_mt(b);
}

void token_bucket_init_exact(struct token_bucket *b, uint64_t rate, uint64_t burst,
			     uint64_t now_ms)
{
	b->rate = rate < TB_MAX_TOKENS ? rate : TB_MAX_TOKENS;
	b->burst = burst < TB_MAX_TOKENS ? burst : TB_MAX_TOKENS;
	b->unlimited = false;
	b->level_mt = cap_mt(b);
	b->last_ms = now_ms;
}

void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
	token_bucket_init_exact(b, rate, burst ? burst : rate ? rate : 1, now_ms);
	b->unlimited = !rate;
}

uint64_t token_bucket_wait_ms(struct token_bucket *b, uint64_t n, uint64_t now_ms)
{
	int64_t need;

	if (b->unlimited)
		return 0;
	refill(b, now_ms);
	/* More than the burst can ever hold: a full bucket is enough (an empty one never is). */
	if (n > b->burst)
		n = b->burst;
	need = (int64_t)(n * 1000) - b->level_mt;
	if (need <= 0 && (n || b->burst))
		return 0;
	if (!b->rate || !b->burst)
		return UINT64_MAX;
	return ((uint64_t)need + b->rate - 1) / b->rate;
}

void token_bucket_charge(struct token_bucket *b, int64_t n, uint64_t now_ms)
{
	if (b->unlimited)
		return;
	refill(b, now_ms);
	if (n > (int64_t)TB_MAX_TOKENS)
		n = (int64_t)TB_MAX_TOKENS;
	if (n < -(int64_t)TB_MAX_TOKENS)
		n = -(int64_t)TB_MAX_TOKENS;
	b->level_mt -= n * 1000;
	if (b->level_mt > cap_mt(b))
		b->level_mt = cap_mt(b);
	/* A debt is bounded too: at most what the cap above lets one charge add. */
	if (b->level_mt < -(int64_t)(TB_MAX_TOKENS * 1000))
		b->level_mt = -(int64_t)(TB_MAX_TOKENS * 1000);
}

int64_t token_bucket_level(struct token_bucket *b, uint64_t now_ms)
{
	if (b->unlimited)
		return INT64_MAX;
	refill(b, now_ms);
	return b->level_mt / 1000;
}
