/*
 * Unit tests for wire: the request parser (every accept and reject path),
 * the name reader (compression, loops, limits) and the reply writer
 * (compression bytes, rewind on overflow, OPT encoding), with ldns as an
 * independent reader of what the writer produces.
 *
 * Requests are assembled byte by byte with the small builder below, so each
 * test states exactly which bytes are wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "wire.h"

/* ------------------------------------------------------------ builder */

struct pkt {
	uint8_t b[4096];
	size_t len;
};

static void put(struct pkt *p, const void *data, size_t n)
{
	assert_true(p->len + n <= sizeof p->b);
	if (n > 0)
		memcpy(p->b + p->len, data, n);
	p->len += n;
}

static void put8(struct pkt *p, uint8_t v)
{
	put(p, &v, 1);
}

static void put16(struct pkt *p, uint16_t v)
{
	uint8_t b[2];
	wire_put_u16(b, v);
	put(p, b, 2);
}

static void put32(struct pkt *p, uint32_t v)
{
	uint8_t b[4];
	wire_put_u32(b, v);
	put(p, b, 4);
}

/* A wire name given as a string literal; the literal's NUL is the root. */
#define PUTNAME(p, lit) put((p), (lit), sizeof(lit))

static void header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                   uint16_t ar)
{
	p->len = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, ar);
}

static void rr_fixed(struct pkt *p, uint16_t type, uint16_t cls, uint32_t ttl, uint16_t rdlen)
{
	put16(p, type);
	put16(p, cls);
	put32(p, ttl);
	put16(p, rdlen);
}

/* A query for www.shop.example A, with the given counts after QDCOUNT. */
static void query(struct pkt *p, uint16_t an, uint16_t ns, uint16_t ar)
{
	header(p, 0x1234, WIRE_FLAG_RD, 1, an, ns, ar);
	PUTNAME(p, "\3WwW\4shop\7Example");
	put16(p, WIRE_TYPE_A);
	put16(p, WIRE_CLASS_IN);
}

/* OPT header with udp size 1232 and the given TTL; options follow. */
static void opt(struct pkt *p, uint32_t ttl, uint16_t rdlen)
{
	put8(p, 0);
	rr_fixed(p, WIRE_TYPE_OPT, 1232, ttl, rdlen);
}

static void ecs_option(struct pkt *p, uint16_t family, uint8_t source, uint8_t scope, const uint8_t *addr,
                       uint16_t addr_len)
{
	put16(p, WIRE_EDNS_CLIENT_SUBNET);
	put16(p, (uint16_t)(4 + addr_len));
	put16(p, family);
	put8(p, source);
	put8(p, scope);
	put(p, addr, addr_len);
}

/* A query with an OPT carrying one Client Subnet option. */
static enum wire_parse_status parse_ecs(uint16_t family, uint8_t source, uint8_t scope, const uint8_t *addr,
                                        uint16_t addr_len, struct wire_query *q)
{
	struct pkt p;
	query(&p, 0, 0, 1);
	opt(&p, 0, (uint16_t)(8 + addr_len));
	ecs_option(&p, family, source, scope, addr, addr_len);
	return wire_parse_query(p.b, p.len, q);
}

#define WWW_SHOP "\3www\4shop\7example"

/* ------------------------------------------------------- parsing: good */

static void test_parse_plain_query(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	query(&p, 0, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags, WIRE_FLAG_RD);
	assert_int_equal(q.opcode, WIRE_OPCODE_QUERY);
	assert_true(q.has_question);
	assert_int_equal(q.qname_len, 18);
	assert_memory_equal(q.qname, WWW_SHOP, 18); /* lower-cased copy */
	assert_int_equal(q.question_len, 22);
	assert_int_equal(q.qtype, WIRE_TYPE_A);
	assert_int_equal(q.qclass, WIRE_CLASS_IN);
	assert_false(q.edns);
	assert_false(q.ecs);
	/* The packet itself keeps the client's case. */
	assert_memory_equal(p.b + 12, "\3WwW", 4);
}

static void test_parse_root_question(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	header(&p, 1, 0, 1, 0, 0, 0);
	put8(&p, 0);
	put16(&p, WIRE_TYPE_NS);
	put16(&p, WIRE_CLASS_IN);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_int_equal(q.qname_len, 1);
	assert_int_equal(q.question_len, 5);
	assert_int_equal(q.qtype, WIRE_TYPE_NS);
}

static void test_parse_edns(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	query(&p, 0, 0, 1);
	put8(&p, 0);
	rr_fixed(&p, WIRE_TYPE_OPT, 4096, 0x00008000, 0); /* DO */
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_udp_size, 4096);
	assert_int_equal(q.edns_version, 0);
	assert_false(q.edns_nsid);
	assert_false(q.ecs);

	/* Version 1, no DO: reported as is, not rejected. */
	query(&p, 0, 0, 1);
	opt(&p, 0x00010000, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_true(q.edns);
	assert_false(q.edns_do);
	assert_int_equal(q.edns_version, 1);
	assert_int_equal(q.edns_udp_size, 1232);
}

