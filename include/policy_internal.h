/*
 * policy_internal — the compiled layout of a policy set, shared by the
 * files of the policy module only (policy.c builds it, policy_eval.c walks
 * it per query, residency.c compiles fences and proves them).  Nothing
 * outside src/policy*.c and src/residency.c may include this header: the
 * module's contract is policy.h.
 *
 * Shape: datacenters are indexed 0..63 (bit i of every mask is datacenter
 * i).  Policy nodes live in one array; a target is a reference to either a
 * datacenter or a node, carrying the mask of datacenters reachable through
 * it, so "is this subtree healthy" is one AND with the up mask.  Geo keys
 * are packed into integers (continent and country codes as 2 bytes,
 * subdivisions as 5 bytes, ASNs as 4) and `net:` keys into prefix trees
 * whose value is the branch (target) index.
 */
#ifndef GEOSTEER_POLICY_INTERNAL_H
#define GEOSTEER_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "geoip.h"
#include "policy.h"
#include "prefix.h"

/* Value of the IPv4-embedding ranges in the IPv6 net: and latency-table
 * trees (geoip_add_ipv4_ranges); never a branch or a row. */
#define POLICY_NET_IPV4_RANGE (PREFIX_NO_VALUE - 1)

/* ---- geo keys (policy `geo:` keys and residency `clients:` terms) ---- */

enum policy_key_kind {
	POLICY_KEY_DEFAULT,
	POLICY_KEY_CONTINENT,
	POLICY_KEY_COUNTRY,
	POLICY_KEY_SUBDIVISION,
	POLICY_KEY_NET,
	POLICY_KEY_ASN,
};

struct policy_key {
	enum policy_key_kind kind;
	uint16_t continent;   /* CONTINENT */
	uint16_t country;     /* COUNTRY, SUBDIVISION */
	uint64_t subdivision; /* SUBDIVISION: policy_code_subdivision() */
	uint32_t asn;         /* ASN */
	int family;           /* NET: 4 or 6 (a ::ffff:a.b.c.d/96+n rule becomes 4) */
	uint8_t addr[16];     /* NET: bits past plen zero */
	uint8_t plen;
};

/* Parses "continent:EU", "country:us", "subdivision:US-CA", "net:CIDR",
 * "asn:N" or "default" (only when allow_default).  -1 on a bad key, with
 * the reason in why. */
int policy_key_parse(const char *text, bool allow_default, struct policy_key *out, const char **why);

/* Two ASCII letters as one integer (upper-cased); 0 for "" or bad input. */
static inline uint16_t policy_code2(const char *s)
{
	if (!s[0] || !s[1])
		return 0;
	unsigned a = (unsigned char)s[0], b = (unsigned char)s[1];
	if (a >= 'a' && a <= 'z')
		a -= 32;
	if (b >= 'a' && b <= 'z')
		b -= 32;
	return (uint16_t)(a << 8 | b);
}

/* A subdivision as country (2 bytes) and code (up to 3 bytes), upper-cased. */
static inline uint64_t policy_code_subdivision(uint16_t country, const char *sub)
{
	uint64_t v = (uint64_t)country << 24;
	for (int i = 0; i < 3 && sub[i]; i++) {
		unsigned c = (unsigned char)sub[i];
		if (c >= 'a' && c <= 'z')
			c -= 32;
		v |= (uint64_t)c << (16 - 8 * i);
	}
	return v;
}

struct policy_code16 {
	uint16_t code;
	uint16_t branch;
};
struct policy_code32 {
	uint32_t code;
	uint16_t branch;
};
struct policy_code64 {
	uint64_t code;
	uint16_t branch;
};

/* The location fields a key set matches on, compiled for speed.  Used by
 * geo nodes (branch = target index) and fences (branch unused). */
struct policy_matcher {
	struct prefix_tree *net[2]; /* [0] IPv4, [1] IPv6; value = branch */
	struct policy_code32 *asns;
	struct policy_code64 *subdivisions;
	struct policy_code16 *countries;
	struct policy_code16 *continents;
	uint16_t asn_count, subdivision_count, country_count, continent_count;
};

/* ---- the compiled set ---- */

struct policy_ref {
	bool is_datacenter;
	uint16_t index; /* into set->datacenters or set->nodes */
};

struct policy_target {
	struct policy_ref ref;
	uint64_t reach;           /* datacenters reachable through this target */
	uint32_t weight;          /* weighted */
	const char *name;         /* the target as written */
	const char *key;          /* geo: the key as written; NULL otherwise */
	struct policy_key parsed; /* geo: the parsed key */
	int line;
};

