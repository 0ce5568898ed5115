/*
 * bench_cache_scale - the PathRecord store (src/cache/pr_cache) at 1k, 100k and 1M paths,
 * directly, without daemon or fabric.
 *
 * For each size: a GetTable answer of that many records is built in memory (distinct DGIDs and
 * DLIDs, the fields a fat tree's SA fills), then timed:
 *   load_ms     pr_cache_new + pr_cache_load: file and index every record (DGID and DLID
 *               indexes), what the daemon does with a GetTable answer
 *   reload_ms   a periodic refresh of the same table: new generation, load over the live
 *               entries, sweep what the answer lacked (nothing here)
 *   bytes       all heap memory the cache holds (pr_cache_stats) / paths
 *   lookup      pr_cache_lookup_dgid of a random cached destination, each timed alone
 *               (p50, p99, mean ns; the timer's own cost subtracted)
 *   miss        the same for destinations not in the cache
 * Shapes: "node" is one tuple (one SGID) and N destinations: a node's own cache after its
 * GetTable; "pairs" (1M only) is 1,000 SGIDs x 1,000 destinations: the distributor's all-pairs
 * table of a 1,000-node fabric, 1,000 tuples.
 * Prints one key=value line per row.
 *
 * usage: bench_cache_scale [--sizes 1000,100000,1000000] [--lookups N] [--no-pairs]
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "cache/pr_cache.h"

#define SUBNET_BE htobe64(0xfe80000000000000ULL)
#define GUID_BASE 0x0002c90300000000ULL

struct row {
	const char *shape;
	size_t entries, tuples;
	double load_ms, reload_ms;
	struct pr_cache_stats st;
	struct bench_pct hit, miss;
};

/* Record i of source s: source GUID s, destination i, DLID i+1 (host-order LIDs wrap at 48k). */
static void make_record(struct ibv_path_record *p, size_t s, size_t i)
{
	memset(p, 0, sizeof(*p));
	p->sgid = bench_node_gid(SUBNET_BE, GUID_BASE + s);
	p->dgid = bench_node_gid(SUBNET_BE, GUID_BASE + 0x100000 + i);
	p->slid = htobe16((uint16_t)(1 + s % 0xbffe));
	p->dlid = htobe16((uint16_t)(1 + i % 0xbffe));
	p->reversible_numpath = 0x80 | 1;
	p->pkey = htobe16(0xffff);
	p->qosclass_sl = htobe16(0);
	p->mtu = 0x80 | 4;
	p->rate = 0x80 | 7;
	p->packetlifetime = 0x80 | 18;
	p->flowlabel_hoplimit = htobe32(0xff);
}

static double ms_since(uint64_t t0)
{
	return (double)(bench_now_ns() - t0) / 1e6;
}

/* Times `lookups` random lookups; absent ones with `miss`. */
static struct bench_pct time_lookups(const struct pr_cache *c, const uint16_t *tids,
				     size_t sources, size_t dests, size_t lookups, bool miss,
				     uint64_t *samples)
{
	const struct pr_entry *e[4];
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	size_t found = 0;

	for (size_t k = 0; k < lookups; k++) {
		size_t s = (size_t)(bench_rand(&rng) % sources);
		size_t i = (size_t)(bench_rand(&rng) % dests) + (miss ? 0x800000 : 0);
		union ibv_gid g = bench_node_gid(SUBNET_BE, GUID_BASE + 0x100000 + i);
		uint64_t a = bench_ticks();

		found += pr_cache_lookup_dgid(c, tids[s], &g, e, 4);
		samples[k] = bench_ticks() - a;
	}
	if (found != (miss ? 0 : lookups))
		fprintf(stderr, "bench_cache_scale: %zu of %zu lookups found a path\n", found, lookups);
	return bench_percentiles(samples, lookups);
}

