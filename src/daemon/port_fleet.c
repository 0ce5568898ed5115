/*
 * port_fleet - see port_fleet.h. Open ports sit in fixed slots; the configured names (none:
 * every port) decide which of the ports the watcher reports are ours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "base/json.h"
#include "base/log.h"
#include "daemon/config.h"
#include "daemon/port_fleet.h"
#include "daemon/served_port.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/port_set.h"
#include "fabric/port_watch.h"
#include "wire/path_rec.h"

struct port_fleet {
	const struct config *cfg;
	struct port_set *set;
	struct port_fleet_hooks hooks;
	struct served_port_env env;
	struct served_port *open[CONFIG_PORTS_MAX];
	struct config_port wanted[CONFIG_PORTS_MAX];
	size_t n_wanted;		/* 0: every port */
	struct port_watch *watch;
	bool started, stopping;
	unsigned shutting;		/* unsubscriptions still out */
	void (*done)(void *arg);
	void *done_arg;
};

/* --- which ports ---------------------------------------------------------------- */

static bool is_wanted(const struct port_fleet *f, const char *ca, unsigned num)
{
	for (size_t i = 0; i < f->n_wanted; i++)
		if (f->wanted[i].port == num && !strcmp(f->wanted[i].ca, ca))
			return true;
	return !f->n_wanted;
}

static int slot_of(const struct port_fleet *f, const char *ca, unsigned num)
{
	for (int i = 0; i < CONFIG_PORTS_MAX; i++) {
		const struct mad_port *mp = f->open[i] ? served_port_mad(f->open[i]) : NULL;

		if (mp && (unsigned)mp->portnum == num && !strcmp(mp->ca_name, ca))
			return i;
	}
	return -1;
}

/* "mlx5_0:1, mlx5_0:2": the ports there are, for a message. */
static void ports_here(const struct port_fleet *f, char *out, size_t cap)
{
	struct port_seen seen[PORT_WATCH_MAX];
	size_t n = port_watch_ports(f->watch, seen, PORT_WATCH_MAX), len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && i < PORT_WATCH_MAX && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s:%u", i ? ", " : "",
					seen[i].ca_name, seen[i].port_num);
	if (!n)
		snprintf(out, cap, "none");
}

static const struct port_seen *seen_port(const struct port_seen *v, size_t n, const char *ca,
					 unsigned num)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].port_num == num && !strcmp(v[i].ca_name, ca))
			return &v[i];
	return NULL;
}

/* The default port's name (before any port is served: the next one opened). */
static bool is_default(const struct port_fleet *f, const char *ca, unsigned num)
{
	struct path_port def;

	if (!path_service_ports(port_set_service(f->set), &def, 1))
		return true;
	return def.port_num == num && !strcmp(def.ca_name, ca);
}

/* --- open and close ------------------------------------------------------------- */

static int port_open(struct port_fleet *f, const char *ca, unsigned num)
{
	char gid[INET6_ADDRSTRLEN];
	struct served_port *p;
	int slot = -1, ret;

	for (int i = CONFIG_PORTS_MAX - 1; i >= 0; i--)
		if (!f->open[i])
			slot = i;
	if (slot < 0) {
		LOG_WARN("%s:%u: already serving %d ports, not this one", ca, num, CONFIG_PORTS_MAX);
		return -ENOSPC;
	}
	ret = served_port_open(&f->env, ca, num, f->cfg->role == CONFIG_ROLE_DISTRIBUTOR &&
			       is_default(f, ca, num), &p);
	if (ret < 0)
		return ret;
	f->open[slot] = p;
	pr_gid_to_text(&served_port_mad(p)->gid, gid);
	LOG_INFO("serving %s:%d (LID %u, GID %s)", served_port_mad(p)->ca_name,
		 served_port_mad(p)->portnum, served_port_mad(p)->lid, gid);
	if (f->hooks.on_open)
		f->hooks.on_open(f->hooks.arg, p);
	if (f->started)
		served_port_start(p);
	return 0;
}

static void port_close(struct port_fleet *f, int slot)
{
	struct served_port *p = f->open[slot];

	f->open[slot] = NULL;
	served_port_close(p);
}

static void on_port(void *arg, enum port_event ev, const struct port_seen *st)
{
	struct port_fleet *f = arg;
	int slot = slot_of(f, st->ca_name, st->port_num);

	if (f->stopping || !is_wanted(f, st->ca_name, st->port_num))
		return;
	switch (ev) {
	case PORT_UP:
		if (slot < 0) {
			LOG_INFO("%s:%u is up: serving it", st->ca_name, st->port_num);
			port_open(f, st->ca_name, st->port_num);
		}
		break;
	case PORT_DOWN:
		if (slot >= 0) {
			LOG_WARN("%s:%u is down: not serving it", st->ca_name, st->port_num);
			port_close(f, slot);
		}
		break;
	case PORT_READDRESSED:
		/* Its SGID keys its paths: the simple, always right answer is a new start. */
		LOG_INFO("%s:%u has a new LID or GID: serving it again", st->ca_name, st->port_num);
		if (slot >= 0)
			port_close(f, slot);
		port_open(f, st->ca_name, st->port_num);
		break;
	}
}

