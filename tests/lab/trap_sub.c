/*
 * trap_sub - a trap subscriber on any node: registers an SA-class server
 * for Report (so Reports are delivered to it; the shim claims IsSM), sends
 * the SM an InformInfo Set subscription per trap number in the form OpenSM
 * accepts (wire/notice.h: inform_info_for_trap), answers every Report(Notice)
 * with a ReportResp, and prints one line per trap:
 *
 *   subscribed TRAP ...       (after each subscription is acknowledged)
 *   ready
 *   trap N from lid L gid G   (per Report received)
 *
 * It exits 0 after COUNT traps, unsubscribing first; 1 after TIMEOUT s.
 * usage: trap_sub [-n COUNT] [-t TIMEOUT] TRAP...
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab_mad.h"
#include "wire/notice.h"

enum { SEND_TIMEOUT_MS = 1000, SEND_RETRIES = 3, MAX_TRAPS = 16 };

static struct lab_port port;
static uint32_t next_tid;

/* InformInfo Set to the SM; returns once the GetResp confirms it. */
static void inform(struct lab_msg *m, uint16_t trap, bool subscribe)
{
	uint32_t tid = ++next_tid;
	void *req = lab_sa_request(LAB_MAD_LEN, UMAD_METHOD_SET, UMAD_ATTR_INFORM_INFO, 0, tid);
	struct umad_sa_packet *sa = umad_get_mad(req);
	struct inform_info ii, echo;

	inform_info_for_trap(&ii, trap, subscribe);
	inform_info_encode(sa->data, &ii);
	lab_send(&port, req, LAB_MAD_LEN, port.sm_lid, SEND_TIMEOUT_MS, SEND_RETRIES);
	free(req);
	lab_wait_response(&port, m, tid, SEND_TIMEOUT_MS * (SEND_RETRIES + 2));
	sa = lab_msg_sa(m);
	LAB_EXPECT_EQ("InformInfo response method", UMAD_METHOD_GET_RESP, sa->mad_hdr.method);
	if (be16toh(sa->mad_hdr.status))
		lab_fail("InformInfo %s trap %u refused by the SA: MAD status 0x%04x",
			 subscribe ? "subscribe" : "unsubscribe", trap, be16toh(sa->mad_hdr.status));
	if (inform_info_decode(sa->data, UMAD_LEN_SA_DATA, &echo) < 0)
		lab_fail("InformInfo response too short");
	LAB_EXPECT_EQ("InformInfo echoed trap", trap, echo.trap_number);
	LAB_EXPECT_EQ("InformInfo echoed Subscribe", subscribe, echo.subscribe);
}

/* ReportResp: the Report's header and Notice, method 0x86, back to its sender. */
static void report_resp(const struct lab_msg *m)
{
	const ib_mad_addr_t *from = umad_get_mad_addr(m->umad);
	void *resp = calloc(1, umad_size() + LAB_MAD_LEN);
	struct umad_sa_packet *r;
	int ret;

	if (!resp)
		lab_fail("out of memory");
	r = umad_get_mad(resp);
	memcpy(r, lab_msg_sa(m), LAB_MAD_LEN);
	r->mad_hdr.method = UMAD_METHOD_REPORT_RESP;
	r->mad_hdr.status = 0;
	umad_set_addr_net(resp, from->lid, from->qpn, from->sl, htobe32(LAB_QP1_QKEY));
	umad_set_pkey(resp, umad_get_pkey(m->umad));
	ret = umad_send(port.fd, port.agent, resp, LAB_MAD_LEN, 0, 0);
	free(resp);
	if (ret < 0)
		lab_fail("ReportResp: umad_send: %d", ret);
}

int main(int argc, char **argv)
{
	static const uint8_t methods[] = { UMAD_METHOD_REPORT };
	unsigned count = 0, timeout_s = 30, got = 0;
	uint16_t traps[MAX_TRAPS];
	size_t ntraps = 0;
	struct lab_msg m = { 0 };
	double deadline;
	int opt;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		switch (opt) {
		case 'n': count = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': timeout_s = (unsigned)strtoul(optarg, NULL, 0); break;
		default: lab_fail("usage: trap_sub [-n COUNT] [-t TIMEOUT] TRAP...");
		}
	}
	for (; optind < argc && ntraps < MAX_TRAPS; optind++)
		traps[ntraps++] = (uint16_t)strtoul(argv[optind], NULL, 0);
	if (!ntraps)
		lab_fail("usage: trap_sub [-n COUNT] [-t TIMEOUT] TRAP...");

	lab_port_open(&port, methods, sizeof(methods));
	next_tid = (uint32_t)getpid() << 8;
	for (size_t i = 0; i < ntraps; i++) {
		inform(&m, traps[i], true);
		printf("subscribed %u at SM lid %u\n", traps[i], port.sm_lid);
	}
	printf("ready\n");
	fflush(stdout);

	deadline = lab_now_ms() + timeout_s * 1000.0;
	while (!count || got < count) {
		int left = (int)(deadline - lab_now_ms());
		const struct umad_sa_packet *sa;
		struct notice n;
		union ibv_gid gid;
		char gs[INET6_ADDRSTRLEN] = "-";

		if (left <= 0 || lab_recv(&port, &m, left, NULL) < 0)
			lab_fail("%u of %u traps within %u s", got, count, timeout_s);
		sa = lab_msg_sa(&m);
		if (sa->mad_hdr.method != UMAD_METHOD_REPORT ||
		    be16toh(sa->mad_hdr.attr_id) != UMAD_ATTR_NOTICE) {
			printf("ignored: method 0x%02x attr 0x%04x\n", sa->mad_hdr.method,
			       be16toh(sa->mad_hdr.attr_id));
			continue;
		}
		report_resp(&m);
		if (notice_decode(sa->data, (size_t)m.len - LAB_SA_HDR_LEN, &n) < 0)
			lab_fail("Report too short: %d bytes", m.len);
		if (notice_trap_gid(&n, &gid) == 0)
			inet_ntop(AF_INET6, gid.raw, gs, sizeof(gs));
		printf("trap %u from lid %u gid %s\n", n.trap_number, n.issuer_lid, gs);
		fflush(stdout);
		got++;
	}
	for (size_t i = 0; i < ntraps; i++)
		inform(&m, traps[i], false);
	printf("unsubscribed\n");
	lab_msg_free(&m);
	lab_port_close(&port);
	return 0;
}
