/*
 * lib_latency - liblocalsa's hit latency against the snapshot, beside the control socket's
 * round trip, printed as a Markdown table.
 *
 * For each size (1k, 100k, 1M paths: one path per destination, as one GetTable fills a port's
 * cache) it fills a cache, publishes it as localsad does (cache/snap_writer), and times lookups of
 * random destinations through the public API (localsa_resolve) on a handle attached to that
 * snapshot: once quiet, once while another thread republishes back to back (a refresh running).
 * The socket column times localsa_resolve on a handle without a snapshot, answered by an
 * in-process server that speaks the control protocol from the same cache (parse, lookup, hex
 * reply: the work ctl_server does), or, with --socket, by a running localsad (give a --dgid it
 * can resolve). Each lookup is timed alone with the TSC (x86-64; clock_gettime elsewhere), the
 * timer's own cost subtracted.
 *
 * usage: lib_latency [--sizes 1000,100000,1000000] [--lookups N] [--socket SOCK --dgid GID]
 *                    [--json]
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "cache/pr_cache.h"
#include "cache/snap_writer.h"
#include "localsa.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

#include "pr_fixture.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- timing: TSC ticks, calibrated against CLOCK_MONOTONIC --- */

static double ns_per_tick = 1.0;

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
	unsigned aux;

	return __rdtscp(&aux);
#else
	return now_ns();
#endif
}

