/*
 * lib_latency - liblocalsa's hit against the snapshot, measured beside its anchor: a dependent
 * random read (pointer chase) over a buffer of the snapshot's size, mapped the same way.
 *
 * For each size (1k, 100k, 1M paths: one path per destination, as one GetTable fills a port's
 * cache) it fills a cache, publishes it as localsad does (cache/snap_writer), and on a handle
 * attached to that snapshot:
 *   hit        localsa_resolve of random destinations, each timed alone with the TSC (the
 *              timer's own cost subtracted), in rounds alternating with ...
 *   chase      ... the same number of steps of a pointer chase through a random cyclic
 *              permutation of the cache lines of a shared-memory object as large as the
 *              snapshot's half, mapped like the snapshot (MADV_HUGEPAGE, read-only mapping of
 *              its own) - so that both see the same machine at the same time; each hit
 *              percentile is also reported as a ratio to the chase's p50. Pinned to each core
 *              in turn: the row is the core with the lower ratio, every core's ratio beside it
 *   batch      localsa_resolve_batch of 64 random destinations back to back: lookups/s on one
 *              core, pinned to each core in turn (the best, and every core's)
 * Cores are measured apart because the virtual CPUs of this kind of machine differ by the
 * minute: one whose host core's other thread is busy runs a cached hit (pure instructions) in
 * 50 ns instead of 30, while its memory latency, the chase, barely moves.
 *   publish    a full publication (a rebuild, as after a fill), and one changed path
 *              published (patched), timed 200 times; the change is then read back
 *   busy       the hit while another thread refreshes the whole table and republishes back
 *              to back (full rebuilds)
 *   socket     localsa_resolve on a handle without a snapshot, answered by an in-process server
 *              that speaks the control protocol from the same cache (parse, lookup, hex reply:
 *              the work ctl_server does), or, with --socket, by a running localsad (give a
 *              --dgid it can resolve)
 * and the page size behind the snapshot's and the anchor's mappings (/proc/self/smaps: 2 MiB
 * transparent huge pages where /dev/shm allows them, else 4 KiB).
 *
 * --compare LIB,LIB,...: instead, builds of liblocalsa.so.1 (the code before a change and
 * after it, say) loaded side by side in this process, their hits timed in alternating rounds
 * with the chase; one line per build and size: build= entries= hit_p50_ns= hit_p99_ns=
 * chase_p50_ns= hit_chase_p50= hit_chase_p99= batch64_mlps=. Pin it (taskset) to compare on
 * one core.
 *
 * usage: lib_latency [--sizes 1000,100000,1000000] [--lookups N] [--socket SOCK --dgid GID]
 *                    [--json | --compare LIB,LIB,...]
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "cache/pr_cache.h"
#include "cache/snap_writer.h"
#include "localsa.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

#include "pr_fixture.h"

static uint64_t now_ns(void)
{
	return bench_now_ns();
}

static struct bench_pct percentiles(uint64_t *samples, size_t n)
{
	return bench_percentiles(samples, n);
}

/* --- an in-process control socket: `path dgid=...` answered from the cache --- */

struct server {
	char path[108];
	int lfd;
	const struct pr_cache *c;
	uint16_t tuple;
	pthread_t th;
	_Atomic int stop;
};

/* Answers `path dgid=...` with the codec's server side, as localsad does. */
static void serve_line(struct server *sv, int fd, char *line)
{
	struct ctl_request req;
	struct ctl_path_args pa;
	const struct pr_entry *e[128];
	char out[128 * (CTL_RECORD_HEX + 1) + 32];
	size_t n = 0, len;

	if (ctl_parse(line, &req) < 0 || ctl_path_decode(&req, &pa, NULL, 0) < 0 ||
	    !(pa.has & CTL_PATH_DGID)) {
		len = (size_t)ctl_reply_err(out, sizeof(out), -EINVAL, "bad request");
	} else {
		n = pr_cache_lookup_dgid(sv->c, sv->tuple, &pa.dgid, e, 128);
		if (n > 128)
			n = 128;
		if (!n) {
			len = (size_t)ctl_reply_err(out, sizeof(out), -ENOENT, "no path");
		} else {
			len = (size_t)ctl_reply_ok(out, sizeof(out), n);
			for (size_t i = 0; i < n; i++)
				len += (size_t)ctl_reply_record(out + len, sizeof(out) - len, &e[i]->rec);
		}
	}
	(void)!send(fd, out, len, MSG_NOSIGNAL);
}

/* Serves one connection at a time: a new one replaces it (each handle connects when it opens,
 * to learn who serves it, and then only on a miss). */
