/*
 * lsa_shim - a preload library, loaded in front of ibsim's umad2sim, that
 * gives every libibumad program on the simulated fabric the kernel's umad
 * behaviour back. It exists only for the lab: on real hardware ib_umad does
 * all of this and localsad runs unchanged.
 *
 * What umad2sim lacks and the shim restores (BRIEF §4):
 *  - a real, pollable descriptor per umad handle: open() returns an eventfd
 *    that is readable exactly while reassembled messages are queued, so the
 *    handle works in epoll and in poll() beside sockets;
 *  - MADs of any length: every SA-class (and other non-SMP GMP) message is cut
 *    into 224-byte simulator MADs (original MAD header, a framing header in
 *    the RMPP header slot, 188 payload bytes) and reassembled on receipt;
 *  - the kernel's read() contract: -1/ENOSPC with the needed length in the
 *    header for a short buffer (the message stays queued), -1/EAGAIN when
 *    empty;
 *  - the kernel's request tracking: a request sent with timeout_ms is matched
 *    to its response (low 32 TID bits and class), resent `retries` times, and
 *    returned with status ETIMEDOUT when nothing answers; unmatched responses
 *    and requests for methods nobody registered are dropped, as ib_mad does;
 *  - SA-class servers: a process that registers class 0x03 with a method
 *    mask gets unsolicited requests and Reports. ibsim delivers those only to
 *    an IsSM client, so the shim claims IsSM (classes 0x01/0x81 registered
 *    first, else umad2sim crashes) and answers OpenSM's SMInfo queries with
 *    state NOTACTIVE so that sweeps go on.
 *
 *  - ports 2..N of the node's CA, which umad2sim cannot serve, and port
 *    state that follows the fabric (shim_sim.c);
 *
 * Every process on the simulated fabric must load the shim (OpenSM too), since
 * the framing is end to end. Set LSA_SHIM_DEBUG=1 for a trace on stderr.
 * NETLINK_RDMA sockets of the lab: shim_netlink.c.
 */
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/umad_types.h>

#include "shim_abi.h"
#include "shim_netlink.h"
#include "shim_sim.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* --- constants ------------------------------------------------------------ */

#define UMAD_HDR_LEN ((size_t)sizeof(struct ib_user_mad))
_Static_assert(sizeof(struct ib_user_mad) == 64, "umad ABI header with pkey_index");

enum {
	MAD_HDR_LEN = 24,     /* common MAD header, kept in every segment */
	SIM_MAD_LEN = 224,    /* bytes of a MAD that survive the simulator */
	FRAME_LEN = 12,       /* framing header, in the RMPP header slot */
	SEG_PAYLOAD = SIM_MAD_LEN - MAD_HDR_LEN - FRAME_LEN, /* 188 */
	FRAME_MAGIC = 0x4c53, /* "LS" */
	MAX_MSG = 256 << 20, /* 256 MiB: whole all-pairs tables of big fabrics */
	MAX_FD = 4096,
	POLL_MS = 10,
	REASM_STALE_MS = 5000,
	UNFRAMED_RING = 64,  /* unframed requests remembered for their answer */
	SMP_ATTR_SM_INFO = 0x0020,
};
_Static_assert(SEG_PAYLOAD == 188, "segment payload");

/* The framing header that replaces bytes 24..35 of each simulator MAD. */
struct frame {
	uint16_t magic;     /* FRAME_MAGIC, big endian */
	uint16_t reserved;
	uint32_t seg;       /* index of this segment, big endian; the count follows from total */
	uint32_t total;     /* length of the whole MAD, big endian */
};
_Static_assert(sizeof(struct frame) == FRAME_LEN, "frame header size");

/* --- state ---------------------------------------------------------------- */

struct msg {
	struct msg *next;
	size_t len; /* umad header + MAD bytes */
	unsigned char data[];
};

struct agent {
	bool used;
	uint8_t mgmt_class;
	uint32_t method_mask[4];
};

struct outstanding {
	struct outstanding *next;
	uint32_t tid_lo;
	uint8_t mgmt_class;
	uint32_t agent_id;
	uint64_t deadline_ms;
	uint32_t timeout_ms;
	uint32_t retries_left;
	size_t len;
	unsigned char umad[]; /* the request as the application wrote it */
};

struct reasm {
	struct reasm *next;
	uint16_t slid;
	uint32_t qpn;
	uint32_t tid_lo;
	uint8_t mgmt_class, method;
	uint32_t next_seg, nseg;
	uint32_t total, have;
	uint64_t touched_ms;
	unsigned char *buf; /* umad header + total MAD bytes */
};

/* A request that came without the framing header (a program without the
 * shim): its response must go back unframed, cut by the simulator as stock
 * umad2sim would, or the sender could not parse it. */
