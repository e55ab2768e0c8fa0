/*
 * metrics — Prometheus text exposition over a deliberately tiny HTTP/1.1.
 *
 * A scraper sends one GET and reads one reply; nothing more of HTTP is
 * needed, so nothing more is implemented: no keep-alive, no chunking, no
 * request bodies.  Each connection owns a fixed buffer of
 * METRICS_REQUEST_MAX bytes for the request head; once the blank line that
 * ends it has arrived, the request line is checked, the reply (status line,
 * three headers, the body) is built in one heap buffer, written with
 * uv_write, and the connection is shut down and closed.  A head that fills
 * the buffer without ending is refused (431), so a client can neither make
 * us buffer without bound nor hold a connection for ever (idle timer), and
 * METRICS_MAX_CONNECTIONS caps them all.
 *
 * The body is rendered fresh for every scrape from stats_read() (the
 * per-thread counters, merged), the health table and the current snapshot.
 * That work runs on the loop thread, which is also the only publisher of
 * snapshots, so the snapshot read needs no reader slot, as in control.c.
 * The query path is never involved: workers keep counting into their own
 * blocks while a scrape sums them.
 *
 * Output follows the text format 0.0.4: "# HELP" and "# TYPE" once per
 * family before its samples, label values escaped (backslash, quote,
 * newline), counters named *_total.  Label sets come from names operators
 * chose (datacenters, records, checks), so cardinality is that of the
 * config, never of the traffic.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "health.h"
#include "log.h"
#include "policy.h"
#include "snapshot.h"
#include "stats.h"
#include "textbuf.h"

#define METRICS_BACKLOG 16
#define METRICS_MAX_LISTENERS 16
#define METRICS_PROBES_MAX 64 /* per datacenter: one per (address, check), 64 addresses */

/* ---- rendering ---- */

size_t metrics_label_escape(char *out, size_t outlen, const char *s)
{
	size_t need = 0, written = 0;
	bool cut = false; /* an escape is never split: writing stops before it */
	for (const char *p = s; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		size_t n = esc ? 2 : 1;
		if (!cut && written + n < outlen) {
			memcpy(out + written, esc ? esc : p, n);
			written += n;
		} else {
			cut = true;
		}
		need += n;
	}
	if (outlen)
		out[written] = '\0';
	return need;
}

