/* WebSocket through tether with a real client library: Python's websockets
 * (Debian's python3-websockets, 10.4; its asyncio client websockets.connect),
 * driven by tests/fixtures/wslib/client.py. The routes are those of
 * test-04-ws.c: WebSocket-over-HTTP to tt_origin's /wsoh, passthrough to its
 * /ws, and the built-in test target under /t.
 *
 * Needs a python3 that can import websockets (tests/run.sh installs
 * python3-websockets); without one every test here reports itself skipped.
 * Candidates: $TETHER_TEST_PYTHON alone when it is set (a path, or a name
 * looked up on PATH), else every python3 on PATH in order (a pyenv or venv
 * python3 first on PATH does not see Debian's dist-packages; /usr/bin/python3
 * further on does). Each is asked `client.py --check`, the first that passes
 * is used. Python is started with uv_spawn from this file because
 * tt_proc_start only starts executables from the test bin dir. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "task.h"
#include "pki.h"
#include "tether.h"

#define T_MS 10000
/* One client.py run: python starts in ~0.2 s; the script bounds each step
 * to 10 s and the whole run to 30 s by itself. */
#define PY_MS 40000
#define WSLIB_DIR TT_SOURCE_DIR "/tests/fixtures/wslib"
#define CLIENT_PY WSLIB_DIR "/client.py"

#ifdef _WIN32
#define PYTHON_EXE "python3.exe"
#else
#define PYTHON_EXE "python3"
#endif

/* ---- running client.py -------------------------------------------------------------- */

/* One client.py process. It owns a private loop that runs only inside
 * py_wait; the struct must stay where it is from py_start to py_wait. */
typedef struct py_s {
    uv_loop_t loop;
    uv_process_t proc;
    uv_timer_t timer;
    int spawned;
    int exited;
    int timed_out;
    int64_t status;
    int term_signal;
    char *dir;
    char outp[4096];
    char errp[4096];
    char what[512];
} py_t;

static void on_py_exit(uv_process_t *h, int64_t status, int term_signal)
{
    py_t *p = h->data;
    p->exited = 1;
    p->status = status;
    p->term_signal = term_signal;
}

static void on_py_timer(uv_timer_t *t)
{
    py_t *p = t->data;
    p->timed_out = 1;
}

static int open_out(const char *path)
{
    uv_fs_t req;
    int fd =
        uv_fs_open(NULL, &req, path, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC, 0644, NULL);
    uv_fs_req_cleanup(&req);
    return fd;
}

static void close_fd(int fd)
{
    uv_fs_t req;
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
}

/* Start `python client.py ARGS...` (args NULL-terminated), stdout and stderr
 * to two files of a temp dir. Returns 0, or a negative libuv code when it
 * could not start (py_wait must be called either way). */
static int py_start(py_t *p, const char *python, const char *const *args)
{
    memset(p, 0, sizeof *p);
    p->status = -1;
    p->dir = tt_test_tmpdir();
    ASSERT_NOT_NULL(p->dir);
    snprintf(p->outp, sizeof p->outp, "%s/out", p->dir);
    snprintf(p->errp, sizeof p->errp, "%s/err", p->dir);
    int wn = snprintf(p->what, sizeof p->what, "%.200s client.py", python);
    size_t wl = wn > 0 && (size_t)wn < sizeof p->what ? (size_t)wn : 0;
    for (int i = 0; args[i] && wl + 2 < sizeof p->what; i++) {
        int n = snprintf(p->what + wl, sizeof p->what - wl, " %.40s", args[i]);
        wl += n > 0 ? (size_t)n : 0;
        if (wl >= sizeof p->what)
            wl = sizeof p->what - 1;
    }
    int ofd = open_out(p->outp);
    int efd = open_out(p->errp);
    ASSERT_GE(ofd, 0);
    ASSERT_GE(efd, 0);

    const char *argv[32];
    int n = 0;
    argv[n++] = python;
    argv[n++] = CLIENT_PY;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    ASSERT_OK(uv_loop_init(&p->loop));
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = ofd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = efd;
    uv_process_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.file = python;
    opts.args = (char **)argv;
    opts.exit_cb = on_py_exit;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    opts.cwd = WSLIB_DIR;
    opts.flags = UV_PROCESS_WINDOWS_HIDE;
    p->proc.data = p;
    int rc = uv_spawn(&p->loop, &p->proc, &opts);
    close_fd(ofd);
    close_fd(efd);
    if (rc != 0) {
        fprintf(stderr, "uv_spawn %s: %s\n", python, uv_strerror(rc));
        uv_close((uv_handle_t *)&p->proc, NULL);
        return rc;
    }
    p->spawned = 1;
    return 0;
}

