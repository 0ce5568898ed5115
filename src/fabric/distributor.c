/*
 * distributor - see distributor.h.
 *
 * State per receiver: its last pushed slice (sorted by DGID), its LID, and
 * whether it is in sync. A fetch computes every new slice; a receiver in sync
 * gets the difference, one out of sync its whole slice (PR_PUSH_FULL), so a
 * receiver that restarts or missed a push converges at the next heartbeat.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "fabric/distributor.h"
#include "fabric/mad_port.h"
#include "fabric/sa_client.h"
#include "wire/path_rec.h"
#include "wire/pr_push.h"
#include "wire/sa_mad.h"

struct target {
	union ibv_gid gid;
	uint16_t lid;
	bool in_sync;
	bool present;                 /* in the last table */
	struct ibv_path_record *slice; /* last pushed, sorted by DGID */
	size_t n;
	unsigned pending;             /* pushes in flight */
	bool failed;                  /* one of them failed */
	uint64_t push_started_ms;
	unsigned fails;               /* pushes failed in a row: no localsa there? */
	uint64_t next_try_ms;         /* back off from a receiver that does not answer */
};

struct push_ctx {
	struct distributor *d;
	size_t target;
	uint64_t gen;
	uint64_t epoch;
	uint8_t method;
};

struct distributor {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *master, *push;
	struct distributor_opts opts;
	struct target *targets;
	size_t n_targets;
	struct loop_timer fetch_timer, heartbeat_timer;
	bool fetching, refetch;
	unsigned retry_ms;            /* the last pause after a failed fetch; 0 after a success */
	uint64_t gen;                 /* bumps per fetch; stale push answers are ignored */
	uint64_t epoch;               /* bumps per new receiver list: older answers are dropped */
	struct {
		uint64_t fetches, fetch_failures, records_fetched, last_fetch_ms;
		uint64_t pushes, push_failures, records_pushed, bytes_pushed, deletes;
		uint64_t heartbeats, resyncs, last_push_latency_ms, max_push_latency_ms;
	} st;
};

static int gid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(union ibv_gid));
}

static int rec_cmp_dgid(const void *a, const void *b)
{
	const struct ibv_path_record *x = a, *y = b;
	int c = memcmp(&x->dgid, &y->dgid, sizeof(x->dgid));

	return c ? c : memcmp(x, y, sizeof(*x));
}

static int rec_cmp_sgid(const void *a, const void *b)
{
	const struct ibv_path_record *x = a, *y = b;
	int c = memcmp(&x->sgid, &y->sgid, sizeof(x->sgid));

	return c ? c : rec_cmp_dgid(a, b);
}

/* --- pushing -------------------------------------------------------------- */

static void push_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct push_ctx *p = arg;
	struct distributor *d;
	struct target *t;

	(void)mad;
	(void)len;
	if (err == -ECANCELED) { /* shutting down: the distributor may be gone */
		free(p);
		return;
	}
	d = p->d;
	if (p->epoch != d->epoch) { /* the receiver list changed: its index means nothing now */
		free(p);
		return;
	}
	t = &d->targets[p->target];
	/* A Delete of a destination the receiver already dropped (its own trap 65). */
	if (p->method == UMAD_SA_METHOD_DELETE && status == UMAD_SA_STATUS_NO_RECORDS)
		status = 0;
	if (err || status) {
		d->st.push_failures++;
		if (!t->failed && !t->fails++)
			LOG_WARN("push to LID %u failed: %s (retrying with backoff)", t->lid,
				 err ? strerror(-err) : sa_status_str((uint16_t)(status << 8)));
		t->failed = true;
		/* Out of sync now, not when its last push comes back: a fetch that comes first
		 * must send the whole slice, not a difference from one it never got whole. */
		t->in_sync = false;
		t->next_try_ms = loop_now_ms() +
			((uint64_t)d->opts.heartbeat_ms << (t->fails < 8 ? t->fails : 8));
	} else if (t->fails) {
		LOG_INFO("receiver at LID %u answers again", t->lid);
		t->fails = 0;
	}
	if (t->pending && !--t->pending) {
		if (t->failed) {
			t->in_sync = false;
		} else if (p->gen == d->gen) {
			uint64_t ms = loop_now_ms() - t->push_started_ms;

			t->in_sync = true;
			d->st.last_push_latency_ms = ms;
			if (ms > d->st.max_push_latency_ms)
				d->st.max_push_latency_ms = ms;
		}
	}
	free(p);
}

