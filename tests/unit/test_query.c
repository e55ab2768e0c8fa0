/*
 * Unit tests for query: requests are built byte by byte (so every flag,
 * EDNS option and malformation is exactly what the test says), answered
 * from the fixture zones in tests/unit/query-zones/, and the replies are
 * read back with ldns.  The expected answers are the ones Knot DNS 3.2
 * gives for the same zone files (see the comments in src/query.c).  The
 * second group answers steering policies from a snapshot built from YAML
 * (see "steering" below), and checks that the query path never allocates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ldns/ldns.h>

#include "config.h"
#include "dname.h"
#include "explain.h"
#include "health.h"
#include "policy.h"
#include "query.h"
#include "snapshot.h"
#include "wire.h"
#include "zone.h"

#define ZONE_DIR "tests/unit/query-zones/"

static struct zone_table *table;     /* example.com + example.net */
static struct zone_table *table_sub; /* the same plus sub.example.com */

static const uint8_t nsid_text[] = "ns-test-1";
static struct query_settings settings = {nsid_text, 9, 1232};

/* ------------------------------------------------------------ requests */

struct edns {
	bool on;
	uint16_t udp_size;
	uint8_t version;
	bool do_bit;
	bool nsid;
	const uint8_t *extra; /* raw option bytes appended as they are */
	size_t extra_len;
};

struct request {
	uint8_t buf[1024];
	size_t len;
};

/* A query for name (presentation form, letter case kept) with flags. */
static void build(struct request *r, const char *name, uint16_t type, uint16_t class, uint16_t flags,
                  const struct edns *e)
{
	uint8_t *p = r->buf;
	memset(r->buf, 0, sizeof r->buf);
	wire_put_u16(p, 0xbeef);
	wire_put_u16(p + 2, flags);
	wire_put_u16(p + 4, 1);
	wire_put_u16(p + 10, e != NULL && e->on ? 1 : 0);
	size_t pos = WIRE_HEADER_LEN;
	/* Labels copied as typed, so the 0x20 case survives. */
	const char *s = name;
	while (*s != '\0' && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
		p[pos++] = (uint8_t)n;
		memcpy(p + pos, s, n);
		pos += n;
		s += n;
		if (*s == '.')
			s++;
	}
	p[pos++] = 0;
	wire_put_u16(p + pos, type);
	wire_put_u16(p + pos + 2, class);
	pos += 4;
	if (e != NULL && e->on) {
		size_t rdlen = (e->nsid ? 4 : 0) + e->extra_len;
		p[pos++] = 0;
		wire_put_u16(p + pos, WIRE_TYPE_OPT);
		wire_put_u16(p + pos + 2, e->udp_size);
		wire_put_u32(p + pos + 4, (uint32_t)e->version << 16 | (e->do_bit ? 0x8000u : 0));
		wire_put_u16(p + pos + 8, (uint16_t)rdlen);
		pos += 10;
		if (e->nsid) {
			wire_put_u16(p + pos, WIRE_EDNS_NSID);
			wire_put_u16(p + pos + 2, 0);
			pos += 4;
		}
		if (e->extra_len > 0)
			memcpy(p + pos, e->extra, e->extra_len);
		pos += e->extra_len;
	}
	r->len = pos;
}

static const struct edns edns_default = {.on = true, .udp_size = 1232};

/* -------------------------------------------------------------- replies */

struct reply {
	uint8_t buf[65535];
	size_t len;
	ldns_pkt *pkt;
};

/* The reply written over its request (resp == req, as the UDP workers
 * answer) must be the one written to a separate buffer: same bytes, same
 * length.  Checked for every reply these tests ask for. */
static void expect_same_in_place(const struct zone_table *zones, const struct policy_set *policies,
                                 const struct query_settings *s, const struct query_client *client,
                                 const uint8_t *req, size_t reqlen, const uint8_t *want, size_t want_len)
{
	static uint8_t pkt[65535];
	assert_true(reqlen <= sizeof pkt);
	memcpy(pkt, req, reqlen);
	memset(pkt + reqlen, 0xa5, sizeof pkt - reqlen); /* no help from a zeroed tail */
	size_t len = query_respond(zones, policies, s, client, pkt, reqlen, pkt, sizeof pkt);
	assert_int_equal(len, want_len);
	assert_memory_equal(pkt, want, want_len);
}

static struct reply *ask_raw(const struct zone_table *zones, const struct query_settings *s,
                             enum query_transport t, const uint8_t *req, size_t reqlen)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5353)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct query_client client = {(const struct sockaddr *)&sin, t};
	struct reply *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->len = query_respond(zones, NULL, s, &client, req, reqlen, r->buf, sizeof r->buf);
	expect_same_in_place(zones, NULL, s, &client, req, reqlen, r->buf, r->len);
	if (r->len > 0) {
		assert_true(r->len >= WIRE_HEADER_LEN);
		assert_int_equal(wire_get_u16(r->buf), wire_get_u16(req));
		assert_int_equal(ldns_wire2pkt(&r->pkt, r->buf, r->len), LDNS_STATUS_OK);
	}
	return r;
}

static struct reply *ask_t(const char *name, uint16_t type, uint16_t flags, const struct edns *e,
                           enum query_transport t)
{
	struct request req;
	build(&req, name, type, WIRE_CLASS_IN, flags, e);
	return ask_raw(table, &settings, t, req.buf, req.len);
}

static struct reply *ask(const char *name, uint16_t type)
{
	return ask_t(name, type, 0, NULL, QUERY_UDP);
}

static void reply_free(struct reply *r)
{
	if (r->pkt != NULL)
		ldns_pkt_free(r->pkt);
	free(r);
}

static uint16_t hdr_flags(const struct reply *r)
{
	return wire_get_u16(r->buf + 2);
}
static uint16_t hdr_count(const struct reply *r, int i)
{
	return wire_get_u16(r->buf + 4 + 2 * i);
}

/* rcode, AA, TC and the raw section counts (ARCOUNT includes the OPT). */
static void expect_header(const struct reply *r, int rcode, bool aa, bool tc, int an, int ns, int ar)
{
	assert_true(r->len >= WIRE_HEADER_LEN);
	uint16_t f = hdr_flags(r);
	assert_true(f & WIRE_FLAG_QR);
	assert_int_equal(f & 0x0F, rcode);
	assert_int_equal(!!(f & WIRE_FLAG_AA), aa);
	assert_int_equal(!!(f & WIRE_FLAG_TC), tc);
	assert_int_equal(f & (WIRE_FLAG_RA | WIRE_FLAG_AD | WIRE_FLAG_CD | 0x0040), 0);
	assert_int_equal(hdr_count(r, 1), an);
	assert_int_equal(hdr_count(r, 2), ns);
	assert_int_equal(hdr_count(r, 3), ar);
}

static char *rr_text(const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	assert_non_null(s);
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

/*
 * The section holds exactly the expected records ("owner TTL CLASS TYPE
 * rdata" as ldns prints them, tabs between fields), RRsets in the
 * expected order, records inside an RRset in any order.
 */
static void expect_rrs(const ldns_rr_list *list, const char *const *want, size_t n)
{
	size_t got = list != NULL ? ldns_rr_list_rr_count(list) : 0;
	char *texts[64];
	bool used[64] = {false};
	if (got != n) {
		for (size_t i = 0; i < got; i++) {
			char *s = rr_text(ldns_rr_list_rr(list, i));
			print_error("  got: %s\n", s);
			free(s);
		}
	}
	assert_int_equal(got, n);
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		texts[i] = rr_text(rr);
		/* RRset order: owner and type at position i as expected. */
		char prefix_got[512], prefix_want[512];
		snprintf(prefix_got, sizeof prefix_got, "%s", texts[i]);
		snprintf(prefix_want, sizeof prefix_want, "%s", want[i]);
		char *cut_got = strrchr(prefix_got, '\t');
		char *cut_want = strrchr(prefix_want, '\t');
		assert_non_null(cut_got);
		assert_non_null(cut_want);
		*cut_got = '\0';
		*cut_want = '\0';
		if (strcmp(prefix_got, prefix_want) != 0)
			print_error("  rrset %zu: got '%s' want '%s'\n", i, prefix_got, prefix_want);
		assert_string_equal(prefix_got, prefix_want);
	}
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < n && !found; j++) {
			if (!used[j] && strcmp(texts[j], want[i]) == 0) {
				used[j] = true;
				found = true;
			}
		}
		if (!found) {
			print_error("  missing: %s\n", want[i]);
			for (size_t j = 0; j < n; j++)
				print_error("  got: %s\n", texts[j]);
		}
		assert_true(found);
	}
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
}

#define EXPECT(list, ...)                                                                                    \
	do {                                                                                                 \
		const char *const want_[] = {__VA_ARGS__};                                                   \
		expect_rrs((list), want_, sizeof want_ / sizeof want_[0]);                                   \
	} while (0)
#define EXPECT_NONE(list) expect_rrs((list), NULL, 0)

#define SOA_COM "example.com.\t300\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300"
#define WWW_A "www.example.com.\t3600\tIN\tA\t192.0.2.80"
#define WWW_AAAA "www.example.com.\t3600\tIN\tAAAA\t2001:db8::80"
#define SUB_NS1 "sub.example.com.\t3600\tIN\tNS\tns.sub.example.com."
#define SUB_NS2 "sub.example.com.\t3600\tIN\tNS\tns.elsewhere.test."
#define SUB_GLUE_A "ns.sub.example.com.\t3600\tIN\tA\t192.0.2.201"
#define SUB_GLUE_AAAA "ns.sub.example.com.\t3600\tIN\tAAAA\t2001:db8::201"

/* The EDNS option payload of the reply's OPT, found by walking the raw
 * reply (ldns keeps only part of it); NULL when there is no OPT. */
static const uint8_t *opt_of(const struct reply *r, uint16_t *rdlen, uint32_t *ttl, uint16_t *udp)
{
	size_t pos = WIRE_HEADER_LEN;
	uint8_t name[DNAME_MAXLEN];
	unsigned total = hdr_count(r, 1) + hdr_count(r, 2) + hdr_count(r, 3);
	if (hdr_count(r, 0) == 1) {
		assert_true(wire_read_name(r->buf, r->len, &pos, name) > 0);
		pos += 4;
	}
	for (unsigned i = 0; i < total; i++) {
		assert_true(wire_read_name(r->buf, r->len, &pos, name) > 0);
		uint16_t type = wire_get_u16(r->buf + pos);
		uint16_t len = wire_get_u16(r->buf + pos + 8);
		if (type == WIRE_TYPE_OPT) {
			assert_int_equal(i, total - 1); /* OPT is the last record */
			assert_int_equal(name[0], 0);
			*udp = wire_get_u16(r->buf + pos + 2);
			*ttl = wire_get_u32(r->buf + pos + 4);
			*rdlen = len;
			assert_int_equal(pos + 10 + len, r->len);
			return r->buf + pos + 10;
		}
		pos += 10 + (size_t)len;
	}
	assert_int_equal(pos, r->len);
	return NULL;
}

/* The payload of EDNS option code in the reply, or NULL. */
static const uint8_t *opt_option(const struct reply *r, uint16_t code, uint16_t *len)
{
	uint16_t rdlen, udp;
	uint32_t ttl;
	const uint8_t *o = opt_of(r, &rdlen, &ttl, &udp);
	assert_non_null(o);
	for (size_t p = 0; p + 4 <= rdlen;) {
		uint16_t c = wire_get_u16(o + p), l = wire_get_u16(o + p + 4 - 2);
		if (c == code) {
			*len = l;
			return o + p + 4;
		}
		p += 4 + (size_t)l;
	}
	return NULL;
}

/* The question was echoed byte for byte. */
static void expect_question(const struct reply *r, const struct request *req)
{
	assert_int_equal(hdr_count(r, 0), 1);
	size_t qlen = 0;
	while (req->buf[WIRE_HEADER_LEN + qlen] != 0)
		qlen += 1 + req->buf[WIRE_HEADER_LEN + qlen];
	qlen += 5;
	assert_true(r->len >= WIRE_HEADER_LEN + qlen);
	assert_memory_equal(r->buf + WIRE_HEADER_LEN, req->buf + WIRE_HEADER_LEN, qlen);
}

