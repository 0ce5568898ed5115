/*
 * bench_sa_load - the SA's load when many nodes start an all-to-all job, emulated from one
 * simulator client.
 *
 * The SA answers a PathRecord query for any SGID, whoever sends it, so one process can send
 * exactly the queries that nodes FILE[first .. first+count) would send at start-up:
 *   get       the status quo: each node asks one Get PathRecord (SGID = node, DGID = dest) per
 *             other node of FILE, as ibacm, IPoIB and applications do on a miss
 *   gettable  localsa: each node's daemon asks one GetTable PathRecord (SGID = node only)
 *   allpairs  localsa's distributor: one GetTable with no component at all (every pair)
 * with `window` queries in flight (a fabric of N nodes has up to N in flight at once; the
 * window stands for that concurrency). Every answer is checked: a Get's record has the DGID
 * asked for; a GetTable's records start at the node and cover every node of FILE. Nothing is
 * cached: an answer is counted and dropped.
 *
 * Prints one line of key=value (and one per run with --repeat):
 *   mode= sources= queries= answered= failed= wrong= records= start_ns= end_ns= ms= pid=
 * start/end are CLOCK_REALTIME, so bench/run can merge several clients started together
 * (--start-at). The shim's per-process counters (LSA_SHIM_STATS) count the same queries
 * independently.
 *
 * usage: bench_sa_load --nodes FILE --mode get|gettable|allpairs [--first I] [--count C]
 *                      [--window W] [--lid LID] [--repeat R] [--start-at WALL_NS]
 *                      [--max-seconds T] [--timeout MS]
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/sa.h>

#include "bench_util.h"
#include "lab_mad.h"
#include "wire/path_rec.h"

_Static_assert(sizeof(struct ibv_path_record) == LAB_PR_LEN, "PathRecord wire size");

enum mode { MODE_GET, MODE_GETTABLE, MODE_ALLPAIRS };

struct load {
	enum mode mode;
	const struct bench_node *nodes;
	size_t n_nodes, first, count;
	uint64_t prefix;		/* subnet prefix, network order */
	uint64_t *sorted_guids;		/* the nodes' GUIDs, sorted: coverage checks */
	uint8_t *seen;			/* per sorted GUID, one table's coverage */
	uint16_t lid;			/* where the queries go */
	unsigned window;
	int timeout_ms;
	uint64_t max_ns;
};