static void test_parse_nsid_and_unknown_option(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	query(&p, 0, 0, 1);
	opt(&p, 0, 4 + 4 + 3);
	put16(&p, 65001); /* unknown: ignored */
	put16(&p, 3);
	put(&p, "abc", 3);
	put16(&p, WIRE_EDNS_NSID);
	put16(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_true(q.edns);
	assert_true(q.edns_nsid);
}

static void test_parse_ecs_v4(void **state)
{
	(void)state;
	struct wire_query q;
	const uint8_t addr[] = {192, 0, 2};
	assert_int_equal(parse_ecs(1, 24, 0, addr, 3, &q), WIRE_PARSE_OK);
	assert_true(q.ecs);
	assert_int_equal(q.ecs_family, 1);
	assert_int_equal(q.ecs_source_prefix, 24);
	const uint8_t want[16] = {192, 0, 2};
	assert_memory_equal(q.ecs_address, want, 16);

	/* /20: three bytes, low four bits of the last one zero. */
	const uint8_t addr20[] = {198, 51, 96};
	assert_int_equal(parse_ecs(1, 20, 0, addr20, 3, &q), WIRE_PARSE_OK);
	assert_int_equal(q.ecs_source_prefix, 20);
	assert_int_equal(q.ecs_address[2], 96);
	assert_int_equal(q.ecs_address[3], 0);

	/* /0 carries no address bytes at all. */
	assert_int_equal(parse_ecs(1, 0, 0, NULL, 0, &q), WIRE_PARSE_OK);
	assert_true(q.ecs);
	assert_int_equal(q.ecs_source_prefix, 0);
}

static void test_parse_ecs_v6(void **state)
{
	(void)state;
	struct wire_query q;
	const uint8_t addr[] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56};
	assert_int_equal(parse_ecs(2, 56, 0, addr, 7, &q), WIRE_PARSE_OK);
	assert_true(q.ecs);
	assert_int_equal(q.ecs_family, 2);
	assert_int_equal(q.ecs_source_prefix, 56);
	uint8_t want[16] = {0};
	memcpy(want, addr, 7);
	assert_memory_equal(q.ecs_address, want, 16);

	uint8_t full[16];
	memset(full, 0xab, sizeof full);
	assert_int_equal(parse_ecs(2, 128, 0, full, 16, &q), WIRE_PARSE_OK);
	assert_memory_equal(q.ecs_address, full, 16);
}

static void test_parse_skips_other_sections(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	/* An answer whose owner points at the question, an authority record
	 * whose owner is "ns" + pointer to the question's "shop.example", and
	 * an OPT; names may be compressed outside the question. */
	query(&p, 1, 1, 1);
	put16(&p, 0xC00C);
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 4);
	put32(&p, 0xC0000201);
	put8(&p, 2);
	put(&p, "ns", 2);
	put16(&p, 0xC010);
	rr_fixed(&p, WIRE_TYPE_TXT, 1, 60, 2);
	put(&p, "\1x", 2);
	opt(&p, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_true(q.edns);

	/* An OPT outside the additional section is just another record. */
	query(&p, 1, 0, 0);
	opt(&p, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	assert_false(q.edns);
}

/* ------------------------------------------------- parsing: DROP, NOTIMP */

static void test_parse_drop(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	query(&p, 0, 0, 0);
	assert_int_equal(wire_parse_query(p.b, 11, &q), WIRE_PARSE_DROP);
	assert_int_equal(wire_parse_query(p.b, 0, &q), WIRE_PARSE_DROP);
	header(&p, 7, WIRE_FLAG_QR | WIRE_FLAG_AA, 1, 0, 0, 0);
	PUTNAME(&p, WWW_SHOP);
	put32(&p, 0x00010001);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_DROP);
	assert_int_equal(q.id, 7); /* header fields copied before deciding */
}

static void test_parse_notimp(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	uint16_t notify = (uint16_t)(WIRE_OPCODE_NOTIFY << WIRE_OPCODE_SHIFT);
	header(&p, 9, notify | WIRE_FLAG_AA, 1, 0, 0, 1);
	PUTNAME(&p, "\4SHOP\7example");
	put16(&p, WIRE_TYPE_SOA);
	put16(&p, WIRE_CLASS_IN);
	opt(&p, 0x8000, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_NOTIMP);
	assert_int_equal(q.opcode, WIRE_OPCODE_NOTIFY);
	assert_int_equal(q.id, 9);
	assert_true(q.has_question);
	assert_memory_equal(q.qname, "\4shop\7example", 14);
	assert_int_equal(q.qtype, WIRE_TYPE_SOA);
	assert_true(q.edns); /* so the NOTIMP reply can carry OPT */

	/* UPDATE without a zone section: NOTIMP, nothing to echo. */
	header(&p, 9, (uint16_t)(WIRE_OPCODE_UPDATE << WIRE_OPCODE_SHIFT), 0, 0, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_NOTIMP);
	assert_false(q.has_question);

	/* Opcode 2 (STATUS) with a broken question is still NOTIMP. */
	header(&p, 9, (uint16_t)(2 << WIRE_OPCODE_SHIFT), 1, 0, 0, 0);
	put8(&p, 5);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_NOTIMP);
	assert_false(q.has_question);
}

/* ------------------------------------------------------ parsing: FORMERR */

