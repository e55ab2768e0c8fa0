/*
 * privileges — running as an unprivileged account once the sockets are
 * open (`server.user`).
 *
 * An authoritative server for a real domain listens on port 53, which
 * takes root (or CAP_NET_BIND_SERVICE) to bind; nothing after that needs
 * it.  As NSD (`username:`) and Knot (`user:`) do, geosteerd binds every
 * socket as root and then becomes the configured user for good: group list
 * cut to that one group, gid, then uid, and a check that root cannot be
 * taken back.  Everything read later (reloads: the config, zone files,
 * GeoIP databases, latency tables) is read as that user.
 *
 * The spec is "USER" (its primary group) or "USER:GROUP", names or
 * numbers.  Neither function allocates memory that outlives the call.
 */
#ifndef GEOSTEER_PRIVILEGES_H
#define GEOSTEER_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

struct privileges_account {
	uid_t uid;
	gid_t gid;
};

/* Resolves spec.  Returns NULL, or why it cannot be used ("no such user",
 * "no such group", "empty user name"), for a message that adds the file
 * and line. */
const char *privileges_lookup(const char *spec, struct privileges_account *out);

/*
 * Becomes account a (from privileges_lookup; spec is its text, for
 * messages).  0 when done or when the process already runs as exactly that
 * account; -1 with a one-line reason in err when the process is not root
 * (only root can change account), or when a step fails or root could be
 * taken back.
 */
int privileges_drop(const struct privileges_account *a, const char *spec, char *err, size_t errlen);

#endif
