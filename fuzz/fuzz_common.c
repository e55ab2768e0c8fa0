/*
 * fuzz_common — shared by the fuzz targets; see fuzz_common.h.
 *
 * The fixtures are made by the shell (cp, tools/mkgeodb) once per process,
 * at a target's first input: they are small, and building the GeoIP ones
 * here keeps the targets independent of what a previous make left behind.
 */
#include "fuzz_common.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dname.h"
#include "query.h"
#include "wire.h"

/* fuzz_packet links in wire-only mode without the query path. */
#pragma weak query_respond

#define FUZZ_UDP_LIMIT 1232

void fuzz_check_reply(const uint8_t *req, size_t reqlen, const uint8_t *resp, size_t len)
{
	uint8_t name[DNAME_MAXLEN];
	size_t pos = WIRE_HEADER_LEN;

	if (len < WIRE_HEADER_LEN || len > WIRE_MAX_MESSAGE)
		abort();
	if (!(wire_get_u16(resp + 2) & WIRE_FLAG_QR))
		abort();
	if (reqlen >= 2 && memcmp(req, resp, 2) != 0)
		abort();
	unsigned qdcount = wire_get_u16(resp + 4);
	unsigned rrcount =
	    (unsigned)wire_get_u16(resp + 6) + wire_get_u16(resp + 8) + wire_get_u16(resp + 10);
	if (qdcount > 1)
		abort();
	for (unsigned i = 0; i < qdcount; i++) {
		if (wire_read_name(resp, len, &pos, name) < 0 || len - pos < 4)
			abort();
		pos += 4;
	}
	for (unsigned i = 0; i < rrcount; i++) {
		if (wire_read_name(resp, len, &pos, name) < 0 || len - pos < 10)
			abort();
		size_t rdlen = wire_get_u16(resp + pos + 8);
		pos += 10;
		if (len - pos < rdlen)
			abort();
		pos += rdlen;
	}
	if (pos != len)
		abort();
}

/* ---- the temporary folder ---- */

static char fuzz_dir[256];

static int fuzz_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fuzz_remove_tmpdir(void)
{
	if (fuzz_dir[0])
		nftw(fuzz_dir, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
	if (fuzz_dir[0])
		return fuzz_dir;
	const char *base = getenv("TMPDIR");
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/geosteer-fuzz-XXXXXX", base && base[0] ? base : "/tmp");
	char abs[PATH_MAX];
	if (mkdtemp(fuzz_dir) == NULL || realpath(fuzz_dir, abs) == NULL || strlen(abs) >= sizeof fuzz_dir) {
		perror("fuzz: mkdtemp");
		abort();
	}
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s", abs); /* error messages start with absolute paths */
	atexit(fuzz_remove_tmpdir);
	return fuzz_dir;
}

const char *fuzz_tmp_path(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof paths[0], "%s/%s", fuzz_tmpdir(), name);
	return p;
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* ---- fixtures ---- */

static void fuzz_shell(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "fuzz: fixture command failed: %s\n", cmd);
		abort();
	}
}

void fuzz_make_fixtures(const char *dir)
{
	const char *root = getenv("GEOSTEER_FUZZ_ROOT");
	if (root == NULL)
		root = ".";
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "set -e; cd '%s'; d='%s'; mkdir -p \"$d/build\" \"$d/geo\"; cp -r zones \"$d/\";"
	         " cp zones/shop.example.zone zones/shop.example.include \"$d/\";"
	         " tools/mkgeodb zones/demo-geo.txt \"$d/build/demo-geo.mmdb\" >/dev/null;"
	         " tools/mkgeodb tests/unit/policy/city.txt \"$d/geo.mmdb\" >/dev/null;"
	         " cp \"$d/geo.mmdb\" \"$d/geo/GeoLite2-City.mmdb\";"
	         " tools/mkgeodb tests/unit/policy/asn.txt \"$d/asn.mmdb\" >/dev/null;"
	         " cp tests/unit/policy/latency.txt \"$d/latency.txt\"; cp \"$d/latency.txt\" \"$d/rtt.txt\"",
	         root, dir);
	fuzz_shell(cmd);
	static const char other[] =
	    "$ORIGIN other.example.\n$TTL 300\n"
	    "@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
	    "www A 192.0.2.80\n* TXT \"wild\"\n";
	static const char org[] = "$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\n"
	                          "ns1 A 192.0.2.53\nwww CNAME @\n@ A 192.0.2.1\n";
	char path[512];
	snprintf(path, sizeof path, "%s/zones/other.example.zone", dir);
	fuzz_write_file(path, other, sizeof other - 1);
	snprintf(path, sizeof path, "%s/example.org.zone", dir);
	fuzz_write_file(path, org, sizeof org - 1);
}

/* ---- questions ---- */

