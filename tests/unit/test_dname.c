/*
 * Unit tests for dname: wire-form names, their comparisons and their text
 * form.  Names are written as C string literals of wire bytes so each test
 * shows the exact bytes it is about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dname.h"

#define N(lit) ((const uint8_t *)(lit))

static const uint8_t root[] = {0};
#define WWW_SHOP "\3www\4shop\7example"
#define SHOP "\4shop\7example"
#define EXAMPLE "\7example"

static void test_len_and_labels(void **state)
{
	(void)state;
	assert_int_equal(dname_len(root), 1);
	assert_int_equal(dname_label_count(root), 0);
	assert_int_equal(dname_len(N(WWW_SHOP)), 18);
	assert_int_equal(dname_label_count(N(WWW_SHOP)), 3);
	assert_int_equal(dname_len(N(EXAMPLE)), 9);
	assert_int_equal(dname_label_count(N(EXAMPLE)), 1);
}

static void test_lower(void **state)
{
	(void)state;
	uint8_t name[] = "\3WwW\4SHOP\7Example";
	dname_lower(name);
	assert_memory_equal(name, WWW_SHOP, sizeof name);
	/* Bytes outside A-Z stay as they are. */
	uint8_t odd[] = "\3\xC4Z@";
	dname_lower(odd);
	assert_memory_equal(odd, "\3\xC4z@", sizeof odd);
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(dname_equal(N(WWW_SHOP), N("\3WWW\4Shop\7EXAMPLE")));
	assert_true(dname_equal(root, root));
	assert_false(dname_equal(N(WWW_SHOP), N(SHOP)));
	assert_false(dname_equal(N("\3www\4shop\7exampld"), N(WWW_SHOP)));
	/* Same bytes overall, different label boundaries. */
	assert_false(dname_equal(N("\2ab\1c"), N("\1a\2bc")));
	assert_false(dname_equal(root, N(EXAMPLE)));
}

static void test_at_or_below(void **state)
{
	(void)state;
	assert_true(dname_is_at_or_below(N(WWW_SHOP), N(SHOP)));
	assert_true(dname_is_at_or_below(N(SHOP), N(SHOP)));
	assert_true(dname_is_at_or_below(N(WWW_SHOP), N("\4SHOP\7Example")));
	assert_true(dname_is_at_or_below(N(WWW_SHOP), root));
	assert_false(dname_is_at_or_below(N(SHOP), N(WWW_SHOP)));
	/* A label boundary matters: xshop.example is not under shop.example. */
	assert_false(dname_is_at_or_below(N("\5xshop\7example"), N(SHOP)));
	assert_false(dname_is_at_or_below(N("\3www\5other\7example"), N(SHOP)));
	assert_false(dname_is_at_or_below(root, N(EXAMPLE)));
}

static void test_parent(void **state)
{
	(void)state;
	const uint8_t *p = dname_parent(N(WWW_SHOP));
	assert_non_null(p);
	assert_true(dname_equal(p, N(SHOP)));
	p = dname_parent(p);
	assert_true(dname_equal(p, N(EXAMPLE)));
	p = dname_parent(p);
	assert_int_equal(p[0], 0);
	assert_null(dname_parent(p));
}

/* RFC 6672 2.2: the owner suffix is replaced; too long a result is refused. */
static void test_substitute(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	size_t n = dname_substitute(N("\1x\1y\3old" SHOP), N("\3old" SHOP), N("\3new\3net"), out);
	assert_int_equal(n, 4 + 9);
	assert_memory_equal(out, "\1x\1y\3new\3net", n);
	/* to the root */
	n = dname_substitute(N("\1a" SHOP), N(SHOP), N(""), out);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\1a", 3);
	/* not strictly below the owner: nothing */
	assert_int_equal(dname_substitute(N(SHOP), N(SHOP), N(EXAMPLE), out), 0);
	/* 255 bytes fit, 256 do not */
	uint8_t name[DNAME_MAXLEN], target[DNAME_MAXLEN];
	memset(name, 0, sizeof name);
	for (int i = 0; i < 3; i++) {
		name[i * 64] = 63;
		memset(name + i * 64 + 1, 'a', 63);
	}
	memcpy(name + 192, SHOP, sizeof(SHOP)); /* 192 + 14 = 206 bytes */
	memset(target, 0, sizeof target);
	target[0] = 48;
	memset(target + 1, 'b', 48);
	memcpy(target + 49, SHOP, sizeof(SHOP)); /* 49 + 14 = 63 bytes: 192 + 63 = 255 */
	assert_int_equal(dname_substitute(name, N(SHOP), target, out), 255);
	assert_int_equal(dname_len(out), 255);
	target[0] = 49;
	memset(target + 1, 'b', 49);
	memcpy(target + 50, SHOP, sizeof(SHOP)); /* one byte more: 256 */
	assert_int_equal(dname_substitute(name, N(SHOP), target, out), 0);
}

