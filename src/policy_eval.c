/*
 * policy_eval — evaluating a record's policy tree for one client, and
 * narrating the same evaluation for `explain`.
 *
 * There is one walk.  It takes an optional trace sink: NULL on the query
 * path (each narration point is then a single not-taken branch), a text
 * buffer for policy_explain().  So explain cannot drift from what queries
 * get.
 *
 * Per query the walk keeps a small context on the stack: the client's
 * normalized address, the health mask translated to datacenter indexes,
 * the fence's allowed mask, and lazily the geolocation (looked up at most
 * once per database, and only if some node on the path needs it).  Nothing
 * is allocated and nothing locked; the walk is bounded by the tree, which
 * the build proved acyclic.
 *
 * ECS scope.  Every lookup whose result the decision used reports the
 * prefix length over which its result is constant; the answer's scope is
 * the longest of them (the intersection of those regions), or 0 when the
 * decision never looked at the address (failover, plain weighted, latency
 * ranked by probe RTTs that all targets have: the answer is the same, or
 * equally random, everywhere).  Sticky weighted
 * hashes the client's /24 (IPv4) or /56 (IPv6), so that length is its
 * scope.  Lookups run on the normalized address: for a client inside an
 * IPv4-embedding IPv6 range the scope is reported in IPv6 bits (96 + the
 * IPv4 scope for ::ffff:0:0/96), and never longer than the client's
 * source prefix.
 *
 * Degraded answers (served with down_ttl) are those where some node on
 * the path did not make the choice it would make with everything up:
 * failover past its first target, latency not picking the nearest of all,
 * weighted or all while some weighted / listed target is down, any node
 * failing open because all its targets are down, and the fence fallback.
 *
 * Geo precedence: net (longest prefix) > asn > subdivision > country >
 * continent > default.  asn sits right after net because both name the
 * client's network rather than where it is.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "geoip.h"
#include "health.h"
#include "policy.h"
#include "policy_internal.h"
#include "prefix.h"

#define POLICY_EARTH_KM 6371.0
#define POLICY_NO_ESTIMATE 1e300
/* Estimates from a latency table are in ms; distance-based ones rank
 * after any table entry. */
#define POLICY_DISTANCE_BASE 1e12

struct policy_trace {
	char *buf;
	size_t cap, len;
};

struct policy_eval {
	const struct policy_set *set;
	uint64_t up;      /* by datacenter index */
	uint64_t allowed; /* the fence's allowed mask, all ones when unfenced */
	const struct policy_fence *fence;
	int family;       /* normalized: 4 or 6 */
	uint8_t addr[16]; /* normalized */
	uint8_t prefix;   /* source prefix, in normalized bits */
	uint8_t offset;   /* bits before the IPv4 address in the client's own form */
	uint8_t scope;    /* in normalized bits */
	bool consulted;   /* the decision looked at the address */
	bool located, asn_done;
	const struct geoip_location *loc;
	uint32_t asn;
	bool degraded, nodata;
	uint16_t max;
	struct policy_trace *trace;
};

