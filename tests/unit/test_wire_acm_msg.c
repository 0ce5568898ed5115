/*
 * test_wire_acm_msg.c - the ACM socket protocol codec: byte-exact requests as libacm builds them
 * and replies as ibacm sends them, framing on a stream, and every malformed request the decoder
 * must turn into the right ACM status. Host-order vectors are written for little-endian hosts.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "wire/acm_msg.h"
#include "wire/path_rec.h"

#define LE (__BYTE_ORDER == __LITTLE_ENDIAN)

static const uint8_t dgid_raw[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
				      0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x1a, 0x2b };
static const uint8_t sgid_raw[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
				      0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x00, 0x01 };

/* --- requests as libacm sends them (struct acm_msg filled natively) -------- */

static size_t libacm_resolve_path(struct acm_msg *m, const struct ibv_path_record *p,
				  uint32_t flags)
{
	memset(m, 0, sizeof(*m));
	m->hdr.version = ACM_VERSION;
	m->hdr.opcode = ACM_OP_RESOLVE;
	m->hdr.length = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;
	m->hdr.tid = 0x1122334455667788ULL;
	m->resolve_data[0].flags = flags;
	m->resolve_data[0].type = ACM_EP_INFO_PATH;
	m->resolve_data[0].info.path = *p;
	return m->hdr.length;
}

static void test_libacm_path_request(void)
{
	struct ibv_path_record p;
	struct acm_msg m;
	struct acm_msg_hdr h;
	struct acm_msg_resolve r;
	size_t len;

	memset(&p, 0, sizeof(p));
	memcpy(p.dgid.raw, dgid_raw, 16);
	memcpy(p.sgid.raw, sgid_raw, 16);
	p.reversible_numpath = IBV_PATH_RECORD_REVERSIBLE | 1;
	len = libacm_resolve_path(&m, &p, ACM_MSG_FLAG_QUERY_SA);
	CHECK_INT(88, acm_msg_frame(&m, len, &h));
	CHECK_INT(1, h.version);
	CHECK_INT(ACM_OP_RESOLVE, h.opcode);
	CHECK_INT(88, h.length);
	CHECK_INT(0x1122334455667788ULL, h.tid);
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(&m, len, &r));
	CHECK(r.path_form);
	CHECK_INT(1, r.n_eps);
	CHECK_INT(0, r.dst);
	CHECK_INT(-1, r.src);
	CHECK_INT(ACM_MSG_FLAG_QUERY_SA, r.flags);
	CHECK_MEM(&p, &r.ep[0].info.path, sizeof(p));

	/* the same request, written byte by byte: header, then flags/type host order */
	if (LE) {
		static const uint8_t head[24] = {
			0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x58, 0x00,	/* v1 RESOLVE len 88 */
			0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,	/* tid, host order */
			0x00, 0x00, 0x00, 0x80, 0x10, 0x00, 0x00, 0x00,	/* QUERY_SA, PATH */
		};
		CHECK_MEM(head, &m, sizeof(head));
	}
}

/* --- framing ---------------------------------------------------------------- */

