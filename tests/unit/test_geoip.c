/*
 * Tests for geoip: loading databases built from the text files in tests/unit/geo by
 * tools/mkgeodb (into $GEOSTEER_FIXTURES, default build/fixtures), every
 * field, scopes, IPv4-embedding IPv6 forms, broken files, and a cross-check
 * against libmaxminddb's own lookup over many addresses, which is the
 * reference for both the location and the network (scope) of an address.
 * MaxMind's published test databases are used too when ../shared/geoip
 * exists; those tests are skipped with a message otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include "geoip.h"
#include "prefix.h"

static char fixture_buf[4096];

static const char *fixture(const char *name)
{
	const char *dir = getenv("GEOSTEER_FIXTURES");
	snprintf(fixture_buf, sizeof(fixture_buf), "%s/%s", dir && *dir ? dir : "build/fixtures", name);
	return fixture_buf;
}

static char shared_buf[4096];

/* A MaxMind test database from ../shared/geoip, or NULL (test skipped). */
static const char *shared(const char *name)
{
	snprintf(shared_buf, sizeof(shared_buf), "../shared/geoip/%s", name);
	if (access(shared_buf, R_OK) != 0) {
		printf("skipped: %s not present (MaxMind test databases live outside the repo)\n",
		       shared_buf);
		return NULL;
	}
	return shared_buf;
}

static struct geoip_db *load(const char *path)
{
	struct geoip_db *db = NULL;
	char err[512] = "";
	if (geoip_db_load(path, &db, err, sizeof(err)) != 0)
		fail_msg("loading %s: %s (build fixtures with tools/mkgeodb)", path, err);
	assert_non_null(db);
	return db;
}

/* Normalizes text, looks it up, checks scope. */
static const struct geoip_location *lookup(const struct geoip_db *db, const char *text, unsigned want_scope)
{
	uint8_t raw[16], norm[16], scope = 255;
	int family = strchr(text, ':') ? 6 : 4;
	assert_int_equal(inet_pton(family == 6 ? AF_INET6 : AF_INET, text, raw), 1);
	family = geoip_client_normalize(family, raw, norm);
	const struct geoip_location *loc = geoip_lookup(db, family, norm, &scope);
	if (want_scope != 255 && scope != want_scope)
		fail_msg("%s: scope %u, want %u", text, scope, want_scope);
	return loc;
}

static void expect_place(const struct geoip_db *db, const char *text, const char *continent,
                         const char *country, const char *subdivision, unsigned scope)
{
	const struct geoip_location *loc = lookup(db, text, scope);
	if (!loc)
		fail_msg("%s: no location", text);
	assert_string_equal(loc->continent, continent);
	assert_string_equal(loc->country, country);
	assert_string_equal(loc->subdivision, subdivision);
}

/* --- the mkgeodb fixture ------------------------------------------------ */

static void test_city_fixture_metadata(void **state)
{
	(void)state;
	struct geoip_db *db = load(fixture("city.mmdb"));
	assert_string_equal(db->database_type, "GeoSteer-Test-City");
	assert_string_equal(db->path, fixture("city.mmdb"));
	/* 10 IPv4 networks (198.51.100.0/24 minus its /25 is one /25) and 18
	 * IPv6 ones (2001:db8::/32 minus a /48 is 16 networks, plus the /48
	 * and 2400:cb00::/32): the aliases of IPv4 are not counted again. */
	assert_int_equal(db->network_count, 28);
	assert_int_equal(db->location_count, 13); /* one per distinct line */
	geoip_db_free(db);
}

