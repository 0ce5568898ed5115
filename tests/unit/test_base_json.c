/*
 * test_base_json.c - the JSON writer: commas and spaces where the stats format has them,
 * nesting, escaping, numbers, and misuse reported by json_finish().
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "base/json.h"
#include "base/strbuf.h"
#include "check.h"

static void test_shapes(void)
{
	struct strbuf sb;
	struct json j;

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	json_str(&j, "version", "0.1.0");
	json_u64(&j, "hits", UINT64_MAX);
	json_i64(&j, "delta", -3);
	json_bool(&j, "up", true);
	json_object_begin(&j, "sa_queries");
	json_u64(&j, "get", 0);
	json_u64(&j, "get_table", 1);
	json_object_end(&j);
	json_array_begin(&j, "ports");
	json_object_begin(&j, NULL);
	json_u64(&j, "lid", 5);
	json_object_end(&j);
	json_u64(&j, NULL, 7);
	json_array_end(&j);
	json_array_begin(&j, "empty");
	json_array_end(&j);
	json_double(&j, "ratio", 0.5);
	json_double(&j, "nan", NAN);
	json_str(&j, "none", NULL);
	json_null(&j, "z");
	json_object_end(&j);
	CHECK_INT(0, json_finish(&j));
	strbuf_append(&sb, "", 1);
	CHECK_STR("{\"version\": \"0.1.0\", \"hits\": 18446744073709551615, \"delta\": -3, "
		  "\"up\": true, \"sa_queries\": {\"get\": 0, \"get_table\": 1}, "
		  "\"ports\": [{\"lid\": 5}, 7], \"empty\": [], \"ratio\": 0.5, \"nan\": null, "
		  "\"none\": null, \"z\": null}", sb.buf);
	strbuf_free(&sb);
}

static void test_escapes(void)
{
	struct strbuf sb;
	struct json j;

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	json_str(&j, NULL, "a\"b\\c\nd\x01");
	CHECK_INT(0, json_finish(&j));
	strbuf_append(&sb, "", 1);
	CHECK_STR("\"a\\\"b\\\\c\\u000ad\\u0001\"", sb.buf);
	strbuf_free(&sb);
}

static void test_misuse(void)
{
	struct strbuf sb;
	struct json j;

	strbuf_init(&sb, 0);
	json_init(&j, &sb);
	json_object_begin(&j, NULL);
	CHECK_INT(-EINVAL, json_finish(&j));	/* left open */
	json_object_end(&j);
	CHECK_INT(0, json_finish(&j));
	json_object_end(&j);			/* one close too many */
	CHECK_INT(-EINVAL, json_finish(&j));
	strbuf_reset(&sb);
	json_init(&j, &sb);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_array_begin(&j, NULL);
	CHECK_INT(-EINVAL, json_finish(&j));
	strbuf_free(&sb);
}

/* The same calls as Prometheus text: counters, gauges, units in seconds, labels of the info
 * gauge, a top-level array of objects as labelled samples grouped by name (its strings after
 * a number, nested arrays and nulls left out). */
static void test_prometheus(void)
{
	struct strbuf sb;
	struct json j;

	strbuf_init(&sb, 0);
	json_init_prometheus(&j, &sb, "localsa_");
	json_object_begin(&j, NULL);
	json_str(&j, "version", "0.1\"x");
	json_u64(&j, "cache_hits", 3);
	json_gauge(&j, "entries", 6);
	json_gauge(&j, "uptime_s", 12);
	json_gauge(&j, "last_fill_ms", 1500);
	json_bool(&j, "refreshing", true);
	json_object_begin(&j, "sa_queries");
	json_u64(&j, "get-table", 2);
	json_object_begin(&j, "deep");
	json_gauge(&j, "x_us", 250);
	json_object_end(&j);
	json_object_end(&j);
	json_array_begin(&j, "ports");
	for (int i = 0; i < 2; i++) {
		json_object_begin(&j, NULL);
		json_str(&j, "ca", i ? "b" : "a");
		json_gauge(&j, "lid", 5 + (uint64_t)i);
		json_str(&j, "state", "active");	/* after a number: no label */
		json_object_begin(&j, "sa");
		json_u64(&j, "get", 10 + (uint64_t)i);
		json_object_end(&j);
		json_array_begin(&j, "inner");
		json_gauge(&j, NULL, 1);
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_null(&j, "z");
	json_str(&j, "role", "standalone");
	json_object_end(&j);
	CHECK_INT(0, json_finish(&j));
	strbuf_append(&sb, "", 1);
	CHECK_STR("# TYPE localsa_cache_hits_total counter\nlocalsa_cache_hits_total 3\n"
		  "# TYPE localsa_entries gauge\nlocalsa_entries 6\n"
		  "# TYPE localsa_uptime_seconds gauge\nlocalsa_uptime_seconds 12\n"
		  "# TYPE localsa_last_fill_seconds gauge\nlocalsa_last_fill_seconds 1.5\n"
		  "# TYPE localsa_refreshing gauge\nlocalsa_refreshing 1\n"
		  "# TYPE localsa_sa_queries_get_table_total counter\n"
		  "localsa_sa_queries_get_table_total 2\n"
		  "# TYPE localsa_sa_queries_deep_x_seconds gauge\n"
		  "localsa_sa_queries_deep_x_seconds 0.00025\n"
		  "# TYPE localsa_ports_lid gauge\n"
		  "localsa_ports_lid{ca=\"a\"} 5\nlocalsa_ports_lid{ca=\"b\"} 6\n"
		  "# TYPE localsa_ports_sa_get_total counter\n"
		  "localsa_ports_sa_get_total{ca=\"a\"} 10\nlocalsa_ports_sa_get_total{ca=\"b\"} 11\n"
		  "# TYPE localsa_info gauge\n"
		  "localsa_info{version=\"0.1\\\"x\",role=\"standalone\"} 1\n", sb.buf);
	strbuf_free(&sb);
}

int main(void)
{
	test_prometheus();
	test_shapes();
	test_escapes();
	test_misuse();
	return CHECK_DONE();
}
