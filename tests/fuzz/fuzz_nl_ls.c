/*
 * fuzz_nl_ls.c - a datagram on a NETLINK_RDMA socket, taken both ways: as the netlink door
 * receives it from the kernel (framed message by message, classified, a RESOLVE decoded, turned
 * into a query and answered, anything else refused) and as the kernel double receives it from a
 * responder (judged as an answer in both generations, applied as SET_TIMEOUT, read as an ack).
 * A decoded RESOLVE must survive the kernel's encoding and decode to the same request.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/nl_ls.h"
#include "wire/path_rec.h"

static void as_responder(const uint8_t *msg, size_t len, const struct nlmsghdr *h)
{
	uint8_t out[NL_LS_ANSWER_MAX];
	struct nl_ls_resolve r, again;
	struct ibv_path_record q, paths[3];
	uint64_t mask;
	int n;

	switch (nl_ls_classify(h)) {
	case NL_LS_IGNORE:
		return;
	case NL_LS_REFUSE:
		if (nl_ls_error_encode(out, sizeof(out), h, 1) != NL_LS_ERROR_LEN)
			abort();
		return;
	case NL_LS_RESOLVE:
		break;
	}
	if (nl_ls_resolve_decode(msg, len, &r)) {
		if (nl_ls_error_encode(out, sizeof(out), h, 1) != NL_LS_ERROR_LEN)
			abort();
		return;
	}
	if (!(r.has & NL_LS_HAS_DGID) || r.qos_class > 0xfff ||
	    !memchr(r.device_name, '\0', sizeof(r.device_name)))
		abort();
	nl_ls_resolve_to_query(&r, &q, &mask);
	if (!(mask & PR_CM_DGID) || memcmp(q.dgid.raw, r.dgid.raw, 16))
		abort();

	/* the kernel's encoding of the same request decodes to it again */
	n = nl_ls_resolve_encode(out, sizeof(out), &r);
	if (n <= 0 || n > NL_LS_RESOLVE_MAX || nl_ls_resolve_decode(out, (size_t)n, &again) ||
	    memcmp(&r, &again, sizeof(r)))
		abort();

	/* an answer with the query as its paths, judged as the kernel would: always taken */
	for (unsigned i = 0; i < 3; i++)
		paths[i] = q;
	n = nl_ls_answer_encode(out, sizeof(out), h, r.path_use, paths, 3, 1);
	if (n != NLMSG_HDRLEN + 3 * NL_LS_PATH_ATTR_LEN)
		abort();
	for (int gen = NL_LS_KERNEL_LEGACY; gen <= NL_LS_KERNEL_MULTI; gen++) {
		struct nl_ls_taken t;

		if (nl_ls_answer_judge(out, (size_t)n, r.path_use, (enum nl_ls_kernel)gen, &t) ||
		    t.n != 1 || t.chosen != 0 || memcmp(&t.recs[0], &q, sizeof(q)))
			abort();
	}
}

static void as_kernel(const uint8_t *msg, size_t len)
{
	uint8_t ack[NL_LS_MSG_MAX + 64];
	struct nlmsghdr orig;
	struct nl_ls_taken t;
	uint32_t timeout;
	int e, n;

	for (uint8_t use = 0; use <= LS_RESOLVE_PATH_USE_MAX; use++)
		for (int gen = NL_LS_KERNEL_LEGACY; gen <= NL_LS_KERNEL_MULTI; gen++)
			if (!nl_ls_answer_judge(msg, len, use, (enum nl_ls_kernel)gen, &t) &&
			    (t.n < 1 || t.n > NL_LS_KERNEL_MAX_TAKEN || t.chosen >= t.n))
				abort();
	if (!nl_ls_set_timeout_apply(msg, len, &timeout) &&
	    (timeout < NL_LS_TIMEOUT_MIN || timeout > NL_LS_TIMEOUT_MAX))
		abort();
	(void)nl_ls_ack_decode(msg, len, &orig, &e);
	if (len <= NL_LS_MSG_MAX) {
		n = nl_ls_ack_encode(ack, sizeof(ack), msg, len, -1);
		if (n > 0 && nl_ls_ack_decode(ack, (size_t)n, &orig, &e))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct nlmsghdr h;
		int n = nl_ls_frame(data + off, size - off, &h);

		if (n < 0)
			break;
		if (n < NLMSG_HDRLEN || (size_t)n > size - off)
			abort();	/* the framer promised a header and a step inside the buffer */
		as_responder(data + off, size - off, &h);
		as_kernel(data + off, size - off);
		off += (size_t)n;
	}
	return 0;
}
