/*
 * fuzz_zone — libFuzzer target for zone files: the input is the text of
 * the master file of example.com, built with zone_table_build beside a
 * fixed child zone, sub.example.com (so the checks across zones run too).
 *
 * $INCLUDE: the input is cut at its first "\n%%\n" line; what follows is
 * written to inc.zone in the same folder, which the first part may
 * include ("$INCLUDE inc.zone [origin]"), itself included.  Without the
 * line inc.zone holds one fixed record.
 *
 * A failed build must say where: one line starting with the file
 * (fuzz_check_error).  A build that succeeds must give a consistent table,
 * checked with abort(): two zones with their origins, each apex a node with
 * the APEX flag holding the zone's one SOA, whose serial and negative TTL
 * agree with the SOA's rdata; every apex RRset sorted by type, non-empty,
 * its additional links to nodes with addresses.  Then owner names taken
 * from the input's lines (and a name below each, and the apex) are looked
 * up with zone_lookup, whose result must fit the name (EXACT: the node is
 * the name's; NXDOMAIN: the closest encloser is an ancestor...), answered
 * with query_respond over UDP and TCP (replies must be well-formed,
 * fuzz_ask), and the first few are explained (explain_query must succeed
 * for a name of a zone served here).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "explain.h"
#include "fuzz_common.h"
#include "log.h"
#include "query.h"
#include "snapshot.h"
#include "wire.h"
#include "zone.h"

#define FUZZ_NAMES_MAX 8
#define FUZZ_EXPLAIN_MAX 2


static const char *zone_path, *include_path;
static const uint8_t *origin_wire; /* example.com. */
static uint8_t origins[2][DNAME_MAXLEN];

static void fuzz_init(void)
{
	static const char sub[] = "$ORIGIN sub.example.com.\n$TTL 100\n"
	                          "@ IN SOA ns.sub.example.com. h.sub.example.com. 3 3600 900 604800 50\n"
	                          "@ NS ns\nns A 192.0.2.201\nwww A 192.0.2.202\n* MX 10 www\n";
	log_set_level(LOG_ERROR); /* occluded data is dropped with a warning */
	zone_path = strdup(fuzz_tmp_path("fuzz.zone"));
	include_path = strdup(fuzz_tmp_path("inc.zone"));
	fuzz_write_file(fuzz_tmp_path("sub.zone"), sub, sizeof sub - 1);
	if (dname_from_text("example.com.", origins[0]) < 0 ||
	    dname_from_text("sub.example.com.", origins[1]) < 0)
		abort();
	origin_wire = origins[0];
}

/* The serial is the first number after the SOA's two names. */
static uint32_t fuzz_soa_serial(const struct zone_rdata *rd, uint32_t *minimum)
{
	size_t n1 = dname_len(rd->data);
	size_t n2 = dname_len(rd->data + n1);
	if (n1 + n2 + 20 != rd->len)
		abort();
	*minimum = wire_get_u32(rd->data + n1 + n2 + 16);
	return wire_get_u32(rd->data + n1 + n2);
}

static void fuzz_check_zone(const struct zone_table *table, size_t index)
{
	const struct zone *z = zone_table_at(table, index);
	if (z == NULL || z->apex == NULL || z->soa == NULL || !dname_equal(z->origin, origins[index]))
		abort();
	if (!(z->apex->flags & ZONE_NODE_APEX) || !dname_equal(z->apex->name, z->origin))
		abort();
	if (zone_node_find(z, z->origin) != z->apex || zone_table_find(table, z->origin) != z)
		abort();
	if (zone_node_rrset(z->apex, WIRE_TYPE_SOA) != z->soa || z->soa->count != 1 ||
	    zone_node_rrset(z->apex, WIRE_TYPE_NS) == NULL)
		abort();
	uint32_t minimum;
	if (fuzz_soa_serial(&z->soa->rdata[0], &minimum) != z->serial)
		abort();
	if (z->negative_ttl != (z->soa->ttl < minimum ? z->soa->ttl : minimum))
		abort();
	if (z->node_count < 1 || z->rr_count < z->apex->rrset_count)
		abort();
	for (size_t i = 0; i < z->apex->rrset_count; i++) {
		const struct zone_rrset *set = &z->apex->rrsets[i];
		if (set->count == 0 || (i > 0 && set[-1].type >= set->type))
			abort();
		for (size_t j = 0; j < set->additional_count; j++) {
			const struct zone_node *n = set->additional[j].node;
			if (n == NULL || set->additional[j].owner == NULL ||
			    (zone_node_rrset(n, WIRE_TYPE_A) == NULL && zone_node_rrset(n, WIRE_TYPE_AAAA) == NULL))
				abort();
		}
	}
}

