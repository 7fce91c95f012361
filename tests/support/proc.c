/* Child processes for integration tests (tether, tt_origin), on uv_spawn.
 *
 * Each tt_proc_t owns a private loop that holds the process handle and the
 * write end of the child's stdin pipe; the loop runs only inside this file's
 * calls, so exit notifications are picked up when a test waits. Life cycle:
 *
 *   tt_proc_start -> running --(exit_cb)--> exited --tt_proc_free--> freed
 *                       \--tt_proc_free: SIGKILL, bounded wait --/
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mem.h"
#include "platform.h"
#include "support.h"

/* How long tt_proc_free waits for a killed child to be reaped. */
#define PROC_REAP_TIMEOUT_MS 5000
/* How often tt_proc_wait_port looks at the port file. */
#define PORT_POLL_MS 10

struct tt_proc_s {
    uv_loop_t loop;
    uv_process_t proc;
    uv_pipe_t in; /* our end of the child's stdin; closing it is EOF there */
    int in_closed;
    int exited;
    int64_t status;
    int term_signal;
};

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
    tt_proc_t *p = h->data;
    p->exited = 1;
    p->status = status;
    p->term_signal = term_signal;
}

static void on_wait_timer(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Run p's loop until the child exited or timeout_ms passed. */
static void run_until_exit(tt_proc_t *p, int timeout_ms)
{
    if (p->exited)
        return;
    int fired = 0;
    uv_timer_t timer;
    uv_timer_init(&p->loop, &timer);
    timer.data = &fired;
    uv_timer_start(&timer, on_wait_timer, (uint64_t)(timeout_ms > 0 ? timeout_ms : 0), 0);
    while (!p->exited && !fired)
        uv_run(&p->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&p->loop, UV_RUN_NOWAIT);
}

/* Full path of the executable `exe` beside tt_tests, with its suffix. */
static char *exe_path(const char *exe)
{
    char self[4096];
    size_t len = sizeof self;
    const char *suffix = "";
    /* A Windows build (native or under wine) runs as "...\tt_tests.exe". */
    if (uv_exepath(self, &len) == 0 && len > 4 &&
        (strcmp(self + len - 4, ".exe") == 0 || strcmp(self + len - 4, ".EXE") == 0))
        suffix = ".exe";
    const char *dir = tt_test_bin_dir();
    size_t n = strlen(dir) + strlen(exe) + strlen(suffix) + 2;
    char *path = tt_xmalloc(n);
    snprintf(path, n, "%s/%s%s", dir, exe, suffix);
    return path;
}

static int open_log(const char *log_path)
{
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, log_path, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_APPEND, 0644,
                        NULL);
    uv_fs_req_cleanup(&req);
    return fd;
}

static void close_fd(int fd)
{
    uv_fs_t req;
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
}

static int spawn(tt_proc_t *p, char *path, const char *const *args, int log_fd)
{
    size_t nargs = 0;
    while (args && args[nargs])
        nargs++;
    char **argv = tt_xcalloc(nargs + 2, sizeof *argv);
    argv[0] = path;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = (char *)args[i];

    uv_stdio_container_t stdio[3];
    stdio[0].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_READABLE_PIPE);
    stdio[0].data.stream = (uv_stream_t *)&p->in;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = log_fd >= 0 ? log_fd : 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = log_fd >= 0 ? log_fd : 2;

    uv_process_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.file = path;
    opts.args = argv;
    opts.exit_cb = on_exit_cb;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.flags = UV_PROCESS_WINDOWS_HIDE;
    p->proc.data = p;
    int rc = uv_spawn(&p->loop, &p->proc, &opts);
    free(argv);
    return rc;
}

static tt_proc_t *start(char *path, const char *const *args, const char *log_path);

tt_proc_t *tt_proc_start(const char *exe, const char *const *args, const char *log_path)
{
    return start(exe_path(exe), args, log_path);
}

tt_proc_t *tt_proc_start_tool(const char *tool, const char *const *args, const char *log_path)
{
    return start(tt_xstrdup(tool), args, log_path);
}

