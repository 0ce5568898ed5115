/*
 * test_fabric_push_acl.c - who may write at the SA door: the list's syntax (sm, distributor, any,
 * LIDs, port GIDs or GUIDs; errors named); the SM at the LID the port tracks now; a LID and, with
 * LMC > 0, every LID of that port; a GID the cache knows no path to is learned from the SA's
 * NodeRecord of that port GUID (one GetTable NodeRecord, no PathRecord query), and learned again
 * at most once a second when a write comes from an unknown LID; any lets everyone in.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/umad_sa.h>

#include "base/loop.h"
#include "check.h"
#include "fabric/mad_port.h"
#include "fabric/push_acl.h"
#include "fabric/resolver.h"
#include "fabric/sa_client.h"
#include "mad_script.h"
#include "pr_fixture.h"
#include "wire/node_rec.h"

static void env_up(struct script_fabric *e, struct loop *loop, uint8_t lmc)
{
	struct sa_client_opts so = { .credits = 2, .timeout_ms = 1000 };
	struct resolver_opts ro = { 1000, 0, 1000, 1000, NULL };

	script_fabric_up(e, loop, lmc, &so, &ro);
}

static void test_syntax(void)
{
	char msg[160];

	CHECK_INT(0, push_acl_check("sm,distributor", "none", msg, sizeof(msg)));
	CHECK_INT(0, push_acl_check("sm, 12,0x20 fe80::1:2", "fe80::9", msg, sizeof(msg)));
	CHECK_INT(0, push_acl_check("any", "none", msg, sizeof(msg)));
	CHECK_INT(0, push_acl_check("", "none", msg, sizeof(msg)));
	CHECK_INT(-EINVAL, push_acl_check("sm,somebody", "none", msg, sizeof(msg)));
	CHECK_STR("push_from: 'somebody' is not sm, distributor, any, a LID or a port GID", msg);
	CHECK_INT(-EINVAL, push_acl_check("0", "none", msg, sizeof(msg)));
	/* beyond the LIDs: a GUID, as the CLI takes them */
	CHECK_INT(0, push_acl_check("49152,0x0002c90300001234", "none", msg, sizeof(msg)));
	CHECK_INT(-EINVAL, push_acl_check("fe80::zz", "none", msg, sizeof(msg)));
	CHECK_INT(-EINVAL, push_acl_check("distributor", "host7", msg, sizeof(msg)));
	CHECK_STR("distributor: 'host7' is not a LID, a port GID or none", msg);
	CHECK_INT(-EINVAL, push_acl_check("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "none",
					  msg, sizeof(msg)));
}

static void test_lids(struct loop *loop)
{
	struct pr_store *store;
	struct push_acl *a;
	struct script_fabric e;
	char msg[160];

	env_up(&e, loop, 2);	/* 4 LIDs per port */
	store = resolver_store(e.res);
	CHECK_INT(0, push_acl_new(loop, e.port, e.sa, store, "sm,0x20", "none", &a, msg,
				  sizeof(msg)));
	CHECK_INT(0, e.s.n_sent);	/* nothing to learn */
	CHECK(push_acl_allows(a, SCRIPT_SM_LID));
	CHECK(push_acl_allows(a, 0x20));
	CHECK(push_acl_allows(a, 0x23));
	CHECK(!push_acl_allows(a, 0x24));
	CHECK(!push_acl_allows(a, 7));
	e.port->sm_lid = 7;	/* the SM moved: where it is now */
	CHECK(push_acl_allows(a, 7));
	CHECK(!push_acl_allows(a, SCRIPT_SM_LID));
	push_acl_free(a);
	CHECK_INT(0, push_acl_new(loop, e.port, e.sa, store, "any", "none", &a, msg, sizeof(msg)));
	CHECK(push_acl_allows(a, 1234));
	push_acl_free(a);
	CHECK_INT(0, push_acl_new(loop, e.port, e.sa, store, "", "none", &a, msg, sizeof(msg)));
	CHECK(!push_acl_allows(a, SCRIPT_SM_LID));
	push_acl_free(a);
	script_fabric_down(&e);
}

/* The SA's NodeRecord for a port: its LID, its port GUID. */
static void answer_node(struct script_fabric *e, const struct script_sent *q, uint16_t lid, uint64_t guid)
{
	unsigned char rec[NODE_REC_PADDED_LEN] = { 0 };
	uint16_t be_lid = htobe16(lid);

	node_rec_by_port_guid(rec, htobe64(guid));
	memcpy(rec, &be_lid, 2);
	script_answer(&e->s, q, 0, rec, sizeof(rec), 1);
}

static void test_gid_from_the_sa(struct loop *loop)
{
	union ibv_gid g = gid_of(0x77);
	const struct script_sent *q;
	struct pr_store *store;
	struct push_acl *a;
	struct script_fabric e;
	char msg[160];
	uint64_t guid;
	uint16_t lid;

	env_up(&e, loop, 0);
	store = resolver_store(e.res);
	CHECK_INT(0, push_acl_new(loop, e.port, e.sa, store, "distributor", "fe80::77", &a, msg,
				  sizeof(msg)));
	/* The cache knows no path to it: one GetTable NodeRecord by port GUID. */
	CHECK_INT(1, e.s.n_sent);
	q = &e.s.sent[0];
	CHECK_INT(UMAD_SA_METHOD_GET_TABLE, q->h.method);
	CHECK_INT(UMAD_SA_ATTR_NODE_REC, q->h.attr_id);
	CHECK(q->h.comp_mask == NODE_REC_CM_PORT_GUID);
	CHECK_INT(NODE_REC_PADDED_LEN / 8, q->h.attr_offset);
	CHECK_INT(0, node_rec_decode(q->mad + SA_HDR_LEN, NODE_REC_LEN, &lid, &guid));
	CHECK(guid == g.global.interface_id);
	CHECK(!push_acl_allows(a, 30));	/* not known yet; asked already, less than 1 s ago */
	CHECK_INT(1, e.s.n_sent);
	answer_node(&e, q, 30, 0x77);
	script_run(loop, 5);
	CHECK(push_acl_allows(a, 30));
	CHECK(!push_acl_allows(a, 31));
	/* The port moved to LID 31: a write from an unknown LID makes it ask again (once a s). */
	script_run(loop, 1010);
	CHECK(!push_acl_allows(a, 31));
	CHECK_INT(2, e.s.n_sent);
	answer_node(&e, &e.s.sent[1], 31, 0x77);
	script_run(loop, 5);
	CHECK(push_acl_allows(a, 31));
	/* An answer for another port (or none) teaches nothing. */
	script_run(loop, 1010);
	CHECK(!push_acl_allows(a, 32));
	answer_node(&e, &e.s.sent[2], 32, 0x78);
	script_run(loop, 5);
	CHECK(!push_acl_allows(a, 32));
	/* Freed while a question is out: the answer finds nobody, harmlessly. */
	script_run(loop, 1010);
	CHECK(!push_acl_allows(a, 33));
	push_acl_free(a);
	script_fabric_down(&e);
}

int main(void)
{
	struct loop *loop;

	if (loop_new(&loop) < 0)
		return 1;
	loop_skip_idle_time(loop, true);
	test_syntax();
	test_lids(loop);
	test_gid_from_the_sa(loop);
	loop_free(loop);
	return CHECK_DONE();
}
