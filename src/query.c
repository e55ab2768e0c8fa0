/*
 * query — the authoritative answering logic: one request in, one reply out.
 *
 * The reference is Knot DNS 3.2: for the same zone, a reply from here
 * should match knotd's section by section (rcode, AA, TC, RD echo, answer,
 * authority, additional).  Every point where knotd was observed is written
 * down next to the code that reproduces it, as "knot:"; the few places
 * where we deliberately differ say so as "differs from knot:".
 *
 * Shape of the work:
 *   1. wire_parse_query() reads the request into a struct on the stack.
 *   2. Filters that answer without looking at zones, in knot's order:
 *      FORMERR / drop, BADVERS, opcode, meta qtypes, qclass.
 *   3. The zone with the longest origin; query_resolve() walks the name
 *      (CNAME chain, wildcard, delegation, negative answer) and writes the
 *      answer and authority sections as it goes.
 *   4. The OPT record, for which room was reserved before step 3.
 *
 * Everything lives on the stack (the wire_writer, the CNAME chain, the
 * OPT description); nothing allocates, nothing locks, every loop has a
 * fixed bound.  Over UDP, an RRset that does not fit the answer or the
 * authority section sets TC and ends the reply there (the RRsets already
 * written stay, as knot keeps them); additional data that does not fit is
 * simply left out, except glue a referral needs (RFC 9471), which sets TC.
 *
 * Which RRset answers (node, qtype) is decided in one function,
 * query_choose(), so steering policies (node->policy) plug in there and
 * nowhere else.  A policy answers through struct policy_answer (a set of
 * datacenters, a TTL, an ECS scope); this file turns that into records:
 * the datacenters' precompiled address rdata written straight from the
 * policy set, or a one-record CNAME RRset kept in the query context, so a
 * policy answer allocates nothing either.  The client handed to the policy
 * (ECS or packet source) is worked out once per request, on the stack.
 *
 * For the counters, query_respond_outcome() also reports what happened
 * (rcode, qtype, TC, ECS, the first policy record evaluated, fail-open,
 * fence, the health slots of the datacenters whose records went out) in
 * a caller's struct: a few stores along the way, nothing more.
 */
#include "query.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "dname.h"
#include "health.h"
#include "policy.h"
#include "wire.h"
#include "zone.h"

/* knot: a chain is followed through at most 5 CNAMEs; meeting a 6th stops
 * the answer there, NOERROR, nothing in authority (c1..c15 fixture). */
#define QUERY_CNAME_MAX 5

/* Additional-section work is bounded too: at most this many target nodes
 * of one RRset are looked at (far beyond any reply that fits 64 KiB). */
#define QUERY_ADDITIONAL_MAX 512

#define QUERY_UDP_MIN 512
#define QUERY_TCP_MAX 65535

/* The OPT pseudo-RR without options: root name + type, class, TTL, rdlen. */
#define QUERY_OPT_BASE_LEN 11

/*
 * What one request's answering needs besides the writer.  Every field
 * before w is cleared per request (query_respond_outcome); w and the
 * fields after it are scratch space that is set before it is read
 * (wire_writer_init, chain_len, the policy CNAME when one is chosen), so
 * the ~300 bytes of the writer's compression table and the chain are not
 * cleared for every packet.  A new field that must start at zero goes
 * before w.
 */
struct query_ctx {
	const struct wire_query *q;
	const struct query_client *client;
	const struct policy_set *policies;
	const struct zone *zone;
	/* What the counters learn about this request (never NULL). */
	struct query_outcome *outcome;
	unsigned chain_len;
	uint16_t rcode;
	bool aa;
	bool tc;
	/* RFC 7871 scope prefix to echo: the widest scope of the policies
	 * evaluated along the CNAME chain, 0 when only static data answered
	 * or the ECS address was not what the policies looked at. */
	uint8_t ecs_scope;
	/* The client as the policies see it, and whether that is the ECS
	 * address (only then does a policy's scope go into the reply). */
	struct policy_client policy_client;
	bool ecs_used;

	/* ---- scratch: set before read, not cleared per request ---- */
	struct wire_writer w;
	/* A cname datacenter's answer, as a one-record RRset.  One is enough:
	 * it is written before the chain moves on to the next name. */
	struct zone_rdata policy_cname_rdata;
	struct zone_rrset policy_cname;
	/* Owners of the CNAMEs written so far (chain_len of them), to stop
	 * at a loop. */
	const uint8_t *chain[QUERY_CNAME_MAX + 1];
	/* Targets of CNAMEs synthesized from a DNAME, one per link of the
	 * chain: each is looked up next and may become a chain owner. */
	uint8_t dname_target[QUERY_CNAME_MAX + 1][DNAME_MAXLEN];
};

