/*
 * test_wire_sa_mad.c - MAD/RMPP/SA header codec: byte-exact vectors written
 * from the IBA layout, round trips, rejected buffers, the common header of any
 * class, the RMPP header of a whole message, GetTable counts.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

/* --- encode a GetTable(PathRecord) request --- */

static void test_encode_request(void)
{
	/* SGID + DGID + NumbPath = bits 3, 2, 12 */
	static const uint8_t expect[SA_HDR_LEN] = {
		0x01, 0x03, 0x02, 0x12,			/* base, class SA, ver 2, GetTable */
		0x00, 0x00, 0x00, 0x00,			/* status, class specific */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* TID */
		0x00, 0x35, 0x00, 0x00,			/* attr PathRecord, reserved */
		0x00, 0x00, 0x00, 0x00,			/* attr mod */
		0x00, 0x00, 0x00, 0x00,			/* RMPP ver, type, flags, status */
		0x00, 0x00, 0x00, 0x00,			/* seg num */
		0x00, 0x00, 0x00, 0x00,			/* paylen */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* SM_Key */
		0x00, 0x00, 0x00, 0x00,			/* attr offset, reserved */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0c, /* comp mask */
	};
	uint8_t mad[MAD_LEN];
	struct sa_hdr h;

	memset(mad, 0xee, sizeof(mad));
	sa_hdr_init_request(&h, 0x12, 0x0035, 0x0102030405060708ULL,
			    PR_CM_DGID | PR_CM_SGID | PR_CM_NUMB_PATH);
	CHECK_INT(1, h.base_version);
	CHECK_INT(0x03, h.mgmt_class);
	CHECK_INT(2, h.class_version);
	CHECK_INT(0, h.attr_offset);
	sa_hdr_encode(mad, &h);
	CHECK_MEM(expect, mad, SA_HDR_LEN);
	/* exactly 56 bytes written: the data area is untouched */
	CHECK_INT(0xee, mad[SA_HDR_LEN]);
	CHECK_INT(0xee, mad[MAD_LEN - 1]);
}

/* --- decode every field of a GetTableResp header, then encode it back --- */

static const uint8_t resp_vec[SA_HDR_LEN] = {
	0x01, 0x03, 0x02, 0x92,
	0x03, 0x00, 0x12, 0x34,				/* NO_RECORDS, class spec */
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	0x00, 0x35, 0x00, 0x00,
	0xa1, 0xb2, 0xc3, 0xd4,
	0x01, 0x01, 0x2f, 0x00,				/* RMPP v1 DATA, rtime 5 + F|L|A */
	0x00, 0x00, 0x00, 0x01,				/* seg 1 */
	0x00, 0x00, 0x00, 0x94,				/* paylen 20 + 128 */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x00, 0x08, 0x00, 0x00,				/* attr offset 8 words */
	0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3c,
};

static void test_decode_all_fields(void)
{
	uint8_t mad[SA_HDR_LEN], again[SA_HDR_LEN];
	struct sa_hdr h;

	memcpy(mad, resp_vec, sizeof(mad));
	CHECK_INT(0, sa_hdr_decode(mad, sizeof(mad), &h));
	CHECK_INT(1, h.base_version);
	CHECK_INT(0x03, h.mgmt_class);
	CHECK_INT(2, h.class_version);
	CHECK_INT(0x92, h.method);
	CHECK_INT(0x0300, h.status);
	CHECK_INT(0x1234, h.class_specific);
	CHECK(h.tid == 0x1122334455667788ULL);
	CHECK_INT(0x0035, h.attr_id);
	CHECK_INT(0xa1b2c3d4u, h.attr_mod);
	CHECK_INT(1, h.rmpp_version);
	CHECK_INT(1, h.rmpp_type);
	CHECK_INT(0x2f, h.rmpp_flags);
	CHECK_INT(0, h.rmpp_status);
	CHECK_INT(1, h.rmpp_seg_num);
	CHECK_INT(148, h.rmpp_paylen);
	CHECK(h.sm_key == 0x0102030405060708ULL);
	CHECK_INT(8, h.attr_offset);
	CHECK(h.comp_mask == 0x800000000000003cULL);

	sa_hdr_encode(again, &h);
	CHECK_MEM(resp_vec, again, SA_HDR_LEN);

	/* reserved bytes are ignored on decode and written as zero */
	mad[18] = 0xff;
	mad[19] = 0xff;
	mad[46] = 0xaa;
	mad[47] = 0xbb;
	CHECK_INT(0, sa_hdr_decode(mad, sizeof(mad), &h));
	sa_hdr_encode(again, &h);
	CHECK_MEM(resp_vec, again, SA_HDR_LEN);
}

