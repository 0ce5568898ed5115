/*
 * bench_churn - what one node reboot (trap 65, then trap 64 when it is back) costs the SA
 * when every node of the fabric runs a local SA, emulated from one simulator client as
 * bench_sa_load emulates a job start: the SA answers a PathRecord query for any SGID, so one
 * process sends exactly the queries nodes FILE[first .. first+count) would send, at the
 * moments their policy picks.
 *   old  the policy before issue 15: every trap schedules a full refresh (one GetTable, SGID =
 *        node) trap_refresh_delay_ms (1 s) later, on every node at once;
 *   new  today's: trap 65 costs nothing; trap 64 costs one GetTable (SGID = node, DGID = the
 *        rebooted port) at the moment the daemon's own spread_moment_ms() picks for that node
 *        (its rank among the ports of PORTS, the daemon's default spread), not a copy of it.
 * Queries go out at their moments with at most `window` in flight; every answer is checked
 * (a full table covers every HCA of FILE, a trap fetch holds the rebooted port) and dropped.
 *
 * With --log FILE, one line per query: "OFFSET_MS RECORDS" (its moment, from the trap, and the
 * records the SA answered), from which bench/run finds the busiest second of all clients.
 * Prints one line: policy= phase= queries= records= failed= wrong= start_ns= end_ns= ms= pid=
 * (start: the first query sent; end: the last answer, or the trap when nothing was sent)
 *
 * usage: bench_churn --nodes FILE --ports FILE --policy old|new --phase 65|64 --rebooted I
 *                    [--first I] [--count C] [--window W] [--start-at WALL_NS] [--log FILE]
 *                    [--spread-rate R] [--spread-max-ms M] [--timeout MS]
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
#include "fabric/spread.h"
#include "lab_mad.h"
#include "wire/path_rec.h"

enum { OLD_REFRESH_DELAY_MS = 1000 };	/* trap_refresh_delay_ms, the old default */

struct query {
	uint64_t at_ms;		/* from the trap */
	size_t node;
	uint64_t records;
	bool answered;
};

