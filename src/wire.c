/*
 * wire — reading requests and writing replies in the DNS message format.
 *
 * Reading is one forward pass over the message (wire_parse_query).  The
 * question is read strictly: its name must be uncompressed, because it is
 * the first name in the message and nothing precedes it to point at, and
 * because the reply echoes the question bytes verbatim.  The other sections
 * are walked only to find the OPT record and to make sure the message is
 * exactly as long as its counts say; any record that does not fit, and any
 * byte after the last one, makes the request FORMERR.
 *
 * Names elsewhere may be compressed.  wire_read_name() accepts a pointer only
 * when it targets an offset below the start of the run of labels it sits in.
 * Every jump therefore lands strictly lower than the one before, so a chain
 * of pointers ends after at most as many hops as there are bytes; the hop
 * cap is a second, cheaper bound.
 *
 * Writing appends into a caller-owned buffer up to w->limit.  Compression
 * (RFC 1035 4.1.4) works from a small table of offsets: every label start of
 * every name written in full, the question's included, so both
 * "www.shop.example" and its suffix "shop.example" become targets.  A new
 * name is matched suffix by suffix, longest first, against the names at
 * those offsets, comparing without case because the question keeps the
 * client's letter case.  The table is bounded (WIRE_COMPRESS_MAX); when it is
 * full, names are still written, only less compressed.  Offsets at or above
 * 0x4000 cannot be expressed in a 14-bit pointer and are not remembered.
 *
 * Every write is sized in full before its first byte is stored (a record's
 * compression is planned, then emitted), so a write that does not fit
 * leaves the writer and the whole buffer untouched, and a record is in the
 * message whole or not at all.  Marks roll back several records at once.
 *
 * The header's QDCOUNT lives in the reserved header bytes themselves:
 * wire_write_question() sets it, a rewind to before the question clears it,
 * and wire_writer_finish() writes everything else around it.
 */
#include "wire.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#define WIRE_MAX_POINTER_HOPS 127 /* a 255-byte name has at most 127 labels */
#define WIRE_POINTER_LIMIT 0x4000 /* offsets a compression pointer can hold */
#define WIRE_RR_FIXED_LEN 10      /* type, class, TTL, RDLENGTH */
#define WIRE_ECS_MAX_ADDRESS 16

static inline uint8_t wire_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* ---------------------------------------------------------------- reading */

int wire_read_name(const uint8_t *pkt, size_t len, size_t *pos, uint8_t out[DNAME_MAXLEN])
{
	size_t p = *pos;
	size_t run_start = p; /* lowest offset of the labels being read */
	size_t resume = 0;    /* where the message continues after this name */
	bool jumped = false;
	size_t out_len = 0;
	unsigned hops = 0;

	for (;;) {
		if (p >= len)
			return -1;
		uint8_t c = pkt[p];
		if ((c & 0xC0) == 0xC0) {
			if (p + 1 >= len)
				return -1;
			size_t target = (size_t)(c & 0x3F) << 8 | pkt[p + 1];
			/* Backwards only, and never into the header. */
			if (target >= run_start || target < WIRE_HEADER_LEN)
				return -1;
			if (++hops > WIRE_MAX_POINTER_HOPS)
				return -1;
			if (!jumped) {
				resume = p + 2;
				jumped = true;
			}
			p = target;
			run_start = target;
			continue;
		}
		if (c & 0xC0)
			return -1; /* 0x40 extended and 0x80 reserved label types */
		if (c == 0) {
			out[out_len++] = 0;
			if (!jumped)
				resume = p + 1;
			break;
		}
		if (p + 1 + c > len)
			return -1;
		/* The label, and the root byte that must still follow it. */
		if (out_len + 1 + c + 1 > DNAME_MAXLEN)
			return -1;
		out[out_len++] = c;
		for (size_t i = 1; i <= c; i++)
			out[out_len++] = wire_lower(pkt[p + i]);
		p += 1 + (size_t)c;
	}
	*pos = resume;
	return (int)out_len;
}