static void test_formerr_qdcount(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;
	header(&p, 1, 0, 0, 0, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_false(q.has_question);

	header(&p, 1, 0, 2, 0, 0, 0);
	PUTNAME(&p, WWW_SHOP);
	put32(&p, 0x00010001);
	PUTNAME(&p, WWW_SHOP);
	put32(&p, 0x00010001);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_true(q.has_question); /* the first one, for the echo */
	assert_int_equal(q.qtype, WIRE_TYPE_A);
}

static void test_formerr_question(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;

	/* A compression pointer in the question. */
	header(&p, 1, 0, 1, 0, 0, 0);
	put(&p, "\3www", 4);
	put16(&p, 0xC00C);
	put32(&p, 0x00010001);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_false(q.has_question);
	assert_int_equal(q.qname[0], 0); /* the root, not the "www" read so far */

	/* The name runs off the end. */
	header(&p, 1, 0, 1, 0, 0, 0);
	put(&p, "\3www\4sh", 7);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_int_equal(q.qname[0], 0);

	/* Type and class cut short. */
	header(&p, 1, 0, 1, 0, 0, 0);
	PUTNAME(&p, WWW_SHOP);
	put16(&p, 1);
	put8(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_false(q.has_question);
	assert_int_equal(q.qname[0], 0); /* a whole name, but no question to go with it */

	/* A reserved label type (0x80). */
	header(&p, 1, 0, 1, 0, 0, 0);
	put8(&p, 0x81);
	put8(&p, 'a');
	put8(&p, 0);
	put32(&p, 0x00010001);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* A question name longer than 255 bytes. */
	header(&p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 5; i++) {
		uint8_t label[64];
		label[0] = 63;
		memset(label + 1, 'a', 63);
		put(&p, label, sizeof label);
	}
	put8(&p, 0);
	put32(&p, 0x00010001);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
}

static void test_formerr_trailing_and_truncated(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;

	query(&p, 0, 0, 0);
	put8(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_true(q.has_question);

	/* ANCOUNT 1, but nothing follows the question. */
	query(&p, 1, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* The fixed part of a record is cut short. */
	query(&p, 1, 0, 0);
	put16(&p, 0xC00C);
	put16(&p, 1);
	put16(&p, 1);
	put16(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* RDLENGTH runs past the end. */
	query(&p, 0, 1, 0);
	put16(&p, 0xC00C);
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 4);
	put16(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* A correct record followed by garbage. */
	query(&p, 0, 1, 0);
	put16(&p, 0xC00C);
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 4);
	put32(&p, 0x7f000001);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_OK);
	put(&p, "xx", 2);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
}

static void test_formerr_pointers(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;

	/* Pointer to itself. */
	query(&p, 1, 0, 0);
	put16(&p, (uint16_t)(0xC000 | p.len));
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* Forward pointer (to the next record's owner, a valid name). */
	query(&p, 2, 0, 0);
	put16(&p, (uint16_t)(0xC000 | (p.len + 12)));
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	put8(&p, 0);
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* Two names pointing at each other: "\1a" + ptr(B) at A, ptr(A) at B. */
	query(&p, 2, 0, 0);
	size_t a = p.len;
	put(&p, "\1a", 2);
	put16(&p, (uint16_t)(0xC000 | (a + 14)));
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	assert_int_equal(p.len, a + 14);
	put16(&p, (uint16_t)(0xC000 | a));
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* Pointer into the header. */
	query(&p, 1, 0, 0);
	put16(&p, 0xC002);
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* Extended label type 0x40 in an owner name. */
	query(&p, 1, 0, 0);
	put8(&p, 0x41);
	put8(&p, 0);
	put8(&p, 0);
	rr_fixed(&p, WIRE_TYPE_A, 1, 60, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
}

static void test_formerr_opt(void **state)
{
	(void)state;
	struct pkt p;
	struct wire_query q;

	/* OPT whose owner is not the root. */
	query(&p, 0, 0, 1);
	put16(&p, 0xC00C);
	rr_fixed(&p, WIRE_TYPE_OPT, 1232, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* Two OPT records. */
	query(&p, 0, 0, 2);
	opt(&p, 0, 0);
	opt(&p, 0, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* An option whose length runs past RDLENGTH. */
	query(&p, 0, 0, 1);
	opt(&p, 0, 6);
	put16(&p, WIRE_EDNS_NSID);
	put16(&p, 4);
	put16(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* An option header cut short. */
	query(&p, 0, 0, 1);
	opt(&p, 0, 2);
	put16(&p, WIRE_EDNS_NSID);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
	assert_false(q.edns_nsid);
}

static void test_formerr_ecs(void **state)
{
	(void)state;
	struct wire_query q;
	const uint8_t a4[] = {192, 0, 2, 0};
	const uint8_t a6[17] = {0x20, 0x01};

	assert_int_equal(parse_ecs(3, 8, 0, a4, 1, &q), WIRE_PARSE_FORMERR);    /* family */
	assert_int_equal(parse_ecs(0, 0, 0, NULL, 0, &q), WIRE_PARSE_FORMERR);  /* family */
	assert_int_equal(parse_ecs(1, 33, 0, a4, 4, &q), WIRE_PARSE_FORMERR);   /* /33 for IPv4 */
	assert_int_equal(parse_ecs(2, 129, 0, a6, 17, &q), WIRE_PARSE_FORMERR); /* /129 for IPv6 */
	assert_int_equal(parse_ecs(1, 24, 24, a4, 3, &q), WIRE_PARSE_FORMERR);  /* scope in a query */
	assert_int_equal(parse_ecs(1, 24, 0, a4, 4, &q), WIRE_PARSE_FORMERR);   /* address too long */
	assert_int_equal(parse_ecs(1, 24, 0, a4, 2, &q), WIRE_PARSE_FORMERR);   /* address too short */
	assert_int_equal(parse_ecs(1, 0, 0, a4, 1, &q), WIRE_PARSE_FORMERR);    /* /0 with a byte */
	assert_false(q.ecs);

	/* Bits set past the source prefix. */
	const uint8_t host_bits[] = {192, 0, 3};
	assert_int_equal(parse_ecs(1, 23, 0, host_bits, 3, &q), WIRE_PARSE_FORMERR);
	const uint8_t host_bits4[] = {192, 0, 2, 1};
	assert_int_equal(parse_ecs(1, 31, 0, host_bits4, 4, &q), WIRE_PARSE_FORMERR);
	const uint8_t clean[] = {192, 0, 2};
	assert_int_equal(parse_ecs(1, 24, 0, clean, 3, &q), WIRE_PARSE_OK);

	/* Option shorter than its fixed four bytes. */
	struct pkt p;
	query(&p, 0, 0, 1);
	opt(&p, 0, 7);
	put16(&p, WIRE_EDNS_CLIENT_SUBNET);
	put16(&p, 3);
	put16(&p, 1);
	put8(&p, 0);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);

	/* Two Client Subnet options. */
	query(&p, 0, 0, 1);
	opt(&p, 0, 2 * (8 + 3));
	ecs_option(&p, 1, 24, 0, clean, 3);
	ecs_option(&p, 1, 24, 0, clean, 3);
	assert_int_equal(wire_parse_query(p.b, p.len, &q), WIRE_PARSE_FORMERR);
}

/* ------------------------------------------------------- wire_read_name */

static void test_read_name(void **state)
{
	(void)state;
	struct pkt p;
	uint8_t out[DNAME_MAXLEN];
	size_t pos;

	query(&p, 0, 0, 0);
	size_t second = p.len;
	put(&p, "\4MAIL", 5);
	put16(&p, 0xC010); /* -> shop.example inside the question */
	size_t third = p.len;
	put16(&p, (uint16_t)(0xC000 | second));

	pos = 12;
	assert_int_equal(wire_read_name(p.b, p.len, &pos, out), 18);
	assert_memory_equal(out, WWW_SHOP, 18);
	assert_int_equal(pos, 30);

	pos = second;
	assert_int_equal(wire_read_name(p.b, p.len, &pos, out), 19);
	assert_memory_equal(out, "\4mail\4shop\7example", 19);
	assert_int_equal(pos, second + 7); /* just past the pointer */

	pos = third; /* a pointer to a name that ends in a pointer */
	assert_int_equal(wire_read_name(p.b, p.len, &pos, out), 19);
	assert_int_equal(pos, third + 2);

	/* Truncated pointer. */
	pos = third;
	assert_int_equal(wire_read_name(p.b, third + 1, &pos, out), -1);
	/* Past the end. */
	pos = p.len;
	assert_int_equal(wire_read_name(p.b, p.len, &pos, out), -1);
}

static void test_read_name_limits(void **state)
{
	(void)state;
	uint8_t buf[1024];
	uint8_t out[DNAME_MAXLEN];
	size_t pos, n = 12;

	memset(buf, 0, sizeof buf);
	/* 127 labels of one byte: 255 bytes, the maximum. */
	for (int i = 0; i < 127; i++) {
		buf[n++] = 1;
		buf[n++] = 'x';
	}
	buf[n++] = 0;
	pos = 12;
	assert_int_equal(wire_read_name(buf, n, &pos, out), 255);

	/* The same name reached through a pointer after one more label: 257. */
	size_t at = n;
	buf[n++] = 1;
	buf[n++] = 'y';
	buf[n++] = 0xC0;
	buf[n++] = 12;
	pos = at;
	assert_int_equal(wire_read_name(buf, n, &pos, out), -1);

	/* A chain of pointers, each to the one before it, ending at a root
	 * byte at 600: every hop goes lower, so it is accepted up to the hop
	 * cap and refused beyond it. */
	buf[600] = 0;
	for (size_t j = 0; j < 130; j++) {
		size_t target = j == 0 ? 600 : 601 + 2 * (j - 1);
		buf[601 + 2 * j] = (uint8_t)(0xC0 | target >> 8);
		buf[601 + 2 * j + 1] = (uint8_t)target;
	}
	pos = 601 + 2 * 99; /* 100 hops */
	assert_int_equal(wire_read_name(buf, 900, &pos, out), 1);
	assert_int_equal(pos, 601 + 2 * 99 + 2);
	pos = 601 + 2 * 129; /* 130 hops */
	assert_int_equal(wire_read_name(buf, 900, &pos, out), -1);

	/* A label that jumps over its own pointer's target run: "\2ab" at
	 * 900, then a pointer back to 900: a loop that strictly-lower rules out. */
	buf[900] = 2;
	buf[901] = 'a';
	buf[902] = 'b';
	buf[903] = 0xC3;
	buf[904] = 0x84; /* 900 = 0x384 */
	pos = 900;
	assert_int_equal(wire_read_name(buf, 905, &pos, out), -1);
}

/* ------------------------------------------------------------- writing */

static const uint8_t question_www[] = "\3WwW\4ShOp\7eXaMpLe\0\0\1\0\1";
#define QUESTION_LEN 22

static void start_reply(struct wire_writer *w, uint8_t *buf, size_t limit)
{
	wire_writer_init(w, buf, limit);
	assert_true(wire_write_question(w, question_www, QUESTION_LEN));
}

static void test_write_compresses_owner(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_writer w;
	const uint8_t a[] = {192, 0, 2, 1};
	start_reply(&w, buf, sizeof buf);

	/* Lower-cased owner against the mixed-case question: a pointer to 12. */
	assert_true(
	    wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)WWW_SHOP, WIRE_TYPE_A, 1, 300, a, 4));
	const uint8_t rr1[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};
	assert_memory_equal(buf + 34, rr1, sizeof rr1);
	assert_int_equal(w.len, 34 + sizeof rr1);

	/* A suffix: shop.example sits at 12 + 4 = 0x10. */
	size_t at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example", WIRE_TYPE_A,
	                          1, 300, a, 4));
	assert_memory_equal(buf + at, "\xC0\x10", 2);

	/* A new label before a known suffix: "mail" + pointer. */
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ADDITIONAL, (const uint8_t *)"\4mail\4shop\7example",
	                          WIRE_TYPE_A, 1, 300, a, 4));
	assert_memory_equal(buf + at, "\4mail\xC0\x10", 7);

	/* And now mail.shop.example itself is a target. */
	size_t mail_at = at;
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ADDITIONAL, (const uint8_t *)"\4MAIL\4shop\7example",
	                          WIRE_TYPE_A, 1, 300, a, 4));
	assert_int_equal(buf[at], 0xC0);
	assert_int_equal(buf[at + 1], mail_at);

	/* A name sharing nothing but the root is written whole. */
	at = w.len;
	assert_true(
	    wire_write_rr(&w, WIRE_SECTION_ADDITIONAL, (const uint8_t *)"\3net", WIRE_TYPE_A, 1, 300, a, 4));
	assert_memory_equal(buf + at, "\3net\0", 5);

	size_t len = wire_writer_finish(&w, 0xBEEF, WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_RCODE_NOERROR);
	assert_int_equal(len, w.len);
	const uint8_t hdr[] = {0xBE, 0xEF, 0x84, 0x00, 0, 1, 0, 1, 0, 1, 0, 3};
	assert_memory_equal(buf, hdr, sizeof hdr);
	/* The question is copied verbatim, case included. */
	assert_memory_equal(buf + 12, question_www, QUESTION_LEN);
}