/* Appends a label value, quotes included. */
static void metrics_put_label(struct textbuf *b, const char *s)
{
	size_t need = metrics_label_escape(NULL, 0, s);
	if (!textbuf_reserve(b, need + 2))
		return;
	b->data[b->len++] = '"';
	metrics_label_escape(b->data + b->len, need + 1, s);
	b->len += need;
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

static void metrics_family(struct textbuf *b, const char *name, const char *type, const char *help)
{
	textbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} N */
static void metrics_sample1(struct textbuf *b, const char *name, const char *label, const char *value,
                            unsigned long long n)
{
	textbuf_printf(b, "%s{%s=", name, label);
	metrics_put_label(b, value);
	textbuf_printf(b, "} %llu\n", n);
}

static void metrics_counter(struct textbuf *b, const char *name, const char *help, uint64_t n)
{
	metrics_family(b, name, "counter", help);
	textbuf_printf(b, "%s %llu\n", name, (unsigned long long)n);
}

static void metrics_render_queries(struct textbuf *b, const struct stats_totals *t)
{
	metrics_family(b, "geosteer_queries_total", "counter", "DNS queries answered, by transport.");
	metrics_sample1(b, "geosteer_queries_total", "transport", "udp", t->queries[QUERY_UDP]);
	metrics_sample1(b, "geosteer_queries_total", "transport", "tcp", t->queries[QUERY_TCP]);

	metrics_family(b, "geosteer_queries_by_qtype_total", "counter",
	               "DNS queries answered, by query type.");
	for (size_t i = 0; i < STATS_QTYPE_COUNT; i++)
		metrics_sample1(b, "geosteer_queries_by_qtype_total", "qtype", stats_qtype_name(i),
		                t->qtype[i]);

	metrics_family(b, "geosteer_responses_total", "counter", "DNS responses sent, by response code.");
	for (size_t i = 0; i < STATS_RCODE_COUNT; i++)
		metrics_sample1(b, "geosteer_responses_total", "rcode", stats_rcode_name(i), t->rcode[i]);

	metrics_counter(b, "geosteer_truncated_total", "Responses with the TC bit set.", t->truncated);
	metrics_counter(b, "geosteer_ecs_queries_total", "Queries carrying an EDNS Client Subnet option.",
	                t->ecs);
	metrics_counter(b, "geosteer_dropped_total",
	                "Requests not answered (unparseable, oversized, socket buffer full).", t->dropped);
	metrics_family(b, "geosteer_rate_limited_total", "counter",
	               "UDP replies over server.rate_limit: not sent (drop) or sent truncated (slip).");
	metrics_sample1(b, "geosteer_rate_limited_total", "action", "drop", t->rate_limited);
	metrics_sample1(b, "geosteer_rate_limited_total", "action", "slip", t->rate_limit_slipped);
	metrics_counter(b, "geosteer_fail_open_total",
	                "Policy answers that were degraded (fallback or failing open; down_ttl).",
	                t->fail_open);
	metrics_counter(b, "geosteer_fence_answers_total",
	                "Policy answers to clients a residency fence constrained.", t->fenced);
}

static void metrics_render_steering(struct textbuf *b, const struct stats_totals *t)
{
	metrics_family(b, "geosteer_datacenter_answers_total", "counter",
	               "Answers that carried a datacenter's addresses or CNAME.");
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++) {
		struct health_status st;
		if (health_status_of(slot, &st))
			metrics_sample1(b, "geosteer_datacenter_answers_total", "datacenter", st.name,
			                t->datacenter[slot]);
	}

	metrics_family(b, "geosteer_policy_answers_total", "counter",
	               "Answers decided by a steering policy, by record (counted since the last reload).");
	const struct snapshot *snap = snapshot_current();
	size_t records = snap && snap->policies ? policy_set_record_count(snap->policies) : 0;
	for (size_t i = 0; i < records && i < STATS_MAX_RECORDS; i++)
		metrics_sample1(b, "geosteer_policy_answers_total", "record",
		                policy_record_name(policy_set_record_at(snap->policies, i)), t->record[i]);
	if (records > STATS_MAX_RECORDS)
		metrics_sample1(b, "geosteer_policy_answers_total", "record", "other",
		                t->record[STATS_MAX_RECORDS]);
}

/* One sample with the labels of a probed pair. */
static void metrics_probe_sample(struct textbuf *b, const char *name, const char *dc,
                                 const struct health_probe *p, unsigned long long n)
{
	textbuf_printf(b, "%s{datacenter=", name);
	metrics_put_label(b, dc);
	textbuf_printf(b, ",address=");
	metrics_put_label(b, p->address);
	textbuf_printf(b, ",check=");
	metrics_put_label(b, p->check);
	textbuf_printf(b, "} %llu\n", n);
}

