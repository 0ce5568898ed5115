/*
 * mad_dispatch - see mad_dispatch.h. A handful of routes, searched in order: a table, not a
 * hash, because a port has a few owners (SA clients, the SA door, the informer, the SM
 * tracker), not hundreds.
 */
#include <errno.h>
#include <stdlib.h>

#include <infiniband/umad_types.h>

#include "base/log.h"
#include "fabric/mad_dispatch.h"

struct route {
	struct mad_route r;
	mad_handler_fn fn;
	void *arg;
};

struct mad_dispatch {
	struct route routes[MAD_DISPATCH_MAX_ROUTES];
	unsigned n;
	struct mad_dispatch_stats st;
};

int mad_dispatch_new(struct mad_dispatch **out)
{
	struct mad_dispatch *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	*out = d;
	return 0;
}

void mad_dispatch_free(struct mad_dispatch *d)
{
	free(d);
}

static bool tid_kinds(unsigned kinds)
{
	return kinds & (MAD_KIND_RESPONSE | MAD_KIND_SEND_TIMEOUT);
}

/* Two routes claim one MAD: the same class, a kind in common and, for TID-matched kinds, a
 * TID both spaces hold (their values agree wherever both masks look). */
static bool overlap(const struct mad_route *a, const struct mad_route *b)
{
	unsigned common = a->kinds & b->kinds;

	if (a->mgmt_class != b->mgmt_class || !common)
		return false;
	if (common & ~(unsigned)(MAD_KIND_RESPONSE | MAD_KIND_SEND_TIMEOUT))
		return true;
	return !((a->tid_value ^ b->tid_value) & a->tid_mask & b->tid_mask);
}

int mad_dispatch_add(struct mad_dispatch *d, const struct mad_route *route, mad_handler_fn fn,
		     void *arg)
{
	struct mad_route r = *route;

	if (!fn || !r.kinds)
		return -EINVAL;
	if (!tid_kinds(r.kinds))
		r.tid_mask = r.tid_value = 0;
	for (unsigned i = 0; i < d->n; i++)
		if (overlap(&d->routes[i].r, &r))
			return -EEXIST;
	if (d->n == MAD_DISPATCH_MAX_ROUTES)
		return -ENOSPC;
	d->routes[d->n++] = (struct route){ r, fn, arg };
	return 0;
}

void mad_dispatch_remove(struct mad_dispatch *d, mad_handler_fn fn, void *arg)
{
	unsigned k = 0;

	for (unsigned i = 0; i < d->n; i++)
		if (d->routes[i].fn != fn || d->routes[i].arg != arg)
			d->routes[k++] = d->routes[i];
	d->n = k;
}

static enum mad_kind kind_of(const struct umad_msg *msg, const struct sa_hdr *h)
{
	if (msg->status)
		return MAD_KIND_SEND_TIMEOUT;
	if (h->method & UMAD_METHOD_RESP_MASK)
		return MAD_KIND_RESPONSE;
	if (h->method == UMAD_METHOD_REPORT)
		return MAD_KIND_REPORT;
	return MAD_KIND_REQUEST;
}

bool mad_dispatch_route(struct mad_dispatch *d, const struct umad_msg *msg)
{
	struct mad_in in = { .msg = msg };

	if (mad_hdr_decode(msg->mad, msg->len, &in.hdr) < 0) {
		d->st.malformed++;
		LOG_DEBUG("dropped a %zu-byte MAD from LID %u", msg->len, msg->slid);
		return false;
	}
	in.kind = kind_of(msg, &in.hdr);
	if (in.hdr.mgmt_class == UMAD_CLASS_SUBN_ADM && in.kind != MAD_KIND_SEND_TIMEOUT) {
		in.sa = sa_hdr_decode(msg->mad, msg->len, &in.hdr) == 0;
		/* An answer or a Report without its SA header is nothing anyone can use; a
		 * request is still the SA door's to refuse in kind. */
		if (!in.sa && in.kind != MAD_KIND_REQUEST) {
			d->st.malformed++;
			LOG_DEBUG("dropped a %zu-byte SA MAD from LID %u", msg->len, msg->slid);
			return false;
		}
	}
	for (unsigned i = 0; i < d->n; i++) {
		const struct route *r = &d->routes[i];

		if (r->r.mgmt_class != in.hdr.mgmt_class || !(r->r.kinds & in.kind))
			continue;
		if (tid_kinds(in.kind) && ((uint32_t)in.hdr.tid & r->r.tid_mask) != r->r.tid_value)
			continue;
		d->st.routed++;
		r->fn(r->arg, &in);
		return true;
	}
	d->st.unclaimed++;
	LOG_DEBUG("ignored MAD class 0x%02x method 0x%02x from LID %u", in.hdr.mgmt_class,
		  in.hdr.method, msg->slid);
	return false;
}

void mad_dispatch_stats(const struct mad_dispatch *d, struct mad_dispatch_stats *out)
{
	*out = d->st;
}
