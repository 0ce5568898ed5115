/*
 * shim_netlink - NETLINK_RDMA for the lab, whose kernel has no ib_core. When
 * socket(AF_NETLINK, SOCK_RAW|SOCK_DGRAM [|flags], NETLINK_RDMA) fails with EPROTONOSUPPORT and
 * LSA_SHIM_NETLINK_DIR names the node's rendezvous (shim_netlink.h), the process gets one end of
 * a unix datagram socketpair instead; a relay thread holds the other end and carries datagrams
 * between it and the kernel double (lsa_nlkernel) that plays this node's kernel.
 *
 * What the process sees is what the kernel's netlink gives it: a real descriptor (poll, epoll,
 * O_NONBLOCK, O_CLOEXEC as asked; read/recv/send/write work on it directly); bind() with
 * nl_groups and setsockopt(SOL_NETLINK, NETLINK_ADD/DROP_MEMBERSHIP) join and leave groups, and
 * membership of RDMA_NL_GROUP_LS registers the socket as a listener of its node (a rebind with
 * other groups, DROP_MEMBERSHIP, close() and exit leave it); getsockname() gives its port id and
 * groups; sendto()/sendmsg() to nl_pid 0 reach the kernel, other ports are refused
 * (ECONNREFUSED); recvfrom()/recvmsg() give the kernel's source address (nl_pid 0, nl_groups the
 * group's bit for multicast requests, 0 for unicast acks).
 *
 * Like the kernel, the relay multicasts each request of a double to the group only while this
 * socket is a member, and drops it when the process does not read fast enough (the socketpair is
 * full): netlink's overrun, which the next recvfrom()/recvmsg() reports as ENOBUFS unless the
 * socket set NETLINK_NO_ENOBUFS. It gives the process its own sequence numbers for the kernel's
 * requests, as one kernel would number them, and maps an answer's back to the double that asked
 * (a ring of NL_ROUTES; an answer for a double that is gone is dropped); an answer it cannot
 * map, and every request the process sends the kernel (SET_TIMEOUT), goes to every double
 * connected, and the latest request of each type is kept in the rendezvous for doubles that
 * start later.
 *
 * Not emulated: CAP_NET_ADMIN checks, delivery of a responder's answer to the group's other
 * members, sendmmsg/recvmmsg, dup()ed descriptors, use of the socket in a fork()ed child.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <rdma/rdma_netlink.h>

#include "shim_netlink.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

#ifndef NETLINK_RDMA
#define NETLINK_RDMA 20
#endif

enum {
	NL_MAX_FD = 4096,
	NL_MAX_CONNS = 32,	/* doubles connected to one socket at once */
	NL_ROUTES = 4096,	/* requests whose answers can be routed back */
	NL_BATCH = 64,		/* datagrams taken from one descriptor per wakeup */
	NL_SNDBUF = 1 << 20,	/* room for the process's unread requests */
	NL_SEND_TIMEOUT_MS = 1000,
	LS_MASK = 1u << (RDMA_NL_GROUP_LS - 1),
	TAG_WAKE = 0, TAG_APP = 1, TAG_LISTEN = 2, TAG_CONN = 16,
};

struct nl_conn {
	int fd;
	uint32_t gen;
};

struct nl_route {
	uint32_t seq, orig_seq;	/* seq 0: unused */
	unsigned conn;
	uint32_t gen;
};

struct nl_sock {
	int app_fd, relay_fd, wake_fd, ep_fd;
	dev_t dev;
	ino_t ino;
	pid_t owner;
	pthread_t thread;
	atomic_bool member;
	atomic_bool enobufs;	/* an overrun not yet reported to the process */
	atomic_bool no_enobufs;	/* NETLINK_NO_ENOBUFS */

	pthread_mutex_t lock;	/* the fields below, up to the relay's own */
	pthread_cond_t retired_cond;
	uint32_t port_id, groups;
	bool bound, stop;
	int listen_fd;		/* while a member of RDMA_NL_GROUP_LS */
	int retired_fd;		/* a listener handed to the relay to close */
	char reg_path[PATH_MAX];

