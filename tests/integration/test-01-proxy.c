/* Proxying over real sockets: tether between a raw client and tt_origin.
 * Each test checks the bytes that reach the backend (via /echo) or the
 * client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "platform.h"
#include "task.h"
#include "tether.h"

#define T_MS 10000

typedef struct fixture_s {
    tt_origin_t origin;
    tt_tether_t tether;
} fixture_t;

/* Replace {origin} and {dead} in a routes template. */
static char *routes_for(const char *tmpl, int origin, int dead)
{
    tt_buf_t b = TT_BUF_INIT;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{origin}", 8) == 0) {
            tt_buf_appendf(&b, "%d", origin);
            p += 8;
        } else if (strncmp(p, "{dead}", 6) == 0) {
            tt_buf_appendf(&b, "%d", dead);
            p += 6;
        } else {
            tt_buf_append(&b, p++, 1);
        }
    }
    return b.data;
}

static void fx_start(fixture_t *fx, const char *conf, const char *routes_tmpl)
{
    memset(fx, 0, sizeof *fx);
    ASSERT_OK(tt_origin_start(&fx->origin));
    char *routes = routes_for(routes_tmpl, fx->origin.port, tt_dead_port());
    ASSERT_OK(tt_tether_start(&fx->tether, conf, routes, NULL));
    free(routes);
}

static void fx_stop(fixture_t *fx)
{
    ASSERT_EQ(tt_tether_stop(&fx->tether), 0);
    tt_origin_stop(&fx->origin);
}

/* One request on a new connection; the response in *r. */
static void get(fixture_t *fx, const char *req, tt_resp_t *r)
{
    ASSERT_OK(tt_http_request(fx->tether.port, req, r, T_MS));
}

#define SIMPLE_ROUTE "* 127.0.0.1:{origin}\n"