/* The question alias: an owner at the alias's address points to 12 (the
 * same bytes as the compared path), and never once the question is gone. */
static void test_write_question_alias(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_writer w;
	struct wire_mark before;
	const uint8_t a[] = {192, 0, 2, 1};
	uint8_t alias[DNAME_MAXLEN];
	memcpy(alias, WWW_SHOP, sizeof(WWW_SHOP));

	wire_writer_init(&w, buf, sizeof buf);
	wire_writer_mark(&w, &before);
	assert_true(wire_write_question(&w, question_www, QUESTION_LEN));
	wire_writer_alias_question(&w, alias);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, alias, WIRE_TYPE_A, 1, 300, a, 4));
	const uint8_t rr1[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1};
	assert_memory_equal(buf + 34, rr1, sizeof rr1);
	/* A CNAME whose target is the alias: the rdata name is a pointer too. */
	size_t at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\3ftp\4shop\7example", WIRE_TYPE_CNAME, 1,
	                          300, alias, (uint16_t)sizeof(WWW_SHOP)));
	assert_memory_equal(buf + at, "\3ftp\xC0\x10", 6);
	assert_memory_equal(buf + at + 6 + 8, "\0\2\xC0\x0C", 4);

	/* White-box: the alias is taken at its word, not compared — a
	 * buffer naming something else still becomes a pointer to 12 (which
	 * is why the caller must pass the question's own name). */
	uint8_t other[] = "\3ftp\5other\3net";
	wire_writer_alias_question(&w, other);
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, other, WIRE_TYPE_A, 1, 300, a, 4));
	assert_memory_equal(buf + at, "\xC0\x0C", 2);

	/* Rewound to before the question, offset 12 will hold another name:
	 * the alias is dropped, and the name at its address is written in
	 * full, not as a pointer to whatever is at 12 now. */
	wire_writer_alias_question(&w, alias);
	wire_writer_rewind(&w, &before);
	assert_null(w.question_alias);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, other, WIRE_TYPE_A, 1, 300, a, 4));
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, alias, WIRE_TYPE_A, 1, 300, a, 4));
	assert_memory_equal(buf + at, WWW_SHOP, sizeof(WWW_SHOP));
	/* A fresh writer has no alias. */
	wire_writer_init(&w, buf, sizeof buf);
	assert_null(w.question_alias);
}

