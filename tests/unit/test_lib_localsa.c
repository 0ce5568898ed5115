/*
 * test_lib_localsa.c - liblocalsa against a snapshot published in this process and a fake
 * localsad (a thread serving the control protocol): hits make no request, misses and
 * LOCALSA_Q_SA go to the socket, exact tuples, error mapping, batch, foreach, stats, remapping
 * after the daemon restarts its snapshot, no daemon at all, threads sharing a handle, and
 * which snapshots it refuses: writable by others, another user's (also named by hand), a FIFO,
 * a corrupt one; and, with the fake daemon in a child of another uid, that the owner the
 * library wants is the socket peer's (SO_PEERCRED), not its own uid.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/pr_cache.h"
#include "cache/snap_writer.h"
#include "check.h"
#include "in_child.h"
#include "pr_fixture.h"
#include "localsa.h"
#include "wire/ctl_proto.h"

static uint32_t tag_of(const struct ibv_path_record *r)
{
	return be32toh(r->flowlabel_hoplimit);
}

/* --- a fake localsad: info, and path answered by the GUID of the DGID --- */

struct fake {
	char path[108];
	char shm[64];
	int lfd;
	pthread_t th;
	_Atomic int stop;
	_Atomic int paths, sa_paths, infos;
	_Atomic int hangup_after_reply;	/* close each connection after one reply */
	char last[512];			/* last request line (under the server thread only) */
	pthread_mutex_t lock;
};

/* Answers one request line with the codec's server side, as localsad does. */
static void fake_reply(struct fake *f, int fd, char *line)
{
	char out[8192], why[128];
	struct ctl_request req;
	struct ctl_path_args pa;
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	snprintf(f->last, sizeof(f->last), "%s", line);
	pthread_mutex_unlock(&f->lock);
	if (ctl_parse(line, &req) < 0) {
		n = (size_t)ctl_reply_err(out, sizeof(out), -EINVAL, "malformed request");
	} else if (!strcmp(req.cmd, "info")) {
		struct ctl_kv kv = { "shm", f->shm };

		f->infos++;
		n = (size_t)ctl_reply_ok(out, sizeof(out), 1);
		n += (size_t)ctl_kv_encode(out + n, sizeof(out) - n, &kv, 1);
	} else if (!strcmp(req.cmd, "path")) {
		uint64_t guid;

		f->paths++;
		if (ctl_path_decode(&req, &pa, why, sizeof(why)) < 0) {
			n = (size_t)ctl_reply_err(out, sizeof(out), -EINVAL, why);
			goto out_send;
		}
		f->sa_paths += !!(pa.has & CTL_PATH_SA);
		guid = pa.has & CTL_PATH_DGID ? be64toh(pa.dgid.global.interface_id) : 0;
		if (guid == 0xdead) {
			n = (size_t)ctl_reply_err(out, sizeof(out), -ENOENT, "no path (the SA has no record)");
		} else if (guid == 0x71) {
			n = (size_t)ctl_reply_err(out, sizeof(out), -ETIMEDOUT, "the SA did not answer");
		} else if (guid == 0x72) {
			n = (size_t)ctl_reply_err(out, sizeof(out), -EREMOTEIO, "the SA refused the request");
		} else if (guid == 0x20) {	/* more paths than an info reply's lines */
			n = (size_t)ctl_reply_ok(out, sizeof(out), 20);
			for (uint16_t i = 0; i < 20; i++) {
				struct ibv_path_record r = rec_of(guid, (uint16_t)(99 + i), 2, 0x700 + i);

				n += (size_t)ctl_reply_record(out + n, sizeof(out) - n, &r);
			}
		} else {
			struct ibv_path_record r[2] = { rec_of(guid, 99, 2, 0x777), rec_of(guid, 98, 2, 0x778) };

			n = (size_t)ctl_reply_ok(out, sizeof(out), 2);
			for (int i = 0; i < 2; i++)
				n += (size_t)ctl_reply_record(out + n, sizeof(out) - n, &r[i]);
		}
	} else {
		n = (size_t)ctl_reply_err(out, sizeof(out), -EINVAL, "unknown command");
	}
out_send:
	(void)!send(fd, out, n, MSG_NOSIGNAL);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd p[33];
	char buf[32][4096];
	size_t len[32];
	int n = 1;

	p[0] = (struct pollfd){ .fd = f->lfd, .events = POLLIN };
	while (!f->stop) {
		if (poll(p, (nfds_t)n, 50) <= 0)
			continue;
		if (p[0].revents & POLLIN && n < 33) {
			int c = accept(f->lfd, NULL, NULL);

			if (c >= 0) {
				p[n] = (struct pollfd){ .fd = c, .events = POLLIN };
				len[n - 1] = 0;
				n++;
			}
		}
		for (int i = 1; i < n; i++) {
			ssize_t r;
			char *nl;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = recv(p[i].fd, buf[i - 1] + len[i - 1], sizeof(buf[0]) - 1 - len[i - 1], 0);
			if (r > 0)
				len[i - 1] += (size_t)r;
			while (r > 0 && (nl = memchr(buf[i - 1], '\n', len[i - 1]))) {
				size_t used = (size_t)(nl - buf[i - 1]) + 1;

				*nl = '\0';
				fake_reply(f, p[i].fd, buf[i - 1]);
				memmove(buf[i - 1], buf[i - 1] + used, len[i - 1] - used);
				len[i - 1] -= used;
				if (f->hangup_after_reply)
					r = 0;
			}
			if (r <= 0) {
				close(p[i].fd);
				p[i] = p[n - 1];
				memcpy(buf[i - 1], buf[n - 2], len[n - 2]);
				len[i - 1] = len[n - 2];
				n--;
				i--;
			}
		}
	}
	for (int i = 1; i < n; i++)
		close(p[i].fd);
	return NULL;
}

