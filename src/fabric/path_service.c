/*
 * path_service - see path_service.h. The service checks what is the same for every door
 * (which port a request is for, the requester's quota of new tuples) and passes the rest to
 * the store or the backend (the daemon's: fabric/port_set.c).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/quota.h"
#include "fabric/path_service.h"

struct path_service {
	struct pr_store *store;
	const struct path_backend_ops *ops;
	void *ctx;
	uint64_t quota_refused;		/* lookups refused: the requester's new tuples were spent */
	uint64_t foreign_sgid;		/* lookups refused: the SGID is no port served */
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

/* The first port served that p matches, or -ENOENT. */
static int port_find(struct path_service *s, bool (*p)(const struct path_port *, const void *),
		     const void *key, struct path_port *out)
{
	struct path_port ports[PATH_PORTS_MAX];
	size_t n = path_service_ports(s, ports, PATH_PORTS_MAX);

	for (size_t i = 0; i < n && i < PATH_PORTS_MAX; i++)
		if (ports[i].serving && p(&ports[i], key)) {
			*out = ports[i];
			return 0;
		}
	return -ENOENT;
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

/* The first port, when served: not another one while the default is down. */
int path_service_default_port(struct path_service *s, struct path_port *out)
{
	return s->ops->default_port(s->ctx, out);
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

/* A request's port: its SGID's, or the default's, whose SGID *out then carries (the store's
 * own SGID may be another port's). */
static int request_port(struct path_service *s, const struct pr_request *req,
			struct pr_request *out)
{
	struct path_port p;
	int ret = req->has & PR_REQ_SGID ? path_service_port_by_gid(s, &req->sgid, &p) :
					   path_service_default_port(s, &p);

	if (ret < 0) {
		s->foreign_sgid++;
		return -EADDRNOTAVAIL;
	}
	*out = *req;
	out->sgid = p.gid;
	out->has |= PR_REQ_SGID;
	return 0;
}

/* --- lookups -------------------------------------------------------------- */

int64_t path_service_resolve(struct path_service *s, const struct path_query *q,
			     path_answer_fn fn, void *arg)
{
	struct pr_request req;
	uint16_t tuple;
	int ret;

	if (!(q->req.has & (PR_REQ_DGID | PR_REQ_DLID)))
		return -EDESTADDRREQ;
	ret = request_port(s, &q->req, &req);
	if (ret < 0)
		return ret;
	/* A tuple the cache does not know yet is what a requester may make only so often. A
	 * request of no QoS field names its port's own tuple, which the port made when it was
	 * served: no lookup for it (the backend makes one anyway). */
	if (q->quota && req.tuple_flags &&
	    pr_store_tuple(s->store, &req, false, &tuple) == -ENOENT &&
	    !quota_take(q->quota, loop_now_ms())) {
		s->quota_refused++;
		return -EDQUOT;
	}
	return s->ops->resolve(s->ctx, &req, q->flags, fn, arg);
}

void path_service_cancel(struct path_service *s, int64_t id)
{
	s->ops->cancel(s->ctx, id);
}

int path_service_table(struct path_service *s, const struct pr_request *req,
		       struct ibv_path_record **out, size_t *n)
{
	struct pr_request r;
	int ret = request_port(s, req, &r);

	return ret < 0 ? ret : pr_store_table(s->store, &r, out, n);
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

size_t path_service_table_order(const struct path_service *s, uint16_t tuple,
				const union ibv_gid **order)
{
	return pr_store_table_order(s->store, tuple, order);
}
