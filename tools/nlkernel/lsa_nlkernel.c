/*
 * lsa_nlkernel - the kernel double for the netlink door: plays a node's ib_sa, which sends
 * every PathRecord query of a kernel consumer to the RDMA_NL_LS group before it asks the SA
 * (drivers/infiniband/core/sa_query.c). Builds RESOLVE requests byte for byte as the kernel
 * does, multicasts them to the node's listeners through the lab's rendezvous, judges each
 * answer as the kernel does, applies the kernel's timeout (changed by the listeners'
 * SET_TIMEOUT), and prints the PathRecord the consumer would use, or the kernel's outcome.
 *
 *   tools/lab exec --dir DIR NODE -- build/bin/lsa_nlkernel --dgid GID [options]
 *   ... lsa_nlkernel --dgids FILE [options]    (one request per GID of FILE, in turn)
 *
 * Exit: 0 every request got a path (--malformed: no malformed request answered wrongly and the
 * listener still answers); 2 some went to the SA instead (error reply, timeout, no listener);
 * 3 the listener broke the protocol (an answer the kernel misreads, rejects or cannot match,
 * an answered malformed request, or no answer after the malformed ones); 1 usage or system.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlk_kernel.h"
#include "nlk_transport.h"
#include "shim_netlink.h"
#include "wire/nl_ls.h"
#include "wire/path_rec.h"

enum { EXIT_PATHS = 0, EXIT_SYSTEM = 1, EXIT_FALLBACK = 2, EXIT_PROTOCOL = 3 };
enum format { FMT_TEXT, FMT_SAQUERY };

struct opts {
	struct nl_ls_resolve req;	/* seq filled per request */
	enum format format;
	enum nl_ls_kernel gen;
	uint64_t count, concurrency, malformed;
	uint32_t timeout_ms, drop_grace_ms, linger_ms, seq_start;
	bool summary, verbose, path_use_given;
	const char *dir;
	union ibv_gid *dgids;		/* --dgids: request i goes to dgids[i % n_dgids] */
	size_t n_dgids;
};

struct run {
	const struct opts *o;
	struct nlk_kernel k;
	struct nlk_transport t;
	unsigned rx_listener;		/* the listener of the datagram being taken */
	uint64_t done, max_inflight;
	uint64_t by_outcome[NLK_N_OUTCOMES];	/* of the valid requests */
	uint64_t dropped_answerable;
	uint32_t *rtt_us;
	size_t n_rtt;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lsa_nlkernel --dgid GID | --dgids FILE [--sgid GID] [--service-id S]\n"
		"         [--qos-class Q]\n"
		"         [--pkey P] [--tclass T] [--path-use all|unidirectional|gmp]\n"
		"         [--format saquery|text] [--count N] [--concurrency K] [options]\n"
		"  --dgids FILE             one GID a line: the requests go to each in turn (default\n"
		"                           --count: one each); outcomes print as they complete, in\n"
		"                           request order with --concurrency 1\n"
		"  --kernel current|legacy  6.1+ (default: reversible queries are ALL, up to 3 records\n"
		"                           taken) or 4.3-6.0 (reversible = GMP, the first record)\n"
		"  --path-use U             default: what the kernel sends for a reversible query\n"
		"  --device NAME --port N   the family header (default ibsim0, port 1)\n"
		"  --timeout MS             the kernel's wait before any SET_TIMEOUT (default 2000)\n"
		"  --seq-start N            the first sequence number (default 1, as after boot)\n"
		"  --malformed N            send N malformed requests (20 kinds in turn), then one valid\n"
		"  --drop-grace MS          how long a malformed request may go unanswered (default 100)\n"
		"  --linger MS              after the last outcome, count late answers this long\n"
		"  --summary                one summary line instead of one outcome per request\n"
		"  --rendezvous DIR         default $" SHIM_NL_DIR_ENV " (set by tools/lab exec)\n"
		"  --verbose                SET_TIMEOUTs taken, malformed outcomes by kind\n"
		"Exit: 0 paths; 2 the kernel would ask the SA; 3 protocol violation; 1 usage/system.\n");
}

