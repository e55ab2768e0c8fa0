/*
 * explain — narrates how one name is answered for one client.
 *
 * Two parts, each taken from the code that really answers, so explain can
 * not drift from what clients get:
 *
 *   1. The reasoning.  The CNAME chain is walked the way query.c walks it
 *      (zone_lookup, the same CNAME limit, in-zone targets only); at each
 *      policy name policy_explain() narrates the evaluation (it shares one
 *      walk with policy_evaluate), and policy_evaluate() tells whether the
 *      choice is a cname datacenter to follow.  Static names just say so.
 *   2. The reply.  A real query packet is built, carrying the client as
 *      EDNS Client Subnet (/32 or /128, the packet "source" being the same
 *      address, so the answer is the same whether or not the config honours
 *      ECS), answered by query_respond() over "TCP" (no truncation), and
 *      printed with ldns.  The ECS scope is read from the reply's OPT.
 *
 * This is a tool for operators, off the query path: it may allocate (the
 * 64 KiB reply buffer, ldns's packet), and it reads the live health state.
 */
#include "explain.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dname.h"
#include "health.h"
#include "policy.h"
#include "query.h"
#include "snapshot.h"
#include "wire.h"
#include "zone.h"

/* As query.c: a chain is followed through at most 5 CNAMEs. */
#define EXPLAIN_CNAME_MAX 5
#define EXPLAIN_UDP_SIZE 4096

struct explain_out {
	char *buf;
	size_t cap, len;
};

