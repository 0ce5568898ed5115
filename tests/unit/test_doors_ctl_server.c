/*
 * test_doors_ctl_server.c - the control socket served from a real loop, resolver and cache
 * (the SA unreachable: a port whose sends fail), through the lookup service. Several request
 * lines in one write are answered in order, one reply each, whether they hit the cache
 * (answered inside the dispatch), miss it, or fail: the daemon crashed on the second of two
 * hits in one write (a nested resume consumed the following lines under the outer loop's feet).
 *
 * Issue 13 regressions: item 6, a flood of new ServiceIDs exhausted the tuples until restart
 * (afterwards even `add` failed with ENOSPC); item 7, clients pipelining `dump` without reading
 * made the daemon hold every reply (RSS grew by the dumps' size); item 8, idle connections held
 * every slot forever and locked root out. Only rig_up() knows the door's constructor.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/loop.h"
#include "wire/ctl_proto.h"
#include "check.h"
#include "doors/ctl_server.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/port_set.h"
#include "mad_script.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "pr_fixture.h"
#include "sock_fixture.h"
#include "wire/path_rec.h"

struct reader {
	int fd;
	struct loop_timer poll;
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
	loop_timer_start(loop, &r->poll, 2, poll_reply, r);
}

static int connect_to(const char *path)
{
	return dial(path, 0);
}

/* Sends text in one write and runs the loop until `lines` reply lines came back. */
static void exchange(struct loop *loop, struct reader *r, const char *text, unsigned lines)
{
	struct loop_timer guard = { 0 };

	r->len = 0;
	r->want_lines = lines;
	CHECK_INT((ssize_t)strlen(text), send(r->fd, text, strlen(text), MSG_NOSIGNAL));
	loop_timer_start(loop, &r->poll, 1, poll_reply, r);
	loop_timer_start(loop, &guard, 3000, fixture_stop, NULL);
	loop_run(loop);
	loop_timer_stop(loop, &guard);
	loop_timer_stop(loop, &r->poll);
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

/* --- the rig: a loop, a dead port, SA client, resolver, service and control door --- */

struct rig {
	struct loop *loop;
	struct mad_script script;	/* the port: every send fails, the SA cannot be asked */
	struct mad_port *port;
	struct sa_client *sa;
	struct resolver *res;
	struct path_service *svc;
	struct port_set *ps;
	struct ctl_server *ctl;
	char dir[32], path[128];
};

static void status_members(void *arg, struct json *j)
{
	json_str(j, "who", arg);
}

/* The daemon's reload, scripted: it names what it applied and what waits for a restart. */
static int scripted_reload(void *arg, struct ctl_reload_result *r)
{
	(void)arg;
	snprintf(r->applied, sizeof(r->applied), "log_level,refresh_interval_s");
	snprintf(r->restart, sizeof(r->restart), "ca");
	return 0;
}

static uint32_t rig_dump_rate;	/* rig_up()'s dump_dests_per_s (0: the door's default) */

static void rig_up(struct rig *g, uint32_t max_entries, mode_t mode, unsigned max_clients,
		   unsigned idle_ms, uint32_t new_tuples, uint32_t new_tuples_per_s)
{
	struct sa_client_opts so = { 2, 100, 0, 100, 0, 0 };
	struct resolver_opts ro = { 1000, 0, max_entries, 1000, NULL };
	struct ctl_server_opts co = { .mode = mode, .max_clients = max_clients, .idle_ms = idle_ms,
				      .new_tuples = new_tuples,
				      .new_tuples_per_s = new_tuples_per_s,
				      .status = status_members, .reload = scripted_reload,
				      .extra_arg = "the rig", .dump_dests_per_s = rig_dump_rate };

	memset(g, 0, sizeof(*g));
	script_init(&g->script);
	g->script.fail_sends = ~0u;
	g->port = script_port(&g->script, NULL);
	snprintf(g->dir, sizeof(g->dir), "/tmp/lsa_ctl_XXXXXX");
	if (!mkdtemp(g->dir) || loop_new(&g->loop) < 0)
		abort();
	loop_skip_idle_time(g->loop, true);
	chmod(g->dir, 0755);
	snprintf(g->path, sizeof(g->path), "%s/ctl.sock", g->dir);
	co.path = g->path;
	CHECK_INT(0, sa_client_new(g->loop, g->port, &so, &g->sa));
	CHECK_INT(0, resolver_new(g->loop, g->port, g->sa, &ro, &g->res));
	CHECK_INT(0, port_set_new(resolver_store(g->res), &g->ps));
	CHECK_INT(0, port_set_serve(g->ps, g->res, g->sa));
	g->svc = port_set_service(g->ps);
	CHECK_INT(0, ctl_server_new(g->loop, g->svc, &co, &g->ctl));
}

static void rig_down(struct rig *g)
{
	ctl_server_free(g->ctl);
	sa_client_free(g->sa);
	port_set_free(g->ps);
	resolver_free(g->res);
	mad_port_close(g->port);
	loop_free(g->loop);
	rmdir(g->dir);
}

/* --- several lines in one write --- */

static void test_pipelined(void)
{
	struct ibv_path_record recs[3] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2), rec_of(4, 4, 0, 3) };
	char req[1024], line[256], g2[64], g3[64], g9[64];
	struct reader *r;
	union ibv_gid g;
	struct rig rig;

	rig_up(&rig, 1000, 0600, 8, 0, 0, 0);
	CHECK_INT(0, resolver_load_table(rig.res, recs, 3));
	r = calloc(1, sizeof(*r));
	r->fd = connect_to(rig.path);
	CHECK(r->fd >= 0);

	g = gid_of(2);
	pr_gid_to_text(&g, g2);
	g = gid_of(3);
	pr_gid_to_text(&g, g3);
	g = gid_of(9);
	pr_gid_to_text(&g, g9);

	/* Two hits in one write: two replies of one path each, in order. */
	snprintf(req, sizeof(req), "path dgid=%s\npath dgid=%s\n", g2, g3);
	exchange(rig.loop, r, req, 4);
	CHECK_INT(4, count_lines(r->buf, r->len));
	CHECK_STR("OK 1", nth_line(r->buf, 0, line, sizeof(line)));
	CHECK_STR("OK 1", nth_line(r->buf, 2, line, sizeof(line)));

	/* Hits, a miss the SA cannot be asked about, a bad line and stats, all in one write. */
	snprintf(req, sizeof(req), "path dgid=%s\npath dgid=%s\npath dgid=%s\nbogus\n"
		 "path dgid=%s\nstats\n", g2, g9, g3, g2);
	exchange(rig.loop, r, req, 10);
	CHECK_INT(10, count_lines(r->buf, r->len));
	CHECK_STR("OK 1", nth_line(r->buf, 0, line, sizeof(line)));
	CHECK(!strncmp(nth_line(r->buf, 2, line, sizeof(line)), "ERR ", 4));
	CHECK_STR("OK 1", nth_line(r->buf, 3, line, sizeof(line)));
	CHECK(!strncmp(nth_line(r->buf, 5, line, sizeof(line)), "ERR EINVAL", 10));
	CHECK_STR("OK 1", nth_line(r->buf, 6, line, sizeof(line)));
	CHECK_STR("OK 1", nth_line(r->buf, 8, line, sizeof(line)));
	CHECK(nth_line(r->buf, 9, line, sizeof(line))[0] == '{');

	/* An error about a long argument is cut, never its line. */
	memset(req, 'k', 1000);
	memcpy(req + 1000, "=1\nstats\n", 10);
	memcpy(req, "path ", 5);
	exchange(rig.loop, r, req, 3);
	CHECK_INT(3, count_lines(r->buf, r->len));
	CHECK(!strncmp(nth_line(r->buf, 0, line, sizeof(line)), "ERR EINVAL unknown argument", 27));
	CHECK_STR("OK 1", nth_line(r->buf, 1, line, sizeof(line)));

	/* Many hits pipelined in one write. */
	req[0] = '\0';
	for (int i = 0; i < 20; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), "path dgid=%s\n",
			 i % 2 ? g2 : g3);
	exchange(rig.loop, r, req, 40);
	CHECK_INT(40, count_lines(r->buf, r->len));

	close(r->fd);
	free(r);
	rig_down(&rig);
}

