/* WebSocket through tether: the test target, WebSocket-over-HTTP to
 * tt_origin's /wsoh, passthrough to its /ws, GRIP control messages,
 * publishing, and the RFC 6455 rules checked with a raw-frame client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "tether.h"
#include "wsclient.h"
#include <uv.h>

#include <zlib.h>

#define T_MS 10000

typedef struct wfx_s {
    tt_origin_t origin;
    tt_tether_t tether;
} wfx_t;

static void wfx_start(wfx_t *fx, const char *conf)
{
    memset(fx, 0, sizeof *fx);
    ASSERT_OK(tt_origin_start(&fx->origin));
    char routes[512];
    snprintf(routes, sizeof routes,
             "*,proto=ws,path_beg=/wsoh 127.0.0.1:%d,over_http\n"
             "*,proto=ws,path_beg=/ws 127.0.0.1:%d\n"
             "*,proto=ws,path_beg=/t test\n"
             "*,path_beg=/t test\n",
             fx->origin.port, fx->origin.port);
    ASSERT_OK(tt_tether_start(&fx->tether, conf, routes, NULL));
}

static void wfx_stop(wfx_t *fx)
{
    ASSERT_EQ(tt_tether_stop(&fx->tether), 0);
    tt_origin_stop(&fx->origin);
}

static tt_wsc_t *ws_open(wfx_t *fx, const char *path)
{
    tt_resp_t r;
    memset(&r, 0, sizeof r);
    tt_wsc_t *w = tt_wsc_open(fx->tether.port, path, NULL, &r, T_MS);
    if (!w)
        fprintf(stderr, "handshake for %s failed: %d\n%s\n", path, r.status,
                r.head ? r.head : "");
    ASSERT_NOT_NULL(w);
    ASSERT_EQ(r.status, 101);
    tt_resp_free(&r);
    return w;
}

/* Read the next data message and check its text. */
static void expect_text(tt_wsc_t *w, const char *want)
{
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_TEXT);
    ASSERT_STR_EQ(f.data, want);
    tt_wsc_frame_free(&f);
}

static void publish_ok(wfx_t *fx, const char *json)
{
    ASSERT_EQ(tt_tether_publish(&fx->tether, json, NULL), 200);
}

static void wait_sub(wfx_t *fx, const char *channel, int n)
{
    char needle[128];
    snprintf(needle, sizeof needle, "channel=%s\n", channel);
    for (int waited = 0; waited <= T_MS; waited += 20) {
        char *log = tt_tether_log(&fx->tether);
        int seen = 0;
        for (const char *p = log; p && (p = strstr(p, "subscribe ws ")) != NULL; p++) {
            const char *eol = strchr(p, '\n');
            const char *hit = strstr(p, needle);
            if (hit && eol && hit < eol + 1 && hit + strlen(needle) - 1 == eol)
                seen++;
        }
        free(log);
        if (seen >= n)
            return;
        tt_test_sleep_ms(20);
    }
    TT_TEST_FAIL("%d ws subscribers on %s not seen", n, channel);
}

TEST_IMPL(ws_test_target_publish)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *w = ws_open(&fx, "/t/ws");
    wait_sub(&fx, "test", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
                    "{\"content\":\"hello ws\"}}}]}");
    expect_text(w, "hello ws");
    publish_ok(&fx, "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
                    "{\"content-bin\":\"AAEC\"}}}]}");
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_BINARY);
    ASSERT_EQ(f.len, 3);
    ASSERT(memcmp(f.data, "\0\1\2", 3) == 0);
    tt_wsc_frame_free(&f);
    /* A ping is answered with a pong carrying the same payload. */
    ASSERT_OK(tt_wsc_send_ping(w, "are you there"));
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_PONG);
    ASSERT_STR_EQ(f.data, "are you there");
    tt_wsc_frame_free(&f);
    /* Closed by the publisher with a code and a reason. */
    publish_ok(&fx, "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
                    "{\"action\":\"close\",\"code\":4001,\"reason\":\"bye\"}}}]}");
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_CLOSE);
    ASSERT_EQ(f.close_code, 4001);
    ASSERT_STR_EQ(f.close_reason, "bye");
    tt_wsc_frame_free(&f);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_handshake_errors)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET /t/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET /t/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
         426},
        {"GET /t/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_resp_t r;
        ASSERT_OK(tt_http_request(fx.tether.port, cases[i].req, &r, T_MS));
        ASSERT_EQ(r.status, cases[i].status);
        if (r.status == 426) {
            char v[16];
            ASSERT_STR_EQ(tt_resp_header(&r, "Sec-WebSocket-Version", v, sizeof v), "13");
        }
        tt_resp_free(&r);
    }
    wfx_stop(&fx);
    return 0;
}