/*
 * Length of the uncompressed name at buf[pos], reading no further than end;
 * -1 when it runs past end, is too long, or contains anything but plain
 * labels.
 */
/*
 * Length of the uncompressed name at buf[pos] (labels of at most 63 bytes,
 * at most DNAME_MAXLEN in all, every byte before end), or -1.  With
 * lower_out, the name is also copied there lower-cased in the same pass —
 * the question's name, read once per packet; on -1 lower_out holds the
 * root name, never a half-copied one.
 */
static int wire_scan_plain_name(const uint8_t *buf, size_t pos, size_t end, uint8_t *lower_out)
{
	size_t start = pos;
	for (;;) {
		uint8_t c = pos < end ? buf[pos] : 0xFF;
		if (pos >= end || (c & 0xC0) || pos - start + 1 + c > DNAME_MAXLEN || pos + 1 + c > end) {
			if (lower_out)
				lower_out[0] = 0;
			return -1;
		}
		if (lower_out) {
			lower_out[pos - start] = c;
			for (size_t i = 1; i <= c; i++)
				lower_out[pos - start + i] = wire_lower(buf[pos + i]);
		}
		pos += 1 + (size_t)c;
		if (c == 0)
			return (int)(pos - start);
	}
}

static bool wire_parse_question(const uint8_t *pkt, size_t len, size_t *pos, struct wire_query *q)
{
	int name_len = wire_scan_plain_name(pkt, *pos, len, q->qname);
	if (name_len < 0)
		return false;
	size_t p = *pos + (size_t)name_len;
	if (p + 4 > len) {
		q->qname[0] = 0; /* never a name without its question */
		return false;
	}
	q->qname_len = (uint8_t)name_len;
	q->qtype = wire_get_u16(pkt + p);
	q->qclass = wire_get_u16(pkt + p + 2);
	q->question_len = (uint16_t)(name_len + 4);
	q->has_question = true;
	*pos = p + 4;
	return true;
}

/* RFC 7871 section 6, as it applies to a query. */
static bool wire_parse_ecs(const uint8_t *opt, uint16_t optlen, struct wire_query *q)
{
	if (q->ecs || optlen < 4)
		return false;
	uint16_t family = wire_get_u16(opt);
	uint8_t source = opt[2];
	uint8_t scope = opt[3];
	unsigned max_prefix;

	if (family == 1)
		max_prefix = 32;
	else if (family == 2)
		max_prefix = 128;
	else
		return false;
	if (source > max_prefix || scope != 0)
		return false;
	size_t addr_len = ((size_t)source + 7) / 8;
	if ((size_t)optlen - 4 != addr_len)
		return false;
	const uint8_t *addr = opt + 4;
	if (addr_len > 0 && source % 8 != 0) {
		uint8_t host_bits = (uint8_t)(0xFF >> (source % 8));
		if (addr[addr_len - 1] & host_bits)
			return false;
	}
	memset(q->ecs_address, 0, sizeof q->ecs_address);
	memcpy(q->ecs_address, addr, addr_len);
	q->ecs_family = family;
	q->ecs_source_prefix = source;
	q->ecs = true;
	return true;
}

/* The OPT record's class/TTL/rdata (RFC 6891 section 6.1.2 and 6.1.3). */
static bool wire_parse_opt(const uint8_t *pkt, size_t rr, size_t rdata, uint16_t rdlen, struct wire_query *q)
{
	uint32_t ttl = wire_get_u32(pkt + rr + 4);

	q->edns = true;
	q->edns_udp_size = wire_get_u16(pkt + rr + 2);
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_do = (ttl & 0x8000) != 0;

	size_t p = rdata;
	size_t end = rdata + rdlen;
	while (p < end) {
		if (end - p < 4)
			return false;
		uint16_t code = wire_get_u16(pkt + p);
		uint16_t optlen = wire_get_u16(pkt + p + 2);
		p += 4;
		if (end - p < optlen)
			return false;
		if (code == WIRE_EDNS_NSID) {
			q->edns_nsid = true;
		} else if (code == WIRE_EDNS_CLIENT_SUBNET) {
			/* A bad ECS option (or a second one) makes the request
			 * FORMERR (RFC 7871 7.1.1), but the OPT record itself is
			 * sound, so the reply still carries OPT (RFC 6891 7). */
			if (q->ecs || !wire_parse_ecs(pkt + p, optlen, q)) {
				q->ecs = false;
				q->ecs_malformed = true;
			}
		}
		p += optlen;
	}
	return true;
}

