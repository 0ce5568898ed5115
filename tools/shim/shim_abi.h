/*
 * shim_abi - the kernel-ABI pieces the shim needs that <infiniband/umad.h>
 * cannot give it: the agent-registration ioctl struct lives in the kernel's
 * <rdma/ib_user_mad.h>, which clashes with umad.h in one translation unit;
 * and the port GUID, read through libibumad, which needs umad.h.
 */
#ifndef LSA_SHIM_ABI_H
#define LSA_SHIM_ABI_H

#include <stdint.h>

enum { SHIM_REG_REQ_MAX = 64 }; /* >= sizeof(struct ib_user_mad_reg_req) */

extern const unsigned long shim_ioctl_register_agent;
extern const unsigned long shim_ioctl_unregister_agent;
extern const unsigned long shim_ioctl_enable_pkey;

void shim_reg_req_parse(const void *req, uint32_t *id, uint8_t *mgmt_class, uint32_t mask[4]);
uint8_t shim_reg_req_qpn(const void *req);
void shim_reg_req_set_id(void *req, uint32_t id); /* as the kernel answers a registration */
void shim_reg_req_build(void *req, uint8_t mgmt_class, uint8_t class_version,
			const uint32_t mask[4]);

/* The first active port's GUID, network order; negative errno on failure. */
int shim_port_guid(uint64_t *guid_be);

#endif
