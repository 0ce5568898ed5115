/*
 * loop.c - epoll event loop with a timer heap and a shared signalfd.
 *
 * Each iteration fires the due timers, then blocks in epoll_wait() until the
 * earliest deadline and dispatches the fetched batch of fd events.
 */
#include "base/loop.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH_MIN 16
#define LOOP_BATCH_MAX 1024 /* more ready fds simply wait for the next epoll_wait() */

/* Registered fds are indexed by fd number, so lookup is O(1) and needs no hash. */
struct loop_fd {
	loop_io_fn fn; /* NULL: not registered */
	void *arg;
	uint32_t events;
};


struct loop_signal {
	loop_signal_fn fn;
	void *arg;
};

struct loop {
	int epfd;
	bool running;
	bool stopping;

	struct loop_fd *fds;
	size_t fds_cap;
	size_t nfds;

	/* The batch being dispatched; loop_del_fd() blanks entries still ahead. */
	struct epoll_event *events;
	int events_cap;
	int batch_pos;
	int batch_len;

	uint64_t polls;            /* epoll_wait() calls so far: loop_polls() */
	uint64_t turn_ns;          /* loop_turn_ns(): valid while running */
	bool skip_idle;            /* loop_skip_idle_time() */
	struct loop_timer *timers; /* root of the pairing heap; NULL: none pending */
	size_t n_timers;
	uint64_t timer_seq;

	int sigfd;
	sigset_t sigmask;
	struct loop_signal sig[_NSIG];
};

/* --- clock --- */

/* Idle time skipped by loops in loop_skip_idle_time() mode; 0 in the daemon. */
static _Atomic uint64_t skipped_ns;

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
	       atomic_load_explicit(&skipped_ns, memory_order_relaxed);
}

uint64_t loop_now_ms(void)
{
	return loop_now_ns() / 1000000u;
}

uint64_t loop_turn_ns(const struct loop *loop)
{
	return loop && loop->running ? loop->turn_ns : loop_now_ns();
}

uint64_t loop_turn_ms(const struct loop *loop)
{
	return loop_turn_ns(loop) / 1000000u;
}

uint64_t loop_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
		atomic_load_explicit(&skipped_ns, memory_order_relaxed)) / 1000000u;
}

/* --- life cycle --- */

int loop_new(struct loop **out)
{
	struct loop *loop;
	int ret;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);

	loop->events = calloc(LOOP_BATCH_MIN, sizeof(*loop->events));
	if (!loop->events) {
		ret = -ENOMEM;
		goto out_free_loop;
	}
	loop->events_cap = LOOP_BATCH_MIN;

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		ret = -errno;
		goto out_free_events;
	}
	*out = loop;
	return 0;

out_free_events:
	free(loop->events);
out_free_loop:
	free(loop);
	return ret;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop->events);
	free(loop->fds);
	free(loop);
}

/* --- file descriptors --- */

static struct loop_fd *loop_fd_lookup(struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->fds_cap || !loop->fds[fd].fn)
		return NULL;
	return &loop->fds[fd];
}

static int loop_fds_reserve(struct loop *loop, int fd)
{
	size_t cap = loop->fds_cap ? loop->fds_cap : 64;
	struct loop_fd *fds;

	if ((size_t)fd < loop->fds_cap)
		return 0;
	while (cap <= (size_t)fd)
		cap *= 2;
	fds = realloc(loop->fds, cap * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	memset(fds + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof(*fds));
	loop->fds = fds;
	loop->fds_cap = cap;
	return 0;
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_io_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int ret;

	if (fd < 0)
		return -EBADF;
	if (!fn)
		return -EINVAL;
	if (loop_fd_lookup(loop, fd))
		return -EEXIST;
	ret = loop_fds_reserve(loop, fd);
	if (ret)
		return ret;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	loop->fds[fd] = (struct loop_fd){ .fn = fn, .arg = arg, .events = events };
	loop->nfds++;
	return 0;
}

int loop_mod_fd(struct loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	struct loop_fd *lfd = loop_fd_lookup(loop, fd);

	if (!lfd)
		return -ENOENT;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	lfd->events = events;
	return 0;
}

int loop_del_fd(struct loop *loop, int fd)
{
	struct loop_fd *lfd = loop_fd_lookup(loop, fd);

	if (!lfd)
		return -ENOENT;
	/*
	 * EBADF/ENOENT only mean the caller closed the fd first, which already
	 * took it out of the epoll set; forgetting it is all that is left to do.
	 */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	*lfd = (struct loop_fd){ 0 };
	loop->nfds--;

	/*
	 * An event for this fd may already sit further on in the batch being
	 * dispatched. Blank it: the fd number may even have been reused by now.
	 * O(batch), and only while dispatching.
	 */
	for (int i = loop->batch_pos + 1; i < loop->batch_len; i++)
		if (loop->events[i].data.fd == fd)
			loop->events[i].data.fd = -1;
	return 0;
}

/*
 * --- timers: an intrusive pairing heap keyed on (deadline, seq) ---
 *
 * Insert and meld are O(1), removing the minimum or any node O(log n) amortised, and no
 * operation allocates. Each node keeps its first child, its right sibling, and its left
 * sibling (its parent when it is the first child), so any node can be cut out.
 */

static bool loop_timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->deadline_ns != b->deadline_ns)
		return a->deadline_ns < b->deadline_ns;
	return a->seq < b->seq;
}

