/*
 * Unit tests for health: slot assignment, the published mask, the
 * precedence of administrative overrides over probes, status and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "health.h"

static int reset(void **state)
{
	(void)state;
	health_reset();
	return 0;
}

static void test_slots_stable(void **state)
{
	(void)state;
	assert_int_equal(health_slot_find("us-east"), -1);
	int a = health_slot("us-east");
	int b = health_slot("eu-central");
	assert_true(a >= 0);
	assert_true(b >= 0);
	assert_int_not_equal(a, b);
	assert_int_equal(health_slot("us-east"), a);
	assert_int_equal(health_slot_find("us-east"), a);
	assert_int_equal(health_slot_find("eu-central"), b);
	assert_int_equal(health_slot_find("US-EAST"), -1); /* names are exact */

	/* The name is copied: the caller's buffer may change afterwards. */
	char name[16];
	strcpy(name, "ap-southeast");
	int c = health_slot(name);
	strcpy(name, "clobbered");
	assert_int_equal(health_slot_find("ap-southeast"), c);
	struct health_status st;
	assert_true(health_status_of(c, &st));
	assert_string_equal(st.name, "ap-southeast");
}

static void test_slots_full(void **state)
{
	(void)state;
	char name[32];
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++) {
		snprintf(name, sizeof(name), "dc%d", i);
		assert_int_equal(health_slot(name), i);
	}
	assert_int_equal(health_slot("one-too-many"), -1);
	assert_int_equal(health_slot_find("one-too-many"), -1);
	assert_int_equal(health_slot("dc63"), 63); /* known names still resolve */
	assert_true(health_up_mask() == UINT64_MAX);
	health_set_probed(63, false, "x");
	assert_true(health_up_mask() == (UINT64_MAX >> 1));
}

static void test_mask_bits(void **state)
{
	(void)state;
	assert_true(health_up_mask() == 0);
	int a = health_slot("a");
	int b = health_slot("b");
	int c = health_slot("c");
	uint64_t all = (UINT64_C(1) << a) | (UINT64_C(1) << b) | (UINT64_C(1) << c);
	assert_true(health_up_mask() == all); /* probed state starts up */

	health_set_probed(b, false, "connect refused");
	assert_true(health_up_mask() == (all & ~(UINT64_C(1) << b)));
	health_set_probed(b, false, "still refused"); /* no change */
	assert_true(health_up_mask() == (all & ~(UINT64_C(1) << b)));
	health_set_probed(b, true, "200 OK");
	assert_true(health_up_mask() == all);

	/* Out-of-range and unused slots are ignored. */
	health_set_probed(-1, false, "x");
	health_set_probed(HEALTH_MAX_SLOTS, false, "x");
	health_set_probed(40, false, "x");
	health_set_admin(40, HEALTH_ADMIN_DRAIN);
	health_set_admin(a, (enum health_admin)7);
	assert_true(health_up_mask() == all);
}

static void test_admin_precedence(void **state)
{
	(void)state;
	int s = health_slot("us-east");
	uint64_t bit = UINT64_C(1) << s;
	struct health_status st;

	/* Drain beats a healthy probe. */
	health_set_admin(s, HEALTH_ADMIN_DRAIN);
	assert_false(health_up_mask() & bit);
	assert_true(health_status_of(s, &st));
	assert_false(st.up);
	assert_true(st.probed_up);
	assert_int_equal(st.admin, HEALTH_ADMIN_DRAIN);
	assert_string_equal(st.reason, "drained by operator");

	/* A probe result while drained changes the probed state only. */
	health_set_probed(s, false, "timeout after 2000 ms");
	health_set_probed(s, true, "200 OK");
	assert_false(health_up_mask() & bit);

	/* Undrain: back to the probe's word. */
	health_set_admin(s, HEALTH_ADMIN_NONE);
	assert_true(health_up_mask() & bit);

	/* Force-up beats a failing probe. */
	health_set_probed(s, false, "connect refused");
	assert_false(health_up_mask() & bit);
	health_set_admin(s, HEALTH_ADMIN_FORCE_UP);
	assert_true(health_up_mask() & bit);
	assert_true(health_status_of(s, &st));
	assert_true(st.up);
	assert_false(st.probed_up);
	assert_string_equal(st.reason, "forced up by operator; probe: connect refused");

	/* Drain after force-up: the last override wins. */
	health_set_admin(s, HEALTH_ADMIN_DRAIN);
	assert_false(health_up_mask() & bit);
	health_set_admin(s, HEALTH_ADMIN_NONE);
	assert_false(health_up_mask() & bit); /* the probe still says down */
	assert_true(health_status_of(s, &st));
	assert_string_equal(st.reason, "connect refused");
}

/* A datacenter whose every IPv4 address is dead, kept up by IPv6: out of
 * the A mask only; drained out of all; forced up back into all. */