/* --- issue 13, item 6: tuples --- */

/* A client of the rig's door; g2 gets the text of the destination the tests ask for. */
static struct reader *client(struct rig *g, char g2[64])
{
	struct reader *r = calloc(1, sizeof(*r));
	union ibv_gid gid = gid_of(2);

	pr_gid_to_text(&gid, g2);
	r->fd = connect_to(g->path);
	CHECK(r->fd >= 0);
	return r;
}

static void test_tuple_flood(void)
{
	char req[8192], line[256], g2[64];
	unsigned eio = 0, other = 0;
	struct reader *r;
	struct rig rig;

	/* A quota larger than the flood: only the tuple table can refuse, and must not (an
	 * EBUSY from the quota would hide a table that ran out). */
	rig_up(&rig, 1000, 0600, 8, 0, 8192, 8192);
	r = client(&rig, g2);
	for (unsigned base = 0; base < 4400; base += 100) {
		req[0] = '\0';
		for (unsigned i = base; i < base + 100; i++)
			snprintf(req + strlen(req), sizeof(req) - strlen(req),
				 "path dgid=%s service_id=%u\n", g2, 0x10000 + i);
		exchange(rig.loop, r, req, 100);
		/* every one of them failed as the dead SA makes them fail: a tuple was made (a
		 * full table gives "ERR EIO cannot resolve: No space left on device") */
		for (unsigned i = 0; i < 100; i++) {
			nth_line(r->buf, i, line, sizeof(line));
			if (!strcmp(line, "ERR EIO cannot resolve: Input/output error"))
				eio++;
			else if (other++ == 0)
				fprintf(stderr, "tuple flood: request %u: %s\n", base + i, line);
		}
	}
	CHECK_INT(4400, eio);
	CHECK_INT(0, other);
	/* and a new tuple can still be made (`add` took one: it now wants an SGID of ours, whose
	 * tuple exists, so the store is asked directly) */
	{
		struct pr_request nreq = { .sgid = gid_of(0x777), .has = PR_REQ_SGID };
		uint16_t id;

		CHECK_INT(0, pr_store_tuple(resolver_store(rig.res), &nreq, true, &id));
	}
	snprintf(req, sizeof(req), "flush\n");
	exchange(rig.loop, r, req, 1);
	CHECK_STR("OK 0", nth_line(r->buf, 0, line, sizeof(line)));
	close(r->fd);
	free(r);
	rig_down(&rig);
}

