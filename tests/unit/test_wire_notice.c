/*
 * test_wire_notice.c - InformInfo and Notice codecs against hand-written
 * IBA 13.4.8 vectors, round trips, truncation, trap GIDs.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "wire/notice.h"

/*
 * The expected bytes are also what OpenSM 3.3.23 echoed in its GetResp
 * (status SUCCESS) to this Set(InformInfo) on ibsim; the unsubscribe with
 * QPN 1 was accepted too, and a second one refused with REQ_INVALID.
 */
static void test_inform_for_trap(void)
{
	static const uint8_t expect[INFORM_INFO_LEN] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* GID 0 */
		0xff, 0xff, 0x00, 0x00,		/* LIDRangeBegin all, End 0 */
		0x00, 0x00,			/* reserved */
		0x01, 0x01,			/* IsGeneric, Subscribe */
		0xff, 0xff,			/* Type: all */
		0x00, 0x40,			/* TrapNumber 64 */
		0x00, 0x00, 0x01, 0x00,		/* QPN 1, RespTimeValue 0 */
		0x00,				/* reserved */
		0xff, 0xff, 0xff,		/* ProducerType: all */
	};
	struct inform_info ii;
	uint8_t buf[INFORM_INFO_LEN + 4];

	memset(buf, 0xee, sizeof(buf));
	inform_info_for_trap(&ii, 64, true);
	inform_info_encode(buf, &ii);
	CHECK_MEM(expect, buf, INFORM_INFO_LEN);
	CHECK_INT(0xee, buf[INFORM_INFO_LEN]);	/* exactly 36 bytes */

	/* unsubscribe differs only in the Subscribe byte and the trap */
	inform_info_for_trap(&ii, 65, false);
	inform_info_encode(buf, &ii);
	CHECK_INT(0, buf[23]);
	CHECK_INT(0x41, buf[27]);
	CHECK_MEM(expect + 28, buf + 28, 8);
}

static const uint8_t ii_vec[INFORM_INFO_LEN] = {
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* fe80::1 */
	0x00, 0x10, 0x00, 0x20,			/* LID range 16..32 */
	0x00, 0x00,
	0x01, 0x00,				/* generic, unsubscribe */
	0x00, 0x04,				/* Type 4 (informational) */
	0x00, 0x90,				/* trap 144 */
	0x12, 0x34, 0x56, 0x13,			/* QPN 0x123456, RespTime 0x13 */
	0x00,
	0x00, 0x00, 0x02,			/* ProducerType 2 (switch) */
};

static void test_inform_decode(void)
{
	struct inform_info ii, before;
	uint8_t buf[INFORM_INFO_LEN];

	CHECK_INT(0, inform_info_decode(ii_vec, sizeof(ii_vec), &ii));
	CHECK_INT(0xfe, ii.gid.raw[0]);
	CHECK_INT(0x01, ii.gid.raw[15]);
	CHECK_INT(16, ii.lid_range_begin);
	CHECK_INT(32, ii.lid_range_end);
	CHECK_INT(1, ii.is_generic);
	CHECK_INT(0, ii.subscribe);
	CHECK_INT(4, ii.type);
	CHECK_INT(144, ii.trap_number);
	CHECK_INT(0x123456, ii.qpn);
	CHECK_INT(0x13, ii.resp_time_value);
	CHECK_INT(2, ii.producer_type);

	inform_info_encode(buf, &ii);
	CHECK_MEM(ii_vec, buf, INFORM_INFO_LEN);

	/* reserved bits and bytes are ignored and re-encoded as zero */
	memcpy(buf, ii_vec, sizeof(buf));
	buf[20] = 0xaa;
	buf[31] |= 0xe0;
	buf[32] = 0xbb;
	CHECK_INT(0, inform_info_decode(buf, sizeof(buf), &ii));
	CHECK_INT(0x13, ii.resp_time_value);
	inform_info_encode(buf, &ii);
	CHECK_MEM(ii_vec, buf, INFORM_INFO_LEN);

	/* out-of-range values are masked to their field width */
	ii.qpn = 0xff000001;
	ii.resp_time_value = 0xff;
	ii.producer_type = 0xab000003;
	inform_info_encode(buf, &ii);
	CHECK_INT(0x00, buf[28]);
	CHECK_INT(0x01, buf[30]);
	CHECK_INT(0x1f, buf[31]);
	CHECK_INT(0x00, buf[32]);
	CHECK_INT(0x03, buf[35]);

	memset(&ii, 0x5a, sizeof(ii));
	before = ii;
	CHECK_INT(-EMSGSIZE, inform_info_decode(ii_vec, INFORM_INFO_LEN - 1, &ii));
	CHECK_MEM(&before, &ii, sizeof(ii));
}