/* Walks the answer, authority and additional sections. */
static enum wire_parse_status wire_parse_records(const uint8_t *pkt, size_t len, size_t *pos,
                                                 uint32_t ancount, uint32_t nscount, uint32_t arcount,
                                                 struct wire_query *q)
{
	uint8_t owner[DNAME_MAXLEN];
	uint32_t total = ancount + nscount + arcount;
	bool seen_opt = false;

	for (uint32_t i = 0; i < total; i++) {
		int owner_len = wire_read_name(pkt, len, pos, owner);
		if (owner_len < 0)
			return WIRE_PARSE_FORMERR;
		size_t rr = *pos;
		if (len - rr < WIRE_RR_FIXED_LEN)
			return WIRE_PARSE_FORMERR;
		uint16_t type = wire_get_u16(pkt + rr);
		uint16_t rdlen = wire_get_u16(pkt + rr + 8);
		size_t rdata = rr + WIRE_RR_FIXED_LEN;
		if (len - rdata < rdlen)
			return WIRE_PARSE_FORMERR;
		if (i >= ancount + nscount && type == WIRE_TYPE_OPT) {
			if (seen_opt || owner_len != 1)
				return WIRE_PARSE_FORMERR;
			seen_opt = true;
			if (!wire_parse_opt(pkt, rr, rdata, rdlen, q))
				return WIRE_PARSE_FORMERR;
		}
		*pos = rdata + rdlen;
	}
	if (*pos != len)
		return WIRE_PARSE_FORMERR; /* bytes after the last counted record */
	return WIRE_PARSE_OK;
}

enum wire_parse_status wire_parse_query(const uint8_t *pkt, size_t len, struct wire_query *q)
{
	/* Everything but the 255-byte name buffer is cleared (this runs for
	 * every packet); the name is read only up to its own end. */
	const size_t name_end = offsetof(struct wire_query, qname) + sizeof q->qname;
	memset(q, 0, offsetof(struct wire_query, qname));
	q->qname[0] = 0;
	memset((uint8_t *)q + name_end, 0, sizeof *q - name_end);
	if (len < WIRE_HEADER_LEN)
		return WIRE_PARSE_DROP;
	q->id = wire_get_u16(pkt);
	q->flags = wire_get_u16(pkt + 2);
	q->opcode = (uint8_t)((q->flags & WIRE_OPCODE_MASK) >> WIRE_OPCODE_SHIFT);
	if (q->flags & WIRE_FLAG_QR)
		return WIRE_PARSE_DROP;

	uint16_t qdcount = wire_get_u16(pkt + 4);
	uint16_t ancount = wire_get_u16(pkt + 6);
	uint16_t nscount = wire_get_u16(pkt + 8);
	uint16_t arcount = wire_get_u16(pkt + 10);
	size_t pos = WIRE_HEADER_LEN;

