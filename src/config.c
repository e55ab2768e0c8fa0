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
 * Sections (`server:`) are mappings whose keys live directly in the
 * enclosing struct; tables (`zones:`) are lists of mappings, each one an
 * element of a malloc'ed array.  Adding a top-level section later (geoip,
 * datacenters, policies, ...) means adding its fields to struct config and
 * rows to the tables here; the walker does not change.
 *
 * The walk only ever descends where the schema says, so aliases and deep
 * nesting in a hostile file cannot make it do more work than the schema
 * allows.  A null value (`key:` with nothing, `~`) means "keep the
 * default".  The first error stops the load; everything built so far is
 * freed by the same schema-driven walk that config_free() uses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

enum schema_type {
	SCHEMA_SECTION, /* mapping; keys in .sub, stored in the same struct */
	SCHEMA_TABLE,   /* list of mappings; each an array element laid out by .sub */
	SCHEMA_UINT,    /* unsigned decimal; .width is the field's size */
	SCHEMA_MSEC,    /* duration in ms: 1500, "1500ms", "10s", "2m", "1h" */
	SCHEMA_STRING,  /* .min/.max bound the length */
	SCHEMA_PATH,    /* string, resolved against the config file's folder */
	SCHEMA_LISTEN,  /* list of "ADDR:PORT" / "[ADDR6]:PORT" */
};

struct schema_item {
	const char *name;
	enum schema_type type;
	size_t offset; /* of the value in the enclosing struct */
	size_t width;  /* SCHEMA_UINT: sizeof the field */
	unsigned long min, max;
	const char *def;               /* default, in file syntax; NULL: none */
	unsigned long (*def_fn)(void); /* computed default (numbers) */
	bool required;
	const struct schema_item *sub; /* SECTION, TABLE: the keys inside */
	size_t count_offset;           /* TABLE, LISTEN: the element count */
	size_t elem_size;              /* TABLE: size of one element */
	size_t line_offset;            /* TABLE: int field for the entry's line */
	const char *what;              /* TABLE: what an entry is, for errors */
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
#define KEY_STRING(key, S, field, maxlen, req)                                                               \
	{                                                                                                    \
		.name = key, .type = SCHEMA_STRING, .offset = offsetof(S, field), .min = 1, .max = maxlen,   \
		.required = req                                                                              \
	}
#define KEY_PATH(key, S, field, req)                                                                         \
	{                                                                                                    \
		.name = key, .type = SCHEMA_PATH, .offset = offsetof(S, field), .min = 1, .max = 4096,       \
		.required = req                                                                              \
	}
#define KEY_LISTEN(key, S, field, count, dflt)                                                               \
	{                                                                                                    \
		.name = key, .type = SCHEMA_LISTEN, .offset = offsetof(S, field),                            \
		.count_offset = offsetof(S, count), .def = dflt                                              \
	}
#define KEY_SECTION(key, items)                                                                              \
	{                                                                                                    \
		.name = key, .type = SCHEMA_SECTION, .sub = items                                            \
	}
#define KEY_TABLE(key, S, field, count, E, line_field, items, entry)                                         \
	{                                                                                                    \
		.name = key, .type = SCHEMA_TABLE, .sub = items, .offset = offsetof(S, field),               \
		.count_offset = offsetof(S, count), .elem_size = sizeof(E),                                  \
		.line_offset = offsetof(E, line_field), .what = entry                                        \
	}

static unsigned long config_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 64 ? 64 : (unsigned long)n;
}

/* clang-format off */
static const struct schema_item schema_server[] = {
	KEY_LISTEN("listen", struct config, listen, listen_count, "127.0.0.1:5300 [::1]:5300"),
	KEY_STRING("nsid", struct config, nsid, 255, false),
	KEY_UINT_FN("workers", struct config, workers, 1, 64, config_default_workers),
	KEY_UINT("udp_payload", struct config, udp_payload, 512, 4096, "1232"),
	KEY_MSEC("tcp_idle_timeout", struct config, tcp_idle_timeout_ms, 1000, 600000, "10s"),
	KEY_UINT("tcp_max_connections", struct config, tcp_max_connections, 1, 65535, "256"),
	{0},
};

static const struct schema_item schema_zone[] = {
	KEY_STRING("origin", struct config_zone, origin, 1024, true),
	KEY_PATH("file", struct config_zone, file, true),
	{0},
};

