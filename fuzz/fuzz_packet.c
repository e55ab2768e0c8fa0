/*
 * fuzz_packet — libFuzzer target for everything a packet from the network
 * reaches: the request parser, the name reader, the reply writer and, when
 * the rest of the server is linked in, the whole query path.
 *
 * Each input is treated as one request.  It is parsed (wire_parse_query),
 * names are read from a few offsets (wire_read_name), and a reply is built
 * straight with the writer so the writer is fuzzed even without the other
 * modules.  Then, if a zone table could be built (once, on the first input,
 * from $GEOSTEER_FUZZ_ZONE, default zones/shop.example.zone, origin
 * $GEOSTEER_FUZZ_ORIGIN, default shop.example), query_respond() answers it
 * over UDP and over TCP.
 *
 * Every reply must be a well-formed message, which is checked here with an
 * abort(): QR set, the request's ID, every counted record present and
 * readable, no byte after the last, and over UDP no larger than the
 * client's limit.  That turns silent encoding bugs into findings.
 *
 * The reply check is fuzz_check_reply (fuzz_common.c).  zone_table_build
 * and query_respond are weak references, so this file also links with
 * only wire.c and dname.c (tools/run-fuzz in wire-only mode); they are
 * then NULL and only the wire layer is fuzzed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"
#include "query.h"
#include "snapshot.h"
#include "wire.h"
#include "zone.h"

#pragma weak zone_table_build
#pragma weak query_respond
#pragma weak config_load
#pragma weak snapshot_build

#define FUZZ_UDP_PAYLOAD 1232

static struct zone_table *fuzz_zones;
static const struct policy_set *fuzz_policies;
static bool fuzz_initialised;
static uint8_t fuzz_resp[WIRE_MAX_MESSAGE];

static void fuzz_init(void)
{
	fuzz_initialised = true;
	if (zone_table_build == NULL || query_respond == NULL) {
		fprintf(stderr, "fuzz_packet: query path not linked in; fuzzing the wire layer only\n");
		return;
	}
	/* Preferably the whole store example (policies, GeoIP, fences), so
	 * the steering code is fuzzed too: $GEOSTEER_FUZZ_CONFIG, default
	 * geosteer.yaml (tools/run-fuzz builds its demo database first). */
	const char *config_path = getenv("GEOSTEER_FUZZ_CONFIG");
	if (config_path == NULL)
		config_path = "geosteer.yaml";
	if (config_load != NULL && snapshot_build != NULL && getenv("GEOSTEER_FUZZ_ZONE") == NULL) {
		static struct config config;
		static struct snapshot *snap; /* kept for the whole run */
		char cerr[512];
		if (config_load(config_path, &config, cerr, sizeof cerr) == 0 &&
		    snapshot_build(&config, &snap, cerr, sizeof cerr) == 0) {
			fuzz_zones = snap->zones;
			fuzz_policies = snap->policies;
			fprintf(stderr, "fuzz_packet: answering from %s (with policies)\n", config_path);
			return;
		}
		fprintf(stderr, "fuzz_packet: %s; falling back to a zone file\n", cerr);
	}
	const char *file = getenv("GEOSTEER_FUZZ_ZONE");
	const char *origin = getenv("GEOSTEER_FUZZ_ORIGIN");
	struct zone_source source = {
	    .origin = origin != NULL ? origin : "shop.example",
	    .file = file != NULL ? file : "zones/shop.example.zone",
	};
	char err[512];
	if (zone_table_build(&source, 1, &fuzz_zones, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_packet: %s; fuzzing the wire layer only\n", err);
		fuzz_zones = NULL;
		return;
	}
	fprintf(stderr, "fuzz_packet: answering from %s (%s)\n", source.file, source.origin);
}

/* Builds a small reply with the writer alone: the question echoed, the
 * input's tail as CNAME and SOA rdata (compressed when it has the shape,
 * verbatim otherwise), an OPT, under a limit taken from the input. */
