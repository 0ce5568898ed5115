/*
 * dist_load - the distribution benchmark (issue 9): what one distributor costs
 * the master SA per fabric change, and how long until every node holds its
 * slice. It does the distributor's work with the daemon's own fabric code:
 * one all-pairs GetTable (component mask 0) at the master SA, the table split
 * by SGID, and each node's slice pushed as one authenticated SetTable
 * (PR_PUSH_FULL). The simulator takes at most 10 clients, so a few real
 * localsad receivers stand in for all N nodes: slice i goes to receiver
 * i mod k, which files it under that node's SGID like any push.
 *
 *   dist_load SM_LID KEY RECEIVER_LID[,RECEIVER_LID...]
 * Prints one line: "ports=P records=R fetch_ms=F push_ms=P2 total_ms=T
 * pushes=N bytes=B failures=E sa_queries=1".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>

#include "base/log.h"
#include "base/loop.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "wire/path_rec.h"
#include "wire/pr_push.h"
#include "wire/sa_mad.h"

struct run {
	struct loop *loop;
	struct sa_client *sa, *push;
	uint64_t key;
	uint16_t receivers[16];
	unsigned n_receivers;
	struct ibv_path_record *recs;
	size_t n_recs, ports, pushed, acked, failures, bytes;
	uint64_t t0, t_fetched, t_done;
	int err;
};

static int sgid_cmp(const void *a, const void *b)
{
	const struct ibv_path_record *x = a, *y = b;

	return memcmp(&x->sgid, &y->sgid, sizeof(x->sgid));
}

static void push_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct run *r = arg;

	(void)mad;
	(void)len;
	r->acked++;
	r->failures += err || status;
	if (r->acked == r->pushed) {
		r->t_done = loop_now_ms();
		loop_stop(r->loop);
	}
}

static void fetch_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct run *r = arg;
	size_t rec_len = PR_LEN, n = 0, i, j;
	struct sa_hdr h;

	r->t_fetched = loop_now_ms();
	if (err || status || sa_hdr_decode(mad, len, &h) < 0 ||
	    sa_table_count(&h, len, &rec_len, &n) < 0 || !n) {
		fprintf(stderr, "dist_load: all-pairs GetTable failed (%d, status %u)\n", err, status);
		r->err = 1;
		loop_stop(r->loop);
		return;
	}
	r->recs = malloc(n * sizeof(*r->recs));
	if (!r->recs) {
		r->err = 1;
		loop_stop(r->loop);
		return;
	}
	for (i = 0; i < n; i++)
		pr_decode(mad + SA_HDR_LEN + i * rec_len, PR_LEN, &r->recs[i]);
	r->n_recs = n;
	qsort(r->recs, n, sizeof(*r->recs), sgid_cmp);
	for (i = 0; i < n; i = j) {
		struct sa_request req = { r->receivers[r->ports % r->n_receivers], UMAD_METHOD_SET,
					  UMAD_SA_ATTR_PATH_REC, PR_PUSH_FULL, 0, r->key, NULL, 0,
					  PR_LEN, SA_PRIO_WAITED, 0 };

		for (j = i; j < n && !sgid_cmp(&r->recs[i], &r->recs[j]); j++)
			;
		req.data = &r->recs[i];
		req.len = (j - i) * PR_LEN;
		if (sa_client_send(r->push, &req, push_done, r) < 0) {
			r->failures++;
		} else {
			r->pushed++;
			r->bytes += SA_HDR_LEN + req.len;
		}
		r->ports++;
	}
	if (!r->pushed)
		loop_stop(r->loop);
}

static struct mad_port *port;

int main(int argc, char **argv)
{
	struct sa_client_opts master = { 1, 60000, 0, 60000, 0, 0 };
	struct sa_client_opts push = { 8, 5000, 1, 5000, 1u << 20, 1 };
	struct ibv_path_record q;
	struct run r;
	char *tok, *save = NULL;

	if (argc != 4) {
		fprintf(stderr, "usage: dist_load SM_LID KEY RECEIVER_LID[,RECEIVER_LID...]\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.key = strtoull(argv[2], NULL, 0);
	for (tok = strtok_r(argv[3], ",", &save); tok && r.n_receivers < 16;
	     tok = strtok_r(NULL, ",", &save))
		r.receivers[r.n_receivers++] = (uint16_t)strtoul(tok, NULL, 0);
	log_open("dist_load", LOG_LVL_WARN, false);
	if (!r.n_receivers || loop_new(&r.loop) < 0 || mad_port_open(NULL, 0, false, &port) < 0)
		return 1;
	port->sm_lid = (uint16_t)strtoul(argv[1], NULL, 0);
	if (sa_client_new(r.loop, port, &master, &r.sa) < 0 ||
	    sa_client_new(r.loop, port, &push, &r.push) < 0 ||
	    mad_port_watch(port, r.loop) < 0)
		return 1;
	memset(&q, 0, sizeof(q));
	r.t0 = loop_now_ms();
	if (sa_client_query(r.sa, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, 0, &q, sizeof(q),
			    fetch_done, &r) < 0)
		return 1;
	loop_run(r.loop);
	if (r.err)
		return 1;
	printf("ports=%zu records=%zu fetch_ms=%llu push_ms=%llu total_ms=%llu pushes=%zu bytes=%zu "
	       "failures=%zu sa_queries=1\n", r.ports, r.n_recs,
	       (unsigned long long)(r.t_fetched - r.t0),
	       (unsigned long long)(r.t_done - r.t_fetched), (unsigned long long)(r.t_done - r.t0),
	       r.pushed, r.bytes, r.failures);
	sa_client_free(r.push);
	sa_client_free(r.sa);
	mad_port_close(port);
	loop_free(r.loop);
	free(r.recs);
	return r.failures ? 1 : 0;
}
