/*
 * json - a small streaming JSON writer over a strbuf, for every counter set the daemon reports
 * (`localsa stats --json`). It places the commas, escapes strings and checks nesting, so no
 * module formats JSON by hand. Output: `{"key": 1, "obj": {"a": true}, "list": [1, 2]}` - one
 * space after each colon and comma, which the lab tests' sed patterns rely on.
 */
#ifndef LOCALSA_BASE_JSON_H
#define LOCALSA_BASE_JSON_H

#include <stdbool.h>
#include <stdint.h>

struct strbuf;

enum { JSON_MAX_DEPTH = 16 };

struct json {
	struct strbuf *sb;
	unsigned depth;
	bool need_comma[JSON_MAX_DEPTH + 1];
	bool bad;			/* nesting misuse; the output is then not JSON */
};

/* Starts writing into sb (appended to whatever it holds). */
void json_init(struct json *j, struct strbuf *sb);

/*
 * Every value takes a key: a member name inside an object, NULL at the top level and inside an
 * array. Containers nest up to JSON_MAX_DEPTH.
 */
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_double(struct json *j, const char *key, double v);	/* %.6g; NaN/inf as null */
void json_str(struct json *j, const char *key, const char *s);	/* NULL: null */
void json_null(struct json *j, const char *key);

/* 0 when every container was closed and nothing was misused; -EINVAL otherwise (or the strbuf's
 * own error: -ENOMEM, -E2BIG). */
int json_finish(const struct json *j);

#endif