static void test_frame(void)
{
	uint8_t b[ACM_MSG_MAX_LEN + 8];
	struct acm_msg_hdr h;

	memset(b, 0, sizeof(b));
	memset(&h, 0xa5, sizeof(h));
	b[0] = 1;
	b[1] = ACM_OP_PERF_QUERY;
	b[6] = 0x00;
	b[7] = 0x10;	/* PERF_QUERY: big-endian length 16 */
	CHECK_INT(0, acm_msg_frame(b, 0, &h));
	CHECK_INT(0, acm_msg_frame(b, 15, &h));
	CHECK_INT(0xa5, h.version);	/* untouched below 16 bytes */
	CHECK_INT(16, acm_msg_frame(b, 16, &h));
	CHECK_INT(16, acm_msg_frame(b, 40, &h));	/* more bytes: the next message's */
	CHECK_INT(16, h.length);

	/* EP_QUERY with length 96 arrives in pieces */
	b[1] = ACM_OP_EP_QUERY;
	b[7] = 96;
	CHECK_INT(0, acm_msg_frame(b, 16, &h));
	CHECK_INT(96, h.length);
	CHECK_INT(0, acm_msg_frame(b, 95, &h));
	CHECK_INT(96, acm_msg_frame(b, 96, &h));

	/* RESOLVE reads its length in host order: bytes 58 00 on little-endian */
	b[1] = ACM_OP_RESOLVE;
	if (LE) {
		b[6] = 0x58;
		b[7] = 0x00;
		CHECK_INT(88, acm_msg_frame(b, 88, &h));
		b[6] = 0x00;
		b[7] = 0x58;	/* big-endian 88 is 22528 here: oversized */
		CHECK_INT(-EMSGSIZE, acm_msg_frame(b, 88, &h));
	}

	/* bad version: nothing after it can be trusted */
	b[0] = 2;
	b[1] = ACM_OP_PERF_QUERY;
	b[6] = 0;
	b[7] = 16;
	CHECK_INT(-EPROTO, acm_msg_frame(b, 16, &h));
	b[0] = 0xee;
	CHECK_INT(-EPROTO, acm_msg_frame(b, 16, &h));

	/* lengths outside 16..592 */
	b[0] = 1;
	b[7] = 8;
	CHECK_INT(-EMSGSIZE, acm_msg_frame(b, 16, &h));
	b[7] = 0;
	CHECK_INT(-EMSGSIZE, acm_msg_frame(b, 16, &h));
	b[6] = 0x02;
	b[7] = 0x50;	/* 592: the largest */
	CHECK_INT(0, acm_msg_frame(b, 591, &h));
	CHECK_INT(592, acm_msg_frame(b, 592, &h));
	b[7] = 0x51;	/* 593 */
	CHECK_INT(-EMSGSIZE, acm_msg_frame(b, sizeof(b), &h));
	b[6] = 0xff;
	b[7] = 0xff;
	CHECK_INT(-EMSGSIZE, acm_msg_frame(b, 16, &h));
}

/* --- RESOLVE validation ------------------------------------------------------ */

/* A RESOLVE of n entries in buf (host order), entries zeroed; returns its length. */
static size_t resolve_msg(uint8_t *buf, unsigned n)
{
	uint16_t len = (uint16_t)(ACM_MSG_HDR_LENGTH + n * ACM_MSG_EP_LENGTH);

	memset(buf, 0, ACM_MSG_MAX_LEN);
	buf[0] = ACM_VERSION;
	buf[1] = ACM_OP_RESOLVE;
	memcpy(buf + 6, &len, 2);
	return len;
}

static void set_ep(uint8_t *buf, unsigned i, uint32_t flags, uint16_t type, const void *addr,
		   size_t alen)
{
	uint8_t *e = buf + ACM_MSG_HDR_LENGTH + i * ACM_MSG_EP_LENGTH;

	memcpy(e, &flags, 4);
	memcpy(e + 4, &type, 2);
	memcpy(e + 8, addr, alen);
}

static void test_resolve_path_form(void)
{
	uint8_t b[ACM_MSG_MAX_LEN];
	struct ibv_path_record p;
	struct acm_msg_resolve r;
	size_t len;

	/* LID form: dlid only */
	memset(&p, 0, sizeof(p));
	p.dlid = htobe16(20);
	len = resolve_msg(b, 1);
	set_ep(b, 0, ACM_MSG_FLAG_NODELAY, ACM_EP_INFO_PATH, &p, sizeof(p));
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(b, len, &r));
	CHECK(r.path_form);
	CHECK_INT(ACM_MSG_FLAG_NODELAY, r.flags);
	CHECK_INT(20, pr_dlid(&r.ep[0].info.path));

	/* no destination at all */
	memset(&p, 0, sizeof(p));
	memcpy(p.sgid.raw, sgid_raw, 16);
	set_ep(b, 0, 0, ACM_EP_INFO_PATH, &p, sizeof(p));
	CHECK_INT(ACM_STATUS_EDESTADDR, acm_msg_resolve_decode(b, len, &r));

	/* extra entries after a path are allowed (ibacm reads entry 0) */
	p.dlid = htobe16(7);
	len = resolve_msg(b, 3);
	set_ep(b, 0, 0, ACM_EP_INFO_PATH, &p, sizeof(p));
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(b, len, &r));
	CHECK_INT(3, r.n_eps);
}

