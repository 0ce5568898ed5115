/* ctl_proto - see ctl_proto.h. Every length is checked before a byte is written. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/ctl_proto.h"
#include "wire/path_rec.h"

_Static_assert(sizeof(struct ibv_path_record) * 2 == CTL_RECORD_HEX, "a record is 64 bytes");

/* --- the error-code table --- */

static const struct ctl_err_entry {
	const char *code;
	int err;
	int exit_status;
	const char *text;	/* the CLI's words, NULL: strerror */
} err_table[] = {
	{ "NO_PATH", -ENOENT, CTL_EXIT_NO_PATH, "no path (the SA has no record)" },
	{ "TIMEOUT", -ETIMEDOUT, CTL_EXIT_FAIL, "the SA did not answer" },
	{ "SA_ERROR", -EREMOTEIO, CTL_EXIT_FAIL, "the SA refused the request" },
	{ "NO_PORT", -EADDRNOTAVAIL, CTL_EXIT_FAIL,
	  "the source port is not one the daemon serves (unknown, or down)" },
	{ "EINVAL", -EINVAL, CTL_EXIT_FAIL, NULL },
	{ "EBUSY", -EBUSY, CTL_EXIT_FAIL, NULL },
	{ "EPERM", -EPERM, CTL_EXIT_FAIL, NULL },
	{ "E2BIG", -E2BIG, CTL_EXIT_FAIL, NULL },
	{ "EIO", -EIO, CTL_EXIT_FAIL, NULL },	/* also every errno without a code */
};

#define ERR_TABLE_LEN (sizeof(err_table) / sizeof(err_table[0]))

static const struct ctl_err_entry *err_entry(int err)
{
	for (size_t i = 0; i < ERR_TABLE_LEN; i++)
		if (err_table[i].err == err)
			return &err_table[i];
	return &err_table[ERR_TABLE_LEN - 1];
}

const char *ctl_err_code(int err)
{
	return err_entry(err)->code;
}

int ctl_err_from_code(const char *code, size_t len)
{
	for (size_t i = 0; i < ERR_TABLE_LEN; i++)
		if (strlen(err_table[i].code) == len && !memcmp(code, err_table[i].code, len))
			return err_table[i].err;
	return -EIO;
}

int ctl_err_exit(int err)
{
	if (!err)
		return CTL_EXIT_OK;
	/* only a known code's errno has its own status: others fail plainly */
	for (size_t i = 0; i < ERR_TABLE_LEN; i++)
		if (err_table[i].err == err)
			return err_table[i].exit_status;
	return CTL_EXIT_FAIL;
}

const char *ctl_err_text(int err)
{
	for (size_t i = 0; i < ERR_TABLE_LEN; i++)
		if (err_table[i].err == err)
			return err_table[i].text;
	return NULL;
}

