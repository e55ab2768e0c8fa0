/*
 * snapshot — build, publish and reclaim what the query path reads.
 *
 * Publishing is one atomic pointer exchange.  Reclaiming the previous
 * snapshot uses quiescent-state based reclamation (QSBR), so readers never
 * lock and never write shared cache lines other than their own slot:
 *
 *   - a global epoch counts publishes (starts at 1);
 *   - each reader slot holds the epoch it saw at its last quiescent point,
 *     or 0 while the reader is offline (blocked in poll, holding nothing);
 *   - after swapping the pointer, the publisher bumps the epoch to E and
 *     waits until every slot is 0 or >= E: each reader has then either
 *     finished the batch that might have used the old pointer or was not
 *     holding one.  Only then is the old snapshot freed.
 *
 * The wait polls with nanosleep in the control thread.  Readers report at
 * least every batch and go offline before blocking, so it lasts about one
 * batch.  All accesses are sequentially consistent: the reader's "store my
 * slot, then load the pointer" against the publisher's "store the pointer,
 * then load the slots" is a store/load pair that weaker orders would let
 * both sides miss.  The cost is one fenced store per batch of packets.
 *
 * A snapshot also owns copies of the strings the zone table was built from,
 * so it never points into a config that the caller frees after building.
 *
 * Building goes policies first, then zones: the policy set compiles every
 * zones[].records entry, and the zone table binds each record's name to
 * its compiled record (the node's `policy`), so both come from one config
 * and are published together.  The set is built even when the config has
 * no steering at all (it is then empty), so readers never test for NULL.
 */
#include "snapshot.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "policy.h"
#include "zone.h"

/* The allocation behind a struct snapshot. */
struct snapshot_owned {
	struct snapshot snap; /* first: a struct snapshot * is a struct snapshot_owned * */
	struct zone_source *sources;
	size_t source_count;
};

struct snapshot_reader_slot {
	_Atomic uint64_t seen; /* 0: offline or free; else the epoch at the last quiescent point */
	atomic_bool used;
} __attribute__((aligned(64))); /* one cache line each: readers write only their own */

static _Atomic(struct snapshot *) snapshot_live;
static _Atomic uint64_t snapshot_epoch = 1;
static uint64_t snapshot_generation; /* written only by the publishing thread */
static struct snapshot_reader_slot snapshot_readers[SNAPSHOT_MAX_READERS];

static void snapshot_bindings_free(struct snapshot_owned *own)
{
	for (size_t i = 0; i < own->source_count; i++) {
		free((void *)own->sources[i].bindings);
		own->sources[i].bindings = NULL;
		own->sources[i].binding_count = 0;
	}
}

static void snapshot_sources_free(struct snapshot_owned *own)
{
	snapshot_bindings_free(own);
	for (size_t i = 0; i < own->source_count; i++) {
		free((char *)own->sources[i].origin);
		free((char *)own->sources[i].file);
	}
	free(own->sources);
}

/* zones[z].records as bindings to the set's compiled records.  The names
 * point into config: the zone table reads them only while building. */
static struct zone_policy_binding *snapshot_bindings(const struct config *config, size_t z,
                                                     const struct policy_set *set)
{
	const struct config_zone *zone = &config->zones[z];
	struct zone_policy_binding *b = calloc(zone->record_count, sizeof(*b));
	if (!b)
		return NULL;
	for (size_t j = 0; j < zone->record_count; j++) {
		b[j].name = zone->records[j].name;
		b[j].record = policy_set_record(set, z, j);
		if (!b[j].record) { /* the set compiles every record; never without one */
			free(b);
			return NULL;
		}
		b[j].config_file = config->path;
		b[j].config_line = zone->records[j].line;
	}
	return b;
}

