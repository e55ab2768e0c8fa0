/*
 * version — the one place geosteer's version is written, for
 * `geosteerd --version` and the control socket's `status`.
 */
#ifndef GEOSTEER_VERSION_H
#define GEOSTEER_VERSION_H

#define GEOSTEER_VERSION "0.1.0"

#endif
