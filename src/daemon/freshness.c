/*
 * freshness - see freshness.h. One full-table fetch at a time: a new reason while one is
 * scheduled keeps the earlier moment (it covers both); one that comes while a fill runs joins
 * it. Trap fetches wait in trap_gids until due; beyond TRAP_FETCHES_PER_S (a burst of that
 * many) or when more background work queues at the SA client than TRAP_QUEUE_MAX, one full
 * fetch replaces the trap fetches still to come: a storm of traps costs the SA a bounded
 * number of queries, and lookups (which go first at the SA client) keep being answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/token_bucket.h"
#include "daemon/freshness.h"
#include "fabric/informer.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "fabric/sm_tracker.h"
#include "fabric/trap_gids.h"
#include "wire/path_rec.h"
#include "wire/pr_push.h"

enum {
	SHUTDOWN_GRACE_MS = 1000,
	RETRY_MIN_MS = 1000, RETRY_MAX_MS = 8000,
	TRAP_INTERVAL_MS = 1000,
	TRAP_GIDS_MAX = 1024,   /* GIDs whose trap state is kept (least recently changed go) */
	TRAP_QUEUE_MAX = 64,    /* background queries queued beyond which traps overflow */
	TRAP_FETCHES_PER_S = 100, /* GIDs fetched for traps, per second (and in a burst) */
};

struct freshness {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
	struct freshness_opts opts;
	uint16_t traps[INFORMER_MAX_TRAPS];
	struct informer *inf;
	struct sm_tracker *sm;
	struct trap_gids *gids;
	struct token_bucket trap_budget;
	uint64_t rng;
	bool stopping;                 /* shutdown began: no fetch, no fallback any more */
	void (*shutdown_done)(void *arg);
	void *shutdown_arg;
	struct loop_timer periodic_timer, full_timer, retry_timer, trap_timer, shutdown_timer;
	/* The full fetch: scheduled (full_due_ms), running (fill_waiting), failed (retry). */
	enum fetch_cause full_cause, fill_cause, retry_cause;
	uint64_t full_due_ms;          /* 0: none scheduled */
	bool fill_waiting;             /* our callback is registered with the resolver's fill */
	bool retry_pending;
	unsigned retry_pause_ms;       /* the last pause; 0 after a success */
	bool filled_told;              /* on_filled heard the first attempt */
	uint64_t filled_ms;            /* the last full fetch that worked (loop clock), 0: none */
	uint64_t fetches[FETCH_CAUSES], retries, coalesced;
	uint64_t trap_queries, trap_overflows;
	uint64_t refused_check_ms;     /* the last SM check a refused Report caused */
	/* Receiver state: pushes keep it in receiver mode; silence makes it standalone. */
	bool fallen_back;
	struct loop_timer watchdog_timer;
	uint64_t last_push_ms, pushes, push_records, heartbeats, fallbacks;
	uint16_t distributor_lid;
	uint16_t last_trap;            /* the last trap (status), at last_trap_ms; 0: none yet */
	uint64_t last_trap_ms;
	union ibv_gid last_trap_gid;
};

static const char *const cause_names[FETCH_CAUSES] = {
	"start", "periodic", "sm_move", "sa_recovered", "operator", "trap_overflow", "fallback",
};

const char *fetch_cause_name(enum fetch_cause c)
{
	return c < FETCH_CAUSES ? cause_names[c] : "?";
}

/* What this node does now: a receiver that lost its distributor acts alone. */
static enum freshness_role role_now(const struct freshness *f)
{
	return f->opts.role == ROLE_RECEIVER && f->fallen_back ? ROLE_STANDALONE : f->opts.role;
}

/* --- the full-table fetch -------------------------------------------------------- */

static void run_full(struct freshness *f, enum fetch_cause cause, bool retry);

static void retry_tick(struct loop *loop, void *arg)
{
	struct freshness *f = arg;

	(void)loop;
	f->retry_pending = false;
	run_full(f, f->retry_cause, true);
}

/* The fill failed: again after the SA-failure backoff (or as soon as the SA answers). */
static void schedule_retry(struct freshness *f, enum fetch_cause cause, int err)
{
	unsigned pause = f->retry_pause_ms ? 2 * f->retry_pause_ms : f->opts.retry_min_ms;

	if (pause > f->opts.retry_max_ms)
		pause = f->opts.retry_max_ms;
	f->retry_pause_ms = pause;
	f->retry_pending = true;
	f->retry_cause = cause;
	LOG_WARN_RL(10000, "full fetch (%s) failed: %s; again in %u ms, or when the SA answers",
		    fetch_cause_name(cause), strerror(-err), pause);
	loop_timer_start(f->loop, &f->retry_timer, pause, retry_tick, f);
}

