/*
 * fuzz_snapshot.c - liblocalsa's snapshot reader fed arbitrary objects through the public API:
 * the input becomes the shared-memory object that a (fake, in-process) localsad names, and a
 * handle opens it, resolves by DGID, by DLID and by QoS tuple, resolves a batch and walks it
 * with localsa_foreach. Whatever the object holds, the library must answer or refuse, never
 * fault, hang or overrun. (What a snapshot of the daemon's own user says is believed: a forged
 * path is no finding; a crash, a hang or an overrun is.)
 *
 * Input: one flag byte, the header (struct snap_header, 384 bytes; the rest of the header page
 * is zeros), then the bytes of the halves. Flag bit 0 sets the header's sizes (object_size,
 * half_offset, half_size: the body cut in two) and magic/ABI to agree with the file, so that
 * mutations reach the halves' words; without it the header is taken as it comes.
 * Seeds (corpus/snapshot/) are objects localsad's writer published, halves cut to their used
 * words.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cache/snap_format.h"
#include "fuzz.h"
#include "localsa.h"

static char sock_path[108], shm_name[64];

/* --- a fake localsad: `info` names the object, every `path` has no answer --- */

static void serve(int fd)
{
	char buf[4096], reply[128];
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *nl;

		if (poll(&p, 1, 2000) <= 0)
			return;
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			size_t used = (size_t)(nl - buf) + 1;
			int k = !strncmp(buf, "info", 4) ?
				snprintf(reply, sizeof(reply), "OK 1\nshm=%s\n", shm_name) :
				snprintf(reply, sizeof(reply), "ERR NO_PATH no path\n");

			(void)!send(fd, reply, (size_t)k, MSG_NOSIGNAL);
			memmove(buf, buf + used, len - used);
			len -= used;
		}
		if (len == sizeof(buf))
			return;
	}
}

static void *daemon_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
	}
	return NULL;
}

static void cleanup(void)
{
	shm_unlink(shm_name);
	unlink(sock_path);
}

static int setup(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	pthread_t th;
	int lfd;

	snprintf(sock_path, sizeof(sock_path), "/tmp/lsa-fuzz-snapshot-%d.sock", (int)getpid());
	snprintf(shm_name, sizeof(shm_name), "/lsa-fuzz-snapshot-%d", (int)getpid());
	strcpy(a.sun_path, sock_path);
	unlink(sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4) < 0 ||
	    pthread_create(&th, NULL, daemon_main, (void *)(intptr_t)lfd))
		return -1;
	pthread_detach(th);
	atexit(cleanup);
	return 0;
}

/* --- the object --- */

static int write_object(uint8_t flags, const uint8_t *data, size_t size)
{
	struct snap_header h;
	size_t body = size > sizeof(h) ? size - sizeof(h) : 0;
	uint64_t total = SNAP_HEADER_SIZE + body;
	int fd, ok;

	memset(&h, 0, sizeof(h));
	memcpy(&h, data, size < sizeof(h) ? size : sizeof(h));
	if (flags & 1) {
		uint64_t half = body / 2 / 8 * 8;

		atomic_store(&h.magic, SNAP_MAGIC);
		h.abi = SNAP_ABI;
		h.header_size = SNAP_HEADER_SIZE;
		h.object_size = total;
		h.half_size = half;
		h.half_offset[0] = SNAP_HEADER_SIZE;
		h.half_offset[1] = SNAP_HEADER_SIZE + half;
	}
	fd = shm_open(shm_name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ok = fchmod(fd, 0644) == 0 && ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)total) == 0 &&
	     pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	     (!body || pwrite(fd, data + sizeof(h), body, SNAP_HEADER_SIZE) == (ssize_t)body);
	close(fd);
	return ok ? 0 : -1;
}

/* --- the queries --- */

static union ibv_gid gid(uint64_t guid)
{
	union ibv_gid g = { .raw = { 0xfe, 0x80 } };

	for (int i = 0; i < 8; i++)
		g.raw[15 - i] = (uint8_t)(guid >> (8 * i));
	return g;
}

/* Reads what it is given (ASan sees an overrun), stops a walk that goes on too long. */
static int count_path(const struct ibv_path_record *path, const struct localsa_query *key,
		      void *arg)
{
	unsigned *n = arg;

	*n += path->dlid != key->dlid;
	return ++*n > 200000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct localsa_query qs[8];
	struct ibv_path_record out[8];
	int status[8];
	struct localsa *h = NULL;
	unsigned walked = 0;

	if (!ready) {
		if (setup())
			abort();
		ready = true;
	}
	if (size < 1 || write_object(data[0], data + 1, size - 1))
		return 0;
	/* the destinations the seeds hold, one from the input, DLIDs, and QoS tuples */
	qs[0] = (struct localsa_query){ .flags = LOCALSA_Q_DGID, .dgid = gid(0x100) };
	qs[1] = (struct localsa_query){ .flags = LOCALSA_Q_DGID, .dgid = gid(0x101) };
	qs[2] = (struct localsa_query){ .flags = LOCALSA_Q_DLID, .dlid = 0x201 };
	qs[3] = (struct localsa_query){ .flags = LOCALSA_Q_DGID | LOCALSA_Q_PKEY, .pkey = 0x8001,
					.dgid = gid(0x100) };
	qs[4] = (struct localsa_query){ .flags = LOCALSA_Q_DGID | LOCALSA_Q_DLID, .dlid = 0x200,
					.dgid = gid(0x100) };
	qs[5] = (struct localsa_query){ .flags = LOCALSA_Q_DLID | LOCALSA_Q_SERVICE_ID | LOCALSA_Q_SL,
					.dlid = 40, .service_id = 0x1000, .sl = 3 };
	qs[6] = (struct localsa_query){ .flags = LOCALSA_Q_DGID, .dgid = gid(0x102) };
	if (size >= 16)
		memcpy(qs[6].dgid.raw, data + size - 16, 16);
	qs[7] = (struct localsa_query){ .flags = LOCALSA_Q_DLID, .dlid = 1 + data[size - 1] % 0xbfff };

	if (localsa_open(sock_path, NULL, &h))
		return 0;
	for (int i = 0; i < 8; i++)
		if (localsa_resolve_all(h, &qs[i], out, 8) > 8 && !(qs[i].flags & LOCALSA_Q_DLID))
			(void)localsa_resolve_all(h, &qs[i], NULL, 0);
	(void)localsa_resolve_batch(h, qs, 8, out, status);
	(void)localsa_foreach(h, count_path, &walked);
	localsa_close(h);
	return 0;
}