/* --- options ---------------------------------------------------------------------- */

/* The GIDs of path, one a line (blank lines skipped): 0, or -1 with a message. */
static int load_dgids(const char *path, struct opts *o)
{
	char line[256];
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "lsa_nlkernel: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\r\n")] = '\0';
		if (!*line)
			continue;
		if (o->n_dgids == cap) {
			union ibv_gid *g = realloc(o->dgids, (cap = cap ? 2 * cap : 64) * sizeof(*g));

			if (!g)
				break;
			o->dgids = g;
		}
		if (pr_from_text_gid(line, &o->dgids[o->n_dgids]) < 0) {
			fprintf(stderr, "lsa_nlkernel: %s: '%s' is not a GID\n", path, line);
			fclose(f);
			return -1;
		}
		o->n_dgids++;
	}
	fclose(f);
	if (!o->n_dgids) {
		fprintf(stderr, "lsa_nlkernel: %s: no GID\n", path);
		return -1;
	}
	o->req.dgid = o->dgids[0];
	o->req.has |= NL_LS_HAS_DGID;
	return 0;
}

static int num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || *s == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dgid", required_argument, NULL, 'd' }, { "sgid", required_argument, NULL, 'g' },
		{ "dgids", required_argument, NULL, 'F' },
		{ "service-id", required_argument, NULL, 'S' },
		{ "qos-class", required_argument, NULL, 'q' }, { "pkey", required_argument, NULL, 'p' },
		{ "tclass", required_argument, NULL, 't' }, { "path-use", required_argument, NULL, 'u' },
		{ "format", required_argument, NULL, 'f' }, { "count", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'k' },
		{ "kernel", required_argument, NULL, 'K' }, { "device", required_argument, NULL, 'D' },
		{ "port", required_argument, NULL, 'P' }, { "timeout", required_argument, NULL, 'T' },
		{ "seq-start", required_argument, NULL, 's' },
		{ "malformed", required_argument, NULL, 'm' },
		{ "drop-grace", required_argument, NULL, 'G' }, { "linger", required_argument, NULL, 'L' },
		{ "summary", no_argument, NULL, 'Y' }, { "verbose", no_argument, NULL, 'v' },
		{ "rendezvous", required_argument, NULL, 'R' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path_use = NULL, *dgids = NULL;
	bool count_given = false;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->gen = NL_LS_KERNEL_MULTI;
	o->count = 1;
	o->concurrency = 1;
	o->timeout_ms = NL_LS_TIMEOUT_DEFAULT;
	o->drop_grace_ms = 100;
	o->seq_start = 1;
	o->req.port_num = 1;
	strcpy(o->req.device_name, "ibsim0");
	o->dir = getenv(SHIM_NL_DIR_ENV);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'd':
			bad = pr_from_text_gid(optarg, &o->req.dgid) < 0;
			o->req.has |= NL_LS_HAS_DGID;
			break;
		case 'g':
			bad = pr_from_text_gid(optarg, &o->req.sgid) < 0;
			o->req.has |= NL_LS_HAS_SGID;
			break;
		case 'S':
			bad = num(optarg, UINT64_MAX, &o->req.service_id);
			o->req.has |= NL_LS_HAS_SERVICE_ID;
			break;
		case 'q':
			bad = num(optarg, 0xfff, &v);
			o->req.qos_class = (uint16_t)v;
			o->req.has |= NL_LS_HAS_QOS_CLASS;
			break;
		case 'p':
			bad = num(optarg, 0xffff, &v);
			o->req.pkey = (uint16_t)v;
			o->req.has |= NL_LS_HAS_PKEY;
			break;
		case 't':
			bad = num(optarg, 0xff, &v);
			o->req.tclass = (uint8_t)v;
			o->req.has |= NL_LS_HAS_TCLASS;
			break;
		case 'u': path_use = optarg; break;
		case 'f':
			if (!strcmp(optarg, "saquery"))
				o->format = FMT_SAQUERY;
			else
				bad = strcmp(optarg, "text") != 0;
			break;
		case 'n':
			bad = num(optarg, 100000000, &o->count) || !o->count;
			count_given = true;
			break;
		case 'F': dgids = optarg; break;
		case 'k': bad = num(optarg, 65536, &o->concurrency) || !o->concurrency; break;
		case 'K':
			if (!strcmp(optarg, "legacy"))
				o->gen = NL_LS_KERNEL_LEGACY;
			else
				bad = strcmp(optarg, "current") != 0;
			break;
		case 'D':
			bad = strlen(optarg) >= LS_DEVICE_NAME_MAX;
			if (!bad)
				strcpy(o->req.device_name, optarg);
			break;
		case 'P': bad = num(optarg, 255, &v); o->req.port_num = (uint8_t)v; break;
		case 'T': bad = num(optarg, UINT32_MAX, &v); o->timeout_ms = (uint32_t)v; break;
		case 's': bad = num(optarg, UINT32_MAX, &v); o->seq_start = (uint32_t)v; break;
		case 'm': bad = num(optarg, 100000000, &o->malformed); break;
		case 'G': bad = num(optarg, 600000, &v); o->drop_grace_ms = (uint32_t)v; break;
		case 'L': bad = num(optarg, 600000, &v); o->linger_ms = (uint32_t)v; break;
		case 'Y': o->summary = true; break;
		case 'v': o->verbose = true; break;
		case 'R': o->dir = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		if (bad) {
			fprintf(stderr, "lsa_nlkernel: %s: bad value '%s'\n", argv[optind - 1], optarg);
			return -1;
		}
	}
	if (dgids && load_dgids(dgids, o) < 0)
		return -1;
	if (dgids && !count_given)
		o->count = o->n_dgids;
	if (optind < argc || !(o->req.has & NL_LS_HAS_DGID)) {
		usage(stderr);
		return -1;
	}
	if (!o->dir || !*o->dir) {
		fprintf(stderr, "lsa_nlkernel: no rendezvous: run under tools/lab exec, or give "
				"--rendezvous DIR\n");
		return -1;
	}
	o->req.path_use = nl_ls_kernel_path_use(o->gen, true);
	if (path_use) {
		if (!strcmp(path_use, "all"))
			o->req.path_use = LS_RESOLVE_PATH_USE_ALL;
		else if (!strcmp(path_use, "unidirectional"))
			o->req.path_use = LS_RESOLVE_PATH_USE_UNIDIRECTIONAL;
		else if (!strcmp(path_use, "gmp"))
			o->req.path_use = LS_RESOLVE_PATH_USE_GMP;
		else {
			fprintf(stderr, "lsa_nlkernel: --path-use: all, unidirectional or gmp\n");
			return -1;
		}
	}
	return 0;
}

