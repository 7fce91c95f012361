/* Finding programs for tests: files and PATH lookups. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "support.h"

#ifdef _WIN32
#define PATH_SEP ';'
#else
#define PATH_SEP ':'
#endif

int tt_is_file(const char *path, int need_exec)
{
    uv_fs_t req;
    int rc = uv_fs_stat(NULL, &req, path, NULL);
    int ok = rc == 0 && (req.statbuf.st_mode & 0170000) == 0100000;
#ifndef _WIN32
    if (ok && need_exec)
        ok = (req.statbuf.st_mode & 0111) != 0;
#else
    (void)need_exec;
#endif
    uv_fs_req_cleanup(&req);
    return ok;
}

int tt_find_on_path(const char *name, int skip, char *out, size_t outlen)
{
    if (strchr(name, '/') || strchr(name, '\\')) {
        if (skip > 0 || strlen(name) >= outlen || !tt_is_file(name, 1))
            return 0;
        memcpy(out, name, strlen(name) + 1);
        return 1;
    }
    char path[16384];
    size_t len = sizeof path;
    if (uv_os_getenv("PATH", path, &len) != 0)
        return 0;
    size_t nlen = strlen(name);
    for (char *dir = path; dir && *dir;) {
        char *sep = strchr(dir, PATH_SEP);
        if (sep)
            *sep = '\0';
        size_t dlen = strlen(dir);
        if (dlen > 0 && dlen + nlen + 2 <= outlen) {
            memcpy(out, dir, dlen);
            out[dlen] = '/';
            memcpy(out + dlen + 1, name, nlen + 1);
            if (tt_is_file(out, 1) && skip-- == 0)
                return 1;
        }
        dir = sep ? sep + 1 : NULL;
    }
    return 0;
}
