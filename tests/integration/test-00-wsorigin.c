/* The WebSocket test tools, proven against each other before Tether's tests
 * rely on them: the raw-frame client (wsclient.h) against tt_origin's /ws
 * server, and tt_origin's /wsoh WebSocket-over-HTTP backend through plain
 * HTTP requests. No tether here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "support.h"
#include "task.h"
#include "tether.h"
#include "wsclient.h"

#define T_MS 10000

/* RFC 6455 1.3's sample key and its accept value. */
#define SAMPLE_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static tt_wsc_t *ws_open(const tt_origin_t *o, const char *path, const char *extra, tt_resp_t *r)
{
    tt_wsc_t *w = tt_wsc_open(o->port, path, extra, r, T_MS);
    ASSERT_NOT_NULL(w);
    return w;
}

/* Read one message and check its opcode and text. */
static void expect_msg(tt_wsc_t *w, int opcode, const char *text)
{
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, opcode);
    ASSERT_EQ(f.fin, 1);
    ASSERT_EQ(f.rsv, 0);
    ASSERT_STR_EQ(f.data, text);
    ASSERT_EQ(f.len, strlen(text));
    tt_wsc_frame_free(&f);
}

/* Read one frame and check all of it. */
static void expect_frame(tt_wsc_t *w, int opcode, int fin, const char *text)
{
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, opcode);
    ASSERT_EQ(f.fin, fin);
    ASSERT_STR_EQ(f.data, text);
    tt_wsc_frame_free(&f);
}

static int header_is(const tt_resp_t *r, const char *name, const char *want)
{
    char buf[512];
    const char *v = tt_resp_header(r, name, buf, sizeof buf);
    return v && strcmp(v, want) == 0;
}

