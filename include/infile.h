/*
 * infile — opening the files an operator names (the config, zone files and
 * their $INCLUDEs, latency tables, GeoIP databases) for reading.
 *
 * Only regular files are read.  A FIFO would block the open itself and a
 * character device such as /dev/zero never ends: either would stall the
 * loop thread that reloads (and with it the control socket and SIGTERM),
 * or grow memory until the kernel kills the server.  The open never blocks
 * (O_NONBLOCK until the type is known) and the descriptor is close-on-exec.
 */
#ifndef GEOSTEER_INFILE_H
#define GEOSTEER_INFILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Opens path for reading ("rb").  On failure returns NULL and writes why
 * into why (strerror text, or e.g. "not a regular file: a FIFO").
 */
FILE *infile_open(const char *path, char *why, size_t whylen);

/* For a file a library opens itself: 0 when path is a regular file, else -1
 * with why written as for infile_open. */
int infile_check(const char *path, char *why, size_t whylen);

#endif