/* Start `path` (taken: freed here). */
static tt_proc_t *start(char *path, const char *const *args, const char *log_path)
{
    /* A child that dies while we write to it must be an error, not SIGPIPE. */
    tt_platform_init();
    tt_proc_t *p = tt_xcalloc(1, sizeof *p);
    int log_fd = -1;
    int rc = uv_loop_init(&p->loop);
    if (rc < 0)
        goto fail;
    uv_pipe_init(&p->loop, &p->in, 0);
    if (log_path && (log_fd = open_log(log_path)) < 0) {
        rc = log_fd;
        goto fail_loop;
    }
    rc = spawn(p, path, args, log_fd);
    if (log_fd >= 0)
        close_fd(log_fd);
    if (rc < 0)
        goto fail_loop;
    free(path);
    return p;

fail_loop:
    uv_close((uv_handle_t *)&p->in, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
fail:
    fprintf(stderr, "tt_proc_start %s: %s\n", path, uv_strerror(rc));
    free(path);
    free(p);
    return NULL;
}

int tt_proc_pid(tt_proc_t *p)
{
    return p->proc.pid;
}

/* Find "<kind> <addr>:<port>" in the text; return the port or -1. */
static int find_port(const char *text, const char *kind)
{
    size_t klen = strlen(kind);
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        if (!end)
            break; /* a line is complete only with its newline */
        if (strncmp(line, kind, klen) == 0 && line[klen] == ' ') {
            const char *colon = NULL;
            for (const char *q = line + klen + 1; q < end; q++)
                if (*q == ':')
                    colon = q;
            if (colon) {
                long port = strtol(colon + 1, NULL, 10);
                if (port > 0 && port < 65536)
                    return (int)port;
            }
        }
        line = end + 1;
    }
    return -1;
}

int tt_proc_wait_port(tt_proc_t *p, const char *path, const char *kind, int timeout_ms)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    for (;;) {
        char *text = tt_test_read_file(path, NULL);
        int port = text ? find_port(text, kind) : -1;
        free(text);
        if (port > 0)
            return port;
        uv_run(&p->loop, UV_RUN_NOWAIT);
        if (p->exited) {
            fprintf(stderr, "tt_proc_wait_port: process exited (status %lld, signal %d)\n",
                    (long long)p->status, p->term_signal);
            return -1;
        }
        if (uv_hrtime() >= deadline) {
            fprintf(stderr, "tt_proc_wait_port: no \"%s\" line in %s\n", kind, path);
            return -1;
        }
        tt_test_sleep_ms(PORT_POLL_MS);
    }
}

int tt_proc_signal(tt_proc_t *p, int signum)
{
    uv_run(&p->loop, UV_RUN_NOWAIT);
    if (p->exited)
        return UV_ESRCH;
    return uv_process_kill(&p->proc, signum);
}

int tt_proc_wait_exit(tt_proc_t *p, int timeout_ms, int64_t *status, int *term_signal)
{
    run_until_exit(p, timeout_ms);
    if (!p->exited)
        return 0;
    if (status)
        *status = p->status;
    if (term_signal)
        *term_signal = p->term_signal;
    return 1;
}

void tt_proc_close_stdin(tt_proc_t *p)
{
    if (p->in_closed)
        return;
    p->in_closed = 1;
    uv_close((uv_handle_t *)&p->in, NULL);
    uv_run(&p->loop, UV_RUN_NOWAIT);
}

void tt_proc_free(tt_proc_t *p)
{
    if (!p)
        return;
    if (tt_proc_signal(p, SIGKILL) == 0)
        run_until_exit(p, PROC_REAP_TIMEOUT_MS);
    if (!p->exited)
        fprintf(stderr, "tt_proc_free: pid %d did not exit\n", p->proc.pid);
    uv_close((uv_handle_t *)&p->proc, NULL);
    if (!p->in_closed)
        uv_close((uv_handle_t *)&p->in, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&p->loop) != 0)
        fprintf(stderr, "tt_proc_free: loop still busy\n");
    free(p);
}

int tt_run_tool(const char *tool, const char *const *args, int timeout_ms, char **out)
{
    char *dir = tt_test_tmpdir();
    char logp[4096];
    snprintf(logp, sizeof logp, "%s/out", dir);
    tt_proc_t *p = tt_proc_start_tool(tool, args, logp);
    if (p)
        tt_proc_close_stdin(p); /* tools that read stdin (openssl s_client) see EOF */
    int64_t status = -1;
    int sig = 0;
    int rc = -1;
    if (p && tt_proc_wait_exit(p, timeout_ms, &status, &sig))
        rc = sig ? -1 : (int)status;
    tt_proc_free(p);
    *out = tt_test_read_file(logp, NULL);
    if (!*out)
        *out = tt_xstrdup("");
    tt_test_rmtree(dir);
    free(dir);
    return rc;
}
