/*
 * sa_client - sends SubnAdmGet, SubnAdmGetTable, SubnAdmSet and
 * SubnAdmDelete PathRecord to an SA-class server on another node (its LID,
 * QP1; see sa_server) and checks that every answer arrives whole: the method,
 * the length, the record count, and every byte of the pattern (or of the
 * record it sent, for Set and Delete). One line per exchange.
 *
 * usage: sa_client SERVER_LID [RECORDS]
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/sa.h>

#include "lab_mad.h"
#include "wire/path_rec.h"

enum { SEND_TIMEOUT_MS = 1000, SEND_RETRIES = 2, WAIT_MS = 8000 };

static struct lab_port port;
static uint16_t server_lid;
static uint32_t next_tid;

/* Sends one request carrying `rec` and returns the response in m. */
static const struct umad_sa_packet *exchange(struct lab_msg *m, uint8_t method,
					     uint64_t comp_mask, const uint8_t *rec)
{
	uint32_t tid = ++next_tid;
	void *req = lab_sa_request(LAB_MAD_LEN, method, UMAD_SA_ATTR_PATH_REC, comp_mask, tid);
	struct umad_sa_packet *sa = umad_get_mad(req);
	double t0 = lab_now_ms();

	sa->attr_offset = htobe16(LAB_PR_LEN / 8);
	memcpy(sa->data, rec, LAB_PR_LEN);
	lab_send(&port, req, LAB_MAD_LEN, server_lid, SEND_TIMEOUT_MS, SEND_RETRIES);
	free(req);
	lab_wait_response(&port, m, tid, WAIT_MS);
	sa = lab_msg_sa(m);
	LAB_EXPECT_EQ("MAD status", 0, be16toh(sa->mad_hdr.status));
	LAB_EXPECT_EQ("attribute", UMAD_SA_ATTR_PATH_REC, be16toh(sa->mad_hdr.attr_id));
	LAB_EXPECT_EQ("attribute offset", LAB_PR_LEN / 8, be16toh(sa->attr_offset));
	printf("%.2f ms: ", lab_now_ms() - t0);
	return sa;
}

static void expect_record(const char *what, const uint8_t *got, const uint8_t *want)
{
	for (size_t j = 0; j < LAB_PR_LEN; j++)
		if (got[j] != want[j])
			lab_fail("%s: byte %zu is 0x%02x, expected 0x%02x", what, j, got[j], want[j]);
}

int main(int argc, char **argv)
{
	struct lab_msg m = { 0 };
	const struct umad_sa_packet *sa;
	struct ibv_path_record q;
	uint8_t want[LAB_PR_LEN], sent[LAB_PR_LEN];
	size_t records = argc > 2 ? strtoul(argv[2], NULL, 0) : 300;
	char what[64];

	if (argc < 2)
		lab_fail("usage: sa_client SERVER_LID [RECORDS]");
	server_lid = (uint16_t)strtoul(argv[1], NULL, 0);
	lab_port_open(&port, NULL, 0);
	next_tid = (uint32_t)getpid() << 8;

	/* Get: a one-record answer */
	memset(&q, 0, sizeof(q));
	memcpy(&q.sgid.raw[0], &port.gid_prefix, 8);
	memcpy(&q.sgid.raw[8], &port.port_guid, 8);
	q.dgid = q.sgid;
	sa = exchange(&m, UMAD_METHOD_GET, PR_CM_SGID | PR_CM_DGID, (const uint8_t *)&q);
	LAB_EXPECT_EQ("Get: response method", UMAD_METHOD_GET_RESP, sa->mad_hdr.method);
	LAB_EXPECT_EQ("Get: response length", LAB_MAD_LEN, m.len);
	lab_pattern(want, sizeof(want), 0);
	expect_record("Get: record", sa->data, want);
	printf("Get: 1 record, %d bytes, pattern ok\n", m.len);

	/* GetTable: a multi-MAD (RMPP) answer */
	memset(&q, 0, sizeof(q));
	sa = exchange(&m, UMAD_SA_METHOD_GET_TABLE, 0, (const uint8_t *)&q);
	LAB_EXPECT_EQ("GetTable: response method", UMAD_SA_METHOD_GET_TABLE_RESP,
		      sa->mad_hdr.method);
	LAB_EXPECT_EQ("GetTable: response length", LAB_SA_HDR_LEN + records * LAB_PR_LEN, m.len);
	for (size_t i = 0; i < records; i++) {
		lab_pattern(want, sizeof(want), (uint32_t)i);
		snprintf(what, sizeof(what), "GetTable: record %zu", i);
		expect_record(what, sa->data + i * LAB_PR_LEN, want);
	}
	printf("GetTable: %zu records, %d bytes, pattern ok\n",
	       (size_t)(m.len - LAB_SA_HDR_LEN) / LAB_PR_LEN, m.len);

	/* Set: the record comes back */
	lab_pattern(sent, sizeof(sent), 7777);
	sa = exchange(&m, UMAD_METHOD_SET, PR_CM_SGID | PR_CM_DGID, sent);
	LAB_EXPECT_EQ("Set: response method", UMAD_METHOD_GET_RESP, sa->mad_hdr.method);
	expect_record("Set: echoed record", sa->data, sent);
	printf("Set: 1 record, %d bytes, echo ok\n", m.len);

	/* Delete: the record comes back */
	lab_pattern(sent, sizeof(sent), 8888);
	sa = exchange(&m, UMAD_SA_METHOD_DELETE, PR_CM_SGID | PR_CM_DGID, sent);
	LAB_EXPECT_EQ("Delete: response method", UMAD_SA_METHOD_DELETE_RESP, sa->mad_hdr.method);
	expect_record("Delete: echoed record", sa->data, sent);
	printf("Delete: 1 record, %d bytes, echo ok\n", m.len);

	lab_msg_free(&m);
	lab_port_close(&port);
	return 0;
}