/* The client side's protocol rules, each answered with its close code. */
TEST_IMPL(ws_protocol_errors)
{
    wfx_t fx;
    wfx_start(&fx, "[tether]\nws_max_message=1000\n");
    /* An unmasked client frame: 1002. */
    tt_wsc_t *w = ws_open(&fx, "/t/ws");
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 1, 0, 0, "x", 1));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1002);
    tt_wsc_close(w);
    /* Invalid UTF-8 in a text message: 1007. */
    w = ws_open(&fx, "/t/ws");
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 1, 0, 1, "\xc3\x28", 2));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1007);
    tt_wsc_close(w);
    /* A message over ws_max_message: 1009. */
    w = ws_open(&fx, "/t/ws");
    char big[1001];
    memset(big, 'a', sizeof big);
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_BINARY, 1, 0, 1, big, sizeof big));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1009);
    tt_wsc_close(w);
    /* Reserved bits without an extension, and a fragmented ping: 1002. */
    w = ws_open(&fx, "/t/ws");
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 1, TT_WS_RSV2, 1, "x", 1));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1002);
    tt_wsc_close(w);
    w = ws_open(&fx, "/t/ws");
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_PING, 0, 0, 1, "x", 1));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1002);
    tt_wsc_close(w);
    /* The client's close is answered with the same code. */
    w = ws_open(&fx, "/t/ws");
    ASSERT_OK(tt_wsc_send_close(w, 1000, "done"));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1000);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_over_http_echo)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *w = ws_open(&fx, "/wsoh");
    ASSERT_OK(tt_wsc_send_text(w, "hello backend"));
    expect_text(w, "hello backend");
    ASSERT_OK(tt_wsc_send_binary(w, "\x01\x02\x03", 3));
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_BINARY);
    ASSERT_EQ(f.len, 3);
    tt_wsc_frame_free(&f);
    /* Fragments with a ping between them: pong first, then the whole message. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 0, 0, 1, "frag", 4));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_PING, 1, 0, 1, "p", 1));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_CONT, 1, 0, 1, "mented", 6));
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_PONG);
    tt_wsc_frame_free(&f);
    expect_text(w, "fragmented");
    /* The backend saw Connection-Id, a Grip-Sig, and no client Meta-*. */
    ASSERT_OK(tt_wsc_send_text(w, "grip-sig"));
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT(f.len > 20);
    tt_wsc_frame_free(&f);
    ASSERT_OK(tt_wsc_send_close(w, 1000, "bye"));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1000);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_over_http_control)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *w = ws_open(&fx, "/wsoh?meta=1");
    /* subscribe through a GRIP control message, then a publish arrives. */
    ASSERT_OK(tt_wsc_send_text(w, "sub:room"));
    wait_sub(&fx, "room", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"room\",\"formats\":{\"ws-message\":"
                    "{\"content\":\"to the room\"}}}]}");
    expect_text(w, "to the room");
    /* Set-Meta-User from the OPEN answer comes back as Meta-User; a set-meta
     * control message is session meta for filters only, as in Pushpin. */
    ASSERT_OK(tt_wsc_send_text(w, "meta:color=blue"));
    ASSERT_OK(tt_wsc_send_text(w, "echo-meta"));
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_CONTAINS(f.data, "alice");
    ASSERT_NOT_CONTAINS(f.data, "blue");
    tt_wsc_frame_free(&f);
    /* unsubscribe: the next publish does not arrive, the echo after it does. */
    ASSERT_OK(tt_wsc_send_text(w, "unsub:room"));
    ASSERT_OK(tt_wsc_send_text(w, "marker1"));
    expect_text(w, "marker1");
    publish_ok(&fx, "{\"items\":[{\"channel\":\"room\",\"formats\":{\"ws-message\":"
                    "{\"content\":\"not for you\"}}}]}");
    ASSERT_OK(tt_wsc_send_text(w, "marker2"));
    expect_text(w, "marker2");
    /* keep-alive: a message every second while idle. */
    ASSERT_OK(tt_wsc_send_text(w, "ka:still here"));
    expect_text(w, "still here");
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_over_http_detach_and_close)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *w = ws_open(&fx, "/wsoh");
    ASSERT_OK(tt_wsc_send_text(w, "sub:d"));
    wait_sub(&fx, "d", 1);
    ASSERT_OK(tt_wsc_send_text(w, "detach"));
    tt_test_sleep_ms(200);
    /* Detached: client messages go nowhere, publishes still arrive. */
    ASSERT_OK(tt_wsc_send_text(w, "into the void"));
    publish_ok(&fx, "{\"items\":[{\"channel\":\"d\",\"formats\":{\"ws-message\":"
                    "{\"content\":\"still published\"}}}]}");
    expect_text(w, "still published");
    tt_wsc_close(w);
    /* The backend closes with its own code. */
    w = ws_open(&fx, "/wsoh");
    ASSERT_OK(tt_wsc_send_text(w, "close:4321"));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 4321);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_over_http_reject)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_resp_t r;
    memset(&r, 0, sizeof r);
    tt_wsc_t *w = tt_wsc_open(fx.tether.port, "/wsoh?reject=1", NULL, &r, T_MS);
    ASSERT_NULL(w);
    ASSERT_EQ(r.status, 403);
    ASSERT(r.body_len > 0);
    tt_resp_free(&r);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_passthrough)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    /* Without the grip extension: frames relayed as they are. */
    tt_wsc_t *w = ws_open(&fx, "/ws");
    ASSERT_OK(tt_wsc_send_text(w, "plain echo"));
    expect_text(w, "plain echo");
    ASSERT_OK(tt_wsc_send_text(w, "headers?"));
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_CONTAINS(f.data, "Sec-WebSocket-Extensions: grip");
    ASSERT_CONTAINS(f.data, "Grip-Sig: ");
    tt_wsc_frame_free(&f);
    ASSERT_OK(tt_wsc_send_close(w, 1000, NULL));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1000);
    tt_wsc_close(w);
    /* With it: control messages subscribe, data needs the m: prefix. */
    w = ws_open(&fx, "/ws?grip=1");
    ASSERT_OK(tt_wsc_send_text(w, "sub:pt"));
    wait_sub(&fx, "pt", 1);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"pt\",\"formats\":{\"ws-message\":"
                    "{\"content\":\"via passthrough\"}}}]}");
    expect_text(w, "via passthrough");
    ASSERT_OK(tt_wsc_send_text(w, "prefixed echo"));
    expect_text(w, "prefixed echo");
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

