/* Table tests for the pure WebSocket-over-HTTP module (src/wsevents.c): the
 * application/websocket-events codec (every event, round trips, every parse
 * error, CLOSE content), every GRIP control message type, field, default
 * and error, and the grip extension of Sec-WebSocket-Extensions.
 *
 * Expected values were checked against Pushpin 1.36 run with an over_http
 * route to a scripted backend: frames seen by a WebSocket client for the
 * events and the extension, and pushpin-handler's "failed to parse grip
 * control message" log lines for the control message errors. Where Tether
 * is stricter than Pushpin (malformed event bodies) the test says so. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "mem.h"
#include "task.h"
#include "wsevents.h"

#define ERR_LEN 256
#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- helpers ---- */

typedef struct want_ev_s {
    enum tt_wse_type type;
    const char *content; /* NULL: no content */
    size_t len;
} want_ev_t;

/* Initializers of a want_ev_t: without and with content. */
#define EV(t) (t), NULL, 0
#define EVC(t, lit) (t), (lit), sizeof(lit) - 1

static void check_event(const tt_wse_event_t *got, const want_ev_t *w)
{
    ASSERT_EQ(got->type, w->type);
    ASSERT_EQ(got->has_content, w->content != NULL);
    if (!w->content) {
        ASSERT_NULL(got->content);
        ASSERT_EQ(got->len, 0);
        return;
    }
    ASSERT_EQ(got->len, w->len);
    ASSERT(memcmp(got->content, w->content, w->len) == 0);
}

/* Parse a body that must be valid into exactly `n` events. */
static void parse_ok(const char *body, size_t len, const want_ev_t *want, size_t n)
{
    char err[ERR_LEN] = "";
    tt_wse_event_t *ev = NULL;
    size_t got = 99;
    int rc = tt_wse_parse(body, len, &ev, &got, err, sizeof err);
    if (rc != 0)
        TT_TEST_FAIL("unexpected error: %s", err);
    ASSERT_EQ(got, n);
    for (size_t i = 0; i < n; i++) {
        check_event(&ev[i], &want[i]);
        if (ev[i].content) {
            ASSERT(ev[i].content >= body);
            ASSERT(ev[i].content + ev[i].len <= body + len);
        }
    }
    if (n == 0)
        ASSERT_NULL(ev);
    free(ev);
}

/* Parse a body that must fail with an error containing `want`. */
static void parse_err(const char *body, size_t len, const char *want)
{
    char err[ERR_LEN] = "unset";
    static tt_wse_event_t sentinel;
    tt_wse_event_t *ev = &sentinel; /* must be reset to NULL */
    size_t n = 99;
    ASSERT_EQ(tt_wse_parse(body, len, &ev, &n, err, sizeof err), TT_EPARSE);
    ASSERT_NULL(ev);
    ASSERT_EQ(n, 0);
    ASSERT_CONTAINS(err, want);
    /* err may be NULL. */
    ASSERT_EQ(tt_wse_parse(body, len, &ev, &n, NULL, 0), TT_EPARSE);
}

static void encode_eq(tt_buf_t *b, const char *want, size_t want_len)
{
    ASSERT_EQ(b->len, want_len);
    ASSERT(memcmp(b->data, want, want_len) == 0);
    tt_buf_reset(b);
}

/* A control message that must parse; free with tt_wsctl_free. */
static tt_wsctl_t *ctl_ok(const char *json)
{
    char err[ERR_LEN] = "";
    tt_wsctl_t *c = NULL;
    int rc = tt_wsctl_parse(json, strlen(json), &c, err, sizeof err);
    if (rc != 0)
        TT_TEST_FAIL("unexpected error for %s: %s", json, err);
    ASSERT_NOT_NULL(c);
    return c;
}

static void ctl_err(const char *json, const char *want)
{
    char err[ERR_LEN] = "unset";
    static tt_wsctl_t sentinel;
    tt_wsctl_t *c = &sentinel; /* must be reset to NULL */
    ASSERT_EQ(tt_wsctl_parse(json, strlen(json), &c, err, sizeof err), TT_EPARSE);
    ASSERT_NULL(c);
    if (strcmp(err, want) != 0)
        TT_TEST_FAIL("%s: error \"%s\", want \"%s\"", json, err, want);
    ASSERT_EQ(tt_wsctl_parse(json, strlen(json), &c, NULL, 0), TT_EPARSE);
}

/* The keep-alive message a control message sets up. */
static void ka_eq(const char *json, const char *content, size_t len, int type, int timeout,
                  bool interval)
{
    tt_wsctl_t *c = ctl_ok(json);
    ASSERT_EQ(c->type, TT_WSCTL_KEEP_ALIVE);
    ASSERT(c->ka_enabled);
    ASSERT_NOT_NULL(c->ka_content);
    ASSERT_EQ(c->ka_len, len);
    ASSERT(memcmp(c->ka_content, content, len) == 0);
    ASSERT_EQ(c->ka_content[len], '\0');
    ASSERT_EQ(c->ka_type, type);
    ASSERT_EQ(c->ka_timeout, timeout);
    ASSERT_EQ(c->ka_interval, interval);
    tt_wsctl_free(c);
}

