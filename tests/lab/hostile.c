/*
 * hostile - an ordinary local user attacking localsad's socket doors at once, for the
 * hostile-load test (issue 13): while these run, a well-behaved client must keep getting its
 * answers quickly and the daemon's memory must stay bounded.
 *
 * One child process per attack and socket (control: lines; ACM: ibacm frames built from
 * <infiniband/acm.h>, independently of localsa's codecs):
 *   idle       holds --idle connections open and does nothing
 *   slowloris  --slow connections, each sending an unfinished request a byte at a time
 *   noread     --noread connections, each pipelining requests (control: dump) and never reading
 *   flood      one connection asking for a new ServiceID (a new cache tuple) per request, as
 *              fast as the answers come
 * Every child stops after --seconds and prints one line: "ATTACK SOCKET: key=value ...". A
 * connection the daemon closes is reopened (counted as "reopened"), so the pressure lasts.
 *
 * usage: lsa_hostile --ctl SOCK --acm SOCK --dgid GID [--seconds S] [--idle N] [--slow N]
 *                    [--noread N]
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/acm.h>

enum { MAX_CONNS = 1000 };

static const char *ctl_path, *acm_path, *dgid_text;
static unsigned seconds = 20, n_idle = 300, n_slow = 50, n_noread = 20;
static union ibv_gid dgid;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Did the daemon close fd (EOF or error)? Peeks only: a no-read client must not read. */
static bool closed_by_peer(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A request's bytes: an ACM message or a control line. */
union req {
	struct acm_msg m;
	uint8_t b[sizeof(struct acm_msg) + 256];
};

/* An ibacm RESOLVE in path form to dgid, with service_id when non-zero (host-order header). */
static size_t acm_resolve(union req *r, uint64_t tid, uint64_t service_id)
{
	struct acm_msg *m = &r->m;
	struct ibv_path_record *p;

	memset(r, 0, sizeof(*r));
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = ACM_OP_RESOLVE;
	m->hdr.length = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	m->hdr.tid = tid;
	m->resolve_data[0].flags = ACM_EP_FLAG_DEST;
	m->resolve_data[0].type = ACM_EP_INFO_PATH;
	p = &m->resolve_data[0].info.path;
	memcpy(&p->dgid, &dgid, sizeof(dgid));
	p->service_id = htobe64(service_id);
	return ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
}

/* The request an attack sends on a socket: a control line or an ACM message. */
static size_t request(bool acm, union req *r, uint64_t n, bool flood)
{
	if (acm)
		return acm_resolve(r, n, flood ? 0x100000000ull + n : 0);
	if (flood)
		return (size_t)snprintf((char *)r->b, sizeof(r->b), "path dgid=%s service_id=%llu\n",
					dgid_text, (unsigned long long)(0x100000000ull + n));
	return (size_t)snprintf((char *)r->b, sizeof(r->b), "dump\n");
}

struct tally {
	uint64_t opened, refused, reopened, sent, answered;
};

/* Keeps n connections open; each tick, the attack's step runs on each. */
static void attack(const char *name, const char *path, bool acm, unsigned n, uint64_t until)
{
	static int fds[MAX_CONNS];
	static size_t progress[MAX_CONNS];
	union req r;
	struct tally t = { 0 };
	bool slow = !strcmp(name, "slowloris"), noread = !strcmp(name, "noread");
	bool flood = !strcmp(name, "flood");
	uint64_t k = 0;

	if (n > MAX_CONNS)
		n = MAX_CONNS;
	for (unsigned i = 0; i < n; i++) {
		fds[i] = dial(path);
		t.opened += fds[i] >= 0;
		t.refused += fds[i] < 0;
		progress[i] = 0;
	}
	while (now_ms() < until) {
		for (unsigned i = 0; i < n; i++) {
			size_t len;

			if (fds[i] < 0 || closed_by_peer(fds[i])) {
				if (fds[i] >= 0)
					close(fds[i]);
				fds[i] = dial(path);
				t.reopened += fds[i] >= 0;
				progress[i] = 0;
				if (fds[i] < 0)
					continue;
			}
			len = request(acm, &r, k, flood);
			if (slow) {	/* one more byte of a request that never ends */
				if (progress[i] < len - 1 &&
				    send(fds[i], r.b + progress[i], 1, MSG_NOSIGNAL) == 1)
					progress[i]++;
			} else if (noread || flood) {
				if (send(fds[i], r.b, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len) {
					t.sent++;
					k++;
				}
				if (flood) {	/* read the answers: this attack is about the tuples */
					char buf[8192];
					struct pollfd p = { fds[i], POLLIN, 0 };

					while (poll(&p, 1, 50) > 0 &&
					       recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
						t.answered++;
				}
			}
		}
		/* Paced like a real client of each kind: the point is the daemon's limits, not a
		 * local process burning the CPU (which no daemon can prevent). */
		usleep(slow ? 200000 : noread ? 20000 : flood ? 1000 : 100000);
	}
	printf("%s %s: connections=%u opened=%llu refused=%llu reopened=%llu sent=%llu "
	       "answered=%llu\n", name, acm ? "acm" : "control", n, (unsigned long long)t.opened,
	       (unsigned long long)t.refused, (unsigned long long)t.reopened,
	       (unsigned long long)t.sent, (unsigned long long)t.answered);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ctl", required_argument, NULL, 'c' }, { "acm", required_argument, NULL, 'a' },
		{ "dgid", required_argument, NULL, 'g' }, { "seconds", required_argument, NULL, 's' },
		{ "idle", required_argument, NULL, 'i' }, { "slow", required_argument, NULL, 'l' },
		{ "noread", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	static const char *const names[] = { "idle", "slowloris", "noread", "flood" };
	pid_t kids[8];
	int opt, nk = 0, status = 0;
	uint64_t until;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': ctl_path = optarg; break;
		case 'a': acm_path = optarg; break;
		case 'g': dgid_text = optarg; break;
		case 's': seconds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'i': n_idle = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'l': n_slow = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': n_noread = (unsigned)strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (!ctl_path || !acm_path || !dgid_text || inet_pton(AF_INET6, dgid_text, dgid.raw) != 1) {
		fprintf(stderr, "usage: lsa_hostile --ctl SOCK --acm SOCK --dgid GID [--seconds S] "
			"[--idle N] [--slow N] [--noread N]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	until = now_ms() + (uint64_t)seconds * 1000;
	for (int sock = 0; sock < 2; sock++)
		for (int a = 0; a < 4; a++) {
			unsigned n = a == 0 ? n_idle : a == 1 ? n_slow : a == 2 ? n_noread : 1;
			pid_t pid = fork();

			if (pid == 0) {
				attack(names[a], sock ? acm_path : ctl_path, sock, n, until);
				_exit(0);
			}
			if (pid > 0)
				kids[nk++] = pid;
		}
	for (int i = 0; i < nk; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			status = 1;
	}
	return status;
}
