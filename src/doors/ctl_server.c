/*
 * ctl_server - see ctl_server.h. A request is one line; its reply is queued whole (records,
 * errors, stats), except `dump`, whose lines are produced as the client reads them, so no client
 * holds more than a few replies' worth of memory. Every line that goes out is written by the
 * control protocol's codec (wire/ctl_proto.h); this file only decides what to say.
 *
 * A dump lists the paths in the SA's order: destination by destination, each destination's paths
 * in the order the SA gave them, the destinations of a whole table (the default one, prefetched
 * ones) in the table's order - so `localsa dump --format saquery` equals `saquery -p --sgid` -
 * and those of other request kinds by DGID. It promises "OK n" lines for the n paths cached when
 * it starts; if paths leave the cache before the walk reaches them, the connection is closed
 * after the lines there are (the CLI prints what came).
 */
#include <errno.h>
#include <inttypes.h>
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
#include "base/token_bucket.h"
#include "doors/ctl_server.h"
#include "doors/door_listen.h"
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
	DUMP_CHUNK = 64,		/* paths per produce() call, about */
	MSG_MAX = 512,			/* an error's message */
	REPLY_LINE_MAX = MSG_MAX + 64,	/* "ERR CODE message\n", a dump line */
	BACKLOG = 64,
	PATHS_STACK = 128,		/* a destination's paths looked up without malloc */
	/* Dumps of users other than root and the daemon's: a plan holds 24 bytes per destination
	 * until the dump ends, and is made in one turn of the loop (~0.7 us per destination). */
	DUMP_PLANS_MAX = 2,		/* held at once */
	DEFAULT_DUMP_DESTS_PER_S = 200000,	/* destinations planned per second, door-wide */
};

/* One destination of a dump: its paths are looked up when the walk reaches it. */
struct dump_key {
	union ibv_gid dgid;
	uint32_t order;			/* its place in its tuple's table; UINT32_MAX: none */
	uint16_t tuple;
};

/* What a dump lists (dgid=, tuple=, source=). */
struct dump_filter {
	bool by_dgid, by_tuple, by_source;
	union ibv_gid dgid;
	uint16_t tuple;
	uint8_t source;			/* enum pr_source */
};

/* Per client, in the core's client (ds_state). */
struct ctl_client {
	int64_t waiter;			/* the service's lookup while > 0 */
	bool refresh_wait;		/* a refresh callback will come */
	struct dump_key *keys;		/* dump in progress: its destinations, in order */
	size_t n_keys, next_key;
	struct dump_filter filter;
	uint64_t dump_left;		/* lines the dump still owes */
	uint64_t dump_now_s;
	bool dump_limited;		/* its plan counts in dumps_limited */
};

struct ctl_server {
	struct loop *loop;
	struct path_service *svc;
	struct ctl_server_opts opts;
	struct door_stream *ds;
	uint64_t requests, errors;
	/* what operators did */
	uint64_t refreshes, flushes, adds, deletes, reloads;
	char busy[64];			/* the line a client turned away gets */
	unsigned dumps_limited;		/* plans held by others than root and the daemon's user */
	struct token_bucket dump_budget;	/* their destinations planned, dump_dests_per_s */
};

static const char *const source_names[] = { "sa", "set", "cli" };

/* --- replies -------------------------------------------------------------- */

/* Queues text; a reply that does not fit the client's output ends the connection. */
static void send_text(struct ds_client *c, const char *buf, size_t len)
{
	char too_big[64];
	int n;

	if (ds_reply(c, buf, len) == 0)
		return;
	n = ctl_reply_err(too_big, sizeof(too_big), -E2BIG, "reply too large");
	if (n > 0)
		(void)ds_reply(c, too_big, (size_t)n);
	ds_close_after_reply(c);
}

