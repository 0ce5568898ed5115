/*
 * port_set - see port_set.h. Ports sit in fixed slots (a slot number is part of every lookup
 * id handed out, so that a cancel finds its resolver); a refresh is one fill per port, joined
 * into one answer. Counters of ports that left are kept, so that the sums never go back.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/port_set.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"

_Static_assert((int)PATH_Q_SA == (int)RESOLVE_SA &&
	       (int)PATH_Q_CACHE_ONLY == (int)RESOLVE_CACHE_ONLY,
	       "the service passes lookup flags to the resolver unchanged");

enum { SLOT_BITS = 5 };	/* the low bits of a lookup id: the slot of its resolver */
_Static_assert(PATH_PORTS_MAX <= 1 << SLOT_BITS && PATH_PORTS_MAX <= 32,
	       "a slot fits in SLOT_BITS and in a refresh's 32-bit mask");

struct member {
	struct resolver *res;	/* NULL: a free slot */
	struct sa_client *sa;
	uint64_t node_guid;
	uint8_t num_ports;
};

struct refresh_join;

struct join_part {
	struct refresh_join *j;
	unsigned slot;
};

/* One refresh: a fill per port, answered once all are in. */
struct refresh_join {
	struct refresh_join *next;
	struct port_set *ps;
	path_refresh_fn fn;
	void *arg;
	uint32_t waiting;	/* slots whose fill is still out */
	bool starting;		/* the fills are being started: no answer yet */
	int err;		/* the first failure */
	size_t records;
	struct join_part parts[PATH_PORTS_MAX];
};

struct port_set {
	struct path_service *svc;
	struct pr_store *store;
	struct member m[PATH_PORTS_MAX];
	char def_ca[64];
	unsigned def_port;
	bool def_set;
	int def_slot;		/* the default's slot, -1: not served (def_find() keeps it) */
	struct refresh_join *joins;
	struct resolver_stats retired_rs;	/* the counters of ports that left */
	struct sa_client_stats retired_ss;
};

/* --- slots ---------------------------------------------------------------- */

static const struct mad_port *port_of(const struct member *m)
{
	return resolver_port(m->res);
}

static int slot_by_name(const struct port_set *ps, const char *ca, unsigned num)
{
	for (int i = 0; i < PATH_PORTS_MAX; i++)
		if (ps->m[i].res && (unsigned)port_of(&ps->m[i])->portnum == num &&
		    !strcmp(port_of(&ps->m[i])->ca_name, ca))
			return i;
	return -1;
}

static int slot_by_gid(const struct port_set *ps, const union ibv_gid *gid)
{
	for (int i = 0; i < PATH_PORTS_MAX; i++)
		if (ps->m[i].res && !memcmp(&port_of(&ps->m[i])->gid, gid, sizeof(*gid)))
			return i;
	return -1;
}

/* Looked up again whenever the ports or the default change; every lookup without an SGID
 * reads it (by name it took two scans with strcmp() per ACM request). */
static void def_find(struct port_set *ps)
{
	ps->def_slot = ps->def_set ? slot_by_name(ps, ps->def_ca, ps->def_port) : -1;
}

static int default_slot(const struct port_set *ps)
{
	return ps->def_slot;
}

/* A request's slot: its SGID's, else the default's; -1 when that port is not served. */
static int slot_of(const struct port_set *ps, const struct pr_request *req)
{
	return req->has & PR_REQ_SGID ? slot_by_gid(ps, &req->sgid) : default_slot(ps);
}

/* The port read now: its LID, SM and GID follow the fabric (mad_port_refresh). Every lookup
 * asks for its port, so no formatting here: the name is copied as it is. */
