/*
 * test_cache_snapshot.c - the shared-memory snapshot: lookups equal the cache's for every key
 * and tuple, growth by re-creation, HOLD, take-over of a dead writer's object (never of another
 * user's), permissions, corrupt objects, and the stress test of issue 7: four reader threads resolve without pause while a publisher
 * republishes 1,000 times a second with changing contents; every record a reader returns must be
 * one that was published (records carry a checksum and their epoch), and no reader may block.
 * Built a second time with ThreadSanitizer (test_cache_snapshot_tsan).
 */
#include <endian.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/pr_cache.h"
#include "cache/snap_writer.h"
#include "alloc_fail.h"
#include "check.h"
#include "in_child.h"
#include "pr_fixture.h"

static char name_buf[64];

static const char *test_name(const char *what)
{
	snprintf(name_buf, sizeof(name_buf), "/lsa-test-%s-%d", what, (int)getpid());
	return name_buf;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct pr_cache *new_cache(uint32_t max_entries)
{
	struct pr_cache_limits lim = { .max_entries = max_entries, .max_negative = 16 };
	struct pr_cache *c = NULL;

	CHECK_INT(0, pr_cache_new(&lim, &c));
	return c;
}

static uint16_t tuple_id(struct pr_cache *c, const struct pr_tuple *t)
{
	uint16_t id = 0xffff;

	CHECK_INT(0, pr_cache_tuple(c, t, true, &id));
	return id;
}

static struct snap_writer *new_writer(const char *name, size_t min_half)
{
	struct snap_writer_opts o = {
		.name = name, .socket_mode = 0660, .port_gid = gid_of(1), .port_lid = 1,
		.control_socket = "/tmp/lsa-test.sock", .min_half_size = min_half,
	};
	struct snap_writer *w = NULL;

	CHECK_INT(0, snap_writer_open(&o, &w));
	return w;
}

/* Lookup in the snapshot and in the cache; both answers must be the same paths in order. */
static void check_same(const struct snap_map *m, const struct pr_cache *c, uint16_t tid,
		       const union ibv_gid *dgid, const uint16_t *dlid)
{
	const struct pr_tuple *t = pr_cache_tuple_get(c, tid);
	const struct pr_entry *e[64];
	struct ibv_path_record want[64], got[64];
	struct snap_query q;
	size_t n, k = 0, total = 0;
	int r;

	if (dgid)
		n = pr_cache_lookup_dgid(c, tid, dgid, e, 64);
	else
		n = pr_cache_lookup_dlid(c, tid, *dlid, e, 64);
	bool spans = false;

	for (size_t i = 0; i < n; i++) {
		if (!dgid || !dlid || be16toh(e[i]->rec.dlid) == *dlid)
			want[k++] = e[i]->rec;
		spans |= memcmp(&e[i]->rec.dgid, &e[0]->rec.dgid, 16) != 0;
	}
	snap_query_init(&q, t, dgid, dlid);
	r = snap_lookup(m, &q, got, 64, &total, NULL, NULL);
	/* a DLID whose paths lead to several DGIDs: the daemon's insertion order decides */
	CHECK_INT(k && !spans ? SNAP_HIT : SNAP_MISS, r);
	if (r == SNAP_HIT) {
		CHECK_INT(k, total);
		CHECK_MEM(want, got, k * sizeof(want[0]));
	}
}

/* --- behaviour --- */

static int watched;
static void on_watch(void *arg)
{
	(void)arg;
	watched++;
}

static void test_lookup_equals_cache(void)
{
	const char *name = test_name("eq");
	struct pr_cache *c = new_cache(1000);
	struct pr_tuple td = { .sgid = gid_of(1) };
	struct pr_tuple tp = { .sgid = gid_of(1), .pkey = 0x8001, .flags = PR_TUPLE_PKEY };
	struct pr_tuple ts = { .sgid = gid_of(1), .service_id = 0x1000, .flags = PR_TUPLE_SERVICE_ID };
	struct pr_tuple tq = { .sgid = gid_of(2), .qos_class = 5, .sl = 3,
			       .flags = PR_TUPLE_QOS_CLASS | PR_TUPLE_SL };
	uint16_t idd = tuple_id(c, &td), idp = tuple_id(c, &tp), ids = tuple_id(c, &ts);
	uint16_t idq = tuple_id(c, &tq);
	struct snap_writer *w = new_writer(name, 0);
	struct snap_writer_stats ws;
	struct snap_map m;
	struct snap_query q;
	struct ibv_path_record out[8];
	size_t total;
	uint64_t pub = 0;

	pr_cache_watch(c, on_watch, NULL);
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	CHECK_INT(1, m.object_gen);
	CHECK_MEM(gid_of(1).raw, m.hdr->port_gid, 16);
	CHECK_STR("/tmp/lsa-test.sock", m.hdr->control_socket);
	/* the empty snapshot of open */
	snap_query_init(&q, &td, &(union ibv_gid){ .raw = { 0xfe, 0x80 } }, NULL);
	CHECK_INT(SNAP_MISS, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));

	/* destinations 10..59; dest d has 1 + d % 3 paths, DLIDs 4d, 4d+1, ... (LMC) */
	for (uint64_t d = 10; d < 60; d++) {
		struct ibv_path_record r[3];
		union ibv_gid g = gid_of(d);
		size_t n = 1 + d % 3;

		for (size_t i = 0; i < n; i++)
			r[i] = rec_of(d, (uint16_t)(4 * d + i), 0, (uint32_t)(d * 10 + i));
		CHECK_INT(0, pr_cache_replace(c, idd, &g, r, n, NULL, 0));
		if (d % 2 == 0) {	/* the PKey tuple: another SL */
			for (size_t i = 0; i < n; i++)
				r[i] = rec_of(d, (uint16_t)(4 * d + i), 7, (uint32_t)(d * 10 + i + 5));
			CHECK_INT(0, pr_cache_replace(c, idp, &g, r, n, NULL, 0));
		}
		if (d % 5 == 0) {
			r[0] = rec_of(d, (uint16_t)(4 * d), 9, (uint32_t)(d * 10 + 9));
			CHECK_INT(0, pr_cache_replace(c, ids, &g, r, 1, NULL, 0));
		}
	}
	/* two paths with DLID 4*10 on two destinations: a DLID lookup is ambiguous */
	{
		struct ibv_path_record r = rec_of(70, 40, 0, 700);
		union ibv_gid g = gid_of(70);

		CHECK_INT(0, pr_cache_replace(c, idq, &g, &r, 1, NULL, 0));
		r = rec_of(71, 40, 0, 710);
		g = gid_of(71);
		CHECK_INT(0, pr_cache_replace(c, idq, &g, &r, 1, NULL, 0));
	}
	CHECK(watched >= 50);
	CHECK_INT(0, snap_writer_publish(w, c, 3));
	snap_writer_stats(w, &ws);
	CHECK_INT(1, ws.publications);
	CHECK_INT(1, ws.publication);
	CHECK_INT(0, ws.recreations);

	for (uint64_t d = 5; d < 75; d++) {
		union ibv_gid g = gid_of(d);
		uint16_t ids_[4] = { idd, idp, ids, idq };

		for (int t = 0; t < 4; t++) {
			check_same(&m, c, ids_[t], &g, NULL);
			for (uint16_t l = (uint16_t)(4 * d); l < 4 * d + 4; l++) {
				check_same(&m, c, ids_[t], NULL, &l);
				check_same(&m, c, ids_[t], &g, &l);
			}
		}
	}
	/* exact tuples: PKey 0x8001 answers only from its own tuple, even where the default has one */
	{
		union ibv_gid g = gid_of(11);
		struct pr_tuple other = tp;

		snap_query_init(&q, &tp, &g, NULL);
		CHECK_INT(SNAP_MISS, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		other.pkey = 0x8002;
		g = gid_of(12);
		snap_query_init(&q, &other, &g, NULL);
		CHECK_INT(SNAP_MISS, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		snap_query_init(&q, &tp, &g, NULL);
		CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 8, &total, &pub, NULL));
		CHECK_INT(1, pub);
		CHECK_INT(7, be16toh(out[0].qosclass_sl) & 0xf);
		/* fields whose flag is clear do not count, as in the cache */
		other = td;
		other.pkey = 0x1234;
		other.sl = 9;
		snap_query_init(&q, &other, &g, NULL);
		CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		CHECK_INT(0, be16toh(out[0].qosclass_sl) & 0xf);
		/* fewer slots than paths: the count and the first ones */
		g = gid_of(14);	/* 3 paths */
		snap_query_init(&q, &td, &g, NULL);
		CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 1, &total, NULL, NULL));
		CHECK_INT(3, total);
		CHECK_INT(140, be32toh(out[0].flowlabel_hoplimit));
	}

	/* a change shows after the next publication, not before */
	{
		union ibv_gid g = gid_of(13);

		CHECK_INT(1, (long long)pr_cache_remove_dgid(c, &g) > 0);
		snap_query_init(&q, &td, &g, NULL);
		CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		CHECK_INT(0, snap_writer_publish(w, c, 4));
		CHECK_INT(SNAP_MISS, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		check_same(&m, c, idd, &g, NULL);
	}

	/* HOLD: readers are sent to the daemon */
	{
		union ibv_gid g = gid_of(14);

		snap_query_init(&q, &td, &g, NULL);
		CHECK_INT(0, snap_writer_set_state(w, SNAP_HOLD));
		CHECK_INT(SNAP_MISS, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		CHECK_INT(0, snap_writer_set_state(w, SNAP_LIVE));
		CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		CHECK_INT(-EINVAL, snap_writer_set_state(w, SNAP_REPLACED));
	}

	/* the whole publication, in the cache's foreach order */
	{
		struct snap_contents sc;
		struct pr_cache_stats st;

		pr_cache_stats(c, &st);
		CHECK_INT(0, snap_read_all(&m, &sc));
		CHECK_INT(st.entries, sc.nrecords);
		CHECK_INT(st.destinations, sc.ngroups);
		CHECK_INT(st.tuples, sc.ntuples);
		CHECK_INT(2, sc.publication);
		CHECK_MEM(&tp, &sc.tuples[idp], sizeof(tp));
		{
			unsigned in_q = 0;

			for (uint32_t g = 0; g < sc.ngroups; g++)
				in_q += snap_group_tuple(sc.groups[g]) == idq;
			CHECK_INT(2, in_q);
		}
		snap_contents_free(&sc);
	}

	/* a finished half that makes no sense (a bug, or a foreign writer): -EIO, never a fault */
	{
		struct snap_map wm;
		_Atomic uint64_t *h;
		uint32_t a = atomic_load(&m.hdr->active);
		union ibv_gid g = gid_of(14);
		const uint64_t bad[] = { UINT64_MAX - 7, 1ULL << 62, 3 };

		snap_writer_map(w, &wm);
		h = (_Atomic uint64_t *)wm.half[a];
		snap_query_init(&q, &td, &g, NULL);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uint64_t keep = atomic_load(&h[SH_OFF_RECORDS]);

			atomic_store(&h[SH_OFF_RECORDS], bad[i]);
			CHECK_INT(-EIO, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
			atomic_store(&h[SH_OFF_RECORDS], keep);
		}
		atomic_fetch_add(&h[SH_OFF_DGID], 1);	/* slots off their cache lines */
		CHECK_INT(-EIO, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		atomic_fetch_sub(&h[SH_OFF_DGID], 1);
		atomic_fetch_add(&h[SH_DLID_SLOTS], atomic_load(&h[SH_USED]));	/* past the half */
		CHECK_INT(-EIO, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
		CHECK_INT(0, snap_writer_publish(w, c, 5));	/* the other half, sane */
		CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 8, &total, NULL, NULL));
	}

	snap_map_close(&m);
	snap_writer_close(w);
	CHECK_INT(-ENOENT, snap_map_open(name, geteuid(), &m));
	pr_cache_free(c);
}

static void test_growth_and_close(void)
{
	const char *name = test_name("grow");
	struct pr_cache *c = new_cache(100000);
	struct pr_tuple td = { .sgid = gid_of(1) };
	uint16_t idd = tuple_id(c, &td);
	struct snap_writer *w = new_writer(name, 4096);
	struct snap_writer_stats ws;
	struct snap_map m, m2;
	struct snap_query q;
	struct ibv_path_record out[2], *recs = calloc(20000, sizeof(*recs));
	union ibv_gid g = gid_of(100);
	size_t total;

	for (uint32_t i = 0; i < 20000; i++)
		recs[i] = rec_of(100 + i, (uint16_t)(1 + i), 0, i);
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	CHECK_INT(20, pr_cache_load(c, idd, recs, 20, NULL, 0));
	CHECK_INT(0, snap_writer_publish(w, c, 1));
	snap_query_init(&q, &td, &g, NULL);
	CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 2, &total, NULL, NULL));
	snap_writer_stats(w, &ws);
	CHECK_INT(0, ws.recreations);

	/* 20,000 paths do not fit: a new object, the old one says REPLACED */
	CHECK_INT(20000, pr_cache_load(c, idd, recs, 20000, NULL, 0));
	CHECK_INT(0, snap_writer_publish(w, c, 2));
	snap_writer_stats(w, &ws);
	CHECK_INT(1, ws.recreations);
	CHECK_INT(2, ws.object_gen);
	CHECK_INT(20000, ws.records);
	CHECK_INT(-ESTALE, snap_lookup(&m, &q, out, 2, &total, NULL, NULL));
	CHECK_INT(0, snap_map_open(name, geteuid(), &m2));
	CHECK_INT(2, m2.object_gen);
	CHECK(m2.object_id != m.object_id);
	g = gid_of(100 + 19999);
	snap_query_init(&q, &td, &g, NULL);
	CHECK_INT(SNAP_HIT, snap_lookup(&m2, &q, out, 2, &total, NULL, NULL));
	CHECK_INT(19999, be32toh(out[0].flowlabel_hoplimit));
	CHECK_INT(2, atomic_load(&m2.hdr->publication));
	snap_map_close(&m);

	/* a second writer while the first lives */
	{
		struct snap_writer_opts o = { .name = name, .socket_mode = 0600 };
		struct snap_writer *w2 = NULL;

		CHECK_INT(-EADDRINUSE, snap_writer_open(&o, &w2));
		CHECK(w2 == NULL);
		o.name = "no-slash";
		CHECK_INT(-EINVAL, snap_writer_open(&o, &w2));
		o.name = "/a/b";
		CHECK_INT(-EINVAL, snap_writer_open(&o, &w2));
	}
	/* A stopped object's halves are punched out, and a lookup (its prefetch included) reads
	 * none of their words: it would put pages back into /dev/shm, or fault when it is full. */
	{
		int fd = shm_open(name, O_RDONLY, 0);
		struct stat st0, st1;

		CHECK(fd >= 0);
		snap_writer_close(w);
		CHECK_INT(0, fstat(fd, &st0));
		CHECK_INT(-ESTALE, snap_lookup(&m2, &q, out, 2, &total, NULL, NULL));
		CHECK_INT(0, fstat(fd, &st1));
		CHECK_INT((int)st0.st_blocks, (int)st1.st_blocks);
		close(fd);
	}
	CHECK_INT(SNAP_STOPPED, atomic_load(&m2.hdr->state));
	snap_map_close(&m2);
	pr_cache_free(c);
	free(recs);
}

