/*
 * localsad - the local SA daemon: wiring only. It opens its ports (each fills the one cache with
 * one GetTable), the sockets and the snapshot, and serves the doors from one epoll loop until
 * SIGTERM, following ports that go down and come up; SIGHUP re-reads the configuration and
 * forces a full refresh. Nothing imports this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "cache/pr_store.h"
#include "daemon/config.h"
#include "daemon/freshness.h"
#include "daemon/port_fleet.h"
#include "daemon/served_port.h"
#include "doors/acm_server.h"
#include "doors/ctl_server.h"
#include "doors/door_listen.h"
#include "doors/nl_door.h"
#include "doors/sa_server.h"
#include "doors/shm_door.h"
#include "fabric/distributor.h"
#include "fabric/informer.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/port_set.h"
#include "fabric/port_watch.h"
#include "fabric/push_acl.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "wire/path_rec.h"

enum {
	STATUS_PERIOD_MS = 5000,	/* systemd STATUS= and the SA-reachable probe */
	EXIT_RUNTIME = 1,		/* the port, a socket, the loop cannot be set up */
	EXIT_CONFIG = 2,		/* bad options or config file */
};

struct daemon {
	struct config cfg;
	int argc;                     /* the command line, read again by a reload */
	char **argv;
	struct loop *loop;
	struct pr_store *store;       /* the one cache of every port */
	struct port_set *set;         /* the ports served, as the lookups' backend */
	struct port_fleet *fleet;     /* the ports, opened and closed as they come and go */
	unsigned start_fills;         /* ports open at start whose first fill is still out */
	struct served_port *dist_port; /* distributor: the port it fetches and pushes through */
	struct sa_client *push_sa;    /* distributor: Sets to receivers, its own credits */
	struct distributor *dist;
	struct path_service *svc;     /* what every door uses: lookups, tables, writes, counters */
	struct ctl_server *ctl;
	struct acm_server *acm;      /* NULL when off or when its socket is taken */
	struct shm_door *shm;        /* liblocalsa's snapshot; NULL when off or its name is taken */
	struct nl_door *nl;          /* the kernel's netlink door; NULL when off or no NETLINK_RDMA */
	uint64_t started_ms;
	uint64_t sighups, reloads, reload_failures;
	unsigned stopping;
	bool ready;
	/* start-up as a daemon: the parent waits on this pipe for the outcome */
	int start_pipe;               /* write end, -1 once told */
	int start_stderr;             /* the terminal's stderr while starting, -1 after */
	/* systemd and status */
	uint64_t watchdog_ms;         /* WATCHDOG=1 this often; 0: no watchdog */
	struct loop_timer status_timer, watchdog_timer;
	char last_status[256];
};

/* The open ports, into p[CONFIG_PORTS_MAX]. */
static size_t open_ports(const struct daemon *d, struct served_port **p)
{
	return d->fleet ? port_fleet_ports(d->fleet, p, CONFIG_PORTS_MAX) : 0;
}

/* The default port, else the first open one, else NULL. */
static struct served_port *main_port(const struct daemon *d)
{
	struct served_port *p[CONFIG_PORTS_MAX], *def = d->fleet ? port_fleet_default(d->fleet) :
								    NULL;

	return def ? def : open_ports(d, p) ? p[0] : NULL;
}

/* The SA is reachable when one port's SA answers. */
static bool sa_reachable(const struct daemon *d)
{
	struct served_port *p[CONFIG_PORTS_MAX];
	size_t n = open_ports(d, p);
	bool any = false;

	for (size_t i = 0; i < n; i++)
		any |= served_port_sa_reachable(p[i]);
	return any;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: localsad [options]\n"
		"  -c, --config FILE          read `name value` lines from FILE\n"
		"  -f, --foreground           stay in the foreground, log to stderr\n"
		"  -s, --control-socket PATH  the localsa CLI's socket\n"
		"      --acm-socket PATH      the ACM (ibacm protocol) socket; \"none\": off\n"
		"      --shm-name NAME        liblocalsa's shared-memory snapshot; \"none\": off\n"
		"  -l, --log-file FILE        log to FILE\n"
		"  -L, --log-level LEVEL      err, warn, info or debug (0-3)\n"
		"  -r, --ready-file FILE      create FILE once the first fill has finished\n"
		"  -o, --option NAME=VALUE    set any config option\n"
		"  -h, --help                 this text, and the config options\n"
		"  -V, --version\n"
		"      --check-config FILE    check FILE, report every error and warning, and exit\n"
		"SIGHUP (or `localsa reload`) reads the same file and flags again; options marked\n"
		"[reload] take effect at once, the others at the next start.\n"
		"config options (name, default, meaning):\n");
	config_print_options(out);
}

