/*
 * Tests for prefix: longest match, overrides, regions without a value and
 * their scope, and a brute-force reference over random nested prefixes
 * that checks both the value and that the scope is exactly the widest
 * prefix over which the answer is constant (not one bit longer or shorter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "prefix.h"

typedef unsigned __int128 u128;

static void addr4(const char *text, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET, text, out), 1);
}

static void addr6(const char *text, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET6, text, out), 1);
}

static void add4(struct prefix_builder *b, const char *text, unsigned plen, uint32_t value)
{
	uint8_t a[4];
	addr4(text, a);
	assert_int_equal(prefix_builder_add(b, a, plen, value), 0);
}

static void add6(struct prefix_builder *b, const char *text, unsigned plen, uint32_t value)
{
	uint8_t a[16];
	addr6(text, a);
	assert_int_equal(prefix_builder_add(b, a, plen, value), 0);
}

/* Looks text up and checks value and scope. */
static void expect4(const struct prefix_tree *t, const char *text, uint32_t value, unsigned scope)
{
	uint8_t a[4], s = 255;
	addr4(text, a);
	uint32_t v = prefix_tree_lookup(t, a, &s);
	if (v != value || s != scope)
		fail_msg("%s: got value %u scope %u, want %u scope %u", text, v, s, value, scope);
}

static void expect6(const struct prefix_tree *t, const char *text, uint32_t value, unsigned scope)
{
	uint8_t a[16], s = 255;
	addr6(text, a);
	uint32_t v = prefix_tree_lookup(t, a, &s);
	if (v != value || s != scope)
		fail_msg("%s: got value %u scope %u, want %u scope %u", text, v, s, value, scope);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_null(prefix_builder_new(0));
	assert_null(prefix_builder_new(64));
	struct prefix_builder *b = prefix_builder_new(32);
	assert_non_null(b);
	uint8_t a[16] = {0};
	assert_int_equal(prefix_builder_add(b, a, 33, 1), -1);
	assert_int_equal(prefix_builder_add(b, a, 8, PREFIX_NO_VALUE), -1);
	prefix_builder_free(b);
	b = prefix_builder_new(128);
	assert_int_equal(prefix_builder_add(b, a, 129, 1), -1);
	assert_int_equal(prefix_builder_add(b, a, 128, 1), 0);
	prefix_builder_free(b);
}

static void test_empty(void **state)
{
	(void)state;
	struct prefix_tree *t = prefix_builder_finish(prefix_builder_new(32));
	assert_non_null(t);
	expect4(t, "10.1.2.3", PREFIX_NO_VALUE, 0);
	assert_int_equal(prefix_tree_count(t), 0);
	prefix_tree_free(t);
	t = prefix_builder_finish(prefix_builder_new(128));
	expect6(t, "2001:db8::1", PREFIX_NO_VALUE, 0);
	prefix_tree_free(t);
}

static void test_default_route(void **state)
{
	(void)state;
	struct prefix_builder *b = prefix_builder_new(32);
	add4(b, "0.0.0.0", 0, 9);
	struct prefix_tree *t = prefix_builder_finish(b);
	expect4(t, "0.0.0.0", 9, 0);
	expect4(t, "255.255.255.255", 9, 0);
	prefix_tree_free(t);

	b = prefix_builder_new(128);
	add6(b, "::", 0, 4);
	add6(b, "2001:db8::", 32, 5);
	t = prefix_builder_finish(b);
	expect6(t, "2001:db8:ffff::1", 5, 32);
	expect6(t, "2001:db9::", 4, 32); /* last bit of the /32 differs */
	expect6(t, "8000::", 4, 1);
	expect6(t, "::1", 4, 3); /* 2001: 0010 0000..., leaves at bit 2 */
	prefix_tree_free(t);
}

static void test_longest_match_and_scope(void **state)
{
	(void)state;
	struct prefix_builder *b = prefix_builder_new(32);
	/* Added most specific first: order must not matter. */
	add4(b, "10.1.2.0", 24, 3);
	add4(b, "10.0.0.0", 8, 1);
	add4(b, "10.1.0.0", 16, 2);
	struct prefix_tree *t = prefix_builder_finish(b);
	assert_int_equal(prefix_tree_count(t), 3);
	expect4(t, "10.1.2.3", 3, 24);
	expect4(t, "10.1.2.255", 3, 24);
	expect4(t, "10.1.3.3", 2, 24);   /* 10.1.2 vs 10.1.3: bit 23 */
	expect4(t, "10.1.128.1", 2, 17); /* leaves 10.1.2 at bit 16 */
	expect4(t, "10.2.0.0", 1, 15);   /* 10.1 vs 10.2: bit 14 */
	expect4(t, "10.255.0.0", 1, 9);  /* bit 8 */
	expect4(t, "11.0.0.0", PREFIX_NO_VALUE, 8);
	expect4(t, "0.0.0.0", PREFIX_NO_VALUE, 5);
	expect4(t, "128.0.0.1", PREFIX_NO_VALUE, 1);
	assert_true(prefix_tree_bytes(t) > 0);
	prefix_tree_free(t);
}

