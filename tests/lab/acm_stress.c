/*
 * acm_stress - hostile and well-formed ACM clients against one ACM service at once.
 *
 * Every client is a child process with its own connection. Bad clients send garbage, truncated,
 * oversized, undersized, mis-versioned and pipelined messages, read slowly or byte by byte, or
 * stall half-way; each must get error replies or a closed connection (and, where the stream is
 * still framed, correct answers afterwards). Good clients resolve every destination of EXPECT
 * (by DGID, by DLID, or with address entries) and check each path against it. Messages are built
 * from <infiniband/acm.h> as libacm builds them, independently of localsa's codec. Every socket
 * has send/receive timeouts and the parent a deadline, so a hang is a failure, never a stuck test.
 *
 * Holders (-H) connect and stay idle for HOLD_S seconds; one the service closes at once was
 * turned away (its client cap): the count of both is printed, for the caller to judge.
 *
 * usage: lsa_acm_stress (-S SOCKET | -T PORT) -e EXPECT [-g GOOD] [-b BAD] [-r ROUNDS]
 *                       [-H HOLDERS] [-d DEADLINE_S] [-s SGID]
 * EXPECT: one destination per line, "DGID DLID". Exit 0 when every client passed.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/acm.h>

/* acm.h's ACM_FLAGS_QUERY_SA without its int overflow (1 << 31), which UBSan reports */
#define ACM_FLAG_QUERY_SA_U 0x80000000u

enum { MAX_DEST = 8192, MAX_CLIENTS = 2000, IO_TIMEOUT_S = 10, EP_GID = 4, EP_LID = 5,
       HOLD_S = 2, EXIT_REJECTED = 3 };

struct dest {
	union ibv_gid gid;
	uint16_t lid;
};

static const char *svc_path;
static int svc_port;
static struct dest dests[MAX_DEST];
static int n_dests;
static union ibv_gid own_sgid;
static bool have_sgid;
static const char *who = "parent";

#define FAIL(...)                                                                        \
	do {                                                                             \
		fprintf(stderr, "FAIL %s: ", who);                                       \
		fprintf(stderr, __VA_ARGS__);                                            \
		fprintf(stderr, "\n");                                                   \
		return 1;                                                                \
	} while (0)

/* --- sockets -------------------------------------------------------------- */

static int connect_svc(void)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int fd;

	if (svc_path) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", svc_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			goto fail;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)svc_port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	fprintf(stderr, "FAIL %s: connect: %s\n", who, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int send_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * Bytes read (n when complete, fewer at the end of the connection), or -1 on a timeout or other
 * error. A reset counts as an end: a service that closes a socket holding unread input (a flood)
 * makes the kernel reset the connection.
 */
static ssize_t recv_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, p + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == ECONNRESET)
			break;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* One reply: its length, 0 at a clean EOF, -1 on error, timeout or a malformed reply. */
static int read_reply(int fd, struct acm_msg *m)
{
	ssize_t k = recv_all(fd, &m->hdr, sizeof(m->hdr));
	unsigned len;

	if (k == 0)
		return 0;
	if (k != (ssize_t)sizeof(m->hdr))
		return -1;
	len = m->hdr.opcode == (ACM_OP_RESOLVE | ACM_OP_ACK) ? m->hdr.length : be16toh(m->hdr.length);
	if (len < sizeof(m->hdr) || len > sizeof(*m))
		return -1;
	if (len > sizeof(m->hdr) &&
	    recv_all(fd, (uint8_t *)m + sizeof(m->hdr), len - sizeof(m->hdr)) !=
		    (ssize_t)(len - sizeof(m->hdr)))
		return -1;
	return (int)len;
}

/* --- messages, as libacm builds them -------------------------------------- */