static void fake_start(struct fake *f, const char *shm)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->path, sizeof(f->path), "/tmp/lsa-test-lib-%d.sock", (int)getpid());
	snprintf(f->shm, sizeof(f->shm), "%s", shm);
	strcpy(a.sun_path, f->path);
	unlink(f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(f->lfd >= 0);
	CHECK_INT(0, bind(f->lfd, (struct sockaddr *)&a, sizeof(a)));
	CHECK_INT(0, listen(f->lfd, 16));
	CHECK_INT(0, pthread_create(&f->th, NULL, fake_main, f));
}

static void fake_stop(struct fake *f)
{
	f->stop = 1;
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
	pthread_mutex_destroy(&f->lock);
}

/* --- the published side --- */

struct pub {
	char name[64];
	struct pr_cache *c;
	struct snap_writer *w;
	uint16_t tdef, tpkey;
};

static void pub_open(struct pub *p, const char *sock)
{
	struct snap_writer_opts o = { .name = p->name, .socket_mode = 0660, .port_gid = gid_of(1),
				      .control_socket = sock };

	CHECK_INT(0, snap_writer_open(&o, &p->w));
}

static void pub_start(struct pub *p, const char *sock)
{
	struct pr_cache_limits lim = { 100000, 100 };
	struct pr_tuple td = { .sgid = gid_of(1) };
	struct pr_tuple tp = { .sgid = gid_of(1), .pkey = 0x8001, .flags = PR_TUPLE_PKEY };

	snprintf(p->name, sizeof(p->name), "/lsa-test-lib-%d", (int)getpid());
	CHECK_INT(0, pr_cache_new(&lim, &p->c));
	CHECK_INT(0, pr_cache_tuple(p->c, &td, true, &p->tdef));
	CHECK_INT(0, pr_cache_tuple(p->c, &tp, true, &p->tpkey));
	/* destinations 0x100..0x13f under the default tuple, 2 paths each; 0x100 also PKey 0x8001 */
	for (uint64_t d = 0x100; d < 0x140; d++) {
		struct ibv_path_record r[2] = { rec_of(d, (uint16_t)(2 * d), 0, (uint32_t)d),
						rec_of(d, (uint16_t)(2 * d + 1), 0, (uint32_t)d + 0x10000) };
		union ibv_gid g = gid_of(d);

		CHECK_INT(0, pr_cache_replace(p->c, p->tdef, &g, r, 2, NULL, 0));
	}
	{
		struct ibv_path_record r = rec_of(0x100, 0x200, 5, 0x8001);
		union ibv_gid g = gid_of(0x100);

		CHECK_INT(0, pr_cache_replace(p->c, p->tpkey, &g, &r, 1, NULL, 0));
	}
	pub_open(p, sock);
	CHECK_INT(0, snap_writer_publish(p->w, p->c, 1));
}