/* --- malformed requests ------------------------------------------------------------- */

/* Damages a whole RESOLVE (every attribute, 160 bytes) in one of these ways. */
enum kind {
	K_TRUNCATED, K_HDR_LEN_SHORT, K_LEN_UNALIGNED, K_LEN_OVERRUN, K_OP_IP_RESOLVE,
	K_OP_UNKNOWN, K_CLIENT_OTHER, K_NOT_REQUEST, K_MANDATORY_UNKNOWN, K_DUPLICATE,
	K_ATTR_SIZE, K_ATTR_OVERRUN, K_ATTR_ZERO, K_NO_DGID, K_NAME_NO_NUL, K_OVERSIZED,
	K_MISALIGNED, K_RUNT, K_QOS_WIDE, K_OP_SET_TIMEOUT, K_N
};

static const char *const kind_name[K_N] = {
	"truncated", "nlmsg_len<16", "nlmsg_len%4", "nlmsg_len>datagram", "op IP_RESOLVE",
	"op unknown", "client NLDEV", "no NLM_F_REQUEST", "unknown mandatory attr", "duplicate DGID",
	"PKey nla_len 8", "nla_len past the end", "nla_len 0", "no DGID", "device name without NUL",
	"nlmsg_len over 4096", "TClass unpadded", "7-byte datagram", "QoS class 0x1000",
	"op SET_TIMEOUT",
};

