/*
 * sa_mad.h - MAD common header + RMPP header + SA header codec.
 *
 * The first 56 bytes of every SA MAD (struct umad_sa_packet up to .data),
 * decoded into host order and encoded back (the first 24, the common header,
 * of any MAD), the RMPP header of a whole message, the record count of a
 * GetTable response and printable names for methods and statuses. Pure.
 */
#ifndef LOCALSA_WIRE_SA_MAD_H
#define LOCALSA_WIRE_SA_MAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAD_HDR_LEN 24	/* the common header every class shares (struct umad_hdr) */
#define SA_HDR_LEN 56	/* == offsetof(struct umad_sa_packet, data) */
#define MAD_LEN 256
#define SA_DATA_LEN (MAD_LEN - SA_HDR_LEN)	/* 200: payload of one MAD */
#define SA_RMPP_CLASS_HDR_LEN 20 /* SM_Key..ComponentMask, counted in PayLen */

/* Decoded, host order; the fields up to attr_mod are the common header of every class. */
struct sa_hdr {
	uint8_t base_version, mgmt_class, class_version, method;
	uint16_t status;
	uint16_t class_specific;
	uint64_t tid;
	uint16_t attr_id;
	uint32_t attr_mod;
	uint8_t rmpp_version, rmpp_type;
	uint8_t rmpp_flags;	/* whole byte: RRespTime (7:3) | RMPPFlags (2:0) */
	uint8_t rmpp_status;
	uint32_t rmpp_seg_num, rmpp_paylen;
	uint64_t sm_key;
	uint16_t attr_offset;	/* in 8-byte words */
	uint64_t comp_mask;
};

/* 0, -EMSGSIZE if len < SA_HDR_LEN, -EPROTO if base_version != 1. */
int sa_hdr_decode(const void *mad, size_t len, struct sa_hdr *out);

/* The common header of a MAD of any class (the RMPP and SA fields of *out are zeroed):
 * 0, or -EMSGSIZE if len < MAD_HDR_LEN. The base version is the caller's to check. */
int mad_hdr_decode(const void *mad, size_t len, struct sa_hdr *out);

/* Writes exactly SA_HDR_LEN bytes; reserved fields are written as zero. */
void sa_hdr_encode(void *mad, const struct sa_hdr *h);

/*
 * RMPP (IBA 13.6.2): libibumad names the version (UMAD_RMPP_VERSION) and the Active flag
 * (UMAD_RMPP_FLAG_ACTIVE); the DATA type and the First/Last flags are these.
 */
enum {
	SA_RMPP_TYPE_DATA = 1,
	SA_RMPP_FLAG_FIRST = 1 << 1,
	SA_RMPP_FLAG_LAST = 1 << 2,
};

/*
 * The RMPP header of a message handed to the kernel whole (it segments): active, DATA,
 * first and last, segment 1, PayLen = the 20-byte SA class header + data_len. With active
 * false every RMPP field is zeroed: a single MAD.
 */
void sa_hdr_set_rmpp(struct sa_hdr *h, bool active, size_t data_len);

/* Base version 1, class SA (0x03), class version 2, attr_offset 0. */
void sa_hdr_init_request(struct sa_hdr *h, uint8_t method, uint16_t attr_id,
			 uint64_t tid, uint64_t comp_mask);

/*
 * Records in a (GetTable) response of mad_len bytes: rec_len = attr_offset*8.
 * attr_offset 0 means no records (count 0). When the RMPP header carries a
 * PayLen (active flag and non-zero), it is authoritative: count =
 * (paylen - 20) / rec_len, which must divide exactly and fit in mad_len.
 * Otherwise count = (mad_len - 56) / rec_len and a shorter tail is padding.
 * -EMSGSIZE if mad_len < 56 or PayLen exceeds the buffer, -EPROTO on
 * inconsistent values. Out-parameters are written only on success.
 */
int sa_table_count(const struct sa_hdr *h, size_t mad_len, size_t *rec_len,
		   size_t *count);

/* SA status lives in bits 8-14 of the MAD status; generic bits 0-4. */
static inline uint8_t sa_status_code(uint16_t mad_status)
{
	return (uint8_t)((mad_status >> 8) & 0x7f);
}

/* "SUCCESS", "NO_RECORDS", "BUSY", "INVALID_FIELD", ...; never NULL. */
const char *sa_status_str(uint16_t mad_status);

/* "Get", "GetTable", "GetTableResp", "Report", ...; never NULL. */
const char *sa_method_str(uint8_t method);
/* "PathRecord", "InformInfo", ...: the attribute's name in the IBA; "another attribute". */
const char *sa_attr_str(uint16_t attr_id);

#endif
