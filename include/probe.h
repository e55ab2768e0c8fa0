/*
 * probe — health checks of datacenter addresses, run on the daemon's libuv
 * loop (the main thread, with TCP and the control socket; never a UDP
 * worker), writing their verdicts into the health table.
 *
 * Every (datacenter, address, check) is a pair with its own timer: the
 * first probe starts at a random point within the interval, later ones
 * every interval ±10%, so many pairs never fire in step.  Types: tcp
 * (connect), http and https (a GET; status in expect_status, expect_body in
 * the first 4 KiB; https over OpenSSL, certificate and host name verified
 * unless tls_verify is false), dns (a UDP query; rcode must be
 * expect_rcode).  A probe passes when it finishes within timeout and, with
 * max_rtt, no slower than max_rtt.
 *
 * A pair turns up after `rise` consecutive passes and down after `fall`
 * consecutive failures (it starts in the check's `initial` state).  An
 * address is up when every check of its datacenter is up for it; a
 * datacenter is up when at least one of its addresses is.  Results go to
 * health_set_address_mask (bit i: the a addresses, then the aaaa ones),
 * health_set_probed, health_set_rtt_ms (an average over the passes) and
 * health_set_probes (details for `health`).  Each pair's state change is
 * logged as one line:
 *   health: us-east 192.0.2.10 web up -> down (connect refused; 0 ok / 3 failed)
 *
 * Everything here runs on the loop's thread.
 */
#ifndef GEOSTEER_PROBE_H
#define GEOSTEER_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct config;

/*
 * Makes the running probes match config: pairs whose datacenter, address
 * and check definition are unchanged keep running with their state (never
 * restarted, never doubled), removed ones stop, new ones start.  Call
 * after a config has been validated (snapshot_build), on the initial load
 * and on every reload; the first call fixes the loop.  Returns 0, or -1
 * with a message in err (out of memory; the pairs that could be set up
 * run).
 */
int probe_apply(uv_loop_t *loop, const struct config *config, char *err, size_t errlen);

/*
 * After the snapshot of that config is the one served: a datacenter left
 * without checks goes back to probed-up with every address up.  Not in
 * probe_apply, which runs before the swap: the old snapshot may still
 * steer to a datacenter the new config stops probing, and it must not see
 * a dead one come back up.
 */
void probe_settle(void);

/* Stops every pair.  The handles finish closing on the next run of the
 * loop, which must still run once. */
void probe_stop(void);

/* Number of running pairs. */
size_t probe_count(void);

/* The rise/fall state machine of one pair. */
struct probe_state {
	bool up;
	unsigned ok_count;   /* consecutive passes */
	unsigned fail_count; /* consecutive failures */
};

/* Feeds one result; returns true when the state flipped. */
bool probe_state_feed(struct probe_state *state, unsigned rise, unsigned fall, bool ok);

/*
 * Feeds a result into a running pair exactly as a completed probe would
 * (max_rtt applies), with its logging and health updates.  For tests and
 * fault drills.  -1 when no such pair runs.
 */
int probe_inject(const char *datacenter, const char *address, const char *check, bool ok, unsigned rtt_ms,
                 const char *reason);

/*
 * Judges an HTTP response (the first bytes read, at most 4 KiB) against a
 * check's expect_status and expect_body, after any interim 1xx responses.
 * A response shorter than 4 KiB is all there was, so it must have its
 * whole header section and the body its Content-Length announced.  Returns
 * true when it passes; reason gets "status 200" or why not ("status 503,
 * want 200, 204", "status 200, body lacks 'ok'", "status 200, truncated
 * response (headers)", "bad status line").
 */
struct config_check;
bool probe_http_judge(const struct config_check *check, const char *response, size_t len, char *reason,
                      size_t reasonlen);

/*
 * Writes a DNS query for the check's query_name / query_type with id into
 * buf; returns its length, 0 when it does not fit.
 */
size_t probe_dns_query(const struct config_check *check, uint16_t id, uint8_t *buf, size_t buflen);

/* Judges a DNS reply to the query with id: 1 when it is a response with
 * that id and the same question whose rcode is expect_rcode, 0 when it
 * fails (reason says why: another rcode, another opcode, NOERROR without
 * the question; an error rcode may come without the question), -1 when it
 * is not a reply to that query (a stray or late packet: keep waiting). */
int probe_dns_judge(const struct config_check *check, uint16_t id, const uint8_t *reply, size_t len,
                    char *reason, size_t reasonlen);

#endif
