/*
 * config — reads geosteer.yaml (libyaml) into validated structs.
 *
 * Every key the file may hold is declared once in a schema table in
 * config.c (name, type, default, range), so validation is data, not
 * scattered ifs.  Unknown keys, wrong types and out-of-range values are
 * errors reported as "FILE:LINE: what is wrong": a typo must never silently
 * change routing.  Relative paths in the file (zone files, later databases)
 * are resolved against the folder of the config file.
 *
 * Keys (every error is "FILE:LINE: ..."; duplicate keys, unknown keys and
 * non-string map keys are errors; named maps keep the order written):
 *   server: listen (list of "ADDR:PORT" / "[ADDR6]:PORT", default
 *           ["127.0.0.1:5300", "[::1]:5300"]), nsid (string, optional),
 *           workers (1..64, default one per online CPU), udp_payload
 *           (512..4096, default 1232), tcp_idle_timeout (ms, 1000..600000,
 *           default 10000), tcp_max_connections (1..65535, default 256),
 *           control (path of the control socket, default
 *           run/geosteerd.sock in the config file's folder), metrics
 *           ("ADDR:PORT" or a list of them: where GET /metrics answers in
 *           Prometheus text format; off when absent), user ("USER" or
 *           "USER:GROUP", an existing account: privileges.h), rate_limit
 *           { responses (0..10000 a second, default 0: off), slip (0..10,
 *           default 2), ipv4_prefix (8..32, default 24), ipv6_prefix
 *           (16..128, default 56) } (ratelimit.h)
 *   geoip:  database, asn_database (paths; need not exist yet, the policy
 *           module loads them), client_subnet (bool, default true)
 *   datacenters: NAME: { location: [LAT -90..90, LON -180..180],
 *           jurisdiction: string, a: [IPv4...], aaaa: [IPv6...] (non-empty,
 *           no duplicates, stored canonical), cname: name (stored absolute,
 *           lower-case; not together with a / aaaa), check: NAME or
 *           [NAME...] (names from checks:; not with cname; at most 64
 *           addresses) }
 *   checks: NAME: { type: tcp|http|https|dns (required), port (1..65535;
 *           default 80 / 443 / 53, required for tcp), interval (100ms..1h,
 *           default 10s), timeout (10ms..10m, default 2s, below 90% of
 *           the interval), rise, fall (1..1000, default 2 and 3), max_rtt
 *           (duration, optional), initial: up|down (default up);
 *           http/https only: path (starts with '/', default /), host,
 *           expect_status (list of 100..599 or one, default [200]),
 *           expect_body (1..1024 bytes); https only: tls_verify (default
 *           true); dns only: query ("NAME TYPE", required), expect_rcode
 *           (NOERROR, NXDOMAIN..., default NOERROR) }.  Durations: a
 *           number of ms, or with ms, s, m, h.
 *   policies: NAME: exactly one of
 *             geo: { KEY: TARGET }   KEY: continent:XX (AF AN AS EU NA OC SA),
 *                                    country:XX, subdivision:XX-YYY (1-3
 *                                    alnum), net:CIDR (no host bits),
 *                                    asn:N (1..2^32-1), default
 *             failover | latency | all: [TARGET...]   (no duplicates)
 *             weighted: { TARGET: WEIGHT 0..1000000 }
 *           and options sticky (bool, default false; weighted only), max
 *           (1..1000, default 0 = no limit; all only), latency_table (path;
 *           latency only), latency_source: distance|probes|table (latency
 *           only, default distance; see below).  A target list must not be
 *           empty.  Geo keys and
 *           selectors are stored canonical: kind lower-case, codes
 *           upper-case, net: as inet_ntop prints it ("country:us" →
 *           "country:US").  A policy may not share a datacenter's name.
 *   residency: NAME: { clients: [continent:|country:|subdivision:|net:|asn:
 *           selectors], allowed: [jurisdiction:X | datacenter:NAME] }, both
 *           required and non-empty
 *   zones:  list of { origin, file, records: { NAME: { policy (required),
 *           ttl (0..2147483647, default 30), down_ttl (0..2147483647,
 *           default min(ttl, 10)) } } }; NAME is "@", relative to origin or
 *           absolute, and must be a valid domain name
 * latency_source says what a latency policy ranks its targets by:
 *   distance  great-circle distance from the client's GeoIP location; when
 *             latency_table is also given, the table's RTTs rank first for
 *             the clients it covers (the datacenters a row lists before
 *             the others) and distance ranks the rest.  latency_table
 *             alone, without latency_source, means exactly this.
 *   probes    the health probes' RTT moving average per datacenter (the
 *             latency from this server: anycast PoPs); datacenters without
 *             a measurement rank after those with one, by distance.  Not
 *             with latency_table.
 *   table     latency_table only (required): clients it does not cover,
 *             and datacenters their row does not list, fall back to the
 *             order written.
 * Names that refer to other entries (targets, record policies, allowed
 * datacenters) are checked by the policy module, not here (a datacenter's
 * check names are checked here, against checks:); every target and
 * record keeps its line for that.
 */