static void *server_main(void *arg)
{
	struct server *sv = arg;
	char buf[8192];
	size_t len = 0;
	int fd = -1;

	while (!sv->stop) {
		struct pollfd p[2] = { { .fd = sv->lfd, .events = POLLIN },
				       { .fd = fd, .events = POLLIN } };
		ssize_t r;
		char *nl;

		if (poll(p, fd >= 0 ? 2 : 1, 50) <= 0)
			continue;
		if (p[0].revents) {
			int nfd = accept(sv->lfd, NULL, NULL);

			if (nfd >= 0) {
				if (fd >= 0)
					close(fd);
				fd = nfd;
				len = 0;
			}
			continue;
		}
		r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (r <= 0) {
			close(fd);
			fd = -1;
			continue;
		}
		len += (size_t)r;
		while ((nl = memchr(buf, '\n', len))) {
			size_t used = (size_t)(nl - buf) + 1;

			*nl = '\0';
			serve_line(sv, fd, buf);
			memmove(buf, buf + used, len - used);
			len -= used;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int server_start(struct server *sv, const struct pr_cache *c, uint16_t tuple)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	sv->c = c;
	sv->tuple = tuple;
	snprintf(sv->path, sizeof(sv->path), "/tmp/lsa-bench-%d.sock", (int)getpid());
	strcpy(a.sun_path, sv->path);
	unlink(sv->path);
	sv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv->lfd < 0 || bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(sv->lfd, 4) < 0)
		return -errno;
	return -pthread_create(&sv->th, NULL, server_main, sv);
}

static void server_stop(struct server *sv)
{
	sv->stop = 1;
	pthread_join(sv->th, NULL);
	close(sv->lfd);
	unlink(sv->path);
}

/* --- a republisher: what a refresh does to readers --- */

struct republisher {
	struct snap_writer *w;
	struct pr_cache *c;
	uint16_t tuple;
	const struct ibv_path_record *recs;
	size_t n;
	pthread_t th;
	_Atomic int stop;
	uint64_t publications, ns;
};

/* The whole table again in a new generation (too many changes for a patch: a rebuild). */
static void *republish_main(void *arg)
{
	struct republisher *rp = arg;
	uint64_t t0 = now_ns();

	while (!rp->stop) {
		struct pr_origin o = { PR_SRC_SA, 0, pr_cache_begin_generation(rp->c) };

		if (pr_cache_load(rp->c, rp->tuple, rp->recs, rp->n, &o, 0) >= 0 &&
		    snap_writer_publish(rp->w, rp->c, 2) == 0)
			rp->publications++;
	}
	rp->ns = now_ns() - t0;
	return NULL;
}

/* --- the anchor: a pointer chase over a buffer of the snapshot's size --- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	return bench_rand(&rng);
}


#define LINE 64
#define HUGE_PAGE (2u << 20)

struct chase {
	char *rw;
	const char *ro;		/* mapped apart, read-only, as a reader maps the snapshot */
	size_t size;
	const char *at;
};

/*
 * A shared-memory object of size bytes (whole huge pages from 2 MiB on, as the writer sizes
 * its halves), faulted in through a MADV_HUGEPAGE mapping, holding one cycle through all of
 * its cache lines in random order (Sattolo), each line the address of the next.
 */
static int chase_open(struct chase *ch, size_t size)
{
	char name[64];
	size_t n;
	uint32_t *perm;
	int fd;

	memset(ch, 0, sizeof(*ch));
	if (size >= HUGE_PAGE)
		size = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	snprintf(name, sizeof(name), "/lsa-bench-chase-%d", (int)getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	shm_unlink(name);
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	ch->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ch->ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (ch->rw == MAP_FAILED || ch->ro == MAP_FAILED)
		return -ENOMEM;
	ch->size = size;
	(void)madvise(ch->rw, size, MADV_HUGEPAGE);
	(void)madvise((void *)ch->ro, size, MADV_HUGEPAGE);
	if (madvise(ch->rw, size, MADV_POPULATE_WRITE) < 0)
		memset(ch->rw, 0, size);
	n = size / LINE;
	perm = malloc(n * sizeof(*perm));
	if (!perm)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(next_rand() % i);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		const char *next = ch->ro + (size_t)perm[(i + 1) % n] * LINE;

		memcpy(ch->rw + (size_t)perm[i] * LINE, &next, sizeof(next));
	}
	free(perm);
	ch->at = ch->ro;
	for (size_t i = 0; i < n; i++)	/* fault the reader's mapping in: one full cycle */
		memcpy(&ch->at, ch->at, sizeof(ch->at));
	return 0;
}

