/*
 * driver.c - runs a fuzz target without libFuzzer: every file of the seed corpora given, then
 * --mutations N inputs made from them by a deterministic PRNG (bit flips, byte sets, inserts,
 * deletions, truncations, random tails, chunk copies, interesting values). A crash is the
 * sanitizer's abort; the exit status is 0 when every input ran. This is CTest's regression net;
 * the coverage-guided campaigns are `make fuzz`.
 *   usage: fuzz_NAME [--mutations N] [--seed S] [--max-len L] DIR_OR_FILE...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

struct input {
	uint8_t *data;
	size_t len;
};

static struct input *seeds;
static size_t n_seeds;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)	/* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int add_file(const char *path)
{
	struct input in = { NULL, 0 };
	FILE *f = fopen(path, "rb");
	struct input *ns;
	long len;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -EIO;
	}
	in.len = (size_t)len;
	in.data = malloc(in.len ? in.len : 1);
	if (!in.data || fread(in.data, 1, in.len, f) != in.len) {
		free(in.data);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	ns = realloc(seeds, (n_seeds + 1) * sizeof(*ns));
	if (!ns) {
		free(in.data);
		return -ENOMEM;
	}
	seeds = ns;
	seeds[n_seeds++] = in;
	return 0;
}

static int add_path(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int ret = 0;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return add_file(path);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!ret && (e = readdir(d))) {
		char sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		ret = add_path(sub);
	}
	closedir(d);
	return ret;
}

/* One mutation of buf (len bytes, room for max); returns the new length. */
static size_t mutate_once(uint8_t *buf, size_t len, size_t max)
{
	static const uint8_t interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0x10, 0x40, 0xfe };
	size_t pos = len ? rnd() % len : 0, n;

	switch (rnd() % 9) {
	case 0:	/* flip a bit */
		if (len)
			buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
		return len;
	case 1:	/* set a byte */
		if (len)
			buf[pos] = (uint8_t)rnd();
		return len;
	case 2:	/* an interesting value */
		if (len)
			buf[pos] = interesting[rnd() % sizeof(interesting)];
		return len;
	case 3:	/* insert a byte */
		if (len >= max)
			return len;
		memmove(buf + pos + 1, buf + pos, len - pos);
		buf[pos] = (uint8_t)rnd();
		return len + 1;
	case 4:	/* delete a byte */
		if (!len)
			return len;
		memmove(buf + pos, buf + pos + 1, len - pos - 1);
		return len - 1;
	case 5:	/* truncate */
		return len ? rnd() % len : 0;
	case 6:	/* a random tail */
		n = rnd() % 64;
		if (len + n > max)
			n = max - len;
		for (size_t i = 0; i < n; i++)
			buf[len + i] = (uint8_t)rnd();
		return len + n;
	case 7:	/* copy a chunk over another place */
		if (len > 1) {
			size_t from = rnd() % len, k = rnd() % (len - from) + 1;
			size_t to = rnd() % len;

			if (to + k > len)
				k = len - to;
			memmove(buf + to, buf + from, k);
		}
		return len;
	default:	/* a 16- or 32-bit field set to an extreme */
		if (len >= 4) {
			uint32_t v = rnd() % 2 ? 0xffffffffu : (uint32_t)(rnd() % 4);

			pos = rnd() % (len - 3);
			memcpy(buf + pos, &v, rnd() % 2 ? 2 : 4);
		}
		return len;
	}
}

int main(int argc, char **argv)
{
	unsigned long long mutations = 10000, max_len = 0;
	uint8_t *buf;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mutations") && i + 1 < argc)
			mutations = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			rng_state = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--max-len") && i + 1 < argc)
			max_len = strtoull(argv[++i], NULL, 0);
		else if (add_path(argv[i]) < 0) {
			fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	/* as libFuzzer: 4 KiB, or the largest seed (a seed cut short may not reach what it was
	 * made for: the snapshot seeds are larger) */
	if (!max_len) {
		max_len = 4096;
		for (size_t s = 0; s < n_seeds; s++)
			if (seeds[s].len > max_len)
				max_len = seeds[s].len;
	}
	buf = malloc(max_len);
	if (!buf)
		return 2;
	for (size_t s = 0; s < n_seeds; s++) {
		size_t len = seeds[s].len < max_len ? seeds[s].len : max_len;

		/* A copy of exactly len bytes, so ASan sees any over-read. */
		uint8_t *exact = malloc(len ? len : 1);

		memcpy(exact, seeds[s].data, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	for (unsigned long long k = 0; k < mutations; k++) {
		size_t len = 0;
		uint8_t *exact;

		if (n_seeds && rnd() % 8) {
			const struct input *in = &seeds[rnd() % n_seeds];

			len = in->len < max_len ? in->len : max_len;
			memcpy(buf, in->data, len);
		}
		for (unsigned m = 1 + rnd() % 6; m; m--)
			len = mutate_once(buf, len, max_len);
		exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	printf("%s: %zu seeds and %llu mutations ran, no crash\n", argv[0], n_seeds, mutations);
	for (size_t s = 0; s < n_seeds; s++)
		free(seeds[s].data);
	free(seeds);
	free(buf);
	return 0;
}
