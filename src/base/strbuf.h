/*
 * strbuf - a growable byte buffer with printf appends and a hard cap, for
 * building replies and reports without fixed-size truncation.
 */
#ifndef LOCALSA_BASE_STRBUF_H
#define LOCALSA_BASE_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len, cap, max; /* max == 0: 64 MiB */
	int err;              /* sticky: -ENOMEM or -E2BIG once an append failed */
};

void strbuf_init(struct strbuf *sb, size_t max);
void strbuf_free(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
int strbuf_append(struct strbuf *sb, const void *data, size_t len);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
