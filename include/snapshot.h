/*
 * snapshot — everything the query path reads, built together and published
 * behind one pointer.
 *
 * A snapshot is immutable once published.  snapshot_build() does all the
 * loading and checking (may allocate, may fail, never touches the live
 * one); snapshot_publish() swaps the pointer atomically, so a reload never
 * drops a query and a failed build leaves the old data serving.  Readers
 * take the pointer with snapshot_current() at the start of each batch of
 * packets; the old snapshot is freed only after every registered reader has
 * passed a quiescent point (snapshot_reader_quiescent) since the swap.
 */
#ifndef GEOSTEER_SNAPSHOT_H
#define GEOSTEER_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "ratelimit.h"

struct config;
struct policy_set;
struct zone_table;

struct snapshot {
	struct zone_table *zones;
	/* Datacenters, policies and fences the zones' policy nodes point into;
	 * never NULL in a built snapshot (empty when nothing is configured). */
	struct policy_set *policies;
	struct query_settings settings;
	struct ratelimit_settings ratelimit; /* UDP replies; responses 0: off */
	uint8_t nsid[256];
	uint64_t generation;
};

/* Builds a snapshot from a loaded config; -1 with a one-line message on error. */
int snapshot_build(const struct config *config, struct snapshot **out, char *err, size_t errlen);
void snapshot_free(struct snapshot *snap);

/* Makes snap the current snapshot; the previous one is freed once no reader
 * can still hold it.  Called from one thread (the control thread). */
void snapshot_publish(struct snapshot *snap);

/* The current snapshot (acquire load).  NULL before the first publish. */
const struct snapshot *snapshot_current(void);

/* Reader registration for safe reclamation: each query thread gets a slot,
 * and reports quiescent (holds no snapshot pointer) between batches. */
#define SNAPSHOT_MAX_READERS 128
int snapshot_reader_register(void);
void snapshot_reader_quiescent(int reader);
void snapshot_reader_unregister(int reader);

/* A reader about to block (poll, recvmmsg) goes offline: it holds no
 * snapshot pointer and does not delay reclamation however long it sleeps.
 * Online again before the next snapshot_current(). */
void snapshot_reader_offline(int reader);
void snapshot_reader_online(int reader);

/* Frees the current snapshot at shutdown (after all readers stopped). */
void snapshot_shutdown(void);

#endif
