/*
 * nl_ls - see nl_ls.h. Every field is read and written at its byte offset through memcpy; a
 * received buffer is never cast to the uapi structs, whose sizes and offsets are pinned below.
 * Lengths are compared in size_t after each step has been bounded, so no sum can wrap.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "wire/nl_ls.h"
#include "wire/path_rec.h"

_Static_assert(sizeof(struct nlmsghdr) == NLMSG_HDRLEN, "nlmsghdr is 16 bytes");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_type) == 4, "nlmsg_type at 4");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_flags) == 6, "nlmsg_flags at 6");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_seq) == 8, "nlmsg_seq at 8");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_pid) == 12, "nlmsg_pid at 12");
_Static_assert(sizeof(struct nlattr) == NLA_HDRLEN, "nlattr is 4 bytes");
_Static_assert(offsetof(struct nlattr, nla_type) == 2, "nla_type at 2");
_Static_assert(sizeof(struct nlmsgerr) == 4 + NLMSG_HDRLEN, "nlmsgerr is error + header");
_Static_assert(sizeof(struct rdma_ls_resolve_header) == LS_DEVICE_NAME_MAX + 2, "66 bytes");
_Static_assert(offsetof(struct rdma_ls_resolve_header, port_num) == 64, "port_num at 64");
_Static_assert(offsetof(struct rdma_ls_resolve_header, path_use) == 65, "path_use at 65");
_Static_assert(NL_LS_RESOLVE_HDR_LEN == 68, "family header padded to 68");
_Static_assert(sizeof(struct ib_path_rec_data) == 72, "ib_path_rec_data is 72 bytes");
_Static_assert(offsetof(struct ib_path_rec_data, path_rec) == 8, "path_rec at 8");
_Static_assert(sizeof(((struct ib_path_rec_data *)0)->path_rec) == PR_LEN, "a 64-byte record");
_Static_assert(sizeof(struct rdma_nla_ls_gid) == 16, "GID attribute is 16 bytes");
_Static_assert(sizeof(struct ibv_path_record) == PR_LEN, "ibv_path_record is 64 bytes");
_Static_assert(NL_LS_RESOLVE_MAX == 160, "largest RESOLVE");
_Static_assert(NL_LS_PATH_ATTR_LEN == NLA_ALIGN(NL_LS_PATH_ATTR_LEN),
	       "path attributes need no padding");
_Static_assert(RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_RESOLVE) == 0x1000, "RESOLVE type");
_Static_assert(NL_LS_GROUP_MASK == 4, "RDMA_NL_GROUP_LS is group 3");

enum {
	OFF_NAME = NLMSG_HDRLEN,
	OFF_PORT = NLMSG_HDRLEN + offsetof(struct rdma_ls_resolve_header, port_num),
	OFF_PATH_USE = NLMSG_HDRLEN + offsetof(struct rdma_ls_resolve_header, path_use),
	OFF_ATTRS = NLMSG_HDRLEN + NL_LS_RESOLVE_HDR_LEN,
	REC_OFF_FLAGS = offsetof(struct ib_path_rec_data, flags),
	REC_OFF_PATH = offsetof(struct ib_path_rec_data, path_rec),
};

#define RESOLVE_TYPE RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_RESOLVE)

/* --- headers and attributes ------------------------------------------------ */

static void hdr_get(const uint8_t *p, struct nlmsghdr *h)
{
	memcpy(h, p, sizeof(*h));
}

static void hdr_put(uint8_t *p, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq,
		    uint32_t pid)
{
	struct nlmsghdr h = {
		.nlmsg_len = len, .nlmsg_type = type, .nlmsg_flags = flags,
		.nlmsg_seq = seq, .nlmsg_pid = pid,
	};

	memcpy(p, &h, sizeof(h));
}

static void attr_get(const uint8_t *p, uint16_t *len, uint16_t *type)
{
	struct nlattr a;

	memcpy(&a, p, sizeof(a));
	*len = a.nla_len;
	*type = a.nla_type;
}

/* The header of a message that lies whole in len bytes; -EBADMSG otherwise. */
static int whole_msg(const uint8_t *p, size_t len, struct nlmsghdr *h)
{
	if (len < NLMSG_HDRLEN)
		return -EBADMSG;
	hdr_get(p, h);
	if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len)
		return -EBADMSG;
	return 0;
}