static void metrics_render_health(struct textbuf *b)
{
	struct health_status st[HEALTH_MAX_SLOTS];
	bool used[HEALTH_MAX_SLOTS];
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++)
		used[i] = health_status_of(i, &st[i]);

	metrics_family(b, "geosteer_datacenter_up", "gauge",
	               "Effective datacenter state (probes and administrative overrides), 1 up.");
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++)
		if (used[i])
			metrics_sample1(b, "geosteer_datacenter_up", "datacenter", st[i].name, st[i].up);

	metrics_family(b, "geosteer_probe_rtt_ms", "gauge",
	               "Moving average of successful probe round trips, milliseconds.");
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++) {
		if (!used[i] || st[i].rtt_ms < 0)
			continue;
		textbuf_printf(b, "geosteer_probe_rtt_ms{datacenter=");
		metrics_put_label(b, st[i].name);
		textbuf_printf(b, "} %.3f\n", st[i].rtt_ms);
	}

	struct health_probe *probes = malloc(METRICS_PROBES_MAX * sizeof(*probes));
	size_t count[HEALTH_MAX_SLOTS] = {0};
	static const struct {
		const char *name, *help;
	} families[3] = {
	    {"geosteer_address_up", "State of a probed (address, check) pair after rise/fall, 1 up."},
	    {"geosteer_probe_success",
	     "Result of the last probe of a pair, 1 success (absent before the first)."},
	    {"geosteer_probe_last_rtt_ms", "Round trip of the last probe of a pair, milliseconds."},
	};
	for (int f = 0; f < 3; f++) {
		metrics_family(b, families[f].name, "gauge", families[f].help);
		for (int i = 0; probes && i < HEALTH_MAX_SLOTS; i++) {
			if (!used[i])
				continue;
			/* Read again per family: cheap, and a list that changed in
			 * between only makes families disagree for one scrape. */
			count[i] = health_probes_of(i, probes, METRICS_PROBES_MAX);
			for (size_t k = 0; k < count[i] && k < METRICS_PROBES_MAX; k++) {
				const struct health_probe *p = &probes[k];
				if (f == 0)
					metrics_probe_sample(b, families[f].name, st[i].name, p, p->up);
				else if (p->has_result)
					metrics_probe_sample(b, families[f].name, st[i].name, p,
					                     f == 1 ? p->last_ok : p->rtt_ms);
			}
		}
	}
	if (!probes)
		b->failed = true;
	free(probes);
}

char *metrics_render(size_t *len)
{
	struct stats_totals *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	stats_read(t);
	struct textbuf b = {0};
	metrics_render_queries(&b, t);
	metrics_render_steering(&b, t);
	metrics_render_health(&b);
	metrics_counter(&b, "geosteer_reloads_total", "Successful reloads (control, SIGHUP, watched files).",
	                t->reloads);
	metrics_counter(&b, "geosteer_reload_failures_total", "Reloads refused (old state kept).",
	                t->reload_failures);
	metrics_family(&b, "geosteer_uptime_seconds", "gauge", "Seconds since the daemon started serving.");
	textbuf_printf(&b, "geosteer_uptime_seconds %.3f\n", t->uptime_s);
	const struct snapshot *snap = snapshot_current();
	metrics_family(&b, "geosteer_snapshot_generation", "gauge", "Generation of the data being served.");
	textbuf_printf(&b, "geosteer_snapshot_generation %llu\n",
	            snap ? (unsigned long long)snap->generation : 0ULL);
	free(t);
	if (b.failed || !b.data) {
		free(b.data);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

/* ---- HTTP ---- */

struct metrics_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
	struct metrics_conn *prev, *next;
	int open_handles; /* freed when both handles have closed */
	bool closing, answered;
	char *reply;
	size_t in_len;
	char in[METRICS_REQUEST_MAX];
};

struct metrics_listener {
	uv_tcp_t tcp;
	char text[64];
};

static struct {
	bool started;
	uv_loop_t *loop;
	struct metrics_listener *listeners[METRICS_MAX_LISTENERS];
	size_t listener_count;
	struct metrics_conn *conns;
	unsigned conn_count;
} metrics_live;

static void metrics_conn_closed(uv_handle_t *h)
{
	struct metrics_conn *c = h->data;
	if (--c->open_handles == 0) {
		free(c->reply);
		free(c);
	}
}

static void metrics_conn_close(struct metrics_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		metrics_live.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	metrics_live.conn_count--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, metrics_conn_closed);
	uv_close((uv_handle_t *)&c->tcp, metrics_conn_closed);
}

static void metrics_shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)status;
	metrics_conn_close(req->data);
}