static void test_family_masks(void **state)
{
	(void)state;
	int s = health_slot("us-east");
	uint64_t bit = UINT64_C(1) << s;
	assert_true(health_up_mask_family(4) & bit);
	assert_true(health_up_mask_family(6) & bit);

	health_set_family_dead(s, true, false);
	assert_true(health_up_mask() & bit);
	assert_false(health_up_mask_family(4) & bit);
	assert_true(health_up_mask_family(6) & bit);
	assert_true(health_up_mask_family(0) & bit); /* other types: the datacenter's state */

	health_set_admin(s, HEALTH_ADMIN_FORCE_UP);
	assert_true(health_up_mask_family(4) & bit);
	health_set_admin(s, HEALTH_ADMIN_DRAIN);
	assert_false(health_up_mask_family(4) & bit);
	assert_false(health_up_mask_family(6) & bit);
	health_set_admin(s, HEALTH_ADMIN_NONE);
	assert_false(health_up_mask_family(4) & bit);

	health_set_family_dead(s, false, false);
	assert_true(health_up_mask_family(4) & bit);
	/* The whole datacenter down: out of both, whatever the families say. */
	health_set_probed(s, false, "x");
	assert_false(health_up_mask_family(4) & bit);
	assert_false(health_up_mask_family(6) & bit);
	health_reset();
	assert_int_equal(health_up_mask_family(4), 0);
}

/* Address bits follow addresses; 64 old plus 64 new fit while the old
 * snapshot keeps its bits, and released bits are given again. */
static void test_address_bits(void **state)
{
	(void)state;
	int s = health_slot("us-east");
	int first[64], second[64];
	for (int i = 0; i < 64; i++) {
		uint8_t a[4] = {192, 0, 2, (uint8_t)i}, b[4] = {198, 51, 100, (uint8_t)i};
		first[i] = health_address_bit(s, a, 4);
		second[i] = health_address_bit(s, b, 4);
		assert_true(first[i] >= 0 && second[i] >= 0 && first[i] != second[i]);
	}
	uint8_t a0[4] = {192, 0, 2, 0}, v6[16] = {0x20, 0x01, 0x0d, 0xb8};
	assert_int_equal(health_address_bit(s, a0, 4), first[0]); /* the same address: the same bit */
	assert_int_equal(health_address_bit(s, v6, 16), -1);      /* all 128 taken */
	assert_int_equal(health_address_bit(s, a0, 5), -1);

	uint64_t keep[HEALTH_ADDRESS_WORDS] = {0};
	for (int i = 0; i < 64; i++)
		keep[second[i] / 64] |= UINT64_C(1) << (second[i] % 64);
	health_release_address_bits(s, keep); /* the first 64 are gone */
	int again = health_address_bit(s, v6, 16);
	assert_true(again >= 0);
	bool reused = false;
	for (int i = 0; i < 64; i++)
		reused |= again == first[i];
	assert_true(reused);
	uint8_t b0[4] = {198, 51, 100, 0};
	assert_int_equal(health_address_bit(s, b0, 4), second[0]);
}

static void test_since_and_status(void **state)
{
	(void)state;
	time_t before = time(NULL);
	int s = health_slot("eu-west");
	struct health_status st;
	assert_true(health_status_of(s, &st));
	assert_true(st.up);
	assert_true(st.since >= before && st.since <= time(NULL));
	assert_int_equal(st.admin, HEALTH_ADMIN_NONE);
	assert_string_equal(st.reason, "");
	assert_false(health_status_of(s + 1, &st));
	assert_false(health_status_of(-1, &st));
	assert_false(health_status_of(HEALTH_MAX_SLOTS, &st));

	/* A long reason is cut, not overflowed. */
	char longer[400];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	health_set_probed(s, false, longer);
	assert_true(health_status_of(s, &st));
	assert_false(st.up);
	assert_int_equal(strlen(st.reason), sizeof(st.reason) - 1);
	health_set_probed(s, true, NULL);
	assert_true(health_status_of(s, &st));
	assert_string_equal(st.reason, "");
}

static void test_reset(void **state)
{
	(void)state;
	int s = health_slot("x");
	health_set_admin(s, HEALTH_ADMIN_DRAIN);
	health_reset();
	assert_int_equal(health_slot_find("x"), -1);
	assert_true(health_up_mask() == 0);
	struct health_status st;
	assert_false(health_status_of(s, &st));
	/* A fresh slot after reset carries no old override. */
	s = health_slot("x");
	assert_true(health_status_of(s, &st));
	assert_int_equal(st.admin, HEALTH_ADMIN_NONE);
	assert_true(st.up);
	assert_true(health_up_mask() == UINT64_C(1) << s);
}

