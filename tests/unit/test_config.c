/*
 * Tests for config: defaults, every kind of error message (with its line),
 * listen address parsing, durations and relative path resolution.
 *
 * Realistic whole files live in tests/unit/configs/; the many small error
 * cases are written inline to a temporary file so each YAML text sits next
 * to the exact message it must produce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "config.h"

static char fixture_dir[512];
static char tmp_dir[64];
static char tmp_file[128];

static const char *fixture(const char *name)
{
	static char path[600];
	snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
	return path;
}

/* Writes text to the temporary config file and loads it. */
static int load_text(const char *text, struct config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(tmp_file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return config_load(tmp_file, cfg, err, errlen);
}

/* Loading text must fail with exactly "TMPFILE:<line>: <message>". */
static void expect_error(const char *text, int line, const char *message)
{
	struct config cfg;
	char err[1024] = "";
	char want[1024];
	snprintf(want, sizeof(want), "%s:%d: %s", tmp_file, line, message);
	int rc = load_text(text, &cfg, err, sizeof(err));
	if (rc == 0)
		config_free(&cfg);
	assert_int_equal(rc, -1);
	assert_string_equal(err, want);
	/* On failure nothing is left to free. */
	assert_null(cfg.path);
	assert_null(cfg.listen);
	assert_null(cfg.zones);
}

static void load_ok(const char *text, struct config *cfg)
{
	char err[1024] = "";
	int rc = load_text(text, cfg, err, sizeof(err));
	if (rc != 0)
		fail_msg("unexpected error: %s", err);
}

static unsigned expected_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static void assert_v4(const struct config_listen *l, const char *addr, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&l->addr;
	struct in_addr want;
	assert_int_equal(inet_pton(AF_INET, addr, &want), 1);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(l->addr_len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sin->sin_port), port);
	assert_memory_equal(&sin->sin_addr, &want, sizeof(want));
}

static void assert_v6(const struct config_listen *l, const char *addr, uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&l->addr;
	struct in6_addr want;
	assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(l->addr_len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
}

/* ---- defaults and good files ---- */

static void test_defaults_empty_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512];
	assert_int_equal(config_load(fixture("empty.yaml"), &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.path, fixture("empty.yaml"));
	assert_int_equal(cfg.listen_count, 2);
	assert_v4(&cfg.listen[0], "127.0.0.1", 5300);
	assert_string_equal(cfg.listen[0].text, "127.0.0.1:5300");
	assert_v6(&cfg.listen[1], "::1", 5300);
	assert_string_equal(cfg.listen[1].text, "[::1]:5300");
	assert_null(cfg.nsid);
	assert_int_equal(cfg.workers, expected_workers());
	assert_int_equal(cfg.udp_payload, 1232);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 10000);
	assert_int_equal(cfg.tcp_max_connections, 256);
	assert_int_equal(cfg.zone_count, 0);
	assert_null(cfg.zones);
	config_free(&cfg);
}

static void test_defaults_with_zones_only(void **state)
{
	(void)state;
	struct config cfg;
	char err[512];
	assert_int_equal(config_load(fixture("minimal.yaml"), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.listen_count, 2);
	assert_int_equal(cfg.udp_payload, 1232);
	assert_int_equal(cfg.zone_count, 1);
	assert_string_equal(cfg.zones[0].origin, "example.org");
	char want[1024];
	snprintf(want, sizeof(want), "%s/example.org.zone", fixture_dir);
	assert_string_equal(cfg.zones[0].file, want);
	assert_int_equal(cfg.zones[0].line, 2);
	config_free(&cfg);
}

static void test_full_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512];
	if (config_load(fixture("full.yaml"), &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.listen_count, 3);
	assert_v4(&cfg.listen[0], "192.0.2.53", 53);
	assert_v6(&cfg.listen[1], "2001:db8::53", 5353);
	assert_string_equal(cfg.listen[1].text, "[2001:db8::53]:5353");
	assert_v4(&cfg.listen[2], "0.0.0.0", 8053);
	assert_string_equal(cfg.nsid, "ns7.test");
	assert_int_equal(cfg.workers, 3);
	assert_int_equal(cfg.udp_payload, 4096);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 120000);
	assert_int_equal(cfg.tcp_max_connections, 1000);
	assert_int_equal(cfg.zone_count, 2);
	assert_string_equal(cfg.zones[0].origin, "shop.example");
	char want[1024];
	snprintf(want, sizeof(want), "%s/zones/shop.example.zone", fixture_dir);
	assert_string_equal(cfg.zones[0].file, want);
	assert_int_equal(cfg.zones[0].line, 14);
	assert_string_equal(cfg.zones[1].origin, "eu.shop.example.");
	assert_string_equal(cfg.zones[1].file, "/var/lib/geosteer/eu.shop.example.zone"); /* absolute: kept */
	assert_int_equal(cfg.zones[1].line, 16);
	config_free(&cfg);
	config_free(&cfg); /* freeing twice is harmless: config_free clears */
}