/*
 * Publications patched from the cache's journal answer exactly as the cache does: random
 * changes - replacements with 0..4 paths (some with an SGID other than their tuple's, so not
 * inline), DLIDs shared between destinations (ambiguous ones), removals by DGID, whole-table
 * loads with a sweep, tuples created after the half was laid out - published after every few,
 * every key looked up in the snapshot and in the cache after each publication. The tables are
 * small, so patches also run out of room and fall back to rebuilds on the way.
 */
static void test_patch_equals_cache(void)
{
	enum { DESTS = 300, LIDS = 200, ROUNDS = 150, TUPLES = 6 };
	const char *name = test_name("patch");
	struct pr_cache *c = new_cache(100000);
	struct snap_writer *w = new_writer(name, 0);
	struct snap_writer_stats ws;
	struct snap_map m;
	const struct pr_tuple tt[TUPLES] = {
		{ .sgid = gid_of(1) },
		{ .sgid = gid_of(1), .pkey = 0x8001, .flags = PR_TUPLE_PKEY },
		{ .sgid = gid_of(2) },
		{ .sgid = gid_of(1), .service_id = 7, .flags = PR_TUPLE_SERVICE_ID },
		{ .sgid = gid_of(3), .sl = 2, .flags = PR_TUPLE_SL },
		{ .sgid = gid_of(4) },
	};
	uint16_t tids[TUPLES];
	unsigned seed = 12345, ntids = 3, last_t = 0;
	uint64_t last_d = 0;

	for (unsigned t = 0; t < ntids; t++)
		tids[t] = tuple_id(c, &tt[t]);
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	for (unsigned round = 0; round < ROUNDS; round++) {
		unsigned ops = 1 + (unsigned)rand_r(&seed) % 12;

		for (unsigned op = 0; op < ops; op++) {
			unsigned k = (unsigned)rand_r(&seed) % 100, t = (unsigned)rand_r(&seed) % ntids;
			uint64_t d = (uint64_t)rand_r(&seed) % DESTS;
			union ibv_gid g;
			struct ibv_path_record r[20];

			if (!op && rand_r(&seed) % 3 == 0) {	/* the key changed last, again */
				t = last_t;
				d = last_d;
				k = 0;
			}
			last_t = t;
			last_d = d;
			g = gid_of(100 + d);

			if (k < 65) {
				size_t n = (size_t)rand_r(&seed) % 5;

				for (size_t i = 0; i < n; i++) {
					r[i] = rec_of(100 + d, (uint16_t)(1 + (d * 3 + i) % LIDS),
						      (uint8_t)t, round << 8 | (uint32_t)i);
					r[i].sgid = rand_r(&seed) % 8 ? tt[t].sgid : gid_of(9);
				}
				CHECK_INT(0, pr_cache_replace(c, tids[t], &g, r, n, NULL, 0));
			} else if (k < 75) {
				pr_cache_remove_dgid(c, &g);
			} else if (k < 82) {	/* a refresh of 20 destinations: load, then sweep */
				uint32_t gen = pr_cache_begin_generation(c);
				struct pr_origin o = { PR_SRC_SA, 0, gen };

				for (size_t i = 0; i < 20; i++)
					r[i] = rec_of(100 + (d + i * 7) % DESTS,
						      (uint16_t)(1 + (d + i) % LIDS), (uint8_t)t,
						      round << 8 | 0x80 | (uint32_t)i);
				for (size_t i = 0; i < 20; i++)
					r[i].sgid = tt[t].sgid;
				CHECK_INT(20, pr_cache_load(c, tids[t], r, 20, &o, 0));
				pr_cache_sweep(c, tids[t], PR_SRC_SA, gen);
			} else if (k < 85 && ntids < TUPLES) {
				tids[ntids] = tuple_id(c, &tt[ntids]);
				ntids++;
			}
		}
		CHECK_INT(0, snap_writer_publish(w, c, round));
		for (unsigned t = 0; t < ntids; t++) {
			for (uint64_t d = 0; d < DESTS + 3; d++) {
				union ibv_gid g = gid_of(100 + d);
				uint16_t l = (uint16_t)(1 + d * 3 % LIDS);

				check_same(&m, c, tids[t], &g, NULL);
				check_same(&m, c, tids[t], &g, &l);
			}
			for (uint16_t l = 1; l <= LIDS + 2; l++)
				check_same(&m, c, tids[t], NULL, &l);
		}
	}
	snap_writer_stats(w, &ws);
	printf("patch model: %llu publications, %llu patched, %llu rebuilt\n",
	       (unsigned long long)ws.publications, (unsigned long long)ws.patches,
	       (unsigned long long)ws.rebuilds);
	CHECK(ws.patches >= ROUNDS / 2);
	CHECK(ws.rebuilds >= 3);	/* the first two, and at least one for room */
	snap_map_close(&m);
	snap_writer_close(w);
	pr_cache_free(c);
}

