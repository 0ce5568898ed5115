/*
 * localsa - the operator's CLI for localsad: path lookups, dump, stats,
 * refresh, flush, add, delete. It validates what it can before asking, and
 * turns every daemon error into one clear line and a non-zero exit code.
 * `path` goes through liblocalsa, as applications do: a hit is read from the
 * daemon's shared-memory snapshot, anything else is asked of the socket.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "localsa.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

#define DEFAULT_SOCKET "/run/localsa/localsa.sock"

enum { EXIT_OK = CTL_EXIT_OK, EXIT_FAIL = CTL_EXIT_FAIL, EXIT_USAGE = CTL_EXIT_USAGE };
#define REPLY_LINE_MAX (1 << 20)	/* the stats JSON is one line */
#define REPLY_LINES_MAX UINT32_MAX	/* a dump has a line per cached path: no memory kept */

static const char *prog = "localsa";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: localsa [-s SOCKET] [--shm NAME] COMMAND [options]\n"
		"  path --dgid GID | --dlid LID [--sgid GID] [--pkey P] [--service-id S]\n"
		"       [--qos-class Q] [--sl N] [--tclass N] [--sa] [--format text|json|saquery]\n"
		"  dump [--format text|json|saquery]   every cached path\n"
		"  stats [--json]                      counters\n"
		"  refresh [--wait]                    full refresh (one GetTable)\n"
		"  flush                               drop every cached path\n"
		"  add --record HEX                    cache one PathRecord (128 hex digits)\n"
		"  delete --dgid GID                   drop every path to GID\n"
		"The socket defaults to $LOCALSA_SOCKET or " DEFAULT_SOCKET ".\n"
		"path reads the daemon's snapshot (--shm NAME, $LOCALSA_SHM, else the one the\n"
		"daemon names; \"none\": always ask the socket).\n");
}

static int connect_daemon(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "%s: cannot reach localsad at %s: %s\n", prog, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* What to do with a reply's lines: begin once "OK n" arrived, line for each of the n, end after
 * the last; each returns an exit status, non-zero to stop. Any may be NULL. */
struct sink {
	int (*begin)(void *arg);
	int (*line)(void *arg, char *line);
	int (*end)(void *arg);
	void *arg;
};

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
 * Sends one request and reads its reply as it arrives, handing the lines to sink; an ERR reply
 * is printed as "localsa: WHAT: message". progress: a spinner with the elapsed time while
 * waiting (on a terminal). Returns the exit status.
 */
static int request(const char *sock, const char *cmd, const struct ctl_kv *args, size_t n,
		   const char *what, bool progress, const struct sink *sink)
{
	static char line[REPLY_LINE_MAX];
	char req[CTL_MAX_LINE + 1], buf[65536];
	struct timespec t0, t;
	struct ctl_reply rr;
	size_t off = 0, got = 0;
	int fd, len, ret = EXIT_OK;

	len = ctl_request_encode(req, sizeof(req), cmd, args, n);
	if (len < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(-len));
		return EXIT_USAGE;
	}
	fd = connect_daemon(sock);
	if (fd < 0)
		return EXIT_FAIL;
	if ((ret = send_all(fd, req, (size_t)len)) < 0) {
		fprintf(stderr, "%s: send: %s\n", prog, strerror(-ret));
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
				fprintf(stderr, "%s: the daemon closed the connection without a complete "
					"reply\n", prog);
				ret = EXIT_FAIL;
				break;
			}
			off = 0;
			got = (size_t)k;
		}
		k = ctl_reply_feed(&rr, buf + off, got - off, &ev);
		if (k < 0) {
			fprintf(stderr, "%s: malformed reply from the daemon\n", prog);
			ret = EXIT_FAIL;
			break;
		}
		off += (size_t)k;
		if (ev == CTL_REPLY_STATUS && ctl_reply_status(&rr) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, what, ctl_reply_message(&rr));
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

enum format { FMT_TEXT, FMT_JSON, FMT_SAQUERY };

static int parse_format(const char *s, enum format *f)
{
	if (!strcmp(s, "text"))
		*f = FMT_TEXT;
	else if (!strcmp(s, "json"))
		*f = FMT_JSON;
	else if (!strcmp(s, "saquery"))
		*f = FMT_SAQUERY;
	else
		return -1;
	return 0;
}

/* Prints the n-th record of a list; prefix (dump's "tuple=... ", may be empty) leads text lines. */
static void print_record(const struct ibv_path_record *rec, enum format fmt, size_t n,
			 const char *prefix, int prefix_len)
{
	char out[4096];

	switch (fmt) {
	case FMT_SAQUERY:
		pr_format_saquery(rec, out, sizeof(out));
		fputs(out, stdout);
		break;
	case FMT_JSON:
		pr_format_json(rec, out, sizeof(out));
		printf("%s%s", n ? ",\n " : "", out);
		break;
	case FMT_TEXT:
		pr_format_text(rec, out, sizeof(out));
		if (prefix_len)
			printf("%.*s  %s\n", prefix_len, prefix, out);
		else
			printf("%s\n", out);
		break;
	}
}

