/*
 * health — the datacenter state table.
 *
 * A fixed array of HEALTH_MAX_SLOTS slots, each holding a copy of the
 * datacenter's name, its probed state, the administrative override, when the
 * effective state last changed and the probe's last reason.  Slots are only
 * ever added (health_reset aside), so a slot number handed out once stays
 * valid and the name pointer in struct health_status stays readable.
 *
 * Writers (probes, the control socket) take health_lock, change a slot and
 * recompute that slot's effective bit into health_mask with one atomic
 * store; a change of the effective state is logged while the lock is held,
 * so the log lines come out in the order the changes happened.  The query
 * path only ever does one atomic load of health_mask: no lock, and a bit
 * flipped here is seen by the next query.  Bits of unused slots are 0.
 *
 * Probe details (one entry per probed address and check) are only for the
 * control socket: a malloc'ed copy per slot, replaced whole under the same
 * mutex.  The per-datacenter RTT average is an atomic word like the masks,
 * for the latency policy to read from the query path.
 */
#include "health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct health_entry {
	char *name; /* NULL: slot unused */
	bool probed_up;
	enum health_admin admin;
	bool up; /* effective, mirrors the slot's bit in health_mask */
	bool family_dead[2]; /* every IPv4 / IPv6 address probed down (the family has some) */
	uint8_t address_key[HEALTH_ADDRESS_BITS][17]; /* per address bit: [0] the length (0: free), the bytes */
	time_t since;
	char probe_reason[128];
	struct health_probe *probes; /* details, for `health` */
	size_t probe_count;
};

static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static struct health_entry health_table[HEALTH_MAX_SLOTS];
static _Atomic uint64_t health_mask;
/* health_mask without the slots whose every IPv4 / IPv6 address is down */
static _Atomic uint64_t health_family_mask[2];
static _Atomic uint64_t health_addresses[HEALTH_MAX_SLOTS][HEALTH_ADDRESS_WORDS] = {
	[0 ... HEALTH_MAX_SLOTS - 1] = {[0 ... HEALTH_ADDRESS_WORDS - 1] = UINT64_MAX},
};

static void health_addresses_reset(int slot)
{
	for (unsigned w = 0; w < HEALTH_ADDRESS_WORDS; w++)
		atomic_store(&health_addresses[slot][w], UINT64_MAX);
}
#define HEALTH_RTT_UNKNOWN UINT32_MAX
static _Atomic uint32_t health_rtt_us[HEALTH_MAX_SLOTS] = {
	[0 ... HEALTH_MAX_SLOTS - 1] = HEALTH_RTT_UNKNOWN,
};

static bool health_effective(const struct health_entry *e)
{
	switch (e->admin) {
	case HEALTH_ADMIN_DRAIN:
		return false;
	case HEALTH_ADMIN_FORCE_UP:
		return true;
	case HEALTH_ADMIN_NONE:
		break;
	}
	return e->probed_up;
}

static const char *health_word(bool up)
{
	return up ? "up" : "down";
}

static void health_store_bit(_Atomic uint64_t *mask, int slot, bool set)
{
	uint64_t bit = UINT64_C(1) << slot;
	uint64_t old = atomic_load(mask);
	atomic_store(mask, set ? old | bit : old & ~bit);
}

/* Recomputes slot's effective state after a change; publishes it, and
 * logs it when it differs.  why: what caused the change, for the log line.
 * Forced up overrides a dead family as it overrides the probes. */
static void health_update(int slot, const char *why)
{
	struct health_entry *e = &health_table[slot];
	bool up = health_effective(e);
	if (up != e->up) {
		log_info("health: %s %s -> %s (%s)", e->name, health_word(e->up), health_word(up), why);
		e->up = up;
		e->since = time(NULL);
		health_store_bit(&health_mask, slot, up);
	}
	for (int f = 0; f < 2; f++)
		health_store_bit(&health_family_mask[f], slot,
		                 up && (e->admin == HEALTH_ADMIN_FORCE_UP || !e->family_dead[f]));
}

static int health_find_locked(const char *name)
{
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++)
		if (health_table[i].name && strcmp(health_table[i].name, name) == 0)
			return i;
	return -1;
}

static bool health_slot_valid(int slot)
{
	return slot >= 0 && slot < HEALTH_MAX_SLOTS && health_table[slot].name;
}

