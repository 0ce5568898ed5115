/*
 * ctl_server - see ctl_server.h. One request at a time per client; a client
 * waiting for the SA or a refresh is parked (its fd unwatched for input) and
 * resumed by the callback. A client that hangs up while parked is freed by
 * that callback. Caps: clients, line length, reply size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <infiniband/umad_sa.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "doors/ctl_server.h"
#include "doors/door_listen.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { REPLY_MAX = 256 << 20 };

struct ctl_client {
	struct ctl_client *next;
	struct ctl_server *srv;
	int fd;
	uid_t uid;
	char in[CTL_MAX_LINE + 1];
	size_t in_len;
	struct strbuf out;
	bool parked;      /* waiting for a resolver or refresh callback */
	bool in_dispatch; /* inside a command: a callback that runs now must not resume us */
	bool closed;      /* peer gone while parked: free in the callback */
	bool hangup;      /* close once the reply is flushed */
	int64_t waiter;
};

struct ctl_server {
	struct loop *loop;
	struct resolver *res;
	struct sa_client *sa;
	struct ctl_server_opts opts;
	char path[108];
	int fd;
	bool bound;           /* we created the socket file: unlink it at the end */
	struct ctl_client *clients;
	unsigned n_clients;
	uint64_t requests, errors, rejected_clients;
};

static void client_io(struct loop *loop, int fd, uint32_t events, void *arg);
static void client_process(struct ctl_client *c);

/* --- replies -------------------------------------------------------------- */

