/* Publishing with a real GRIP client library: @fanoutio/grip (the npm package
 * that Pushpin's docs point JavaScript users to), driven by
 * tests/fixtures/griplib/publish.mjs, publishes to Tether's control API
 * while test clients hold on the built-in `test` target (`* test`: GET
 * /stream and GET /response on channel "test").
 *
 * Needs `node` on PATH and the fixture's node_modules (tests/run.sh runs
 * `npm ci` there when npm exists); without them every test here reports
 * itself skipped. Node is started with uv_spawn from this file because
 * tt_proc_start only starts executables from the test bin dir. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "task.h"
#include "tether.h"

#define T_MS 10000
/* One `node publish.mjs` run: node starts in ~0.1 s; the script gives up
 * after 12 s by itself. */
#define NODE_MS 30000
#define GRIPLIB_DIR TT_SOURCE_DIR "/tests/fixtures/griplib"

#ifdef _WIN32
#define NODE_EXE "node.exe"
#else
#define NODE_EXE "node"
#endif

/* ---- node ---------------------------------------------------------------------- */

/* Find node on PATH into `out`. Returns 1 if found. */
static int find_node(char *out, size_t outlen)
{
    return tt_find_on_path(NODE_EXE, 0, out, outlen);
}

/* Why the tests here cannot run (static text), or NULL when they can; the
 * path of node goes to `node`. */
static const char *griplib_missing(char *node, size_t nodelen)
{
    if (!find_node(node, nodelen))
        return "node is not on PATH (the GRIP library tests need Node.js)";
    if (!tt_is_file(GRIPLIB_DIR "/publish.mjs", 0))
        return "tests/fixtures/griplib/publish.mjs is missing";
    if (!tt_is_file(GRIPLIB_DIR "/node_modules/@fanoutio/grip/package.json", 0))
        return "tests/fixtures/griplib/node_modules/@fanoutio/grip is not installed "
               "(run `npm ci` in tests/fixtures/griplib, as tests/run.sh does)";
    return NULL;
}

#define GRIPLIB_REQUIRE(node)                                                                      \
    do {                                                                                           \
        const char *why_ = griplib_missing((node), sizeof(node));                                  \
        if (why_)                                                                                  \
            TEST_SKIP(why_);                                                                       \
    } while (0)

typedef struct run_s {
    int exited;
    int64_t status;
    int term_signal;
    int timed_out;
} run_t;

static void on_node_exit(uv_process_t *h, int64_t status, int term_signal)
{
    run_t *r = h->data;
    r->exited = 1;
    r->status = status;
    r->term_signal = term_signal;
}

static void on_node_timer(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timed_out = 1;
}

/* Run `node publish.mjs ARGS...` to completion (bounded by NODE_MS, then
 * killed), stdout and stderr captured into *out (malloc'd). Returns the exit
 * status, or -1 when it was killed, timed out or could not start. */
