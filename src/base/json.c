/*
 * json - see json.h. Keys are written through the same escaping as string values.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "base/json.h"
#include "base/strbuf.h"

void json_init(struct json *j, struct strbuf *sb)
{
	j->sb = sb;
	j->depth = 0;
	j->need_comma[0] = false;
	j->bad = false;
}

static void put_string(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	strbuf_append(sb, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };

		if (*p == '"' || *p == '\\') {
			strbuf_append(sb, "\\", 1);
			strbuf_append(sb, p, 1);
		} else if (*p < 0x20) {
			strbuf_append(sb, esc, sizeof(esc));
		} else {
			strbuf_append(sb, p, 1);
		}
	}
	strbuf_append(sb, "\"", 1);
}

/* The separator and key before a value. */
static void lead(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		strbuf_append(j->sb, ", ", 2);
	j->need_comma[j->depth] = true;
	if (key) {
		put_string(j->sb, key);
		strbuf_append(j->sb, ": ", 2);
	}
}

static void open_container(struct json *j, const char *key, char c)
{
	if (j->depth >= JSON_MAX_DEPTH) {
		j->bad = true;
		return;
	}
	lead(j, key);
	strbuf_append(j->sb, &c, 1);
	j->need_comma[++j->depth] = false;
}

static void close_container(struct json *j, char c)
{
	if (!j->depth) {
		j->bad = true;
		return;
	}
	j->depth--;
	strbuf_append(j->sb, &c, 1);
}

void json_object_begin(struct json *j, const char *key) { open_container(j, key, '{'); }
void json_object_end(struct json *j) { close_container(j, '}'); }
void json_array_begin(struct json *j, const char *key) { open_container(j, key, '['); }
void json_array_end(struct json *j) { close_container(j, ']'); }

void json_u64(struct json *j, const char *key, uint64_t v)
{
	lead(j, key);
	strbuf_printf(j->sb, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	lead(j, key);
	strbuf_printf(j->sb, "%lld", (long long)v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	lead(j, key);
	strbuf_printf(j->sb, "%s", v ? "true" : "false");
}

void json_double(struct json *j, const char *key, double v)
{
	lead(j, key);
	if (isfinite(v))
		strbuf_printf(j->sb, "%.6g", v);
	else
		strbuf_printf(j->sb, "null");
}

void json_str(struct json *j, const char *key, const char *s)
{
	lead(j, key);
	if (s)
		put_string(j->sb, s);
	else
		strbuf_printf(j->sb, "null");
}

void json_null(struct json *j, const char *key)
{
	lead(j, key);
	strbuf_printf(j->sb, "null");
}

int json_finish(const struct json *j)
{
	if (j->sb->err)
		return j->sb->err;
	return j->bad || j->depth ? -EINVAL : 0;
}
