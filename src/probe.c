/*
 * probe — health checks on the main libuv loop.
 *
 * A pair is one (datacenter, address, check): it owns a copy of the check's
 * definition, its rise/fall state and one repeating timer.  At most one
 * attempt per pair is in flight; an attempt owns its socket, a timeout
 * timer and its buffers, and is freed when those handles have closed.  A
 * pair removed by a reload while its attempt runs just lets go of it: the
 * attempt finishes closing on its own and reports to no one.  All pairs sit
 * in one list, and each datacenter has an array of its own pairs (in
 * address, then check order), rebuilt when a reload changes the pairs.  A
 * result recomputes only its datacenter's verdict from that array (bit
 * operations over at most 64 addresses × its checks) and replaces only its
 * own entry of the details `health` shows: thousands of pairs at a short
 * interval must not turn each result into a walk over all of them, on the
 * loop that also serves TCP and the control socket.
 *
 * The timer is re-armed at the start of every round (interval ±10%), not
 * after the attempt ends, so the cadence does not drift with the RTT; a
 * round that finds the previous attempt still running (possible only when
 * timeout is close to the interval) is skipped.
 *
 * HTTPS runs OpenSSL over memory BIOs: ciphertext read by libuv is written
 * into the read BIO, SSL_do_handshake / SSL_write / SSL_read are pumped
 * until they want more input, and whatever the write BIO holds is sent
 * with uv_write.  No socket is ever handed to OpenSSL, so nothing blocks.
 * OpenSSL is compiled in when GEOSTEER_TLS is defined (the Makefile links
 * libssl then); without it an https check fails with a clear reason.
 *
 * Nothing here touches the query path: results reach it only through the
 * health table's atomic words.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef GEOSTEER_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

#include "config.h"
#include "dname.h"
#include "health.h"
#include "log.h"

#define PROBE_RESPONSE_MAX 4096 /* HTTP: status and body are judged on this much */
#define PROBE_TLS_READ 16384    /* one TLS record */
#define PROBE_DNS_MAX 512
#define PROBE_RTT_WEIGHT 0.3 /* of a new sample in the moving average */

struct probe_pair;

struct probe_attempt {
	struct probe_pair *pair; /* NULL once the pair let go of it */
	uint64_t started_ns;
	bool done;
	int open_handles;
	uv_timer_t timeout;
	union {
		uv_handle_t handle;
		uv_tcp_t tcp;
		uv_udp_t udp;
	} sock;
	uv_connect_t connect_req;
	uv_write_t write_req;
	uv_udp_send_t send_req;
	enum config_check_type type;
	char request[2048]; /* http: the GET; dns: the query */
	size_t request_len;
	uint16_t dns_id;
	char response[PROBE_RESPONSE_MAX + 1];
	size_t response_len;
#ifdef GEOSTEER_TLS
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool tls_ready, tls_sent;
	char *net; /* PROBE_TLS_READ bytes, for https only: most attempts need no 16 KiB to clear */
#endif
};

struct probe_pair {
	struct probe_pair *next;
	char *datacenter;
	int slot;
	char address[48];
	struct sockaddr_storage addr; /* with the check's port */
	unsigned addr_index;          /* position in the datacenter's addresses (a, then aaaa) */
	int addr_bit;                 /* its health_address_bit(); < 0: none, always up */
	unsigned check_index;         /* position in the datacenter's check list */
	struct config_check check;    /* own copy */
	struct probe_state state;
	time_t since;
	bool has_result, last_ok;
	char reason[128];
	unsigned rtt_ms;
	bool keep; /* probe_apply: still wanted */
	size_t detail_index; /* position in its datacenter's array and details */
	uv_timer_t timer;
	struct probe_attempt *attempt;
};

static uv_loop_t *probe_loop;
static struct probe_pair *probe_pairs;
static struct probe_slot {
	struct probe_pair **pairs; /* sorted by probe_pair_order */
	size_t count;
} probe_by_slot[HEALTH_MAX_SLOTS];
static uint64_t probe_unprobed;                /* slots that lost their pairs: probe_settle publishes them */
static double probe_rtt_avg[HEALTH_MAX_SLOTS]; /* ms; <0: none yet */
static uint64_t probe_rng;
#ifdef GEOSTEER_TLS
static SSL_CTX *probe_tls_ctx;
#endif

/* ---- small helpers ---- */

static uint64_t probe_random(void)
{
	if (!probe_rng)
		probe_rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ UINT64_C(0x9e3779b97f4a7c15);
	/* xorshift64*: spreading timers needs no more than this */
	probe_rng ^= probe_rng >> 12;
	probe_rng ^= probe_rng << 25;
	probe_rng ^= probe_rng >> 27;
	return probe_rng * UINT64_C(2685821657736338717);
}

/* interval ±10% */
static uint64_t probe_jitter(unsigned interval_ms)
{
	uint64_t spread = interval_ms / 5;
	uint64_t base = interval_ms - interval_ms / 10;
	return base + (spread ? probe_random() % (spread + 1) : 0);
}

