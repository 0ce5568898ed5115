/*
 * bench_util - the benchmark programs' shared timer, statistics and node list (bench_util.h).
 * Each sample is timed alone: two reads of the cycle counter around one operation, the median
 * cost of an empty pair of reads subtracted, so a 50 ns lookup is not reported as 70 ns.
 */
#include "bench_util.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static double ns_per_tick = 1.0;
static double overhead_ns;

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_until_wall(uint64_t wall_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(wall_ns / 1000000000u),
			       .tv_nsec = (long)(wall_ns % 1000000000u) };

	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

uint64_t bench_ticks(void)
{
#if defined(__x86_64__)
	unsigned aux;

	return __rdtscp(&aux);
#else
	return bench_now_ns();
#endif
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_timer_init(void)
{
	enum { N = 100000 };
	static uint64_t s[N];
#if defined(__x86_64__)
	uint64_t t0 = bench_now_ns(), c0 = bench_ticks(), t1, c1;

	do {
		t1 = bench_now_ns();
	} while (t1 - t0 < 200000000u);
	c1 = bench_ticks();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
#endif
	for (size_t i = 0; i < N; i++) {
		uint64_t a = bench_ticks();

		s[i] = bench_ticks() - a;
	}
	qsort(s, N, sizeof(*s), cmp_u64);
	overhead_ns = (double)s[N / 2] * ns_per_tick;
}

double bench_ns_per_tick(void)
{
	return ns_per_tick;
}

double bench_timer_overhead_ns(void)
{
	return overhead_ns;
}

struct bench_pct bench_percentiles(uint64_t *t, size_t n)
{
	struct bench_pct p = { .n = n };
	double sum = 0;

	qsort(t, n, sizeof(*t), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)t[i];
	p.p50 = (double)t[n / 2] * ns_per_tick - overhead_ns;
	p.p99 = (double)t[n * 99 / 100] * ns_per_tick - overhead_ns;
	p.mean = sum / (double)n * ns_per_tick - overhead_ns;
	return p;
}

int bench_nodes_load(const char *path, struct bench_node **out, size_t *n)
{
	FILE *f = fopen(path, "re");
	struct bench_node *v = NULL;
	size_t cap = 0, len = 0;
	char line[256];

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct bench_node nd = { 0 };
		unsigned long long guid;
		unsigned lid;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%llx %u %31s", &guid, &lid, nd.name) < 2 || !lid || lid > 0xbfff) {
			fprintf(stderr, "%s: bad line: %s", path, line);
			goto fail;
		}
		nd.guid = guid;
		nd.lid = (uint16_t)lid;
		if (len == cap) {
			struct bench_node *nv = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));

			if (!nv)
				goto fail;
			v = nv;
		}
		v[len++] = nd;
	}
	fclose(f);
	if (!len) {
		fprintf(stderr, "%s: no nodes\n", path);
		free(v);
		return -EINVAL;
	}
	*out = v;
	*n = len;
	return 0;
fail:
	fclose(f);
	free(v);
	return -EINVAL;
}

union ibv_gid bench_node_gid(uint64_t prefix_be, uint64_t guid)
{
	union ibv_gid g;

	g.global.subnet_prefix = prefix_be;
	g.global.interface_id = htobe64(guid);
	return g;
}

uint64_t bench_arg_u64(const char *opt, const char *val, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 0);
	if (errno || end == val || *end || v > max || val[0] == '-') {
		fprintf(stderr, "%s: not a number up to %llu: '%s'\n", opt, (unsigned long long)max,
			val);
		exit(2);
	}
	return v;
}