/* zone_lookup's answer must fit the name asked. */
static void fuzz_check_lookup(const struct zone *z, const uint8_t *qname, uint16_t qtype)
{
	struct zone_lookup lk;
	zone_lookup(z, qname, qtype, &lk);
	switch (lk.match) {
	case ZONE_MATCH_EXACT:
		if (lk.node == NULL || !dname_equal(lk.node->name, qname))
			abort();
		break;
	case ZONE_MATCH_WILDCARD:
		if (lk.node == NULL || !dname_is_wildcard(lk.node->name) ||
		    !dname_is_at_or_below(qname, dname_parent(lk.node->name)) ||
		    dname_equal(qname, dname_parent(lk.node->name)))
			abort();
		break;
	case ZONE_MATCH_DELEGATION:
		/* the cut's node, or a wildcard owning NS that covers qname */
		if (lk.node == NULL)
			abort();
		if (dname_is_wildcard(lk.node->name)) {
			if (!dname_is_at_or_below(qname, dname_parent(lk.node->name)))
				abort();
		} else if (!(lk.node->flags & ZONE_NODE_DELEGATION) ||
		           !dname_is_at_or_below(qname, lk.node->name)) {
			abort();
		}
		break;
	case ZONE_MATCH_NXDOMAIN:
		if (lk.closest_encloser == NULL || !dname_is_at_or_below(qname, lk.closest_encloser->name) ||
		    dname_equal(qname, lk.closest_encloser->name))
			abort();
		break;
	case ZONE_MATCH_DNAME:
		if (lk.node == NULL || !(lk.node->flags & ZONE_NODE_DNAME) ||
		    !dname_is_at_or_below(qname, lk.node->name) || dname_equal(qname, lk.node->name))
			abort();
		break;
	default:
		abort();
	}
}

/* Owner names written at the start of the input's lines, as absolute
 * lower-case wire names under example.com (others are skipped). */
static size_t fuzz_names(const char *text, size_t size, uint8_t names[][DNAME_MAXLEN], size_t max)
{
	size_t n = 0;
	for (const char *p = text, *end = text + size; p < end && n < max;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		const char *t = p;
		while (t < eol && *t != ' ' && *t != '\t' && *t != '\r' && *t != ';')
			t++;
		size_t len = (size_t)(t - p);
		char buf[DNAME_TEXT_MAXLEN];
		if (len > 0 && len < 300 && *p != '$' && *p != '(' && *p != ')' && *p != '"') {
			if (len == 1 && *p == '@')
				snprintf(buf, sizeof buf, "example.com.");
			else if (p[len - 1] == '.')
				snprintf(buf, sizeof buf, "%.*s", (int)len, p);
			else
				snprintf(buf, sizeof buf, "%.*s.example.com.", (int)len, p);
			if (dname_from_text(buf, names[n]) > 0) {
				dname_lower(names[n]);
				if (dname_is_at_or_below(names[n], origin_wire))
					n++;
			}
		}
		p = eol + 1;
	}
	return n;
}

/* "zz." + name, when it fits. */
static bool fuzz_below(const uint8_t *name, uint8_t out[DNAME_MAXLEN])
{
	size_t len = dname_len(name);
	if (len + 3 > DNAME_MAXLEN)
		return false;
	out[0] = 2;
	out[1] = 'z';
	out[2] = 'z';
	memcpy(out + 3, name, len);
	return true;
}

