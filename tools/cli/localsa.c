/*
 * localsa - the operator's CLI for localsad: path lookups, dump, stats, status, refresh, flush,
 * add, delete, reload. It validates what it can before asking, and turns every daemon or socket
 * error into one clear line and a non-zero exit code. `path` goes through liblocalsa, as
 * applications do: a hit is read from the daemon's shared-memory snapshot, anything else is
 * asked of the socket. Every control line is written and read by the codec (wire/ctl_proto).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/strbuf.h"
#include "localsa.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

#define DEFAULT_SOCKET "/run/localsa/localsa.sock"

enum { EXIT_OK = CTL_EXIT_OK, EXIT_FAIL = CTL_EXIT_FAIL, EXIT_USAGE = CTL_EXIT_USAGE };
enum { PROBE_MS = 1000 };		/* a localsad answers `info` at once: else it is none */
#define REPLY_LINE_MAX (1 << 20)	/* the stats JSON is one line */
#define REPLY_LINES_MAX UINT32_MAX	/* a dump has a line per cached path: no memory kept */

static const char *prog = "localsa";
static const char *sock_path;		/* -s, $LOCALSA_SOCKET, the default */
static const char *shm_name;		/* --shm, else liblocalsa's choice */

struct command {
	const char *name;
	const char *args;		/* synopsis after the name */
	const char *help;		/* one line */
	const char *details;		/* the command's options, for `COMMAND --help` */
	int (*run)(int argc, char **argv);
};

static const struct command commands[];
static const struct command *current;

static void usage(FILE *out);

static void command_usage(FILE *out, const struct command *c)
{
	fprintf(out, "usage: localsa [-s SOCKET] [--shm NAME] %s %s\n  %s\n%s", c->name, c->args,
		c->help, c->details);
}

/* One line about bad usage of the current command, then where its usage is. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s%s", prog, current ? current->name : "", current ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(localsa %s --help for its options)\n", current ? current->name : "");
	return EXIT_USAGE;
}

/* --- the socket: one message per way it can fail ------------------------------------------ */

/* Why sock_path cannot serve us, in one line; err is what connecting or asking gave. */
static void socket_error(int err)
{
	struct stat st;
	const char *why;

	if (err == -ENOENT)
		why = "no such socket (is localsad running? -s or $LOCALSA_SOCKET names another?)";
	else if (err == -EACCES || err == -EPERM)
		why = "permission denied (the socket's mode or its directory's: see socket_mode)";
	else if (err == -ECONNREFUSED && stat(sock_path, &st) == 0 && !S_ISSOCK(st.st_mode))
		why = "not a socket";
	else if (err == -ECONNREFUSED)
		why = "nothing listens there (localsad stopped and left its socket file)";
	else if (err == -ETIMEDOUT)
		why = "no answer within 1 s: not localsad's socket (ibacm's?), or localsad is stuck";
	else if (err == -EPROTO || err == -EPIPE || err == -ECONNRESET)
		why = "it does not answer as localsad does (another service's socket, e.g. ibacm's?)";
	else if (err == -ENAMETOOLONG)
		why = "path too long for a unix socket";
	else
		why = strerror(-err);
	fprintf(stderr, "%s: cannot use localsad at %s: %s\n", prog, sock_path, why);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * A connection on which localsad answered `info` within PROBE_MS (its reply read whole), ready
 * for the real request: a peer that is not localsad (ibacm's socket) is found out in a second
 * instead of waiting for its idle timeout. Negative errno as socket_error() explains them.
 */
static int open_daemon(int *fd_out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char req[16], line[512], buf[512];
	struct ctl_reply rr;
	struct timespec t0, t;
	int fd, len, ret;

	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto out_close;
	}
	len = ctl_request_encode(req, sizeof(req), "info", NULL, 0);
	ret = len < 0 ? len : send_all(fd, req, (size_t)len);
	if (ret < 0)
		goto out_close;
	ctl_reply_init(&rr, line, sizeof(line), 4);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* read one byte at a time: what follows the reply belongs to the next one */
	while (!ctl_reply_done(&rr)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		enum ctl_reply_event ev;
		long ms;
		ssize_t k;

		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = PROBE_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&pfd, 1, (int)ms) == 0) {
			ret = -ETIMEDOUT;
			goto out_close;
		}
		k = recv(fd, buf, 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			ret = k < 0 ? -errno : -EPIPE;
			goto out_close;
		}
		if (ctl_reply_feed(&rr, buf, 1, &ev) < 0 ||
		    (ev == CTL_REPLY_STATUS && ctl_reply_status(&rr) != 1)) {
			ret = -EPROTO;
			goto out_close;
		}
	}
	*fd_out = fd;
	return 0;

out_close:
	close(fd);
	return ret;
}

/* What to do with a reply's lines: begin once "OK n" arrived, line for each of the n, end after
 * the last; each returns an exit status, non-zero to stop. Any may be NULL. */
struct sink {
	int (*begin)(void *arg);
	int (*line)(void *arg, char *line);
	int (*end)(void *arg);
	void *arg;
};

/*
 * Sends one request and reads its reply as it arrives, handing the lines to sink; an ERR reply
 * is printed as "localsa: COMMAND: message". progress: a spinner with the elapsed time while
 * waiting (on a terminal). Returns the exit status.
 */
