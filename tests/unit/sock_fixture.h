/*
 * sock_fixture.h - the door and fabric tests' plumbing: run a loop for a while, dial a unix or
 * a loopback TCP socket as a client would.
 */
#ifndef LOCALSA_TEST_SOCK_FIXTURE_H
#define LOCALSA_TEST_SOCK_FIXTURE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"

struct fixture_stop {
	struct loop_timer t;
	uint64_t polls;		/* loop_polls() when armed */
};

static void fixture_stop(struct loop *loop, void *arg)
{
	struct fixture_stop *st = arg;

	/* Not before the loop has looked at I/O once: on a loaded machine ms may pass before
	 * loop_run() starts, and what the test wrote just before must still be read. Armed
	 * from a timer callback, this fires after the next poll. */
	if (loop_polls(loop) == st->polls) {
		loop_timer_start(loop, &st->t, 0, fixture_stop, st);
		return;
	}
	loop_stop(loop);
}

/* Runs the loop for ms milliseconds (and one look at I/O at least), or until a callback
 * stops it. */
static inline void run_for(struct loop *loop, unsigned ms)
{
	struct fixture_stop st = { .polls = loop_polls(loop) };

	loop_timer_start(loop, &st.t, ms, fixture_stop, &st);
	loop_run(loop);
	loop_timer_stop(loop, &st.t);	/* the loop may have stopped for another reason */
}

/* A blocking client socket connected to the unix path, or to 127.0.0.1:port; -1 on failure. */
static inline int dial(const char *path, uint16_t port)
{
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	struct sockaddr_in t = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(path ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (path && strlen(path) < sizeof(u.sun_path))
		memcpy(u.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, path ? (struct sockaddr *)&u : (struct sockaddr *)&t,
			      path ? sizeof(u) : sizeof(t)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

#endif