	if (q->opcode != WIRE_OPCODE_QUERY) {
		/* Echo the question when there is one, and pick up EDNS when
		 * the rest of a single-question message is readable, so the
		 * NOTIMP reply can carry OPT; nothing else is checked. */
		if (qdcount >= 1 && wire_parse_question(pkt, len, &pos, q) && qdcount == 1 &&
		    wire_parse_records(pkt, len, &pos, ancount, nscount, arcount, q) != WIRE_PARSE_OK) {
			q->edns = false;
			q->edns_nsid = false;
			q->ecs = false;
		}
		return WIRE_PARSE_NOTIMP;
	}
	if (qdcount == 0)
		return WIRE_PARSE_FORMERR;
	if (!wire_parse_question(pkt, len, &pos, q))
		return WIRE_PARSE_FORMERR;
	if (qdcount != 1)
		return WIRE_PARSE_FORMERR;
	enum wire_parse_status status = wire_parse_records(pkt, len, &pos, ancount, nscount, arcount, q);
	if (status == WIRE_PARSE_OK && q->ecs_malformed)
		return WIRE_PARSE_FORMERR;
	if (status != WIRE_PARSE_OK)
		q->ecs_malformed = false; /* the OPT record may not be trustworthy */
	return status;
}

/* ---------------------------------------------------------------- writing */

void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t limit)
{
	w->buf = buf;
	w->limit = limit;
	w->len = WIRE_HEADER_LEN;
	memset(w->count, 0, sizeof w->count);
	w->compress_count = 0;
	w->question_alias = NULL;
	memset(buf, 0, WIRE_HEADER_LEN);
}

void wire_writer_alias_question(struct wire_writer *w, const uint8_t *name)
{
	w->question_alias = name;
}

void wire_writer_set_limit(struct wire_writer *w, size_t limit)
{
	w->limit = limit < w->len ? w->len : limit;
}

void wire_writer_mark(const struct wire_writer *w, struct wire_mark *m)
{
	m->len = w->len;
	memcpy(m->count, w->count, sizeof m->count);
	m->compress_count = w->compress_count;
}

void wire_writer_rewind(struct wire_writer *w, const struct wire_mark *m)
{
	w->len = m->len;
	memcpy(w->count, m->count, sizeof w->count);
	w->compress_count = m->compress_count;
	if (m->len <= WIRE_HEADER_LEN) {
		wire_put_u16(w->buf + 4, 0); /* back to before the question */
		w->question_alias = NULL;     /* offset 12 will hold some other name */
	}
}

static bool wire_room(const struct wire_writer *w, size_t n)
{
	return w->len <= w->limit && n <= w->limit - w->len;
}

static void wire_remember(struct wire_writer *w, size_t offset)
{
	if (offset < WIRE_POINTER_LIMIT && w->compress_count < WIRE_COMPRESS_MAX)
		w->compress_offset[w->compress_count++] = (uint16_t)offset;
}

/* Registers every label start of the plain name at buf[offset]. */
static void wire_remember_name(struct wire_writer *w, size_t offset, size_t name_len)
{
	size_t p = 0;
	while (p + 1 < name_len) {
		wire_remember(w, offset + p);
		p += 1 + (size_t)w->buf[offset + p];
	}
}

/*
 * True when the name at buf[off] (written by us: plain labels, possibly
 * ending in a pointer to an earlier target) equals name, ignoring case.
 */
static bool wire_target_equals(const uint8_t *buf, size_t off, const uint8_t *name)
{
	size_t n = 0;
	unsigned hops = 0;

	for (;;) {
		uint8_t c = buf[off];
		if ((c & 0xC0) == 0xC0) {
			if (++hops > WIRE_MAX_POINTER_HOPS)
				return false;
			off = (size_t)(c & 0x3F) << 8 | buf[off + 1];
			continue;
		}
		if (c != name[n])
			return false;
		if (c == 0)
			return true;
		for (size_t i = 1; i <= c; i++)
			if (wire_lower(buf[off + i]) != wire_lower(name[n + i]))
				return false;
		off += 1 + (size_t)c;
		n += 1 + (size_t)c;
	}
}

/* Offset of a remembered name equal to name, or -1. */
static int wire_find_target(const struct wire_writer *w, const uint8_t *name)
{
	for (unsigned i = 0; i < w->compress_count; i++)
		if (wire_target_equals(w->buf, w->compress_offset[i], name))
			return w->compress_offset[i];
	return -1;
}

