/*
 * nlk_kernel - see nlk_kernel.h. The kernel's rules, with the function each one comes from.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nlk_kernel.h"

const char *nlk_outcome_str(enum nlk_outcome o)
{
	switch (o) {
	case NLK_PENDING: return "pending";
	case NLK_PATH: return "path";
	case NLK_ERROR_REPLY: return "error reply";
	case NLK_TIMEOUT: return "timeout: the kernel would now ask the SA";
	case NLK_NO_LISTENER: return "no listener: the kernel would ask the SA";
	case NLK_NOT_DELIVERED:
		return "not delivered (the listener's queue is full): the kernel would ask the SA at once";
	case NLK_REJECTED: return "rejected answer (ib_nl_policy): the kernel would now ask the SA";
	case NLK_NO_USABLE: return "no usable path record (flags): the consumer would get -EIO";
	case NLK_NO_GMP: return "no GMP record among those taken: rdma_cm would use an unset path";
	case NLK_SHORT_ATTR: return "short PATH_RECORD attribute: the kernel would read past it";
	case NLK_DROPPED: return "dropped";
	case NLK_ANSWERED_BADLY: return "answered otherwise than with the error reply";
	case NLK_N_OUTCOMES: break;
	}
	return "?";
}

int nlk_kernel_init(struct nlk_kernel *k, enum nl_ls_kernel gen, uint32_t timeout_ms,
		    uint32_t seq_start, size_t max_reqs, nlk_done_fn done, void *arg)
{
	memset(k, 0, sizeof(*k));
	k->reqs = calloc(max_reqs ? max_reqs : 1, sizeof(*k->reqs));
	k->inflight = calloc(max_reqs ? max_reqs : 1, sizeof(*k->inflight));
	if (!k->reqs || !k->inflight) {
		nlk_kernel_fini(k);
		return -ENOMEM;
	}
	k->gen = gen;
	k->timeout_ms = timeout_ms;
	k->seq_start = seq_start;
	k->cap = max_reqs;
	k->done = done;
	k->arg = arg;
	return 0;
}

void nlk_kernel_fini(struct nlk_kernel *k)
{
	free(k->reqs);
	free(k->inflight);
	k->reqs = NULL;
	k->inflight = NULL;
}

size_t nlk_kernel_add(struct nlk_kernel *k, uint8_t path_use, bool malformed, bool answerable)
{
	struct nlk_req *r = &k->reqs[k->n_reqs];

	memset(r, 0, sizeof(*r));
	r->path_use = path_use;
	r->malformed = malformed;
	r->answerable = answerable;
	r->outcome = NLK_PENDING;
	return k->n_reqs++;
}

void nlk_kernel_wait(struct nlk_kernel *k, size_t idx, uint64_t now_us, uint32_t wait_ms)
{
	struct nlk_req *r = &k->reqs[idx];

	r->sent_us = now_us;
	r->deadline_us = now_us + (uint64_t)(r->malformed ? wait_ms : k->timeout_ms) * 1000;
	k->inflight[k->n_inflight++] = idx;
}

static void complete(struct nlk_kernel *k, size_t idx, enum nlk_outcome o, uint64_t now_us)
{
	struct nlk_req *r = &k->reqs[idx];

	for (size_t i = 0; i < k->n_inflight; i++)
		if (k->inflight[i] == idx) {
			k->inflight[i] = k->inflight[--k->n_inflight];
			break;
		}
	r->outcome = o;
	r->done_us = now_us;
	k->done(k->arg, idx);
}

void nlk_kernel_finish(struct nlk_kernel *k, size_t idx, enum nlk_outcome o, uint64_t now_us)
{
	k->reqs[idx].sent_us = now_us;
	complete(k, idx, o, now_us);
}

/* The request an answer's seq names, if it is still waited on (the list walk). */
static struct nlk_req *find_pending(struct nlk_kernel *k, uint32_t seq, size_t *idx)
{
	size_t i = (size_t)(seq - k->seq_start);

	if (i >= k->n_reqs)
		return NULL;
	*idx = i;
	return k->reqs[i].outcome == NLK_PENDING && k->reqs[i].deadline_us ? &k->reqs[i] : NULL;
}

/* An answer nobody waits for: ignored by the kernel, counted here by why. */
static void count_unmatched(struct nlk_kernel *k, uint32_t seq)
{
	size_t i = (size_t)(seq - k->seq_start);

	if (i >= k->n_reqs || k->reqs[i].outcome == NLK_PENDING)
		k->c.unknown++;
	else if (k->reqs[i].outcome == NLK_TIMEOUT || k->reqs[i].outcome == NLK_DROPPED)
		k->c.late++;
	else
		k->c.duplicate++;
}

/* ib_nl_handle_resolve_resp() */
static int handle_answer(struct nlk_kernel *k, const uint8_t *msg, size_t len,
			 const struct nlmsghdr *h, uint64_t now_us)
{
	struct nl_ls_taken t;
	struct nlk_req *r;
	size_t idx;

	if (h->nlmsg_flags & NLM_F_REQUEST) {
		k->c.refused++;
		return -EPERM;
	}
	r = find_pending(k, h->nlmsg_seq, &idx);
	if (!r) {
		count_unmatched(k, h->nlmsg_seq);
		return 0;
	}
	switch (nl_ls_answer_judge(msg, len, r->path_use, k->gen, &t)) {
	case 0:
		r->chosen = t.recs[t.chosen];
		r->n_taken = (uint8_t)t.n;
		complete(k, idx, NLK_PATH, now_us);
		break;
	case -EREMOTEIO: complete(k, idx, NLK_ERROR_REPLY, now_us); break;
	case -EIO: complete(k, idx, NLK_NO_USABLE, now_us); break;
	case -ENOLINK: complete(k, idx, NLK_NO_GMP, now_us); break;
	case -EOVERFLOW: complete(k, idx, NLK_SHORT_ATTR, now_us); break;
	default: complete(k, idx, NLK_REJECTED, now_us); break;	/* -ERANGE */
	}
	return 0;
}