/* ------------------------------------------------------------- fixtures */

static int setup(void **state)
{
	(void)state;
	char err[512];
	struct zone_source two[] = {{.origin = "example.com", .file = ZONE_DIR "example.com.zone"},
	                            {.origin = "example.net", .file = ZONE_DIR "example.net.zone"}};
	struct zone_source three[] = {{.origin = "example.com", .file = ZONE_DIR "example.com.zone"},
	                              {.origin = "example.net", .file = ZONE_DIR "example.net.zone"},
	                              {.origin = "sub.example.com", .file = ZONE_DIR "sub.example.com.zone"}};
	if (zone_table_build(two, 2, &table, err, sizeof err) != 0) {
		print_error("zone_table_build: %s\n", err);
		return -1;
	}
	if (zone_table_build(three, 3, &table_sub, err, sizeof err) != 0) {
		print_error("zone_table_build: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zone_table_free(table);
	zone_table_free(table_sub);
	return 0;
}

/* ------------------------------------------------ the answer's source */

/* outcome.source for name TYPE: what rate limiting classes a reply by. */
static const uint8_t *answer_source_of(const char *name, uint16_t type, uint16_t *rcode)
{
	struct request req;
	static uint8_t resp[65535];
	build(&req, name, type, WIRE_CLASS_IN, 0, NULL);
	struct query_outcome o;
	assert_true(query_respond_outcome(table, NULL, &settings, NULL, req.buf, req.len, resp, sizeof resp, &o) > 0);
	*rcode = o.rcode;
	return o.source;
}

static void expect_source(const char *name, uint16_t type, uint16_t rcode, const char *want)
{
	uint16_t got_rcode;
	const uint8_t *got = answer_source_of(name, type, &got_rcode);
	assert_int_equal(got_rcode, rcode);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	char text[DNAME_TEXT_MAXLEN];
	assert_true(dname_to_text(got, text, sizeof text) >= 0);
	assert_string_equal(text, want);
}

/* Made-up names and types must not each be a class of their own: the
 * source is the existing name, the wildcard, the zone cut or the zone. */
static void test_answer_source(void **state)
{
	(void)state;
	expect_source("www.example.com", WIRE_TYPE_A, WIRE_RCODE_NOERROR, "www.example.com.");
	expect_source("WWW.Example.COM", WIRE_TYPE_TXT, WIRE_RCODE_NOERROR, "www.example.com.");
	expect_source("www.example.com", WIRE_TYPE_MX, WIRE_RCODE_NOERROR, "www.example.com."); /* NODATA */
	expect_source("alias.example.com", WIRE_TYPE_A, WIRE_RCODE_NOERROR, "alias.example.com."); /* not www */
	expect_source("made-up-1.wild.example.com", WIRE_TYPE_A, WIRE_RCODE_NOERROR, "*.wild.example.com.");
	expect_source("made-up-2.wild.example.com", WIRE_TYPE_TXT, WIRE_RCODE_NOERROR, "*.wild.example.com.");
	expect_source("made-up.sub.example.com", WIRE_TYPE_A, WIRE_RCODE_NOERROR, "sub.example.com."); /* referral */
	expect_source("made-up.example.com", WIRE_TYPE_A, WIRE_RCODE_NXDOMAIN, "example.com.");
	expect_source("www.example.org", WIRE_TYPE_A, WIRE_RCODE_REFUSED, NULL); /* no zone */
}

/* ---------------------------------------------------- positive answers */

static void test_positive_a(void **state)
{
	(void)state;
	struct reply *r = ask("www.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), WWW_A);
	EXPECT_NONE(ldns_pkt_authority(r->pkt));
	reply_free(r);
}

static void test_flags_rd_echoed_cd_not(void **state)
{
	(void)state;
	struct reply *r = ask_t("www.example.com", WIRE_TYPE_A,
	                        WIRE_FLAG_RD | WIRE_FLAG_CD | WIRE_FLAG_AD | 0x40, NULL, QUERY_UDP);
	/* knot: RD copied; CD, AD and Z are not; RA never. */
	assert_int_equal(hdr_flags(r), WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_FLAG_RD);
	reply_free(r);
	r = ask_t("www.example.com", WIRE_TYPE_A, WIRE_FLAG_TC | WIRE_FLAG_AA | 5, NULL, QUERY_UDP);
	assert_int_equal(hdr_flags(r), WIRE_FLAG_QR | WIRE_FLAG_AA);
	reply_free(r);
}

static void test_case_preserved_and_compressed(void **state)
{
	(void)state;
	struct request req;
	build(&req, "WwW.ExAmPlE.cOm", WIRE_TYPE_A, WIRE_CLASS_IN, 0, NULL);
	struct reply *r = ask_raw(table, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	expect_question(r, &req);
	/* The answer owner is a pointer to the question name... */
	size_t owner_at = WIRE_HEADER_LEN + 17 + 4;
	assert_int_equal(r->buf[owner_at], 0xC0);
	assert_int_equal(r->buf[owner_at + 1], WIRE_HEADER_LEN);
	/* ...so it reads back in the client's case. */
	EXPECT(ldns_pkt_answer(r->pkt), "WwW.ExAmPlE.cOm.\t3600\tIN\tA\t192.0.2.80");
	assert_int_equal(r->len, owner_at + 2 + 10 + 4);
	reply_free(r);
}

static void test_ns_apex_additional(void **state)
{
	(void)state;
	struct reply *r = ask("example.com", WIRE_TYPE_NS);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 3);
	EXPECT(ldns_pkt_answer(r->pkt), "example.com.\t3600\tIN\tNS\tns1.example.com.",
	       "example.com.\t3600\tIN\tNS\tns2.example.com.");
	EXPECT(ldns_pkt_additional(r->pkt), "ns1.example.com.\t3600\tIN\tA\t192.0.2.53",
	       "ns1.example.com.\t3600\tIN\tAAAA\t2001:db8::53", "ns2.example.com.\t3600\tIN\tA\t192.0.2.54");
	reply_free(r);
}

static void test_mx_and_srv_additional(void **state)
{
	(void)state;
	/* mx.example.net is in another zone served here: not added. */
	struct reply *r = ask("example.com", WIRE_TYPE_MX);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 2);
	EXPECT(ldns_pkt_answer(r->pkt), "example.com.\t3600\tIN\tMX\t10 mail.example.com.",
	       "example.com.\t3600\tIN\tMX\t20 mx.example.net.");
	EXPECT(ldns_pkt_additional(r->pkt), "mail.example.com.\t600\tIN\tA\t192.0.2.25",
	       "mail.example.com.\t600\tIN\tAAAA\t2001:db8::25");
	reply_free(r);

	r = ask("_sip._udp.example.com", WIRE_TYPE_SRV);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 2);
	EXPECT(ldns_pkt_answer(r->pkt), "_sip._udp.example.com.\t3600\tIN\tSRV\t0 5 5060 www.example.com.");
	EXPECT(ldns_pkt_additional(r->pkt), WWW_A, WWW_AAAA);
	reply_free(r);
}

static void test_soa(void **state)
{
	(void)state;
	struct reply *r = ask("example.com", WIRE_TYPE_SOA);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(
	    ldns_pkt_answer(r->pkt),
	    "example.com.\t3600\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300");
	reply_free(r);
}

/* ------------------------------------------------------------- negative */

static void test_nxdomain_and_nodata(void **state)
{
	(void)state;
	struct reply *r = ask("nothere.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	r = ask("www.example.com", WIRE_TYPE_MX);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	/* The SOA owner is the zone name, compressed against the question. */
	r = ask("NoThere.Example.Com", WIRE_TYPE_A);
	assert_int_equal(r->buf[WIRE_HEADER_LEN + 21 + 4], 0xC0);
	assert_int_equal(r->buf[WIRE_HEADER_LEN + 21 + 5], WIRE_HEADER_LEN + 8);
	reply_free(r);
}

static void test_empty_non_terminal(void **state)
{
	(void)state;
	struct reply *r = ask("ent.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	r = ask("foo.ent.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 0);
	reply_free(r);
}

/* --------------------------------------------------------------- CNAME */

static void test_cname_in_zone(void **state)
{
	(void)state;
	struct reply *r = ask("alias.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "alias.example.com.\t3600\tIN\tCNAME\twww.example.com.", WWW_A);
	reply_free(r);

	r = ask("chain1.example.com", WIRE_TYPE_AAAA);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 3, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "chain1.example.com.\t3600\tIN\tCNAME\tchain2.example.com.",
	       "chain2.example.com.\t3600\tIN\tCNAME\twww.example.com.", WWW_AAAA);
	reply_free(r);

	/* qtype CNAME and ANY: the CNAME itself, not followed. */
	r = ask("alias.example.com", WIRE_TYPE_CNAME);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	reply_free(r);
	r = ask("alias.example.com", WIRE_TYPE_ANY);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "alias.example.com.\t3600\tIN\tCNAME\twww.example.com.");
	reply_free(r);
}

static void test_cname_negative_ends(void **state)
{
	(void)state;
	/* RFC 6604: the rcode of the end of the chain. */
	struct reply *r = ask("dangling.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 1, 1, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "dangling.example.com.\t3600\tIN\tCNAME\tnothere.example.com.");
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	r = ask("to-empty.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	r = ask("alias.example.com", WIRE_TYPE_MX);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 1, 0);
	reply_free(r);
}

static void test_cname_out_of_zone(void **state)
{
	(void)state;
	/* Not chased, even into example.net which is served here. */
	struct reply *r = ask("to-net.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "to-net.example.com.\t3600\tIN\tCNAME\twww.example.net.");
	reply_free(r);

	r = ask("to-other.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	reply_free(r);
}

static void test_cname_loops_and_limit(void **state)
{
	(void)state;
	struct reply *r = ask("loop1.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "loop1.example.com.\t3600\tIN\tCNAME\tloop2.example.com.",
	       "loop2.example.com.\t3600\tIN\tCNAME\tloop1.example.com.");
	reply_free(r);

	r = ask("self.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	reply_free(r);

	/* c1 .. c15 -> www: five CNAMEs, then the answer stops. */
	r = ask("c1.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 5, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "c1.example.com.\t3600\tIN\tCNAME\tc2.example.com.",
	       "c2.example.com.\t3600\tIN\tCNAME\tc3.example.com.",
	       "c3.example.com.\t3600\tIN\tCNAME\tc4.example.com.",
	       "c4.example.com.\t3600\tIN\tCNAME\tc5.example.com.",
	       "c5.example.com.\t3600\tIN\tCNAME\tc6.example.com.");
	reply_free(r);
	r = ask("c10.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 5, 0, 0);
	reply_free(r);
	/* Exactly five CNAMEs still reach the data. */
	r = ask("c11.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 6, 0, 0);
	reply_free(r);
}

static void test_cname_target_compressed(void **state)
{
	(void)state;
	struct reply *r = ask("alias.example.com", WIRE_TYPE_CNAME);
	/* question 19+4, owner pointer 2, fixed 10, rdata "\3www" + pointer. */
	size_t rdlen_at = WIRE_HEADER_LEN + 19 + 4 + 2 + 8;
	assert_int_equal(wire_get_u16(r->buf + rdlen_at), 6);
	assert_int_equal(r->buf[rdlen_at + 6], 0xC0);
	assert_int_equal(r->buf[rdlen_at + 7], WIRE_HEADER_LEN + 6);
	reply_free(r);
}

/* ------------------------------------------------------------ wildcards */

static void test_wildcards(void **state)
{
	(void)state;
	struct reply *r = ask("foo.wild.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "foo.wild.example.com.\t3600\tIN\tA\t192.0.2.99");
	reply_free(r);

	r = ask("FoO.wild.example.com", WIRE_TYPE_TXT);
	EXPECT(ldns_pkt_answer(r->pkt), "FoO.wild.example.com.\t3600\tIN\tTXT\t\"wild\"");
	reply_free(r);

	r = ask("a.b.wild.example.com", WIRE_TYPE_A);
	EXPECT(ldns_pkt_answer(r->pkt), "a.b.wild.example.com.\t3600\tIN\tA\t192.0.2.99");
	reply_free(r);

	/* An existing name is not covered by the wildcard. */
	r = ask("x.wild.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	reply_free(r);

	/* Wildcard NODATA. */
	r = ask("foo.wild.example.com", WIRE_TYPE_MX);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	/* Wildcard CNAME, followed; owner is the query name. */
	r = ask("foo.wc.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "foo.wc.example.com.\t3600\tIN\tCNAME\twww.example.com.", WWW_A);
	reply_free(r);

	/* A CNAME into a wildcard: owner is the CNAME target. */
	r = ask("to-wild.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "to-wild.example.com.\t3600\tIN\tCNAME\tfoo.wild.example.com.",
	       "foo.wild.example.com.\t3600\tIN\tA\t192.0.2.99");
	reply_free(r);

	/* An MX host covered only by a wildcard: the wildcard's address under
	 * the host's own name, once (knot does the same); a host without
	 * addresses and one covered by a wildcard CNAME add nothing. */
	r = ask("wmx.example.com", WIRE_TYPE_MX);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 4, 0, 1);
	EXPECT(ldns_pkt_additional(r->pkt), "mail.wild.example.com.\t3600\tIN\tA\t192.0.2.99");
	reply_free(r);

	/* Not when the target belongs to another zone served here (that zone
	 * answers for it): other.wild.example.com, served beside example.com. */
	r = ask("wmx2.example.com", WIRE_TYPE_MX);
	EXPECT(ldns_pkt_additional(r->pkt), "mail.other.wild.example.com.\t3600\tIN\tA\t192.0.2.99");
	reply_free(r);
	char dir[] = "/tmp/geosteer-query-wild.XXXXXX", file[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof file, "%s/other.zone", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs("$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\n", f);
	fclose(f);
	struct zone_source both[] = {{.origin = "example.com", .file = ZONE_DIR "example.com.zone"},
	                             {.origin = "other.wild.example.com", .file = file}};
	struct zone_table *child = NULL;
	assert_int_equal(zone_table_build(both, 2, &child, err, sizeof err), 0);
	struct request req;
	build(&req, "wmx2.example.com", WIRE_TYPE_MX, WIRE_CLASS_IN, 0, NULL);
	r = ask_raw(child, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	reply_free(r);
	zone_table_free(child);
	unlink(file);
	rmdir(dir);
}

static void test_wildcard_ent_rules(void **state)
{
	(void)state;
	/* *.ent2 exists; sub2.ent2 is an empty non-terminal. */
	struct reply *r = ask("foo.ent2.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "foo.ent2.example.com.\t3600\tIN\tA\t192.0.2.66");
	reply_free(r);

	/* The ENT exists, so the wildcard does not cover it: NODATA. */
	r = ask("sub2.ent2.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	reply_free(r);

	/* Below the ENT the closest encloser is the ENT, which has no
	 * wildcard child: NXDOMAIN (RFC 4592 2.2.2). */
	r = ask("foo.sub2.ent2.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 0);
	reply_free(r);
}

/* ----------------------------------------------------------- delegation */

static void test_referral(void **state)
{
	(void)state;
	const char *names[] = {"sub.example.com", "www.sub.example.com", "ns.sub.example.com",
	                       "a.b.sub.example.com"};
	const uint16_t types[] = {WIRE_TYPE_A, WIRE_TYPE_NS, WIRE_TYPE_ANY, WIRE_TYPE_MX};
	for (size_t i = 0; i < 4; i++) {
		for (size_t t = 0; t < 4; t++) {
			struct reply *r = ask(names[i], types[t]);
			expect_header(r, WIRE_RCODE_NOERROR, false, false, 0, 2, 2);
			EXPECT(ldns_pkt_authority(r->pkt), SUB_NS1, SUB_NS2);
			EXPECT(ldns_pkt_additional(r->pkt), SUB_GLUE_A, SUB_GLUE_AAAA);
			reply_free(r);
		}
	}
	/* DS below the cut is the child's: referral. */
	struct reply *r = ask("www.sub.example.com", WIRE_TYPE_DS);
	expect_header(r, WIRE_RCODE_NOERROR, false, false, 0, 2, 2);
	reply_free(r);

	/* Only out-of-zone name servers: no glue. */
	r = ask("x.nodsdeleg.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, false, false, 0, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), "nodsdeleg.example.com.\t3600\tIN\tNS\tns.elsewhere.test.");
	reply_free(r);
}

static void test_ds_at_cut(void **state)
{
	(void)state;
	struct reply *r = ask("sub.example.com", WIRE_TYPE_DS);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(r->pkt), 0)), LDNS_RR_TYPE_DS);
	reply_free(r);

	r = ask("nodsdeleg.example.com", WIRE_TYPE_DS);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	EXPECT(ldns_pkt_authority(r->pkt), SOA_COM);
	reply_free(r);

	/* DS at an apex with no parent zone here: NODATA from the zone. */
	r = ask("example.com", WIRE_TYPE_DS);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	reply_free(r);
}

static void test_ds_at_child_apex_from_parent(void **state)
{
	(void)state;
	struct request req;
	build(&req, "sub.example.com", WIRE_TYPE_DS, WIRE_CLASS_IN, 0, NULL);
	struct reply *r = ask_raw(table_sub, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(r->pkt), 0)), 3600);
	reply_free(r);

	/* Other questions for the child apex are the child's. */
	build(&req, "sub.example.com", WIRE_TYPE_NS, WIRE_CLASS_IN, 0, NULL);
	r = ask_raw(table_sub, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	EXPECT(ldns_pkt_answer(r->pkt), "sub.example.com.\t100\tIN\tNS\tns.sub.example.com.");
	reply_free(r);
}

static void test_cname_into_delegation(void **state)
{
	(void)state;
	/* knot: AA stays set for the CNAME; the referral follows it. */
	struct reply *r = ask("to-sub.example.com", WIRE_TYPE_A);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 2, 2);
	EXPECT(ldns_pkt_answer(r->pkt), "to-sub.example.com.\t3600\tIN\tCNAME\twww.sub.example.com.");
	EXPECT(ldns_pkt_authority(r->pkt), SUB_NS1, SUB_NS2);
	EXPECT(ldns_pkt_additional(r->pkt), SUB_GLUE_A, SUB_GLUE_AAAA);
	reply_free(r);
}

/* ------------------------------------------------------------------ ANY */

static void test_any_minimal(void **state)
{
	(void)state;
	enum query_transport ts[] = {QUERY_UDP, QUERY_TCP};
	for (int i = 0; i < 2; i++) {
		struct reply *r = ask_t("www.example.com", WIRE_TYPE_ANY, 0, NULL, ts[i]);
		expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
		EXPECT(ldns_pkt_answer(r->pkt), WWW_A);
		reply_free(r);

		r = ask_t("example.com", WIRE_TYPE_ANY, 0, NULL, ts[i]);
		EXPECT(ldns_pkt_answer(r->pkt), "example.com.\t3600\tIN\tA\t192.0.2.1");
		reply_free(r);
	}
	/* Lowest type first (MX before TXT though TXT comes first in the
	 * file), with the MX's additional data. */
	struct reply *r = ask("anyorder.example.com", WIRE_TYPE_ANY);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 2);
	EXPECT(ldns_pkt_answer(r->pkt), "anyorder.example.com.\t3600\tIN\tMX\t10 mail.example.com.");
	reply_free(r);

	r = ask("example.net", WIRE_TYPE_ANY);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	EXPECT(ldns_pkt_answer(r->pkt), "example.net.\t300\tIN\tNS\tns.example.net.");
	reply_free(r);

	r = ask("foo.wild.example.com", WIRE_TYPE_ANY);
	EXPECT(ldns_pkt_answer(r->pkt), "foo.wild.example.com.\t3600\tIN\tA\t192.0.2.99");
	reply_free(r);

	r = ask("ent.example.com", WIRE_TYPE_ANY);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	reply_free(r);
	r = ask("nothere.example.com", WIRE_TYPE_ANY);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 0);
	reply_free(r);
}

/* ----------------------------------------------------------- truncation */

static void test_truncation_answer(void **state)
{
	(void)state;
	/* Six ~113-byte TXT records: over 512, under 1232. */
	struct reply *r = ask("big.example.com", WIRE_TYPE_TXT);
	expect_header(r, WIRE_RCODE_NOERROR, true, true, 0, 0, 0);
	assert_true(r->len <= 512);
	reply_free(r);

	struct edns e = edns_default;
	e.udp_size = 600;
	r = ask_t("big.example.com", WIRE_TYPE_TXT, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, true, 0, 0, 1);
	assert_true(r->len <= 600);
	reply_free(r);

	/* A size below 512 counts as 512. */
	e.udp_size = 100;
	r = ask_t("www.example.com", WIRE_TYPE_TXT, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	reply_free(r);

	/* 4096 is capped at our 1232, which is enough. */
	e.udp_size = 4096;
	r = ask_t("big.example.com", WIRE_TYPE_TXT, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 6, 0, 1);
	assert_true(r->len > 600 && r->len <= 1232);
	reply_free(r);

	r = ask_t("big.example.com", WIRE_TYPE_TXT, 0, NULL, QUERY_TCP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 6, 0, 0);
	reply_free(r);

	/* ANY has no exception to the size limit (knot: TC as well). */
	r = ask("big.example.com", WIRE_TYPE_ANY);
	expect_header(r, WIRE_RCODE_NOERROR, true, true, 0, 0, 0);
	reply_free(r);
}

static void test_truncation_keeps_written_rrsets(void **state)
{
	(void)state;
	/* The CNAME fits, the TXT RRset does not: CNAME kept, TC set. */
	struct reply *r = ask("to-big.example.com", WIRE_TYPE_TXT);
	expect_header(r, WIRE_RCODE_NOERROR, true, true, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "to-big.example.com.\t3600\tIN\tCNAME\tbig.example.com.");
	reply_free(r);

	/* The OPT and its NSID survive truncation. */
	struct edns e = edns_default;
	e.udp_size = 512;
	e.nsid = true;
	r = ask_t("big.example.com", WIRE_TYPE_TXT, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, true, 0, 0, 1);
	uint16_t len = 0;
	const uint8_t *nsid = opt_option(r, WIRE_EDNS_NSID, &len);
	assert_non_null(nsid);
	assert_int_equal(len, 9);
	reply_free(r);
}

static void test_truncation_glue_and_additional(void **state)
{
	(void)state;
	/* Referral glue that does not fit: TC, what fit is kept. */
	struct reply *r = ask("bigdeleg.example.com", WIRE_TYPE_A);
	uint16_t f = hdr_flags(r);
	assert_true(f & WIRE_FLAG_TC);
	assert_false(f & WIRE_FLAG_AA);
	assert_int_equal(hdr_count(r, 2), 8);
	assert_true(hdr_count(r, 3) > 0 && hdr_count(r, 3) < 16);
	assert_true(r->len <= 512);
	reply_free(r);

	struct edns e = edns_default;
	r = ask_t("bigdeleg.example.com", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, false, false, 0, 8, 17);
	reply_free(r);

	/* Plain additional data that does not fit: left out, no TC. */
	r = ask("bigmx.example.com", WIRE_TYPE_MX);
	f = hdr_flags(r);
	assert_false(f & WIRE_FLAG_TC);
	assert_int_equal(hdr_count(r, 1), 8);
	assert_true(hdr_count(r, 3) > 0 && hdr_count(r, 3) < 16);
	assert_true(r->len <= 512);
	/* A before AAAA, host by host, in MX order. */
	const ldns_rr_list *add = ldns_pkt_additional(r->pkt);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(add, 0)), LDNS_RR_TYPE_A);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(add, 1)), LDNS_RR_TYPE_AAAA);
	reply_free(r);

	/* An RRset that does not fit is skipped and the smaller ones after it
	 * still tried (knot does the same): at every payload size, an A record
	 * (16 bytes here, its owner compressed) is missing only when fewer
	 * than 16 bytes are left. */
	unsigned skipped = 0;
	for (uint16_t size = 512; size <= 800; size++) {
		struct edns sized = edns_default;
		sized.udp_size = size;
		r = ask_t("bigmx.example.com", WIRE_TYPE_MX, 0, &sized, QUERY_UDP);
		const ldns_rr_list *more = ldns_pkt_additional(r->pkt);
		size_t a = 0, aaaa = 0;
		for (size_t i = 0; i < ldns_rr_list_rr_count(more); i++) {
			a += ldns_rr_get_type(ldns_rr_list_rr(more, i)) == LDNS_RR_TYPE_A;
			aaaa += ldns_rr_get_type(ldns_rr_list_rr(more, i)) == LDNS_RR_TYPE_AAAA;
		}
		assert_false(hdr_flags(r) & WIRE_FLAG_TC);
		if (a < 8)
			assert_true(size - r->len < 16);
		skipped += a > aaaa + 1; /* an AAAA left out before an A that fit */
		reply_free(r);
	}
	assert_true(skipped > 0);

	r = ask_t("bigmx.example.com", WIRE_TYPE_MX, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 8, 0, 17);
	reply_free(r);
}

/* Every response, at every reply size, is whole and within the limit. */
static void test_truncation_small_buffers(void **state)
{
	(void)state;
	struct request req;
	build(&req, "bigmx.example.com", WIRE_TYPE_MX, WIRE_CLASS_IN, 0, &edns_default);
	uint8_t *buf = malloc(2048);
	assert_non_null(buf);
	for (size_t cap = 0; cap <= 1400; cap++) {
		size_t n = query_respond(table, NULL, &settings, NULL, req.buf, req.len, buf, cap);
		if (cap < WIRE_HEADER_LEN) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_true(n <= cap);
		ldns_pkt *p = NULL;
		assert_int_equal(ldns_wire2pkt(&p, buf, n), LDNS_STATUS_OK);
		ldns_pkt_free(p);
	}
	free(buf);
}

/* ----------------------------------------------------------------- EDNS */

static void test_edns_reply_opt(void **state)
{
	(void)state;
	struct edns e = edns_default;
	e.do_bit = true;
	e.udp_size = 4096;
	struct reply *r = ask_t("www.example.com", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	uint16_t rdlen, udp;
	uint32_t ttl;
	assert_non_null(opt_of(r, &rdlen, &ttl, &udp));
	assert_int_equal(udp, 1232);
	assert_int_equal(ttl, 0x8000); /* version 0, DO echoed */
	assert_int_equal(rdlen, 0);    /* no NSID unless asked */
	reply_free(r);

	/* No OPT in the request: none in the reply. */
	r = ask("www.example.com", WIRE_TYPE_A);
	assert_null(opt_of(r, &rdlen, &ttl, &udp));
	reply_free(r);
}

static void test_badvers(void **state)
{
	(void)state;
	struct edns e = edns_default;
	e.version = 1;
	e.do_bit = true;
	e.nsid = true;
	struct request req;
	build(&req, "www.example.com", WIRE_TYPE_A, WIRE_CLASS_IN, WIRE_FLAG_RD, &e);
	struct reply *r = ask_raw(table, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, 0, false, false, 0, 0, 1);
	expect_question(r, &req);
	assert_true(hdr_flags(r) & WIRE_FLAG_RD);
	uint16_t rdlen, udp;
	uint32_t ttl;
	assert_non_null(opt_of(r, &rdlen, &ttl, &udp));
	assert_int_equal(ttl >> 24, WIRE_RCODE_BADVERS >> 4);
	assert_int_equal((ttl >> 16) & 0xFF, 0); /* we speak version 0 */
	assert_true(ttl & 0x8000);
	assert_int_equal(ldns_pkt_edns_extended_rcode(r->pkt), 1);
	uint16_t len;
	assert_non_null(opt_option(r, WIRE_EDNS_NSID, &len));
	reply_free(r);

	/* Before the class and opcode checks too. */
	build(&req, "example.com", WIRE_TYPE_A, WIRE_CLASS_CH, 0, &e);
	r = ask_raw(table, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, 0, false, false, 0, 0, 1);
	reply_free(r);
	build(&req, "example.com", WIRE_TYPE_A, WIRE_CLASS_IN, 1 << WIRE_OPCODE_SHIFT, &e);
	r = ask_raw(table, &settings, QUERY_UDP, req.buf, req.len);
	expect_header(r, 0, false, false, 0, 0, 1);
	reply_free(r);
}

/* Settings with a 255-byte NSID, the most an OPT can be asked to carry. */
static struct query_settings long_nsid_settings(void)
{
	static uint8_t nsid[255];
	memset(nsid, 'n', sizeof nsid);
	return (struct query_settings){nsid, 255, 1232};
}

/* Three 63-byte labels (192 bytes in wire form) in front of tail. */
static void three_long_labels(char *out, size_t outlen, const char *tail)
{
	const char *l63 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.";
	snprintf(out, outlen, "%s%s%s%s", l63, l63, l63, tail);
}

static void test_nsid(void **state)
{
	(void)state;
	struct edns e = edns_default;
	e.nsid = true;
	struct reply *r = ask_t("www.example.com", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	uint16_t len = 0;
	const uint8_t *v = opt_option(r, WIRE_EDNS_NSID, &len);
	assert_non_null(v);
	assert_int_equal(len, 9);
	assert_memory_equal(v, "ns-test-1", 9);
	reply_free(r);

	/* Also in error replies (knot: REFUSED carries it). */
	r = ask_t("example.org", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 1);
	assert_non_null(opt_option(r, WIRE_EDNS_NSID, &len));
	reply_free(r);

	/* Not configured: no option. */
	struct query_settings plain = {NULL, 0, 1232};
	struct request req;
	build(&req, "www.example.com", WIRE_TYPE_A, WIRE_CLASS_IN, 0, &e);
	r = ask_raw(table, &plain, QUERY_UDP, req.buf, req.len);
	assert_null(opt_option(r, WIRE_EDNS_NSID, &len));
	reply_free(r);

	/* A 255-byte NSID: kept while question + OPT fit 512 bytes (the
	 * SOA then no longer fits: TC, OPT and NSID still there)... */
	struct query_settings big = long_nsid_settings();
	char longname[300];
	three_long_labels(longname, sizeof longname, "example.com");
	e.udp_size = 512;
	build(&req, longname, WIRE_TYPE_A, WIRE_CLASS_IN, 0, &e);
	r = ask_raw(table, &big, QUERY_UDP, req.buf, req.len);
	assert_true(r->len <= 512);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, true, 0, 0, 1);
	assert_non_null(opt_option(r, WIRE_EDNS_NSID, &len));
	reply_free(r);

	/* ...and dropped when a 255-byte question leaves no room for it. */
	three_long_labels(longname, sizeof longname, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.com");
	build(&req, longname, WIRE_TYPE_A, WIRE_CLASS_IN, 0, &e);
	assert_int_equal(req.len, WIRE_HEADER_LEN + 255 + 4 + 11 + 4);
	r = ask_raw(table, &big, QUERY_UDP, req.buf, req.len);
	assert_true(r->len <= 512);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 1);
	assert_null(opt_option(r, WIRE_EDNS_NSID, &len));
	reply_free(r);
}

static void test_ecs_echo(void **state)
{
	(void)state;
	const uint8_t v4[] = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2};
	struct edns e = edns_default;
	e.extra = v4;
	e.extra_len = sizeof v4;
	struct reply *r = ask_t("www.example.com", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	uint16_t len = 0;
	const uint8_t *o = opt_option(r, WIRE_EDNS_CLIENT_SUBNET, &len);
	assert_non_null(o);
	const uint8_t want4[] = {0, 1, 24, 0, 192, 0, 2}; /* scope 0: static */
	assert_int_equal(len, sizeof want4);
	assert_memory_equal(o, want4, sizeof want4);
	reply_free(r);

	const uint8_t v6[] = {0, 8, 0, 11, 0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 2};
	e.extra = v6;
	e.extra_len = sizeof v6;
	r = ask_t("nothere.example.com", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 1);
	o = opt_option(r, WIRE_EDNS_CLIENT_SUBNET, &len);
	assert_non_null(o);
	assert_int_equal(len, 11);
	assert_memory_equal(o, v6 + 4, 11);
	reply_free(r);

	/* A malformed ECS option (scope set in a query) is FORMERR; the OPT
	 * record itself was sound, so the reply carries OPT (ARCOUNT 1). */
	const uint8_t bad[] = {0, 8, 0, 7, 0, 1, 24, 8, 192, 0, 2};
	e.extra = bad;
	e.extra_len = sizeof bad;
	r = ask_t("www.example.com", WIRE_TYPE_A, 0, &e, QUERY_UDP);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 1);
	reply_free(r);
}

/* ---------------------------------------------------- refusals, errors */

static void test_refused(void **state)
{
	(void)state;
	const char *names[] = {"example.org", "www.example.org", "com", "."};
	for (size_t i = 0; i < 4; i++) {
		struct request req;
		build(&req, names[i], WIRE_TYPE_A, WIRE_CLASS_IN, WIRE_FLAG_RD, NULL);
		struct reply *r = ask_raw(table, &settings, QUERY_UDP, req.buf, req.len);
		expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
		expect_question(r, &req);
		assert_true(hdr_flags(r) & WIRE_FLAG_RD);
		reply_free(r);
	}
	/* With EDNS: Extended DNS Error 20, Not Authoritative, no text
	 * (RFC 8914 4.21; knot sends the same). */
	uint16_t len = 0;
	struct reply *r = ask_t("example.org", WIRE_TYPE_A, 0, &edns_default, QUERY_UDP);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 1);
	const uint8_t *ede = opt_option(r, WIRE_EDNS_EDE, &len);
	assert_non_null(ede);
	assert_int_equal(len, 2);
	assert_int_equal(wire_get_u16(ede), WIRE_EDE_NOT_AUTHORITATIVE);
	reply_free(r);

	/* Only there: not in answers, negative answers or other refusals. */
	r = ask_t("www.example.com", WIRE_TYPE_A, 0, &edns_default, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	assert_null(opt_option(r, WIRE_EDNS_EDE, &len));
	reply_free(r);
	r = ask_t("nothere.example.com", WIRE_TYPE_A, 0, &edns_default, QUERY_UDP);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 1);
	assert_null(opt_option(r, WIRE_EDNS_EDE, &len));
	reply_free(r);

	/* A reply whose OPT, with a 255-byte NSID, fills 512 bytes to within
	 * 3 bytes: the EDE (6) is what is left out, the rest is intact. */
	struct query_settings big = long_nsid_settings();
	char name[300];
	three_long_labels(name, sizeof name, "ccccccccccccccccc.example.org"); /* 223 bytes in wire form */
	struct edns e = edns_default;
	e.nsid = true;
	e.udp_size = 512;
	struct request req;
	build(&req, name, WIRE_TYPE_A, WIRE_CLASS_IN, 0, &e);
	r = ask_raw(table, &big, QUERY_UDP, req.buf, req.len);
	assert_int_equal(r->len, WIRE_HEADER_LEN + 223 + 4 + 11 + 4 + 255);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 1);
	assert_non_null(opt_option(r, WIRE_EDNS_NSID, &len));
	assert_int_equal(len, 255);
	assert_null(opt_option(r, WIRE_EDNS_EDE, &len));
	reply_free(r);
	/* One label shorter, it fits and is sent. */
	three_long_labels(name, sizeof name, "example.org");
	build(&req, name, WIRE_TYPE_A, WIRE_CLASS_IN, 0, &e);
	r = ask_raw(table, &big, QUERY_UDP, req.buf, req.len);
	assert_int_equal(r->len, WIRE_HEADER_LEN + 205 + 4 + 11 + 4 + 255 + WIRE_EDE_OPTION_LEN);
	assert_non_null(opt_option(r, WIRE_EDNS_NSID, &len));
	assert_non_null(opt_option(r, WIRE_EDNS_EDE, &len));
	reply_free(r);
}

static void test_formerr_and_drops(void **state)
{
	(void)state;
	struct request req;
	build(&req, "www.example.com", WIRE_TYPE_A, WIRE_CLASS_IN, WIRE_FLAG_RD, &edns_default);

	/* A trailing byte: FORMERR, question echoed, RD copied, no OPT. */
	struct request t = req;
	t.buf[t.len++] = 0;
	struct reply *r = ask_raw(table, &settings, QUERY_UDP, t.buf, t.len);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 0);
	expect_question(r, &req);
	assert_true(hdr_flags(r) & WIRE_FLAG_RD);
	reply_free(r);

	/* A record counted but missing. */
	t = req;
	wire_put_u16(t.buf + 6, 1);
	r = ask_raw(table, &settings, QUERY_UDP, t.buf, t.len);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 0);
	reply_free(r);

	/* QDCOUNT 0: FORMERR, header only. */
	uint8_t qd0[12] = {0x12, 0x34, 0x01, 0x00};
	r = ask_raw(table, &settings, QUERY_UDP, qd0, sizeof qd0);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 0);
	assert_int_equal(hdr_count(r, 0), 0);
	assert_int_equal(r->len, 12);
	reply_free(r);

	/* Two questions, or a question that cannot be read: the header is
	 * readable, so FORMERR (Knot drops these; see tests/compare/allow-list). */
	uint8_t two[128];
	build(&t, "www.example.com", WIRE_TYPE_A, WIRE_CLASS_IN, 0, NULL);
	memcpy(two, t.buf, t.len);
	memcpy(two + t.len, t.buf + 12, t.len - 12);
	wire_put_u16(two + 4, 2);
	r = ask_raw(table, &settings, QUERY_UDP, two, t.len + t.len - 12);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 0);
	reply_free(r);

	const uint8_t compressed[] = {0x12, 0x34, 0,   0,   0,   1,    0,  0, 0, 0, 0,
	                              0,    3,    'w', 'w', 'w', 0xC0, 12, 0, 1, 0, 1};
	r = ask_raw(table, &settings, QUERY_UDP, compressed, sizeof compressed);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 0);
	assert_int_equal(r->len, 12);
	reply_free(r);

	r = ask_raw(table, &settings, QUERY_UDP, t.buf, t.len - 2);
	expect_header(r, WIRE_RCODE_FORMERR, false, false, 0, 0, 0);
	reply_free(r);

	/* Never answered: QR set, less than a header. */
	t.buf[2] |= 0x80;
	r = ask_raw(table, &settings, QUERY_UDP, t.buf, t.len);
	assert_int_equal(r->len, 0);
	reply_free(r);

	r = ask_raw(table, &settings, QUERY_UDP, t.buf, 11);
	assert_int_equal(r->len, 0);
	reply_free(r);
}

