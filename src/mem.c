/* Allocation wrappers that abort on out-of-memory. */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "tether: out of memory allocating %zu bytes\n", n);
    abort();
}

void *tt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *tt_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *tt_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *tt_xstrdup(const char *s)
{
    return tt_xstrndup(s, strlen(s));
}

char *tt_xstrndup(const char *s, size_t n)
{
    char *p = tt_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