static bool probe_str_equal(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool probe_check_equal(const struct config_check *a, const struct config_check *b)
{
	return probe_str_equal(a->name, b->name) && a->type == b->type && a->port == b->port &&
	       probe_str_equal(a->path, b->path) && probe_str_equal(a->host, b->host) &&
	       a->expect_status_count == b->expect_status_count &&
	       (!a->expect_status_count ||
	        !memcmp(a->expect_status, b->expect_status, a->expect_status_count * sizeof(unsigned))) &&
	       probe_str_equal(a->expect_body, b->expect_body) &&
	       probe_str_equal(a->query_name, b->query_name) && a->query_type == b->query_type &&
	       a->expect_rcode == b->expect_rcode && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->max_rtt_ms == b->max_rtt_ms && a->initial_up == b->initial_up &&
	       a->tls_verify == b->tls_verify;
}

static void probe_check_free(struct config_check *c)
{
	free(c->name);
	free(c->path);
	free(c->host);
	free(c->expect_status);
	free(c->expect_body);
	free(c->query_name);
	memset(c, 0, sizeof(*c));
}

static char *probe_strdup_null(const char *s, bool *failed)
{
	if (!s)
		return NULL;
	char *copy = strdup(s);
	if (!copy)
		*failed = true;
	return copy;
}

static int probe_check_copy(struct config_check *out, const struct config_check *in)
{
	bool failed = false;
	*out = *in;
	out->name = probe_strdup_null(in->name, &failed);
	out->path = probe_strdup_null(in->path, &failed);
	out->host = probe_strdup_null(in->host, &failed);
	out->expect_body = probe_strdup_null(in->expect_body, &failed);
	out->query_name = probe_strdup_null(in->query_name, &failed);
	out->expect_status = NULL;
	if (in->expect_status_count) {
		out->expect_status = malloc(in->expect_status_count * sizeof(unsigned));
		if (out->expect_status)
			memcpy(out->expect_status, in->expect_status,
			       in->expect_status_count * sizeof(unsigned));
		else
			failed = true;
	}
	if (failed) {
		probe_check_free(out);
		return -1;
	}
	return 0;
}

static const char *probe_word(bool up)
{
	return up ? "up" : "down";
}

/* ---- the state machine ---- */

bool probe_state_feed(struct probe_state *state, unsigned rise, unsigned fall, bool ok)
{
	if (ok) {
		state->fail_count = 0;
		if (state->ok_count < UINT32_MAX)
			state->ok_count++;
		if (!state->up && state->ok_count >= rise) {
			state->up = true;
			return true;
		}
	} else {
		state->ok_count = 0;
		if (state->fail_count < UINT32_MAX)
			state->fail_count++;
		if (state->up && state->fail_count >= fall) {
			state->up = false;
			return true;
		}
	}
	return false;
}

static int probe_pair_order(const void *a, const void *b)
{
	const struct probe_pair *x = *(struct probe_pair *const *)a, *y = *(struct probe_pair *const *)b;
	if (x->addr_index != y->addr_index)
		return x->addr_index < y->addr_index ? -1 : 1;
	return x->check_index < y->check_index ? -1 : x->check_index > y->check_index;
}

static void probe_detail(const struct probe_pair *p, struct health_probe *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->address, sizeof(d->address), "%s", p->address);
	snprintf(d->check, sizeof(d->check), "%s", p->check.name);
	snprintf(d->reason, sizeof(d->reason), "%s", p->reason);
	d->up = p->state.up;
	d->since = p->since;
	d->has_result = p->has_result;
	d->last_ok = p->last_ok;
	d->rtt_ms = p->rtt_ms;
	d->ok_count = p->state.ok_count;
	d->fail_count = p->state.fail_count;
}

/* Recomputes a datacenter's verdict from its pairs and publishes it. */
static void probe_publish_verdict(int slot)
{
	const struct probe_slot *ps = &probe_by_slot[slot];
	if (ps->count == 0) {
		/* Not probed (any more): as if no probe had ever spoken. */
		for (unsigned w = 0; w < HEALTH_ADDRESS_WORDS; w++)
			health_set_address_mask(slot, w, UINT64_MAX);
		health_set_rtt_ms(slot, -1);
		probe_rtt_avg[slot] = -1;
		health_set_family_dead(slot, false, false);
		health_set_probed(slot, true, "no checks");
		return;
	}
	/* An address is up when every check of it is.  The array is sorted by
	 * address, then check: each address's pairs are one run. */
	uint64_t down[HEALTH_ADDRESS_WORDS] = {0};
	bool has[2] = {false, false}, alive[2] = {false, false}; /* per family: IPv4, IPv6 */
	int total = 0, live = 0;
	const struct probe_pair *failing = NULL;
	for (size_t i = 0; i < ps->count;) {
		const struct probe_pair *first = ps->pairs[i];
		bool up = true;
		for (; i < ps->count && ps->pairs[i]->addr_index == first->addr_index; i++) {
			if (!ps->pairs[i]->state.up) {
				up = false;
				if (!failing)
					failing = ps->pairs[i];
			}
		}
		if (first->addr_bit < 0 || first->addr_bit >= HEALTH_ADDRESS_BITS)
			continue; /* no bit (cannot happen for ≤ 64 addresses): not counted */
		int family = first->addr.ss_family == AF_INET6;
		has[family] = true;
		alive[family] |= up;
		total++;
		live += up;
		if (!up)
			down[first->addr_bit / 64] |= UINT64_C(1) << (first->addr_bit % 64);
	}
	char reason[320];
	if (live || !failing)
		snprintf(reason, sizeof(reason), "%d of %d addresses up", live, total);
	else
		snprintf(reason, sizeof(reason), "%d of %d addresses up; %.47s %.64s: %.127s", live, total,
		         failing->address, failing->check.name, failing->reason);
	/* Queries read the datacenter's state, then its address mask, each
	 * with one atomic load.  Losing an address, the states go first and
	 * the mask last; gaining one, the reverse: so a query between two of
	 * these stores never sees the datacenter up with every address bit
	 * clear, which it would answer by failing open with the dead ones. */
	bool losing = false;
	for (unsigned w = 0; w < HEALTH_ADDRESS_WORDS; w++)
		losing |= (health_address_mask(slot, w) & down[w]) != 0;
	if (!losing)
		for (unsigned w = 0; w < HEALTH_ADDRESS_WORDS; w++)
			health_set_address_mask(slot, w, ~down[w]);
	health_set_family_dead(slot, has[0] && !alive[0], has[1] && !alive[1]);
	health_set_probed(slot, live || total == 0, reason);
	if (losing)
		for (unsigned w = 0; w < HEALTH_ADDRESS_WORDS; w++)
			health_set_address_mask(slot, w, ~down[w]);
}