/* --- start-up ------------------------------------------------------------------- */

/* The legacy ca/port with "" or 0 meant "the first active": name that port now. */
static int name_legacy(struct port_fleet *f, const struct port_seen *seen, size_t n, char *msg,
		       size_t msglen)
{
	struct config_port *w = &f->wanted[0];
	char here[512];

	if (f->n_wanted != 1 || (*w->ca && w->port))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (seen[i].active && (!*w->ca || !strcmp(seen[i].ca_name, w->ca)) &&
		    (!w->port || seen[i].port_num == w->port)) {
			snprintf(w->ca, sizeof(w->ca), "%s", seen[i].ca_name);
			w->port = seen[i].port_num;
			return 0;
		}
	ports_here(f, here, sizeof(here));
	snprintf(msg, msglen, "no active port%s%s; ports here: %s", *w->ca ? " on " : "", w->ca,
		 here);
	return -ENODEV;
}

/* Every port named exists; the default port too, and is one of those served. */
static int check_names(struct port_fleet *f, const struct port_seen *seen, size_t n, char *msg,
		       size_t msglen)
{
	struct config_port def;
	char here[512];
	size_t k;

	ports_here(f, here, sizeof(here));
	for (size_t i = 0; i < f->n_wanted; i++)
		if (!seen_port(seen, n, f->wanted[i].ca, f->wanted[i].port)) {
			snprintf(msg, msglen, "ports: no port %s:%u; ports here: %s",
				 f->wanted[i].ca, f->wanted[i].port, here);
			return -ENODEV;
		}
	if (!*f->cfg->default_port)
		return 0;
	if (config_parse_ports(f->cfg->default_port, &def, 1, &k, msg, msglen) < 0)
		return -EINVAL;
	if (!seen_port(seen, n, def.ca, def.port)) {
		snprintf(msg, msglen, "default_port: no port %s:%u; ports here: %s", def.ca,
			 def.port, here);
		return -ENODEV;
	}
	if (!is_wanted(f, def.ca, def.port)) {
		snprintf(msg, msglen, "default_port: %s:%u is not one of the ports served (%s)",
			 def.ca, def.port, f->cfg->ports);
		return -EINVAL;
	}
	port_set_set_default(f->set, def.ca, def.port);
	return 0;
}

/* The ports to open at start, in the order of the list (or of the CAs): the first is the
 * default unless default_port says otherwise. */
static int open_all(struct port_fleet *f, const struct port_seen *seen, size_t n, char *msg,
		    size_t msglen)
{
	char here[512];
	int ret;

	for (size_t i = 0; i < (f->n_wanted ? f->n_wanted : n); i++) {
		const struct port_seen *s = f->n_wanted ?
			seen_port(seen, n, f->wanted[i].ca, f->wanted[i].port) : &seen[i];

		if (!s->active)
			continue;
		ret = port_open(f, s->ca_name, s->port_num);
		if (ret < 0) {
			snprintf(msg, msglen, "cannot serve %s:%u: %s", s->ca_name, s->port_num,
				 strerror(-ret));
			return ret;
		}
	}
	if (port_set_count(f->set))
		return 0;
	ports_here(f, here, sizeof(here));
	snprintf(msg, msglen, "no usable InfiniBand port to serve (ports %s); ports here: %s",
		 f->cfg->ports, here);
	return -ENODEV;
}

int port_fleet_new(struct loop *loop, const struct config *cfg, struct pr_store *store,
		   struct port_set *set, const struct port_fleet_hooks *hooks,
		   struct port_fleet **out, char *msg, size_t msglen)
{
	struct port_seen seen[PORT_WATCH_MAX];
	struct port_fleet *f = calloc(1, sizeof(*f));
	size_t n;
	int ret;

	if (!f)
		return -ENOMEM;
	f->cfg = cfg;
	f->set = set;
	f->hooks = *hooks;
	f->env = (struct served_port_env){ loop, cfg, store, set, hooks->on_filled,
					   hooks->on_synced, hooks->on_change, hooks->on_close,
					   hooks->arg };
	ret = config_ports(cfg, f->wanted, &f->n_wanted, msg, msglen);
	if (ret < 0)
		goto out_free;
	ret = port_watch_new(loop, cfg->port_poll_ms, port_watch_probe_umad, NULL, on_port, f,
			     &f->watch);
	if (ret < 0) {
		snprintf(msg, msglen, "cannot list the InfiniBand ports: %s", strerror(-ret));
		goto out_free;
	}
	n = port_watch_ports(f->watch, seen, PORT_WATCH_MAX);
	if (n > PORT_WATCH_MAX)
		n = PORT_WATCH_MAX;
	ret = name_legacy(f, seen, n, msg, msglen);
	if (ret == 0)
		ret = check_names(f, seen, n, msg, msglen);
	if (ret == 0)
		ret = open_all(f, seen, n, msg, msglen);
	if (ret < 0) {
		port_fleet_free(f);
		return ret;
	}
	*out = f;
	return 0;

out_free:
	free(f);
	return ret;
}