/* A dump, line by line: each line's record in a format, text lines after their metadata. */
struct dump_out {
	enum format fmt;
	size_t n;
};

static int dump_begin(void *arg)
{
	struct dump_out *d = arg;

	if (d->fmt == FMT_JSON)
		printf("[");
	return EXIT_OK;
}

static int dump_line(void *arg, char *line)
{
	struct dump_out *d = arg;
	struct ibv_path_record rec;
	size_t meta;

	if (ctl_dump_decode(line, &rec, &meta) < 0) {
		fprintf(stderr, "%s: malformed record from the daemon\n", prog);
		return EXIT_FAIL;
	}
	print_record(&rec, d->fmt, d->n++, line, (int)meta);
	return EXIT_OK;
}

static int dump_end(void *arg)
{
	struct dump_out *d = arg;

	if (d->fmt == FMT_JSON)
		printf("]\n");
	return EXIT_OK;
}

static void print_paths(const struct ibv_path_record *recs, size_t n, enum format fmt)
{
	if (fmt == FMT_JSON)
		printf("[");
	for (size_t i = 0; i < n; i++)
		print_record(&recs[i], fmt, i, "", 0);
	if (fmt == FMT_JSON)
		printf("]\n");
}

static int check_gid(const char *opt, const char *s)
{
	union ibv_gid gid;

	if (pr_from_text_gid(s, &gid) < 0) {
		fprintf(stderr, "%s: %s: '%s' is not a GID (e.g. fe80::2:c903:0:1 or 0x0002c90300000001)\n",
			prog, opt, s);
		return -1;
	}
	return 0;
}

static int check_num(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (ctl_parse_u64(s, max, &v) < 0) {
		fprintf(stderr, "%s: %s: '%s' is not a number in 0..%llu\n", prog, opt, s,
			(unsigned long long)max);
		return -1;
	}
	return 0;
}

/* liblocalsa's errors in the words of the error table; the exit code. */
static int path_error(int err, const char *sock)
{
	const char *text = ctl_err_text(err);

	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
		/* The library reports a missing socket as refused: say which it is. */
		fprintf(stderr, "%s: cannot reach localsad at %s: %s\n", prog, sock,
			access(sock, F_OK) ? "no such socket (is localsad running?)" : strerror(-err));
		break;
	case -EACCES:
		fprintf(stderr, "%s: path: %s: permission denied (the socket's mode)\n", prog, sock);
		break;
	default:
		fprintf(stderr, "%s: path: %s\n", prog, text ? text : strerror(-err));
	}
	return ctl_err_exit(err);
}

static int cmd_path(const char *sock, const char *shm, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dgid", required_argument, NULL, 'd' }, { "sgid", required_argument, NULL, 'g' },
		{ "dlid", required_argument, NULL, 'l' }, { "pkey", required_argument, NULL, 'p' },
		{ "service-id", required_argument, NULL, 'S' },
		{ "qos-class", required_argument, NULL, 'q' }, { "sl", required_argument, NULL, 'L' },
		{ "tclass", required_argument, NULL, 't' }, { "sa", no_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 },
	};
	struct ibv_path_record paths[128];
	struct localsa_query q = { 0 };
	struct localsa *h = NULL;
	enum format fmt = FMT_TEXT;
	uint64_t v;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
		case 'g':
			if (check_gid(c == 'd' ? "--dgid" : "--sgid", optarg) < 0)
				return EXIT_USAGE;
			pr_from_text_gid(optarg, c == 'd' ? &q.dgid : &q.sgid);
			q.flags |= c == 'd' ? LOCALSA_Q_DGID : LOCALSA_Q_SGID;
			break;
#define NUM(opt, max, field, flag)                                       \
			if (check_num(opt, optarg, max) < 0)             \
				return EXIT_USAGE;                       \
			ctl_parse_u64(optarg, max, &v);                  \
			q.field = (__typeof__(q.field))v;                \
			q.flags |= flag;                                 \
			break;
		case 'l':
			NUM("--dlid", 0xbfff, dlid, LOCALSA_Q_DLID)
		case 'p':
			NUM("--pkey", 0xffff, pkey, LOCALSA_Q_PKEY)
		case 'S':
			NUM("--service-id", UINT64_MAX, service_id, LOCALSA_Q_SERVICE_ID)
		case 'q':
			NUM("--qos-class", 0xfff, qos_class, LOCALSA_Q_QOS_CLASS)
		case 'L':
			NUM("--sl", 15, sl, LOCALSA_Q_SL)
		case 't':
			NUM("--tclass", 255, tclass, LOCALSA_Q_TCLASS)
