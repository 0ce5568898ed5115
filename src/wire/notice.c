/*
 * notice.c - InformInfo and Notice codecs.
 *
 * No ecosystem header declares these two attributes, so their offsets are
 * written out here from IBA 13.4.8.2 (Notice) and 13.4.8.3 (InformInfo);
 * the asserts check that the pieces tile the attribute exactly.
 */
#include "wire/notice.h"

#include <errno.h>
#include <string.h>

#include <infiniband/umad_sm.h>

#include "wire/bytes.h"

/* InformInfo */
enum {
	II_GID = 0,			/* 16 */
	II_LID_BEGIN = 16,		/* 2 */
	II_LID_END = 18,		/* 2 */
	II_RESV0 = 20,			/* 2 */
	II_IS_GENERIC = 22,		/* 1 */
	II_SUBSCRIBE = 23,		/* 1 */
	II_TYPE = 24,			/* 2 */
	II_TRAP_NUM = 26,		/* 2: TrapNumber / DeviceID */
	II_QPN_RESP = 28,		/* 4: QPN 31:8, resv 7:5, RespTimeValue 4:0 */
	II_RESV1 = 32,			/* 1 */
	II_PRODUCER = 33,		/* 3: ProducerType / VendorID */
};
_Static_assert(II_LID_BEGIN == II_GID + 16 && II_LID_END == II_LID_BEGIN + 2 &&
	       II_RESV0 == II_LID_END + 2 && II_IS_GENERIC == II_RESV0 + 2 &&
	       II_SUBSCRIBE == II_IS_GENERIC + 1 && II_TYPE == II_SUBSCRIBE + 1 &&
	       II_TRAP_NUM == II_TYPE + 2 && II_QPN_RESP == II_TRAP_NUM + 2 &&
	       II_RESV1 == II_QPN_RESP + 4 && II_PRODUCER == II_RESV1 + 1 &&
	       II_PRODUCER + 3 == INFORM_INFO_LEN, "InformInfo tiles 36 bytes");

/* Notice */
enum {
	NT_GENERIC_TYPE = 0,		/* 1: IsGeneric 7, Type 6:0 */
	NT_PRODUCER = 1,		/* 3: ProducerType / VendorID */
	NT_TRAP_NUM = 4,		/* 2: TrapNumber / DeviceID */
	NT_ISSUER_LID = 6,		/* 2 */
	NT_TOGGLE_COUNT = 8,		/* 2: NoticeToggle 15, NoticeCount 14:0 */
	NT_DETAILS = 10,		/* 54 */
	NT_ISSUER_GID = 64,		/* 16 */
};
_Static_assert(NT_PRODUCER == NT_GENERIC_TYPE + 1 && NT_TRAP_NUM == NT_PRODUCER + 3 &&
	       NT_ISSUER_LID == NT_TRAP_NUM + 2 && NT_TOGGLE_COUNT == NT_ISSUER_LID + 2 &&
	       NT_DETAILS == NT_TOGGLE_COUNT + 2 &&
	       NT_ISSUER_GID == NT_DETAILS + NOTICE_DETAILS_LEN &&
	       NT_ISSUER_GID + 16 == NOTICE_LEN, "Notice tiles 80 bytes");

/* Traps 64-67 carry the GID after 6 reserved bytes of DataDetails. */
#define NT_TRAP_GID_OFFSET 6
_Static_assert(NT_TRAP_GID_OFFSET + 16 <= NOTICE_DETAILS_LEN, "GID fits in details");
_Static_assert(sizeof(union ibv_gid) == 16, "GID is 16 bytes");

/* --- InformInfo --- */

void inform_info_encode(void *buf36, const struct inform_info *ii)
{
	uint8_t *p = buf36;

	memset(p, 0, INFORM_INFO_LEN);
	memcpy(p + II_GID, ii->gid.raw, 16);
	wire_put16(p + II_LID_BEGIN, ii->lid_range_begin);
	wire_put16(p + II_LID_END, ii->lid_range_end);
	p[II_IS_GENERIC] = ii->is_generic;
	p[II_SUBSCRIBE] = ii->subscribe;
	wire_put16(p + II_TYPE, ii->type);
	wire_put16(p + II_TRAP_NUM, ii->trap_number);
	wire_put32(p + II_QPN_RESP, (ii->qpn & 0xffffff) << 8 |
		   (ii->resp_time_value & 0x1f));
	wire_put24(p + II_PRODUCER, ii->producer_type & 0xffffff);
}

