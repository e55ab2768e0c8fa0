/*
 * Tests of stats (per-thread counters merged on read) and of the metrics
 * text they become: bucket names, merging across threads while they count,
 * the per-record reset at a reload, counting without allocating, label
 * escaping and the exposition's shape.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "health.h"
#include "metrics.h"
#include "query.h"
#include "stats.h"

static struct query_outcome outcome(uint16_t qtype, uint16_t rcode)
{
	return (struct query_outcome){.answered = true, .qtype = qtype, .rcode = rcode, .record = -1};
}

static void test_buckets(void **state)
{
	(void)state;
	assert_string_equal(stats_qtype_name(stats_qtype_bucket(1)), "A");
	assert_string_equal(stats_qtype_name(stats_qtype_bucket(28)), "AAAA");
	assert_string_equal(stats_qtype_name(stats_qtype_bucket(65)), "HTTPS");
	assert_string_equal(stats_qtype_name(stats_qtype_bucket(257)), "CAA");
	assert_string_equal(stats_qtype_name(stats_qtype_bucket(999)), "other");
	assert_string_equal(stats_qtype_name(stats_qtype_bucket(0)), "other");
	assert_null(stats_qtype_name(STATS_QTYPE_COUNT));
	assert_string_equal(stats_rcode_name(stats_rcode_bucket(0)), "NOERROR");
	assert_string_equal(stats_rcode_name(stats_rcode_bucket(3)), "NXDOMAIN");
	assert_string_equal(stats_rcode_name(stats_rcode_bucket(16)), "BADVERS");
	assert_string_equal(stats_rcode_name(stats_rcode_bucket(23)), "BADCOOKIE");
	assert_string_equal(stats_rcode_name(stats_rcode_bucket(24)), "other");
	assert_string_equal(stats_rcode_name(stats_rcode_bucket(4095)), "other");
	assert_null(stats_rcode_name(STATS_RCODE_COUNT));
	/* Every bucket has a distinct name. */
	for (size_t i = 0; i < STATS_QTYPE_COUNT; i++)
		for (size_t j = i + 1; j < STATS_QTYPE_COUNT; j++)
			assert_string_not_equal(stats_qtype_name(i), stats_qtype_name(j));
}

