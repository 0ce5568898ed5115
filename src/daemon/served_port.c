/*
 * served_port - see served_port.h. The per-port wiring that main.c did for its one port, in
 * the order the objects depend on each other; closing undoes it in reverse, the SA client
 * first (its end fails the fetches the resolver and the doors still await).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "cache/pr_store.h"
#include "daemon/config.h"
#include "daemon/freshness.h"
#include "daemon/served_port.h"
#include "doors/sa_server.h"
#include "fabric/informer.h"
#include "fabric/mad_port.h"
#include "fabric/port_set.h"
#include "fabric/push_acl.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "wire/path_rec.h"

struct served_port {
	const struct served_port_env *env;
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
	struct freshness *fresh;
	struct push_acl *push_from;   /* who may write at its SA door */
	struct sa_server *sad;        /* its SA door on QP1; NULL with sa_server 0 */
	bool served;                  /* in the port set */
	bool sa_reachable;            /* the SA's last exchange was an answer, not a timeout */
	uint64_t seen_responses, seen_timeouts;
};

/* --- hooks ------------------------------------------------------------------ */

static void filled(void *arg, int err, size_t records)
{
	struct served_port *p = arg;

	if (p->env->on_filled)
		p->env->on_filled(p->env->arg, p, err, records);
}

static void synced(void *arg)
{
	struct served_port *p = arg;

	if (p->env->on_synced)
		p->env->on_synced(p->env->arg, p);
}

static void changed(void *arg, const char *why)
{
	struct served_port *p = arg;

	if (p->env->on_change)
		p->env->on_change(p->env->arg, p, why);
}

static void pushed(void *arg, uint16_t slid, size_t records, uint32_t flags)
{
	struct served_port *p = arg;

	freshness_on_push(p->fresh, slid, records, flags);
}

/* --- open and close ------------------------------------------------------------ */

