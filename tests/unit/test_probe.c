/*
 * Tests for probe: the rise/fall state machine, judging HTTP and DNS
 * replies, and the whole path from a (synthetic) result to the health
 * table: per-address masks, datacenter state, max_rtt, initial state, the
 * RTT average, and reloads that keep, restart or stop pairs.  The last
 * tests run real tcp probes against a loopback listener on a libuv loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sys/resource.h>

#include <cmocka.h>
#include <uv.h>

#include "config.h"
#include "health.h"
#include "probe.h"

static char tmp_dir[64];
static char tmp_file[128];
static uv_loop_t loop;

static void load(const char *text, struct config *cfg)
{
	FILE *f = fopen(tmp_file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	char err[1024] = "";
	if (config_load(tmp_file, cfg, err, sizeof(err)) < 0)
		fail_msg("config: %s", err);
}

/* Loads text and applies it to the probes, as a reload does before the
 * snapshot swap. */
static void apply_before_swap(const char *text)
{
	struct config cfg;
	load(text, &cfg);
	char err[256] = "";
	assert_int_equal(probe_apply(&loop, &cfg, err, sizeof(err)), 0);
	config_free(&cfg);
}

/* The whole reload: apply, then settle once the new snapshot is served. */
static void apply(const char *text)
{
	apply_before_swap(text);
	probe_settle();
}

/* The slot the snapshot build would have given the datacenter. */
static bool dc_up(const char *name)
{
	int slot = health_slot(name);
	assert_true(slot >= 0);
	return health_up_mask() >> slot & 1;
}

static uint64_t dc_addresses(const char *name)
{
	return health_address_mask(health_slot(name), 0);
}

