/*
 * json - see json.h. Keys are written through the same escaping as string values.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/strbuf.h"

void json_init(struct json *j, struct strbuf *sb)
{
	memset(j, 0, sizeof(*j));
	j->sb = sb;
}

/* --- Prometheus text ------------------------------------------------------------------------ */

void json_init_prometheus(struct json *j, struct strbuf *sb, const char *prefix)
{
	json_init(j, sb);
	j->prom = true;
	strbuf_init(&j->arr, 0);
	snprintf(j->name, sizeof(j->name), "%s", prefix);
	j->name_len[0] = strlen(j->name);
}

/* Writes "_key" (or "key" right after the prefix) at name[len], in Prometheus' alphabet;
 * returns the new length. */
static size_t prom_name_push(struct json *j, size_t len, const char *key)
{
	if (len && j->name[len - 1] != '_' && len + 1 < sizeof(j->name))
		j->name[len++] = '_';
	for (const char *p = key; *p && len + 1 < sizeof(j->name); p++) {
		char c = *p;

		j->name[len++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				 (c >= '0' && c <= '9') ? c : '_';
	}
	j->name[len] = '\0';
	return len;
}

/* A sample of a labelled array element: kept until the array ends (prom_flush_array). */
static void prom_keep(struct json *j, bool counter, double v)
{
	j->elem_labels[j->elem_labels_len] = '\0';
	strbuf_printf(&j->arr, v == floor(v) && fabs(v) < 1e15 ? "%s\t%s\t%s\t%.0f\n" :
		      "%s\t%s\t%s\t%.15g\n", j->name, counter ? "counter" : "gauge",
		      j->elem_labels, v);
	j->elem_sampled = true;
}

/* One sample: "# TYPE name kind" and "name value". */
static void prom_sample(struct json *j, const char *key, bool counter, double v)
{
	static const struct { const char *suffix; double scale; } units[] = {
		{ "_ms", 1e-3 }, { "_us", 1e-6 }, { "_s", 1 },
	};
	size_t len, klen;

	if (j->skip_depth || !key)
		return;
	len = prom_name_push(j, j->name_len[j->depth], key);
	klen = strlen(key);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t sl = strlen(units[i].suffix);

		if (klen > sl && !strcmp(key + klen - sl, units[i].suffix)) {
			len -= sl;
			v *= units[i].scale;
			len += (size_t)snprintf(j->name + len, sizeof(j->name) - len, "_seconds");
			break;
		}
	}
	if (counter && len + 6 < sizeof(j->name))
		memcpy(j->name + len, "_total", 7);
	if (j->arr_depth) {
		prom_keep(j, counter, v);
		j->name[j->name_len[j->depth]] = '\0';
		return;
	}
	/* whole numbers exactly, as far as a double holds them; fractions to 15 digits */
	strbuf_printf(j->sb, v == floor(v) && fabs(v) < 1e15 ? "# TYPE %s %s\n%s %.0f\n" :
		      "# TYPE %s %s\n%s %.15g\n", j->name, counter ? "counter" : "gauge",
		      j->name, v);
	j->name[j->name_len[j->depth]] = '\0';
}

/* key="s" appended to a label list l of *len (escaped as the format wants). */
static void label_add(char *l, size_t *len, size_t size, const char *key, const char *s)
{
	size_t n = *len, cap = size - 8;

	if (n && n < cap)
		l[n++] = ',';
	for (const char *p = key; *p && n < cap; p++)
		l[n++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
	if (n + 2 < cap) {
		l[n++] = '=';
		l[n++] = '"';
	}
	for (const char *p = s; *p && n + 3 < cap; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			l[n++] = '\\';
			l[n++] = *p == '\n' ? 'n' : *p;
		} else {
			l[n++] = *p;
		}
	}
	if (n < cap)
		l[n++] = '"';
	*len = n;
}

/* A top-level string: one more label of the info gauge; an array element's string before its
 * first number: one more label of its samples. */
static void prom_label(struct json *j, const char *key, const char *s)
{
	if (j->skip_depth || !key || !s)
		return;
	if (j->depth == 1)
		label_add(j->labels, &j->labels_len, sizeof(j->labels), key, s);
	else if (j->arr_depth && j->depth == j->arr_depth + 1 && !j->elem_sampled)
		label_add(j->elem_labels, &j->elem_labels_len, sizeof(j->elem_labels), key, s);
}

struct kept {
	const char *name, *kind, *labels, *value;
	size_t at;
};

