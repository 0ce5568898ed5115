/*
 * fuzz_sa_mad.c - an SA MAD as the daemon receives it from any fabric node: the common + RMPP +
 * SA header, a GetTable response's record count, and every record it claims (as PathRecords,
 * and as the NodeRecord the SA-door write check asks for).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/node_rec.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ibv_path_record rec;
	size_t rec_len, count;
	struct sa_hdr h;
	uint64_t guid;
	uint16_t lid;

	if (sa_hdr_decode(data, size, &h) < 0)
		return 0;
	(void)sa_status_str(h.status);
	(void)sa_method_str(h.method);
	if (sa_table_count(&h, size, &rec_len, &count) == 0) {
		/* Every record the header promises must lie inside the buffer. */
		for (size_t i = 0; i < count; i++) {
			if (rec_len >= PR_LEN)
				pr_decode(data + SA_HDR_LEN + i * rec_len, rec_len, &rec);
			node_rec_decode(data + SA_HDR_LEN + i * rec_len, rec_len, &lid, &guid);
		}
	}
	if (size >= SA_HDR_LEN + PR_LEN)
		pr_decode(data + SA_HDR_LEN, size - SA_HDR_LEN, &rec);
	/* Round trip: what decodes encodes back to the same 56 bytes but reserved fields. */
	{
		unsigned char again[SA_HDR_LEN];
		struct sa_hdr h2;

		sa_hdr_encode(again, &h);
		if (sa_hdr_decode(again, sizeof(again), &h2) < 0 || memcmp(&h.comp_mask,
		    &h2.comp_mask, sizeof(h.comp_mask)) || h.tid != h2.tid)
			abort();
	}
	return 0;
}
