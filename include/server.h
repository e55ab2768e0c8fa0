/*
 * server — moves packets: UDP worker threads (one SO_REUSEPORT socket per
 * worker and listen address, recvmmsg/sendmmsg batches) and TCP on a libuv
 * loop (RFC 7766: 2-byte framing, pipelined queries answered in order, idle
 * timeout, connection limit), plus signal handling (SIGTERM/SIGINT stop).
 *
 * Every packet goes to query_respond() with the current snapshot.
 */
#ifndef GEOSTEER_SERVER_H
#define GEOSTEER_SERVER_H

struct config;

/* Binds every listen address, serves until SIGTERM/SIGINT, returns 0 on a
 * clean stop, -1 when a socket could not be set up (logged). */
int server_run(const struct config *config);

/* What a reload does once the new snapshot is published (or its build
 * failed): frees the health slots and address bits the snapshot now served
 * does not use, and starts their answer counts over.  The loop thread;
 * public so that the fuzz targets reload exactly as the daemon does. */
void server_release_health_slots(void);

#endif