static void ext_eq(const char *value, int rc, bool grip, const char *prefix)
{
    char buf[TT_WSE_PREFIX_CAP];
    bool on = !grip;
    memset(buf, 'Z', sizeof buf);
    int got = tt_wse_grip_extension(value, strlen(value), &on, buf, sizeof buf);
    if (got != rc || on != grip || strcmp(buf, prefix) != 0)
        TT_TEST_FAIL("[%s]: rc %d grip %d prefix \"%s\"; want rc %d grip %d prefix \"%s\"", value,
                     got, on, buf, rc, grip, prefix);
}

/* ---- events: encode ---- */

TEST_IMPL(wsevents_names)
{
    static const char *const names[] = {"OPEN", "TEXT",  "BINARY",    "PING",
                                        "PONG", "CLOSE", "DISCONNECT"};
    for (int t = TT_WSE_OPEN; t <= TT_WSE_DISCONNECT; t++)
        ASSERT_STR_EQ(tt_wse_name((enum tt_wse_type)t), names[t]);
    ASSERT_STR_EQ(tt_wse_name((enum tt_wse_type)99), "?");
    return 0;
}

TEST_IMPL(wsevents_encode_table)
{
    static const struct {
        enum tt_wse_type type;
        const char *content;
        size_t len;
        bool has;
        const char *want;
        size_t wlen;
    } cases[] = {
        {TT_WSE_OPEN, NULL, 0, false, S("OPEN\r\n")},
        {TT_WSE_TEXT, "hello world", 11, true, S("TEXT b\r\nhello world\r\n")},
        {TT_WSE_TEXT, "", 0, true, S("TEXT 0\r\n\r\n")},
        {TT_WSE_TEXT, NULL, 0, false, S("TEXT\r\n")},
        {TT_WSE_BINARY, "\x00\x01\x02", 3, true, S("BINARY 3\r\n\x00\x01\x02\r\n")},
        {TT_WSE_PING, NULL, 0, false, S("PING\r\n")},
        {TT_WSE_PING, "p", 1, true, S("PING 1\r\np\r\n")},
        {TT_WSE_PONG, NULL, 0, false, S("PONG\r\n")},
        {TT_WSE_PONG, "abc", 3, true, S("PONG 3\r\nabc\r\n")},
        {TT_WSE_CLOSE, NULL, 0, false, S("CLOSE\r\n")},
        {TT_WSE_DISCONNECT, NULL, 0, false, S("DISCONNECT\r\n")},
        /* Lower-case hex, as QByteArray::number(n, 16). */
        {TT_WSE_TEXT, "abcdefghijklmnopqrstuvwxyz", 26, true,
         S("TEXT 1a\r\nabcdefghijklmnopqrstuvwxyz\r\n")},
        {TT_WSE_TEXT, "\r\n", 2, true, S("TEXT 2\r\n\r\n\r\n")},
    };
    tt_buf_t b = TT_BUF_INIT;
    for (size_t i = 0; i < TT_ARRAY_SIZE(cases); i++) {
        tt_wse_encode(&b, cases[i].type, cases[i].content, cases[i].len, cases[i].has);
        encode_eq(&b, cases[i].want, cases[i].wlen);
    }
    /* Appends. */
    tt_wse_encode(&b, TT_WSE_OPEN, NULL, 0, false);
    tt_wse_encode(&b, TT_WSE_TEXT, "hi", 2, true);
    encode_eq(&b, S("OPEN\r\nTEXT 2\r\nhi\r\n"));
    /* A large length. */
    size_t big = 0x12345;
    char *data = malloc(big);
    ASSERT_NOT_NULL(data);
    memset(data, 'x', big);
    tt_wse_encode(&b, TT_WSE_BINARY, data, big, true);
    ASSERT(strncmp(b.data, "BINARY 12345\r\nxxx", 17) == 0);
    ASSERT_EQ(b.len, 14 + big + 2);
    free(data);
    tt_buf_free(&b);
    return 0;
}

TEST_IMPL(wsevents_encode_close)
{
    tt_buf_t b = TT_BUF_INIT;
    tt_wse_encode_close(&b, 1000, "bye", 3);
    encode_eq(&b, S("CLOSE 5\r\n\x03\xe8"
                    "bye\r\n"));
    tt_wse_encode_close(&b, 1000, NULL, 0);
    encode_eq(&b, S("CLOSE 2\r\n\x03\xe8\r\n"));
    tt_wse_encode_close(&b, 4001, "\xc3\xa9t\xc3\xa9", 5);
    encode_eq(&b, S("CLOSE 7\r\n\x0f\xa1\xc3\xa9t\xc3\xa9\r\n"));
    tt_wse_encode_close(&b, 0, NULL, 0);
    encode_eq(&b, S("CLOSE 2\r\n\x00\x00\r\n"));
    tt_wse_encode_close(&b, 65535, NULL, 0);
    encode_eq(&b, S("CLOSE 2\r\n\xff\xff\r\n"));
    /* No code: no content, and the reason goes with it. */
    tt_wse_encode_close(&b, -1, "ignored", 7);
    encode_eq(&b, S("CLOSE\r\n"));
    tt_wse_encode_close(&b, TT_WSE_CLOSE_NO_STATUS, NULL, 0);
    encode_eq(&b, S("CLOSE\r\n"));
    tt_buf_free(&b);
    return 0;
}