TEST_IMPL(ws_publish_many)
{
    enum { N = 50 };
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *ws[N];
    for (int i = 0; i < N; i++)
        ws[i] = ws_open(&fx, "/t/ws");
    wait_sub(&fx, "test", N);
    publish_ok(&fx, "{\"items\":[{\"channel\":\"test\",\"formats\":{\"ws-message\":"
                    "{\"content\":\"everyone\"}}}]}");
    for (int i = 0; i < N; i++) {
        expect_text(ws[i], "everyone");
        tt_wsc_close(ws[i]);
    }
    wfx_stop(&fx);
    return 0;
}

/* Only Tether speaks WebSocket-over-HTTP to backends: a client may not. */
TEST_IMPL(ws_events_from_client_forbidden)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_resp_t r;
    ASSERT_OK(tt_http_request(fx.tether.port,
                              "POST /t/x HTTP/1.1\r\nHost: h\r\nContent-Type: "
                              "application/websocket-events\r\nContent-Length: 6\r\n\r\nOPEN\r\n",
                              &r, T_MS));
    ASSERT_EQ(r.status, 403);
    tt_resp_free(&r);
    wfx_stop(&fx);
    return 0;
}

/* ws_idle_timeout closes a silent client with 1001; activity keeps it open. */
TEST_IMPL(ws_idle_timeout)
{
    wfx_t fx;
    wfx_start(&fx, "[tether]\nws_idle_timeout=1500ms\n");
    tt_wsc_t *quiet = ws_open(&fx, "/t/ws");
    tt_wsc_t *busy = ws_open(&fx, "/t/ws");
    for (int i = 0; i < 6; i++) {
        tt_test_sleep_ms(400);
        ASSERT_OK(tt_wsc_send_ping(busy, "x"));
        tt_wsc_frame_t f;
        ASSERT_OK(tt_wsc_read_frame(busy, &f, T_MS));
        ASSERT_EQ(f.opcode, TT_WS_PONG);
        tt_wsc_frame_free(&f);
    }
    ASSERT_EQ(tt_wsc_expect_close(quiet, T_MS), 1001);
    ASSERT_OK(tt_wsc_send_ping(busy, "still"));
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_frame(busy, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_PONG);
    tt_wsc_frame_free(&f);
    tt_wsc_close(quiet);
    tt_wsc_close(busy);
    wfx_stop(&fx);
    return 0;
}

