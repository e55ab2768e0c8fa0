/*
 * geoip — compiles a MaxMind database into two prefix trees and a table of
 * distinct locations when it is loaded; the query path only ever calls
 * prefix_tree_lookup.
 *
 * Loading walks the database's binary search tree depth first, one
 * MMDB_read_node per node, so every network is seen exactly once with its
 * exact prefix length (the tree's structure is the set of networks; no
 * address is ever "looked up").  In an IPv6 database the IPv4 networks live
 * under ::/96, and MaxMind aliases other ranges to that same subtree
 * (::ffff:0:0/96, 2002::/16, and in some databases Teredo 2001::/32).  The
 * IPv4 tree is therefore filled from the node at ::/96, and the IPv6 walk
 * skips that node wherever it reappears, plus the three ranges the header
 * names: IPv4-embedding clients are normalized to IPv4 before lookup, so
 * those ranges would only duplicate the IPv4 tree.  (Teredo addresses embed
 * the relay's IPv4 address, not the client's, so they stay IPv6 and find
 * no entry.)
 *
 * A database of a million networks points at far fewer distinct data
 * records (a City database repeats each city many times), so each record
 * is decoded once, cached by its data-section offset, and identical
 * locations are interned: the trees' values are indexes into one small
 * table.  The mmdb file is closed before loading returns.
 *
 * A corrupt file must fail the load, never crash or hang it: invalid
 * records, a search node where a network must end, or more node visits
 * than the tree has nodes (a cycle or shared subtree) all stop the walk
 * with "corrupt search tree"; undecodable data stops it with "corrupt data".
 */
#include "geoip.h"

#include "infile.h"
#include "log.h"
#include "prefix.h"

#include <errno.h>
#include <maxminddb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Value of the IPv6 ranges that embed IPv4 (see geoip_mark_ipv4_ranges);
 * never a location index. */
#define GEOIP_IPV4_RANGE (PREFIX_NO_VALUE - 1)

/* Data-section offset -> location index; open addressing, offset + 1 as
 * the key so that 0 marks a free slot. */
struct geoip_offset_map {
	uint64_t *slots; /* (offset + 1) << 32 | index */
	size_t cap, used;
};

/* Location -> index, for interning; slots hold index + 1. */
struct geoip_intern {
	uint32_t *slots;
	size_t cap;
};

struct geoip_loader {
	MMDB_s mmdb;
	const char *path;
	char *err;
	size_t errlen;
	struct geoip_location *locations;
	size_t location_count, location_cap;
	struct geoip_offset_map offsets;
	struct geoip_intern intern;
	struct prefix_builder *v4, *v6;
	size_t networks;
	uint64_t visits, max_visits;
	uint32_t v4_root; /* node at ::/96 in an IPv6 database, or UINT32_MAX */
};