static void chase_close(struct chase *ch)
{
	if (ch->rw && ch->rw != MAP_FAILED)
		munmap(ch->rw, ch->size);
	if (ch->ro && ch->ro != MAP_FAILED)
		munmap((void *)ch->ro, ch->size);
}

/* n dependent reads, each timed alone, as lookups are. */
static void chase_time(struct chase *ch, uint64_t *s, size_t n)
{
	const char *p = ch->at;

	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = bench_ticks();

		p = *(const char *const *)(const void *)p;
		s[i] = bench_ticks() - t0;
	}
	ch->at = p;
}

/* The page size behind the mapping that holds addr: "2M" when the kernel maps it with huge
 * pages (PMD), "4K" otherwise (from /proc/self/smaps). */
static const char *page_kind(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[256];
	bool in = false;
	unsigned long long rss = 0, pmd = 0, v;

	if (!f)
		return "?";
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= a && (uintptr_t)addr < b;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %llu kB", &v) == 1)
			rss = v;
		else if (sscanf(line, "ShmemPmdMapped: %llu kB", &v) == 1 ||
			 sscanf(line, "FilePmdMapped: %llu kB", &v) == 1)
			pmd += v;
	}
	fclose(f);
	return rss && pmd * 2 >= rss ? "2M" : "4K";
}

/* The snapshot's page size as a reader maps it (snap_map_open, every page of it touched). */
static const char *snapshot_kind(const char *name, size_t used)
{
	struct snap_map m;
	const char *kind;
	uint64_t sum = 0;
	uint32_t a;

	if (snap_map_open(name, geteuid(), &m))
		return "?";
	a = atomic_load(&m.hdr->active) & 1;
	for (size_t off = 0; off < used / 8; off += 512)
		sum += atomic_load_explicit(&m.half[a][off], memory_order_relaxed);
	kind = page_kind((const void *)m.half[a]);
	snap_map_close(&m);
	return sum == 1 ? "?" : kind;	/* sum: keeps the reads */
}

/* --- measurements --- */

static union ibv_gid dest(size_t entries)
{
	return gid_of(0x1000 + next_rand() % entries);
}

/* Times n lookups of random destinations among `entries` (or of one fixed GID). */
static int time_lookups(struct localsa *h, size_t entries, const union ibv_gid *fixed,
			uint64_t *s, size_t n)
{
	struct localsa_query q = { .flags = LOCALSA_Q_DGID };
	struct ibv_path_record rec;
	size_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t t0, t1;
		int r;

		q.dgid = fixed ? *fixed : dest(entries);
		t0 = bench_ticks();
		r = localsa_resolve(h, &q, &rec);
		t1 = bench_ticks();
		s[i] = t1 - t0;
		bad += r != 0;
	}
	return bad ? -EIO : 0;
}

/* BATCHES: the calls whose destinations batch_rate() draws before it cycles through them again
 * (262,144 destinations: one comes back only after ~50 MB of other slot lines). */
enum { ROUNDS = 20, BATCH = 64, BATCHES = 4096, PUBLISH_ONE = 200 };

/* Hits and chase steps in alternating rounds; s and c hold n samples each. */
static int time_interleaved(struct localsa *h, size_t entries, struct chase *ch, uint64_t *s,
			    uint64_t *c, size_t n)
{
	size_t per = n / ROUNDS ? n / ROUNDS : 1;

	for (size_t done = 0; done < n; done += per) {
		size_t k = n - done < per ? n - done : per;
		int r = time_lookups(h, entries, NULL, s + done, k);

		if (r)
			return r;
		chase_time(ch, c + done, k);
	}
	return 0;
}

/*
 * Lookups per second on one core through localsa_resolve_batch, 64 random destinations a
 * call (from a pool of BATCHES calls' worth): each call timed alone and the median taken, so
 * that time the thread spent descheduled (the machine is shared) does not count as the
 * library's. In ROUNDS rounds alternating with as many chase steps as the calls looked up
 * destinations, as the single hits alternate: alone, the calls kept a 100k-path snapshot
 * (10 MB) in the L3 cache and measured the L3, not the DRAM misses a batch is to hide (26 M/s
 * against 15).
 */
