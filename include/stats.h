/*
 * stats — the daemon's counters: what was asked, what was answered, and
 * how steering decided.
 *
 * Every thread that answers queries registers its own counter block once
 * (stats_register, at thread start) and counts into it with plain relaxed
 * loads and stores: no lock, no atomic read-modify-write, no shared cache
 * line, no allocation.  Readers (the control socket's `stats`, /metrics)
 * merge all blocks on demand with stats_read(); a sum may miss increments
 * made while it is taken, never tears a value, and never slows a writer
 * beyond sharing a cache line for a moment.  Blocks are never freed while
 * the process runs, so counts of a stopped thread stay in the totals.
 *
 * What is counted per query (struct query_outcome, filled by query):
 * transport, qtype (the common types, else "other", which also holds
 * requests without a readable question), rcode (0..23, else
 * "other"), truncated replies, queries carrying ECS, answers per policy
 * record and per datacenter, degraded (fail-open) policy answers and
 * answers to clients a residency fence constrained.  Requests that got no
 * reply (unparseable, oversized) count as dropped, not as queries; so do
 * replies a full socket buffer refused (counted as queries as well).
 *
 * Datacenters are counted by health slot (health.h): a name keeps its
 * slot across reloads, so its counts survive them.  When a reload frees a
 * slot (its name left the configuration), stats_datacenters_released()
 * starts that slot's count over, so a name given the slot later does not
 * inherit the old name's answers (a Prometheus counter of a new label
 * starts at 0).  Policy records are
 * counted by their index in the snapshot's policy set
 * (policy_record_index): a reload may renumber them, so stats_reload(true)
 * starts the per-record counts over (stats_read subtracts what they were
 * at the reload, which is taken once the old snapshot is gone).  Answers
 * workers give from the new snapshot while the reload waits for the last
 * of them to leave the old one (about one batch of packets) are therefore
 * not counted for their record; every other counter counts them.
 */
#ifndef GEOSTEER_STATS_H
#define GEOSTEER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health.h"
#include "query.h"
#include "ratelimit.h"

/* Per-record counters kept; records past this count together as "other". */
#define STATS_MAX_RECORDS 512
/* Counter blocks: one per query thread (workers, the loop), with room. */
#define STATS_MAX_BLOCKS 160

/* qtype buckets, in this order; see stats_qtype_name(). */
#define STATS_QTYPE_COUNT 19 /* 18 named types + "other" */
/* rcode buckets: 0..23 and "other". */
#define STATS_RCODE_COUNT 25

struct stats_block;

/* A new counter block for the calling thread, zeroed.  Off the query path
 * (allocates).  NULL when STATS_MAX_BLOCKS are taken or memory is short:
 * counting into NULL does nothing.  The first call also starts the uptime
 * clock. */
struct stats_block *stats_register(void);

/* Counts one request and its outcome.  Only the thread that registered b
 * may count into it. */
void stats_count(struct stats_block *b, enum query_transport transport, const struct query_outcome *o);

/* Counts n requests that got no reply although stats_count() did not see
 * them dropped: oversized datagrams (never parsed), and replies the socket
 * refused (those were counted as queries too). */
void stats_count_dropped(struct stats_block *b, unsigned n);

/* Counts one rate limiting verdict (ratelimit.h) for a reply that
 * stats_count() counted already: RATELIMIT_DROP as not sent, SLIP as sent
 * truncated, PASS not at all. */
void stats_count_rate_limited(struct stats_block *b, enum ratelimit_verdict verdict);

/* A reload attempt finished (the loop thread).  A successful one starts the
 * per-record counts over (see the top). */
void stats_reload(bool ok);

/* The datacenter slots in mask (bit i = health slot i) were freed: their
 * counts start over from 0 (stats_read subtracts what they were now).
 * The loop thread, after the reload that freed them, when no worker can
 * count into those slots any more. */
void stats_datacenters_released(uint64_t mask);

/* Everything, merged. */
struct stats_totals {
	uint64_t queries[2]; /* [QUERY_UDP], [QUERY_TCP] */
	uint64_t qtype[STATS_QTYPE_COUNT];
	uint64_t rcode[STATS_RCODE_COUNT];
	uint64_t truncated;
	uint64_t ecs;
	uint64_t fail_open;
	uint64_t fenced;
	uint64_t dropped;
	uint64_t rate_limited;       /* replies rate limiting did not send */
	uint64_t rate_limit_slipped; /* replies it sent truncated instead */
	uint64_t datacenter[HEALTH_MAX_SLOTS];  /* by health slot */
	uint64_t record[STATS_MAX_RECORDS + 1]; /* by record index; [STATS_MAX_RECORDS]: the rest */
	uint64_t reloads;                       /* successful */
	uint64_t reload_failures;
	double uptime_s; /* since the first stats_register() */
};

/* Sums every block into out.  Call from one thread (the loop), the same
 * one that calls stats_reload. */
void stats_read(struct stats_totals *out);

/* The qtype bucket of a type number, and each bucket's name ("A", ...,
 * "other"); NULL past the last bucket. */
size_t stats_qtype_bucket(uint16_t qtype);
const char *stats_qtype_name(size_t bucket);

/* The rcode bucket of an rcode, and each bucket's name (RFC 6895 mnemonics:
 * "NOERROR", ..., "BADCOOKIE", "RCODE12" for unassigned ones, "other");
 * NULL past the last bucket. */
size_t stats_rcode_bucket(uint16_t rcode);
const char *stats_rcode_name(size_t bucket);

/* Forgets every block and count (tests only: no thread may be counting). */
void stats_reset(void);

#endif
