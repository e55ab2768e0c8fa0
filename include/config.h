/*
 * config — reads geosteer.yaml (libyaml) into validated structs.
 *
 * Every key the file may hold is declared once in a schema table in
 * config.c (name, type, default, range), so validation is data, not
 * scattered ifs.  Unknown keys, wrong types and out-of-range values are
 * errors reported as "FILE:LINE: what is wrong": a typo must never silently
 * change routing.  Relative paths in the file (zone files, later databases)
 * are resolved against the folder of the config file.
 *
 * This keys:
 *   server: listen (list of "ADDR:PORT" / "[ADDR6]:PORT", default
 *           ["127.0.0.1:5300", "[::1]:5300"]), nsid (string, optional),
 *           workers (1..64, default one per online CPU), udp_payload
 *           (512..4096, default 1232), tcp_idle_timeout (ms, 1000..600000,
 *           default 10000), tcp_max_connections (1..65535, default 256)
 *   zones:  list of { origin, file }
 */
#ifndef GEOSTEER_CONFIG_H
#define GEOSTEER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[64]; /* as written in the file, for logs */
};

struct config_zone {
	char *origin;
	char *file; /* resolved path */
	int line;   /* line of the entry in the config, for errors */
};

struct config {
	char *path; /* the config file as given */
	struct config_listen *listen;
	size_t listen_count;
	char *nsid; /* NULL when not configured */
	unsigned workers;
	uint16_t udp_payload;
	unsigned tcp_idle_timeout_ms;
	unsigned tcp_max_connections;
	struct config_zone *zones;
	size_t zone_count;
};

/* Returns 0, or -1 with one line "FILE:LINE: message" in err; on failure
 * *out holds nothing to free. */
int config_load(const char *path, struct config *out, char *err, size_t errlen);

void config_free(struct config *config);

#endif
