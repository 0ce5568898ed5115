/*
 * push_acl - see push_acl.h. A NodeRecord query in flight is linked from its entry, so that
 * freeing the list first only orphans it.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad_sa.h>

#include "base/log.h"
#include "base/loop.h"
#include "fabric/mad_port.h"
#include "fabric/push_acl.h"
#include "cache/pr_store.h"
#include "fabric/sa_client.h"
#include "wire/ctl_proto.h"
#include "wire/node_rec.h"
#include "wire/path_rec.h"
#include "wire/sa_mad.h"

enum { ASK_INTERVAL_MS = 1000, LID_MAX = 0xbfff };

enum acl_kind { ACL_SM, ACL_LID, ACL_GID };

struct ask;

struct acl_entry {
	enum acl_kind kind;
	uint16_t lid;          /* ACL_LID; ACL_GID once known (0: not yet) */
	union ibv_gid gid;
	struct ask *ask;       /* its NodeRecord query in flight */
};

struct ask {
	struct push_acl *acl;  /* NULL once the list is gone */
	size_t idx;
};

struct push_acl {
	struct loop *loop;
	struct mad_port *port;
	struct sa_client *sa;
	const struct pr_store *store;
	struct acl_entry e[PUSH_ACL_MAX];
	size_t n;
	bool any;
	uint64_t asked_ms;
};

/* --- the list --------------------------------------------------------------------- */

static int append(struct acl_entry *e, size_t *n, const struct acl_entry *x, char *msg,
		  size_t msglen)
{
	if (*n == PUSH_ACL_MAX) {
		snprintf(msg, msglen, "push_from: more than %d sources", PUSH_ACL_MAX);
		return -EINVAL;
	}
	e[(*n)++] = *x;
	return 0;
}

/* A LID (1..0xbfff), or a port GID (or GUID, as the CLI takes them) into *x; -EINVAL if tok
 * is neither. */
static int parse_source(const char *tok, struct acl_entry *x)
{
	uint64_t v;

	memset(x, 0, sizeof(*x));
	if (!strchr(tok, ':') && ctl_parse_u64(tok, LID_MAX, &v) == 0) {
		x->kind = ACL_LID;
		x->lid = (uint16_t)v;
		return v ? 0 : -EINVAL;
	}
	x->kind = ACL_GID;
	return pr_from_text_gid(tok, &x->gid) < 0 ? -EINVAL : 0;
}

static int parse(const char *spec, const char *distributor, struct acl_entry *e, size_t *n,
		 bool *any, char *msg, size_t msglen)
{
	char copy[1024], *save = NULL, *tok;
	struct acl_entry x;

	*n = 0;
	*any = false;
	if (strlen(spec) >= sizeof(copy)) {
		snprintf(msg, msglen, "push_from: too long");
		return -EINVAL;
	}
	strcpy(copy, spec);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (!strcmp(tok, "any")) {
			*any = true;
			continue;
		}
		if (!strcmp(tok, "sm")) {
			memset(&x, 0, sizeof(x));
			x.kind = ACL_SM;
		} else if (!strcmp(tok, "distributor")) {
			if (!strcmp(distributor, "none"))
				continue;
			if (parse_source(distributor, &x) < 0) {
				snprintf(msg, msglen, "distributor: '%s' is not a LID, a port GID "
					 "or none", distributor);
				return -EINVAL;
			}
		} else if (parse_source(tok, &x) < 0) {
			snprintf(msg, msglen, "push_from: '%s' is not sm, distributor, any, a LID "
				 "or a port GID", tok);
			return -EINVAL;
		}
		if (append(e, n, &x, msg, msglen) < 0)
			return -EINVAL;
	}
	return 0;
}

int push_acl_check(const char *spec, const char *distributor, char *msg, size_t msglen)
{
	struct acl_entry e[PUSH_ACL_MAX];
	size_t n;
	bool any;

	return parse(spec, distributor, e, &n, &any, msg, msglen);
}

/* --- GIDs as LIDs ----------------------------------------------------------------- */

