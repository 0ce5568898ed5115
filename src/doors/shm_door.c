/*
 * shm_door - see shm_door.h. All of it runs on the loop thread, the snapshot's only writer.
 * Batching: a change arms one timer (batch_ms, or longer if the last publication was costly);
 * changes while it is armed ride along. A failed publication (/dev/shm full) leaves the previous
 * one served and is retried a second later.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "cache/snap_writer.h"
#include "doors/shm_door.h"
#include "fabric/path_service.h"

enum {
	COST_FACTOR = 4,	/* pause >= 4 x the last publication: at most ~1/5 of the loop */
	RETRY_MS = 1000,
	HOLD_CHECK_MIN_MS = 50,
	HOLD_CHECK_MAX_MS = 1000,
};

struct shm_door {
	struct loop *loop;
	struct path_service *svc;
	struct snap_writer *w;
	struct shm_door_opts opts;
	char name[256];
	struct loop_timer timer;	/* publication */
	struct loop_timer hold_timer;
	uint64_t not_before_ms;		/* the cost pause ends */
	bool dirty;
	bool held;
	int last_err;
	uint64_t failures;
	uint64_t last_publish_us, max_publish_us;
};

static void publish_tick(struct loop *loop, void *arg);

/* The staleness rule the lookups follow: while the cache is not served, neither is the
 * snapshot. */
static void hold_update(struct shm_door *d)
{
	bool hold;

	if (!d->opts.max_stale_ms)
		return;
	hold = path_service_stale(d->svc);
	if (hold == d->held)
		return;
	d->held = hold;
	snap_writer_set_state(d->w, hold ? SNAP_HOLD : SNAP_LIVE);
	LOG_INFO("snapshot %s: %s", d->name, hold ? "held (the SA has been silent too long)" :
							"served again");
}

static void hold_tick(struct loop *loop, void *arg)
{
	struct shm_door *d = arg;
	unsigned period = d->opts.max_stale_ms / 10;

	if (period < HOLD_CHECK_MIN_MS)
		period = HOLD_CHECK_MIN_MS;
	if (period > HOLD_CHECK_MAX_MS)
		period = HOLD_CHECK_MAX_MS;
	hold_update(d);
	loop_timer_start(loop, &d->hold_timer, period, hold_tick, d);
}

static void schedule(struct shm_door *d, uint64_t delay_ms)
{
	uint64_t now = loop_now_ms();

	if (loop_timer_pending(&d->timer))
		return;
	if (now + delay_ms < d->not_before_ms)
		delay_ms = d->not_before_ms - now;
	loop_timer_start(d->loop, &d->timer, delay_ms, publish_tick, d);
}

static void publish(struct shm_door *d)
{
	struct snap_writer_stats ws;
	uint64_t t0 = loop_now_ns(), us;
	int ret;

	hold_update(d);
	ret = snap_writer_publish(d->w, path_service_cache(d->svc), path_service_generation(d->svc));
	us = (loop_now_ns() - t0) / 1000;
	if (ret < 0) {
		d->failures++;
		if (ret != d->last_err)
			LOG_WARN("snapshot %s not published (readers get the previous one): %s",
				 d->name, strerror(-ret));
		d->last_err = ret;
		d->not_before_ms = loop_now_ms() + RETRY_MS;
		schedule(d, RETRY_MS);
		return;
	}
	if (d->last_err)
		LOG_INFO("snapshot %s published again", d->name);
	d->last_err = 0;
	d->dirty = false;
	d->last_publish_us = us;
	if (us > d->max_publish_us)
		d->max_publish_us = us;
	d->not_before_ms = loop_now_ms() + us * COST_FACTOR / 1000;
	snap_writer_stats(d->w, &ws);
	LOG_DEBUG("snapshot %s: publication %llu, %llu paths, %llu us", d->name,
		  (unsigned long long)ws.publication, (unsigned long long)ws.records,
		  (unsigned long long)us);
}

static void publish_tick(struct loop *loop, void *arg)
{
	struct shm_door *d = arg;

	(void)loop;
	if (d->dirty)
		publish(d);
}

static void on_cache_change(void *arg)
{
	struct shm_door *d = arg;

	d->dirty = true;
	schedule(d, d->opts.batch_ms);
}

int shm_door_new(struct loop *loop, struct path_service *svc, const struct shm_door_opts *opts,
		 struct shm_door **out)
{
	struct snap_writer_opts wo = {
		.name = opts->name, .socket_mode = opts->socket_mode,
		.port_lid = opts->port_lid, .control_socket = opts->control_socket,
	};
	struct path_port port;
	struct shm_door *d;
	int ret;

	ret = path_service_default_port(svc, &port);
	if (ret < 0)
		return ret;
	wo.port_gid = port.gid;
	if (strlen(opts->name) >= sizeof(d->name))
		return -ENAMETOOLONG;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->svc = svc;
	d->opts = *opts;
	strcpy(d->name, opts->name);
	d->opts.name = d->name;
	d->opts.control_socket = NULL;
	if (!d->opts.batch_ms)
		d->opts.batch_ms = 2;
	ret = snap_writer_open(&wo, &d->w);
	if (ret < 0) {
		LOG_ERR("snapshot %s: %s", opts->name, ret == -EADDRINUSE ?
			"another localsad publishes under this name" : strerror(-ret));
		free(d);
		return ret;
	}
	path_service_watch(svc, on_cache_change, d);
	d->dirty = true;
	publish(d);
	if (d->opts.max_stale_ms)
		hold_tick(loop, d);
	LOG_INFO("snapshot published as %s", d->name);
	*out = d;
	return 0;
}

void shm_door_free(struct shm_door *d)
{
	if (!d)
		return;
	path_service_watch(d->svc, NULL, NULL);
	loop_timer_stop(d->loop, &d->timer);
	loop_timer_stop(d->loop, &d->hold_timer);
	snap_writer_close(d->w);
	free(d);
}

void shm_door_stats_json(const struct shm_door *d, struct json *j)
{
	struct snap_writer_stats ws;

	if (!d)
		return;
	snap_writer_stats(d->w, &ws);
	json_str(j, "shm_name", d->name);
	json_u64(j, "snapshot_publication", ws.publication);
	json_u64(j, "snapshot_patches", ws.patches);	/* O(changes) publications */
	json_u64(j, "snapshot_rebuilds", ws.rebuilds);
	json_gauge(j, "snapshot_paths", ws.records);
	json_gauge(j, "snapshot_bytes", ws.object_size);
	json_gauge(j, "snapshot_object_gen", ws.object_gen);
	json_gauge(j, "snapshot_last_publish_us", d->last_publish_us);
	json_gauge(j, "snapshot_max_publish_us", d->max_publish_us);
	json_u64(j, "snapshot_failures", d->failures);
	json_bool(j, "snapshot_held", d->held);
}
