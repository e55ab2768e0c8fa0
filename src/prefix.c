/*
 * prefix — longest-prefix match compiled into a path-compressed binary trie.
 *
 * Building: the builder only appends (prefix, value) pairs to an array.
 * Finishing sorts them by (address, length), which lists every prefix
 * before the prefixes it contains (pre-order of the trie), and builds the
 * trie recursively over ranges of that array.  No pointer trie is ever
 * materialised, so a million IPv6 /48s cost a 32-byte entry each while
 * building instead of dozens of nodes each.  The sort is in place (see
 * prefix_sort).
 *
 * The compiled trie is canonical: a region whose every address gets the
 * same answer is one leaf, however many added prefixes produced it (a /16
 * under a /8 with the same value disappears; two sibling /9s with the same
 * value become one /8 leaf).  That is what makes the scope of a lookup the
 * widest prefix over which the answer cannot change, rather than merely a
 * prefix over which it does not.
 *
 * Layout: one array of 16-byte nodes (four to a cache line; a node's whole
 * subtree is contiguous because nodes are emitted in post-order).  A node
 * at depth d branches on address bit d; a child may sit deeper than d + 1,
 * and then stores the up to 24 address bits between (its "skip"), which
 * the walk compares in one xor.  Longer runs are split by plain chain
 * nodes.  The depth shares a word with the skip so that each step of the
 * walk touches one node only.  In front of the trie, a table indexed by
 * the first 16 bits (fewer for small trees) holds the walk already done
 * that far: a million IPv4 prefixes then take ~3 node visits a lookup.
 * Every node stores the value in effect at it (its own or inherited), so
 * the walk never carries a "best so far": wherever it stops, the current
 * node's value is the answer.
 *
 * Sizes: builder entries are 32 bytes; the trie is about two nodes per
 * prefix.  A million random IPv4 /16-/24 prefixes build in ~0.2 s into
 * ~20 MB (peak ~50 MB while building).
 *
 * The walk ends in one of three ways, each giving the scope directly:
 *  - at a leaf (no children): the whole leaf prefix answers alike, scope =
 *    its depth;
 *  - at a missing child: the half at depth d + 1 inherits, scope = d + 1;
 *  - at the first bit where the address leaves a child's skip j bits in:
 *    that off-path region inherits, scope = d + 1 + j + 1.
 */
#include "prefix.h"

#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 prefix_u128;

#define PREFIX_NONE UINT32_MAX
#define PREFIX_SKIP_MAX 24u

struct prefix_entry {
	uint64_t hi, lo; /* address, bits past plen cleared, MSB first */
	uint32_t value;
	uint32_t seq; /* insertion order: the later of two equal prefixes wins */
	uint8_t plen;
};

struct prefix_builder {
	unsigned bits;
	struct prefix_entry *entries;
	size_t count, cap;
};

struct prefix_node {
	uint32_t child[2];
	uint32_t value;      /* value in effect here */
	uint32_t depth_skip; /* depth << 24 | the bits between the parent's depth + 1 and ours */
};

static inline unsigned prefix_depth(const struct prefix_node *n)
{
	return n->depth_skip >> 24;
}

static inline uint32_t prefix_skip(const struct prefix_node *n)
{
	return n->depth_skip & 0xffffffu;
}

/* An entry of the table indexed by an address's first top_bits bits:
 * either the final answer, or the deepest node at or above top_bits on the
 * way, where the walk resumes. */
struct prefix_slot {
	uint32_t node_or_value;
	uint8_t is_answer;
	uint8_t scope;
};

struct prefix_tree {
	unsigned bits;
	unsigned top_bits;
	struct prefix_slot *top;
	struct prefix_node *nodes;
	size_t node_count;
	size_t prefix_count;
};

/* Addresses as 128-bit integers, bit 0 the most significant; IPv4 sits in
 * the top 32 bits so bit numbers mean the same in both families. */
static prefix_u128 prefix_load(const uint8_t *addr, unsigned bits)
{
	prefix_u128 a = 0;
	for (unsigned i = 0; i < bits / 8; i++)
		a = (a << 8) | addr[i];
	return a << (128 - bits);
}

static prefix_u128 prefix_mask(unsigned plen)
{
	return plen == 0 ? 0 : ~(prefix_u128)0 << (128 - plen);
}

static inline unsigned prefix_bit(prefix_u128 a, unsigned i)
{
	return (unsigned)(a >> (127 - i)) & 1u;
}

/* k (1..32) bits of a starting at bit s. */
static inline uint32_t prefix_bits(prefix_u128 a, unsigned s, unsigned k)
{
	return (uint32_t)((a << s) >> (128 - k));
}

static inline prefix_u128 prefix_entry_addr(const struct prefix_entry *e)
{
	return ((prefix_u128)e->hi << 64) | e->lo;
}

