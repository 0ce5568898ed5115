/*
 * sa_mad.c - MAD + RMPP + SA header codec.
 *
 * Field offsets come from libibumad's struct umad_sa_packet (umad_sa.h);
 * the asserts below pin them to the IBA layout (13.4.3, 13.6.2.1, 15.2.1.1)
 * so a header change cannot silently move a field.
 */
#include "wire/sa_mad.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "wire/bytes.h"

#define OFF(f) offsetof(struct umad_sa_packet, f)

_Static_assert(sizeof(struct umad_hdr) == MAD_HDR_LEN, "MAD common header is 24 bytes");
_Static_assert(sizeof(struct umad_rmpp_hdr) == 12, "RMPP header is 12 bytes");
_Static_assert(sizeof(struct umad_sa_packet) == MAD_LEN, "SA MAD is 256 bytes");
_Static_assert(OFF(data) == SA_HDR_LEN, "SA data starts at byte 56");
_Static_assert(OFF(mad_hdr.base_version) == 0, "BaseVersion");
_Static_assert(OFF(mad_hdr.mgmt_class) == 1, "MgmtClass");
_Static_assert(OFF(mad_hdr.class_version) == 2, "ClassVersion");
_Static_assert(OFF(mad_hdr.method) == 3, "Method");
_Static_assert(OFF(mad_hdr.status) == 4, "Status");
_Static_assert(OFF(mad_hdr.class_specific) == 6, "ClassSpecific");
_Static_assert(OFF(mad_hdr.tid) == 8, "TransactionID");
_Static_assert(OFF(mad_hdr.attr_id) == 16, "AttributeID");
_Static_assert(OFF(mad_hdr.attr_mod) == 20, "AttributeModifier");
_Static_assert(OFF(rmpp_hdr.rmpp_version) == 24, "RMPPVersion");
_Static_assert(OFF(rmpp_hdr.rmpp_type) == 25, "RMPPType");
_Static_assert(OFF(rmpp_hdr.rmpp_rtime_flags) == 26, "RRespTime/RMPPFlags");
_Static_assert(OFF(rmpp_hdr.rmpp_status) == 27, "RMPPStatus");
_Static_assert(OFF(rmpp_hdr.seg_num) == 28, "SegmentNumber");
_Static_assert(OFF(rmpp_hdr.paylen_newwin) == 32, "PayloadLength/NewWindowLast");
_Static_assert(OFF(sm_key) == 36, "SM_Key");
_Static_assert(OFF(attr_offset) == 44, "AttributeOffset");
_Static_assert(OFF(comp_mask) == 48, "ComponentMask");
_Static_assert(SA_HDR_LEN - OFF(sm_key) == SA_RMPP_CLASS_HDR_LEN,
	       "RMPP PayLen counts the 20-byte SA class header");
_Static_assert(SA_DATA_LEN == UMAD_LEN_SA_DATA, "200 data bytes per SA MAD");

int mad_hdr_decode(const void *mad, size_t len, struct sa_hdr *out)
{
	const uint8_t *p = mad;
	struct sa_hdr h;

	if (len < MAD_HDR_LEN)
		return -EMSGSIZE;
	memset(&h, 0, sizeof(h));
	h.base_version = p[OFF(mad_hdr.base_version)];
	h.mgmt_class = p[OFF(mad_hdr.mgmt_class)];
	h.class_version = p[OFF(mad_hdr.class_version)];
	h.method = p[OFF(mad_hdr.method)];
	h.status = wire_get16(p + OFF(mad_hdr.status));
	h.class_specific = wire_get16(p + OFF(mad_hdr.class_specific));
	h.tid = wire_get64(p + OFF(mad_hdr.tid));
	h.attr_id = wire_get16(p + OFF(mad_hdr.attr_id));
	h.attr_mod = wire_get32(p + OFF(mad_hdr.attr_mod));
	*out = h;
	return 0;
}

int sa_hdr_decode(const void *mad, size_t len, struct sa_hdr *out)
{
	const uint8_t *p = mad;
	struct sa_hdr h;

	if (len < SA_HDR_LEN)
		return -EMSGSIZE;
	if (p[OFF(mad_hdr.base_version)] != UMAD_BASE_VERSION)
		return -EPROTO;

	mad_hdr_decode(mad, len, &h);
	h.rmpp_version = p[OFF(rmpp_hdr.rmpp_version)];
	h.rmpp_type = p[OFF(rmpp_hdr.rmpp_type)];
	h.rmpp_flags = p[OFF(rmpp_hdr.rmpp_rtime_flags)];
	h.rmpp_status = p[OFF(rmpp_hdr.rmpp_status)];
	h.rmpp_seg_num = wire_get32(p + OFF(rmpp_hdr.seg_num));
	h.rmpp_paylen = wire_get32(p + OFF(rmpp_hdr.paylen_newwin));
	h.sm_key = wire_get64(p + OFF(sm_key));
	h.attr_offset = wire_get16(p + OFF(attr_offset));
	h.comp_mask = wire_get64(p + OFF(comp_mask));

	*out = h;
	return 0;
}

