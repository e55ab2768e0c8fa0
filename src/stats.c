/*
 * stats — per-thread counter blocks, merged on read.
 *
 * Why per thread: a counter shared by the UDP workers would bounce its
 * cache line between cores on every query, and an atomic add costs a
 * locked instruction; at several hundred thousand queries per second per
 * core both show in the profile.  So every query thread owns a block,
 * aligned to a cache line so no two threads' counters share one, and bumps
 * its counters with a relaxed load and a relaxed store (on x86-64 a plain
 * add to memory, on any target free of data races in the C11 sense, since
 * only the owner ever stores).  A reader sums relaxed loads over the
 * blocks; each value it sees is one the owner stored, so totals only ever
 * lag, never tear.
 *
 * Blocks live in a fixed table of STATS_MAX_BLOCKS pointers; a block is
 * published with a release store after it is zeroed, and never freed while
 * the daemon runs.  Reload counters and the per-record baseline are
 * touched by the loop thread only (stats_reload, stats_read), except the
 * reload counts, which are atomics so a test thread may read them too.
 */
#include "stats.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATS_CACHE_LINE 64

typedef _Atomic uint64_t stats_counter;

struct stats_block {
	stats_counter queries[2];
	stats_counter qtype[STATS_QTYPE_COUNT];
	stats_counter rcode[STATS_RCODE_COUNT];
	stats_counter truncated;
	stats_counter ecs;
	stats_counter fail_open;
	stats_counter fenced;
	stats_counter dropped;
	stats_counter rate_limited;
	stats_counter rate_limit_slipped;
	stats_counter datacenter[HEALTH_MAX_SLOTS];
	stats_counter record[STATS_MAX_RECORDS + 1];
} __attribute__((aligned(STATS_CACHE_LINE)));

static struct stats_block *_Atomic stats_blocks[STATS_MAX_BLOCKS];
static atomic_size_t stats_block_next;
static _Atomic uint64_t stats_reloads, stats_reload_failures;
static uint64_t stats_record_base[STATS_MAX_RECORDS + 1]; /* loop thread only */
static uint64_t stats_datacenter_base[HEALTH_MAX_SLOTS];  /* loop thread only */
static struct timespec stats_started;
static atomic_bool stats_clock_started;

/* The owner's increment: no read-modify-write instruction, see the top. */
static inline void stats_add(stats_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t stats_get(stats_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

struct stats_block *stats_register(void)
{
	if (!atomic_exchange(&stats_clock_started, true))
		clock_gettime(CLOCK_MONOTONIC, &stats_started);
	size_t size =
	    (sizeof(struct stats_block) + STATS_CACHE_LINE - 1) / STATS_CACHE_LINE * STATS_CACHE_LINE;
	struct stats_block *b = aligned_alloc(STATS_CACHE_LINE, size);
	if (!b)
		return NULL;
	memset(b, 0, size);
	size_t slot = atomic_fetch_add(&stats_block_next, 1);
	if (slot >= STATS_MAX_BLOCKS) {
		free(b);
		return NULL;
	}
	atomic_store_explicit(&stats_blocks[slot], b, memory_order_release);
	return b;
}

void stats_count(struct stats_block *b, enum query_transport transport, const struct query_outcome *o)
{
	if (!b)
		return;
	if (!o->answered) {
		stats_add(&b->dropped, 1);
		return;
	}
	stats_add(&b->queries[transport == QUERY_TCP ? 1 : 0], 1);
	stats_add(&b->qtype[stats_qtype_bucket(o->qtype)], 1);
	stats_add(&b->rcode[stats_rcode_bucket(o->rcode)], 1);
	if (o->truncated)
		stats_add(&b->truncated, 1);
	if (o->ecs)
		stats_add(&b->ecs, 1);
	if (o->fail_open)
		stats_add(&b->fail_open, 1);
	if (o->fenced)
		stats_add(&b->fenced, 1);
	if (o->record >= 0)
		stats_add(&b->record[o->record < STATS_MAX_RECORDS ? o->record : STATS_MAX_RECORDS], 1);
	for (uint64_t m = o->datacenters; m; m &= m - 1)
		stats_add(&b->datacenter[__builtin_ctzll(m)], 1);
}

void stats_count_dropped(struct stats_block *b, unsigned n)
{
	if (b && n)
		stats_add(&b->dropped, n);
}

void stats_count_rate_limited(struct stats_block *b, enum ratelimit_verdict verdict)
{
	if (!b || verdict == RATELIMIT_PASS)
		return;
	stats_add(verdict == RATELIMIT_DROP ? &b->rate_limited : &b->rate_limit_slipped, 1);
}

/* Sums one counter over every published block. */
#define STATS_SUM(field)                                                                                     \
	({                                                                                                   \
		uint64_t sum_ = 0;                                                                           \
		for (size_t i_ = 0; i_ < count; i_++) {                                                      \
			struct stats_block *b_ =                                                             \
			    atomic_load_explicit(&stats_blocks[i_], memory_order_acquire);                   \
			if (b_)                                                                              \
				sum_ += stats_get(&b_->field);                                               \
		}                                                                                            \
		sum_;                                                                                        \
	})

static size_t stats_block_count(void)
{
	size_t count = atomic_load(&stats_block_next);
	return count < STATS_MAX_BLOCKS ? count : STATS_MAX_BLOCKS;
}

void stats_reload(bool ok)
{
	if (!ok) {
		atomic_fetch_add(&stats_reload_failures, 1);
		return;
	}
	atomic_fetch_add(&stats_reloads, 1);
	size_t count = stats_block_count();
	for (size_t r = 0; r <= STATS_MAX_RECORDS; r++)
		stats_record_base[r] = STATS_SUM(record[r]);
}

void stats_datacenters_released(uint64_t mask)
{
	size_t count = stats_block_count();
	for (uint64_t m = mask; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);
		stats_datacenter_base[i] = STATS_SUM(datacenter[i]);
	}
}

void stats_read(struct stats_totals *out)
{
	memset(out, 0, sizeof(*out));
	size_t count = stats_block_count();
	for (size_t i = 0; i < 2; i++)
		out->queries[i] = STATS_SUM(queries[i]);
	for (size_t i = 0; i < STATS_QTYPE_COUNT; i++)
		out->qtype[i] = STATS_SUM(qtype[i]);
	for (size_t i = 0; i < STATS_RCODE_COUNT; i++)
		out->rcode[i] = STATS_SUM(rcode[i]);
	out->truncated = STATS_SUM(truncated);
	out->ecs = STATS_SUM(ecs);
	out->fail_open = STATS_SUM(fail_open);
	out->fenced = STATS_SUM(fenced);
	out->dropped = STATS_SUM(dropped);
	out->rate_limited = STATS_SUM(rate_limited);
	out->rate_limit_slipped = STATS_SUM(rate_limit_slipped);
	for (size_t i = 0; i < HEALTH_MAX_SLOTS; i++) {
		uint64_t v = STATS_SUM(datacenter[i]);
		out->datacenter[i] = v > stats_datacenter_base[i] ? v - stats_datacenter_base[i] : 0;
	}
	for (size_t i = 0; i <= STATS_MAX_RECORDS; i++) {
		uint64_t v = STATS_SUM(record[i]);
		out->record[i] = v > stats_record_base[i] ? v - stats_record_base[i] : 0;
	}
	out->reloads = atomic_load(&stats_reloads);
	out->reload_failures = atomic_load(&stats_reload_failures);
	if (atomic_load(&stats_clock_started)) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double up = (double)(now.tv_sec - stats_started.tv_sec) +
		            (double)(now.tv_nsec - stats_started.tv_nsec) / 1e9;
		out->uptime_s = up > 0 ? up : 0;
	}
}

