/* Windows path helpers. Both '\' and '/' separate components (every Win32
 * file API accepts either), and a path may start with a drive ("C:") or a
 * UNC prefix ("\\server\share"). Paths are UTF-8, as libuv expects. */
#include <stdlib.h>
#include <string.h>

#include "platform.h"

static int is_sep(char c)
{
    return c == '\\' || c == '/';
}

static int has_drive(const char *path)
{
    char c = path[0];
    return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) && path[1] == ':';
}

static char *copy(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* "C:\a\b" -> "C:\a", "C:\b" -> "C:\", "C:b" -> "C:", "\b" -> "\", "b" -> ".".
 * Like dirname(3), separators repeated before the last component go too. */
char *tt_platform_dirname(const char *path)
{
    size_t root = has_drive(path) ? 2 : 0; /* the drive is never stripped */
    size_t end = strlen(path);
    while (end > root && !is_sep(path[end - 1]))
        end--;
    while (end > root + 1 && is_sep(path[end - 1])) /* keep one separator at the root */
        end--;
    if (end == root && root == 0)
        return copy(".", 1);
    if (end == root + 1 && is_sep(path[root]))
        return copy(path, root + 1);
    return copy(path, end);
}

/* "C:\x", "C:/x" and "\\server\share\x" are absolute. So, for our purpose
 * (never joining them to a base directory), are "\x" and "/x", which are
 * relative only to the current drive. "C:x" is not: it is relative to the
 * current directory of drive C. */
int tt_platform_path_is_absolute(const char *path)
{
    if (has_drive(path))
        return is_sep(path[2]);
    return is_sep(path[0]);
}

char tt_platform_path_sep(void)
{
    return '\\';
}
