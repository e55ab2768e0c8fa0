/*
 * control — the operator's socket: a Unix stream socket served on the
 * daemon's libuv loop (the main thread, never a UDP worker), speaking a
 * line protocol that geosteerctl and scripts use.
 *
 * Protocol: the client sends one command per line ("\n", an optional "\r"
 * before it is ignored, empty lines are skipped); every command gets exactly
 * one reply line, a JSON object, in order; a connection may send any number
 * of commands.  Every reply has "ok": true or false; a failed command has
 * "error" too.  A line longer than CONTROL_LINE_MAX bytes gets
 * {"ok":false,"error":"line too long"} and the connection is closed.  At
 * most CONTROL_MAX_CONNECTIONS clients are served at once: one more gets
 * {"ok":false,"error":"too many control connections"} and is closed; an
 * idle connection is closed after CONTROL_IDLE_SECONDS.
 *
 * Commands and replies (arguments separated by spaces):
 *   status            {"ok":true,"version":V,"uptime_s":N,
 *                      "config_sha256":HEX|null,"config":PATH,"generation":N,
 *                      "zones":[{"origin":"shop.example.","serial":N}]}
 *                     (from snapshot_current(); generation 0 and no zones
 *                     before the first publish; the hash is of the config
 *                     file as last loaded successfully, hooks->config_sha256)
 *   stats             {"ok":true,"uptime_s":N,"queries":{"udp":N,"tcp":N},
 *                      "qtype":{"A":N,..},"rcode":{"NOERROR":N,..},
 *                      "truncated":N,"ecs":N,"dropped":N,"fail_open":N,
 *                      "fenced":N,"policies":{"www.shop.example.":N,..},
 *                      "datacenters":{"us-east":N,..},"reloads":N,
 *                      "reload_failures":N}
 *                     (stats_read(); qtype and rcode list the buckets
 *                     that are not zero, policies every record of the
 *                     current snapshot, datacenters every health slot)
 *   health            {"ok":true,"datacenters":[{"name":..,"up":B,"probed_up":B,
 *                      "admin":"none"|"drain"|"force-up","since":"2026-11-26T20:05:41Z",
 *                      "rtt_ms":N|null,"probes":[..],"reason":..}]}
 *                     one entry per health slot, in slot order; rtt_ms is
 *                     the probe RTT moving average (health_rtt_ms(), null
 *                     until measured); probes lists every probed (address,
 *                     check) pair (health_probes_of(); [] when not probed):
 *                     {"address":..,"check":..,"up":B,"since":..,
 *                      "last":"ok"|"failed"|null,"reason":..,"rtt_ms":N,
 *                      "ok":N,"failed":N} (last: null before the first
 *                     result; ok / failed: consecutive counts)
 *   drain DC          administrative overrides (health_set_admin); the reply
 *   undrain DC        is {"ok":true,"datacenter":DC,"admin":..,"up":B} with the
 *   force-up DC       new effective state; an unknown DC gets
 *                     {"ok":false,"error":"unknown datacenter 'DC'"}
 *   reload            hooks->reload: {"ok":true,"generation":N} or
 *                     {"ok":false,"error":"FILE:LINE: ..."}
 *   explain IP NAME [TYPE]
 *                     hooks->explain: {"ok":true,"explain":"text\n..."}
 *   anything else     {"ok":false,"error":"unknown command 'x'"}
 *
 * Strings in replies are JSON-escaped; bytes that are not valid UTF-8
 * become U+FFFD, so every reply is valid JSON whatever a reason or a file
 * name holds.
 *
 * The socket file: parent folders are created (mode 0770 before umask); a
 * stale socket left by a dead daemon is removed, but a socket another live
 * process still accepts on, or a path that is not a socket, is an error; the
 * socket is made mode 0660 and removed again by control_stop().
 *
 * Everything here runs in the loop's thread.  Commands are quick (table
 * copies and snapshot reads), except reload, which runs the hook
 * synchronously and so holds up the loop (TCP, signals) while it builds;
 * UDP workers are never touched.
 */
#ifndef GEOSTEER_CONTROL_H
#define GEOSTEER_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#define CONTROL_LINE_MAX 4096
#define CONTROL_MAX_CONNECTIONS 16
#define CONTROL_IDLE_SECONDS 300
#define CONTROL_EXPLAIN_MAX 16384 /* buffer handed to hooks->explain */

/* What control needs from the daemon, so that it does not depend on the
 * server module.  Any hook may be NULL: its command then answers
 * {"ok":false,"error":"... not available"}. */
struct control_hooks {
	void *ctx;               /* passed to every hook */
	const char *version;     /* e.g. "0.1.0" */
	const char *config_path; /* as given on the command line */
	/* SHA-256 (hex) of the config last loaded, or NULL / "": unknown.  The
	 * daemon rewrites the string in place on reload (same thread). */
	const char *config_sha256;

	/* Reloads config and zones and publishes the result.  Returns 0 with
	 * the new snapshot generation in *generation, or -1 with one line
	 * ("FILE:LINE: message") in err; the old state keeps serving then. */
	int (*reload)(void *ctx, uint64_t *generation, char *err, size_t errlen);

	/* Writes the explain trace of NAME [TYPE] (type may be NULL: A) for
	 * client IP into out, NUL-terminated, and returns 0; or returns -1
	 * with a one-line error in out (bad address, no such name...). */
	int (*explain)(void *ctx, const char *client_ip, const char *name, const char *type, char *out,
	               size_t outlen);
};

/*
 * Binds the socket at path and starts serving it on loop.  hooks (and the
 * strings it points to) must live until control_stop().  Returns 0, or -1
 * with "PATH: why" in err (nothing is left open then).  One control socket
 * per process: a second start without a stop fails.
 */
int control_start(uv_loop_t *loop, const char *path, const struct control_hooks *hooks, char *err,
                  size_t errlen);

/*
 * Gives the socket file control_start() made to uid:gid (server.user: the
 * account's operators can connect, and geosteerd can remove it at stop).
 * Changes that file only, never something that has taken its place since
 * or what a symlink there points to.  Returns 0, or -1 with "PATH: why".
 */
int control_chown(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Closes the listener and every connection and removes the socket file.
 * The handles finish closing on the next run of the loop, which must still
 * run once (as server_run's shutdown does).  Safe to call when not started. */
void control_stop(void);

/*
 * Answers one command line as the socket does, without a socket: line is
 * len bytes without the newline (a "\r" before it is dropped; a NUL byte
 * inside gets {"ok":false,"error":"NUL byte in command"}), the command runs
 * with hooks (NULL: none) against the current snapshot and health state,
 * and the reply is returned as a malloc'd NUL-terminated JSON object
 * without its newline, which the caller frees.  NULL for a blank line
 * (nothing is answered) or when memory ran out.  uptime_s counts from
 * control_start(), or is 0 when no socket is served.  For tests and the
 * fuzzer (fuzz/fuzz_control.c); the socket adds only the line buffering.
 */
char *control_answer(const struct control_hooks *hooks, const char *line, size_t len);

/*
 * Appends s (len bytes) to out as a JSON string, quotes included: escapes
 * '"', '\\' and control characters, and turns invalid UTF-8 into U+FFFD.
 * Writes at most outlen - 1 bytes plus a NUL and returns the length the
 * full result needs (like snprintf), so a result >= outlen means cut.
 * Exposed for tests and for other JSON-speaking code (metrics).
 */
size_t control_json_string(char *out, size_t outlen, const char *s, size_t len);

#endif