static void explain_printf(struct explain_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void explain_printf(struct explain_out *o, const char *fmt, ...)
{
	if (o->cap == 0 || o->len >= o->cap - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->len += (size_t)n;
	if (o->len > o->cap - 1)
		o->len = o->cap - 1;
}

/* A one-line error in out; always -1. */
static int explain_fail(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int explain_fail(char *out, size_t outlen, const char *fmt, ...)
{
	if (outlen == 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The client as an address for the packet source and as steering sees it. */
struct explain_client {
	struct sockaddr_storage sa;
	struct policy_client policy;
};

static bool explain_client_parse(const char *text, struct explain_client *c)
{
	memset(c, 0, sizeof *c);
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->sa;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		c->policy.family = 4;
		memcpy(c->policy.addr, &sin->sin_addr, 4);
		c->policy.source_prefix = 32;
		return true;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		c->policy.family = 6;
		memcpy(c->policy.addr, &sin6->sin6_addr, 16);
		c->policy.source_prefix = 128;
		return true;
	}
	return false;
}

static bool explain_policy_answers(uint16_t qtype)
{
	return qtype == WIRE_TYPE_A || qtype == WIRE_TYPE_AAAA || qtype == WIRE_TYPE_CNAME ||
	       qtype == WIRE_TYPE_ANY;
}

/* The cname of the first chosen datacenter that has one (query.c's rule). */
static const uint8_t *explain_policy_cname(const struct policy_set *set, const struct policy_answer *a)
{
	if (a->nodata)
		return NULL;
	size_t n = policy_set_datacenter_count(set);
	for (size_t i = 0; i < n && i < POLICY_MAX_DATACENTERS; i++) {
		const struct policy_datacenter *dc = policy_set_datacenter(set, i);
		if ((a->datacenters >> i & 1) && dc->cname != NULL)
			return dc->cname;
	}
	return NULL;
}

/* Part 1: why.  One block per name on the chain. */
static void explain_chain(struct explain_out *o, const struct snapshot *snap, const struct zone *zone,
                          const uint8_t *qname, uint16_t qtype, const struct policy_client *client)
{
	const uint8_t *name = qname;
	uint64_t up = query_health_mask(qtype);
	uint8_t rewritten[EXPLAIN_CNAME_MAX + 1][DNAME_MAXLEN]; /* DNAME targets, one per link */

	for (unsigned turn = 0; turn <= EXPLAIN_CNAME_MAX; turn++) {
		char text[DNAME_MAXLEN * 4 + 2];
		if (dname_to_text(name, text, sizeof text) < 0)
			snprintf(text, sizeof text, "?");
		struct zone_lookup lk;
		zone_lookup(zone, name, qtype, &lk);
		switch (lk.match) {
		case ZONE_MATCH_DELEGATION:
			explain_printf(o, "%s: delegated (a referral, answered by the child zone)\n", text);
			return;
		case ZONE_MATCH_NXDOMAIN:
			explain_printf(o, "%s: no such name in %s\n", text, zone->file);
			return;
		case ZONE_MATCH_WILDCARD:
			explain_printf(o, "%s: covered by a wildcard\n", text);
			break;
		case ZONE_MATCH_EXACT:
			break;
		case ZONE_MATCH_DNAME: {
			/* query.c's rule: the DNAME's synthesized CNAME is a link. */
			const struct zone_rrset *dname = zone_node_rrset(lk.node, WIRE_TYPE_DNAME);
			char owner[DNAME_MAXLEN * 4 + 2], ttext[DNAME_MAXLEN * 4 + 2];
			if (dname_to_text(lk.node->name, owner, sizeof owner) < 0)
				snprintf(owner, sizeof owner, "?");
			size_t len = dname != NULL && dname->count > 0
			                 ? dname_substitute(name, lk.node->name, dname->rdata[0].data, rewritten[turn])
			                 : 0;
			if (len == 0) {
				explain_printf(o, "%s: below the DNAME at %s, too long once rewritten (YXDOMAIN)\n",
				               text, owner);
				return;
			}
			if (dname_to_text(rewritten[turn], ttext, sizeof ttext) < 0)
				snprintf(ttext, sizeof ttext, "?");
			if (!dname_is_at_or_below(rewritten[turn], zone->origin) || qtype == WIRE_TYPE_CNAME) {
				explain_printf(o, "%s: below the DNAME at %s: CNAME to %s, the chain ends here\n", text,
				               owner, ttext);
				return;
			}
			explain_printf(o, "%s: below the DNAME at %s: CNAME to %s, followed\n", text, owner, ttext);
			name = rewritten[turn];
			continue;
		}
		}
		const struct zone_node *node = lk.node;
		const uint8_t *target = NULL;
		if (node->policy != NULL && explain_policy_answers(qtype)) {
			size_t room = o->cap > o->len ? o->cap - o->len : 0;
			o->len +=
			    policy_explain(snap->policies, node->policy, client, up, o->buf + o->len, room);
			if (o->len > 0 && o->len < o->cap - 1 && o->buf[o->len - 1] != '\n')
				explain_printf(o, "\n");
			struct policy_answer a;
			policy_evaluate(snap->policies, node->policy, client, up, &a);
			target = explain_policy_cname(snap->policies, &a);
			if (target == NULL || qtype == WIRE_TYPE_CNAME || qtype == WIRE_TYPE_ANY)
				return;
		} else {
			const struct zone_rrset *cname = zone_node_rrset(node, WIRE_TYPE_CNAME);
			if (cname == NULL || cname->count == 0 || qtype == WIRE_TYPE_CNAME ||
			    qtype == WIRE_TYPE_ANY || qtype == WIRE_TYPE_RRSIG) {
				explain_printf(o, "%s: static data%s\n", text,
				               node->policy != NULL
				                   ? " (its policy answers only A, AAAA, CNAME and ANY)"
				                   : ", no policy");
				return;
			}
			target = cname->rdata[0].data;
		}
		char ttext[DNAME_MAXLEN * 4 + 2];
		if (dname_to_text(target, ttext, sizeof ttext) < 0)
			snprintf(ttext, sizeof ttext, "?");
		if (!dname_is_at_or_below(target, zone->origin)) {
			explain_printf(o, "%s: CNAME to %s, outside the zone: the chain ends here\n", text,
			               ttext);
			return;
		}
		explain_printf(o, "%s: CNAME to %s, followed\n", text, ttext);
		name = target;
	}
	explain_printf(o, "the chain is longer than %d CNAMEs: it ends there\n", EXPLAIN_CNAME_MAX);
}

/* A query for qname / qtype with EDNS and the client as ECS. */
static size_t explain_build_query(uint8_t *p, const uint8_t *qname, uint16_t qtype,
                                  const struct policy_client *client)
{
	size_t pos = WIRE_HEADER_LEN;
	size_t qlen = dname_len(qname);
	unsigned addr_len = client->family == 4 ? 4 : 16;

	memset(p, 0, WIRE_HEADER_LEN);
	wire_put_u16(p, 0x6578); /* "ex" */
	wire_put_u16(p + 4, 1);  /* QDCOUNT */
	wire_put_u16(p + 10, 1); /* ARCOUNT: the OPT */
	memcpy(p + pos, qname, qlen);
	pos += qlen;
	wire_put_u16(p + pos, qtype);
	wire_put_u16(p + pos + 2, WIRE_CLASS_IN);
	pos += 4;
	p[pos++] = 0; /* root owner */
	wire_put_u16(p + pos, WIRE_TYPE_OPT);
	wire_put_u16(p + pos + 2, EXPLAIN_UDP_SIZE);
	wire_put_u32(p + pos + 4, 0);
	wire_put_u16(p + pos + 8, (uint16_t)(4 + 4 + addr_len));
	pos += 10;
	wire_put_u16(p + pos, WIRE_EDNS_CLIENT_SUBNET);
	wire_put_u16(p + pos + 2, (uint16_t)(4 + addr_len));
	wire_put_u16(p + pos + 4, client->family == 4 ? 1 : 2);
	p[pos + 6] = client->source_prefix;
	p[pos + 7] = 0; /* SCOPE PREFIX-LENGTH: 0 in queries */
	memcpy(p + pos + 8, client->addr, addr_len);
	return pos + 8 + addr_len;
}

/* The SCOPE PREFIX-LENGTH of the reply's ECS option; -1 when it has none. */
static int explain_reply_scope(const uint8_t *r, size_t len)
{
	uint8_t name[DNAME_MAXLEN];
	size_t pos = WIRE_HEADER_LEN;

	if (len < WIRE_HEADER_LEN)
		return -1;
	unsigned qd = wire_get_u16(r + 4);
	unsigned rr = (unsigned)wire_get_u16(r + 6) + wire_get_u16(r + 8) + wire_get_u16(r + 10);
	for (unsigned i = 0; i < qd; i++) {
		if (wire_read_name(r, len, &pos, name) < 0 || len - pos < 4)
			return -1;
		pos += 4;
	}
	for (unsigned i = 0; i < rr; i++) {
		if (wire_read_name(r, len, &pos, name) < 0 || len - pos < 10)
			return -1;
		uint16_t type = wire_get_u16(r + pos);
		size_t rdlen = wire_get_u16(r + pos + 8);
		pos += 10;
		if (len - pos < rdlen)
			return -1;
		if (type == WIRE_TYPE_OPT) {
			for (size_t o = 0; o + 4 <= rdlen;) {
				uint16_t code = wire_get_u16(r + pos + o),
				         olen = wire_get_u16(r + pos + o + 2);
				if (o + 4 + olen > rdlen)
					return -1;
				if (code == WIRE_EDNS_CLIENT_SUBNET && olen >= 4)
					return r[pos + o + 4 + 3];
				o += 4 + (size_t)olen;
			}
			return -1;
		}
		pos += rdlen;
	}
	return -1;
}

/* Prints the records of one section, one line each, with spaces for tabs;
 * lowers *min_ttl to the lowest TTL seen. */
static void explain_section(struct explain_out *o, const char *label, const ldns_rr_list *list,
                            uint32_t *min_ttl, bool *any)
{
	size_t n = list != NULL ? ldns_rr_list_rr_count(list) : 0;
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		char *s = ldns_rr2str(rr);
		if (s == NULL)
			continue;
		size_t len = strlen(s);
		while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		for (char *t = s; *t; t++)
			if (*t == '\t')
				*t = ' ';
		explain_printf(o, "  %s: %s\n", label, s);
		free(s);
		if (!*any || ldns_rr_ttl(rr) < *min_ttl)
			*min_ttl = ldns_rr_ttl(rr);
		*any = true;
	}
}

/* Part 2: what the server sends. */
static int explain_reply(struct explain_out *o, const struct snapshot *snap, const uint8_t *qname,
                         uint16_t qtype, const struct explain_client *client)
{
	uint8_t req[512];
	size_t reqlen = explain_build_query(req, qname, qtype, &client->policy);
	uint8_t *resp = malloc(WIRE_MAX_MESSAGE);
	if (resp == NULL)
		return -1;
	struct query_client qc = {(const struct sockaddr *)&client->sa, QUERY_TCP};
	size_t len = query_respond(snap->zones, snap->policies, &snap->settings, &qc, req, reqlen, resp,
	                           WIRE_MAX_MESSAGE);
	ldns_pkt *pkt = NULL;
	if (len == 0 || ldns_wire2pkt(&pkt, resp, len) != LDNS_STATUS_OK) {
		free(resp);
		return -1;
	}
	int rcode = resp[3] & 0x0F;
	const ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, rcode);
	explain_printf(o, "reply: %s%s\n", rc != NULL ? rc->name : "rcode",
	               (wire_get_u16(resp + 2) & WIRE_FLAG_TC) ? ", truncated" : "");
	uint32_t answer_ttl = 0, authority_ttl = 0;
	bool answered = false, authority = false;
	explain_section(o, "answer", ldns_pkt_answer(pkt), &answer_ttl, &answered);
	explain_section(o, "authority", ldns_pkt_authority(pkt), &authority_ttl, &authority);
	int scope = explain_reply_scope(resp, len);
	explain_printf(o, "ttl %u, ecs scope /%d\n", answered ? answer_ttl : authority_ttl,
	               scope < 0 ? 0 : scope);
	ldns_pkt_free(pkt);
	free(resp);
	return 0;
}

int explain_query(const struct snapshot *snap, const char *client_ip, const char *name, const char *type,
                  char *out, size_t outlen)
{
	struct explain_client client;
	uint8_t qname[DNAME_MAXLEN];

	if (outlen > 0)
		out[0] = '\0';
	if (snap == NULL)
		return explain_fail(out, outlen, "nothing is loaded yet");
	if (client_ip == NULL || !explain_client_parse(client_ip, &client))
		return explain_fail(out, outlen, "bad client address '%s'", client_ip ? client_ip : "");
	if (name == NULL || dname_from_text(name, qname) < 0)
		return explain_fail(out, outlen, "bad name '%s'", name ? name : "");
	uint16_t qtype = WIRE_TYPE_A;
	if (type != NULL) {
		/* RFC 3597 TYPEnnn is not left to ldns, which wraps or clamps
		 * numbers past 65535 (TYPE99999 became TYPE34463). */
		if (strncasecmp(type, "TYPE", 4) == 0 && type[4] >= '0' && type[4] <= '9') {
			if (!wire_type_from_generic_text(type, &qtype))
				return explain_fail(out, outlen, "bad type '%s': TYPE takes a number from 1 to 65535",
				                    type);
		} else {
			long t = (long)ldns_get_rr_type_by_name(type);
			if (t <= 0 || t > 65535)
				return explain_fail(out, outlen, "unknown type '%s'", type);
			qtype = (uint16_t)t;
		}
	}
	const struct zone *zone = zone_table_find(snap->zones, qname);
	char text[DNAME_MAXLEN * 4 + 2];
	if (dname_to_text(qname, text, sizeof text) < 0)
		snprintf(text, sizeof text, "%s", name);
	if (zone == NULL)
		return explain_fail(out, outlen, "%s is not in any zone served here", text);

	struct explain_out o = {out, outlen, 0};
	char *tname = ldns_rr_type2str((ldns_rr_type)qtype);
	explain_printf(&o, "query %s %s from %s\n", text, tname != NULL ? tname : "?", client_ip);
	free(tname);
	explain_chain(&o, snap, zone, qname, qtype, &client.policy);
	if (explain_reply(&o, snap, qname, qtype, &client) < 0)
		return explain_fail(out, outlen, "%s: no reply could be built", text);
	return 0;
}