/* ---- events: parse ---- */

TEST_IMPL(wsevents_parse_table)
{
    /* One of each, as a backend sends them. */
    static const want_ev_t all[] = {
        {EV(TT_WSE_OPEN)},
        {EVC(TT_WSE_TEXT, "hello world")},
        {EVC(TT_WSE_BINARY, "\x00\x01\x02")},
        {EV(TT_WSE_PING)},
        {EVC(TT_WSE_PING, "p")},
        {EV(TT_WSE_PONG)},
        {EVC(TT_WSE_PONG, "q")},
        {EVC(TT_WSE_CLOSE, "\003\350bye")},
        {EV(TT_WSE_CLOSE)},
        {EV(TT_WSE_DISCONNECT)},
    };
    parse_ok(S("OPEN\r\nTEXT b\r\nhello world\r\nBINARY 3\r\n\x00\x01\x02\r\nPING\r\n"
               "PING 1\r\np\r\nPONG\r\nPONG 1\r\nq\r\nCLOSE 5\r\n\x03\xe8"
               "bye\r\nCLOSE\r\n"
               "DISCONNECT\r\n"),
             all, TT_ARRAY_SIZE(all));

    /* An empty body is no events (a keep-alive answer). */
    parse_ok("", 0, NULL, 0);
    parse_ok(NULL, 0, NULL, 0);

    /* Hex in either case (Pushpin's docs write "TEXT B"), and what Qt's
     * toInt(16) also takes: blanks around, '+', 0x. */
    static const want_ev_t hello[] = {{EVC(TT_WSE_TEXT, "hello world")}};
    parse_ok(S("TEXT B\r\nhello world\r\n"), hello, 1);
    parse_ok(S("TEXT b\r\nhello world\r\n"), hello, 1);
    parse_ok(S("TEXT 0xb\r\nhello world\r\n"), hello, 1);
    parse_ok(S("TEXT 0XB\r\nhello world\r\n"), hello, 1);
    parse_ok(S("TEXT  b \r\nhello world\r\n"), hello, 1);
    parse_ok(S("TEXT +b\r\nhello world\r\n"), hello, 1);
    parse_ok(S("TEXT 000b\r\nhello world\r\n"), hello, 1);

    /* Empty content is still content; CRLF and NUL inside content. */
    static const want_ev_t empty[] = {{EVC(TT_WSE_TEXT, "")}};
    parse_ok(S("TEXT 0\r\n\r\n"), empty, 1);
    static const want_ev_t crlf[] = {{EVC(TT_WSE_TEXT, "\r\n\r\n")}, {EV(TT_WSE_OPEN)}};
    parse_ok(S("TEXT 4\r\n\r\n\r\n\r\nOPEN\r\n"), crlf, 2);
    static const want_ev_t nul[] = {{EVC(TT_WSE_BINARY, "a\0b")}};
    parse_ok(S("BINARY 3\r\na\0b\r\n"), nul, 1);

    /* Any event may carry content (Pushpin accepts "OPEN 2"). */
    static const want_ev_t open[] = {{EVC(TT_WSE_OPEN, "hi")}, {EVC(TT_WSE_DISCONNECT, "x")}};
    parse_ok(S("OPEN 2\r\nhi\r\nDISCONNECT 1\r\nx\r\n"), open, 2);
    return 0;
}

