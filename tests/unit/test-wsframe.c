/* Table tests for the RFC 6455 layer (src/wsframe.c): the frame parser and
 * each close code it returns, the writers, the handshake checks of both
 * sides, UTF-8 validation and the close-code rules.
 *
 * Parser tables list frames by their first byte and payload; each row runs
 * twice, masked into a server-side parser and unmasked into a client-side
 * one, and each run feeds the bytes whole, byte by byte, and (when short)
 * cut in two at every offset: the parser must answer the same every time.
 * Frames are built here byte by byte, not with the writers under test; the
 * byte vectors of RFC 6455 5.7 anchor both. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "http_msg.h"
#include "mem.h"
#include "rbuf.h"
#include "task.h"
#include "wsframe.h"

/* The mask key of the examples in RFC 6455 5.7. */
static const unsigned char KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Longest input that is also fed cut in two at every offset. */
#define SPLIT_MAX 600

/* ---- recording callbacks ---- */

typedef struct rec_s {
    tt_buf_t log;     /* one entry per event: T(..) B(..) P(..) O(..) C<code>(..) */
    tt_buf_t payload; /* the last data message, whole */
    int stop_at;      /* from this event on (1-based), callbacks return stop_rc; 0 = never */
    int stop_rc;
    int events;
} rec_t;

static void rec_free(rec_t *r)
{
    tt_buf_free(&r->log);
    tt_buf_free(&r->payload);
}

/* Log tag(data): printable ASCII as is, other bytes as \xNN, long data as #len. */
static void rec_add(rec_t *r, const char *tag, const char *data, size_t len)
{
    ASSERT_NOT_NULL(data);
    tt_buf_appends(&r->log, tag);
    tt_buf_appends(&r->log, "(");
    if (len > 40) {
        tt_buf_appendf(&r->log, "#%zu", len);
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)data[i];
            if (c >= 0x20 && c < 0x7f && c != '\\')
                tt_buf_append(&r->log, &data[i], 1);
            else
                tt_buf_appendf(&r->log, "\\x%02x", c);
        }
    }
    tt_buf_appends(&r->log, ")");
}

static int rec_next(rec_t *r)
{
    r->events++;
    return r->stop_at && r->events >= r->stop_at ? r->stop_rc : 0;
}

static int on_message(void *owner, int opcode, const char *data, size_t len, bool rsv1)
{
    rec_t *r = owner;

    ASSERT(opcode == TT_WS_TEXT || opcode == TT_WS_BINARY);
    if (opcode == TT_WS_TEXT)
        rec_add(r, rsv1 ? "T+z" : "T", data, len);
    else
        rec_add(r, rsv1 ? "B+z" : "B", data, len);
    tt_buf_reset(&r->payload);
    tt_buf_append(&r->payload, data, len);
    return rec_next(r);
}

static int on_ping(void *owner, const char *data, size_t len)
{
    rec_add(owner, "P", data, len);
    return rec_next(owner);
}

static int on_pong(void *owner, const char *data, size_t len)
{
    rec_add(owner, "O", data, len);
    return rec_next(owner);
}

static int on_close(void *owner, int code, const char *reason, size_t len)
{
    char tag[16];

    snprintf(tag, sizeof tag, "C%d", code);
    rec_add(owner, tag, reason, len);
    return rec_next(owner);
}

static const tt_ws_parser_cbs_t CBS = {on_message, on_ping, on_pong, on_close};

/* ---- frames built by hand ---- */

/* One frame: first byte, payload (NULL: n bytes of 'x'), length form
 * (0 the shortest, 16 or 64 forced). b0 < 0 ends a list. */
typedef struct fr_s {
    int b0;
    const char *p;
    size_t n;
    int form;
} fr_t;

/* One-line initialisers, which clang-format would spread over four lines. */
/* clang-format off */
#define F(b0, s) {(b0), (s), sizeof(s) - 1, 0}
#define FN(b0, n) {(b0), NULL, (n), 0}
#define FF(b0, s, form) {(b0), (s), sizeof(s) - 1, (form)}
#define FNF(b0, n, form) {(b0), NULL, (n), (form)}
#define END {-1, NULL, 0, 0}
/* clang-format on */

/* First bytes: FIN + opcode. */
#define TEXT 0x81
#define BIN 0x82
#define PING 0x89
#define PONG 0x8a
#define CLOSE 0x88
#define TEXT_MORE 0x01
#define BIN_MORE 0x02
#define CONT_MORE 0x00
#define CONT 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10

static void put_len(tt_buf_t *b, bool mask, int form, uint64_t n)
{
    unsigned char h[9];
    unsigned m = mask ? 0x80 : 0;

    if (form == 0 && n < 126) {
        h[0] = (unsigned char)(m | n);
        tt_buf_append(b, h, 1);
    } else if (form == 16 || (form == 0 && n <= 0xffff)) {
        h[0] = (unsigned char)(m | 126);
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
        tt_buf_append(b, h, 3);
    } else {
        h[0] = (unsigned char)(m | 127);
        for (int i = 0; i < 8; i++)
            h[1 + i] = (unsigned char)(n >> (56 - 8 * i));
        tt_buf_append(b, h, 9);
    }
}

static void raw_frame(tt_buf_t *b, const fr_t *f, bool mask)
{
    unsigned char b0 = (unsigned char)f->b0;

    tt_buf_append(b, &b0, 1);
    put_len(b, mask, f->form, f->n);
    if (mask)
        tt_buf_append(b, KEY, 4);
    for (size_t i = 0; i < f->n; i++) {
        char c = f->p ? f->p[i] : 'x';
        if (mask)
            c = (char)(c ^ KEY[i & 3]);
        tt_buf_append(b, &c, 1);
    }
}

static void build(tt_buf_t *b, const fr_t *f, bool mask)
{
    for (; f->b0 >= 0; f++)
        raw_frame(b, f, mask);
}

/* ---- running the parser ---- */

typedef struct opts_s {
    bool server; /* require_mask */
    size_t max;
    bool rsv1;
} opts_t;

/* Feed in[0..len) to a new parser: `first` bytes, then the rest in pieces of
 * `step` bytes (0: at once). Returns the first nonzero result. Also checks
 * that a stopped parser holds no buffer and ignores later input. */
static int run(rec_t *r, const opts_t *o, const char *in, size_t len, size_t first, size_t step,
               const char **why)
{
    tt_ws_parser_t p;
    size_t off = first;
    int rc;

    tt_ws_parser_init(&p, o->server, o->max, o->rsv1, &CBS, r);
    rc = tt_ws_parser_feed(&p, in, first, why);
    while (rc == 0 && off < len) {
        size_t n = step && step < len - off ? step : len - off;
        rc = tt_ws_parser_feed(&p, in + off, n, why);
        off += n;
    }
    if (rc) {
        const char *w2 = "unset";
        ASSERT(tt_ws_parser_done(&p));
        ASSERT_NULL(p._asm);
        ASSERT_EQ(tt_ws_parser_feed(&p, in, len, &w2), 0);
        ASSERT_NULL(w2);
    }
    tt_ws_parser_free(&p);
    return rc;
}

static void expect(const char *name, const char *how, const rec_t *r, int rc, const char *why,
                   int want_rc, const char *want_log)
{
    bool protocol = want_rc == TT_WS_CLOSE_PROTOCOL || want_rc == TT_WS_CLOSE_INVALID_DATA ||
                    want_rc == TT_WS_CLOSE_TOO_BIG;
    const char *got = r->log.data ? r->log.data : "";

    if (rc != want_rc || strcmp(got, want_log) != 0 || (protocol != (why != NULL)))
        fprintf(stderr, "case \"%s\" (%s): rc %d why %s log %s\n", name, how, rc,
                why ? why : "(null)", got);
    ASSERT_EQ(rc, want_rc);
    ASSERT_STR_EQ(got, want_log);
    ASSERT_EQ(protocol, why != NULL);
}

/* Parse `in` whole, byte by byte, and cut in two at every offset. */
static void check_bytes(const char *name, const opts_t *o, const char *in, size_t len, int want_rc,
                        const char *want_log)
{
    char how[64];
    const char *why;
    rec_t r;
    int rc;

    /* cut 0: whole; cut len: byte by byte; else two pieces. */
    for (size_t cut = 0; cut <= len; cut++) {
        const char *mode = cut == 0 ? "whole" : "cut at";
        size_t first = cut == 0 ? len : cut, step = 0;
        if (cut == len) {
            mode = "bytewise";
            first = 0;
            step = 1;
        } else if (cut > 0 && len > SPLIT_MAX) {
            continue;
        }
        memset(&r, 0, sizeof r);
        rc = run(&r, o, in, len, first, step, &why);
        snprintf(how, sizeof how, "%s, %s %zu", o->server ? "masked" : "unmasked", mode, cut);
        expect(name, how, &r, rc, why, want_rc, want_log);
        rec_free(&r);
    }
}