static void test_city_fixture_v4(void **state)
{
	(void)state;
	struct geoip_db *db = load(fixture("city.mmdb"));
	const struct geoip_location *loc = lookup(db, "198.51.100.1", 25);
	assert_non_null(loc);
	assert_string_equal(loc->continent, "NA");
	assert_string_equal(loc->country, "US");
	assert_string_equal(loc->subdivision, "CA");
	assert_true(loc->has_coordinates);
	assert_true(loc->latitude == 37.4);
	assert_true(loc->longitude == -122.1);
	assert_int_equal(loc->asn, 64500);

	loc = lookup(db, "198.51.100.200", 25);
	assert_non_null(loc);
	assert_string_equal(loc->subdivision, "WA");
	assert_true(loc->latitude == 47.6062 && loc->longitude == -122.3321);
	assert_int_equal(loc->asn, 64501);

	expect_place(db, "203.0.113.9", "AS", "SG", "", 24);
	expect_place(db, "192.0.2.1", "EU", "DE", "HE", 26);
	expect_place(db, "192.0.2.127", "EU", "FR", "", 26);
	expect_place(db, "10.200.1.1", "EU", "GB", "ENG", 8);

	loc = lookup(db, "100.64.0.1", 10);
	assert_non_null(loc);
	assert_string_equal(loc->continent, "");
	assert_string_equal(loc->country, "NZ");
	assert_false(loc->has_coordinates);
	assert_int_equal(loc->asn, 0);

	loc = lookup(db, "100.200.0.1", 9);
	assert_non_null(loc);
	assert_string_equal(loc->country, "");
	assert_int_equal(loc->asn, 65001);

	expect_place(db, "172.20.0.1", "EU", "NL", "", 12); /* registered_country */
	expect_place(db, "172.40.0.1", "EU", "BE", "", 12);

	/* No entry: NULL, and the scope of the empty region around it. */
	assert_null(lookup(db, "192.0.2.128", 25));
	assert_null(lookup(db, "11.0.0.1", 8));
	assert_null(lookup(db, "8.8.8.8", 255));
	geoip_db_free(db);
}

static void test_city_fixture_v6(void **state)
{
	(void)state;
	struct geoip_db *db = load(fixture("city.mmdb"));
	const struct geoip_location *loc = lookup(db, "2001:db8:1::5", 48);
	assert_non_null(loc);
	assert_string_equal(loc->country, "IE");
	assert_string_equal(loc->subdivision, "L");
	assert_true(loc->latitude == 53.35 && loc->longitude == -6.26);
	expect_place(db, "2001:db8:ffff::1", "AS", "JP", "", 33);
	expect_place(db, "2001:db8::1", "AS", "JP", "", 48); /* 2001:db8::/48, sibling of :1::/48 */
	expect_place(db, "2001:db8:2::", "AS", "JP", "", 47);
	expect_place(db, "2400:cb00:1234::1", "OC", "AU", "", 32);
	assert_null(lookup(db, "2001:db9::1", 32));
	assert_null(lookup(db, "3000::1", 255));
	/* Ranges that are answered as IPv4 stay apart from their IPv6
	 * neighbours, even where the database says nothing (NAT64). */
	assert_null(lookup(db, "64:ff9b:1::1", 48));
	assert_null(lookup(db, "2003::1", 16));
	assert_null(lookup(db, "::1:0:0:0:1", 64));
	assert_null(lookup(db, "::1:0:0:1", 80));
	/* :: and ::1 stay IPv6, where the IPv4 range is left out. */
	assert_null(lookup(db, "::1", 255));
	assert_null(lookup(db, "::", 255));
	geoip_db_free(db);
}

static void test_ipv4_embedding_forms(void **state)
{
	(void)state;
	struct geoip_db *db = load(fixture("city.mmdb"));
	const char *forms[] = {
	    "198.51.100.1",           /* plain */
	    "::ffff:198.51.100.1",    /* IPv4-mapped */
	    "::198.51.100.1",         /* IPv4-compatible */
	    "2002:c633:6401::",       /* 6to4 */
	    "2002:c633:6401:1234::5", /* 6to4, host part ignored */
	    "64:ff9b::198.51.100.1",  /* NAT64 well-known prefix */
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const struct geoip_location *loc = lookup(db, forms[i], 25); /* scope in IPv4 bits */
		if (!loc || strcmp(loc->subdivision, "CA") != 0)
			fail_msg("%s does not geolocate as 198.51.100.1", forms[i]);
	}
	/* Teredo (2001::/32) embeds the relay's address, not the client's: it
	 * stays IPv6, and the database's alias of it to IPv4 is not used. */
	assert_null(lookup(db, "2001:0:c633:6401::1", 255));
	geoip_db_free(db);
}

