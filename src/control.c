/*
 * control — the operator's line protocol over a Unix socket, on libuv.
 *
 * The listening socket is created with plain socket()/bind()/listen() so
 * every failure (path too long, folder missing, live daemon already there)
 * is reported synchronously with a precise message, then handed to a
 * uv_pipe_t.  The state of one started socket lives in a heap object that
 * is freed only when its last libuv handle has closed, so stop and start
 * can follow each other without waiting for the loop.
 *
 * Each connection owns a fixed input buffer of CONTROL_LINE_MAX + 1 bytes
 * (a maximal line and its newline): complete lines are answered in order,
 * the rest is kept for the next read, and a buffer that fills without a
 * newline is the "line too long" error.  Replies are built in a growable
 * heap buffer (the control path may allocate; the query path is elsewhere)
 * and handed to uv_write, which owns them until its callback.  A client
 * that sends commands but does not read its replies cannot make us buffer
 * without bound: past CONTROL_WRITE_BACKLOG queued bytes the connection
 * stops reading and answering until the queue drains, like the TCP DNS
 * server does.  An idle connection is closed by a sweep timer, so a stuck
 * client cannot hold a slot for ever.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dname.h"
#include "health.h"
#include "log.h"
#include "policy.h"
#include "snapshot.h"
#include "stats.h"
#include "textbuf.h"
#include "zone.h"

#define CONTROL_BACKLOG 16
#define CONTROL_WRITE_BACKLOG (256 * 1024)
#define CONTROL_SWEEP_MS 10000
#define CONTROL_MAX_ARGS 8

struct control_server;

struct control_conn {
	uv_pipe_t pipe;
	struct control_server *server;
	struct control_conn *prev, *next;
	uint64_t last_active_ms;
	unsigned writes_pending;
	bool closing;
	bool close_after_write; /* answer what is queued, then close */
	bool paused;            /* too much unread output: not reading, not answering */
	size_t in_len;
	char in[CONTROL_LINE_MAX + 1];
};

struct control_write {
	uv_write_t req;
	struct control_conn *conn;
	char *data;
};

struct control_server {
	uv_loop_t *loop;
	uv_pipe_t listener;
	uv_timer_t sweep;
	int open_handles; /* freed when both handles have closed */
	struct control_hooks hooks;
	char *path;
	dev_t dev; /* of the socket file we made, so stop removes only ours */
	ino_t ino;
	struct timespec started;
	struct control_conn *conns;
	unsigned conn_count;
};

static struct control_server *control_live;

/* ---- JSON output ---- */

struct control_json_sink {
	char *out;
	size_t cap;  /* usable bytes, the NUL excluded */
	size_t need; /* bytes the whole result needs */
};

static void control_json_put(struct control_json_sink *s, const char *p, size_t n)
{
	if (s->need < s->cap) {
		size_t room = s->cap - s->need;
		memcpy(s->out + s->need, p, n < room ? n : room);
	}
	s->need += n;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t control_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

size_t control_json_string(char *out, size_t outlen, const char *str, size_t len)
{
	struct control_json_sink s = {.out = out, .cap = outlen ? outlen - 1 : 0};
	const unsigned char *p = (const unsigned char *)str;
	control_json_put(&s, "\"", 1);
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			control_json_put(&s, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			const char *named = c == '\n'   ? "\\n"
			                    : c == '\t' ? "\\t"
			                    : c == '\r' ? "\\r"
			                    : c == '\b' ? "\\b"
			                    : c == '\f' ? "\\f"
			                                : NULL;
			if (named) {
				control_json_put(&s, named, 2);
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				control_json_put(&s, esc, 6);
			}
			i++;
		} else if (c < 0x80) {
			size_t run = i + 1; /* copy plain ASCII in one go */
			while (run < len && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
			       p[run] != '\\')
				run++;
			control_json_put(&s, str + i, run - i);
			i = run;
		} else {
			size_t n = control_utf8_len(p + i, len - i);
			if (n) {
				control_json_put(&s, str + i, n);
				i += n;
			} else {
				control_json_put(&s, "\\ufffd", 6);
				i++;
			}
		}
	}
	control_json_put(&s, "\"", 1);
	if (outlen)
		out[s.need < s.cap ? s.need : s.cap] = '\0';
	return s.need;
}

