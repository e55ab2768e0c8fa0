/*
 * prefix — longest-prefix match over IPv4 or IPv6 addresses, built once and
 * read without locks.
 *
 * Used for everything keyed by network: the compiled GeoIP database, `net:`
 * rules of geo policies, the latency table.  A builder collects (prefix,
 * value) pairs, any order, more specific prefixes overriding less specific
 * ones; finishing compiles them into a compact immutable binary trie laid
 * out in one array.
 *
 * A lookup returns the value of the longest covering prefix and the
 * *scope*: the length of the widest prefix around the address over which
 * the lookup result cannot change (the depth at which the trie walk ends).
 * That is what an ECS reply's SCOPE PREFIX-LENGTH must be (RFC 7871 7.2.1):
 * longer would fragment resolver caches, shorter would hand neighbouring
 * clients the wrong answer.
 */
#ifndef GEOSTEER_PREFIX_H
#define GEOSTEER_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREFIX_NO_VALUE UINT32_MAX

struct prefix_builder;
struct prefix_tree;

/* bits: 32 for IPv4, 128 for IPv6.  NULL on allocation failure. */
struct prefix_builder *prefix_builder_new(unsigned bits);

/* Adds addr/plen -> value (value != PREFIX_NO_VALUE).  Bits of addr past
 * plen are ignored.  The same prefix added twice keeps the last value.
 * Returns -1 on allocation failure or plen > bits. */
int prefix_builder_add(struct prefix_builder *b, const uint8_t *addr, unsigned plen, uint32_t value);

/* Compiles and frees the builder.  NULL on allocation failure. */
struct prefix_tree *prefix_builder_finish(struct prefix_builder *b);

/* Frees a builder that will not be finished. */
void prefix_builder_free(struct prefix_builder *b);

void prefix_tree_free(struct prefix_tree *t);

/* Value of the longest prefix covering addr (PREFIX_NO_VALUE when none),
 * and in *scope the prefix length over which that result is constant.
 * No allocation, no lock. */
uint32_t prefix_tree_lookup(const struct prefix_tree *t, const uint8_t *addr, uint8_t *scope);

/* Number of prefixes added, and bytes used by the compiled trie. */
size_t prefix_tree_count(const struct prefix_tree *t);
size_t prefix_tree_bytes(const struct prefix_tree *t);

#endif
