/*
 * acm_msg - the ibacm socket protocol (<infiniband/acm.h>) as localsa speaks it: framing,
 * validation of requests, encoding of replies. Pure: no I/O, no logging, no globals.
 *
 * The wire quirks, as rdma-core's ibacm and libacm implement them: a RESOLVE carries its header
 * fields (length, tid) and its 72-byte acm_ep_addr_data entries in host order, the path records
 * inside in network order; PERF_QUERY and EP_QUERY carry a big-endian length (their entries stay
 * host order). A reply has the request's opcode | ACM_OP_ACK; an error reply is the header alone,
 * length 16, with an ACM status. Decoded entries use acm.h's own structs.
 */
#ifndef LOCALSA_WIRE_ACM_MSG_H
#define LOCALSA_WIRE_ACM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/acm.h>

enum {
	ACM_MSG_MAX_LEN = ACM_MSG_HDR_LENGTH + ACM_MSG_DATA_LENGTH,	/* 592 = sizeof(struct acm_msg) */
	ACM_MSG_MAX_EPS = ACM_MSG_DATA_LENGTH / ACM_MSG_EP_LENGTH,	/* 8 entries */
	ACM_MSG_EP_CONFIG_LEN = 80,	/* struct acm_ep_config_data without addrs[] */
	ACM_MSG_EP_MAX_ADDRS = (ACM_MSG_DATA_LENGTH - ACM_MSG_EP_CONFIG_LEN) / ACM_MAX_ADDRESS, /* 7 */
	ACM_MSG_MAX_COUNTERS = ACM_MSG_DATA_LENGTH / 8,		/* 72 */
};

/*
 * acm.h's ACM_FLAGS_QUERY_SA is (1<<31) on an int: the shift overflows, undefined behaviour
 * that UBSan reports wherever the macro is evaluated. The same two bits, unsigned:
 */
#define ACM_MSG_FLAG_QUERY_SA 0x80000000u	/* ask the SA (ib_acme -v) */
#define ACM_MSG_FLAG_NODELAY 0x40000000u	/* cache only (ib_acme -c) */

/*
 * Address types of an entry beyond acm.h's NAME/IP/IP6 (1..3) and PATH (0x10): ibacm accepts
 * its internal ACM_ADDRESS_GID and ACM_ADDRESS_LID (acm_mad.h) too. A GID entry holds the 16 raw
 * bytes, a LID entry the LID big-endian in its first two bytes.
 */
enum {
	ACM_MSG_EP_GID = 0x0004,
	ACM_MSG_EP_LID = 0x0005,
	ACM_MSG_EP_RESERVED = 0x0006,	/* first unassigned address type */
};

/* A header in host order. tid is opaque: the 8 bytes as received, echoed unchanged. */
struct acm_msg_hdr {
	uint8_t version, opcode, status;
	uint8_t data[3];	/* acm.h: src_out, src_index, dst_index */
	uint16_t length;
	uint64_t tid;
};

/*
 * Framing for a stream. Decodes the header once len >= 16 (writing *hdr) and returns:
 * the message length when buf holds the whole message; 0 when more bytes are needed;
 * -EPROTO when the version is not ACM_VERSION, -EMSGSIZE when the length is outside
 * 16..ACM_MSG_MAX_LEN. After a negative return the stream cannot be re-synchronised.
 */
int acm_msg_frame(const void *buf, size_t len, struct acm_msg_hdr *hdr);

/*
 * A validated RESOLVE. Two forms, as ibacm takes them:
 *  - path form: entry 0 is ACM_EP_INFO_PATH; its record names the destination (DGID and/or
 *    DLID) and optionally the source (SGID, SLID) and QoS fields; dst == 0, src == -1.
 *  - address form: one entry flagged ACM_EP_FLAG_DEST, at most one ACM_EP_FLAG_SOURCE, each of
 *    a type in 1..5; src is -1 when the source was left to the service.
 * flags are the destination entry's (ACM_MSG_FLAG_QUERY_SA, ACM_MSG_FLAG_NODELAY).
 */
