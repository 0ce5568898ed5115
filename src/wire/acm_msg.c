/*
 * acm_msg - see acm_msg.h. Every field is read and written at its byte offset through memcpy;
 * a received buffer is never cast to acm.h's structs, whose sizes are pinned below instead.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "wire/acm_msg.h"
#include "wire/bytes.h"
#include "wire/path_rec.h"

_Static_assert(sizeof(struct acm_hdr) == ACM_MSG_HDR_LENGTH, "acm_hdr is 16 bytes");
_Static_assert(offsetof(struct acm_hdr, data) == 3, "acm_hdr.data at 3");
_Static_assert(offsetof(struct acm_hdr, length) == 6, "acm_hdr.length at 6");
_Static_assert(offsetof(struct acm_hdr, tid) == 8, "acm_hdr.tid at 8");
_Static_assert(sizeof(struct acm_ep_addr_data) == ACM_MSG_EP_LENGTH, "entries are 72 bytes");
_Static_assert(offsetof(struct acm_ep_addr_data, type) == 4, "entry type at 4");
_Static_assert(offsetof(struct acm_ep_addr_data, info) == 8, "entry info at 8");
_Static_assert(sizeof(union acm_ep_info) == ACM_MAX_ADDRESS, "entry info is 64 bytes");
_Static_assert(sizeof(struct ibv_path_record) == PR_LEN, "path record is 64 bytes");
_Static_assert(sizeof(struct acm_ep_config_data) == ACM_MSG_EP_CONFIG_LEN, "ep config is 80");
_Static_assert(offsetof(struct acm_ep_config_data, port_num) == 8, "port_num at 8");
_Static_assert(offsetof(struct acm_ep_config_data, pkey) == 12, "pkey at 12");
_Static_assert(offsetof(struct acm_ep_config_data, addr_cnt) == 14, "addr_cnt at 14");
_Static_assert(offsetof(struct acm_ep_config_data, prov_name) == 16, "prov_name at 16");
_Static_assert(sizeof(struct acm_msg) == ACM_MSG_MAX_LEN, "acm_msg is 592 bytes");

/* Byte offsets inside a message. */
enum {
	OFF_VERSION = 0, OFF_OPCODE = 1, OFF_STATUS = 2, OFF_DATA = 3, OFF_LENGTH = 6, OFF_TID = 8,
	EP_OFF_FLAGS = 0, EP_OFF_TYPE = 4, EP_OFF_INFO = 8,
	CFG_OFF_GUID = 0, CFG_OFF_PORT = 8, CFG_OFF_PORT_CNT = 9, CFG_OFF_PKEY = 12,
	CFG_OFF_ADDR_CNT = 14, CFG_OFF_PROV = 16,
};

/* --- header ---------------------------------------------------------------- */

/* RESOLVE is the one operation whose header travels in host order (ibacm's acm_msg_length()). */
static bool host_order(uint8_t opcode)
{
	return opcode == ACM_OP_RESOLVE;
}

static void hdr_decode(const uint8_t *p, struct acm_msg_hdr *h)
{
	uint16_t len;

	h->version = p[OFF_VERSION];
	h->opcode = p[OFF_OPCODE];
	h->status = p[OFF_STATUS];
	memcpy(h->data, p + OFF_DATA, sizeof(h->data));
	memcpy(&len, p + OFF_LENGTH, sizeof(len));
	h->length = host_order(h->opcode) ? len : be16toh(len);
	memcpy(&h->tid, p + OFF_TID, sizeof(h->tid));
}

/* The reply header for req: ACK opcode, status, data, length in the request's byte order. */
static void reply_hdr(uint8_t *p, const struct acm_msg_hdr *req, uint8_t status,
		      const uint8_t data[3], uint16_t length)
{
	uint16_t len = host_order(req->opcode) ? length : htobe16(length);

	p[OFF_VERSION] = ACM_VERSION;
	p[OFF_OPCODE] = req->opcode | ACM_OP_ACK;
	p[OFF_STATUS] = status;
	memcpy(p + OFF_DATA, data, 3);
	memcpy(p + OFF_LENGTH, &len, sizeof(len));
	memcpy(p + OFF_TID, &req->tid, sizeof(req->tid));
}

