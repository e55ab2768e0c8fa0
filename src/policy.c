/*
 * policy — building a policy set from the config (evaluation is in
 * policy_eval.c, residency fences in residency.c).
 *
 * Everything the query path needs is decided here, once: names are
 * resolved to indexes, each node gets the mask of datacenters reachable
 * through each of its targets (so "is this subtree healthy" is one AND),
 * geo keys become packed integers and `net:` keys prefix trees, datacenter
 * addresses become wire rdata, locations become unit vectors (so a
 * great-circle comparison is a dot product), and latency tables become
 * prefix trees over rows of measured RTTs.  The set is immutable after
 * build; every piece of it except the prefix trees and GeoIP databases
 * lives in one arena freed at once.
 *
 * Build order matters for the messages: datacenters, then databases, then
 * policies (names, cycles, keys), then records, then fences and their
 * static proof, so the first error reported is the most basic one.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "dname.h"
#include "geoip.h"
#include "health.h"
#include "infile.h"
#include "log.h"
#include "policy_internal.h"
#include "prefix.h"

/* ---- arena ---- */

struct policy_arena {
	struct policy_arena *next;
	size_t used, size;
	max_align_t data[];
};

#define POLICY_ARENA_CHUNK (64 * 1024)

void *policy_arena_alloc(struct policy_set *set, size_t size)
{
	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (size == 0)
		size = sizeof(max_align_t);
	struct policy_arena *a = set->arena;
	if (!a || a->size - a->used < size) {
		size_t cap = size > POLICY_ARENA_CHUNK ? size : POLICY_ARENA_CHUNK;
		struct policy_arena *n = calloc(1, sizeof(*n) + cap);
		if (!n)
			return NULL;
		n->size = cap;
		if (a && size > POLICY_ARENA_CHUNK / 2) {
			/* a big block gets its own chunk behind the current one */
			n->next = a->next;
			a->next = n;
		} else {
			n->next = a;
			set->arena = n;
		}
		a = n;
	}
	void *p = (char *)a->data + a->used;
	a->used += size;
	return p;
}

char *policy_arena_strdup(struct policy_set *set, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = policy_arena_alloc(set, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- errors ---- */

static int policy_fail(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int policy_fail(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
	int n = snprintf(err, errlen, "%s:%d: ", file ? file : "config", line);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	log_flatten(err); /* one line, whatever a name quoted in it holds */
	return -1;
}

#define FAIL_OOM(set) policy_fail(err, errlen, (set)->config_file, 0, "out of memory")

/* ---- keys and networks ---- */

/* The IPv6 ranges geoip_client_normalize() turns into IPv4: prefix bytes,
 * its length, and where the IPv4 address starts (in bits). */
static const struct {
	uint8_t prefix[12];
	unsigned len;
	unsigned v4_at;
} policy_embeddings[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 96}, /* IPv4-mapped */
    {{0x00, 0x64, 0xff, 0x9b}, 96, 96},                   /* NAT64 */
    {{0}, 96, 96},                                        /* IPv4-compatible */
    {{0x20, 0x02}, 16, 16},                               /* 6to4 */
};

static bool policy_bits_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, b, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return ((a[full] ^ b[full]) & mask) == 0;
}

static void policy_bits_copy(uint8_t *dst, const uint8_t *src, unsigned from, unsigned count)
{
	memset(dst, 0, 4);
	for (unsigned i = 0; i < count; i++) {
		unsigned s = from + i;
		if (src[s / 8] & (0x80 >> (s % 8)))
			dst[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
}

int policy_cidr_parse(const char *text, int *family, uint8_t addr[16], uint8_t *plen, const char **why)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(buf)) {
		*why = "not a network";
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	memset(addr, 0, 16);
	unsigned bits;
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = 4;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = 6;
		bits = 128;
	} else {
		*why = "not an IP address";
		return -1;
	}
	unsigned len = bits;
	if (slash) {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3) {
			*why = "bad prefix length";
			return -1;
		}
		len = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9') {
				*why = "bad prefix length";
				return -1;
			}
			len = len * 10 + (unsigned)(*p - '0');
		}
		if (len > bits) {
			*why = "prefix length too long";
			return -1;
		}
	}
	for (unsigned i = len; i < bits; i++) {
		if (addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "host bits set past the prefix length";
			return -1;
		}
	}
	*plen = (uint8_t)len;
	if (*family == 6) {
		for (size_t e = 0; e < sizeof(policy_embeddings) / sizeof(policy_embeddings[0]); e++) {
			unsigned rl = policy_embeddings[e].len;
			if (len < rl || !policy_bits_equal(addr, policy_embeddings[e].prefix, rl))
				continue;
			unsigned at = policy_embeddings[e].v4_at;
			if (len > at + 32)
				len = at + 32; /* bits past the IPv4 address do not matter */
			uint8_t v4[4];
			policy_bits_copy(v4, addr, at, 32);
			unsigned v4len = len > at ? len - at : 0;
			for (unsigned i = v4len; i < 32; i++)
				v4[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
			memset(addr, 0, 16);
			memcpy(addr, v4, 4);
			*family = 4;
			*plen = (uint8_t)v4len;
			break;
		}
	}
	return 0;
}

static bool policy_is_alpha(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return s[n] == '\0';
}

