/*
 * localsad - the local SA daemon: wiring only. It opens the port, fills the
 * cache with one GetTable, and serves the doors from one epoll loop until
 * SIGTERM; SIGHUP forces a full refresh. Nothing imports this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "daemon/config.h"
#include "daemon/freshness.h"
#include "doors/acm_server.h"
#include "doors/ctl_server.h"
#include "doors/sa_server.h"
#include "doors/shm_door.h"
#include "fabric/distributor.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/push_acl.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "wire/path_rec.h"

struct daemon {
	struct config cfg;
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *sa;
	struct sa_client *push_sa;    /* distributor: Sets to receivers, its own credits */
	struct distributor *dist;
	struct resolver *res;
	struct path_service *svc;     /* what every door uses: lookups, tables, writes, counters */
	struct ctl_server *ctl;
	struct sa_server *sad;        /* the SA door on QP1; NULL with sa_server 0 */
	struct push_acl *push_from;   /* who may write at the SA door */
	struct acm_server *acm;      /* NULL when off or when its socket is taken */
	struct shm_door *shm;        /* liblocalsa's snapshot; NULL when off or its name is taken */
	struct freshness *fresh;
	uint64_t started_ms;
	uint64_t sighups;
	unsigned stopping;
	bool ready;
};

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
		"  -L, --log-level LEVEL      err, warn, info or debug\n"
		"  -r, --ready-file FILE      create FILE once the first fill has finished\n"
		"  -o, --option NAME=VALUE    set any config option\n"
		"  -h, --help                 this text, and the config options\n"
		"  -V, --version\n"
		"      --check-config FILE    check FILE, report every error and warning, and exit\n"
		"config options (name, default, meaning):\n");
	config_print_options(out);
}

/* --- daemon-level events -------------------------------------------------- */

static void mark_ready(struct daemon *d)
{
	int fd;

	if (d->ready)
		return;
	d->ready = true;
	if (!*d->cfg.ready_file)
		return;
	fd = open(d->cfg.ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		LOG_WARN("ready file %s: %s", d->cfg.ready_file, strerror(errno));
	else
		close(fd);
}

static void first_fill_done(void *arg, int err, size_t records)
{
	struct daemon *d = arg;

	if (err)
		LOG_WARN("initial fill failed (%s): retrying; misses go to the SA meanwhile",
			 strerror(-err));
	else
		LOG_INFO("cache filled: %zu paths", records);
	mark_ready(d);
}

static void shutdown_done(void *arg)
{
	struct daemon *d = arg;

	loop_stop(d->loop);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	struct daemon *d = arg;

	if (signo == SIGHUP) {
		d->sighups++;
		freshness_refresh_now(d->fresh, "SIGHUP");
		return;
	}
	LOG_INFO("%s: exiting", strsignal(signo));
	if (d->fresh && !d->stopping++)
		freshness_shutdown(d->fresh, shutdown_done, d); /* unsubscribe first */
	else
		loop_stop(loop);
}

static void extra_stats(void *arg, struct json *j)
{
	struct daemon *d = arg;
	char gid[INET6_ADDRSTRLEN];

	pr_gid_to_text(&d->port->gid, gid);
	json_str(j, "version", LOCALSA_VERSION);
	json_u64(j, "uptime_s", (loop_now_ms() - d->started_ms) / 1000);
	json_str(j, "ca", d->port->ca_name);
	json_i64(j, "port", d->port->portnum);
	json_str(j, "gid", gid);
	json_u64(j, "lid", d->port->lid);
	json_u64(j, "sm_lid", d->port->sm_lid);
	json_u64(j, "sighups", d->sighups);
	json_str(j, "role", d->cfg.role == CONFIG_ROLE_DISTRIBUTOR ? "distributor" :
		 d->cfg.role == CONFIG_ROLE_RECEIVER ? "receiver" : "standalone");
	freshness_stats_json(d->fresh, j);
	if (d->dist)
		distributor_stats_json(d->dist, j);
	if (d->sad)
		sa_server_stats_json(d->sad, j);
	acm_server_stats_json(d->acm, j);
	shm_door_stats_json(d->shm, j);
}

/* --- distribution ------------------------------------------------------- */

static void fabric_changed(void *arg, const char *why)
{
	struct daemon *d = arg;

	if (d->dist)
		distributor_changed(d->dist, why);
}

static void synced(void *arg)
{
	mark_ready(arg);
}

static void pushed(void *arg, uint16_t slid, size_t records, uint32_t flags)
{
	struct daemon *d = arg;

	freshness_on_push(d->fresh, slid, records, flags);
}

/* The distributor's own slice of the all-pairs table fills its own cache. */
static void own_slice(void *arg, const struct ibv_path_record *recs, size_t n)
{
	struct daemon *d = arg;

	if (resolver_load_table(d->res, recs, n) == 0)
		LOG_INFO("own cache filled from the all-pairs table: %zu paths", n);
	mark_ready(d);
}

static int start_distributor(struct daemon *d)
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
	ret = sa_client_new(d->loop, d->port, &push_opts, &d->push_sa);
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
	ret = distributor_new(d->loop, d->port, d->sa, d->push_sa, &o, &d->dist);
out:
	free(targets);
	return ret;
}

