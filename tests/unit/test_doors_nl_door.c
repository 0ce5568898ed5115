/*
 * test_doors_nl_door.c - the kernel's netlink door on the lookup-service seam (scripted backend,
 * real store), with a unix datagram socketpair standing for NETLINK_RDMA: this test plays the
 * kernel, building requests and judging answers with the kernel's side of the wire codec.
 * Joining only after a fill and SET_TIMEOUT at that moment; hits answered at once with every
 * path (LMC), primary first; misses fetched with exactly the request's fields; the error reply at
 * once for no path, malformed requests, other ops, another port or SGID, a spent quota, a miss
 * beyond the cap; several messages in one datagram; leaving hands every waiting request back;
 * ENOBUFS (the kernel dropped requests) counted, and datagrams from other netlink ports dropped:
 * both through recvmsg() wrapped at link time (-Wl,--wrap=recvmsg, tests/unit/CMakeLists.txt).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "check.h"
#include "doors/nl_door.h"
#include "sock_fixture.h"
#include "svc_fixture.h"
#include "wire/nl_ls.h"
#include "wire/path_rec.h"

/* The kernel's end of the socketpair, and what the door asked of the "kernel". */
static struct {
	int fd;
	unsigned joins, leaves;
	int join_err;
} K = { -1, 0, 0, 0 };

static int k_open(void *ctx)
{
	int sv[2];

	(void)ctx;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	K.fd = sv[0];
	return sv[1];
}

static int k_membership(void *ctx, int fd, bool join)
{
	(void)ctx;
	(void)fd;
	if (join && K.join_err)
		return K.join_err;
	if (join)
		K.joins++;
	else
		K.leaves++;
	return 0;
}

static const struct nl_door_io k_io = { k_open, k_membership, NULL };

/* What the door's recvmsg() sees besides the socketpair: an overrun, another netlink port. */
static struct {
	unsigned enobufs;	/* next calls that fail with ENOBUFS */
	uint32_t source_pid;	/* != 0: datagrams come from this netlink port */
} R;

ssize_t __real_recvmsg(int fd, struct msghdr *m, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags)
{
	struct sockaddr_nl src = { .nl_family = AF_NETLINK, .nl_pid = R.source_pid };
	socklen_t room = m->msg_namelen;
	ssize_t n;

	if (R.enobufs && fd != K.fd) {
		R.enobufs--;
		errno = ENOBUFS;
		return -1;
	}
	n = __real_recvmsg(fd, m, flags);
	if (n >= 0 && m->msg_name && room >= sizeof(src) && fd != K.fd) {
		/* netlink gives every datagram's source; the kernel's is port 0 */
		memcpy(m->msg_name, &src, sizeof(src));
		m->msg_namelen = sizeof(src);
	}
	return n;
}
static struct loop *loop;

/* A counter of the door's stats, or -1. */
static long long stat_of(const struct nl_door *d, const char *key)
{
	struct stats_probe p;

	nl_door_stats_json(d, stats_probe_begin(&p));
	return stats_probe_end(&p, key);
}

/* A RESOLVE as rdma_cm's reversible query makes it on a 6.1 kernel: DGID and SGID. */
static struct nl_ls_resolve req_of(uint32_t seq, uint64_t dguid)
{
	struct nl_ls_resolve r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	strcpy(r.device_name, "mlx5_0");
	r.port_num = 1;
	r.path_use = LS_RESOLVE_PATH_USE_ALL;
	r.has = NL_LS_HAS_DGID | NL_LS_HAS_SGID;
	r.dgid = gid_of(dguid);
	r.sgid = gid_of(1);
	return r;
}

static void send_raw(const void *buf, size_t len)
{
	CHECK_INT((long long)len, send(K.fd, buf, len, 0));
}

static void send_req(const struct nl_ls_resolve *r)
{
	uint8_t buf[NL_LS_RESOLVE_MAX];
	int n = nl_ls_resolve_encode(buf, sizeof(buf), r);

	CHECK(n > 0);
	send_raw(buf, (size_t)n);
}

/* The next message the door sent the kernel within a few loop turns: its length, 0 if none. */
static size_t next_msg(uint8_t *buf, size_t cap)
{
	for (int i = 0; i < 20; i++) {
		ssize_t n = recv(K.fd, buf, cap, MSG_DONTWAIT);

		if (n >= 0)
			return (size_t)n;
		run_for(loop, 1);
	}
	return 0;
}

