/*
 * trap_gids - which trap 64/65 Reports are news. The state of each GID the SM reported on (in or
 * out of service, the TIDs that made it so, when its paths were last fetched) turns a stream of
 * Reports into changes: a repeat (the GID is already in that state) and a resent Report of a
 * change already applied (same TID, arriving after a newer change: out of order, within
 * TRAP_RESEND_WINDOW_MS, the SA's resend horizon: a restarted SM numbers its Reports anew, so an
 * old TID proves nothing for long) change nothing, so neither costs a query. Trap handling is
 * rate-limited per GID: its paths are fetched at most once per min_interval_ms, a later 64 waits
 * until then and is still fetched, and a 65 cancels a fetch that has not started. Pure (the
 * caller's clock, no I/O) and bounded: max_gids GIDs; a new one makes the least recently changed
 * idle one forgotten.
 */
#ifndef LOCALSA_FABRIC_TRAP_GIDS_H
#define LOCALSA_FABRIC_TRAP_GIDS_H

#include <stdbool.h>
#include <stdint.h>

#include <infiniband/verbs.h>

enum { TRAP_RESEND_WINDOW_MS = 2000 };

enum trap_verdict {
	TRAP_REPEAT,   /* the GID is already in that state: nothing to do */
	TRAP_RESENT,   /* the Report of a change already applied, again: nothing to do */
	TRAP_OUT,      /* 65: drop the GID's paths now */
	TRAP_IN,       /* 64: fetch its paths when due (trap_gids_take_due) */
	TRAP_IGNORED,  /* another trap, or no room: not tracked */
};

struct trap_gids_stats {
	uint64_t repeats, resent, outs, ins, deferred, cancelled, forgotten;
	uint64_t tracked_now, due_now;
};

struct trap_gids;

int trap_gids_new(unsigned max_gids, unsigned min_interval_ms, struct trap_gids **out);
void trap_gids_free(struct trap_gids *t);
/*
 * A Report of trap 64 or 65 about gid with this TID, at now_ms. TRAP_IN: the fetch is due at
 * the later of now_ms + delay_ms (the caller's spread) and min_interval_ms after the GID's last
 * fetch; *due_ms says when (may be NULL).
 */
enum trap_verdict trap_gids_report(struct trap_gids *t, uint16_t trap, const union ibv_gid *gid,
				   uint32_t tid, uint64_t now_ms, uint64_t delay_ms,
				   uint64_t *due_ms);
/* The earliest due fetch, UINT64_MAX if none. */
uint64_t trap_gids_next_due(const struct trap_gids *t);
/* A GID whose fetch is due by now_ms: true and *gid; it counts as fetched at now_ms. */
bool trap_gids_take_due(struct trap_gids *t, uint64_t now_ms, union ibv_gid *gid);
/* Forgets every GID and due fetch (a new SM numbers its Reports anew; its refresh covers all). */
void trap_gids_reset(struct trap_gids *t);
void trap_gids_stats(const struct trap_gids *t, struct trap_gids_stats *out);

#endif