struct unframed_req {
	bool used;
	uint8_t mgmt_class;
	uint16_t lid;    /* the requester's LID, network order */
	uint32_t tid_lo;
};

struct handle {
	int rfd;           /* the eventfd the application sees; -1 for internal */
	int simfd;         /* umad2sim's fake descriptor; -1 with sc */
	struct shim_simclient *sc; /* a port umad2sim does not serve (shim_sim.c) */
	unsigned portnum;  /* with sc */
	bool sminfo;       /* with sc: IsSM claimed on this port, answer SMInfo */
	bool nonblock;
	bool internal;     /* the IsSM helper handle: answers SMInfo only */
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock; /* queue, agents, outstanding */
	pthread_cond_t cond;
	pthread_mutex_t send_lock; /* keeps one message's segments together */
	struct msg *head, *tail;
	struct agent agents[32];
	struct outstanding *outstanding;
	struct reasm *reasm; /* touched only by the receive thread */
	struct unframed_req unframed[UNFRAMED_RING]; /* under lock; a ring */
	unsigned unframed_next;
	char dev_path[64];
};

static int (*next_open)(const char *path, int flags, ...);
static int (*next_close)(int fd);
static ssize_t (*next_read)(int fd, void *buf, size_t count);
static ssize_t (*next_write)(int fd, const void *buf, size_t count);
static int (*next_poll)(struct pollfd *fds, nfds_t n, int timeout);
static int (*next_ioctl)(int fd, unsigned long req, ...);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void shim_init(void);
static struct handle *_Atomic by_fd[MAX_FD];
static bool debug;

static pthread_mutex_t sm_lock = PTHREAD_MUTEX_INITIALIZER;
static bool sm_claimed;       /* the shim opened issm for this process */
static bool app_opened_issm;  /* the application (OpenSM) holds issm itself */
static bool app_smp_server;   /* the application serves SMPs: it is an SM */
static bool app_class[256];   /* classes the application registered */
static struct handle *sm_handle;
static int sm_issm_fd = -1;
static uint64_t sm_port_guid; /* network order */
static atomic_uint sm_act_count;

/* --- small helpers -------------------------------------------------------- */

