/*
 * ctl_server - see ctl_server.h. A request is one line; its reply is queued whole (records,
 * errors, stats), except `dump`, whose lines are produced from a resumable walk of the cache
 * as the client reads them, so no client holds more than a few replies' worth of memory. A
 * dump promises "OK n" lines for the n paths cached when it starts; if paths leave the cache
 * before the walk reaches them, the connection is closed after the lines there are (the CLI
 * prints what came).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/umad_sa.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "doors/ctl_server.h"
#include "doors/door_stream.h"
#include "fabric/path_service.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum {
	DEFAULT_MAX_CLIENTS = 64,
	ROOT_SLOTS = 1,			/* so that root can always get in to flush or refresh */
	DEFAULT_IDLE_MS = 60000,	/* liblocalsa reconnects a kept connection that was closed */
	PARTIAL_MS = 5000,
	OUT_HIGH = 32 << 10,		/* ~2 of the largest path replies (128 paths, 16.6 KB) */
	OUT_MAX = 128 << 10,		/* OUT_HIGH + the largest single reply */
	DEFAULT_NEW_TUPLES = 64,
	DEFAULT_NEW_TUPLES_PER_S = 4,
	DUMP_CHUNK = 64,		/* paths per produce() call */
	MSG_MAX = 512,			/* an error's message */
	REPLY_LINE_MAX = MSG_MAX + 64,	/* "ERR CODE message\n", a dump line */
	BACKLOG = 64,
};

/* Per client, in the core's client (ds_state). */
struct ctl_client {
	int64_t waiter;			/* the service's lookup while > 0 */
	bool refresh_wait;		/* a refresh callback will come */
	struct pr_cache_scan scan;	/* dump in progress */
	uint64_t dump_left;		/* lines the dump still owes */
	uint64_t dump_now_s;
};

struct ctl_server {
	struct loop *loop;
	struct path_service *svc;
	struct ctl_server_opts opts;
	struct door_stream *ds;
	uint64_t requests, errors;
};

/* --- replies -------------------------------------------------------------- */

/* Queues text; a reply that does not fit the client's output ends the connection. */
static void send_text(struct ds_client *c, const char *buf, size_t len)
{
	static const char too_big[] = "ERR E2BIG reply too large\n";

	if (ds_reply(c, buf, len) == 0)
		return;
	(void)ds_reply(c, too_big, sizeof(too_big) - 1);
	ds_close_after_reply(c);
}

static void reply(struct ds_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One formatted reply of at most REPLY_LINE_MAX bytes; a longer one is cut, its last line
 * still ended (the client counts lines). */
static void reply(struct ds_client *c, const char *fmt, ...)
{
	char msg[REPLY_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg)) {
		n = sizeof(msg) - 1;
		msg[n - 1] = '\n';
	}
	send_text(c, msg, (size_t)n);
}