int acm_msg_frame(const void *buf, size_t len, struct acm_msg_hdr *hdr)
{
	if (len < ACM_MSG_HDR_LENGTH)
		return 0;
	hdr_decode(buf, hdr);
	if (hdr->version != ACM_VERSION)
		return -EPROTO;
	if (hdr->length < ACM_MSG_HDR_LENGTH || hdr->length > ACM_MSG_MAX_LEN)
		return -EMSGSIZE;
	return len >= hdr->length ? hdr->length : 0;
}

/* --- entries --------------------------------------------------------------- */

/* Entries are host order in every operation (libacm fills them natively, ibacm reads them so). */
static void ep_decode(const uint8_t *p, struct acm_ep_addr_data *ep)
{
	memset(ep, 0, sizeof(*ep));
	memcpy(&ep->flags, p + EP_OFF_FLAGS, sizeof(ep->flags));
	memcpy(&ep->type, p + EP_OFF_TYPE, sizeof(ep->type));
	memcpy(&ep->info, p + EP_OFF_INFO, sizeof(ep->info));
}

static void ep_encode(uint8_t *p, uint32_t flags, uint16_t type, const void *info, size_t len)
{
	memset(p, 0, ACM_MSG_EP_LENGTH);
	memcpy(p + EP_OFF_FLAGS, &flags, sizeof(flags));
	memcpy(p + EP_OFF_TYPE, &type, sizeof(type));
	memcpy(p + EP_OFF_INFO, info, len);
}

static bool zero_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

void acm_msg_ep_gid(const struct acm_ep_addr_data *ep, union ibv_gid *gid)
{
	memcpy(gid->raw, ep->info.addr, sizeof(gid->raw));
}

uint16_t acm_msg_ep_lid(const struct acm_ep_addr_data *ep)
{
	return wire_get16(ep->info.addr);
}

static bool addr_type_ok(uint16_t type)
{
	return type >= ACM_EP_INFO_NAME && type < ACM_MSG_EP_RESERVED;
}

/* A GID or LID entry must name something; other types are the service's business. */
static bool addr_value_ok(const struct acm_ep_addr_data *ep)
{
	if (ep->type == ACM_MSG_EP_GID)
		return !zero_bytes(ep->info.addr, 16);
	if (ep->type == ACM_MSG_EP_LID)
		return acm_msg_ep_lid(ep) != 0;
	return true;
}

/* --- RESOLVE --------------------------------------------------------------- */

static uint8_t resolve_addresses(struct acm_msg_resolve *r)
{
	r->src = r->dst = -1;
	for (unsigned i = 0; i < r->n_eps; i++) {
		const struct acm_ep_addr_data *ep = &r->ep[i];

		if (ep->flags & ACM_EP_FLAG_SOURCE) {
			if (r->src >= 0)
				return ACM_STATUS_ESRCADDR;
			if (!addr_type_ok(ep->type))
				return ACM_STATUS_ESRCTYPE;
			if (!addr_value_ok(ep))
				return ACM_STATUS_ESRCADDR;
			r->src = (int)i;
		}
		if (ep->flags & ACM_EP_FLAG_DEST) {
			if (r->dst >= 0)
				return ACM_STATUS_EDESTADDR;
			if (!addr_type_ok(ep->type))
				return ACM_STATUS_EDESTTYPE;
			if (!addr_value_ok(ep))
				return ACM_STATUS_EDESTADDR;
			r->dst = (int)i;
		}
	}
	if (r->dst < 0)
		return ACM_STATUS_EDESTTYPE;	/* as ibacm: "destination address required" */
	r->flags = r->ep[r->dst].flags;
	return ACM_STATUS_SUCCESS;
}