static void reply_err(struct ds_client *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "ERR <CODE> <message>": the code from err through the codec's table. */
static void reply_err(struct ds_client *c, int err, const char *fmt, ...)
{
	struct ctl_server *s = ds_door(c);
	char msg[MSG_MAX], line[REPLY_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->errors++;
	n = ctl_reply_err(line, sizeof(line), err, msg);
	if (n > 0)
		send_text(c, line, (size_t)n);
}

/* "OK 0": done, nothing to say. */
static void reply_ok0(struct ds_client *c)
{
	char line[32];
	int n = ctl_reply_ok(line, sizeof(line), 0);

	if (n > 0)
		send_text(c, line, (size_t)n);
}

/* "OK 1" and one key=value line. */
static void reply_kv(struct ds_client *c, const struct ctl_kv *kv, size_t n_kv)
{
	char line[CTL_MAX_LINE + 1];
	struct strbuf sb;
	int n;

	strbuf_init(&sb, OUT_MAX);
	n = ctl_reply_ok(line, sizeof(line), 1);
	if (n > 0)
		strbuf_append(&sb, line, (size_t)n);
	n = ctl_kv_encode(line, sizeof(line), kv, n_kv);
	if (n < 0)
		reply_err(c, n, "cannot encode the reply");
	else if (!strbuf_append(&sb, line, (size_t)n))
		send_text(c, sb.buf, sb.len);
	strbuf_free(&sb);
}

static void reply_records(struct ds_client *c, const struct ibv_path_record *recs, size_t n)
{
	char line[CTL_RECORD_HEX + 2];
	struct strbuf sb;
	int k;

	strbuf_init(&sb, OUT_MAX);
	k = ctl_reply_ok(line, sizeof(line), n);
	if (k > 0)
		strbuf_append(&sb, line, (size_t)k);
	for (size_t i = 0; i < n; i++) {
		k = ctl_reply_record(line, sizeof(line), &recs[i]);
		if (k > 0)
			strbuf_append(&sb, line, (size_t)k);
	}
	if (sb.err)
		reply_err(c, -E2BIG, "reply too large");
	else
		send_text(c, sb.buf, sb.len);
	strbuf_free(&sb);
}

/* "OK n" and the n lines of text (each ending in a newline). */
static void reply_lines(struct ds_client *c, const struct strbuf *text)
{
	char head[32];
	struct strbuf sb;
	uint64_t n = 0;
	int k;

	for (size_t i = 0; i < text->len; i++)
		n += text->buf[i] == '\n';
	strbuf_init(&sb, OUT_MAX);
	k = ctl_reply_ok(head, sizeof(head), n);
	if (k > 0)
		strbuf_append(&sb, head, (size_t)k);
	strbuf_append(&sb, text->buf, text->len);
	if (sb.err)
		reply_err(c, -E2BIG, "reply too large");
	else
		send_text(c, sb.buf, sb.len);
	strbuf_free(&sb);
}

/* --- path ----------------------------------------------------------------- */

/* The codec's view of a `path` request as the service's. */
static void path_request(const struct ctl_path_args *a, struct path_query *q)
{
	struct pr_request *r = &q->req;

	memset(r, 0, sizeof(*r));
	r->sgid = a->sgid;
	r->dgid = a->dgid;
	r->dlid = a->dlid;
	r->pkey = a->pkey;
	r->service_id = a->service_id;
	r->qos_class = a->qos_class;
	r->sl = a->sl;
	r->tclass = a->tclass;
	r->has = (a->has & CTL_PATH_SGID ? PR_REQ_SGID : 0) |
		 (a->has & CTL_PATH_DGID ? PR_REQ_DGID : 0) |
		 (a->has & CTL_PATH_DLID ? PR_REQ_DLID : 0);
	r->tuple_flags = (a->has & CTL_PATH_PKEY ? PR_TUPLE_PKEY : 0) |
			 (a->has & CTL_PATH_SERVICE_ID ? PR_TUPLE_SERVICE_ID : 0) |
			 (a->has & CTL_PATH_QOS_CLASS ? PR_TUPLE_QOS_CLASS : 0) |
			 (a->has & CTL_PATH_SL ? PR_TUPLE_SL : 0) |
			 (a->has & CTL_PATH_TCLASS ? PR_TUPLE_TCLASS : 0);
	q->flags = a->has & CTL_PATH_SA ? PATH_Q_SA : 0;
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
		reply_err(c, -ENOENT, "no path%s", sa_status ? " (the SA has no record)" : "");
	else if (err == -ETIMEDOUT)
		reply_err(c, -ETIMEDOUT, "the SA did not answer");
	else if (sa_status)
		reply_err(c, -EREMOTEIO, "the SA refused the request: %s",
			  sa_status_str((uint16_t)(sa_status << 8)));
	else
		reply_err(c, -EIO, "%s", strerror(-err));
	ds_resume(c);
}

static void cmd_path(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	struct ctl_client *cc = ds_state(c);
	struct path_query q = { .quota = ds_quota(c) };
	struct ctl_path_args a;
	char why[MSG_MAX];
	int64_t ret;

	if (ctl_path_decode(req, &a, why, sizeof(why)) < 0) {
		reply_err(c, -EINVAL, "%s", why);
		return;
	}
	path_request(&a, &q);
	ds_park(c);
	ret = path_service_resolve(s->svc, &q, path_done, c);
	if (ret > 0) {
		cc->waiter = ret;
		return;
	}
	if (ret == 0)
		return;		/* answered (and resumed) already */
	if (ret == -EADDRNOTAVAIL && ctl_arg(req, "sgid"))
		reply_err(c, -EADDRNOTAVAIL, "sgid=%s is not a port this daemon serves (or it is "
			  "down)", ctl_arg(req, "sgid"));
	else if (ret == -EADDRNOTAVAIL)
		reply_err(c, -EADDRNOTAVAIL, "no sgid and the default port is down: give sgid=");
	else if (ret == -EDQUOT)
		reply_err(c, -EBUSY, "too many new kinds of request (ServiceID, PKey, QoS class, "
			  "SL, TClass) from uid %u: try again later", (unsigned)ds_uid(c));
	else
		reply_err(c, -EIO, "cannot resolve: %s", strerror((int)-ret));
	ds_resume(c);
}

/* --- port: a port's GID by its name (the CLI's --port) ---------------------- */

static void cmd_port(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	struct path_port ports[PATH_PORTS_MAX], p;
	const char *name = ctl_arg(req, "name");
	char ca[sizeof(p.ca_name)], gid[INET6_ADDRSTRLEN], num[8], lid[8], here[256] = "";
	size_t n, len = 0;
	unsigned port_num;

	if (!name || req->n_args != 1 || ctl_port_name_decode(name, ca, sizeof(ca), &port_num)) {
		reply_err(c, -EINVAL, "want name=CA:N (a CA name and a port number 1-254)");
		return;
	}
	if (path_service_port_by_name(s->svc, ca, port_num, &p) < 0) {
		n = path_service_ports(s->svc, ports, PATH_PORTS_MAX);
		for (size_t i = 0; i < n && i < PATH_PORTS_MAX && len < sizeof(here); i++)
			if (ports[i].serving)
				len += (size_t)snprintf(here + len, sizeof(here) - len, "%s%s:%u",
							len ? ", " : "", ports[i].ca_name,
							ports[i].port_num);
		reply_err(c, -EINVAL, "no port %s served here (serving: %s)", name,
			  len ? here : "none");
		return;
	}
	pr_gid_to_text(&p.gid, gid);
	snprintf(num, sizeof(num), "%u", p.port_num);
	snprintf(lid, sizeof(lid), "%u", p.lid);
	reply_kv(c, (const struct ctl_kv[]){ { "ca", p.ca_name }, { "port", num }, { "gid", gid },
					     { "lid", lid } }, 4);
}

/* --- stats and status ------------------------------------------------------ */

static void stats_members(struct ctl_server *s, struct json *j)
{
	struct door_stream_stats st;

	door_stream_stats(s->ds, &st);
	if (s->opts.extra_stats)
		s->opts.extra_stats(s->opts.extra_arg, j);
	path_service_stats_json(s->svc, j);
	json_u64(j, "control_requests", s->requests);
	json_u64(j, "control_errors", s->errors);
	json_gauge(j, "control_clients", st.clients_now);
	json_u64(j, "control_clients_rejected", st.rejected);
	json_u64(j, "control_clients_evicted", st.evicted);
	json_u64(j, "control_idle_closed", st.idle_closed);
	json_object_begin(j, "operator");	/* what operators asked for at this door */
	json_u64(j, "refreshes", s->refreshes);
	json_u64(j, "flushes", s->flushes);
	json_u64(j, "adds", s->adds);
	json_u64(j, "deletes", s->deletes);
	json_u64(j, "reloads", s->reloads);
	json_object_end(j);
}

/* `stats`: one JSON line; `stats format=prometheus`: the same members as exposition lines. */
static void cmd_stats(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	const char *fmt = ctl_arg(req, "format");
	bool prom = fmt && !strcmp(fmt, "prometheus");
	struct strbuf sb;
	struct json j;

	if ((fmt && !prom && strcmp(fmt, "json")) || req->n_args > (fmt ? 1u : 0u)) {
		reply_err(c, -EINVAL, "stats takes format=json or format=prometheus only");
		return;
	}
	strbuf_init(&sb, OUT_MAX - 64);
	if (prom)
		json_init_prometheus(&j, &sb, "localsa_");
	else
		json_init(&j, &sb);
	json_object_begin(&j, NULL);
	stats_members(s, &j);
	json_object_end(&j);
	if (!prom)
		strbuf_append(&sb, "\n", 1);
	if (json_finish(&j) < 0)
		reply_err(c, -EIO, "cannot write the stats");
	else
		reply_lines(c, &sb);
	strbuf_free(&sb);
}

static void cmd_status(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	struct strbuf sb;
	struct json j;

	if (!s->opts.status || req->n_args) {
		reply_err(c, -EINVAL, s->opts.status ? "status takes no argument" :
			  "no status here");
		return;
	}
	strbuf_init(&sb, OUT_MAX - 64);
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	s->opts.status(s->opts.extra_arg, &j);
	json_object_end(&j);
	strbuf_append(&sb, "\n", 1);
	if (json_finish(&j) < 0)
		reply_err(c, -EIO, "cannot write the status");
	else
		reply_lines(c, &sb);
	strbuf_free(&sb);
}

/* Root and the daemon's own user: they may change the daemon, and their dumps are not limited. */
static bool writer_allowed(struct ds_client *c)
{
	return ds_uid(c) == 0 || ds_uid(c) == geteuid();
}

/* --- dump ------------------------------------------------------------------ */

static void dump_reset(struct ctl_server *s, struct ctl_client *cc)
{
	if (cc->dump_limited)
		s->dumps_limited--;
	cc->dump_limited = false;
	free(cc->keys);
	cc->keys = NULL;
	cc->n_keys = cc->next_key = 0;
	cc->dump_left = 0;
}

static bool filter_pass(const struct dump_filter *f, const struct pr_entry *e)
{
	return (!f->by_tuple || e->tuple == f->tuple) && (!f->by_source || e->source == f->source) &&
	       (!f->by_dgid || !memcmp(&e->rec.dgid, &f->dgid, sizeof(f->dgid)));
}

struct collect {
	struct ctl_client *cc;
	size_t cap;
	int err;
};

/* The first pass: every destination the dump lists, and how many lines it promises. The walk
 * gives a destination's paths together, so a new key starts where (tuple, DGID) changes. */
static bool collect_one(const struct pr_entry *e, void *arg)
{
	struct collect *k = arg;
	struct ctl_client *cc = k->cc;
	struct dump_key *last = cc->n_keys ? &cc->keys[cc->n_keys - 1] : NULL;

	if (!filter_pass(&cc->filter, e))
		return true;
	cc->dump_left++;
	if (last && last->tuple == e->tuple && !memcmp(&last->dgid, &e->rec.dgid, sizeof(last->dgid)))
		return true;
	if (cc->n_keys == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 256;
		struct dump_key *keys = realloc(cc->keys, cap * sizeof(*keys));

		if (!keys) {
			k->err = -ENOMEM;
			return false;
		}
		cc->keys = keys;
		k->cap = cap;
	}
	cc->keys[cc->n_keys++] = (struct dump_key){ e->rec.dgid, UINT32_MAX, e->tuple };
	return true;
}

static int key_by_tuple_dgid(const void *a, const void *b)
{
	const struct dump_key *x = a, *y = b;

	if (x->tuple != y->tuple)
		return x->tuple < y->tuple ? -1 : 1;
	return memcmp(&x->dgid, &y->dgid, sizeof(x->dgid));
}

static int key_by_order(const void *a, const void *b)
{
	const struct dump_key *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return memcmp(&x->dgid, &y->dgid, sizeof(x->dgid));
}

/* Puts one tuple's destinations (sorted by DGID) in the SA's order of its table, if it has one.
 * The order is read where the store keeps it: nothing is copied. */
static void order_tuple(struct ctl_server *s, struct dump_key *keys, size_t n)
{
	const union ibv_gid *order = NULL;
	size_t n_order = path_service_table_order(s->svc, keys[0].tuple, &order);

	for (size_t i = 0; i < n_order && i < UINT32_MAX; i++) {
		struct dump_key probe = { .dgid = order[i], .tuple = keys[0].tuple };
		struct dump_key *k = bsearch(&probe, keys, n, sizeof(*keys), key_by_tuple_dgid);

		if (k && k->order == UINT32_MAX)
			k->order = (uint32_t)i;
	}
	if (n_order)
		qsort(keys, n, sizeof(*keys), key_by_order);
}

static int dump_plan(struct ctl_server *s, struct ctl_client *cc)
{
	struct collect k = { cc, 0, 0 };
	struct pr_cache_stats cs;

	pr_cache_stats(path_service_cache(s->svc), &cs);
	if (cs.destinations) {	/* one allocation: at most a key per destination */
		cc->keys = malloc(cs.destinations * sizeof(*cc->keys));
		if (!cc->keys)
			return -ENOMEM;
		k.cap = cs.destinations;
	}
	pr_cache_foreach(path_service_cache(s->svc), collect_one, &k);
	if (k.err)
		return k.err;
	if (!cc->n_keys)
		return 0;
	qsort(cc->keys, cc->n_keys, sizeof(*cc->keys), key_by_tuple_dgid);
	for (size_t a = 0, b; a < cc->n_keys; a = b) {
		for (b = a + 1; b < cc->n_keys && cc->keys[b].tuple == cc->keys[a].tuple; b++)
			;
		order_tuple(s, cc->keys + a, b - a);
	}
	return 0;
}

static void dump_entry(struct ds_client *c, const struct pr_entry *e)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	const struct pr_tuple *t = pr_cache_tuple_get(path_service_cache(s->svc), e->tuple);
	struct ctl_dump_entry d = {
		.tuple = e->tuple, .flags = t ? t->flags : 0,
		.source = e->source < 3 ? source_names[e->source] : "?",
		.source_lid = e->source_lid, .generation = e->generation,
		.age_s = cc->dump_now_s > e->added_s ? cc->dump_now_s - e->added_s : 0,
		.rec = e->rec,
	};
	char line[REPLY_LINE_MAX];
	int n = ctl_dump_encode(line, sizeof(line), &d);

	if (n > 0)
		send_text(c, line, (size_t)n);
	cc->dump_left--;
}

/* The next chunk of a dump: a bounded number of destinations per call, as the client reads. */
static bool dump_produce(struct ds_client *c)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	const struct pr_cache *cache = path_service_cache(s->svc);
	const struct pr_entry *stack[PATHS_STACK], **ents;
	size_t lines = 0;

	while (cc->dump_left && cc->next_key < cc->n_keys && lines < DUMP_CHUNK) {
		const struct dump_key *k = &cc->keys[cc->next_key++];
		size_t n = pr_cache_lookup_dgid(cache, k->tuple, &k->dgid, stack, PATHS_STACK);

		ents = stack;
		if (n > PATHS_STACK) {
			ents = malloc(n * sizeof(*ents));
			if (!ents)
				break;
			n = pr_cache_lookup_dgid(cache, k->tuple, &k->dgid, ents, n);
		}
		for (size_t i = 0; i < n && cc->dump_left; i++)
			if (filter_pass(&cc->filter, ents[i])) {
				dump_entry(c, ents[i]);
				lines++;
			}
		if (ents != stack)
			free(ents);
	}
	if (!cc->dump_left) {
		dump_reset(s, cc);
		return true;
	}
	if (cc->next_key == cc->n_keys) {	/* paths left while we walked: fewer lines */
		LOG_DEBUG("dump: %" PRIu64 " paths left the cache during the dump", cc->dump_left);
		dump_reset(s, cc);
		ds_close_after_reply(c);
		return true;
	}
	return false;
}

