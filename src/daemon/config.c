/*
 * config - see config.h. One table describes every option, so the parser,
 * the defaults and `localsad --help-config` cannot drift apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/pr_cache.h"
#include "daemon/config.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

enum opt_type {
	OPT_STR, OPT_UINT, OPT_MODE, OPT_LEVEL, OPT_TRAPS, OPT_KEY, OPT_ROLE, OPT_LIST, OPT_GROUP,
	OPT_ONOFF
};

enum opt_reload { RESTART, LIVE };	/* what a reload (SIGHUP) does with a new value */

struct opt {
	const char *name;
	enum opt_type type;
	size_t offset, size;
	uint64_t min, max;
	const char *def;
	const char *help;
	enum opt_reload reload;
};

#define STR(f) OPT_STR, offsetof(struct config, f), sizeof(((struct config *)0)->f), 0, 0
#define UINT(f, lo, hi) OPT_UINT, offsetof(struct config, f), sizeof(((struct config *)0)->f), lo, hi
#define LIST(f, hi) OPT_LIST, offsetof(struct config, f), sizeof(struct config_list), 0, hi
#define ONOFF(f) OPT_ONOFF, offsetof(struct config, f), sizeof(bool), 0, 1

static const struct opt options[] = {
	{ "ports", STR(ports), "all",
	  "ports served: all (every active InfiniBand port of every CA, and those that come up "
	  "later) or a comma list CA:N,... (see ca, port)", RESTART },
	{ "default_port", STR(default_port), "",
	  "CA:N, the port of lookups that give no SGID; empty: the first port served", RESTART },
	{ "port_poll_ms", UINT(port_poll_ms, 0, 3600000), "500",
	  "read the ports' state this often (ports up, down, readdressed); 0: never", LIVE },
	{ "ca", STR(ca), "", "one port only (with port), when ports is left at all: CA name (e.g. "
	  "mlx5_0); empty: the first CA with an active port", RESTART },
	{ "port", UINT(port, 0, 254), "0", "with ca: port number; 0: the first active port",
	  RESTART },
	{ "control_socket", STR(control_socket), "/run/localsa/localsa.sock",
	  "unix socket of the localsa CLI", RESTART },
	{ "socket_mode", OPT_MODE, offsetof(struct config, socket_mode), sizeof(mode_t), 0, 0777,
	  "0666", "file mode of the control socket (octal): who may read; the snapshot follows it",
	  RESTART },
	{ "socket_group", OPT_GROUP, offsetof(struct config, socket_group), sizeof(gid_t), 0, 0,
	  "", "group (name or number) of the sockets, snapshot and runtime directory; with "
	  "socket_mode 0660 only that group may read; empty: the daemon's group", RESTART },
	{ "shm_name", STR(shm_name), "/localsa",
	  "shared-memory snapshot for liblocalsa (shm_open name; readable as the socket is); "
	  "\"none\": no snapshot", RESTART },
	{ "log_level", OPT_LEVEL, offsetof(struct config, log_level), sizeof(enum log_level), 0, 3,
	  "info", "err, warn, info or debug (or 0-3: 0 is err, the least verbose)", LIVE },
	{ "log_file", STR(log_file), "", "log file; empty: stderr in the foreground, syslog as a daemon",
	  RESTART },
	{ "ready_file", STR(ready_file), "", "created once the first fill attempt has finished",
	  RESTART },
	{ "sa_timeout_ms", UINT(sa_timeout_ms, 10, 600000), "1000", "one SA attempt", LIVE },
	{ "sa_retries", UINT(sa_retries, 0, 100), "2", "SA attempts after the first", LIVE },
	{ "sa_credits", UINT(sa_credits, 1, 64), "2", "SA queries outstanding at once", RESTART },
	{ "sa_backoff_max_ms", UINT(sa_backoff_max_ms, 10, 3600000), "8000",
	  "cap of the doubling pause between SA attempts", LIVE },
	{ "negative_ttl_ms", UINT(negative_ttl_ms, 0, 3600000), "10000",
	  "how long a 'no path' answer of the SA is reused", LIVE },
	{ "refresh_interval_s", UINT(refresh_interval_s, 0, 86400 * 7), "600",
	  "full refresh period (one GetTable); 0: never", LIVE },
	{ "max_entries", UINT(max_entries, 16, 200000000), "4000000", "cached paths, at most",
	  RESTART },
	{ "max_clients", UINT(max_clients, 1, 100000), "256", "control clients at once", RESTART },
	{ "acm_socket", STR(acm_socket), "/run/ibacm-unix.sock",
	  "unix socket of the ibacm-compatible door (ibacm's own path); \"none\": no socket",
	  RESTART },
	{ "acm_tcp_port", UINT(acm_tcp_port, 0, 65535), "0",
	  "also serve ACM clients on 127.0.0.1:PORT (ibacm uses 6125); 0: no TCP", RESTART },
	{ "acm_max_clients", UINT(acm_max_clients, 1, 100000), "512", "ACM clients at once",
	  RESTART },
	{ "idle_timeout_s", UINT(idle_timeout_s, 1, 86400), "60",
	  "close a control connection that does nothing this long (liblocalsa reconnects)",
	  RESTART },
	{ "acm_idle_timeout_s", UINT(acm_idle_timeout_s, 0, 86400 * 7), "600",
	  "close an ACM connection that does nothing this long; 0: never (librdmacm keeps one "
	  "per process and does not reconnect: it then resolves routes without ACM)", RESTART },
	{ "client_new_tuples", UINT(client_new_tuples, 1, 4096), "64",
	  "request kinds (ServiceID, PKey, QoS class, SL, TClass) new to the cache that one user "
	  "(control, ACM) or source LID (SA door) may add at once", RESTART },
	{ "client_new_tuples_per_s", UINT(client_new_tuples_per_s, 1, 4096), "4",
	  "... and per second after that", RESTART },
	{ "sa_server", UINT(sa_server, 0, 1), "1",
	  "1: register as an SA-class server (traps arrive as Reports; the SA door)", RESTART },
	{ "inform_traps", OPT_TRAPS, offsetof(struct config, traps), sizeof(((struct config *)0)->traps),
	  0, 0xffff, "64,65", "traps to subscribe to at the SA (comma list; 'none')", RESTART },
	{ "inform_refresh_s", UINT(inform_refresh_s, 0, 86400), "60",
	  "re-send subscriptions this often (an SM restart forgets them); 0: never", RESTART },
	{ "sm_poll_ms", UINT(sm_poll_ms, 0, 3600000), "2000",
	  "read this port's MasterSMLID this often to follow a moving SM; 0: only on SA timeouts",
	  RESTART },
	{ "sa_sm_key", OPT_KEY, offsetof(struct config, sa_sm_key), sizeof(uint64_t), 0, 0, "none",
	  "SM_Key that Set/Delete PathRecord at the SA door must carry; none: refuse writes",
	  RESTART },
	{ "sa_relay", UINT(sa_relay, 0, 1), "1",
	  "1: the SA door relays to the master SA what the cache cannot answer", RESTART },
	{ "sa_max_set_records", UINT(sa_max_set_records, 1, 10000000), "65536",
	  "paths in one Set (SetTable) at the SA door, at most", RESTART },
	{ "role", OPT_ROLE, offsetof(struct config, role), sizeof(unsigned), 0, 2, "standalone",
	  "standalone: one GetTable per fill; distributor: fetch all pairs, push slices; "
	  "receiver: take pushes (needs sa_sm_key)", RESTART },
	{ "distribute_to", STR(distribute_to), "all",
	  "distributor: receivers' port GIDs (comma list), or all: every port in the table",
	  LIVE },
	{ "receiver_timeout_s", UINT(receiver_timeout_s, 1, 86400), "30",
	  "receiver: fill from the SA itself after this long without a push or heartbeat", LIVE },
	{ "distribute_heartbeat_ms", UINT(distribute_heartbeat_ms, 100, 3600000), "5000",
	  "distributor: heartbeat period; out-of-sync receivers get their slice again", LIVE },
	{ "distribute_delay_ms", UINT(distribute_delay_ms, 0, 60000), "100",
	  "distributor: fetch the table this long after a trap (a burst costs one fetch)", LIVE },
	{ "prefetch_service_ids", LIST(prefetch_service_ids, UINT64_MAX), "none",
	  "ServiceIDs whose paths every fill also loads, one GetTable each (comma list; 'none')",
	  LIVE },
	{ "prefetch_pkeys", LIST(prefetch_pkeys, 0xffff), "none",
	  "P_Keys whose paths every fill also loads, one GetTable each (comma list; 'none')",
	  LIVE },
	{ "prefetch_qos_classes", LIST(prefetch_qos_classes, 0xfff), "none",
	  "QoS classes whose paths every fill also loads, one GetTable each (comma list; 'none')",
	  LIVE },
	{ "max_stale_s", UINT(max_stale_s, 0, UINT32_MAX / 1000), "0",
	  "0: serve cached paths while the SA is unreachable; N: after N s without an SA "
	  "answer, every lookup must be confirmed by the SA", RESTART },
	{ "sa_max_queries_per_s", UINT(sa_max_queries_per_s, 0, 10000000), "1000",
	  "PathRecord queries to the master SA per second, at most (lookups go first); 0: no limit",
	  LIVE },
	{ "sa_max_records_per_s", UINT(sa_max_records_per_s, 0, 1000000000), "1000000",
	  "records those queries bring per second, at most (background fetches wait); 0: no limit",
	  LIVE },
	{ "spread_records_per_s", UINT(spread_records_per_s, 0, 100000000), "50000",
	  "SA load (records/s, a query counts 25) all nodes' reaction to one event aims at: a "
	  "fetch every node makes starts at this node's moment of a window that grows with its "
	  "table; 0: at once", LIVE },
	{ "spread_max_s", UINT(spread_max_s, 0, 86400), "300", "a spread window is at most this long",
	  LIVE },
	{ "start_spread_ms", UINT(start_spread_ms, 0, 3600000), "0",
	  "the first fill starts at a random moment of [0, this); 0: at once", RESTART },
	{ "push_from", STR(push_from), "sm,distributor",
	  "who may Set/Delete PathRecord at the SA door (with sa_sm_key): comma list of sm, "
	  "distributor (distributor_gid), LIDs, port GIDs; any: every source", RESTART },
	{ "distributor_gid", STR(distributor_gid), "none",
	  "receiver: its distributor's port GID or LID, a push_from source; none", RESTART },
	{ "netlink", ONOFF(netlink), "on",
	  "answer the kernel's PathRecord queries (NETLINK_RDMA, RDMA_NL_LS: rdma_cm, IPoIB, SRP) "
	  "once the cache is filled; needs CAP_NET_ADMIN; off where the kernel has no NETLINK_RDMA",
	  RESTART },
	{ "netlink_timeout_ms", UINT(netlink_timeout_ms, 0, 200000), "0",
	  "how long the kernel waits for the netlink door (SET_TIMEOUT, 100..200000); 0: a miss's "
	  "worst case, sa_timeout_ms x (sa_retries + 1) + the backoff pauses (6000 by default)",
	  RESTART },
};