static void arm_periodic(struct freshness *f);

static void fill_done(void *arg, int err, size_t records)
{
	struct freshness *f = arg;

	f->fill_waiting = false;
	if (err && !f->stopping && role_now(f) == ROLE_STANDALONE) {
		schedule_retry(f, f->fill_cause, err);
	} else if (!err) {
		f->retry_pause_ms = 0;
		f->filled_ms = loop_now_ms();
		/* The table gives this node its place in each period (the first fill's does). */
		if (f->fill_cause == FETCH_START || f->fill_cause == FETCH_FALLBACK)
			arm_periodic(f);
	}
	if (!f->filled_told && f->fill_cause == FETCH_START) {
		f->filled_told = true;
		if (f->opts.on_filled)
			f->opts.on_filled(f->opts.filled_arg, err, records);
	}
}

/* One full fetch now, the way this node's role does it. */
static void run_full(struct freshness *f, enum fetch_cause cause, bool retry)
{
	int ret;

	if (f->stopping)
		return;
	loop_timer_stop(f->loop, &f->full_timer);	/* this one covers a scheduled one */
	f->full_due_ms = 0;
	loop_timer_stop(f->loop, &f->retry_timer);
	f->retry_pending = false;
	switch (role_now(f)) {
	case ROLE_DISTRIBUTOR:
		f->fetches[cause]++;
		f->opts.on_change(f->opts.change_arg, fetch_cause_name(cause));
		return;
	case ROLE_RECEIVER:
		return; /* the distributor pushes what changed */
	case ROLE_STANDALONE:
		break;
	}
	/* One running covers this reason: it joins, as one scheduled does (schedule_at), and
	 * full_fetches counts only the GetTables sent. */
	if (f->fill_waiting) {
		f->coalesced++;
		return;
	}
	if (retry)
		f->retries++;
	else
		f->fetches[cause]++;
	LOG_INFO("full fetch (%s%s): one GetTable", fetch_cause_name(cause), retry ? ", again" : "");
	f->fill_cause = cause;
	f->fill_waiting = true;
	ret = resolver_fill(f->res, fill_done, f);
	if (ret < 0)
		fill_done(f, ret, 0);	/* nothing was sent: the same as a failure */
}

static void full_tick(struct loop *loop, void *arg)
{
	struct freshness *f = arg;

	(void)loop;
	f->full_due_ms = 0;
	run_full(f, f->full_cause, false);
}

/* The full fetch in delay ms, unless one is due sooner (it covers this reason too). */
static void schedule_at(struct freshness *f, enum fetch_cause cause, uint64_t delay)
{
	uint64_t due = loop_now_ms() + delay;

	if (!delay) {
		run_full(f, cause, false);
		return;
	}
	if (f->full_due_ms) {
		f->coalesced++;
		if (f->full_due_ms <= due)
			return;	/* the earlier moment stays, and its reason */
	} else {
		f->full_cause = cause;
	}
	f->full_due_ms = due;
	loop_timer_start(f->loop, &f->full_timer, delay, full_tick, f);
}

/* This node's moment for a fetch of `records` records that every node makes (spread.h). */
static uint64_t spread_moment(struct freshness *f, uint64_t records)
{
	uint64_t ports, rank;

	resolver_table_rank(f->res, &ports, &rank);
	return spread_moment_ms(&f->opts.spread, ports, rank, records, spread_random(&f->rng));
}

/* Records of a full fetch: the last table's (LMC gives several per port), or its ports. */
static uint64_t table_records(const struct freshness *f)
{
	struct resolver_stats rs;
	uint64_t ports, rank;

	resolver_stats(f->res, &rs);
	if (rs.last_fill_records)
		return rs.last_fill_records;
	resolver_table_rank(f->res, &ports, &rank);
	return ports;
}

/* The window over which the nodes holding this node's table spread a full fetch. */
static uint64_t full_window(const struct freshness *f)
{
	uint64_t ports, rank;

	resolver_table_rank(f->res, &ports, &rank);
	return spread_window_ms(&f->opts.spread, ports, table_records(f));
}