static int batch_rate(struct localsa *h, size_t entries, struct chase *ch, uint64_t *s,
		      size_t n, double *mlps)
{
	size_t per = n / ROUNDS ? n / ROUNDS : 1;
	uint64_t *steps = malloc(per * BATCH * sizeof(*steps));
	struct localsa_query *qs = calloc(BATCH * BATCHES, sizeof(*qs));
	struct ibv_path_record out[BATCH];
	int status[BATCH], r = 0;
	struct bench_pct p;

	if (!qs || !steps) {
		free(qs);
		free(steps);
		return -ENOMEM;
	}
	for (size_t i = 0; i < BATCH * BATCHES; i++)
		qs[i] = (struct localsa_query){ .flags = LOCALSA_Q_DGID, .dgid = dest(entries) };
	for (size_t i = 0; i < n && !r; i++) {
		uint64_t t0 = bench_ticks();

		if (localsa_resolve_batch(h, qs + BATCH * (i % BATCHES), BATCH, out, status) != BATCH)
			r = -EIO;
		s[i] = bench_ticks() - t0;
		if (i % per == per - 1)
			chase_time(ch, steps, per * BATCH);
	}
	free(steps);
	p = percentiles(s, n);
	*mlps = BATCH / p.p50 * 1e3;
	free(qs);
	return r;
}

struct row {
	size_t entries;
	double publish_ms, snapshot_mib, half_mib, bytes_per_path;
	struct bench_pct quiet, chase, busy, sock, one;
	double one_max_us;
	uint64_t one_changes;
	double batch_mlps;		/* the best core's */
	char batch_cores[96];		/* every core's, "cpu0 6.9, cpu1 27.0" */
	char hit_cores[96];		/* every core's hit/chase p50, "cpu0 1.31, cpu1 1.52" */
	const char *map_kind, *chase_kind;
	uint64_t busy_publications;
	double busy_seconds;
	uint64_t retries;
};

/* One path changed, published: PUBLISH_ONE times, each timed; the last one read back. */
static int publish_one(struct pr_cache *c, uint16_t tid, struct snap_writer *w,
		       struct localsa *h, size_t entries, uint64_t *s, struct row *row)
{
	struct localsa_query q = { .flags = LOCALSA_Q_DGID };
	struct ibv_path_record rec, got;
	struct snap_writer_stats ws;
	uint64_t max = 0;

	for (uint32_t i = 0; i < PUBLISH_ONE; i++) {
		const struct pr_entry *e;
		uint64_t t0;
		int r;

		q.dgid = dest(entries);
		if (pr_cache_lookup_dgid(c, tid, &q.dgid, &e, 1) != 1)
			return -EIO;
		rec = e->rec;
		rec.flowlabel_hoplimit = htobe32(0xc0000000u | i);
		r = pr_cache_replace(c, tid, &q.dgid, &rec, 1, NULL, 0);
		t0 = bench_ticks();
		if (!r)
			r = snap_writer_publish(w, c, 3);
		s[i] = bench_ticks() - t0;
		if (r)
			return r;
	}
	row->one = percentiles(s, PUBLISH_ONE);
	for (uint32_t i = 0; i < PUBLISH_ONE; i++)
		max = s[i] > max ? s[i] : max;
	row->one_max_us = (double)max * bench_ns_per_tick() / 1e3;
	snap_writer_stats(w, &ws);
	row->one_changes = ws.last_changes;
	if (localsa_resolve(h, &q, &got) || memcmp(&got, &rec, sizeof(rec)))
		return -EIO;	/* the last change is what readers see */
	return 0;
}

/* a / b, or 0 where b is below the timer's resolution (a chase that stays in L1). */
static double ratio(double a, double b)
{
	return b >= 1 ? a / b : 0;
}

/* One measurement on the core it is pinned to: records it in row, appending to cores. */
typedef int (*core_fn)(int cpu, void *arg, struct row *row, size_t *len);

/* fn pinned to each core the process may run on, in turn (unpinned when it may not pin). */
static int on_each_core(core_fn fn, void *arg, struct row *row)
{
	cpu_set_t all;
	size_t len = 0;
	int r = 0;

	if (sched_getaffinity(0, sizeof(all), &all))
		return fn(-1, arg, row, &len);
	for (int cpu = 0; cpu < CPU_SETSIZE && !r; cpu++)
		if (CPU_ISSET(cpu, &all) && !bench_pin(0, cpu))
			r = fn(cpu, arg, row, &len);
	sched_setaffinity(0, sizeof(all), &all);
	return r;
}

/* ", cpuN v" (v with `decimals` decimals; "-" for 0: below the timer's resolution) appended
 * to buf. */
static void core_note(char *buf, size_t cap, size_t *len, int cpu, double v, int decimals)
{
	if (*len >= cap)
		return;
	if (v > 0)
		*len += (size_t)snprintf(buf + *len, cap - *len, "%scpu%d %.*f", *len ? ", " : "",
					 cpu, decimals, v);
	else
		*len += (size_t)snprintf(buf + *len, cap - *len, "%scpu%d -", *len ? ", " : "", cpu);
}

