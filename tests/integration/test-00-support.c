/* The test support itself: each tt_origin route, exercised directly (no
 * tether) through the test client, so that later failures can be blamed on
 * tether and not on the harness. */
#include <signal.h>
#include <uv.h>

#include "support.h"
#include "task.h"

#define T_MS 10000

/* Start an origin or fail the test. */
#define ORIGIN_UP(o) ASSERT_OK(tt_origin_start(o))

/* One request on a new connection; the response must parse. */
static void get(int port, const char *req, tt_resp_t *r)
{
    ASSERT_OK(tt_http_request(port, req, r, T_MS));
}

static int header_is(const tt_resp_t *r, const char *name, const char *want)
{
    char buf[256];
    const char *v = tt_resp_header(r, name, buf, sizeof buf);
    return v && strcmp(v, want) == 0;
}

/* Whether body bytes follow the pattern 'a' + i % 26. */
static int is_pattern(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)('a' + i % 26))
            return 0;
    return 1;
}

TEST_IMPL(support_origin_echo)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    /* Odd spacing and case must come back byte for byte. */
    const char *head = "POST /echo/x?q=1 HTTP/1.1\r\nHost: example\r\nX-Odd:  spaced \r\n"
                       "x-lower: v\r\nContent-Length: 5\r\n\r\n";
    char req[512];
    snprintf(req, sizeof req, "%shello", head);
    get(o.port, req, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "Content-Type", "text/plain"));
    ASSERT(header_is(&r, "X-Origin-Conn", "1"));
    ASSERT(header_is(&r, "X-Origin-Req", "1"));
    ASSERT_EQ(r.body_len, strlen(head) + 5);
    ASSERT_STR_EQ(r.body, req);
    tt_resp_free(&r);

    /* A chunked request body is decoded after the raw head. */
    get(o.port,
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        &r);
    ASSERT_STR_EQ(r.body, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nabcde");
    ASSERT(header_is(&r, "X-Origin-Conn", "2"));
    tt_resp_free(&r);

    /* A head that arrives in pieces is still kept byte for byte. */
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_sends(c, "\r\nGE"));
    tt_test_sleep_ms(20);
    ASSERT_OK(tt_tc_sends(c, "T /echo HTTP/1.1\r\nHo"));
    tt_test_sleep_ms(20);
    ASSERT_OK(tt_tc_sends(c, "st: a\r\n\r"));
    tt_test_sleep_ms(20);
    ASSERT_OK(tt_tc_sends(c, "\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"); /* leading CRLF dropped */
    tt_resp_free(&r);
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_status)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    get(o.port, "GET /status/503 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 503);
    ASSERT_STR_EQ(r.body, "status 503");
    ASSERT(header_is(&r, "Content-Length", "10"));
    tt_resp_free(&r);
    get(o.port, "GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(r.body_len, 0);
    ASSERT_EQ(tt_resp_header_count(&r, "Content-Length"), 0);
    tt_resp_free(&r);
    get(o.port, "GET /status/304 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 304);
    ASSERT_EQ(r.body_len, 0);
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_size)
{
    tt_origin_t o;
    tt_resp_t r;
    uint32_t sum;
    ORIGIN_UP(&o);
    get(o.port, "GET /size/100000 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "Content-Length", "100000"));
    ASSERT_EQ(r.body_len, 100000);
    ASSERT(is_pattern(r.body, r.body_len));
    ASSERT_EQ(r.chunked, 0);
    tt_resp_free(&r);
    get(o.port, "GET /size/0 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.body_len, 0);
    tt_resp_free(&r);

    /* 64 MiB counted, not stored. */
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_sends(c, "GET /size/67108864 HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response_count(c, &r, &sum, 60000));
    ASSERT_EQ(r.body_len, 67108864);
    ASSERT_NULL(r.body);
    ASSERT_EQ(sum, tt_pattern_sum(67108864));
    tt_resp_free(&r);
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_chunked)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    get(o.port, "GET /chunked/2500 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.chunked, 1);
    ASSERT(header_is(&r, "Transfer-Encoding", "chunked"));
    ASSERT_EQ(tt_resp_header_count(&r, "Content-Length"), 0);
    ASSERT_EQ(r.body_len, 2500);
    ASSERT(is_pattern(r.body, r.body_len));
    tt_resp_free(&r);

    /* The exact framing for ?chunk=M. */
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_sends(c, "GET /chunked/5?chunk=2 HTTP/1.1\r\nHost: a\r\n"
                             "Connection: close\r\n\r\n"));
    ASSERT_EQ(tt_tc_wait_eof(c, T_MS), 1);
    size_t len;
    const char *data = tt_tc_data(c, &len);
    const char *body = strstr(data, "\r\n\r\n");
    ASSERT_NOT_NULL(body);
    ASSERT_STR_EQ(body + 4, "2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n");
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_eof)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    get(o.port, "GET /eof/3000 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.closed, 1);
    ASSERT_EQ(tt_resp_header_count(&r, "Content-Length"), 0);
    ASSERT(header_is(&r, "Connection", "close"));
    ASSERT_EQ(r.body_len, 3000);
    ASSERT(is_pattern(r.body, r.body_len));
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_sleep)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    uint64_t t0 = uv_hrtime();
    get(o.port, "GET /sleep/300 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "slept");
    ASSERT_GE(ms, 290);
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

/* Upload `total` bytes to /count, with Content-Length or chunked. */
static void count_upload(int port, uint64_t total, int chunked)
{
    tt_tc_t *c = tt_tc_connect(port, T_MS);
    tt_resp_t r;
    char head[256], want[64];
    ASSERT_NOT_NULL(c);
    if (chunked) {
        /* One chunk header for the whole pattern stream. */
        snprintf(head, sizeof head,
                 "POST /count HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%llx\r\n",
                 (unsigned long long)total);
    } else {
        snprintf(head, sizeof head,
                 "POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: %llu\r\n\r\n",
                 (unsigned long long)total);
    }
    ASSERT_OK(tt_tc_sends(c, head));
    ASSERT_OK(tt_tc_send_pattern(c, total, 60000));
    if (chunked)
        ASSERT_OK(tt_tc_sends(c, "\r\n0\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, 30000, 0));
    ASSERT_EQ(r.status, 200);
    snprintf(want, sizeof want, "bytes=%llu sum=%lu", (unsigned long long)total,
             (unsigned long)tt_pattern_sum(total));
    ASSERT_STR_EQ(r.body, want);
    tt_resp_free(&r);
    tt_tc_close(c);
}

TEST_IMPL(support_origin_count)
{
    tt_origin_t o;
    ORIGIN_UP(&o);
    count_upload(o.port, 10 * 1024 * 1024, 0);
    count_upload(o.port, 10 * 1024 * 1024, 1);
    count_upload(o.port, 0, 0);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_close)
{
    tt_origin_t o;
    ORIGIN_UP(&o);
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_sends(c, "GET /close HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_EQ(tt_tc_wait_eof(c, T_MS), 1);
    size_t len;
    tt_tc_data(c, &len);
    ASSERT_EQ(len, 0);
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_respond)
{
    tt_origin_t o;
    tt_resp_t r;
    char buf[128];
    ORIGIN_UP(&o);
    get(o.port,
        "GET /respond?status=201&h=X-A:1&h=Keep-Alive:timeout%3D5&h=X-Sp:a%20b&body=hi%21 "
        "HTTP/1.1\r\nHost: a\r\n\r\n",
        &r);
    ASSERT_EQ(r.status, 201);
    ASSERT_STR_EQ(tt_resp_header(&r, "x-a", buf, sizeof buf), "1");
    ASSERT_STR_EQ(tt_resp_header(&r, "Keep-Alive", buf, sizeof buf), "timeout=5");
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Sp", buf, sizeof buf), "a b");
    ASSERT_STR_EQ(r.body, "hi!");
    ASSERT(header_is(&r, "Content-Length", "3"));
    ASSERT_NOT_NULL(tt_resp_header(&r, "X-Origin-Conn", buf, sizeof buf));
    tt_resp_free(&r);

    /* Defaults: 200, empty body. */
    get(o.port, "GET /respond HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, 0);
    ASSERT(header_is(&r, "Content-Length", "0"));
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_head)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    /* Both on one connection: a body after the HEAD answer would be read as
     * the second response's status line and fail it. */
    ASSERT_OK(tt_tc_sends(c, "HEAD /size/1234 HTTP/1.1\r\nHost: a\r\n\r\n"
                             "HEAD /chunked/10 HTTP/1.1\r\nHost: a\r\n\r\n"
                             "GET /status/404 HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 1));
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "Content-Length", "1234"));
    ASSERT_EQ(r.body_len, 0);
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 1));
    ASSERT(header_is(&r, "Transfer-Encoding", "chunked"));
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_EQ(r.body, "status 404");
    tt_resp_free(&r);
    tt_tc_close(c);

    get(o.port, "HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    char want[16];
    snprintf(want, sizeof want, "%zu", strlen("HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT(header_is(&r, "Content-Length", want)); /* the would-be body is the head itself */
    ASSERT_EQ(r.body_len, 0);
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_pipeline)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    /* The slow one first: answers must still come in request order. */
    ASSERT_OK(tt_tc_sends(c, "GET /sleep/200 HTTP/1.1\r\nHost: a\r\n\r\n"
                             "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
                             "GET /status/202 HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "slept");
    ASSERT(header_is(&r, "X-Origin-Req", "1"));
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz");
    ASSERT(header_is(&r, "X-Origin-Req", "2"));
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 202);
    ASSERT(header_is(&r, "X-Origin-Req", "3"));
    ASSERT(header_is(&r, "X-Origin-Conn", "1"));
    tt_resp_free(&r);
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_keepalive)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    for (int i = 1; i <= 3; i++) {
        char want[16];
        ASSERT_OK(tt_tc_sends(c, "GET /size/10 HTTP/1.1\r\nHost: a\r\n\r\n"));
        ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
        snprintf(want, sizeof want, "%d", i);
        ASSERT(header_is(&r, "X-Origin-Conn", "1"));
        ASSERT(header_is(&r, "X-Origin-Req", want));
        ASSERT_EQ(r.closed, 0);
        tt_resp_free(&r);
    }
    /* Connection: close is honoured. */
    ASSERT_OK(tt_tc_sends(c, "GET /size/10 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT(header_is(&r, "Connection", "close"));
    tt_resp_free(&r);
    ASSERT_EQ(tt_tc_wait_eof(c, T_MS), 1);
    tt_tc_close(c);

    /* HTTP/1.0: closes by default, keeps alive when asked. */
    c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_sends(c, "GET /size/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_CONTAINS(r.head, "HTTP/1.0 200 OK\r\n");
    ASSERT(header_is(&r, "Connection", "keep-alive"));
    ASSERT(header_is(&r, "X-Origin-Conn", "2"));
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_sends(c, "GET /size/3 HTTP/1.0\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT(header_is(&r, "X-Origin-Req", "2"));
    ASSERT(header_is(&r, "Connection", "close"));
    tt_resp_free(&r);
    ASSERT_EQ(tt_tc_wait_eof(c, T_MS), 1);
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_not_found)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    get(o.port, "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_EQ(r.body, "not found");
    tt_resp_free(&r);
    get(o.port, "GET /size/abc HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 404);
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(support_origin_malformed)
{
    tt_origin_t o;
    tt_resp_t r;
    ORIGIN_UP(&o);
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /x HTTP/1.1\nHost: a\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_tc_t *c = tt_tc_connect(o.port, T_MS);
        ASSERT_NOT_NULL(c);
        ASSERT_OK(tt_tc_sends(c, bad[i]));
        ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
        ASSERT_EQ(r.status, 400);
        ASSERT(header_is(&r, "Connection", "close"));
        ASSERT_NOT_NULL(tt_resp_header(&r, "X-Origin-Req", (char[8]){0}, 8));
        tt_resp_free(&r);
        ASSERT_EQ(tt_tc_wait_eof(c, T_MS), 1);
        tt_tc_close(c);
    }
    tt_origin_stop(&o);
    return 0;
}

/* The process helpers: SIGTERM stops the origin with status 0. */
TEST_IMPL(support_origin_stop)
{
    tt_origin_t o;
    int64_t status = -1;
    int sig = -1;
    ORIGIN_UP(&o);
    ASSERT_GT(tt_proc_pid(o.proc), 0);
    ASSERT_OK(tt_proc_signal(o.proc, SIGTERM));
    ASSERT_EQ(tt_proc_wait_exit(o.proc, T_MS, &status, &sig), 1);
    /* A clean exit where SIGTERM is a signal; on Windows uv_process_kill
     * terminates the process and reports the signal it was asked for. */
    if (sig == 0)
        ASSERT_EQ(status, 0);
    else
        ASSERT_EQ(sig, SIGTERM);
    ASSERT_EQ(tt_tc_connect(o.port, 1000) == NULL, 1);
    tt_origin_stop(&o);
    return 0;
}

/* tt_proc_start by hand, with a log file; the file helpers. */
TEST_IMPL(support_origin_log)
{
    char *dir = tt_test_tmpdir();
    ASSERT_NOT_NULL(dir);
    char *port_file = tt_test_write_file(dir, "port", "");
    char *log = tt_test_write_file(dir, "origin.log", "first line\n");
    ASSERT_NOT_NULL(port_file);
    ASSERT_NOT_NULL(log);
    const char *args[] = {"--port-file", port_file, NULL};
    tt_proc_t *p = tt_proc_start("tt_origin", args, log);
    ASSERT_NOT_NULL(p);
    int port = tt_proc_wait_port(p, port_file, "http", T_MS);
    ASSERT_GT(port, 0);
    tt_resp_t r;
    get(port, "GET /status/200 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    tt_proc_free(p);

    size_t len;
    char *text = tt_test_read_file(log, &len);
    ASSERT_NOT_NULL(text);
    ASSERT_EQ(strncmp(text, "first line\n", 11), 0); /* appended, not truncated */
    ASSERT_CONTAINS(text, "GET /status/200 -> 200");
    ASSERT_NULL(tt_test_read_file("no/such/file", NULL));
    free(text);
    free(log);
    free(port_file);
    ASSERT_OK(tt_test_rmtree(dir));
    ASSERT_NULL(tt_test_read_file(dir, NULL));
    free(dir);
    return 0;
}
