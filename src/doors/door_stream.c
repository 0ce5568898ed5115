/*
 * door_stream - see door_stream.h. One loop, no threads.
 *
 * A client is served in turns: an input event, or a place on the ready list (work left after
 * its batch, a parked request answered) that a zero-delay timer runs after the next poll for
 * I/O, so one busy client cannot hold the loop. Input sits in a fixed buffer of in_max bytes;
 * output in a buffer drained by offset (sent bytes are skipped, not moved) and compacted only
 * when an append needs the room. A periodic sweep closes idle and stalled clients; it runs only
 * while there are clients.
 *
 * Lifetime: every path that ends a client marks it dead; settle(), called at the end of each of
 * the core's own handlers, does the freeing. A client on the ready list or with a pending
 * callback is therefore never freed under anyone's feet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/quota.h"
#include "doors/door_listen.h"
#include "doors/door_stream.h"

enum {
	DEFAULT_BATCH = 16,
	ACCEPT_BATCH = 64,
	ACCEPT_PAUSE_MS = 100,	/* out of descriptors: stop accepting this long */
	SWEEP_MIN_MS = 20,
	SWEEP_MAX_MS = 500,
	EXTRA_PRINCIPALS = 64,	/* users remembered past their last connection (their quota) */
	MAX_LISTENERS = 4,
};

/* How long a turn of the loop may go on giving clients turns (then the rest wait for the next
 * round): however many clients keep a door busy, the other doors and the port are looked at
 * this often. Counted from the turn's start, whatever ran in it; the first client turn after a
 * poll is always given. A client turn itself is bounded by the batch (and a dump's chunk). */
#define TURNS_BUDGET_NS 1000000ull

#define UID_TCP 0xffffffffu	/* the principal of every TCP client */

struct listener {
	struct door_stream *ds;
	int fd;
	bool tcp;
	struct loop_timer pause_timer;
};

struct ds_client {
	struct ds_client *prev, *next;		/* all clients */
	struct ds_client *rnext;		/* ready list */
	struct door_stream *ds;
	int fd;
	uid_t uid;
	struct quota_entry *principal;
	uint32_t events;		/* what epoll watches now */
	bool ready;			/* on the ready list */
	bool parked;			/* a request waits for its answer */
	bool producing;			/* a long reply goes on */
	bool in_dispatch;
	bool eof;			/* the peer sent all it will: serve it, then close */
	bool closing;			/* close once the output is sent */
	bool dead;			/* close now */
	uint64_t active_ms;		/* last input, output or answer */
	uint64_t stuck_since;		/* partial input or unread last reply since, 0: neither */
	uint8_t *in;
	size_t in_off, in_len;		/* unread input is in[in_off .. in_len) */
	char *out;
	size_t out_off, out_len, out_cap;
	max_align_t state[];		/* the codec's */
};

struct door_stream {
	struct loop *loop;
	struct door_stream_opts o;
	struct listener l[MAX_LISTENERS];
	size_t n_listeners;
	char *unlink_path;		/* the socket file we made */
	struct ds_client *clients;
	struct ds_client *ready, **ready_tail;
	struct loop_timer ready_timer, sweep_timer;
	uint64_t turns_poll;		/* loop_polls() at the last client turn */
	struct quota_table *principals;
	struct door_stream_stats st;
};

static void settle(struct ds_client *c);
static void serve(struct ds_client *c);

/* --- accessors ------------------------------------------------------------ */

void *ds_door(const struct ds_client *c) { return c->ds->o.door; }
void *ds_state(struct ds_client *c) { return c->state; }
uid_t ds_uid(const struct ds_client *c) { return c->uid; }
struct quota *ds_quota(struct ds_client *c) { return &c->principal->q; }
size_t ds_unsent(const struct ds_client *c) { return c->out_len - c->out_off; }

/* --- output --------------------------------------------------------------- */