static size_t msg_resolve_path(struct acm_msg *m, const struct dest *d, bool by_lid,
			       uint32_t flags, uint64_t tid)
{
	struct ibv_path_record *p = &m->resolve_data[0].info.path;

	memset(m, 0, sizeof(*m));
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = ACM_OP_RESOLVE;
	m->hdr.length = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	m->hdr.tid = tid;
	m->resolve_data[0].flags = flags;
	m->resolve_data[0].type = ACM_EP_INFO_PATH;
	if (by_lid)
		p->dlid = htobe16(d->lid);
	else
		p->dgid = d->gid;
	if (have_sgid)
		p->sgid = own_sgid;
	p->reversible_numpath = IBV_PATH_RECORD_REVERSIBLE | 1;
	return m->hdr.length;
}

/* Address form: a GID (or LID) destination entry, and this port's GID as the source. */
static size_t msg_resolve_addr(struct acm_msg *m, const struct dest *d, bool by_lid, uint64_t tid)
{
	struct acm_ep_addr_data *e = m->resolve_data;
	int n = 0;

	memset(m, 0, sizeof(*m));
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = ACM_OP_RESOLVE;
	m->hdr.tid = tid;
	if (have_sgid) {
		e[n].flags = ACM_EP_FLAG_SOURCE;
		e[n].type = EP_GID;
		memcpy(e[n].info.addr, own_sgid.raw, 16);
		n++;
	}
	e[n].flags = ACM_EP_FLAG_DEST;
	if (by_lid) {
		uint16_t be = htobe16(d->lid);

		e[n].type = EP_LID;
		memcpy(e[n].info.addr, &be, 2);
	} else {
		e[n].type = EP_GID;
		memcpy(e[n].info.addr, d->gid.raw, 16);
	}
	n++;
	m->hdr.length = (uint16_t)(ACM_MSG_HDR_LENGTH + n * ACM_MSG_EP_LENGTH);
	return m->hdr.length;
}

static size_t msg_query(struct acm_msg *m, uint8_t opcode, uint8_t out_idx, uint8_t in_idx)
{
	memset(m, 0, sizeof(*m));
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = opcode;
	m->hdr.src_out = out_idx;
	m->hdr.src_index = in_idx;
	m->hdr.length = htobe16(ACM_MSG_HDR_LENGTH);
	return ACM_MSG_HDR_LENGTH;
}

/* Sends a RESOLVE for d and checks the answer: the path to d, whole, tid echoed. */
static int resolve_ok(int fd, const struct dest *d, int form, uint32_t flags, uint64_t tid)
{
	struct acm_msg m, r;
	size_t len = form < 2 ? msg_resolve_path(&m, d, form == 1, flags, tid) :
				msg_resolve_addr(&m, d, form == 3, tid);
	const struct ibv_path_record *p = &r.resolve_data[0].info.path;
	int k;

	if (send_all(fd, &m, len) < 0)
		FAIL("send: %s", strerror(errno));
	k = read_reply(fd, &r);
	if (k != ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH)
		FAIL("resolve dlid %u form %d: reply length %d", d->lid, form, k);
	if (r.hdr.opcode != (ACM_OP_RESOLVE | ACM_OP_ACK) || r.hdr.status || r.hdr.tid != tid)
		FAIL("resolve dlid %u: opcode 0x%x status %u tid %llu", d->lid, r.hdr.opcode,
		     r.hdr.status, (unsigned long long)r.hdr.tid);
	if (r.resolve_data[0].type != ACM_EP_INFO_PATH || be16toh(p->dlid) != d->lid ||
	    memcmp(&p->dgid, &d->gid, 16))
		FAIL("resolve dlid %u: got the path to dlid %u", d->lid, be16toh(p->dlid));
	if (have_sgid && memcmp(&p->sgid, &own_sgid, 16))
		FAIL("resolve dlid %u: wrong sgid", d->lid);
	return 0;
}

