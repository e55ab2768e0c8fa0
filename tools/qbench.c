/*
 * qbench — times geosteerd's answering code in-process, without the kernel.
 *
 * Over loopback most of the CPU a query costs is the kernel's UDP path, so
 * queries a second cannot show a 20% change in our own code.  This tool
 * calls query_respond_outcome() directly, exactly as the UDP worker does
 * (same snapshot, same settings, a 4096-byte reply buffer, QUERY_UDP), on
 * the queries `dnsblast --dump` wrote: the same wire bytes the load
 * benchmark sends.
 *
 * Method: load the config, build a snapshot (the daemon's own path), read
 * each dump, answer every query once untimed (that pass is the sanity
 * check: every query must get a reply; the replies' rcodes and bytes are
 * reported so a broken run is visible, e.g. all SERVFAIL), then time
 * ROUNDS rounds of ITERATIONS calls cycling over the queries with
 * CLOCK_MONOTONIC around each round.  The median round is the figure to
 * compare; the min shows how quiet the machine was.  A timed call that
 * returns no reply also fails the run.  Pin it to one CPU (taskset) for
 * steady numbers.
 *
 * Dump format: per query a 2-byte big-endian length, then the wire bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "query.h"
#include "snapshot.h"

#define QBENCH_RESP_CAP 4096 /* the UDP worker's reply buffer */
#define QBENCH_MAX_WORKLOADS 16
#define QBENCH_MAX_ROUNDS 1000
#define QBENCH_MIN_QUERY 12 /* a DNS header; shorter records are a broken dump */

/* One dump file: its queries packed back to back, with their offsets. */
struct qbench_workload {
	const char *path;
	char name[64]; /* the file's base name without extension: "static" */
	uint8_t *bytes;
	size_t *offset;
	uint16_t *len;
	size_t count;
};

/* What the untimed pass over every query saw. */
struct qbench_check {
	unsigned long long rcode[16]; /* by the reply header's RCODE field */
	unsigned long long bytes;
	unsigned long long truncated;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: qbench -c CONFIG -q DUMPFILE [-q DUMPFILE...] [options]\n"
	        "  -c, --config FILE      geosteer.yaml to load (as geosteerd -c)\n"
	        "  -q, --queries FILE     queries from `dnsblast -q FILE --dump OUT`; one workload each\n"
	        "  -n, --iterations N     queries answered per round (default 2000000)\n"
	        "  -e, --evict KIB        touch KIB of other memory before each query (caches as after\n"
	        "                         the kernel's packet path); only the queries are timed\n"
	        "  -r, --rounds N         timed rounds (default 7, at most %d)\n"
	        "  -a, --client ADDR      the packet's source address (default 127.0.0.1)\n"
	        "  -j, --json             one JSON line per workload\n",
	        QBENCH_MAX_ROUNDS);
}

static uint64_t qbench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void qbench_workload_free(struct qbench_workload *w)
{
	free(w->bytes);
	free(w->offset);
	free(w->len);
	w->bytes = NULL;
	w->offset = NULL;
	w->len = NULL;
	w->count = 0;
}

/* Reads a whole dump into w; -1 with a message on stderr. */
static int qbench_workload_load(struct qbench_workload *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	w->path = path;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(w->name, sizeof(w->name), "%s", base);
	char *dot = strrchr(w->name, '.');
	if (dot && dot != w->name)
		*dot = 0;

	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "qbench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 0, size = 0;
	for (;;) {
		if (size == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *bigger = realloc(w->bytes, cap);
			if (!bigger) {
				fprintf(stderr, "qbench: %s: out of memory\n", path);
				fclose(f);
				qbench_workload_free(w);
				return -1;
			}
			w->bytes = bigger;
		}
		size_t got = fread(w->bytes + size, 1, cap - size, f);
		size += got;
		if (got == 0)
			break;
	}
	bool read_error = ferror(f);
	fclose(f);
	if (read_error) {
		fprintf(stderr, "qbench: %s: read error\n", path);
		qbench_workload_free(w);
		return -1;
	}

	/* Two passes over the records: count and check, then index. */
	size_t n = 0;
	for (size_t pos = 0; pos < size;) {
		size_t len = pos + 2 <= size ? (size_t)w->bytes[pos] << 8 | w->bytes[pos + 1] : 0;
		if (pos + 2 > size || len < QBENCH_MIN_QUERY || pos + 2 + len > size) {
			fprintf(stderr, "qbench: %s: broken dump at byte %zu (query %zu)\n", path, pos,
			        n + 1);
			qbench_workload_free(w);
			return -1;
		}
		pos += 2 + len;
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "qbench: %s: no queries\n", path);
		qbench_workload_free(w);
		return -1;
	}
	w->offset = malloc(n * sizeof(*w->offset));
	w->len = malloc(n * sizeof(*w->len));
	if (!w->offset || !w->len) {
		fprintf(stderr, "qbench: %s: out of memory\n", path);
		qbench_workload_free(w);
		return -1;
	}
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		w->len[i] = (uint16_t)(w->bytes[pos] << 8 | w->bytes[pos + 1]);
		w->offset[i] = pos + 2;
		pos += 2 + w->len[i];
	}
	w->count = n;
	return 0;
}