/* A reply under construction is a textbuf (textbuf.h): on an allocation
 * failure the whole reply becomes an out-of-memory error. */

static void control_reply_str(struct textbuf *r, const char *s)
{
	size_t len = strlen(s);
	size_t need = control_json_string(NULL, 0, s, len);
	if (!textbuf_reserve(r, need))
		return;
	control_json_string(r->data + r->len, need + 1, s, len);
	r->len += need;
}

/* Starts r over as {"ok":false,"error":"<formatted>"}. */
static void control_reply_error(struct textbuf *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void control_reply_error(struct textbuf *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	textbuf_clear(r);
	textbuf_append(r, "{\"ok\":false,\"error\":");
	control_reply_str(r, msg);
	textbuf_append(r, "}");
}

/* ---- commands ---- */

static const char *control_admin_name(enum health_admin admin)
{
	switch (admin) {
	case HEALTH_ADMIN_DRAIN:
		return "drain";
	case HEALTH_ADMIN_FORCE_UP:
		return "force-up";
	case HEALTH_ADMIN_NONE:
		break;
	}
	return "none";
}

static void control_time_text(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%s", "");
}

static long long control_uptime(const struct timespec *started)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long uptime = (long long)(now.tv_sec - started->tv_sec);
	return uptime < 0 ? 0 : uptime;
}

static void control_cmd_status(const struct control_hooks *hooks, const struct timespec *started,
                               struct textbuf *r)
{
	long long uptime = control_uptime(started);
	/* Safe without a reader slot: this is the loop thread, the only one
	 * that publishes, and the pointer is not kept past this function. */
	const struct snapshot *snap = snapshot_current();

	textbuf_append(r, "{\"ok\":true,\"version\":");
	control_reply_str(r, hooks->version ? hooks->version : "unknown");
	textbuf_printf(r, ",\"uptime_s\":%lld,\"config_sha256\":", uptime);
	if (hooks->config_sha256 && hooks->config_sha256[0])
		control_reply_str(r, hooks->config_sha256);
	else
		textbuf_append(r, "null");
	textbuf_append(r, ",\"config\":");
	control_reply_str(r, hooks->config_path ? hooks->config_path : "");
	textbuf_printf(r, ",\"generation\":%llu,\"zones\":[",
	                  snap ? (unsigned long long)snap->generation : 0ULL);
	size_t count = snap && snap->zones ? zone_table_count(snap->zones) : 0;
	for (size_t i = 0; i < count; i++) {
		const struct zone *z = zone_table_at(snap->zones, i);
		char origin[DNAME_TEXT_MAXLEN];
		if (dname_to_text(z->origin, origin, sizeof(origin)) < 0)
			snprintf(origin, sizeof(origin), "?");
		textbuf_append(r, i ? ",{\"origin\":" : "{\"origin\":");
		control_reply_str(r, origin);
		textbuf_printf(r, ",\"serial\":%lu}", (unsigned long)z->serial);
	}
	textbuf_append(r, "]}");
}