/* A writer that dies without closing leaves its object; the next one retires it. */
static void test_takeover(void)
{
	const char *name = test_name("take");
	struct snap_map m;
	struct snap_writer *w;
	struct snap_writer_stats ws;
	struct stat st;
	pid_t pid;
	int status = -1, fd;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct snap_writer_opts o = { .name = name, .socket_mode = 0666 };
		struct pr_cache_limits lim = { 10, 10 };
		struct pr_cache *c = NULL;
		struct snap_writer *cw = NULL;

		if (snap_writer_open(&o, &cw) || pr_cache_new(&lim, &c) ||
		    snap_writer_publish(cw, c, 1) || snap_writer_publish(cw, c, 2))
			_exit(1);
		_exit(0);	/* no close: the object stays, LIVE */
	}
	waitpid(pid, &status, 0);
	CHECK_INT(0, status);
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	CHECK_INT(SNAP_LIVE, atomic_load(&m.hdr->state));
	fd = shm_open(name, O_RDONLY, 0);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	CHECK_INT(0644, st.st_mode & 0777);	/* socket 0666: everyone may read, only we write */
	close(fd);

	w = new_writer(name, 0);
	CHECK_INT(SNAP_REPLACED, atomic_load(&m.hdr->state));
	snap_writer_stats(w, &ws);
	CHECK_INT(2, ws.object_gen);
	CHECK_INT(2, ws.publication);	/* the counter goes on where the dead writer left it */
	fd = shm_open(name, O_RDONLY, 0);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	CHECK_INT(0640, st.st_mode & 0777);	/* socket 0660 */
	close(fd);
	snap_map_close(&m);
	snap_writer_close(w);
}

