/* A growable byte buffer. `data` is always NUL-terminated (not counted in
 * `len`) so that text can be handed to C string functions. */
#ifndef TT_BUF_H
#define TT_BUF_H

#include "compat.h"
#include <stddef.h>

typedef struct tt_buf_s {
    char *data;
    size_t len;
    size_t cap;
} tt_buf_t;

#define TT_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void tt_buf_reserve(tt_buf_t *b, size_t extra);
void tt_buf_append(tt_buf_t *b, const void *p, size_t n);
void tt_buf_appends(tt_buf_t *b, const char *s);
void tt_buf_appendf(tt_buf_t *b, const char *fmt, ...) TT_PRINTF(2, 3);
/* Drop the first n bytes. */
void tt_buf_consume(tt_buf_t *b, size_t n);
void tt_buf_reset(tt_buf_t *b);
/* Read a whole file (binary) into b, replacing its contents; at most `max`
 * bytes. Returns 0, or -1 with *why set: "cannot open: <reason>",
 * "cannot read: <reason>" or "file too large" (static or thread-local
 * text, valid until the next call). b is always NUL-terminated on success. */
int tt_buf_read_file(tt_buf_t *b, const char *path, size_t max, const char **why);
/* Release the memory; the buffer is reusable afterwards. */
void tt_buf_free(tt_buf_t *b);

#endif
