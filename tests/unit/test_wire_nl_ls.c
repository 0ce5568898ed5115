/*
 * test_wire_nl_ls.c - the RDMA netlink local-service codec against messages written byte by byte
 * as the kernel's sa_query.c builds them (ib_nl_make_request(), ib_nl_set_path_rec_attrs()) and
 * as ibacm answers them, a table of malformed requests, and the door's answers judged by the
 * kernel's own rules (ib_nl_is_good_resolve_resp(), ib_nl_process_good_resolve_rsp()) in both
 * generations. Netlink is host order: the vectors are written for little-endian hosts.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "wire/nl_ls.h"
#include "wire/path_rec.h"

#define LE (__BYTE_ORDER == __LITTLE_ENDIAN)

static const uint8_t dgid_raw[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
				      0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x1a, 0x2b };
static const uint8_t sgid_raw[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
				      0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x00, 0x01 };

/*
 * The RESOLVE a 6.1 kernel sends for an rdma_cm route over IPv4 with every attribute the
 * family knows: seq 7, device mlx5_0 port 1, path_use ALL, ServiceID 0x0106000000001234,
 * DGID, SGID, TClass 0x20, PKey 0xffff, QoS class 5.
 */
static const uint8_t kernel_resolve[160] = {
	/* nlmsghdr: len 160, type RDMA_NL_LS << 10 | RESOLVE, NLM_F_REQUEST, seq 7, pid 0 */
	0xa0, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* rdma_ls_resolve_header: device_name[64] */
	'm', 'l', 'x', '5', '_', '0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* port_num 1, path_use ALL, NLMSG_ALIGN padding */
	0x01, 0x00, 0x00, 0x00,
	/* SERVICE_ID | MANDATORY, u64 cpu order */
	0x0c, 0x00, 0x03, 0x20, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x06, 0x01,
	/* DGID | MANDATORY */
	0x14, 0x00, 0x04, 0x20, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x1a, 0x2b,
	/* SGID | MANDATORY */
	0x14, 0x00, 0x05, 0x20, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x00, 0x01,
	/* TCLASS | MANDATORY, u8, 3 bytes padding */
	0x05, 0x00, 0x06, 0x20, 0x20, 0x00, 0x00, 0x00,
	/* PKEY | MANDATORY, u16 cpu order */
	0x06, 0x00, 0x07, 0x20, 0xff, 0xff, 0x00, 0x00,
	/* QOS_CLASS | MANDATORY, u16 cpu order */
	0x06, 0x00, 0x08, 0x20, 0x05, 0x00, 0x00, 0x00,
};

/* What IPoIB sends: SGID, DGID, TClass 0, PKey, not reversible (UNIDIRECTIONAL); seq 1, port 2. */
static const uint8_t ipoib_resolve[140] = {
	0x8c, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	'i', 'b', 's', 'i', 'm', '0', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x02, 0x01, 0xa5, 0xa5,	/* the kernel leaves the 2 padding bytes uninitialised */
	0x14, 0x00, 0x04, 0x20, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x1a, 0x2b,
	0x14, 0x00, 0x05, 0x20, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x00, 0x01,
	0x05, 0x00, 0x06, 0x20, 0x00, 0x00, 0x00, 0x00,
	0x06, 0x00, 0x07, 0x20, 0x01, 0x80, 0x00, 0x00,
};

static struct ibv_path_record test_record(uint16_t dlid, uint8_t sl)
{
	struct ibv_path_record r;

	memset(&r, 0, sizeof(r));
	memcpy(r.dgid.raw, dgid_raw, 16);
	memcpy(r.sgid.raw, sgid_raw, 16);
	pr_set_dlid(&r, dlid);
	pr_set_slid(&r, 1);
	pr_set_numb_path(&r, 1, true);
	pr_set_pkey(&r, 0xffff);
	pr_set_sl(&r, sl);
	pr_set_mtu(&r, 2, 4);
	pr_set_rate(&r, 2, 3);
	pr_set_pkt_life(&r, 2, 18);
	return r;
}

/* --- decoding the kernel's requests ----------------------------------------- */

