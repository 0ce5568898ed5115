/*
 * bench_util - what the benchmark programs share: a cycle timer calibrated against
 * CLOCK_MONOTONIC, percentiles of samples, a xorshift generator, bounded runs (a count and a
 * time limit), and the node list that bench/run writes (one HCA port per line: GUID LID NAME).
 */
#ifndef LOCALSA_BENCH_UTIL_H
#define LOCALSA_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/sa.h>

/* --- time --- */

uint64_t bench_now_ns(void);	/* CLOCK_MONOTONIC */
uint64_t bench_wall_ns(void);	/* CLOCK_REALTIME: comparable across processes */
void bench_sleep_until_wall(uint64_t wall_ns);
/* Pins process or thread pid (0: the caller) to one CPU; 0 or -1 with errno. */
int bench_pin(pid_t pid, int cpu);
/* The time thread tid (a process's main thread: its pid) has run on a CPU so far, ns, from
 * /proc/<tid>/task/<tid>/schedstat (exact, not tick-sampled); 0 when unreadable. */
uint64_t bench_thread_cpu_ns(pid_t tid);

/* Calibrates the cycle counter (200 ms) and measures the timer's own cost; call once. */
void bench_timer_init(void);
uint64_t bench_ticks(void);	/* TSC on x86-64, else CLOCK_MONOTONIC ns */
double bench_ns_per_tick(void);
double bench_timer_overhead_ns(void);
double bench_timer_step_ns(void);	/* the counter's step (1 tick where it is fine) */

/* --- statistics --- */

struct bench_pct {
	size_t n;
	double p50, p99, mean;	/* ns, the timer's own cost subtracted; interpolated within the
				 * counter's step (bench_util.c) */
};

/* Sorts ticks[0..n) and summarizes them; n > 0. */
struct bench_pct bench_percentiles(uint64_t *ticks, size_t n);

static inline uint64_t bench_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* --- the fabric's HCA ports, as bench/run lists them --- */

struct bench_node {
	uint64_t guid;		/* port GUID, host order */
	uint16_t lid;
	char name[32];
};

/* Reads "GUID LID NAME" lines ('#' comments). 0, or a negative errno (message printed). */
int bench_nodes_load(const char *path, struct bench_node **out, size_t *n);
/* Port GID 0 of a node: the subnet prefix (network order) and its GUID. */
union ibv_gid bench_node_gid(uint64_t prefix_be, uint64_t guid);

/* Strict unsigned option value (decimal or 0x hex) or exit 2 with a message. */
uint64_t bench_arg_u64(const char *opt, const char *val, uint64_t max);

#endif