static struct localsa_query q_dgid(uint64_t guid)
{
	return (struct localsa_query){ .flags = LOCALSA_Q_DGID, .dgid = gid_of(guid) };
}

static int never(const struct ibv_path_record *path, const struct localsa_query *key, void *arg)
{
	(void)path;
	(void)key;
	(void)arg;
	return -1;
}

static void test_api(void)
{
	struct fake f;
	struct pub p;
	struct localsa *h = NULL;
	struct localsa_stats st;
	struct localsa_query q;
	struct ibv_path_record r[4];

	pub_start(&p, NULL);
	fake_start(&f, p.name);

	CHECK_INT(0, localsa_open(f.path, NULL, &h));
	CHECK_INT(1, f.infos);	/* asked where the snapshot is */
	CHECK_INT(0, localsa_get_stats(h, &st, sizeof(st)));
	CHECK_INT(1, st.attached);
	CHECK_INT(1, st.publication);

	/* a hit: no request */
	q = q_dgid(0x105);
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x105, tag_of(&r[0]));
	CHECK_INT(2, localsa_resolve_all(h, &q, r, 4));
	CHECK_INT(0x10105, tag_of(&r[1]));
	CHECK_INT(2, localsa_resolve_all(h, &q, r, 1));	/* the count, the first path */
	CHECK_INT(2, localsa_resolve_all(h, &q, NULL, 0));
	q.flags |= LOCALSA_Q_DLID;
	q.dlid = 2 * 0x105 + 1;
	CHECK_INT(1, localsa_resolve_all(h, &q, r, 4));
	CHECK_INT(0x10105, tag_of(&r[0]));
	q = (struct localsa_query){ .flags = LOCALSA_Q_DLID, .dlid = 2 * 0x106 };
	CHECK_INT(1, localsa_resolve_all(h, &q, r, 4));
	CHECK_INT(0x106, tag_of(&r[0]));
	/* an explicit SGID equal to the port's is the same request */
	q = q_dgid(0x107);
	q.flags |= LOCALSA_Q_SGID;
	q.sgid = gid_of(1);
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x107, tag_of(&r[0]));
	CHECK_INT(0, f.paths);

	/* exact tuples: PKey 0x8001 is its own request */
	q = q_dgid(0x100);
	q.flags |= LOCALSA_Q_PKEY;
	q.pkey = 0x8001;
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x8001, tag_of(&r[0]));
	CHECK_INT(0, f.paths);
	q = q_dgid(0x101);	/* not filed under PKey 0x8001: the daemon decides */
	q.flags |= LOCALSA_Q_PKEY;
	q.pkey = 0x8001;
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x777, tag_of(&r[0]));
	CHECK_INT(1, f.paths);
	CHECK(strstr(f.last, "pkey=0x8001") != NULL);
	CHECK(strstr(f.last, "dgid=fe80::101") != NULL);

	/* misses, and how the daemon's errors come back */
	q = q_dgid(0x999);
	q.flags |= LOCALSA_Q_SL | LOCALSA_Q_SERVICE_ID | LOCALSA_Q_QOS_CLASS | LOCALSA_Q_TCLASS;
	q.sl = 3;
	q.service_id = 0x1000;
	q.qos_class = 7;
	q.tclass = 9;
	CHECK_INT(2, localsa_resolve_all(h, &q, r, 4));
	CHECK_INT(0x778, tag_of(&r[1]));
	CHECK(strstr(f.last, "sl=3") && strstr(f.last, "service_id=0x1000") &&
	      strstr(f.last, "qos_class=7") && strstr(f.last, "tclass=9"));
	/* a count-only query answered by the daemon: every line is read as a record, however
	 * many (once read as an info reply, capped at 16 lines: -EPROTO) */
	q = q_dgid(0x20);
	CHECK_INT(20, localsa_resolve_all(h, &q, NULL, 0));
	CHECK_INT(20, localsa_resolve_all(h, &q, r, 4));
	CHECK_INT(0x703, tag_of(&r[3]));
	CHECK_INT(0, localsa_get_stats(h, &st, sizeof(st)));
	CHECK_INT(0, (int)st.fallback_errors);
	q = q_dgid(0xdead);
	CHECK_INT(-ENOENT, localsa_resolve(h, &q, &r[0]));
	q = q_dgid(0x71);
	CHECK_INT(-ETIMEDOUT, localsa_resolve(h, &q, &r[0]));
	q = q_dgid(0x72);
	CHECK_INT(-EREMOTEIO, localsa_resolve(h, &q, &r[0]));
	q = q_dgid(0x105);
	q.flags |= LOCALSA_Q_SA;
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x777, tag_of(&r[0]));
	CHECK_INT(1, f.sa_paths);

	/* malformed queries never leave the process */
	{
		int before = f.paths;
		struct localsa_query bad = { .flags = LOCALSA_Q_PKEY };

		CHECK_INT(-EINVAL, localsa_resolve(h, &bad, &r[0]));
		bad = (struct localsa_query){ .flags = LOCALSA_Q_DLID, .dlid = 0 };
		CHECK_INT(-EINVAL, localsa_resolve(h, &bad, &r[0]));
		bad = (struct localsa_query){ .flags = LOCALSA_Q_DLID, .dlid = 0xc000 };
		CHECK_INT(-EINVAL, localsa_resolve(h, &bad, &r[0]));
		bad = q_dgid(1);
		bad.flags |= LOCALSA_Q_SL;
		bad.sl = 16;
		CHECK_INT(-EINVAL, localsa_resolve(h, &bad, &r[0]));
		bad.flags = LOCALSA_Q_DGID | 1u << 20;
		CHECK_INT(-EINVAL, localsa_resolve(h, &bad, &r[0]));
		CHECK_INT(-EINVAL, localsa_resolve(h, NULL, &r[0]));
		CHECK_INT(-EINVAL, localsa_resolve(NULL, &q, &r[0]));
		CHECK_INT(before, f.paths);
	}

	/* a batch: hits, misses pipelined on one connection, errors */
	{
		struct localsa_query qs[6] = { q_dgid(0x110), q_dgid(0x888), q_dgid(0xdead),
					       q_dgid(0x111), q_dgid(0x889), { .flags = 0 } };
		struct ibv_path_record out[6];
		int status[6];
		int before = f.paths;

		CHECK_INT(4, localsa_resolve_batch(h, qs, 6, out, status));
		CHECK_INT(0, status[0]);
		CHECK_INT(0x110, tag_of(&out[0]));
		CHECK_INT(0, status[1]);
		CHECK_INT(0x777, tag_of(&out[1]));
		CHECK_INT(-ENOENT, status[2]);
		CHECK_INT(0, status[3]);
		CHECK_INT(0x111, tag_of(&out[3]));
		CHECK_INT(0, status[4]);
		CHECK_INT(-EINVAL, status[5]);
		CHECK_INT(before + 3, f.paths);
		CHECK_INT(0, localsa_resolve_batch(h, NULL, 0, NULL, NULL));
		CHECK_INT(-EINVAL, localsa_resolve_batch(h, qs, 1, NULL, status));
	}

	CHECK_INT(0, localsa_get_stats(h, &st, sizeof(st)));
	CHECK(st.shm_hits >= 10);
	CHECK_INT(f.paths, st.fallbacks);
	CHECK_INT(2, st.fallback_errors);	/* TIMEOUT, SA_ERROR; NO_PATH is an answer */
	CHECK_INT(0, st.remaps);
	{
		struct localsa_stats small = { 0 };

		CHECK_INT(0, localsa_get_stats(h, &small, 8));
		CHECK_INT(st.lookups, small.lookups);
		CHECK_INT(0, small.shm_hits);
	}

	/* the daemon restarts: the old snapshot says STOPPED, a new one takes the name */
	snap_writer_close(p.w);
	pub_open(&p, NULL);
	CHECK_INT(0, snap_writer_publish(p.w, p.c, 2));
	q = q_dgid(0x120);
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x120, tag_of(&r[0]));
	CHECK_INT(0, localsa_get_stats(h, &st, sizeof(st)));
	CHECK_INT(1, st.remaps);

	/* the connection localsad closed is reopened */
	f.hangup_after_reply = 1;
	q = q_dgid(0x555);
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	f.hangup_after_reply = 0;

	localsa_close(h);
	localsa_close(NULL);

	/* a name given by hand for another daemon's snapshot is not used */
	CHECK_INT(0, localsa_open(f.path, p.name, &h));
	snap_writer_close(p.w);
	pub_open(&p, "/tmp/another-daemon.sock");
	CHECK_INT(0, snap_writer_publish(p.w, p.c, 3));
	localsa_close(h);
	CHECK_INT(0, localsa_open(f.path, p.name, &h));
	CHECK_INT(0, localsa_get_stats(h, &st, sizeof(st)));
	CHECK_INT(0, st.attached);
	q = q_dgid(0x120);
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x777, tag_of(&r[0]));	/* from the socket */
	localsa_close(h);

	/* no snapshot at all ("none") */
	CHECK_INT(0, localsa_open(f.path, "none", &h));
	q = q_dgid(0x120);
	CHECK_INT(0, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(0x777, tag_of(&r[0]));
	CHECK_INT(-ENODATA, localsa_foreach(h, never, NULL));
	localsa_close(h);
	CHECK_INT(-EINVAL, localsa_open(f.path, "no-slash", &h));
	CHECK_INT(-EINVAL, localsa_open(f.path, NULL, NULL));

	fake_stop(&f);
	/* no daemon: lookups fail cleanly, the handle still opens */
	CHECK_INT(0, localsa_open("/tmp/lsa-no-such-daemon.sock", NULL, &h));
	CHECK_INT(-ECONNREFUSED, localsa_resolve(h, &q, &r[0]));
	CHECK_INT(-ENODATA, localsa_foreach(h, never, NULL));
	localsa_close(h);

	snap_writer_close(p.w);
	pr_cache_free(p.c);
}

