/*
 * loop.h - the daemon's single-threaded event loop: fd readiness (epoll),
 * one-shot timers on CLOCK_MONOTONIC, and signals delivered as events.
 *
 * Every callback runs on the thread inside loop_run(). Any loop_* call except
 * loop_free() and loop_run() may be made from inside a callback.
 */
#ifndef LOCALSA_BASE_LOOP_H
#define LOCALSA_BASE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;

typedef void (*loop_io_fn)(struct loop *loop, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_fn)(struct loop *loop, void *arg);
typedef void (*loop_signal_fn)(struct loop *loop, int signo, void *arg);

/* Negative errno on failure; *out is written only on success. */
int loop_new(struct loop **out);
/* Accepts NULL. Closes the loop's own fds, never the user's; blocked signals stay blocked. */
void loop_free(struct loop *loop);

/*
 * events are EPOLLIN, EPOLLOUT, ... (level-triggered unless EPOLLET is
 * given); the callback gets the epoll event mask, EPOLLERR/EPOLLHUP included.
 * Remove an fd before closing it. After loop_del_fd() returns, that fd's
 * callback will not run again, even for an event already fetched.
 */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_io_fn fn, void *arg); /* -EEXIST */
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);  /* -ENOENT if not added */
int loop_del_fd(struct loop *loop, int fd);                   /* -ENOENT if not added */

uint64_t loop_now_ms(void); /* CLOCK_MONOTONIC */
uint64_t loop_now_ns(void);
uint64_t loop_wall_ms(void); /* CLOCK_REALTIME, ms since the epoch; moves with loop_now_*() */

/*
 * When this turn of the loop began: the clock read once as its events came in (epoll_wait()
 * returned) or as its due timers were taken. For the stamps each request refreshes - last
 * activity, staleness - a turn's start is precise enough, and it spares a clock read per stamp
 * (an ACM request made seven; in a virtual machine each costs 30-70 ns). Outside loop_run()'s
 * callbacks it is the clock now. Durations and deadlines read loop_now_*().
 */
uint64_t loop_turn_ns(const struct loop *loop);
uint64_t loop_turn_ms(const struct loop *loop);

/*
 * Timers live in the caller's memory (embed a struct loop_timer, zeroed, in the object it
 * serves), so arming one never allocates and cannot fail. One-shot: fires once, no earlier
 * than delay_ms from now; re-arm from the callback for a periodic timer. Equal deadlines fire
 * in the order armed. A timer armed by a timer callback fires on a later iteration, after
 * I/O has been polled. The struct must stay valid while the timer is pending: stop it
 * before freeing its owner.
 */
struct loop_timer {
	/* private: a node of the loop's pairing heap, ordered by (deadline, seq) */
	uint64_t deadline_ns, seq;
	struct loop_timer *child, *next, *prev; /* prev: left sibling, or parent if first child */
	loop_timer_fn fn;
	void *arg;
	bool pending;
};

/* (Re)arms t: a pending t is moved to the new deadline. */
void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t delay_ms,
		      loop_timer_fn fn, void *arg);
/* True if t was pending (and now never fires); false for a fired or never armed timer. */
bool loop_timer_stop(struct loop *loop, struct loop_timer *t);
static inline bool loop_timer_pending(const struct loop_timer *t) { return t->pending; }
/* When a pending t fires, on loop_now_ms()'s clock. */
static inline uint64_t loop_timer_due_ms(const struct loop_timer *t)
{
	return t->deadline_ns / 1000000u;
}
size_t loop_timer_count(const struct loop *loop);  /* pending timers */


/*
 * Blocks signo in the calling thread's mask (call before starting threads)
 * and receives it through one signalfd shared by all signals of this loop.
 * -EINVAL for a signal that cannot be caught, -EEXIST if already added.
 */
int loop_signal_add(struct loop *loop, int signo, loop_signal_fn fn, void *arg);

/*
 * How many times the loop has polled for I/O. Work that may be long (serving many clients)
 * can bound what it does between two polls: while the count is unchanged, no other fd has been
 * looked at.
 */
uint64_t loop_polls(const struct loop *loop);

/*
 * For tests of timed behaviour: while on, a turn in which no fd is ready and a timer is
 * pending does not sleep; the process's loop clocks (loop_now_*(), loop_wall_ms()) jump to
 * that timer's deadline. Right only when everything the loop waits for besides timers is
 * already written when the loop looks (a peer in the same thread, or a scripted transport);
 * a peer in another thread or process would find its timeouts already spent. The daemon
 * never turns it on.
 */
void loop_skip_idle_time(struct loop *loop, bool on);

/* Runs until loop_stop(): 0, or negative errno on a fatal epoll error; -EBUSY if nested. */
int loop_run(struct loop *loop);
/* loop_run() returns once the current batch of callbacks is done. */
void loop_stop(struct loop *loop);

#endif