/* An attribute with its payload and zeroed padding; returns the bytes it takes. */
static size_t attr_put(uint8_t *p, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type };
	size_t total = NLA_ALIGN(NLA_HDRLEN + len);

	memcpy(p, &a, sizeof(a));
	memcpy(p + NLA_HDRLEN, data, len);
	memset(p + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
	return total;
}

/* --- the responder's side ------------------------------------------------- */

int nl_ls_frame(const void *buf, size_t len, struct nlmsghdr *hdr)
{
	struct nlmsghdr h;
	size_t step;

	if (len < NLMSG_HDRLEN || len > INT_MAX)
		return -EBADMSG;
	hdr_get(buf, &h);
	if (h.nlmsg_len < NLMSG_HDRLEN)
		return -EBADMSG;
	/* not NLMSG_ALIGN(): its mask is an unsigned int, which would clear the high bits */
	step = ((size_t)h.nlmsg_len + NLMSG_ALIGNTO - 1) & ~(size_t)(NLMSG_ALIGNTO - 1);
	*hdr = h;
	return (int)(step < len ? step : len);
}

enum nl_ls_class nl_ls_classify(const struct nlmsghdr *hdr)
{
	if (RDMA_NL_GET_CLIENT(hdr->nlmsg_type) != RDMA_NL_LS || !(hdr->nlmsg_flags & NLM_F_REQUEST))
		return NL_LS_IGNORE;
	switch (RDMA_NL_GET_OP(hdr->nlmsg_type)) {
	case RDMA_NL_LS_OP_RESOLVE:
		return NL_LS_RESOLVE;
	case RDMA_NL_LS_OP_SET_TIMEOUT:
		return NL_LS_IGNORE;
	default:
		return NL_LS_REFUSE;
	}
}

/* The payload size each RESOLVE attribute must have, and its NL_LS_HAS_* bit; 0 if unknown. */
static int attr_spec(uint16_t type, size_t *size)
{
	switch (type) {
	case LS_NLA_TYPE_SERVICE_ID: *size = sizeof(uint64_t); return NL_LS_HAS_SERVICE_ID;
	case LS_NLA_TYPE_DGID: *size = sizeof(struct rdma_nla_ls_gid); return NL_LS_HAS_DGID;
	case LS_NLA_TYPE_SGID: *size = sizeof(struct rdma_nla_ls_gid); return NL_LS_HAS_SGID;
	case LS_NLA_TYPE_TCLASS: *size = sizeof(uint8_t); return NL_LS_HAS_TCLASS;
	case LS_NLA_TYPE_PKEY: *size = sizeof(uint16_t); return NL_LS_HAS_PKEY;
	case LS_NLA_TYPE_QOS_CLASS: *size = sizeof(uint16_t); return NL_LS_HAS_QOS_CLASS;
	default: return 0;
	}
}

static void attr_store(struct nl_ls_resolve *r, int bit, const uint8_t *data)
{
	switch (bit) {
	case NL_LS_HAS_SERVICE_ID: memcpy(&r->service_id, data, sizeof(r->service_id)); break;
	case NL_LS_HAS_DGID: memcpy(r->dgid.raw, data, sizeof(r->dgid.raw)); break;
	case NL_LS_HAS_SGID: memcpy(r->sgid.raw, data, sizeof(r->sgid.raw)); break;
	case NL_LS_HAS_TCLASS: r->tclass = data[0]; break;
	case NL_LS_HAS_PKEY: memcpy(&r->pkey, data, sizeof(r->pkey)); break;
	case NL_LS_HAS_QOS_CLASS: memcpy(&r->qos_class, data, sizeof(r->qos_class)); break;
	}
}