TEST_IMPL(wsorigin_echo)
{
    tt_origin_t o;
    tt_resp_t r;
    ASSERT_OK(tt_origin_start(&o));
    tt_wsc_t *w = ws_open(&o, "/ws", NULL, &r);
    ASSERT_EQ(r.status, 101);
    ASSERT_EQ(tt_resp_header_count(&r, "Sec-WebSocket-Protocol"), 0);
    ASSERT_EQ(tt_resp_header_count(&r, "Sec-WebSocket-Extensions"), 0);
    tt_resp_free(&r);

    ASSERT_OK(tt_wsc_send_text(w, "hello"));
    expect_msg(w, TT_WS_TEXT, "hello");
    ASSERT_OK(tt_wsc_send_text(w, ""));
    expect_msg(w, TT_WS_TEXT, "");
    ASSERT_OK(tt_wsc_send_binary(w, "a\0b", 3));
    tt_wsc_frame_t f;
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_BINARY);
    ASSERT_EQ(f.len, 3);
    ASSERT_OK(memcmp(f.data, "a\0b", 3));
    tt_wsc_frame_free(&f);

    /* 16-bit and 64-bit lengths, both ways. */
    size_t sizes[] = {125, 126, 65535, 65536, 1000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *big = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            big[j] = (char)(j * 7);
        ASSERT_OK(tt_wsc_send_binary(w, big, sizes[i]));
        ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
        ASSERT_EQ(f.opcode, TT_WS_BINARY);
        ASSERT_EQ(f.len, sizes[i]);
        ASSERT_OK(memcmp(f.data, big, sizes[i]));
        tt_wsc_frame_free(&f);
        free(big);
    }

    /* The request head as the origin received it. */
    ASSERT_OK(tt_wsc_send_text(w, "headers?"));
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_CONTAINS(f.data, "GET /ws HTTP/1.1\r\n");
    ASSERT_CONTAINS(f.data, "Sec-WebSocket-Version: 13\r\n");
    ASSERT(f.len > 4 && strcmp(f.data + f.len - 4, "\r\n\r\n") == 0);
    tt_wsc_frame_free(&f);
    tt_wsc_close(w);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_ping_pong)
{
    tt_origin_t o;
    ASSERT_OK(tt_origin_start(&o));
    tt_wsc_t *w = ws_open(&o, "/ws", NULL, NULL);
    ASSERT_OK(tt_wsc_send_ping(w, "p1"));
    expect_frame(w, TT_WS_PONG, 1, "p1");
    ASSERT_OK(tt_wsc_send_ping(w, NULL));
    expect_frame(w, TT_WS_PONG, 1, "");
    /* An unsolicited pong is ignored. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_PONG, 1, 0, 1, "x", 1));
    /* The origin pings on request; read_message drops it on the way. */
    ASSERT_OK(tt_wsc_send_text(w, "ping:abc"));
    expect_frame(w, TT_WS_PING, 1, "abc");
    ASSERT_OK(tt_wsc_send_text(w, "ping:zz"));
    ASSERT_OK(tt_wsc_send_text(w, "after"));
    expect_msg(w, TT_WS_TEXT, "after");
    tt_wsc_close(w);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_fragments)
{
    tt_origin_t o;
    tt_wsc_frame_t f;
    ASSERT_OK(tt_origin_start(&o));
    tt_wsc_t *w = ws_open(&o, "/ws", NULL, NULL);
    /* The origin reassembles, with a ping between the pieces. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 0, 0, 1, "hel", 3));
    ASSERT_OK(tt_wsc_send_ping(w, "mid"));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_CONT, 0, 0, 1, "lo ", 3));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_CONT, 1, 0, 1, "world", 5));
    expect_frame(w, TT_WS_PONG, 1, "mid");
    expect_frame(w, TT_WS_TEXT, 1, "hello world");
    /* A binary message in pieces, one of them empty. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_BINARY, 0, 0, 1, "\x01\x02", 2));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_CONT, 0, 0, 1, NULL, 0));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_CONT, 1, 0, 1, "\x03", 1));
    expect_frame(w, TT_WS_BINARY, 1, "\x01\x02\x03");
    /* A UTF-8 character cut between two frames is fine. */
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 0, 0, 1, "caf\xc3", 4));
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_CONT, 1, 0, 1, "\xa9", 1));
    expect_msg(w, TT_WS_TEXT, "caf\xc3\xa9");

    /* The origin fragments on request; the client sees and joins it. */
    ASSERT_OK(tt_wsc_send_text(w, "frag:abcdefghi"));
    expect_frame(w, TT_WS_TEXT, 0, "abc");
    expect_frame(w, TT_WS_CONT, 0, "def");
    expect_frame(w, TT_WS_CONT, 1, "ghi");
    ASSERT_OK(tt_wsc_send_text(w, "frag:0123456789"));
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_TEXT);
    ASSERT_EQ(f.fin, 1);
    ASSERT_STR_EQ(f.data, "0123456789");
    tt_wsc_frame_free(&f);

    /* A frame that arrives a byte at a time. */
    size_t n;
    char *bytes = tt_wsc_encode(TT_WS_TEXT, 1, 0, 1, "slow", 4, &n);
    for (size_t i = 0; i < n; i++) {
        ASSERT_OK(tt_tc_send(tt_wsc_tc(w), bytes + i, 1));
        tt_test_sleep_ms(5);
    }
    free(bytes);
    expect_msg(w, TT_WS_TEXT, "slow");
    tt_wsc_close(w);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_close)
{
    tt_origin_t o;
    tt_wsc_frame_t f;
    ASSERT_OK(tt_origin_start(&o));
    /* The origin echoes the client's close, code and reason, then ends TCP. */
    tt_wsc_t *w = ws_open(&o, "/ws", NULL, NULL);
    ASSERT_OK(tt_wsc_send_close(w, 1000, "bye"));
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_CLOSE);
    ASSERT_EQ(f.close_code, 1000);
    ASSERT_STR_EQ(f.close_reason, "bye");
    ASSERT_EQ(f.len, 5);
    tt_wsc_frame_free(&f);
    ASSERT(tt_tc_wait_eof(tt_wsc_tc(w), T_MS));
    ASSERT_EQ(tt_wsc_read_frame(w, &f, T_MS), TT_ECLOSED);
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), -1);
    tt_wsc_close(w);

    /* An empty close is echoed empty: 1005 to the reader. */
    w = ws_open(&o, "/ws", NULL, NULL);
    ASSERT_OK(tt_wsc_send_close(w, -1, NULL));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1005);
    tt_wsc_close(w);

    /* ?close=CODE: the origin closes first and waits for the answer. */
    w = ws_open(&o, "/ws?close=4001&reason=going%20away", NULL, NULL);
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.close_code, 4001);
    ASSERT_STR_EQ(f.close_reason, "going away");
    tt_wsc_frame_free(&f);
    ASSERT_EQ(tt_tc_wait_eof(tt_wsc_tc(w), 200), 0);
    ASSERT_OK(tt_wsc_send_close(w, 4001, NULL));
    ASSERT(tt_tc_wait_eof(tt_wsc_tc(w), T_MS));
    tt_wsc_close(w);

    /* close:CODE REASON as a command; data before it still comes first. */
    w = ws_open(&o, "/ws", NULL, NULL);
    ASSERT_OK(tt_wsc_send_text(w, "one"));
    ASSERT_OK(tt_wsc_send_text(w, "close:3000 done"));
    expect_msg(w, TT_WS_TEXT, "one");
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_CLOSE);
    ASSERT_EQ(f.close_code, 3000);
    ASSERT_STR_EQ(f.close_reason, "done");
    tt_wsc_frame_free(&f);
    /* After its close the origin ignores data. */
    ASSERT_OK(tt_wsc_send_text(w, "ignored"));
    ASSERT_OK(tt_wsc_send_close(w, 3000, NULL));
    ASSERT(tt_tc_wait_eof(tt_wsc_tc(w), T_MS));
    size_t left;
    tt_tc_data(tt_wsc_tc(w), &left);
    ASSERT_EQ(left, 0);
    tt_wsc_close(w);

    /* The record of what happened, for tests that cannot see the origin. */
    tt_resp_t r;
    ASSERT_OK(tt_http_request(o.port, "GET /wslog HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "ws 1 open\nws 1 close 1000\n");
    ASSERT_CONTAINS(r.body, "ws 2 close 1005\n");
    ASSERT_CONTAINS(r.body, "ws 3 close 4001\n");
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_subprotocol)
{
    tt_origin_t o;
    tt_resp_t r;
    ASSERT_OK(tt_origin_start(&o));
    tt_wsc_t *w = ws_open(&o, "/ws/chat", "Sec-WebSocket-Protocol: chat, superchat\r\n", &r);
    ASSERT(header_is(&r, "Sec-WebSocket-Protocol", "chat"));
    tt_resp_free(&r);
    tt_wsc_close(w);
    /* Custom response headers from h=, as /respond takes them. */
    w = ws_open(&o, "/ws?h=X-Custom:%20yes&h=Set-Cookie:%20a=b",
                "Sec-WebSocket-Protocol: one\r\nSec-WebSocket-Protocol: two\r\n", &r);
    ASSERT(header_is(&r, "Sec-WebSocket-Protocol", "one"));
    ASSERT(header_is(&r, "X-Custom", "yes"));
    ASSERT(header_is(&r, "Set-Cookie", "a=b"));
    ASSERT(header_is(&r, "Connection", "Upgrade"));
    ASSERT(header_is(&r, "Upgrade", "websocket"));
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_text(w, "still echoing"));
    expect_msg(w, TT_WS_TEXT, "still echoing");
    tt_wsc_close(w);
    tt_origin_stop(&o);
    return 0;
}

