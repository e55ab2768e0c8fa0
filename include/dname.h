/*
 * dname — domain names in uncompressed wire form.
 *
 * Everywhere inside geosteer a name is a sequence of length-prefixed labels
 * ending in the root label (a zero byte), at most DNAME_MAXLEN bytes, exactly
 * as it appears on the wire without compression.  Names stored in the zone
 * table are lower-cased once at load time so the query path compares bytes;
 * the name a client sent keeps its letter case only in the packet itself
 * (the reply copies the question verbatim, which preserves 0x20 case).
 *
 * Nothing here allocates; every function is safe on the query path.
 */
#ifndef GEOSTEER_DNAME_H
#define GEOSTEER_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAXLEN 255
#define DNAME_MAXLABELS 127
#define DNAME_TEXT_MAXLEN 1024 /* worst case with \DDD escapes */

/* Wire length of a well-formed name, terminal zero included. */
size_t dname_len(const uint8_t *name);

/* Number of labels, the root label not counted ("www.shop.example." is 3). */
unsigned dname_label_count(const uint8_t *name);

/* Lower-cases ASCII letters in place. */
void dname_lower(uint8_t *name);

/* Case-insensitive equality of two names. */
bool dname_equal(const uint8_t *a, const uint8_t *b);

/* True when name is parent itself or lies below it (case-insensitive). */
bool dname_is_at_or_below(const uint8_t *name, const uint8_t *parent);

/* The name with its first label removed; NULL for the root name. */
const uint8_t *dname_parent(const uint8_t *name);

/*
 * RFC 6672 2.2 substitution: name, which is strictly below owner, with the
 * owner suffix replaced by target, written to out.  Returns the new name's
 * wire length, or 0 when it would be longer than DNAME_MAXLEN (the server
 * then answers YXDOMAIN).
 */
size_t dname_substitute(const uint8_t *name, const uint8_t *owner, const uint8_t *target,
                        uint8_t out[DNAME_MAXLEN]);

/* True when the first label is the single byte '*'. */
bool dname_is_wildcard(const uint8_t *name);

/* Hash of the lower-cased name (names equal but for ASCII case hash alike). */
uint32_t dname_hash(const uint8_t *name);
/* The same, for a caller that already has dname_len(name). */
uint32_t dname_hash_len(const uint8_t *name, size_t len);

/*
 * Presentation form with a trailing dot ("www.shop.example."), escaping
 * special characters as RFC 1035 says.  Returns the text length, or -1 when
 * buf (including the NUL) is too small.
 */
int dname_to_text(const uint8_t *name, char *buf, size_t buflen);

/*
 * Parses presentation form ("www.shop.example" or with trailing dot; "@" is
 * not understood here; \DDD and \X escapes are).  The result is absolute and
 * lower-cased.  Returns the wire length, or -1 when the text is not a valid
 * name (empty label, label > 63, name > 255).
 */
int dname_from_text(const char *text, uint8_t out[DNAME_MAXLEN]);

#endif
