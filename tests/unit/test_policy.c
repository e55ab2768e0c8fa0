/*
 * Unit tests for the policy module: sets are built from config structs
 * filled in here (independent of the YAML parser), with GeoIP fixtures made
 * by tools/mkgeodb from tests/unit/policy/ text files into $GEOSTEER_FIXTURES
 * (default build/fixtures).  The store example of issue 3 is the backbone.
 */
#include <arpa/inet.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "health.h"
#include "policy.h"

static char city_db[512], asn_db[512];

static const char *fixture_dir(void)
{
	const char *d = getenv("GEOSTEER_FIXTURES");
	return d && *d ? d : "build/fixtures";
}

static int make_fixture(const char *src, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", fixture_dir(), name);
	struct stat st, ss;
	if (stat(out, &st) == 0 && stat(src, &ss) == 0 && st.st_mtime >= ss.st_mtime)
		return 0;
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && tools/mkgeodb '%s' '%s'", fixture_dir(), src, out);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	(void)state;
	if (make_fixture("tests/unit/policy/city.txt", "policy-city.mmdb", city_db, sizeof(city_db)) < 0 ||
	    make_fixture("tests/unit/policy/asn.txt", "policy-asn.mmdb", asn_db, sizeof(asn_db)) < 0) {
		fprintf(stderr, "cannot build GeoIP fixtures with tools/mkgeodb\n");
		return -1;
	}
	return 0;
}

/* ---- config builder ---- */

#define MAX_DC 70
#define MAX_POL 16
#define MAX_TGT 16

struct tb {
	struct config cfg;
	struct config_datacenter dcs[MAX_DC];
	char *a[MAX_DC][2], *aaaa[MAX_DC][1];
	struct config_policy pols[MAX_POL];
	struct config_policy_target tgts[MAX_POL][MAX_TGT];
	struct config_fence fences[4];
	char *clients[4][8], *allowed[4][8];
	struct config_zone zone;
	struct config_record recs[16];
	struct policy_set *set;
	char err[512];
};

static struct tb *tb_new(bool with_db)
{
	health_reset();
	struct tb *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->cfg.path = "test.yaml";
	t->cfg.geoip.client_subnet = true;
	t->cfg.geoip.line = 2;
	if (with_db)
		t->cfg.geoip.database = city_db;
	t->cfg.datacenters = t->dcs;
	t->cfg.policies = t->pols;
	t->cfg.fences = t->fences;
	t->zone.origin = "shop.example";
	t->zone.records = t->recs;
	t->zone.line = 50;
	t->cfg.zones = &t->zone;
	t->cfg.zone_count = 1;
	return t;
}

static void tb_free(struct tb *t)
{
	policy_set_free(t->set);
	free(t);
}

/* lat NAN: no location */
static void tb_dc(struct tb *t, const char *name, int line, double lat, double lon, const char *jur,
                  const char *a, const char *aaaa, const char *cname)
{
	size_t i = t->cfg.datacenter_count++;
	struct config_datacenter *d = &t->dcs[i];
	d->name = (char *)name;
	d->line = line;
	d->has_location = !isnan(lat);
	d->latitude = lat;
	d->longitude = lon;
	d->jurisdiction = (char *)jur;
	if (a) {
		t->a[i][0] = (char *)a;
		d->a = t->a[i];
		d->a_count = 1;
	}
	if (aaaa) {
		t->aaaa[i][0] = (char *)aaaa;
		d->aaaa = t->aaaa[i];
		d->aaaa_count = 1;
	}
	d->cname = (char *)cname;
}

static struct config_policy *tb_pol(struct tb *t, const char *name, int line, enum config_policy_kind kind)
{
	size_t i = t->cfg.policy_count++;
	struct config_policy *p = &t->pols[i];
	memset(p, 0, sizeof(*p));
	p->name = (char *)name;
	p->line = line;
	p->kind = kind;
	p->targets = t->tgts[i];
	return p;
}

static void tb_tgt(struct config_policy *p, const char *key, const char *target, unsigned weight, int line)
{
	struct config_policy_target *x = &p->targets[p->target_count++];
	x->key = (char *)key;
	x->target = (char *)target;
	x->weight = weight;
	x->line = line;
}

static void tb_rec(struct tb *t, const char *name, const char *policy, uint32_t ttl, uint32_t down_ttl,
                   int line)
{
	struct config_record *r = &t->recs[t->zone.record_count++];
	r->name = (char *)name;
	r->policy = (char *)policy;
	r->ttl = ttl;
	r->down_ttl = down_ttl;
	r->line = line;
}

static void tb_fence(struct tb *t, const char *name, int line, const char *const *clients,
                     const char *const *allowed)
{
	size_t i = t->cfg.fence_count++;
	struct config_fence *f = &t->fences[i];
	f->name = (char *)name;
	f->line = line;
	f->clients = t->clients[i];
	f->allowed = t->allowed[i];
	for (; *clients; clients++)
		t->clients[i][f->client_count++] = (char *)*clients;
	for (; *allowed; allowed++)
		t->allowed[i][f->allowed_count++] = (char *)*allowed;
}

/* The datacenters and policies of issue 3's example (lines as in a file). */
static void tb_store(struct tb *t)
{
	tb_dc(t, "us-east", 10, 38.9, -77.0, "US", "192.0.2.10", "2001:db8:1::10", NULL);
	t->a[0][1] = "192.0.2.11";
	t->dcs[0].a_count = 2;
	tb_dc(t, "us-west", 11, 37.4, -122.1, "US", "192.0.2.20", NULL, NULL);
	tb_dc(t, "eu-central", 12, 50.1, 8.7, "EU", "198.51.100.10", NULL, NULL);
	tb_dc(t, "eu-west", 13, 53.3, -6.3, "EU", "198.51.100.20", NULL, NULL);
	tb_dc(t, "ap-southeast", 14, 1.3, 103.9, "SG", "203.0.113.10", NULL, NULL);
	tb_dc(t, "cdn-eu", 15, NAN, NAN, NULL, NULL, NULL, "EU.CDN-Provider.example.");
	struct config_policy *p = tb_pol(t, "storefront", 18, CONFIG_POLICY_GEO);
	tb_tgt(p, "continent:EU", "eu-only", 0, 20);
	tb_tgt(p, "country:US", "us", 0, 21);
	tb_tgt(p, "country:CA", "us", 0, 22);
	tb_tgt(p, "subdivision:US-CA", "us-west", 0, 23);
	tb_tgt(p, "net:203.0.113.0/24", "ap-southeast", 0, 24);
	tb_tgt(p, "default", "nearest", 0, 25);
	p = tb_pol(t, "eu-only", 26, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "eu-central", 0, 26);
	tb_tgt(p, NULL, "eu-west", 0, 26);
	p = tb_pol(t, "us", 27, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "us-east", 0, 27);
	tb_tgt(p, NULL, "us-west", 0, 27);
	p = tb_pol(t, "nearest", 28, CONFIG_POLICY_LATENCY);
	tb_tgt(p, NULL, "us-east", 0, 28);
	tb_tgt(p, NULL, "eu-central", 0, 28);
	tb_tgt(p, NULL, "ap-southeast", 0, 28);
	p = tb_pol(t, "rollout", 29, CONFIG_POLICY_WEIGHTED);
	tb_tgt(p, NULL, "us-east", 80, 29);
	tb_tgt(p, NULL, "us-west", 20, 29);
	p->sticky = true;
	p = tb_pol(t, "api-all", 30, CONFIG_POLICY_ALL);
	tb_tgt(p, NULL, "us-east", 0, 30);
	tb_tgt(p, NULL, "us-west", 0, 30);
	p->max = 8;
	p = tb_pol(t, "cdn", 31, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "cdn-eu", 0, 31);
}