static unsigned prefix_common_len(prefix_u128 a, prefix_u128 b)
{
	prefix_u128 x = a ^ b;
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
	if (hi)
		return (unsigned)__builtin_clzll(hi);
	if (lo)
		return 64 + (unsigned)__builtin_clzll(lo);
	return 128;
}

struct prefix_builder *prefix_builder_new(unsigned bits)
{
	if (bits != 32 && bits != 128)
		return NULL;
	struct prefix_builder *b = calloc(1, sizeof(*b));
	if (b)
		b->bits = bits;
	return b;
}

int prefix_builder_add(struct prefix_builder *b, const uint8_t *addr, unsigned plen, uint32_t value)
{
	if (plen > b->bits || value == PREFIX_NO_VALUE || b->count >= UINT32_MAX)
		return -1;
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct prefix_entry *n = realloc(b->entries, cap * sizeof(*n));
		if (!n)
			return -1;
		b->entries = n;
		b->cap = cap;
	}
	prefix_u128 a = prefix_load(addr, b->bits) & prefix_mask(plen);
	struct prefix_entry *e = &b->entries[b->count];
	e->hi = (uint64_t)(a >> 64);
	e->lo = (uint64_t)a;
	e->plen = (uint8_t)plen;
	e->value = value;
	e->seq = (uint32_t)b->count;
	b->count++;
	return 0;
}

static inline int prefix_entry_less(const struct prefix_entry *a, const struct prefix_entry *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi;
	if (a->lo != b->lo)
		return a->lo < b->lo;
	if (a->plen != b->plen)
		return a->plen < b->plen;
	return a->seq < b->seq;
}

static inline void prefix_entry_swap(struct prefix_entry *a, struct prefix_entry *b)
{
	struct prefix_entry t = *a;
	*a = *b;
	*b = t;
}

/*
 * Quicksort in place (median of three, recursion on the smaller side).
 * Not qsort(3): glibc's merges through a copy of the whole array, which
 * for a million entries doubles the peak memory of a build.  Keys are all
 * distinct (seq), and input from a database walk arrives sorted, which the
 * median of three handles.
 */
static void prefix_sort(struct prefix_entry *e, size_t n)
{
	while (n > 16) {
		size_t mid = n / 2;
		if (prefix_entry_less(&e[mid], &e[0]))
			prefix_entry_swap(&e[mid], &e[0]);
		if (prefix_entry_less(&e[n - 1], &e[mid])) {
			prefix_entry_swap(&e[n - 1], &e[mid]);
			if (prefix_entry_less(&e[mid], &e[0]))
				prefix_entry_swap(&e[mid], &e[0]);
		}
		struct prefix_entry pivot = e[mid];
		size_t i = 0, j = n - 1;
		for (;;) {
			while (prefix_entry_less(&e[i], &pivot))
				i++;
			while (prefix_entry_less(&pivot, &e[j]))
				j--;
			if (i >= j)
				break;
			prefix_entry_swap(&e[i], &e[j]);
			i++;
			j--;
		}
		/* [0, j] <= pivot <= [j + 1, n) */
		size_t left = j + 1;
		if (left < n - left) {
			prefix_sort(e, left);
			e += left;
			n -= left;
		} else {
			prefix_sort(e + left, n - left);
			n = left;
		}
	}
	for (size_t i = 1; i < n; i++) {
		struct prefix_entry x = e[i];
		size_t j = i;
		while (j > 0 && prefix_entry_less(&x, &e[j - 1])) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = x;
	}
}

/* Compilation state.  Results of prefix_compile are either a node index or
 * "uniform": the whole region answers one value and needs no node. */
struct prefix_compiler {
	const struct prefix_entry *e;
	struct prefix_node *nodes;
	size_t count, cap;
	int failed;
};

struct prefix_result {
	int uniform;
	uint32_t value; /* when uniform */
	uint32_t node;  /* when not */
};

static uint32_t prefix_new_node(struct prefix_compiler *c, unsigned depth, uint32_t value, uint32_t skip)
{
	if (c->count == c->cap) {
		size_t cap = c->cap * 2;
		struct prefix_node *n = realloc(c->nodes, cap * sizeof(*n));
		if (!n) {
			c->failed = 1;
			return PREFIX_NONE;
		}
		c->nodes = n;
		c->cap = cap;
	}
	uint32_t i = (uint32_t)c->count++;
	c->nodes[i] = (struct prefix_node){{PREFIX_NONE, PREFIX_NONE}, value, (uint32_t)depth << 24 | skip};
	return i;
}

/* Skip bits of a node at depth d under a parent at depth pd (pd < 0 for
 * the root): address bits pd + 1 .. d - 1. */