static const char *const policy_continents[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

int policy_key_parse(const char *text, bool allow_default, struct policy_key *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(text, "default") == 0) {
		if (!allow_default) {
			*why = "'default' is not a client match";
			return -1;
		}
		out->kind = POLICY_KEY_DEFAULT;
		return 0;
	}
	if (strncmp(text, "continent:", 10) == 0) {
		const char *v = text + 10;
		out->kind = POLICY_KEY_CONTINENT;
		if (policy_is_alpha(v, 2)) {
			out->continent = policy_code2(v);
			for (size_t i = 0; i < sizeof(policy_continents) / sizeof(policy_continents[0]); i++)
				if (out->continent == policy_code2(policy_continents[i]))
					return 0;
		}
		*why = "not a continent code (AF AN AS EU NA OC SA)";
		return -1;
	}
	if (strncmp(text, "country:", 8) == 0) {
		out->kind = POLICY_KEY_COUNTRY;
		if (policy_is_alpha(text + 8, 2)) {
			out->country = policy_code2(text + 8);
			return 0;
		}
		*why = "not an ISO 3166-1 alpha-2 country code";
		return -1;
	}
	if (strncmp(text, "subdivision:", 12) == 0) {
		const char *v = text + 12;
		out->kind = POLICY_KEY_SUBDIVISION;
		size_t n = strlen(v);
		bool ok = n >= 4 && n <= 6 && v[2] == '-';
		for (size_t i = 0; ok && i < n; i++) {
			char c = v[i];
			bool alnum =
			    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
			if (i < 2)
				ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
			else if (i > 2)
				ok = alnum;
		}
		if (!ok) {
			*why = "not an ISO 3166-2 subdivision (XX-YYY)";
			return -1;
		}
		out->country = policy_code2(v);
		out->subdivision = policy_code_subdivision(out->country, v + 3);
		return 0;
	}
	if (strncmp(text, "net:", 4) == 0) {
		out->kind = POLICY_KEY_NET;
		return policy_cidr_parse(text + 4, &out->family, out->addr, &out->plen, why);
	}
	if (strncmp(text, "asn:", 4) == 0) {
		const char *v = text + 4;
		if (v[0] == 'A' && v[1] == 'S')
			v += 2;
		out->kind = POLICY_KEY_ASN;
		unsigned long long n = 0;
		size_t digits = 0;
		for (; *v >= '0' && *v <= '9' && digits < 11; v++, digits++)
			n = n * 10 + (unsigned)(*v - '0');
		if (*v || digits == 0 || n == 0 || n > UINT32_MAX) {
			*why = "not an AS number";
			return -1;
		}
		out->asn = (uint32_t)n;
		return 0;
	}
	*why = "unknown key (continent:, country:, subdivision:, net:, asn:, default)";
	return -1;
}

/* ---- matchers ---- */

int policy_matcher_build(struct policy_set *set, struct policy_matcher *m, const struct policy_key *keys,
                         size_t count)
{
	memset(m, 0, sizeof(*m));
	size_t n[6] = {0};
	for (size_t i = 0; i < count; i++)
		n[keys[i].kind]++;
	m->asns = policy_arena_alloc(set, (n[POLICY_KEY_ASN] + 1) * sizeof(*m->asns));
	m->subdivisions = policy_arena_alloc(set, (n[POLICY_KEY_SUBDIVISION] + 1) * sizeof(*m->subdivisions));
	m->countries = policy_arena_alloc(set, (n[POLICY_KEY_COUNTRY] + 1) * sizeof(*m->countries));
	m->continents = policy_arena_alloc(set, (n[POLICY_KEY_CONTINENT] + 1) * sizeof(*m->continents));
	if (!m->asns || !m->subdivisions || !m->countries || !m->continents)
		return -1;
	struct prefix_builder *b[2] = {NULL, NULL};
	for (size_t i = 0; i < count; i++) {
		const struct policy_key *k = &keys[i];
		uint16_t branch = (uint16_t)i;
		switch (k->kind) {
		case POLICY_KEY_DEFAULT:
			break;
		case POLICY_KEY_CONTINENT:
			m->continents[m->continent_count++] = (struct policy_code16){k->continent, branch};
			break;
		case POLICY_KEY_COUNTRY:
			m->countries[m->country_count++] = (struct policy_code16){k->country, branch};
			break;
		case POLICY_KEY_SUBDIVISION:
			m->subdivisions[m->subdivision_count++] =
			    (struct policy_code64){k->subdivision, branch};
			break;
		case POLICY_KEY_ASN:
			m->asns[m->asn_count++] = (struct policy_code32){k->asn, branch};
			break;
		case POLICY_KEY_NET: {
			int f = k->family == 4 ? 0 : 1;
			if (!b[f] && !(b[f] = prefix_builder_new(f ? 128 : 32)))
				goto fail;
			if (prefix_builder_add(b[f], k->addr, k->plen, branch) < 0)
				goto fail;
			break;
		}
		}
	}
	if (b[1] && geoip_add_ipv4_ranges(b[1], POLICY_NET_IPV4_RANGE) < 0)
		goto fail; /* see geoip_add_ipv4_ranges: scopes must not reach over them */
	for (int f = 0; f < 2; f++) {
		if (!b[f])
			continue;
		m->net[f] = prefix_builder_finish(b[f]);
		b[f] = NULL;
		if (!m->net[f])
			goto fail;
	}
	return 0;
fail:
	prefix_builder_free(b[0]);
	prefix_builder_free(b[1]);
	policy_matcher_free(m);
	return -1;
}

void policy_matcher_free(struct policy_matcher *m)
{
	prefix_tree_free(m->net[0]);
	prefix_tree_free(m->net[1]);
	m->net[0] = m->net[1] = NULL;
}