static void test_opcodes(void **state)
{
	(void)state;
	struct {
		uint8_t opcode;
		int rcode;
	} cases[] = {{WIRE_OPCODE_NOTIFY, WIRE_RCODE_NOTAUTH},
	             {WIRE_OPCODE_UPDATE, WIRE_RCODE_NOTAUTH},
	             {1, WIRE_RCODE_NOTIMP},
	             {2, WIRE_RCODE_NOTIMP},
	             {3, WIRE_RCODE_NOTIMP},
	             {6, WIRE_RCODE_NOTIMP},
	             {15, WIRE_RCODE_NOTIMP}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int with_edns = 0; with_edns < 2; with_edns++) {
			struct request req;
			uint16_t flags = (uint16_t)(cases[i].opcode << WIRE_OPCODE_SHIFT) | WIRE_FLAG_RD;
			build(&req, "example.com", WIRE_TYPE_SOA, WIRE_CLASS_IN, flags,
			      with_edns ? &edns_default : NULL);
			struct reply *r = ask_raw(table, &settings, QUERY_UDP, req.buf, req.len);
			expect_header(r, cases[i].rcode, false, false, 0, 0, with_edns);
			expect_question(r, &req);
			assert_int_equal((hdr_flags(r) & WIRE_OPCODE_MASK) >> WIRE_OPCODE_SHIFT,
			                 cases[i].opcode);
			assert_true(hdr_flags(r) & WIRE_FLAG_RD);
			reply_free(r);
		}
	}
	/* Without a question: header only. */
	const uint8_t noq[12] = {0x12, 0x34, 15 << 3, 0};
	struct reply *r = ask_raw(table, &settings, QUERY_UDP, noq, sizeof noq);
	expect_header(r, WIRE_RCODE_NOTIMP, false, false, 0, 0, 0);
	assert_int_equal(r->len, 12);
	reply_free(r);
}