static int geoip_fail(struct geoip_loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int geoip_fail(struct geoip_loader *l, const char *fmt, ...)
{
	if (l->err && l->errlen) {
		int n = snprintf(l->err, l->errlen, "%s: ", l->path);
		if (n >= 0 && (size_t)n < l->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
		log_flatten(l->err); /* a path from the config may hold any byte */
	}
	return -1;
}

static uint64_t geoip_hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t geoip_hash_location(const struct geoip_location *loc)
{
	/* Locations are zeroed before being filled, so padding hashes alike. */
	const unsigned char *p = (const unsigned char *)loc;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < sizeof(*loc); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return geoip_hash64(h);
}

/* Returns the cached index for offset, or UINT32_MAX. */
static uint32_t geoip_offset_find(const struct geoip_offset_map *m, uint32_t offset)
{
	if (!m->cap)
		return UINT32_MAX;
	uint64_t key = (uint64_t)offset + 1;
	for (size_t i = geoip_hash64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		uint64_t s = m->slots[i];
		if (!s)
			return UINT32_MAX;
		if (s >> 32 == key)
			return (uint32_t)s;
	}
}

static int geoip_offset_put(struct geoip_offset_map *m, uint32_t offset, uint32_t index)
{
	if (2 * (m->used + 1) > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		uint64_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -1;
		for (size_t j = 0; j < m->cap; j++) {
			uint64_t s = m->slots[j];
			if (!s)
				continue;
			size_t i = geoip_hash64(s >> 32) & (cap - 1);
			while (slots[i])
				i = (i + 1) & (cap - 1);
			slots[i] = s;
		}
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	uint64_t key = (uint64_t)offset + 1;
	size_t i = geoip_hash64(key) & (m->cap - 1);
	while (m->slots[i])
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = key << 32 | index;
	m->used++;
	return 0;
}

/* Index of loc in the location table, adding it if new; UINT32_MAX on
 * allocation failure. */
static uint32_t geoip_intern_location(struct geoip_loader *l, const struct geoip_location *loc)
{
	struct geoip_intern *t = &l->intern;
	if (2 * (l->location_count + 1) > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		uint32_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return UINT32_MAX;
		for (size_t k = 0; k < l->location_count; k++) {
			size_t i = geoip_hash_location(&l->locations[k]) & (cap - 1);
			while (slots[i])
				i = (i + 1) & (cap - 1);
			slots[i] = (uint32_t)k + 1;
		}
		free(t->slots);
		t->slots = slots;
		t->cap = cap;
	}
	size_t i = geoip_hash_location(loc) & (t->cap - 1);
	for (; t->slots[i]; i = (i + 1) & (t->cap - 1))
		if (memcmp(&l->locations[t->slots[i] - 1], loc, sizeof(*loc)) == 0)
			return t->slots[i] - 1;
	if (l->location_count == l->location_cap) {
		size_t cap = l->location_cap ? l->location_cap * 2 : 64;
		struct geoip_location *n = realloc(l->locations, cap * sizeof(*n));
		if (!n)
			return UINT32_MAX;
		l->locations = n;
		l->location_cap = cap;
	}
	l->locations[l->location_count] = *loc;
	t->slots[i] = (uint32_t)l->location_count + 1;
	return (uint32_t)l->location_count++;
}

/*
 * Reads one value at path.  0 with data->has_data false when absent or of
 * another shape than the path expects (a Country database has no
 * subdivisions; that is not an error), -1 when the data cannot be decoded.
 */
static int geoip_get(MMDB_entry_s *entry, MMDB_entry_data_s *data, const char *const *path)
{
	int status = MMDB_aget_value(entry, data, path);
	if (status == MMDB_SUCCESS)
		return 0;
	data->has_data = false;
	if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || status == MMDB_INVALID_LOOKUP_PATH_ERROR)
		return 0;
	return -1;
}

/* Copies a string value of length min..max (letters and digits only). */
static void geoip_copy_code(const MMDB_entry_data_s *d, char *out, size_t min, size_t max)
{
	if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size < min || d->data_size > max)
		return;
	for (size_t i = 0; i < d->data_size; i++) {
		char c = d->utf8_string[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return;
	}
	memcpy(out, d->utf8_string, d->data_size);
	out[d->data_size] = '\0';
}

static bool geoip_number(const MMDB_entry_data_s *d, double *out)
{
	if (!d->has_data)
		return false;
	if (d->type == MMDB_DATA_TYPE_DOUBLE)
		*out = d->double_value;
	else if (d->type == MMDB_DATA_TYPE_FLOAT)
		*out = d->float_value;
	else
		return false;
	return true;
}

/* Decodes the record at entry into loc.  -1 if it cannot be decoded. */
static int geoip_decode(MMDB_entry_s *entry, struct geoip_location *loc)
{
	static const char *const continent[] = {"continent", "code", NULL};
	static const char *const country[] = {"country", "iso_code", NULL};
	static const char *const registered[] = {"registered_country", "iso_code", NULL};
	static const char *const subdivision[] = {"subdivisions", "0", "iso_code", NULL};
	static const char *const latitude[] = {"location", "latitude", NULL};
	static const char *const longitude[] = {"location", "longitude", NULL};
	static const char *const asn[] = {"autonomous_system_number", NULL};
	MMDB_entry_data_s d;

	memset(loc, 0, sizeof(*loc));
	if (geoip_get(entry, &d, continent) < 0)
		return -1;
	geoip_copy_code(&d, loc->continent, 2, 2);
	if (geoip_get(entry, &d, country) < 0)
		return -1;
	geoip_copy_code(&d, loc->country, 2, 2);
	if (!loc->country[0]) {
		if (geoip_get(entry, &d, registered) < 0)
			return -1;
		geoip_copy_code(&d, loc->country, 2, 2);
	}
	if (geoip_get(entry, &d, subdivision) < 0)
		return -1;
	geoip_copy_code(&d, loc->subdivision, 1, 3);

	MMDB_entry_data_s lat, lon;
	if (geoip_get(entry, &lat, latitude) < 0 || geoip_get(entry, &lon, longitude) < 0)
		return -1;
	double la, lo;
	if (geoip_number(&lat, &la) && geoip_number(&lon, &lo) && la >= -90 && la <= 90 && lo >= -180 &&
	    lo <= 180) {
		loc->has_coordinates = true;
		loc->latitude = la;
		loc->longitude = lo;
	}

	if (geoip_get(entry, &d, asn) < 0)
		return -1;
	if (d.has_data) {
		if (d.type == MMDB_DATA_TYPE_UINT32)
			loc->asn = d.uint32;
		else if (d.type == MMDB_DATA_TYPE_UINT16)
			loc->asn = d.uint16;
		else if (d.type == MMDB_DATA_TYPE_UINT64 && d.uint64 <= UINT32_MAX)
			loc->asn = (uint32_t)d.uint64;
		else if (d.type == MMDB_DATA_TYPE_INT32 && d.int32 >= 0)
			loc->asn = (uint32_t)d.int32;
	}
	return 0;
}

/* Location index of a data record, decoding it on first sight. */
static int geoip_record(struct geoip_loader *l, uint64_t record, MMDB_entry_s *entry, uint32_t *index)
{
	/* Data records point 16 bytes past the tree (the separator); anything
	 * between node_count and that would be an offset before the data. */
	if (record < (uint64_t)l->mmdb.metadata.node_count + 16)
		return geoip_fail(l, "corrupt search tree (record %llu points into the separator)",
		                  (unsigned long long)record);
	uint32_t i = geoip_offset_find(&l->offsets, entry->offset);
	if (i == UINT32_MAX) {
		struct geoip_location loc;
		if (geoip_decode(entry, &loc) < 0)
			return geoip_fail(l, "corrupt data record at offset %u", entry->offset);
		i = geoip_intern_location(l, &loc);
		if (i == UINT32_MAX || geoip_offset_put(&l->offsets, entry->offset, i) < 0)
			return geoip_fail(l, "out of memory");
	}
	*index = i;
	return 0;
}

static bool geoip_is_aliased_v6(const uint8_t *a, unsigned depth)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[12] = {0};
	if (depth == 96)
		return memcmp(a, zero, 12) == 0 || memcmp(a, mapped, 12) == 0;
	return depth == 16 && a[0] == 0x20 && a[1] == 0x02;
}

/*
 * Walks the subtree under node `start`, whose prefix is `addr`/`depth`,
 * adding every network to `out` with `strip` leading bits removed (96 when
 * filling the IPv4 tree from ::/96 of an IPv6 database).  `bits` is the
 * database's address length.
 */
static int geoip_walk(struct geoip_loader *l, uint32_t start, unsigned depth, const uint8_t *addr,
                      unsigned bits, unsigned strip, struct prefix_builder *out, bool skip_aliases)
{
	struct walk_item {
		uint32_t node;
		uint8_t depth;
		uint8_t addr[16];
	} stack[130];
	size_t top = 0;
	stack[top].node = start;
	stack[top].depth = (uint8_t)depth;
	memcpy(stack[top].addr, addr, 16);
	top++;

	while (top > 0) {
		struct walk_item it = stack[--top];
		if (++l->visits > l->max_visits)
			return geoip_fail(l, "corrupt search tree (more node visits than nodes: a cycle?)");
		MMDB_search_node_s node;
		int status = MMDB_read_node(&l->mmdb, it.node, &node);
		if (status != MMDB_SUCCESS)
			return geoip_fail(l, "corrupt search tree (node %u: %s)", it.node,
			                  MMDB_strerror(status));
		/* Right first onto the stack, so left is walked first (address order). */
		for (int side = 1; side >= 0; side--) {
			uint64_t record = side ? node.right_record : node.left_record;
			uint8_t type = side ? node.right_record_type : node.left_record_type;
			MMDB_entry_s entry = side ? node.right_record_entry : node.left_record_entry;
			unsigned cd = it.depth + 1u;
			uint8_t a[16];
			memcpy(a, it.addr, 16);
			if (side)
				a[(cd - 1) / 8] |= (uint8_t)(0x80u >> ((cd - 1) % 8));

			if (type == MMDB_RECORD_TYPE_EMPTY)
				continue;
			if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
				if (cd >= bits)
					return geoip_fail(l, "corrupt search tree (deeper than %u bits)",
					                  bits);
				if (skip_aliases && (record == l->v4_root || geoip_is_aliased_v6(a, cd))) {
					/* Kept distinct from its neighbours, see geoip_mark_ipv4_ranges. */
					if (prefix_builder_add(out, a, cd, GEOIP_IPV4_RANGE) < 0)
						return geoip_fail(l, "out of memory");
					continue;
				}
				stack[top].node = (uint32_t)record;
				stack[top].depth = (uint8_t)cd;
				memcpy(stack[top].addr, a, 16);
				top++;
				continue;
			}
			if (type != MMDB_RECORD_TYPE_DATA)
				return geoip_fail(l, "corrupt search tree (invalid record in node %u)",
				                  it.node);
			uint32_t index;
			if (geoip_record(l, record, &entry, &index) < 0)
				return -1;
			if (prefix_builder_add(out, a + strip / 8, cd - strip, index) < 0)
				return geoip_fail(l, "out of memory");
			l->networks++;
		}
	}
	return 0;
}