static int request(const char *cmd, const struct ctl_kv *args, size_t n, bool progress,
		   const struct sink *sink)
{
	static char line[REPLY_LINE_MAX];
	char req[CTL_MAX_LINE + 1], buf[65536];
	struct timespec t0, t;
	struct ctl_reply rr;
	size_t off = 0, got = 0;
	int fd, len, ret;

	len = ctl_request_encode(req, sizeof(req), cmd, args, n);
	if (len < 0)
		return usage_error("%s", strerror(-len));
	ret = open_daemon(&fd);
	if (ret == 0)
		ret = send_all(fd, req, (size_t)len);
	else
		fd = -1;
	if (ret < 0) {
		socket_error(ret);
		if (fd >= 0)
			close(fd);
		return EXIT_FAIL;
	}
	ret = EXIT_OK;
	ctl_reply_init(&rr, line, sizeof(line), REPLY_LINES_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!ctl_reply_done(&rr) && ret == EXIT_OK) {
		enum ctl_reply_event ev;
		ssize_t k;

		if (off == got) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (progress && poll(&pfd, 1, 100) == 0) {
				clock_gettime(CLOCK_MONOTONIC, &t);
				fprintf(stderr, "\rrefreshing... %.1f s", (double)(t.tv_sec - t0.tv_sec) +
					(double)(t.tv_nsec - t0.tv_nsec) / 1e9);
				continue;
			}
			k = recv(fd, buf, sizeof(buf), 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				fprintf(stderr, "%s: %s: the daemon closed the connection without a "
					"complete reply\n", prog, cmd);
				ret = EXIT_FAIL;
				break;
			}
			off = 0;
			got = (size_t)k;
		}
		k = ctl_reply_feed(&rr, buf + off, got - off, &ev);
		if (k < 0) {
			fprintf(stderr, "%s: %s: malformed reply from the daemon\n", prog, cmd);
			ret = EXIT_FAIL;
			break;
		}
		off += (size_t)k;
		if (ev == CTL_REPLY_STATUS && ctl_reply_status(&rr) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, cmd, ctl_reply_message(&rr));
			ret = ctl_err_exit(ctl_reply_status(&rr));
		} else if (ev == CTL_REPLY_STATUS && sink->begin) {
			ret = sink->begin(sink->arg);
		} else if (ev == CTL_REPLY_LINE && sink->line) {
			ret = sink->line(sink->arg, line);
		}
		if (ret == EXIT_OK && ctl_reply_done(&rr) && ctl_reply_status(&rr) >= 0 && sink->end)
			ret = sink->end(sink->arg);
	}
	if (progress)
		fprintf(stderr, "\r\033[K");
	close(fd);
	return ret;
}

static int print_line(void *arg, char *line)
{
	(void)arg;
	puts(line);
	return EXIT_OK;
}

static const struct sink print_lines = { .line = print_line };

/* --- option parsing shared by the commands -------------------------------------------------- */

/* getopt_long over a command's arguments, its complaints in our words. */
static int next_opt(int argc, char **argv, const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, ":h", longopts, NULL);
	if (c == '?')
		usage_error("unknown option '%s'", argv[optind - 1]);
	else if (c == ':')
		usage_error("%s wants a value", argv[optind - 1]);
	else if (c == 'h')
		command_usage(stdout, current);
	return c;
}

/* After the options: no word may be left. */
static int no_more(int argc, char **argv)
{
	return optind < argc ? usage_error("unexpected argument '%s'", argv[optind]) : EXIT_OK;
}

enum format { FMT_TEXT, FMT_JSON, FMT_SAQUERY, FMT_PROMETHEUS };

static int parse_format(const char *s, enum format *f, bool records)
{
	if (!strcmp(s, "text"))
		*f = FMT_TEXT;
	else if (!strcmp(s, "json"))
		*f = FMT_JSON;
	else if (records && !strcmp(s, "saquery"))
		*f = FMT_SAQUERY;
	else if (!records && !strcmp(s, "prometheus"))
		*f = FMT_PROMETHEUS;
	else
		return usage_error("--format: '%s' is not text, json or %s", s,
				   records ? "saquery" : "prometheus");
	return EXIT_OK;
}

static int parse_gid(const char *opt, const char *s, union ibv_gid *gid)
{
	if (pr_from_text_gid(s, gid) < 0)
		return usage_error("%s: '%s' is not a GID (e.g. fe80::2:c903:0:1 or "
				   "0x0002c90300000001)", opt, s);
	return EXIT_OK;
}

static int parse_num(const char *opt, const char *s, uint64_t max, uint64_t *v)
{
	if (ctl_parse_u64(s, max, v) < 0)
		return usage_error("%s: '%s' is not a number in 0..%llu", opt, s,
				   (unsigned long long)max);
	return EXIT_OK;
}

/* --- records -------------------------------------------------------------------------------- */