void shim_vtrace(const char *fmt, va_list ap)
{
	pthread_once(&init_once, shim_init);
	if (!debug)
		return;
	fprintf(stderr, "lsa_shim[%d]: ", getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	shim_vtrace(fmt, ap);
	va_end(ap);
}

static void shim_init(void)
{
	next_open = dlsym(RTLD_NEXT, "open");
	next_close = dlsym(RTLD_NEXT, "close");
	next_read = dlsym(RTLD_NEXT, "read");
	next_write = dlsym(RTLD_NEXT, "write");
	next_poll = dlsym(RTLD_NEXT, "poll");
	next_ioctl = dlsym(RTLD_NEXT, "ioctl");
	debug = getenv("LSA_SHIM_DEBUG") && *getenv("LSA_SHIM_DEBUG") == '1';
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct handle *handle_of(int fd)
{
	if (fd < 0 || fd >= MAX_FD)
		return NULL;
	return atomic_load_explicit(&by_fd[fd], memory_order_acquire);
}

/* --- the simulator under a handle: umad2sim, or the shim's own client ------ */

static ssize_t sim_write(struct handle *h, const void *buf, size_t len)
{
	if (h->sc)
		return shim_sim_send(h->sc, buf, len) == 0 ? (ssize_t)len : -1;
	return next_write(h->simfd, buf, len);
}

static ssize_t sim_read(struct handle *h, void *buf, size_t len)
{
	if (h->sc)
		return shim_sim_recv(h->sc, buf, len);
	return next_read(h->simfd, buf, len);
}

static int sim_poll(struct handle *h, int timeout_ms)
{
	struct pollfd pfd = { .fd = h->sc ? h->sc->data_fd : h->simfd, .events = POLLIN };

	return next_poll(&pfd, 1, timeout_ms);
}

static bool is_response(uint8_t method)
{
	return method & 0x80;
}

/* SMPs and PerfMgt MADs are answered by ibsim itself and must pass untouched. */
static bool is_framed_class(uint8_t mgmt_class)
{
	return mgmt_class != UMAD_CLASS_SUBN_LID_ROUTED &&
	       mgmt_class != UMAD_CLASS_SUBN_DIRECTED_ROUTE &&
	       mgmt_class != UMAD_CLASS_PERF_MGMT;
}

static uint32_t mad_tid_lo(const unsigned char *mad)
{
	uint64_t tid;

	memcpy(&tid, mad + 8, sizeof(tid));
	return (uint32_t)be64toh(tid);
}

/* --- the application-visible queue ---------------------------------------- */

/* Called with h->lock held. The eventfd counter is non-zero iff the queue is. */
static void queue_push(struct handle *h, struct msg *m)
{
	uint64_t one = 1;

	m->next = NULL;
	if (h->tail)
		h->tail->next = m;
	else
		h->head = m;
	h->tail = m;
	if (h->head == m && h->rfd >= 0 && next_write(h->rfd, &one, sizeof(one)) != sizeof(one))
		trace("eventfd write failed: %s", strerror(errno));
	pthread_cond_broadcast(&h->cond);
}

static void queue_pop(struct handle *h)
{
	struct msg *m = h->head;
	uint64_t cnt;

	h->head = m->next;
	if (!h->head) {
		h->tail = NULL;
		if (next_read(h->rfd, &cnt, sizeof(cnt)) < 0)
			trace("eventfd drain failed: %s", strerror(errno));
	}
	free(m);
}

static struct msg *msg_new(const void *umad_hdr, const void *mad, size_t mad_len)
{
	struct msg *m = malloc(sizeof(*m) + UMAD_HDR_LEN + mad_len);
	struct ib_user_mad *u;

	if (!m)
		return NULL;
	m->len = UMAD_HDR_LEN + mad_len;
	memcpy(m->data, umad_hdr, UMAD_HDR_LEN);
	if (mad_len)
		memcpy(m->data + UMAD_HDR_LEN, mad, mad_len);
	u = (struct ib_user_mad *)m->data;
	u->length = (uint32_t)m->len;
	return m;
}

/* --- requests from programs without the shim ------------------------------ */

/* Receive thread: remembers an unframed request; the oldest entry gives way. */
static void unframed_note(struct handle *h, const struct ib_user_mad *u,
			  const unsigned char *mad)
{
	struct unframed_req *e;

	pthread_mutex_lock(&h->lock);
	e = &h->unframed[h->unframed_next++ % UNFRAMED_RING];
	e->used = true;
	e->mgmt_class = mad[1];
	e->lid = u->addr.lid;
	e->tid_lo = mad_tid_lo(mad);
	pthread_mutex_unlock(&h->lock);
}

/* Send path: true (and forgets it) when this response answers an unframed request. */
static bool unframed_take(struct handle *h, const unsigned char *umad)
{
	const struct ib_user_mad *u = (const struct ib_user_mad *)umad;
	const unsigned char *mad = umad + UMAD_HDR_LEN;
	bool found = false;

	if (!is_response(mad[3]))
		return false;
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < UNFRAMED_RING; i++) {
		struct unframed_req *e = &h->unframed[i];

		if (e->used && e->lid == u->addr.lid && e->tid_lo == mad_tid_lo(mad) &&
		    e->mgmt_class == mad[1]) {
			e->used = false;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return found;
}

/* --- sending -------------------------------------------------------------- */

/* Simulator MADs that carry a MAD of mad_len bytes. */
static size_t segments_of(size_t mad_len)
{
	size_t payload = mad_len - MAD_HDR_LEN;

	return payload ? (payload + SEG_PAYLOAD - 1) / SEG_PAYLOAD : 1;
}

/* Writes one whole MAD (any length) to the simulator, segmented when framed. */
static int sim_send(struct handle *h, const unsigned char *umad, size_t len)
{
	const unsigned char *mad = umad + UMAD_HDR_LEN;
	size_t mad_len = len - UMAD_HDR_LEN, payload_len, nseg, i;
	unsigned char seg[UMAD_HDR_LEN + SIM_MAD_LEN];
	int ret = 0;

	if (is_framed_class(mad[1]) && unframed_take(h, umad)) {
		/* As stock umad2sim: one MAD, the rest of a large message is lost. */
		size_t cut = len < UMAD_HDR_LEN + 256 ? len : UMAD_HDR_LEN + 256;
		ssize_t n = sim_write(h, umad, cut);

		trace("answered an unframed request unframed (%zu of %zu MAD bytes)",
		      cut - UMAD_HDR_LEN, mad_len);
		return n == (ssize_t)cut ? 0 : -EIO;
	}
	if (!is_framed_class(mad[1])) {
		ssize_t n = sim_write(h, umad, len);

		return n == (ssize_t)len ? 0 : -EIO;
	}
	payload_len = mad_len - MAD_HDR_LEN;
	nseg = segments_of(mad_len);

	pthread_mutex_lock(&h->send_lock);
	for (i = 0; i < nseg; i++) {
		struct frame fr = {
			.magic = htobe16(FRAME_MAGIC),
			.seg = htobe32((uint32_t)i),
			.total = htobe32((uint32_t)mad_len),
		};
		size_t off = i * SEG_PAYLOAD;
		size_t chunk = payload_len - off < SEG_PAYLOAD ? payload_len - off : SEG_PAYLOAD;

		memset(seg, 0, sizeof(seg));
		memcpy(seg, umad, UMAD_HDR_LEN);
		memcpy(seg + UMAD_HDR_LEN, mad, MAD_HDR_LEN);
		memcpy(seg + UMAD_HDR_LEN + MAD_HDR_LEN, &fr, sizeof(fr));
		if (chunk)
			memcpy(seg + UMAD_HDR_LEN + MAD_HDR_LEN + FRAME_LEN,
			       mad + MAD_HDR_LEN + off, chunk);
		if (sim_write(h, seg, sizeof(seg)) != (ssize_t)sizeof(seg)) {
			ret = -EIO;
			break;
		}
	}
	pthread_mutex_unlock(&h->send_lock);
	return ret;
}

/* --- SMInfo answers for the IsSM claim ------------------------------------- */

static void sm_answer(struct handle *h, const unsigned char *umad, size_t len)
{
	unsigned char resp[UMAD_HDR_LEN + 256];
	struct ib_user_mad *u = (struct ib_user_mad *)resp;
	unsigned char *mad = resp + UMAD_HDR_LEN;
	uint32_t act = htobe32(atomic_fetch_add(&sm_act_count, 1));
	uint64_t guid = h->sc ? shim_sim_port_guid(h->portnum) : sm_port_guid;

	memset(resp, 0, sizeof(resp));
	memcpy(resp, umad, len < sizeof(resp) ? len : sizeof(resp));
	u->status = 0;
	u->timeout_ms = 0;
	u->retries = 0;
	mad[3] = UMAD_METHOD_GET_RESP;
	if (mad[1] == UMAD_CLASS_SUBN_DIRECTED_ROUTE) {
		mad[4] = 0x80; /* direction: response; status 0 */
		mad[5] = 0;
	} else {
		mad[4] = mad[5] = 0;
	}
	memset(mad + 64, 0, 8);
	memset(mad + 80, 0, 48);
	memcpy(mad + 64, &guid, 8);              /* GUID */
	/* SM_Key: echo the requester's, which IBA allows a matching SM to return. */
	memcpy(mad + 80, &act, 4);               /* ActCount */
	mad[84] = 0;                             /* priority 0, state NOTACTIVE */
	if (sim_write(h, resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		trace("SMInfo answer failed");
	trace("answered SMInfo %s from lid %u", mad[1] == 0x81 ? "DR" : "LR",
	      be16toh(u->addr.lid));
}

/* --- receiving ------------------------------------------------------------ */

static void deliver(struct handle *h, struct msg *m)
{
	struct ib_user_mad *u = (struct ib_user_mad *)m->data;
	unsigned char *mad = m->data + UMAD_HDR_LEN;
	uint8_t mgmt_class = mad[1], method = mad[3];
	uint16_t attr = be16toh(*(uint16_t *)(mad + 16));

	pthread_mutex_lock(&h->lock);
	if (u->status) {
		/* ibsim bounces an undeliverable MAD to its sender with a status.
		 * The kernel reports nothing of the kind: the request just times
		 * out, which expire_requests() does. */
		trace("dropped a bounced MAD class 0x%x method 0x%x (status %u)", mgmt_class,
		      method, u->status);
		pthread_mutex_unlock(&h->lock);
		free(m);
		return;
	}
	if (is_response(method)) {
		struct outstanding **pp, *o = NULL;
		uint32_t tid = mad_tid_lo(mad);

		for (pp = &h->outstanding; *pp; pp = &(*pp)->next)
			if ((*pp)->tid_lo == tid && (*pp)->mgmt_class == mgmt_class) {
				o = *pp;
				*pp = o->next;
				break;
			}
		if (o) {
			u->agent_id = o->agent_id;
			u->status = 0;
			free(o);
			queue_push(h, m);
			pthread_mutex_unlock(&h->lock);
			return;
		}
		trace("dropped unmatched response class 0x%x method 0x%x tid 0x%x",
		      mgmt_class, method, tid);
	} else {
		for (unsigned i = 0; i < 32; i++) {
			struct agent *a = &h->agents[i];

			if (a->used && a->mgmt_class == mgmt_class &&
			    (a->method_mask[method / 32] & (1u << (method % 32)))) {
				u->agent_id = i;
				queue_push(h, m);
				pthread_mutex_unlock(&h->lock);
				return;
			}
		}
		if ((h->sc ? h->sminfo : sm_claimed) &&
		    (mgmt_class == UMAD_CLASS_SUBN_LID_ROUTED ||
				   mgmt_class == UMAD_CLASS_SUBN_DIRECTED_ROUTE) &&
		    attr == SMP_ATTR_SM_INFO) {
			pthread_mutex_unlock(&h->lock);
			sm_answer(h, m->data, m->len);
			free(m);
			return;
		}
		trace("dropped request class 0x%x method 0x%x attr 0x%x: no agent",
		      mgmt_class, method, attr);
	}
	pthread_mutex_unlock(&h->lock);
	free(m);
}

static void reasm_free(struct reasm *r)
{
	free(r->buf);
	free(r);
}

/* Takes one simulator MAD; returns a whole message when one is complete. */
static struct msg *reassemble(struct handle *h, const unsigned char *umad, size_t len)
{
	const struct ib_user_mad *u = (const struct ib_user_mad *)umad;
	const unsigned char *mad = umad + UMAD_HDR_LEN;
	size_t mad_len = len - UMAD_HDR_LEN;
	struct frame fr;
	struct reasm **pp, *r = NULL;
	uint32_t seg, nseg;
	uint32_t total, chunk;
	struct msg *m;

	if (!is_framed_class(mad[1]) || mad_len < MAD_HDR_LEN + FRAME_LEN)
		return msg_new(umad, mad, mad_len > 256 ? 256 : mad_len);
	memcpy(&fr, mad + MAD_HDR_LEN, sizeof(fr));
	if (be16toh(fr.magic) != FRAME_MAGIC) { /* a sender without the shim */
		if (!is_response(mad[3]))
			unframed_note(h, u, mad);
		return msg_new(umad, mad, mad_len > SIM_MAD_LEN ? SIM_MAD_LEN : mad_len);
	}
	seg = be32toh(fr.seg);
	total = be32toh(fr.total);
	if (total < MAD_HDR_LEN || total > MAX_MSG)
		return NULL;
	nseg = (uint32_t)segments_of(total);
	if (seg >= nseg)
		return NULL;

	for (pp = &h->reasm; *pp; pp = &(*pp)->next) {
		struct reasm *c = *pp;

		if (c->slid == u->addr.lid && c->qpn == u->addr.qpn &&
		    c->tid_lo == mad_tid_lo(mad) && c->mgmt_class == mad[1] &&
		    c->method == mad[3]) {
			r = c;
			break;
		}
	}
	if (seg == 0) {
		if (r) { /* a restart (retransmission): forget the partial one */
			*pp = r->next;
			reasm_free(r);
		}
		r = calloc(1, sizeof(*r));
		if (!r || !(r->buf = malloc(UMAD_HDR_LEN + total))) {
			free(r);
			return NULL;
		}
		r->slid = u->addr.lid;
		r->qpn = u->addr.qpn;
		r->tid_lo = mad_tid_lo(mad);
		r->mgmt_class = mad[1];
		r->method = mad[3];
		r->nseg = nseg;
		r->total = total;
		memcpy(r->buf, umad, UMAD_HDR_LEN);
		memcpy(r->buf + UMAD_HDR_LEN, mad, MAD_HDR_LEN);
		r->have = MAD_HDR_LEN;
		r->next = h->reasm;
		h->reasm = r;
		pp = &h->reasm;
	} else if (!r || seg != r->next_seg || nseg != r->nseg || total != r->total) {
		if (r) {
			trace("lost segment: got %u of %u, expected %u", seg, nseg, r->next_seg);
			*pp = r->next;
			reasm_free(r);
		}
		return NULL;
	}
	chunk = r->total - r->have < SEG_PAYLOAD ? r->total - r->have : SEG_PAYLOAD;
	memcpy(r->buf + UMAD_HDR_LEN + r->have, mad + MAD_HDR_LEN + FRAME_LEN, chunk);
	r->have += chunk;
	r->next_seg = seg + 1;
	r->touched_ms = now_ms();
	if (r->next_seg < r->nseg)
		return NULL;
	*pp = r->next;
	m = msg_new(r->buf, r->buf + UMAD_HDR_LEN, r->total);
	reasm_free(r);
	return m;
}

/* Resends or times out requests whose deadline passed (kernel semantics). */
static void expire_requests(struct handle *h, uint64_t now)
{
	struct outstanding **pp = &h->outstanding, *o;
	struct outstanding *resend = NULL;

	pthread_mutex_lock(&h->lock);
	while ((o = *pp)) {
		if (o->deadline_ms > now) {
			pp = &o->next;
			continue;
		}
		if (o->retries_left) {
			o->retries_left--;
			o->deadline_ms = now + o->timeout_ms;
			o = malloc(sizeof(*o) + (*pp)->len);
			if (o) {
				memcpy(o, *pp, sizeof(*o) + (*pp)->len);
				o->next = resend;
				resend = o;
			}
			pp = &(*pp)->next;
			continue;
		}
		*pp = o->next;
		{
			struct msg *m = msg_new(o->umad, o->umad + UMAD_HDR_LEN, MAD_HDR_LEN);

			if (m) {
				struct ib_user_mad *u = (struct ib_user_mad *)m->data;

				u->status = ETIMEDOUT;
				u->agent_id = o->agent_id;
				queue_push(h, m);
			}
			trace("request tid 0x%x timed out", o->tid_lo);
		}
		free(o);
	}
	pthread_mutex_unlock(&h->lock);
	while ((o = resend)) {
		resend = o->next;
		trace("resending tid 0x%x", o->tid_lo);
		sim_send(h, o->umad, o->len);
		free(o);
	}
}

static void drop_stale_reassembly(struct handle *h, uint64_t now)
{
	struct reasm **pp = &h->reasm, *r;

	while ((r = *pp)) {
		if (now - r->touched_ms > REASM_STALE_MS) {
			*pp = r->next;
			trace("dropped a stale partial message");
			reasm_free(r);
		} else {
			pp = &r->next;
		}
	}
}

/*
 * umad2sim writes the received address only up to grh_present; gid_index
 * through the end of the header (GRH fields, pkey_index) are stale bytes of
 * its own buffers. Without a GRH the kernel leaves them zero, and the
 * simulator has no P_Key index to report but 0. OpenSM keys InformInfo
 * subscriptions on the whole address, pkey_ix included: with stale bytes an
 * unsubscribe matched no subscription (ERR 4307), at random.
 */
static void scrub_header(unsigned char *umad)
{
	const size_t from = offsetof(struct ib_user_mad, addr) + offsetof(ib_mad_addr_t, gid_index);

	memset(umad + from, 0, UMAD_HDR_LEN - from);
}

static void *receiver(void *arg)
{
	struct handle *h = arg;
	unsigned char buf[UMAD_HDR_LEN + 256 + 64];
	uint64_t last_check = 0;

	while (!atomic_load(&h->stop)) {
		uint64_t now;

		if (sim_poll(h, POLL_MS) > 0) {
			ssize_t n = sim_read(h, buf, sizeof(buf));

			if (n >= (ssize_t)(UMAD_HDR_LEN + MAD_HDR_LEN)) {
				struct msg *m;

				scrub_header(buf);
				m = reassemble(h, buf, (size_t)n);

				if (m && h->internal) {
					unsigned char *mad = m->data + UMAD_HDR_LEN;

					if (!is_response(mad[3]) &&
					    be16toh(*(uint16_t *)(mad + 16)) == SMP_ATTR_SM_INFO)
						sm_answer(h, m->data, m->len);
					free(m);
				} else if (m) {
					deliver(h, m);
				}
			}
		}
		now = now_ms();
		if (now - last_check >= POLL_MS) {
			last_check = now;
			expire_requests(h, now);
			drop_stale_reassembly(h, now);
		}
	}
	return NULL;
}

/* --- handles -------------------------------------------------------------- */

static struct handle *handle_new(int simfd, struct shim_simclient *sc, int rfd,
				 bool nonblock, bool internal, const char *path)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->simfd = simfd;
	h->sc = sc;
	h->rfd = rfd;
	h->nonblock = nonblock;
	h->internal = internal;
	snprintf(h->dev_path, sizeof(h->dev_path), "%s", path);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->send_lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_create(&h->thread, NULL, receiver, h)) {
		free(h);
		return NULL;
	}
	return h;
}

static void handle_free(struct handle *h)
{
	struct outstanding *o;
	struct reasm *r;

	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	while (h->head) {
		struct msg *m = h->head;

		h->head = m->next;
		free(m);
	}
	while ((o = h->outstanding)) {
		h->outstanding = o->next;
		free(o);
	}
	while ((r = h->reasm)) {
		h->reasm = r->next;
		reasm_free(r);
	}
	if (h->sc)
		shim_sim_close(h->sc);
	else
		next_close(h->simfd);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->send_lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}

/*
 * Claims IsSM for this process so that ibsim delivers unsolicited requests and
 * Reports to it. Called when the application registers an SA-class server.
 */
static void sm_claim(const char *umad_path)
{
	unsigned char req[SHIM_REG_REQ_MAX];
	char issm_path[64];
	unsigned dev = 0;
	int fd;

	pthread_mutex_lock(&sm_lock);
	if (sm_claimed || app_opened_issm || app_smp_server)
		goto out;
	if (sscanf(umad_path, "/dev/infiniband/umad%u", &dev) != 1)
		goto out;
	if (shim_port_guid(&sm_port_guid) < 0)
		trace("cannot read the port GUID for SMInfo answers");
	fd = next_open(umad_path, O_RDWR);
	if (fd < 0)
		goto out;
	/*
	 * umad2sim routes each class to the last descriptor that registered it,
	 * so the helper takes only SMP classes the application has not claimed;
	 * SMInfo requests reaching an application handle are answered there.
	 */
	for (unsigned i = 0; i < 2; i++) {
		uint32_t mask[4] = { (1u << UMAD_METHOD_GET) | (1u << UMAD_METHOD_SET) };
		uint8_t cls = i ? UMAD_CLASS_SUBN_DIRECTED_ROUTE : UMAD_CLASS_SUBN_LID_ROUTED;

		if (app_class[cls])
			continue;
		shim_reg_req_build(req, cls, 1, mask);
		if (next_ioctl(fd, shim_ioctl_register_agent, req) < 0) {
			next_close(fd);
			goto out;
		}
	}
	sm_handle = handle_new(fd, NULL, -1, true, true, umad_path);
	if (!sm_handle) {
		next_close(fd);
		goto out;
	}
	snprintf(issm_path, sizeof(issm_path), "/dev/infiniband/issm%u", dev);
	sm_issm_fd = next_open(issm_path, O_RDWR);
	sm_claimed = sm_issm_fd >= 0;
	trace("IsSM claim %s", sm_claimed ? "done" : "failed");
out:
	pthread_mutex_unlock(&sm_lock);
}

static void agent_registered(struct handle *h, const void *req)
{
	uint32_t id, mask[4];
	uint8_t mgmt_class;
	bool server = false;

	shim_reg_req_parse(req, &id, &mgmt_class, mask);
	if (id >= 32)
		return;
	pthread_mutex_lock(&h->lock);
	h->agents[id].used = true;
	h->agents[id].mgmt_class = mgmt_class;
	memcpy(h->agents[id].method_mask, mask, sizeof(mask));
	for (unsigned i = 0; i < 4; i++)
		server |= mask[i] != 0;
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_lock(&sm_lock);
	app_class[mgmt_class] = true;
	if (server && (mgmt_class == UMAD_CLASS_SUBN_LID_ROUTED ||
		       mgmt_class == UMAD_CLASS_SUBN_DIRECTED_ROUTE))
		app_smp_server = true;
	pthread_mutex_unlock(&sm_lock);
	trace("agent %u class 0x%x%s", id, mgmt_class, server ? " (server)" : "");
	if (server && mgmt_class == UMAD_CLASS_SUBN_ADM) {
		if (!h->sc)
			sm_claim(h->dev_path);
		else if (shim_sim_set_issm(h->sc, true) == 0)
			h->sminfo = true; /* its own client: IsSM on that port only */
	}
}

/* --- interposed libc functions -------------------------------------------- */

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	struct shim_simclient *sc;
	unsigned portnum = 0;
	struct handle *h;
	int simfd, rfd;

	pthread_once(&init_once, shim_init);
	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (strncmp(path, "/dev/infiniband/issm", 20) == 0) {
		pthread_mutex_lock(&sm_lock);
		app_opened_issm = true;
		pthread_mutex_unlock(&sm_lock);
	}
	if (strncmp(path, "/sys/class/infiniband", 21) == 0 ||
	    strncmp(path, "/dev/infiniband/", 16) == 0) {
		shim_sim_setup();
		shim_sim_refresh(path);
	}
	if (strncmp(path, "/dev/infiniband/umad", 20) != 0)
		return next_open(path, flags, mode);

	sc = shim_sim_open(path, &portnum);
	simfd = sc ? -1 : next_open(path, flags, mode);
	if (!sc && simfd < 0)
		return simfd;
	rfd = eventfd(0, EFD_NONBLOCK | ((flags & O_CLOEXEC) ? EFD_CLOEXEC : 0));
	if (rfd < 0 || rfd >= MAX_FD) {
		if (rfd >= 0)
			next_close(rfd);
		goto out_close_sim;
	}
	h = handle_new(simfd, sc, rfd, flags & O_NONBLOCK, false, path);
	if (!h) {
		next_close(rfd);
		goto out_close_sim;
	}
	h->portnum = portnum;
	atomic_store_explicit(&by_fd[rfd], h, memory_order_release);
	trace("open %s -> fd %d (sim %d%s)", path, rfd, simfd, sc ? ", shim's client" : "");
	return rfd;

out_close_sim:
	if (sc)
		shim_sim_close(sc);
	else
		next_close(simfd);
	errno = EMFILE;
	return -1;
}

SHIM_EXPORT int close(int fd)
{
	struct handle *h;

	pthread_once(&init_once, shim_init);
	shim_nl_close(fd);	/* a NETLINK_RDMA socket of the lab (shim_netlink.c) */
	h = handle_of(fd);
	if (h) {
		atomic_store_explicit(&by_fd[fd], NULL, memory_order_release);
		handle_free(h);
	}
	return next_close(fd);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	struct handle *h;
	ssize_t ret;

	pthread_once(&init_once, shim_init);
	h = handle_of(fd);
	if (!h)
		return next_read(fd, buf, count);
	if (count < UMAD_HDR_LEN) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	while (!h->head && !h->nonblock)
		pthread_cond_wait(&h->cond, &h->lock);
	if (!h->head) {
		pthread_mutex_unlock(&h->lock);
		errno = EAGAIN;
		return -1;
	}
	if (h->head->len > count) {
		/* The kernel's contract: header only, needed length, keep it queued. */
		memcpy(buf, h->head->data, UMAD_HDR_LEN);
		pthread_mutex_unlock(&h->lock);
		errno = ENOSPC;
		return -1;
	}
	memcpy(buf, h->head->data, h->head->len);
	ret = (ssize_t)h->head->len;
	queue_pop(h);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * With LSA_SHIM_STATS=DIR, each process keeps DIR/<pid> up to date with the
 * PathRecord queries it sent (SA class, Get/GetTable/GetMulti, attribute
 * 0x35; not Set or Delete, which are pushes) and to which LIDs: how the lab
 * measures the load on the master SA.
 */
static void count_sa_request(const unsigned char *mad, const struct ib_user_mad *u)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static unsigned long get, get_table, other;
	static uint16_t lids[64];
	static unsigned long per_lid[64];
	const char *dir = getenv("LSA_SHIM_STATS");
	char path[512], line[4096];
	uint16_t attr, lid = be16toh(u->addr.lid);
	size_t n;
	int fd;

	if (!dir || !*dir || mad[1] != UMAD_CLASS_SUBN_ADM ||
	    (mad[3] != UMAD_METHOD_GET && mad[3] != 0x12 && mad[3] != 0x14))
		return;
	memcpy(&attr, mad + 16, sizeof(attr));
	if (be16toh(attr) != 0x0035)
		return;
	pthread_mutex_lock(&lock);
	if (mad[3] == UMAD_METHOD_GET)
		get++;
	else if (mad[3] == 0x12)
		get_table++;
	else
		other++;
	for (unsigned i = 0; i < 64; i++)
		if (lids[i] == lid || !lids[i]) {
			lids[i] = lid;
			per_lid[i]++;
			break;
		}
	n = (size_t)snprintf(line, sizeof(line), "pid %d get %lu get_table %lu other %lu",
			     getpid(), get, get_table, other);
	for (unsigned i = 0; i < 64 && lids[i] && n < sizeof(line) - 32; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " to_lid_%u %lu", lids[i],
				      per_lid[i]);
	line[n++] = '\n';
	snprintf(path, sizeof(path), "%s/%d", dir, getpid());
	fd = next_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (next_write(fd, line, n) != (ssize_t)n)
			trace("cannot write %s", path);
		next_close(fd);
	}
	pthread_mutex_unlock(&lock);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	const struct ib_user_mad *u = buf;
	const unsigned char *mad = (const unsigned char *)buf + UMAD_HDR_LEN;
	struct handle *h;
	int ret;

	pthread_once(&init_once, shim_init);
	h = handle_of(fd);
	if (!h) {
		shim_sim_snoop_write(buf, count);
		return next_write(fd, buf, count);
	}
	if (count < UMAD_HDR_LEN + MAD_HDR_LEN || count > UMAD_HDR_LEN + MAX_MSG) {
		errno = EINVAL;
		return -1;
	}
	if (!is_response(mad[3]) && u->timeout_ms) {
		struct outstanding *o = malloc(sizeof(*o) + count);

		if (!o) {
			errno = ENOMEM;
			return -1;
		}
		o->tid_lo = mad_tid_lo(mad);
		o->mgmt_class = mad[1];
		o->agent_id = u->agent_id;
		o->timeout_ms = u->timeout_ms;
		o->retries_left = u->retries;
		o->deadline_ms = now_ms() + u->timeout_ms;
		o->len = count;
		memcpy(o->umad, buf, count);
		pthread_mutex_lock(&h->lock);
		o->next = h->outstanding;
		h->outstanding = o;
		pthread_mutex_unlock(&h->lock);
	}
	ret = sim_send(h, buf, count);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	count_sa_request(mad, u);
	return (ssize_t)count;
}

/* The agent ioctls on a port of the shim's own client, as umad2sim answers them. */
static int sim_ioctl(struct shim_simclient *sc, unsigned long request, void *arg)
{
	int ret = -EINVAL;

	if (request == shim_ioctl_register_agent)
		ret = shim_sim_register(sc, arg);
	else if (request == shim_ioctl_unregister_agent)
		ret = shim_sim_unregister(sc, *(uint32_t *)arg);
	else if (request == shim_ioctl_enable_pkey)
		ret = 0;
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	struct handle *h;
	va_list ap;
	void *arg;
	int ret;

	pthread_once(&init_once, shim_init);
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	h = handle_of(fd);
	if (!h)
		return next_ioctl(fd, request, arg);
	if (h->sc)
		ret = sim_ioctl(h->sc, request, arg);
	else
		ret = next_ioctl(h->simfd, request, arg);
	if (ret == 0 && request == shim_ioctl_register_agent)
		agent_registered(h, arg);
	if (ret == 0 && request == shim_ioctl_unregister_agent) {
		uint32_t id = *(uint32_t *)arg;

		pthread_mutex_lock(&h->lock);
		if (id < 32)
			h->agents[id].used = false;
		pthread_mutex_unlock(&h->lock);
	}
	return ret;
}