int nl_ls_resolve_decode(const void *msg, size_t len, struct nl_ls_resolve *out)
{
	const uint8_t *p = msg;
	struct nl_ls_resolve r;
	struct nlmsghdr h;
	size_t off, end;

	if (whole_msg(p, len, &h) || h.nlmsg_len % NLMSG_ALIGNTO)
		return -EBADMSG;
	if (h.nlmsg_len > NL_LS_MSG_MAX)
		return -EMSGSIZE;
	if (h.nlmsg_type != RESOLVE_TYPE)
		return -EOPNOTSUPP;
	if (!(h.nlmsg_flags & NLM_F_REQUEST) || h.nlmsg_len < OFF_ATTRS)
		return -EBADMSG;

	memset(&r, 0, sizeof(r));
	r.seq = h.nlmsg_seq;
	if (!memchr(p + OFF_NAME, '\0', LS_DEVICE_NAME_MAX))
		return -EINVAL;
	/* up to the NUL: bytes after it are not part of the name */
	memcpy(r.device_name, p + OFF_NAME, strnlen((const char *)p + OFF_NAME, LS_DEVICE_NAME_MAX));
	r.port_num = p[OFF_PORT];
	r.path_use = p[OFF_PATH_USE];

	end = h.nlmsg_len;
	for (off = OFF_ATTRS; off < end;) {
		size_t rem = end - off, size, padded;
		uint16_t alen, type;
		int bit;

		if (rem < NLA_HDRLEN)
			return -EBADMSG;
		attr_get(p + off, &alen, &type);
		padded = NLA_ALIGN((size_t)alen);
		if (alen < NLA_HDRLEN || padded > rem)
			return -EBADMSG;
		bit = attr_spec(type & RDMA_NLA_TYPE_MASK, &size);
		if (!bit) {
			if (type & RDMA_NLA_F_MANDATORY)
				return -EPROTO;
		} else if ((size_t)alen - NLA_HDRLEN != size) {
			return -EINVAL;
		} else if (r.has & bit) {
			return -EEXIST;
		} else {
			attr_store(&r, bit, p + off + NLA_HDRLEN);
			r.has |= (uint8_t)bit;
		}
		off += padded;
	}
	if ((r.has & NL_LS_HAS_QOS_CLASS) && r.qos_class > 0xfff)
		return -EINVAL;
	if (!(r.has & NL_LS_HAS_DGID))
		return -EDESTADDRREQ;
	*out = r;
	return 0;
}

void nl_ls_resolve_to_query(const struct nl_ls_resolve *req, struct ibv_path_record *q,
			    uint64_t *comp_mask)
{
	uint64_t mask = 0;

	memset(q, 0, sizeof(*q));
	if (req->has & NL_LS_HAS_SERVICE_ID) {
		pr_set_service_id(q, req->service_id);
		mask |= PR_CM_SERVICE_ID;
	}
	if (req->has & NL_LS_HAS_DGID) {
		pr_set_dgid(q, &req->dgid);
		mask |= PR_CM_DGID;
	}
	if (req->has & NL_LS_HAS_SGID) {
		pr_set_sgid(q, &req->sgid);
		mask |= PR_CM_SGID;
	}
	if (req->has & NL_LS_HAS_TCLASS) {
		pr_set_tclass(q, req->tclass);
		mask |= PR_CM_TCLASS;
	}
	if (req->has & NL_LS_HAS_PKEY) {
		pr_set_pkey(q, req->pkey);
		mask |= PR_CM_PKEY;
	}
	if (req->has & NL_LS_HAS_QOS_CLASS) {
		pr_set_qos_class(q, req->qos_class);
		mask |= PR_CM_QOS_CLASS;
	}
	/* The kernel says "reversible" through path_use alone (ib_nl_set_path_rec_attrs()). */
	if (req->path_use != LS_RESOLVE_PATH_USE_UNIDIRECTIONAL) {
		pr_set_numb_path(q, 0, true);
		mask |= PR_CM_REVERSIBLE;
	}
	*comp_mask = mask;
}

uint32_t nl_ls_path_flags(uint8_t path_use, bool primary)
{
	uint32_t role = primary ? IB_PATH_PRIMARY : IB_PATH_ALTERNATE;

	if (path_use == LS_RESOLVE_PATH_USE_UNIDIRECTIONAL)
		return role | IB_PATH_OUTBOUND;
	return role | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL;
}

int nl_ls_answer_encode(void *buf, size_t cap, const struct nlmsghdr *req, uint8_t path_use,
			const struct ibv_path_record *paths, size_t n, uint32_t pid)
{
	uint8_t *p = buf;
	size_t len, off = NLMSG_HDRLEN;

	if (n < 1 || n > NL_LS_MAX_PATHS)
		return -EINVAL;
	len = NLMSG_HDRLEN + n * NL_LS_PATH_ATTR_LEN;
	if (cap < len)
		return -EMSGSIZE;
	hdr_put(p, (uint32_t)len, req->nlmsg_type, 0, req->nlmsg_seq, pid);
	for (size_t i = 0; i < n; i++) {
		uint8_t rec[sizeof(struct ib_path_rec_data)];
		uint32_t flags = nl_ls_path_flags(path_use, i == 0);

		memset(rec, 0, sizeof(rec));
		memcpy(rec + REC_OFF_FLAGS, &flags, sizeof(flags));
		pr_encode(rec + REC_OFF_PATH, &paths[i]);
		off += attr_put(p + off, LS_NLA_TYPE_PATH_RECORD, rec, sizeof(rec));
	}
	return (int)len;
}