void port_fleet_free(struct port_fleet *f)
{
	if (!f)
		return;
	port_watch_free(f->watch);
	for (int i = 0; i < CONFIG_PORTS_MAX; i++)
		if (f->open[i])
			port_close(f, i);
	free(f);
}

void port_fleet_start(struct port_fleet *f)
{
	f->started = true;
	for (int i = 0; i < CONFIG_PORTS_MAX; i++)
		if (f->open[i])
			served_port_start(f->open[i]);
}

static void one_unsubscribed(void *arg)
{
	struct port_fleet *f = arg;

	if (f->shutting && !--f->shutting)
		f->done(f->done_arg);
}

void port_fleet_shutdown(struct port_fleet *f, void (*done)(void *arg), void *arg)
{
	struct served_port *p[CONFIG_PORTS_MAX];
	size_t n = port_fleet_ports(f, p, CONFIG_PORTS_MAX);

	f->stopping = true;
	port_watch_set_period(f->watch, 0);
	f->done = done;
	f->done_arg = arg;
	f->shutting = (unsigned)n + 1;	/* + 1: none is done before all have started */
	for (size_t i = 0; i < n; i++)
		served_port_shutdown(p[i], one_unsubscribed, f);
	one_unsubscribed(f);
}

/* --- access and reload --------------------------------------------------------------- */

size_t port_fleet_ports(const struct port_fleet *f, struct served_port **out, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < CONFIG_PORTS_MAX; i++)
		if (f->open[i]) {
			if (n < max)
				out[n] = f->open[i];
			n++;
		}
	return n;
}

struct served_port *port_fleet_default(const struct port_fleet *f)
{
	struct path_port def;
	int slot;

	if (path_service_default_port(port_set_service(f->set), &def) < 0)
		return NULL;
	slot = slot_of(f, def.ca_name, def.port_num);
	return slot < 0 ? NULL : f->open[slot];
}

void port_fleet_apply(struct port_fleet *f)
{
	port_watch_set_period(f->watch, f->cfg->port_poll_ms);
	for (int i = 0; i < CONFIG_PORTS_MAX; i++)
		if (f->open[i])
			served_port_apply(f->open[i]);
}

void port_fleet_refresh_now(struct port_fleet *f, const char *why)
{
	for (int i = 0; i < CONFIG_PORTS_MAX; i++)
		if (f->open[i])
			served_port_refresh_now(f->open[i], why);
}

int port_fleet_prefetch(struct port_fleet *f, const struct config *old)
{
	int ret = 0;

	for (int i = 0; i < CONFIG_PORTS_MAX && ret == 0; i++)
		if (f->open[i])
			ret = served_port_prefetch(f->open[i], old);
	return ret;
}

/* --- stats and status --------------------------------------------------------------- */

static void ports_json(struct port_fleet *f, struct json *j,
		       void (*one)(struct served_port *p, struct json *j))
{
	struct port_seen seen[PORT_WATCH_MAX];
	size_t n = port_watch_ports(f->watch, seen, PORT_WATCH_MAX);
	char gid[INET6_ADDRSTRLEN];

	json_array_begin(j, "ports");
	for (size_t i = 0; i < n && i < PORT_WATCH_MAX; i++) {
		int slot = slot_of(f, seen[i].ca_name, seen[i].port_num);

		if (slot < 0 && !is_wanted(f, seen[i].ca_name, seen[i].port_num))
			continue;	/* not ours: another daemon's, or left out */
		json_object_begin(j, NULL);
		if (slot >= 0) {
			one(f->open[slot], j);
		} else {
			pr_gid_to_text(&seen[i].gid, gid);
			json_str(j, "ca", seen[i].ca_name);
			json_str(j, "gid", gid);
			json_gauge(j, "port", seen[i].port_num);
			json_gauge(j, "lid", seen[i].lid);
			json_str(j, "state", seen[i].active ? "active" : "down");
			json_bool(j, "served", false);
		}
		json_object_end(j);
	}
	json_array_end(j);
}

void port_fleet_stats_json(struct port_fleet *f, struct json *j)
{
	ports_json(f, j, served_port_stats_json);
}

void port_fleet_status_json(struct port_fleet *f, struct json *j)
{
	ports_json(f, j, served_port_status_json);
}
