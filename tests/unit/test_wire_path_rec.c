/*
 * test_wire_path_rec.c - PathRecord setters against a hand-written wire
 * vector, pr_matches() per component and selector, GID text, and the
 * saquery / JSON / text formatters.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "wire/path_rec.h"

/*
 * The record behind the `saquery -p` sample in the brief, as IBA Table 205
 * lays it out; byte for byte what OpenSM 3.3.23 sent on ibsim
 * (net.2sw2path4hca, Hca1 -> Hca2).
 */
static const uint8_t sample_vec[PR_LEN] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* ServiceID */
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* DGID fe80::20:0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* SGID fe80::10:1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01,
	0x00, 0x01, 0x00, 0x02,				/* DLID 1, SLID 2 */
	0x00, 0x00, 0x00, 0x00,				/* raw/flow label/hop limit */
	0x00, 0x80, 0xff, 0xff,				/* TClass, reversible, P_Key */
	0x00, 0x00,					/* QoSClass/SL */
	0x83, 0x83, 0x92, 0x00,				/* MTU, Rate, PktLife, Pref */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00,		/* reserved */
};

static const char sample_saquery[] =
	"PathRecord dump:\n"
	"\t\tservice_id..............0x0000000000000000\n"
	"\t\tdgid....................fe80::20:0\n"
	"\t\tsgid....................fe80::10:1\n"
	"\t\tdlid....................1\n"
	"\t\tslid....................2\n"
	"\t\thop_flow_raw............0x0\n"
	"\t\ttclass..................0x0\n"
	"\t\tnum_path_revers.........0x80\n"
	"\t\tpkey....................0xFFFF\n"
	"\t\tqos_class...............0x0\n"
	"\t\tsl......................0x0\n"
	"\t\tmtu.....................0x83\n"
	"\t\trate....................0x83\n"
	"\t\tpkt_life................0x92\n"
	"\t\tpreference..............0x0\n"
	"\t\tresv2...................0x000000000000\n";

static void gid(const char *s, union ibv_gid *g)
{
	int rc = pr_from_text_gid(s, g);

	CHECK_INT(0, rc);
}

static struct ibv_path_record sample(void)
{
	struct ibv_path_record r;
	union ibv_gid g;

	memset(&r, 0, sizeof(r));
	gid("fe80::20:0", &g);
	pr_set_dgid(&r, &g);
	gid("fe80::10:1", &g);
	pr_set_sgid(&r, &g);
	pr_set_dlid(&r, 1);
	pr_set_slid(&r, 2);
	pr_set_numb_path(&r, 0, true);
	pr_set_pkey(&r, 0xffff);
	pr_set_mtu(&r, 2, 3);
	pr_set_rate(&r, 2, 3);
	pr_set_pkt_life(&r, 2, 18);
	return r;
}

static void test_layout_and_accessors(void)
{
	struct ibv_path_record r = sample(), d;
	uint8_t buf[PR_LEN];

	CHECK_MEM(sample_vec, &r, PR_LEN);
	pr_encode(buf, &r);
	CHECK_MEM(sample_vec, buf, PR_LEN);
	CHECK_INT(0, pr_decode(buf, sizeof(buf), &d));
	CHECK_MEM(&r, &d, PR_LEN);
	CHECK_INT(-EMSGSIZE, pr_decode(buf, PR_LEN - 1, &d));

	CHECK_INT(1, pr_dlid(&r));
	CHECK_INT(2, pr_slid(&r));
	CHECK_INT(0xffff, pr_pkey(&r));
	CHECK_INT(0, pr_sl(&r));
	CHECK_INT(0, pr_qos_class(&r));
	CHECK_INT(3, pr_mtu(&r));
	CHECK_INT(2, pr_mtu_selector(&r));
	CHECK_INT(3, pr_rate(&r));
	CHECK_INT(2, pr_rate_selector(&r));
	CHECK_INT(18, pr_pkt_life(&r));
	CHECK_INT(2, pr_pkt_life_selector(&r));
	CHECK_INT(1, pr_reversible(&r));
	CHECK_INT(0, pr_numb_path(&r));
	CHECK_INT(0, pr_hop_limit(&r));
	CHECK_INT(0, pr_flow_label(&r));
	CHECK_INT(0, pr_raw_traffic(&r));
	CHECK(pr_service_id(&r) == 0);
}