/* The detail of one (address, check) of a datacenter. */
static struct health_probe detail(const char *dc, const char *address, const char *check)
{
	struct health_probe all[16];
	size_t n = health_probes_of(health_slot_find(dc), all, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		if (!strcmp(all[i].address, address) && !strcmp(all[i].check, check))
			return all[i];
	fail_msg("no probe %s %s %s", dc, address, check);
	return all[0];
}

static void feed(const char *dc, const char *address, const char *check, bool ok, unsigned rtt, int times)
{
	for (int i = 0; i < times; i++)
		assert_int_equal(probe_inject(dc, address, check, ok, rtt,
		                              ok ? "status 200" : "connect: connection refused"),
		                 0);
}

static int setup_each(void **state)
{
	(void)state;
	health_reset();
	assert_int_equal(uv_loop_init(&loop), 0);
	return 0;
}

static int teardown_each(void **state)
{
	(void)state;
	probe_stop();
	uv_run(&loop, UV_RUN_DEFAULT); /* completes the closes */
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

/* ---- the state machine ---- */

static void test_rise_fall(void **state)
{
	(void)state;
	struct probe_state s = {.up = true};
	/* fall 3: two failures are not enough, a pass in between resets. */
	assert_false(probe_state_feed(&s, 2, 3, false));
	assert_false(probe_state_feed(&s, 2, 3, false));
	assert_int_equal(s.fail_count, 2);
	assert_false(probe_state_feed(&s, 2, 3, true));
	assert_int_equal(s.fail_count, 0);
	assert_int_equal(s.ok_count, 1);
	assert_false(probe_state_feed(&s, 2, 3, false));
	assert_false(probe_state_feed(&s, 2, 3, false));
	assert_true(s.up);
	assert_true(probe_state_feed(&s, 2, 3, false)); /* third in a row */
	assert_false(s.up);
	assert_false(probe_state_feed(&s, 2, 3, false)); /* already down */
	assert_int_equal(s.fail_count, 4);
	/* rise 2 */
	assert_false(probe_state_feed(&s, 2, 3, true));
	assert_false(s.up);
	assert_true(probe_state_feed(&s, 2, 3, true));
	assert_true(s.up);

	/* A target failing every other probe never goes down with fall 2. */
	struct probe_state f = {.up = true};
	for (int i = 0; i < 100; i++)
		assert_false(probe_state_feed(&f, 2, 2, i % 2 == 0));
	assert_true(f.up);

	/* rise 1 / fall 1 follow every result. */
	struct probe_state one = {.up = false};
	assert_true(probe_state_feed(&one, 1, 1, true));
	assert_true(probe_state_feed(&one, 1, 1, false));
}

/* ---- judging replies ---- */

/* probe_http_judge on text (len 0: strlen) must give ok and reason. */
static void expect_judged(const struct config_check *c, const char *text, size_t len, bool ok, const char *reason)
{
	char why[128];
	assert_int_equal(probe_http_judge(c, text, len ? len : strlen(text), why, sizeof(why)), ok);
	assert_string_equal(why, reason);
}

static void test_http_judge(void **state)
{
	(void)state;
	unsigned statuses[] = {200, 204};
	struct config_check c = {.expect_status = statuses, .expect_status_count = 2};
	char why[128];
	const char *ok = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
	assert_true(probe_http_judge(&c, ok, strlen(ok), why, sizeof(why)));
	assert_string_equal(why, "status 204");
	const char *bad = "HTTP/1.0 503 Service Unavailable\r\n\r\nok";
	assert_false(probe_http_judge(&c, bad, strlen(bad), why, sizeof(why)));
	assert_string_equal(why, "status 503, want 200, 204");
	assert_false(probe_http_judge(&c, "HTTP/1.1 20", 11, why, sizeof(why)));
	assert_string_equal(why, "bad status line");
	assert_false(probe_http_judge(&c, "SSH-2.0-OpenSSH_9.2\r\n", 21, why, sizeof(why)));
	assert_string_equal(why, "bad status line");
	assert_false(probe_http_judge(&c, "HTTP/1.1 2000 x\r\n", 17, why, sizeof(why)));
	assert_false(probe_http_judge(&c, "", 0, why, sizeof(why)));

	/* expect_body is looked for in the body, not in the headers. */
	c.expect_body = "ok";
	const char *body = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus ok";
	assert_true(probe_http_judge(&c, body, strlen(body), why, sizeof(why)));
	const char *head_only = "HTTP/1.1 200 ok\r\nX-State: ok\r\n\r\nstatus: degraded";
	assert_false(probe_http_judge(&c, head_only, strlen(head_only), why, sizeof(why)));
	assert_string_equal(why, "status 200, body lacks 'ok'");
	/* Bytes after the judged length do not count. */
	assert_false(probe_http_judge(&c, body, strlen(body) - 1, why, sizeof(why)));
	assert_string_equal(why, "status 200, truncated response (body 8 of 9 bytes)");
	c.expect_body = NULL;

	/* A server that dies mid-response is not healthy: the header section
	 * cut short, or a body shorter than its Content-Length. */
	const char *cut[] = {"HTTP/1.1 200 OK\r\nContent-Le", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200"};
	for (size_t i = 0; i < 3; i++)
		expect_judged(&c, cut[i], strlen(cut[i]), false, "status 200, truncated response (headers)");
	expect_judged(&c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok", 0, false,
	              "status 200, truncated response (body 2 of 100 bytes)");
	/* Without a length, the close ends the body (HTTP/1.0 style). */
	expect_judged(&c, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nsome body", 0, true, "status 200");
	/* At the 4 KiB read limit what came is judged, headers unfinished. */
	char big[4096];
	memset(big, 'x', sizeof(big));
	memcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ", 25);
	expect_judged(&c, big, sizeof(big), true, "status 200");

	/* Interim responses (RFC 9110 15.2) are skipped; the final one counts. */
	c.expect_body = "ok";
	expect_judged(&c,
	              "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
	              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	              0, true, "status 200");
	expect_judged(&c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", 0, false,
	              "status 503, want 200, 204");
	expect_judged(&c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>", 0, false, "truncated response (interim 103)");

	/* Bare LF line ends (RFC 9112 2.2 lets a recipient accept them). */
	expect_judged(&c, "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0, true, "status 200");
	expect_judged(&c, "HTTP/1.1 200 OK\nContent-Length: 9\n\nok", 0, false,
	              "status 200, truncated response (body 2 of 9 bytes)");
	expect_judged(&c, "HTTP/1.1 103 Hints\n\nHTTP/1.1 200 OK\n\nall ok", 0, true, "status 200");
	/* A 1xx the check lists is the answer, not an interim one. */
	unsigned early[] = {103};
	struct config_check e = {.expect_status = early, .expect_status_count = 1};
	expect_judged(&e, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", 0, true, "status 103");
}

static void test_dns_judge(void **state)
{
	(void)state;
	struct config_check c = {.query_name = "health.shop.example.", .query_type = 1, .expect_rcode = 0};
	uint8_t q[512];
	size_t len = probe_dns_query(&c, 0x1234, q, sizeof(q));
	assert_int_equal(len, 12 + 21 + 4);
	assert_int_equal(q[0], 0x12);
	assert_int_equal(q[1], 0x34);
	assert_int_equal(q[2], 0); /* a query, RD clear */
	assert_int_equal(q[5], 1);
	assert_memory_equal(q + 12,
	                    "\x06health\x04shop\x07"
	                    "example\x00\x00\x01\x00\x01",
	                    25);
	assert_int_equal(probe_dns_query(&c, 1, q, 20), 0); /* does not fit */

	char why[128];
	uint8_t r[512];
	memcpy(r, q, len);
	r[2] = 0x84; /* QR AA */
	r[3] = 0x00;
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), 1);
	assert_string_equal(why, "rcode NOERROR");
	r[3] = 0x03;
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), 0);
	assert_string_equal(why, "rcode NXDOMAIN, want NOERROR");
	c.expect_rcode = 3;
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), 1);
	/* Not ours: another id, a query, another question, too short. */
	assert_int_equal(probe_dns_judge(&c, 0x1235, r, len, why, sizeof(why)), -1);
	r[2] = 0x04;
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), -1);
	r[2] = 0x84;
	r[13] = 'H'; /* case does not matter */
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), 1);
	r[13] = 'x';
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), -1);
	r[13] = 'h';
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, 11, why, sizeof(why)), -1);

	/* A reply of another opcode (UPDATE) is a failure, not a pass. */
	c.expect_rcode = 0;
	r[3] = 0x00;
	r[2] = 0x84 | 5 << 3;
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, len, why, sizeof(why)), 0);
	assert_string_equal(why, "reply opcode 5, want QUERY");
	/* An error reply without the question (RFC 1035 allows it) is judged
	 * at once by its rcode instead of waiting for the timeout. */
	r[2] = 0x84;
	r[3] = 0x05;
	r[5] = 0;
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, 12, why, sizeof(why)), 0);
	assert_string_equal(why, "rcode REFUSED, want NOERROR");
	r[3] = 0x00; /* NOERROR without the question: not an answer to it */
	assert_int_equal(probe_dns_judge(&c, 0x1234, r, 12, why, sizeof(why)), 0);
	assert_string_equal(why, "reply without the question");
}