TEST_IMPL(proxy_basic_get)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_resp_t r;
    get(&fx, "GET /echo/a?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nX-Custom: v1\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(strncmp(r.body, "GET /echo/a?x=1&y=%20 HTTP/1.1\r\n", 32) == 0);
    ASSERT_CONTAINS(r.body, "\r\nHost: example.com\r\n");
    ASSERT_CONTAINS(r.body, "\r\nX-Custom: v1\r\n");
    char v[64];
    ASSERT_NOT_NULL(tt_resp_header(&r, "X-Origin-Req", v, sizeof v));
    ASSERT_STR_EQ(tt_resp_header(&r, "Content-Type", v, sizeof v), "text/plain");
    tt_resp_free(&r);
    /* The access line is written just after the response leaves. */
    ASSERT(tt_tether_wait_log(&fx.tether, "GET /echo/a?x=1&y=%20 -> 127.0.0.1:", 5000));
    ASSERT(tt_tether_wait_log(&fx.tether, "code=200", 5000));
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_methods)
{
    static const char *methods[] = {"PUT", "DELETE", "PATCH", "OPTIONS", "POST", "GET"};
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        char req[256], want[64];
        snprintf(req, sizeof req, "%s /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok",
                 methods[i]);
        snprintf(want, sizeof want, "%s /echo HTTP/1.1\r\n", methods[i]);
        tt_resp_t r;
        get(&fx, req, &r);
        ASSERT_EQ(r.status, 200);
        ASSERT(strncmp(r.body, want, strlen(want)) == 0);
        ASSERT_CONTAINS(r.body, "Content-Length: 2\r\n\r\nok");
        tt_resp_free(&r);
    }
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_request_bodies)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_resp_t r;
    /* Empty body with Content-Length: 0. */
    get(&fx, "POST /count HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "bytes=0 sum=0");
    tt_resp_free(&r);
    /* 1 MiB with Content-Length. */
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_sends(c, "POST /count HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"));
    ASSERT_OK(tt_tc_send_pattern(c, 1048576, T_MS));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    char want[64];
    snprintf(want, sizeof want, "bytes=1048576 sum=%u", (unsigned)tt_pattern_sum(1048576));
    ASSERT_STR_EQ(r.body, want);
    tt_resp_free(&r);
    /* Chunked: decoded by tether, re-chunked toward the backend. */
    ASSERT_OK(tt_tc_sends(c, "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "Transfer-Encoding: chunked\r\n");
    ASSERT(r.body_len > 12 && memcmp(r.body + r.body_len - 12, "hello, world", 12) == 0);
    tt_resp_free(&r);
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_response_framing)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_resp_t r;
    char v[64];
    get(&fx, "GET /size/1048576 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, 1048576);
    ASSERT_STR_EQ(tt_resp_header(&r, "Content-Length", v, sizeof v), "1048576");
    ASSERT_EQ(r.body[26], 'a');
    tt_resp_free(&r);
    /* A chunked backend body reaches an HTTP/1.1 client chunked. */
    get(&fx, "GET /chunked/100000?chunk=777 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.body_len, 100000);
    ASSERT(r.chunked);
    ASSERT_EQ(r.body[99999], 'a' + 99999 % 26);
    tt_resp_free(&r);
    /* A close-delimited backend body: chunked to a 1.1 client (keep-alive kept)... */
    get(&fx, "GET /eof/5000 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.body_len, 5000);
    ASSERT(r.chunked);
    tt_resp_free(&r);
    /* ...and close-delimited to a 1.0 client. */
    get(&fx, "GET /eof/5000 HTTP/1.0\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.body_len, 5000);
    ASSERT(!r.chunked);
    ASSERT(r.closed);
    ASSERT(strncmp(r.head, "HTTP/1.0 200", 12) == 0);
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_keepalive_reuse)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_NOT_NULL(c);
    char conn1[32] = "", conn[32];
    for (int i = 0; i < 5; i++) {
        tt_resp_t r;
        ASSERT_OK(tt_tc_sends(c, "GET /respond?body=x HTTP/1.1\r\nHost: h\r\n\r\n"));
        ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
        ASSERT_EQ(r.status, 200);
        ASSERT_NULL(tt_resp_header(&r, "Connection", conn, sizeof conn));
        /* The backend saw every request on one pooled connection. */
        ASSERT_NOT_NULL(tt_resp_header(&r, "X-Origin-Conn", conn, sizeof conn));
        if (i == 0)
            strcpy(conn1, conn);
        ASSERT_STR_EQ(conn, conn1);
        tt_resp_free(&r);
    }
    tt_tc_close(c);
    /* A new client connection still reuses the pooled backend connection. */
    tt_resp_t r;
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Origin-Conn", conn, sizeof conn), conn1);
    tt_resp_free(&r);
    /* HTTP/1.0 keep-alive on request. */
    c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "GET /respond?body=a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(tt_resp_header(&r, "Connection", conn, sizeof conn), "keep-alive");
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_sends(c, "GET /respond?body=b HTTP/1.0\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "b");
    ASSERT_STR_EQ(tt_resp_header(&r, "Connection", conn, sizeof conn), "close");
    tt_resp_free(&r);
    ASSERT(tt_tc_wait_eof(c, T_MS));
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_pipelining)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_NOT_NULL(c);
    /* The slow first request must still be answered first. */
    ASSERT_OK(tt_tc_sends(c, "GET /sleep/300 HTTP/1.1\r\nHost: h\r\n\r\n"
                             "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                             "GET /respond?body=third HTTP/1.1\r\nHost: h\r\n\r\n"));
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "slept");
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT(r.body_len >= 3 && memcmp(r.body + r.body_len - 3, "abc", 3) == 0);
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "third");
    tt_resp_free(&r);
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_bodiless_responses)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    tt_resp_t r;
    char v[64];
    ASSERT_OK(tt_tc_sends(c, "HEAD /size/100 HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 1));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(tt_resp_header(&r, "Content-Length", v, sizeof v), "100");
    ASSERT_EQ(r.body_len, 0);
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_sends(c, "GET /status/204 HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 204);
    ASSERT_NULL(tt_resp_header(&r, "Content-Length", v, sizeof v));
    ASSERT_NULL(tt_resp_header(&r, "Transfer-Encoding", v, sizeof v));
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_sends(c, "GET /status/304 HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 304);
    ASSERT_NULL(tt_resp_header(&r, "Transfer-Encoding", v, sizeof v));
    tt_resp_free(&r);
    /* The connection is still in sync: nothing stray was sent. */
    ASSERT_OK(tt_tc_sends(c, "GET /respond?body=after HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "after");
    tt_resp_free(&r);
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_expect_continue)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "PUT /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                             "Content-Length: 4\r\n\r\n"));
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 100);
    tt_resp_free(&r);
    ASSERT_OK(tt_tc_sends(c, "data"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    /* Tether answered the expectation itself: the backend never sees it. */
    ASSERT_NOT_CONTAINS(r.body, "Expect");
    ASSERT(memcmp(r.body + r.body_len - 4, "data", 4) == 0);
    tt_resp_free(&r);
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_failover)
{
    fixture_t fx;
    fx_start(&fx, NULL, "* 127.0.0.1:{dead} 127.0.0.1:{origin}\n");
    tt_resp_t r;
    get(&fx, "GET /respond?body=second HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "second");
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_bad_gateway)
{
    fixture_t fx;
    fx_start(&fx, NULL, "*,path_beg=/dbg,debug 127.0.0.1:{dead}\n* 127.0.0.1:{dead}\n");
    tt_resp_t r;
    get(&fx, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 502);
    ASSERT_STR_EQ(r.body, "Unable to connect to any targets.\n");
    tt_resp_free(&r);
    /* With debug the body says which target failed and why. */
    get(&fx, "GET /dbg HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.body, "Unable to connect to any targets.\n127.0.0.1:");
    ASSERT_CONTAINS(r.body, "refused");
    tt_resp_free(&r);
    /* A backend that closes without answering is a 502 too. */
    fx_stop(&fx);
    fx_start(&fx, NULL, "*,debug 127.0.0.1:{origin}\n");
    get(&fx, "GET /close HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.body, "without a response");
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_gateway_timeout)
{
    fixture_t fx;
    fx_start(&fx, "[tether]\nbackend_response_timeout=300ms\n", "*,debug 127.0.0.1:{origin}\n");
    tt_resp_t r;
    get(&fx, "GET /sleep/3000 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 504);
    ASSERT_CONTAINS(r.body, "Gateway Timeout");
    ASSERT_CONTAINS(r.body, "backend response timeout");
    tt_resp_free(&r);
    /* A quick answer still works on the same route. */
    get(&fx, "GET /sleep/10 HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_limits_head)
{
    fixture_t fx;
    fx_start(&fx, "[runner]\nclient_buffer_size=1024\n", SIMPLE_ROUTE);
    tt_resp_t r;
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char req[4096];
    snprintf(req, sizeof req, "GET /echo HTTP/1.1\r\nHost: h\r\nX-Big: %s\r\n\r\n", big);
    get(&fx, req, &r);
    ASSERT_EQ(r.status, 431);
    ASSERT_CONTAINS(r.body, "header too large");
    tt_resp_free(&r);
    snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\nHost: h\r\n\r\n", big);
    get(&fx, req, &r);
    ASSERT_EQ(r.status, 414);
    tt_resp_free(&r);
    /* Just under the limit passes. */
    get(&fx, "GET /echo HTTP/1.1\r\nHost: h\r\nX-Small: 1\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_limits_body)
{
    fixture_t fx;
    fx_start(&fx, "[tether]\nmax_request_body=1000\n", SIMPLE_ROUTE);
    tt_resp_t r;
    get(&fx, "POST /count HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n", &r);
    ASSERT_EQ(r.status, 413);
    ASSERT_CONTAINS(r.body, "too large");
    tt_resp_free(&r);
    /* A chunked body is counted as it arrives. */
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "POST /count HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3e8\r\n"));
    ASSERT_OK(tt_tc_send_pattern(c, 1000, T_MS));
    ASSERT_OK(tt_tc_sends(c, "\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 413);
    tt_resp_free(&r);
    tt_tc_close(c);
    /* At the limit is fine. */
    c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "POST /count HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n"));
    ASSERT_OK(tt_tc_send_pattern(c, 1000, T_MS));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

/* Each malformed or ambiguous request gets 400 and a closed connection, and
 * nothing of it reaches the backend. */
TEST_IMPL(proxy_bad_requests)
{
    static const char *bad[] = {
        "garbage\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
        /* Content-Length and Transfer-Encoding together. */
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        /* Two Content-Length headers. */
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
        /* A chunk size that is not hex, and one that overflows. */
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "fffffffffffffffff\r\nx\r\n0\r\n\r\n",
        /* Transfer-Encoding that does not end in chunked. */
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        /* Bare LF line endings inside a header block and a space before the colon. */
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    };
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
        ASSERT_NOT_NULL(c);
        ASSERT_OK(tt_tc_sends(c, bad[i]));
        tt_resp_t r;
        int rc = tt_tc_read_response(c, &r, T_MS, 0);
        if (rc != 0 || r.status != 400) {
            fprintf(stderr, "case %zu: rc=%d status=%d\n", i, rc, r.status);
            ASSERT(0);
        }
        ASSERT_CONTAINS(r.body, "Bad Request");
        tt_resp_free(&r);
        ASSERT(tt_tc_wait_eof(c, T_MS));
        tt_tc_close(c);
    }
    /* The smuggled requests never reached the backend: its first request
     * comes now, on its first connection. */
    tt_resp_t r;
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    char v[32];
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Origin-Conn", v, sizeof v), "1");
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Origin-Req", v, sizeof v), "1");
    tt_resp_free(&r);
    ASSERT(tt_tether_wait_log(&fx.tether, "bad request from 127.0.0.1: 400", 5000));
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_hop_headers)
{
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_resp_t r;
    get(&fx, "GET /echo HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n"
             "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
             "Upgrade: h2c\r\nX-Keep: 2\r\n\r\n",
        &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_NOT_CONTAINS(r.body, "X-Drop");
    ASSERT_NOT_CONTAINS(r.body, "Keep-Alive");
    ASSERT_NOT_CONTAINS(r.body, "Proxy-Connection");
    ASSERT_NOT_CONTAINS(r.body, "TE:");
    ASSERT_NOT_CONTAINS(r.body, "Upgrade");
    ASSERT_NOT_CONTAINS(r.body, "Connection");
    ASSERT_CONTAINS(r.body, "X-Keep: 2\r\n");
    tt_resp_free(&r);
    /* And the other way. */
    get(&fx, "GET /respond?h=Connection:%20X-Secret&h=X-Secret:%201&h=Keep-Alive:%20timeout=9"
             "&h=X-Public:%20yes&body=ok HTTP/1.1\r\nHost: h\r\n\r\n",
        &r);
    char v[64];
    ASSERT_EQ(r.status, 200);
    ASSERT_NULL(tt_resp_header(&r, "X-Secret", v, sizeof v));
    ASSERT_NULL(tt_resp_header(&r, "Keep-Alive", v, sizeof v));
    ASSERT_STR_EQ(tt_resp_header(&r, "X-Public", v, sizeof v), "yes");
    ASSERT_STR_EQ(r.body, "ok");
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_forwarded_headers)
{
    fixture_t fx;
    fx_start(&fx, "[proxy]\nx_forwarded_for=truncate:1,append\ncdn_loop=tether\n", SIMPLE_ROUTE);
    tt_resp_t r;
    get(&fx, "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n\r\n", &r);
    ASSERT_CONTAINS(r.body, "\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n");
    ASSERT_CONTAINS(r.body, "\r\nCDN-Loop: tether\r\n");
    /* Plain HTTP: no X-Forwarded-Proto (it is only added for https). */
    ASSERT_NOT_CONTAINS(r.body, "X-Forwarded-Proto");
    tt_resp_free(&r);
    fx_stop(&fx);
    /* Default: X-Forwarded-For passes through untouched. */
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    get(&fx, "GET /echo HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n", &r);
    ASSERT_CONTAINS(r.body, "\r\nX-Forwarded-For: 10.9.9.9\r\n");
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_route_rules)
{
    fixture_t fx;
    fx_start(&fx, NULL,
             "* 127.0.0.1:{dead}\n"
             "*,path_beg=/api,replace_beg=/echo/v2,as_host=backend.local,header=X-Route:api,"
             "id=api 127.0.0.1:{origin}\n"
             "*,path_beg=/rem,path_rem=4 127.0.0.1:{origin},host=target.local\n"
             "example.org 127.0.0.1:{origin}\n"
             "# a comment line\n");
    tt_resp_t r;
    get(&fx, "GET /api/items?q=1 HTTP/1.1\r\nHost: h\r\nX-Route: client\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(strncmp(r.body, "GET /echo/v2/items?q=1 HTTP/1.1\r\n", 33) == 0);
    ASSERT_CONTAINS(r.body, "\r\nHost: backend.local\r\n");
    ASSERT_CONTAINS(r.body, "\r\nX-Route: api\r\n");
    ASSERT_NOT_CONTAINS(r.body, "client");
    tt_resp_free(&r);
    get(&fx, "GET /rem/echo HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT(strncmp(r.body, "GET /echo HTTP/1.1\r\n", 20) == 0);
    ASSERT_CONTAINS(r.body, "\r\nHost: target.local\r\n");
    tt_resp_free(&r);
    /* The exact host beats `*`, whatever the port in Host. */
    get(&fx, "GET /echo HTTP/1.1\r\nHost: Example.ORG:7999\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    get(&fx, "GET /echo HTTP/1.1\r\nHost: other.org\r\n\r\n", &r);
    ASSERT_EQ(r.status, 502);
    tt_resp_free(&r);
    ASSERT(tt_tether_wait_log(&fx.tether, "route=api", 5000));
    fx_stop(&fx);
    return 0;
}

static int wait_status(int port, const char *req, int want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        tt_resp_t r;
        int status = tt_http_request(port, req, &r, T_MS) == 0 ? r.status : -1;
        tt_resp_free(&r);
        if (status == want)
            return 1;
        tt_test_sleep_ms(100);
    }
    return 0;
}

TEST_IMPL(proxy_routes_reload)
{
    fixture_t fx;
    fx_start(&fx, NULL, "*,path_beg=/a 127.0.0.1:{origin}\n");
    const char *req_b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    tt_resp_t r;
    get(&fx, req_b, &r);
    ASSERT_EQ(r.status, 502);
    tt_resp_free(&r);
    /* A new routes file takes effect without a restart. */
    char routes[256];
    snprintf(routes, sizeof routes, "*,path_beg=/b,replace_beg=/respond 127.0.0.1:%d\n",
             fx.origin.port);
    char *p = tt_test_write_file(fx.tether.dir, "routes", routes);
    free(p);
    ASSERT(wait_status(fx.tether.port, req_b, 200, 8000));
    /* A broken file is refused with its line-numbered errors; the routes in
     * force stay. */
    p = tt_test_write_file(fx.tether.dir, "routes", "# ok\n*,bogus_prop 127.0.0.1:1\n");
    free(p);
    ASSERT(tt_tether_wait_log(&fx.tether, "reload (routes file changed) rejected", 8000));
    char *log = tt_tether_log(&fx.tether);
    ASSERT_CONTAINS(log, "routes:2: error:");
    free(log);
    get(&fx, req_b, &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_routes_reload_sighup)
{
    if (!tt_platform_can_reload_signal())
        TEST_SKIP("no SIGHUP on this OS");
    fixture_t fx;
    fx_start(&fx, NULL, "* 127.0.0.1:{dead}\n");
    char routes[128];
    snprintf(routes, sizeof routes, "* 127.0.0.1:%d\n", fx.origin.port);
    char *p = tt_test_write_file(fx.tether.dir, "routes", routes);
    free(p);
    ASSERT_OK(tt_proc_signal(fx.tether.proc, SIGHUP));
    ASSERT(tt_tether_wait_log(&fx.tether, "reloaded (SIGHUP)", 5000));
    tt_resp_t r;
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_graceful_shutdown)
{
    if (!tt_platform_can_reload_signal())
        TEST_SKIP("SIGTERM cannot be caught on this OS (the service stop covers it)");
    fixture_t fx;
    fx_start(&fx, NULL, SIMPLE_ROUTE);
    tt_tc_t *busy = tt_tc_connect(fx.tether.port, T_MS);
    tt_tc_t *idle = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(busy, "GET /sleep/700 HTTP/1.1\r\nHost: h\r\n\r\n"));
    tt_test_sleep_ms(150);
    ASSERT_OK(tt_proc_signal(fx.tether.proc, SIGTERM));
    /* The idle connection is closed, the in-flight request completes. */
    ASSERT(tt_tc_wait_eof(idle, T_MS));
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(busy, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "slept");
    char v[32];
    ASSERT_STR_EQ(tt_resp_header(&r, "Connection", v, sizeof v), "close");
    tt_resp_free(&r);
    int64_t status = -1;
    int sig = -1;
    ASSERT(tt_proc_wait_exit(fx.tether.proc, T_MS, &status, &sig));
    ASSERT_EQ(status, 0);
    ASSERT_EQ(sig, 0);
    ASSERT_NULL(tt_tc_connect(fx.tether.port, 1000));
    tt_tc_close(busy);
    tt_tc_close(idle);
    ASSERT_EQ(tt_tether_stop(&fx.tether), 0);
    tt_origin_stop(&fx.origin);
    return 0;
}

TEST_IMPL(proxy_maxconn)
{
    fixture_t fx;
    fx_start(&fx, "[runner]\nclient_maxconn=2\n", SIMPLE_ROUTE);
    tt_tc_t *a = tt_tc_connect(fx.tether.port, T_MS);
    tt_tc_t *b = tt_tc_connect(fx.tether.port, T_MS);
    tt_resp_t r;
    ASSERT_OK(tt_tc_sends(a, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(a, &r, T_MS, 0));
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 503);
    ASSERT_CONTAINS(r.body, "too many connections");
    tt_resp_free(&r);
    /* The held connections keep working. */
    ASSERT_OK(tt_tc_sends(b, "GET /respond?body=b HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(b, &r, T_MS, 0));
    ASSERT_STR_EQ(r.body, "b");
    tt_resp_free(&r);
    tt_tc_close(a);
    tt_tc_close(b);
    fx_stop(&fx);
    return 0;
}

TEST_IMPL(proxy_client_header_timeout)
{
    fixture_t fx;
    fx_start(&fx, "[tether]\nclient_header_timeout=300ms\n", SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "GET /respond HTTP/1.1\r\nHost"));
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 408);
    tt_resp_free(&r);
    ASSERT(tt_tc_wait_eof(c, T_MS));
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

/* client_idle_timeout closes a keep-alive connection that sends nothing. */
TEST_IMPL(proxy_client_idle_timeout)
{
    fixture_t fx;
    fx_start(&fx, "[tether]\nclient_idle_timeout=300ms\n", SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    tt_resp_t r;
    ASSERT_OK(tt_tc_sends(c, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    tt_resp_free(&r);
    uint64_t t0 = uv_hrtime();
    ASSERT(tt_tc_wait_eof(c, T_MS));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_GE(ms, 200);
    tt_tc_close(c);
    fx_stop(&fx);
    return 0;
}

/* backend_keepalive_timeout: a pooled connection idle longer is not reused. */
TEST_IMPL(proxy_backend_keepalive_timeout)
{
    fixture_t fx;
    fx_start(&fx, "[tether]\nbackend_keepalive_timeout=300ms\n", SIMPLE_ROUTE);
    tt_resp_t r;
    char a[32], b[32], c[32];
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    tt_resp_header(&r, "X-Origin-Conn", a, sizeof a);
    tt_resp_free(&r);
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    tt_resp_header(&r, "X-Origin-Conn", b, sizeof b);
    tt_resp_free(&r);
    ASSERT_STR_EQ(a, b); /* reused while fresh */
    tt_test_sleep_ms(600);
    get(&fx, "GET /respond HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    tt_resp_header(&r, "X-Origin-Conn", c, sizeof c);
    tt_resp_free(&r);
    ASSERT(strcmp(a, c) != 0); /* expired: a new backend connection */
    fx_stop(&fx);
    return 0;
}

/* Past shutdown_grace, requests still in flight are cut and tether exits 0. */
TEST_IMPL(proxy_shutdown_grace_expires)
{
    fixture_t fx;
    fx_start(&fx, "[tether]\nshutdown_grace=300ms\n", SIMPLE_ROUTE);
    tt_tc_t *c = tt_tc_connect(fx.tether.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "GET /sleep/5000 HTTP/1.1\r\nHost: h\r\n\r\n"));
    tt_test_sleep_ms(100);
    uint64_t t0 = uv_hrtime();
    tt_proc_close_stdin(fx.tether.proc);
    int64_t status = -1;
    ASSERT(tt_proc_wait_exit(fx.tether.proc, T_MS, &status, NULL));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ(status, 0);
    ASSERT_LT(ms, 3000);
    ASSERT(tt_tc_wait_eof(c, T_MS));
    tt_tc_close(c);
    ASSERT_EQ(tt_tether_stop(&fx.tether), 0);
    tt_origin_stop(&fx.origin);
    return 0;
}