static void fuzz_writer(const uint8_t *data, size_t size, const struct wire_query *q)
{
	struct wire_writer w;
	struct wire_mark mark;
	size_t limit = WIRE_HEADER_LEN + (size > 0 ? data[size - 1] : 0) * 4;
	size_t tail = size > 64 ? 64 : size;
	const uint8_t *rdata = data + size - tail;

	wire_writer_init(&w, fuzz_resp, limit);
	if (!wire_write_question(&w, data + WIRE_HEADER_LEN, q->question_len))
		return; /* does not fit the limit */
	wire_writer_mark(&w, &mark);
	wire_writer_set_limit(&w, limit + 256);
	(void)wire_write_rr(&w, WIRE_SECTION_ANSWER, q->qname, WIRE_TYPE_CNAME, WIRE_CLASS_IN, 60, rdata,
	                    (uint16_t)tail);
	(void)wire_write_rr(&w, WIRE_SECTION_AUTHORITY, q->qname, WIRE_TYPE_SOA, WIRE_CLASS_IN, 60, rdata,
	                    (uint16_t)tail);
	if (size % 3 == 0)
		wire_writer_rewind(&w, &mark);
	struct wire_opt opt = {
	    .udp_size = q->edns_udp_size,
	    .do_bit = q->edns_do,
	    .nsid = q->edns_nsid ? (const uint8_t *)"fuzz" : NULL,
	    .nsid_len = 4,
	    .ecs = q->ecs,
	    .ecs_family = q->ecs_family,
	    .ecs_source_prefix = q->ecs_source_prefix,
	    .ecs_address = q->ecs_address,
	};
	if (q->edns)
		(void)wire_write_opt(&w, &opt);
	size_t len = wire_writer_finish(&w, q->id, WIRE_FLAG_QR | WIRE_RCODE_NOERROR);
	if (len > w.limit)
		abort();
	fuzz_check_reply(data, size, fuzz_resp, len);
}

/* The UDP size limit query.h promises for this request. */
static size_t fuzz_udp_limit(const struct wire_query *q)
{
	if (!q->edns)
		return 512;
	size_t size = q->edns_udp_size < 512 ? 512 : q->edns_udp_size;
	return size > FUZZ_UDP_PAYLOAD ? FUZZ_UDP_PAYLOAD : size;
}

static void fuzz_query_path(const uint8_t *data, size_t size, enum wire_parse_status status,
                            const struct wire_query *q)
{
	static const uint8_t nsid[] = "fuzz";
	struct query_settings settings = {.nsid = nsid, .nsid_len = 4, .udp_payload = FUZZ_UDP_PAYLOAD};
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(5353)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(5353)};
	/* The source address comes from the request ID, so inputs without
	 * ECS still reach different geo branches. */
	v4.sin_addr.s_addr = size >= 2 ? htonl(0xC0000200u | data[1]) ^ htonl((uint32_t)data[0] << 8)
	                               : htonl(INADDR_LOOPBACK);
	v6.sin6_addr = in6addr_loopback;

	struct query_client udp = {.addr = (const struct sockaddr *)&v4, .transport = QUERY_UDP};
	size_t len =
	    query_respond(fuzz_zones, fuzz_policies, &settings, &udp, data, size, fuzz_resp, sizeof fuzz_resp);
	if (status == WIRE_PARSE_DROP && len != 0)
		abort();
	if (len > 0) {
		if (status == WIRE_PARSE_OK && len > fuzz_udp_limit(q))
			abort();
		fuzz_check_reply(data, size, fuzz_resp, len);
	}

	struct query_client tcp = {.addr = (const struct sockaddr *)&v6, .transport = QUERY_TCP};
	len = query_respond(fuzz_zones, fuzz_policies, &settings, &tcp, data, size, fuzz_resp, sizeof fuzz_resp);
	if (status == WIRE_PARSE_DROP && len != 0)
		abort();
	if (len > 0)
		fuzz_check_reply(data, size, fuzz_resp, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_query q;
	uint8_t name[DNAME_MAXLEN];

	if (!fuzz_initialised)
		fuzz_init();

	enum wire_parse_status status = wire_parse_query(data, size, &q);

	/* The name reader on its own, from a few places. */
	size_t offsets[] = {0,   WIRE_HEADER_LEN, size / 2, size > 2 ? size - 2 : 0, size > 0 ? data[0] : 0,
	                    size};
	for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
		size_t pos = offsets[i];
		int n = wire_read_name(data, size, &pos, name);
		if (n > 0 && (n > DNAME_MAXLEN || pos > size || (size_t)n != dname_len(name)))
			abort();
	}

	if (q.has_question) {
		if (q.qname_len != dname_len(q.qname) || q.question_len != q.qname_len + 4)
			abort();
		fuzz_writer(data, size, &q);
	}

	if (fuzz_zones != NULL)
		fuzz_query_path(data, size, status, &q);
	return 0;
}