TEST_IMPL(wsevents_parse_errors)
{
    /* Pushpin 1.36 fails the connection on these too. */
    parse_err(S("OPEN"), "event line without CRLF at byte 0");
    parse_err(S("OPEN\n"), "event line without CRLF at byte 0");
    parse_err(S("OPEN\r\nTEXT"), "event line without CRLF at byte 6");
    parse_err(S("OPEN\r\nTEXT 2\r"), "event line without CRLF at byte 6");
    parse_err(S("TEXT \r\nhi\r\n"), "bad hex length \"\" at byte 0");
    parse_err(S("TEXT g\r\n"), "bad hex length \"g\" at byte 0");
    parse_err(S("TEXT 1 2\r\nx\r\n"), "bad hex length \"1 2\" at byte 0");
    parse_err(S("TEXT 0x\r\n"), "bad hex length \"0x\" at byte 0");
    parse_err(S("TEXT +\r\n"), "bad hex length \"+\" at byte 0");

    /* Pushpin ignores these events; Tether refuses the body. */
    parse_err(S("OPEN\r\nFOO\r\n"), "unknown event name \"FOO\" at byte 6");
    parse_err(S("text 2\r\nhi\r\n"), "unknown event name \"text\" at byte 0");
    parse_err(S("OPEN\r\n\r\nTEXT 2\r\nhi\r\n"), "unknown event name \"\" at byte 6");
    parse_err(S("TEXT\t2\r\nhi\r\n"), "unknown event name \"TEXT?2\" at byte 0");
    parse_err(S("OPENX\r\n"), "unknown event name \"OPENX\"");
    parse_err(S("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"),
              "unknown event name \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...\"");

    /* Pushpin reads -1 as "to the end"; Tether refuses it. */
    parse_err(S("TEXT -1\r\nhi\r\n"), "bad hex length \"-1\" at byte 0");

    /* Pushpin cuts the content short at the end of the body; Tether refuses. */
    parse_err(S("TEXT 10\r\nhello\r\n"), "length \"10\" beyond body at byte 0");
    parse_err(S("OPEN\r\nTEXT 1\r\n"), "length \"1\" beyond body at byte 6");
    parse_err(S("TEXT ffffffffffffffffffffffffffffffff\r\nx\r\n"),
              "length \"ffffffffffffffffffffffffffffffff\" beyond body at byte 0");

    /* Pushpin skips the two bytes after content unchecked; Tether wants CRLF. */
    parse_err(S("TEXT 5\r\nhello"), "missing CRLF after content at byte 13");
    parse_err(S("TEXT 5\r\nhello\r"), "missing CRLF after content at byte 13");
    parse_err(S("TEXT 5\r\nhelloXXTEXT 2\r\nhi\r\n"), "missing CRLF after content at byte 13");
    parse_err(S("TEXT 0\r\n"), "missing CRLF after content at byte 8");
    return 0;
}

/* Every type, with and without content, hard bytes and sizes, through
 * encode then parse. */
TEST_IMPL(wsevents_round_trip)
{
    static const char bin[] = "\r\n\0\xff TEXT 3\r\n";
    size_t big_len = 70000;
    char *big = malloc(big_len);
    ASSERT_NOT_NULL(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 7);
    struct {
        enum tt_wse_type type;
        const char *content;
        size_t len;
    } evs[] = {
        {TT_WSE_OPEN, NULL, 0},        {TT_WSE_TEXT, "hi", 2},
        {TT_WSE_TEXT, "", 0},          {TT_WSE_BINARY, bin, sizeof bin - 1},
        {TT_WSE_BINARY, big, big_len}, {TT_WSE_PING, NULL, 0},
        {TT_WSE_PING, "x", 1},         {TT_WSE_PONG, NULL, 0},
        {TT_WSE_PONG, "y", 1},         {TT_WSE_CLOSE, "\003\350ok", 4},
        {TT_WSE_CLOSE, NULL, 0},       {TT_WSE_DISCONNECT, NULL, 0},
    };
    tt_buf_t b = TT_BUF_INIT;
    for (size_t i = 0; i < TT_ARRAY_SIZE(evs); i++)
        tt_wse_encode(&b, evs[i].type, evs[i].content, evs[i].len, evs[i].content != NULL);

    tt_wse_event_t *got = NULL;
    size_t n = 0;
    char err[ERR_LEN] = "";
    ASSERT_OK(tt_wse_parse(b.data, b.len, &got, &n, err, sizeof err));
    ASSERT_EQ(n, TT_ARRAY_SIZE(evs));
    for (size_t i = 0; i < n; i++) {
        want_ev_t w = {evs[i].type, evs[i].content, evs[i].len};
        check_event(&got[i], &w);
    }
    free(got);

    /* CLOSE through encode_close and close_parse. */
    tt_buf_reset(&b);
    tt_wse_encode_close(&b, 4321, "why", 3);
    ASSERT_OK(tt_wse_parse(b.data, b.len, &got, &n, err, sizeof err));
    ASSERT_EQ(n, 1);
    int code = 0;
    const char *reason = NULL;
    size_t rlen = 0;
    ASSERT_OK(tt_wse_close_parse(got[0].content, got[0].len, &code, &reason, &rlen));
    ASSERT_EQ(code, 4321);
    ASSERT_EQ(rlen, 3);
    ASSERT(memcmp(reason, "why", 3) == 0);
    free(got);
    tt_buf_free(&b);
    free(big);
    return 0;
}