static void test_write_rdata_compression(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_writer w;
	start_reply(&w, buf, sizeof buf);

	/* NS ns1.shop.example: "ns1" + pointer, RDLENGTH 6. */
	const uint8_t ns[] = "\3ns1\4shop\7example";
	size_t at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example",
	                          WIRE_TYPE_NS, 1, 3600, ns, sizeof ns));
	const uint8_t rr_ns[] = {0xC0, 0x10, 0, 2, 0,   1,   0,   0,    0x0E,
	                         0x10, 0,    6, 3, 'n', 's', '1', 0xC0, 0x10};
	assert_memory_equal(buf + at, rr_ns, sizeof rr_ns);
	size_t ns1_at = at + 12;

	/* MX 10 ns1.shop.example: preference kept, name fully a pointer. */
	const uint8_t mx[] = "\0\12\3ns1\4shop\7example";
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4shop\7example", WIRE_TYPE_MX,
	                          1, 3600, mx, sizeof mx));
	const uint8_t rr_mx[] = {0xC0, 0x10, 0, 15, 0, 1,  0,    0,
	                         0x0E, 0x10, 0, 4,  0, 10, 0xC0, (uint8_t)ns1_at};
	assert_memory_equal(buf + at, rr_mx, sizeof rr_mx);

	/* SOA: mname and rname compressed, the 20 bytes of numbers verbatim. */
	uint8_t soa[64];
	size_t n = 0;
	memcpy(soa + n, ns, sizeof ns);
	n += sizeof ns;
	memcpy(soa + n, "\12hostmaster\4shop\7example", 25);
	n += 25;
	for (int i = 0; i < 20; i++)
		soa[n++] = (uint8_t)(i + 1);
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example",
	                          WIRE_TYPE_SOA, 1, 3600, soa, (uint16_t)n));
	assert_int_equal(wire_get_u16(buf + at + 10), 2 + 11 + 2 + 20);
	const uint8_t *rd = buf + at + 12;
	assert_memory_equal(rd, "\xC0", 1);
	assert_int_equal(rd[1], ns1_at);
	assert_memory_equal(rd + 2, "\12hostmaster\xC0\x10", 13);
	assert_memory_equal(rd + 15, soa + n - 20, 20);

	/* SRV (RFC 2782) is never compressed: rdata copied verbatim. */
	const uint8_t srv[] = "\0\1\0\2\0\x35\3ns1\4shop\7example";
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4_dns\4_udp\4shop\7example",
	                          WIRE_TYPE_SRV, 1, 60, srv, sizeof srv));
	assert_memory_equal(buf + at, "\4_dns\4_udp\xC0\x10", 12);
	assert_int_equal(wire_get_u16(buf + at + 12 + 8), sizeof srv);
	assert_memory_equal(buf + at + 12 + 10, srv, sizeof srv);

	/* A CNAME whose rdata is not one name is copied verbatim. */
	const uint8_t bad[] = {3, 'a', 'b'};
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)WWW_SHOP, WIRE_TYPE_CNAME, 1, 60,
	                          bad, 3));
	assert_int_equal(wire_get_u16(buf + at + 2 + 8), 3);
	assert_memory_equal(buf + at + 12, bad, 3);
}

/* Names earlier in the same record are targets for later ones. */
static void test_write_compress_within_record(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct wire_writer w;

	/* No question: the owner at 12 is written whole, the NS target
	 * points into it. */
	wire_writer_init(&w, buf, sizeof buf);
	const uint8_t ns[] = "\3ns1\4shop\7example";
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example",
	                          WIRE_TYPE_NS, 1, 60, ns, sizeof ns));
	const uint8_t want[] = "\4shop\7example\0\0\2\0\1\0\0\0\x3c\0\6\3ns1\xC0\x0C";
	assert_int_equal(w.len, 12 + sizeof want - 1);
	assert_memory_equal(buf + 12, want, sizeof want - 1);

	/* SOA: RNAME points into MNAME (both planned before either is
	 * written), and the exact-fit limit is honoured. */
	uint8_t soa[64];
	size_t n = 0;
	memcpy(soa, "\1a\1b\7example", 13);
	n += 13;
	memcpy(soa + n, "\1c\1b\7example", 13);
	n += 13;
	memset(soa + n, 7, 20);
	n += 20;
	size_t at = w.len;
	/* owner: pointer (2); fixed 10; mname "\1a\1b\xC0\x11" = 6 (example
	 * at 12 + 5); rname "\1c" + pointer to "b.example" at at + 14 = 4; 20. */
	size_t need = 2 + 10 + 6 + 4 + 20;
	wire_writer_set_limit(&w, at + need - 1);
	assert_false(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\7example", WIRE_TYPE_SOA, 1,
	                           60, soa, (uint16_t)n));
	assert_int_equal(w.len, at);
	wire_writer_set_limit(&w, at + need);
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\7example", WIRE_TYPE_SOA, 1,
	                          60, soa, (uint16_t)n));
	assert_int_equal(w.len, at + need);
	assert_memory_equal(buf + at, "\xC0\x11", 2);
	assert_int_equal(wire_get_u16(buf + at + 10), 6 + 4 + 20);
	assert_memory_equal(buf + at + 12, "\1a\1b\xC0\x11", 6);
	assert_int_equal(buf[at + 18], 1);
	assert_int_equal(buf[at + 19], 'c');
	assert_int_equal(wire_get_u16(buf + at + 20), 0xC000 | (at + 14));

	size_t len = wire_writer_finish(&w, 5, WIRE_FLAG_QR);
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, buf, len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_qdcount(pkt), 0);
	char *text = ldns_rr_list2str(ldns_pkt_authority(pkt));
	assert_non_null(strstr(text, "example.\t60\tIN\tSOA\ta.b.example. c.b.example. 117901063"));
	free(text);
	ldns_pkt_free(pkt);
}