/* ib_nl_handle_set_timeout(): the new value, and the same shift for every waiting request. */
static int handle_set_timeout(struct nlk_kernel *k, const uint8_t *msg, size_t len)
{
	uint32_t t;
	int64_t delta;
	int ret = nl_ls_set_timeout_apply(msg, len, &t);

	if (ret == -EPERM)
		return ret;
	if (ret)
		return 0;
	k->c.set_timeouts++;
	delta = (int64_t)t - k->timeout_ms;
	k->timeout_ms = t;
	for (size_t i = 0; i < k->n_inflight; i++) {
		struct nlk_req *r = &k->reqs[k->inflight[i]];
		int64_t d = (int64_t)r->deadline_us + delta * 1000;

		if (!r->malformed)
			r->deadline_us = d > 0 ? (uint64_t)d : 1;	/* 0 means "not waited on" */
	}
	return 0;
}

/* rdma_nl_rcv_msg() for the local-service client; other clients are not the double's. */
static int rcv_msg(struct nlk_kernel *k, const uint8_t *msg, size_t len, const struct nlmsghdr *h,
		   uint64_t now_us)
{
	if (RDMA_NL_GET_CLIENT(h->nlmsg_type) != RDMA_NL_LS)
		return -EINVAL;
	switch (RDMA_NL_GET_OP(h->nlmsg_type)) {
	case RDMA_NL_LS_OP_RESOLVE:
		return handle_answer(k, msg, len, h, now_us);
	case RDMA_NL_LS_OP_SET_TIMEOUT:
		return handle_set_timeout(k, msg, len);
	case RDMA_NL_LS_OP_IP_RESOLVE:	/* ib_nl_handle_ip_res_resp(): the double sends none */
		return h->nlmsg_flags & NLM_F_REQUEST ? -EPERM : 0;
	default:
		return -EINVAL;		/* is_nl_msg_valid() */
	}
}

static void send_ack(struct nlk_kernel *k, const uint8_t *msg, size_t len, int err,
		     nlk_ack_fn ack, void *ack_arg)
{
	size_t cap = len + NLMSG_HDRLEN + sizeof(struct nlmsgerr);
	uint8_t *out;
	int n;

	if (!ack || !(out = malloc(cap)))
		return;
	n = nl_ls_ack_encode(out, cap, msg, len, err);
	if (n > 0) {
		ack(ack_arg, out, (size_t)n);
		k->c.acks++;
	}
	free(out);
}

void nlk_kernel_receive(struct nlk_kernel *k, const uint8_t *buf, size_t len, uint64_t now_us,
			nlk_ack_fn ack, void *ack_arg)
{
	while (len >= NLMSG_HDRLEN) {
		struct nlmsghdr h;
		struct nlk_req *r;
		size_t step, idx;
		int err = 0;

		memcpy(&h, buf, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len) {
			k->c.bad_messages++;
			return;
		}
		if (!(h.nlmsg_flags & NLM_F_REQUEST) && (r = find_pending(k, h.nlmsg_seq, &idx)) &&
		    r->malformed) {
			/* a test request, not on the kernel's list: any answer counts, by its flag */
			complete(k, idx, h.nlmsg_flags & RDMA_NL_LS_F_ERR ? NLK_ERROR_REPLY
									  : NLK_ANSWERED_BADLY, now_us);
		} else if (((h.nlmsg_flags & NLM_F_REQUEST) ||
			    RDMA_NL_GET_CLIENT(h.nlmsg_type) == RDMA_NL_LS) &&
			   h.nlmsg_type >= NLMSG_MIN_TYPE) {	/* rdma_nl_rcv_skb()'s filters */
			err = rcv_msg(k, buf, h.nlmsg_len, &h, now_us);
		}
		if ((h.nlmsg_flags & NLM_F_ACK) || err)
			send_ack(k, buf, h.nlmsg_len, err, ack, ack_arg);
		step = ((size_t)h.nlmsg_len + 3) & ~(size_t)3;
		if (step >= len)
			return;
		buf += step;
		len -= step;
	}
}

void nlk_kernel_expire(struct nlk_kernel *k, uint64_t now_us)
{
	for (size_t i = 0; i < k->n_inflight;) {
		size_t idx = k->inflight[i];
		struct nlk_req *r = &k->reqs[idx];

		if (r->deadline_us > now_us) {
			i++;
			continue;
		}
		complete(k, idx, r->malformed ? NLK_DROPPED : NLK_TIMEOUT, now_us);	/* swaps slot i */
	}
}

int64_t nlk_kernel_next_us(const struct nlk_kernel *k, uint64_t now_us)
{
	int64_t best = -1;

	for (size_t i = 0; i < k->n_inflight; i++) {
		uint64_t d = k->reqs[k->inflight[i]].deadline_us;
		int64_t left = d > now_us ? (int64_t)(d - now_us) : 0;

		if (best < 0 || left < best)
			best = left;
	}
	return best;
}
