/*
 * path_rec.h - PathRecord (SA attribute 0x0035) helpers.
 *
 * Records stay in wire form (struct ibv_path_record, network order, 64
 * bytes) everywhere; these accessors give host-order fields, pr_matches()
 * applies a request's component mask, and the formatters print a record
 * as saquery, JSON or one text line. Pure.
 */
#ifndef LOCALSA_WIRE_PATH_REC_H
#define LOCALSA_WIRE_PATH_REC_H

#include <endian.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <infiniband/sa.h>

#define PR_LEN 64

/* PathRecord ComponentMask bits (IBA 15.2.5.16; OpenSM IB_PR_COMPMASK_*) */
enum {
	PR_CM_SERVICE_ID_MSB = 1ULL << 0,	/* ServiceID8MSB */
	PR_CM_SERVICE_ID_LSB = 1ULL << 1,	/* ServiceID56LSB */
	PR_CM_SERVICE_ID = PR_CM_SERVICE_ID_MSB | PR_CM_SERVICE_ID_LSB,
	PR_CM_DGID = 1ULL << 2,
	PR_CM_SGID = 1ULL << 3,
	PR_CM_DLID = 1ULL << 4,
	PR_CM_SLID = 1ULL << 5,
	PR_CM_RAW_TRAFFIC = 1ULL << 6,
	/* bit 7 reserved */
	PR_CM_FLOW_LABEL = 1ULL << 8,
	PR_CM_HOP_LIMIT = 1ULL << 9,
	PR_CM_TCLASS = 1ULL << 10,
	PR_CM_REVERSIBLE = 1ULL << 11,
	PR_CM_NUMB_PATH = 1ULL << 12,
	PR_CM_PKEY = 1ULL << 13,
	PR_CM_QOS_CLASS = 1ULL << 14,
	PR_CM_SL = 1ULL << 15,
	PR_CM_MTU_SELECTOR = 1ULL << 16,
	PR_CM_MTU = 1ULL << 17,
	PR_CM_RATE_SELECTOR = 1ULL << 18,
	PR_CM_RATE = 1ULL << 19,
	PR_CM_PKT_LIFE_SELECTOR = 1ULL << 20,
	PR_CM_PKT_LIFE = 1ULL << 21,
	PR_CM_PREFERENCE = 1ULL << 22,
};

/* --- host-order accessors --- */

static inline uint64_t pr_service_id(const struct ibv_path_record *r) { return be64toh(r->service_id); }
static inline uint16_t pr_dlid(const struct ibv_path_record *r) { return be16toh(r->dlid); }
static inline uint16_t pr_slid(const struct ibv_path_record *r) { return be16toh(r->slid); }
static inline bool pr_raw_traffic(const struct ibv_path_record *r) { return be32toh(r->flowlabel_hoplimit) >> 31; }
static inline uint32_t pr_flow_label(const struct ibv_path_record *r) { return (be32toh(r->flowlabel_hoplimit) >> 8) & 0xfffff; }
static inline uint8_t pr_hop_limit(const struct ibv_path_record *r) { return be32toh(r->flowlabel_hoplimit) & 0xff; }
static inline uint8_t pr_tclass(const struct ibv_path_record *r) { return r->tclass; }
static inline bool pr_reversible(const struct ibv_path_record *r) { return r->reversible_numpath >> 7; }
static inline uint8_t pr_numb_path(const struct ibv_path_record *r) { return r->reversible_numpath & 0x7f; }
static inline uint16_t pr_pkey(const struct ibv_path_record *r) { return be16toh(r->pkey); }
static inline uint16_t pr_qos_class(const struct ibv_path_record *r) { return be16toh(r->qosclass_sl) >> 4; }
static inline uint8_t pr_sl(const struct ibv_path_record *r) { return be16toh(r->qosclass_sl) & 0xf; }
/* value bits (5:0) and selector (7:6) of MTU, Rate, PacketLifeTime */
static inline uint8_t pr_mtu(const struct ibv_path_record *r) { return r->mtu & 0x3f; }
static inline uint8_t pr_mtu_selector(const struct ibv_path_record *r) { return r->mtu >> 6; }
static inline uint8_t pr_rate(const struct ibv_path_record *r) { return r->rate & 0x3f; }
static inline uint8_t pr_rate_selector(const struct ibv_path_record *r) { return r->rate >> 6; }
static inline uint8_t pr_pkt_life(const struct ibv_path_record *r) { return r->packetlifetime & 0x3f; }
static inline uint8_t pr_pkt_life_selector(const struct ibv_path_record *r) { return r->packetlifetime >> 6; }
static inline uint8_t pr_preference(const struct ibv_path_record *r) { return r->preference; }