static void test_decode_kernel_request(void)
{
	struct nl_ls_resolve r;
	struct nlmsghdr h;

	if (!LE)
		return;
	CHECK_INT(160, nl_ls_frame(kernel_resolve, sizeof(kernel_resolve), &h));
	CHECK_INT(160, h.nlmsg_len);
	CHECK_INT(0x1000, h.nlmsg_type);
	CHECK_INT(NLM_F_REQUEST, h.nlmsg_flags);
	CHECK_INT(7, h.nlmsg_seq);
	CHECK_INT(0, h.nlmsg_pid);
	CHECK_INT(NL_LS_RESOLVE, nl_ls_classify(&h));

	memset(&r, 0xee, sizeof(r));
	CHECK_INT(0, nl_ls_resolve_decode(kernel_resolve, sizeof(kernel_resolve), &r));
	CHECK_INT(7, r.seq);
	CHECK_STR("mlx5_0", r.device_name);
	CHECK_INT(1, r.port_num);
	CHECK_INT(LS_RESOLVE_PATH_USE_ALL, r.path_use);
	CHECK_INT(NL_LS_HAS_SERVICE_ID | NL_LS_HAS_DGID | NL_LS_HAS_SGID | NL_LS_HAS_TCLASS |
		  NL_LS_HAS_PKEY | NL_LS_HAS_QOS_CLASS, r.has);
	CHECK_INT(0x0106000000001234ULL, r.service_id);
	CHECK_MEM(dgid_raw, r.dgid.raw, 16);
	CHECK_MEM(sgid_raw, r.sgid.raw, 16);
	CHECK_INT(0x20, r.tclass);
	CHECK_INT(0xffff, r.pkey);
	CHECK_INT(5, r.qos_class);

	/* IPoIB's: fewer attributes, unidirectional, garbage in the alignment bytes */
	CHECK_INT(0, nl_ls_resolve_decode(ipoib_resolve, sizeof(ipoib_resolve), &r));
	CHECK_INT(1, r.seq);
	CHECK_STR("ibsim0", r.device_name);
	CHECK_INT(2, r.port_num);
	CHECK_INT(LS_RESOLVE_PATH_USE_UNIDIRECTIONAL, r.path_use);
	CHECK_INT(NL_LS_HAS_DGID | NL_LS_HAS_SGID | NL_LS_HAS_TCLASS | NL_LS_HAS_PKEY, r.has);
	CHECK_INT(0, r.tclass);
	CHECK_INT(0x8001, r.pkey);
	CHECK_INT(0, r.service_id);
	CHECK_INT(0, r.qos_class);
}

static void test_to_query(void)
{
	struct ibv_path_record q;
	struct nl_ls_resolve r;
	uint64_t mask;

	if (!LE)
		return;
	CHECK_INT(0, nl_ls_resolve_decode(kernel_resolve, sizeof(kernel_resolve), &r));
	nl_ls_resolve_to_query(&r, &q, &mask);
	CHECK_INT(PR_CM_SERVICE_ID | PR_CM_DGID | PR_CM_SGID | PR_CM_TCLASS | PR_CM_PKEY |
		  PR_CM_QOS_CLASS | PR_CM_REVERSIBLE, mask);
	CHECK_INT(0x0106000000001234ULL, pr_service_id(&q));
	CHECK_MEM(dgid_raw, q.dgid.raw, 16);
	CHECK_MEM(sgid_raw, q.sgid.raw, 16);
	CHECK_INT(0x20, pr_tclass(&q));
	CHECK_INT(0xffff, pr_pkey(&q));
	CHECK_INT(5, pr_qos_class(&q));
	CHECK_INT(0, pr_sl(&q));
	CHECK(pr_reversible(&q));

	/* only what was given: IPoIB's has no ServiceID, QoS class, nor Reversible */
	CHECK_INT(0, nl_ls_resolve_decode(ipoib_resolve, sizeof(ipoib_resolve), &r));
	nl_ls_resolve_to_query(&r, &q, &mask);
	CHECK_INT(PR_CM_DGID | PR_CM_SGID | PR_CM_TCLASS | PR_CM_PKEY, mask);
	CHECK_INT(0x8001, pr_pkey(&q));
	CHECK(!pr_reversible(&q));
	CHECK_INT(0, pr_service_id(&q));

	/* a DGID alone */
	memset(&r, 0, sizeof(r));
	r.has = NL_LS_HAS_DGID;
	r.path_use = LS_RESOLVE_PATH_USE_GMP;
	memcpy(r.dgid.raw, dgid_raw, 16);
	nl_ls_resolve_to_query(&r, &q, &mask);
	CHECK_INT(PR_CM_DGID | PR_CM_REVERSIBLE, mask);
}

/* --- framing and classification ---------------------------------------------- */

static void put_hdr(uint8_t *p, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr h = { len, type, flags, seq, 0 };

	memcpy(p, &h, sizeof(h));
}