int inform_info_decode(const void *buf, size_t len, struct inform_info *out)
{
	const uint8_t *p = buf;
	struct inform_info ii;
	uint32_t qr;

	if (len < INFORM_INFO_LEN)
		return -EMSGSIZE;
	memcpy(ii.gid.raw, p + II_GID, 16);
	ii.lid_range_begin = wire_get16(p + II_LID_BEGIN);
	ii.lid_range_end = wire_get16(p + II_LID_END);
	ii.is_generic = p[II_IS_GENERIC];
	ii.subscribe = p[II_SUBSCRIBE];
	ii.type = wire_get16(p + II_TYPE);
	ii.trap_number = wire_get16(p + II_TRAP_NUM);
	qr = wire_get32(p + II_QPN_RESP);
	ii.qpn = qr >> 8;
	ii.resp_time_value = qr & 0x1f;
	ii.producer_type = wire_get24(p + II_PRODUCER);
	*out = ii;
	return 0;
}

void inform_info_for_trap(struct inform_info *ii, uint16_t trap, bool subscribe)
{
	memset(ii, 0, sizeof(*ii));
	ii->lid_range_begin = INFORM_ALL_LIDS;
	ii->lid_range_end = 0;
	ii->is_generic = 1;
	ii->subscribe = subscribe ? 1 : 0;
	ii->type = INFORM_ALL_TYPES;
	ii->trap_number = trap;
	ii->qpn = 1;
	ii->producer_type = INFORM_ALL_PRODUCERS;
}

/* --- Notice --- */

int notice_decode(const void *buf, size_t len, struct notice *out)
{
	const uint8_t *p = buf;
	struct notice n;
	uint16_t tc;

	if (len < NOTICE_LEN)
		return -EMSGSIZE;
	n.is_generic = p[NT_GENERIC_TYPE] >> 7;
	n.type = p[NT_GENERIC_TYPE] & 0x7f;
	n.producer_type = wire_get24(p + NT_PRODUCER);
	n.trap_number = wire_get16(p + NT_TRAP_NUM);
	n.issuer_lid = wire_get16(p + NT_ISSUER_LID);
	tc = wire_get16(p + NT_TOGGLE_COUNT);
	n.toggle = tc >> 15;
	n.count = tc & 0x7fff;
	memcpy(n.data_details, p + NT_DETAILS, NOTICE_DETAILS_LEN);
	memcpy(n.issuer_gid.raw, p + NT_ISSUER_GID, 16);
	*out = n;
	return 0;
}

void notice_encode(void *buf80, const struct notice *n)
{
	uint8_t *p = buf80;

	p[NT_GENERIC_TYPE] = (uint8_t)((n->is_generic ? 0x80 : 0) | (n->type & 0x7f));
	wire_put24(p + NT_PRODUCER, n->producer_type & 0xffffff);
	wire_put16(p + NT_TRAP_NUM, n->trap_number);
	wire_put16(p + NT_ISSUER_LID, n->issuer_lid);
	wire_put16(p + NT_TOGGLE_COUNT,
		   (uint16_t)((n->toggle ? 0x8000 : 0) | (n->count & 0x7fff)));
	memcpy(p + NT_DETAILS, n->data_details, NOTICE_DETAILS_LEN);
	memcpy(p + NT_ISSUER_GID, n->issuer_gid.raw, 16);
}

int notice_trap_gid(const struct notice *n, union ibv_gid *gid_out)
{
	if (!n->is_generic || n->trap_number < UMAD_SM_GID_IN_SERVICE_TRAP ||
	    n->trap_number > UMAD_SM_MGID_DESTROYED_TRAP)
		return -ENOENT;
	memcpy(gid_out->raw, n->data_details + NT_TRAP_GID_OFFSET, 16);
	return 0;
}

void notice_for_trap(struct notice *n, uint16_t trap, const union ibv_gid *gid,
		     uint16_t issuer_lid)
{
	memset(n, 0, sizeof(*n));
	n->is_generic = 1;
	n->type = 3;		/* informational */
	n->producer_type = 4;	/* class manager: the SM */
	n->trap_number = trap;
	n->issuer_lid = issuer_lid;
	memcpy(n->data_details + NT_TRAP_GID_OFFSET, gid->raw, 16);
}
