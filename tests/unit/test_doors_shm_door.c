/*
 * test_doors_shm_door.c - the snapshot door on the lookup-service seam (scripted backend, real
 * store): it publishes at start, a burst of changes is one publication, and the snapshot is held
 * while the store's staleness rule says the cache is not to be served, then served again.
 * Observed through its counters (shm_door_stats_json), as `localsa stats` shows them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "check.h"
#include "doors/shm_door.h"
#include "sock_fixture.h"
#include "svc_fixture.h"

/* A counter of the door's stats, or -1. */
static long long stat_of(const struct shm_door *d, const char *key)
{
	char pat[64];
	struct strbuf sb;
	struct json j;
	long long v = -1;
	const char *p;

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	shm_door_stats_json(d, &j);
	json_object_end(&j);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	if ((p = strstr(sb.buf, pat)))
		v = !strncmp(p + strlen(pat), "true", 4) ? 1 : !strncmp(p + strlen(pat), "false", 5) ?
			0 : atoll(p + strlen(pat));
	strbuf_free(&sb);
	return v;
}

int main(void)
{
	struct ibv_path_record recs[3] = { rec_of(2, 2, 0, 1), rec_of(3, 3, 0, 2), rec_of(4, 4, 0, 3) };
	struct ibv_path_record more[2] = { rec_of(5, 5, 0, 4), rec_of(6, 6, 0, 5) };
	struct pr_origin set = { PR_SRC_SET, 3, 0 };
	struct pr_store_opts so = { 1000, 100, 0, 100 };
	union ibv_gid own = gid_of(1);
	struct shm_door_opts o = { .socket_mode = 0600, .control_socket = "/nonexistent",
				   .port_lid = 1, .max_stale_ms = 100 };
	struct fake_backend f;
	struct shm_door *d;
	struct loop *loop;
	char name[64];
	size_t n;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	snprintf(name, sizeof(name), "/lsa-test-shm-%d", (int)getpid());
	o.name = name;
	/* the fixture's service, over a store with a staleness limit of 100 ms */
	fake_init(&f, 0, NULL, 0);
	path_service_free(f.svc);
	pr_store_free(f.store);
	CHECK_INT(0, pr_store_new(&so, &own, &f.store));
	CHECK_INT(0, pr_store_load(f.store, pr_store_default_tuple(f.store), recs, 3, NULL,
				   PR_LOAD_FULL | PR_LOAD_ORDER, 0, NULL));
	pr_store_sa_answered(f.store, loop_now_ms());
	CHECK_INT(0, path_service_new(f.store, &fake_ops, &f, &f.svc));

	CHECK_INT(0, shm_door_new(loop, f.svc, &o, &d));
	CHECK_INT(1, stat_of(d, "snapshot_publication"));
	CHECK_INT(3, stat_of(d, "snapshot_paths"));
	CHECK_INT(0, stat_of(d, "snapshot_held"));
	/* two changes in a burst: one publication with both */
	CHECK_INT(0, path_service_push(f.svc, more, 1, &set, false, &n));
	CHECK_INT(0, path_service_push(f.svc, more + 1, 1, &set, false, &n));
	for (int i = 0; i < 100 && stat_of(d, "snapshot_publication") < 2; i++)
		run_for(loop, 10);	/* batch_ms, or longer after a costly publication */
	CHECK_INT(2, stat_of(d, "snapshot_publication"));
	CHECK_INT(5, stat_of(d, "snapshot_paths"));
	/* the SA silent past max_stale_ms: held; it answers: served again */
	run_for(loop, 250);
	CHECK_INT(1, stat_of(d, "snapshot_held"));
	pr_store_sa_answered(f.store, loop_now_ms());
	run_for(loop, 80);
	CHECK_INT(0, stat_of(d, "snapshot_held"));
	shm_door_free(d);
	fake_fini(&f);
	loop_free(loop);
	return CHECK_DONE();
}
