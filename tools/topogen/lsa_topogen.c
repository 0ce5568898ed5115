/*
 * lsa_topogen - writes an ibsim topology file for a two-level fat tree of N
 * HCAs: 36-port leaf switches with 18 HCAs down and 18 links up, spread over
 * up to 18 spine switches. The first node in the file (a spine, or the single
 * leaf of a small fabric) is where the lab runs OpenSM, so every HCA is free
 * for daemons. A comment line "# ibsim-limits: -N n -S s -P p" gives the
 * simulator sizes this fabric needs; tools/lab passes them to ibsim.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	LEAF_PORTS = 36,
	LEAF_DOWN = 18,
	LEAF_UP = 18,
	MAX_SPINES = 18,
	MAX_SWITCH_PORTS = 254,
	MAX_HCAS = 100000,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lsa_topogen -n HCAS [-o FILE]\n"
		"  Writes an ibsim topology of a 2-level fat tree with HCAS hosts\n"
		"  (36-port leaves, 18 hosts each) to FILE or standard output.\n");
}

/* Number of uplinks leaf l sends to spine s when 18 uplinks go round-robin. */
static unsigned links_between(unsigned l, unsigned s, unsigned spines)
{
	(void)l;
	return LEAF_UP / spines + (s < LEAF_UP % spines ? 1 : 0);
}

static int write_topology(FILE *f, unsigned hcas)
{
	unsigned leaves = (hcas + LEAF_DOWN - 1) / LEAF_DOWN;
	unsigned spines = leaves <= 1 ? 0 : (leaves < MAX_SPINES ? leaves : MAX_SPINES);
	unsigned spine_ports = 0, total_ports, l, s, h, k;

	if (spines)
		spine_ports = leaves * links_between(0, 0, spines);
	if (spine_ports > MAX_SWITCH_PORTS) {
		fprintf(stderr, "lsa_topogen: %u HCAs need %u-port spines (max %d)\n",
			hcas, spine_ports, MAX_SWITCH_PORTS);
		return -ERANGE;
	}
	/* Switch port 0 counts too; HCAs have one port. */
	total_ports = spines * (spine_ports + 1) + leaves * (LEAF_PORTS + 1) + hcas * 2;
	fprintf(f, "# Two-level fat tree: %u HCAs, %u leaves, %u spines (lsa_topogen)\n",
		hcas, leaves, spines);
	fprintf(f, "# ibsim-limits: -N %u -S %u -P %u\n\n", (hcas + leaves + spines) * 2,
		(leaves + spines) * 2, total_ports * 2);

	for (s = 0; s < spines; s++) {
		unsigned port = 1;

		fprintf(f, "Switch\t%u \"Spine%u\"\n", spine_ports, s + 1);
		for (l = 0; l < leaves; l++) {
			unsigned first = LEAF_DOWN + 1; /* the leaf's first uplink port */

			/* Uplink j of a leaf goes to spine j % spines. */
			for (k = 0; k < LEAF_UP; k++) {
				if (k % spines != s)
					continue;
				fprintf(f, "[%u]\t\"Leaf%u\"[%u]\n", port++, l + 1, first + k);
			}
		}
		fprintf(f, "\n");
	}
	for (l = 0; l < leaves; l++) {
		fprintf(f, "Switch\t%d \"Leaf%u\"\n", LEAF_PORTS, l + 1);
		for (k = 0; k < LEAF_DOWN; k++) {
			h = l * LEAF_DOWN + k;
			if (h >= hcas)
				break;
			fprintf(f, "[%u]\t\"Hca%u\"[1]\n", k + 1, h + 1);
		}
		for (k = 0; spines && k < LEAF_UP; k++) {
			unsigned sp = k % spines;
			/* Port on the spine: count earlier links into spine sp. */
			unsigned port = l * links_between(l, sp, spines) + k / spines + 1;

			fprintf(f, "[%u]\t\"Spine%u\"[%u]\n", LEAF_DOWN + 1 + k, sp + 1, port);
		}
		fprintf(f, "\n");
	}
	for (h = 0; h < hcas; h++)
		fprintf(f, "Hca\t1 \"Hca%u\"\n[1]\t\"Leaf%u\"[%u]\n\n", h + 1,
			h / LEAF_DOWN + 1, h % LEAF_DOWN + 1);
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	unsigned long hcas = 0;
	char *end;
	FILE *f = stdout;
	int c, ret;

	while ((c = getopt(argc, argv, "n:o:h")) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			hcas = strtoul(optarg, &end, 10);
			if (errno || *end || hcas < 1 || hcas > MAX_HCAS) {
				fprintf(stderr, "lsa_topogen: -n wants 1..%d HCAs, got '%s'\n",
					MAX_HCAS, optarg);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!hcas || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (out && !(f = fopen(out, "we"))) {
		fprintf(stderr, "lsa_topogen: %s: %s\n", out, strerror(errno));
		return 1;
	}
	ret = write_topology(f, (unsigned)hcas);
	if ((out && fclose(f)) || ret) {
		if (!ret)
			fprintf(stderr, "lsa_topogen: %s: %s\n", out, strerror(errno));
		return 1;
	}
	return 0;
}