static void assert_same_writer(const struct wire_writer *a, const struct wire_writer *b)
{
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->limit, b->limit);
	assert_memory_equal(a->count, b->count, sizeof a->count);
	assert_int_equal(a->compress_count, b->compress_count);
	/* Only the remembered entries: the rest of the table is never read. */
	assert_memory_equal(a->compress_offset, b->compress_offset, a->compress_count * sizeof a->compress_offset[0]);
}

static void test_write_overflow_rewinds(void **state)
{
	(void)state;
	uint8_t buf[128], before[128];
	struct wire_writer w;
	const uint8_t a[] = {192, 0, 2, 1};
	memset(buf, 0x5A, sizeof buf);
	start_reply(&w, buf, 34 + 16 + 10);
	assert_true(
	    wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)WWW_SHOP, WIRE_TYPE_A, 1, 60, a, 4));
	assert_int_equal(w.len, 50);

	memcpy(before, buf, sizeof buf);
	struct wire_writer saved = w;
	/* "\4mail" + pointer + 10 + 4 = 21 bytes, only 10 left. */
	assert_false(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4mail\4shop\7example",
	                           WIRE_TYPE_A, 1, 60, a, 4));
	assert_memory_equal(buf, before, sizeof buf); /* not even scratch bytes */
	assert_same_writer(&w, &saved);

	/* Owner fits but the fixed part does not. */
	wire_writer_set_limit(&w, 50 + 7 + 5);
	assert_false(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4mail\4shop\7example",
	                           WIRE_TYPE_A, 1, 60, a, 4));
	assert_int_equal(w.len, 50);
	assert_int_equal(w.compress_count, saved.compress_count); /* "mail" not remembered */
	assert_int_equal(w.count[WIRE_SECTION_ANSWER], 1);

	/* Exactly enough room: it fits. */
	wire_writer_set_limit(&w, 50 + 21);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4mail\4shop\7example",
	                          WIRE_TYPE_A, 1, 60, a, 4));
	assert_int_equal(w.len, 71);

	/* The limit never drops below what is written. */
	wire_writer_set_limit(&w, 20);
	assert_int_equal(w.limit, 71);

	/* OPT that does not fit leaves everything alone as well. */
	memcpy(before, buf, sizeof buf);
	saved = w;
	struct wire_opt o = {.udp_size = 1232};
	assert_false(wire_write_opt(&w, &o));
	assert_memory_equal(buf, before, sizeof buf);
	assert_same_writer(&w, &saved);
}

static void test_write_mark_rewind(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_writer w;
	struct wire_mark m0, m1;
	const uint8_t a[] = {192, 0, 2, 1};

	wire_writer_init(&w, buf, sizeof buf);
	wire_writer_mark(&w, &m0);
	assert_true(wire_write_question(&w, question_www, QUESTION_LEN));
	wire_writer_mark(&w, &m1);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\3ftp\4shop\7example",
	                          WIRE_TYPE_A, 1, 60, a, 4));
	unsigned targets = w.compress_count;
	wire_writer_rewind(&w, &m1);
	assert_true(w.compress_count < targets);
	assert_int_equal(w.len, 34);
	assert_int_equal(w.count[WIRE_SECTION_ANSWER], 0);
	assert_int_equal(wire_writer_finish(&w, 1, 0), 34);
	assert_int_equal(wire_get_u16(buf + 4), 1);

	/* Rewinding to before the question drops QDCOUNT too. */
	wire_writer_rewind(&w, &m0);
	assert_int_equal(wire_writer_finish(&w, 1, WIRE_FLAG_QR | WIRE_RCODE_FORMERR), 12);
	const uint8_t hdr[] = {0, 1, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(buf, hdr, 12);

	/* A question that is not name + 4 bytes is refused. */
	assert_false(wire_write_question(&w, question_www, QUESTION_LEN - 1));
	assert_false(wire_write_question(&w, (const uint8_t *)"\xC0\x0C\0\1\0\1", 6));
	assert_int_equal(w.len, 12);
}