int ds_reply(struct ds_client *c, const void *buf, size_t len)
{
	size_t unsent = ds_unsent(c);

	if (unsent + len > c->ds->o.out_max)
		return -E2BIG;
	if (c->out_len + len > c->out_cap) {
		if (c->out_off) {	/* the one move: only when the room is needed */
			memmove(c->out, c->out + c->out_off, unsent);
			c->out_off = 0;
			c->out_len = unsent;
		}
		if (c->out_len + len > c->out_cap) {
			size_t cap = c->out_cap ? c->out_cap : 1024;
			char *p;

			while (cap < c->out_len + len)
				cap *= 2;
			if (cap > c->ds->o.out_max)
				cap = c->ds->o.out_max;
			p = realloc(c->out, cap);
			if (!p)
				return -ENOMEM;
			c->out = p;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return 0;
}

/* Sends what the socket takes now; the rest waits for EPOLLOUT. */
static void flush(struct ds_client *c)
{
	while (ds_unsent(c) && !c->dead) {
		ssize_t n = send(c->fd, c->out + c->out_off, ds_unsent(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->active_ms = loop_turn_ms(c->ds->loop);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			c->dead = true;
		}
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

/* --- the ready list ------------------------------------------------------- */

static void ready_run(struct loop *loop, void *arg);

static void ready_add(struct ds_client *c)
{
	struct door_stream *ds = c->ds;

	if (c->ready)
		return;
	c->ready = true;
	c->rnext = NULL;
	*ds->ready_tail = c;
	ds->ready_tail = &c->rnext;
	if (!loop_timer_pending(&ds->ready_timer))
		loop_timer_start(ds->loop, &ds->ready_timer, 0, ready_run, ds);
}

static void ready_remove(struct ds_client *c)
{
	struct door_stream *ds = c->ds;

	if (!c->ready)
		return;
	for (struct ds_client **pp = &ds->ready; *pp; pp = &(*pp)->rnext)
		if (*pp == c) {
			*pp = c->rnext;
			if (ds->ready_tail == &c->rnext)
				ds->ready_tail = pp;
			break;
		}
	c->ready = false;
}

/* One turn for every client that was ready; those that still have work queue up again. */
/* Is there time left for clients' turns before the loop should poll for I/O again? */
static bool turns_left(struct door_stream *ds)
{
	uint64_t polls = loop_polls(ds->loop);

	if (polls != ds->turns_poll) {
		ds->turns_poll = polls;
		return true;
	}
	return loop_now_ns() - loop_turn_ns(ds->loop) < TURNS_BUDGET_NS;
}

static void ready_run(struct loop *loop, void *arg)
{
	struct door_stream *ds = arg;
	struct ds_client *list = ds->ready;

	(void)loop;
	ds->ready = NULL;
	ds->ready_tail = &ds->ready;
	for (struct ds_client *c = list; c; c = list) {
		if (!turns_left(ds)) {
			/* The rest keep their places, ahead of those queued meanwhile; armed from
			 * a timer callback, the timer fires after the next poll. */
			struct ds_client **end = &list;

			while (*end)
				end = &(*end)->rnext;
			*end = ds->ready;
			if (!ds->ready)
				ds->ready_tail = end;
			ds->ready = list;
			loop_timer_start(ds->loop, &ds->ready_timer, 0, ready_run, ds);
			return;
		}
		list = c->rnext;
		c->ready = false;
		serve(c);
		settle(c);
	}
}

/* --- parking -------------------------------------------------------------- */

void ds_park(struct ds_client *c)
{
	c->parked = true;
}

void ds_resume(struct ds_client *c)
{
	c->parked = false;
	c->active_ms = loop_turn_ms(c->ds->loop);
	if (c->in_dispatch)	/* answered at once: serve() goes on by itself */
		return;
	flush(c);		/* the answer leaves now; the next request waits for a turn */
	ready_add(c);
}

void ds_produce(struct ds_client *c)
{
	c->producing = true;
}

void ds_close_after_reply(struct ds_client *c)
{
	c->closing = true;
	if (!c->in_dispatch)
		ready_add(c);
}

/* --- serving -------------------------------------------------------------- */

/* Serves up to a batch of messages (or of a long reply), in order, while nothing blocks. */
static void serve(struct ds_client *c)
{
	const struct door_stream_codec *k = c->ds->o.codec;
	unsigned batch = c->ds->o.batch;

	while (!c->dead && !c->closing && !c->parked) {
		size_t avail = c->in_len - c->in_off;
		ssize_t n;

		if (ds_unsent(c) >= c->ds->o.out_high) {
			flush(c);	/* the socket may take it: then go on */
			if (ds_unsent(c) >= c->ds->o.out_high)
				break;
		}
		if (!batch--) {
			ready_add(c);
			break;
		}
		if (c->producing) {
			if (k->produce(c))
				c->producing = false;
			continue;
		}
		n = avail ? k->frame(c, c->in + c->in_off, avail) : 0;
		if (n == 0 && avail == c->ds->o.in_max)
			n = -1;		/* the codec's frames must fit: this one never will */
		if (n == 0) {
			if (c->eof && avail) {	/* cut short by the peer */
				if (k->unfinished)
					k->unfinished(c, c->in + c->in_off, avail, false);
				c->closing = true;
			}
			break;
		}
		if (n < 0 || (size_t)n > avail) {	/* no way to find the next message */
			c->closing = true;
			break;
		}
		c->in_dispatch = true;
		k->dispatch(c, c->in + c->in_off, (size_t)n);
		c->in_dispatch = false;
		c->in_off += (size_t)n;
		c->active_ms = loop_turn_ms(c->ds->loop);
		c->stuck_since = 0;	/* a message finished: the clock is for the next one's rest */
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	flush(c);
}

static void client_free(struct ds_client *c)
{
	struct door_stream *ds = c->ds;

	if (c->ds->o.codec->closing)
		c->ds->o.codec->closing(c);
	ready_remove(c);
	loop_del_fd(ds->loop, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ds->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->principal->refs--;
	ds->st.clients_now--;
	free(c->out);
	free(c->in);
	free(c);
}

/*
 * After every event of a client: frees a finished one, otherwise sets what epoll watches and
 * whether the client is stuck (a message begun and unfinished while we wait for its rest, or a
 * last reply the peer does not read).
 */
static void settle(struct ds_client *c)
{
	struct door_stream *ds = c->ds;
	size_t avail = c->in_len - c->in_off;
	bool stuck;
	uint32_t ev = 0;

	if (c->dead || (!c->parked && !c->producing && !ds_unsent(c) &&
			(c->closing || (c->eof && !avail)))) {
		client_free(c);
		return;
	}
	if (!c->parked && !c->producing && !c->closing && !c->eof &&
	    ds_unsent(c) < ds->o.out_high && avail < ds->o.in_max)
		ev |= EPOLLIN;
	if (ds_unsent(c))
		ev |= EPOLLOUT;
	if (ev != c->events && loop_mod_fd(ds->loop, c->fd, ev) == 0)
		c->events = ev;
	/* Input waiting for its turn on the ready list is the door's backlog, not the client's
	 * unfinished message. */
	stuck = ((ev & EPOLLIN) && avail && !c->ready) || (c->closing && ds_unsent(c));
	if (!stuck)
		c->stuck_since = 0;
	else if (!c->stuck_since)
		c->stuck_since = loop_turn_ms(ds->loop);
}

static void client_io(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct ds_client *c = arg;

	(void)loop;
	if (events & (EPOLLHUP | EPOLLERR)) {	/* gone both ways: nobody to answer */
		c->dead = true;
		settle(c);
		return;
	}
	if (events & EPOLLOUT)
		flush(c);
	if ((events & EPOLLIN) && !c->dead && !c->eof) {
		ssize_t n;

		if (c->in_off) {	/* at most one message's worth moves */
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		n = c->in_len < c->ds->o.in_max ?
			recv(fd, c->in + c->in_len, c->ds->o.in_max - c->in_len, 0) : 0;
		if (n > 0) {
			c->in_len += (size_t)n;
			c->active_ms = loop_turn_ms(c->ds->loop);
		} else if (n == 0 && c->in_len < c->ds->o.in_max) {
			c->eof = true;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			c->dead = true;
		}
	}
	if (!c->dead && turns_left(c->ds))
		serve(c);
	else if (!c->dead)
		ready_add(c);	/* its turn after the next poll */
	settle(c);
}

/* --- timeouts ------------------------------------------------------------- */

static void sweep(struct loop *loop, void *arg);

static unsigned sweep_period(const struct door_stream *ds)
{
	unsigned t = ds->o.partial_ms;

	if (ds->o.idle_ms && ds->o.idle_ms < t)
		t = ds->o.idle_ms;
	t /= 8;
	return t < SWEEP_MIN_MS ? SWEEP_MIN_MS : t > SWEEP_MAX_MS ? SWEEP_MAX_MS : t;
}

static void sweep_arm(struct door_stream *ds)
{
	if (!loop_timer_pending(&ds->sweep_timer) && ds->clients)
		loop_timer_start(ds->loop, &ds->sweep_timer, sweep_period(ds), sweep, ds);
}

static bool idle(const struct ds_client *c)
{
	return !c->parked && !c->producing && !ds_unsent(c) && c->in_off == c->in_len;
}

/* Nothing read from it, sent to it or asked of it for idle_ms: idle, or output it does not
 * read (a reply in progress or parked requests behind it do not keep it; active_ms moves with
 * every byte sent). */
static bool idle_expired(const struct door_stream *ds, const struct ds_client *c, uint64_t now)
{
	return ds->o.idle_ms && (idle(c) || ds_unsent(c)) && now - c->active_ms >= ds->o.idle_ms;
}

static void sweep(struct loop *loop, void *arg)
{
	struct door_stream *ds = arg;
	uint64_t now = loop_now_ms();
	struct ds_client *next;

	(void)loop;
	for (struct ds_client *c = ds->clients; c; c = next) {
		next = c->next;
		if (c->stuck_since && now - c->stuck_since >= ds->o.partial_ms) {
			ds->st.stalled++;
			if (c->closing) {	/* the last reply was never read: drop it */
				c->dead = true;
			} else {
				LOG_DEBUG("%s: fd %d: message unfinished after %u ms, closing",
					  ds->o.name, c->fd, ds->o.partial_ms);
				if (ds->o.codec->unfinished)
					ds->o.codec->unfinished(c, c->in + c->in_off,
								c->in_len - c->in_off, true);
				c->closing = true;
				c->stuck_since = 0;
				flush(c);
			}
		} else if (idle_expired(ds, c, now)) {
			ds->st.idle_closed++;
			c->dead = true;
		}
		settle(c);
	}
	sweep_arm(ds);
}

/* --- accepting ------------------------------------------------------------ */

/* The client to close so that principal p gets a slot, or NULL: the least recently active
 * (idle ones first) of the user with the most connections, if that user then still holds
 * more than p. */
static struct ds_client *eviction_victim(struct door_stream *ds, const struct quota_entry *p)
{
	const struct quota_entry *top = NULL;
	struct ds_client *victim = NULL;

	for (struct ds_client *c = ds->clients; c; c = c->next)
		if (!c->dead && (!top || c->principal->refs > top->refs))
			top = c->principal;
	if (!top || top == p || top->refs <= p->refs + 1)
		return NULL;
	for (struct ds_client *c = ds->clients; c; c = c->next) {
		if (c->principal != top || c->dead)
			continue;
		if (!victim || (idle(c) && !idle(victim)) ||
		    (idle(c) == idle(victim) && c->active_ms < victim->active_ms))
			victim = c;
	}
	return victim;
}

/* Root's connections: they fill the slots reserved for root before any other. */
static unsigned root_clients(const struct door_stream *ds)
{
	unsigned n = 0;

	for (const struct ds_client *c = ds->clients; c; c = c->next)
		n += !c->dead && c->uid == 0;
	return n;
}

/*
 * May uid take a slot now (closing someone else's if fair)? Anyone but root shares the slots
 * not reserved for root with root's connections beyond the reserved ones. A connection is
 * closed only when that makes room: never root's in a reserved slot for someone else.
 */
static bool admit(struct door_stream *ds, uid_t uid, struct quota_entry *p)
{
	unsigned limit = ds->o.max_clients, used = ds->st.clients_now, root = 0;
	struct ds_client *victim;

	if (uid && ds->o.reserved_root) {
		root = root_clients(ds);
		limit -= ds->o.reserved_root;
		used -= root < ds->o.reserved_root ? root : ds->o.reserved_root;
	}
	if (used < limit)
		return true;
	if (used > limit)
		return false;
	victim = eviction_victim(ds, p);
	if (!victim || (uid && ds->o.reserved_root && victim->uid == 0 &&
			root <= ds->o.reserved_root))
		return false;
	LOG_DEBUG("%s: fd %d of uid %u closed for a user with fewer connections", ds->o.name,
		  victim->fd, (unsigned)victim->uid);
	ds->st.evicted++;
	victim->dead = true;
	settle(victim);
	return true;
}

static void turn_away(struct door_stream *ds, int fd)
{
	ds->st.rejected++;
	if (ds->o.busy_len)
		(void)!send(fd, ds->o.busy_msg, ds->o.busy_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void client_new(struct door_stream *ds, int fd, bool tcp)
{
	struct ucred cred = { .uid = DS_UID_NONE };
	socklen_t len = sizeof(cred);
	struct quota_entry *p;
	struct ds_client *c;
	int one = 1;

	if (tcp)	/* replies are small and awaited one by one: no Nagle delay */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = DS_UID_NONE;
	p = quota_table_get(ds->principals, tcp ? UID_TCP : (uint32_t)cred.uid, loop_now_ms());
	if (!p || !admit(ds, cred.uid, p)) {
		turn_away(ds, fd);
		return;
	}
	c = calloc(1, sizeof(*c) + ds->o.state_size);
	if (c)
		c->in = malloc(ds->o.in_max);
	if (!c || !c->in) {
		if (c)
			free(c);
		close(fd);
		return;
	}
	c->ds = ds;
	c->fd = fd;
	c->uid = cred.uid;
	c->principal = p;
	c->events = EPOLLIN;
	c->active_ms = loop_turn_ms(c->ds->loop);
	if (loop_add_fd(ds->loop, fd, EPOLLIN, client_io, c) < 0) {
		close(fd);
		free(c->in);
		free(c);
		return;
	}
	p->refs++;
	c->next = ds->clients;
	if (ds->clients)
		ds->clients->prev = c;
	ds->clients = c;
	ds->st.clients_now++;
	ds->st.clients_total++;
	sweep_arm(ds);
}

static void listener_resume(struct loop *loop, void *arg)
{
	struct listener *l = arg;

	loop_mod_fd(loop, l->fd, EPOLLIN);
}

static void listener_accept(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct listener *l = arg;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd >= 0) {
			client_new(l->ds, cfd, l->tcp);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* EMFILE and kin: the connection stays queued and the listener readable; look
		 * away for a moment instead of spinning. */
		LOG_WARN("%s accept: %s; pausing %d ms", l->ds->o.name, strerror(errno),
			 ACCEPT_PAUSE_MS);
		l->ds->st.accept_pauses++;
		if (loop_mod_fd(loop, fd, 0) == 0)
			loop_timer_start(loop, &l->pause_timer, ACCEPT_PAUSE_MS, listener_resume, l);
		return;
	}
}

/* --- life cycle ----------------------------------------------------------- */

int door_stream_new(struct loop *loop, const struct door_stream_opts *opts,
		    struct door_stream **out)
{
	struct door_stream *ds;
	int ret;

	if (!opts->codec || !opts->codec->frame || !opts->codec->dispatch || !opts->in_max ||
	    !opts->max_clients || opts->reserved_root >= opts->max_clients || !opts->partial_ms ||
	    opts->out_max < opts->out_high || !opts->out_high)
		return -EINVAL;
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	ds->loop = loop;
	ds->o = *opts;
	if (!ds->o.batch)
		ds->o.batch = DEFAULT_BATCH;
	ds->ready_tail = &ds->ready;
	ret = quota_table_new(opts->max_clients + EXTRA_PRINCIPALS, opts->tuple_burst,
			      opts->tuple_per_s, &ds->principals);
	if (ret < 0) {
		free(ds);
		return ret;
	}
	*out = ds;
	return 0;
}

int door_stream_listen(struct door_stream *ds, int fd, bool tcp)
{
	struct listener *l;
	int ret;

	if (ds->n_listeners == MAX_LISTENERS)
		return -ENOSPC;
	l = &ds->l[ds->n_listeners];
	*l = (struct listener){ .ds = ds, .fd = fd, .tcp = tcp };
	ret = loop_add_fd(ds->loop, fd, EPOLLIN, listener_accept, l);
	if (ret < 0)
		return ret;
	ds->n_listeners++;
	return 0;
}

int door_stream_listen_unix(struct door_stream *ds, const char *path, mode_t mode, int backlog,
			    bool *inherited)
{
	bool bound;
	int fd, ret;

	if (ds->unlink_path)
		return -EBUSY;	/* one socket file per door */
	ret = door_listen_unix(path, mode, backlog, &fd, &bound);
	if (ret < 0)
		return ret;
	if (bound && !(ds->unlink_path = strdup(path)))
		ret = -ENOMEM;
	if (!ret)
		ret = door_stream_listen(ds, fd, false);
	if (ret < 0) {
		close(fd);
		if (bound)
			unlink(path);
		free(ds->unlink_path);
		ds->unlink_path = NULL;
		return ret;
	}
	*inherited = !bound;
	return 0;
}

void door_stream_free(struct door_stream *ds)
{
	if (!ds)
		return;
	while (ds->clients)
		client_free(ds->clients);
	for (size_t i = 0; i < ds->n_listeners; i++) {
		struct listener *l = &ds->l[i];

		loop_timer_stop(ds->loop, &l->pause_timer);
		loop_del_fd(ds->loop, l->fd);
		close(l->fd);
	}
	loop_timer_stop(ds->loop, &ds->ready_timer);
	loop_timer_stop(ds->loop, &ds->sweep_timer);
	if (ds->unlink_path)
		unlink(ds->unlink_path);
	free(ds->unlink_path);
	quota_table_free(ds->principals);
	free(ds);
}

void door_stream_stats(const struct door_stream *ds, struct door_stream_stats *out)
{
	*out = ds->st;
}