static void test_packed_fields(void)
{
	struct ibv_path_record r;
	const uint8_t *b = (const uint8_t *)&r;

	memset(&r, 0, sizeof(r));
	pr_set_qos_class(&r, 0xabc);
	pr_set_sl(&r, 5);
	CHECK_INT(0xab, b[52]);
	CHECK_INT(0xc5, b[53]);
	pr_set_sl(&r, 0x17);		/* only 4 bits, QoS class kept */
	CHECK_INT(0xab, b[52]);
	CHECK_INT(0xc7, b[53]);
	pr_set_qos_class(&r, 0x123);	/* SL kept */
	CHECK_INT(0x12, b[52]);
	CHECK_INT(0x37, b[53]);
	CHECK_INT(0x123, pr_qos_class(&r));
	CHECK_INT(7, pr_sl(&r));

	b = (const uint8_t *)&r;
	r.flowlabel_hoplimit = htobe32(0x80000000u);	/* RawTraffic */
	pr_set_flow_label(&r, 0xabcde);
	pr_set_hop_limit(&r, 0x40);
	CHECK_INT(0x8a, b[44]);
	CHECK_INT(0xbc, b[45]);
	CHECK_INT(0xde, b[46]);
	CHECK_INT(0x40, b[47]);
	CHECK_INT(0xabcde, pr_flow_label(&r));
	CHECK_INT(0x40, pr_hop_limit(&r));
	CHECK_INT(1, pr_raw_traffic(&r));

	pr_set_numb_path(&r, 0x7f, false);
	CHECK_INT(0x7f, b[49]);
	pr_set_numb_path(&r, 1, true);
	CHECK_INT(0x81, b[49]);

	pr_set_service_id(&r, 0x0102030405060708ULL);
	CHECK_INT(0x01, b[0]);
	CHECK_INT(0x08, b[7]);
	pr_set_tclass(&r, 0x5a);
	CHECK_INT(0x5a, b[48]);
	pr_set_mtu(&r, 1, 5);
	CHECK_INT(0x45, b[54]);
}

/* --- pr_matches --- */

static void test_match_identity(void)
{
	struct ibv_path_record rec = sample(), q;
	union ibv_gid g;

	memset(&q, 0, sizeof(q));
	CHECK(pr_matches(&rec, &q, 0));			/* no component: anything */

	q = rec;
	CHECK(pr_matches(&rec, &q, PR_CM_DGID | PR_CM_SGID | PR_CM_DLID |
			 PR_CM_SLID | PR_CM_PKEY | PR_CM_SL | PR_CM_QOS_CLASS |
			 PR_CM_SERVICE_ID | PR_CM_TCLASS | PR_CM_FLOW_LABEL |
			 PR_CM_HOP_LIMIT));

	gid("fe80::20:1", &g);
	pr_set_dgid(&q, &g);
	CHECK(!pr_matches(&rec, &q, PR_CM_DGID));
	CHECK(pr_matches(&rec, &q, PR_CM_SGID));
	pr_set_sgid(&q, &g);
	CHECK(!pr_matches(&rec, &q, PR_CM_SGID));

	q = rec;
	pr_set_dlid(&q, 7);
	CHECK(!pr_matches(&rec, &q, PR_CM_DLID));
	CHECK(pr_matches(&rec, &q, PR_CM_DGID));
	pr_set_slid(&q, 7);
	CHECK(!pr_matches(&rec, &q, PR_CM_SLID));

	q = rec;
	pr_set_pkey(&q, 0x7fff);			/* limited member of the same partition */
	CHECK(!pr_matches(&rec, &q, PR_CM_PKEY));
	CHECK(pr_matches(&rec, &q, PR_CM_DGID | PR_CM_DLID));

	q = rec;
	pr_set_sl(&q, 3);
	CHECK(!pr_matches(&rec, &q, PR_CM_SL));
	CHECK(pr_matches(&rec, &q, PR_CM_QOS_CLASS));
	q = rec;
	pr_set_qos_class(&q, 9);
	CHECK(!pr_matches(&rec, &q, PR_CM_QOS_CLASS));
	CHECK(pr_matches(&rec, &q, PR_CM_SL));

	q = rec;
	pr_set_tclass(&q, 1);
	CHECK(!pr_matches(&rec, &q, PR_CM_TCLASS));
	q = rec;
	pr_set_flow_label(&q, 1);
	CHECK(!pr_matches(&rec, &q, PR_CM_FLOW_LABEL));
	CHECK(pr_matches(&rec, &q, PR_CM_HOP_LIMIT));
	q = rec;
	pr_set_hop_limit(&q, 1);
	CHECK(!pr_matches(&rec, &q, PR_CM_HOP_LIMIT));
	CHECK(pr_matches(&rec, &q, PR_CM_FLOW_LABEL));
}

