/*
 * fuzz_config — libFuzzer target for geosteer.yaml: the input is a config
 * file, loaded the way the daemon loads and reloads one (server_reload):
 * config_load, snapshot_build, snapshot_publish, then the health slots and
 * address bits the served snapshot no longer uses are released.  Health
 * probes are not started (probe_apply would send packets to whatever
 * addresses the input names).
 *
 * The config lives in a temporary folder that also holds every file the
 * repository's example configs name, relative to it (fuzz_make_fixtures):
 * zone files, GeoIP databases built with tools/mkgeodb, a latency table.
 *
 * Checked with abort(): a failed load or build gives one line starting
 * with a file (fuzz_check_error).  A loaded config keeps the ranges and
 * rules config.h promises (counts against arrays, resolved absolute paths,
 * a datacenter with a cname has no addresses and no checks, timeouts below
 * intervals...).  A built snapshot has one zone per configured zone, each
 * found by its origin, one compiled record and datacenter per configured
 * one, one health slot per datacenter.  Then every record name (up to a
 * few) is asked A, AAAA, ANY and CNAME from clients in different places of
 * the fixture databases, with some datacenters drained (chosen by the
 * input), over UDP with and without Client Subnet and over TCP, and the
 * first are explained; replies must be well-formed (fuzz_ask).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dname.h"
#include "explain.h"
#include "fuzz_common.h"
#include "health.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "snapshot.h"
#include "stats.h"
#include "zone.h"

#define FUZZ_RECORDS_MAX 8
#define FUZZ_EXPLAIN_MAX 2

static char *config_path;

struct fuzz_client {
	const char *text;
	int family;
	uint8_t addr[16];
};

/* In the fixture databases: Europe, California, the net: rule of the
 * store example, Tokyo by IPv6, 6to4 of a European address, nowhere. */
static struct fuzz_client clients[] = {
    {"192.0.2.40", 4, {0}}, {"198.51.100.1", 4, {0}},    {"203.0.113.5", 4, {0}},      {"1.1.1.1", 4, {0}},
    {"81.2.69.1", 4, {0}},  {"2001:db8:300::1", 6, {0}}, {"2002:c000:228::1", 6, {0}}, {"127.0.0.1", 4, {0}},
};

static void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
	fuzz_make_fixtures(fuzz_tmpdir());
	config_path = strdup(fuzz_tmp_path("fuzz.yaml"));
	for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++)
		if (inet_pton(clients[i].family == 4 ? AF_INET : AF_INET6, clients[i].text,
		              clients[i].addr) != 1)
			abort();
}

static bool fuzz_valid_address(int af, const char *text)
{
	uint8_t buf[16];
	return text != NULL && inet_pton(af, text, buf) == 1;
}

