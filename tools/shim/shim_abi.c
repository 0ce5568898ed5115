/* shim_abi - agent registration in the kernel's ioctl layout (see shim_abi.h). */
#include <string.h>

#include <rdma/ib_user_mad.h>

#include "shim_abi.h"

_Static_assert(sizeof(struct ib_user_mad_reg_req) <= SHIM_REG_REQ_MAX, "reg req size");

const unsigned long shim_ioctl_register_agent = IB_USER_MAD_REGISTER_AGENT;
const unsigned long shim_ioctl_unregister_agent = IB_USER_MAD_UNREGISTER_AGENT;
const unsigned long shim_ioctl_enable_pkey = IB_USER_MAD_ENABLE_PKEY;

void shim_reg_req_parse(const void *req, uint32_t *id, uint8_t *mgmt_class, uint32_t mask[4])
{
	const struct ib_user_mad_reg_req *r = req;

	*id = r->id;
	*mgmt_class = r->mgmt_class;
	memcpy(mask, r->method_mask, sizeof(r->method_mask));
}

void shim_reg_req_build(void *req, uint8_t mgmt_class, uint8_t class_version,
			const uint32_t mask[4])
{
	struct ib_user_mad_reg_req *r = req;

	memset(r, 0, sizeof(*r));
	r->qpn = (mgmt_class == 0x01 || mgmt_class == 0x81) ? 0 : 1;
	r->mgmt_class = mgmt_class;
	r->mgmt_class_version = class_version;
	memcpy(r->method_mask, mask, sizeof(r->method_mask));
}

uint8_t shim_reg_req_qpn(const void *req)
{
	return ((const struct ib_user_mad_reg_req *)req)->qpn;
}

void shim_reg_req_set_id(void *req, uint32_t id)
{
	((struct ib_user_mad_reg_req *)req)->id = id;
}