static void test_write_opt_bytes(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_writer w;
	const uint8_t addr[] = {192, 0, 2, 0xFF};
	struct wire_opt o = {
	    .udp_size = 1232,
	    .ext_rcode = 1, /* BADVERS = 16 = 1 << 4 */
	    .version = 0,
	    .do_bit = true,
	    .nsid = (const uint8_t *)"ns1",
	    .nsid_len = 3,
	    .ecs = true,
	    .ecs_family = 1,
	    .ecs_source_prefix = 20,
	    .ecs_scope_prefix = 16,
	    .ecs_address = addr,
	};
	wire_writer_init(&w, buf, sizeof buf);
	assert_true(wire_write_opt(&w, &o));
	const uint8_t want[] = {
	    0,                                                   /* root */
	    0,    41,                                            /* OPT */
	    0x04, 0xD0,                                          /* 1232 */
	    1,    0,      0x80, 0,                               /* ext rcode 1, version 0, DO */
	    0,    7 + 11,                                        /* RDLENGTH */
	    0,    3,      0,    3, 'n', 's', '1',                /* NSID */
	    0,    8,      0,    7, 0,   1,   20,  16, 192, 0, 0, /* ECS: /20 masks 2 -> 0 */
	};
	assert_int_equal(w.len, 12 + sizeof want);
	assert_memory_equal(buf + 12, want, sizeof want);
	assert_int_equal(w.count[WIRE_SECTION_ADDITIONAL], 1);

	/* Minimal OPT: no options at all. */
	struct wire_opt plain = {.udp_size = 512};
	wire_writer_init(&w, buf, sizeof buf);
	assert_true(wire_write_opt(&w, &plain));
	const uint8_t want_plain[] = {0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(w.len, 12 + sizeof want_plain);
	assert_memory_equal(buf + 12, want_plain, sizeof want_plain);

	/* An impossible source prefix is refused. */
	struct wire_opt bad = {
	    .udp_size = 512, .ecs = true, .ecs_family = 2, .ecs_source_prefix = 200, .ecs_address = addr};
	assert_false(wire_write_opt(&w, &bad));
	assert_int_equal(w.len, 12 + sizeof want_plain);
}

/* ------------------------------------------------ round trips with ldns */

static void test_roundtrip_ldns(void **state)
{
	(void)state;
	uint8_t buf[4096];
	struct wire_writer w;
	const uint8_t a[] = {192, 0, 2, 1};
	const uint8_t ns[] = "\3ns1\4shop\7example";
	const uint8_t mx[] = "\0\12\4mail\4shop\7example";
	const uint8_t txt[] = "\5hello";
	uint8_t soa[80];
	size_t n = 0;

	memcpy(soa, ns, sizeof ns);
	n += sizeof ns;
	memcpy(soa + n, "\12hostmaster\4shop\7example", 25);
	n += 25;
	const uint8_t numbers[20] = {0,    0,    0, 42,   0,    0, 0x0E, 0x10, 0, 0,
	                             0x07, 0x08, 0, 0x12, 0x75, 0, 0,    0,    1, 0x2C};
	memcpy(soa + n, numbers, 20);
	n += 20;

	start_reply(&w, buf, sizeof buf);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)WWW_SHOP, WIRE_TYPE_CNAME, 1, 60,
	                          (const uint8_t *)"\4mail\4shop\7example", 19));
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4mail\4shop\7example",
	                          WIRE_TYPE_A, 1, 60, a, 4));
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)"\4mail\4shop\7example",
	                          WIRE_TYPE_TXT, 1, 60, txt, 6));
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example",
	                          WIRE_TYPE_NS, 1, 3600, ns, sizeof ns));
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example",
	                          WIRE_TYPE_SOA, 1, 3600, soa, (uint16_t)n));
	assert_true(wire_write_rr(&w, WIRE_SECTION_AUTHORITY, (const uint8_t *)"\4shop\7example",
	                          WIRE_TYPE_MX, 1, 3600, mx, sizeof mx));
	assert_true(wire_write_rr(&w, WIRE_SECTION_ADDITIONAL, ns, WIRE_TYPE_A, 1, 3600, a, 4));
	struct wire_opt o = {.udp_size = 1232, .do_bit = true, .nsid = (const uint8_t *)"x", .nsid_len = 1};
	assert_true(wire_write_opt(&w, &o));
	size_t len = wire_writer_finish(&w, 0x4242, WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_FLAG_RD);

	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, buf, len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(pkt), 0x4242);
	assert_true(ldns_pkt_qr(pkt));
	assert_true(ldns_pkt_aa(pkt));
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_int_equal(ldns_pkt_ancount(pkt), 3);
	assert_int_equal(ldns_pkt_nscount(pkt), 3);
	assert_int_equal(ldns_pkt_arcount(pkt), 1); /* ldns takes OPT out of the count */
	assert_true(ldns_pkt_edns(pkt));
	assert_true(ldns_pkt_edns_do(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);

	/* Names compressed against the question come out in the client's
	 * letter case, so compare without case. */
	char *text = ldns_rr_list2str(ldns_pkt_answer(pkt));
	assert_non_null(text);
	assert_non_null(strcasestr(text, "www.shop.example.\t60\tIN\tCNAME\tmail.shop.example."));
	assert_non_null(strcasestr(text, "mail.shop.example.\t60\tIN\tA\t192.0.2.1"));
	assert_non_null(strcasestr(text, "mail.shop.example.\t60\tIN\tTXT\t\"hello\""));
	free(text);
	text = ldns_rr_list2str(ldns_pkt_authority(pkt));
	assert_non_null(strcasestr(text, "shop.example.\t3600\tIN\tNS\tns1.shop.example."));
	assert_non_null(
	    strcasestr(text, "IN\tSOA\tns1.shop.example. hostmaster.shop.example. 42 3600 1800 1209600 300"));
	assert_non_null(strcasestr(text, "IN\tMX\t10 mail.shop.example."));
	free(text);
	text = ldns_rr_list2str(ldns_pkt_additional(pkt));
	assert_non_null(strcasestr(text, "ns1.shop.example.\t3600\tIN\tA\t192.0.2.1"));
	free(text);
	ldns_pkt_free(pkt);
}

/* The writer builds a query, the parser reads it back. */
static void test_roundtrip_query(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_writer w;
	struct wire_query q;
	const uint8_t addr[] = {0x20, 0x01, 0x0d, 0xb8, 0xff};
	struct wire_opt o = {.udp_size = 4096,
	                     .do_bit = true,
	                     .nsid = (const uint8_t *)"",
	                     .nsid_len = 0,
	                     .ecs = true,
	                     .ecs_family = 2,
	                     .ecs_source_prefix = 36,
	                     .ecs_address = addr};

	start_reply(&w, buf, sizeof buf);
	assert_true(wire_write_opt(&w, &o));
	size_t len = wire_writer_finish(&w, 77, WIRE_FLAG_RD);
	assert_int_equal(wire_parse_query(buf, len, &q), WIRE_PARSE_OK);
	assert_int_equal(q.id, 77);
	assert_memory_equal(q.qname, WWW_SHOP, 18);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_true(q.edns_nsid);
	assert_int_equal(q.edns_udp_size, 4096);
	assert_true(q.ecs);
	assert_int_equal(q.ecs_family, 2);
	assert_int_equal(q.ecs_source_prefix, 36);
	const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, 0xf0};
	assert_memory_equal(q.ecs_address, want, 16);
}