/* "stats": the merged counters, named (see control.h). */
static void control_cmd_stats(const struct timespec *started, struct textbuf *r)
{
	struct stats_totals *t = malloc(sizeof(*t));
	if (!t) {
		control_reply_error(r, "out of memory");
		return;
	}
	stats_read(t);
	textbuf_printf(r, "{\"ok\":true,\"uptime_s\":%lld,\"queries\":{\"udp\":%llu,\"tcp\":%llu}",
	                  control_uptime(started), (unsigned long long)t->queries[QUERY_UDP],
	                  (unsigned long long)t->queries[QUERY_TCP]);
	const char *sep = "";
	textbuf_append(r, ",\"qtype\":{");
	for (size_t i = 0; i < STATS_QTYPE_COUNT; i++) {
		if (!t->qtype[i])
			continue;
		textbuf_printf(r, "%s\"%s\":%llu", sep, stats_qtype_name(i), (unsigned long long)t->qtype[i]);
		sep = ",";
	}
	sep = "";
	textbuf_append(r, "},\"rcode\":{");
	for (size_t i = 0; i < STATS_RCODE_COUNT; i++) {
		if (!t->rcode[i])
			continue;
		textbuf_printf(r, "%s\"%s\":%llu", sep, stats_rcode_name(i), (unsigned long long)t->rcode[i]);
		sep = ",";
	}
	textbuf_printf(r,
	                  "},\"truncated\":%llu,\"ecs\":%llu,\"dropped\":%llu,\"rate_limited\":%llu,"
	                  "\"rate_limit_slipped\":%llu,\"fail_open\":%llu,\"fenced\":%llu,\"policies\":{",
	                  (unsigned long long)t->truncated, (unsigned long long)t->ecs,
	                  (unsigned long long)t->dropped, (unsigned long long)t->rate_limited,
	                  (unsigned long long)t->rate_limit_slipped, (unsigned long long)t->fail_open,
	                  (unsigned long long)t->fenced);
	/* Loop thread: the snapshot cannot be freed under us (see status). */
	const struct snapshot *snap = snapshot_current();
	size_t records = snap && snap->policies ? policy_set_record_count(snap->policies) : 0;
	for (size_t i = 0; i < records && i < STATS_MAX_RECORDS; i++) {
		textbuf_append(r, i ? "," : "");
		control_reply_str(r, policy_record_name(policy_set_record_at(snap->policies, i)));
		textbuf_printf(r, ":%llu", (unsigned long long)t->record[i]);
	}
	if (records > STATS_MAX_RECORDS)
		textbuf_printf(r, ",\"other\":%llu", (unsigned long long)t->record[STATS_MAX_RECORDS]);
	sep = "";
	textbuf_append(r, "},\"datacenters\":{");
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++) {
		struct health_status st;
		if (!health_status_of(slot, &st))
			continue;
		textbuf_append(r, sep);
		control_reply_str(r, st.name);
		textbuf_printf(r, ":%llu", (unsigned long long)t->datacenter[slot]);
		sep = ",";
	}
	textbuf_printf(r, "},\"reloads\":%llu,\"reload_failures\":%llu}", (unsigned long long)t->reloads,
	                  (unsigned long long)t->reload_failures);
	free(t);
}

/* ,"probes":[{"address":..,"check":..,"up":B,"since":..,"last":"ok"|"failed"|null,
 * "reason":..,"rtt_ms":N,"ok":N,"failed":N}] — one per probed (address,
 * check), empty for a datacenter without checks. */
static void control_reply_probes(struct textbuf *r, int slot)
{
	struct health_probe fixed[8];
	struct health_probe *probes = fixed;
	size_t count = health_probes_of(slot, fixed, 8);
	if (count > 8) {
		probes = malloc(count * sizeof(*probes));
		/* The list may have changed in between: take what is there now. */
		size_t again = probes ? health_probes_of(slot, probes, count) : 0;
		count = again < count ? again : count;
		if (!probes) {
			probes = fixed;
			count = 8;
		}
	}
	textbuf_append(r, ",\"probes\":[");
	for (size_t i = 0; i < count; i++) {
		const struct health_probe *p = &probes[i];
		char since[32];
		control_time_text(p->since, since, sizeof(since));
		textbuf_append(r, i ? ",{\"address\":" : "{\"address\":");
		control_reply_str(r, p->address);
		textbuf_append(r, ",\"check\":");
		control_reply_str(r, p->check);
		const char *last = !p->has_result ? "null" : p->last_ok ? "\"ok\"" : "\"failed\"";
		textbuf_printf(r, ",\"up\":%s,\"since\":\"%s\",\"last\":%s,\"reason\":",
		                  p->up ? "true" : "false", since, last);
		control_reply_str(r, p->reason);
		textbuf_printf(r, ",\"rtt_ms\":%u,\"ok\":%u,\"failed\":%u}", p->rtt_ms, p->ok_count,
		                  p->fail_count);
	}
	textbuf_append(r, "]");
	if (probes != fixed)
		free(probes);
}

static void control_cmd_health(struct textbuf *r)
{
	textbuf_append(r, "{\"ok\":true,\"datacenters\":[");
	bool first = true;
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++) {
		struct health_status st;
		if (!health_status_of(slot, &st))
			continue;
		char since[32];
		control_time_text(st.since, since, sizeof(since));
		textbuf_append(r, first ? "{\"name\":" : ",{\"name\":");
		first = false;
		control_reply_str(r, st.name);
		textbuf_printf(r, ",\"up\":%s,\"probed_up\":%s,\"admin\":\"%s\",\"since\":\"%s\"",
		                  st.up ? "true" : "false", st.probed_up ? "true" : "false",
		                  control_admin_name(st.admin), since);
		if (st.rtt_ms >= 0)
			textbuf_printf(r, ",\"rtt_ms\":%.1f", st.rtt_ms);
		else
			textbuf_append(r, ",\"rtt_ms\":null");
		control_reply_probes(r, slot);
		textbuf_append(r, ",\"reason\":");
		control_reply_str(r, st.reason);
		textbuf_append(r, "}");
	}
	textbuf_append(r, "]}");
}