/* --- start-up ------------------------------------------------------------- */

/* The tuples every fill loads with a GetTable besides the default one (prefetch_* options). */
static int add_prefetches(struct daemon *d)
{
	const struct {
		const struct config_list *l;
		uint8_t flag;
	} lists[] = {
		{ &d->cfg.prefetch_service_ids, PR_TUPLE_SERVICE_ID },
		{ &d->cfg.prefetch_pkeys, PR_TUPLE_PKEY },
		{ &d->cfg.prefetch_qos_classes, PR_TUPLE_QOS_CLASS },
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (size_t k = 0; k < lists[i].l->n; k++) {
			struct pr_request req = { .tuple_flags = lists[i].flag };
			uint64_t v = lists[i].l->v[k];
			int ret;

			req.service_id = v;
			req.pkey = (uint16_t)v;
			req.qos_class = (uint16_t)v;
			ret = resolver_prefetch_add(d->res, &req);
			if (ret < 0 && ret != -EEXIST) {
				LOG_ERR("cannot prefetch %#llx: %s", (unsigned long long)v, strerror(-ret));
				return ret;
			}
		}
	return 0;
}

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
	ret = acm_server_new(d->loop, d->svc, &o, &d->acm);
	if (ret < 0)
		LOG_ERR("the ACM door is off: %s", strerror(-ret));
}

/* liblocalsa's snapshot is optional too: without it the library asks the control socket. */
static void start_shm(struct daemon *d)
{
	struct shm_door_opts o = {
		.name = d->cfg.shm_name, .socket_mode = d->cfg.socket_mode,
		.control_socket = d->cfg.control_socket, .port_lid = d->port->lid,
		.max_stale_ms = d->cfg.max_stale_s * 1000,
	};
	int ret;

	if (!*o.name || !strcmp(o.name, "none"))
		return;
	ret = shm_door_new(d->loop, d->svc, &o, &d->shm);
	if (ret < 0)
		LOG_ERR("no snapshot for liblocalsa (it asks the socket instead): %s", strerror(-ret));
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
		return 2;
	printf("%s: OK (%u option%s set)\n", path, n, n == 1 ? "" : "s");
	return 0;
}

