/*
 * geoip — a MaxMind database (City, Country or ASN format, read with
 * libmaxminddb) compiled at load time into prefix trees and a table of
 * distinct locations, so the query path never walks the database.
 *
 * Loading walks every network of the database's search tree once
 * (MMDB_read_node), reads the fields steering uses from each data record,
 * interns identical locations, and builds one prefix tree for IPv4 and one
 * for IPv6.  The IPv6 tree leaves out the ranges where MaxMind's IPv6
 * databases alias the IPv4 tree (::/96, ::ffff:0:0/96, 2002::/16): queries
 * from IPv4-embedding IPv6 addresses are turned into their IPv4 address
 * first (geoip_client_normalize), so they geolocate as IPv4.
 */
#ifndef GEOSTEER_GEOIP_H
#define GEOSTEER_GEOIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct geoip_location {
	char continent[3];   /* "EU", "" when unknown */
	char country[3];     /* ISO 3166-1 alpha-2, "" when unknown */
	char subdivision[4]; /* ISO 3166-2 part after the dash ("CA" of US-CA), "" when unknown */
	bool has_coordinates;
	double latitude;
	double longitude;
	uint32_t asn; /* 0 when unknown (ASN databases) */
};

struct geoip_db {
	char *path;
	struct prefix_tree *v4;
	struct prefix_tree *v6;
	struct geoip_location *locations; /* indexed by the trees' values */
	size_t location_count;
	size_t network_count;
	char database_type[64]; /* metadata database_type, e.g. "GeoLite2-City" */
};

/* Loads and compiles a database.  -1 with "PATH: why" in err for a missing,
 * unreadable, corrupt or unsupported file; nothing is left allocated then. */
int geoip_db_load(const char *path, struct geoip_db **out, char *err, size_t errlen);

void geoip_db_free(struct geoip_db *db);

/*
 * Turns a client address into the form to look up: family 4 with 4 bytes,
 * or 6 with 16.  IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96 except
 * :: and ::1), 6to4 (2002::/16, bits 16-47) and NAT64 (64:ff9b::/96) IPv6
 * addresses become their IPv4 address.  out must hold 16 bytes.  Returns
 * the resulting family.
 */
int geoip_client_normalize(int family, const uint8_t *addr, uint8_t *out);

/*
 * Adds the IPv6 ranges geoip_client_normalize turns into IPv4 to a builder
 * of an IPv6 tree keyed by client address, with a value of their own.  Any
 * tree a normalized client is looked up in needs them: left out, the scope
 * of a wider IPv6 prefix (a rule for 2000::/3) would reach over 2002::/16,
 * whose clients are looked up, and answered, by their IPv4 address, and a
 * resolver caching by scope would hand them the wrong answer.  Lookups
 * landing on value treat it as no match.  -1 when out of memory.
 */
struct prefix_builder;
int geoip_add_ipv4_ranges(struct prefix_builder *v6, uint32_t value);

/* The location of addr (normalized form) or NULL when the database has no
 * entry; *scope gets the prefix length over which the answer is constant
 * (in the address family's own bits). */
const struct geoip_location *geoip_lookup(const struct geoip_db *db, int family, const uint8_t *addr,
					  uint8_t *scope);

#endif
