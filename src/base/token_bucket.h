/*
 * token_bucket - a rate limit with a burst: `rate` tokens per second accrue up to `burst`.
 * Pure arithmetic on a caller's millisecond clock (no I/O, no globals): the one bucket of the
 * tree (the SA client's budget, the trap-fetch budget, and base/quota's per-peer buckets). A
 * request larger than the burst goes once the bucket is full and leaves a debt; charges may
 * also be corrected afterwards (records are known only when the answer arrives), which can
 * leave a debt too.
 */
#ifndef LOCALSA_BASE_TOKEN_BUCKET_H
#define LOCALSA_BASE_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct token_bucket {
	uint64_t rate;       /* tokens per second */
	uint64_t burst;      /* capacity, tokens */
	bool unlimited;      /* every wait is 0, charges change nothing */
	int64_t level_mt;    /* milli-tokens; negative: a debt */
	uint64_t last_ms;    /* when level_mt was brought up to date */
};

/* Full at now_ms. rate 0: unlimited; burst 0: one second's worth (rate). A budget. */
void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms);
/* Full at now_ms, exactly as given: rate 0 never refills, burst 0 never holds a token. A quota. */
void token_bucket_init_exact(struct token_bucket *b, uint64_t rate, uint64_t burst,
			     uint64_t now_ms);
/* 0 when n tokens may be taken at now_ms, else how many ms until they may (UINT64_MAX:
 * never, in an exact bucket that cannot hold them or does not refill). */
uint64_t token_bucket_wait_ms(struct token_bucket *b, uint64_t n, uint64_t now_ms);
/* Takes n tokens (negative: gives them back), whatever the level: the caller asked
 * token_bucket_wait_ms() first, or corrects an estimate. */
void token_bucket_charge(struct token_bucket *b, int64_t n, uint64_t now_ms);
/* Whole tokens available at now_ms (negative: a debt). */
int64_t token_bucket_level(struct token_bucket *b, uint64_t now_ms);

#endif