int served_port_prefetch(struct served_port *p, const struct config *old)
{
	for (size_t i = 0; i < CONFIG_PREFETCH_LISTS; i++) {
		const struct config_list *l, *was = old ? config_prefetch(old, i, NULL, NULL) : NULL;
		uint8_t flag;

		l = config_prefetch(p->env->cfg, i, NULL, &flag);
		for (size_t k = 0; k < l->n; k++) {
			struct pr_request req = { .tuple_flags = flag };
			uint64_t v = l->v[k];
			bool had = false;
			int ret;

			for (size_t m = 0; was && m < was->n; m++)
				had |= was->v[m] == v;
			if (had)
				continue;
			req.service_id = v;
			req.pkey = (uint16_t)v;
			req.qos_class = (uint16_t)v;
			ret = resolver_prefetch_add(p->res, &req);
			if (ret < 0 && ret != -EEXIST) {
				LOG_ERR("cannot prefetch %#llx: %s", (unsigned long long)v,
					strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

static int open_fabric(struct served_port *p, bool distributes)
{
	const struct config *c = p->env->cfg;
	struct sa_client_opts sa_opts = { c->sa_credits, c->sa_timeout_ms, c->sa_retries,
					  c->sa_backoff_max_ms, 0, 0 };
	struct resolver_opts res_opts = { c->negative_ttl_ms, c->max_stale_s * 1000,
					  c->max_entries, 1u << 20, p->env->store };
	struct freshness_opts fresh_opts = {
		.role = distributes ? ROLE_DISTRIBUTOR :
			c->role == CONFIG_ROLE_RECEIVER ? ROLE_RECEIVER : ROLE_STANDALONE,
		.receiver_timeout_ms = c->receiver_timeout_s * 1000,
		.on_change = changed, .change_arg = p,
		.on_synced = synced, .synced_arg = p,
		.on_filled = filled, .filled_arg = p,
		.refresh_interval_s = c->refresh_interval_s,
		.spread = { c->spread_records_per_s, c->spread_max_s * 1000 },
		.start_spread_ms = c->start_spread_ms,
		.retry_min_ms = c->sa_timeout_ms, .retry_max_ms = c->sa_backoff_max_ms,
		.sm_poll_ms = c->sm_poll_ms,
		.inform_refresh_s = c->inform_refresh_s,
		.traps = c->traps,
		.n_traps = c->sa_server ? c->n_traps : 0,
	};
	int ret;

	/* Each MAD goes to the owner that registered for it (mad_dispatch.h). */
	ret = mad_port_watch(p->port, p->env->loop);
	if (ret < 0)
		return ret;
	ret = sa_client_new(p->env->loop, p->port, &sa_opts, &p->sa);
	if (ret < 0)
		return ret;
	sa_client_set_budget(p->sa, c->sa_max_queries_per_s, c->sa_max_records_per_s);
	ret = resolver_new(p->env->loop, p->port, p->sa, &res_opts, &p->res);
	if (ret < 0)
		return ret;
	ret = served_port_prefetch(p, NULL);
	if (ret < 0)
		return ret;
	return freshness_new(p->env->loop, p->port, p->sa, p->res, &fresh_opts, &p->fresh);
}

static int open_sa_door(struct served_port *p)
{
	const struct config *c = p->env->cfg;
	struct sa_server_opts o = {
		.writes_allowed = c->sa_sm_key_set, .sm_key = c->sa_sm_key,
		.relay = c->sa_relay, .max_set_records = c->sa_max_set_records,
		.on_push = pushed, .push_arg = p,
		.new_tuples = c->client_new_tuples,
		.new_tuples_per_s = c->client_new_tuples_per_s,
	};
	char msg[256];
	int ret;

	if (!c->sa_server)
		return 0;
	ret = push_acl_new(p->env->loop, p->port, p->sa, p->env->store, c->push_from,
			   c->distributor_gid, &p->push_from, msg, sizeof(msg));
	if (ret < 0) {
		LOG_ERR("%s", msg);
		return ret;
	}
	o.push_from = p->push_from;
	return sa_server_new(p->env->loop, p->port, port_set_service(p->env->set), p->sa, &o,
			     &p->sad);
}

int served_port_open(const struct served_port_env *env, const char *ca, unsigned port_num,
		     bool distributes, struct served_port **out)
{
	struct served_port *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	p->env = env;
	ret = mad_port_open(ca, (int)port_num, env->cfg->sa_server, &p->port);
	if (ret < 0) {
		free(p);
		return ret;
	}
	ret = open_fabric(p, distributes);
	if (ret == 0)
		ret = open_sa_door(p);
	if (ret == 0)
		ret = port_set_serve(env->set, p->res, p->sa);
	if (ret < 0) {
		LOG_ERR("cannot serve %s:%d: %s", p->port->ca_name, p->port->portnum, strerror(-ret));
		served_port_close(p);
		return ret;
	}
	p->served = true;
	*out = p;
	return 0;
}

void served_port_close(struct served_port *p)
{
	union ibv_gid gid;

	if (!p)
		return;
	if (p->served)
		port_set_unserve(p->env->set, p->res);
	freshness_free(p->fresh);
	sa_client_free(p->sa);	/* fails pending fetches before their owners go */
	p->sa = NULL;
	if (p->served && p->env->on_close)
		p->env->on_close(p->env->arg, p);
	sa_server_free(p->sad);
	push_acl_free(p->push_from);
	if (p->res) {
		gid = p->port->gid;
		pr_store_port_remove(p->env->store, &gid);
	}
	resolver_free(p->res);
	mad_port_close(p->port);
	free(p);
}

void served_port_start(struct served_port *p)
{
	freshness_start(p->fresh);
}

void served_port_shutdown(struct served_port *p, void (*done)(void *arg), void *arg)
{
	freshness_shutdown(p->fresh, done, arg);
}

/* --- reload ------------------------------------------------------------------- */

void served_port_apply(struct served_port *p)
{
	const struct config *c = p->env->cfg;

	sa_client_set_timing(p->sa, c->sa_timeout_ms, c->sa_retries, c->sa_backoff_max_ms);
	sa_client_set_budget(p->sa, c->sa_max_queries_per_s, c->sa_max_records_per_s);
	freshness_set_timing(p->fresh, c->refresh_interval_s, c->receiver_timeout_s * 1000,
			     &(struct spread_opts){ c->spread_records_per_s,
						    c->spread_max_s * 1000 });
}

void served_port_refresh_now(struct served_port *p, const char *why)
{
	freshness_refresh_now(p->fresh, why);
}

/* --- access ------------------------------------------------------------------- */

struct mad_port *served_port_mad(const struct served_port *p)
{
	return p->port;
}

struct sa_client *served_port_sa(const struct served_port *p)
{
	return p->sa;
}

struct resolver *served_port_resolver(const struct served_port *p)
{
	return p->res;
}

struct freshness *served_port_freshness(const struct served_port *p)
{
	return p->fresh;
}

struct sa_server *served_port_sa_door(const struct served_port *p)
{
	return p->sad;
}

/* The SA is reachable when its last exchange was an answer: sampled on each call. */
bool served_port_sa_reachable(struct served_port *p)
{
	struct sa_client_stats st;

	sa_client_stats(p->sa, &st);
	if (st.responses != p->seen_responses)
		p->sa_reachable = true;
	else if (st.timeouts != p->seen_timeouts)
		p->sa_reachable = false;
	p->seen_responses = st.responses;
	p->seen_timeouts = st.timeouts;
	return p->sa_reachable;
}

/* --- stats and status ----------------------------------------------------------- */

void served_port_members(const struct served_port *p, struct json *j)
{
	char gid[INET6_ADDRSTRLEN];

	/* the strings first: in Prometheus text they label the port's samples */
	pr_gid_to_text(&p->port->gid, gid);
	json_str(j, "ca", p->port->ca_name);
	json_str(j, "gid", gid);
	json_gauge(j, "port", (uint64_t)p->port->portnum);
	json_gauge(j, "lid", p->port->lid);
	json_gauge(j, "sm_lid", p->port->sm_lid);
}

void served_port_stats_json(struct served_port *p, struct json *j)
{
	served_port_members(p, j);
	json_str(j, "state", "active");
	json_bool(j, "served", true);
	port_set_port_stats_json(p->res, p->sa, j);
	freshness_stats_json(p->fresh, j);
	if (p->sad)
		sa_server_stats_json(p->sad, j);
}

void served_port_status_json(struct served_port *p, struct json *j)
{
	uint64_t now = loop_now_ms(), wall = (uint64_t)time(NULL), at, next;
	char tgid[INET6_ADDRSTRLEN];
	struct pr_cache_stats cs;
	struct resolver_stats rs;
	union ibv_gid trap_gid;
	uint16_t trap;

	resolver_stats(p->res, &rs);
	pr_store_stats(p->env->store, &cs);
	freshness_last_trap(p->fresh, &trap, &trap_gid, &at);
	next = freshness_next_refresh_ms(p->fresh);
	pr_gid_to_text(&trap_gid, tgid);
	served_port_members(p, j);
	json_str(j, "state", "active");
	json_bool(j, "served", true);
	json_bool(j, "sa_reachable", served_port_sa_reachable(p));
	if (rs.last_sa_ok_ms)
		json_u64(j, "sa_last_answer_age_s", (now - rs.last_sa_ok_ms) / 1000);
	else
		json_null(j, "sa_last_answer_age_s");
	json_bool(j, "filling", rs.filling);
	json_u64(j, "fills", rs.fills);
	json_u64(j, "fill_failures", rs.fill_failures);
	if (rs.last_fill_at_ms) {
		json_u64(j, "last_fill_time", wall - (now - rs.last_fill_at_ms) / 1000);
		json_u64(j, "last_fill_age_s", (now - rs.last_fill_at_ms) / 1000);
	} else {
		json_null(j, "last_fill_time");
		json_null(j, "last_fill_age_s");
	}
	json_u64(j, "last_fill_records", rs.last_fill_records);
	json_u64(j, "last_fill_ms", rs.last_fill_ms);
	if (next)
		json_u64(j, "next_refresh_s", next > now ? (next - now + 999) / 1000 : 0);
	else
		json_null(j, "next_refresh_s");
	/* the cache is one for every port */
	json_u64(j, "entries", cs.entries);
	json_u64(j, "destinations", cs.destinations);
	if (trap) {
		json_object_begin(j, "last_trap");
		json_u64(j, "trap", trap);
		json_str(j, "gid", tgid);
		json_u64(j, "time", wall - (now - at) / 1000);
		json_u64(j, "age_s", (now - at) / 1000);
		json_object_end(j);
	} else {
		json_null(j, "last_trap");
	}
}
