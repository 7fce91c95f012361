/* Allocation that never returns NULL: on exhaustion it logs and aborts,
 * as h2o and redis do. Sizes from input are bounded by limits before this. */
#ifndef TT_MEM_H
#define TT_MEM_H

#include <stddef.h>

void *tt_xmalloc(size_t n);
void *tt_xcalloc(size_t count, size_t size);
void *tt_xrealloc(void *p, size_t n);
char *tt_xstrdup(const char *s);
/* Copy of the first n bytes of s, NUL-terminated. */
char *tt_xstrndup(const char *s, size_t n);

#define tt_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define TT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