struct churn {
	const struct bench_node *nodes;
	size_t n_nodes, rebooted;
	uint64_t prefix;
	bool old;
	unsigned window;
	int timeout_ms;
	struct query *q;
	size_t n_q;
	uint64_t failed, wrong, records;
	uint64_t first_sent_ns;	/* wall clock: the SA's work starts */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_query(const void *a, const void *b)
{
	const struct query *x = a, *y = b;

	return x->at_ms < y->at_ms ? -1 : x->at_ms > y->at_ms;
}

/* The node's rank among the fabric's ports, as the resolver counts it: GIDs (same prefix,
 * then the GUID big-endian) that sort before its own. */
static uint64_t rank_of(const uint64_t *ports, size_t n_ports, uint64_t guid)
{
	size_t lo = 0, hi = n_ports;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ports[mid] < guid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void send_query(struct lab_port *p, const struct churn *c, const struct query *q,
		       uint32_t tid, uint16_t sm_lid)
{
	struct ibv_path_record rec;
	union ibv_gid g;
	uint64_t mask = PR_CM_SGID;
	void *req;

	memset(&rec, 0, sizeof(rec));
	g = bench_node_gid(c->prefix, c->nodes[q->node].guid);
	pr_set_sgid(&rec, &g);
	if (!c->old) {
		g = bench_node_gid(c->prefix, c->nodes[c->rebooted].guid);
		pr_set_dgid(&rec, &g);
		mask |= PR_CM_DGID;
	}
	req = lab_sa_request(LAB_MAD_LEN, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, mask,
			     tid);
	memcpy(((struct umad_sa_packet *)umad_get_mad(req))->data, &rec, sizeof(rec));
	lab_send(p, req, LAB_MAD_LEN, sm_lid, c->timeout_ms, 1);
	free(req);
}

/* Counts an answer's records and checks them: a full table reaches every HCA, a trap fetch
 * holds the rebooted port. */
static bool check_answer(const struct churn *c, struct query *q, const struct lab_msg *m)
{
	const struct umad_sa_packet *sa = lab_msg_sa(m);
	union ibv_gid dg = bench_node_gid(c->prefix, c->nodes[c->rebooted].guid);
	size_t n;

	if (be16toh(sa->mad_hdr.status) || m->len < LAB_SA_HDR_LEN ||
	    be16toh(sa->attr_offset) * 8 != LAB_PR_LEN)
		return false;
	n = (size_t)(m->len - LAB_SA_HDR_LEN) / LAB_PR_LEN;
	q->records = n;
	if (c->old)
		return n >= c->n_nodes;
	for (size_t i = 0; i < n; i++) {
		struct ibv_path_record r;

		memcpy(&r, sa->data + i * LAB_PR_LEN, sizeof(r));
		if (memcmp(&r.dgid, &dg, sizeof(dg)))
			return false;
	}
	return n >= 1;
}

static void run(struct lab_port *p, struct churn *c, uint32_t tid_base, uint64_t t0_ns)
{
	struct lab_msg m = { 0 };
	size_t sent = 0, done = 0;

	while (done < c->n_q) {
		uint64_t now_ms = (bench_now_ns() - t0_ns) / 1000000u;
		int wait_ms = c->timeout_ms * 3, ret;
		const struct umad_sa_packet *sa;
		size_t i;

		while (sent < c->n_q && sent - done < c->window && c->q[sent].at_ms <= now_ms) {
			if (!sent)
				c->first_sent_ns = bench_wall_ns();
			send_query(p, c, &c->q[sent], tid_base + (uint32_t)sent, p->sm_lid);
			sent++;
		}
		if (sent < c->n_q && sent - done < c->window)
			wait_ms = (int)(c->q[sent].at_ms - now_ms);
		if (sent == done) {
			if (wait_ms > 0)
				usleep((useconds_t)wait_ms * 1000);
			continue;
		}
		ret = lab_recv(p, &m, wait_ms > 0 ? wait_ms : 1, NULL);
		if (ret == -ETIMEDOUT && sent < c->n_q && wait_ms < c->timeout_ms * 3)
			continue;	/* time for the next query */
		if (ret < 0) {
			fprintf(stderr, "bench_churn: no answer, %zu of %zu answered\n", done, sent);
			break;
		}
		sa = lab_msg_sa(&m);
		i = (uint32_t)(lab_tid(sa) - tid_base);
		if (i >= sent || c->q[i].answered ||
		    (!umad_status(m.umad) && !(sa->mad_hdr.method & UMAD_METHOD_RESP_MASK)))
			continue;
		c->q[i].answered = true;
		done++;
		if (umad_status(m.umad)) {
			c->failed++;
			continue;
		}
		if (!check_answer(c, &c->q[i], &m))
			c->wrong++;
		c->records += c->q[i].records;
	}
	c->failed += sent - done + (c->n_q - sent);
	lab_msg_free(&m);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_churn --nodes FILE --ports FILE --policy old|new --phase 65|64 "
		"--rebooted I [--first I] [--count C] [--window W] [--start-at WALL_NS] "
		"[--log FILE] [--spread-rate R] [--spread-max-ms M] [--timeout MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nodes", required_argument, NULL, 'n' }, { "ports", required_argument, NULL, 'P' },
		{ "policy", required_argument, NULL, 'p' }, { "phase", required_argument, NULL, 'h' },
		{ "rebooted", required_argument, NULL, 'r' },
		{ "first", required_argument, NULL, 'f' }, { "count", required_argument, NULL, 'c' },
		{ "window", required_argument, NULL, 'w' },
		{ "start-at", required_argument, NULL, 's' }, { "log", required_argument, NULL, 'l' },
		{ "spread-rate", required_argument, NULL, 'R' },
		{ "spread-max-ms", required_argument, NULL, 'M' },
		{ "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	struct spread_opts so = { 50000, 300000 };
	struct churn c = { .window = 4, .timeout_ms = 30000 };
	const char *nodes_path = NULL, *ports_path = NULL, *policy = NULL, *log_path = NULL;
	uint64_t first = 0, count = 0, start_at = 0, phase = 0, rebooted = UINT64_MAX;
	struct bench_node *nodes, *ports;
	uint64_t *port_guids, t_start, t_end, t0;
	size_t n_ports;
	struct lab_port port;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': nodes_path = optarg; break;
		case 'P': ports_path = optarg; break;
		case 'p': policy = optarg; break;
		case 'h': phase = bench_arg_u64("--phase", optarg, 65); break;
		case 'r': rebooted = bench_arg_u64("--rebooted", optarg, 1 << 20); break;
		case 'f': first = bench_arg_u64("--first", optarg, 1 << 20); break;
		case 'c': count = bench_arg_u64("--count", optarg, 1 << 20); break;
		case 'w': c.window = (unsigned)bench_arg_u64("--window", optarg, 1024); break;
		case 's': start_at = bench_arg_u64("--start-at", optarg, UINT64_MAX); break;
		case 'l': log_path = optarg; break;
		case 'R': so.sa_rate = (uint32_t)bench_arg_u64("--spread-rate", optarg, 1u << 30);
			break;
		case 'M': so.max_ms = (uint32_t)bench_arg_u64("--spread-max-ms", optarg, 1u << 30);
			break;
		case 't': c.timeout_ms = (int)bench_arg_u64("--timeout", optarg, 600000); break;
		default: usage();
		}
	}
	if (!nodes_path || !ports_path || !policy || (phase != 64 && phase != 65) ||
	    optind != argc || !c.window || (strcmp(policy, "old") && strcmp(policy, "new")))
		usage();
	c.old = !strcmp(policy, "old");
	if (bench_nodes_load(nodes_path, &nodes, &c.n_nodes) < 0 ||
	    bench_nodes_load(ports_path, &ports, &n_ports) < 0)
		return 1;
	c.nodes = nodes;
	if (!count)
		count = c.n_nodes - first;
	if (rebooted >= c.n_nodes || first + count > c.n_nodes)
		usage();
	c.rebooted = rebooted;
	port_guids = malloc(n_ports * sizeof(*port_guids));
	c.q = calloc(count ? count : 1, sizeof(*c.q));
	if (!port_guids || !c.q)
		return 1;
	for (size_t i = 0; i < n_ports; i++)
		port_guids[i] = ports[i].guid;
	qsort(port_guids, n_ports, sizeof(*port_guids), cmp_u64);

