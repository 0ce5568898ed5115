/*
 * sa_pairs - does the all-pairs PathRecord table arrive whole, and is each of
 * its records OpenSM's answer to the single Get for that (SGID, DGID) pair?
 * Sends one SubnAdmGetTable PathRecord (component mask 0), then one
 * SubnAdmGet (mask SGID|DGID) per record with a window of them in flight,
 * compares the 64-byte records byte for byte, and prints two lines:
 *
 *   table: N records, B bytes, G growths, S sources, D destinations, X duplicates, T ms
 *   gets: N sent, E equal, F different, R failed, T ms
 *
 * usage: sa_pairs [-w WINDOW]. Exit status 0 when every Get matched.
 */
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/sa.h>

#include "lab_mad.h"
#include "wire/path_rec.h"

_Static_assert(sizeof(struct ibv_path_record) == LAB_PR_LEN, "PathRecord wire size");

enum { SA_TIMEOUT_MS = 2000, SA_RETRIES = 2, MAX_DIFFS_SHOWN = 3 };

static int cmp_gid(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(union ibv_gid));
}

static int cmp_pair(const void *a, const void *b)
{
	return memcmp(a, b, 2 * sizeof(union ibv_gid));
}

/* Distinct entries of a sorted array of `n` elements of `size` bytes. */
static size_t count_distinct(const unsigned char *v, size_t n, size_t size)
{
	size_t d = n ? 1 : 0;

	for (size_t i = 1; i < n; i++)
		d += memcmp(v + (i - 1) * size, v + i * size, size) != 0;
	return d;
}

