/*
 * config — geosteer.yaml into struct config, driven by a schema table.
 *
 * The file is read whole with libyaml's document API (a node tree where
 * every node carries its line), then walked against the schema below.  Each
 * schema row declares one key: its name, its type, where the value is
 * stored (offsetof into the enclosing struct), its range and its default
 * written in the file's own syntax.  Defaults are applied by parsing those
 * texts with the same code as the file's values, so a default can never be
 * something the file could not say.
 *
 * Four shapes hold the rest:
 *   - sections (`server:`, `geoip:`) are mappings whose keys live directly
 *     in the enclosing struct;
 *   - tables (`zones:`) are lists of mappings, each one an element of a
 *     malloc'ed array;
 *   - named maps (`datacenters:`, `policies:`, `residency:`,
 *     `zones[].records:`) are mappings NAME → mapping, each value an array
 *     element whose name and line are stored with it, in file order;
 *   - lists of strings and of policy targets, each item checked (and put
 *     in a canonical form) by a small function named in the row.
 * A policy's kind is a set of mutually exclusive rows (`variant`), and its
 * options name the kind they belong to (`only_with`): "exactly one of" and
 * "only valid with" are checked by the walker from that data, so adding a
 * kind is one row.  The few rules that span two keys of one entry (a
 * default computed from another key, cname against addresses) live in
 * per-entry `finish` functions named in the row.
 *
 * Names that refer to other entries (policy targets, record policies) are
 * only checked for form here; the policy module resolves them and reports
 * unknown names with the line kept in each target and record.
 *
 * The walk only ever descends where the schema says, so aliases and deep
 * nesting in a hostile file cannot make it do more work than the schema
 * allows.  A null value (`key:` with nothing, `~`) means "keep the
 * default".  The first error stops the load; everything built so far is
 * freed by the same schema-driven walk that config_free() uses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>
#ifdef GEOSTEER_TLS
#include <openssl/evp.h>
#endif

#include "dname.h"
#include "infile.h"
#include "log.h"
#include "privileges.h"
#include "wire.h"

enum schema_type {
	SCHEMA_SECTION, /* mapping; keys in .sub, stored in the same struct */
	SCHEMA_TABLE,   /* list of mappings; each an array element laid out by .sub */
	SCHEMA_NAMED,   /* mapping NAME → mapping; each an array element laid out by .sub */
	SCHEMA_UINT,    /* unsigned decimal; .width is the field's size */
	SCHEMA_MSEC,    /* duration in ms: 1500, "1500ms", "10s", "2m", "1h" */
	SCHEMA_BOOL,    /* true / false */
	SCHEMA_STRING,  /* .min/.max bound the length */
	SCHEMA_PATH,    /* string, resolved against the config file's folder */
	SCHEMA_DNAME,   /* domain name, stored absolute and lower-cased */
	SCHEMA_COORDS,  /* [LAT, LON] in degrees */
	SCHEMA_LISTEN,  /* list of "ADDR:PORT" / "[ADDR6]:PORT" */
	SCHEMA_STRLIST, /* list of strings, each checked by .check; at least .min items */
	SCHEMA_TARGETS, /* list of names → struct config_policy_target */
	SCHEMA_GEO,     /* mapping KEY → name (KEY checked by .check) → targets */
	SCHEMA_WEIGHTS, /* mapping name → weight .min..max → targets */
	SCHEMA_CHOICE,  /* one word of .what ("tcp http ..."), any case; stores its index */
	SCHEMA_UINTS,   /* list of unsigned .min..max (or one), stored unsigned[] + count */
};

/* Checks one item's text and writes its canonical form to out.  Returns
 * NULL when it is good, else why not ("" when "bad X 'text'" says it all;
 * the reason may be written in out itself). */
typedef const char *schema_check_fn(const char *text, char *out, size_t outlen);

struct schema_item;
struct config_reader;

/* Rules across the keys of one entry, run after it is read.  lines[i] is
 * the line of items[i] in the entry, 0 when not given. */
typedef int schema_finish_fn(struct config_reader *r, const struct schema_item *items, char *elem,
                             const int *lines, const char *where);

struct schema_item {
	const char *name;
	enum schema_type type;
	size_t offset; /* of the value in the enclosing struct */
	size_t width;  /* SCHEMA_UINT: sizeof the field; variants: sizeof the kind field */
	unsigned long min, max;
	const char *def;               /* default, in file syntax; NULL: none */
	unsigned long (*def_fn)(void); /* computed default (numbers) */
	bool required;
	const struct schema_item *sub; /* SECTION, TABLE, NAMED: the keys inside */
	size_t count_offset;           /* TABLE, NAMED, lists: the element count */
	size_t elem_size;              /* TABLE, NAMED: size of one element */
	size_t line_offset;       /* TABLE, NAMED: int field for the entry's line; others: see has_line */
	bool has_line;            /* SECTION, scalars: store the value's line at line_offset */
	size_t name_offset;       /* NAMED: char * field for the entry's name */
	size_t offset2;           /* COORDS: the longitude (offset is the latitude) */
	size_t flag_offset;       /* COORDS: bool set when given */
	const char *what;         /* TABLE, NAMED: what an entry is; lists: what an item is */
	schema_check_fn *check;   /* STRLIST items, GEO keys, NAMED names */
	schema_finish_fn *finish; /* TABLE, NAMED: per-entry rules */
	int variant;              /* >0: one of an exclusive set; stores variant-1 at variant_offset */
	size_t variant_offset;
	const char *only_with; /* an option valid only with this variant row */
	bool scalar_ok;        /* STRLIST: a single value stands for a one-item list */
};

/* One schema row per key.  S is the struct the value is stored in. */
#define FIELD_SIZE(S, field) sizeof(((S *)0)->field)
#define KEY_UINT(key, S, field, lo, hi, dflt)                                                                \
	{                                                                                                    \
		.name = key, .type = SCHEMA_UINT, .offset = offsetof(S, field),                              \
		.width = FIELD_SIZE(S, field), .min = lo, .max = hi, .def = dflt                             \
	}
#define KEY_UINT_FN(key, S, field, lo, hi, fn)                                                               \
	{                                                                                                    \
		.name = key, .type = SCHEMA_UINT, .offset = offsetof(S, field),                              \
		.width = FIELD_SIZE(S, field), .min = lo, .max = hi, .def_fn = fn                            \
	}
#define KEY_MSEC(key, S, field, lo, hi, dflt)                                                                \
	{                                                                                                    \
		.name = key, .type = SCHEMA_MSEC, .offset = offsetof(S, field), .min = lo, .max = hi,        \
		.def = dflt                                                                                  \
	}
#define KEY_BOOL(key, S, field, dflt)                                                                        \
	{                                                                                                    \
		.name = key, .type = SCHEMA_BOOL, .offset = offsetof(S, field), .def = dflt                  \
	}
#define KEY_STRING(key, S, field, maxlen, req)                                                               \
	{                                                                                                    \
		.name = key, .type = SCHEMA_STRING, .offset = offsetof(S, field), .min = 1, .max = maxlen,   \
		.required = req                                                                              \
	}
/* A string checked by fn (called with no output buffer: NULL is good). */
#define KEY_STRING_CHECK(key, S, field, maxlen, fn)                                                          \
	{                                                                                                    \
		.name = key, .type = SCHEMA_STRING, .offset = offsetof(S, field), .min = 1, .max = maxlen,   \
		.check = fn                                                                                  \
	}
#define KEY_PATH(key, S, field, req)                                                                         \
	{                                                                                                    \
		.name = key, .type = SCHEMA_PATH, .offset = offsetof(S, field), .min = 1, .max = 4096,       \
		.required = req                                                                              \
	}
/* A path whose line a check made after reading needs (server.control). */
#define KEY_PATH_LINE(key, S, field, line_field)                                                             \
	{                                                                                                    \
		.name = key, .type = SCHEMA_PATH, .offset = offsetof(S, field), .min = 1, .max = 4096,       \
		.has_line = true, .line_offset = offsetof(S, line_field)                                     \
	}
#define KEY_DNAME(key, S, field)                                                                             \
	{                                                                                                    \
		.name = key, .type = SCHEMA_DNAME, .offset = offsetof(S, field)                              \
	}
#define KEY_COORDS(key, S, lat, lon, flag)                                                                   \
	{                                                                                                    \
		.name = key, .type = SCHEMA_COORDS, .offset = offsetof(S, lat), .offset2 = offsetof(S, lon), \
		.flag_offset = offsetof(S, flag)                                                             \
	}
#define KEY_LISTEN(key, S, field, count, dflt)                                                               \
	{                                                                                                    \
		.name = key, .type = SCHEMA_LISTEN, .offset = offsetof(S, field),                            \
		.count_offset = offsetof(S, count), .def = dflt                                              \
	}
#define KEY_STRLIST(key, S, field, count, fn, item, least, req)                                              \
	{                                                                                                    \
		.name = key, .type = SCHEMA_STRLIST, .offset = offsetof(S, field),                           \
		.count_offset = offsetof(S, count), .check = fn, .what = item, .min = least, .required = req \
	}
#define KEY_CHOICE(key, S, field, words, dflt)                                                               \
	{                                                                                                    \
		.name = key, .type = SCHEMA_CHOICE, .offset = offsetof(S, field),                            \
		.width = FIELD_SIZE(S, field), .what = words, .def = dflt                                    \
	}
#define KEY_UINTS(key, S, field, count, lo, hi)                                                              \
	{                                                                                                    \
		.name = key, .type = SCHEMA_UINTS, .offset = offsetof(S, field),                             \
		.count_offset = offsetof(S, count), .min = lo, .max = hi                                     \
	}
