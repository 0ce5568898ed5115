/*
 * test_doors_ctl_server.c - the control socket served from a real loop, resolver and cache
 * (the SA unreachable: a port whose sends fail). Several request lines in one write are
 * answered in order, one reply each, whether they hit the cache (answered inside the
 * dispatch), miss it, or fail: the daemon crashed on the second of two hits in one write
 * (a nested resume consumed the following lines under the outer loop's feet).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "check.h"
#include "doors/ctl_server.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "pr_fixture.h"
#include "wire/path_rec.h"

struct reader {
	int fd;
	char buf[1 << 16];
	size_t len;
	unsigned want_lines;
};

static unsigned count_lines(const char *s, size_t n)
{
	unsigned k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

/* Polls the client side from the loop until the expected lines arrived (or time runs out). */
static void poll_reply(struct loop *loop, void *arg)
{
	struct reader *r = arg;
	ssize_t n;

	while ((n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, MSG_DONTWAIT)) > 0)
		r->len += (size_t)n;
	r->buf[r->len] = '\0';
	if (count_lines(r->buf, r->len) >= r->want_lines) {
		loop_stop(loop);
		return;
	}
	loop_timer_add(loop, 2, poll_reply, r);
}

static void give_up(struct loop *loop, void *arg)
{
	loop_stop(loop);
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return fd;
}

/* Sends text in one write and runs the loop until `lines` reply lines came back. */
static void exchange(struct loop *loop, struct reader *r, const char *text, unsigned lines)
{
	uint64_t guard;

	r->len = 0;
	r->want_lines = lines;
	CHECK_INT((ssize_t)strlen(text), send(r->fd, text, strlen(text), MSG_NOSIGNAL));
	loop_timer_add(loop, 1, poll_reply, r);
	guard = loop_timer_add(loop, 3000, give_up, NULL);
	loop_run(loop);
	loop_timer_cancel(loop, guard);
}

static const char *nth_line(const char *s, unsigned n, char *out, size_t max)
{
	for (; n && s; n--) {
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	if (!s)
		return "";
	snprintf(out, max, "%.*s", (int)strcspn(s, "\n"), s);
	return out;
}

int main(void)
{
	struct mad_port port;
	struct sa_client_opts so = { 2, 100, 0, 100, 0, 0 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000 };
	struct ibv_path_record recs[3] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2), rec_of(4, 4, 0, 3) };
	char dir[] = "/tmp/lsa_ctl_XXXXXX", path[128], req[1024], line[256], g2[64], g3[64], g9[64];
	struct ctl_server_opts co;
	struct ctl_server *ctl;
	struct path_service *svc;
	struct resolver *res;
	struct sa_client *sa;
	struct reader *r;
	struct loop *loop;
	union ibv_gid g;

	memset(&port, 0, sizeof(port));
	port.fd = -1;
	port.smp_agent = -1;
	port.lid = 1;
	port.sm_lid = 2;
	port.gid = gid_of(1);
	if (!mkdtemp(dir) || loop_new(&loop) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	CHECK_INT(0, sa_client_new(loop, &port, &so, &sa));
	CHECK_INT(0, resolver_new(loop, &port, sa, &ro, &res));
	CHECK_INT(0, resolver_load_table(res, recs, 3));
	CHECK_INT(0, path_service_new_resolver(res, sa, &svc));
	co = (struct ctl_server_opts){ .path = path, .mode = 0600, .max_clients = 8 };
	CHECK_INT(0, ctl_server_new(loop, svc, &co, &ctl));
	r = calloc(1, sizeof(*r));
	r->fd = connect_to(path);
	CHECK(r->fd >= 0);

	g = gid_of(2);
	pr_gid_to_text(&g, g2);
	g = gid_of(3);
	pr_gid_to_text(&g, g3);
	g = gid_of(9);
	pr_gid_to_text(&g, g9);

	/* Two hits in one write: two replies of one path each, in order. */
	snprintf(req, sizeof(req), "path dgid=%s\npath dgid=%s\n", g2, g3);
	exchange(loop, r, req, 4);
	CHECK_INT(4, count_lines(r->buf, r->len));
	CHECK_STR("OK 1", nth_line(r->buf, 0, line, sizeof(line)));
	CHECK_STR("OK 1", nth_line(r->buf, 2, line, sizeof(line)));

	/* Hits, a miss the SA cannot be asked about, a bad line and stats, all in one write. */
	snprintf(req, sizeof(req), "path dgid=%s\npath dgid=%s\npath dgid=%s\nbogus\n"
		 "path dgid=%s\nstats\n", g2, g9, g3, g2);
	exchange(loop, r, req, 10);
	CHECK_INT(10, count_lines(r->buf, r->len));
	CHECK_STR("OK 1", nth_line(r->buf, 0, line, sizeof(line)));
	CHECK(!strncmp(nth_line(r->buf, 2, line, sizeof(line)), "ERR ", 4));
	CHECK_STR("OK 1", nth_line(r->buf, 3, line, sizeof(line)));
	CHECK(!strncmp(nth_line(r->buf, 5, line, sizeof(line)), "ERR EINVAL", 10));
	CHECK_STR("OK 1", nth_line(r->buf, 6, line, sizeof(line)));
	CHECK_STR("OK 1", nth_line(r->buf, 8, line, sizeof(line)));
	CHECK(nth_line(r->buf, 9, line, sizeof(line))[0] == '{');

	/* Many hits pipelined in one write. */
	req[0] = '\0';
	for (int i = 0; i < 20; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), "path dgid=%s\n",
			 i % 2 ? g2 : g3);
	exchange(loop, r, req, 40);
	CHECK_INT(40, count_lines(r->buf, r->len));

	close(r->fd);
	free(r);
	ctl_server_free(ctl);
	sa_client_free(sa);
	path_service_free(svc);
	resolver_free(res);
	loop_free(loop);
	rmdir(dir);
	return CHECK_DONE();
}