struct policy_node {
	const char *name;
	int line;
	enum config_policy_kind kind;
	struct policy_target *targets;
	uint16_t target_count;
	uint64_t reach;
	bool sticky;
	uint16_t max;
	int latency_table; /* index into set->latency_tables, or -1 */
	/* latency: what ranks the targets.  distance: latency_table rows
	 * (when there is a table) before great-circle distance; table: only
	 * the table; probes: health_rtt_ms() of each datacenter's slot, read
	 * per query, datacenters without one after, by distance. */
	enum config_latency_source latency_source;
	/* geo */
	struct policy_matcher match;
	int default_branch;  /* -1: none */
	bool needs_location; /* continent / country / subdivision keys */
	bool needs_asn;
};

struct policy_rtt {
	uint8_t datacenter;
	uint32_t us; /* microseconds */
};

/* latency_table: FILE, each distinct CIDR a row of (datacenter, rtt). */
struct policy_latency_table {
	const char *path;
	struct prefix_tree *tree[2]; /* value = row */
	uint32_t *row_start;         /* row r: rtts[row_start[r] .. row_start[r + 1]) */
	struct policy_rtt *rtts;
	size_t row_count;
};

struct policy_fence {
	const char *name;
	int line;
	uint64_t allowed;
	struct policy_matcher match;
	bool needs_location, needs_asn;
	struct policy_key *terms; /* clients:, parsed, for the static proof */
	size_t term_count;
};

struct policy_record {
	struct policy_ref root;
	const char *root_name;
	uint64_t reach;
	uint32_t ttl;
	uint32_t down_ttl;
	const char *name;     /* owner name, absolute, for explain and stats */
	bool fence_sensitive; /* some fence's allowed mask misses part of reach */
	int line;
};

struct policy_arena;

struct policy_set {
	struct policy_arena *arena;
	const char *config_file;
	struct policy_datacenter datacenters[POLICY_MAX_DATACENTERS];
	size_t datacenter_count;
	double dc_vec[POLICY_MAX_DATACENTERS][3]; /* unit vectors of locations */
	uint64_t dc_located;                      /* has a location */
	uint64_t dc_cname;                        /* answers with a cname */
	const char *dc_jurisdiction[POLICY_MAX_DATACENTERS];
	bool slots_identity; /* health slot i == datacenter i for every i */
	struct policy_node *nodes;
	size_t node_count;
	struct geoip_db *geo; /* geoip.database, or NULL */
	struct geoip_db *asn; /* geoip.asn_database, or NULL */
	double (*geo_vec)[3]; /* unit vector of each geo->locations[i] with coordinates */
	struct policy_latency_table *latency_tables;
	size_t latency_table_count;
	struct policy_fence *fences;
	size_t fence_count;
	struct policy_record *records; /* all zones, flattened */
	size_t *zone_first_record;     /* zone z: records[zone_first_record[z] ..] */
	size_t *zone_record_count;
	size_t zone_count;
	bool client_subnet;
};

/* Zeroed memory owned by the set, freed with it.  NULL on failure. */
void *policy_arena_alloc(struct policy_set *set, size_t size);
char *policy_arena_strdup(struct policy_set *set, const char *s);

/* Compiles a key list into a matcher (branch i = keys[i]).  -1 on
 * allocation failure. */
int policy_matcher_build(struct policy_set *set, struct policy_matcher *m, const struct policy_key *keys,
                         size_t count);
void policy_matcher_free(struct policy_matcher *m);

/* Parses "ADDR/LEN" (a bare address is a host route).  IPv6 prefixes
 * inside the IPv4-embedding ranges that geoip_client_normalize() unwraps
 * become IPv4 prefixes, since clients there are looked up as IPv4.  Host
 * bits set past LEN are an error.  -1 with the reason in why. */
int policy_cidr_parse(const char *text, int *family, uint8_t addr[16], uint8_t *plen, const char **why);

/* residency.c */
int residency_compile(struct policy_set *set, const struct config *config, char *err, size_t errlen);
int residency_prove(const struct policy_set *set, char *err, size_t errlen);
/* The continent of an ISO 3166-1 alpha-2 country (policy_code2 form), or
 * 0 when the code is not a country the table knows. */
uint16_t residency_continent_of(uint16_t country);

#endif