/* ---- results into the health table ---- */

static const char *two_checks =
    "checks:\n"
    "  web: {type: http, port: 8080, rise: 2, fall: 3, max_rtt: 500ms}\n"
    "  db:  {type: tcp, port: 5432, rise: 1, fall: 1}\n"
    "datacenters:\n"
    "  us-east: {a: [192.0.2.10, 192.0.2.11], aaaa: [\"2001:db8::10\"], check: [web, db]}\n"
    "  eu-central: {a: [198.51.100.10]}\n";

static void test_address_and_datacenter_state(void **state)
{
	(void)state;
	apply(two_checks);
	assert_int_equal(probe_count(), 6); /* 3 addresses x 2 checks */
	assert_true(dc_up("us-east"));
	assert_true(dc_up("eu-central"));
	assert_true(dc_addresses("us-east") == UINT64_MAX);
	assert_int_equal(probe_inject("eu-central", "198.51.100.10", "web", false, 0, "x"),
	                 -1); /* not probed */
	assert_int_equal(probe_inject("us-east", "192.0.2.10", "dns", false, 0, "x"), -1);

	/* Two failures of web on the first address: below fall. */
	feed("us-east", "192.0.2.10", "web", false, 0, 2);
	assert_true(dc_addresses("us-east") == UINT64_MAX);
	struct health_probe d = detail("us-east", "192.0.2.10", "web");
	assert_true(d.up);
	assert_true(d.has_result);
	assert_false(d.last_ok);
	assert_int_equal(d.fail_count, 2);
	assert_string_equal(d.reason, "connect: connection refused");

	/* The third: that address leaves the answer set, the others stay. */
	feed("us-east", "192.0.2.10", "web", false, 0, 1);
	assert_false(detail("us-east", "192.0.2.10", "web").up);
	assert_true(dc_addresses("us-east") == ~UINT64_C(1));
	assert_true(dc_up("us-east"));

	/* db (fall 1) on the AAAA address: bit 2 (a addresses first). */
	int us = health_slot("us-east");
	assert_true(health_up_mask_family(6) >> us & 1);
	feed("us-east", "2001:db8::10", "db", false, 0, 1);
	assert_true(dc_addresses("us-east") == ~UINT64_C(5));
	assert_true(dc_up("us-east"));
	/* Its only IPv6 address is dead: AAAA answers fail over, A ones not. */
	assert_false(health_up_mask_family(6) >> us & 1);
	assert_true(health_up_mask_family(4) >> us & 1);

	/* The last address down: the datacenter is down, with a reason. */
	feed("us-east", "192.0.2.11", "db", false, 0, 1);
	assert_false(dc_up("us-east"));
	assert_true(dc_up("eu-central"));
	struct health_status st;
	assert_true(health_status_of(health_slot_find("us-east"), &st));
	assert_false(st.probed_up);
	assert_non_null(strstr(st.reason, "0 of 3 addresses up"));

	/* .10 comes back once web has risen (2 passes; its db is up). */
	feed("us-east", "192.0.2.10", "web", true, 20, 1);
	assert_false(dc_up("us-east"));
	feed("us-east", "192.0.2.10", "web", true, 20, 1);
	assert_true(dc_up("us-east"));
	assert_true(dc_addresses("us-east") == ~UINT64_C(6));
	assert_true(health_status_of(health_slot_find("us-east"), &st));
	assert_string_equal(st.reason, "1 of 3 addresses up");

	/* Details come in address order, then check order. */
	struct health_probe all[8];
	assert_int_equal(health_probes_of(health_slot_find("us-east"), all, 8), 6);
	assert_string_equal(all[0].address, "192.0.2.10");
	assert_string_equal(all[0].check, "web");
	assert_string_equal(all[1].check, "db");
	assert_string_equal(all[4].address, "2001:db8::10");
	assert_int_equal(all[0].ok_count, 2);
	assert_int_equal(all[0].rtt_ms, 20);
	assert_false(all[3].up); /* .11 db */
	assert_true(all[3].has_result);

	/* Drains still win over probes. */
	health_set_admin(health_slot_find("us-east"), HEALTH_ADMIN_DRAIN);
	assert_false(dc_up("us-east"));
	feed("us-east", "192.0.2.11", "db", true, 1, 1);
	assert_false(dc_up("us-east"));
	health_set_admin(health_slot_find("us-east"), HEALTH_ADMIN_NONE);
	assert_true(dc_up("us-east"));
}