struct hit_run {
	struct localsa *h;
	size_t entries, lookups;
	struct chase *ch;
	uint64_t *s, *cs;
};

/* Hits and chase steps in alternating rounds on this core (after a warm-up); the row keeps the
 * core with the lower hit/chase p50. */
static int hit_on_core(int cpu, void *arg, struct row *row, size_t *len)
{
	struct hit_run *hr = arg;
	struct bench_pct q, c;
	int r = time_interleaved(hr->h, hr->entries, hr->ch, hr->s, hr->cs,
				 hr->lookups < 100000 ? hr->lookups : 100000);

	if (!r)
		r = time_interleaved(hr->h, hr->entries, hr->ch, hr->s, hr->cs, hr->lookups);
	if (r)
		return r;
	q = percentiles(hr->s, hr->lookups);
	c = percentiles(hr->cs, hr->lookups);
	/* the lower ratio; a chase below the timer's resolution (ratio 0) compares with nothing */
	if (!*len || (ratio(q.p50, c.p50) > 0 &&
		      (ratio(q.p50, c.p50) < ratio(row->quiet.p50, row->chase.p50) ||
		       !ratio(row->quiet.p50, row->chase.p50)))) {
		row->quiet = q;
		row->chase = c;
	}
	core_note(row->hit_cores, sizeof(row->hit_cores), len, cpu, ratio(q.p50, c.p50), 2);
	return 0;
}

struct batch_run {
	struct localsa *h;
	size_t entries, n;
	struct chase *ch;
	uint64_t *s;
};

/* batch_rate() on this core; the row keeps the best rate. */
static int batch_on_core(int cpu, void *arg, struct row *row, size_t *len)
{
	struct batch_run *br = arg;
	double mlps = 0;
	int r = batch_rate(br->h, br->entries, br->ch, br->s, br->n, &mlps);

	if (mlps > row->batch_mlps)
		row->batch_mlps = mlps;
	core_note(row->batch_cores, sizeof(row->batch_cores), len, cpu, mlps, 1);
	return r;
}

/* --- --compare: builds of liblocalsa side by side in one process --- */

enum { COMPARE_MAX = 4, BATCHES_PER_ROUND = 50 };

struct lib_build {
	char path[256];
	void *dl;
	int (*open)(const char *, const char *, struct localsa **);
	int (*resolve)(struct localsa *, const struct localsa_query *, struct ibv_path_record *);
	int (*batch)(struct localsa *, const struct localsa_query *, size_t,
		     struct ibv_path_record *, int *);
	void (*close)(struct localsa *);
	struct localsa *h;
	uint64_t *s, *bs;	/* hits; batch calls */
	size_t nbs;
};