static uint32_t prefix_skip_of(prefix_u128 addr, int pd, unsigned d)
{
	unsigned from = (unsigned)(pd + 1);
	return d > from ? prefix_bits(addr, from, d - from) : 0;
}

/*
 * Compiles entries [lo, hi), all sharing their first d bits and none
 * shorter than d, into the region at depth d under a parent at depth pd,
 * where value v is inherited.
 */
static struct prefix_result prefix_compile(struct prefix_compiler *c, size_t lo, size_t hi, int pd,
                                           unsigned d, uint32_t v)
{
	struct prefix_result r = {1, v, PREFIX_NONE};
	if (lo < hi && c->e[lo].plen == d)
		v = c->e[lo++].value;
	if (lo == hi || c->failed) {
		r.value = v;
		return r;
	}
	prefix_u128 here = prefix_entry_addr(&c->e[lo]);

	/* Entries with bit d clear come first; binary search for the split. */
	size_t a = lo, b = hi;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (prefix_bit(prefix_entry_addr(&c->e[m]), d))
			b = m;
		else
			a = m + 1;
	}
	size_t split[3] = {lo, a, hi};

	/* Each side: NONE (inherits v), or a node (possibly a leaf). */
	uint32_t child[2] = {PREFIX_NONE, PREFIX_NONE};
	int side_uniform[2];
	uint32_t side_value[2];
	for (unsigned s = 0; s < 2; s++) {
		size_t slo = split[s], shi = split[s + 1];
		side_uniform[s] = 1;
		side_value[s] = v;
		if (slo == shi)
			continue;
		/* The next branching depth: where the side's first and last
		 * entries part, or the first entry's own length if shorter
		 * (sorted pre-order puts the shortest prefix of a run first). */
		prefix_u128 first = prefix_entry_addr(&c->e[slo]);
		unsigned nd = prefix_common_len(first, prefix_entry_addr(&c->e[shi - 1]));
		if (nd > c->e[slo].plen)
			nd = c->e[slo].plen;
		if (nd > d + 1 + PREFIX_SKIP_MAX)
			nd = d + 1 + PREFIX_SKIP_MAX;
		struct prefix_result sub = prefix_compile(c, slo, shi, (int)d, nd, v);
		if (c->failed)
			return r;
		if (!sub.uniform) {
			side_uniform[s] = 0;
			child[s] = sub.node;
		} else if (sub.value == v || nd == d + 1) {
			side_value[s] = sub.value;
		} else {
			/* A differing region below a run of inherited bits. */
			side_uniform[s] = 0;
			child[s] = prefix_new_node(c, nd, sub.value, prefix_skip_of(first, (int)d, nd));
		}
	}
	if (side_uniform[0] && side_uniform[1] && side_value[0] == side_value[1]) {
		r.value = side_value[0];
		return r;
	}
	for (unsigned s = 0; s < 2; s++)
		if (side_uniform[s] && side_value[s] != v)
			child[s] = prefix_new_node(c, d + 1, side_value[s], 0);
	uint32_t n = prefix_new_node(c, d, v, prefix_skip_of(here, pd, d));
	if (c->failed)
		return r;
	c->nodes[n].child[0] = child[0];
	c->nodes[n].child[1] = child[1];
	r.uniform = 0;
	r.node = n;
	return r;
}

/*
 * Fills the top table.  For each value x of the first K bits, the walk is
 * done ahead of time as far as those bits decide it: it either ends
 * (answer and scope known, scope <= K) or reaches a node whose child lies
 * deeper than K, and the slot names that node.  The query then starts
 * there, skipping the densest part of the trie: with K = 16 a lookup among
 * a million IPv4 prefixes touches a handful of nodes instead of ~25.
 */
static int prefix_fill_top(struct prefix_tree *t, uint32_t root)
{
	unsigned k = 0;
	/* About one slot per 8 nodes, at most 2^16: small trees (net: rules)
	 * stay small, big ones get the full benefit. */
	while (k < 16 && ((size_t)8 << k) < t->node_count)
		k++;
	t->top_bits = k;
	t->top = malloc(((size_t)1 << k) * sizeof(*t->top));
	if (!t->top)
		return -1;
	for (size_t x = 0; x < ((size_t)1 << k); x++) {
		prefix_u128 a = k ? (prefix_u128)x << (128 - k) : 0;
		struct prefix_slot *slot = &t->top[x];
		uint32_t n = root;
		*slot = (struct prefix_slot){n, 0, 0};
		for (;;) {
			const struct prefix_node *p = &t->nodes[n];
			unsigned d = prefix_depth(p);
			slot->node_or_value = n;
			if (p->child[0] == PREFIX_NONE && p->child[1] == PREFIX_NONE) {
				*slot = (struct prefix_slot){p->value, 1, (uint8_t)d};
				break;
			}
			if (d >= k)
				break;
			uint32_t c = p->child[prefix_bit(a, d)];
			if (c == PREFIX_NONE) {
				*slot = (struct prefix_slot){p->value, 1, (uint8_t)(d + 1)};
				break;
			}
			unsigned cd = prefix_depth(&t->nodes[c]);
			unsigned known = (cd < k ? cd : k) - (d + 1); /* skip bits decided by x */
			if (known) {
				uint32_t x32 = prefix_bits(a, d + 1, known) ^
				               (prefix_skip(&t->nodes[c]) >> (cd - 1 - d - known));
				if (x32) {
					unsigned j = (unsigned)__builtin_clz(x32) - (32 - known);
					*slot = (struct prefix_slot){p->value, 1, (uint8_t)(d + 1 + j + 1)};
					break;
				}
			}
			if (cd > k)
				break;
			n = c;
		}
	}
	return 0;
}