static void test_match_answer_shapers(void)
{
	struct ibv_path_record rec = sample(), q = rec;

	/* NumbPath, Reversible, Preference, RawTraffic never exclude */
	pr_set_numb_path(&q, 16, false);
	q.preference = 3;
	q.flowlabel_hoplimit = htobe32(0x80000000u);
	CHECK(pr_matches(&rec, &q, PR_CM_NUMB_PATH | PR_CM_REVERSIBLE |
			 PR_CM_PREFERENCE | PR_CM_RAW_TRAFFIC));
}

static void test_match_service_id(void)
{
	struct ibv_path_record rec = sample(), q = rec;

	pr_set_service_id(&rec, 0x1100000000000022ULL);

	pr_set_service_id(&q, 0x1100000000000022ULL);
	CHECK(pr_matches(&rec, &q, PR_CM_SERVICE_ID));

	/* low 56 bits differ */
	pr_set_service_id(&q, 0x11000000000000ffULL);
	CHECK(!pr_matches(&rec, &q, PR_CM_SERVICE_ID));
	CHECK(!pr_matches(&rec, &q, PR_CM_SERVICE_ID_LSB));
	CHECK(pr_matches(&rec, &q, PR_CM_SERVICE_ID_MSB));

	/* top 8 bits differ */
	pr_set_service_id(&q, 0x2200000000000022ULL);
	CHECK(!pr_matches(&rec, &q, PR_CM_SERVICE_ID));
	CHECK(!pr_matches(&rec, &q, PR_CM_SERVICE_ID_MSB));
	CHECK(pr_matches(&rec, &q, PR_CM_SERVICE_ID_LSB));

	/* bit 55 belongs to the LSB part, bit 56 to the MSB part */
	pr_set_service_id(&q, 0x1180000000000022ULL);
	CHECK(!pr_matches(&rec, &q, PR_CM_SERVICE_ID_LSB));
	CHECK(pr_matches(&rec, &q, PR_CM_SERVICE_ID_MSB));
	pr_set_service_id(&q, 0x1000000000000022ULL);
	CHECK(!pr_matches(&rec, &q, PR_CM_SERVICE_ID_MSB));
	CHECK(pr_matches(&rec, &q, PR_CM_SERVICE_ID_LSB));
}

#define MTU_CM (PR_CM_MTU_SELECTOR | PR_CM_MTU)
#define RATE_CM (PR_CM_RATE_SELECTOR | PR_CM_RATE)
#define LIFE_CM (PR_CM_PKT_LIFE_SELECTOR | PR_CM_PKT_LIFE)

static bool mtu_q(const struct ibv_path_record *rec, uint8_t sel, uint8_t v, uint64_t cm)
{
	struct ibv_path_record q = *rec;

	pr_set_mtu(&q, sel, v);
	return pr_matches(rec, &q, cm);
}

static bool rate_q(const struct ibv_path_record *rec, uint8_t sel, uint8_t v)
{
	struct ibv_path_record q = *rec;

	pr_set_rate(&q, sel, v);
	return pr_matches(rec, &q, RATE_CM);
}

static bool life_q(const struct ibv_path_record *rec, uint8_t sel, uint8_t v)
{
	struct ibv_path_record q = *rec;

	pr_set_pkt_life(&q, sel, v);
	return pr_matches(rec, &q, LIFE_CM);
}