static void test_resolve_lengths(void)
{
	uint8_t b[ACM_MSG_MAX_LEN];
	struct acm_msg_resolve r;
	uint16_t bad;

	memset(&r, 0x5a, sizeof(r));
	/* header alone: no entry */
	CHECK_INT(ACM_STATUS_EINVAL, acm_msg_resolve_decode(b, resolve_msg(b, 0), &r));
	CHECK_INT(0x5a, ((uint8_t *)&r)[0]);	/* out untouched on failure */
	/* 16 + 50: not a whole entry */
	resolve_msg(b, 1);
	bad = 66;
	memcpy(b + 6, &bad, 2);
	CHECK_INT(ACM_STATUS_EINVAL, acm_msg_resolve_decode(b, 66, &r));
	/* header length disagrees with the framed length */
	resolve_msg(b, 2);
	CHECK_INT(ACM_STATUS_EINVAL, acm_msg_resolve_decode(b, 88, &r));
	/* beyond 8 entries */
	CHECK_INT(ACM_STATUS_EINVAL, acm_msg_resolve_decode(b, 16 + 9 * 72, &r));
	/* 8 entries, the most, with a destination */
	{
		size_t len = resolve_msg(b, 8);

		set_ep(b, 7, ACM_EP_FLAG_DEST, ACM_MSG_EP_GID, dgid_raw, 16);
		CHECK_INT(592, len);
		CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(b, len, &r));
		CHECK_INT(7, r.dst);
	}
}

static void test_resolve_address_form(void)
{
	const uint8_t lid20[2] = { 0x00, 0x14 }, lid0[2] = { 0, 0 };
	uint8_t b[ACM_MSG_MAX_LEN];
	struct acm_msg_resolve r;
	union ibv_gid g;
	size_t len;

	/* GID destination, GID source, in either order */
	len = resolve_msg(b, 2);
	set_ep(b, 0, ACM_EP_FLAG_DEST | ACM_MSG_FLAG_QUERY_SA, ACM_MSG_EP_GID, dgid_raw, 16);
	set_ep(b, 1, ACM_EP_FLAG_SOURCE, ACM_MSG_EP_GID, sgid_raw, 16);
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(b, len, &r));
	CHECK(!r.path_form);
	CHECK_INT(0, r.dst);
	CHECK_INT(1, r.src);
	CHECK_INT(ACM_EP_FLAG_DEST | ACM_MSG_FLAG_QUERY_SA, r.flags);
	acm_msg_ep_gid(&r.ep[r.dst], &g);
	CHECK_MEM(dgid_raw, g.raw, 16);

	/* LID destination, no source */
	len = resolve_msg(b, 1);
	set_ep(b, 0, ACM_EP_FLAG_DEST, ACM_MSG_EP_LID, lid20, 2);
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(b, len, &r));
	CHECK_INT(-1, r.src);
	CHECK_INT(20, acm_msg_ep_lid(&r.ep[0]));

	/* names and IPs are valid protocol (the service decides what it supports) */
	set_ep(b, 0, ACM_EP_FLAG_DEST, ACM_EP_INFO_ADDRESS_IP, "\x0a\x00\x00\x01", 4);
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_resolve_decode(b, len, &r));

	/* malformed ones */
	set_ep(b, 0, ACM_EP_FLAG_DEST, ACM_MSG_EP_LID, lid0, 2);
	CHECK_INT(ACM_STATUS_EDESTADDR, acm_msg_resolve_decode(b, len, &r));
	set_ep(b, 0, ACM_EP_FLAG_DEST, 0, dgid_raw, 16);
	CHECK_INT(ACM_STATUS_EDESTTYPE, acm_msg_resolve_decode(b, len, &r));
	set_ep(b, 0, ACM_EP_FLAG_DEST, ACM_MSG_EP_RESERVED, dgid_raw, 16);
	CHECK_INT(ACM_STATUS_EDESTTYPE, acm_msg_resolve_decode(b, len, &r));
	set_ep(b, 0, 0, ACM_MSG_EP_GID, dgid_raw, 16);	/* nothing flagged */
	CHECK_INT(ACM_STATUS_EDESTTYPE, acm_msg_resolve_decode(b, len, &r));

	len = resolve_msg(b, 2);
	set_ep(b, 0, ACM_EP_FLAG_DEST, ACM_MSG_EP_GID, dgid_raw, 16);
	set_ep(b, 1, ACM_EP_FLAG_DEST, ACM_MSG_EP_GID, dgid_raw, 16);
	CHECK_INT(ACM_STATUS_EDESTADDR, acm_msg_resolve_decode(b, len, &r));

	len = resolve_msg(b, 3);
	set_ep(b, 0, ACM_EP_FLAG_SOURCE, ACM_MSG_EP_GID, sgid_raw, 16);
	set_ep(b, 1, ACM_EP_FLAG_SOURCE, ACM_MSG_EP_GID, sgid_raw, 16);
	set_ep(b, 2, ACM_EP_FLAG_DEST, ACM_MSG_EP_GID, dgid_raw, 16);
	CHECK_INT(ACM_STATUS_ESRCADDR, acm_msg_resolve_decode(b, len, &r));
	set_ep(b, 1, 0, 0, sgid_raw, 0);
	set_ep(b, 0, ACM_EP_FLAG_SOURCE, 0x0009, sgid_raw, 16);
	CHECK_INT(ACM_STATUS_ESRCTYPE, acm_msg_resolve_decode(b, len, &r));
	set_ep(b, 0, ACM_EP_FLAG_SOURCE, ACM_MSG_EP_GID, lid0, 2);	/* zero GID */
	memset(b + ACM_MSG_HDR_LENGTH + 8, 0, 16);
	CHECK_INT(ACM_STATUS_ESRCADDR, acm_msg_resolve_decode(b, len, &r));
}

