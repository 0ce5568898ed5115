/*
 * nl_door - see nl_door.h. One non-blocking netlink socket in the loop. The kernel multicasts a
 * RESOLVE to the group and waits for the first answer carrying the same sequence number; this
 * door turns each one into a lookup on the seam and answers from the callback, now (a cache
 * hit) or when the SA has answered (a miss). Whatever it cannot answer with a path gets the
 * error reply at once: silence would cost the kernel its whole timeout before it asks the SA.
 * Nothing a peer sends can grow the door: the requests waiting for the SA are capped (beyond,
 * the cache answers alone), and new cache tuples come from one quota, the kernel's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/quota.h"
#include "doors/nl_door.h"
#include "fabric/path_service.h"
#include "wire/nl_ls.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_RDMA
#define NETLINK_RDMA 20
#endif

enum {
	NL_RX_MAX = 65536,		/* the largest datagram netlink delivers */
	NL_RX_BATCH = 64,		/* datagrams per wakeup: the other descriptors get their turn */
	NL_DRAIN_MAX = 4096,		/* datagrams handed back to the kernel when leaving */
	NL_RCVBUF = 1 << 20,		/* a burst of requests (a job start) before ENOBUFS */
	NL_READY_POLL_MS = 200,		/* how often the door looks for the first fill */
	NL_DEFAULT_MAX_PENDING = 1024,
	NL_DEFAULT_NEW_TUPLES = 64,
	NL_DEFAULT_NEW_TUPLES_PER_S = 4,
};

/* A RESOLVE being answered. */
struct nl_wait {
	struct nl_wait *prev, *next;	/* in the door's list while waiting for the SA */
	struct nl_door *door;
	struct nlmsghdr hdr;		/* the request's: the answer echoes its type and seq */
	uint8_t path_use;
	bool in_resolve;		/* inside path_service_resolve(): an answer now is a hit */
	bool cache_only;		/* asked at the cap: a miss is not fetched */
	int64_t id;			/* the service's lookup while waiting */
};

struct nl_stats {
	uint64_t resolves, ip_resolves, other_ops;	/* requests by op */
	uint64_t cache_answers, fetched;		/* answered with paths */
	uint64_t error_replies;				/* every error reply, by cause below */
	uint64_t malformed, foreign, no_path, sa_failures, busy, quota_refused, handed_back;
	uint64_t enobufs, not_kernel, ignored, send_failures, kernel_errors, joins;
	uint64_t other_responders;	/* other members of the group seen at the last bind */
};

struct nl_door {
	struct loop *loop;
	struct path_service *svc;
	struct nl_door_opts opts;
	struct nl_door_io io;
	int fd;
	uint32_t port_id;		/* nlmsg_pid of what the door sends */
	uint32_t seq;			/* of the requests the door sends (SET_TIMEOUT) */
	bool joined, left, join_failed, eperm_logged;
	struct loop_timer ready_poll;
	struct quota quota;		/* new cache tuples: the kernel is one requester */
	struct nl_wait *waiting;
	unsigned n_waiting;
	struct nl_stats st;
	uint8_t tx[NL_LS_ANSWER_MAX];
	uint8_t rx[NL_RX_MAX];
};

/* --- the kernel's NETLINK_RDMA --------------------------------------------------- */

/* A bound socket: the kernel's multicast skips a member whose port id is 0, its own. */
static int kernel_open(void *ctx)
{
	struct sockaddr_nl self = { .nl_family = AF_NETLINK };
	int fd, size = NL_RCVBUF, err;

	(void)ctx;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_RDMA);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	/* beyond rmem_max with CAP_NET_ADMIN, which the door needs anyway; best effort */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return fd;
}

static int kernel_membership(void *ctx, int fd, bool join)
{
	int group = RDMA_NL_GROUP_LS;

	(void)ctx;
	if (setsockopt(fd, SOL_NETLINK, join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP,
		       &group, sizeof(group)) < 0)
		return -errno;
	return 0;
}

static const struct nl_door_io kernel_io = { kernel_open, kernel_membership, NULL };

/* --- sending ------------------------------------------------------------------------ */