static void calibrate(void)
{
#if defined(__x86_64__)
	uint64_t t0 = now_ns(), c0 = ticks(), t1, c1;

	do {
		t1 = now_ns();
	} while (t1 - t0 < 200000000u);
	c1 = ticks();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
#endif
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct pct {
	double p50, p99, mean;
};

/* Percentiles in ns of samples (ticks), minus the timer's own cost. */
static struct pct percentiles(uint64_t *s, size_t n, double overhead)
{
	struct pct p;
	double sum = 0;

	qsort(s, n, sizeof(*s), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)s[i];
	p.p50 = (double)s[n / 2] * ns_per_tick - overhead;
	p.p99 = (double)s[n * 99 / 100] * ns_per_tick - overhead;
	p.mean = sum / (double)n * ns_per_tick - overhead;
	return p;
}

static double timer_overhead(void)
{
	enum { N = 100000 };
	static uint64_t s[N];

	for (size_t i = 0; i < N; i++) {
		uint64_t t0 = ticks();

		s[i] = ticks() - t0;
	}
	qsort(s, N, sizeof(*s), cmp_u64);
	return (double)s[N / 2] * ns_per_tick;
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

static void *server_main(void *arg)
{
	struct server *sv = arg;
	char buf[8192];
	size_t len = 0;
	int fd = -1;

	while (!sv->stop) {
		struct pollfd p = { .fd = fd >= 0 ? fd : sv->lfd, .events = POLLIN };
		ssize_t r;
		char *nl;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if (fd < 0) {
			fd = accept(sv->lfd, NULL, NULL);
			len = 0;
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
	const struct pr_cache *c;
	pthread_t th;
	_Atomic int stop;
	uint64_t publications, ns;
};

static void *republish_main(void *arg)
{
	struct republisher *rp = arg;
	uint64_t t0 = now_ns();

	while (!rp->stop) {
		if (snap_writer_publish(rp->w, rp->c, 2) == 0)
			rp->publications++;
	}
	rp->ns = now_ns() - t0;
	return NULL;
}

/* --- measurements --- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Times n lookups of random destinations among `entries` (or of one fixed GID). */
static int time_lookups(struct localsa *h, size_t entries, const union ibv_gid *fixed,
			uint64_t *s, size_t n, double overhead, struct pct *out)
{
	struct localsa_query q = { .flags = LOCALSA_Q_DGID };
	struct ibv_path_record rec;
	size_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t t0, t1;
		int r;

		q.dgid = fixed ? *fixed : gid_of(0x1000 + next_rand() % entries);
		t0 = ticks();
		r = localsa_resolve(h, &q, &rec);
		t1 = ticks();
		s[i] = t1 - t0;
		bad += r != 0;
	}
	*out = percentiles(s, n, overhead);
	return bad ? -EIO : 0;
}

struct row {
	size_t entries;
	double publish_ms, snapshot_mib;
	struct pct quiet, busy, sock;
	uint64_t busy_publications;
	double busy_seconds;
	uint64_t retries;
};

static int run_size(size_t entries, size_t lookups, const char *ext_sock,
		    const union ibv_gid *ext_dgid, double overhead, struct row *row)
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
	char name[64];
	uint16_t tid;
	uint64_t *s, t0;
	int r;

	memset(row, 0, sizeof(*row));
	row->entries = entries;
	s = malloc(lookups * sizeof(*s));
	recs = malloc(entries * sizeof(*recs));
	if (!s || !recs || pr_cache_new(&lim, &c) || pr_cache_tuple(c, &td, true, &tid))
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
	free(recs);
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
	/* the first publication grows the object; time a second one, as a refresh would do */
	r = snap_writer_publish(w, c, 1);
	t0 = now_ns();
	if (!r)
		r = snap_writer_publish(w, c, 1);
	row->publish_ms = (double)(now_ns() - t0) / 1e6;
	if (r)
		goto out;
	snap_writer_stats(w, &ws);
	row->snapshot_mib = (double)ws.half_used * 2 / (1 << 20);

	r = localsa_open(sv.path, name, &h);
	if (r)
		goto out;
	/* warm up (page faults of the mapping), then quiet */
	time_lookups(h, entries, NULL, s, lookups < 100000 ? lookups : 100000, overhead, &row->quiet);
	r = time_lookups(h, entries, NULL, s, lookups, overhead, &row->quiet);
	if (r)
		goto out;
	/* republishing back to back meanwhile */
	rp.w = w;
	rp.c = c;
	pthread_create(&rp.th, NULL, republish_main, &rp);
	usleep(1000);
	r = time_lookups(h, entries, NULL, s, lookups, overhead, &row->busy);
	rp.stop = 1;
	pthread_join(rp.th, NULL);
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
			r = time_lookups(hs, entries, ext_sock ? ext_dgid : NULL, s, n ? n : 1,
					 overhead, &row->sock);
	}
out:
	localsa_close(h);
	localsa_close(hs);
	snap_writer_close(w);
	if (sv.lfd >= 0)
		server_stop(&sv);
	pr_cache_free(c);
	free(s);
	return r;
}

int main(int argc, char **argv)
{
	size_t sizes[8] = { 1000, 100000, 1000000 }, nsizes = 3, lookups = 1000000;
	const char *ext_sock = NULL;
	union ibv_gid ext_dgid = { .raw = { 0 } };
	bool json = false;
	struct row rows[8];
	double overhead;

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
		} else {
			goto usage;
		}
	}
	if (!lookups || (ext_sock && !ext_dgid.raw[0]))
		goto usage;
	calibrate();
	overhead = timer_overhead();
	for (size_t i = 0; i < nsizes; i++) {
		int r = run_size(sizes[i], lookups, ext_sock, &ext_dgid, overhead, &rows[i]);

		if (r) {
			fprintf(stderr, "lib_latency: %zu entries: %s\n", sizes[i], strerror(-r));
			return 1;
		}
	}
	if (json) {
		printf("[");
		for (size_t i = 0; i < nsizes; i++) {
			const struct row *w = &rows[i];

			printf("%s{\"entries\": %zu, \"snapshot_mib\": %.1f, \"publish_ms\": %.3f, "
			       "\"hit_p50_ns\": %.0f, \"hit_p99_ns\": %.0f, "
			       "\"hit_republishing_p50_ns\": %.0f, \"hit_republishing_p99_ns\": %.0f, "
			       "\"republications_per_s\": %.0f, \"socket_p50_ns\": %.0f, "
			       "\"socket_p99_ns\": %.0f}", i ? ",\n " : "", w->entries, w->snapshot_mib,
			       w->publish_ms, w->quiet.p50, w->quiet.p99, w->busy.p50, w->busy.p99,
			       (double)w->busy_publications / w->busy_seconds, w->sock.p50, w->sock.p99);
		}
		printf("]\n");
		return 0;
	}
	printf("liblocalsa hit latency (localsa_resolve, random destinations, %zu lookups per cell; "
	       "timer cost %.0f ns subtracted)\n\n", lookups, overhead);
	printf("| paths | snapshot | publish | hit p50 | hit p99 | hit p50, republishing | "
	       "hit p99, republishing | republications | socket round trip p50 | p99 |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < nsizes; i++) {
		const struct row *w = &rows[i];

		printf("| %zu | %.1f MiB | %.2f ms | %.0f ns | %.0f ns | %.0f ns | %.0f ns | %.0f/s | "
		       "%.1f us | %.1f us |\n", w->entries, w->snapshot_mib, w->publish_ms,
		       w->quiet.p50, w->quiet.p99, w->busy.p50, w->busy.p99,
		       (double)w->busy_publications / w->busy_seconds, w->sock.p50 / 1000,
		       w->sock.p99 / 1000);
	}
	printf("\nsocket: %s\n", ext_sock ? ext_sock :
	       "in-process server answering the control protocol from the same cache");
	return 0;
usage:
	fprintf(stderr, "usage: lib_latency [--sizes N,N,...] [--lookups N] "
		"[--socket SOCK --dgid GID] [--json]\n");
	return 2;
}
