/*
 * zone — master files in, an immutable lookup structure out.
 *
 * Loading has three stages.  (1) Parse: each file is read into memory and
 * handed to ldns through fmemopen(), one record per ldns_rr_new_frm_fp_l()
 * call.  Knowing the stream offset before and after each call lets us see
 * the exact bytes a record came from, which gives (a) the line the record
 * starts on (ldns only reports where it stopped reading) and (b) the text of
 * an $INCLUDE line, which ldns recognises but does not hand back.  Every
 * record becomes a small load_rr: owner and rdata copied (lower-cased where
 * RFC 4034 6.2 says so) into the zone's arena, plus file and line.
 * Simple address lines ("NAME [TTL] [IN] A|AAAA ADDR") skip ldns: a strict
 * fast path reads them straight from the buffer (see fast_parse), which
 * takes a 1,000,000-record zone from 1.5 s to under 0.5 s.
 * (2) Check and group: every owner name and all its ancestors up to the
 * apex get a node in an open-addressing hash table (so empty non-terminals
 * exist); the records are sorted by (node, type, file order) and cut into
 * RRsets, dropping exact duplicates; CNAME, SOA and apex NS rules are
 * checked; the names bound to steering policies (zone_source.bindings)
 * get their nodes, created with their ancestors when the file has no data
 * there, and are checked against the file's data and, once zone cuts are
 * found, against the cuts; occluded data is dropped with a warning.
 * (3) Freeze: nodes, RRsets and rdata descriptors go into three flat arrays,
 * the name table is rebuilt compact (4-byte slots) for the final node
 * count, additional-section links are resolved, a node with a "*" child
 * is flagged (zone_lookup probes for the wildcard only then, so a node
 * needs no wildcard pointer), and the temporary arrays are freed.
 *
 * Memory: names and rdata bytes live in a per-zone arena of large blocks
 * (no malloc per record); an ancestor node's name points into the middle of
 * its descendant's stored name, since it is a suffix of it.  A zone is freed
 * as its arena plus four arrays.
 *
 * Lookups hash candidate names (qname and its ancestors) and probe; they
 * touch only the frozen arrays and allocate nothing.
 */
#include "zone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dname.h"
#include "infile.h"
#include "log.h"

#define ZONE_INCLUDE_DEPTH_MAX 8
#define ZONE_ARENA_BLOCK (256u * 1024u)
#define ZONE_NONE UINT32_MAX

/* RR types that this module treats specially (numbers from the IANA registry). */
enum {
	T_A = 1,
	T_NS = 2,
	T_CNAME = 5,
	T_SOA = 6,
	T_MX = 15,
	T_KEY = 25,
	T_AAAA = 28,
	T_SRV = 33,
	T_DS = 43,
	T_RRSIG = 46,
	T_NSEC = 47,
	T_DNAME = 39,
	T_SVCB = 64,
	T_HTTPS = 65,
};

/* ---------------------------------------------------------------- arena */

struct zone_arena_block {
	struct zone_arena_block *next;
	size_t used;
	size_t cap;
	_Alignas(8) uint8_t data[];
};

struct zone_arena {
	struct zone_arena_block *head;
};

static void *arena_alloc(struct zone_arena *a, size_t size, size_t align)
{
	struct zone_arena_block *b = a->head;
	if (b != NULL) {
		size_t at = (b->used + align - 1) & ~(align - 1);
		if (at + size <= b->cap) {
			b->used = at + size;
			return b->data + at;
		}
	}
	/* Oversized requests get a block of their own, placed behind the
	 * current one so the current block's free space stays usable. */
	size_t cap = size > ZONE_ARENA_BLOCK / 4 ? size : ZONE_ARENA_BLOCK;
	struct zone_arena_block *nb = malloc(sizeof(*nb) + cap);
	if (nb == NULL)
		return NULL;
	nb->cap = cap;
	nb->used = size;
	if (b != NULL && cap == size) {
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		a->head = nb;
	}
	return nb->data;
}

static void *arena_copy(struct zone_arena *a, const void *src, size_t size)
{
	void *p = arena_alloc(a, size ? size : 1, 1);
	if (p != NULL && size > 0)
		memcpy(p, src, size);
	return p;
}

static void arena_free(struct zone_arena *a)
{
	struct zone_arena_block *b = a->head;
	while (b != NULL) {
		struct zone_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

/* ---------------------------------------------------------- name hashing */

struct zone_slot {
	uint32_t hash;
	uint32_t index; /* node (or zone) index + 1; 0 marks an empty slot */
};

/* Byte comparison of two well-formed names that stops at the first
 * difference, so it never reads past the shorter name. */
static bool names_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/*
 * The frozen name table: open addressing with linear probing over 32-bit
 * slots, built once the node count is known.  A slot holds the node index
 * + 1 in its low index_bits bits (0 marks an empty slot) and the high bits
 * of the name's hash above them, so most mismatches are rejected without
 * touching the node; 4 bytes a slot instead of 8 saves 8 MB at 1M names.
 */
struct zone_table_internal {
	struct zone_node *nodes;
	struct zone_rrset *rrsets;
	struct zone_rdata *rdata;
	uint32_t *slots;
	uint32_t slot_mask;
	unsigned index_bits;
	unsigned origin_labels;
	bool wildcard_links; /* some additional-section link goes through a wildcard */
	struct zone_arena arena;
};

/* Up to this many zones, zone_table_find() compares origins one by one. */
#define ZONE_TABLE_LINEAR_MAX 8

struct zone_table {
	size_t count;
	struct zone *zones;
	struct zone_table_internal *internals;
	struct zone_slot *slots; /* origins */
	uint32_t slot_mask;
};

static const struct zone_node *internal_find(const struct zone_table_internal *in, const uint8_t *name)
{
	size_t len = dname_len(name);
	uint32_t h = dname_hash_len(name, len);
	uint32_t index_mask = ((uint32_t)1 << in->index_bits) - 1;
	for (uint32_t i = h & in->slot_mask;; i = (i + 1) & in->slot_mask) {
		uint32_t s = in->slots[i];
		if (s == 0)
			return NULL;
		if (((s ^ h) & ~index_mask) == 0 && names_equal(in->nodes[(s & index_mask) - 1].name, name, len))
			return &in->nodes[(s & index_mask) - 1];
	}
}

/* ------------------------------------------------------------- loading */

enum load_rr_flags { RR_DROPPED = 1 };

/* One record as parsed, before grouping. */
struct load_rr {
	const uint8_t *owner;
	const uint8_t *rdata;
	uint32_t node;
	uint32_t seq; /* position in file order */
	uint32_t ttl;
	uint32_t line;
	uint16_t type;
	uint16_t rdlen;
	uint16_t file;
	uint16_t flags;
};

enum load_node_flags {
	LN_HAS_NS = 1,
	LN_NS_TARGET = 2,
	LN_HAS_DNAME = 4,
};

struct load_node {
	uint32_t parent; /* ZONE_NONE for the apex */
	uint32_t cut;    /* topmost zone cut strictly above, or ZONE_NONE */
	uint32_t dname;  /* topmost DNAME owner strictly above (the apex too), or ZONE_NONE */
	uint32_t first_set;
	uint16_t set_count;
	uint16_t flags;
	uint32_t binding; /* index of the policy binding of this name, or ZONE_NONE */
};

/* One RRset during building: a run of records in the sorted array. */
struct load_set {
	uint32_t node;
	uint32_t first; /* index into rrs */
	uint32_t count;
	uint16_t type;
	bool dropped;
};

struct loader {
	const char *origin_text;
	const struct zone_source *src;
	uint8_t origin[DNAME_MAXLEN];
	size_t origin_len;
	struct zone_table_internal *in;

	struct load_rr *rrs;
	size_t rr_count, rr_cap;
	const uint8_t *last_owner;

	const char **files;
	size_t file_count, file_cap;

	struct zone_node *nodes;
	struct load_node *lnodes;
	size_t node_count, node_cap;
	/* the name table while nodes are still being added */
	struct zone_slot *slots;
	uint32_t slot_mask;
	size_t slot_used;

	struct load_set *sets;
	size_t set_count, set_cap;

	char *err;
	size_t errlen;
};

static int fail(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct loader *ld, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	if (ld->errlen)
		log_flatten(ld->err); /* a file name from the config may hold any byte */
	return -1;
}

static void name_text(const uint8_t *name, char buf[DNAME_TEXT_MAXLEN])
{
	if (dname_to_text(name, buf, DNAME_TEXT_MAXLEN) < 0)
		snprintf(buf, DNAME_TEXT_MAXLEN, "(unprintable name)");
}

static void type_text(uint16_t type, char buf[16])
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d != NULL && d->_name != NULL && d->_type == type)
		snprintf(buf, 16, "%s", d->_name);
	else
		snprintf(buf, 16, "TYPE%u", type);
}

/* RFC 4034 6.2 (as amended by RFC 6840 5.1, which takes NSEC out): the
 * types whose embedded names are lower-cased in canonical form. */
static bool type_lowers_names(uint16_t type)
{
	switch (type) {
	case 2:  /* NS */
	case 3:  /* MD */
	case 4:  /* MF */
	case 5:  /* CNAME */
	case 6:  /* SOA */
	case 7:  /* MB */
	case 8:  /* MG */
	case 9:  /* MR */
	case 12: /* PTR */
	case 14: /* MINFO */
	case 15: /* MX */
	case 17: /* RP */
	case 18: /* AFSDB */
	case 21: /* RT */
	case 24: /* SIG */
	case 26: /* PX */
	case 30: /* NXT */
	case 33: /* SRV */
	case 35: /* NAPTR */
	case 36: /* KX */
	case 38: /* A6 */
	case 39: /* DNAME */
	case 46: /* RRSIG */
		return true;
	default:
		return false;
	}
}

/* Numbers a file read (the zone file, then each $INCLUDE, at from:from_line,
 * in the order read); records keep the number. */