/* --- trust: what a reader maps (issue 13, item 4) and corrupt objects (item 5) --- */

#define SHM_DIR "/dev/shm"
#define OTHER_UID 54321	/* a user that is neither us nor root */
#define NOBODY_UID 65534

static void shm_file(const char *name, char *path, size_t cap)
{
	snprintf(path, cap, SHM_DIR "%s", name);
}

struct forgery {
	const char *to;
	int (*mutate)(uint8_t *obj, uint64_t *size);	/* may change the size */
};

/* A copy of the object `from` under f->to (ours, mode 0644) with f->mutate applied. */
static void forge(const char *from, const struct forgery *f)
{
	struct stat st;
	uint64_t size;
	uint8_t *buf;
	int in = shm_open(from, O_RDONLY, 0), out;

	CHECK(in >= 0 && fstat(in, &st) == 0);
	size = (uint64_t)st.st_size;
	buf = calloc(1, size + 2 * 4096);
	CHECK_INT((ssize_t)size, pread(in, buf, size, 0));
	close(in);
	if (f->mutate)
		CHECK_INT(0, f->mutate(buf, &size));
	shm_unlink(f->to);
	out = shm_open(f->to, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(out >= 0);
	CHECK_INT(0, fchmod(out, 0644));
	CHECK_INT((ssize_t)size, pwrite(out, buf, size, 0));
	close(out);
	free(buf);
}

static _Atomic uint64_t *active_half(uint8_t *obj)
{
	struct snap_header *h = (struct snap_header *)obj;

	return (_Atomic uint64_t *)(obj + h->half_offset[atomic_load(&h->active) & 1]);
}

/* half_offset + half_size wraps past 2^64: the halves "fit", and the active one's regions are
 * moved 512 GiB past the end of the mapping. */
static int wrap_half_size(uint8_t *obj, uint64_t *size)
{
	struct snap_header *h = (struct snap_header *)obj;
	_Atomic uint64_t *x = active_half(obj);

	(void)size;
	h->half_size = UINT64_MAX - 7;
	atomic_fetch_add(&x[SH_OFF_DGID], 1ULL << 36);
	atomic_fetch_add(&x[SH_OFF_DLID], 1ULL << 36);
	atomic_fetch_add(&x[SH_USED], 1ULL << 36);
	return 0;
}

/* A half too small for its own header words, at the very end of the object. */
static int tiny_half_at_end(uint8_t *obj, uint64_t *size)
{
	struct snap_header *h = (struct snap_header *)obj;

	h->half_size = 8;
	h->half_offset[0] = h->half_offset[1] = *size - 8;
	return 0;
}

static int half_past_end(uint8_t *obj, uint64_t *size)
{
	struct snap_header *h = (struct snap_header *)obj;

	h->half_offset[1] = *size + 4096;
	return 0;
}

/* A never-written (empty) half with an absurd group count: snap_read_all allocated
 * (uint32_t)(count + 1) == 0 groups and copied 2^32 - 1 into them. */
static int empty_half_groups(uint8_t *obj, uint64_t *size)
{
	_Atomic uint64_t *x = active_half(obj);

	(void)size;
	if (atomic_load(&x[SH_USED]))
		return -1;	/* the test wants an empty half */
	atomic_store(&x[SH_NGROUPS], 0xffffffffULL);
	return 0;
}

/* A half whose hot words claim 2^32 - 1 slots, nowhere near room for them. */
static int empty_half_slots(uint8_t *obj, uint64_t *size)
{
	_Atomic uint64_t *x = active_half(obj);

	(void)size;
	if (atomic_load(&x[SH_USED]))
		return -1;
	atomic_store(&x[SH_DGID_SLOTS], 0xffffffffULL);
	atomic_store(&x[SH_OFF_DGID], SH_OFF_TUPLES);
	return 0;
}

static int grown_file(uint8_t *obj, uint64_t *size)
{
	(void)obj;
	*size += 4096;	/* the header's object_size no longer says the file's size */
	return 0;
}

static int short_file(uint8_t *obj, uint64_t *size)
{
	(void)obj;
	*size -= 4096;
	return 0;
}

struct open_case {
	const char *name;
	uid_t owner;
	int want;		/* snap_map_open()'s result */
	bool read_all;		/* then snap_read_all() must not crash: -EIO wanted */
};

/* In a child: the open's result, and a read of everything if it (wrongly) succeeded. */
static int open_in_child(const void *arg)
{
	const struct open_case *c = arg;
	struct snap_map m;
	int r = snap_map_open(c->name, c->owner, &m);

	if (r)
		return r == c->want ? 0 : 1;
	if (c->read_all) {
		struct snap_contents sc;
		int rr = snap_read_all(&m, &sc);

		snap_contents_free(&sc);
		snap_map_close(&m);
		return rr == -EIO && c->want == 0 ? 0 : 2;
	}
	snap_map_close(&m);
	return c->want == 0 ? 0 : 3;
}

static void check_open(const char *name, uid_t owner, int want, bool read_all, const char *what)
{
	struct open_case c = { name, owner, want, read_all };
	int status = in_child(open_in_child, &c, 5);

	if (status)
		fprintf(stderr, "snap_map_open of %s: child status %d\n", what, status);
	CHECK_INT(0, status);
}

static void test_trust(void)
{
	char valid[64], fresh[64], forged[64], path[128], target[128];
	struct pr_cache *c = new_cache(1000);
	struct pr_tuple td = { .sgid = gid_of(1) };
	uint16_t tid = tuple_id(c, &td);
	struct snap_writer *w, *w0;
	struct snap_map m;
	uid_t me = geteuid();
	int fd;

	snprintf(valid, sizeof(valid), "/lsa-test-valid-%d", (int)getpid());
	snprintf(fresh, sizeof(fresh), "/lsa-test-fresh-%d", (int)getpid());
	snprintf(forged, sizeof(forged), "/lsa-test-forged-%d", (int)getpid());
	for (uint64_t d = 10; d < 20; d++) {
		struct ibv_path_record r = rec_of(d, (uint16_t)d, 0, (uint32_t)d);
		union ibv_gid g = gid_of(d);

		CHECK_INT(0, pr_cache_replace(c, tid, &g, &r, 1, NULL, 0));
	}
	w = new_writer(valid, 0);
	CHECK_INT(0, snap_writer_publish(w, c, 1));
	w0 = new_writer(fresh, 0);	/* never published: both halves empty */

	/* a faithful copy is fine; the owner is checked against the daemon's uid, root passes */
	forge(valid, &(struct forgery){ forged, NULL });
	check_open(forged, me, 0, false, "a faithful copy");
	CHECK_INT(0, snap_map_open(forged, me, &m));
	snap_map_close(&m);

	/* writable by group or others: anyone could have rewritten the paths */
	fd = shm_open(forged, O_RDWR, 0);
	CHECK_INT(0, fchmod(fd, 0664));
	check_open(forged, me, -EPERM, false, "a group-writable object");
	CHECK_INT(0, fchmod(fd, 0646));
	check_open(forged, me, -EPERM, false, "a world-writable object");
	CHECK_INT(0, fchmod(fd, 0644));
	/* another owner than the daemon's user (and not root) */
	if (me == 0) {
		CHECK_INT(0, fchown(fd, OTHER_UID, OTHER_UID));
		check_open(forged, 0, -EPERM, false, "another user's object");
		check_open(forged, OTHER_UID, 0, false, "the daemon user's object");
		CHECK_INT(0, fchown(fd, 0, 0));
		check_open(forged, OTHER_UID, 0, false, "root's object");
	} else {
		check_open(forged, me + 1, -EPERM, false, "another user's object");
	}
	close(fd);

	/* not a regular file: a FIFO must neither hang the reader nor be read */
	shm_unlink(forged);
	shm_file(forged, path, sizeof(path));
	CHECK_INT(0, mkfifo(path, 0644));
	check_open(forged, me, -EPERM, false, "a FIFO");
	unlink(path);
	/* a symlink to a valid object is not followed */
	shm_file(valid, target, sizeof(target));
	CHECK_INT(0, symlink(target, path));
	check_open(forged, me, -ELOOP, false, "a symlink");
	unlink(path);

	/* sizes: the file against the header */
	forge(valid, &(struct forgery){ forged, grown_file });
	check_open(forged, me, -EPROTO, false, "a file longer than its header says");
	forge(valid, &(struct forgery){ forged, short_file });
	check_open(forged, me, -EPROTO, false, "a file shorter than its header says");

	/* corrupt headers: each overflow and bound of item 5 */
	forge(valid, &(struct forgery){ forged, wrap_half_size });
	check_open(forged, me, -EPROTO, false, "half_offset + half_size wrapping");
	forge(valid, &(struct forgery){ forged, tiny_half_at_end });
	check_open(forged, me, -EPROTO, false, "a half smaller than its header words");
	forge(valid, &(struct forgery){ forged, half_past_end });
	check_open(forged, me, -EPROTO, false, "a half past the end");
	forge(fresh, &(struct forgery){ forged, empty_half_groups });
	check_open(forged, me, 0, true, "an empty half with 2^32 - 1 groups");
	CHECK_INT(0, snap_map_open(forged, me, &m));
	{
		struct snap_query q;
		union ibv_gid g = gid_of(10);
		struct ibv_path_record out[2];

		/* a lookup reads the hot words only: empty, so nothing to find */
		snap_query_init(&q, &td, &g, NULL);
		CHECK_INT(SNAP_MISS, snap_lookup(&m, &q, out, 2, NULL, NULL, NULL));
	}
	snap_map_close(&m);
	forge(fresh, &(struct forgery){ forged, empty_half_slots });
	check_open(forged, me, 0, true, "a half with 2^32 - 1 slots and no room for them");
	CHECK_INT(0, snap_map_open(forged, me, &m));
	{
		struct snap_query q;
		union ibv_gid g = gid_of(10);
		struct ibv_path_record out[2];

		snap_query_init(&q, &td, &g, NULL);
		CHECK_INT(-EIO, snap_lookup(&m, &q, out, 2, NULL, NULL, NULL));
	}
	snap_map_close(&m);

	shm_unlink(forged);
	snap_writer_close(w0);
	snap_writer_close(w);
	pr_cache_free(c);
}

/*
 * snap_read_all's allocations, apart from copy_half's own bound (issue 13, item 5): a half
 * that claims 2^32 - 1 destinations AND has the room for 2^32 DGID slots (a sparse object of
 * 256 GiB), so that the count passes every check and only alloc_n stands between it and the
 * heap. It must ask for 2^32 groups - which the system refuses (here alloc_fail.h's limit, as a
 * sanitizer would abort rather than return NULL) - and not for (uint32_t)(count + 1) == 0,
 * into which the first slot's group was then written. Slot 1 names a tuple that does not
 * exist, so a reader that got that far stops there instead of walking 2^32 slots.
 */
enum { SPARSE_SLOTS_LOG2 = 32 };

static void forge_sparse(const char *from, const char *to)
{
	_Alignas(64) uint8_t page[SNAP_HEADER_SIZE];
	uint8_t *half;
	struct snap_header *h = (struct snap_header *)page;
	uint64_t *x, off, hw, slots[2 * SNAP_SLOT_WORDS] = { 0 };
	int in = shm_open(from, O_RDONLY, 0), out;
	uint32_t a;

	CHECK(in >= 0);
	CHECK_INT(SNAP_HEADER_SIZE, pread(in, page, SNAP_HEADER_SIZE, 0));
	a = atomic_load(&h->active) & 1;
	off = h->half_offset[a];
	half = calloc(1, SH_OFF_TUPLES * 8 + 4096);
	CHECK_INT(SH_OFF_TUPLES * 8 + 4096, pread(in, half, SH_OFF_TUPLES * 8 + 4096, (off_t)off));
	close(in);
	x = (uint64_t *)half;
	CHECK_INT(1, x[SH_NTUPLES]);
	x[SH_DGID_SLOTS] = 1ULL << SPARSE_SLOTS_LOG2;
	hw = x[SH_OFF_DGID] + SNAP_SLOT_WORDS * x[SH_DGID_SLOTS];
	x[SH_DLID_SLOTS] = x[SH_RECORD_SLOTS] = 0;
	x[SH_OFF_DLID] = x[SH_OFF_RECORDS] = x[SH_USED] = hw;
	x[SH_NGROUPS] = 0xffffffffULL;
	x[SH_NRECORDS] = 1;
	h->half_size = hw * 8;
	h->half_offset[!a] = off;	/* both halves in one place: the inactive one is never read */
	h->object_size = off + hw * 8;
	/* slot 0: a destination of tuple 0 with one inline path; slot 1: of a tuple not there */
	slots[SLOT_META] = SNAP_VALID | SNAP_INLINE | 1ULL << 32;
	slots[SNAP_SLOT_WORDS + SLOT_META] = SNAP_VALID | SNAP_INLINE | 1ULL << 32 | 7ULL << 48;

	shm_unlink(to);
	out = shm_open(to, O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK(out >= 0);
	CHECK_INT(0, fchmod(out, 0644));
	CHECK_INT(0, ftruncate(out, (off_t)h->object_size));
	CHECK_INT(SNAP_HEADER_SIZE, pwrite(out, page, SNAP_HEADER_SIZE, 0));
	CHECK_INT((ssize_t)(x[SH_OFF_DGID] * 8), pwrite(out, half, x[SH_OFF_DGID] * 8, (off_t)off));
	CHECK_INT(sizeof(slots), pwrite(out, slots, sizeof(slots), (off_t)(off + x[SH_OFF_DGID] * 8)));
	close(out);
	free(half);
}

static int read_sparse(const void *arg)
{
	struct snap_contents sc;
	struct snap_map m;
	int r;

	if (snap_map_open(arg, geteuid(), &m))
		return 1;
	alloc_limit_set(1ULL << 30);
	r = snap_read_all(&m, &sc);
	snap_contents_free(&sc);
	snap_map_close(&m);
	if (alloc_largest < (sizeof(uint64_t) << SPARSE_SLOTS_LOG2)) {
		fprintf(stderr, "sparse half: largest allocation %zu bytes\n", alloc_largest);
		return 2;
	}
	return r == -ENOMEM ? 0 : 3;
}

static void test_alloc_bound(void)
{
	char valid[64], forged[64];
	struct pr_cache *c = new_cache(100);
	struct pr_tuple td = { .sgid = gid_of(1) };
	uint16_t tid = tuple_id(c, &td);
	struct ibv_path_record r = rec_of(10, 10, 0, 10);
	union ibv_gid g = gid_of(10);
	struct snap_writer *w;

	snprintf(valid, sizeof(valid), "/lsa-test-valid-%d", (int)getpid());
	snprintf(forged, sizeof(forged), "/lsa-test-sparse-%d", (int)getpid());
	CHECK_INT(0, pr_cache_replace(c, tid, &g, &r, 1, NULL, 0));
	w = new_writer(valid, 0);
	CHECK_INT(0, snap_writer_publish(w, c, 1));
	forge_sparse(valid, forged);
	CHECK_INT(0, in_child(read_sparse, forged, 20));
	shm_unlink(forged);
	snap_writer_close(w);
	pr_cache_free(c);
}

/*
 * The snapshot outgrows its object while no new object can be made (here: a file size limit,
 * as /dev/shm full would): the name keeps the old publication, served, never a moment free.
 */
static void test_growth_without_room(void)
{
	const char *name = test_name("noroom");
	struct pr_cache *c = new_cache(100000);
	struct pr_tuple td = { .sgid = gid_of(1) };
	uint16_t tid = tuple_id(c, &td);
	struct snap_writer *w = new_writer(name, 4096);
	struct snap_writer_stats ws;
	struct ibv_path_record *recs = calloc(20000, sizeof(*recs)), out[2];
	struct snap_map m, m2;
	struct snap_query q;
	union ibv_gid g = gid_of(100);
	struct rlimit old, lim;
	uint64_t id;
	size_t total;
	int r;

	for (uint32_t i = 0; i < 20000; i++)
		recs[i] = rec_of(100 + i, (uint16_t)(1 + i % 40000), 0, i);
	CHECK_INT(20, pr_cache_load(c, tid, recs, 20, NULL, 0));
	CHECK_INT(0, snap_writer_publish(w, c, 1));
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	id = m.object_id;
	snap_writer_stats(w, &ws);

	CHECK_INT(20000, pr_cache_load(c, tid, recs, 20000, NULL, 0));
	signal(SIGXFSZ, SIG_IGN);
	CHECK_INT(0, getrlimit(RLIMIT_FSIZE, &old));
	lim = old;
	lim.rlim_cur = ws.object_size;	/* the old object fits, no bigger one does */
	CHECK_INT(0, setrlimit(RLIMIT_FSIZE, &lim));
	r = snap_writer_publish(w, c, 2);
	CHECK_INT(0, setrlimit(RLIMIT_FSIZE, &old));
	CHECK_INT(-EFBIG, r);

	/* the old object still holds the name, live, with the last publication */
	CHECK_INT(0, snap_map_open(name, geteuid(), &m2));
	CHECK(m2.object_id == id);
	snap_query_init(&q, &td, &g, NULL);
	CHECK_INT(SNAP_HIT, snap_lookup(&m2, &q, out, 2, &total, NULL, NULL));
	CHECK_INT(SNAP_HIT, snap_lookup(&m, &q, out, 2, &total, NULL, NULL));
	CHECK_INT(1, atomic_load(&m2.hdr->publication));
	snap_map_close(&m2);
	/* and no temporary object was left behind */
	{
		char prefix[64];
		struct dirent *e;
		DIR *d = opendir(SHM_DIR);
		int left = 0;

		snprintf(prefix, sizeof(prefix), ".localsa-%d-", (int)getpid());
		while (d && (e = readdir(d)))
			left += !strncmp(e->d_name, prefix, strlen(prefix));
		if (d)
			closedir(d);
		CHECK_INT(0, left);
	}

	/* room again: the next publication moves to a bigger object */
	CHECK_INT(0, snap_writer_publish(w, c, 3));
	snap_writer_stats(w, &ws);
	CHECK_INT(1, ws.recreations);
	CHECK_INT(-ESTALE, snap_lookup(&m, &q, out, 2, &total, NULL, NULL));
	CHECK_INT(0, snap_map_open(name, geteuid(), &m2));
	CHECK(m2.object_id != id);
	g = gid_of(100 + 19999);
	snap_query_init(&q, &td, &g, NULL);
	CHECK_INT(SNAP_HIT, snap_lookup(&m2, &q, out, 2, &total, NULL, NULL));
	snap_map_close(&m2);
	snap_map_close(&m);
	snap_writer_close(w);
	pr_cache_free(c);
	free(recs);
}

/* What holds the name when a writer starts is replaced, not followed or trusted. */
static void test_junk_under_name(void)
{
	const char *name = test_name("junk");
	char path[128], target[128];
	struct snap_writer *w;
	struct snap_map m;
	struct stat st;
	int fd;

	shm_file(name, path, sizeof(path));
	snprintf(target, sizeof(target), "/tmp/lsa-test-junk-%d", (int)getpid());
	/* a FIFO */
	CHECK_INT(0, mkfifo(path, 0666));
	w = new_writer(name, 0);
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	snap_map_close(&m);
	snap_writer_close(w);
	/* a symlink to a file of ours: replaced, the file untouched */
	fd = open(target, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(0, symlink(target, path));
	w = new_writer(name, 0);
	CHECK_INT(0, snap_map_open(name, geteuid(), &m));
	snap_map_close(&m);
	CHECK(stat(target, &st) == 0 && st.st_size == 0);
	snap_writer_close(w);
	unlink(target);
}

/*
 * Another user's object under the name when the writer starts (issue 13, item 9): a live
 * snapshot of a dead writer, but nobody's. Its owner may truncate it at any time, so the
 * writer must not map it (a SIGBUS on its next store) nor retire it (a write and a hole
 * punched in another user's file); it puts its own object under the name (temporary name,
 * then rename) and publishes there. As root, the object chowned to nobody; skipped otherwise.
 */
static void test_foreign_under_name(void)
{
	const char *name = test_name("foreign");
	struct snap_writer_stats ws;
	struct snap_contents sc;
	struct snap_writer *w;
	struct pr_cache *c;
	struct snap_map m;
	struct stat st;
	pid_t pid;
	int status = -1, fd;

	if (geteuid() != 0) {
		printf("another user's object under the name: skipped (needs root)\n");
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {	/* a writer that dies without closing: its object stays, LIVE */
		struct snap_writer_opts o = { .name = name, .socket_mode = 0666 };
		struct pr_cache_limits lim = { 10, 10 };
		struct pr_cache *cc = NULL;
		struct snap_writer *cw = NULL;

		if (snap_writer_open(&o, &cw) || pr_cache_new(&lim, &cc) ||
		    snap_writer_publish(cw, cc, 1) || snap_writer_publish(cw, cc, 2))
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK_INT(0, status);
	fd = shm_open(name, O_RDWR, 0);
	CHECK(fd >= 0);
	CHECK_INT(0, fchown(fd, NOBODY_UID, NOBODY_UID));
	CHECK_INT(0, snap_map_open(name, NOBODY_UID, &m));

	w = new_writer(name, 0);
	/* nobody's object: not retired, not emptied, the writer's counters its own */
	CHECK_INT(SNAP_LIVE, atomic_load(&m.hdr->state));
	CHECK_INT(0, snap_read_all(&m, &sc));
	CHECK_INT(2, sc.publication);
	snap_contents_free(&sc);
	snap_writer_stats(w, &ws);
	CHECK_INT(1, ws.object_gen);
	CHECK_INT(0, ws.publication);
	snap_map_close(&m);
	/* its owner cuts it short now: the writer holds nothing of it */
	CHECK_INT(0, ftruncate(fd, 0));
	close(fd);
	c = new_cache(10);
	CHECK_INT(0, snap_writer_publish(w, c, 1));
	fd = shm_open(name, O_RDONLY, 0);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	CHECK_INT(0, st.st_uid);
	close(fd);
	CHECK_INT(0, snap_map_open(name, 0, &m));
	CHECK_INT(0, snap_read_all(&m, &sc));
	CHECK_INT(1, sc.publication);
	snap_contents_free(&sc);
	snap_map_close(&m);
	snap_writer_close(w);
	pr_cache_free(c);
}

/* The hashes are ABI: a reader of another build must find what this writer filed. */
static void test_hashes_pinned(void)
{
	uint64_t w[SNAP_TUPLE_WORDS];
	struct pr_tuple t = { .sgid = gid_of(1), .pkey = 0x8001, .flags = PR_TUPLE_PKEY };
	uint64_t th, g0, g1;
	union ibv_gid g = gid_of(0x1234);

	snap_tuple_words(&t, w);
	CHECK_INT(0x8001 | (uint64_t)PR_TUPLE_PKEY << 48 | SNAP_VALID, w[3]);
	th = snap_tuple_hash(w);
	snap_gid_words(&g, &g0, &g1);
	CHECK_INT(0xbe90ed2d15be223dULL, th);
	CHECK_INT(0x5f0e96f1875499aeULL, snap_dgid_hash(th, g0, g1));
	CHECK_INT(0x3a3ca2e33efd4ae7ULL, snap_dlid_hash(th, 17));
	CHECK_INT(500, snap_home(1ULL << 63, 1000));	/* the high word of hash x slots */
	CHECK_INT(999, snap_home(UINT64_MAX, 1000));
}

/* --- the stress test --- */

/*
 * Epoch e of destination d: present unless (d + e) % 7 == 0, with 1 + (d + e) % 3 paths.
 * Path i carries DLID 1 + 4d + i, SLID = the group size, flowlabel_hoplimit = e << 8 | i, and
 * service_id = a checksum of all that, so a reader can tell a published record from anything else.
 */
#define DESTS 256

static bool present(uint64_t d, uint64_t e) { return (d + e) % 7 != 0; }
static unsigned npaths(uint64_t d, uint64_t e) { return 1 + (unsigned)((d + e) % 3); }

static uint64_t checksum(uint64_t d, uint64_t e, uint64_t i, uint64_t n)
{
	uint64_t x = d << 40 ^ e << 12 ^ i << 4 ^ n;

	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	return x;
}

static struct ibv_path_record stress_rec(uint64_t d, uint64_t e, unsigned i, unsigned n)
{
	struct ibv_path_record r = rec_of(1000 + d, (uint16_t)(1 + 4 * d + i), 0, 0);

	r.slid = htobe16((uint16_t)n);
	r.flowlabel_hoplimit = htobe32((uint32_t)(e << 8 | i));
	r.service_id = htobe64(checksum(d, e, i, n));
	return r;
}

struct stress {
	const char *name;
	bool own_maps;			/* readers map by name (and remap) instead of sharing */
	struct snap_writer *w;
	struct snap_map shared;
	_Atomic uint64_t published;	/* last epoch whose publication returned */
	_Atomic int stop;
	_Atomic int ready;
	uint64_t publications, grows;
};

struct reader {
	struct stress *s;
	unsigned seed;
	uint64_t lookups, hits, misses, bad, retries, remaps, max_ns;
	uint64_t name_free;		/* remaps that found no object under the name */
	char why[160];
};

static void bad(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(struct reader *rd, const char *fmt, ...)
{
	va_list ap;

	if (rd->bad++)
		return;
	va_start(ap, fmt);
	vsnprintf(rd->why, sizeof(rd->why), fmt, ap);
	va_end(ap);
}

/* Was "d (with path i if by_dlid) absent" true in some epoch of [lo, hi]? */
static bool miss_possible(uint64_t d, int i, uint64_t lo, uint64_t hi)
{
	for (uint64_t e = lo; e <= hi; e++)
		if (!present(d, e) || (i >= 0 && (unsigned)i >= npaths(d, e)))
			return true;
	return false;
}

static void verify(struct reader *rd, uint64_t d, int dl_index, const struct ibv_path_record *out,
		   size_t n, uint64_t lo, uint64_t hi)
{
	uint64_t e = be32toh(out[0].flowlabel_hoplimit) >> 8;
	unsigned np = npaths(d, e);

	if (e < lo || e > hi)
		{
		bad(rd, "epoch %" PRIu64 " outside the window ending %" PRIu64, e, hi);
		return;
	}
	if (!present(d, e))
		{
		bad(rd, "destination %" PRIu64 " was absent in epoch %" PRIu64, d, e);
		return;
	}
	if (n != (dl_index >= 0 ? 1 : np))
		{
		bad(rd, "%zu paths, want %u", n, dl_index >= 0 ? 1 : np);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		const struct ibv_path_record *r = &out[k];
		unsigned i = be32toh(r->flowlabel_hoplimit) & 0xff;
		struct ibv_path_record want = stress_rec(d, e, i, np);

		if (dl_index >= 0 ? i != (unsigned)dl_index : i != k)
			{
		bad(rd, "path index %u at position %zu", i, k);
		return;
	}
		if (be32toh(r->flowlabel_hoplimit) >> 8 != e)
			{
		bad(rd, "a group mixes epochs %" PRIu64 " and %u", e,
				   be32toh(r->flowlabel_hoplimit) >> 8);
		return;
	}
		if (memcmp(r, &want, sizeof(want)))
			{
		bad(rd, "record %u of destination %" PRIu64 " was never published", i, d);
		return;
	}
	}
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct stress *s = rd->s;
	struct snap_map mine = { 0 }, *m = &s->shared;
	struct snap_map retired[64];
	int nretired = 0;
	struct pr_tuple td = { .sgid = gid_of(1) };

	while (!atomic_load(&s->ready))
		;
	if (s->own_maps) {
		while (snap_map_open(s->name, geteuid(), &mine) < 0)
			;
		m = &mine;
	}
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t d = (uint64_t)rand_r(&rd->seed) % (DESTS + 4);	/* a few never exist */
		int kind = rand_r(&rd->seed) % 3, idx = kind ? rand_r(&rd->seed) % 3 : -1;
		union ibv_gid g = gid_of(1000 + d);
		uint16_t dlid = (uint16_t)(1 + 4 * d + (unsigned)(idx < 0 ? 0 : idx));
		struct ibv_path_record out[4];
		struct snap_query q;
		size_t n = 0;
		uint64_t lo, hi, t0, dt, pub = 0;
		int r;

		snap_query_init(&q, &td, kind == 1 ? NULL : &g, kind ? &dlid : NULL);
		lo = atomic_load(&s->published);
		t0 = now_ns();
		r = snap_lookup(m, &q, out, 4, &n, &pub, &rd->retries);
		dt = now_ns() - t0;
		hi = atomic_load(&s->published) + 1;	/* flipped, not yet counted */
		rd->lookups++;
		if (dt > rd->max_ns)
			rd->max_ns = dt;
		if (r == -ESTALE && s->own_maps) {
			if (nretired < 64)
				retired[nretired++] = mine;	/* other threads' rule: keep until the end */
			else
				snap_map_close(&mine);
			while ((r = snap_map_open(s->name, geteuid(), &mine)) < 0 &&
			       !atomic_load_explicit(&s->stop, memory_order_relaxed))
				rd->name_free += r == -ENOENT;
			rd->remaps++;
			continue;
		}
		if (r == SNAP_HIT) {
			rd->hits++;
			if (d >= DESTS)
				bad(rd, "destination %" PRIu64 " never existed", d);
			else
				verify(rd, d, idx, out, n, lo, hi);
		} else if (r == SNAP_MISS) {
			rd->misses++;
			if (d < DESTS && lo && !miss_possible(d, idx, lo, hi))
				bad(rd, "destination %" PRIu64 " missing in epochs up to %" PRIu64, d, hi);
		} else {
			bad(rd, "lookup returned %d", r);
		}
	}
	for (int i = 0; i < nretired; i++)
		snap_map_close(&retired[i]);
	snap_map_close(&mine);
	return NULL;
}

/*
 * Publishes epochs at 1 kHz (absolute deadlines) until duration_ms has passed and at least
 * STRESS_MIN_PUBS epochs are out (enough for the object to grow and be recreated), whatever the
 * machine's load; STRESS_MAX_MS bounds a publisher that makes no progress.
 */
#define STRESS_MIN_PUBS 150u
#define STRESS_MAX_MS 60000u
static void publisher(struct stress *s, struct pr_cache *c, uint16_t tid, uint64_t duration_ms,
		      bool grow)
{
	uint64_t start = now_ns(), next = start, e = 0;
	struct ibv_path_record *big = NULL;
	struct pr_tuple tf = { .sgid = gid_of(2) };
	uint16_t fid = tuple_id(c, &tf);
	size_t nbig = 0;

	for (;;) {
		uint64_t ran_ms = (now_ns() - start) / 1000000u;
		struct timespec ts;

		if ((ran_ms >= duration_ms && e >= STRESS_MIN_PUBS) || ran_ms >= STRESS_MAX_MS)
			break;
		e++;
		for (uint64_t d = 0; d < DESTS; d++) {
			union ibv_gid g = gid_of(1000 + d);
			struct ibv_path_record r[3];
			unsigned n = present(d, e) ? npaths(d, e) : 0;

			for (unsigned i = 0; i < n; i++)
				r[i] = stress_rec(d, e, i, n);
			CHECK_INT(0, pr_cache_replace(c, tid, &g, r, n, NULL, 0));
		}
		/* filler paths under another tuple, twice as many each time, make the object grow */
		if (grow && e % 50 == 0 && nbig < 16384) {
			nbig = nbig ? nbig * 2 : 4096;
			big = realloc(big, nbig * sizeof(*big));
			for (size_t i = 0; i < nbig; i++)
				big[i] = rec_of(50000 + i, (uint16_t)(1 + i % 49000), 0, (uint32_t)i);
			CHECK_INT(nbig, pr_cache_load(c, fid, big, nbig, NULL, 0));
		} else if (grow && e % 50 == 25) {
			pr_cache_sweep(c, fid, PR_SRC_SA, UINT32_MAX);
		}
		if (snap_writer_publish(s->w, c, (uint32_t)e) == 0)
			atomic_store(&s->published, e);
		else
			CHECK(!"publish failed");
		if (e == 1)
			atomic_store(&s->ready, 1);
		next += 1000000;
		ts.tv_sec = (time_t)(next / 1000000000u);
		ts.tv_nsec = (long)(next % 1000000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	s->publications = e;
	free(big);
}

static void stress(bool own_maps, uint64_t duration_ms)
{
	struct stress s = { .name = test_name(own_maps ? "stress-own" : "stress-shared"),
			    .own_maps = own_maps };
	struct pr_cache *c = new_cache(1u << 22);
	struct pr_tuple td = { .sgid = gid_of(1) };
	uint16_t tid = tuple_id(c, &td);
	struct reader rd[4];
	pthread_t th[4];
	struct snap_writer_stats ws;
	uint64_t lookups = 0, hits = 0, misses = 0, retries = 0, remaps = 0, max_ns = 0;

	/* shared mapping: big enough never to grow (the readers hold the writer's pointers) */
	s.w = new_writer(s.name, own_maps ? 4096 : 8u << 20);
	snap_writer_map(s.w, &s.shared);
	for (int i = 0; i < 4; i++) {
		rd[i] = (struct reader){ .s = &s, .seed = (unsigned)(i * 7919 + 1) };
		CHECK_INT(0, pthread_create(&th[i], NULL, reader_main, &rd[i]));
	}
	publisher(&s, c, tid, duration_ms, own_maps);
	atomic_store(&s.stop, 1);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		lookups += rd[i].lookups;
		hits += rd[i].hits;
		misses += rd[i].misses;
		retries += rd[i].retries;
		remaps += rd[i].remaps;
		if (rd[i].max_ns > max_ns)
			max_ns = rd[i].max_ns;
		CHECK_INT(0, rd[i].bad);
		CHECK_INT(0, rd[i].name_free);	/* growth never leaves the name free */
		if (rd[i].bad)
			fprintf(stderr, "reader %d: %llu bad answers, first: %s\n", i,
				(unsigned long long)rd[i].bad, rd[i].why);
		/* nobody starved: every reader kept answering */
		CHECK(rd[i].lookups > 1000);
		CHECK(rd[i].hits > 100);
	}
	snap_writer_stats(s.w, &ws);
	printf("stress (%s mapping%s): %llu publications (%llu patched) in %llu ms (%llu objects), "
	       "%llu lookups (%llu hits, %llu misses), %llu seqlock retries, %llu remaps, "
	       "slowest lookup %llu us\n",
	       own_maps ? "own" : "shared", own_maps ? ", growing" : "",
	       (unsigned long long)ws.publications, (unsigned long long)ws.patches,
	       (unsigned long long)duration_ms,
	       (unsigned long long)ws.object_gen, (unsigned long long)lookups,
	       (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)retries,
	       (unsigned long long)remaps, (unsigned long long)(max_ns / 1000));
	/*
	 * Progress, not speed (speed is the benchmark's): the publisher, sharing the CPUs with
	 * four spinning readers (and, under sanitizers, slowed down 5-15 times), still got its
	 * epochs out; readers never block it, so only a livelock runs into STRESS_MAX_MS.
	 */
	CHECK(ws.publications >= STRESS_MIN_PUBS);
	if (own_maps) {
		CHECK(ws.recreations >= 1);
		CHECK(remaps >= 1);
	}
	snap_writer_close(s.w);
	pr_cache_free(c);
}

int main(int argc, char **argv)
{
	uint64_t ms = argc > 1 ? strtoull(argv[1], NULL, 0) : 1500;

	test_lookup_equals_cache();
	test_patch_equals_cache();
	test_growth_and_close();
	test_takeover();
	test_trust();
	test_alloc_bound();
	test_growth_without_room();
	test_junk_under_name();
	test_foreign_under_name();
	test_hashes_pinned();
	stress(false, ms);
	stress(true, ms);
	return CHECK_DONE();
}