static void test_frame_and_classify(void)
{
	uint8_t b[256];
	struct nlmsghdr h;

	memset(b, 0, sizeof(b));
	memset(&h, 0xee, sizeof(h));
	CHECK_INT(-EBADMSG, nl_ls_frame(b, 15, &h));
	CHECK_INT(-EBADMSG, nl_ls_frame(b, 16, &h));	/* nlmsg_len 0 */
	CHECK_INT(0xeeeeeeee, h.nlmsg_len);		/* untouched on failure */
	put_hdr(b, 15, 0x1000, NLM_F_REQUEST, 1);
	CHECK_INT(-EBADMSG, nl_ls_frame(b, 64, &h));

	/* two messages in one datagram: the step is the aligned length */
	put_hdr(b, 21, 0x1000, NLM_F_REQUEST, 1);
	put_hdr(b + 24, 16, 0x1000, NLM_F_REQUEST, 2);
	CHECK_INT(24, nl_ls_frame(b, 40, &h));
	CHECK_INT(21, h.nlmsg_len);
	CHECK_INT(16, nl_ls_frame(b + 24, 16, &h));
	CHECK_INT(2, h.nlmsg_seq);
	/* a message longer than what arrived: its header still frames (to be answered) */
	put_hdr(b, 160, 0x1000, NLM_F_REQUEST, 3);
	CHECK_INT(100, nl_ls_frame(b, 100, &h));
	CHECK_INT(160, h.nlmsg_len);
	put_hdr(b, 0xffffffff, 0x1000, NLM_F_REQUEST, 3);
	CHECK_INT(64, nl_ls_frame(b, 64, &h));

	struct {
		uint16_t type, flags;
		enum nl_ls_class want;
	} cls[] = {
		{ 0x1000, NLM_F_REQUEST, NL_LS_RESOLVE },
		{ 0x1000, NLM_F_REQUEST | NLM_F_ACK, NL_LS_RESOLVE },
		{ 0x1000, 0, NL_LS_IGNORE },			/* an answer: another responder's */
		{ 0x1000, RDMA_NL_LS_F_ERR, NL_LS_IGNORE },	/* an error reply */
		{ 0x1001, NLM_F_REQUEST, NL_LS_IGNORE },	/* SET_TIMEOUT: only responders send it */
		{ 0x1002, NLM_F_REQUEST, NL_LS_REFUSE },	/* IP_RESOLVE */
		{ 0x1003, NLM_F_REQUEST, NL_LS_REFUSE },	/* an op this kernel does not know */
		{ 0x13ff, NLM_F_REQUEST, NL_LS_REFUSE },
		{ NLMSG_ERROR, 0, NL_LS_IGNORE },		/* the kernel's ack */
		{ NLMSG_DONE, NLM_F_REQUEST, NL_LS_IGNORE },
		{ RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, 1), NLM_F_REQUEST, NL_LS_IGNORE },
		{ RDMA_NL_GET_TYPE(RDMA_NL_IWCM, 0), NLM_F_REQUEST, NL_LS_IGNORE },
	};
	for (size_t i = 0; i < sizeof(cls) / sizeof(cls[0]); i++) {
		struct nlmsghdr c = { 16, cls[i].type, cls[i].flags, 1, 0 };

		CHECK_INT(cls[i].want, nl_ls_classify(&c));
	}
}

/* --- the malformed table ---------------------------------------------------- */

/* A copy of kernel_resolve to damage. */
static size_t base(uint8_t *b, size_t cap)
{
	memset(b, 0, cap);
	memcpy(b, kernel_resolve, sizeof(kernel_resolve));
	return sizeof(kernel_resolve);
}

static void set_len(uint8_t *b, uint32_t len)
{
	memcpy(b, &len, sizeof(len));
}

static void set16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

/* Offsets of kernel_resolve's attributes. */
enum { A_SID = 84, A_DGID = 96, A_SGID = 116, A_TCLASS = 136, A_PKEY = 144, A_QOS = 152 };