static int parse_args(struct config *cfg, int argc, char **argv)
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
	char msg[256];
	int c, i;

	/* The config file first, so that flags override it whatever their order. */
	for (i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
			if (config_load_file(cfg, argv[i + 1], print_diag, NULL, NULL) < 0)
				return -EINVAL;
		}
	while ((c = getopt_long(argc, argv, "c:fs:l:L:r:o:hV", longopts, NULL)) != -1) {
		const char *name = NULL;
		char *eq;

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
		case 'o':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "localsad: --option wants NAME=VALUE, got '%s'\n", optarg);
				return -EINVAL;
			}
			*eq = '\0';
			if (config_set(cfg, optarg, eq + 1, msg, sizeof(msg)) < 0) {
				fprintf(stderr, "localsad: %s\n", msg);
				return -EINVAL;
			}
			continue;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("localsad %s\n", LOCALSA_VERSION);
			exit(0);
		case OPT_CHECK_CONFIG:
			exit(check_config(optarg));
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (config_set(cfg, name, optarg, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "localsad: %s\n", msg);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "localsad: unexpected argument '%s'\n", argv[optind]);
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

int main(int argc, char **argv)
{
	struct sa_client_opts sa_opts;
	struct resolver_opts res_opts;
	struct ctl_server_opts ctl_opts;
	struct freshness_opts fresh_opts;
	struct daemon d;
	int ret;

	memset(&d, 0, sizeof(d));
	config_defaults(&d.cfg);
	if (parse_args(&d.cfg, argc, argv) < 0)
		return 2;
	/* Detach before any thread or device exists. */
	if (!d.cfg.foreground && daemon(0, *d.cfg.log_file ? 1 : 0) < 0) {
		fprintf(stderr, "localsad: daemon: %s\n", strerror(errno));
		return 1;
	}
	if (open_log(&d.cfg) < 0)
		return 1;
	ret = loop_new(&d.loop);
	if (ret < 0) {
		LOG_ERR("event loop: %s", strerror(-ret));
		return 1;
	}
	loop_signal_add(d.loop, SIGTERM, on_signal, &d);
	loop_signal_add(d.loop, SIGINT, on_signal, &d);
	loop_signal_add(d.loop, SIGHUP, on_signal, &d);
	signal(SIGPIPE, SIG_IGN);
	d.started_ms = loop_now_ms();

	ret = mad_port_open(d.cfg.ca, (int)d.cfg.port, d.cfg.sa_server, &d.port);
	if (ret < 0)
		goto out_loop;
	/* Each MAD goes to the owner that registered for it (mad_dispatch.h). */
	ret = mad_port_watch(d.port, d.loop);
	if (ret < 0)
		goto out_port;
	sa_opts = (struct sa_client_opts){ d.cfg.sa_credits, d.cfg.sa_timeout_ms, d.cfg.sa_retries,
					   d.cfg.sa_backoff_max_ms, 0, 0 };
	ret = sa_client_new(d.loop, d.port, &sa_opts, &d.sa);
	if (ret < 0)
		goto out_port;
	sa_client_set_budget(d.sa, d.cfg.sa_max_queries_per_s, d.cfg.sa_max_records_per_s);
	res_opts = (struct resolver_opts){ d.cfg.negative_ttl_ms, d.cfg.max_stale_s * 1000,
					   d.cfg.max_entries, 1u << 20 };
	ret = resolver_new(d.loop, d.port, d.sa, &res_opts, &d.res);
	if (ret < 0)
		goto out_sa;
	ret = path_service_new_resolver(d.res, d.sa, &d.svc);
	if (ret < 0)
		goto out_res;
	ret = add_prefetches(&d);
	if (ret < 0)
		goto out_res;
	fresh_opts = (struct freshness_opts){
		.role = d.cfg.role == CONFIG_ROLE_DISTRIBUTOR ? ROLE_DISTRIBUTOR :
			d.cfg.role == CONFIG_ROLE_RECEIVER ? ROLE_RECEIVER : ROLE_STANDALONE,
		.receiver_timeout_ms = d.cfg.receiver_timeout_s * 1000,
		.on_change = fabric_changed, .change_arg = &d,
		.on_synced = synced, .synced_arg = &d,
		.on_filled = first_fill_done, .filled_arg = &d,
		.refresh_interval_s = d.cfg.refresh_interval_s,
		.spread = { d.cfg.spread_records_per_s, d.cfg.spread_max_s * 1000 },
		.start_spread_ms = d.cfg.start_spread_ms,
		.retry_min_ms = d.cfg.sa_timeout_ms, .retry_max_ms = d.cfg.sa_backoff_max_ms,
		.sm_poll_ms = d.cfg.sm_poll_ms,
		.inform_refresh_s = d.cfg.inform_refresh_s,
		.traps = d.cfg.traps,
		.n_traps = d.cfg.sa_server ? d.cfg.n_traps : 0,
	};
	if (d.cfg.n_traps && !d.cfg.sa_server)
		LOG_WARN("sa_server 0: no trap subscriptions (Reports could not reach us)");
	ret = freshness_new(d.loop, d.port, d.sa, d.res, &fresh_opts, &d.fresh);
	if (ret < 0)
		goto out_res;
	if (d.cfg.sa_server) {
		struct sa_server_opts sad_opts = {
			.writes_allowed = d.cfg.sa_sm_key_set, .sm_key = d.cfg.sa_sm_key,
			.relay = d.cfg.sa_relay, .max_set_records = d.cfg.sa_max_set_records,
			.on_push = pushed, .push_arg = &d,
			.new_tuples = d.cfg.client_new_tuples,
			.new_tuples_per_s = d.cfg.client_new_tuples_per_s,
		};
		char msg[256];

		ret = push_acl_new(d.loop, d.port, d.sa, resolver_store(d.res), d.cfg.push_from,
				   d.cfg.distributor_gid, &d.push_from, msg, sizeof(msg));
		if (ret < 0) {
			LOG_ERR("%s", msg);
			goto out_fresh;
		}
		sad_opts.push_from = d.push_from;
		ret = sa_server_new(d.loop, d.port, d.svc, d.sa, &sad_opts, &d.sad);
		if (ret < 0)
			goto out_fresh;
	}
	start_shm(&d);
	ctl_opts = (struct ctl_server_opts){ d.cfg.control_socket, d.cfg.socket_mode,
					     d.cfg.max_clients, extra_stats, &d,
					     d.shm ? d.cfg.shm_name : NULL,
					     d.cfg.idle_timeout_s * 1000, d.cfg.client_new_tuples,
					     d.cfg.client_new_tuples_per_s };
	ret = ctl_server_new(d.loop, d.svc, &ctl_opts, &d.ctl);
	if (ret < 0)
		goto out_fresh;
	start_acm(&d);
	if (d.cfg.role == CONFIG_ROLE_DISTRIBUTOR) {
		ret = start_distributor(&d);
		if (ret < 0)
			goto out_ctl;
	} else if (d.cfg.role == CONFIG_ROLE_RECEIVER) {
		/* Serving at once: its cache fills when the distributor pushes. */
		if (!d.cfg.sa_sm_key_set || !d.cfg.sa_server)
			LOG_WARN("role receiver without sa_sm_key and sa_server: every push is refused");
		mark_ready(&d);
	}
	freshness_start(d.fresh);	/* standalone: the first fill, retried until it works */
	LOG_INFO("serving on %s", d.cfg.control_socket);
	ret = loop_run(d.loop);

out_ctl:
	acm_server_free(d.acm);
	ctl_server_free(d.ctl);
out_fresh:
	shm_door_free(d.shm);	/* readers hear the daemon stopped */
	freshness_free(d.fresh);
out_res:
	sa_client_free(d.push_sa);
	sa_client_free(d.sa); /* fails pending fetches before their owners go */
	d.sa = NULL;
	distributor_free(d.dist);
	sa_server_free(d.sad);
	path_service_free(d.svc);
	push_acl_free(d.push_from);
	resolver_free(d.res);
out_sa:
	sa_client_free(d.sa);
out_port:
	mad_port_close(d.port);
out_loop:
	loop_free(d.loop);
	if (*d.cfg.ready_file)
		unlink(d.cfg.ready_file);
	log_close();
	return ret < 0 ? 1 : 0;
}