static void test_wildcard(void **state)
{
	(void)state;
	assert_true(dname_is_wildcard(N("\1*\4shop\7example")));
	assert_false(dname_is_wildcard(N("\2*a\4shop\7example")));
	assert_false(dname_is_wildcard(N("\1a\1*\7example")));
	assert_false(dname_is_wildcard(root));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void test_hash(void **state)
{
	(void)state;
	assert_int_equal(dname_hash(N(WWW_SHOP)), dname_hash(N("\3WWW\4sHoP\7exAMPLE")));
	assert_int_not_equal(dname_hash(N(WWW_SHOP)), dname_hash(N(SHOP)));
	assert_int_not_equal(dname_hash(root), dname_hash(N(SHOP)));

	/* Case folding is ASCII only, at every byte position of the 8-byte
	 * steps: each byte value in a 20-byte label, against its lower-case
	 * form (equal hash) and, for non-letters, against value ^ 0x20 (the
	 * case bit: must not be folded, so the hashes differ). */
	for (unsigned pos = 1; pos <= 20; pos++) {
		for (unsigned b = 1; b < 256; b++) {
			uint8_t a[32], lower[32], flipped[32];
			a[0] = 20;
			memset(a + 1, 'q', 20);
			a[21] = 0;
			a[pos] = (uint8_t)b;
			memcpy(lower, a, sizeof a);
			memcpy(flipped, a, sizeof a);
			if (b >= 'A' && b <= 'Z')
				lower[pos] = (uint8_t)(b + 32);
			flipped[pos] = (uint8_t)(b ^ 0x20);
			assert_int_equal(dname_hash(a), dname_hash(lower));
			bool letter = (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
			if (!letter)
				assert_int_not_equal(dname_hash(a), dname_hash(flipped));
		}
	}

	/* Spread: 20,000 names host0..host19999.shop.example, few collisions
	 * of the full 32 bits and an even split over 1,024 buckets. */
	static uint32_t hashes[20000];
	unsigned buckets[1024] = {0};
	for (unsigned i = 0; i < 20000; i++) {
		uint8_t name[64];
		char label[16];
		int n = snprintf(label, sizeof label, "host%u", i);
		name[0] = (uint8_t)n;
		memcpy(name + 1, label, (size_t)n);
		memcpy(name + 1 + n, SHOP, sizeof(SHOP));
		hashes[i] = dname_hash(name);
		buckets[hashes[i] & 1023]++;
	}
	unsigned max_bucket = 0;
	for (unsigned i = 0; i < 1024; i++)
		max_bucket = buckets[i] > max_bucket ? buckets[i] : max_bucket;
	assert_true(max_bucket < 45); /* mean 19.5 */
	qsort(hashes, 20000, sizeof hashes[0], cmp_u32);
	unsigned same = 0;
	for (unsigned i = 1; i < 20000; i++)
		same += hashes[i] == hashes[i - 1];
	assert_true(same <= 2);
}

static void test_to_text(void **state)
{
	(void)state;
	char buf[DNAME_TEXT_MAXLEN];
	assert_int_equal(dname_to_text(N(WWW_SHOP), buf, sizeof buf), 17);
	assert_string_equal(buf, "www.shop.example.");
	assert_int_equal(dname_to_text(root, buf, sizeof buf), 1);
	assert_string_equal(buf, ".");
	/* A dot and a backslash inside a label, a space, a non-ASCII byte. */
	assert_true(dname_to_text(N("\4a.b\\\3c d\1\xff\0"), buf, sizeof buf) > 0);
	assert_string_equal(buf, "a\\.b\\\\.c\\032d.\\255.");
	assert_true(dname_to_text(N("\3@$;\0"), buf, sizeof buf) > 0);
	assert_string_equal(buf, "\\@\\$\\;.");
}

static void test_to_text_small_buffer(void **state)
{
	(void)state;
	char buf[32];
	/* "www.shop.example." needs 17 characters plus the NUL. */
	assert_int_equal(dname_to_text(N(WWW_SHOP), buf, 18), 17);
	assert_int_equal(dname_to_text(N(WWW_SHOP), buf, 17), -1);
	assert_int_equal(dname_to_text(root, buf, 1), -1);
	assert_int_equal(dname_to_text(N("\1\xff\0"), buf, 5), -1); /* "\255." needs 6 */
	assert_int_equal(dname_to_text(N("\1\xff\0"), buf, 6), 5);
}

static void test_from_text(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(dname_from_text("www.shop.example", out), 18);
	assert_memory_equal(out, WWW_SHOP, 18);
	assert_int_equal(dname_from_text("WWW.Shop.Example.", out), 18);
	assert_memory_equal(out, WWW_SHOP, 18);
	assert_int_equal(dname_from_text(".", out), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(dname_from_text("*.shop.example", out), 16);
	assert_true(dname_is_wildcard(out));
}

static void test_from_text_escapes(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(dname_from_text("a\\.b.c\\032d.\\255", out), 11);
	assert_memory_equal(out, "\3a.b\3c d\1\xff\0", 11);
	/* \X is the byte X itself, lower-cased like any letter. */
	assert_int_equal(dname_from_text("\\A\\\\", out), 4);
	assert_memory_equal(out, "\2a\\\0", 4);
	/* And back: to_text of what from_text read gives the same text. */
	char buf[DNAME_TEXT_MAXLEN];
	assert_int_equal(dname_from_text("x\\(y\\).\\000", out), 8);
	assert_true(dname_to_text(out, buf, sizeof buf) > 0);
	assert_string_equal(buf, "x\\(y\\).\\000.");
}

static void test_from_text_invalid(void **state)
{
	(void)state;
	uint8_t out[DNAME_MAXLEN];
	char text[400];

	assert_int_equal(dname_from_text("", out), -1);
	assert_int_equal(dname_from_text("a..b", out), -1);
	assert_int_equal(dname_from_text(".a", out), -1);
	assert_int_equal(dname_from_text("a.b..", out), -1);
	assert_int_equal(dname_from_text("a\\25", out), -1);  /* short \DDD */
	assert_int_equal(dname_from_text("a\\256", out), -1); /* above 255 */
	assert_int_equal(dname_from_text("a\\", out), -1);    /* dangling backslash */

	/* A 63-byte label is fine, 64 is not. */
	memset(text, 'a', 63);
	text[63] = '\0';
	assert_int_equal(dname_from_text(text, out), 65);
	memset(text, 'a', 64);
	text[64] = '\0';
	assert_int_equal(dname_from_text(text, out), -1);

	/* 127 one-letter labels make 254 bytes + root = 255: the maximum. */
	size_t n = 0;
	for (int i = 0; i < 127; i++) {
		text[n++] = 'a';
		text[n++] = '.';
	}
	text[n] = '\0';
	assert_int_equal(dname_from_text(text, out), 255);
	assert_int_equal(dname_label_count(out), 127);
	/* One more byte makes it 256. */
	text[n++] = 'b';
	text[n] = '\0';
	assert_int_equal(dname_from_text(text, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_len_and_labels),
	    cmocka_unit_test(test_lower),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_at_or_below),
	    cmocka_unit_test(test_parent),
	    cmocka_unit_test(test_substitute),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_to_text),
	    cmocka_unit_test(test_to_text_small_buffer),
	    cmocka_unit_test(test_from_text),
	    cmocka_unit_test(test_from_text_escapes),
	    cmocka_unit_test(test_from_text_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