/* A small quota: the third new ServiceID of a user is refused, clearly; known ones are not. */
static void test_tuple_quota(void)
{
	char req[1024], line[256], g2[64];
	struct reader *r;
	struct rig rig;

	rig_up(&rig, 1000, 0600, 8, 0, 2, 1);
	r = client(&rig, g2);
	snprintf(req, sizeof(req), "path dgid=%s service_id=1\npath dgid=%s service_id=2\n"
		 "path dgid=%s service_id=3\npath dgid=%s service_id=1\n", g2, g2, g2, g2);
	exchange(rig.loop, r, req, 4);
	CHECK(!strncmp(nth_line(r->buf, 0, line, sizeof(line)), "ERR EIO", 7));
	CHECK(!strncmp(nth_line(r->buf, 1, line, sizeof(line)), "ERR EIO", 7));
	CHECK(!strncmp(nth_line(r->buf, 2, line, sizeof(line)), "ERR EBUSY too many new", 22));
	CHECK(!strncmp(nth_line(r->buf, 3, line, sizeof(line)), "ERR EIO", 7));
	close(r->fd);
	free(r);
	rig_down(&rig);
}

/* --- issue 13, item 7: output --- */

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_dump_unread(void)
{
	enum { N = 20000, DUMPS = 4 };
	struct ibv_path_record *recs = calloc(N, sizeof(*recs));
	struct reader *r = calloc(1, sizeof(*r));
	unsigned long lines = 0;
	struct rig rig;
	long before, grown;

	rig_up(&rig, N, 0600, 8, 0, 0, 0);
	for (uint32_t i = 0; i < N; i++)
		recs[i] = rec_of(0x10000 + i, (uint16_t)(1 + i % 40000), 0, i);
	CHECK_INT(0, resolver_load_table(rig.res, recs, N));
	r->fd = connect_to(rig.path);
	before = rss_kb();
	CHECK_INT(5, send(r->fd, "dump\n", 5, MSG_NOSIGNAL));
	for (int i = 1; i < DUMPS; i++)
		send(r->fd, "dump\n", 5, MSG_NOSIGNAL);
	run_for(rig.loop, 300);
	grown = rss_kb() - before;
	printf("RSS grew by %ld KiB while %d dumps of %d paths (%d MiB) were not read\n", grown,
	       DUMPS, N, DUMPS * N * 250 >> 20);
	CHECK(grown < 8 * 1024);
	/* read: every dump whole, "OK N" and N lines each */
	for (int i = 0; i < 3000 && lines < (unsigned long)DUMPS * (N + 1); i++) {
		ssize_t n;

		run_for(rig.loop, 1);
		while ((n = recv(r->fd, r->buf, sizeof(r->buf), MSG_DONTWAIT)) > 0)
			lines += count_lines(r->buf, (size_t)n);
	}
	CHECK_INT((unsigned long)DUMPS * (N + 1), lines);
	close(r->fd);
	free(r);
	free(recs);
	rig_down(&rig);
}