static void test_decode_rejects(void)
{
	uint8_t mad[MAD_LEN] = { 0 };
	struct sa_hdr h, before;

	memcpy(mad, resp_vec, sizeof(resp_vec));
	memset(&h, 0x5a, sizeof(h));
	before = h;
	CHECK_INT(-EMSGSIZE, sa_hdr_decode(mad, SA_HDR_LEN - 1, &h));
	CHECK_INT(-EMSGSIZE, sa_hdr_decode(mad, 0, &h));
	CHECK_MEM(&before, &h, sizeof(h));	/* out untouched on error */

	mad[0] = 2;
	CHECK_INT(-EPROTO, sa_hdr_decode(mad, sizeof(mad), &h));
	CHECK_MEM(&before, &h, sizeof(h));
	mad[0] = 1;
	CHECK_INT(0, sa_hdr_decode(mad, sizeof(mad), &h));
	CHECK_INT(0, sa_hdr_decode(mad, SA_HDR_LEN, &h));
}

/* --- the common header alone: any class, 24 bytes suffice --- */

static void test_common_header(void)
{
	uint8_t mad[MAD_HDR_LEN], again[SA_HDR_LEN];
	struct sa_hdr h, before;

	memcpy(mad, resp_vec, sizeof(mad));
	mad[1] = 0x81;	/* a directed-route SMP: no SA fields to read */
	memset(&h, 0x5a, sizeof(h));
	before = h;
	CHECK_INT(-EMSGSIZE, mad_hdr_decode(mad, MAD_HDR_LEN - 1, &h));
	CHECK_MEM(&before, &h, sizeof(h));
	CHECK_INT(0, mad_hdr_decode(mad, sizeof(mad), &h));
	/* Encoded back: every common field was read, and nothing beyond (all zero). */
	sa_hdr_encode(again, &h);
	CHECK_MEM(mad, again, MAD_HDR_LEN);
	for (int i = MAD_HDR_LEN; i < SA_HDR_LEN; i++)
		CHECK_INT(0, again[i]);
	CHECK_INT(0x81, h.mgmt_class);
	mad[0] = 2;	/* the base version is the caller's business */
	CHECK_INT(0, mad_hdr_decode(mad, sizeof(mad), &h));
	CHECK_INT(2, h.base_version);
}

/* --- the RMPP header of a message the kernel segments --- */

static void test_set_rmpp(void)
{
	static const uint8_t expect[12] = {
		0x01, 0x01, 0x07, 0x00,		/* v1, DATA, first|last|active, status */
		0x00, 0x00, 0x00, 0x01,		/* segment 1 */
		0x00, 0x00, 0x01, 0x14,		/* PayLen 20 + 256 */
	};
	uint8_t mad[SA_HDR_LEN];
	struct sa_hdr h;
	size_t rl, n;

	sa_hdr_init_request(&h, 0x02, 0x0035, 7, 0);
	h.attr_offset = 8;
	sa_hdr_set_rmpp(&h, true, 4 * 64);
	sa_hdr_encode(mad, &h);
	CHECK_MEM(expect, mad + 24, sizeof(expect));
	/* what a receiver counts from it */
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN + 4 * 64 + 40, &rl, &n));
	CHECK_INT(4, n);
	/* inactive: every RMPP field zero, the rest kept */
	h.rmpp_status = 9;
	sa_hdr_set_rmpp(&h, false, 4 * 64);
	sa_hdr_encode(mad, &h);
	for (int i = 24; i < 36; i++)
		CHECK_INT(0, mad[i]);
	CHECK_INT(8, h.attr_offset);
	CHECK_INT(0x02, h.method);
}

/* --- GetTable record counts --- */

static struct sa_hdr table_hdr(uint16_t attr_offset, uint8_t flags, uint32_t paylen)
{
	struct sa_hdr h;

	sa_hdr_init_request(&h, 0x92, 0x0035, 1, 0);
	h.attr_offset = attr_offset;
	h.rmpp_flags = flags;
	h.rmpp_paylen = paylen;
	return h;
}