/* The outcome of query_choose() for one node. */
struct query_choice {
	const struct zone_rrset *rrset; /* NULL: no data of that type (NODATA) */
	bool is_cname;                  /* rrset is a CNAME to follow */
	/* Addresses a policy chose (rrset is then NULL): address_type records
	 * of the datacenters in answer; none of them is NODATA. */
	bool from_policy;
	uint16_t address_type; /* A or AAAA */
	struct policy_answer answer;
	bool servfail; /* a policy node without a policy set to evaluate it */
};

/* The qtypes a policy answers; every other type reads the node's static
 * RRsets (MX, TXT... may sit next to a policy). */
static bool query_policy_answers(uint16_t qtype)
{
	return qtype == WIRE_TYPE_A || qtype == WIRE_TYPE_AAAA || qtype == WIRE_TYPE_CNAME ||
	       qtype == WIRE_TYPE_ANY;
}

/*
 * The client a policy steers by.  RFC 7871 7.2.1: the ECS address when the
 * query has one and the set honours it (geoip.client_subnet); a SOURCE
 * PREFIX-LENGTH of 0 asks us not to use client information, so the
 * resolver's own address is used then, as when ECS is off or absent.
 * Without a source address (tests, tools) the client is 0.0.0.0/32.
 */
static void query_policy_client_init(struct query_ctx *ctx)
{
	const struct wire_query *q = ctx->q;
	struct policy_client *pc = &ctx->policy_client;

	memset(pc, 0, sizeof *pc);
	ctx->ecs_used = false;
	if (q->ecs && q->ecs_source_prefix > 0 && ctx->policies != NULL &&
	    policy_set_uses_client_subnet(ctx->policies)) {
		pc->family = q->ecs_family == 2 ? 6 : 4;
		memcpy(pc->addr, q->ecs_address, sizeof pc->addr);
		pc->source_prefix = q->ecs_source_prefix;
		ctx->ecs_used = true;
		return;
	}
	const struct sockaddr *sa = ctx->client != NULL ? ctx->client->addr : NULL;
	if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		pc->family = 6;
		memcpy(pc->addr, &sin6->sin6_addr, 16);
		pc->source_prefix = 128;
		return;
	}
	pc->family = 4;
	pc->source_prefix = 32;
	if (sa != NULL && sa->sa_family == AF_INET)
		memcpy(pc->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
}

/*
 * Evaluates node's policy and fills c.  Returns true when the policy
 * decided the answer (addresses, a CNAME, or NODATA), false when the
 * node's static RRsets answer instead (a CNAME question whose choice is
 * not a cname datacenter).
 *
 * When several datacenters are chosen and one has a cname, the first such
 * (in datacenter order) makes the answer a CNAME: a CNAME cannot share its
 * name with addresses (RFC 1034 3.6.2).  Build rules (`all` never mixes
 * cname datacenters in, the fence fallback prefers address ones) make that
 * case rare.
 */
uint64_t query_health_mask(uint16_t qtype)
{
	/* ANY is answered with the A RRset (see query_policy_answers). */
	bool v4 = qtype == WIRE_TYPE_A || qtype == WIRE_TYPE_ANY;
	return health_up_mask_family(v4 ? 4 : qtype == WIRE_TYPE_AAAA ? 6 : 0);
}

static bool query_choose_policy(struct query_ctx *ctx, const struct zone_node *node, uint16_t qtype,
                                struct query_choice *c)
{
	if (ctx->policies == NULL) {
		c->servfail = true;
		return true;
	}
	struct policy_answer *ans = &c->answer;
	policy_evaluate(ctx->policies, node->policy, &ctx->policy_client, query_health_mask(qtype), ans);
	struct query_outcome *o = ctx->outcome;
	if (o->record < 0)
		o->record = (int32_t)policy_record_index(ctx->policies, node->policy);
	o->fail_open |= ans->degraded;
	o->fenced |= ans->fenced;
	if (ctx->ecs_used && ans->scope > ctx->ecs_scope)
		ctx->ecs_scope = ans->scope;
	if (ans->nodata)
		ans->datacenters = 0;

	uint64_t cnames = ans->datacenters & policy_set_cname_datacenters(ctx->policies);
	if (cnames != 0) {
		/* The first (lowest-numbered) chosen cname datacenter. */
		const struct policy_datacenter *dc = policy_set_datacenter(ctx->policies, (size_t)__builtin_ctzll(cnames));
		ctx->policy_cname_rdata.data = dc->cname;
		ctx->policy_cname_rdata.len = (uint16_t)dname_len(dc->cname);
		ctx->policy_cname = (struct zone_rrset){
		    .type = WIRE_TYPE_CNAME, .count = 1, .ttl = ans->ttl, .rdata = &ctx->policy_cname_rdata};
		if (dc->health_slot >= 0 && dc->health_slot < 64)
			ctx->outcome->datacenters |= 1ull << dc->health_slot;
		c->rrset = &ctx->policy_cname;
		/* As for static data: CNAME and ANY get the CNAME itself. */
		c->is_cname = qtype != WIRE_TYPE_CNAME && qtype != WIRE_TYPE_ANY;
		return true;
	}
	if (qtype == WIRE_TYPE_CNAME)
		return false;
	c->from_policy = true;
	c->address_type = qtype == WIRE_TYPE_AAAA ? WIRE_TYPE_AAAA : WIRE_TYPE_A;
	return true;
}