/* --- replies ----------------------------------------------------------------- */

static void test_resolve_reply(void)
{
	uint8_t b[ACM_MSG_MAX_LEN];
	struct ibv_path_record p;
	struct acm_msg_hdr req = { .version = 1, .opcode = ACM_OP_RESOLVE, .status = 0,
				   .data = { 1, 2, 3 }, .length = 88,
				   .tid = 0 };
	size_t len;

	memcpy(&req.tid, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	memset(&p, 0, sizeof(p));
	memcpy(p.dgid.raw, dgid_raw, 16);
	p.dlid = htobe16(0x14);
	memset(b, 0xee, sizeof(b));
	len = acm_msg_resolve_reply_encode(b, &req, &p, IBV_PATH_FLAG_GMP | IBV_PATH_FLAG_PRIMARY |
					   IBV_PATH_FLAG_BIDIRECTIONAL);
	CHECK_INT(88, len);
	if (LE) {
		static const uint8_t expect[24] = {
			0x01, 0x81, 0x00, 0x00, 0x00, 0x00, 0x58, 0x00,	/* ACK, data zeroed */
			0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,	/* tid echoed */
			0x2b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,	/* GMP|PRI|BIDIR, PATH */
		};
		CHECK_MEM(expect, b, sizeof(expect));
	}
	CHECK_MEM(&p, b + 24, 64);
	CHECK_INT(0xee, b[88]);	/* nothing past the reply */

	/* libacm's check: recv length == hdr.length, then entry 0 is the path */
	{
		struct acm_msg m;

		memcpy(&m, b, len);
		CHECK_INT(len, m.hdr.length);
		CHECK_INT(ACM_EP_INFO_PATH, m.resolve_data[0].type);
		CHECK_INT(20, be16toh(m.resolve_data[0].info.path.dlid));
	}
}

static void test_error_reply(void)
{
	uint8_t b[ACM_MSG_MAX_LEN];
	struct acm_msg_hdr req;

	memset(&req, 0, sizeof(req));
	req.version = 7;	/* replies always carry ACM_VERSION */
	req.opcode = ACM_OP_RESOLVE;
	req.data[0] = 9;
	req.length = 88;
	memset(b, 0xee, sizeof(b));
	CHECK_INT(16, acm_msg_error_encode(b, &req, ACM_STATUS_EDESTADDR));
	if (LE) {
		static const uint8_t expect[16] = { 0x01, 0x81, 0x09, 0, 0, 0, 0x10, 0x00 };

		CHECK_MEM(expect, b, 16);
	}
	CHECK_INT(0xee, b[16]);

	req.opcode = ACM_OP_EP_QUERY;	/* big-endian length */
	CHECK_INT(16, acm_msg_error_encode(b, &req, ACM_STATUS_EINVAL));
	{
		static const uint8_t expect[16] = { 0x01, 0x83, 0x02, 0, 0, 0, 0x00, 0x10 };

		CHECK_MEM(expect, b, 16);
	}
	req.opcode = 0x07;	/* unknown opcodes are answered big-endian, like ibacm reads them */
	acm_msg_error_encode(b, &req, ACM_STATUS_EINVAL);
	CHECK_INT(0x87, b[1]);
	CHECK_INT(0x10, b[7]);
}

static void test_perf(void)
{
	static const uint8_t req_bytes[16] = { 0x01, 0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0x10,
					       0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0 };
	const uint64_t cnt[ACM_MAX_COUNTER] = { 1, 2, 3, 0, 0, 0x0102030405060708ULL, 7 };
	uint8_t b[ACM_MSG_MAX_LEN], q[ACM_MSG_MAX_LEN];
	struct acm_msg_hdr h;
	struct acm_msg_perf pq;
	size_t len;

	/* ib_acm_query_perf(3): src_index = 3, length htons(16) */
	CHECK_INT(16, acm_msg_frame(req_bytes, 16, &h));
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_perf_decode(req_bytes, 16, &pq));
	CHECK_INT(3, pq.index);
	CHECK(!pq.has_ep);

	len = acm_msg_perf_reply_encode(b, &h, cnt, ACM_MAX_COUNTER);
	CHECK_INT(16 + 8 * 7, len);
	{
		static const uint8_t expect[16] = { 0x01, 0x82, 0x00, 0x07, 0x03, 0x00, 0x00, 0x48,
						    0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0 };
		static const uint8_t c5[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

		CHECK_MEM(expect, b, 16);
		CHECK_INT(1, b[16 + 7]);
		CHECK_MEM(c5, b + 16 + 5 * 8, 8);
	}
	/* what libacm reads */
	{
		struct acm_msg m;

		memcpy(&m, b, len);
		CHECK_INT(len, be16toh(m.hdr.length));
		CHECK_INT(7, m.hdr.src_out);
		CHECK_INT(7, be64toh(m.perf_data[6]));
	}

	/* ib_acm_query_perf_ep_addr: one host-order source entry, BE length 88 */
	memset(q, 0, sizeof(q));
	q[0] = 1;
	q[1] = ACM_OP_PERF_QUERY;
	q[7] = 88;
	set_ep(q, 0, ACM_EP_FLAG_SOURCE, ACM_MSG_EP_GID, sgid_raw, 16);
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_perf_decode(q, 88, &pq));
	CHECK(pq.has_ep);
	CHECK_INT(ACM_EP_FLAG_SOURCE, pq.ep.flags);
	CHECK_INT(ACM_MSG_EP_GID, pq.ep.type);
	CHECK_INT(ACM_STATUS_EINVAL, acm_msg_perf_decode(q, 16, &pq));	/* length mismatch */
}