static void describe(const struct member *m, struct path_port *out)
{
	const struct mad_port *mp = port_of(m);
	uint64_t guid;

	_Static_assert(sizeof(out->ca_name) == sizeof(mp->ca_name), "one CA name length");
	memset(out, 0, sizeof(*out));
	memcpy(out->ca_name, mp->ca_name, sizeof(out->ca_name) - 1);
	out->port_num = (unsigned)mp->portnum;
	memcpy(&guid, mp->gid.raw + 8, sizeof(guid));
	out->node_guid = m->node_guid ? m->node_guid : be64toh(guid);
	out->num_ports = m->num_ports;
	out->gid = mp->gid;
	out->lid = mp->lid;
	out->lmc = mp->lmc;
	out->sm_lid = mp->sm_lid;
	out->serving = true;
}

/* --- refresh: one fill per port ------------------------------------------ */

static void join_finish(struct refresh_join *j)
{
	struct port_set *ps = j->ps;

	for (struct refresh_join **pp = &ps->joins; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	if (j->fn)
		j->fn(j->arg, j->err, j->records);
	free(j);
}

static void join_part_done(struct refresh_join *j, unsigned slot, int err, size_t records)
{
	j->waiting &= ~(1u << slot);
	if (err && !j->err)
		j->err = err;
	j->records += records;
	if (!j->waiting && !j->starting)
		join_finish(j);
}

static void part_filled(void *arg, int err, size_t records)
{
	struct join_part *p = arg;

	join_part_done(p->j, p->slot, err, records);
}

static int ps_refresh(void *ctx, path_refresh_fn fn, void *arg)
{
	struct port_set *ps = ctx;
	struct refresh_join *j;
	int ret;

	if (!port_set_count(ps))
		return -EADDRNOTAVAIL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct refresh_join){ .next = ps->joins, .ps = ps, .fn = fn, .arg = arg,
				    .starting = true };
	ps->joins = j;
	for (unsigned i = 0; i < PATH_PORTS_MAX; i++)
		if (ps->m[i].res)
			j->waiting |= 1u << i;
	for (unsigned i = 0; i < PATH_PORTS_MAX; i++) {
		if (!ps->m[i].res)
			continue;
		j->parts[i] = (struct join_part){ j, i };
		ret = resolver_fill(ps->m[i].res, part_filled, &j->parts[i]);
		if (ret < 0)
			join_part_done(j, i, ret, 0);
	}
	j->starting = false;
	if (!j->waiting)
		join_finish(j);
	return 0;
}

/* The refreshes of arg: no callback will run. */
static void ps_cancel_refresh(void *ctx, void *arg)
{
	struct port_set *ps = ctx;
	struct refresh_join **pp = &ps->joins;

	while (*pp) {
		struct refresh_join *j = *pp;

		if (j->arg != arg) {
			pp = &j->next;
			continue;
		}
		for (unsigned i = 0; i < PATH_PORTS_MAX; i++)
			if (j->waiting & (1u << i))
				resolver_cancel_fill(ps->m[i].res, &j->parts[i]);
		*pp = j->next;
		free(j);
	}
}

/* --- the backend ------------------------------------------------------------ */

static int64_t ps_resolve(void *ctx, const struct pr_request *req, unsigned flags,
			  path_answer_fn fn, void *arg)
{
	struct port_set *ps = ctx;
	int slot = slot_of(ps, req);
	int64_t id;

	if (slot < 0)
		return -EADDRNOTAVAIL;
	id = resolver_resolve(ps->m[slot].res, req, flags, fn, arg);
	return id > 0 ? id << SLOT_BITS | slot : id;
}

static void ps_cancel(void *ctx, int64_t id)
{
	struct port_set *ps = ctx;
	struct member *m = &ps->m[id & ((1 << SLOT_BITS) - 1)];

	if (m->res)
		resolver_cancel(m->res, id >> SLOT_BITS);
}

/* Every port served and the ones that left, as one. */
static void sums(const struct port_set *ps, struct resolver_stats *rs, struct sa_client_stats *ss)
{
	*rs = ps->retired_rs;
	*ss = ps->retired_ss;
	rs->filling = false;
	for (unsigned i = 0; i < PATH_PORTS_MAX; i++) {
		struct resolver_stats r;
		struct sa_client_stats s;

		if (!ps->m[i].res)
			continue;
		resolver_stats(ps->m[i].res, &r);
		sa_client_stats(ps->m[i].sa, &s);
		resolver_stats_add(rs, &r);
		sa_client_stats_add(ss, &s);
	}
}