static void control_cmd_admin(struct textbuf *r, const char *dc, enum health_admin admin)
{
	int slot = health_slot_find(dc);
	if (slot < 0) {
		control_reply_error(r, "unknown datacenter '%s'", dc);
		return;
	}
	health_set_admin(slot, admin);
	struct health_status st;
	if (!health_status_of(slot, &st)) {
		control_reply_error(r, "unknown datacenter '%s'", dc);
		return;
	}
	textbuf_append(r, "{\"ok\":true,\"datacenter\":");
	control_reply_str(r, st.name);
	textbuf_printf(r, ",\"admin\":\"%s\",\"up\":%s}", control_admin_name(st.admin),
	                  st.up ? "true" : "false");
}

static void control_cmd_reload(const struct control_hooks *hooks, struct textbuf *r)
{
	if (!hooks->reload) {
		control_reply_error(r, "reload not available");
		return;
	}
	uint64_t generation = 0;
	char err[1024] = "";
	if (hooks->reload(hooks->ctx, &generation, err, sizeof(err)) < 0) {
		control_reply_error(r, "%s", err[0] ? err : "reload failed");
		return;
	}
	textbuf_printf(r, "{\"ok\":true,\"generation\":%llu}", (unsigned long long)generation);
}

static void control_cmd_explain(const struct control_hooks *hooks, struct textbuf *r, int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		control_reply_error(r, "usage: explain IP NAME [TYPE]");
		return;
	}
	if (!hooks->explain) {
		control_reply_error(r, "explain not available");
		return;
	}
	char *text = malloc(CONTROL_EXPLAIN_MAX);
	if (!text) {
		control_reply_error(r, "out of memory");
		return;
	}
	text[0] = '\0';
	int rc = hooks->explain(hooks->ctx, argv[1], argv[2], argc == 4 ? argv[3] : NULL, text,
	                          CONTROL_EXPLAIN_MAX);
	text[CONTROL_EXPLAIN_MAX - 1] = '\0'; /* whatever the hook did */
	if (rc < 0) {
		control_reply_error(r, "%s", text[0] ? text : "explain failed");
	} else {
		textbuf_append(r, "{\"ok\":true,\"explain\":");
		control_reply_str(r, text);
		textbuf_append(r, "}");
	}
	free(text);
}

/* Splits line in place on spaces and tabs; returns the argument count, or
 * CONTROL_MAX_ARGS + 1 when there are more. */
static int control_split(char *line, char **argv)
{
	int argc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (argc == CONTROL_MAX_ARGS)
			return CONTROL_MAX_ARGS + 1;
		argv[argc++] = tok;
	}
	return argc;
}

/* Answers one command line (NUL-terminated, no newline) into r. */
static void control_dispatch(const struct control_hooks *hooks, const struct timespec *started, char *line,
                             struct textbuf *r)
{
	char *argv[CONTROL_MAX_ARGS] = {0};
	int argc = control_split(line, argv);
	if (argc == 0) {
		control_reply_error(r, "empty command"); /* callers skip blank lines first */
		return;
	}
	if (argc > CONTROL_MAX_ARGS) {
		control_reply_error(r, "too many arguments");
		return;
	}
	const char *cmd = argv[0];
	if (strcmp(cmd, "status") == 0 && argc == 1)
		control_cmd_status(hooks, started, r);
	else if (strcmp(cmd, "health") == 0 && argc == 1)
		control_cmd_health(r);
	else if (strcmp(cmd, "stats") == 0 && argc == 1)
		control_cmd_stats(started, r);
	else if (strcmp(cmd, "drain") == 0 && argc == 2)
		control_cmd_admin(r, argv[1], HEALTH_ADMIN_DRAIN);
	else if (strcmp(cmd, "undrain") == 0 && argc == 2)
		control_cmd_admin(r, argv[1], HEALTH_ADMIN_NONE);
	else if (strcmp(cmd, "force-up") == 0 && argc == 2)
		control_cmd_admin(r, argv[1], HEALTH_ADMIN_FORCE_UP);
	else if (strcmp(cmd, "reload") == 0 && argc == 1)
		control_cmd_reload(hooks, r);
	else if (strcmp(cmd, "explain") == 0)
		control_cmd_explain(hooks, r, argc, argv);
	else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "health") == 0 || strcmp(cmd, "reload") == 0 ||
	         strcmp(cmd, "stats") == 0)
		control_reply_error(r, "usage: %s", cmd);
	else if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0 || strcmp(cmd, "force-up") == 0)
		control_reply_error(r, "usage: %s DC", cmd);
	else
		control_reply_error(r, "unknown command '%s'", cmd);
}