/* --- whose snapshot the library maps (issue 13, items 4 and 5) --- */

#define OTHER_UID 54321	/* neither us nor root */
#define NOBODY_UID 65534	/* the daemon's user when it is not us */

struct probe {
	const char *sock, *shm;
	bool walk;		/* localsa_foreach() must say -EIO */
	uid_t as;		/* the client's user (0: as we are) */
};

enum { PROBE_REFUSED = 0, PROBE_MAPPED = 10, PROBE_WRONG = 11 };

/*
 * In a child (the name may hold a FIFO): PROBE_REFUSED when the handle did not map the
 * snapshot and a destination it holds was answered by the daemon, PROBE_MAPPED when the
 * snapshot answered it, PROBE_WRONG otherwise.
 */
static int probe_child(const void *arg)
{
	const struct probe *p = arg;
	struct localsa *h = NULL;
	struct localsa_stats st = { 0 };
	struct localsa_query q = q_dgid(0x105);
	struct ibv_path_record r;
	int ret = PROBE_WRONG;

	if (p->as && (setgid(p->as) < 0 || setuid(p->as) < 0))
		return PROBE_WRONG;
	if (localsa_open(p->sock, p->shm, &h))
		return PROBE_WRONG;
	if (p->walk) {
		ret = localsa_foreach(h, never, NULL) == -EIO ? PROBE_REFUSED : PROBE_WRONG;
	} else if (localsa_resolve(h, &q, &r) == 0 && !localsa_get_stats(h, &st, sizeof(st))) {
		if (!st.attached && tag_of(&r) == 0x777 && st.fallbacks == 1)
			ret = PROBE_REFUSED;
		else if (st.attached && tag_of(&r) == 0x105 && st.shm_hits == 1)
			ret = PROBE_MAPPED;
	}
	localsa_close(h);
	return ret;
}

