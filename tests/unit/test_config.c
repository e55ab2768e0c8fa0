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
	assert_null(cfg.datacenters);
	assert_null(cfg.policies);
	assert_null(cfg.fences);
	assert_null(cfg.geoip.database);
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
	/* A file with nothing in it is refused (a truncated file would stop
	 * every zone on reload); "zones: []" alone gives every default. */
	assert_int_equal(config_load(fixture("empty.yaml"), &cfg, err, sizeof(err)), -1);
	char want[1200];
	snprintf(want, sizeof want,
	         "%s: the file has no settings (empty or only comments); a configuration that serves nothing "
	         "says \"zones: []\"",
	         fixture("empty.yaml"));
	assert_string_equal(err, want);
	const char *nothing[] = {"# only a comment\n", "---\n", "\n\n"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(load_text(nothing[i], &cfg, err, sizeof(err)), -1);
		assert_non_null(strstr(err, ": the file has no settings"));
	}
	assert_int_equal(config_load(fixture("defaults.yaml"), &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.path, fixture("defaults.yaml"));
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

	expect_error("server:\n  workers: 2\n\ngeoips:\n  database: x.mmdb\n", 4,
	             "unknown key 'geoips' at top level");
	expect_error("zones:\n  - origin: a.example\n    fil: a.zone\n", 3, "unknown key 'fil' in zones");
	expect_error("[1, 2]\n", 1, "the file must be a mapping (server:, zones:), got a list");
	expect_error("server:\n  ? [a]\n  : 1\n", 2, "keys must be plain names, got a list in server");
}

/* server.user names an account that must exist where the config loads
 * (root here: a system may have no "nobody"). */
static void test_server_user(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("server:\n  user: root\n", &cfg);
	assert_string_equal(cfg.user, "root");
	config_free(&cfg);
	load_ok("server:\n  user: \"root:0\"\n", &cfg);
	assert_string_equal(cfg.user, "root:0");
	config_free(&cfg);
	load_ok("server:\n  workers: 1\n", &cfg);
	assert_null(cfg.user);
	config_free(&cfg);
	expect_error("server:\n  workers: 1\n  user: no-such-account-here\n", 3,
	             "user in server: 'no-such-account-here': no such user");
	expect_error("server:\n  user: \"root:no-such-group-here\"\n", 2,
	             "user in server: 'root:no-such-group-here': no such group");
	expect_error("server:\n  user: \"root:\"\n", 2, "user in server: 'root:': empty group name");
	expect_error("server:\n  user: \":root\"\n", 2, "user in server: ':root': empty user name");
	expect_error("server:\n  user: \"4000000\"\n", 2,
	             "user in server: '4000000': a numeric user without an account needs a group (USER:GROUP)");
}