static void test_relative_path_without_folder(void **state)
{
	(void)state;
	/* A config named without a folder is in the current directory, so its
	 * relative paths stay as written. */
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmp_dir), 0);
	FILE *f = fopen("plain.yaml", "w");
	assert_non_null(f);
	fputs("zones:\n  - origin: a.example\n    file: zones/a.zone\n", f);
	fclose(f);
	struct config cfg;
	char err[512];
	int rc = config_load("plain.yaml", &cfg, err, sizeof(err));
	unlink("plain.yaml");
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.zones[0].file, "zones/a.zone");
	config_free(&cfg);
}

static void test_listen_single_scalar_and_null_values(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("server:\n  listen: \"[::]:53\"\n  nsid:\n  workers: ~\n", &cfg);
	assert_int_equal(cfg.listen_count, 1);
	assert_v6(&cfg.listen[0], "::", 53);
	assert_null(cfg.nsid);                             /* null: keep the default */
	assert_int_equal(cfg.workers, expected_workers()); /* likewise */
	config_free(&cfg);
}

static void test_listen_v4_v6(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("server:\n  listen: [10.1.2.3:1, \"[fe80::1:2]:65535\", \"[::ffff:192.0.2.1]:53\"]\n", &cfg);
	assert_int_equal(cfg.listen_count, 3);
	assert_v4(&cfg.listen[0], "10.1.2.3", 1);
	assert_v6(&cfg.listen[1], "fe80::1:2", 65535);
	assert_v6(&cfg.listen[2], "::ffff:192.0.2.1", 53);
	config_free(&cfg);
}

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		unsigned ms;
	} cases[] = {
	    {"1500", 1500}, {"\"1500\"", 1500}, {"\"10s\"", 10000},
	    {"2m", 120000}, {"10m", 600000},    {"\"1000ms\"", 1000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "server:\n  tcp_idle_timeout: %s\n", cases[i].text);
		struct config cfg;
		load_ok(text, &cfg);
		assert_int_equal(cfg.tcp_idle_timeout_ms, cases[i].ms);
		config_free(&cfg);
	}
}

/* ---- errors ---- */

static void test_unknown_keys(void **state)
{
	(void)state;
	struct config cfg;
	char err[1024];
	char want[1024];
	assert_int_equal(config_load(fixture("listne.yaml"), &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: unknown key 'listne' in server", fixture("listne.yaml"));
	assert_string_equal(err, want);

	expect_error("server:\n  workers: 2\n\ngeoip:\n  database: x.mmdb\n", 4,
	             "unknown key 'geoip' at top level");
	expect_error("zones:\n  - origin: a.example\n    fil: a.zone\n", 3, "unknown key 'fil' in zones");
	expect_error("[1, 2]\n", 1, "the file must be a mapping (server:, zones:), got a list");
	expect_error("server:\n  ? [a]\n  : 1\n", 2, "keys must be plain names, got a list in server");
}

static void test_type_errors(void **state)
{
	(void)state;
	expect_error("server:\n  workers: abc\n", 2, "workers in server: want an integer 1..64, got 'abc'");
	expect_error("server:\n  workers: -1\n", 2, "workers in server: want an integer 1..64, got '-1'");
	expect_error("server:\n  workers: 2.5\n", 2, "workers in server: want an integer 1..64, got '2.5'");
	expect_error("server:\n  workers: [1]\n", 2, "workers in server: want a single value, got a list");
	expect_error("server:\n  nsid: {a: b}\n", 2, "nsid in server: want a single value, got a mapping");
	expect_error("server: 5\n", 1, "server: want a mapping, got a scalar");
	expect_error("zones:\n  origin: a\n", 2, "zones: want a list of mappings, got a mapping");
	expect_error("zones:\n  - a.example\n", 2, "zones: each entry must be a mapping, got a scalar");
	expect_error("server:\n  listen: {a: b}\n", 2,
	             "listen in server: want a list of addresses, got a mapping");
	expect_error("server:\n  listen: [[1.2.3.4:53]]\n", 2,
	             "listen in server: want an address, got a list");
	expect_error("server:\n  listen: []\n", 2, "listen in server: the list is empty");
	expect_error(
	    "server:\n  tcp_idle_timeout: 10x\n", 2,
	    "tcp_idle_timeout in server: want a duration (1500, \"500ms\", \"10s\", \"2m\"), got '10x'");
	expect_error(
	    "server:\n  tcp_idle_timeout: s\n", 2,
	    "tcp_idle_timeout in server: want a duration (1500, \"500ms\", \"10s\", \"2m\"), got 's'");
}

static void test_range_errors(void **state)
{
	(void)state;
	expect_error("server:\n  workers: 0\n", 2, "workers in server: 0 is out of range 1..64");
	expect_error("server:\n  workers: 65\n", 2, "workers in server: 65 is out of range 1..64");
	expect_error("server:\n  workers: 99999999999999999999999\n", 2,
	             "workers in server: want an integer 1..64, got '99999999999999999999999'");
	expect_error("server:\n  udp_payload: 511\n", 2,
	             "udp_payload in server: 511 is out of range 512..4096");
	expect_error("server:\n  udp_payload: 4097\n", 2,
	             "udp_payload in server: 4097 is out of range 512..4096");
	expect_error("server:\n  tcp_max_connections: 65536\n", 2,
	             "tcp_max_connections in server: 65536 is out of range 1..65535");
	expect_error("server:\n  tcp_idle_timeout: 500ms\n", 2,
	             "tcp_idle_timeout in server: 500 is out of range 1000..600000 ms");
	expect_error("server:\n  tcp_idle_timeout: 1h\n", 2,
	             "tcp_idle_timeout in server: 3600000 is out of range 1000..600000 ms");
	expect_error("server:\n  nsid: \"\"\n", 2, "nsid in server: length 0 is out of range 1..255");
}

static void test_bad_listen_addresses(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "1.2.3.4",      "[::1]",        "::1:53",   "1.2.3.4:0",      "1.2.3.4:65536",
	    "host:53",      "[1.2.3.4]:53", "1.2.3.4:", "1.2.3.4:+53",    "[::1]53",
	    "1.2.3.4:053x", "256.1.1.1:53", "[::1:53",  "1.2.3.4:000053",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], msg[256];
		snprintf(text, sizeof(text), "server:\n  listen:\n    - 127.0.0.1:53\n    - \"%s\"\n",
		         bad[i]);
		snprintf(msg, sizeof(msg), "bad listen address '%s' (want ADDR:PORT or [ADDR6]:PORT)",
		         bad[i]);
		expect_error(text, 4, msg);
	}
	expect_error("server:\n  listen: [127.0.0.1:53, 127.0.0.1:53]\n", 2,
	             "duplicate listen address '127.0.0.1:53'");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_error("server:\n  workers: 2\n  udp_payload: 1232\n  workers: 3\n", 4,
	             "duplicate key 'workers' in server");
	expect_error("server:\n  workers: 2\nserver:\n  workers: 3\n", 3,
	             "duplicate key 'server' at top level");
	expect_error("zones:\n  - origin: a.example\n    origin: b.example\n    file: x\n", 3,
	             "duplicate key 'origin' in zones");
}

