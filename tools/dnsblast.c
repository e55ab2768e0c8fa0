/*
 * dnsblast — geosteer's DNS load generator for loopback benchmarks.
 *
 * dnsperf tops out near 400k qps on one core here, below what a good
 * server answers on one core, so it cannot tell fast servers apart.  This
 * tool does the least work per packet it can: every query is built to wire
 * form once, at start, from a query file; the loop only copies a query into
 * a batch buffer, stamps its ID and hands up to --batch of them to one
 * sendmmsg(); replies come back by recvmmsg() in batches and are matched by
 * ID alone.  The send time of each of the 65536 IDs lives in a table
 * indexed by the ID, so matching is one array access and nothing on the
 * loop allocates.
 *
 * Two ways to offer load:
 *   closed loop  (default)   keep --window queries in flight; the server's
 *                            pace sets the rate.  --window 1 measures
 *                            latency with one query in flight.
 *   open loop    (--rate R)  send R queries a second on a fixed schedule,
 *                            whatever comes back: the way to compare CPU
 *                            cost per query at the same offered load, and
 *                            to see gaps (--rate + the max_gap figure) while
 *                            a server reloads.
 * Either stops at --count queries or --time seconds, whichever is first,
 * then waits --drain ms for late replies; what has not come back by then
 * is lost.
 *
 * Query file: one query a line, "NAME TYPE [EXTRA]", '#' starts a comment.
 * EXTRA is "noedns" (a bare query), "edns" (EDNS0, payload 1232; the
 * default) or a client subnet "ADDR/LEN", sent as an EDNS Client Subnet
 * option (RFC 7871).  Queries are sent in file order, round and round.
 *
 * Targets must be loopback addresses: this is a benchmark tool, not a
 * flooder.  Output is one line of JSON on stdout (for tools/bench), or a
 * human summary with --human.
 *
 * --dump FILE sends nothing: it writes the queries as built (each a 2-byte
 * big-endian length, then the wire bytes, as on DNS over TCP) and exits, so
 * tools/qbench can time the answering code on exactly the bytes this tool
 * would send, without a socket in between.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLAST_MAX_QUERY 512      /* a query with a long name and ECS fits easily */
#define BLAST_MAX_REPLY 4096     /* replies are at most udp_payload (4096) */
#define BLAST_MAX_BATCH 256      /* per sendmmsg / recvmmsg call */
#define BLAST_MAX_SOCKETS 16     /* distinct source ports, to spread over SO_REUSEPORT workers */
#define BLAST_HIST_US 100000     /* latency histogram: 1 us buckets up to 100 ms, then one overflow */
#define BLAST_MAX_SECONDS 600.0  /* a hard bound on any run */
#define BLAST_STALL_NS 50000000L /* closed loop: no reply for 50 ms means the window was lost */

struct blast_query {
	uint8_t wire[BLAST_MAX_QUERY];
	uint16_t len;
};

struct blast_options {
	struct sockaddr_storage target;
	socklen_t target_len;
	const char *query_file;
	const char *dump_file; /* --dump: write the built queries here, send nothing */
	double rate;     /* queries/s; 0 = closed loop */
	unsigned window; /* closed loop: queries in flight */
	unsigned batch;
	unsigned sockets;
	unsigned long long count; /* 0 = no limit */
	double seconds;
	unsigned drain_ms;
	int cpu; /* -1 = do not pin */
	bool human;
};

/* Counters and latency figures of a run. */
struct blast_stats {
	unsigned long long sent, received, stale, send_errors;
	unsigned long long rcode[16];
	unsigned long long hist[BLAST_HIST_US + 1];
	double lat_sum_us;
	double max_gap_us; /* longest time between two consecutive replies */
	double elapsed;    /* from the first send to the last send */
};

/* Per-ID bookkeeping: the send time, and whether a reply is still due.
 * A reply is matched by its ID alone: the first reply to an ID clears it,
 * so a second or stray one is not counted, but a reply that arrives after
 * its ID was sent again (65,536 queries later) is taken for the new query
 * and its latency is measured from the new send.  With at most 60,000 in
 * flight (--window) that needs a reply later than the whole window. */