static void reply_err(struct ds_client *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_err(struct ds_client *c, const char *code, const char *fmt, ...)
{
	struct ctl_server *s = ds_door(c);
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	s->errors++;
	reply(c, "ERR %s %s\n", code, msg);
}

static void reply_records(struct ds_client *c, const struct ibv_path_record *recs, size_t n)
{
	char hex[2 * PR_LEN + 1];
	struct strbuf sb;

	strbuf_init(&sb, OUT_MAX);
	strbuf_printf(&sb, "OK %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		ctl_hex_encode(&recs[i], PR_LEN, hex);
		strbuf_printf(&sb, "%s\n", hex);
	}
	if (sb.err)
		reply_err(c, "E2BIG", "reply too large");
	else
		send_text(c, sb.buf, sb.len);
	strbuf_free(&sb);
}

/* --- path ----------------------------------------------------------------- */

/* Fills a pr_request from key=value arguments; writes an ERR on failure. */
static bool parse_path_args(struct ds_client *c, const struct ctl_request *req,
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
		if (pr_from_text_gid(s, &pr->sgid) < 0)
			goto bad_gid;
		pr->has |= PR_REQ_SGID;
	}
	if ((s = ctl_arg(req, "dgid"))) {
		if (pr_from_text_gid(s, &pr->dgid) < 0)
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

/* The service's answer, inside path_service_resolve() (a hit) or later. */
static void path_done(void *arg, int err, uint8_t sa_status, const struct ibv_path_record *recs,
		      size_t n)
{
	struct ds_client *c = arg;
	struct ctl_client *cc = ds_state(c);

	cc->waiter = 0;
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
	ds_resume(c);
}

static void cmd_path(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	struct ctl_client *cc = ds_state(c);
	const char *sa = ctl_arg(req, "sa");
	struct path_query q = { .quota = ds_quota(c) };
	int64_t ret;

	if (!parse_path_args(c, req, &q.req))
		return;
	q.flags = sa && !strcmp(sa, "1") ? PATH_Q_SA : 0;
	ds_park(c);
	ret = path_service_resolve(s->svc, &q, path_done, c);
	if (ret > 0) {
		cc->waiter = ret;
		return;
	}
	if (ret == 0)
		return;		/* answered (and resumed) already */
	if (ret == -EADDRNOTAVAIL)
		reply_err(c, "EINVAL", "sgid=%s is not a port this daemon serves",
			  ctl_arg(req, "sgid"));
	else if (ret == -EDQUOT)
		reply_err(c, "EBUSY", "too many new kinds of request (ServiceID, PKey, QoS class, "
			  "SL, TClass) from uid %u: try again later", (unsigned)ds_uid(c));
	else
		reply_err(c, "EIO", "cannot resolve: %s", strerror((int)-ret));
	ds_resume(c);
}

/* --- stats and dump -------------------------------------------------------- */

static void cmd_stats(struct ds_client *c)
{
	struct ctl_server *s = ds_door(c);
	struct door_stream_stats st;
	struct strbuf sb;
	struct json j;

	door_stream_stats(s->ds, &st);
	strbuf_init(&sb, OUT_MAX);
	strbuf_printf(&sb, "OK 1\n");
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	if (s->opts.extra_stats)
		s->opts.extra_stats(s->opts.extra_arg, &j);
	path_service_stats_json(s->svc, &j);
	json_u64(&j, "control_requests", s->requests);
	json_u64(&j, "control_errors", s->errors);
	json_u64(&j, "control_clients", st.clients_now);
	json_u64(&j, "control_clients_rejected", st.rejected);
	json_u64(&j, "control_clients_evicted", st.evicted);
	json_u64(&j, "control_idle_closed", st.idle_closed);
	json_object_end(&j);
	strbuf_append(&sb, "\n", 1);
	if (json_finish(&j) < 0)
		reply_err(c, "EIO", "cannot write the stats");
	else
		send_text(c, sb.buf, sb.len);
	strbuf_free(&sb);
}

static bool dump_one(const struct pr_entry *e, void *arg)
{
	static const char *const src[] = { "sa", "set", "cli" };
	struct ds_client *c = arg;
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	const struct pr_tuple *t = pr_cache_tuple_get(path_service_cache(s->svc), e->tuple);
	char hex[2 * PR_LEN + 1];

	ctl_hex_encode(&e->rec, PR_LEN, hex);
	reply(c, "tuple=%u flags=0x%x source=%s source_lid=%u generation=%u age_s=%llu rec=%s\n",
	      e->tuple, t ? t->flags : 0, e->source < 3 ? src[e->source] : "?", e->source_lid,
	      e->generation, (unsigned long long)(cc->dump_now_s > e->added_s ?
						  cc->dump_now_s - e->added_s : 0), hex);
	cc->dump_left--;
	return cc->dump_left > 0;
}

/* The next chunk of a dump: a bounded number of lines per call, as the client reads. */
static bool dump_produce(struct ds_client *c)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	size_t max = cc->dump_left < DUMP_CHUNK ? (size_t)cc->dump_left : DUMP_CHUNK;

	if (cc->dump_left)
		pr_cache_scan(path_service_cache(s->svc), &cc->scan, max, dump_one, c);
	if (!cc->dump_left)
		return true;
	if (cc->scan.done) {	/* paths left while we walked: fewer lines than announced */
		LOG_DEBUG("dump: %llu paths left the cache during the dump",
			  (unsigned long long)cc->dump_left);
		ds_close_after_reply(c);
		return true;
	}
	return false;
}

static void cmd_dump(struct ds_client *c)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	struct pr_cache_stats cs;

	pr_cache_stats(path_service_cache(s->svc), &cs);
	reply(c, "OK %llu\n", (unsigned long long)cs.entries);
	cc->scan = (struct pr_cache_scan){ 0 };
	cc->dump_left = cs.entries;
	cc->dump_now_s = loop_now_ms() / 1000;
	if (cc->dump_left)
		ds_produce(c);
}

