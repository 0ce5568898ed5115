/*
 * nl_ls - the kernel's RDMA netlink local service (NETLINK_RDMA, client RDMA_NL_LS, multicast
 * group RDMA_NL_GROUP_LS), both sides of it. The responder's side decodes the kernel's RESOLVE
 * request and encodes the answer, the error reply and SET_TIMEOUT (the netlink door); the
 * kernel's side builds a RESOLVE as ib_nl_make_request() does and judges an answer as
 * ib_nl_handle_resolve_resp() does (the kernel double lsa_nlkernel, and the tests). Pure.
 *
 * Layouts come from <linux/netlink.h>, <rdma/rdma_netlink.h> and <rdma/ib_user_sa.h>; behaviour
 * from the kernel's drivers/infiniband/core/sa_query.c and rdma-core's ibacm (acm_nl_*). Netlink
 * headers and the u16/u32/u64 attributes travel in host order; GIDs and the 64-byte PathRecord
 * inside struct ib_path_rec_data in network order.
 */
#ifndef LOCALSA_WIRE_NL_LS_H
#define LOCALSA_WIRE_NL_LS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>	/* before rdma_netlink.h: RDMA_NLA_TYPE_MASK uses NLA_F_NESTED */
#include <rdma/ib_user_sa.h>
#include <rdma/rdma_netlink.h>

#include <infiniband/sa.h>

enum {
	/* bind()'s nl_groups bit for the group; setsockopt(NETLINK_ADD_MEMBERSHIP) takes the number */
	NL_LS_GROUP_MASK = 1u << (RDMA_NL_GROUP_LS - 1),
	NL_LS_RESOLVE_HDR_LEN = NLMSG_ALIGN(sizeof(struct rdma_ls_resolve_header)),	/* 68 */
	/* the largest RESOLVE the kernel sends: every attribute once */
	NL_LS_RESOLVE_MAX = NLMSG_HDRLEN + NL_LS_RESOLVE_HDR_LEN + NLA_ALIGN(NLA_HDRLEN + 8) +
			    2 * NLA_ALIGN(NLA_HDRLEN + 16) + NLA_ALIGN(NLA_HDRLEN + 1) +
			    2 * NLA_ALIGN(NLA_HDRLEN + 2),				/* 160 */
	NL_LS_MSG_MAX = 4096,	/* a request longer than this is refused unread */
	NL_LS_PATH_ATTR_LEN = NLA_HDRLEN + sizeof(struct ib_path_rec_data),		/* 76 */
	NL_LS_MAX_PATHS = 64,	/* paths in one answer (LMC 3: 64 per pair) */
	NL_LS_ANSWER_MAX = NLMSG_HDRLEN + NL_LS_MAX_PATHS * NL_LS_PATH_ATTR_LEN,	/* 4880 */
	NL_LS_ERROR_LEN = NLMSG_HDRLEN,
	NL_LS_SET_TIMEOUT_LEN = NLMSG_HDRLEN + NLA_HDRLEN + 4,				/* 24 */
	/* sa_query.c: IB_SA_LOCAL_SVC_TIMEOUT_{MIN,DEFAULT,MAX}, in ms */
	NL_LS_TIMEOUT_MIN = 100,
	NL_LS_TIMEOUT_DEFAULT = 2000,
	NL_LS_TIMEOUT_MAX = 200000,
	/* rdma_cm.h: RDMA_PRIMARY_PATH_MAX_REC_NUM, the records a 6.1+ kernel takes from one answer */
	NL_LS_KERNEL_MAX_TAKEN = 3,
};

/* =========================== the responder's side =========================== */

/*
 * One netlink message at the start of buf (a datagram may hold several). On success writes
 * *hdr (host order, as received) and returns the bytes to step over to the next message:
 * NLMSG_ALIGN(nlmsg_len), at most len. -EBADMSG when len < 16 or nlmsg_len < 16: no message
 * (the kernel's netlink core stops there too). A message may claim more bytes than len holds
 * (a truncated datagram): nl_ls_resolve_decode() refuses it, yet its header can be answered.
 */
int nl_ls_frame(const void *buf, size_t len, struct nlmsghdr *hdr);

/* What a responder does with a framed message. */
enum nl_ls_class {
	/*
	 * Not a local-service request: other netlink clients, control messages (the kernel's
	 * NLMSG_ERROR acks), replies (no NLM_F_REQUEST: another responder's answer, multicast to
	 * the group) and SET_TIMEOUT (sent by responders, never by the kernel). Answering these
	 * would make two responders answer each other's errors for ever.
	 */
	NL_LS_IGNORE,
	/* A local-service request that is not RESOLVE (IP_RESOLVE, an unknown op): the error reply. */
	NL_LS_REFUSE,
	/* A RESOLVE request: nl_ls_resolve_decode(), then the answer or the error reply. */
	NL_LS_RESOLVE,
};
enum nl_ls_class nl_ls_classify(const struct nlmsghdr *hdr);