static void test_match_mtu(void)
{
	struct ibv_path_record rec = sample();	/* MTU 1024 (code 3) */

	CHECK(mtu_q(&rec, 0, 2, MTU_CM));	/* > 512 */
	CHECK(!mtu_q(&rec, 0, 3, MTU_CM));	/* > 1024 */
	CHECK(!mtu_q(&rec, 0, 4, MTU_CM));
	CHECK(mtu_q(&rec, 1, 4, MTU_CM));	/* < 2048 */
	CHECK(!mtu_q(&rec, 1, 3, MTU_CM));	/* < 1024 */
	CHECK(!mtu_q(&rec, 1, 1, MTU_CM));
	CHECK(mtu_q(&rec, 2, 3, MTU_CM));	/* exactly 1024 */
	CHECK(!mtu_q(&rec, 2, 4, MTU_CM));
	CHECK(!mtu_q(&rec, 2, 2, MTU_CM));
	CHECK(mtu_q(&rec, 3, 5, MTU_CM));	/* largest available */
	CHECK(mtu_q(&rec, 3, 1, MTU_CM));
	/* OpenSM ignores the MTU unless both selector and value are given */
	CHECK(mtu_q(&rec, 2, 5, PR_CM_MTU));
	CHECK(mtu_q(&rec, 2, 5, PR_CM_MTU_SELECTOR));
}

static void test_match_rate(void)
{
	struct ibv_path_record rec = sample();	/* 10 Gb/s (code 3) */

	/* codes are not in speed order: 5 is 5 Gb/s, 6 is 20 Gb/s */
	CHECK(rate_q(&rec, 0, 5));		/* > 5 Gb/s */
	CHECK(rate_q(&rec, 0, 2));		/* > 2.5 Gb/s */
	CHECK(!rate_q(&rec, 0, 3));		/* > 10 Gb/s */
	CHECK(!rate_q(&rec, 0, 6));		/* > 20 Gb/s */
	CHECK(!rate_q(&rec, 0, 11));		/* > 14 Gb/s */
	CHECK(rate_q(&rec, 1, 6));		/* < 20 Gb/s */
	CHECK(rate_q(&rec, 1, 4));		/* < 30 Gb/s, code 4 > 3 too */
	CHECK(!rate_q(&rec, 1, 5));		/* < 5 Gb/s although code 5 > 3 */
	CHECK(!rate_q(&rec, 1, 3));
	CHECK(rate_q(&rec, 2, 3));		/* exactly 10 Gb/s */
	CHECK(!rate_q(&rec, 2, 7));
	CHECK(rate_q(&rec, 3, 24));		/* largest available */
	CHECK(!rate_q(&rec, 2, 0));		/* unknown code never equals */
	CHECK(!rate_q(&rec, 0, 63));

	pr_set_rate(&rec, 2, 0);		/* unknown rate in the record */
	CHECK(!rate_q(&rec, 1, 3));
	CHECK(rate_q(&rec, 3, 3));
}

static void test_match_pkt_life(void)
{
	struct ibv_path_record rec = sample();	/* 18 */

	CHECK(life_q(&rec, 0, 17));
	CHECK(!life_q(&rec, 0, 18));
	CHECK(life_q(&rec, 1, 19));
	CHECK(!life_q(&rec, 1, 18));
	CHECK(life_q(&rec, 2, 18));
	CHECK(!life_q(&rec, 2, 17));
	CHECK(life_q(&rec, 3, 0));		/* smallest available */
}

/* --- GIDs as text --- */

