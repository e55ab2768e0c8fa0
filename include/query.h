/*
 * query — answers one DNS request from a zone table: the authoritative
 * server's semantics (RFC 1034 4.3.2, RFC 2308 negative answers, RFC 4592
 * wildcards, RFC 6891 EDNS, RFC 8482 minimal ANY, RFC 5001 NSID).
 *
 * query_respond() is the whole query path after the socket: parse with
 * wire, decide with zone (and, for names a steering policy owns, with
 * policy_evaluate against the live health mask), write with wire.  It
 * allocates nothing, takes no lock and cannot fail except by answering
 * FORMERR, NOTIMP, REFUSED or SERVFAIL as the protocol says (or dropping
 * what must not be answered).
 *
 * Policy names: A / AAAA get the addresses of the datacenters the policy
 * chose (in datacenter order, leaving out addresses whose per-address
 * health bit is clear unless that leaves none, at most `max`), with the
 * policy's TTL (down_ttl when degraded); a chosen datacenter with a cname
 * makes the answer that CNAME, followed inside the zone as usual; no
 * address of the asked family is NODATA.  CNAME gets the CNAME of a cname
 * datacenter; ANY the A answer, or the AAAA one when there is no A
 * (RFC 8482: one RRset); other types the node's static RRsets.  The
 * client is the EDNS Client Subnet (RFC 7871) when the query has a usable
 * one (source prefix > 0) and the set honours it, else the packet's
 * source; the reply's ECS scope is the widest scope any policy on the
 * CNAME chain reported (0 when only static data answered, or when ECS was
 * not used).
 */
#ifndef GEOSTEER_QUERY_H
#define GEOSTEER_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct policy_set;
struct zone_table;

struct query_settings {
	const uint8_t *nsid; /* NULL: no NSID */
	uint16_t nsid_len;
	uint16_t udp_payload; /* the server's EDNS UDP payload size (default 1232) */
};

enum query_transport { QUERY_UDP, QUERY_TCP };

struct query_client {
	const struct sockaddr *addr; /* source of the packet (AF_INET / AF_INET6); NULL: 0.0.0.0 */
	enum query_transport transport;
};

/*
 * Writes the reply to req into resp (capacity respcap, at least 65535 for
 * TCP) and returns its length; 0 means send nothing.  Over UDP the reply
 * fits the client's limit (512 without EDNS, else its advertised size,
 * capped at settings->udp_payload): what does not fit sets TC and is left
 * out as whole RRsets.  policies is the set the zones' policy nodes point
 * into (snapshot->policies); NULL only for tables without policy nodes (a
 * policy node is then answered SERVFAIL).  client may be NULL (UDP from
 * 0.0.0.0).  resp may be req itself (the reply written over the request,
 * as the UDP workers do: one buffer per packet instead of two); any other
 * overlap is not allowed.
 */
size_t query_respond(const struct zone_table *zones, const struct policy_set *policies,
                     const struct query_settings *settings, const struct query_client *client,
                     const uint8_t *req, size_t reqlen, uint8_t *resp, size_t respcap);

/*
 * What happened to one request, for the counters (stats.h).  Filled by
 * query_respond_outcome() with a handful of stores: no allocation, no lock.
 */
struct query_outcome {
	bool answered;        /* false: nothing to send (dropped) */
	bool truncated;       /* TC set */
	bool ecs;             /* the request carried a well-formed Client Subnet option */
	bool fail_open;       /* a policy answered degraded (policy_answer.degraded) */
	bool fenced;          /* a residency fence constrained a policy's choice */
	uint16_t qtype;       /* 0 when the request had no readable question */
	uint16_t rcode;       /* as answered, extended rcode included (BADVERS = 16) */
	int32_t record;       /* policy_record_index() of the first policy evaluated, or -1 */
	uint64_t datacenters; /* health slots (bit i = slot i) whose records are in the answer */
	/* The zone name the answer came from, for rate limiting (ratelimit.h):
	 * the name itself when it exists, the wildcard that covered it, the
	 * zone cut of a referral, the DNAME above it, the zone's origin for
	 * NXDOMAIN; NULL when no zone answered.  Lower-cased wire form in the
	 * zone table, valid while the caller holds the snapshot. */
	const uint8_t *source;
};

/* The datacenters up for a policy answer of qtype (health_up_mask_family
 * of its family): what queries and explain both evaluate policies with. */
uint64_t query_health_mask(uint16_t qtype);

/* query_respond(), also reporting what happened in *outcome (never NULL). */
size_t query_respond_outcome(const struct zone_table *zones, const struct policy_set *policies,
                             const struct query_settings *settings, const struct query_client *client,
                             const uint8_t *req, size_t reqlen, uint8_t *resp, size_t respcap,
                             struct query_outcome *outcome);

#endif
