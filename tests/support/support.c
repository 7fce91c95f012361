/* Test support: paths, temp dirs and files through libuv's synchronous fs
 * calls (so the same code works on Windows), and the tt_origin helpers. */
#include "support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "error.h"
#include "mem.h"

/* Generous: covers a loaded CI machine and wine's slower process start. */
#define ORIGIN_START_TIMEOUT_MS 10000
#define ORIGIN_STOP_TIMEOUT_MS 5000

const char *tt_test_bin_dir(void)
{
    static char dir[4096];
    if (dir[0])
        return dir;
    size_t len = sizeof dir;
    if (uv_exepath(dir, &len) != 0) {
        fprintf(stderr, "tt_test_bin_dir: uv_exepath failed\n");
        abort();
    }
    /* Windows paths may use either separator. */
    char *slash = strrchr(dir, '/');
    char *bslash = strrchr(dir, '\\');
    if (bslash && (!slash || bslash > slash))
        slash = bslash;
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    return dir;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = tt_xmalloc(a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

char *tt_test_tmpdir(void)
{
    char base[4096];
    size_t len = sizeof base;
    if (uv_os_tmpdir(base, &len) != 0)
        return NULL;
    char *tmpl = path_join(base, "tt-test-XXXXXX");
    uv_fs_t req;
    int rc = uv_fs_mkdtemp(NULL, &req, tmpl, NULL);
    char *dir = rc == 0 ? tt_xstrdup(req.path) : NULL;
    uv_fs_req_cleanup(&req);
    free(tmpl);
    if (!dir)
        fprintf(stderr, "tt_test_tmpdir: %s\n", uv_strerror(rc));
    return dir;
}

int tt_test_rmtree(const char *dir)
{
    uv_fs_t req;
    int first = 0;
    int rc = uv_fs_scandir(NULL, &req, dir, 0, NULL);
    if (rc < 0) {
        uv_fs_req_cleanup(&req);
        return rc;
    }
    uv_dirent_t ent;
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
        char *p = path_join(dir, ent.name);
        uv_fs_t sub;
        if (ent.type == UV_DIRENT_DIR) {
            rc = tt_test_rmtree(p);
        } else {
            rc = uv_fs_unlink(NULL, &sub, p, NULL);
            uv_fs_req_cleanup(&sub);
        }
        if (rc < 0 && first == 0)
            first = rc;
        free(p);
    }
    uv_fs_req_cleanup(&req);
    rc = uv_fs_rmdir(NULL, &req, dir, NULL);
    uv_fs_req_cleanup(&req);
    return first ? first : rc;
}

char *tt_test_write_file(const char *dir, const char *name, const char *content)
{
    char *path = path_join(dir, name);
    uv_fs_t req;
    int fd =
        uv_fs_open(NULL, &req, path, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC, 0644, NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    size_t len = strlen(content), off = 0;
    int rc = 0;
    while (off < len && rc >= 0) {
        uv_buf_t b = uv_buf_init((char *)content + off, (unsigned)(len - off));
        rc = uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL);
        uv_fs_req_cleanup(&req);
        if (rc > 0)
            off += (size_t)rc;
        else if (rc == 0)
            rc = UV_EIO;
    }
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    if (rc < 0) {
        free(path);
        return NULL;
    }
    return path;
}

char *tt_test_read_file(const char *path, size_t *len)
{
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, path, UV_FS_O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *data = tt_xmalloc(cap);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            data = tt_xrealloc(data, cap);
        }
        uv_buf_t b = uv_buf_init(data + n, (unsigned)(cap - n - 1));
        int rc = uv_fs_read(NULL, &req, fd, &b, 1, -1, NULL);
        uv_fs_req_cleanup(&req);
        if (rc < 0) {
            free(data);
            data = NULL;
            break;
        }
        if (rc == 0)
            break;
        n += (size_t)rc;
    }
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    if (data) {
        data[n] = '\0';
        if (len)
            *len = n;
    }
    return data;
}

void tt_test_sleep_ms(int ms)
{
    if (ms > 0)
        uv_sleep((unsigned)ms);
}

uint32_t tt_pattern_sum(uint64_t n)
{
    /* One period of 'a'..'z' sums to 26 * 97 + 325 = 2847. */
    uint64_t full = n / 26, rem = n % 26;
    uint64_t s = full * 2847u + rem * 97u + rem * (rem - 1) / 2;
    return (uint32_t)s;
}

int tt_origin_start(tt_origin_t *o)
{
    memset(o, 0, sizeof *o);
    o->dir = tt_test_tmpdir();
    if (!o->dir)
        return UV_EIO;
    char *port_file = path_join(o->dir, "origin.port");
    const char *args[] = {"--port-file", port_file, "--watch-stdin", NULL};
    o->proc = tt_proc_start("tt_origin", args, NULL);
    if (o->proc)
        o->port = tt_proc_wait_port(o->proc, port_file, "http", ORIGIN_START_TIMEOUT_MS);
    free(port_file);
    if (!o->proc || o->port <= 0) {
        fprintf(stderr, "tt_origin_start: origin did not start\n");
        tt_origin_stop(o);
        return TT_ETIMEOUT;
    }
    return 0;
}

void tt_origin_stop(tt_origin_t *o)
{
    if (o->proc) {
        tt_proc_signal(o->proc, SIGTERM);
        if (!tt_proc_wait_exit(o->proc, ORIGIN_STOP_TIMEOUT_MS, NULL, NULL))
            fprintf(stderr, "tt_origin_stop: no exit after SIGTERM, killing\n");
        tt_proc_free(o->proc);
    }
    if (o->dir) {
        tt_test_rmtree(o->dir);
        free(o->dir);
    }
    memset(o, 0, sizeof *o);
}
