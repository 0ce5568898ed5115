/*
 * port_info.h - the few PortInfo fields localsa reads (IBA 14.2.5.6), and
 * the 0-hop directed-route SMP that fetches them from the local port
 * (where the current SM LID is always fresh). Pure.
 */
#ifndef LOCALSA_WIRE_PORT_INFO_H
#define LOCALSA_WIRE_PORT_INFO_H

#include <stddef.h>
#include <stdint.h>

#define PORT_INFO_LEN 64	/* SMP data size */
#define SMP_DATA_OFFSET 64	/* == offsetof(struct umad_smp, data) */

enum port_state {		/* PortInfo:PortState */
	PORT_STATE_NOP = 0,
	PORT_STATE_DOWN = 1,
	PORT_STATE_INIT = 2,
	PORT_STATE_ARMED = 3,
	PORT_STATE_ACTIVE = 4,
};

/* Each reads the 64-byte PortInfo; 0, or -EMSGSIZE if len < PORT_INFO_LEN. */
int port_info_sm_lid(const void *smp_data64, size_t len, uint16_t *sm_lid);
int port_info_lid(const void *smp_data64, size_t len, uint16_t *lid);
int port_info_state(const void *smp_data64, size_t len, uint8_t *state);
int port_info_lmc(const void *smp_data64, size_t len, uint8_t *lmc);
int port_info_gid_prefix(const void *smp_data64, size_t len, uint64_t *prefix);

/*
 * A SubnGet(attr_id, attr_mod) as a 0-hop directed-route SMP (class 0x81,
 * permissive DR SLID/DLID, M_Key 0): writes the first 128 bytes of mad
 * (header + data; the path arrays are unused at 0 hops and left alone).
 */
void smp_encode_dr_get(void *mad, uint64_t tid, uint16_t attr_id, uint32_t attr_mod);

/*
 * The 64-byte data of an SMP (LID-routed or directed-route) response.
 * -EMSGSIZE if len < 128, -EPROTO if it is not an SMP GetResp,
 * -EREMOTEIO if its status (D bit aside) is not zero.
 */
int smp_resp_data(const void *mad, size_t len, const uint8_t **data);

#endif
