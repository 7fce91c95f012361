/* Growable byte buffer. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void tt_buf_reserve(tt_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = tt_xrealloc(b->data, cap);
    b->cap = cap;
}

void tt_buf_append(tt_buf_t *b, const void *p, size_t n)
{
    tt_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tt_buf_appends(tt_buf_t *b, const char *s)
{
    tt_buf_append(b, s, strlen(s));
}

void tt_buf_appendf(tt_buf_t *b, const char *fmt, ...)
{
    /* Format straight into the spare room; only a longer result needs a
     * second pass (this runs for every response head). */
    if (b->cap - b->len < 64)
        tt_buf_reserve(b, 64);
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        tt_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void tt_buf_consume(tt_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

void tt_buf_reset(tt_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void tt_buf_free(tt_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int tt_buf_read_file(tt_buf_t *b, const char *path, size_t max, const char **why)
{
    static char msg[256];
    tt_buf_reset(b);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        *why = msg;
        return -1;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b->len <= max)
        tt_buf_append(b, chunk, n);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed || b->len > max) {
        snprintf(msg, sizeof msg, failed ? "cannot read: %s" : "file too large", strerror(saved));
        *why = msg;
        tt_buf_free(b);
        return -1;
    }
    tt_buf_append(b, "", 0); /* an empty file still gets a NUL-terminated buffer */
    return 0;
}