/* --- requests --- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int ctl_parse_kv(char *line, struct ctl_kv *args, size_t max, size_t *n)
{
	char *save = NULL, *w;
	size_t k = 0;

	for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');

		if (!eq || eq == w || k == max)
			return -EINVAL;
		*eq = '\0';
		args[k].key = w;
		args[k].val = eq + 1;
		k++;
	}
	*n = k;
	return 0;
}

int ctl_parse(char *line, struct ctl_request *req)
{
	size_t len = strlen(line), i = 0;

	memset(req, 0, sizeof(*req));
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	while (is_blank(line[i]))
		i++;
	if (!line[i])
		return -EINVAL;
	req->cmd = line + i;
	i += strcspn(line + i, " \t");
	if (line[i])
		line[i++] = '\0';
	return ctl_parse_kv(line + i, req->args, CTL_MAX_ARGS, &req->n_args);
}

const char *ctl_kv_get(const struct ctl_kv *args, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(args[i].key, key))
			return args[i].val;
	return NULL;
}

const char *ctl_arg(const struct ctl_request *req, const char *key)
{
	return ctl_kv_get(req->args, req->n_args, key);
}

int ctl_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !(*s >= '0' && *s <= '9'))	/* no sign, no blank that strtoull skips */
		return -EINVAL;
	errno = 0;
	/* decimal, or hex after 0x: never octal (a leading 0 is decimal: "010" is ten) */
	v = strtoull(s, &end, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
	if (errno || *end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* A word that survives the trip: no blank, no line break, not empty. */
static bool word_ok(const char *w, bool key)
{
	if (!w || !*w)
		return !key && w;	/* an empty value is a word ("shm=") */
	for (; *w; w++)
		if (is_blank(*w) || *w == '\n' || *w == '\r' || (key && *w == '='))
			return false;
	return true;
}

/* Appends to buf[*len..cap) like snprintf; -E2BIG once it does not fit. */
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -E2BIG;
	*len += (size_t)n;
	return 0;
}

/* [cmd] key=value... and a newline, each word checked; cmd may be NULL (a reply line). */
static int line_encode(char *buf, size_t cap, const char *cmd, const struct ctl_kv *args,
		       size_t n)
{
	size_t len = 0;
	int r = 0;

	if ((cmd && !word_ok(cmd, true)) || n > CTL_MAX_ARGS || (!cmd && !n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!word_ok(args[i].key, true) || !word_ok(args[i].val, false))
			return -EINVAL;
	if (cap > CTL_MAX_LINE + 1)
		cap = CTL_MAX_LINE + 1;
	if (cmd)
		r = append(buf, cap, &len, "%s", cmd);
	for (size_t i = 0; i < n && !r; i++)
		r = append(buf, cap, &len, "%s%s=%s", i || cmd ? " " : "", args[i].key, args[i].val);
	if (!r)
		r = append(buf, cap, &len, "\n");
	return r ? r : (int)len;
}

int ctl_request_encode(char *buf, size_t cap, const char *cmd, const struct ctl_kv *args,
		       size_t n)
{
	return cmd ? line_encode(buf, cap, cmd, args, n) : -EINVAL;
}

int ctl_kv_encode(char *buf, size_t cap, const struct ctl_kv *args, size_t n)
{
	return line_encode(buf, cap, NULL, args, n);
}

int ctl_path_encode(const struct ctl_path_args *a, char *buf, size_t cap)
{
	char sgid[INET6_ADDRSTRLEN], dgid[INET6_ADDRSTRLEN], dlid[8], pkey[8], sid[24], qc[8],
	     sl[4], tc[4];
	struct ctl_kv kv[9];
	size_t n = 0;

#define ARG(flag, k, v) do { if (a->has & (flag)) kv[n++] = (struct ctl_kv){ k, v }; } while (0)
	pr_gid_to_text(&a->sgid, sgid);
	pr_gid_to_text(&a->dgid, dgid);
	snprintf(dlid, sizeof(dlid), "%u", a->dlid);
	snprintf(pkey, sizeof(pkey), "0x%x", a->pkey);
	snprintf(sid, sizeof(sid), "0x%" PRIx64, a->service_id);
	snprintf(qc, sizeof(qc), "%u", a->qos_class);
	snprintf(sl, sizeof(sl), "%u", a->sl);
	snprintf(tc, sizeof(tc), "%u", a->tclass);
	ARG(CTL_PATH_SGID, "sgid", sgid);
	ARG(CTL_PATH_DGID, "dgid", dgid);
	ARG(CTL_PATH_DLID, "dlid", dlid);
	ARG(CTL_PATH_PKEY, "pkey", pkey);
	ARG(CTL_PATH_SERVICE_ID, "service_id", sid);
	ARG(CTL_PATH_QOS_CLASS, "qos_class", qc);
	ARG(CTL_PATH_SL, "sl", sl);
	ARG(CTL_PATH_TCLASS, "tclass", tc);
	ARG(CTL_PATH_SA, "sa", "1");
#undef ARG
	return ctl_request_encode(buf, cap, "path", kv, n);
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!why || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

int ctl_path_decode(const struct ctl_request *req, struct ctl_path_args *out, char *why,
		    size_t why_cap)
{
	static const struct {
		const char *key;
		uint32_t flag;
		uint64_t max;		/* 0: a GID */
	} keys[] = {
		{ "sgid", CTL_PATH_SGID, 0 }, { "dgid", CTL_PATH_DGID, 0 },
		{ "dlid", CTL_PATH_DLID, 0xbfff }, { "pkey", CTL_PATH_PKEY, 0xffff },
		{ "service_id", CTL_PATH_SERVICE_ID, UINT64_MAX },
		{ "qos_class", CTL_PATH_QOS_CLASS, 0xfff }, { "sl", CTL_PATH_SL, 15 },
		{ "tclass", CTL_PATH_TCLASS, 255 }, { "sa", CTL_PATH_SA, 0 },
	};
	struct ctl_path_args a;

	memset(&a, 0, sizeof(a));	/* padding too: decoded arguments compare whole */
	for (size_t i = 0; i < req->n_args; i++) {
		size_t k = 0;

		while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(req->args[i].key, keys[k].key))
			k++;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			say(why, why_cap, "unknown argument '%s'", req->args[i].key);
			return -EINVAL;
		}
	}
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *s = ctl_arg(req, keys[k].key);
		uint64_t v;

		if (!s)
			continue;
		if (keys[k].flag == CTL_PATH_SA) {	/* sa=1 asks the SA; any other value: no */
			a.has |= strcmp(s, "1") ? 0 : CTL_PATH_SA;
			continue;
		}
		if (!keys[k].max) {
			if (pr_from_text_gid(s, keys[k].flag == CTL_PATH_SGID ? &a.sgid : &a.dgid) < 0) {
				say(why, why_cap, "'%s' is not a GID (fe80::2:c903:0:1 or "
				    "0x0002c90300000001)", s);
				return -EINVAL;
			}
		} else if (ctl_parse_u64(s, keys[k].max, &v) < 0) {
			say(why, why_cap, "%s: '%s' is not a number in 0..%llu", keys[k].key, s,
			    (unsigned long long)keys[k].max);
			return -EINVAL;
		} else {
			switch (keys[k].flag) {
			case CTL_PATH_DLID: a.dlid = (uint16_t)v; break;
			case CTL_PATH_PKEY: a.pkey = (uint16_t)v; break;
			case CTL_PATH_SERVICE_ID: a.service_id = v; break;
			case CTL_PATH_QOS_CLASS: a.qos_class = (uint16_t)v; break;
			case CTL_PATH_SL: a.sl = (uint8_t)v; break;
			default: a.tclass = (uint8_t)v; break;
			}
		}
		a.has |= keys[k].flag;
	}
	if (!(a.has & (CTL_PATH_DGID | CTL_PATH_DLID))) {
		say(why, why_cap, "a destination is needed: dgid=GID or dlid=LID");
		return -EINVAL;
	}
	if ((a.has & CTL_PATH_DLID) && !a.dlid) {
		say(why, why_cap, "dlid 0 is not a valid LID");
		return -EINVAL;
	}
	memcpy(out, &a, sizeof(a));
	return 0;
}