/*
 * A record is planned before a byte of it is written: where each name is
 * cut and what its pointer targets, and so the exact size.  Only when the
 * whole record fits is it written, so a failed write leaves even the bytes
 * past w->len untouched.  Names planned earlier in the same record (the
 * owner, an SOA's MNAME) are targets for later ones; as they are not in the
 * buffer yet, they are compared from memory.
 */
struct wire_plan_name {
	const uint8_t *name;
	size_t prefix; /* bytes written as plain labels */
	int target;    /* pointer target for the rest, or -1: ends in root */
};

struct wire_plan {
	size_t at; /* where the next planned byte would go */
	unsigned pending;
	uint16_t pending_offset[WIRE_COMPRESS_MAX];
	const uint8_t *pending_name[WIRE_COMPRESS_MAX];
};

static void wire_plan_init(struct wire_plan *plan, const struct wire_writer *w)
{
	plan->at = w->len;
	plan->pending = 0;
}

/* Plans one well-formed plain name at plan->at; the same registration
 * rule as wire_remember(), so writing it registers the same offsets. */
static void wire_plan_name(const struct wire_writer *w, struct wire_plan *plan, const uint8_t *name,
                           struct wire_plan_name *out)
{
	size_t name_len = dname_len(name);
	size_t prefix = 0;
	int target = -1;

	/* The question's name, when it is still in the message (the first
	 * target remembered, at offset 12): no comparison needed. */
	if (name == w->question_alias && w->compress_count > 0 && w->compress_offset[0] == WIRE_HEADER_LEN)
		target = WIRE_HEADER_LEN;
	while (target < 0 && prefix + 1 < name_len) {
		target = wire_find_target(w, name + prefix);
		for (unsigned i = 0; target < 0 && i < plan->pending; i++)
			if (dname_equal(plan->pending_name[i], name + prefix))
				target = plan->pending_offset[i];
		if (target >= 0)
			break;
		prefix += 1 + (size_t)name[prefix];
	}
	for (size_t p = 0; p < prefix; p += 1 + (size_t)name[p]) {
		size_t offset = plan->at + p;
		if (offset < WIRE_POINTER_LIMIT && w->compress_count + plan->pending < WIRE_COMPRESS_MAX) {
			plan->pending_offset[plan->pending] = (uint16_t)offset;
			plan->pending_name[plan->pending] = name + p;
			plan->pending++;
		}
	}
	out->name = name;
	out->prefix = prefix;
	out->target = target;
	plan->at += target >= 0 ? prefix + 2 : name_len;
}

static void wire_emit_name(struct wire_writer *w, const struct wire_plan_name *n)
{
	size_t start = w->len;
	memcpy(w->buf + start, n->name, n->prefix);
	for (size_t p = 0; p < n->prefix; p += 1 + (size_t)n->name[p])
		wire_remember(w, start + p);
	if (n->target >= 0) {
		wire_put_u16(w->buf + start + n->prefix, (uint16_t)(0xC000 | n->target));
		w->len += n->prefix + 2;
	} else {
		w->buf[start + n->prefix] = 0;
		w->len += n->prefix + 1;
	}
}

static void wire_emit_bytes(struct wire_writer *w, const uint8_t *data, size_t n)
{
	/* memmove: the question may be echoed from the request buffer the
	 * reply is written over (query_respond with resp == req). */
	if (n > 0)
		memmove(w->buf + w->len, data, n);
	w->len += n;
}

/*
 * The shape of rdata whose names are compressed: head fixed bytes, then
 * name_count plain names, then exactly tail fixed bytes.
 */
struct wire_rdata_shape {
	size_t head;
	unsigned name_count;
	size_t tail;
};

/* False for types whose rdata is copied verbatim (RFC 3597 section 4 keeps
 * compression to the types of RFC 1035). */