static uint64_t blast_sent_at[65536];
static uint32_t blast_pending[65536]; /* sequence + 1 of the query in flight on this ID, or 0 */
static struct blast_stats stats;

static uint64_t blast_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: dnsblast -s ADDR -p PORT -q FILE [options]\n"
	        "       dnsblast -q FILE -D OUT\n"
	        "  -s, --server ADDR     loopback address of the server (127.0.0.0/8 or ::1)\n"
	        "  -p, --port PORT       server port\n"
	        "  -q, --queries FILE    query file: \"NAME TYPE [noedns|edns|ECS-ADDR/LEN]\" per line\n"
	        "  -r, --rate QPS        open loop at this rate (default: closed loop)\n"
	        "  -w, --window N        closed loop: queries in flight (default 256; 1 = latency)\n"
	        "  -b, --batch N         queries per sendmmsg (default 32, at most %d)\n"
	        "  -S, --sockets N       source sockets / ports (default 1, at most %d)\n"
	        "  -n, --count N         stop after N queries\n"
	        "  -t, --time SECONDS    stop after this long (default 5, at most %.0f)\n"
	        "  -d, --drain MS        wait this long for late replies (default 200)\n"
	        "  -C, --cpu N           pin to CPU N\n"
	        "  -H, --human           a readable summary instead of one JSON line\n"
	        "  -D, --dump OUT        write the built queries to OUT (2-byte length + wire each)\n"
	        "                        and exit without sending; -s and -p are not needed\n",
	        BLAST_MAX_BATCH, BLAST_MAX_SOCKETS, BLAST_MAX_SECONDS);
}

/* Appends a presentation-form name to buf in wire form; -1 if invalid. */
static int blast_put_name(uint8_t *buf, size_t cap, const char *name)
{
	size_t pos = 0;
	const char *p = name;
	if (strcmp(name, ".") == 0)
		p = "";
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63 || pos + 1 + len + 1 > cap || pos + 1 + len + 1 > 255)
			return -1;
		buf[pos++] = (uint8_t)len;
		memcpy(buf + pos, p, len);
		pos += len;
		p += len;
		if (*p == '.')
			p++;
	}
	buf[pos++] = 0;
	return (int)pos;
}