/* What config.h promises of a config that loaded. */
static void fuzz_check_config(const struct config *c)
{
	if (c->path == NULL || strcmp(c->path, config_path) != 0)
		abort();
	if (c->workers < 1 || c->workers > 64 || c->udp_payload < 512 || c->udp_payload > 4096 ||
	    c->tcp_idle_timeout_ms < 1000 || c->tcp_idle_timeout_ms > 600000 || c->tcp_max_connections < 1 ||
	    c->tcp_max_connections > 65535)
		abort();
	if ((c->listen_count && !c->listen) || (c->metrics_count && !c->metrics) ||
	    (c->zone_count && !c->zones) || (c->datacenter_count && !c->datacenters) ||
	    (c->policy_count && !c->policies) || (c->fence_count && !c->fences) ||
	    (c->check_count && !c->checks))
		abort();
	for (size_t i = 0; i < c->listen_count; i++)
		if (c->listen[i].addr_len == 0 ||
		    (c->listen[i].addr.ss_family != AF_INET && c->listen[i].addr.ss_family != AF_INET6) ||
		    memchr(c->listen[i].text, '\0', sizeof c->listen[i].text) == NULL)
			abort();
	if (c->nsid != NULL && strlen(c->nsid) > 255)
		abort();
	if ((c->geoip.database && c->geoip.database[0] != '/') ||
	    (c->geoip.asn_database && c->geoip.asn_database[0] != '/'))
		abort();
	for (size_t i = 0; i < c->zone_count; i++) {
		const struct config_zone *z = &c->zones[i];
		if (!z->origin || !z->file || z->file[0] != '/' || z->line < 1 ||
		    (z->record_count && !z->records))
			abort();
		for (size_t j = 0; j < z->record_count; j++)
			if (!z->records[j].name || !z->records[j].policy || z->records[j].line < 1 ||
			    z->records[j].ttl > 2147483647u || z->records[j].down_ttl > 2147483647u)
				abort();
	}
	for (size_t i = 0; i < c->datacenter_count; i++) {
		const struct config_datacenter *d = &c->datacenters[i];
		if (!d->name || d->line < 1 || (d->cname && (d->a_count || d->aaaa_count || d->check_count)))
			abort();
		if (d->has_location &&
		    (d->latitude < -90 || d->latitude > 90 || d->longitude < -180 || d->longitude > 180))
			abort();
		if (d->check_count && d->a_count + d->aaaa_count > 64)
			abort();
		for (size_t j = 0; j < d->a_count; j++)
			if (!fuzz_valid_address(AF_INET, d->a[j]))
				abort();
		for (size_t j = 0; j < d->aaaa_count; j++)
			if (!fuzz_valid_address(AF_INET6, d->aaaa[j]))
				abort();
		if (d->cname && d->cname[strlen(d->cname) - 1] != '.')
			abort();
		for (size_t j = 0; j < d->check_count; j++) {
			bool known = false;
			for (size_t k = 0; k < c->check_count; k++)
				known |= strcmp(d->checks[j], c->checks[k].name) == 0;
			if (!known)
				abort();
		}
	}
	for (size_t i = 0; i < c->check_count; i++) {
		const struct config_check *k = &c->checks[i];
		if (!k->name || k->timeout_ms >= k->interval_ms || k->interval_ms < 100 || k->rise < 1 ||
		    k->rise > 1000 || k->fall < 1 || k->fall > 1000 || k->port == 0)
			abort();
		if (k->type == CONFIG_CHECK_DNS && k->query_name == NULL)
			abort();
		if ((k->type == CONFIG_CHECK_HTTP || k->type == CONFIG_CHECK_HTTPS) &&
		    (k->path == NULL || k->path[0] != '/' || k->expect_status_count == 0))
			abort();
	}
	for (size_t i = 0; i < c->policy_count; i++) {
		const struct config_policy *p = &c->policies[i];
		if (!p->name || p->target_count == 0 || !p->targets)
			abort();
		if (p->latency_table && p->latency_table[0] != '/')
			abort();
		for (size_t j = 0; j < p->target_count; j++)
			if (!p->targets[j].target ||
			    (p->kind == CONFIG_POLICY_GEO) != (p->targets[j].key != NULL) ||
			    p->targets[j].weight > 1000000)
				abort();
	}
	for (size_t i = 0; i < c->fence_count; i++)
		if (!c->fences[i].name || !c->fences[i].client_count || !c->fences[i].allowed_count)
			abort();
	char control[4096];
	config_control_path(c, control, sizeof control);
	if (control[0] == '\0')
		abort();
}


static void fuzz_check_snapshot(const struct config *c, const struct snapshot *snap)
{
	if (snap->zones == NULL || snap->policies == NULL || zone_table_count(snap->zones) != c->zone_count)
		abort();
	for (size_t i = 0; i < c->zone_count; i++) {
		uint8_t origin[DNAME_MAXLEN];
		char text[DNAME_TEXT_MAXLEN];
		snprintf(text, sizeof text, "%s", c->zones[i].origin);
		if (dname_from_text(text, origin) < 0)
			abort(); /* the zone was built from it */
		dname_lower(origin);
		const struct zone *z = zone_table_find(snap->zones, origin);
		if (z == NULL || !dname_equal(z->origin, origin) || z->soa == NULL)
			abort();
	}
	size_t records = 0;
	for (size_t i = 0; i < c->zone_count; i++)
		records += c->zones[i].record_count;
	if (policy_set_record_count(snap->policies) != records ||
	    policy_set_datacenter_count(snap->policies) != c->datacenter_count ||
	    (size_t)__builtin_popcountll(policy_set_health_slots(snap->policies)) != c->datacenter_count ||
	    policy_set_uses_client_subnet(snap->policies) != c->geoip.client_subnet ||
	    snap->settings.udp_payload != c->udp_payload)
		abort();
	for (size_t i = 0; i < records; i++)
		if (policy_record_index(snap->policies, policy_set_record_at(snap->policies, i)) != i)
			abort();
}

static uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	return h;
}

static void fuzz_ask_records(const struct snapshot *snap, uint64_t h)
{
	static const uint16_t types[] = {1 /* A */, 28 /* AAAA */, 255 /* ANY */, 5 /* CNAME */};
	static const char *const type_names[] = {"A", "AAAA", "ANY", "CNAME"};
	static char out[16384];
	size_t n = policy_set_record_count(snap->policies);
	for (size_t i = 0; i < n && i < FUZZ_RECORDS_MAX; i++, h = h >> 5 | h << 59) {
		const char *text = policy_record_name(policy_set_record_at(snap->policies, i));
		uint8_t name[DNAME_MAXLEN];
		if (text == NULL || dname_from_text(text, name) < 0 ||
		    zone_table_find(snap->zones, name) == NULL)
			abort(); /* a record is a name in one of the zones */
		const struct fuzz_client *cl = &clients[h % (sizeof clients / sizeof clients[0])];
		size_t t = (h >> 8) % (sizeof types / sizeof types[0]);
		fuzz_ask(snap->zones, snap->policies, &snap->settings, name, types[t], cl->family, cl->addr,
		         true, false);
		fuzz_ask(snap->zones, snap->policies, &snap->settings, name, types[(t + 1) % 4], cl->family,
		         cl->addr, false, false);
		fuzz_ask(snap->zones, snap->policies, &snap->settings, name, types[(t + 2) % 4], cl->family,
		         cl->addr, false, true);
		if (i < FUZZ_EXPLAIN_MAX) {
			out[0] = '\0';
			if (explain_query(snap, cl->text, text, type_names[t], out, sizeof out) != 0 ||
			    out[0] == '\0') {
				fprintf(stderr, "fuzz_config: explain %s %s %s failed: %s\n", cl->text, text,
				        type_names[t], out);
				abort();
			}
		}
	}
	for (size_t i = 0; i < zone_table_count(snap->zones) && i < 4; i++)
		fuzz_ask(snap->zones, snap->policies, &snap->settings, zone_table_at(snap->zones, i)->origin,
		         6 /* SOA */, 4, clients[0].addr, true, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (config_path == NULL)
		fuzz_init();
	fuzz_write_file(config_path, data, size);

	struct config cfg;
	char err[1024] = "";
	if (config_load(config_path, &cfg, err, sizeof err) < 0) {
		fuzz_check_error(err);
		return 0;
	}
	fuzz_check_config(&cfg);
	struct snapshot *snap = NULL;
	if (snapshot_build(&cfg, &snap, err, sizeof err) < 0) {
		if (snap != NULL)
			abort();
		fuzz_check_error(err);
		server_release_health_slots();
		config_free(&cfg);
		return 0;
	}
	fuzz_check_snapshot(&cfg, snap);
	snapshot_publish(snap); /* frees the previous input's */
	server_release_health_slots();

	/* Some datacenters drained, chosen by the input, so failover and
	 * fail-open answers are asked too; undrained after. */
	uint64_t h = fuzz_hash(data, size);
	uint64_t drained = policy_set_health_slots(snap->policies) & h & (h >> 17);
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		if (drained >> slot & 1)
			health_set_admin(slot, HEALTH_ADMIN_DRAIN);
	fuzz_ask_records(snapshot_current(), h);
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		if (drained >> slot & 1)
			health_set_admin(slot, HEALTH_ADMIN_NONE);
	config_free(&cfg);
	return 0;
}
