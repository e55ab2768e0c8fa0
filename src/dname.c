/*
 * dname — domain names in uncompressed wire form.
 *
 * A name is a run of length-prefixed labels closed by the zero-length root
 * label.  Every function here walks that run from the front; none of them
 * allocates, so all are usable on the query path.  Comparisons fold ASCII
 * case only (RFC 4343): bytes above 0x7f and all other bytes compare
 * exactly, which is what DNS requires for binary labels.
 *
 * The functions that take a name trust it to be well formed (it came from
 * dname_from_text, from the zone table, or from wire_read_name, which all
 * validate).  They still stop at DNAME_MAXLEN so that a bad name cannot make
 * them read without bound.
 *
 * Text conversion follows RFC 1035 section 5.1: "\X" quotes a character and
 * "\DDD" gives a byte in decimal.  On output, the characters that have a
 * meaning in master files are quoted with "\X" and bytes outside printable
 * ASCII are written as "\DDD", so to_text(from_text(s)) round-trips.
 */
#include "dname.h"

#include <string.h>

static inline uint8_t dname_lower_byte(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

size_t dname_len(const uint8_t *name)
{
	size_t pos = 0;
	while (pos < DNAME_MAXLEN && name[pos] != 0)
		pos += (size_t)name[pos] + 1;
	return pos + 1;
}

unsigned dname_label_count(const uint8_t *name)
{
	size_t pos = 0;
	unsigned labels = 0;
	while (pos < DNAME_MAXLEN && name[pos] != 0) {
		pos += (size_t)name[pos] + 1;
		labels++;
	}
	return labels;
}

void dname_lower(uint8_t *name)
{
	size_t pos = 0;
	while (pos < DNAME_MAXLEN && name[pos] != 0) {
		size_t end = pos + 1 + name[pos];
		for (size_t i = pos + 1; i < end; i++)
			name[i] = dname_lower_byte(name[i]);
		pos = end;
	}
}

bool dname_equal(const uint8_t *a, const uint8_t *b)
{
	/* One pass, label by label: length bytes must match exactly (so b is
	 * never read past its own end), letters are folded only where the
	 * bytes differ — names here are mostly lower-cased already. */
	size_t pos = 0;
	while (pos < DNAME_MAXLEN) {
		uint8_t label = a[pos];
		if (label != b[pos])
			return false;
		if (label == 0)
			return true;
		size_t end = pos + 1 + label;
		for (size_t i = pos + 1; i < end; i++)
			if (a[i] != b[i] && dname_lower_byte(a[i]) != dname_lower_byte(b[i]))
				return false;
		pos = end;
	}
	return false;
}

bool dname_is_at_or_below(const uint8_t *name, const uint8_t *parent)
{
	size_t have = dname_len(name);
	size_t want = dname_len(parent);
	if (have < want)
		return false;
	/* Strip labels until both have the same length; then they must be
	 * equal.  Comparing at a label boundary is what makes "xexample." not
	 * below "example.". */
	const uint8_t *p = name;
	while (have > want) {
		have -= (size_t)p[0] + 1;
		p += (size_t)p[0] + 1;
	}
	return have == want && dname_equal(p, parent);
}

const uint8_t *dname_parent(const uint8_t *name)
{
	if (name[0] == 0)
		return NULL;
	return name + name[0] + 1;
}

bool dname_is_wildcard(const uint8_t *name)
{
	return name[0] == 1 && name[1] == '*';
}

/*
 * Lower-cases the eight bytes of w at once: a byte gets 0x20 added when it
 * is 'A'..'Z'.  Bytes with the high bit set are left alone (~w masks
 * them), and the per-byte additions on the low 7 bits cannot carry into
 * the next byte.
 */
static inline uint64_t dname_lower_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t low7 = w & ~high;
	uint64_t at_least_a = low7 + ones * (0x80 - 'A');     /* high bit: byte >= 'A' */
	uint64_t above_z = low7 + ones * (0x80 - ('Z' + 1)); /* high bit: byte > 'Z' */
	uint64_t upper = at_least_a & ~above_z & ~w & high;
	return w | (upper >> 2);
}

/* The qname is hashed once or twice per query: eight bytes a step with a
 * multiply-xorshift mix, instead of a byte-at-a-time FNV. */
uint32_t dname_hash(const uint8_t *name)
{
	return dname_hash_len(name, dname_len(name));
}