TEST_IMPL(wsevents_close_parse)
{
    int code = 0;
    const char *reason = NULL;
    size_t rlen = 99;

    ASSERT_OK(tt_wse_close_parse(NULL, 0, &code, &reason, &rlen));
    ASSERT_EQ(code, TT_WSE_CLOSE_NO_STATUS);
    ASSERT_STR_EQ(reason, "");
    ASSERT_EQ(rlen, 0);

    /* One byte: Pushpin treats it as no code; the outputs say the same. */
    code = 0;
    ASSERT_EQ(tt_wse_close_parse("x", 1, &code, &reason, &rlen), TT_EPARSE);
    ASSERT_EQ(code, TT_WSE_CLOSE_NO_STATUS);
    ASSERT_STR_EQ(reason, "");
    ASSERT_EQ(rlen, 0);

    static const char c1000[] = "\x03\xe8";
    ASSERT_OK(tt_wse_close_parse(c1000, 2, &code, &reason, &rlen));
    ASSERT_EQ(code, 1000);
    ASSERT_EQ(rlen, 0);

    static const char c4000[] = "\x0f\xa0going away \xc3\xa9";
    ASSERT_OK(tt_wse_close_parse(c4000, sizeof c4000 - 1, &code, &reason, &rlen));
    ASSERT_EQ(code, 4000);
    ASSERT_EQ(rlen, sizeof c4000 - 3);
    ASSERT(reason == c4000 + 2);

    ASSERT_OK(tt_wse_close_parse("\xff\xff", 2, &code, &reason, &rlen));
    ASSERT_EQ(code, 65535);
    ASSERT_OK(tt_wse_close_parse("\x00\x00", 2, &code, &reason, &rlen));
    ASSERT_EQ(code, 0);
    return 0;
}

/* ---- control messages ---- */

TEST_IMPL(wsctl_subscribe)
{
    tt_wsctl_t *c = ctl_ok("{\"type\": \"subscribe\", \"channel\": \"room-1\"}");
    ASSERT_EQ(c->type, TT_WSCTL_SUBSCRIBE);
    ASSERT_STR_EQ(c->channel, "room-1");
    ASSERT_EQ(c->n_filters, 0);
    ASSERT_NULL(c->filters);
    tt_wsctl_free(c);

    c = ctl_ok(
        "{\"type\":\"subscribe\",\"channel\":\"a\",\"filters\":[\"skip-self\",\"build-id\"]}");
    ASSERT_EQ(c->n_filters, 2);
    ASSERT_STR_EQ(c->filters[0], "skip-self");
    ASSERT_STR_EQ(c->filters[1], "build-id");
    tt_wsctl_free(c);

    c = ctl_ok("{\"type\":\"subscribe\",\"channel\":\"a\",\"filters\":[]}");
    ASSERT_EQ(c->n_filters, 0);
    tt_wsctl_free(c);

    /* More than 5 filters: Pushpin 1.36 subscribes anyway (the limit of 5
     * is only for Grip-Channel), so it is not an error here. */
    c = ctl_ok("{\"type\":\"subscribe\",\"channel\":\"a\","
               "\"filters\":[\"f1\",\"f2\",\"f3\",\"f4\",\"f5\",\"f6\",\"f7\"]}");
    ASSERT_EQ(c->n_filters, 7);
    ASSERT_STR_EQ(c->filters[6], "f7");
    tt_wsctl_free(c);

    /* Unknown fields are ignored; UTF-8 passes through. */
    c = ctl_ok("{\"channel\":\"caf\\u00e9\",\"x\":[1,{}],\"type\":\"subscribe\"}");
    ASSERT_STR_EQ(c->channel, "caf\xc3\xa9");
    tt_wsctl_free(c);
    return 0;
}

TEST_IMPL(wsctl_unsubscribe_detach_flush)
{
    /* filters is read only for subscribe: a bad one is ignored here. */
    tt_wsctl_t *c = ctl_ok("{\"type\":\"unsubscribe\",\"channel\":\"a\",\"filters\":7}");
    ASSERT_EQ(c->type, TT_WSCTL_UNSUBSCRIBE);
    ASSERT_STR_EQ(c->channel, "a");
    ASSERT_NULL(c->filters);
    tt_wsctl_free(c);

    c = ctl_ok("{\"type\":\"detach\",\"channel\":5}");
    ASSERT_EQ(c->type, TT_WSCTL_DETACH);
    ASSERT_NULL(c->channel);
    tt_wsctl_free(c);

    c = ctl_ok(" {\"type\":\"flush-delayed\"}\r\n ");
    ASSERT_EQ(c->type, TT_WSCTL_FLUSH_DELAYED);
    tt_wsctl_free(c);
    tt_wsctl_free(NULL);
    return 0;
}