static int query_ok(int fd, uint8_t opcode, uint8_t a, uint8_t b)
{
	struct acm_msg m, r;
	int k;

	if (send_all(fd, &m, msg_query(&m, opcode, a, b)) < 0)
		FAIL("send: %s", strerror(errno));
	k = read_reply(fd, &r);
	if (k <= ACM_MSG_HDR_LENGTH || r.hdr.opcode != (opcode | ACM_OP_ACK) || r.hdr.status)
		FAIL("query 0x%x: length %d status %u", opcode, k, k > 0 ? r.hdr.status : 0);
	if (opcode == ACM_OP_PERF_QUERY && r.hdr.src_out != ACM_MAX_COUNTER)
		FAIL("perf query: %u counters", r.hdr.src_out);
	return 0;
}

/* Reads: an error reply (status != 0) or nothing, then the end of the connection. */
static int expect_error_then_close(int fd, const char *what)
{
	struct acm_msg r;
	int k = read_reply(fd, &r);

	if (k < 0)
		FAIL("%s: no error reply and no close within %d s", what, IO_TIMEOUT_S);
	if (k > 0 && !r.hdr.status)
		FAIL("%s: status SUCCESS", what);
	while (k > 0) {	/* more error replies may precede the close */
		k = read_reply(fd, &r);
		if (k > 0 && !r.hdr.status)
			FAIL("%s: status SUCCESS after an error", what);
	}
	if (k < 0)
		FAIL("%s: the connection stayed open", what);
	return 0;
}

/* Reads one reply and wants exactly this status. */
static int expect_status(int fd, uint8_t opcode, uint8_t status, const char *what)
{
	struct acm_msg r;
	int k = read_reply(fd, &r);

	if (k != ACM_MSG_HDR_LENGTH || r.hdr.opcode != (opcode | ACM_OP_ACK) || r.hdr.status != status)
		FAIL("%s: want opcode 0x%x status %u, got length %d opcode 0x%x status %u", what,
		     opcode | ACM_OP_ACK, status, k, k > 0 ? r.hdr.opcode : 0,
		     k > 0 ? r.hdr.status : 0);
	return 0;
}

/* --- the clients ----------------------------------------------------------- */

static int good_client(int idx, int rounds)
{
	int fd = connect_svc();
	uint64_t tid = (uint64_t)idx << 32;

	if (fd < 0)
		return 1;
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n_dests; i++)
			if (resolve_ok(fd, &dests[i], (idx + i + r) % 4, 0, ++tid))
				return 1;
	/* verification by the SA for a few, as `ib_acme -v` */
	for (int i = 0; i < n_dests && i < 4; i++)
		if (resolve_ok(fd, &dests[(i * 7 + idx) % n_dests], idx % 2,
			       ACM_FLAG_QUERY_SA_U, ++tid))
			return 1;
	if (query_ok(fd, ACM_OP_PERF_QUERY, 0, 0) || query_ok(fd, ACM_OP_EP_QUERY, 1, 0))
		return 1;
	close(fd);
	return 0;
}

static const char *const bad_names[] = {
	"garbage", "oversized", "undersized", "truncated+shutdown", "truncated+stall",
	"bad-opcode", "ragged-resolve", "bad-addresses", "byte-by-byte", "pipelined",
	"slow-reader", "hang-up", "ask-and-leave", "bad-version", "flood",
};
enum { N_BAD = sizeof(bad_names) / sizeof(bad_names[0]) };

