/*
 * freshness - see freshness.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "daemon/freshness.h"
#include "fabric/informer.h"
#include "fabric/mad_port.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "fabric/sm_tracker.h"
#include "wire/pr_push.h"

enum { SHUTDOWN_GRACE_MS = 1000 };

struct freshness {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
	struct freshness_opts opts;
	uint16_t traps[INFORMER_MAX_TRAPS];
	struct informer *inf;
	struct sm_tracker *sm;
	struct loop_timer periodic_timer, trap_timer, shutdown_timer;
	bool stopping;                 /* shutdown began: no fallback any more */
	void (*shutdown_done)(void *arg);
	void *shutdown_arg;
	uint64_t refresh_periodic, refresh_trap, refresh_sm, refresh_signal;
	/* Receiver state: pushes keep it in receiver mode; silence makes it standalone. */
	bool fallen_back;
	struct loop_timer watchdog_timer;
	uint64_t last_push_ms, pushes, push_records, heartbeats, fallbacks;
	uint16_t distributor_lid;
	uint16_t last_trap;            /* the last trap (status), at last_trap_ms; 0: none yet */
	uint64_t last_trap_ms;
	union ibv_gid last_trap_gid;
};

/* What this node does now: a receiver that lost its distributor acts alone. */
static enum freshness_role role_now(const struct freshness *f)
{
	return f->opts.role == ROLE_RECEIVER && f->fallen_back ? ROLE_STANDALONE : f->opts.role;
}

/* A full refresh the way this node's role does it. */
static void refresh(struct freshness *f, const char *why)
{
	switch (role_now(f)) {
	case ROLE_STANDALONE:
		resolver_fill(f->res, NULL, NULL);
		break;
	case ROLE_DISTRIBUTOR:
		f->opts.on_change(f->opts.change_arg, why);
		break;
	case ROLE_RECEIVER:
		break; /* the distributor pushes what changed */
	}
}

static void periodic_tick(struct loop *loop, void *arg)
{
	struct freshness *f = arg;

	loop_timer_start(loop, &f->periodic_timer, (uint64_t)f->opts.refresh_interval_s * 1000,
			 periodic_tick, f);
	f->refresh_periodic++;
	refresh(f, "periodic refresh");
}

static void trap_refresh(struct loop *loop, void *arg)
{
	struct freshness *f = arg;

	(void)loop;
	f->refresh_trap++;
	LOG_INFO("full refresh after topology traps");
	refresh(f, "topology traps");
}

static void on_trap(void *arg, uint16_t trap, const union ibv_gid *gid)
{
	struct freshness *f = arg;

	f->last_trap = trap;
	f->last_trap_ms = loop_now_ms();
	memset(&f->last_trap_gid, 0, sizeof(f->last_trap_gid));
	if (gid)
		f->last_trap_gid = *gid;
	/* A receiver leaves every change to its distributor: acting on a trap
	 * alone would diverge from the slices the distributor believes it holds
	 * (an unlink and relink inside one debounce push nothing at all). */
	if (role_now(f) == ROLE_RECEIVER)
		return;
	if (gid && trap == 65)
		resolver_gid_out(f->res, gid); /* local: costs the SA nothing */
	else if (gid && trap == 64 && role_now(f) == ROLE_STANDALONE)
		resolver_gid_in(f->res, gid);
	if (role_now(f) == ROLE_DISTRIBUTOR) {
		f->refresh_trap++;
		f->opts.on_change(f->opts.change_arg, "trap");
		return;
	}
	if (!f->opts.trap_refresh_delay_ms)
		return;
	/* Debounced: a burst of traps (a rebooting rack) costs one GetTable. */
	loop_timer_start(f->loop, &f->trap_timer, f->opts.trap_refresh_delay_ms, trap_refresh, f);
}

static void on_sm_change(void *arg, uint16_t old_lid, uint16_t new_lid)
{
	struct freshness *f = arg;

	(void)old_lid;
	(void)new_lid;
	f->refresh_sm++;
	if (f->inf)
		informer_subscribe(f->inf);
	refresh(f, "SM change");
}

static void on_sa_timeout(void *arg)
{
	struct freshness *f = arg;

	sm_tracker_check(f->sm); /* has the SM moved away? */
}

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
	ret = sm_tracker_new(loop, port, opts->sm_poll_ms, on_sm_change, f, &f->sm);
	if (ret < 0)
		goto out_free;
	if (opts->n_traps) {
		ret = informer_new(loop, port, sa, f->traps, opts->n_traps, opts->inform_refresh_s,
				   on_trap, f, &f->inf);
		if (ret < 0)
			goto out_sm;
	}
	sa_client_on_timeout(sa, on_sa_timeout, f);
	if (opts->refresh_interval_s)
		loop_timer_start(loop, &f->periodic_timer,
				 (uint64_t)opts->refresh_interval_s * 1000, periodic_tick, f);
	*out = f;
	return 0;

out_sm:
	sm_tracker_free(f->sm);
out_free:
	free(f);
	return ret;
}

void freshness_free(struct freshness *f)
{
	if (!f)
		return;
	sa_client_on_timeout(f->sa, NULL, NULL);
	loop_timer_stop(f->loop, &f->periodic_timer);
	loop_timer_stop(f->loop, &f->trap_timer);
	loop_timer_stop(f->loop, &f->shutdown_timer);
	loop_timer_stop(f->loop, &f->watchdog_timer);
	informer_free(f->inf);
	sm_tracker_free(f->sm);
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
	resolver_fill(f->res, NULL, NULL);
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
	(void)flags;
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
	if (f->opts.role == ROLE_RECEIVER)
		arm_watchdog(f);
	else if (f->opts.role == ROLE_DISTRIBUTOR)
		f->opts.on_change(f->opts.change_arg, "start");
}

void freshness_refresh_now(struct freshness *f, const char *why)
{
	f->refresh_signal++;
	LOG_INFO("full refresh: %s", why);
	if (role_now(f) == ROLE_RECEIVER)
		resolver_fill(f->res, NULL, NULL); /* the operator asked: do it */
	else
		refresh(f, why);
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
	/* A receiver that stops falls back to no one, however long the SA takes to confirm. */
	f->stopping = true;
	loop_timer_stop(f->loop, &f->watchdog_timer);
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
	informer_stats_json(f->inf, j);
	sm_tracker_stats_json(f->sm, j);
	json_object_begin(j, "refreshes");
	json_u64(j, "periodic", f->refresh_periodic);
	json_u64(j, "trap", f->refresh_trap);
	json_u64(j, "sm_change", f->refresh_sm);
	json_u64(j, "signal", f->refresh_signal);
	json_object_end(j);
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
			  unsigned trap_refresh_delay_ms, unsigned receiver_timeout_ms)
{
	f->opts.trap_refresh_delay_ms = trap_refresh_delay_ms;
	f->opts.receiver_timeout_ms = receiver_timeout_ms;
	if (refresh_interval_s == f->opts.refresh_interval_s)
		return;
	f->opts.refresh_interval_s = refresh_interval_s;
	loop_timer_stop(f->loop, &f->periodic_timer);
	if (refresh_interval_s)
		loop_timer_start(f->loop, &f->periodic_timer, (uint64_t)refresh_interval_s * 1000,
				 periodic_tick, f);
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