/* To the kernel: a netlink socket's default destination is port 0. */
static void send_kernel(struct nl_door *d, const void *buf, size_t len)
{
	if (send(d->fd, buf, len, MSG_DONTWAIT) != (ssize_t)len) {
		d->st.send_failures++;
		LOG_DEBUG("a %zu-byte message to the kernel was lost: %s", len, strerror(errno));
	}
}

static void reply_error(struct nl_door *d, const struct nlmsghdr *req)
{
	uint8_t buf[NL_LS_ERROR_LEN];

	nl_ls_error_encode(buf, sizeof(buf), req, d->port_id);
	d->st.error_replies++;
	send_kernel(d, buf, sizeof(buf));
}

/* The paths the SA gave, in its order (the first one the primary), as many as fit. */
static void reply_paths(struct nl_door *d, const struct nl_wait *w,
			const struct ibv_path_record *recs, size_t n)
{
	int len = nl_ls_answer_encode(d->tx, sizeof(d->tx), &w->hdr, w->path_use, recs,
				      n < NL_LS_MAX_PATHS ? n : NL_LS_MAX_PATHS, d->port_id);

	if (len < 0) {	/* cannot happen: 1..NL_LS_MAX_PATHS paths always fit */
		reply_error(d, &w->hdr);
		return;
	}
	send_kernel(d, d->tx, (size_t)len);
}

/* --- RESOLVE --------------------------------------------------------------------- */

static void wait_link(struct nl_door *d, struct nl_wait *w)
{
	w->prev = NULL;
	w->next = d->waiting;
	if (d->waiting)
		d->waiting->prev = w;
	d->waiting = w;
	d->n_waiting++;
}

static void wait_unlink(struct nl_door *d, struct nl_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		d->waiting = w->next;
	if (w->next)
		w->next->prev = w->prev;
	d->n_waiting--;
}

/* The service's answer: inside path_service_resolve() for a hit, later for a miss. */
static void resolved(void *arg, int err, uint8_t sa_status, const struct ibv_path_record *recs,
		     size_t n)
{
	struct nl_wait *w = arg;
	struct nl_door *d = w->door;

	if (!w->in_resolve)
		wait_unlink(d, w);
	if (!err && n) {
		if (w->in_resolve)
			d->st.cache_answers++;
		else
			d->st.fetched++;
		reply_paths(d, w, recs, n);
	} else {
		if (err == -ENOENT && !sa_status && w->cache_only)
			d->st.busy++;		/* a miss at the cap: the kernel asks the SA */
		else if (err == -ENOENT || !err)
			d->st.no_path++;
		else
			d->st.sa_failures++;
		reply_error(d, &w->hdr);
	}
	free(w);
}

/* The port served under the request's device name and port number, if its SGID is that
 * port's GID or absent. */
static bool own_port(struct nl_door *d, const struct nl_ls_resolve *r, struct path_port *port)
{
	if (path_service_port_by_name(d->svc, r->device_name, r->port_num, port) < 0)
		return false;
	return !(r->has & NL_LS_HAS_SGID) || !memcmp(&r->sgid, &port->gid, sizeof(port->gid));
}

static void serve_resolve(struct nl_door *d, const uint8_t *msg, size_t len,
			  const struct nlmsghdr *h)
{
	struct path_query q = { .quota = &d->quota };
	struct ibv_path_record rec;
	struct path_port port;
	struct nl_ls_resolve r;
	struct nl_wait *w;
	uint64_t mask;
	int64_t id;
	int ret;

	ret = nl_ls_resolve_decode(msg, len, &r);
	if (ret < 0) {
		d->st.malformed++;
		LOG_DEBUG("RESOLVE seq %u refused: %s", h->nlmsg_seq, strerror(-ret));
		reply_error(d, h);
		return;
	}
	if (!own_port(d, &r, &port)) {	/* another port's: the kernel asks the SA */
		d->st.foreign++;
		LOG_DEBUG("RESOLVE seq %u for %s port %u: not a port served", h->nlmsg_seq,
			  r.device_name, r.port_num);
		reply_error(d, h);
		return;
	}
	/* exactly the fields the kernel gave: the exact-request rule of every door */
	nl_ls_resolve_to_query(&r, &rec, &mask);
	pr_request_from_record(&q.req, &rec, mask);
	if (!(q.req.has & PR_REQ_SGID)) {
		/* the source is the port the kernel named (the seam's default port is another
		 * port's once there are several); the SA's query carries this SGID either way */
		q.req.sgid = port.gid;
		q.req.has |= PR_REQ_SGID;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		reply_error(d, h);
		return;
	}
	w->door = d;
	w->hdr = *h;
	w->path_use = r.path_use;
	if (d->n_waiting >= d->opts.max_pending) {
		q.flags = PATH_Q_CACHE_ONLY;
		w->cache_only = true;
	}
	w->in_resolve = true;
	id = path_service_resolve(d->svc, &q, resolved, w);
	if (id == 0)
		return;		/* answered: w is gone */
	if (id > 0) {
		w->in_resolve = false;
		w->id = id;
		wait_link(d, w);
		return;
	}
	if (id == -EDQUOT)
		d->st.quota_refused++;
	else
		d->st.sa_failures++;
	LOG_DEBUG("RESOLVE seq %u: %s", h->nlmsg_seq, strerror((int)-id));
	reply_error(d, h);
	free(w);
}