/* Offsets in the 160-byte request: the attributes in the kernel's order. */
enum { A_SID = 84, A_DGID = 96, A_SGID = 116, A_TCLASS = 136, A_PKEY = 144, A_QOS = 152,
       FULL_LEN = 160, OVERSIZED_LEN = 8192 };

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }

/* Builds malformed request kind into buf (OVERSIZED_LEN bytes); returns the datagram length.
 * *answerable: a responder can read a local-service request header, so it owes an answer. */
static size_t malformed_build(enum kind kind, const struct nl_ls_resolve *base, uint32_t seq,
			      uint8_t *buf, bool *answerable)
{
	struct nl_ls_resolve r = *base;
	size_t len = FULL_LEN;

	r.seq = seq;
	r.has = NL_LS_HAS_SERVICE_ID | NL_LS_HAS_DGID | NL_LS_HAS_SGID | NL_LS_HAS_TCLASS |
		NL_LS_HAS_PKEY | NL_LS_HAS_QOS_CLASS;
	if (!(base->has & NL_LS_HAS_SGID))
		r.sgid = base->dgid;
	memset(buf, 0, OVERSIZED_LEN);
	nl_ls_resolve_encode(buf, OVERSIZED_LEN, &r);
	*answerable = true;
	switch (kind) {
	case K_TRUNCATED: len = 100; break;
	case K_HDR_LEN_SHORT: put32(buf, 8); *answerable = false; break;
	case K_LEN_UNALIGNED: put32(buf, FULL_LEN + 1); len = FULL_LEN + 4; break;
	case K_LEN_OVERRUN: put32(buf, FULL_LEN + 64); break;
	case K_OP_IP_RESOLVE:
		put16(buf + 4, RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_IP_RESOLVE));
		break;
	case K_OP_UNKNOWN: put16(buf + 4, RDMA_NL_GET_TYPE(RDMA_NL_LS, 0x3ff)); break;
	case K_CLIENT_OTHER:
		put16(buf + 4, RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, 1));
		*answerable = false;
		break;
	case K_NOT_REQUEST: put16(buf + 6, 0); *answerable = false; break;
	case K_MANDATORY_UNKNOWN: put16(buf + A_QOS + 2, RDMA_NLA_F_MANDATORY | 0x50); break;
	case K_DUPLICATE: memcpy(buf + A_SGID + 2, buf + A_DGID + 2, 2); break;
	case K_ATTR_SIZE: put16(buf + A_PKEY, 8); break;
	case K_ATTR_OVERRUN: put16(buf + A_PKEY, 200); break;
	case K_ATTR_ZERO: put16(buf + A_SID, 0); break;
	case K_NO_DGID: put16(buf + A_DGID + 2, 0x50); break;
	case K_NAME_NO_NUL: memset(buf + 16, 'a', LS_DEVICE_NAME_MAX); break;
	case K_OVERSIZED:
		for (size_t off = FULL_LEN; off < OVERSIZED_LEN; off += 8) {
			put16(buf + off, 8);
			put16(buf + off + 2, 0x51);
		}
		put32(buf, OVERSIZED_LEN);
		len = OVERSIZED_LEN;
		break;
	case K_MISALIGNED:
		memmove(buf + A_TCLASS + 5, buf + A_PKEY, 16);
		put32(buf, FULL_LEN - 4);
		len = FULL_LEN - 4;
		break;
	case K_RUNT: len = 7; *answerable = false; break;
	case K_QOS_WIDE: put16(buf + A_QOS + 4, 0x1000); break;
	case K_OP_SET_TIMEOUT:
		put16(buf + 4, RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_SET_TIMEOUT));
		*answerable = false;	/* only responders send it: a responder ignores it */
		break;
	case K_N: break;
	}
	return len;
}