/* Answers every query once; -1 (with the first failing query) if one gets
 * no reply. */
static int qbench_check(const struct snapshot *snap, const struct query_client *client,
                        const struct qbench_workload *w, uint8_t *resp, struct qbench_check *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < w->count; i++) {
		struct query_outcome outcome;
		size_t len = query_respond_outcome(snap->zones, snap->policies, &snap->settings, client,
		                                   w->bytes + w->offset[i], w->len[i], resp, QBENCH_RESP_CAP,
		                                   &outcome);
		if (len < QBENCH_MIN_QUERY || len > QBENCH_RESP_CAP) {
			fprintf(stderr, "qbench: %s: query %zu got %s (length %zu)\n", w->path, i + 1,
			        len ? "a malformed reply" : "no reply", len);
			return -1;
		}
		out->rcode[resp[3] & 0x0f]++;
		out->bytes += len;
		if (resp[2] & 0x02)
			out->truncated++;
	}
	return 0;
}

/*
 * --evict: between two queries, write one byte in each of evict_lines
 * cache lines of a buffer much larger than the caches, moving on through
 * it, the way the kernel's UDP path (socket buffers, skbs, its own stack)
 * pushes a server's data out of L1/L2 between two packets.  Only the
 * queries are timed, so what is measured is the answering code with
 * cold(er) caches.
 */
#define QBENCH_EVICT_BYTES (32u << 20)
static uint8_t *qbench_evict_buf;
static size_t qbench_evict_pos;
static unsigned long qbench_evict_lines;

static inline void qbench_evict(void)
{
	for (unsigned long l = 0; l < qbench_evict_lines; l++) {
		qbench_evict_buf[qbench_evict_pos]++;
		qbench_evict_pos += 64;
		if (qbench_evict_pos >= QBENCH_EVICT_BYTES)
			qbench_evict_pos = 0;
	}
}

/* ns of one empty pair of clock reads, taken off each timed query. */
static double qbench_clock_cost(void)
{
	uint64_t sum = 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t a = qbench_now_ns();
		sum += qbench_now_ns() - a;
	}
	return (double)sum / 100000.0;
}

/* One timed round: ns per query, or a negative value if a call got no
 * reply.  The reply lengths are summed so every call's result is used.
 * With --evict, each query is timed on its own (the eviction walk between
 * them is not timed) and the cost of the clock reads is taken off. */
static double qbench_round(const struct snapshot *snap, const struct query_client *client,
                           const struct qbench_workload *w, uint8_t *resp, unsigned long iterations)
{
	size_t next = 0;
	unsigned long long bytes = 0;
	unsigned long missing = 0;
	uint64_t timed = 0;
	double clock_cost = qbench_evict_lines ? qbench_clock_cost() : 0;
	uint64_t start = qbench_now_ns();
	for (unsigned long i = 0; i < iterations; i++) {
		struct query_outcome outcome;
		uint64_t t0 = 0;
		if (qbench_evict_lines) {
			qbench_evict();
			t0 = qbench_now_ns();
		}
		size_t len = query_respond_outcome(snap->zones, snap->policies, &snap->settings, client,
		                                   w->bytes + w->offset[next], w->len[next], resp,
		                                   QBENCH_RESP_CAP, &outcome);
		if (qbench_evict_lines)
			timed += qbench_now_ns() - t0;
		bytes += len;
		missing += len == 0;
		if (++next == w->count)
			next = 0;
	}
	uint64_t elapsed = qbench_now_ns() - start;
	if (missing || bytes == 0)
		return -1;
	if (qbench_evict_lines)
		return (double)timed / (double)iterations - clock_cost;
	return (double)elapsed / (double)iterations;
}

static int qbench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static const char *qbench_rcode_name(unsigned rcode)
{
	static const char *const names[16] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                      "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                      "NXRRSET", "NOTAUTH", "NOTZONE"};
	return rcode < 16 && names[rcode] ? names[rcode] : "RCODE?";
}