/* Inflate a permessage-deflate payload with zlib directly (not Tether's
 * code): raw deflate, the 00 00 ff ff tail added back (RFC 7692 7.2.2). */
static char *inflate_payload(const char *in, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    ASSERT_EQ(inflateInit2(&z, -15), Z_OK);
    size_t cap = len * 20 + 1024;
    char *out = malloc(cap);
    unsigned char *src = malloc(len + 4);
    memcpy(src, in, len);
    memcpy(src + len, "\x00\x00\xff\xff", 4);
    z.next_in = src;
    z.avail_in = (uInt)(len + 4);
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    ASSERT(rc == Z_OK || rc == Z_STREAM_END);
    *out_len = cap - z.avail_out;
    out[*out_len] = '\0';
    inflateEnd(&z);
    free(src);
    return out;
}

/* permessage-deflate with allow_compression: negotiated with
 * server_no_context_takeover, compressed client messages inflated,
 * compressed publishes that a plain zlib inflates. */
TEST_IMPL(ws_compression)
{
    wfx_t fx;
    wfx_start(&fx, "[runner]\nallow_compression=true\n");
    tt_resp_t r;
    memset(&r, 0, sizeof r);
    tt_wsc_t *w = tt_wsc_open(fx.tether.port, "/wsoh",
                              "Sec-WebSocket-Extensions: permessage-deflate; "
                              "client_max_window_bits\r\n",
                              &r, T_MS);
    ASSERT_NOT_NULL(w);
    char v[256];
    ASSERT_NOT_NULL(tt_resp_header(&r, "Sec-WebSocket-Extensions", v, sizeof v));
    ASSERT_CONTAINS(v, "permessage-deflate");
    ASSERT_CONTAINS(v, "server_no_context_takeover");
    tt_resp_free(&r);
    /* RFC 7692 7.2.3.1: "Hello" compressed in one message. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 1, TT_WS_RSV1, 1, "\xf2\x48\xcd\xc9\xc9\x07\x00",
                                7));
    expect_text(w, "Hello");
    /* A long published message arrives compressed (RSV1) and inflates back. */
    ASSERT_OK(tt_wsc_send_text(w, "sub:z"));
    wait_sub(&fx, "z", 1);
    char json[1024], text[600];
    memset(text, 'x', 500);
    text[500] = '\0';
    snprintf(json, sizeof json,
             "{\"items\":[{\"channel\":\"z\",\"formats\":{\"ws-message\":{\"content\":\"%s\"}}}]}",
             text);
    publish_ok(&fx, json);
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_TEXT);
    ASSERT_EQ(f.rsv, TT_WS_RSV1);
    ASSERT_LT(f.len, 100);
    size_t n;
    char *plain = inflate_payload(f.data, f.len, &n);
    ASSERT_EQ(n, 500);
    ASSERT_STR_EQ(plain, text);
    free(plain);
    tt_wsc_frame_free(&f);
    /* Corrupt compressed data: 1007. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 1, TT_WS_RSV1, 1, "\xff\xff\xff\xff", 4));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1007);
    tt_wsc_close(w);
    /* Without allow_compression, the offer is ignored and RSV1 is an error. */
    wfx_stop(&fx);
    wfx_start(&fx, NULL);
    memset(&r, 0, sizeof r);
    w = tt_wsc_open(fx.tether.port, "/wsoh", "Sec-WebSocket-Extensions: permessage-deflate\r\n",
                    &r, T_MS);
    ASSERT_NOT_NULL(w);
    ASSERT_NULL(tt_resp_header(&r, "Sec-WebSocket-Extensions", v, sizeof v));
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 1, TT_WS_RSV1, 1, "\xf2\x48\xcd\xc9\xc9\x07\x00",
                                7));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1002);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