static void test_count_and_read(void **state)
{
	(void)state;
	stats_reset();
	struct stats_totals t;
	stats_read(&t);
	assert_int_equal(t.queries[QUERY_UDP] + t.queries[QUERY_TCP], 0);

	struct stats_block *a = stats_register(), *b = stats_register();
	assert_non_null(a);
	assert_non_null(b);
	struct query_outcome o = outcome(1, 0);
	o.ecs = true;
	o.record = 2;
	o.datacenters = 1ull << 0 | 1ull << 63;
	stats_count(a, QUERY_UDP, &o);
	stats_count(b, QUERY_TCP, &o);
	o = outcome(28, 3);
	o.truncated = true;
	o.fail_open = true;
	o.fenced = true;
	stats_count(a, QUERY_UDP, &o);
	o = outcome(1, 0);
	o.answered = false;
	stats_count(a, QUERY_UDP, &o); /* dropped: not a query */
	stats_count_dropped(b, 2);
	stats_count(NULL, QUERY_UDP, &o); /* no block: nothing, no crash */
	stats_count_dropped(NULL, 5);
	o = outcome(1, 0);
	o.record = STATS_MAX_RECORDS + 7; /* past the kept ones: "the rest" */
	stats_count(b, QUERY_UDP, &o);
	/* Rate limiting: a drop and a slip each in its own counter, a pass in none. */
	stats_count_rate_limited(a, RATELIMIT_DROP);
	stats_count_rate_limited(a, RATELIMIT_DROP);
	stats_count_rate_limited(b, RATELIMIT_SLIP);
	stats_count_rate_limited(a, RATELIMIT_PASS);
	stats_count_rate_limited(NULL, RATELIMIT_DROP);

	stats_read(&t);
	assert_int_equal(t.rate_limited, 2);
	assert_int_equal(t.rate_limit_slipped, 1);
	assert_int_equal(t.queries[QUERY_UDP], 3);
	assert_int_equal(t.queries[QUERY_TCP], 1);
	assert_int_equal(t.qtype[stats_qtype_bucket(1)], 3);
	assert_int_equal(t.qtype[stats_qtype_bucket(28)], 1);
	assert_int_equal(t.rcode[0], 3);
	assert_int_equal(t.rcode[3], 1);
	assert_int_equal(t.truncated, 1);
	assert_int_equal(t.ecs, 2);
	assert_int_equal(t.fail_open, 1);
	assert_int_equal(t.fenced, 1);
	assert_int_equal(t.dropped, 3);
	assert_int_equal(t.datacenter[0], 2);
	assert_int_equal(t.datacenter[63], 2);
	assert_int_equal(t.datacenter[1], 0);
	assert_int_equal(t.record[2], 2);
	assert_int_equal(t.record[STATS_MAX_RECORDS], 1);
	assert_true(t.uptime_s >= 0);

	/* A reload starts per-record counts over, nothing else. */
	stats_reload(true);
	stats_reload(false);
	stats_reload(false);
	stats_read(&t);
	assert_int_equal(t.record[2], 0);
	assert_int_equal(t.record[STATS_MAX_RECORDS], 0);
	assert_int_equal(t.datacenter[0], 2);
	assert_int_equal(t.queries[QUERY_UDP], 3);
	assert_int_equal(t.reloads, 1);
	assert_int_equal(t.reload_failures, 2);
	o = outcome(1, 0);
	o.record = 2;
	stats_count(a, QUERY_UDP, &o);
	stats_read(&t);
	assert_int_equal(t.record[2], 1);
	stats_reset();
}

/* A freed datacenter slot's count starts over: the name that gets the slot
 * next must not inherit the old name's answers; the other slots keep
 * theirs, and counting after the release counts from 0. */
static void test_datacenter_released(void **state)
{
	(void)state;
	struct stats_totals t;
	struct stats_block *a = stats_register(), *b = stats_register();
	assert_non_null(a);
	assert_non_null(b);
	struct query_outcome o = outcome(1, 0);
	o.datacenters = 1ull << 3 | 1ull << 4;
	for (int i = 0; i < 5; i++)
		stats_count(i % 2 ? a : b, QUERY_UDP, &o);
	stats_read(&t);
	assert_int_equal(t.datacenter[3], 5);
	assert_int_equal(t.datacenter[4], 5);

	stats_datacenters_released(1ull << 3);
	stats_read(&t);
	assert_int_equal(t.datacenter[3], 0);
	assert_int_equal(t.datacenter[4], 5);
	assert_int_equal(t.queries[QUERY_UDP], 5); /* the totals are not touched */

	o.datacenters = 1ull << 3;
	stats_count(a, QUERY_UDP, &o);
	stats_count(b, QUERY_UDP, &o);
	stats_read(&t);
	assert_int_equal(t.datacenter[3], 2);
	/* a second release of the same slot starts it over again */
	stats_datacenters_released(1ull << 3);
	stats_count(a, QUERY_UDP, &o);
	stats_read(&t);
	assert_int_equal(t.datacenter[3], 1);
	/* a reload alone does not */
	stats_reload(true);
	stats_read(&t);
	assert_int_equal(t.datacenter[3], 1);
	assert_int_equal(t.datacenter[4], 5);
	stats_reset();
}

/* ---- merging while writers run ---- */

#define WRITERS 4
#define PER_WRITER 200000