/* --- writes ---------------------------------------------------------------- */

static void refresh_done(void *arg, int err, size_t records)
{
	struct ds_client *c = arg;
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	struct path_fill f;

	cc->refresh_wait = false;
	path_service_last_fill(s->svc, &f);
	if (err)
		reply_err(c, err == -ETIMEDOUT ? "TIMEOUT" : "EIO", "refresh failed: %s",
			  err == -ETIMEDOUT ? "the SA did not answer" : strerror(-err));
	else
		reply(c, "OK 1\nrecords=%zu generation=%u ms=%llu swept=%llu\n", records,
		      f.generation, (unsigned long long)f.ms, (unsigned long long)f.swept);
	ds_resume(c);
}

static void cmd_refresh(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	const char *w = ctl_arg(req, "wait");
	bool wait = w && !strcmp(w, "1");
	int ret;

	if (wait) {
		ds_park(c);
		cc->refresh_wait = true;
	}
	ret = path_service_refresh(s->svc, wait ? refresh_done : NULL, c);
	if (ret < 0) {
		cc->refresh_wait = false;
		reply_err(c, "EIO", "cannot start a refresh: %s", strerror(-ret));
		ds_resume(c);
	} else if (!wait) {
		reply(c, "OK 0\n");
	}
}

static bool writer_allowed(struct ds_client *c)
{
	return ds_uid(c) == 0 || ds_uid(c) == geteuid();
}

static void cmd_write(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	unsigned uid = (unsigned)ds_uid(c);

	if (!writer_allowed(c)) {
		reply_err(c, "EPERM", "'%s' changes the cache: only root or the daemon's user (uid %u)",
			  req->cmd, (unsigned)geteuid());
		return;
	}
	if (!strcmp(req->cmd, "refresh")) {
		cmd_refresh(c, req);
	} else if (!strcmp(req->cmd, "flush")) {
		path_service_flush(s->svc);
		LOG_INFO("cache flushed by uid %u", uid);
		reply(c, "OK 0\n");
	} else if (!strcmp(req->cmd, "delete")) {
		const char *g = ctl_arg(req, "dgid");
		struct ibv_path_record q;
		size_t n;

		memset(&q, 0, sizeof(q));
		if (!g || req->n_args != 1 || pr_from_text_gid(g, &q.dgid) < 0) {
			reply_err(c, "EINVAL", "delete wants exactly dgid=GID");
			return;
		}
		n = path_service_delete(s->svc, &q, PR_CM_DGID);
		LOG_INFO("%zu paths to %s deleted by uid %u", n, g, uid);
		reply(c, "OK 1\nremoved=%zu\n", n);
	} else { /* add */
		const char *hex = ctl_arg(req, "rec");
		struct pr_origin origin = { PR_SRC_CLI, 0, 0 };
		struct ibv_path_record rec;
		int ret;

		if (!hex || req->n_args != 1 || ctl_hex_decode(hex, &rec, sizeof(rec)) < 0) {
			reply_err(c, "EINVAL", "add wants exactly rec=<128 hex digits>");
			return;
		}
		ret = path_service_add(s->svc, &rec, &origin);
		if (ret < 0) {
			reply_err(c, "EIO", "cannot add: %s", strerror(-ret));
			return;
		}
		reply(c, "OK 0\n");
	}
}

/* --- the codec ------------------------------------------------------------- */

static ssize_t ctl_frame(struct ds_client *c, const uint8_t *buf, size_t len)
{
	const uint8_t *nl = memchr(buf, '\n', len);

	if (nl)
		return nl - buf + 1;
	if (len < CTL_MAX_LINE)
		return 0;
	reply_err(c, "E2BIG", "request longer than %d bytes", CTL_MAX_LINE);
	return -1;
}

