/*
 * fuzz_ctl_server.c - the control socket's server as a client drives it: the real ctl_server on
 * the stream-client core, a real event loop and a real unix socket, over the lookup-service
 * seam with the scripted backend of the door tests (tests/unit/svc_fixture.h) and a store of a
 * few paths. Each input is one connection: its bytes are cut into several writes (the first
 * byte picks the cut length; at most WRITES_MAX writes), lookups that wait for the SA are
 * answered (with paths, "no path" or an SA error, by the input's bytes) or left waiting, and
 * the client hangs up early or reads everything - so requests split across writes, many lines
 * in one write, parked requests, dumps produced as read and hang-ups while parked all happen.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "doors/ctl_server.h"
#include "fuzz.h"
#include "svc_fixture.h"

/* Writes per input, at most: an input costs its writes' loop turns, and a request split
 * across writes needs a few of them, not thousands. */
#define WRITES_MAX 16

static struct loop *loop;
static struct fake_backend backend;
static struct ibv_path_record table[4];
static struct ctl_server *server;
static char sock_path[108];

static void stop(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

/* One poll for I/O and its callbacks, without waiting: the first timer fires before the poll
 * and arms the second, which (armed by a timer callback) fires only after it. */
static struct loop_timer turn_a, turn_b;

static void turn_then_stop(struct loop *l, void *arg)
{
	(void)arg;
	loop_timer_start(l, &turn_b, 0, stop, NULL);
}

static void run_turn(void)
{
	loop_timer_start(loop, &turn_a, 0, turn_then_stop, NULL);
	loop_run(loop);
}

static char sock_dir[32];

static void teardown(void)
{
	ctl_server_free(server);	/* unlinks the socket */
	fake_fini(&backend);
	loop_free(loop);
	rmdir(sock_dir);
}

static void setup(void)
{
	struct ctl_server_opts o = { .mode = 0600, .max_clients = 8, .idle_ms = 1000 };

	log_open("fuzz", LOG_LVL_ERR, false);
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/lsa_fuzz_ctl_XXXXXX");
	if (!mkdtemp(sock_dir) || loop_new(&loop) < 0)
		abort();
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", sock_dir);
	o.path = sock_path;
	table[0] = rec_of(2, 2, 0, 1);
	table[1] = rec_of(3, 3, 0, 2);
	table[2] = rec_of(4, 4, 1, 3);
	table[3] = rec_of(4, 5, 1, 4);
	fake_init(&backend, 0, table, 4);
	if (ctl_server_new(loop, backend.svc, &o, &server) < 0)
		abort();
	atexit(teardown);
}

/* A connection; the server gets loop turns to accept (and to close earlier ones) meanwhile. */
static int dial(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	for (int tries = 0; tries < 100; tries++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0)
			abort();
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		if (errno != EAGAIN)
			abort();
		run_turn();	/* backlog full: let the server accept */
	}
	abort();	/* the server stopped accepting: that is a finding */
}

/* Reads what the server sent so far; false once it closed the connection. */
static bool drain(int fd)
{
	char buf[4096];	/* (a small frame: ASan poisons a stack frame per call) */
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ibv_path_record later = rec_of(9, 9, 0, 7);
	size_t cut, off = 0;
	uint8_t mode;
	int fd;

	if (!loop)
		setup();
	if (size < 2)
		return 0;
	cut = data[0] % 64 + 1;
	mode = data[1];
	data += 2;
	size -= 2;
	if (cut < (size + WRITES_MAX - 1) / WRITES_MAX)	/* a long input: longer writes */
		cut = (size + WRITES_MAX - 1) / WRITES_MAX;
	fd = dial();
	run_turn();
	while (off < size) {
		size_t n = size - off < cut ? size - off : cut;

		if (send(fd, data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
		off += n;
		run_turn();
		/* Lookups waiting for the SA get an answer now and then, of a kind the input picks. */
		if (backend.n_pending && (data[off - 1] & 3) == 0)
			fake_answer(&backend, mode & 4 ? -ENOENT : mode & 8 ? -ETIMEDOUT : 0, 0,
				    &later, 1);
		if (!(mode & 1))
			drain(fd);
	}
	if (mode & 2)
		shutdown(fd, SHUT_WR);	/* the server answers what it got, then closes */
	for (int i = 0; i < 16; i++) {	/* loop turns, no waiting: the clock stays still */
		run_turn();
		if (!drain(fd))
			break;
	}
	close(fd);	/* hang up, possibly while parked or mid-dump */
	run_turn();
	/* The door cancels what a closed client waited for; an answer to a lookup it forgot to
	 * cancel would reach freed memory (ASan). */
	while (fake_answer(&backend, -ECANCELED, 0, NULL, 0))
		;
	run_turn();
	/* The next input starts from the same cache (this one may have flushed or added). */
	pr_store_flush(backend.store);
	if (pr_store_load(backend.store, pr_store_default_tuple(backend.store), table, 4, NULL,
			  PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL) < 0)
		abort();
	return 0;
}