static void test_meta_qtypes(void **state)
{
	(void)state;
	struct reply *r = ask("example.com", WIRE_TYPE_AXFR);
	expect_header(r, WIRE_RCODE_NOTIMP, false, false, 0, 0, 0);
	reply_free(r);
	r = ask_t("example.com", WIRE_TYPE_AXFR, 0, NULL, QUERY_TCP);
	expect_header(r, WIRE_RCODE_NOTAUTH, false, false, 0, 0, 0);
	reply_free(r);
	/* Decided before the zone: same for a name served nowhere. */
	r = ask("example.org", WIRE_TYPE_AXFR);
	expect_header(r, WIRE_RCODE_NOTIMP, false, false, 0, 0, 0);
	reply_free(r);
	r = ask_t("example.org", WIRE_TYPE_AXFR, 0, NULL, QUERY_TCP);
	expect_header(r, WIRE_RCODE_NOTAUTH, false, false, 0, 0, 0);
	reply_free(r);
	r = ask("example.com", WIRE_TYPE_IXFR);
	expect_header(r, WIRE_RCODE_NOTAUTH, false, false, 0, 0, 0);
	reply_free(r);
	r = ask_t("example.com", WIRE_TYPE_IXFR, 0, NULL, QUERY_TCP);
	expect_header(r, WIRE_RCODE_NOTAUTH, false, false, 0, 0, 0);
	reply_free(r);
	r = ask("www.example.com", 0);
	expect_header(r, WIRE_RCODE_NOTIMP, false, false, 0, 0, 0);
	reply_free(r);

	/* Other meta and DNSSEC types are just types with no data. */
	const uint16_t nodata[] = {WIRE_TYPE_MAILA, WIRE_TYPE_MAILB, 249, 250,  WIRE_TYPE_OPT,
	                           WIRE_TYPE_RRSIG, WIRE_TYPE_NSEC,  128, 65535};
	for (size_t i = 0; i < sizeof nodata / sizeof nodata[0]; i++) {
		r = ask("www.example.com", nodata[i]);
		expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
		reply_free(r);
	}
	r = ask("nothere.example.com", WIRE_TYPE_OPT);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 0);
	reply_free(r);
	r = ask("example.org", WIRE_TYPE_MAILA);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
	reply_free(r);
}