static void tb_build_ok(struct tb *t)
{
	int rc = policy_set_build(&t->cfg, &t->set, t->err, sizeof(t->err));
	if (rc != 0)
		fail_msg("build failed: %s", t->err);
}

static void tb_build_fails(struct tb *t, const char *expected)
{
	int rc = policy_set_build(&t->cfg, &t->set, t->err, sizeof(t->err));
	assert_int_equal(rc, -1);
	assert_null(t->set);
	if (strstr(t->err, expected) == NULL)
		fail_msg("error '%s' does not contain '%s'", t->err, expected);
}

/* ---- evaluation helpers ---- */

static int dc_index(const struct policy_set *set, const char *name)
{
	for (size_t i = 0; i < policy_set_datacenter_count(set); i++)
		if (strcmp(policy_set_datacenter(set, i)->name, name) == 0)
			return (int)i;
	fail_msg("no datacenter %s", name);
	return -1;
}

static uint64_t dc_bit(const struct policy_set *set, const char *name)
{
	return 1ull << dc_index(set, name);
}

/* Health mask with the named datacenters down (NULL-terminated). */
static uint64_t up_except(const struct policy_set *set, ...)
{
	uint64_t up = ~0ull;
	va_list ap;
	va_start(ap, set);
	const char *name;
	while ((name = va_arg(ap, const char *)))
		up &= ~(1ull << policy_set_datacenter(set, (size_t)dc_index(set, name))->health_slot);
	va_end(ap);
	return up;
}

static struct policy_client client(const char *text, unsigned prefix)
{
	struct policy_client c;
	memset(&c, 0, sizeof(c));
	if (inet_pton(AF_INET, text, c.addr) == 1) {
		c.family = 4;
		c.source_prefix = (uint8_t)(prefix ? prefix : 32);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, c.addr), 1);
		c.family = 6;
		c.source_prefix = (uint8_t)(prefix ? prefix : 128);
	}
	unsigned bits = c.family == 4 ? 32 : 128;
	for (unsigned i = c.source_prefix; i < bits; i++)
		c.addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	return c;
}

static const struct policy_record *rec(const struct tb *t, size_t i)
{
	const struct policy_record *r = policy_set_record(t->set, 0, i);
	assert_non_null(r);
	return r;
}

static struct policy_answer eval(const struct tb *t, size_t record, const char *addr, unsigned prefix,
                                 uint64_t up)
{
	struct policy_client c = client(addr, prefix);
	struct policy_answer a;
	memset(&a, 0xa5, sizeof(a));
	policy_evaluate(t->set, rec(t, record), &c, up, &a);
	return a;
}

static void expect_dc(const struct tb *t, size_t record, const char *addr, uint64_t up, const char *dc)
{
	struct policy_answer a = eval(t, record, addr, 0, up);
	if (a.datacenters != dc_bit(t->set, dc))
		fail_msg("%s from %s: expected %s, got mask %#llx", t->recs[record].name, addr, dc,
		         (unsigned long long)a.datacenters);
	assert_false(a.nodata);
}

/* ---- tests ---- */

static void test_build_store(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_rec(t, "api", "api-all", 10, 5, 52);
	tb_rec(t, "static", "cdn", 30, 10, 53);
	tb_rec(t, "@", "eu-west", 30, 10, 54);
	tb_build_ok(t);
	assert_int_equal(policy_set_datacenter_count(t->set), 6);
	const struct policy_datacenter *d = policy_set_datacenter(t->set, 0);
	assert_string_equal(d->name, "us-east");
	assert_int_equal(d->a_count, 2);
	assert_int_equal(d->a[1].len, 4);
	assert_memory_equal(d->a[1].data, "\xc0\x00\x02\x0b", 4);
	assert_int_equal(d->aaaa_count, 1);
	assert_int_equal(d->aaaa[0].len, 16);
	assert_memory_equal(d->aaaa[0].data, "\x20\x01\x0d\xb8\x00\x01\0\0\0\0\0\0\0\0\0\x10", 16);
	assert_null(d->cname);
	assert_int_equal(d->health_slot, health_slot_find("us-east"));
	const struct policy_datacenter *cdn = policy_set_datacenter(t->set, 5);
	assert_int_equal(cdn->a_count + cdn->aaaa_count, 0);
	assert_memory_equal(cdn->cname,
	                    "\x02"
	                    "eu"
	                    "\x0c"
	                    "cdn-provider"
	                    "\x07"
	                    "example",
	                    23);
	assert_null(policy_set_datacenter(t->set, 6));
	assert_null(policy_set_record(t->set, 0, 4));
	assert_null(policy_set_record(t->set, 1, 0));
	assert_string_equal(policy_record_name(rec(t, 0)), "www.shop.example.");
	assert_string_equal(policy_record_name(rec(t, 3)), "shop.example.");
	assert_true(policy_set_uses_client_subnet(t->set));
	const char *paths[4];
	assert_int_equal(policy_set_watch_files(t->set, paths, 4), 1);
	assert_string_equal(paths[0], city_db);
	/* a record bound straight to a datacenter */
	expect_dc(t, 3, "81.2.69.142", ~0ull, "eu-west");
	/* a cname datacenter is answered as such */
	struct policy_answer a = eval(t, 2, "81.2.69.142", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(t->set, "cdn-eu"));
	tb_free(t);
}

static void test_geo_store(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_build_ok(t);
	expect_dc(t, 0, "81.2.69.142", ~0ull, "eu-central");        /* GB: continent:EU -> eu-only */
	expect_dc(t, 0, "216.160.83.56", ~0ull, "us-east");         /* US-WA: country:US -> us */
	expect_dc(t, 0, "24.0.1.1", ~0ull, "us-east");              /* CA: country:CA -> us */
	expect_dc(t, 0, "8.8.8.8", ~0ull, "us-west");               /* US-CA: subdivision beats country */
	expect_dc(t, 0, "203.0.113.77", ~0ull, "ap-southeast");     /* net */
	expect_dc(t, 0, "1.1.1.1", ~0ull, "ap-southeast");          /* JP: default -> nearest */
	expect_dc(t, 0, "2001:db8:a0::1", ~0ull, "us-east");        /* IPv6 US */
	expect_dc(t, 0, "2001:db8:e0::1", ~0ull, "eu-central");     /* IPv6 DE */
	expect_dc(t, 0, "::ffff:81.2.69.142", ~0ull, "eu-central"); /* mapped: as IPv4 */
	expect_dc(t, 0, "2002:d8a0:5338::1", ~0ull, "us-east");     /* 6to4 of 216.160.83.56 */
	/* not in the database, no coordinates: nearest takes its first target */
	expect_dc(t, 0, "10.1.2.3", ~0ull, "us-east");

	/* A geo branch that names one datacenter directly (net -> ap-southeast)
	 * has nothing else to offer when it is down: it fails open, with
	 * down_ttl so clients come back soon. */
	uint64_t up = ~dc_bit(t->set, "ap-southeast");
	struct policy_answer a = eval(t, 0, "203.0.113.77", 0, up);
	assert_int_equal(a.datacenters, dc_bit(t->set, "ap-southeast"));
	assert_true(a.degraded);
	assert_int_equal(a.ttl, 10);
	a = eval(t, 0, "203.0.113.77", 0, ~0ull);
	assert_false(a.degraded);
	assert_int_equal(a.ttl, 30);
	tb_free(t);
}