static void test_ep_query(void)
{
	static const uint8_t req_bytes[16] = { 0x01, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00, 0x10 };
	uint8_t b[ACM_MSG_MAX_LEN];
	struct acm_msg_ep_query eq;
	struct acm_msg_ep_desc d;
	struct acm_msg_hdr h;
	size_t len;

	/* ib_acm_enum_ep(1, .., port 2): src_out = index, src_index = port */
	CHECK_INT(16, acm_msg_frame(req_bytes, 16, &h));
	CHECK_INT(ACM_STATUS_SUCCESS, acm_msg_ep_query_decode(req_bytes, 16, &eq));
	CHECK_INT(1, eq.index);
	CHECK_INT(2, eq.port);

	memset(&d, 0, sizeof(d));
	d.dev_guid = 0x0002c90300001234ULL;
	d.port_num = 2;
	d.phys_port_cnt = 2;
	d.pkey = 0xffff;
	strcpy(d.prov_name, "localsa");
	strcpy(d.addrs[0], "fe80::2:c903:0:1235");
	strcpy(d.addrs[1], "lid 9");
	d.n_addrs = 2;
	memset(b, 0xee, sizeof(b));
	len = acm_msg_ep_reply_encode(b, &h, &d);
	CHECK_INT(16 + 80 + 128, len);
	{
		static const uint8_t expect[32] = {
			0x01, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0,	/* index kept, port zeroed */
			0, 0, 0, 0, 0, 0, 0, 0,
			0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x12, 0x34,	/* dev_guid BE */
			0x02, 0x02, 0x00, 0x00, 0xff, 0xff, 0x00, 0x02,	/* port, cnt, pkey, 2 addrs */
		};
		CHECK_MEM(expect, b, sizeof(expect));
		CHECK_STR("localsa", (char *)b + 32);
		CHECK_INT(0, b[32 + 63]);
		CHECK_STR("fe80::2:c903:0:1235", (char *)b + 96);
		CHECK_STR("lid 9", (char *)b + 160);
		CHECK_INT(0, b[160 + 63]);
		CHECK_INT(0xee, b[224]);
	}
	/* a name that fills the field keeps its terminating NUL */
	memset(d.prov_name, 'x', sizeof(d.prov_name));
	d.n_addrs = 9;	/* clamped to what fits */
	len = acm_msg_ep_reply_encode(b, &h, &d);
	CHECK_INT(16 + 80 + 7 * 64, len);
	CHECK_INT('x', b[32 + 62]);
	CHECK_INT(0, b[32 + 63]);
}

