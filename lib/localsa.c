/*
 * localsa.c - liblocalsa: lookups in localsad's shared-memory snapshot, with the control
 * socket behind it for everything the snapshot cannot answer.
 *
 * The hot path is one atomic pointer load (the current mapping), the snapshot's lock-free
 * lookup, and one relaxed counter increment in a slot picked by the calling thread's stack
 * address (threads rarely share one). Everything else - attaching, remapping after localsad
 * grew or restarted its snapshot, socket round trips - is the slow path, under a mutex.
 * A mapping replaced while other threads may still read it is kept until localsa_close(): the
 * daemon released its memory, so what stays is an address range and the header page.
 */
#include "localsa.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cache/snap_reader.h"
#include "wire/ctl_proto.h"

#define EXPORT __attribute__((visibility("default")))

enum {
	STAT_SLOTS = 16,
	MAX_REPLY_PATHS = 1024,		/* more in one reply is nonsense: localsad sends <= 128 */
	MAX_REPLY_INFO = 16,		/* lines of an `info` reply: localsad sends 1 */
	LINE_MAX_LEN = 1024,		/* a request or reply line: ERR messages stay under 600 */
	REPLY_TIMEOUT_MS = 30000,	/* localsad answers within its SA timeout x attempts */
	ATTACH_RETRY_MS = 100,		/* after a failed attach, lookups go to the socket meanwhile */
	PIPELINE = 32,			/* batch requests in flight on the connection */
	BATCH_CHUNK = 64,		/* batch queries looked up in one seqlock window */
};

_Static_assert(sizeof(struct localsa_query) == 56, "ABI: struct localsa_query is 56 bytes");
_Static_assert(LOCALSA_Q_SGID == 1 && LOCALSA_Q_SA == 256, "ABI: query flags");
/* A query's flags are the path request's arguments, bit for bit. */
#define SAME_BIT(q, c) ((int)LOCALSA_Q_##q == (int)CTL_PATH_##c)
_Static_assert(SAME_BIT(SGID, SGID) && SAME_BIT(DGID, DGID) && SAME_BIT(DLID, DLID) &&
	       SAME_BIT(PKEY, PKEY) && SAME_BIT(SERVICE_ID, SERVICE_ID) &&
	       SAME_BIT(QOS_CLASS, QOS_CLASS) && SAME_BIT(SL, SL) && SAME_BIT(TCLASS, TCLASS) &&
	       SAME_BIT(SA, SA), "query flags are CTL_PATH_* bits");

/* One increment per lookup: lookups = hits + fallbacks + invalid. */
struct counters {
	alignas(64) _Atomic uint64_t hits;
	_Atomic uint64_t fallbacks, invalid, fallback_errors, retries;
};

struct lsa_map {
	struct snap_map m;
	struct snap_query plain;	/* the default tuple (port GID, nothing else), hashed once */
	struct lsa_map *next;		/* retired list */
};

/* Query fields that make a tuple other than the default one. */
#define TUPLE_FIELDS (LOCALSA_Q_SGID | LOCALSA_Q_PKEY | LOCALSA_Q_SERVICE_ID | \
		      LOCALSA_Q_QOS_CLASS | LOCALSA_Q_SL | LOCALSA_Q_TCLASS)

/* A connection to localsad: who it is (the kernel's word), and its received bytes. */
struct conn {
	int fd;
	uid_t peer_uid;			/* SO_PEERCRED: the daemon's user, owner of its snapshot */
	char buf[8192];
	size_t len, off;
};

enum shm_mode { SHM_ASK, SHM_NAMED, SHM_OFF };

