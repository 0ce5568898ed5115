/*
 * fuzz_path_rec.c - a PathRecord from the wire (an SA answer, a Set from another node, an ACM
 * client's record) decoded, matched, and printed in every format the doors use; a GID in text
 * form as the CLI and the control socket take it.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/path_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ibv_path_record a, b;
	char out[2048], text[128];
	union ibv_gid gid;

	if (pr_decode(data, size, &a) == 0) {
		pr_format_saquery(&a, out, sizeof(out));
		pr_format_json(&a, out, sizeof(out));
		pr_format_text(&a, out, sizeof(out));
		pr_format_saquery(&a, out, 17);		/* truncated output */
		(void)pr_rate_str(pr_rate(&a));
		(void)pr_mtu_bytes(pr_mtu(&a));
		if (size >= 2 * PR_LEN && pr_decode(data + PR_LEN, size - PR_LEN, &b) == 0) {
			uint64_t mask;

			memcpy(&mask, data + size - sizeof(mask), sizeof(mask));
			(void)pr_matches(&a, &b, mask);
		}
	}
	/* The same bytes as a GID in text. */
	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (pr_from_text_gid(text, &gid) == 0) {
			char back[INET6_ADDRSTRLEN];
			union ibv_gid again;

			pr_gid_to_text(&gid, back);
			if (pr_from_text_gid(back, &again) < 0 || memcmp(&gid, &again, sizeof(gid)))
				abort();
		}
	}
	return 0;
}