static void reply_err(struct ctl_client *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_err(struct ctl_client *c, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	c->srv->errors++;
	strbuf_printf(&c->out, "ERR %s %s\n", code, msg);
}

static void reply_records(struct ctl_client *c, const struct ibv_path_record *recs, size_t n)
{
	char hex[2 * PR_LEN + 1];

	strbuf_printf(&c->out, "OK %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		ctl_hex_encode(&recs[i], PR_LEN, hex);
		strbuf_printf(&c->out, "%s\n", hex);
	}
}

static void client_flush_watch(struct ctl_client *c)
{
	uint32_t ev = c->parked ? 0 : EPOLLIN;

	if (c->out.len)
		ev |= EPOLLOUT;
	loop_mod_fd(c->srv->loop, c->fd, ev);
}

static void client_free(struct ctl_client *c)
{
	struct ctl_server *s = c->srv;

	for (struct ctl_client **pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	s->n_clients--;
	strbuf_free(&c->out);
	free(c);
}

static void client_close(struct ctl_client *c)
{
	if (c->fd >= 0) {
		loop_del_fd(c->srv->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (c->parked) {
		c->closed = true;  /* the pending callback frees it */
		return;
	}
	client_free(c);
}

/* Resumes a parked client after its callback wrote the reply. */
static bool unpark(struct ctl_client *c)
{
	c->parked = false;
	c->waiter = 0;
	if (c->closed) {
		client_free(c);
		return false;
	}
	client_flush_watch(c);
	client_process(c);
	return true;
}

/* --- commands ------------------------------------------------------------- */

static bool writer_allowed(const struct ctl_client *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

static int parse_gid(const char *s, union ibv_gid *gid)
{
	return pr_from_text_gid(s, gid);
}

/* Fills a pr_request from key=value arguments; writes an ERR on failure. */
static bool parse_path_args(struct ctl_client *c, const struct ctl_request *req,
			    struct pr_request *pr)
{
	static const char *const known[] = { "sgid", "dgid", "dlid", "pkey", "service_id",
					     "qos_class", "sl", "tclass", "sa" };
	uint64_t v;
	const char *s;

	memset(pr, 0, sizeof(*pr));
	for (size_t i = 0; i < req->n_args; i++) {
		bool ok = false;

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			ok |= !strcmp(req->args[i].key, known[k]);
		if (!ok) {
			reply_err(c, "EINVAL", "unknown argument '%s'", req->args[i].key);
			return false;
		}
	}
	if ((s = ctl_arg(req, "sgid"))) {
		if (parse_gid(s, &pr->sgid) < 0)
			goto bad_gid;
		pr->has |= PR_REQ_SGID;
	}
	if ((s = ctl_arg(req, "dgid"))) {
		if (parse_gid(s, &pr->dgid) < 0)
			goto bad_gid;
		pr->has |= PR_REQ_DGID;
	}
#define NUM_ARG(key, max, field, flag)                                                   \
	if ((s = ctl_arg(req, key))) {                                                   \
		if (ctl_parse_u64(s, max, &v) < 0) {                                     \
			reply_err(c, "EINVAL", "%s: '%s' is not a number in 0..%llu", key, s, \
				  (unsigned long long)(max));                            \
			return false;                                                    \
		}                                                                        \
		pr->field = (__typeof__(pr->field))v;                                    \
		flag;                                                                    \
	}
	NUM_ARG("dlid", 0xbfff, dlid, pr->has |= PR_REQ_DLID)
	NUM_ARG("pkey", 0xffff, pkey, pr->tuple_flags |= PR_TUPLE_PKEY)
	NUM_ARG("service_id", UINT64_MAX, service_id, pr->tuple_flags |= PR_TUPLE_SERVICE_ID)
	NUM_ARG("qos_class", 0xfff, qos_class, pr->tuple_flags |= PR_TUPLE_QOS_CLASS)
	NUM_ARG("sl", 15, sl, pr->tuple_flags |= PR_TUPLE_SL)
	NUM_ARG("tclass", 255, tclass, pr->tuple_flags |= PR_TUPLE_TCLASS)
#undef NUM_ARG
	if (!(pr->has & (PR_REQ_DGID | PR_REQ_DLID))) {
		reply_err(c, "EINVAL", "a destination is needed: dgid=GID or dlid=LID");
		return false;
	}
	if ((pr->has & PR_REQ_DLID) && !pr->dlid) {
		reply_err(c, "EINVAL", "dlid 0 is not a valid LID");
		return false;
	}
	return true;
bad_gid:
	reply_err(c, "EINVAL", "'%s' is not a GID (fe80::2:c903:0:1 or 0x0002c90300000001)", s);
	return false;
}

static void path_done(void *arg, int err, uint8_t sa_status, const struct ibv_path_record *recs,
		      size_t n)
{
	struct ctl_client *c = arg;

	if (c->closed && !c->in_dispatch) {
		unpark(c);
		return;
	}
	if (!err)
		reply_records(c, recs, n);
	else if (err == -ENOENT)
		reply_err(c, "NO_PATH", "no path%s", sa_status ? " (the SA has no record)" : "");
	else if (err == -ETIMEDOUT)
		reply_err(c, "TIMEOUT", "the SA did not answer");
	else if (sa_status)
		reply_err(c, "SA_ERROR", "the SA refused the request: %s",
			  sa_status_str((uint16_t)(sa_status << 8)));
	else
		reply_err(c, "EIO", "%s", strerror(-err));
	/* Answered from the cache, inside cmd_path(): client_process() goes on by itself.
	 * Resuming here would run the next lines nested, under the caller's feet. */
	if (c->parked && !c->in_dispatch)
		unpark(c);
}

static void cmd_path(struct ctl_client *c, const struct ctl_request *req)
{
	struct pr_request pr;
	const char *sa = ctl_arg(req, "sa");
	int64_t ret;

	if (!parse_path_args(c, req, &pr))
		return;
	c->parked = true;
	c->in_dispatch = true;
	ret = resolver_resolve(c->srv->res, &pr, sa && !strcmp(sa, "1") ? RESOLVE_SA : 0,
			       path_done, c);
	c->in_dispatch = false;
	if (ret > 0) {
		c->waiter = ret;
		client_flush_watch(c);
		return;
	}
	if (ret < 0) {
		c->parked = false;
		reply_err(c, "EIO", "cannot resolve: %s", strerror((int)-ret));
		return;
	}
	c->parked = false; /* answered synchronously */
}

static void stats_json(struct ctl_client *c)
{
	struct resolver_stats rs;
	struct sa_client_stats ss;
	struct pr_cache_stats cs;
	struct strbuf *o = &c->out;

	resolver_stats(c->srv->res, &rs);
	sa_client_stats(c->srv->sa, &ss);
	pr_cache_stats(resolver_cache(c->srv->res), &cs);
	strbuf_printf(o, "OK 1\n{");
	if (c->srv->opts.extra_stats)
		c->srv->opts.extra_stats(c->srv->opts.extra_arg, o);
	strbuf_printf(o, "\"sa_queries\": {");
	for (int m = 0; m < SA_STAT_METHODS; m++)
		strbuf_printf(o, "%s\"%s\": %llu", m ? ", " : "", sa_stat_name(m),
			      (unsigned long long)ss.sent[m]);
	strbuf_printf(o, "}, \"sa_attempts\": %llu, \"sa_retries\": %llu, \"sa_timeouts\": %llu, "
		      "\"sa_failures\": %llu, \"sa_outstanding\": %llu, \"sa_queued\": %llu, ",
		      (unsigned long long)ss.attempts, (unsigned long long)ss.retries,
		      (unsigned long long)ss.timeouts, (unsigned long long)ss.failures,
		      (unsigned long long)ss.outstanding_now, (unsigned long long)ss.queued_now);
	strbuf_printf(o, "\"cache_hits\": %llu, \"cache_misses\": %llu, \"negative_hits\": %llu, "
		      "\"coalesced\": %llu, \"sa_no_path\": %llu, \"sa_errors\": %llu, ",
		      (unsigned long long)rs.hits, (unsigned long long)rs.misses,
		      (unsigned long long)rs.negative_hits, (unsigned long long)rs.coalesced,
		      (unsigned long long)rs.sa_no_path, (unsigned long long)rs.sa_errors);
	strbuf_printf(o, "\"entries\": %llu, \"destinations\": %llu, \"negative_entries\": %llu, "
		      "\"tuples\": %llu, \"cache_bytes\": %llu, \"bytes_per_entry\": %llu, ",
		      (unsigned long long)cs.entries, (unsigned long long)cs.destinations,
		      (unsigned long long)cs.negatives, (unsigned long long)cs.tuples,
		      (unsigned long long)cs.bytes, (unsigned long long)cs.bytes_per_entry);
	strbuf_printf(o, "\"prefetch_tuples\": %llu, \"prefetch_records\": %llu, "
		      "\"prefetch_failures\": %llu, ", (unsigned long long)rs.prefetch_tuples,
		      (unsigned long long)rs.prefetch_records,
		      (unsigned long long)rs.prefetch_failures);
	strbuf_printf(o, "\"generation\": %u, \"fills\": %llu, \"fill_failures\": %llu, "
		      "\"last_fill_records\": %llu, \"last_fill_ms\": %llu, \"last_fill_swept\": %llu, "
		      "\"refreshing\": %s, \"control_requests\": %llu, \"control_errors\": %llu}\n",
		      rs.generation, (unsigned long long)rs.fills,
		      (unsigned long long)rs.fill_failures, (unsigned long long)rs.last_fill_records,
		      (unsigned long long)rs.last_fill_ms, (unsigned long long)rs.last_fill_swept,
		      rs.filling ? "true" : "false", (unsigned long long)c->srv->requests,
		      (unsigned long long)c->srv->errors);
}

struct dump_ctx {
	struct strbuf *out;
	const struct pr_cache *cache;
	uint64_t now_s;
	size_t n;
};

static bool dump_one(const struct pr_entry *e, void *arg)
{
	static const char *const src[] = { "sa", "set", "cli" };
	struct dump_ctx *d = arg;
	const struct pr_tuple *t = pr_cache_tuple_get(d->cache, e->tuple);
	char hex[2 * PR_LEN + 1];

	ctl_hex_encode(&e->rec, PR_LEN, hex);
	strbuf_printf(d->out, "tuple=%u flags=0x%x source=%s source_lid=%u generation=%u age_s=%llu "
		      "rec=%s\n", e->tuple, t ? t->flags : 0, e->source < 3 ? src[e->source] : "?",
		      e->source_lid, e->generation,
		      (unsigned long long)(d->now_s > e->added_s ? d->now_s - e->added_s : 0), hex);
	d->n++;
	return !d->out->err;
}

static void cmd_dump(struct ctl_client *c)
{
	struct pr_cache *cache = resolver_cache(c->srv->res);
	struct pr_cache_stats cs;
	struct dump_ctx d = { &c->out, cache, loop_now_ms() / 1000, 0 };

	pr_cache_stats(cache, &cs);
	strbuf_printf(&c->out, "OK %llu\n", (unsigned long long)cs.entries);
	pr_cache_foreach(cache, dump_one, &d);
}

static void fill_done(void *arg, int err, size_t records)
{
	struct ctl_client *c = arg;
	struct resolver_stats rs;

	if (!c->closed || c->in_dispatch) {
		resolver_stats(c->srv->res, &rs);
		if (err)
			reply_err(c, err == -ETIMEDOUT ? "TIMEOUT" : "EIO", "refresh failed: %s",
				  err == -ETIMEDOUT ? "the SA did not answer" : strerror(-err));
		else
			strbuf_printf(&c->out, "OK 1\nrecords=%zu generation=%u ms=%llu swept=%llu\n",
				      records, rs.generation, (unsigned long long)rs.last_fill_ms,
				      (unsigned long long)rs.last_fill_swept);
	}
	if (!c->in_dispatch)
		unpark(c);
	else
		c->parked = false;
}

static void cmd_refresh(struct ctl_client *c, const struct ctl_request *req)
{
	const char *w = ctl_arg(req, "wait");
	bool wait = w && !strcmp(w, "1");
	int ret;

	if (wait)
		c->parked = true;
	c->in_dispatch = true;
	ret = resolver_fill(c->srv->res, wait ? fill_done : NULL, c);
	c->in_dispatch = false;
	if (ret < 0) {
		c->parked = false;
		reply_err(c, "EIO", "cannot start a refresh: %s", strerror(-ret));
		return;
	}
	if (!wait)
		strbuf_printf(&c->out, "OK 0\n");
	else if (c->parked)
		client_flush_watch(c);
}

static bool dgid_matches(const struct pr_entry *e, void *arg)
{
	return !memcmp(&e->rec.dgid, arg, sizeof(union ibv_gid));
}

static void cmd_write(struct ctl_client *c, const struct ctl_request *req)
{
	struct pr_cache *cache = resolver_cache(c->srv->res);

	if (!writer_allowed(c)) {
		reply_err(c, "EPERM", "'%s' changes the cache: only root or the daemon's user (uid %u)",
			  req->cmd, (unsigned)geteuid());
		return;
	}
	if (!strcmp(req->cmd, "refresh")) {
		cmd_refresh(c, req);
	} else if (!strcmp(req->cmd, "flush")) {
		resolver_flush(c->srv->res);
		LOG_INFO("cache flushed by uid %u", (unsigned)c->uid);
		strbuf_printf(&c->out, "OK 0\n");
	} else if (!strcmp(req->cmd, "delete")) {
		const char *s = ctl_arg(req, "dgid");
		union ibv_gid dgid;
		size_t n;

		if (!s || req->n_args != 1 || pr_from_text_gid(s, &dgid) < 0) {
			reply_err(c, "EINVAL", "delete wants exactly dgid=GID");
			return;
		}
		n = pr_cache_remove_if(cache, dgid_matches, &dgid);
		LOG_INFO("%zu paths to %s deleted by uid %u", n, s, (unsigned)c->uid);
		strbuf_printf(&c->out, "OK 1\nremoved=%zu\n", n);
	} else { /* add */
		const char *hex = ctl_arg(req, "rec");
		struct ibv_path_record rec;
		struct pr_origin origin = { PR_SRC_CLI, 0, 0 };
		struct pr_tuple t;
		union ibv_gid dgid;
		uint16_t tuple;
		int ret;

		if (!hex || req->n_args != 1 || ctl_hex_decode(hex, &rec, sizeof(rec)) < 0) {
			reply_err(c, "EINVAL", "add wants exactly rec=<128 hex digits>");
			return;
		}
		memset(&t, 0, sizeof(t));
		memcpy(&t.sgid, &rec.sgid, sizeof(t.sgid));
		memcpy(&dgid, &rec.dgid, sizeof(dgid));
		ret = pr_cache_tuple(cache, &t, true, &tuple);
		if (ret >= 0)
			ret = pr_cache_replace(cache, tuple, &dgid, &rec, 1, &origin, loop_now_ms());
		if (ret < 0) {
			reply_err(c, "EIO", "cannot add: %s", strerror(-ret));
			return;
		}
		strbuf_printf(&c->out, "OK 0\n");
	}
}

static void dispatch(struct ctl_client *c, char *line)
{
	struct ctl_request req;

	c->srv->requests++;
	if (ctl_parse(line, &req) < 0) {
		reply_err(c, "EINVAL", "malformed request: want 'COMMAND key=value ...'");
		return;
	}
	if (!strcmp(req.cmd, "path"))
		cmd_path(c, &req);
	else if (!strcmp(req.cmd, "stats"))
		stats_json(c);
	else if (!strcmp(req.cmd, "dump"))
		cmd_dump(c);
	else if (!strcmp(req.cmd, "info"))	/* liblocalsa asks where the snapshot is */
		strbuf_printf(&c->out, "OK 1\nshm=%s\n",
			      c->srv->opts.shm_name ? c->srv->opts.shm_name : "");
	else if (!strcmp(req.cmd, "refresh") || !strcmp(req.cmd, "flush") ||
		 !strcmp(req.cmd, "add") || !strcmp(req.cmd, "delete"))
		cmd_write(c, &req);
	else
		reply_err(c, "EINVAL", "unknown command '%s'", req.cmd);
}

/* Runs every complete line in the input, one at a time, unless parked. */
static void client_process(struct ctl_client *c)
{
	while (!c->parked && !c->hangup) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t used;

		if (!nl) {
			if (c->in_len >= CTL_MAX_LINE) {
				reply_err(c, "E2BIG", "request longer than %d bytes", CTL_MAX_LINE);
				c->hangup = true;
			}
			break;
		}
		*nl = '\0';
		used = (size_t)(nl - c->in) + 1;
		if (nl > c->in && nl[-1] == '\r')
			nl[-1] = '\0';
		dispatch(c, c->in);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (c->out.err) {
			strbuf_reset(&c->out);
			reply_err(c, "E2BIG", "reply too large");
			c->hangup = true;
		}
	}
	if (c->fd >= 0)
		client_flush_watch(c);
}

static void client_io(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_client *c = arg;

	(void)loop;
	if (events & EPOLLOUT && c->out.len) {
		ssize_t n = send(fd, c->out.buf, c->out.len, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(c);
			return;
		}
		if (n > 0)
			strbuf_consume(&c->out, (size_t)n);
		if (!c->out.len && c->hangup) {
			client_close(c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->parked) {
		ssize_t n = recv(fd, c->in + c->in_len, CTL_MAX_LINE - c->in_len, 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n > 0) {
			c->in_len += (size_t)n;
			client_process(c);
			return;
		}
	} else if (events & (EPOLLHUP | EPOLLERR) && c->parked) {
		client_close(c);
		return;
	}
	client_flush_watch(c);
}

static void server_accept(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_server *s = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_client *c;
	int cfd;

	(void)events;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (s->n_clients >= s->opts.max_clients) {
			static const char busy[] = "ERR EBUSY too many control clients\n";

			s->rejected_clients++;
			(void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			free(c);
			close(cfd);
			continue;
		}
		c->srv = s;
		c->fd = cfd;
		c->uid = cred.uid;
		strbuf_init(&c->out, REPLY_MAX);
		if (loop_add_fd(loop, cfd, EPOLLIN, client_io, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = s->clients;
		s->clients = c;
		s->n_clients++;
	}
}

int ctl_server_new(struct loop *loop, struct resolver *res, struct sa_client *sa,
		   const struct ctl_server_opts *opts, struct ctl_server **out)
{
	struct ctl_server *s;
	int ret;

	if (strlen(opts->path) >= sizeof(s->path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->res = res;
	s->sa = sa;
	s->opts = *opts;
	if (!s->opts.max_clients)
		s->opts.max_clients = 64;
	snprintf(s->path, sizeof(s->path), "%s", opts->path);
	/* A live daemon's socket is never taken over; a stale one is replaced. */
	ret = door_listen_unix(s->path, opts->mode, 64, &s->fd, &s->bound);
	if (ret < 0) {
		LOG_ERR("control socket %s: %s%s", s->path, strerror(-ret),
			ret == -EADDRINUSE ? " (is another localsad serving it?)" : "");
		goto out_free;
	}
	ret = loop_add_fd(loop, s->fd, EPOLLIN, server_accept, s);
	if (ret < 0)
		goto out_close;
	*out = s;
	return 0;

out_close:
	close(s->fd);
	if (s->bound)
		unlink(s->path);
out_free:
	free(s);
	return ret;
}

void ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return;
	while (s->clients) {
		struct ctl_client *c = s->clients;

		if (c->parked) { /* no callback may reach a freed client */
			if (c->waiter > 0)
				resolver_cancel(s->res, c->waiter);
			resolver_cancel_fill(s->res, c);
		}
		if (c->fd >= 0) {
			loop_del_fd(s->loop, c->fd);
			close(c->fd);
		}
		s->clients = c->next;
		strbuf_free(&c->out);
		free(c);
	}
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	if (s->bound)
		unlink(s->path);
	free(s);
}