static const struct opt *find(const char *name)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (!strcmp(options[i].name, name))
			return &options[i];
	return NULL;
}

static int parse_targets(const char *list, bool *all, union ibv_gid **gids, size_t *n,
			 char *msg, size_t msglen);

/* The gid of group name, however large its entry (getgrnam_r asks for room: ERANGE). */
static int group_gid(const char *opt, const char *name, gid_t *gid, char *msg, size_t msglen)
{
	struct group gr, *res = NULL;
	size_t cap = 1024;
	char *buf = NULL;
	int err;

	do {
		char *p = cap <= (1u << 24) ? realloc(buf, cap) : NULL;

		if (!p) {
			free(buf);
			snprintf(msg, msglen, "%s: '%s': its group entry is too large to read", opt,
				 name);
			return -ENOMEM;
		}
		buf = p;
		err = getgrnam_r(name, &gr, buf, cap, &res);
		cap *= 2;
	} while (err == ERANGE);
	free(buf);	/* the gid is in gr, on the stack; the buffer holds its strings */
	if (err) {
		snprintf(msg, msglen, "%s: '%s': cannot read the group database: %s", opt, name,
			 strerror(err));
		return -EINVAL;
	}
	if (!res) {
		snprintf(msg, msglen, "%s: '%s' is no group of this system", opt, name);
		return -EINVAL;
	}
	*gid = gr.gr_gid;
	return 0;
}

