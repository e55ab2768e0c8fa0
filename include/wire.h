/*
 * wire — the DNS message format (RFC 1035, RFC 6891, RFC 7871), and nothing
 * else: it knows no zones, no policies and no sockets.
 *
 * Reading: wire_parse_query() validates a whole request in one pass and
 * extracts what answering needs (header fields, the question, EDNS and its
 * NSID / Client Subnet options) into a fixed-size struct.  Writing: a
 * wire_writer appends the sections of a reply into a caller-owned buffer,
 * compressing names against the names already written (RFC 1035 4.1.4).
 * Both work on caller-provided memory and never allocate, so they are used
 * directly on the query path.
 */
#ifndef GEOSTEER_WIRE_H
#define GEOSTEER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"

#define WIRE_HEADER_LEN 12
#define WIRE_MAX_MESSAGE 65535

/* Header flag bits as they sit in the 16-bit flags word (bytes 2-3). */
#define WIRE_FLAG_QR 0x8000
#define WIRE_FLAG_AA 0x0400
#define WIRE_FLAG_TC 0x0200
#define WIRE_FLAG_RD 0x0100
#define WIRE_FLAG_RA 0x0080
#define WIRE_FLAG_AD 0x0020
#define WIRE_FLAG_CD 0x0010
#define WIRE_OPCODE_SHIFT 11
#define WIRE_OPCODE_MASK 0x7800

enum wire_opcode { WIRE_OPCODE_QUERY = 0, WIRE_OPCODE_NOTIFY = 4, WIRE_OPCODE_UPDATE = 5 };

enum wire_rcode {
	WIRE_RCODE_NOERROR = 0,
	WIRE_RCODE_FORMERR = 1,
	WIRE_RCODE_SERVFAIL = 2,
	WIRE_RCODE_NXDOMAIN = 3,
	WIRE_RCODE_NOTIMP = 4,
	WIRE_RCODE_REFUSED = 5,
	WIRE_RCODE_YXDOMAIN = 6,
	WIRE_RCODE_NOTAUTH = 9,
	WIRE_RCODE_BADVERS = 16, /* extended: upper 8 bits go in the OPT TTL */
};

enum wire_type {
	WIRE_TYPE_A = 1,
	WIRE_TYPE_NS = 2,
	WIRE_TYPE_CNAME = 5,
	WIRE_TYPE_SOA = 6,
	WIRE_TYPE_PTR = 12,
	WIRE_TYPE_MX = 15,
	WIRE_TYPE_TXT = 16,
	WIRE_TYPE_AAAA = 28,
	WIRE_TYPE_SRV = 33,
	WIRE_TYPE_NAPTR = 35,
	WIRE_TYPE_DNAME = 39,
	WIRE_TYPE_OPT = 41,
	WIRE_TYPE_DS = 43,
	WIRE_TYPE_RRSIG = 46,
	WIRE_TYPE_NSEC = 47,
	WIRE_TYPE_DNSKEY = 48,
	WIRE_TYPE_SVCB = 64,
	WIRE_TYPE_HTTPS = 65,
	WIRE_TYPE_IXFR = 251,
	WIRE_TYPE_AXFR = 252,
	WIRE_TYPE_MAILB = 253,
	WIRE_TYPE_MAILA = 254,
	WIRE_TYPE_ANY = 255,
	WIRE_TYPE_CAA = 257,
};

enum wire_class { WIRE_CLASS_IN = 1, WIRE_CLASS_CH = 3, WIRE_CLASS_NONE = 254, WIRE_CLASS_ANY = 255 };

enum wire_edns_option { WIRE_EDNS_NSID = 3, WIRE_EDNS_CLIENT_SUBNET = 8, WIRE_EDNS_EDE = 15 };

/* RFC 3597's "TYPEnnn" (any case, nnn 1..65535, digits only) into *out;
 * false for anything else.  Mnemonics are the caller's (ldns or a table). */
bool wire_type_from_generic_text(const char *text, uint16_t *out);

/* RFC 8914 info codes we send; the option is 6 bytes (code, length, info code). */
enum wire_ede_code { WIRE_EDE_NOT_AUTHORITATIVE = 20 };
#define WIRE_EDE_OPTION_LEN 6

enum wire_parse_status {
	WIRE_PARSE_OK,
	WIRE_PARSE_DROP,    /* shorter than a header, or QR set: never answered */
	WIRE_PARSE_FORMERR, /* header readable, the rest is malformed */
	WIRE_PARSE_NOTIMP,  /* opcode other than QUERY (header readable) */
};

/* What answering needs to know about a request. */
struct wire_query {
	uint16_t id;
	uint16_t flags; /* the request's flags word as received */
	uint8_t opcode;

	/* The question.  has_question is true whenever the question section
	 * parsed, even when the status is FORMERR or NOTIMP because of what
	 * follows it, so such replies can echo it. */
	bool has_question;
	uint16_t question_len;         /* bytes at offset 12: name + type + class */
	uint8_t qname[DNAME_MAXLEN];   /* lower-cased copy */
	uint8_t qname_len;
	uint16_t qtype;
	uint16_t qclass;

	/* EDNS (RFC 6891): present when an OPT record was in the additional
	 * section.  A version above 0 is reported, not rejected: BADVERS is
	 * the responder's decision. */
	bool edns;
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp_size; /* as sent; the responder clamps it to >= 512 */
	bool edns_nsid;         /* an empty NSID option was present */