int nl_ls_error_encode(void *buf, size_t cap, const struct nlmsghdr *req, uint32_t pid)
{
	if (cap < NL_LS_ERROR_LEN)
		return -EMSGSIZE;
	hdr_put(buf, NL_LS_ERROR_LEN, req->nlmsg_type, RDMA_NL_LS_F_ERR, req->nlmsg_seq, pid);
	return NL_LS_ERROR_LEN;
}

int nl_ls_set_timeout_encode(void *buf, size_t cap, uint32_t seq, uint32_t pid,
			     uint32_t timeout_ms, bool ack)
{
	uint8_t *p = buf;

	if (cap < NL_LS_SET_TIMEOUT_LEN)
		return -EMSGSIZE;
	hdr_put(p, NL_LS_SET_TIMEOUT_LEN, RDMA_NL_GET_TYPE(RDMA_NL_LS, RDMA_NL_LS_OP_SET_TIMEOUT),
		(uint16_t)(NLM_F_REQUEST | (ack ? NLM_F_ACK : 0)), seq, pid);
	attr_put(p + NLMSG_HDRLEN, LS_NLA_TYPE_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
	return NL_LS_SET_TIMEOUT_LEN;
}

int nl_ls_ack_decode(const void *msg, size_t len, struct nlmsghdr *orig, int *error)
{
	const uint8_t *p = msg;
	struct nlmsghdr h;
	int e;

	if (len < NLMSG_HDRLEN)
		return -EBADMSG;
	hdr_get(p, &h);
	if (h.nlmsg_type != NLMSG_ERROR)
		return -ENOMSG;
	if (h.nlmsg_len > len || h.nlmsg_len < NLMSG_HDRLEN + sizeof(struct nlmsgerr))
		return -EBADMSG;
	memcpy(&e, p + NLMSG_HDRLEN + offsetof(struct nlmsgerr, error), sizeof(e));
	hdr_get(p + NLMSG_HDRLEN + offsetof(struct nlmsgerr, msg), orig);
	*error = e;
	return 0;
}

/* --- the kernel's side ------------------------------------------------------ */

uint8_t nl_ls_kernel_path_use(enum nl_ls_kernel gen, bool reversible)
{
	if (!reversible)
		return LS_RESOLVE_PATH_USE_UNIDIRECTIONAL;
	return gen == NL_LS_KERNEL_MULTI ? LS_RESOLVE_PATH_USE_ALL : LS_RESOLVE_PATH_USE_GMP;
}

int nl_ls_resolve_encode(void *buf, size_t cap, const struct nl_ls_resolve *req)
{
	const uint16_t m = RDMA_NLA_F_MANDATORY;
	uint8_t *p = buf;
	size_t len = OFF_ATTRS, name_len;

	if (req->has & NL_LS_HAS_SERVICE_ID)
		len += NLA_ALIGN(NLA_HDRLEN + sizeof(req->service_id));
	if (req->has & NL_LS_HAS_DGID)
		len += NLA_ALIGN(NLA_HDRLEN + sizeof(req->dgid));
	if (req->has & NL_LS_HAS_SGID)
		len += NLA_ALIGN(NLA_HDRLEN + sizeof(req->sgid));
	if (req->has & NL_LS_HAS_TCLASS)
		len += NLA_ALIGN(NLA_HDRLEN + sizeof(req->tclass));
	if (req->has & NL_LS_HAS_PKEY)
		len += NLA_ALIGN(NLA_HDRLEN + sizeof(req->pkey));
	if (req->has & NL_LS_HAS_QOS_CLASS)
		len += NLA_ALIGN(NLA_HDRLEN + sizeof(req->qos_class));
	if (len == OFF_ATTRS || cap < len)
		return -EMSGSIZE;

	hdr_put(p, (uint32_t)len, RESOLVE_TYPE, NLM_F_REQUEST, req->seq, 0);
	memset(p + OFF_NAME, 0, NL_LS_RESOLVE_HDR_LEN);
	name_len = strnlen(req->device_name, LS_DEVICE_NAME_MAX - 1);	/* strscpy_pad() */
	memcpy(p + OFF_NAME, req->device_name, name_len);
	p[OFF_PORT] = req->port_num;
	p[OFF_PATH_USE] = req->path_use;

	len = OFF_ATTRS;
	if (req->has & NL_LS_HAS_SERVICE_ID)
		len += attr_put(p + len, m | LS_NLA_TYPE_SERVICE_ID, &req->service_id,
				sizeof(req->service_id));
	if (req->has & NL_LS_HAS_DGID)
		len += attr_put(p + len, m | LS_NLA_TYPE_DGID, req->dgid.raw, sizeof(req->dgid));
	if (req->has & NL_LS_HAS_SGID)
		len += attr_put(p + len, m | LS_NLA_TYPE_SGID, req->sgid.raw, sizeof(req->sgid));
	if (req->has & NL_LS_HAS_TCLASS)
		len += attr_put(p + len, m | LS_NLA_TYPE_TCLASS, &req->tclass, sizeof(req->tclass));
	if (req->has & NL_LS_HAS_PKEY)
		len += attr_put(p + len, m | LS_NLA_TYPE_PKEY, &req->pkey, sizeof(req->pkey));
	if (req->has & NL_LS_HAS_QOS_CLASS)
		len += attr_put(p + len, m | LS_NLA_TYPE_QOS_CLASS, &req->qos_class,
				sizeof(req->qos_class));
	return (int)len;
}

/*
 * nla_parse_deprecated(tb, LS_NLA_TYPE_MAX - 1, ..., ib_nl_policy): the liberal walk (stops at
 * the first attribute that does not fit, leftover bytes only warned about; type 0 and types
 * over the maximum, which includes every type carrying RDMA_NLA_F_MANDATORY, skipped) and the
 * policy's length checks: NLA_BINARY at most its len, NLA_U* at least their size (a longer one
 * is only warned about). tb gets the last attribute of each type. 0 or -ERANGE.
 */
static int kernel_parse(const uint8_t *p, long len, const uint8_t *tb[LS_NLA_TYPE_MAX])
{
	long rem = len;

	memset(tb, 0, sizeof(*tb) * LS_NLA_TYPE_MAX);
	while (rem >= NLA_HDRLEN) {
		uint16_t alen, type;
		long attrlen;

		attr_get(p, &alen, &type);
		if (alen < NLA_HDRLEN || alen > rem)
			break;
		type &= NLA_TYPE_MASK;
		attrlen = alen - NLA_HDRLEN;
		if (type > 0 && type < LS_NLA_TYPE_MAX) {
			bool ok;

			switch (type) {
			case LS_NLA_TYPE_PATH_RECORD: ok = attrlen <= (long)sizeof(struct ib_path_rec_data); break;
			case LS_NLA_TYPE_DGID:
			case LS_NLA_TYPE_SGID: ok = attrlen <= (long)sizeof(struct rdma_nla_ls_gid); break;
			case LS_NLA_TYPE_TIMEOUT: ok = attrlen >= 4; break;
			case LS_NLA_TYPE_SERVICE_ID: ok = attrlen >= 8; break;
			case LS_NLA_TYPE_TCLASS: ok = attrlen >= 1; break;
			case LS_NLA_TYPE_PKEY:
			case LS_NLA_TYPE_QOS_CLASS: ok = attrlen >= 2; break;
			default: ok = true; break;	/* IPV4, IPV6: no policy entry */
			}
			if (!ok)
				return -ERANGE;
			tb[type] = p;
		}
		rem -= NLA_ALIGN(alen);
		p += NLA_ALIGN(alen);
	}
	return 0;
}

/* The mask ib_nl_process_good_resolve_rsp() applies for path_use. */
static uint32_t kernel_mask(uint8_t path_use, enum nl_ls_kernel gen)
{
	if (path_use == LS_RESOLVE_PATH_USE_UNIDIRECTIONAL)
		return IB_PATH_PRIMARY | IB_PATH_OUTBOUND;
	if (path_use == LS_RESOLVE_PATH_USE_ALL && gen == NL_LS_KERNEL_MULTI)
		return IB_PATH_PRIMARY;
	return IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL;
}

int nl_ls_answer_judge(const void *msg, size_t len, uint8_t path_use, enum nl_ls_kernel gen,
		       struct nl_ls_taken *out)
{
	const uint8_t *p = msg, *tb[LS_NLA_TYPE_MAX], *a;
	unsigned max = gen == NL_LS_KERNEL_MULTI ? NL_LS_KERNEL_MAX_TAKEN : 1;
	uint32_t mask = kernel_mask(path_use, gen);
	struct nl_ls_taken t;
	struct nlmsghdr h;
	long rem;

	if (whole_msg(p, len, &h))
		return -EBADMSG;
	if (h.nlmsg_flags & NLM_F_REQUEST)
		return -EPERM;
	if (h.nlmsg_flags & RDMA_NL_LS_F_ERR)
		return -EREMOTEIO;
	rem = (long)h.nlmsg_len - NLMSG_HDRLEN;
	if (kernel_parse(p + NLMSG_HDRLEN, rem, tb))
		return -ERANGE;

	/* nla_for_each_attr() over the same bytes; the bare type, as the kernel compares it */
	memset(&t, 0, sizeof(t));
	for (a = p + NLMSG_HDRLEN; rem >= NLA_HDRLEN;) {
		uint16_t alen, type;
		uint32_t flags;

		attr_get(a, &alen, &type);
		if (alen < NLA_HDRLEN || alen > rem)
			break;
		if (type == LS_NLA_TYPE_PATH_RECORD) {
			if (alen - NLA_HDRLEN < (long)sizeof(struct ib_path_rec_data))
				return -EOVERFLOW;
			memcpy(&flags, a + NLA_HDRLEN + REC_OFF_FLAGS, sizeof(flags));
			if ((flags & mask) == mask) {
				t.flags[t.n] = flags;
				pr_decode(a + NLA_HDRLEN + REC_OFF_PATH, PR_LEN, &t.recs[t.n]);
				if (++t.n == max)
					break;
			}
		}
		rem -= NLA_ALIGN(alen);
		a += NLA_ALIGN(alen);
	}
	if (!t.n)
		return -EIO;
	if (gen == NL_LS_KERNEL_MULTI && path_use == LS_RESOLVE_PATH_USE_ALL) {
		/* cma_query_handler(): each GMP record in turn becomes the route's path */
		bool found = false;

		for (unsigned i = 0; i < t.n; i++)
			if (t.flags[i] & IB_PATH_GMP) {
				t.chosen = i;
				found = true;
			}
		if (!found)
			return -ENOLINK;
	}
	*out = t;
	return 0;
}

int nl_ls_set_timeout_apply(const void *msg, size_t len, uint32_t *timeout_ms)
{
	const uint8_t *p = msg, *tb[LS_NLA_TYPE_MAX];
	struct nlmsghdr h;
	int32_t v;

	if (whole_msg(p, len, &h))
		return -EBADMSG;
	if (!(h.nlmsg_flags & NLM_F_REQUEST))
		return -EPERM;
	if (kernel_parse(p + NLMSG_HDRLEN, (long)h.nlmsg_len - NLMSG_HDRLEN, tb) ||
	    !tb[LS_NLA_TYPE_TIMEOUT])
		return -ENODATA;
	memcpy(&v, tb[LS_NLA_TYPE_TIMEOUT] + NLA_HDRLEN, sizeof(v));
	if (v < NL_LS_TIMEOUT_MIN)
		v = NL_LS_TIMEOUT_MIN;
	if (v > NL_LS_TIMEOUT_MAX)
		v = NL_LS_TIMEOUT_MAX;
	*timeout_ms = (uint32_t)v;
	return 0;
}

int nl_ls_ack_encode(void *buf, size_t cap, const void *orig, size_t orig_len, int error)
{
	uint8_t *p = buf;
	struct nlmsghdr o;
	size_t payload = 0, len;

	if (orig_len < NLMSG_HDRLEN)
		return -EINVAL;
	hdr_get(orig, &o);
	if (error && o.nlmsg_len >= NLMSG_HDRLEN && o.nlmsg_len <= orig_len)
		payload = o.nlmsg_len - NLMSG_HDRLEN;
	len = NLMSG_HDRLEN + sizeof(struct nlmsgerr) + payload;
	if (cap < len || len > UINT32_MAX)
		return -EMSGSIZE;
	hdr_put(p, (uint32_t)len, NLMSG_ERROR, error ? 0 : NLM_F_CAPPED, o.nlmsg_seq, o.nlmsg_pid);
	memcpy(p + NLMSG_HDRLEN + offsetof(struct nlmsgerr, error), &error, sizeof(error));
	memcpy(p + NLMSG_HDRLEN + offsetof(struct nlmsgerr, msg), orig, NLMSG_HDRLEN);
	memcpy(p + NLMSG_HDRLEN + sizeof(struct nlmsgerr), (const uint8_t *)orig + NLMSG_HDRLEN,
	       payload);
	return (int)len;
}