/* One line as a connection received it (len bytes, NUL-terminated at len,
 * the newline gone; split in place): a NUL byte inside is an error, a "\r"
 * before the newline is dropped, and a blank line gets no answer (false). */
static bool control_answer_line(const struct control_hooks *hooks, const struct timespec *started, char *line,
                                size_t len, struct textbuf *r)
{
	if (memchr(line, '\0', len)) {
		control_reply_error(r, "NUL byte in command");
		return true;
	}
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strspn(line, " \t") == len)
		return false; /* empty line: nothing asked, nothing answered */
	control_dispatch(hooks, started, line, r);
	return true;
}

char *control_answer(const struct control_hooks *hooks, const char *line, size_t len)
{
	static const struct control_hooks none = {0};
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, line, len);
	copy[len] = '\0';
	struct timespec started;
	if (control_live)
		started = control_live->started;
	else
		clock_gettime(CLOCK_MONOTONIC, &started);
	struct textbuf r = {0};
	bool answered = control_answer_line(hooks ? hooks : &none, &started, copy, len, &r);
	free(copy);
	if (!answered || r.failed || !r.data) {
		textbuf_free(&r);
		return NULL;
	}
	return r.data;
}

/* ---- connections ---- */

static void control_conn_process(struct control_conn *c);
static void control_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void control_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void control_conn_free(uv_handle_t *h)
{
	free(h->data);
}

static void control_conn_close(struct control_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	struct control_server *s = c->server;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->conn_count--;
	uv_close((uv_handle_t *)&c->pipe, control_conn_free);
}

static void control_write_cb(uv_write_t *req, int status)
{
	struct control_write *w = (struct control_write *)req;
	struct control_conn *c = w->conn; /* still valid: write callbacks run before close callbacks */
	free(w->data);
	free(w);
	c->writes_pending--;
	if (c->closing)
		return;
	if (status < 0) {
		control_conn_close(c);
		return;
	}
	if (c->paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0) {
		c->paused = false;
		control_conn_process(c); /* lines that waited in the buffer */
		if (!c->paused && !c->closing && !c->close_after_write &&
		    uv_read_start((uv_stream_t *)&c->pipe, control_alloc_cb, control_read_cb) < 0)
			control_conn_close(c);
	}
	if (!c->closing && c->close_after_write && c->writes_pending == 0)
		control_conn_close(c);
}

/* Queues r (plus a newline) on c; takes ownership of r's buffer. */
static void control_conn_send(struct control_conn *c, struct textbuf *r)
{
	static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}";
	textbuf_append(r, "\n");
	struct control_write *w = malloc(sizeof(*w));
	if (r->failed || !w) {
		free(r->data);
		free(w);
		/* Best effort: a short constant reply, or nothing at all. */
		uv_buf_t b = uv_buf_init((char *)oom, sizeof(oom) - 1);
		uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
		control_conn_close(c);
		return;
	}
	w->conn = c;
	w->data = r->data;
	uv_buf_t b = uv_buf_init(r->data, (unsigned)r->len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, control_write_cb) < 0) {
		free(w->data);
		free(w);
		control_conn_close(c);
		return;
	}
	c->writes_pending++;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > CONTROL_WRITE_BACKLOG) {
		c->paused = true;
		uv_read_stop((uv_stream_t *)&c->pipe);
	}
}