static int send_push(struct distributor *d, size_t ti, uint8_t method, uint32_t flags,
		     uint64_t mask, const struct ibv_path_record *recs, size_t n)
{
	struct target *t = &d->targets[ti];
	struct push_ctx *p = calloc(1, sizeof(*p));
	struct sa_request req = { t->lid, method, UMAD_SA_ATTR_PATH_REC, flags, mask,
				  d->opts.sm_key, recs, n * PR_LEN, PR_LEN, SA_PRIO_WAITED, 0 };
	struct ibv_path_record zero;
	int64_t ret;

	if (!p)
		return -ENOMEM;
	if (!n) {
		memset(&zero, 0, sizeof(zero));
		req.data = &zero;
		req.len = PR_LEN;
	}
	p->d = d;
	p->target = ti;
	p->gen = d->gen;
	p->epoch = d->epoch;
	p->method = method;
	ret = sa_client_send(d->push, &req, push_done, p);
	if (ret < 0) {
		free(p);
		t->failed = true;
		return (int)ret;
	}
	t->pending++;
	d->st.pushes++;
	d->st.records_pushed += n;
	d->st.bytes_pushed += SA_HDR_LEN + req.len;
	return 0;
}

/* Sends t what changed between its last slice and the new one. */
static void push_diff(struct distributor *d, size_t ti, const struct ibv_path_record *slice,
		      size_t n)
{
	struct target *t = &d->targets[ti];
	struct ibv_path_record *changed = malloc((n ? n : 1) * sizeof(*changed));
	size_t i = 0, j = 0, k = 0;

	if (!changed)
		return;
	/* Both slices are sorted by DGID; compare destination by destination. */
	while (i < n || j < t->n) {
		int c = i == n ? 1 : j == t->n ? -1 :
			memcmp(&slice[i].dgid, &t->slice[j].dgid, sizeof(slice[i].dgid));
		size_t ie = c <= 0 ? pr_dgid_run_end(slice, n, i) : i;
		size_t je = c >= 0 ? pr_dgid_run_end(t->slice, t->n, j) : j;

		if (c < 0 || (c == 0 && (ie - i != je - j ||
					 memcmp(&slice[i], &t->slice[j], (ie - i) * sizeof(*slice))))) {
			memcpy(&changed[k], &slice[i], (ie - i) * sizeof(*slice));
			k += ie - i;
		} else if (c > 0) {
			struct ibv_path_record q;

			memset(&q, 0, sizeof(q));
			memcpy(&q.sgid, &t->gid, sizeof(q.sgid));
			memcpy(&q.dgid, &t->slice[j].dgid, sizeof(q.dgid));
			if (send_push(d, ti, UMAD_SA_METHOD_DELETE, 0, PR_CM_SGID | PR_CM_DGID, &q, 1) == 0)
				d->st.deletes++;
		}
		i = ie;
		j = je;
	}
	/* At most max_records_per_push records a Set, cut between destinations only: a Set
	 * replaces the receiver's paths to each DGID it names, so a destination split across two
	 * would keep the second part only. A destination with more paths goes whole. */
	for (i = 0; i < k; i = j) {
		j = k - i < d->opts.max_records_per_push ? k : i + d->opts.max_records_per_push;
		while (j < k && j > i &&
		       !memcmp(&changed[j - 1].dgid, &changed[j].dgid, sizeof(changed[0].dgid)))
			j--;
		if (j == i)	/* one destination over the limit */
			j = pr_dgid_run_end(changed, k, i);
		send_push(d, ti, UMAD_METHOD_SET, 0, 0, changed + i, j - i);
	}
	free(changed);
}