/* Nothing more from the door. */
static bool quiet(void)
{
	uint8_t buf[8192];

	run_for(loop, 5);
	return recv(K.fd, buf, sizeof(buf), MSG_DONTWAIT) < 0;
}

/* The door's answer to seq as the kernel takes it: 0 and *t, or the judge's errno. */
static int answer_for(uint32_t seq, uint8_t path_use, enum nl_ls_kernel gen, struct nl_ls_taken *t)
{
	uint8_t buf[NL_LS_ANSWER_MAX + 64];
	struct nlmsghdr h;
	size_t n = next_msg(buf, sizeof(buf));

	if (!n)
		return -ETIME;
	memcpy(&h, buf, sizeof(h));
	CHECK_INT(seq, h.nlmsg_seq);
	CHECK_INT(RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_RESOLVE), h.nlmsg_type);
	CHECK_INT(n, h.nlmsg_len);
	return nl_ls_answer_judge(buf, n, path_use, gen, t);
}

/* The error reply to a request of type and seq. */
static bool error_reply(uint16_t type, uint32_t seq)
{
	uint8_t buf[256];
	struct nlmsghdr h;
	size_t n = next_msg(buf, sizeof(buf));

	if (n != NLMSG_HDRLEN)
		return false;
	memcpy(&h, buf, sizeof(h));
	return h.nlmsg_type == type && h.nlmsg_seq == seq && h.nlmsg_flags == RDMA_NL_LS_F_ERR &&
	       h.nlmsg_len == NLMSG_HDRLEN;
}

#define RESOLVE_TYPE RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_RESOLVE)

static struct nl_door *door_new(struct fake_backend *f, const struct nl_door_opts *o)
{
	struct nl_door_opts opts = *o;
	struct nl_door *d = NULL;

	opts.io = &k_io;
	CHECK_INT(0, nl_door_new(loop, f->svc, &opts, &d));
	return d;
}

static void door_free(struct nl_door *d)
{
	nl_door_free(d);
	close(K.fd);
	K.fd = -1;
}

/* --- joining ----------------------------------------------------------------------------- */

