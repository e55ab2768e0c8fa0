/*
 * fuzz_common — what the libFuzzer targets in fuzz/ share: the check that
 * a reply is a well-formed message, a private temporary folder for the
 * files a target writes its input to, the fixtures a config may name
 * (zone files, GeoIP databases, a latency table), asking a zone table one
 * question, and the check that a load error names where it went wrong.
 *
 * Every check abort()s: libFuzzer then keeps the input as a finding.
 */
#ifndef GEOSTEER_FUZZ_COMMON_H
#define GEOSTEER_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_set;
struct query_settings;
struct zone_table;

/* Reads every name and record of a reply to req; aborts on anything a
 * resolver would reject: QR clear, another ID, more than one question, a
 * counted record missing or unreadable, a byte after the last one. */
void fuzz_check_reply(const uint8_t *req, size_t reqlen, const uint8_t *resp, size_t len);

/* This process's temporary folder, made on the first call and removed
 * with everything in it at exit. */
const char *fuzz_tmpdir(void);

/* tmpdir/name in one of a few rotating static buffers. */
const char *fuzz_tmp_path(const char *name);

/* Writes size bytes to path (replacing it); aborts when it cannot, which
 * is a broken harness, not a finding. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/*
 * Fills dir with the files the repository's example configs name, relative
 * to the config's folder: zones/ (a copy of the repository's zones/ plus
 * other.example.zone), shop.example.zone and example.org.zone,
 * build/demo-geo.mmdb, geo.mmdb and geo/GeoLite2-City.mmdb (built by
 * tools/mkgeodb), asn.mmdb, and latency.txt / rtt.txt.  The repository is
 * $GEOSTEER_FUZZ_ROOT, default the current folder (tools/run-fuzz runs
 * there).  Aborts when a fixture cannot be made.
 */
void fuzz_make_fixtures(const char *dir);

/*
 * Asks zones one question, qname (wire form) qtype, as client (family 4
 * or 6, NULL: 192.0.2.1), over UDP with EDNS (and Client Subnet when ecs)
 * or over TCP, checks the reply with fuzz_check_reply and that a UDP reply
 * fits the client's limit, and returns its length.
 */
size_t fuzz_ask(const struct zone_table *zones, const struct policy_set *policies,
                const struct query_settings *settings, const uint8_t *qname, uint16_t qtype, int family,
                const uint8_t *client, bool ecs, bool tcp);

/*
 * A load error must be one line that starts with the file it is about
 * (the targets name every file by its absolute path), as "FILE:LINE: ..."
 * or "FILE: ...".  Aborts otherwise.  When $GEOSTEER_FUZZ_ERRORS names a
 * file, each new shape of message (digits and the temporary folder taken
 * out) is appended to it, so the messages a run met can be read, and
 * those without a line where one is known found.
 */
void fuzz_check_error(const char *err);

#endif