static void test_gid_text(void)
{
	static const uint8_t guid_gid[16] = {
		0xfe, 0x80, 0, 0, 0, 0, 0, 0,
		0x00, 0x02, 0xc9, 0x03, 0x00, 0x00, 0x12, 0x34,
	};
	char txt[INET6_ADDRSTRLEN];
	union ibv_gid g, before;

	gid("fe80::20:0", &g);
	CHECK_MEM(sample_vec + 8, g.raw, 16);
	pr_gid_to_text(&g, txt);
	CHECK_STR("fe80::20:0", txt);

	gid("0x0002c90300001234", &g);
	CHECK_MEM(guid_gid, g.raw, 16);
	pr_gid_to_text(&g, txt);
	CHECK_STR("fe80::2:c903:0:1234", txt);
	gid("0002C90300001234", &g);
	CHECK_MEM(guid_gid, g.raw, 16);
	gid("0x2c90300001234", &g);
	CHECK_MEM(guid_gid, g.raw, 16);
	gid("fe80:0000:0000:0000:0002:c903:0000:1234", &g);
	CHECK_MEM(guid_gid, g.raw, 16);

	memset(&g, 0x11, sizeof(g));
	before = g;
	CHECK_INT(-EINVAL, pr_from_text_gid("", &g));
	CHECK_INT(-EINVAL, pr_from_text_gid("0x", &g));
	CHECK_INT(-EINVAL, pr_from_text_gid("xyz", &g));
	CHECK_INT(-EINVAL, pr_from_text_gid("0x00002c90300001234", &g)); /* 17 digits */
	CHECK_INT(-EINVAL, pr_from_text_gid("fe80::1::2", &g));
	CHECK_INT(-EINVAL, pr_from_text_gid("0x12 ", &g));
	CHECK_MEM(&before, &g, sizeof(g));
}

/* --- formatters --- */

static void test_format_saquery(void)
{
	struct ibv_path_record r = sample();
	char buf[1024], small[10];
	size_t n;

	n = pr_format_saquery(&r, buf, sizeof(buf));
	CHECK_STR(sample_saquery, buf);
	CHECK_INT(strlen(sample_saquery), n);

	/* snprintf contract: full length returned, output cut and terminated */
	CHECK_INT(n, pr_format_saquery(&r, small, sizeof(small)));
	CHECK_STR("PathRecor", small);
	CHECK_INT(n, pr_format_saquery(&r, NULL, 0));

	/*
	 * Real `saquery -p` output (ibsim, umad2sim) for the record built from
	 * the bytes after umad2sim's 224-byte cut: checks resv2 and tclass.
	 */
	{
		static const char expect[] =
			"PathRecord dump:\n"
			"\t\tservice_id..............0x0000000000000000\n"
			"\t\tdgid....................fe80::20:0\n"
			"\t\tsgid....................fe80::20:1\n"
			"\t\tdlid....................0\n"
			"\t\tslid....................0\n"
			"\t\thop_flow_raw............0x0\n"
			"\t\ttclass..................0x25\n"
			"\t\tnum_path_revers.........0x0\n"
			"\t\tpkey....................0x0\n"
			"\t\tqos_class...............0x0\n"
			"\t\tsl......................0x0\n"
			"\t\tmtu.....................0x0\n"
			"\t\trate....................0x0\n"
			"\t\tpkt_life................0x0\n"
			"\t\tpreference..............0x0\n"
			"\t\tresv2...................0x77FE07000000\n";
		struct ibv_path_record g;
		union ibv_gid x;

		memset(&g, 0, sizeof(g));
		gid("fe80::20:0", &x);
		pr_set_dgid(&g, &x);
		gid("fe80::20:1", &x);
		pr_set_sgid(&g, &x);
		pr_set_tclass(&g, 0x25);
		g.reserved[0] = 0x77;
		g.reserved[1] = 0xfe;
		g.reserved[2] = 0x07;
		pr_format_saquery(&g, buf, sizeof(buf));
		CHECK_STR(expect, buf);
	}

	/* every field non-zero; format from infiniband-diags dump_path_record() */
	{
		static const char expect[] =
			"PathRecord dump:\n"
			"\t\tservice_id..............0x1000000000000abc\n"
			"\t\tdgid....................fe80::2:c903:0:1234\n"
			"\t\tsgid....................fe80::10:1\n"
			"\t\tdlid....................49151\n"
			"\t\tslid....................258\n"
			"\t\thop_flow_raw............0x81234540\n"
			"\t\ttclass..................0x1F\n"
			"\t\tnum_path_revers.........0x7F\n"
			"\t\tpkey....................0x8001\n"
			"\t\tqos_class...............0xABC\n"
			"\t\tsl......................0xF\n"
			"\t\tmtu.....................0x45\n"
			"\t\trate....................0x10\n"
			"\t\tpkt_life................0xC0\n"
			"\t\tpreference..............0x1\n"
			"\t\tresv2...................0x00000000000A\n";
		union ibv_gid g;

		pr_set_service_id(&r, 0x1000000000000abcULL);
		gid("0x0002c90300001234", &g);
		pr_set_dgid(&r, &g);
		pr_set_dlid(&r, 0xbfff);
		pr_set_slid(&r, 0x102);
		r.flowlabel_hoplimit = htobe32(0x80000000u);
		pr_set_flow_label(&r, 0x12345);
		pr_set_hop_limit(&r, 0x40);
		pr_set_tclass(&r, 0x1f);
		pr_set_numb_path(&r, 0x7f, false);
		pr_set_pkey(&r, 0x8001);
		pr_set_qos_class(&r, 0xabc);
		pr_set_sl(&r, 0xf);
		pr_set_mtu(&r, 1, 5);
		pr_set_rate(&r, 0, 16);
		pr_set_pkt_life(&r, 3, 0);
		r.preference = 1;
		r.reserved[5] = 0x0a;
		pr_format_saquery(&r, buf, sizeof(buf));
		CHECK_STR(expect, buf);
	}
}

