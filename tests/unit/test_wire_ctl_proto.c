/*
 * test_wire_ctl_proto.c - the control protocol codec: the error-code table, request encode and
 * parse (with the `path` arguments both ways), reply encoders, the incremental reply reader fed
 * in every split, records and dump lines, and a table of malformed input for each decoder.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pr_fixture.h"
#include "wire/ctl_proto.h"

static void test_err_table(void)
{
	static const struct { const char *code; int err; int exit_status; } t[] = {
		{ "NO_PATH", -ENOENT, CTL_EXIT_NO_PATH }, { "TIMEOUT", -ETIMEDOUT, CTL_EXIT_FAIL },
		{ "SA_ERROR", -EREMOTEIO, CTL_EXIT_FAIL }, { "NO_PORT", -EADDRNOTAVAIL, CTL_EXIT_FAIL },
		{ "EINVAL", -EINVAL, CTL_EXIT_FAIL },
		{ "EBUSY", -EBUSY, CTL_EXIT_FAIL }, { "EPERM", -EPERM, CTL_EXIT_FAIL },
		{ "E2BIG", -E2BIG, CTL_EXIT_FAIL }, { "EIO", -EIO, CTL_EXIT_FAIL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_STR(t[i].code, ctl_err_code(t[i].err));
		CHECK_INT(t[i].err, ctl_err_from_code(t[i].code, strlen(t[i].code)));
		CHECK_INT(t[i].exit_status, ctl_err_exit(t[i].err));
	}
	CHECK_STR("EIO", ctl_err_code(-ENOSYS));		/* no code of its own */
	CHECK_INT(-EIO, ctl_err_from_code("NEWER_CODE", 10));	/* a newer daemon's */
	CHECK_INT(-EIO, ctl_err_from_code("NO_PATHX", 8));
	CHECK_INT(-EIO, ctl_err_from_code("NO_PAT", 6));
	CHECK_INT(-ENOENT, ctl_err_from_code("NO_PATH trailing", 7));
	CHECK_INT(CTL_EXIT_OK, ctl_err_exit(0));
	CHECK_INT(CTL_EXIT_FAIL, ctl_err_exit(-ENOSYS));
	CHECK_STR("the SA did not answer", ctl_err_text(-ETIMEDOUT));
	CHECK_STR("no path (the SA has no record)", ctl_err_text(-ENOENT));
	CHECK(ctl_err_text(-EACCES) == NULL);
}

