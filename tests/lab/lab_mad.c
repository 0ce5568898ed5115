/*
 * lab_mad - the shared libibumad steps of the lab's test programs (see
 * lab_mad.h). Failures end the program with a message naming what differed.
 */
#include "lab_mad.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lab_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: FAIL: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double lab_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- the port -------------------------------------------------------------- */

void lab_port_open(struct lab_port *p, const uint8_t *methods, size_t n_methods)
{
	const char *env = getenv("LAB_PORT");
	char ca[UMAD_CA_NAME_LEN] = "";
	int num = 0;

	if (env && *env) {
		const char *colon = strrchr(env, ':');

		if (colon)
			snprintf(ca, sizeof(ca), "%.*s", (int)(colon - env), env);
		num = atoi(colon ? colon + 1 : env);
	}
	lab_port_open_at(p, *ca ? ca : NULL, num, methods, n_methods);
}

void lab_port_open_at(struct lab_port *p, const char *ca, int portnum, const uint8_t *methods,
		      size_t n_methods)
{
	long mask[16 / sizeof(long)] = { 0 };
	const size_t bits = 8 * sizeof(long);
	umad_port_t port;

	memset(p, 0, sizeof(*p));
	if (umad_init() < 0)
		lab_fail("umad_init failed");
	if (umad_get_port(ca, portnum, &port) < 0)
		lab_fail("umad_get_port(%s:%d): no such active port", ca ? ca : "-", portnum);
	p->lid = (uint16_t)port.base_lid;
	p->sm_lid = (uint16_t)port.sm_lid;
	p->gid_prefix = port.gid_prefix;
	p->port_guid = port.port_guid;
	p->fd = umad_open_port(port.ca_name, port.portnum);
	umad_release_port(&port);
	if (p->fd < 0)
		lab_fail("umad_open_port: %s", strerror(-p->fd));
	for (size_t i = 0; i < n_methods; i++)
		mask[methods[i] / bits] |= 1L << (methods[i] % bits);
	p->agent = umad_register(p->fd, UMAD_CLASS_SUBN_ADM, UMAD_SA_CLASS_VERSION,
				 UMAD_RMPP_VERSION, methods ? mask : NULL);
	if (p->agent < 0)
		lab_fail("umad_register(SA class): %s", strerror(-p->agent));
}

void lab_port_close(struct lab_port *p)
{
	umad_unregister(p->fd, p->agent);
	umad_close_port(p->fd);
	umad_done();
}

/* --- messages -------------------------------------------------------------- */

void lab_msg_free(struct lab_msg *m)
{
	free(m->umad);
	memset(m, 0, sizeof(*m));
}

static void msg_reserve(struct lab_msg *m, size_t mad_len)
{
	void *n;

	if (m->umad && m->cap >= mad_len)
		return;
	n = realloc(m->umad, umad_size() + mad_len);
	if (!n)
		lab_fail("out of memory for a %zu-byte MAD", mad_len);
	m->umad = n;
	m->cap = mad_len;
}

int lab_recv(struct lab_port *p, struct lab_msg *m, int timeout_ms, unsigned *grown)
{
	msg_reserve(m, LAB_MAD_LEN);
	for (;;) {
		int len = (int)m->cap;
		int ret = umad_recv(p->fd, m->umad, &len, timeout_ms);

		if (ret >= 0) {
			m->len = len;
			return ret;
		}
		if (ret != -ENOSPC)
			return ret;
		/* The message stays queued; len is what it needs. */
		if (len <= (int)m->cap)
			lab_fail("umad_recv: -ENOSPC but needs %d of %zu bytes", len, m->cap);
		msg_reserve(m, (size_t)len);
		if (grown)
			(*grown)++;
	}
}

uint32_t lab_tid(const struct umad_sa_packet *sa)
{
	return (uint32_t)be64toh(sa->mad_hdr.tid);
}

void *lab_sa_request(size_t mad_len, uint8_t method, uint16_t attr_id, uint64_t comp_mask,
		     uint32_t tid)
{
	void *umad = calloc(1, umad_size() + mad_len);
	struct umad_sa_packet *sa;

	if (!umad)
		lab_fail("out of memory");
	sa = umad_get_mad(umad);
	sa->mad_hdr.base_version = 1;
	sa->mad_hdr.mgmt_class = UMAD_CLASS_SUBN_ADM;
	sa->mad_hdr.class_version = UMAD_SA_CLASS_VERSION;
	sa->mad_hdr.method = method;
	sa->mad_hdr.tid = htobe64(tid);
	sa->mad_hdr.attr_id = htobe16(attr_id);
	sa->comp_mask = htobe64(comp_mask);
	return umad;
}

void lab_send(struct lab_port *p, void *umad, size_t mad_len, uint16_t dlid, int timeout_ms,
	      int retries)
{
	int ret;

	umad_set_addr(umad, dlid, 1, 0, (int)LAB_QP1_QKEY);
	ret = umad_send(p->fd, p->agent, umad, (int)mad_len, timeout_ms, retries);
	if (ret < 0)
		lab_fail("umad_send to lid %u: %s", dlid, strerror(-ret));
}

void lab_wait_response(struct lab_port *p, struct lab_msg *m, uint32_t tid, int timeout_ms)
{
	double deadline = lab_now_ms() + timeout_ms;

	for (;;) {
		int left = (int)(deadline - lab_now_ms());
		const struct umad_sa_packet *sa;
		int ret;

		if (left < 0)
			left = 0;
		ret = lab_recv(p, m, left, NULL);
		if (ret < 0)
			lab_fail("no response to TID 0x%x within %d ms (%s)", tid, timeout_ms,
				 strerror(-ret));
		sa = lab_msg_sa(m);
		if (lab_tid(sa) == tid && umad_status(m->umad))
			lab_fail("request TID 0x%x: send status %d (%s)", tid,
				 umad_status(m->umad), strerror(umad_status(m->umad)));
		if (lab_tid(sa) == tid && (sa->mad_hdr.method & UMAD_METHOD_RESP_MASK))
			return;
		printf("skipped: method 0x%02x attr 0x%04x tid 0x%x while waiting for 0x%x\n",
		       sa->mad_hdr.method, be16toh(sa->mad_hdr.attr_id), lab_tid(sa), tid);
	}
}

void lab_pattern(uint8_t *rec, size_t len, uint32_t idx)
{
	for (size_t j = 0; j < len; j++)
		rec[j] = (uint8_t)(idx * 31u + j * 7u + 1u);
	if (len >= 4) { /* the index itself, so a reordering shows too */
		uint32_t be = htobe32(idx);

		memcpy(rec, &be, sizeof(be));
	}
}