/* Two detached heaps (roots without siblings) into one. */
static struct loop_timer *loop_heap_meld(struct loop_timer *a, struct loop_timer *b)
{
	struct loop_timer *t;

	if (!a)
		return b;
	if (!b)
		return a;
	if (loop_timer_before(b, a)) {
		t = a;
		a = b;
		b = t;
	}
	b->prev = a;
	b->next = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	return a;
}

/* The classic two passes over a sibling list: meld pairs left to right, then the pairs
 * right to left. Returns one detached heap. */
static struct loop_timer *loop_heap_merge_pairs(struct loop_timer *first)
{
	struct loop_timer *pairs = NULL, *heap = NULL;

	while (first) {
		struct loop_timer *a = first, *b = a->next;

		first = b ? b->next : NULL;
		a->next = a->prev = NULL;
		if (b)
			b->next = b->prev = NULL;
		a = loop_heap_meld(a, b);
		a->next = pairs; /* a stack of pairs, the rightmost on top */
		pairs = a;
	}
	while (pairs) {
		struct loop_timer *p = pairs;

		pairs = p->next;
		p->next = NULL;
		heap = loop_heap_meld(heap, p);
	}
	return heap;
}

static void loop_heap_remove(struct loop *loop, struct loop_timer *t)
{
	struct loop_timer *sub;

	if (t == loop->timers) {
		loop->timers = loop_heap_merge_pairs(t->child);
	} else {
		if (t->prev->child == t)
			t->prev->child = t->next; /* t is its parent's first child */
		else
			t->prev->next = t->next;
		if (t->next)
			t->next->prev = t->prev;
		sub = loop_heap_merge_pairs(t->child);
		loop->timers = loop_heap_meld(loop->timers, sub);
	}
	t->child = t->next = t->prev = NULL;
	t->pending = false;
	loop->n_timers--;
}

void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t delay_ms,
		      loop_timer_fn fn, void *arg)
{
	uint64_t now = loop_now_ns();

	if (t->pending)
		loop_heap_remove(loop, t);
	/* Saturate: a delay of "forever" must not wrap into the past. */
	if (delay_ms > (UINT64_MAX - now) / 1000000u)
		t->deadline_ns = UINT64_MAX;
	else
		t->deadline_ns = now + delay_ms * 1000000u;
	t->seq = ++loop->timer_seq;
	t->fn = fn;
	t->arg = arg;
	t->child = t->next = t->prev = NULL;
	t->pending = true;
	loop->timers = loop_heap_meld(loop->timers, t);
	loop->n_timers++;
}

bool loop_timer_stop(struct loop *loop, struct loop_timer *t)
{
	if (!t->pending)
		return false;
	loop_heap_remove(loop, t);
	return true;
}

uint64_t loop_polls(const struct loop *loop)
{
	return loop->polls;
}

size_t loop_timer_count(const struct loop *loop)
{
	return loop->n_timers;
}

/*
 * Fire what is due now. Timers armed during this drain have a seq beyond
 * `last` and wait for the next iteration, so a timer re-arming itself with
 * delay 0 cannot keep the loop from polling I/O. Returns whether any fired
 * (else the clock read here is still the time).
 */
static bool loop_timers_fire(struct loop *loop)
{
	uint64_t now = loop_now_ns();
	uint64_t last = loop->timer_seq;
	bool fired = false;

	loop->turn_ns = now;

	while (loop->timers) {
		struct loop_timer *t = loop->timers;

		/*
		 * The heap is ordered by (deadline, seq) and a new timer's deadline
		 * is >= now, so a new timer at the top means nothing old is due.
		 */
		if (t->deadline_ns > now || t->seq > last)
			break;
		loop_heap_remove(loop, t); /* before the call: it may re-arm */
		t->fn(loop, t->arg);
		fired = true;
	}
	return fired;
}