static void test_max_rtt(void **state)
{
	(void)state;
	apply(two_checks);
	/* web has max_rtt 500ms: a slow pass is a failure with its reason. */
	feed("us-east", "192.0.2.10", "web", true, 612, 1);
	struct health_probe d = detail("us-east", "192.0.2.10", "web");
	assert_false(d.last_ok);
	assert_int_equal(d.fail_count, 1);
	assert_int_equal(d.rtt_ms, 612);
	assert_string_equal(d.reason, "rtt 612 ms > max_rtt 500 ms");
	feed("us-east", "192.0.2.10", "web", true, 612, 2);
	assert_false(detail("us-east", "192.0.2.10", "web").up);
	/* Exactly max_rtt is still fine. */
	feed("us-east", "192.0.2.10", "web", true, 500, 2);
	assert_true(detail("us-east", "192.0.2.10", "web").up);
	/* db has no max_rtt: any RTT within the timeout passes. */
	feed("us-east", "192.0.2.10", "db", true, 5000, 1);
	assert_true(detail("us-east", "192.0.2.10", "db").last_ok);
}

static void test_rtt_average(void **state)
{
	(void)state;
	apply(two_checks);
	int slot = health_slot_find("us-east");
	assert_true(health_rtt_ms(slot) < 0); /* nothing measured yet */
	feed("us-east", "192.0.2.10", "db", true, 100, 1);
	assert_true(health_rtt_ms(slot) > 99.9 && health_rtt_ms(slot) < 100.1);
	feed("us-east", "192.0.2.11", "db", true, 200, 1);
	assert_true(health_rtt_ms(slot) > 129.9 && health_rtt_ms(slot) < 130.1); /* 0.7 * 100 + 0.3 * 200 */
	feed("us-east", "192.0.2.11", "db", false, 9000, 1);                     /* failures do not count */
	assert_true(health_rtt_ms(slot) > 129.9 && health_rtt_ms(slot) < 130.1);
	struct health_status st;
	assert_true(health_status_of(slot, &st));
	assert_true(st.rtt_ms > 129.9 && st.rtt_ms < 130.1);
	assert_true(health_rtt_ms(health_slot_find("eu-central")) < 0);
}

