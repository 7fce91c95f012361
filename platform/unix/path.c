/* Unix path helpers. */
#include <stdlib.h>
#include <string.h>

#include "platform.h"

char *tt_platform_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int tt_platform_path_is_absolute(const char *path)
{
    return path[0] == '/';
}

char tt_platform_path_sep(void)
{
    return '/';
}