static int loop_poll_timeout_ms(const struct loop *loop, uint64_t now)
{
	uint64_t deadline, ms;

	if (!loop->timers)
		return -1;
	deadline = loop->timers->deadline_ns;
	if (deadline <= now)
		return 0;
	/* Round up: waking a little late is fine, firing early is not. */
	ms = (deadline - now + 999999u) / 1000000u;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Nothing is ready: the clock jumps to the earliest deadline instead of sleeping until it. */
static void loop_skip_to_next_timer(const struct loop *loop)
{
	uint64_t now = loop_now_ns();

	if (loop->timers && loop->timers->deadline_ns > now)
		atomic_fetch_add_explicit(&skipped_ns, loop->timers->deadline_ns - now,
					  memory_order_relaxed);
}

void loop_skip_idle_time(struct loop *loop, bool on)
{
	loop->skip_idle = on;
}

/* --- signals --- */

static void loop_signal_read(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	/* Several signals may be queued behind one wakeup; the fd is non-blocking. */
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int signo = (int)si.ssi_signo;

		if (signo > 0 && signo < _NSIG && loop->sig[signo].fn)
			loop->sig[signo].fn(loop, signo, loop->sig[signo].arg);
	}
}

int loop_signal_add(struct loop *loop, int signo, loop_signal_fn fn, void *arg)
{
	sigset_t one, mask = loop->sigmask;
	int fd, ret;

	if (!fn || signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (loop->sig[signo].fn)
		return -EEXIST;
	sigemptyset(&one);
	/* sigaddset refuses the signals glibc keeps for itself. */
	if (sigaddset(&one, signo) || sigaddset(&mask, signo))
		return -EINVAL;

	/* Blocked first: a signal arriving in between stays pending for the fd. */
	if (sigprocmask(SIG_BLOCK, &one, NULL))
		return -errno;
	fd = signalfd(loop->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->sigfd < 0) {
		ret = loop_add_fd(loop, fd, EPOLLIN, loop_signal_read, NULL);
		if (ret) {
			close(fd);
			return ret;
		}
		loop->sigfd = fd;
	}
	loop->sigmask = mask;
	loop->sig[signo] = (struct loop_signal){ .fn = fn, .arg = arg };
	return 0;
}

/* --- running --- */

static void loop_events_reserve(struct loop *loop)
{
	size_t want = loop->nfds;
	struct epoll_event *ev;

	if (want > LOOP_BATCH_MAX)
		want = LOOP_BATCH_MAX;
	if (want <= (size_t)loop->events_cap)
		return;
	ev = realloc(loop->events, want * sizeof(*ev));
	if (!ev)
		return; /* the old, smaller batch still works */
	loop->events = ev;
	loop->events_cap = (int)want;
}

static void loop_dispatch(struct loop *loop, int n)
{
	loop->batch_len = n;
	for (loop->batch_pos = 0; loop->batch_pos < n; loop->batch_pos++) {
		const struct epoll_event *ev = &loop->events[loop->batch_pos];
		struct loop_fd *lfd = loop_fd_lookup(loop, ev->data.fd);

		if (!lfd)
			continue; /* deleted earlier in this batch */
		/* lfd may move: the callback can grow the fd table. */
		lfd->fn(loop, ev->data.fd, ev->events, lfd->arg);
	}
	loop->batch_pos = 0;
	loop->batch_len = 0;
}

int loop_run(struct loop *loop)
{
	int ret = 0;

	if (loop->running)
		return -EBUSY;
	loop->running = true;

	while (!loop->stopping) {
		int n, timeout;
		bool fired = loop_timers_fire(loop);

		if (loop->stopping)
			break;
		loop_events_reserve(loop);
		timeout = loop_poll_timeout_ms(loop, fired ? loop_now_ns() : loop->turn_ns);
		if (loop->skip_idle && loop->timers)
			timeout = 0;
		n = epoll_wait(loop->epfd, loop->events, loop->events_cap, timeout);
		loop->polls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (n == 0 && loop->skip_idle)
			loop_skip_to_next_timer(loop);
		if (n > 0)
			loop->turn_ns = loop_now_ns();
		loop_dispatch(loop, n);
	}

	loop->running = false;
	loop->stopping = false;
	return ret;
}

void loop_stop(struct loop *loop)
{
	loop->stopping = true;
}
