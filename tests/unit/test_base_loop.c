/*
 * test_base_loop.c - the event loop: fd readiness, timer order, stop and re-arm (embedded
 * timers, and the id-named ones), timers that arm while allocation fails, deleting fds
 * mid-batch, signals, stopping, the turn's clock, and the tests' skipping of idle time.
 *
 * Every test arms a watchdog timer so a broken loop fails instead of hanging.
 */
#include "alloc_fail.h"
#include "check.h"

#include "base/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_MS 5000

static void watchdog_fired(struct loop *loop, void *arg)
{
	bool *fired = arg;

	*fired = true;
	loop_stop(loop);
}

/* Run the loop with a watchdog; true if loop_run() ended before it fired. */
static bool run_with_watchdog(struct loop *loop)
{
	struct loop_timer watchdog = { 0 };
	bool fired = false;

	loop_timer_start(loop, &watchdog, WATCHDOG_MS, watchdog_fired, &fired);
	CHECK_INT(0, loop_run(loop));
	loop_timer_stop(loop, &watchdog);
	CHECK(!fired);
	return !fired;
}

static struct loop *new_loop(void)
{
	struct loop *loop = NULL;

	CHECK_INT(0, loop_new(&loop));
	CHECK(loop != NULL);
	if (!loop)
		exit(CHECK_DONE());
	return loop;
}

static void stop_soon(struct loop *loop, void *arg)
{
	loop_stop(loop);
}

/* Stops the loop after ms: one timer for the tests that only need that. A loop freed with it
 * pending drops it, so a new loop starts from a fresh one. */
static struct {
	struct loop *loop;
	struct loop_timer t;
} stopper;

static void stop_after(struct loop *loop, uint64_t ms)
{
	if (stopper.loop != loop)
		memset(&stopper, 0, sizeof(stopper));
	stopper.loop = loop;
	loop_timer_start(loop, &stopper.t, ms, stop_soon, NULL);
}

/* --- fd readiness --- */

struct io_seen {
	int fd;
	uint32_t events;
	int calls;
};

static void io_record_and_stop(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct io_seen *seen = arg;
	uint64_t buf;

	seen->fd = fd;
	seen->events = events;
	seen->calls++;
	(void)!read(fd, &buf, sizeof(buf));
	loop_stop(loop);
}