/*
 * The single place that decides which data answers qtype at node.  Static
 * names read their RRsets; a node with a steering policy has the policy
 * evaluated here, per query, for ctx->policy_client (A, AAAA, CNAME and
 * ANY; see query_choose_policy), which also widens ctx->ecs_scope.
 *
 * knot: ANY gets one RRset (RFC 8482), the one with the lowest type number
 * (A before NS before SOA at the apex; MX before TXT whatever the file
 * order), over UDP and TCP alike, and a CNAME node answers ANY with its
 * CNAME, not followed.  A CNAME is followed for every other qtype except
 * CNAME and RRSIG.
 */
static struct query_choice query_choose(struct query_ctx *ctx, const struct zone_node *node, uint16_t qtype)
{
	struct query_choice c;

	memset(&c, 0, sizeof c);
	if (node->policy != NULL && query_policy_answers(qtype) && query_choose_policy(ctx, node, qtype, &c))
		return c;
	/* Static data has the same answer for every client: it leaves the ECS
	 * scope as it is (0 unless a policy earlier in the chain set it). */
	if (node->rrset_count == 0)
		return c;
	if (qtype == WIRE_TYPE_ANY) {
		c.rrset = &node->rrsets[0]; /* sorted by type */
		return c;
	}
	/* knot: RRSIG is asked for as such, never through a CNAME. */
	if (qtype != WIRE_TYPE_CNAME && qtype != WIRE_TYPE_RRSIG) {
		const struct zone_rrset *cname = zone_node_rrset(node, WIRE_TYPE_CNAME);
		if (cname != NULL && cname->count > 0) {
			c.rrset = cname;
			c.is_cname = true;
			return c;
		}
	}
	c.rrset = zone_node_rrset(node, qtype);
	return c;
}

/* Writes a whole RRset or nothing. */
static bool query_put_rrset(struct query_ctx *ctx, enum wire_section section, const uint8_t *owner,
                            const struct zone_rrset *rrset, uint32_t ttl)
{
	struct wire_mark mark;

	wire_writer_mark(&ctx->w, &mark);
	for (uint16_t i = 0; i < rrset->count; i++) {
		if (!wire_write_rr(&ctx->w, section, owner, rrset->type, WIRE_CLASS_IN, ttl,
		                   rrset->rdata[i].data, rrset->rdata[i].len)) {
			wire_writer_rewind(&ctx->w, &mark);
			return false;
		}
	}
	return true;
}

/* Answer and authority data must be whole: what does not fit sets TC. */
static bool query_put_required(struct query_ctx *ctx, enum wire_section section, const uint8_t *owner,
                               const struct zone_rrset *rrset, uint32_t ttl)
{
	if (query_put_rrset(ctx, section, owner, rrset, ttl))
		return true;
	ctx->tc = true;
	return false;
}

/*
 * Address records of the nodes an NS, MX, SRV, SVCB or HTTPS RRset names
 * (RFC 9460 4.2 for the last two; TargetName "." names no node).  knot: A
 * then AAAA per target, in rdata order, each target once; a mail or
 * service host covered only by a wildcard gets the wildcard's addresses
 * under its own name; targets outside the zone (even in another zone
 * served here) are not looked up.  Glue
 * that a referral needs (targets at or below the cut, RFC 9471) sets TC
 * when it does not fit (knot: bigdeleg fixture, TC with the glue that fit
 * kept, the section ended there); any other RRset that does not fit is
 * left out silently and the smaller ones after it are still tried (knot:
 * bigmx and many-mx fixtures, no TC): a resolver gets every address that
 * fits, not only those before the first that did not.
 */
static void query_put_additional(struct query_ctx *ctx, const struct zone_rrset *rrset, const uint8_t *cut)
{
	static const uint16_t types[2] = {WIRE_TYPE_A, WIRE_TYPE_AAAA};
	unsigned n = rrset->additional_count;

	if (rrset->additional == NULL)
		return;
	if (n > QUERY_ADDITIONAL_MAX)
		n = QUERY_ADDITIONAL_MAX;
	for (unsigned i = 0; i < n; i++) {
		const struct zone_link *target = &rrset->additional[i]; /* each host once (zone.c) */
		for (unsigned t = 0; t < 2; t++) {
			const struct zone_rrset *addr = zone_node_rrset(target->node, types[t]);
			if (addr == NULL || addr->count == 0)
				continue;
			if (!query_put_rrset(ctx, WIRE_SECTION_ADDITIONAL, target->owner, addr, addr->ttl) &&
			    cut != NULL && dname_is_at_or_below(target->owner, cut)) {
				ctx->tc = true;
				return;
			}
		}
	}
}

