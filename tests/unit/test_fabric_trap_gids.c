/*
 * test_fabric_trap_gids.c - which trap Reports are news: a first 65 or 64 is a change; a repeat
 * of the GID's state is not (whatever its TID); 65 after 64 and 64 after 65 are changes, but the
 * resend of an older Report arriving after a newer change (its TID already applied, within the
 * SA's resend window) is not; after the window the same TID is news (a restarted SM numbers its
 * Reports anew); a 64 is fetched when due (after the caller's delay), at most once per interval
 * per GID, later ones wait until then; a 65 cancels a fetch not yet started; the table is bounded
 * and forgets the least recently changed idle GID; a reset forgets all.
 */
#include <stdint.h>

#include "check.h"
#include "fabric/trap_gids.h"
#include "pr_fixture.h"

static void test_changes_and_repeats(void)
{
	union ibv_gid g = gid_of(9), got;
	struct trap_gids_stats st;
	struct trap_gids *t;
	uint64_t due = 0;

	CHECK_INT(0, trap_gids_new(16, 1000, &t));
	CHECK(trap_gids_next_due(t) == UINT64_MAX);
	/* a reboot: 65 then 64 */
	CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, 100, 5000, 0, &due));
	CHECK_INT(TRAP_REPEAT, trap_gids_report(t, 65, &g, 101, 5001, 0, &due));
	CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 102, 5002, 3, &due));
	CHECK_INT(5005, due);
	CHECK_INT(5005, trap_gids_next_due(t));
	CHECK(!trap_gids_take_due(t, 5004, &got));
	CHECK(trap_gids_take_due(t, 5005, &got));
	CHECK_MEM(&g, &got, sizeof(g));
	CHECK(!trap_gids_take_due(t, 5005, &got));
	/* a repeated 64 is no reason to fetch again */
	CHECK_INT(TRAP_REPEAT, trap_gids_report(t, 64, &g, 103, 5010, 0, &due));
	CHECK(!trap_gids_take_due(t, 9000, &got));
	/* the SA resends the old 65 (its ReportResp was lost): late, already applied */
	CHECK_INT(TRAP_RESENT, trap_gids_report(t, 65, &g, 100, 5020, 0, &due));
	/* a new 65 is news */
	CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, 104, 5030, 0, &due));
	/* and so the old 64 resent now is stale as well */
	CHECK_INT(TRAP_RESENT, trap_gids_report(t, 64, &g, 102, 5040, 0, &due));
	/* a restarted SM numbers its Reports from the start again: a TID seen long ago is news */
	CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 102, 5040 + TRAP_RESEND_WINDOW_MS, 0, &due));
	CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, 104, 5040 + 2 * TRAP_RESEND_WINDOW_MS, 0,
					     &due));
	/* other traps are not ours */
	CHECK_INT(TRAP_IGNORED, trap_gids_report(t, 144, &g, 105, 5050, 0, &due));
	trap_gids_stats(t, &st);
	CHECK_INT(2, st.repeats);
	CHECK_INT(2, st.resent);
	CHECK_INT(3, st.outs);
	CHECK_INT(2, st.ins);
	CHECK_INT(1, st.tracked_now);
	trap_gids_free(t);
}

/* A GID that flaps: every 65 is applied at once, its paths fetched at most once a second. */
static void test_rate_limit(void)
{
	union ibv_gid g = gid_of(7), got;
	struct trap_gids_stats st;
	struct trap_gids *t;
	uint64_t due = 0, now = 10000, fetches = 0;

	CHECK_INT(0, trap_gids_new(16, 1000, &t));
	for (uint32_t i = 0; i < 100; i++, now += 10) {
		CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, 2 * i, now, 0, &due));
		CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 2 * i + 1, now + 5, 0, &due));
		while (trap_gids_take_due(t, now + 5, &got))
			fetches++;
	}
	/* 100 flaps in 1 s: the first fetched at once, the others wait for the interval... */
	CHECK_INT(1, fetches);
	CHECK_INT(11005, trap_gids_next_due(t));
	/* ...and the GID ends in service: its paths are fetched when the interval is over */
	CHECK(trap_gids_take_due(t, 11005, &got));
	/* a 65 cancels a fetch that has not started */
	CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, 500, 11010, 0, &due));
	CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 501, 11020, 0, &due));
	CHECK_INT(12005, due);
	CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, 502, 11030, 0, &due));
	CHECK(trap_gids_next_due(t) == UINT64_MAX);
	trap_gids_stats(t, &st);
	CHECK_INT(100, st.deferred);	/* 99 in the loop, one after */
	CHECK_INT(99, st.cancelled);	/* 98 in the loop, one after */
	trap_gids_free(t);
}

static void test_bounded(void)
{
	union ibv_gid g, got;
	struct trap_gids_stats st;
	struct trap_gids *t;
	uint64_t due;

	CHECK_INT(0, trap_gids_new(4, 1000, &t));
	for (uint64_t i = 0; i < 4; i++) {
		g = gid_of(100 + i);
		CHECK_INT(TRAP_OUT, trap_gids_report(t, 65, &g, (uint32_t)i, 100 + i, 0, &due));
	}
	/* full: a fifth GID makes the oldest idle one forgotten */
	g = gid_of(200);
	CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 9, 200, 0, &due));
	g = gid_of(100);
	CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 10, 201, 0, &due));	/* news again */
	trap_gids_stats(t, &st);
	CHECK_INT(4, st.tracked_now);
	CHECK_INT(2, st.forgotten);	/* 100, then 101 to make room for 100 again */
	CHECK_INT(2, st.due_now);
	/* GIDs whose fetch is due are never forgotten: with all four due, a fifth is ignored */
	for (uint64_t i = 2; i < 4; i++) {
		g = gid_of(100 + i);
		CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 20, 300, 0, &due));
	}
	g = gid_of(300);
	CHECK_INT(TRAP_IGNORED, trap_gids_report(t, 64, &g, 30, 400, 0, &due));
	/* a reset forgets states and dues */
	trap_gids_reset(t);
	CHECK(!trap_gids_take_due(t, 100000, &got));
	g = gid_of(102);
	CHECK_INT(TRAP_IN, trap_gids_report(t, 64, &g, 20, 500, 0, &due));
	CHECK_INT(-22, trap_gids_new(0, 1, &t));
	trap_gids_free(NULL);
	trap_gids_free(t);
}

int main(void)
{
	test_changes_and_repeats();
	test_rate_limit();
	test_bounded();
	return CHECK_DONE();
}