size_t fuzz_ask(const struct zone_table *zones, const struct policy_set *policies,
                const struct query_settings *settings, const uint8_t *qname, uint16_t qtype, int family,
                const uint8_t *client, bool ecs, bool tcp)
{
	static uint8_t req[512 + 64];
	static uint8_t resp[WIRE_MAX_MESSAGE];
	static const uint8_t default_client[4] = {192, 0, 2, 1};
	static uint16_t id;
	if (client == NULL) {
		client = default_client;
		family = 4;
	}
	size_t qlen = dname_len(qname);
	uint8_t *p = req;
	memset(p, 0, WIRE_HEADER_LEN);
	wire_put_u16(p, ++id);
	wire_put_u16(p + 4, 1);
	wire_put_u16(p + 10, tcp ? 0 : 1);
	p += WIRE_HEADER_LEN;
	memcpy(p, qname, qlen);
	p += qlen;
	wire_put_u16(p, qtype);
	wire_put_u16(p + 2, 1);
	p += 4;
	if (!tcp) {
		/* OPT: root, type 41, payload 1232, DO, then Client Subnet. */
		size_t addr_len = family == 4 ? 3 : 7; /* /24 and /56 */
		uint16_t rdlen = ecs ? (uint16_t)(4 + 4 + addr_len) : 0;
		*p++ = 0;
		wire_put_u16(p, 41);
		wire_put_u16(p + 2, FUZZ_UDP_LIMIT);
		wire_put_u32(p + 4, 0x8000);
		wire_put_u16(p + 8, rdlen);
		p += 10;
		if (ecs) {
			wire_put_u16(p, 8);
			wire_put_u16(p + 2, (uint16_t)(4 + addr_len));
			wire_put_u16(p + 4, family == 4 ? 1 : 2);
			p[6] = (uint8_t)(addr_len * 8);
			p[7] = 0;
			memcpy(p + 8, client, addr_len);
			p += 8 + addr_len;
		}
	}
	size_t reqlen = (size_t)(p - req);

	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(5353)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(5353)};
	struct query_client qc = {.transport = tcp ? QUERY_TCP : QUERY_UDP};
	if (family == 4) {
		memcpy(&v4.sin_addr, client, 4);
		qc.addr = (const struct sockaddr *)&v4;
	} else {
		memcpy(&v6.sin6_addr, client, 16);
		qc.addr = (const struct sockaddr *)&v6;
	}
	size_t len = query_respond(zones, policies, settings, &qc, req, reqlen, resp, sizeof resp);
	if (len == 0)
		abort(); /* a well-formed query always gets an answer */
	if (!tcp && len > FUZZ_UDP_LIMIT)
		abort();
	fuzz_check_reply(req, reqlen, resp, len);
	return len;
}

/* ---- load errors ---- */

/* FNV-1a of a message with the folder taken out and digits folded. */
static uint64_t fuzz_error_shape(const char *err, const char *prefix, char *shape, size_t cap)
{
	size_t plen = strlen(prefix), n = 0;
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = err; *p && n + 1 < cap;) {
		if (plen && strncmp(p, prefix, plen) == 0) {
			p += plen;
			shape[n++] = '~';
		} else if (*p >= '0' && *p <= '9') {
			while (*p >= '0' && *p <= '9')
				p++;
			shape[n++] = '#';
		} else {
			shape[n++] = *p++;
		}
		h = (h ^ (uint8_t)shape[n - 1]) * 1099511628211ULL;
	}
	shape[n] = '\0';
	return h;
}

static void fuzz_log_error(const char *err, const char *prefix)
{
	static const char *log_path;
	static bool checked;
	static uint64_t seen[1 << 14];
	static size_t seen_count;
	if (!checked) {
		checked = true;
		log_path = getenv("GEOSTEER_FUZZ_ERRORS");
	}
	if (log_path == NULL || seen_count >= sizeof seen / sizeof seen[0] / 2)
		return;
	char shape[240];
	uint64_t h = fuzz_error_shape(err, prefix, shape, sizeof shape) | 1;
	size_t mask = sizeof seen / sizeof seen[0] - 1;
	size_t i = (size_t)h & mask;
	for (; seen[i]; i = (i + 1) & mask)
		if (seen[i] == h)
			return;
	seen[i] = h;
	seen_count++;
	FILE *f = fopen(log_path, "a");
	if (f != NULL) {
		fprintf(f, "%s\n", shape);
		fclose(f);
	}
}

void fuzz_check_error(const char *err)
{
	/* The harnesses name every file by its absolute path. */
	if (err[0] != '/' || strchr(err, ':') == NULL || strchr(err, '\n') != NULL) {
		fprintf(stderr, "fuzz: error without a file: %s\n", err);
		abort();
	}
	fuzz_log_error(err, fuzz_tmpdir());
}