static void test_geo_precedence(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	t->cfg.geoip.asn_database = asn_db;
	tb_store(t);
	struct config_policy *p = tb_pol(t, "prec", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "continent:EU", "eu-west", 0, 41);
	tb_tgt(p, "country:GB", "us-west", 0, 42);
	tb_tgt(p, "subdivision:GB-ENG", "ap-southeast", 0, 43);
	tb_tgt(p, "net:81.2.69.0/25", "us-east", 0, 44);
	tb_tgt(p, "default", "eu-central", 0, 45);
	tb_tgt(p, "asn:64500", "us-west", 0, 46);
	tb_tgt(p, "country:JP", "ap-southeast", 0, 47);
	tb_tgt(p, "net:1.1.1.0/24", "eu-west", 0, 48);
	tb_rec(t, "prec", "prec", 30, 10, 51);
	tb_build_ok(t);
	const char *paths[4];
	assert_int_equal(policy_set_watch_files(t->set, paths, 4), 2);
	assert_string_equal(paths[1], asn_db);
	expect_dc(t, 0, "81.2.69.1", ~0ull, "us-east");        /* net beats everything */
	expect_dc(t, 0, "81.2.69.142", ~0ull, "ap-southeast"); /* subdivision > country > continent */
	expect_dc(t, 0, "81.2.70.1", ~0ull, "us-west");        /* GB-SCT: country */
	expect_dc(t, 0, "5.5.5.5", ~0ull, "eu-west");          /* DE: continent */
	expect_dc(t, 0, "175.16.199.1", ~0ull, "eu-central");  /* CN: default */
	expect_dc(t, 0, "10.0.0.1", ~0ull, "eu-central");      /* unknown: default */
	expect_dc(t, 0, "1.1.2.1", ~0ull, "us-west");          /* JP in AS64500: asn beats country */
	expect_dc(t, 0, "1.1.1.1", ~0ull, "eu-west");          /* net beats asn */
	tb_free(t);
}

static void test_geo_nodata(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	struct config_policy *p = tb_pol(t, "euonly", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "continent:EU", "eu-only", 0, 41);
	tb_rec(t, "x", "euonly", 30, 10, 51);
	tb_build_ok(t);
	struct policy_answer a = eval(t, 0, "216.160.83.56", 0, ~0ull);
	assert_true(a.nodata);
	assert_int_equal(a.datacenters, 0);
	assert_int_equal(a.ttl, 30);
	a = eval(t, 0, "10.9.9.9", 0, ~0ull); /* not in the database at all */
	assert_true(a.nodata);
	a = eval(t, 0, "5.5.5.5", 0, ~0ull);
	assert_false(a.nodata);
	assert_int_equal(a.datacenters, dc_bit(t->set, "eu-central"));
	tb_free(t);
}