/* A full fetch for a reason every node shares: spread over the window. */
static uint64_t schedule_full(struct freshness *f, enum fetch_cause cause)
{
	uint64_t delay = 0;

	if (f->stopping || role_now(f) == ROLE_RECEIVER)
		return 0;
	if (role_now(f) == ROLE_STANDALONE)
		delay = spread_moment(f, table_records(f));
	if (delay)
		LOG_INFO("full fetch (%s) in %llu ms (spread window %llu ms)", fetch_cause_name(cause),
			 (unsigned long long)delay, (unsigned long long)full_window(f));
	schedule_at(f, cause, delay);
	return delay;
}

static void periodic_tick(struct loop *loop, void *arg)
{
	struct freshness *f = arg;
	uint64_t period = (uint64_t)f->opts.refresh_interval_s * 1000;

	(void)loop;
	arm_periodic(f);
	/* A table fetched less than half a period ago is fresh enough (the first fill, say). */
	if (f->filled_ms && loop_now_ms() - f->filled_ms < period / 2)
		return;
	run_full(f, FETCH_PERIODIC, false);
}

/* The next periodic refresh, at this node's place in the next period of the wall clock (its
 * slot of the spread window after each multiple of the period): nodes booted together, or at
 * any time, keep apart in every period. */
static void arm_periodic(struct freshness *f)
{
	uint64_t period = (uint64_t)f->opts.refresh_interval_s * 1000, ports, rank;

	if (!period || f->stopping)
		return;
	resolver_table_rank(f->res, &ports, &rank);
	loop_timer_start(f->loop, &f->periodic_timer,
			 spread_periodic_ms(&f->opts.spread, period, loop_wall_ms(), ports, rank,
					    table_records(f), spread_random(&f->rng)),
			 periodic_tick, f);
}

/* --- traps ----------------------------------------------------------------------- */

static void trap_tick(struct loop *loop, void *arg);

static void arm_trap_timer(struct freshness *f)
{
	uint64_t next = trap_gids_next_due(f->gids), now = loop_now_ms();

	if (next == UINT64_MAX || f->stopping)
		return;
	loop_timer_start(f->loop, &f->trap_timer, next > now ? next - now : 0, trap_tick, f);
}

/* The fetches of GIDs back in service that are due: one GetTable per cached tuple each. */
static void trap_tick(struct loop *loop, void *arg)
{
	struct freshness *f = arg;
	struct sa_client_stats st;
	union ibv_gid gid;

	(void)loop;
	while (!f->stopping && trap_gids_take_due(f->gids, loop_now_ms(), &gid)) {
		sa_client_stats(f->sa, &st);
		if (st.queued_background_now < TRAP_QUEUE_MAX &&
		    !token_bucket_wait_ms(&f->trap_budget, 1, loop_now_ms())) {
			token_bucket_charge(&f->trap_budget, 1, loop_now_ms());
			f->trap_queries += (uint64_t)resolver_gid_fetch(f->res, &gid);
			continue;
		}
		/* A storm (or the SA budget holds work back): one full fetch covers every GID,
		 * the one scheduled or running included. */
		f->trap_overflows++;
		if (!f->full_due_ms && !f->fill_waiting) {
			LOG_WARN_RL(10000, "more trap fetches than %u/s or %u SA queries waiting: "
				    "one full fetch instead", TRAP_FETCHES_PER_S, TRAP_QUEUE_MAX);
			schedule_full(f, FETCH_TRAP_OVERFLOW);
		}
	}
	arm_trap_timer(f);
}

