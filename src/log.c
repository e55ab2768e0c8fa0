/*
 * log — timestamped lines on stderr.
 *
 * Each message is formatted completely into a stack buffer (timestamp,
 * level, text, newline) and handed to stdio in one fputs() call.  stdio
 * locks the stream per call, so lines from different threads never
 * interleave, and nothing here allocates.  An over-long message is cut at
 * the buffer size rather than split over two lines.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define LOG_LINE_MAX 1024

static atomic_int log_threshold = LOG_INFO;

static const char *const log_level_names[] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warning",
    [LOG_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

void log_flatten(char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text < 0x20 || *text == 0x7f)
			*text = '?';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level < atomic_load(&log_threshold))
		return;
	if ((unsigned)level > LOG_ERROR)
		level = LOG_ERROR;

	char line[LOG_LINE_MAX];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	size_t len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	int n = snprintf(line + len, sizeof(line) - len, "%s: ", log_level_names[level]);
	if (n > 0)
		len += (size_t)n;

	va_list ap;
	va_start(ap, fmt);
	size_t text = len;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t)n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2; /* truncated: keep room for the newline */
	/* One event, one line: a CR, LF or other control byte that came from
	 * input (a name, a host in a config) is shown as '?', so it cannot
	 * split the line or forge another. */
	line[len] = '\0';
	log_flatten(line + text);
	line[len++] = '\n';
	line[len] = '\0';
	fputs(line, stderr);
}