/* The first of recs[i..n) past the paths to recs[i]'s DGID: the end of one destination's run in
 * records grouped by DGID (i at n: n). */
static inline size_t pr_dgid_run_end(const struct ibv_path_record *recs, size_t n, size_t i)
{
	size_t e = i;

	while (e < n && !memcmp(&recs[e].dgid, &recs[i].dgid, sizeof(recs[i].dgid)))
		e++;
	return e;
}

/* --- setters (what a requester fills in; the rest for tests and loads) --- */

void pr_set_sgid(struct ibv_path_record *r, const union ibv_gid *gid);
void pr_set_dgid(struct ibv_path_record *r, const union ibv_gid *gid);
void pr_set_dlid(struct ibv_path_record *r, uint16_t lid);
void pr_set_slid(struct ibv_path_record *r, uint16_t lid);
void pr_set_pkey(struct ibv_path_record *r, uint16_t pkey);
void pr_set_sl(struct ibv_path_record *r, uint8_t sl);		/* keeps QoS class */
void pr_set_qos_class(struct ibv_path_record *r, uint16_t qc);	/* keeps SL */
void pr_set_service_id(struct ibv_path_record *r, uint64_t sid);
void pr_set_numb_path(struct ibv_path_record *r, uint8_t numb, bool reversible);
void pr_set_tclass(struct ibv_path_record *r, uint8_t tclass);
void pr_set_flow_label(struct ibv_path_record *r, uint32_t fl);	/* keeps hop limit, raw bit */
void pr_set_hop_limit(struct ibv_path_record *r, uint8_t hl);	/* keeps flow label, raw bit */
void pr_set_mtu(struct ibv_path_record *r, uint8_t selector, uint8_t mtu);
void pr_set_rate(struct ibv_path_record *r, uint8_t selector, uint8_t rate);
void pr_set_pkt_life(struct ibv_path_record *r, uint8_t selector, uint8_t life);

/* Copy a record out of / into a wire buffer; -EMSGSIZE if len < PR_LEN. */
int pr_decode(const void *buf, size_t len, struct ibv_path_record *out);
void pr_encode(void *buf64, const struct ibv_path_record *r);

/*
 * Does rec satisfy every field comp_mask selects in query? MTU, Rate and
 * PacketLifeTime apply the selector (0 greater than, 1 less than, 2 exactly,
 * 3 largest/smallest available = any) and, as OpenSM does, only when both
 * the selector bit and the value bit are set; Rate compares by link speed,
 * not by code. NumbPath, Reversible, Preference and RawTraffic shape the
 * answer and never exclude a record. ServiceID MSB/LSB compare the top 8 /
 * low 56 bits.
 */
bool pr_matches(const struct ibv_path_record *rec,
		const struct ibv_path_record *query, uint64_t comp_mask);

/* IBA codes: MTU 1..5 -> 256..4096 bytes (0 if unknown); rate code -> text. */
unsigned pr_mtu_bytes(uint8_t mtu_code);
const char *pr_rate_str(uint8_t rate_code);	/* "10Gb/s"; "?" if unknown */

/*
 * 0 on success, -EINVAL otherwise. Accepts any inet_pton(AF_INET6) form or
 * a bare port GUID ("0x0002c90300001234", 1-16 hex digits, 0x optional)
 * meaning fe80::/64 + GUID.
 */
int pr_from_text_gid(const char *s, union ibv_gid *out);
void pr_gid_to_text(const union ibv_gid *gid, char out[INET6_ADDRSTRLEN]);

/*
 * Formatters; each returns the length the full text needs, like snprintf,
 * and writes at most len bytes including the NUL.
 *  saquery: the exact "PathRecord dump:" block of `saquery -p`.
 *  json:    one object; numbers in host order, mtu/rate/pkt_life as IBA
 *           codes without selector, service_id and pkey as hex strings.
 *  text:    one line for people, no trailing newline.
 */
size_t pr_format_saquery(const struct ibv_path_record *rec, char *buf, size_t len);
size_t pr_format_json(const struct ibv_path_record *rec, char *buf, size_t len);
size_t pr_format_text(const struct ibv_path_record *rec, char *buf, size_t len);

#endif