static void test_initial_down(void **state)
{
	(void)state;
	apply("checks:\n  web: {type: http, initial: down, rise: 2}\n"
	      "datacenters:\n  ap: {a: [203.0.113.10], check: web}\n");
	assert_false(dc_up("ap"));
	struct health_probe d = detail("ap", "203.0.113.10", "web");
	assert_false(d.up);
	assert_false(d.has_result);
	assert_string_equal(d.reason, "initial state down");
	feed("ap", "203.0.113.10", "web", true, 3, 1);
	assert_false(dc_up("ap"));
	feed("ap", "203.0.113.10", "web", true, 3, 1);
	assert_true(dc_up("ap"));
}

static void test_reload_keeps_restarts_stops(void **state)
{
	(void)state;
	apply(two_checks);
	feed("us-east", "192.0.2.10", "web", false, 0, 3);
	feed("us-east", "192.0.2.11", "db", false, 0, 1);
	assert_true(dc_addresses("us-east") == ~UINT64_C(3));

	/* The same config again: nothing restarts, state and counts stay. */
	apply(two_checks);
	assert_int_equal(probe_count(), 6);
	assert_int_equal(detail("us-east", "192.0.2.10", "web").fail_count, 3);
	assert_true(dc_addresses("us-east") == ~UINT64_C(3));

	/* web changes (a new path): its pairs restart, but keep what they knew
	 * (a reload must not bring a dead address back at the initial state);
	 * db is unchanged and keeps its state.  An address is added. */
	apply("checks:\n"
	      "  web: {type: http, port: 8080, path: /healthz, rise: 2, fall: 3, max_rtt: 500ms}\n"
	      "  db:  {type: tcp, port: 5432, rise: 1, fall: 1}\n"
	      "datacenters:\n"
	      "  us-east: {a: [192.0.2.10, 192.0.2.11, 192.0.2.12], aaaa: [\"2001:db8::10\"], check: [web, "
	      "db]}\n"
	      "  eu-central: {a: [198.51.100.10]}\n");
	assert_int_equal(probe_count(), 8);
	struct health_probe d = detail("us-east", "192.0.2.10", "web");
	assert_false(d.up);
	assert_int_equal(d.fail_count, 3);
	assert_true(d.has_result);
	assert_string_equal(d.reason, "connect: connection refused");
	d = detail("us-east", "192.0.2.12", "web"); /* new: the initial state */
	assert_true(d.up);
	assert_false(d.has_result);
	d = detail("us-east", "192.0.2.11", "db");
	assert_false(d.up);
	assert_int_equal(d.fail_count, 1);
	/* Bits stay with their addresses whatever the list's order (a snapshot
	 * built before the reload reads the same bit for the same address):
	 * .10 bit 0, .11 bit 1, the AAAA keeps bit 2 and .12, new, takes bit 3. */
	assert_true(dc_addresses("us-east") == ~UINT64_C(3));
	feed("us-east", "2001:db8::10", "db", false, 0, 1);
	assert_true(dc_addresses("us-east") == ~UINT64_C(7));
	feed("us-east", "192.0.2.12", "db", false, 0, 1);
	assert_true(dc_addresses("us-east") == ~UINT64_C(15));
	feed("us-east", "192.0.2.12", "db", true, 1, 1);
	/* Two passes (rise 2) bring .10's web back. */
	feed("us-east", "192.0.2.10", "web", true, 5, 2);
	assert_true(dc_addresses("us-east") == ~UINT64_C(6));

	/* initial: down on a changed check does not take a live address down. */
	apply("checks:\n"
	      "  web: {type: http, port: 8080, path: /healthz, rise: 2, fall: 3, max_rtt: 500ms, initial: down}\n"
	      "  db:  {type: tcp, port: 5432, rise: 1, fall: 1}\n"
	      "datacenters:\n"
	      "  us-east: {a: [192.0.2.10, 192.0.2.11, 192.0.2.12], aaaa: [\"2001:db8::10\"], check: [web, "
	      "db]}\n"
	      "  eu-central: {a: [198.51.100.10]}\n");
	assert_true(detail("us-east", "192.0.2.10", "web").up);
	assert_true(dc_addresses("us-east") == ~UINT64_C(6));

	/* Checks moved to eu-central: us-east is not probed any more and comes
	 * back up with every address; eu-central starts being probed. */
	feed("us-east", "192.0.2.10", "db", false, 0, 1);
	feed("us-east", "192.0.2.12", "db", false, 0, 1);
	assert_false(dc_up("us-east"));
	apply_before_swap("checks:\n  db:  {type: tcp, port: 5432, rise: 1, fall: 1}\n"
	                  "datacenters:\n"
	                  "  us-east: {a: [192.0.2.10]}\n"
	                  "  eu-central: {a: [198.51.100.10], check: db}\n");
	assert_int_equal(probe_count(), 1);
	/* Until the swap the old snapshot may still steer to us-east: it stays
	 * down rather than come back up dead. */
	assert_false(dc_up("us-east"));
	probe_settle();
	assert_true(dc_up("us-east"));
	assert_true(dc_addresses("us-east") == UINT64_MAX);
	assert_int_equal(health_probes_of(health_slot_find("us-east"), NULL, 0), 0);
	feed("eu-central", "198.51.100.10", "db", false, 0, 1);
	assert_false(dc_up("eu-central"));

	/* No checks at all. */
	apply("datacenters:\n  eu-central: {a: [198.51.100.10]}\n");
	assert_int_equal(probe_count(), 0);
	assert_true(dc_up("eu-central"));
}

