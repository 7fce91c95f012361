/* Small string helpers that behave the same on every OS (no strcasecmp,
 * strndup or strtok_r, which mingw lacks or spells differently). */
#ifndef TT_STR_H
#define TT_STR_H

#include <stdbool.h>
#include <stddef.h>

/* ASCII case-insensitive equality of a (alen bytes) and NUL-terminated b. */
bool tt_str_ieq(const char *a, size_t alen, const char *b);
/* ASCII case-insensitive comparison of two NUL-terminated strings. */
int tt_str_icmp(const char *a, const char *b);
char tt_lower(char c);
/* Value of a hex digit (either case), or -1. */
int tt_hex_val(char c);
/* Whether the comma-separated token list (a header value) contains `token`,
 * case-insensitively, ignoring surrounding spaces. */
bool tt_str_list_has(const char *list, size_t len, const char *token);

#endif
