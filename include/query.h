/*
 * query — answers one DNS request from a zone table: the authoritative
 * server's semantics (RFC 1034 4.3.2, RFC 2308 negative answers, RFC 4592
 * wildcards, RFC 6891 EDNS, RFC 8482 minimal ANY, RFC 5001 NSID).
 *
 * query_respond() is the whole query path after the socket: parse with
 * wire, decide with zone, write with wire.  It allocates nothing, takes no
 * lock and cannot fail except by answering FORMERR, NOTIMP, REFUSED or
 * SERVFAIL as the protocol says (or dropping what must not be answered).
 */
#ifndef GEOSTEER_QUERY_H
#define GEOSTEER_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct zone_table;

struct query_settings {
	const uint8_t *nsid; /* NULL: no NSID */
	uint16_t nsid_len;
	uint16_t udp_payload; /* the server's EDNS UDP payload size (default 1232) */
};

enum query_transport { QUERY_UDP, QUERY_TCP };

struct query_client {
	const struct sockaddr *addr; /* source of the packet */
	enum query_transport transport;
};

/*
 * Writes the reply to req into resp (capacity respcap, at least 65535 for
 * TCP) and returns its length; 0 means send nothing.  Over UDP the reply
 * fits the client's limit (512 without EDNS, else its advertised size,
 * capped at settings->udp_payload): what does not fit sets TC and is left
 * out as whole RRsets.
 */
size_t query_respond(const struct zone_table *zones, const struct query_settings *settings,
		     const struct query_client *client, const uint8_t *req, size_t reqlen, uint8_t *resp,
		     size_t respcap);

#endif