static void test_requests(void)
{
	char buf[CTL_MAX_LINE + 64], line[64];
	struct ctl_request req;
	struct ctl_kv kv[CTL_MAX_ARGS + 1];
	char big[CTL_MAX_LINE];

	kv[0] = (struct ctl_kv){ "wait", "1" };
	CHECK_INT(15, ctl_request_encode(buf, sizeof(buf), "refresh", kv, 1));
	CHECK_STR("refresh wait=1\n", buf);
	CHECK_INT(6, ctl_request_encode(buf, sizeof(buf), "stats", NULL, 0));
	CHECK_STR("stats\n", buf);
	kv[0] = (struct ctl_kv){ "shm", "" };	/* an empty value is a value */
	CHECK_INT(10, ctl_request_encode(buf, sizeof(buf), "info", kv, 1));
	kv[1] = (struct ctl_kv){ "generation", "2" };
	CHECK_INT(18, ctl_kv_encode(buf, sizeof(buf), kv, 2));
	CHECK_STR("shm= generation=2\n", buf);
	CHECK_INT(-EINVAL, ctl_kv_encode(buf, sizeof(buf), kv, 0));
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), NULL, kv, 1));
	/* what cannot travel */
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "", NULL, 0));
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "two words", NULL, 0));
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "a=b", NULL, 0));
	kv[0] = (struct ctl_kv){ "k=", "v" };
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));
	kv[0] = (struct ctl_kv){ "", "v" };
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));
	kv[0] = (struct ctl_kv){ "k", "v w" };
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));
	kv[0] = (struct ctl_kv){ "k", "v\nflush" };	/* no second request smuggled in */
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));
	kv[0] = (struct ctl_kv){ "k", "v\r" };
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));
	kv[0] = (struct ctl_kv){ "k", NULL };
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));
	for (int i = 0; i <= CTL_MAX_ARGS; i++)
		kv[i] = (struct ctl_kv){ "k", "v" };
	CHECK_INT(-EINVAL, ctl_request_encode(buf, sizeof(buf), "x", kv, CTL_MAX_ARGS + 1));
	CHECK(ctl_request_encode(buf, sizeof(buf), "x", kv, CTL_MAX_ARGS) > 0);
	CHECK_INT(-E2BIG, ctl_request_encode(line, 6, "stats", NULL, 0));	/* no room for NUL */
	CHECK_INT(6, ctl_request_encode(line, 7, "stats", NULL, 0));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	kv[0] = (struct ctl_kv){ "k", big };	/* longer than any line the server reads */
	CHECK_INT(-E2BIG, ctl_request_encode(buf, sizeof(buf), "x", kv, 1));

	/* parse: what encode wrote comes back */
	kv[0] = (struct ctl_kv){ "dgid", "fe80::1" };
	kv[1] = (struct ctl_kv){ "sa", "1" };
	CHECK(ctl_request_encode(buf, sizeof(buf), "path", kv, 2) > 0);
	buf[strlen(buf) - 1] = '\0';
	CHECK_INT(0, ctl_parse(buf, &req));
	CHECK_STR("path", req.cmd);
	CHECK_INT(2, req.n_args);
	CHECK_STR("fe80::1", ctl_arg(&req, "dgid"));
	CHECK_STR("1", ctl_arg(&req, "sa"));
	CHECK(ctl_arg(&req, "dlid") == NULL);
	strcpy(buf, " \tdelete\tdgid=fe80::2  \r");
	CHECK_INT(0, ctl_parse(buf, &req));
	CHECK_STR("delete", req.cmd);
	CHECK_INT(1, req.n_args);
	CHECK_STR("fe80::2", ctl_arg(&req, "dgid"));
	strcpy(buf, "info");
	CHECK_INT(0, ctl_parse(buf, &req));
	CHECK_INT(0, req.n_args);
	{
		struct ctl_kv a[4];
		size_t n = 9;

		strcpy(buf, "records=5 generation=2 ms=1");
		CHECK_INT(0, ctl_parse_kv(buf, a, 4, &n));
		CHECK_INT(3, n);
		CHECK_STR("2", ctl_kv_get(a, n, "generation"));
		strcpy(buf, "a=1 b=2 c=3");
		n = 9;
		CHECK_INT(-EINVAL, ctl_parse_kv(buf, a, 2, &n));
		CHECK_INT(9, n);
	}
	/* malformed requests */
	{
		static const char *const bad[] = {
			"", " ", "\t\t", "\r", "path dgid", "path =fe80::1", "path dgid=1 x",
			"path a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13 n=14 o=15 p=16 q=17",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			strcpy(buf, bad[i]);
			CHECK_INT(-EINVAL, ctl_parse(buf, &req));
		}
	}
	/* numbers */
	{
		uint64_t v = 7;

		CHECK_INT(0, ctl_parse_u64("0x10", 16, &v));
		CHECK_INT(16, v);
		CHECK_INT(-ERANGE, ctl_parse_u64("17", 16, &v));
		CHECK_INT(-EINVAL, ctl_parse_u64("-1", 16, &v));
		CHECK_INT(-EINVAL, ctl_parse_u64("+1", 16, &v));
		CHECK_INT(-EINVAL, ctl_parse_u64("1 ", 16, &v));
		CHECK_INT(-EINVAL, ctl_parse_u64("", 16, &v));
		CHECK_INT(-EINVAL, ctl_parse_u64("99999999999999999999999", UINT64_MAX, &v));
		CHECK_INT(16, v);
		/* a leading 0 is decimal, never octal (it was: "010" was 8, "08" refused) */
		CHECK_INT(0, ctl_parse_u64("010", 100, &v));
		CHECK_INT(10, v);
		CHECK_INT(0, ctl_parse_u64("08", 100, &v));
		CHECK_INT(8, v);
		CHECK_INT(0, ctl_parse_u64("0X1f", 100, &v));
		CHECK_INT(31, v);
		CHECK_INT(-EINVAL, ctl_parse_u64("\t5", 16, &v));	/* a blank strtoull skips */
		CHECK_INT(-EINVAL, ctl_parse_u64("0x", 16, &v));
	}
}

