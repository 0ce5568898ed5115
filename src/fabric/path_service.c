/*
 * path_service - see path_service.h. The service checks what is the same for every door
 * (which port a request is for, the requester's quota of new tuples) and passes the rest to
 * the store or the backend; the resolver backend is a set of one-line adapters at the end.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/quota.h"
#include "fabric/mad_port.h"
#include "fabric/path_service.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"

_Static_assert((int)PATH_Q_SA == (int)RESOLVE_SA &&
	       (int)PATH_Q_CACHE_ONLY == (int)RESOLVE_CACHE_ONLY,
	       "the service passes lookup flags to the resolver unchanged");

struct path_service {
	struct pr_store *store;
	const struct path_backend_ops *ops;
	void *ctx;
	uint64_t quota_refused;		/* lookups refused: the requester's new tuples were spent */
	uint64_t foreign_sgid;		/* lookups refused: the SGID is no port served */
	/* the resolver backend */
	struct resolver *res;
	struct sa_client *sa;
	uint64_t node_guid;
	uint8_t num_ports;
};

int path_service_new(struct pr_store *store, const struct path_backend_ops *ops, void *ctx,
		     struct path_service **out)
{
	struct path_service *s;

	if (!store || !ops || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->store = store;
	s->ops = ops;
	s->ctx = ctx;
	*out = s;
	return 0;
}

void path_service_free(struct path_service *s)
{
	free(s);
}

/* --- ports ---------------------------------------------------------------- */

size_t path_service_ports(struct path_service *s, struct path_port *out, size_t max)
{
	return s->ops->ports(s->ctx, out, max);
}

/* The first port p matches, or -ENOENT. */
static int port_find(struct path_service *s, bool (*p)(const struct path_port *, const void *),
		     const void *key, struct path_port *out)
{
	struct path_port ports[PATH_PORTS_MAX];
	size_t n = path_service_ports(s, ports, PATH_PORTS_MAX);

	for (size_t i = 0; i < n && i < PATH_PORTS_MAX; i++)
		if (p(&ports[i], key)) {
			*out = ports[i];
			return 0;
		}
	return -ENOENT;
}

static bool any_port(const struct path_port *p, const void *key)
{
	(void)p;
	(void)key;
	return true;
}

static bool port_has_gid(const struct path_port *p, const void *key)
{
	return !memcmp(&p->gid, key, sizeof(p->gid));
}

static bool port_has_lid(const struct path_port *p, const void *key)
{
	uint32_t lid = *(const uint16_t *)key;

	return p->lid && lid >= p->lid && lid < p->lid + (1u << (p->lmc & 7));
}

struct port_name {
	const char *ca;
	unsigned num;
};

static bool port_has_name(const struct path_port *p, const void *key)
{
	const struct port_name *n = key;

	return p->port_num == n->num && !strcmp(p->ca_name, n->ca);
}

int path_service_default_port(struct path_service *s, struct path_port *out)
{
	return port_find(s, any_port, NULL, out);
}

int path_service_port_by_gid(struct path_service *s, const union ibv_gid *gid,
			     struct path_port *out)
{
	return port_find(s, port_has_gid, gid, out);
}

int path_service_port_by_lid(struct path_service *s, uint16_t lid, struct path_port *out)
{
	return port_find(s, port_has_lid, &lid, out);
}

int path_service_port_by_name(struct path_service *s, const char *ca, unsigned port_num,
			      struct path_port *out)
{
	struct port_name n = { ca, port_num };