#ifndef GEOSTEER_CONFIG_H
#define GEOSTEER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[64]; /* as written in the file, for logs */
};

/* A name in a zone answered by a steering policy (zones[].records). */
struct config_record {
	char *name;        /* as written: "@", relative ("www") or absolute ("www.shop.example.") */
	char *policy;      /* policy or datacenter name */
	uint32_t ttl;      /* default 30 */
	uint32_t down_ttl; /* TTL of degraded answers; default min(ttl, 10) */
	int line;
};

struct config_zone {
	char *origin;
	char *file; /* resolved path */
	int line;   /* line of the entry in the config, for errors */
	struct config_record *records;
	size_t record_count;
};

/* geoip: */
struct config_geoip {
	char *database;     /* resolved path; NULL: no geolocation database */
	char *asn_database; /* resolved path; NULL: asn: keys are a load error */
	bool client_subnet; /* honour EDNS Client Subnet; default true */
	int line;
};

/* datacenters: NAME: {...} */
struct config_datacenter {
	char *name;
	int line;
	bool has_location;
	double latitude;     /* location: [LAT, LON], degrees */
	double longitude;
	char *jurisdiction;  /* NULL when not given */
	char **a;            /* IPv4 addresses, presentation form, validated */
	size_t a_count;
	char **aaaa;         /* IPv6 addresses, presentation form, validated */
	size_t aaaa_count;
	char *cname;         /* absolute name (trailing dot added), or NULL */
	char **checks;       /* check: NAME or [NAME...]: every address is probed by each */
	size_t check_count;
	int check_line;      /* line of `check:`, for unknown-name errors */
};

enum config_check_type { CONFIG_CHECK_TCP, CONFIG_CHECK_HTTP, CONFIG_CHECK_HTTPS, CONFIG_CHECK_DNS };

/* checks: NAME: {...}, see the key list at the top. */
struct config_check {
	char *name;
	int line;
	enum config_check_type type;
	uint16_t port;               /* default: 80 http, 443 https, 53 dns; required for tcp */
	char *path;                  /* http, https: request path, default "/" */
	char *host;                  /* http, https: Host header and SNI; NULL: the address */
	unsigned *expect_status;     /* http, https: default [200] */
	size_t expect_status_count;
	char *expect_body;           /* http, https: substring of the first 4 KiB, or NULL */
	char *query_name;            /* dns: absolute, lower-case ("health.shop.example.") */
	uint16_t query_type;         /* dns: RR type number */
	unsigned expect_rcode;       /* dns: default NOERROR (0) */
	unsigned interval_ms;        /* default 10 s */
	unsigned timeout_ms;         /* default 2 s, below 90% of interval_ms */
	unsigned rise;               /* default 2 */
	unsigned fall;               /* default 3 */
	unsigned max_rtt_ms;         /* 0: none */
	bool initial_up;             /* initial: up (default) | down */
	bool tls_verify;             /* https: default true */
};