/* Filters on a WebSocket subscription: set-meta is the session meta they
 * read; skip-self drops the client's own messages, var-subst fills in its
 * meta, and the unfiltered frame is not sent as well. */
TEST_IMPL(ws_filters)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *w = ws_open(&fx, "/wsoh");
    ASSERT_OK(tt_wsc_send_text(w, "meta:user=carol"));
    ASSERT_OK(tt_wsc_send_text(w, "subf:fw:skip-self,var-subst"));
    wait_sub(&fx, "fw", 1);
    publish_ok(&fx, "{\"items\":["
                    "{\"channel\":\"fw\",\"meta\":{\"sender\":\"carol\"},"
                    "\"formats\":{\"ws-message\":{\"content\":\"<own>\"}}},"
                    "{\"channel\":\"fw\",\"meta\":{\"sender\":\"dave\"},"
                    "\"formats\":{\"ws-message\":{\"content\":\"hi %(user)s\"}}}]}");
    expect_text(w, "hi carol");
    ASSERT_OK(tt_wsc_send_text(w, "marker"));
    expect_text(w, "marker");
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

/* one_event: every WebSocket-over-HTTP request carries a single event,
 * however many the client sent while one was in flight. */
TEST_IMPL(ws_over_http_one_event)
{
    wfx_t fx;
    memset(&fx, 0, sizeof fx);
    ASSERT_OK(tt_origin_start(&fx.origin));
    char routes[256];
    snprintf(routes, sizeof routes, "*,proto=ws 127.0.0.1:%d,over_http,one_event\n",
             fx.origin.port);
    ASSERT_OK(tt_tether_start(&fx.tether, NULL, routes, NULL));
    tt_wsc_t *w = ws_open(&fx, "/wsoh");
    for (int i = 0; i < 5; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "m%d", i);
        ASSERT_OK(tt_wsc_send_text(w, msg));
    }
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%d", i);
        expect_text(w, want);
    }
    tt_resp_t r;
    ASSERT_OK(tt_http_request(fx.origin.port, "GET /wslog HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
    int requests = 0;
    for (const char *p = r.body; (p = strstr(p, " REQUEST ")) != NULL; p += 9) {
        ASSERT_EQ(atoi(p + 9), 1);
        requests++;
    }
    ASSERT_GE(requests, 6); /* OPEN, then one per message */
    tt_resp_free(&r);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}

/* Keep-Alive-Interval (at least 20 s, as Pushpin): with nothing to send,
 * an empty request reaches the backend after the interval. */
TEST_IMPL(ws_over_http_keep_alive_interval)
{
    wfx_t fx;
    wfx_start(&fx, NULL);
    tt_wsc_t *w = ws_open(&fx, "/wsoh?kai=1");
    uint64_t t0 = uv_hrtime();
    int seen = 0;
    for (int i = 0; i < 300 && !seen; i++) {
        tt_test_sleep_ms(100);
        tt_resp_t r;
        ASSERT_OK(
            tt_http_request(fx.origin.port, "GET /wslog HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
        seen = strstr(r.body, " REQUEST\n") != NULL; /* a request with no event */
        tt_resp_free(&r);
    }
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT(seen);
    ASSERT_GE(ms, 19000);
    tt_wsc_close(w);
    wfx_stop(&fx);
    return 0;
}