/*
 * IPv4 networks of an IPv6 database: follow ::/96 down from the root.  A
 * data record met on the way covers all of IPv4 (::/k with k <= 96).
 */
static int geoip_walk_v4_in_v6(struct geoip_loader *l)
{
	static const uint8_t zero[16] = {0};
	uint32_t node = 0;
	for (unsigned depth = 0; depth < 96; depth++) {
		MMDB_search_node_s n;
		int status = MMDB_read_node(&l->mmdb, node, &n);
		if (status != MMDB_SUCCESS)
			return geoip_fail(l, "corrupt search tree (node %u: %s)", node,
			                  MMDB_strerror(status));
		if (n.left_record_type == MMDB_RECORD_TYPE_EMPTY)
			return 0;
		if (n.left_record_type == MMDB_RECORD_TYPE_DATA) {
			uint32_t index;
			if (geoip_record(l, n.left_record, &n.left_record_entry, &index) < 0)
				return -1;
			if (prefix_builder_add(l->v4, zero, 0, index) < 0)
				return geoip_fail(l, "out of memory");
			l->networks++;
			return 0;
		}
		if (n.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE)
			return geoip_fail(l, "corrupt search tree (invalid record in node %u)", node);
		node = (uint32_t)n.left_record;
	}
	l->v4_root = node;
	return geoip_walk(l, node, 96, zero, 128, 96, l->v4, false);
}