static void *writer_main(void *arg)
{
	(void)arg;
	struct stats_block *b = stats_register();
	struct query_outcome o = outcome(1, 0);
	o.datacenters = 1ull << 5;
	for (unsigned i = 0; i < PER_WRITER; i++) {
		o.qtype = i % 2 ? 1 : 28;
		stats_count(b, i % 4 ? QUERY_UDP : QUERY_TCP, &o);
	}
	return NULL;
}

static void test_merge_concurrent(void **state)
{
	(void)state;
	stats_reset();
	pthread_t th[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, NULL), 0);
	/* Reads while they count never go backwards. */
	uint64_t last = 0;
	static struct stats_totals t;
	for (int k = 0; k < 200; k++) {
		stats_read(&t);
		uint64_t now = t.queries[QUERY_UDP] + t.queries[QUERY_TCP];
		assert_true(now >= last);
		assert_true(now <= (uint64_t)WRITERS * PER_WRITER);
		last = now;
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	stats_read(&t);
	assert_int_equal(t.queries[QUERY_UDP], WRITERS * PER_WRITER / 4 * 3);
	assert_int_equal(t.queries[QUERY_TCP], WRITERS * PER_WRITER / 4);
	assert_int_equal(t.qtype[stats_qtype_bucket(1)], WRITERS * PER_WRITER / 2);
	assert_int_equal(t.qtype[stats_qtype_bucket(28)], WRITERS * PER_WRITER / 2);
	assert_int_equal(t.datacenter[5], WRITERS * PER_WRITER);
	/* A finished thread's counts stay. */
	struct stats_block *late = stats_register();
	assert_non_null(late);
	stats_read(&t);
	assert_int_equal(t.datacenter[5], WRITERS * PER_WRITER);
	stats_reset();
}

static void test_block_limit(void **state)
{
	(void)state;
	stats_reset();
	for (int i = 0; i < STATS_MAX_BLOCKS; i++)
		assert_non_null(stats_register());
	assert_null(stats_register());
	stats_reset();
	assert_non_null(stats_register());
	stats_reset();
}

/* ---- counting allocates nothing ---- */

#include "alloc_count.h"

static void test_count_no_allocation(void **state)
{
	(void)state;
	alloc_counter_install();
	stats_reset();
	struct stats_block *b = stats_register();
	alloc_count = 0;
	alloc_counting = true;
	void *volatile probe = malloc(16); /* the counter works */
	alloc_counting = false;
	free(probe);
	assert_int_equal(alloc_count, 1);

	struct query_outcome o = outcome(1, 0);
	o.datacenters = 0xff;
	o.record = 3;
	alloc_count = 0;
	alloc_counting = true;
	for (unsigned i = 0; i < 10000; i++) {
		o.rcode = (uint16_t)(i % 30);
		stats_count(b, QUERY_UDP, &o);
	}
	stats_count_dropped(b, 1);
	alloc_counting = false;
	assert_int_equal(alloc_count, 0);
	stats_reset();
}

/* ---- metrics text ---- */