/* Publishes a datacenter whole: verdict and every detail (after a reload). */
static void probe_publish(int slot)
{
	const struct probe_slot *ps = &probe_by_slot[slot];
	probe_publish_verdict(slot);
	if (ps->count == 0) {
		health_set_probes(slot, NULL, 0);
		return;
	}
	struct health_probe *details = malloc(ps->count * sizeof(*details));
	if (!details)
		return; /* the old details stay; they are only for display */
	for (size_t i = 0; i < ps->count; i++)
		probe_detail(ps->pairs[i], &details[i]);
	health_set_probes(slot, details, ps->count);
	free(details);
}

/* Rebuilds every datacenter's array of pairs after a reload changed them. */
static int probe_index_slots(void)
{
	int rc = 0;
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++) {
		free(probe_by_slot[slot].pairs);
		probe_by_slot[slot] = (struct probe_slot){0};
	}
	size_t counts[HEALTH_MAX_SLOTS] = {0};
	for (struct probe_pair *p = probe_pairs; p; p = p->next)
		if (p->slot >= 0 && p->slot < HEALTH_MAX_SLOTS)
			counts[p->slot]++;
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++) {
		if (!counts[slot])
			continue;
		probe_by_slot[slot].pairs = malloc(counts[slot] * sizeof(struct probe_pair *));
		if (!probe_by_slot[slot].pairs)
			rc = -1; /* that datacenter reads as not probed: failing open */
	}
	for (struct probe_pair *p = probe_pairs; p; p = p->next) {
		struct probe_slot *ps = p->slot >= 0 && p->slot < HEALTH_MAX_SLOTS ? &probe_by_slot[p->slot] : NULL;
		if (ps && ps->pairs)
			ps->pairs[ps->count++] = p;
	}
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++) {
		struct probe_slot *ps = &probe_by_slot[slot];
		if (ps->count)
			qsort(ps->pairs, ps->count, sizeof(*ps->pairs), probe_pair_order);
		for (size_t i = 0; i < ps->count; i++)
			ps->pairs[i]->detail_index = i;
	}
	return rc;
}

/* One finished probe of a pair, real or injected. */
static void probe_result(struct probe_pair *p, bool ok, double rtt_ms, const char *reason)
{
	char why[128];
	snprintf(why, sizeof(why), "%s", reason && *reason ? reason : ok ? "ok" : "failed");
	if (ok && p->check.max_rtt_ms && rtt_ms > p->check.max_rtt_ms) {
		ok = false;
		snprintf(why, sizeof(why), "rtt %.0f ms > max_rtt %u ms", rtt_ms, p->check.max_rtt_ms);
	}
	p->has_result = true;
	p->last_ok = ok;
	p->rtt_ms = rtt_ms < 0 ? 0 : (unsigned)(rtt_ms + 0.5);
	snprintf(p->reason, sizeof(p->reason), "%s", why);
	if (ok && p->slot >= 0 && p->slot < HEALTH_MAX_SLOTS) {
		double *avg = &probe_rtt_avg[p->slot];
		*avg = *avg < 0 ? rtt_ms : (1 - PROBE_RTT_WEIGHT) * *avg + PROBE_RTT_WEIGHT * rtt_ms;
		health_set_rtt_ms(p->slot, *avg);
	}
	bool was = p->state.up;
	if (probe_state_feed(&p->state, p->check.rise, p->check.fall, ok)) {
		p->since = time(NULL);
		log_info("health: %s %s %s %s -> %s (%s; %u ok / %u failed)", p->datacenter, p->address,
		         p->check.name, probe_word(was), probe_word(p->state.up), why, p->state.ok_count,
		         p->state.fail_count);
	}
	if (p->slot < 0 || p->slot >= HEALTH_MAX_SLOTS)
		return;
	probe_publish_verdict(p->slot);
	struct health_probe d;
	probe_detail(p, &d);
	health_set_probe(p->slot, p->detail_index, &d);
}

/* ---- judging replies ---- */

/* The status of the response starting at r, or 0 when its status line is
 * not HTTP/1.x's. */
static unsigned probe_http_status(const char *response, size_t len)
{
	const unsigned char *r = (const unsigned char *)response;
	if (len < 12 || memcmp(r, "HTTP/1.", 7) || !isdigit(r[7]) || r[8] != ' ' || !isdigit(r[9]) ||
	    !isdigit(r[10]) || !isdigit(r[11]) || (len > 12 && r[12] != ' ' && r[12] != '\r' && r[12] != '\n'))
		return 0;
	return (unsigned)((r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0'));
}

/* The end of the header section of the response at p: where its empty
 * line starts, with *body just past it; NULL when it has not come.  Lines
 * may end in CRLF or a bare LF (RFC 9112 2.2 lets a recipient accept it). */
static const char *probe_http_head_end(const char *p, size_t len, const char **body)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n') {
			*body = p + i + 2;
			return p + i + 1;
		}
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n') {
			*body = p + i + 3;
			return p + i + 1;
		}
	}
	return NULL;
}

static bool probe_http_listed(const struct config_check *check, unsigned status)
{
	for (size_t i = 0; check && i < check->expect_status_count; i++)
		if (check->expect_status[i] == status)
			return true;
	return false;
}

/* Where the final response starts: interim 1xx responses (103 Early
 * Hints, 100 Continue) come first and are skipped (RFC 9110 15.2), unless
 * the check lists that status; 101 ends the exchange and counts as final.
 * -1 while an interim one is not complete yet. */
static ssize_t probe_http_final(const struct config_check *check, const char *response, size_t len)
{
	size_t at = 0;
	for (;;) {
		unsigned status = probe_http_status(response + at, len - at);
		if (status < 100 || status > 199 || status == 101 || probe_http_listed(check, status))
			return (ssize_t)at;
		const char *body;
		if (!probe_http_head_end(response + at, len - at, &body))
			return -1;
		at = (size_t)(body - response);
	}
}