static void test_path_args(void)
{
	struct ctl_path_args a, b, want = {
		.has = CTL_PATH_SGID | CTL_PATH_DGID | CTL_PATH_DLID | CTL_PATH_PKEY |
		       CTL_PATH_SERVICE_ID | CTL_PATH_QOS_CLASS | CTL_PATH_SL | CTL_PATH_TCLASS |
		       CTL_PATH_SA,
		.sgid = gid_of(1), .dgid = gid_of(0x101), .dlid = 0xbfff, .pkey = 0x8001,
		.service_id = UINT64_MAX, .qos_class = 0xfff, .sl = 15, .tclass = 255,
	};
	char buf[512], why[128];
	struct ctl_request req;
	int n;

	memset(&a, 0, sizeof(a));	/* padding too: the decoder's output is compared whole */
	a.has = want.has;
	a.sgid = want.sgid;
	a.dgid = want.dgid;
	a.dlid = want.dlid;
	a.pkey = want.pkey;
	a.service_id = want.service_id;
	a.qos_class = want.qos_class;
	a.sl = want.sl;
	a.tclass = want.tclass;
	n = ctl_path_encode(&a, buf, sizeof(buf));
	CHECK_STR("path sgid=fe80::1 dgid=fe80::101 dlid=49151 pkey=0x8001 "
		  "service_id=0xffffffffffffffff qos_class=4095 sl=15 tclass=255 sa=1\n", buf);
	CHECK_INT((int)strlen(buf), n);
	buf[n - 1] = '\0';
	CHECK_INT(0, ctl_parse(buf, &req));
	memset(&b, 0xee, sizeof(b));
	CHECK_INT(0, ctl_path_decode(&req, &b, why, sizeof(why)));
	CHECK_MEM(&a, &b, sizeof(a));	/* the decoder zeroes what it does not set */
	/* only what has says */
	a = (struct ctl_path_args){ .has = CTL_PATH_DLID, .dlid = 7, .pkey = 9 };
	CHECK(ctl_path_encode(&a, buf, sizeof(buf)) > 0);
	CHECK_STR("path dlid=7\n", buf);
	CHECK_INT(-E2BIG, ctl_path_encode(&a, buf, 8));
	/* the server's answers to bad arguments, word for word */
	{
		static const struct { const char *line, *why; } bad[] = {
			{ "path dgid=fe80::1 color=red", "unknown argument 'color'" },
			{ "path dgid=zz", "'zz' is not a GID (fe80::2:c903:0:1 or 0x0002c90300000001)" },
			{ "path sgid=1:2:3 dgid=fe80::1", "'1:2:3' is not a GID (fe80::2:c903:0:1 or "
			  "0x0002c90300000001)" },
			{ "path dlid=0xc000", "dlid: '0xc000' is not a number in 0..49151" },
			{ "path dlid=-1", "dlid: '-1' is not a number in 0..49151" },
			{ "path dgid=fe80::1 sl=16", "sl: '16' is not a number in 0..15" },
			{ "path dgid=fe80::1 pkey=0x10000", "pkey: '0x10000' is not a number in 0..65535" },
			{ "path dgid=fe80::1 qos_class=4096", "qos_class: '4096' is not a number in 0..4095" },
			{ "path dgid=fe80::1 tclass=", "tclass: '' is not a number in 0..255" },
			{ "path dgid=fe80::1 service_id=0x1ffffffffffffffff", "service_id: "
			  "'0x1ffffffffffffffff' is not a number in 0..18446744073709551615" },
			{ "path pkey=1", "a destination is needed: dgid=GID or dlid=LID" },
			{ "path", "a destination is needed: dgid=GID or dlid=LID" },
			{ "path dlid=0", "dlid 0 is not a valid LID" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			strcpy(buf, bad[i].line);
			CHECK_INT(0, ctl_parse(buf, &req));
			memset(&b, 0xee, sizeof(b));
			why[0] = '\0';
			CHECK_INT(-EINVAL, ctl_path_decode(&req, &b, why, sizeof(why)));
			CHECK_STR(bad[i].why, why);
			CHECK_INT(0xeeeeeeee, b.has);	/* not written */
		}
		strcpy(buf, "path dlid=0");
		ctl_parse(buf, &req);
		CHECK_INT(-EINVAL, ctl_path_decode(&req, &b, NULL, 0));
	}
	/* a bare GUID, sa other than 1 */
	strcpy(buf, "path dgid=0x0002c90300000001 sa=yes");
	CHECK_INT(0, ctl_parse(buf, &req));
	CHECK_INT(0, ctl_path_decode(&req, &b, NULL, 0));
	CHECK_INT(CTL_PATH_DGID, b.has);
	CHECK_INT(0xfe, b.dgid.raw[0]);
	CHECK_INT(0x01, b.dgid.raw[15]);
}

static void test_reply_encoders(void)
{
	struct ibv_path_record rec = rec_of(0x42, 17, 3, 0x1234), back;
	char buf[256];

	CHECK_INT(5, ctl_reply_ok(buf, sizeof(buf), 2));
	CHECK_STR("OK 2\n", buf);
	CHECK_INT(-E2BIG, ctl_reply_ok(buf, 5, 2));
	CHECK_INT(28, ctl_reply_err(buf, sizeof(buf), -ETIMEDOUT, "the SA\ndid not\r"));
	CHECK_STR("ERR TIMEOUT the SA did not \n", buf);
	CHECK(ctl_reply_err(buf, sizeof(buf), -ENOSYS, "x") > 0);
	CHECK_STR("ERR EIO x\n", buf);
	CHECK(ctl_reply_err(buf, sizeof(buf), -EBUSY, "") > 0);
	CHECK_STR("ERR EBUSY\n", buf);
	CHECK(ctl_reply_err(buf, sizeof(buf), -EPERM, NULL) > 0);
	CHECK_STR("ERR EPERM\n", buf);
	CHECK_INT(16, ctl_reply_err(buf, 17, -ENOENT, "no path at all, none"));	/* cut, whole */
	CHECK_STR("ERR NO_PATH no \n", buf);
	CHECK_INT(-E2BIG, ctl_reply_err(buf, 9, -ENOENT, "x"));
	CHECK_INT(CTL_RECORD_HEX + 1, ctl_reply_record(buf, sizeof(buf), &rec));
	CHECK_INT('\n', buf[CTL_RECORD_HEX]);
	CHECK_INT(0, ctl_record_decode(buf, CTL_RECORD_HEX, &back));
	CHECK_MEM(&rec, &back, sizeof(rec));
	CHECK_INT(-E2BIG, ctl_reply_record(buf, CTL_RECORD_HEX + 1, &rec));
	/* malformed records leave the output alone */
	{
		struct ibv_path_record out;
		char hex[CTL_RECORD_HEX + 2];

		ctl_hex_encode(&rec, sizeof(rec), hex);
		memset(&out, 0x5a, sizeof(out));
		CHECK_INT(-EINVAL, ctl_record_decode(hex, CTL_RECORD_HEX - 1, &out));
		CHECK_INT(-EINVAL, ctl_record_decode(hex, CTL_RECORD_HEX + 1, &out));
		hex[77] = 'g';
		CHECK_INT(-EINVAL, ctl_record_decode(hex, CTL_RECORD_HEX, &out));
		hex[77] = ' ';
		CHECK_INT(-EINVAL, ctl_record_decode(hex, CTL_RECORD_HEX, &out));
		CHECK_INT(0x5a5a5a5a, be32toh(out.flowlabel_hoplimit));
		ctl_hex_encode(&rec, sizeof(rec), hex);
		for (char *p = hex; *p; p++)	/* upper case is hex too */
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		CHECK_INT(0, ctl_record_decode(hex, CTL_RECORD_HEX, &out));
		CHECK_MEM(&rec, &out, sizeof(rec));
		CHECK_INT(0, ctl_hex_decode(hex, &out, sizeof(out)));
		CHECK_INT(-EINVAL, ctl_hex_decode("abc", &out, 2));
	}
}

/* Feeds text in pieces of `step` bytes; records the events in a string: S<status> L<line>.
 * Returns the bytes consumed, or the feed's error. */
static ssize_t read_all(const char *text, size_t len, size_t step, size_t cap, uint64_t max_lines,
			char *log, size_t log_cap)
{
	char line[512];
	struct ctl_reply r;
	size_t off = 0, lo = 0;

	log[0] = '\0';
	ctl_reply_init(&r, line, cap < sizeof(line) ? cap : sizeof(line), max_lines);
	while (!ctl_reply_done(&r) && off < len) {
		size_t n = len - off < step ? len - off : step;
		enum ctl_reply_event ev;
		ssize_t k = ctl_reply_feed(&r, text + off, n, &ev);

		if (k < 0)
			return k;
		off += (size_t)k;
		if (ev == CTL_REPLY_STATUS)
			lo += (size_t)snprintf(log + lo, log_cap - lo, "S%d[%s]", ctl_reply_status(&r),
					       ctl_reply_status(&r) < 0 ? ctl_reply_message(&r) : "");
		else if (ev == CTL_REPLY_LINE)
			lo += (size_t)snprintf(log + lo, log_cap - lo, "L%s", line);
		else if (k == 0)
			return -EAGAIN;	/* MORE without consuming: must not happen before done */
	}
	if (!ctl_reply_done(&r))
		return -EAGAIN;
	return (ssize_t)off;
}

static void test_reply_reader(void)
{
	static const char two[] = "OK 2\nrecords=5\nsecond\nOK 1\nnext reply\n";
	char log[1024];

	/* every split of the stream gives the same events, and stops at the end of the reply */
	for (size_t step = 1; step <= sizeof(two); step++) {
		CHECK_INT(22, read_all(two, sizeof(two) - 1, step, 512, 16, log, sizeof(log)));
		CHECK_STR("S2[]Lrecords=5Lsecond", log);
	}
	CHECK_INT(5, read_all("OK 0\nOK 1\n", 10, 3, 512, 16, log, sizeof(log)));
	CHECK_STR("S0[]", log);
	CHECK_INT(43, read_all("ERR NO_PATH no path (the SA has no record)\nOK 1\n", 48, 7, 512, 16,
			       log, sizeof(log)));
	CHECK_INT(-ENOENT, atoi(log + 1));
	CHECK_STR("S-2[no path (the SA has no record)]", log);
	CHECK_INT(10, read_all("ERR EBUSY\n", 10, 1, 512, 16, log, sizeof(log)));
	CHECK_STR("S-16[]", log);
	CHECK_INT(13, read_all("ERR WHATEVER\n", 13, 1, 512, 16, log, sizeof(log)));
	CHECK_STR("S-5[]", log);
	/* a line of exactly cap - 1 bytes fits; one more does not */
	CHECK_INT(10, read_all("OK 1\nabcd\n", 10, 1, 5, 16, log, sizeof(log)));
	CHECK_INT(10, read_all("OK 1\nabcd\n", 10, 100, 5, 16, log, sizeof(log)));
	CHECK_INT(-EPROTO, read_all("OK 1\nabcde\n", 11, 1, 5, 16, log, sizeof(log)));
	CHECK_INT(-EPROTO, read_all("OK 1\nabcde\n", 11, 100, 5, 16, log, sizeof(log)));
	CHECK_INT(-EPROTO, read_all("OK 10\n", 6, 1, 5, 16, log, sizeof(log)));
	/* the malformed-input table: each is refused, none is read past */
	{
		static const char *const bad[] = {
			"OK\n", "OK \n", "OK  1\n", "OK -1\n", "OK +1\n", "OK 1x\n", "OK 0x1\n",
			"OK 17\n", "OK 18446744073709551615\n", "OK 99999999999999999999999\n",
			"ok 1\n", "OK1\n", "ERR\n", "ERR \n", "ERR  NO_PATH\n", "HELLO\n", "\n",
			"OK 1\nhas\0nul\n", "OK 1\0\n", "\0\n",
		};
		static const size_t len[] = { 3, 4, 6, 6, 6, 6, 7, 6, 24, 28, 5, 4, 4, 5, 13, 6, 1,
					      13, 6, 2 };

		_Static_assert(sizeof(bad) / sizeof(bad[0]) == sizeof(len) / sizeof(len[0]), "");
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			ssize_t r1 = read_all(bad[i], len[i], 1, 512, 16, log, sizeof(log));
			ssize_t r2 = read_all(bad[i], len[i], 64, 512, 16, log, sizeof(log));

			if (r1 != -EPROTO || r2 != -EPROTO)
				fprintf(stderr, "malformed reply %zu accepted\n", i);
			CHECK_INT(-EPROTO, r1);
			CHECK_INT(-EPROTO, r2);
		}
	}
	/* an absurd count is refused at once, before any line is awaited */
	{
		char line[64];
		struct ctl_reply r;
		enum ctl_reply_event ev;

		ctl_reply_init(&r, line, sizeof(line), 1024);
		CHECK_INT(-EPROTO, ctl_reply_feed(&r, "OK 4294967295\n", 14, &ev));
		CHECK_INT(-EPROTO, ctl_reply_feed(&r, "OK 1\n", 5, &ev));	/* broken for good */
		ctl_reply_init(&r, line, sizeof(line), UINT64_MAX);
		CHECK_INT(-EPROTO, ctl_reply_feed(&r, "OK 4294967295\n", 14, &ev));	/* > INT32_MAX */
		ctl_reply_init(&r, line, sizeof(line), 1);
		CHECK_INT(5, ctl_reply_feed(&r, "OK 1\nx", 6, &ev));
		CHECK_INT(CTL_REPLY_STATUS, ev);
		CHECK_INT(1, ctl_reply_feed(&r, "x", 1, &ev));
		CHECK_INT(CTL_REPLY_MORE, ev);
		CHECK_INT(0, ctl_reply_feed(&r, "", 0, &ev));
		CHECK_INT(2, ctl_reply_feed(&r, "y\nOK", 4, &ev));
		CHECK_INT(CTL_REPLY_LINE, ev);
		CHECK_STR("xy", line);
		CHECK(ctl_reply_done(&r));
		CHECK_INT(0, ctl_reply_feed(&r, "OK", 2, &ev));
		CHECK_INT(CTL_REPLY_MORE, ev);
		ctl_reply_init(&r, line, 0, 1);
		CHECK_INT(-EPROTO, ctl_reply_feed(&r, "OK 1\n", 5, &ev));
	}
}

