/*
 * fuzz_geoip — libFuzzer target for GeoIP databases: the input is a
 * .mmdb file, written to a temporary folder and loaded with
 * geoip_db_load, which walks the whole search tree and decodes every data
 * record (libmaxminddb reads the file; geoip.c must turn whatever it
 * reports into an error).
 *
 * Checked with abort(): a failed load gives one line starting with the
 * file (fuzz_check_error) and leaves *out NULL.  A database that loads has
 * both trees, its path, at most one distinct location per network, and
 * lookups (a few fixed addresses, IPv4-embedding IPv6 ones among them,
 * and addresses taken from the input's bytes, normalized as the query
 * path does) give NULL or an entry of the location table, a scope no
 * longer than the address, codes of the promised lengths (letters and
 * digits) and coordinates in range.  A database without networks answers
 * nothing.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "geoip.h"

static char *db_path;

/* libmaxminddb before 1.12 loses its metadata data pool when MMDB_open
 * fails in populate_description_metadata (maxmind/libmaxminddb#356; Debian
 * 12 has 1.7.1): 4.6 KiB per refused file, inside the library, with no
 * pointer left for us to free.  Not a finding of ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libmaxminddb.so\n";
}

static const char *const fixed[] = {
    "81.2.69.142",
    "216.160.83.56",
    "89.160.20.112",
    "192.0.2.40",
    "198.51.100.1",
    "0.0.0.0",
    "255.255.255.255",
    "2001:218::1",
    "2a02:d180::1",
    "::ffff:81.2.69.142",
    "2002:5102:458e::1",
    "64:ff9b::5102:458e",
    "::1",
    "2001:db8:300::1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
};

static bool fuzz_code_ok(const char *s, size_t min, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0)
		return true;
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static void fuzz_lookup(const struct geoip_db *db, int family, const uint8_t *addr)
{
	uint8_t norm[16];
	int f = geoip_client_normalize(family, addr, norm);
	if (f != 4 && f != 6)
		abort();
	uint8_t scope = 255;
	const struct geoip_location *loc = geoip_lookup(db, f, norm, &scope);
	if (scope > (f == 4 ? 32 : 128))
		abort();
	if (loc == NULL)
		return;
	if (db->network_count == 0 || loc < db->locations || loc >= db->locations + db->location_count)
		abort();
	if (!fuzz_code_ok(loc->continent, 2, 2) || !fuzz_code_ok(loc->country, 2, 2) ||
	    !fuzz_code_ok(loc->subdivision, 1, 3))
		abort();
	if (loc->has_coordinates &&
	    (loc->latitude < -90 || loc->latitude > 90 || loc->longitude < -180 || loc->longitude > 180))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (db_path == NULL)
		db_path = strdup(fuzz_tmp_path("fuzz.mmdb"));
	fuzz_write_file(db_path, data, size);

	struct geoip_db *db = (struct geoip_db *)1; /* must be set to NULL on failure */
	char err[1024] = "";
	if (geoip_db_load(db_path, &db, err, sizeof err) != 0) {
		if (db != NULL)
			abort();
		fuzz_check_error(err);
		return 0;
	}
	if (db == NULL || db->v4 == NULL || db->v6 == NULL || db->path == NULL ||
	    strcmp(db->path, db_path) != 0)
		abort();
	if (db->location_count > db->network_count || (db->location_count && db->locations == NULL) ||
	    memchr(db->database_type, '\0', sizeof db->database_type) == NULL)
		abort();

	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		uint8_t addr[16];
		int family = strchr(fixed[i], ':') ? 6 : 4;
		if (inet_pton(family == 4 ? AF_INET : AF_INET6, fixed[i], addr) != 1)
			abort();
		fuzz_lookup(db, family, addr);
	}
	/* Addresses from the input: its last 16 bytes and 4 bytes from the middle. */
	if (size >= 16) {
		fuzz_lookup(db, 6, data + size - 16);
		fuzz_lookup(db, 4, data + size / 2 - 2);
	}
	geoip_db_free(db);
	return 0;
}