static void test_malformed(void)
{
	uint8_t b[NL_LS_MSG_MAX + 64];
	struct nl_ls_resolve r, untouched;
	size_t n;

	if (!LE)
		return;
	memset(&untouched, 0x5a, sizeof(untouched));
#define BAD(want, len)                                                                   \
	do {                                                                             \
		r = untouched;                                                           \
		CHECK_INT(want, nl_ls_resolve_decode(b, len, &r));                        \
		CHECK_MEM(&untouched, &r, sizeof(r));                                     \
	} while (0)

	/* truncated: fewer bytes than the header, than nlmsg_len, than the family header */
	n = base(b, sizeof(b));
	BAD(-EBADMSG, 0);
	BAD(-EBADMSG, 15);
	BAD(-EBADMSG, 100);
	BAD(-EBADMSG, n - 4);
	set_len(b, 16 + 60);
	BAD(-EBADMSG, n);
	set_len(b, 16);
	BAD(-EBADMSG, n);
	/* nlmsg_len below the header, not a multiple of 4, over the cap */
	set_len(b, 12);
	BAD(-EBADMSG, n);
	set_len(b, 0);
	BAD(-EBADMSG, n);
	set_len(b, 161);
	BAD(-EBADMSG, n + 4);
	set_len(b, 158);
	BAD(-EBADMSG, n);
	set_len(b, NL_LS_MSG_MAX + 4);
	BAD(-EMSGSIZE, sizeof(b));
	set_len(b, 0xfffffffc);
	BAD(-EBADMSG, sizeof(b));

	/* wrong op or client, or not a request */
	n = base(b, sizeof(b));
	set16(b, 4, 0x1001);
	BAD(-EOPNOTSUPP, n);
	set16(b, 4, 0x1002);
	BAD(-EOPNOTSUPP, n);
	set16(b, 4, 0x0c00);
	BAD(-EOPNOTSUPP, n);
	set16(b, 4, NLMSG_ERROR);
	BAD(-EOPNOTSUPP, n);
	n = base(b, sizeof(b));
	set16(b, 6, 0);
	BAD(-EBADMSG, n);
	set16(b, 6, RDMA_NL_LS_F_ERR);
	BAD(-EBADMSG, n);

	/* the family header alone, or a device name without its NUL */
	n = base(b, sizeof(b));
	set_len(b, 84);
	BAD(-EDESTADDRREQ, n);
	n = base(b, sizeof(b));
	memset(b + 16, 'a', 64);
	BAD(-EINVAL, n);

	/* wrong nla_len: shorter than its header, past the message, the wrong size for its type */
	n = base(b, sizeof(b));
	set16(b, A_SID, 3);
	BAD(-EBADMSG, n);
	n = base(b, sizeof(b));
	set16(b, A_SID, 0);
	BAD(-EBADMSG, n);
	n = base(b, sizeof(b));
	set16(b, A_QOS, 9);
	BAD(-EBADMSG, n);	/* padded to 12, past the end */
	n = base(b, sizeof(b));
	set16(b, A_PKEY, 200);
	BAD(-EBADMSG, n);
	n = base(b, sizeof(b));
	set16(b, A_PKEY, 8);	/* a u32 where a u16 belongs; the QoS class goes with it */
	BAD(-EINVAL, n);
	n = base(b, sizeof(b));
	set16(b, A_DGID, 19);	/* 15 GID bytes, padded back to 20 */
	BAD(-EINVAL, n);
	n = base(b, sizeof(b));
	set16(b, A_TCLASS, 8);	/* 4 bytes of TClass */
	BAD(-EINVAL, n);
	n = base(b, sizeof(b));
	set16(b, A_SID, 8);	/* a 4-byte ServiceID */
	BAD(-EINVAL, n);

	/* misaligned: TClass's padding left out, the PKey attribute written right behind it */
	n = base(b, sizeof(b));
	memmove(b + A_TCLASS + 5, b + A_PKEY, 16);
	set_len(b, 160 - 4);	/* the last 3 bytes of the QoS padding make 156 a multiple of 4 */
	BAD(-EBADMSG, 156);

	/* attribute leftovers: 4 bytes of zero where the next attribute should be */
	n = base(b, sizeof(b));
	set_len(b, 164);
	BAD(-EBADMSG, 164);

	/* an unknown attribute flagged mandatory; a known one the kernel would not send, too */
	n = base(b, sizeof(b));
	set16(b, A_QOS + 2, RDMA_NLA_F_MANDATORY | 0x50);
	BAD(-EPROTO, n);
	n = base(b, sizeof(b));
	set16(b, A_QOS + 2, RDMA_NLA_F_MANDATORY | LS_NLA_TYPE_IPV4);
	set16(b, A_QOS, 8);
	BAD(-EPROTO, n);
	n = base(b, sizeof(b));
	set16(b, A_QOS + 2, RDMA_NLA_F_MANDATORY | LS_NLA_TYPE_UNSPEC);
	BAD(-EPROTO, n);
	/* without the flag the same attribute is skipped, and the request is served */
	n = base(b, sizeof(b));
	set16(b, A_QOS + 2, 0x50);
	CHECK_INT(0, nl_ls_resolve_decode(b, n, &r));
	CHECK(!(r.has & NL_LS_HAS_QOS_CLASS));
	/* so is a known type without the flag (an older kernel's, say) */
	n = base(b, sizeof(b));
	set16(b, A_PKEY + 2, LS_NLA_TYPE_PKEY);
	CHECK_INT(0, nl_ls_resolve_decode(b, n, &r));
	CHECK_INT(0xffff, r.pkey);

	/* duplicate attributes: the PKey written as a second QoS class, a second DGID */
	n = base(b, sizeof(b));
	set16(b, A_PKEY + 2, RDMA_NLA_F_MANDATORY | LS_NLA_TYPE_QOS_CLASS);
	BAD(-EEXIST, n);
	n = base(b, sizeof(b));
	memcpy(b + A_SGID + 2, b + A_DGID + 2, 2);
	BAD(-EEXIST, n);

	/* a QoS class wider than the 12-bit field */
	n = base(b, sizeof(b));
	set16(b, A_QOS + 4, 0x1000);
	BAD(-EINVAL, n);

	/* no DGID: the SGID alone names nothing to resolve */
	n = base(b, sizeof(b));
	set16(b, A_DGID + 2, 0x50);
	BAD(-EDESTADDRREQ, n);

	/* oversized: a big datagram of skippable attributes is served up to the cap */
	n = base(b, sizeof(b));
	for (size_t off = 160; off < NL_LS_MSG_MAX; off += 8) {
		set16(b, off, 8);
		set16(b, off + 2, 0x51);
	}
	set_len(b, NL_LS_MSG_MAX);
	CHECK_INT(0, nl_ls_resolve_decode(b, NL_LS_MSG_MAX, &r));
	set_len(b, NL_LS_MSG_MAX + 8);
	BAD(-EMSGSIZE, sizeof(b));
#undef BAD
}