static int add_file(struct loader *ld, const char *path, const char *from, unsigned from_line)
{
	if (ld->file_count == ld->file_cap) {
		size_t cap = ld->file_cap ? ld->file_cap * 2 : 4;
		if (cap > UINT16_MAX + 1u)
			return fail(ld, "%s:%u: $INCLUDE %s: the zone would read more than %u files", from, from_line,
			            path, UINT16_MAX + 1u);
		const char **f = realloc(ld->files, cap * sizeof(*f));
		if (f == NULL)
			return fail(ld, "%s: out of memory", path);
		ld->files = f;
		ld->file_cap = cap;
	}
	const char *copy = arena_copy(&ld->in->arena, path, strlen(path) + 1);
	if (copy == NULL)
		return fail(ld, "%s: out of memory", path);
	ld->files[ld->file_count] = copy;
	return (int)ld->file_count++;
}

/* Stores one record: owner (any case, wire form, owner_len bytes, already
 * checked to be a well-formed name) and rdata (already in the arena). */
static int add_record(struct loader *ld, const uint8_t *owner_in, size_t owner_len, uint16_t type, uint32_t ttl,
                      const uint8_t *rdata, size_t rdlen, uint16_t file, unsigned line)
{
	const char *path = ld->files[file];
	char text[DNAME_TEXT_MAXLEN];
	uint8_t owner[DNAME_MAXLEN];
	memcpy(owner, owner_in, owner_len);
	dname_lower(owner);
	if (!dname_is_at_or_below(owner, ld->origin)) {
		char zone[DNAME_TEXT_MAXLEN];
		name_text(owner, text);
		name_text(ld->origin, zone);
		return fail(ld, "%s:%u: out-of-zone data: %s is not in %s", path, line, text, zone);
	}
	if (type == T_SOA && owner_len != ld->origin_len) {
		name_text(owner, text);
		return fail(ld, "%s:%u: SOA not at the apex: %s", path, line, text);
	}

	/* Consecutive records usually share an owner: store it once. */
	const uint8_t *stored = ld->last_owner;
	if (stored == NULL || dname_len(stored) != owner_len || memcmp(stored, owner, owner_len) != 0) {
		stored = arena_copy(&ld->in->arena, owner, owner_len);
		if (stored == NULL)
			return fail(ld, "%s:%u: out of memory", path, line);
		ld->last_owner = stored;
	}

	if (ld->rr_count == ld->rr_cap) {
		size_t cap = ld->rr_cap ? ld->rr_cap * 2 : 256;
		if (cap > UINT32_MAX / 2)
			return fail(ld, "%s:%u: too many records", path, line);
		struct load_rr *r = realloc(ld->rrs, cap * sizeof(*r));
		if (r == NULL)
			return fail(ld, "%s:%u: out of memory", path, line);
		ld->rrs = r;
		ld->rr_cap = cap;
	}
	ld->rrs[ld->rr_count] = (struct load_rr){
	    .owner = stored,
	    .rdata = rdata,
	    .node = ZONE_NONE,
	    .seq = (uint32_t)ld->rr_count,
	    .ttl = ttl,
	    .line = line,
	    .type = type,
	    .rdlen = (uint16_t)rdlen,
	    .file = file,
	};
	ld->rr_count++;
	return 0;
}

static int add_rr(struct loader *ld, const ldns_rr *rr, uint16_t file, unsigned line)
{
	const char *path = ld->files[file];

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		char *cls = ldns_rr_class2str(ldns_rr_get_class(rr));
		fail(ld, "%s:%u: class %s is not supported (only IN)", path, line, cls ? cls : "?");
		free(cls);
		return -1;
	}

	const ldns_rdf *owner_rdf = ldns_rr_owner(rr);
	size_t owner_len = ldns_rdf_size(owner_rdf);
	if (owner_len == 0 || owner_len > DNAME_MAXLEN || dname_len(ldns_rdf_data(owner_rdf)) != owner_len)
		return fail(ld, "%s:%u: bad owner name", path, line);

	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	/* rdata: each field's wire form is its rdf bytes, names uncompressed. */
	size_t rdlen = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
		rdlen += ldns_rdf_size(ldns_rr_rdf(rr, i));
	if (rdlen > UINT16_MAX)
		return fail(ld, "%s:%u: rdata longer than 65535 bytes", path, line);
	uint8_t *rdata = arena_alloc(&ld->in->arena, rdlen ? rdlen : 1, 1);
	if (rdata == NULL)
		return fail(ld, "%s:%u: out of memory", path, line);
	bool lower = type_lowers_names(type);
	size_t at = 0;
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		size_t n = ldns_rdf_size(f);
		memcpy(rdata + at, ldns_rdf_data(f), n);
		if (lower && ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME)
			dname_lower(rdata + at);
		at += n;
	}
	return add_record(ld, ldns_rdf_data(owner_rdf), owner_len, type, ldns_rr_ttl(rr), rdata, rdlen, file,
	                  line);
}

/*
 * The fast path.  Almost every line of a large zone is "NAME [TTL] [IN]
 * A|AAAA ADDRESS": parsing those here instead of through ldns (which
 * allocates a dozen times per record) halves the load time.  It accepts
 * only a strict subset that reads the same in ldns (checked line by line
 * against ldns in tests/unit/test_zone.c) and declines everything else,
 * which ldns then reads: a line starting with a blank (previous owner),
 * "@", "$" directives, escapes, quotes, parentheses, comments, CR, other
 * classes and types, TTLs with units or longer than 9 digits.  Like ldns,
 * a record without a TTL takes the $TTL, or 3600 when $TTL is 0 or unset.
 */
struct fast_rr {
	uint8_t owner[DNAME_MAXLEN];
	size_t owner_len;
	uint32_t ttl;
	uint16_t type;
	uint8_t rdata[16];
	uint16_t rdlen;
};

#define ZONE_LDNS_DEFAULT_TTL 3600u

static bool fast_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool fast_is_owner_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '*';
}

/* A token ends at a blank or at the end of the line. */
static const char *fast_token_end(const char *p, const char *end)
{
	while (p < end && !fast_is_blank(*p) && *p != '\n')
		p++;
	return p;
}

static bool fast_token_is(const char *p, const char *e, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(e - p) == n && strncasecmp(p, word, n) == 0;
}

/* Bytes of the line consumed (through its newline), or 0 to leave it to ldns. */
static size_t fast_parse(const char *start, const char *end, const uint8_t *origin, size_t origin_len,
                         uint32_t default_ttl, struct fast_rr *out)
{
	const char *p = start;
	/* owner: plain labels, relative unless it ends in a dot */
	size_t w = 0;
	bool absolute = false;
	while (p < end) {
		const char *label = p;
		while (p < end && fast_is_owner_char(*p))
			p++;
		size_t n = (size_t)(p - label);
		if (n == 0 || n > 63 || w + 1 + n > DNAME_MAXLEN)
			return 0;
		out->owner[w++] = (uint8_t)n;
		memcpy(out->owner + w, label, n);
		w += n;
		if (p < end && *p == '.') {
			p++;
			if (p < end && fast_is_blank(*p)) {
				absolute = true;
				break;
			}
			continue;
		}
		break;
	}
	if (p >= end || !fast_is_blank(*p))
		return 0;
	if (absolute) {
		if (w + 1 > DNAME_MAXLEN)
			return 0;
		out->owner[w++] = 0;
	} else {
		if (w + origin_len > DNAME_MAXLEN)
			return 0;
		memcpy(out->owner + w, origin, origin_len);
		w += origin_len;
	}
	out->owner_len = w;

	while (p < end && fast_is_blank(*p))
		p++;
	const char *e = fast_token_end(p, end);
	out->ttl = default_ttl ? default_ttl : ZONE_LDNS_DEFAULT_TTL;
	if (p < e && *p >= '0' && *p <= '9') {
		if (e - p > 9)
			return 0;
		uint32_t ttl = 0;
		for (const char *d = p; d < e; d++) {
			if (*d < '0' || *d > '9')
				return 0;
			ttl = ttl * 10 + (uint32_t)(*d - '0');
		}
		out->ttl = ttl;
		for (p = e; p < end && fast_is_blank(*p);)
			p++;
		e = fast_token_end(p, end);
	}
	if (fast_token_is(p, e, "IN")) {
		for (p = e; p < end && fast_is_blank(*p);)
			p++;
		e = fast_token_end(p, end);
	}
	int family;
	if (fast_token_is(p, e, "A")) {
		out->type = T_A;
		out->rdlen = 4;
		family = AF_INET;
	} else if (fast_token_is(p, e, "AAAA")) {
		out->type = T_AAAA;
		out->rdlen = 16;
		family = AF_INET6;
	} else {
		return 0;
	}
	for (p = e; p < end && fast_is_blank(*p);)
		p++;
	e = fast_token_end(p, end);
	char addr[INET6_ADDRSTRLEN + 1];
	size_t alen = (size_t)(e - p);
	if (alen == 0 || alen >= sizeof(addr))
		return 0;
	memcpy(addr, p, alen);
	addr[alen] = '\0';
	if (inet_pton(family, addr, out->rdata) != 1)
		return 0;
	for (p = e; p < end && fast_is_blank(*p);)
		p++;
	if (p >= end || *p != '\n')
		return 0;
	return (size_t)(p + 1 - start);
}

/* On failure returns -1 with the reason in why (errno text, or what kind
 * of file it is when it is not a regular one). */
static int read_whole_file(const char *path, char **out, size_t *len, char *why, size_t whylen)
{
	FILE *f = infile_open(path, why, whylen);
	if (f == NULL)
		return -1;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (nb == NULL)
			free(buf);
		buf = nb;
		cap *= 2;
	}
	int saved = errno;
	fclose(f);
	if (buf == NULL) {
		snprintf(why, whylen, "%s", strerror(saved ? saved : ENOMEM));
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

static size_t count_newlines(const char *p, size_t n)
{
	size_t count = 0;
	const char *end = p + n;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		count++;
		p++;
	}
	return count;
}

/* Skips the blank and comment lines ldns consumed before a record; returns
 * where the record's text starts and adds the lines skipped to *line. */
static const char *skip_blank(const char *p, const char *end, unsigned *line)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\r') {
			p++;
		} else if (*p == '\n') {
			(*line)++;
			p++;
		} else if (*p == ';') {
			while (p < end && *p != '\n')
				p++;
		} else {
			break;
		}
	}
	return p;
}