static void qbench_print(const struct qbench_workload *w, unsigned long iterations, unsigned rounds,
                         double median, double min, const struct qbench_check *c, bool json)
{
	if (json) {
		printf("{\"workload\": \"%s\", \"queries\": %zu, \"iterations\": %lu, \"rounds\": %u, "
		       "\"median_ns\": %.1f, \"min_ns\": %.1f, \"rcodes\": {",
		       w->name, w->count, iterations, rounds, median, min);
		bool first = true;
		for (unsigned r = 0; r < 16; r++) {
			if (!c->rcode[r])
				continue;
			printf("%s\"%s\": %llu", first ? "" : ", ", qbench_rcode_name(r), c->rcode[r]);
			first = false;
		}
		printf("}, \"truncated\": %llu, \"reply_bytes\": %llu}\n", c->truncated, c->bytes);
		return;
	}
	printf("%-8s %5zu queries  median %7.1f ns/query  min %7.1f ns/query  (%u x %lu)  replies:", w->name,
	       w->count, median, min, rounds, iterations);
	for (unsigned r = 0; r < 16; r++)
		if (c->rcode[r])
			printf(" %s %llu", qbench_rcode_name(r), c->rcode[r]);
	if (c->truncated)
		printf(" TC %llu", c->truncated);
	printf(", %llu bytes\n", c->bytes);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"queries", required_argument, NULL, 'q'},
	    {"iterations", required_argument, NULL, 'n'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"client", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"evict", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *client_text = "127.0.0.1";
	const char *dumps[QBENCH_MAX_WORKLOADS];
	unsigned dump_count = 0;
	unsigned long iterations = 2000000;
	unsigned long rounds = 7;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:q:n:r:a:e:jh", longopts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'q':
			if (dump_count == QBENCH_MAX_WORKLOADS) {
				fprintf(stderr, "qbench: at most %d dump files\n", QBENCH_MAX_WORKLOADS);
				return 2;
			}
			dumps[dump_count++] = optarg;
			break;
		case 'e':
			errno = 0;
			qbench_evict_lines = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || qbench_evict_lines > (QBENCH_EVICT_BYTES >> 10)) {
				fprintf(stderr, "qbench: -e wants KiB to evict per query (at most %u), not '%s'\n",
				        QBENCH_EVICT_BYTES >> 10, optarg);
				return 2;
			}
			qbench_evict_lines = qbench_evict_lines * 1024 / 64;
			break;
		case 'n':
			errno = 0;
			iterations = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || iterations == 0) {
				fprintf(stderr, "qbench: -n wants a positive number, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			errno = 0;
			rounds = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || rounds == 0 || rounds > QBENCH_MAX_ROUNDS) {
				fprintf(stderr, "qbench: -r wants 1..%d, not '%s'\n", QBENCH_MAX_ROUNDS,
				        optarg);
				return 2;
			}
			break;
		case 'a':
			client_text = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !config_path || dump_count == 0) {
		usage(stderr);
		return 2;
	}

	/* The client as the UDP worker would see it (the port does not matter). */
	struct sockaddr_storage client_addr;
	memset(&client_addr, 0, sizeof(client_addr));
	struct sockaddr_in *in = (struct sockaddr_in *)&client_addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&client_addr;
	if (inet_pton(AF_INET, client_text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(53000);
	} else if (inet_pton(AF_INET6, client_text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(53000);
	} else {
		fprintf(stderr, "qbench: '%s' is not an IP address\n", client_text);
		return 2;
	}
	const struct query_client client = {.addr = (const struct sockaddr *)&client_addr,
	                                    .transport = QUERY_UDP};

	char err[512];
	struct config cfg;
	if (config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "qbench: %s\n", err);
		return 1;
	}
	struct snapshot *snap = NULL;
	if (qbench_evict_lines && !(qbench_evict_buf = calloc(1, QBENCH_EVICT_BYTES))) {
		fprintf(stderr, "qbench: out of memory\n");
		return 1;
	}
	if (snapshot_build(&cfg, &snap, err, sizeof(err)) < 0) {
		fprintf(stderr, "qbench: %s\n", err);
		config_free(&cfg);
		return 1;
	}

	int rc = 0;
	struct qbench_workload work[QBENCH_MAX_WORKLOADS];
	unsigned loaded = 0;
	for (; loaded < dump_count; loaded++) {
		if (qbench_workload_load(&work[loaded], dumps[loaded]) < 0) {
			rc = 1;
			break;
		}
	}

	static uint8_t resp[QBENCH_RESP_CAP];
	double per_round[QBENCH_MAX_ROUNDS];
	for (unsigned i = 0; rc == 0 && i < loaded; i++) {
		struct qbench_check check;
		if (qbench_check(snap, &client, &work[i], resp, &check) < 0) {
			rc = 1;
			break;
		}
		for (unsigned long r = 0; r < rounds; r++) {
			per_round[r] = qbench_round(snap, &client, &work[i], resp, iterations);
			if (per_round[r] < 0) {
				fprintf(stderr, "qbench: %s: a query got no reply in round %lu\n",
				        work[i].path, r + 1);
				rc = 1;
				break;
			}
		}
		if (rc)
			break;
		qsort(per_round, rounds, sizeof(per_round[0]), qbench_cmp_double);
		double median = rounds % 2 ? per_round[rounds / 2]
		                           : (per_round[rounds / 2 - 1] + per_round[rounds / 2]) / 2;
		qbench_print(&work[i], iterations, (unsigned)rounds, median, per_round[0], &check, json);
		fflush(stdout);
	}

	for (unsigned i = 0; i < loaded; i++)
		qbench_workload_free(&work[i]);
	snapshot_free(snap);
	config_free(&cfg);
	return rc;
}