/* Attributes a RESOLVE carried. */
enum {
	NL_LS_HAS_SERVICE_ID = 1 << 0,
	NL_LS_HAS_DGID = 1 << 1,
	NL_LS_HAS_SGID = 1 << 2,
	NL_LS_HAS_TCLASS = 1 << 3,
	NL_LS_HAS_PKEY = 1 << 4,
	NL_LS_HAS_QOS_CLASS = 1 << 5,
};

/* A RESOLVE request: what ib_nl_set_path_rec_attrs() put in it, fields given or not (has). */
struct nl_ls_resolve {
	uint32_t seq;
	char device_name[LS_DEVICE_NAME_MAX];	/* NUL-terminated */
	uint8_t port_num;
	uint8_t path_use;		/* LS_RESOLVE_PATH_USE_*; others are answered as GMP, as
					 * the kernel reads them */
	uint8_t has;			/* NL_LS_HAS_* */
	uint8_t tclass;
	uint16_t pkey, qos_class;	/* host order, as the kernel sends them; qos_class < 4096 */
	uint64_t service_id;		/* host order */
	union ibv_gid dgid, sgid;	/* network order */
};

/*
 * msg/len: one message (len = the bytes received from its start). Returns 0 and fills *out,
 * or (nothing written):
 *  -EBADMSG       the framing: shorter than its header, nlmsg_len outside 16..len or not a
 *                 multiple of 4, no NLM_F_REQUEST, no family header, an attribute that overruns
 *                 the message or lacks its padding, trailing bytes
 *  -EMSGSIZE      nlmsg_len over NL_LS_MSG_MAX
 *  -EOPNOTSUPP    not RDMA_NL_LS / RDMA_NL_LS_OP_RESOLVE
 *  -EINVAL        an attribute of the wrong size for its type, a device name without NUL,
 *                 a QoS class over 12 bits
 *  -EEXIST        an attribute given twice
 *  -EPROTO        an unknown attribute flagged RDMA_NLA_F_MANDATORY
 *  -EDESTADDRREQ  no DGID: nothing to resolve
 * Unknown attributes without the mandatory flag are skipped. Every failure after a successful
 * nl_ls_frame() gets the error reply.
 */
int nl_ls_resolve_decode(const void *msg, size_t len, struct nl_ls_resolve *out);

/*
 * The PathRecord query the request stands for, and its component mask (PR_CM_*): exactly the
 * attributes given; Reversible (value 1, PR_CM_REVERSIBLE) unless path_use is UNIDIRECTIONAL.
 * A door turns it into the resolver's request with
 *     struct ibv_path_record q; uint64_t mask; struct pr_request preq;
 *     nl_ls_resolve_to_query(&req, &q, &mask);
 *     pr_request_from_record(&preq, &q, mask);	(cache/pr_store.h; Reversible is ignored)
 */
void nl_ls_resolve_to_query(const struct nl_ls_resolve *req, struct ibv_path_record *q,
			    uint64_t *comp_mask);

/*
 * The flags of an answer's path record: the primary (the first path) carries every bit the
 * kernel's mask for that path_use requires (ib_nl_process_good_resolve_rsp()):
 *   UNIDIRECTIONAL  IB_PATH_PRIMARY | IB_PATH_OUTBOUND
 *   GMP, ALL, other IB_PATH_PRIMARY | IB_PATH_GMP | IB_PATH_BIDIRECTIONAL
 * Further paths (LMC) carry IB_PATH_ALTERNATE instead of IB_PATH_PRIMARY, so that no kernel
 * takes them in the primary's place (a 6.1+ kernel takes up to three PRIMARY records and
 * rdma_cm keeps the last GMP one).
 */
uint32_t nl_ls_path_flags(uint8_t path_use, bool primary);

/*
 * Encoders. Each returns the message's length, or -EMSGSIZE when cap is too small (nothing
 * written). pid is the responder's netlink port id (nlmsg_pid), as ibacm sets it.
 */
/* The answer to req: its type and seq, flags 0, one LS_NLA_TYPE_PATH_RECORD attribute per path
 * (no RDMA_NLA_F_MANDATORY: the kernel matches the bare type), paths[0] the primary.
 * -EINVAL unless 1 <= n <= NL_LS_MAX_PATHS. */
int nl_ls_answer_encode(void *buf, size_t cap, const struct nlmsghdr *req, uint8_t path_use,
			const struct ibv_path_record *paths, size_t n, uint32_t pid);
/* The error reply to req: the header alone, its type and seq, flags RDMA_NL_LS_F_ERR. */
int nl_ls_error_encode(void *buf, size_t cap, const struct nlmsghdr *req, uint32_t pid);
/* SET_TIMEOUT (NLM_F_REQUEST, | NLM_F_ACK if ack): LS_NLA_TYPE_TIMEOUT, u32 ms, no mandatory
 * flag (the kernel's parser would skip the attribute). The kernel clamps to 100..200000. */