static struct reply *ask_class(const struct query_settings *s, const char *name, uint16_t type,
                               uint16_t class)
{
	struct request req;
	build(&req, name, type, class, 0, NULL);
	return ask_raw(table, s, QUERY_UDP, req.buf, req.len);
}

static void test_classes(void **state)
{
	(void)state;
	/* Class ANY is answered as IN. */
	struct reply *r = ask_class(&settings, "www.example.com", WIRE_TYPE_A, WIRE_CLASS_ANY);
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), WWW_A);
	reply_free(r);
	r = ask_class(&settings, "nothere.example.com", WIRE_TYPE_A, WIRE_CLASS_ANY);
	expect_header(r, WIRE_RCODE_NXDOMAIN, true, false, 0, 1, 0);
	reply_free(r);

	const uint16_t refused[] = {0, 2, 4, WIRE_CLASS_NONE, 1000};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		r = ask_class(&settings, "www.example.com", WIRE_TYPE_A, refused[i]);
		expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
		reply_free(r);
	}
}

static void test_chaos(void **state)
{
	(void)state;
	struct reply *r = ask_class(&settings, "ID.Server", WIRE_TYPE_TXT, WIRE_CLASS_CH);
	expect_header(r, WIRE_RCODE_NOERROR, false, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "ID.Server.\t0\tCH\tTXT\t\"ns-test-1\"");
	reply_free(r);
	r = ask_class(&settings, "hostname.bind", WIRE_TYPE_TXT, WIRE_CLASS_CH);
	expect_header(r, WIRE_RCODE_NOERROR, false, false, 1, 0, 0);
	reply_free(r);

	struct query_settings plain = {NULL, 0, 1232};
	r = ask_class(&plain, "id.server", WIRE_TYPE_TXT, WIRE_CLASS_CH);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
	reply_free(r);

	const char *names[] = {"version.bind", "version.server", "authors.bind",
	                       "x.id.server",  "server",         "www.example.com"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		r = ask_class(&settings, names[i], WIRE_TYPE_TXT, WIRE_CLASS_CH);
		expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
		reply_free(r);
	}
	r = ask_class(&settings, "id.server", WIRE_TYPE_A, WIRE_CLASS_CH);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
	reply_free(r);
	r = ask_class(&settings, "id.server", WIRE_TYPE_ANY, WIRE_CLASS_CH);
	expect_header(r, WIRE_RCODE_REFUSED, false, false, 0, 0, 0);
	reply_free(r);
}

/* ----------------------------------------------------------- robustness */

static uint32_t rng_state = 0x12345678;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void check_any_reply(const uint8_t *req, size_t len, enum query_transport t)
{
	static uint8_t resp[65535];
	struct query_client client = {NULL, t};
	size_t n = query_respond(table, NULL, &settings, &client, req, len, resp, sizeof resp);
	expect_same_in_place(table, NULL, &settings, &client, req, len, resp, n);
	if (n == 0)
		return;
	assert_true(n >= WIRE_HEADER_LEN);
	assert_true(wire_get_u16(resp + 2) & WIRE_FLAG_QR);
	if (t == QUERY_UDP)
		assert_true(n <= 1232);
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, resp, n), LDNS_STATUS_OK);
	ldns_pkt_free(p);
}

static void test_random_inputs(void **state)
{
	(void)state;
	uint8_t buf[600];
	/* Pure noise, with QR cleared half the time so it gets parsed. */
	for (int i = 0; i < 20000; i++) {
		size_t len = rng() % sizeof buf;
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rng();
		if (len > 2 && (i & 1))
			buf[2] &= 0x07; /* QR off, opcode QUERY */
		if (len > 5 && (i & 2)) {
			buf[4] = 0;
			buf[5] = 1;
		}
		check_any_reply(buf, len, (i & 4) ? QUERY_TCP : QUERY_UDP);
	}
	/* Valid queries with a few bytes flipped. */
	const char *names[] = {"www.example.com",      "alias.example.com", "sub.example.com",
	                       "foo.wild.example.com", "bigmx.example.com", "c1.example.com",
	                       "nothere.example.com"};
	const uint16_t types[] = {WIRE_TYPE_A, WIRE_TYPE_MX, WIRE_TYPE_ANY, WIRE_TYPE_TXT, WIRE_TYPE_NS};
	for (int i = 0; i < 20000; i++) {
		struct request req;
		struct edns e = edns_default;
		e.nsid = (i & 1) != 0;
		e.udp_size = (uint16_t)rng();
		build(&req, names[rng() % 7], types[rng() % 5], WIRE_CLASS_IN, 0, (i & 2) ? &e : NULL);
		int flips = 1 + (int)(rng() % 4);
		for (int f = 0; f < flips; f++)
			req.buf[rng() % req.len] ^= (uint8_t)(1u << (rng() % 8));
		size_t len = req.len;
		if (i % 5 == 0)
			len = rng() % (req.len + 1);
		check_any_reply(req.buf, len, (i & 4) ? QUERY_TCP : QUERY_UDP);
	}
}

/* ------------------------------------------------------------ steering
 *
 * Policy names, answered through a snapshot built from a YAML config the
 * way the daemon builds it (config_load + snapshot_build), with the GeoIP
 * fixture tools/mkgeodb makes from tests/unit/geo/city.txt.  There:
 * 192.0.2.0/26 is DE (EU), 198.51.100.0/24 US-CA (/25 networks),
 * 203.0.113.0/24 SG, 2001:db8:1::/48 IE (EU), 2001:db8::/32 JP, and
 * 0.0.0.0 is not in the database.
 */