static void test_table_count(void)
{
	size_t rl = 99, n = 99;
	struct sa_hdr h;

	/* exact buffer, no RMPP length: 3 records of 64 bytes */
	h = table_hdr(8, 0, 0);
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN + 3 * 64, &rl, &n));
	CHECK_INT(64, rl);
	CHECK_INT(3, n);

	/* one padded 256-byte MAD: the 8-byte tail is padding */
	CHECK_INT(0, sa_table_count(&h, MAD_LEN, &rl, &n));
	CHECK_INT(3, n);

	/* a large reassembled table */
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN + 1099 * 64, &rl, &n));
	CHECK_INT(1099, n);

	/* RMPP PayLen is authoritative over trailing padding */
	h = table_hdr(8, 0x07, 20 + 2 * 64);
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN + 3 * 64, &rl, &n));
	CHECK_INT(2, n);
	/* zero records with PayLen = class header only */
	h = table_hdr(8, 0x01, 20);
	CHECK_INT(0, sa_table_count(&h, MAD_LEN, &rl, &n));
	CHECK_INT(64, rl);
	CHECK_INT(0, n);
	/* PayLen without the active flag is not a length */
	h = table_hdr(8, 0x00, 20 + 64);
	CHECK_INT(0, sa_table_count(&h, MAD_LEN, &rl, &n));
	CHECK_INT(3, n);

	/* inconsistent: PayLen not a whole number of records */
	rl = n = 77;
	h = table_hdr(8, 0x01, 20 + 100);
	CHECK_INT(-EPROTO, sa_table_count(&h, MAD_LEN, &rl, &n));
	CHECK_INT(77, rl);
	CHECK_INT(77, n);
	/* inconsistent: PayLen shorter than the SA class header */
	h = table_hdr(8, 0x01, 10);
	CHECK_INT(-EPROTO, sa_table_count(&h, MAD_LEN, &rl, &n));
	/* inconsistent: records announced but no record size */
	h = table_hdr(0, 0x01, 20 + 64);
	CHECK_INT(-EPROTO, sa_table_count(&h, MAD_LEN, &rl, &n));
	/* truncated: PayLen beyond the buffer */
	h = table_hdr(8, 0x01, 20 + 4 * 64);
	CHECK_INT(-EMSGSIZE, sa_table_count(&h, SA_HDR_LEN + 3 * 64, &rl, &n));
	/* shorter than a header */
	h = table_hdr(8, 0, 0);
	CHECK_INT(-EMSGSIZE, sa_table_count(&h, SA_HDR_LEN - 1, &rl, &n));
	CHECK_INT(77, n);

	/* attr_offset 0: no records, whatever follows (error replies) */
	h = table_hdr(0, 0, 0);
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN, &rl, &n));
	CHECK_INT(0, rl);
	CHECK_INT(0, n);
	CHECK_INT(0, sa_table_count(&h, MAD_LEN, &rl, &n));
	CHECK_INT(0, n);

	/* a record size larger than the payload gives 0 records */
	h = table_hdr(32, 0, 0);
	CHECK_INT(0, sa_table_count(&h, MAD_LEN, &rl, &n));
	CHECK_INT(256, rl);
	CHECK_INT(0, n);
}

/*
 * A real GetTableResp(PathRecord) from OpenSM 3.3.23 on ibsim (SGID fe80::10:1,
 * NumbPath 1), as received through umad2sim: 256 bytes, RMPP active flag
 * without a PayLen, TID bits 32-63 rewritten by the simulator. umad2sim
 * keeps bytes 0-223 only, so the third "record" is garbage.
 */
