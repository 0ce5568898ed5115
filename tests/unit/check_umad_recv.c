/*
 * check_umad_recv.c - umad_transport's receive path against a libibumad stand-in that keeps a
 * message too large for the buffer at the head of the queue, as the kernel does (-ENOSPC).
 *  - A message over RBUF_MAX (a 300 MB RMPP Set any node may send) is taken off the queue and
 *    dropped (-EMSGSIZE once), and the message behind it is received. It once stayed at the
 *    head for ever: nothing behind it was read, and the daemon spun at 100% CPU.
 *  - A large message under the cap is received whole, and the buffer it grew is given back
 *    at the next receive (it was kept).
 * The umad_* functions below stand in for libibumad; umad_transport.c is compiled in.
 */
#include "../../src/fabric/umad_transport.c"

#include "check.h"

static struct { size_t len; unsigned char tag; } queue[4];
static size_t q_head, q_len, last_cap;

size_t umad_size(void) { return 64; }
void *umad_get_mad(void *umad) { return (unsigned char *)umad + 64; }
ib_mad_addr_t *umad_get_mad_addr(void *umad) { return umad; }
int umad_status(void *umad) { (void)umad; return 0; }

int umad_recv(int fd, void *umad, int *length, int timeout_ms)
{
	(void)fd;
	(void)timeout_ms;
	if (q_head == q_len) {
		errno = EAGAIN;
		return -EAGAIN;
	}
	last_cap = (size_t)*length;
	if ((size_t)*length < queue[q_head].len) {	/* stays at the head */
		*length = (int)queue[q_head].len;
		errno = ENOSPC;
		return -ENOSPC;
	}
	memset(umad, 0, 64);
	((unsigned char *)umad)[64] = queue[q_head].tag;	/* the MAD's first byte */
	*length = (int)queue[q_head].len;
	q_head++;
	return 1;
}

/* Not reached by the receive path. */
int umad_send(int fd, int agent, void *umad, int length, int timeout_ms, int retries)
{ (void)fd; (void)agent; (void)umad; (void)length; (void)timeout_ms; (void)retries; return -EIO; }
int umad_set_addr(void *umad, int dlid, int dqp, int sl, int qkey)
{ (void)umad; (void)dlid; (void)dqp; (void)sl; (void)qkey; return 0; }
int umad_get_port(const char *ca, int port, umad_port_t *p)
{ (void)ca; (void)port; (void)p; return -ENODEV; }
int umad_release_port(umad_port_t *p) { (void)p; return 0; }
int umad_get_ca(const char *ca, umad_ca_t *c) { (void)ca; (void)c; return -ENODEV; }
int umad_release_ca(umad_ca_t *c) { (void)c; return 0; }
int umad_init(void) { return 0; }
int umad_open_port(const char *ca, int port) { (void)ca; (void)port; return -ENODEV; }
int umad_close_port(int fd) { (void)fd; return 0; }
int umad_register(int fd, int mgmt_class, int mgmt_version, uint8_t rmpp_version,
		  long method_mask[16 / sizeof(long)])
{ (void)fd; (void)mgmt_class; (void)mgmt_version; (void)rmpp_version; (void)method_mask; return -1; }

int main(void)
{
	struct umad_transport *u = calloc(1, sizeof(*u));
	struct umad_msg msg;

	u->t.ops = &umad_ops;
	u->t.fd = 3;
	u->rbuf_len = RBUF_INITIAL;
	u->rbuf = malloc(u->rbuf_len);
	/* 300 MB, then a MAD */
	queue[0].len = 300u << 20;
	queue[0].tag = 1;
	queue[1].len = 256;
	queue[1].tag = 2;
	q_len = 2;
	CHECK_INT(-EMSGSIZE, recv_mad(&u->t, &msg));
	CHECK_INT(1, q_head);	/* taken off the queue */
	CHECK_INT(0, recv_mad(&u->t, &msg));
	CHECK_INT(2, msg.mad[0]);
	CHECK_INT(256, msg.len);
	CHECK_INT(-EAGAIN, recv_mad(&u->t, &msg));
	/* 8 MB, under the cap: received whole; the buffer goes back to its size after */
	queue[2].len = 8u << 20;
	queue[2].tag = 3;
	queue[3].len = 256;
	queue[3].tag = 4;
	q_len = 4;
	CHECK_INT(0, recv_mad(&u->t, &msg));
	CHECK_INT(3, msg.mad[0]);
	CHECK((size_t)msg.len == 8u << 20);
	CHECK_INT(0, recv_mad(&u->t, &msg));
	CHECK_INT(4, msg.mad[0]);
	CHECK_INT(RBUF_INITIAL, (int)u->rbuf_len);
	free(u->rbuf);
	free(u);
	return CHECK_DONE();
}