/* tt_wsc_open must fail; *r gets the answer. */
static void open_fails(const tt_origin_t *o, const char *path, const char *extra, tt_resp_t *r)
{
    ASSERT_NULL(tt_wsc_open(o->port, path, extra, r, T_MS));
}

TEST_IMPL(wsorigin_reject)
{
    tt_origin_t o;
    tt_resp_t r;
    ASSERT_OK(tt_origin_start(&o));
    open_fails(&o, "/ws?reject=1", NULL, &r);
    ASSERT_EQ(r.status, 403);
    ASSERT_STR_EQ(r.body, "rejected by origin\n");
    ASSERT(header_is(&r, "X-Origin-Reject", "yes"));
    tt_resp_free(&r);
    open_fails(&o, "/ws?reject=502", NULL, &r);
    ASSERT_EQ(r.status, 502);
    tt_resp_free(&r);

    /* Broken handshakes, through the client's header overrides. */
    open_fails(&o, "/ws", "Sec-WebSocket-Version: 8\r\n", &r);
    ASSERT_EQ(r.status, 426);
    ASSERT(header_is(&r, "Sec-WebSocket-Version", "13"));
    tt_resp_free(&r);
    open_fails(&o, "/ws", "Upgrade:\r\n", &r);
    ASSERT_EQ(r.status, 426);
    ASSERT(header_is(&r, "Upgrade", "websocket"));
    tt_resp_free(&r);
    open_fails(&o, "/ws", "Connection: keep-alive\r\n", &r);
    ASSERT_EQ(r.status, 400);
    tt_resp_free(&r);
    open_fails(&o, "/ws", "Sec-WebSocket-Key: c2hvcnQ=\r\n", &r);
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_EQ(r.body, "bad Sec-WebSocket-Key");
    tt_resp_free(&r);
    open_fails(&o, "/ws", "Sec-WebSocket-Key:\r\n", &r);
    ASSERT_EQ(r.status, 400);
    tt_resp_free(&r);
    /* A fixed key is accepted, and the client checks the answer against it. */
    tt_wsc_t *w = ws_open(&o, "/ws", "Sec-WebSocket-Key: " SAMPLE_KEY "\r\n", &r);
    ASSERT(header_is(&r, "Sec-WebSocket-Accept", SAMPLE_ACCEPT));
    tt_resp_free(&r);
    tt_wsc_close(w);

    /* A plain GET is told to upgrade; other paths are not WebSocket. */
    ASSERT_OK(tt_http_request(o.port, "GET /ws HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 426);
    tt_resp_free(&r);
    open_fails(&o, "/status/200", NULL, &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);
    /* A refused connection: NULL, *r zeroed. */
    ASSERT_NULL(tt_wsc_open(tt_dead_port(), "/ws", NULL, &r, T_MS));
    ASSERT_EQ(r.status, 0);
    tt_origin_stop(&o);
    return 0;
}

/* Open /ws, send one bad frame, expect the origin's close with `code`
 * followed by the end of the connection. */
static void bad_frame(const tt_origin_t *o, int opcode, int fin, int rsv, int masked,
                      const char *data, size_t len, int code)
{
    tt_wsc_t *w = ws_open(o, "/ws", NULL, NULL);
    ASSERT_OK(tt_wsc_send_frame(w, opcode, fin, rsv, masked, data, len));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), code);
    ASSERT(tt_tc_wait_eof(tt_wsc_tc(w), T_MS));
    tt_wsc_close(w);
}