#define DUMP_META "tuple=3 flags=0x2 source=set source_lid=17 generation=9 age_s=12 "

static void test_dump_lines(void)
{
	struct ctl_dump_entry e = { .tuple = 3, .flags = 0x2, .source = "set", .source_lid = 17,
				    .generation = 9, .age_s = 12, .rec = rec_of(0x77, 5, 1, 2) };
	struct ibv_path_record back;
	char buf[512];
	size_t meta = 0;
	int n = ctl_dump_encode(buf, sizeof(buf), &e);

	CHECK(n > 0 && buf[n - 1] == '\n');
	CHECK(!strncmp(buf, DUMP_META "rec=", strlen(DUMP_META) + 4));
	buf[n - 1] = '\0';
	CHECK_INT(0, ctl_dump_decode(buf, &back, &meta));
	CHECK_MEM(&e.rec, &back, sizeof(back));
	CHECK_INT(strlen(DUMP_META), meta);
	CHECK_INT(-E2BIG, ctl_dump_encode(buf, 100, &e));
	/* the record word alone, a look-alike key, no record */
	{
		char hex[CTL_RECORD_HEX + 1], line[300];

		ctl_hex_encode(&e.rec, sizeof(e.rec), hex);
		snprintf(line, sizeof(line), "rec=%s", hex);
		CHECK_INT(0, ctl_dump_decode(line, &back, &meta));
		CHECK_INT(0, meta);
		snprintf(line, sizeof(line), "xrec=%s", hex);
		CHECK_INT(-EINVAL, ctl_dump_decode(line, &back, &meta));
		snprintf(line, sizeof(line), "source=xrec=1 rec=%s", hex);
		CHECK_INT(0, ctl_dump_decode(line, &back, &meta));
		CHECK_INT(14, meta);
		CHECK_INT(-EINVAL, ctl_dump_decode("tuple=1 flags=0", &back, &meta));
		CHECK_INT(-EINVAL, ctl_dump_decode("rec=00", &back, &meta));
		snprintf(line, sizeof(line), "rec=%s extra=1", hex);
		CHECK_INT(-EINVAL, ctl_dump_decode(line, &back, &meta));
	}
}