int ctl_port_name_decode(const char *s, char *ca, size_t ca_cap, unsigned *port_num)
{
	const char *colon = strchr(s, ':');
	uint64_t num;
	size_t len;

	if (!colon)
		return -EINVAL;
	len = (size_t)(colon - s);
	if (!len || len >= ca_cap || strcspn(s, " \t=") < len ||
	    ctl_parse_u64(colon + 1, 254, &num) < 0 || !num)
		return -EINVAL;
	memcpy(ca, s, len);
	ca[len] = '\0';
	*port_num = (unsigned)num;
	return 0;
}

/* --- replies --- */

int ctl_reply_ok(char *buf, size_t cap, uint64_t n)
{
	size_t len = 0;
	int r = append(buf, cap, &len, "OK %" PRIu64 "\n", n);

	return r ? r : (int)len;
}

int ctl_reply_err(char *buf, size_t cap, int err, const char *msg)
{
	size_t len = 0, room;
	int r = append(buf, cap, &len, "ERR %s", ctl_err_code(err));

	if (r || cap - len < 2)
		return -E2BIG;
	room = cap - len - 2;	/* the newline and the NUL */
	if (msg && *msg && room > 1) {
		buf[len++] = ' ';
		for (room--; *msg && room; msg++, room--)
			buf[len++] = *msg == '\n' || *msg == '\r' ? ' ' : *msg;
	}
	buf[len++] = '\n';
	buf[len] = '\0';
	return (int)len;
}

int ctl_reply_record(char *buf, size_t cap, const struct ibv_path_record *rec)
{
	if (cap < CTL_RECORD_HEX + 2)
		return -E2BIG;
	ctl_hex_encode(rec, sizeof(*rec), buf);
	buf[CTL_RECORD_HEX] = '\n';
	buf[CTL_RECORD_HEX + 1] = '\0';
	return CTL_RECORD_HEX + 1;
}

/* --- the incremental reply reader --- */

enum { PH_STATUS, PH_LINES, PH_DONE, PH_BROKEN };