/*
 * The ranges geoip_client_normalize turns into IPv4 get a value of their
 * own in the IPv6 tree (added last, so it wins over any covering network).
 * Leaving them empty would let the scope of an empty neighbour reach over
 * them: a reply for 2003::1 with scope /15 would tell a resolver that all of
 * 2002::/16 gets the same answer, when those clients are geolocated by their
 * IPv4 addresses.  Lookups that land here (only un-normalized ones) get NULL.
 * The walk does the same for every other alias it skips (Teredo).
 */
int geoip_add_ipv4_ranges(struct prefix_builder *v6, uint32_t value)
{
	static const struct {
		uint8_t addr[16];
		unsigned plen;
	} ranges[] = {
	    {{0}, 96},                                        /* IPv4-compatible */
	    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96}, /* IPv4-mapped */
	    {{0x20, 0x02}, 16},                               /* 6to4 */
	    {{0x00, 0x64, 0xff, 0x9b}, 96},                   /* NAT64 */
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (prefix_builder_add(v6, ranges[i].addr, ranges[i].plen, value) < 0)
			return -1;
	return 0;
}

static int geoip_mark_ipv4_ranges(struct geoip_loader *l)
{
	if (geoip_add_ipv4_ranges(l->v6, GEOIP_IPV4_RANGE) < 0)
		return geoip_fail(l, "out of memory");
	return 0;
}

static void geoip_loader_release(struct geoip_loader *l)
{
	free(l->offsets.slots);
	free(l->intern.slots);
	free(l->locations);
	prefix_builder_free(l->v4);
	prefix_builder_free(l->v6);
}