/* --- path mask ---------------------------------------------------------------- */

static void test_path_mask(void)
{
	struct ibv_path_record p;

	memset(&p, 0, sizeof(p));
	CHECK_INT(0, acm_msg_path_mask(&p));
	memcpy(p.dgid.raw, dgid_raw, 16);
	p.reversible_numpath = 0x81;
	CHECK_INT(PR_CM_DGID | PR_CM_REVERSIBLE, acm_msg_path_mask(&p));
	pr_set_slid(&p, 2);
	pr_set_pkey(&p, 0xffff);
	pr_set_sl(&p, 3);
	pr_set_mtu(&p, 2, 4);
	pr_set_rate(&p, 0, 3);		/* selector 0 is "greater than": no selector bit */
	pr_set_pkt_life(&p, 2, 0);
	pr_set_service_id(&p, 0x1000);
	CHECK_INT(PR_CM_DGID | PR_CM_REVERSIBLE | PR_CM_SLID | PR_CM_PKEY | PR_CM_SL |
		  PR_CM_MTU_SELECTOR | PR_CM_MTU | PR_CM_RATE | PR_CM_PKT_LIFE_SELECTOR |
		  PR_CM_SERVICE_ID, acm_msg_path_mask(&p));
	CHECK_INT((uint32_t)ACM_FLAGS_NODELAY, ACM_MSG_FLAG_NODELAY);
	CHECK_STR("EDESTTYPE", acm_msg_status_str(ACM_STATUS_EDESTTYPE));
	CHECK_STR("UNKNOWN", acm_msg_status_str(4));
	CHECK_STR("UNKNOWN", acm_msg_status_str(200));
}

int main(void)
{
	test_libacm_path_request();
	test_frame();
	test_resolve_path_form();
	test_resolve_lengths();
	test_resolve_address_form();
	test_resolve_reply();
	test_error_reply();
	test_perf();
	test_ep_query();
	test_path_mask();
	return CHECK_DONE();
}
