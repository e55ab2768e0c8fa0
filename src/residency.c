/*
 * residency — data-residency fences: compiling `residency:` entries, and
 * the static proof that no client inside a fence can be routed to a
 * datacenter outside it by the policy tree alone.
 *
 * At query time a fenced client's answer is ANDed with the fence's allowed
 * mask anyway (policy_eval.c), so the proof is not what keeps the promise;
 * it is what tells the operator, at load and with `--check`, that a policy
 * branch would send fenced clients to nowhere they may go (and so into the
 * fence's fallback).  The walk is conservative: it follows every branch a
 * fence client could take.  A geo branch is taken to be reachable unless
 * it provably cannot match any fence client:
 *
 *  - continent / country / subdivision keys against location terms compare
 *    the codes, with the built-in ISO 3166-1 country → continent table
 *    below (the continents GeoNames and MaxMind assign; a code the table
 *    does not know is compatible with every continent);
 *  - a `net:` key against a location term asks the loaded GeoIP database
 *    whether any address of that network is placed inside the term (the
 *    walk steps through the network one database region at a time, using
 *    the lookup scope); without a database no client matches a location
 *    term at all.  The proof is therefore against the database in use,
 *    and runs again whenever the database is reloaded;
 *  - `net:` terms only exclude disjoint `net:` keys, `asn:` terms only
 *    other `asn:` keys; `default` is always reachable.
 *
 * Other node kinds only ever pick targets that intersect the allowed mask
 * (the evaluator filters them), so the walk follows exactly those, and
 * fails where a node has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "geoip.h"
#include "log.h"
#include "policy_internal.h"

/* ISO 3166-1 alpha-2 by continent (GeoNames assignments, as MaxMind's
 * continent field uses them).  Facts, not code. */
static const struct {
	const char *continent;
	const char *countries;
} residency_table[] = {
    {"AF", "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR "
           "MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW"},
    {"AN", "AQ BV GS HM TF"},
    {"AS", "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN "
           "MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE"},
    {"EU", "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU "
           "LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK"},
    {"NA", "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM "
           "PR SV SX TC TT US VC VG VI"},
    {"OC", "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS"},
    {"SA", "AR BO BR CL CO EC FK GF GY PE PY SR UY VE"},
};

uint16_t residency_continent_of(uint16_t country)
{
	for (size_t c = 0; c < sizeof(residency_table) / sizeof(residency_table[0]); c++) {
		const char *s = residency_table[c].countries;
		size_t len = strlen(s);
		for (size_t i = 0; i + 1 < len; i += 3)
			if (policy_code2(s + i) == country)
				return policy_code2(residency_table[c].continent);
	}
	return 0;
}

/* ---- compiling ---- */

static int residency_fail(char *err, size_t errlen, const char *file, int line, const char *fence,
                          const char *what, const char *detail)
{
	snprintf(err, errlen, "%s:%d: residency '%s': %s%s", file, line, fence, what, detail ? detail : "");
	if (errlen)
		log_flatten(err);
	return -1;
}

int residency_compile(struct policy_set *set, const struct config *config, char *err, size_t errlen)
{
	const char *file = set->config_file;
	set->fences = policy_arena_alloc(set, (config->fence_count + 1) * sizeof(*set->fences));
	if (!set->fences) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	for (size_t i = 0; i < config->fence_count; i++) {
		const struct config_fence *c = &config->fences[i];
		struct policy_fence *f = &set->fences[i];
		const char *name = c->name ? c->name : "";
		char detail[300];
		f->line = c->line;
		if (!(f->name = policy_arena_strdup(set, name)))
			goto oom;
		for (size_t j = 0; j < i; j++)
			if (strcmp(set->fences[j].name, name) == 0)
				return residency_fail(err, errlen, file, c->line, name, "defined twice",
				                      NULL);
		if (c->client_count == 0)
			return residency_fail(err, errlen, file, c->line, name, "no clients", NULL);
		if (c->allowed_count == 0)
			return residency_fail(err, errlen, file, c->line, name, "nothing allowed", NULL);
		f->terms = policy_arena_alloc(set, c->client_count * sizeof(*f->terms));
		if (!f->terms)
			goto oom;
		f->term_count = c->client_count;
		for (size_t j = 0; j < c->client_count; j++) {
			const char *why;
			struct policy_key *k = &f->terms[j];
			if (policy_key_parse(c->clients[j], false, k, &why) < 0) {
				snprintf(detail, sizeof(detail), "'%s': %s", c->clients[j], why);
				return residency_fail(err, errlen, file, c->line, name, "bad client match ",
				                      detail);
			}
			if (k->kind == POLICY_KEY_ASN) {
				if (!config->geoip.asn_database) {
					snprintf(detail, sizeof(detail), "'%s' needs geoip.asn_database",
					         c->clients[j]);
					return residency_fail(err, errlen, file, c->line, name, detail, NULL);
				}
				f->needs_asn = true;
			} else if (k->kind != POLICY_KEY_NET) {
				if (!config->geoip.database) {
					snprintf(detail, sizeof(detail), "'%s' needs geoip.database",
					         c->clients[j]);
					return residency_fail(err, errlen, file, c->line, name, detail, NULL);
				}
				f->needs_location = true;
			}
		}
		/* Counted from here on, so that policy_set_free frees this
		 * fence's matcher when its allowed list is refused below. */
		set->fence_count = i + 1;
		if (policy_matcher_build(set, &f->match, f->terms, f->term_count) < 0)
			goto oom;
		for (size_t j = 0; j < c->allowed_count; j++) {
			const char *a = c->allowed[j];
			uint64_t m = 0;
			if (strncmp(a, "jurisdiction:", 13) == 0) {
				for (size_t d = 0; d < set->datacenter_count; d++)
					if (set->dc_jurisdiction[d] &&
					    strcasecmp(set->dc_jurisdiction[d], a + 13) == 0)
						m |= 1ull << d;
			} else if (strncmp(a, "datacenter:", 11) == 0) {
				for (size_t d = 0; d < set->datacenter_count; d++)
					if (strcmp(set->datacenters[d].name, a + 11) == 0)
						m |= 1ull << d;
			} else {
				snprintf(detail, sizeof(detail), "'%s' (jurisdiction:X or datacenter:NAME)",
				         a);
				return residency_fail(err, errlen, file, c->line, name, "bad allowed entry ",
				                      detail);
			}
			if (!m) {
				snprintf(detail, sizeof(detail), "allowed '%s' matches no datacenter", a);
				return residency_fail(err, errlen, file, c->line, name, detail, NULL);
			}
			f->allowed |= m;
		}
	}
	for (size_t r = 0, total = set->zone_count ? set->zone_first_record[set->zone_count - 1] +
	                                                 set->zone_record_count[set->zone_count - 1]
	                                           : 0;
	     r < total; r++)
		for (size_t i = 0; i < set->fence_count; i++)
			if (set->records[r].reach & ~set->fences[i].allowed)
				set->records[r].fence_sensitive = true;
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", file);
	return -1;
}

