/*
 * test_textbuf — the control socket's and /metrics' reply buffer: text
 * and NUL terminator after every kind of append, growth past many
 * doublings, clear, and poisoning (a request the size arithmetic cannot
 * hold fails the buffer and leaves its text as it was).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "textbuf.h"

static void test_append_and_printf(void **state)
{
	(void)state;
	struct textbuf b = {0};
	textbuf_append(&b, "");
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	textbuf_append(&b, "{\"ok\":");
	textbuf_printf(&b, "%s,\"n\":%d}", "true", 42);
	assert_string_equal(b.data, "{\"ok\":true,\"n\":42}");
	assert_int_equal(b.len, strlen(b.data));
	assert_false(b.failed);
	textbuf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/* 10,000 appends of 7 bytes (70 KB, many doublings from 256): the text is
 * exactly the concatenation, and len and cap stay consistent. */
static void test_growth(void **state)
{
	(void)state;
	struct textbuf b = {0};
	for (int i = 0; i < 10000; i++)
		textbuf_printf(&b, "%06d,", i);
	assert_false(b.failed);
	assert_int_equal(b.len, 70000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "000000,000001,", 14);
	assert_memory_equal(b.data + 69993, "009999,", 7);
	textbuf_free(&b);
}

/* Reserve, then write in place: what control_reply_str and the metrics
 * label writer do. */
static void test_reserve_in_place(void **state)
{
	(void)state;
	struct textbuf b = {0};
	textbuf_append(&b, "ab");
	assert_true(textbuf_reserve(&b, 1000));
	assert_true(b.cap >= b.len + 1000 + 1);
	memset(b.data + b.len, 'x', 1000);
	b.len += 1000;
	b.data[b.len] = '\0';
	textbuf_append(&b, "!");
	assert_int_equal(b.len, 1003);
	assert_int_equal(b.data[1002], '!');
	textbuf_free(&b);
}

static void test_clear(void **state)
{
	(void)state;
	struct textbuf b = {0};
	textbuf_clear(&b); /* on an empty buffer: nothing to do */
	assert_null(b.data);
	textbuf_append(&b, "partial reply");
	size_t cap = b.cap;
	textbuf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(b.cap, cap);
	textbuf_append(&b, "error");
	assert_string_equal(b.data, "error");
	textbuf_free(&b);
}

/* A size the arithmetic cannot hold (or memory cannot back) poisons the
 * buffer: no overflow, later appends do nothing, the text stays. */
static void test_poisoned(void **state)
{
	(void)state;
	struct textbuf b = {0};
	textbuf_append(&b, "kept");
	assert_false(textbuf_reserve(&b, SIZE_MAX - 2));
	assert_true(b.failed);
	textbuf_append(&b, " lost");
	textbuf_printf(&b, "%d", 7);
	assert_false(textbuf_reserve(&b, 1));
	assert_string_equal(b.data, "kept");
	assert_int_equal(b.len, 4);
	textbuf_clear(&b);
	assert_true(b.failed); /* clearing does not un-poison */
	textbuf_free(&b);
	assert_false(b.failed);

#if !defined(__SANITIZE_ADDRESS__) /* ASan reports such a request instead of failing it */
	/* Too large for memory but not for the arithmetic: realloc fails. */
	struct textbuf big = {0};
	assert_false(textbuf_reserve(&big, SIZE_MAX / 8));
	assert_true(big.failed);
	assert_null(big.data);
	textbuf_free(&big);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_and_printf),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_reserve_in_place),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_poisoned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