	/* EDNS Client Subnet (RFC 7871).  Only set when the option is well
	 * formed; a malformed one (or a second one) makes the whole parse
	 * FORMERR with ecs_malformed set, the rest of EDNS still filled in,
	 * so the FORMERR reply can carry OPT. */
	bool ecs;
	bool ecs_malformed;
	uint16_t ecs_family;       /* 1 = IPv4, 2 = IPv6 */
	uint8_t ecs_source_prefix;
	uint8_t ecs_address[16];   /* bits past source_prefix are zero */
};

/*
 * Parses a request.  Walks every section (names may be compressed in the
 * answer, authority and additional sections, with pointers only backwards),
 * and checks: QDCOUNT == 1, an uncompressed question name, at most one OPT
 * with the root owner in the additional section, well-formed EDNS options,
 * no bytes after the last record.  Fills q as far as it got.
 */
enum wire_parse_status wire_parse_query(const uint8_t *pkt, size_t len, struct wire_query *q);

/*
 * Reads a possibly compressed name at *pos into out (lower-cased, at most
 * DNAME_MAXLEN bytes) and advances *pos past it in the message.  Returns the
 * wire length of the expanded name, or -1 when malformed (pointer loop or
 * forward pointer, label > 63, name > 255, past the end).
 */
int wire_read_name(const uint8_t *pkt, size_t len, size_t *pos, uint8_t out[DNAME_MAXLEN]);

static inline uint16_t wire_get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wire_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Reply writer.  Section counts are kept here and written into the header
 * by wire_writer_finish().  Every write either appends a whole item or
 * leaves the writer unchanged and returns false (buffer or limit reached),
 * so callers never produce a partial record.
 */
#define WIRE_COMPRESS_MAX 96 /* names remembered as compression targets */

enum wire_section { WIRE_SECTION_ANSWER = 0, WIRE_SECTION_AUTHORITY = 1, WIRE_SECTION_ADDITIONAL = 2 };

struct wire_writer {
	uint8_t *buf;
	size_t limit; /* writes beyond this size fail (the reply size limit) */
	size_t len;
	uint16_t count[3]; /* per enum wire_section */
	uint16_t compress_offset[WIRE_COMPRESS_MAX];
	unsigned compress_count;
	/* A copy of the question's name (see wire_writer_alias_question): a
	 * name at this very address is written as a pointer to the question
	 * without being compared.  NULL: none. */
	const uint8_t *question_alias;
};

/* A position to roll back to, e.g. to drop an RRset that did not fit whole. */
struct wire_mark {
	size_t len;
	uint16_t count[3];
	unsigned compress_count;
};

/* limit must be >= WIRE_HEADER_LEN; the header bytes are reserved. */
void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t limit);

/* Changes the size limit (e.g. to the client's UDP size after writing the
 * question); never below the current length. */
void wire_writer_set_limit(struct wire_writer *w, size_t limit);

/* Copies the request's question section (bytes 12 .. 12+len) verbatim,
 * keeping the client's letter case, and makes its name a compression
 * target.  QDCOUNT is set to 1 by wire_writer_finish() when this was called. */
bool wire_write_question(struct wire_writer *w, const uint8_t *question, size_t len);

/* Declares name (e.g. the parser's lower-cased copy of the qname, which
 * must equal the question's name but for case) as the question's name:
 * owners and rdata names passed at that same address then become a pointer
 * to offset 12 directly, the usual case of an answer's owner, instead of
 * being matched against the remembered names.  A rewind to before the
 * question drops it. */
void wire_writer_alias_question(struct wire_writer *w, const uint8_t *name);

/*
 * Appends one resource record to a section.  owner is a lower-cased wire
 * name (compressed against earlier names); rdata is uncompressed wire
 * rdata.  Names inside the rdata of NS, CNAME, PTR, MX and SOA are
 * compressed (RFC 3597 section 4 forbids it for newer types); other rdata
 * is copied verbatim.
 */
bool wire_write_rr(struct wire_writer *w, enum wire_section section, const uint8_t *owner, uint16_t type,
		   uint16_t rrclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);

/* The OPT record of a reply (always in the additional section). */
struct wire_opt {
	uint16_t udp_size;
	uint8_t ext_rcode; /* upper 8 bits of a 12-bit rcode */
	uint8_t version;
	bool do_bit;
	const uint8_t *nsid; /* NSID option payload; NULL for none */
	uint16_t nsid_len;
	bool ecs;            /* echo a Client Subnet option */
	uint16_t ecs_family;
	uint8_t ecs_source_prefix;
	uint8_t ecs_scope_prefix;
	const uint8_t *ecs_address; /* ceil(source_prefix / 8) bytes are written */
	bool ede;          /* an Extended DNS Error option (RFC 8914), no extra text */
	uint16_t ede_code; /* its info code (enum wire_ede_code) */
};
bool wire_write_opt(struct wire_writer *w, const struct wire_opt *opt);

void wire_writer_mark(const struct wire_writer *w, struct wire_mark *m);
void wire_writer_rewind(struct wire_writer *w, const struct wire_mark *m);

/* Writes the header (id, flags word including the 4-bit rcode, and the
 * counts) and returns the message length. */
size_t wire_writer_finish(struct wire_writer *w, uint16_t id, uint16_t flags);

#endif