/* Answers every complete line in the input buffer, unless paused. */
static void control_conn_process(struct control_conn *c)
{
	size_t start = 0;
	while (!c->paused && !c->closing) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		*nl = '\0';
		char *line = c->in + start;
		start = (size_t)(nl - c->in) + 1;
		struct textbuf r = {0};
		if (control_answer_line(&c->server->hooks, &c->server->started, line, (size_t)(nl - line), &r))
			control_conn_send(c, &r);
	}
	if (c->closing)
		return;
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
}

static void control_conn_finish(struct control_conn *c)
{
	c->close_after_write = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (c->writes_pending == 0)
		control_conn_close(c);
}

static void control_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct control_conn *c = h->data;
	*buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void control_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct control_conn *c = stream->data;
	if (c->closing)
		return;
	if (nread == UV_EOF) {
		/* A last command without its newline still counts (printf status | nc -U). */
		if (c->in_len && !c->paused && c->in_len < sizeof(c->in)) {
			c->in[c->in_len++] = '\n';
			control_conn_process(c);
		}
		if (!c->closing)
			control_conn_finish(c);
		return;
	}
	if (nread < 0) {
		control_conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	c->last_active_ms = uv_now(c->server->loop);
	c->in_len += (size_t)nread;
	control_conn_process(c);
	if (!c->closing && !c->paused && c->in_len == sizeof(c->in)) {
		struct textbuf r = {0};
		control_reply_error(&r, "line too long (at most %d bytes)", CONTROL_LINE_MAX);
		control_conn_send(c, &r);
		if (!c->closing)
			control_conn_finish(c);
	}
}

static void control_free_handle(uv_handle_t *h)
{
	free(h);
}

/* One connection too many: tell it why, best effort, and hang up. */
static void control_reject(struct control_server *s, uv_stream_t *listener)
{
	static const char msg[] = "{\"ok\":false,\"error\":\"too many control connections\"}\n";
	uv_pipe_t *p = malloc(sizeof(*p));
	if (!p || uv_pipe_init(s->loop, p, 0) < 0) {
		free(p);
		return;
	}
	if (uv_accept(listener, (uv_stream_t *)p) == 0) {
		uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
		uv_try_write((uv_stream_t *)p, &b, 1);
	}
	uv_close((uv_handle_t *)p, control_free_handle);
}

static void control_on_connection(uv_stream_t *listener, int status)
{
	struct control_server *s = listener->data;
	if (status < 0) {
		log_warn("control %s: accept failed: %s", s->path, uv_strerror(status));
		return;
	}
	if (s->conn_count >= CONTROL_MAX_CONNECTIONS) {
		control_reject(s, listener);
		return;
	}
	struct control_conn *c = malloc(sizeof(*c));
	if (!c)
		return;
	memset(c, 0, offsetof(struct control_conn, in));
	c->server = s;
	if (uv_pipe_init(s->loop, &c->pipe, 0) < 0) {
		free(c);
		return;
	}
	c->pipe.data = c;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->conn_count++;
	c->last_active_ms = uv_now(s->loop);
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, control_alloc_cb, control_read_cb) < 0)
		control_conn_close(c);
}

static void control_sweep_cb(uv_timer_t *t)
{
	struct control_server *s = t->data;
	uint64_t now = uv_now(s->loop);
	struct control_conn *next;
	for (struct control_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (now - c->last_active_ms >= (uint64_t)CONTROL_IDLE_SECONDS * 1000)
			control_conn_close(c);
	}
}

/* ---- start / stop ---- */

static void control_server_handle_closed(uv_handle_t *h)
{
	struct control_server *s = h->data;
	if (--s->open_handles == 0) {
		free(s->path);
		free(s);
	}
}

/* mkdir -p of path's parent folder. */
static int control_make_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; p <= slash; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0770) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create folder %s: %s", path, dir, strerror(errno));
			return -1;
		}
		*p = saved;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a folder", path, dir);
		return -1;
	}
	return 0;
}

/* Removes a socket file left by a dead process; refuses to touch anything
 * else, or a socket someone still listens on. */
static int control_clear_stale(const char *path, const struct sockaddr_un *addr, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	int e = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
		         "%s: another process is serving this socket (geosteerd already running?)", path);
		return -1;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s", path, strerror(errno));
		return -1;
	}
	log_info("control: removed stale socket %s", path);
	return 0;
}

