/*
 * pr_fixture.h - hand-built GIDs and PathRecords for the tests and benchmarks
 * of the cache, the snapshot and liblocalsa: a record to a destination GUID
 * with a tag in flowlabel_hoplimit that tells records apart.
 */
#ifndef LOCALSA_TEST_PR_FIXTURE_H
#define LOCALSA_TEST_PR_FIXTURE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include <infiniband/sa.h>

#define SUBNET 0xfe80000000000000ULL

static inline union ibv_gid gid_of(uint64_t guid)
{
	union ibv_gid g;

	g.global.subnet_prefix = htobe64(SUBNET);
	g.global.interface_id = htobe64(guid);
	return g;
}

/* A path from GUID 1 (LID 1) to guid at dlid, with SL sl and a tag. */
static inline struct ibv_path_record rec_of(uint64_t guid, uint16_t dlid, uint8_t sl, uint32_t tag)
{
	struct ibv_path_record r;

	memset(&r, 0, sizeof(r));
	r.dgid = gid_of(guid);
	r.sgid = gid_of(1);
	r.dlid = htobe16(dlid);
	r.slid = htobe16(1);
	r.qosclass_sl = htobe16(sl & 0xf);
	r.flowlabel_hoplimit = htobe32(tag);
	r.reversible_numpath = 0x80 | 1;
	r.pkey = htobe16(0xffff);
	r.mtu = 0x80 | 4;
	r.rate = 0x80 | 3;
	r.packetlifetime = 0x80 | 18;
	return r;
}

#endif