static void test_normalize(void **state)
{
	(void)state;
	uint8_t a[16], out[16];
	inet_pton(AF_INET6, "::ffff:192.0.2.33", a);
	assert_int_equal(geoip_client_normalize(6, a, out), 4);
	assert_memory_equal(out, "\xc0\x00\x02\x21", 4);
	inet_pton(AF_INET6, "2002:c000:0221::1", a);
	assert_int_equal(geoip_client_normalize(6, a, out), 4);
	assert_memory_equal(out, "\xc0\x00\x02\x21", 4);
	inet_pton(AF_INET6, "64:ff9b::c000:221", a);
	assert_int_equal(geoip_client_normalize(6, a, out), 4);
	assert_memory_equal(out, "\xc0\x00\x02\x21", 4);
	inet_pton(AF_INET6, "::2", a);
	assert_int_equal(geoip_client_normalize(6, a, out), 4);
	assert_memory_equal(out, "\x00\x00\x00\x02", 4);
	const char *stay[] = {"::",     "::1", "2001:db8::1", "64:ff9b:1::c000:221", "::fffe:c000:221",
	                      "2003::1"};
	for (size_t i = 0; i < sizeof(stay) / sizeof(stay[0]); i++) {
		inet_pton(AF_INET6, stay[i], a);
		memset(out, 0xee, sizeof(out));
		if (geoip_client_normalize(6, a, out) != 6 || memcmp(out, a, 16) != 0)
			fail_msg("%s must stay IPv6", stay[i]);
	}
	inet_pton(AF_INET, "192.0.2.1", a);
	assert_int_equal(geoip_client_normalize(4, a, out), 4);
	assert_memory_equal(out, a, 4);
	assert_int_equal(geoip_client_normalize(99, a, out), 0);

	struct geoip_db *db = load(fixture("city.mmdb"));
	uint8_t scope = 7;
	assert_null(geoip_lookup(db, 0, a, &scope));
	assert_int_equal(scope, 0);
	assert_null(geoip_lookup(NULL, 4, a, &scope));
	geoip_db_free(db);
}

/* --- cross-check against libmaxminddb ----------------------------------- */

static uint64_t rng_state = 12345;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static bool same_bits(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	for (unsigned i = 0; i < bits; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80u >> (i % 8)))
			return false;
	return true;
}

static void mmdb_code(MMDB_entry_s *e, char *out, size_t max, ...)
{
	va_list ap;
	va_start(ap, max);
	MMDB_entry_data_s d;
	out[0] = '\0';
	if (MMDB_vget_value(e, &d, ap) == MMDB_SUCCESS && d.has_data &&
	    d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size <= max) {
		memcpy(out, d.utf8_string, d.data_size);
		out[d.data_size] = '\0';
	}
	va_end(ap);
}

/*
 * Looks up `count` addresses both ways: random ones and ones next to the
 * `near` addresses.  Location fields must agree; the scope must equal the
 * database network's length when `exact_scope` (no two neighbouring
 * networks share a location), and never exceed it.
 */
