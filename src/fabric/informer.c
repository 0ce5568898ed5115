/*
 * informer - see informer.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "fabric/informer.h"
#include "fabric/mad_dispatch.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "wire/notice.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { RECENT_TIDS = 16, RETRY_MS = 1000, DUPLICATE_WINDOW_MS = 1000 };

struct sub_ctx {
	struct informer *inf;
	unsigned idx;
	bool subscribe;
};

static int send_inform(struct informer *inf, unsigned idx, bool subscribe);

struct informer {
	struct loop *loop;
	struct loop_timer retry_timer;  /* subscriptions the SA refused, again soon */
	struct mad_port *port;
	struct sa_client *sa;
	uint16_t traps[INFORMER_MAX_TRAPS];
	bool subscribed[INFORMER_MAX_TRAPS];
	unsigned sub_out[INFORMER_MAX_TRAPS];	/* subscribing Sets not answered yet */
	size_t n_traps;
	unsigned refresh_s;
	trap_fn fn;
	void *arg;
	struct loop_timer timer;        /* the periodic re-subscription */
	struct recent_report {
		uint64_t key;         /* slid << 32 | TID */
		uint64_t when_ms;
		unsigned char notice[NOTICE_LEN];
	} recent[RECENT_TIDS];
	unsigned recent_pos;
	unsigned pending_unsub;
	void (*unsub_done)(void *arg);
	void *unsub_arg;
	void (*on_refused)(void *arg, uint16_t slid);
	void *refused_arg;
	struct informer_stats stats;
};

/* A subscribing Set for each trap (only those not subscribed, unless all) whose last one is
 * not still out: while the SA is silent, the retries and refreshes piled Sets up in the SA
 * client's queue, ahead of lookups, until it was full. */
static void resubscribe(struct informer *inf, bool all)
{
	for (unsigned i = 0; i < inf->n_traps; i++)
		if (!inf->sub_out[i] && (all || !inf->subscribed[i]))
			send_inform(inf, i, true);
}

static void retry_tick(struct loop *loop, void *arg)
{
	(void)loop;
	resubscribe(arg, false);
}

static void sub_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct sub_ctx *ctx = arg;
	struct informer *inf = ctx->inf;
	uint16_t trap;

	(void)mad;
	(void)len;
	if (err == -ECANCELED) { /* the SA client is going: the informer may be gone already */
		free(ctx);
		return;
	}
	trap = inf->traps[ctx->idx];
	if (ctx->subscribe) {
		if (inf->sub_out[ctx->idx])
			inf->sub_out[ctx->idx]--;
		if (!err && !status) {
			if (!inf->subscribed[ctx->idx])
				LOG_INFO("subscribed to trap %u at SM LID %u", trap, inf->port->sm_lid);
			inf->subscribed[ctx->idx] = true;
			inf->stats.subscribe_ok++;
		} else {
			inf->subscribed[ctx->idx] = false;
			inf->stats.subscribe_failed++;
			LOG_WARN_RL(30000, "subscription to trap %u failed: %s", trap,
				 err ? strerror(-err) : sa_status_str((uint16_t)(status << 8)));
			/* An SM that is still starting refuses; try again soon. */
			if (!loop_timer_pending(&inf->retry_timer))
				loop_timer_start(inf->loop, &inf->retry_timer, RETRY_MS, retry_tick, inf);
		}
	} else {
		inf->subscribed[ctx->idx] = false;
		if (inf->pending_unsub && !--inf->pending_unsub && inf->unsub_done)
			inf->unsub_done(inf->unsub_arg);
	}
	free(ctx);
}