static void check_probe_as(const char *what, int want, const char *sock, const char *shm,
			   bool walk, uid_t as)
{
	struct probe p = { sock, shm, walk, as };
	int got = in_child(probe_child, &p, 5);

	if (got != want)
		fprintf(stderr, "%s: probe %d, want %d\n", what, got, want);
	CHECK_INT(want, got);
}

static void check_probe(const char *what, int want, const char *sock, const char *shm, bool walk)
{
	check_probe_as(what, want, sock, shm, walk, 0);
}

/*
 * A fake localsad that runs as another user: a child that becomes uid, serves shm as the
 * thread version does, and says its socket's path in f->path. fake_stop_as() ends it.
 */
static pid_t fake_start_as(struct fake *f, const char *shm, uid_t uid)
{
	int ready[2], stop[2];
	pid_t pid;
	char c;

	CHECK_INT(0, pipe(ready));
	CHECK_INT(0, pipe(stop));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(stop[1]);
		umask(0);	/* a socket every user may connect to, as localsad's default */
		if (setgid(uid) < 0 || setuid(uid) < 0)
			_exit(1);
		fake_start(f, shm);
		(void)!write(ready[1], f->path, sizeof(f->path));
		(void)!read(stop[0], &c, 1);
		fake_stop(f);
		_exit(0);
	}
	close(ready[1]);
	close(stop[0]);
	memset(f, 0, sizeof(*f));
	CHECK_INT(sizeof(f->path), read(ready[0], f->path, sizeof(f->path)));
	close(ready[0]);
	f->lfd = stop[1];	/* the parent's end: closing it stops the child */
	return pid;
}