static int run(const char *shape, size_t sources, size_t dests, size_t lookups, struct row *row)
{
	size_t n = sources * dests;
	struct pr_cache_limits lim = { .max_entries = (uint32_t)n, .max_negative = 16 };
	struct ibv_path_record *recs = malloc(n * sizeof(*recs));
	uint16_t *tids = malloc(sources * sizeof(*tids));
	uint64_t *samples = malloc(lookups * sizeof(*samples));
	struct pr_cache *c = NULL;
	uint64_t t0;
	int r = -ENOMEM;

	memset(row, 0, sizeof(*row));
	row->shape = shape;
	row->entries = n;
	row->tuples = sources;
	if (!recs || !tids || !samples)
		goto out;
	for (size_t s = 0; s < sources; s++)
		for (size_t i = 0; i < dests; i++)
			make_record(&recs[s * dests + i], s, i);

	t0 = bench_now_ns();
	r = pr_cache_new(&lim, &c);
	for (size_t s = 0; !r && s < sources; s++) {
		struct pr_tuple t = { .sgid = recs[s * dests].sgid };

		r = pr_cache_tuple(c, &t, true, &tids[s]);
		if (!r)
			r = pr_cache_load(c, tids[s], recs + s * dests, dests, NULL, 0);
		r = r < 0 ? r : 0;
	}
	row->load_ms = ms_since(t0);
	if (r)
		goto out;

	t0 = bench_now_ns();
	{
		uint32_t gen = pr_cache_begin_generation(c);
		struct pr_origin o = { PR_SRC_SA, 0, gen };

		for (size_t s = 0; !r && s < sources; s++) {
			r = pr_cache_load(c, tids[s], recs + s * dests, dests, &o, 0);
			r = r < 0 ? r : 0;
			if (!r)
				pr_cache_sweep(c, tids[s], PR_SRC_SA, gen);
		}
	}
	row->reload_ms = ms_since(t0);
	if (r)
		goto out;
	pr_cache_stats(c, &row->st);
	if (row->st.entries != n) {
		fprintf(stderr, "bench_cache_scale: %llu entries, expected %zu\n",
			(unsigned long long)row->st.entries, n);
		r = -EIO;
		goto out;
	}
	free(recs); /* the lookups see only the cache */
	recs = NULL;
	time_lookups(c, tids, sources, dests, lookups < 100000 ? lookups : 100000, false, samples);
	row->hit = time_lookups(c, tids, sources, dests, lookups, false, samples);
	row->miss = time_lookups(c, tids, sources, dests, lookups, true, samples);
out:
	pr_cache_free(c);
	free(recs);
	free(tids);
	free(samples);
	return r;
}

static void print_row(const struct row *w)
{
	printf("shape=%s entries=%zu tuples=%zu load_ms=%.2f reload_ms=%.2f bytes=%llu "
	       "bytes_per_entry=%.1f hit_p50_ns=%.0f hit_p99_ns=%.0f hit_mean_ns=%.0f "
	       "miss_p50_ns=%.0f miss_p99_ns=%.0f\n",
	       w->shape, w->entries, w->tuples, w->load_ms, w->reload_ms,
	       (unsigned long long)w->st.bytes, (double)w->st.bytes / (double)w->entries,
	       w->hit.p50, w->hit.p99, w->hit.mean, w->miss.p50, w->miss.p99);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	size_t sizes[8] = { 1000, 100000, 1000000 }, nsizes = 3, lookups = 1000000;
	bool pairs = true;
	struct row row;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *p = argv[++i];

			nsizes = 0;
			while (*p && nsizes < 8) {
				char *end;

				sizes[nsizes++] = strtoull(p, &end, 0);
				if (end == p || !sizes[nsizes - 1] || sizes[nsizes - 1] > 8000000)
					goto usage;
				p = *end ? end + 1 : end;
			}
		} else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) {
			lookups = bench_arg_u64("--lookups", argv[++i], 100000000);
		} else if (!strcmp(argv[i], "--no-pairs")) {
			pairs = false;
		} else {
			goto usage;
		}
	}
	if (!lookups)
		goto usage;
	bench_timer_init();
	for (size_t i = 0; i < nsizes; i++) {
		int r = run("node", 1, sizes[i], lookups, &row);

		if (r) {
			fprintf(stderr, "bench_cache_scale: %zu paths: %s\n", sizes[i], strerror(-r));
			return 1;
		}
		print_row(&row);
	}
	if (pairs) {
		int r = run("pairs", 1000, 1000, lookups, &row);

		if (r) {
			fprintf(stderr, "bench_cache_scale: pairs: %s\n", strerror(-r));
			return 1;
		}
		print_row(&row);
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench_cache_scale [--sizes N,N,...] [--lookups N] [--no-pairs]\n");
	return 2;
}