	return port_find(s, port_has_name, &n, out);
}

/* A request's port: its SGID's, or the default. */
static int request_port(struct path_service *s, const struct pr_request *req)
{
	struct path_port p;
	int ret = req->has & PR_REQ_SGID ? path_service_port_by_gid(s, &req->sgid, &p) :
					   path_service_default_port(s, &p);

	if (ret < 0)
		s->foreign_sgid++;
	return ret < 0 ? -EADDRNOTAVAIL : 0;
}

/* --- lookups -------------------------------------------------------------- */

int64_t path_service_resolve(struct path_service *s, const struct path_query *q,
			     path_answer_fn fn, void *arg)
{
	uint16_t tuple;
	int ret;

	if (!(q->req.has & (PR_REQ_DGID | PR_REQ_DLID)))
		return -EDESTADDRREQ;
	ret = request_port(s, &q->req);
	if (ret < 0)
		return ret;
	/* A tuple the cache does not know yet is what a requester may make only so often. */
	if (q->quota && pr_store_tuple(s->store, &q->req, false, &tuple) == -ENOENT &&
	    !quota_take(q->quota, loop_now_ms())) {
		s->quota_refused++;
		return -EDQUOT;
	}
	return s->ops->resolve(s->ctx, &q->req, q->flags, fn, arg);
}

void path_service_cancel(struct path_service *s, int64_t id)
{
	s->ops->cancel(s->ctx, id);
}

int path_service_table(struct path_service *s, const struct pr_request *req,
		       struct ibv_path_record **out, size_t *n)
{
	int ret = request_port(s, req);