static void fake_stop_as(struct fake *f, pid_t pid)
{
	int status = -1;

	close(f->lfd);
	waitpid(pid, &status, 0);
	CHECK_INT(0, status);
}

static void test_trust(void)
{
	struct fake f;
	struct pub p;
	char path[128], fifo[64];

	pub_start(&p, NULL);
	snprintf(path, sizeof(path), "/dev/shm%s", p.name);
	fake_start(&f, p.name);
	check_probe("the daemon's snapshot", PROBE_MAPPED, f.path, NULL, false);
	/* writable by others: anyone could have written the paths */
	CHECK_INT(0, chmod(path, 0666));
	check_probe("a world-writable snapshot", PROBE_REFUSED, f.path, NULL, false);
	CHECK_INT(0, chmod(path, 0660));
	check_probe("a group-writable snapshot", PROBE_REFUSED, f.path, NULL, false);
	CHECK_INT(0, chmod(path, 0640));
	check_probe("the daemon's snapshot again", PROBE_MAPPED, f.path, NULL, false);
	if (geteuid() == 0) {
		/* another user's object under the daemon's name */
		CHECK_INT(0, chown(path, OTHER_UID, OTHER_UID));
		check_probe("another user's object", PROBE_REFUSED, f.path, NULL, false);
		/* named by hand, claiming our socket: the string proves nothing */
		snap_writer_close(p.w);
		pub_open(&p, f.path);
		CHECK_INT(0, snap_writer_publish(p.w, p.c, 2));
		check_probe("a hand-named snapshot of ours", PROBE_MAPPED, f.path, p.name, false);
		CHECK_INT(0, chown(path, OTHER_UID, OTHER_UID));
		check_probe("a hand-named object of another user that names our socket",
			    PROBE_REFUSED, f.path, p.name, false);
		CHECK_INT(0, chown(path, 0, 0));
	} else {
		fprintf(stderr, "not root: another owner is checked in test_cache_snapshot only\n");
	}
	fake_stop(&f);

	/*
	 * The daemon as another user than its client: whose the snapshot must be comes from the
	 * socket's peer (SO_PEERCRED), never from the client's own uid. A daemon of nobody's
	 * object is mapped by root; a third user's object under its name is refused, whether
	 * the client is root or that third user itself.
	 */
	if (geteuid() == 0) {
		pid_t daemon;

		snap_writer_close(p.w);
		pub_open(&p, NULL);
		CHECK_INT(0, snap_writer_publish(p.w, p.c, 3));
		CHECK_INT(0, chmod(path, 0644));
		CHECK_INT(0, chown(path, NOBODY_UID, NOBODY_UID));
		daemon = fake_start_as(&f, p.name, NOBODY_UID);
		check_probe("root, nobody's daemon and its object", PROBE_MAPPED, f.path, NULL, false);
		check_probe_as("another user, nobody's daemon and its object", PROBE_MAPPED, f.path,
			       NULL, false, OTHER_UID);
		CHECK_INT(0, chown(path, OTHER_UID, OTHER_UID));
		check_probe("root, nobody's daemon, a third user's object", PROBE_REFUSED, f.path,
			    NULL, false);
		check_probe_as("a user, nobody's daemon, that user's own object", PROBE_REFUSED,
			       f.path, NULL, false, OTHER_UID);
		fake_stop_as(&f, daemon);
		CHECK_INT(0, chown(path, 0, 0));
	} else {
		printf("daemon of another user: skipped (needs root)\n");
	}

	/* a FIFO under the name the daemon gives: no hang, no snapshot */
	snprintf(fifo, sizeof(fifo), "/lsa-test-lib-fifo-%d", (int)getpid());
	snprintf(path, sizeof(path), "/dev/shm%s", fifo);
	CHECK_INT(0, mkfifo(path, 0644));
	fake_start(&f, fifo);
	check_probe("a FIFO", PROBE_REFUSED, f.path, NULL, false);
	fake_stop(&f);
	unlink(path);

	/* a corrupt snapshot of the daemon's own: an empty half claiming 2^32 - 1 groups */
	{
		struct snap_map wm;
		struct snap_writer_stats ws;
		uint32_t a;

		snap_writer_close(p.w);
		pub_open(&p, NULL);	/* never published: both halves empty */
		snap_writer_map(p.w, &wm);
		a = atomic_load(&wm.hdr->active);
		atomic_store((_Atomic uint64_t *)&wm.half[a][SH_NGROUPS], 0xffffffffULL);
		snap_writer_stats(p.w, &ws);
		CHECK_INT(0, ws.publications);
		fake_start(&f, p.name);
		check_probe("foreach over a corrupt snapshot", PROBE_REFUSED, f.path, NULL, true);
		fake_stop(&f);
	}
	snap_writer_close(p.w);
	pr_cache_free(p.c);
}

