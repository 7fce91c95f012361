/* ASCII string helpers. */
#include "str.h"

#include <string.h>

char tt_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

int tt_hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool tt_str_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (tt_lower(a[i]) != tt_lower(b[i]))
            return false;
    return true;
}

int tt_str_icmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int d = (unsigned char)tt_lower(*a) - (unsigned char)tt_lower(*b);
        if (d || !*a)
            return d;
    }
}

bool tt_str_list_has(const char *list, size_t len, const char *token)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end > start && tt_str_ieq(list + start, end - start, token))
            return true;
    }
    return false;
}