static char steer_dir[64];
static struct config steer_cfg, steer_cfg_noecs;
static struct snapshot *steer, *steer_noecs;

static const char steer_yaml[] =
    "geoip:\n"
    "  database: %s\n"
    "  client_subnet: %s\n"
    "checks:\n"
    "  web: { type: tcp, port: 80 }\n" /* never started here: gives us-east address bits */
    "datacenters:\n"
    "  us-east:      { location: [38.9, -77.0], a: [192.0.2.10, 192.0.2.11, 192.0.2.12],"
    " aaaa: [\"2001:db8:1::10\"], check: web }\n"
    "  us-west:      { location: [37.4, -122.1], a: [192.0.2.20] }\n"
    "  eu-central:   { location: [50.1, 8.7], a: [198.51.100.10], aaaa: [\"2001:db8:2::10\"] }\n"
    "  ap-southeast: { location: [1.3, 103.9], a: [203.0.113.10] }\n"
    "  cdn-eu:       { cname: eu.cdn.steer.example. }\n"
    "  cdn-out:      { cname: edge.cdn-provider.example. }\n"
    "policies:\n"
    "  storefront:\n"
    "    geo:\n"
    "      \"continent:EU\": eu-central\n"
    "      \"country:US\": us\n"
    "      \"net:203.0.113.0/24\": ap-southeast\n"
    "      \"default\": nearest\n"
    "  us:       { failover: [us-east, us-west] }\n"
    "  nearest:  { latency: [us-east, eu-central, ap-southeast] }\n"
    "  api-all:  { all: [us-east, us-west, eu-central], max: 3 }\n"
    "  cdn:      { failover: [cdn-eu] }\n"
    "  away:     { failover: [cdn-out] }\n"
    "zones:\n"
    "  - origin: steer.example\n"
    "    file: %s\n"
    "    records:\n"
    "      www:    { policy: storefront, ttl: 30, down_ttl: 10 }\n"
    "      api:    { policy: api-all, ttl: 5 }\n"
    "      static: { policy: cdn, ttl: 20 }\n"
    "      out:    { policy: away, ttl: 25 }\n"
    "      \"*.wild\": { policy: us, ttl: 40, down_ttl: 4 }\n";

static const char *fixture_dir(void)
{
	const char *d = getenv("GEOSTEER_FIXTURES");
	return d != NULL && *d ? d : "build/fixtures";
}

/* build/fixtures/city.mmdb, made by tools/mkgeodb when missing or stale. */
static int steer_geo_fixture(char *out, size_t outlen)
{
	const char *src = "tests/unit/geo/city.txt";
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/city.mmdb", fixture_dir());
	struct stat st, ss;
	if (stat(path, &st) != 0 || stat(src, &ss) != 0 || st.st_mtime < ss.st_mtime) {
		char cmd[2 * PATH_MAX];
		snprintf(cmd, sizeof cmd, "mkdir -p '%s' && tools/mkgeodb '%s' '%s'", fixture_dir(), src,
		         path);
		if (system(cmd) != 0)
			return -1;
	}
	return realpath(path, out) != NULL && strlen(out) < outlen ? 0 : -1;
}

static int steer_load(const char *file, const char *ecs, const char *db, const char *zone, struct config *cfg,
                      struct snapshot **snap)
{
	char path[128], err[1024];
	snprintf(path, sizeof path, "%s/%s", steer_dir, file);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, steer_yaml, db, ecs, zone);
	fclose(f);
	if (config_load(path, cfg, err, sizeof err) != 0 || snapshot_build(cfg, snap, err, sizeof err) != 0) {
		print_error("%s\n", err);
		return -1;
	}
	return 0;
}

static int steer_setup(void **state)
{
	(void)state;
	char db[PATH_MAX], zone[PATH_MAX];
	snprintf(steer_dir, sizeof steer_dir, "/tmp/geosteer-query.XXXXXX");
	if (mkdtemp(steer_dir) == NULL || steer_geo_fixture(db, sizeof db) != 0 ||
	    realpath(ZONE_DIR "steer.example.zone", zone) == NULL) {
		print_error("cannot set up the steering fixtures\n");
		return -1;
	}
	health_reset();
	if (steer_load("steer.yaml", "true", db, zone, &steer_cfg, &steer) != 0 ||
	    steer_load("noecs.yaml", "false", db, zone, &steer_cfg_noecs, &steer_noecs) != 0)
		return -1;
	return 0;
}

static int steer_teardown(void **state)
{
	(void)state;
	snapshot_free(steer);
	snapshot_free(steer_noecs);
	config_free(&steer_cfg);
	config_free(&steer_cfg_noecs);
	char path[128];
	snprintf(path, sizeof path, "%s/steer.yaml", steer_dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/noecs.yaml", steer_dir);
	unlink(path);
	rmdir(steer_dir);
	return 0;
}

/* The ECS option for "ADDR" / prefix, as a resolver sends it (address cut
 * to ceil(prefix / 8) bytes, bits past the prefix zero). */
static size_t ecs_option(uint8_t *out, const char *addr, uint8_t prefix)
{
	uint8_t a[16] = {0};
	int family = strchr(addr, ':') != NULL ? 2 : 1;
	assert_int_equal(inet_pton(family == 1 ? AF_INET : AF_INET6, addr, a), 1);
	size_t n = (prefix + 7u) / 8u;
	for (unsigned i = prefix; i < n * 8; i++)
		a[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	wire_put_u16(out, WIRE_EDNS_CLIENT_SUBNET);
	wire_put_u16(out + 2, (uint16_t)(4 + n));
	wire_put_u16(out + 4, (uint16_t)family);
	out[6] = prefix;
	out[7] = 0;
	memcpy(out + 8, a, n);
	return 8 + n;
}

/* A client socket address from text; NULL text: no address at all. */
static const struct sockaddr *source_of(const char *text, struct sockaddr_storage *ss)
{
	if (text == NULL)
		return NULL;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return (const struct sockaddr *)ss;
}

/* Asks snap for name / type from source (NULL: no address), with ECS
 * ecs/prefix when ecs is not NULL (EDNS on), else without EDNS. */
static struct reply *ask_steer(const struct snapshot *snap, const char *name, uint16_t type, const char *ecs,
                               uint8_t prefix, const char *source)
{
	struct request req;
	uint8_t opt[32];
	struct edns e = edns_default;
	if (ecs != NULL) {
		e.extra = opt;
		e.extra_len = ecs_option(opt, ecs, prefix);
	}
	build(&req, name, type, WIRE_CLASS_IN, 0, ecs != NULL ? &e : NULL);
	struct sockaddr_storage ss;
	struct query_client client = {source_of(source, &ss), QUERY_UDP};
	struct reply *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->len = query_respond(snap->zones, snap->policies, &snap->settings, &client, req.buf, req.len,
	                       r->buf, sizeof r->buf);
	expect_same_in_place(snap->zones, snap->policies, &snap->settings, &client, req.buf, req.len, r->buf,
	                     r->len);
	assert_true(r->len >= WIRE_HEADER_LEN);
	assert_int_equal(ldns_wire2pkt(&r->pkt, r->buf, r->len), LDNS_STATUS_OK);
	return r;
}

/* The reply's ECS option: family, source and scope; the scope is returned. */
static int ecs_scope_of(const struct reply *r, uint16_t family, uint8_t source)
{
	uint16_t len = 0;
	const uint8_t *o = opt_option(r, WIRE_EDNS_CLIENT_SUBNET, &len);
	assert_non_null(o);
	assert_true(len >= 4);
	assert_int_equal(wire_get_u16(o), family);
	assert_int_equal(o[2], source);
	assert_true(o[3] <= source); /* never claims more than it was told */
	return o[3];
}

#define STEER_SOA_TTL(ttl)                                                                                   \
	"steer.example.\t" #ttl "\tIN\tSOA\tns1.steer.example. hostmaster.steer.example. 1 7200 3600 1209600 300"
#define US_EAST_A(ttl)                                                                                       \
	"www.steer.example.\t" #ttl "\tIN\tA\t192.0.2.10",                                                   \
	    "www.steer.example.\t" #ttl "\tIN\tA\t192.0.2.11",                                               \
	    "www.steer.example.\t" #ttl "\tIN\tA\t192.0.2.12"

static int dc_slot(const char *name)
{
	int slot = health_slot_find(name);
	assert_true(slot >= 0);
	return slot;
}

/* The datacenter chosen per ECS subnet, with the geo network as scope. */
static void test_policy_geo_by_ecs(void **state)
{
	(void)state;
	/* Frankfurt (DE, EU, a /26 in the database): eu-central. */
	struct reply *r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "192.0.2.1", 32, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t198.51.100.10");
	assert_int_equal(ecs_scope_of(r, 1, 32), 26);
	reply_free(r);

	/* The same /26 as a /24 from the resolver: the answer may only be
	 * claimed for the /24 it was asked for (too long would be a lie). */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "192.0.2.0", 24, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t198.51.100.10");
	assert_int_equal(ecs_scope_of(r, 1, 24), 24);
	reply_free(r);

	/* US-CA: country:US -> us -> us-east, all of its addresses. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "198.51.100.77", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), US_EAST_A(30));
	assert_int_equal(ecs_scope_of(r, 1, 32), 25);
	reply_free(r);

	/* net: rule, scope of the rule's /24 (SG network is a /24 too). */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "203.0.113.9", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t203.0.113.10");
	assert_int_equal(ecs_scope_of(r, 1, 32), 24);
	reply_free(r);

	/* IPv6 ECS, AAAA: Ireland (EU) -> eu-central's AAAA, scope /48. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_AAAA, "2001:db8:1::", 56, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tAAAA\t2001:db8:2::10");
	assert_int_equal(ecs_scope_of(r, 2, 56), 48);
	reply_free(r);

	/* AAAA for a US client: us-east's one AAAA. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_AAAA, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tAAAA\t2001:db8:1::10");
	reply_free(r);
}

/* A chosen datacenter without addresses of the family: NODATA, never
 * another datacenter's addresses. */
static void test_policy_nodata_family(void **state)
{
	(void)state;
	struct reply *r =
	    ask_steer(steer, "www.steer.example", WIRE_TYPE_AAAA, "203.0.113.9", 32, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 1);
	/* The SOA's negative TTL (300) capped at the record's TTL (30): the
	 * "no address" is this policy's answer and changes with it. */
	EXPECT(ldns_pkt_authority(r->pkt), STEER_SOA_TTL(30));
	assert_int_equal(ecs_scope_of(r, 1, 32), 24); /* the decision still depended on the subnet */
	reply_free(r);
}

/* Without ECS the packet's source address steers, and there is no OPT. */
static void test_policy_packet_source(void **state)
{
	(void)state;
	struct reply *r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, NULL, 0, "203.0.113.5");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t203.0.113.10");
	reply_free(r);

	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, NULL, 0, "2001:db8:1::5");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t198.51.100.10");
	reply_free(r);

	/* IPv4-mapped source geolocates as its IPv4 address. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, NULL, 0, "::ffff:192.0.2.7");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t198.51.100.10");
	reply_free(r);

	/* No source at all is 0.0.0.0: not in the database, default ->
	 * nearest, no coordinates -> the first target, us-east. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, NULL, 0, NULL);
	EXPECT(ldns_pkt_answer(r->pkt), US_EAST_A(30));
	reply_free(r);

	/* ECS with SOURCE PREFIX-LENGTH 0 asks not to use client data: the
	 * resolver's address steers and the scope is 0 (RFC 7871 7.1.2). */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "0.0.0.0", 0, "203.0.113.5");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t203.0.113.10");
	assert_int_equal(ecs_scope_of(r, 1, 0), 0);
	reply_free(r);
}

/* client_subnet: false ignores ECS (the source steers) and says so with
 * scope 0, echoing family and source prefix as sent. */
