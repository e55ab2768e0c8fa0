/*
 * Unit tests for zone: loading the fixtures in tests/unit/zones/ (every
 * common type, $ORIGIN, $TTL, $INCLUDE, relative names), the load-time
 * checks with their exact "FILE:LINE: message" (small zones written to a
 * temporary folder, so each test shows the text it checks), occluded data
 * and glue, additional links, and lookups including the RFC 4592 examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dname.h"
#include "zone.h"

#define T_A 1
#define T_NS 2
#define T_CNAME 5
#define T_SOA 6
#define T_PTR 12
#define T_MX 15
#define T_TXT 16
#define T_AAAA 28
#define T_SRV 33
#define T_NAPTR 35
#define T_DS 43
#define T_NSEC 47
#define T_CAA 257
#define T_PRIVATE 65534

static char fixture_dir[512];
static char tmp_dir[256];

/* Fixtures live beside this file; __FILE__ is relative to where make runs. */
static const char *fixture(const char *name)
{
	static char path[32][1024];
	static int next;
	char *p = path[next++ & 31];
	snprintf(p, sizeof(path[0]), "%s/zones/%s", fixture_dir, name);
	return p;
}

static const char *tmp_path(const char *name)
{
	static char path[32][1024];
	static int next;
	char *p = path[next++ & 31];
	snprintf(p, sizeof(path[0]), "%s/%s", tmp_dir, name);
	return p;
}

static const char *write_tmp(const char *name, const char *text)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const uint8_t *wire(const char *text)
{
	static uint8_t buf[8][DNAME_MAXLEN];
	static int next;
	uint8_t *b = buf[next++ & 7];
	assert_true(dname_from_text(text, b) > 0);
	return b;
}

/* Builds with stderr sent to a file, so warnings can be checked. */
static char warnings[16384];

static int build_capture(const struct zone_source *src, size_t count, struct zone_table **out, char *err,
                         size_t errlen)
{
	fflush(stderr);
	int saved = dup(2);
	const char *log = tmp_path("stderr.log");
	FILE *f = fopen(log, "w+");
	assert_non_null(f);
	dup2(fileno(f), 2);
	int rc = zone_table_build(src, count, out, err, errlen);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	size_t n = fread(warnings, 1, sizeof(warnings) - 1, f);
	warnings[n] = '\0';
	fclose(f);
	return rc;
}

static struct zone_table *load_fixtures(void)
{
	struct zone_source src[] = {
	    {"shop.example", fixture("shop.example.zone")},
	    {"eu.shop.example", fixture("eu.shop.example.zone")},
	    {"example", fixture("example.zone")},
	};
	struct zone_table *t = NULL;
	char err[512];
	int rc = build_capture(src, 3, &t, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "build failed: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(t);
	return t;
}

static const struct zone *shop_zone(const struct zone_table *t)
{
	const struct zone *z = zone_table_find(t, wire("shop.example"));
	assert_non_null(z);
	return z;
}

static const struct zone_rrset *rrset_at(const struct zone *z, const char *name, uint16_t type)
{
	const struct zone_node *n = zone_node_find(z, wire(name));
	assert_non_null(n);
	return zone_node_rrset(n, type);
}

static void assert_rdata(const struct zone_rdata *rd, const void *bytes, size_t len)
{
	assert_int_equal(rd->len, len);
	assert_memory_equal(rd->data, bytes, len);
}

/* --------------------------------------------------------------- loading */

static void test_load_summary(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	assert_int_equal(zone_table_count(t), 3);
	const struct zone *z = shop_zone(t);
	assert_ptr_equal(z, zone_table_at(t, 0));
	assert_null(zone_table_at(t, 3));
	assert_memory_equal(z->origin, wire("shop.example"), 14);
	assert_string_equal(z->file, fixture("shop.example.zone"));
	assert_int_equal(z->serial, 2024010101);
	assert_int_equal(z->negative_ttl, 300); /* min(SOA TTL 3600, MINIMUM 300) */
	assert_non_null(z->soa);
	assert_int_equal(z->soa->type, T_SOA);
	assert_int_equal(z->soa->count, 1);
	assert_ptr_equal(z->apex, zone_node_find(z, wire("shop.example")));
	assert_true(z->apex->flags & ZONE_NODE_APEX);

	/* the other way round: SOA TTL 60, MINIMUM 600 */
	const struct zone *eu = zone_table_find(t, wire("eu.shop.example"));
	assert_non_null(eu);
	assert_int_equal(eu->negative_ttl, 60);
	assert_int_equal(eu->serial, 7);
	assert_int_equal(eu->rr_count, 4);
	assert_int_equal(eu->node_count, 3);
	zone_table_free(t);
}

static void test_load_types_wire(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	const struct zone_rrset *s;

	/* SOA: names lower-cased and uncompressed, then the five numbers. */
	s = z->soa;
	assert_int_equal(s->ttl, 3600);
	const uint8_t soa[] = "\3ns1\4shop\7example\0\12hostmaster\4shop\7example\0"
	                      "\x78\xa3\xf1\x75\0\0\x1c\x20\0\0\x03\x84\0\x12\x75\0\0\0\x01\x2c";
	assert_rdata(&s->rdata[0], soa, sizeof(soa) - 1);

	/* MX: preference then the lower-cased exchange. */
	s = rrset_at(z, "shop.example", T_MX);
	assert_non_null(s);
	assert_int_equal(s->count, 2);
	assert_rdata(&s->rdata[0], "\0\12\4mail\4shop\7example", 21);
	assert_rdata(&s->rdata[1], "\0\24\4mail\4shop\7example", 21);

	/* TXT with several strings stays several strings. */
	s = rrset_at(z, "txt.shop.example", T_TXT);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\14first string\15second string", 27);

	s = rrset_at(z, "shop.example", T_CAA);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\0\5issueca.example.net", 21);

	s = rrset_at(z, "_sip._tcp.shop.example", T_SRV);
	assert_non_null(s);
	assert_int_equal(s->count, 2);
	assert_rdata(&s->rdata[0], "\0\12\0\74\23\304\3sip\4shop\7example", 6 + 18);

	/* NAPTR and PTR targets are lower-cased (RFC 4034 6.2). */
	s = rrset_at(z, "sip.shop.example", T_NAPTR);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\0\144\0\12\1S\7SIP+D2T\0\4_sip\4_tcp\4shop\7example",
	             4 + 2 + 8 + 1 + 24);
	s = rrset_at(z, "10.rev.shop.example", T_PTR);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\3www\4shop\7example", 18);

	s = rrset_at(z, "alias.shop.example", T_CNAME);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\3www\4shop\7example", 18);
	assert_non_null(rrset_at(z, "alias.shop.example", T_NSEC));

	/* RFC 3597 unknown type. */
	s = rrset_at(z, "unknown.shop.example", T_PRIVATE);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\x0a\x0b\x0c\x0d", 4);

	s = rrset_at(z, "sub.shop.example", T_DS);
	assert_non_null(s);
	assert_int_equal(s->rdata[0].len, 4 + 32);
	assert_memory_equal(s->rdata[0].data, "\x30\x39\x08\x02\x49\xfd", 6);

	s = rrset_at(z, "ns1.shop.example", T_AAAA);
	assert_non_null(s);
	assert_rdata(&s->rdata[0], "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x53", 16);
	zone_table_free(t);
}