TEST_IMPL(wsorigin_protocol_errors)
{
    tt_origin_t o;
    ASSERT_OK(tt_origin_start(&o));
    bad_frame(&o, TT_WS_TEXT, 1, 0, 0, "unmasked", 8, 1002);
    bad_frame(&o, TT_WS_TEXT, 1, TT_WS_RSV1, 1, "rsv", 3, 1002);
    bad_frame(&o, 3, 1, 0, 1, "op3", 3, 1002);
    bad_frame(&o, 0xB, 1, 0, 1, "opB", 3, 1002);
    bad_frame(&o, TT_WS_CONT, 1, 0, 1, "orphan", 6, 1002);
    bad_frame(&o, TT_WS_PING, 0, 0, 1, "frag", 4, 1002);
    bad_frame(&o, TT_WS_TEXT, 1, 0, 1, "\xff\xfe", 2, 1007);
    bad_frame(&o, TT_WS_TEXT, 1, 0, 1, "\xed\xa0\x80", 3, 1007); /* a surrogate */
    bad_frame(&o, TT_WS_CLOSE, 1, 0, 1, "\x03", 1, 1002);
    bad_frame(&o, TT_WS_CLOSE, 1, 0, 1, "\x03\xed", 2, 1002);     /* 1005 on the wire */
    bad_frame(&o, TT_WS_CLOSE, 1, 0, 1, "\x03\xe8\xff", 3, 1007); /* bad reason */
    char big[126];
    memset(big, 'x', sizeof big);
    bad_frame(&o, TT_WS_PING, 1, 0, 1, big, sizeof big, 1002);

    /* A new data frame inside a fragmented message. */
    tt_wsc_t *w = ws_open(&o, "/ws", NULL, NULL);
    ASSERT_OK(tt_wsc_send_frame(w, TT_WS_TEXT, 0, 0, 1, "a", 1));
    ASSERT_OK(tt_wsc_send_text(w, "b"));
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1002);
    tt_wsc_close(w);

    /* A TCP end without a close is recorded as eof. */
    w = ws_open(&o, "/ws", NULL, NULL);
    tt_wsc_close(w);
    tt_resp_t r;
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(tt_http_request(o.port, "GET /wslog HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
        if (strstr(r.body, " eof\n"))
            break;
        tt_resp_free(&r);
        tt_test_sleep_ms(20);
    }
    ASSERT_CONTAINS(r.body, "ws 1 fail 1002\n");
    ASSERT_CONTAINS(r.body, "ws 7 fail 1007\n");
    ASSERT_CONTAINS(r.body, " eof\n");
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_grip)
{
    tt_origin_t o;
    tt_resp_t r;
    tt_wsc_frame_t f;
    ASSERT_OK(tt_origin_start(&o));
    tt_wsc_t *w = ws_open(&o, "/ws?grip=1", "Sec-WebSocket-Extensions: grip\r\n", &r);
    ASSERT(header_is(&r, "Sec-WebSocket-Extensions", "grip"));
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_text(w, "hi"));
    expect_msg(w, TT_WS_TEXT, "m:hi");
    ASSERT_OK(tt_wsc_send_binary(w, "\x00\x01", 2));
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_BINARY);
    ASSERT_EQ(f.len, 4);
    ASSERT_OK(memcmp(f.data, "m:\x00\x01", 4));
    tt_wsc_frame_free(&f);
    ASSERT_OK(tt_wsc_send_text(w, "sub:news"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"subscribe\",\"channel\":\"news\"}");
    ASSERT_OK(tt_wsc_send_text(w, "unsub:a\"b"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"unsubscribe\",\"channel\":\"a\\\"b\"}");
    ASSERT_OK(tt_wsc_send_text(w, "detach"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"detach\"}");
    ASSERT_OK(tt_wsc_send_text(w, "ka:beat"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"keep-alive\",\"content\":\"beat\",\"timeout\":1}");
    ASSERT_OK(tt_wsc_send_text(w, "meta:user=bob"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"set-meta\",\"name\":\"user\",\"value\":\"bob\"}");
    ASSERT_OK(tt_wsc_send_text(w, "meta:user"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"set-meta\",\"name\":\"user\"}");
    ASSERT_OK(tt_wsc_send_text(w, "grip-sig"));
    expect_msg(w, TT_WS_TEXT, "m:(none)");
    ASSERT_OK(tt_wsc_send_text(w, "frag:abcdef"));
    expect_frame(w, TT_WS_TEXT, 0, "m:ab");
    expect_frame(w, TT_WS_CONT, 0, "cd");
    expect_frame(w, TT_WS_CONT, 1, "ef");
    ASSERT_OK(tt_wsc_send_text(w, "headers?"));
    ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
    ASSERT(strncmp(f.data, "m:GET /ws?grip=1 HTTP/1.1\r\n", 27) == 0);
    ASSERT_CONTAINS(f.data, "\r\nSec-WebSocket-Extensions: grip\r\n");
    tt_wsc_frame_free(&f);
    tt_wsc_close(w);

    /* prefix=empty, with the extension offered among others. */
    w = ws_open(&o, "/ws?grip=1&prefix=empty",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, grip\r\n",
                &r);
    ASSERT(header_is(&r, "Sec-WebSocket-Extensions", "grip; message-prefix=\"\""));
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_text(w, "hi"));
    expect_msg(w, TT_WS_TEXT, "hi");
    tt_wsc_close(w);
    w = ws_open(&o, "/ws?grip=1&prefix=d%3A", "Sec-WebSocket-Extensions: grip\r\n", &r);
    ASSERT(header_is(&r, "Sec-WebSocket-Extensions", "grip; message-prefix=\"d:\""));
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_text(w, "hi"));
    expect_msg(w, TT_WS_TEXT, "d:hi");
    tt_wsc_close(w);

    /* grip=1 without the offer, or an offer without grip=1: no grip, no
     * prefix; commands still answer (unprefixed control messages). */
    w = ws_open(&o, "/ws?grip=1", NULL, &r);
    ASSERT_EQ(tt_resp_header_count(&r, "Sec-WebSocket-Extensions"), 0);
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_text(w, "hi"));
    expect_msg(w, TT_WS_TEXT, "hi");
    tt_wsc_close(w);
    w = ws_open(&o, "/ws", "Sec-WebSocket-Extensions: grip\r\n", &r);
    ASSERT_EQ(tt_resp_header_count(&r, "Sec-WebSocket-Extensions"), 0);
    tt_resp_free(&r);
    ASSERT_OK(tt_wsc_send_text(w, "sub:x"));
    expect_msg(w, TT_WS_TEXT, "c:{\"type\":\"subscribe\",\"channel\":\"x\"}");
    ASSERT_OK(tt_wsc_send_text(w, "close:nope"));
    expect_msg(w, TT_WS_TEXT, "close:nope");
    tt_wsc_close(w);
    tt_origin_stop(&o);
    return 0;
}

/* A canned 101 from /respond followed by the raw frame bytes `body`
 * (percent-encoded), to check how the client judges server frames. */
static tt_wsc_t *canned(const tt_origin_t *o, const char *body)
{
    char path[1024];
    snprintf(path, sizeof path,
             "/respond?status=101&h=Upgrade:%%20websocket&h=Connection:%%20Upgrade"
             "&h=Sec-WebSocket-Accept:%%20s3pPLMBiTxaQ9kYGzzhZRbK%%2BxOo%%3D"
             "&h=Content-Length:%%200&body=%s",
             body);
    return ws_open(o, path, "Sec-WebSocket-Key: " SAMPLE_KEY "\r\n", NULL);
}

TEST_IMPL(wsorigin_client_strict)
{
    tt_origin_t o;
    tt_wsc_frame_t f;
    ASSERT_OK(tt_origin_start(&o));
    /* Good frames, then the end of the connection. */
    tt_wsc_t *w = canned(&o, "%81%05hello%89%00%88%02%03%e8");
    expect_frame(w, TT_WS_TEXT, 1, "hello");
    expect_frame(w, TT_WS_PING, 1, "");
    ASSERT_EQ(tt_wsc_expect_close(w, T_MS), 1000);
    ASSERT_EQ(tt_wsc_read_frame(w, &f, T_MS), TT_ECLOSED);
    tt_wsc_close(w);
    /* RSV bits and reserved opcodes are reported, not judged. */
    w = canned(&o, "%f3%01x");
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.rsv, 7);
    ASSERT_EQ(f.opcode, 3);
    tt_wsc_frame_free(&f);
    tt_wsc_close(w);
    const char *bad[] = {
        "%81%81%00%00%00%00a",                 /* masked */
        "%81%7e%00%05hello",                   /* 16-bit length under 126 */
        "%81%7f%00%00%00%00%00%00%00%05hello", /* 64-bit length under 65536 */
        "%09%00",                              /* fragmented ping */
        "%88%01%03",                           /* close payload of one byte */
        "%01%01a%81%01b",                      /* data frame inside a message (read_message) */
        "%80%01a",                             /* continuation without a message (read_message) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w = canned(&o, bad[i]);
        ASSERT_EQ(i < 5 ? tt_wsc_read_frame(w, &f, T_MS) : tt_wsc_read_message(w, &f, T_MS),
                  TT_EPARSE);
        ASSERT_NULL(f.data);
        tt_wsc_close(w);
    }
    /* A truncated frame, then EOF: closed, not a timeout. */
    w = canned(&o, "%81%05hel");
    ASSERT_EQ(tt_wsc_read_frame(w, &f, T_MS), TT_ECLOSED);
    tt_wsc_close(w);
    /* A wrong accept value fails the open, but the 101 is handed back. */
    tt_resp_t r;
    ASSERT_NULL(tt_wsc_open(o.port,
                            "/respond?status=101&h=Upgrade:%20websocket&h=Connection:%20Upgrade"
                            "&h=Sec-WebSocket-Accept:%20wrong",
                            NULL, &r, T_MS));
    ASSERT_EQ(r.status, 101);
    tt_resp_free(&r);
    tt_origin_stop(&o);
    return 0;
}

/* The handshake and the first frame in one write: the origin must keep the
 * bytes behind the head for the WebSocket side. */
TEST_IMPL(wsorigin_pipelined)
{
    tt_origin_t o;
    tt_resp_t r;
    size_t n, len;
    ASSERT_OK(tt_origin_start(&o));
    tt_tc_t *c = tt_tc_connect(o.port, T_MS);
    ASSERT_NOT_NULL(c);
    tt_buf_t b = TT_BUF_INIT;
    tt_buf_appends(&b, "GET /ws HTTP/1.1\r\nHost: o\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: " SAMPLE_KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n");
    char *frame = tt_wsc_encode(TT_WS_TEXT, 1, 0, 1, "early", 5, &n);
    tt_buf_append(&b, frame, n);
    free(frame);
    ASSERT_OK(tt_tc_send(c, b.data, b.len));
    tt_buf_free(&b);
    ASSERT_OK(tt_tc_read_response(c, &r, T_MS, 0));
    ASSERT_EQ(r.status, 101);
    ASSERT(header_is(&r, "Sec-WebSocket-Accept", SAMPLE_ACCEPT));
    tt_resp_free(&r);
    ASSERT_EQ(tt_tc_read_n(c, 7, T_MS), 7);
    const char *d = tt_tc_data(c, &len);
    ASSERT_EQ(len, 7);
    ASSERT_OK(memcmp(d, "\201\005early", 7));
    tt_tc_close(c);
    tt_origin_stop(&o);
    return 0;
}

/* ---- /wsoh ---- */

/* Append one event; content of len bytes, or none when d is NULL. */
static void ev(tt_buf_t *b, const char *name, const char *d, size_t len)
{
    if (!d) {
        tt_buf_appendf(b, "%s\r\n", name);
        return;
    }
    tt_buf_appendf(b, "%s %llx\r\n", name, (unsigned long long)len);
    tt_buf_append(b, d, len);
    tt_buf_appends(b, "\r\n");
}

static void ev_text(tt_buf_t *b, const char *s)
{
    ev(b, "TEXT", s, strlen(s));
}

/* POST `body` to `path` as WebSocket-over-HTTP events, with extra header
 * lines; the response goes to *r. Bodies may hold NULs. */
static void wsoh_post(const tt_origin_t *o, const char *path, const char *headers,
                      const tt_buf_t *body, tt_resp_t *r)
{
    tt_buf_t req = TT_BUF_INIT;
    tt_buf_appendf(&req,
                   "POST %s HTTP/1.1\r\nHost: o\r\nContent-Type: application/websocket-events\r\n"
                   "Accept: application/websocket-events\r\n%sContent-Length: %llu\r\n\r\n",
                   path, headers ? headers : "", (unsigned long long)body->len);
    tt_buf_append(&req, body->data, body->len);
    tt_tc_t *c = tt_tc_connect(o->port, T_MS);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(tt_tc_send(c, req.data, req.len));
    ASSERT_OK(tt_tc_read_response(c, r, T_MS, 0));
    tt_tc_close(c);
    tt_buf_free(&req);
}

/* One request holding events `in`; the answer must be 200 with `want`. */
static void wsoh_expect(const tt_origin_t *o, const char *path, const char *headers,
                        const tt_buf_t *in, const tt_buf_t *want)
{
    tt_resp_t r;
    wsoh_post(o, path, headers, in, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "Content-Type", "application/websocket-events"));
    if (r.body_len != want->len || memcmp(r.body, want->data, want->len) != 0)
        TT_TEST_FAIL("wsoh body \"%s\", want \"%s\"", r.body, want->data ? want->data : "");
    tt_resp_free(&r);
}

TEST_IMPL(wsorigin_wsoh_open)
{
    tt_origin_t o;
    tt_resp_t r;
    tt_buf_t in = TT_BUF_INIT;
    ASSERT_OK(tt_origin_start(&o));
    ev(&in, "OPEN", NULL, 0);
    wsoh_post(&o, "/wsoh", "Connection-Id: c1\r\n", &in, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "Content-Type", "application/websocket-events"));
    ASSERT(header_is(&r, "Sec-WebSocket-Extensions", "grip"));
    ASSERT_EQ(tt_resp_header_count(&r, "Set-Meta-User"), 0);
    ASSERT_EQ(tt_resp_header_count(&r, "Keep-Alive-Interval"), 0);
    ASSERT_STR_EQ(r.body, "OPEN\r\n");
    tt_resp_free(&r);

    wsoh_post(&o, "/wsoh/x?meta=1&prefix=empty&kai=30&h=X-Extra:%201",
              "Sec-WebSocket-Protocol: chat\r\n", &in, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "Sec-WebSocket-Extensions", "grip; message-prefix=\"\""));
    ASSERT(header_is(&r, "Set-Meta-User", "alice"));
    ASSERT(header_is(&r, "Keep-Alive-Interval", "30"));
    ASSERT(header_is(&r, "Sec-WebSocket-Protocol", "chat"));
    ASSERT(header_is(&r, "X-Extra", "1"));
    tt_resp_free(&r);

    wsoh_post(&o, "/wsoh?grip=0", NULL, &in, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(tt_resp_header_count(&r, "Sec-WebSocket-Extensions"), 0);
    ASSERT_STR_EQ(r.body, "OPEN\r\n");
    tt_resp_free(&r);

    wsoh_post(&o, "/wsoh?reject=1", NULL, &in, &r);
    ASSERT_EQ(r.status, 403);
    ASSERT_STR_EQ(r.body, "rejected by origin\n");
    tt_resp_free(&r);
    /* reject only answers OPEN: later requests go through. */
    tt_buf_reset(&in);
    ev_text(&in, "x");
    wsoh_post(&o, "/wsoh?reject=1", NULL, &in, &r);
    ASSERT_EQ(r.status, 200);
    tt_resp_free(&r);

    /* Not WebSocket-over-HTTP. */
    ASSERT_OK(tt_http_request(o.port, "GET /wsoh HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 405);
    tt_resp_free(&r);
    ASSERT_OK(tt_http_request(o.port,
                              "POST /wsoh HTTP/1.1\r\nHost: o\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 6\r\n\r\nOPEN\r\n",
                              &r, T_MS));
    ASSERT_EQ(r.status, 415);
    tt_resp_free(&r);
    const char *bodies[] = {"OPEN",           "TEXT 5\r\nhi\r\n", "TEXT zz\r\nhi\r\n",
                            "TEXT 2\r\nhiXX", "WHAT\r\n",         "TEXT\r\n"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        tt_buf_reset(&in);
        tt_buf_appends(&in, bodies[i]);
        wsoh_post(&o, "/wsoh", NULL, &in, &r);
        ASSERT_EQ(r.status, i == 5 ? 200 : 400);
        tt_resp_free(&r);
    }
    tt_buf_free(&in);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_wsoh_events)
{
    tt_origin_t o;
    tt_buf_t in = TT_BUF_INIT, want = TT_BUF_INIT;
    ASSERT_OK(tt_origin_start(&o));
    /* Echo behind the prefix (grip is on by default), several per request. */
    ev_text(&in, "hello");
    ev_text(&in, "");
    ev(&in, "BINARY", "\x00\x01", 2);
    ev_text(&want, "m:hello");
    ev_text(&want, "m:");
    ev(&want, "BINARY", "m:\x00\x01", 4);
    wsoh_expect(&o, "/wsoh", NULL, &in, &want);
    tt_buf_reset(&want);
    ev_text(&want, "hello");
    ev_text(&want, "");
    ev(&want, "BINARY", "\x00\x01", 2);
    wsoh_expect(&o, "/wsoh?grip=0", NULL, &in, &want);

    /* Commands: GRIP control messages and the rest. */
    tt_buf_reset(&in);
    tt_buf_reset(&want);
    ev_text(&in, "sub:news");
    ev_text(&in, "unsub:news");
    ev_text(&in, "detach");
    ev_text(&in, "ka:beat");
    ev_text(&in, "meta:user=bob");
    ev_text(&in, "ping:pp");
    ev_text(&want, "c:{\"type\":\"subscribe\",\"channel\":\"news\"}");
    ev_text(&want, "c:{\"type\":\"unsubscribe\",\"channel\":\"news\"}");
    ev_text(&want, "c:{\"type\":\"detach\"}");
    ev_text(&want, "c:{\"type\":\"keep-alive\",\"content\":\"beat\",\"timeout\":1}");
    ev_text(&want, "c:{\"type\":\"set-meta\",\"name\":\"user\",\"value\":\"bob\"}");
    ev(&want, "PING", "pp", 2);
    wsoh_expect(&o, "/wsoh", NULL, &in, &want);

    tt_buf_reset(&in);
    tt_buf_reset(&want);
    ev_text(&in, "echo-meta");
    ev_text(&in, "grip-sig");
    /* Request order. */
    ev_text(&want, "m:Meta-User: bob\nConnection-Id: c7\nMeta-Room: r1\n");
    ev_text(&want, "m:tok.en.sig");
    wsoh_expect(&o, "/wsoh",
                "Meta-User: bob\r\nConnection-Id: c7\r\nMeta-Room: r1\r\n"
                "Grip-Sig: tok.en.sig\r\n",
                &in, &want);
    tt_buf_reset(&want);
    ev_text(&want, "Connection-Id: c8\n");
    ev_text(&want, "(none)");
    wsoh_expect(&o, "/wsoh?grip=0", "Connection-Id: c8\r\n", &in, &want);

    /* Control events. */
    tt_buf_reset(&in);
    tt_buf_reset(&want);
    ev(&in, "PING", NULL, 0);
    ev(&in, "PING", "p", 1);
    ev(&in, "PONG", "q", 1);
    ev(&in, "CLOSE", "\003\350bye", 5);
    ev(&want, "PONG", NULL, 0);
    ev(&want, "PONG", "p", 1);
    ev(&want, "CLOSE", "\003\350bye", 5);
    wsoh_expect(&o, "/wsoh", "Connection-Id: c9\r\n", &in, &want);
    tt_buf_reset(&in);
    tt_buf_reset(&want);
    ev(&in, "CLOSE", NULL, 0);
    ev_text(&in, "close:4000 done");
    ev(&want, "CLOSE", NULL, 0);
    ev(&want, "CLOSE", "\017\240done", 6);
    wsoh_expect(&o, "/wsoh", NULL, &in, &want);
    tt_buf_reset(&in);
    tt_buf_reset(&want);
    ev(&in, "DISCONNECT", NULL, 0);
    wsoh_expect(&o, "/wsoh", "Connection-Id: c9\r\n", &in, &want);

    /* What the backend saw, for tests that cannot ask it directly. */
    tt_resp_t r;
    ASSERT_OK(tt_http_request(o.port, "GET /wslog HTTP/1.1\r\nHost: o\r\n\r\n", &r, T_MS));
    ASSERT_CONTAINS(r.body, "wsoh - TEXT\n");
    ASSERT_CONTAINS(r.body, "wsoh c9 PING\nwsoh c9 PING\nwsoh c9 PONG\nwsoh c9 CLOSE 1000\n");
    ASSERT_CONTAINS(r.body, "wsoh c9 DISCONNECT\n");
    tt_resp_free(&r);
    tt_buf_free(&in);
    tt_buf_free(&want);
    tt_origin_stop(&o);
    return 0;
}

TEST_IMPL(wsorigin_generators)
{
    tt_origin_t o;
    tt_wsc_frame_t f;
    ASSERT_OK(tt_origin_start(&o));
    tt_wsc_t *w = ws_open(&o, "/ws?grip=1", "Sec-WebSocket-Extensions: grip\r\n", NULL);
    ASSERT_OK(tt_wsc_send_text(w, "big:70000"));
    ASSERT_OK(tt_wsc_read_frame(w, &f, T_MS));
    ASSERT_EQ(f.opcode, TT_WS_TEXT);
    ASSERT_EQ(f.len, 70002);
    ASSERT(strncmp(f.data, "m:abcdefghijklmnopqrstuvwxyzabc", 31) == 0);
    ASSERT_EQ(f.data[70001], 'a' + 69999 % 26);
    tt_wsc_frame_free(&f);
    ASSERT_OK(tt_wsc_send_text(w, "burst:50"));
    for (int i = 1; i <= 50; i++) {
        char want[16];
        snprintf(want, sizeof want, "m:%d", i);
        expect_msg(w, TT_WS_TEXT, want);
    }
    ASSERT_OK(tt_wsc_send_text(w, "big:x"));
    expect_msg(w, TT_WS_TEXT, "m:big:x");
    tt_wsc_close(w);

    /* Volume: 20 MB sent before reading anything back. */
    enum { N = 20, SIZE = 1000000 };
    char *big = malloc(SIZE);
    memset(big, 'v', SIZE);
    w = ws_open(&o, "/ws", NULL, NULL);
    for (int i = 0; i < N; i++) {
        big[0] = (char)('A' + i);
        ASSERT_OK(tt_wsc_send_binary(w, big, SIZE));
    }
    for (int i = 0; i < N; i++) {
        ASSERT_OK(tt_wsc_read_message(w, &f, T_MS));
        ASSERT_EQ(f.len, SIZE);
        ASSERT_EQ(f.data[0], 'A' + i);
        ASSERT_EQ(f.data[SIZE - 1], 'v');
        tt_wsc_frame_free(&f);
    }
    free(big);
    tt_wsc_close(w);

    /* The same commands over WebSocket-over-HTTP. */
    tt_buf_t in = TT_BUF_INIT, want = TT_BUF_INIT;
    ev_text(&in, "burst:3");
    ev_text(&in, "big:5");
    ev_text(&want, "1");
    ev_text(&want, "2");
    ev_text(&want, "3");
    ev_text(&want, "abcde");
    wsoh_expect(&o, "/wsoh?grip=0", NULL, &in, &want);
    tt_buf_free(&in);
    tt_buf_free(&want);
    tt_origin_stop(&o);
    return 0;
}
