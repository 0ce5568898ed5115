/*
 * nl_responder.c - a minimal RDMA_NL_LS responder for the lab's netlink tests: opens
 * NETLINK_RDMA (the shim's transport on these machines), joins RDMA_NL_GROUP_LS, sends
 * SET_TIMEOUT, and answers every RESOLVE with a fixed record (or the error reply, or nothing)
 * through the wire codec, in an epoll loop, until SIGTERM, when it leaves the group.
 * Misbehaviours on demand show that the double catches them.
 *
 *   lab_nl_responder [--record HEX] [--paths N] [--mode path|error|silent]
 *       [--set-timeout MS] [--join bind|setsockopt] [--leave-after N (at the Nth request, before
 *       answering it)] [--answer-twice]
 *       [--wrong-seq] [--all-primary] [--ready FILE]
 *
 * At exit it prints: requests, answered, errors, ignored, bad-source (datagrams whose source
 * address was not the kernel's), overruns (ENOBUFS: requests lost before it read them).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/ctl_proto.h"
#include "wire/nl_ls.h"
#include "wire/path_rec.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

enum mode { MODE_PATH, MODE_ERROR, MODE_SILENT };

struct responder {
	int fd;
	uint32_t port_id;
	enum mode mode;
	struct ibv_path_record rec;
	bool have_rec, answer_twice, wrong_seq, all_primary, joined_by_bind;
	unsigned paths;
	long leave_after;
	unsigned long requests, answered, errors, ignored, bad_source, overruns;
};

static void die(const char *what)
{
	fprintf(stderr, "lab_nl_responder: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void send_kernel(struct responder *r, const void *buf, size_t len, bool use_sendmsg)
{
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };	/* nl_pid 0: the kernel */
	ssize_t n;

	if (use_sendmsg) {
		struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
		struct msghdr m = { .msg_name = &k, .msg_namelen = sizeof(k), .msg_iov = &v,
				    .msg_iovlen = 1 };

		n = sendmsg(r->fd, &m, 0);
	} else {
		n = sendto(r->fd, buf, len, 0, (struct sockaddr *)&k, sizeof(k));
	}
	if (n != (ssize_t)len)
		die("send to the kernel");
}

static void membership(struct responder *r, bool join)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = r->port_id };
	int group = RDMA_NL_GROUP_LS;

	if (r->joined_by_bind) {	/* as ibacm: bind with the group's bit; leave by rebinding */
		a.nl_groups = join ? NL_LS_GROUP_MASK : 0;
		if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("bind");
	} else if (setsockopt(r->fd, SOL_NETLINK,
			      join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &group,
			      sizeof(group)) < 0) {
		die("setsockopt membership");
	}
}

/* The answer's paths: the record given (or one made from the request), LIDs counting up. */
static void answer(struct responder *r, const struct nlmsghdr *h, const struct nl_ls_resolve *q)
{
	struct ibv_path_record paths[NL_LS_MAX_PATHS];
	uint8_t out[NL_LS_ANSWER_MAX];
	struct nlmsghdr reply = *h;
	int n;

	for (unsigned i = 0; i < r->paths; i++) {
		paths[i] = r->rec;
		if (!r->have_rec) {
			pr_set_dgid(&paths[i], &q->dgid);
			if (q->has & NL_LS_HAS_SGID)
				pr_set_sgid(&paths[i], &q->sgid);
		}
		pr_set_dlid(&paths[i], (uint16_t)(pr_dlid(&r->rec) + i));
	}
	if (r->wrong_seq)
		reply.nlmsg_seq += 1000000;
	n = nl_ls_answer_encode(out, sizeof(out), &reply, q->path_use, paths, r->paths, r->port_id);
	if (n < 0)
		die("answer_encode");
	if (r->all_primary)	/* every record flagged as the primary one */
		for (unsigned i = 1; i < r->paths; i++) {
			uint32_t f = nl_ls_path_flags(q->path_use, true);

			memcpy(out + NLMSG_HDRLEN + i * NL_LS_PATH_ATTR_LEN + NLA_HDRLEN, &f, sizeof(f));
		}
	send_kernel(r, out, (size_t)n, true);
	if (r->answer_twice)
		send_kernel(r, out, (size_t)n, true);
	r->answered++;
}

static void refuse(struct responder *r, const struct nlmsghdr *h)
{
	uint8_t out[NL_LS_ERROR_LEN];

	nl_ls_error_encode(out, sizeof(out), h, r->port_id);
	send_kernel(r, out, sizeof(out), false);
	r->errors++;
}

