/*
 * bench_lookup - one PathRecord lookup through every door of a running localsad, side by side
 * with the same query sent straight to the master SA, from one process on the daemon's node.
 *
 * Doors, each asked for random destinations of the node list (all cached after the daemon's
 * fill), one request at a time (closed loop, one client):
 *   shm        liblocalsa's hit in the shared-memory snapshot (localsa_resolve, no system call)
 *   acm        an ibacm RESOLVE on the daemon's ACM socket (what ib_acme and librdmacm send)
 *   control    localsa_resolve on a handle without snapshot: one control-socket round trip
 *   sa_door    a Get PathRecord (SGID, DGID) MAD to the daemon's own LID, through the simulator
 *   sa_direct  the same Get to the SM's LID: OpenSM answers, through the simulator
 *   netlink    a RESOLVE as the kernel's ib_sa sends it to the daemon's netlink door, through
 *              the lab's NETLINK_RDMA (the shim's rendezvous, as lsa_nlkernel), the answer
 *              judged as the kernel judges it
 *   echo       the anchor of the socket doors: the ACM exchange with a child process that only
 *              echoes it (epoll_wait, recv, send: what any server does), over a unix socket
 *              pair; the floor of a socket round trip on this machine
 *   acm_same, echo_same, acm_cross, echo_cross   with --daemon-pid (and acm, echo): the two
 *              again, the client, the daemon's main thread and the echo process pinned to one
 *              core, then the daemon and the echo process to another core than the client
 * Each lookup is timed alone with the cycle counter; a door runs for at most --count lookups
 * and --seconds seconds. The socket doors (acm, control, echo) run in alternating rounds of
 * ROUND lookups, so that they meet the same machine. Prints one key=value line per door:
 *   door= n= errors= p50_ns= p99_ns= mean_ns= ops_per_s= [server_cpu_ns=]
 * server_cpu_ns: the CPU time per lookup of the thread that answers - the daemon's main thread
 * (acm, control: with --daemon-pid) or the echo process - from its schedstat around each round:
 * what a request costs the server, kernel and user, wherever the scheduler put it.
 *
 * `warm` mode times what makes one node's cache warm: `refresh wait=1` on the control socket
 * (the daemon sends its GetTable, files the answer, replies), --repeat times, one line each:
 *   warm_ms=  then checks that every node of the list resolves through the control socket.
 *
 * usage: bench_lookup --nodes FILE --socket CTL [--acm SOCK] [--mad] [--count N]
 *                     [--mad-count N] [--seconds S] [--nl-device CA] [--daemon-pid PID]
 *                     [--doors shm,acm,control,echo,sa_door,sa_direct,netlink]
 *        bench_lookup warm --nodes FILE --socket CTL [--repeat R]
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/acm.h>
#include <infiniband/sa.h>

#include "bench_util.h"
#include "lab_mad.h"
#include "localsa.h"
#include "nlk_transport.h"
#include "shim_netlink.h"
#include "wire/ctl_proto.h"
#include "wire/nl_ls.h"
#include "wire/path_rec.h"

enum { IO_TIMEOUT_S = 10, MAD_TIMEOUT_MS = 2000, ROUND = 256 };

struct ctx {
	const struct bench_node *nodes;
	size_t n_nodes;
	uint64_t prefix;		/* subnet prefix, network order */
	union ibv_gid own_gid;
	const char *ctl_path, *acm_path;
	struct lab_port port;
	bool have_port;
	uint64_t rng;
	uint64_t *samples;
	size_t count, mad_count;
	uint64_t max_ns;
	pid_t daemon_pid;		/* --daemon-pid: pin it for the _same/_cross rows */
};

/* One lookup of node idx; 0 or a negative errno. */
typedef int (*lookup_fn)(struct ctx *c, void *door, size_t idx);

static const struct bench_node *pick(struct ctx *c, size_t *idx)
{
	*idx = (size_t)(bench_rand(&c->rng) % c->n_nodes);
	return &c->nodes[*idx];
}