static const uint8_t real_table[MAD_LEN] = {
	0x01, 0x03, 0x02, 0x92, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,
	0x00, 0x35, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01,
	0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0x00, 0x00, 0x83, 0x83,
	0x92, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01,
	0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0x00, 0x00, 0x84, 0x83,
	0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x01,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0xc0, 0x3b, 0xfd, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void test_real_opensm_table(void)
{
	struct ibv_path_record pr;
	struct sa_hdr h;
	size_t rl, n;

	CHECK_INT(0, sa_hdr_decode(real_table, sizeof(real_table), &h));
	CHECK_INT(0x92, h.method);
	CHECK_INT(0, h.status);
	CHECK(h.tid == 0x0002000000001234ULL);
	CHECK_INT(0x0035, h.attr_id);
	CHECK_INT(0, h.rmpp_version);		/* OpenSM leaves RMPP to the kernel */
	CHECK_INT(0, h.rmpp_type);
	CHECK_INT(0x01, h.rmpp_flags);		/* active flag only */
	CHECK_INT(0, h.rmpp_paylen);
	CHECK_INT(8, h.attr_offset);
	CHECK(h.comp_mask == (PR_CM_SGID | PR_CM_NUMB_PATH));

	/* the exact length a kernel (or the lab shim) reports: 2 records */
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN + 2 * 64, &rl, &n));
	CHECK_INT(64, rl);
	CHECK_INT(2, n);
	/* the whole padded MAD: the tail is counted, as no PayLen says otherwise */
	CHECK_INT(0, sa_table_count(&h, sizeof(real_table), &rl, &n));
	CHECK_INT(3, n);

	CHECK_INT(0, pr_decode(real_table + SA_HDR_LEN, sizeof(real_table) - SA_HDR_LEN, &pr));
	CHECK_INT(1, pr_dlid(&pr));
	CHECK_INT(2, pr_slid(&pr));
	CHECK_INT(0, pr_decode(real_table + SA_HDR_LEN + 64, 64, &pr));
	CHECK_INT(2, pr_dlid(&pr));
	CHECK_INT(4, pr_mtu(&pr));
	CHECK_INT(0, pr_pkt_life(&pr));		/* loopback path */

	/* the same query's reply with nothing found: header only, offset 0 */
	h.attr_offset = 0;
	CHECK_INT(0, sa_table_count(&h, SA_HDR_LEN, &rl, &n));
	CHECK_INT(0, n);
}

/* --- names --- */

static void test_names(void)
{
	CHECK_STR("SUCCESS", sa_status_str(0x0000));
	CHECK_STR("NO_RESOURCES", sa_status_str(0x0100));
	CHECK_STR("REQ_INVALID", sa_status_str(0x0200));
	CHECK_STR("NO_RECORDS", sa_status_str(0x0300));
	CHECK_STR("TOO_MANY_RECORDS", sa_status_str(0x0400));
	CHECK_STR("INVALID_GID", sa_status_str(0x0500));
	CHECK_STR("INSUF_COMPS", sa_status_str(0x0600));
	CHECK_STR("REQ_DENIED", sa_status_str(0x0700));
	CHECK_STR("PRI_SUGGESTED", sa_status_str(0x0800));
	CHECK_STR("SA_STATUS_UNKNOWN", sa_status_str(0x7f00));
	CHECK_STR("BUSY", sa_status_str(0x0001));
	CHECK_STR("REDIRECT", sa_status_str(0x0002));
	CHECK_STR("BAD_VERSION", sa_status_str(0x0004));
	CHECK_STR("METHOD_NOT_SUPPORTED", sa_status_str(0x0008));
	CHECK_STR("METHOD_ATTR_NOT_SUPPORTED", sa_status_str(0x000c));
	CHECK_STR("INVALID_FIELD", sa_status_str(0x001c));
	CHECK_STR("STATUS_UNKNOWN", sa_status_str(0x8000));
	/* the SA code wins over generic bits */
	CHECK_STR("REQ_INVALID", sa_status_str(0x021c));
	CHECK_INT(3, sa_status_code(0x0300));
	CHECK_INT(0x7f, sa_status_code(0xff00));

	CHECK_STR("Get", sa_method_str(0x01));
	CHECK_STR("Set", sa_method_str(0x02));
	CHECK_STR("GetResp", sa_method_str(0x81));
	CHECK_STR("Report", sa_method_str(0x06));
	CHECK_STR("ReportResp", sa_method_str(0x86));
	CHECK_STR("GetTable", sa_method_str(0x12));
	CHECK_STR("GetTableResp", sa_method_str(0x92));
	CHECK_STR("Delete", sa_method_str(0x15));
	CHECK_STR("DeleteResp", sa_method_str(0x95));
	CHECK_STR("UNKNOWN", sa_method_str(0x7f));
}

int main(void)
{
	test_encode_request();
	test_decode_all_fields();
	test_decode_rejects();
	test_common_header();
	test_set_rmpp();
	test_table_count();
	test_real_opensm_table();
	test_names();
	return CHECK_DONE();
}
