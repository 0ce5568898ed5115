/*
 * path_rec.c - PathRecord accessors, matching and formatting.
 *
 * The record layout is libibverbs' struct ibv_path_record (sa.h); the
 * asserts pin it to IBA Table 205 so a byte-for-byte copy of the SA's
 * record is what every function here reads.
 */
#include "wire/path_rec.h"
#include "wire/bytes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <infiniband/umad_sa.h>

_Static_assert(sizeof(struct ibv_path_record) == PR_LEN, "PathRecord is 64 bytes");
_Static_assert(offsetof(struct ibv_path_record, service_id) == 0, "ServiceID");
_Static_assert(offsetof(struct ibv_path_record, dgid) == 8, "DGID");
_Static_assert(offsetof(struct ibv_path_record, sgid) == 24, "SGID");
_Static_assert(offsetof(struct ibv_path_record, dlid) == 40, "DLID");
_Static_assert(offsetof(struct ibv_path_record, slid) == 42, "SLID");
_Static_assert(offsetof(struct ibv_path_record, flowlabel_hoplimit) == 44,
	       "RawTraffic/FlowLabel/HopLimit");
_Static_assert(offsetof(struct ibv_path_record, tclass) == 48, "TClass");
_Static_assert(offsetof(struct ibv_path_record, reversible_numpath) == 49,
	       "Reversible/NumbPath");
_Static_assert(offsetof(struct ibv_path_record, pkey) == 50, "P_Key");
_Static_assert(offsetof(struct ibv_path_record, qosclass_sl) == 52, "QoSClass/SL");
_Static_assert(offsetof(struct ibv_path_record, mtu) == 54, "MTU");
_Static_assert(offsetof(struct ibv_path_record, rate) == 55, "Rate");
_Static_assert(offsetof(struct ibv_path_record, packetlifetime) == 56,
	       "PacketLifeTime");
_Static_assert(offsetof(struct ibv_path_record, preference) == 57, "Preference");
_Static_assert(offsetof(struct ibv_path_record, reserved) == 58, "Reserved");
_Static_assert(sizeof(((struct ibv_path_record *)0)->reserved) == 6, "6 reserved");
_Static_assert(sizeof(union ibv_gid) == 16, "GID is 16 bytes");
_Static_assert(UMAD_SA_SELECTOR_SHIFT == 6 && UMAD_SA_RATE_MTU_PKT_LIFE_MASK == 0x3f,
	       "selector in bits 7:6, value in bits 5:0");

/* --- setters --- */

void pr_set_sgid(struct ibv_path_record *r, const union ibv_gid *gid)
{
	memcpy(&r->sgid, gid, sizeof(r->sgid));
}

void pr_set_dgid(struct ibv_path_record *r, const union ibv_gid *gid)
{
	memcpy(&r->dgid, gid, sizeof(r->dgid));
}

void pr_set_dlid(struct ibv_path_record *r, uint16_t lid)
{
	r->dlid = htobe16(lid);
}

void pr_set_slid(struct ibv_path_record *r, uint16_t lid)
{
	r->slid = htobe16(lid);
}

void pr_set_pkey(struct ibv_path_record *r, uint16_t pkey)
{
	r->pkey = htobe16(pkey);
}

void pr_set_sl(struct ibv_path_record *r, uint8_t sl)
{
	uint16_t v = be16toh(r->qosclass_sl);

	r->qosclass_sl = htobe16((uint16_t)((v & 0xfff0) | (sl & 0xf)));
}

void pr_set_qos_class(struct ibv_path_record *r, uint16_t qc)
{
	uint16_t v = be16toh(r->qosclass_sl);

	r->qosclass_sl = htobe16((uint16_t)((qc & 0xfff) << 4 | (v & 0xf)));
}

void pr_set_service_id(struct ibv_path_record *r, uint64_t sid)
{
	r->service_id = htobe64(sid);
}

void pr_set_numb_path(struct ibv_path_record *r, uint8_t numb, bool reversible)
{
	r->reversible_numpath = (uint8_t)((reversible ? 0x80 : 0) | (numb & 0x7f));
}

void pr_set_tclass(struct ibv_path_record *r, uint8_t tclass)
{
	r->tclass = tclass;
}

void pr_set_flow_label(struct ibv_path_record *r, uint32_t fl)
{
	uint32_t v = be32toh(r->flowlabel_hoplimit);

	v = (v & 0xf00000ffu) | (fl & 0xfffff) << 8;
	r->flowlabel_hoplimit = htobe32(v);
}