/* ---- datacenters ---- */

static void policy_unit_vector(double lat, double lon, double v[3])
{
	double la = lat * M_PI / 180.0, lo = lon * M_PI / 180.0;
	v[0] = cos(la) * cos(lo);
	v[1] = cos(la) * sin(lo);
	v[2] = sin(la);
}

static int policy_build_datacenters(struct policy_set *set, const struct config *config, char *err,
                                    size_t errlen)
{
	const char *file = set->config_file;
	if (config->datacenter_count > POLICY_MAX_DATACENTERS)
		return policy_fail(err, errlen, file, config->datacenters[POLICY_MAX_DATACENTERS].line,
		                   "more than %d datacenters", POLICY_MAX_DATACENTERS);
	set->slots_identity = true;
	for (size_t i = 0; i < config->datacenter_count; i++) {
		const struct config_datacenter *c = &config->datacenters[i];
		struct policy_datacenter *d = &set->datacenters[i];
		for (size_t j = 0; j < i; j++)
			if (strcmp(config->datacenters[j].name, c->name) == 0)
				return policy_fail(err, errlen, file, c->line,
				                   "datacenter '%s' defined twice", c->name);
		bool has_addresses = c->a_count + c->aaaa_count > 0;
		if (!has_addresses && !c->cname)
			return policy_fail(err, errlen, file, c->line,
			                   "datacenter '%s' has no addresses and no cname", c->name);
		if (has_addresses && c->cname)
			return policy_fail(err, errlen, file, c->line,
			                   "datacenter '%s' has both a cname and addresses", c->name);
		if (c->a_count > UINT16_MAX || c->aaaa_count > UINT16_MAX)
			return policy_fail(err, errlen, file, c->line,
			                   "datacenter '%s' has too many addresses", c->name);
		if (!(d->name = policy_arena_strdup(set, c->name)))
			return FAIL_OOM(set);
		int slot = health_slot(c->name);
		if (slot < 0 || slot >= POLICY_MAX_DATACENTERS)
			return policy_fail(err, errlen, file, c->line,
			                   "datacenter '%s': no free health slot (more than %d names)",
			                   c->name, HEALTH_MAX_SLOTS);
		d->health_slot = slot;
		if ((size_t)slot != i)
			set->slots_identity = false;

		struct zone_rdata *a = policy_arena_alloc(set, (c->a_count + 1) * sizeof(*a));
		uint8_t *abytes = policy_arena_alloc(set, c->a_count * 4 + 1);
		struct zone_rdata *aaaa = policy_arena_alloc(set, (c->aaaa_count + 1) * sizeof(*aaaa));
		uint8_t *aaaabytes = policy_arena_alloc(set, c->aaaa_count * 16 + 1);
		if (!a || !abytes || !aaaa || !aaaabytes)
			return FAIL_OOM(set);
		for (size_t k = 0; k < c->a_count; k++) {
			if (inet_pton(AF_INET, c->a[k], abytes + 4 * k) != 1)
				return policy_fail(err, errlen, file, c->line,
				                   "datacenter '%s': '%s' is not an IPv4 address", c->name,
				                   c->a[k]);
			a[k] = (struct zone_rdata){abytes + 4 * k, 4};
		}
		for (size_t k = 0; k < c->aaaa_count; k++) {
			if (inet_pton(AF_INET6, c->aaaa[k], aaaabytes + 16 * k) != 1)
				return policy_fail(err, errlen, file, c->line,
				                   "datacenter '%s': '%s' is not an IPv6 address", c->name,
				                   c->aaaa[k]);
			aaaa[k] = (struct zone_rdata){aaaabytes + 16 * k, 16};
		}
		d->a = a;
		d->a_count = (uint16_t)c->a_count;
		d->aaaa = aaaa;
		d->aaaa_count = (uint16_t)c->aaaa_count;
		uint8_t *bits = policy_arena_alloc(set, c->a_count + c->aaaa_count + 1);
		if (!bits)
			return FAIL_OOM(set);
		for (size_t k = 0; k < c->a_count + c->aaaa_count; k++) {
			const struct zone_rdata *r = k < c->a_count ? &a[k] : &aaaa[k - c->a_count];
			int bit = c->check_count ? health_address_bit(slot, r->data, r->len) : -1;
			bits[k] = bit < 0 ? POLICY_NO_BIT : (uint8_t)bit;
		}
		d->address_bits = bits;
		d->probed = c->check_count > 0;
		if (c->cname) {
			uint8_t wire[DNAME_MAXLEN];
			int n = dname_from_text(c->cname, wire);
			if (n < 0)
				return policy_fail(err, errlen, file, c->line,
				                   "datacenter '%s': bad cname '%s'", c->name, c->cname);
			uint8_t *w = policy_arena_alloc(set, (size_t)n);
			if (!w)
				return FAIL_OOM(set);
			memcpy(w, wire, (size_t)n);
			d->cname = w;
			set->dc_cname |= 1ull << i;
		}
		if (c->has_location) {
			if (!(c->latitude >= -90 && c->latitude <= 90 && c->longitude >= -180 &&
			      c->longitude <= 180))
				return policy_fail(err, errlen, file, c->line,
				                   "datacenter '%s': location out of range", c->name);
			policy_unit_vector(c->latitude, c->longitude, set->dc_vec[i]);
			set->dc_located |= 1ull << i;
		}
		if (c->jurisdiction && !(set->dc_jurisdiction[i] = policy_arena_strdup(set, c->jurisdiction)))
			return FAIL_OOM(set);
	}
	set->datacenter_count = config->datacenter_count;
	return 0;
}