static int build_load(struct lib_build *b, const char *sock, const char *name)
{
	b->dl = dlopen(b->path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (!b->dl) {
		fprintf(stderr, "lib_latency: %s\n", dlerror());
		return -ENOENT;
	}
	/* POSIX: a function pointer from dlsym's object pointer */
	*(void **)&b->open = dlsym(b->dl, "localsa_open");
	*(void **)&b->resolve = dlsym(b->dl, "localsa_resolve");
	*(void **)&b->batch = dlsym(b->dl, "localsa_resolve_batch");
	*(void **)&b->close = dlsym(b->dl, "localsa_close");
	if (!b->open || !b->resolve || !b->batch || !b->close)
		return -ENOENT;
	return b->open(sock, name, &b->h);
}

/*
 * Each build in `list` (comma-separated paths of liblocalsa.so.1) loaded apart (RTLD_LOCAL |
 * RTLD_DEEPBIND: its own copy of every function and static) and attached to the same snapshot;
 * their hits of random destinations timed in alternating rounds with the chase (and in each
 * round, BATCHES_PER_ROUND calls of localsa_resolve_batch of 64). Each build draws its own
 * destinations, and the builds take turns at going first: the lines one build's lookups
 * brought in would otherwise make the next one's hits cheaper. A change to the reader is so
 * measured against the code before it on the same machine at the same moments, the same
 * memory and the same pages: separate runs on this VM differ more than most changes do. One
 * line per build.
 */
static int compare_builds(const char *list, const char *sock, const char *name,
			  size_t entries, size_t lookups, struct chase *ch, uint64_t *cs)
{
	struct lib_build b[COMPARE_MAX];
	size_t nb = 0, per = lookups / ROUNDS ? lookups / ROUNDS : 1;
	union ibv_gid *g = malloc(per * sizeof(*g));
	struct localsa_query *bq = calloc(BATCH * BATCHES_PER_ROUND, sizeof(*bq));
	struct ibv_path_record out[BATCH];
	int status[BATCH];
	struct bench_pct cp;
	int r = g && bq ? 0 : -ENOMEM;

	memset(b, 0, sizeof(b));
	for (const char *p = list; *p && nb < COMPARE_MAX && !r; nb++) {
		size_t len = strcspn(p, ",");

		snprintf(b[nb].path, sizeof(b[nb].path), "%.*s", (int)len, p);
		p += len + (p[len] == ',');
		b[nb].s = malloc(lookups * sizeof(uint64_t));
		b[nb].bs = malloc(ROUNDS * BATCHES_PER_ROUND * sizeof(uint64_t));
		r = b[nb].s && b[nb].bs ? build_load(&b[nb], sock, name) : -ENOMEM;
	}
	for (size_t done = 0; done < lookups && !r; done += per) {
		size_t k = lookups - done < per ? lookups - done : per;

		/* each build its own destinations (one build's lookups must not warm the caches
		 * for the next), and a round's first build in turn */
		for (size_t jj = 0; jj < nb && !r; jj++) {
			size_t j = (jj + done / per) % nb;
			struct localsa_query q = { .flags = LOCALSA_Q_DGID };
			struct ibv_path_record rec;

			for (size_t i = 0; i < k; i++)
				g[i] = dest(entries);
			for (size_t i = 0; i < BATCH * BATCHES_PER_ROUND; i++)
				bq[i] = (struct localsa_query){ .flags = LOCALSA_Q_DGID,
								.dgid = dest(entries) };

			for (size_t i = 0; i < k; i++) {
				uint64_t t0;

				q.dgid = g[i];
				t0 = bench_ticks();
				if (b[j].resolve(b[j].h, &q, &rec))
					r = -EIO;	/* every destination is cached: a hit */
				b[j].s[done + i] = bench_ticks() - t0;
			}
			for (size_t i = 0; i < BATCHES_PER_ROUND && b[j].nbs < ROUNDS * BATCHES_PER_ROUND;
			     i++) {
				uint64_t t0 = bench_ticks();

				if (b[j].batch(b[j].h, bq + BATCH * i, BATCH, out, status) != BATCH)
					r = -EIO;
				b[j].bs[b[j].nbs++] = bench_ticks() - t0;
			}
		}
		chase_time(ch, cs + done, k);
	}
	if (!r) {
		cp = percentiles(cs, lookups);
		for (size_t j = 0; j < nb; j++) {
			struct bench_pct hp = percentiles(b[j].s, lookups);
			struct bench_pct bp = percentiles(b[j].bs, b[j].nbs);

			printf("build=%s entries=%zu hit_p50_ns=%.1f hit_p99_ns=%.1f chase_p50_ns=%.1f "
			       "hit_chase_p50=%.3f hit_chase_p99=%.3f batch64_mlps=%.1f\n", b[j].path,
			       entries, hp.p50, hp.p99, cp.p50, ratio(hp.p50, cp.p50),
			       ratio(hp.p99, cp.p50), BATCH / bp.p50 * 1e3);
		}
	}
	for (size_t j = 0; j < nb; j++) {
		if (b[j].h)
			b[j].close(b[j].h);
		if (b[j].dl)
			dlclose(b[j].dl);
		free(b[j].s);
		free(b[j].bs);
	}
	free(g);
	free(bq);
	return r;
}

static int run_size(size_t entries, size_t lookups, const char *ext_sock,
		    const union ibv_gid *ext_dgid, const char *compare, struct row *row)
{
	struct pr_cache_limits lim = { (uint32_t)entries, 16 };
	struct pr_tuple td = { .sgid = gid_of(1) };
	struct pr_cache *c = NULL;
	struct ibv_path_record *recs;
	struct snap_writer *w = NULL;
	struct snap_writer_stats ws;
	struct server sv = { .lfd = -1 };
	struct republisher rp = { 0 };
	struct localsa *h = NULL, *hs = NULL;
	struct localsa_stats ls;
	struct chase ch = { 0 };
	char name[64];
	uint16_t tid;
	uint64_t *s, *cs, t0;
	int r;

	memset(row, 0, sizeof(*row));
	row->entries = entries;
	s = malloc(lookups * sizeof(*s));
	cs = malloc(lookups * sizeof(*cs));
	recs = malloc(entries * sizeof(*recs));
	if (!s || !cs || !recs || pr_cache_new(&lim, &c) || pr_cache_tuple(c, &td, true, &tid))
		return -ENOMEM;
	for (size_t i = 0; i < entries; i++) {
		struct ibv_path_record *p = &recs[i];

		memset(p, 0, sizeof(*p));
		p->dgid = gid_of(0x1000 + i);
		p->sgid = gid_of(1);
		p->dlid = htobe16((uint16_t)(1 + i % 0xbffe));
		p->slid = htobe16(1);
		p->reversible_numpath = 0x81;
		p->pkey = htobe16(0xffff);
		p->mtu = 0x84;
		p->rate = 0x83;
		p->packetlifetime = 0x92;
	}
	r = pr_cache_load(c, tid, recs, entries, NULL, 0);
	if (r < 0)
		goto out;
	r = server_start(&sv, c, tid);
	if (r)
		goto out;
	snprintf(name, sizeof(name), "/lsa-bench-%d", (int)getpid());
	{
		struct snap_writer_opts o = { .name = name, .socket_mode = 0600, .port_gid = gid_of(1),
					      .control_socket = sv.path };

		r = snap_writer_open(&o, &w);
		if (r)
			goto out;
	}
	/* the first publication grows the object; time a second one: a rebuild, as after a
	 * fill (the other half was never written) */
	r = snap_writer_publish(w, c, 1);
	t0 = now_ns();
	if (!r)
		r = snap_writer_publish(w, c, 1);
	row->publish_ms = (double)(now_ns() - t0) / 1e6;
	if (r)
		goto out;
	snap_writer_stats(w, &ws);
	row->half_mib = (double)ws.half_used / (1 << 20);
	row->snapshot_mib = 2 * row->half_mib;
	row->bytes_per_path = (double)ws.half_used / (double)entries;
	row->map_kind = snapshot_kind(name, ws.half_used);

	r = chase_open(&ch, ws.half_used);
	if (r)
		goto out;
	row->chase_kind = page_kind(ch.ro);
	if (compare) {
		r = compare_builds(compare, sv.path, name, entries, lookups, &ch, cs);
		goto out;
	}
	r = localsa_open(sv.path, name, &h);
	if (r)
		goto out;
	/* on each core: a warm-up (the mapping's page faults, the chase's first cycle), then both
	 * in turns */
	{
		struct hit_run hr = { h, entries, lookups, &ch, s, cs };
		struct batch_run br = { h, entries, lookups / BATCH > 1000 ? lookups / BATCH : 1000,
					&ch, s };

		r = on_each_core(hit_on_core, &hr, row);
		if (!r)
			r = on_each_core(batch_on_core, &br, row);
	}
	if (!r)
		r = publish_one(c, tid, w, h, entries, s, row);
	if (r)
		goto out;
	/* a refresh back to back meanwhile */
	rp = (struct republisher){ .w = w, .c = c, .tuple = tid, .recs = recs, .n = entries };
	pthread_create(&rp.th, NULL, republish_main, &rp);
	usleep(1000);
	r = time_lookups(h, entries, NULL, s, lookups);
	rp.stop = 1;
	pthread_join(rp.th, NULL);
	row->busy = percentiles(s, lookups);
	row->busy_publications = rp.publications;
	row->busy_seconds = (double)rp.ns / 1e9;
	localsa_get_stats(h, &ls, sizeof(ls));
	row->retries = ls.seqlock_retries;
	/* its connection (it asked the server who it is) would keep the one-client server busy */
	localsa_close(h);
	h = NULL;
	if (r)
		goto out;
	/* the control socket: no snapshot, every lookup a round trip */
	{
		size_t n = lookups / 20 < 20000 ? lookups / 20 : 20000;

		r = localsa_open(ext_sock ? ext_sock : sv.path, "none", &hs);
		if (!r)
			r = time_lookups(hs, entries, ext_sock ? ext_dgid : NULL, s, n ? n : 1);
		if (!r)
			row->sock = percentiles(s, n ? n : 1);
	}
out:
	localsa_close(h);
	localsa_close(hs);
	chase_close(&ch);
	snap_writer_close(w);
	if (sv.lfd >= 0)
		server_stop(&sv);
	pr_cache_free(c);
	free(recs);
	free(s);
	free(cs);
	return r;
}

int main(int argc, char **argv)
{
	size_t sizes[8] = { 1000, 100000, 1000000 }, nsizes = 3, lookups = 1000000;
	const char *ext_sock = NULL, *compare = NULL;
	union ibv_gid ext_dgid = { .raw = { 0 } };
	bool json = false;
	struct row rows[8];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *p = argv[++i], *end;

			nsizes = 0;
			while (*p && nsizes < 8) {
				sizes[nsizes++] = strtoull(p, &end, 0);
				p = *end ? end + 1 : end;
			}
		} else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) {
			lookups = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			ext_sock = argv[++i];
		} else if (!strcmp(argv[i], "--dgid") && i + 1 < argc) {
			if (pr_from_text_gid(argv[++i], &ext_dgid) < 0)
				goto usage;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--compare") && i + 1 < argc) {
			compare = argv[++i];
		} else {
			goto usage;
		}
	}
	if (lookups < 1000 || (ext_sock && !ext_dgid.raw[0]))
		goto usage;
	bench_timer_init();
	for (size_t i = 0; i < nsizes; i++) {
		int r = run_size(sizes[i], lookups, ext_sock, &ext_dgid, compare, &rows[i]);

		if (r) {
			fprintf(stderr, "lib_latency: %zu entries: %s\n", sizes[i], strerror(-r));
			return 1;
		}
	}
	if (compare)
		return 0;	/* its lines are out */
	if (json) {
		printf("[");
		for (size_t i = 0; i < nsizes; i++) {
			const struct row *w = &rows[i];

			printf("%s{\"entries\": %zu, \"snapshot_mib\": %.1f, \"half_mib\": %.1f, "
			       "\"bytes_per_path\": %.1f, \"map_kind\": \"%s\", \"chase_kind\": \"%s\", "
			       "\"publish_ms\": %.3f, \"publish_one_p50_us\": %.1f, "
			       "\"publish_one_max_us\": %.1f, \"publish_one_changes\": %llu, "
			       "\"hit_p50_ns\": %.0f, \"hit_p99_ns\": %.0f, \"chase_p50_ns\": %.0f, "
			       "\"chase_p99_ns\": %.0f, \"hit_chase_p50\": %.2f, \"hit_chase_p99\": %.2f, "
			       "\"hit_chase_cores\": \"%s\", "
			       "\"batch64_mlps\": %.1f, \"batch64_cores\": \"%s\", "
			       "\"hit_republishing_p50_ns\": %.0f, \"hit_republishing_p99_ns\": %.0f, "
			       "\"republications_per_s\": %.1f, \"socket_p50_ns\": %.0f, "
			       "\"socket_p99_ns\": %.0f, \"timer_step_ns\": %.1f, \"timer_pair_ns\": %.1f}",
			       i ? ",\n " : "", w->entries, w->snapshot_mib,
			       w->half_mib, w->bytes_per_path, w->map_kind, w->chase_kind,
			       w->publish_ms, w->one.p50 / 1e3, w->one_max_us,
			       (unsigned long long)w->one_changes, w->quiet.p50, w->quiet.p99,
			       w->chase.p50, w->chase.p99, ratio(w->quiet.p50, w->chase.p50),
			       ratio(w->quiet.p99, w->chase.p50), w->hit_cores, w->batch_mlps,
			       w->batch_cores, w->busy.p50, w->busy.p99,
			       (double)w->busy_publications / w->busy_seconds, w->sock.p50,
			       w->sock.p99, bench_timer_step_ns(), bench_timer_overhead_ns());
		}
		printf("]\n");
		return 0;
	}
	printf("liblocalsa hit latency (localsa_resolve, random destinations, %zu lookups per cell; "
	       "timer cost %.1f ns subtracted, its step %.1f ns) beside a pointer chase over the "
	       "snapshot's size\n\n", lookups, bench_timer_overhead_ns(), bench_timer_step_ns());
	printf("| paths | half | B/path | pages | full publish | one change | hit p50 | hit p99 | "
	       "chase p50 | hit/chase p50 | p99 | batch of 64 | hit p50, refreshing | "
	       "socket p50 |\n");
	printf("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < nsizes; i++) {
		const struct row *w = &rows[i];

		printf("| %zu | %.1f MiB | %.0f | %s / %s | %.2f ms | %.1f us | %.0f ns | %.0f ns | "
		       "%.0f ns | %.2f (%s) | %.2f | %.1f M/s (%s) | %.0f ns | %.1f us |\n",
		       w->entries, w->half_mib, w->bytes_per_path, w->map_kind, w->chase_kind,
		       w->publish_ms, w->one.p50 / 1e3, w->quiet.p50, w->quiet.p99, w->chase.p50,
		       ratio(w->quiet.p50, w->chase.p50), w->hit_cores,
		       ratio(w->quiet.p99, w->chase.p50), w->batch_mlps, w->batch_cores, w->busy.p50,
		       w->sock.p50 / 1000);
	}
	printf("\nsocket: %s\n", ext_sock ? ext_sock :
	       "in-process server answering the control protocol from the same cache");
	return 0;
usage:
	fprintf(stderr, "usage: lib_latency [--sizes N,N,...] [--lookups N >= %d] "
		"[--socket SOCK --dgid GID] [--json | --compare LIB,LIB,...]\n", 1000);
	return 2;
}