static void cross_check(const char *path, bool exact_scope, const char *const *near, size_t near_count,
                        unsigned count)
{
	MMDB_s mmdb;
	assert_int_equal(MMDB_open(path, MMDB_MODE_MMAP, &mmdb), MMDB_SUCCESS);
	struct geoip_db *db = load(path);
	unsigned found = 0;
	for (unsigned i = 0; i < count; i++) {
		uint8_t raw[16] = {0}, norm[16];
		int family = (i % 3 == 0) ? 6 : 4;
		if (near_count && i % 2) {
			const char *n = near[rng() % near_count];
			family = strchr(n, ':') ? 6 : 4;
			inet_pton(family == 6 ? AF_INET6 : AF_INET, n, raw);
			/* Randomize up to the lower half of the bits. */
			unsigned bits = family == 6 ? 128 : 32;
			unsigned low = (unsigned)(rng() % (bits / 2 + 1));
			for (unsigned b = bits - low; b < bits; b++)
				if (rng() & 1)
					raw[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
		} else {
			for (unsigned j = 0; j < 16; j++)
				raw[j] = (uint8_t)rng();
			if (family == 6)
				raw[0] =
				    (uint8_t)(0x20 | (raw[0] & 0x1f)); /* global unicast, where data is */
		}
		family = geoip_client_normalize(family, raw, norm);
		if (mmdb.metadata.ip_version == 4 && family == 6)
			continue;
		/* Teredo (2001::/32): the database answers for the relay's IPv4
		 * address, we deliberately answer nothing. */
		if (family == 6 && norm[0] == 0x20 && norm[1] == 0x01 && norm[2] == 0 && norm[3] == 0)
			continue;

		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		if (family == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, norm, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, norm, 16);
		}
		int mmerr;
		MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb, (struct sockaddr *)&ss, &mmerr);
		assert_int_equal(mmerr, MMDB_SUCCESS);
		unsigned netmask = r.netmask;
		if (family == 4 && mmdb.metadata.ip_version == 6)
			netmask -= 96;

		uint8_t scope = 255;
		const struct geoip_location *loc = geoip_lookup(db, family, norm, &scope);
		char text[64];
		inet_ntop(family == 4 ? AF_INET : AF_INET6, norm, text, sizeof(text));
		if (!r.found_entry) {
			if (loc)
				fail_msg("%s: we found %s, libmaxminddb nothing", text, loc->country);
		} else {
			found++;
			if (!loc)
				fail_msg("%s: libmaxminddb has an entry, we have none", text);
			char continent[8], country[8], sub[8];
			mmdb_code(&r.entry, continent, 2, "continent", "code", NULL);
			mmdb_code(&r.entry, country, 2, "country", "iso_code", NULL);
			if (!country[0])
				mmdb_code(&r.entry, country, 2, "registered_country", "iso_code", NULL);
			mmdb_code(&r.entry, sub, 3, "subdivisions", "0", "iso_code", NULL);
			if (strcmp(continent, loc->continent) || strcmp(country, loc->country) ||
			    strcmp(sub, loc->subdivision))
				fail_msg("%s: %s/%s/%s, libmaxminddb %s/%s/%s", text, loc->continent,
				         loc->country, loc->subdivision, continent, country, sub);
			MMDB_entry_data_s d;
			if (MMDB_get_value(&r.entry, &d, "location", "latitude", NULL) == MMDB_SUCCESS &&
			    d.has_data) {
				assert_true(loc->has_coordinates);
				assert_true(loc->latitude == d.double_value);
			}
			if (MMDB_get_value(&r.entry, &d, "autonomous_system_number", NULL) == MMDB_SUCCESS &&
			    d.has_data)
				assert_int_equal(loc->asn, d.uint32);
		}
		/* The database knows nothing of NAT64, we answer 64:ff9b::/96
		 * as IPv4: around it our networks are narrower than its. */
		static const uint8_t nat64[16] = {0x00, 0x64, 0xff, 0x9b};
		if (family == 6 && netmask <= 96 && same_bits(norm, nat64, netmask))
			continue;
		if (scope > netmask || (exact_scope && scope != netmask))
			fail_msg("%s: scope %u, database network /%u", text, scope, netmask);
	}
	/* The addresses must actually have exercised the data. */
	assert_true(found > count / 10);
	geoip_db_free(db);
	MMDB_close(&mmdb);
}

static const char *const city_near[] = {
    "198.51.100.1",
    "198.51.100.200",
    "203.0.113.9",
    "192.0.2.1",
    "192.0.2.100",
    "10.0.0.0",
    "100.64.0.1",
    "100.200.0.1",
    "2001:db8::",
    "2001:db8:1::1",
    "2400:cb00::",
    "172.20.0.1",
    "172.40.0.1",
    /* Next to IPv6 ranges that alias IPv4, which the scope of a neighbour
     * must not reach over (Teredo stays IPv6 but is aliased in the file). */
    "2001:1::1",
    "2003::1",
    "::1:0:0:1",
    "::1:0:0:0:1",
    "64:ff9b:1::1",
};

static void test_city_fixture_against_libmaxminddb(void **state)
{
	(void)state;
	cross_check(fixture("city.mmdb"), true, city_near, sizeof(city_near) / sizeof(city_near[0]), 20000);
}

/* A bigger database (tools/mkgeodb --synthetic), where neighbouring
 * networks may share a location and so the scope may be wider than one
 * database network. */
static void test_synthetic_against_libmaxminddb(void **state)
{
	(void)state;
	const char *path = fixture("synthetic.mmdb");
	if (access(path, R_OK) != 0) {
		printf("skipped: %s not built (tools/mkgeodb --synthetic 20000 %s 7)\n", path, path);
		skip();
	}
	static const char *const near[] = {"1.0.0.0", "1.64.0.0",      "1.128.0.0", "1.192.0.0",
	                                   "2400::",  "2400:0:8000::", "2400:1::",  "2400:2::"};
	cross_check(path, false, near, sizeof(near) / sizeof(near[0]), 30000);
	struct geoip_db *db = load(path);
	assert_true(db->network_count > 19000 && db->network_count <= 20000);
	assert_true(db->location_count <= 300);
	geoip_db_free(db);
}