/* --- the answers --------------------------------------------------------------- */

static void test_path_flags(void)
{
	CHECK_INT(IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL,
		  nl_ls_path_flags(LS_RESOLVE_PATH_USE_ALL, true));
	CHECK_INT(IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL,
		  nl_ls_path_flags(LS_RESOLVE_PATH_USE_GMP, true));
	CHECK_INT(IB_PATH_PRIMARY | IB_PATH_OUTBOUND,
		  nl_ls_path_flags(LS_RESOLVE_PATH_USE_UNIDIRECTIONAL, true));
	CHECK_INT(IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL, nl_ls_path_flags(9, true));
	CHECK_INT(IB_PATH_ALTERNATE | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL,
		  nl_ls_path_flags(LS_RESOLVE_PATH_USE_ALL, false));
	CHECK_INT(IB_PATH_ALTERNATE | IB_PATH_OUTBOUND,
		  nl_ls_path_flags(LS_RESOLVE_PATH_USE_UNIDIRECTIONAL, false));
	CHECK_INT(0x2b, nl_ls_path_flags(LS_RESOLVE_PATH_USE_GMP, true));	/* as ibacm sends */
}

static void test_answer_bytes(void)
{
	struct ibv_path_record rec = test_record(17, 2);
	struct nlmsghdr req = { 160, 0x1000, NLM_F_REQUEST, 7, 0 };
	uint8_t b[NL_LS_ANSWER_MAX], want[92];

	if (!LE)
		return;
	/* as ibacm's acm_nl_send() builds it: header, one attribute, flags, reserved, record */
	memset(want, 0, sizeof(want));
	memcpy(want, (const uint8_t[]){ 0x5c, 0, 0, 0, 0x00, 0x10, 0x00, 0x00, 7, 0, 0, 0,
					0x34, 0x12, 0, 0, 0x4c, 0x00, 0x01, 0x00,
					0x2b, 0, 0, 0, 0, 0, 0, 0 }, 28);
	pr_encode(want + 28, &rec);
	CHECK_INT(92, nl_ls_answer_encode(b, sizeof(b), &req, LS_RESOLVE_PATH_USE_ALL, &rec, 1, 0x1234));
	CHECK_MEM(want, b, sizeof(want));

	/* unidirectional: PRIMARY | OUTBOUND */
	CHECK_INT(92, nl_ls_answer_encode(b, sizeof(b), &req, LS_RESOLVE_PATH_USE_UNIDIRECTIONAL,
					  &rec, 1, 0x1234));
	CHECK_INT(0x0a, b[20]);

	/* the error reply: the header alone, same type and seq, RDMA_NL_LS_F_ERR */
	static const uint8_t err[16] = { 0x10, 0, 0, 0, 0x00, 0x10, 0x00, 0x01, 7, 0, 0, 0,
					 0x34, 0x12, 0, 0 };
	memset(b, 0xee, sizeof(b));
	CHECK_INT(16, nl_ls_error_encode(b, sizeof(b), &req, 0x1234));
	CHECK_MEM(err, b, sizeof(err));
	/* for IP_RESOLVE, its own type */
	req.nlmsg_type = 0x1002;
	CHECK_INT(16, nl_ls_error_encode(b, 16, &req, 0x1234));
	CHECK_INT(0x02, b[4]);
	CHECK_INT(-EMSGSIZE, nl_ls_error_encode(b, 15, &req, 0x1234));
	req.nlmsg_type = 0x1000;

	/* SET_TIMEOUT: a request, the bare TIMEOUT type, u32 cpu order */
	static const uint8_t st[24] = { 0x18, 0, 0, 0, 0x01, 0x10, 0x01, 0x00, 9, 0, 0, 0,
					0x34, 0x12, 0, 0, 0x08, 0x00, 0x02, 0x00, 0x88, 0x13, 0, 0 };
	CHECK_INT(24, nl_ls_set_timeout_encode(b, sizeof(b), 9, 0x1234, 5000, false));
	CHECK_MEM(st, b, sizeof(st));
	CHECK_INT(24, nl_ls_set_timeout_encode(b, sizeof(b), 9, 0x1234, 5000, true));
	CHECK_INT(NLM_F_REQUEST | NLM_F_ACK, b[6]);
	CHECK_INT(-EMSGSIZE, nl_ls_set_timeout_encode(b, 23, 9, 0x1234, 5000, false));

	/* several paths (LMC): the primary first, then alternates */
	struct ibv_path_record three[3] = { test_record(17, 2), test_record(18, 2), test_record(19, 2) };
	uint32_t f;

	CHECK_INT(16 + 3 * 76, nl_ls_answer_encode(b, sizeof(b), &req, LS_RESOLVE_PATH_USE_ALL,
						   three, 3, 1));
	memcpy(&f, b + 16 + 4, 4);
	CHECK_INT(IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL, f);
	memcpy(&f, b + 16 + 76 + 4, 4);
	CHECK_INT(IB_PATH_ALTERNATE | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL, f);
	{
		struct ibv_path_record third;

		CHECK_INT(0, pr_decode(b + 16 + 2 * 76 + 4 + 8, PR_LEN, &third));
		CHECK_INT(19, pr_dlid(&third));
	}

	CHECK_INT(-EINVAL, nl_ls_answer_encode(b, sizeof(b), &req, 0, three, 0, 1));
	CHECK_INT(-EINVAL, nl_ls_answer_encode(b, sizeof(b), &req, 0, three, NL_LS_MAX_PATHS + 1, 1));
	CHECK_INT(-EMSGSIZE, nl_ls_answer_encode(b, 16 + 3 * 76 - 1, &req, 0, three, 3, 1));
}