/* dump [dgid=GID] [tuple=N] [source=sa|set|cli] */
static int dump_args(const struct ctl_request *req, struct dump_filter *f, char *why, size_t cap)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < req->n_args; i++) {
		const char *k = req->args[i].key, *v = req->args[i].val;
		uint64_t n;

		if (!strcmp(k, "dgid")) {
			if (pr_from_text_gid(v, &f->dgid) < 0) {
				snprintf(why, cap, "dgid: '%s' is not a GID", v);
				return -EINVAL;
			}
			f->by_dgid = true;
		} else if (!strcmp(k, "tuple")) {
			if (ctl_parse_u64(v, PR_TUPLE_MAX - 1, &n) < 0) {
				snprintf(why, cap, "tuple: '%s' is not a number in 0..%d", v,
					 PR_TUPLE_MAX - 1);
				return -EINVAL;
			}
			f->tuple = (uint16_t)n;
			f->by_tuple = true;
		} else if (!strcmp(k, "source")) {
			for (n = 0; n < 3 && strcmp(v, source_names[n]); n++)
				;
			if (n == 3) {
				snprintf(why, cap, "source: '%s' is not sa, set or cli", v);
				return -EINVAL;
			}
			f->source = (uint8_t)n;
			f->by_source = true;
		} else {
			snprintf(why, cap, "unknown argument '%s' (dgid, tuple, source)", k);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * A dump for someone other than root or the daemon's user: at most DUMP_PLANS_MAX held at once
 * and dump_dests_per_s destinations planned per second door-wide (a cache larger than that goes
 * once the budget is full, and leaves a debt), so that no local user makes the daemon hold
 * plans or spend its loop planning them without bound. 0, or -EBUSY with why.
 */
static int dump_admit(struct ctl_server *s, struct ctl_client *cc, char *why, size_t cap)
{
	struct pr_cache_stats cs;
	uint64_t now = loop_now_ms(), wait;

	if (s->dumps_limited >= DUMP_PLANS_MAX) {
		snprintf(why, cap, "%u dumps of other users are in progress: try again later",
			 s->dumps_limited);
		return -EBUSY;
	}
	pr_cache_stats(path_service_cache(s->svc), &cs);
	wait = token_bucket_wait_ms(&s->dump_budget, cs.destinations, now);
	if (wait) {
		snprintf(why, cap, "the cache was listed for other users just now: try again in "
			 "%" PRIu64 " ms", wait);
		return -EBUSY;
	}
	token_bucket_charge(&s->dump_budget, (int64_t)cs.destinations, now);
	s->dumps_limited++;
	cc->dump_limited = true;
	return 0;
}

static void cmd_dump(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	char why[MSG_MAX], head[32];
	int ret, n;

	dump_reset(s, cc);
	ret = dump_args(req, &cc->filter, why, sizeof(why));
	if (ret < 0) {
		reply_err(c, ret, "%s", why);
		return;
	}
	if (!writer_allowed(c)) {
		ret = dump_admit(s, cc, why, sizeof(why));
		if (ret < 0) {
			reply_err(c, ret, "%s", why);
			return;
		}
	}
	ret = dump_plan(s, cc);
	if (ret < 0) {
		dump_reset(s, cc);
		reply_err(c, ret, "cannot list the cache: %s", strerror(-ret));
		return;
	}
	n = ctl_reply_ok(head, sizeof(head), cc->dump_left);
	if (n > 0)
		send_text(c, head, (size_t)n);
	cc->dump_now_s = loop_now_ms() / 1000;
	if (cc->dump_left)
		ds_produce(c);
	else
		dump_reset(s, cc);
}

/* --- writes ---------------------------------------------------------------- */

static void refresh_done(void *arg, int err, size_t records)
{
	struct ds_client *c = arg;
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	char rec_s[24], gen_s[16], ms_s[24], swept_s[24];
	struct path_fill f;

	cc->refresh_wait = false;
	path_service_last_fill(s->svc, &f);
	if (err) {
		reply_err(c, err == -ETIMEDOUT ? -ETIMEDOUT : -EIO, "refresh failed: %s",
			  err == -ETIMEDOUT ? "the SA did not answer" : strerror(-err));
	} else {
		snprintf(rec_s, sizeof(rec_s), "%zu", records);
		snprintf(gen_s, sizeof(gen_s), "%u", f.generation);
		snprintf(ms_s, sizeof(ms_s), "%" PRIu64, f.ms);
		snprintf(swept_s, sizeof(swept_s), "%" PRIu64, f.swept);
		reply_kv(c, (const struct ctl_kv[]){ { "records", rec_s }, { "generation", gen_s },
						     { "ms", ms_s }, { "swept", swept_s } }, 4);
	}
	ds_resume(c);
}

static void cmd_refresh(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_client *cc = ds_state(c);
	struct ctl_server *s = ds_door(c);
	const char *w = ctl_arg(req, "wait");
	bool wait = w && !strcmp(w, "1");
	int ret;

	s->refreshes++;
	LOG_INFO("full refresh asked by uid %u", (unsigned)ds_uid(c));
	if (wait) {
		ds_park(c);
		cc->refresh_wait = true;
	}
	ret = path_service_refresh(s->svc, wait ? refresh_done : NULL, c);
	if (ret < 0) {
		cc->refresh_wait = false;
		reply_err(c, -EIO, "cannot start a refresh: %s", strerror(-ret));
		if (wait)
			ds_resume(c);
	} else if (!wait) {
		reply_ok0(c);
	}
}

/* What `add` accepts: a path a consumer could use, from one of our ports. */
static int check_added(struct ctl_server *s, const struct ibv_path_record *rec, char *why,
		       size_t cap)
{
	static const union ibv_gid zero;
	struct path_port port;

	if (!memcmp(&rec->dgid, &zero, sizeof(zero)) || !memcmp(&rec->sgid, &zero, sizeof(zero)))
		snprintf(why, cap, "the record has no %s", memcmp(&rec->dgid, &zero, sizeof(zero)) ?
			 "SGID" : "DGID");
	else if (!pr_dlid(rec) || pr_dlid(rec) >= 0xc000)
		snprintf(why, cap, "DLID %u is not a unicast LID", pr_dlid(rec));
	else if (!pr_mtu_bytes(pr_mtu(rec)))
		snprintf(why, cap, "MTU code %u is not 1-5 (256-4096 bytes)", pr_mtu(rec));
	else if (!strcmp(pr_rate_str(pr_rate(rec)), "?"))
		snprintf(why, cap, "rate code %u is not a known rate", pr_rate(rec));
	else if (path_service_port_by_gid(s->svc, &rec->sgid, &port) < 0)
		snprintf(why, cap, "its SGID is not a port this daemon serves");
	else
		return 0;
	return -EINVAL;
}

static void cmd_add(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	const char *hex = ctl_arg(req, "rec");
	struct pr_origin origin = { PR_SRC_CLI, 0, 0 };
	char why[MSG_MAX], dgid[INET6_ADDRSTRLEN];
	struct ibv_path_record rec;
	int ret;

	if (!hex || req->n_args != 1 || ctl_record_decode(hex, strlen(hex), &rec) < 0) {
		reply_err(c, -EINVAL, "add wants exactly rec=<128 hex digits>");
		return;
	}
	if (check_added(s, &rec, why, sizeof(why)) < 0) {
		reply_err(c, -EINVAL, "not added: %s", why);
		return;
	}
	ret = path_service_add(s->svc, &rec, &origin);
	if (ret < 0) {
		reply_err(c, -EIO, "cannot add: %s", strerror(-ret));
		return;
	}
	s->adds++;
	pr_gid_to_text(&rec.dgid, dgid);
	LOG_INFO("path to %s (DLID %u, SL %u, MTU %u, rate %s) added by uid %u", dgid,
		 pr_dlid(&rec), pr_sl(&rec), pr_mtu_bytes(pr_mtu(&rec)), pr_rate_str(pr_rate(&rec)),
		 (unsigned)ds_uid(c));
	reply_ok0(c);
}

static void cmd_delete(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	const char *g = ctl_arg(req, "dgid");
	struct ibv_path_record q;
	char removed[24];
	size_t n;

	memset(&q, 0, sizeof(q));
	if (!g || req->n_args != 1 || pr_from_text_gid(g, &q.dgid) < 0) {
		reply_err(c, -EINVAL, "delete wants exactly dgid=GID");
		return;
	}
	n = path_service_delete(s->svc, &q, PR_CM_DGID);
	s->deletes++;
	LOG_INFO("%zu paths to %s deleted by uid %u", n, g, (unsigned)ds_uid(c));
	snprintf(removed, sizeof(removed), "%zu", n);
	reply_kv(c, &(struct ctl_kv){ "removed", removed }, 1);
}

static void cmd_reload(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);
	struct ctl_reload_result r;

	if (!s->opts.reload || req->n_args) {
		reply_err(c, -EINVAL, s->opts.reload ? "reload takes no argument" : "no reload here");
		return;
	}
	memset(&r, 0, sizeof(r));
	s->reloads++;
	LOG_INFO("reload asked by uid %u", (unsigned)ds_uid(c));
	if (s->opts.reload(s->opts.extra_arg, &r) < 0) {
		reply_err(c, -EINVAL, "%s", *r.why ? r.why : "the configuration has errors");
		return;
	}
	reply_kv(c, (const struct ctl_kv[]){ { "applied", r.applied }, { "restart", r.restart } }, 2);
}

static void cmd_write(struct ds_client *c, const struct ctl_request *req)
{
	struct ctl_server *s = ds_door(c);

	if (!writer_allowed(c)) {
		reply_err(c, -EPERM, "'%s' changes the daemon: only root or the daemon's user "
			  "(uid %u)", req->cmd, (unsigned)geteuid());
		return;
	}
	if (!strcmp(req->cmd, "refresh")) {
		cmd_refresh(c, req);
	} else if (!strcmp(req->cmd, "flush")) {
		path_service_flush(s->svc);
		s->flushes++;
		LOG_INFO("cache flushed by uid %u", (unsigned)ds_uid(c));
		reply_ok0(c);
	} else if (!strcmp(req->cmd, "delete")) {
		cmd_delete(c, req);
	} else if (!strcmp(req->cmd, "reload")) {
		cmd_reload(c, req);
	} else {
		cmd_add(c, req);
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
	reply_err(c, -E2BIG, "request longer than %d bytes", CTL_MAX_LINE);
	return -1;
}

static void ctl_dispatch(struct ds_client *c, uint8_t *msg, size_t len)
{
	static const char *const writes[] = { "refresh", "flush", "add", "delete", "reload" };
	struct ctl_server *s = ds_door(c);
	char *line = (char *)msg;
	struct ctl_request req;
	char shm[256];

	line[len - 1] = '\0';
	s->requests++;
	LOG_DEBUG("control request from uid %u: %.200s", (unsigned)ds_uid(c), line);
	if (ctl_parse(line, &req) < 0) {
		reply_err(c, -EINVAL, "malformed request: want 'COMMAND key=value ...'");
		return;
	}
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		if (!strcmp(req.cmd, writes[i])) {
			cmd_write(c, &req);
			return;
		}
	if (!strcmp(req.cmd, "path")) {
		cmd_path(c, &req);
	} else if (!strcmp(req.cmd, "stats")) {
		cmd_stats(c, &req);
	} else if (!strcmp(req.cmd, "status")) {
		cmd_status(c, &req);
	} else if (!strcmp(req.cmd, "dump")) {
		cmd_dump(c, &req);
	} else if (!strcmp(req.cmd, "port")) {
		cmd_port(c, &req);
	} else if (!strcmp(req.cmd, "info")) {	/* liblocalsa asks where the snapshot is */
		snprintf(shm, sizeof(shm), "%s", s->opts.shm_name ? s->opts.shm_name : "");
		reply_kv(c, &(struct ctl_kv){ "shm", shm }, 1);
	} else {
		reply_err(c, -EINVAL, "unknown command '%s'", req.cmd);
	}
}

static void ctl_unfinished(struct ds_client *c, const uint8_t *buf, size_t len, bool timeout)
{
	(void)buf;
	(void)len;
	if (timeout)
		reply_err(c, -EINVAL, "request unfinished after %d ms: no end of line", PARTIAL_MS);
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
	dump_reset(s, cc);
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
	struct door_stream_opts so;
	struct ctl_server *s;
	uint32_t rate;
	bool inherited;
	int ret, n;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->svc = svc;
	s->opts = *opts;
	n = ctl_reply_err(s->busy, sizeof(s->busy), -EBUSY, "too many control clients");
	rate = opts->dump_dests_per_s ? opts->dump_dests_per_s : DEFAULT_DUMP_DESTS_PER_S;
	token_bucket_init(&s->dump_budget, rate, rate, loop_now_ms());
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
		.busy_msg = s->busy, .busy_len = n > 0 ? (size_t)n : 0,
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
	if (!inherited && opts->group && opts->group != (gid_t)-1) {
		ret = door_listen_chgrp(opts->path, opts->group);
		if (ret < 0) {
			LOG_ERR("control socket %s: cannot give it group %u: %s", opts->path,
				(unsigned)opts->group, strerror(-ret));
			goto out_stream;
		}
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