static void test_policy_client_subnet_off(void **state)
{
	(void)state;
	struct reply *r =
	    ask_steer(steer_noecs, "www.steer.example", WIRE_TYPE_A, "192.0.2.1", 32, "203.0.113.5");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t203.0.113.10");
	assert_int_equal(ecs_scope_of(r, 1, 32), 0);
	reply_free(r);
	/* and the same query with ECS honoured answers from the ECS address */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "192.0.2.1", 32, "203.0.113.5");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t198.51.100.10");
	reply_free(r);
}

/* Static names keep scope 0 even in a zone with policies. */
static void test_policy_static_scope_zero(void **state)
{
	(void)state;
	struct reply *r = ask_steer(steer, "ns1.steer.example", WIRE_TYPE_A, "192.0.2.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "ns1.steer.example.\t3600\tIN\tA\t192.0.2.53");
	assert_int_equal(ecs_scope_of(r, 1, 32), 0);
	reply_free(r);
}

/* A drain moves the answer at once, with down_ttl; undrain moves it back. */
static void test_policy_drain_down_ttl(void **state)
{
	(void)state;
	int east = dc_slot("us-east");
	health_set_admin(east, HEALTH_ADMIN_DRAIN);
	struct reply *r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t10\tIN\tA\t192.0.2.20");
	reply_free(r);
	/* AAAA: us-west has none, so NODATA rather than us-east's, cached no
	 * longer than the degraded answer (down_ttl 10): when us-east is back,
	 * dual-stack clients get its IPv6 within seconds. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_AAAA, "198.51.100.1", 32, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 1);
	EXPECT(ldns_pkt_authority(r->pkt), STEER_SOA_TTL(10));
	reply_free(r);
	health_set_admin(east, HEALTH_ADMIN_NONE);
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), US_EAST_A(30));
	reply_free(r);
}

/* Every IPv4 address of us-east dead, its IPv6 one alive: A (and ANY,
 * answered with A) fail over to us-west with down_ttl, as if us-east were
 * down; AAAA still gets us-east's address at the full TTL. */
static void test_policy_family_dead(void **state)
{
	(void)state;
	int east = dc_slot("us-east");
	health_set_family_dead(east, true, false);
	const uint16_t v4_types[] = {WIRE_TYPE_A, WIRE_TYPE_ANY};
	for (size_t i = 0; i < 2; i++) {
		struct reply *r = ask_steer(steer, "www.steer.example", v4_types[i], "198.51.100.1", 32, "127.0.0.1");
		EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t10\tIN\tA\t192.0.2.20");
		reply_free(r);
	}
	struct reply *r = ask_steer(steer, "www.steer.example", WIRE_TYPE_AAAA, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tAAAA\t2001:db8:1::10");
	reply_free(r);
	health_set_family_dead(east, false, false);
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), US_EAST_A(30));
	reply_free(r);
}

/* A snapshot of us-east alone with its addresses in the order given. */
static struct snapshot *ordered_snapshot(const char *addresses, struct config *cfg)
{
	char path[160], zone[PATH_MAX], err[1024];
	assert_non_null(realpath(ZONE_DIR "steer.example.zone", zone));
	snprintf(path, sizeof path, "%s/ordered.yaml", steer_dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "checks:\n  web: { type: tcp, port: 80 }\n"
	        "datacenters:\n  us-east: { a: [%s], check: web }\n"
	        "policies:\n  one: { failover: [us-east] }\n"
	        "zones:\n  - origin: steer.example\n    file: %s\n    records:\n      www: { policy: one, ttl: 30 }\n",
	        addresses, zone);
	fclose(f);
	struct snapshot *snap = NULL;
	if (config_load(path, cfg, err, sizeof err) != 0 || snapshot_build(cfg, &snap, err, sizeof err) != 0)
		fail_msg("%s", err);
	return snap;
}

/* An address's health bit stays with the address: snapshots built before
 * and after a reload that reorders the addresses both leave out the dead
 * one (a bit numbered by position gave the dead address the live one's bit
 * until the old snapshot was gone). */
static void test_policy_address_bits_follow_addresses(void **state)
{
	(void)state;
	struct config c1, c2;
	struct snapshot *before = ordered_snapshot("192.0.2.10, 192.0.2.11, 192.0.2.12", &c1);
	struct snapshot *after = ordered_snapshot("192.0.2.12, 192.0.2.11, 192.0.2.10", &c2);
	int slot = dc_slot("us-east");
	const uint8_t dead[4] = {192, 0, 2, 10};
	int bit = health_address_bit(slot, dead, 4);
	assert_true(bit >= 0 && bit < 64);
	uint64_t saved = health_address_mask(slot, 0);
	health_set_address_mask(slot, 0, ~(UINT64_C(1) << bit));
	const struct snapshot *both[2] = {before, after};
	for (int i = 0; i < 2; i++) {
		struct reply *r = ask_steer(both[i], "www.steer.example", WIRE_TYPE_A, NULL, 0, "127.0.0.1");
		assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(r->pkt)), 2);
		for (size_t k = 0; k < 2; k++) {
			char *text = rr_text(ldns_rr_list_rr(ldns_pkt_answer(r->pkt), k));
			assert_null(strstr(text, "192.0.2.10"));
			free(text);
		}
		reply_free(r);
	}
	health_set_address_mask(slot, 0, saved);
	snapshot_free(before);
	snapshot_free(after);
	config_free(&c1);
	config_free(&c2);
}

/* A cname datacenter: the CNAME (policy TTL), followed inside the zone;
 * to outside the zone it ends there; CNAME and ANY get it unfollowed. */
static void test_policy_cname_datacenter(void **state)
{
	(void)state;
	struct reply *r = ask_steer(steer, "static.steer.example", WIRE_TYPE_A, "192.0.2.1", 32, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 2, 0, 1);
	EXPECT(ldns_pkt_answer(r->pkt), "static.steer.example.\t20\tIN\tCNAME\teu.cdn.steer.example.",
	       "eu.cdn.steer.example.\t600\tIN\tA\t198.51.100.99");
	assert_int_equal(ecs_scope_of(r, 1, 32), 0); /* failover never looks at the client */
	reply_free(r);

	r = ask_steer(steer, "out.steer.example", WIRE_TYPE_AAAA, NULL, 0, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
	EXPECT(ldns_pkt_answer(r->pkt), "out.steer.example.\t25\tIN\tCNAME\tedge.cdn-provider.example.");
	reply_free(r);

	const uint16_t types[] = {WIRE_TYPE_CNAME, WIRE_TYPE_ANY};
	for (size_t i = 0; i < 2; i++) {
		r = ask_steer(steer, "static.steer.example", types[i], NULL, 0, "127.0.0.1");
		expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 0);
		EXPECT(ldns_pkt_answer(r->pkt),
		       "static.steer.example.\t20\tIN\tCNAME\teu.cdn.steer.example.");
		reply_free(r);
	}
	/* CNAME at an address policy: no CNAME there, NODATA. */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_CNAME, NULL, 0, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 0, 1, 0);
	reply_free(r);
}

/* ANY gets the A RRset only (RFC 8482); other types the static data. */
static void test_policy_any_and_static_types(void **state)
{
	(void)state;
	struct reply *r =
	    ask_steer(steer, "www.steer.example", WIRE_TYPE_ANY, "203.0.113.9", 32, "127.0.0.1");
	expect_header(r, WIRE_RCODE_NOERROR, true, false, 1, 0, 1);
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t203.0.113.10");
	reply_free(r);

	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_MX, "203.0.113.9", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t3600\tIN\tMX\t10 mail.steer.example.");
	EXPECT(ldns_pkt_additional(r->pkt), "mail.steer.example.\t3600\tIN\tA\t192.0.2.25");
	assert_int_equal(ecs_scope_of(r, 1, 32), 0);
	reply_free(r);

	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_TXT, NULL, 0, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t3600\tIN\tTXT\t\"storefront\"");
	reply_free(r);
}

/* `all` with max 3: the first three addresses in datacenter order. */
static void test_policy_max_addresses(void **state)
{
	(void)state;
	struct reply *r = ask_steer(steer, "api.steer.example", WIRE_TYPE_A, NULL, 0, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "api.steer.example.\t5\tIN\tA\t192.0.2.10",
	       "api.steer.example.\t5\tIN\tA\t192.0.2.11", "api.steer.example.\t5\tIN\tA\t192.0.2.12");
	reply_free(r);
	/* AAAA: us-east and eu-central each have one (us-west none). */
	r = ask_steer(steer, "api.steer.example", WIRE_TYPE_AAAA, NULL, 0, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "api.steer.example.\t5\tIN\tAAAA\t2001:db8:1::10",
	       "api.steer.example.\t5\tIN\tAAAA\t2001:db8:2::10");
	reply_free(r);
	/* with us-east drained, the max picks from what is left (degraded: its
	 * ttl is down_ttl, which defaults to min(ttl, 10) = 5) */
	int east = dc_slot("us-east");
	health_set_admin(east, HEALTH_ADMIN_DRAIN);
	r = ask_steer(steer, "api.steer.example", WIRE_TYPE_A, NULL, 0, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "api.steer.example.\t5\tIN\tA\t192.0.2.20",
	       "api.steer.example.\t5\tIN\tA\t198.51.100.10");
	reply_free(r);
	health_set_admin(east, HEALTH_ADMIN_NONE);
}

/* Per-address health: down addresses are left out unless none is left. */
static void test_policy_address_mask(void **state)
{
	(void)state;
	int east = dc_slot("us-east");
	health_set_address_mask(east, 0, 0x5); /* a[0] and a[2] up; a[1] and the AAAA down */
	struct reply *r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tA\t192.0.2.10",
	       "www.steer.example.\t30\tIN\tA\t192.0.2.12");
	reply_free(r);
	/* the only AAAA is down: fail open, it is answered */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_AAAA, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "www.steer.example.\t30\tIN\tAAAA\t2001:db8:1::10");
	reply_free(r);
	health_set_address_mask(east, 0, 0x8); /* every A down, the AAAA up */
	r = ask_steer(steer, "www.steer.example", WIRE_TYPE_A, "198.51.100.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), US_EAST_A(30));
	reply_free(r);
	/* the mask is per address, the max counts what is answered */
	health_set_address_mask(east, 0, 0x6);
	r = ask_steer(steer, "api.steer.example", WIRE_TYPE_A, NULL, 0, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "api.steer.example.\t5\tIN\tA\t192.0.2.11",
	       "api.steer.example.\t5\tIN\tA\t192.0.2.12", "api.steer.example.\t5\tIN\tA\t192.0.2.20");
	reply_free(r);
	health_set_address_mask(east, 0, ~0ull);
}

/* A wildcard policy name answers with the query name as owner; a static
 * CNAME into a policy name carries the policy's scope into the reply. */
static void test_policy_wildcard_and_chain(void **state)
{
	(void)state;
	struct reply *r = ask_steer(steer, "foo.wild.steer.example", WIRE_TYPE_A, NULL, 0, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "foo.wild.steer.example.\t40\tIN\tA\t192.0.2.10",
	       "foo.wild.steer.example.\t40\tIN\tA\t192.0.2.11",
	       "foo.wild.steer.example.\t40\tIN\tA\t192.0.2.12");
	reply_free(r);

	r = ask_steer(steer, "alias.steer.example", WIRE_TYPE_A, "192.0.2.1", 32, "127.0.0.1");
	EXPECT(ldns_pkt_answer(r->pkt), "alias.steer.example.\t3600\tIN\tCNAME\twww.steer.example.",
	       "www.steer.example.\t30\tIN\tA\t198.51.100.10");
	assert_int_equal(ecs_scope_of(r, 1, 32), 26);
	reply_free(r);
}

/* Answers that do not fit over UDP set TC and are left out whole. */
static void test_policy_truncation(void **state)
{
	(void)state;
	struct request req;
	build(&req, "api.steer.example", WIRE_TYPE_A, WIRE_CLASS_IN, 0, NULL);
	struct query_client client = {NULL, QUERY_UDP};
	uint8_t buf[512];
	/* header + question fit, the three A records (3 * 16 bytes) do not */
	size_t cap = WIRE_HEADER_LEN + 23 + 4 + 20;
	size_t n = query_respond(steer->zones, steer->policies, &steer->settings, &client, req.buf, req.len,
	                         buf, cap);
	assert_true(n > 0 && n <= cap);
	assert_true(wire_get_u16(buf + 2) & WIRE_FLAG_TC);
	assert_int_equal(wire_get_u16(buf + 6), 0);
}