int config_set(struct config *c, const char *name, const char *value, char *msg, size_t msglen)
{
	const struct opt *o = find(name);
	char *field;
	uint64_t v;

	if (!o) {
		snprintf(msg, msglen, "unknown option '%s'", name);
		return -ENOENT;
	}
	field = (char *)c + o->offset;
	switch (o->type) {
	case OPT_STR:
		if (strlen(value) >= o->size) {
			snprintf(msg, msglen, "%s: value longer than %zu characters", name, o->size - 1);
			return -EINVAL;
		}
		if (!strcmp(name, "ports") || !strcmp(name, "default_port")) {
			struct config_port one;
			size_t n;

			if (!strcmp(name, "ports") ?
			    config_parse_ports(value, NULL, CONFIG_PORTS_MAX, &n, msg, msglen) < 0 :
			    *value && config_parse_ports(value, &one, 1, &n, msg, msglen) < 0)
				return -EINVAL;
		}
		if (!strcmp(name, "distribute_to")) {
			union ibv_gid *gids;
			size_t n;
			bool all;
			int ret = parse_targets(value, &all, &gids, &n, msg, msglen);

			if (ret < 0)
				return ret;
			free(gids);
		}
		strcpy(field, value);
		return 0;
	case OPT_UINT:
		if (ctl_parse_u64(value, o->max, &v) < 0 || v < o->min) {
			snprintf(msg, msglen, "%s: '%s' is not a number in %llu..%llu", name, value,
				 (unsigned long long)o->min, (unsigned long long)o->max);
			return -EINVAL;
		}
		if (o->size == sizeof(uint32_t))
			*(uint32_t *)field = (uint32_t)v;
		else
			*(unsigned *)field = (unsigned)v;
		return 0;
	case OPT_MODE: {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (errno || *end || !*value || m > 0777) {
			snprintf(msg, msglen, "%s: '%s' is not an octal file mode", name, value);
			return -EINVAL;
		}
		c->socket_mode = (mode_t)m;
		return 0;
	}
	case OPT_TRAPS: {
		char copy[128], *save = NULL, *tok;
		size_t n = 0;

		if (strlen(value) >= sizeof(copy))
			goto bad_traps;
		strcpy(copy, value);
		if (strcmp(copy, "none"))
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (n == sizeof(c->traps) / sizeof(c->traps[0]) ||
				    ctl_parse_u64(tok, 0xffff, &v) < 0)
					goto bad_traps;
				c->traps[n++] = (uint16_t)v;
			}
		c->n_traps = n;
		return 0;
bad_traps:
		snprintf(msg, msglen, "%s: '%s' is not a comma list of up to 8 trap numbers or 'none'",
			 name, value);
		return -EINVAL;
	}
	case OPT_LIST: {
		struct config_list l = { .n = 0 };
		char copy[CONFIG_LIST_MAX * 20], *save = NULL, *tok;

		if (strlen(value) >= sizeof(copy))
			goto bad_list;
		strcpy(copy, value);
		if (strcmp(copy, "none"))
			for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
				if (l.n == CONFIG_LIST_MAX || ctl_parse_u64(tok, o->max, &v) < 0)
					goto bad_list;
				l.v[l.n++] = v;
			}
		memcpy(field, &l, sizeof(l));	/* all or nothing */
		return 0;
bad_list:
		snprintf(msg, msglen, "%s: '%s' is not a comma list of up to %d numbers in 0..%#llx "
			 "or 'none'", name, value, CONFIG_LIST_MAX, (unsigned long long)o->max);
		return -EINVAL;
	}
	case OPT_ROLE: {
		static const char *const roles[] = { "standalone", "distributor", "receiver" };

		for (unsigned i = 0; i < 3; i++)
			if (!strcmp(value, roles[i])) {
				c->role = i;
				return 0;
			}
		snprintf(msg, msglen, "%s: '%s' is not standalone, distributor or receiver", name,
			 value);
		return -EINVAL;
	}
	case OPT_KEY:
		if (!strcmp(value, "none")) {
			c->sa_sm_key_set = false;
			c->sa_sm_key = 0;
			return 0;
		}
		if (ctl_parse_u64(value, UINT64_MAX, &v) < 0) {
			snprintf(msg, msglen, "%s: '%s' is not a 64-bit key (0x...) or 'none'", name,
				 value);
			return -EINVAL;
		}
		c->sa_sm_key = v;
		c->sa_sm_key_set = true;
		return 0;
	case OPT_ONOFF:
		if (strcmp(value, "on") && strcmp(value, "off")) {
			snprintf(msg, msglen, "%s: '%s' is not on or off", name, value);
			return -EINVAL;
		}
		*(bool *)field = !strcmp(value, "on");
		return 0;
	case OPT_GROUP:
		if (!*value) {
			c->socket_group = (gid_t)-1;
			return 0;
		}
		if (ctl_parse_u64(value, UINT32_MAX - 1, &v) == 0) {
			c->socket_group = (gid_t)v;
			return 0;
		}
		return group_gid(name, value, &c->socket_group, msg, msglen);
	case OPT_LEVEL:
		if (log_level_parse(value, &c->log_level) < 0) {
			snprintf(msg, msglen, "%s: '%s' is not err, warn, info or debug", name, value);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

void config_defaults(struct config *c)
{
	char msg[128];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		config_set(c, options[i].name, options[i].def, msg, sizeof(msg));
}

/* Strips a comment: '#' at the start of the value's text or after a blank. */
static void strip_comment(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

static void diag(config_diag_fn fn, void *arg, const char *path, unsigned line, bool error,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void diag(config_diag_fn fn, void *arg, const char *path, unsigned line, bool error,
		 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fn)
		fn(arg, path, line, error, msg);
}

enum { LINE_OK, LINE_EOF, LINE_LONG, LINE_NUL };

/*
 * One line of f into buf (at most cap - 1 characters, no newline): LINE_OK, LINE_EOF at the end
 * of the file, LINE_LONG or LINE_NUL (the whole line read and dropped), so that line numbers
 * stay true and a NUL byte does not cut a line short unseen.
 */
static int read_line(FILE *f, char *buf, size_t cap)
{
	size_t n = 0;
	bool nul = false, long_line = false, any = false;
	int ch;

	while ((ch = getc(f)) != EOF) {
		any = true;
		if (ch == '\n')
			break;
		nul |= ch == '\0';
		if (n + 1 < cap)
			buf[n++] = (char)ch;
		else
			long_line = true;
	}
	buf[n] = '\0';
	if (!any)
		return LINE_EOF;
	return nul ? LINE_NUL : long_line ? LINE_LONG : LINE_OK;
}

int config_load_file(struct config *c, const char *path, config_diag_fn fn, void *arg,
		     unsigned *n_set)
{
	enum { N_OPTS = sizeof(options) / sizeof(options[0]) };
	unsigned first_line[N_OPTS] = { 0 }, line = 0, errors = 0, set = 0;
	struct config next = *c;	/* committed only when the whole file is good */
	char buf[1024];
	struct stat st;
	FILE *f;
	int fd, got;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int err = errno;

		diag(fn, arg, path, 0, true, "cannot read: %s", strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		diag(fn, arg, path, 0, true, "not a regular file%s",
		     S_ISDIR(st.st_mode) ? " (a directory)" : "");
		close(fd);
		return -EINVAL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	while ((got = read_line(f, buf, sizeof(buf) - 1)) != LINE_EOF) {
		char *name, *value, *end, msg[256];
		const struct opt *o;

		line++;
		if (got == LINE_LONG) {
			diag(fn, arg, path, line, true, "line longer than %zu characters",
			     sizeof(buf) - 2);
			errors++;
			continue;
		}
		if (got == LINE_NUL) {
			diag(fn, arg, path, line, true, "a NUL byte in the line");
			errors++;
			continue;
		}
		strip_comment(buf);
		name = buf + strspn(buf, " \t");
		end = name + strlen(name);
		while (end > name && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
				      end[-1] == '\t'))
			*--end = '\0';
		if (!*name)
			continue;
		value = name + strcspn(name, " \t");
		if (!*value) {
			diag(fn, arg, path, line, true, "'%s' has no value", name);
			errors++;
			continue;
		}
		*value++ = '\0';
		value += strspn(value, " \t");
		if (config_set(&next, name, value, msg, sizeof(msg)) < 0) {
			diag(fn, arg, path, line, true, "%s", msg);
			errors++;
			continue;
		}
		o = find(name);
		if (first_line[o - options])
			diag(fn, arg, path, line, false, "'%s' set again (first on line %u): the last "
			     "one counts", name, first_line[o - options]);
		else
			set++;
		first_line[o - options] = line;
	}
	if (ferror(f)) {
		diag(fn, arg, path, line, true, "read error: %s", strerror(errno));
		errors++;
	}
	fclose(f);
	if (errors)
		return -EINVAL;
	*c = next;
	if (n_set)
		*n_set = set;
	return 0;
}

unsigned config_miss_worst_ms(const struct config *c)
{
	uint64_t cap = c->sa_backoff_max_ms > c->sa_timeout_ms ? c->sa_backoff_max_ms : c->sa_timeout_ms;
	uint64_t ms = (uint64_t)c->sa_timeout_ms * (c->sa_retries + 1);

	/* the pause after attempt k (1..retries): timeout << (k - 1), capped */
	for (unsigned k = 1; k <= c->sa_retries; k++) {
		uint64_t pause = (uint64_t)c->sa_timeout_ms << (k - 1 < 16 ? k - 1 : 16);

		ms += pause < cap ? pause : cap;
	}
	return ms > UINT32_MAX ? UINT32_MAX : (unsigned)ms;
}

void config_print_options(FILE *out)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		fprintf(out, "  %-20s %-28s %s%s\n", options[i].name,
			*options[i].def ? options[i].def : "\"\"", options[i].help,
			options[i].reload == LIVE ? " [reload]" : "");
}

/* An option's value as text: what the config file would say. */
static void value_text(const struct config *c, const struct opt *o, char *out, size_t cap)
{
	const char *field = (const char *)c + o->offset;
	size_t len = 0;

	switch (o->type) {
	case OPT_STR:
		snprintf(out, cap, "%s", field);
		return;
	case OPT_UINT:
		snprintf(out, cap, "%llu", o->size == sizeof(uint32_t) ?
			 (unsigned long long)*(const uint32_t *)field :
			 (unsigned long long)*(const unsigned *)field);
		return;
	case OPT_MODE:
		snprintf(out, cap, "0%o", (unsigned)c->socket_mode);
		return;
	case OPT_GROUP:
		if (c->socket_group == (gid_t)-1)
			snprintf(out, cap, "%s", "");
		else
			snprintf(out, cap, "%u", (unsigned)c->socket_group);
		return;
	case OPT_LEVEL:
		snprintf(out, cap, "%s", log_level_name(c->log_level));
		return;
	case OPT_ONOFF:
		snprintf(out, cap, "%s", *(const bool *)field ? "on" : "off");
		return;
	case OPT_KEY:
		if (c->sa_sm_key_set)
			snprintf(out, cap, "(set)");	/* never in a log */
		else
			snprintf(out, cap, "none");
		return;
	case OPT_ROLE:
		snprintf(out, cap, "%s", c->role == CONFIG_ROLE_DISTRIBUTOR ? "distributor" :
			 c->role == CONFIG_ROLE_RECEIVER ? "receiver" : "standalone");
		return;
	case OPT_TRAPS:
	case OPT_LIST: {
		const struct config_list *l = (const void *)field;
		size_t n = o->type == OPT_TRAPS ? c->n_traps : l->n;

		out[0] = '\0';
		for (size_t i = 0; i < n && len < cap; i++)
			len += (size_t)snprintf(out + len, cap - len, "%s%#llx", i ? "," : "",
				o->type == OPT_TRAPS ? (unsigned long long)c->traps[i] :
						       (unsigned long long)l->v[i]);
		if (!n)
			snprintf(out, cap, "none");
		return;
	}
	}
}

/* Whether the option's value differs between a and b. */
static bool differs(const struct config *a, const struct config *b, const struct opt *o)
{
	char x[sizeof(a->distribute_to) + 1], y[sizeof(x)];

	if (o->type == OPT_KEY)
		return a->sa_sm_key_set != b->sa_sm_key_set || a->sa_sm_key != b->sa_sm_key;
	value_text(a, o, x, sizeof(x));
	value_text(b, o, y, sizeof(y));
	return strcmp(x, y) != 0;
}

size_t config_diff(const struct config *old, const struct config *next, config_change_fn fn,
		   void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct opt *o = &options[i];
		char a[160], b[160];

		if (!differs(old, next, o))
			continue;
		value_text(old, o, a, sizeof(a));
		value_text(next, o, b, sizeof(b));
		fn(arg, o->name, a, b, o->reload == LIVE);
		n++;
	}
	return n;
}