struct prefix_tree *prefix_builder_finish(struct prefix_builder *b)
{
	struct prefix_tree *t = calloc(1, sizeof(*t));
	if (!t) {
		prefix_builder_free(b);
		return NULL;
	}
	t->bits = b->bits;

	/* Sort, then keep only the last-added of each identical prefix. */
	prefix_sort(b->entries, b->count);
	size_t n = 0;
	for (size_t i = 0; i < b->count; i++) {
		if (n > 0 && b->entries[n - 1].hi == b->entries[i].hi &&
		    b->entries[n - 1].lo == b->entries[i].lo && b->entries[n - 1].plen == b->entries[i].plen)
			n--;
		b->entries[n++] = b->entries[i];
	}
	t->prefix_count = n;

	struct prefix_compiler c = {.e = b->entries, .cap = n + 16};
	c.nodes = malloc(c.cap * sizeof(*c.nodes));
	uint32_t root = PREFIX_NONE;
	if (c.nodes) {
		struct prefix_result r = prefix_compile(&c, 0, n, -1, 0, PREFIX_NO_VALUE);
		if (!c.failed)
			root = r.uniform ? prefix_new_node(&c, 0, r.value, 0) : r.node;
	} else {
		c.failed = 1;
	}
	prefix_builder_free(b);
	if (c.failed) {
		free(c.nodes);
		free(t);
		return NULL;
	}
	/* Give back the slack of the doubling growth. */
	struct prefix_node *nodes = realloc(c.nodes, c.count * sizeof(*nodes));
	t->nodes = nodes ? nodes : c.nodes;
	t->node_count = c.count;
	if (prefix_fill_top(t, root) < 0) {
		prefix_tree_free(t);
		return NULL;
	}
	return t;
}

void prefix_builder_free(struct prefix_builder *b)
{
	if (!b)
		return;
	free(b->entries);
	free(b);
}

void prefix_tree_free(struct prefix_tree *t)
{
	if (!t)
		return;
	free(t->top);
	free(t->nodes);
	free(t);
}

/* The walk from node n, whose prefix addr is known to match. */
static uint32_t prefix_walk(const struct prefix_tree *t, prefix_u128 a, uint32_t n, uint8_t *scope)
{
	for (;;) {
		const struct prefix_node *p = &t->nodes[n];
		unsigned d = prefix_depth(p);
		if (p->child[0] == PREFIX_NONE && p->child[1] == PREFIX_NONE) {
			*scope = (uint8_t)d;
			return p->value;
		}
		uint32_t c = p->child[prefix_bit(a, d)];
		if (c == PREFIX_NONE) {
			*scope = (uint8_t)(d + 1);
			return p->value;
		}
		const struct prefix_node *q = &t->nodes[c];
		unsigned k = prefix_depth(q) - d - 1;
		if (k) {
			uint32_t x = prefix_bits(a, d + 1, k) ^ prefix_skip(q);
			if (x) {
				unsigned j = (unsigned)__builtin_clz(x) - (32 - k);
				*scope = (uint8_t)(d + 1 + j + 1);
				return p->value;
			}
		}
		n = c;
	}
}

uint32_t prefix_tree_lookup(const struct prefix_tree *t, const uint8_t *addr, uint8_t *scope)
{
	prefix_u128 a = prefix_load(addr, t->bits);
	const struct prefix_slot *s = &t->top[t->top_bits ? (size_t)(a >> (128 - t->top_bits)) : 0];
	if (s->is_answer) {
		*scope = s->scope;
		return s->node_or_value;
	}
	return prefix_walk(t, a, s->node_or_value, scope);
}

size_t prefix_tree_count(const struct prefix_tree *t)
{
	return t->prefix_count;
}

size_t prefix_tree_bytes(const struct prefix_tree *t)
{
	return sizeof(*t) + t->node_count * sizeof(*t->nodes) + ((size_t)1 << t->top_bits) * sizeof(*t->top);
}
