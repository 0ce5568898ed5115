/*
 * port_info.c - PortInfo field reads and the local directed-route SMP.
 *
 * SMP offsets come from libibumad's struct umad_smp (umad_sm.h); PortInfo
 * has no ecosystem struct, so its few offsets are spelled out from the spec.
 */
#include "wire/port_info.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <infiniband/umad_sm.h>
#include <infiniband/umad_types.h>

#include "wire/bytes.h"

#define SMP_OFF(f) offsetof(struct umad_smp, f)

_Static_assert(sizeof(struct umad_smp) == 256, "SMP is 256 bytes");
_Static_assert(SMP_OFF(base_version) == 0 && SMP_OFF(mgmt_class) == 1 &&
	       SMP_OFF(class_version) == 2 && SMP_OFF(method) == 3, "SMP header");
_Static_assert(SMP_OFF(status) == 4, "Status (D bit 15)");
_Static_assert(SMP_OFF(hop_ptr) == 6 && SMP_OFF(hop_cnt) == 7, "HopPointer/HopCount");
_Static_assert(SMP_OFF(tid) == 8, "TransactionID");
_Static_assert(SMP_OFF(attr_id) == 16 && SMP_OFF(attr_mod) == 20, "Attribute");
_Static_assert(SMP_OFF(mkey) == 24, "M_Key");
_Static_assert(SMP_OFF(dr_slid) == 32 && SMP_OFF(dr_dlid) == 34, "DrSLID/DrDLID");
_Static_assert(SMP_OFF(data) == SMP_DATA_OFFSET, "SMP data at 64");
_Static_assert(sizeof(((struct umad_smp *)0)->data) == PORT_INFO_LEN, "64 data bytes");

#define SMP_MIN_LEN (SMP_DATA_OFFSET + PORT_INFO_LEN)
#define SMP_CLASS_VERSION 1
#define LID_PERMISSIVE 0xFFFF

/* PortInfo offsets (IBA 14.2.5.6, Table 146) */
enum {
	PI_M_KEY = 0,
	PI_GID_PREFIX = 8,
	PI_LID = 16,
	PI_MASTER_SM_LID = 18,
	PI_CAP_MASK = 20,
	PI_SPEED_STATE = 32,	/* LinkSpeedSupported 7:4, PortState 3:0 */
	PI_MKEYPROT_LMC = 34,	/* M_KeyProtectBits 7:6, resv 5:3, LMC 2:0 */
};
_Static_assert(PI_MKEYPROT_LMC < PORT_INFO_LEN, "fields inside PortInfo");

int port_info_sm_lid(const void *pi, size_t len, uint16_t *sm_lid)
{
	if (len < PORT_INFO_LEN)
		return -EMSGSIZE;
	*sm_lid = wire_get16((const uint8_t *)pi + PI_MASTER_SM_LID);
	return 0;
}

int port_info_lid(const void *pi, size_t len, uint16_t *lid)
{
	if (len < PORT_INFO_LEN)
		return -EMSGSIZE;
	*lid = wire_get16((const uint8_t *)pi + PI_LID);
	return 0;
}

int port_info_state(const void *pi, size_t len, uint8_t *state)
{
	if (len < PORT_INFO_LEN)
		return -EMSGSIZE;
	*state = ((const uint8_t *)pi)[PI_SPEED_STATE] & 0x0f;
	return 0;
}

int port_info_lmc(const void *pi, size_t len, uint8_t *lmc)
{
	if (len < PORT_INFO_LEN)
		return -EMSGSIZE;
	*lmc = ((const uint8_t *)pi)[PI_MKEYPROT_LMC] & 0x07;
	return 0;
}

int port_info_gid_prefix(const void *pi, size_t len, uint64_t *prefix)
{
	if (len < PORT_INFO_LEN)
		return -EMSGSIZE;
	*prefix = wire_get64((const uint8_t *)pi + PI_GID_PREFIX);
	return 0;
}

void smp_encode_dr_get(void *mad, uint64_t tid, uint16_t attr_id, uint32_t attr_mod)
{
	uint8_t *p = mad;

	memset(p, 0, SMP_MIN_LEN);
	p[SMP_OFF(base_version)] = UMAD_BASE_VERSION;
	p[SMP_OFF(mgmt_class)] = UMAD_CLASS_SUBN_DIRECTED_ROUTE;
	p[SMP_OFF(class_version)] = SMP_CLASS_VERSION;
	p[SMP_OFF(method)] = UMAD_METHOD_GET;
	/* status 0 (D = outbound), hop pointer and hop count 0 */
	wire_put64(p + SMP_OFF(tid), tid);
	wire_put16(p + SMP_OFF(attr_id), attr_id);
	wire_put32(p + SMP_OFF(attr_mod), attr_mod);
	wire_put16(p + SMP_OFF(dr_slid), LID_PERMISSIVE);
	wire_put16(p + SMP_OFF(dr_dlid), LID_PERMISSIVE);
}

int smp_resp_data(const void *mad, size_t len, const uint8_t **data)
{
	const uint8_t *p = mad;
	uint8_t cls;

	if (len < SMP_MIN_LEN)
		return -EMSGSIZE;
	cls = p[SMP_OFF(mgmt_class)];
	if (p[SMP_OFF(base_version)] != UMAD_BASE_VERSION ||
	    (cls != UMAD_CLASS_SUBN_LID_ROUTED && cls != UMAD_CLASS_SUBN_DIRECTED_ROUTE) ||
	    p[SMP_OFF(method)] != UMAD_METHOD_GET_RESP)
		return -EPROTO;
	if (wire_get16(p + SMP_OFF(status)) & ~UMAD_SMP_DIRECTION)
		return -EREMOTEIO;
	*data = p + SMP_DATA_OFFSET;
	return 0;
}