static void push_slice(struct distributor *d, size_t ti, const struct ibv_path_record *slice,
		       size_t n)
{
	struct target *t = &d->targets[ti];
	struct ibv_path_record *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (!copy)
		return;
	memcpy(copy, slice, n * sizeof(*copy));
	t->failed = false;
	t->push_started_ms = loop_now_ms();
	if (t->in_sync && t->slice) {
		push_diff(d, ti, slice, n);
	} else if (n) {
		/* One message: a full push split in two would sweep its first half. */
		d->st.resyncs++;
		send_push(d, ti, UMAD_METHOD_SET, PR_PUSH_FULL, 0, slice, n);
	}
	free(t->slice);
	t->slice = copy;
	t->n = n;
}

/* --- fetching ------------------------------------------------------------- */

static void add_target(struct distributor *d, const union ibv_gid *gid)
{
	struct target *nt = realloc(d->targets, (d->n_targets + 1) * sizeof(*nt));

	if (!nt)
		return;
	d->targets = nt;
	memset(&nt[d->n_targets], 0, sizeof(*nt));
	nt[d->n_targets].gid = *gid;
	d->n_targets++;
}

/* The receivers gids[0..n), sorted by GID, in place of the list (whose slices go); -ENOMEM:
 * the old list stays. */
static int replace_targets(struct distributor *d, const union ibv_gid *gids, size_t n)
{
	struct target *old = d->targets;
	size_t n_old = d->n_targets;

	d->targets = NULL;
	d->n_targets = 0;
	for (size_t i = 0; i < n; i++)
		add_target(d, &gids[i]);
	if (d->n_targets != n) {
		free(d->targets);
		d->targets = old;
		d->n_targets = n_old;
		return -ENOMEM;
	}
	if (n > 1)
		qsort(d->targets, n, sizeof(*d->targets), gid_cmp);
	for (size_t i = 0; i < n_old; i++)
		free(old[i].slice);
	free(old);
	return 0;
}

/* A receiver's GID and its index: an index of the targets sorted by GID (the targets array
 * keeps its order, as pushes in flight name theirs by index). gid first: gid_cmp compares it. */
struct target_key {
	union ibv_gid gid;
	size_t idx;
};

/* The index of the targets by GID; NULL when out of memory. */
static struct target_key *targets_by_gid(const struct distributor *d)
{
	struct target_key *k = malloc((d->n_targets ? d->n_targets : 1) * sizeof(*k));

	if (!k)
		return NULL;
	for (size_t i = 0; i < d->n_targets; i++)
		k[i] = (struct target_key){ d->targets[i].gid, i };
	if (d->n_targets > 1)
		qsort(k, d->n_targets, sizeof(*k), gid_cmp);
	return k;
}

/* The target of gid in the index k of n targets, or NULL. O(log n). */
static struct target *find_target(struct distributor *d, const struct target_key *k, size_t n,
				  const union ibv_gid *gid)
{
	const struct target_key *hit = n ? bsearch(gid, k, n, sizeof(*k), gid_cmp) : NULL;

	return hit ? &d->targets[hit->idx] : NULL;
}

/* [*lo, *hi): the records with this SGID, contiguous in a table sorted by SGID. */
static void slice_of(const struct ibv_path_record *recs, size_t n, const union ibv_gid *sgid,
		     size_t *lo, size_t *hi)
{
	size_t l = 0, h = n;

	while (l < h) {
		size_t mid = (l + h) / 2;

		if (memcmp(&recs[mid].sgid, sgid, sizeof(*sgid)) < 0)
			l = mid + 1;
		else
			h = mid;
	}
	for (h = l; h < n && !memcmp(&recs[h].sgid, sgid, sizeof(*sgid)); h++)
		;
	*lo = l;
	*hi = h;
}

static void fetch_now(struct loop *loop, void *arg);

/* The table must come: again after a doubling pause (the SA-failure backoff). */
static void retry_later(struct distributor *d)
{
	d->retry_ms = d->retry_ms ? 2 * d->retry_ms : 1000;
	if (d->retry_ms > d->opts.retry_max_ms)
		d->retry_ms = d->opts.retry_max_ms;
	loop_timer_start(d->loop, &d->fetch_timer, d->retry_ms, fetch_now, d);
}