/* A door being timed: its lookups' ticks, errors and time spent. */
struct door_run {
	const char *name;
	lookup_fn fn;
	void *door;
	uint64_t *samples;
	size_t n;
	uint64_t errors, elapsed_ns;
	pid_t server;		/* > 0: the thread that answers (the daemon's main thread, the
				 * echo process), whose CPU time per lookup is printed */
	uint64_t server_ns;	/* its CPU time in this door's rounds */
	size_t server_n;	/* the lookups of the rounds counted */
};

/* Times up to n lookups through each of the k doors (bounded by c->max_ns in all), one door
 * after the other in rounds of ROUND, then prints each door's line. */
static void time_doors(struct ctx *c, struct door_run *d, size_t k, size_t n)
{
	uint64_t t0;
	size_t idx;

	/* warm-up: page faults, connection set-up, the first of everything */
	for (size_t j = 0; j < k; j++)
		for (size_t i = 0; i < 16 && i < n; i++) {
			pick(c, &idx);
			d[j].fn(c, d[j].door, idx);
		}
	t0 = bench_now_ns();
	for (size_t done = 0; done < n && bench_now_ns() - t0 <= c->max_ns; done += ROUND)
		for (size_t j = 0; j < k; j++) {
			uint64_t r0 = bench_now_ns(), s0 = 0, s1;
			size_t n0 = d[j].n;

			if (d[j].server > 0)
				s0 = bench_thread_cpu_ns(d[j].server);
			for (size_t i = done; i < done + ROUND && i < n; i++, d[j].n++) {
				uint64_t a, b;

				pick(c, &idx);
				a = bench_ticks();
				d[j].errors += d[j].fn(c, d[j].door, idx) != 0;
				b = bench_ticks();
				d[j].samples[i] = b - a;
			}
			d[j].elapsed_ns += bench_now_ns() - r0;
			s1 = d[j].server > 0 ? bench_thread_cpu_ns(d[j].server) : 0;
			if (s0 && s1 >= s0) {
				d[j].server_ns += s1 - s0;
				d[j].server_n += d[j].n - n0;
			}
		}
	for (size_t j = 0; j < k; j++) {
		struct bench_pct p = bench_percentiles(d[j].samples, d[j].n);

		printf("door=%s n=%zu errors=%llu p50_ns=%.0f p99_ns=%.0f mean_ns=%.0f "
		       "ops_per_s=%.0f", d[j].name, d[j].n, (unsigned long long)d[j].errors,
		       p.p50, p.p99, p.mean, (double)d[j].n * 1e9 / (double)d[j].elapsed_ns);
		if (d[j].server_n)
			printf(" server_cpu_ns=%.0f",
			       (double)d[j].server_ns / (double)d[j].server_n);
		printf("\n");
	}
	fflush(stdout);
}

static void time_door(struct ctx *c, const char *name, lookup_fn fn, void *door, size_t n)
{
	struct door_run d = { .name = name, .fn = fn, .door = door, .samples = c->samples };

	time_doors(c, &d, 1, n);
}

/* --- liblocalsa: the snapshot, and the control socket --- */

static int lib_lookup(struct ctx *c, void *door, size_t idx)
{
	struct localsa_query q = { .flags = LOCALSA_Q_DGID };
	struct ibv_path_record rec;

	q.dgid = bench_node_gid(c->prefix, c->nodes[idx].guid);
	return localsa_resolve(door, &q, &rec);
}

/* --- the ACM socket, as libacm speaks it --- */

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int recv_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, (char *)buf + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		got += (size_t)k;
	}
	return 0;
}

/* An ibacm RESOLVE of node idx's GID on fd, and its answer's header in r; the frame's
 * length, or a negative errno. */
