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
 * Seeds (corpus/snapshot/) are objects localsad's writer published (ABI 2), halves cut to their
 * used words; huge_groups.bin and huge_records.bin are one_publication.bin with a destination
 * or path count of 2^32 - 1 (refused in the half's copy, snap_read_all); old_reader_crash.bin
 * is an ABI 1 object, now refused at the header.
 *
 * Speed (a campaign needs millions of inputs): one object, rewritten in place per input; every
 * input goes through the reader's own calls as the handle makes them (snap_map_open with its
 * trust checks, snap_lookup, snap_lookup_batch, snap_read_all: a few system calls), and one
 * input in 16 (by a hash of its bytes) also through the public API (localsa_open, resolve_all,
 * resolve_batch, foreach), with a fake daemon that has no thread of its own. The handle's `info` - one round trip per input, needed
 * to map - is answered by a SIGIO handler on the listening socket, in the very thread that
 * waits for the answer (accept and send are async-signal-safe; the library's poll() takes the
 * EINTR and goes on), so no input waits for another thread to be scheduled. Then the daemon
 * stops listening: the queries the snapshot cannot answer fail at connect() instead of each
 * costing a round trip (the control protocol has its own target, fuzz_ctl_proto).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cache/snap_format.h"
#include "cache/snap_reader.h"
#include "fuzz.h"
#include "localsa.h"

#define API_EVERY 16	/* one input in API_EVERY goes through the API as well */

static char sock_path[108], shm_name[64];
static int shm_fd = -1;

/* --- a fake localsad: answers one `info` naming the object, per input --- */

static int listen_fd = -1;
static volatile sig_atomic_t conn_fd = -1;
static char reply[128];
static size_t reply_len;

/* A connection arrived: answer it at once (the request may not be there yet: the reply waits
 * in the client's buffer). Kept open until the handle is made, so its request is not refused. */
static void on_sigio(int sig)
{
	int saved = errno, fd;

	(void)sig;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0 && conn_fd < 0) {
		(void)!send(fd, reply, reply_len, MSG_NOSIGNAL);
		conn_fd = fd;
	} else if (fd >= 0) {
		close(fd);
	}
	errno = saved;
}

static void cleanup(void)
{
	shm_unlink(shm_name);
	unlink(sock_path);
}