static int control_listen_fd(const char *path, struct stat *made, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (!path || !*path) {
		snprintf(err, errlen, "control socket: empty path");
		return -1;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a Unix socket (at most %zu bytes)", path,
		         sizeof(addr.sun_path) - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (control_make_parent(path, err, errlen) < 0 || control_clear_stale(path, &addr, err, errlen) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* The file is made 0660 by bind itself, under a umask, rather than by
	 * a chmod(path) after it: geosteerd may be root here and the folder
	 * writable by server.user's account, which could put a symlink in the
	 * socket's place in between (chmod follows it).  Only the main thread
	 * runs at this point, so the umask change affects nothing else. */
	mode_t mask = umask(0117);
	int bound = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(mask);
	if (bound < 0) {
		snprintf(err, errlen, "%s: bind: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (lstat(path, made) < 0 || listen(fd, CONTROL_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (!S_ISSOCK(made->st_mode)) { /* replaced since the bind: not ours to remove */
		snprintf(err, errlen, "%s: replaced by something else while it was being set up", path);
		close(fd);
		return -1;
	}
	return fd;
}

int control_start(uv_loop_t *loop, const char *path, const struct control_hooks *hooks, char *err,
                  size_t errlen)
{
	if (control_live) {
		snprintf(err, errlen, "%s: a control socket is already running (%s)", path ? path : "",
		         control_live->path);
		return -1;
	}
	struct stat made;
	int fd = control_listen_fd(path, &made, err, errlen);
	if (fd < 0)
		return -1;
	struct control_server *s = calloc(1, sizeof(*s));
	char *copy = strdup(path);
	if (!s || !copy) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	s->loop = loop;
	s->path = copy;
	s->dev = made.st_dev;
	s->ino = made.st_ino;
	if (hooks)
		s->hooks = *hooks;
	clock_gettime(CLOCK_MONOTONIC, &s->started);

	int r = uv_pipe_init(loop, &s->listener, 0);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, uv_strerror(r));
		goto fail;
	}
	s->listener.data = s;
	s->open_handles = 1;
	uv_timer_init(loop, &s->sweep);
	s->sweep.data = s;
	s->open_handles = 2;
	r = uv_pipe_open(&s->listener, fd);
	if (r == 0) {
		fd = -1; /* the handle owns it now */
		r = uv_listen((uv_stream_t *)&s->listener, CONTROL_BACKLOG, control_on_connection);
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, uv_strerror(r));
		control_live = s;
		control_stop();
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uv_timer_start(&s->sweep, control_sweep_cb, CONTROL_SWEEP_MS, CONTROL_SWEEP_MS);
	control_live = s;
	log_info("control socket on %s", path);
	return 0;

fail:
	free(copy);
	free(s);
	close(fd);
	unlink(path);
	return -1;
}

int control_chown(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct control_server *s = control_live;
	if (!s) {
		snprintf(err, errlen, "control socket: not started");
		return -1;
	}
	/* O_PATH | O_NOFOLLOW opens a symlink itself, not what it names, and
	 * fchownat on that descriptor changes exactly the inode compared here:
	 * nothing put in the socket's place (a symlink to /etc/shadow, another
	 * file) is handed over, whoever may write to its folder. */
	int fd = open(s->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_dev != s->dev || st.st_ino != s->ino) {
		snprintf(err, errlen, "%s: no longer the socket geosteerd made; left as it is", s->path);
		close(fd);
		return -1;
	}
	int rc = fchownat(fd, "", uid, gid, AT_EMPTY_PATH);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
	close(fd);
	return rc < 0 ? -1 : 0;
}

void control_stop(void)
{
	struct control_server *s = control_live;
	if (!s)
		return;
	control_live = NULL;
	while (s->conns)
		control_conn_close(s->conns);
	struct stat st;
	/* Only the file we made, not a successor's.  After server.user the
	 * account may not write to the folder: say so, rather than leave a
	 * socket behind without a word (the next start replaces it). */
	int gone = lstat(s->path, &st);
	if (gone == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		gone = unlink(s->path);
	if (gone < 0 && errno != ENOENT)
		log_warn("control: cannot remove %s: %s", s->path, strerror(errno));
	uv_timer_stop(&s->sweep);
	uv_close((uv_handle_t *)&s->sweep, control_server_handle_closed);
	uv_close((uv_handle_t *)&s->listener, control_server_handle_closed);
}