uint32_t dname_hash_len(const uint8_t *name, size_t len)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, name + i, 8);
		h = (h ^ dname_lower_word(w)) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 29;
	}
	if (i < len) {
		uint64_t w = 0;
		memcpy(&w, name + i, len - i);
		h = (h ^ dname_lower_word(w)) * 0xFF51AFD7ED558CCDull;
		h ^= h >> 29;
	}
	h *= 0xC4CEB9FE1A85EC53ull;
	return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* Characters that must be quoted in a label so the text reads back the same. */
static bool dname_char_is_special(uint8_t c)
{
	switch (c) {
	case '.':
	case '\\':
	case '"':
	case ';':
	case '(':
	case ')':
	case '@':
	case '$':
		return true;
	default:
		return false;
	}
}

int dname_to_text(const uint8_t *name, char *buf, size_t buflen)
{
	size_t out = 0;
	size_t pos = 0;

	if (buflen == 0)
		return -1;
	if (name[0] == 0) {
		if (buflen < 2)
			return -1;
		buf[0] = '.';
		buf[1] = '\0';
		return 1;
	}
	while (pos < DNAME_MAXLEN && name[pos] != 0) {
		size_t end = pos + 1 + name[pos];
		for (size_t i = pos + 1; i < end; i++) {
			uint8_t c = name[i];
			char tmp[5];
			size_t n;
			if (c <= 0x20 || c >= 0x7f) {
				tmp[0] = '\\';
				tmp[1] = (char)('0' + c / 100);
				tmp[2] = (char)('0' + (c / 10) % 10);
				tmp[3] = (char)('0' + c % 10);
				n = 4;
			} else if (dname_char_is_special(c)) {
				tmp[0] = '\\';
				tmp[1] = (char)c;
				n = 2;
			} else {
				tmp[0] = (char)c;
				n = 1;
			}
			if (out + n + 1 > buflen)
				return -1;
			memcpy(buf + out, tmp, n);
			out += n;
		}
		if (out + 2 > buflen)
			return -1;
		buf[out++] = '.';
		pos = end;
	}
	buf[out] = '\0';
	return (int)out;
}

static bool dname_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int dname_from_text(const char *text, uint8_t out[DNAME_MAXLEN])
{
	size_t len = 0;      /* bytes of out used, label length bytes included */
	size_t label_at = 0; /* where the current label's length byte sits */
	size_t label_len = 0;
	const char *s = text;

	if (text == NULL || text[0] == '\0')
		return -1;
	if (strcmp(text, ".") == 0) {
		out[0] = 0;
		return 1;
	}

	/* Reserve the length byte of the first label. */
	out[0] = 0;
	len = 1;
	while (*s != '\0') {
		uint8_t c;
		if (*s == '.') {
			if (label_len == 0)
				return -1; /* empty label: "a..b" or ".a" */
			out[label_at] = (uint8_t)label_len;
			s++;
			if (*s == '\0')
				break; /* trailing dot */
			/* Open the next label; one byte for its length. */
			if (len + 1 > DNAME_MAXLEN - 1)
				return -1;
			label_at = len;
			out[len++] = 0;
			label_len = 0;
			continue;
		}
		if (*s == '\\') {
			s++;
			if (dname_is_digit(s[0])) {
				if (!dname_is_digit(s[1]) || !dname_is_digit(s[2]))
					return -1;
				int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
				if (v > 255)
					return -1;
				c = (uint8_t)v;
				s += 3;
			} else if (*s == '\0') {
				return -1;
			} else {
				c = (uint8_t)*s++;
			}
		} else {
			c = (uint8_t)*s++;
		}
		if (label_len == 63)
			return -1;
		/* The terminal root byte must still fit after this one. */
		if (len + 1 > DNAME_MAXLEN - 1)
			return -1;
		out[len++] = dname_lower_byte(c);
		label_len++;
	}
	out[label_at] = (uint8_t)label_len;
	out[len++] = 0;
	return (int)len;
}

size_t dname_substitute(const uint8_t *name, const uint8_t *owner, const uint8_t *target,
                        uint8_t out[DNAME_MAXLEN])
{
	size_t name_len = dname_len(name), owner_len = dname_len(owner), target_len = dname_len(target);
	if (owner_len >= name_len)
		return 0; /* not below owner: the caller's contract is broken, write nothing */
	size_t prefix = name_len - owner_len;
	if (prefix + target_len > DNAME_MAXLEN)
		return 0;
	memcpy(out, name, prefix);
	memcpy(out + prefix, target, target_len);
	return prefix + target_len;
}
