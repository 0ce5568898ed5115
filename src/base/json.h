/*
 * json - a small streaming JSON writer over a strbuf, for every counter set the daemon reports
 * (`localsa stats --json`). It places the commas, escapes strings and checks nesting, so no
 * module formats JSON by hand. Output: `{"key": 1, "obj": {"a": true}, "list": [1, 2]}` - one
 * space after each colon and comma, which the lab tests' sed patterns rely on.
 *
 * The same calls write Prometheus text instead (json_init_prometheus, for node_exporter's
 * textfile collector), so the stats writers are the one description of the counters:
 *  - a number is a sample named prefix + the keys of its enclosing objects + its key, joined by
 *    '_' (other characters become '_'); json_u64/json_i64 write a counter ("_total" appended),
 *    json_gauge and json_double a gauge, json_bool a gauge of 0 or 1;
 *  - a key ending in _ms, _us or _s is a time: the sample is in seconds, named "_seconds";
 *  - the string members of the top-level object become labels of one "<prefix>info" gauge of 1;
 *  - an array of objects that is a member of the top-level object (the stats' "ports") gives
 *    each element's numbers as samples named after the array, labelled with the element's
 *    string members written before its first number (e.g. {ca="mlx5_0",gid="fe80::1"}); the
 *    samples are grouped by name when the array ends, one TYPE line each;
 *  - other strings, nulls and arrays are left out.
 */
#ifndef LOCALSA_BASE_JSON_H
#define LOCALSA_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

enum { JSON_MAX_DEPTH = 16 };

enum { JSON_PROM_NAME_MAX = 128, JSON_PROM_LABELS_MAX = 1024 };

struct json {
	struct strbuf *sb;
	unsigned depth;
	bool need_comma[JSON_MAX_DEPTH + 1];
	bool bad;			/* nesting misuse; the output is then not JSON */
	/* Prometheus text (json_init_prometheus) */
	bool prom;
	unsigned skip_depth;		/* inside an array: left out; 0 when not */
	size_t name_len[JSON_MAX_DEPTH + 1]; /* the length of name at each depth */
	char name[JSON_PROM_NAME_MAX];	/* prefix + the enclosing objects' keys */
	char labels[JSON_PROM_LABELS_MAX]; /* the info gauge's labels, written at the end */
	size_t labels_len;
	unsigned arr_depth;		/* inside a labelled array (its depth); 0: not */
	char elem_labels[JSON_PROM_LABELS_MAX]; /* the current element's labels */
	size_t elem_labels_len;
	bool elem_sampled;		/* the element wrote a number: no more labels */
	struct strbuf arr;		/* the array's samples, "name\tkind\tlabels\tvalue" lines */
};

/* Starts writing into sb (appended to whatever it holds). */
void json_init(struct json *j, struct strbuf *sb);
/* The same, as Prometheus text exposition lines; prefix starts every name ("localsa_"). */
void json_init_prometheus(struct json *j, struct strbuf *sb, const char *prefix);

/*
 * Every value takes a key: a member name inside an object, NULL at the top level and inside an
 * array. Containers nest up to JSON_MAX_DEPTH.
 */
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);	/* a count that only grows */
void json_gauge(struct json *j, const char *key, uint64_t v);	/* a level: entries, clients */
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_double(struct json *j, const char *key, double v);	/* %.6g; NaN/inf as null */
void json_str(struct json *j, const char *key, const char *s);	/* NULL: null */
void json_null(struct json *j, const char *key);

/* 0 when every container was closed and nothing was misused; -EINVAL otherwise (or the strbuf's
 * own error: -ENOMEM, -E2BIG). */
int json_finish(const struct json *j);

#endif