static int setup(void)
{
	struct sigaction sa = { .sa_handler = on_sigio, .sa_flags = SA_RESTART };

	/* on tmpfs: a socket bound per input costs no journalled inode */
	snprintf(sock_path, sizeof(sock_path), "/dev/shm/lsa-fuzz-snapshot-%d.sock", (int)getpid());
	snprintf(shm_name, sizeof(shm_name), "/lsa-fuzz-snapshot-%d", (int)getpid());
	reply_len = (size_t)snprintf(reply, sizeof(reply), "OK 1\nshm=%s\n", shm_name);
	shm_fd = shm_open(shm_name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (shm_fd < 0 || fchmod(shm_fd, 0644) < 0 || sigaction(SIGIO, &sa, NULL) < 0)
		return -1;
	atexit(cleanup);
	return 0;
}

/* The daemon listens for the handle's `info`; SIGIO comes to this thread. */
static int daemon_listen(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct f_owner_ex own = { .type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid) };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	strcpy(a.sun_path, sock_path);
	unlink(sock_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    fcntl(fd, F_SETOWN_EX, &own) < 0 || fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	listen_fd = fd;
	return 0;
}

/* ... and no longer: whatever the handle asks from now on is refused at connect(). */
static void daemon_stop(void)
{
	close(listen_fd);
	listen_fd = -1;
	unlink(sock_path);
	if (conn_fd >= 0)
		close(conn_fd);
	conn_fd = -1;
}

/* --- the object: rewritten in place --- */

static int write_object(uint8_t flags, const uint8_t *data, size_t size)
{
	struct snap_header h;
	size_t body = size > sizeof(h) ? size - sizeof(h) : 0;
	uint64_t total = SNAP_HEADER_SIZE + body;

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
	/* the body is written whole and the header page past the header is never written: no
	 * byte of an earlier input survives a change of size */
	return ftruncate(shm_fd, (off_t)total) == 0 &&
	       pwrite(shm_fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	       (!body || pwrite(shm_fd, data + sizeof(h), body, SNAP_HEADER_SIZE) == (ssize_t)body) ?
	       0 : -1;
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

/* The query as liblocalsa makes it for the reader (localsa.c: tuple_of, snap_query_of). */
static void reader_query(const struct snap_map *m, const struct localsa_query *q,
			 struct snap_query *sq)
{
	struct pr_tuple t = { .pkey = q->pkey, .qos_class = q->qos_class, .sl = q->sl,
			      .tclass = q->tclass, .service_id = q->service_id };

	if (q->flags & LOCALSA_Q_SGID)
		t.sgid = q->sgid;
	else
		memcpy(t.sgid.raw, m->hdr->port_gid, 16);
	t.flags = (uint8_t)((q->flags & LOCALSA_Q_SERVICE_ID ? PR_TUPLE_SERVICE_ID : 0) |
			    (q->flags & LOCALSA_Q_PKEY ? PR_TUPLE_PKEY : 0) |
			    (q->flags & LOCALSA_Q_QOS_CLASS ? PR_TUPLE_QOS_CLASS : 0) |
			    (q->flags & LOCALSA_Q_SL ? PR_TUPLE_SL : 0) |
			    (q->flags & LOCALSA_Q_TCLASS ? PR_TUPLE_TCLASS : 0));
	snap_query_init(sq, &t, q->flags & LOCALSA_Q_DGID ? &q->dgid : NULL,
			q->flags & LOCALSA_Q_DLID ? &q->dlid : NULL);
}

/* The reader's own calls, as the handle makes them: map, every lookup, a batch, a copy. */
static void through_reader(const struct localsa_query *qs, size_t n)
{
	struct snap_query sq[8];
	struct ibv_path_record out[8];
	struct snap_contents sc;
	struct snap_map m;
	int res[8];

	if (snap_map_open(shm_name, geteuid(), &m))
		return;
	for (size_t i = 0; i < n; i++) {
		size_t total = 0;

		reader_query(&m, &qs[i], &sq[i]);
		if (snap_lookup(&m, &sq[i], out, 8, &total, NULL, NULL) == SNAP_HIT && total > 8)
			(void)snap_lookup(&m, &sq[i], NULL, 0, &total, NULL, NULL);
	}
	(void)snap_lookup_batch(&m, sq, n, out, res, NULL);
	if (!snap_read_all(&m, &sc)) {
		for (uint32_t i = 0; i < sc.nrecords; i++)	/* ASan sees an overrun */
			res[0] += sc.records[i].dlid != 0;
		snap_contents_free(&sc);
	}
	snap_map_close(&m);
}

/* The same through the public API, the fake daemon naming the object. */
static void through_api(const struct localsa_query *qs, size_t n)
{
	struct ibv_path_record out[8];
	int status[8];
	struct localsa *h = NULL;
	unsigned walked = 0;
	int r;

	if (daemon_listen())
		return;
	r = localsa_open(sock_path, NULL, &h);
	daemon_stop();
	if (r)
		return;
	for (size_t i = 0; i < n; i++)
		if (localsa_resolve_all(h, &qs[i], out, 8) > 8 && !(qs[i].flags & LOCALSA_Q_DLID))
			(void)localsa_resolve_all(h, &qs[i], NULL, 0);
	(void)localsa_resolve_batch(h, qs, n, out, status);
	(void)localsa_foreach(h, count_path, &walked);
	localsa_close(h);
}

/* Which inputs go through the API too: a hash of all their bytes (a mutation anywhere moves
 * an input in or out), so that the choice is the input's own and a finding replays. */
static bool api_input(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h % API_EVERY == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct localsa_query qs[8];

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

	through_reader(qs, 8);
	if (api_input(data, size))
		through_api(qs, 8);
	return 0;
}