#define KEY_SECTION(key, items)                                                                              \
	{                                                                                                    \
		.name = key, .type = SCHEMA_SECTION, .sub = items                                            \
	}
#define KEY_SECTION_LINE(key, items, S, line_field)                                                          \
	{                                                                                                    \
		.name = key, .type = SCHEMA_SECTION, .sub = items, .has_line = true,                         \
		.line_offset = offsetof(S, line_field)                                                       \
	}
#define KEY_TABLE(key, S, field, count, E, line_field, items, entry)                                         \
	{                                                                                                    \
		.name = key, .type = SCHEMA_TABLE, .sub = items, .offset = offsetof(S, field),               \
		.count_offset = offsetof(S, count), .elem_size = sizeof(E),                                  \
		.line_offset = offsetof(E, line_field), .what = entry                                        \
	}
#define KEY_NAMED(key, S, field, count, E, name_field, line_field, items, entry, name_fn, finish_fn)         \
	{                                                                                                    \
		.name = key, .type = SCHEMA_NAMED, .sub = items, .offset = offsetof(S, field),               \
		.count_offset = offsetof(S, count), .elem_size = sizeof(E),                                  \
		.name_offset = offsetof(E, name_field), .line_offset = offsetof(E, line_field),              \
		.what = entry, .check = name_fn, .finish = finish_fn                                         \
	}
/* A policy kind: one of an exclusive set, its targets in S.targets. */
#define KEY_KIND(key, t, S, kind_field, k, fn, item, lo, hi)                                                 \
	{                                                                                                    \
		.name = key, .type = t, .offset = offsetof(S, targets),                                      \
		.count_offset = offsetof(S, target_count), .variant = (k) + 1,                               \
		.variant_offset = offsetof(S, kind_field), .width = FIELD_SIZE(S, kind_field), .check = fn,  \
		.what = item, .min = lo, .max = hi                                                           \
	}

static unsigned long config_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 64 ? 64 : (unsigned long)n;
}

static schema_check_fn check_ipv4, check_ipv6, check_geo_key, check_client_selector, check_allowed_selector,
    check_record_name;
static schema_check_fn check_check_name, check_user;
static schema_finish_fn finish_datacenter, finish_record, finish_check, finish_policy;

/* clang-format off */
static const struct schema_item schema_rate_limit[] = {
	KEY_UINT("responses", struct config, rate_limit.responses, 0, 10000, "0"),
	KEY_UINT("slip", struct config, rate_limit.slip, 0, 10, "2"),
	KEY_UINT("ipv4_prefix", struct config, rate_limit.ipv4_prefix, 8, 32, "24"),
	KEY_UINT("ipv6_prefix", struct config, rate_limit.ipv6_prefix, 16, 128, "56"),
	{0},
};

static const struct schema_item schema_server[] = {
	KEY_LISTEN("listen", struct config, listen, listen_count, "127.0.0.1:5300 [::1]:5300"),
	KEY_STRING("nsid", struct config, nsid, 255, false),
	KEY_UINT_FN("workers", struct config, workers, 1, 64, config_default_workers),
	KEY_UINT("udp_payload", struct config, udp_payload, 512, 4096, "1232"),
	KEY_MSEC("tcp_idle_timeout", struct config, tcp_idle_timeout_ms, 1000, 600000, "10s"),
	KEY_UINT("tcp_max_connections", struct config, tcp_max_connections, 1, 65535, "256"),
	KEY_PATH_LINE("control", struct config, control, control_line),
	KEY_LISTEN("metrics", struct config, metrics, metrics_count, NULL),
	KEY_STRING_CHECK("user", struct config, user, 255, check_user),
	KEY_SECTION("rate_limit", schema_rate_limit),
	{0},
};

static const struct schema_item schema_record[] = {
	KEY_STRING("policy", struct config_record, policy, 255, true),
	KEY_UINT("ttl", struct config_record, ttl, 0, 2147483647, "30"),
	KEY_UINT("down_ttl", struct config_record, down_ttl, 0, 2147483647, NULL), /* finish_record */
	{0},
};

static const struct schema_item schema_zone[] = {
	KEY_STRING("origin", struct config_zone, origin, 1024, true),
	KEY_PATH("file", struct config_zone, file, true),
	KEY_NAMED("records", struct config_zone, records, record_count, struct config_record, name, line,
	          schema_record, "record", check_record_name, finish_record),
	{0},
};

static const struct schema_item schema_geoip[] = {
	KEY_PATH("database", struct config, geoip.database, false),
	KEY_PATH("asn_database", struct config, geoip.asn_database, false),
	KEY_BOOL("client_subnet", struct config, geoip.client_subnet, "true"),
	{0},
};

static const struct schema_item schema_datacenter[] = {
	KEY_COORDS("location", struct config_datacenter, latitude, longitude, has_location),
	KEY_STRING("jurisdiction", struct config_datacenter, jurisdiction, 64, false),
	KEY_STRLIST("a", struct config_datacenter, a, a_count, check_ipv4, "IPv4 address", 1, false),
	KEY_STRLIST("aaaa", struct config_datacenter, aaaa, aaaa_count, check_ipv6, "IPv6 address", 1, false),
	KEY_DNAME("cname", struct config_datacenter, cname),
	{.name = "check", .type = SCHEMA_STRLIST, .offset = offsetof(struct config_datacenter, checks),
	 .count_offset = offsetof(struct config_datacenter, check_count), .check = check_check_name,
	 .what = "check name", .min = 1, .scalar_ok = true},
	{0},
};

/* Type-specific keys are checked against the type by finish_check. */
static const struct schema_item schema_check[] = {
	KEY_CHOICE("type", struct config_check, type, "tcp http https dns", NULL), /* required: finish_check */
	KEY_UINT("port", struct config_check, port, 1, 65535, NULL),               /* default by type */
	KEY_STRING("path", struct config_check, path, 1024, false),
	KEY_STRING("host", struct config_check, host, 255, false),
	KEY_UINTS("expect_status", struct config_check, expect_status, expect_status_count, 100, 599),
	KEY_STRING("expect_body", struct config_check, expect_body, 1024, false), /* within the 4 KiB read */
	KEY_STRING("query", struct config_check, query_name, 1100, false),         /* split by finish_check */
	KEY_CHOICE("expect_rcode", struct config_check, expect_rcode,
	           "NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED YXDOMAIN YXRRSET NXRRSET NOTAUTH NOTZONE", "NOERROR"),
	KEY_MSEC("interval", struct config_check, interval_ms, 100, 3600000, "10s"),
	KEY_MSEC("timeout", struct config_check, timeout_ms, 10, 600000, "2s"),
	KEY_UINT("rise", struct config_check, rise, 1, 1000, "2"),
	KEY_UINT("fall", struct config_check, fall, 1, 1000, "3"),
	KEY_MSEC("max_rtt", struct config_check, max_rtt_ms, 1, 600000, NULL),
	KEY_CHOICE("initial", struct config_check, initial_up, "down up", "up"),
	KEY_BOOL("tls_verify", struct config_check, tls_verify, "true"),
	{0},
};

/* The kinds are exclusive (variant); each option names its kind. */
static const struct schema_item schema_policy[] = {
	KEY_KIND("geo", SCHEMA_GEO, struct config_policy, kind, CONFIG_POLICY_GEO, check_geo_key, "geo key", 0, 0),
	KEY_KIND("failover", SCHEMA_TARGETS, struct config_policy, kind, CONFIG_POLICY_FAILOVER, NULL, NULL, 0, 0),
	KEY_KIND("latency", SCHEMA_TARGETS, struct config_policy, kind, CONFIG_POLICY_LATENCY, NULL, NULL, 0, 0),
	KEY_KIND("weighted", SCHEMA_WEIGHTS, struct config_policy, kind, CONFIG_POLICY_WEIGHTED, NULL, NULL, 0, 1000000),
	KEY_KIND("all", SCHEMA_TARGETS, struct config_policy, kind, CONFIG_POLICY_ALL, NULL, NULL, 0, 0),
	{.name = "sticky", .type = SCHEMA_BOOL, .offset = offsetof(struct config_policy, sticky), .def = "false",
	 .only_with = "weighted"},
	{.name = "max", .type = SCHEMA_UINT, .offset = offsetof(struct config_policy, max),
	 .width = FIELD_SIZE(struct config_policy, max), .min = 1, .max = 1000, .only_with = "all"},
	{.name = "latency_table", .type = SCHEMA_PATH, .offset = offsetof(struct config_policy, latency_table),
	 .min = 1, .max = 4096, .only_with = "latency"},
	{.name = "latency_source", .type = SCHEMA_CHOICE, .offset = offsetof(struct config_policy, latency_source),
	 .width = FIELD_SIZE(struct config_policy, latency_source), .what = "distance probes table",
	 .def = "distance", .only_with = "latency"}, /* against latency_table: finish_policy */
	{0},
};

static const struct schema_item schema_fence[] = {
	KEY_STRLIST("clients", struct config_fence, clients, client_count, check_client_selector, "client selector", 1, true),
	KEY_STRLIST("allowed", struct config_fence, allowed, allowed_count, check_allowed_selector, "allowed selector", 1, true),
	{0},
};