/* Whether the address with health bit `bit` is up; an address without a
 * bit (POLICY_NO_BIT) has no per-address state and counts as up. */
static bool query_address_up(const uint64_t mask[HEALTH_ADDRESS_WORDS], unsigned bit)
{
	return bit >= HEALTH_ADDRESS_BITS || (mask[bit / 64] >> (bit % 64) & 1);
}

/*
 * The addresses of one family of the datacenters a policy chose, as one
 * RRset with the policy's TTL: datacenters in index order, each one's
 * addresses in config order, leaving out those whose per-address health bit
 * is clear unless that leaves none of that datacenter (fail open, as
 * health.h says), and at most answer->max_addresses in all.  Returns how
 * many were written (0: NODATA), or -1 when the RRset did not fit (TC set,
 * nothing written).
 */
static int query_put_policy_addresses(struct query_ctx *ctx, const uint8_t *owner, uint16_t type,
                                      const struct policy_answer *answer)
{
	struct wire_mark mark;
	unsigned written = 0;
	uint64_t slots = 0; /* datacenters that contributed, for the counters */

	wire_writer_mark(&ctx->w, &mark);
	/* The chosen datacenters in index order: one step per set bit. */
	for (uint64_t chosen = answer->datacenters; chosen != 0; chosen &= chosen - 1) {
		const struct policy_datacenter *dc = policy_set_datacenter(ctx->policies, (size_t)__builtin_ctzll(chosen));
		if (dc == NULL)
			break;
		const struct zone_rdata *rdata = type == WIRE_TYPE_A ? dc->a : dc->aaaa;
		unsigned count = type == WIRE_TYPE_A ? dc->a_count : dc->aaaa_count;
		const uint8_t *bits = dc->address_bits + (type == WIRE_TYPE_A ? 0 : dc->a_count);
		/* Without checks no address has a bit (all up): no mask to load. */
		uint64_t mask[HEALTH_ADDRESS_WORDS];
		for (unsigned w = 0; w < HEALTH_ADDRESS_WORDS; w++)
			mask[w] = dc->probed ? health_address_mask(dc->health_slot, w) : ~0ull;
		bool some_up = !dc->probed;
		for (unsigned j = 0; j < count && !some_up; j++)
			some_up = query_address_up(mask, bits[j]);
		for (unsigned j = 0; j < count; j++) {
			if (some_up && !query_address_up(mask, bits[j]))
				continue;
			if (answer->max_addresses != 0 && written >= answer->max_addresses) {
				ctx->outcome->datacenters |= slots;
				return (int)written;
			}
			if (!wire_write_rr(&ctx->w, WIRE_SECTION_ANSWER, owner, type, WIRE_CLASS_IN,
			                   answer->ttl, rdata[j].data, rdata[j].len)) {
				wire_writer_rewind(&ctx->w, &mark);
				ctx->tc = true;
				return -1;
			}
			written++;
			if (dc->health_slot >= 0 && dc->health_slot < 64)
				slots |= 1ull << dc->health_slot;
		}
	}
	ctx->outcome->datacenters |= slots;
	return (int)written;
}

static bool query_has_additional(uint16_t type)
{
	return type == WIRE_TYPE_NS || type == WIRE_TYPE_MX || type == WIRE_TYPE_SRV || type == WIRE_TYPE_SVCB ||
	       type == WIRE_TYPE_HTTPS;
}

/* RFC 2308: the zone's SOA in authority, TTL min(SOA TTL, MINIMUM), and
 * never more than ttl_cap. */
static void query_put_negative_capped(struct query_ctx *ctx, uint32_t ttl_cap)
{
	const struct zone *zone = ctx->zone;

	if (zone->soa == NULL || zone->soa->count == 0)
		return;
	struct zone_rrset one = *zone->soa;
	one.count = 1;
	uint32_t ttl = zone->negative_ttl < ttl_cap ? zone->negative_ttl : ttl_cap;
	query_put_required(ctx, WIRE_SECTION_AUTHORITY, zone->origin, &one, ttl);
}

static void query_put_negative(struct query_ctx *ctx)
{
	query_put_negative_capped(ctx, UINT32_MAX);
}

/*
 * knot: a referral has AA clear, the cut's NS RRset in authority (owner
 * the cut), glue in additional, nothing in answer.  Reached through a CNAME
 * (to-sub fixture) the reply keeps AA for the CNAMEs already answered.
 * qtype NS or ANY at the cut, and DS below it, are referrals too; DS at the
 * cut never gets here (zone_lookup answers it from the parent side).
 */