/* Every field of a record as JSON members, MTU and rate also decoded. */
static void json_record(struct json *j, const struct ibv_path_record *r)
{
	char dgid[INET6_ADDRSTRLEN], sgid[INET6_ADDRSTRLEN], sid[24], pkey[8];

	pr_gid_to_text(&r->dgid, dgid);
	pr_gid_to_text(&r->sgid, sgid);
	snprintf(sid, sizeof(sid), "0x%016llx", (unsigned long long)pr_service_id(r));
	snprintf(pkey, sizeof(pkey), "0x%04x", pr_pkey(r));
	json_str(j, "service_id", sid);
	json_str(j, "dgid", dgid);
	json_str(j, "sgid", sgid);
	json_u64(j, "dlid", pr_dlid(r));
	json_u64(j, "slid", pr_slid(r));
	json_bool(j, "raw_traffic", pr_raw_traffic(r));
	json_u64(j, "flow_label", pr_flow_label(r));
	json_u64(j, "hop_limit", pr_hop_limit(r));
	json_u64(j, "tclass", r->tclass);
	json_u64(j, "reversible", pr_reversible(r));
	json_u64(j, "numb_path", pr_numb_path(r));
	json_str(j, "pkey", pkey);
	json_u64(j, "qos_class", pr_qos_class(r));
	json_u64(j, "sl", pr_sl(r));
	json_u64(j, "mtu", pr_mtu(r));
	json_u64(j, "mtu_selector", pr_mtu_selector(r));
	json_u64(j, "mtu_bytes", pr_mtu_bytes(pr_mtu(r)));
	json_u64(j, "rate", pr_rate(r));
	json_u64(j, "rate_selector", pr_rate_selector(r));
	json_str(j, "rate_text", pr_rate_str(pr_rate(r)));
	json_u64(j, "pkt_life", pr_pkt_life(r));
	json_u64(j, "pkt_life_selector", pr_pkt_life_selector(r));
	json_u64(j, "preference", pr_preference(r));
}

/* A list of records, in one of the formats; JSON is one array, written as it goes. */
struct rec_out {
	enum format fmt;
	size_t n;
};

static void rec_begin(struct rec_out *o)
{
	if (o->fmt == FMT_JSON)
		fputs("[", stdout);
}

static void rec_end(struct rec_out *o)
{
	if (o->fmt == FMT_JSON)
		fputs(o->n ? "\n]\n" : "]\n", stdout);
}

/* meta: a dump line's key=value words before the record (NULL for a lookup). */
static void rec_print(struct rec_out *o, const struct ibv_path_record *rec, const char *meta,
		      size_t meta_len)
{
	char out[4096];

	switch (o->fmt) {
	case FMT_SAQUERY:
		pr_format_saquery(rec, out, sizeof(out));
		fputs(out, stdout);
		break;
	case FMT_JSON: {
		struct strbuf sb;
		struct ctl_kv kv[CTL_MAX_ARGS];
		size_t n = 0;
		struct json j;

		strbuf_init(&sb, 0);
		json_init(&j, &sb);
		json_object_begin(&j, NULL);
		if (meta && meta_len < sizeof(out)) {
			memcpy(out, meta, meta_len);
			out[meta_len] = '\0';
			if (ctl_parse_kv(out, kv, CTL_MAX_ARGS, &n) < 0)
				n = 0;
			for (size_t i = 0; i < n; i++) {
				uint64_t v;

				if (strcmp(kv[i].key, "source") && strcmp(kv[i].key, "flags") &&
				    ctl_parse_u64(kv[i].val, UINT64_MAX, &v) == 0)
					json_u64(&j, kv[i].key, v);
				else
					json_str(&j, kv[i].key, kv[i].val);
			}
		}
		json_record(&j, rec);
		json_object_end(&j);
		printf("%s\n %.*s", o->n ? "," : "", (int)sb.len, sb.buf);
		strbuf_free(&sb);
		break;
	}
	default:
		pr_format_text(rec, out, sizeof(out));
		if (meta_len)
			printf("%.*s %s\n", (int)meta_len, meta, out);
		else
			printf("%s\n", out);
	}
	o->n++;
}

/* --- path ----------------------------------------------------------------------------------- */

/* liblocalsa's errors: the socket's in its words, the SA's in the error table's. */
static int path_error(int err)
{
	const char *text = ctl_err_text(err);

	if (err == -ECONNREFUSED || err == -ECONNRESET || err == -ENOENT || err == -EACCES ||
	    err == -EPIPE) {
		if (!text || err != -ENOENT) {
			socket_error(err);
			return EXIT_FAIL;
		}
	}
	fprintf(stderr, "%s: path: %s\n", prog, text ? text : strerror(-err));
	return ctl_err_exit(err);
}

