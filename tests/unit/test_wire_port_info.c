/*
 * test_wire_port_info.c - PortInfo field reads and the 0-hop DR SMP, against
 * hand-written IBA 14.2 vectors.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "wire/port_info.h"

static void test_port_info_fields(void)
{
	uint8_t pi[PORT_INFO_LEN] = { 0 };
	uint16_t lid = 0xdead, sm = 0xdead;
	uint8_t state = 0xee, lmc = 0xee;
	uint64_t prefix = 0;

	memset(pi, 0, sizeof(pi));
	pi[0] = 0xaa;				/* M_Key, ignored */
	pi[8] = 0xfe;				/* GIDPrefix fe80:: */
	pi[9] = 0x80;
	pi[16] = 0x00;				/* LID 5 */
	pi[17] = 0x05;
	pi[18] = 0x01;				/* MasterSMLID 0x0102 */
	pi[19] = 0x02;
	pi[32] = 0x24;				/* speeds 2, PortState Active */
	pi[34] = 0xc2;				/* M_KeyProtect 3, LMC 2 */

	CHECK_INT(0, port_info_lid(pi, sizeof(pi), &lid));
	CHECK_INT(5, lid);
	CHECK_INT(0, port_info_sm_lid(pi, sizeof(pi), &sm));
	CHECK_INT(0x0102, sm);
	CHECK_INT(0, port_info_state(pi, sizeof(pi), &state));
	CHECK_INT(PORT_STATE_ACTIVE, state);
	CHECK_INT(0, port_info_lmc(pi, sizeof(pi), &lmc));
	CHECK_INT(2, lmc);
	CHECK_INT(0, port_info_gid_prefix(pi, sizeof(pi), &prefix));
	CHECK(prefix == 0xfe80000000000000ULL);

	sm = 0x1234;
	CHECK_INT(-EMSGSIZE, port_info_sm_lid(pi, PORT_INFO_LEN - 1, &sm));
	CHECK_INT(0x1234, sm);
	CHECK_INT(-EMSGSIZE, port_info_lid(pi, 0, &lid));
	CHECK_INT(-EMSGSIZE, port_info_state(pi, 20, &state));
	CHECK_INT(-EMSGSIZE, port_info_lmc(pi, 34, &lmc));
	CHECK_INT(-EMSGSIZE, port_info_gid_prefix(pi, 15, &prefix));
}

static void test_smp(void)
{
	static const uint8_t expect_hdr[64] = {
		0x01, 0x81, 0x01, 0x01,		/* base, class DR, ver 1, Get */
		0x00, 0x00, 0x00, 0x00,		/* status, hop ptr, hop count */
		0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, /* TID */
		0x00, 0x15, 0x00, 0x00,		/* PortInfo, reserved */
		0x00, 0x00, 0x00, 0x01,		/* attr mod: port 1 */
		0, 0, 0, 0, 0, 0, 0, 0,		/* M_Key */
		0xff, 0xff, 0xff, 0xff,		/* DrSLID, DrDLID permissive */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* reserved 28 */
	};
	static const uint8_t zero[64] = { 0 };
	uint8_t mad[256];
	const uint8_t *data = NULL;
	uint16_t sm = 0;

	memset(mad, 0xee, sizeof(mad));
	smp_encode_dr_get(mad, 0x12345678, 0x0015, 1);
	CHECK_MEM(expect_hdr, mad, 64);
	CHECK_MEM(zero, mad + 64, 64);
	CHECK_INT(0xee, mad[128]);		/* path arrays left alone */

	/* a request is not a response */
	CHECK_INT(-EPROTO, smp_resp_data(mad, sizeof(mad), &data));

	/* turn it into the port's answer: GetResp, D bit set, SM LID 1 */
	mad[3] = 0x81;
	mad[4] = 0x80;
	mad[64 + 19] = 0x01;
	CHECK_INT(0, smp_resp_data(mad, sizeof(mad), &data));
	CHECK(data == mad + 64);
	CHECK_INT(0, port_info_sm_lid(data, PORT_INFO_LEN, &sm));
	CHECK_INT(1, sm);
	CHECK_INT(0, smp_resp_data(mad, 128, &data));
	CHECK_INT(-EMSGSIZE, smp_resp_data(mad, 127, &data));

	mad[5] = 0x1c;				/* invalid attribute value */
	CHECK_INT(-EREMOTEIO, smp_resp_data(mad, sizeof(mad), &data));
	mad[5] = 0;
	mad[1] = 0x01;				/* LID-routed is fine too */
	CHECK_INT(0, smp_resp_data(mad, sizeof(mad), &data));
	mad[1] = 0x03;
	CHECK_INT(-EPROTO, smp_resp_data(mad, sizeof(mad), &data));
	mad[1] = 0x81;
	mad[0] = 2;
	CHECK_INT(-EPROTO, smp_resp_data(mad, sizeof(mad), &data));
}

/* A real answer of ibsim 0.10 (Hca3, port LID 5, SM LID 1) to smp_encode_dr_get(). */
static const uint8_t real_resp[128] = {
	0x01, 0x81, 0x01, 0x81, 0x80, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x42, 0x42,
	0x00, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x05, 0x00, 0x01, 0x00, 0x50, 0xc0, 0x48, 0x00, 0x00, 0x0f, 0xf9, 0x01, 0x02, 0x1f, 0x02,
	0x74, 0x52, 0x00, 0x11, 0x40, 0x40, 0x00, 0x08, 0x08, 0x04, 0xe0, 0x40, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x20, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00,
};

static void test_real_sim_answer(void)
{
	const uint8_t *d = NULL;
	uint16_t lid = 0, sm = 0;
	uint8_t state = 0, lmc = 9;
	uint64_t prefix = 0;

	CHECK_INT(0, smp_resp_data(real_resp, sizeof(real_resp), &d));
	CHECK(d == real_resp + 64);
	CHECK_INT(0, port_info_lid(d, PORT_INFO_LEN, &lid));
	CHECK_INT(5, lid);
	CHECK_INT(0, port_info_sm_lid(d, PORT_INFO_LEN, &sm));
	CHECK_INT(1, sm);
	CHECK_INT(0, port_info_state(d, PORT_INFO_LEN, &state));
	CHECK_INT(PORT_STATE_ACTIVE, state);
	CHECK_INT(0, port_info_lmc(d, PORT_INFO_LEN, &lmc));
	CHECK_INT(0, lmc);
	CHECK_INT(0, port_info_gid_prefix(d, PORT_INFO_LEN, &prefix));
	CHECK(prefix == 0xfe80000000000000ULL);
}

int main(void)
{
	test_port_info_fields();
	test_smp();
	test_real_sim_answer();
	return CHECK_DONE();
}
