/*
 * qos_acm_path - one ACM RESOLVE in path form, the form that can carry a ServiceID, QoS class,
 * PKey and SL (ib_acme only sends GIDs or LIDs). Prints the answered path as `saquery -p` does,
 * or the ACM status. For the QoS lab test; needs no fabric, only the ACM socket.
 *
 *   lab_qos_acm_path -S SOCKET --dgid G [--sgid G] [--dlid N] [--service-id S] [--pkey P]
 *                    [--qos-class Q] [--sl N] [--sa]
 * Exit: 0 a path, 3 ENODATA, 4 another ACM status, 1 no answer, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <infiniband/acm.h>

#include "wire/acm_msg.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NODATA = 3, EXIT_STATUS = 4 };

_Static_assert(sizeof(struct acm_hdr) == ACM_MSG_HDR_LENGTH, "ACM header");
_Static_assert(sizeof(struct acm_ep_addr_data) == ACM_MSG_EP_LENGTH, "ACM entry");

static int usage(void)
{
	fprintf(stderr, "usage: lab_qos_acm_path -S SOCKET --dgid G [--sgid G] [--dlid N] "
		"[--service-id S] [--pkey P] [--qos-class Q] [--sl N] [--sa]\n");
	return EXIT_USAGE;
}

/* Reads until one whole RESOLVE reply (its header's length, host order) has arrived. */
static ssize_t read_reply(int fd, uint8_t *buf, size_t cap)
{
	const struct acm_hdr *h = (const struct acm_hdr *)buf;
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (got >= ACM_MSG_HDR_LENGTH &&
		    (h->version != ACM_VERSION || h->length < ACM_MSG_HDR_LENGTH || h->length > cap))
			return -1;
		if (got >= ACM_MSG_HDR_LENGTH && got >= h->length)
			return h->length;
		if (poll(&pfd, 1, 10000) <= 0)
			return -1;
		n = recv(fd, buf + got, cap - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sgid", required_argument, NULL, 'g' }, { "dgid", required_argument, NULL, 'd' },
		{ "dlid", required_argument, NULL, 'l' },
		{ "service-id", required_argument, NULL, 'i' },
		{ "pkey", required_argument, NULL, 'p' },
		{ "qos-class", required_argument, NULL, 'q' }, { "sl", required_argument, NULL, 'e' },
		{ "sa", no_argument, NULL, 'a' }, { NULL, 0, NULL, 0 },
	};
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint8_t buf[ACM_MSG_MAX_LEN];
	struct acm_resolve_msg *m = (struct acm_resolve_msg *)buf;
	struct ibv_path_record *p = &m->data[0].info.path;
	const char *sock = NULL;
	union ibv_gid gid;
	uint64_t v;
	ssize_t len;
	int c, fd;

	memset(buf, 0, sizeof(buf));
	while ((c = getopt_long(argc, argv, "S:", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': sock = optarg; break;
		case 'g':
		case 'd':
			if (pr_from_text_gid(optarg, &gid) < 0)
				return usage();
			if (c == 'g')
				pr_set_sgid(p, &gid);
			else
				pr_set_dgid(p, &gid);
			break;
		case 'l': if (ctl_parse_u64(optarg, 0xbfff, &v) < 0) return usage();
			pr_set_dlid(p, (uint16_t)v); break;
		case 'i': if (ctl_parse_u64(optarg, UINT64_MAX, &v) < 0) return usage();
			pr_set_service_id(p, v); break;
		case 'p': if (ctl_parse_u64(optarg, 0xffff, &v) < 0) return usage();
			pr_set_pkey(p, (uint16_t)v); break;
		case 'q': if (ctl_parse_u64(optarg, 0xfff, &v) < 0) return usage();
			pr_set_qos_class(p, (uint16_t)v); break;
		case 'e': if (ctl_parse_u64(optarg, 15, &v) < 0) return usage();
			pr_set_sl(p, (uint8_t)v); break;
		case 'a': m->data[0].flags |= ACM_MSG_FLAG_QUERY_SA; break;
		default: return usage();
		}
	}
	if (!sock || optind != argc || strlen(sock) >= sizeof(addr.sun_path))
		return usage();
	/* Host order for the header and the entry's flags and type, as libacm sends them. */
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = ACM_OP_RESOLVE;
	m->hdr.length = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	m->hdr.tid = 0x5153;	/* "QS" */
	m->data[0].flags |= ACM_EP_FLAG_DEST;
	m->data[0].type = ACM_EP_INFO_PATH;

	strcpy(addr.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "lab_qos_acm_path: %s: %s\n", sock, strerror(errno));
		return EXIT_FAIL;
	}
	if (send(fd, buf, m->hdr.length, MSG_NOSIGNAL) != (ssize_t)m->hdr.length) {
		fprintf(stderr, "lab_qos_acm_path: send: %s\n", strerror(errno));
		close(fd);
		return EXIT_FAIL;
	}
	len = read_reply(fd, buf, sizeof(buf));
	close(fd);
	if (len < ACM_MSG_HDR_LENGTH) {
		fprintf(stderr, "lab_qos_acm_path: no answer\n");
		return EXIT_FAIL;
	}
	if (m->hdr.status != ACM_STATUS_SUCCESS) {
		printf("ACM status %u\n", m->hdr.status);
		return m->hdr.status == ACM_STATUS_ENODATA ? EXIT_NODATA : EXIT_STATUS;
	}
	if (len < ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH || m->data[0].type != ACM_EP_INFO_PATH) {
		fprintf(stderr, "lab_qos_acm_path: a success without a path\n");
		return EXIT_FAIL;
	}
	{
		char out[2048];

		pr_format_saquery(&m->data[0].info.path, out, sizeof(out));
		fputs(out, stdout);
	}
	return EXIT_OK;
}
