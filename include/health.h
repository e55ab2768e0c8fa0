/*
 * health — the up/down state of every datacenter, shared between the
 * writers (health probes, the control socket's drain / undrain / force-up)
 * and the query path (the only reader that matters for speed).
 *
 * Datacenters get a slot by name (health_slot), and a name keeps its slot
 * for the life of the process, so state and administrative overrides
 * survive reloads.  The effective state of all slots is published as one
 * 64-bit word (bit set = up) that the query path reads with a single atomic
 * load: no lock, and a change made by a writer is seen by the next query.
 *
 * Effective state: drained → down; forced up → up; otherwise the probed
 * state (up until a probe says otherwise, or the configured initial state).
 * Writers serialize on a mutex; readers never touch it.
 */
#ifndef GEOSTEER_HEALTH_H
#define GEOSTEER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HEALTH_MAX_SLOTS 64

enum health_admin { HEALTH_ADMIN_NONE, HEALTH_ADMIN_DRAIN, HEALTH_ADMIN_FORCE_UP };

/* The slot of a datacenter name, assigning a new one (probed state up) the
 * first time; -1 when all HEALTH_MAX_SLOTS are taken. */
int health_slot(const char *name);

/* The slot of a name already known, or -1. */
int health_slot_find(const char *name);

/* Effective up/down of every slot (bit i = slot i up).  One atomic load. */
uint64_t health_up_mask(void);

/*
 * health_up_mask() for answers of one address family (4: A, 6: AAAA),
 * without the slots whose every address of that family is probed down
 * while another family keeps them up: an A query must fail over from a
 * datacenter whose IPv4 addresses are all dead even though its IPv6 ones
 * answer.  A forced-up slot stays in.  Any other family: health_up_mask().
 * One atomic load.
 */
uint64_t health_up_mask_family(int family);

/* Sets whether every IPv4 / IPv6 address of a slot is probed down (false
 * for a family the datacenter has no address of). */
void health_set_family_dead(int slot, bool ipv4_dead, bool ipv6_dead);

/* Sets the probed state of a slot; reason is kept for `health` output and
 * logged when the effective state changes. */
void health_set_probed(int slot, bool up, const char *reason);

/* Sets the administrative override of a slot. */
void health_set_admin(int slot, enum health_admin admin);

/*
 * Per-address state, for datacenters whose addresses are probed one by one:
 * HEALTH_ADDRESS_BITS bits in HEALTH_ADDRESS_WORDS words; bit
 * health_address_bit() set (bit b in word b / 64) = that address is up.
 * All ones (every address up) until a probe says otherwise.  The query
 * path leaves out the addresses whose bit is clear, unless that would
 * leave none (then it fails open and answers them all).  One atomic load
 * per word.  128 bits: a probed datacenter has at most 64 addresses, and
 * during a reload the old snapshot's keep theirs while the new ones get
 * theirs, so even a reload replacing all 64 finds free bits.
 */
#define HEALTH_ADDRESS_WORDS 2
#define HEALTH_ADDRESS_BITS (64 * HEALTH_ADDRESS_WORDS)
uint64_t health_address_mask(int slot, unsigned word);
void health_set_address_mask(int slot, unsigned word, uint64_t mask);

/*
 * The bit of an address (its 4 or 16 bytes) in its slot's address mask,
 * given the first time it is asked for and kept while the address stays
 * in the configuration: snapshots built before and after a reload that
 * reorders, adds or removes addresses read the same bit for the same
 * address (a bit numbered by position would hand a dead address the bit
 * of a live one until the old snapshot is gone).  -1 when the slot has
 * no free bit (the address then always counts as up).
 */
int health_address_bit(int slot, const uint8_t *addr, size_t len);

/* Frees the bits of slot that are not in keep (HEALTH_ADDRESS_WORDS
 * words): call once the snapshot that might still read them is gone
 * (after a reload's swap). */
void health_release_address_bits(int slot, const uint64_t keep[HEALTH_ADDRESS_WORDS]);

struct health_status {
	const char *name;
	bool up;        /* effective */
	bool probed_up; /* probe (or initial) state */
	enum health_admin admin;
	time_t since;   /* when the effective state last changed */
	char reason[128];
	double rtt_ms;  /* health_rtt_ms() */
};

/* Copies the status of a slot; false when the slot is unused. */
bool health_status_of(int slot, struct health_status *out);

/*
 * Probe RTT of a datacenter: a moving average over the successful probes
 * of all its addresses, in milliseconds; negative until one has been
 * measured.  One atomic load (kept in whole microseconds), so the query
 * path may read it.  A negative value sets it back to unknown.
 */
double health_rtt_ms(int slot);
void health_set_rtt_ms(int slot, double ms);

/* What the probes know about one (address, check) pair, for operators. */
struct health_probe {
	char address[48];  /* presentation form */
	char check[72];    /* the check's name */
	bool up;           /* the pair's rise/fall state */
	time_t since;      /* when that state last changed (or the pair started) */
	bool has_result;   /* false until the first probe completed */
	bool last_ok;      /* the last result */
	char reason[128];  /* why the last result was what it was */
	unsigned rtt_ms;   /* of the last probe */
	unsigned ok_count; /* consecutive successes, failures */
	unsigned fail_count;
};

/* Replaces the slot's list of probe details (count 0: not probed).  Kept
 * under the writers' mutex; the query path never reads it. */
void health_set_probes(int slot, const struct health_probe *probes, size_t count);

/* Replaces entry index of that list (one probe's new result); nothing when
 * the list is shorter. */
void health_set_probe(int slot, size_t index, const struct health_probe *probe);

/* Copies up to max of the slot's probe details into out, in the order
 * given to health_set_probes; returns how many there are. */
size_t health_probes_of(int slot, struct health_probe *out, size_t max);

/*
 * Frees every slot whose bit is not in keep and that has no administrative
 * override, so names that left the configuration (or that only a refused
 * reload named) do not use up the 64 slots over a long life.  Called after
 * each reload, once no reader can hold the previous snapshot; a freed slot
 * may be given to a new name later.  Returns the slots it freed (bit i =
 * slot i), so the counters of those slots can start over
 * (stats_datacenters_released) before a new name gets one.
 */
uint64_t health_release_unused(uint64_t keep);

/* Forgets every slot (tests only). */
void health_reset(void);

#endif