static void test_same_prefix_last_wins(void **state)
{
	(void)state;
	struct prefix_builder *b = prefix_builder_new(32);
	add4(b, "192.0.2.0", 24, 1);
	add4(b, "192.0.2.77", 24, 2); /* bits past plen are ignored: same prefix */
	add4(b, "198.51.100.0", 24, 5);
	add4(b, "192.0.2.0", 24, 3);
	struct prefix_tree *t = prefix_builder_finish(b);
	assert_int_equal(prefix_tree_count(t), 2);
	expect4(t, "192.0.2.1", 3, 24);
	expect4(t, "198.51.100.1", 5, 24);
	prefix_tree_free(t);
}

static void test_equal_values_merge(void **state)
{
	(void)state;
	struct prefix_builder *b = prefix_builder_new(32);
	add4(b, "10.0.0.0", 8, 1);
	add4(b, "10.1.0.0", 16, 1); /* redundant: same answer as its parent */
	add4(b, "20.0.0.0", 9, 7);
	add4(b, "20.128.0.0", 9, 7); /* with its sibling, all of 20/8 */
	struct prefix_tree *t = prefix_builder_finish(b);
	expect4(t, "10.1.2.3", 1, 8);
	expect4(t, "20.1.1.1", 7, 8);
	expect4(t, "20.200.1.1", 7, 8);
	expect4(t, "21.0.0.0", PREFIX_NO_VALUE, 8);
	prefix_tree_free(t);

	/* Siblings that together cover everything: the whole space is one. */
	b = prefix_builder_new(32);
	add4(b, "0.0.0.0", 1, 4);
	add4(b, "128.0.0.0", 1, 4);
	t = prefix_builder_finish(b);
	expect4(t, "1.2.3.4", 4, 0);
	prefix_tree_free(t);
}

static void test_host_routes(void **state)
{
	(void)state;
	struct prefix_builder *b = prefix_builder_new(32);
	add4(b, "192.0.2.1", 32, 7);
	add4(b, "192.0.2.0", 24, 8);
	struct prefix_tree *t = prefix_builder_finish(b);
	expect4(t, "192.0.2.1", 7, 32);
	expect4(t, "192.0.2.0", 8, 32);
	expect4(t, "192.0.2.3", 8, 31);
	expect4(t, "192.0.2.129", 8, 25);
	prefix_tree_free(t);

	b = prefix_builder_new(128);
	add6(b, "2001:db8:1:2:3:4:5:6", 128, 1);
	add6(b, "2001:db8:1:2:3:4:5:7", 128, 2);
	t = prefix_builder_finish(b);
	expect6(t, "2001:db8:1:2:3:4:5:6", 1, 128);
	expect6(t, "2001:db8:1:2:3:4:5:7", 2, 128);
	/* Deep mismatches inside long compressed runs (more than 32 bits). */
	expect6(t, "2001:db8:1:2:3:4:5:4", PREFIX_NO_VALUE, 127);
	expect6(t, "2001:db8:1:2:3:4:4:6", PREFIX_NO_VALUE, 112);
	expect6(t, "2001:db8:1:2:3:5::", PREFIX_NO_VALUE, 96);
	expect6(t, "2001:db8:1:3::", PREFIX_NO_VALUE, 64);
	expect6(t, "2001:db8:1::", PREFIX_NO_VALUE, 63);
	expect6(t, "2001:db9::", PREFIX_NO_VALUE, 32);
	expect6(t, "::", PREFIX_NO_VALUE, 3);
	prefix_tree_free(t);
}

/* --- brute-force reference --------------------------------------------- */