TEST_IMPL(wsctl_keep_alive)
{
    /* Defaults: text, 55 s, idle. */
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"ka\"}", S("ka"), TT_WSE_OP_TEXT, 55, false);
    /* content-bin without message-type is still sent as a TEXT frame: Pushpin
     * 1.36 sends opcode 1 with the decoded bytes. */
    ka_eq("{\"type\":\"keep-alive\",\"content-bin\":\"AAEC\"}", S("\x00\x01\x02"), TT_WSE_OP_TEXT,
          55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content-bin\":\"AAEC\",\"message-type\":\"binary\"}",
          S("\x00\x01\x02"), TT_WSE_OP_BINARY, 55, false);
    /* Both: content-bin wins. */
    ka_eq("{\"type\":\"keep-alive\",\"content-bin\":\"aGk=\",\"content\":\"zz\"}", S("hi"),
          TT_WSE_OP_TEXT, 55, false);
    /* Lenient base64, as Qt: '=' and other strangers are skipped. */
    ka_eq("{\"type\":\"keep-alive\",\"content-bin\":\"aG=k*\"}", S("hi"), TT_WSE_OP_TEXT, 55,
          false);
    ka_eq("{\"type\":\"keep-alive\",\"content-bin\":\"\"}", S(""), TT_WSE_OP_TEXT, 55, false);
    /* Every message type. */
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"p\",\"message-type\":\"ping\"}", S("p"),
          TT_WSE_OP_PING, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"p\",\"message-type\":\"pong\"}", S("p"),
          TT_WSE_OP_PONG, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"t\",\"message-type\":\"text\"}", S("t"),
          TT_WSE_OP_TEXT, 55, false);
    /* Empty content still enables keep-alives (empty frames). */
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"\"}", S(""), TT_WSE_OP_TEXT, 55, false);
    /* Timeouts, converted as QVariant::toInt: rounded numbers, bools,
     * numeric strings; 0 and non-numeric strings give the default. */
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":30}", S("k"), 1, 30, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":1.4}", S("k"), 1, 1, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":1.5}", S("k"), 1, 2, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":-0.4}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":-0.5}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":0}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":true}", S("k"), 1, 1, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":false}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":\"20\"}", S("k"), 1, 20, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":\" +7 \"}", S("k"), 1, 7, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":\"abc\"}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":\"1.5\"}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":1e300}", S("k"), 1, 2147483647,
          false);
    /* Modes: only "interval" is interval. */
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"mode\":\"interval\"}", S("k"), 1, 55, true);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"mode\":\"idle\"}", S("k"), 1, 55, false);
    ka_eq("{\"type\":\"keep-alive\",\"content\":\"k\",\"mode\":\"Interval\"}", S("k"), 1, 55,
          false);

    /* No content: keep-alives off; the timeout is not even looked at. */
    tt_wsctl_t *c = ctl_ok("{\"type\":\"keep-alive\",\"timeout\":{},\"mode\":\"interval\"}");
    ASSERT_EQ(c->type, TT_WSCTL_KEEP_ALIVE);
    ASSERT(!c->ka_enabled);
    ASSERT_NULL(c->ka_content);
    ASSERT_EQ(c->ka_len, 0);
    ASSERT_EQ(c->ka_type, TT_WSE_OP_TEXT);
    ASSERT_EQ(c->ka_timeout, TT_WSCTL_KA_TIMEOUT);
    tt_wsctl_free(c);
    return 0;
}

TEST_IMPL(wsctl_set_meta_session)
{
    tt_wsctl_t *c = ctl_ok("{\"type\":\"set-meta\",\"name\":\"user\",\"value\":\"alice\"}");
    ASSERT_EQ(c->type, TT_WSCTL_SET_META);
    ASSERT_STR_EQ(c->name, "user");
    ASSERT_STR_EQ(c->value, "alice");
    tt_wsctl_free(c);

    /* Absent value deletes; an empty one is stored as empty. */
    c = ctl_ok("{\"type\":\"set-meta\",\"name\":\"user\"}");
    ASSERT_STR_EQ(c->name, "user");
    ASSERT_NULL(c->value);
    tt_wsctl_free(c);
    c = ctl_ok("{\"type\":\"set-meta\",\"name\":\"user\",\"value\":\"\"}");
    ASSERT_STR_EQ(c->value, "");
    tt_wsctl_free(c);

    c = ctl_ok("{\"type\":\"session\",\"id\":\"s-123\"}");
    ASSERT_EQ(c->type, TT_WSCTL_SESSION);
    ASSERT_STR_EQ(c->session_id, "s-123");
    tt_wsctl_free(c);
    c = ctl_ok("{\"type\":\"session\"}");
    ASSERT_NULL(c->session_id);
    tt_wsctl_free(c);
    c = ctl_ok("{\"type\":\"session\",\"id\":\"\"}");
    ASSERT_NULL(c->session_id);
    tt_wsctl_free(c);
    return 0;
}

TEST_IMPL(wsctl_send_delayed)
{
    tt_wsctl_t *c = ctl_ok("{\"type\":\"send-delayed\",\"content\":\"later\"}");
    ASSERT_EQ(c->type, TT_WSCTL_SEND_DELAYED);
    ASSERT_STR_EQ(c->sd_content, "later");
    ASSERT_EQ(c->sd_len, 5);
    ASSERT_EQ(c->sd_type, TT_WSE_OP_TEXT);
    ASSERT_EQ(c->sd_timeout, TT_WSCTL_SD_TIMEOUT);
    ASSERT(!c->ka_enabled);
    ASSERT_NULL(c->ka_content);
    tt_wsctl_free(c);

    c = ctl_ok("{\"type\":\"send-delayed\",\"content-bin\":\"AP8=\",\"message-type\":\"binary\","
               "\"timeout\":3,\"mode\":5}");
    ASSERT_EQ(c->sd_len, 2);
    ASSERT(memcmp(c->sd_content, "\x00\xff", 2) == 0);
    ASSERT_EQ(c->sd_type, TT_WSE_OP_BINARY);
    ASSERT_EQ(c->sd_timeout, 3);
    tt_wsctl_free(c);

    /* No content: Pushpin sends an empty message; the timeout is then not
     * read, so the default applies. */
    c = ctl_ok("{\"type\":\"send-delayed\",\"timeout\":9,\"message-type\":\"ping\"}");
    ASSERT_STR_EQ(c->sd_content, "");
    ASSERT_EQ(c->sd_len, 0);
    ASSERT_EQ(c->sd_type, TT_WSE_OP_PING);
    ASSERT_EQ(c->sd_timeout, TT_WSCTL_SD_TIMEOUT);
    tt_wsctl_free(c);
    return 0;
}

