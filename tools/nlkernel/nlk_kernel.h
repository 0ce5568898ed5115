/*
 * nlk_kernel - the part of the kernel's ib_sa the double plays: the requests it has sent to the
 * RDMA_NL_LS group and waits on (ib_nl_request_list), their timeout (sa_local_svc_timeout_ms,
 * changed by SET_TIMEOUT), and what it does with each message a responder sends
 * (rdma_nl_rcv_skb() -> rdma_nl_rcv_msg() -> ib_nl_handle_resolve_resp() / ..._set_timeout(),
 * netlink acks). No I/O: the caller sends, receives and keeps the clock (microseconds).
 */
#ifndef LOCALSA_NLK_KERNEL_H
#define LOCALSA_NLK_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/nl_ls.h"

enum nlk_outcome {
	NLK_PENDING,
	NLK_PATH,		/* a good answer; the consumer's record is chosen */
	NLK_ERROR_REPLY,	/* RDMA_NL_LS_F_ERR: the kernel asks the SA */
	NLK_TIMEOUT,		/* the kernel asks the SA */
	NLK_NO_LISTENER,	/* nothing sent: the kernel asks the SA */
	NLK_NOT_DELIVERED,	/* every listener's queue full: the kernel asks the SA at once */
	NLK_REJECTED,		/* ib_nl_policy violated: the kernel asks the SA */
	NLK_NO_USABLE,		/* no record with the mask: the consumer gets -EIO */
	NLK_NO_GMP,		/* 6.1+, ALL: no GMP record among those taken */
	NLK_SHORT_ATTR,		/* a PATH_RECORD the kernel reads past */
	NLK_DROPPED,		/* a malformed request left unanswered */
	NLK_ANSWERED_BADLY,	/* a malformed request answered otherwise than with the error reply */
	NLK_N_OUTCOMES
};

/* Text of an outcome as the double prints it (the kernel's consequence included). */
const char *nlk_outcome_str(enum nlk_outcome o);

struct nlk_req {
	uint8_t path_use;
	bool malformed;		/* sent to test the responder: not on the kernel's list */
	bool answerable;	/* malformed, but with a readable local-service request header */
	uint8_t n_taken;
	enum nlk_outcome outcome;
	uint64_t sent_us, deadline_us, done_us;
	struct ibv_path_record chosen;
};

struct nlk_counters {
	uint64_t unknown;	/* answers to a sequence number never sent */
	uint64_t duplicate;	/* a second answer to an answered request */
	uint64_t late;		/* an answer after the timeout */
	uint64_t refused;	/* answers flagged NLM_F_REQUEST: -EPERM, still pending */
	uint64_t set_timeouts;	/* SET_TIMEOUT requests taken */
	uint64_t acks;		/* netlink acks sent */
	uint64_t bad_messages;	/* messages the netlink core stops at (nlmsg_len out of range) */
};

typedef void (*nlk_done_fn)(void *arg, size_t idx);
typedef void (*nlk_ack_fn)(void *arg, const void *msg, size_t len);

struct nlk_kernel {
	enum nl_ls_kernel gen;
	uint32_t timeout_ms;
	uint32_t seq_start;
	size_t n_reqs, cap;
	struct nlk_req *reqs;		/* request idx has seq seq_start + idx */
	size_t *inflight, n_inflight;
	struct nlk_counters c;
	nlk_done_fn done;
	void *arg;
};

/* Room for max_reqs requests; -ENOMEM. done is called once per request as it completes. */
int nlk_kernel_init(struct nlk_kernel *k, enum nl_ls_kernel gen, uint32_t timeout_ms,
		    uint32_t seq_start, size_t max_reqs, nlk_done_fn done, void *arg);
void nlk_kernel_fini(struct nlk_kernel *k);

static inline uint32_t nlk_kernel_seq(const struct nlk_kernel *k, size_t idx)
{
	return k->seq_start + (uint32_t)idx;
}

/* The next request's slot (< max_reqs; the caller counts): outcome NLK_PENDING, not waited on. */
size_t nlk_kernel_add(struct nlk_kernel *k, uint8_t path_use, bool malformed, bool answerable);
/* Sent at now: waited on for the kernel's timeout (a malformed one for wait_ms). */
void nlk_kernel_wait(struct nlk_kernel *k, size_t idx, uint64_t now_us, uint32_t wait_ms);
/* Completed without an answer (NLK_NO_LISTENER, NLK_NOT_DELIVERED). */
void nlk_kernel_finish(struct nlk_kernel *k, size_t idx, enum nlk_outcome o, uint64_t now_us);

/* One datagram from a responder, message by message as rdma_nl_rcv_skb() takes it; acks go
 * back through ack (NULL: none, for state replayed from the rendezvous). */
void nlk_kernel_receive(struct nlk_kernel *k, const uint8_t *buf, size_t len, uint64_t now_us,
			nlk_ack_fn ack, void *ack_arg);
/* Completes what is due at now (ib_nl_request_timeout()). */
void nlk_kernel_expire(struct nlk_kernel *k, uint64_t now_us);
/* Microseconds until the next deadline, or -1 when nothing is waited on. */
int64_t nlk_kernel_next_us(const struct nlk_kernel *k, uint64_t now_us);

#endif