static const struct schema_item schema_top[] = {
	KEY_SECTION("server", schema_server),
	KEY_SECTION_LINE("geoip", schema_geoip, struct config, geoip.line),
	KEY_NAMED("datacenters", struct config, datacenters, datacenter_count, struct config_datacenter, name, line,
	          schema_datacenter, "datacenter", NULL, finish_datacenter),
	KEY_NAMED("policies", struct config, policies, policy_count, struct config_policy, name, line,
	          schema_policy, "policy", NULL, finish_policy),
	KEY_NAMED("residency", struct config, fences, fence_count, struct config_fence, name, line,
	          schema_fence, "residency", NULL, NULL),
	KEY_TABLE("zones", struct config, zones, zone_count, struct config_zone, line, schema_zone, "zone"),
	KEY_NAMED("checks", struct config, checks, check_count, struct config_check, name, line,
	          schema_check, "check", check_check_name, finish_check),
	{0},
};
/* clang-format on */

/* One load in progress. */
struct config_reader {
	const char *path;
	const char *dir; /* folder of the config file; NULL: the current one */
	size_t dir_len;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	const char *entry_what; /* the named entry being read ("policy"), for messages */
	const char *entry_name;
};

static int config_fail(struct config_reader *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int config_fail(struct config_reader *r, int line, const char *fmt, ...)
{
	int n = line > 0 ? snprintf(r->err, r->errlen, "%s:%d: ", r->path, line)
	                 : snprintf(r->err, r->errlen, "%s: ", r->path);
	if (n < 0 || (size_t)n >= r->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	log_flatten(r->err); /* one line, whatever a value quoted in it holds */
	return -1;
}

static int node_line(const yaml_node_t *node)
{
	return (int)node->start_mark.line + 1;
}

static const char *node_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

static bool node_is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *t = node_text(node);
	return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

/* ---- scalar parsers, shared by file values and defaults ---- */

static bool parse_uint(const char *text, unsigned long *out)
{
	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool parse_msec(const char *text, unsigned long *out)
{
	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (errno)
		return false;
	unsigned long mult;
	if (!*end || !strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60 * 1000;
	else if (!strcmp(end, "h"))
		mult = 60 * 60 * 1000;
	else
		return false;
	if (v > (unsigned long)-1 / mult)
		return false;
	*out = v * mult;
	return true;
}

/* "ADDR:PORT" or "[ADDR6]:PORT", numeric only. */
static bool parse_listen(const char *text, struct config_listen *out)
{
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof(out->text))
		return false;
	char host[64];
	const char *port;
	int family;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return false;
		size_t hlen = (size_t)(close - text - 1);
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		port = close + 2;
		family = AF_INET6;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return false; /* no port, or a bare IPv6 address */
		size_t hlen = (size_t)(colon - text);
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		port = colon + 1;
		family = AF_INET;
	}
	unsigned long portnum;
	if (!parse_uint(port, &portnum) || portnum < 1 || portnum > 65535 || strlen(port) > 5)
		return false;

	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)portnum);
		out->addr_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)portnum);
		out->addr_len = sizeof(*sin6);
	}
	memcpy(out->text, text, len + 1);
	return true;
}