static void fetch_done(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct distributor *d = arg;
	struct ibv_path_record *recs = NULL;
	size_t n = 0, rec_len = PR_LEN, i, ti, n_keys;
	struct target_key *keys = NULL;
	struct sa_hdr h;

	if (err == -ECANCELED) /* shutting down: the distributor may be gone */
		return;
	d->fetching = false;
	if (err || status || sa_hdr_decode(mad, len, &h) < 0 ||
	    sa_table_count(&h, len, &rec_len, &n) < 0 || rec_len < PR_LEN) {
		d->st.fetch_failures++;
		LOG_WARN("all-pairs fetch failed: %s",
			 err ? strerror(-err) : sa_status_str((uint16_t)(status << 8)));
		retry_later(d);
		goto out;
	}
	d->retry_ms = 0;
	recs = malloc((n ? n : 1) * sizeof(*recs));
	if (!recs)
		goto out;
	for (i = 0; i < n; i++)
		pr_decode(mad + SA_HDR_LEN + i * rec_len, PR_LEN, &recs[i]);
	d->gen++;
	d->st.fetches++;
	d->st.records_fetched = n;
	d->st.last_fetch_ms = loop_now_ms();
	qsort(recs, n, sizeof(*recs), rec_cmp_sgid);
	/* Receivers' LIDs: the DLID of any path to them. */
	for (ti = 0; ti < d->n_targets; ti++)
		d->targets[ti].present = false;
	/* (all: every receiver first, so the paths to each, wherever they sort, find it) */
	keys = targets_by_gid(d);
	n_keys = d->n_targets;
	for (i = 0; keys && d->opts.all && i < n; i++)
		if ((!i || memcmp(&recs[i].sgid, &recs[i - 1].sgid, sizeof(recs[i].sgid))) &&
		    memcmp(&recs[i].sgid, &d->port->gid, sizeof(d->port->gid)) &&
		    !find_target(d, keys, n_keys, (const union ibv_gid *)&recs[i].sgid))
			add_target(d, (const union ibv_gid *)&recs[i].sgid);
	if (keys && n_keys != d->n_targets) {
		free(keys);
		keys = targets_by_gid(d);
	}
	if (!keys) {
		LOG_ERR("all-pairs table: out of memory indexing the receivers");
		retry_later(d);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct target *t = find_target(d, keys, d->n_targets,
					       (const union ibv_gid *)&recs[i].dgid);

		if (t && !t->present) {
			t->lid = pr_dlid(&recs[i]);
			t->present = true;
		}
	}
	if (d->opts.own_slice) {
		size_t lo, hi;

		slice_of(recs, n, &d->port->gid, &lo, &hi);
		d->opts.own_slice(d->opts.own_arg, recs + lo, hi - lo);
	}
	for (ti = 0; ti < d->n_targets; ti++) {
		struct target *t = &d->targets[ti];
		size_t lo, hi;

		if (!t->present) {
			t->in_sync = false; /* it left the fabric: resend everything on return */
			free(t->slice);     /* (whole, so its last slice is not needed) */
			t->slice = NULL;
			t->n = 0;
			continue;
		}
		slice_of(recs, n, &t->gid, &lo, &hi);
		push_slice(d, ti, recs + lo, hi - lo);
	}
	LOG_INFO("all-pairs table: %zu paths; pushed to %zu receivers", n, d->n_targets);
out:
	free(keys);
	free(recs);
	if (d->refetch) {
		d->refetch = false;
		distributor_changed(d, "a change during the fetch");
	}
}

static void fetch_now(struct loop *loop, void *arg)
{
	struct distributor *d = arg;
	struct ibv_path_record q;
	int64_t ret;

	(void)loop;
	if (d->fetching) {
		d->refetch = true;
		return;
	}
	memset(&q, 0, sizeof(q));
	/* Background work; its records, about the square of the last slice count. */
	ret = sa_client_query_bg(d->master, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_PATH_REC, 0, &q,
				 sizeof(q), d->st.records_fetched ? (uint32_t)d->st.records_fetched :
				 1, fetch_done, d);
	if (ret < 0) {
		LOG_WARN("cannot fetch the all-pairs table: %s", strerror((int)-ret));
		retry_later(d);
	} else {
		d->fetching = true;
	}
}