struct localsa {
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char shm[NAME_MAX + 1];
	enum shm_mode shm_mode;		/* under lock */
	_Atomic(struct lsa_map *) map;	/* current mapping, NULL: none */
	_Atomic uint64_t next_attach_ms; /* no attach attempt before (coarse clock) */
	_Atomic uint64_t remaps;
	pthread_mutex_t lock;		/* attach, remap, retired */
	struct lsa_map *retired;
	pthread_mutex_t conn_lock;	/* the persistent connection */
	struct conn conn;
	struct counters ctr[STAT_SLOTS];
};

/* --- small things --- */

static uint64_t coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);	/* vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Threads have stacks megabytes apart: the stack address tells them apart, without TLS. */
static struct counters *my_counters(struct localsa *h)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0) >> 16;

	sp ^= sp >> 7;
	return &h->ctr[sp % STAT_SLOTS];
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static int query_check(const struct localsa_query *q)
{
	if (!q || q->flags & ~(uint32_t)(LOCALSA_Q_SA * 2 - 1) ||
	    !(q->flags & (LOCALSA_Q_DGID | LOCALSA_Q_DLID)))
		return -EINVAL;
	if (q->flags & LOCALSA_Q_DLID && (!q->dlid || q->dlid > 0xbfff))
		return -EINVAL;
	if ((q->flags & LOCALSA_Q_QOS_CLASS && q->qos_class > 0xfff) ||
	    (q->flags & LOCALSA_Q_SL && q->sl > 15))
		return -EINVAL;
	return 0;
}

/* --- the control socket --- */

