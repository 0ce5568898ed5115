/*
 * lsa_samad - sends standard SA MADs to any LID (a local SA, or the master SA)
 * and prints the answer: Get, GetTable, Set, SetTable (many records from a
 * file, one RMPP message), Delete PathRecord. For operators and tests. And, for tests
 * of who may report traps, Report(Notice) of a generic trap 64-67 about a GID, as the SM
 * sends it (a ReportResp is the answer).
 *
 *   lsa_samad --lid LID get|gettable|set|delete [selectors] [--sm-key K]
 *             [--records FILE] [--format saquery|hex|count]
 *   lsa_samad --lid LID report --trap N --dgid GID
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/log.h"
#include "fabric/mad_port.h"
#include "wire/ctl_proto.h"
#include "wire/notice.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NO_RECORDS = 3, EXIT_SA_STATUS = 4 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lsa_samad [--ca CA] [--port N] --lid LID [--timeout MS] COMMAND [options]\n"
		"commands: get | gettable | set | delete   (PathRecord)\n"
		"          report --trap N --dgid GID     (Notice of trap 64-67 about GID)\n"
		"selectors: --sgid G --dgid G --dlid N --slid N --pkey P --service-id S --sl N\n"
		"           --qos-class Q --tclass N --numb-path N --mask 0xMASK (replaces the mask\n"
		"           the selectors make)\n"
		"  --sm-key K         SM_Key in the SA header (set and delete)\n"
		"  --records FILE     set: records to send, 128 hex digits per line; more than one\n"
		"                     makes a SetTable (one RMPP message)\n"
		"  --format F         saquery (default), hex, or count\n"
		"Exit: 0 success, 3 NO_RECORDS, 4 another SA or MAD status, 1 no answer, 2 usage.\n");
}

static int read_records(const char *path, unsigned char **out, size_t *n)
{
	char line[512];
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	*out = NULL;
	*n = 0;
	if (!f) {
		fprintf(stderr, "lsa_samad: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line || *line == '#')
			continue;
		if (*n == cap) {
			unsigned char *nb = realloc(*out, (cap = cap ? 2 * cap : 64) * PR_LEN);

			if (!nb) {
				fclose(f);
				return -ENOMEM;
			}
			*out = nb;
		}
		if (ctl_hex_decode(line, *out + *n * PR_LEN, PR_LEN) < 0) {
			fprintf(stderr, "lsa_samad: %s: record %zu is not 128 hex digits\n", path, *n + 1);
			fclose(f);
			return -EINVAL;
		}
		(*n)++;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ca", required_argument, NULL, 'C' }, { "port", required_argument, NULL, 'P' },
		{ "lid", required_argument, NULL, 'L' }, { "timeout", required_argument, NULL, 'T' },
		{ "sgid", required_argument, NULL, 'g' }, { "dgid", required_argument, NULL, 'd' },
		{ "dlid", required_argument, NULL, 'l' }, { "slid", required_argument, NULL, 's' },
		{ "pkey", required_argument, NULL, 'p' }, { "service-id", required_argument, NULL, 'S' },
		{ "sl", required_argument, NULL, 'e' }, { "qos-class", required_argument, NULL, 'q' },
		{ "tclass", required_argument, NULL, 't' }, { "numb-path", required_argument, NULL, 'n' },
		{ "mask", required_argument, NULL, 'm' }, { "sm-key", required_argument, NULL, 'k' },
		{ "records", required_argument, NULL, 'r' }, { "format", required_argument, NULL, 'f' },
		{ "trap", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *ca = NULL, *records = NULL, *format = "saquery";
	uint64_t lid = 0, port = 0, timeout = 2000, v, mask = 0, key = 0, trap = 0;
	int mask_given = 0, c, ret = EXIT_FAIL;
	struct ibv_path_record q;
	union ibv_gid gid;
	struct mad_port *mp = NULL;
	unsigned char *recs = NULL, *mad = NULL;
	size_t n_recs = 0, len;
	uint8_t method;
	struct sa_hdr h;
	const char *cmd;

	memset(&q, 0, sizeof(q));
	cmd = NULL;
	/* Options may stand before and after the command word: take it out
	 * first (every option but --help has a value). */
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-') {
			cmd = argv[i];
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			break;
		}
		if (strcmp(argv[i], "-h") && strcmp(argv[i], "--help") && !strchr(argv[i], '='))
			i++;
	}
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': ca = optarg; break;
		case 'P': if (ctl_parse_u64(optarg, 254, &port) < 0) goto bad; break;
		case 'L': if (ctl_parse_u64(optarg, 0xffff, &lid) < 0 || !lid) goto bad; break;
		case 'T': if (ctl_parse_u64(optarg, 600000, &timeout) < 0) goto bad; break;
		case 'g':
		case 'd':
			if (pr_from_text_gid(optarg, &gid) < 0)
				goto bad;
			if (c == 'g')
				pr_set_sgid(&q, &gid), mask |= PR_CM_SGID;
			else
				pr_set_dgid(&q, &gid), mask |= PR_CM_DGID;
			break;
		case 'l': if (ctl_parse_u64(optarg, 0xffff, &v) < 0) goto bad;
			pr_set_dlid(&q, (uint16_t)v); mask |= PR_CM_DLID; break;
		case 's': if (ctl_parse_u64(optarg, 0xffff, &v) < 0) goto bad;
			pr_set_slid(&q, (uint16_t)v); mask |= PR_CM_SLID; break;
		case 'p': if (ctl_parse_u64(optarg, 0xffff, &v) < 0) goto bad;
			pr_set_pkey(&q, (uint16_t)v); mask |= PR_CM_PKEY; break;
		case 'S': if (ctl_parse_u64(optarg, UINT64_MAX, &v) < 0) goto bad;
			pr_set_service_id(&q, v); mask |= PR_CM_SERVICE_ID; break;
		case 'e': if (ctl_parse_u64(optarg, 15, &v) < 0) goto bad;
			pr_set_sl(&q, (uint8_t)v); mask |= PR_CM_SL; break;
		case 'q': if (ctl_parse_u64(optarg, 0xfff, &v) < 0) goto bad;
			pr_set_qos_class(&q, (uint16_t)v); mask |= PR_CM_QOS_CLASS; break;
		case 't': if (ctl_parse_u64(optarg, 255, &v) < 0) goto bad;
			pr_set_tclass(&q, (uint8_t)v); mask |= PR_CM_TCLASS; break;
		case 'n': if (ctl_parse_u64(optarg, 127, &v) < 0) goto bad;
			pr_set_numb_path(&q, (uint8_t)v, false); mask |= PR_CM_NUMB_PATH; break;
		case 'm': if (ctl_parse_u64(optarg, UINT64_MAX, &mask) < 0) goto bad;
			mask_given = 1; break;
		case 'k': if (ctl_parse_u64(optarg, UINT64_MAX, &key) < 0) goto bad; break;
		case 'r': records = optarg; break;
		case 'f': format = optarg; break;
		case 'x': if (ctl_parse_u64(optarg, 0xffff, &trap) < 0) goto bad; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			fprintf(stderr, "lsa_samad: unknown option %s\n", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	(void)mask_given;
	if (optind != argc || !lid || !cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "get"))
		method = UMAD_METHOD_GET;
	else if (!strcmp(cmd, "gettable"))
		method = UMAD_SA_METHOD_GET_TABLE;
	else if (!strcmp(cmd, "set"))
		method = UMAD_METHOD_SET;
	else if (!strcmp(cmd, "delete"))
		method = UMAD_SA_METHOD_DELETE;
	else if (!strcmp(cmd, "report"))
		method = UMAD_METHOD_REPORT;
	else
		goto bad;
	if (method == UMAD_METHOD_REPORT && (!trap || !(mask & PR_CM_DGID))) {
		fprintf(stderr, "lsa_samad: report needs --trap N and --dgid GID\n");
		return EXIT_USAGE;
	}
	if (strcmp(format, "saquery") && strcmp(format, "hex") && strcmp(format, "count"))
		goto bad;
	if (method == UMAD_METHOD_SET) {
		if (!records) {
			fprintf(stderr, "lsa_samad: set needs --records FILE\n");
			return EXIT_USAGE;
		}
		if (read_records(records, &recs, &n_recs) < 0 || !n_recs)
			return EXIT_USAGE;
	}
	log_open("lsa_samad", LOG_LVL_WARN, false);
	if (mad_port_open(ca, (int)port, false, &mp) < 0)
		return EXIT_FAIL;

	len = SA_HDR_LEN + (recs ? n_recs * PR_LEN : PR_LEN);
	if (len < MAD_LEN)
		len = MAD_LEN;
	mad = calloc(1, len);
	if (!mad)
		goto out;
	sa_hdr_init_request(&h, method,
			    method == UMAD_METHOD_REPORT ? UMAD_ATTR_NOTICE : UMAD_SA_ATTR_PATH_REC,
			    (uint64_t)time(NULL) << 16 ^ (uint64_t)getpid(),
			    recs || method == UMAD_METHOD_REPORT ? 0 : mask);
	h.attr_offset = (method == UMAD_METHOD_REPORT ? NOTICE_LEN : PR_LEN) / 8;
	h.sm_key = key;
	sa_hdr_set_rmpp(&h, n_recs > 1, n_recs * PR_LEN); /* SetTable: one RMPP message */
	sa_hdr_encode(mad, &h);
	if (method == UMAD_METHOD_REPORT) {
		struct notice n;

		notice_for_trap(&n, (uint16_t)trap, &q.dgid, 0);
		notice_encode(mad + SA_HDR_LEN, &n);
	} else if (recs) {
		memcpy(mad + SA_HDR_LEN, recs, n_recs * PR_LEN);
	} else {
		pr_encode(mad + SA_HDR_LEN, &q);
	}
	if (mad_port_send(mp, mp->sa_agent, (uint16_t)lid, 1, mad, len, (int)timeout, 0) < 0) {
		fprintf(stderr, "lsa_samad: send failed\n");
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = mp->fd, .events = POLLIN };
		struct umad_msg msg;
		struct sa_hdr r;
		size_t rec_len = PR_LEN, n = 0;

		if (poll(&pfd, 1, (int)timeout * 2 + 1000) <= 0) {
			fprintf(stderr, "lsa_samad: no answer from LID %llu\n", (unsigned long long)lid);
			goto out;
		}
		if (mad_port_recv(mp, &msg) < 0)
			continue;
		if (msg.status) {
			fprintf(stderr, "lsa_samad: no answer from LID %llu (timeout)\n",
				(unsigned long long)lid);
			goto out;
		}
		if (sa_hdr_decode(msg.mad, msg.len, &r) < 0 || (uint32_t)r.tid != (uint32_t)h.tid)
			continue;
		if (r.method == UMAD_SA_METHOD_GET_TABLE_RESP)
			sa_table_count(&r, msg.len, &rec_len, &n);
		else if (!r.status && msg.len >= SA_HDR_LEN + PR_LEN)
			n = 1;
		printf("status 0x%04x (%s) method %s attr_mod %u records %zu\n", r.status,
		       sa_status_str(r.status), sa_method_str(r.method), r.attr_mod, n);
		for (size_t i = 0; i < n && strcmp(format, "count"); i++) {
			struct ibv_path_record rec;
			char out[2048];

			pr_decode(msg.mad + SA_HDR_LEN + i * rec_len, PR_LEN, &rec);
			if (!strcmp(format, "hex")) {
				ctl_hex_encode(&rec, PR_LEN, out);
				puts(out);
			} else {
				pr_format_saquery(&rec, out, sizeof(out));
				fputs(out, stdout);
			}
		}
		ret = !r.status ? EXIT_OK :
		      sa_status_code(r.status) == UMAD_SA_STATUS_NO_RECORDS ? EXIT_NO_RECORDS :
									      EXIT_SA_STATUS;
		break;
	}
out:
	free(mad);
	free(recs);
	mad_port_close(mp);
	return ret;
bad:
	fprintf(stderr, "lsa_samad: bad argument '%s'\n", optarg ? optarg : argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