static bool parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(text, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcmp(text, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* The index of text among the space-separated words, ignoring case. */
static bool parse_choice(const char *words, const char *text, unsigned long *out)
{
	size_t len = strlen(text);
	unsigned long i = 0;
	for (const char *w = words; *w; i++) {
		size_t wlen = strcspn(w, " ");
		if (wlen == len && !strncasecmp(w, text, len)) {
			*out = i;
			return true;
		}
		w += wlen;
		w += *w == ' ';
	}
	return false;
}

static bool parse_double(const char *text, double *out)
{
	if (!*text || isspace((unsigned char)*text))
		return false;
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* ---- item checks: each validates one text and writes its canonical form ---- */

static const char *copy_out(const char *text, char *out, size_t outlen)
{
	if (strlen(text) >= outlen)
		return "too long";
	strcpy(out, text);
	return NULL;
}

static const char *check_ipv4(const char *text, char *out, size_t outlen)
{
	struct in_addr a;
	if (inet_pton(AF_INET, text, &a) != 1 || !inet_ntop(AF_INET, &a, out, (socklen_t)outlen))
		return "";
	return NULL;
}

static const char *check_ipv6(const char *text, char *out, size_t outlen)
{
	struct in6_addr a;
	if (inet_pton(AF_INET6, text, &a) != 1 || !inet_ntop(AF_INET6, &a, out, (socklen_t)outlen))
		return "";
	return NULL;
}

static bool all_chars(const char *s, size_t n, int (*is)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !is((unsigned char)s[i]))
			return false;
	return true;
}

/* "ADDR/LEN" with no bits set past LEN (a bare ADDR is one host),
 * canonical "net:ADDR/LEN". */
static const char *check_net(const char *cidr, char *out, size_t outlen)
{
	const char *slash = strchr(cidr, '/');
	unsigned long len = 0;
	char host[INET6_ADDRSTRLEN + 1];
	size_t hlen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (hlen == 0 || hlen >= sizeof(host) ||
	    (slash && (!parse_uint(slash + 1, &len) || strlen(slash + 1) > 3)))
		return "want net:ADDRESS/LENGTH";
	memcpy(host, cidr, hlen);
	host[hlen] = '\0';
	uint8_t addr[16];
	int family = strchr(host, ':') ? AF_INET6 : AF_INET;
	unsigned bits = family == AF_INET ? 32 : 128;
	if (inet_pton(family, host, addr) != 1)
		return "want net:ADDRESS/LENGTH";
	if (!slash)
		len = bits;
	if (len > bits)
		return family == AF_INET ? "prefix length is more than 32" : "prefix length is more than 128";
	bool host_bits = false;
	for (unsigned i = (unsigned)len; i < bits; i++) {
		uint8_t mask = (uint8_t)(0x80u >> (i % 8));
		if (addr[i / 8] & mask) {
			host_bits = true;
			addr[i / 8] &= (uint8_t)~mask;
		}
	}
	char canon[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, canon, sizeof(canon));
	if (host_bits) {
		/* The reason goes in out: the caller prints it instead of a canonical form. */
		snprintf(out, outlen, "bits are set past /%lu (the network is %s/%lu)", len, canon, len);
		return out;
	}
	if ((size_t)snprintf(out, outlen, "net:%s/%lu", canon, len) >= outlen)
		return "too long";
	return NULL;
}

/*
 * Client selectors and geo keys: "continent:XX", "country:XX",
 * "subdivision:XX-YYY", "net:CIDR", "asn:N" (and "default" for geo keys).
 * The kind is matched without regard to case; codes come out upper-case,
 * as GeoIP databases spell them, so "country:us" and "country:US" are the
 * same key.
 */
static const char *check_selector(const char *text, bool allow_default, char *out, size_t outlen)
{
	const char *want =
	    allow_default ? "want continent:XX, country:XX, subdivision:XX-YYY, net:CIDR, asn:N or default"
	                  : "want continent:XX, country:XX, subdivision:XX-YYY, net:CIDR or asn:N";
	if (allow_default && !strcasecmp(text, "default"))
		return copy_out("default", out, outlen);
	const char *colon = strchr(text, ':');
	if (!colon)
		return want;
	size_t klen = (size_t)(colon - text);
	const char *v = colon + 1;
	size_t vlen = strlen(v);
	char code[8];
	if (klen == 9 && !strncasecmp(text, "continent", 9)) {
		static const char *const continents[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};
		if (vlen != 2 || !all_chars(v, 2, isalpha))
			return "want a two-letter continent code (AF, AN, AS, EU, NA, OC, SA)";
		code[0] = (char)toupper((unsigned char)v[0]);
		code[1] = (char)toupper((unsigned char)v[1]);
		code[2] = '\0';
		for (size_t i = 0; i < sizeof(continents) / sizeof(continents[0]); i++)
			if (!strcmp(code, continents[i])) {
				snprintf(out, outlen, "continent:%s", code);
				return NULL;
			}
		return "unknown continent code (want AF, AN, AS, EU, NA, OC or SA)";
	}
	if (klen == 7 && !strncasecmp(text, "country", 7)) {
		if (vlen != 2 || !all_chars(v, 2, isalpha))
			return "want a two-letter ISO 3166-1 country code";
		snprintf(out, outlen, "country:%c%c", toupper((unsigned char)v[0]),
		         toupper((unsigned char)v[1]));
		return NULL;
	}
	if (klen == 11 && !strncasecmp(text, "subdivision", 11)) {
		if (vlen < 4 || vlen > 6 || !all_chars(v, 2, isalpha) || v[2] != '-' ||
		    !all_chars(v + 3, vlen - 3, isalnum))
			return "want an ISO 3166-2 code: country, '-', 1 to 3 letters or digits (US-CA)";
		size_t i = 0;
		for (; i < vlen; i++)
			code[i] = (char)toupper((unsigned char)v[i]);
		code[i] = '\0';
		snprintf(out, outlen, "subdivision:%s", code);
		return NULL;
	}
	if (klen == 3 && !strncasecmp(text, "net", 3))
		return check_net(v, out, outlen);
	if (klen == 3 && !strncasecmp(text, "asn", 3)) {
		unsigned long n;
		if (vlen > 2 && !strncasecmp(v, "AS", 2)) { /* "asn:AS64500", as registries write it */
			v += 2;
			vlen -= 2;
		}
		if (vlen > 10 || !parse_uint(v, &n) || n < 1 || n > 4294967295UL)
			return "want an AS number 1..4294967295";
		snprintf(out, outlen, "asn:%lu", n);
		return NULL;
	}
	return want;
}

static const char *check_geo_key(const char *text, char *out, size_t outlen)
{
	return check_selector(text, true, out, outlen);
}

static const char *check_client_selector(const char *text, char *out, size_t outlen)
{
	return check_selector(text, false, out, outlen);
}

/* "jurisdiction:X" or "datacenter:NAME"; the names are checked by the
 * policy module, which knows the datacenters. */
static const char *check_allowed_selector(const char *text, char *out, size_t outlen)
{
	const char *colon = strchr(text, ':');
	if (!colon || !colon[1] ||
	    !((colon - text == 12 && !strncmp(text, "jurisdiction", 12)) ||
	      (colon - text == 10 && !strncmp(text, "datacenter", 10))))
		return "want jurisdiction:X or datacenter:NAME";
	return copy_out(text, out, outlen);
}

/* A check's name: it appears in log lines and JSON, so printable ASCII
 * without spaces or commas keeps those readable. */
static const char *check_check_name(const char *text, char *out, size_t outlen)
{
	if (strlen(text) > 64)
		return "at most 64 characters";
	for (const char *p = text; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == ',')
			return "letters, digits and punctuation only";
	return copy_out(text, out, outlen);
}

/* server.user: the account must exist where the config is loaded (a
 * typo would otherwise surface only when the daemon starts as root). */
static const char *check_user(const char *text, char *out, size_t outlen)
{
	(void)out;
	(void)outlen;
	struct privileges_account account;
	return privileges_lookup(text, &account);
}

/* "@", a name relative to the zone's origin, or an absolute one. */
static const char *check_record_name(const char *text, char *out, size_t outlen)
{
	uint8_t wire[DNAME_MAXLEN];
	if (strcmp(text, "@") && dname_from_text(text, wire) < 0)
		return "";
	return copy_out(text, out, outlen);
}

static void store_uint(void *field, size_t width, unsigned long v)
{
	switch (width) {
	case sizeof(uint8_t):
		*(uint8_t *)field = (uint8_t)v;
		break;
	case sizeof(uint16_t):
		*(uint16_t *)field = (uint16_t)v;
		break;
	case sizeof(uint32_t):
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = (uint64_t)v;
		break;
	}
}

static char *config_resolve_path(const struct config_reader *r, const char *text)
{
	size_t len = strlen(text);
	if (text[0] == '/' || !r->dir)
		return strdup(text);
	char *p = malloc(r->dir_len + 1 + len + 1);
	if (!p)
		return NULL;
	memcpy(p, r->dir, r->dir_len);
	p[r->dir_len] = '/';
	memcpy(p + r->dir_len + 1, text, len + 1);
	return p;
}

/* ---- freeing, by the schema ---- */

static void schema_free(const struct schema_item *items, void *base);

static size_t *count_field(const struct schema_item *it, void *base)
{
	return (size_t *)((char *)base + it->count_offset);
}

/* Frees what one item owns and resets it to empty. */
static void schema_free_item(const struct schema_item *it, void *base)
{
	char *field = (char *)base + it->offset;
	switch (it->type) {
	case SCHEMA_SECTION:
		schema_free(it->sub, base);
		break;
	case SCHEMA_TABLE:
	case SCHEMA_NAMED: {
		char *array = *(char **)field;
		size_t count = *count_field(it, base);
		for (size_t i = 0; i < count; i++) {
			schema_free(it->sub, array + i * it->elem_size);
			if (it->type == SCHEMA_NAMED)
				free(*(char **)(array + i * it->elem_size + it->name_offset));
		}
		free(array);
		*(char **)field = NULL;
		*count_field(it, base) = 0;
		break;
	}
	case SCHEMA_UINTS:
		free(*(unsigned **)field);
		*(unsigned **)field = NULL;
		*count_field(it, base) = 0;
		break;
	case SCHEMA_STRLIST: {
		char **list = *(char ***)field;
		for (size_t i = 0; i < *count_field(it, base); i++)
			free(list[i]);
		free(list);
		*(char ***)field = NULL;
		*count_field(it, base) = 0;
		break;
	}
	case SCHEMA_TARGETS:
	case SCHEMA_GEO:
	case SCHEMA_WEIGHTS: {
		/* The kinds share one targets array: the first row frees it and
		 * leaves it empty for the others. */
		struct config_policy_target *t = *(struct config_policy_target **)field;
		for (size_t i = 0; i < *count_field(it, base); i++) {
			free(t[i].key);
			free(t[i].target);
		}
		free(t);
		*(struct config_policy_target **)field = NULL;
		*count_field(it, base) = 0;
		break;
	}
	case SCHEMA_LISTEN:
		*count_field(it, base) = 0;
		/* fall through */
	case SCHEMA_STRING:
	case SCHEMA_PATH:
	case SCHEMA_DNAME:
		free(*(void **)field);
		*(void **)field = NULL;
		break;
	case SCHEMA_UINT:
	case SCHEMA_MSEC:
	case SCHEMA_BOOL:
	case SCHEMA_COORDS:
	case SCHEMA_CHOICE:
		break;
	}
}

static void schema_free(const struct schema_item *items, void *base)
{
	for (const struct schema_item *it = items; it->name; it++)
		schema_free_item(it, base);
}

/* ---- values ---- */

/* Stores a scalar value (from the file when node is set, else a default
 * text).  `where` names the enclosing section for messages ("in server"). */
static int schema_set_scalar(struct config_reader *r, const struct schema_item *it, void *base,
                             const char *text, int line, const char *where)
{
	char *field = (char *)base + it->offset;
	unsigned long v = 0;
	switch (it->type) {
	case SCHEMA_UINT:
		if (!parse_uint(text, &v))
			return config_fail(r, line, "%s %s: want an integer %lu..%lu, got '%s'", it->name,
			                   where, it->min, it->max, text);
		break;
	case SCHEMA_MSEC:
		if (!parse_msec(text, &v))
			return config_fail(
			    r, line, "%s %s: want a duration (1500, \"500ms\", \"10s\", \"2m\"), got '%s'",
			    it->name, where, text);
		break;
	case SCHEMA_CHOICE:
		if (!parse_choice(it->what, text, &v))
			return config_fail(r, line, "%s %s: want one of %s, got '%s'", it->name, where,
			                   it->what, text);
		store_uint(field, it->width, v);
		return 0;
	case SCHEMA_BOOL: {
		bool b;
		if (!parse_bool(text, &b))
			return config_fail(r, line, "%s %s: want true or false, got '%s'", it->name, where,
			                   text);
		*(bool *)field = b;
		return 0;
	}
	case SCHEMA_DNAME: {
		uint8_t wire[DNAME_MAXLEN];
		char canon[DNAME_TEXT_MAXLEN];
		if (dname_from_text(text, wire) < 0 || dname_to_text(wire, canon, sizeof(canon)) < 0)
			return config_fail(r, line, "%s %s: bad domain name '%s'", it->name, where, text);
		char *copy = strdup(canon);
		if (!copy)
			return config_fail(r, line, "out of memory");
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case SCHEMA_STRING:
	case SCHEMA_PATH: {
		size_t len = strlen(text);
		if (len < it->min || len > it->max)
			return config_fail(r, line, "%s %s: length %zu is out of range %lu..%lu", it->name,
			                   where, len, it->min, it->max);
		if (it->check) {
			const char *why = it->check(text, NULL, 0);
			if (why)
				return config_fail(r, line, "%s %s: '%s': %s", it->name, where, text, why);
		}
		char *copy = it->type == SCHEMA_PATH ? config_resolve_path(r, text) : strdup(text);
		if (!copy)
			return config_fail(r, line, "out of memory");
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	default:
		return config_fail(r, line, "%s %s: internal schema error", it->name, where);
	}
	if (v < it->min || v > it->max)
		return config_fail(r, line, "%s %s: %lu is out of range %lu..%lu%s", it->name, where, v,
		                   it->min, it->max, it->type == SCHEMA_MSEC ? " ms" : "");
	if (it->type == SCHEMA_MSEC)
		*(unsigned *)field = (unsigned)v;
	else
		store_uint(field, it->width, v);
	return 0;
}

static int listen_append(struct config_reader *r, const struct schema_item *it, void *base, const char *text,
                         int line)
{
	struct config_listen **array = (struct config_listen **)((char *)base + it->offset);
	size_t *count = count_field(it, base);
	struct config_listen entry;
	if (!parse_listen(text, &entry))
		return config_fail(r, line, "bad listen address '%s' (want ADDR:PORT or [ADDR6]:PORT)", text);
	for (size_t i = 0; i < *count; i++)
		if ((*array)[i].addr_len == entry.addr_len &&
		    !memcmp(&(*array)[i].addr, &entry.addr, entry.addr_len))
			return config_fail(r, line, "duplicate listen address '%s'", text);
	struct config_listen *grown = realloc(*array, (*count + 1) * sizeof(**array));
	if (!grown)
		return config_fail(r, line, "out of memory");
	grown[*count] = entry;
	*array = grown;
	(*count)++;
	return 0;
}

static int schema_set_defaults(struct config_reader *r, const struct schema_item *items, void *base)
{
	for (const struct schema_item *it = items; it->name; it++) {
		if (it->type == SCHEMA_SECTION) {
			if (schema_set_defaults(r, it->sub, base) < 0)
				return -1;
		} else if (it->def_fn) {
			store_uint((char *)base + it->offset, it->width, it->def_fn());
		} else if (it->def && it->type == SCHEMA_LISTEN) {
			char buf[256];
			snprintf(buf, sizeof(buf), "%s", it->def);
			for (char *save, *tok = strtok_r(buf, " ", &save); tok;
			     tok = strtok_r(NULL, " ", &save))
				if (listen_append(r, it, base, tok, 0) < 0)
					return -1;
		} else if (it->def) {
			if (schema_set_scalar(r, it, base, it->def, 0, "in defaults") < 0)
				return -1;
		}
	}
	return 0;
}

static int schema_read_map(struct config_reader *r, const struct schema_item *items, void *base,
                           yaml_node_t *map, const char *where, int *lines);

static size_t seq_len(const yaml_node_t *seq)
{
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static yaml_node_t *seq_at(struct config_reader *r, const yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(r->doc, seq->data.sequence.items.start[i]);
}

static int schema_read_listen(struct config_reader *r, const struct schema_item *it, void *base,
                              yaml_node_t *value, const char *where)
{
	schema_free_item(it, base); /* the file's list replaces the default one */
	if (value->type == YAML_SCALAR_NODE)
		return listen_append(r, it, base, node_text(value), node_line(value));
	if (value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "listen %s: want a list of addresses, got %s", where,
		                   node_kind(value));
	for (size_t i = 0; i < seq_len(value); i++) {
		yaml_node_t *n = seq_at(r, value, i);
		if (n->type != YAML_SCALAR_NODE)
			return config_fail(r, node_line(n), "listen %s: want an address, got %s", where,
			                   node_kind(n));
		if (listen_append(r, it, base, node_text(n), node_line(n)) < 0)
			return -1;
	}
	if (*count_field(it, base) == 0)
		return config_fail(r, node_line(value), "listen %s: the list is empty", where);
	return 0;
}

static int schema_read_coords(struct config_reader *r, const struct schema_item *it, void *base,
                              yaml_node_t *value, const char *where)
{
	double v[2];
	if (value->type != YAML_SEQUENCE_NODE || seq_len(value) != 2)
		return config_fail(r, node_line(value), "%s %s: want [LATITUDE, LONGITUDE]", it->name, where);
	for (size_t i = 0; i < 2; i++) {
		yaml_node_t *n = seq_at(r, value, i);
		if (n->type != YAML_SCALAR_NODE || !parse_double(node_text(n), &v[i]))
			return config_fail(r, node_line(n),
			                   "%s %s: want [LATITUDE, LONGITUDE] in degrees, got %s%s%s",
			                   it->name, where, n->type == YAML_SCALAR_NODE ? "'" : "",
			                   n->type == YAML_SCALAR_NODE ? node_text(n) : node_kind(n),
			                   n->type == YAML_SCALAR_NODE ? "'" : "");
	}
	if (v[0] < -90 || v[0] > 90)
		return config_fail(r, node_line(value), "%s %s: latitude %g is out of range -90..90",
		                   it->name, where, v[0]);
	if (v[1] < -180 || v[1] > 180)
		return config_fail(r, node_line(value), "%s %s: longitude %g is out of range -180..180",
		                   it->name, where, v[1]);
	*(double *)((char *)base + it->offset) = v[0];
	*(double *)((char *)base + it->offset2) = v[1];
	*(bool *)((char *)base + it->flag_offset) = true;
	return 0;
}

/* Runs it->check on one item: the canonical text in out, or an error. */
static int schema_check_item(struct config_reader *r, const struct schema_item *it, const char *text,
                             int line, const char *where, char *out, size_t outlen)
{
	const char *why = it->check(text, out, outlen);
	if (!why)
		return 0;
	return config_fail(r, line, "bad %s '%s' %s%s%s", it->what, text, where, *why ? ": " : "", why);
}

static int schema_read_strlist(struct config_reader *r, const struct schema_item *it, void *base,
                               yaml_node_t *value, const char *where)
{
	yaml_node_t *single = it->scalar_ok && value->type == YAML_SCALAR_NODE ? value : NULL;
	if (!single && value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "%s %s: want a list, got %s", it->name, where,
		                   node_kind(value));
	schema_free_item(it, base);
	size_t n = single ? 1 : seq_len(value);
	if (n < it->min)
		return config_fail(r, node_line(value), "%s %s: the list is empty", it->name, where);
	char ***list = (char ***)((char *)base + it->offset);
	size_t *count = count_field(it, base);
	if (n == 0)
		return 0;
	*list = calloc(n, sizeof(**list));
	if (!*list)
		return config_fail(r, node_line(value), "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = single ? single : seq_at(r, value, i);
		char canon[DNAME_TEXT_MAXLEN];
		if (item->type != YAML_SCALAR_NODE)
			return config_fail(r, node_line(item),
			                   "%s %s: want a single value in the list, got %s", it->name, where,
			                   node_kind(item));
		if (schema_check_item(r, it, node_text(item), node_line(item), where, canon, sizeof(canon)) <
		    0)
			return -1;
		for (size_t k = 0; k < *count; k++)
			if (!strcmp((*list)[k], canon))
				return config_fail(r, node_line(item), "duplicate %s '%s' %s", it->what,
				                   node_text(item), where);
		(*list)[*count] = strdup(canon);
		if (!(*list)[*count])
			return config_fail(r, node_line(item), "out of memory");
		(*count)++;
	}
	return 0;
}

/* A list of numbers, or one number standing for a one-item list. */
static int schema_read_uintlist(struct config_reader *r, const struct schema_item *it, void *base,
                                yaml_node_t *value, const char *where)
{
	bool single = value->type == YAML_SCALAR_NODE;
	if (!single && value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "%s %s: want a list of integers, got %s", it->name,
		                   where, node_kind(value));
	schema_free_item(it, base);
	size_t n = single ? 1 : seq_len(value);
	if (n == 0)
		return config_fail(r, node_line(value), "%s %s: the list is empty", it->name, where);
	unsigned **list = (unsigned **)((char *)base + it->offset);
	size_t *count = count_field(it, base);
	*list = calloc(n, sizeof(**list));
	if (!*list)
		return config_fail(r, node_line(value), "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = single ? value : seq_at(r, value, i);
		unsigned long v;
		if (item->type != YAML_SCALAR_NODE || !parse_uint(node_text(item), &v) || v < it->min ||
		    v > it->max)
			return config_fail(r, node_line(item), "%s %s: want integers %lu..%lu, got %s%s%s",
			                   it->name, where, it->min, it->max,
			                   item->type == YAML_SCALAR_NODE ? "'" : "",
			                   item->type == YAML_SCALAR_NODE ? node_text(item) : node_kind(item),
			                   item->type == YAML_SCALAR_NODE ? "'" : "");
		for (size_t k = 0; k < *count; k++)
			if ((*list)[k] == v)
				return config_fail(r, node_line(item), "duplicate %s %lu %s", it->name, v,
				                   where);
		(*list)[(*count)++] = (unsigned)v;
	}
	return 0;
}

/* ---- policy targets ---- */

static int target_append(struct config_reader *r, const struct schema_item *it, void *base, const char *key,
                         const char *target, unsigned weight, int line)
{
	struct config_policy_target **array = (struct config_policy_target **)((char *)base + it->offset);
	size_t *count = count_field(it, base);
	struct config_policy_target *grown = realloc(*array, (*count + 1) * sizeof(**array));
	if (!grown)
		return config_fail(r, line, "out of memory");
	*array = grown;
	struct config_policy_target *t = &grown[*count];
	*t = (struct config_policy_target){.weight = weight, .line = line};
	(*count)++; /* counted first, so a failure below frees what is there */
	t->target = strdup(target);
	if (key)
		t->key = strdup(key);
	if (!t->target || (key && !t->key))
		return config_fail(r, line, "out of memory");
	return 0;
}

/* A target name: a non-empty scalar. */
static int target_name(struct config_reader *r, const struct schema_item *it, yaml_node_t *n,
                       const char *where)
{
	if (n->type != YAML_SCALAR_NODE)
		return config_fail(r, node_line(n), "%s %s: want a datacenter or policy name, got %s",
		                   it->name, where, node_kind(n));
	size_t len = strlen(node_text(n));
	if (len == 0 || len > 255)
		return config_fail(r, node_line(n), "%s %s: a name is 1..255 characters", it->name, where);
	return 0;
}

static const struct config_policy_target *target_find(const struct schema_item *it, void *base, bool by_key,
                                                      const char *text)
{
	const struct config_policy_target *t = *(struct config_policy_target **)((char *)base + it->offset);
	for (size_t i = 0; i < *count_field(it, base); i++)
		if (!strcmp(by_key ? t[i].key : t[i].target, text))
			return &t[i];
	return NULL;
}

/* failover, latency, all: a list of names. */
static int schema_read_targets(struct config_reader *r, const struct schema_item *it, void *base,
                               yaml_node_t *value, const char *where)
{
	if (value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "%s %s: want a list of names, got %s", it->name,
		                   where, node_kind(value));
	for (size_t i = 0; i < seq_len(value); i++) {
		yaml_node_t *n = seq_at(r, value, i);
		if (target_name(r, it, n, where) < 0)
			return -1;
		if (target_find(it, base, false, node_text(n)))
			return config_fail(r, node_line(n), "duplicate target '%s' %s", node_text(n), where);
		if (target_append(r, it, base, NULL, node_text(n), 0, node_line(n)) < 0)
			return -1;
	}
	return 0;
}

/* geo: KEY → name; weighted: name → weight. */
static int schema_read_target_map(struct config_reader *r, const struct schema_item *it, void *base,
                                  yaml_node_t *value, const char *where)
{
	if (value->type != YAML_MAPPING_NODE)
		return config_fail(r, node_line(value), "%s %s: want a mapping, got %s", it->name, where,
		                   node_kind(value));
	for (yaml_node_pair_t *p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(r->doc, p->value);
		int line = node_line(key);
		if (key->type != YAML_SCALAR_NODE)
			return config_fail(r, line, "%s %s: keys must be plain strings, got %s", it->name,
			                   where, node_kind(key));
		if (it->type == SCHEMA_GEO) {
			char canon[DNAME_TEXT_MAXLEN];
			if (schema_check_item(r, it, node_text(key), line, where, canon, sizeof(canon)) < 0)
				return -1;
			if (target_find(it, base, true, canon))
				return config_fail(r, line, "duplicate key '%s' %s", canon, where);
			if (target_name(r, it, val, where) < 0 ||
			    target_append(r, it, base, canon, node_text(val), 0, line) < 0)
				return -1;
			continue;
		}
		unsigned long w;
		if (target_name(r, it, key, where) < 0)
			return -1;
		if (target_find(it, base, false, node_text(key)))
			return config_fail(r, line, "duplicate key '%s' %s", node_text(key), where);
		if (val->type != YAML_SCALAR_NODE || !parse_uint(node_text(val), &w) || w < it->min ||
		    w > it->max)
			return config_fail(
			    r, node_line(val), "weight of '%s' %s: want an integer %lu..%lu, got %s%s%s",
			    node_text(key), where, it->min, it->max, val->type == YAML_SCALAR_NODE ? "'" : "",
			    val->type == YAML_SCALAR_NODE ? node_text(val) : node_kind(val),
			    val->type == YAML_SCALAR_NODE ? "'" : "");
		if (target_append(r, it, base, NULL, node_text(key), (unsigned)w, line) < 0)
			return -1;
	}
	return 0;
}

/* ---- entries of tables and named maps ---- */

/* "geo, failover, ..." : the variant rows of items; empty when none. */
static void variant_names(const struct schema_item *items, char *buf, size_t len)
{
	buf[0] = '\0';
	for (const struct schema_item *s = items; s->name; s++) {
		size_t used = strlen(buf);
		if (s->variant)
			snprintf(buf + used, len - used, "%s%s", used ? ", " : "", s->name);
	}
}

/* Kinds (variant rows): exactly one given (schema_read_map refuses a
 * second), with targets; options (only_with rows) only beside their kind. */
static int schema_check_variants(struct config_reader *r, const struct schema_item *items, char *elem,
                                 const int *lines, const char *what, const char *name, int line)
{
	const struct schema_item *chosen = NULL;
	char kinds[256];
	variant_names(items, kinds, sizeof(kinds));
	if (!kinds[0])
		return 0;
	for (unsigned i = 0; items[i].name && !chosen; i++)
		if (items[i].variant && lines[i])
			chosen = &items[i];
	if (!chosen)
		return config_fail(r, line, "%s '%s' needs exactly one of %s", what, name, kinds);
	for (unsigned i = 0; items[i].name; i++)
		if (items[i].only_with && lines[i] && strcmp(items[i].only_with, chosen->name))
			return config_fail(r, lines[i], "%s in %s %s: only valid with %s", items[i].name,
			                   what, name, items[i].only_with);
	if (*count_field(chosen, elem) == 0)
		return config_fail(r, lines[chosen - items], "%s in %s %s: no targets", chosen->name, what,
		                   name);
	store_uint(elem + chosen->variant_offset, chosen->width, (unsigned long)(chosen->variant - 1));
	return 0;
}

/* Reads one entry (map, or NULL for a null value) into elem.  name is the
 * entry's name in a named map, NULL in a table. */
static int schema_read_entry(struct config_reader *r, const struct schema_item *it, char *elem,
                             yaml_node_t *map, const char *name, int line)
{
	char where[320];
	if (name)
		snprintf(where, sizeof(where), "in %s %s", it->what, name);
	else
		snprintf(where, sizeof(where), "in %s", it->name);
	int lines[64] = {0};
	const char *outer_what = r->entry_what, *outer_name = r->entry_name;
	r->entry_what = it->what;
	r->entry_name = name ? name : "";
	int rc = schema_set_defaults(r, it->sub, elem);
	if (rc == 0 && map)
		rc = schema_read_map(r, it->sub, elem, map, where, lines);
	r->entry_what = outer_what;
	r->entry_name = outer_name;
	if (rc < 0)
		return -1;
	for (const struct schema_item *s = it->sub; s->name; s++) {
		if (!s->required || *(void **)(elem + s->offset))
			continue;
		if (name)
			return config_fail(r, line, "%s '%s' has no '%s'", it->what, name, s->name);
		return config_fail(r, line, "%s entry has no '%s'", it->what, s->name);
	}
	if (schema_check_variants(r, it->sub, elem, lines, it->what, name ? name : "", line) < 0)
		return -1;
	return it->finish ? it->finish(r, it->sub, elem, lines, where) : 0;
}

static int schema_read_table(struct config_reader *r, const struct schema_item *it, void *base,
                             yaml_node_t *value)
{
	if (value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "%s: want a list of mappings, got %s", it->name,
		                   node_kind(value));
	schema_free_item(it, base);
	char **array = (char **)((char *)base + it->offset);
	size_t *count = count_field(it, base);
	size_t n = seq_len(value);
	if (n == 0)
		return 0;
	*array = calloc(n, it->elem_size);
	if (!*array)
		return config_fail(r, node_line(value), "out of memory");

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *entry = seq_at(r, value, i);
		char *elem = *array + i * it->elem_size;
		*count = i + 1; /* counted before filling, so a failure frees it */
		*(int *)(elem + it->line_offset) = node_line(entry);
		if (entry->type != YAML_MAPPING_NODE)
			return config_fail(r, node_line(entry), "%s: each entry must be a mapping, got %s",
			                   it->name, node_kind(entry));
		if (schema_read_entry(r, it, elem, entry, NULL, node_line(entry)) < 0)
			return -1;
	}
	return 0;
}

static int schema_read_named(struct config_reader *r, const struct schema_item *it, void *base,
                             yaml_node_t *value)
{
	if (value->type != YAML_MAPPING_NODE)
		return config_fail(r, node_line(value), "%s: want a mapping of names, got %s", it->name,
		                   node_kind(value));
	schema_free_item(it, base);
	char **array = (char **)((char *)base + it->offset);
	size_t *count = count_field(it, base);
	size_t n = (size_t)(value->data.mapping.pairs.top - value->data.mapping.pairs.start);
	if (n == 0)
		return 0;
	*array = calloc(n, it->elem_size);
	if (!*array)
		return config_fail(r, node_line(value), "out of memory");

	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &value->data.mapping.pairs.start[i];
		yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *entry = yaml_document_get_node(r->doc, p->value);
		int line = node_line(key);
		if (key->type != YAML_SCALAR_NODE)
			return config_fail(r, line, "%s: names must be plain strings, got %s", it->name,
			                   node_kind(key));
		const char *name = node_text(key);
		size_t len = strlen(name);
		if (len == 0 || len > 255)
			return config_fail(r, line, "%s: a name is 1..255 characters", it->name);
		char canon[DNAME_TEXT_MAXLEN];
		const char *why = it->check ? it->check(name, canon, sizeof(canon)) : NULL;
		if (why)
			return config_fail(r, line, "bad %s name '%s' in %s%s%s", it->what, name, it->name,
			                   *why ? ": " : "", why);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(*(char **)(*array + k * it->elem_size + it->name_offset), name))
				return config_fail(r, line, "duplicate key '%s' in %s", name, it->name);

		char *elem = *array + i * it->elem_size;
		*count = i + 1; /* counted before filling, so a failure frees it */
		*(int *)(elem + it->line_offset) = line;
		char *copy = strdup(name);
		if (!copy)
			return config_fail(r, line, "out of memory");
		*(char **)(elem + it->name_offset) = copy;
		bool empty = node_is_null(entry);
		if (!empty && entry->type != YAML_MAPPING_NODE)
			return config_fail(r, node_line(entry), "%s %s: want a mapping, got %s", it->what,
			                   name, node_kind(entry));
		if (schema_read_entry(r, it, elem, empty ? NULL : entry, name, line) < 0)
			return -1;
	}
	return 0;
}

static int schema_read_section(struct config_reader *r, const struct schema_item *it, void *base,
                               yaml_node_t *value)
{
	if (value->type != YAML_MAPPING_NODE)
		return config_fail(r, node_line(value), "%s: want a mapping, got %s", it->name,
		                   node_kind(value));
	if (it->has_line)
		*(int *)((char *)base + it->line_offset) = node_line(value);
	char where[64];
	snprintf(where, sizeof(where), "in %s", it->name);
	return schema_read_map(r, it->sub, base, value, where, NULL);
}

static int schema_read_value(struct config_reader *r, const struct schema_item *it, void *base,
                             yaml_node_t *value, const char *where)
{
	if (node_is_null(value))
		return 0; /* keep the default */
	switch (it->type) {
	case SCHEMA_SECTION:
		return schema_read_section(r, it, base, value);
	case SCHEMA_TABLE:
		return schema_read_table(r, it, base, value);
	case SCHEMA_NAMED:
		return schema_read_named(r, it, base, value);
	case SCHEMA_LISTEN:
		return schema_read_listen(r, it, base, value, where);
	case SCHEMA_COORDS:
		return schema_read_coords(r, it, base, value, where);
	case SCHEMA_STRLIST:
		return schema_read_strlist(r, it, base, value, where);
	case SCHEMA_UINTS:
		return schema_read_uintlist(r, it, base, value, where);
	case SCHEMA_TARGETS:
		return schema_read_targets(r, it, base, value, where);
	case SCHEMA_GEO:
	case SCHEMA_WEIGHTS:
		return schema_read_target_map(r, it, base, value, where);
	default:
		if (value->type != YAML_SCALAR_NODE)
			return config_fail(r, node_line(value), "%s %s: want a single value, got %s",
			                   it->name, where, node_kind(value));
		if (it->has_line)
			*(int *)((char *)base + it->line_offset) = node_line(value);
		return schema_set_scalar(r, it, base, node_text(value), node_line(value), where);
	}
}

/* Reads map's keys against items; lines (when set) gets each key's line. */
static int schema_read_map(struct config_reader *r, const struct schema_item *items, void *base,
                           yaml_node_t *map, const char *where, int *lines)
{
	uint64_t seen = 0; /* bit i: items[i] already given; tables are short */
	const struct schema_item *variant = NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *value = yaml_document_get_node(r->doc, p->value);
		if (key->type != YAML_SCALAR_NODE)
			return config_fail(r, node_line(key), "keys must be plain names, got %s %s",
			                   node_kind(key), where);
		const char *name = node_text(key);
		unsigned i = 0;
		while (items[i].name && strcmp(items[i].name, name))
			i++;
		if (!items[i].name)
			return config_fail(r, node_line(key), "unknown key '%s' %s", name, where);
		if (i < 64 && (seen & (UINT64_C(1) << i)))
			return config_fail(r, node_line(key), "duplicate key '%s' %s", name, where);
		if (items[i].variant && variant) {
			/* The kinds share one targets array: stop at the second. */
			char kinds[256];
			variant_names(items, kinds, sizeof(kinds));
			return config_fail(r, node_line(key), "%s '%s' needs exactly one of %s",
			                   r->entry_what, r->entry_name, kinds);
		}
		if (items[i].variant)
			variant = &items[i];
		if (i < 64)
			seen |= UINT64_C(1) << i;
		if (lines && i < 64)
			lines[i] = node_line(key);
		if (schema_read_value(r, &items[i], base, value, where) < 0)
			return -1;
	}
	return 0;
}

/* ---- rules across keys ---- */

static int schema_index(const struct schema_item *items, const char *name)
{
	int i = 0;
	while (items[i].name && strcmp(items[i].name, name))
		i++;
	return i;
}

/* down_ttl defaults to min(ttl, 10): a degraded answer should be retried
 * soon, but never cached longer than the normal one. */
static int finish_record(struct config_reader *r, const struct schema_item *items, char *elem,
                         const int *lines, const char *where)
{
	(void)r;
	(void)where;
	struct config_record *rec = (struct config_record *)elem;
	if (!lines[schema_index(items, "down_ttl")])
		rec->down_ttl = rec->ttl < 10 ? rec->ttl : 10;
	return 0;
}

/* latency_source against latency_table: `table` has nothing to rank by
 * without one, and `probes` would silently ignore one. */
static int finish_policy(struct config_reader *r, const struct schema_item *items, char *elem,
                         const int *lines, const char *where)
{
	struct config_policy *p = (struct config_policy *)elem;
	int line = lines[schema_index(items, "latency_source")];
	p->latency_source_line = line;
	if (p->latency_source == CONFIG_LATENCY_TABLE && !p->latency_table)
		return config_fail(r, line, "latency_source %s: 'table' needs latency_table", where);
	if (p->latency_source == CONFIG_LATENCY_PROBES && p->latency_table)
		return config_fail(r, line,
		                   "latency_source %s: 'probes' does not use latency_table "
		                   "(remove one, or use 'distance' or 'table')",
		                   where);
	return 0;
}

/* A datacenter answers with a CNAME or with addresses, never both: the
 * CNAME-and-other-data rule applies to what it makes us answer. */
static int finish_datacenter(struct config_reader *r, const struct schema_item *items, char *elem,
                             const int *lines, const char *where)
{
	struct config_datacenter *dc = (struct config_datacenter *)elem;
	if (dc->cname && (dc->a_count || dc->aaaa_count))
		return config_fail(r, lines[schema_index(items, "cname")],
		                   "cname %s: a datacenter with a cname "
		                   "cannot have a or aaaa addresses",
		                   where);
	int check_line = lines[schema_index(items, "check")];
	dc->check_line = check_line;
	if (dc->check_count && !dc->a_count && !dc->aaaa_count)
		return config_fail(r, check_line,
		                   "check %s: a datacenter without a or aaaa addresses has nothing to probe",
		                   where);
	/* Per-address health is one 64-bit mask per datacenter (health.h). */
	if (dc->check_count && dc->a_count + dc->aaaa_count > 64)
		return config_fail(r, check_line,
		                   "check %s: at most 64 addresses can be probed, there are %zu", where,
		                   dc->a_count + dc->aaaa_count);
	return 0;
}

/* "NAME TYPE" (health.shop.example A): the RR types a health query asks. */
static bool parse_query(const char *text, char *name, size_t namelen, uint16_t *type)
{
	static const struct {
		const char *name;
		uint16_t type;
	} types[] = {{"A", 1},    {"NS", 2},    {"CNAME", 5}, {"SOA", 6},   {"PTR", 12}, {"MX", 15},
	             {"TXT", 16}, {"AAAA", 28}, {"SRV", 33},  {"CAA", 257}, {"ANY", 255}};
	const char *space = strrchr(text, ' ');
	if (!space || space == text)
		return false;
	const char *t = space + 1;
	bool found = false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !found; i++)
		if (!strcasecmp(t, types[i].name)) {
			*type = types[i].type;
			found = true;
		}
	if (!found)
		found = wire_type_from_generic_text(t, type);
	char copy[DNAME_TEXT_MAXLEN];
	size_t len = (size_t)(space - text);
	if (!found || len >= sizeof(copy))
		return false;
	memcpy(copy, text, len);
	copy[len] = '\0';
	uint8_t wire[DNAME_MAXLEN];
	return dname_from_text(copy, wire) >= 0 && dname_to_text(wire, name, namelen) >= 0;
}

