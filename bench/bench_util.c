/*
 * bench_util - the benchmark programs' shared timer, statistics and node list (bench_util.h).
 * Each sample is timed alone: two reads of the cycle counter around one operation, the mean
 * cost of an empty pair of reads subtracted, so a 50 ns lookup is not reported as 70 ns.
 *
 * Some virtual machines' counter advances in steps of many ticks (here ~24.5 ticks: 10 ns), so
 * every sample falls on a grid of that step. A plain median then jumps a whole step with where
 * the middle sample lands (±5 ns on a 150 ns lookup, and the median cost of an empty pair jumps
 * between 20 and 30 ns). Percentiles are therefore read as from grouped data: the samples of
 * one grid point spread evenly over its step, the quantile interpolated inside it; and the
 * empty pair's cost is a mean, which the grid does not bias (the reads fall at random phases
 * of it). Where the counter is finer than 8 ticks a step, samples are used as they are.
 */
#include "bench_util.h"

#include <endian.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static double ns_per_tick = 1.0;
static double overhead_ns;
static double step_ticks = 1.0;	/* the counter's step: samples fall on a grid of it */

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

int bench_pin(pid_t pid, int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(pid, sizeof(one), &one);
}

uint64_t bench_thread_cpu_ns(pid_t tid)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)tid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The counter's step, from intervals of many lengths: they cluster around multiples of the
 * step, and the median distance between neighbouring clusters is the step (clusters of at
 * least 0.1 % of the intervals: not the sparse ones interrupts make). 1 where the counter is
 * fine (no gaps wider than 2 ticks between neighbouring values).
 */
static double measure_step(uint64_t *s, size_t n)
{
	volatile unsigned spin;
	size_t nc = 0, ng = 0, first = 0;
	double *centre = malloc(n * sizeof(*centre)), *gap = malloc(n * sizeof(*gap)), step = 1;

	if (!centre || !gap)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = bench_ticks();

		for (spin = 0; spin < i % 397; spin++)
			;
		s[i] = bench_ticks() - a;
	}
	qsort(s, n, sizeof(*s), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && s[i + 1] - s[i] <= 2)
			continue;
		if (i + 1 - first >= n / 1000)
			centre[nc++] = ((double)s[first] + (double)s[i]) / 2;
		first = i + 1;
	}
	for (size_t i = 1; i < nc; i++)
		gap[ng++] = centre[i] - centre[i - 1];
	if (ng >= 4) {
		qsort(gap, ng, sizeof(*gap), cmp_double);
		step = gap[ng / 2] >= 8 ? gap[ng / 2] : 1;
	}
out:
	free(centre);
	free(gap);
	return step;
}

void bench_timer_init(void)
{
	enum { N = 100000 };
	static uint64_t s[N];
	double sum = 0;
#if defined(__x86_64__)
	uint64_t t0 = bench_now_ns(), c0 = bench_ticks(), t1, c1;

	do {
		t1 = bench_now_ns();
	} while (t1 - t0 < 200000000u);
	c1 = bench_ticks();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
#endif
	step_ticks = measure_step(s, N);
	for (size_t i = 0; i < N; i++) {
		uint64_t a = bench_ticks();

		s[i] = bench_ticks() - a;
	}
	qsort(s, N, sizeof(*s), cmp_u64);
	for (size_t i = 0; i < N * 99 / 100; i++)	/* the slowest 1 %: interrupts */
		sum += (double)s[i];
	overhead_ns = sum / (N * 99 / 100) * ns_per_tick;
}

double bench_ns_per_tick(void)
{
	return ns_per_tick;
}

double bench_timer_overhead_ns(void)
{
	return overhead_ns;
}

double bench_timer_step_ns(void)
{
	return step_ticks * ns_per_tick;
}

/*
 * Quantile q of sorted t[0..n), in ticks. On a coarse counter: the samples of the grid point
 * holding it (neighbours at most a quarter step apart) spread evenly over that point's step,
 * bounded by the midpoints to the neighbouring points' samples.
 */
static double quantile(const uint64_t *t, size_t n, double q)
{
	double at = q * (double)n, lo_edge, hi_edge, tol = step_ticks / 4;
	size_t k = at < (double)n ? (size_t)at : n - 1, lo = k, hi = k;

	if (step_ticks < 8)
		return (double)t[k];
	while (lo > 0 && (double)(t[lo] - t[lo - 1]) <= tol)
		lo--;
	while (hi + 1 < n && (double)(t[hi + 1] - t[hi]) <= tol)
		hi++;
	lo_edge = ((double)t[lo] + (double)t[hi]) / 2 - step_ticks / 2;
	hi_edge = lo_edge + step_ticks;
	if (lo > 0 && ((double)t[lo - 1] + (double)t[lo]) / 2 > lo_edge)
		lo_edge = ((double)t[lo - 1] + (double)t[lo]) / 2;
	if (hi + 1 < n && ((double)t[hi] + (double)t[hi + 1]) / 2 < hi_edge)
		hi_edge = ((double)t[hi] + (double)t[hi + 1]) / 2;
	return lo_edge + (at - (double)lo) / (double)(hi - lo + 1) * (hi_edge - lo_edge);
}

struct bench_pct bench_percentiles(uint64_t *t, size_t n)
{
	struct bench_pct p = { .n = n };
	double sum = 0;

	qsort(t, n, sizeof(*t), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)t[i];
	/* below the timer's resolution: 0 (an L1 hit costs less than the pair's spread) */
	p.p50 = fmax(0, quantile(t, n, 0.5) * ns_per_tick - overhead_ns);
	p.p99 = fmax(0, quantile(t, n, 0.99) * ns_per_tick - overhead_ns);
	p.mean = fmax(0, sum / (double)n * ns_per_tick - overhead_ns);
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
