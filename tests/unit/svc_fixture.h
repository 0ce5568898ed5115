/*
 * svc_fixture.h - a scripted backend for the lookup-service seam (path_service), over a real
 * store, for the door tests. Like the resolver it files every request under its tuple and
 * answers from the store at once (a hit, or "no path" for a cache-only miss); any other miss
 * waits until the test answers it (fake_answer), or forever. The test sees every call.
 */
#ifndef LOCALSA_TEST_SVC_FIXTURE_H
#define LOCALSA_TEST_SVC_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/strbuf.h"
#include "cache/pr_store.h"
#include "fabric/path_service.h"
#include "pr_fixture.h"

enum { FAKE_PENDING_MAX = 64, FAKE_PATHS = 16 };

struct fake_lookup {
	int64_t id;
	struct pr_request req;
	unsigned flags;
	path_answer_fn fn;
	void *arg;
};

struct fake_backend {
	struct pr_store *store;
	struct path_service *svc;
	struct path_port ports[4];
	size_t n_ports;
	struct fake_lookup pending[FAKE_PENDING_MAX];
	size_t n_pending;
	int64_t next_id;
	unsigned resolves, cancels, refreshes;
	struct pr_request last_req;
	unsigned last_flags;
	path_refresh_fn refresh_fn;
	void *refresh_arg;
};

static int64_t fake_resolve(void *ctx, const struct pr_request *req, unsigned flags,
			    path_answer_fn fn, void *arg)
{
	struct fake_backend *f = ctx;
	struct ibv_path_record out[FAKE_PATHS];
	size_t n;
	uint16_t t;
	int ret;

	f->resolves++;
	f->last_req = *req;
	f->last_flags = flags;
	ret = pr_store_tuple(f->store, req, true, &t);
	if (ret < 0)
		return ret;
	if (!(flags & PATH_Q_SA) && (n = pr_store_lookup(f->store, t, req, out, FAKE_PATHS))) {
		fn(arg, 0, 0, out, n);
		return 0;
	}
	if (flags & PATH_Q_CACHE_ONLY) {
		fn(arg, -ENOENT, 0, NULL, 0);
		return 0;
	}
	if (f->n_pending == FAKE_PENDING_MAX)
		return -ENOBUFS;
	f->pending[f->n_pending++] = (struct fake_lookup){ ++f->next_id, *req, flags, fn, arg };
	return f->next_id;
}

static void fake_cancel(void *ctx, int64_t id)
{
	struct fake_backend *f = ctx;

	for (size_t i = 0; i < f->n_pending; i++)
		if (f->pending[i].id == id) {
			f->pending[i] = f->pending[--f->n_pending];
			f->cancels++;
			return;
		}
}

static int fake_refresh(void *ctx, path_refresh_fn fn, void *arg)
{
	struct fake_backend *f = ctx;

	f->refreshes++;
	f->refresh_fn = fn;
	f->refresh_arg = arg;
	return 0;
}

static void fake_cancel_refresh(void *ctx, void *arg)
{
	struct fake_backend *f = ctx;

	if (f->refresh_arg == arg)
		f->refresh_fn = NULL;
}

static void fake_last_fill(void *ctx, struct path_fill *out)
{
	(void)ctx;
	*out = (struct path_fill){ 7, 3, 1, false };
}

static size_t fake_ports(void *ctx, struct path_port *out, size_t max)
{
	struct fake_backend *f = ctx;

	for (size_t i = 0; i < f->n_ports && i < max; i++)
		out[i] = f->ports[i];
	return f->n_ports;
}

/* The default is the first port listed, as the daemon's backend lists it. */
static int fake_default_port(void *ctx, struct path_port *out)
{
	struct fake_backend *f = ctx;

	if (!f->n_ports || !f->ports[0].serving)
		return -ENOENT;
	*out = f->ports[0];
	return 0;
}

static void fake_stats_json(void *ctx, struct json *j)
{
	struct fake_backend *f = ctx;

	json_u64(j, "fake_resolves", f->resolves);
}

static const struct path_backend_ops fake_ops = {
	fake_resolve, fake_cancel, fake_refresh, fake_cancel_refresh, fake_last_fill, fake_ports,
	fake_default_port, fake_stats_json,
};

/* Answers the oldest pending lookup (the first if several); returns whether there was one. */
static inline bool fake_answer(struct fake_backend *f, int err, uint8_t sa_status,
			       const struct ibv_path_record *recs, size_t n)
{
	struct fake_lookup l;

	if (!f->n_pending)
		return false;
	l = f->pending[0];
	memmove(&f->pending[0], &f->pending[1], --f->n_pending * sizeof(l));
	l.fn(l.arg, err, sa_status, recs, n);
	return true;
}

/*
 * A service with one port: GID gid_of(1), LID 1 (LMC lmc), CA "mlx5_0" port 1, and a store
 * holding recs (the default table, loaded as a fill would).
 */
static inline void fake_init(struct fake_backend *f, uint8_t lmc,
			     const struct ibv_path_record *recs, size_t n)
{
	struct pr_store_opts so = { 10000, 10000, 1000, 0 };
	union ibv_gid own = gid_of(1);

	memset(f, 0, sizeof(*f));
	f->n_ports = 1;
	snprintf(f->ports[0].ca_name, sizeof(f->ports[0].ca_name), "mlx5_0");
	f->ports[0].port_num = 1;
	f->ports[0].node_guid = 0x1234;
	f->ports[0].num_ports = 2;
	f->ports[0].gid = own;
	f->ports[0].lid = 1;
	f->ports[0].lmc = lmc;
	f->ports[0].sm_lid = 9;
	f->ports[0].serving = true;
	if (pr_store_new(&so, &own, &f->store) < 0)
		abort();
	if (n && pr_store_load(f->store, pr_store_default_tuple(f->store), recs, n, NULL,
			       PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL) < 0)
		abort();
	if (path_service_new(f->store, &fake_ops, f, &f->svc) < 0)
		abort();
}

static inline void fake_fini(struct fake_backend *f)
{
	path_service_free(f->svc);
	pr_store_free(f->store);
}

/*
 * A door's counters as `localsa stats` shows them: its *_stats_json() writes into the object
 * stats_probe_begin() opens; stats_probe_end() gives one number member (true/false: 1/0), or -1.
 */
struct stats_probe {
	struct strbuf sb;
	struct json j;
};

static inline struct json *stats_probe_begin(struct stats_probe *p)
{
	strbuf_init(&p->sb, 0);
	json_init(&p->j, &p->sb);
	json_object_begin(&p->j, NULL);
	return &p->j;
}

static inline long long stats_probe_end(struct stats_probe *p, const char *key)
{
	char pat[64];
	const char *at;
	long long v = -1;

	json_object_end(&p->j);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	if ((at = strstr(p->sb.buf, pat))) {
		at += strlen(pat);
		v = !strncmp(at, "true", 4) ? 1 : !strncmp(at, "false", 5) ? 0 : atoll(at);
	}
	strbuf_free(&p->sb);
	return v;
}

#endif