/* --- the run ------------------------------------------------------------------------ */

static void print_outcome(struct run *run, size_t idx)
{
	const struct nlk_req *r = &run->k.reqs[idx];
	char out[4096];

	if (r->outcome != NLK_PATH) {
		if (run->o->count > 1)
			printf("seq %" PRIu32 ": ", nlk_kernel_seq(&run->k, idx));
		printf("%s\n", nlk_outcome_str(r->outcome));
		return;
	}
	if (run->o->format == FMT_SAQUERY) {
		pr_format_saquery(&r->chosen, out, sizeof(out));
		fputs(out, stdout);
		return;
	}
	pr_format_text(&r->chosen, out, sizeof(out));
	if (run->o->count > 1)
		printf("seq %" PRIu32 ": ", nlk_kernel_seq(&run->k, idx));
	printf("path: %s (%u record%s taken)\n", out, r->n_taken, r->n_taken == 1 ? "" : "s");
}

static void on_done(void *arg, size_t idx)
{
	struct run *run = arg;
	const struct nlk_req *r = &run->k.reqs[idx];

	run->done++;
	if (r->malformed) {
		if (r->outcome == NLK_DROPPED && r->answerable)
			run->dropped_answerable++;
		return;
	}
	run->by_outcome[r->outcome]++;
	if (r->outcome == NLK_PATH || r->outcome == NLK_ERROR_REPLY)
		run->rtt_us[run->n_rtt++] = (uint32_t)(r->done_us - r->sent_us);
	if (!run->o->summary)
		print_outcome(run, idx);
}

static void on_ack(void *arg, const void *msg, size_t len)
{
	struct run *run = arg;

	nlk_transport_unicast(&run->t, run->rx_listener, msg, len);
}

static void on_rx(void *arg, unsigned listener, const uint8_t *buf, size_t len)
{
	struct run *run = arg;
	uint32_t before = run->k.timeout_ms;
	uint64_t set_before = run->k.c.set_timeouts;

	run->rx_listener = listener;
	nlk_kernel_receive(&run->k, buf, len, now_us(), listener < NLK_MAX_LISTENERS ? on_ack : NULL,
			   run);
	if (run->o->verbose && run->k.c.set_timeouts != set_before)
		fprintf(stderr, "lsa_nlkernel: SET_TIMEOUT%s: %" PRIu32 " ms (was %" PRIu32 ")\n",
			listener < NLK_MAX_LISTENERS ? "" : " (kept from before)", run->k.timeout_ms,
			before);
}