static void test_load_rrsets_sorted_and_deduplicated(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);

	const struct zone_node *apex = z->apex;
	assert_int_equal(apex->rrset_count, 5); /* NS SOA MX TXT CAA */
	for (uint16_t i = 1; i < apex->rrset_count; i++)
		assert_true(apex->rrsets[i - 1].type < apex->rrsets[i].type);

	/* www: one duplicate dropped silently, the mixed-case owner merged in,
	 * and the RRset takes the lowest TTL, here its first record's (with a
	 * warning for the other). */
	const struct zone_rrset *a = rrset_at(z, "www.shop.example", T_A);
	assert_non_null(a);
	assert_int_equal(a->count, 3);
	assert_int_equal(a->ttl, 300);
	assert_rdata(&a->rdata[0], "\xc0\x00\x02\x0a", 4);
	assert_rdata(&a->rdata[1], "\xc0\x00\x02\x0b", 4);
	assert_rdata(&a->rdata[2], "\xc0\x00\x02\x0c", 4);
	char expect[1200];
	snprintf(expect, sizeof(expect), "%s:23: TTL 600", fixture("shop.example.zone"));
	assert_non_null(strstr(warnings, expect));
	/* the AAAA RRset is separate and has the $TTL default */
	const struct zone_rrset *aaaa = rrset_at(z, "www.shop.example", T_AAAA);
	assert_non_null(aaaa);
	assert_int_equal(aaaa->ttl, 3600);
	zone_table_free(t);
}

static void test_load_include_and_origin(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	/* $INCLUDE inc/api.include api: "@" and relative names use api.<origin> */
	assert_non_null(rrset_at(z, "api.shop.example", T_A));
	assert_non_null(rrset_at(z, "v2.api.shop.example", T_A));
	/* nested include, found relative to inc/, with a relative origin */
	assert_non_null(rrset_at(z, "v3.api.shop.example", T_TXT));
	/* $ORIGIN inside the included file applies there ... */
	assert_non_null(rrset_at(z, "moved.elsewhere.shop.example", T_A));
	/* ... but not after it: the includer's origin comes back */
	assert_non_null(rrset_at(z, "after.shop.example", T_A));
	assert_null(zone_node_find(z, wire("after.elsewhere.shop.example")));
	assert_null(zone_node_find(z, wire("after.api.shop.example")));
	zone_table_free(t);
}

static void test_load_empty_non_terminals(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	const char *ents[] = {"ent.shop.example", "wild.shop.example", "_tcp.shop.example",
	                      "rev.shop.example", "elsewhere.shop.example"};
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		const struct zone_node *n = zone_node_find(z, wire(ents[i]));
		assert_non_null(n);
		assert_int_equal(n->rrset_count, 0);
		assert_int_equal(n->flags & ~ZONE_NODE_HAS_WILDCARD, 0); /* no apex or cut flags */
	}
	assert_null(zone_node_find(z, wire("nothere.shop.example")));
	zone_table_free(t);
}

/* ------------------------------------------------------- cuts and glue */

static void test_glue_and_occlusion(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	char expect[1200];
	const char *file = fixture("shop.example.zone");

	const struct zone_node *sub = zone_node_find(z, wire("sub.shop.example"));
	assert_non_null(sub);
	assert_int_equal(sub->flags, ZONE_NODE_DELEGATION);
	/* the cut keeps NS and DS; its A is not an NS target: dropped */
	assert_int_equal(sub->rrset_count, 2);
	assert_non_null(zone_node_rrset(sub, T_NS));
	assert_non_null(zone_node_rrset(sub, T_DS));
	assert_null(zone_node_rrset(sub, T_A));
	snprintf(expect, sizeof(expect), "%s:41: dropping occluded A at sub.shop.example.", file);
	assert_non_null(strstr(warnings, expect));

	/* glue below the cut: the address stays, other types go */
	const struct zone_node *glue = zone_node_find(z, wire("ns1.sub.shop.example"));
	assert_non_null(glue);
	assert_int_equal(glue->flags, ZONE_NODE_BELOW_CUT);
	assert_int_equal(glue->rrset_count, 1);
	assert_non_null(zone_node_rrset(glue, T_A));
	snprintf(expect, sizeof(expect), "%s:43: dropping occluded TXT at ns1.sub.shop.example.", file);
	assert_non_null(strstr(warnings, expect));

	/* an address below the cut that no NS names: dropped */
	const struct zone_node *other = zone_node_find(z, wire("other.sub.shop.example"));
	assert_non_null(other); /* the node stays (empty) so names below cuts resolve to the cut */
	assert_int_equal(other->rrset_count, 0);
	assert_true(other->flags & ZONE_NODE_BELOW_CUT);
	snprintf(expect, sizeof(expect), "%s:44: dropping occluded A at other.sub.shop.example.", file);
	assert_non_null(strstr(warnings, expect));

	/* NS below a cut is not another cut; it is occluded */
	const struct zone_node *deeper = zone_node_find(z, wire("deeper.sub.shop.example"));
	assert_non_null(deeper);
	assert_int_equal(deeper->flags, ZONE_NODE_BELOW_CUT);
	assert_int_equal(deeper->rrset_count, 0);
	snprintf(expect, sizeof(expect), "%s:45: dropping occluded NS at deeper.sub.shop.example.", file);
	assert_non_null(strstr(warnings, expect));

	/* a cut whose name server is the cut's own name keeps that address */
	const struct zone_node *self = zone_node_find(z, wire("self.shop.example"));
	assert_non_null(self);
	assert_int_equal(self->flags, ZONE_NODE_DELEGATION);
	assert_non_null(zone_node_rrset(self, T_A));

	/* the child zone's cut in the parent, with glue */
	const struct zone_node *eu = zone_node_find(z, wire("eu.shop.example"));
	assert_non_null(eu);
	assert_int_equal(eu->flags, ZONE_NODE_DELEGATION);
	zone_table_free(t);
}

static void test_additional_links(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);

	/* apex NS: ns1 and ns2 are in the zone with addresses; the third is not */
	const struct zone_rrset *ns = zone_node_rrset(z->apex, T_NS);
	assert_non_null(ns);
	assert_int_equal(ns->count, 3);
	assert_int_equal(ns->additional_count, 2);
	assert_ptr_equal(ns->additional[0].node, zone_node_find(z, wire("ns1.shop.example")));
	assert_ptr_equal(ns->additional[1].node, zone_node_find(z, wire("ns2.shop.example")));

	/* MX: two records naming the same host give one link */
	const struct zone_rrset *mx = zone_node_rrset(z->apex, T_MX);
	assert_int_equal(mx->additional_count, 1);
	assert_ptr_equal(mx->additional[0].node, zone_node_find(z, wire("mail.shop.example")));

	/* SRV: the in-zone target only */
	const struct zone_rrset *srv = rrset_at(z, "_sip._tcp.shop.example", T_SRV);
	assert_int_equal(srv->additional_count, 1);
	assert_ptr_equal(srv->additional[0].node, zone_node_find(z, wire("sip.shop.example")));

	/* delegation NS links to glue below the cut */
	const struct zone_rrset *subns = rrset_at(z, "sub.shop.example", T_NS);
	assert_int_equal(subns->additional_count, 1);
	assert_ptr_equal(subns->additional[0].node, zone_node_find(z, wire("ns1.sub.shop.example")));

	/* types without links have none */
	const struct zone_rrset *a = rrset_at(z, "www.shop.example", T_A);
	assert_int_equal(a->additional_count, 0);
	assert_null(a->additional);

	/* RFC 4592 zone: *.example MX names host1, which has an A */
	const struct zone *ex = zone_table_find(t, wire("example"));
	const struct zone_rrset *wmx = rrset_at(ex, "*.example", T_MX);
	assert_int_equal(wmx->additional_count, 1);
	assert_ptr_equal(wmx->additional[0].node, zone_node_find(ex, wire("host1.example")));
	zone_table_free(t);
}

/* -------------------------------------------------------------- lookups */

static void lookup(const struct zone *z, const char *qname, uint16_t qtype, struct zone_lookup *out)
{
	memset(out, 0xa5, sizeof(*out)); /* every field must be written */
	zone_lookup(z, wire(qname), qtype, out);
}