static int acm_exchange(struct ctx *c, int fd, size_t idx, struct acm_msg *r)
{
	struct acm_msg m;
	struct ibv_path_record *p = &m.resolve_data[0].info.path;
	size_t len = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	int err;

	memset(&m, 0, len);
	m.hdr.version = ACM_VERSION;
	m.hdr.opcode = ACM_OP_RESOLVE;
	m.hdr.length = (uint16_t)len;
	m.hdr.tid = idx;
	m.resolve_data[0].type = ACM_EP_INFO_PATH;
	p->dgid = bench_node_gid(c->prefix, c->nodes[idx].guid);
	p->reversible_numpath = IBV_PATH_RECORD_REVERSIBLE | 1;
	if (send(fd, &m, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -EIO;
	err = recv_exact(fd, &r->hdr, sizeof(r->hdr));
	if (err)
		return err;
	if (r->hdr.length != len)
		return -EPROTO;
	err = recv_exact(fd, r->resolve_data, len - sizeof(r->hdr));
	if (err)
		return err;
	if (r->hdr.tid != idx)
		return -EPROTO;
	return memcmp(&r->resolve_data[0].info.path.dgid, &p->dgid, sizeof(p->dgid)) ? -ENODATA
										     : (int)len;
}

static int acm_lookup(struct ctx *c, void *door, size_t idx)
{
	struct acm_msg r;
	int ret = acm_exchange(c, *(int *)door, idx, &r);

	if (ret < 0)
		return ret;
	return r.hdr.opcode == (ACM_OP_RESOLVE | ACM_OP_ACK) && !r.hdr.status ? 0 : -ENODATA;
}

/* --- the anchor: the same exchange with a process that only echoes it --- */

static void echo_serve(int fd)
{
	char buf[4096];
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		_exit(1);
	for (;;) {
		ssize_t k;

		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
			_exit(1);
		k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			_exit(0);
		if (k > 0 && send(fd, buf, (size_t)k, MSG_NOSIGNAL) != k)
			_exit(1);
	}
}

/* The echo process, on the other end of *fd; its PID, or a negative errno. */
static pid_t echo_start(int *fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		pid = -errno;
		close(sv[0]);
		close(sv[1]);
		return pid;
	}
	if (!pid) {
		close(sv[0]);
		echo_serve(sv[1]);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

static int echo_lookup(struct ctx *c, void *door, size_t idx)
{
	struct acm_msg r;
	int ret = acm_exchange(c, *(int *)door, idx, &r);

	return ret < 0 ? ret : r.hdr.opcode == ACM_OP_RESOLVE ? 0 : -EPROTO;
}

/* --- SA MADs through the simulator: to the daemon's LID, or to the SM's --- */

struct mad_door {
	uint16_t lid;
	uint32_t tid;
	struct lab_msg m;
};

static int mad_lookup(struct ctx *c, void *door, size_t idx)
{
	struct mad_door *d = door;
	struct ibv_path_record q;
	union ibv_gid dg = bench_node_gid(c->prefix, c->nodes[idx].guid);
	const struct umad_sa_packet *sa;
	uint32_t tid = ++d->tid;
	void *req;

	memset(&q, 0, sizeof(q));
	pr_set_sgid(&q, &c->own_gid);
	pr_set_dgid(&q, &dg);
	req = lab_sa_request(LAB_MAD_LEN, UMAD_METHOD_GET, UMAD_SA_ATTR_PATH_REC,
			     PR_CM_SGID | PR_CM_DGID, tid);
	memcpy(((struct umad_sa_packet *)umad_get_mad(req))->data, &q, sizeof(q));
	lab_send(&c->port, req, LAB_MAD_LEN, d->lid, MAD_TIMEOUT_MS, 1);
	free(req);
	for (;;) {
		if (lab_recv(&c->port, &d->m, 3 * MAD_TIMEOUT_MS, NULL) < 0)
			return -ETIMEDOUT;
		sa = lab_msg_sa(&d->m);
		if (lab_tid(sa) == tid)
			break;
	}
	if (umad_status(d->m.umad))
		return -umad_status(d->m.umad);
	if (be16toh(sa->mad_hdr.status) || d->m.len < LAB_SA_HDR_LEN + LAB_PR_LEN ||
	    memcmp(&((const struct ibv_path_record *)sa->data)->dgid, &dg, sizeof(dg)))
		return -ENODATA;
	return 0;
}

/* --- the kernel's netlink door, through the lab's NETLINK_RDMA --- */

struct nl_door_bench {
	struct nlk_transport t;
	struct nl_ls_resolve req;	/* the next request: seq and DGID set per lookup */
	bool done;
	int ret;
};

/* The answer to the request in flight (anything else: an ack, a stale answer, is skipped). */
static void nl_taken(void *arg, unsigned listener, const uint8_t *buf, size_t len)
{
	struct nl_door_bench *b = arg;
	struct nl_ls_taken t;
	struct nlmsghdr h;
	int r;

	(void)listener;
	if (len < sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	if (h.nlmsg_type != RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_RESOLVE) ||
	    h.nlmsg_seq != b->req.seq)
		return;
	b->done = true;
	r = nl_ls_answer_judge(buf, len, b->req.path_use, NL_LS_KERNEL_MULTI, &t);
	b->ret = r ? r : memcmp(&t.recs[t.chosen].dgid, &b->req.dgid, sizeof(b->req.dgid)) ?
		-ENODATA : 0;
}

static int nl_lookup(struct ctx *c, void *door, size_t idx)
{
	struct nl_door_bench *b = door;
	uint8_t buf[NL_LS_RESOLVE_MAX];
	int len;

	b->req.seq++;
	b->req.dgid = bench_node_gid(c->prefix, c->nodes[idx].guid);
	len = nl_ls_resolve_encode(buf, sizeof(buf), &b->req);
	if (len < 0 || !nlk_transport_multicast(&b->t, buf, (size_t)len))
		return -ENOTCONN;
	for (b->done = false; !b->done;) {
		int n = nlk_transport_poll(&b->t, MAD_TIMEOUT_MS, nl_taken, b);

		if (n <= 0)
			return n < 0 ? n : -ETIMEDOUT;
	}
	return b->ret;
}

/* The node's listeners (LSA_SHIM_NETLINK_DIR, set by tools/lab exec); -ENOTCONN: none. */
static int nl_open(struct ctx *c, const char *device, struct nl_door_bench *b)
{
	const char *dir = getenv(SHIM_NL_DIR_ENV);
	int r;

	memset(b, 0, sizeof(*b));
	if (!dir || (r = nlk_transport_open(&b->t, dir)) < 0)
		return dir ? r : -ENOENT;
	if (!nlk_transport_scan(&b->t, bench_now_ns() / 1000, true)) {
		nlk_transport_close(&b->t);
		return -ENOTCONN;
	}
	/* rdma_cm's query on a 6.1 kernel: DGID and SGID, reversible (ALL) */
	snprintf(b->req.device_name, sizeof(b->req.device_name), "%s", device);
	b->req.port_num = 1;
	b->req.path_use = nl_ls_kernel_path_use(NL_LS_KERNEL_MULTI, true);
	b->req.has = NL_LS_HAS_DGID | NL_LS_HAS_SGID;
	b->req.sgid = c->own_gid;
	b->req.seq = (uint32_t)getpid() << 12;
	return 0;
}

/* --- warm: refresh wait=1 over the control socket --- */

/* `refresh wait=1`, timed; line gets the reply's last line ("records=..." or the ERR line). */
static int ctl_refresh(const char *path, double *ms, char *line, size_t cap)
{
	char req[64], buf[4096];
	struct ctl_reply rr;
	uint64_t t0 = bench_now_ns();
	int len = ctl_request_encode(req, sizeof(req), "refresh", &(struct ctl_kv){ "wait", "1" }, 1);
	int fd = unix_connect(path), r = -EIO;

	if (fd < 0)
		return fd;
	ctl_reply_init(&rr, line, cap, 16);
	if (len < 0 || send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		goto out_close;
	while (!ctl_reply_done(&rr)) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0), off = 0;

		if (k <= 0)
			goto out_close;
		while (off < k && !ctl_reply_done(&rr)) {
			enum ctl_reply_event ev;
			ssize_t used = ctl_reply_feed(&rr, buf + off, (size_t)(k - off), &ev);

			if (used < 0)
				goto out_close;
			off += used;
		}
	}
	*ms = (double)(bench_now_ns() - t0) / 1e6;
	r = ctl_reply_status(&rr) < 0 ? ctl_reply_status(&rr) : 0;
out_close:
	close(fd);
	return r;
}

static int warm(struct ctx *c, unsigned repeat)
{
	struct localsa *h = NULL;
	size_t bad = 0;
	char reply[512];
	int r;

	for (unsigned i = 0; i < repeat; i++) {
		double ms;

		r = ctl_refresh(c->ctl_path, &ms, reply, sizeof(reply));
		if (r < 0) {
			fprintf(stderr, "bench_lookup: refresh: %s: %s\n", strerror(-r), reply);
			return 1;
		}
		printf("warm_ms=%.3f %s\n", ms, reply);
	}
	r = localsa_open(c->ctl_path, "none", &h);
	for (size_t i = 0; !r && i < c->n_nodes; i++)
		bad += lib_lookup(c, h, i) != 0;
	localsa_close(h);
	printf("resolvable=%zu of=%zu\n", r ? 0 : c->n_nodes - bad, c->n_nodes);
	return r || bad;
}

static bool door_on(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* The CPUs this process may use: the first two in *a and *b (-1: none). */
static void two_cpus(int *a, int *b)
{
	cpu_set_t all;

	*a = *b = -1;
	if (sched_getaffinity(0, sizeof(all), &all))
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &all)) {
			if (*a < 0)
				*a = cpu;
			else if (*b < 0)
				*b = cpu;
		}
}

/*
 * The ACM door (acm) and its echo anchor (echo) again with the scheduler's choice taken
 * away: client, daemon and echo process on one core ("_same"), then the daemon and the echo
 * process on another core than the client ("_cross"). A round trip between two cores costs a
 * wake-up on the other one, within one core a switch: on a VM they differ by 1.5-2x, and the
 * unpinned rows mix the two as the scheduler places the processes. The daemon's main thread
 * gets its CPU mask back after.
 */
static void time_pinned(struct ctx *c, const struct door_run *acm, const struct door_run *echo,
			size_t n)
{
	static const char *const names[2][2] = { { "acm_same", "echo_same" },
						 { "acm_cross", "echo_cross" } };
	cpu_set_t mine, daemon;
	int c0, c1;

	two_cpus(&c0, &c1);
	if (c0 < 0 || sched_getaffinity(0, sizeof(mine), &mine) ||
	    sched_getaffinity(acm->server, sizeof(daemon), &daemon)) {
		fprintf(stderr, "bench_lookup: CPU masks: %s\n", strerror(errno));
		return;
	}
	for (int cfg = 0; cfg < 2; cfg++) {
		int other = cfg ? c1 : c0;
		struct door_run p[2] = {
			{ .name = names[cfg][0], .fn = acm->fn, .door = acm->door,
			  .samples = acm->samples, .server = acm->server },
			{ .name = names[cfg][1], .fn = echo->fn, .door = echo->door,
			  .samples = echo->samples, .server = echo->server },
		};

		if (other < 0)
			break;	/* one CPU: no cross-core case */
		if (bench_pin(0, c0) || bench_pin(acm->server, other) ||
		    bench_pin(echo->server, other)) {
			fprintf(stderr, "bench_lookup: pinning: %s\n", strerror(errno));
			break;
		}
		time_doors(c, p, 2, n);
	}
	sched_setaffinity(acm->server, sizeof(daemon), &daemon);
	sched_setaffinity(0, sizeof(mine), &mine);
}

/* The ACM socket, the control socket and the echo anchor, in alternating rounds. */
static int time_socket_doors(struct ctx *c, const char *doors)
{
	size_t n = c->count / 4 ? c->count / 4 : 1, k = 0;
	struct door_run d[3] = { { 0 } };
	int acm_fd = -1, echo_fd = -1, r = 0;
	struct localsa *h = NULL;
	pid_t echo_pid = 0;

	if (door_on(doors, "acm") && c->acm_path) {
		acm_fd = unix_connect(c->acm_path);
		if (acm_fd < 0) {
			fprintf(stderr, "bench_lookup: %s: %s\n", c->acm_path, strerror(-acm_fd));
			return -1;
		}
		d[k++] = (struct door_run){ .name = "acm", .fn = acm_lookup, .door = &acm_fd,
					    .server = c->daemon_pid };
	}
	if (door_on(doors, "control")) {
		r = localsa_open(c->ctl_path, "none", &h);
		if (r) {
			fprintf(stderr, "bench_lookup: localsa_open: %s\n", strerror(-r));
			goto out;
		}
		d[k++] = (struct door_run){ .name = "control", .fn = lib_lookup, .door = h,
					    .server = c->daemon_pid };
	}
	if (door_on(doors, "echo")) {
		echo_pid = echo_start(&echo_fd);
		if (echo_pid < 0) {
			fprintf(stderr, "bench_lookup: echo process: %s\n", strerror((int)-echo_pid));
			r = -1;
			goto out;
		}
		d[k++] = (struct door_run){ .name = "echo", .fn = echo_lookup, .door = &echo_fd,
					    .server = echo_pid };
	}
	for (size_t j = 0; j < k; j++)
		if (!(d[j].samples = malloc(n * sizeof(uint64_t))))
			r = -ENOMEM;
	if (k && !r)
		time_doors(c, d, k, n);
	if (!r && c->daemon_pid > 0 && acm_fd >= 0 && echo_pid > 0)
		time_pinned(c, &d[0], &d[k - 1], n);
out:
	for (size_t j = 0; j < k; j++)
		free(d[j].samples);
	localsa_close(h);
	if (acm_fd >= 0)
		close(acm_fd);
	if (echo_pid > 0) {
		close(echo_fd);	/* the echo process ends at end of file */
		waitpid(echo_pid, NULL, 0);
	}
	return r ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_lookup [warm] --nodes FILE --socket CTL [--acm SOCK] "
		"[--count N] [--mad-count N] [--seconds S] [--doors LIST] [--repeat R] "
		"[--nl-device CA] [--daemon-pid PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nodes", required_argument, NULL, 'n' }, { "socket", required_argument, NULL, 's' },
		{ "acm", required_argument, NULL, 'a' }, { "count", required_argument, NULL, 'c' },
		{ "mad-count", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 't' }, { "doors", required_argument, NULL, 'd' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "nl-device", required_argument, NULL, 'D' },
		{ "daemon-pid", required_argument, NULL, 'P' }, { NULL, 0, NULL, 0 },
	};
	struct ctx c = { .rng = 0x9e3779b97f4a7c15ULL, .count = 200000, .mad_count = 2000,
			 .max_ns = 5000000000ULL };
	const char *nodes_path = NULL, *doors = "shm,acm,control,echo,sa_door,sa_direct,netlink";
	const char *nl_device = "ibsim0";	/* the simulator's CA name */
	struct bench_node *nodes;
	struct localsa *h;
	struct localsa_stats ls;
	unsigned repeat = 5;
	bool warm_mode = false;
	int opt, r, ret = 0;

	if (argc > 1 && !strcmp(argv[1], "warm")) {
		warm_mode = true;
		argv++;
		argc--;
	}
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': nodes_path = optarg; break;
		case 's': c.ctl_path = optarg; break;
		case 'a': c.acm_path = optarg; break;
		case 'c': c.count = bench_arg_u64("--count", optarg, 100000000); break;
		case 'm': c.mad_count = bench_arg_u64("--mad-count", optarg, 10000000); break;
		case 't': c.max_ns = bench_arg_u64("--seconds", optarg, 3600) * 1000000000ULL; break;
		case 'd': doors = optarg; break;
		case 'r': repeat = (unsigned)bench_arg_u64("--repeat", optarg, 1000); break;
		case 'D': nl_device = optarg; break;
		case 'P': c.daemon_pid = (pid_t)bench_arg_u64("--daemon-pid", optarg, 1u << 22); break;
		default: usage();
		}
	}
	if (!nodes_path || !c.ctl_path || optind != argc || !c.count || !c.mad_count)
		usage();
	if (bench_nodes_load(nodes_path, &nodes, &c.n_nodes) < 0)
		return 1;
	c.nodes = nodes;
	/* The subnet prefix and this port's GID: from the port when a MAD door runs. */
	c.prefix = htobe64(0xfe80000000000000ULL);
	if (!warm_mode && (door_on(doors, "sa_door") || door_on(doors, "sa_direct") ||
			   door_on(doors, "netlink"))) {
		lab_port_open(&c.port, NULL, 0);
		c.have_port = true;
		c.prefix = c.port.gid_prefix;
		c.own_gid.global.subnet_prefix = c.port.gid_prefix;
		c.own_gid.global.interface_id = c.port.port_guid;
	}
	if (warm_mode) {
		ret = warm(&c, repeat);
		goto out;
	}
	c.samples = malloc((c.count > c.mad_count ? c.count : c.mad_count) * sizeof(uint64_t));
	if (!c.samples)
		return 1;
	bench_timer_init();

	if (door_on(doors, "shm")) {
		r = localsa_open(c.ctl_path, NULL, &h);
		if (r) {
			fprintf(stderr, "bench_lookup: localsa_open: %s\n", strerror(-r));
			return 1;
		}
		/* every destination once: maps the snapshot, and shows it holds them all */
		for (size_t i = 0; i < c.n_nodes; i++)
			lib_lookup(&c, h, i);
		time_door(&c, "shm", lib_lookup, h, c.count);
		localsa_get_stats(h, &ls, sizeof(ls));
		printf("shm_stats lookups=%llu shm_hits=%llu fallbacks=%llu retries=%llu attached=%u\n",
		       (unsigned long long)ls.lookups, (unsigned long long)ls.shm_hits,
		       (unsigned long long)ls.fallbacks, (unsigned long long)ls.seqlock_retries,
		       ls.attached);
		localsa_close(h);
	}
	if (time_socket_doors(&c, doors) < 0)
		return 1;
	if (c.have_port) {
		struct mad_door d = { .tid = (uint32_t)getpid() << 8 };

		if (door_on(doors, "sa_door")) {
			d.lid = c.port.lid;
			time_door(&c, "sa_door", mad_lookup, &d, c.mad_count);
		}
		if (door_on(doors, "sa_direct")) {
			d.lid = c.port.sm_lid;
			time_door(&c, "sa_direct", mad_lookup, &d, c.mad_count);
		}
		lab_msg_free(&d.m);
	}
	if (c.have_port && door_on(doors, "netlink")) {
		struct nl_door_bench b;

		r = nl_open(&c, nl_device, &b);
		if (r) {
			fprintf(stderr, "bench_lookup: no netlink door on this node: %s\n", strerror(-r));
			return 1;
		}
		time_door(&c, "netlink", nl_lookup, &b, c.count / 4 ? c.count / 4 : 1);
		nlk_transport_close(&b.t);
	}
	free(c.samples);
out:
	if (c.have_port)
		lab_port_close(&c.port);
	free(nodes);
	return ret;
}