static int run_publish(const char *node, const char *const *args, char **out)
{
    char *dir = tt_test_tmpdir();
    ASSERT_NOT_NULL(dir);
    char logp[4096];
    snprintf(logp, sizeof logp, "%s/out", dir);
    uv_fs_t req;
    int fd =
        uv_fs_open(NULL, &req, logp, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC, 0644, NULL);
    uv_fs_req_cleanup(&req);
    ASSERT_GE(fd, 0);

    const char *argv[32];
    int n = 0;
    argv[n++] = node;
    argv[n++] = GRIPLIB_DIR "/publish.mjs";
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    uv_loop_t loop;
    ASSERT_OK(uv_loop_init(&loop));
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fd;
    uv_process_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.file = node;
    opts.args = (char **)argv;
    opts.exit_cb = on_node_exit;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.cwd = GRIPLIB_DIR;
    opts.flags = UV_PROCESS_WINDOWS_HIDE;
    run_t r = {0, -1, 0, 0};
    uv_process_t proc;
    proc.data = &r;
    int rc = uv_spawn(&loop, &proc, &opts);
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    if (rc == 0) {
        uv_timer_t timer;
        uv_timer_init(&loop, &timer);
        timer.data = &r;
        uv_timer_start(&timer, on_node_timer, NODE_MS, 0);
        while (!r.exited && !r.timed_out)
            uv_run(&loop, UV_RUN_ONCE);
        if (!r.exited) {
            fprintf(stderr, "node publish.mjs did not finish in %d ms: killed\n", NODE_MS);
            uv_process_kill(&proc, SIGKILL);
            r.timed_out = 0;
            uv_timer_start(&timer, on_node_timer, 5000, 0);
            while (!r.exited && !r.timed_out)
                uv_run(&loop, UV_RUN_ONCE);
        }
        uv_close((uv_handle_t *)&timer, NULL);
        uv_close((uv_handle_t *)&proc, NULL);
    } else {
        fprintf(stderr, "uv_spawn %s: %s\n", node, uv_strerror(rc));
        uv_close((uv_handle_t *)&proc, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_OK(uv_loop_close(&loop));

    *out = tt_test_read_file(logp, NULL);
    if (!*out)
        *out = calloc(1, 1);
    tt_test_rmtree(dir);
    free(dir);
    fprintf(stderr, "node publish.mjs %s %s: status %lld%s\n%s", args[1] ? args[1] : "",
            args[2] ? args[2] : "", (long long)r.status, r.exited ? "" : " (not reaped)", *out);
    if (rc != 0 || !r.exited || r.term_signal)
        return -1;
    return (int)r.status;
}

/* Publish through the library and expect success: exit 0 and the control
 * API's 200 as seen by the library. `extra` may be NULL. */
static void lib_publish(const char *node, const tt_tether_t *t, const char *mode,
                        const char *content, const char *const *extra)
{
    char port[16];
    snprintf(port, sizeof port, "%d", t->control_port);
    const char *args[16] = {port, "test", mode, content};
    int n = 4;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    char *out = NULL;
    ASSERT_EQ(run_publish(node, args, &out), 0);
    ASSERT_CONTAINS(out, "\"ok\":true");
    ASSERT_CONTAINS(out, "\"status\":200");
    char url[64];
    snprintf(url, sizeof url, "\"url\":\"http://127.0.0.1:%d/publish/\"", t->control_port);
    ASSERT_CONTAINS(out, url);
    free(out);
}

/* ---- clients ------------------------------------------------------------------- */

static tt_tc_t *open_get(const tt_tether_t *t, const char *path)
{
    tt_tc_t *c = tt_tc_connect(t->port, T_MS);
    ASSERT_NOT_NULL(c);
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: example.com\r\n\r\n", path);
    ASSERT_OK(tt_tc_sends(c, req));
    return c;
}

/* Read until the buffered bytes contain `needle`; returns 1 if they do.
 * Each read waits for the whole remaining time: a tt_tc_t's loop runs only
 * inside its calls, so its clock is stale by however long the test did
 * something else, and a read whose timeout is shorter than that staleness
 * would wait for data with no timer at all (see the report on tclient.c's
 * tc_run). Waiting with the full remaining time keeps the bound. */
static int wait_for(tt_tc_t *c, const char *needle, int timeout_ms)
{
    uint64_t deadline = uv_hrtime() / 1000000u + (uint64_t)timeout_ms;
    for (;;) {
        size_t len;
        const char *d = tt_tc_data(c, &len);
        if (d && strstr(d, needle))
            return 1;
        uint64_t now = uv_hrtime() / 1000000u;
        if (now >= deadline)
            return 0;
        size_t before = len;
        tt_tc_read_n(c, len + 1, (int)(deadline - now));
        tt_tc_data(c, &len);
        if (len == before)
            return 0; /* timeout or EOF without the needle */
    }
}

/* The body bytes (after the head) buffered on a chunked stream. */
static const char *stream_body(tt_tc_t *c)
{
    const char *d = tt_tc_data(c, NULL);
    const char *end = d ? strstr(d, "\r\n\r\n") : NULL;
    ASSERT_NOT_NULL(end);
    return end + 4;
}

static void append_chunk(char *buf, size_t buflen, const char *data)
{
    size_t n = strlen(buf);
    snprintf(buf + n, buflen - n, "%zx\r\n%s\r\n", strlen(data), data);
}

/* ---- tests --------------------------------------------------------------------- */

/* http-stream and http-response messages published by the library reach a
 * stream client and a long-poll client byte for byte, and each only its own
 * kind of subscriber; the library's close action ends the stream. */
TEST_IMPL(griplib_stream_and_response)
{
    char node[4096];
    GRIPLIB_REQUIRE(node);
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, NULL, "* test\n", NULL));
    tt_tc_t *s = open_get(&t, "/stream");
    tt_tc_t *l = open_get(&t, "/response");
    ASSERT(tt_tether_wait_log(&t, "subscribe /stream channel=test", T_MS));
    ASSERT(tt_tether_wait_log(&t, "subscribe /response channel=test", T_MS));
    ASSERT(wait_for(s, "[stream open]\n", T_MS));
    ASSERT_CONTAINS(tt_tc_data(s, NULL), "HTTP/1.1 200 OK\r\n");
    ASSERT_CONTAINS(tt_tc_data(s, NULL), "Transfer-Encoding: chunked\r\n");

    /* JSON escapes on the way: quotes, a backslash, a tab, UTF-8, newline. */
    const char *msg = "from js-grip: \"quoted\" back\\slash\ttab caf\xc3\xa9\n";
    lib_publish(node, &t, "stream", msg, NULL);
    char expect[1024] = "";
    append_chunk(expect, sizeof expect, "[stream open]\n");
    append_chunk(expect, sizeof expect, msg);
    ASSERT(wait_for(s, msg, T_MS));
    ASSERT_STR_EQ(stream_body(s), expect);
    /* The long-poll client does not take an http-stream message. */
    /* (The long-poll client below gets the http-response message as its
     * first response: it did not take this http-stream message.) */

    /* Bytes (content-bin, base64 in the JSON) arrive decoded. */
    const char *bin = "bytes via content-bin\n";
    const char *bin_args[] = {"--bin", NULL};
    lib_publish(node, &t, "stream", bin, bin_args);
    append_chunk(expect, sizeof expect, bin);
    ASSERT(wait_for(s, bin, T_MS));
    ASSERT_STR_EQ(stream_body(s), expect);

    const char *body = "long-poll answer from js-grip \"q\"\n";
    lib_publish(node, &t, "response", body, NULL);
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(l, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, body);
    char v[64];
    ASSERT_STR_EQ(tt_resp_header(&r, "Content-Type", v, sizeof v), "text/plain");
    tt_resp_free(&r);
    /* HttpStreamFormat(null, true): action close ends the chunked body.
     * The stream's exact body shows it did not take the http-response
     * message published before it. */
    lib_publish(node, &t, "close", "-", NULL);
    ASSERT(wait_for(s, "\r\n0\r\n\r\n", T_MS));
    append_chunk(expect, sizeof expect, "");
    ASSERT_STR_EQ(stream_body(s), expect);

    ASSERT(tt_tether_wait_log(&t, "publish channel=test receivers=2", T_MS));
    tt_tc_close(s);
    tt_tc_close(l);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}