/* explain (src/explain.c) narrates the same answer the query path gives. */
static void expect_contains(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("'%s' not in:\n%s", want, text);
}

static void test_explain(void **state)
{
	(void)state;
	static char out[16384];
	assert_int_equal(explain_query(steer, "192.0.2.1", "www.steer.example", NULL, out, sizeof out), 0);
	expect_contains(out, "query www.steer.example. A from 192.0.2.1\n");
	expect_contains(out, "storefront: geo continent:EU -> eu-central");
	expect_contains(out, "reply: NOERROR\n  answer: www.steer.example. 30 IN A 198.51.100.10\n");
	expect_contains(out, "ttl 30, ecs scope /26\n");

	/* a cname datacenter: the chain, then the followed answer */
	assert_int_equal(explain_query(steer, "2001:db8:1::1", "static.steer.example", "a", out, sizeof out),
	                 0);
	expect_contains(out, "static.steer.example.: CNAME to eu.cdn.steer.example., followed\n");
	expect_contains(out, "eu.cdn.steer.example.: static data, no policy\n");
	expect_contains(out, "  answer: eu.cdn.steer.example. 600 IN A 198.51.100.99\n");
	expect_contains(out, "ttl 20, ecs scope /0\n");

	/* a DNAME above the name: the synthesized CNAME is a link of the chain
	 * and the rewritten name is steered like any other */
	assert_int_equal(explain_query(steer, "192.0.2.1", "www.brand.steer.example", NULL, out, sizeof out), 0);
	expect_contains(out, "www.brand.steer.example.: below the DNAME at brand.steer.example.: CNAME to "
	                     "www.steer.example., followed\n");
	expect_contains(out, "storefront: geo continent:EU -> eu-central");
	expect_contains(out, "  answer: brand.steer.example. 3600 IN DNAME steer.example.\n");
	expect_contains(out, "  answer: www.brand.steer.example. 3600 IN CNAME www.steer.example.\n");
	expect_contains(out, "  answer: www.steer.example. 30 IN A 198.51.100.10\n");

	/* a policy's NODATA shows the SOA, its negative TTL capped at the policy's TTL */
	assert_int_equal(explain_query(steer, "203.0.113.9", "www.steer.example", "AAAA", out, sizeof out),
	                 0);
	expect_contains(out, "reply: NOERROR\n  authority: steer.example. 30 IN SOA ");
	expect_contains(out, "ttl 30, ecs scope /24\n");

	/* a drained datacenter shows in both the trace and the answer */
	int east = dc_slot("us-east");
	health_set_admin(east, HEALTH_ADMIN_DRAIN);
	assert_int_equal(explain_query(steer, "198.51.100.1", "www.steer.example", NULL, out, sizeof out), 0);
	health_set_admin(east, HEALTH_ADMIN_NONE);
	expect_contains(out, "  answer: www.steer.example. 10 IN A 192.0.2.20\n");

	/* a short buffer is cut, never overrun */
	char small[40];
	assert_int_equal(explain_query(steer, "192.0.2.1", "www.steer.example", NULL, small, sizeof small),
	                 0);
	assert_int_equal(strlen(small), sizeof small - 1);

	assert_int_equal(explain_query(steer, "nonsense", "www.steer.example", NULL, out, sizeof out), -1);
	assert_string_equal(out, "bad client address 'nonsense'");
	assert_int_equal(explain_query(steer, "192.0.2.1", "a..b", NULL, out, sizeof out), -1);
	assert_string_equal(out, "bad name 'a..b'");
	assert_int_equal(explain_query(steer, "192.0.2.1", "www.steer.example", "BOGUS", out, sizeof out),
	                 -1);
	assert_string_equal(out, "unknown type 'BOGUS'");
	/* TYPEnnn (RFC 3597) in range is explained as such; past 65535 it is an error, not wrapped */
	assert_int_equal(explain_query(steer, "192.0.2.1", "www.steer.example", "TYPE65535", out, sizeof out), 0);
	expect_contains(out, "query www.steer.example. TYPE65535 from 192.0.2.1\n");
	const char *bad_types[] = {"TYPE99999", "TYPE65536", "TYPE0", "TYPE", "TYPE12x",
	                           "TYPE184467440737095516160"};
	for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
		assert_int_equal(explain_query(steer, "192.0.2.1", "www.steer.example", bad_types[i], out, sizeof out),
		                 -1);
		char want[120];
		snprintf(want, sizeof want, "bad type '%s': TYPE takes a number from 1 to 65535", bad_types[i]);
		if (strcmp(bad_types[i], "TYPE") == 0)
			snprintf(want, sizeof want, "unknown type 'TYPE'");
		assert_string_equal(out, want);
	}
	assert_int_equal(explain_query(steer, "192.0.2.1", "www.elsewhere.test", NULL, out, sizeof out), -1);
	assert_string_equal(out, "www.elsewhere.test. is not in any zone served here");
	assert_int_equal(explain_query(NULL, "192.0.2.1", "www.steer.example", NULL, out, sizeof out), -1);
}

/* ------------------------------------------------ allocation counting
 *
 * The query path must not allocate (alloc_count.h counts malloc, calloc,
 * realloc and the aligned allocators, or uses ASan's hooks under ASan).
 */
#include "alloc_count.h"

static void test_policy_no_allocation(void **state)
{
	(void)state;
	alloc_counter_install();
	/* The counter itself works: one malloc is seen. */
	alloc_count = 0;
	alloc_counting = true;
	void *volatile probe = malloc(64);
	alloc_counting = false;
	free(probe);
	assert_int_equal(alloc_count, 1);
	/* ...and so are the aligned ones (stats.c uses aligned_alloc). */
	void *aligned = NULL;
	alloc_count = 0;
	alloc_counting = true;
	probe = aligned_alloc(64, 128);
	int pm = posix_memalign(&aligned, 64, 128);
	alloc_counting = false;
	free(probe);
	free(aligned);
	assert_int_equal(pm, 0);
	assert_int_equal(alloc_count, 2);

	struct {
		const char *name;
		uint16_t type;
		const char *ecs;
		uint8_t prefix;
	} mix[] = {
	    {"www.steer.example", WIRE_TYPE_A, "192.0.2.1", 32},
	    {"www.steer.example", WIRE_TYPE_A, NULL, 0},
	    {"www.steer.example", WIRE_TYPE_AAAA, "2001:db8:1::", 48},
	    {"www.steer.example", WIRE_TYPE_AAAA, "203.0.113.0", 24},
	    {"www.steer.example", WIRE_TYPE_ANY, "198.51.100.0", 24},
	    {"www.steer.example", WIRE_TYPE_MX, NULL, 0},
	    {"api.steer.example", WIRE_TYPE_A, "10.1.2.0", 24},
	    {"static.steer.example", WIRE_TYPE_A, NULL, 0},
	    {"out.steer.example", WIRE_TYPE_A, "192.0.2.64", 26},
	    {"x.wild.steer.example", WIRE_TYPE_A, NULL, 0},
	    {"alias.steer.example", WIRE_TYPE_A, "2400:cb00::", 32},
	    {"ns1.steer.example", WIRE_TYPE_A, "192.0.2.1", 32},
	    {"steer.example", WIRE_TYPE_NS, NULL, 0},
	    {"nothere.steer.example", WIRE_TYPE_A, "192.0.2.1", 32},
	};
	enum { MIX = sizeof mix / sizeof mix[0] };
	static struct request reqs[MIX];
	for (size_t i = 0; i < MIX; i++) {
		uint8_t opt[32];
		struct edns e = edns_default;
		if (mix[i].ecs != NULL) {
			e.extra = opt;
			e.extra_len = ecs_option(opt, mix[i].ecs, mix[i].prefix);
		}
		build(&reqs[i], mix[i].name, mix[i].type, WIRE_CLASS_IN, 0, mix[i].ecs != NULL ? &e : NULL);
	}
	struct sockaddr_storage v4, v6;
	struct query_client clients[2] = {{source_of("198.51.100.3", &v4), QUERY_UDP},
	                                  {source_of("2001:db8:1::3", &v6), QUERY_TCP}};
	static uint8_t resp[65535];
	size_t empty = 0;

	alloc_count = 0;
	alloc_counting = true;
	for (unsigned i = 0; i < 10000; i++) {
		const struct request *q = &reqs[i % MIX];
		size_t n = query_respond(steer->zones, steer->policies, &steer->settings,
		                         &clients[(i / MIX) & 1], q->buf, q->len, resp, sizeof resp);
		if (n < WIRE_HEADER_LEN)
			empty++;
	}
	alloc_counting = false;
	assert_int_equal(empty, 0);
	assert_int_equal(alloc_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_positive_a),
	    cmocka_unit_test(test_flags_rd_echoed_cd_not),
	    cmocka_unit_test(test_case_preserved_and_compressed),
	    cmocka_unit_test(test_ns_apex_additional),
	    cmocka_unit_test(test_mx_and_srv_additional),
	    cmocka_unit_test(test_soa),
	    cmocka_unit_test(test_nxdomain_and_nodata),
	    cmocka_unit_test(test_empty_non_terminal),
	    cmocka_unit_test(test_cname_in_zone),
	    cmocka_unit_test(test_cname_negative_ends),
	    cmocka_unit_test(test_cname_out_of_zone),
	    cmocka_unit_test(test_cname_loops_and_limit),
	    cmocka_unit_test(test_cname_target_compressed),
	    cmocka_unit_test(test_wildcards),
	    cmocka_unit_test(test_answer_source),
	    cmocka_unit_test(test_wildcard_ent_rules),
	    cmocka_unit_test(test_referral),
	    cmocka_unit_test(test_ds_at_cut),
	    cmocka_unit_test(test_ds_at_child_apex_from_parent),
	    cmocka_unit_test(test_cname_into_delegation),
	    cmocka_unit_test(test_any_minimal),
	    cmocka_unit_test(test_truncation_answer),
	    cmocka_unit_test(test_truncation_keeps_written_rrsets),
	    cmocka_unit_test(test_truncation_glue_and_additional),
	    cmocka_unit_test(test_truncation_small_buffers),
	    cmocka_unit_test(test_edns_reply_opt),
	    cmocka_unit_test(test_badvers),
	    cmocka_unit_test(test_nsid),
	    cmocka_unit_test(test_ecs_echo),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_formerr_and_drops),
	    cmocka_unit_test(test_opcodes),
	    cmocka_unit_test(test_meta_qtypes),
	    cmocka_unit_test(test_classes),
	    cmocka_unit_test(test_chaos),
	    cmocka_unit_test(test_random_inputs),
	};
	const struct CMUnitTest steering[] = {
	    cmocka_unit_test(test_policy_geo_by_ecs),
	    cmocka_unit_test(test_policy_nodata_family),
	    cmocka_unit_test(test_policy_packet_source),
	    cmocka_unit_test(test_policy_client_subnet_off),
	    cmocka_unit_test(test_policy_static_scope_zero),
	    cmocka_unit_test(test_policy_drain_down_ttl),
	    cmocka_unit_test(test_policy_family_dead),
	    cmocka_unit_test(test_policy_address_bits_follow_addresses),
	    cmocka_unit_test(test_policy_cname_datacenter),
	    cmocka_unit_test(test_policy_any_and_static_types),
	    cmocka_unit_test(test_policy_max_addresses),
	    cmocka_unit_test(test_policy_address_mask),
	    cmocka_unit_test(test_policy_wildcard_and_chain),
	    cmocka_unit_test(test_policy_truncation),
	    cmocka_unit_test(test_policy_no_allocation),
	    cmocka_unit_test(test_explain),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	failed += cmocka_run_group_tests(steering, steer_setup, steer_teardown);
	return failed;
}