static void test_missing_zone_keys(void **state)
{
	(void)state;
	expect_error("zones:\n  - origin: a.example\n    file: a.zone\n  - origin: b.example\n", 4,
	             "zone entry has no 'file'");
	expect_error("zones:\n  - file: a.zone\n", 2, "zone entry has no 'origin'");
	expect_error("zones:\n  - origin: a.example\n    file:\n", 2, "zone entry has no 'file'");
}

static void test_yaml_syntax_errors(void **state)
{
	(void)state;
	struct config cfg;
	char err[1024];
	char want[1024];
	assert_int_equal(config_load(fixture("syntax-error.yaml"), &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: YAML syntax error: ", fixture("syntax-error.yaml"));
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_null(strchr(err, '\n'));

	/* A tab in indentation is reported on its own line. */
	assert_int_equal(load_text("server:\n  workers: 2\n\tnsid: x\n", &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: YAML syntax error: ", tmp_file);
	assert_true(strncmp(err, want, strlen(want)) == 0);

	expect_error("server:\n  workers: 2\n---\nserver: {}\n", 4, "only one YAML document is allowed");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512];
	assert_int_equal(config_load("/nonexistent/geosteer.yaml", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/geosteer.yaml: cannot open: No such file or directory");
	assert_null(cfg.path);
}

static void test_error_buffer_small(void **state)
{
	(void)state;
	/* A short err buffer truncates the message but never overflows. */
	struct config cfg;
	char err[16];
	memset(err, 'x', sizeof(err));
	assert_int_equal(load_text("server:\n  bogus: 1\n", &cfg, err, sizeof(err)), -1);
	assert_non_null(memchr(err, '\0', sizeof(err)));
}

static int setup(void **state)
{
	(void)state;
	const char *src = __FILE__; /* tests/unit/test_config.c, relative to the build folder */
	const char *slash = strrchr(src, '/');
	if (slash)
		snprintf(fixture_dir, sizeof(fixture_dir), "%.*s/configs", (int)(slash - src), src);
	else
		snprintf(fixture_dir, sizeof(fixture_dir), "configs");
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/geosteer-test-config-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(tmp_file, sizeof(tmp_file), "%s/geosteer.yaml", tmp_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(tmp_file);
	rmdir(tmp_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_empty_file),
	    cmocka_unit_test(test_defaults_with_zones_only),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_relative_path_without_folder),
	    cmocka_unit_test(test_listen_single_scalar_and_null_values),
	    cmocka_unit_test(test_listen_v4_v6),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_type_errors),
	    cmocka_unit_test(test_range_errors),
	    cmocka_unit_test(test_bad_listen_addresses),
	    cmocka_unit_test(test_duplicate_keys),
	    cmocka_unit_test(test_missing_zone_keys),
	    cmocka_unit_test(test_yaml_syntax_errors),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_error_buffer_small),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
