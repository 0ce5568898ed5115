/*
 * epoll_wake - the umad descriptor works in epoll beside other descriptors,
 * as on hardware. One epoll set holds the umad fd, one end of a connected
 * unix socketpair and a timerfd; the program blocks in epoll_wait three times
 * and must be woken each time by exactly the descriptor that became ready:
 *   1. the timerfd firing (100 ms);
 *   2. a byte written on the socket's other end by a helper thread (100 ms);
 *   3. the response to a SubnAdmGet ClassPortInfo sent to the SM.
 * Under stock umad2sim, step 0 (epoll_ctl on the umad fd) already fails with
 * EBADF. Prints one line per wakeup; exit status 0 when all three came.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lab_mad.h"

enum { WAIT_MS = 5000, DELAY_MS = 100 };
enum { SRC_UMAD = 1, SRC_SOCKET, SRC_TIMER };

static const char *src_name(int src)
{
	return src == SRC_UMAD ? "umad" : src == SRC_SOCKET ? "socket" : "timerfd";
}

static void *poke_socket(void *arg)
{
	int fd = *(int *)arg;
	struct timespec ts = { 0, DELAY_MS * 1000000L };

	nanosleep(&ts, NULL);
	if (write(fd, "x", 1) != 1)
		perror("write");
	return NULL;
}

static void watch(int ep, int fd, int src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)src };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		lab_fail("epoll_ctl(ADD, %s fd %d): %s", src_name(src), fd, strerror(errno));
}

/* Blocks until something is ready; it must be `want` alone. Returns the ms waited. */
static double wake_by(int ep, int want)
{
	struct epoll_event evs[4];
	double t0 = lab_now_ms();
	int n = epoll_wait(ep, evs, 4, WAIT_MS);

	if (n < 0)
		lab_fail("epoll_wait: %s", strerror(errno));
	if (n == 0)
		lab_fail("waiting for the %s: nothing within %d ms", src_name(want), WAIT_MS);
	for (int i = 0; i < n; i++)
		if ((int)evs[i].data.u32 != want)
			lab_fail("waiting for the %s: woken by the %s", src_name(want),
				 src_name((int)evs[i].data.u32));
	return lab_now_ms() - t0;
}

static void expect_idle(int ep, const char *after)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n != 0)
		lab_fail("after the %s: %d descriptors still ready (%s)", after, n,
			 n > 0 ? src_name((int)ev.data.u32) : strerror(errno));
}

int main(void)
{
	struct lab_port port;
	struct lab_msg m = { 0 };
	struct itimerspec its = { .it_value = { 0, DELAY_MS * 1000000L } };
	uint32_t tid = (uint32_t)getpid() << 8;
	const struct umad_sa_packet *sa;
	int ep, tfd, sv[2], ret;
	uint64_t ticks;
	pthread_t poker;
	char byte;
	void *req;
	double ms;

	lab_port_open(&port, NULL, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep < 0 || tfd < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		lab_fail("epoll/timerfd/socketpair: %s", strerror(errno));
	watch(ep, umad_get_fd(port.fd), SRC_UMAD);
	watch(ep, sv[0], SRC_SOCKET);
	watch(ep, tfd, SRC_TIMER);
	printf("epoll set: umad fd %d, socket fd %d, timerfd %d\n", umad_get_fd(port.fd), sv[0],
	       tfd);
	expect_idle(ep, "setup");

	/* 1. the timer */
	if (timerfd_settime(tfd, 0, &its, NULL) < 0)
		lab_fail("timerfd_settime: %s", strerror(errno));
	ms = wake_by(ep, SRC_TIMER);
	if (read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
		lab_fail("timerfd read");
	printf("woken by timerfd after %.1f ms\n", ms);
	expect_idle(ep, "timerfd");

	/* 2. the socket, written while we wait */
	if (pthread_create(&poker, NULL, poke_socket, &sv[1]))
		lab_fail("pthread_create");
	ms = wake_by(ep, SRC_SOCKET);
	pthread_join(poker, NULL);
	if (read(sv[0], &byte, 1) != 1 || byte != 'x')
		lab_fail("socket read");
	printf("woken by socket after %.1f ms\n", ms);
	expect_idle(ep, "socket");

	/* 3. a MAD: the SA's ClassPortInfo */
	req = lab_sa_request(LAB_MAD_LEN, UMAD_METHOD_GET, UMAD_ATTR_CLASS_PORT_INFO, 0, tid);
	lab_send(&port, req, LAB_MAD_LEN, port.sm_lid, 1000, 2);
	free(req);
	ms = wake_by(ep, SRC_UMAD);
	ret = lab_recv(&port, &m, 0, NULL);
	if (ret < 0)
		lab_fail("umad fd readable but umad_recv: %s", strerror(-ret));
	sa = lab_msg_sa(&m);
	LAB_EXPECT_EQ("send status", 0, umad_status(m.umad));
	LAB_EXPECT_EQ("response TID", tid, lab_tid(sa));
	LAB_EXPECT_EQ("response method", UMAD_METHOD_GET_RESP, sa->mad_hdr.method);
	LAB_EXPECT_EQ("response attribute", UMAD_ATTR_CLASS_PORT_INFO, be16toh(sa->mad_hdr.attr_id));
	LAB_EXPECT_EQ("response status", 0, be16toh(sa->mad_hdr.status));
	printf("woken by umad after %.1f ms: ClassPortInfo from SM lid %u, %d bytes\n", ms,
	       port.sm_lid, m.len);
	expect_idle(ep, "MAD");

	close(sv[0]);
	close(sv[1]);
	close(tfd);
	close(ep);
	lab_msg_free(&m);
	lab_port_close(&port);
	printf("epoll: woken by timerfd, socket and umad\n");
	return 0;
}