static void policy_trace_line(struct policy_trace *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void policy_trace_line(struct policy_trace *t, const char *fmt, ...)
{
	if (t->cap == 0 || t->len >= t->cap - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t->len += (size_t)n;
	if (t->len >= t->cap - 1) {
		t->len = t->cap - 1;
		return;
	}
	t->buf[t->len++] = '\n';
	t->buf[t->len] = '\0';
}

#define TRACE(ev, ...)                                                                                       \
	do {                                                                                                 \
		if ((ev)->trace)                                                                             \
			policy_trace_line((ev)->trace, __VA_ARGS__);                                         \
	} while (0)

static void policy_names(const struct policy_set *set, uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (; mask && n < len; mask &= mask - 1) {
		int r = snprintf(buf + n, len - n, "%s%s", n ? " " : "",
		                 set->datacenters[__builtin_ctzll(mask)].name);
		if (r < 0)
			break;
		n += (size_t)r;
	}
	if (!buf[0])
		snprintf(buf, len, "(none)");
}

/* ---- the per-thread random source (weighted, non-sticky) ---- */

static _Thread_local uint64_t policy_rng_state;

static uint64_t policy_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* xorshift64*, seeded once per thread from the clock and the state's own
 * address (distinct per thread); no lock and no syscall per query. */
static uint64_t policy_rng(void)
{
	uint64_t x = policy_rng_state;
	if (__builtin_expect(x == 0, 0)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = policy_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		                 (uint64_t)(uintptr_t)&policy_rng_state);
		if (!x)
			x = 0x9e3779b97f4a7c15ull;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	policy_rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* ---- lazy lookups ---- */

static inline void policy_consult(struct policy_eval *ev, uint8_t scope)
{
	ev->consulted = true;
	if (scope > ev->scope)
		ev->scope = scope;
}

static const struct geoip_location *policy_location(struct policy_eval *ev)
{
	if (!ev->located) {
		ev->located = true;
		if (ev->set->geo) {
			uint8_t scope = 0;
			ev->loc = geoip_lookup(ev->set->geo, ev->family, ev->addr, &scope);
			policy_consult(ev, scope);
		}
	}
	return ev->loc;
}

static uint32_t policy_asn(struct policy_eval *ev)
{
	if (!ev->asn_done) {
		ev->asn_done = true;
		if (ev->set->asn) {
			uint8_t scope = 0;
			const struct geoip_location *l =
			    geoip_lookup(ev->set->asn, ev->family, ev->addr, &scope);
			ev->asn = l ? l->asn : 0;
			policy_consult(ev, scope);
		}
	}
	return ev->asn;
}

static uint32_t policy_net_lookup(struct policy_eval *ev, struct prefix_tree *const net[2])
{
	const struct prefix_tree *t = net[ev->family == 4 ? 0 : 1];
	if (!t)
		return PREFIX_NO_VALUE;
	uint8_t scope = 0;
	uint32_t v = prefix_tree_lookup(t, ev->addr, &scope);
	policy_consult(ev, scope);
	return v == POLICY_NET_IPV4_RANGE ? PREFIX_NO_VALUE : v; /* only un-normalized clients land there */
}

/* The branch of a matcher that the client takes, most specific first; -1
 * when none. */
static int policy_match(struct policy_eval *ev, const struct policy_matcher *m, bool needs_location)
{
	uint32_t v = policy_net_lookup(ev, m->net);
	if (v != PREFIX_NO_VALUE)
		return (int)v;
	if (m->asn_count) {
		uint32_t asn = policy_asn(ev);
		for (unsigned i = 0; asn && i < m->asn_count; i++)
			if (m->asns[i].code == asn)
				return m->asns[i].branch;
	}
	if (!needs_location)
		return -1;
	const struct geoip_location *l = policy_location(ev);
	if (!l)
		return -1;
	uint16_t country = policy_code2(l->country);
	if (m->subdivision_count && country && l->subdivision[0]) {
		uint64_t code = policy_code_subdivision(country, l->subdivision);
		for (unsigned i = 0; i < m->subdivision_count; i++)
			if (m->subdivisions[i].code == code)
				return m->subdivisions[i].branch;
	}
	for (unsigned i = 0; country && i < m->country_count; i++)
		if (m->countries[i].code == country)
			return m->countries[i].branch;
	uint16_t continent = policy_code2(l->continent);
	for (unsigned i = 0; continent && i < m->continent_count; i++)
		if (m->continents[i].code == continent)
			return m->continents[i].branch;
	return -1;
}

/* ---- nodes ---- */

static uint64_t policy_walk(struct policy_eval *ev, struct policy_ref ref);

static uint64_t policy_eval_geo(struct policy_eval *ev, const struct policy_node *n)
{
	int b = policy_match(ev, &n->match, n->needs_location);
	if (b < 0)
		b = n->default_branch;
	if (b < 0) {
		TRACE(ev, "%s: geo: no key matches and no default: NODATA", n->name);
		ev->nodata = true;
		return 0;
	}
	const struct policy_target *t = &n->targets[b];
	TRACE(ev, "%s: geo %s -> %s", n->name, t->key, t->name);
	return policy_walk(ev, t->ref);
}

static uint64_t policy_eval_failover(struct policy_eval *ev, const struct policy_node *n)
{
	int first = -1, pick = -1;
	for (int k = 0; k < n->target_count; k++) {
		uint64_t r = n->targets[k].reach & ev->allowed;
		if (!r)
			continue;
		if (first < 0)
			first = k;
		if (r & ev->up) {
			pick = k;
			break;
		}
	}
	if (first < 0) {
		TRACE(ev, "%s: failover: no target allowed by the fence", n->name);
		return 0;
	}
	if (pick < 0) {
		pick = first;
		ev->degraded = true;
		TRACE(ev, "%s: failover %s (every target down: failing open)", n->name,
		      n->targets[pick].name);
	} else if (pick != first) {
		ev->degraded = true;
		TRACE(ev, "%s: failover %s (up; %s down)", n->name, n->targets[pick].name,
		      n->targets[first].name);
	} else {
		TRACE(ev, "%s: failover %s (up)", n->name, n->targets[pick].name);
	}
	return policy_walk(ev, n->targets[pick].ref);
}

/*
 * Latency ranking.  Every datacenter gets an estimate, lower is better, on
 * one scale so that sources mix without a second comparison: milliseconds
 * (a latency_table row, or the probes' RTT average) below
 * POLICY_DISTANCE_BASE, great-circle distance above it (so any measured
 * latency beats any distance), POLICY_NO_ESTIMATE when nothing is known
 * (ties keep the order written, so "nothing known" means first target).
 */
struct policy_latency_ctx {
	enum config_latency_source source;
	const struct policy_latency_table *table;
	uint32_t row;      /* PREFIX_NO_VALUE: the table does not cover the client */
	const double *vec; /* client unit vector, or NULL */
	bool use_distance; /* probes: distance only once no measurement decides */
	double *rtt;       /* probes: health_rtt_ms() per datacenter index, < 0 unknown */
};

static double policy_dc_estimate(const struct policy_eval *ev, const struct policy_latency_ctx *c,
                                 unsigned dc)
{
	if (c->source == CONFIG_LATENCY_PROBES) {
		if (c->rtt[dc] >= 0)
			return c->rtt[dc];
	} else if (c->row != PREFIX_NO_VALUE) {
		const struct policy_latency_table *t = c->table;
		for (uint32_t i = t->row_start[c->row]; i < t->row_start[c->row + 1]; i++)
			if (t->rtts[i].datacenter == dc)
				return t->rtts[i].us / 1000.0;
	}
	if (c->use_distance && c->vec && (ev->set->dc_located >> dc & 1)) {
		const double *d = ev->set->dc_vec[dc];
		/* 1 - cos(angle): monotonic in great-circle distance */
		return POLICY_DISTANCE_BASE +
		       (1.0 - (c->vec[0] * d[0] + c->vec[1] * d[1] + c->vec[2] * d[2]));
	}
	return POLICY_NO_ESTIMATE;
}

static double policy_mask_estimate(const struct policy_eval *ev, const struct policy_latency_ctx *c,
                                   uint64_t mask)
{
	double best = POLICY_NO_ESTIMATE;
	for (; mask; mask &= mask - 1) {
		double e = policy_dc_estimate(ev, c, (unsigned)__builtin_ctzll(mask));
		if (e < best)
			best = e;
	}
	return best;
}

static void policy_format_estimate(const struct policy_latency_ctx *c, double e, char *buf, size_t len)
{
	if (e >= POLICY_NO_ESTIMATE) {
		snprintf(buf, len, c->source == CONFIG_LATENCY_PROBES ? "no rtt" : "no estimate");
	} else if (e >= POLICY_DISTANCE_BASE) {
		double x = 1.0 - (e - POLICY_DISTANCE_BASE);
		x = x > 1 ? 1 : x < -1 ? -1 : x;
		snprintf(buf, len, "%s%.0f km", c->source == CONFIG_LATENCY_PROBES ? "no rtt, " : "",
		         acos(x) * POLICY_EARTH_KM);
	} else if (c->source == CONFIG_LATENCY_PROBES) {
		snprintf(buf, len, e < 10 ? "rtt %.1f ms" : "rtt %.0f ms", e);
	} else {
		snprintf(buf, len, "%.1f ms", e);
	}
}

/* The best target among those allowed (*all) and among those also up
 * (*up, -1 when none is), with their estimates. */
static void policy_latency_rank(const struct policy_eval *ev, const struct policy_node *n,
                                const struct policy_latency_ctx *c, int *all, double *e_all, int *up,
                                double *e_up)
{
	*all = *up = -1;
	*e_all = *e_up = 0;
	for (int k = 0; k < n->target_count; k++) {
		uint64_t r = n->targets[k].reach & ev->allowed;
		if (!r)
			continue;
		uint64_t h = r & ev->up;
		double ea = policy_mask_estimate(ev, c, r);
		if (*all < 0 || ea < *e_all) {
			*all = k;
			*e_all = ea;
		}
		if (h) {
			double eu = h == r ? ea : policy_mask_estimate(ev, c, h);
			if (*up < 0 || eu < *e_up) {
				*up = k;
				*e_up = eu;
			}
		}
	}
}

static void policy_latency_locate(struct policy_eval *ev, struct policy_latency_ctx *c)
{
	const struct geoip_location *l = policy_location(ev);
	if (l && l->has_coordinates)
		c->vec = ev->set->geo_vec[l - ev->set->geo->locations];
	c->use_distance = true;
}

static uint64_t policy_eval_latency(struct policy_eval *ev, const struct policy_node *n)
{
	double rtt[POLICY_MAX_DATACENTERS];
	struct policy_latency_ctx c = {n->latency_source, NULL, PREFIX_NO_VALUE, NULL, false, rtt};
	int best_all, best_up;
	double e_all, e_up;
	if (c.source == CONFIG_LATENCY_PROBES) {
		/* One atomic load per datacenter, taken once, so the ranking
		 * and its narration see the same numbers. */
		for (uint64_t m = n->reach & ev->allowed; m; m &= m - 1) {
			unsigned dc = (unsigned)__builtin_ctzll(m);
			rtt[dc] = health_rtt_ms(ev->set->datacenters[dc].health_slot);
		}
		/* Measurements alone first: when they decide both picks, the
		 * answer does not depend on the client (scope 0).  Only then
		 * is the client located, to rank the unmeasured by distance. */
		policy_latency_rank(ev, n, &c, &best_all, &e_all, &best_up, &e_up);
		if (e_all >= POLICY_NO_ESTIMATE || (best_up >= 0 && e_up >= POLICY_NO_ESTIMATE)) {
			policy_latency_locate(ev, &c);
			policy_latency_rank(ev, n, &c, &best_all, &e_all, &best_up, &e_up);
		}
	} else {
		if (n->latency_table >= 0) {
			c.table = &ev->set->latency_tables[n->latency_table];
			c.row = policy_net_lookup(ev, c.table->tree);
		}
		if (c.source == CONFIG_LATENCY_DISTANCE)
			policy_latency_locate(ev, &c);
		policy_latency_rank(ev, n, &c, &best_all, &e_all, &best_up, &e_up);
	}
	if (best_all < 0) {
		TRACE(ev, "%s: latency: no target allowed by the fence", n->name);
		return 0;
	}
	int pick = best_up >= 0 ? best_up : best_all;
	if (best_up < 0 || best_up != best_all)
		ev->degraded = true;
	if (ev->trace) {
		char line[1024], est[64];
		size_t len = 0;
		line[0] = '\0';
		for (int k = 0; k < n->target_count && len < sizeof(line); k++) {
			uint64_t r = n->targets[k].reach & ev->allowed;
			if (!r)
				continue;
			policy_format_estimate(&c, policy_mask_estimate(ev, &c, r), est, sizeof(est));
			int w = snprintf(line + len, sizeof(line) - len, "%s%s %s %s", len ? ", " : "",
			                 n->targets[k].name, est, (r & ev->up) ? "up" : "down");
			if (w > 0)
				len += (size_t)w;
		}
		double e = best_up >= 0 ? e_up : e_all;
		const char *why;
		if (best_up < 0)
			why = "every target down: failing open; ";
		else if (c.source == CONFIG_LATENCY_PROBES)
			why = e < POLICY_DISTANCE_BASE ? "probe rtt; "
			      : e < POLICY_NO_ESTIMATE ? "no probe rtt: distance; "
			                               : "no probe rtt, no client location: first target; ";
		else if (c.source == CONFIG_LATENCY_TABLE)
			why = c.row == PREFIX_NO_VALUE ? "not in the latency table: first target; "
			                               : "latency table; ";
		else
			why = !c.vec && c.row == PREFIX_NO_VALUE ? "no client location: first target; "
			      : c.row != PREFIX_NO_VALUE         ? "latency table; "
			                                         : "";
		TRACE(ev, "%s: latency %s (%s%s)", n->name, n->targets[pick].name, why, line);
	}
	return policy_walk(ev, n->targets[pick].ref);
}

/* Picks the target at r within the cumulative weights of the targets
 * allowed and (when need is nonzero) reaching a datacenter in need. */
static int policy_weighted_at(const struct policy_eval *ev, const struct policy_node *n, uint64_t need,
                              bool unit, uint64_t r)
{
	for (int k = 0; k < n->target_count; k++) {
		const struct policy_target *t = &n->targets[k];
		uint64_t m = t->reach & ev->allowed;
		uint64_t w = unit ? 1 : t->weight;
		if (!m || !w || (need && !(m & need)))
			continue;
		if (r < w)
			return k;
		r -= w;
	}
	return -1;
}

static uint64_t policy_scale(uint64_t h, uint64_t total)
{
	return (uint64_t)(((unsigned __int128)h * total) >> 64);
}

static uint64_t policy_sticky_hash(struct policy_eval *ev, const struct policy_node *n)
{
	unsigned len = ev->family == 4 ? 24 : 56;
	if (ev->prefix < len)
		len = ev->prefix;
	unsigned bytes = ev->family == 4 ? 4 : 16;
	uint64_t h = 0xcbf29ce484222325ull;
	for (unsigned i = 0; i < bytes; i++) {
		uint8_t b = ev->addr[i];
		if (i * 8 >= len)
			b = 0;
		else if (i * 8 + 8 > len)
			b &= (uint8_t)(0xff << (i * 8 + 8 - len));
		h = (h ^ b) * 0x100000001b3ull;
	}
	h ^= (uint64_t)len << 56 ^ (uint64_t)(n - ev->set->nodes) << 32;
	policy_consult(ev, (uint8_t)len);
	return policy_mix64(h);
}

static uint64_t policy_eval_weighted(struct policy_eval *ev, const struct policy_node *n)
{
	uint64_t total = 0, total_up = 0;
	for (int k = 0; k < n->target_count; k++) {
		const struct policy_target *t = &n->targets[k];
		uint64_t m = t->reach & ev->allowed;
		if (!m || !t->weight)
			continue;
		total += t->weight;
		if (m & ev->up)
			total_up += t->weight;
	}
	bool unit = false; /* every target drained: fail open with equal weights */
	if (total == 0) {
		unit = true;
		for (int k = 0; k < n->target_count; k++) {
			uint64_t m = n->targets[k].reach & ev->allowed;
			if (m) {
				total++;
				if (m & ev->up)
					total_up++;
			}
		}
		ev->degraded = true;
	}
	if (total == 0) {
		TRACE(ev, "%s: weighted: no target allowed by the fence", n->name);
		return 0;
	}
	if (total_up < total)
		ev->degraded = true;
	uint64_t need = total_up ? ev->up : 0;
	uint64_t pool = total_up ? total_up : total;
	int pick;
	if (n->sticky) {
		/* The client's place among all targets first, so clients of a
		 * healthy target never move when another goes down. */
		uint64_t h = policy_sticky_hash(ev, n);
		pick = policy_weighted_at(ev, n, 0, unit, policy_scale(h, total));
		if (need && !(n->targets[pick].reach & ev->allowed & need))
			pick = policy_weighted_at(ev, n, need, unit, policy_scale(policy_mix64(h), pool));
	} else {
		pick = policy_weighted_at(ev, n, need, unit, policy_scale(policy_rng(), pool));
	}
	if (ev->trace) {
		const struct policy_target *t = &n->targets[pick];
		char how[32];
		unsigned cap = ev->family == 4 ? 24u : 56u;
		if (n->sticky)
			snprintf(how, sizeof(how), "sticky /%u",
			         ev->prefix < cap ? (unsigned)ev->prefix : cap);
		else
			snprintf(how, sizeof(how), "random");
		TRACE(ev, "%s: weighted %s (weight %u of %llu up, %s%s%s)", n->name, t->name,
		      unit ? 1 : t->weight, (unsigned long long)pool, how,
		      unit ? "; every target drained: equal weights" : "",
		      total_up == 0      ? "; every target down: failing open"
		      : total_up < total ? "; some targets down"
		                         : "");
	}
	return policy_walk(ev, n->targets[pick].ref);
}

static uint64_t policy_eval_all(struct policy_eval *ev, const struct policy_node *n)
{
	uint64_t out = 0;
	unsigned healthy = 0, allowed = 0;
	for (int k = 0; k < n->target_count; k++) {
		uint64_t m = n->targets[k].reach & ev->allowed;
		if (!m)
			continue;
		allowed++;
		if (m & ev->up)
			healthy++;
	}
	if (!allowed) {
		TRACE(ev, "%s: all: no target allowed by the fence", n->name);
		return 0;
	}
	bool fail_open = healthy == 0;
	if (healthy != allowed)
		ev->degraded = true;
	for (int k = 0; k < n->target_count; k++) {
		uint64_t m = n->targets[k].reach & ev->allowed;
		if (m && (fail_open || (m & ev->up)))
			out |= policy_walk(ev, n->targets[k].ref);
	}
	if (n->max && (ev->max == 0 || n->max < ev->max))
		ev->max = n->max;
	if (ev->trace) {
		char names[512];
		policy_names(ev->set, out & ev->allowed, names, sizeof(names));
		TRACE(ev, "%s: all %s (max %u%s)", n->name, names, n->max,
		      fail_open            ? "; every target down: failing open"
		      : healthy != allowed ? "; some targets down"
		                           : "");
	}
	return out;
}

static uint64_t policy_walk(struct policy_eval *ev, struct policy_ref ref)
{
	if (ref.is_datacenter)
		return 1ull << ref.index;
	const struct policy_node *n = &ev->set->nodes[ref.index];
	switch (n->kind) {
	case CONFIG_POLICY_GEO:
		return policy_eval_geo(ev, n);
	case CONFIG_POLICY_FAILOVER:
		return policy_eval_failover(ev, n);
	case CONFIG_POLICY_LATENCY:
		return policy_eval_latency(ev, n);
	case CONFIG_POLICY_WEIGHTED:
		return policy_eval_weighted(ev, n);
	case CONFIG_POLICY_ALL:
		return policy_eval_all(ev, n);
	}
	return 0;
}

/* ---- the evaluation ---- */

static void policy_eval_init(struct policy_eval *ev, const struct policy_set *set,
                             const struct policy_client *client, uint64_t up_mask, struct policy_trace *trace)
{
	memset(ev, 0, sizeof(*ev));
	ev->set = set;
	ev->trace = trace;
	ev->allowed = ~0ull;
	uint64_t all = set->datacenter_count >= 64 ? ~0ull : (1ull << set->datacenter_count) - 1;
	if (set->slots_identity) {
		ev->up = up_mask & all;
	} else {
		for (size_t i = 0; i < set->datacenter_count; i++)
			if (up_mask >> set->datacenters[i].health_slot & 1)
				ev->up |= 1ull << i;
	}
	int family = client->family == 4 ? 4 : 6;
	unsigned bits = family == 4 ? 32 : 128;
	unsigned sp = client->source_prefix < bits ? client->source_prefix : bits;
	ev->family = geoip_client_normalize(family, client->addr, ev->addr);
	if (family == 6 && ev->family == 4) {
		ev->offset = client->addr[0] == 0x20 && client->addr[1] == 0x02 ? 16 : 96;
		unsigned p = sp > ev->offset ? sp - ev->offset : 0;
		ev->prefix = (uint8_t)(p > 32 ? 32 : p);
	} else {
		ev->prefix = (uint8_t)sp;
	}
}

static bool policy_fence_matches(struct policy_eval *ev, const struct policy_fence *f)
{
	return policy_match(ev, &f->match, f->needs_location) >= 0;
}

static void policy_run(const struct policy_set *set, const struct policy_record *record,
                       const struct policy_client *client, uint64_t up_mask, struct policy_answer *out,
                       struct policy_trace *trace)
{
	struct policy_eval ev;
	policy_eval_init(&ev, set, client, up_mask, trace);
	if (set->fence_count && record->fence_sensitive) {
		for (size_t i = 0; i < set->fence_count; i++) {
			if (policy_fence_matches(&ev, &set->fences[i])) {
				ev.fence = &set->fences[i];
				ev.allowed = ev.fence->allowed;
				break;
			}
		}
		if (trace) {
			char names[512];
			if (ev.fence) {
				policy_names(set, ev.fence->allowed, names, sizeof(names));
				TRACE(&ev, "fence %s: allowed %s", ev.fence->name, names);
			} else {
				TRACE(&ev, "fence: none matches this client");
			}
		}
	} else if (set->fence_count) {
		TRACE(&ev, "fence: not consulted (every fence allows all datacenters of %s)",
		      record->root_name);
	}
	uint64_t mask = policy_walk(&ev, record->root);
	if (ev.fence) {
		uint64_t fenced = mask & ev.allowed;
		if (!fenced && !(ev.nodata && !mask)) {
			/* fail open inside the fence, never outside */
			fenced = ev.allowed & ev.up;
			if (!fenced)
				fenced = ev.allowed;
			if (fenced & ~set->dc_cname)
				fenced &= ~set->dc_cname;
			else
				fenced &= -fenced; /* only cname datacenters: the first one */
			ev.degraded = true;
			ev.max = 0;
			if (trace) {
				char names[512];
				policy_names(set, fenced, names, sizeof(names));
				TRACE(&ev, "fence %s: nothing allowed was chosen; falling back to %s (%s)",
				      ev.fence->name, names,
				      (fenced & ev.up) ? "up" : "all down: failing open");
			}
		} else if (fenced != mask && trace) {
			char names[512];
			policy_names(set, mask & ~ev.allowed, names, sizeof(names));
			TRACE(&ev, "fence %s: removed %s", ev.fence->name, names);
		}
		mask = fenced;
	}
	if ((mask & ~ev.up) && !ev.degraded) {
		/* A datacenter that is down got chosen anyway: a geo branch or a
		 * record that names it directly has nothing else to offer, so
		 * this is failing open, and clients must come back soon. */
		ev.degraded = true;
		TRACE(&ev, "answer includes a datacenter that is down: failing open, down_ttl");
	}
	out->datacenters = mask;
	out->nodata = mask == 0;
	out->max_addresses = ev.max;
	out->degraded = ev.degraded;
	out->fenced = ev.fence != NULL;
	out->ttl = ev.degraded ? record->down_ttl : record->ttl;
	unsigned scope = 0;
	if (ev.consulted) {
		scope = ev.offset + ev.scope;
		unsigned bits = client->family == 4 ? 32 : 128;
		unsigned sp = client->source_prefix < bits ? client->source_prefix : bits;
		if (scope > sp)
			scope = sp;
	}
	out->scope = (uint8_t)scope;
}

void policy_evaluate(const struct policy_set *set, const struct policy_record *record,
                     const struct policy_client *client, uint64_t up_mask, struct policy_answer *out)
{
	policy_run(set, record, client, up_mask, out, NULL);
}

/* ---- explain ---- */

static void policy_explain_client(const struct policy_set *set, const struct policy_client *client,
                                  struct policy_trace *t)
{
	char addr[INET6_ADDRSTRLEN], as[INET6_ADDRSTRLEN + 8] = "", ecs[16] = "";
	int family = client->family == 4 ? 4 : 6;
	unsigned bits = family == 4 ? 32 : 128;
	inet_ntop(family == 4 ? AF_INET : AF_INET6, client->addr, addr, sizeof(addr));
	uint8_t norm[16];
	int nf = geoip_client_normalize(family, client->addr, norm);
	if (nf != family) {
		char v4[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, norm, v4, sizeof(v4));
		snprintf(as, sizeof(as), " (as %s)", v4);
	}
	if (client->source_prefix < bits)
		snprintf(ecs, sizeof(ecs), " (ECS /%u)", client->source_prefix);
	char where[256] = "no geolocation database";
	if (set->geo) {
		uint8_t scope = 0;
		const struct geoip_location *l = geoip_lookup(set->geo, nf, norm, &scope);
		uint8_t net[16] = {0};
		unsigned nbytes = nf == 4 ? 4 : 16;
		for (unsigned i = 0; i < nbytes * 8 && i < scope; i++)
			net[i / 8] |= norm[i / 8] & (uint8_t)(0x80 >> (i % 8));
		char nettext[INET6_ADDRSTRLEN];
		inet_ntop(nf == 4 ? AF_INET : AF_INET6, net, nettext, sizeof(nettext));
		if (!l) {
			snprintf(where, sizeof(where), "not in the database (network %s/%u)", nettext, scope);
		} else {
			char coords[64] = "no coordinates";
			if (l->has_coordinates)
				snprintf(coords, sizeof(coords), "%.1f,%.1f", l->latitude, l->longitude);
			snprintf(where, sizeof(where), "%s%s%s, continent %s, %s (network %s/%u)",
			         l->country[0] ? l->country : "unknown country", l->subdivision[0] ? "-" : "",
			         l->subdivision, l->continent[0] ? l->continent : "unknown", coords, nettext,
			         scope);
		}
	}
	char asn[32] = "";
	if (set->asn) {
		uint8_t scope;
		const struct geoip_location *l = geoip_lookup(set->asn, nf, norm, &scope);
		if (l && l->asn)
			snprintf(asn, sizeof(asn), ", AS%u", l->asn);
		else
			snprintf(asn, sizeof(asn), ", no AS");
	}
	policy_trace_line(t, "client %s%s%s: %s%s", addr, as, ecs, where, asn);
}

size_t policy_explain(const struct policy_set *set, const struct policy_record *record,
                      const struct policy_client *client, uint64_t up_mask, char *buf, size_t buflen)
{
	struct policy_trace t = {buf, buflen, 0};
	if (buflen)
		buf[0] = '\0';
	policy_trace_line(&t, "record %s: policy %s", record->name, record->root_name);
	policy_explain_client(set, client, &t);
	struct policy_answer a;
	policy_run(set, record, client, up_mask, &a, &t);
	char names[1024];
	if (a.nodata)
		snprintf(names, sizeof(names), "NODATA");
	else
		policy_names(set, a.datacenters, names, sizeof(names));
	char max[32] = "";
	if (a.max_addresses)
		snprintf(max, sizeof(max), ", max %u addresses", a.max_addresses);
	policy_trace_line(&t, "answer: %s, ttl %u, scope %u%s%s", names, a.ttl, a.scope, max,
	                  a.degraded ? ", degraded" : "");
	return t.len;
}