/* Later sections (geoip, datacenters, policies, residency, checks) are rows here. */
static const struct schema_item schema_top[] = {
	KEY_SECTION("server", schema_server),
	KEY_TABLE("zones", struct config, zones, zone_count, struct config_zone, line, schema_zone, "zone"),
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

/* Frees what one item owns and resets it to empty. */
static void schema_free_item(const struct schema_item *it, void *base)
{
	char *field = (char *)base + it->offset;
	switch (it->type) {
	case SCHEMA_SECTION:
		schema_free(it->sub, base);
		break;
	case SCHEMA_TABLE: {
		char *array = *(char **)field;
		size_t count = *(size_t *)((char *)base + it->count_offset);
		for (size_t i = 0; i < count; i++)
			schema_free(it->sub, array + i * it->elem_size);
		free(array);
		*(char **)field = NULL;
		*(size_t *)((char *)base + it->count_offset) = 0;
		break;
	}
	case SCHEMA_LISTEN:
		*(size_t *)((char *)base + it->count_offset) = 0;
		/* fall through */
	case SCHEMA_STRING:
	case SCHEMA_PATH:
		free(*(void **)field);
		*(void **)field = NULL;
		break;
	case SCHEMA_UINT:
	case SCHEMA_MSEC:
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
	case SCHEMA_STRING:
	case SCHEMA_PATH: {
		size_t len = strlen(text);
		if (len < it->min || len > it->max)
			return config_fail(r, line, "%s %s: length %zu is out of range %lu..%lu", it->name,
			                   where, len, it->min, it->max);
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
	size_t *count = (size_t *)((char *)base + it->count_offset);
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
                           yaml_node_t *map, const char *where);

static int schema_read_listen(struct config_reader *r, const struct schema_item *it, void *base,
                              yaml_node_t *value, const char *where)
{
	schema_free_item(it, base); /* the file's list replaces the default one */
	if (value->type == YAML_SCALAR_NODE)
		return listen_append(r, it, base, node_text(value), node_line(value));
	if (value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "listen %s: want a list of addresses, got %s", where,
		                   node_kind(value));
	for (yaml_node_item_t *i = value->data.sequence.items.start; i < value->data.sequence.items.top;
	     i++) {
		yaml_node_t *n = yaml_document_get_node(r->doc, *i);
		if (n->type != YAML_SCALAR_NODE)
			return config_fail(r, node_line(n), "listen %s: want an address, got %s", where,
			                   node_kind(n));
		if (listen_append(r, it, base, node_text(n), node_line(n)) < 0)
			return -1;
	}
	if (*(size_t *)((char *)base + it->count_offset) == 0)
		return config_fail(r, node_line(value), "listen %s: the list is empty", where);
	return 0;
}

static int schema_read_table(struct config_reader *r, const struct schema_item *it, void *base,
                             yaml_node_t *value)
{
	if (value->type != YAML_SEQUENCE_NODE)
		return config_fail(r, node_line(value), "%s: want a list of mappings, got %s", it->name,
		                   node_kind(value));
	schema_free_item(it, base);
	char **array = (char **)((char *)base + it->offset);
	size_t *count = (size_t *)((char *)base + it->count_offset);
	size_t n = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
	if (n == 0)
		return 0;
	char where_sub[64];
	snprintf(where_sub, sizeof(where_sub), "in %s", it->name);
	*array = calloc(n, it->elem_size);
	if (!*array)
		return config_fail(r, node_line(value), "out of memory");

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *entry = yaml_document_get_node(r->doc, value->data.sequence.items.start[i]);
		char *elem = *array + i * it->elem_size;
		*count = i + 1; /* counted before filling, so a failure frees it */
		*(int *)(elem + it->line_offset) = node_line(entry);
		if (entry->type != YAML_MAPPING_NODE)
			return config_fail(r, node_line(entry), "%s: each entry must be a mapping, got %s",
			                   it->name, node_kind(entry));
		if (schema_set_defaults(r, it->sub, elem) < 0 ||
		    schema_read_map(r, it->sub, elem, entry, where_sub) < 0)
			return -1;
		for (const struct schema_item *s = it->sub; s->name; s++)
			if (s->required && !*(void **)(elem + s->offset))
				return config_fail(r, node_line(entry), "%s entry has no '%s'", it->what,
				                   s->name);
	}
	return 0;
}

static int schema_read_section(struct config_reader *r, const struct schema_item *it, void *base,
                               yaml_node_t *value)
{
	if (value->type != YAML_MAPPING_NODE)
		return config_fail(r, node_line(value), "%s: want a mapping, got %s", it->name,
		                   node_kind(value));
	char where[64];
	snprintf(where, sizeof(where), "in %s", it->name);
	return schema_read_map(r, it->sub, base, value, where);
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
	case SCHEMA_LISTEN:
		return schema_read_listen(r, it, base, value, where);
	default:
		if (value->type != YAML_SCALAR_NODE)
			return config_fail(r, node_line(value), "%s %s: want a single value, got %s",
			                   it->name, where, node_kind(value));
		return schema_set_scalar(r, it, base, node_text(value), node_line(value), where);
	}
}

static int schema_read_map(struct config_reader *r, const struct schema_item *items, void *base,
                           yaml_node_t *map, const char *where)
{
	uint64_t seen = 0; /* bit i: items[i] already given; tables are short */
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
		if (i < 64)
			seen |= UINT64_C(1) << i;
		if (schema_read_value(r, &items[i], base, value, where) < 0)
			return -1;
	}
	return 0;
}

/* ---- the file ---- */

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
		if (parser.context)
			rc = config_fail(r, (int)parser.problem_mark.line + 1, "YAML syntax error: %s %s",
			                 problem, parser.context);
		else
			rc = config_fail(r, (int)parser.problem_mark.line + 1, "YAML syntax error: %s",
			                 problem);
		yaml_parser_delete(&parser);
		return rc;
	}
	r->doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && !node_is_null(root)) {
		if (root->type != YAML_MAPPING_NODE)
			rc = config_fail(r, node_line(root),
			                 "the file must be a mapping (server:, zones:), got %s",
			                 node_kind(root));
		else
			rc = schema_read_map(r, schema_top, out, root, "at top level");
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
	FILE *f = fopen(path, "rb");
	if (!f) {
		config_fail(&r, 0, "cannot open: %s", strerror(errno));
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