/* --- issue 13, item 8: slots --- */

static void test_idle_slots(void)
{
	struct reader *r = calloc(1, sizeof(*r));
	int held[8];
	struct rig rig;

	rig_up(&rig, 1000, 0600, 8, 200, 0, 0);
	for (int i = 0; i < 8; i++)
		held[i] = connect_to(rig.path);
	run_for(rig.loop, 20);
	r->fd = connect_to(rig.path);
	run_for(rig.loop, 20);
	r->len = recv(r->fd, r->buf, sizeof(r->buf) - 1, MSG_DONTWAIT);
	CHECK(r->len > 0 && !strncmp(r->buf, "ERR EBUSY", 9));
	close(r->fd);
	/* nothing said for the idle timeout: the slots are free again */
	run_for(rig.loop, 400);
	r->fd = connect_to(rig.path);
	exchange(rig.loop, r, "info\n", 2);
	CHECK(!strncmp(r->buf, "OK 1", 4));
	for (int i = 0; i < 8; i++)
		close(held[i]);
	close(r->fd);
	free(r);
	rig_down(&rig);
}

/*
 * Root's reserved slot, apart from the per-user eviction: an ordinary user alone (nobody else
 * connected, so nobody to evict for it) gets every slot but root's, its last connection is
 * refused; root then still gets in and flushes. Without the reservation that user would get
 * all 8 (root would get in anyway, by evicting one: test_idle_slots cannot tell the two apart).
 * As root (a child turns into nobody); skipped otherwise.
 */
static void test_root_slot(void)
{
	enum { MAX = 8, ROOT_SLOTS = 1 };
	struct reader *r;
	struct passwd *nobody = getpwnam("nobody");
	int go[2], done[2], verdict[2];
	unsigned refused = ~0u;
	struct rig rig;
	pid_t child;
	char c;

	if (geteuid() != 0 || !nobody) {
		printf("root slot: skipped (needs root and a user 'nobody')\n");
		return;
	}
	rig_up(&rig, 1000, 0666, MAX, 0, 0, 0);
	if (pipe(go) < 0 || pipe(done) < 0 || pipe(verdict) < 0)
		abort();
	child = fork();
	if (child == 0) {
		int fds[MAX];
		unsigned n = 0;

		if (setgid(nobody->pw_gid) < 0 || setuid(nobody->pw_uid) < 0)
			_exit(1);
		for (int i = 0; i < MAX; i++)
			fds[i] = connect_to(rig.path);
		(void)!write(go[1], "x", 1);
		(void)!read(done[0], &c, 1);	/* the door has seen them all */
		for (int i = 0; i < MAX; i++) {	/* turned away: "ERR EBUSY", then EOF */
			char buf[64];
			ssize_t k = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);

			n += fds[i] < 0 || k == 0 || (k >= 9 && !strncmp(buf, "ERR EBUSY", 9));
		}
		(void)!write(verdict[1], &n, sizeof(n));
		(void)!read(done[0], &c, 1);
		for (int i = 0; i < MAX; i++)
			close(fds[i]);
		_exit(0);
	}
	CHECK_INT(1, read(go[0], &c, 1));
	run_for(rig.loop, 50);
	(void)!write(done[1], "x", 1);
	CHECK_INT(sizeof(refused), read(verdict[0], &refused, sizeof(refused)));
	CHECK_INT(ROOT_SLOTS, refused);
	r = calloc(1, sizeof(*r));
	r->fd = connect_to(rig.path);
	exchange(rig.loop, r, "flush\n", 1);
	CHECK_STR("OK 0\n", r->buf);
	(void)!write(done[1], "x", 1);
	waitpid(child, NULL, 0);
	close(r->fd);
	free(r);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
		close(verdict[i]);
	}
	rig_down(&rig);
}

