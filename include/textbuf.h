/*
 * textbuf — a growable, always NUL-terminated text buffer for replies that
 * are built off the query path: the control socket's JSON lines and the
 * /metrics page.
 *
 * An allocation that fails poisons the buffer: `failed` is set, every
 * later append does nothing, and the text already there stays as it was.
 * A caller builds the whole reply and checks `failed` once at the end.
 * A zeroed struct is an empty buffer; textbuf_free() releases it.
 */
#ifndef GEOSTEER_TEXTBUF_H
#define GEOSTEER_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
	char *data; /* NULL until the first append; then NUL-terminated */
	size_t len; /* bytes of text, the NUL not counted */
	size_t cap;
	bool failed;
};

/* Makes room for `more` bytes of text after len (and the NUL); false when
 * the buffer is or becomes poisoned.  For writers that fill data + len
 * themselves and then advance len. */
bool textbuf_reserve(struct textbuf *b, size_t more);

void textbuf_append(struct textbuf *b, const char *s);
void textbuf_printf(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the text (keeps the memory; a poisoned buffer stays poisoned). */
void textbuf_clear(struct textbuf *b);

void textbuf_free(struct textbuf *b);

#endif