static void test_failover_health(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_rec(t, "eu", "eu-only", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	struct policy_answer a = eval(t, 0, "81.2.69.142", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_false(a.degraded);
	assert_int_equal(a.ttl, 30);
	assert_int_equal(a.scope, 0); /* failover alone never looks at the address */
	a = eval(t, 0, "81.2.69.142", 0, up_except(s, "eu-central", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-west"));
	assert_true(a.degraded);
	assert_int_equal(a.ttl, 10);
	/* all down: fail open to the first target, degraded */
	a = eval(t, 0, "81.2.69.142", 0, up_except(s, "eu-central", "eu-west", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_true(a.degraded);
	assert_int_equal(a.ttl, 10);
	/* recovery is seen by the next evaluation */
	a = eval(t, 0, "81.2.69.142", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_false(a.degraded);
	/* the live health table drives it too */
	int slot = policy_set_datacenter(s, (size_t)dc_index(s, "eu-central"))->health_slot;
	health_set_probed(slot, false, "test down");
	a = eval(t, 0, "81.2.69.142", 0, health_up_mask());
	assert_int_equal(a.datacenters, dc_bit(s, "eu-west"));
	health_set_probed(slot, true, "test up");
	a = eval(t, 0, "81.2.69.142", 0, health_up_mask());
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	tb_free(t);
}

static void test_nested_failover(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	/* a failover whose targets are policies: healthy = some datacenter up in the subtree */
	struct config_policy *p = tb_pol(t, "global", 40, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "us", 0, 40);
	tb_tgt(p, NULL, "eu-only", 0, 40);
	tb_rec(t, "g", "global", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	struct policy_answer a = eval(t, 0, "1.1.1.1", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "us-west"));
	assert_true(a.degraded);
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "us-east", "us-west", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_true(a.degraded);
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "us-east", "us-west", "eu-central", "eu-west", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	assert_true(a.degraded);
	tb_free(t);
}

static void test_latency_distance(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_rec(t, "near", "nearest", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	expect_dc(t, 0, "1.1.1.1", ~0ull, "ap-southeast");  /* Tokyo */
	expect_dc(t, 0, "2.2.2.2", ~0ull, "eu-central");    /* Paris */
	expect_dc(t, 0, "216.160.83.56", ~0ull, "us-east"); /* Seattle: us-west is not in the list */
	struct policy_answer a = eval(t, 0, "2.2.2.2", 0, ~0ull);
	assert_false(a.degraded);
	assert_int_equal(a.scope, 16);
	/* nearest down: next nearest, degraded */
	a = eval(t, 0, "2.2.2.2", 0, up_except(s, "eu-central", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	assert_true(a.degraded);
	/* a farther one down changes nothing */
	a = eval(t, 0, "2.2.2.2", 0, up_except(s, "ap-southeast", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_false(a.degraded);
	/* no coordinates: first target in order; still decided by the address */
	a = eval(t, 0, "100.64.1.1", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	assert_int_equal(a.scope, 16);
	tb_free(t);
}

static void test_latency_table(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_table = "tests/unit/policy/latency.txt";
	tb_rec(t, "near", "nearest", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	expect_dc(t, 0, "1.1.1.1", ~0ull, "eu-central");    /* table: 5 ms beats Singapore's 40.5 */
	expect_dc(t, 0, "2.2.2.2", ~0ull, "us-east");       /* table covers only us-east: it ranks first */
	expect_dc(t, 0, "216.160.83.56", ~0ull, "us-east"); /* not in the table: distance */
	struct policy_answer a = eval(t, 0, "1.1.1.1", 0, up_except(s, "eu-central", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "ap-southeast"));
	assert_true(a.degraded);
	const char *paths[4];
	assert_int_equal(policy_set_watch_files(t->set, paths, 4), 2);
	assert_string_equal(paths[1], "tests/unit/policy/latency.txt");
	tb_free(t);

	t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_table = "tests/unit/policy/latency-bad.txt";
	tb_build_fails(
	    t,
	    "test.yaml:28: policy 'nearest': tests/unit/policy/latency-bad.txt:2: unknown datacenter 'mars'");
	tb_free(t);
	t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_table = "tests/unit/policy/missing.txt";
	tb_build_fails(t, "tests/unit/policy/missing.txt: No such file");
	tb_free(t);
	t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_table = "/dev/zero"; /* read forever before the check */
	tb_build_fails(t, "test.yaml:28: policy 'nearest': /dev/zero: not a regular file: a character device");
	tb_free(t);
}

/* Datacenter d is probed (policy only looks at check_count). */
static char *probe_checks[] = {"web"};
static void tb_probed(struct tb *t, size_t d)
{
	t->dcs[d].checks = probe_checks;
	t->dcs[d].check_count = 1;
}

static void set_rtt(const struct policy_set *s, const char *dc, double ms)
{
	health_set_rtt_ms(policy_set_datacenter(s, (size_t)dc_index(s, dc))->health_slot, ms);
}

/* latency_source: probes ranks by the live probe RTT, never by where the
 * client is while every target has a measurement. */
static void test_latency_probes(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_probed(t, 0); /* us-east */
	tb_probed(t, 2); /* eu-central */
	tb_probed(t, 4); /* ap-southeast */
	t->pols[3].latency_source = CONFIG_LATENCY_PROBES;
	tb_rec(t, "near", "nearest", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;

	/* nothing measured yet: distance, as the default source */
	expect_dc(t, 0, "1.1.1.1", ~0ull, "ap-southeast"); /* Tokyo */
	expect_dc(t, 0, "2.2.2.2", ~0ull, "eu-central");   /* Paris */
	struct policy_answer a = eval(t, 0, "2.2.2.2", 0, ~0ull);
	assert_int_equal(a.scope, 16);

	set_rtt(s, "us-east", 30);
	set_rtt(s, "eu-central", 12);
	set_rtt(s, "ap-southeast", 80);
	/* lowest RTT wins for everyone, wherever they are: scope 0 */
	expect_dc(t, 0, "1.1.1.1", ~0ull, "eu-central");
	expect_dc(t, 0, "216.160.83.56", ~0ull, "eu-central");
	expect_dc(t, 0, "100.64.1.1", ~0ull, "eu-central"); /* no coordinates: irrelevant */
	expect_dc(t, 0, "2001:db8:a0::1", ~0ull, "eu-central");
	a = eval(t, 0, "1.1.1.1", 24, ~0ull);
	assert_int_equal(a.scope, 0);
	assert_false(a.degraded);
	assert_int_equal(a.ttl, 30);
	/* the lowest down: the next lowest, degraded */
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "eu-central", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	assert_true(a.degraded);
	assert_int_equal(a.scope, 0);
	/* a new measurement reaches the next query */
	set_rtt(s, "eu-central", 31);
	expect_dc(t, 0, "2.2.2.2", ~0ull, "us-east");
	set_rtt(s, "ap-southeast", 0.5);
	expect_dc(t, 0, "2.2.2.2", ~0ull, "ap-southeast");
	/* every target down: fails open to the lowest RTT */
	a = eval(t, 0, "2.2.2.2", 0, up_except(s, "us-east", "eu-central", "ap-southeast", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "ap-southeast"));
	assert_true(a.degraded);

	/* A datacenter without a measurement ranks after those with one ... */
	set_rtt(s, "ap-southeast", -1);
	expect_dc(t, 0, "1.1.1.1", ~0ull, "us-east"); /* 30 ms beats Tokyo's nearest, unmeasured */
	a = eval(t, 0, "1.1.1.1", 0, ~0ull);
	assert_int_equal(a.scope, 0);
	/* ... and by distance among themselves, which makes the client count */
	set_rtt(s, "eu-central", -1);
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "ap-southeast"));
	assert_true(a.degraded);
	assert_int_equal(a.scope, 16);
	a = eval(t, 0, "2.2.2.2", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	/* unmeasured and no client location: the first up target in order */
	a = eval(t, 0, "100.64.1.1", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));

	/* explain narrates RTTs */
	set_rtt(s, "us-east", 30);
	set_rtt(s, "eu-central", 12);
	set_rtt(s, "ap-southeast", 4.25);
	char buf[4096];
	struct policy_client c = client("2.2.2.2", 0);
	policy_explain(s, rec(t, 0), &c, up_except(s, "ap-southeast", NULL), buf, sizeof(buf));
	if (getenv("POLICY_SHOW_EXPLAIN"))
		fprintf(stderr, "%s", buf);
	if (!strstr(buf,
	            "nearest: latency eu-central (probe rtt; us-east rtt 30 ms up, eu-central rtt 12 ms up, "
	            "ap-southeast rtt 4.2 ms down)") ||
	    !strstr(buf, "answer: eu-central, ttl 10, scope 0, degraded"))
		fail_msg("explain:\n%s", buf);
	set_rtt(s, "us-east", -1);
	set_rtt(s, "eu-central", -1);
	set_rtt(s, "ap-southeast", -1);
	policy_explain(s, rec(t, 0), &c, ~0ull, buf, sizeof(buf));
	if (!strstr(buf, "nearest: latency eu-central (no probe rtt: distance; us-east no rtt, ") ||
	    !strstr(buf, "eu-central no rtt, 478 km up") || !strstr(buf, "answer: eu-central, ttl 30, scope 16"))
		fail_msg("explain:\n%s", buf);
	tb_free(t);

	/* probes over datacenters nobody probes: a load error, not a silent
	 * fallback to distance */
	t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_source = CONFIG_LATENCY_PROBES;
	t->pols[3].latency_source_line = 33;
	tb_build_fails(t,
	               "test.yaml:33: policy 'nearest': latency_source 'probes' but none of its datacenters "
	               "has a check");
	tb_free(t);
	/* probed through a nested policy is enough */
	t = tb_new(true);
	tb_store(t);
	tb_probed(t, 1); /* us-west, reached through 'us' */
	struct config_policy *p = tb_pol(t, "mixed", 40, CONFIG_POLICY_LATENCY);
	tb_tgt(p, NULL, "us", 0, 40);
	tb_tgt(p, NULL, "eu-central", 0, 40);
	p->latency_source = CONFIG_LATENCY_PROBES;
	tb_rec(t, "m", "mixed", 30, 10, 51);
	tb_build_ok(t);
	set_rtt(t->set, "us-west", 7);
	expect_dc(t, 0, "2.2.2.2", ~0ull,
	          "us-east"); /* 'us' measured (us-west 7 ms); failover picks us-east */
	tb_free(t);
	t = tb_new(true);
	tb_store(t);
	tb_probed(t, 0);
	t->pols[3].latency_source = CONFIG_LATENCY_PROBES;
	t->pols[3].latency_table = "tests/unit/policy/latency.txt";
	tb_build_fails(t,
	               "test.yaml:28: policy 'nearest': latency_source 'probes' does not use latency_table");
	tb_free(t);
	t = tb_new(true);
	tb_store(t);
	tb_probed(t, 0);
	t->pols[2].latency_source = CONFIG_LATENCY_PROBES; /* 'us' is a failover */
	tb_build_fails(t, "test.yaml:27: policy 'us': latency_source is only for latency policies");
	tb_free(t);
}

/* latency_source: table ranks by the table only; clients it does not
 * cover get the targets in the order written, wherever they are. */
static void test_latency_table_only(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_source = CONFIG_LATENCY_TABLE;
	t->pols[3].latency_table = "tests/unit/policy/latency.txt";
	tb_rec(t, "near", "nearest", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	expect_dc(t, 0, "1.1.1.1", ~0ull, "eu-central"); /* 5 ms */
	expect_dc(t, 0, "2.2.2.2", ~0ull, "us-east");    /* 3 ms */
	/* not covered: first target, even for Berlin and Singapore, where
	 * distance would say eu-central and ap-southeast */
	expect_dc(t, 0, "5.5.5.5", ~0ull, "us-east");
	expect_dc(t, 0, "203.0.113.9", ~0ull, "us-east");
	struct policy_answer a = eval(t, 0, "5.5.5.5", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central")); /* the next in order */
	assert_true(a.degraded);
	/* the scope is the table's alone: no geolocation consulted */
	a = eval(t, 0, "1.1.1.1", 0, ~0ull);
	assert_int_equal(a.scope, 16);
	/* covered, but its row lists neither up datacenter: order written */
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "eu-central", "ap-southeast", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	a = eval(t, 0, "2.2.2.2", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	char buf[4096];
	struct policy_client c = client("5.5.5.5", 0);
	policy_explain(s, rec(t, 0), &c, ~0ull, buf, sizeof(buf));
	if (!strstr(
	        buf,
	        "nearest: latency us-east (not in the latency table: first target; us-east no estimate up"))
		fail_msg("explain:\n%s", buf);
	tb_free(t);

	t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_source = CONFIG_LATENCY_TABLE;
	tb_build_fails(t, "test.yaml:28: policy 'nearest': latency_source 'table' needs latency_table");
	tb_free(t);
	/* distance given explicitly with a table is the default behaviour */
	t = tb_new(true);
	tb_store(t);
	t->pols[3].latency_source = CONFIG_LATENCY_DISTANCE;
	t->pols[3].latency_table = "tests/unit/policy/latency.txt";
	tb_rec(t, "near", "nearest", 30, 10, 51);
	tb_build_ok(t);
	expect_dc(t, 0, "1.1.1.1", ~0ull, "eu-central");
	expect_dc(t, 0, "5.5.5.5", ~0ull, "eu-central"); /* not in the table: distance */
	tb_free(t);
}

static void test_weighted_distribution(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	t->pols[4].sticky = false;
	tb_rec(t, "r", "rollout", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	uint64_t east = dc_bit(s, "us-east"), west = dc_bit(s, "us-west");
	int n_east = 0, n_west = 0;
	for (int i = 0; i < 10000; i++) {
		struct policy_answer a = eval(t, 0, "216.160.83.56", 0, ~0ull);
		n_east += a.datacenters == east;
		n_west += a.datacenters == west;
		assert_int_equal(a.scope, 0); /* random: the address does not matter */
		assert_false(a.degraded);
	}
	assert_int_equal(n_east + n_west, 10000);
	assert_in_range(n_east, 7700, 8300);
	/* one down: every answer is the other one, degraded */
	for (int i = 0; i < 200; i++) {
		struct policy_answer a = eval(t, 0, "216.160.83.56", 0, up_except(s, "us-east", NULL));
		assert_int_equal(a.datacenters, west);
		assert_true(a.degraded);
	}
	tb_free(t);

	/* weight 0 drains */
	t = tb_new(true);
	tb_store(t);
	t->pols[4].sticky = false;
	t->tgts[4][1].weight = 0;
	tb_rec(t, "r", "rollout", 30, 10, 51);
	tb_build_ok(t);
	for (int i = 0; i < 500; i++) {
		struct policy_answer a = eval(t, 0, "216.160.83.56", 0, ~0ull);
		assert_int_equal(a.datacenters, dc_bit(t->set, "us-east"));
		assert_false(a.degraded);
	}
	tb_free(t);
}

static void test_weighted_sticky(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_rec(t, "r", "rollout", 30, 10, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	uint64_t east = dc_bit(s, "us-east"), west = dc_bit(s, "us-west");
	int n_east = 0;
	char addr[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		struct policy_answer a = eval(t, 0, addr, 0, ~0ull);
		assert_int_equal(a.scope, 24);
		/* the same /24 keeps its pick, whatever the host */
		snprintf(addr, sizeof(addr), "10.%d.%d.200", i / 256, i % 256);
		struct policy_answer b = eval(t, 0, addr, 0, ~0ull);
		assert_int_equal(a.datacenters, b.datacenters);
		n_east += a.datacenters == east;
		/* clients on us-east stay there when us-west goes down */
		if (a.datacenters == east) {
			struct policy_answer c = eval(t, 0, addr, 0, up_except(s, "us-west", NULL));
			assert_int_equal(c.datacenters, east);
		} else {
			assert_int_equal(a.datacenters, west);
			struct policy_answer c = eval(t, 0, addr, 0, up_except(s, "us-west", NULL));
			assert_int_equal(c.datacenters, east);
			assert_true(c.degraded);
		}
	}
	assert_in_range(n_east, 1450, 1750);
	/* an ECS /20 hashes (and scopes) only what it has */
	assert_int_equal(eval(t, 0, "10.1.16.0", 20, ~0ull).scope, 20);
	assert_int_equal(eval(t, 0, "2001:db8:77::1", 0, ~0ull).scope, 56);
	tb_free(t);

	/* weight 0 drains sticky clients too */
	t = tb_new(true);
	tb_store(t);
	t->tgts[4][1].weight = 0;
	tb_rec(t, "r", "rollout", 30, 10, 51);
	tb_build_ok(t);
	for (int i = 0; i < 300; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.1", i % 256);
		assert_int_equal(eval(t, 0, addr, 0, ~0ull).datacenters, dc_bit(t->set, "us-east"));
	}
	tb_free(t);
}

static void test_all_max(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_rec(t, "api", "api-all", 10, 5, 51);
	tb_build_ok(t);
	const struct policy_set *s = t->set;
	uint64_t both = dc_bit(s, "us-east") | dc_bit(s, "us-west");
	struct policy_answer a = eval(t, 0, "1.1.1.1", 0, ~0ull);
	assert_int_equal(a.datacenters, both);
	assert_int_equal(a.max_addresses, 8);
	assert_false(a.degraded);
	assert_int_equal(a.ttl, 10);
	assert_int_equal(a.scope, 0);
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "us-west", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	assert_true(a.degraded);
	assert_int_equal(a.ttl, 5);
	a = eval(t, 0, "1.1.1.1", 0, up_except(s, "us-west", "us-east", NULL));
	assert_int_equal(a.datacenters, both);
	assert_true(a.degraded);
	tb_free(t);
}

static const char *const eu_clients[] = {"continent:EU", NULL};
static const char *const eu_allowed[] = {"jurisdiction:EU", NULL};

static void test_fence_runtime(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	struct config_policy *p = tb_pol(t, "global", 40, CONFIG_POLICY_LATENCY);
	tb_tgt(p, NULL, "us-east", 0, 40);
	tb_tgt(p, NULL, "eu-central", 0, 40);
	p = tb_pol(t, "usfirst", 41, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "us-east", 0, 41);
	tb_tgt(p, NULL, "eu-west", 0, 41);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_rec(t, "g", "global", 30, 10, 52);
	tb_rec(t, "u", "usfirst", 30, 10, 53);
	tb_build_ok(t); /* the issue's example proves: EU -> eu-only, default -> nearest has eu-central */
	const struct policy_set *s = t->set;
	uint64_t eu = dc_bit(s, "eu-central") | dc_bit(s, "eu-west");
	/* every datacenter down, EU client: still only EU datacenters */
	uint64_t none = 0;
	struct policy_answer a;
	const char *eu_addrs[] = {"81.2.69.142", "2.2.2.2", "5.5.5.5", "100.64.0.1", "2001:db8:e0::5"};
	for (size_t i = 0; i < sizeof(eu_addrs) / sizeof(eu_addrs[0]); i++) {
		for (size_t r = 0; r < 3; r++) {
			a = eval(t, r, eu_addrs[i], 0, none);
			assert_true(a.datacenters != 0);
			assert_int_equal(a.datacenters & ~eu, 0);
			a = eval(t, r, eu_addrs[i], 0, up_except(s, "eu-central", "eu-west", NULL));
			assert_true(a.datacenters != 0);
			assert_int_equal(a.datacenters & ~eu, 0);
			assert_true(a.degraded);
			a = eval(t, r, eu_addrs[i], 0, ~0ull);
			assert_int_equal(a.datacenters & ~eu, 0);
		}
	}
	/* the fence filters targets: an EU client of usfirst gets eu-west as
	 * its first (allowed) choice, not degraded */
	a = eval(t, 2, "2.2.2.2", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(s, "eu-west"));
	assert_false(a.degraded);
	/* Paris client of `global` with eu-central down: fail open inside */
	a = eval(t, 1, "2.2.2.2", 0, up_except(s, "eu-central", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_true(a.degraded);
	/* outside the fence the policy applies as written */
	a = eval(t, 2, "216.160.83.56", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(s, "us-east"));
	a = eval(t, 1, "216.160.83.56", 0, up_except(s, "us-east", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	assert_true(a.degraded);
	/* a fenced client whose branch has nothing allowed (the fixture puts
	 * a US network in continent EU, which the proof's country table rules
	 * out): every allowed datacenter that is up, else every allowed one */
	a = eval(t, 0, "100.65.0.1", 0, ~0ull);
	assert_int_equal(a.datacenters, eu);
	assert_true(a.degraded);
	assert_int_equal(a.ttl, 10);
	a = eval(t, 0, "100.65.0.1", 0, up_except(s, "eu-west", NULL));
	assert_int_equal(a.datacenters, dc_bit(s, "eu-central"));
	a = eval(t, 0, "100.65.0.1", 0, up_except(s, "eu-west", "eu-central", NULL));
	assert_int_equal(a.datacenters, eu);
	char buf[2048];
	struct policy_client c = client("100.65.0.1", 0);
	policy_explain(t->set, rec(t, 0), &c, ~0ull, buf, sizeof(buf));
	if (!strstr(buf, "storefront: geo country:US -> us") ||
	    !strstr(buf, "fence EU: nothing allowed was chosen; falling back to eu-central eu-west (up)"))
		fail_msg("explain:\n%s", buf);
	tb_free(t);
}

static void test_fence_proof(void **state)
{
	(void)state;
	/* US clients inside a fence that only allows EU: storefront -> country:US -> us */
	struct tb *t = tb_new(true);
	tb_store(t);
	static const char *const clients[] = {"continent:EU", "net:216.160.83.0/24", NULL};
	tb_fence(t, "EU", 45, clients, eu_allowed);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_build_fails(
	    t, "test.yaml:45: residency 'EU': clients can be routed by storefront -> country:US -> us "
	       "to no allowed datacenter");
	assert_string_equal(t->err, "test.yaml:45: residency 'EU': clients can be routed by storefront -> "
	                            "country:US -> us to no allowed datacenter");
	tb_free(t);

	/* a record whose whole tree is outside the fence */
	t = tb_new(true);
	tb_store(t);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_rec(t, "api", "api-all", 10, 5, 52);
	tb_build_fails(
	    t, "test.yaml:45: residency 'EU': clients can be routed by api-all to no allowed datacenter");
	tb_free(t);

	/* a net: branch the database places in Europe */
	t = tb_new(true);
	tb_store(t);
	struct config_policy *p = tb_pol(t, "byNet", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "net:203.0.113.0/24", "ap-southeast", 0, 41); /* SG in the db: unreachable for EU */
	tb_tgt(p, "net:81.2.68.0/23", "us-east", 0, 42);        /* contains GB networks */
	tb_tgt(p, "default", "eu-only", 0, 43);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "n", "byNet", 30, 10, 51);
	tb_build_fails(t,
	               "residency 'EU': clients can be routed by byNet -> net:81.2.68.0/23 -> us-east to no "
	               "allowed datacenter");
	tb_free(t);

	/* country keys: another continent's countries are unreachable, the
	 * fence's own are checked; a datacenter root outside the fence fails */
	t = tb_new(true);
	tb_store(t);
	p = tb_pol(t, "c", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "country:JP", "ap-southeast", 0, 41);
	tb_tgt(p, "subdivision:US-NY", "us-east", 0, 42);
	tb_tgt(p, "country:FR", "eu-west", 0, 43);
	tb_tgt(p, "subdivision:DE-BE", "us-west", 0, 44);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "c", "c", 30, 10, 51);
	tb_build_fails(t, "routed by c -> subdivision:DE-BE -> us-west to no allowed datacenter");
	tb_free(t);
	t = tb_new(true);
	tb_store(t);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "d", "us-west", 30, 10, 51);
	tb_build_fails(t, "residency 'EU': clients can be routed by us-west to no allowed datacenter");
	tb_free(t);

	/* a fence of networks only reaches the net: keys it overlaps */
	t = tb_new(true);
	tb_store(t);
	p = tb_pol(t, "nets", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "net:198.18.0.0/24", "us-east", 0, 41);
	tb_tgt(p, "net:198.19.0.0/24", "eu-west", 0, 42);
	tb_tgt(p, "default", "eu-central", 0, 43);
	static const char *const netc[] = {"net:198.19.0.0/16", NULL};
	tb_fence(t, "LAB", 45, netc, eu_allowed);
	tb_rec(t, "n", "nets", 30, 10, 51);
	tb_build_ok(t);
	assert_int_equal(eval(t, 0, "198.19.0.9", 0, ~0ull).datacenters, dc_bit(t->set, "eu-west"));
	assert_int_equal(eval(t, 0, "198.18.0.9", 0, ~0ull).datacenters, dc_bit(t->set, "us-east"));
	tb_free(t);
}

struct build_error {
	void (*mutate)(struct tb *t);
	const char *message;
};

static void m_no_addresses(struct tb *t)
{
	t->dcs[1].a_count = 0;
}
static void m_both(struct tb *t)
{
	t->dcs[5].cname = "x.example.";
	t->dcs[5].a = t->a[1];
	t->dcs[5].a_count = 1;
}
static void m_no_addresses_newline(struct tb *t)
{
	t->dcs[1].name = "us-west\r\nX";
	t->dcs[1].a_count = 0;
}
static void m_unknown(struct tb *t)
{
	t->tgts[1][1].target = "eu-north";
}
static void m_cycle(struct tb *t)
{
	t->tgts[1][1].target = "loop";
	struct config_policy *p = tb_pol(t, "loop", 33, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "eu-only", 0, 33);
}
static void m_all_cname(struct tb *t)
{
	t->tgts[5][1].target = "cdn";
}
static void m_asn(struct tb *t)
{
	t->tgts[0][1].key = "asn:64500";
}
static void m_nodb(struct tb *t)
{
	t->cfg.geoip.database = NULL;
}
static void m_baddb(struct tb *t)
{
	t->cfg.geoip.database = "/nonexistent/geo.mmdb";
}
static void m_badkey(struct tb *t)
{
	t->tgts[0][1].key = "country:USA";
}
static void m_record(struct tb *t)
{
	t->recs[0].policy = "nowhere";
}
static void m_many(struct tb *t)
{
	static char names[70][16];
	for (int i = 0; i < 60; i++) {
		snprintf(names[i], sizeof(names[i]), "dc%d", i);
		tb_dc(t, names[i], 100 + i, NAN, NAN, NULL, "192.0.2.99", NULL, NULL);
	}
}
static void m_wrong_db(struct tb *t)
{
	t->cfg.geoip.database = asn_db; /* the ASN download in the City slot */
}
static void m_wrong_asn_db(struct tb *t)
{
	t->cfg.geoip.asn_database = city_db;
}
static void m_selfcycle(struct tb *t)
{
	t->tgts[3][2].target = "storefront";
}
static void m_fence_db(struct tb *t)
{
	t->cfg.geoip.database = NULL;
	t->tgts[0][0].key = "net:81.2.69.0/24";
	t->tgts[0][1].key = "net:216.160.83.0/24";
	t->tgts[0][2].key = "net:24.0.0.0/16";
	t->tgts[0][3].key = "net:8.8.0.0/16";
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
}
static void m_fence_allowed(struct tb *t)
{
	static const char *const allowed[] = {"jurisdiction:CH", NULL};
	tb_fence(t, "CH", 46, eu_clients, allowed);
}

/* A fence with a net: client (its matcher builds a prefix tree) refused
 * afterwards for its allowed list: the tree was leaked (fuzz_config; a
 * leak make asan's LeakSanitizer reports for this case). */
static void m_fence_allowed_net(struct tb *t)
{
	static const char *const clients[] = {"net:192.0.2.0/24", NULL};
	static const char *const allowed[] = {"datacenter:cen-eu", NULL};
	tb_fence(t, "EU", 46, clients, allowed);
}

static void test_build_errors(void **state)
{
	(void)state;
	const struct build_error cases[] = {
	    {m_no_addresses, "test.yaml:11: datacenter 'us-west' has no addresses and no cname"},
	    {m_both, "test.yaml:15: datacenter 'cdn-eu' has both a cname and addresses"},
	    /* one line, whatever the name holds (fuzz_config) */
	    {m_no_addresses_newline, "test.yaml:11: datacenter 'us-west??X' has no addresses and no cname"},
	    {m_unknown, "test.yaml:26: unknown datacenter or policy 'eu-north' in policy 'eu-only'"},
	    {m_cycle, "test.yaml:26: policy cycle: eu-only -> loop -> eu-only"},
	    {m_selfcycle, "test.yaml:18: policy cycle: storefront -> nearest -> storefront"},
	    {m_all_cname,
	     "test.yaml:30: policy 'api-all': 'all' over 'cdn', which can answer with the cname of "
	     "datacenter 'cdn-eu'"},
	    {m_asn, "test.yaml:21: policy 'storefront': geo key 'asn:64500' needs geoip.asn_database"},
	    {m_nodb, "test.yaml:20: policy 'storefront': geo key 'continent:EU' needs geoip.database"},
	    {m_baddb, "test.yaml:2: /nonexistent/geo.mmdb: "},
	    {m_badkey, "test.yaml:21: policy 'storefront': bad geo key 'country:USA'"},
	    {m_record, "test.yaml:51: unknown datacenter or policy 'nowhere' for record 'www'"},
	    {m_many, "test.yaml:158: more than 64 datacenters"},
	    {m_fence_db, "test.yaml:45: residency 'EU': 'continent:EU' needs geoip.database"},
	    {m_fence_allowed,
	     "test.yaml:46: residency 'CH': allowed 'jurisdiction:CH' matches no datacenter"},
	    {m_fence_allowed_net,
	     "test.yaml:46: residency 'EU': allowed 'datacenter:cen-eu' matches no datacenter"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb *t = tb_new(true);
		tb_store(t);
		tb_rec(t, "www", "storefront", 30, 10, 51);
		cases[i].mutate(t);
		tb_build_fails(t, cases[i].message);
		assert_int_equal(strncmp(t->err, cases[i].message, strlen("test.yaml:")), 0);
		tb_free(t);
	}
}

/* Load limits: a chain of policies deeper than POLICY_MAX_DEPTH and more
 * than POLICY_MAX_POLICIES policies are errors with the line (a reload with
 * a 10,000-level chain used to overflow the stack of the running server). */
static void test_build_limits(void **state)
{
	(void)state;
	enum { N = POLICY_MAX_POLICIES + 1 };
	static struct config_policy pols[N];
	static struct config_policy_target tgts[N];
	static char names[N][16];
	for (size_t depth = POLICY_MAX_DEPTH; depth <= POLICY_MAX_DEPTH + 1; depth++) {
		struct tb *t = tb_new(false);
		tb_store(t);
		t->zone.record_count = 0;
		/* p0 -> p1 -> ... -> p(depth-1) -> us-east: depth policies on the chain */
		for (size_t i = 0; i < depth; i++) {
			snprintf(names[i], sizeof names[i], "p%zu", i);
			pols[i] = (struct config_policy){.name = names[i], .line = (int)(100 + i),
			                                 .kind = CONFIG_POLICY_FAILOVER, .targets = &tgts[i],
			                                 .target_count = 1};
		}
		for (size_t i = 0; i < depth; i++)
			tgts[i] = (struct config_policy_target){.target = i + 1 < depth ? names[i + 1] : "us-east",
			                                        .line = (int)(100 + i)};
		t->cfg.policies = pols;
		t->cfg.policy_count = depth;
		if (depth == POLICY_MAX_DEPTH) {
			tb_build_ok(t);
			policy_set_free(t->set);
			t->set = NULL;
		} else {
			char want[200];
			snprintf(want, sizeof want,
			         "test.yaml:%zu: policy 'p%d' is nested more than %d levels deep (from policy 'p0')",
			         100 + depth - 1, POLICY_MAX_DEPTH, POLICY_MAX_DEPTH);
			tb_build_fails(t, want);
		}
		tb_free(t);
	}

	/* one policy too many, each naming a datacenter */
	struct tb *t = tb_new(false);
	tb_store(t);
	t->zone.record_count = 0;
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "p%zu", i);
		pols[i] = (struct config_policy){.name = names[i], .line = (int)(100 + i), .kind = CONFIG_POLICY_FAILOVER,
		                                 .targets = &tgts[i], .target_count = 1};
		tgts[i] = (struct config_policy_target){.target = "us-east", .line = (int)(100 + i)};
	}
	t->cfg.policies = pols;
	t->cfg.policy_count = N;
	char want[120];
	snprintf(want, sizeof want, "test.yaml:%d: too many policies: %d, at most %d", 100 + POLICY_MAX_POLICIES, N,
	         POLICY_MAX_POLICIES);
	tb_build_fails(t, want);
	tb_free(t);
}

/* A database of the wrong kind in either slot is refused, named, with the line. */
static void test_wrong_database_kind(void **state)
{
	(void)state;
	char want[1200];
	struct tb *t = tb_new(true);
	tb_store(t);
	m_wrong_db(t);
	snprintf(want, sizeof want,
	         "test.yaml:2: %s: no network in it has a country or continent (database type "
	         "'GeoSteer-Test-City'); geoip.database wants a City or Country database",
	         asn_db);
	tb_build_fails(t, want);
	tb_free(t);
	t = tb_new(true);
	tb_store(t);
	m_wrong_asn_db(t);
	snprintf(want, sizeof want,
	         "test.yaml:2: %s: no network in it has an autonomous system number (database type "
	         "'GeoSteer-Test-City'); geoip.asn_database wants an ASN database",
	         city_db);
	tb_build_fails(t, want);
	tb_free(t);
}

static void test_scope(void **state)
{
	(void)state;
	/* net rules only, no database */
	struct tb *t = tb_new(false);
	tb_store(t);
	t->cfg.policy_count = 0;
	struct config_policy *p = tb_pol(t, "nets", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "net:198.18.0.0/24", "us-east", 0, 41);
	tb_tgt(p, "net:2001:db8:5::/48", "eu-west", 0, 42);
	tb_tgt(p, "default", "eu-central", 0, 43);
	p = tb_pol(t, "fo", 44, CONFIG_POLICY_FAILOVER);
	tb_tgt(p, NULL, "us-east", 0, 44);
	tb_rec(t, "n", "nets", 30, 10, 51);
	tb_rec(t, "f", "fo", 30, 10, 52);
	tb_build_ok(t);
	struct policy_answer a = eval(t, 0, "198.18.0.7", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(t->set, "us-east"));
	assert_int_equal(a.scope, 24);
	a = eval(t, 0, "198.19.0.7", 0, ~0ull); /* the region without a rule: 198.19/16 */
	assert_int_equal(a.datacenters, dc_bit(t->set, "eu-central"));
	assert_int_equal(a.scope, 16);
	a = eval(t, 0, "198.18.0.0", 20, ~0ull); /* never longer than the source prefix */
	assert_int_equal(a.scope, 20);
	a = eval(t, 0, "::ffff:198.18.0.7", 0, ~0ull); /* mapped: IPv6 bits */
	assert_int_equal(a.datacenters, dc_bit(t->set, "us-east"));
	assert_int_equal(a.scope, 96 + 24);
	a = eval(t, 0, "2001:db8:5:1::1", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(t->set, "eu-west"));
	assert_int_equal(a.scope, 48);
	a = eval(t, 1, "198.18.0.7", 0, ~0ull); /* static failover */
	assert_int_equal(a.scope, 0);
	tb_free(t);

	/* A wide IPv6 rule: its scope never reaches over the ranges looked up
	 * by their IPv4 address (here 2002::/16, 6to4), or a resolver caching
	 * by scope would give a 6to4 client in 198.18.0.0/24 this answer. */
	t = tb_new(false);
	tb_store(t);
	t->cfg.policy_count = 0;
	p = tb_pol(t, "wide", 40, CONFIG_POLICY_GEO);
	tb_tgt(p, "net:2000::/3", "eu-west", 0, 41);
	tb_tgt(p, "net:198.18.0.0/24", "us-east", 0, 42);
	tb_tgt(p, "default", "eu-central", 0, 43);
	tb_rec(t, "w", "wide", 30, 10, 51);
	tb_build_ok(t);
	a = eval(t, 0, "2001:db8:300::1", 0, ~0ull);
	assert_int_equal(a.datacenters, dc_bit(t->set, "eu-west"));
	assert_int_equal(a.scope, 15); /* 2000::/15: all of 2000::/3 that is not 2002::/16 */
	a = eval(t, 0, "3fff::1", 0, ~0ull);
	assert_int_equal(a.scope, 4); /* 3000::/4 */
	a = eval(t, 0, "2002:c612:7::1", 0, ~0ull); /* 6to4 for 198.18.0.7 */
	assert_int_equal(a.datacenters, dc_bit(t->set, "us-east"));
	assert_int_equal(a.scope, 16 + 24);
	tb_free(t);

	/* database networks */
	t = tb_new(true);
	tb_store(t);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_build_ok(t);
	assert_int_equal(eval(t, 0, "81.2.69.142", 0, ~0ull).scope, 26); /* 81.2.69.128/26 */
	assert_int_equal(eval(t, 0, "81.2.69.10", 0, ~0ull).scope, 25);  /* the /24 minus the /26 */
	assert_int_equal(eval(t, 0, "81.2.69.142", 24, ~0ull).scope, 24);
	assert_int_equal(eval(t, 0, "::ffff:81.2.69.142", 0, ~0ull).scope, 96 + 26);
	assert_int_equal(eval(t, 0, "203.0.113.9", 0, ~0ull).scope, 24); /* net rule decided */
	tb_free(t);
}

static void test_explain(void **state)
{
	(void)state;
	struct tb *t = tb_new(true);
	tb_store(t);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_build_ok(t);
	char buf[4096];
	struct policy_client c = client("81.2.69.142", 24);
	/* ECS /24 zeroes the host part: 81.2.69.0 is in the /24 entry */
	size_t n = policy_explain(t->set, rec(t, 0), &c, ~0ull, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	const char *facts[] = {
	    "client 81.2.69.0 (ECS /24): GB-ENG, continent EU, 51.5,-0.1 (network 81.2.69.0/25)",
	    "fence EU: allowed eu-central eu-west",
	    "storefront: geo continent:EU -> eu-only",
	    "eu-only: failover eu-central (up)",
	    "answer: eu-central, ttl 30, scope 24",
	};
	for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
		if (!strstr(buf, facts[i]))
			fail_msg("explain lacks '%s':\n%s", facts[i], buf);
	/* explain and evaluate agree */
	struct policy_answer a;
	policy_evaluate(t->set, rec(t, 0), &c, ~0ull, &a);
	assert_int_equal(a.scope, 24);

	uint64_t up = up_except(t->set, "eu-central", NULL);
	c = client("2.2.2.2", 0);
	policy_explain(t->set, rec(t, 0), &c, up, buf, sizeof(buf));
	if (!strstr(buf, "eu-only: failover eu-west (up; eu-central down)") ||
	    !strstr(buf, "answer: eu-west, ttl 10, scope 16, degraded"))
		fail_msg("explain:\n%s", buf);
	c = client("1.1.1.1", 0);
	policy_explain(t->set, rec(t, 0), &c, ~0ull, buf, sizeof(buf));
	if (getenv("POLICY_SHOW_EXPLAIN"))
		fprintf(stderr, "%s", buf);
	if (!strstr(buf, "storefront: geo default -> nearest") ||
	    !strstr(buf, "nearest: latency ap-southeast") || !strstr(buf, "ap-southeast 5") ||
	    !strstr(buf, " km up"))
		fail_msg("explain:\n%s", buf);
	/* truncation: never overflows, length counts what was written */
	char small[40];
	n = policy_explain(t->set, rec(t, 0), &c, ~0ull, small, sizeof(small));
	assert_true(n < sizeof(small));
	assert_int_equal(strlen(small), n);
	tb_free(t);
}

/* MaxMind's published test database, when ../shared/geoip has it. */
static void test_maxmind_fixture(void **state)
{
	(void)state;
	const char *path = "../shared/geoip/GeoLite2-City-Test.mmdb";
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "skipped: %s not present\n", path);
		skip();
	}
	struct tb *t = tb_new(true);
	t->cfg.geoip.database = (char *)path;
	tb_store(t);
	tb_fence(t, "EU", 45, eu_clients, eu_allowed);
	tb_rec(t, "www", "storefront", 30, 10, 51);
	tb_build_ok(t);
	expect_dc(t, 0, "81.2.69.142", ~0ull, "eu-central");
	expect_dc(t, 0, "216.160.83.56", ~0ull, "us-east");
	expect_dc(t, 0, "175.16.199.1", ~0ull, "ap-southeast");
	expect_dc(t, 0, "2001:218::1", ~0ull, "ap-southeast");
	tb_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_store),
	    cmocka_unit_test(test_geo_store),
	    cmocka_unit_test(test_geo_precedence),
	    cmocka_unit_test(test_geo_nodata),
	    cmocka_unit_test(test_failover_health),
	    cmocka_unit_test(test_nested_failover),
	    cmocka_unit_test(test_latency_distance),
	    cmocka_unit_test(test_latency_table),
	    cmocka_unit_test(test_latency_probes),
	    cmocka_unit_test(test_latency_table_only),
	    cmocka_unit_test(test_weighted_distribution),
	    cmocka_unit_test(test_weighted_sticky),
	    cmocka_unit_test(test_all_max),
	    cmocka_unit_test(test_fence_runtime),
	    cmocka_unit_test(test_fence_proof),
	    cmocka_unit_test(test_build_errors),
	    cmocka_unit_test(test_build_limits),
	    cmocka_unit_test(test_wrong_database_kind),
	    cmocka_unit_test(test_scope),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_maxmind_fixture),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