/* Many names: the target table fills up and names are still written, in
 * a message ldns reads and our own reader agrees with. */
static void test_write_many_names(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	uint8_t owner[32];
	const uint8_t a[] = {192, 0, 2, 1};

	start_reply(&w, buf, sizeof buf);
	for (int i = 0; i < 200; i++) {
		/* "hNNN.shop.example": "\4hNNN" + pointer to shop.example */
		owner[0] = 4;
		owner[1] = 'h';
		owner[2] = (uint8_t)('0' + i / 100);
		owner[3] = (uint8_t)('0' + (i / 10) % 10);
		owner[4] = (uint8_t)('0' + i % 10);
		memcpy(owner + 5, "\4shop\7example", 14);
		size_t at = w.len;
		assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, owner, WIRE_TYPE_A, 1, 60, a, 4));
		assert_memory_equal(buf + at + 5, "\xC0\x10", 2);
		assert_true(w.compress_count <= WIRE_COMPRESS_MAX);
	}
	/* 3 from the question, then one per owner until full. */
	assert_int_equal(w.compress_count, WIRE_COMPRESS_MAX);

	/* h000 went in early: a bare pointer.  h199 did not: written again. */
	owner[2] = owner[3] = owner[4] = '0';
	size_t at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, owner, WIRE_TYPE_A, 1, 60, a, 4));
	assert_memory_equal(buf + at, "\xC0\x22", 2); /* 12 + 22 */
	owner[2] = '1';
	owner[3] = owner[4] = '9';
	at = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, owner, WIRE_TYPE_A, 1, 60, a, 4));
	assert_memory_equal(buf + at, "\4h199\xC0\x10", 7);

	size_t len = wire_writer_finish(&w, 1, WIRE_FLAG_QR);
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, buf, len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_ancount(pkt), 202);
	char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt), 199)));
	assert_int_equal(strcasecmp(s, "h199.shop.example."), 0);
	free(s);
	s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt), 200)));
	assert_int_equal(strcasecmp(s, "h000.shop.example."), 0);
	free(s);
	ldns_pkt_free(pkt);

	size_t pos = 12 + QUESTION_LEN;
	uint8_t name[DNAME_MAXLEN];
	for (int i = 0; i < 202; i++) {
		assert_int_equal(wire_read_name(buf, len, &pos, name), 19);
		pos += 8;
		pos += 2 + wire_get_u16(buf + pos);
	}
	assert_int_equal(pos, len);
}

/* Names written at or past 0x4000 cannot be pointer targets. */
static void test_write_pointer_range(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_MESSAGE];
	static uint8_t big[17000];
	struct wire_writer w;
	const uint8_t a[] = {192, 0, 2, 1};
	const uint8_t *far = (const uint8_t *)"\3far\4shop\7example";

	memset(big, 'q', sizeof big);
	start_reply(&w, buf, sizeof buf);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, (const uint8_t *)WWW_SHOP, WIRE_TYPE_TXT, 1, 60,
	                          big, sizeof big));
	unsigned targets = w.compress_count;
	size_t first = w.len;
	assert_true(first > 0x4000);
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, far, WIRE_TYPE_A, 1, 60, a, 4));
	assert_int_equal(w.compress_count, targets);
	size_t second = w.len;
	assert_true(wire_write_rr(&w, WIRE_SECTION_ANSWER, far, WIRE_TYPE_A, 1, 60, a, 4));
	assert_memory_equal(buf + first, "\3far\xC0\x10", 6);
	assert_memory_equal(buf + second, "\3far\xC0\x10", 6);
	for (unsigned i = 0; i < w.compress_count; i++)
		assert_true(w.compress_offset[i] < 0x4000);
}

/* RFC 3597 TYPEnnn: 1..65535, any case, digits only. */
static void test_type_from_generic_text(void **state)
{
	(void)state;
	uint16_t t = 0;
	assert_true(wire_type_from_generic_text("TYPE65", &t));
	assert_int_equal(t, 65);
	assert_true(wire_type_from_generic_text("type65535", &t));
	assert_int_equal(t, 65535);
	assert_true(wire_type_from_generic_text("TYPE1", &t));
	assert_int_equal(t, 1);
	const char *bad[] = {"TYPE", "TYPE0", "TYPE65536", "TYPE99999", "TYPE184467440737095516160", "TYPE12x",
	                     "TYPE-1", "TYPE 1", "A", "TYP1", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = 7;
		assert_false(wire_type_from_generic_text(bad[i], &t));
		assert_int_equal(t, 7); /* untouched */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_plain_query),
	    cmocka_unit_test(test_parse_root_question),
	    cmocka_unit_test(test_parse_edns),
	    cmocka_unit_test(test_parse_nsid_and_unknown_option),
	    cmocka_unit_test(test_parse_ecs_v4),
	    cmocka_unit_test(test_parse_ecs_v6),
	    cmocka_unit_test(test_parse_skips_other_sections),
	    cmocka_unit_test(test_parse_drop),
	    cmocka_unit_test(test_parse_notimp),
	    cmocka_unit_test(test_formerr_qdcount),
	    cmocka_unit_test(test_formerr_question),
	    cmocka_unit_test(test_formerr_trailing_and_truncated),
	    cmocka_unit_test(test_formerr_pointers),
	    cmocka_unit_test(test_formerr_opt),
	    cmocka_unit_test(test_formerr_ecs),
	    cmocka_unit_test(test_read_name),
	    cmocka_unit_test(test_read_name_limits),
	    cmocka_unit_test(test_write_compresses_owner),
	    cmocka_unit_test(test_write_question_alias),
	    cmocka_unit_test(test_write_rdata_compression),
	    cmocka_unit_test(test_write_compress_within_record),
	    cmocka_unit_test(test_write_overflow_rewinds),
	    cmocka_unit_test(test_write_mark_rewind),
	    cmocka_unit_test(test_write_opt_bytes),
	    cmocka_unit_test(test_roundtrip_ldns),
	    cmocka_unit_test(test_roundtrip_query),
	    cmocka_unit_test(test_write_many_names),
	    cmocka_unit_test(test_write_pointer_range),
	    cmocka_unit_test(test_type_from_generic_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
