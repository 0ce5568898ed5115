/*
 * fuzz_acm_msg.c - a byte stream from an ACM client (the socket is world-writable): framed
 * message by message as the ACM door does, each decoded by its opcode and answered with the
 * encoders the door uses.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/acm_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t reply[ACM_MSG_MAX_LEN];
	struct acm_msg_hdr h;
	size_t off = 0;

	while (off < size) {
		int n = acm_msg_frame(data + off, size - off, &h);
		struct acm_msg_resolve r;
		struct acm_msg_perf p;
		struct acm_msg_ep_query q;
		const uint8_t *msg = data + off;

		if (n <= 0) {
			if (size - off >= ACM_MSG_HDR_LENGTH)
				acm_msg_error_encode(reply, &h, ACM_STATUS_EINVAL);
			break;
		}
		if (n < ACM_MSG_HDR_LENGTH || (size_t)n > size - off)
			abort();	/* the framer promised a whole message */
		switch (h.opcode) {
		case ACM_OP_RESOLVE:
			if (acm_msg_resolve_decode(msg, (size_t)n, &r) == ACM_STATUS_SUCCESS) {
				if (r.n_eps > ACM_MSG_MAX_EPS || r.dst < 0 || r.dst >= (int)r.n_eps ||
				    r.src >= (int)r.n_eps)
					abort();
				if (r.path_form) {
					(void)acm_msg_path_mask(&r.ep[0].info.path);
					acm_msg_resolve_reply_encode(reply, &h, &r.ep[0].info.path, 0);
				}
			}
			break;
		case ACM_OP_PERF_QUERY:
			if (acm_msg_perf_decode(msg, (size_t)n, &p) == ACM_STATUS_SUCCESS) {
				uint64_t c[ACM_MAX_COUNTER] = { 0 };

				acm_msg_perf_reply_encode(reply, &h, c, ACM_MAX_COUNTER);
			}
			break;
		case ACM_OP_EP_QUERY:
			if (acm_msg_ep_query_decode(msg, (size_t)n, &q) == ACM_STATUS_SUCCESS) {
				struct acm_msg_ep_desc d;

				memset(&d, 0, sizeof(d));
				d.n_addrs = 1;
				strcpy(d.addrs[0], "lid 1");
				acm_msg_ep_reply_encode(reply, &h, &d);
			}
			break;
		default:
			acm_msg_error_encode(reply, &h, ACM_STATUS_EINVAL);
			break;
		}
		(void)acm_msg_status_str(h.status);
		off += (size_t)n;
	}
	return 0;
}