static void query_put_referral(struct query_ctx *ctx, const struct zone_node *cut)
{
	const struct zone_rrset *ns = zone_node_rrset(cut, WIRE_TYPE_NS);

	if (ctx->chain_len == 0)
		ctx->aa = false;
	if (ns == NULL || ns->count == 0)
		return;
	if (!query_put_required(ctx, WIRE_SECTION_AUTHORITY, cut->name, ns, ns->ttl))
		return;
	query_put_additional(ctx, ns, cut->name);
}

static bool query_in_chain(const struct query_ctx *ctx, const uint8_t *name)
{
	for (unsigned i = 0; i < ctx->chain_len; i++)
		if (dname_equal(ctx->chain[i], name))
			return true;
	return false;
}

/*
 * RFC 6672 3.2: name is below the DNAME at owner.  The DNAME RRset goes in
 * the answer, then a CNAME from name to the substituted name with the
 * DNAME's TTL (synthesized here, never stored), which counts as a link of
 * the chain.  Returns the name to resolve next, or NULL when the answer
 * ends here: YXDOMAIN when the new name is too long (RFC 6672 2.2), qtype
 * CNAME (the CNAME is the answer, knot: the same), a target outside the
 * zone or already on the chain, or a full chain or reply.
 */
static const uint8_t *query_put_dname(struct query_ctx *ctx, const uint8_t *name, const struct zone_node *owner,
                                      uint16_t qtype)
{
	const struct zone_rrset *dname = zone_node_rrset(owner, WIRE_TYPE_DNAME);
	if (dname == NULL || dname->count == 0 || ctx->chain_len >= QUERY_CNAME_MAX)
		return NULL;
	if (!query_put_required(ctx, WIRE_SECTION_ANSWER, owner->name, dname, dname->ttl))
		return NULL;
	uint8_t *target = ctx->dname_target[ctx->chain_len];
	size_t len = dname_substitute(name, owner->name, dname->rdata[0].data, target);
	if (len == 0) {
		ctx->rcode = WIRE_RCODE_YXDOMAIN;
		return NULL;
	}
	struct zone_rdata rdata = {.data = target, .len = (uint16_t)len};
	struct zone_rrset cname = {.type = WIRE_TYPE_CNAME, .count = 1, .ttl = dname->ttl, .rdata = &rdata};
	if (!query_put_required(ctx, WIRE_SECTION_ANSWER, name, &cname, dname->ttl))
		return NULL;
	ctx->chain[ctx->chain_len++] = name;
	if (qtype == WIRE_TYPE_CNAME || !dname_is_at_or_below(target, ctx->zone->origin) ||
	    query_in_chain(ctx, target))
		return NULL;
	return target;
}

/*
 * RFC 1034 4.3.2 steps 3-4 inside one zone, starting at qname (lower-cased).
 * Each turn of the loop resolves one name; a CNAME whose target is in the
 * same zone restarts it with the target (knot: targets in other zones, even
 * ones served here, are not chased: to-net fixture, NOERROR with the CNAME
 * alone).  The final rcode and authority come from the end of the chain
 * (RFC 6604; knot: dangling -> NXDOMAIN + SOA, to-empty -> NOERROR + SOA).
 * A loop (target already an owner in the answer) or a 6th CNAME ends the
 * answer with NOERROR and an empty authority (knot: loop1, self, c1).
 */