/* --port CA:N: the daemon names that port's GID (`port name=CA:N`). */
static int port_gid_line(void *arg, char *line)
{
	union ibv_gid *gid = arg;
	struct ctl_kv kv[CTL_MAX_ARGS];
	const char *g;
	size_t n;

	if (ctl_parse_kv(line, kv, CTL_MAX_ARGS, &n) || !(g = ctl_kv_get(kv, n, "gid")) ||
	    pr_from_text_gid(g, gid) < 0) {
		fprintf(stderr, "%s: port: malformed reply from the daemon\n", prog);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int port_gid(const char *name, union ibv_gid *gid)
{
	const struct sink sink = { .line = port_gid_line, .arg = gid };
	char ca[64];
	unsigned num;

	if (ctl_port_name_decode(name, ca, sizeof(ca), &num))
		return usage_error("--port wants CA:N (a CA name and a port number 1-254), not '%s'",
				   name);
	return request("port", &(struct ctl_kv){ "name", name }, 1, false, &sink);
}

static int cmd_path(int argc, char **argv)
{
	enum { O_DGID = 0x100, O_SGID, O_DLID, O_PKEY, O_SID, O_QOS, O_SL, O_TCLASS, O_SA, O_FMT,
	       O_PORT };
	static const struct option longopts[] = {
		{ "dgid", required_argument, NULL, O_DGID }, { "sgid", required_argument, NULL, O_SGID },
		{ "dlid", required_argument, NULL, O_DLID }, { "pkey", required_argument, NULL, O_PKEY },
		{ "service-id", required_argument, NULL, O_SID },
		{ "service_id", required_argument, NULL, O_SID },	/* saquery's spelling */
		{ "qos-class", required_argument, NULL, O_QOS },
		{ "qos_class", required_argument, NULL, O_QOS },	/* saquery's */
		{ "sl", required_argument, NULL, O_SL }, { "tclass", required_argument, NULL, O_TCLASS },
		{ "sa", no_argument, NULL, O_SA }, { "format", required_argument, NULL, O_FMT },
		{ "port", required_argument, NULL, O_PORT },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const struct { int opt; const char *name; uint64_t max; uint32_t flag; } nums[] = {
		{ O_DLID, "--dlid", 0xbfff, LOCALSA_Q_DLID }, { O_PKEY, "--pkey", 0xffff, LOCALSA_Q_PKEY },
		{ O_SID, "--service-id", UINT64_MAX, LOCALSA_Q_SERVICE_ID },
		{ O_QOS, "--qos-class", 0xfff, LOCALSA_Q_QOS_CLASS },
		{ O_SL, "--sl", 15, LOCALSA_Q_SL }, { O_TCLASS, "--tclass", 255, LOCALSA_Q_TCLASS },
	};
	struct ibv_path_record paths[128];
	struct rec_out out = { FMT_TEXT, 0 };
	struct localsa_query q = { 0 };
	struct localsa *h = NULL;
	const char *port = NULL;
	int c, ret, fd;

	while ((c = next_opt(argc, argv, longopts)) != -1) {
		uint64_t v = 0;

		switch (c) {
		case O_DGID:
		case O_SGID:
			if (parse_gid(c == O_DGID ? "--dgid" : "--sgid", optarg,
				      c == O_DGID ? &q.dgid : &q.sgid))
				return EXIT_USAGE;
			q.flags |= c == O_DGID ? LOCALSA_Q_DGID : LOCALSA_Q_SGID;
			continue;
		case O_SA:
			q.flags |= LOCALSA_Q_SA;
			continue;
		case O_PORT:
			port = optarg;
			continue;
		case O_FMT:
			if (parse_format(optarg, &out.fmt, true))
				return EXIT_USAGE;
			continue;
		case 'h':
			return EXIT_OK;
		case '?':
		case ':':
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
			if (nums[i].opt != c)
				continue;
			if (parse_num(nums[i].name, optarg, nums[i].max, &v))
				return EXIT_USAGE;
			q.flags |= nums[i].flag;
		}
		switch (c) {
		case O_DLID: q.dlid = (uint16_t)v; break;
		case O_PKEY: q.pkey = (uint16_t)v; break;
		case O_SID: q.service_id = v; break;
		case O_QOS: q.qos_class = (uint16_t)v; break;
		case O_SL: q.sl = (uint8_t)v; break;
		default: q.tclass = (uint8_t)v; break;
		}
	}
	if (no_more(argc, argv))
		return EXIT_USAGE;
	if (!(q.flags & (LOCALSA_Q_DGID | LOCALSA_Q_DLID)))
		return usage_error("a destination is needed: --dgid GID or --dlid LID");
	if (q.flags & LOCALSA_Q_DLID && !q.dlid)
		return usage_error("dlid 0 is not a valid LID");
	if (port && (q.flags & LOCALSA_Q_SGID))
		return usage_error("--port and --sgid both name the source port: give one");
	if (port) {
		ret = port_gid(port, &q.sgid);
		if (ret != EXIT_OK)
			return ret;
		q.flags |= LOCALSA_Q_SGID;
	}
	/* the socket first: its failure in its own words, and no library wait on a stranger */
	ret = open_daemon(&fd);
	if (ret < 0) {
		socket_error(ret);
		return EXIT_FAIL;
	}
	close(fd);
	ret = localsa_open(sock_path, shm_name, &h);
	if (ret < 0)
		return path_error(ret);
	ret = localsa_resolve_all(h, &q, paths, sizeof(paths) / sizeof(paths[0]));
	localsa_close(h);
	if (ret == -EADDRNOTAVAIL) {
		char g[INET6_ADDRSTRLEN];

		pr_gid_to_text(&q.sgid, g);
		fprintf(stderr, "%s: path: %s%s%s\n", prog, ctl_err_text(ret),
			q.flags & LOCALSA_Q_SGID ? ": " : " (no --sgid: the default port)",
			q.flags & LOCALSA_Q_SGID ? g : "");
		return ctl_err_exit(ret);
	}
	if (ret < 0)
		return path_error(ret);
	rec_begin(&out);
	for (int i = 0; i < ret && i < (int)(sizeof(paths) / sizeof(paths[0])); i++)
		rec_print(&out, &paths[i], NULL, 0);
	rec_end(&out);
	return EXIT_OK;
}

/* --- dump ----------------------------------------------------------------------------------- */

static int dump_begin(void *arg)
{
	rec_begin(arg);
	return EXIT_OK;
}

static int dump_line(void *arg, char *line)
{
	struct ibv_path_record rec;
	size_t meta;

	if (ctl_dump_decode(line, &rec, &meta) < 0) {
		fprintf(stderr, "%s: dump: malformed record from the daemon\n", prog);
		return EXIT_FAIL;
	}
	while (meta && line[meta - 1] == ' ')
		meta--;
	rec_print(arg, &rec, line, meta);
	return EXIT_OK;
}

static int dump_end(void *arg)
{
	rec_end(arg);
	return EXIT_OK;
}

static int cmd_dump(int argc, char **argv)
{
	enum { O_FMT = 0x100, O_DGID, O_TUPLE, O_SOURCE };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, O_FMT }, { "dgid", required_argument, NULL, O_DGID },
		{ "tuple", required_argument, NULL, O_TUPLE },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct rec_out out = { FMT_TEXT, 0 };
	struct ctl_kv kv[3] = { { "dgid", NULL }, { "tuple", NULL }, { "source", NULL } };
	union ibv_gid gid;
	uint64_t v;
	size_t n = 0;
	int c;

	while ((c = next_opt(argc, argv, longopts)) != -1) {
		switch (c) {
		case O_FMT:
			if (parse_format(optarg, &out.fmt, true))
				return EXIT_USAGE;
			break;
		case O_DGID:
			if (parse_gid("--dgid", optarg, &gid))
				return EXIT_USAGE;
			kv[0].val = optarg;
			break;
		case O_TUPLE:
			if (parse_num("--tuple", optarg, 4095, &v))
				return EXIT_USAGE;
			kv[1].val = optarg;
			break;
		case O_SOURCE:
			if (strcmp(optarg, "sa") && strcmp(optarg, "set") && strcmp(optarg, "cli"))
				return usage_error("--source: '%s' is not sa, set or cli", optarg);
			kv[2].val = optarg;
			break;
		case 'h':
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	/* the filters given (the last of a repeated one counts), in order */
	for (size_t i = 0; i < 3; i++)
		if (kv[i].val)
			kv[n++] = kv[i];
	if (no_more(argc, argv))
		return EXIT_USAGE;
	return request("dump", kv, n, false, &(struct sink){ dump_begin, dump_line, dump_end, &out });
}

/* --- stats and status ----------------------------------------------------------------------- */

/*
 * A small reader of the daemon's JSON (objects, arrays, strings, numbers, literals), which hands
 * each scalar to fn with its path ("ports.0.gid"). Enough for the stats and status objects;
 * -EPROTO for anything else.
 */
typedef void (*json_leaf_fn)(void *arg, const char *path, const char *value, bool string);

static int json_walk(const char **p, char *path, size_t len, size_t cap, json_leaf_fn fn,
		     void *arg, int depth);

static int json_string(const char **p, char *out, size_t cap)
{
	const char *s = *p + 1;
	size_t n = 0;

	for (; *s && *s != '"'; s++) {
		char c = *s;

		if (c == '\\' && s[1]) {
			c = *++s;
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
			if (c == 'u' && strlen(s) >= 5) {
				c = '?';
				s += 4;
			}
		}
		if (n + 1 < cap)
			out[n++] = c;
	}
	if (*s != '"')
		return -EPROTO;
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

static int json_walk(const char **p, char *path, size_t len, size_t cap, json_leaf_fn fn,
		     void *arg, int depth)
{
	char key[128], val[512];
	const char *s;
	int i = 0;

	*p += strspn(*p, " \t\r\n");
	s = *p;
	if (depth > 8)
		return -EPROTO;
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';

		*p = s + 1;
		for (;;) {
			size_t l = len;

			*p += strspn(*p, " \t\r\n,");
			if (**p == close) {
				(*p)++;
				return 0;
			}
			if (close == '}') {
				if (**p != '"' || json_string(p, key, sizeof(key)) < 0)
					return -EPROTO;
				*p += strspn(*p, " \t\r\n");
				if (**p != ':')
					return -EPROTO;
				(*p)++;
			} else {
				snprintf(key, sizeof(key), "%d", i++);
			}
			l += (size_t)snprintf(path + len, cap - len, "%s%s", len ? "." : "", key);
			if (l >= cap || json_walk(p, path, l, cap, fn, arg, depth + 1) < 0)
				return -EPROTO;
			path[len] = '\0';
		}
	}
	if (*s == '"') {
		if (json_string(p, val, sizeof(val)) < 0)
			return -EPROTO;
		fn(arg, path, val, true);
		return 0;
	}
	len = strcspn(s, ",}] \t\r\n");
	if (!len || len >= sizeof(val))
		return -EPROTO;
	memcpy(val, s, len);
	val[len] = '\0';
	*p = s + len;
	fn(arg, path, val, false);
	return 0;
}

static int json_leaves(const char *json, json_leaf_fn fn, void *arg)
{
	char path[256] = "";

	return json_walk(&json, path, 0, sizeof(path), fn, arg, 0);
}

static void print_leaf(void *arg, const char *path, const char *value, bool string)
{
	(void)arg;
	(void)string;
	printf("%-36s %s\n", path, value);
}

static int print_stats_line(void *arg, char *line)
{
	(void)arg;
	if (json_leaves(line, print_leaf, NULL) < 0) {
		fprintf(stderr, "%s: stats: malformed reply from the daemon\n", prog);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_stats(int argc, char **argv)
{
	enum { O_FMT = 0x100, O_JSON };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, O_FMT }, { "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	enum format fmt = FMT_TEXT;
	int c;

	while ((c = next_opt(argc, argv, longopts)) != -1) {
		if (c == O_FMT && parse_format(optarg, &fmt, false))
			return EXIT_USAGE;
		else if (c == O_JSON)
			fmt = FMT_JSON;
		else if (c == 'h')
			return EXIT_OK;
		else if (c != O_FMT)
			return EXIT_USAGE;
	}
	if (no_more(argc, argv))
		return EXIT_USAGE;
	if (fmt == FMT_PROMETHEUS)
		return request("stats", &(struct ctl_kv){ "format", "prometheus" }, 1, false,
			       &print_lines);
	return request("stats", NULL, 0, false, fmt == FMT_JSON ? &print_lines :
		       &(struct sink){ .line = print_stats_line });
}

/* The status object, looked up by path: every leaf, however many ports (up to STATUS_LEAVES). */
enum { STATUS_LEAVES = 1 << 16 };

struct status_leaf {
	char key[48];
	char val[96];
};

struct status_view {
	struct status_leaf *leaf;
	size_t n, cap;
	bool lost;		/* a leaf that did not fit (no memory, or past STATUS_LEAVES) */
};

static void keep_leaf(void *arg, const char *path, const char *value, bool string)
{
	struct status_view *v = arg;

	(void)string;
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 256;
		struct status_leaf *p = cap <= STATUS_LEAVES ?
			realloc(v->leaf, cap * sizeof(*p)) : NULL;

		if (!p) {
			v->lost = true;
			return;
		}
		v->leaf = p;
		v->cap = cap;
	}
	snprintf(v->leaf[v->n].key, sizeof(v->leaf[0].key), "%s", path);
	snprintf(v->leaf[v->n].val, sizeof(v->leaf[0].val), "%s", value);
	v->n++;
}

/* The value at key, or NULL when the daemon did not say it. */
static const char *sv(const struct status_view *v, const char *key)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->leaf[i].key, key))
			return v->leaf[i].val;
	return NULL;
}

/* For printing: "?" for a value the daemon did not say. */
static const char *or_q(const char *value)
{
	return value ? value : "?";
}

static bool is_true(const char *value)
{
	return value && !strcmp(value, "true");
}

/* "12 s ago (2026-12-01 10:03:04)" from an age and a wall-clock time in seconds. */
static const char *when(const char *age, const char *at, char *out, size_t cap)
{
	char stamp[32] = "";
	time_t t;
	struct tm tm;

	if (!age || !strcmp(age, "null"))
		return "never";
	if (at && (t = (time_t)strtoll(at, NULL, 10)) && localtime_r(&t, &tm))
		strftime(stamp, sizeof(stamp), " (%Y-%m-%d %H:%M:%S)", &tm);
	snprintf(out, cap, "%s s ago%s", age, stamp);
	return out;
}

static int print_status(void *arg, char *line)
{
	struct status_view v = { 0 };
	char key[64], a[160], b[160];
	const char *x;

	(void)arg;
	if (json_leaves(line, keep_leaf, &v) < 0) {
		fprintf(stderr, "%s: status: malformed reply from the daemon\n", prog);
		free(v.leaf);
		return EXIT_FAIL;
	}
	if (v.lost)
		fprintf(stderr, "%s: status: the reply was too large to show whole\n", prog);
#define P(k) (snprintf(key, sizeof(key), "ports.%d.%s", i, k), sv(&v, key))
#define Q(k) or_q(P(k))
	printf("localsad %s, pid %s, up %s s, %s\n", or_q(sv(&v, "version")), or_q(sv(&v, "pid")),
	       or_q(sv(&v, "uptime_s")), is_true(sv(&v, "ready")) ? "ready" :
	       "starting (first fill not finished)");
	for (int i = 0; P("gid"); i++) {
		printf("port %s/%s  gid %s  lid %s\n", Q("ca"), Q("port"), Q("gid"), Q("lid"));
		if (!is_true(P("served"))) {
			printf("  %-15s %s, not served\n", "state", Q("state"));
			continue;
		}
		printf("  %-15s %s\n", "SM LID", Q("sm_lid"));
		printf("  %-15s %s (last answer %s)\n", "SA", is_true(P("sa_reachable")) ?
		       "reachable" : "NOT REACHABLE", when(P("sa_last_answer_age_s"), NULL, a,
							 sizeof(a)));
		x = P("last_fill_age_s");
		printf("  %-15s %s%s", "last fill", when(x, P("last_fill_time"), a, sizeof(a)),
		       is_true(P("filling")) ? ", filling now" : "");
		if (x && strcmp(x, "null"))
			printf(": %s paths in %s ms", Q("last_fill_records"), Q("last_fill_ms"));
		printf(" (fills %s, failed %s)\n", Q("fills"), Q("fill_failures"));
		x = P("next_refresh_s");
		printf("  %-15s %s%s%s\n", "next refresh", x && strcmp(x, "null") ? "in " : "off",
		       x && strcmp(x, "null") ? x : "", x && strcmp(x, "null") ? " s" : "");
		printf("  %-15s %s paths to %s destinations\n", "cache", Q("entries"),
		       Q("destinations"));
		if (P("last_trap.trap"))
			printf("  %-15s %s about %s, %s\n", "last trap", Q("last_trap.trap"),
			       Q("last_trap.gid"), when(P("last_trap.age_s"), P("last_trap.time"), b,
							sizeof(b)));
		else
			printf("  %-15s none\n", "last trap");
	}
#undef Q
#undef P
	printf("subscriptions   %s of %s traps subscribed: %s\n",
	       or_q(sv(&v, "subscriptions.subscribed")), or_q(sv(&v, "subscriptions.wanted")),
	       is_true(sv(&v, "subscriptions.ok")) ? "ok" : "NOT OK");
	printf("doors           ");
	for (size_t i = 0; i < v.n; i++)
		if (!strncmp(v.leaf[i].key, "doors.", 6))
			printf("%s %s  ", v.leaf[i].key + 6, is_true(v.leaf[i].val) ? "up" : "off");
	printf("\n");
	free(v.leaf);
	return EXIT_OK;
}

static int cmd_status(int argc, char **argv)
{
	enum { O_JSON = 0x100 };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;

	while ((c = next_opt(argc, argv, longopts)) != -1) {
		if (c == O_JSON)
			json = true;
		else
			return c == 'h' ? EXIT_OK : EXIT_USAGE;
	}
	if (no_more(argc, argv))
		return EXIT_USAGE;
	return request("status", NULL, 0, false, json ? &print_lines :
		       &(struct sink){ .line = print_status });
}

/* --- writes --------------------------------------------------------------------------------- */

/* A command whose only options are flags without value; *flags gets the bits of those given. */
static int flag_opts(int argc, char **argv, const struct option *longopts, unsigned *flags)
{
	int c;

	*flags = 0;
	while ((c = next_opt(argc, argv, longopts)) != -1) {
		if (c == 'h')
			return -1;
		if (c == '?' || c == ':')
			return EXIT_USAGE;
		*flags |= (unsigned)c;
	}
	return no_more(argc, argv);
}

static int cmd_refresh(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 0x100 }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned f;
	int ret = flag_opts(argc, argv, longopts, &f);
	bool wait = f & 0x100;

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	return request("refresh", &(struct ctl_kv){ "wait", "1" }, wait, wait &&
		       isatty(STDERR_FILENO), &print_lines);
}

/* flush and reload: no option */
static int cmd_simple(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	unsigned f;
	int ret = flag_opts(argc, argv, longopts, &f);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	return request(current->name, NULL, 0, false, &print_lines);
}

static int cmd_delete(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dgid", required_argument, NULL, 0x100 }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dgid = NULL;
	union ibv_gid gid;
	int c;

	while ((c = next_opt(argc, argv, longopts)) != -1) {
		if (c == 'h')
			return EXIT_OK;
		if (c != 0x100 || parse_gid("--dgid", optarg, &gid))
			return EXIT_USAGE;
		dgid = optarg;
	}
	if (no_more(argc, argv))
		return EXIT_USAGE;
	if (!dgid)
		return usage_error("--dgid GID is needed");
	return request("delete", &(struct ctl_kv){ "dgid", dgid }, 1, false, &print_lines);
}

/* What the daemon refuses too, said before asking: a path a consumer could use. */
static int check_record(const struct ibv_path_record *r)
{
	static const union ibv_gid zero;

	if (!memcmp(&r->dgid, &zero, sizeof(zero)))
		return usage_error("--record: the record has no DGID");
	if (!memcmp(&r->sgid, &zero, sizeof(zero)))
		return usage_error("--record: the record has no SGID");
	if (!pr_dlid(r) || pr_dlid(r) >= 0xc000)
		return usage_error("--record: DLID %u is not a unicast LID", pr_dlid(r));
	if (!pr_mtu_bytes(pr_mtu(r)))
		return usage_error("--record: MTU code %u is not 1-5 (256-4096 bytes)", pr_mtu(r));
	if (!strcmp(pr_rate_str(pr_rate(r)), "?"))
		return usage_error("--record: rate code %u is not a known rate", pr_rate(r));
	return EXIT_OK;
}

static int cmd_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "record", required_argument, NULL, 0x100 }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ibv_path_record rec;
	const char *hex = NULL;
	int c;

	while ((c = next_opt(argc, argv, longopts)) != -1) {
		if (c == 'h')
			return EXIT_OK;
		if (c != 0x100)
			return EXIT_USAGE;
		hex = optarg;
	}
	if (no_more(argc, argv))
		return EXIT_USAGE;
	if (!hex || ctl_record_decode(hex, strlen(hex), &rec) < 0)
		return usage_error("--record wants 128 hex digits (a 64-byte PathRecord)");
	if (check_record(&rec))
		return EXIT_USAGE;
	return request("add", &(struct ctl_kv){ "rec", hex }, 1, false, &print_lines);
}

