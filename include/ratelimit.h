/*
 * ratelimit — response rate limiting over UDP (`server.rate_limit`), the
 * defence NSD (rrl-ratelimit) and Knot (mod-rrl) have against being used
 * to reflect and amplify traffic at a spoofed victim.
 *
 * A reply is counted against its class: the client's network (IPv4 /24,
 * IPv6 /56 by default) together with the zone name the answer came from
 * (query_outcome.source) — for a NOERROR answer the name itself, the
 * wildcard that covered it, the zone cut of a referral or the DNAME above
 * it; for NXDOMAIN the zone.  Never the query name or type as asked: an
 * attacker could make up names under a wildcard or a delegation, or
 * cycle through types, for a fresh budget each time (NSD and Knot's RRL
 * class by the wildcard, the delegation and the zone the same way).  An
 * error rcode counts by the network alone.  A
 * class may have `responses` replies in one second; beyond that each
 * reply is dropped, except every `slip`-th, which goes out truncated (TC,
 * no records, no OPT) so a real client behind that network retries over
 * TCP, which is never limited.  Spoofed sources cannot complete a TCP
 * handshake, so the amplification is gone and real clients still get
 * through.
 *
 * Counting is per UDP worker, in a table the worker owns (no lock, no
 * atomic, no allocation on the query path).  The kernel spreads a client
 * over workers by address and port, so a class's budget is per worker: at
 * most `workers` × `responses` a second in total.  The table is direct
 * mapped (RATELIMIT_TABLE_ENTRIES slots, chosen under a secret seed per
 * table); a class whose slot another class takes starts counting again,
 * which can only let replies through.
 */
#ifndef GEOSTEER_RATELIMIT_H
#define GEOSTEER_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_TABLE_ENTRIES 16384 /* a power of two; 256 KiB per worker, touched only when on */

struct ratelimit_settings {
	uint32_t responses; /* per second per class; 0: rate limiting off */
	uint8_t slip;       /* every slip-th limited reply is sent truncated; 0: all dropped */
	uint8_t ipv4_prefix;
	uint8_t ipv6_prefix;
};

enum ratelimit_verdict {
	RATELIMIT_PASS, /* send the reply as it is */
	RATELIMIT_SLIP, /* send ratelimit_truncate()'s form of it */
	RATELIMIT_DROP, /* send nothing */
};

struct ratelimit_table;

/* A zeroed table (calloc: its pages cost memory only once used).  NULL
 * when memory is short; checking against NULL always passes. */
struct ratelimit_table *ratelimit_table_new(void);
void ratelimit_table_free(struct ratelimit_table *t);

/*
 * The class of a reply to client with rcode (query_outcome.rcode) whose
 * answer came from the zone name source (query_outcome.source, wire form,
 * lower case; NULL: none, counted as an error of that network).
 */
uint64_t ratelimit_class(const struct ratelimit_settings *s, const struct sockaddr *client, const uint8_t *source,
                         uint16_t rcode);

/* Counts one reply of class at second now (any clock that ticks once a
 * second) and says what to do with it. */
enum ratelimit_verdict ratelimit_check(struct ratelimit_table *t, const struct ratelimit_settings *s, uint64_t class,
                                       uint32_t now);

/* Rewrites reply in place into its truncated form: the header with TC set
 * and no records, then the question (when it has one).  Returns the new
 * length. */
size_t ratelimit_truncate(uint8_t *reply, size_t len);

#endif