static bool wire_rdata_shape_of(uint16_t type, struct wire_rdata_shape *shape)
{
	switch (type) {
	case WIRE_TYPE_NS:
	case WIRE_TYPE_CNAME:
	case WIRE_TYPE_PTR:
		*shape = (struct wire_rdata_shape){0, 1, 0};
		return true;
	case WIRE_TYPE_MX:
		*shape = (struct wire_rdata_shape){2, 1, 0};
		return true;
	case WIRE_TYPE_SOA:
		*shape = (struct wire_rdata_shape){0, 2, 20};
		return true;
	default:
		return false;
	}
}

/* Finds the names in rdata of the given shape; false when the rdata does not
 * have that shape (it is then copied verbatim, as for an unknown type). */
static bool wire_rdata_names(const uint8_t *rdata, uint16_t rdlen, const struct wire_rdata_shape *shape,
                             size_t name_at[2])
{
	size_t p = shape->head;
	for (unsigned i = 0; i < shape->name_count; i++) {
		int n = p <= rdlen ? wire_scan_plain_name(rdata, p, rdlen, NULL) : -1;
		if (n < 0)
			return false;
		name_at[i] = p;
		p += (size_t)n;
	}
	return p + shape->tail == rdlen;
}

bool wire_write_question(struct wire_writer *w, const uint8_t *question, size_t len)
{
	if (w->len != WIRE_HEADER_LEN)
		return false; /* the question is the first thing after the header */
	int name_len = wire_scan_plain_name(question, 0, len, NULL);
	if (name_len < 0 || (size_t)name_len + 4 != len || !wire_room(w, len))
		return false;
	wire_emit_bytes(w, question, len);
	wire_remember_name(w, WIRE_HEADER_LEN, (size_t)name_len);
	wire_put_u16(w->buf + 4, 1);
	return true;
}

bool wire_write_rr(struct wire_writer *w, enum wire_section section, const uint8_t *owner, uint16_t type,
                   uint16_t rrclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	struct wire_plan plan;
	struct wire_plan_name owner_plan, rdata_plan[2];
	struct wire_rdata_shape shape = {0, 0, 0};
	size_t name_at[2];

	if ((unsigned)section > WIRE_SECTION_ADDITIONAL || w->count[section] == UINT16_MAX)
		return false;
	bool compress = wire_rdata_shape_of(type, &shape) && wire_rdata_names(rdata, rdlen, &shape, name_at);

	wire_plan_init(&plan, w);
	wire_plan_name(w, &plan, owner, &owner_plan);
	plan.at += WIRE_RR_FIXED_LEN;
	size_t rdata_start = plan.at;
	if (compress) {
		plan.at += shape.head;
		for (unsigned i = 0; i < shape.name_count; i++)
			wire_plan_name(w, &plan, rdata + name_at[i], &rdata_plan[i]);
		plan.at += shape.tail;
	} else {
		plan.at += rdlen;
	}
	if (!wire_room(w, plan.at - w->len))
		return false;

	/* Compression only shrinks rdata, so its length fits 16 bits. */
	uint8_t fixed[WIRE_RR_FIXED_LEN];
	wire_put_u16(fixed, type);
	wire_put_u16(fixed + 2, rrclass);
	wire_put_u32(fixed + 4, ttl);
	wire_put_u16(fixed + 8, (uint16_t)(plan.at - rdata_start));

	wire_emit_name(w, &owner_plan);
	wire_emit_bytes(w, fixed, sizeof fixed);
	if (compress) {
		wire_emit_bytes(w, rdata, shape.head);
		for (unsigned i = 0; i < shape.name_count; i++)
			wire_emit_name(w, &rdata_plan[i]);
		wire_emit_bytes(w, rdata + rdlen - shape.tail, shape.tail);
	} else {
		wire_emit_bytes(w, rdata, rdlen);
	}
	w->count[section]++;
	return true;
}