/* ---- the static proof ---- */

typedef unsigned __int128 residency_u128;

static residency_u128 residency_load(const uint8_t *addr, unsigned bytes)
{
	residency_u128 v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | addr[i];
	return v;
}

/* Big-endian, the low `bytes` bytes of v (4 or 16).  Written as a forward
 * loop over a bounded count: the countdown form made GCC (-O3, or with a
 * profile) believe an index of 2^32-1 was possible and warn. */
static void residency_store(residency_u128 v, uint8_t addr[static 16], unsigned bytes)
{
	if (bytes > 16)
		bytes = 16;
	for (unsigned i = 0; i < bytes; i++)
		addr[bytes - 1 - i] = (uint8_t)(v >> (8 * i));
}

static bool residency_location_in(const struct geoip_location *l, const struct policy_key *term)
{
	uint16_t country = policy_code2(l->country);
	switch (term->kind) {
	case POLICY_KEY_CONTINENT:
		return policy_code2(l->continent) == term->continent;
	case POLICY_KEY_COUNTRY:
		return country == term->country;
	case POLICY_KEY_SUBDIVISION:
		return country == term->country && l->subdivision[0] &&
		       policy_code_subdivision(country, l->subdivision) == term->subdivision;
	default:
		return true;
	}
}

#define RESIDENCY_MAX_STEPS (1u << 22)

/* Whether the database places some address of the network `key` inside
 * the location term.  Steps region by region; gives up (true) when the
 * network is split into too many regions to walk. */
static bool residency_net_meets_location(const struct policy_set *set, const struct policy_key *key,
                                         const struct policy_key *term)
{
	if (!set->geo)
		return false;
	unsigned bytes = key->family == 4 ? 4 : 16, bits = bytes * 8;
	residency_u128 start = residency_load(key->addr, bytes);
	residency_u128 span = key->plen == 0 ? ~(residency_u128)0 >> (128 - bits)
	                                     : (((residency_u128)1 << (bits - key->plen)) - 1);
	residency_u128 end = start | span, cur = start;
	for (unsigned steps = 0; steps < RESIDENCY_MAX_STEPS; steps++) {
		uint8_t addr[16] = {0}, scope = 0;
		residency_store(cur, addr, bytes);
		const struct geoip_location *l = geoip_lookup(set->geo, key->family, addr, &scope);
		if (l && residency_location_in(l, term))
			return true;
		if (scope <= key->plen)
			return false;
		if (scope > bits)
			scope = (uint8_t)bits;
		residency_u128 region = scope >= bits ? 0 : (((residency_u128)1 << (bits - scope)) - 1);
		residency_u128 last = cur | region;
		if (last >= end)
			return false;
		cur = last + 1;
	}
	return true;
}

struct residency_place {
	uint16_t continent, country;
	uint64_t subdivision;
};

static struct residency_place residency_place_of(const struct policy_key *k)
{
	struct residency_place p = {0, 0, 0};
	if (k->kind == POLICY_KEY_CONTINENT) {
		p.continent = k->continent;
	} else {
		p.country = k->country;
		p.continent = residency_continent_of(k->country);
		if (k->kind == POLICY_KEY_SUBDIVISION)
			p.subdivision = k->subdivision;
	}
	return p;
}