/* A reload replacing all 64 addresses of a probed datacenter: the new
 * ones get bits while the old snapshot's keep theirs, and their results
 * count (with 64 bits the new ones got none and the verdict crashed). */
static void test_reload_replaces_all_addresses(void **state)
{
	(void)state;
	static char text[8192];
	for (int round = 0; round < 2; round++) {
		size_t used = (size_t)snprintf(text, sizeof text,
		                               "checks:\n  t: {type: tcp, port: 1, rise: 1, fall: 1}\n"
		                               "datacenters:\n  dc: {check: t, a: [");
		for (int i = 0; i < 64; i++)
			used += (size_t)snprintf(text + used, sizeof text - used, "%s192.0.%d.%d", i ? ", " : "", 2 + round,
			                         i + 1);
		snprintf(text + used, sizeof text - used, "]}\n");
		apply_before_swap(text); /* no release: the old bits stay taken */
	}
	char address[32];
	for (int i = 0; i < 64; i++) {
		snprintf(address, sizeof address, "192.0.3.%d", i + 1);
		feed("dc", address, "t", false, 0, 1);
	}
	assert_false(dc_up("dc"));
	struct health_status st;
	assert_true(health_status_of(health_slot_find("dc"), &st));
	assert_non_null(strstr(st.reason, "0 of 64 addresses up"));
	feed("dc", "192.0.3.64", "t", true, 1, 1);
	assert_true(dc_up("dc"));
}

/* ---- real probes on a loop ---- */

static void stop_loop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs the loop until the pair has a result (or 3 s passed). */
static struct health_probe run_until_result(const char *dc, const char *address, const char *check,
                                            unsigned want_ok, unsigned want_fail)
{
	uv_timer_t tick;
	uv_timer_init(&loop, &tick);
	struct health_probe d = {0};
	for (int i = 0; i < 300; i++) {
		uv_timer_start(&tick, stop_loop, 10, 0);
		uv_run(&loop, UV_RUN_DEFAULT);
		d = detail(dc, address, check);
		if (d.ok_count >= want_ok && d.fail_count >= want_fail && d.has_result)
			break;
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_NOWAIT); /* tick lives on this stack: finish closing it here */
	return d;
}