static void on_trap(void *arg, uint16_t trap, const union ibv_gid *gid, uint32_t tid)
{
	struct freshness *f = arg;
	enum freshness_role role = role_now(f);
	char text[INET6_ADDRSTRLEN];
	enum trap_verdict v;
	uint64_t delay = 0, due = 0;
	size_t n;

	f->last_trap = trap;
	f->last_trap_ms = loop_now_ms();
	memset(&f->last_trap_gid, 0, sizeof(f->last_trap_gid));
	if (gid)
		f->last_trap_gid = *gid;
	/* A receiver leaves every change to its distributor: acting on a trap
	 * alone would diverge from the slices the distributor believes it holds
	 * (an unlink and relink inside one debounce push nothing at all). */
	if (role == ROLE_RECEIVER || !gid || f->stopping)
		return;
	pr_gid_to_text(gid, text);
	/* Every node fetches a GID back in service: spread like any fabric-wide fetch. */
	if (trap == 64 && role == ROLE_STANDALONE)
		delay = spread_moment(f, 1u << f->port->lmc);
	v = trap_gids_report(f->gids, trap, gid, tid, loop_now_ms(), delay, &due);
	switch (v) {
	case TRAP_REPEAT:
	case TRAP_RESENT:
		LOG_DEBUG("trap %u for GID %s: %s, nothing to do", trap, text,
			  v == TRAP_REPEAT ? "a repeat" : "resent after a newer change");
		return;
	case TRAP_IGNORED:
		if (trap != 64 && trap != 65)
			return;
		/* No room to track it: act without the generation check (65 costs nothing; a
		 * 64 joins the full fetch that overflowing traps get). */
		if (trap == 65) {
			resolver_gid_out(f->res, gid);
		} else if (role == ROLE_STANDALONE) {
			resolver_gid_back(f->res, gid);
			f->trap_overflows++;
			schedule_full(f, FETCH_TRAP_OVERFLOW);
		}
		break;
	case TRAP_OUT:
		resolver_gid_out(f->res, gid);
		LOG_INFO("GID %s out of service: its paths dropped", text);
		break;
	case TRAP_IN:
		if (role != ROLE_STANDALONE)
			break;
		n = resolver_gid_back(f->res, gid);
		LOG_INFO("GID %s in service: %zu old paths dropped, fetching in %llu ms", text, n,
			 (unsigned long long)(due > loop_now_ms() ? due - loop_now_ms() : 0));
		arm_trap_timer(f);
		break;
	}
	if (role == ROLE_DISTRIBUTOR)
		f->opts.on_change(f->opts.change_arg, "trap");
}

/* --- the SM and the SA ------------------------------------------------------------ */

static void on_sm_change(void *arg, uint16_t old_lid, uint16_t new_lid)
{
	struct freshness *f = arg;

	(void)old_lid;
	(void)new_lid;
	trap_gids_reset(f->gids);	/* a new SM numbers its Reports anew; its table covers all */
	if (f->inf)
		informer_subscribe(f->inf);
	schedule_full(f, FETCH_SM_MOVE);
}

static void on_sa_timeout(void *arg)
{
	struct freshness *f = arg;

	sm_tracker_check(f->sm); /* has the SM moved away? */
}

/* A Report from a LID that is not the SM's: perhaps the SM moved; look (at most once a
 * second: a forger must not make us send SMPs at its pace). */
static void on_report_refused(void *arg, uint16_t slid)
{
	struct freshness *f = arg;

	(void)slid;
	if (f->refused_check_ms && loop_now_ms() - f->refused_check_ms < 1000)
		return;
	f->refused_check_ms = loop_now_ms();
	sm_tracker_check(f->sm);
}

/* The SA answers again: a failed fill goes now; a table kept through an outage (traps may
 * have been lost) is fetched again, spread, as every node that saw the outage does. */
static void on_sa_recover(void *arg, bool was_down)
{
	struct freshness *f = arg;

	if (f->retry_pending)
		run_full(f, f->retry_cause, true);
	else if (was_down && !f->fill_waiting)
		schedule_full(f, FETCH_SA_RECOVERED);
}

/* --- life ------------------------------------------------------------------------- */

int freshness_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		  struct resolver *res, const struct freshness_opts *opts, struct freshness **out)
{
	struct freshness *f;
	int ret;

	if (opts->n_traps > INFORMER_MAX_TRAPS)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->port = port;
	f->sa = sa;
	f->res = res;
	f->opts = *opts;
	memcpy(f->traps, opts->traps, opts->n_traps * sizeof(*opts->traps));
	f->opts.traps = f->traps;
	if (!f->opts.shutdown_grace_ms)
		f->opts.shutdown_grace_ms = SHUTDOWN_GRACE_MS;
	if (!f->opts.retry_min_ms)
		f->opts.retry_min_ms = RETRY_MIN_MS;
	if (!f->opts.retry_max_ms)
		f->opts.retry_max_ms = RETRY_MAX_MS;
	if (f->opts.retry_max_ms < f->opts.retry_min_ms)
		f->opts.retry_max_ms = f->opts.retry_min_ms;
	if (!f->opts.trap_interval_ms)
		f->opts.trap_interval_ms = TRAP_INTERVAL_MS;
	/* Node-specific, so that nodes started together draw differently. */
	memcpy(&f->rng, port->gid.raw + 8, sizeof(f->rng));
	f->rng ^= loop_now_ns();
	token_bucket_init(&f->trap_budget, TRAP_FETCHES_PER_S, 0, loop_now_ms());
	ret = trap_gids_new(TRAP_GIDS_MAX, f->opts.trap_interval_ms, &f->gids);
	if (ret < 0)
		goto out_free;
	ret = sm_tracker_new(loop, port, opts->sm_poll_ms, on_sm_change, f, &f->sm);
	if (ret < 0)
		goto out_gids;
	if (opts->n_traps) {
		ret = informer_new(loop, port, sa, f->traps, opts->n_traps, opts->inform_refresh_s,
				   on_trap, f, &f->inf);
		if (ret < 0)
			goto out_sm;
		informer_on_refused(f->inf, on_report_refused, f);
	}
	sa_client_on_timeout(sa, on_sa_timeout, f);
	sa_client_on_recover(sa, on_sa_recover, f);
	arm_periodic(f);
	*out = f;
	return 0;

out_sm:
	sm_tracker_free(f->sm);
out_gids:
	trap_gids_free(f->gids);
out_free:
	free(f);
	return ret;
}

