/*
 * ratelimit — see ratelimit.h.  One direct-mapped table per UDP worker;
 * a class is a 64-bit hash of (family, network, kind, source name), and a
 * slot holds one class's count for the current second.
 */
#include "ratelimit.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dname.h"
#include "wire.h"

struct ratelimit_slot {
	uint64_t class;
	uint32_t second;
	uint16_t count;   /* replies sent in `second`, at most the limit */
	uint16_t limited; /* replies over the limit since the last slip, below slip (a count that
	                   * only grew wrapped at 65536 and slipped twice in a row for slip 3) */
};

struct ratelimit_table {
	/* Secret per table: which classes share a slot cannot be worked out
	 * from outside, so an attacker cannot pick names that keep evicting
	 * (and so restarting) a victim network's count. */
	uint64_t seed;
	struct ratelimit_slot slot[RATELIMIT_TABLE_ENTRIES];
};

/* What a reply says, for its class. */
enum ratelimit_kind { RATELIMIT_KIND_ANSWER = 1, RATELIMIT_KIND_NXDOMAIN, RATELIMIT_KIND_ERROR };

struct ratelimit_table *ratelimit_table_new(void)
{
	struct ratelimit_table *t = calloc(1, sizeof(struct ratelimit_table));
	if (t && getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t->seed = (uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)t;
	}
	return t;
}

void ratelimit_table_free(struct ratelimit_table *t)
{
	free(t);
}

/* FNV-1a over bytes, continued from h. */
static uint64_t ratelimit_mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Spreads every input bit over the table index (FNV's low bits are weak). */
static uint64_t ratelimit_finish(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* The first bits of addr (len bytes) masked to prefix bits, into out. */
static void ratelimit_network(const uint8_t *addr, size_t len, unsigned prefix, uint8_t *out)
{
	memset(out, 0, len);
	size_t whole = prefix / 8 < len ? prefix / 8 : len;
	memcpy(out, addr, whole);
	if (whole < len && prefix % 8)
		out[whole] = (uint8_t)(addr[whole] & (0xFF << (8 - prefix % 8)));
}

uint64_t ratelimit_class(const struct ratelimit_settings *s, const struct sockaddr *client, const uint8_t *source,
                         uint16_t rcode)
{
	uint8_t net[17] = {0};
	if (client && client->sa_family == AF_INET6) {
		net[0] = 6;
		ratelimit_network(((const struct sockaddr_in6 *)client)->sin6_addr.s6_addr, 16, s->ipv6_prefix, net + 1);
	} else if (client && client->sa_family == AF_INET) {
		net[0] = 4;
		ratelimit_network((const uint8_t *)&((const struct sockaddr_in *)client)->sin_addr, 4, s->ipv4_prefix,
		                  net + 1);
	}
	uint64_t h = ratelimit_mix_bytes(0xcbf29ce484222325ull, net, sizeof net);

	uint8_t kind = rcode == WIRE_RCODE_NOERROR    ? RATELIMIT_KIND_ANSWER
	               : rcode == WIRE_RCODE_NXDOMAIN ? RATELIMIT_KIND_NXDOMAIN
	                                              : RATELIMIT_KIND_ERROR;
	if (!source)
		kind = RATELIMIT_KIND_ERROR;
	h = ratelimit_mix_bytes(h, &kind, 1);
	if (kind != RATELIMIT_KIND_ERROR)
		h = ratelimit_mix_bytes(h, source, dname_len(source));
	return ratelimit_finish(h);
}

enum ratelimit_verdict ratelimit_check(struct ratelimit_table *t, const struct ratelimit_settings *s, uint64_t class,
                                       uint32_t now)
{
	if (!t || s->responses == 0)
		return RATELIMIT_PASS;
	struct ratelimit_slot *e = &t->slot[ratelimit_finish(class ^ t->seed) & (RATELIMIT_TABLE_ENTRIES - 1)];
	if (e->class != class) {
		*e = (struct ratelimit_slot){.class = class, .second = now};
	} else if (e->second != now) {
		e->second = now;
		e->count = 0;
	}
	if (e->count < s->responses) {
		e->count++;
		return RATELIMIT_PASS;
	}
	if (s->slip && ++e->limited >= s->slip) {
		e->limited = 0;
		return RATELIMIT_SLIP;
	}
	return RATELIMIT_DROP;
}

size_t ratelimit_truncate(uint8_t *reply, size_t len)
{
	if (len < WIRE_HEADER_LEN)
		return len;
	size_t end = WIRE_HEADER_LEN;
	if (wire_get_u16(reply + 4) == 1) {
		size_t pos = WIRE_HEADER_LEN;
		while (pos < len && reply[pos] != 0 && reply[pos] <= 63)
			pos += 1 + (size_t)reply[pos];
		if (pos < len && reply[pos] == 0 && pos + 5 <= len)
			end = pos + 5;
	}
	reply[2] |= 0x02; /* TC */
	wire_put_u16(reply + 4, end > WIRE_HEADER_LEN ? 1 : 0);
	wire_put_u16(reply + 6, 0);
	wire_put_u16(reply + 8, 0);
	wire_put_u16(reply + 10, 0);
	return end;
}