uint8_t acm_msg_resolve_decode(const void *msg, size_t len, struct acm_msg_resolve *out)
{
	struct acm_msg_resolve tmp;
	const uint8_t *p = msg;
	struct acm_msg_hdr h;
	uint8_t st;

	if (len < ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH || len > ACM_MSG_MAX_LEN ||
	    (len - ACM_MSG_HDR_LENGTH) % ACM_MSG_EP_LENGTH)
		return ACM_STATUS_EINVAL;
	hdr_decode(p, &h);
	if (h.length != len)
		return ACM_STATUS_EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	tmp.n_eps = (unsigned)((len - ACM_MSG_HDR_LENGTH) / ACM_MSG_EP_LENGTH);
	for (unsigned i = 0; i < tmp.n_eps; i++)
		ep_decode(p + ACM_MSG_HDR_LENGTH + i * ACM_MSG_EP_LENGTH, &tmp.ep[i]);

	if (tmp.ep[0].type == ACM_EP_INFO_PATH) {
		const struct ibv_path_record *path = &tmp.ep[0].info.path;

		if (!path->dlid && zero_bytes(&path->dgid, sizeof(path->dgid)))
			return ACM_STATUS_EDESTADDR;
		tmp.path_form = true;
		tmp.src = -1;
		tmp.dst = 0;
		tmp.flags = tmp.ep[0].flags;
	} else {
		st = resolve_addresses(&tmp);
		if (st != ACM_STATUS_SUCCESS)
			return st;
	}
	*out = tmp;
	return ACM_STATUS_SUCCESS;
}

size_t acm_msg_resolve_reply_encode(void *buf, const struct acm_msg_hdr *req,
				    const struct ibv_path_record *path, uint32_t path_flags)
{
	static const uint8_t zero[3];
	uint8_t *p = buf;
	const uint16_t len = ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH;

	reply_hdr(p, req, ACM_STATUS_SUCCESS, zero, len);
	ep_encode(p + ACM_MSG_HDR_LENGTH, path_flags, ACM_EP_INFO_PATH, path, sizeof(*path));
	return len;
}

/* --- errors ---------------------------------------------------------------- */

size_t acm_msg_error_encode(void *buf, const struct acm_msg_hdr *req, uint8_t status)
{
	static const uint8_t zero[3];

	reply_hdr(buf, req, status, zero, ACM_MSG_HDR_LENGTH);
	return ACM_MSG_HDR_LENGTH;
}

/* --- PERF_QUERY ------------------------------------------------------------ */

uint8_t acm_msg_perf_decode(const void *msg, size_t len, struct acm_msg_perf *out)
{
	const uint8_t *p = msg;
	struct acm_msg_hdr h;

	if (len < ACM_MSG_HDR_LENGTH || len > ACM_MSG_MAX_LEN)
		return ACM_STATUS_EINVAL;
	hdr_decode(p, &h);
	if (h.length != len)
		return ACM_STATUS_EINVAL;
	memset(out, 0, sizeof(*out));
	out->index = h.data[1];
	if (len >= ACM_MSG_HDR_LENGTH + ACM_MSG_EP_LENGTH) {
		out->has_ep = true;
		ep_decode(p + ACM_MSG_HDR_LENGTH, &out->ep);
	}
	return ACM_STATUS_SUCCESS;
}

size_t acm_msg_perf_reply_encode(void *buf, const struct acm_msg_hdr *req,
				 const uint64_t *counters, unsigned n)
{
	uint8_t *p = buf;
	uint8_t data[3];
	uint16_t len;

	if (n > ACM_MSG_MAX_COUNTERS)
		n = ACM_MSG_MAX_COUNTERS;
	len = (uint16_t)(ACM_MSG_HDR_LENGTH + 8 * n);
	data[0] = (uint8_t)n;
	data[1] = req->data[1];
	data[2] = 0;
	reply_hdr(p, req, ACM_STATUS_SUCCESS, data, len);
	for (unsigned i = 0; i < n; i++)
		wire_put64(p + ACM_MSG_HDR_LENGTH + 8 * i, counters[i]);
	return len;
}

/* --- EP_QUERY -------------------------------------------------------------- */

uint8_t acm_msg_ep_query_decode(const void *msg, size_t len, struct acm_msg_ep_query *out)
{
	struct acm_msg_hdr h;

	if (len < ACM_MSG_HDR_LENGTH || len > ACM_MSG_MAX_LEN)
		return ACM_STATUS_EINVAL;
	hdr_decode(msg, &h);
	if (h.length != len)
		return ACM_STATUS_EINVAL;
	out->index = h.data[0];
	out->port = h.data[1];
	return ACM_STATUS_SUCCESS;
}