static int blast_type_code(const char *t)
{
	static const struct {
		const char *name;
		int code;
	} types[] = {{"A", 1},   {"NS", 2},    {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},
	             {"MX", 15}, {"TXT", 16},  {"AAAA", 28}, {"SRV", 33}, {"NAPTR", 35},
	             {"DS", 43}, {"CAA", 257}, {"ANY", 255}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].code;
	if (strncasecmp(t, "TYPE", 4) == 0 && isdigit((unsigned char)t[4])) {
		long v = strtol(t + 4, NULL, 10);
		if (v > 0 && v < 65536)
			return (int)v;
	}
	return -1;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Builds one query from a line of the query file; -1 with a reason. */
static int blast_build(struct blast_query *q, const char *name, const char *type, const char *extra,
                       const char **why)
{
	uint8_t *w = q->wire;
	memset(w, 0, 12);
	put16(w + 4, 1); /* QDCOUNT; RD clear: we ask authoritative servers */
	int n = blast_put_name(w + 12, BLAST_MAX_QUERY - 12 - 4 - 40, name);
	if (n < 0) {
		*why = "bad name";
		return -1;
	}
	int code = blast_type_code(type);
	if (code < 0) {
		*why = "unknown type";
		return -1;
	}
	size_t pos = 12 + (size_t)n;
	put16(w + pos, (unsigned)code);
	put16(w + pos + 2, 1); /* IN */
	pos += 4;
	if (extra && strcasecmp(extra, "noedns") == 0) {
		q->len = (uint16_t)pos;
		return 0;
	}
	put16(w + 10, 1); /* ARCOUNT: the OPT record */
	uint8_t *opt = w + pos;
	opt[0] = 0;            /* root owner */
	put16(opt + 1, 41);    /* OPT */
	put16(opt + 3, 1232);  /* payload size */
	memset(opt + 5, 0, 4); /* extended rcode, version, flags */
	put16(opt + 9, 0);     /* RDLENGTH, patched below */
	pos += 11;
	if (extra && strcasecmp(extra, "edns") != 0) {
		char addr[INET6_ADDRSTRLEN + 1];
		const char *slash = strchr(extra, '/');
		if (!slash || (size_t)(slash - extra) >= sizeof(addr)) {
			*why = "EXTRA must be noedns, edns or ADDR/LEN";
			return -1;
		}
		memcpy(addr, extra, (size_t)(slash - extra));
		addr[slash - extra] = 0;
		char *end;
		long len = strtol(slash + 1, &end, 10);
		uint8_t raw[16];
		int family;
		if (inet_pton(AF_INET, addr, raw) == 1)
			family = 1;
		else if (inet_pton(AF_INET6, addr, raw) == 1)
			family = 2;
		else {
			*why = "bad client subnet address";
			return -1;
		}
		if (*end || len < 0 || len > (family == 1 ? 32 : 128)) {
			*why = "bad client subnet length";
			return -1;
		}
		unsigned bytes = ((unsigned)len + 7) / 8;
		if (len % 8)
			raw[bytes - 1] &=
			    (uint8_t)(0xff << (8 - len % 8)); /* RFC 7871: no bits past the prefix */
		uint8_t *o = w + pos;
		put16(o, 8); /* OPTION-CODE: edns-client-subnet */
		put16(o + 2, 4 + bytes);
		put16(o + 4, (unsigned)family);
		o[6] = (uint8_t)len;
		o[7] = 0; /* scope */
		memcpy(o + 8, raw, bytes);
		pos += 8 + bytes;
		put16(opt + 9, 4 + 4 + bytes);
	}
	q->len = (uint16_t)pos;
	return 0;
}

static struct blast_query *blast_read_queries(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "dnsblast: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1024, n = 0;
	struct blast_query *qs = malloc(cap * sizeof(*qs));
	char line[1024];
	int lineno = 0;
	while (qs && fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *save = NULL;
		char *name = strtok_r(line, " \t\r\n", &save);
		if (!name)
			continue;
		char *type = strtok_r(NULL, " \t\r\n", &save);
		char *extra = strtok_r(NULL, " \t\r\n", &save);
		const char *why = "NAME TYPE [EXTRA] expected";
		if (n == cap) {
			cap *= 2;
			struct blast_query *bigger = realloc(qs, cap * sizeof(*qs));
			if (!bigger) {
				free(qs);
				qs = NULL;
				break;
			}
			qs = bigger;
		}
		if (!type || strtok_r(NULL, " \t\r\n", &save) ||
		    blast_build(&qs[n], name, type, extra, &why) < 0) {
			fprintf(stderr, "dnsblast: %s:%d: %s\n", path, lineno, why);
			free(qs);
			fclose(f);
			return NULL;
		}
		n++;
	}
	fclose(f);
	if (!qs) {
		fprintf(stderr, "dnsblast: out of memory\n");
		return NULL;
	}
	if (n == 0) {
		fprintf(stderr, "dnsblast: %s: no queries\n", path);
		free(qs);
		return NULL;
	}
	*count = n;
	return qs;
}

static bool blast_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

/* --dump: writes every query as a 2-byte big-endian length and its wire
 * bytes; -1 with a message on failure. */
static int blast_dump(const char *path, const struct blast_query *qs, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "dnsblast: %s: %s\n", path, strerror(errno));
		return -1;
	}
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		uint8_t len[2];
		put16(len, qs[i].len);
		ok = fwrite(len, 1, 2, f) == 2 && fwrite(qs[i].wire, 1, qs[i].len, f) == qs[i].len;
	}
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "dnsblast: %s: write failed: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Takes the replies waiting on one socket; returns how many were read. */
static int blast_receive(int fd, struct mmsghdr *msgs, unsigned batch, uint64_t *last_reply)
{
	int n = recvmmsg(fd, msgs, batch, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	uint64_t now = blast_now_ns();
	if (*last_reply) {
		double gap = (double)(now - *last_reply) / 1000.0;
		if (gap > stats.max_gap_us)
			stats.max_gap_us = gap;
	}
	*last_reply = now;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = msgs[i].msg_hdr.msg_iov->iov_base;
		unsigned len = msgs[i].msg_len;
		if (len < 12 || !(p[2] & 0x80)) {
			stats.stale++;
			continue;
		}
		unsigned id = (unsigned)p[0] << 8 | p[1];
		if (!blast_pending[id]) {
			stats.stale++; /* late, or an answer we did not ask for */
			continue;
		}
		blast_pending[id] = 0;
		stats.received++;
		stats.rcode[p[3] & 0x0f]++;
		uint64_t us = (now - blast_sent_at[id]) / 1000;
		stats.lat_sum_us += (double)(now - blast_sent_at[id]) / 1000.0;
		stats.hist[us < BLAST_HIST_US ? us : BLAST_HIST_US]++;
		msgs[i].msg_len = 0;
	}
	return n;
}