/* The port's LID from the paths the cache holds to it (the default tuple's first). */
static uint16_t lid_from_cache(struct push_acl *a, const union ibv_gid *gid)
{
	struct pr_request req = { .has = PR_REQ_DGID, .dgid = *gid };
	struct ibv_path_record rec;

	if (pr_store_lookup(a->store, pr_store_default_tuple(a->store), &req, &rec, 1) < 1)
		return 0;
	return pr_dlid(&rec);
}

static void asked(void *arg, int err, uint8_t status, const unsigned char *mad, size_t len)
{
	struct ask *k = arg;
	struct push_acl *a = k->acl;
	struct acl_entry *x;
	size_t rec_len = 0, n = 0;
	uint64_t guid;
	uint16_t lid;
	struct sa_hdr h;

	if (!a) {
		free(k);
		return;
	}
	x = &a->e[k->idx];
	x->ask = NULL;
	free(k);
	if (err || status || sa_hdr_decode(mad, len, &h) < 0 ||
	    sa_table_count(&h, len, &rec_len, &n) < 0 || !n ||
	    node_rec_decode(mad + SA_HDR_LEN, rec_len, &lid, &guid) < 0 ||
	    guid != x->gid.global.interface_id) {
		LOG_WARN_RL(10000, "no LID for a push_from GID from the SA (%s)",
			    err ? strerror(-err) : status ? sa_status_str((uint16_t)(status << 8)) :
							  "no such port");
		return;
	}
	x->lid = lid;
	LOG_INFO("push_from: a port GID is at LID %u", lid);
}

/* Learns the LID of every GID entry: the cache first, else one NodeRecord query each. */
static void learn(struct push_acl *a)
{
	unsigned char rec[NODE_REC_PADDED_LEN];

	a->asked_ms = loop_now_ms();
	for (size_t i = 0; i < a->n; i++) {
		struct acl_entry *x = &a->e[i];
		struct ask *k;
		uint16_t lid;

		if (x->kind != ACL_GID || x->ask)
			continue;
		lid = lid_from_cache(a, &x->gid);
		if (lid) {
			x->lid = lid;
			continue;
		}
		k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->acl = a;
		k->idx = i;
		node_rec_by_port_guid(rec, x->gid.global.interface_id);
		if (sa_client_query(a->sa, UMAD_SA_METHOD_GET_TABLE, UMAD_SA_ATTR_NODE_REC,
				    NODE_REC_CM_PORT_GUID, rec, sizeof(rec), asked, k) < 0) {
			free(k);
			continue;
		}
		x->ask = k;
	}
}

/* slid is one of the LIDs of the port whose base LID is lid (LMC: 2^lmc of them). */
static bool lid_match(const struct push_acl *a, uint16_t lid, uint16_t slid)
{
	uint16_t mask = (uint16_t)~((1u << a->port->lmc) - 1);

	return lid && (slid & mask) == (lid & mask);
}

/* --- public ----------------------------------------------------------------------- */

int push_acl_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const struct pr_store *store, const char *spec, const char *distributor,
		 struct push_acl **out, char *msg, size_t msglen)
{
	struct push_acl *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	ret = parse(spec, distributor, a->e, &a->n, &a->any, msg, msglen);
	if (ret < 0) {
		free(a);
		return ret;
	}
	a->loop = loop;
	a->port = port;
	a->sa = sa;
	a->store = store;
	learn(a);
	*out = a;
	return 0;
}

void push_acl_free(struct push_acl *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].ask)
			a->e[i].ask->acl = NULL;
	free(a);
}

bool push_acl_allows(struct push_acl *a, uint16_t slid)
{
	bool gids = false;

	if (a->any)
		return true;
	for (size_t i = 0; i < a->n; i++) {
		const struct acl_entry *x = &a->e[i];

		if (x->kind == ACL_SM ? slid == a->port->sm_lid : lid_match(a, x->lid, slid))
			return true;
		gids |= x->kind == ACL_GID;
	}
	/* A GID's port may have a new LID, or its LID was not known yet: learn again. */
	if (gids && loop_now_ms() - a->asked_ms >= ASK_INTERVAL_MS) {
		learn(a);
		for (size_t i = 0; i < a->n; i++)
			if (a->e[i].kind == ACL_GID && lid_match(a, a->e[i].lid, slid))
				return true;
	}
	return false;
}