int health_slot(const char *name)
{
	pthread_mutex_lock(&health_lock);
	int slot = health_find_locked(name);
	for (int i = 0; slot < 0 && i < HEALTH_MAX_SLOTS; i++) {
		if (health_table[i].name)
			continue;
		char *copy = strdup(name);
		if (!copy)
			break;
		struct health_entry *e = &health_table[i];
		*e = (struct health_entry){.name = copy, .probed_up = true, .up = true, .since = time(NULL)};
		atomic_fetch_or(&health_mask, UINT64_C(1) << i);
		atomic_fetch_or(&health_family_mask[0], UINT64_C(1) << i);
		atomic_fetch_or(&health_family_mask[1], UINT64_C(1) << i);
		slot = i;
	}
	pthread_mutex_unlock(&health_lock);
	return slot;
}

int health_slot_find(const char *name)
{
	pthread_mutex_lock(&health_lock);
	int slot = health_find_locked(name);
	pthread_mutex_unlock(&health_lock);
	return slot;
}

uint64_t health_up_mask(void)
{
	return atomic_load_explicit(&health_mask, memory_order_acquire);
}

uint64_t health_up_mask_family(int family)
{
	if (family != 4 && family != 6)
		return health_up_mask();
	return atomic_load_explicit(&health_family_mask[family == 6], memory_order_acquire);
}

void health_set_family_dead(int slot, bool ipv4_dead, bool ipv6_dead)
{
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot)) {
		health_table[slot].family_dead[0] = ipv4_dead;
		health_table[slot].family_dead[1] = ipv6_dead;
		health_update(slot, "probe");
	}
	pthread_mutex_unlock(&health_lock);
}

void health_set_probed(int slot, bool up, const char *reason)
{
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot)) {
		struct health_entry *e = &health_table[slot];
		e->probed_up = up;
		snprintf(e->probe_reason, sizeof(e->probe_reason), "%s", reason ? reason : "");
		char why[160];
		snprintf(why, sizeof(why), "probe: %s", reason && *reason ? reason : health_word(up));
		health_update(slot, why);
	}
	pthread_mutex_unlock(&health_lock);
}

static const char *health_admin_why(enum health_admin admin)
{
	switch (admin) {
	case HEALTH_ADMIN_DRAIN:
		return "drained by operator";
	case HEALTH_ADMIN_FORCE_UP:
		return "forced up by operator";
	case HEALTH_ADMIN_NONE:
		break;
	}
	return "override cleared by operator";
}

void health_set_admin(int slot, enum health_admin admin)
{
	if (admin != HEALTH_ADMIN_NONE && admin != HEALTH_ADMIN_DRAIN && admin != HEALTH_ADMIN_FORCE_UP)
		return;
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot) && health_table[slot].admin != admin) {
		health_table[slot].admin = admin;
		health_update(slot, health_admin_why(admin));
	}
	pthread_mutex_unlock(&health_lock);
}

bool health_status_of(int slot, struct health_status *out)
{
	bool found = false;
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot)) {
		const struct health_entry *e = &health_table[slot];
		*out = (struct health_status){.name = e->name,
		                              .up = e->up,
		                              .probed_up = e->probed_up,
		                              .admin = e->admin,
		                              .since = e->since,
		                              .rtt_ms = health_rtt_ms(slot)};
		/* An override is the reason that matters; the probe's own word
		 * is kept after it so a drained-and-dead datacenter says both. */
		if (e->admin != HEALTH_ADMIN_NONE && e->probe_reason[0])
			snprintf(out->reason, sizeof(out->reason), "%s; probe: %s",
			         health_admin_why(e->admin), e->probe_reason);
		else if (e->admin != HEALTH_ADMIN_NONE)
			snprintf(out->reason, sizeof(out->reason), "%s", health_admin_why(e->admin));
		else
			snprintf(out->reason, sizeof(out->reason), "%s", e->probe_reason);
		found = true;
	}
	pthread_mutex_unlock(&health_lock);
	return found;
}

uint64_t health_release_unused(uint64_t keep)
{
	uint64_t freed = 0;
	pthread_mutex_lock(&health_lock);
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++) {
		struct health_entry *e = &health_table[i];
		if (!e->name || (keep >> i & 1) || e->admin != HEALTH_ADMIN_NONE)
			continue;
		free(e->name);
		free(e->probes);
		*e = (struct health_entry){0};
		health_addresses_reset(i);
		atomic_store(&health_rtt_us[i], HEALTH_RTT_UNKNOWN);
		atomic_fetch_and(&health_mask, ~(UINT64_C(1) << i));
		atomic_fetch_and(&health_family_mask[0], ~(UINT64_C(1) << i));
		atomic_fetch_and(&health_family_mask[1], ~(UINT64_C(1) << i));
		freed |= UINT64_C(1) << i;
	}
	pthread_mutex_unlock(&health_lock);
	return freed;
}