static int send_inform(struct informer *inf, unsigned idx, bool subscribe)
{
	unsigned char rec[40] = { 0 }; /* 36 bytes, padded to the 8-byte attribute offset */
	struct inform_info ii;
	struct sub_ctx *ctx = calloc(1, sizeof(*ctx));
	int64_t ret;

	if (!ctx)
		return -ENOMEM;
	ctx->inf = inf;
	ctx->idx = idx;
	ctx->subscribe = subscribe;
	inform_info_for_trap(&ii, inf->traps[idx], subscribe);
	inform_info_encode(rec, &ii);
	inf->stats.subscribe_sent += subscribe;
	ret = sa_client_query(inf->sa, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, 0, rec,
			      sizeof(rec), sub_done, ctx);
	if (ret < 0) {
		free(ctx);
		return (int)ret;
	}
	inf->sub_out[idx] += subscribe;
	return 0;
}

void informer_subscribe(struct informer *inf)
{
	for (unsigned i = 0; i < inf->n_traps; i++)
		send_inform(inf, i, true);
}

static void refresh_tick(struct loop *loop, void *arg)
{
	struct informer *inf = arg;

	loop_timer_start(loop, &inf->timer, (uint64_t)inf->refresh_s * 1000, refresh_tick, inf);
	resubscribe(inf, true);
}

/*
 * A resent Report (our ReportResp was lost) has the same sender, TID and
 * content and comes within the SA's response timeout. A restarted SM reuses
 * TIDs, so an old TID alone proves nothing: acting twice is harmless, and
 * missing a trap is not.
 */
static bool seen_before(struct informer *inf, uint16_t slid, uint32_t tid,
			const unsigned char *notice)
{
	uint64_t key = (uint64_t)slid << 32 | tid, now = loop_now_ms();
	struct recent_report *r;

	for (unsigned i = 0; i < RECENT_TIDS; i++) {
		r = &inf->recent[i];
		if (r->key == key && now - r->when_ms < DUPLICATE_WINDOW_MS &&
		    !memcmp(r->notice, notice, NOTICE_LEN))
			return true;
	}
	r = &inf->recent[inf->recent_pos++ % RECENT_TIDS];
	r->key = key;
	r->when_ms = now;
	memcpy(r->notice, notice, NOTICE_LEN);
	return false;
}

/* A Report (the dispatcher hands us every SA Report, its header decoded): answered with a
 * ReportResp, then acted on unless it is a resend. */
static void on_report(void *arg, const struct mad_in *in)
{
	struct informer *inf = arg;
	const struct umad_msg *msg = in->msg;
	unsigned char resp[MAD_LEN];
	struct sa_hdr h = in->hdr;
	struct notice n;
	union ibv_gid gid;
	size_t len;
	int ret;

	inf->stats.reports++;
	/* Only the master SM reports traps; a Report from elsewhere is a forgery (or news of an
	 * SM move the tracker has yet to see): no answer, no action. */
	if (msg->slid != inf->port->sm_lid) {
		inf->stats.refused++;
		LOG_WARN_RL(1000, "Report from LID %u refused: the master SM is at LID %u",
			    msg->slid, inf->port->sm_lid);
		if (inf->on_refused)
			inf->on_refused(inf->refused_arg, msg->slid);
		return;
	}
	if (h.attr_id != UMAD_ATTR_NOTICE ||
	    notice_decode(msg->mad + SA_HDR_LEN, msg->len - SA_HDR_LEN, &n) < 0) {
		inf->stats.malformed++;
		LOG_WARN("malformed Report from LID %u", msg->slid);
		return;
	}
	/* Answer first: the SA resends a Report until it sees the ReportResp. */
	len = msg->len < sizeof(resp) ? msg->len : sizeof(resp);
	memcpy(resp, msg->mad, len);
	h.method = UMAD_METHOD_REPORT_RESP;
	h.status = 0;
	sa_hdr_encode(resp, &h);
	ret = mad_port_send(inf->port, inf->port->sa_agent, msg->slid, msg->sqpn ? msg->sqpn : 1,
			    resp, len, 0, 0);
	if (ret < 0)
		LOG_WARN("ReportResp to LID %u failed: %s", msg->slid, strerror(-ret));
	if (seen_before(inf, msg->slid, (uint32_t)h.tid, msg->mad + SA_HDR_LEN)) {
		inf->stats.duplicates++;
		return;
	}
	for (unsigned i = 0; i < inf->n_traps; i++)
		if (inf->traps[i] == n.trap_number)
			inf->stats.traps[i]++;
	ret = notice_trap_gid(&n, &gid);
	if (ret == 0) {
		char text[INET6_ADDRSTRLEN];

		pr_gid_to_text(&gid, text);
		LOG_INFO("trap %u for GID %s from LID %u (TID 0x%x)", n.trap_number, text,
			 msg->slid, (uint32_t)h.tid);
	} else {
		LOG_INFO("trap %u from LID %u (TID 0x%x)", n.trap_number, msg->slid,
			 (uint32_t)h.tid);
	}
	inf->fn(inf->arg, n.trap_number, ret == 0 ? &gid : NULL, (uint32_t)h.tid);
}