/* SM's Report(Notice) for trap 65 (GID out of service), as OpenSM builds it */
static const uint8_t trap65_vec[NOTICE_LEN] = {
	0x84,					/* generic, type 4 */
	0x00, 0x00, 0x04,			/* producer 4: class manager */
	0x00, 0x41,				/* trap 65 */
	0x00, 0x01,				/* issuer LID 1 */
	0x80, 0x05,				/* toggle 1, count 5 */
	/* DataDetails: 6 reserved, GID fe80::2:c903:0:1234, rest 0 */
	0, 0, 0, 0, 0, 0,
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x12, 0x34,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* IssuerGID fe80::1 */
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
};

static void test_notice_decode(void)
{
	struct notice n, before;
	union ibv_gid g;
	uint8_t buf[NOTICE_LEN];

	CHECK_INT(0, notice_decode(trap65_vec, sizeof(trap65_vec), &n));
	CHECK_INT(1, n.is_generic);
	CHECK_INT(4, n.type);
	CHECK_INT(4, n.producer_type);
	CHECK_INT(65, n.trap_number);
	CHECK_INT(1, n.issuer_lid);
	CHECK_INT(1, n.toggle);
	CHECK_INT(5, n.count);
	CHECK_INT(0xfe, n.issuer_gid.raw[0]);
	CHECK_INT(0x01, n.issuer_gid.raw[15]);
	CHECK_MEM(trap65_vec + 10, n.data_details, NOTICE_DETAILS_LEN);

	CHECK_INT(0, notice_trap_gid(&n, &g));
	CHECK_MEM(trap65_vec + 16, g.raw, 16);

	memset(buf, 0xee, sizeof(buf));
	notice_encode(buf, &n);
	CHECK_MEM(trap65_vec, buf, NOTICE_LEN);

	memset(&n, 0x5a, sizeof(n));
	before = n;
	CHECK_INT(-EMSGSIZE, notice_decode(trap65_vec, NOTICE_LEN - 1, &n));
	CHECK_MEM(&before, &n, sizeof(n));
}

static void test_notice_fields(void)
{
	struct notice n;
	union ibv_gid g;
	uint8_t buf[NOTICE_LEN];

	memset(&n, 0, sizeof(n));
	n.is_generic = 0;			/* vendor notice */
	n.type = 0x7f;
	n.producer_type = 0x001405;		/* VendorID: OpenIB OUI */
	n.trap_number = 0xbeef;			/* DeviceID */
	n.issuer_lid = 0xc001;
	n.toggle = 0;
	n.count = 0x7fff;
	notice_encode(buf, &n);
	CHECK_INT(0x7f, buf[0]);
	CHECK_INT(0x00, buf[1]);
	CHECK_INT(0x14, buf[2]);
	CHECK_INT(0x05, buf[3]);
	CHECK_INT(0xbe, buf[4]);
	CHECK_INT(0xef, buf[5]);
	CHECK_INT(0xc0, buf[6]);
	CHECK_INT(0x01, buf[7]);
	CHECK_INT(0x7f, buf[8]);
	CHECK_INT(0xff, buf[9]);

	/* a vendor notice numbered 64 carries no GID */
	n.trap_number = 64;
	CHECK_INT(-ENOENT, notice_trap_gid(&n, &g));

	n.is_generic = 1;
	for (uint16_t t = 60; t < 70; t++) {
		n.trap_number = t;
		CHECK_INT(t >= 64 && t <= 67 ? 0 : -ENOENT, notice_trap_gid(&n, &g));
	}
	n.trap_number = 144;
	CHECK_INT(-ENOENT, notice_trap_gid(&n, &g));
}

int main(void)
{
	test_inform_for_trap();
	test_inform_decode();
	test_notice_decode();
	test_notice_fields();
	return CHECK_DONE();
}
