/*
 * explain — how geosteerd answers one name for one client, in words: the
 * client's geolocation, every policy node visited with the choice made and
 * why (from policy_explain), then the reply exactly as the server would
 * send it, produced by running query_respond() on a query carrying the
 * client as EDNS Client Subnet (/32 or /128).  For `geosteerd --explain`
 * and the control socket's `explain`.  Not for the query path: it may
 * allocate.
 */
#ifndef GEOSTEER_EXPLAIN_H
#define GEOSTEER_EXPLAIN_H

#include <stddef.h>

struct snapshot;

/*
 * Writes the explanation of NAME TYPE (type NULL: A; a mnemonic such as
 * "AAAA" or "TYPE65") asked by client_ip (IPv4 or IPv6) into out,
 * NUL-terminated (cut at outlen - 1), and returns 0.  Returns -1 with a
 * one-line error in out for a bad address, a bad name, an unknown type, a
 * name in no zone served here, or no snapshot.  Health state is read live
 * (health_up_mask()), as queries read it.
 *
 * The text, one fact per line:
 *   query NAME TYPE from IP
 *   NAME: static data (no policy)          or the policy trace lines
 *   ...                                    (one block per name on the CNAME chain)
 *   reply: RCODE
 *     answer: OWNER TTL IN TYPE RDATA      each record of the answer section
 *     authority: ...                       each record of the authority section
 *   ttl N, ecs scope /S                    lowest TTL of the answer (of the
 *                                          authority when none), reply's scope
 */
int explain_query(const struct snapshot *snap, const char *client_ip, const char *name, const char *type,
                  char *out, size_t outlen);

#endif