/* The value of the Content-Length header in the head [line, end), or -1. */
static long probe_http_content_length(const char *line, const char *end)
{
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > 15 && !strncasecmp(line, "content-length:", 15)) {
			char *stop;
			long body = strtol(line + 15, &stop, 10);
			return body >= 0 ? body : -1;
		}
		line = eol + 1;
	}
	return -1;
}

bool probe_http_judge(const struct config_check *check, const char *response, size_t len, char *reason,
                      size_t reasonlen)
{
	/* All of it came when it is shorter than what we read at most: then
	 * the header section must be whole and the body as long as announced
	 * (a server dying mid-response is not healthy).  At the limit, what
	 * came is judged. */
	bool whole = len < PROBE_RESPONSE_MAX;
	ssize_t final = probe_http_final(check, response, len);
	if (final < 0) {
		snprintf(reason, reasonlen, "truncated response (interim %u)", probe_http_status(response, len));
		return false;
	}
	response += final;
	len -= (size_t)final;
	unsigned status = probe_http_status(response, len);
	if (status == 0) {
		snprintf(reason, reasonlen, "bad status line");
		return false;
	}
	if (!probe_http_listed(check, status)) {
		char want[64] = "";
		size_t used = 0;
		for (size_t i = 0; i < check->expect_status_count && used < sizeof(want) - 8; i++)
			used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%u", i ? ", " : "",
			                         check->expect_status[i]);
		snprintf(reason, reasonlen, "status %u, want %s", status, want);
		return false;
	}
	const char *body = response + len;
	const char *end = probe_http_head_end(response, len, &body);
	if (whole && !end) {
		snprintf(reason, reasonlen, "status %u, truncated response (headers)", status);
		return false;
	}
	long announced = end ? probe_http_content_length(response, end) : -1;
	size_t received = (size_t)(response + len - body);
	if (whole && announced >= 0 && received < (size_t)announced) {
		snprintf(reason, reasonlen, "status %u, truncated response (body %zu of %ld bytes)", status, received,
		         announced);
		return false;
	}
	if (check->expect_body) {
		if (!memmem(body, received, check->expect_body, strlen(check->expect_body))) {
			snprintf(reason, reasonlen, "status %u, body lacks '%.64s'", status,
			         check->expect_body);
			return false;
		}
	}
	snprintf(reason, reasonlen, "status %u", status);
	return true;
}

size_t probe_dns_query(const struct config_check *check, uint16_t id, uint8_t *buf, size_t buflen)
{
	uint8_t name[DNAME_MAXLEN];
	int nlen = check->query_name ? dname_from_text(check->query_name, name) : -1;
	if (nlen < 0 || buflen < 12 + (size_t)nlen + 4)
		return 0;
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[5] = 1; /* QDCOUNT; RD clear: an authoritative server is asked */
	memcpy(buf + 12, name, (size_t)nlen);
	uint8_t *q = buf + 12 + nlen;
	q[0] = (uint8_t)(check->query_type >> 8);
	q[1] = (uint8_t)check->query_type;
	q[2] = 0;
	q[3] = 1; /* IN */
	return 12 + (size_t)nlen + 4;
}

static const char *probe_rcode_name(unsigned rcode)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};
	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "rcode?";
}

int probe_dns_judge(const struct config_check *check, uint16_t id, const uint8_t *reply, size_t len,
                    char *reason, size_t reasonlen)
{
	uint8_t query[PROBE_DNS_MAX];
	size_t qlen = probe_dns_query(check, id, query, sizeof(query));
	if (qlen == 0 || len < 12 || reply[0] != query[0] || reply[1] != query[1] || !(reply[2] & 0x80))
		return -1; /* not a response to our query */
	unsigned opcode = reply[2] >> 3 & 0x0f;
	unsigned rcode = reply[3] & 0x0f;
	if (opcode != 0) {
		snprintf(reason, reasonlen, "reply opcode %u, want QUERY", opcode);
		return 0;
	}
	if (reply[4] == 0 && reply[5] == 0) {
		/* Errors may come without the question (RFC 1035 4.1.1 does not
		 * require it): judged now rather than at the timeout. */
		if (rcode == 0) {
			snprintf(reason, reasonlen, "reply without the question");
			return 0;
		}
	} else {
		/* The question must come back as asked (names compared without case). */
		if (len < qlen || reply[4] != 0 || reply[5] != 1)
			return -1;
		for (size_t i = 12; i < qlen; i++)
			if (tolower(reply[i]) != tolower(query[i]))
				return -1;
	}
	if (rcode != check->expect_rcode) {
		snprintf(reason, reasonlen, "rcode %s, want %s", probe_rcode_name(rcode),
		         probe_rcode_name(check->expect_rcode));
		return 0;
	}
	snprintf(reason, reasonlen, "rcode %s", probe_rcode_name(rcode));
	return 1;
}

/* ---- attempts ---- */

static void probe_attempt_closed(uv_handle_t *h)
{
	struct probe_attempt *a = h->data;
	if (--a->open_handles > 0)
		return;
#ifdef GEOSTEER_TLS
	SSL_free(a->ssl); /* frees the BIOs too */
	free(a->net);
#endif
	free(a);
}

/* Ends an attempt once: closes its handles and lets go of its pair.
 * Returns the pair (NULL when it had let go first). */
static struct probe_pair *probe_attempt_end(struct probe_attempt *a)
{
	if (a->done)
		return NULL;
	a->done = true;
	uv_timer_stop(&a->timeout);
	uv_close((uv_handle_t *)&a->timeout, probe_attempt_closed);
	if (a->sock.handle.data == a)
		uv_close(&a->sock.handle, probe_attempt_closed);
	struct probe_pair *p = a->pair;
	if (p)
		p->attempt = NULL;
	return p;
}

/* Ends an attempt once and reports its result to its pair. */
static void probe_attempt_finish(struct probe_attempt *a, bool ok, const char *reason)
{
	double rtt_ms = (double)(uv_hrtime() - a->started_ns) / 1e6;
	struct probe_pair *p = probe_attempt_end(a);
	if (p)
		probe_result(p, ok, rtt_ms, reason);
}