/*
 * As nobody (a child), k connections each ask `dump` and read nothing; after the door has run
 * for ms, the first reply line of each, one a line, in out. The door then sees them close.
 */
static void dumps_as_nobody(struct rig *g, const struct passwd *nobody, int k, unsigned ms,
			    char *out, size_t cap)
{
	int go[2], done[2], res[2];
	pid_t child;
	char c;

	if (pipe(go) < 0 || pipe(done) < 0 || pipe(res) < 0)
		abort();
	child = fork();
	if (child == 0) {
		char all[1024] = "", buf[256];
		int fds[8];
		size_t len = 0;

		if (k > 8 || setgid(nobody->pw_gid) < 0 || setuid(nobody->pw_uid) < 0)
			_exit(1);
		for (int i = 0; i < k; i++) {
			fds[i] = connect_to(g->path);
			(void)!send(fds[i], "dump\n", 5, MSG_NOSIGNAL);
		}
		(void)!write(go[1], "x", 1);
		(void)!read(done[0], &c, 1);
		for (int i = 0; i < k; i++) {
			ssize_t n = recv(fds[i], buf, sizeof(buf) - 1, MSG_DONTWAIT);

			buf[n > 0 ? n : 0] = '\0';
			len += (size_t)snprintf(all + len, sizeof(all) - len, "%.*s\n",
						(int)strcspn(buf, "\n"), buf);
		}
		(void)!write(res[1], all, strlen(all) + 1);
		_exit(0);
	}
	CHECK_INT(1, read(go[0], &c, 1));
	run_for(g->loop, ms);
	(void)!write(done[1], "x", 1);
	out[0] = '\0';
	CHECK(read(res[0], out, cap - 1) > 0);
	out[cap - 1] = '\0';
	waitpid(child, NULL, 0);
	run_for(g->loop, 50);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
		close(res[i]);
	}
}