#undef NUM
		case 'a':
			q.flags |= LOCALSA_Q_SA;
			break;
		case 'f':
			if (parse_format(optarg, &fmt) < 0) {
				fprintf(stderr, "%s: --format: '%s' is not text, json or saquery\n", prog, optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !(q.flags & (LOCALSA_Q_DGID | LOCALSA_Q_DLID))) {
		fprintf(stderr, "%s: path: %s\n", prog, optind != argc ? "unexpected argument" :
			"a destination is needed: --dgid GID or --dlid LID");
		return EXIT_USAGE;
	}
	if (q.flags & LOCALSA_Q_DLID && !q.dlid) {
		fprintf(stderr, "%s: path: dlid 0 is not a valid LID\n", prog);
		return EXIT_USAGE;
	}
	ret = localsa_open(sock, shm, &h);
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-ret));
		return EXIT_FAIL;
	}
	ret = localsa_resolve_all(h, &q, paths, sizeof(paths) / sizeof(paths[0]));
	localsa_close(h);
	if (ret < 0)
		return path_error(ret, sock);
	print_paths(paths, (size_t)ret < sizeof(paths) / sizeof(paths[0]) ? (size_t)ret :
			   sizeof(paths) / sizeof(paths[0]), fmt);
	return EXIT_OK;
}

/*
 * Prints the daemon's flat stats JSON (one level of nesting) as aligned
 * "name value" lines; nested members become "outer.inner".
 */
static void print_stats(const char *json)
{
	char key[64], outer[64] = "";
	const char *p = json;

	while ((p = strchr(p, '"'))) {
		size_t n = strcspn(p + 1, "\"");
		const char *v;

		snprintf(key, sizeof(key), "%.*s", (int)n, p + 1);
		v = p + 1 + n + 1;
		v += strspn(v, ": ");
		if (*v == '{') {
			snprintf(outer, sizeof(outer), "%s", key);
			p = v + 1;
			continue;
		}
		n = strcspn(v, ",}");
		printf("%s%s%-*s %.*s\n", outer, *outer ? "." : "",
		       (int)(*outer ? 28 - strlen(outer) - 1 : 28), key, (int)n, v);
		p = v + n;
		if (*p == '}' && *outer) {
			outer[0] = '\0';
			p++;
		}
	}
}

static int print_line(void *arg, char *line)
{
	(void)arg;
	puts(line);
	return EXIT_OK;
}

static int print_stats_line(void *arg, char *line)
{
	(void)arg;
	print_stats(line);
	return EXIT_OK;
}

static const struct sink print_lines = { .line = print_line };

int main(int argc, char **argv)
{
	const char *sock = getenv("LOCALSA_SOCKET");
	const char *shm = NULL;	/* liblocalsa: $LOCALSA_SHM, else ask the daemon */
	const char *cmd;
	int i = 1;

	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	while (i < argc && argv[i][0] == '-') {
		if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc) {
			sock = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "--shm") && i + 1 < argc) {
			shm = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "path"))
		return cmd_path(sock, shm, argc, argv);
	if (!strcmp(cmd, "stats")) {
		bool json = argc == 2 && !strcmp(argv[1], "--json");

		if (argc > 2 || (argc == 2 && !json))
			goto bad_args;
		return request(sock, "stats", NULL, 0, "stats", false,
			       json ? &print_lines : &(struct sink){ .line = print_stats_line });
	}
	if (!strcmp(cmd, "dump")) {
		struct dump_out d = { FMT_TEXT, 0 };

		if (argc == 3 && !strcmp(argv[1], "--format")) {
			if (parse_format(argv[2], &d.fmt) < 0)
				goto bad_args;
		} else if (argc != 1) {
			goto bad_args;
		}
		return request(sock, "dump", NULL, 0, "dump", false,
			       &(struct sink){ dump_begin, dump_line, dump_end, &d });
	}
	if (!strcmp(cmd, "refresh")) {
		bool wait = argc == 2 && !strcmp(argv[1], "--wait");

		if (argc > 2 || (argc == 2 && !wait))
			goto bad_args;
		return request(sock, "refresh", &(struct ctl_kv){ "wait", "1" }, wait, "refresh",
			       wait && isatty(STDERR_FILENO), &print_lines);
	}
	if (!strcmp(cmd, "flush")) {
		if (argc != 1)
			goto bad_args;
		return request(sock, "flush", NULL, 0, "flush", false, &(struct sink){ 0 });
	}
	if (!strcmp(cmd, "delete") || !strcmp(cmd, "add")) {
		bool del = !strcmp(cmd, "delete");
		struct ibv_path_record rec;

		if (argc != 3 || strcmp(argv[1], del ? "--dgid" : "--record"))
			goto bad_args;
		if (del && check_gid("--dgid", argv[2]) < 0)
			return EXIT_USAGE;
		if (!del && ctl_record_decode(argv[2], strlen(argv[2]), &rec) < 0) {
			fprintf(stderr, "%s: --record wants 128 hex digits (a 64-byte PathRecord)\n", prog);
			return EXIT_USAGE;
		}
		return request(sock, cmd, &(struct ctl_kv){ del ? "dgid" : "rec", argv[2] }, 1, cmd,
			       false, del ? &print_lines : &(struct sink){ 0 });
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage(stderr);
	return EXIT_USAGE;
bad_args:
	fprintf(stderr, "%s: %s: bad arguments\n", prog, cmd);
	usage(stderr);
	return EXIT_USAGE;
}