void pr_set_hop_limit(struct ibv_path_record *r, uint8_t hl)
{
	uint32_t v = be32toh(r->flowlabel_hoplimit);

	r->flowlabel_hoplimit = htobe32((v & 0xffffff00u) | hl);
}

void pr_set_mtu(struct ibv_path_record *r, uint8_t selector, uint8_t mtu)
{
	r->mtu = umad_sa_set_rate_mtu_or_life(selector, mtu);
}

void pr_set_rate(struct ibv_path_record *r, uint8_t selector, uint8_t rate)
{
	r->rate = umad_sa_set_rate_mtu_or_life(selector, rate);
}

void pr_set_pkt_life(struct ibv_path_record *r, uint8_t selector, uint8_t life)
{
	r->packetlifetime = umad_sa_set_rate_mtu_or_life(selector, life);
}

int pr_decode(const void *buf, size_t len, struct ibv_path_record *out)
{
	if (len < PR_LEN)
		return -EMSGSIZE;
	memcpy(out, buf, PR_LEN);
	return 0;
}

void pr_encode(void *buf64, const struct ibv_path_record *r)
{
	memcpy(buf64, r, PR_LEN);
}

/* --- codes --- */

/*
 * IBA rate codes (PortInfo/PathRecord, = enum ibv_rate) in tenths of a
 * nominal Gb/s. The codes are not in speed order (5 = 5 Gb/s, 3 = 10 Gb/s),
 * so selectors compare these values; nominal order equals effective order.
 */
static const struct {
	uint16_t tenths;
	const char *str;
} rate_tab[] = {
	[2] = { 25, "2.5Gb/s" },   [3] = { 100, "10Gb/s" },
	[4] = { 300, "30Gb/s" },   [5] = { 50, "5Gb/s" },
	[6] = { 200, "20Gb/s" },   [7] = { 400, "40Gb/s" },
	[8] = { 600, "60Gb/s" },   [9] = { 800, "80Gb/s" },
	[10] = { 1200, "120Gb/s" }, [11] = { 140, "14Gb/s" },
	[12] = { 560, "56Gb/s" },  [13] = { 1120, "112Gb/s" },
	[14] = { 1680, "168Gb/s" }, [15] = { 250, "25Gb/s" },
	[16] = { 1000, "100Gb/s" }, [17] = { 2000, "200Gb/s" },
	[18] = { 3000, "300Gb/s" }, [19] = { 280, "28Gb/s" },
	[20] = { 500, "50Gb/s" },  [21] = { 4000, "400Gb/s" },
	[22] = { 6000, "600Gb/s" }, [23] = { 8000, "800Gb/s" },
	[24] = { 12000, "1200Gb/s" },
};

#define RATE_TAB_LEN (sizeof(rate_tab) / sizeof(rate_tab[0]))

static unsigned rate_tenths(uint8_t code)
{
	return code < RATE_TAB_LEN ? rate_tab[code].tenths : 0;
}

const char *pr_rate_str(uint8_t rate_code)
{
	if (rate_code < RATE_TAB_LEN && rate_tab[rate_code].str)
		return rate_tab[rate_code].str;
	return "?";
}

unsigned pr_mtu_bytes(uint8_t mtu_code)
{
	return mtu_code >= 1 && mtu_code <= 5 ? 128u << mtu_code : 0;
}

/* --- matching --- */

/*
 * Selector test for one ordered quantity: have is the record's value, want
 * the query's. Only the record's value exists in the cache, so "less than"
 * or "exactly" match when it already satisfies the bound; an SA that would
 * lower the value to fit gives a different record, which the caller fetches.
 */
static bool selector_ok(uint8_t selector, unsigned have, unsigned want)
{
	switch (selector) {
	case UMAD_SA_SELECTOR_GREATER_THAN:
		return have > want;
	case UMAD_SA_SELECTOR_LESS_THAN:
		return have < want;
	case UMAD_SA_SELECTOR_EXACTLY:
		return have == want;
	default: /* largest / smallest available: any record qualifies */
		return true;
	}
}

static bool both_set(uint64_t comp_mask, uint64_t a, uint64_t b)
{
	return (comp_mask & a) && (comp_mask & b);
}