	/* the relay thread's own */
	int relay_listen_fd;
	struct nl_conn conns[NL_MAX_CONNS];
	uint32_t gen_next, seq_next;
	struct nl_route routes[NL_ROUTES];
	uint64_t overruns;
	uint8_t buf[SHIM_NL_DGRAM_MAX];
};

static int (*real_socket)(int, int, int);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);

static pthread_once_t nl_once = PTHREAD_ONCE_INIT;
static struct nl_sock *_Atomic nl_by_fd[NL_MAX_FD];
static atomic_uint nl_sockets, nl_registrations;

static void nl_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void nl_trace(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	shim_vtrace(fmt, ap);
	va_end(ap);
}

/* --- registration in the rendezvous ------------------------------------------- */

static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void nl_wake(struct nl_sock *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) != sizeof(one))
		nl_trace("netlink: cannot wake the relay: %s", strerror(errno));
}

/* With s->lock held: listen on the entry's address, then publish the entry. */
static int nl_register(struct nl_sock *s)
{
	const char *dir = getenv(SHIM_NL_DIR_ENV);
	struct sockaddr_un sa;
	char name[64];
	struct stat st;
	socklen_t alen;
	int lfd, fd, ret;

	if (!dir || !*dir)
		return -ENOENT;
	ret = mkdir_p(dir);
	if (ret < 0)
		return ret;
	if (stat(dir, &st) < 0)
		return -errno;
	snprintf(name, sizeof(name), SHIM_NL_LISTENER_PREFIX "%d.%u", (int)getpid(),
		 atomic_fetch_add(&nl_registrations, 1));
	if ((size_t)snprintf(s->reg_path, sizeof(s->reg_path), "%s/%s", dir, name) >=
	    sizeof(s->reg_path))
		return -ENAMETOOLONG;
	lfd = real_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	alen = shim_nl_listener_addr(&sa, st.st_dev, st.st_ino, name);
	if (real_bind(lfd, (struct sockaddr *)&sa, alen) < 0 || listen(lfd, 64) < 0) {
		ret = -errno;
		goto out_close_listener;
	}
	fd = open(s->reg_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out_close_listener;
	}
	close(fd);
	s->listen_fd = lfd;
	atomic_store(&s->member, true);
	nl_wake(s);
	nl_trace("netlink: fd %d joined RDMA_NL_GROUP_LS as %s", s->app_fd, s->reg_path);
	return 0;

out_close_listener:
	close(lfd);
	s->reg_path[0] = '\0';
	return ret;
}

/* With s->lock held: unpublish the entry, then have the relay close the listener. */
static void nl_deregister(struct nl_sock *s)
{
	/* the entry first: a double that still sees it may send, and the relay still delivers */
	if (s->reg_path[0] && unlink(s->reg_path) < 0)
		nl_trace("netlink: cannot remove %s: %s", s->reg_path, strerror(errno));
	atomic_store(&s->member, false);
	nl_trace("netlink: fd %d left RDMA_NL_GROUP_LS", s->app_fd);
	s->reg_path[0] = '\0';
	s->retired_fd = s->listen_fd;
	s->listen_fd = -1;
	nl_wake(s);
	while (s->retired_fd >= 0)
		pthread_cond_wait(&s->retired_cond, &s->lock);
}

/* With s->lock held: registered exactly while the groups hold RDMA_NL_GROUP_LS. */
static int nl_update_membership(struct nl_sock *s)
{
	bool want = s->groups & LS_MASK;

	if (want && s->listen_fd < 0)
		return nl_register(s);
	if (!want && s->listen_fd >= 0)
		nl_deregister(s);
	return 0;
}

/* --- the relay ---------------------------------------------------------------- */

static uint64_t conn_tag(unsigned i, uint32_t gen)
{
	return (uint64_t)gen << 32 | (TAG_CONN + i);
}