static void ps_last_fill(void *ctx, struct path_fill *out)
{
	struct port_set *ps = ctx;
	struct resolver_stats rs;
	struct sa_client_stats ss;

	sums(ps, &rs, &ss);
	*out = (struct path_fill){ pr_store_generation(ps->store), rs.last_fill_ms,
				   rs.last_fill_swept, rs.filling };
}

/* The default port first (not served: its name, serving false), then the others served. */
static size_t ps_ports(void *ctx, struct path_port *out, size_t max)
{
	struct port_set *ps = ctx;
	int def = default_slot(ps);
	size_t n = 0;

	if (ps->def_set) {
		if (n < max && def >= 0) {
			describe(&ps->m[def], &out[n]);
		} else if (n < max) {
			memset(&out[n], 0, sizeof(out[n]));
			snprintf(out[n].ca_name, sizeof(out[n].ca_name), "%s", ps->def_ca);
			out[n].port_num = ps->def_port;
		}
		n++;
	}
	for (int i = 0; i < PATH_PORTS_MAX; i++) {
		if (!ps->m[i].res || i == def)
			continue;
		if (n < max)
			describe(&ps->m[i], &out[n]);
		n++;
	}
	return n;
}

static int ps_default_port(void *ctx, struct path_port *out)
{
	struct port_set *ps = ctx;
	int def = default_slot(ps);

	if (def < 0)
		return -ENOENT;
	describe(&ps->m[def], out);
	return 0;
}

static void counters_json(struct json *j, const struct resolver_stats *rs,
			  const struct sa_client_stats *ss)
{
	json_object_begin(j, "sa_queries");
	for (int m = 0; m < SA_STAT_METHODS; m++)
		json_u64(j, sa_stat_name(m), ss->sent[m]);
	json_object_end(j);
	json_u64(j, "sa_attempts", ss->attempts);
	json_u64(j, "sa_retries", ss->retries);
	json_u64(j, "sa_timeouts", ss->timeouts);
	json_u64(j, "sa_failures", ss->failures);
	json_gauge(j, "sa_outstanding", ss->outstanding_now);
	json_gauge(j, "sa_queued", ss->queued_now);
	json_u64(j, "cache_hits", rs->hits);
	json_u64(j, "cache_misses", rs->misses);
	json_u64(j, "negative_hits", rs->negative_hits);
	json_u64(j, "coalesced", rs->coalesced);
	json_u64(j, "sa_no_path", rs->sa_no_path);
	json_u64(j, "sa_errors", rs->sa_errors);
	json_u64(j, "prefetch_tuples", rs->prefetch_tuples);
	json_u64(j, "prefetch_records", rs->prefetch_records);
	json_u64(j, "prefetch_failures", rs->prefetch_failures);
	json_gauge(j, "generation", rs->generation);
	json_u64(j, "fills", rs->fills);
	json_u64(j, "fill_failures", rs->fill_failures);
	json_gauge(j, "last_fill_records", rs->last_fill_records);
	json_gauge(j, "last_fill_ms", rs->last_fill_ms);
	json_gauge(j, "last_fill_swept", rs->last_fill_swept);
	json_bool(j, "refreshing", rs->filling);
}

static void ps_stats_json(void *ctx, struct json *j)
{
	struct resolver_stats rs;
	struct sa_client_stats ss;

	sums(ctx, &rs, &ss);
	counters_json(j, &rs, &ss);
}

void port_set_port_stats_json(const struct resolver *res, const struct sa_client *sa,
			      struct json *j)
{
	struct resolver_stats rs;
	struct sa_client_stats ss;

	resolver_stats(res, &rs);
	sa_client_stats(sa, &ss);
	counters_json(j, &rs, &ss);
}