/* ---- what ldns forgives ----
 *
 * ldns skips an unknown directive, ignores what follows the argument of
 * $TTL or $ORIGIN, reads "$TTL -1" as 1, "MX 70000 mail" as preference
 * 4464 and a TTL of 99999999999 modulo 2^32, accepts an unterminated
 * string or parenthesis and stops reading TXT strings past 65535 bytes,
 * all without a word.  Each line ldns has read is read again here, and
 * each of those is an error with the line. */

/* Where a token of zone-file text ends: a blank, a line end, a comment or
 * a parenthesis; a "\X" escape is part of it. */
static const char *text_token_end(const char *p, const char *end)
{
	while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != ';' && *p != '(' &&
	       *p != ')')
		p += (*p == '\\' && p + 1 < end) ? 2 : 1;
	return p;
}

/* Only blanks and a comment up to the end of the line. */
static bool rest_is_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p >= end || *p == '\n' || *p == ';';
}

/* A TTL as zone files write it (RFC 1035 plain seconds, or BIND's 1w2d3h4m5s
 * units), at most 2^31 - 1 (RFC 2181 8).  Returns the end of the token, or
 * NULL when it is not one. */
static const char *parse_ttl_token(const char *p, const char *end, uint32_t *out)
{
	const char *e = text_token_end(p, end);
	uint64_t total = 0, n = 0;
	bool digits = false;
	if (p == e)
		return NULL;
	for (; p < e; p++) {
		if (*p >= '0' && *p <= '9') {
			n = n * 10 + (uint64_t)(*p - '0');
			digits = true;
			if (n > INT32_MAX)
				return NULL;
			continue;
		}
		uint64_t unit;
		switch (*p | 0x20) {
		case 'w': unit = 604800; break;
		case 'd': unit = 86400; break;
		case 'h': unit = 3600; break;
		case 'm': unit = 60; break;
		case 's': unit = 1; break;
		default: return NULL;
		}
		if (!digits)
			return NULL;
		total += n * unit;
		n = 0;
		digits = false;
		if (total > INT32_MAX)
			return NULL;
	}
	total += n;
	if (total > INT32_MAX)
		return NULL;
	*out = (uint32_t)total;
	return e;
}

/* A line starting with '$' (text, the first non-blank byte ldns read): the
 * directives RFC 1035 ($ORIGIN, $INCLUDE) and RFC 2308 ($TTL) define, in
 * full. */
static int check_directive(struct loader *ld, const char *path, unsigned line, const char *text, const char *end)
{
	const char *w = text_token_end(text, end);
	const char *arg = w;
	while (arg < end && (*arg == ' ' || *arg == '\t'))
		arg++;
	if (fast_token_is(text, w, "$INCLUDE"))
		return 0; /* do_include reads its tokens */
	if (fast_token_is(text, w, "$TTL")) {
		uint32_t ttl;
		const char *after = parse_ttl_token(arg, end, &ttl);
		if (after == NULL) {
			const char *e = arg;
			while (e < end && *e != '\n' && *e != '\r' && *e != ';' && e - arg < 40)
				e++;
			return fail(ld, "%s:%u: bad $TTL value '%.*s': want seconds (or units such as 1h30m), at most 2147483647",
			            path, line, (int)(e - arg), arg);
		}
		if (!rest_is_blank(after, end))
			return fail(ld, "%s:%u: $TTL takes one value; the rest of the line is not understood", path, line);
		return 0;
	}
	if (fast_token_is(text, w, "$ORIGIN")) {
		const char *e = text_token_end(arg, end);
		if (e == arg)
			return fail(ld, "%s:%u: $ORIGIN without a name", path, line);
		if (!rest_is_blank(e, end))
			return fail(ld, "%s:%u: $ORIGIN takes one name; the rest of the line is not understood", path,
			            line);
		return 0;
	}
	size_t wlen = (size_t)(w - text);
	return fail(ld, "%s:%u: unknown directive %.*s (zone files know $ORIGIN, $INCLUDE and $TTL)", path, line,
	            (int)(wlen > 40 ? 40 : wlen), text);
}

#define RECORD_TOKENS_MAX 16

/* Splits a record's text into tokens: blanks separate, "( )" and comments
 * are dropped, a quoted string is one token.  Stores the first max and
 * returns how many there are in all. */
static size_t record_tokens(const char *p, const char *end, const char **tok, size_t *len, size_t max)
{
	size_t n = 0;
	while (p < end) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ')') {
			p++;
			continue;
		}
		if (c == ';') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		const char *t = p;
		if (c == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && p + 1 < end)
					p++;
			if (p < end)
				p++;
		} else {
			p = text_token_end(p, end);
		}
		if (n < max) {
			tok[n] = t;
			len[n] = (size_t)(p - t);
		}
		n++;
	}
	return n;
}

static bool token_is_class(const char *t, size_t n)
{
	static const char *const classes[] = {"IN", "CH", "CS", "HS", "NONE", "ANY"};
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (n == strlen(classes[i]) && strncasecmp(t, classes[i], n) == 0)
			return true;
	return n > 5 && strncasecmp(t, "CLASS", 5) == 0;
}

/* A decimal number of at most max, or -1 (other text is not ours to judge:
 * ldns accepted it, e.g. a mnemonic). */
static int token_number_over(const char *t, size_t n, uint64_t max)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(t[i] - '0');
		if (v > max)
			return 1;
	}
	return n > 0 ? 0 : -1;
}

/* The range of an rdata field that is a plain number; 0 for a field that
 * is one token but not a number; -1 for one that may span several tokens
 * (hex, base64, long strings), where checking stops. */
static int64_t field_max(ldns_rdf_type type)
{
	switch (type) {
	case LDNS_RDF_TYPE_INT8: return UINT8_MAX;
	case LDNS_RDF_TYPE_INT16: return UINT16_MAX;
	case LDNS_RDF_TYPE_INT32:
	case LDNS_RDF_TYPE_PERIOD: return UINT32_MAX;
	case LDNS_RDF_TYPE_DNAME:
	case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_AAAA:
	case LDNS_RDF_TYPE_TAG:
	case LDNS_RDF_TYPE_ALG:
	case LDNS_RDF_TYPE_TYPE:
	case LDNS_RDF_TYPE_STR: return 0;
	default: return -1;
	}
}

/* A record ldns parsed, read again from its text (text .. end): quotes and
 * parentheses closed, the TTL and every plain-number field in range, every
 * TXT string read.  owner_given: the line does not start with a blank. */
static int check_record_text(struct loader *ld, const char *path, unsigned line, const char *text,
                             const char *end, bool owner_given, const ldns_rr *rr)
{
	int depth = 0;
	bool quoted = false;
	for (const char *p = text; p < end; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == ';') {
			while (p + 1 < end && p[1] != '\n')
				p++;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && --depth < 0) {
			return fail(ld, "%s:%u: ')' without '('", path, line);
		}
	}
	if (quoted)
		return fail(ld, "%s:%u: a quoted string is not closed", path, line);
	if (depth > 0)
		return fail(ld, "%s:%u: '(' is not closed", path, line);

	const char *tok[RECORD_TOKENS_MAX];
	size_t len[RECORD_TOKENS_MAX];
	size_t all = record_tokens(text, end, tok, len, RECORD_TOKENS_MAX);
	size_t n = all < RECORD_TOKENS_MAX ? all : RECORD_TOKENS_MAX;
	/* after the owner (when written): up to two of TTL (a digit first)
	 * and class, then the type; rdata from i on */
	size_t i = owner_given ? 1 : 0;
	char tname[16];
	type_text((uint16_t)ldns_rr_get_type(rr), tname);
	for (int k = 0; k < 2 && i < n; k++) {
		uint32_t ttl;
		if (tok[i][0] >= '0' && tok[i][0] <= '9') {
			if (parse_ttl_token(tok[i], tok[i] + len[i], &ttl) == NULL)
				return fail(ld, "%s:%u: TTL %.*s of this %s record is out of range (at most 2147483647)",
				            path, line, (int)(len[i] > 30 ? 30 : len[i]), tok[i], tname);
			i++;
		} else if (token_is_class(tok[i], len[i])) {
			i++;
		}
	}
	i++; /* the type */
	size_t fields = ldns_rr_rd_count(rr);
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	if ((type == 16 /* TXT */ || type == 99 /* SPF */) && all > i + fields)
		return fail(ld, "%s:%u: this TXT record has more strings than its rdata can hold (65535 bytes)", path,
		            line);
	if (i < n && len[i] == 2 && tok[i][0] == '\\' && tok[i][1] == '#')
		return 0; /* RFC 3597: hex, not fields */
	const ldns_rr_descriptor *d = ldns_rr_descript(ldns_rr_get_type(rr));
	for (size_t f = 0; d != NULL && f < fields && i < n; f++, i++) {
		int64_t max = field_max(ldns_rr_descriptor_field_type(d, f));
		if (max < 0)
			break;
		if (max > 0 && token_number_over(tok[i], len[i], (uint64_t)max) == 1)
			return fail(ld, "%s:%u: %.*s in this %s record is out of range (at most %llu)", path, line,
			            (int)(len[i] > 30 ? 30 : len[i]), tok[i], tname, (unsigned long long)max);
	}
	return 0;
}

/* One token of an $INCLUDE line: "quoted" or up to blank / comment / EOL. */
static size_t include_token(const char **pp, const char *end, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t n = 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '"') {
		p++;
		while (p < end && *p != '"' && *p != '\n') {
			if (n + 1 < outlen)
				out[n] = *p;
			n++;
			p++;
		}
		if (p < end && *p == '"')
			p++;
	} else {
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != ';') {
			if (n + 1 < outlen)
				out[n] = *p;
			n++;
			p++;
		}
	}
	*pp = p;
	if (n >= outlen)
		return SIZE_MAX;
	out[n] = '\0';
	return n;
}

static int load_file(struct loader *ld, const char *path, const uint8_t *origin, uint32_t default_ttl,
                     int depth, const char *from, unsigned from_line);