/* --- the kernel's side: requests it builds ------------------------------------- */

static void test_kernel_request(void)
{
	uint8_t b[NL_LS_RESOLVE_MAX + 8];
	struct nl_ls_resolve r, back;

	memset(&r, 0, sizeof(r));
	r.seq = 7;
	strcpy(r.device_name, "mlx5_0");
	r.port_num = 1;
	r.path_use = nl_ls_kernel_path_use(NL_LS_KERNEL_MULTI, true);
	r.has = NL_LS_HAS_SERVICE_ID | NL_LS_HAS_DGID | NL_LS_HAS_SGID | NL_LS_HAS_TCLASS |
		NL_LS_HAS_PKEY | NL_LS_HAS_QOS_CLASS;
	r.service_id = 0x0106000000001234ULL;
	memcpy(r.dgid.raw, dgid_raw, 16);
	memcpy(r.sgid.raw, sgid_raw, 16);
	r.tclass = 0x20;
	r.pkey = 0xffff;
	r.qos_class = 5;
	memset(b, 0xee, sizeof(b));
	CHECK_INT(160, nl_ls_resolve_encode(b, sizeof(b), &r));
	if (LE)
		CHECK_MEM(kernel_resolve, b, sizeof(kernel_resolve));
	CHECK_INT(0, nl_ls_resolve_decode(b, 160, &back));
	CHECK_MEM(&r, &back, sizeof(r));
	CHECK_INT(-EMSGSIZE, nl_ls_resolve_encode(b, 159, &r));

	/* path_use: reversible queries are ALL on 6.1+, GMP before; others UNIDIRECTIONAL */
	CHECK_INT(LS_RESOLVE_PATH_USE_ALL, nl_ls_kernel_path_use(NL_LS_KERNEL_MULTI, true));
	CHECK_INT(LS_RESOLVE_PATH_USE_GMP, nl_ls_kernel_path_use(NL_LS_KERNEL_LEGACY, true));
	CHECK_INT(LS_RESOLVE_PATH_USE_UNIDIRECTIONAL, nl_ls_kernel_path_use(NL_LS_KERNEL_MULTI, false));

	/* no attribute: the kernel sends nothing (WARN_ON, -EMSGSIZE) */
	r.has = 0;
	CHECK_INT(-EMSGSIZE, nl_ls_resolve_encode(b, sizeof(b), &r));

	/* a DGID alone; a name of 64 characters is cut to 63 and a NUL (strscpy_pad) */
	r.has = NL_LS_HAS_DGID;
	memset(r.device_name, 'x', sizeof(r.device_name));
	CHECK_INT(16 + 68 + 20, nl_ls_resolve_encode(b, sizeof(b), &r));
	CHECK_INT('x', b[16 + 62]);
	CHECK_INT(0, b[16 + 63]);
	CHECK_INT(0, nl_ls_resolve_decode(b, 104, &back));
	CHECK_INT(63, strlen(back.device_name));
}

/* --- the kernel's side: judging answers ---------------------------------------- */

static int judge(const uint8_t *b, int len, uint8_t use, enum nl_ls_kernel gen,
		 struct nl_ls_taken *t)
{
	return len < 0 ? len : nl_ls_answer_judge(b, (size_t)len, use, gen, t);
}

/* A raw answer: n PATH_RECORD attributes of type type, flags[i], payload size rec_len. */
static int raw_answer(uint8_t *b, const uint32_t *flags, const struct ibv_path_record *recs,
		      unsigned n, uint16_t type, size_t rec_len)
{
	size_t off = 16;

	for (unsigned i = 0; i < n; i++) {
		uint16_t alen = (uint16_t)(4 + rec_len);

		memset(b + off, 0, NLA_ALIGN(alen));
		memcpy(b + off, &alen, 2);
		memcpy(b + off + 2, &type, 2);
		memcpy(b + off + 4, &flags[i], 4);
		if (rec_len >= 72)
			pr_encode(b + off + 12, &recs[i]);
		off += NLA_ALIGN(alen);
	}
	put_hdr(b, (uint32_t)off, 0x1000, 0, 7);
	return (int)off;
}