static void metrics_write_cb(uv_write_t *req, int status)
{
	struct metrics_conn *c = req->data;
	if (c->closing)
		return;
	c->shutdown_req.data = c;
	if (status < 0 || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, metrics_shutdown_cb) < 0)
		metrics_conn_close(c);
}

static const char *metrics_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

/* Sends the whole reply and stops reading; the connection closes after. */
static void metrics_respond(struct metrics_conn *c, int code, const char *body, size_t body_len, bool head)
{
	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	const char *type =
	    code == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8";
	char header[512];
	int hlen = snprintf(
	    header, sizeof(header),
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", code,
	    metrics_reason(code), type, body_len, code == 405 ? "Allow: GET, HEAD\r\n" : "");
	size_t send_body = head ? 0 : body_len;
	c->reply = malloc((size_t)hlen + send_body);
	if (!c->reply) {
		metrics_conn_close(c);
		return;
	}
	memcpy(c->reply, header, (size_t)hlen);
	if (send_body)
		memcpy(c->reply + hlen, body, send_body);
	uv_buf_t buf = uv_buf_init(c->reply, (unsigned)((size_t)hlen + send_body));
	c->write_req.data = c;
	if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, metrics_write_cb) < 0)
		metrics_conn_close(c);
}

static void metrics_respond_text(struct metrics_conn *c, int code, const char *text)
{
	metrics_respond(c, code, text, strlen(text), false);
}

static bool metrics_is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return false;
	return true;
}

/* Answers the request whose head is in[0 .. head_len). */
static void metrics_handle(struct metrics_conn *c, size_t head_len)
{
	size_t line_len = 0;
	while (line_len < head_len && c->in[line_len] != '\n')
		line_len++;
	if (line_len && c->in[line_len - 1] == '\r')
		line_len--;
	const char *line = c->in;
	/* METHOD SP TARGET SP HTTP/1.x, nothing else. */
	const char *sp1 = memchr(line, ' ', line_len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp1 || !sp2 || !metrics_is_token(line, (size_t)(sp1 - line)) || sp2 == sp1 + 1) {
		metrics_respond_text(c, 400, "bad request\n");
		return;
	}
	const char *version = sp2 + 1;
	size_t version_len = line_len - (size_t)(version - line);
	if (version_len != 8 ||
	    (memcmp(version, "HTTP/1.1", 8) != 0 && memcmp(version, "HTTP/1.0", 8) != 0)) {
		metrics_respond_text(c, 400, "bad request\n");
		return;
	}
	const char *target = sp1 + 1;
	size_t target_len = (size_t)(sp2 - target);
	for (size_t i = 0; i < target_len; i++) {
		if ((unsigned char)target[i] <= ' ' || target[i] == 0x7f) {
			metrics_respond_text(c, 400, "bad request\n");
			return;
		}
	}
	const char *query = memchr(target, '?', target_len);
	size_t path_len = query ? (size_t)(query - target) : target_len;
	size_t method_len = (size_t)(sp1 - line);
	bool get = method_len == 3 && memcmp(line, "GET", 3) == 0;
	bool head = method_len == 4 && memcmp(line, "HEAD", 4) == 0;
	if (path_len != 8 || memcmp(target, "/metrics", 8) != 0) {
		metrics_respond_text(c, 404, "not found: try /metrics\n");
		return;
	}
	if (!get && !head) {
		metrics_respond_text(c, 405, "method not allowed\n");
		return;
	}
	size_t len = 0;
	char *body = metrics_render(&len);
	if (!body) {
		metrics_respond_text(c, 500, "out of memory\n");
		return;
	}
	metrics_respond(c, 200, body, len, head);
	free(body);
}