/* --- broken files ------------------------------------------------------- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/geosteer-test-geoip.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void expect_rejected(const char *path, const char *why)
{
	struct geoip_db *db = (struct geoip_db *)1;
	char err[512] = "";
	assert_int_equal(geoip_db_load(path, &db, err, sizeof(err)), -1);
	assert_null(db);
	/* "PATH: why" */
	size_t n = strlen(path);
	if (strncmp(err, path, n) != 0 || strncmp(err + n, ": ", 2) != 0 || strlen(err) < n + 6)
		fail_msg("bad message for %s: \"%s\"", path, err);
	if (why && !strstr(err, why))
		fail_msg("message for %s does not say \"%s\": \"%s\"", path, why, err);
	printf("rejected as expected: %s\n", err);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_broken_files(void **state)
{
	(void)state;
	char path[256];

	snprintf(path, sizeof(path), "%s/missing.mmdb", tmpdir);
	expect_rejected(path, "No such file");

	snprintf(path, sizeof(path), "%s/empty.mmdb", tmpdir);
	write_file(path, "", 0);
	expect_rejected(path, "empty file, not a MaxMind database"); /* not libmaxminddb's mmap error */

	snprintf(path, sizeof(path), "%s/text.mmdb", tmpdir);
	const char *text = "198.51.100.0/24 country=US\nthis is not a database\n";
	write_file(path, text, strlen(text));
	expect_rejected(path, NULL);

	/* A directory, a character device, a FIFO (whose open would block): named as such. */
	expect_rejected(tmpdir, "not a regular file: a directory");
	expect_rejected("/dev/zero", "not a regular file: a character device");
	snprintf(path, sizeof(path), "%s/fifo.mmdb", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_rejected(path, "not a regular file: a FIFO");
	unlink(path);

	/* Truncated copies of a good database: cut in the data section, in the
	 * search tree, and just before the metadata marker. */
	FILE *f = fopen(fixture("city.mmdb"), "rb");
	assert_non_null(f);
	static uint8_t buf[1 << 20];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(len > 200);
	size_t cuts[] = {len / 2, 100, len - 60};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		snprintf(path, sizeof(path), "%s/truncated-%zu.mmdb", tmpdir, i);
		write_file(path, buf, cuts[i]);
		expect_rejected(path, NULL);
	}

	/* Garbage in the search tree of an intact file: whatever it decodes
	 * to, loading must finish without crashing (either way). */
	for (unsigned seed = 1; seed <= 40; seed++) {
		static uint8_t copy[1 << 20];
		memcpy(copy, buf, len);
		rng_state = seed;
		for (unsigned k = 0; k < 8; k++)
			copy[rng() % (len / 2)] = (uint8_t)rng();
		snprintf(path, sizeof(path), "%s/garbled.mmdb", tmpdir);
		write_file(path, copy, len);
		struct geoip_db *db = NULL;
		char err[512] = "";
		if (geoip_db_load(path, &db, err, sizeof(err)) == 0)
			geoip_db_free(db);
		else
			assert_true(strncmp(err, path, strlen(path)) == 0);
	}

	/* No err buffer: still fails cleanly. */
	struct geoip_db *db = NULL;
	assert_int_equal(geoip_db_load("/nonexistent/x.mmdb", &db, NULL, 0), -1);
	assert_null(db);
}

/* mkgeodb names each bad line of its input (run from the repo root, as
 * make does; skipped elsewhere). */