/* Sends request number i (malformed ones first); completes it at once if nobody listens. */
static void send_one(struct run *run, uint64_t i, uint8_t *buf)
{
	const struct opts *o = run->o;
	bool malformed = i < o->malformed, answerable = false;
	uint64_t now = now_us();
	size_t idx, len;
	int n;

	idx = nlk_kernel_add(&run->k, o->req.path_use, malformed, false);
	if (malformed) {
		len = malformed_build((enum kind)(i % K_N), &o->req, nlk_kernel_seq(&run->k, idx), buf,
				      &answerable);
		run->k.reqs[idx].answerable = answerable;
	} else {
		struct nl_ls_resolve r = o->req;

		r.seq = nlk_kernel_seq(&run->k, idx);
		if (o->n_dgids)
			r.dgid = o->dgids[(i - o->malformed) % o->n_dgids];
		n = nl_ls_resolve_encode(buf, OVERSIZED_LEN, &r);
		len = n > 0 ? (size_t)n : 0;
		/* the two alignment bytes the kernel leaves uninitialised: never zero here */
		buf[NLMSG_HDRLEN + sizeof(struct rdma_ls_resolve_header)] = 0xa5;
		buf[NLMSG_HDRLEN + sizeof(struct rdma_ls_resolve_header) + 1] = 0xa5;
	}
	/* send_mad(): no listener, no netlink request (rdma_nl_chk_listeners()) */
	if (!nlk_transport_scan(&run->t, now, false) && !nlk_transport_scan(&run->t, now, true)) {
		nlk_kernel_finish(&run->k, idx, NLK_NO_LISTENER, now);
		return;
	}
	if (!nlk_transport_multicast(&run->t, buf, len)) {
		nlk_kernel_finish(&run->k, idx, NLK_NOT_DELIVERED, now);
		return;
	}
	nlk_kernel_wait(&run->k, idx, now, o->drop_grace_ms);
	if (run->k.n_inflight > run->max_inflight)
		run->max_inflight = run->k.n_inflight;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t percentile(const uint32_t *v, size_t n, unsigned p)
{
	return n ? v[(n - 1) * p / 100] : 0;
}

static void print_summary(struct run *run, uint64_t elapsed_us)
{
	const struct nlk_counters *c = &run->k.c;
	const uint64_t *b = run->by_outcome;

	qsort(run->rtt_us, run->n_rtt, sizeof(*run->rtt_us), cmp_u32);
	printf("requests %" PRIu64 " paths %" PRIu64 " error-replies %" PRIu64 " timeouts %" PRIu64
	       " no-listener %" PRIu64 " not-delivered %" PRIu64 " rejected %" PRIu64
	       " no-usable %" PRIu64 " no-gmp %" PRIu64 " short-attr %" PRIu64
	       " unknown-seq %" PRIu64 " duplicates %" PRIu64 " late %" PRIu64 " refused %" PRIu64
	       " max-in-flight %" PRIu64 " timeout-ms %" PRIu32 " elapsed-ms %" PRIu64
	       " rtt-p50-us %" PRIu32 " rtt-p99-us %" PRIu32 "\n",
	       run->o->count, b[NLK_PATH], b[NLK_ERROR_REPLY], b[NLK_TIMEOUT], b[NLK_NO_LISTENER],
	       b[NLK_NOT_DELIVERED], b[NLK_REJECTED], b[NLK_NO_USABLE], b[NLK_NO_GMP],
	       b[NLK_SHORT_ATTR], c->unknown, c->duplicate, c->late, c->refused, run->max_inflight,
	       run->k.timeout_ms, elapsed_us / 1000, percentile(run->rtt_us, run->n_rtt, 50),
	       percentile(run->rtt_us, run->n_rtt, 99));
}

/* Outcomes of the malformed requests, by kind with --verbose. */
static void print_malformed(struct run *run)
{
	const struct opts *o = run->o;
	uint64_t err = 0, dropped = 0, bad = 0;

	for (uint64_t i = 0; i < o->malformed; i++) {
		enum nlk_outcome oc = run->k.reqs[i].outcome;

		err += oc == NLK_ERROR_REPLY;
		dropped += oc == NLK_DROPPED || oc == NLK_NO_LISTENER || oc == NLK_NOT_DELIVERED;
		bad += oc == NLK_ANSWERED_BADLY;
	}
	printf("malformed %" PRIu64 " error-replies %" PRIu64 " dropped %" PRIu64
	       " dropped-answerable %" PRIu64 " answered-otherwise %" PRIu64 "\n",
	       o->malformed, err, dropped, run->dropped_answerable, bad);
	if (!o->verbose)
		return;
	for (unsigned k = 0; k < K_N && k < o->malformed; k++) {
		uint64_t e = 0, d = 0, w = 0;

		for (uint64_t i = k; i < o->malformed; i += K_N) {
			enum nlk_outcome oc = run->k.reqs[i].outcome;

			e += oc == NLK_ERROR_REPLY;
			d += oc == NLK_DROPPED;
			w += oc == NLK_ANSWERED_BADLY;
		}
		fprintf(stderr, "  %-26s error-replies %" PRIu64 " dropped %" PRIu64
			" answered-otherwise %" PRIu64 "\n", kind_name[k], e, d, w);
	}
}

static int exit_status(const struct run *run)
{
	const struct nlk_counters *c = &run->k.c;
	const uint64_t *b = run->by_outcome;
	bool fallback = false;

	if (b[NLK_NO_USABLE] || b[NLK_NO_GMP] || b[NLK_SHORT_ATTR] || c->unknown || c->duplicate ||
	    c->refused)
		return EXIT_PROTOCOL;
	for (size_t i = 0; i < run->k.n_reqs; i++) {
		const struct nlk_req *r = &run->k.reqs[i];

		if (r->malformed) {
			if (r->outcome == NLK_ANSWERED_BADLY)
				return EXIT_PROTOCOL;
			fallback |= r->outcome == NLK_NO_LISTENER || r->outcome == NLK_NOT_DELIVERED;
		} else if (run->o->malformed) {
			/* after the malformed ones, any answer shows the listener still answers */
			if (r->outcome == NLK_TIMEOUT)
				return EXIT_PROTOCOL;
			fallback |= r->outcome != NLK_PATH && r->outcome != NLK_ERROR_REPLY;
		} else {
			fallback |= r->outcome != NLK_PATH;
		}
	}
	return fallback ? EXIT_FALLBACK : EXIT_PATHS;
}

int main(int argc, char **argv)
{
	static uint8_t buf[OVERSIZED_LEN];
	struct opts o;
	struct run run;
	uint64_t total, next = 0, t0;
	int ret;

	if (parse_opts(argc, argv, &o) < 0)
		return EXIT_SYSTEM;
	memset(&run, 0, sizeof(run));
	run.o = &o;
	total = o.malformed + o.count;
	run.rtt_us = calloc(total, sizeof(*run.rtt_us));
	if (!run.rtt_us || nlk_kernel_init(&run.k, o.gen, o.timeout_ms, o.seq_start, total, on_done,
					   &run) < 0) {
		fprintf(stderr, "lsa_nlkernel: out of memory\n");
		return EXIT_SYSTEM;
	}
	ret = nlk_transport_open(&run.t, o.dir);
	if (ret < 0) {
		fprintf(stderr, "lsa_nlkernel: %s: %s\n", o.dir, strerror(-ret));
		return EXIT_SYSTEM;
	}
	/* connect first, then take the kernel state kept before: a SET_TIMEOUT is seen either way */
	nlk_transport_scan(&run.t, now_us(), true);
	nlk_transport_inbox(&run.t, on_rx, &run);

	t0 = now_us();
	while (run.done < total) {
		int64_t wait_us;

		while (next < total && run.k.n_inflight < o.concurrency)
			send_one(&run, next++, buf);
		if (run.done == total)
			break;
		wait_us = nlk_kernel_next_us(&run.k, now_us());
		if (wait_us < 0)
			continue;
		ret = nlk_transport_poll(&run.t, (int)((wait_us + 999) / 1000), on_rx, &run);
		if (ret < 0) {
			fprintf(stderr, "lsa_nlkernel: epoll: %s\n", strerror(-ret));
			return EXIT_SYSTEM;
		}
		nlk_kernel_expire(&run.k, now_us());
	}
	for (uint64_t end = now_us() + (uint64_t)o.linger_ms * 1000, n; now_us() < end;) {
		n = end - now_us();
		if (nlk_transport_poll(&run.t, (int)((n + 999) / 1000), on_rx, &run) < 0)
			break;
	}
	if (o.malformed)
		print_malformed(&run);
	if (o.summary)
		print_summary(&run, now_us() - t0);
	if (run.k.c.unknown || run.k.c.duplicate || run.k.c.refused)
		fprintf(stderr, "lsa_nlkernel: answers the kernel would not match: unknown seq %" PRIu64
			", duplicates %" PRIu64 ", flagged NLM_F_REQUEST %" PRIu64 "\n",
			run.k.c.unknown, run.k.c.duplicate, run.k.c.refused);
	ret = exit_status(&run);
	fflush(stdout);
	nlk_transport_close(&run.t);
	nlk_kernel_fini(&run.k);
	free(run.rtt_us);
	free(o.dgids);
	return ret;
}
