/*
 * Unit tests for src/ratelimit.c: which replies share a class, how a
 * class's budget runs out and comes back, how slip alternates, and the
 * truncated form of a reply.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"
#include "wire.h"

static const struct ratelimit_settings settings = {.responses = 5, .slip = 2, .ipv4_prefix = 24, .ipv6_prefix = 56};

static struct sockaddr_storage v4(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	return ss;
}

/* A reply to NAME (wire form) TYPE with one answer record after the
 * question, as query_respond would write it; returns its length. */
static size_t reply(uint8_t *buf, const char *name, size_t name_len, uint16_t qtype)
{
	static const uint8_t header[12] = {0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1};
	static const uint8_t answer[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 10};
	static const uint8_t opt[] = {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0};
	size_t n = 0;
	memcpy(buf, header, sizeof header);
	n += sizeof header;
	memcpy(buf + n, name, name_len);
	n += name_len;
	wire_put_u16(buf + n, qtype);
	wire_put_u16(buf + n + 2, 1);
	n += 4;
	memcpy(buf + n, answer, sizeof answer);
	n += sizeof answer;
	memcpy(buf + n, opt, sizeof opt);
	return n + sizeof opt;
}

/* Names in wire form; sizeof counts the string's NUL, which is the root label. */
#define WWW "\3www\4shop\7example"
#define API "\3api\4shop\7example"
#define SHOP "\4shop\7example"

static uint64_t class_of(const struct sockaddr_storage *client, const char *source, uint16_t rcode)
{
	return ratelimit_class(&settings, (const struct sockaddr *)client, (const uint8_t *)source, rcode);
}

static void test_classes(void **state)
{
	(void)state;
	struct sockaddr_storage a = v4("198.51.100.7"), a2 = v4("198.51.100.200"), b = v4("198.51.101.7");
	uint64_t www = class_of(&a, WWW, WIRE_RCODE_NOERROR);

	/* One /24 and one source name: one class. */
	assert_int_equal(class_of(&a2, WWW, WIRE_RCODE_NOERROR), www);
	/* Another network or another source name: another class. */
	assert_int_not_equal(class_of(&b, WWW, WIRE_RCODE_NOERROR), www);
	assert_int_not_equal(class_of(&a, API, WIRE_RCODE_NOERROR), www);
	/* Label lengths count: www.shop.example is not ww.wshop.example. */
	assert_int_not_equal(class_of(&a, "\2ww\5wshop\7example", WIRE_RCODE_NOERROR), www);

	/* NXDOMAIN (source: the zone) is apart from answers from the apex. */
	uint64_t nx = class_of(&a, SHOP, WIRE_RCODE_NXDOMAIN);
	assert_int_equal(class_of(&a2, SHOP, WIRE_RCODE_NXDOMAIN), nx);
	assert_int_not_equal(class_of(&a, SHOP, WIRE_RCODE_NOERROR), nx);
	assert_int_not_equal(class_of(&b, SHOP, WIRE_RCODE_NXDOMAIN), nx);
	/* Errors: the network alone, whatever the source, apart from NXDOMAIN;
	 * so is an answer without a source. */
	uint64_t refused = class_of(&a, NULL, WIRE_RCODE_REFUSED);
	assert_int_equal(class_of(&a, API, WIRE_RCODE_SERVFAIL), refused);
	assert_int_equal(class_of(&a2, WWW, WIRE_RCODE_FORMERR), refused);
	assert_int_equal(class_of(&a, NULL, WIRE_RCODE_NOERROR), refused);
	assert_int_not_equal(refused, nx);

	/* IPv6: a /56 is one network. */
	struct sockaddr_storage c = v6("2001:db8:0:ff::1"), c2 = v6("2001:db8:0:ff:ffff::9"),
	                        d = v6("2001:db8:0:1ff::1");
	uint64_t six = class_of(&c, WWW, WIRE_RCODE_NOERROR);
	assert_int_equal(class_of(&c2, WWW, WIRE_RCODE_NOERROR), six);
	assert_int_not_equal(class_of(&d, WWW, WIRE_RCODE_NOERROR), six);
}