static void test_rtt(void **state)
{
	(void)state;
	int s = health_slot("us-east");
	assert_true(health_rtt_ms(s) < 0); /* unknown until measured */
	health_set_rtt_ms(s, 12.3456);
	assert_true(health_rtt_ms(s) > 12.345 && health_rtt_ms(s) < 12.347); /* kept in microseconds */
	struct health_status st;
	assert_true(health_status_of(s, &st));
	assert_true(st.rtt_ms > 12.345 && st.rtt_ms < 12.347);
	health_set_rtt_ms(s, 1e12); /* clamped, still known */
	assert_true(health_rtt_ms(s) > 4e6);
	health_set_rtt_ms(s, -1);
	assert_true(health_rtt_ms(s) < 0);
	assert_true(health_rtt_ms(-1) < 0);
	assert_true(health_rtt_ms(HEALTH_MAX_SLOTS) < 0);
	health_set_rtt_ms(HEALTH_MAX_SLOTS, 5); /* ignored, no crash */
	health_set_rtt_ms(s, 7);
	health_reset();
	assert_true(health_rtt_ms(s) < 0);
}

static void test_probe_details(void **state)
{
	(void)state;
	int s = health_slot("us-east");
	struct health_probe out[4];
	assert_int_equal(health_probes_of(s, out, 4), 0);
	struct health_probe in[3] = {
	    {.address = "192.0.2.10", .check = "web", .up = true, .ok_count = 5},
	    {.address = "192.0.2.11", .check = "web", .fail_count = 3, .has_result = true},
	    {.address = "2001:db8::1", .check = "db", .up = true},
	};
	health_set_probes(s, in, 3);
	memset(in, 0, sizeof(in)); /* copied */
	assert_int_equal(health_probes_of(s, out, 4), 3);
	assert_string_equal(out[0].address, "192.0.2.10");
	assert_int_equal(out[0].ok_count, 5);
	assert_int_equal(out[1].fail_count, 3);
	assert_string_equal(out[2].check, "db");
	/* A short buffer gets the first entries and the full count. */
	memset(out, 0, sizeof(out));
	assert_int_equal(health_probes_of(s, out, 1), 3);
	assert_string_equal(out[0].address, "192.0.2.10");
	assert_string_equal(out[1].address, "");
	assert_int_equal(health_probes_of(s, NULL, 0), 3);
	/* Unknown slots have none and take none. */
	health_set_probes(HEALTH_MAX_SLOTS - 1, in, 1);
	assert_int_equal(health_probes_of(HEALTH_MAX_SLOTS - 1, out, 4), 0);
	assert_int_equal(health_probes_of(-1, out, 4), 0);
	health_set_probes(s, NULL, 0);
	assert_int_equal(health_probes_of(s, out, 4), 0);
	health_set_probes(s, in, 2);
	health_reset(); /* frees them */
	s = health_slot("us-east");
	assert_int_equal(health_probes_of(s, out, 4), 0);
}

/* Slots no longer named go back to the pool, unless an operator override
 * is set on them; a freed slot can be given to a new name. */
static void test_release_unused(void **state)
{
	(void)state;
	int a = health_slot("a"), b = health_slot("b"), c = health_slot("c");
	health_set_admin(c, HEALTH_ADMIN_DRAIN);
	health_set_probed(b, false, "down");
	health_set_address_mask(b, 0, 1);
	/* it says which slots it freed: only b (a is kept, c drained) */
	assert_true(health_release_unused(UINT64_C(1) << a) == UINT64_C(1) << b);
	assert_true(health_release_unused(UINT64_C(1) << a) == 0); /* nothing left to free */
	assert_int_equal(health_slot_find("a"), a);
	assert_int_equal(health_slot_find("b"), -1);
	assert_int_equal(health_slot_find("c"), c); /* drained: kept */
	assert_false(health_up_mask() >> b & 1);
	struct health_status st;
	assert_false(health_status_of(b, &st));
	/* the freed slot is reused, fresh: up, every address up */
	int d = health_slot("d");
	assert_int_equal(d, b);
	assert_true(health_up_mask() >> d & 1);
	assert_true(health_address_mask(d, 0) == UINT64_MAX && health_address_mask(d, 1) == UINT64_MAX);
	/* filling the table, releasing, filling again never runs out */
	for (int round = 0; round < 3; round++) {
		char name[32];
		for (int i = 0; i < 40; i++) {
			snprintf(name, sizeof name, "r%d-%d", round, i);
			assert_true(health_slot(name) >= 0);
		}
		health_release_unused(UINT64_C(1) << a);
	}
	assert_int_equal(health_slot_find("a"), a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_slots_stable, reset),
	    cmocka_unit_test_setup(test_slots_full, reset),
	    cmocka_unit_test_setup(test_mask_bits, reset),
	    cmocka_unit_test_setup(test_admin_precedence, reset),
	    cmocka_unit_test_setup(test_family_masks, reset),
	    cmocka_unit_test_setup(test_address_bits, reset),
	    cmocka_unit_test_setup(test_since_and_status, reset),
	    cmocka_unit_test_setup(test_reset, reset),
	    cmocka_unit_test_setup(test_rtt, reset),
	    cmocka_unit_test_setup(test_probe_details, reset),
	    cmocka_unit_test_setup(test_release_unused, reset),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	health_reset();
	return rc;
}