void ctl_reply_init(struct ctl_reply *r, char *line, size_t cap, uint64_t max_lines)
{
	memset(r, 0, sizeof(*r));
	r->line = line;
	r->cap = cap;
	r->max_lines = max_lines;
	r->phase = cap ? PH_STATUS : PH_BROKEN;
	if (cap)
		line[0] = '\0';
}

bool ctl_reply_done(const struct ctl_reply *r)
{
	return r->phase == PH_DONE;
}

/* Digits only, no sign, no blank, no overflow. */
static int parse_count(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EPROTO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EPROTO;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int status_line(struct ctl_reply *r)
{
	char *l = r->line;

	if (!strncmp(l, "OK ", 3)) {
		if (parse_count(l + 3, &r->n) || r->n > r->max_lines || r->n > INT32_MAX)
			return -EPROTO;
		r->status = (int)r->n;
		r->phase = r->n ? PH_LINES : PH_DONE;
		return 0;
	}
	if (!strncmp(l, "ERR ", 4) && l[4] && !is_blank(l[4])) {
		size_t code = strcspn(l + 4, " ");

		r->status = ctl_err_from_code(l + 4, code);
		r->msg = 4 + code + (l[4 + code] == ' ');
		r->phase = PH_DONE;
		return 0;
	}
	return -EPROTO;
}

ssize_t ctl_reply_feed(struct ctl_reply *r, const char *buf, size_t len,
		       enum ctl_reply_event *ev)
{
	const char *nl;
	size_t take;

	*ev = CTL_REPLY_MORE;
	if (r->phase == PH_BROKEN)
		return -EPROTO;
	if (r->phase == PH_DONE)
		return 0;
	if (r->len == 0)
		r->line[0] = '\0';	/* a new line: the previous one is gone */
	nl = memchr(buf, '\n', len);
	take = nl ? (size_t)(nl - buf) : len;
	if (take >= r->cap - r->len || memchr(buf, '\0', take)) {
		r->phase = PH_BROKEN;
		return -EPROTO;
	}
	memcpy(r->line + r->len, buf, take);
	r->len += take;
	r->line[r->len] = '\0';
	if (!nl)
		return (ssize_t)take;
	r->len = 0;	/* the line is complete; the next feed starts a new one */
	if (r->phase == PH_STATUS) {
		if (status_line(r)) {
			r->phase = PH_BROKEN;
			return -EPROTO;
		}
		*ev = CTL_REPLY_STATUS;
	} else {
		if (++r->got == r->n)
			r->phase = PH_DONE;
		*ev = CTL_REPLY_LINE;
	}
	return (ssize_t)take + 1;
}

/* --- records and hex --- */

void ctl_hex_encode(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = buf;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Every digit is checked before the first byte is written: out-params only on success. */
static int hex_decode_n(const char *hex, size_t hex_len, void *buf, size_t len)
{
	unsigned char *b = buf;

	if (hex_len != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < hex_len; i++)
		if (wire_hex_digit(hex[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(wire_hex_digit(hex[2 * i]) << 4 | wire_hex_digit(hex[2 * i + 1]));
	return 0;
}

int ctl_hex_decode(const char *hex, void *buf, size_t len)
{
	return hex_decode_n(hex, strlen(hex), buf, len);
}

int ctl_record_decode(const char *s, size_t len, struct ibv_path_record *rec)
{
	return hex_decode_n(s, len, rec, sizeof(*rec));
}

/* --- dump lines --- */

int ctl_dump_encode(char *buf, size_t cap, const struct ctl_dump_entry *e)
{
	char hex[CTL_RECORD_HEX + 1];
	size_t len = 0;
	int r;

	ctl_hex_encode(&e->rec, sizeof(e->rec), hex);
	r = append(buf, cap, &len, "tuple=%u flags=0x%x source=%s source_lid=%u generation=%u "
		   "age_s=%" PRIu64 " rec=%s\n", e->tuple, e->flags, e->source ? e->source : "?",
		   e->source_lid, e->generation, e->age_s, hex);
	return r ? r : (int)len;
}

int ctl_dump_decode(const char *line, struct ibv_path_record *rec, size_t *meta_len)
{
	const char *p = line;

	/* the word rec=: at the start, or after a blank */
	while ((p = strstr(p, "rec=")) && p != line && !is_blank(p[-1]))
		p += 4;
	if (!p || ctl_record_decode(p + 4, strlen(p + 4), rec) < 0)
		return -EINVAL;
	*meta_len = (size_t)(p - line);
	return 0;
}
