/*
 * lib_resolve - liblocalsa as an application uses it, for the lab tests (tests/lab/lib_*.sh).
 *
 *   lab_lib_resolve -s SOCK dump [QUERY-OPTIONS] < GIDS
 *       for each GID (one per line): every path, printed as `saquery -p` prints it, then "=="
 *       (or "== ERR <errno name>"); on stderr at the end one line of the handle's stats:
 *       "stats lookups=N shm_hits=N fallbacks=N fallback_errors=N remaps=N attached=N"
 *   lab_lib_resolve -s SOCK gone GID LIMIT_MS
 *       resolves GID every 2 ms until it has no path; prints the milliseconds that took
 *       (exit 1 if still there after LIMIT_MS)
 * QUERY-OPTIONS: --sgid GID (LOCALSA_Q_SGID: the source port), --service-id S, --pkey P,
 * --sl N (added to every query).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "localsa.h"
#include "wire/path_rec.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void print_stats(struct localsa *h)
{
	struct localsa_stats st;

	localsa_get_stats(h, &st, sizeof(st));
	fprintf(stderr, "stats lookups=%llu shm_hits=%llu fallbacks=%llu fallback_errors=%llu "
		"remaps=%llu attached=%u\n", (unsigned long long)st.lookups,
		(unsigned long long)st.shm_hits, (unsigned long long)st.fallbacks,
		(unsigned long long)st.fallback_errors, (unsigned long long)st.remaps, st.attached);
}

static int dump(struct localsa *h, const struct localsa_query *base)
{
	char line[256], out[4096];

	while (fgets(line, sizeof(line), stdin)) {
		struct localsa_query q = *base;
		struct ibv_path_record paths[128];
		int n;

		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		if (pr_from_text_gid(line, &q.dgid) < 0) {
			fprintf(stderr, "lab_lib_resolve: '%s' is not a GID\n", line);
			return 2;
		}
		q.flags |= LOCALSA_Q_DGID;
		n = localsa_resolve_all(h, &q, paths, 128);
		for (int i = 0; i < n && i < 128; i++) {
			pr_format_saquery(&paths[i], out, sizeof(out));
			fputs(out, stdout);
		}
		if (n < 0)
			printf("== ERR %s\n", strerror(-n));
		else
			printf("==\n");
	}
	print_stats(h);
	return 0;
}

static int gone(struct localsa *h, const char *gid, unsigned limit_ms)
{
	struct localsa_query q = { .flags = LOCALSA_Q_DGID };
	struct ibv_path_record p;
	uint64_t t0 = now_ms();

	if (pr_from_text_gid(gid, &q.dgid) < 0)
		return 2;
	while (localsa_resolve(h, &q, &p) == 0) {
		if (now_ms() - t0 > limit_ms) {
			printf("timeout\n");
			print_stats(h);
			return 1;
		}
		usleep(2000);
	}
	printf("%llu\n", (unsigned long long)(now_ms() - t0));
	print_stats(h);
	return 0;
}

int main(int argc, char **argv)
{
	struct localsa_query base = { 0 };
	const char *sock = NULL;
	struct localsa *h;
	int i = 1, r;

	if (argc > 2 && !strcmp(argv[1], "-s")) {
		sock = argv[2];
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: lab_lib_resolve -s SOCK dump [--sgid GID] [--service-id S] [--pkey P] "
			"[--sl N] < GIDS | gone GID LIMIT_MS\n");
		return 2;
	}
	for (int k = i + 1; k + 1 < argc; k += 2) {
		unsigned long long v = strtoull(argv[k + 1], NULL, 0);

		if (!strcmp(argv[k], "--sgid")) {
			base.flags |= LOCALSA_Q_SGID;
			if (pr_from_text_gid(argv[k + 1], &base.sgid) < 0) {
				fprintf(stderr, "lab_lib_resolve: bad GID %s\n", argv[k + 1]);
				return 2;
			}
		} else if (!strcmp(argv[k], "--service-id")) {
			base.flags |= LOCALSA_Q_SERVICE_ID;
			base.service_id = v;
		} else if (!strcmp(argv[k], "--pkey")) {
			base.flags |= LOCALSA_Q_PKEY;
			base.pkey = (uint16_t)v;
		} else if (!strcmp(argv[k], "--sl")) {
			base.flags |= LOCALSA_Q_SL;
			base.sl = (uint8_t)v;
		}
	}
	r = localsa_open(sock, NULL, &h);
	if (r < 0) {
		fprintf(stderr, "lab_lib_resolve: %s\n", strerror(-r));
		return 1;
	}
	if (!strcmp(argv[i], "dump"))
		r = dump(h, &base);
	else if (!strcmp(argv[i], "gone") && i + 2 < argc)
		r = gone(h, argv[i + 1], (unsigned)strtoul(argv[i + 2], NULL, 0));
	else
		r = 2;
	localsa_close(h);
	return r;
}