static void fuzz_ask_name(const struct zone_table *table, const uint8_t *name, uint16_t qtype, unsigned k)
{
	static const struct query_settings settings = {.udp_payload = 1232};
	const struct zone *z = zone_table_find(table, name);
	if (z == NULL)
		abort(); /* every name asked is under example.com */
	fuzz_check_lookup(z, name, qtype);
	fuzz_ask(table, NULL, &settings, name, qtype, 0, NULL, k & 1, false);
	fuzz_ask(table, NULL, &settings, name, qtype, 0, NULL, false, true);
}

static void fuzz_explain(const struct zone_table *table, const uint8_t *name, const char *type)
{
	static char out[16384];
	struct snapshot snap = {.zones = table != NULL ? (struct zone_table *)table : NULL,
	                        .settings = {.udp_payload = 1232}};
	char text[DNAME_TEXT_MAXLEN];
	if (dname_to_text(name, text, sizeof text) < 0)
		abort();
	out[0] = '\0';
	if (explain_query(&snap, "192.0.2.1", text, type, out, sizeof out) != 0 || out[0] == '\0') {
		fprintf(stderr, "fuzz_zone: explain %s %s failed: %s\n", text, type, out);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed_include[] = "included A 192.0.2.99\n";
	static const uint16_t types[] = {WIRE_TYPE_A,  WIRE_TYPE_AAAA, WIRE_TYPE_ANY, WIRE_TYPE_MX,  WIRE_TYPE_CNAME,
	                                 WIRE_TYPE_NS, WIRE_TYPE_DS,   WIRE_TYPE_TXT, WIRE_TYPE_SRV, WIRE_TYPE_HTTPS};
	static const char *const type_names[] = {"A",  "AAAA", "ANY", "MX",  "CNAME",
	                                         "NS", "DS",   "TXT", "SRV", "HTTPS"};
	static uint8_t names[FUZZ_NAMES_MAX][DNAME_MAXLEN];

	if (zone_path == NULL)
		fuzz_init();
	const char *text = (const char *)data;
	const char *cut = size >= 4 ? memmem(text, size, "\n%%\n", 4) : NULL;
	size_t first = cut != NULL ? (size_t)(cut - text) + 1 : size;
	fuzz_write_file(zone_path, data, first);
	if (cut != NULL)
		fuzz_write_file(include_path, data + first + 3, size - first - 3);
	else
		fuzz_write_file(include_path, fixed_include, sizeof fixed_include - 1);

	struct zone_source sources[2] = {
	    {.origin = "example.com", .file = zone_path},
	    {.origin = "sub.example.com", .file = fuzz_tmp_path("sub.zone")},
	};
	struct zone_table *table = NULL;
	char err[1024] = "";
	if (zone_table_build(sources, 2, &table, err, sizeof err) != 0) {
		if (table != NULL)
			abort();
		fuzz_check_error(err);
		return 0;
	}
	if (table == NULL || zone_table_count(table) != 2)
		abort();
	fuzz_check_zone(table, 0);
	fuzz_check_zone(table, 1);

	size_t n = fuzz_names(text, first, names, FUZZ_NAMES_MAX);
	unsigned k = size > 0 ? data[0] : 0;
	fuzz_ask_name(table, origin_wire, WIRE_TYPE_SOA, k);
	fuzz_ask_name(table, origin_wire, WIRE_TYPE_ANY, k);
	for (size_t i = 0; i < n; i++, k++) {
		uint8_t below[DNAME_MAXLEN];
		size_t t = (k + i) % (sizeof types / sizeof types[0]);
		fuzz_ask_name(table, names[i], types[t], k);
		if (fuzz_below(names[i], below))
			fuzz_ask_name(table, below, types[(t + 1) % (sizeof types / sizeof types[0])], k);
		if (i < FUZZ_EXPLAIN_MAX)
			fuzz_explain(table, names[i], type_names[t]);
	}
	zone_table_free(table);
	return 0;
}