bool pr_matches(const struct ibv_path_record *rec,
		const struct ibv_path_record *q, uint64_t cm)
{
	uint64_t rs = pr_service_id(rec), qs = pr_service_id(q);

	if ((cm & PR_CM_SERVICE_ID_MSB) && (rs >> 56) != (qs >> 56))
		return false;
	if ((cm & PR_CM_SERVICE_ID_LSB) &&
	    (rs & 0x00ffffffffffffffULL) != (qs & 0x00ffffffffffffffULL))
		return false;
	if ((cm & PR_CM_DGID) && memcmp(&rec->dgid, &q->dgid, sizeof(q->dgid)))
		return false;
	if ((cm & PR_CM_SGID) && memcmp(&rec->sgid, &q->sgid, sizeof(q->sgid)))
		return false;
	if ((cm & PR_CM_DLID) && rec->dlid != q->dlid)
		return false;
	if ((cm & PR_CM_SLID) && rec->slid != q->slid)
		return false;
	if ((cm & PR_CM_FLOW_LABEL) && pr_flow_label(rec) != pr_flow_label(q))
		return false;
	if ((cm & PR_CM_HOP_LIMIT) && pr_hop_limit(rec) != pr_hop_limit(q))
		return false;
	if ((cm & PR_CM_TCLASS) && rec->tclass != q->tclass)
		return false;
	if ((cm & PR_CM_PKEY) && rec->pkey != q->pkey)
		return false;
	if ((cm & PR_CM_QOS_CLASS) && pr_qos_class(rec) != pr_qos_class(q))
		return false;
	if ((cm & PR_CM_SL) && pr_sl(rec) != pr_sl(q))
		return false;

	if (both_set(cm, PR_CM_MTU_SELECTOR, PR_CM_MTU) &&
	    !selector_ok(pr_mtu_selector(q), pr_mtu(rec), pr_mtu(q)))
		return false;
	if (both_set(cm, PR_CM_RATE_SELECTOR, PR_CM_RATE) &&
	    pr_rate_selector(q) != UMAD_SA_SELECTOR_LARGEST_AVAIL) {
		unsigned have = rate_tenths(pr_rate(rec));
		unsigned want = rate_tenths(pr_rate(q));

		if (!have || !want ||
		    !selector_ok(pr_rate_selector(q), have, want))
			return false;
	}
	if (both_set(cm, PR_CM_PKT_LIFE_SELECTOR, PR_CM_PKT_LIFE) &&
	    !selector_ok(pr_pkt_life_selector(q), pr_pkt_life(rec),
			 pr_pkt_life(q)))
		return false;
	return true;
}

/* --- GIDs as text --- */

int pr_from_text_gid(const char *s, union ibv_gid *out)
{
	static const uint8_t link_local[8] = { 0xfe, 0x80 };
	union ibv_gid gid;
	uint64_t guid = 0;
	const char *p = s;
	int n = 0, d;

	if (inet_pton(AF_INET6, s, gid.raw) == 1) {
		*out = gid;
		return 0;
	}

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; *p; p++, n++) {
		d = wire_hex_digit(*p);
		if (d < 0 || n == 16)
			return -EINVAL;
		guid = guid << 4 | (unsigned)d;
	}
	if (n == 0)
		return -EINVAL;

	memcpy(gid.raw, link_local, sizeof(link_local));
	gid.global.interface_id = htobe64(guid);
	*out = gid;
	return 0;
}

void pr_gid_to_text(const union ibv_gid *gid, char out[INET6_ADDRSTRLEN])
{
	/* cannot fail: AF_INET6 with a buffer of INET6_ADDRSTRLEN */
	if (!inet_ntop(AF_INET6, gid->raw, out, INET6_ADDRSTRLEN))
		out[0] = '\0';
}

/* --- formatting --- */

static size_t fmt_result(int n)
{
	return n < 0 ? 0 : (size_t)n;
}

