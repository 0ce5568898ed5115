/*
 * ports - what a program on a node sees of its InfiniBand ports, through
 * plain libibumad (on the simulator: the shim in front of umad2sim).
 *
 *   lab_ports                      one line per port of every CA:
 *                                  "CA:N state STATE lid L gid GID"
 *   lab_ports -q                   opens every active port at once and sends
 *                                  a PathRecord Get (SGID = that port) from
 *                                  each; each answer must come back on the
 *                                  port that asked, with its SLID
 *   lab_ports -w CA:N STATE MS     polls umad_get_port every 10 ms, in one
 *                                  process, until the port's state is STATE
 *                                  (ACTIVE, DOWN, INIT...); prints
 *                                  "CA:N STATE after T ms", exits 1 after MS
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab_mad.h"
#include "wire/path_rec.h"

enum { MAX_CAS = 8, MAX_PORTS = 8, SEND_TIMEOUT_MS = 1000, SEND_RETRIES = 3 };

static const char *const state_names[] = { "NOP", "DOWN", "INIT", "ARMED", "ACTIVE" };

static const char *state_name(unsigned s)
{
	return s < 5 ? state_names[s] : "?";
}

static void gid_str(const umad_port_t *p, char *buf, size_t len)
{
	uint8_t gid[16];

	memcpy(gid, &p->gid_prefix, 8);
	memcpy(gid + 8, &p->port_guid, 8);
	inet_ntop(AF_INET6, gid, buf, (socklen_t)len);
}

static int list_ports(void)
{
	char names[MAX_CAS][UMAD_CA_NAME_LEN];
	int n = umad_get_cas_names(names, MAX_CAS);

	for (int i = 0; i < n; i++) {
		umad_ca_t ca;

		if (umad_get_ca(names[i], &ca) < 0)
			lab_fail("umad_get_ca(%s)", names[i]);
		for (int k = 1; k <= ca.numports && k < UMAD_CA_MAX_PORTS; k++) {
			char gid[64];

			if (!ca.ports[k])
				continue;
			gid_str(ca.ports[k], gid, sizeof(gid));
			printf("%s:%d state %s lid %u gid %s\n", ca.ca_name, k,
			       state_name(ca.ports[k]->state), ca.ports[k]->base_lid, gid);
		}
		umad_release_ca(&ca);
	}
	return n > 0 ? 0 : 1;
}

/* Every active port open at once; one PathRecord Get from each. */
static int query_each(void)
{
	char names[MAX_CAS][UMAD_CA_NAME_LEN];
	struct lab_port ports[MAX_PORTS];
	int nports = 0, n = umad_get_cas_names(names, MAX_CAS);

	for (int i = 0; i < n; i++) {
		umad_ca_t ca;

		if (umad_get_ca(names[i], &ca) < 0)
			lab_fail("umad_get_ca(%s)", names[i]);
		for (int k = 1; k <= ca.numports && nports < MAX_PORTS; k++)
			if (ca.ports[k] && ca.ports[k]->state == 4)
				lab_port_open_at(&ports[nports++], names[i], k, NULL, 0);
		umad_release_ca(&ca);
	}
	if (nports < 2)
		lab_fail("%d active port(s): need two to use at once", nports);
	for (int i = 0; i < nports; i++) {
		struct lab_port *p = &ports[i];
		uint32_t tid = 0x5000 + (uint32_t)i;
		void *req = lab_sa_request(LAB_MAD_LEN, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC,
					   PR_CM_SGID | PR_CM_DGID, tid);
		struct umad_sa_packet *sa = umad_get_mad(req);
		struct ibv_path_record rec = { 0 };
		union ibv_gid gid;
		struct lab_msg m = { 0 };

		memcpy(gid.raw, &p->gid_prefix, 8);
		memcpy(gid.raw + 8, &p->port_guid, 8);
		pr_set_sgid(&rec, &gid);
		pr_set_dgid(&rec, &gid);
		pr_encode(sa->data, &rec);
		lab_send(p, req, LAB_MAD_LEN, p->sm_lid, SEND_TIMEOUT_MS, SEND_RETRIES);
		free(req);
		lab_wait_response(p, &m, tid, 3 * SEND_TIMEOUT_MS);
		if (pr_decode(lab_msg_sa(&m)->data, sizeof(lab_msg_sa(&m)->data), &rec) < 0)
			lab_fail("port %d: short PathRecord", i);
		LAB_EXPECT_EQ("SA status", 0, lab_msg_sa(&m)->mad_hdr.status);
		LAB_EXPECT_EQ("SLID of the path from this port", p->lid, pr_slid(&rec));
		printf("port lid %u: PathRecord from its own fd, slid %u\n", p->lid, pr_slid(&rec));
		lab_msg_free(&m);
	}
	for (int i = 0; i < nports; i++)
		lab_port_close(&ports[i]);
	printf("%d ports used at once\n", nports);
	return 0;
}

static int wait_state(const char *spec, const char *want, int limit_ms)
{
	char ca[UMAD_CA_NAME_LEN];
	const char *colon = strrchr(spec, ':');
	double t0 = lab_now_ms();
	int num;

	if (!colon)
		lab_fail("-w CA:N STATE MS");
	snprintf(ca, sizeof(ca), "%.*s", (int)(colon - spec), spec);
	num = atoi(colon + 1);
	for (;;) {
		umad_port_t p;
		double now;

		if (umad_get_port(ca, num, &p) < 0)
			lab_fail("umad_get_port(%s)", spec);
		now = lab_now_ms();
		if (strcmp(state_name(p.state), want) == 0) {
			printf("%s %s after %.0f ms lid %u\n", spec, want, now - t0, p.base_lid);
			umad_release_port(&p);
			return 0;
		}
		umad_release_port(&p);
		if (now - t0 > limit_ms)
			lab_fail("%s not %s within %d ms", spec, want, limit_ms);
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (umad_init() < 0)
		lab_fail("umad_init");
	if (argc == 1)
		return list_ports();
	if (argc == 2 && strcmp(argv[1], "-q") == 0)
		return query_each();
	if (argc == 5 && strcmp(argv[1], "-w") == 0)
		return wait_state(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: lab_ports [-q | -w CA:N STATE MS]\n");
	return 2;
}
