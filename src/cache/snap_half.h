/*
 * snap_half - writes one half of the shared-memory snapshot (cache/snap_format.h) from the
 * cache: whole, from a plan of the cache sorted by home slot (sequential stores, for fills), or
 * patched where the cache's change journal says it changed (O(changes), for everything else).
 * Pure: the caller (cache/snap_writer) owns the object, the memory behind it and the seqlock
 * window every call below runs in; this module only computes and stores words.
 */
#ifndef LOCALSA_CACHE_SNAP_HALF_H
#define LOCALSA_CACHE_SNAP_HALF_H

#include <stdatomic.h>
#include <stdint.h>

#include "cache/pr_cache.h"

/* What the writer knows of one half: its layout, how full it is, the cache state it shows. */
struct snap_half;

int snap_half_new(struct snap_half **out);
void snap_half_free(struct snap_half *hs);

/* The whole cache, collected and ordered for snap_half_build(). */
struct snap_plan;

/* -ENOMEM, -EOVERFLOW (the cache broke its own counts, or holds more than a half can). */
int snap_plan_make(const struct pr_cache *c, struct snap_plan **out);
/* The bytes of the half the plan lays out (its headroom for later patches included). */
uint64_t snap_plan_bytes(const struct snap_plan *p);
void snap_plan_free(struct snap_plan *p);

/* Lays the plan out in half h (room: words, >= snap_plan_bytes() / 8): every word it spans. */
void snap_half_build(struct snap_half *hs, _Atomic uint64_t *h, const struct snap_plan *p);

/*
 * Brings half h, last built or patched from cache c, up to c's present state by the keys c's
 * journal holds since then: each changed destination's slot is rewritten, inserted or removed
 * (moving its Robin Hood neighbours), its records moved to a fresh run, and the DLID slots of
 * the paths it lost and gained recomputed. Returns 0, or - with the half left in any state,
 * to be rebuilt or emptied - -ERANGE (another cache, the journal lost the keys, or so many
 * that a rebuild is cheaper), -ENOSPC (a region is full), -ESTALE (a tuple id that paths in the
 * half still use now names another tuple).
 */
int snap_half_patch(struct snap_half *hs, _Atomic uint64_t *h, const struct pr_cache *c);

/* The empty snapshot (every lookup misses): after a failure, so that no reader meets a
 * half-written half. Forgets the layout. */
void snap_half_empty(struct snap_half *hs, _Atomic uint64_t *h);

struct snap_half_stats {
	uint64_t groups, records, used_bytes;
	uint64_t last_keys;	/* keys the last patch applied */
};
void snap_half_stats(const struct snap_half *hs, struct snap_half_stats *out);

#endif