void sa_hdr_encode(void *mad, const struct sa_hdr *h)
{
	uint8_t *p = mad;

	memset(p, 0, SA_HDR_LEN);
	p[OFF(mad_hdr.base_version)] = h->base_version;
	p[OFF(mad_hdr.mgmt_class)] = h->mgmt_class;
	p[OFF(mad_hdr.class_version)] = h->class_version;
	p[OFF(mad_hdr.method)] = h->method;
	wire_put16(p + OFF(mad_hdr.status), h->status);
	wire_put16(p + OFF(mad_hdr.class_specific), h->class_specific);
	wire_put64(p + OFF(mad_hdr.tid), h->tid);
	wire_put16(p + OFF(mad_hdr.attr_id), h->attr_id);
	wire_put32(p + OFF(mad_hdr.attr_mod), h->attr_mod);
	p[OFF(rmpp_hdr.rmpp_version)] = h->rmpp_version;
	p[OFF(rmpp_hdr.rmpp_type)] = h->rmpp_type;
	p[OFF(rmpp_hdr.rmpp_rtime_flags)] = h->rmpp_flags;
	p[OFF(rmpp_hdr.rmpp_status)] = h->rmpp_status;
	wire_put32(p + OFF(rmpp_hdr.seg_num), h->rmpp_seg_num);
	wire_put32(p + OFF(rmpp_hdr.paylen_newwin), h->rmpp_paylen);
	wire_put64(p + OFF(sm_key), h->sm_key);
	wire_put16(p + OFF(attr_offset), h->attr_offset);
	wire_put64(p + OFF(comp_mask), h->comp_mask);
}

void sa_hdr_init_request(struct sa_hdr *h, uint8_t method, uint16_t attr_id,
			 uint64_t tid, uint64_t comp_mask)
{
	memset(h, 0, sizeof(*h));
	h->base_version = UMAD_BASE_VERSION;
	h->mgmt_class = UMAD_CLASS_SUBN_ADM;
	h->class_version = UMAD_SA_CLASS_VERSION;
	h->method = method;
	h->tid = tid;
	h->attr_id = attr_id;
	h->comp_mask = comp_mask;
}

void sa_hdr_set_rmpp(struct sa_hdr *h, bool active, size_t data_len)
{
	h->rmpp_version = active ? UMAD_RMPP_VERSION : 0;
	h->rmpp_type = active ? SA_RMPP_TYPE_DATA : 0;
	h->rmpp_flags = active ? UMAD_RMPP_FLAG_ACTIVE | SA_RMPP_FLAG_FIRST | SA_RMPP_FLAG_LAST : 0;
	h->rmpp_status = 0;
	h->rmpp_seg_num = active ? 1 : 0;
	h->rmpp_paylen = active ? (uint32_t)(SA_RMPP_CLASS_HDR_LEN + data_len) : 0;
}

int sa_table_count(const struct sa_hdr *h, size_t mad_len, size_t *rec_len,
		   size_t *count)
{
	size_t data_len, rlen;
	bool have_paylen;

	if (mad_len < SA_HDR_LEN)
		return -EMSGSIZE;
	data_len = mad_len - SA_HDR_LEN;

	/*
	 * The kernel keeps the first segment's RMPP header on a reassembled
	 * message, whose PayLen is the exact total (SA class header included),
	 * while the buffer may end in padding. A sender that leaves PayLen 0
	 * (OpenSM fills only the active flag and lets the kernel segment)
	 * gives us nothing better than the buffer length.
	 */
	have_paylen = (h->rmpp_flags & UMAD_RMPP_FLAG_ACTIVE) && h->rmpp_paylen;
	if (have_paylen) {
		if (h->rmpp_paylen < SA_RMPP_CLASS_HDR_LEN)
			return -EPROTO;
		if (h->rmpp_paylen - SA_RMPP_CLASS_HDR_LEN > data_len)
			return -EMSGSIZE;
		data_len = h->rmpp_paylen - SA_RMPP_CLASS_HDR_LEN;
	}

	rlen = (size_t)h->attr_offset * 8;
	if (rlen == 0) {
		/* no record size: only an empty table is consistent */
		if (have_paylen && data_len)
			return -EPROTO;
		*rec_len = 0;
		*count = 0;
		return 0;
	}
	if (have_paylen && data_len % rlen)
		return -EPROTO;

	*rec_len = rlen;
	*count = data_len / rlen;
	return 0;
}

/* --- names --- */