static void conn_close(struct nl_sock *s, unsigned i)
{
	epoll_ctl(s->ep_fd, EPOLL_CTL_DEL, s->conns[i].fd, NULL);
	close(s->conns[i].fd);
	s->conns[i].fd = -1;
	s->conns[i].gen = 0;
}

static void conn_send(struct nl_sock *s, unsigned i, const void *p, size_t len)
{
	if (send(s->conns[i].fd, p, len, MSG_NOSIGNAL) != (ssize_t)len) {
		nl_trace("netlink: a double is gone or stuck (%s): dropped", strerror(errno));
		conn_close(s, i);
	}
}

static void conn_send_all(struct nl_sock *s, const void *p, size_t len)
{
	for (unsigned i = 0; i < NL_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_send(s, i, p, len);
}

/* The route of a sequence number this socket was given, live or not (its double gone). */
static struct nl_route *route_find(struct nl_sock *s, uint32_t seq)
{
	struct nl_route *r = &s->routes[seq % NL_ROUTES];

	return seq && r->seq == seq ? r : NULL;
}

static bool route_live(const struct nl_sock *s, const struct nl_route *r)
{
	return s->conns[r->conn].fd >= 0 && s->conns[r->conn].gen == r->gen;
}

static uint32_t route_add(struct nl_sock *s, unsigned conn, uint32_t orig_seq)
{
	uint32_t seq = ++s->seq_next;
	struct nl_route *r;

	if (!seq)
		seq = ++s->seq_next;
	r = &s->routes[seq % NL_ROUTES];
	r->seq = seq;
	r->orig_seq = orig_seq;
	r->conn = conn;
	r->gen = s->conns[conn].gen;
	return seq;
}

/* The kernel's state a later double must see: the request, atomically, by its type. */
static void inbox_save(const void *p, size_t len, uint16_t type)
{
	const char *dir = getenv(SHIM_NL_DIR_ENV);
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	int fd;

	if (!dir || (size_t)snprintf(path, sizeof(path), "%s/" SHIM_NL_INBOX_PREFIX "%04x", dir,
				     type) >= sizeof(path))
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, p, len) != (ssize_t)len || close(fd) < 0 || rename(tmp, path) < 0) {
		nl_trace("netlink: cannot keep %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* A datagram the process sent to the kernel: answers to their double, the rest to all. */
static void from_app(struct nl_sock *s, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (len - off >= NLMSG_HDRLEN) {
		struct nl_route *r;
		struct nlmsghdr h;
		size_t step;

		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off)
			break;	/* the kernel stops here: the doubles judge the rest */
		step = align4(h.nlmsg_len) < len - off ? align4(h.nlmsg_len) : len - off;
		if (!(h.nlmsg_flags & NLM_F_REQUEST) && (r = route_find(s, h.nlmsg_seq))) {
			/* the answer goes to the double that asked, under its own number; if that
			 * double is gone, nobody waits for it */
			memcpy(p + off + offsetof(struct nlmsghdr, nlmsg_seq), &r->orig_seq,
			       sizeof(r->orig_seq));
			if (route_live(s, r))
				conn_send(s, r->conn, p + off, step);
		} else {
			conn_send_all(s, p + off, step);
			if (h.nlmsg_flags & NLM_F_REQUEST)
				inbox_save(p + off, step, h.nlmsg_type);
		}
		off += step;
	}
	if (off < len)
		conn_send_all(s, p + off, len - off);
}

/*
 * A datagram from double i. Acks and other control messages (type < NLMSG_MIN_TYPE) are
 * unicast to this socket; anything else is the kernel's multicast to the group: delivered only
 * to a member, under this socket's sequence numbers.
 */
static void from_double(struct nl_sock *s, unsigned i, uint8_t *p, size_t len)
{
	struct nlmsghdr h;
	size_t off = 0;

	if (len >= NLMSG_HDRLEN)
		memcpy(&h, p, sizeof(h));
	if (len < NLMSG_HDRLEN || h.nlmsg_type >= NLMSG_MIN_TYPE) {
		if (!atomic_load(&s->member))
			return;
		while (len - off >= NLMSG_HDRLEN) {
			uint32_t seq;

			memcpy(&h, p + off, sizeof(h));
			seq = route_add(s, i, h.nlmsg_seq);
			memcpy(p + off + offsetof(struct nlmsghdr, nlmsg_seq), &seq, sizeof(seq));
			if (h.nlmsg_len < NLMSG_HDRLEN || align4(h.nlmsg_len) >= len - off)
				break;
			off += align4(h.nlmsg_len);
		}
	}
	if (send(s->relay_fd, p, len, MSG_DONTWAIT) != (ssize_t)len) {
		/* netlink_overrun(): the message is lost; the double's request times out */
		s->overruns++;
		if (!atomic_load(&s->no_enobufs))
			atomic_store(&s->enobufs, true);
		nl_trace("netlink: fd %d does not read: a message dropped (%llu so far)", s->app_fd,
			 (unsigned long long)s->overruns);
	}
}

static void relay_accept(struct nl_sock *s)
{
	for (;;) {
		struct timeval tv = { .tv_sec = NL_SEND_TIMEOUT_MS / 1000,
				      .tv_usec = NL_SEND_TIMEOUT_MS % 1000 * 1000 };
		struct epoll_event ev = { .events = EPOLLIN };
		unsigned i;
		int fd = accept4(s->relay_listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			return;
		for (i = 0; i < NL_MAX_CONNS && s->conns[i].fd >= 0; i++)
			;
		if (i == NL_MAX_CONNS) {
			nl_trace("netlink: %d doubles already: one refused", NL_MAX_CONNS);
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		s->conns[i].fd = fd;
		s->conns[i].gen = ++s->gen_next ? s->gen_next : ++s->gen_next;
		ev.data.u64 = conn_tag(i, s->conns[i].gen);
		if (epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(s, i);
	}
}

/* Applies the owner's changes: the listener to poll, the one to close. true: stop. */
static bool relay_sync(struct nl_sock *s)
{
	uint64_t cnt;
	bool stop;

	if (read(s->wake_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		nl_trace("netlink: wake read: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	if (s->relay_listen_fd != s->listen_fd) {
		if (s->relay_listen_fd >= 0)
			epoll_ctl(s->ep_fd, EPOLL_CTL_DEL, s->relay_listen_fd, NULL);
		s->relay_listen_fd = s->listen_fd;
		if (s->relay_listen_fd >= 0) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };

			epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, s->relay_listen_fd, &ev);
		}
	}
	if (s->retired_fd >= 0) {
		close(s->retired_fd);
		s->retired_fd = -1;
		pthread_cond_broadcast(&s->retired_cond);
	}
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void *relay(void *arg)
{
	struct nl_sock *s = arg;
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(s->ep_fd, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int e = 0; e < n; e++) {
			uint32_t tag = (uint32_t)evs[e].data.u64, gen = (uint32_t)(evs[e].data.u64 >> 32);

			if (tag == TAG_WAKE) {
				if (relay_sync(s))
					goto out;
			} else if (tag == TAG_LISTEN) {
				if (s->relay_listen_fd >= 0)
					relay_accept(s);
			} else if (tag == TAG_APP) {
				for (int k = 0; k < NL_BATCH; k++) {
					ssize_t len = recv(s->relay_fd, s->buf, sizeof(s->buf), MSG_DONTWAIT);

					if (len < 0)
						break;
					from_app(s, s->buf, (size_t)len);
				}
			} else {
				unsigned i = tag - TAG_CONN;

				for (int k = 0; k < NL_BATCH && i < NL_MAX_CONNS &&
						s->conns[i].fd >= 0 && s->conns[i].gen == gen; k++) {
					ssize_t len = recv(s->conns[i].fd, s->buf, sizeof(s->buf), MSG_DONTWAIT);

					if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR)) {
						conn_close(s, i);
						break;
					}
					if (len < 0)
						break;
					from_double(s, i, s->buf, (size_t)len);
				}
			}
		}
	}
out:
	for (unsigned i = 0; i < NL_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(s, i);
	return NULL;
}

/* --- sockets -------------------------------------------------------------------- */

static void nl_free(struct nl_sock *s)
{
	if (s->relay_fd >= 0)
		close(s->relay_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->ep_fd >= 0)
		close(s->ep_fd);
	if (s->relay_listen_fd >= 0)
		close(s->relay_listen_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->retired_cond);
	free(s);
}

/* At exit, members leave the rendezvous (their listeners close with the process). */
static void nl_atexit(void)
{
	for (int fd = 0; fd < NL_MAX_FD; fd++) {
		struct nl_sock *s = atomic_load(&nl_by_fd[fd]);

		if (s && s->owner == getpid() && s->reg_path[0])
			unlink(s->reg_path);
	}
}

/* A child does not inherit the relays: its copies of the descriptors are plain sockets. */
static void nl_atfork_child(void)
{
	for (int fd = 0; fd < NL_MAX_FD; fd++)
		atomic_store(&nl_by_fd[fd], NULL);
}

static void nl_init(void)
{
	real_socket = dlsym(RTLD_NEXT, "socket");
	real_bind = dlsym(RTLD_NEXT, "bind");
	real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
	real_getsockname = dlsym(RTLD_NEXT, "getsockname");
	real_connect = dlsym(RTLD_NEXT, "connect");
	real_sendto = dlsym(RTLD_NEXT, "sendto");
	real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
	real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
	atexit(nl_atexit);
	pthread_atfork(NULL, NULL, nl_atfork_child);
}

/* The fake socket of fd, if fd is still the descriptor it was made for. */
static struct nl_sock *nl_of(int fd)
{
	struct nl_sock *s;
	struct stat st;

	pthread_once(&nl_once, nl_init);
	if (fd < 0 || fd >= NL_MAX_FD)
		return NULL;
	s = atomic_load(&nl_by_fd[fd]);
	if (!s || fstat(fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino)
		return NULL;
	return s;
}

static int nl_new(int flags)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int sv[2], sndbuf = NL_SNDBUF, err;
	sigset_t all, old;
	struct nl_sock *s = calloc(1, sizeof(*s));
	struct stat st;

	if (!s)
		return -ENOMEM;
	s->relay_fd = s->wake_fd = s->ep_fd = s->listen_fd = s->retired_fd = -1;
	s->relay_listen_fd = -1;
	for (unsigned i = 0; i < NL_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->retired_cond, NULL);
	if (socketpair(AF_UNIX, SOCK_DGRAM | flags, 0, sv) < 0) {
		err = -errno;
		goto out_free;
	}
	s->app_fd = sv[0];
	s->relay_fd = sv[1];
	if (s->app_fd >= NL_MAX_FD) {
		close(s->app_fd);
		err = -EMFILE;
		goto out_free;
	}
	fcntl(s->relay_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->relay_fd, F_SETFD, FD_CLOEXEC);
	setsockopt(s->relay_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->wake_fd < 0 || s->ep_fd < 0 || fstat(s->app_fd, &st) < 0) {
		err = -errno;
		goto out_close_app;
	}
	ev.data.u64 = TAG_WAKE;
	epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, s->wake_fd, &ev);
	ev.data.u64 = TAG_APP;
	epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, s->relay_fd, &ev);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->owner = getpid();
	/* the kernel's autobind: the process id for the first socket, then negative ids */
	s->port_id = atomic_fetch_add(&nl_sockets, 1) ? (uint32_t)-4096 - atomic_load(&nl_sockets)
						      : (uint32_t)getpid();
	/* No signal for the relay: a process that waits for SIGTERM on a signalfd blocks it in
	 * its own threads only, and the default action must not reach it through this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&s->thread, NULL, relay, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out_close_app;
	atomic_store(&nl_by_fd[s->app_fd], s);
	nl_trace("netlink: NETLINK_RDMA for the lab: fd %d", s->app_fd);
	return s->app_fd;

out_close_app:
	close(s->app_fd);
out_free:
	nl_free(s);
	return err;
}

void shim_nl_close(int fd)
{
	struct nl_sock *s;

	if (fd < 0 || fd >= NL_MAX_FD || !(s = atomic_load(&nl_by_fd[fd])))
		return;
	atomic_store(&nl_by_fd[fd], NULL);
	if (s->owner != getpid())
		return;
	pthread_mutex_lock(&s->lock);
	if (s->listen_fd >= 0)
		nl_deregister(s);
	s->stop = true;
	nl_wake(s);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	nl_free(s);
}

/* --- interposed calls ------------------------------------------------------------- */

/* libc's convention from a negative errno. */
static int nl_ret(int ret)
{
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/* The groups become (groups & ~clear) | set; membership of RDMA_NL_GROUP_LS follows. */
static int nl_change_groups(struct nl_sock *s, uint32_t clear, uint32_t set)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	s->groups = (s->groups & ~clear) | set;
	ret = nl_update_membership(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	const char *dir;
	int fd, base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

	pthread_once(&nl_once, nl_init);
	fd = real_socket(domain, type, protocol);
	if (fd >= 0 || domain != AF_NETLINK || protocol != NETLINK_RDMA || errno != EPROTONOSUPPORT)
		return fd;
	dir = getenv(SHIM_NL_DIR_ENV);
	if (!dir || !*dir || (base != SOCK_RAW && base != SOCK_DGRAM)) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	return nl_ret(nl_new(type & (SOCK_NONBLOCK | SOCK_CLOEXEC)));
}

static int nl_addr_check(const struct sockaddr *addr, socklen_t len, const struct sockaddr_nl **nl)
{
	if (!addr || len < sizeof(struct sockaddr_nl) || addr->sa_family != AF_NETLINK)
		return -EINVAL;
	*nl = (const struct sockaddr_nl *)addr;
	return 0;
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct nl_sock *s = nl_of(fd);
	const struct sockaddr_nl *nl;
	int ret;

	if (!s)
		return real_bind(fd, addr, len);
	ret = nl_addr_check(addr, len, &nl);
	if (ret)
		return nl_ret(ret);
	pthread_mutex_lock(&s->lock);
	if (s->bound && nl->nl_pid && nl->nl_pid != s->port_id)
		ret = -EINVAL;
	if (!ret && nl->nl_pid)
		s->port_id = nl->nl_pid;
	s->bound = true;
	pthread_mutex_unlock(&s->lock);
	return nl_ret(ret ? ret : nl_change_groups(s, ~0u, nl->nl_groups));	/* a rebind replaces them */
}

SHIM_EXPORT int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	struct nl_sock *s = nl_of(fd);
	unsigned group;
	uint32_t bit;

	if (!s || level != SOL_NETLINK)
		return real_setsockopt(fd, level, opt, val, len);
	if (opt != NETLINK_ADD_MEMBERSHIP && opt != NETLINK_DROP_MEMBERSHIP &&
	    opt != NETLINK_NO_ENOBUFS)
		return 0;	/* NETLINK_EXT_ACK...: accepted, no effect here */
	if (!val || len < sizeof(int))
		return nl_ret(-EINVAL);
	memcpy(&group, val, sizeof(group));
	if (opt == NETLINK_NO_ENOBUFS) {
		atomic_store(&s->no_enobufs, group != 0);
		return 0;
	}
	if (group < 1 || group > 32)
		return nl_ret(-EINVAL);
	bit = 1u << (group - 1);
	return nl_ret(opt == NETLINK_ADD_MEMBERSHIP ? nl_change_groups(s, 0, bit)
						    : nl_change_groups(s, bit, 0));
}

static void nl_fill(struct sockaddr *addr, socklen_t *len, uint32_t pid, uint32_t groups)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK, .nl_pid = pid, .nl_groups = groups };

	if (!addr || !len)
		return;
	memcpy(addr, &nl, *len < sizeof(nl) ? *len : sizeof(nl));
	*len = sizeof(nl);
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct nl_sock *s = nl_of(fd);

	if (!s)
		return real_getsockname(fd, addr, len);
	pthread_mutex_lock(&s->lock);
	nl_fill(addr, len, s->port_id, s->groups);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct nl_sock *s = nl_of(fd);
	const struct sockaddr_nl *nl;

	if (!s)
		return real_connect(fd, addr, len);
	if (addr && len >= sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC)
		return 0;
	if (nl_addr_check(addr, len, &nl))
		return nl_ret(-EINVAL);
	return nl_ret(nl->nl_pid ? -ECONNREFUSED : 0);
}

