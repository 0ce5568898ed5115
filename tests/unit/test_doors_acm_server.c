/*
 * test_doors_acm_server.c - the ACM door on the lookup-service seam, with a scripted backend
 * (svc_fixture.h), a real loop and real sockets: answers from the cache inside the dispatch
 * and later ones come back in request order; NODELAY misses answer ENODATA and fetch in the
 * background; QUERY_SA reaches the backend as such; sources are checked against the ports
 * served (GID, LID within the LMC range); EP_QUERY describes the port.
 *
 * Issue 13, item 6: a user creating new tuples (ServiceIDs) without end gets ENOMEM once its
 * quota is spent, while another user still gets new ones answered. Item 8: a door full of one
 * user's idle connections still lets another user in, and idle connections are closed.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "check.h"
#include "doors/acm_server.h"
#include "sock_fixture.h"
#include "svc_fixture.h"
#include "wire/acm_msg.h"

static char sock_path[108];
static uint16_t tcp_port;

static int dial_acm(bool tcp)
{
	return tcp ? dial(NULL, tcp_port) : dial(sock_path, 0);
}

/* The first entry of a message (acm.h declares the entries as a zero-length array). */
static struct acm_ep_addr_data *ep0(struct acm_msg *m)
{
	return (struct acm_ep_addr_data *)((uint8_t *)m + ACM_MSG_HDR_LENGTH);
}

/* A path-form RESOLVE for dgid (and sgid, service_id when non-zero). */
static size_t resolve_msg(struct acm_msg *m, uint64_t dguid, uint64_t sguid, uint64_t sid,
			  uint32_t flags, uint64_t tid)
{
	struct ibv_path_record *p = &ep0(m)->info.path;

	memset(m, 0, sizeof(*m));
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = ACM_OP_RESOLVE;
	m->hdr.length = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	m->hdr.tid = tid;
	ep0(m)->flags = flags;
	ep0(m)->type = ACM_EP_INFO_PATH;
	p->dgid = gid_of(dguid);
	if (sguid)
		p->sgid = gid_of(sguid);
	if (sid)
		p->service_id = htobe64(sid);
	return m->hdr.length;
}

static void send_msg(int fd, const void *m, size_t len)
{
	CHECK_INT((ssize_t)len, send(fd, m, len, MSG_NOSIGNAL));
}

/* The replies that arrived on fd: statuses and tids in order; returns how many, -1 at EOF
 * with none. */
struct reply {
	uint8_t opcode, status;
	uint64_t tid;
	struct acm_msg m;
};