/* Wait up to timeout_ms for the process started by py_start (then kill it),
 * clean up, and return its stdout in *out and stderr in *err (malloc'd;
 * either may be NULL to drop it). Returns the exit status, or -1 when it
 * could not start, was killed or timed out. */
static int py_wait(py_t *p, int timeout_ms, char **out, char **err)
{
    if (p->spawned) {
        uv_timer_init(&p->loop, &p->timer);
        p->timer.data = p;
        /* The loop has not run since py_start: its clock is stale. */
        uv_update_time(&p->loop);
        uv_timer_start(&p->timer, on_py_timer, (uint64_t)timeout_ms, 0);
        while (!p->exited && !p->timed_out)
            uv_run(&p->loop, UV_RUN_ONCE);
        if (!p->exited) {
            fprintf(stderr, "%s did not finish in %d ms: killed\n", p->what, timeout_ms);
            uv_process_kill(&p->proc, SIGKILL);
            p->timed_out = 0;
            uv_update_time(&p->loop);
            uv_timer_start(&p->timer, on_py_timer, 5000, 0);
            while (!p->exited && !p->timed_out)
                uv_run(&p->loop, UV_RUN_ONCE);
        }
        uv_close((uv_handle_t *)&p->timer, NULL);
        uv_close((uv_handle_t *)&p->proc, NULL);
    }
    uv_run(&p->loop, UV_RUN_DEFAULT);
    ASSERT_OK(uv_loop_close(&p->loop));

    char *o = tt_test_read_file(p->outp, NULL);
    char *e = tt_test_read_file(p->errp, NULL);
    if (!o)
        o = calloc(1, 1);
    if (!e)
        e = calloc(1, 1);
    tt_test_rmtree(p->dir);
    free(p->dir);
    p->dir = NULL;
    int rc = p->spawned && p->exited && !p->term_signal ? (int)p->status : -1;
    fprintf(stderr, "%s: status %d%s\n--- stdout\n%s--- stderr\n%s---\n", p->what, rc,
            p->exited ? "" : " (not reaped)", o, e);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

/* Run client.py to completion. */
static int py_run(const char *python, const char *const *args, char **out)
{
    py_t p;
    py_start(&p, python, args);
    return py_wait(&p, PY_MS, out, NULL);
}

/* Does `python` import websockets? (client.py --check exits 0.) */
static int python_ok(const char *python)
{
    const char *args[] = {"--check", NULL};
    char *out = NULL;
    int rc = py_run(python, args, &out);
    free(out);
    return rc == 0;
}

/* Why the tests here cannot run (static text), or NULL when they can; the
 * python to use goes to `py`. */
static const char *wslib_missing(char *py, size_t pylen)
{
    static char why[512];
    if (!tt_is_file(CLIENT_PY, 0))
        return "tests/fixtures/wslib/client.py is missing";
    char env[4096];
    size_t len = sizeof env;
    if (uv_os_getenv("TETHER_TEST_PYTHON", env, &len) == 0 && env[0]) {
        if (!tt_find_on_path(env, 0, py, pylen)) {
            snprintf(why, sizeof why, "TETHER_TEST_PYTHON=%.200s: not found", env);
            return why;
        }
        if (!python_ok(py)) {
            snprintf(why, sizeof why,
                     "TETHER_TEST_PYTHON=%.200s cannot import websockets (python3-websockets)",
                     env);
            return why;
        }
        return NULL;
    }
    int tried = 0;
    for (int i = 0; i < 8 && tt_find_on_path(PYTHON_EXE, i, py, pylen); i++) {
        tried++;
        if (python_ok(py))
            return NULL;
    }
    if (!tried)
        return "python3 is not on PATH (the wslib tests need Python 3 and python3-websockets)";
    return "no python3 on PATH can import websockets (install python3-websockets, as "
           "tests/run.sh does)";
}

#define WSLIB_REQUIRE(py)                                                                          \
    do {                                                                                           \
        const char *why_ = wslib_missing((py), sizeof(py));                                        \
        if (why_)                                                                                  \
            TEST_SKIP(why_);                                                                       \
    } while (0)

/* ---- tether and the origin ---------------------------------------------------------- */

typedef struct wfx_s {
    tt_origin_t origin;
    tt_tether_t tether;
} wfx_t;

static void wfx_start_conf(wfx_t *fx, const char *conf)
{
    memset(fx, 0, sizeof *fx);
    ASSERT_OK(tt_origin_start(&fx->origin));
    char routes[512];
    snprintf(routes, sizeof routes,
             "*,proto=ws,path_beg=/wsoh 127.0.0.1:%d,over_http\n"
             "*,proto=ws,path_beg=/ws 127.0.0.1:%d\n"
             "*,proto=ws,path_beg=/t test\n",
             fx->origin.port, fx->origin.port);
    ASSERT_OK(tt_tether_start(&fx->tether, conf, routes, NULL));
}

static void wfx_start(wfx_t *fx)
{
    wfx_start_conf(fx, NULL);
}

static void wfx_stop(wfx_t *fx)
{
    ASSERT_EQ(tt_tether_stop(&fx->tether), 0);
    tt_origin_stop(&fx->origin);
}

static void ws_url(const wfx_t *fx, const char *path, char *url, size_t len)
{
    snprintf(url, len, "ws://127.0.0.1:%d%s", fx->tether.port, path);
}

/* Poll the origin's /wslog until it contains `needle`; returns 1 if so. */
static int origin_saw(const wfx_t *fx, const char *needle)
{
    for (int waited = 0; waited <= T_MS; waited += 50) {
        tt_resp_t r;
        int found = 0;
        if (tt_http_request(fx->origin.port, "GET /wslog HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS) ==
            0) {
            found = r.status == 200 && r.body && strstr(r.body, needle) != NULL;
            if (found || waited + 50 > T_MS)
                fprintf(stderr, "origin /wslog:\n%s\n", r.body ? r.body : "");
            tt_resp_free(&r);
        }
        if (found)
            return 1;
        tt_test_sleep_ms(50);
    }
    return 0;
}

static void publish_ok(wfx_t *fx, const char *json)
{
    ASSERT_EQ(tt_tether_publish(&fx->tether, json, NULL), 200);
}

static void publish_text(wfx_t *fx, const char *text)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
             "{\"content\":\"%s\"}}}]}",
             text);
    publish_ok(fx, json);
}