static void stop_timers(struct freshness *f)
{
	loop_timer_stop(f->loop, &f->periodic_timer);
	loop_timer_stop(f->loop, &f->full_timer);
	loop_timer_stop(f->loop, &f->retry_timer);
	loop_timer_stop(f->loop, &f->trap_timer);
	loop_timer_stop(f->loop, &f->watchdog_timer);
	f->full_due_ms = 0;
	f->retry_pending = false;
}

void freshness_free(struct freshness *f)
{
	if (!f)
		return;
	sa_client_on_timeout(f->sa, NULL, NULL);
	sa_client_on_recover(f->sa, NULL, NULL);
	resolver_cancel_fill(f->res, f);
	stop_timers(f);
	loop_timer_stop(f->loop, &f->shutdown_timer);
	informer_free(f->inf);
	sm_tracker_free(f->sm);
	trap_gids_free(f->gids);
	free(f);
}

static void receiver_watchdog(struct loop *loop, void *arg)
{
	struct freshness *f = arg;

	(void)loop;
	if (f->fallen_back)
		return;
	f->fallen_back = true;
	f->fallbacks++;
	resolver_set_authoritative(f->res, false);
	LOG_WARN("no push from a distributor for %u ms: filling from the SA myself",
		 f->opts.receiver_timeout_ms);
	run_full(f, FETCH_FALLBACK, false);
	if (f->opts.on_synced)
		f->opts.on_synced(f->opts.synced_arg);
}

static void arm_watchdog(struct freshness *f)
{
	if (f->stopping)
		return;
	loop_timer_start(f->loop, &f->watchdog_timer, f->opts.receiver_timeout_ms,
			 receiver_watchdog, f);
}

void freshness_on_push(struct freshness *f, uint16_t slid, size_t records, uint32_t flags)
{
	if (f->opts.role != ROLE_RECEIVER)
		return;
	f->last_push_ms = loop_now_ms();
	f->distributor_lid = slid;
	if (records) {
		f->pushes++;
		f->push_records += records;
	} else {
		f->heartbeats++;
	}
	if (f->fallen_back) {
		LOG_INFO("distributor at LID %u is back: receiving again", slid);
		f->fallen_back = false;
		/* its own refreshes are over: the distributor's pushes keep the table */
		loop_timer_stop(f->loop, &f->full_timer);
		loop_timer_stop(f->loop, &f->retry_timer);
		f->full_due_ms = 0;
		f->retry_pending = false;
	}
	/* A full slice makes the table complete; until then misses ask the SA. */
	if (flags & PR_PUSH_FULL)
		resolver_set_authoritative(f->res, true);
	arm_watchdog(f);
	if (f->opts.on_synced)
		f->opts.on_synced(f->opts.synced_arg);
}

void freshness_start(struct freshness *f)
{
	if (f->inf)
		informer_subscribe(f->inf);
	switch (f->opts.role) {
	case ROLE_RECEIVER:
		arm_watchdog(f);
		break;
	case ROLE_DISTRIBUTOR:
		f->fetches[FETCH_START]++;
		f->opts.on_change(f->opts.change_arg, "start");
		break;
	case ROLE_STANDALONE:
		/* A node that just booted needs its paths: at once, unless asked to spread. */
		schedule_at(f, FETCH_START, f->opts.start_spread_ms ?
			    spread_random(&f->rng) % f->opts.start_spread_ms : 0);
		break;
	}
}

void freshness_refresh_now(struct freshness *f, const char *why)
{
	LOG_INFO("full refresh: %s", why);
	if (role_now(f) == ROLE_RECEIVER) {
		f->fetches[FETCH_OPERATOR]++;
		resolver_fill(f->res, NULL, NULL); /* the operator asked: do it */
		return;
	}
	run_full(f, FETCH_OPERATOR, false);
}