static int replies(int fd, struct reply *out, int max)
{
	static uint8_t buf[65536];
	size_t len = 0, off = 0;
	ssize_t n;
	int k = 0;

	while ((n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	if (!len && n == 0)
		return -1;
	while (off + ACM_MSG_HDR_LENGTH <= len && k < max) {
		const struct acm_hdr *h = (const void *)(buf + off);
		size_t ml = (h->opcode & 0x7f) == ACM_OP_RESOLVE ? h->length : be16toh(h->length);

		if (ml < ACM_MSG_HDR_LENGTH || off + ml > len)
			break;
		out[k].opcode = h->opcode;
		out[k].status = h->status;
		out[k].tid = h->tid;
		memcpy(&out[k].m, h, ml);
		k++;
		off += ml;
	}
	return k;
}

static struct acm_server *make(struct loop *loop, struct fake_backend *f, unsigned max_clients,
			       unsigned idle_ms, uint32_t new_tuples)
{
	struct acm_server_opts o = { .path = sock_path, .max_clients = max_clients,
				     .idle_ms = idle_ms, .new_tuples = new_tuples,
				     .new_tuples_per_s = 1 };
	struct acm_server *s = NULL;

	for (int tries = 0; tries < 20 && !s; tries++) {
		o.tcp_port = tcp_port = (uint16_t)(20000 + (getpid() * 7 + tries * 131) % 40000);
		if (acm_server_new(loop, f->svc, &o, &s) < 0)
			s = NULL;
	}
	CHECK(s != NULL);
	return s;
}

static void test_resolve(struct loop *loop)
{
	struct ibv_path_record recs[2] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2) };
	struct ibv_path_record later = rec_of(9, 9, 0, 3);
	struct fake_backend f;
	struct acm_server *s;
	struct reply r[8];
	struct acm_msg m[3];
	uint8_t all[3 * sizeof(struct acm_msg)];
	size_t len = 0;
	int fd;

	recs[0].slid = htobe16(4);	/* LMC 2: the port's LIDs are 1..4 */
	fake_init(&f, 2, recs, 2);
	s = make(loop, &f, 8, 0, 0);
	fd = dial_acm(false);
	/* a hit, a miss answered later, a hit: in one write, answered in order */
	len += resolve_msg(&m[0], 2, 0, 0, 0, 1);
	memcpy(all, &m[0], len);
	memcpy(all + len, &m[1], resolve_msg(&m[1], 9, 1, 0, 0, 2));
	len += ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	memcpy(all + len, &m[2], resolve_msg(&m[2], 3, 0, 0, 0, 3));
	len += ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	send_msg(fd, all, len);
	run_for(loop, 30);
	CHECK_INT(1, replies(fd, r, 8));
	CHECK_INT(1, r[0].tid);
	CHECK_INT(ACM_STATUS_SUCCESS, r[0].status);
	CHECK_INT(2, be16toh(ep0(&r[0].m)->info.path.dlid));
	CHECK(fake_answer(&f, 0, 0, &later, 1));
	run_for(loop, 30);
	CHECK_INT(2, replies(fd, r, 8));
	CHECK_INT(2, r[0].tid);
	CHECK_INT(9, be16toh(ep0(&r[0].m)->info.path.dlid));
	CHECK_INT(3, r[1].tid);
	/* NODELAY: ENODATA now, and a fetch in the background (a lookup without flags) */
	send_msg(fd, &m[0], resolve_msg(&m[0], 7, 0, 0, ACM_MSG_FLAG_NODELAY, 4));
	run_for(loop, 30);
	CHECK_INT(1, replies(fd, r, 8));
	CHECK_INT(ACM_STATUS_ENODATA, r[0].status);
	CHECK_INT(1, (int)f.n_pending);
	CHECK_INT(0, f.last_flags);
	/* QUERY_SA reaches the backend as such */
	send_msg(fd, &m[0], resolve_msg(&m[0], 2, 0, 0, ACM_MSG_FLAG_QUERY_SA, 5));
	run_for(loop, 30);
	CHECK_INT(PATH_Q_SA, f.last_flags);
	CHECK(fake_answer(&f, 0, 0, NULL, 0));	/* the background fetch */
	CHECK(fake_answer(&f, 0, 0, recs, 1));
	run_for(loop, 30);
	CHECK_INT(1, replies(fd, r, 8));
	CHECK_INT(5, r[0].tid);
	CHECK_INT(ACM_STATUS_SUCCESS, r[0].status);
	/* a foreign source GID; a source LID inside the port's LMC range (LID 1, LMC 2) */
	send_msg(fd, &m[0], resolve_msg(&m[0], 2, 77, 0, 0, 6));
	m[1] = m[0];
	resolve_msg(&m[1], 2, 0, 0, 0, 7);
	ep0(&m[1])->info.path.slid = htobe16(4);
	send_msg(fd, &m[1], ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH);
	m[2] = m[1];
	m[2].hdr.tid = 8;
	ep0(&m[2])->info.path.slid = htobe16(5);
	send_msg(fd, &m[2], ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH);
	run_for(loop, 30);
	CHECK_INT(3, replies(fd, r, 8));
	CHECK_INT(ACM_STATUS_ESRCADDR, r[0].status);
	CHECK_INT(ACM_STATUS_SUCCESS, r[1].status);
	CHECK_INT(ACM_STATUS_ESRCADDR, r[2].status);
	/* EP_QUERY: the port as the service tells it; a second endpoint there is not */
	memset(&m[0], 0, sizeof(m[0]));
	m[0].hdr.version = ACM_VERSION;
	m[0].hdr.opcode = ACM_OP_EP_QUERY;
	m[0].hdr.src_out = 1;
	m[0].hdr.length = htobe16(ACM_MSG_HDR_LENGTH);
	send_msg(fd, &m[0], ACM_MSG_HDR_LENGTH);
	m[0].hdr.src_out = 2;
	send_msg(fd, &m[0], ACM_MSG_HDR_LENGTH);
	run_for(loop, 30);
	CHECK_INT(2, replies(fd, r, 8));
	CHECK_INT(ACM_STATUS_SUCCESS, r[0].status);
	CHECK_INT(0x1234, be64toh(((struct acm_ep_config_data *)r[0].m.data)->dev_guid));
	CHECK_INT(1, ((struct acm_ep_config_data *)r[0].m.data)->port_num);
	CHECK_INT(ACM_STATUS_EINVAL, r[1].status);
	close(fd);
	acm_server_free(s);
	fake_fini(&f);
}