	return ret < 0 ? ret : pr_store_table(s->store, req, out, n);
}

/* --- writes --------------------------------------------------------------- */

int path_service_push(struct path_service *s, const struct ibv_path_record *recs, size_t n,
		      const struct pr_origin *o, bool full, size_t *loaded)
{
	return pr_store_push(s->store, recs, n, o, full, loop_now_ms(), loaded);
}

int path_service_add(struct path_service *s, const struct ibv_path_record *rec,
		     const struct pr_origin *o)
{
	return pr_store_add(s->store, rec, o, loop_now_ms());
}

size_t path_service_delete(struct path_service *s, const struct ibv_path_record *q,
			   uint64_t comp_mask)
{
	return pr_store_remove_matching(s->store, q, comp_mask);
}

void path_service_flush(struct path_service *s)
{
	pr_store_flush(s->store);
}

int path_service_refresh(struct path_service *s, path_refresh_fn fn, void *arg)
{
	return s->ops->refresh(s->ctx, fn, arg);
}

void path_service_cancel_refresh(struct path_service *s, void *arg)
{
	s->ops->cancel_refresh(s->ctx, arg);
}

void path_service_last_fill(struct path_service *s, struct path_fill *out)
{
	s->ops->last_fill(s->ctx, out);
}

/* --- reading -------------------------------------------------------------- */

const struct pr_cache *path_service_cache(const struct path_service *s)
{
	return pr_store_cache(s->store);
}

uint32_t path_service_generation(const struct path_service *s)
{
	return pr_store_generation(s->store);
}

bool path_service_stale(const struct path_service *s)
{
	return pr_store_stale(s->store, loop_now_ms());
}

void path_service_watch(struct path_service *s, void (*fn)(void *arg), void *arg)
{
	pr_store_watch(s->store, fn, arg);
}

void path_service_stats_json(struct path_service *s, struct json *j)
{
	struct pr_cache_stats cs;

	s->ops->stats_json(s->ctx, j);
	pr_store_stats(s->store, &cs);
	json_gauge(j, "entries", cs.entries);
	json_gauge(j, "destinations", cs.destinations);
	json_gauge(j, "negative_entries", cs.negatives);
	json_gauge(j, "tuples", cs.tuples_live);
	json_u64(j, "tuples_reclaimed", cs.tuples_reclaimed);
	json_u64(j, "tuple_quota_refused", s->quota_refused);
	json_u64(j, "foreign_sgid_refused", s->foreign_sgid);
	json_gauge(j, "cache_bytes", cs.bytes);
	json_gauge(j, "bytes_per_entry", cs.bytes_per_entry);
}

/* --- the resolver as backend ---------------------------------------------- */

static int64_t res_resolve(void *ctx, const struct pr_request *req, unsigned flags,
			   path_answer_fn fn, void *arg)
{
	return resolver_resolve(((struct path_service *)ctx)->res, req, flags, fn, arg);
}

static void res_cancel(void *ctx, int64_t id)
{
	resolver_cancel(((struct path_service *)ctx)->res, id);
}

static int res_refresh(void *ctx, path_refresh_fn fn, void *arg)
{
	return resolver_fill(((struct path_service *)ctx)->res, fn, arg);
}

static void res_cancel_refresh(void *ctx, void *arg)
{
	resolver_cancel_fill(((struct path_service *)ctx)->res, arg);
}

static void res_last_fill(void *ctx, struct path_fill *out)
{
	struct resolver_stats rs;

	resolver_stats(((struct path_service *)ctx)->res, &rs);
	*out = (struct path_fill){ rs.generation, rs.last_fill_ms, rs.last_fill_swept,
				   rs.filling };
}

/* The port read now: its LID, SM and GID follow the fabric (mad_port_refresh). */
static size_t res_ports(void *ctx, struct path_port *out, size_t max)
{
	struct path_service *s = ctx;
	const struct mad_port *mp = resolver_port(s->res);
	uint64_t guid;

	if (!max)
		return 1;
	memset(out, 0, sizeof(*out));
	snprintf(out->ca_name, sizeof(out->ca_name), "%s", mp->ca_name);
	out->port_num = (unsigned)mp->portnum;
	memcpy(&guid, mp->gid.raw + 8, sizeof(guid));
	out->node_guid = s->node_guid ? s->node_guid : be64toh(guid);
	out->num_ports = s->num_ports;
	out->gid = mp->gid;
	out->lid = mp->lid;
	out->lmc = mp->lmc;
	out->sm_lid = mp->sm_lid;
	out->serving = true;
	return 1;
}

static void res_stats_json(void *ctx, struct json *j)
{
	struct path_service *s = ctx;
	struct resolver_stats rs;
	struct sa_client_stats ss;

	resolver_stats(s->res, &rs);
	sa_client_stats(s->sa, &ss);
	json_object_begin(j, "sa_queries");
	for (int m = 0; m < SA_STAT_METHODS; m++)
		json_u64(j, sa_stat_name(m), ss.sent[m]);
	json_object_end(j);
	json_u64(j, "sa_attempts", ss.attempts);
	json_u64(j, "sa_retries", ss.retries);
	json_u64(j, "sa_timeouts", ss.timeouts);
	json_u64(j, "sa_failures", ss.failures);
	json_gauge(j, "sa_outstanding", ss.outstanding_now);
	json_gauge(j, "sa_queued", ss.queued_now);
	json_u64(j, "cache_hits", rs.hits);
	json_u64(j, "cache_misses", rs.misses);
	json_u64(j, "negative_hits", rs.negative_hits);
	json_u64(j, "coalesced", rs.coalesced);
	json_u64(j, "sa_no_path", rs.sa_no_path);
	json_u64(j, "sa_errors", rs.sa_errors);
	json_u64(j, "prefetch_tuples", rs.prefetch_tuples);
	json_u64(j, "prefetch_records", rs.prefetch_records);
	json_u64(j, "prefetch_failures", rs.prefetch_failures);
	json_gauge(j, "generation", rs.generation);
	json_u64(j, "fills", rs.fills);
	json_u64(j, "fill_failures", rs.fill_failures);
	json_gauge(j, "last_fill_records", rs.last_fill_records);
	json_gauge(j, "last_fill_ms", rs.last_fill_ms);
	json_gauge(j, "last_fill_swept", rs.last_fill_swept);
	json_bool(j, "refreshing", rs.filling);
}

static const struct path_backend_ops resolver_ops = {
	.resolve = res_resolve,
	.cancel = res_cancel,
	.refresh = res_refresh,
	.cancel_refresh = res_cancel_refresh,
	.last_fill = res_last_fill,
	.ports = res_ports,
	.stats_json = res_stats_json,
};

int path_service_new_resolver(struct resolver *res, struct sa_client *sa,
			      struct path_service **out)
{
	struct path_service *s;
	int ret = path_service_new(resolver_store(res), &resolver_ops, NULL, &s);

	if (ret < 0)
		return ret;
	s->ctx = s;
	s->res = res;
	s->sa = sa;
	/* The CA's identity does not change while the port is open: read it once. */
	if (mad_port_ca_info(resolver_port(res), &s->node_guid, &s->num_ports) < 0)
		s->node_guid = s->num_ports = 0;
	*out = s;
	return 0;
}

size_t path_service_table_order(const struct path_service *s, uint16_t tuple,
				const union ibv_gid **order)
{
	return pr_store_table_order(s->store, tuple, order);
}