/* No CR, LF or other control bytes: path and host go into a request line. */
static bool header_safe(const char *text)
{
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Keys that only mean something for one type, defaults that depend on the
 * type, and timeout against interval. */
static int finish_check(struct config_reader *r, const struct schema_item *items, char *elem,
                        const int *lines, const char *where)
{
	struct config_check *c = (struct config_check *)elem;
	static const char *const type_names[] = {"tcp", "http", "https", "dns"};
	static const struct {
		const char *key;
		unsigned types; /* bit per enum config_check_type */
		const char *valid;
	} only[] = {
	    {"path", 1u << CONFIG_CHECK_HTTP | 1u << CONFIG_CHECK_HTTPS, "http or https"},
	    {"host", 1u << CONFIG_CHECK_HTTP | 1u << CONFIG_CHECK_HTTPS, "http or https"},
	    {"expect_status", 1u << CONFIG_CHECK_HTTP | 1u << CONFIG_CHECK_HTTPS, "http or https"},
	    {"expect_body", 1u << CONFIG_CHECK_HTTP | 1u << CONFIG_CHECK_HTTPS, "http or https"},
	    {"tls_verify", 1u << CONFIG_CHECK_HTTPS, "https"},
	    {"query", 1u << CONFIG_CHECK_DNS, "dns"},
	    {"expect_rcode", 1u << CONFIG_CHECK_DNS, "dns"},
	};
	if (!lines[schema_index(items, "type")])
		return config_fail(r, c->line, "check '%s' has no 'type' (tcp, http, https or dns)", c->name);
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		int line = lines[schema_index(items, only[i].key)];
		if (line && !(only[i].types & 1u << c->type))
			return config_fail(r, line, "%s %s: only valid with type %s, not %s", only[i].key,
			                   where, only[i].valid, type_names[c->type]);
	}
	if (!c->port) {
		static const uint16_t ports[] = {0, 80, 443, 53};
		if (c->type == CONFIG_CHECK_TCP)
			return config_fail(r, c->line, "check '%s' (type tcp) has no 'port'", c->name);
		c->port = ports[c->type];
	}
	if (c->type == CONFIG_CHECK_HTTP || c->type == CONFIG_CHECK_HTTPS) {
		if (!c->path && !(c->path = strdup("/")))
			return config_fail(r, c->line, "out of memory");
		if (c->path[0] != '/' || !header_safe(c->path))
			return config_fail(r, lines[schema_index(items, "path")],
			                   "path %s: want an absolute path without spaces, got '%s'", where,
			                   c->path);
		if (c->host && !header_safe(c->host))
			return config_fail(r, lines[schema_index(items, "host")],
			                   "host %s: want a host name without spaces, got '%s'", where,
			                   c->host);
		if (!c->expect_status_count) {
			if (!(c->expect_status = malloc(sizeof(*c->expect_status))))
				return config_fail(r, c->line, "out of memory");
			c->expect_status[0] = 200;
			c->expect_status_count = 1;
		}
	}
	if (c->type == CONFIG_CHECK_DNS) {
		/* query: is read into query_name as written, then split here. */
		char name[DNAME_TEXT_MAXLEN];
		if (!c->query_name)
			return config_fail(r, c->line, "check '%s' (type dns) has no 'query'", c->name);
		if (!parse_query(c->query_name, name, sizeof(name), &c->query_type))
			return config_fail(r, lines[schema_index(items, "query")],
			                   "query %s: want \"NAME TYPE\" (health.example.com A), got '%s'",
			                   where, c->query_name);
		char *copy = strdup(name);
		if (!copy)
			return config_fail(r, c->line, "out of memory");
		free(c->query_name);
		c->query_name = copy;
	}
	/* Rounds start every interval ±10% and one still running skips the
	 * next: a timeout of 90% of the interval or more would lose rounds
	 * against a silent target and stretch interval × fall + timeout. */
	if ((uint64_t)c->timeout_ms * 10 >= (uint64_t)c->interval_ms * 9) {
		int line = lines[schema_index(items, "timeout")];
		return config_fail(r, line ? line : lines[schema_index(items, "interval")],
		                   "timeout %s: %u ms must be below 90%% of the interval (%u ms): rounds start "
		                   "every interval ±10%%, so a longer timeout would skip some",
		                   where, c->timeout_ms, c->interval_ms);
	}
	return 0;
}