static void test_lookup_exact_and_ent(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	struct zone_lookup r;

	lookup(z, "www.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(r.node, zone_node_find(z, wire("www.shop.example")));

	lookup(z, "shop.example", T_SOA, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(r.node, z->apex);

	/* an empty non-terminal exists: EXACT with no RRsets */
	lookup(z, "ent.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	assert_int_equal(r.node->rrset_count, 0);

	/* NXDOMAIN with the closest encloser */
	lookup(z, "a.b.host.ent.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_NXDOMAIN);
	assert_ptr_equal(r.closest_encloser, zone_node_find(z, wire("host.ent.shop.example")));
	lookup(z, "nothere.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_NXDOMAIN);
	assert_ptr_equal(r.closest_encloser, z->apex);
	assert_null(r.node);
	zone_table_free(t);
}

static void test_lookup_wildcard(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	const struct zone_node *wild = zone_node_find(z, wire("*.wild.shop.example"));
	const struct zone_node *wild_ent = zone_node_find(z, wire("wild.shop.example"));
	struct zone_lookup r;
	assert_non_null(wild);
	assert_true(wild_ent->flags & ZONE_NODE_HAS_WILDCARD);
	assert_false(z->apex->flags & ZONE_NODE_HAS_WILDCARD);

	lookup(z, "anything.wild.shop.example", T_TXT, &r);
	assert_int_equal(r.match, ZONE_MATCH_WILDCARD);
	assert_ptr_equal(r.node, wild);
	assert_ptr_equal(r.closest_encloser, wild_ent);

	lookup(z, "a.b.c.wild.shop.example", T_TXT, &r);
	assert_int_equal(r.match, ZONE_MATCH_WILDCARD);
	assert_ptr_equal(r.node, wild);

	/* sub.wild exists, so names below it are not covered by *.wild */
	lookup(z, "x.sub.wild.shop.example", T_TXT, &r);
	assert_int_equal(r.match, ZONE_MATCH_NXDOMAIN);
	assert_ptr_equal(r.closest_encloser, zone_node_find(z, wire("sub.wild.shop.example")));
	lookup(z, "sub.wild.shop.example", T_TXT, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);

	/* the wildcard's own name is an ordinary exact match */
	lookup(z, "*.wild.shop.example", T_TXT, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(r.node, wild);
	zone_table_free(t);
}

/* The examples of RFC 4592 section 2.2.1. */
static void test_lookup_rfc4592(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = zone_table_find(t, wire("example"));
	assert_non_null(z);
	const struct zone_node *star = zone_node_find(z, wire("*.example"));
	assert_non_null(star);
	struct zone_lookup r;

	/* "The following queries would be synthesized from one of the wildcards" */
	lookup(z, "host3.example", T_MX, &r);
	assert_int_equal(r.match, ZONE_MATCH_WILDCARD);
	assert_ptr_equal(r.node, star);
	assert_ptr_equal(r.closest_encloser, z->apex);
	lookup(z, "host3.example", T_A, &r); /* no A at the wildcard: NODATA, still WILDCARD */
	assert_int_equal(r.match, ZONE_MATCH_WILDCARD);
	lookup(z, "foo.bar.example", T_TXT, &r);
	assert_int_equal(r.match, ZONE_MATCH_WILDCARD);
	assert_ptr_equal(r.node, star);

	/* "The following queries would not be synthesized" */
	lookup(z, "host1.example", T_MX, &r); /* host1 exists */
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	lookup(z, "sub.*.example", T_MX, &r); /* exists */
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	/* _tcp.host1.example is an empty non-terminal: it is the closest
	 * encloser and has no wildcard, so *.example does not apply */
	lookup(z, "_telnet._tcp.host1.example", T_SRV, &r);
	assert_int_equal(r.match, ZONE_MATCH_NXDOMAIN);
	assert_ptr_equal(r.closest_encloser, zone_node_find(z, wire("_tcp.host1.example")));
	assert_int_equal(r.closest_encloser->rrset_count, 0);
	lookup(z, "host.subdel.example", T_A, &r); /* a referral */
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	assert_ptr_equal(r.node, zone_node_find(z, wire("subdel.example")));
	/* closest encloser *.example has no "*" child: NXDOMAIN */
	lookup(z, "ghost.*.example", T_MX, &r);
	assert_int_equal(r.match, ZONE_MATCH_NXDOMAIN);
	assert_ptr_equal(r.closest_encloser, star);
	zone_table_free(t);
}

static void test_lookup_delegation(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *z = shop_zone(t);
	const struct zone_node *sub = zone_node_find(z, wire("sub.shop.example"));
	struct zone_lookup r;

	lookup(z, "sub.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	assert_ptr_equal(r.node, sub);
	lookup(z, "sub.shop.example", T_NS, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);

	/* DS at the cut is answered by the parent side */
	lookup(z, "sub.shop.example", T_DS, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(r.node, sub);
	/* but DS below the cut is still a referral */
	lookup(z, "x.sub.shop.example", T_DS, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	assert_ptr_equal(r.node, sub);

	/* glue and other existing names below the cut are never EXACT */
	lookup(z, "ns1.sub.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	assert_ptr_equal(r.node, sub);
	/* the occluded NS below the first cut does not make a deeper cut */
	lookup(z, "a.deeper.sub.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	assert_ptr_equal(r.node, sub);
	lookup(z, "nothere.sub.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	assert_ptr_equal(r.node, sub);
	zone_table_free(t);
}

static void test_table_find_nested(void **state)
{
	(void)state;
	struct zone_table *t = load_fixtures();
	const struct zone *shop = zone_table_find(t, wire("shop.example"));
	const struct zone *eu = zone_table_find(t, wire("eu.shop.example"));
	const struct zone *ex = zone_table_find(t, wire("example"));
	assert_non_null(shop);
	assert_non_null(eu);
	assert_non_null(ex);
	assert_true(shop != eu && eu != ex && shop != ex);
	assert_memory_equal(eu->origin, wire("eu.shop.example"), 17);

	assert_ptr_equal(zone_table_find(t, wire("www.eu.shop.example")), eu);
	assert_ptr_equal(zone_table_find(t, wire("a.b.c.eu.shop.example")), eu);
	assert_ptr_equal(zone_table_find(t, wire("www.shop.example")), shop);
	assert_ptr_equal(zone_table_find(t, wire("xeu.shop.example")), shop);
	assert_ptr_equal(zone_table_find(t, wire("other.example")), ex);
	assert_null(zone_table_find(t, wire("example.com")));
	assert_null(zone_table_find(t, wire(".")));

	/* the child zone answers for itself, while the parent refers */
	struct zone_lookup r;
	lookup(eu, "www.eu.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	lookup(shop, "www.eu.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_DELEGATION);
	zone_table_free(t);
}

/* Builds a table of the first count origins of a fixed nested list, each
 * zone a minimal SOA + NS file. */
static struct zone_table *build_origins(size_t count)
{
	static const char *const origins[] = {
	    "example", "shop.example", "eu.shop.example", "a.eu.shop.example", "b.example", "c.example",
	    "d.example", "e.example", "f.example", "g.example", "h.example", "x.a.eu.shop.example"};
	static char paths[12][64];
	struct zone_source src[12];
	assert_true(count <= 12);
	for (size_t i = 0; i < count; i++) {
		char text[256], file[64];
		snprintf(text, sizeof(text), "$ORIGIN %s.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
		         origins[i]);
		snprintf(file, sizeof(file), "origin%zu.zone", i);
		snprintf(paths[i], sizeof(paths[i]), "%s", write_tmp(file, text));
		src[i] = (struct zone_source){.origin = origins[i], .file = paths[i]};
	}
	struct zone_table *t = NULL;
	char err[512];
	assert_int_equal(zone_table_build(src, count, &t, err, sizeof(err)), 0);
	return t;
}

/* The longest origin wins, without case, at label boundaries: the same with
 * 4 zones (compared one by one) and 12 (looked up by hash per ancestor). */
static void test_table_find_small_and_large(void **state)
{
	(void)state;
	const size_t sizes[] = {4, 12};
	for (size_t k = 0; k < 2; k++) {
		struct zone_table *t = build_origins(sizes[k]);
		const struct zone *z;
		/* wire() lower-cases; upper-case some letters by hand. */
		uint8_t mixed[DNAME_MAXLEN];
		memcpy(mixed, wire("www.eu.shop.example"), 21);
		mixed[6] = 'U';  /* eU */
		mixed[8] = 'S';  /* Shop */
		mixed[14] = 'X'; /* eXample */
		z = zone_table_find(t, mixed);
		assert_non_null(z);
		assert_memory_equal(z->origin, wire("eu.shop.example"), 17);
		z = zone_table_find(t, wire("q.a.eu.shop.example"));
		assert_non_null(z);
		assert_memory_equal(z->origin, wire("a.eu.shop.example"), 19);
		z = zone_table_find(t, wire("xeu.shop.example"));
		assert_non_null(z);
		assert_memory_equal(z->origin, wire("shop.example"), 14);
		z = zone_table_find(t, wire("g.example"));
		assert_non_null(z);
		assert_memory_equal(z->origin, wire(sizes[k] == 12 ? "g.example" : "example"), sizes[k] == 12 ? 11 : 9);
		z = zone_table_find(t, wire("y.x.a.eu.shop.example"));
		assert_non_null(z);
		assert_memory_equal(z->origin, wire(sizes[k] == 12 ? "x.a.eu.shop.example" : "a.eu.shop.example"),
		                    sizes[k] == 12 ? 21 : 19);
		assert_null(zone_table_find(t, wire("example.com")));
		assert_null(zone_table_find(t, wire("xexample")));
		assert_null(zone_table_find(t, wire(".")));
		zone_table_free(t);
	}
}

/* ------------------------------------------------------------- errors */

/* Loads one zone "shop.example" from text; returns the build result with
 * the message in err. */
static int load_text(const char *text, char *err, size_t errlen, const char **path)
{
	*path = write_tmp("t.zone", text);
	struct zone_source src = {"shop.example", *path};
	struct zone_table *t = (struct zone_table *)(uintptr_t)1;
	int rc = build_capture(&src, 1, &t, err, errlen);
	if (rc == 0) {
		assert_non_null(t);
		zone_table_free(t);
	} else {
		assert_null(t);
	}
	return rc;
}

#define HEAD "$ORIGIN shop.example.\n@ 3600 IN SOA ns1 hm 1 2 3 4 5\n  NS ns1\nns1 A 192.0.2.1\n"
#define HEAD_LEN_MAX 128

static void expect_error(const char *text, const char *fmt_after_path)
{
	char err[1024], expect[1200];
	const char *path;
	assert_int_equal(load_text(text, err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), "%s%s", path, fmt_after_path);
	assert_string_equal(err, expect);
}

static void test_error_cname(void **state)
{
	(void)state;
	expect_error(HEAD "www A 192.0.2.2\n"
	                  "www CNAME ns1\n",
	             ":6: CNAME and other data at www.shop.example.");
	/* other data after the CNAME: the later record is named */
	expect_error(HEAD "www CNAME ns1\n"
	                  "\n"
	                  "www TXT \"x\"\n",
	             ":7: CNAME and other data at www.shop.example.");
	expect_error(HEAD "www CNAME ns1\n"
	                  "www CNAME ns2\n",
	             ":6: more than one CNAME at www.shop.example.");
	/* CNAME at the apex clashes with SOA and NS */
	expect_error(HEAD "@ CNAME ns1\n", ":5: CNAME and other data at shop.example.");
	/* an identical second CNAME is just a duplicate */
	char err[512];
	const char *path;
	assert_int_equal(load_text(HEAD "www CNAME ns1\nwww CNAME NS1\n", err, sizeof(err), &path), 0);
}

static void test_error_out_of_zone(void **state)
{
	(void)state;
	expect_error(HEAD "other.example. A 192.0.2.9\n",
	             ":5: out-of-zone data: other.example. is not in shop.example.");
	expect_error(HEAD "$ORIGIN example.\nxshop A 192.0.2.9\n",
	             ":6: out-of-zone data: xshop.example. is not in shop.example.");
}

static void test_error_soa_ns(void **state)
{
	(void)state;
	expect_error("$ORIGIN shop.example.\n@ NS ns1\nns1 A 192.0.2.1\n",
	             ": no SOA at the apex shop.example.");
	expect_error("$ORIGIN shop.example.\n@ SOA ns1 hm 1 2 3 4 5\nns1 A 192.0.2.1\n",
	             ": no NS at the apex shop.example.");
	expect_error(HEAD "\nsub SOA ns1 hm 1 2 3 4 5\n", ":6: SOA not at the apex: sub.shop.example.");
	expect_error(HEAD "@ SOA ns1 hm 2 2 3 4 5\n", ":5: more than one SOA at the apex shop.example.");
	/* an empty file has no SOA either */
	expect_error("", ": no SOA at the apex shop.example.");
}

static void test_error_class_and_syntax(void **state)
{
	(void)state;
	expect_error(HEAD "txt CH TXT \"x\"\n", ":5: class CH is not supported (only IN)");
	/* ldns's own message, at the line where the bad record starts */
	expect_error(HEAD "; comment\n\nbad A 300.1.1.1\n",
	             ":7: Syntax error, could not parse the RR's rdata");
	expect_error(HEAD "x A\n", ":5: Syntax error, value expected");
	/* RFC 3597 form whose length does not match its data */
	expect_error(HEAD "u TYPE65534 \\# 4 0a0b\n", ":5: Syntax error, could not parse the RR's rdata");
	/* a record spread over lines is reported where it starts */
	expect_error(HEAD "m MX ( 10\n  bad..name )\n", ":5: Syntax error, could not parse the RR's rdata");
}

static struct zone_table *load_named(const char *name, const char *text);

/* Directives are read in full (ldns alone skips an unknown one, and reads
 * "$TTL -1" as 1 and "$TTL abc" as nothing). */
static void test_error_directives(void **state)
{
	(void)state;
	expect_error(HEAD "$TTL -1\n", ":5: bad $TTL value '-1': want seconds (or units such as 1h30m), at most "
	                               "2147483647");
	expect_error(HEAD "$TTL abc\n", ":5: bad $TTL value 'abc': want seconds (or units such as 1h30m), at most "
	                                "2147483647");
	expect_error(HEAD "\n; a comment\n$TTL 2147483648\n",
	             ":7: bad $TTL value '2147483648': want seconds (or units such as 1h30m), at most 2147483647");
	expect_error(HEAD "$TTL\n", ":5: bad $TTL value '': want seconds (or units such as 1h30m), at most 2147483647");
	expect_error(HEAD "$TTL 3600 junk\n", ":5: $TTL takes one value; the rest of the line is not understood");
	expect_error(HEAD "$ORIGIN a.shop.example. junk\n",
	             ":5: $ORIGIN takes one name; the rest of the line is not understood");
	expect_error(HEAD "$FOO bar\n", ":5: unknown directive $FOO (zone files know $ORIGIN, $INCLUDE and $TTL)");
	expect_error(HEAD "$GENERATE 1-3 h$ A 192.0.2.$\n",
	             ":5: unknown directive $GENERATE (zone files know $ORIGIN, $INCLUDE and $TTL)");

	/* what is right loads: units, a comment after the value, $ORIGIN with a comment */
	struct zone_table *t = load_named("dir.zone", HEAD "$TTL 1h30m ; comment\n"
	                                                "a A 192.0.2.10\n"
	                                                "$TTL 2147483647\n"
	                                                "b A 192.0.2.11\n"
	                                                "$ORIGIN sub.shop.example. ; below\n"
	                                                "c A 192.0.2.12\n");
	const struct zone *z = shop_zone(t);
	assert_int_equal(rrset_at(z, "a.shop.example", T_A)->ttl, 5400);
	assert_int_equal(rrset_at(z, "b.shop.example", T_A)->ttl, 2147483647);
	assert_non_null(rrset_at(z, "c.sub.shop.example", T_A));
	zone_table_free(t);
}

/* Numbers ldns would wrap are range-checked against the record's text. */
static void test_error_number_ranges(void **state)
{
	(void)state;
	expect_error(HEAD "i 4294967296 A 192.0.2.20\n",
	             ":5: TTL 4294967296 of this A record is out of range (at most 2147483647)");
	expect_error(HEAD "t 2147483648 IN TXT \"x\"\n",
	             ":5: TTL 2147483648 of this TXT record is out of range (at most 2147483647)");
	expect_error(HEAD "@ MX 70000 ns1\n", ":5: 70000 in this MX record is out of range (at most 65535)");
	expect_error(HEAD "\n_s._tcp SRV 0 ( 0\n 70000 ns1 )\n",
	             ":6: 70000 in this SRV record is out of range (at most 65535)");
	expect_error(HEAD "@ CAA 256 issue \"ca.example\"\n", ":5: 256 in this CAA record is out of range (at most 255)");
	expect_error(HEAD "x 300 IN SOA ns1 hm 4294967296 1 2 3 4\n",
	             ":5: 4294967296 in this SOA record is out of range (at most 4294967295)");
	expect_error(HEAD "  MX 65536 ns1\n", ":5: 65536 in this MX record is out of range (at most 65535)");
	/* the largest values, numbers inside strings, and RFC 3597 rdata load */
	struct zone_table *t = load_named("ranges.zone", HEAD "@ MX 65535 ns1\n"
	                                                   "c 2147483647 CAA 255 issue \"x 70000\"\n"
	                                                   "s SRV 65535 65535 65535 ns1\n"
	                                                   "u TYPE65280 \\# 2 0102\n"
	                                                   "txt TXT \"70000\" 99999999999\n");
	const struct zone *z = shop_zone(t);
	assert_int_equal(rrset_at(z, "c.shop.example", 257)->ttl, 2147483647);
	assert_non_null(rrset_at(z, "s.shop.example", 33));
	zone_table_free(t);
}

/* What ldns forgives in a record's text or a file's bytes is an error here. */
static void test_error_record_text(void **state)
{
	(void)state;
	expect_error(HEAD "www TXT \"abc\nnext A 192.0.2.7\n", ":5: a quoted string is not closed");
	expect_error(HEAD "www TXT ( \"abc\"\nnext A 192.0.2.7\n", ":5: '(' is not closed");
	expect_error(HEAD "www TXT \"abc\" )\n", ":5: ')' without '('");
	expect_error(HEAD "ok A 192.0.2.8\n\xff\xfe\x01 garbage\nnext A 192.0.2.7\n",
	             ":6: control byte 0x01: not a text file? (write bytes as \\DDD)");
	expect_error("$ORIGIN shop.example.\r@ 3600 IN SOA ns1 hm 1 2 3 4 5\r",
	             ":1: a carriage return without a line feed (line ends must be LF or CRLF)");
	static char big[HEAD_LEN_MAX + 300 * 258 + 64];
	size_t n = (size_t)snprintf(big, sizeof big, "%swww TXT", HEAD);
	for (int i = 0; i < 300; i++) {
		big[n++] = ' ';
		big[n++] = '"';
		memset(big + n, 'a', 255);
		n += 255;
		big[n++] = '"';
	}
	snprintf(big + n, sizeof big - n, "\n");
	expect_error(big, ":5: this TXT record has more strings than its rdata can hold (65535 bytes)");
	/* what is right loads: CRLF, tabs, parentheses and quotes across lines, ";" in a string */
	struct zone_table *t = load_named("text.zone", HEAD "m\tTXT ( \"a;b\"\r\n  \"c)\" ) ; done\r\n"
	                                                  "q TXT \"x\\\"y\"\n");
	const struct zone_rrset *txt = rrset_at(shop_zone(t), "m.shop.example", T_TXT);
	assert_non_null(txt);
	assert_int_equal(txt->rdata[0].len, 4 + 3);
	zone_table_free(t);
}

static void test_error_include(void **state)
{
	(void)state;
	char expect[1200];
	char err[1024];
	const char *path;

	/* a missing include names the including line */
	assert_int_equal(load_text(HEAD "$INCLUDE missing.inc\n", err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), "%s:5: cannot read %s: No such file or directory", path,
	         tmp_path("missing.inc"));
	assert_string_equal(err, expect);

	/* only regular files are read: /dev/zero never ends, a FIFO would
	 * block (the include line is named, nothing hangs) */
	assert_int_equal(load_text(HEAD "$INCLUDE /dev/zero\n", err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), "%s:5: cannot read /dev/zero: not a regular file: a character device", path);
	assert_string_equal(err, expect);
	const char *fifo = tmp_path("fifo.inc");
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(load_text(HEAD "$INCLUDE fifo.inc\n", err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), "%s:5: cannot read %s: not a regular file: a FIFO", path, fifo);
	assert_string_equal(err, expect);
	struct zone_source dev = {"shop.example", "/dev/zero"};
	struct zone_table *none = NULL;
	assert_int_equal(build_capture(&dev, 1, &none, err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/zero: cannot read: not a regular file: a character device");
	unlink(fifo);

	/* an error inside an included file names that file and its line */
	const char *inc = write_tmp("bad.inc", "ok A 192.0.2.1\n\nbad AAAA nonsense\n");
	assert_int_equal(load_text(HEAD "$INCLUDE \"bad.inc\"\n", err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), "%s:3: Syntax error, could not parse the RR's rdata", inc);
	assert_string_equal(err, expect);

	/* a file including itself stops at the depth bound */
	const char *loop = write_tmp("loop.inc", "x A 192.0.2.1\n$INCLUDE loop.inc\n");
	assert_int_equal(load_text(HEAD "$INCLUDE loop.inc\n", err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), "%s:2: $INCLUDE nested more than 8 deep", loop);
	assert_string_equal(err, expect);

	/* Without a cycle the depth bound does not stop a fan-out (each of
	 * d1..d5 includes the next ten times: 111,111 files to read); the
	 * count of files does, at the include line that crosses it. */
	char name[32], text[256];
	write_tmp("d6.inc", "y TXT \"b\"\n");
	for (int d = 1; d <= 5; d++) {
		text[0] = '\0';
		for (int i = 0; i < 10; i++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "$INCLUDE d%d.inc\n", d + 1);
		snprintf(name, sizeof name, "d%d.inc", d);
		write_tmp(name, text);
	}
	assert_int_equal(load_text(HEAD "$INCLUDE d1.inc\n", err, sizeof(err), &path), -1);
	char d6[1024];
	snprintf(d6, sizeof d6, "%s", tmp_path("d6.inc"));
	snprintf(expect, sizeof(expect), "%s:1: $INCLUDE %s: the zone would read more than 65536 files",
	         tmp_path("d5.inc"), d6);
	assert_string_equal(err, expect);

	/* an include's origin is relative to the current one */
	write_tmp("o.inc", "@ A 192.0.2.5\n");
	write_tmp("t2.zone", HEAD "$INCLUDE o.inc a.b\n$INCLUDE o.inc c.shop.example.\n");
	struct zone_source src = {"shop.example", tmp_path("t2.zone")};
	struct zone_table *t = NULL;
	assert_int_equal(build_capture(&src, 1, &t, err, sizeof(err)), 0);
	const struct zone *z = zone_table_at(t, 0);
	assert_non_null(rrset_at(z, "a.b.shop.example", T_A));
	assert_non_null(rrset_at(z, "c.shop.example", T_A));
	zone_table_free(t);
}

static void test_error_table(void **state)
{
	(void)state;
	char err[1024], expect[1200];
	struct zone_table *t = NULL;
	const char *a = write_tmp("a.zone", HEAD);

	struct zone_source two[] = {{"shop.example", a}, {"Shop.Example.", a}};
	assert_int_equal(build_capture(two, 2, &t, err, sizeof(err)), -1);
	assert_null(t);
	snprintf(expect, sizeof(expect), "%s: zone shop.example. is configured twice (first from %s)", a, a);
	assert_string_equal(err, expect);

	struct zone_source bad[] = {{"shop..example", a}};
	assert_int_equal(build_capture(bad, 1, &t, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: invalid zone origin 'shop..example'", a);
	assert_string_equal(err, expect);

	/* With the configuration's place known, that is what is named: the
	 * mistake is in the YAML, not in the zone file. */
	two[1].config_file = "geosteer.yaml";
	two[1].config_line = 14;
	assert_int_equal(build_capture(two, 2, &t, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "geosteer.yaml:14: zone shop.example. is configured twice (first from %s)", a);
	assert_string_equal(err, expect);
	bad[0].config_file = "geosteer.yaml";
	bad[0].config_line = 9;
	assert_int_equal(build_capture(bad, 1, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "geosteer.yaml:9: invalid zone origin 'shop..example'");
	/* An origin of several lines (a YAML string can be) is quoted on one
	 * line (found by fuzz_config). */
	bad[0].origin = "shop\n\n..example";
	assert_int_equal(build_capture(bad, 1, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "geosteer.yaml:9: invalid zone origin 'shop??..example'");

	char nope[1024];
	snprintf(nope, sizeof(nope), "%s", tmp_path("nope.zone"));
	struct zone_source missing[] = {{"shop.example", a}, {"other.example", nope}};
	assert_int_equal(build_capture(missing, 2, &t, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: cannot read: No such file or directory", nope);
	assert_string_equal(err, expect);

	/* with the config line that names it, the error points there */
	missing[1].config_file = "geosteer.yaml";
	missing[1].config_line = 12;
	assert_int_equal(build_capture(missing, 2, &t, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "geosteer.yaml:12: cannot read %s: No such file or directory", nope);
	assert_string_equal(err, expect);

	/* no zones at all is a valid, empty table */
	assert_int_equal(build_capture(NULL, 0, &t, err, sizeof(err)), 0);
	assert_int_equal(zone_table_count(t), 0);
	assert_null(zone_table_find(t, wire("shop.example")));
	zone_table_free(t);
}

/* ------------------------------------------------------ policy bindings */

/* Stand-ins for the policy module's records: zone only stores the pointer. */
static const char policy_dummies[4];
#define POLICY(i) ((const struct policy_record *)(const void *)&policy_dummies[i])

#define BIND_ZONE                                                                                            \
	HEAD "static A 192.0.2.9\n"                                                                          \
	     "v6 AAAA 2001:db8::9\n"                                                                         \
	     "alias CNAME ns1\n"                                                                             \
	     "txt TXT \"kept\"\n"                                                                            \
	     "sub NS ns.elsewhere.example.\n"

/* Builds zone shop.example from text with these bindings. */
static int bind_text(const char *text, const struct zone_policy_binding *b, size_t n, struct zone_table **t,
                     char *err, size_t errlen, const char **path)
{
	*path = write_tmp("t.zone", text);
	struct zone_source src = {"shop.example", *path, b, n};
	*t = (struct zone_table *)(uintptr_t)1;
	int rc = build_capture(&src, 1, t, err, errlen);
	if (rc != 0)
		assert_null(*t);
	return rc;
}

static void expect_bind_error(const struct zone_policy_binding *b, size_t n, const char *fmt_with_path)
{
	char err[1024], expect[1200];
	const char *path;
	struct zone_table *t;
	assert_int_equal(bind_text(BIND_ZONE, b, n, &t, err, sizeof(err), &path), -1);
	snprintf(expect, sizeof(expect), fmt_with_path, path); /* %s: the zone file, when named */
	assert_string_equal(err, expect);
}

static void test_policy_bindings(void **state)
{
	(void)state;
	const struct zone_policy_binding b[] = {
	    {"@", POLICY(0), "geosteer.yaml", 10},
	    {"www", POLICY(1), "geosteer.yaml", 11},
	    {"a.b.Deep", POLICY(2), "geosteer.yaml", 12},
	    {"TXT.shop.example.", POLICY(3), "geosteer.yaml", 13},
	    {"*.geo", POLICY(1), "geosteer.yaml", 14},
	};
	char err[1024];
	const char *path;
	struct zone_table *t;
	if (bind_text(BIND_ZONE, b, 5, &t, err, sizeof(err), &path) != 0)
		fail_msg("%s", err);
	const struct zone *z = zone_table_at(t, 0);

	/* The apex keeps its SOA and NS beside the policy. */
	assert_ptr_equal(z->apex->policy, POLICY(0));
	assert_non_null(zone_node_rrset(z->apex, T_SOA));
	assert_non_null(zone_node_rrset(z->apex, T_NS));
	assert_non_null(z->soa);

	/* A bound name without data gets a node of its own, found EXACT. */
	struct zone_lookup l;
	zone_lookup(z, wire("www.shop.example"), T_A, &l);
	assert_int_equal(l.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(l.node->policy, POLICY(1));
	assert_int_equal(l.node->rrset_count, 0);
	assert_ptr_equal(zone_node_find(z, wire("www.shop.example")), l.node);

	/* ... and so do its ancestors, as empty non-terminals without a policy. */
	zone_lookup(z, wire("a.b.deep.shop.example"), T_AAAA, &l);
	assert_int_equal(l.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(l.node->policy, POLICY(2));
	static const char *const ents[] = {"b.deep.shop.example", "deep.shop.example", "geo.shop.example"};
	for (size_t i = 0; i < 3; i++) {
		zone_lookup(z, wire(ents[i]), T_A, &l);
		assert_int_equal(l.match, ZONE_MATCH_EXACT);
		assert_int_equal(l.node->rrset_count, 0);
		assert_null(l.node->policy);
	}
	zone_lookup(z, wire("c.deep.shop.example"), T_A, &l);
	assert_int_equal(l.match, ZONE_MATCH_NXDOMAIN);

	/* An absolute name with other data keeps that data. */
	const struct zone_node *txt = zone_node_find(z, wire("txt.shop.example"));
	assert_non_null(txt);
	assert_ptr_equal(txt->policy, POLICY(3));
	assert_non_null(zone_node_rrset(txt, T_TXT));

	/* A bound wildcard synthesises for the names below it. */
	zone_lookup(z, wire("anything.geo.shop.example"), T_A, &l);
	assert_int_equal(l.match, ZONE_MATCH_WILDCARD);
	assert_ptr_equal(l.node->policy, POLICY(1));

	/* Unbound names stay static. */
	assert_null(zone_node_find(z, wire("static.shop.example"))->policy);
	assert_null(zone_node_find(z, wire("ns1.shop.example"))->policy);
	assert_int_equal(z->node_count, 13); /* 7 from the file; www, a.b.deep, b.deep, deep, *.geo, geo */
	zone_table_free(t);
}

static void test_policy_binding_errors(void **state)
{
	(void)state;
	const struct zone_policy_binding stat[] = {{"static", POLICY(0), "geosteer.yaml", 31}};
	expect_bind_error(stat, 1,
	                  "geosteer.yaml:31: static.shop.example. has a policy and static A data (%s:5)");
	const struct zone_policy_binding v6[] = {{"v6.shop.example.", POLICY(0), "geosteer.yaml", 7}};
	expect_bind_error(v6, 1,
	                  "geosteer.yaml:7: v6.shop.example. has a policy and static AAAA data (%s:6)");
	const struct zone_policy_binding alias[] = {{"alias", POLICY(0), "geosteer.yaml", 8}};
	expect_bind_error(alias, 1,
	                  "geosteer.yaml:8: alias.shop.example. has a policy and static CNAME data (%s:7)");
	const struct zone_policy_binding ns1[] = {{"ns1", POLICY(0), "geosteer.yaml", 9}};
	expect_bind_error(ns1, 1, "geosteer.yaml:9: ns1.shop.example. has a policy and static A data (%s:4)");

	const struct zone_policy_binding twice[] = {
	    {"www", POLICY(0), "geosteer.yaml", 31},
	    {"api", POLICY(1), "geosteer.yaml", 32},
	    {"WWW.shop.example.", POLICY(1), "geosteer.yaml", 33},
	};
	expect_bind_error(
	    twice, 3, "geosteer.yaml:33: www.shop.example. has a policy twice (first at geosteer.yaml:31)");
	const struct zone_policy_binding apex_twice[] = {
	    {"@", POLICY(0), "geosteer.yaml", 3},
	    {"shop.example.", POLICY(1), "geosteer.yaml", 4},
	};
	expect_bind_error(apex_twice, 2,
	                  "geosteer.yaml:4: shop.example. has a policy twice (first at geosteer.yaml:3)");

	const struct zone_policy_binding outside[] = {{"www.other.example.", POLICY(0), "geosteer.yaml", 5}};
	expect_bind_error(
	    outside, 1, "geosteer.yaml:5: www.other.example. has a policy but is not in zone shop.example.");
	const struct zone_policy_binding parent[] = {{"example.", POLICY(0), "geosteer.yaml", 5}};
	expect_bind_error(parent, 1,
	                  "geosteer.yaml:5: example. has a policy but is not in zone shop.example.");

	const struct zone_policy_binding cut[] = {{"sub", POLICY(0), "geosteer.yaml", 6}};
	expect_bind_error(cut, 1,
	                  "geosteer.yaml:6: sub.shop.example. has a policy but is a zone cut (NS records "
	                  "there delegate it)");
	const struct zone_policy_binding below[] = {{"www.x.sub", POLICY(0), "geosteer.yaml", 6}};
	expect_bind_error(below, 1,
	                  "geosteer.yaml:6: www.x.sub.shop.example. has a policy but is below the zone cut "
	                  "at sub.shop.example.");

	const struct zone_policy_binding bad[] = {{"a..b", POLICY(0), "geosteer.yaml", 2}};
	expect_bind_error(bad, 1, "geosteer.yaml:2: bad name 'a..b' for a policy in zone shop.example.");
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name));
	for (size_t i = 63; i < 260; i += 64)
		long_name[i] = '.';
	long_name[250] = '\0'; /* fits alone, not under the origin */
	const struct zone_policy_binding toolong[] = {{long_name, POLICY(0), NULL, 2}};
	char msg[600];
	snprintf(msg, sizeof(msg), "(config):2: bad name '%s' for a policy in zone shop.example.", long_name);
	expect_bind_error(toolong, 1, msg);
}

/* RFC 6672: a DNAME rewrites the names below it, never the name itself;
 * data below it is never answered (dropped with a warning), a policy there
 * is an error, and a DNAME RRset holds one record. */
static void test_dname_rrsets(void **state)
{
	(void)state;
	char err[1024], expect[1200];
	const char *path;
	struct zone_table *t;
	static const char zone[] = HEAD "old DNAME new\n"
	                                "old TXT \"kept beside it\"\n"
	                                "x.old A 192.0.2.7\n"
	                                "new A 192.0.2.8\n";
	assert_int_equal(bind_text(zone, NULL, 0, &t, err, sizeof(err), &path), 0);
	const struct zone *z = zone_table_at(t, 0);
	const struct zone_node *old = zone_node_find(z, wire("old.shop.example"));
	assert_non_null(old);
	assert_true(old->flags & ZONE_NODE_DNAME);
	assert_false(z->apex->flags & ZONE_NODE_DNAME);
	assert_non_null(zone_node_rrset(old, T_TXT));
	snprintf(expect, sizeof(expect),
	         "%s:7: dropping occluded A at x.old.shop.example.: it is below the DNAME at old.shop.example. "
	         "(RFC 6672 2.3)",
	         path);
	assert_non_null(strstr(warnings, expect));
	assert_int_equal(zone_node_find(z, wire("x.old.shop.example"))->rrset_count, 0);

	struct zone_lookup r;
	lookup(z, "old.shop.example", T_A, &r); /* the owner itself: ordinary data */
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	assert_ptr_equal(r.node, old);
	const char *below[] = {"x.old.shop.example", "y.old.shop.example", "a.b.old.shop.example"};
	for (size_t i = 0; i < 3; i++) {
		lookup(z, below[i], T_A, &r);
		assert_int_equal(r.match, ZONE_MATCH_DNAME);
		assert_ptr_equal(r.node, old);
	}
	lookup(z, "x.new.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_NXDOMAIN);
	zone_table_free(t);

	/* At the apex it rewrites every name below the apex. */
	assert_int_equal(bind_text(HEAD "@ DNAME example.net.\n", NULL, 0, &t, err, sizeof(err), &path), 0);
	z = zone_table_at(t, 0);
	lookup(z, "anything.shop.example", T_A, &r);
	assert_int_equal(r.match, ZONE_MATCH_DNAME);
	assert_ptr_equal(r.node, z->apex);
	lookup(z, "shop.example", T_SOA, &r);
	assert_int_equal(r.match, ZONE_MATCH_EXACT);
	zone_table_free(t);

	const struct zone_policy_binding under[] = {{"www.old", POLICY(0), "geosteer.yaml", 9}};
	assert_int_equal(bind_text(zone, under, 1, &t, err, sizeof(err), &path), -1);
	assert_string_equal(err, "geosteer.yaml:9: www.old.shop.example. has a policy but is below the DNAME at "
	                         "old.shop.example., which redirects it");
	expect_error(HEAD "d DNAME a\nd DNAME b\n", ":6: more than one DNAME at d.shop.example. (RFC 6672 2.4)");
}

static void test_policy_binding_other_zone(void **state)
{
	(void)state;
	/* shop.example does not delegate eu, but eu.shop.example is loaded:
	 * queries for www.eu go there, never to a policy bound in the parent. */
	char err[1024];
	struct zone_table *t = NULL;
	const char *parent = write_tmp("a.zone", HEAD);
	const struct zone_policy_binding b[] = {{"www.eu", POLICY(0), "geosteer.yaml", 40}};
	struct zone_source src[] = {
	    {"shop.example", parent, b, 1},
	    {"eu.shop.example", fixture("eu.shop.example.zone"), NULL, 0},
	};
	assert_int_equal(build_capture(src, 2, &t, err, sizeof(err)), -1);
	assert_null(t);
	assert_string_equal(err,
	                    "geosteer.yaml:40: www.eu.shop.example. has a policy in zone shop.example. but "
	                    "is served by zone eu.shop.example.");

	/* Bound in the zone that serves it, it is fine. */
	const struct zone_policy_binding c[] = {{"api", POLICY(2), "geosteer.yaml", 41}};
	src[0].bindings = NULL;
	src[0].binding_count = 0;
	src[1].bindings = c;
	src[1].binding_count = 1;
	assert_int_equal(build_capture(src, 2, &t, err, sizeof(err)), 0);
	const struct zone *eu = zone_table_find(t, wire("api.eu.shop.example"));
	assert_non_null(eu);
	assert_ptr_equal(zone_node_find(eu, wire("api.eu.shop.example"))->policy, POLICY(2));
	zone_table_free(t);
}

static int setup(void **state)
{
	(void)state;
	snprintf(fixture_dir, sizeof(fixture_dir), "%s", __FILE__);
	char *slash = strrchr(fixture_dir, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		snprintf(fixture_dir, sizeof(fixture_dir), ".");
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/test_zone.XXXXXX");
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	const char *names[] = {"t.zone", "t2.zone", "a.zone", "bad.inc", "loop.inc", "o.inc", "stderr.log"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(names[i]));
	rmdir(tmp_dir);
	return 0;
}

/* ------------------------------------------------------------ fast path */

/* Loads text as zone shop.example from file name; asserts success. */
static struct zone_table *load_named(const char *name, const char *text)
{
	struct zone_source src = {"shop.example", write_tmp(name, text)};
	struct zone_table *t = NULL;
	char err[512];
	int rc = build_capture(&src, 1, &t, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "build failed: %s\n", err);
	assert_int_equal(rc, 0);
	return t;
}

/* RFC 2181 5.2: an RRset whose records disagree on the TTL uses the lowest,
 * wherever it is in the file; each other record is named in a warning. */
static void test_rrset_ttl_lowest(void **state)
{
	(void)state;
	struct zone_table *t = load_named("ttlmix.zone", "$TTL 3600\n"
	                                                 "@ SOA ns1 host 1 2 3 4 5\n"
	                                                 "@ NS ns1\n"
	                                                 "ns1 A 192.0.2.53\n"
	                                                 "mix 600 A 192.0.2.1\n"
	                                                 "mix 300 A 192.0.2.2\n"
	                                                 "mix 900 A 192.0.2.3\n");
	const struct zone_rrset *a = rrset_at(shop_zone(t), "mix.shop.example", T_A);
	assert_non_null(a);
	assert_int_equal(a->count, 3);
	assert_int_equal(a->ttl, 300);
	assert_non_null(strstr(warnings, ":5: TTL 600 of this A record at mix.shop.example. is not the lowest"));
	assert_non_null(strstr(warnings, ":7: TTL 900 of this A record"));
	assert_non_null(strstr(warnings, "the RRset uses 300 (RFC 2181 5.2)"));
	assert_null(strstr(warnings, ":6: TTL"));
	zone_table_free(t);
}

/*
 * Simple address lines are parsed without ldns.  The same zone is loaded
 * twice: as written, and with " ;x" after every record line, which sends
 * every line through ldns; both must give the same records (TTL defaults,
 * explicit TTLs, class, case, absolute names, $ORIGIN, the previous owner
 * handed to a following blank-owner line, lines the fast path declines).
 */
static void test_fast_path_matches_ldns(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "a A 192.0.2.10",        /* no $TTL yet: 3600, like ldns */
	    "$TTL 50",
	    "b 100 A 192.0.2.11",
	    "  A 192.0.2.12",        /* owner b, from the fast path */
	    "c IN A 192.0.2.13",
	    "C.shop.example. 0300 in aaaa 2001:DB8::1",
	    "d\tIN\tAAAA\t::ffff:192.0.2.1  ",
	    "e 0 A 192.0.2.14",
	    "\tAAAA ::2",
	    "$TTL 0",
	    "f A 192.0.2.15",        /* $TTL 0: ldns uses 3600 */
	    "*.w A 192.0.2.16",
	    "x-y_z.Sub A 192.0.2.17",
	    "$ORIGIN sub.shop.example.",
	    "g A 192.0.2.18",
	    "G.SUB.shop.example. A 192.0.2.19",
	    "$ORIGIN shop.example.",
	    "i 2147483647 A 192.0.2.20", /* declined (10 digits): ldns reads it */
	    "j 3h A 192.0.2.21",
	    "k 1000000000 A 192.0.2.22",
	    "l 999999999 A 192.0.2.23",
	};
	char plain[4096], commented[4096];
	size_t np = (size_t)snprintf(plain, sizeof(plain), "%s", HEAD);
	size_t nc = (size_t)snprintf(commented, sizeof(commented), "%s", HEAD);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		bool directive = lines[i][0] == '$';
		np += (size_t)snprintf(plain + np, sizeof(plain) - np, "%s\n", lines[i]);
		nc += (size_t)snprintf(commented + nc, sizeof(commented) - nc, "%s%s\n", lines[i],
		                       directive ? "" : " ;x");
	}
	struct zone_table *fast = load_named("t.zone", plain);
	struct zone_table *slow = load_named("t2.zone", commented);
	const struct zone *zf = zone_table_at(fast, 0), *zs = zone_table_at(slow, 0);
	assert_int_equal(zf->node_count, zs->node_count);
	assert_int_equal(zf->rr_count, zs->rr_count);
	assert_int_equal(zf->rr_count, 3 + 17);

	static const char *const names[] = {"a", "b", "c", "d", "e", "f", "*.w", "w", "x-y_z.sub", "sub",
	                                    "g.sub", "i", "j", "k", "l"};
	int checked = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char full[128];
		snprintf(full, sizeof(full), "%s.shop.example", names[i]);
		const struct zone_node *nf = zone_node_find(zf, wire(full));
		const struct zone_node *ns = zone_node_find(zs, wire(full));
		assert_non_null(nf);
		assert_non_null(ns);
		assert_int_equal(nf->rrset_count, ns->rrset_count);
		for (uint16_t k = 0; k < nf->rrset_count; k++) {
			const struct zone_rrset *a = &nf->rrsets[k], *b = &ns->rrsets[k];
			assert_int_equal(a->type, b->type);
			assert_int_equal(a->ttl, b->ttl);
			assert_int_equal(a->count, b->count);
			for (uint16_t r = 0; r < a->count; r++)
				assert_rdata(&a->rdata[r], b->rdata[r].data, b->rdata[r].len);
			checked++;
		}
	}
	assert_int_equal(checked, 15);
	/* Spot checks of what both agree on. */
	assert_int_equal(rrset_at(zf, "a.shop.example", T_A)->ttl, 3600);
	assert_int_equal(rrset_at(zf, "b.shop.example", T_A)->count, 2);
	assert_int_equal(rrset_at(zf, "b.shop.example", T_A)->ttl, 50); /* 100 and $TTL 50: the lowest */
	assert_int_equal(rrset_at(zf, "c.shop.example", T_AAAA)->ttl, 300);
	assert_int_equal(rrset_at(zf, "e.shop.example", T_AAAA)->ttl, 50);
	assert_int_equal(rrset_at(zf, "f.shop.example", T_A)->ttl, 3600);
	assert_int_equal(rrset_at(zf, "i.shop.example", T_A)->ttl, 2147483647);
	assert_int_equal(rrset_at(zf, "j.shop.example", T_A)->ttl, 10800);
	assert_int_equal(rrset_at(zf, "l.shop.example", T_A)->ttl, 999999999);
	zone_table_free(fast);
	zone_table_free(slow);
}

/* Errors on and after fast-path lines name the right line. */
static void test_fast_path_errors(void **state)
{
	(void)state;
	char err[1024];
	const char *path;
	assert_int_equal(load_text(HEAD "a A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2\n", err, sizeof(err), &path),
	                 -1);
	char expect[1200];
	snprintf(expect, sizeof(expect), "%s:7: ", path);
	assert_memory_equal(err, expect, strlen(expect));
	expect_error(HEAD "a A 192.0.2.1\n\nb.other. A 192.0.2.2\n",
	             ":7: out-of-zone data: b.other. is not in shop.example.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_summary),
	    cmocka_unit_test(test_load_types_wire),
	    cmocka_unit_test(test_load_rrsets_sorted_and_deduplicated),
	    cmocka_unit_test(test_rrset_ttl_lowest),
	    cmocka_unit_test(test_load_include_and_origin),
	    cmocka_unit_test(test_load_empty_non_terminals),
	    cmocka_unit_test(test_glue_and_occlusion),
	    cmocka_unit_test(test_additional_links),
	    cmocka_unit_test(test_lookup_exact_and_ent),
	    cmocka_unit_test(test_lookup_wildcard),
	    cmocka_unit_test(test_lookup_rfc4592),
	    cmocka_unit_test(test_lookup_delegation),
	    cmocka_unit_test(test_table_find_nested),
	    cmocka_unit_test(test_table_find_small_and_large),
	    cmocka_unit_test(test_error_cname),
	    cmocka_unit_test(test_error_out_of_zone),
	    cmocka_unit_test(test_error_soa_ns),
	    cmocka_unit_test(test_error_class_and_syntax),
	    cmocka_unit_test(test_error_directives),
	    cmocka_unit_test(test_error_number_ranges),
	    cmocka_unit_test(test_error_record_text),
	    cmocka_unit_test(test_error_include),
	    cmocka_unit_test(test_error_table),
	    cmocka_unit_test(test_policy_bindings),
	    cmocka_unit_test(test_policy_binding_errors),
	    cmocka_unit_test(test_policy_binding_other_zone),
	    cmocka_unit_test(test_dname_rrsets),
	    cmocka_unit_test(test_fast_path_matches_ldns),
	    cmocka_unit_test(test_fast_path_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