static void test_format_json_text(void)
{
	struct ibv_path_record r = sample();
	char buf[1024];
	size_t n;

	n = pr_format_json(&r, buf, sizeof(buf));
	CHECK_STR("{\"service_id\":\"0x0000000000000000\",\"dgid\":\"fe80::20:0\","
		  "\"sgid\":\"fe80::10:1\",\"dlid\":1,\"slid\":2,\"flow_label\":0,"
		  "\"hop_limit\":0,\"tclass\":0,\"reversible\":1,\"numb_path\":0,"
		  "\"pkey\":\"0xffff\",\"qos_class\":0,\"sl\":0,\"mtu\":3,"
		  "\"rate\":3,\"pkt_life\":18,\"preference\":0}", buf);
	CHECK_INT(strlen(buf), n);

	n = pr_format_text(&r, buf, sizeof(buf));
	CHECK_STR("dgid fe80::20:0 dlid 1 sgid fe80::10:1 slid 2 sl 0 qos_class 0 "
		  "mtu 1024 rate 10Gb/s(0x3) pkey 0xffff pkt_life 18 "
		  "service_id 0x0 tclass 0x0 hop_limit 0 flow_label 0x0 "
		  "reversible 1 preference 0", buf);
	CHECK_INT(strlen(buf), n);

	pr_set_mtu(&r, 2, 9);
	pr_set_rate(&r, 2, 2);
	pr_format_text(&r, buf, sizeof(buf));
	CHECK(strstr(buf, " mtu ?(0x9) rate 2.5Gb/s(0x2) ") != NULL);
}

static void test_codes(void)
{
	CHECK_INT(256, pr_mtu_bytes(1));
	CHECK_INT(1024, pr_mtu_bytes(3));
	CHECK_INT(4096, pr_mtu_bytes(5));
	CHECK_INT(0, pr_mtu_bytes(0));
	CHECK_INT(0, pr_mtu_bytes(6));
	CHECK_STR("2.5Gb/s", pr_rate_str(2));
	CHECK_STR("10Gb/s", pr_rate_str(3));
	CHECK_STR("5Gb/s", pr_rate_str(5));
	CHECK_STR("56Gb/s", pr_rate_str(12));
	CHECK_STR("100Gb/s", pr_rate_str(16));
	CHECK_STR("1200Gb/s", pr_rate_str(24));
	CHECK_STR("?", pr_rate_str(0));
	CHECK_STR("?", pr_rate_str(1));
	CHECK_STR("?", pr_rate_str(25));
	CHECK_STR("?", pr_rate_str(63));
}

int main(void)
{
	test_layout_and_accessors();
	test_packed_fields();
	test_match_identity();
	test_match_answer_shapers();
	test_match_service_id();
	test_match_mtu();
	test_match_rate();
	test_match_pkt_life();
	test_gid_text();
	test_format_saquery();
	test_format_json_text();
	test_codes();
	return CHECK_DONE();
}