static bool residency_places_meet(const struct policy_key *a, const struct policy_key *b)
{
	struct residency_place x = residency_place_of(a), y = residency_place_of(b);
	if (x.country && y.country)
		return x.country == y.country &&
		       (!x.subdivision || !y.subdivision || x.subdivision == y.subdivision);
	return !x.continent || !y.continent || x.continent == y.continent;
}

static bool residency_nets_overlap(const struct policy_key *a, const struct policy_key *b)
{
	if (a->family != b->family)
		return false;
	unsigned n = a->plen < b->plen ? a->plen : b->plen;
	for (unsigned i = 0; i < n; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));
		if ((a->addr[i / 8] & m) != (b->addr[i / 8] & m))
			return false;
	}
	return true;
}

static bool residency_is_place(const struct policy_key *k)
{
	return k->kind == POLICY_KEY_CONTINENT || k->kind == POLICY_KEY_COUNTRY ||
	       k->kind == POLICY_KEY_SUBDIVISION;
}

/* Whether some client of the fence can take the geo branch `key`. */
static bool residency_branch_reachable(const struct policy_set *set, const struct policy_fence *f,
                                       const struct policy_key *key)
{
	if (key->kind == POLICY_KEY_DEFAULT)
		return true;
	for (size_t i = 0; i < f->term_count; i++) {
		const struct policy_key *t = &f->terms[i];
		switch (key->kind) {
		case POLICY_KEY_ASN:
			if (t->kind != POLICY_KEY_ASN || t->asn == key->asn)
				return true;
			break;
		case POLICY_KEY_NET:
			if (t->kind == POLICY_KEY_ASN)
				return true;
			if (t->kind == POLICY_KEY_NET ? residency_nets_overlap(t, key)
			                              : residency_net_meets_location(set, key, t))
				return true;
			break;
		default:
			if (!residency_is_place(t) || residency_places_meet(t, key))
				return true;
			break;
		}
	}
	return false;
}

struct residency_walk {
	const struct policy_set *set;
	const struct policy_fence *fence;
	const struct policy_record *record;
	uint8_t *proven; /* nodes already shown safe for this fence */
	char path[1024];
	char *err;
	size_t errlen;
};

static int residency_fail_path(struct residency_walk *w)
{
	snprintf(w->err, w->errlen,
	         "%s:%d: residency '%s': clients can be routed by %s to no allowed datacenter",
	         w->set->config_file, w->fence->line, w->fence->name, w->path);
	return -1;
}

static int residency_check(struct residency_walk *w, struct policy_ref ref, size_t plen)
{
	uint64_t allowed = w->fence->allowed;
	if (ref.is_datacenter)
		return (allowed >> ref.index) & 1 ? 0 : residency_fail_path(w);
	const struct policy_node *n = &w->set->nodes[ref.index];
	if (w->proven[ref.index])
		return 0;
	if (!(n->reach & allowed))
		return residency_fail_path(w);
	for (size_t i = 0; i < n->target_count; i++) {
		const struct policy_target *t = &n->targets[i];
		int len;
		if (n->kind == CONFIG_POLICY_GEO) {
			if (!residency_branch_reachable(w->set, w->fence, &t->parsed))
				continue;
			len =
			    snprintf(w->path + plen, sizeof(w->path) - plen, " -> %s -> %s", t->key, t->name);
		} else {
			if (!(t->reach & allowed))
				continue; /* never considered for a fenced client */
			len = snprintf(w->path + plen, sizeof(w->path) - plen, " -> %s", t->name);
		}
		size_t next = plen + (len > 0 ? (size_t)len : 0);
		if (next >= sizeof(w->path))
			next = sizeof(w->path) - 1;
		if (residency_check(w, t->ref, next) < 0)
			return -1;
		w->path[plen] = '\0';
	}
	w->proven[ref.index] = 1;
	return 0;
}

int residency_prove(const struct policy_set *set, char *err, size_t errlen)
{
	if (!set->fence_count)
		return 0;
	uint8_t *proven = malloc(set->node_count + 1);
	if (!proven) {
		snprintf(err, errlen, "%s: out of memory", set->config_file);
		return -1;
	}
	size_t total = set->zone_count ? set->zone_first_record[set->zone_count - 1] +
	                                     set->zone_record_count[set->zone_count - 1]
	                               : 0;
	int rc = 0;
	for (size_t f = 0; rc == 0 && f < set->fence_count; f++) {
		memset(proven, 0, set->node_count + 1);
		struct residency_walk w = {
		    .set = set, .fence = &set->fences[f], .proven = proven, .err = err, .errlen = errlen};
		for (size_t r = 0; rc == 0 && r < total; r++) {
			w.record = &set->records[r];
			int n = snprintf(w.path, sizeof(w.path), "%s", w.record->root_name);
			rc = residency_check(&w, w.record->root,
			                     n > 0 && (size_t)n < sizeof(w.path) ? (size_t)n : 0);
		}
	}
	free(proven);
	return rc;
}
