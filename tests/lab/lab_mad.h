/*
 * lab_mad - what the lab's test programs share: open the node's umad port and
 * register an SA-class agent, build SA requests on struct umad_sa_packet,
 * receive a whole message of any length (growing the buffer on -ENOSPC, as
 * libibumad documents) and wait for the response to one TID.
 *
 * These are test programs: a failure prints what was expected and what came,
 * and exits non-zero. Everything here is plain libibumad, so the programs run
 * unchanged on hardware; on the simulator the lab's shim makes them work.
 */
#ifndef LOCALSA_TESTS_LAB_MAD_H
#define LOCALSA_TESTS_LAB_MAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/umad.h>
#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#define LAB_QP1_QKEY 0x80010000u
#define LAB_MAD_LEN 256			/* one MAD */
#define LAB_SA_HDR_LEN 56		/* MAD + RMPP + SA headers */
#define LAB_PR_LEN 64			/* a PathRecord, attribute offset 8 */

/* Prints "<prog>: FAIL: ..." and exits 1. */
void lab_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define LAB_EXPECT_EQ(what, expected, actual)                                      \
	do {                                                                       \
		long long e_ = (long long)(expected), a_ = (long long)(actual);   \
		if (e_ != a_)                                                      \
			lab_fail("%s: expected %lld, got %lld", (what), e_, a_);   \
	} while (0)

struct lab_port {
	int fd;			/* umad_open_port's descriptor */
	int agent;		/* the SA-class agent id */
	uint16_t lid, sm_lid;	/* host order, from umad_get_port */
	uint64_t gid_prefix;	/* network order */
	uint64_t port_guid;	/* network order */
};

/*
 * Opens the first active port, or the one LAB_PORT names ("CA:N" or "N"), and
 * registers an SA-class (0x03, version 2, RMPP) agent. `methods` lists the
 * request methods served (a server); NULL for a client. Exits on failure.
 */
void lab_port_open(struct lab_port *p, const uint8_t *methods, size_t n_methods);
/* The same on port `portnum` of CA `ca` (NULL, 0: the first active port). */
void lab_port_open_at(struct lab_port *p, const char *ca, int portnum, const uint8_t *methods,
		      size_t n_methods);
void lab_port_close(struct lab_port *p);

/* A received message: umad header + MAD of `len` bytes, in a buffer that grows. */
struct lab_msg {
	void *umad;
	int len;		/* MAD bytes */
	size_t cap;		/* MAD bytes the buffer holds */
};

void lab_msg_free(struct lab_msg *m);
static inline struct umad_sa_packet *lab_msg_sa(const struct lab_msg *m)
{
	return umad_get_mad(m->umad);
}

/*
 * One whole message into m, growing m's buffer when umad_recv says -ENOSPC.
 * Returns the agent id, or a negative errno (-ETIMEDOUT after timeout_ms).
 * `grown` (may be NULL) counts the -ENOSPC retries.
 */
int lab_recv(struct lab_port *p, struct lab_msg *m, int timeout_ms, unsigned *grown);

/*
 * A zeroed umad buffer holding an SA MAD of mad_len bytes (>= LAB_MAD_LEN),
 * its headers filled in for a request. Free with free().
 */
void *lab_sa_request(size_t mad_len, uint8_t method, uint16_t attr_id, uint64_t comp_mask,
		     uint32_t tid);

/* Sends umad (mad_len MAD bytes) to dlid's QP1; exits on failure. */
void lab_send(struct lab_port *p, void *umad, size_t mad_len, uint16_t dlid, int timeout_ms,
	      int retries);

/*
 * Waits for the response whose low 32 TID bits are `tid` (ibsim rewrites the
 * high ones), skipping and reporting anything else. Exits on a send timeout
 * or when nothing comes within timeout_ms.
 */
void lab_wait_response(struct lab_port *p, struct lab_msg *m, uint32_t tid, int timeout_ms);

/* Low 32 bits of the MAD's TID. */
uint32_t lab_tid(const struct umad_sa_packet *sa);

/* The byte pattern record `idx` of a test table carries. */
void lab_pattern(uint8_t *rec, size_t len, uint32_t idx);

/* Monotonic milliseconds. */
double lab_now_ms(void);

#endif