int config_copy_option(struct config *dst, const struct config *src, const char *name)
{
	const struct opt *o = find(name);

	if (!o)
		return -ENOENT;
	memcpy((char *)dst + o->offset, (const char *)src + o->offset, o->size);
	if (o->type == OPT_TRAPS)
		dst->n_traps = src->n_traps;
	else if (o->type == OPT_KEY)
		dst->sa_sm_key_set = src->sa_sm_key_set;
	return 0;
}

/* One CA:N of a list; the CA name is what umad calls it (sysfs: no ':' and no ','). */
static int parse_port(const char *tok, struct config_port *out)
{
	const char *colon = strrchr(tok, ':');
	uint64_t num;

	if (!colon || colon == tok || (size_t)(colon - tok) >= sizeof(out->ca) ||
	    ctl_parse_u64(colon + 1, 254, &num) < 0 || !num)
		return -EINVAL;
	snprintf(out->ca, sizeof(out->ca), "%.*s", (int)(colon - tok), tok);
	out->port = (unsigned)num;
	return 0;
}

int config_parse_ports(const char *list, struct config_port *out, size_t max, size_t *n,
		       char *msg, size_t msglen)
{
	char copy[CONFIG_PORTS_LEN], *save = NULL, *tok;
	struct config_port p;
	size_t k = 0;

	*n = 0;
	if (!strcmp(list, "all"))
		return 0;
	if (strlen(list) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (parse_port(tok, &p) < 0) {
			snprintf(msg, msglen, "'%s' is not CA:N (a CA name and a port number 1-254)",
				 tok);
			return -EINVAL;
		}
		if (k == max) {
			snprintf(msg, msglen, "more than %zu ports", max);
			return -E2BIG;
		}
		if (out)
			out[k] = p;
		k++;
	}
	if (!k) {
		snprintf(msg, msglen, "no port named: 'all' or a comma list CA:N,...");
		return -EINVAL;
	}
	*n = k;
	return 0;
}