static void test_port_names(void)
{
	char ca[8];
	unsigned num = 0;

	CHECK_INT(0, ctl_port_name_decode("mlx5_0:2", ca, sizeof(ca), &num));
	CHECK_STR("mlx5_0", ca);
	CHECK_INT(2, num);
	CHECK_INT(-EINVAL, ctl_port_name_decode("mlx5_0", ca, sizeof(ca), &num));
	CHECK_INT(-EINVAL, ctl_port_name_decode(":1", ca, sizeof(ca), &num));
	CHECK_INT(-EINVAL, ctl_port_name_decode("mlx5_0:0", ca, sizeof(ca), &num));
	CHECK_INT(-EINVAL, ctl_port_name_decode("mlx5_0:255", ca, sizeof(ca), &num));
	CHECK_INT(-EINVAL, ctl_port_name_decode("mlx5_0:1x", ca, sizeof(ca), &num));
	CHECK_INT(-EINVAL, ctl_port_name_decode("a=b:1", ca, sizeof(ca), &num));
	CHECK_INT(-EINVAL, ctl_port_name_decode("mlx5_100:1", ca, sizeof(ca), &num)); /* too long */
	CHECK_INT(2, num);	/* untouched on failure */
}

int main(void)
{
	test_err_table();
	test_requests();
	test_path_args();
	test_reply_encoders();
	test_reply_reader();
	test_dump_lines();
	test_port_names();
	return CHECK_DONE();
}