/* Every error, with the message pushpin-handler 1.36 logs for it. */
TEST_IMPL(wsctl_errors)
{
    static const struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"", "grip control message is not valid json"},
        {"nope", "grip control message is not valid json"},
        {"5", "grip control message is not valid json"},
        {"\"subscribe\"", "grip control message is not valid json"},
        {"{\"type\":\"detach\"} x", "grip control message is not valid json"},
        {"{\"type\":\"detach\"", "grip control message is not valid json"},
        {"[1]", "grip control packet is not an object"},
        {"{}", "grip control object does not contain 'type'"},
        {"{\"type\":1}", "grip control object contains 'type' with wrong type"},
        {"{\"type\":null}", "grip control object contains 'type' with wrong type"},
        {"{\"type\":\"bogus\"}", "'type' contains unknown value: bogus"},
        {"{\"type\":\"Subscribe\"}", "'type' contains unknown value: Subscribe"},
        {"{\"type\":\"\"}", "'type' contains unknown value: "},
        {"{\"type\":\"subscribe\"}", "grip control object does not contain 'channel'"},
        {"{\"type\":\"unsubscribe\"}", "grip control object does not contain 'channel'"},
        {"{\"type\":\"subscribe\",\"channel\":1}",
         "grip control object contains 'channel' with wrong type"},
        {"{\"type\":\"subscribe\",\"channel\":\"\"}",
         "grip control object contains 'channel' with invalid value"},
        {"{\"type\":\"unsubscribe\",\"channel\":\"\"}",
         "grip control object contains 'channel' with invalid value"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"filters\":\"x\"}",
         "grip control object contains 'filters' with wrong type"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"filters\":null}",
         "grip control object contains 'filters' with wrong type"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"filters\":[\"ok\",1]}",
         "filters contains value with wrong type"},
        {"{\"type\":\"set-meta\"}", "grip control object does not contain 'name'"},
        {"{\"type\":\"set-meta\",\"name\":\"\"}",
         "grip control object contains 'name' with invalid value"},
        {"{\"type\":\"set-meta\",\"name\":[]}",
         "grip control object contains 'name' with wrong type"},
        {"{\"type\":\"set-meta\",\"name\":\"a\",\"value\":null}",
         "grip control object contains 'value' with wrong type"},
        {"{\"type\":\"set-meta\",\"name\":\"a\",\"value\":1}",
         "grip control object contains 'value' with wrong type"},
        {"{\"type\":\"session\",\"id\":null}", "grip control object contains 'id' with wrong type"},
        {"{\"type\":\"session\",\"id\":5}", "grip control object contains 'id' with wrong type"},
        {"{\"type\":\"keep-alive\",\"message-type\":\"foo\"}",
         "grip control object contains 'message-type' with unknown value"},
        {"{\"type\":\"keep-alive\",\"message-type\":\"TEXT\",\"content\":\"x\"}",
         "grip control object contains 'message-type' with unknown value"},
        {"{\"type\":\"keep-alive\",\"message-type\":1}",
         "grip control object contains 'message-type' with wrong type"},
        {"{\"type\":\"keep-alive\",\"content\":1}",
         "grip control object contains 'content' with wrong type"},
        {"{\"type\":\"keep-alive\",\"content\":null}",
         "grip control object contains 'content' with wrong type"},
        {"{\"type\":\"keep-alive\",\"content-bin\":1,\"content\":\"x\"}",
         "grip control object contains 'content-bin' with wrong type"},
        {"{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":-1}",
         "grip control object contains 'timeout' with invalid value"},
        {"{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":-0.6}",
         "grip control object contains 'timeout' with invalid value"},
        {"{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":\"-3\"}",
         "grip control object contains 'timeout' with invalid value"},
        {"{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":null}",
         "grip control object contains 'timeout' with wrong type"},
        {"{\"type\":\"keep-alive\",\"content\":\"k\",\"timeout\":[]}",
         "grip control object contains 'timeout' with wrong type"},
        {"{\"type\":\"keep-alive\",\"content\":\"k\",\"mode\":1}",
         "grip control object contains 'mode' with wrong type"},
        {"{\"type\":\"keep-alive\",\"mode\":null}",
         "grip control object contains 'mode' with wrong type"},
        {"{\"type\":\"send-delayed\",\"content\":\"x\",\"timeout\":{}}",
         "grip control object contains 'timeout' with wrong type"},
        {"{\"type\":\"send-delayed\",\"message-type\":\"close\"}",
         "grip control object contains 'message-type' with unknown value"},
    };
    for (size_t i = 0; i < TT_ARRAY_SIZE(cases); i++)
        ctl_err(cases[i].json, cases[i].want);

    /* Stops at the first error, in Pushpin's order: message-type first. */
    ctl_err("{\"type\":\"keep-alive\",\"message-type\":\"x\",\"content\":1}",
            "grip control object contains 'message-type' with unknown value");
    /* A short err buffer is cut, not overrun. */
    char err[8];
    tt_wsctl_t *c = NULL;
    ASSERT_EQ(tt_wsctl_parse(S("{}"), &c, err, sizeof err), TT_EPARSE);
    ASSERT_STR_EQ(err, "grip co");
    return 0;
}