/* --- what the kernel sends ------------------------------------------------------- */

/* An ack (NLMSG_ERROR) to something the door sent, or any other message not for a responder. */
static void take_other(struct nl_door *d, const uint8_t *msg, size_t len,
		       const struct nlmsghdr *h)
{
	struct nlmsghdr orig;
	int error;

	if (h->nlmsg_type != NLMSG_ERROR || nl_ls_ack_decode(msg, len, &orig, &error) < 0) {
		d->st.ignored++;
		return;
	}
	if (!error) {
		if (orig.nlmsg_type == RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_SET_TIMEOUT))
			LOG_DEBUG("the kernel took SET_TIMEOUT");
		return;
	}
	d->st.kernel_errors++;
	if (error == -EPERM && !d->eperm_logged) {
		d->eperm_logged = true;
		LOG_ERR("the kernel refuses the netlink door's messages: CAP_NET_ADMIN is needed");
	} else {
		LOG_DEBUG("the kernel refused message type 0x%x seq %u: %s", orig.nlmsg_type,
			  orig.nlmsg_seq, strerror(-error));
	}
}

/*
 * One datagram from the kernel: every message in it (the netlink core stops at one whose
 * length is below 16 bytes, and so does the door). refuse_all: the door is leaving; every
 * request gets the error reply.
 */
static void take(struct nl_door *d, const uint8_t *buf, size_t len, bool refuse_all)
{
	for (size_t off = 0; off < len;) {
		struct nlmsghdr h;
		int n = nl_ls_frame(buf + off, len - off, &h);

		if (n < 0) {
			d->st.malformed++;	/* no message header: nothing to answer */
			return;
		}
		switch (nl_ls_classify(&h)) {
		case NL_LS_IGNORE:
			take_other(d, buf + off, len - off, &h);
			break;
		case NL_LS_REFUSE:
			if (RDMA_NL_GET_OP(h.nlmsg_type) == RDMA_NL_LS_OP_IP_RESOLVE)
				d->st.ip_resolves++;
			else
				d->st.other_ops++;
			reply_error(d, &h);
			break;
		case NL_LS_RESOLVE:
			d->st.resolves++;
			if (refuse_all) {
				d->st.handed_back++;
				reply_error(d, &h);
			} else {
				serve_resolve(d, buf + off, len - off, &h);
			}
			break;
		}
		off += (size_t)n;
	}
}

/*
 * The next datagram: its length, 0 for one to skip (not from the kernel: any process may send to
 * a netlink port id), -EAGAIN when none is queued, or another negative errno.
 */
static ssize_t receive(struct nl_door *d)
{
	struct sockaddr_nl src;
	struct iovec v = { .iov_base = d->rx, .iov_len = sizeof(d->rx) };
	struct msghdr m = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &v,
			    .msg_iovlen = 1 };
	ssize_t n;

	memset(&src, 0, sizeof(src));
	n = recvmsg(d->fd, &m, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == ENOBUFS) {	/* the kernel dropped requests: they time out there */
			d->st.enobufs++;
			LOG_WARN("the kernel dropped netlink requests: the door did not read fast enough");
			return 0;
		}
		return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	}
	if (m.msg_namelen >= sizeof(src) && (src.nl_family != AF_NETLINK || src.nl_pid != 0)) {
		d->st.not_kernel++;
		return 0;
	}
	return n;
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct nl_door *d = arg;

	(void)loop;
	(void)fd;
	(void)events;
	for (int i = 0; i < NL_RX_BATCH; i++) {
		ssize_t n = receive(d);

		if (n < 0) {
			if (n != -EAGAIN)
				LOG_WARN("netlink receive: %s", strerror((int)-n));
			return;
		}
		take(d, d->rx, (size_t)n, false);
	}
}