int snapshot_build(const struct config *config, struct snapshot **out, char *err, size_t errlen)
{
	*out = NULL;
	struct snapshot_owned *own = calloc(1, sizeof(*own));
	if (!own) {
		snprintf(err, errlen, "%s: out of memory", config->path);
		return -1;
	}
	struct snapshot *snap = &own->snap;
	if (policy_set_build(config, &snap->policies, err, errlen) < 0) {
		free(own);
		return -1;
	}
	if (config->zone_count) {
		own->sources = calloc(config->zone_count, sizeof(*own->sources));
		if (!own->sources)
			goto oom;
	}
	for (size_t i = 0; i < config->zone_count; i++) {
		own->source_count = i + 1;
		own->sources[i].origin = strdup(config->zones[i].origin);
		own->sources[i].file = strdup(config->zones[i].file);
		own->sources[i].config_file = config->path; /* read only while building */
		own->sources[i].config_line = config->zones[i].line;
		if (!own->sources[i].origin || !own->sources[i].file)
			goto oom;
		if (config->zones[i].record_count) {
			own->sources[i].bindings = snapshot_bindings(config, i, snap->policies);
			if (!own->sources[i].bindings)
				goto oom;
			own->sources[i].binding_count = config->zones[i].record_count;
		}
	}

	int rc = zone_table_build(own->sources, own->source_count, &snap->zones, err, errlen);
	snapshot_bindings_free(own); /* the table keeps no pointer into them */
	for (size_t i = 0; i < own->source_count; i++)
		own->sources[i].config_file = NULL; /* points into config, which may go first */
	if (rc < 0) {
		policy_set_free(snap->policies);
		snapshot_sources_free(own);
		free(own);
		return -1;
	}
	if (config->nsid) {
		size_t len = strlen(config->nsid);
		if (len > sizeof(snap->nsid))
			len = sizeof(snap->nsid); /* config limits it to 255 already */
		memcpy(snap->nsid, config->nsid, len);
		snap->settings.nsid = snap->nsid;
		snap->settings.nsid_len = (uint16_t)len;
	}
	snap->settings.udp_payload = config->udp_payload;
	snap->ratelimit = (struct ratelimit_settings){.responses = config->rate_limit.responses,
	                                              .slip = (uint8_t)config->rate_limit.slip,
	                                              .ipv4_prefix = (uint8_t)config->rate_limit.ipv4_prefix,
	                                              .ipv6_prefix = (uint8_t)config->rate_limit.ipv6_prefix};
	/* The build's temporary arrays are free now; hand that memory back to
	 * the system (main() told malloc not to do it piecemeal during loads). */
	malloc_trim(0);
	*out = snap;
	return 0;

oom:
	snprintf(err, errlen, "%s: out of memory", config->path);
	policy_set_free(snap->policies);
	snapshot_sources_free(own);
	free(own);
	return -1;
}

void snapshot_free(struct snapshot *snap)
{
	if (!snap)
		return;
	struct snapshot_owned *own = (struct snapshot_owned *)snap;
	if (snap->zones)
		zone_table_free(snap->zones);
	policy_set_free(snap->policies); /* after the zones, whose nodes point into it */
	snapshot_sources_free(own);
	free(own);
}

/* Blocks until every reader has passed a quiescent point at or after
 * epoch `target`, or is offline. */
static void snapshot_wait_readers(uint64_t target)
{
	const struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
	unsigned waited_ms = 0;
	bool warned = false;
	for (int i = 0; i < SNAPSHOT_MAX_READERS; i++) {
		for (;;) {
			uint64_t seen = atomic_load(&snapshot_readers[i].seen);
			if (seen == 0 || seen >= target)
				break;
			nanosleep(&pause, NULL);
			if (++waited_ms == 5000 && !warned) {
				log_warn("snapshot: reader %d has not been quiescent for 5 s; still waiting",
				         i);
				warned = true;
			}
		}
	}
}

void snapshot_publish(struct snapshot *snap)
{
	if (snap)
		snap->generation = ++snapshot_generation;
	struct snapshot *old = atomic_exchange(&snapshot_live, snap);
	uint64_t target = atomic_fetch_add(&snapshot_epoch, 1) + 1;
	if (old) {
		snapshot_wait_readers(target);
		snapshot_free(old);
	}
}

const struct snapshot *snapshot_current(void)
{
	return atomic_load(&snapshot_live);
}

int snapshot_reader_register(void)
{
	for (int i = 0; i < SNAPSHOT_MAX_READERS; i++) {
		bool expected = false;
		if (atomic_compare_exchange_strong(&snapshot_readers[i].used, &expected, true)) {
			atomic_store(&snapshot_readers[i].seen, atomic_load(&snapshot_epoch));
			return i;
		}
	}
	return -1;
}

void snapshot_reader_quiescent(int reader)
{
	if (reader >= 0 && reader < SNAPSHOT_MAX_READERS)
		atomic_store(&snapshot_readers[reader].seen, atomic_load(&snapshot_epoch));
}

void snapshot_reader_offline(int reader)
{
	if (reader >= 0 && reader < SNAPSHOT_MAX_READERS)
		atomic_store(&snapshot_readers[reader].seen, 0);
}

void snapshot_reader_online(int reader)
{
	snapshot_reader_quiescent(reader);
}

void snapshot_reader_unregister(int reader)
{
	if (reader < 0 || reader >= SNAPSHOT_MAX_READERS)
		return;
	atomic_store(&snapshot_readers[reader].seen, 0);
	atomic_store(&snapshot_readers[reader].used, false);
}

void snapshot_shutdown(void)
{
	snapshot_free(atomic_exchange(&snapshot_live, NULL));
}