int config_ports(const struct config *c, struct config_port *out, size_t *n, char *msg,
		 size_t msglen)
{
	/* The legacy pair names one port when ports is left at all. */
	if (!strcmp(c->ports, "all") && (*c->ca || c->port)) {
		snprintf(out[0].ca, sizeof(out[0].ca), "%s", c->ca);
		out[0].port = c->port;
		*n = 1;
		return 0;
	}
	return config_parse_ports(c->ports, out, CONFIG_PORTS_MAX, n, msg, msglen);
}

static const struct {
	const char *name;
	size_t offset;
	uint8_t flag;
} prefetch_lists[CONFIG_PREFETCH_LISTS] = {
	{ "prefetch_service_ids", offsetof(struct config, prefetch_service_ids),
	  PR_TUPLE_SERVICE_ID },
	{ "prefetch_pkeys", offsetof(struct config, prefetch_pkeys), PR_TUPLE_PKEY },
	{ "prefetch_qos_classes", offsetof(struct config, prefetch_qos_classes),
	  PR_TUPLE_QOS_CLASS },
};

const struct config_list *config_prefetch(const struct config *c, size_t i, const char **name,
					  uint8_t *tuple_flag)
{
	if (name)
		*name = prefetch_lists[i].name;
	if (tuple_flag)
		*tuple_flag = prefetch_lists[i].flag;
	return (const struct config_list *)((const char *)c + prefetch_lists[i].offset);
}

/* distribute_to's value: all, or a comma list of GIDs. */
static int parse_targets(const char *list, bool *all, union ibv_gid **gids, size_t *n,
			 char *msg, size_t msglen)
{
	char copy[sizeof(((struct config *)0)->distribute_to)], *save = NULL, *tok;
	union ibv_gid *g = NULL;
	size_t k = 0;

	*all = !strcmp(list, "all");
	*gids = NULL;
	*n = 0;
	if (*all)
		return 0;
	snprintf(copy, sizeof(copy), "%s", list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		union ibv_gid *ng = realloc(g, (k + 1) * sizeof(*g));

		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		if (pr_from_text_gid(tok, &g[k]) < 0) {
			snprintf(msg, msglen, "distribute_to: '%s' is not a GID", tok);
			free(g);
			return -EINVAL;
		}
		k++;
	}
	*gids = g;
	*n = k;
	return 0;
}

int config_targets(const struct config *c, bool *all, union ibv_gid **gids, size_t *n,
		   char *msg, size_t msglen)
{
	return parse_targets(c->distribute_to, all, gids, n, msg, msglen);
}