struct acm_msg_resolve {
	unsigned n_eps;
	bool path_form;
	int src, dst;
	uint32_t flags;
	struct acm_ep_addr_data ep[ACM_MSG_MAX_EPS];
};

/*
 * msg/len: a whole message as acm_msg_frame() delimited it. Returns ACM_STATUS_SUCCESS or the
 * status its error reply must carry: EINVAL (length not 16 + k*72 with k >= 1), EDESTADDR
 * (no or zero destination, several destinations), EDESTTYPE (none flagged, bad type), ESRCADDR
 * (several sources, zero GID/LID), ESRCTYPE (bad type). *out is written on success only.
 */
uint8_t acm_msg_resolve_decode(const void *msg, size_t len, struct acm_msg_resolve *out);

/* The GID / LID an ACM_MSG_EP_GID / ACM_MSG_EP_LID entry holds. */
void acm_msg_ep_gid(const struct acm_ep_addr_data *ep, union ibv_gid *gid);
uint16_t acm_msg_ep_lid(const struct acm_ep_addr_data *ep);

/* PERF_QUERY: index = hdr.src_index (0: the whole service); an entry when len >= 88. */
struct acm_msg_perf {
	uint8_t index;
	bool has_ep;
	struct acm_ep_addr_data ep;
};
uint8_t acm_msg_perf_decode(const void *msg, size_t len, struct acm_msg_perf *out);

/* EP_QUERY: endpoint index (1, 2, ...) in hdr.src_out, port filter (0: any) in hdr.src_index. */
struct acm_msg_ep_query {
	uint8_t index, port;
};
uint8_t acm_msg_ep_query_decode(const void *msg, size_t len, struct acm_msg_ep_query *out);

/* What an EP_QUERY reply says about one endpoint; host order, strings NUL-terminated. */
struct acm_msg_ep_desc {
	uint64_t dev_guid;
	uint8_t port_num, phys_port_cnt;
	uint16_t pkey;
	char prov_name[ACM_MAX_PROV_NAME];
	unsigned n_addrs;	/* <= ACM_MSG_EP_MAX_ADDRS */
	char addrs[ACM_MSG_EP_MAX_ADDRS][ACM_MAX_ADDRESS];
};

/*
 * Encoders. buf holds ACM_MSG_MAX_LEN bytes; each returns the reply's length. Every reply has
 * version ACM_VERSION, echoes req's tid, sets opcode = req->opcode | ACM_OP_ACK, and writes its
 * length in the request's byte order (host for RESOLVE, big-endian otherwise).
 */
/* The header alone with status (!= SUCCESS); src_out etc. zeroed. 16 bytes. */
size_t acm_msg_error_encode(void *buf, const struct acm_msg_hdr *req, uint8_t status);
/* RESOLVE success: one ACM_EP_INFO_PATH entry carrying path (network order) with path_flags. */
size_t acm_msg_resolve_reply_encode(void *buf, const struct acm_msg_hdr *req,
				    const struct ibv_path_record *path, uint32_t path_flags);
/* PERF_QUERY: n (<= ACM_MSG_MAX_COUNTERS) big-endian counters; src_out = n, src_index kept. */
size_t acm_msg_perf_reply_encode(void *buf, const struct acm_msg_hdr *req,
				 const uint64_t *counters, unsigned n);
/* EP_QUERY: one acm_ep_config_data; src_out (the index) kept, src_index and dst_index zeroed. */
size_t acm_msg_ep_reply_encode(void *buf, const struct acm_msg_hdr *req,
			       const struct acm_msg_ep_desc *ep);

/*
 * The PathRecord component mask (PR_CM_*) of the fields a client's record sets, as ibacm reads
 * one: each non-zero field constrains (selectors and values separately for MTU, rate and
 * packet lifetime).
 */
uint64_t acm_msg_path_mask(const struct ibv_path_record *path);

/* "SUCCESS", "EINVAL", "ENODATA", ...; never NULL. */
const char *acm_msg_status_str(uint8_t status);

#endif