static int conn_open(const struct localsa *h, struct conn *c)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, r;

	c->len = c->off = 0;
	memcpy(addr.sun_path, h->socket, sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = errno == ENOENT || errno == ECONNREFUSED ? -ECONNREFUSED : -errno;
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	c->fd = fd;
	c->peer_uid = cred.uid;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = c->off = 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EPIPE;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Hands the connection's bytes to the reply reader, receiving more until a line is complete;
 * *ev as ctl_reply_feed() gives it. -EPIPE if the peer closed, -ETIMEDOUT, -EPROTO.
 */
static int next_line(struct conn *c, struct ctl_reply *rr, enum ctl_reply_event *ev,
		     uint64_t deadline)
{
	for (;;) {
		ssize_t k = ctl_reply_feed(rr, c->buf + c->off, c->len - c->off, ev);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		uint64_t now;

		if (k < 0)
			return -EPROTO;
		c->off += (size_t)k;
		if (*ev != CTL_REPLY_MORE)
			return 0;
		c->off = c->len = 0;	/* the reader keeps the partial line */
		now = mono_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		k = poll(&p, 1, (int)(deadline - now));
		if (k < 0 && errno != EINTR)
			return -EIO;
		if (k <= 0)
			continue;
		k = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
			return -EPIPE;
		if (k > 0)
			c->len = (size_t)k;
	}
}

/*
 * Reads one reply: "OK n" and n lines, or "ERR CODE message". *result gets n, or the daemon's
 * error as a negative errno. For path replies (records) every line must be a record, and the
 * first max go to paths (none when max is 0: a count-only query); otherwise the first line goes
 * to text. Returns 0, or a negative errno when the connection failed (-EPIPE: closed,
 * -ETIMEDOUT, -EPROTO: not our protocol): then the connection is unusable.
 */
static int read_reply(struct conn *c, bool records, struct ibv_path_record *paths, size_t max,
		      char *text, size_t text_cap, uint64_t deadline, int *result)
{
	char line[LINE_MAX_LEN];
	struct ctl_reply rr;
	enum ctl_reply_event ev;
	int r;

	ctl_reply_init(&rr, line, sizeof(line), records ? MAX_REPLY_PATHS : MAX_REPLY_INFO);
	while (!ctl_reply_done(&rr)) {
		r = next_line(c, &rr, &ev, deadline);
		if (r)
			return r;
		if (ev != CTL_REPLY_LINE)
			continue;
		if (records) {
			struct ibv_path_record rec;

			if (ctl_record_decode(line, strlen(line), &rec))
				return -EPROTO;
			if (rr.got <= max && paths)
				paths[rr.got - 1] = rec;
		} else if (rr.got == 1 && text) {
			snprintf(text, text_cap, "%s", line);
		}
	}
	*result = ctl_reply_status(&rr);
	return 0;
}

/* The request line of a query (query_check() passed): its flags are the path arguments. */
static int request_line(const struct localsa_query *q, char *buf, size_t cap)
{
	struct ctl_path_args a = {
		.has = q->flags, .sgid = q->sgid, .dgid = q->dgid, .service_id = q->service_id,
		.dlid = q->dlid, .pkey = q->pkey, .qos_class = q->qos_class, .sl = q->sl,
		.tclass = q->tclass,
	};

	return ctl_path_encode(&a, buf, cap) < 0 ? -EINVAL : 0;	/* lines are under 200 bytes */
}

/*
 * Takes the handle's persistent connection if it is free, else opens a private one (another
 * thread is waiting for localsad on the shared one). *shared says which.
 */
static int conn_get(struct localsa *h, struct conn **c, struct conn *priv, bool *shared,
		    bool *reused)
{
	int r;

	*reused = false;
	if (pthread_mutex_trylock(&h->conn_lock) == 0) {
		*shared = true;
		*c = &h->conn;
		if (h->conn.fd >= 0) {
			*reused = true;
			return 0;
		}
		r = conn_open(h, &h->conn);
		if (r)
			pthread_mutex_unlock(&h->conn_lock);
		return r;
	}
	*shared = false;
	*c = priv;
	return conn_open(h, priv);
}

static void conn_put(struct localsa *h, struct conn *c, bool shared, bool broken)
{
	if (broken || !shared)
		conn_close(c);
	if (shared)
		pthread_mutex_unlock(&h->conn_lock);
}

/*
 * Sends lines[0..n) and reads their replies in order, keeping up to PIPELINE requests in flight;
 * reply(i) reads the reply to line i and returns read_reply()'s connection status. Returns 0 or
 * the connection's error; *answered says how many replies arrived. A kept connection that
 * localsad closed before answering anything (it restarted since) is reopened once.
 */
typedef int (*reply_fn)(struct conn *c, size_t i, void *arg, uint64_t deadline);

static int exchange(struct localsa *h, char (*lines)[LINE_MAX_LEN], size_t n, reply_fn reply,
		    void *arg, size_t *answered)
{
	struct conn priv = { .fd = -1 }, *c;
	bool shared, reused, first = true;
	uint64_t deadline;
	size_t sent, got;
	int r;

retry:
	sent = got = 0;
	r = conn_get(h, &c, &priv, &shared, &reused);
	if (r)
		goto out;
	deadline = mono_ms() + REPLY_TIMEOUT_MS;
	while (got < n) {
		while (sent < n && sent - got < PIPELINE && !r) {
			r = send_all(c->fd, lines[sent], strlen(lines[sent]));
			sent += !r;
		}
		if (r)
			break;
		r = reply(c, got, arg, deadline);
		if (r)
			break;
		got++;
	}
	conn_put(h, c, shared, r != 0);
	if (r == -EPIPE && !got && reused && first) {
		first = false;
		goto retry;
	}
out:
	*answered = got;
	return r == -EPIPE ? -ECONNRESET : r;
}

struct path_reply {
	struct ibv_path_record *paths;
	size_t max;
	int result;
};

static int one_path_reply(struct conn *c, size_t i, void *arg, uint64_t deadline)
{
	struct path_reply *p = arg;

	(void)i;
	return read_reply(c, true, p->paths, p->max, NULL, 0, deadline, &p->result);
}

static int daemon_resolve(struct localsa *h, const struct localsa_query *q,
			  struct ibv_path_record *paths, size_t max)
{
	char line[1][LINE_MAX_LEN];
	struct path_reply p = { paths, max, -EIO };
	size_t answered;
	int r;

	r = request_line(q, line[0], sizeof(line[0]));
	if (!r)
		r = exchange(h, line, 1, one_path_reply, &p, &answered);
	if (r)
		return r;
	return p.result == 0 ? -EPROTO : p.result;	/* "OK 0" is no answer */
}

struct info_reply {
	char text[LINE_MAX_LEN];
	int result;
	uid_t peer_uid;
};

static int info_reply(struct conn *c, size_t i, void *arg, uint64_t deadline)
{
	struct info_reply *p = arg;

	(void)i;
	p->peer_uid = c->peer_uid;
	return read_reply(c, false, NULL, 0, p->text, sizeof(p->text), deadline, &p->result);
}

/*
 * Asks localsad `info`: its snapshot's name ("" if it has none, or is too old to know `info`)
 * and, from the kernel rather than from localsad, the uid it runs as.
 */
static int ask_daemon(struct localsa *h, char *name, size_t cap, uid_t *uid)
{
	char line[1][LINE_MAX_LEN];
	struct info_reply p = { "", 0, 0 };
	struct ctl_kv kv[CTL_MAX_ARGS];
	size_t answered, n;
	const char *shm;
	int r = ctl_request_encode(line[0], sizeof(line[0]), "info", NULL, 0);

	if (r < 0)
		return r;
	r = exchange(h, line, 1, info_reply, &p, &answered);
	if (r)
		return r;
	name[0] = '\0';
	*uid = p.peer_uid;
	if (p.result > 0 && !ctl_parse_kv(p.text, kv, CTL_MAX_ARGS, &n) &&
	    (shm = ctl_kv_get(kv, n, "shm")) && strlen(shm) < cap)
		memcpy(name, shm, strlen(shm) + 1);
	return 0;
}

/* --- the snapshot --- */

static bool same_socket(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (!strcmp(a, b))
		return true;
	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/*
 * Maps the snapshot if none is mapped. At most every ATTACH_RETRY_MS unless forced (a remap:
 * the daemon has just replaced its object). Returns the current mapping or NULL.
 */
static struct lsa_map *attach(struct localsa *h, bool force)
{
	struct lsa_map *lm;
	char name[NAME_MAX + 1];
	uid_t owner = (uid_t)-1;	/* set by ask_daemon() whenever it succeeds */
	int r;

	if (!force && coarse_ms() < atomic_load_explicit(&h->next_attach_ms, memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&h->lock);
	lm = atomic_load_explicit(&h->map, memory_order_acquire);
	if (lm || h->shm_mode == SHM_OFF)
		goto out;
	atomic_store_explicit(&h->next_attach_ms, coarse_ms() + ATTACH_RETRY_MS,
			      memory_order_relaxed);
	/* Who the daemon is comes from the kernel, on the socket we were told to trust. */
	if (ask_daemon(h, name, sizeof(name), &owner) < 0)
		goto out;
	if (h->shm_mode == SHM_NAMED)
		strcpy(name, h->shm);
	else if (name[0] != '/')
		goto out;
	lm = calloc(1, sizeof(*lm));
	if (!lm)
		goto out;
	r = snap_map_open(name, owner, &lm->m);
	if (!r) {
		struct pr_tuple t = { .flags = 0 };

		memcpy(t.sgid.raw, lm->m.hdr->port_gid, 16);
		snap_query_init(&lm->plain, &t, NULL, NULL);
	}
	/*
	 * A name given by hand for another daemon of the same user (a typo, two lab daemons) would
	 * pass the owner check: the object's socket must also be ours. Only a consistency check:
	 * the object wrote that string, trust came from its owner.
	 */
	if (!r && h->shm_mode == SHM_NAMED && lm->m.hdr->control_socket[0] &&
	    !same_socket(h->socket, lm->m.hdr->control_socket)) {
		snap_map_close(&lm->m);
		r = -EXDEV;
	}
	if (r) {
		free(lm);
		lm = NULL;
		goto out;
	}
	atomic_store_explicit(&h->map, lm, memory_order_release);
out:
	pthread_mutex_unlock(&h->lock);
	return lm;
}

/* The mapping stale said REPLACED or STOPPED: retire it (other threads may be inside) and
 * map whatever holds the name now. */
static struct lsa_map *remap(struct localsa *h, struct lsa_map *stale)
{
	pthread_mutex_lock(&h->lock);
	if (atomic_load_explicit(&h->map, memory_order_acquire) == stale) {
		atomic_store_explicit(&h->map, NULL, memory_order_release);
		stale->next = h->retired;
		h->retired = stale;
		atomic_fetch_add_explicit(&h->remaps, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&h->lock);
	return attach(h, true);
}

static void tuple_of(const struct localsa_query *q, const struct snap_map *m, struct pr_tuple *t)
{
	memset(t, 0, sizeof(*t));
	if (q->flags & LOCALSA_Q_SGID)
		t->sgid = q->sgid;
	else
		memcpy(t->sgid.raw, m->hdr->port_gid, 16);
	t->pkey = q->pkey;
	t->qos_class = q->qos_class;
	t->sl = q->sl;
	t->tclass = q->tclass;
	t->service_id = q->service_id;
	t->flags = (uint8_t)((q->flags & LOCALSA_Q_SERVICE_ID ? PR_TUPLE_SERVICE_ID : 0) |
			     (q->flags & LOCALSA_Q_PKEY ? PR_TUPLE_PKEY : 0) |
			     (q->flags & LOCALSA_Q_QOS_CLASS ? PR_TUPLE_QOS_CLASS : 0) |
			     (q->flags & LOCALSA_Q_SL ? PR_TUPLE_SL : 0) |
			     (q->flags & LOCALSA_Q_TCLASS ? PR_TUPLE_TCLASS : 0));
}

/* q (checked) as a snapshot query of mapping lm: the default tuple is hashed once per map. */
static inline void snap_query_of(const struct lsa_map *lm, const struct localsa_query *q,
			  struct snap_query *sq)
{
	if (q->flags & TUPLE_FIELDS) {
		struct pr_tuple t;

		tuple_of(q, &lm->m, &t);
		snap_query_init(sq, &t, NULL, NULL);
	} else {
		memcpy(sq->tw, lm->plain.tw, sizeof(sq->tw));
		sq->thash = lm->plain.thash;
	}
	snap_query_dest(sq, q->flags & LOCALSA_Q_DGID ? &q->dgid : NULL,
			q->flags & LOCALSA_Q_DLID ? &q->dlid : NULL);
}

/* The mapping to read, attaching (at most every ATTACH_RETRY_MS) when there is none. */
static struct lsa_map *current_map(struct localsa *h)
{
	struct lsa_map *lm = atomic_load_explicit(&h->map, memory_order_acquire);

	return lm ? lm : attach(h, false);
}

/* The slot line a plain DGID query will read, asked for before anything else of the call
 * (snap_prefetch_home): its checks and the query's making run while the line comes. */
static inline __attribute__((always_inline)) void prefetch_plain(const struct localsa *h,
								 const union ibv_gid *dgid)
{
	struct lsa_map *lm = atomic_load_explicit(&h->map, memory_order_acquire);
	uint64_t g0, g1;

	if (!lm)
		return;
	snap_gid_words(dgid, &g0, &g1);
	snap_prefetch_home(&lm->m, snap_dgid_hash(lm->plain.thash, g0, g1));
}

/* SNAP_HIT with *total set, or SNAP_MISS: ask the daemon. */
static int shm_lookup(struct localsa *h, struct counters *ctr, const struct localsa_query *q,
		      struct ibv_path_record *out, size_t max, size_t *total)
{
	struct lsa_map *lm = current_map(h);

	for (int tries = 0; tries < 2 && lm; tries++) {
		struct snap_query sq;
		uint64_t retries = 0;
		int r;

		snap_query_of(lm, q, &sq);
		r = snap_lookup(&lm->m, &sq, out, max, total, NULL, &retries);
		if (retries)
			count(&ctr->retries, retries);
		if (r != -ESTALE)
			return r == SNAP_HIT ? SNAP_HIT : SNAP_MISS;
		lm = remap(h, lm);
	}
	return SNAP_MISS;
}

/* --- the API --- */

EXPORT int localsa_open(const char *socket_path, const char *shm_name, struct localsa **out)
{
	struct localsa *h;

	if (!out)
		return -EINVAL;
	if (!socket_path)
		socket_path = getenv("LOCALSA_SOCKET");
	if (!socket_path || !*socket_path)
		socket_path = LOCALSA_DEFAULT_SOCKET;
	if (!shm_name)
		shm_name = getenv("LOCALSA_SHM");
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (strlen(socket_path) >= sizeof(h->socket))
		goto out_inval;
	strcpy(h->socket, socket_path);
	if (!shm_name) {
		h->shm_mode = SHM_ASK;
	} else if (!*shm_name || !strcmp(shm_name, "none")) {
		h->shm_mode = SHM_OFF;
	} else {
		if (shm_name[0] != '/' || strlen(shm_name) >= sizeof(h->shm))
			goto out_inval;
		strcpy(h->shm, shm_name);
		h->shm_mode = SHM_NAMED;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->conn_lock, NULL);
	h->conn.fd = -1;
	attach(h, true);	/* may fail: the daemon may come later */
	*out = h;
	return 0;
out_inval:
	free(h);
	return -EINVAL;
}

EXPORT void localsa_close(struct localsa *h)
{
	struct lsa_map *lm;

	if (!h)
		return;
	lm = atomic_load_explicit(&h->map, memory_order_relaxed);
	if (lm) {
		snap_map_close(&lm->m);
		free(lm);
	}
	while ((lm = h->retired)) {
		h->retired = lm->next;
		snap_map_close(&lm->m);
		free(lm);
	}
	conn_close(&h->conn);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->conn_lock);
	free(h);
}

EXPORT int localsa_resolve_all(struct localsa *h, const struct localsa_query *q,
			       struct ibv_path_record *paths, size_t max)
{
	struct counters *ctr;
	size_t total = 0;
	int r;

	if (!h || (max && !paths))
		return -EINVAL;
	if (q && (q->flags & (LOCALSA_Q_DGID | TUPLE_FIELDS | LOCALSA_Q_SA)) == LOCALSA_Q_DGID)
		prefetch_plain(h, &q->dgid);
	ctr = my_counters(h);
	r = query_check(q);
	if (r) {
		count(&ctr->invalid, 1);
		return r;
	}
	if (!(q->flags & LOCALSA_Q_SA) &&
	    shm_lookup(h, ctr, q, paths, max, &total) == SNAP_HIT) {
		count(&ctr->hits, 1);
		return total > INT_MAX ? INT_MAX : (int)total;
	}
	count(&ctr->fallbacks, 1);
	r = daemon_resolve(h, q, paths, max);
	if (r < 0 && r != -ENOENT)
		count(&ctr->fallback_errors, 1);
	return r;
}

EXPORT int localsa_resolve(struct localsa *h, const struct localsa_query *q,
			   struct ibv_path_record *path)
{
	int r;

	if (!path)
		return -EINVAL;
	r = localsa_resolve_all(h, q, path, 1);
	return r < 0 ? r : 0;
}

struct batch {
	const struct localsa_query *qs;
	struct ibv_path_record *paths;
	int *status;
	size_t *index;		/* request line i answers qs[index[i]] */
};

static int batch_reply(struct conn *c, size_t i, void *arg, uint64_t deadline)
{
	struct batch *b = arg;
	size_t k = b->index[i];
	int result = 0, r = read_reply(c, true, &b->paths[k], 1, NULL, 0, deadline, &result);

	if (!r)
		b->status[k] = result > 0 ? 0 : result == 0 ? -EPROTO : result;
	return r;
}

enum { PENDING = 1 };

/*
 * The snapshot's answers to qs[0..n) (n <= BATCH_CHUNK) whose status is PENDING: status 0 for
 * the hits, PENDING left for the daemon. One seqlock window for all, the slots of later queries
 * prefetched while earlier ones are read (snap_lookup_batch). Returns the hits.
 */
static size_t shm_lookup_chunk(struct localsa *h, struct counters *ctr,
			       const struct localsa_query *qs, size_t n,
			       struct ibv_path_record *paths, int *status)
{
	struct snap_query sq[BATCH_CHUNK];
	struct ibv_path_record tmp[BATCH_CHUNK], *out = tmp;
	int res[BATCH_CHUNK];
	size_t at[BATCH_CHUNK], m = 0, hits = 0;
	struct lsa_map *lm = current_map(h);

	for (int tries = 0; tries < 2 && lm; tries++) {
		uint64_t retries = 0;
		int r;

		m = 0;
		for (size_t i = 0; i < n; i++)
			if (status[i] == PENDING && !(qs[i].flags & LOCALSA_Q_SA)) {
				snap_query_of(lm, &qs[i], &sq[m]);
				at[m++] = i;
			}
		out = m == n ? paths : tmp;	/* all of them: straight into place */
		r = snap_lookup_batch(&lm->m, sq, m, out, res, &retries);
		if (retries)
			count(&ctr->retries, retries);
		if (r != -ESTALE)
			break;
		lm = remap(h, lm);
		m = 0;
	}
	for (size_t k = 0; k < m; k++)
		if (res[k] == SNAP_HIT) {
			if (out != paths)
				paths[at[k]] = out[k];
			status[at[k]] = 0;
			hits++;
		}
	return hits;
}

EXPORT int localsa_resolve_batch(struct localsa *h, const struct localsa_query *qs, size_t n,
				 struct ibv_path_record *paths, int *status)
{
	struct counters *ctr;
	struct batch b = { qs, paths, status, NULL };
	char (*lines)[LINE_MAX_LEN] = NULL;
	size_t pending = 0, ok = 0, answered = 0, hits = 0, invalid = 0;
	int r = 0;

	if (!h || (n && (!qs || !paths || !status)) || n > INT_MAX)
		return -EINVAL;
	ctr = my_counters(h);
	for (size_t i = 0; i < n; i++) {
		status[i] = query_check(&qs[i]);
		if (status[i])
			invalid++;
		else
			status[i] = PENDING;
	}
	for (size_t i = 0; i < n; i += BATCH_CHUNK)
		hits += shm_lookup_chunk(h, ctr, qs + i, n - i < BATCH_CHUNK ? n - i : BATCH_CHUNK,
					 paths + i, status + i);
	if (invalid)
		count(&ctr->invalid, invalid);
	if (hits)
		count(&ctr->hits, hits);
	pending = n - invalid - hits;
	if (pending) {
		lines = malloc(pending * sizeof(*lines));
		b.index = malloc(pending * sizeof(*b.index));
		if (!lines || !b.index) {
			r = -ENOMEM;
		} else {
			size_t k = 0;

			for (size_t i = 0; i < n; i++) {
				if (status[i] != PENDING)
					continue;
				if (request_line(&qs[i], lines[k], sizeof(lines[k])) < 0)
					status[i] = -EINVAL;	/* never: query_check() passed */
				else
					b.index[k++] = i;
			}
			count(&ctr->fallbacks, pending);
			r = k ? exchange(h, lines, k, batch_reply, &b, &answered) : 0;
		}
		for (size_t i = 0; i < n; i++) {
			if (status[i] == PENDING)	/* never answered: the connection failed */
				status[i] = r < 0 ? r : -EIO;
			if (b.index && status[i] < 0 && status[i] != -ENOENT && status[i] != -EINVAL)
				count(&ctr->fallback_errors, 1);
		}
	}
	free(lines);
	free(b.index);
	for (size_t i = 0; i < n; i++)
		ok += status[i] == 0;
	return (int)ok;
}

EXPORT int localsa_foreach(struct localsa *h, localsa_foreach_fn fn, void *arg)
{
	struct lsa_map *lm;
	struct snap_contents sc;
	int r = -ENODATA;

	if (!h || !fn)
		return -EINVAL;
	lm = atomic_load_explicit(&h->map, memory_order_acquire);
	if (!lm)
		lm = attach(h, true);
	for (int tries = 0; tries < 2 && lm; tries++) {
		r = snap_read_all(&lm->m, &sc);
		if (r != -ESTALE)
			break;
		lm = remap(h, lm);
		r = -ENODATA;
	}
	if (r)
		return r;
	for (uint32_t g = 0; g < sc.ngroups && !r; g++) {
		uint32_t first = snap_group_first(sc.groups[g]);
		uint32_t end = g + 1 < sc.ngroups ? snap_group_first(sc.groups[g + 1]) : sc.nrecords;
		const struct pr_tuple *t = &sc.tuples[snap_group_tuple(sc.groups[g])];
		struct localsa_query key = {
			.flags = LOCALSA_Q_SGID | LOCALSA_Q_DGID |
				 (t->flags & PR_TUPLE_SERVICE_ID ? LOCALSA_Q_SERVICE_ID : 0) |
				 (t->flags & PR_TUPLE_PKEY ? LOCALSA_Q_PKEY : 0) |
				 (t->flags & PR_TUPLE_QOS_CLASS ? LOCALSA_Q_QOS_CLASS : 0) |
				 (t->flags & PR_TUPLE_SL ? LOCALSA_Q_SL : 0) |
				 (t->flags & PR_TUPLE_TCLASS ? LOCALSA_Q_TCLASS : 0),
			.pkey = t->pkey, .qos_class = t->qos_class, .sl = t->sl, .tclass = t->tclass,
			.service_id = t->service_id, .sgid = t->sgid,
		};

		memcpy(key.dgid.raw, sc.records[first].dgid.raw, 16);
		for (uint32_t i = first; i < end && !r; i++)
			r = fn(&sc.records[i], &key, arg);
	}
	snap_contents_free(&sc);
	return r;
}

EXPORT int localsa_get_stats(struct localsa *h, struct localsa_stats *out, size_t size)
{
	struct localsa_stats s = { 0 };
	struct lsa_map *lm;

	if (!h || !out)
		return -EINVAL;
	for (int i = 0; i < STAT_SLOTS; i++) {
		const struct counters *c = &h->ctr[i];

		s.shm_hits += atomic_load_explicit(&c->hits, memory_order_relaxed);
		s.fallbacks += atomic_load_explicit(&c->fallbacks, memory_order_relaxed);
		s.lookups += atomic_load_explicit(&c->invalid, memory_order_relaxed);
		s.fallback_errors += atomic_load_explicit(&c->fallback_errors, memory_order_relaxed);
		s.seqlock_retries += atomic_load_explicit(&c->retries, memory_order_relaxed);
	}
	s.lookups += s.shm_hits + s.fallbacks;
	s.remaps = atomic_load_explicit(&h->remaps, memory_order_relaxed);
	lm = atomic_load_explicit(&h->map, memory_order_acquire);
	if (lm) {
		s.attached = 1;
		s.object_gen = lm->m.object_gen;
		s.publication = atomic_load_explicit(&lm->m.hdr->publication, memory_order_acquire);
	}
	memcpy(out, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}