static void test_prefix_lengths(void **state)
{
	(void)state;
	static const unsigned v4_prefixes[] = {8, 9, 17, 23, 25, 31, 32};
	static const unsigned v6_prefixes[] = {16, 17, 48, 55, 57, 63, 64, 127, 128};
	const uint8_t *www = (const uint8_t *)WWW;
	for (size_t k = 0; k < sizeof v4_prefixes / sizeof *v4_prefixes; k++) {
		struct ratelimit_settings s = settings;
		s.ipv4_prefix = (uint8_t)v4_prefixes[k];
		for (unsigned bit = 0; bit < 32; bit++) {
			struct sockaddr_storage a = v4("203.0.113.77"), b = a;
			((uint8_t *)&((struct sockaddr_in *)&b)->sin_addr)[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			bool same = ratelimit_class(&s, (const struct sockaddr *)&a, www, WIRE_RCODE_NOERROR) ==
			            ratelimit_class(&s, (const struct sockaddr *)&b, www, WIRE_RCODE_NOERROR);
			assert_int_equal(same, bit >= s.ipv4_prefix);
		}
	}
	for (size_t k = 0; k < sizeof v6_prefixes / sizeof *v6_prefixes; k++) {
		struct ratelimit_settings s = settings;
		s.ipv6_prefix = (uint8_t)v6_prefixes[k];
		for (unsigned bit = 0; bit < 128; bit++) {
			struct sockaddr_storage a = v6("2001:db8:5a5a:a5a5:1234:5678:9abc:def0"), b = a;
			((struct sockaddr_in6 *)&b)->sin6_addr.s6_addr[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			bool same = ratelimit_class(&s, (const struct sockaddr *)&a, www, WIRE_RCODE_NOERROR) ==
			            ratelimit_class(&s, (const struct sockaddr *)&b, www, WIRE_RCODE_NOERROR);
			assert_int_equal(same, bit >= s.ipv6_prefix);
		}
	}
	/* The same bytes from an IPv4 and an IPv6 network are two classes. */
	struct ratelimit_settings s = settings;
	s.ipv4_prefix = 32;
	s.ipv6_prefix = 32;
	struct sockaddr_storage four = v4("192.0.2.1"), six = v6("c000:201::");
	assert_int_not_equal(ratelimit_class(&s, (const struct sockaddr *)&four, www, WIRE_RCODE_NOERROR),
	                     ratelimit_class(&s, (const struct sockaddr *)&six, www, WIRE_RCODE_NOERROR));
}

/* Replies cut at every length up to the end of the question: truncation
 * never grows a reply nor keeps a question that is not whole. */
static void test_short_replies(void **state)
{
	(void)state;
	size_t question_end = 12 + sizeof WWW + 4;
	uint8_t buf[512];
	for (size_t len = 0; len <= question_end; len++) {
		size_t n = reply(buf, WWW, sizeof WWW, WIRE_TYPE_A);
		assert_true(n > question_end);
		size_t t = ratelimit_truncate(buf, len);
		assert_true(t <= len);
		assert_int_equal(t, len < 12 ? len : len < question_end ? 12 : question_end);
	}
	/* A compression pointer where the name starts is not a 192-byte label. */
	memset(buf, 0, sizeof buf);
	size_t n = reply(buf, "\xC0\x0C", 2, WIRE_TYPE_A);
	assert_true(n < 300);
	assert_int_equal(ratelimit_truncate(buf, 300), 12);
}

static void test_budget_and_slip(void **state)
{
	(void)state;
	struct ratelimit_table *t = ratelimit_table_new();
	assert_non_null(t);
	uint64_t one = 0x1234567890abcdefull, other = one + 1;

	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_check(t, &settings, one, 100), RATELIMIT_PASS);
	/* Over the budget: drop, slip, drop, slip... (slip 2). */
	assert_int_equal(ratelimit_check(t, &settings, one, 100), RATELIMIT_DROP);
	assert_int_equal(ratelimit_check(t, &settings, one, 100), RATELIMIT_SLIP);
	assert_int_equal(ratelimit_check(t, &settings, one, 100), RATELIMIT_DROP);
	assert_int_equal(ratelimit_check(t, &settings, one, 100), RATELIMIT_SLIP);
	/* The next second brings a new budget. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_check(t, &settings, one, 101), RATELIMIT_PASS);
	assert_int_not_equal(ratelimit_check(t, &settings, one, 101), RATELIMIT_PASS);
	/* Another class has a budget of its own. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_check(t, &settings, other, 101), RATELIMIT_PASS);
	assert_int_not_equal(ratelimit_check(t, &settings, other, 101), RATELIMIT_PASS);

	/* slip 0: everything over the budget is dropped; slip 1: all slip. */
	struct ratelimit_settings s0 = settings, s1 = settings;
	s0.slip = 0;
	s1.slip = 1;
	uint64_t third = 77;
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_check(t, &s0, third, 5), RATELIMIT_PASS);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ratelimit_check(t, &s0, third, 5), RATELIMIT_DROP);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ratelimit_check(t, &s1, third, 5), RATELIMIT_SLIP);

	/* slip 3 over more limited replies than 16 bits count: exactly every
	 * third slips (a count that wrapped at 65536 slipped twice in a row). */
	struct ratelimit_settings s3 = settings;
	s3.slip = 3;
	uint64_t fourth = 78;
	for (int i = 0; i < 5; i++)
		assert_int_equal(ratelimit_check(t, &s3, fourth, 6), RATELIMIT_PASS);
	for (long i = 1; i <= 200000; i++)
		assert_int_equal(ratelimit_check(t, &s3, fourth, 6), i % 3 == 0 ? RATELIMIT_SLIP : RATELIMIT_DROP);

	/* Off, or without a table: everything passes. */
	struct ratelimit_settings off = settings;
	off.responses = 0;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(ratelimit_check(t, &off, one, 101), RATELIMIT_PASS);
		assert_int_equal(ratelimit_check(NULL, &settings, one, 101), RATELIMIT_PASS);
	}
	ratelimit_table_free(t);
}

