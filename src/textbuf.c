/*
 * textbuf — see include/textbuf.h.  Capacity doubles from 256 bytes, so a
 * reply of n bytes costs O(log n) reallocations; a request for more than
 * half the address space poisons the buffer instead of overflowing the
 * size arithmetic.
 */
#include "textbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXTBUF_FIRST_CAP 256

bool textbuf_reserve(struct textbuf *b, size_t more)
{
	if (b->failed)
		return false;
	if (more > SIZE_MAX / 4 - b->len) {
		b->failed = true;
		return false;
	}
	size_t need = b->len + more + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : TEXTBUF_FIRST_CAP;
	while (cap < need)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (!data) {
		b->failed = true;
		return false;
	}
	if (!b->data)
		data[0] = '\0';
	b->data = data;
	b->cap = cap;
	return true;
}

void textbuf_append(struct textbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (!textbuf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n + 1);
	b->len += n;
}

void textbuf_printf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !textbuf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void textbuf_clear(struct textbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void textbuf_free(struct textbuf *b)
{
	free(b->data);
	*b = (struct textbuf){0};
}