	/* Every node but the rebooted one reacts; its moment is its policy's. */
	for (size_t i = first; i < first + count; i++) {
		uint64_t seed = nodes[i].guid;

		if (i == rebooted)
			continue;
		if (c.old) {
			c.q[c.n_q++] = (struct query){ .at_ms = OLD_REFRESH_DELAY_MS, .node = i };
		} else if (phase == 64) {
			uint64_t rank = rank_of(port_guids, n_ports, nodes[i].guid);

			c.q[c.n_q++] = (struct query){
				.at_ms = spread_moment_ms(&so, n_ports, rank, 1, spread_random(&seed)),
				.node = i };
		}
	}
	qsort(c.q, c.n_q, sizeof(*c.q), cmp_query);

	lab_port_open(&port, NULL, 0);
	c.prefix = port.gid_prefix;
	if (start_at)
		bench_sleep_until_wall(start_at);
	t0 = bench_now_ns();
	t_start = bench_wall_ns();
	run(&port, &c, (((uint32_t)getpid() << 20) + (uint32_t)phase * 0x10000u) & 0x7fffffffu,
	    t0);
	t_end = bench_wall_ns();
	if (c.first_sent_ns)
		t_start = c.first_sent_ns;
	else
		t_end = t_start;
	if (log_path) {
		FILE *f = fopen(log_path, "we");

		if (!f) {
			fprintf(stderr, "%s: %s\n", log_path, strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < c.n_q; i++)
			fprintf(f, "%llu %llu\n", (unsigned long long)c.q[i].at_ms,
				(unsigned long long)c.q[i].records);
		fclose(f);
	}
	printf("policy=%s phase=%llu queries=%zu records=%llu failed=%llu wrong=%llu "
	       "start_ns=%llu end_ns=%llu ms=%.3f pid=%d\n", policy, (unsigned long long)phase,
	       c.n_q, (unsigned long long)c.records, (unsigned long long)c.failed,
	       (unsigned long long)c.wrong, (unsigned long long)t_start,
	       (unsigned long long)t_end, (double)(t_end - t_start) / 1e6, (int)getpid());
	lab_port_close(&port);
	free(c.q);
	free(port_guids);
	free(nodes);
	free(ports);
	return c.failed || c.wrong ? 1 : 0;
}