static const char *const sa_status_names[] = {
	[UMAD_SA_STATUS_SUCCESS] = "SUCCESS",
	[UMAD_SA_STATUS_NO_RESOURCES] = "NO_RESOURCES",
	[UMAD_SA_STATUS_REQ_INVALID] = "REQ_INVALID",
	[UMAD_SA_STATUS_NO_RECORDS] = "NO_RECORDS",
	[UMAD_SA_STATUS_TOO_MANY_RECORDS] = "TOO_MANY_RECORDS",
	[UMAD_SA_STATUS_INVALID_GID] = "INVALID_GID",
	[UMAD_SA_STATUS_INSUF_COMPS] = "INSUF_COMPS",
	[UMAD_SA_STATUS_REQ_DENIED] = "REQ_DENIED",
	[UMAD_SA_STATUS_PRI_SUGGESTED] = "PRI_SUGGESTED",
};

/* indexed by the 3-bit InvalidField code, bits 2-4 of the MAD status */
static const char *const mad_field_names[8] = {
	[0] = NULL,
	[UMAD_STATUS_BAD_VERSION >> 2] = "BAD_VERSION",
	[UMAD_STATUS_METHOD_NOT_SUPPORTED >> 2] = "METHOD_NOT_SUPPORTED",
	[UMAD_STATUS_ATTR_NOT_SUPPORTED >> 2] = "METHOD_ATTR_NOT_SUPPORTED",
	[4] = "INVALID_FIELD_RESERVED_4",
	[5] = "INVALID_FIELD_RESERVED_5",
	[6] = "INVALID_FIELD_RESERVED_6",
	[UMAD_STATUS_INVALID_ATTR_VALUE >> 2] = "INVALID_FIELD",
};

const char *sa_status_str(uint16_t mad_status)
{
	uint8_t sa = sa_status_code(mad_status);
	unsigned field = (mad_status & UMAD_STATUS_INVALID_FIELD_MASK) >> 2;

	/* the most specific cause first: the class code, then the field code */
	if (sa) {
		if (sa < sizeof(sa_status_names) / sizeof(sa_status_names[0]))
			return sa_status_names[sa];
		return "SA_STATUS_UNKNOWN";
	}
	if (field)
		return mad_field_names[field];
	if (mad_status & UMAD_STATUS_BUSY)
		return "BUSY";
	if (mad_status & UMAD_STATUS_REDIRECT)
		return "REDIRECT";
	if (mad_status == UMAD_STATUS_SUCCESS)
		return "SUCCESS";
	return "STATUS_UNKNOWN";
}

const char *sa_method_str(uint8_t method)
{
	switch (method) {
	case UMAD_METHOD_GET:			return "Get";
	case UMAD_METHOD_SET:			return "Set";
	case UMAD_METHOD_GET_RESP:		return "GetResp";
	case UMAD_METHOD_SEND:			return "Send";
	case UMAD_METHOD_TRAP:			return "Trap";
	case UMAD_METHOD_REPORT:		return "Report";
	case UMAD_METHOD_REPORT_RESP:		return "ReportResp";
	case UMAD_METHOD_TRAP_REPRESS:		return "TrapRepress";
	case UMAD_SA_METHOD_GET_TABLE:		return "GetTable";
	case UMAD_SA_METHOD_GET_TABLE_RESP:	return "GetTableResp";
	case UMAD_SA_METHOD_GET_TRACE_TABLE:	return "GetTraceTable";
	case UMAD_SA_METHOD_GET_MULTI:		return "GetMulti";
	case UMAD_SA_METHOD_GET_MULTI_RESP:	return "GetMultiResp";
	case UMAD_SA_METHOD_DELETE:		return "Delete";
	case UMAD_SA_METHOD_DELETE_RESP:	return "DeleteResp";
	default:				return "UNKNOWN";
	}
}

const char *sa_attr_str(uint16_t attr_id)
{
	static const struct { uint16_t id; const char *name; } names[] = {
		{ UMAD_ATTR_CLASS_PORT_INFO, "ClassPortInfo" }, { UMAD_ATTR_NOTICE, "Notice" },
		{ UMAD_ATTR_INFORM_INFO, "InformInfo" }, { UMAD_SA_ATTR_NODE_REC, "NodeRecord" },
		{ UMAD_SA_ATTR_PORT_INFO_REC, "PortInfoRecord" },
		{ UMAD_SA_ATTR_SM_INFO_REC, "SMInfoRecord" },
		{ UMAD_SA_ATTR_INFORM_INFO_REC, "InformInfoRecord" },
		{ UMAD_SA_ATTR_LINK_REC, "LinkRecord" }, { UMAD_SA_ATTR_GUID_INFO_REC, "GUIDInfoRecord" },
		{ UMAD_SA_ATTR_SERVICE_REC, "ServiceRecord" },
		{ UMAD_SA_ATTR_PKEY_TABLE_REC, "P_KeyTableRecord" },
		{ UMAD_SA_ATTR_PATH_REC, "PathRecord" }, { UMAD_SA_ATTR_MCMEMBER_REC, "MCMemberRecord" },
		{ UMAD_SA_ATTR_MULTI_PATH_REC, "MultiPathRecord" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].id == attr_id)
			return names[i].name;
	return "another attribute";
}