/* --- main ----------------------------------------------------------------------------------- */

static const struct command commands[] = {
	{ "path", "--dgid GID | --dlid LID [--sgid GID | --port CA:N] [options]",
	  "the paths for one request, in the SA's order",
	  "  --dgid GID, --dlid LID     the destination (one or both)\n"
	  "  --sgid GID                 the source port (default: the daemon's default port)\n"
	  "  --port CA:N                the source port by name (e.g. mlx5_0:2)\n"
	  "  --pkey P, --service-id S (--service_id), --qos-class Q (--qos_class), --sl N,\n"
	  "  --tclass N                 the request's QoS fields\n"
	  "  --sa                       ask the master SA, not the cache (and refresh it)\n"
	  "  --format text|json|saquery saquery: the \"PathRecord dump:\" block of saquery -p\n",
	  cmd_path },
	{ "dump", "[--dgid GID] [--tuple N] [--source sa|set|cli] [--format text|json|saquery]",
	  "every cached path, destination by destination in the SA's order",
	  "  --dgid GID                 only the paths to GID\n"
	  "  --tuple N                  only request kind N (the tuple= of each line)\n"
	  "  --source sa|set|cli        only paths from the SA, pushed with Set, or added\n"
	  "  --format text|json|saquery json: every field, with tuple, source, generation, age\n",
	  cmd_dump },
	{ "stats", "[--format text|json|prometheus] [--json]", "the daemon's counters",
	  "  --format prometheus        text exposition format (node_exporter's textfile\n"
	  "                             collector): localsa_* counters and gauges\n"
	  "  --json, --format json      one JSON object\n", cmd_stats },
	{ "status", "[--json]", "per port: SA reachable, SM, last fill, next refresh, traps, doors",
	  "  --json                     one JSON object\n", cmd_status },
	{ "refresh", "[--wait]", "a full refresh (one GetTable)",
	  "  --wait                     wait for it (with progress on a terminal)\n", cmd_refresh },
	{ "flush", "", "drop every cached path", "", cmd_simple },
	{ "add", "--record HEX", "cache one PathRecord (128 hex digits: its 64 wire bytes)",
	  "  --record HEX               DGID, SGID (one of the daemon's), DLID, MTU, rate set\n",
	  cmd_add },
	{ "delete", "--dgid GID", "drop every path to GID", "  --dgid GID\n", cmd_delete },
	{ "reload", "", "make localsad read its configuration again (as SIGHUP)", "", cmd_simple },
	{ NULL, NULL, NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: localsa [-s SOCKET] [--shm NAME] COMMAND [options]\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->help);
	fprintf(out,
		"global options (anywhere on the line):\n"
		"  -s, --socket SOCKET  localsad's control socket ($LOCALSA_SOCKET, else "
		DEFAULT_SOCKET ")\n"
		"  --shm NAME           the snapshot path reads ($LOCALSA_SHM, else the one the\n"
		"                       daemon names; \"none\": always ask the socket)\n"
		"  -h, --help           this text; COMMAND --help: the command's options\n"
		"  -V, --version        the version\n"
		"refresh, flush, add, delete and reload are for root and the daemon's user.\n");
}