/* The library's id and prev-id arguments drive Tether's sequencing: an item
 * whose predecessor has not arrived waits for it, a repeated id is dropped,
 * and an Item with two formats and ids reaches both kinds of subscriber. */
TEST_IMPL(griplib_ids_and_item)
{
    char node[4096];
    GRIPLIB_REQUIRE(node);
    tt_tether_t t;
    ASSERT_OK(
        tt_tether_start(&t, "[handler]\nmessage_wait=20000\nid_cache_ttl=60\n", "* test\n", NULL));
    tt_tc_t *s = open_get(&t, "/stream");
    ASSERT(tt_tether_wait_log(&t, "subscribe /stream channel=test", T_MS));
    ASSERT(wait_for(s, "[stream open]\n", T_MS));

    const char *id1[] = {"--id=g1", NULL};
    lib_publish(node, &t, "stream", "<1>", id1);
    ASSERT(wait_for(s, "<1>", T_MS));
    /* g3 follows g2, which has not been published: held back. */
    const char *id3[] = {"--id=g3", "--prev-id=g2", NULL};
    lib_publish(node, &t, "stream", "<3>", id3);
    /* g2 arrives: it goes out, then g3 right after it (the exact body below
     * has <2> before <3>, though <3> was published first). */
    const char *id2[] = {"--id=g2", "--prev-id=g1", NULL};
    lib_publish(node, &t, "stream", "<2>", id2);
    ASSERT(wait_for(s, "<3>", T_MS));
    char expect[1024] = "";
    append_chunk(expect, sizeof expect, "[stream open]\n");
    append_chunk(expect, sizeof expect, "<1>");
    append_chunk(expect, sizeof expect, "<2>");
    append_chunk(expect, sizeof expect, "<3>");
    ASSERT_STR_EQ(stream_body(s), expect);

    /* The same id again is a duplicate. */
    lib_publish(node, &t, "stream", "<dup>", id2);
    ASSERT(tt_tether_wait_log(&t, "publish channel=test id=g2: duplicate dropped", T_MS));

    /* One Item with http-stream and http-response formats, id and prev-id. */
    tt_tc_t *l = open_get(&t, "/response");
    ASSERT(tt_tether_wait_log(&t, "subscribe /response channel=test", T_MS));
    const char *id4[] = {"--id=g4", "--prev-id=g3", NULL};
    lib_publish(node, &t, "item", "<4>\n", id4);
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(l, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "<4>\n");
    tt_resp_free(&r);
    ASSERT(wait_for(s, "<4>\n", T_MS));
    append_chunk(expect, sizeof expect, "<4>\n");
    ASSERT_STR_EQ(stream_body(s), expect);

    tt_tc_close(s);
    tt_tc_close(l);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    return 0;
}