static void test_label_escape(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(metrics_label_escape(out, sizeof out, "us-east"), 7);
	assert_string_equal(out, "us-east");
	assert_int_equal(metrics_label_escape(out, sizeof out, "a\"b\\c\nd"), 10);
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	/* Cut short: never half an escape, always terminated. */
	assert_int_equal(metrics_label_escape(out, 3, "a\"b"), 4);
	assert_string_equal(out, "a");
	assert_int_equal(metrics_label_escape(NULL, 0, "\"\""), 4);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void test_render(void **state)
{
	(void)state;
	stats_reset();
	health_reset();
	int east = health_slot("us-east");
	int odd = health_slot("we\"ird\\dc");
	assert_true(east >= 0 && odd >= 0);
	struct health_probe p = {.address = "192.0.2.10",
	                         .check = "web",
	                         .up = true,
	                         .has_result = true,
	                         .last_ok = true,
	                         .rtt_ms = 12};
	health_set_probes(east, &p, 1);
	health_set_admin(odd, HEALTH_ADMIN_DRAIN);

	struct stats_block *b = stats_register();
	struct query_outcome o = outcome(1, 0);
	o.datacenters = 1ull << east;
	for (int i = 0; i < 3; i++)
		stats_count(b, QUERY_UDP, &o);
	o = outcome(15, 3);
	o.datacenters = 1ull << odd;
	stats_count(b, QUERY_TCP, &o);
	stats_reload(false);

	size_t len = 0;
	char *text = metrics_render(&len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_true(has_line(text, "# TYPE geosteer_queries_total counter"));
	assert_true(has_line(text, "# HELP geosteer_queries_total DNS queries answered, by transport."));
	assert_true(has_line(text, "geosteer_queries_total{transport=\"udp\"} 3"));
	assert_true(has_line(text, "geosteer_queries_total{transport=\"tcp\"} 1"));
	assert_true(has_line(text, "geosteer_queries_by_qtype_total{qtype=\"A\"} 3"));
	assert_true(has_line(text, "geosteer_queries_by_qtype_total{qtype=\"MX\"} 1"));
	assert_true(has_line(text, "geosteer_queries_by_qtype_total{qtype=\"AAAA\"} 0"));
	assert_true(has_line(text, "geosteer_responses_total{rcode=\"NXDOMAIN\"} 1"));
	assert_true(has_line(text, "geosteer_datacenter_answers_total{datacenter=\"us-east\"} 3"));
	assert_true(has_line(text, "geosteer_datacenter_answers_total{datacenter=\"we\\\"ird\\\\dc\"} 1"));
	assert_true(has_line(text, "geosteer_datacenter_up{datacenter=\"us-east\"} 1"));
	assert_true(has_line(text, "geosteer_datacenter_up{datacenter=\"we\\\"ird\\\\dc\"} 0"));
	assert_true(has_line(
	    text, "geosteer_address_up{datacenter=\"us-east\",address=\"192.0.2.10\",check=\"web\"} 1"));
	assert_true(has_line(
	    text, "geosteer_probe_success{datacenter=\"us-east\",address=\"192.0.2.10\",check=\"web\"} 1"));
	assert_true(has_line(
	    text,
	    "geosteer_probe_last_rtt_ms{datacenter=\"us-east\",address=\"192.0.2.10\",check=\"web\"} 12"));
	assert_true(has_line(text, "geosteer_reloads_total 0"));
	assert_true(has_line(text, "geosteer_reload_failures_total 1"));
	assert_true(has_line(text, "geosteer_snapshot_generation 0")); /* nothing published */
	/* No probe RTT measured yet: the family is there, with no sample. */
	assert_true(has_line(text, "# TYPE geosteer_probe_rtt_ms gauge"));
	assert_null(strstr(text, "geosteer_probe_rtt_ms{"));

	/* Shape: every line is a comment or "name[{...}] value"; every family's
	 * TYPE comes right after its HELP and before its samples. */
	char *save = NULL;
	char last_family[128] = "";
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			sscanf(line + 7, "%127s", last_family);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[128], type[16];
			assert_int_equal(sscanf(line + 7, "%127s %15s", name, type), 2);
			assert_string_equal(name, last_family);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
			continue;
		}
		size_t n = strlen(last_family);
		assert_true(n > 0);
		assert_memory_equal(line, last_family, n);
		assert_true(line[n] == '{' || line[n] == ' ');
		const char *value = strrchr(line, ' ');
		assert_non_null(value);
		char *end;
		strtod(value + 1, &end);
		assert_true(*end == '\0' && end > value + 1);
	}
	free(text);
	health_reset();
	stats_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buckets),
	    cmocka_unit_test(test_count_and_read),
	    cmocka_unit_test(test_datacenter_released),
	    cmocka_unit_test(test_merge_concurrent),
	    cmocka_unit_test(test_block_limit),
	    cmocka_unit_test(test_count_no_allocation),
	    cmocka_unit_test(test_label_escape),
	    cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
