/*
 * Unit tests for src/log.c: one event is one line, whatever the message
 * carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Runs one log call with stderr sent to a file; returns what was written. */
static const char *captured(void (*emit)(void))
{
	static char out[4096];
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	emit();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, sizeof out - 1, 0);
	close(fd);
	unlink(path);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void emit_crlf(void)
{
	log_warn("host in check c: want a host name, got '%s'", "a\r\nX: forged\tline\x01");
}

static void test_control_bytes_stay_on_one_line(void **state)
{
	(void)state;
	const char *out = captured(emit_crlf);
	/* one line: a timestamp, the level, the text with '?' for each control byte */
	assert_non_null(strstr(out, "warning: host in check c: want a host name, got 'a??X: forged?line?'\n"));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
	assert_null(strchr(out, '\r'));
}

static void emit_long(void)
{
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_info("%s", big);
}

static void test_long_message_is_cut_to_one_line(void **state)
{
	(void)state;
	const char *out = captured(emit_long);
	size_t len = strlen(out);
	assert_true(len > 0 && len <= 1024);
	assert_int_equal(out[len - 1], '\n');
	assert_int_equal(strchr(out, '\n') - out + 1, (long)len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_control_bytes_stay_on_one_line),
	    cmocka_unit_test(test_long_message_is_cut_to_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