/* --- systemd and status ----------------------------------------------------- */

/* sd_notify(3) when systemd started us (NOTIFY_SOCKET); nothing otherwise. */
static void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
}

static void status_line(struct daemon *d, char *out, size_t cap)
{
	struct served_port *mp = main_port(d), *p[CONFIG_PORTS_MAX];
	size_t n = open_ports(d, p);
	struct pr_cache_stats cs;
	struct resolver_stats rs = { 0 }, one;
	uint64_t now = loop_now_ms();
	char ports[32] = "";

	for (size_t i = 0; i < n; i++) {
		resolver_stats(served_port_resolver(p[i]), &one);
		resolver_stats_add(&rs, &one);
	}
	if (n > 1)
		snprintf(ports, sizeof(ports), " on %zu ports", n);
	pr_store_stats(d->store, &cs);
	if (!mp)
		snprintf(out, cap, "no port up: waiting for one");
	else if (rs.filling && !rs.fills)
		snprintf(out, cap, "filling the cache (one GetTable to the SA at LID %u)",
			 served_port_mad(mp)->sm_lid);
	else
		snprintf(out, cap, "serving %llu paths%s; last fill %s%llu s ago; SA %s",
			 (unsigned long long)cs.entries, ports,
			 rs.fill_failures && !rs.last_fill_at_ms ? "failed, " : "",
			 (unsigned long long)(rs.last_fill_at_ms ? (now - rs.last_fill_at_ms) / 1000 :
				(now - d->started_ms) / 1000),
			 sa_reachable(d) ? "answering" : "not answering");
}

static void status_tick(struct loop *loop, void *arg)
{
	struct daemon *d = arg;
	char line[sizeof(d->last_status)];

	loop_timer_start(loop, &d->status_timer, STATUS_PERIOD_MS, status_tick, d);
	status_line(d, line, sizeof(line));
	if (strcmp(line, d->last_status)) {
		memcpy(d->last_status, line, sizeof(line));
		notify("STATUS=%s", line);
	}
}

static void watchdog_tick(struct loop *loop, void *arg)
{
	struct daemon *d = arg;

	loop_timer_start(loop, &d->watchdog_timer, d->watchdog_ms, watchdog_tick, d);
	notify("WATCHDOG=1");
}

/* The unit's WatchdogSec: the loop proves it runs twice per period. */
static void start_watchdog(struct daemon *d)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || !usec)
		return;
	d->watchdog_ms = usec / 2000 ? usec / 2000 : 1;
	LOG_INFO("systemd watchdog: WATCHDOG=1 every %llu ms", (unsigned long long)d->watchdog_ms);
	watchdog_tick(d->loop, d);
}

/* --- daemon-level events -------------------------------------------------- */

