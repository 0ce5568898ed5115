/*
 * sock_fixture.h - the door tests' plumbing: run a loop for a while, dial a unix or a loopback
 * TCP socket as a client would.
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

static void fixture_stop(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

/* Runs the loop for ms milliseconds. */
static inline void run_for(struct loop *loop, unsigned ms)
{
	struct loop_timer t = { 0 };

	loop_timer_start(loop, &t, ms, fixture_stop, NULL);
	loop_run(loop);
	loop_timer_stop(loop, &t);	/* the loop may have stopped for another reason */
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