uint64_t freshness_refresh(struct freshness *f)
{
	if (role_now(f) == ROLE_RECEIVER) {
		freshness_refresh_now(f, "operator");
		return 0;
	}
	return schedule_full(f, FETCH_OPERATOR);
}

static void shutdown_finish(void *arg)
{
	struct freshness *f = arg;
	void (*done)(void *arg) = f->shutdown_done;

	if (!done)
		return;
	f->shutdown_done = NULL;
	loop_timer_stop(f->loop, &f->shutdown_timer);
	done(f->shutdown_arg);
}

static void shutdown_grace(struct loop *loop, void *arg)
{
	struct freshness *f = arg;

	(void)loop;
	LOG_WARN("the SA did not confirm the unsubscriptions; exiting anyway");
	shutdown_finish(f);
}

void freshness_shutdown(struct freshness *f, void (*done)(void *arg), void *arg)
{
	/* A receiver that stops falls back to no one, however long the SA takes to confirm;
	 * nothing else starts either. */
	f->stopping = true;
	stop_timers(f);
	f->shutdown_done = done;
	f->shutdown_arg = arg;
	loop_timer_start(f->loop, &f->shutdown_timer, f->opts.shutdown_grace_ms, shutdown_grace, f);
	if (f->inf)
		informer_unsubscribe(f->inf, shutdown_finish, f);
	else
		shutdown_finish(f);
}

void freshness_stats_json(const struct freshness *f, struct json *j)
{
	struct trap_gids_stats ts;
	uint64_t now = loop_now_ms();

	informer_stats_json(f->inf, j);
	sm_tracker_stats_json(f->sm, j);
	json_object_begin(j, "full_fetches");
	for (int c = 0; c < FETCH_CAUSES; c++)
		json_u64(j, cause_names[c], f->fetches[c]);
	json_object_end(j);
	json_u64(j, "full_fetch_retries", f->retries);
	json_u64(j, "full_fetches_joined", f->coalesced);
	json_bool(j, "full_fetch_scheduled", f->full_due_ms != 0);
	json_gauge(j, "full_fetch_in_ms", f->full_due_ms > now ? f->full_due_ms - now : 0);
	json_gauge(j, "spread_window_ms", full_window(f));
	trap_gids_stats(f->gids, &ts);
	json_u64(j, "trap_fetches", f->trap_queries);
	json_u64(j, "trap_repeats", ts.repeats);
	json_u64(j, "trap_resent", ts.resent);
	json_u64(j, "trap_deferred", ts.deferred);
	json_u64(j, "trap_overflows", f->trap_overflows);
	if (f->opts.role != ROLE_RECEIVER)
		return;
	json_object_begin(j, "receiver");
	json_gauge(j, "distributor_lid", f->distributor_lid);
	json_u64(j, "pushes", f->pushes);
	json_u64(j, "records", f->push_records);
	json_u64(j, "heartbeats", f->heartbeats);
	json_u64(j, "fallbacks", f->fallbacks);
	json_bool(j, "fallen_back", f->fallen_back);
	json_gauge(j, "last_push_age_ms", f->last_push_ms ? loop_now_ms() - f->last_push_ms : 0);
	json_object_end(j);
}

void freshness_set_timing(struct freshness *f, unsigned refresh_interval_s,
			  unsigned receiver_timeout_ms, const struct spread_opts *spread)
{
	f->opts.receiver_timeout_ms = receiver_timeout_ms;
	f->opts.spread = *spread;
	if (refresh_interval_s == f->opts.refresh_interval_s)
		return;
	f->opts.refresh_interval_s = refresh_interval_s;
	loop_timer_stop(f->loop, &f->periodic_timer);
	arm_periodic(f);
}

uint64_t freshness_next_refresh_ms(const struct freshness *f)
{
	return loop_timer_pending(&f->periodic_timer) ? loop_timer_due_ms(&f->periodic_timer) : 0;
}

void freshness_last_trap(const struct freshness *f, uint16_t *trap, union ibv_gid *gid,
			 uint64_t *at_ms)
{
	*trap = f->last_trap;
	*gid = f->last_trap_gid;
	*at_ms = f->last_trap_ms;
}

void freshness_informer_stats(const struct freshness *f, struct informer_stats *out)
{
	if (f->inf)
		informer_stats(f->inf, out);
	else
		memset(out, 0, sizeof(*out));
}