size_t acm_msg_ep_reply_encode(void *buf, const struct acm_msg_hdr *req,
			       const struct acm_msg_ep_desc *ep)
{
	uint8_t *p = buf, *cfg = p + ACM_MSG_HDR_LENGTH;
	unsigned n = ep->n_addrs < ACM_MSG_EP_MAX_ADDRS ? ep->n_addrs : ACM_MSG_EP_MAX_ADDRS;
	uint8_t data[3] = { req->data[0], 0, 0 };
	uint16_t len = (uint16_t)(ACM_MSG_HDR_LENGTH + ACM_MSG_EP_CONFIG_LEN + n * ACM_MAX_ADDRESS);

	reply_hdr(p, req, ACM_STATUS_SUCCESS, data, len);
	memset(cfg, 0, len - ACM_MSG_HDR_LENGTH);
	wire_put64(cfg + CFG_OFF_GUID, ep->dev_guid);
	cfg[CFG_OFF_PORT] = ep->port_num;
	cfg[CFG_OFF_PORT_CNT] = ep->phys_port_cnt;
	wire_put16(cfg + CFG_OFF_PKEY, ep->pkey);
	wire_put16(cfg + CFG_OFF_ADDR_CNT, (uint16_t)n);
	/* strnlen: the last byte stays NUL even for a full-length name */
	memcpy(cfg + CFG_OFF_PROV, ep->prov_name, strnlen(ep->prov_name, ACM_MAX_PROV_NAME - 1));
	for (unsigned i = 0; i < n; i++)
		memcpy(cfg + ACM_MSG_EP_CONFIG_LEN + i * ACM_MAX_ADDRESS, ep->addrs[i],
		       strnlen(ep->addrs[i], ACM_MAX_ADDRESS - 1));
	return len;
}

/* --- path records ---------------------------------------------------------- */

uint64_t acm_msg_path_mask(const struct ibv_path_record *r)
{
	uint64_t m = 0;

	if (r->service_id)
		m |= PR_CM_SERVICE_ID;
	if (!zero_bytes(&r->dgid, sizeof(r->dgid)))
		m |= PR_CM_DGID;
	if (!zero_bytes(&r->sgid, sizeof(r->sgid)))
		m |= PR_CM_SGID;
	if (r->dlid)
		m |= PR_CM_DLID;
	if (r->slid)
		m |= PR_CM_SLID;
	if (pr_flow_label(r))
		m |= PR_CM_FLOW_LABEL;
	if (pr_hop_limit(r))
		m |= PR_CM_HOP_LIMIT;
	if (r->tclass)
		m |= PR_CM_TCLASS;
	if (pr_reversible(r))
		m |= PR_CM_REVERSIBLE;
	if (r->pkey)
		m |= PR_CM_PKEY;
	if (pr_qos_class(r))
		m |= PR_CM_QOS_CLASS;
	if (pr_sl(r))
		m |= PR_CM_SL;
	if (pr_mtu_selector(r))
		m |= PR_CM_MTU_SELECTOR;
	if (pr_mtu(r))
		m |= PR_CM_MTU;
	if (pr_rate_selector(r))
		m |= PR_CM_RATE_SELECTOR;
	if (pr_rate(r))
		m |= PR_CM_RATE;
	if (pr_pkt_life_selector(r))
		m |= PR_CM_PKT_LIFE_SELECTOR;
	if (pr_pkt_life(r))
		m |= PR_CM_PKT_LIFE;
	return m;
}

const char *acm_msg_status_str(uint8_t status)
{
	static const char *const names[] = {
		[ACM_STATUS_SUCCESS] = "SUCCESS",
		[ACM_STATUS_ENOMEM] = "ENOMEM",
		[ACM_STATUS_EINVAL] = "EINVAL",
		[ACM_STATUS_ENODATA] = "ENODATA",
		[ACM_STATUS_ENOTCONN] = "ENOTCONN",
		[ACM_STATUS_ETIMEDOUT] = "ETIMEDOUT",
		[ACM_STATUS_ESRCADDR] = "ESRCADDR",
		[ACM_STATUS_ESRCTYPE] = "ESRCTYPE",
		[ACM_STATUS_EDESTADDR] = "EDESTADDR",
		[ACM_STATUS_EDESTTYPE] = "EDESTTYPE",
	};

	if (status < sizeof(names) / sizeof(names[0]) && names[status])
		return names[status];
	return "UNKNOWN";
}
