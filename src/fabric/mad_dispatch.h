/*
 * mad_dispatch - the one place where a received MAD finds its owner. Handlers register by
 * management class and kind: requests (someone asks this node), Reports (the SA forwards a
 * trap), and responses and timed-out sends, which go to the owner of the TID space they
 * carry: a mask and value on the low 32 TID bits (the kernel and ibsim may rewrite the high
 * half). The header is decoded once, here; what nobody claims is counted and logged.
 */
#ifndef LOCALSA_FABRIC_MAD_DISPATCH_H
#define LOCALSA_FABRIC_MAD_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "fabric/mad_transport.h"
#include "wire/sa_mad.h"

enum mad_kind {
	MAD_KIND_REQUEST = 1 << 0,       /* any other method: Get, Set, GetTable, Delete... */
	MAD_KIND_RESPONSE = 1 << 1,      /* a method with UMAD_METHOD_RESP_MASK */
	MAD_KIND_REPORT = 1 << 2,        /* UMAD_METHOD_REPORT */
	MAD_KIND_SEND_TIMEOUT = 1 << 3,  /* our request came back unanswered (status ETIMEDOUT) */
};

struct mad_in {
	const struct umad_msg *msg;      /* bytes, length, source */
	enum mad_kind kind;
	struct sa_hdr hdr;               /* the common header; all of it for an SA MAD if sa */
	bool sa;                         /* an SA-class MAD whose SA header decoded */
};

typedef void (*mad_handler_fn)(void *arg, const struct mad_in *in);

struct mad_route {
	uint8_t mgmt_class;
	unsigned kinds;                  /* MAD_KIND_* */
	uint32_t tid_mask, tid_value;    /* responses and timeouts: low TID & mask == value */
};

struct mad_dispatch_stats {
	uint64_t routed, unclaimed, malformed;
};

enum { MAD_DISPATCH_MAX_ROUTES = 16 };

struct mad_dispatch;

int mad_dispatch_new(struct mad_dispatch **out);
void mad_dispatch_free(struct mad_dispatch *d);
/*
 * -EEXIST when the route overlaps one already there (the same class and a kind in common:
 * requests and Reports have one owner per class, responses and timeouts one per TID), -EINVAL
 * without kinds, -ENOSPC beyond MAD_DISPATCH_MAX_ROUTES.
 */
int mad_dispatch_add(struct mad_dispatch *d, const struct mad_route *route, mad_handler_fn fn,
		     void *arg);
/* Removes every route of (fn, arg); a handler may remove itself while it runs. */
void mad_dispatch_remove(struct mad_dispatch *d, mad_handler_fn fn, void *arg);
/* Hands msg to its owner: true if there was one. */
bool mad_dispatch_route(struct mad_dispatch *d, const struct umad_msg *msg);
void mad_dispatch_stats(const struct mad_dispatch *d, struct mad_dispatch_stats *out);

#endif
