/*
 * fuzz_notice.c - what the SA (or anyone on the fabric) sends the informer and the SM tracker:
 * a Notice (trap report), an InformInfo answer, and an SMP PortInfo response.
 */
#include <stdint.h>

#include "fuzz.h"
#include "wire/notice.h"
#include "wire/port_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inform_info ii;
	struct notice n;
	const uint8_t *pi;
	uint64_t prefix;
	uint16_t lid;
	uint8_t v;

	if (notice_decode(data, size, &n) == 0) {
		uint8_t again[NOTICE_LEN];
		union ibv_gid gid;

		notice_encode(again, &n);
		notice_trap_gid(&n, &gid);	/* the GID a trap 64/65/66/67 names */
	}
	if (inform_info_decode(data, size, &ii) == 0) {
		uint8_t again[INFORM_INFO_LEN];

		inform_info_encode(again, &ii);
	}
	if (smp_resp_data(data, size, &pi) == 0) {
		if (pi < data || pi + 64 > data + size)
			__builtin_trap();	/* the data must lie inside the MAD */
		port_info_sm_lid(pi, 64, &lid);
		port_info_lid(pi, 64, &lid);
		port_info_state(pi, 64, &v);
		port_info_lmc(pi, 64, &v);
		port_info_gid_prefix(pi, 64, &prefix);
	}
	port_info_sm_lid(data, size, &lid);
	port_info_gid_prefix(data, size, &prefix);
	return 0;
}