static int bad_client(int kind)
{
	uint8_t junk[65536];
	struct acm_msg m, r;
	int fd = connect_svc();
	size_t len;
	uint16_t v;

	if (fd < 0)
		return 1;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 17);
	switch (kind) {
	case 0: /* random bytes, version 0xee */
		junk[0] = 0xee;
		send_all(fd, junk, 64);
		return expect_error_then_close(fd, "garbage");
	case 1: /* a RESOLVE claiming 4096 bytes */
		len = msg_resolve_path(&m, &dests[0], false, 0, 1);
		m.hdr.length = 4096;
		send_all(fd, &m, len);
		send_all(fd, junk, 200);
		return expect_error_then_close(fd, "oversized");
	case 2: /* a PERF_QUERY claiming 4 bytes */
		msg_query(&m, ACM_OP_PERF_QUERY, 0, 0);
		m.hdr.length = htobe16(4);
		send_all(fd, &m, 16);
		return expect_error_then_close(fd, "undersized");
	case 3: /* 40 of 88 bytes, then end of input */
		msg_resolve_path(&m, &dests[0], false, 0, 1);
		send_all(fd, &m, 40);
		shutdown(fd, SHUT_WR);
		return expect_error_then_close(fd, "truncated+shutdown");
	case 4: /* 40 of 88 bytes, then silence: the service must give up on us */
		msg_resolve_path(&m, &dests[0], false, 0, 1);
		send_all(fd, &m, 40);
		return expect_error_then_close(fd, "truncated+stall");
	case 5: /* framed but unknown opcode: an error, and the connection stays usable */
		msg_query(&m, 0x07, 0, 0);
		send_all(fd, &m, 16);
		if (expect_status(fd, 0x07, ACM_STATUS_EINVAL, "bad-opcode"))
			return 1;
		if (query_ok(fd, ACM_OP_PERF_QUERY, 0, 0) || resolve_ok(fd, &dests[0], 0, 0, 2))
			return 1;
		break;
	case 6: /* RESOLVE of 16 + 50 bytes: not whole entries */
		len = msg_resolve_path(&m, &dests[0], false, 0, 1);
		m.hdr.length = 66;
		send_all(fd, &m, 66);
		if (expect_status(fd, ACM_OP_RESOLVE, ACM_STATUS_EINVAL, "ragged-resolve"))
			return 1;
		if (resolve_ok(fd, &dests[n_dests - 1], 1, 0, 3))
			return 1;
		break;
	case 7: /* well-framed RESOLVEs that name nothing, someone else, or an IP address */
		msg_resolve_path(&m, &dests[0], false, 0, 1);
		memset(&m.resolve_data[0].info.path.dgid, 0, 16);
		send_all(fd, &m, 88);
		if (expect_status(fd, ACM_OP_RESOLVE, ACM_STATUS_EDESTADDR, "no destination"))
			return 1;
		msg_resolve_path(&m, &dests[0], false, 0, 2);
		m.resolve_data[0].info.path.sgid.raw[15] ^= 0x5a;
		m.resolve_data[0].info.path.sgid.raw[0] = 0xfe;
		send_all(fd, &m, 88);
		if (expect_status(fd, ACM_OP_RESOLVE, ACM_STATUS_ESRCADDR, "foreign source"))
			return 1;
		msg_resolve_addr(&m, &dests[0], false, 3);
		m.resolve_data[have_sgid].type = ACM_EP_INFO_ADDRESS_IP;
		send_all(fd, &m, m.hdr.length);
		if (expect_status(fd, ACM_OP_RESOLVE, ACM_STATUS_EDESTTYPE, "IP destination"))
			return 1;
		v = htobe16(0xc001);	/* a multicast LID */
		msg_resolve_addr(&m, &dests[0], true, 4);
		memcpy(m.resolve_data[have_sgid].info.addr, &v, 2);
		send_all(fd, &m, m.hdr.length);
		if (expect_status(fd, ACM_OP_RESOLVE, ACM_STATUS_EDESTADDR, "multicast LID"))
			return 1;
		if (resolve_ok(fd, &dests[1 % n_dests], 2, 0, 5))
			return 1;
		break;
	case 8: { /* a valid RESOLVE, one byte per send */
		const struct dest *d = &dests[n_dests / 2];

		len = msg_resolve_path(&m, d, false, 0, 77);
		for (size_t i = 0; i < len; i++) {
			send_all(fd, (uint8_t *)&m + i, 1);
			usleep(500);
		}
		if (read_reply(fd, &r) != 88 || r.hdr.status || r.hdr.tid != 77 ||
		    memcmp(&r.resolve_data[0].info.path.dgid, &d->gid, 16))
			FAIL("byte-by-byte: wrong answer");
		break;
	}
	case 9: { /* 8 RESOLVEs in one write; 8 replies in order */
		uint8_t all[8 * 88];

		for (int i = 0; i < 8; i++) {
			msg_resolve_path(&m, &dests[i % n_dests], i % 2, 0, 100 + (uint64_t)i);
			memcpy(all + i * 88, &m, 88);
		}
		send_all(fd, all, sizeof(all));
		for (int i = 0; i < 8; i++)
			if (read_reply(fd, &r) != 88 || r.hdr.status || r.hdr.tid != 100 + (uint64_t)i ||
			    be16toh(r.resolve_data[0].info.path.dlid) != dests[i % n_dests].lid)
				FAIL("pipelined: reply %d wrong", i);
		break;
	}
	case 10: { /* 600 queries, replies left unread for a second, then all read */
		uint8_t all[600 * 16];

		for (int i = 0; i < 600; i++) {
			msg_query(&m, ACM_OP_PERF_QUERY, 0, 0);
			m.hdr.tid = (uint64_t)i;
			memcpy(all + i * 16, &m, 16);
		}
		send_all(fd, all, sizeof(all));
		sleep(1);
		for (int i = 0; i < 600; i++)
			if (read_reply(fd, &r) != 16 + 8 * ACM_MAX_COUNTER || r.hdr.tid != (uint64_t)i)
				FAIL("slow-reader: reply %d wrong", i);
		break;
	}
	case 11: /* connect and hang up */
		break;
	case 12: /* ask (the SA, too) and leave without reading */
		len = msg_resolve_path(&m, &dests[0], false, ACM_FLAG_QUERY_SA_U, 1);
		send_all(fd, &m, len);
		break;
	case 13: /* version 2, otherwise a fine PERF_QUERY */
		msg_query(&m, ACM_OP_PERF_QUERY, 0, 0);
		m.hdr.version = 2;
		send_all(fd, &m, 16);
		return expect_error_then_close(fd, "bad-version");
	case 14: /* 64 KiB of zeros (version 0) */
		memset(junk, 0, sizeof(junk));
		send_all(fd, junk, sizeof(junk));	/* the service may close mid-way */
		return expect_error_then_close(fd, "flood");
	}
	close(fd);
	return 0;
}