static const struct path_backend_ops port_set_ops = {
	.resolve = ps_resolve,
	.cancel = ps_cancel,
	.refresh = ps_refresh,
	.cancel_refresh = ps_cancel_refresh,
	.last_fill = ps_last_fill,
	.ports = ps_ports,
	.default_port = ps_default_port,
	.stats_json = ps_stats_json,
};

/* --- public ----------------------------------------------------------------- */

int port_set_new(struct pr_store *store, struct port_set **out)
{
	struct port_set *ps;
	int ret;

	if (!store || !out)
		return -EINVAL;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->store = store;
	ps->def_slot = -1;
	ret = path_service_new(store, &port_set_ops, ps, &ps->svc);
	if (ret < 0) {
		free(ps);
		return ret;
	}
	*out = ps;
	return 0;
}

void port_set_free(struct port_set *ps)
{
	struct refresh_join *j;

	if (!ps)
		return;
	while ((j = ps->joins)) {
		ps->joins = j->next;
		free(j);
	}
	path_service_free(ps->svc);
	free(ps);
}

struct path_service *port_set_service(const struct port_set *ps)
{
	return ps->svc;
}

void port_set_set_default(struct port_set *ps, const char *ca, unsigned port_num)
{
	snprintf(ps->def_ca, sizeof(ps->def_ca), "%s", ca);
	ps->def_port = port_num;
	ps->def_set = true;
	def_find(ps);
}

int port_set_serve(struct port_set *ps, struct resolver *res, struct sa_client *sa)
{
	const struct mad_port *mp = res ? resolver_port(res) : NULL;
	int free_slot = -1;

	if (!mp || !sa)
		return -EINVAL;
	if (slot_by_name(ps, mp->ca_name, (unsigned)mp->portnum) >= 0 ||
	    slot_by_gid(ps, &mp->gid) >= 0)
		return -EEXIST;
	for (int i = PATH_PORTS_MAX - 1; i >= 0; i--)
		if (!ps->m[i].res)
			free_slot = i;
	if (free_slot < 0)
		return -ENOSPC;
	ps->m[free_slot] = (struct member){ res, sa, 0, 0 };
	/* The CA's identity does not change while the port is open: read it once. */
	if (mad_port_ca_info(mp, &ps->m[free_slot].node_guid, &ps->m[free_slot].num_ports) < 0)
		ps->m[free_slot].node_guid = ps->m[free_slot].num_ports = 0;
	if (!ps->def_set)
		port_set_set_default(ps, mp->ca_name, (unsigned)mp->portnum);
	def_find(ps);
	return 0;
}

void port_set_unserve(struct port_set *ps, const struct resolver *res)
{
	struct resolver_stats rs;
	struct sa_client_stats ss;
	struct refresh_join *j, *next;
	unsigned slot;

	for (slot = 0; slot < PATH_PORTS_MAX && ps->m[slot].res != res; slot++)
		;
	if (!res || slot == PATH_PORTS_MAX)
		return;
	for (j = ps->joins; j; j = next) {
		next = j->next;
		if (!(j->waiting & (1u << slot)))
			continue;
		resolver_cancel_fill(ps->m[slot].res, &j->parts[slot]);
		join_part_done(j, slot, 0, 0);
	}
	resolver_stats(res, &rs);
	sa_client_stats(ps->m[slot].sa, &ss);
	rs.filling = false;	/* the levels leave with the port; the counts stay */
	rs.last_fill_records = rs.last_fill_swept = rs.last_fill_ms = 0;
	ss.queued_now = ss.outstanding_now = ss.queued_background_now = 0;
	resolver_stats_add(&ps->retired_rs, &rs);
	sa_client_stats_add(&ps->retired_ss, &ss);
	memset(&ps->m[slot], 0, sizeof(ps->m[slot]));
	def_find(ps);
}

unsigned port_set_count(const struct port_set *ps)
{
	unsigned n = 0;

	for (unsigned i = 0; i < PATH_PORTS_MAX; i++)
		n += ps->m[i].res != NULL;
	return n;
}