/* server.rate_limit: off unless responses is set; NSD-like defaults. */
static void test_rate_limit(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("server:\n  workers: 1\n", &cfg);
	assert_int_equal(cfg.rate_limit.responses, 0);
	config_free(&cfg);
	load_ok("server:\n  rate_limit:\n    responses: 20\n", &cfg);
	assert_int_equal(cfg.rate_limit.responses, 20);
	assert_int_equal(cfg.rate_limit.slip, 2);
	assert_int_equal(cfg.rate_limit.ipv4_prefix, 24);
	assert_int_equal(cfg.rate_limit.ipv6_prefix, 56);
	config_free(&cfg);
	load_ok("server:\n  rate_limit: {responses: 5, slip: 0, ipv4_prefix: 32, ipv6_prefix: 64}\n", &cfg);
	assert_int_equal(cfg.rate_limit.slip, 0);
	assert_int_equal(cfg.rate_limit.ipv4_prefix, 32);
	assert_int_equal(cfg.rate_limit.ipv6_prefix, 64);
	config_free(&cfg);
	expect_error("server:\n  rate_limit:\n    responses: 20\n    slip: 11\n", 4,
	             "slip in rate_limit: 11 is out of range 0..10");
	expect_error("server:\n  rate_limit:\n    responses: 20000\n", 3,
	             "responses in rate_limit: 20000 is out of range 0..10000");
	expect_error("server:\n  rate_limit:\n    ipv4_prefix: 33\n", 3,
	             "ipv4_prefix in rate_limit: 33 is out of range 8..32");
	expect_error("server:\n  rate_limit:\n    burst: 5\n", 3, "unknown key 'burst' in rate_limit");
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
	/* A value with a line break (a multi-line quoted string) is quoted
	 * with '?' for it: the error stays one line (found by fuzz_config). */
	expect_error("server:\n  listen: [\"127.0.0.1:53\\n\\tx\"]\n", 2,
	             "bad listen address '127.0.0.1:53??x' (want ADDR:PORT or [ADDR6]:PORT)");
	expect_error("server:\n  listen: [\"127.0.0.1:53\n\n  # more\"]\n", 2,
	             "bad listen address '127.0.0.1:53?# more' (want ADDR:PORT or [ADDR6]:PORT)");
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

	/* Flow nesting past 64 levels is refused before libyaml spends time
	 * growing with its square; brackets in quotes and comments do not count. */
	char deep[400];
	snprintf(deep, sizeof deep, "zones: []\nserver:\n  listen: %.65s%.65s\n",
	         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	expect_error(deep, 3, "nested more than 64 levels deep");
	snprintf(deep, sizeof deep, "zones: []\nserver:\n  nsid: \"%.70s\" # %.70s\n",
	         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	         "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{");
	assert_int_equal(load_text(deep, &cfg, err, sizeof(err)), 0);
	config_free(&cfg);

	/* A control socket path longer than a Unix socket address holds is
	 * found by --check, not by the start. */
	char longpath[300];
	snprintf(longpath, sizeof longpath, "zones: []\nserver:\n  control: /tmp/%0120d.sock\n", 0);
	/* with the line of control: (found by fuzz_config: the error had none) */
	expect_error(longpath, 3, "control in server: the path is 130 bytes, longer than a Unix socket path can be (107)");

	/* Bytes the YAML reader refuses (bad UTF-8, control characters) are
	 * named on their own line, not line 1. */
	expect_error("server:\n  workers: 2\n  nsid: \"\xff\xfe\"\n", 3, "YAML syntax error: invalid leading UTF-8 octet");
	expect_error("zones: []\n\n# \x01\n", 3, "YAML syntax error: control characters are not allowed");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512];
	assert_int_equal(config_load("/nonexistent/geosteer.yaml", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/geosteer.yaml: cannot open: No such file or directory");
	assert_null(cfg.path);
	/* only regular files: /dev/zero would be read forever, a directory is named as such */
	assert_int_equal(config_load("/dev/zero", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/zero: cannot open: not a regular file: a character device");
	assert_int_equal(config_load("/", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/: cannot open: not a regular file: a directory");
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

/* ---- steering: geoip, datacenters, policies, residency, records ---- */

static void assert_target(const struct config_policy_target *t, const char *key, const char *target,
                          unsigned weight, int line)
{
	if (key)
		assert_string_equal(t->key, key);
	else
		assert_null(t->key);
	assert_string_equal(t->target, target);
	assert_int_equal(t->weight, weight);
	assert_int_equal(t->line, line);
}

static void test_steering_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512], want[1024];
	if (config_load(fixture("steering.yaml"), &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);

	snprintf(want, sizeof(want), "%s/geo/GeoLite2-City.mmdb", fixture_dir);
	assert_string_equal(cfg.geoip.database, want);
	assert_string_equal(cfg.geoip.asn_database, "/var/lib/GeoIP/GeoLite2-ASN.mmdb");
	assert_false(cfg.geoip.client_subnet);
	assert_int_equal(cfg.geoip.line, 4);

	/* Datacenters in the order written, addresses canonical. */
	assert_int_equal(cfg.datacenter_count, 6);
	static const char *const dc_names[] = {"us-east", "us-west",      "eu-central",
	                                       "eu-west", "ap-southeast", "cdn-eu"};
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(cfg.datacenters[i].name, dc_names[i]);
		assert_int_equal(cfg.datacenters[i].line, 9 + (int)i);
	}
	const struct config_datacenter *e = &cfg.datacenters[0];
	assert_true(e->has_location);
	assert_true(e->latitude == 38.9 && e->longitude == -77.0);
	assert_string_equal(e->jurisdiction, "US");
	assert_int_equal(e->a_count, 2);
	assert_string_equal(e->a[0], "192.0.2.10");
	assert_string_equal(e->a[1], "192.0.2.11");
	assert_int_equal(e->aaaa_count, 1);
	assert_string_equal(e->aaaa[0], "2001:db8:1::10");
	assert_null(e->cname);
	const struct config_datacenter *cdn = &cfg.datacenters[5];
	assert_false(cdn->has_location);
	assert_null(cdn->jurisdiction);
	assert_int_equal(cdn->a_count, 0);
	assert_null(cdn->a);
	assert_string_equal(cdn->cname, "eu.cdn-provider.example.");

	/* Policies in the order written, targets with their lines. */
	assert_int_equal(cfg.policy_count, 7);
	const struct config_policy *p = &cfg.policies[0];
	assert_string_equal(p->name, "storefront");
	assert_int_equal(p->line, 17);
	assert_int_equal(p->kind, CONFIG_POLICY_GEO);
	assert_int_equal(p->target_count, 8);
	assert_target(&p->targets[0], "continent:EU", "eu-only", 0, 19);
	assert_target(&p->targets[1], "country:US", "us", 0, 20); /* codes upper-cased */
	assert_target(&p->targets[2], "country:CA", "us", 0, 21);
	assert_target(&p->targets[3], "subdivision:US-CA", "us-west", 0, 22);
	assert_target(&p->targets[4], "net:203.0.113.0/24", "ap-southeast", 0, 23);
	assert_target(&p->targets[5], "net:2001:db8::/32", "ap-southeast", 0, 24);
	assert_target(&p->targets[6], "asn:64500", "us-east", 0, 25);
	assert_target(&p->targets[7], "default", "nearest", 0, 26);
	assert_false(p->sticky);
	assert_int_equal(p->max, 0);
	assert_null(p->latency_table);

	p = &cfg.policies[1];
	assert_string_equal(p->name, "eu-only");
	assert_int_equal(p->kind, CONFIG_POLICY_FAILOVER);
	assert_int_equal(p->target_count, 2);
	assert_target(&p->targets[0], NULL, "eu-central", 0, 27);
	assert_target(&p->targets[1], NULL, "eu-west", 0, 27);

	p = &cfg.policies[3];
	assert_string_equal(p->name, "nearest");
	assert_int_equal(p->kind, CONFIG_POLICY_LATENCY);
	assert_int_equal(p->target_count, 3);
	snprintf(want, sizeof(want), "%s/latency.txt", fixture_dir);
	assert_string_equal(p->latency_table, want);
	/* latency_table alone: the default source, distance with the table first */
	assert_int_equal(p->latency_source, CONFIG_LATENCY_DISTANCE);
	assert_int_equal(p->latency_source_line, 0);

	p = &cfg.policies[4];
	assert_string_equal(p->name, "rollout");
	assert_int_equal(p->kind, CONFIG_POLICY_WEIGHTED);
	assert_true(p->sticky);
	assert_int_equal(p->target_count, 3);
	assert_target(&p->targets[0], NULL, "us-east", 80, 30);
	assert_target(&p->targets[1], NULL, "us-west", 20, 30);
	assert_target(&p->targets[2], NULL, "eu-west", 0, 30);

	p = &cfg.policies[5];
	assert_string_equal(p->name, "api-all");
	assert_int_equal(p->kind, CONFIG_POLICY_ALL);
	assert_int_equal(p->max, 8);
	assert_int_equal(p->target_count, 2);
	assert_string_equal(cfg.policies[6].name, "cdn");

	/* Residency fences, selectors canonical. */
	assert_int_equal(cfg.fence_count, 1);
	const struct config_fence *f = &cfg.fences[0];
	assert_string_equal(f->name, "EU");
	assert_int_equal(f->line, 35);
	assert_int_equal(f->client_count, 2);
	assert_string_equal(f->clients[0], "continent:EU");
	assert_string_equal(f->clients[1], "net:192.0.2.0/24");
	assert_int_equal(f->allowed_count, 2);
	assert_string_equal(f->allowed[0], "jurisdiction:EU");
	assert_string_equal(f->allowed[1], "datacenter:cdn-eu");

	/* Records, with ttl and down_ttl defaults. */
	assert_int_equal(cfg.zone_count, 2);
	const struct config_zone *z = &cfg.zones[0];
	assert_int_equal(z->record_count, 5);
	static const struct {
		const char *name, *policy;
		uint32_t ttl, down_ttl;
		int line;
	} recs[] = {
	    {"@", "storefront", 30, 10, 43},
	    {"www", "storefront", 300, 60, 44},
	    {"api", "api-all", 5, 5, 45},
	    {"static", "cdn", 30, 10, 46},
	    {"www.eu.shop.example.", "eu-only", 0, 0, 47},
	};
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(z->records[i].name, recs[i].name);
		assert_string_equal(z->records[i].policy, recs[i].policy);
		assert_int_equal(z->records[i].ttl, recs[i].ttl);
		assert_int_equal(z->records[i].down_ttl, recs[i].down_ttl);
		assert_int_equal(z->records[i].line, recs[i].line);
	}
	assert_int_equal(cfg.zones[1].record_count, 0);
	assert_null(cfg.zones[1].records);
	config_free(&cfg);
	assert_null(cfg.datacenters);
	assert_null(cfg.policies);
	assert_null(cfg.fences);
	assert_null(cfg.geoip.database);
}

static void test_steering_defaults(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("server:\n  workers: 1\n", &cfg);
	assert_null(cfg.geoip.database);
	assert_null(cfg.geoip.asn_database);
	assert_true(cfg.geoip.client_subnet); /* on unless turned off */
	assert_int_equal(cfg.geoip.line, 0);
	assert_int_equal(cfg.datacenter_count, 0);
	assert_int_equal(cfg.policy_count, 0);
	assert_int_equal(cfg.fence_count, 0);
	config_free(&cfg);

	load_ok(
	    "geoip:\n  database: /x.mmdb\n  client_subnet: yes\n"
	    "datacenters:\n  empty:\n  d: {}\n"
	    "policies:\n  w: {weighted: {d: 1}}\n"
	    "zones:\n  - origin: a.example\n    file: a.zone\n    records:\n      x: {policy: w, ttl: 3}\n"
	    "      y: {policy: w, down_ttl: 100}\n      z: {policy: w, ttl: 2147483647, down_ttl: 0}\n",
	    &cfg);
	assert_string_equal(cfg.geoip.database, "/x.mmdb");
	assert_true(cfg.geoip.client_subnet);
	assert_int_equal(cfg.geoip.line, 2);
	assert_int_equal(cfg.datacenter_count, 2);
	assert_string_equal(cfg.datacenters[0].name, "empty");
	assert_false(cfg.datacenters[0].has_location);
	assert_int_equal(cfg.datacenters[0].a_count, 0);
	assert_false(cfg.policies[0].sticky);
	assert_int_equal(cfg.policies[0].targets[0].weight, 1);
	const struct config_record *r = cfg.zones[0].records;
	assert_int_equal(r[0].ttl, 3);
	assert_int_equal(r[0].down_ttl, 3); /* min(ttl, 10) */
	assert_int_equal(r[1].ttl, 30);
	assert_int_equal(r[1].down_ttl, 100); /* given: kept, even above ttl */
	assert_int_equal(r[2].ttl, 2147483647);
	assert_int_equal(r[2].down_ttl, 0);
	config_free(&cfg);

	load_ok("geoip:\n  client_subnet: off\n", &cfg);
	assert_false(cfg.geoip.client_subnet);
	config_free(&cfg);

	/* latency_source: distance by default, the word as given otherwise
	 * (any case), with its line */
	load_ok("policies:\n  d: {latency: [x]}\n  p:\n    latency: [x, y]\n    latency_source: Probes\n"
	        "  t:\n    latency: [x]\n    latency_table: t.txt\n    latency_source: table\n"
	        "  e:\n    latency: [x]\n    latency_source: distance\n    latency_table: t.txt\n",
	        &cfg);
	assert_int_equal(cfg.policy_count, 4);
	assert_int_equal(cfg.policies[0].latency_source, CONFIG_LATENCY_DISTANCE);
	assert_int_equal(cfg.policies[0].latency_source_line, 0);
	assert_null(cfg.policies[0].latency_table);
	assert_int_equal(cfg.policies[1].latency_source, CONFIG_LATENCY_PROBES);
	assert_int_equal(cfg.policies[1].latency_source_line, 5);
	assert_int_equal(cfg.policies[2].latency_source, CONFIG_LATENCY_TABLE);
	assert_non_null(cfg.policies[2].latency_table);
	assert_int_equal(cfg.policies[3].latency_source, CONFIG_LATENCY_DISTANCE);
	assert_non_null(cfg.policies[3].latency_table);
	config_free(&cfg);
}

static void test_geo_key_forms(void **state)
{
	(void)state;
	static const struct {
		const char *written, *stored;
	} cases[] = {
	    {"continent:na", "continent:NA"},
	    {"Country:gb", "country:GB"},
	    {"subdivision:gb-eng", "subdivision:GB-ENG"},
	    {"subdivision:FR-7", "subdivision:FR-7"},
	    {"net:10.0.0.0/8", "net:10.0.0.0/8"},
	    {"net:0.0.0.0/0", "net:0.0.0.0/0"},
	    {"net:192.0.2.1/32", "net:192.0.2.1/32"},
	    {"net:2001:DB8:0:0::/48", "net:2001:db8::/48"},
	    {"net:::/0", "net:::/0"},
	    {"asn:4294967295", "asn:4294967295"},
	    {"asn:0064500", "asn:64500"},
	    {"asn:AS64500", "asn:64500"},
	    {"net:192.0.2.7", "net:192.0.2.7/32"},
	    {"net:2001:db8::7", "net:2001:db8::7/128"},
	    {"DEFAULT", "default"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "policies:\n  p:\n    geo:\n      \"%s\": x\n",
		         cases[i].written);
		struct config cfg;
		load_ok(text, &cfg);
		assert_int_equal(cfg.policies[0].target_count, 1);
		assert_string_equal(cfg.policies[0].targets[0].key, cases[i].stored);
		assert_int_equal(cfg.policies[0].targets[0].line, 4);
		config_free(&cfg);
	}
}

static void test_geo_key_errors(void **state)
{
	(void)state;
	static const struct {
		const char *key, *why;
	} cases[] = {
	    {"continent:E", "want a two-letter continent code (AF, AN, AS, EU, NA, OC, SA)"},
	    {"continent:XX", "unknown continent code (want AF, AN, AS, EU, NA, OC or SA)"},
	    {"country:USA", "want a two-letter ISO 3166-1 country code"},
	    {"country:U1", "want a two-letter ISO 3166-1 country code"},
	    {"country:", "want a two-letter ISO 3166-1 country code"},
	    {"subdivision:US", "want an ISO 3166-2 code: country, '-', 1 to 3 letters or digits (US-CA)"},
	    {"subdivision:US-ABCD",
	     "want an ISO 3166-2 code: country, '-', 1 to 3 letters or digits (US-CA)"},
	    {"subdivision:U1-CA", "want an ISO 3166-2 code: country, '-', 1 to 3 letters or digits (US-CA)"},
	    {"subdivision:US_CA", "want an ISO 3166-2 code: country, '-', 1 to 3 letters or digits (US-CA)"},
	    {"net:10.0.0.1/8", "bits are set past /8 (the network is 10.0.0.0/8)"},
	    {"net:2001:db8::1/64", "bits are set past /64 (the network is 2001:db8::/64)"},
	    {"net:10.0.0.0/33", "prefix length is more than 32"},
	    {"net:::/129", "prefix length is more than 128"},
	    {"net:10.0.0/8", "want net:ADDRESS/LENGTH"},
	    {"net:10.0.0.0/-1", "want net:ADDRESS/LENGTH"},
	    {"net:/8", "want net:ADDRESS/LENGTH"},
	    {"asn:0", "want an AS number 1..4294967295"},
	    {"asn:4294967296", "want an AS number 1..4294967295"},
	    {"asn:AS", "want an AS number 1..4294967295"},
	    {"asn:64500x", "want an AS number 1..4294967295"},
	    {"net:", "want net:ADDRESS/LENGTH"},
	    {"city:Paris", "want continent:XX, country:XX, subdivision:XX-YYY, net:CIDR, asn:N or default"},
	    {"US", "want continent:XX, country:XX, subdivision:XX-YYY, net:CIDR, asn:N or default"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256], msg[512];
		snprintf(text, sizeof(text), "policies:\n  p:\n    geo:\n      default: x\n      \"%s\": y\n",
		         cases[i].key);
		snprintf(msg, sizeof(msg), "bad geo key '%s' in policy p: %s", cases[i].key, cases[i].why);
		expect_error(text, 5, msg);
	}
	/* Keys compare in canonical form. */
	expect_error("policies:\n  p:\n    geo:\n      \"country:US\": x\n      \"country:us\": y\n", 5,
	             "duplicate key 'country:US' in policy p");
	expect_error("policies:\n  p:\n    geo:\n      \"net:10.0.0.0/8\": x\n      \"net:010.0.0.0/8\": y\n",
	             5, "bad geo key 'net:010.0.0.0/8' in policy p: want net:ADDRESS/LENGTH");
	expect_error("policies:\n  p:\n    geo:\n      default: [x]\n", 4,
	             "geo in policy p: want a datacenter or policy name, got a list");
	expect_error("policies:\n  p:\n    geo:\n      ? [a]\n      : x\n", 4,
	             "geo in policy p: keys must be plain strings, got a list");
	expect_error("policies:\n  p:\n    geo: [a, b]\n", 3, "geo in policy p: want a mapping, got a list");
}

static void test_policy_kind_errors(void **state)
{
	(void)state;
	expect_error("policies:\n  p: {}\n", 2,
	             "policy 'p' needs exactly one of geo, failover, latency, weighted, all");
	expect_error("policies:\n  p:\n", 2,
	             "policy 'p' needs exactly one of geo, failover, latency, weighted, all");
	expect_error("policies:\n  p:\n    sticky: true\n", 2,
	             "policy 'p' needs exactly one of geo, failover, latency, weighted, all");
	expect_error("policies:\n  p:\n    failover: [a]\n    all: [b]\n", 4,
	             "policy 'p' needs exactly one of geo, failover, latency, weighted, all");
	expect_error("policies:\n  p:\n    failover: [a]\n    all: [b]\n    geo: {default: c}\n", 4,
	             "policy 'p' needs exactly one of geo, failover, latency, weighted, all");
	expect_error("policies:\n  p: 3\n", 2, "policy p: want a mapping, got a scalar");
	expect_error("policies:\n  p:\n    roundrobin: [a]\n", 3, "unknown key 'roundrobin' in policy p");
	expect_error("policies: [a]\n", 1, "policies: want a mapping of names, got a list");
	expect_error("policies:\n  ? [a]\n  : {all: [x]}\n", 2,
	             "policies: names must be plain strings, got a list");
	expect_error("policies:\n  p: {all: [x]}\n  q: {all: [x]}\n  p: {all: [y]}\n", 4,
	             "duplicate key 'p' in policies");
	expect_error("policies:\n  \"\": {all: [x]}\n", 2, "policies: a name is 1..255 characters");

	/* Options belong to one kind. */
	expect_error("policies:\n  p:\n    failover: [a, b]\n    sticky: true\n", 4,
	             "sticky in policy p: only valid with weighted");
	expect_error("policies:\n  p:\n    weighted: {a: 1}\n    max: 2\n", 4,
	             "max in policy p: only valid with all");
	expect_error("policies:\n  p:\n    geo: {default: a}\n    latency_table: t.txt\n", 4,
	             "latency_table in policy p: only valid with latency");
	expect_error("policies:\n  p:\n    all: [a]\n    sticky: false\n", 4,
	             "sticky in policy p: only valid with weighted");
	expect_error("policies:\n  p:\n    failover: [a]\n    latency_source: probes\n", 4,
	             "latency_source in policy p: only valid with latency");

	/* latency_source: a word of three; `table` needs the table, `probes`
	 * refuses one. */
	expect_error("policies:\n  p:\n    latency: [a]\n    latency_source: rtt\n", 4,
	             "latency_source in policy p: want one of distance probes table, got 'rtt'");
	expect_error("policies:\n  p:\n    latency: [a]\n    latency_source: table\n", 4,
	             "latency_source in policy p: 'table' needs latency_table");
	expect_error("policies:\n  p:\n    latency: [a]\n    latency_table: t.txt\n"
	             "    latency_source: probes\n",
	             5,
	             "latency_source in policy p: 'probes' does not use latency_table "
	             "(remove one, or use 'distance' or 'table')");

	/* Empty target lists. */
	expect_error("policies:\n  p:\n    failover: []\n", 3, "failover in policy p: no targets");
	expect_error("policies:\n  p:\n    latency:\n", 3, "latency in policy p: no targets");
	expect_error("policies:\n  p:\n    geo: {}\n", 3, "geo in policy p: no targets");
	expect_error("policies:\n  p:\n    weighted: {}\n", 3, "weighted in policy p: no targets");
	expect_error("policies:\n  p:\n    all: ~\n", 3, "all in policy p: no targets");

	/* Target lists and weights. */
	expect_error("policies:\n  p:\n    failover: [a, b, a]\n", 3, "duplicate target 'a' in policy p");
	expect_error("policies:\n  p:\n    all: [a, [b]]\n", 3,
	             "all in policy p: want a datacenter or policy name, got a list");
	expect_error("policies:\n  p:\n    latency: a\n", 3,
	             "latency in policy p: want a list of names, got a scalar");
	expect_error("policies:\n  p:\n    failover: [\"\"]\n", 3,
	             "failover in policy p: a name is 1..255 characters");
	expect_error("policies:\n  p:\n    weighted: [a, b]\n", 3,
	             "weighted in policy p: want a mapping, got a list");
	expect_error("policies:\n  p:\n    weighted: {a: 1000001}\n", 3,
	             "weight of 'a' in policy p: want an integer 0..1000000, got '1000001'");
	expect_error("policies:\n  p:\n    weighted: {a: -1}\n", 3,
	             "weight of 'a' in policy p: want an integer 0..1000000, got '-1'");
	expect_error("policies:\n  p:\n    weighted: {a: 0.5}\n", 3,
	             "weight of 'a' in policy p: want an integer 0..1000000, got '0.5'");
	expect_error("policies:\n  p:\n    weighted:\n      a: [1]\n", 4,
	             "weight of 'a' in policy p: want an integer 0..1000000, got a list");
	expect_error("policies:\n  p:\n    weighted:\n      a: 1\n      a: 2\n", 5,
	             "duplicate key 'a' in policy p");
	expect_error("policies:\n  p:\n    weighted: {a: 1}\n    sticky: maybe\n", 4,
	             "sticky in policy p: want true or false, got 'maybe'");
	expect_error("policies:\n  p:\n    all: [a]\n    max: 0\n", 4,
	             "max in policy p: 0 is out of range 1..1000");
	expect_error("policies:\n  p:\n    all: [a]\n    max: 1001\n", 4,
	             "max in policy p: 1001 is out of range 1..1000");

	struct config cfg;
	load_ok("policies:\n  p:\n    weighted: {a: 1000000, b: 0}\n    sticky: false\n", &cfg);
	assert_int_equal(cfg.policies[0].targets[0].weight, 1000000);
	assert_int_equal(cfg.policies[0].targets[1].weight, 0);
	config_free(&cfg);
	load_ok("policies:\n  p:\n    all: [a]\n    max: 1000\n", &cfg);
	assert_int_equal(cfg.policies[0].max, 1000);
	config_free(&cfg);
}

static void test_datacenter_errors(void **state)
{
	(void)state;
	expect_error("datacenters:\n  us-east:\n    a: [192.0.2.1, 192.0.2.300]\n", 3,
	             "bad IPv4 address '192.0.2.300' in datacenter us-east");
	expect_error("datacenters:\n  us-east:\n    a: [\"2001:db8::1\"]\n", 3,
	             "bad IPv4 address '2001:db8::1' in datacenter us-east");
	expect_error("datacenters:\n  us-east:\n    aaaa: [192.0.2.1]\n", 3,
	             "bad IPv6 address '192.0.2.1' in datacenter us-east");
	expect_error("datacenters:\n  d:\n    a: [192.0.2.1, 192.0.2.1]\n", 3,
	             "duplicate IPv4 address '192.0.2.1' in datacenter d");
	expect_error("datacenters:\n  d:\n    aaaa: [\"2001:db8::1\", \"2001:DB8:0::1\"]\n", 3,
	             "duplicate IPv6 address '2001:DB8:0::1' in datacenter d");
	expect_error("datacenters:\n  d:\n    a: []\n", 3, "a in datacenter d: the list is empty");
	expect_error("datacenters:\n  d:\n    a: 192.0.2.1\n", 3,
	             "a in datacenter d: want a list, got a scalar");
	expect_error("datacenters:\n  d:\n    a: [[192.0.2.1]]\n", 3,
	             "a in datacenter d: want a single value in the list, got a list");
	expect_error("datacenters:\n  d:\n    location: [1]\n", 3,
	             "location in datacenter d: want [LATITUDE, LONGITUDE]");
	expect_error("datacenters:\n  d:\n    location: [1, 2, 3]\n", 3,
	             "location in datacenter d: want [LATITUDE, LONGITUDE]");
	expect_error("datacenters:\n  d:\n    location: 1\n", 3,
	             "location in datacenter d: want [LATITUDE, LONGITUDE]");
	expect_error("datacenters:\n  d:\n    location: [north, 2]\n", 3,
	             "location in datacenter d: want [LATITUDE, LONGITUDE] in degrees, got 'north'");
	expect_error("datacenters:\n  d:\n    location: [1, nan]\n", 3,
	             "location in datacenter d: want [LATITUDE, LONGITUDE] in degrees, got 'nan'");
	expect_error("datacenters:\n  d:\n    location: [1, [2]]\n", 3,
	             "location in datacenter d: want [LATITUDE, LONGITUDE] in degrees, got a list");
	expect_error("datacenters:\n  d:\n    location: [90.5, 0]\n", 3,
	             "location in datacenter d: latitude 90.5 is out of range -90..90");
	expect_error("datacenters:\n  d:\n    location: [-91, 0]\n", 3,
	             "location in datacenter d: latitude -91 is out of range -90..90");
	expect_error("datacenters:\n  d:\n    location: [0, 180.1]\n", 3,
	             "location in datacenter d: longitude 180.1 is out of range -180..180");
	expect_error("datacenters:\n  d:\n    location: [0, -181]\n", 3,
	             "location in datacenter d: longitude -181 is out of range -180..180");
	expect_error("datacenters:\n  d:\n    cname: a..b\n", 3,
	             "cname in datacenter d: bad domain name 'a..b'");
	expect_error("datacenters:\n  d:\n    cname: x.example\n    a: [192.0.2.1]\n", 3,
	             "cname in datacenter d: a datacenter with a cname cannot have a or aaaa addresses");
	expect_error("datacenters:\n  d:\n    chekc: web\n", 3, "unknown key 'chekc' in datacenter d");
	expect_error("datacenters:\n  d:\n    jurisdiction: \"\"\n", 3,
	             "jurisdiction in datacenter d: length 0 is out of range 1..64");
	expect_error("datacenters:\n  d: {}\n  e: {}\n  d: {}\n", 4, "duplicate key 'd' in datacenters");
	expect_error("datacenters:\n  d: [a]\n", 2, "datacenter d: want a mapping, got a list");
	expect_error("datacenters: [a]\n", 1, "datacenters: want a mapping of names, got a list");
	expect_error("datacenters:\n  d: {}\npolicies:\n  x: {all: [d]}\n  d: {all: [x]}\n", 5,
	             "policy 'd' has the same name as the datacenter on line 2");

	struct config cfg;
	load_ok("datacenters:\n  edge:\n    location: [-90, 180]\n  \"1\":\n    location: [90, -180.0]\n"
	        "    aaaa: [\"::ffff:192.0.2.1\"]\n",
	        &cfg);
	assert_true(cfg.datacenters[0].latitude == -90 && cfg.datacenters[0].longitude == 180);
	assert_string_equal(cfg.datacenters[1].name, "1"); /* a number is a string key */
	assert_string_equal(cfg.datacenters[1].aaaa[0], "::ffff:192.0.2.1");
	config_free(&cfg);
}

static void test_residency_errors(void **state)
{
	(void)state;
	expect_error("residency:\n  EU:\n    allowed: [\"jurisdiction:EU\"]\n", 2,
	             "residency 'EU' has no 'clients'");
	expect_error("residency:\n  EU:\n    clients: [\"continent:EU\"]\n", 2,
	             "residency 'EU' has no 'allowed'");
	expect_error("residency:\n  EU:\n    clients: [\"continent:EU\"]\n    allowed:\n", 2,
	             "residency 'EU' has no 'allowed'");
	expect_error("residency:\n  EU:\n    clients: []\n    allowed: [\"jurisdiction:EU\"]\n", 3,
	             "clients in residency EU: the list is empty");
	expect_error("residency:\n  EU:\n    clients: [\"continent:EU\"]\n    allowed: []\n", 4,
	             "allowed in residency EU: the list is empty");
	expect_error("residency:\n  EU:\n    clients: [default]\n    allowed: [\"jurisdiction:EU\"]\n", 3,
	             "bad client selector 'default' in residency EU: want continent:XX, country:XX, "
	             "subdivision:XX-YYY, net:CIDR or asn:N");
	expect_error(
	    "residency:\n  EU:\n    clients: [\"net:10.0.0.1/8\"]\n    allowed: [\"jurisdiction:EU\"]\n", 3,
	    "bad client selector 'net:10.0.0.1/8' in residency EU: bits are set past /8 (the network is "
	    "10.0.0.0/8)");
	expect_error("residency:\n  EU:\n    clients: [\"country:DE\"]\n    allowed: [EU]\n", 4,
	             "bad allowed selector 'EU' in residency EU: want jurisdiction:X or datacenter:NAME");
	expect_error(
	    "residency:\n  EU:\n    clients: [\"country:DE\"]\n    allowed: [\"jurisdiction:\"]\n", 4,
	    "bad allowed selector 'jurisdiction:' in residency EU: want jurisdiction:X or datacenter:NAME");
	expect_error(
	    "residency:\n  EU:\n    clients: [\"country:DE\"]\n    allowed: [\"country:DE\"]\n", 4,
	    "bad allowed selector 'country:DE' in residency EU: want jurisdiction:X or datacenter:NAME");
	expect_error("residency:\n  EU:\n    clients: [\"country:DE\", \"country:de\"]\n    allowed: "
	             "[\"jurisdiction:EU\"]\n",
	             3, "duplicate client selector 'country:de' in residency EU");
	expect_error("residency:\n  EU:\n    clients: [\"country:DE\"]\n    allowed: [\"jurisdiction:EU\"]\n "
	             "   deny: []\n",
	             5, "unknown key 'deny' in residency EU");
}

static void test_record_errors(void **state)
{
	(void)state;
	const char *head = "zones:\n  - origin: a.example\n    file: a.zone\n    records:\n";
	char text[512];
#define RECORD_ERROR(body, line, msg)                                                                        \
	do {                                                                                                 \
		snprintf(text, sizeof(text), "%s%s", head, body);                                            \
		expect_error(text, line, msg);                                                               \
	} while (0)
	RECORD_ERROR("      www: {ttl: 5}\n", 5, "record 'www' has no 'policy'");
	RECORD_ERROR("      www:\n", 5, "record 'www' has no 'policy'");
	RECORD_ERROR("      www: {policy: p, ttl: 2147483648}\n", 5,
	             "ttl in record www: 2147483648 is out of range 0..2147483647");
	RECORD_ERROR("      www: {policy: p, down_ttl: -1}\n", 5,
	             "down_ttl in record www: want an integer 0..2147483647, got '-1'");
	RECORD_ERROR("      www: {policy: p, weight: 1}\n", 5, "unknown key 'weight' in record www");
	RECORD_ERROR("      www: {policy: \"\"}\n", 5,
	             "policy in record www: length 0 is out of range 1..255");
	RECORD_ERROR("      www: {policy: p}\n      api: {policy: p}\n      www: {policy: q}\n", 7,
	             "duplicate key 'www' in records");
	RECORD_ERROR("      a..b: {policy: p}\n", 5, "bad record name 'a..b' in records");
	RECORD_ERROR("      www: [p]\n", 5, "record www: want a mapping, got a list");
	RECORD_ERROR("      - www\n", 5, "records: want a mapping of names, got a list");
#undef RECORD_ERROR
	struct config cfg;
	snprintf(text, sizeof(text), "%s%s", head,
	         "      \"*.geo\": {policy: p}\n      \"@\": {policy: p}\n");
	load_ok(text, &cfg);
	assert_int_equal(cfg.zones[0].record_count, 2);
	assert_string_equal(cfg.zones[0].records[0].name, "*.geo");
	assert_string_equal(cfg.zones[0].records[1].name, "@");
	config_free(&cfg);
}

static void test_geoip_errors(void **state)
{
	(void)state;
	expect_error("geoip:\n  client_subnet: 1\n", 2,
	             "client_subnet in geoip: want true or false, got '1'");
	expect_error("geoip:\n  database: [a]\n", 2, "database in geoip: want a single value, got a list");
	expect_error("geoip:\n  city: x\n", 2, "unknown key 'city' in geoip");
	expect_error("geoip: x.mmdb\n", 1, "geoip: want a mapping, got a scalar");
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

/* ---- checks ---- */

static void test_checks(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("checks:\n"
	        "  web:\n"
	        "    type: http\n"
	        "    port: 8080\n"
	        "    path: /healthz\n"
	        "    host: www.shop.example\n"
	        "    expect_status: [200, 204]\n"
	        "    expect_body: \"ok\"\n"
	        "    interval: 10s\n"
	        "    timeout: 2s\n"
	        "    rise: 2\n"
	        "    fall: 3\n"
	        "    max_rtt: 500ms\n"
	        "  db:   { type: tcp, port: 5432, interval: 5s, timeout: 1s, initial: down }\n"
	        "  ns:   { type: DNS, query: \"Health.Shop.Example aaaa\", expect_rcode: nxdomain }\n"
	        "  tls:  { type: https, tls_verify: false, expect_status: 204 }\n"
	        "  q:    { type: dns, query: \"x.example TYPE65\", interval: 1m, timeout: 53999 }\n"
	        "datacenters:\n"
	        "  us-east: { a: [192.0.2.10], check: web }\n"
	        "  eu-central: { a: [192.0.2.20], aaaa: [\"2001:db8::20\"], check: [web, db] }\n"
	        "  plain: { a: [192.0.2.30] }\n",
	        &cfg);
	assert_int_equal(cfg.check_count, 5);
	const struct config_check *web = &cfg.checks[0];
	assert_string_equal(web->name, "web");
	assert_int_equal(web->line, 2);
	assert_int_equal(web->type, CONFIG_CHECK_HTTP);
	assert_int_equal(web->port, 8080);
	assert_string_equal(web->path, "/healthz");
	assert_string_equal(web->host, "www.shop.example");
	assert_int_equal(web->expect_status_count, 2);
	assert_int_equal(web->expect_status[0], 200);
	assert_int_equal(web->expect_status[1], 204);
	assert_string_equal(web->expect_body, "ok");
	assert_int_equal(web->interval_ms, 10000);
	assert_int_equal(web->timeout_ms, 2000);
	assert_int_equal(web->rise, 2);
	assert_int_equal(web->fall, 3);
	assert_int_equal(web->max_rtt_ms, 500);
	assert_true(web->initial_up);

	const struct config_check *db = &cfg.checks[1];
	assert_int_equal(db->type, CONFIG_CHECK_TCP);
	assert_int_equal(db->port, 5432);
	assert_int_equal(db->interval_ms, 5000);
	assert_int_equal(db->timeout_ms, 1000);
	assert_int_equal(db->rise, 2); /* defaults */
	assert_int_equal(db->fall, 3);
	assert_int_equal(db->max_rtt_ms, 0);
	assert_false(db->initial_up);
	assert_null(db->path); /* http keys stay empty on other types */
	assert_int_equal(db->expect_status_count, 0);

	const struct config_check *ns = &cfg.checks[2];
	assert_int_equal(ns->type, CONFIG_CHECK_DNS);
	assert_int_equal(ns->port, 53);
	assert_string_equal(ns->query_name, "health.shop.example.");
	assert_int_equal(ns->query_type, 28);
	assert_int_equal(ns->expect_rcode, 3);
	assert_int_equal(ns->interval_ms, 10000);
	assert_int_equal(ns->timeout_ms, 2000);

	const struct config_check *tls = &cfg.checks[3];
	assert_int_equal(tls->type, CONFIG_CHECK_HTTPS);
	assert_int_equal(tls->port, 443);
	assert_string_equal(tls->path, "/");
	assert_null(tls->host);
	assert_false(tls->tls_verify);
	assert_int_equal(tls->expect_status_count, 1);
	assert_int_equal(tls->expect_status[0], 204);
	assert_true(cfg.checks[0].tls_verify); /* default */
	assert_int_equal(cfg.checks[4].query_type, 65);
	assert_int_equal(cfg.checks[4].expect_rcode, 0);
	assert_int_equal(cfg.checks[4].interval_ms, 60000);

	assert_int_equal(cfg.datacenters[0].check_count, 1);
	assert_string_equal(cfg.datacenters[0].checks[0], "web");
	assert_int_equal(cfg.datacenters[0].check_line, 19);
	assert_int_equal(cfg.datacenters[1].check_count, 2);
	assert_string_equal(cfg.datacenters[1].checks[1], "db");
	assert_int_equal(cfg.datacenters[2].check_count, 0);
	config_free(&cfg);

	/* An http check with nothing but its type gets every default. */
	load_ok("checks:\n  h: {type: http}\n", &cfg);
	assert_int_equal(cfg.checks[0].port, 80);
	assert_string_equal(cfg.checks[0].path, "/");
	assert_int_equal(cfg.checks[0].expect_status[0], 200);
	assert_null(cfg.checks[0].expect_body);
	config_free(&cfg);
}

static void test_check_errors(void **state)
{
	(void)state;
	expect_error("checks:\n  web: {port: 80}\n", 2,
	             "check 'web' has no 'type' (tcp, http, https or dns)");
	expect_error("checks:\n  web:\n    type: gopher\n", 3,
	             "type in check web: want one of tcp http https dns, got 'gopher'");
	expect_error("checks:\n  db: {type: tcp}\n", 2, "check 'db' (type tcp) has no 'port'");
	expect_error("checks:\n  ns: {type: dns}\n", 2, "check 'ns' (type dns) has no 'query'");
	expect_error("checks:\n  ns:\n    type: dns\n    query: health.example\n", 4,
	             "query in check ns: want \"NAME TYPE\" (health.example.com A), got 'health.example'");
	expect_error("checks:\n  ns:\n    type: dns\n    query: health..example A\n", 4,
	             "query in check ns: want \"NAME TYPE\" (health.example.com A), got 'health..example A'");
	expect_error("checks:\n  ns:\n    type: dns\n    query: x.example BOGUS\n", 4,
	             "query in check ns: want \"NAME TYPE\" (health.example.com A), got 'x.example BOGUS'");
	expect_error("checks:\n  ns:\n    type: dns\n    query: x.example TYPE65536\n", 4,
	             "query in check ns: want \"NAME TYPE\" (health.example.com A), got 'x.example TYPE65536'");
	expect_error("checks:\n  ns:\n    type: dns\n    query: x.example A\n    expect_rcode: OK\n", 5,
	             "expect_rcode in check ns: want one of NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED "
	             "YXDOMAIN YXRRSET NXRRSET NOTAUTH NOTZONE, got 'OK'");
	expect_error("checks:\n  db:\n    type: tcp\n    port: 5432\n    path: /x\n", 5,
	             "path in check db: only valid with type http or https, not tcp");
	expect_error("checks:\n  w:\n    type: http\n    query: x A\n", 4,
	             "query in check w: only valid with type dns, not http");
	expect_error("checks:\n  w:\n    type: http\n    tls_verify: false\n", 4,
	             "tls_verify in check w: only valid with type https, not http");
	expect_error("checks:\n  w:\n    type: http\n    path: healthz\n", 4,
	             "path in check w: want an absolute path without spaces, got 'healthz'");
	expect_error("checks:\n  w:\n    type: http\n    host: \"a\\r\\nX: y\"\n", 4,
	             "host in check w: want a host name without spaces, got 'a??X: y'");
	expect_error("checks:\n  w:\n    type: http\n    expect_status: [200, 99]\n", 4,
	             "expect_status in check w: want integers 100..599, got '99'");
	expect_error("checks:\n  w:\n    type: http\n    expect_status: [200, 200]\n", 4,
	             "duplicate expect_status 200 in check w");
	expect_error("checks:\n  w:\n    type: http\n    expect_status: []\n", 4,
	             "expect_status in check w: the list is empty");
	expect_error("checks:\n  w:\n    type: http\n    expect_status: {a: 1}\n", 4,
	             "expect_status in check w: want a list of integers, got a mapping");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    interval: 1s\n    timeout: 1s\n", 6,
	             "timeout in check w: 1000 ms must be below 90% of the interval (1000 ms): rounds start every "
	             "interval ±10%, so a longer timeout would skip some");
	{
		/* Probes a second: 8 datacenters × 64 addresses every 100 ms is
		 * 5,120, past what the serving loop runs; every 110 ms, 4,655. */
		static char text[16384];
		for (int pass = 0; pass < 2; pass++) {
			size_t used = (size_t)snprintf(text, sizeof text,
			                               "checks:\n  w: {type: tcp, port: 1, interval: %s, timeout: 50ms}\n"
			                               "datacenters:\n",
			                               pass ? "110ms" : "100ms");
			for (int d = 0; d < 8; d++) {
				used += (size_t)snprintf(text + used, sizeof text - used, "  dc%d: {check: w, a: [", d);
				for (int a = 0; a < 64; a++)
					used += (size_t)snprintf(text + used, sizeof text - used, "%s192.0.%d.%d", a ? ", " : "",
					                         d, a + 1);
				used += (size_t)snprintf(text + used, sizeof text - used, "]}\n");
			}
			struct config cfg;
			if (pass) {
				load_ok(text, &cfg);
				config_free(&cfg);
			} else {
				expect_error(text, 2,
				             "checks: the datacenters' addresses × checks come to 5120 probes a second, more "
				             "than the 5000 the serving loop can run without delaying TCP answers; lengthen "
				             "the intervals or probe fewer addresses");
			}
		}
	}
	{
		/* Just below the bound is fine; a 1 KiB expect_body too, not a longer one. */
		char text[1400];
		snprintf(text, sizeof text, "checks:\n  w: {type: http, interval: 1s, timeout: 899ms, expect_body: \"%0*d\"}\n",
		         1024, 0);
		struct config cfg;
		load_ok(text, &cfg);
		assert_int_equal(cfg.checks[0].timeout_ms, 899);
		config_free(&cfg);
		snprintf(text, sizeof text, "checks:\n  w: {type: http, expect_body: \"%0*d\"}\n", 1025, 0);
		char err[1024] = "";
		assert_int_equal(load_text(text, &cfg, err, sizeof err), -1);
		assert_non_null(strstr(err, ":2: expect_body in check w: "));
	}
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    interval: 1s\n    timeout: 900ms\n", 6,
	             "timeout in check w: 900 ms must be below 90% of the interval (1000 ms): rounds start every "
	             "interval ±10%, so a longer timeout would skip some");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    interval: 1s\n", 5,
	             "timeout in check w: 2000 ms must be below 90% of the interval (1000 ms): rounds start every "
	             "interval ±10%, so a longer timeout would skip some");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    interval: 10ms\n", 5,
	             "interval in check w: 10 is out of range 100..3600000 ms");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    interval: 10 s\n", 5,
	             "interval in check w: want a duration (1500, \"500ms\", \"10s\", \"2m\"), got '10 s'");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    rise: 0\n", 5,
	             "rise in check w: 0 is out of range 1..1000");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 70000\n", 4,
	             "port in check w: 70000 is out of range 1..65535");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    initial: maybe\n", 5,
	             "initial in check w: want one of down up, got 'maybe'");
	expect_error("checks:\n  w:\n    type: tcp\n    port: 1\n    retries: 3\n", 5,
	             "unknown key 'retries' in check w");
	expect_error("checks:\n  \"a b\": {type: http}\n", 2,
	             "bad check name 'a b' in checks: letters, digits and punctuation only");
	expect_error("checks:\n  w: {type: http}\n  w: {type: http}\n", 3, "duplicate key 'w' in checks");

	/* The datacenter side: names must exist, and there must be something to probe. */
	expect_error("checks:\n  web: {type: http}\ndatacenters:\n  d:\n    a: [192.0.2.1]\n"
	             "    check: [web, wbe]\n",
	             6, "check in datacenter d: no check named 'wbe' in checks:");
	expect_error("datacenters:\n  d:\n    a: [192.0.2.1]\n    check: web\n", 4,
	             "check in datacenter d: no check named 'web' in checks:");
	expect_error("checks:\n  web: {type: http}\ndatacenters:\n  d:\n    cname: x.example\n"
	             "    check: web\n",
	             6,
	             "check in datacenter d: a datacenter without a or aaaa addresses has nothing to probe");
	expect_error("checks:\n  web: {type: http}\ndatacenters:\n  d:\n    a: [192.0.2.1]\n"
	             "    check: [web, web]\n",
	             6, "duplicate check name 'web' in datacenter d");
	expect_error("datacenters:\n  d:\n    a: [192.0.2.1]\n    check: []\n", 4,
	             "check in datacenter d: the list is empty");
	expect_error("datacenters:\n  d:\n    a: [192.0.2.1]\n    check: {web: 1}\n", 4,
	             "check in datacenter d: want a list, got a mapping");

	/* Checks may be written after the datacenters that use them. */
	struct config cfg;
	load_ok("datacenters:\n  d: {a: [192.0.2.1], check: web}\nchecks:\n  web: {type: http}\n", &cfg);
	assert_int_equal(cfg.datacenters[0].check_count, 1);
	config_free(&cfg);
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
	    cmocka_unit_test(test_steering_file),
	    cmocka_unit_test(test_steering_defaults),
	    cmocka_unit_test(test_geo_key_forms),
	    cmocka_unit_test(test_geo_key_errors),
	    cmocka_unit_test(test_policy_kind_errors),
	    cmocka_unit_test(test_datacenter_errors),
	    cmocka_unit_test(test_server_user),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_residency_errors),
	    cmocka_unit_test(test_record_errors),
	    cmocka_unit_test(test_geoip_errors),
	    cmocka_unit_test(test_checks),
	    cmocka_unit_test(test_check_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