size_t pr_format_saquery(const struct ibv_path_record *r, char *buf, size_t len)
{
	char dgid[INET6_ADDRSTRLEN], sgid[INET6_ADDRSTRLEN];

	pr_gid_to_text(&r->dgid, dgid);
	pr_gid_to_text(&r->sgid, sgid);
	/* field for field as infiniband-diags' dump_path_record() */
	return fmt_result(snprintf(buf, len,
		"PathRecord dump:\n"
		"\t\tservice_id..............0x%016" PRIx64 "\n"
		"\t\tdgid....................%s\n"
		"\t\tsgid....................%s\n"
		"\t\tdlid....................%u\n"
		"\t\tslid....................%u\n"
		"\t\thop_flow_raw............0x%X\n"
		"\t\ttclass..................0x%X\n"
		"\t\tnum_path_revers.........0x%X\n"
		"\t\tpkey....................0x%X\n"
		"\t\tqos_class...............0x%X\n"
		"\t\tsl......................0x%X\n"
		"\t\tmtu.....................0x%X\n"
		"\t\trate....................0x%X\n"
		"\t\tpkt_life................0x%X\n"
		"\t\tpreference..............0x%X\n"
		"\t\tresv2...................0x%02X%02X%02X%02X%02X%02X\n",
		pr_service_id(r), dgid, sgid,
		(unsigned)pr_dlid(r), (unsigned)pr_slid(r),
		(unsigned)be32toh(r->flowlabel_hoplimit),
		(unsigned)r->tclass, (unsigned)r->reversible_numpath,
		(unsigned)pr_pkey(r), (unsigned)pr_qos_class(r),
		(unsigned)pr_sl(r), (unsigned)r->mtu, (unsigned)r->rate,
		(unsigned)r->packetlifetime, (unsigned)r->preference,
		r->reserved[0], r->reserved[1], r->reserved[2],
		r->reserved[3], r->reserved[4], r->reserved[5]));
}

size_t pr_format_json(const struct ibv_path_record *r, char *buf, size_t len)
{
	char dgid[INET6_ADDRSTRLEN], sgid[INET6_ADDRSTRLEN];

	pr_gid_to_text(&r->dgid, dgid);
	pr_gid_to_text(&r->sgid, sgid);
	return fmt_result(snprintf(buf, len,
		"{\"service_id\":\"0x%016" PRIx64 "\",\"dgid\":\"%s\","
		"\"sgid\":\"%s\",\"dlid\":%u,\"slid\":%u,\"flow_label\":%u,"
		"\"hop_limit\":%u,\"tclass\":%u,\"reversible\":%u,"
		"\"numb_path\":%u,\"pkey\":\"0x%04x\",\"qos_class\":%u,"
		"\"sl\":%u,\"mtu\":%u,\"rate\":%u,\"pkt_life\":%u,"
		"\"preference\":%u}",
		pr_service_id(r), dgid, sgid,
		(unsigned)pr_dlid(r), (unsigned)pr_slid(r),
		(unsigned)pr_flow_label(r), (unsigned)pr_hop_limit(r),
		(unsigned)r->tclass, (unsigned)pr_reversible(r),
		(unsigned)pr_numb_path(r), (unsigned)pr_pkey(r),
		(unsigned)pr_qos_class(r), (unsigned)pr_sl(r),
		(unsigned)pr_mtu(r), (unsigned)pr_rate(r),
		(unsigned)pr_pkt_life(r), (unsigned)r->preference));
}

size_t pr_format_text(const struct ibv_path_record *r, char *buf, size_t len)
{
	char dgid[INET6_ADDRSTRLEN], sgid[INET6_ADDRSTRLEN];
	char mtu[16];

	pr_gid_to_text(&r->dgid, dgid);
	pr_gid_to_text(&r->sgid, sgid);
	if (pr_mtu_bytes(pr_mtu(r)))
		snprintf(mtu, sizeof(mtu), "%u", pr_mtu_bytes(pr_mtu(r)));
	else
		snprintf(mtu, sizeof(mtu), "?(0x%x)", (unsigned)pr_mtu(r));

	return fmt_result(snprintf(buf, len,
		"dgid %s dlid %u sgid %s slid %u sl %u qos_class %u "
		"mtu %s rate %s(0x%x) pkey 0x%04x pkt_life %u "
		"service_id 0x%" PRIx64 " tclass 0x%x hop_limit %u "
		"flow_label 0x%x reversible %u preference %u",
		dgid, (unsigned)pr_dlid(r), sgid, (unsigned)pr_slid(r),
		(unsigned)pr_sl(r), (unsigned)pr_qos_class(r), mtu,
		pr_rate_str(pr_rate(r)), (unsigned)pr_rate(r),
		(unsigned)pr_pkey(r), (unsigned)pr_pkt_life(r),
		pr_service_id(r), (unsigned)r->tclass,
		(unsigned)pr_hop_limit(r), (unsigned)pr_flow_label(r),
		(unsigned)pr_reversible(r), (unsigned)r->preference));
}