/* Errors that say this host ran short (descriptors, buffers, memory,
 * ephemeral ports), not that the target failed. */
static bool probe_local_error(int status)
{
	return status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS || status == UV_ENOMEM ||
	       status == UV_EADDRNOTAVAIL;
}

#define PROBE_WARN_INTERVAL_NS UINT64_C(10000000000)

/* Ends an attempt that could not be made for a local shortage: no result
 * (a healthy target must not go down because this host ran out of file
 * descriptors), one warning per PROBE_WARN_INTERVAL_NS at most. */
static void probe_attempt_skip(struct probe_attempt *a, const char *what, int status)
{
	static uint64_t last_warn_ns;
	static unsigned skipped;
	struct probe_pair *p = probe_attempt_end(a);
	if (!p)
		return;
	skipped++;
	uint64_t now = uv_hrtime();
	if (last_warn_ns && now - last_warn_ns < PROBE_WARN_INTERVAL_NS)
		return;
	log_warn("probe: %u round%s skipped for a local shortage, not counted against the target; last: %s %s "
	         "%s: %s: %s",
	         skipped, skipped == 1 ? "" : "s", p->datacenter, p->address, p->check.name, what,
	         uv_strerror(status));
	last_warn_ns = now;
	skipped = 0;
}

static void probe_fail_uv(struct probe_attempt *a, const char *what, int status)
{
	if (probe_local_error(status)) {
		probe_attempt_skip(a, what, status);
		return;
	}
	char reason[128];
	snprintf(reason, sizeof(reason), "%s: %s", what, uv_strerror(status));
	probe_attempt_finish(a, false, reason);
}

static void probe_timeout_cb(uv_timer_t *t)
{
	struct probe_attempt *a = t->data;
	char reason[64];
	snprintf(reason, sizeof(reason), "timeout after %u ms", a->pair ? a->pair->check.timeout_ms : 0);
	probe_attempt_finish(a, false, reason);
}

/* HTTP: whether the whole answer (or as much as is judged) is in. */
static bool probe_http_complete(const struct probe_attempt *a)
{
	if (a->response_len >= PROBE_RESPONSE_MAX)
		return true;
	ssize_t final = probe_http_final(a->pair ? &a->pair->check : NULL, a->response, a->response_len);
	if (final < 0)
		return false;
	const char *start = a->response + final;
	size_t len = a->response_len - (size_t)final;
	const char *body;
	const char *end = probe_http_head_end(start, len, &body);
	if (!end)
		return false;
	long announced = probe_http_content_length(start, end);
	if (announced < 0)
		return false; /* no length: read until the server closes */
	return (size_t)(start + len - body) >= (size_t)announced;
}

static void probe_http_done(struct probe_attempt *a)
{
	char reason[128];
	bool ok = a->pair &&
	          probe_http_judge(&a->pair->check, a->response, a->response_len, reason, sizeof(reason));
	probe_attempt_finish(a, ok, a->pair ? reason : "");
}

#ifdef GEOSTEER_TLS
struct probe_tls_write {
	uv_write_t req;
	char data[];
};

static void probe_tls_write_cb(uv_write_t *req, int status)
{
	struct probe_tls_write *w = (struct probe_tls_write *)req;
	struct probe_attempt *a = req->data;
	if (status < 0 && !a->done)
		probe_fail_uv(a, "tls write", status);
	free(w);
}

/* Sends what OpenSSL has queued in the write BIO. */
static bool probe_tls_flush(struct probe_attempt *a)
{
	int pending;
	while ((pending = BIO_pending(a->wbio)) > 0) {
		struct probe_tls_write *w = malloc(sizeof(*w) + (size_t)pending);
		if (!w) {
			probe_attempt_finish(a, false, "out of memory");
			return false;
		}
		int n = BIO_read(a->wbio, w->data, pending);
		if (n <= 0) {
			free(w);
			break;
		}
		w->req.data = a;
		uv_buf_t buf = uv_buf_init(w->data, (unsigned)n);
		int r = uv_write(&w->req, (uv_stream_t *)&a->sock.tcp, &buf, 1, probe_tls_write_cb);
		if (r < 0) {
			free(w);
			probe_fail_uv(a, "tls write", r);
			return false;
		}
	}
	return true;
}

static void probe_tls_fail(struct probe_attempt *a, const char *what)
{
	char reason[128];
	long verify = SSL_get_verify_result(a->ssl);
	unsigned long e = ERR_get_error();
	if (verify != X509_V_OK)
		snprintf(reason, sizeof(reason), "tls: certificate: %s",
		         X509_verify_cert_error_string(verify));
	else if (e)
		snprintf(reason, sizeof(reason), "tls %s: %s", what, ERR_reason_error_string(e));
	else
		snprintf(reason, sizeof(reason), "tls %s failed", what);
	ERR_clear_error();
	probe_attempt_finish(a, false, reason);
}

/* Drives handshake, request and response as far as the input allows. */
static void probe_tls_pump(struct probe_attempt *a, bool eof)
{
	if (!a->tls_ready) {
		int r = SSL_do_handshake(a->ssl);
		if (r != 1) {
			int e = SSL_get_error(a->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				probe_tls_fail(a, "handshake");
				return;
			}
			if (probe_tls_flush(a) && eof)
				probe_attempt_finish(a, false, "tls: connection closed during the handshake");
			return;
		}
		a->tls_ready = true;
	}
	if (!a->tls_sent) {
		if (SSL_write(a->ssl, a->request, (int)a->request_len) <= 0) {
			probe_tls_fail(a, "write");
			return;
		}
		a->tls_sent = true;
	}
	bool closed = eof;
	while (a->response_len < PROBE_RESPONSE_MAX) {
		int r = SSL_read(a->ssl, a->response + a->response_len,
		                 (int)(PROBE_RESPONSE_MAX - a->response_len));
		if (r > 0) {
			a->response_len += (size_t)r;
			continue;
		}
		int e = SSL_get_error(a->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN) {
			closed = true;
		} else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if (!a->response_len) {
				probe_tls_fail(a, "read");
				return;
			}
			closed = true; /* many servers close without close_notify */
		}
		break;
	}
	if (!probe_tls_flush(a))
		return;
	if (closed || probe_http_complete(a)) {
		if (a->response_len)
			probe_http_done(a);
		else
			probe_attempt_finish(a, false, "tls: closed without a response");
	}
}