static int kept_cmp(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* The array's samples grouped by name (in the order they came within a name), one TYPE line
 * per name: the exposition format wants each family whole. */
static void prom_flush_array(struct json *j)
{
	struct kept *k = NULL;
	size_t n = 0, cap = 0;
	char *p = j->arr.buf;

	for (char *line; p && (line = strsep(&p, "\n")) && *line;) {
		char *f[4];

		for (int i = 0; i < 4; i++)
			f[i] = strsep(&line, "\t");
		if (!f[3])
			continue;
		if (n == cap) {
			struct kept *nk = realloc(k, (cap = cap ? 2 * cap : 64) * sizeof(*k));

			if (!nk)
				break;
			k = nk;
		}
		k[n] = (struct kept){ f[0], f[1], f[2], f[3], n };
		n++;
	}
	if (n)
		qsort(k, n, sizeof(*k), kept_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!i || strcmp(k[i].name, k[i - 1].name))
			strbuf_printf(j->sb, "# TYPE %s %s\n", k[i].name, k[i].kind);
		strbuf_printf(j->sb, *k[i].labels ? "%s{%s} %s\n" : "%s%s %s\n", k[i].name,
			      k[i].labels, k[i].value);
	}
	free(k);
	strbuf_free(&j->arr);
	strbuf_init(&j->arr, 0);
}

static void prom_open(struct json *j, const char *key, char c)
{
	if (c == '[' && !j->skip_depth && !j->arr_depth && j->depth == 2 && key) {
		j->arr_depth = j->depth;	/* a member of the top level: labelled */
	} else if (c == '[' && !j->skip_depth) {
		j->skip_depth = j->depth;	/* other arrays: left out */
	} else if (c == '{' && j->arr_depth && j->depth == j->arr_depth + 1) {
		j->elem_labels_len = 0;		/* an element: its own labels, no key */
		j->elem_sampled = false;
		j->name_len[j->depth] = j->name_len[j->depth - 1];
		return;
	}
	j->name_len[j->depth] = key && !j->skip_depth ?
				prom_name_push(j, j->name_len[j->depth - 1], key) :
				j->name_len[j->depth - 1];
	j->name[j->name_len[j->depth]] = '\0';
}

static void prom_close(struct json *j)
{
	if (j->skip_depth > j->depth)
		j->skip_depth = 0;
	if (j->arr_depth > j->depth) {
		j->arr_depth = 0;
		prom_flush_array(j);
	}
	j->name[j->name_len[j->depth]] = '\0';
	if (j->depth || !j->labels_len)
		return;
	j->labels[j->labels_len] = '\0';
	strbuf_printf(j->sb, "# TYPE %sinfo gauge\n%sinfo{%s} 1\n", j->name, j->name, j->labels);
	j->labels_len = 0;
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

/* --- JSON -------------------------------------------------------------------------------- */

static void open_container(struct json *j, const char *key, char c)
{
	if (j->depth >= JSON_MAX_DEPTH) {
		j->bad = true;
		return;
	}
	if (j->prom) {
		j->depth++;
		prom_open(j, key, c);
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
	if (j->prom)
		prom_close(j);
	else
		strbuf_append(j->sb, &c, 1);
}

void json_object_begin(struct json *j, const char *key) { open_container(j, key, '{'); }
void json_object_end(struct json *j) { close_container(j, '}'); }
void json_array_begin(struct json *j, const char *key) { open_container(j, key, '['); }
void json_array_end(struct json *j) { close_container(j, ']'); }

static void number(struct json *j, const char *key, uint64_t v, bool counter)
{
	if (j->prom) {
		prom_sample(j, key, counter, (double)v);
		return;
	}
	lead(j, key);
	strbuf_printf(j->sb, "%llu", (unsigned long long)v);
}

void json_u64(struct json *j, const char *key, uint64_t v) { number(j, key, v, true); }
void json_gauge(struct json *j, const char *key, uint64_t v) { number(j, key, v, false); }

void json_i64(struct json *j, const char *key, int64_t v)
{
	if (j->prom) {
		prom_sample(j, key, true, (double)v);
		return;
	}
	lead(j, key);
	strbuf_printf(j->sb, "%lld", (long long)v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	if (j->prom) {
		prom_sample(j, key, false, v);
		return;
	}
	lead(j, key);
	strbuf_printf(j->sb, "%s", v ? "true" : "false");
}

void json_double(struct json *j, const char *key, double v)
{
	if (j->prom) {
		if (isfinite(v))
			prom_sample(j, key, false, v);
		return;
	}
	lead(j, key);
	if (isfinite(v))
		strbuf_printf(j->sb, "%.6g", v);
	else
		strbuf_printf(j->sb, "null");
}

void json_str(struct json *j, const char *key, const char *s)
{
	if (j->prom) {
		prom_label(j, key, s);
		return;
	}
	lead(j, key);
	if (s)
		put_string(j->sb, s);
	else
		strbuf_printf(j->sb, "null");
}

void json_null(struct json *j, const char *key)
{
	if (j->prom)
		return;
	lead(j, key);
	strbuf_printf(j->sb, "null");
}

int json_finish(const struct json *j)
{
	if (j->sb->err)
		return j->sb->err;
	return j->bad || j->depth ? -EINVAL : 0;
}