static void test_kernel_judges_answers(void)
{
	const uint32_t gmp = IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL;
	const uint32_t uni = IB_PATH_PRIMARY | IB_PATH_OUTBOUND;
	struct ibv_path_record recs[3] = { test_record(17, 2), test_record(18, 3), test_record(19, 4) };
	struct nlmsghdr req = { 160, 0x1000, NLM_F_REQUEST, 7, 0 };
	uint8_t b[NL_LS_ANSWER_MAX];
	struct nl_ls_taken t;
	int n;

	/* the door's answers are taken by both generations, for every path_use */
	for (uint8_t use = 0; use < LS_RESOLVE_PATH_USE_MAX; use++) {
		n = nl_ls_answer_encode(b, sizeof(b), &req, use, recs, 3, 1);
		memset(&t, 0, sizeof(t));
		CHECK_INT(0, judge(b, n, use, NL_LS_KERNEL_MULTI, &t));
		CHECK_INT(1, t.n);	/* the alternates lack PRIMARY */
		CHECK_INT(0, t.chosen);
		CHECK_MEM(&recs[0], &t.recs[t.chosen], sizeof(recs[0]));
		CHECK_INT(0, judge(b, n, use, NL_LS_KERNEL_LEGACY, &t));
		CHECK_MEM(&recs[0], &t.recs[t.chosen], sizeof(recs[0]));
	}

	/* why alternates: three PRIMARY|GMP records make a 6.1 kernel's rdma_cm use the third */
	uint32_t all_gmp[3] = { gmp, gmp, gmp };
	n = raw_answer(b, all_gmp, recs, 3, LS_NLA_TYPE_PATH_RECORD, 72);
	CHECK_INT(0, judge(b, n, LS_RESOLVE_PATH_USE_ALL, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(3, t.n);
	CHECK_INT(2, t.chosen);
	CHECK_INT(19, pr_dlid(&t.recs[t.chosen]));
	CHECK_INT(0, judge(b, n, LS_RESOLVE_PATH_USE_ALL, NL_LS_KERNEL_LEGACY, &t));
	CHECK_INT(1, t.n);
	CHECK_INT(17, pr_dlid(&t.recs[0]));
	/* IPoIB (unidirectional) takes the first in either generation */
	uint32_t all_uni[3] = { uni, uni, uni };
	n = raw_answer(b, all_uni, recs, 3, LS_NLA_TYPE_PATH_RECORD, 72);
	CHECK_INT(0, judge(b, n, LS_RESOLVE_PATH_USE_UNIDIRECTIONAL, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(0, t.chosen);
	CHECK_INT(17, pr_dlid(&t.recs[0]));

	/* the masks: unidirectional flags do not satisfy GMP, nor the other way round */
	n = raw_answer(b, all_uni, recs, 1, LS_NLA_TYPE_PATH_RECORD, 72);
	CHECK_INT(-EIO, judge(b, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(-EIO, judge(b, n, LS_RESOLVE_PATH_USE_ALL, NL_LS_KERNEL_LEGACY, &t));
	/* ... but PRIMARY suffices for ALL on 6.1, where rdma_cm then finds no GMP record */
	CHECK_INT(-ENOLINK, judge(b, n, LS_RESOLVE_PATH_USE_ALL, NL_LS_KERNEL_MULTI, &t));
	n = raw_answer(b, all_gmp, recs, 1, LS_NLA_TYPE_PATH_RECORD, 72);
	CHECK_INT(0, judge(b, n, LS_RESOLVE_PATH_USE_UNIDIRECTIONAL, NL_LS_KERNEL_MULTI, &t));
	/* no PRIMARY at all */
	uint32_t alt[1] = { IB_PATH_ALTERNATE | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL };
	n = raw_answer(b, alt, recs, 1, LS_NLA_TYPE_PATH_RECORD, 72);
	CHECK_INT(-EIO, judge(b, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_LEGACY, &t));

	/* a PATH_RECORD flagged mandatory is skipped by the parser and unmatched by type */
	n = raw_answer(b, all_gmp, recs, 1, RDMA_NLA_F_MANDATORY | LS_NLA_TYPE_PATH_RECORD, 72);
	CHECK_INT(-EIO, judge(b, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_LEGACY, &t));
	/* the policy: a PATH_RECORD over 72 bytes fails it; a shorter one passes and is over-read */
	n = raw_answer(b, all_gmp, recs, 1, LS_NLA_TYPE_PATH_RECORD, 76);
	CHECK_INT(-ERANGE, judge(b, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	n = raw_answer(b, all_gmp, recs, 1, LS_NLA_TYPE_PATH_RECORD, 64);
	CHECK_INT(-EOVERFLOW, judge(b, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	/* ... and so does a PKey attribute of one byte anywhere in the answer */
	n = raw_answer(b, all_gmp, recs, 1, LS_NLA_TYPE_PATH_RECORD, 72);
	put_hdr(b, (uint32_t)n + 8, 0x1000, 0, 7);
	memcpy(b + n, (const uint8_t[]){ 5, 0, LS_NLA_TYPE_PKEY, 0, 1, 0, 0, 0 }, 8);
	CHECK_INT(-ERANGE, judge(b, n + 8, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	/* unknown types and leftovers are the kernel's warnings, not failures */
	memcpy(b + n, (const uint8_t[]){ 5, 0, 0x50, 0, 1, 0, 0, 0 }, 8);
	CHECK_INT(0, judge(b, n + 8, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	memcpy(b + n, (const uint8_t[]){ 0, 0, 0, 0, 0, 0, 0, 0 }, 8);
	CHECK_INT(0, judge(b, n + 8, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));

	/* the error reply; an answer flagged as a request (-EPERM, still pending) */
	CHECK_INT(16, nl_ls_error_encode(b, sizeof(b), &req, 1));
	CHECK_INT(-EREMOTEIO, judge(b, 16, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	n = nl_ls_answer_encode(b, sizeof(b), &req, LS_RESOLVE_PATH_USE_GMP, recs, 1, 1);
	b[6] |= NLM_F_REQUEST;
	CHECK_INT(-EPERM, judge(b, n, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	/* a good answer without any record */
	put_hdr(b, 16, 0x1000, 0, 7);
	CHECK_INT(-EIO, judge(b, 16, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
	CHECK_INT(-EBADMSG, judge(b, 12, LS_RESOLVE_PATH_USE_GMP, NL_LS_KERNEL_MULTI, &t));
}

static void test_set_timeout_and_acks(void)
{
	uint8_t b[128], ack[256];
	struct nlmsghdr orig;
	uint32_t t = 0;
	int n, e;

	n = nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 5000, false);
	CHECK_INT(0, nl_ls_set_timeout_apply(b, (size_t)n, &t));
	CHECK_INT(5000, t);
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 50, false);
	CHECK_INT(0, nl_ls_set_timeout_apply(b, (size_t)n, &t));
	CHECK_INT(NL_LS_TIMEOUT_MIN, t);
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 300000, false);
	CHECK_INT(0, nl_ls_set_timeout_apply(b, (size_t)n, &t));
	CHECK_INT(NL_LS_TIMEOUT_MAX, t);
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 0x80000000u, false);	/* read as an int */
	CHECK_INT(0, nl_ls_set_timeout_apply(b, (size_t)n, &t));
	CHECK_INT(NL_LS_TIMEOUT_MIN, t);
	/* not a request: refused */
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 5000, false);
	b[6] = 0;
	CHECK_INT(-EPERM, nl_ls_set_timeout_apply(b, (size_t)n, &t));
	/* the attribute flagged mandatory is skipped: no effect */
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 5000, false);
	b[19] |= RDMA_NLA_F_MANDATORY >> 8;
	t = 1;
	CHECK_INT(-ENODATA, nl_ls_set_timeout_apply(b, (size_t)n, &t));
	CHECK_INT(1, t);
	/* a 2-byte timeout fails the policy (NLA_U32) */
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 5000, false);
	b[16] = 6;
	CHECK_INT(-ENODATA, nl_ls_set_timeout_apply(b, (size_t)n, &t));

	/* the kernel's acks, and the responder's reading of them */
	nl_ls_set_timeout_encode(b, sizeof(b), 3, 42, 5000, true);
	n = nl_ls_ack_encode(ack, sizeof(ack), b, 24, 0);
	CHECK_INT(36, n);
	CHECK_INT(NLMSG_ERROR, ack[4]);
	CHECK_INT(NLM_F_CAPPED, ack[6] | ack[7] << 8);
	CHECK_INT(0, nl_ls_ack_decode(ack, (size_t)n, &orig, &e));
	CHECK_INT(0, e);
	CHECK_INT(3, orig.nlmsg_seq);
	CHECK_INT(42, orig.nlmsg_pid);
	CHECK_INT(0x1001, orig.nlmsg_type);
	n = nl_ls_ack_encode(ack, sizeof(ack), b, 24, -EPERM);
	CHECK_INT(36 + 8, n);	/* with the payload */
	CHECK_INT(0, nl_ls_ack_decode(ack, (size_t)n, &orig, &e));
	CHECK_INT(-EPERM, e);
	CHECK_INT(-EMSGSIZE, nl_ls_ack_encode(ack, 43, b, 24, -EPERM));
	CHECK_INT(-EBADMSG, nl_ls_ack_decode(ack, 30, &orig, &e));
	CHECK_INT(-ENOMSG, nl_ls_ack_decode(b, 24, &orig, &e));
}

int main(void)
{
	test_decode_kernel_request();
	test_to_query();
	test_frame_and_classify();
	test_malformed();
	test_path_flags();
	test_answer_bytes();
	test_kernel_request();
	test_kernel_judges_answers();
	test_set_timeout_and_acks();
	return CHECK_DONE();
}