static void mark_ready(struct daemon *d)
{
	int fd;

	if (d->ready)
		return;
	d->ready = true;
	d->last_status[0] = '\0';
	status_tick(d->loop, d);
	notify("READY=1");
	if (!*d->cfg.ready_file)
		return;
	fd = open(d->cfg.ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		LOG_WARN("ready file %s: %s", d->cfg.ready_file, strerror(errno));
	else
		close(fd);
}

/* A port's first fill attempt: the daemon is ready once those of the ports open at start are
 * over. */
static void first_fill_done(void *arg, struct served_port *p, int err, size_t records)
{
	struct daemon *d = arg;
	const struct mad_port *mp = served_port_mad(p);

	if (err)
		LOG_WARN("%s:%d: initial fill failed (%s): retrying; misses go to the SA meanwhile",
			 mp->ca_name, mp->portnum, strerror(-err));
	else
		LOG_INFO("%s:%d: cache filled: %zu paths", mp->ca_name, mp->portnum, records);
	if (!err)
		nl_door_ready(d->nl);	/* else it joins after the first fill that works */
	if (d->start_fills && !--d->start_fills)
		mark_ready(d);
}

static void shutdown_done(void *arg)
{
	struct daemon *d = arg;

	loop_stop(d->loop);
}

static int reload(void *arg, struct ctl_reload_result *r);

static void on_signal(struct loop *loop, int signo, void *arg)
{
	struct daemon *d = arg;
	struct ctl_reload_result r;

	if (signo == SIGHUP) {
		d->sighups++;
		reload(d, &r);
		return;
	}
	LOG_INFO("%s: exiting", strsignal(signo));
	nl_door_leave(d->nl);	/* first: the kernel must not wait for a daemon that stops */
	notify("STOPPING=1");
	if (d->fleet && !d->stopping++)
		port_fleet_shutdown(d->fleet, shutdown_done, d); /* unsubscribe first */
	else
		loop_stop(loop);
}

/*
 * The stats: the service's counters are sums over the ports; here the default port's
 * addresses, freshness and SA door at the top level (as with one port), every port in
 * "ports".
 */
static void extra_stats(void *arg, struct json *j)
{
	struct daemon *d = arg;
	struct served_port *mp = main_port(d);

	json_str(j, "version", LOCALSA_VERSION);
	json_gauge(j, "uptime_s", (loop_now_ms() - d->started_ms) / 1000);
	if (mp)
		served_port_members(mp, j);
	json_u64(j, "sighups", d->sighups);
	json_u64(j, "reloads", d->reloads);
	json_u64(j, "reload_failures", d->reload_failures);
	json_bool(j, "sa_reachable", sa_reachable(d));
	json_str(j, "role", d->cfg.role == CONFIG_ROLE_DISTRIBUTOR ? "distributor" :
		 d->cfg.role == CONFIG_ROLE_RECEIVER ? "receiver" : "standalone");
	if (mp)
		freshness_stats_json(served_port_freshness(mp), j);
	if (d->dist)
		distributor_stats_json(d->dist, j);
	if (mp && served_port_sa_door(mp))
		sa_server_stats_json(served_port_sa_door(mp), j);
	acm_server_stats_json(d->acm, j);
	nl_door_stats_json(d->nl, j);
	shm_door_stats_json(d->shm, j);
	port_fleet_stats_json(d->fleet, j);
}

/* `localsa status`: per port, what an operator checks first. Times are on the wall clock
 * (seconds since the epoch) and as ages. */
static void status_json(void *arg, struct json *j)
{
	struct daemon *d = arg;
	struct served_port *p[CONFIG_PORTS_MAX];
	size_t n = open_ports(d, p);
	struct informer_stats is, one;
	uint64_t wanted = d->cfg.sa_server ? d->cfg.n_traps * n : 0;

	json_str(j, "version", LOCALSA_VERSION);
	json_u64(j, "pid", (uint64_t)getpid());
	json_u64(j, "uptime_s", (loop_now_ms() - d->started_ms) / 1000);
	port_fleet_status_json(d->fleet, j);
	/* subscriptions: every trap configured is subscribed at each port's SA */
	memset(&is, 0, sizeof(is));
	for (size_t i = 0; i < n; i++) {
		freshness_informer_stats(served_port_freshness(p[i]), &one);
		is.subscribed += one.subscribed;
		is.subscribe_failed += one.subscribe_failed;
	}
	json_object_begin(j, "subscriptions");
	json_u64(j, "wanted", wanted);
	json_u64(j, "subscribed", is.subscribed);
	json_bool(j, "ok", is.subscribed == wanted);
	json_u64(j, "failed", is.subscribe_failed);
	json_object_end(j);
	json_object_begin(j, "doors");
	json_bool(j, "control", d->ctl != NULL);
	json_bool(j, "sa", n && served_port_sa_door(p[0]) != NULL);
	json_bool(j, "acm", d->acm != NULL);
	json_bool(j, "snapshot", d->shm != NULL);
	json_bool(j, "netlink", d->nl != NULL);
	json_object_end(j);
	json_bool(j, "ready", d->ready);
	json_u64(j, "reloads", d->reloads);
}

/* --- distribution ------------------------------------------------------- */

static void fabric_changed(void *arg, struct served_port *p, const char *why)
{
	struct daemon *d = arg;

	if (d->dist && p == d->dist_port)
		distributor_changed(d->dist, why);
}

static void synced(void *arg, struct served_port *p)
{
	struct daemon *d = arg;

	(void)p;
	nl_door_ready(d->nl);
	if (d->start_fills && !--d->start_fills)
		mark_ready(d);
}

/* The distributor's own slice of the all-pairs table fills its port's part of the cache. */
static void own_slice(void *arg, const struct ibv_path_record *recs, size_t n)
{
	struct daemon *d = arg;

	if (d->dist_port && resolver_load_table(served_port_resolver(d->dist_port), recs, n) == 0) {
		LOG_INFO("own cache filled from the all-pairs table: %zu paths", n);
		nl_door_ready(d->nl);
	}
	if (d->start_fills && !--d->start_fills)
		mark_ready(d);
}

/* The distributor fetches and pushes through the default port, while it is open. */
static int start_distributor(struct daemon *d, struct served_port *p)
{
	struct sa_client_opts push_opts = { 8, d->cfg.sa_timeout_ms, d->cfg.sa_retries,
					    d->cfg.sa_backoff_max_ms, 0, 1 };
	struct distributor_opts o = { 0 };
	union ibv_gid *targets = NULL;
	char msg[256];
	int ret;

	if (!d->cfg.sa_sm_key_set) {
		LOG_ERR("role distributor needs sa_sm_key: receivers refuse unauthenticated pushes");
		return -EINVAL;
	}
	ret = config_targets(&d->cfg, &o.all, &targets, &o.n_targets, msg, sizeof(msg));
	if (ret < 0) {
		LOG_ERR("%s", msg);
		return ret;
	}
	ret = sa_client_new(d->loop, served_port_mad(p), &push_opts, &d->push_sa);
	if (ret < 0)
		goto out;
	o.sm_key = d->cfg.sa_sm_key;
	o.targets = targets;
	o.heartbeat_ms = d->cfg.distribute_heartbeat_ms;
	o.change_delay_ms = d->cfg.distribute_delay_ms;
	o.max_records_per_push = d->cfg.sa_max_set_records;
	o.retry_max_ms = d->cfg.sa_backoff_max_ms;
	o.own_slice = own_slice;
	o.own_arg = d;
	ret = distributor_new(d->loop, served_port_mad(p), served_port_sa(p), d->push_sa, &o,
			      &d->dist);
	if (ret == 0)
		d->dist_port = p;
out:
	free(targets);
	return ret;
}

static void stop_distributor(struct daemon *d)
{
	sa_client_free(d->push_sa);
	distributor_free(d->dist);
	d->push_sa = NULL;
	d->dist = NULL;
	d->dist_port = NULL;
}

static void port_opened(void *arg, struct served_port *p)
{
	struct daemon *d = arg;

	if (d->cfg.role == CONFIG_ROLE_DISTRIBUTOR && d->fleet && !d->dist &&
	    p == port_fleet_default(d->fleet) && start_distributor(d, p) < 0)
		LOG_ERR("the distributor stays off until the next start");
}

static void port_closing(void *arg, struct served_port *p)
{
	struct daemon *d = arg;

	if (p != d->dist_port)
		return;
	if (!d->stopping)
		LOG_WARN("the distributor's port is down: no distribution until it is back");
	stop_distributor(d);
}

/* --- reload --------------------------------------------------------------- */

static int parse_args(struct config *cfg, int argc, char **argv, bool reloading);

struct reload_ctx {
	struct daemon *d;
	const struct config *next;
	struct config applied;		/* the running config with the live changes */
	struct ctl_reload_result *r;
	size_t n_live, n_restart;
};

static void add_name(char *list, size_t cap, const char *name)
{
	size_t len = strlen(list);

	snprintf(list + len, cap - len, "%s%s", len ? "," : "", name);
}

/* A live option cannot always be applied: a prefetch list that loses entries needs a restart
 * (a tuple once prefetched stays in the fills), and none can be added during a fill. */
static bool apply_prefetch(struct reload_ctx *x, const char *name)
{
	for (size_t i = 0; i < CONFIG_PREFETCH_LISTS; i++) {
		const char *list_name;
		const struct config_list old = *config_prefetch(&x->d->cfg, i, &list_name, NULL);
		const struct config_list *nl = config_prefetch(x->next, i, NULL, NULL);
		struct config saved = x->d->cfg;

		if (strcmp(name, list_name))
			continue;
		for (size_t k = 0; k < old.n; k++) {
			bool kept = false;

			for (size_t m = 0; m < nl->n; m++)
				kept |= nl->v[m] == old.v[k];
			if (!kept)
				return false;
		}
		config_copy_option(&x->d->cfg, x->next, name);
		if (port_fleet_prefetch(x->d->fleet, &saved) < 0) {
			x->d->cfg = saved;	/* some were added: the next reload tries the rest */
			return false;
		}
		return true;
	}
	return true;
}

static void on_change(void *arg, const char *name, const char *old_value, const char *new_value,
		      bool live)
{
	struct reload_ctx *x = arg;

	if (live && !strncmp(name, "prefetch_", 9))
		live = apply_prefetch(x, name);
	else if (live)
		config_copy_option(&x->applied, x->next, name);
	if (live) {
		x->n_live++;
		add_name(x->r->applied, sizeof(x->r->applied), name);
		LOG_INFO("reload: %s: %s -> %s", name, old_value, new_value);
	} else {
		x->n_restart++;
		add_name(x->r->restart, sizeof(x->r->restart), name);
		LOG_WARN("reload: %s: %s -> %s takes effect at the next start", name, old_value,
			 new_value);
	}
}

static void log_diag(void *arg, const char *path, unsigned line, bool error, const char *msg)
{
	struct ctl_reload_result *r = arg;

	if (error) {
		LOG_ERR("reload: %s:%u: %s", path, line, msg);
		if (!*r->why)
			snprintf(r->why, sizeof(r->why), "%s:%u: %s", path, line, msg);
	} else {
		LOG_WARN("reload: %s:%u: %s", path, line, msg);
	}
}

static struct ctl_reload_result *reload_diag_result;

/* A reload changed distribute_to (checked when it was read): the distributor's new receivers. */
static void apply_targets(struct daemon *d)
{
	union ibv_gid *targets = NULL;
	size_t n = 0;
	char msg[256];
	bool all;

	if (config_targets(&d->cfg, &all, &targets, &n, msg, sizeof(msg)) < 0 ||
	    distributor_set_targets(d->dist, all, targets, n) < 0)
		LOG_ERR("distribute_to: the new receivers are not taken (out of memory)");
	free(targets);
}

/*
 * SIGHUP and `localsa reload`: the same files and flags as at start, read again. The options a
 * running daemon can change are applied, each component through its own setter; the others
 * are logged as waiting for a restart. A bad configuration changes nothing. Then a full
 * refresh, as SIGHUP always did.
 */
static int reload(void *arg, struct ctl_reload_result *r)
{
	struct daemon *d = arg;
	struct config next;
	struct reload_ctx x = { .d = d, .next = &next, .r = r };
	bool retarget;
	int ret;

	memset(r, 0, sizeof(*r));
	notify("RELOADING=1");
	config_defaults(&next);
	reload_diag_result = r;
	ret = parse_args(&next, d->argc, d->argv, true);
	reload_diag_result = NULL;
	if (ret < 0) {
		d->reload_failures++;
		if (!*r->why)
			snprintf(r->why, sizeof(r->why), "the configuration has errors (see the log)");
		LOG_ERR("failed, nothing changed: %s", r->why);
		notify("READY=1");
		return ret;
	}
	next.foreground = d->cfg.foreground;
	d->reloads++;
	x.applied = d->cfg;
	config_diff(&d->cfg, &next, on_change, &x);
	/* the prefetch lists went into d->cfg already; the other live options are in x.applied */
	for (size_t i = 0; i < CONFIG_PREFETCH_LISTS; i++) {
		const char *list_name;

		config_prefetch(&d->cfg, i, &list_name, NULL);
		config_copy_option(&x.applied, &d->cfg, list_name);
	}
	retarget = strcmp(d->cfg.distribute_to, x.applied.distribute_to) != 0;
	d->cfg = x.applied;
	log_set_level(d->cfg.log_level);
	if (d->push_sa)
		sa_client_set_timing(d->push_sa, d->cfg.sa_timeout_ms, d->cfg.sa_retries,
				     d->cfg.sa_backoff_max_ms);
	pr_store_set_negative_ttl(d->store, d->cfg.negative_ttl_ms);
	port_fleet_apply(d->fleet);
	if (d->dist)
		distributor_set_timing(d->dist, d->cfg.distribute_heartbeat_ms,
				       d->cfg.distribute_delay_ms);
	if (d->dist && retarget)
		apply_targets(d);
	LOG_INFO("%zu option%s applied, %zu waiting for a restart", x.n_live,
		 x.n_live == 1 ? "" : "s", x.n_restart);
	port_fleet_refresh_now(d->fleet, "reload");
	notify("READY=1");
	return 0;
}

/* --- start-up ------------------------------------------------------------- */

/* The ACM door is optional: when its socket is taken (ibacm runs) the daemon serves without it. */
static void start_acm(struct daemon *d)
{
	struct acm_server_opts o = {
		.path = strcmp(d->cfg.acm_socket, "none") ? d->cfg.acm_socket : "",
		.tcp_port = (uint16_t)d->cfg.acm_tcp_port, .max_clients = d->cfg.acm_max_clients,
		.idle_ms = d->cfg.acm_idle_timeout_s * 1000,
		.new_tuples = d->cfg.client_new_tuples,
		.new_tuples_per_s = d->cfg.client_new_tuples_per_s,
	};
	int ret;

	if (!*o.path && !o.tcp_port)
		return;
	if (*o.path)
		door_listen_make_dir(o.path, 0755, (gid_t)-1);
	ret = acm_server_new(d->loop, d->svc, &o, &d->acm);
	if (ret < 0)
		LOG_ERR("the ACM door is off: %s", strerror(-ret));
}

/* liblocalsa's snapshot is optional too: without it the library asks the control socket. */
static void start_shm(struct daemon *d)
{
	struct shm_door_opts o = {
		.name = d->cfg.shm_name, .socket_mode = d->cfg.socket_mode,
		.control_socket = d->cfg.control_socket, .port_lid = served_port_mad(main_port(d))->lid,
		.max_stale_ms = d->cfg.max_stale_s * 1000,
	};
	int ret;

	if (!*o.name || !strcmp(o.name, "none"))
		return;
	ret = shm_door_new(d->loop, d->svc, &o, &d->shm);
	if (ret < 0)
		LOG_ERR("no snapshot for liblocalsa (it asks the socket instead): %s", strerror(-ret));
}

/* The control socket, in its directory (made when missing: /run/localsa outside systemd). */
static int start_ctl(struct daemon *d)
{
	bool group = d->cfg.socket_group != (gid_t)-1;
	struct ctl_server_opts o = {
		.path = d->cfg.control_socket, .mode = d->cfg.socket_mode,
		.group = d->cfg.socket_group, .max_clients = d->cfg.max_clients,
		.extra_stats = extra_stats, .extra_arg = d, .status = status_json,
		.reload = reload, .shm_name = d->shm ? d->cfg.shm_name : NULL,
		.idle_ms = d->cfg.idle_timeout_s * 1000, .new_tuples = d->cfg.client_new_tuples,
		.new_tuples_per_s = d->cfg.client_new_tuples_per_s,
	};
	int ret;

	/* with a group, the directory is the group's too: others cannot even reach the socket */
	ret = door_listen_make_dir(o.path, group ? 0750 : 0755, d->cfg.socket_group);
	if (ret < 0) {
		LOG_ERR("control socket %s: cannot create its directory: %s", o.path, strerror(-ret));
		return ret;
	}
	return ctl_server_new(d->loop, d->svc, &o, &d->ctl);
}

/* The kernel's door, where the kernel has NETLINK_RDMA; it joins once the cache can answer. */
static void start_netlink(struct daemon *d)
{
	struct nl_door_opts o = {
		.timeout_ms = d->cfg.netlink_timeout_ms ? d->cfg.netlink_timeout_ms :
							  config_miss_worst_ms(&d->cfg),
		.new_tuples = d->cfg.client_new_tuples,
		.new_tuples_per_s = d->cfg.client_new_tuples_per_s,
	};
	int ret;

	if (!d->cfg.netlink)
		return;
	ret = nl_door_new(d->loop, d->svc, &o, &d->nl);
	if (ret == -EPROTONOSUPPORT)
		LOG_INFO("no NETLINK_RDMA in this kernel (ib_core not loaded): no netlink door");
	else if (ret < 0)
		LOG_ERR("the netlink door is off: %s", strerror(-ret));
}

enum { OPT_ACM_SOCKET = 0x100, OPT_SHM_NAME, OPT_CHECK_CONFIG };  /* long-only options */

static void print_diag(void *arg, const char *path, unsigned line, bool error, const char *msg)
{
	(void)arg;
	if (line)
		fprintf(stderr, "localsad: %s:%u: %s%s\n", path, line, error ? "" : "warning: ", msg);
	else
		fprintf(stderr, "localsad: %s: %s\n", path, msg);
}

/* --check-config FILE: every finding on stderr; exit 0 when the file is good, 2 otherwise. */
static int check_config(const char *path)
{
	struct config cfg;
	unsigned n = 0;

	config_defaults(&cfg);
	if (config_load_file(&cfg, path, print_diag, NULL, &n) < 0)
		return EXIT_CONFIG;
	printf("%s: OK (%u option%s set)\n", path, n, n == 1 ? "" : "s");
	return 0;
}

/* A finding about the command line: on stderr at start, in the log at a reload. */
static void arg_error(bool reloading, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg_error(bool reloading, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!reloading) {
		fprintf(stderr, "localsad: %s\n", msg);
		return;
	}
	LOG_ERR("reload: %s", msg);
	if (reload_diag_result && !*reload_diag_result->why)
		snprintf(reload_diag_result->why, sizeof(reload_diag_result->why), "%.200s", msg);
}

/*
 * The config file first, so that flags override it whatever their order; then the flags. argv
 * is left as it was, so that a reload reads it again. reloading: findings go to the log, and
 * the flags that only make sense at start (-h, -V, --check-config) are not acted on.
 */
static int parse_args(struct config *cfg, int argc, char **argv, bool reloading)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "control-socket", required_argument, NULL, 's' },
		{ "acm-socket", required_argument, NULL, OPT_ACM_SOCKET },
		{ "shm-name", required_argument, NULL, OPT_SHM_NAME },
		{ "log-file", required_argument, NULL, 'l' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "option", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "check-config", required_argument, NULL, OPT_CHECK_CONFIG },
		{ NULL, 0, NULL, 0 },
	};
	config_diag_fn diag = reloading ? log_diag : print_diag;
	char msg[256];
	int c;

	/* The files first, however getopt spells them (-c F, -fcF, --conf=F...): options on the
	 * command line override them, whatever their order. */
	optind = 0;	/* glibc: a full re-initialisation, for a reload */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:fs:l:L:r:o:hV", longopts, NULL)) != -1)
		if (c == 'c' && config_load_file(cfg, optarg, diag, reload_diag_result, NULL) < 0)
			return -EINVAL;
	optind = 0;
	opterr = !reloading;
	while ((c = getopt_long(argc, argv, "c:fs:l:L:r:o:hV", longopts, NULL)) != -1) {
		const char *name = NULL, *value = optarg;
		char opt_name[64];

		switch (c) {
		case 'c':
			continue;
		case 'f':
			cfg->foreground = true;
			continue;
		case 's': name = "control_socket"; break;
		case OPT_ACM_SOCKET: name = "acm_socket"; break;
		case OPT_SHM_NAME: name = "shm_name"; break;
		case 'l': name = "log_file"; break;
		case 'L': name = "log_level"; break;
		case 'r': name = "ready_file"; break;
		case 'o': {
			const char *eq = strchr(optarg, '=');

			if (!eq || (size_t)(eq - optarg) >= sizeof(opt_name)) {
				arg_error(reloading, "--option wants NAME=VALUE, got '%s'", optarg);
				return -EINVAL;
			}
			snprintf(opt_name, sizeof(opt_name), "%.*s", (int)(eq - optarg), optarg);
			name = opt_name;
			value = eq + 1;
			break;
		}
		case 'h':
			if (reloading)
				continue;
			usage(stdout);
			exit(0);
		case 'V':
			if (reloading)
				continue;
			printf("localsad %s\n", LOCALSA_VERSION);
			exit(0);
		case OPT_CHECK_CONFIG:
			if (reloading)
				continue;
			exit(check_config(optarg));
		default:
			if (!reloading)
				usage(stderr);
			return -EINVAL;
		}
		if (config_set(cfg, name, value, msg, sizeof(msg)) < 0) {
			arg_error(reloading, "%s", msg);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		arg_error(reloading, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int open_log(const struct config *cfg)
{
	int fd;

	if (*cfg->log_file) {
		fd = open(cfg->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			fprintf(stderr, "localsad: log file %s: %s\n", cfg->log_file, strerror(errno));
			return -errno;
		}
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	log_open("localsad", cfg->log_level, !cfg->foreground && !*cfg->log_file);
	return 0;
}

/*
 * Without --foreground: fork at once, before any device, socket or thread exists; the parent
 * waits for the child to report that the port, the sockets and the snapshot are open (or why
 * not: the child's log lines at warn and err reach the terminal meanwhile) and exits with the
 * child's status. So a daemon that cannot start says why on stderr and exits non-zero, as in
 * the foreground, while one that runs is fully set up when its parent returns.
 */
static int detach_begin(struct daemon *d)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "localsad: pipe: %s\n", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "localsad: fork: %s\n", strerror(errno));
		return -errno;
	}
	if (pid > 0) {
		unsigned char status = EXIT_RUNTIME;
		ssize_t n;

		close(p[1]);
		do
			n = read(p[0], &status, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) {
			int ws;

			waitpid(pid, &ws, 0);
			fprintf(stderr, "localsad: the daemon died while starting (%s %d)\n",
				WIFSIGNALED(ws) ? "signal" : "exit status",
				WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
			_exit(EXIT_RUNTIME);
		}
		_exit(status);
	}
	close(p[0]);
	setsid();
	d->start_pipe = p[1];
	d->start_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	return 0;
}

/* The start-up's outcome to the waiting parent; on success the terminal is let go. The working
 * directory stays: a relative config file (read again by a reload) or ready file keeps its
 * meaning. */
static void detach_end(struct daemon *d, int status)
{
	unsigned char st = (unsigned char)status;
	int null;

	if (d->start_pipe < 0)
		return;
	log_echo_fd(-1);
	if (status == 0) {
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			if (!*d->cfg.log_file)
				dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	if (write(d->start_pipe, &st, 1) != 1)
		LOG_WARN("cannot tell the parent that the start-up %s", status ? "failed" : "worked");
	close(d->start_pipe);
	d->start_pipe = -1;
	if (d->start_stderr >= 0)
		close(d->start_stderr);
	d->start_stderr = -1;
}

/* socket_group: everything the daemon creates from now on (socket, snapshot objects, the
 * runtime directory) belongs to that group. */
static int take_group(const struct config *cfg)
{
	if (cfg->socket_group == (gid_t)-1 || cfg->socket_group == getegid())
		return 0;
	if (setegid(cfg->socket_group) < 0) {
		LOG_ERR("socket_group %u: %s", (unsigned)cfg->socket_group, strerror(errno));
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct port_fleet_hooks hooks = { first_fill_done, synced, fabric_changed, port_opened,
					  port_closing, NULL };
	struct pr_store_opts store_opts;
	struct daemon d;
	char msg[512];
	int ret;

	memset(&d, 0, sizeof(d));
	d.argc = argc;
	d.argv = argv;
	d.start_pipe = d.start_stderr = -1;
	config_defaults(&d.cfg);
	if (parse_args(&d.cfg, argc, argv, false) < 0)
		return EXIT_CONFIG;
	if (!d.cfg.foreground && detach_begin(&d) < 0)
		return EXIT_RUNTIME;
	if (open_log(&d.cfg) < 0) {
		detach_end(&d, EXIT_RUNTIME);
		return EXIT_RUNTIME;
	}
	log_echo_fd(d.start_stderr);
	ret = take_group(&d.cfg);
	if (ret < 0)
		goto out_log;
	ret = loop_new(&d.loop);
	if (ret < 0) {
		LOG_ERR("event loop: %s", strerror(-ret));
		goto out_log;
	}
	loop_signal_add(d.loop, SIGTERM, on_signal, &d);
	loop_signal_add(d.loop, SIGINT, on_signal, &d);
	loop_signal_add(d.loop, SIGHUP, on_signal, &d);
	signal(SIGPIPE, SIG_IGN);
	d.started_ms = loop_now_ms();
	notify("STATUS=opening the ports");

	/* One store for every port; its own SGID (tuple 0) is the first port's opened. */
	store_opts = (struct pr_store_opts){ d.cfg.max_entries, 1u << 20, d.cfg.negative_ttl_ms,
					     d.cfg.max_stale_s * 1000 };
	ret = pr_store_new(&store_opts, NULL, &d.store);
	if (ret < 0)
		goto out_loop;
	ret = port_set_new(d.store, &d.set);
	if (ret < 0)
		goto out_store;
	d.svc = port_set_service(d.set);
	if (d.cfg.n_traps && !d.cfg.sa_server)
		LOG_WARN("sa_server 0: no trap subscriptions (Reports could not reach us)");
	hooks.arg = &d;
	ret = port_fleet_new(d.loop, &d.cfg, d.store, d.set, &hooks, &d.fleet, msg, sizeof(msg));
	if (ret < 0) {
		LOG_ERR("%s", msg);
		goto out_set;
	}
	d.start_fills = (unsigned)open_ports(&d, (struct served_port *[CONFIG_PORTS_MAX]){ 0 });
	start_shm(&d);
	ret = start_ctl(&d);
	if (ret < 0)
		goto out_fleet;
	start_acm(&d);
	start_netlink(&d);
	if (d.cfg.role == CONFIG_ROLE_DISTRIBUTOR) {
		ret = start_distributor(&d, main_port(&d));
		if (ret < 0)
			goto out_ctl;
	}
	/* Everything is open: a daemon's parent may return now. */
	detach_end(&d, 0);
	start_watchdog(&d);
	if (d.cfg.role == CONFIG_ROLE_RECEIVER) {
		/* Serving at once: its cache fills when the distributor pushes. */
		if (!d.cfg.sa_sm_key_set || !d.cfg.sa_server)
			LOG_WARN("role receiver without sa_sm_key and sa_server: every push is refused");
		mark_ready(&d);
	}
	port_fleet_start(d.fleet);	/* standalone: the first fills, retried until they work */
	if (!d.ready)
		status_tick(d.loop, &d);
	LOG_INFO("serving on %s", d.cfg.control_socket);
	ret = loop_run(d.loop);

out_ctl:
	loop_timer_stop(d.loop, &d.status_timer);
	loop_timer_stop(d.loop, &d.watchdog_timer);
	nl_door_free(d.nl);
	acm_server_free(d.acm);
	ctl_server_free(d.ctl);
out_fleet:
	shm_door_free(d.shm);	/* readers hear the daemon stopped */
	d.stopping++;
	port_fleet_free(d.fleet);	/* the distributor goes with its port */
out_set:
	port_set_free(d.set);
out_store:
	pr_store_free(d.store);
out_loop:
	loop_free(d.loop);
out_log:
	detach_end(&d, ret < 0 ? EXIT_RUNTIME : 0);
	if (*d.cfg.ready_file)
		unlink(d.cfg.ready_file);
	log_close();
	return ret < 0 ? EXIT_RUNTIME : 0;
}
