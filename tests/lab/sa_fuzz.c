/*
 * sa_fuzz - sends malformed SA MADs to a local SA and counts what comes back:
 * truncated MADs, unknown attributes and methods, random component masks,
 * wrong class versions, inconsistent RMPP headers, and Sets that are too big
 * or carry the wrong key. Every MAD must get an error status or be dropped
 * (no answer within the timeout); a success status to garbage is a failure.
 *
 *   lab_sa_fuzz LID SM_LID COUNT SEED
 * Prints "sent N answered N errors N dropped N successes N" and per kind, and
 * exits 1 if a malformed MAD was answered with success. The one exception:
 * a Get with a garbage component mask is relayed to the master SA, so a
 * success is right exactly when the master SA (SM_LID) gives one to the same
 * MAD; those are re-asked there and counted as "relayed".
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/log.h"
#include "fabric/mad_port.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { KINDS = 9, MAX_LEN = 4096 + 64 * 1100 };

static size_t build(unsigned kind, unsigned i, unsigned char *mad, uint32_t tid)
{
	struct sa_hdr h;
	size_t len = MAD_LEN;
	uint64_t mask = PR_CM_SGID | PR_CM_DGID;

	memset(mad, 0, MAX_LEN);
	for (size_t k = SA_HDR_LEN; k < MAD_LEN; k++)
		mad[k] = (unsigned char)rand();
	sa_hdr_init_request(&h, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC, tid, mask);
	h.attr_offset = PR_LEN / 8;
	switch (kind) {
	case 0: /* truncated below the SA header */
		len = 24 + (size_t)(rand() % 32);
		break;
	case 1: /* truncated inside the PathRecord */
		len = SA_HDR_LEN + (size_t)(rand() % PR_LEN);
		break;
	case 2: /* attributes the local SA does not serve */
		h.attr_id = (uint16_t)(0x9000 + i % 0x100);
		h.method = (i & 1) ? UMAD_METHOD_SET : UMAD_SA_METHOD_DELETE;
		break;
	case 3: /* garbage component masks on a garbage record */
		h.comp_mask = ((uint64_t)rand() << 32 | (uint64_t)rand()) & ~(uint64_t)(PR_CM_SGID | PR_CM_DGID | PR_CM_DLID);
		h.method = (i & 1) ? UMAD_METHOD_GET : UMAD_SA_METHOD_GET_MULTI;
		break;
	case 4: /* wrong class versions */
		h.class_version = (i & 1) ? 1 : 3;
		break;
	case 5: /* Set with inconsistent RMPP headers */
		h.method = UMAD_METHOD_SET;
		h.rmpp_version = 1;
		h.rmpp_type = 1;
		h.rmpp_flags = 0x07;
		h.rmpp_paylen = (uint32_t)(rand() % 100000); /* no relation to the length */
		h.sm_key = 0x1234;
		len = SA_HDR_LEN + 3 * PR_LEN + (size_t)(rand() % 40);
		break;
	case 6: /* oversize SetTable: more records than the SA takes */
		h.method = UMAD_METHOD_SET;
		h.rmpp_version = 1;
		h.rmpp_type = 1;
		h.rmpp_flags = 0x07;
		h.rmpp_paylen = SA_RMPP_CLASS_HDR_LEN + 1001 * PR_LEN;
		h.sm_key = 0x1234;
		len = SA_HDR_LEN + 1001 * PR_LEN;
		break;
	case 7: /* writes with the wrong key */
		h.method = (i & 1) ? UMAD_METHOD_SET : UMAD_SA_METHOD_DELETE;
		h.sm_key = 0xbad;
		break;
	default: /* methods that do not exist */
		h.method = (uint8_t)(0x20 + i % 0x40);
		break;
	}
	sa_hdr_encode(mad, &h);
	return len;
}