static int probe_tls_start(struct probe_attempt *a, const struct probe_pair *p)
{
	if (!probe_tls_ctx) {
		probe_tls_ctx = SSL_CTX_new(TLS_client_method());
		if (!probe_tls_ctx)
			return -1;
		SSL_CTX_set_min_proto_version(probe_tls_ctx, TLS1_2_VERSION);
		if (SSL_CTX_set_default_verify_paths(probe_tls_ctx) != 1)
			log_warn("probe: cannot load the system's CA certificates; https checks will fail");
	}
	a->net = malloc(PROBE_TLS_READ);
	a->ssl = SSL_new(probe_tls_ctx);
	a->rbio = BIO_new(BIO_s_mem());
	a->wbio = BIO_new(BIO_s_mem());
	if (!a->net || !a->ssl || !a->rbio || !a->wbio) {
		BIO_free(a->rbio);
		BIO_free(a->wbio);
		return -1;
	}
	SSL_set_bio(a->ssl, a->rbio, a->wbio);
	SSL_set_connect_state(a->ssl);
	const char *host = p->check.host;
	struct in6_addr ignored;
	bool host_is_ip =
	    host && (inet_pton(AF_INET, host, &ignored) == 1 || inet_pton(AF_INET6, host, &ignored) == 1);
	if (host && !host_is_ip)
		SSL_set_tlsext_host_name(a->ssl, host);
	if (p->check.tls_verify) {
		SSL_set_verify(a->ssl, SSL_VERIFY_PEER, NULL);
		int r = host && !host_is_ip
		            ? SSL_set1_host(a->ssl, host)
		            : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(a->ssl), host ? host : p->address);
		if (r != 1)
			return -1;
	} else {
		SSL_set_verify(a->ssl, SSL_VERIFY_NONE, NULL);
	}
	return 0;
}
#endif

static void probe_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct probe_attempt *a = h->data;
#ifdef GEOSTEER_TLS
	if (a->ssl) {
		*buf = uv_buf_init(a->net, PROBE_TLS_READ);
		return;
	}
#endif
	/* Never empty: the response is judged as soon as it is full. */
	*buf = uv_buf_init(a->response + a->response_len, (unsigned)(PROBE_RESPONSE_MAX - a->response_len));
}

static void probe_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct probe_attempt *a = s->data;
	if (a->done)
		return;
	bool eof = nread == UV_EOF;
	if (nread < 0 && !eof) {
		if (a->response_len == 0) {
			probe_fail_uv(a, "read", (int)nread);
			return;
		}
		eof = true; /* a reset after the answer: judge what came */
	}
#ifdef GEOSTEER_TLS
	if (a->ssl) {
		if (nread > 0 && BIO_write(a->rbio, a->net, (int)nread) != (int)nread) {
			probe_attempt_finish(a, false, "out of memory");
			return;
		}
		probe_tls_pump(a, eof);
		return;
	}
#endif
	if (nread > 0)
		a->response_len += (size_t)nread;
	if (eof && a->response_len == 0)
		probe_attempt_finish(a, false, "closed without a response");
	else if (eof || probe_http_complete(a))
		probe_http_done(a);
}

static void probe_write_cb(uv_write_t *req, int status)
{
	struct probe_attempt *a = req->data;
	if (status < 0 && !a->done)
		probe_fail_uv(a, "write", status);
}

static void probe_connect_cb(uv_connect_t *req, int status)
{
	struct probe_attempt *a = req->data;
	if (a->done)
		return;
	if (status < 0) {
		probe_fail_uv(a, "connect", status);
		return;
	}
	if (a->type == CONFIG_CHECK_TCP) {
		probe_attempt_finish(a, true, "connected");
		return;
	}
	uv_stream_t *stream = (uv_stream_t *)&a->sock.tcp;
	int r = uv_read_start(stream, probe_alloc_cb, probe_read_cb);
	if (r < 0) {
		probe_fail_uv(a, "read", r);
		return;
	}
#ifdef GEOSTEER_TLS
	if (a->ssl) {
		probe_tls_pump(a, false);
		return;
	}
#endif
	a->write_req.data = a;
	uv_buf_t buf = uv_buf_init(a->request, (unsigned)a->request_len);
	r = uv_write(&a->write_req, stream, &buf, 1, probe_write_cb);
	if (r < 0)
		probe_fail_uv(a, "write", r);
}

static void probe_udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct probe_attempt *a = h->data;
	*buf = uv_buf_init(a->response, sizeof(a->response) - 1);
}

static void probe_udp_recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                              unsigned flags)
{
	(void)from;
	(void)flags;
	struct probe_attempt *a = u->data;
	if (a->done || !a->pair)
		return;
	if (nread < 0) {
		probe_fail_uv(a, "recv", (int)nread); /* ICMP unreachable on a connected socket */
		return;
	}
	if (nread == 0)
		return;
	char reason[128];
	int verdict = probe_dns_judge(&a->pair->check, a->dns_id, (const uint8_t *)buf->base, (size_t)nread,
	                              reason, sizeof(reason));
	if (verdict >= 0)
		probe_attempt_finish(a, verdict == 1, reason);
}

static void probe_udp_send_cb(uv_udp_send_t *req, int status)
{
	struct probe_attempt *a = req->data;
	if (status < 0 && !a->done)
		probe_fail_uv(a, "send", status);
}