static void query_resolve(struct query_ctx *ctx, const uint8_t *qname, uint16_t qtype)
{
	const uint8_t *name = qname;

	for (unsigned turn = 0; turn <= QUERY_CNAME_MAX; turn++) {
		struct zone_lookup lk;
		zone_lookup(ctx->zone, name, qtype, &lk);
		if (turn == 0) /* what the question itself led to, not the end of a chain */
			ctx->outcome->source = lk.match == ZONE_MATCH_NXDOMAIN || !lk.node ? ctx->zone->origin : lk.node->name;

		switch (lk.match) {
		case ZONE_MATCH_DELEGATION:
			query_put_referral(ctx, lk.node);
			return;
		case ZONE_MATCH_NXDOMAIN:
			ctx->rcode = WIRE_RCODE_NXDOMAIN;
			query_put_negative(ctx);
			return;
		case ZONE_MATCH_DNAME:
			name = query_put_dname(ctx, name, lk.node, qtype);
			if (name == NULL)
				return;
			continue;
		case ZONE_MATCH_EXACT:
		case ZONE_MATCH_WILDCARD:
			break;
		}

		/* A wildcard's records are synthesized with the name being
		 * resolved as owner (RFC 4592 3.3.1). */
		struct query_choice c = query_choose(ctx, lk.node, qtype);
		if (c.servfail) {
			ctx->rcode = WIRE_RCODE_SERVFAIL;
			return;
		}
		if (c.from_policy) {
			int n = query_put_policy_addresses(ctx, name, c.address_type, &c.answer);
			/* RFC 8482: ANY gets one RRset; AAAA when there is no A. */
			if (n == 0 && qtype == WIRE_TYPE_ANY)
				n = query_put_policy_addresses(ctx, name, WIRE_TYPE_AAAA, &c.answer);
			/* NODATA, as for static names, but the "no such
			 * address" is this policy's answer, for this client and
			 * this health: cached no longer than its records would
			 * be (down_ttl while degraded), or a datacenter without
			 * IPv6 chosen during a failover would keep dual-stack
			 * clients off IPv6 for the SOA's negative TTL after it. */
			if (n == 0)
				query_put_negative_capped(ctx, c.answer.ttl);
			return;
		}
		if (c.rrset == NULL || c.rrset->count == 0) {
			query_put_negative(ctx); /* NODATA, empty non-terminal too */
			return;
		}
		if (!c.is_cname) {
			if (!query_put_required(ctx, WIRE_SECTION_ANSWER, name, c.rrset, c.rrset->ttl))
				return;
			if (query_has_additional(c.rrset->type))
				query_put_additional(ctx, c.rrset, NULL);
			return;
		}

		if (ctx->chain_len >= QUERY_CNAME_MAX)
			return;
		if (!query_put_required(ctx, WIRE_SECTION_ANSWER, name, c.rrset, c.rrset->ttl))
			return;
		ctx->chain[ctx->chain_len++] = name;
		const uint8_t *target = c.rrset->rdata[0].data;
		if (c.rrset->rdata[0].len == 0 || !dname_is_at_or_below(target, ctx->zone->origin) ||
		    query_in_chain(ctx, target))
			return;
		name = target;
	}
}

/* The label sequences CH TXT identity queries use (RFC 4892). */
static const uint8_t query_id_server[] = "\002id\006server";
static const uint8_t query_hostname_bind[] = "\010hostname\004bind";

/*
 * Class CH.  knot (default config): TXT for id.server. and hostname.bind.
 * answer the server identity, version.server. and version.bind. the
 * version, with AA clear and TTL 0; any other CH question is REFUSED.
 * We answer the identity questions with the NSID when one is configured
 * (knot's identity and NSID both default to the host name).  Differs from
 * knot: version.* is REFUSED, as there is no version setting to disclose.
 */
static void query_chaos(struct query_ctx *ctx, const struct query_settings *settings)
{
	const struct wire_query *q = ctx->q;
	uint8_t rdata[256];

	ctx->rcode = WIRE_RCODE_REFUSED;
	ctx->aa = false;
	if (q->qtype != WIRE_TYPE_TXT || settings->nsid == NULL || settings->nsid_len == 0)
		return;
	if (!dname_equal(q->qname, query_id_server) && !dname_equal(q->qname, query_hostname_bind))
		return;
	size_t len = settings->nsid_len > 255 ? 255 : settings->nsid_len;
	rdata[0] = (uint8_t)len;
	memcpy(rdata + 1, settings->nsid, len);
	ctx->rcode = WIRE_RCODE_NOERROR;
	if (!wire_write_rr(&ctx->w, WIRE_SECTION_ANSWER, q->qname, WIRE_TYPE_TXT, WIRE_CLASS_CH, 0, rdata,
	                   (uint16_t)(len + 1)))
		ctx->tc = true;
}

/* Bytes the OPT record described by opt takes. */
static size_t query_opt_len(const struct wire_opt *opt)
{
	size_t len = QUERY_OPT_BASE_LEN;
	if (opt->nsid != NULL)
		len += 4 + (size_t)opt->nsid_len;
	if (opt->ecs)
		len += 8 + ((size_t)opt->ecs_source_prefix + 7) / 8;
	if (opt->ede)
		len += WIRE_EDE_OPTION_LEN;
	return len;
}

/*
 * The reply's OPT (RFC 6891 6.1.1: only when the request had one).  knot:
 * version 0, our UDP size, DO echoed, NSID (RFC 5001) in every reply to a
 * request that asked for it, error replies included.  ECS (RFC 7871 7.2.1)
 * is echoed with the request's family, source prefix and address and our
 * scope.  Differs from knot: knot without its geoip module ignores ECS.
 * The Extended DNS Error (RFC 8914) is added after the zones are looked
 * at (see query_respond_outcome).
 */
static void query_opt_init(struct wire_opt *opt, const struct wire_query *q,
                           const struct query_settings *settings)
{
	memset(opt, 0, sizeof *opt);
	opt->udp_size = settings->udp_payload < QUERY_UDP_MIN ? QUERY_UDP_MIN : settings->udp_payload;
	opt->do_bit = q->edns_do;
	if (q->edns_nsid && settings->nsid != NULL && settings->nsid_len > 0) {
		opt->nsid = settings->nsid;
		opt->nsid_len = settings->nsid_len;
	}
	if (q->ecs) {
		opt->ecs = true;
		opt->ecs_family = q->ecs_family;
		opt->ecs_source_prefix = q->ecs_source_prefix;
		opt->ecs_address = q->ecs_address;
	}
}