/* --- foreach --- */

struct walk {
	unsigned n, pkey_paths, stop_at;
	uint64_t last_guid;
	unsigned changes;
};

static int walk_one(const struct ibv_path_record *path, const struct localsa_query *key,
		    void *arg)
{
	struct walk *w = arg;
	uint64_t guid = be64toh(key->dgid.global.interface_id);

	w->n++;
	if (!(key->flags & LOCALSA_Q_SGID) || !(key->flags & LOCALSA_Q_DGID) ||
	    memcmp(&path->dgid, &key->dgid, 16))
		return -100;
	if (key->flags & LOCALSA_Q_PKEY) {
		if (key->pkey != 0x8001 || tag_of(path) != 0x8001)
			return -101;
		w->pkey_paths++;
	}
	w->changes += guid != w->last_guid;
	w->last_guid = guid;
	return w->stop_at && w->n == w->stop_at ? 42 : 0;
}

static void test_foreach(void)
{
	struct fake f;
	struct pub p;
	struct localsa *h;
	struct walk w = { 0 };

	pub_start(&p, NULL);
	fake_start(&f, p.name);
	CHECK_INT(0, localsa_open(f.path, p.name, &h));
	CHECK_INT(0, localsa_foreach(h, walk_one, &w));
	CHECK_INT(2 * 64 + 1, w.n);
	CHECK_INT(1, w.pkey_paths);
	CHECK_INT(65, w.changes);	/* each destination's paths come together */
	w = (struct walk){ .stop_at = 7 };
	CHECK_INT(42, localsa_foreach(h, walk_one, &w));
	CHECK_INT(7, w.n);
	CHECK_INT(-EINVAL, localsa_foreach(h, NULL, NULL));
	localsa_close(h);
	fake_stop(&f);
	snap_writer_close(p.w);
	pr_cache_free(p.c);
}

/* --- threads sharing one handle --- */

struct worker {
	struct localsa *h;
	unsigned hits_ok, miss_ok, bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < 20000; i++) {
		struct localsa_query q = q_dgid(0x100 + i % 64);
		struct ibv_path_record r;

		if (localsa_resolve(w->h, &q, &r) == 0 && tag_of(&r) == 0x100 + i % 64)
			w->hits_ok++;
		else
			w->bad++;
		if (i % 1000 == 0) {
			q = q_dgid(0x4000 + i);
			if (localsa_resolve(w->h, &q, &r) == 0 && tag_of(&r) == 0x777)
				w->miss_ok++;
			else
				w->bad++;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	struct fake f;
	struct pub p;
	struct worker w[4];
	pthread_t th[4];
	struct localsa *h;
	struct localsa_stats st;

	pub_start(&p, NULL);
	fake_start(&f, p.name);
	CHECK_INT(0, localsa_open(f.path, NULL, &h));
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .h = h };
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(20000, w[i].hits_ok);
		CHECK_INT(20, w[i].miss_ok);
		CHECK_INT(0, w[i].bad);
	}
	CHECK_INT(0, localsa_get_stats(h, &st, sizeof(st)));
	CHECK_INT(4 * 20020, st.lookups);
	CHECK_INT(4 * 20000, st.shm_hits);
	CHECK_INT(80, st.fallbacks);
	CHECK_INT(80, f.paths);
	localsa_close(h);
	fake_stop(&f);
	snap_writer_close(p.w);
	pr_cache_free(p.c);
}

int main(void)
{
	test_api();
	test_foreach();
	test_threads();
	test_trust();
	return CHECK_DONE();
}