static void test_mkgeodb_reports_bad_lines(void **state)
{
	(void)state;
	if (access("tools/mkgeodb", X_OK) != 0 || access("tests/unit/geo/bad-lines.input", R_OK) != 0) {
		printf("skipped: not run from the repository root\n");
		skip();
	}
	char cmd[512], out[256];
	snprintf(out, sizeof(out), "%s/bad.mmdb", tmpdir);
	snprintf(cmd, sizeof(cmd), "tools/mkgeodb tests/unit/geo/bad-lines.input %s 2>&1", out);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	static char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	int status = pclose(p);
	assert_true(status != 0);
	assert_int_not_equal(access(out, F_OK), 0); /* nothing written */
	for (unsigned line = 3; line <= 9; line++) {
		char want[64];
		snprintf(want, sizeof(want), "tests/unit/geo/bad-lines.input:%u: ", line);
		if (!strstr(text, want))
			fail_msg("no error for line %u in:\n%s", line, text);
	}
	assert_null(strstr(text, "bad-lines.input:10:"));
	assert_non_null(strstr(text, "country=USA"));
	assert_non_null(strstr(text, "unknown key 'colour'"));
}

/* --- MaxMind's published test databases ---------------------------------- */

static void test_maxmind_city(void **state)
{
	(void)state;
	const char *path = shared("GeoLite2-City-Test.mmdb");
	if (!path)
		skip();
	struct geoip_db *db = load(path);
	assert_string_equal(db->database_type, "GeoLite2-City");
	expect_place(db, "81.2.69.142", "EU", "GB", "ENG", 255);
	expect_place(db, "216.160.83.56", "NA", "US", "WA", 255);
	expect_place(db, "2001:218::1", "AS", "JP", "", 255);
	expect_place(db, "175.16.199.1", "AS", "CN", "22", 255);
	expect_place(db, "::ffff:81.2.69.142", "EU", "GB", "ENG", 255);
	const struct geoip_location *loc = lookup(db, "81.2.69.142", 255);
	assert_true(loc->has_coordinates);
	assert_true(loc->latitude > 51 && loc->latitude < 52);
	geoip_db_free(db);

	static const char *const near[] = {"81.2.69.142",   "216.160.83.56", "2001:218::1", "175.16.199.1",
	                                   "89.160.20.112", "202.196.224.1", "67.43.156.1", "2a02:d180::1"};
	cross_check(path, false, near, sizeof(near) / sizeof(near[0]), 20000);

	const char *country = shared("GeoLite2-Country-Test.mmdb");
	if (country) {
		db = load(country);
		expect_place(db, "81.2.69.142", "EU", "GB", "", 255);
		geoip_db_free(db);
		cross_check(country, false, near, sizeof(near) / sizeof(near[0]), 5000);
	}
}

static void test_maxmind_asn(void **state)
{
	(void)state;
	const char *path = shared("GeoLite2-ASN-Test.mmdb");
	if (!path)
		skip();
	struct geoip_db *db = load(path);
	assert_int_equal(lookup(db, "1.128.0.1", 255)->asn, 1221);
	assert_int_equal(lookup(db, "12.81.92.1", 255)->asn, 7018);
	assert_int_equal(lookup(db, "2600:6000::1", 255)->asn, 237);
	assert_string_equal(lookup(db, "1.128.0.1", 255)->country, "");
	geoip_db_free(db);
	static const char *const near[] = {"1.128.0.1", "12.81.92.1", "2600:6000::1"};
	cross_check(path, false, near, sizeof(near) / sizeof(near[0]), 5000);
}

static void test_maxmind_broken(void **state)
{
	(void)state;
	const char *names[] = {"GeoIP2-City-Test-Broken-Double-Format.mmdb",
	                       "GeoIP2-City-Test-Invalid-Node-Count.mmdb"};
	bool any = false;
	for (size_t i = 0; i < 2; i++) {
		const char *path = shared(names[i]);
		if (!path)
			continue;
		any = true;
		expect_rejected(path, NULL);
	}
	if (!any)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_city_fixture_metadata),
	    cmocka_unit_test(test_city_fixture_v4),
	    cmocka_unit_test(test_city_fixture_v6),
	    cmocka_unit_test(test_ipv4_embedding_forms),
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_city_fixture_against_libmaxminddb),
	    cmocka_unit_test(test_synthetic_against_libmaxminddb),
	    cmocka_unit_test_setup_teardown(test_broken_files, make_tmpdir, remove_tmpdir),
	    cmocka_unit_test_setup_teardown(test_mkgeodb_reports_bad_lines, make_tmpdir, remove_tmpdir),
	    cmocka_unit_test(test_maxmind_city),
	    cmocka_unit_test(test_maxmind_asn),
	    cmocka_unit_test(test_maxmind_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