enum config_policy_kind {
	CONFIG_POLICY_GEO,
	CONFIG_POLICY_FAILOVER,
	CONFIG_POLICY_LATENCY,
	CONFIG_POLICY_WEIGHTED,
	CONFIG_POLICY_ALL,
};

struct config_policy_target {
	char *key;       /* geo: the match key, canonical ("country:US", "default"); NULL otherwise */
	char *target;    /* a datacenter or policy name */
	unsigned weight; /* weighted: 0..1000000; 0 drains */
	int line;
};

/* latency_source: what a latency policy ranks by (see the key list). */
enum config_latency_source {
	CONFIG_LATENCY_DISTANCE, /* default; latency_table, when given, overrides it */
	CONFIG_LATENCY_PROBES,
	CONFIG_LATENCY_TABLE,
};

/* policies: NAME: { geo | failover | latency | weighted | all: ..., options } */
struct config_policy {
	char *name;
	int line;
	enum config_policy_kind kind;
	struct config_policy_target *targets; /* in the order written */
	size_t target_count;
	bool sticky;         /* weighted: pick by a hash of the client subnet */
	unsigned max;        /* all: at most this many addresses; 0 = no limit */
	char *latency_table; /* latency: resolved path of a "CIDR DATACENTER RTT_MS" file, or NULL */
	enum config_latency_source latency_source; /* latency: default distance */
	int latency_source_line;                   /* 0 when not given */
};

/* residency: NAME: { clients: [...], allowed: [...] } */
struct config_fence {
	char *name;
	int line;
	char **clients; /* continent:XX, country:XX, subdivision:XX-YY, net:CIDR, asn:N */
	size_t client_count;
	char **allowed; /* jurisdiction:X or datacenter:NAME */
	size_t allowed_count;
};

/* server.rate_limit (ratelimit.h); responses 0: off. */
struct config_rate_limit {
	unsigned responses;   /* per second per class, 0..10000, default 0 */
	unsigned slip;        /* 0..10, default 2 */
	unsigned ipv4_prefix; /* 8..32, default 24 */
	unsigned ipv6_prefix; /* 16..128, default 56 */
};

struct config {
	char *path; /* the config file as given */
	struct config_listen *listen;
	size_t listen_count;
	char *nsid; /* NULL when not configured */
	unsigned workers;
	uint16_t udp_payload;
	unsigned tcp_idle_timeout_ms;
	unsigned tcp_max_connections;
	char *control; /* control socket path (resolved); NULL: run/geosteerd.sock beside the config */
	int control_line; /* where server.control is written, for errors; 0 when not given */
	char *user;       /* server.user, "USER" or "USER:GROUP" (privileges.h); NULL: keep the account */
	struct config_rate_limit rate_limit;
	struct config_zone *zones;
	size_t zone_count;
	struct config_geoip geoip;
	struct config_datacenter *datacenters; /* in the order written */
	size_t datacenter_count;
	struct config_policy *policies;        /* in the order written */
	size_t policy_count;
	struct config_fence *fences;
	size_t fence_count;
	struct config_check *checks; /* in the order written */
	size_t check_count;
	struct config_listen *metrics; /* server.metrics; NULL (count 0): no metrics endpoint */
	size_t metrics_count;
	/* SHA-256 of the file's bytes as read, lower-case hex; "" when built
	 * without OpenSSL.  Lets operators see which file a daemon runs. */
	char sha256[65];
};

/* Returns 0, or -1 with one line "FILE:LINE: message" in err; on failure
 * *out holds nothing to free. */
int config_load(const char *path, struct config *out, char *err, size_t errlen);

void config_free(struct config *config);

/* The control socket's path: server.control, or run/geosteerd.sock in the
 * folder of the config file.  --check and the server both take it from here. */
void config_control_path(const struct config *config, char *out, size_t outlen);

#endif