/* The size a reply may have: RFC 1035 4.2.1, RFC 6891 6.2.5, RFC 7766. */
static size_t query_size_limit(const struct wire_query *q, const struct query_settings *settings,
                               const struct query_client *client, size_t respcap)
{
	size_t limit = QUERY_UDP_MIN;

	if (client != NULL && client->transport == QUERY_TCP) {
		limit = QUERY_TCP_MAX;
	} else if (q->edns) {
		limit = q->edns_udp_size < settings->udp_payload ? q->edns_udp_size : settings->udp_payload;
		if (limit < QUERY_UDP_MIN)
			limit = QUERY_UDP_MIN;
	}
	return limit < respcap ? limit : respcap;
}

/* The pieces of a reply that do not depend on zones. */
struct query_reply {
	bool echo_question;
	bool with_opt;
};

/*
 * Decides what answers without zones.  Returns true when ctx->rcode is
 * final (error replies), false when zone lookup must go on.
 */
static bool query_filter(struct query_ctx *ctx, enum wire_parse_status status, struct query_reply *r)
{
	const struct wire_query *q = ctx->q;
	bool tcp = ctx->client != NULL && ctx->client->transport == QUERY_TCP;

	r->echo_question = q->has_question;
	r->with_opt = q->edns;

	if (status == WIRE_PARSE_FORMERR) {
		/* knot: FORMERR echoes the question and carries no OPT (it
		 * does only when QDCOUNT is 0 and the rest parses, a case the
		 * wire layer does not report).  RD is copied. */
		ctx->rcode = WIRE_RCODE_FORMERR;
		/* ... except that a sound OPT whose only fault is a bad Client
		 * Subnet option is answered with OPT (RFC 6891 7). */
		r->with_opt = q->edns && q->ecs_malformed;
		return true;
	}
	/* knot: BADVERS comes before the opcode and class checks, with AA
	 * clear, an empty answer, OPT version 0, DO and NSID. */
	if (q->edns && q->edns_version > 0) {
		ctx->rcode = WIRE_RCODE_BADVERS;
		return true;
	}
	if (status == WIRE_PARSE_NOTIMP) {
		/* knot: NOTIFY and UPDATE get NOTAUTH (no ACL allows them),
		 * whatever the zone; other opcodes NOTIMP.  Question and OPT
		 * echoed, opcode and RD kept. */
		if (q->opcode == WIRE_OPCODE_UPDATE && q->has_question && q->qtype != WIRE_TYPE_SOA)
			ctx->rcode = WIRE_RCODE_FORMERR; /* RFC 2136 3.1.1: the zone section is an SOA */
		else if (q->opcode == WIRE_OPCODE_NOTIFY || q->opcode == WIRE_OPCODE_UPDATE)
			ctx->rcode = WIRE_RCODE_NOTAUTH;
		else
			ctx->rcode = WIRE_RCODE_NOTIMP;
		return true;
	}
	/* knot, before looking at the class or the zone: qtype 0 and AXFR
	 * over UDP are NOTIMP; AXFR over TCP and IXFR anyhow are NOTAUTH
	 * (we serve no transfers; knot without an ACL refuses them so). */
	if (q->qtype == 0 || (q->qtype == WIRE_TYPE_AXFR && !tcp)) {
		ctx->rcode = WIRE_RCODE_NOTIMP;
		return true;
	}
	if (q->qtype == WIRE_TYPE_AXFR || q->qtype == WIRE_TYPE_IXFR) {
		ctx->rcode = WIRE_RCODE_NOTAUTH;
		return true;
	}
	/* knot: class ANY is answered as IN (records in class IN); CH see
	 * query_chaos(); every other class is REFUSED. */
	if (q->qclass != WIRE_CLASS_IN && q->qclass != WIRE_CLASS_ANY && q->qclass != WIRE_CLASS_CH) {
		ctx->rcode = WIRE_RCODE_REFUSED;
		return true;
	}
	return false;
}

/*
 * knot: a DS question for the apex of a zone whose parent zone is served
 * here too is the parent's to answer (RFC 4035 3.1.4.1).
 */
static const struct zone *query_find_zone(const struct zone_table *zones, const struct wire_query *q)
{
	const struct zone *zone = zone_table_find(zones, q->qname);

	if (zone != NULL && q->qtype == WIRE_TYPE_DS && dname_equal(q->qname, zone->origin)) {
		const uint8_t *parent = dname_parent(q->qname);
		const struct zone *above = parent != NULL ? zone_table_find(zones, parent) : NULL;
		if (above != NULL)
			zone = above;
	}
	return zone;
}