static void show_diff(size_t idx, const uint8_t *table, const uint8_t *get)
{
	fprintf(stderr, "record %zu differs:\n table:", idx);
	for (size_t j = 0; j < LAB_PR_LEN; j++)
		fprintf(stderr, "%s%02x", j % 16 ? "" : "\n  ", table[j]);
	fprintf(stderr, "\n get:");
	for (size_t j = 0; j < LAB_PR_LEN; j++)
		fprintf(stderr, "%s%02x", j % 16 ? "" : "\n  ", get[j]);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	struct lab_port port;
	struct lab_msg m = { 0 };
	const struct umad_sa_packet *sa;
	unsigned window = 16, growths = 0;
	uint32_t tid = (uint32_t)getpid() << 12;
	size_t n, rec_len;
	uint8_t *recs, *gids, *pairs, *answered;
	size_t sent = 0, done = 0, equal = 0, differ = 0, failed = 0;
	double t0, t_table, t_gets;
	void *req;
	int opt;

	while ((opt = getopt(argc, argv, "w:")) != -1) {
		if (opt != 'w')
			lab_fail("usage: sa_pairs [-w WINDOW]");
		window = (unsigned)strtoul(optarg, NULL, 0);
	}
	if (!window)
		window = 1;
	lab_port_open(&port, NULL, 0);

	/* --- the all-pairs table --- */
	t0 = lab_now_ms();
	req = lab_sa_request(LAB_MAD_LEN, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, 0, tid);
	lab_send(&port, req, LAB_MAD_LEN, port.sm_lid, SA_TIMEOUT_MS, SA_RETRIES);
	free(req);
	for (;;) { /* lab_wait_response, but counting the buffer growths */
		if (lab_recv(&port, &m, 10000, &growths) < 0)
			lab_fail("no GetTable response");
		if (lab_tid(lab_msg_sa(&m)) == tid)
			break;
	}
	t_table = lab_now_ms() - t0;
	sa = lab_msg_sa(&m);
	LAB_EXPECT_EQ("GetTable send status", 0, umad_status(m.umad));
	LAB_EXPECT_EQ("GetTable response method", UMAD_SA_METHOD_GET_TABLE_RESP, sa->mad_hdr.method);
	LAB_EXPECT_EQ("GetTable MAD status", 0, be16toh(sa->mad_hdr.status));
	rec_len = (size_t)be16toh(sa->attr_offset) * 8;
	LAB_EXPECT_EQ("PathRecord size (attribute offset x 8)", LAB_PR_LEN, rec_len);
	if (m.len < LAB_SA_HDR_LEN)
		lab_fail("GetTable response of %d bytes", m.len);
	LAB_EXPECT_EQ("bytes after the last whole record", 0, (m.len - LAB_SA_HDR_LEN) % LAB_PR_LEN);
	n = (size_t)(m.len - LAB_SA_HDR_LEN) / LAB_PR_LEN;
	if (!n)
		lab_fail("the table is empty");
	recs = malloc(n * LAB_PR_LEN);
	gids = malloc(n * sizeof(union ibv_gid));
	pairs = malloc(n * 2 * sizeof(union ibv_gid));
	answered = calloc(n, 1);
	if (!recs || !gids || !pairs || !answered)
		lab_fail("out of memory for %zu records", n);
	memcpy(recs, sa->data, n * LAB_PR_LEN);

	/* Sources, destinations, and whether any (DGID, SGID) pair repeats. */
	for (size_t i = 0; i < n; i++) {
		const struct ibv_path_record *r = (const void *)(recs + i * LAB_PR_LEN);

		memcpy(gids + i * sizeof(union ibv_gid), &r->sgid, sizeof(union ibv_gid));
		memcpy(pairs + i * 2 * sizeof(union ibv_gid), &r->dgid, 2 * sizeof(union ibv_gid));
	}
	_Static_assert(offsetof(struct ibv_path_record, sgid) ==
			       offsetof(struct ibv_path_record, dgid) + sizeof(union ibv_gid),
		       "DGID then SGID, adjacent");
	qsort(gids, n, sizeof(union ibv_gid), cmp_gid);
	size_t sources = count_distinct(gids, n, sizeof(union ibv_gid));
	for (size_t i = 0; i < n; i++) {
		const struct ibv_path_record *r = (const void *)(recs + i * LAB_PR_LEN);

		memcpy(gids + i * sizeof(union ibv_gid), &r->dgid, sizeof(union ibv_gid));
	}
	qsort(gids, n, sizeof(union ibv_gid), cmp_gid);
	size_t dests = count_distinct(gids, n, sizeof(union ibv_gid));
	qsort(pairs, n, 2 * sizeof(union ibv_gid), cmp_pair);
	size_t dups = n - count_distinct(pairs, n, 2 * sizeof(union ibv_gid));
	printf("table: %zu records, %d bytes, %u growths, %zu sources, %zu destinations, "
	       "%zu duplicates, %.1f ms\n", n, m.len, growths, sources, dests, dups, t_table);
	fflush(stdout);

	/* --- one Get per record, `window` in flight; TID = base + index --- */
	uint32_t base = ++tid;

	t0 = lab_now_ms();
	while (done < n) {
		while (sent < n && sent - done < window) {
			const struct ibv_path_record *r = (const void *)(recs + sent * LAB_PR_LEN);
			struct ibv_path_record q;
			struct umad_sa_packet *rsa;

			memset(&q, 0, sizeof(q));
			q.sgid = r->sgid;
			q.dgid = r->dgid;
			req = lab_sa_request(LAB_MAD_LEN, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC,
					     PR_CM_SGID | PR_CM_DGID, base + (uint32_t)sent);
			rsa = umad_get_mad(req);
			memcpy(rsa->data, &q, sizeof(q));
			lab_send(&port, req, LAB_MAD_LEN, port.sm_lid, SA_TIMEOUT_MS, SA_RETRIES);
			free(req);
			sent++;
		}
		if (lab_recv(&port, &m, 10000, NULL) < 0)
			lab_fail("no Get response after %zu of %zu", done, n);
		sa = lab_msg_sa(&m);
		size_t idx = (size_t)(lab_tid(sa) - base);

		if (idx >= sent || answered[idx]) {
			printf("skipped: method 0x%02x tid 0x%x\n", sa->mad_hdr.method, lab_tid(sa));
			continue;
		}
		answered[idx] = 1;
		done++;
		if (umad_status(m.umad) || sa->mad_hdr.method != UMAD_METHOD_GET_RESP ||
		    be16toh(sa->mad_hdr.status) != 0 || m.len < LAB_SA_HDR_LEN + LAB_PR_LEN) {
			if (failed++ < MAX_DIFFS_SHOWN)
				fprintf(stderr, "Get %zu: send status %d, method 0x%02x, "
					"MAD status 0x%04x, %d bytes\n", idx, umad_status(m.umad),
					sa->mad_hdr.method, be16toh(sa->mad_hdr.status), m.len);
			continue;
		}
		if (memcmp(sa->data, recs + idx * LAB_PR_LEN, LAB_PR_LEN) == 0) {
			equal++;
		} else {
			if (differ++ < MAX_DIFFS_SHOWN)
				show_diff(idx, recs + idx * LAB_PR_LEN, sa->data);
		}
	}
	t_gets = lab_now_ms() - t0;
	printf("gets: %zu sent, %zu equal, %zu different, %zu failed, %.1f ms\n", sent, equal,
	       differ, failed, t_gets);

	free(recs);
	free(gids);
	free(pairs);
	free(answered);
	lab_msg_free(&m);
	lab_port_close(&port);
	return equal == n ? 0 : 1;
}
