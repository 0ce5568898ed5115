/*
 * notice.h - InformInfo (attribute 0x0003, 36 bytes) and Notice (0x0002,
 * 80 bytes) codecs, IBA 13.4.8.2-3: the subscription localsa sends to the
 * SA and the trap report the SA sends back. Pure.
 */
#ifndef LOCALSA_WIRE_NOTICE_H
#define LOCALSA_WIRE_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>	/* union ibv_gid */

#define INFORM_INFO_LEN 36
#define NOTICE_LEN 80
#define NOTICE_DETAILS_LEN 54

#define INFORM_ALL_LIDS 0xFFFF		/* LIDRangeBegin: every end port */
#define INFORM_ALL_TYPES 0xFFFF		/* Type, TrapNumber, DeviceID: any */
#define INFORM_ALL_PRODUCERS 0xFFFFFF	/* ProducerType, VendorID: any */

struct inform_info {
	union ibv_gid gid;
	uint16_t lid_range_begin, lid_range_end;
	uint8_t is_generic, subscribe;
	uint16_t type;
	uint16_t trap_number;		/* DeviceID when !is_generic */
	uint32_t qpn;			/* 24 bits */
	uint8_t resp_time_value;	/* 5 bits */
	uint32_t producer_type;		/* 24 bits; VendorID when !is_generic */
};

void inform_info_encode(void *buf36, const struct inform_info *ii);
/* 0, or -EMSGSIZE if len < INFORM_INFO_LEN. */
int inform_info_decode(const void *buf, size_t len, struct inform_info *out);

/*
 * (Un)subscribe to generic trap `trap` from every source, in the form
 * OpenSM accepts: GID 0 with LIDRangeBegin 0xFFFF (no per-port access
 * check), IsGeneric 1, Type/ProducerType "all", QPN 1 (OpenSM overwrites it
 * with the sender's QP on subscribe and needs it to match on unsubscribe).
 */
void inform_info_for_trap(struct inform_info *ii, uint16_t trap, bool subscribe);

struct notice {
	uint8_t is_generic, type;	/* 1 bit, 7 bits */
	uint32_t producer_type;		/* 24 bits; VendorID when !is_generic */
	uint16_t trap_number;		/* DeviceID when !is_generic */
	uint16_t issuer_lid;
	uint8_t toggle;			/* 1 bit */
	uint16_t count;			/* 15 bits */
	uint8_t data_details[NOTICE_DETAILS_LEN];
	union ibv_gid issuer_gid;
};

/* 0, or -EMSGSIZE if len < NOTICE_LEN. */
int notice_decode(const void *buf, size_t len, struct notice *out);
void notice_encode(void *buf80, const struct notice *n);

/* Generic traps 64-67: the GID in DataDetails bytes 6..21; else -ENOENT. */
int notice_trap_gid(const struct notice *n, union ibv_gid *gid_out);
/* The Notice the SM sends for generic trap 64-67 about gid (notice_trap_gid()'s inverse). */
void notice_for_trap(struct notice *n, uint16_t trap, const union ibv_gid *gid,
		     uint16_t issuer_lid);

#endif