void distributor_changed(struct distributor *d, const char *why)
{
	LOG_DEBUG("fabric change (%s): fetching in %u ms", why, d->opts.change_delay_ms);
	loop_timer_start(d->loop, &d->fetch_timer, d->opts.change_delay_ms, fetch_now, d);
}

/* Receivers in sync get a heartbeat; the others their whole slice again. */
static void heartbeat(struct loop *loop, void *arg)
{
	struct distributor *d = arg;

	loop_timer_start(loop, &d->heartbeat_timer, d->opts.heartbeat_ms, heartbeat, d);
	for (size_t ti = 0; ti < d->n_targets; ti++) {
		struct target *t = &d->targets[ti];

		if (!t->present || t->pending || loop_now_ms() < t->next_try_ms)
			continue;
		if (t->in_sync) {
			d->st.heartbeats++;
			send_push(d, ti, UMAD_METHOD_SET, PR_PUSH_HEARTBEAT, 0, NULL, 0);
		} else if (t->slice) {
			struct ibv_path_record *slice = t->slice;

			t->slice = NULL; /* push_slice takes a fresh copy */
			push_slice(d, ti, slice, t->n);
			free(slice);
		}
	}
}

int distributor_new(struct loop *loop, struct mad_port *port, struct sa_client *master,
		    struct sa_client *push, const struct distributor_opts *opts,
		    struct distributor **out)
{
	struct distributor *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->port = port;
	d->master = master;
	d->push = push;
	d->opts = *opts;
	d->opts.targets = NULL;
	if (!d->opts.max_records_per_push)
		d->opts.max_records_per_push = 4096;
	if (!d->opts.heartbeat_ms)
		d->opts.heartbeat_ms = 5000;
	if (!d->opts.retry_max_ms)
		d->opts.retry_max_ms = 8000;
	if (replace_targets(d, opts->targets, opts->n_targets) < 0) {
		free(d);
		return -ENOMEM;
	}
	loop_timer_start(loop, &d->heartbeat_timer, d->opts.heartbeat_ms, heartbeat, d);
	distributor_changed(d, "start");
	*out = d;
	return 0;
}

void distributor_free(struct distributor *d)
{
	if (!d)
		return;
	loop_timer_stop(d->loop, &d->fetch_timer);
	loop_timer_stop(d->loop, &d->heartbeat_timer);
	for (size_t i = 0; i < d->n_targets; i++)
		free(d->targets[i].slice);
	free(d->targets);
	free(d);
}

int distributor_set_targets(struct distributor *d, bool all, const union ibv_gid *gids,
			    size_t n)
{
	if (replace_targets(d, gids, n) < 0)
		return -ENOMEM;
	d->opts.all = all;
	d->epoch++;
	distributor_changed(d, "a new receiver list");
	return 0;
}

void distributor_stats_json(const struct distributor *d, struct json *j)
{
	size_t in_sync = 0;

	for (size_t i = 0; i < d->n_targets; i++)
		in_sync += d->targets[i].in_sync;
	json_object_begin(j, "distributor");
	json_gauge(j, "receivers", d->n_targets);
	json_gauge(j, "in_sync", in_sync);
	json_u64(j, "fetches", d->st.fetches);
	json_u64(j, "fetch_failures", d->st.fetch_failures);
	json_u64(j, "records_fetched", d->st.records_fetched);
	json_u64(j, "pushes", d->st.pushes);
	json_u64(j, "push_failures", d->st.push_failures);
	json_u64(j, "records_pushed", d->st.records_pushed);
	json_u64(j, "bytes_pushed", d->st.bytes_pushed);
	json_u64(j, "deletes", d->st.deletes);
	json_u64(j, "heartbeats", d->st.heartbeats);
	json_u64(j, "resyncs", d->st.resyncs);
	json_gauge(j, "last_push_latency_ms", d->st.last_push_latency_ms);
	json_gauge(j, "max_push_latency_ms", d->st.max_push_latency_ms);
	json_object_end(j);
}

void distributor_set_timing(struct distributor *d, unsigned heartbeat_ms, unsigned change_delay_ms)
{
	if (heartbeat_ms)
		d->opts.heartbeat_ms = heartbeat_ms;
	d->opts.change_delay_ms = change_delay_ms;
}