static void test_join_after_fill(void)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct nl_door_opts o = { .timeout_ms = 6000 };
	uint8_t buf[64];
	struct fake_backend f;
	struct nl_door *d;
	struct nlmsghdr h;
	uint32_t t = 0;
	size_t n;

	K.joins = K.leaves = 0;
	fake_init(&f, 0, NULL, 0);	/* no fill yet */
	d = door_new(&f, &o);
	run_for(loop, 450);
	CHECK_INT(0, K.joins);
	CHECK_INT(0, stat_of(d, "netlink_bound"));
	CHECK(quiet());
	/* the first fill: joined at the next look, SET_TIMEOUT at once */
	CHECK_INT(0, pr_store_load(f.store, pr_store_default_tuple(f.store), recs, 2, NULL,
				   PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	run_for(loop, 250);
	CHECK_INT(1, K.joins);
	CHECK_INT(1, stat_of(d, "netlink_bound"));
	n = next_msg(buf, sizeof(buf));
	CHECK_INT(NL_LS_SET_TIMEOUT_LEN, n);
	memcpy(&h, buf, sizeof(h));
	CHECK_INT(RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_SET_TIMEOUT), h.nlmsg_type);
	CHECK_INT(NLM_F_REQUEST | NLM_F_ACK, h.nlmsg_flags);
	CHECK_INT(0, nl_ls_set_timeout_apply(buf, n, &t));
	CHECK_INT(6000, t);
	/* the kernel's ack comes back: taken, not answered */
	{
		uint8_t ack[128];
		int len = nl_ls_ack_encode(ack, sizeof(ack), buf, n, 0);

		send_raw(ack, (size_t)len);
		CHECK(quiet());
		CHECK_INT(0, stat_of(d, "netlink_kernel_errors"));
		len = nl_ls_ack_encode(ack, sizeof(ack), buf, n, -EPERM);
		send_raw(ack, (size_t)len);
		CHECK(quiet());
		CHECK_INT(1, stat_of(d, "netlink_kernel_errors"));
	}
	nl_door_ready(d);	/* joined already: nothing more */
	CHECK_INT(1, K.joins);
	CHECK(quiet());
	door_free(d);
	CHECK_INT(1, K.leaves);
	fake_fini(&f);

	/* the daemon says when its cache can answer (a distributor's push): at once; a timeout
	 * the kernel would clamp is clamped here already */
	K.joins = K.leaves = 0;
	fake_init(&f, 0, NULL, 0);
	o.timeout_ms = 50;
	d = door_new(&f, &o);
	nl_door_ready(d);
	CHECK_INT(1, K.joins);
	n = next_msg(buf, sizeof(buf));
	CHECK_INT(0, nl_ls_set_timeout_apply(buf, n, &t));
	memcpy(&t, buf + NLMSG_HDRLEN + NLA_HDRLEN, sizeof(t));	/* as sent */
	CHECK_INT(NL_LS_TIMEOUT_MIN, t);
	CHECK_INT(100, stat_of(d, "netlink_timeout_ms"));
	door_free(d);
	fake_fini(&f);

	/* another member of the group (ibacm): the door says so; sockets of other protocols, out
	 * of the group, or its own (port id 0 here) are no responders */
	{
		char path[] = "/tmp/lsa_nl_procXXXXXX";
		int fd = mkstemp(path);
		const char text[] =
			"sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n"
			"00000000fa070db0 0   0          00000000 0        0        0     2        0        4\n"
			"000000005e83090a 20  0          00000004 0        0        0     2        0        1583\n"
			"000000005e83090b 20  1234       00000001 0        0        0     2        0        1584\n"
			"000000005e83090c 16  1235       00000004 0        0        0     2        0        1585\n"
			"000000005e83090d 20  1236       0000000c 0        0        0     2        0        1586\n";

		CHECK(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
		close(fd);
		fake_init(&f, 0, recs, 2);
		o.proc_netlink = path;
		d = door_new(&f, &o);
		CHECK_INT(1, stat_of(d, "netlink_other_responders"));
		door_free(d);
		o.proc_netlink = "/nonexistent";
		d = door_new(&f, &o);
		CHECK_INT(0, stat_of(d, "netlink_other_responders"));
		door_free(d);
		unlink(path);
		fake_fini(&f);
		o.proc_netlink = NULL;
	}

	/* no timeout configured: none sent; a kernel that refuses the group: not bound */
	K.joins = K.leaves = 0;
	fake_init(&f, 0, recs, 2);
	o.timeout_ms = 0;
	d = door_new(&f, &o);
	CHECK_INT(1, K.joins);
	CHECK(quiet());
	door_free(d);
	K.join_err = -EPERM;
	d = door_new(&f, &o);
	run_for(loop, 250);
	CHECK_INT(0, stat_of(d, "netlink_bound"));
	door_free(d);
	CHECK_INT(1, K.leaves);		/* the first door's only */
	K.join_err = 0;
	fake_fini(&f);
}

/* --- answers ----------------------------------------------------------------------------- */

static void test_hits_and_misses(void)
{
	struct ibv_path_record recs[3] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2), rec_of(4, 4, 0, 3) };
	struct ibv_path_record sid[1] = { rec_of(3, 3, 5, 9) };
	const uint8_t uses[3] = { LS_RESOLVE_PATH_USE_ALL, LS_RESOLVE_PATH_USE_GMP,
				  LS_RESOLVE_PATH_USE_UNIDIRECTIONAL };
	struct nl_door_opts o = { .timeout_ms = 2000 };
	uint8_t buf[64];
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_ls_taken t;
	struct nl_door *d;
	uint32_t seq = 100;

	fake_init(&f, 0, recs, 3);
	d = door_new(&f, &o);
	CHECK_INT(1, stat_of(d, "netlink_bound"));
	next_msg(buf, sizeof(buf));	/* SET_TIMEOUT */

	/* a hit, for every path_use and both kernel generations: the cached record */
	for (int u = 0; u < 3; u++)
		for (int g = 0; g < 2; g++) {
			r = req_of(++seq, 3);
			r.path_use = uses[u];
			send_req(&r);
			CHECK_INT(0, answer_for(seq, r.path_use, (enum nl_ls_kernel)g, &t));
			CHECK_INT(1, t.n);
			CHECK(!memcmp(&t.recs[t.chosen], &recs[1], sizeof(recs[1])));
			CHECK_INT(nl_ls_path_flags(r.path_use, true), t.flags[0]);
		}
	CHECK_INT(6, stat_of(d, "netlink_cache_answers"));
	CHECK_INT(6, stat_of(d, "netlink_resolves"));
	CHECK_INT(0, f.n_pending);
	/* exactly the request's fields: DGID and SGID, no tuple field */
	CHECK_INT(PR_REQ_DGID | PR_REQ_SGID, f.last_req.has);
	CHECK_INT(0, f.last_req.tuple_flags);
	/* without SGID: from the port the kernel named, the same request otherwise */
	r = req_of(++seq, 4);
	r.has = NL_LS_HAS_DGID;
	send_req(&r);
	CHECK_INT(0, answer_for(seq, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK(!memcmp(&t.recs[0], &recs[2], sizeof(recs[2])));
	CHECK_INT(PR_REQ_DGID | PR_REQ_SGID, f.last_req.has);
	CHECK(!memcmp(&f.last_req.sgid, &f.ports[0].gid, sizeof(f.last_req.sgid)));
	CHECK_INT(0, f.last_req.tuple_flags);

	/* a ServiceID the cache has no answer for: fetched with exactly that, never the default
	 * tuple's path; nothing is sent until the SA answered */
	r = req_of(++seq, 3);
	r.has |= NL_LS_HAS_SERVICE_ID | NL_LS_HAS_PKEY | NL_LS_HAS_QOS_CLASS | NL_LS_HAS_TCLASS;
	r.service_id = 0x1000;
	r.pkey = 0x8001;
	r.qos_class = 7;
	r.tclass = 3;
	send_req(&r);
	CHECK(quiet());
	CHECK_INT(1, f.n_pending);
	CHECK_INT(1, stat_of(d, "netlink_pending"));
	CHECK_INT(PR_TUPLE_SERVICE_ID | PR_TUPLE_PKEY | PR_TUPLE_QOS_CLASS | PR_TUPLE_TCLASS,
		  f.pending[0].req.tuple_flags);
	CHECK_INT(0x1000, f.pending[0].req.service_id);
	CHECK_INT(0x8001, f.pending[0].req.pkey);
	CHECK_INT(7, f.pending[0].req.qos_class);
	CHECK_INT(3, f.pending[0].req.tclass);
	CHECK_INT(0, f.pending[0].flags);
	CHECK(fake_answer(&f, 0, 0, sid, 1));
	CHECK_INT(0, answer_for(seq, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(5, pr_sl(&t.recs[t.chosen]));
	CHECK_INT(1, stat_of(d, "netlink_fetched"));
	CHECK_INT(0, stat_of(d, "netlink_pending"));

	/* no path, a failed SA: the error reply, which sends the kernel to the SA */
	r = req_of(++seq, 0x77);
	send_req(&r);
	CHECK(quiet());
	CHECK(fake_answer(&f, -ENOENT, 0x03, NULL, 0));
	CHECK_INT(-EREMOTEIO, answer_for(seq, r.path_use, NL_LS_KERNEL_MULTI, &t));
	r = req_of(++seq, 0x78);
	send_req(&r);
	CHECK(quiet());
	CHECK(fake_answer(&f, -ETIMEDOUT, 0, NULL, 0));
	CHECK(error_reply(RESOLVE_TYPE, seq));
	CHECK_INT(1, stat_of(d, "netlink_no_path"));
	CHECK_INT(1, stat_of(d, "netlink_sa_failures"));
	CHECK_INT(2, stat_of(d, "netlink_error_replies"));

	/* a second port: the port the kernel names is the source, not the service's default */
	f.ports[1] = f.ports[0];
	f.ports[1].port_num = 2;
	f.ports[1].gid = gid_of(5);
	f.n_ports = 2;
	r = req_of(++seq, 2);
	r.port_num = 2;
	r.has = NL_LS_HAS_DGID;
	send_req(&r);
	CHECK(quiet());
	CHECK_INT(1, f.n_pending);
	CHECK(!memcmp(&f.pending[0].req.sgid, &f.ports[1].gid, sizeof(union ibv_gid)));
	CHECK(fake_answer(&f, 0, 0, sid, 1));
	CHECK_INT(0, answer_for(seq, r.path_use, NL_LS_KERNEL_MULTI, &t));
	r.seq = ++seq;
	r.has |= NL_LS_HAS_SGID;	/* port 1's GID for port 2: not that port's */
	send_req(&r);
	CHECK(error_reply(RESOLVE_TYPE, seq));
	CHECK_INT(1, stat_of(d, "netlink_foreign"));
	door_free(d);
	fake_fini(&f);
}

/* With LMC every path the SA gave, in its order: the first PRIMARY, the others ALTERNATE. */
static void test_lmc(void)
{
	struct ibv_path_record recs[4];
	struct nl_door_opts o = { 0 };
	uint8_t buf[NL_LS_ANSWER_MAX];
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_ls_taken t;
	struct nl_door *d;
	size_t n;

	for (int i = 0; i < 4; i++)
		recs[i] = rec_of(2, (uint16_t)(8 + i), 0, (uint32_t)i);
	fake_init(&f, 2, recs, 4);
	d = door_new(&f, &o);
	r = req_of(7, 2);
	send_req(&r);
	n = next_msg(buf, sizeof(buf));
	CHECK_INT(NLMSG_HDRLEN + 4 * NL_LS_PATH_ATTR_LEN, n);
	for (int i = 0; i < 4; i++) {
		struct ibv_path_record got;
		uint32_t flags;
		const uint8_t *a = buf + NLMSG_HDRLEN + i * NL_LS_PATH_ATTR_LEN;
		uint16_t type;

		memcpy(&type, a + 2, sizeof(type));
		CHECK_INT(LS_NLA_TYPE_PATH_RECORD, type);	/* bare: no mandatory flag */
		memcpy(&flags, a + NLA_HDRLEN, sizeof(flags));
		CHECK_INT(nl_ls_path_flags(r.path_use, i == 0), flags);
		pr_decode(a + NLA_HDRLEN + 8, PR_LEN, &got);
		CHECK_INT(8 + i, pr_dlid(&got));
	}
	/* both kernels take the primary, never an alternate */
	CHECK_INT(0, nl_ls_answer_judge(buf, n, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(8, pr_dlid(&t.recs[t.chosen]));
	CHECK_INT(0, nl_ls_answer_judge(buf, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_LEGACY, &t));
	CHECK_INT(8, pr_dlid(&t.recs[t.chosen]));
	door_free(d);
	fake_fini(&f);
}

/* --- what gets the error reply at once, or nothing ------------------------------------------ */

static void test_refused(void)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) };
	struct nl_door_opts o = { .new_tuples = 1, .new_tuples_per_s = 1 };
	uint8_t buf[2 * NL_LS_RESOLVE_MAX + 64];
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_ls_taken t;
	struct nlmsghdr h;
	struct nl_door *d;
	uint16_t v;
	int n, m;

	fake_init(&f, 0, recs, 1);
	d = door_new(&f, &o);

	/* another device, another port, another SGID: the kernel asks the SA */
	r = req_of(11, 2);
	strcpy(r.device_name, "mlx5_1");
	send_req(&r);
	CHECK(error_reply(RESOLVE_TYPE, 11));
	r = req_of(12, 2);
	r.port_num = 2;
	send_req(&r);
	CHECK(error_reply(RESOLVE_TYPE, 12));
	r = req_of(13, 2);
	r.sgid = gid_of(9);
	send_req(&r);
	CHECK(error_reply(RESOLVE_TYPE, 13));
	CHECK_INT(3, stat_of(d, "netlink_foreign"));
	CHECK_INT(0, f.resolves);

	/* malformed: an unknown mandatory attribute, a truncated datagram, a short attribute */
	r = req_of(14, 2);
	n = nl_ls_resolve_encode(buf, sizeof(buf), &r);
	v = RDMA_NLA_F_MANDATORY | 0x50;
	memcpy(buf + n - 20 + 2, &v, sizeof(v));	/* the SGID attribute's type */
	send_raw(buf, (size_t)n);
	CHECK(error_reply(RESOLVE_TYPE, 14));
	r = req_of(15, 2);
	n = nl_ls_resolve_encode(buf, sizeof(buf), &r);
	send_raw(buf, (size_t)n - 8);
	CHECK(error_reply(RESOLVE_TYPE, 15));
	CHECK_INT(2, stat_of(d, "netlink_malformed"));
	/* other ops: IP_RESOLVE and an unknown one, counted by op */
	memcpy(&h, buf, sizeof(h));
	h.nlmsg_len = NLMSG_HDRLEN;
	h.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_IP_RESOLVE);
	h.nlmsg_seq = 16;
	send_raw(&h, sizeof(h));
	CHECK(error_reply(h.nlmsg_type, 16));
	h.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_LS, 0x3ff);
	h.nlmsg_seq = 17;
	send_raw(&h, sizeof(h));
	CHECK(error_reply(h.nlmsg_type, 17));
	CHECK_INT(1, stat_of(d, "netlink_ip_resolves"));
	CHECK_INT(1, stat_of(d, "netlink_other_ops"));
	/* never answered: another client's message, a reply (another responder's), SET_TIMEOUT,
	 * fewer than 16 bytes */
	h.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, 1);
	send_raw(&h, sizeof(h));
	r = req_of(18, 2);
	n = nl_ls_resolve_encode(buf, sizeof(buf), &r);
	memcpy(&h, buf, sizeof(h));
	h.nlmsg_flags = 0;
	memcpy(buf, &h, sizeof(h));
	send_raw(buf, (size_t)n);
	n = nl_ls_set_timeout_encode(buf, sizeof(buf), 19, 0, 1000, false);
	send_raw(buf, (size_t)n);
	send_raw("\x10\0\0\0\0\x10", 6);
	CHECK(quiet());
	CHECK_INT(3, stat_of(d, "netlink_ignored"));

	/* two requests in one datagram: two answers, in order */
	r = req_of(20, 2);
	n = nl_ls_resolve_encode(buf, sizeof(buf), &r);
	r.seq = 21;
	m = nl_ls_resolve_encode(buf + n, sizeof(buf) - (size_t)n, &r);
	send_raw(buf, (size_t)(n + m));
	CHECK_INT(0, answer_for(20, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(0, answer_for(21, r.path_use, NL_LS_KERNEL_MULTI, &t));

	/* the kernel's quota of new tuples: one; the second new kind is refused, known ones not */
	r = req_of(22, 2);
	r.has |= NL_LS_HAS_SERVICE_ID;
	r.service_id = 0x10;
	send_req(&r);
	CHECK(quiet());
	CHECK(fake_answer(&f, 0, 0, recs, 1));
	CHECK_INT(0, answer_for(22, r.path_use, NL_LS_KERNEL_MULTI, &t));
	r.seq = 23;
	r.service_id = 0x11;
	send_req(&r);
	CHECK(error_reply(RESOLVE_TYPE, 23));
	CHECK_INT(1, stat_of(d, "netlink_quota_refused"));
	r.seq = 24;
	r.service_id = 0x10;
	send_req(&r);
	CHECK(quiet());		/* known kind, not cached: fetched */
	CHECK(fake_answer(&f, 0, 0, recs, 1));
	CHECK_INT(0, answer_for(24, r.path_use, NL_LS_KERNEL_MULTI, &t));
	door_free(d);
	fake_fini(&f);
}

/* Requests waiting for the SA are capped: beyond, the cache answers alone. */
static void test_cap(void)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) };
	struct nl_door_opts o = { .max_pending = 2 };
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_ls_taken t;
	struct nl_door *d;

	fake_init(&f, 0, recs, 1);
	d = door_new(&f, &o);
	for (uint32_t i = 0; i < 3; i++) {
		r = req_of(30 + i, 0x40 + i);
		send_req(&r);
	}
	CHECK(error_reply(RESOLVE_TYPE, 32));	/* the third miss: at once, the kernel asks */
	CHECK_INT(2, f.n_pending);
	CHECK_INT(PATH_Q_CACHE_ONLY, f.last_flags);
	CHECK_INT(1, stat_of(d, "netlink_busy"));
	r = req_of(33, 2);			/* a hit at the cap is still a hit */
	send_req(&r);
	CHECK_INT(0, answer_for(33, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK(fake_answer(&f, 0, 0, recs, 1));
	CHECK_INT(0, answer_for(30, r.path_use, NL_LS_KERNEL_MULTI, &t));
	r = req_of(34, 0x50);			/* below the cap again: fetched */
	send_req(&r);
	CHECK(quiet());
	CHECK_INT(2, f.n_pending);
	CHECK_INT(0, f.last_flags);
	door_free(d);	/* leaving answers the two waiting ones: no leak (ASan) */
	fake_fini(&f);
}

/* Leaving: out of the group first, then every waiting request handed back; nothing after. */
static void test_leave(void)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) };
	struct nl_door_opts o = { 0 };
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_door *d;

	K.joins = K.leaves = 0;
	fake_init(&f, 0, recs, 1);
	d = door_new(&f, &o);
	r = req_of(40, 0x60);
	send_req(&r);
	r = req_of(41, 0x61);
	send_req(&r);
	CHECK(quiet());
	CHECK_INT(2, f.n_pending);
	r = req_of(42, 2);	/* queued when the door leaves: handed back unread */
	send_req(&r);
	nl_door_leave(d);
	CHECK_INT(1, K.leaves);
	CHECK_INT(0, f.n_pending);
	CHECK_INT(2, f.cancels);
	CHECK(error_reply(RESOLVE_TYPE, 42));
	CHECK(error_reply(RESOLVE_TYPE, 41));	/* then the waiting ones, the latest first */
	CHECK(error_reply(RESOLVE_TYPE, 40));
	CHECK_INT(3, stat_of(d, "netlink_handed_back"));
	CHECK_INT(0, stat_of(d, "netlink_bound"));
	r = req_of(43, 2);
	send_req(&r);
	CHECK(quiet());
	nl_door_leave(d);
	nl_door_ready(d);	/* gone for good */
	CHECK_INT(1, K.leaves);
	CHECK_INT(1, K.joins);
	door_free(d);
	CHECK_INT(1, K.leaves);
	fake_fini(&f);
}