/* Idle for HOLD_S seconds: 0 if still connected then, EXIT_REJECTED if the service hung up. */
static int holder(void)
{
	struct timeval tv = { .tv_sec = HOLD_S };
	int fd = connect_svc();
	uint8_t b;

	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(fd, &b, 1, 0) >= 0 || errno == ECONNRESET)
		return EXIT_REJECTED;
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
}

/* --- the parent ------------------------------------------------------------- */

static int load_expect(const char *path)
{
	FILE *f = fopen(path, "re");
	char gid[128];
	unsigned lid;

	if (!f) {
		fprintf(stderr, "acm_stress: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (n_dests < MAX_DEST && fscanf(f, "%127s %u", gid, &lid) == 2) {
		if (inet_pton(AF_INET6, gid, dests[n_dests].gid.raw) != 1 || !lid || lid > 0xbfff) {
			fprintf(stderr, "acm_stress: bad line '%s %u'\n", gid, lid);
			fclose(f);
			return -1;
		}
		dests[n_dests++].lid = (uint16_t)lid;
	}
	fclose(f);
	return n_dests ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static pid_t pids[MAX_CLIENTS];
	static int kinds[MAX_CLIENTS];	/* -1 good, -2 holder, else bad kind */
	int good = 20, bad = 100, hold = 0, rounds = 2, deadline = 40, opt, n = 0, fails = 0;
	int bad_fail[N_BAD] = { 0 }, good_fail = 0, held = 0, rejected = 0, done = 0;
	const char *expect = NULL;
	double t0, good_last = 0;

	while ((opt = getopt(argc, argv, "S:T:e:g:b:H:r:d:s:")) != -1) {
		switch (opt) {
		case 'S': svc_path = optarg; break;
		case 'T': svc_port = atoi(optarg); break;
		case 'e': expect = optarg; break;
		case 'g': good = atoi(optarg); break;
		case 'b': bad = atoi(optarg); break;
		case 'H': hold = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'd': deadline = atoi(optarg); break;
		case 's':
			if (inet_pton(AF_INET6, optarg, own_sgid.raw) != 1)
				return 2;
			have_sgid = true;
			break;
		default:
			fprintf(stderr, "usage: %s (-S SOCKET | -T PORT) -e EXPECT [-g GOOD] [-b BAD] "
				"[-r ROUNDS] [-H HOLDERS] [-d DEADLINE_S] [-s SGID]\n", argv[0]);
			return 2;
		}
	}
	if ((!svc_path && !svc_port) || !expect || load_expect(expect) < 0 ||
	    good + bad + hold > MAX_CLIENTS || good < 0 || bad < 0 || hold < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	t0 = now_s();
	/* interleave: the good ones spread evenly among the bad ones */
	for (int i = 0, b = 0; i < good + bad + hold; i++) {
		bool is_good = i < good + bad &&
			       (long)i * good / (good + bad) != (long)(i + 1) * good / (good + bad);
		pid_t pid;

		kinds[i] = i >= good + bad ? -2 : is_good ? -1 : b++ % N_BAD;
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			char name[64];

			if (kinds[i] == -2)
				snprintf(name, sizeof(name), "holder %d", i);
			else if (kinds[i] < 0)
				snprintf(name, sizeof(name), "good client %d", i);
			else
				snprintf(name, sizeof(name), "bad client %d (%s)", i, bad_names[kinds[i]]);
			who = name;
			alarm((unsigned)deadline);
			_exit(kinds[i] == -2 ? holder() : kinds[i] < 0 ? good_client(i, rounds) :
			      bad_client(kinds[i]));
		}
		pids[i] = pid;
		n++;
	}
	while (done < n) {
		int st, i;
		pid_t pid;

		if (now_s() - t0 > deadline) {
			for (i = 0; i < n; i++)
				if (pids[i] > 0) {
					fprintf(stderr, "FAIL: client %d still running at the deadline\n", i);
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
					pids[i] = 0;
					fails++;
					done++;
				}
			break;
		}
		pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0) {
			usleep(10000);
			continue;
		}
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		if (i == n)
			continue;
		pids[i] = 0;
		done++;
		if (kinds[i] == -2 && WIFEXITED(st) && WEXITSTATUS(st) == EXIT_REJECTED) {
			rejected++;
			continue;
		}
		if (kinds[i] == -2 && WIFEXITED(st) && !WEXITSTATUS(st)) {
			held++;
			continue;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fails++;
			if (kinds[i] == -1)
				good_fail++;
			else if (kinds[i] >= 0)
				bad_fail[kinds[i]]++;
		}
		if (kinds[i] == -1)
			good_last = now_s() - t0;
	}
	printf("%d good clients (%d x %d resolves each, all answered by %.2f s), %d bad clients, "
	       "%d failed, %.2f s in all\n", good, rounds, n_dests, good_last, bad, fails,
	       now_s() - t0);
	if (hold)
		printf("%d holders: %d held, %d turned away\n", hold, held, rejected);
	if (good_fail)
		printf("  good clients failed: %d\n", good_fail);
	for (int k = 0; k < N_BAD; k++)
		if (bad_fail[k])
			printf("  bad clients '%s' failed: %d\n", bad_names[k], bad_fail[k]);
	return fails ? 1 : 0;
}