/* The library's publish auth against publish_auth: a JWT signed with
 * control_iss + key, and a plain Bearer key; wrong or missing credentials
 * make the library reject with the 401. */
TEST_IMPL(griplib_auth)
{
    char node[4096];
    GRIPLIB_REQUIRE(node);
    static const struct {
        const char *conf;
        const char *good[3];
        const char *bad[3];
    } cases[] = {
        {"[tether]\npublish_auth=jwt:base64:c2VjcmV0\n", /* "secret" */
         {"--iss=tester", "--key=secret", NULL},
         {"--iss=tester", "--key=other", NULL}},
        {"[tether]\npublish_auth=bearer:t0ken\n", {"--key=t0ken", NULL}, {"--key=t0ke", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_tether_t t;
        ASSERT_OK(tt_tether_start(&t, cases[i].conf, "* test\n", NULL));
        tt_tc_t *s = open_get(&t, "/stream");
        ASSERT(tt_tether_wait_log(&t, "subscribe /stream channel=test", T_MS));
        char port[16];
        snprintf(port, sizeof port, "%d", t.control_port);
        char *out = NULL;
        const char *bad[8] = {port, "test", "stream", "<refused>", cases[i].bad[0], cases[i].bad[1],
                              NULL};
        ASSERT_EQ(run_publish(node, bad, &out), 1);
        ASSERT_CONTAINS(out, "publish failed");
        ASSERT_CONTAINS(out, "(status 401)");
        free(out);
        const char *none[] = {port, "test", "stream", "<no key>", NULL};
        ASSERT_EQ(run_publish(node, none, &out), 1);
        ASSERT_CONTAINS(out, "(status 401)");
        free(out);
        lib_publish(node, &t, "stream", "<authorized>", cases[i].good);
        ASSERT(wait_for(s, "<authorized>", T_MS));
        ASSERT_NOT_CONTAINS(tt_tc_data(s, NULL), "<refused>");
        ASSERT_NOT_CONTAINS(tt_tc_data(s, NULL), "<no key>");
        ASSERT(tt_tether_wait_log(&t, "refused: not authorized", T_MS));
        tt_tc_close(s);
        ASSERT_EQ(tt_tether_stop(&t), 0);
    }
    return 0;
}

/* Nothing listening: the library rejects and the script says so. */
TEST_IMPL(griplib_unreachable)
{
    char node[4096];
    GRIPLIB_REQUIRE(node);
    char port[16];
    snprintf(port, sizeof port, "%d", tt_dead_port());
    const char *args[] = {port, "test", "stream", "x", NULL};
    char *out = NULL;
    ASSERT_EQ(run_publish(node, args, &out), 1);
    ASSERT_CONTAINS(out, "publish failed");
    free(out);
    /* Bad usage is told apart from a failed publish. */
    const char *usage[] = {port, "test", "nonsense", "x", NULL};
    ASSERT_EQ(run_publish(node, usage, &out), 2);
    ASSERT_CONTAINS(out, "unknown mode");
    free(out);
    return 0;
}