static int do_include(struct loader *ld, const char *path, unsigned line, const char *text, const char *end,
                      const ldns_rdf *cur_origin, uint32_t ttl, int depth)
{
	char file[PATH_MAX], oname[DNAME_TEXT_MAXLEN], joined[PATH_MAX];
	const char *p = text + strlen("$INCLUDE");

	size_t flen = include_token(&p, end, file, sizeof(file));
	if (flen == SIZE_MAX)
		return fail(ld, "%s:%u: $INCLUDE file name too long", path, line);
	if (flen == 0)
		return fail(ld, "%s:%u: $INCLUDE without a file name", path, line);
	size_t olen = include_token(&p, end, oname, sizeof(oname));
	if (olen == SIZE_MAX)
		return fail(ld, "%s:%u: $INCLUDE origin too long", path, line);
	if (depth + 1 > ZONE_INCLUDE_DEPTH_MAX)
		return fail(ld, "%s:%u: $INCLUDE nested more than %d deep", path, line,
		            ZONE_INCLUDE_DEPTH_MAX);

	/* The included file's origin: the one given (relative to the current
	 * origin unless it ends in a dot), else the current one. */
	uint8_t origin[DNAME_MAXLEN];
	size_t cur_len = ldns_rdf_size(cur_origin);
	if (cur_len == 0 || cur_len > DNAME_MAXLEN)
		return fail(ld, "%s:%u: bad $ORIGIN", path, line);
	if (olen == 0 || strcmp(oname, "@") == 0) {
		memcpy(origin, ldns_rdf_data(cur_origin), cur_len);
	} else {
		int n = dname_from_text(oname, origin);
		if (n < 0)
			return fail(ld, "%s:%u: bad $INCLUDE origin %s", path, line, oname);
		if (oname[olen - 1] != '.' || (olen >= 2 && oname[olen - 2] == '\\')) {
			/* relative: drop our root byte and append the current origin */
			if ((size_t)n - 1 + cur_len > DNAME_MAXLEN)
				return fail(ld, "%s:%u: $INCLUDE origin too long", path, line);
			memcpy(origin + n - 1, ldns_rdf_data(cur_origin), cur_len);
		}
	}
	dname_lower(origin);

	if (file[0] == '/') {
		snprintf(joined, sizeof(joined), "%s", file);
	} else {
		const char *slash = strrchr(path, '/');
		int dirlen = slash ? (int)(slash - path) : 0;
		int n = slash ? snprintf(joined, sizeof(joined), "%.*s/%s", dirlen, path, file)
		              : snprintf(joined, sizeof(joined), "%s", file);
		if (n < 0 || (size_t)n >= sizeof(joined))
			return fail(ld, "%s:%u: $INCLUDE path too long", path, line);
	}
	return load_file(ld, joined, origin, ttl, depth + 1, path, line);
}

static int load_file(struct loader *ld, const char *path, const uint8_t *origin, uint32_t default_ttl,
                     int depth, const char *from, unsigned from_line)
{
	char *buf = NULL;
	size_t size = 0;
	char why[128];
	if (read_whole_file(path, &buf, &size, why, sizeof why) < 0) {
		if (from != NULL)
			return fail(ld, "%s:%u: cannot read %s: %s", from, from_line, path, why);
		return fail(ld, "%s: cannot read: %s", path, why);
	}
	int file = add_file(ld, path, from, from_line);
	if (file < 0 || size == 0) {
		free(buf);
		return file < 0 ? -1 : 0;
	}
	/* Text only: ldns drops a line of binary quietly (and a NUL ends
	 * what it reads of a line), and a file with CR-only line ends reads
	 * as one long line.  Bytes are written as \DDD escapes instead. */
	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)buf[i];
		bool bare_cr = c == '\r' && (i + 1 == size || buf[i + 1] != '\n');
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f || bare_cr) {
			unsigned at = 1 + (unsigned)count_newlines(buf, i);
			free(buf);
			if (bare_cr)
				return fail(ld, "%s:%u: a carriage return without a line feed (line ends must be LF or CRLF)",
				            path, at);
			return fail(ld, "%s:%u: control byte 0x%02x: not a text file? (write bytes as \\DDD)", path, at, c);
		}
	}
	FILE *fp = fmemopen(buf, size, "r");
	if (fp == NULL) {
		free(buf);
		return fail(ld, "%s: %s", path, strerror(errno));
	}
	/* The stream is ours alone; ldns reads it a byte at a time. */
	__fsetlocking(fp, FSETLOCKING_BYCALLER);

	ldns_rdf *cur_origin = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, dname_len(origin), origin);
	ldns_rdf *prev = NULL;
	uint32_t ttl = default_ttl;
	int ldns_line = 0;
	unsigned line = 1; /* the line at the stream position before each call */
	int rc = 0;
	if (cur_origin == NULL) {
		rc = fail(ld, "%s: out of memory", path);
		goto out;
	}

	/* Where we are in buf: the fast path reads buf directly and the stream
	 * is moved there only when ldns has to read a line.  The owner of the
	 * last fast-path record is handed to ldns as its "previous owner" (for
	 * a following line that starts with a blank) only when ldns is next
	 * called. */
	size_t pos = 0;
	bool prev_from_fast = false;
	uint8_t fast_prev[DNAME_MAXLEN];
	size_t fast_prev_len = 0;
	struct fast_rr fr;
	while (rc == 0 && !feof(fp) && pos < size) {
		const uint8_t *origin_now = cur_origin != NULL ? ldns_rdf_data(cur_origin) : NULL;
		size_t used = 0;
		if (origin_now != NULL && ldns_rdf_size(cur_origin) <= DNAME_MAXLEN &&
		    dname_len(origin_now) == ldns_rdf_size(cur_origin))
			used = fast_parse(buf + pos, buf + size, origin_now, ldns_rdf_size(cur_origin), ttl, &fr);
		if (used > 0) {
			uint8_t *rdata = arena_copy(&ld->in->arena, fr.rdata, fr.rdlen);
			rc = rdata == NULL ? fail(ld, "%s:%u: out of memory", path, line)
			                   : add_record(ld, fr.owner, fr.owner_len, fr.type, fr.ttl, rdata, fr.rdlen,
			                                (uint16_t)file, line);
			line++;
			pos += used;
			memcpy(fast_prev, fr.owner, fr.owner_len);
			fast_prev_len = fr.owner_len;
			prev_from_fast = true;
			continue;
		}
		if (prev_from_fast) {
			ldns_rdf_deep_free(prev);
			prev = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, fast_prev_len, fast_prev);
			prev_from_fast = false;
			if (prev == NULL) {
				rc = fail(ld, "%s: out of memory", path);
				break;
			}
		}
		if (ftell(fp) != (long)pos && fseek(fp, (long)pos, SEEK_SET) != 0) {
			rc = fail(ld, "%s: read error", path);
			break;
		}
		long start = (long)pos;
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &cur_origin, &prev, &ldns_line);
		long stop = ftell(fp);
		if (start < 0 || stop < start || (size_t)stop > size) {
			ldns_rr_free(rr);
			rc = fail(ld, "%s: read error", path);
			break;
		}
		unsigned rec_line = line;
		const char *text = skip_blank(buf + start, buf + stop, &rec_line);
		line += (unsigned)count_newlines(buf + start, (size_t)(stop - start));
		if (text < buf + stop && *text == '$' && check_directive(ld, path, rec_line, text, buf + stop) < 0) {
			ldns_rr_free(rr);
			rc = -1;
			break;
		}

		switch (s) {
		case LDNS_STATUS_OK: {
			/* the owner is written unless the record's line starts with a blank */
			bool owner_given = text == buf || text[-1] == '\n';
			rc = check_record_text(ld, path, rec_line, text, buf + stop, owner_given, rr);
			if (rc == 0)
				rc = add_rr(ld, rr, (uint16_t)file, rec_line);
			ldns_rr_free(rr);
			break;
		}
		case LDNS_STATUS_SYNTAX_ORIGIN:
		case LDNS_STATUS_SYNTAX_TTL:
		case LDNS_STATUS_SYNTAX_EMPTY:
			break;
		case LDNS_STATUS_SYNTAX_INCLUDE:
			if (cur_origin == NULL) {
				rc = fail(ld, "%s:%u: $INCLUDE without an origin", path, rec_line);
				break;
			}
			rc = do_include(ld, path, rec_line, text, buf + stop, cur_origin, ttl, depth);
			break;
		default:
			rc = fail(ld, "%s:%u: %s", path, rec_line, ldns_get_errorstr_by_id(s));
			break;
		}
		if (stop == start)
			break; /* no progress: end of input */
		pos = (size_t)stop;
	}
out:
	ldns_rdf_deep_free(cur_origin);
	ldns_rdf_deep_free(prev);
	fclose(fp);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ building */