static double blast_percentile(double pct)
{
	unsigned long long total = 0;
	for (size_t i = 0; i <= BLAST_HIST_US; i++)
		total += stats.hist[i];
	if (!total)
		return 0;
	unsigned long long want = (unsigned long long)((double)total * pct / 100.0 + 0.5), seen = 0;
	if (want == 0)
		want = 1;
	for (size_t i = 0; i <= BLAST_HIST_US; i++) {
		seen += stats.hist[i];
		if (seen >= want)
			return (double)i + 0.5;
	}
	return BLAST_HIST_US;
}

static int blast_parse_options(int argc, char **argv, struct blast_options *o)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},  {"port", required_argument, NULL, 'p'},
	    {"queries", required_argument, NULL, 'q'}, {"rate", required_argument, NULL, 'r'},
	    {"window", required_argument, NULL, 'w'},  {"batch", required_argument, NULL, 'b'},
	    {"sockets", required_argument, NULL, 'S'}, {"count", required_argument, NULL, 'n'},
	    {"time", required_argument, NULL, 't'},    {"drain", required_argument, NULL, 'd'},
	    {"cpu", required_argument, NULL, 'C'},     {"human", no_argument, NULL, 'H'},
	    {"dump", required_argument, NULL, 'D'},    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *server = "127.0.0.1";
	long port = 0;
	*o = (struct blast_options){
	    .window = 256, .batch = 32, .sockets = 1, .seconds = 5, .drain_ms = 200, .cpu = -1};
	int c;
	while ((c = getopt_long(argc, argv, "s:p:q:r:w:b:S:n:t:d:C:D:Hh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'q':
			o->query_file = optarg;
			break;
		case 'r':
			o->rate = strtod(optarg, NULL);
			break;
		case 'w':
			o->window = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o->batch = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			o->sockets = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->count = strtoull(optarg, NULL, 10);
			break;
		case 't':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'd':
			o->drain_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			o->cpu = (int)strtol(optarg, NULL, 10);
			break;
		case 'H':
			o->human = true;
			break;
		case 'D':
			o->dump_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (o->dump_file && optind == argc && o->query_file)
		return 0; /* dump mode: no target, no load options */
	if (optind < argc || !o->query_file || port <= 0 || port > 65535) {
		usage(stderr);
		return -1;
	}
	if (o->batch < 1 || o->batch > BLAST_MAX_BATCH || o->window < 1 || o->window > 60000 ||
	    o->sockets < 1 || o->sockets > BLAST_MAX_SOCKETS || o->rate < 0 || o->seconds <= 0 ||
	    o->seconds > BLAST_MAX_SECONDS || o->drain_ms > 10000) {
		fprintf(stderr, "dnsblast: an option is out of range (see --help)\n");
		return -1;
	}
	memset(&o->target, 0, sizeof(o->target));
	struct sockaddr_in *in = (struct sockaddr_in *)&o->target;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->target;
	if (inet_pton(AF_INET, server, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		o->target_len = sizeof(*in);
	} else if (inet_pton(AF_INET6, server, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		o->target_len = sizeof(*in6);
	} else {
		fprintf(stderr, "dnsblast: '%s' is not an IP address\n", server);
		return -1;
	}
	if (!blast_is_loopback(&o->target)) {
		fprintf(stderr,
		        "dnsblast: %s is not a loopback address; this tool only benchmarks local servers\n",
		        server);
		return -1;
	}
	return 0;
}

/* Static: the buffers are large (256 x 4 KiB of replies) and live as long
 * as the process. */
static uint8_t blast_out_buf[BLAST_MAX_BATCH][BLAST_MAX_QUERY];
static uint8_t blast_in_buf[BLAST_MAX_BATCH][BLAST_MAX_REPLY];
static struct iovec blast_out_iov[BLAST_MAX_BATCH], blast_in_iov[BLAST_MAX_BATCH];
static struct mmsghdr blast_out_msg[BLAST_MAX_BATCH], blast_in_msg[BLAST_MAX_BATCH];

int main(int argc, char **argv)
{
	struct blast_options o;
	if (blast_parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "dnsblast: cannot pin to CPU %d: %s\n", o.cpu, strerror(errno));
			return 2;
		}
	}
	size_t nq;
	struct blast_query *queries = blast_read_queries(o.query_file, &nq);
	if (!queries)
		return 2;
	if (o.dump_file) {
		int rc = blast_dump(o.dump_file, queries, nq) < 0 ? 2 : 0;
		free(queries);
		return rc;
	}

	int fds[BLAST_MAX_SOCKETS];
	for (unsigned i = 0; i < o.sockets; i++) {
		fds[i] = socket(o.target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		int buf = 4 << 20;
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&o.target, o.target_len) < 0) {
			fprintf(stderr, "dnsblast: socket: %s\n", strerror(errno));
			return 2;
		}
		/* Best effort: a bigger receive buffer absorbs bursts of replies. */
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	}
	for (unsigned i = 0; i < BLAST_MAX_BATCH; i++) {
		blast_out_iov[i].iov_base = blast_out_buf[i];
		blast_out_msg[i].msg_hdr.msg_iov = &blast_out_iov[i];
		blast_out_msg[i].msg_hdr.msg_iovlen = 1;
		blast_in_iov[i] = (struct iovec){.iov_base = blast_in_buf[i], .iov_len = BLAST_MAX_REPLY};
		blast_in_msg[i].msg_hdr.msg_iov = &blast_in_iov[i];
		blast_in_msg[i].msg_hdr.msg_iovlen = 1;
	}

	const bool open_loop = o.rate > 0;
	const uint64_t start = blast_now_ns();
	const uint64_t deadline = start + (uint64_t)(o.seconds * 1e9);
	uint64_t last_reply = 0, last_progress = start, last_send = start;
	unsigned long long seq = 0;
	size_t next_query = 0;
	unsigned next_socket = 0;
	unsigned long long inflight_base = 0; /* closed loop: replies + losses written off */

	for (;;) {
		uint64_t now = blast_now_ns();
		if (now >= deadline || (o.count && seq >= o.count))
			break;
		unsigned want;
		if (open_loop) {
			double due = o.rate * (double)(now - start) / 1e9 - (double)seq;
			want = due >= o.batch ? o.batch : (due >= 1 ? (unsigned)due : 0);
		} else {
			unsigned long long inflight = seq - stats.received - inflight_base;
			if (inflight > 0 && now - last_progress > BLAST_STALL_NS) {
				/* The window is gone (drops): write it off and refill. */
				inflight_base += inflight;
				memset(blast_pending, 0, sizeof(blast_pending));
				last_progress = now;
				inflight = 0;
			}
			unsigned long long room = o.window > inflight ? o.window - inflight : 0;
			want = room >= o.batch ? o.batch : (unsigned)room;
		}
		if (o.count && seq + want > o.count)
			want = (unsigned)(o.count - seq);
		if (want) {
			for (unsigned i = 0; i < want; i++) {
				const struct blast_query *q = &queries[next_query];
				if (++next_query == nq)
					next_query = 0;
				unsigned id = (unsigned)(seq + i) & 0xffff;
				memcpy(blast_out_buf[i], q->wire, q->len);
				blast_out_buf[i][0] = (uint8_t)(id >> 8);
				blast_out_buf[i][1] = (uint8_t)id;
				blast_out_iov[i].iov_len = q->len;
				blast_sent_at[id] = now;
				blast_pending[id] = (uint32_t)(seq + i + 1);
			}
			int fd = fds[next_socket];
			if (++next_socket == o.sockets)
				next_socket = 0;
			int r = sendmmsg(fd, blast_out_msg, want, 0);
			if (r < 0) {
				r = 0;
				if (errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) {
					fprintf(stderr, "dnsblast: sendmmsg: %s\n", strerror(errno));
					return 1;
				}
			}
			/* Queries the kernel refused were not sent: their IDs are not pending. */
			for (unsigned i = (unsigned)r; i < want; i++)
				blast_pending[(seq + i) & 0xffff] = 0;
			stats.send_errors += want - (unsigned)r;
			seq += (unsigned)r;
			if (r)
				last_send = now;
		}
		bool got = false;
		for (unsigned s = 0; s < o.sockets; s++)
			if (blast_receive(fds[s], blast_in_msg, o.batch, &last_reply) > 0)
				got = true;
		if (got)
			last_progress = blast_now_ns();
		if (!got && !want && !open_loop && o.window > 4) {
			/* Closed loop with a full window: sleep until a reply comes.
			 * With a few queries in flight (latency runs) spin instead,
			 * so our own wake-up time is not part of the latency. */
			struct pollfd pfd[BLAST_MAX_SOCKETS];
			for (unsigned s = 0; s < o.sockets; s++)
				pfd[s] = (struct pollfd){.fd = fds[s], .events = POLLIN};
			poll(pfd, o.sockets, 5);
		}
	}
	stats.elapsed = (double)(last_send - start) / 1e9;
	stats.sent = seq;
	/* Drain: late replies still count; what is missing after it is lost. */
	uint64_t drain_end = blast_now_ns() + (uint64_t)o.drain_ms * 1000000ull;
	while (stats.received + inflight_base < stats.sent) {
		uint64_t now = blast_now_ns();
		if (now >= drain_end)
			break;
		struct pollfd pfd[BLAST_MAX_SOCKETS];
		for (unsigned s = 0; s < o.sockets; s++)
			pfd[s] = (struct pollfd){.fd = fds[s], .events = POLLIN};
		int left = (int)((drain_end - now) / 1000000) + 1;
		if (poll(pfd, o.sockets, left) <= 0)
			break;
		for (unsigned s = 0; s < o.sockets; s++)
			blast_receive(fds[s], blast_in_msg, o.batch, &last_reply);
	}

	double elapsed = stats.elapsed > 0 ? stats.elapsed : (double)(blast_now_ns() - start) / 1e9;
	unsigned long long lost = stats.sent - stats.received;
	double qps = (double)stats.received / elapsed;
	double avg = stats.received ? stats.lat_sum_us / (double)stats.received : 0;
	double p50 = blast_percentile(50), p99 = blast_percentile(99);
	if (o.human) {
		printf("sent %llu, answered %llu (%.2f%% lost), %.3f s\n", stats.sent, stats.received,
		       stats.sent ? 100.0 * (double)lost / (double)stats.sent : 0.0, elapsed);
		printf(
		    "answered/s %.0f, latency avg %.1f us, p50 %.1f us, p99 %.1f us, longest gap %.1f us\n",
		    qps, avg, p50, p99, stats.max_gap_us);
		printf("rcodes: NOERROR %llu, SERVFAIL %llu, NXDOMAIN %llu, REFUSED %llu, FORMERR %llu\n",
		       stats.rcode[0], stats.rcode[2], stats.rcode[3], stats.rcode[5], stats.rcode[1]);
	} else {
		printf("{\"sent\": %llu, \"received\": %llu, \"lost\": %llu, \"stale\": %llu, "
		       "\"send_errors\": %llu, "
		       "\"seconds\": %.6f, \"qps\": %.1f, \"lat_avg_us\": %.2f, \"lat_p50_us\": %.1f, "
		       "\"lat_p99_us\": %.1f, \"max_gap_us\": %.1f, \"noerror\": %llu, \"servfail\": %llu, "
		       "\"nxdomain\": %llu, \"refused\": %llu, \"formerr\": %llu}\n",
		       stats.sent, stats.received, lost, stats.stale, stats.send_errors, elapsed, qps, avg,
		       p50, p99, stats.max_gap_us, stats.rcode[0], stats.rcode[2], stats.rcode[3],
		       stats.rcode[5], stats.rcode[1]);
	}
	free(queries);
	for (unsigned i = 0; i < o.sockets; i++)
		close(fds[i]);
	return 0;
}