static void probe_http_request(struct probe_attempt *a, const struct probe_pair *p)
{
	char host[300];
	if (p->check.host)
		snprintf(host, sizeof(host), "%s", p->check.host);
	else if (p->addr.ss_family == AF_INET6)
		snprintf(host, sizeof(host), "[%s]:%u", p->address, p->check.port);
	else
		snprintf(host, sizeof(host), "%s:%u", p->address, p->check.port);
	int n = snprintf(a->request, sizeof(a->request),
	                 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: geosteer\r\n\r\n",
	                 p->check.path ? p->check.path : "/", host);
	a->request_len = n < 0 ? 0 : (size_t)n >= sizeof(a->request) ? sizeof(a->request) - 1 : (size_t)n;
}

/* Sets up the socket of an attempt; on failure -1 with reason, or the
 * libuv error (< -1) when it was libuv's. */
static int probe_attempt_open(struct probe_attempt *a, struct probe_pair *p, char *reason, size_t len)
{
	int r;
	const struct sockaddr *sa = (const struct sockaddr *)&p->addr;
	if (p->check.type == CONFIG_CHECK_DNS) {
		a->dns_id = (uint16_t)probe_random();
		a->request_len =
		    probe_dns_query(&p->check, a->dns_id, (uint8_t *)a->request, sizeof(a->request));
		if (!a->request_len) {
			snprintf(reason, len, "cannot build the query");
			return -1;
		}
		if ((r = uv_udp_init(probe_loop, &a->sock.udp)) < 0)
			goto uv_fail;
		a->sock.udp.data = a;
		a->open_handles++;
		if ((r = uv_udp_connect(&a->sock.udp, sa)) < 0 ||
		    (r = uv_udp_recv_start(&a->sock.udp, probe_udp_alloc_cb, probe_udp_recv_cb)) < 0)
			goto uv_fail;
		a->send_req.data = a;
		uv_buf_t buf = uv_buf_init(a->request, (unsigned)a->request_len);
		if ((r = uv_udp_send(&a->send_req, &a->sock.udp, &buf, 1, NULL, probe_udp_send_cb)) < 0)
			goto uv_fail;
		return 0;
	}
	if (p->check.type != CONFIG_CHECK_TCP)
		probe_http_request(a, p);
	if (p->check.type == CONFIG_CHECK_HTTPS) {
#ifdef GEOSTEER_TLS
		if (probe_tls_start(a, p) < 0) {
			snprintf(reason, len, "tls: cannot set up");
			return -1;
		}
#else
		snprintf(reason, len, "https: this build has no TLS support");
		return -1;
#endif
	}
	if ((r = uv_tcp_init(probe_loop, &a->sock.tcp)) < 0)
		goto uv_fail;
	a->sock.tcp.data = a;
	a->open_handles++;
	uv_tcp_nodelay(&a->sock.tcp, 1);
	a->connect_req.data = a;
	if ((r = uv_tcp_connect(&a->connect_req, &a->sock.tcp, sa, probe_connect_cb)) < 0)
		goto uv_fail;
	return 0;
uv_fail:
	snprintf(reason, len, "%s", uv_strerror(r));
	return r < -1 ? r : -1;
}

static void probe_attempt_start(struct probe_pair *p)
{
	struct probe_attempt *a = calloc(1, sizeof(*a));
	if (!a) {
		probe_result(p, false, 0, "out of memory");
		return;
	}
	a->pair = p;
	a->type = p->check.type;
	a->started_ns = uv_hrtime();
	p->attempt = a;
	uv_timer_init(probe_loop, &a->timeout);
	a->timeout.data = a;
	a->open_handles = 1;
	uv_timer_start(&a->timeout, probe_timeout_cb, p->check.timeout_ms, 0);
	char reason[128];
	int r = probe_attempt_open(a, p, reason, sizeof(reason));
	if (r < -1 && probe_local_error(r))
		probe_attempt_skip(a, "socket", r);
	else if (r < 0)
		probe_attempt_finish(a, false, reason);
}

static void probe_timer_cb(uv_timer_t *t)
{
	struct probe_pair *p = t->data;
	uv_timer_start(&p->timer, probe_timer_cb, probe_jitter(p->check.interval_ms), 0);
	if (p->attempt)
		return; /* the last one is still running: skip a round rather than pile up */
	probe_attempt_start(p);
}

/* ---- pairs ---- */

static void probe_pair_closed(uv_handle_t *h)
{
	struct probe_pair *p = h->data;
	probe_check_free(&p->check);
	free(p->datacenter);
	free(p);
}

/* Unlinks nothing: the caller has taken p out of the list. */
static void probe_pair_stop(struct probe_pair *p)
{
	if (p->attempt) {
		struct probe_attempt *a = p->attempt;
		a->pair = NULL;
		p->attempt = NULL;
		probe_attempt_finish(a, false, "stopped");
	}
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, probe_pair_closed);
}

static struct probe_pair *probe_pair_new(const char *dc, int slot, const char *address, bool v6,
                                         const struct config_check *check)
{
	struct probe_pair *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->datacenter = strdup(dc);
	if (!p->datacenter || probe_check_copy(&p->check, check) < 0) {
		free(p->datacenter);
		free(p);
		return NULL;
	}
	p->slot = slot;
	snprintf(p->address, sizeof(p->address), "%s", address);
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->addr;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(check->port);
		inet_pton(AF_INET6, address, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&p->addr;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(check->port);
		inet_pton(AF_INET, address, &s4->sin_addr);
	}
	p->state.up = check->initial_up;
	p->since = time(NULL);
	snprintf(p->reason, sizeof(p->reason), "initial state %s", probe_word(check->initial_up));
	uv_timer_init(probe_loop, &p->timer);
	p->timer.data = p;
	uint64_t first = check->interval_ms ? probe_random() % check->interval_ms : 0;
	uv_timer_start(&p->timer, probe_timer_cb, first, 0);
	return p;
}