static int slots_grow(struct loader *ld)
{
	uint32_t old_size = ld->slots ? ld->slot_mask + 1 : 0;
	uint32_t size = old_size ? old_size * 2 : 1024;
	if (size == 0 || size > (1u << 30))
		return -1;
	struct zone_slot *slots = calloc(size, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (uint32_t i = 0; i < old_size; i++) {
		struct zone_slot s = ld->slots[i];
		if (s.index == 0)
			continue;
		uint32_t j = s.hash & (size - 1);
		while (slots[j].index != 0)
			j = (j + 1) & (size - 1);
		slots[j] = s;
	}
	free(ld->slots);
	ld->slots = slots;
	ld->slot_mask = size - 1;
	return 0;
}

/* The index of name's node while building, or ZONE_NONE. */
static uint32_t node_lookup(const struct loader *ld, const uint8_t *name)
{
	uint32_t h = dname_hash(name);
	size_t len = dname_len(name);
	for (uint32_t i = h & ld->slot_mask; ld->slots[i].index != 0; i = (i + 1) & ld->slot_mask) {
		uint32_t idx = ld->slots[i].index - 1;
		if (ld->slots[i].hash == h && names_equal(ld->nodes[idx].name, name, len))
			return idx;
	}
	return ZONE_NONE;
}

/* Finds name's node or creates it; ZONE_NONE on out of memory. */
static uint32_t node_get(struct loader *ld, const uint8_t *name, bool *created)
{
	uint32_t h = dname_hash(name);
	size_t len = dname_len(name);
	uint32_t i;
	*created = false;
	for (i = h & ld->slot_mask; ld->slots[i].index != 0; i = (i + 1) & ld->slot_mask) {
		if (ld->slots[i].hash == h && names_equal(ld->nodes[ld->slots[i].index - 1].name, name, len))
			return ld->slots[i].index - 1;
	}
	if (ld->node_count == ld->node_cap) {
		size_t cap = ld->node_cap ? ld->node_cap * 2 : 256;
		struct zone_node *n = realloc(ld->nodes, cap * sizeof(*n));
		if (n == NULL)
			return ZONE_NONE;
		ld->nodes = n;
		struct load_node *l = realloc(ld->lnodes, cap * sizeof(*l));
		if (l == NULL)
			return ZONE_NONE;
		ld->lnodes = l;
		ld->node_cap = cap;
	}
	uint32_t idx = (uint32_t)ld->node_count++;
	ld->nodes[idx] = (struct zone_node){.name = name};
	ld->lnodes[idx] =
	    (struct load_node){.parent = ZONE_NONE, .cut = ZONE_NONE, .dname = ZONE_NONE, .binding = ZONE_NONE};
	ld->slots[i] = (struct zone_slot){.hash = h, .index = idx + 1};
	*created = true;
	/* Keep the load factor at or below 3/4: slots are 8 bytes and carry
	 * the hash, so a probe run stays within a cache line or two. */
	if (++ld->slot_used * 4 > ((size_t)ld->slot_mask + 1) * 3 && slots_grow(ld) < 0)
		return ZONE_NONE;
	return idx;
}

/* The node of an owner name, creating it and any missing ancestors. */
static uint32_t node_for_owner(struct loader *ld, const uint8_t *owner)
{
	bool created;
	uint32_t idx = node_get(ld, owner, &created);
	uint32_t child = idx;
	const uint8_t *name = owner;
	while (created && child != ZONE_NONE && child != 0) {
		name = dname_parent(name);
		uint32_t parent = node_get(ld, name, &created);
		if (parent == ZONE_NONE)
			return ZONE_NONE;
		ld->lnodes[child].parent = parent;
		child = parent;
	}
	return child == ZONE_NONE ? ZONE_NONE : idx;
}

static int rr_order(const void *a, const void *b)
{
	const struct load_rr *x = a, *y = b;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int rdata_order(const void *a, const void *b)
{
	const struct load_rr *x = *(const struct load_rr *const *)a, *y = *(const struct load_rr *const *)b;
	if (x->rdlen != y->rdlen)
		return x->rdlen < y->rdlen ? -1 : 1;
	int c = memcmp(x->rdata, y->rdata, x->rdlen);
	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_rdata(const struct load_rr *x, const struct load_rr *y)
{
	return x->rdlen == y->rdlen && memcmp(x->rdata, y->rdata, x->rdlen) == 0;
}

/* Marks exact duplicates in rrs[0..n) (all of one RRset) as dropped,
 * keeping the first in file order. */
static int mark_duplicates(struct load_rr *rrs, size_t n)
{
	if (n <= 8) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (!(rrs[j].flags & RR_DROPPED) && same_rdata(&rrs[i], &rrs[j])) {
					rrs[i].flags |= RR_DROPPED;
					break;
				}
		return 0;
	}
	struct load_rr **order = malloc(n * sizeof(*order));
	if (order == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		order[i] = &rrs[i];
	qsort(order, n, sizeof(*order), rdata_order);
	for (size_t i = 1; i < n; i++)
		if (same_rdata(order[i], order[i - 1]))
			order[i]->flags |= RR_DROPPED;
	free(order);
	return 0;
}

static int add_set(struct loader *ld, struct load_set set)
{
	if (ld->set_count == ld->set_cap) {
		size_t cap = ld->set_cap ? ld->set_cap * 2 : 256;
		struct load_set *s = realloc(ld->sets, cap * sizeof(*s));
		if (s == NULL)
			return -1;
		ld->sets = s;
		ld->set_cap = cap;
	}
	ld->sets[ld->set_count++] = set;
	return 0;
}

static bool cname_may_coexist(uint16_t type)
{
	return type == T_RRSIG || type == T_NSEC || type == T_KEY;
}

/* CNAME rules at one node (RFC 1034 3.6.2, RFC 2181 10.1). */
static int check_cname(struct loader *ld, uint32_t node)
{
	const struct load_node *ln = &ld->lnodes[node];
	const struct load_set *cname = NULL;
	const struct load_rr *other = NULL;
	for (uint32_t i = 0; i < ln->set_count; i++) {
		const struct load_set *s = &ld->sets[ln->first_set + i];
		if (s->type == T_CNAME)
			cname = s;
		else if (!cname_may_coexist(s->type) && (other == NULL || ld->rrs[s->first].seq < other->seq))
			other = &ld->rrs[s->first];
	}
	if (cname == NULL)
		return 0;
	char text[DNAME_TEXT_MAXLEN];
	name_text(ld->nodes[node].name, text);
	if (cname->count > 1) {
		const struct load_rr *second = &ld->rrs[cname->first + 1];
		return fail(ld, "%s:%u: more than one CNAME at %s", ld->files[second->file], second->line,
		            text);
	}
	if (other != NULL) {
		const struct load_rr *c = &ld->rrs[cname->first];
		const struct load_rr *later = c->seq > other->seq ? c : other;
		return fail(ld, "%s:%u: CNAME and other data at %s", ld->files[later->file], later->line,
		            text);
	}
	return 0;
}

/* Sorts the records into RRsets, drops duplicates, checks per-node rules. */
static int group_rrsets(struct loader *ld)
{
	struct load_rr *rrs = ld->rrs;
	size_t n = ld->rr_count, w = 0, i = 0;
	char text[DNAME_TEXT_MAXLEN], tname[16];

	if (n > 0)
		qsort(rrs, n, sizeof(*rrs), rr_order); /* qsort(NULL, 0) is undefined */
	while (i < n) {
		uint32_t node = rrs[i].node;
		ld->lnodes[node].first_set = (uint32_t)ld->set_count;
		while (i < n && rrs[i].node == node) {
			size_t j = i;
			while (j < n && rrs[j].node == node && rrs[j].type == rrs[i].type)
				j++;
			if (mark_duplicates(&rrs[i], j - i) < 0)
				return fail(ld, "%s: out of memory", ld->files[0]);
			struct load_set set = {.node = node, .first = (uint32_t)w, .type = rrs[i].type};
			/* RFC 2181 5.2: records of one RRset with different TTLs are
			 * treated as if all had the lowest.  (Knot keeps the last
			 * one read; the lowest never keeps data cached longer than
			 * any of its records asked for.) */
			uint32_t ttl = rrs[i].ttl;
			for (size_t k = i + 1; k < j; k++)
				if (rrs[k].ttl < ttl)
					ttl = rrs[k].ttl;
			for (size_t k = i; k < j; k++) {
				if (rrs[k].ttl != ttl) {
					name_text(ld->nodes[node].name, text);
					type_text(rrs[k].type, tname);
					log_warn("%s:%u: TTL %u of this %s record at %s is not the lowest of its "
					         "RRset; the RRset uses %u (RFC 2181 5.2)",
					         ld->files[rrs[k].file], rrs[k].line, rrs[k].ttl, tname, text, ttl);
				}
				if (rrs[k].flags & RR_DROPPED)
					continue;
				rrs[w] = rrs[k];
				rrs[w].ttl = ttl;
				w++;
				set.count++;
			}
			if (set.count > UINT16_MAX) {
				name_text(ld->nodes[node].name, text);
				return fail(ld, "%s: more than 65535 records in one RRset at %s",
				            ld->files[0], text);
			}
			if (add_set(ld, set) < 0)
				return fail(ld, "%s: out of memory", ld->files[0]);
			ld->lnodes[node].set_count++;
			i = j;
		}
		if (ld->lnodes[node].set_count > 0 && check_cname(ld, node) < 0)
			return -1;
	}
	ld->rr_count = w;
	return 0;
}

/* Flags zone cuts and what lies below them (apex is node 0), and finds the
 * DNAME above each name (RFC 6672: a DNAME's subtree is never answered). */
static void mark_cuts(struct loader *ld)
{
	for (size_t i = 0; i < ld->node_count; i++) {
		struct load_node *ln = &ld->lnodes[i];
		for (uint32_t s = 0; s < ln->set_count; s++) {
			uint16_t type = ld->sets[ln->first_set + s].type;
			if (type == T_NS && i != 0)
				ln->flags |= LN_HAS_NS;
			if (type == T_DNAME)
				ln->flags |= LN_HAS_DNAME;
		}
	}
	ld->nodes[0].flags |= ZONE_NODE_APEX;
	for (size_t i = 1; i < ld->node_count; i++) {
		uint32_t cut = ZONE_NONE, dname = ZONE_NONE;
		for (uint32_t p = ld->lnodes[i].parent; p != ZONE_NONE; p = ld->lnodes[p].parent) {
			/* keep walking: the topmost one wins */
			if (p != 0 && (ld->lnodes[p].flags & LN_HAS_NS))
				cut = p;
			if (ld->lnodes[p].flags & LN_HAS_DNAME)
				dname = p;
		}
		ld->lnodes[i].cut = cut;
		ld->lnodes[i].dname = dname;
		if (cut != ZONE_NONE)
			ld->nodes[i].flags |= ZONE_NODE_BELOW_CUT;
		else if (ld->lnodes[i].flags & LN_HAS_NS)
			ld->nodes[i].flags |= ZONE_NODE_DELEGATION;
	}
}

/* Nodes named by the NS records that stay (apex and real cuts) may keep
 * address records under a cut: they are glue. */
static void mark_ns_targets(struct loader *ld)
{
	for (size_t i = 0; i < ld->set_count; i++) {
		const struct load_set *s = &ld->sets[i];
		if (s->type != T_NS || !(s->node == 0 || (ld->nodes[s->node].flags & ZONE_NODE_DELEGATION)))
			continue;
		for (uint32_t k = 0; k < s->count; k++) {
			/* A name with no node is not in the zone and has no glue. */
			uint32_t idx = node_lookup(ld, ld->rrs[s->first + k].rdata);
			if (idx != ZONE_NONE)
				ld->lnodes[idx].flags |= LN_NS_TARGET;
		}
	}
}

static void drop_occluded(struct loader *ld)
{
	char text[DNAME_TEXT_MAXLEN], cut[DNAME_TEXT_MAXLEN], tname[16];
	for (size_t i = 0; i < ld->set_count; i++) {
		struct load_set *s = &ld->sets[i];
		uint16_t flags = ld->nodes[s->node].flags;
		const struct load_node *ln = &ld->lnodes[s->node];
		bool glue = (s->type == T_A || s->type == T_AAAA) && (ln->flags & LN_NS_TARGET);
		const struct load_rr *r = &ld->rrs[s->first];
		if (flags & ZONE_NODE_BELOW_CUT) {
			if (glue)
				continue;
			s->dropped = true;
			name_text(ld->nodes[s->node].name, text);
			name_text(ld->nodes[ln->cut].name, cut);
			type_text(s->type, tname);
			log_warn("%s:%u: dropping occluded %s at %s: it is below the zone cut at %s",
			         ld->files[r->file], r->line, tname, text, cut);
		} else if (ln->dname != ZONE_NONE) {
			s->dropped = true;
			name_text(ld->nodes[s->node].name, text);
			name_text(ld->nodes[ln->dname].name, cut);
			type_text(s->type, tname);
			log_warn("%s:%u: dropping occluded %s at %s: it is below the DNAME at %s "
			         "(RFC 6672 2.3)",
			         ld->files[r->file], r->line, tname, text, cut);
		} else if (flags & ZONE_NODE_DELEGATION) {
			if (glue || s->type == T_NS || s->type == T_DS || s->type == T_NSEC ||
			    s->type == T_RRSIG)
				continue;
			s->dropped = true;
			name_text(ld->nodes[s->node].name, text);
			type_text(s->type, tname);
			log_warn(
			    "%s:%u: dropping occluded %s at %s: only NS, DS and glue are kept at a zone cut",
			    ld->files[r->file], r->line, tname, text);
		}
	}
}

/* The host name an NS, MX, SRV, SVCB or HTTPS record points to, or NULL.
 * SVCB and HTTPS names are not lower-cased in the stored rdata (RFC 9460
 * keeps TargetName out of canonical lower-casing), so the name is copied
 * lower-cased into buf. */
static const uint8_t *rdata_target(uint16_t type, const struct zone_rdata *rd, uint8_t buf[DNAME_MAXLEN])
{
	size_t off = type == T_NS ? 0 : type == T_SRV ? 6 : 2;
	if (rd->len <= off)
		return NULL;
	if (type != T_SVCB && type != T_HTTPS)
		return rd->data + off;
	size_t len = dname_len(rd->data + off);
	if (len == 0 || len > DNAME_MAXLEN || len > rd->len - off)
		return NULL;
	memcpy(buf, rd->data + off, len);
	dname_lower(buf);
	return buf;
}

static bool node_has_address(const struct zone_node *n)
{
	return zone_node_rrset(n, T_A) != NULL || zone_node_rrset(n, T_AAAA) != NULL;
}

/* The host an additional-section target names: its own node, or for a
 * mail / service host that does not exist, the wildcard covering it (the
 * lookup a query for it would make: not through a cut or a DNAME).  NULL
 * when neither has addresses; *wild says which it is. */
static const struct zone_node *link_target(struct loader *ld, const struct zone *view, uint16_t type,
                                           const uint8_t *target, bool *wild)
{
	*wild = false;
	const struct zone_node *node = internal_find(ld->in, target);
	if (node != NULL) {
		/* Glue serves only delegations; a mail or service host below a
		 * cut is not ours to answer for. */
		if (!node_has_address(node) || (type != T_NS && (node->flags & ZONE_NODE_BELOW_CUT)))
			return NULL;
		return node;
	}
	if (type == T_NS)
		return NULL; /* glue is data that exists, never synthesized */
	struct zone_lookup found;
	zone_lookup(view, target, T_A, &found);
	if (found.match != ZONE_MATCH_WILDCARD || !node_has_address(found.node))
		return NULL;
	*wild = true;
	return found.node;
}

static int link_additional(struct loader *ld, const struct zone *view, struct zone_rrset *set)
{
	struct zone_link found[64];
	struct zone_link *links = set->count <= 64 ? found : malloc(set->count * sizeof(*links));
	if (links == NULL)
		return -1;
	int rc = 0;
	uint16_t n = 0;
	for (uint16_t i = 0; i < set->count && rc == 0; i++) {
		uint8_t lowered[DNAME_MAXLEN];
		const uint8_t *target = rdata_target(set->type, &set->rdata[i], lowered);
		bool wild;
		const struct zone_node *node = target ? link_target(ld, view, set->type, target, &wild) : NULL;
		if (node == NULL)
			continue;
		bool dup = false;
		for (uint16_t k = 0; k < n && !dup; k++)
			dup = dname_equal(links[k].owner, target);
		if (dup)
			continue;
		const uint8_t *owner = node->name;
		if (wild) { /* the target's name, kept (lowered may be on the stack) */
			ld->in->wildcard_links = true;
			size_t len = dname_len(target);
			uint8_t *copy = arena_alloc(&ld->in->arena, len, 1);
			if (copy == NULL)
				rc = -1;
			else
				owner = memcpy(copy, target, len);
		}
		links[n++] = (struct zone_link){.node = node, .owner = owner};
	}
	if (rc == 0 && n > 0) {
		struct zone_link *copy = arena_alloc(&ld->in->arena, n * sizeof(*copy), _Alignof(struct zone_link));
		if (copy == NULL) {
			rc = -1;
		} else {
			memcpy(copy, links, n * sizeof(*copy));
			set->additional = copy;
			set->additional_count = n;
		}
	}
	if (links != found)
		free(links);
	return rc;
}

/* The frozen name table, sized for the final node count (load <= 3/4). */
static int build_slots(struct loader *ld)
{
	struct zone_table_internal *in = ld->in;
	size_t count = ld->node_count;
	unsigned bits = 1;
	while (bits < 31 && ((size_t)1 << bits) <= count)
		bits++;
	if (((size_t)1 << bits) <= count)
		return -1;
	size_t size = 1024;
	while (size * 3 < count * 4)
		size *= 2;
	if (size > ((size_t)1 << 31))
		return -1;
	uint32_t *slots = calloc(size, sizeof(*slots));
	if (slots == NULL)
		return -1;
	uint32_t mask = (uint32_t)size - 1, index_mask = ((uint32_t)1 << bits) - 1;
	for (uint32_t i = 0; i <= ld->slot_mask; i++) {
		struct zone_slot old = ld->slots[i];
		if (old.index == 0)
			continue;
		uint32_t j = old.hash & mask;
		while (slots[j] != 0)
			j = (j + 1) & mask;
		slots[j] = (old.hash & ~index_mask) | old.index;
	}
	in->slots = slots;
	in->slot_mask = mask;
	in->index_bits = bits;
	return 0;
}

static int freeze(struct loader *ld, struct zone *zone)
{
	struct zone_table_internal *in = ld->in;
	size_t set_count = 0, rdata_count = 0;
	for (size_t i = 0; i < ld->set_count; i++)
		if (!ld->sets[i].dropped) {
			set_count++;
			rdata_count += ld->sets[i].count;
		}
	in->rrsets = calloc(set_count ? set_count : 1, sizeof(*in->rrsets));
	in->rdata = calloc(rdata_count ? rdata_count : 1, sizeof(*in->rdata));
	if (in->rrsets == NULL || in->rdata == NULL)
		return fail(ld, "%s: out of memory", ld->files[0]);

	/* The node array becomes the zone's; shrink it to size. */
	struct zone_node *nodes = realloc(ld->nodes, ld->node_count * sizeof(*nodes));
	if (nodes != NULL)
		ld->nodes = nodes;
	in->nodes = ld->nodes;
	ld->nodes = NULL;
	if (build_slots(ld) < 0)
		return fail(ld, "%s: out of memory", ld->files[0]);

	size_t si = 0, ri = 0;
	for (size_t i = 0; i < ld->node_count; i++) {
		struct zone_node *node = &in->nodes[i];
		const struct load_node *ln = &ld->lnodes[i];
		node->rrsets = &in->rrsets[si];
		node->rrset_count = 0;
		/* node->policy was set by bind_policies, or is NULL */
		for (uint32_t k = 0; k < ln->set_count; k++) {
			const struct load_set *s = &ld->sets[ln->first_set + k];
			if (s->dropped)
				continue;
			struct zone_rrset *set = &in->rrsets[si++];
			set->type = s->type;
			set->count = (uint16_t)s->count;
			set->ttl = ld->rrs[s->first].ttl;
			set->rdata = &in->rdata[ri];
			for (uint32_t r = 0; r < s->count; r++) {
				in->rdata[ri].data = ld->rrs[s->first + r].rdata;
				in->rdata[ri].len = ld->rrs[s->first + r].rdlen;
				ri++;
			}
			node->rrset_count++;
		}
		if (node->rrset_count == 0)
			node->rrsets = NULL;
		else if (zone_node_rrset(node, T_DNAME) != NULL)
			node->flags |= ZONE_NODE_DNAME;
	}

	for (size_t i = 1; i < ld->node_count; i++)
		if (dname_is_wildcard(in->nodes[i].name))
			in->nodes[ld->lnodes[i].parent].flags |= ZONE_NODE_HAS_WILDCARD;

	const struct zone_node *apex = &in->nodes[0];
	/* What zone_lookup needs, for the targets only a wildcard covers. */
	const struct zone view = {.origin = apex->name, .apex = apex, .internal = in};
	for (size_t i = 0; i < set_count; i++) {
		struct zone_rrset *set = &in->rrsets[i];
		if ((set->type == T_NS || set->type == T_MX || set->type == T_SRV || set->type == T_SVCB ||
		     set->type == T_HTTPS) &&
		    link_additional(ld, &view, set) < 0)
			return fail(ld, "%s: out of memory", ld->files[0]);
	}

	zone->origin = apex->name;
	zone->file = ld->files[0];
	zone->apex = apex;
	zone->soa = zone_node_rrset(apex, T_SOA);
	zone->node_count = ld->node_count;
	zone->rr_count = rdata_count;
	zone->internal = in;

	/* SOA rdata: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM. */
	const struct zone_rdata *soa = &zone->soa->rdata[0];
	size_t off = dname_len(soa->data);
	off += dname_len(soa->data + off);
	if (off + 20 > soa->len)
		return fail(ld, "%s: malformed SOA", ld->files[0]);
	const uint8_t *p = soa->data + off;
	zone->serial = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	uint32_t minimum = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
	zone->negative_ttl = zone->soa->ttl < minimum ? zone->soa->ttl : minimum;
	return 0;
}

/* ------------------------------------------------------ policy bindings */

/* True when text ends in a dot that is not escaped ("a\." is relative). */
static bool text_is_absolute(const char *text)
{
	size_t len = strlen(text);
	if (len == 0 || text[len - 1] != '.')
		return false;
	size_t slashes = 0;
	while (slashes + 1 < len && text[len - 2 - slashes] == '\\')
		slashes++;
	return slashes % 2 == 0;
}

/*
 * A binding's name in wire form: "@" is the origin, a name with a trailing
 * dot is absolute, anything else is relative to the origin (as in a
 * master file).  -1 with a message when the name is bad or too long.
 */
static int binding_name(const char *text, const uint8_t *origin, uint8_t out[DNAME_MAXLEN])
{
	size_t origin_len = dname_len(origin);
	if (strcmp(text, "@") == 0) {
		memcpy(out, origin, origin_len);
		return (int)origin_len;
	}
	int n = dname_from_text(text, out);
	if (n < 0)
		return -1;
	if (!text_is_absolute(text)) {
		/* relative: drop our root byte and append the origin */
		if ((size_t)n - 1 + origin_len > DNAME_MAXLEN)
			return -1;
		memcpy(out + n - 1, origin, origin_len);
		n = (int)((size_t)n - 1 + origin_len);
	}
	dname_lower(out);
	return n;
}

static const char *binding_file(const struct zone_policy_binding *b)
{
	return b->config_file ? b->config_file : "(config)";
}

/* Gives every bound name a node (and its ancestors), checking the rules
 * that need no zone cuts: in the zone, bound once, no static address or
 * CNAME data.  Runs after grouping, before the cuts are marked, so created
 * nodes get their cut flags like any other. */
static int bind_policies(struct loader *ld)
{
	const struct zone_source *src = ld->src;
	char text[DNAME_TEXT_MAXLEN], zone_text[DNAME_TEXT_MAXLEN], tname[16];
	name_text(ld->origin, zone_text);
	for (size_t b = 0; b < src->binding_count; b++) {
		const struct zone_policy_binding *bind = &src->bindings[b];
		const char *cfg = binding_file(bind);
		uint8_t name[DNAME_MAXLEN];
		int n = binding_name(bind->name, ld->origin, name);
		if (n < 0)
			return fail(ld, "%s:%d: bad name '%s' for a policy in zone %s", cfg,
			            bind->config_line, bind->name, zone_text);
		name_text(name, text);
		if (!dname_is_at_or_below(name, ld->origin))
			return fail(ld, "%s:%d: %s has a policy but is not in zone %s", cfg,
			            bind->config_line, text, zone_text);
		const uint8_t *stored = arena_copy(&ld->in->arena, name, (size_t)n);
		uint32_t idx = stored ? node_for_owner(ld, stored) : ZONE_NONE;
		if (idx == ZONE_NONE)
			return fail(ld, "%s: out of memory", ld->files[0]);
		struct load_node *ln = &ld->lnodes[idx];
		if (ln->binding != ZONE_NONE)
			return fail(ld, "%s:%d: %s has a policy twice (first at %s:%d)", cfg,
			            bind->config_line, text, binding_file(&src->bindings[ln->binding]),
			            src->bindings[ln->binding].config_line);
		for (uint32_t k = 0; k < ln->set_count; k++) {
			const struct load_set *s = &ld->sets[ln->first_set + k];
			if (s->type != T_A && s->type != T_AAAA && s->type != T_CNAME)
				continue;
			const struct load_rr *r = &ld->rrs[s->first];
			type_text(s->type, tname);
			return fail(ld, "%s:%d: %s has a policy and static %s data (%s:%u)", cfg,
			            bind->config_line, text, tname, ld->files[r->file], r->line);
		}
		ln->binding = (uint32_t)b;
		ld->nodes[idx].policy = bind->record;
	}
	return 0;
}

/* A delegated name, or one under a delegation, is answered by another
 * server: a policy there would never be used. */
static int check_binding_cuts(struct loader *ld)
{
	char text[DNAME_TEXT_MAXLEN], cut[DNAME_TEXT_MAXLEN];
	for (size_t i = 0; i < ld->node_count; i++) {
		const struct load_node *ln = &ld->lnodes[i];
		if (ln->binding == ZONE_NONE)
			continue;
		const struct zone_policy_binding *bind = &ld->src->bindings[ln->binding];
		uint16_t flags = ld->nodes[i].flags;
		name_text(ld->nodes[i].name, text);
		if (flags & ZONE_NODE_DELEGATION)
			return fail(ld,
			            "%s:%d: %s has a policy but is a zone cut (NS records there delegate it)",
			            binding_file(bind), bind->config_line, text);
		if (flags & ZONE_NODE_BELOW_CUT) {
			name_text(ld->nodes[ln->cut].name, cut);
			return fail(ld, "%s:%d: %s has a policy but is below the zone cut at %s",
			            binding_file(bind), bind->config_line, text, cut);
		}
		if (ln->dname != ZONE_NONE) {
			name_text(ld->nodes[ln->dname].name, cut);
			return fail(ld, "%s:%d: %s has a policy but is below the DNAME at %s, which redirects it",
			            binding_file(bind), bind->config_line, text, cut);
		}
	}
	return 0;
}

static int build_zone(struct loader *ld, struct zone *zone)
{
	char origin_text[DNAME_TEXT_MAXLEN];
	name_text(ld->origin, origin_text);

	if (slots_grow(ld) < 0)
		return fail(ld, "%s: out of memory", ld->files[0]);
	const uint8_t *apex_name = arena_copy(&ld->in->arena, ld->origin, ld->origin_len);
	bool created;
	if (apex_name == NULL || node_get(ld, apex_name, &created) != 0)
		return fail(ld, "%s: out of memory", ld->files[0]);

	uint32_t last = ZONE_NONE;
	const uint8_t *last_owner = NULL;
	for (size_t i = 0; i < ld->rr_count; i++) {
		struct load_rr *r = &ld->rrs[i];
		if (r->owner != last_owner) {
			last = node_for_owner(ld, r->owner);
			last_owner = r->owner;
			if (last == ZONE_NONE)
				return fail(ld, "%s: out of memory", ld->files[0]);
		}
		r->node = last;
	}
	if (group_rrsets(ld) < 0)
		return -1;

	const struct load_node *apex = &ld->lnodes[0];
	const struct load_set *soa = NULL, *ns = NULL;
	for (uint32_t k = 0; k < apex->set_count; k++) {
		const struct load_set *s = &ld->sets[apex->first_set + k];
		if (s->type == T_SOA)
			soa = s;
		else if (s->type == T_NS)
			ns = s;
	}
	if (soa == NULL)
		return fail(ld, "%s: no SOA at the apex %s", ld->files[0], origin_text);
	if (soa->count > 1) {
		const struct load_rr *r = &ld->rrs[soa->first + 1];
		return fail(ld, "%s:%u: more than one SOA at the apex %s", ld->files[r->file], r->line,
		            origin_text);
	}
	if (ns == NULL)
		return fail(ld, "%s: no NS at the apex %s", ld->files[0], origin_text);
	for (size_t i = 0; i < ld->set_count; i++) {
		const struct load_set *s = &ld->sets[i];
		if (s->type != T_DNAME || s->count < 2)
			continue;
		const struct load_rr *r = &ld->rrs[s->first + 1];
		char text[DNAME_TEXT_MAXLEN];
		name_text(ld->nodes[s->node].name, text);
		return fail(ld, "%s:%u: more than one DNAME at %s (RFC 6672 2.4)", ld->files[r->file], r->line, text);
	}
	if (bind_policies(ld) < 0)
		return -1;

	mark_cuts(ld);
	if (check_binding_cuts(ld) < 0)
		return -1;
	mark_ns_targets(ld);
	drop_occluded(ld);
	return freeze(ld, zone);
}

static void loader_release(struct loader *ld)
{
	free(ld->slots);
	free(ld->rrs);
	free(ld->files);
	free(ld->nodes);
	free(ld->lnodes);
	free(ld->sets);
}

static void internal_free(struct zone_table_internal *in)
{
	free(in->nodes);
	free(in->rrsets);
	free(in->rdata);
	free(in->slots);
	arena_free(&in->arena);
}

static int load_zone(const struct zone_source *src, const uint8_t *origin, size_t origin_len,
                     struct zone *zone, struct zone_table_internal *in, char *err, size_t errlen)
{
	struct loader ld = {.origin_text = src->origin,
	                    .src = src,
	                    .origin_len = origin_len,
	                    .in = in,
	                    .err = err,
	                    .errlen = errlen};
	memcpy(ld.origin, origin, origin_len);
	in->origin_labels = dname_label_count(origin);
	/* A zone file that cannot be read is reported at the config line that
	 * names it, like an $INCLUDE file is at its $INCLUDE line. */
	const char *from = src->config_file != NULL && src->config_line > 0 ? src->config_file : NULL;
	int rc = load_file(&ld, src->file, origin, 0, 0, from, from ? (unsigned)src->config_line : 0);
	if (rc == 0)
		rc = build_zone(&ld, zone);
	loader_release(&ld);
	return rc;
}

/* --------------------------------------------------------------- table */

/* A name bound in one zone but inside a more specific zone of the table
 * would never be answered from the policy: queries go to the other zone. */
static int check_binding_zones(const struct zone_table *t, const struct zone_source *sources, char *err,
                               size_t errlen)
{
	for (size_t z = 0; z < t->count; z++) {
		for (size_t b = 0; b < sources[z].binding_count; b++) {
			const struct zone_policy_binding *bind = &sources[z].bindings[b];
			uint8_t name[DNAME_MAXLEN];
			if (binding_name(bind->name, t->zones[z].origin, name) < 0)
				continue; /* load_zone already refused it */
			const struct zone *owner = zone_table_find(t, name);
			if (owner == &t->zones[z])
				continue;
			char text[DNAME_TEXT_MAXLEN], here[DNAME_TEXT_MAXLEN], there[DNAME_TEXT_MAXLEN];
			name_text(name, text);
			name_text(t->zones[z].origin, here);
			name_text(owner->origin, there);
			snprintf(err, errlen, "%s:%d: %s has a policy in zone %s but is served by zone %s",
			         binding_file(bind), bind->config_line, text, here, there);
			return -1;
		}
	}
	return 0;
}

/* A link through a wildcard is dropped when its target belongs to another
 * zone served here: that zone answers the target (NXDOMAIN, say), and the
 * additional section must not say otherwise.  Only known once every zone
 * is loaded. */
static void drop_foreign_wildcard_links(struct zone_table *t)
{
	for (size_t z = 0; z < t->count; z++) {
		struct zone_table_internal *in = &t->internals[z];
		if (!in->wildcard_links)
			continue;
		for (size_t n = 0; n < t->zones[z].node_count; n++) {
			const struct zone_node *node = &in->nodes[n];
			for (uint16_t k = 0; k < node->rrset_count; k++) {
				struct zone_rrset *set = &in->rrsets[node->rrsets - in->rrsets + k];
				struct zone_link *links = (struct zone_link *)set->additional; /* arena memory of this build */
				uint16_t kept = 0;
				for (uint16_t i = 0; i < set->additional_count; i++) {
					bool wild = links[i].owner != links[i].node->name;
					if (!wild || zone_table_find(t, links[i].owner) == &t->zones[z])
						links[kept++] = links[i];
				}
				set->additional_count = kept;
				if (kept == 0)
					set->additional = NULL;
			}
		}
	}
}

/* Frees what was built and returns -1 with err as one line (an origin or
 * a path from the config may hold any byte; fail() does the same). */
static int table_fail(struct zone_table *t, char *err, size_t errlen)
{
	zone_table_free(t);
	if (errlen)
		log_flatten(err);
	return -1;
}

int zone_table_build(const struct zone_source *sources, size_t count, struct zone_table **out, char *err,
                     size_t errlen)
{
	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	struct zone_table *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint32_t size = 8;
	while (size < count * 2)
		size *= 2;
	t->zones = calloc(count ? count : 1, sizeof(*t->zones));
	t->internals = calloc(count ? count : 1, sizeof(*t->internals));
	t->slots = calloc(size, sizeof(*t->slots));
	t->slot_mask = size - 1;
	if (t->zones == NULL || t->internals == NULL || t->slots == NULL) {
		snprintf(err, errlen, "out of memory");
		return table_fail(t, err, errlen);
	}

	for (size_t z = 0; z < count; z++) {
		uint8_t origin[DNAME_MAXLEN];
		int olen = dname_from_text(sources[z].origin, origin);
		/* Both mistakes are in the configuration: name its line when known. */
		char where[PATH_MAX + 16];
		if (sources[z].config_file != NULL && sources[z].config_line > 0)
			snprintf(where, sizeof where, "%s:%d", sources[z].config_file, sources[z].config_line);
		else
			snprintf(where, sizeof where, "%s", sources[z].file);
		if (olen < 0) {
			snprintf(err, errlen, "%s: invalid zone origin '%s'", where, sources[z].origin);
			return table_fail(t, err, errlen);
		}
		uint32_t h = dname_hash(origin);
		uint32_t i = h & t->slot_mask;
		for (; t->slots[i].index != 0; i = (i + 1) & t->slot_mask) {
			const struct zone *other = &t->zones[t->slots[i].index - 1];
			if (t->slots[i].hash == h && dname_equal(other->origin, origin)) {
				char text[DNAME_TEXT_MAXLEN];
				name_text(origin, text);
				snprintf(err, errlen, "%s: zone %s is configured twice (first from %s)", where, text,
				         other->file);
				return table_fail(t, err, errlen);
			}
		}
		t->count = z + 1; /* so a failure below frees this zone's parts too */
		if (load_zone(&sources[z], origin, (size_t)olen, &t->zones[z], &t->internals[z], err,
		              errlen) < 0)
			return table_fail(t, err, errlen);
		t->slots[i] = (struct zone_slot){.hash = h, .index = (uint32_t)z + 1};
	}
	if (check_binding_zones(t, sources, err, errlen) < 0)
		return table_fail(t, err, errlen);
	drop_foreign_wildcard_links(t);
	*out = t;
	return 0;
}

void zone_table_free(struct zone_table *table)
{
	if (table == NULL)
		return;
	if (table->internals != NULL)
		for (size_t i = 0; i < table->count; i++)
			internal_free(&table->internals[i]);
	free(table->internals);
	free(table->zones);
	free(table->slots);
	free(table);
}

size_t zone_table_count(const struct zone_table *table)
{
	return table ? table->count : 0;
}

const struct zone *zone_table_at(const struct zone_table *table, size_t index)
{
	return table && index < table->count ? &table->zones[index] : NULL;
}

const struct zone *zone_table_find(const struct zone_table *table, const uint8_t *qname)
{
	if (table == NULL || table->count == 0)
		return NULL;
	if (table->count <= ZONE_TABLE_LINEAR_MAX) {
		/* A handful of zones (the usual server): each origin tested as
		 * an ancestor of qname, no hashing per ancestor; the longest
		 * origin that is one wins. */
		const struct zone *best = NULL;
		size_t best_len = 0;
		for (size_t z = 0; z < table->count; z++) {
			const uint8_t *origin = table->zones[z].origin;
			size_t olen = dname_len(origin);
			if ((best == NULL || olen > best_len) && dname_is_at_or_below(qname, origin)) {
				best = &table->zones[z];
				best_len = olen;
			}
		}
		return best;
	}
	/* qname first, then each ancestor: the first origin hit is the longest. */
	for (const uint8_t *name = qname; name != NULL; name = dname_parent(name)) {
		uint32_t h = dname_hash(name);
		for (uint32_t i = h & table->slot_mask; table->slots[i].index != 0;
		     i = (i + 1) & table->slot_mask) {
			const struct zone *z = &table->zones[table->slots[i].index - 1];
			if (table->slots[i].hash == h && dname_equal(z->origin, name))
				return z;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------- lookups */

const struct zone_node *zone_node_find(const struct zone *zone, const uint8_t *name)
{
	if (zone == NULL || zone->internal == NULL)
		return NULL;
	return internal_find(zone->internal, name);
}

const struct zone_rrset *zone_node_rrset(const struct zone_node *node, uint16_t type)
{
	if (node == NULL)
		return NULL;
	/* RRsets are sorted by type and few per node: a linear scan that
	 * stops early is as fast as bisection here. */
	for (uint16_t i = 0; i < node->rrset_count; i++) {
		if (node->rrsets[i].type == type)
			return &node->rrsets[i];
		if (node->rrsets[i].type > type)
			break;
	}
	return NULL;
}

void zone_lookup(const struct zone *zone, const uint8_t *qname, uint16_t qtype, struct zone_lookup *out)
{
	const struct zone_table_internal *in = zone->internal;
	const struct zone_node *encloser = zone->apex;

	out->node = NULL;
	out->closest_encloser = encloser;
	out->match = ZONE_MATCH_NXDOMAIN;

	/* Offsets of qname's labels, so its ancestors can be visited from the
	 * apex down: the first cut met on the way is the topmost one. */
	uint8_t offsets[DNAME_MAXLABELS + 1];
	unsigned labels = 0;
	size_t pos = 0;
	while (pos < DNAME_MAXLEN && qname[pos] != 0 && labels <= DNAME_MAXLABELS) {
		offsets[labels++] = (uint8_t)pos;
		pos += (size_t)qname[pos] + 1;
	}
	if (labels < in->origin_labels || !dname_is_at_or_below(qname, zone->origin))
		return; /* not ours: callers pass names found by zone_table_find */
	unsigned below = labels - in->origin_labels;
	if (below == 0) {
		out->match = ZONE_MATCH_EXACT;
		out->node = encloser;
		return;
	}
	for (unsigned depth = 1; depth <= below; depth++) {
		/* encloser is a proper ancestor of qname here (the apex first):
		 * a DNAME there rewrites qname (RFC 6672 3.2); at qname itself
		 * a DNAME is ordinary data. */
		if (encloser->flags & ZONE_NODE_DNAME) {
			out->match = ZONE_MATCH_DNAME;
			out->node = encloser;
			out->closest_encloser = encloser;
			return;
		}
		const struct zone_node *node = internal_find(in, qname + offsets[below - depth]);
		if (node == NULL)
			break;
		if (node->flags & ZONE_NODE_DELEGATION) {
			/* The parent side of a cut answers only DS (RFC 4035 3.1.4.1). */
			bool ds_here = depth == below && qtype == T_DS;
			out->match = ds_here ? ZONE_MATCH_EXACT : ZONE_MATCH_DELEGATION;
			out->node = node;
			out->closest_encloser = node;
			return;
		}
		encloser = node;
		if (depth == below) {
			out->match = ZONE_MATCH_EXACT;
			out->node = node;
			out->closest_encloser = node;
			return;
		}
	}

	/* qname does not exist; encloser is its closest encloser (an empty
	 * non-terminal counts, RFC 4592 2.2.2).  Only its own wildcard child
	 * can synthesise an answer. */
	out->closest_encloser = encloser;
	if (encloser->flags & ZONE_NODE_HAS_WILDCARD) {
		uint8_t star[DNAME_MAXLEN];
		size_t len = dname_len(encloser->name);
		if (len + 2 > DNAME_MAXLEN)
			return; /* cannot happen: the wildcard node exists */
		star[0] = 1;
		star[1] = '*';
		memcpy(star + 2, encloser->name, len);
		const struct zone_node *wild = internal_find(in, star);
		if (wild != NULL) {
			/* A wildcard that owns NS is a zone cut like any other
			 * (RFC 4592 4.2): names it covers get its referral, not
			 * synthesized authoritative data; DS is answered from the
			 * parent side (knot: both the same). */
			bool cut = (wild->flags & ZONE_NODE_DELEGATION) && qtype != T_DS; /* DS: parent side, as above */
			out->match = cut ? ZONE_MATCH_DELEGATION : ZONE_MATCH_WILDCARD;
			out->node = wild;
		}
	}
}