static void test_truncate(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t n = reply(buf, WWW, sizeof WWW, WIRE_TYPE_A);
	size_t question_end = 12 + sizeof WWW + 4;
	assert_true(n > question_end);

	size_t t = ratelimit_truncate(buf, n);
	assert_int_equal(t, question_end);
	assert_int_equal(buf[0], 0x12);            /* ID kept */
	assert_int_equal(buf[2], 0x84 | 0x02);     /* QR, AA kept; TC set */
	assert_int_equal(wire_get_u16(buf + 4), 1); /* the question */
	assert_int_equal(wire_get_u16(buf + 6), 0);
	assert_int_equal(wire_get_u16(buf + 8), 0);
	assert_int_equal(wire_get_u16(buf + 10), 0);
	assert_memory_equal(buf + 12, WWW, sizeof WWW);

	/* No question (or a broken one): the header alone. */
	n = reply(buf, WWW, sizeof WWW, WIRE_TYPE_A);
	wire_put_u16(buf + 4, 0);
	assert_int_equal(ratelimit_truncate(buf, n), 12);
	n = reply(buf, WWW, sizeof WWW, WIRE_TYPE_A);
	assert_int_equal(ratelimit_truncate(buf, 20), 12); /* the name runs past the end */
	assert_int_equal(wire_get_u16(buf + 4), 0);
	assert_int_equal(ratelimit_truncate(buf, 5), 5); /* shorter than a header: untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classes),
	    cmocka_unit_test(test_prefix_lengths),
	    cmocka_unit_test(test_short_replies),
	    cmocka_unit_test(test_budget_and_slip),
	    cmocka_unit_test(test_truncate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