/* A pair not yet claimed by this apply for datacenter, address and check:
 * with the same definition (it keeps running), or with same_name_only the
 * one a changed definition replaces (its state carries over). */
static struct probe_pair *probe_pair_find(const char *dc, const char *address, const struct config_check *check,
                                          bool same_name_only)
{
	for (struct probe_pair *p = probe_pairs; p; p = p->next)
		if (!p->keep && !strcmp(p->datacenter, dc) && !strcmp(p->address, address) &&
		    (same_name_only ? probe_str_equal(p->check.name, check->name) : probe_check_equal(&p->check, check)))
			return p;
	return NULL;
}

/* A changed check keeps what its pair knew: a dead address must not come
 * back because its timeout was tuned (nor a live one go down under
 * `initial: down`).  The counts carry too; the new rise / fall apply from
 * the next result. */
static void probe_pair_inherit(struct probe_pair *p, const struct probe_pair *old)
{
	p->state = old->state;
	p->since = old->since;
	p->has_result = old->has_result;
	p->last_ok = old->last_ok;
	p->rtt_ms = old->rtt_ms;
	memcpy(p->reason, old->reason, sizeof(p->reason));
}

static const struct config_check *probe_config_check(const struct config *config, const char *name)
{
	for (size_t i = 0; i < config->check_count; i++)
		if (!strcmp(config->checks[i].name, name))
			return &config->checks[i];
	return NULL;
}

int probe_apply(uv_loop_t *loop, const struct config *config, char *err, size_t errlen)
{
	static bool initialized;
	if (!initialized) {
		for (int i = 0; i < HEALTH_MAX_SLOTS; i++)
			probe_rtt_avg[i] = -1;
		initialized = true;
	}
	if (!probe_loop)
		probe_loop = loop;
	int rc = 0;
	for (struct probe_pair *p = probe_pairs; p; p = p->next)
		p->keep = false;
	struct probe_pair *fresh = NULL; /* started now; joined to the list at the end */
	uint64_t slots = 0;
	for (size_t d = 0; d < config->datacenter_count; d++) {
		const struct config_datacenter *dc = &config->datacenters[d];
		if (!dc->check_count)
			continue;
		int slot = health_slot(dc->name);
		if (slot < 0) {
			snprintf(err, errlen, "probe: no health slot for datacenter '%s'", dc->name);
			rc = -1;
			continue;
		}
		slots |= UINT64_C(1) << slot;
		size_t addresses = dc->a_count + dc->aaaa_count;
		for (size_t i = 0; i < addresses && i < 64; i++) {
			bool v6 = i >= dc->a_count;
			const char *address = v6 ? dc->aaaa[i - dc->a_count] : dc->a[i];
			for (size_t k = 0; k < dc->check_count; k++) {
				const struct config_check *check = probe_config_check(config, dc->checks[k]);
				if (!check)
					continue; /* config_load refuses that */
				struct probe_pair *p = probe_pair_find(dc->name, address, check, false);
				if (!p) {
					p = probe_pair_new(dc->name, slot, address, v6, check);
					if (!p) {
						snprintf(err, errlen, "probe: out of memory");
						rc = -1;
						continue;
					}
					const struct probe_pair *old = probe_pair_find(dc->name, address, check, true);
					if (old)
						probe_pair_inherit(p, old);
					p->next = fresh;
					fresh = p;
				}
				p->keep = true;
				p->addr_index = (unsigned)i;
				p->addr_bit = v6 ? health_address_bit(slot, ((const struct sockaddr_in6 *)&p->addr)->sin6_addr.s6_addr, 16)
				                 : health_address_bit(slot, (const uint8_t *)&((const struct sockaddr_in *)&p->addr)->sin_addr, 4);
				p->check_index = (unsigned)k;
			}
		}
	}
	/* Stop what is no longer wanted, then add the new pairs. */
	struct probe_pair **link = &probe_pairs;
	while (*link) {
		struct probe_pair *p = *link;
		if (p->keep) {
			link = &p->next;
			continue;
		}
		*link = p->next;
		probe_pair_stop(p);
	}
	size_t started = 0;
	while (fresh) {
		struct probe_pair *p = fresh;
		fresh = p->next;
		p->next = NULL;
		*link = p;
		link = &p->next;
		started++;
	}
	uint64_t had = 0; /* slots with pairs before this apply */
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		if (probe_by_slot[slot].count)
			had |= UINT64_C(1) << slot;
	if (probe_index_slots() < 0) {
		snprintf(err, errlen, "probe: out of memory");
		rc = -1;
	}
	probe_unprobed = (probe_unprobed | had) & ~slots;
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		if (slots >> slot & 1)
			probe_publish(slot);
	log_info("probes: %zu running, %zu started", probe_count(), started);
	return rc;
}

void probe_settle(void)
{
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		if (probe_unprobed >> slot & 1)
			probe_publish(slot);
	probe_unprobed = 0;
}

void probe_stop(void)
{
	while (probe_pairs) {
		struct probe_pair *p = probe_pairs;
		probe_pairs = p->next;
		probe_pair_stop(p);
	}
	probe_index_slots(); /* frees the arrays: no pairs are left */
	probe_unprobed = 0;
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++)
		probe_rtt_avg[i] = -1;
#ifdef GEOSTEER_TLS
	SSL_CTX_free(probe_tls_ctx); /* attempts still closing hold their own reference */
	probe_tls_ctx = NULL;
#endif
}

size_t probe_count(void)
{
	size_t n = 0;
	for (const struct probe_pair *p = probe_pairs; p; p = p->next)
		n++;
	return n;
}

int probe_inject(const char *datacenter, const char *address, const char *check, bool ok, unsigned rtt_ms,
                 const char *reason)
{
	for (struct probe_pair *p = probe_pairs; p; p = p->next)
		if (!strcmp(p->datacenter, datacenter) && !strcmp(p->address, address) &&
		    !strcmp(p->check.name, check)) {
			probe_result(p, ok, rtt_ms, reason);
			return 0;
		}
	return -1;
}
