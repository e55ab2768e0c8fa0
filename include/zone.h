/*
 * zone — the in-memory zone table: RFC 1035 master files parsed with ldns,
 * checked, and built into an immutable structure the query path reads.
 *
 * Each zone is a hash table from owner name (lower-cased wire form) to node.
 * Every name between a record's owner and the apex gets a node too, so empty
 * non-terminals exist and the closest encloser of any name is found by
 * stripping labels and probing the hash (RFC 4592).  A node holds its RRsets
 * in wire form, sorted by type.  RRsets whose rdata names a host in the zone
 * (NS, MX, SRV) carry precomputed links to that host's node, so additional
 * section processing is a pointer walk.
 *
 * A table is built whole (zone_table_build) off the query path, never
 * modified afterwards, and freed whole.  Lookups allocate nothing and take
 * no lock.
 *
 * The answer for a name comes either from its static RRsets or, for names
 * that a steering policy owns, from the policy handle on the node (NULL for
 * static names; filled in by the policy module).
 */
#ifndef GEOSTEER_ZONE_H
#define GEOSTEER_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_record; /* defined by the steering module; opaque here */

struct zone_rdata {
	const uint8_t *data; /* uncompressed wire rdata, names lower-cased */
	uint16_t len;
};

struct zone_node;

/* One host whose addresses go into the additional section: its node, and
 * the owner name to write them under (node->name, or for a host covered
 * only by a wildcard, the host's own name, RFC 4592 3.3.1). */
struct zone_link {
	const struct zone_node *node;
	const uint8_t *owner;
};

struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	const struct zone_rdata *rdata;
	/* For NS, MX, SRV, SVCB and HTTPS: the in-zone hosts their rdata names, in rdata
	 * order, each once, that have A or AAAA data (glue included for NS; for
	 * the others also a host covered by a wildcard with addresses, as Knot). */
	uint16_t additional_count;
	const struct zone_link *additional;
};

enum zone_node_flags {
	ZONE_NODE_APEX = 1 << 0,
	ZONE_NODE_DELEGATION = 1 << 1, /* NS below the apex: a zone cut */
	ZONE_NODE_BELOW_CUT = 1 << 2,  /* under a zone cut: only glue, never answered */
	ZONE_NODE_HAS_WILDCARD = 1 << 3, /* the zone has "*.<name>" (zone_lookup finds it) */
	ZONE_NODE_DNAME = 1 << 4,  /* owns a DNAME RRset: names below it are rewritten (RFC 6672) */
};

struct zone_node {
	const uint8_t *name; /* lower-cased wire form */
	uint16_t flags;
	uint16_t rrset_count;              /* 0 for an empty non-terminal */
	const struct zone_rrset *rrsets;   /* sorted by type */
	const struct policy_record *policy; /* NULL: answered from rrsets */
};

struct zone {
	const uint8_t *origin; /* lower-cased wire form */
	const char *file;
	const struct zone_node *apex;
	const struct zone_rrset *soa;
	uint32_t serial;
	uint32_t negative_ttl; /* min(SOA TTL, SOA MINIMUM): TTL of the SOA in negative answers */
	size_t node_count;
	size_t rr_count;
	/* the lookup structure follows in the implementation */
	const struct zone_table_internal *internal;
};

/* A name the steering module answers (a zones[].records entry). */
struct zone_policy_binding {
	const char *name;        /* "@", relative to the origin, or absolute with a trailing dot */
	const struct policy_record *record;
	const char *config_file; /* where the binding was written, for errors */
	int config_line;
};

/* What to load. */
struct zone_source {
	const char *origin; /* presentation form, e.g. "shop.example" */
	const char *file;   /* master file path */
	const struct zone_policy_binding *bindings;
	size_t binding_count;
	/* Where the zone was configured, for errors about the file itself
	 * ("CONFIG:LINE: cannot read FILE: ..."); NULL / 0 when unknown. */
	const char *config_file;
	int config_line;
};

struct zone_table;

/*
 * Loads and checks every zone.  On failure returns -1 with one line in err,
 * "FILE:LINE: what is wrong" where a line is known (e.g.
 * "zones/shop.example.zone:14: CNAME and other data at www.shop.example.")
 * and nothing allocated is left behind.  Checks: the file parses; $INCLUDE
 * files too (relative paths from the including file's folder); exactly one
 * SOA, at the apex; NS at the apex; CNAME alone at its name (DNSSEC types
 * aside) and at most one; no data outside the origin; class IN.  Data under
 * a zone cut other than address records of an NS target is dropped with a
 * warning (occluded, as RFC 2181 6.1 says it is never answered).  Two zones
 * with the same origin are an error.
 *
 * Policy bindings: each name gets a node (created, with its ancestors, when
 * the zone file has no data there) whose `policy` points at the binding's
 * record.  Errors, as "CONFIG:LINE: ...": a name outside the zone, at or
 * below a zone cut, bound twice, or that also has static A, AAAA or CNAME
 * data in the zone file (the message names the zone file's line too).
 */
int zone_table_build(const struct zone_source *sources, size_t count, struct zone_table **out, char *err,
		     size_t errlen);

void zone_table_free(struct zone_table *table);

size_t zone_table_count(const struct zone_table *table);
const struct zone *zone_table_at(const struct zone_table *table, size_t index);

/* The zone with the longest origin that qname is at or below; NULL when none. */
const struct zone *zone_table_find(const struct zone_table *table, const uint8_t *qname);

/* The node with exactly this (lower-cased) name, or NULL. */
const struct zone_node *zone_node_find(const struct zone *zone, const uint8_t *name);

/* The node's RRset of this type, or NULL. */
const struct zone_rrset *zone_node_rrset(const struct zone_node *node, uint16_t type);

enum zone_match {
	ZONE_MATCH_EXACT,      /* node is qname's node (rrset_count 0: empty non-terminal) */
	ZONE_MATCH_WILDCARD,   /* node is the wildcard "*.<closest encloser>" that covers qname */
	ZONE_MATCH_DELEGATION, /* node is the topmost zone cut at or above qname */
	ZONE_MATCH_NXDOMAIN,   /* closest_encloser is set; no wildcard applies */
	ZONE_MATCH_DNAME,      /* node owns a DNAME and is a proper ancestor of qname */
};

struct zone_lookup {
	enum zone_match match;
	const struct zone_node *node;
	const struct zone_node *closest_encloser;
};

/*
 * Finds where qname (lower-cased, at or below the zone's origin) leads,
 * per RFC 1034 4.3.2 and RFC 4592: a zone cut above qname gives DELEGATION;
 * a cut at qname gives DELEGATION too, except for qtype DS, which the parent
 * side answers (EXACT); a wildcard that owns NS is a cut for the names it
 * covers in the same way.  A DNAME above qname gives DNAME (RFC 6672 3.2:
 * the caller answers with it and a CNAME it synthesizes).  Otherwise an
 * existing name is EXACT, a name covered by the wildcard of its closest
 * encloser is WILDCARD, and anything else is NXDOMAIN.
 */
void zone_lookup(const struct zone *zone, const uint8_t *qname, uint16_t qtype, struct zone_lookup *out);

#endif