static void ctl_dispatch(struct ds_client *c, uint8_t *msg, size_t len)
{
	struct ctl_server *s = ds_door(c);
	char *line = (char *)msg;
	struct ctl_request req;

	line[len - 1] = '\0';
	if (len > 1 && line[len - 2] == '\r')
		line[len - 2] = '\0';
	s->requests++;
	if (ctl_parse(line, &req) < 0) {
		reply_err(c, "EINVAL", "malformed request: want 'COMMAND key=value ...'");
		return;
	}
	if (!strcmp(req.cmd, "path"))
		cmd_path(c, &req);
	else if (!strcmp(req.cmd, "stats"))
		cmd_stats(c);
	else if (!strcmp(req.cmd, "dump"))
		cmd_dump(c);
	else if (!strcmp(req.cmd, "info"))	/* liblocalsa asks where the snapshot is */
		reply(c, "OK 1\nshm=%s\n", s->opts.shm_name ? s->opts.shm_name : "");
	else if (!strcmp(req.cmd, "refresh") || !strcmp(req.cmd, "flush") ||
		 !strcmp(req.cmd, "add") || !strcmp(req.cmd, "delete"))
		cmd_write(c, &req);
	else
		reply_err(c, "EINVAL", "unknown command '%s'", req.cmd);
}

static void ctl_unfinished(struct ds_client *c, const uint8_t *buf, size_t len, bool timeout)
{
	(void)buf;
	(void)len;
	if (timeout)
		reply_err(c, "EINVAL", "request unfinished after %d ms: no end of line",
			  PARTIAL_MS);
}

/* No callback of the service may reach a client that is gone. */
static void ctl_closing(struct ds_client *c)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);

	if (cc->waiter > 0)
		path_service_cancel(s->svc, cc->waiter);
	if (cc->refresh_wait)
		path_service_cancel_refresh(s->svc, c);
}

static const struct door_stream_codec ctl_codec = {
	.frame = ctl_frame,
	.dispatch = ctl_dispatch,
	.unfinished = ctl_unfinished,
	.produce = dump_produce,
	.closing = ctl_closing,
};

/* --- public ---------------------------------------------------------------- */

int ctl_server_new(struct loop *loop, struct path_service *svc,
		   const struct ctl_server_opts *opts, struct ctl_server **out)
{
	static const char busy[] = "ERR EBUSY too many control clients\n";
	struct door_stream_opts so;
	struct ctl_server *s;
	bool inherited;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->svc = svc;
	s->opts = *opts;
	so = (struct door_stream_opts){
		.name = "control", .codec = &ctl_codec, .door = s,
		.state_size = sizeof(struct ctl_client), .in_max = CTL_MAX_LINE,
		.out_high = OUT_HIGH, .out_max = OUT_MAX,
		.max_clients = opts->max_clients ? opts->max_clients : DEFAULT_MAX_CLIENTS,
		.idle_ms = opts->idle_ms ? opts->idle_ms : DEFAULT_IDLE_MS,
		.partial_ms = PARTIAL_MS,
		.tuple_burst = opts->new_tuples ? opts->new_tuples : DEFAULT_NEW_TUPLES,
		.tuple_per_s = opts->new_tuples_per_s ? opts->new_tuples_per_s :
							DEFAULT_NEW_TUPLES_PER_S,
		.busy_msg = busy, .busy_len = sizeof(busy) - 1,
	};
	so.reserved_root = so.max_clients > ROOT_SLOTS ? ROOT_SLOTS : 0;
	ret = door_stream_new(loop, &so, &s->ds);
	if (ret < 0)
		goto out_free;
	/* A live daemon's socket is never taken over; a stale one is replaced. */
	ret = door_stream_listen_unix(s->ds, opts->path, opts->mode, BACKLOG, &inherited);
	if (ret < 0) {
		LOG_ERR("control socket %s: %s%s", opts->path, strerror(-ret),
			ret == -EADDRINUSE ? " (is another localsad serving it?)" : "");
		goto out_stream;
	}
	*out = s;
	return 0;

out_stream:
	door_stream_free(s->ds);
out_free:
	free(s);
	return ret;
}

void ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return;
	door_stream_free(s->ds);
	free(s);
}