/* ---- tests --------------------------------------------------------------------------- */

/* WebSocket-over-HTTP: the library's text (ASCII and UTF-8) and binary
 * messages make the round trip through the backend's events, and its close
 * with 1000 is answered with 1000 (the library checks the closing handshake
 * and waits for the TCP close); the backend saw the CLOSE event. */
TEST_IMPL(wslib_over_http_echo)
{
    char py[4096];
    WSLIB_REQUIRE(py);
    wfx_t fx;
    wfx_start(&fx);
    char url[128];
    ws_url(&fx, "/wsoh", url, sizeof url);
    const char *args[] = {url,
                          "echo",
                          "hello from websockets",
                          "caf\xc3\xa9 \xe2\x82\xac \"quoted\"",
                          "hex:00010203ff80",
                          NULL};
    char *out = NULL;
    ASSERT_EQ(py_run(py, args, &out), 0);
    ASSERT_STR_EQ(out, "connected subprotocol=none\n"
                       "text \"hello from websockets\"\n"
                       "text \"caf\\u00e9 \\u20ac \\\"quoted\\\"\"\n"
                       "binary 00010203ff80\n"
                       "close 1000\n");
    free(out);
    ASSERT(origin_saw(&fx, " CLOSE 1000\n"));
    ASSERT(tt_tether_wait_log(&fx.tether, "ws /wsoh from=127.0.0.1 closed", T_MS));
    wfx_stop(&fx);
    return 0;
}

/* Passthrough: the echo round trip, the subprotocol the library offered
 * first is negotiated end to end (tt_origin's /ws selects the first one
 * offered), and the close handshake completes with 1000 on both sides. */
TEST_IMPL(wslib_passthrough_subprotocol)
{
    char py[4096];
    WSLIB_REQUIRE(py);
    wfx_t fx;
    wfx_start(&fx);
    char url[128];
    ws_url(&fx, "/ws", url, sizeof url);
    const char *echo[] = {url, "echo", "plain echo", "hex:fffe00", NULL};
    char *out = NULL;
    ASSERT_EQ(py_run(py, echo, &out), 0);
    ASSERT_STR_EQ(out, "connected subprotocol=none\n"
                       "text \"plain echo\"\n"
                       "binary fffe00\n"
                       "close 1000\n");
    free(out);
    ASSERT(origin_saw(&fx, " close 1000\n"));

    const char *sub[] = {url, "subprotocol", "chat.v2,chat.v1", "with a subprotocol", NULL};
    ASSERT_EQ(py_run(py, sub, &out), 0);
    ASSERT_STR_EQ(out, "connected subprotocol=chat.v2\n"
                       "text \"with a subprotocol\"\n"
                       "close 1000\n");
    free(out);
    wfx_stop(&fx);
    return 0;
}

/* The test target: the library client waits while the test publishes; every
 * ws-message reaches it once, in publish order, text and binary. */