/* Asks the master SA the same question: is success its answer too? */
static bool relayed_success(struct mad_port *p, unsigned long sm_lid, const unsigned char *req)
{
	unsigned char mad[MAD_LEN];
	uint32_t tid = 0x7f000000u | (uint32_t)rand() % 0xffffff, t;

	memcpy(mad, req, MAD_LEN);
	t = htobe32(tid);
	memcpy(mad + 12, &t, 4);
	if (mad_port_send(p, p->sa_agent, (uint16_t)sm_lid, 1, mad, MAD_LEN, 1000, 0) < 0)
		return false;
	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		struct umad_msg msg;
		struct sa_hdr h;

		if (poll(&pfd, 1, 2000) <= 0 || mad_port_recv(p, &msg) < 0)
			return false;
		if (sa_hdr_decode(msg.mad, msg.len, &h) < 0 || (uint32_t)h.tid != tid)
			continue; /* a late answer to the fuzzing itself */
		return !msg.status && !h.status;
	}
}

int main(int argc, char **argv)
{
	static unsigned char mad[MAX_LEN];
	unsigned long lid, sm_lid, count, seed, sent = 0, answered = 0, errors = 0, successes = 0;
	unsigned long relayed_ok = 0, per_kind[KINDS] = { 0 }, per_kind_answered[KINDS] = { 0 };
	unsigned char (*saved)[MAD_LEN];
	unsigned char *answered_tid;
	struct mad_port *p;
	uint32_t base;

	if (argc != 5) {
		fprintf(stderr, "usage: lab_sa_fuzz LID SM_LID COUNT SEED\n");
		return 2;
	}
	lid = strtoul(argv[1], NULL, 0);
	sm_lid = strtoul(argv[2], NULL, 0);
	count = strtoul(argv[3], NULL, 0);
	seed = strtoul(argv[4], NULL, 0);
	srand((unsigned)seed);
	log_open("lab_sa_fuzz", LOG_LVL_WARN, false);
	if (mad_port_open(NULL, 0, false, &p) < 0)
		return 1;
	answered_tid = calloc(count, 1);
	saved = calloc(count, MAD_LEN);
	base = (uint32_t)(seed << 20);
	/* Paced bursts keep the simulator's queues within bounds. */
	for (unsigned long i = 0; i < count; i++) {
		size_t len = build((unsigned)(i % KINDS), (unsigned)i, mad, base + (uint32_t)i);

		memcpy(saved[i], mad, MAD_LEN);
		per_kind[i % KINDS]++;

		if (mad_port_send(p, p->sa_agent, (uint16_t)lid, 1, mad, len, 1000, 0) == 0)
			sent++;
		while (1) {
			struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
			struct umad_msg msg;
			struct sa_hdr h;
			uint32_t tid;

			if (poll(&pfd, 1, (i % 50 == 49 || i == count - 1) ? 1500 : 0) <= 0)
				break;
			if (mad_port_recv(p, &msg) < 0 || msg.len < 16)
				continue;
			memcpy(&tid, msg.mad + 12, 4);
			tid = be32toh(tid) - base;
			if (tid >= count || answered_tid[tid])
				continue;
			answered_tid[tid] = 1;
			if (msg.status)
				continue; /* dropped: the request timed out */
			answered++;
			per_kind_answered[tid % KINDS]++;
			if (sa_hdr_decode(msg.mad, msg.len, &h) == 0 && h.status)
				errors++;
			else if (tid % KINDS == 3 && relayed_success(p, sm_lid, saved[tid]))
				relayed_ok++;
			else {
				successes++;
				fprintf(stderr, "lab_sa_fuzz: MAD %u (kind %u) got success\n", tid,
					tid % KINDS);
			}
		}
	}
	printf("sent %lu answered %lu errors %lu relayed %lu dropped %lu successes %lu\n", sent,
	       answered, errors, relayed_ok, sent - answered, successes);
	for (unsigned k = 0; k < KINDS; k++)
		printf("kind %u: sent %lu answered %lu\n", k, per_kind[k], per_kind_answered[k]);
	free(saved);
	free(answered_tid);
	mad_port_close(p);
	return successes ? 1 : 0;
}
