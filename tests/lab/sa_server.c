/*
 * sa_server - an SA-class server on a node that is not the SM's: registers
 * class 0x03 with the methods Get, Set, GetTable and Delete (so the shim
 * claims IsSM for it, as the kernel would deliver the requests anyway) and
 * answers PathRecord requests, the way a local SA does:
 *   Get      -> GetResp with record 0 of the test pattern
 *   GetTable -> GetTableResp with RECORDS pattern records (an RMPP message)
 *   Set      -> GetResp echoing the record it was given
 *   Delete   -> DeleteResp echoing the record it was given
 * Prints "ready lid L" once registered, then "served METHOD: N records" per
 * request. Exits 0 after REQUESTS requests, or, with -q, once FILE exists
 * after them (it keeps the port, and so its IsSM claim, until then); exits 1
 * when IDLE seconds pass first.
 *
 * usage: sa_server [-n REQUESTS] [-r RECORDS] [-t IDLE] [-q FILE]
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab_mad.h"

static const char *method_name(uint8_t method)
{
	switch (method) {
	case UMAD_METHOD_GET: return "Get";
	case UMAD_METHOD_SET: return "Set";
	case UMAD_SA_METHOD_GET_TABLE: return "GetTable";
	case UMAD_SA_METHOD_DELETE: return "Delete";
	default: return "?";
	}
}

/* Builds and sends the answer to one PathRecord request. Returns the records sent. */
static size_t answer(struct lab_port *p, const struct lab_msg *req, size_t table_records)
{
	const struct umad_sa_packet *q = lab_msg_sa(req);
	const ib_mad_addr_t *from = umad_get_mad_addr(req->umad);
	uint8_t method = q->mad_hdr.method;
	size_t nrec = method == UMAD_SA_METHOD_GET_TABLE ? table_records : 1;
	size_t len = LAB_SA_HDR_LEN + nrec * LAB_PR_LEN;
	struct umad_sa_packet *r;
	void *resp;
	int ret;

	if (len < LAB_MAD_LEN)
		len = LAB_MAD_LEN;
	resp = calloc(1, umad_size() + len);
	if (!resp)
		lab_fail("out of memory for a %zu-byte answer", len);
	r = umad_get_mad(resp);
	r->mad_hdr = q->mad_hdr; /* TID echoed unchanged */
	r->mad_hdr.status = 0;
	r->attr_offset = htobe16(LAB_PR_LEN / 8);
	r->comp_mask = q->comp_mask;
	switch (method) {
	case UMAD_METHOD_GET:
		r->mad_hdr.method = UMAD_METHOD_GET_RESP;
		lab_pattern(r->data, LAB_PR_LEN, 0);
		break;
	case UMAD_SA_METHOD_GET_TABLE:
		r->mad_hdr.method = UMAD_SA_METHOD_GET_TABLE_RESP;
		/* One message for the RMPP agent to segment (the kernel, or the shim). */
		r->rmpp_hdr.rmpp_version = UMAD_RMPP_VERSION;
		r->rmpp_hdr.rmpp_type = 1; /* DATA */
		r->rmpp_hdr.rmpp_rtime_flags = UMAD_RMPP_FLAG_ACTIVE;
		for (size_t i = 0; i < nrec; i++)
			lab_pattern(r->data + i * LAB_PR_LEN, LAB_PR_LEN, (uint32_t)i);
		break;
	case UMAD_METHOD_SET:
		r->mad_hdr.method = UMAD_METHOD_GET_RESP;
		memcpy(r->data, q->data, LAB_PR_LEN);
		break;
	case UMAD_SA_METHOD_DELETE:
		r->mad_hdr.method = UMAD_SA_METHOD_DELETE_RESP;
		memcpy(r->data, q->data, LAB_PR_LEN);
		break;
	}
	umad_set_addr_net(resp, from->lid, from->qpn, from->sl, htobe32(LAB_QP1_QKEY));
	umad_set_pkey(resp, umad_get_pkey(req->umad));
	ret = umad_send(p->fd, p->agent, resp, (int)len, 0, 0);
	free(resp);
	if (ret < 0)
		lab_fail("answering %s: umad_send: %d", method_name(method), ret);
	return nrec;
}

int main(int argc, char **argv)
{
	static const uint8_t methods[] = { UMAD_METHOD_GET, UMAD_METHOD_SET,
					   UMAD_SA_METHOD_GET_TABLE, UMAD_SA_METHOD_DELETE };
	unsigned requests = 4, idle_s = 30, served = 0;
	const char *quit_file = NULL;
	double idle_since;
	size_t records = 300;
	struct lab_port port;
	struct lab_msg m = { 0 };
	int opt;

	while ((opt = getopt(argc, argv, "n:r:t:q:")) != -1) {
		switch (opt) {
		case 'n': requests = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': records = strtoul(optarg, NULL, 0); break;
		case 't': idle_s = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'q': quit_file = optarg; break;
		default: lab_fail("usage: sa_server [-n REQUESTS] [-r RECORDS] [-t IDLE] [-q FILE]");
		}
	}
	lab_port_open(&port, methods, sizeof(methods));
	printf("ready lid %u\n", port.lid);
	fflush(stdout);

	idle_since = lab_now_ms();
	for (;;) {
		const struct umad_sa_packet *q;
		int ret;

		if (served >= requests && (!quit_file || access(quit_file, F_OK) == 0))
			break;
		ret = lab_recv(&port, &m, 50, NULL);
		if (ret == -ETIMEDOUT || ret == -EAGAIN) {
			if (lab_now_ms() - idle_since > idle_s * 1000.0)
				lab_fail("served %u of %u requests, then nothing for %u s", served,
					 requests, idle_s);
			continue;
		}
		if (ret < 0)
			lab_fail("umad_recv: %s", strerror(-ret));
		idle_since = lab_now_ms();
		q = lab_msg_sa(&m);
		if (q->mad_hdr.method & UMAD_METHOD_RESP_MASK ||
		    be16toh(q->mad_hdr.attr_id) != UMAD_SA_ATTR_PATH_REC) {
			printf("ignored: method 0x%02x attr 0x%04x\n", q->mad_hdr.method,
			       be16toh(q->mad_hdr.attr_id));
			continue;
		}
		printf("served %s: %zu records\n", method_name(q->mad_hdr.method),
		       answer(&port, &m, records));
		fflush(stdout);
		served++;
	}
	lab_msg_free(&m);
	lab_port_close(&port);
	return 0;
}