int geoip_db_load(const char *path, struct geoip_db **out, char *err, size_t errlen)
{
	struct geoip_loader l;
	memset(&l, 0, sizeof(l));
	l.path = path;
	l.err = err;
	l.errlen = errlen;
	l.v4_root = UINT32_MAX;
	*out = NULL;

	char why[128];
	if (infile_check(path, why, sizeof why) < 0)
		return geoip_fail(&l, "cannot open the database: %s", why);
	/* libmaxminddb says "An attempt to read data from the MaxMind DB file
	 * failed (Invalid argument)" here (its mmap of 0 bytes fails): say what
	 * is wrong instead, as a download cut short leaves it. */
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size == 0)
		return geoip_fail(&l, "empty file, not a MaxMind database");
	errno = 0;
	int status = MMDB_open(path, MMDB_MODE_MMAP, &l.mmdb);
	if (status != MMDB_SUCCESS) {
		int saved = errno;
		if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && saved)
			return geoip_fail(&l, "%s (%s)", MMDB_strerror(status), strerror(saved));
		return geoip_fail(&l, "%s", MMDB_strerror(status));
	}

	int rc = -1;
	unsigned ipv = l.mmdb.metadata.ip_version;
	l.max_visits = (uint64_t)l.mmdb.metadata.node_count + 1;
	l.v4 = prefix_builder_new(32);
	l.v6 = prefix_builder_new(128);
	if (!l.v4 || !l.v6) {
		geoip_fail(&l, "out of memory");
	} else if (ipv == 4) {
		static const uint8_t zero[16] = {0};
		rc = geoip_walk(&l, 0, 0, zero, 32, 0, l.v4, false);
	} else if (ipv == 6) {
		static const uint8_t zero[16] = {0};
		rc = geoip_walk_v4_in_v6(&l);
		if (rc == 0)
			rc = geoip_walk(&l, 0, 0, zero, 128, 0, l.v6, true);
		if (rc == 0)
			rc = geoip_mark_ipv4_ranges(&l);
	} else {
		geoip_fail(&l, "unsupported ip_version %u", ipv);
	}

	struct geoip_db *db = NULL;
	if (rc == 0) {
		db = calloc(1, sizeof(*db));
		if (db)
			db->path = strdup(path);
		if (!db || !db->path) {
			rc = geoip_fail(&l, "out of memory");
		} else {
			const char *type = l.mmdb.metadata.database_type;
			snprintf(db->database_type, sizeof(db->database_type), "%s", type ? type : "");
		}
	}
	MMDB_close(&l.mmdb);
	if (rc == 0) {
		db->v4 = prefix_builder_finish(l.v4);
		db->v6 = prefix_builder_finish(l.v6);
		l.v4 = l.v6 = NULL;
		if (!db->v4 || !db->v6)
			rc = geoip_fail(&l, "out of memory");
	}
	if (rc == 0) {
		/* Hand over the table at its exact size. */
		db->location_count = l.location_count;
		db->locations = l.locations;
		l.locations = NULL;
		if (db->location_count) {
			struct geoip_location *exact =
			    realloc(db->locations, db->location_count * sizeof(*db->locations));
			if (exact)
				db->locations = exact;
		}
		db->network_count = l.networks;
		*out = db;
	} else {
		geoip_db_free(db);
	}
	geoip_loader_release(&l);
	return rc;
}

void geoip_db_free(struct geoip_db *db)
{
	if (!db)
		return;
	prefix_tree_free(db->v4);
	prefix_tree_free(db->v6);
	free(db->locations);
	free(db->path);
	free(db);
}

int geoip_client_normalize(int family, const uint8_t *addr, uint8_t *out)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t zero[12] = {0};
	if (family == 4) {
		memcpy(out, addr, 4);
		return 4;
	}
	if (family != 6)
		return 0; /* not an address family we know: nothing to look up */
	if (memcmp(addr, mapped, 12) == 0 || memcmp(addr, nat64, 12) == 0) {
		memcpy(out, addr + 12, 4);
		return 4;
	}
	if (memcmp(addr, zero, 12) == 0) {
		/* IPv4-compatible, except the unspecified and loopback addresses. */
		bool special = addr[12] == 0 && addr[13] == 0 && addr[14] == 0 && addr[15] <= 1;
		if (!special) {
			memcpy(out, addr + 12, 4);
			return 4;
		}
	} else if (addr[0] == 0x20 && addr[1] == 0x02) {
		memcpy(out, addr + 2, 4); /* 6to4: 2002:V4ADDR::/48 */
		return 4;
	}
	memcpy(out, addr, 16);
	return 6;
}

const struct geoip_location *geoip_lookup(const struct geoip_db *db, int family, const uint8_t *addr,
                                          uint8_t *scope)
{
	const struct prefix_tree *t = !db ? NULL : family == 4 ? db->v4 : family == 6 ? db->v6 : NULL;
	if (!t) {
		*scope = 0;
		return NULL;
	}
	uint32_t v = prefix_tree_lookup(t, addr, scope);
	return v < db->location_count ? &db->locations[v] : NULL;
}