typedef struct case_s {
    const char *name;
    fr_t fr[8];
    int rc;
    const char *log;
    size_t max;
    bool rsv1;
} case_t;

/* Each case masked to a server parser and unmasked to a client parser. */
static void check_cases(const case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const case_t *c = &cases[i];
        for (int masked = 0; masked < 2; masked++) {
            opts_t o = {masked != 0, c->max, c->rsv1};
            tt_buf_t in = TT_BUF_INIT;
            build(&in, c->fr, masked != 0);
            check_bytes(c->name, &o, in.data, in.len, c->rc, c->log);
            tt_buf_free(&in);
        }
    }
}

/* Parse bytes once, whole, with a parser of the given side. */
static int parse_once(rec_t *r, bool server, const void *in, size_t len, const char **why)
{
    opts_t o = {server, 0, false};

    memset(r, 0, sizeof *r);
    return run(r, &o, in, len, len, 0, why);
}

/* ---- RFC 6455 5.7 ---- */

static const unsigned char RFC_HELLO[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const unsigned char RFC_HELLO_MASKED[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                                 0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const unsigned char RFC_FRAGMENTS[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
static const unsigned char RFC_PING[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const unsigned char RFC_PONG_MASKED[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                                0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const unsigned char RFC_256_HEAD[] = {0x82, 0x7e, 0x01, 0x00};
static const unsigned char RFC_64K_HEAD[] = {0x82, 0x7f, 0x00, 0x00, 0x00,
                                             0x00, 0x00, 0x01, 0x00, 0x00};

static void check_vector(bool server, const void *in, size_t len, const char *want_log)
{
    opts_t o = {server, 0, false};

    check_bytes("rfc", &o, in, len, 0, want_log);
}

/* A binary frame: the given head, then len bytes 0, 1, 2... */
static char *head_and_bytes(const unsigned char *head, size_t hn, size_t len)
{
    char *b = tt_xmalloc(hn + len);

    if (hn)
        memcpy(b, head, hn);
    for (size_t i = 0; i < len; i++)
        b[hn + i] = (char)i;
    return b;
}

TEST_IMPL(wsframe_rfc_examples)
{
    rec_t r;
    char *in;

    check_vector(false, RFC_HELLO, sizeof RFC_HELLO, "T(Hello)");
    check_vector(true, RFC_HELLO_MASKED, sizeof RFC_HELLO_MASKED, "T(Hello)");
    check_vector(false, RFC_FRAGMENTS, sizeof RFC_FRAGMENTS, "T(Hello)");
    check_vector(false, RFC_PING, sizeof RFC_PING, "P(Hello)");
    check_vector(true, RFC_PONG_MASKED, sizeof RFC_PONG_MASKED, "O(Hello)");

    in = head_and_bytes(RFC_256_HEAD, sizeof RFC_256_HEAD, 256);
    check_vector(false, in, sizeof RFC_256_HEAD + 256, "B(#256)");
    ASSERT_OK(parse_once(&r, false, in, sizeof RFC_256_HEAD + 256, NULL));
    ASSERT_EQ(r.payload.len, 256);
    ASSERT_OK(memcmp(r.payload.data, in + sizeof RFC_256_HEAD, 256));
    rec_free(&r);
    free(in);

    in = head_and_bytes(RFC_64K_HEAD, sizeof RFC_64K_HEAD, 65536);
    check_vector(false, in, sizeof RFC_64K_HEAD + 65536, "B(#65536)");
    ASSERT_OK(parse_once(&r, false, in, sizeof RFC_64K_HEAD + 65536, NULL));
    ASSERT_EQ(r.payload.len, 65536);
    ASSERT_OK(memcmp(r.payload.data, in + sizeof RFC_64K_HEAD, 65536));
    rec_free(&r);
    free(in);
    return 0;
}

/* ---- lengths ---- */

static const case_t LENGTH_CASES[] = {
    {"empty text", {F(TEXT, ""), END}, 0, "T()", 0, false},
    {"empty binary", {F(BIN, ""), END}, 0, "B()", 0, false},
    {"one byte", {F(TEXT, "a"), END}, 0, "T(a)", 0, false},
    {"binary NULs", {F(BIN, "\0\x01\xff"), END}, 0, "B(\\x00\\x01\\xff)", 0, false},
    {"125, 7-bit", {FN(TEXT, 125), END}, 0, "T(#125)", 0, false},
    {"126, 16-bit", {FN(TEXT, 126), END}, 0, "T(#126)", 0, false},
    {"127, 16-bit", {FN(BIN, 127), END}, 0, "B(#127)", 0, false},
    {"500, 16-bit", {FN(BIN, 500), END}, 0, "B(#500)", 0, false},
    {"65535, 16-bit", {FN(BIN, 65535), END}, 0, "B(#65535)", 0, false},
    {"65536, 64-bit", {FN(TEXT, 65536), END}, 0, "T(#65536)", 0, false},
    {"70000, 64-bit", {FN(BIN, 70000), END}, 0, "B(#70000)", 0, false},
    /* Non-minimal length forms are accepted, as most endpoints do. */
    {"5 in 16-bit form", {FF(TEXT, "hello", 16), END}, 0, "T(hello)", 0, false},
    {"5 in 64-bit form", {FF(TEXT, "hello", 64), END}, 0, "T(hello)", 0, false},
    {"ping 125 in 16-bit form", {FNF(PING, 125, 16), END}, 0, "P(#125)", 0, false},
    {"several in a row",
     {F(TEXT, "a"), FN(BIN, 300), F(PING, "p"), F(TEXT, "b"), END},
     0,
     "T(a)B(#300)P(p)T(b)",
     0,
     false},
};

TEST_IMPL(wsframe_lengths)
{
    check_cases(LENGTH_CASES, TT_ARRAY_SIZE(LENGTH_CASES));
    return 0;
}

/* The 64-bit length must have its top bit clear (RFC 6455 5.2). */
TEST_IMPL(wsframe_length_msb)
{
    static const unsigned char msb[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1, 'x'};
    static const unsigned char masked[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    opts_t client = {false, 0, false}, server = {true, 0, false};

    check_bytes("msb", &client, (const char *)msb, sizeof msb, TT_WS_CLOSE_PROTOCOL, "");
    check_bytes("msb masked", &server, (const char *)masked, sizeof masked, TT_WS_CLOSE_PROTOCOL,
                "");
    return 0;
}

/* ---- fragments ---- */

static const case_t FRAGMENT_CASES[] = {
    {"two", {F(TEXT_MORE, "Hel"), F(CONT, "lo"), END}, 0, "T(Hello)", 0, false},
    {"three",
     {F(BIN_MORE, "a"), F(CONT_MORE, "bc"), F(CONT, "def"), END},
     0,
     "B(abcdef)",
     0,
     false},
    {"ping between",
     {F(TEXT_MORE, "Hel"), F(PING, "p1"), F(CONT, "lo"), END},
     0,
     "P(p1)T(Hello)",
     0,
     false},
    {"pings and pongs between",
     {F(TEXT_MORE, "a"), F(PING, ""), F(CONT_MORE, "b"), F(PONG, "o"), F(PING, "q"), F(CONT, "c"),
      END},
     0,
     "P()O(o)P(q)T(abc)",
     0,
     false},
    {"empty fragments", {F(TEXT_MORE, ""), F(CONT_MORE, ""), F(CONT, ""), END}, 0, "T()", 0, false},
    {"empty first, data last",
     {F(BIN_MORE, ""), F(PING, "x"), F(CONT, "data"), END},
     0,
     "P(x)B(data)",
     0,
     false},
    {"long fragments",
     {FN(BIN_MORE, 200), FN(CONT_MORE, 70000), F(PING, "p"), FN(CONT, 1), END},
     0,
     "P(p)B(#70201)",
     0,
     false},
    {"message after a fragmented one",
     {F(TEXT_MORE, "a"), F(CONT, "b"), F(TEXT, "c"), F(BIN_MORE, "d"), F(CONT, "e"), END},
     0,
     "T(ab)T(c)B(de)",
     0,
     false},
    {"close between fragments",
     {F(TEXT_MORE, "a"), F(CLOSE, "\x03\xe8"), F(CONT, "b"), END},
     0,
     "C1000()",
     0,
     false},
    {"continuation without a message", {F(CONT, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"continuation after the message ended",
     {F(TEXT_MORE, "a"), F(CONT, "b"), F(CONT, "c"), END},
     TT_WS_CLOSE_PROTOCOL,
     "T(ab)",
     0,
     false},
    {"text inside a fragmented message",
     {F(TEXT_MORE, "a"), F(TEXT, "b"), END},
     TT_WS_CLOSE_PROTOCOL,
     "",
     0,
     false},
    {"binary inside a fragmented message",
     {F(TEXT_MORE, "a"), F(PING, "p"), F(BIN_MORE, "b"), END},
     TT_WS_CLOSE_PROTOCOL,
     "P(p)",
     0,
     false},
};

TEST_IMPL(wsframe_fragments)
{
    check_cases(FRAGMENT_CASES, TT_ARRAY_SIZE(FRAGMENT_CASES));
    return 0;
}

/* One stream of many frame kinds, fed byte by byte and cut at every offset
 * (check_bytes), and in pieces of every size from 1 to 20. */
TEST_IMPL(wsframe_bytewise)
{
    static const fr_t frames[] = {F(TEXT, "Hello"),        FN(BIN, 126),
                                  F(TEXT_MORE, "caf\xc3"), F(PING, "ping"),
                                  F(CONT_MORE, "\xa9 "),   F(PONG, ""),
                                  F(CONT, "\xe2\x82\xac"), FN(PING, 125),
                                  FNF(BIN, 3, 64),         F(CLOSE, "\x03\xe9going")};
    const char *want = "T(Hello)B(#126)P(ping)O()T(caf\\xc3\\xa9 \\xe2\\x82\\xac)P(#125)"
                       "B(xxx)C1001(going)";
    fr_t list[TT_ARRAY_SIZE(frames) + 1];

    memcpy(list, frames, sizeof frames);
    list[TT_ARRAY_SIZE(frames)] = (fr_t)END;
    for (int masked = 0; masked < 2; masked++) {
        opts_t o = {masked != 0, 0, false};
        tt_buf_t in = TT_BUF_INIT;
        build(&in, list, masked != 0);
        check_bytes("mixed stream", &o, in.data, in.len, 0, want);
        for (size_t step = 1; step <= 20; step++) {
            rec_t r = {0};
            const char *why;
            int rc = run(&r, &o, in.data, in.len, 0, step, &why);
            expect("mixed stream", "steps", &r, rc, why, 0, want);
            rec_free(&r);
        }
        tt_buf_free(&in);
    }
    return 0;
}

/* ---- UTF-8 ---- */

typedef struct utf8_case_s {
    const char *s;
    bool valid;  /* valid and complete */
    bool prefix; /* if not valid: a valid prefix of longer text (feed says true) */
} utf8_case_t;

static const utf8_case_t UTF8_CASES[] = {
    {"", true, false},
    {"plain ASCII, longer than eight bytes", true, false},
    {"\x7f", true, false},
    {"\xc2\x80", true, false},         /* U+0080, first 2-byte */
    {"\xdf\xbf", true, false},         /* U+07FF, last 2-byte */
    {"\xe0\xa0\x80", true, false},     /* U+0800, first 3-byte */
    {"\xed\x9f\xbf", true, false},     /* U+D7FF, before the surrogates */
    {"\xee\x80\x80", true, false},     /* U+E000, after them */
    {"\xef\xbf\xbf", true, false},     /* U+FFFF */
    {"\xf0\x90\x80\x80", true, false}, /* U+10000, first 4-byte */
    {"\xf1\x80\x80\x80", true, false}, /* U+40000 */
    {"\xf3\xbf\xbf\xbf", true, false}, /* U+FFFFF */
    {"\xf4\x8f\xbf\xbf", true, false}, /* U+10FFFF, the last */
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true, false}, /* Greek "kosme" */
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 end", true, false},
    /* Truncated: a valid prefix, not complete. */
    {"\xc2", false, true},
    {"\xe2\x82", false, true},
    {"\xf0\x9f\x98", false, true},
    {"abcdefghij\xf4\x8f", false, true},
    /* Stray and impossible bytes. */
    {"\x80", false, false},
    {"\xbf", false, false},
    {"a\x80z", false, false},
    {"\xfe", false, false},
    {"\xff", false, false},
    {"\xf5\x80\x80\x80", false, false},
    {"\xf8\x88\x80\x80\x80", false, false},
    /* Overlong forms. */
    {"\xc0\x80", false, false},
    {"\xc1\xbf", false, false},
    {"\xe0\x80\x80", false, false},
    {"\xe0\x9f\xbf", false, false},
    {"\xf0\x80\x80\x80", false, false},
    {"\xf0\x8f\xbf\xbf", false, false},
    /* UTF-16 surrogates. */
    {"\xed\xa0\x80", false, false},
    {"\xed\xbf\xbf", false, false},
    {"\xed\xa0\x80\xed\xb0\x80", false, false},
    /* Above U+10FFFF. */
    {"\xf4\x90\x80\x80", false, false},
    /* A bad byte in the second, third or fourth place. */
    {"\xc3\x28", false, false},
    {"\xe2\x28\xa1", false, false},
    {"\xe2\x82\x28", false, false},
    {"\xf0\x28\x8c\xbc", false, false},
    {"\xf0\x90\x28\xbc", false, false},
    {"\xf0\x90\x8c\x28", false, false},
    /* Bad bytes after a long ASCII run (the eight-at-a-time path). */
    {"0123456789abcdef\xff", false, false},
    {"0123456789abcdef\xe2\x82\x28", false, false},
};

static bool utf8_feed_pieces(const char *s, size_t len, size_t cut, bool *complete)
{
    tt_utf8_t u;
    bool ok;

    tt_utf8_init(&u);
    ok = tt_utf8_feed(&u, s, cut);
    ok = tt_utf8_feed(&u, s + cut, len - cut) && ok;
    *complete = tt_utf8_complete(&u);
    return ok;
}

TEST_IMPL(wsframe_utf8)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(UTF8_CASES); i++) {
        const utf8_case_t *c = &UTF8_CASES[i];
        size_t len = strlen(c->s);
        bool complete, ok;

        if (tt_utf8_valid(c->s, len) != c->valid)
            fprintf(stderr, "utf8 case %zu\n", i);
        ASSERT_EQ(tt_utf8_valid(c->s, len), c->valid);
        for (size_t cut = 0; cut <= len; cut++) {
            ok = utf8_feed_pieces(c->s, len, cut, &complete);
            ASSERT_EQ(ok, c->valid || c->prefix);
            ASSERT_EQ(ok && complete, c->valid);
        }
        /* Byte by byte, and a rejection stays. */
        tt_utf8_t u;
        tt_utf8_init(&u);
        ok = true;
        for (size_t j = 0; j < len; j++)
            ok = tt_utf8_feed(&u, c->s + j, 1) && ok;
        ASSERT_EQ(ok, c->valid || c->prefix);
        ASSERT_EQ(tt_utf8_feed(&u, "a", 1), c->valid);
    }
    return 0;
}

/* Every invalid sequence of the table, in a text message at the start, in
 * the middle and at the end; and in a binary message, where it is fine. */
TEST_IMPL(wsframe_utf8_positions)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(UTF8_CASES); i++) {
        const utf8_case_t *c = &UTF8_CASES[i];
        static const char *const fmts[] = {"%s", "%sabc", "abc%sabc", "abcdefghijklmn%s"};

        for (size_t k = 0; k < TT_ARRAY_SIZE(fmts); k++) {
            char text[64];
            int n = snprintf(text, sizeof text, fmts[k], c->s);
            bool valid = tt_utf8_valid(text, (size_t)n);
            fr_t text_fr[] = {{TEXT, text, (size_t)n, 0}, END};
            fr_t bin_fr[] = {{BIN, text, (size_t)n, 0}, END};

            ASSERT_EQ(valid, c->valid);
            for (int masked = 0; masked < 2; masked++) {
                opts_t o = {masked != 0, 0, false};
                tt_buf_t in = TT_BUF_INIT;
                rec_t r = {0};

                build(&in, text_fr, masked != 0);
                rec_add(&r, "T", text, (size_t)n);
                check_bytes(text, &o, in.data, in.len, valid ? 0 : TT_WS_CLOSE_INVALID_DATA,
                            valid ? r.log.data : "");
                tt_buf_reset(&in);
                tt_buf_reset(&r.log);
                build(&in, bin_fr, masked != 0);
                rec_add(&r, "B", text, (size_t)n);
                check_bytes(text, &o, in.data, in.len, 0, r.log.data);
                rec_free(&r);
                tt_buf_free(&in);
            }
        }
    }
    return 0;
}

static const case_t UTF8_FRAGMENT_CASES[] = {
    {"2-byte char cut by fragments",
     {F(TEXT_MORE, "caf\xc3"), F(CONT, "\xa9"), END},
     0,
     "T(caf\\xc3\\xa9)",
     0,
     false},
    {"4-byte char in four fragments with pings",
     {F(TEXT_MORE, "\xf0"), F(PING, ""), F(CONT_MORE, "\x9f"), F(CONT_MORE, "\x98"), F(PING, "x"),
      F(CONT, "\x80"), END},
     0,
     "P()P(x)T(\\xf0\\x9f\\x98\\x80)",
     0,
     false},
    {"message ends inside a char",
     {F(TEXT_MORE, "ab"), F(CONT, "\xe2\x82"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"bad continuation in the next fragment",
     {F(TEXT_MORE, "\xe2\x82"), F(CONT, "("), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"surrogate across fragments",
     {F(TEXT_MORE, "\xed"), F(CONT, "\xa0\x80"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"overlong across fragments",
     {F(TEXT_MORE, "\xe0"), F(CONT, "\x80\x80"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    /* Fail fast: the bad first fragment is enough; the ping after it never comes out. */
    {"bad byte in the first fragment",
     {F(TEXT_MORE, "ok\xff"), F(PING, "p"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"bad byte in a middle fragment",
     {F(TEXT_MORE, "ok"), F(CONT_MORE, "\xc0\xaf"), F(PING, "p"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"binary is not checked",
     {F(BIN_MORE, "\xff"), F(CONT, "\xed\xa0\x80"), END},
     0,
     "B(\\xff\\xed\\xa0\\x80)",
     0,
     false},
    {"compressed text is not checked",
     {F(TEXT | RSV1, "\xff\x00"), END},
     0,
     "T+z(\\xff\\x00)",
     0,
     true},
    {"compressed fragmented text is not checked",
     {F(TEXT_MORE | RSV1, "\xff"), F(CONT, "\xfe"), END},
     0,
     "T+z(\\xff\\xfe)",
     0,
     true},
    {"uncompressed text still checked when rsv1 is allowed",
     {F(TEXT, "\xff"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     true},
};

TEST_IMPL(wsframe_utf8_fragments)
{
    check_cases(UTF8_FRAGMENT_CASES, TT_ARRAY_SIZE(UTF8_FRAGMENT_CASES));
    return 0;
}

/* ---- limits, reserved bits, opcodes, control frames ---- */

static const case_t TOO_BIG_CASES[] = {
    {"exactly max", {FN(TEXT, 100), END}, 0, "T(#100)", 100, false},
    {"max + 1", {FN(TEXT, 101), END}, TT_WS_CLOSE_TOO_BIG, "", 100, false},
    {"max + 1, binary", {FN(BIN, 101), END}, TT_WS_CLOSE_TOO_BIG, "", 100, false},
    {"fragments up to max",
     {FN(TEXT_MORE, 60), F(PING, "p"), FN(CONT, 40), END},
     0,
     "P(p)T(#100)",
     100,
     false},
    {"fragments to max + 1",
     {FN(TEXT_MORE, 60), F(PING, "p"), FN(CONT_MORE, 40), FN(CONT, 1), END},
     TT_WS_CLOSE_TOO_BIG,
     "P(p)",
     100,
     false},
    {"max + 1 after empty fragments",
     {F(BIN_MORE, ""), FN(CONT_MORE, 0), FN(CONT, 101), END},
     TT_WS_CLOSE_TOO_BIG,
     "",
     100,
     false},
    {"the limit is per message",
     {FN(TEXT, 100), FN(BIN_MORE, 50), FN(CONT, 50), FN(TEXT, 100), END},
     0,
     "T(#100)B(#100)T(#100)",
     100,
     false},
    {"control frames are not counted",
     {FN(TEXT_MORE, 10), FN(PING, 125), FN(CONT, 0), END},
     0,
     "P(#125)T(xxxxxxxxxx)",
     10,
     false},
    {"max 1", {F(TEXT, "a"), F(TEXT, "ab"), END}, TT_WS_CLOSE_TOO_BIG, "T(a)", 1, false},
};

TEST_IMPL(wsframe_too_big)
{
    /* Said at the head, before any payload arrives, so nothing is buffered. */
    static const unsigned char head64[] = {0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0};
    static const unsigned char head16[] = {0x82, 0x7e, 0, 101};
    opts_t o = {false, 100, false};

    check_cases(TOO_BIG_CASES, TT_ARRAY_SIZE(TOO_BIG_CASES));
    check_bytes("64-bit head", &o, (const char *)head64, sizeof head64, TT_WS_CLOSE_TOO_BIG, "");
    check_bytes("16-bit head", &o, (const char *)head16, sizeof head16, TT_WS_CLOSE_TOO_BIG, "");
    o.max = 0; /* no limit: the head alone is fine */
    check_bytes("no limit", &o, (const char *)head64, sizeof head64, 0, "");
    return 0;
}

static const case_t RSV_CASES[] = {
    {"rsv1 not negotiated", {F(TEXT | RSV1, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"rsv2", {F(TEXT | RSV2, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"rsv3", {F(BIN | RSV3, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"rsv2 with deflate", {F(TEXT | RSV2, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, true},
    {"rsv3 with deflate", {F(TEXT | RSV3, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, true},
    {"rsv1 with deflate", {F(TEXT | RSV1, "a"), END}, 0, "T+z(a)", 0, true},
    {"rsv1 binary with deflate", {F(BIN | RSV1, "a"), END}, 0, "B+z(a)", 0, true},
    {"deflate allowed but unused", {F(TEXT, "a"), END}, 0, "T(a)", 0, true},
    {"rsv1 on the first fragment",
     {F(BIN_MORE | RSV1, "a"), F(CONT, "b"), F(TEXT, "c"), END},
     0,
     "B+z(ab)T(c)",
     0,
     true},
    {"rsv1 on a continuation",
     {F(TEXT_MORE, "a"), F(CONT | RSV1, "b"), END},
     TT_WS_CLOSE_PROTOCOL,
     "",
     0,
     true},
    {"rsv1 on a ping", {F(PING | RSV1, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, true},
    {"rsv1 on a close", {F(CLOSE | RSV1, ""), END}, TT_WS_CLOSE_PROTOCOL, "", 0, true},
    {"rsv2 on a pong", {F(PONG | RSV2, ""), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
};

TEST_IMPL(wsframe_reserved_bits)
{
    check_cases(RSV_CASES, TT_ARRAY_SIZE(RSV_CASES));
    return 0;
}

TEST_IMPL(wsframe_bad_opcodes)
{
    for (int op = 0; op < 16; op++) {
        if (op <= TT_WS_BINARY || (op >= TT_WS_CLOSE && op <= TT_WS_PONG))
            continue;
        for (int fin = 0; fin < 2; fin++) {
            case_t c = {"bad opcode",
                        {F(TEXT, "ok"), F(0, "x"), F(TEXT, "no"), END},
                        TT_WS_CLOSE_PROTOCOL,
                        "T(ok)",
                        0,
                        false};
            c.fr[1].b0 = (fin ? 0x80 : 0) | op;
            check_cases(&c, 1);
        }
    }
    return 0;
}

static const case_t CONTROL_CASES[] = {
    {"empty ping", {F(PING, ""), END}, 0, "P()", 0, false},
    {"ping of 125", {FN(PING, 125), END}, 0, "P(#125)", 0, false},
    {"pong of 125", {FN(PONG, 125), END}, 0, "O(#125)", 0, false},
    {"ping of 126", {FN(PING, 126), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"pong of 126", {FN(PONG, 126), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"close of 126", {FN(CLOSE, 126), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"ping of 126 after a message",
     {F(TEXT, "a"), FN(PING, 126), END},
     TT_WS_CLOSE_PROTOCOL,
     "T(a)",
     0,
     false},
    {"ping of 65536", {FN(PING, 65536), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"fragmented ping", {F(0x09, "a"), F(CONT, "b"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"fragmented pong", {F(0x0a, "a"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"fragmented close", {F(0x08, "\x03\xe8"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"ping with binary payload", {F(PING, "\x00\xff"), END}, 0, "P(\\x00\\xff)", 0, false},
};

TEST_IMPL(wsframe_control_frames)
{
    check_cases(CONTROL_CASES, TT_ARRAY_SIZE(CONTROL_CASES));
    return 0;
}

/* A server requires masked frames, a client unmasked ones (RFC 6455 5.1). */
TEST_IMPL(wsframe_masking)
{
    static const fr_t text[] = {F(TEXT, "a"), END};
    static const fr_t ping[] = {F(PING, "a"), END};
    const fr_t *lists[] = {text, ping};

    for (size_t i = 0; i < TT_ARRAY_SIZE(lists); i++) {
        opts_t server = {true, 0, false}, client = {false, 0, false};
        tt_buf_t in = TT_BUF_INIT;

        build(&in, lists[i], false);
        check_bytes("unmasked to a server", &server, in.data, in.len, TT_WS_CLOSE_PROTOCOL, "");
        tt_buf_reset(&in);
        build(&in, lists[i], true);
        check_bytes("masked to a client", &client, in.data, in.len, TT_WS_CLOSE_PROTOCOL, "");
        tt_buf_free(&in);
    }
    return 0;
}

/* ---- close ---- */

#define X10 "xxxxxxxxxx"

static const case_t CLOSE_CASES[] = {
    {"empty", {F(CLOSE, ""), END}, 0, "C1005()", 0, false},
    {"code only", {F(CLOSE, "\x03\xe8"), END}, 0, "C1000()", 0, false},
    {"code and reason",
     {F(CLOSE, "\x03\xe9"
               "bye"),
      END},
     0,
     "C1001(bye)",
     0,
     false},
    {"UTF-8 reason",
     {F(CLOSE, "\x0f\xa0"
               "caf\xc3\xa9"),
      END},
     0,
     "C4000(caf\\xc3\\xa9)",
     0,
     false},
    {"longest reason",
     {F(CLOSE, "\x03\xe8" X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 "xyz"), END},
     0,
     "C1000(#123)",
     0,
     false},
    {"one byte", {F(CLOSE, "\x03"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 0", {F(CLOSE, "\x00\x00"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 999", {F(CLOSE, "\x03\xe7"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 1004", {F(CLOSE, "\x03\xec"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 1005", {F(CLOSE, "\x03\xed"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 1006", {F(CLOSE, "\x03\xee"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 1015", {F(CLOSE, "\x03\xf7"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 2999", {F(CLOSE, "\x0b\xb7"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 5000", {F(CLOSE, "\x13\x88"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"code 65535", {F(CLOSE, "\xff\xff"), END}, TT_WS_CLOSE_PROTOCOL, "", 0, false},
    {"reason not UTF-8",
     {F(CLOSE, "\x03\xe8"
               "ab\xff"),
      END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"reason ends inside a char",
     {F(CLOSE, "\x03\xe8"
               "ab\xe2\x82"),
      END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"reason with a surrogate",
     {F(CLOSE, "\x03\xe8\xed\xa0\x80"), END},
     TT_WS_CLOSE_INVALID_DATA,
     "",
     0,
     false},
    {"bytes after close are ignored",
     {F(CLOSE, "\x03\xe8"), F(TEXT, "late"), F(0x83, "bad opcode"), END},
     0,
     "C1000()",
     0,
     false},
    {"close after messages",
     {F(TEXT, "a"), F(PING, ""),
      F(CLOSE, "\x0b\xb8"
               "x"),
      END},
     0,
     "T(a)P()C3000(x)",
     0,
     false},
};

TEST_IMPL(wsframe_close)
{
    static const unsigned char garbage[] = {0xff, 0xff, 0xff};
    rec_t r = {0};
    tt_ws_parser_t p;
    tt_buf_t in = TT_BUF_INIT;
    static const fr_t close_fr[] = {F(CLOSE, "\x03\xe8"), END};

    check_cases(CLOSE_CASES, TT_ARRAY_SIZE(CLOSE_CASES));

    /* Done after a close frame; later feeds, even garbage, return 0. */
    build(&in, close_fr, false);
    tt_ws_parser_init(&p, false, 0, false, &CBS, &r);
    ASSERT(!tt_ws_parser_done(&p));
    ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len, NULL));
    ASSERT(tt_ws_parser_done(&p));
    ASSERT_OK(tt_ws_parser_feed(&p, (const char *)garbage, sizeof garbage, NULL));
    ASSERT_STR_EQ(r.log.data, "C1000()");
    tt_ws_parser_free(&p);
    tt_buf_free(&in);
    rec_free(&r);
    return 0;
}

/* Every code from 0 to 70000 against the RFC 6455 7.4 rules, written out. */
TEST_IMPL(wsframe_close_codes)
{
    static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const int invalid[] = {-1,   0,    1,    999,  1004, 1005, 1006,  1015,
                                  1016, 1100, 2000, 2999, 5000, 6000, 65535, 65536};

    for (size_t i = 0; i < TT_ARRAY_SIZE(valid); i++)
        ASSERT(tt_ws_close_code_valid(valid[i]));
    for (size_t i = 0; i < TT_ARRAY_SIZE(invalid); i++)
        ASSERT(!tt_ws_close_code_valid(invalid[i]));
    for (int code = 0; code <= 70000; code++) {
        bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                    (code >= 3000 && code <= 4999);
        ASSERT_EQ(tt_ws_close_code_valid(code), want);
    }
    return 0;
}

/* ---- callbacks ---- */

TEST_IMPL(wsframe_callbacks)
{
    static const fr_t frames[] = {F(TEXT, "a"), F(PING, "b"), F(TEXT_MORE, "c"),
                                  F(PONG, "d"), F(CONT, "e"), F(CLOSE, ""),
                                  END};
    static const tt_ws_parser_cbs_t none = {NULL, NULL, NULL, NULL};
    const char *const logs[] = {"T(a)", "T(a)P(b)", "T(a)P(b)O(d)", "T(a)P(b)O(d)T(ce)",
                                "T(a)P(b)O(d)T(ce)C1005()"};

    for (int masked = 0; masked < 2; masked++) {
        tt_buf_t in = TT_BUF_INIT;
        opts_t o = {masked != 0, 0, false};

        build(&in, frames, masked != 0);
        /* A callback returning nonzero stops at once, whatever the event. */
        for (int at = 1; at <= 5; at++) {
            for (size_t step = 0; step <= 1; step++) {
                rec_t r = {0};
                const char *why = "unset";
                int rc;

                r.stop_at = at;
                r.stop_rc = at == 2 ? -7 : 4242;
                rc = run(&r, &o, in.data, in.len, step ? 0 : in.len, step, &why);
                ASSERT_EQ(rc, r.stop_rc);
                ASSERT_NULL(why);
                ASSERT_STR_EQ(r.log.data, logs[at - 1]);
                rec_free(&r);
            }
        }
        /* No callbacks at all: everything parsed and dropped. */
        tt_ws_parser_t p;
        tt_ws_parser_init(&p, masked != 0, 0, false, &none, NULL);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len, NULL));
        ASSERT(tt_ws_parser_done(&p));
        tt_ws_parser_free(&p);
        tt_buf_free(&in);
    }
    return 0;
}

/* ---- memory ---- */

TEST_IMPL(wsframe_memory)
{
    static const fr_t whole[] = {F(TEXT, "hello"), FN(BIN, 3000), F(PING, "p"), END};
    static const fr_t frag1[] = {F(TEXT_MORE, "hel"), END};
    static const fr_t ping[] = {F(PING, "p"), END};
    static const fr_t ping4[] = {F(PING, "ping"), END};
    static const fr_t frag2[] = {F(CONT, "lo"), END};
    static const fr_t big[] = {FN(BIN, 1000000), END};
    tt_ws_parser_t p;
    rec_t r = {0};

    /* Small enough to embed in every connection. */
    ASSERT_LE(sizeof(tt_ws_parser_t), 80);

    for (int masked = 0; masked < 2; masked++) {
        tt_buf_t in = TT_BUF_INIT;

        /* Whole frames in one read: no buffer. */
        tt_ws_parser_init(&p, masked != 0, 0, false, &CBS, &r);
        build(&in, whole, masked != 0);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len, NULL));
        ASSERT_NULL(p._asm);
        /* A head cut short needs no buffer either. */
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, 1, NULL));
        ASSERT_NULL(p._asm);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data + 1, in.len - 1, NULL));
        ASSERT_NULL(p._asm);

        /* A fragmented message holds one until it is delivered; a ping between does not
         * add one of its own. */
        tt_buf_reset(&in);
        build(&in, frag1, masked != 0);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len, NULL));
        ASSERT_NOT_NULL(p._asm);
        tt_buf_reset(&in);
        build(&in, ping, masked != 0);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len, NULL));
        ASSERT_NOT_NULL(p._asm);
        tt_buf_reset(&in);
        build(&in, frag2, masked != 0);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len, NULL));
        ASSERT_NULL(p._asm);

        /* A ping split across reads, outside any message: freed when it ends. */
        tt_buf_reset(&in);
        build(&in, ping4, masked != 0);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len - 2, NULL));
        ASSERT_NOT_NULL(p._asm);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data + in.len - 2, 2, NULL));
        ASSERT_NULL(p._asm);

        /* A big frame arriving in parts, then freed with the parser (ASan checks). */
        tt_buf_reset(&in);
        build(&in, big, masked != 0);
        ASSERT_OK(tt_ws_parser_feed(&p, in.data, in.len / 2, NULL));
        ASSERT_NOT_NULL(p._asm);
        tt_ws_parser_free(&p);
        ASSERT_NULL(p._asm);
        tt_buf_free(&in);
    }
    ASSERT_STR_EQ(r.log.data, "T(hello)B(#3000)P(p)T(hello)B(#3000)P(p)P(p)T(hello)P(ping)"
                              "T(hello)B(#3000)P(p)T(hello)B(#3000)P(p)P(p)T(hello)P(ping)");
    rec_free(&r);
    return 0;
}

/* ---- writers ---- */

TEST_IMPL(wsframe_writer_vectors)
{
    tt_buf_t b = TT_BUF_INIT;
    char *payload = head_and_bytes(NULL, 0, 65536);
    unsigned char h[TT_WS_HEAD_MAX];

    tt_ws_frame(&b, TT_WS_TEXT, true, false, "Hello", 5, NULL);
    ASSERT_EQ(b.len, sizeof RFC_HELLO);
    ASSERT_OK(memcmp(b.data, RFC_HELLO, sizeof RFC_HELLO));
    tt_buf_reset(&b);
    tt_ws_frame(&b, TT_WS_TEXT, true, false, "Hello", 5, KEY);
    ASSERT_EQ(b.len, sizeof RFC_HELLO_MASKED);
    ASSERT_OK(memcmp(b.data, RFC_HELLO_MASKED, sizeof RFC_HELLO_MASKED));
    tt_buf_reset(&b);
    tt_ws_frame(&b, TT_WS_TEXT, false, false, "Hel", 3, NULL);
    tt_ws_frame(&b, TT_WS_CONT, true, false, "lo", 2, NULL);
    ASSERT_EQ(b.len, sizeof RFC_FRAGMENTS);
    ASSERT_OK(memcmp(b.data, RFC_FRAGMENTS, sizeof RFC_FRAGMENTS));
    tt_buf_reset(&b);
    tt_ws_frame(&b, TT_WS_PING, true, false, "Hello", 5, NULL);
    ASSERT_OK(memcmp(b.data, RFC_PING, sizeof RFC_PING));
    tt_buf_reset(&b);
    tt_ws_frame(&b, TT_WS_PONG, true, false, "Hello", 5, KEY);
    ASSERT_OK(memcmp(b.data, RFC_PONG_MASKED, sizeof RFC_PONG_MASKED));
    tt_buf_reset(&b);
    tt_ws_frame(&b, TT_WS_BINARY, true, false, payload, 256, NULL);
    ASSERT_EQ(b.len, 4 + 256);
    ASSERT_OK(memcmp(b.data, RFC_256_HEAD, 4));
    ASSERT_OK(memcmp(b.data + 4, payload, 256));
    ASSERT_EQ(b.data[b.len], '\0');
    tt_buf_reset(&b);
    tt_ws_frame(&b, TT_WS_BINARY, true, false, payload, 65536, NULL);
    ASSERT_EQ(b.len, 10 + 65536);
    ASSERT_OK(memcmp(b.data, RFC_64K_HEAD, 10));
    ASSERT_OK(memcmp(b.data + 10, payload, 65536));

    /* Heads alone: each length form, the RSV1 bit, the key at the end. */
    ASSERT_EQ(tt_ws_frame_head(h, TT_WS_TEXT, true, false, 125, NULL), 2);
    ASSERT_EQ(h[1], 125);
    ASSERT_EQ(tt_ws_frame_head(h, TT_WS_TEXT, true, false, 126, NULL), 4);
    ASSERT_EQ(tt_ws_frame_head(h, TT_WS_TEXT, true, false, 65535, NULL), 4);
    ASSERT_EQ(tt_ws_frame_head(h, TT_WS_TEXT, true, true, 65536, KEY), 14);
    ASSERT_EQ(h[0], 0xc1);
    ASSERT_EQ(h[1], 0xff);
    ASSERT_OK(memcmp(h + 10, KEY, 4));
    ASSERT_EQ(tt_ws_frame_head(h, TT_WS_BINARY, false, false, UINT64_C(0x123456789a), NULL), 10);
    ASSERT_EQ(h[0], 0x02);
    ASSERT_EQ(h[5], 0x12);
    ASSERT_EQ(h[9], 0x9a);
    tt_buf_free(&b);
    free(payload);
    return 0;
}

/* Frames written by tt_ws_frame come back the same through the parser of
 * the other side, at every length form. */
TEST_IMPL(wsframe_writer_roundtrip)
{
    static const size_t lens[] = {0,   1,    7,    8,    9,     125,   126,
                                  127, 2047, 2048, 2049, 65535, 65536, 70001};
    char *payload = head_and_bytes(NULL, 0, 70001);

    for (size_t i = 0; i < TT_ARRAY_SIZE(lens); i++) {
        for (int masked = 0; masked < 2; masked++) {
            for (int op = TT_WS_TEXT; op <= TT_WS_BINARY; op++) {
                const char *data = op == TT_WS_TEXT ? "" : payload;
                size_t len = op == TT_WS_TEXT ? 0 : lens[i];
                tt_buf_t b = TT_BUF_INIT;
                char *text = NULL;
                rec_t r;

                if (op == TT_WS_TEXT) { /* text must be UTF-8: 'a'..'z' */
                    text = tt_xmalloc(lens[i] + 1);
                    for (size_t j = 0; j < lens[i]; j++)
                        text[j] = (char)('a' + j % 26);
                    data = text;
                    len = lens[i];
                }
                tt_ws_frame(&b, op, true, false, data, len, masked ? KEY : NULL);
                /* Also in three fragments, with a ping between. */
                tt_ws_frame(&b, op, false, false, data, len / 3, masked ? KEY : NULL);
                tt_ws_frame(&b, TT_WS_PING, true, false, "p", 1, masked ? KEY : NULL);
                tt_ws_frame(&b, TT_WS_CONT, false, false, data + len / 3, len / 3,
                            masked ? KEY : NULL);
                tt_ws_frame(&b, TT_WS_CONT, true, false, data + 2 * (len / 3), len - 2 * (len / 3),
                            masked ? KEY : NULL);
                ASSERT_OK(parse_once(&r, masked != 0, b.data, b.len, NULL));
                ASSERT_EQ(r.events, 3);
                ASSERT_EQ(r.payload.len, len);
                ASSERT(len == 0 || memcmp(r.payload.data, data, len) == 0);
                rec_free(&r);
                tt_buf_free(&b);
                free(text);
            }
        }
    }
    free(payload);
    return 0;
}

TEST_IMPL(wsframe_writer_shared)
{
    tt_buf_t b = TT_BUF_INIT;
    tt_rbuf_t *rb;
    char *payload = head_and_bytes(NULL, 0, 300);
    rec_t r;

    rb = tt_ws_frame_shared(TT_WS_TEXT, "Hello", 5);
    ASSERT_EQ(rb->refs, 1);
    ASSERT_EQ(rb->len, sizeof RFC_HELLO);
    ASSERT_OK(memcmp(rb->data, RFC_HELLO, sizeof RFC_HELLO));
    tt_rbuf_unref(rb);

    rb = tt_ws_frame_shared(TT_WS_BINARY, payload, 300);
    tt_ws_frame(&b, TT_WS_BINARY, true, false, payload, 300, NULL);
    ASSERT_EQ(rb->len, b.len);
    ASSERT_OK(memcmp(rb->data, b.data, b.len));
    ASSERT_OK(parse_once(&r, false, rb->data, rb->len, NULL));
    ASSERT_STR_EQ(r.log.data, "B(#300)");
    rec_free(&r);
    tt_rbuf_unref(rb);

    rb = tt_ws_frame_shared(TT_WS_PING, NULL, 0);
    ASSERT_EQ(rb->len, 2);
    ASSERT_EQ((unsigned char)rb->data[0], 0x89);
    ASSERT_EQ(rb->data[1], 0);
    tt_rbuf_unref(rb);
    tt_buf_free(&b);
    free(payload);
    return 0;
}

TEST_IMPL(wsframe_writer_close)
{
    static const unsigned char normal_bye[] = {0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'};
    static const unsigned char empty[] = {0x88, 0x00};
    char reason[200];
    tt_buf_t b = TT_BUF_INIT;
    rec_t r;

    tt_ws_close_frame(&b, TT_WS_CLOSE_NORMAL, "bye", 3, NULL);
    ASSERT_EQ(b.len, sizeof normal_bye);
    ASSERT_OK(memcmp(b.data, normal_bye, sizeof normal_bye));
    tt_buf_reset(&b);
    tt_ws_close_frame(&b, 0, "ignored", 7, NULL);
    tt_ws_close_frame(&b, TT_WS_CLOSE_NO_STATUS, NULL, 0, NULL);
    ASSERT_EQ(b.len, 4);
    ASSERT_OK(memcmp(b.data, empty, 2));
    ASSERT_OK(memcmp(b.data + 2, empty, 2));

    /* A long reason is cut to 123 bytes; "é" across the cut goes whole. */
    memset(reason, 'r', sizeof reason);
    for (size_t cut = 121; cut <= 123; cut++) {
        size_t want = cut == 122 ? 122 : 123;
        reason[cut] = '\xc3';
        reason[cut + 1] = '\xa9';
        tt_buf_reset(&b);
        tt_ws_close_frame(&b, TT_WS_CLOSE_GOING_AWAY, reason, sizeof reason, KEY);
        ASSERT_EQ(b.len, 2 + 4 + 2 + want);
        ASSERT_OK(parse_once(&r, true, b.data, b.len, NULL));
        ASSERT_EQ(r.events, 1);
        ASSERT_CONTAINS(r.log.data, "C1001(");
        rec_free(&r);
        reason[cut] = reason[cut + 1] = 'r';
    }

    /* Every code the parser accepts goes through. */
    for (int code = 1000; code < 5000; code++) {
        if (!tt_ws_close_code_valid(code))
            continue;
        char want[32];
        tt_buf_reset(&b);
        tt_ws_close_frame(&b, code, "why", 3, NULL);
        ASSERT_OK(parse_once(&r, false, b.data, b.len, NULL));
        snprintf(want, sizeof want, "C%d(why)", code);
        ASSERT_STR_EQ(r.log.data, want);
        rec_free(&r);
    }
    tt_buf_free(&b);
    return 0;
}

/* ---- handshake ---- */

TEST_IMPL(wsframe_accept_key)
{
    char out[TT_WS_ACCEPT_SIZE];
    char longkey[101];

    /* RFC 6455 1.3 and 4.2.2. */
    ASSERT_OK(tt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out));
    ASSERT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Python: base64(sha1(key + GUID)). */
    ASSERT_OK(tt_ws_accept_key(NULL, 0, out));
    ASSERT_STR_EQ(out, "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
    memset(longkey, 'x', 100);
    longkey[100] = '\0';
    ASSERT_OK(tt_ws_accept_key(longkey, 100, out));
    ASSERT_STR_EQ(out, "DJTE+uYDnPxiT+W6VvIG/iPUxv8=");
    return 0;
}

/* A request head from "Name: value" lines. */
static void req_setv(tt_msg_t *m, int method, int minor, const char *const *lines)
{
    tt_msg_init(m);
    m->method = method;
    m->major = 1;
    m->minor = minor;
    for (; *lines; lines++) {
        const char *colon = strchr(*lines, ':');
        const char *v;
        ASSERT_NOT_NULL(colon);
        v = colon + 1;
        while (*v == ' ')
            v++;
        tt_msg_add(m, *lines, (size_t)(colon - *lines), v, strlen(v));
    }
}

#define REQ(m, method, minor, ...)                                                                 \
    req_setv((m), (method), (minor), (const char *const[]){__VA_ARGS__, NULL})

#define H_HOST "Host: example.com"
#define H_UPGRADE "Upgrade: websocket"
#define H_CONN "Connection: Upgrade"
#define H_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
#define H_VER "Sec-WebSocket-Version: 13"

typedef struct hs_case_s {
    const char *name;
    int method, minor;
    const char *lines[8];
    int want; /* 0, 400 or 426 */
} hs_case_t;

static const hs_case_t HS_CASES[] = {
    {"good", HTTP_GET, 1, {H_HOST, H_UPGRADE, H_CONN, H_KEY, H_VER}, 0},
    {"case and lists",
     HTTP_GET,
     1,
     {"upgrade: WebSocket", "connection: keep-alive, UPGRADE", H_KEY,
      "sec-websocket-version:  13 "},
     0},
    {"second Connection header",
     HTTP_GET,
     1,
     {H_UPGRADE, "Connection: keep-alive", "Connection: upgrade", H_KEY, H_VER},
     0},
    {"Upgrade list", HTTP_GET, 1, {"Upgrade: foo, websocket", H_CONN, H_KEY, H_VER}, 0},
    {"key with spaces",
     HTTP_GET,
     1,
     {H_UPGRADE, H_CONN, "Sec-WebSocket-Key:  AAECAwQFBgcICQoLDA0ODw== ", H_VER},
     0},
    {"key with tabs",
     HTTP_GET,
     1,
     {H_UPGRADE, H_CONN, "Sec-WebSocket-Key:\tdGhlIHNhbXBsZSBub25jZQ==\t", H_VER},
     0},
    {"POST", HTTP_POST, 1, {H_UPGRADE, H_CONN, H_KEY, H_VER}, 400},
    {"HTTP/1.0", HTTP_GET, 0, {H_UPGRADE, H_CONN, H_KEY, H_VER}, 400},
    {"no Upgrade", HTTP_GET, 1, {H_CONN, H_KEY, H_VER}, 400},
    {"Upgrade: h2c", HTTP_GET, 1, {"Upgrade: h2c", H_CONN, H_KEY, H_VER}, 400},
    {"Upgrade: websockets", HTTP_GET, 1, {"Upgrade: websockets", H_CONN, H_KEY, H_VER}, 400},
    {"no Connection", HTTP_GET, 1, {H_UPGRADE, H_KEY, H_VER}, 400},
    {"Connection: keep-alive",
     HTTP_GET,
     1,
     {H_UPGRADE, "Connection: keep-alive", H_KEY, H_VER},
     400},
    {"no version", HTTP_GET, 1, {H_UPGRADE, H_CONN, H_KEY}, 426},
    {"version 8", HTTP_GET, 1, {H_UPGRADE, H_CONN, H_KEY, "Sec-WebSocket-Version: 8"}, 426},
    {"version 130", HTTP_GET, 1, {H_UPGRADE, H_CONN, H_KEY, "Sec-WebSocket-Version: 130"}, 426},
    {"no key", HTTP_GET, 1, {H_UPGRADE, H_CONN, H_VER}, 400},
    {"empty key", HTTP_GET, 1, {H_UPGRADE, H_CONN, "Sec-WebSocket-Key: ", H_VER}, 400},
    {"key of 15 bytes",
     HTTP_GET,
     1,
     {H_UPGRADE, H_CONN, "Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0O", H_VER},
     400},
    {"key of 17 bytes",
     HTTP_GET,
     1,
     {H_UPGRADE, H_CONN, "Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODxA=", H_VER},
     400},
    {"key not base64",
     HTTP_GET,
     1,
     {H_UPGRADE, H_CONN, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!", H_VER},
     400},
    {"key with a space inside",
     HTTP_GET,
     1,
     {H_UPGRADE, H_CONN, "Sec-WebSocket-Key: dGhlIHNhbXBs ZSBub25jZQ=", H_VER},
     400},
    {"two keys", HTTP_GET, 1, {H_UPGRADE, H_CONN, H_KEY, H_KEY, H_VER}, 400},
};

TEST_IMPL(wsframe_handshake)
{
    tt_msg_t m;

    for (size_t i = 0; i < TT_ARRAY_SIZE(HS_CASES); i++) {
        const hs_case_t *c = &HS_CASES[i];
        const char *why = "unset";
        size_t n = 0;
        int rc;

        while (n < TT_ARRAY_SIZE(c->lines) && c->lines[n])
            n++;
        tt_msg_init(&m);
        m.method = c->method;
        m.major = 1;
        m.minor = c->minor;
        for (size_t j = 0; j < n; j++) {
            const char *colon = strchr(c->lines[j], ':');
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            tt_msg_add(&m, c->lines[j], (size_t)(colon - c->lines[j]), v, strlen(v));
        }
        rc = tt_ws_check_upgrade(&m, &why);
        if (rc != c->want)
            fprintf(stderr, "handshake case \"%s\": %d (%s)\n", c->name, rc, why ? why : "-");
        ASSERT_EQ(rc, c->want);
        ASSERT_EQ(rc != 0, why != NULL);
        ASSERT_EQ(tt_ws_check_upgrade(&m, NULL), c->want);
        tt_msg_free(&m);
    }

    REQ(&m, HTTP_GET, 1, H_UPGRADE);
    ASSERT(tt_ws_is_upgrade(&m));
    tt_msg_free(&m);
    REQ(&m, HTTP_GET, 1, "Upgrade: h2c, WEBSOCKET");
    ASSERT(tt_ws_is_upgrade(&m));
    tt_msg_free(&m);
    REQ(&m, HTTP_GET, 1, "Upgrade: h2c", H_CONN);
    ASSERT(!tt_ws_is_upgrade(&m));
    tt_msg_free(&m);
    REQ(&m, HTTP_GET, 1, H_HOST);
    ASSERT(!tt_ws_is_upgrade(&m));
    tt_msg_free(&m);
    return 0;
}

static int counting_rand(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)i;
    return 0;
}

static int failing_rand(void *ctx, unsigned char *buf, size_t len)
{
    (void)buf;
    (void)len;
    return *(int *)ctx;
}

/* Our side of a handshake toward a backend: the key and the 101 check. */
TEST_IMPL(wsframe_client_handshake)
{
    char key[TT_WS_KEY_SIZE], key2[TT_WS_KEY_SIZE];
    int err = -0x34;
    const char *why;
    tt_msg_t m;

    ASSERT_OK(tt_ws_client_key(key, counting_rand, NULL));
    ASSERT_STR_EQ(key, "AAECAwQFBgcICQoLDA0ODw==");
    ASSERT_EQ(tt_ws_client_key(key, failing_rand, &err), -0x34);
    ASSERT_STR_EQ(key, "");

    /* The OS's generator: a valid key, different each time. */
    ASSERT_OK(tt_ws_client_key(key, NULL, NULL));
    ASSERT_OK(tt_ws_client_key(key2, NULL, NULL));
    ASSERT_EQ(strlen(key), 24);
    ASSERT(strcmp(key, key2) != 0);
    REQ(&m, HTTP_GET, 1, H_UPGRADE, H_CONN, H_VER);
    tt_msg_add(&m, "Sec-WebSocket-Key", 17, key, strlen(key));
    ASSERT_OK(tt_ws_check_upgrade(&m, NULL));
    tt_msg_free(&m);

    /* The answer to the RFC's key. */
    REQ(&m, 0, 1, H_UPGRADE, H_CONN, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    m.status = 101;
    ASSERT_OK(tt_ws_check_response(&m, "dGhlIHNhbXBsZSBub25jZQ==", &why));
    ASSERT_NULL(why);
    ASSERT_EQ(tt_ws_check_response(&m, "AAECAwQFBgcICQoLDA0ODw==", &why), TT_EPARSE);
    ASSERT_STR_EQ(why, "bad Sec-WebSocket-Accept");
    m.status = 200;
    ASSERT_EQ(tt_ws_check_response(&m, "dGhlIHNhbXBsZSBub25jZQ==", &why), TT_EPARSE);
    ASSERT_NOT_NULL(why);
    tt_msg_free(&m);

    REQ(&m, 0, 1, H_CONN, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    m.status = 101;
    ASSERT_EQ(tt_ws_check_response(&m, "dGhlIHNhbXBsZSBub25jZQ==", NULL), TT_EPARSE);
    tt_msg_free(&m);
    REQ(&m, 0, 1, H_UPGRADE, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    m.status = 101;
    ASSERT_EQ(tt_ws_check_response(&m, "dGhlIHNhbXBsZSBub25jZQ==", NULL), TT_EPARSE);
    tt_msg_free(&m);
    REQ(&m, 0, 1, H_UPGRADE, H_CONN);
    m.status = 101;
    ASSERT_EQ(tt_ws_check_response(&m, "dGhlIHNhbXBsZSBub25jZQ==", NULL), TT_EPARSE);
    tt_msg_free(&m);
    REQ(&m, 0, 1, H_UPGRADE, H_CONN, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo");
    m.status = 101;
    ASSERT_EQ(tt_ws_check_response(&m, "dGhlIHNhbXBsZSBub25jZQ==", NULL), TT_EPARSE);
    tt_msg_free(&m);
    return 0;
}

/* A message in many tiny fragments: the buffer grows by doubling, so this
 * stays linear (a buffer grown to fit each fragment would copy ~5 GB here). */
TEST_IMPL(wsframe_many_fragments)
{
    enum { N = 100000 };
    static const fr_t first[] = {F(BIN_MORE, "a"), END};
    static const fr_t middle[] = {F(CONT_MORE, "b"), END};
    static const fr_t ping[] = {F(PING, "p"), END};
    static const fr_t last[] = {F(CONT, "c"), END};

    for (int masked = 0; masked < 2; masked++) {
        tt_buf_t in = TT_BUF_INIT;
        rec_t r;

        build(&in, first, masked != 0);
        for (int i = 0; i < N; i++)
            build(&in, i % 1000 == 0 ? ping : middle, masked != 0);
        build(&in, last, masked != 0);
        ASSERT_OK(parse_once(&r, masked != 0, in.data, in.len, NULL));
        ASSERT_EQ(r.events, 1 + N / 1000);
        ASSERT_EQ(r.payload.len, 2 + N - N / 1000);
        ASSERT_EQ(r.payload.data[0], 'a');
        ASSERT_EQ(r.payload.data[N / 2], 'b');
        ASSERT_EQ(r.payload.data[r.payload.len - 1], 'c');
        rec_free(&r);
        tt_buf_free(&in);
    }
    return 0;
}

/* ---- random streams ---- */

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A random frame: mostly one that fits where the stream is (*in_msg: a
 * fragmented message is open), sometimes out of place, with a bad opcode,
 * reserved bits, the wrong masking, bad UTF-8 or a bad close code. */
static void random_frame(tt_buf_t *b, uint32_t *s, bool mask, bool *in_msg)
{
    static const int starts[] = {TEXT, BIN, TEXT_MORE, BIN_MORE, PING, PONG};
    static const int conts[] = {CONT_MORE, CONT, PING, PONG};
    /* The first few are good anywhere; the rest may be bad. */
    static const char *const texts[] = {"",         "a",        "caf\xc3\xa9", "x",    "hello",
                                        "\xf0\x9f", "\x98\x80", "\xe2\x82",    "\xac", "\xff"};
    static const char *const closes[] = {"",     "\x03\xe8", "\x03\xe8ok",  "\x0b\xb8\xc3\xa9",
                                         "\x03", "\x03\xed", "\x03\xe8\xff"};
    uint32_t r = rng_next(s);
    fr_t f = {*in_msg ? conts[r % TT_ARRAY_SIZE(conts)] : starts[r % TT_ARRAY_SIZE(starts)], NULL,
              0, 0};

    if (r % 29 == 0)
        f.b0 = r % 2 ? CLOSE : CONT;
    if (r % 53 == 0)
        f.b0 = (int)(rng_next(s) & 0xff);
    if (r % 61 == 0)
        mask = !mask;
    if (r % 7 == 0) {
        f.n = rng_next(s) % ((f.b0 & 0x08) ? 130 : 300);
    } else {
        bool good = r % 5 != 0;
        if ((f.b0 & 0x0f) == TT_WS_CLOSE)
            f.p = closes[rng_next(s) % (good ? 4 : TT_ARRAY_SIZE(closes))];
        else
            f.p = texts[rng_next(s) % (good ? 5 : TT_ARRAY_SIZE(texts))];
        f.n = strlen(f.p);
    }
    f.form = r % 11 == 0 ? 64 : 0;
    if ((f.b0 & 0x0f) < TT_WS_CLOSE)
        *in_msg = (f.b0 & 0x80) == 0;
    raw_frame(b, &f, mask);
}

/* Random streams fed whole and in random pieces: the same events and result
 * either way, only the documented results, and no leak (ASan). */
TEST_IMPL(wsframe_random_streams)
{
    uint32_t seed = 0x9e3779b9;

    for (int iter = 0; iter < 3000; iter++) {
        opts_t o = {(rng_next(&seed) & 1) != 0, rng_next(&seed) % 4 == 0 ? 200 : 0,
                    (rng_next(&seed) & 1) != 0};
        tt_buf_t in = TT_BUF_INIT;
        rec_t whole = {0}, pieces = {0};
        const char *why1, *why2;
        int n = 1 + (int)(rng_next(&seed) % 30), rc1, rc2;
        tt_ws_parser_t p;
        size_t off = 0;

        bool in_msg = false;

        for (int i = 0; i < n; i++)
            random_frame(&in, &seed, o.server, &in_msg);
        rc1 = run(&whole, &o, in.data, in.len, in.len, 0, &why1);
        ASSERT(rc1 == 0 || rc1 == TT_WS_CLOSE_PROTOCOL || rc1 == TT_WS_CLOSE_INVALID_DATA ||
               rc1 == TT_WS_CLOSE_TOO_BIG);
        ASSERT_EQ(rc1 != 0, why1 != NULL);

        tt_ws_parser_init(&p, o.server, o.max, o.rsv1, &CBS, &pieces);
        rc2 = 0;
        while (rc2 == 0 && off < in.len) {
            size_t k = 1 + rng_next(&seed) % 40;
            if (k > in.len - off)
                k = in.len - off;
            rc2 = tt_ws_parser_feed(&p, in.data + off, k, &why2);
            off += k;
        }
        tt_ws_parser_free(&p);
        ASSERT_EQ(rc2, rc1);
        ASSERT_STR_EQ(pieces.log.data ? pieces.log.data : "", whole.log.data ? whole.log.data : "");
        rec_free(&whole);
        rec_free(&pieces);
        tt_buf_free(&in);
    }
    return 0;
}