/* Targets name a datacenter or a policy: one name must not be both. */
/* The control socket's path (given, or run/geosteerd.sock beside the file,
 * as server.c makes it) must fit a Unix socket address; --check says so
 * rather than the start failing later. */
void config_control_path(const struct config *config, char *out, size_t outlen)
{
	if (config->control != NULL) {
		snprintf(out, outlen, "%s", config->control);
		return;
	}
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", config->path);
	snprintf(out, outlen, "%s/run/geosteerd.sock", dirname(copy));
}

static int config_check_control(struct config_reader *r, const struct config *c)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	char path[PATH_MAX + 32];
	config_control_path(c, path, sizeof path);
	if (strlen(path) <= max)
		return 0;
	if (c->control != NULL)
		return config_fail(r, c->control_line,
		                   "control in server: the path is %zu bytes, longer than a Unix socket path can be (%zu)",
		                   strlen(path), max);
	return config_fail(r, 0, "the control socket's default path %s is longer than a Unix socket path can be "
	                         "(%zu bytes); set server.control",
	                   path, max);
}

/* Probes run on the loop that also serves TCP, the control socket and
 * metrics; past this many per second (every address × check, each once
 * per interval) that loop falls behind: measured on the development VM,
 * 3,800 a second kept TCP answers at ~1 ms, 10,000 a second made them
 * 13-46 ms and 38,000 half a second. */