bool wire_write_opt(struct wire_writer *w, const struct wire_opt *opt)
{
	size_t addr_len = 0;
	size_t rdlen = 0;

	if (w->count[WIRE_SECTION_ADDITIONAL] == UINT16_MAX)
		return false;
	if (opt->nsid != NULL)
		rdlen += 4 + (size_t)opt->nsid_len;
	if (opt->ecs) {
		addr_len = ((size_t)opt->ecs_source_prefix + 7) / 8;
		if (addr_len > WIRE_ECS_MAX_ADDRESS || (addr_len > 0 && opt->ecs_address == NULL))
			return false;
		rdlen += 8 + addr_len;
	}
	if (opt->ede)
		rdlen += WIRE_EDE_OPTION_LEN;
	if (rdlen > UINT16_MAX || !wire_room(w, 1 + WIRE_RR_FIXED_LEN + rdlen))
		return false;

	uint8_t *p = w->buf + w->len;
	uint32_t ttl =
	    (uint32_t)opt->ext_rcode << 24 | (uint32_t)opt->version << 16 | (opt->do_bit ? 0x8000u : 0);
	*p++ = 0; /* root owner */
	wire_put_u16(p, WIRE_TYPE_OPT);
	wire_put_u16(p + 2, opt->udp_size);
	wire_put_u32(p + 4, ttl);
	wire_put_u16(p + 8, (uint16_t)rdlen);
	p += WIRE_RR_FIXED_LEN;
	if (opt->nsid != NULL) {
		wire_put_u16(p, WIRE_EDNS_NSID);
		wire_put_u16(p + 2, opt->nsid_len);
		if (opt->nsid_len > 0)
			memcpy(p + 4, opt->nsid, opt->nsid_len);
		p += 4 + opt->nsid_len;
	}
	if (opt->ecs) {
		wire_put_u16(p, WIRE_EDNS_CLIENT_SUBNET);
		wire_put_u16(p + 2, (uint16_t)(4 + addr_len));
		wire_put_u16(p + 4, opt->ecs_family);
		p[6] = opt->ecs_source_prefix;
		p[7] = opt->ecs_scope_prefix;
		p += 8;
		if (addr_len > 0) {
			memcpy(p, opt->ecs_address, addr_len);
			/* RFC 7871 6: bits past the source prefix are zero. */
			if (opt->ecs_source_prefix % 8 != 0)
				p[addr_len - 1] &= (uint8_t)(0xFF << (8 - opt->ecs_source_prefix % 8));
		}
		p += addr_len;
	}
	if (opt->ede) {
		wire_put_u16(p, WIRE_EDNS_EDE);
		wire_put_u16(p + 2, 2);
		wire_put_u16(p + 4, opt->ede_code);
	}
	w->len += 1 + WIRE_RR_FIXED_LEN + rdlen;
	w->count[WIRE_SECTION_ADDITIONAL]++;
	return true;
}

size_t wire_writer_finish(struct wire_writer *w, uint16_t id, uint16_t flags)
{
	wire_put_u16(w->buf, id);
	wire_put_u16(w->buf + 2, flags);
	/* bytes 4-5 (QDCOUNT) were set by wire_write_question or init/rewind */
	wire_put_u16(w->buf + 6, w->count[WIRE_SECTION_ANSWER]);
	wire_put_u16(w->buf + 8, w->count[WIRE_SECTION_AUTHORITY]);
	wire_put_u16(w->buf + 10, w->count[WIRE_SECTION_ADDITIONAL]);
	return w->len;
}

bool wire_type_from_generic_text(const char *text, uint16_t *out)
{
	if (strncasecmp(text, "TYPE", 4) != 0 || text[4] == '\0')
		return false;
	unsigned long n = 0;
	for (const char *d = text + 4; *d; d++) {
		if (*d < '0' || *d > '9')
			return false;
		n = n * 10 + (unsigned long)(*d - '0');
		if (n > 65535)
			return false;
	}
	if (n == 0)
		return false;
	*out = (uint16_t)n;
	return true;
}
