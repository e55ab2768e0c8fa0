/*
 * policy — steering: datacenters, policy trees (geo, failover, latency,
 * weighted, all), residency fences, compiled from the config into an
 * immutable policy set that lives in the snapshot.
 *
 * Building resolves every name, rejects unknown names, cycles, datacenters
 * with neither addresses nor cname, `all` over cname datacenters, and
 * fences that some client could escape (with file:line and the policy
 * path), loads the GeoIP databases and latency tables into prefix trees, and
 * precompiles each datacenter's A / AAAA rdata and CNAME target in wire
 * form.  Evaluating walks the tree for one client against the live health
 * mask: no allocation, no lock, bounded by the tree depth (cycles are
 * impossible after build).
 *
 * Policies answer through struct policy_answer (a set of datacenters, a
 * TTL, an ECS scope); they never write packet bytes.  The query module turns
 * the answer into records.
 */
#ifndef GEOSTEER_POLICY_H
#define GEOSTEER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health.h"

#include "zone.h"

#define POLICY_MAX_DATACENTERS 64
/* Load limits (errors with file and line past them): a chain of policies
 * naming policies at most this deep, and at most this many policies (names
 * are resolved by a linear search at load: 10,000 policies load in under a
 * second; a store uses tens). */
#define POLICY_MAX_DEPTH 256
#define POLICY_MAX_POLICIES 10000

struct config;
struct policy_set;

/* A datacenter as the query path needs it. */
struct policy_datacenter {
	const char *name;
	int health_slot;            /* see health.h */
	const struct zone_rdata *a; /* 4-byte rdata each */
	uint16_t a_count;
	const struct zone_rdata *aaaa; /* 16-byte rdata each */
	uint16_t aaaa_count;
	/* health_address_bit() of each address, a then aaaa; POLICY_NO_BIT (always
	 * up) for a datacenter without checks, whose mask is all ones anyway */
	const uint8_t *address_bits;
	bool probed; /* has checks, so its addresses have bits */
	const uint8_t *cname; /* lower-cased wire name, or NULL */
};

/* The client as steering sees it. */
struct policy_client {
	int family;            /* 4 or 6, as sent (ECS family, or the packet's) */
	uint8_t addr[16];      /* as sent; bits past source_prefix zero */
	uint8_t source_prefix; /* ECS SOURCE PREFIX-LENGTH, or 32 / 128 for a packet source */
};

/* What a policy decided for one query. */
struct policy_answer {
	uint64_t datacenters;   /* chosen datacenters, bit i = policy_set_datacenter(set, i) */
	uint16_t max_addresses; /* from `all: max`; 0 = no limit */
	uint32_t ttl;           /* the record's ttl, or its down_ttl when degraded */
	uint8_t scope;          /* ECS SCOPE PREFIX-LENGTH, in the client's family */
	bool degraded;          /* some node did not get its first choice, or failed open */
	bool nodata;            /* no geo key matched and there is no default */
	bool fenced;            /* a residency fence matched the client and limited the choice */
};

/* Builds the set from config (datacenters, policies, residency, geoip and
 * every zones[].records entry).  -1 with "FILE:LINE: message" in err. */
int policy_set_build(const struct config *config, struct policy_set **out, char *err, size_t errlen);
void policy_set_free(struct policy_set *set);

/* The compiled record for config->zones[zone].records[record]. */
const struct policy_record *policy_set_record(const struct policy_set *set, size_t zone, size_t record);

size_t policy_set_datacenter_count(const struct policy_set *set);

/* The health slots (health.h) of every datacenter of the set, as a mask. */
uint64_t policy_set_health_slots(const struct policy_set *set);

#define POLICY_NO_BIT 255

/* The address bits (health_address_bit) the set's datacenters use, per
 * health slot: what a reload must keep. */
void policy_set_address_bits(const struct policy_set *set, uint64_t keep[HEALTH_MAX_SLOTS][HEALTH_ADDRESS_WORDS]);
const struct policy_datacenter *policy_set_datacenter(const struct policy_set *set, size_t index);
/* The datacenters that answer with a CNAME (bit i = datacenter i), known
 * at load, so a query need not look at each chosen datacenter to know. */
uint64_t policy_set_cname_datacenters(const struct policy_set *set);

/* The files the set was built from that can change under it (GeoIP
 * databases, latency tables): the daemon watches them and rebuilds the
 * snapshot when one changes.  Fills up to max paths, returns how many
 * there are in total.  The strings live as long as the set. */
size_t policy_set_watch_files(const struct policy_set *set, const char **paths, size_t max);

/* The owner name a record answers for (absolute, presentation form), for
 * stats and logs. */
const char *policy_record_name(const struct policy_record *record);

/* Every record of the set (all zones) numbered 0..count-1, stable for the
 * life of the set: the index the counters use (stats.h). */
size_t policy_set_record_count(const struct policy_set *set);
const struct policy_record *policy_set_record_at(const struct policy_set *set, size_t index);
size_t policy_record_index(const struct policy_set *set, const struct policy_record *record);

/* Whether ECS is honoured (geoip.client_subnet). */
bool policy_set_uses_client_subnet(const struct policy_set *set);

/* Evaluates a record's policy for a client against the health mask
 * (health_up_mask()).  Never fails, never allocates, takes no lock.
 * Geo precedence: net (longest prefix) > asn > subdivision > country >
 * continent > default.  latency, by its latency_source: distance (the
 * default) ranks by latency_table RTT where the table covers the client
 * (datacenters it lists first), else by great-circle distance, and a client
 * without coordinates gets the first target; probes ranks by the probe RTT
 * average health_rtt_ms() (unmeasured datacenters after, by distance; scope
 * 0 when measurements decide); table ranks by latency_table only (clients it
 * does not cover get the first target in order).  A fenced
 * client only ever gets allowed datacenters (see policy_eval.c). */
void policy_evaluate(const struct policy_set *set, const struct policy_record *record,
                     const struct policy_client *client, uint64_t up_mask, struct policy_answer *out);

/*
 * The same evaluation, narrated: the client's geolocation, every node
 * visited with the choice made and why (health, distance in km, weight,
 * fence), the datacenters chosen, TTL and scope; one line per step.  Not
 * for the query path.  Returns the text length (truncated to buflen-1).
 */
size_t policy_explain(const struct policy_set *set, const struct policy_record *record,
                      const struct policy_client *client, uint64_t up_mask, char *buf, size_t buflen);

#endif