struct tally {
	uint64_t queries, answered, failed, wrong, records, dup;
	uint64_t start_ns, end_ns;	/* wall clock */
	bool truncated;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t total_queries(const struct load *ld)
{
	switch (ld->mode) {
	case MODE_GET:
		return (uint64_t)ld->count * (ld->n_nodes - 1);
	case MODE_GETTABLE:
		return ld->count;
	default:
		return 1;
	}
}

/* Query seq's source node and, for a Get, its destination (skipping the source itself). */
static void query_of(const struct load *ld, uint64_t seq, size_t *src, size_t *dst)
{
	*src = ld->first;
	*dst = 0;
	if (ld->mode == MODE_GET) {
		*src = ld->first + seq / (ld->n_nodes - 1);
		*dst = seq % (ld->n_nodes - 1);
		if (*dst >= *src)
			(*dst)++;
	} else if (ld->mode == MODE_GETTABLE) {
		*src = ld->first + seq;
	}
}

static void send_query(struct lab_port *p, const struct load *ld, uint32_t tid, uint64_t seq)
{
	struct ibv_path_record q;
	union ibv_gid g;
	uint64_t mask = 0;
	uint8_t method = ld->mode == MODE_GET ? UMAD_METHOD_GET : UMAD_SA_METHOD_GET_TABLE;
	size_t src, dst;
	void *req;

	query_of(ld, seq, &src, &dst);
	memset(&q, 0, sizeof(q));
	if (ld->mode != MODE_ALLPAIRS) {
		g = bench_node_gid(ld->prefix, ld->nodes[src].guid);
		pr_set_sgid(&q, &g);
		mask |= PR_CM_SGID;
	}
	if (ld->mode == MODE_GET) {
		g = bench_node_gid(ld->prefix, ld->nodes[dst].guid);
		pr_set_dgid(&q, &g);
		mask |= PR_CM_DGID;
	}
	req = lab_sa_request(LAB_MAD_LEN, method, UMAD_SA_ATTR_PATH_REC, mask, tid);
	memcpy(((struct umad_sa_packet *)umad_get_mad(req))->data, &q, sizeof(q));
	lab_send(p, req, LAB_MAD_LEN, ld->lid, ld->timeout_ms, 1);
	free(req);
}

/* Is the answer to query seq right? Counts its records. */
static bool check_answer(const struct load *ld, uint64_t seq, const struct lab_msg *m,
			 uint64_t *records)
{
	const struct umad_sa_packet *sa = lab_msg_sa(m);
	size_t src, dst, n, covered = 0;
	union ibv_gid sg, dg;

	if (be16toh(sa->mad_hdr.status) || m->len < LAB_SA_HDR_LEN ||
	    be16toh(sa->attr_offset) * 8 != LAB_PR_LEN)
		return false;
	n = (size_t)(m->len - LAB_SA_HDR_LEN) / LAB_PR_LEN;
	*records += n;
	query_of(ld, seq, &src, &dst);
	sg = bench_node_gid(ld->prefix, ld->nodes[src].guid);
	dg = bench_node_gid(ld->prefix, ld->nodes[dst].guid);
	if (ld->mode == MODE_GET) {
		const struct ibv_path_record *r = (const void *)sa->data;

		return n >= 1 && !memcmp(&r->dgid, &dg, sizeof(dg)) &&
		       !memcmp(&r->sgid, &sg, sizeof(sg));
	}
	memset(ld->seen, 0, ld->n_nodes);
	for (size_t i = 0; i < n; i++) {
		struct ibv_path_record r;
		uint64_t guid, *hit;

		memcpy(&r, sa->data + i * LAB_PR_LEN, sizeof(r));
		if (ld->mode == MODE_GETTABLE && memcmp(&r.sgid, &sg, sizeof(sg)))
			return false;
		if (ld->mode == MODE_ALLPAIRS)
			continue; /* every pair: counted, sources checked by the count */
		guid = be64toh(r.dgid.global.interface_id);
		hit = bsearch(&guid, ld->sorted_guids, ld->n_nodes, sizeof(guid), cmp_u64);
		if (hit && !ld->seen[hit - ld->sorted_guids]) {
			ld->seen[hit - ld->sorted_guids] = 1;
			covered++;
		}
	}
	if (ld->mode == MODE_ALLPAIRS)
		return n >= ld->n_nodes * ld->n_nodes;
	return covered == ld->n_nodes;
}

static void run(struct lab_port *p, const struct load *ld, uint32_t tid_base, struct tally *t)
{
	uint64_t total = total_queries(ld), sent = 0, done = 0, t0;
	uint8_t *answered = calloc(total, 1);
	struct lab_msg m = { 0 };

	if (!answered)
		lab_fail("out of memory for %llu queries", (unsigned long long)total);
	memset(t, 0, sizeof(*t));
	t->start_ns = bench_wall_ns();
	t0 = bench_now_ns();
	while (done < sent || sent < total) {
		const struct umad_sa_packet *sa;
		uint64_t seq;
		int ret;

		while (sent < total && sent - done < ld->window) {
			if (ld->max_ns && bench_now_ns() - t0 > ld->max_ns) {
				t->truncated = true;
				break;
			}
			send_query(p, ld, tid_base + (uint32_t)sent, sent);
			sent++;
		}
		if (done == sent)
			break;
		ret = lab_recv(p, &m, ld->timeout_ms * 3, NULL);
		if (ret < 0) {
			fprintf(stderr, "bench_sa_load: no answer for %d ms, %llu of %llu answered\n",
				ld->timeout_ms * 3, (unsigned long long)done,
				(unsigned long long)sent);
			break;
		}
		sa = lab_msg_sa(&m);
		seq = (uint32_t)(lab_tid(sa) - tid_base);
		/* a request that timed out comes back as itself, with a send status */
		if (seq >= sent || answered[seq] ||
		    (!umad_status(m.umad) && !(sa->mad_hdr.method & UMAD_METHOD_RESP_MASK))) {
			t->dup++;
			continue;
		}
		answered[seq] = 1;
		done++;
		if (umad_status(m.umad)) {
			fprintf(stderr, "bench_sa_load: query %llu: send status %d (%s)\n",
				(unsigned long long)seq, umad_status(m.umad),
				strerror(umad_status(m.umad)));
			t->failed++;
			continue;
		}
		t->answered++;
		if (!check_answer(ld, seq, &m, &t->records))
			t->wrong++;
	}
	t->end_ns = bench_wall_ns();
	t->queries = sent;
	t->failed += sent - done;
	lab_msg_free(&m);
	free(answered);
}

static const char *const mode_names[] = { "get", "gettable", "allpairs" };

static void print_tally(const char *prefix, const struct load *ld, const struct tally *t)
{
	printf("%smode=%s sources=%zu nodes=%zu queries=%llu answered=%llu failed=%llu wrong=%llu "
	       "records=%llu duplicates=%llu start_ns=%llu end_ns=%llu ms=%.3f truncated=%d pid=%d\n",
	       prefix, mode_names[ld->mode], ld->mode == MODE_ALLPAIRS ? ld->n_nodes : ld->count,
	       ld->n_nodes, (unsigned long long)t->queries, (unsigned long long)t->answered,
	       (unsigned long long)t->failed, (unsigned long long)t->wrong,
	       (unsigned long long)t->records, (unsigned long long)t->dup,
	       (unsigned long long)t->start_ns, (unsigned long long)t->end_ns,
	       (double)(t->end_ns - t->start_ns) / 1e6, t->truncated, (int)getpid());
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_sa_load --nodes FILE --mode get|gettable|allpairs "
		"[--first I] [--count C] [--window W] [--lid LID] [--repeat R] "
		"[--start-at WALL_NS] [--max-seconds T] [--timeout MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nodes", required_argument, NULL, 'n' }, { "mode", required_argument, NULL, 'm' },
		{ "first", required_argument, NULL, 'f' }, { "count", required_argument, NULL, 'c' },
		{ "window", required_argument, NULL, 'w' }, { "lid", required_argument, NULL, 'l' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "start-at", required_argument, NULL, 's' },
		{ "max-seconds", required_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	struct load ld = { .window = 16, .timeout_ms = 5000 };
	const char *nodes_path = NULL, *mode = NULL;
	struct bench_node *nodes;
	uint64_t count = 0, repeat = 1, start_at = 0;
	struct lab_port port;
	struct tally t, sum = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': nodes_path = optarg; break;
		case 'm': mode = optarg; break;
		case 'f': ld.first = bench_arg_u64("--first", optarg, 1 << 20); break;
		case 'c': count = bench_arg_u64("--count", optarg, 1 << 20); break;
		case 'w': ld.window = (unsigned)bench_arg_u64("--window", optarg, 1024); break;
		case 'l': ld.lid = (uint16_t)bench_arg_u64("--lid", optarg, 0xbfff); break;
		case 'r': repeat = bench_arg_u64("--repeat", optarg, 1000); break;
		case 's': start_at = bench_arg_u64("--start-at", optarg, UINT64_MAX); break;
		case 'x': ld.max_ns = bench_arg_u64("--max-seconds", optarg, 86400) * 1000000000u;
			break;
		case 't': ld.timeout_ms = (int)bench_arg_u64("--timeout", optarg, 600000); break;
		default: usage();
		}
	}
	if (!nodes_path || !mode || optind != argc || !ld.window || !repeat || !ld.timeout_ms)
		usage();
	for (ld.mode = MODE_GET; ld.mode <= MODE_ALLPAIRS; ld.mode++)
		if (!strcmp(mode, mode_names[ld.mode]))
			break;
	if (ld.mode > MODE_ALLPAIRS)
		usage();
	if (bench_nodes_load(nodes_path, &nodes, &ld.n_nodes) < 0)
		return 1;
	ld.nodes = nodes;
	ld.count = count ? count : ld.n_nodes - ld.first;
	if (ld.n_nodes < 2 || ld.first + ld.count > ld.n_nodes) {
		fprintf(stderr, "bench_sa_load: nodes %zu..%zu of %zu\n", ld.first,
			ld.first + ld.count, ld.n_nodes);
		return 2;
	}
	ld.sorted_guids = malloc(ld.n_nodes * sizeof(uint64_t));
	ld.seen = malloc(ld.n_nodes);
	if (!ld.sorted_guids || !ld.seen)
		return 1;
	for (size_t i = 0; i < ld.n_nodes; i++)
		ld.sorted_guids[i] = nodes[i].guid;
	qsort(ld.sorted_guids, ld.n_nodes, sizeof(uint64_t), cmp_u64);

	lab_port_open(&port, NULL, 0);
	ld.prefix = port.gid_prefix;
	if (!ld.lid)
		ld.lid = port.sm_lid;
	if (start_at)
		bench_sleep_until_wall(start_at);
	for (uint64_t r = 0; r < repeat; r++) {
		uint32_t tid_base = ((uint32_t)getpid() << 20) + (uint32_t)r * 0x01000000u;

		run(&port, &ld, tid_base & 0x7fffffffu, &t);
		if (repeat > 1)
			print_tally("run ", &ld, &t);
		if (!r)
			sum.start_ns = t.start_ns;
		sum.end_ns = t.end_ns;
		sum.queries += t.queries;
		sum.answered += t.answered;
		sum.failed += t.failed;
		sum.wrong += t.wrong;
		sum.records += t.records;
		sum.dup += t.dup;
		sum.truncated |= t.truncated;
	}
	print_tally("", &ld, &sum);
	lab_port_close(&port);
	free(ld.sorted_guids);
	free(ld.seen);
	free(nodes);
	return sum.failed || sum.wrong ? 1 : 0;
}