static unsigned count_prefix(const char *s, const char *prefix)
{
	unsigned n = 0;

	for (; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		n += !strncmp(s, prefix, strlen(prefix));
	return n;
}

/*
 * Dumps of users other than root and the daemon's are bounded: at most 2 plans held at once
 * (each holds 24 bytes per destination until its dump ends), and so many destinations planned
 * per second door-wide (200,000 by default; 1,000 here, so that the planning's own time does
 * not refill it). Root is not limited. Once every local user could hold a plan per connection,
 * and make the loop plan without pause. As root (a child turns into nobody).
 */
static void test_dump_limits(void)
{
	enum { N = 20000 };
	struct passwd *nobody = getpwnam("nobody");
	struct ibv_path_record *recs;
	struct reader *r;
	char out[1024];
	struct rig rig;

	if (geteuid() != 0 || !nobody) {
		printf("dump limits: skipped (needs root and a user 'nobody')\n");
		return;
	}
	recs = calloc(N, sizeof(*recs));
	for (uint32_t i = 0; i < N; i++)
		recs[i] = rec_of(0x10000 + i, (uint16_t)(1 + i % 40000), 0, i);

	/* three unread dumps: two plans held, the third turned away */
	rig_up(&rig, N, 0666, 16, 0, 0, 0);
	CHECK_INT(0, resolver_load_table(rig.res, recs, N));
	dumps_as_nobody(&rig, nobody, 3, 1000, out, sizeof(out));	/* plans take turns */
	CHECK_INT(2, count_prefix(out, "OK 20000"));
	CHECK_INT(1, count_prefix(out, "ERR EBUSY 2 dumps of other users are in progress"));
	/* their connections closed: the plans are given back */
	dumps_as_nobody(&rig, nobody, 1, 1000, out, sizeof(out));
	CHECK_STR("OK 20000\n", out);
	rig_down(&rig);

	/* 1,000 destinations a second: the first dump of 20,000 goes (a debt), the next waits;
	 * root's does not */
	rig_dump_rate = 1000;
	rig_up(&rig, N, 0666, 16, 0, 0, 0);
	rig_dump_rate = 0;
	CHECK_INT(0, resolver_load_table(rig.res, recs, N));
	dumps_as_nobody(&rig, nobody, 2, 1000, out, sizeof(out));
	CHECK_INT(1, count_prefix(out, "OK 20000"));
	CHECK_INT(1, count_prefix(out, "ERR EBUSY the cache was listed for other users just now: "
				       "try again in"));
	r = calloc(1, sizeof(*r));
	r->fd = connect_to(rig.path);
	exchange(rig.loop, r, "dump\n", 1);
	CHECK(!strncmp(r->buf, "OK 20000\n", 9));
	close(r->fd);
	run_for(rig.loop, 50);
	free(r);
	rig_down(&rig);
	free(recs);
}

/* --- issue 17: dump in the SA's order, its filters, add's checks, status, reload, stats --- */

/* The DGIDs of a dump's lines, in order, as one string of guids ("5,3,9"). */
static void dump_guids(const char *buf, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (const char *l = strchr(buf, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
		struct ibv_path_record rec;
		char line[512];
		size_t meta;

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(l + 1, "\n"), l + 1);
		if (ctl_dump_decode(line, &rec, &meta) < 0)
			break;
		len += (size_t)snprintf(out + len, cap - len, "%s%llu", len ? "," : "",
					(unsigned long long)be64toh(rec.dgid.global.interface_id));
	}
}

static void test_dump_order(void)
{
	/* the SA's order of a table is not the DGID's, nor the hash's */
	static const uint64_t order[] = { 9, 3, 7, 2, 8, 4, 6, 5 };
	struct ibv_path_record recs[8];
	struct reader *r;
	char g2[64], guids[256], req[256];
	struct rig rig;

	rig_up(&rig, 1000, 0600, 8, 0, 0, 0);
	for (size_t i = 0; i < 8; i++)
		recs[i] = rec_of(order[i], (uint16_t)(10 + i), 0, (uint32_t)i);
	CHECK_INT(0, resolver_load_table(rig.res, recs, 8));
	r = client(&rig, g2);
	exchange(rig.loop, r, "dump\n", 9);
	dump_guids(r->buf, guids, sizeof(guids));
	CHECK_STR("9,3,7,2,8,4,6,5", guids);
	/* filters: one destination, a source, a tuple; a bad one is named */
	snprintf(req, sizeof(req), "dump dgid=%s\n", g2);
	exchange(rig.loop, r, req, 2);
	dump_guids(r->buf, guids, sizeof(guids));
	CHECK_STR("2", guids);
	exchange(rig.loop, r, "dump source=cli\n", 1);
	CHECK_STR("OK 0\n", r->buf);
	exchange(rig.loop, r, "dump tuple=0 source=sa\n", 9);
	CHECK_INT(9, count_lines(r->buf, r->len));
	exchange(rig.loop, r, "dump source=disk\n", 1);
	CHECK(!strncmp(r->buf, "ERR EINVAL source: 'disk'", 25));
	close(r->fd);
	free(r);
	rig_down(&rig);
}

/* add refuses what no consumer could use: the record of 128 zero digits was cached as a path to
 * DGID :: with DLID 0. */
static void test_add_checks(void)
{
	struct ibv_path_record good = rec_of(7, 7, 0, 1), bad;
	char hex[CTL_RECORD_HEX + 1], req[256], g2[64];
	struct reader *r;
	struct rig rig;

	rig_up(&rig, 1000, 0600, 8, 0, 0, 0);
	r = client(&rig, g2);
	memset(&bad, 0, sizeof(bad));
	ctl_hex_encode(&bad, sizeof(bad), hex);
	snprintf(req, sizeof(req), "add rec=%s\n", hex);
	exchange(rig.loop, r, req, 1);
	CHECK(!strncmp(r->buf, "ERR EINVAL not added: the record has no DGID", 44));
	bad = good;
	bad.mtu = 0x80 | 7;
	ctl_hex_encode(&bad, sizeof(bad), hex);
	snprintf(req, sizeof(req), "add rec=%s\n", hex);
	exchange(rig.loop, r, req, 1);
	CHECK(!strncmp(r->buf, "ERR EINVAL not added: MTU code 7", 32));
	bad = good;
	bad.sgid = gid_of(55);	/* not the port's */
	ctl_hex_encode(&bad, sizeof(bad), hex);
	snprintf(req, sizeof(req), "add rec=%s\n", hex);
	exchange(rig.loop, r, req, 1);
	CHECK(!strncmp(r->buf, "ERR EINVAL not added: its SGID", 30));
	ctl_hex_encode(&good, sizeof(good), hex);
	snprintf(req, sizeof(req), "add rec=%s\ndump source=cli\n", hex);
	exchange(rig.loop, r, req, 3);
	CHECK_STR("OK 0", nth_line(r->buf, 0, req, sizeof(req)));
	CHECK_STR("OK 1", nth_line(r->buf, 1, req, sizeof(req)));
	close(r->fd);
	free(r);
	rig_down(&rig);
}

/* `port name=CA:N`: the port's GID for the CLI's --port; a port not served names those that
 * are. */
static void test_port_by_name(void)
{
	char line[256], g2[64];
	struct reader *r;
	struct rig rig;

	rig_up(&rig, 1000, 0600, 8, 0, 0, 0);
	r = client(&rig, g2);
	exchange(rig.loop, r, "port name=script0:1\n", 2);
	CHECK_STR("OK 1", nth_line(r->buf, 0, line, sizeof(line)));
	CHECK_STR("ca=script0 port=1 gid=fe80::1 lid=1", nth_line(r->buf, 1, line, sizeof(line)));
	exchange(rig.loop, r, "port name=script0:2\n", 1);
	CHECK_STR("ERR EINVAL no port script0:2 served here (serving: script0:1)",
		  nth_line(r->buf, 0, line, sizeof(line)));
	exchange(rig.loop, r, "port name=script0\n", 1);
	CHECK_STR("ERR EINVAL want name=CA:N (a CA name and a port number 1-254)",
		  nth_line(r->buf, 0, line, sizeof(line)));
	close(r->fd);
	free(r);
	rig_down(&rig);
}

static void test_status_reload_stats(void)
{
	char line[512], g2[64];
	struct reader *r;
	struct rig rig;
	unsigned n;

	rig_up(&rig, 1000, 0600, 8, 0, 0, 0);
	r = client(&rig, g2);
	exchange(rig.loop, r, "status\n", 2);
	CHECK_STR("OK 1", nth_line(r->buf, 0, line, sizeof(line)));
	CHECK_STR("{\"who\": \"the rig\"}", nth_line(r->buf, 1, line, sizeof(line)));
	exchange(rig.loop, r, "reload\n", 2);
	CHECK_STR("applied=log_level,refresh_interval_s restart=ca",
		  nth_line(r->buf, 1, line, sizeof(line)));
	exchange(rig.loop, r, "reload now=1\n", 1);
	CHECK(!strncmp(r->buf, "ERR EINVAL", 10));
	/* Prometheus text: "OK n" and n lines, TYPE lines before their samples, the operator's
	 * reload counted */
	exchange(rig.loop, r, "stats format=prometheus\n", 1);
	CHECK(sscanf(r->buf, "OK %u", &n) == 1 && n > 20);
	exchange(rig.loop, r, "stats format=prometheus\n", n + 1);
	CHECK_INT(n + 1, count_lines(r->buf, r->len));
	CHECK(strstr(r->buf, "\n# TYPE localsa_cache_hits_total counter\nlocalsa_cache_hits_total 0\n"));
	CHECK(strstr(r->buf, "\nlocalsa_operator_reloads_total 1\n"));
	CHECK(strstr(r->buf, "\n# TYPE localsa_entries gauge\n"));
	exchange(rig.loop, r, "stats format=xml\n", 1);
	CHECK(!strncmp(r->buf, "ERR EINVAL stats takes", 22));
	close(r->fd);
	free(r);
	rig_down(&rig);
}

int main(void)
{
	test_dump_order();
	test_add_checks();
	test_port_by_name();
	test_status_reload_stats();
	test_pipelined();
	test_tuple_quota();
	test_tuple_flood();
	test_dump_unread();
	test_idle_slots();
	test_root_slot();
	test_dump_limits();
	return CHECK_DONE();
}