/* ---- databases ---- */

/* Whether any network of db carries the data its role needs: a country or
 * continent for geoip.database, a number for geoip.asn_database.  Judged by
 * content, not by the metadata's database_type, which each vendor names its
 * own way; an ASN database given as the location database (an easy mix-up
 * of downloads) would otherwise leave every client "not in the database"
 * and every residency fence unmatched, without a word. */
static bool policy_db_has(const struct geoip_db *db, bool asn)
{
	for (size_t i = 0; i < db->location_count; i++) {
		const struct geoip_location *l = &db->locations[i];
		if (asn ? l->asn != 0 : (l->country[0] != '\0' || l->continent[0] != '\0'))
			return true;
	}
	return false;
}

/* Loads one database and checks it has what its role needs (a location
 * database: countries or continents; an ASN database: AS numbers). */
static int policy_load_db(struct policy_set *set, int line, const char *path, bool asn, struct geoip_db **out,
                          char *err, size_t errlen)
{
	char why[512];
	if (geoip_db_load(path, out, why, sizeof(why)) < 0)
		return policy_fail(err, errlen, set->config_file, line, "%s", why);
	if (!policy_db_has(*out, asn))
		return policy_fail(err, errlen, set->config_file, line,
		                   "%s: no network in it has %s (database type '%s'); %s wants %s", path,
		                   asn ? "an autonomous system number" : "a country or continent", (*out)->database_type,
		                   asn ? "geoip.asn_database" : "geoip.database",
		                   asn ? "an ASN database" : "a City or Country database");
	return 0;
}

static int policy_load_databases(struct policy_set *set, const struct config *config, char *err,
                                 size_t errlen)
{
	const struct config_geoip *g = &config->geoip;
	if (g->database) {
		if (policy_load_db(set, g->line, g->database, false, &set->geo, err, errlen) < 0)
			return -1;
		size_t n = set->geo->location_count;
		set->geo_vec = policy_arena_alloc(set, (n + 1) * sizeof(*set->geo_vec));
		if (!set->geo_vec)
			return FAIL_OOM(set);
		for (size_t i = 0; i < n; i++) {
			const struct geoip_location *l = &set->geo->locations[i];
			if (l->has_coordinates)
				policy_unit_vector(l->latitude, l->longitude, set->geo_vec[i]);
		}
	}
	if (g->asn_database && policy_load_db(set, g->line, g->asn_database, true, &set->asn, err, errlen) < 0)
		return -1;
	return 0;
}

/* ---- latency tables ---- */

struct policy_rtt_line {
	int family;
	uint8_t addr[16];
	uint8_t plen;
	uint8_t datacenter;
	uint32_t us;
	uint32_t seq;
};