/* Takes the global options out of argv wherever they are; returns the new argc, or -1. */
static int global_opts(int argc, char **argv, bool *help, bool *version)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (!strcmp(a, "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "-s") || !strcmp(a, "--socket") || !strcmp(a, "--shm")) {
			if (i + 1 == argc) {
				fprintf(stderr, "%s: %s wants a value\n", prog, a);
				return -1;
			}
			v = argv[++i];
		} else if (!strncmp(a, "--socket=", 9) || !strncmp(a, "--shm=", 6)) {
			v = strchr(a, '=') + 1;
		} else if (!strncmp(a, "-s", 2) && a[2]) {
			v = a + 2;
		}
		if (v) {
			*(!strncmp(a, "--shm", 5) ? &shm_name : &sock_path) = v;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			*help = true;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			*version = true;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	bool help = false, version = false;

	sock_path = getenv("LOCALSA_SOCKET");
	if (!sock_path || !*sock_path)
		sock_path = DEFAULT_SOCKET;
	argc = global_opts(argc, argv, &help, &version);
	if (argc < 0)
		return EXIT_USAGE;
	if (version) {
		printf("localsa %s\n", LOCALSA_VERSION);
		return EXIT_OK;
	}
	if (argc < 2) {
		usage(help ? stdout : stderr);
		return help ? EXIT_OK : EXIT_USAGE;
	}
	for (const struct command *c = commands; c->name; c++) {
		if (strcmp(argv[1], c->name))
			continue;
		current = c;
		if (help) {
			command_usage(stdout, c);
			return EXIT_OK;
		}
		optind = 1;
		return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
