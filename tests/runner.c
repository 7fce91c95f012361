/* Test runner. `tt_tests NAME` runs one test in this process (what ctest
 * does); `tt_tests` alone runs every test, each in a child process with a
 * timeout, and prints "N passed, N failed, N skipped". `tt_tests --list`
 * prints the names. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "task.h"

#define TEST_DECLARE(name) int run_test_##name(void);
#include "test-list.gen.h"
#undef TEST_DECLARE

typedef struct {
    const char *name;
    int (*fn)(void);
} test_entry_t;

#define TEST_DECLARE(name) {#name, run_test_##name},
static const test_entry_t tests[] = {
#include "test-list.gen.h"
    {NULL, NULL}};
#undef TEST_DECLARE

#define CHILD_TIMEOUT_MS 120000

typedef struct {
    int64_t status;
    int term_signal;
    int exited;
} child_t;

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    child_t *c = p->data;
    c->status = status;
    c->term_signal = term_signal;
    c->exited = 1;
    uv_close((uv_handle_t *)p, NULL);
}

static void on_timeout(uv_timer_t *t)
{
    uv_process_t *p = t->data;
    fprintf(stderr, "timeout: killing child\n");
    uv_process_kill(p, SIGKILL);
}

/* Run one test in a child process; returns 0 pass, 1 fail, 2 skip. */
static int run_child(const char *self, const char *name)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char *args[] = {(char *)self, (char *)name, NULL};
    uv_stdio_container_t stdio[3];
    memset(stdio, 0, sizeof stdio);
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].data.fd = 2;
    uv_process_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.file = self;
    opts.args = args;
    opts.exit_cb = on_exit_cb;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    uv_process_t proc;
    child_t child = {0, 0, 0};
    proc.data = &child;
    int rc = uv_spawn(&loop, &proc, &opts);
    if (rc != 0) {
        fprintf(stderr, "spawn %s: %s\n", name, uv_strerror(rc));
        uv_loop_close(&loop);
        return 1;
    }
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &proc;
    uv_timer_start(&timer, on_timeout, CHILD_TIMEOUT_MS, 0);
    uv_unref((uv_handle_t *)&timer);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (child.term_signal)
        return 1;
    if (child.status == TEST_SKIP_CODE)
        return 2;
    return child.status == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (const test_entry_t *t = tests; t->name; t++)
            printf("%s\n", t->name);
        return 0;
    }
    if (argc == 2) {
        for (const test_entry_t *t = tests; t->name; t++)
            if (strcmp(t->name, argv[1]) == 0)
                return t->fn();
        fprintf(stderr, "no such test: %s\n", argv[1]);
        return 2;
    }
    char self[4096];
    size_t len = sizeof self;
    if (uv_exepath(self, &len) != 0) {
        fprintf(stderr, "cannot find own path\n");
        return 2;
    }
    int passed = 0, failed = 0, skipped = 0;
    for (const test_entry_t *t = tests; t->name; t++) {
        int r = run_child(self, t->name);
        printf("%s %s\n", r == 0 ? "ok    " : r == 2 ? "skip  " : "FAILED", t->name);
        if (r == 0)
            passed++;
        else if (r == 2)
            skipped++;
        else
            failed++;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