int nl_ls_set_timeout_encode(void *buf, size_t cap, uint32_t seq, uint32_t pid,
			     uint32_t timeout_ms, bool ack);

/*
 * A netlink ack (NLMSG_ERROR) from the kernel: the header of the message it answers and its
 * error (0 or a negative errno; -EPERM when the responder lacks CAP_NET_ADMIN). 0 on success,
 * -ENOMSG when msg is not NLMSG_ERROR, -EBADMSG when it is too short.
 */
int nl_ls_ack_decode(const void *msg, size_t len, struct nlmsghdr *orig, int *error);

/* ============================ the kernel's side ============================= */

/* The two generations of ib_nl_process_good_resolve_rsp(). */
enum nl_ls_kernel {
	/* 4.3 - 6.0: a reversible query is sent as GMP; the first record with every bit of the
	 * mask is taken; ALL and GMP share the mask PRIMARY | GMP | BIDIRECTIONAL. */
	NL_LS_KERNEL_LEGACY,
	/* 6.1 on: a reversible query is sent as ALL, whose mask is PRIMARY alone; up to three
	 * matching records are taken and rdma_cm uses the last one flagged GMP. */
	NL_LS_KERNEL_MULTI,
};

/* The path_use the kernel puts in a request (ib_nl_set_path_rec_attrs()). */
uint8_t nl_ls_kernel_path_use(enum nl_ls_kernel gen, bool reversible);

/*
 * A RESOLVE as ib_nl_make_request() builds it: type RDMA_NL_GET_TYPE(RDMA_NL_LS, RESOLVE),
 * flags NLM_F_REQUEST, seq req->seq, pid 0; the family header (device name NUL-padded, at most
 * 63 characters; the 2 alignment bytes, which the kernel leaves uninitialised, zero); then the
 * attributes req->has names, each flagged RDMA_NLA_F_MANDATORY, in the kernel's order (ServiceID,
 * DGID, SGID, TClass, PKey, QoS class). Returns the length; -EMSGSIZE when cap is too small or
 * when no attribute is given (the kernel sends nothing then, and asks the SA).
 */
int nl_ls_resolve_encode(void *buf, size_t cap, const struct nl_ls_resolve *req);

/* What the kernel took from a good answer. */
struct nl_ls_taken {
	unsigned n;		/* 1 (legacy) .. NL_LS_KERNEL_MAX_TAKEN */
	unsigned chosen;	/* the one the consumer uses: the first, or rdma_cm's last GMP one (ALL) */
	uint32_t flags[NL_LS_KERNEL_MAX_TAKEN];
	struct ibv_path_record recs[NL_LS_KERNEL_MAX_TAKEN];
};

/*
 * One answer (a message of type RESOLVE whose seq matched a pending request of path_use) as
 * ib_nl_handle_resolve_resp() judges it. 0 and *out (written on success only), or:
 *  -EPERM       NLM_F_REQUEST set: refused (the kernel acks -EPERM), the request stays pending
 *  -EREMOTEIO   the error reply (RDMA_NL_LS_F_ERR): the kernel asks the SA
 *  -ERANGE      ib_nl_policy violated (ib_nl_is_good_resolve_resp() false): the kernel asks the SA
 *  -EIO         a good answer without a PATH_RECORD carrying the mask: the consumer gets -EIO,
 *               no SA query
 *  -ENOLINK     (MULTI, ALL) no GMP record among those taken: rdma_cm keeps an unset path
 *  -EOVERFLOW   a PATH_RECORD the kernel looks at is shorter than struct ib_path_rec_data (the
 *               policy allows it): the kernel reads past the attribute
 */
int nl_ls_answer_judge(const void *msg, size_t len, uint8_t path_use, enum nl_ls_kernel gen,
		       struct nl_ls_taken *out);

/*
 * SET_TIMEOUT as ib_nl_handle_set_timeout() takes it: 0 and the new timeout (clamped to
 * 100..200000 ms; the attribute is read as a signed int), -EPERM without NLM_F_REQUEST (the
 * kernel acks -EPERM), -ENODATA when it changes nothing (policy violated, no TIMEOUT attribute).
 */
int nl_ls_set_timeout_apply(const void *msg, size_t len, uint32_t *timeout_ms);

/*
 * The kernel's netlink_ack() to orig (one whole message of orig_len >= 16 bytes): NLMSG_ERROR,
 * orig's seq and pid, struct nlmsgerr with error and orig's header; with error != 0 also orig's
 * payload, else the flag NLM_F_CAPPED. Returns the length or -EMSGSIZE.
 */
int nl_ls_ack_encode(void *buf, size_t cap, const void *orig, size_t orig_len, int error);

#endif
