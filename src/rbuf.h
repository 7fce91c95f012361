/* Reference-counted immutable bytes: a published message rendered once for a
 * transport (for a stream, the chunk with its framing) and written to every
 * subscriber without a copy. Each write that queues it holds a reference and
 * releases it in its write callback. Loop thread only. */
#ifndef TT_RBUF_H
#define TT_RBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_rbuf_s {
    uint32_t refs;
    uint32_t len;
    char data[];
} tt_rbuf_t;

/* A new buffer of `len` bytes (uninitialised), refs = 1. */
tt_rbuf_t *tt_rbuf_new(size_t len);
/* A new buffer holding a copy of data. */
tt_rbuf_t *tt_rbuf_copy(const void *data, size_t len);
static inline tt_rbuf_t *tt_rbuf_ref(tt_rbuf_t *b)
{
    b->refs++;
    return b;
}
void tt_rbuf_unref(tt_rbuf_t *b);

#endif