static int policy_rtt_line_cmp(const void *pa, const void *pb)
{
	const struct policy_rtt_line *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family - b->family;
	int c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	if (a->plen != b->plen)
		return a->plen - b->plen;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int policy_datacenter_find(const struct policy_set *set, const char *name)
{
	for (size_t i = 0; i < set->datacenter_count; i++)
		if (strcmp(set->datacenters[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int policy_load_latency_table(struct policy_set *set, struct policy_latency_table *t, const char *path,
                                     char *err, size_t errlen)
{
	char why[128];
	FILE *f = infile_open(path, why, sizeof why);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	struct policy_rtt_line *lines = NULL;
	size_t count = 0, cap = 0;
	char buf[512];
	int lineno = 0, rc = -1;
	struct prefix_builder *b[2] = {NULL, NULL};
	while (fgets(buf, sizeof(buf), f)) {
		lineno++;
		size_t len = strlen(buf);
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
			policy_fail(err, errlen, path, lineno, "line too long");
			goto out;
		}
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL, *cidr = strtok_r(buf, " \t\r\n", &save);
		if (!cidr)
			continue;
		char *dc = strtok_r(NULL, " \t\r\n", &save);
		char *rtt = strtok_r(NULL, " \t\r\n", &save);
		if (!dc || !rtt || strtok_r(NULL, " \t\r\n", &save)) {
			policy_fail(err, errlen, path, lineno, "expected 'CIDR DATACENTER RTT_MS'");
			goto out;
		}
		struct policy_rtt_line l = {.seq = (uint32_t)count};
		const char *why;
		if (policy_cidr_parse(cidr, &l.family, l.addr, &l.plen, &why) < 0) {
			policy_fail(err, errlen, path, lineno, "'%s': %s", cidr, why);
			goto out;
		}
		int d = policy_datacenter_find(set, dc);
		if (d < 0) {
			policy_fail(err, errlen, path, lineno, "unknown datacenter '%s'", dc);
			goto out;
		}
		l.datacenter = (uint8_t)d;
		char *end;
		errno = 0;
		double ms = strtod(rtt, &end);
		if (errno || *end || end == rtt || !(ms >= 0 && ms <= 3600000.0)) {
			policy_fail(err, errlen, path, lineno, "'%s' is not a round-trip time in ms", rtt);
			goto out;
		}
		l.us = (uint32_t)(ms * 1000.0 + 0.5);
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			struct policy_rtt_line *n = realloc(lines, cap * sizeof(*lines));
			if (!n) {
				policy_fail(err, errlen, path, lineno, "out of memory");
				goto out;
			}
			lines = n;
		}
		lines[count++] = l;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (count)
		qsort(lines, count, sizeof(*lines), policy_rtt_line_cmp);
	/* rows: one per distinct network; a datacenter listed twice for the
	 * same network keeps its last RTT */
	t->row_start = policy_arena_alloc(set, (count + 1) * sizeof(*t->row_start));
	t->rtts = policy_arena_alloc(set, (count + 1) * sizeof(*t->rtts));
	if (!t->row_start || !t->rtts) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	size_t nrtt = 0;
	for (size_t i = 0; i < count;) {
		size_t j = i;
		t->row_start[t->row_count] = (uint32_t)nrtt;
		while (j < count && lines[j].family == lines[i].family && lines[j].plen == lines[i].plen &&
		       memcmp(lines[j].addr, lines[i].addr, 16) == 0) {
			size_t k = t->row_start[t->row_count];
			while (k < nrtt && t->rtts[k].datacenter != lines[j].datacenter)
				k++;
			t->rtts[k] = (struct policy_rtt){lines[j].datacenter, lines[j].us};
			if (k == nrtt)
				nrtt++;
			j++;
		}
		int fam = lines[i].family == 4 ? 0 : 1;
		if ((!b[fam] && !(b[fam] = prefix_builder_new(fam ? 128 : 32))) ||
		    prefix_builder_add(b[fam], lines[i].addr, lines[i].plen, (uint32_t)t->row_count) < 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		t->row_count++;
		i = j;
	}
	t->row_start[t->row_count] = (uint32_t)nrtt;
	if (b[1] && geoip_add_ipv4_ranges(b[1], POLICY_NET_IPV4_RANGE) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (int fam = 0; fam < 2; fam++) {
		if (!b[fam])
			continue;
		t->tree[fam] = prefix_builder_finish(b[fam]);
		b[fam] = NULL;
		if (!t->tree[fam]) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	rc = 0;
out:
	prefix_builder_free(b[0]);
	prefix_builder_free(b[1]);
	free(lines);
	fclose(f);
	return rc;
}

/* ---- policies ---- */

static int policy_node_find(const struct policy_set *set, const char *name)
{
	for (size_t i = 0; i < set->node_count; i++)
		if (strcmp(set->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int policy_resolve(const struct policy_set *set, const char *name, struct policy_ref *out)
{
	int i = policy_node_find(set, name);
	if (i >= 0) {
		*out = (struct policy_ref){false, (uint16_t)i};
		return 0;
	}
	i = policy_datacenter_find(set, name);
	if (i >= 0) {
		*out = (struct policy_ref){true, (uint16_t)i};
		return 0;
	}
	return -1;
}

static const char *const policy_kind_names[] = {"geo", "failover", "latency", "weighted", "all"};

static int policy_build_node(struct policy_set *set, const struct config *config, size_t index, char *err,
                             size_t errlen)
{
	const char *file = set->config_file;
	const struct config_policy *c = &config->policies[index];
	struct policy_node *n = &set->nodes[index];
	n->kind = c->kind;
	n->sticky = c->sticky;
	n->max = c->max > UINT16_MAX ? UINT16_MAX : (uint16_t)c->max;
	n->latency_table = -1;
	n->latency_source = c->latency_source;
	n->default_branch = -1;
	if ((unsigned)c->kind > CONFIG_POLICY_ALL)
		return policy_fail(err, errlen, file, c->line, "policy '%s': unknown kind", c->name);
	if (c->target_count == 0)
		return policy_fail(err, errlen, file, c->line, "policy '%s' (%s) has no targets", c->name,
		                   policy_kind_names[c->kind]);
	if (c->target_count > UINT16_MAX)
		return policy_fail(err, errlen, file, c->line, "policy '%s' has too many targets", c->name);
	n->targets = policy_arena_alloc(set, c->target_count * sizeof(*n->targets));
	if (!n->targets)
		return FAIL_OOM(set);
	n->target_count = (uint16_t)c->target_count;
	for (size_t i = 0; i < c->target_count; i++) {
		const struct config_policy_target *ct = &c->targets[i];
		struct policy_target *t = &n->targets[i];
		int line = ct->line ? ct->line : c->line;
		t->line = line;
		t->weight = ct->weight;
		if (!ct->target || policy_resolve(set, ct->target, &t->ref) < 0)
			return policy_fail(err, errlen, file, line,
			                   "unknown datacenter or policy '%s' in policy '%s'",
			                   ct->target ? ct->target : "", c->name);
		if (!(t->name = policy_arena_strdup(set, ct->target)))
			return FAIL_OOM(set);
		if (c->kind != CONFIG_POLICY_GEO)
			continue;
		const char *why;
		if (!ct->key || policy_key_parse(ct->key, true, &t->parsed, &why) < 0)
			return policy_fail(err, errlen, file, line, "policy '%s': bad geo key '%s': %s",
			                   c->name, ct->key ? ct->key : "", ct->key ? why : "missing");
		if (!(t->key = policy_arena_strdup(set, ct->key)))
			return FAIL_OOM(set);
		for (size_t j = 0; j < i; j++) {
			const struct policy_key *a = &n->targets[j].parsed, *b = &t->parsed;
			if (a->kind == b->kind && a->continent == b->continent && a->country == b->country &&
			    a->subdivision == b->subdivision && a->asn == b->asn && a->family == b->family &&
			    a->plen == b->plen && memcmp(a->addr, b->addr, 16) == 0)
				return policy_fail(err, errlen, file, line,
				                   "policy '%s': geo key '%s' given twice", c->name, ct->key);
		}
		switch (t->parsed.kind) {
		case POLICY_KEY_DEFAULT:
			n->default_branch = (int)i;
			break;
		case POLICY_KEY_ASN:
			if (!config->geoip.asn_database)
				return policy_fail(err, errlen, file, line,
				                   "policy '%s': geo key '%s' needs geoip.asn_database",
				                   c->name, ct->key);
			n->needs_asn = true;
			break;
		case POLICY_KEY_CONTINENT:
		case POLICY_KEY_COUNTRY:
		case POLICY_KEY_SUBDIVISION:
			if (!config->geoip.database)
				return policy_fail(err, errlen, file, line,
				                   "policy '%s': geo key '%s' needs geoip.database", c->name,
				                   ct->key);
			n->needs_location = true;
			break;
		case POLICY_KEY_NET:
			break;
		}
	}
	if (c->kind == CONFIG_POLICY_GEO) {
		struct policy_key keys[c->target_count];
		for (size_t i = 0; i < c->target_count; i++)
			keys[i] = n->targets[i].parsed;
		if (policy_matcher_build(set, &n->match, keys, c->target_count) < 0)
			return FAIL_OOM(set);
	}
	if (c->latency_table) {
		if (c->kind != CONFIG_POLICY_LATENCY)
			return policy_fail(err, errlen, file, c->line,
			                   "policy '%s': latency_table is only for latency policies",
			                   c->name);
		size_t t = 0;
		while (t < set->latency_table_count &&
		       strcmp(set->latency_tables[t].path, c->latency_table) != 0)
			t++;
		if (t == set->latency_table_count) {
			struct policy_latency_table *lt = &set->latency_tables[t];
			if (!(lt->path = policy_arena_strdup(set, c->latency_table)))
				return FAIL_OOM(set);
			set->latency_table_count++;
			char why[512];
			if (policy_load_latency_table(set, lt, c->latency_table, why, sizeof(why)) < 0)
				return policy_fail(err, errlen, file, c->line, "policy '%s': %s", c->name,
				                   why);
		}
		n->latency_table = (int)t;
	}
	/* The config module says the same; a set built from structs must not
	 * get past it either. */
	int source_line = c->latency_source_line ? c->latency_source_line : c->line;
	if ((unsigned)c->latency_source > CONFIG_LATENCY_TABLE)
		return policy_fail(err, errlen, file, source_line, "policy '%s': unknown latency_source",
		                   c->name);
	if (c->latency_source != CONFIG_LATENCY_DISTANCE && c->kind != CONFIG_POLICY_LATENCY)
		return policy_fail(err, errlen, file, source_line,
		                   "policy '%s': latency_source is only for latency policies", c->name);
	if (c->latency_source == CONFIG_LATENCY_TABLE && !c->latency_table)
		return policy_fail(err, errlen, file, source_line,
		                   "policy '%s': latency_source 'table' needs latency_table", c->name);
	if (c->latency_source == CONFIG_LATENCY_PROBES && c->latency_table)
		return policy_fail(err, errlen, file, source_line,
		                   "policy '%s': latency_source 'probes' does not use latency_table",
		                   c->name);
	return 0;
}

/* Depth-first walk computing reach masks; a node met again while on the
 * stack is a cycle, reported as the path around it.  The walk (and every
 * evaluation after it) recurses once per level, so the depth is bounded
 * here, before a deep enough chain could overflow the stack: a reload with
 * 10,000 levels used to kill the running server. */
enum { POLICY_WHITE, POLICY_GREY, POLICY_BLACK };

static int policy_visit(struct policy_set *set, size_t i, uint8_t *color, uint16_t *stack, size_t depth,
                        char *err, size_t errlen)
{
	struct policy_node *n = &set->nodes[i];
	if (depth >= POLICY_MAX_DEPTH)
		return policy_fail(err, errlen, set->config_file, n->line,
		                   "policy '%s' is nested more than %d levels deep (from policy '%s'); "
		                   "a chain that deep is a mistake",
		                   n->name, POLICY_MAX_DEPTH, set->nodes[stack[0]].name);
	color[i] = POLICY_GREY;
	stack[depth] = (uint16_t)i;
	uint64_t reach = 0;
	for (size_t k = 0; k < n->target_count; k++) {
		struct policy_target *t = &n->targets[k];
		if (t->ref.is_datacenter) {
			t->reach = 1ull << t->ref.index;
		} else {
			size_t j = t->ref.index;
			if (color[j] == POLICY_GREY) {
				size_t from = 0;
				while (stack[from] != j)
					from++;
				char path[1024];
				size_t len = 0;
				path[0] = '\0';
				for (size_t s = from; s <= depth && len < sizeof(path); s++)
					len += (size_t)snprintf(path + len, sizeof(path) - len, "%s -> ",
					                        set->nodes[stack[s]].name);
				if (len < sizeof(path))
					snprintf(path + len, sizeof(path) - len, "%s", set->nodes[j].name);
				return policy_fail(err, errlen, set->config_file, set->nodes[j].line,
				                   "policy cycle: %s", path);
			}
			if (color[j] == POLICY_WHITE &&
			    policy_visit(set, j, color, stack, depth + 1, err, errlen) < 0)
				return -1;
			t->reach = set->nodes[j].reach;
		}
		reach |= t->reach;
	}
	n->reach = reach;
	color[i] = POLICY_BLACK;
	return 0;
}

static int policy_build_nodes(struct policy_set *set, const struct config *config, char *err, size_t errlen)
{
	const char *file = set->config_file;
	size_t count = config->policy_count;
	if (count > POLICY_MAX_POLICIES)
		return policy_fail(err, errlen, file, config->policies[POLICY_MAX_POLICIES].line,
		                   "too many policies: %zu, at most %d", count, POLICY_MAX_POLICIES);
	set->nodes = policy_arena_alloc(set, (count + 1) * sizeof(*set->nodes));
	set->latency_tables = policy_arena_alloc(set, (count + 1) * sizeof(*set->latency_tables));
	if (!set->nodes || !set->latency_tables)
		return FAIL_OOM(set);
	for (size_t i = 0; i < count; i++) {
		const struct config_policy *c = &config->policies[i];
		if (!c->name || !c->name[0])
			return policy_fail(err, errlen, file, c->line, "policy without a name");
		if (policy_node_find(set, c->name) >= 0)
			return policy_fail(err, errlen, file, c->line, "policy '%s' defined twice", c->name);
		if (policy_datacenter_find(set, c->name) >= 0)
			return policy_fail(err, errlen, file, c->line,
			                   "'%s' is both a datacenter and a policy", c->name);
		if (!(set->nodes[i].name = policy_arena_strdup(set, c->name)))
			return FAIL_OOM(set);
		set->nodes[i].line = c->line;
		set->node_count = i + 1;
	}
	for (size_t i = 0; i < count; i++)
		if (policy_build_node(set, config, i, err, errlen) < 0)
			return -1;
	uint8_t *color = calloc(count + 1, 1);
	uint16_t *stack = calloc(POLICY_MAX_DEPTH, sizeof(*stack));
	int rc = color && stack ? 0 : FAIL_OOM(set);
	for (size_t i = 0; rc == 0 && i < count; i++)
		if (color[i] == POLICY_WHITE)
			rc = policy_visit(set, i, color, stack, 0, err, errlen);
	free(color);
	free(stack);
	if (rc < 0)
		return -1;
	/* A probes-ranked latency policy over datacenters nobody probes would
	 * quietly rank by distance forever: a config mistake, not a choice. */
	uint64_t checked = 0;
	for (size_t d = 0; d < config->datacenter_count; d++) {
		int k = config->datacenters[d].check_count && config->datacenters[d].name
		            ? policy_datacenter_find(set, config->datacenters[d].name)
		            : -1;
		if (k >= 0)
			checked |= 1ull << k;
	}
	for (size_t i = 0; i < count; i++) {
		const struct policy_node *n = &set->nodes[i];
		int line = config->policies[i].latency_source_line;
		if (n->kind == CONFIG_POLICY_LATENCY && n->latency_source == CONFIG_LATENCY_PROBES &&
		    !(n->reach & checked))
			return policy_fail(err, errlen, file, line ? line : n->line,
			                   "policy '%s': latency_source 'probes' but none of its datacenters "
			                   "has a check, so there is no probe RTT to rank by",
			                   n->name);
	}
	/* `all` answers with the union of its targets' addresses: a CNAME
	 * cannot be merged with anything, so no target may lead to one. */
	for (size_t i = 0; i < count; i++) {
		const struct policy_node *n = &set->nodes[i];
		if (n->kind != CONFIG_POLICY_ALL)
			continue;
		for (size_t k = 0; k < n->target_count; k++) {
			uint64_t c = n->targets[k].reach & set->dc_cname;
			if (c)
				return policy_fail(
				    err, errlen, file, n->targets[k].line,
				    "policy '%s': 'all' over '%s', which can answer with the cname of "
				    "datacenter '%s'",
				    n->name, n->targets[k].name, set->datacenters[__builtin_ctzll(c)].name);
		}
	}
	return 0;
}

/* ---- records ---- */

static char *policy_owner_name(struct policy_set *set, const char *name, const char *origin)
{
	char buf[DNAME_TEXT_MAXLEN + 2];
	size_t olen = strlen(origin);
	bool origin_dot = olen && origin[olen - 1] == '.';
	if (strcmp(name, "@") == 0)
		snprintf(buf, sizeof(buf), "%s%s", origin, origin_dot ? "" : ".");
	else if (name[0] && name[strlen(name) - 1] == '.')
		snprintf(buf, sizeof(buf), "%s", name);
	else
		snprintf(buf, sizeof(buf), "%s.%s%s", name, origin, origin_dot ? "" : ".");
	return policy_arena_strdup(set, buf);
}

static int policy_build_records(struct policy_set *set, const struct config *config, char *err, size_t errlen)
{
	size_t total = 0;
	for (size_t z = 0; z < config->zone_count; z++)
		total += config->zones[z].record_count;
	set->zone_count = config->zone_count;
	set->records = policy_arena_alloc(set, (total + 1) * sizeof(*set->records));
	set->zone_first_record = policy_arena_alloc(set, (config->zone_count + 1) * sizeof(size_t));
	set->zone_record_count = policy_arena_alloc(set, (config->zone_count + 1) * sizeof(size_t));
	if (!set->records || !set->zone_first_record || !set->zone_record_count)
		return FAIL_OOM(set);
	size_t r = 0;
	for (size_t z = 0; z < config->zone_count; z++) {
		const struct config_zone *zone = &config->zones[z];
		set->zone_first_record[z] = r;
		set->zone_record_count[z] = zone->record_count;
		for (size_t j = 0; j < zone->record_count; j++, r++) {
			const struct config_record *c = &zone->records[j];
			struct policy_record *rec = &set->records[r];
			if (!c->policy || policy_resolve(set, c->policy, &rec->root) < 0)
				return policy_fail(err, errlen, set->config_file, c->line,
				                   "unknown datacenter or policy '%s' for record '%s'",
				                   c->policy ? c->policy : "", c->name ? c->name : "");
			rec->reach = rec->root.is_datacenter ? 1ull << rec->root.index
			                                     : set->nodes[rec->root.index].reach;
			rec->ttl = c->ttl;
			rec->down_ttl = c->down_ttl;
			rec->line = c->line;
			rec->root_name = rec->root.is_datacenter ? set->datacenters[rec->root.index].name
			                                         : set->nodes[rec->root.index].name;
			if (!(rec->name = policy_owner_name(set, c->name ? c->name : "@",
			                                    zone->origin ? zone->origin : ".")))
				return FAIL_OOM(set);
		}
	}
	return 0;
}

/* ---- the set ---- */

int policy_set_build(const struct config *config, struct policy_set **out, char *err, size_t errlen)
{
	*out = NULL;
	struct policy_set *set = calloc(1, sizeof(*set));
	if (!set) {
		snprintf(err, errlen, "%s: out of memory", config->path ? config->path : "config");
		return -1;
	}
	set->client_subnet = config->geoip.client_subnet;
	if (!(set->config_file = policy_arena_strdup(set, config->path ? config->path : "config")) ||
	    policy_build_datacenters(set, config, err, errlen) < 0 ||
	    policy_load_databases(set, config, err, errlen) < 0 ||
	    policy_build_nodes(set, config, err, errlen) < 0 ||
	    policy_build_records(set, config, err, errlen) < 0 ||
	    residency_compile(set, config, err, errlen) < 0 || residency_prove(set, err, errlen) < 0) {
		if (!set->config_file)
			snprintf(err, errlen, "config: out of memory");
		policy_set_free(set);
		return -1;
	}
	*out = set;
	return 0;
}

void policy_set_free(struct policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->node_count; i++)
		policy_matcher_free(&set->nodes[i].match);
	for (size_t i = 0; i < set->latency_table_count; i++) {
		prefix_tree_free(set->latency_tables[i].tree[0]);
		prefix_tree_free(set->latency_tables[i].tree[1]);
	}
	for (size_t i = 0; i < set->fence_count; i++)
		policy_matcher_free(&set->fences[i].match);
	geoip_db_free(set->geo);
	geoip_db_free(set->asn);
	struct policy_arena *a = set->arena;
	while (a) {
		struct policy_arena *next = a->next;
		free(a);
		a = next;
	}
	free(set);
}

const struct policy_record *policy_set_record(const struct policy_set *set, size_t zone, size_t record)
{
	if (zone >= set->zone_count || record >= set->zone_record_count[zone])
		return NULL;
	return &set->records[set->zone_first_record[zone] + record];
}

size_t policy_set_datacenter_count(const struct policy_set *set)
{
	return set->datacenter_count;
}

uint64_t policy_set_health_slots(const struct policy_set *set)
{
	uint64_t mask = 0;
	for (size_t i = 0; set && i < set->datacenter_count; i++)
		if (set->datacenters[i].health_slot >= 0 && set->datacenters[i].health_slot < 64)
			mask |= UINT64_C(1) << set->datacenters[i].health_slot;
	return mask;
}

void policy_set_address_bits(const struct policy_set *set, uint64_t keep[HEALTH_MAX_SLOTS][HEALTH_ADDRESS_WORDS])
{
	for (size_t i = 0; set && i < set->datacenter_count; i++) {
		const struct policy_datacenter *d = &set->datacenters[i];
		if (d->health_slot < 0 || d->health_slot >= HEALTH_MAX_SLOTS || !d->address_bits)
			continue;
		for (size_t k = 0; k < (size_t)d->a_count + d->aaaa_count; k++)
			if (d->address_bits[k] < HEALTH_ADDRESS_BITS)
				keep[d->health_slot][d->address_bits[k] / 64] |= UINT64_C(1) << (d->address_bits[k] % 64);
	}
}

const struct policy_datacenter *policy_set_datacenter(const struct policy_set *set, size_t index)
{
	return index < set->datacenter_count ? &set->datacenters[index] : NULL;
}

uint64_t policy_set_cname_datacenters(const struct policy_set *set)
{
	return set->dc_cname;
}

bool policy_set_uses_client_subnet(const struct policy_set *set)
{
	return set->client_subnet;
}

size_t policy_set_watch_files(const struct policy_set *set, const char **paths, size_t max)
{
	size_t n = 0;
	if (set->geo) {
		if (n < max)
			paths[n] = set->geo->path;
		n++;
	}
	if (set->asn) {
		if (n < max)
			paths[n] = set->asn->path;
		n++;
	}
	for (size_t i = 0; i < set->latency_table_count; i++) {
		if (n < max)
			paths[n] = set->latency_tables[i].path;
		n++;
	}
	return n;
}

const char *policy_record_name(const struct policy_record *record)
{
	return record->name;
}

/* Records are one flattened array, so an index is a pointer difference. */
size_t policy_set_record_count(const struct policy_set *set)
{
	size_t n = 0;
	for (size_t z = 0; z < set->zone_count; z++)
		n += set->zone_record_count[z];
	return n;
}

const struct policy_record *policy_set_record_at(const struct policy_set *set, size_t index)
{
	return index < policy_set_record_count(set) ? &set->records[index] : NULL;
}

size_t policy_record_index(const struct policy_set *set, const struct policy_record *record)
{
	return (size_t)(record - set->records);
}