int informer_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const uint16_t *traps, size_t n_traps, unsigned refresh_s, trap_fn fn, void *arg,
		 struct informer **out)
{
	const struct mad_route route = { UMAD_CLASS_SUBN_ADM, MAD_KIND_REPORT, 0, 0 };
	struct informer *inf;
	int ret;

	if (n_traps > INFORMER_MAX_TRAPS)
		return -EINVAL;
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return -ENOMEM;
	ret = mad_dispatch_add(port->dispatch, &route, on_report, inf);
	if (ret < 0) {
		free(inf);
		return ret;
	}
	inf->loop = loop;
	inf->port = port;
	inf->sa = sa;
	memcpy(inf->traps, traps, n_traps * sizeof(*traps));
	inf->n_traps = n_traps;
	inf->refresh_s = refresh_s;
	inf->fn = fn;
	inf->arg = arg;
	if (refresh_s)
		loop_timer_start(loop, &inf->timer, (uint64_t)refresh_s * 1000, refresh_tick, inf);
	*out = inf;
	return 0;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	mad_dispatch_remove(inf->port->dispatch, on_report, inf);
	loop_timer_stop(inf->loop, &inf->timer);
	loop_timer_stop(inf->loop, &inf->retry_timer);
	free(inf);
}

void informer_on_refused(struct informer *inf, void (*fn)(void *arg, uint16_t slid),
			 void *arg)
{
	inf->on_refused = fn;
	inf->refused_arg = arg;
}

void informer_unsubscribe(struct informer *inf, void (*done)(void *arg), void *arg)
{
	inf->unsub_done = done;
	inf->unsub_arg = arg;
	inf->pending_unsub = 0;
	for (unsigned i = 0; i < inf->n_traps; i++)
		if (inf->subscribed[i] && send_inform(inf, i, false) == 0)
			inf->pending_unsub++;
	if (!inf->pending_unsub && done)
		done(arg);
}

void informer_stats(const struct informer *inf, struct informer_stats *out)
{
	*out = inf->stats;
	out->subscribed = 0;
	for (unsigned i = 0; i < inf->n_traps; i++)
		out->subscribed += inf->subscribed[i];
}

void informer_stats_json(const struct informer *inf, struct json *j)
{
	struct informer_stats st = { 0 };
	char name[8];

	if (inf)
		informer_stats(inf, &st);
	json_object_begin(j, "traps");
	for (size_t i = 0; inf && i < inf->n_traps; i++) {
		snprintf(name, sizeof(name), "%u", inf->traps[i]);
		json_u64(j, name, st.traps[i]);
	}
	json_object_end(j);
	json_u64(j, "reports", st.reports);
	json_u64(j, "reports_duplicate", st.duplicates);
	json_u64(j, "reports_malformed", st.malformed);
	json_u64(j, "reports_refused", st.refused);
	json_gauge(j, "subscriptions", st.subscribed);
	json_u64(j, "subscribe_sent", st.subscribe_sent);
	json_u64(j, "subscribe_ok", st.subscribe_ok);
	json_u64(j, "subscribe_failed", st.subscribe_failed);
}