/* 0 when a destination is the kernel (or none is given); else netlink's -errno. */
static int nl_dest(const void *addr, socklen_t len)
{
	const struct sockaddr_nl *nl;

	if (!addr)
		return 0;
	if (nl_addr_check(addr, len, &nl))
		return -EINVAL;
	return nl->nl_pid ? -ECONNREFUSED : 0;
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	struct nl_sock *s = nl_of(fd);
	int err;

	if (!s)
		return real_sendto(fd, buf, len, flags, addr, alen);
	err = nl_dest(addr, alen);
	if (err)
		return nl_ret(err);
	return real_sendto(fd, buf, len, flags, NULL, 0);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct nl_sock *s = nl_of(fd);
	struct msghdr m;
	int err;

	if (!s || !msg)
		return real_sendmsg(fd, msg, flags);
	err = nl_dest(msg->msg_name, msg->msg_namelen);
	if (err)
		return nl_ret(err);
	m = *msg;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	return real_sendmsg(fd, &m, flags);
}

/* The kernel's source address of a received datagram whose first bytes are head[0..n). */
static uint32_t nl_src_groups(const void *head, size_t n)
{
	uint16_t type;

	if (n < offsetof(struct nlmsghdr, nlmsg_type) + sizeof(type))
		return LS_MASK;
	memcpy(&type, (const uint8_t *)head + offsetof(struct nlmsghdr, nlmsg_type), sizeof(type));
	return type < NLMSG_MIN_TYPE ? 0 : LS_MASK;
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
			     socklen_t *alen)
{
	struct nl_sock *s = nl_of(fd);
	ssize_t n;

	if (!s)
		return real_recvfrom(fd, buf, len, flags, addr, alen);
	if (atomic_exchange(&s->enobufs, false))
		return nl_ret(-ENOBUFS);	/* sock_error(): reported once */
	n = real_recvfrom(fd, buf, len, flags, NULL, NULL);
	if (n >= 0)
		nl_fill(addr, alen, 0, nl_src_groups(buf, (size_t)n < len ? (size_t)n : len));
	return n;
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct nl_sock *s = nl_of(fd);
	void *name;
	socklen_t namelen;
	ssize_t n;

	if (!s || !msg)
		return real_recvmsg(fd, msg, flags);
	if (atomic_exchange(&s->enobufs, false))
		return nl_ret(-ENOBUFS);	/* sock_error(): reported once */
	name = msg->msg_name;
	namelen = msg->msg_namelen;
	msg->msg_name = NULL;
	msg->msg_namelen = 0;
	n = real_recvmsg(fd, msg, flags);
	msg->msg_name = name;
	msg->msg_namelen = namelen;
	if (n >= 0 && name) {
		const struct iovec *v = msg->msg_iovlen ? &msg->msg_iov[0] : NULL;
		size_t got = v ? ((size_t)n < v->iov_len ? (size_t)n : v->iov_len) : 0;

		nl_fill(name, &msg->msg_namelen, 0, nl_src_groups(v ? v->iov_base : NULL, got));
	}
	return n;
}