TEST_IMPL(wslib_test_target_publish_order)
{
    enum { N = 6 };
    char py[4096];
    WSLIB_REQUIRE(py);
    wfx_t fx;
    wfx_start(&fx);
    char url[128];
    ws_url(&fx, "/t/ws", url, sizeof url);
    char n[8];
    snprintf(n, sizeof n, "%d", N + 1);
    const char *args[] = {url, "wait", n, NULL};
    py_t p;
    ASSERT_OK(py_start(&p, py, args));
    int subscribed = tt_tether_wait_log(&fx.tether, "subscribe ws /t/ws channel=test", T_MS);
    if (!subscribed) {
        py_wait(&p, PY_MS, NULL, NULL);
        TT_TEST_FAIL("the client did not subscribe");
    }
    char expect[1024] = "connected subprotocol=none\n";
    for (int i = 1; i <= N; i++) {
        char text[32];
        snprintf(text, sizeof text, "message %d", i);
        publish_text(&fx, text);
        size_t el = strlen(expect);
        snprintf(expect + el, sizeof expect - el, "text \"%s\"\n", text);
    }
    /* Bytes (content-bin "3q2+7w==" is de ad be ef) arrive as a binary message. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
                    "{\"content-bin\":\"3q2+7w==\"}}}]}");
    size_t el = strlen(expect);
    snprintf(expect + el, sizeof expect - el, "binary deadbeef\nclose 1000\n");
    char *out = NULL;
    ASSERT_EQ(py_wait(&p, PY_MS, &out, NULL), 0);
    ASSERT_STR_EQ(out, expect);
    free(out);
    ASSERT(tt_tether_wait_log(&fx.tether, "ws /t/ws from=127.0.0.1 closed", T_MS));
    wfx_stop(&fx);
    return 0;
}

/* A publish-close (ws-message action close, code 4000) reaches the library
 * as the server's close with that code and reason, after the message
 * published before it; the library answers and the connection ends. */
TEST_IMPL(wslib_publish_close)
{
    char py[4096];
    WSLIB_REQUIRE(py);
    wfx_t fx;
    wfx_start(&fx);
    char url[128];
    ws_url(&fx, "/t/ws", url, sizeof url);
    const char *args[] = {url, "wait-close", NULL};
    py_t p;
    ASSERT_OK(py_start(&p, py, args));
    int subscribed = tt_tether_wait_log(&fx.tether, "subscribe ws /t/ws channel=test", T_MS);
    if (!subscribed) {
        py_wait(&p, PY_MS, NULL, NULL);
        TT_TEST_FAIL("the client did not subscribe");
    }
    publish_text(&fx, "last words");
    publish_ok(&fx, "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
                    "{\"action\":\"close\",\"code\":4000,\"reason\":\"gone away\"}}}]}");
    char *out = NULL;
    ASSERT_EQ(py_wait(&p, PY_MS, &out, NULL), 0);
    ASSERT_STR_EQ(out, "connected subprotocol=none\n"
                       "text \"last words\"\n"
                       "close 4000\n"
                       "reason \"gone away\"\n");
    free(out);
    ASSERT(tt_tether_wait_log(&fx.tether, "ws /t/ws from=127.0.0.1 closed", T_MS));
    wfx_stop(&fx);
    return 0;
}

/* A refusal by the backend of WebSocket-over-HTTP (403 to OPEN) reaches the
 * library as a failed handshake with that status. */
TEST_IMPL(wslib_over_http_rejected)
{
    char py[4096];
    WSLIB_REQUIRE(py);
    wfx_t fx;
    wfx_start(&fx);
    char url[128];
    ws_url(&fx, "/wsoh?reject=1", url, sizeof url);
    const char *args[] = {url, "reject", NULL};
    char *out = NULL;
    ASSERT_EQ(py_run(py, args, &out), 0);
    ASSERT_STR_EQ(out, "rejected 403\n");
    free(out);
    wfx_stop(&fx);
    return 0;
}

/* WSS: the library connects over TLS (https_ports, certificates made at
 * test time, the test CA trusted through SSL_CERT_FILE) to a
 * WebSocket-over-HTTP route, and the echo and close work as over TCP. */
TEST_IMPL(wslib_wss_over_http)
{
    char py[4096];
    WSLIB_REQUIRE(py);
    pki_t pki;
    pki_make(&pki);
    char conf[2048];
    snprintf(conf, sizeof conf, "[runner]\nhttps_ports=127.0.0.1:0\n[tether]\ncerts_dir=%s\n",
             pki.certs);
    wfx_t fx;
    wfx_start_conf(&fx, conf);
    ASSERT_OK(uv_os_setenv("SSL_CERT_FILE", at(pki.dir, "ca.crt").s));
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%d/wsoh", fx.tether.https_port);
    const char *args[] = {url, "echo", "secure hello", NULL};
    char *out = NULL;
    ASSERT_EQ(py_run(py, args, &out), 0);
    ASSERT_STR_EQ(out, "connected subprotocol=none\n"
                       "text \"secure hello\"\n"
                       "close 1000\n");
    free(out);
    uv_os_unsetenv("SSL_CERT_FILE");
    wfx_stop(&fx);
    pki_free(&pki);
    return 0;
}