#define CONFIG_MAX_PROBES_PER_SECOND 5000

static int config_check_names(struct config_reader *r, const struct config *c)
{
	double per_second = 0;
	for (size_t i = 0; i < c->datacenter_count; i++) {
		const struct config_datacenter *dc = &c->datacenters[i];
		for (size_t k = 0; k < dc->check_count; k++) {
			size_t j = 0;
			while (j < c->check_count && strcmp(c->checks[j].name, dc->checks[k]))
				j++;
			if (j == c->check_count)
				return config_fail(r, dc->check_line,
				                   "check in datacenter %s: no check named '%s' in checks:",
				                   dc->name, dc->checks[k]);
			per_second += (double)(dc->a_count + dc->aaaa_count) * 1000.0 / c->checks[j].interval_ms;
		}
	}
	if (per_second > CONFIG_MAX_PROBES_PER_SECOND)
		return config_fail(r, c->check_count ? c->checks[0].line : 0,
		                   "checks: the datacenters' addresses × checks come to %.0f probes a second, more "
		                   "than the %d the serving loop can run without delaying TCP answers; lengthen "
		                   "the intervals or probe fewer addresses",
		                   per_second, CONFIG_MAX_PROBES_PER_SECOND);
	for (size_t i = 0; i < c->policy_count; i++)
		for (size_t k = 0; k < c->datacenter_count; k++)
			if (!strcmp(c->policies[i].name, c->datacenters[k].name))
				return config_fail(
				    r, c->policies[i].line,
				    "policy '%s' has the same name as the datacenter on line %d",
				    c->policies[i].name, c->datacenters[k].line);
	return 0;
}

