/*
 * log — one line per event on stderr: "2026-11-26T20:05:41Z info: text".
 *
 * Used by load-time and control code.  The query path never logs (a flood of
 * bad packets must not become a flood of log lines).
 */
#ifndef GEOSTEER_LOG_H
#define GEOSTEER_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Messages below this level are dropped; default LOG_INFO. */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Shows each control byte of text (CR, LF, tab...) as '?', as log lines
 * do: for one-line messages built elsewhere, such as load errors, that
 * quote what a file said (a multi-line YAML string, a name with a tab). */
void log_flatten(char *text);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