/* ---- the grip extension ---- */

TEST_IMPL(wsevents_grip_extension)
{
    /* Each checked against Pushpin 1.36: which backend messages reached the
     * client, and whether "c:" messages were taken as control messages. */
    ext_eq("", 0, false, "");
    ext_eq("permessage-deflate", 0, false, "");
    ext_eq("grip", 0, true, "m:");
    ext_eq("  grip  ", 0, true, "m:");
    ext_eq("grip; message-prefix=\"x:\"", 0, true, "x:");
    ext_eq("grip; message-prefix=x:", 0, true, "x:");
    ext_eq("grip;message-prefix=x:", 0, true, "x:");
    ext_eq("grip ; message-prefix = x: ", 0, true, "x:");
    ext_eq("grip; message-prefix=\"\"", 0, true, "");
    ext_eq("grip; message-prefix", 0, true, "");
    ext_eq("grip; message-prefix=;", 0, true, "");
    /* Around other extensions, in either order. */
    ext_eq("permessage-deflate; client_max_window_bits=10, grip; message-prefix=\"x:\"", 0, true,
           "x:");
    ext_eq("grip; message-prefix=\"x:\", permessage-deflate", 0, true, "x:");
    ext_eq("gripx, grip ; message-prefix = x:", 0, true, "x:");
    ext_eq("foo; a=\"1,2\", grip", 0, true, "m:");
    /* Quoting: commas and escapes inside quotes; junk after the quote. */
    ext_eq("grip; message-prefix=\"a,b\"", 0, true, "a,b");
    ext_eq("grip; message-prefix=\"a\\\"b\"", 0, true, "a\"b");
    ext_eq("grip; message-prefix=\"x:\"junk; other=1", 0, true, "x:");
    /* A blank after '=' makes the quotes part of an unquoted value. */
    ext_eq("grip; message-prefix= \"x:\"", 0, true, "\"x:\"");
    /* Case-sensitive names; the last message-prefix wins; first grip wins. */
    ext_eq("Grip", 0, false, "");
    ext_eq("grip; Message-Prefix=\"x:\"", 0, true, "m:");
    ext_eq("grip; message-prefix=\"x:\"; message-prefix=\"y:\"", 0, true, "y:");
    ext_eq("grip; message-prefix=a:, grip; message-prefix=b:", 0, true, "a:");
    ext_eq("grip; other; message-prefix=p", 0, true, "p");
    /* Malformed parameters: Pushpin ignores the extension. */
    ext_eq("grip; message-prefix=", TT_EPARSE, false, "");
    ext_eq("grip; message-prefix=\"x:", TT_EPARSE, false, "");
    ext_eq("grip; message-prefix=\"x:\\", TT_EPARSE, false, "");
    ext_eq("grip; other=", TT_EPARSE, false, "");
    return 0;
}

TEST_IMPL(wsevents_grip_extension_limit)
{
    char small[3];
    bool grip = true;
    ASSERT_OK(tt_wse_grip_extension(S("grip"), &grip, small, sizeof small));
    ASSERT(grip);
    ASSERT_STR_EQ(small, "m:");
    ASSERT_OK(tt_wse_grip_extension(S("grip; message-prefix=ab"), &grip, small, sizeof small));
    ASSERT_STR_EQ(small, "ab");
    ASSERT_EQ(tt_wse_grip_extension(S("grip; message-prefix=abc"), &grip, small, sizeof small),
              TT_ELIMIT);
    ASSERT(!grip);
    ASSERT_STR_EQ(small, "");
    /* A later, shorter duplicate fits. */
    ASSERT_OK(tt_wse_grip_extension(S("grip; message-prefix=abc; message-prefix=z"), &grip, small,
                                    sizeof small));
    ASSERT_STR_EQ(small, "z");
    char one[1];
    ASSERT_EQ(tt_wse_grip_extension(S("grip"), &grip, one, sizeof one), TT_ELIMIT);
    ASSERT_STR_EQ(one, "");
    ASSERT_OK(tt_wse_grip_extension(S("grip; message-prefix"), &grip, one, sizeof one));
    ASSERT(grip);
    ASSERT_STR_EQ(one, "");
    return 0;
}