struct ref_prefix {
	u128 addr;
	unsigned plen;
	uint32_t value;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static u128 rng128(void)
{
	return ((u128)rng() << 64) | rng();
}

static u128 mask(unsigned plen)
{
	return plen == 0 ? 0 : ~(u128)0 << (128 - plen);
}

static void to_bytes(u128 a, unsigned bits, uint8_t *out)
{
	for (unsigned i = 0; i < bits / 8; i++)
		out[i] = (uint8_t)(a >> (120 - 8 * i));
}

static int covers(u128 addr, unsigned plen, u128 a)
{
	return ((addr ^ a) & mask(plen)) == 0;
}

static uint32_t ref_lookup(const struct ref_prefix *p, size_t n, u128 a, unsigned maxlen)
{
	uint32_t v = PREFIX_NO_VALUE;
	int best = -1;
	for (size_t i = 0; i < n; i++)
		if (p[i].plen <= maxlen && (int)p[i].plen > best && covers(p[i].addr, p[i].plen, a)) {
			best = (int)p[i].plen;
			v = p[i].value;
		}
	return v;
}

/*
 * Is the longest-match answer the same for every address in a/s?  The
 * answer is piecewise constant and can only change where some prefix
 * inside the region starts or ends, so comparing it at the region's start
 * and at each such boundary decides (a prefix covering all of the region
 * adds no boundary inside it).
 */
static int ref_constant(const struct ref_prefix *p, size_t n, u128 a, unsigned s)
{
	u128 lo = a & mask(s), hi = lo | ~mask(s);
	uint32_t first = ref_lookup(p, n, lo, 128);
	for (size_t i = 0; i < n; i++) {
		if (p[i].plen <= s || !covers(lo, s, p[i].addr))
			continue;
		u128 end = p[i].addr | ~mask(p[i].plen);
		if (ref_lookup(p, n, p[i].addr, 128) != first)
			return 0;
		if (end != hi && ref_lookup(p, n, end + 1, 128) != first)
			return 0;
	}
	return 1;
}

static void check_random(unsigned bits, uint64_t seed, unsigned values)
{
	enum { POOL = 6, PREFIXES = 150, ADDRS = 4000 };
	rng_state = seed;
	u128 pool[POOL];
	for (unsigned i = 0; i < POOL; i++)
		pool[i] = rng128() & mask(bits);

	struct ref_prefix p[PREFIXES];
	size_t n = 0;
	struct prefix_builder *b = prefix_builder_new(bits);
	for (unsigned i = 0; i < PREFIXES; i++) {
		unsigned plen = (unsigned)(rng() % (bits + 1));
		u128 a = pool[rng() % POOL];
		if (plen > 0 && rng() % 2) /* a neighbour: flip a bit inside */
			a ^= (u128)1 << (127 - rng() % plen);
		a &= mask(plen);
		uint32_t value = (uint32_t)(rng() % values);
		uint8_t bytes[16];
		/* Also hand in garbage past plen: it must be ignored. */
		to_bytes(a | (rng128() & ~mask(plen) & mask(bits)), bits, bytes);
		assert_int_equal(prefix_builder_add(b, bytes, plen, value), 0);
		size_t j;
		for (j = 0; j < n; j++)
			if (p[j].plen == plen && p[j].addr == a)
				break;
		p[j] = (struct ref_prefix){a, plen, value};
		if (j == n)
			n++;
	}
	struct prefix_tree *t = prefix_builder_finish(b);
	assert_non_null(t);
	assert_int_equal(prefix_tree_count(t), n);

	for (unsigned i = 0; i < ADDRS; i++) {
		u128 a;
		if (i % 4 == 0) {
			a = rng128();
		} else {
			a = pool[rng() % POOL];
			for (unsigned f = rng() % 4; f > 0; f--)
				a ^= (u128)1 << (127 - rng() % bits);
		}
		a &= mask(bits);
		uint8_t bytes[16], scope = 255;
		to_bytes(a, bits, bytes);
		uint32_t got = prefix_tree_lookup(t, bytes, &scope);
		uint32_t want = ref_lookup(p, n, a, bits);
		if (got != want)
			fail_msg("seed %llu addr #%u: value %u, want %u", (unsigned long long)seed, i, got,
			         want);
		if (scope > bits || !ref_constant(p, n, a, scope))
			fail_msg("seed %llu addr #%u: scope %u too short", (unsigned long long)seed, i,
			         scope);
		if (scope > 0 && ref_constant(p, n, a, scope - 1u))
			fail_msg("seed %llu addr #%u: scope %u too long", (unsigned long long)seed, i, scope);
	}
	prefix_tree_free(t);
}

static void test_random_v4(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++)
		check_random(32, seed * 7919, seed % 2 ? 3 : 1000);
}

static void test_random_v6(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++)
		check_random(128, seed * 104729, seed % 2 ? 3 : 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_default_route),
	    cmocka_unit_test(test_longest_match_and_scope),
	    cmocka_unit_test(test_same_prefix_last_wins),
	    cmocka_unit_test(test_equal_values_merge),
	    cmocka_unit_test(test_host_routes),
	    cmocka_unit_test(test_random_v4),
	    cmocka_unit_test(test_random_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