/* The end of the request head (just past its blank line), or 0. */
static size_t metrics_head_end(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void metrics_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct metrics_conn *c = h->data;
	/* Never full: a full buffer is answered (431) before reading on. */
	*buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void metrics_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct metrics_conn *c = stream->data;
	if (c->closing || c->answered)
		return;
	if (nread < 0) {
		metrics_conn_close(c); /* EOF or error before a whole request: nobody to answer */
		return;
	}
	size_t before = c->in_len;
	c->in_len += (size_t)nread;
	/* The blank line may straddle two reads: look back a little. */
	size_t from = before > 3 ? before - 3 : 0;
	size_t end = metrics_head_end(c->in + from, c->in_len - from);
	if (end) {
		metrics_handle(c, from + end);
		return;
	}
	if (c->in_len == sizeof(c->in))
		metrics_respond_text(c, 431, "request too large\n");
}

static void metrics_timeout_cb(uv_timer_t *t)
{
	metrics_conn_close(t->data);
}

static void metrics_close_free(uv_handle_t *h)
{
	free(h);
}

static void metrics_on_connection(uv_stream_t *listener, int status)
{
	if (status < 0)
		return;
	if (metrics_live.conn_count >= METRICS_MAX_CONNECTIONS) {
		uv_tcp_t *t = malloc(sizeof(*t));
		if (!t || uv_tcp_init(metrics_live.loop, t) < 0) {
			free(t);
			return;
		}
		uv_accept(listener, (uv_stream_t *)t);
		uv_close((uv_handle_t *)t, metrics_close_free);
		return;
	}
	struct metrics_conn *c = malloc(sizeof(*c));
	if (!c)
		return;
	memset(c, 0, offsetof(struct metrics_conn, in));
	uv_tcp_init(metrics_live.loop, &c->tcp);
	uv_timer_init(metrics_live.loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = metrics_live.conns;
	if (metrics_live.conns)
		metrics_live.conns->prev = c;
	metrics_live.conns = c;
	metrics_live.conn_count++;
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, metrics_alloc_cb, metrics_read_cb) < 0) {
		metrics_conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, metrics_timeout_cb, METRICS_TIMEOUT_MS, 0);
}

int metrics_start(uv_loop_t *loop, const struct config_listen *addrs, size_t count, char *err, size_t errlen)
{
	if (metrics_live.started) {
		snprintf(err, errlen, "metrics: already started");
		return -1;
	}
	if (count > METRICS_MAX_LISTENERS) {
		snprintf(err, errlen, "metrics: at most %d addresses", METRICS_MAX_LISTENERS);
		return -1;
	}
	metrics_live.loop = loop;
	metrics_live.started = true;
	for (size_t i = 0; i < count; i++) {
		struct metrics_listener *l = calloc(1, sizeof(*l));
		if (!l) {
			snprintf(err, errlen, "%s: out of memory", addrs[i].text);
			metrics_stop();
			return -1;
		}
		snprintf(l->text, sizeof(l->text), "%s", addrs[i].text);
		int r = uv_tcp_init_ex(loop, &l->tcp, addrs[i].addr.ss_family);
		if (r < 0) {
			free(l);
			snprintf(err, errlen, "%s: %s", addrs[i].text, uv_strerror(r));
			metrics_stop();
			return -1;
		}
		metrics_live.listeners[metrics_live.listener_count++] = l;
		unsigned flags = addrs[i].addr.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
		r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&addrs[i].addr, flags);
		if (r == 0)
			r = uv_listen((uv_stream_t *)&l->tcp, METRICS_BACKLOG, metrics_on_connection);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", addrs[i].text, uv_strerror(r));
			metrics_stop();
			return -1;
		}
		log_info("metrics: http://%s/metrics", addrs[i].text);
	}
	return 0;
}

void metrics_stop(void)
{
	if (!metrics_live.started)
		return;
	for (size_t i = 0; i < metrics_live.listener_count; i++)
		uv_close((uv_handle_t *)&metrics_live.listeners[i]->tcp, metrics_close_free);
	metrics_live.listener_count = 0;
	while (metrics_live.conns)
		metrics_conn_close(metrics_live.conns);
	metrics_live.started = false;
}