static void test_pipe_readable(void)
{
	struct loop *loop = new_loop();
	struct io_seen seen = { .fd = -1 };
	int p[2];

	CHECK_INT(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	CHECK_INT(0, loop_add_fd(loop, p[0], EPOLLIN, io_record_and_stop, &seen));
	CHECK_INT(-EEXIST, loop_add_fd(loop, p[0], EPOLLIN, io_record_and_stop, &seen));
	CHECK_INT(1, write(p[1], "x", 1));
	run_with_watchdog(loop);
	CHECK_INT(1, seen.calls);
	CHECK_INT(p[0], seen.fd);
	CHECK(seen.events & EPOLLIN);

	CHECK_INT(0, loop_del_fd(loop, p[0]));
	CHECK_INT(-ENOENT, loop_del_fd(loop, p[0]));
	close(p[0]);
	close(p[1]);
	loop_free(loop);
}

static void test_eventfd_readable(void)
{
	struct loop *loop = new_loop();
	struct io_seen seen = { .fd = -1 };
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	CHECK(efd >= 0);
	CHECK_INT(0, loop_add_fd(loop, efd, EPOLLIN, io_record_and_stop, &seen));
	CHECK_INT(sizeof(one), write(efd, &one, sizeof(one)));
	run_with_watchdog(loop);
	CHECK_INT(1, seen.calls);
	CHECK_INT(efd, seen.fd);
	CHECK(seen.events & EPOLLIN);
	loop_free(loop); /* still registered: loop_free must not close it */
	CHECK_INT(0, fcntl(efd, F_GETFD) < 0);
	close(efd);
}

static void test_timerfd_readable(void)
{
	struct loop *loop = new_loop();
	struct io_seen seen = { .fd = -1 };
	struct itimerspec its = { .it_value.tv_nsec = 5 * 1000000 };
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	CHECK(tfd >= 0);
	CHECK_INT(0, timerfd_settime(tfd, 0, &its, NULL));
	CHECK_INT(0, loop_add_fd(loop, tfd, EPOLLIN, io_record_and_stop, &seen));
	run_with_watchdog(loop);
	CHECK_INT(1, seen.calls);
	CHECK_INT(tfd, seen.fd);
	CHECK(seen.events & EPOLLIN);
	CHECK_INT(0, loop_del_fd(loop, tfd));
	close(tfd);
	loop_free(loop);
}

/* A pipe's write end is always writable: EPOLLIN never fires, EPOLLOUT does. */
static void test_mod_fd(void)
{
	struct loop *loop = new_loop();
	struct io_seen seen = { .fd = -1 };
	int p[2];

	CHECK_INT(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	CHECK_INT(-ENOENT, loop_mod_fd(loop, p[1], EPOLLOUT));
	CHECK_INT(-EBADF, loop_add_fd(loop, -1, EPOLLIN, io_record_and_stop, &seen));
	CHECK_INT(-EINVAL, loop_add_fd(loop, p[1], EPOLLIN, NULL, NULL));
	CHECK_INT(0, loop_add_fd(loop, p[1], EPOLLIN, io_record_and_stop, &seen));
	stop_after(loop, 30);
	CHECK_INT(0, loop_run(loop));
	CHECK_INT(0, seen.calls);

	CHECK_INT(0, loop_mod_fd(loop, p[1], EPOLLOUT));
	run_with_watchdog(loop);
	CHECK_INT(1, seen.calls);
	CHECK(seen.events & EPOLLOUT);
	close(p[0]);
	close(p[1]);
	loop_free(loop);
}

/* Fds with large numbers and batches wider than the initial event buffer. */
static void count_and_drain(struct loop *loop, int fd, uint32_t events, void *arg)
{
	int *count = arg;
	uint64_t v;

	CHECK_INT(sizeof(v), read(fd, &v, sizeof(v)));
	if (++*count == 100)
		loop_stop(loop);
}

static void test_many_fds(void)
{
	struct loop *loop = new_loop();
	int fds[100], count = 0;

	for (int i = 0; i < 100; i++) {
		fds[i] = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(fds[i] >= 0);
	}
	/* Move one far up: the fd table is indexed by fd number and must grow. */
	int high = fcntl(fds[99], F_DUPFD_CLOEXEC, 700);
	CHECK(high >= 700);
	close(fds[99]);
	fds[99] = high;
	for (int i = 0; i < 100; i++)
		CHECK_INT(0, loop_add_fd(loop, fds[i], EPOLLIN, count_and_drain, &count));
	run_with_watchdog(loop);
	CHECK_INT(100, count);
	for (int i = 0; i < 100; i++) {
		CHECK_INT(0, loop_del_fd(loop, fds[i]));
		close(fds[i]);
	}
	loop_free(loop);
}

/* --- deleting fds from inside callbacks --- */

struct del_pair {
	int rfd[2];
	int wfd[2];
	int calls[2];
	int fresh[2]; /* a new pipe that may reuse the deleted fd's number */
	int fresh_calls;
	bool close_other;
};

static void fresh_cb(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct del_pair *dp = arg;

	dp->fresh_calls++;
}

static void del_other_cb(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct del_pair *dp = arg;
	int me = fd == dp->rfd[0] ? 0 : 1;
	int other = dp->rfd[1 - me];

	dp->calls[me]++;
	CHECK_INT(0, loop_del_fd(loop, other));
	if (dp->close_other) {
		/* The other's pending event must not reach whoever gets its number. */
		close(other);
		dp->rfd[1 - me] = -1;
		CHECK_INT(0, pipe2(dp->fresh, O_NONBLOCK | O_CLOEXEC));
		CHECK_INT(other, dp->fresh[0]);
		CHECK_INT(0, loop_add_fd(loop, dp->fresh[0], EPOLLIN, fresh_cb, dp));
	}
	CHECK_INT(0, loop_del_fd(loop, fd));
	stop_after(loop, 20);
}

static void run_del_other(bool close_other)
{
	struct loop *loop = new_loop();
	struct del_pair dp = { .close_other = close_other, .fresh = { -1, -1 } };

	for (int i = 0; i < 2; i++) {
		int p[2];

		CHECK_INT(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
		dp.rfd[i] = p[0];
		dp.wfd[i] = p[1];
		CHECK_INT(0, loop_add_fd(loop, p[0], EPOLLIN, del_other_cb, &dp));
		CHECK_INT(1, write(p[1], "x", 1)); /* both ready: one epoll batch */
	}
	run_with_watchdog(loop);
	CHECK_INT(1, dp.calls[0] + dp.calls[1]);
	CHECK_INT(0, dp.fresh_calls);
	for (int i = 0; i < 2; i++) {
		if (dp.rfd[i] >= 0)
			close(dp.rfd[i]);
		close(dp.wfd[i]);
		if (dp.fresh[i] >= 0)
			close(dp.fresh[i]);
	}
	loop_free(loop);
}

static void test_del_other_in_batch(void)
{
	run_del_other(false);
	run_del_other(true);
}

struct self_close {
	int wfd;
	int calls;
	bool close_first;
};

static void close_self_cb(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct self_close *sc = arg;

	sc->calls++;
	if (sc->close_first) {
		close(fd);
		CHECK_INT(0, loop_del_fd(loop, fd));
	} else {
		CHECK_INT(0, loop_del_fd(loop, fd));
		close(fd);
	}
	close(sc->wfd);
	stop_after(loop, 20);
}

static void test_close_self(void)
{
	for (int close_first = 0; close_first < 2; close_first++) {
		struct loop *loop = new_loop();
		struct self_close sc = { .close_first = close_first };
		int p[2];

		CHECK_INT(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
		sc.wfd = p[1];
		CHECK_INT(0, loop_add_fd(loop, p[0], EPOLLIN, close_self_cb, &sc));
		CHECK_INT(1, write(p[1], "x", 1));
		run_with_watchdog(loop);
		CHECK_INT(1, sc.calls);
		loop_free(loop);
	}
}

/* --- timers --- */

struct order_log {
	int seen[1100];
	int n;
};

struct order_item {
	struct loop_timer timer;
	struct order_log *log;
	int tag;
	uint64_t due_ns; /* earliest time the timer may fire */
	bool early;
};

static void order_cb(struct loop *loop, void *arg)
{
	struct order_item *it = arg;

	if (loop_now_ns() < it->due_ns)
		it->early = true;
	it->log->seen[it->log->n++] = it->tag;
}

static void test_timer_order(void)
{
	struct loop *loop = new_loop();
	struct order_log log = { .n = 0 };
	static const unsigned delays[] = { 30, 10, 20, 0, 10, 10, 10 };
	static const int expect[] = { 3, 1, 4, 5, 6, 2, 0 };
	struct order_item items[7];

	for (int i = 0; i < 7; i++) {
		items[i] = (struct order_item){ .log = &log, .tag = i,
						.due_ns = loop_now_ns() + delays[i] * 1000000ull };
		loop_timer_start(loop, &items[i].timer, delays[i], order_cb, &items[i]);
		CHECK(loop_timer_pending(&items[i].timer));
	}
	CHECK_INT(7, loop_timer_count(loop));
	stop_after(loop, 50);
	run_with_watchdog(loop);
	CHECK_INT(7, log.n);
	for (int i = 0; i < 7; i++) {
		CHECK_INT(expect[i], log.seen[i]);
		CHECK(!items[i].early);
		CHECK(!loop_timer_pending(&items[i].timer));
	}
	CHECK_INT(0, loop_timer_count(loop));
	loop_free(loop);
}

/*
 * The loop computes each deadline inside loop_timer_start(), so the test knows
 * it only within [clock before the call, clock after] + delay. Two timers are
 * out of order only if the earlier-fired one's window lies wholly after the
 * later-fired one's; a preempted test thread widens windows, never fails.
 */
static void test_timer_random(void)
{
	struct loop *loop = new_loop();
	struct order_log *log = calloc(1, sizeof(*log));
	struct order_item *items = calloc(1000, sizeof(*items));
	uint64_t *latest = calloc(1000, sizeof(*latest));
	struct loop_timer stop = { 0 };
	bool sorted = true, early = false, cancelled_fired = false;
	int cancelled = 0, fired_early = 0;

	srand(1234);
	for (int i = 0; i < 1000; i++) {
		uint64_t delay_ns = (uint64_t)(rand() % 80 + 10) * 1000000;

		items[i] = (struct order_item){ .log = log, .tag = i,
						.due_ns = loop_now_ns() + delay_ns };
		loop_timer_start(loop, &items[i].timer, delay_ns / 1000000, order_cb, &items[i]);
		latest[i] = loop_now_ns() + delay_ns;
	}
	CHECK_INT(1000, loop_timer_count(loop));
	/* Fire a few first, so that the heap has depth when nodes are cut out of it. */
	loop_timer_start(loop, &stop, 20, stop_soon, NULL);
	run_with_watchdog(loop);
	fired_early = log->n;
	CHECK(fired_early > 0);
	/* Stop a third and move another third, from anywhere in the heap. */
	for (int i = 0; i < 1000; i++) {
		int what = rand() % 3;
		bool pending = loop_timer_pending(&items[i].timer);

		if (what == 0) {
			CHECK(loop_timer_stop(loop, &items[i].timer) == pending);
			if (pending) {
				items[i].tag = -1;
				cancelled++;
			}
		} else if (what == 1 && pending) {
			uint64_t delay_ns = (uint64_t)(rand() % 80) * 1000000;

			items[i].due_ns = loop_now_ns() + delay_ns;
			loop_timer_start(loop, &items[i].timer, delay_ns / 1000000, order_cb,
					 &items[i]);
			latest[i] = loop_now_ns() + delay_ns;
		}
	}
	CHECK_INT(1000 - cancelled - fired_early, loop_timer_count(loop));
	loop_timer_start(loop, &stop, 120, stop_soon, NULL);
	run_with_watchdog(loop);
	CHECK_INT(1000 - cancelled, log->n);
	CHECK_INT(0, loop_timer_count(loop));
	for (int i = 0; i < log->n; i++)
		cancelled_fired |= log->seen[i] < 0;
	CHECK(!cancelled_fired);
	if (cancelled_fired)
		goto out;
	for (int i = 1; i < log->n; i++) {
		int a = log->seen[i - 1], b = log->seen[i];

		if (items[a].due_ns > latest[b])
			sorted = false;
	}
	for (int i = 0; i < 1000; i++)
		early |= items[i].early;
	CHECK(sorted);
	CHECK(!early);
out:
	free(latest);
	free(items);
	free(log);
	loop_free(loop);
}

/* Stopping from a callback, re-arming a pending timer, arming from a callback. */
struct embedded_ctx {
	struct loop_timer self, victim, moved, later, child;
	int fired[5];
	bool stop_self_ok, stop_victim_ok;
	uint64_t child_armed_ms, child_fired_ms;
};

static void emb_self(struct loop *loop, void *arg)
{
	struct embedded_ctx *c = arg;

	c->fired[0]++;
	c->stop_self_ok = loop_timer_stop(loop, &c->self);
	c->stop_victim_ok = loop_timer_stop(loop, &c->victim);
}

static void emb_victim(struct loop *loop, void *arg)
{
	((struct embedded_ctx *)arg)->fired[1]++;
}

static void emb_child(struct loop *loop, void *arg)
{
	struct embedded_ctx *c = arg;

	c->fired[4]++;
	c->child_fired_ms = loop_now_ms();
}

static void emb_moved(struct loop *loop, void *arg)
{
	struct embedded_ctx *c = arg;

	c->fired[2]++;
	c->child_armed_ms = loop_now_ms();
	loop_timer_start(loop, &c->child, 10, emb_child, c);
}

static void emb_later(struct loop *loop, void *arg)
{
	((struct embedded_ctx *)arg)->fired[3]++;
	loop_stop(loop);
}

static void test_timer_embedded(void)
{
	struct loop *loop = new_loop();
	struct embedded_ctx c = { 0 };
	uint64_t t0 = loop_now_ms();

	CHECK(!loop_timer_stop(loop, &c.self)); /* never armed */
	loop_timer_start(loop, &c.self, 5, emb_self, &c);
	loop_timer_start(loop, &c.victim, 5, emb_victim, &c); /* same deadline, later */
	loop_timer_start(loop, &c.moved, 1000, emb_moved, &c);
	loop_timer_start(loop, &c.later, 60, emb_later, &c);
	loop_timer_start(loop, &c.moved, 10, emb_moved, &c); /* re-armed: earlier now */
	CHECK_INT(4, loop_timer_count(loop));
	run_with_watchdog(loop);
	CHECK_INT(1, c.fired[0]);
	CHECK(!c.stop_self_ok);	/* running: already fired */
	CHECK(c.stop_victim_ok);
	CHECK_INT(0, c.fired[1]);
	CHECK_INT(1, c.fired[2]);	/* once, at the new deadline */
	CHECK(c.child_armed_ms - t0 < 1000);
	CHECK_INT(1, c.fired[4]);
	CHECK(c.child_fired_ms >= c.child_armed_ms + 10);
	CHECK_INT(1, c.fired[3]);
	CHECK_INT(0, loop_timer_count(loop));
	/* A pending timer is simply dropped with the loop: it is the caller's memory. */
	loop_timer_start(loop, &c.later, 1000, emb_later, &c);
	loop_free(loop);
}

/* Arming cannot fail: with every allocation failing, timers still arm, fire in order and stop. */
static void test_timer_no_memory(void)
{
	struct loop *loop = new_loop();
	struct order_log log = { .n = 0 };
	struct order_item items[64];
	struct loop_timer stop = { 0 };

	alloc_fail_set(true);
	for (int i = 0; i < 64; i++) {
		items[i] = (struct order_item){ .log = &log, .tag = i, .due_ns = loop_now_ns() };
		loop_timer_start(loop, &items[i].timer, (uint64_t)(63 - i) % 8, order_cb,
				 &items[i]);
	}
	CHECK(loop_timer_stop(loop, &items[0].timer));
	CHECK_INT(63, loop_timer_count(loop));
	loop_timer_start(loop, &stop, 30, stop_soon, NULL);
	run_with_watchdog(loop);
	alloc_fail_set(false);
	CHECK_INT(63, log.n);
	for (int i = 1; i < log.n; i++) /* by delay, then in the order armed */
		CHECK((63 - log.seen[i - 1]) % 8 < (63 - log.seen[i]) % 8 ||
		      ((63 - log.seen[i - 1]) % 8 == (63 - log.seen[i]) % 8 &&
		       log.seen[i - 1] < log.seen[i]));
	loop_free(loop);
}

/* A timer re-arming with delay 0 must leave room for I/O every iteration. */
struct starve_ctx {
	struct loop_timer timer;
	int rearms;
	int io_calls;
	int rearms_at_io;
};

static void starve_timer(struct loop *loop, void *arg)
{
	struct starve_ctx *sc = arg;

	if (sc->io_calls || ++sc->rearms > 100000) {
		loop_stop(loop);
		return;
	}
	loop_timer_start(loop, &sc->timer, 0, starve_timer, sc);
}

static void starve_io(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct starve_ctx *sc = arg;
	char c;

	(void)!read(fd, &c, 1);
	if (!sc->io_calls++)
		sc->rearms_at_io = sc->rearms;
}

static void test_timer_no_starvation(void)
{
	struct loop *loop = new_loop();
	struct starve_ctx sc = { 0 };
	int p[2];

	CHECK_INT(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	CHECK_INT(0, loop_add_fd(loop, p[0], EPOLLIN, starve_io, &sc));
	CHECK_INT(1, write(p[1], "x", 1));
	loop_timer_start(loop, &sc.timer, 0, starve_timer, &sc);
	run_with_watchdog(loop);
	CHECK_INT(1, sc.io_calls);
	CHECK(sc.rearms_at_io <= 1);
	close(p[0]);
	close(p[1]);
	loop_free(loop);
}

/* --- signals --- */

struct sig_seen {
	int signo[4];
	int n;
};

static void sig_cb(struct loop *loop, int signo, void *arg)
{
	struct sig_seen *ss = arg;

	if (ss->n < 4)
		ss->signo[ss->n] = signo;
	if (++ss->n == 2)
		loop_stop(loop);
}

static void test_signal(void)
{
	struct loop *loop = new_loop();
	struct sig_seen ss = { .n = 0 };

	CHECK_INT(0, loop_signal_add(loop, SIGUSR1, sig_cb, &ss));
	CHECK_INT(-EEXIST, loop_signal_add(loop, SIGUSR1, sig_cb, &ss));
	CHECK_INT(-EINVAL, loop_signal_add(loop, SIGKILL, sig_cb, &ss));
	CHECK_INT(-EINVAL, loop_signal_add(loop, 0, sig_cb, &ss));
	CHECK_INT(-EINVAL, loop_signal_add(loop, _NSIG, sig_cb, &ss));
	CHECK_INT(0, loop_signal_add(loop, SIGUSR2, sig_cb, &ss));
	CHECK_INT(0, raise(SIGUSR1));
	CHECK_INT(0, raise(SIGUSR2));
	run_with_watchdog(loop);
	CHECK_INT(2, ss.n);
	CHECK((ss.signo[0] == SIGUSR1 && ss.signo[1] == SIGUSR2) ||
	      (ss.signo[0] == SIGUSR2 && ss.signo[1] == SIGUSR1));
	loop_free(loop);

	/* A second loop in the same process takes over the (still blocked) signal. */
	loop = new_loop();
	ss.n = 0;
	CHECK_INT(0, loop_signal_add(loop, SIGUSR1, sig_cb, &ss));
	CHECK_INT(0, raise(SIGUSR1));
	CHECK_INT(0, raise(SIGUSR1)); /* standard signals coalesce while pending */
	stop_after(loop, 30);
	run_with_watchdog(loop);
	CHECK_INT(1, ss.n);
	CHECK_INT(SIGUSR1, ss.signo[0]);
	loop_free(loop);
}

/* --- stopping --- */

static void nested_run(struct loop *loop, void *arg)
{
	int *ret = arg;

	*ret = loop_run(loop);
	loop_stop(loop);
}

static void must_not_fire(struct loop *loop, void *arg)
{
	bool *fired = arg;

	*fired = true;
}

static void test_stop(void)
{
	struct loop *loop = new_loop();
	struct loop_timer nest = { 0 }, late = { 0 };
	bool late_fired = false;
	int nested = 0;
	uint64_t t0 = loop_now_ms();

	loop_timer_start(loop, &nest, 10, nested_run, &nested);
	loop_timer_start(loop, &late, 2000, must_not_fire, &late_fired);
	run_with_watchdog(loop);
	CHECK_INT(-EBUSY, nested);
	CHECK(!late_fired);
	CHECK(loop_now_ms() - t0 < 1000);
	CHECK(loop_timer_stop(loop, &late));

	/* A stop requested before loop_run() is honoured, then forgotten. */
	loop_stop(loop);
	CHECK_INT(0, loop_run(loop));
	stop_after(loop, 5);
	CHECK_INT(0, loop_run(loop));
	loop_free(loop);
	loop_free(NULL);
}

static void test_clock(void)
{
	uint64_t a = loop_now_ns(), ms = loop_now_ms(), b = loop_now_ns();

	CHECK(a <= b);
	CHECK(ms >= a / 1000000 && ms <= b / 1000000);
}

struct turn_seen {
	uint64_t before, first, later, now;
	int calls;
};

/* Inside one turn the turn's time stands still while the clock goes on; the next turn's is
 * later. */
static void note_turn(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct turn_seen *t = arg;
	uint64_t buf, one = 1;
	struct timespec two_ms = { 0, 2000000 };

	(void)events;
	(void)!read(fd, &buf, sizeof(buf));
	if (t->calls++) {
		t->later = loop_turn_ns(loop);
		loop_stop(loop);
		return;
	}
	t->first = loop_turn_ns(loop);
	nanosleep(&two_ms, NULL);
	t->now = loop_now_ns();
	CHECK(loop_turn_ns(loop) == t->first);
	CHECK_INT(t->first / 1000000, loop_turn_ms(loop));
	(void)!write(fd, &one, sizeof(one));	/* a second turn */
}

static void test_turn_clock(void)
{
	struct loop *loop = new_loop();
	struct turn_seen t = { 0 };
	uint64_t one = 1, a, b;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	CHECK(efd >= 0);
	CHECK_INT(0, loop_add_fd(loop, efd, EPOLLIN, note_turn, &t));
	(void)!write(efd, &one, sizeof(one));
	t.before = loop_now_ns();
	CHECK(run_with_watchdog(loop));
	CHECK_INT(2, t.calls);
	CHECK(t.first >= t.before);
	CHECK(t.now >= t.first + 2000000);
	CHECK(t.later >= t.now);
	a = loop_now_ns();	/* outside loop_run(): the clock now */
	b = loop_turn_ns(loop);
	CHECK(b >= a && b <= loop_now_ns());
	loop_del_fd(loop, efd);
	close(efd);
	loop_free(loop);
}

/* Real time, apart from the loop's clock (which skipping moves). */
static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void note_now(struct loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t buf;

	(void)events;
	(void)loop;
	*(uint64_t *)arg = loop_now_ms();
	(void)!read(fd, &buf, sizeof(buf));
}

/*
 * Skipping idle time: a 10 min timer fires at once in real time and the clock has moved 10 min;
 * an fd already ready is served before any jump; off again, a 30 ms timer takes 30 ms.
 */
static void test_skip_idle_time(void)
{
	struct loop *loop = new_loop();
	struct itimerspec guard = { .it_value.tv_sec = 5 };	/* real time: not the loop's */
	struct io_seen guard_fired = { .fd = -1 };
	uint64_t t0, r0, seen = 0, one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	CHECK(efd >= 0 && tfd >= 0);
	CHECK_INT(0, loop_add_fd(loop, efd, EPOLLIN, note_now, &seen));
	CHECK_INT(0, loop_add_fd(loop, tfd, EPOLLIN, io_record_and_stop, &guard_fired));
	CHECK_INT(0, timerfd_settime(tfd, 0, &guard, NULL));
	(void)!write(efd, &one, sizeof(one));
	loop_skip_idle_time(loop, true);
	t0 = loop_now_ms();
	r0 = real_ms();
	stop_after(loop, 600000);
	CHECK_INT(0, loop_run(loop));
	CHECK(seen >= t0 && seen < t0 + 1000);	/* the ready fd first, at the real time */
	CHECK(loop_now_ms() >= t0 + 600000);
	CHECK(real_ms() - r0 < 5000);
	CHECK_INT(0, guard_fired.calls);
	loop_skip_idle_time(loop, false);
	t0 = loop_now_ms();
	r0 = real_ms();
	stop_after(loop, 30);
	CHECK(run_with_watchdog(loop));
	CHECK(real_ms() - r0 >= 30);
	CHECK(loop_now_ms() - t0 >= 30 && loop_now_ms() - t0 < WATCHDOG_MS);
	loop_del_fd(loop, efd);
	loop_del_fd(loop, tfd);
	close(efd);
	close(tfd);
	loop_free(loop);
}

int main(void)
{
	test_clock();
	test_turn_clock();
	test_skip_idle_time();
	test_pipe_readable();
	test_eventfd_readable();
	test_timerfd_readable();
	test_mod_fd();
	test_many_fds();
	test_del_other_in_batch();
	test_close_self();
	test_timer_order();
	test_timer_random();
	test_timer_embedded();
	test_timer_no_memory();
	test_timer_no_starvation();
	test_signal();
	test_stop();
	return CHECK_DONE();
}