/* --- the group ------------------------------------------------------------------- */

/*
 * Other NETLINK_RDMA sockets in the group (/proc/net/netlink: protocol, port id, the first 32
 * groups in hex): every member gets every request and the kernel takes the first answer, so a
 * second responder (ibacm's, keyed by destination only) may answer in the door's place.
 */
static void look_for_other_responders(struct nl_door *d)
{
	const char *path = d->opts.proc_netlink ? d->opts.proc_netlink : "/proc/net/netlink";
	char line[256];
	unsigned n = 0;
	uint32_t first = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned proto, pid, groups;

		if (sscanf(line, "%*s %u %u %x", &proto, &pid, &groups) != 3 ||
		    proto != NETLINK_RDMA || !(groups & NL_LS_GROUP_MASK) || pid == d->port_id)
			continue;
		if (!n++)
			first = pid;
	}
	fclose(f);
	d->st.other_responders = n;
	if (n)
		LOG_WARN("netlink door: %u other socket%s (port id %u: ibacm?) answer%s the kernel's "
			 "path queries too, and the kernel takes the first answer: stop it, or set "
			 "netlink off", n, n == 1 ? "" : "s", first, n == 1 ? "s" : "");
}

static void join(struct nl_door *d)
{
	struct sockaddr_nl self;
	socklen_t slen = sizeof(self);
	uint8_t buf[NL_LS_SET_TIMEOUT_LEN];
	int ret;

	if (d->joined || d->left || d->join_failed)
		return;
	loop_timer_stop(d->loop, &d->ready_poll);
	ret = d->io.membership(d->io.ctx, d->fd, true);
	if (ret < 0) {
		d->join_failed = true;
		LOG_ERR("the netlink door cannot join RDMA_NL_GROUP_LS: %s%s", strerror(-ret),
			ret == -EPERM ? " (it needs CAP_NET_ADMIN)" : "");
		return;
	}
	d->joined = true;
	d->st.joins++;
	memset(&self, 0, sizeof(self));
	if (getsockname(d->fd, (struct sockaddr *)&self, &slen) == 0 &&
	    self.nl_family == AF_NETLINK)
		d->port_id = self.nl_pid;
	look_for_other_responders(d);
	if (d->opts.timeout_ms) {
		/* with an ack: a kernel that refuses it says so (take_other()) */
		nl_ls_set_timeout_encode(buf, sizeof(buf), ++d->seq, d->port_id, d->opts.timeout_ms,
					 true);
		send_kernel(d, buf, sizeof(buf));
	}
	if (d->opts.timeout_ms)
		LOG_INFO("netlink door: answering the kernel's PathRecord queries (RDMA_NL_LS), "
			 "the kernel's wait set to %u ms", d->opts.timeout_ms);
	else
		LOG_INFO("netlink door: answering the kernel's PathRecord queries (RDMA_NL_LS)");
}

/* Until the service reports a fill (or nl_door_ready() comes first). */
static void ready_poll(struct loop *loop, void *arg)
{
	struct nl_door *d = arg;

	if (path_service_generation(d->svc) > 0)
		join(d);
	else
		loop_timer_start(loop, &d->ready_poll, NL_READY_POLL_MS, ready_poll, d);
}

void nl_door_ready(struct nl_door *d)
{
	if (d)
		join(d);
}