size_t query_respond(const struct zone_table *zones, const struct policy_set *policies,
                     const struct query_settings *settings, const struct query_client *client,
                     const uint8_t *req, size_t reqlen, uint8_t *resp, size_t respcap)
{
	struct query_outcome unused;
	return query_respond_outcome(zones, policies, settings, client, req, reqlen, resp, respcap, &unused);
}

size_t query_respond_outcome(const struct zone_table *zones, const struct policy_set *policies,
                             const struct query_settings *settings, const struct query_client *client,
                             const uint8_t *req, size_t reqlen, uint8_t *resp, size_t respcap,
                             struct query_outcome *outcome)
{
	struct wire_query q;
	enum wire_parse_status status = wire_parse_query(req, reqlen, &q);

	*outcome = (struct query_outcome){.record = -1};
	if (status == WIRE_PARSE_DROP || respcap < WIRE_HEADER_LEN)
		return 0;
	/* Everything with a readable header gets an answer (FORMERR when the
	 * rest is malformed, QDCOUNT != 1 included), as the issue asks.  Knot
	 * drops requests whose question is unreadable or doubled; the
	 * difference is in tests/compare/allow-list. */

	struct query_ctx ctx;
	memset(&ctx, 0, offsetof(struct query_ctx, w)); /* the scratch after it: see struct query_ctx */
	ctx.q = &q;
	ctx.client = client;
	ctx.policies = policies;
	ctx.rcode = WIRE_RCODE_NOERROR;
	ctx.outcome = outcome;

	size_t limit = query_size_limit(&q, settings, client, respcap);
	wire_writer_init(&ctx.w, resp, limit);

	struct query_reply r;
	bool done = query_filter(&ctx, status, &r);

	struct wire_opt opt;
	query_opt_init(&opt, &q, settings);
	size_t question_len = r.echo_question ? q.question_len : 0;
	/* The OPT must always fit: drop optional options before that fails
	 * (a 255-byte NSID plus a long name can exceed 512 bytes). */
	if (r.with_opt && WIRE_HEADER_LEN + question_len + query_opt_len(&opt) > limit)
		opt.nsid = NULL;
	if (r.with_opt && WIRE_HEADER_LEN + question_len + query_opt_len(&opt) > limit)
		opt.ecs = false;
	size_t reserve = r.with_opt ? query_opt_len(&opt) : 0;
	wire_writer_set_limit(&ctx.w, limit > reserve ? limit - reserve : WIRE_HEADER_LEN);

	if (r.echo_question && !wire_write_question(&ctx.w, req + WIRE_HEADER_LEN, q.question_len)) {
		ctx.tc = true;
		done = true;
	}
	if (r.echo_question)
		wire_writer_alias_question(&ctx.w, q.qname);

	if (!done) {
		if (q.qclass == WIRE_CLASS_CH) {
			query_chaos(&ctx, settings);
		} else {
			ctx.zone = query_find_zone(zones, &q);
			if (ctx.zone == NULL) {
				/* knot: REFUSED, AA clear, question echoed, and
				 * with EDNS an Extended DNS Error 20 "Not
				 * Authoritative" (RFC 8914 4.21) without text. */
				ctx.rcode = WIRE_RCODE_REFUSED;
				opt.ede = true;
				opt.ede_code = WIRE_EDE_NOT_AUTHORITATIVE;
			} else {
				ctx.aa = true;
				query_policy_client_init(&ctx);
				query_resolve(&ctx, q.qname, q.qtype);
			}
		}
	}

	if (r.with_opt) {
		wire_writer_set_limit(&ctx.w, limit);
		opt.ext_rcode = (uint8_t)(ctx.rcode >> 4);
		opt.ecs_scope_prefix = ctx.ecs_scope;
		/* Room was reserved above for everything but the EDE, which is
		 * only decided by the lookup; it is the option left out when
		 * the reply has no room for it (a long name and NSID in 512). */
		if (!wire_write_opt(&ctx.w, &opt)) {
			opt.ede = false;
			wire_write_opt(&ctx.w, &opt);
		}
	}

	/* knot: QR, the opcode and RD are echoed; CD is not (nor AD, Z, RA). */
	uint16_t flags = WIRE_FLAG_QR | (q.flags & (WIRE_OPCODE_MASK | WIRE_FLAG_RD)) | (ctx.rcode & 0x0F);
	if (ctx.aa)
		flags |= WIRE_FLAG_AA;
	if (ctx.tc)
		flags |= WIRE_FLAG_TC;
	size_t len = wire_writer_finish(&ctx.w, q.id, flags);

	outcome->answered = len > 0;
	outcome->truncated = ctx.tc;
	outcome->ecs = q.ecs;
	outcome->qtype = q.has_question ? q.qtype : 0;
	outcome->rcode = ctx.rcode;
	return len;
}