static void take(struct responder *r, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct nlmsghdr h;
		struct nl_ls_resolve q;
		int n = nl_ls_frame(buf + off, len - off, &h);

		if (n < 0) {
			r->ignored++;
			return;
		}
		switch (nl_ls_classify(&h)) {
		case NL_LS_IGNORE:
			r->ignored++;
			break;
		case NL_LS_REFUSE:
			r->requests++;
			refuse(r, &h);
			break;
		case NL_LS_RESOLVE:
			r->requests++;
			if (r->leave_after >= 0 && r->requests == (unsigned long)r->leave_after) {
				/* out of the group first: the answer still reaches the kernel */
				membership(r, false);
				fprintf(stderr, "lab_nl_responder: left the group at request %ld\n",
					r->leave_after);
			}
			if (nl_ls_resolve_decode(buf + off, len - off, &q) < 0 || r->mode == MODE_ERROR)
				refuse(r, &h);
			else if (r->mode == MODE_PATH)
				answer(r, &h, &q);
			break;
		}
		off += (size_t)n;
	}
}

static void receive(struct responder *r)
{
	static uint8_t buf[65536];

	for (;;) {
		struct sockaddr_nl src;
		struct iovec v = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr m = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &v,
				    .msg_iovlen = 1 };
		ssize_t n;

		memset(&src, 0xee, sizeof(src));
		n = recvmsg(r->fd, &m, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS) {	/* requests lost: they time out in the kernel */
				r->overruns++;
				continue;
			}
			if (errno == EAGAIN || errno == EINTR)
				return;
			die("recvmsg");
		}
		if (m.msg_namelen != sizeof(src) || src.nl_family != AF_NETLINK || src.nl_pid != 0)
			r->bad_source++;
		take(r, buf, (size_t)n);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "record", required_argument, NULL, 'r' }, { "paths", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' }, { "set-timeout", required_argument, NULL, 't' },
		{ "join", required_argument, NULL, 'j' }, { "leave-after", required_argument, NULL, 'l' },
		{ "answer-twice", no_argument, NULL, '2' }, { "wrong-seq", no_argument, NULL, 'w' },
		{ "all-primary", no_argument, NULL, 'p' }, { "ready", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct responder r = { .paths = 1, .leave_after = -1, .joined_by_bind = true };
	const char *ready = NULL;
	long set_timeout = -1;
	struct sockaddr_nl self;
	socklen_t slen = sizeof(self);
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t sigs;
	int c, sfd, ep;
	uint8_t rec_wire[PR_LEN];

	pr_set_dlid(&r.rec, 17);
	pr_set_slid(&r.rec, 1);
	pr_set_numb_path(&r.rec, 1, true);
	pr_set_pkey(&r.rec, 0xffff);
	pr_set_mtu(&r.rec, 2, 4);
	pr_set_rate(&r.rec, 2, 3);
	pr_set_pkt_life(&r.rec, 2, 18);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (ctl_hex_decode(optarg, rec_wire, PR_LEN) < 0 ||
			    pr_decode(rec_wire, PR_LEN, &r.rec) < 0) {
				fprintf(stderr, "lab_nl_responder: --record: 128 hex digits\n");
				return 2;
			}
			r.have_rec = true;
			break;
		case 'n': r.paths = (unsigned)atoi(optarg); break;
		case 'm':
			r.mode = !strcmp(optarg, "error") ? MODE_ERROR :
				 !strcmp(optarg, "silent") ? MODE_SILENT : MODE_PATH;
			break;
		case 't': set_timeout = atol(optarg); break;
		case 'j': r.joined_by_bind = strcmp(optarg, "setsockopt") != 0; break;
		case 'l': r.leave_after = atol(optarg); break;
		case '2': r.answer_twice = true; break;
		case 'w': r.wrong_seq = true; break;
		case 'p': r.all_primary = true; break;
		case 'R': ready = optarg; break;
		default: return 2;
		}
	}
	if (r.paths < 1 || r.paths > NL_LS_MAX_PATHS)
		return 2;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	r.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_RDMA);
	if (sfd < 0 || r.fd < 0)
		die("socket(AF_NETLINK, NETLINK_RDMA)");
	r.port_id = (uint32_t)getpid();
	membership(&r, true);
	if (getsockname(r.fd, (struct sockaddr *)&self, &slen) < 0 || self.nl_family != AF_NETLINK ||
	    !(self.nl_groups & NL_LS_GROUP_MASK))
		die("getsockname: not a member of RDMA_NL_GROUP_LS");
	r.port_id = self.nl_pid;
	if (set_timeout >= 0) {
		uint8_t st[NL_LS_SET_TIMEOUT_LEN];

		nl_ls_set_timeout_encode(st, sizeof(st), 1, r.port_id, (uint32_t)set_timeout, false);
		send_kernel(&r, st, sizeof(st), false);
	}
	if (ready) {
		int f = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (f < 0)
			die(ready);
		close(f);
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = r.fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, r.fd, &ev) < 0)
		die("epoll on the netlink socket");
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	for (bool stop = false; !stop;) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd)
				stop = true;
			else
				receive(&r);
		}
	}
	membership(&r, false);
	close(r.fd);
	printf("requests %lu answered %lu errors %lu ignored %lu bad-source %lu overruns %lu\n",
	       r.requests, r.answered, r.errors, r.ignored, r.bad_source, r.overruns);
	return 0;
}
