/*
 * metrics — the Prometheus endpoint: a small HTTP/1.1 server on the
 * daemon's libuv loop (server.metrics) that answers GET /metrics with the
 * text exposition format 0.0.4.
 *
 * Families (every one with HELP and TYPE):
 *   geosteer_queries_total{transport}              counter  udp | tcp
 *   geosteer_queries_by_qtype_total{qtype}         counter  A, AAAA, ..., other
 *   geosteer_responses_total{rcode}                counter  NOERROR, ..., other
 *   geosteer_truncated_total                       counter  replies with TC
 *   geosteer_ecs_queries_total                     counter  queries with Client Subnet
 *   geosteer_dropped_total                         counter  requests not answered
 *   geosteer_fail_open_total                       counter  degraded policy answers
 *   geosteer_fence_answers_total                   counter  answers a residency fence limited
 *   geosteer_datacenter_answers_total{datacenter}  counter  answers carrying its records
 *   geosteer_policy_answers_total{record}          counter  per steered name (since the last reload)
 *   geosteer_datacenter_up{datacenter}             gauge    effective state, 1 up
 *   geosteer_address_up{datacenter,address,check}  gauge    per probed pair
 *   geosteer_probe_success{datacenter,address,check} gauge  last result, 1 ok (after the first)
 *   geosteer_probe_last_rtt_ms{datacenter,address,check} gauge of the last probe
 *   geosteer_probe_rtt_ms{datacenter}              gauge    moving average (when measured)
 *   geosteer_reloads_total, geosteer_reload_failures_total  counter
 *   geosteer_uptime_seconds, geosteer_snapshot_generation   gauge
 *
 * HTTP: one request per connection, answered and then closed (Connection:
 * close), which is how Prometheus scrapes anyway.  GET or HEAD of /metrics
 * (a query string is ignored) is 200; another path 404; another method
 * 405; a request line that is not "METHOD TARGET HTTP/1.x" 400; a request
 * head past METRICS_REQUEST_MAX bytes 431.  At most
 * METRICS_MAX_CONNECTIONS at once (more are closed at accept), and one
 * that has not sent its request within METRICS_TIMEOUT_MS is closed.
 * Everything runs on the loop thread and only reads counters and tables:
 * the query path never waits for a scrape.
 */
#ifndef GEOSTEER_METRICS_H
#define GEOSTEER_METRICS_H

#include <stddef.h>
#include <uv.h>

#define METRICS_REQUEST_MAX 8192
#define METRICS_MAX_CONNECTIONS 16
#define METRICS_TIMEOUT_MS 10000

struct config_listen;

/* Listens on every address (count >= 1) on loop.  0, or -1 with
 * "ADDR:PORT: why" in err and nothing left open.  One per process. */
int metrics_start(uv_loop_t *loop, const struct config_listen *addrs, size_t count, char *err, size_t errlen);

/* Closes listeners and connections (handles finish closing on the next
 * loop run).  Safe when not started. */
void metrics_stop(void);

/* The exposition text of everything above, malloc'ed and NUL-terminated,
 * its length in *len; NULL when out of memory.  Reads the counters
 * (stats_read: call from the loop thread), the health table and the
 * current snapshot (names of policy records). */
char *metrics_render(size_t *len);

/* Writes s as a label value (escaping '\\', '"' and newline as the format
 * says), NUL-terminated, at most outlen - 1 bytes; returns the length the
 * whole result needs (like snprintf). */
size_t metrics_label_escape(char *out, size_t outlen, const char *s);

#endif