void nl_door_leave(struct nl_door *d)
{
	unsigned handed = 0;
	int ret;

	if (!d || d->left)
		return;
	d->left = true;
	loop_timer_stop(d->loop, &d->ready_poll);
	if (d->joined) {
		ret = d->io.membership(d->io.ctx, d->fd, false);
		if (ret < 0)
			LOG_WARN("netlink door: leaving RDMA_NL_GROUP_LS: %s", strerror(-ret));
		d->joined = false;
	}
	/* Requests already queued: the error reply, so that the kernel asks the SA now. */
	for (int i = 0; i < NL_DRAIN_MAX; i++) {
		ssize_t n = receive(d);

		if (n < 0)
			break;
		take(d, d->rx, (size_t)n, true);
	}
	loop_del_fd(d->loop, d->fd);
	while (d->waiting) {
		struct nl_wait *w = d->waiting;

		wait_unlink(d, w);
		path_service_cancel(d->svc, w->id);
		d->st.handed_back++;
		reply_error(d, &w->hdr);
		free(w);
		handed++;
	}
	LOG_INFO("netlink door: left RDMA_NL_GROUP_LS; %u requests waiting for the SA handed back "
		 "to the kernel", handed);
}

/* --- public ---------------------------------------------------------------------- */

int nl_door_new(struct loop *loop, struct path_service *svc, const struct nl_door_opts *opts,
		struct nl_door **out)
{
	struct nl_door *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->svc = svc;
	d->opts = *opts;
	d->io = opts->io ? *opts->io : kernel_io;
	if (!d->opts.max_pending)
		d->opts.max_pending = NL_DEFAULT_MAX_PENDING;
	if (d->opts.timeout_ms && d->opts.timeout_ms < NL_LS_TIMEOUT_MIN)
		d->opts.timeout_ms = NL_LS_TIMEOUT_MIN;
	if (d->opts.timeout_ms > NL_LS_TIMEOUT_MAX)
		d->opts.timeout_ms = NL_LS_TIMEOUT_MAX;
	quota_init(&d->quota, opts->new_tuples ? opts->new_tuples : NL_DEFAULT_NEW_TUPLES,
		   opts->new_tuples_per_s ? opts->new_tuples_per_s : NL_DEFAULT_NEW_TUPLES_PER_S,
		   loop_now_ms());
	d->fd = d->io.open(d->io.ctx);
	if (d->fd < 0) {
		ret = d->fd;
		goto out_free;
	}
	ret = loop_add_fd(loop, d->fd, EPOLLIN, on_readable, d);
	if (ret < 0)
		goto out_close;
	ready_poll(loop, d);
	*out = d;
	return 0;

out_close:
	close(d->fd);
out_free:
	free(d);
	return ret;
}

void nl_door_free(struct nl_door *d)
{
	if (!d)
		return;
	nl_door_leave(d);
	close(d->fd);
	free(d);
}

void nl_door_stats_json(const struct nl_door *d, struct json *j)
{
	const struct nl_stats *s;

	if (!d)
		return;
	s = &d->st;
	json_bool(j, "netlink_bound", d->joined);
	json_gauge(j, "netlink_timeout_ms", d->opts.timeout_ms);
	json_u64(j, "netlink_resolves", s->resolves);
	json_u64(j, "netlink_ip_resolves", s->ip_resolves);
	json_u64(j, "netlink_other_ops", s->other_ops);
	json_u64(j, "netlink_cache_answers", s->cache_answers);
	json_u64(j, "netlink_fetched", s->fetched);
	json_u64(j, "netlink_error_replies", s->error_replies);
	json_u64(j, "netlink_malformed", s->malformed);
	json_u64(j, "netlink_foreign", s->foreign);
	json_u64(j, "netlink_no_path", s->no_path);
	json_u64(j, "netlink_sa_failures", s->sa_failures);
	json_u64(j, "netlink_busy", s->busy);
	json_u64(j, "netlink_quota_refused", s->quota_refused);
	json_u64(j, "netlink_handed_back", s->handed_back);
	json_gauge(j, "netlink_pending", d->n_waiting);
	json_u64(j, "netlink_enobufs", s->enobufs);
	json_u64(j, "netlink_not_kernel", s->not_kernel);
	json_u64(j, "netlink_ignored", s->ignored);
	json_u64(j, "netlink_send_failures", s->send_failures);
	json_u64(j, "netlink_kernel_errors", s->kernel_errors);
	json_u64(j, "netlink_joins", s->joins);
	json_gauge(j, "netlink_other_responders", s->other_responders);
}