/* Issue 13, item 6, at the ACM door. */
static void test_tuple_quota(struct loop *loop)
{
	struct fake_backend f;
	struct acm_server *s;
	struct reply r[16];
	struct acm_msg m;
	int flood, other, got, enomem = 0;

	fake_init(&f, 0, NULL, 0);
	s = make(loop, &f, 8, 0, 4);
	flood = dial_acm(false);
	other = dial_acm(true);
	/* eight new ServiceIDs in a row: four go to the backend, then ENOMEM at once */
	for (uint64_t sid = 1; sid <= 8; sid++) {
		send_msg(flood, &m, resolve_msg(&m, 2, 0, sid, 0, sid));
		run_for(loop, 5);
		fake_answer(&f, -ENOENT, 0, NULL, 0);
	}
	run_for(loop, 20);
	got = replies(flood, r, 16);
	CHECK_INT(8, got);
	for (int i = 0; i < got; i++)
		enomem += r[i].status == ACM_STATUS_ENOMEM;
	CHECK_INT(4, enomem);
	CHECK_INT(ACM_STATUS_ENOMEM, r[7].status);
	/* another user still creates new ones, and the flooder's known ones still work */
	send_msg(other, &m, resolve_msg(&m, 2, 0, 100, 0, 100));
	run_for(loop, 20);
	CHECK(fake_answer(&f, -ENOENT, 0, NULL, 0));
	send_msg(flood, &m, resolve_msg(&m, 2, 0, 1, 0, 101));
	run_for(loop, 20);
	CHECK(fake_answer(&f, -ENOENT, 0, NULL, 0));
	run_for(loop, 20);
	CHECK_INT(1, replies(other, r, 16));
	CHECK_INT(ACM_STATUS_ENODATA, r[0].status);
	CHECK_INT(1, replies(flood, r, 16));
	CHECK_INT(ACM_STATUS_ENODATA, r[0].status);
	close(flood);
	close(other);
	acm_server_free(s);
	fake_fini(&f);
}

/* Issue 13, item 8, at the ACM door: every slot held idle by one user. */
static void test_idle_slots(struct loop *loop)
{
	struct ibv_path_record recs[1] = { rec_of(2, 2, 0, 1) };
	struct fake_backend f;
	struct acm_server *s;
	struct reply r[4];
	struct acm_msg m;
	int hog[6], other, closed = 0;

	fake_init(&f, 0, recs, 1);
	s = make(loop, &f, 6, 300, 0);
	for (int i = 0; i < 6; i++)
		hog[i] = dial_acm(false);
	run_for(loop, 20);
	other = dial_acm(true);
	run_for(loop, 20);
	send_msg(other, &m, resolve_msg(&m, 2, 0, 0, 0, 1));
	run_for(loop, 20);
	CHECK_INT(1, replies(other, r, 4));
	CHECK_INT(ACM_STATUS_SUCCESS, r[0].status);
	/* and after the idle timeout the hog's connections are gone; the talker stays */
	for (int i = 0; i < 8; i++) {
		run_for(loop, 50);
		send_msg(other, &m, resolve_msg(&m, 2, 0, 0, 0, 2));
	}
	for (int i = 0; i < 6; i++)
		closed += replies(hog[i], r, 4) == -1;
	CHECK_INT(6, closed);
	CHECK(replies(other, r, 4) > 0);
	for (int i = 0; i < 6; i++)
		close(hog[i]);
	close(other);
	acm_server_free(s);
	fake_fini(&f);
}

int main(void)
{
	char dir[] = "/tmp/lsa_acm_XXXXXX";
	struct loop *loop;

	if (!mkdtemp(dir) || loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	snprintf(sock_path, sizeof(sock_path), "%s/acm.sock", dir);
	test_resolve(loop);
	test_tuple_quota(loop);
	test_idle_slots(loop);
	rmdir(dir);
	loop_free(loop);
	return CHECK_DONE();
}
