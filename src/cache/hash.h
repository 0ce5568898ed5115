/*
 * hash.h - the 64-bit mixer of the cache's and the snapshot's hash tables.
 * The snapshot's readers (liblocalsa) compute it too: it is part of the
 * snapshot format, so changing it changes the snapshot ABI.
 */
#ifndef LOCALSA_CACHE_HASH_H
#define LOCALSA_CACHE_HASH_H

#include <stdint.h>

/* A 64-bit finalizer (xor-shift-multiply): every input bit reaches every output bit. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	return x;
}

#endif
