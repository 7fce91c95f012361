/* Reference-counted byte buffers. */
#include "rbuf.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

tt_rbuf_t *tt_rbuf_new(size_t len)
{
    tt_rbuf_t *b = tt_xmalloc(sizeof *b + len);
    b->refs = 1;
    b->len = (uint32_t)len;
    return b;
}

tt_rbuf_t *tt_rbuf_copy(const void *data, size_t len)
{
    tt_rbuf_t *b = tt_rbuf_new(len);
    if (len)
        memcpy(b->data, data, len);
    return b;
}

void tt_rbuf_unref(tt_rbuf_t *b)
{
    if (b && --b->refs == 0)
        free(b);
}