void health_reset(void)
{
	pthread_mutex_lock(&health_lock);
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++) {
		free(health_table[i].name);
		free(health_table[i].probes);
		health_table[i] = (struct health_entry){0};
		health_addresses_reset(i);
		atomic_store(&health_rtt_us[i], HEALTH_RTT_UNKNOWN);
	}
	atomic_store(&health_mask, 0);
	atomic_store(&health_family_mask[0], 0);
	atomic_store(&health_family_mask[1], 0);
	pthread_mutex_unlock(&health_lock);
}

int health_address_bit(int slot, const uint8_t *addr, size_t len)
{
	if (len != 4 && len != 16)
		return -1;
	int bit = -1;
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot)) {
		struct health_entry *e = &health_table[slot];
		int free_bit = -1;
		for (int i = 0; i < HEALTH_ADDRESS_BITS && bit < 0; i++) {
			if (e->address_key[i][0] == len && !memcmp(e->address_key[i] + 1, addr, len))
				bit = i;
			else if (e->address_key[i][0] == 0 && free_bit < 0)
				free_bit = i;
		}
		if (bit < 0 && free_bit >= 0) {
			bit = free_bit;
			e->address_key[bit][0] = (uint8_t)len;
			memcpy(e->address_key[bit] + 1, addr, len);
		}
	}
	pthread_mutex_unlock(&health_lock);
	return bit;
}

void health_release_address_bits(int slot, const uint64_t keep[HEALTH_ADDRESS_WORDS])
{
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot))
		for (int i = 0; i < HEALTH_ADDRESS_BITS; i++)
			if (!(keep[i / 64] >> (i % 64) & 1))
				health_table[slot].address_key[i][0] = 0;
	pthread_mutex_unlock(&health_lock);
}

uint64_t health_address_mask(int slot, unsigned word)
{
	if (slot < 0 || slot >= HEALTH_MAX_SLOTS || word >= HEALTH_ADDRESS_WORDS)
		return UINT64_MAX;
	return atomic_load_explicit(&health_addresses[slot][word], memory_order_acquire);
}

void health_set_address_mask(int slot, unsigned word, uint64_t mask)
{
	if (slot < 0 || slot >= HEALTH_MAX_SLOTS || word >= HEALTH_ADDRESS_WORDS)
		return;
	atomic_store_explicit(&health_addresses[slot][word], mask, memory_order_release);
}

double health_rtt_ms(int slot)
{
	if (slot < 0 || slot >= HEALTH_MAX_SLOTS)
		return -1;
	uint32_t us = atomic_load_explicit(&health_rtt_us[slot], memory_order_relaxed);
	return us == HEALTH_RTT_UNKNOWN ? -1 : us / 1000.0;
}

void health_set_rtt_ms(int slot, double ms)
{
	if (slot < 0 || slot >= HEALTH_MAX_SLOTS)
		return;
	uint32_t us = HEALTH_RTT_UNKNOWN;
	if (ms >= 0)
		us = ms * 1000.0 >= (double)(HEALTH_RTT_UNKNOWN - 1) ? HEALTH_RTT_UNKNOWN - 1
		                                                    : (uint32_t)(ms * 1000.0 + 0.5);
	atomic_store_explicit(&health_rtt_us[slot], us, memory_order_relaxed);
}

void health_set_probes(int slot, const struct health_probe *probes, size_t count)
{
	struct health_probe *copy = NULL;
	if (count) {
		copy = malloc(count * sizeof(*copy));
		if (!copy)
			return; /* the old details stay; they are only for display */
		memcpy(copy, probes, count * sizeof(*copy));
	}
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot)) {
		struct health_entry *e = &health_table[slot];
		free(e->probes);
		e->probes = copy;
		e->probe_count = count;
		copy = NULL;
	}
	pthread_mutex_unlock(&health_lock);
	free(copy);
}

void health_set_probe(int slot, size_t index, const struct health_probe *probe)
{
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot) && index < health_table[slot].probe_count)
		health_table[slot].probes[index] = *probe;
	pthread_mutex_unlock(&health_lock);
}

size_t health_probes_of(int slot, struct health_probe *out, size_t max)
{
	size_t count = 0;
	pthread_mutex_lock(&health_lock);
	if (health_slot_valid(slot)) {
		const struct health_entry *e = &health_table[slot];
		count = e->probe_count;
		if (count && max)
			memcpy(out, e->probes, (count < max ? count : max) * sizeof(*out));
	}
	pthread_mutex_unlock(&health_lock);
	return count;
}