/* ---- the file ---- */

/* The line of a byte offset: libyaml's reader (bad UTF-8, control
 * characters) reports only the offset, and its mark says line 1. */
static int config_line_at(FILE *f, size_t offset)
{
	int line = 1;
	if (fseek(f, 0, SEEK_SET) != 0)
		return line;
	for (size_t i = 0; i < offset; i++) {
		int c = getc(f);
		if (c == EOF)
			break;
		if (c == '\n')
			line++;
	}
	return line;
}

static int config_read_yaml(struct config_reader *r, FILE *f, struct config *out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return config_fail(r, 0, "out of memory");
	yaml_parser_set_input_file(&parser, f);
	int rc = 0;
	if (!yaml_parser_load(&parser, &doc)) {
		const char *problem = parser.problem ? parser.problem : "cannot parse";
		int line = (int)parser.problem_mark.line + 1;
		if (parser.error == YAML_READER_ERROR)
			line = config_line_at(f, parser.problem_offset);
		if (parser.context)
			rc = config_fail(r, line, "YAML syntax error: %s %s", problem, parser.context);
		else
			rc = config_fail(r, line, "YAML syntax error: %s", problem);
		yaml_parser_delete(&parser);
		return rc;
	}
	r->doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || node_is_null(root)) {
		/* Nothing at all (empty, only comments, a bare "---"): most
		 * likely a file truncated on its way in, and a reload of it
		 * would stop every zone.  A server meant to serve nothing says
		 * so with "zones: []". */
		rc = config_fail(r, 0, "the file has no settings (empty or only comments); "
		                       "a configuration that serves nothing says \"zones: []\"");
	} else {
		if (root->type != YAML_MAPPING_NODE)
			rc = config_fail(r, node_line(root),
			                 "the file must be a mapping (server:, zones:), got %s",
			                 node_kind(root));
		else
			rc = schema_read_map(r, schema_top, out, root, "at top level", NULL);
		if (rc == 0)
			rc = config_check_names(r, out);
		if (rc == 0)
			rc = config_check_control(r, out);
	}
	if (rc == 0 && root) {
		/* A second document would be silently ignored: refuse it. */
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			rc = config_fail(r, (int)parser.problem_mark.line + 1, "YAML syntax error: %s",
			                 parser.problem ? parser.problem : "cannot parse");
		} else {
			yaml_node_t *extra = yaml_document_get_root_node(&next);
			if (extra)
				rc = config_fail(r, node_line(extra), "only one YAML document is allowed");
			yaml_document_delete(&next);
		}
	}
	r->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/* SHA-256 of the whole file into hex (the same bytes the parser then
 * reads: the stream is rewound).  -1 with errno on a read error. */
static int config_hash_file(FILE *f, char hex[65])
{
	hex[0] = '\0';
#ifdef GEOSTEER_TLS
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return 0; /* no digest: status shows none, the load goes on */
	}
	unsigned char buf[16384];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(md, buf, n);
	int failed = ferror(f);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(md, digest, &len);
	EVP_MD_CTX_free(md);
	if (failed)
		return -1;
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	rewind(f);
#else
	(void)f;
#endif
	return 0;
}

/*
 * The deepest [ ] / { } nesting in the file, with the line where it first
 * passes CONFIG_FLOW_DEPTH_MAX (0 when it never does).  libyaml's parser
 * takes time growing with the square of that depth (100,000 levels, a
 * 200 KB file: 30 s on the loop thread that also answers the control
 * socket and SIGTERM), so a file nested past any sensible configuration is
 * refused before it is parsed.  Quoted scalars and comments are skipped;
 * the count is otherwise rough, which a limit this far above real use
 * allows.
 */
#define CONFIG_FLOW_DEPTH_MAX 64

static int config_flow_too_deep(FILE *f)
{
	int depth = 0, line = 1, c;
	char quote = 0;
	bool comment = false, blank_before = true;
	while ((c = getc(f)) != EOF) {
		if (c == '\n') {
			line++;
			comment = false;
			blank_before = true;
			continue; /* a quoted scalar may span lines */
		}
		if (comment)
			continue;
		if (quote) {
			if (c == '\\' && quote == '"')
				(void)getc(f);
			else if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '#' && blank_before)
			comment = true;
		else if (c == '"' || c == '\'')
			quote = (char)c;
		else if ((c == '[' || c == '{') && ++depth > CONFIG_FLOW_DEPTH_MAX)
			return line;
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
		blank_before = c == ' ' || c == '\t';
	}
	return 0;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct config_reader r = {.path = path, .err = err, .errlen = errlen};
	const char *slash = strrchr(path, '/');
	if (slash) {
		r.dir = path;
		r.dir_len = slash == path ? 0 : (size_t)(slash - path); /* "/x.yaml": root */
	}

	out->path = strdup(path);
	if (!out->path)
		return config_fail(&r, 0, "out of memory");
	if (schema_set_defaults(&r, schema_top, out) < 0) {
		config_free(out);
		return -1;
	}
	char why[128];
	FILE *f = infile_open(path, why, sizeof why);
	if (!f) {
		config_fail(&r, 0, "cannot open: %s", why);
		config_free(out);
		return -1;
	}
	if (config_hash_file(f, out->sha256) < 0) {
		config_fail(&r, 0, "cannot read: %s", strerror(errno));
		fclose(f);
		config_free(out);
		return -1;
	}
	int deep = config_flow_too_deep(f);
	rewind(f);
	if (deep > 0) {
		config_fail(&r, deep, "nested more than %d levels deep", CONFIG_FLOW_DEPTH_MAX);
		fclose(f);
		config_free(out);
		return -1;
	}
	int rc = config_read_yaml(&r, f, out);
	fclose(f);
	if (rc < 0) {
		config_free(out);
		return -1;
	}
	return 0;
}

void config_free(struct config *config)
{
	if (!config)
		return;
	schema_free(schema_top, config);
	free(config->path);
	memset(config, 0, sizeof(*config));
}