/* ---- names ---- */

static const struct {
	uint16_t type;
	const char *name;
} stats_qtypes[STATS_QTYPE_COUNT - 1] = {
    {1, "A"},     {2, "NS"},     {5, "CNAME"},  {6, "SOA"},    {12, "PTR"},  {15, "MX"},
    {16, "TXT"},  {28, "AAAA"},  {33, "SRV"},   {35, "NAPTR"}, {43, "DS"},   {48, "DNSKEY"},
    {64, "SVCB"}, {65, "HTTPS"}, {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"}, {257, "CAA"},
};

size_t stats_qtype_bucket(uint16_t qtype)
{
	for (size_t i = 0; i < STATS_QTYPE_COUNT - 1; i++)
		if (stats_qtypes[i].type == qtype)
			return i;
	return STATS_QTYPE_COUNT - 1;
}

const char *stats_qtype_name(size_t bucket)
{
	if (bucket < STATS_QTYPE_COUNT - 1)
		return stats_qtypes[bucket].name;
	return bucket == STATS_QTYPE_COUNT - 1 ? "other" : NULL;
}

/* RFC 6895 / IANA DNS RCODEs; 16 is BADVERS in an OPT (BADSIG in TSIG). */
static const char *const stats_rcodes[STATS_RCODE_COUNT] = {
    "NOERROR", "FORMERR", "SERVFAIL",  "NXDOMAIN", "NOTIMP",   "REFUSED",   "YXDOMAIN", "YXRRSET", "NXRRSET",
    "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12",  "RCODE13",  "RCODE14",   "RCODE15",  "BADVERS", "BADKEY",
    "BADTIME", "BADMODE", "BADNAME",   "BADALG",   "BADTRUNC", "BADCOOKIE", "other",
};

size_t stats_rcode_bucket(uint16_t rcode)
{
	return rcode < STATS_RCODE_COUNT - 1 ? rcode : STATS_RCODE_COUNT - 1;
}

const char *stats_rcode_name(size_t bucket)
{
	return bucket < STATS_RCODE_COUNT ? stats_rcodes[bucket] : NULL;
}

void stats_reset(void)
{
	size_t count = stats_block_count();
	for (size_t i = 0; i < count; i++)
		free(atomic_exchange(&stats_blocks[i], NULL));
	atomic_store(&stats_block_next, 0);
	atomic_store(&stats_reloads, 0);
	atomic_store(&stats_reload_failures, 0);
	memset(stats_record_base, 0, sizeof(stats_record_base));
	memset(stats_datacenter_base, 0, sizeof(stats_datacenter_base));
	atomic_store(&stats_clock_started, false);
}