/* Garbage does not stop the door: every datagram is framed, refused or dropped. */
static void test_garbage(void)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) };
	struct nl_door_opts o = { 0 };
	uint8_t buf[NL_LS_RESOLVE_MAX];
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_ls_taken t;
	struct nl_door *d;
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	int n;

	fake_init(&f, 0, recs, 1);
	d = door_new(&f, &o);
	r = req_of(50, 2);
	n = nl_ls_resolve_encode(buf, sizeof(buf), &r);
	for (int i = 0; i < 2000; i++) {
		uint8_t copy[NL_LS_RESOLVE_MAX];
		size_t len = (size_t)n;

		memcpy(copy, buf, sizeof(copy));
		for (int k = 0; k < 4; k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			copy[rng % (size_t)n] ^= (uint8_t)(rng >> 32);
		}
		if (rng & 1)
			len = (rng >> 8) % (size_t)n + 1;
		send_raw(copy, len);
		if (i % 32 == 31)
			run_for(loop, 1);
		while (recv(K.fd, copy, sizeof(copy), MSG_DONTWAIT) > 0)
			;
	}
	run_for(loop, 10);
	while (f.n_pending)
		fake_answer(&f, -ENOENT, 3, NULL, 0);
	while (recv(K.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	CHECK(stat_of(d, "netlink_malformed") > 100);
	r = req_of(51, 2);
	send_req(&r);
	CHECK_INT(0, answer_for(51, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(2, pr_dlid(&t.recs[0]));
	door_free(d);
	fake_fini(&f);
}

/* The kernel dropped requests (ENOBUFS): counted, and the door reads on; a datagram from a
 * process (any may send to a netlink port id) is no request of the kernel's. */
static void test_overrun_and_strangers(void)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) };
	struct nl_door_opts o = { 0 };
	struct fake_backend f;
	struct nl_ls_resolve r;
	struct nl_ls_taken t;
	struct nl_door *d;

	fake_init(&f, 0, recs, 1);
	d = door_new(&f, &o);
	r = req_of(60, 2);
	send_req(&r);
	R.enobufs = 1;
	CHECK_INT(0, answer_for(60, r.path_use, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(0, R.enobufs);
	CHECK_INT(1, stat_of(d, "netlink_enobufs"));
	R.source_pid = 4242;
	r = req_of(61, 2);
	send_req(&r);
	CHECK(quiet());
	CHECK_INT(1, stat_of(d, "netlink_not_kernel"));
	CHECK_INT(0, f.resolves - 1);	/* only the first one was looked up */
	R.source_pid = 0;
	r = req_of(62, 2);
	send_req(&r);
	CHECK_INT(0, answer_for(62, r.path_use, NL_LS_KERNEL_MULTI, &t));
	door_free(d);
	fake_fini(&f);
}

int main(void)
{
	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_join_after_fill();
	test_hits_and_misses();
	test_lmc();
	test_refused();
	test_cap();
	test_leave();
	test_garbage();
	test_overrun_and_strangers();
	loop_free(loop);
	return CHECK_DONE();
}