/* A TCP listener on 127.0.0.1 at a free port (never accepted from). */
static int listen_loopback(unsigned *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	socklen_t len = sizeof(sin);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(listen(fd, 16), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Applies one check, name { spec } (spec has a %u for the port), on a
 * datacenter lo at 127.0.0.1 where a fresh listener waits; returns it. */
static int probe_loopback(const char *name, const char *spec)
{
	unsigned port;
	int fd = listen_loopback(&port);
	char check[256], text[512];
	snprintf(check, sizeof(check), spec, port);
	snprintf(text, sizeof(text), "checks:\n  %s: {%s}\ndatacenters:\n  lo: {a: [127.0.0.1], check: %s}\n", name,
	         check, name);
	apply(text);
	return fd;
}

static void test_real_tcp_probe(void **state)
{
	(void)state;
	int fd = probe_loopback("t", "type: tcp, port: %u, interval: 100ms, timeout: 50ms, rise: 1, fall: 2");
	struct health_probe d = run_until_result("lo", "127.0.0.1", "t", 2, 0);
	assert_true(d.last_ok);
	assert_true(d.up);
	assert_string_equal(d.reason, "connected");
	assert_true(health_rtt_ms(health_slot_find("lo")) >= 0);

	/* The listener goes away: refused, and down after fall 2. */
	close(fd);
	d = run_until_result("lo", "127.0.0.1", "t", 0, 2);
	assert_false(d.last_ok);
	assert_false(d.up);
	assert_string_equal(d.reason, "connect: connection refused");
	assert_false(dc_up("lo"));
}

static void test_real_http_timeout(void **state)
{
	(void)state;
	/* A listener that never answers: the connect succeeds (backlog), the
	 * GET gets no reply, and the timeout ends it. */
	int fd = probe_loopback("h", "type: http, port: %u, interval: 200ms, timeout: 60ms, rise: 1, fall: 1");
	struct health_probe d = run_until_result("lo", "127.0.0.1", "h", 0, 1);
	assert_false(d.last_ok);
	assert_string_equal(d.reason, "timeout after 60 ms");
	assert_true(d.rtt_ms >= 55 && d.rtt_ms < 1000);
	close(fd);
}

/* Out of file descriptors here: the rounds are skipped, not failed (a
 * healthy target must not go down because this host ran short); once
 * descriptors are back the probe reports again. */
static void test_real_probe_fd_shortage(void **state)
{
	(void)state;
	int fd = probe_loopback("t", "type: tcp, port: %u, interval: 100ms, timeout: 50ms, rise: 1, fall: 1");

	/* No descriptor above the ones open now. */
	struct rlimit saved, tight;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	int spare = dup(0);
	assert_true(spare >= 0);
	close(spare);
	tight = saved;
	tight.rlim_cur = (rlim_t)spare;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
	uv_timer_t tick;
	uv_timer_init(&loop, &tick);
	for (int i = 0; i < 40; i++) { /* 0.4 s: about four rounds */
		uv_timer_start(&tick, stop_loop, 10, 0);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	struct health_probe d = detail("lo", "127.0.0.1", "t");
	assert_false(d.has_result);
	assert_int_equal(d.fail_count, 0);
	assert_true(d.up);
	assert_true(dc_up("lo"));

	d = run_until_result("lo", "127.0.0.1", "t", 1, 0);
	assert_true(d.last_ok);
	assert_string_equal(d.reason, "connected");
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/geosteer-test-probe-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(tmp_file, sizeof(tmp_file), "%s/geosteer.yaml", tmp_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(tmp_file);
	rmdir(tmp_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rise_fall),
	    cmocka_unit_test(test_http_judge),
	    cmocka_unit_test(test_dns_judge),
	    cmocka_unit_test_setup_teardown(test_address_and_datacenter_state, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_max_rtt, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_rtt_average, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_initial_down, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_reload_keeps_restarts_stops, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_reload_replaces_all_addresses, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_real_tcp_probe, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_real_http_timeout, setup_each, teardown_each),
	    cmocka_unit_test_setup_teardown(test_real_probe_fd_shortage, setup_each, teardown_each),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
