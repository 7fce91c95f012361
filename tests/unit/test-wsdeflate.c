/* Tests for permessage-deflate (src/wsdeflate.c): the negotiation table,
 * the byte examples of RFC 7692 7.2.3, round trips of many sizes and kinds
 * of data through every window size, context takeover, the 0x00 0x00 0xff
 * 0xff tail, empty and corrupt messages, the output limit and what an
 * inflater holds in memory.
 *
 * The peer's side is played by zlib itself: a client compressor that keeps
 * its context, and an inflater with exactly the agreed window, which
 * rejects any back reference a smaller peer could not follow. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zlib.h>

#include "buf.h"
#include "error.h"
#include "http_msg.h"
#include "mem.h"
#include "rbuf.h"
#include "task.h"
#include "wsdeflate.h"
#include "wsframe.h"

static const unsigned char TAIL[4] = {0x00, 0x00, 0xff, 0xff};

/* ---- helpers ---- */

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Data of three kinds: 0 random bytes, 1 text of words from a small
 * vocabulary (like JSON events), 2 a random 3 KiB block over and over, whose
 * matches all reach 3 KiB back. */
static void make_data(tt_buf_t *b, size_t n, int kind, uint32_t seed)
{
    static const char *const WORDS[] = {
        "{\"id\":", "\"channel\"", ",",       "\"data\":", "hello ", "world",
        "}",        "\n",          "tether ", "1234",      "push"};
    uint32_t s = seed | 1;

    tt_buf_reset(b);
    tt_buf_reserve(b, n);
    while (b->len < n) {
        if (kind == 0) {
            char c = (char)(rng_next(&s) & 0xff);
            tt_buf_append(b, &c, 1);
        } else if (kind == 1) {
            const char *w = WORDS[rng_next(&s) % TT_ARRAY_SIZE(WORDS)];
            size_t k = strlen(w);
            tt_buf_append(b, w, k < n - b->len ? k : n - b->len);
        } else if (b->len < 3072) {
            char c = (char)('a' + rng_next(&s) % 26);
            tt_buf_append(b, &c, 1);
        } else {
            /* from within the buffer: reserved above, it does not move */
            size_t k = 3072 < n - b->len ? 3072 : n - b->len;
            tt_buf_append(b, b->data + b->len - 3072, k);
        }
    }
}

static bool same(const tt_buf_t *b, const void *data, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, data, len) == 0);
}

/* Inflate payload (plus the tail) with plain zlib and a window of exactly
 * `bits`, strictly: zlib checks a distance against its window only beyond
 * what it wrote in the same call, so it writes one byte per call here. */
static int zlib_inflate_exact(const tt_buf_t *payload, int bits, tt_buf_t *out)
{
    z_stream zs;
    unsigned char chunk[1];
    int rc = Z_OK;

    memset(&zs, 0, sizeof zs);
    ASSERT_EQ(inflateInit2(&zs, -bits), Z_OK);
    tt_buf_reset(out);
    for (int part = 0; part < 2 && (rc == Z_OK || rc == Z_BUF_ERROR); part++) {
        zs.next_in = part ? (Bytef *)TAIL : (Bytef *)payload->data;
        zs.avail_in = part ? 4 : (uInt)payload->len;
        do {
            zs.next_out = chunk;
            zs.avail_out = sizeof chunk;
            rc = inflate(&zs, Z_SYNC_FLUSH);
            tt_buf_append(out, chunk, sizeof chunk - zs.avail_out);
        } while ((rc == Z_OK || rc == Z_BUF_ERROR) && (zs.avail_in > 0 || zs.avail_out == 0));
    }
    inflateEnd(&zs);
    return rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END ? 0 : -1;
}

/* The client's compressor: zlib with a sync flush, keeping its context
 * across messages unless no_takeover. */
typedef struct client_s {
    z_stream zs;
    bool no_takeover;
} client_t;

static void client_init(client_t *c, int bits, bool no_takeover)
{
    memset(c, 0, sizeof *c);
    c->no_takeover = no_takeover;
    ASSERT_EQ(deflateInit2(&c->zs, 6, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
}

/* Compress one message into out (reset first), tail removed; flush is
 * Z_SYNC_FLUSH, or Z_FINISH for a last block with BFINAL set. */
static void client_send(client_t *c, const char *m, size_t n, int flush, tt_buf_t *out)
{
    int rc;

    tt_buf_reset(out);
    tt_buf_reserve(out, deflateBound(&c->zs, (uLong)n) + 16);
    c->zs.next_in = (Bytef *)m;
    c->zs.avail_in = (uInt)n;
    c->zs.next_out = (Bytef *)out->data;
    c->zs.avail_out = (uInt)(out->cap - 1);
    rc = deflate(&c->zs, flush);
    ASSERT_EQ(c->zs.avail_in, 0);
    out->len = out->cap - 1 - c->zs.avail_out;
    /* An empty message right after a sync flush: zlib has nothing to
     * write and says Z_BUF_ERROR; a client like this sends an empty
     * payload. */
    if (rc == Z_BUF_ERROR && n == 0 && out->len == 0)
        return;
    ASSERT_EQ(rc, flush == Z_FINISH ? Z_STREAM_END : Z_OK);
    if (flush == Z_SYNC_FLUSH) {
        ASSERT_GE(out->len, 4);
        ASSERT_OK(memcmp(out->data + out->len - 4, TAIL, 4));
        out->len -= 4;
    }
    if (c->no_takeover || flush == Z_FINISH)
        deflateReset(&c->zs);
}

static tt_wsd_t *inflater(int bits, bool no_takeover)
{
    tt_wsd_params_t p = {true, no_takeover, 15, bits};
    return tt_wsd_new(&p);
}

/* Inflate the bytes given as a literal and compare with `want`. */
#define INFLATE_OK(d, bytes, want)                                                                 \
    do {                                                                                           \
        static const unsigned char in_[] = bytes;                                                  \
        tt_buf_t o_ = TT_BUF_INIT;                                                                 \
        ASSERT_OK(tt_wsd_inflate((d), (const char *)in_, sizeof in_, 0, &o_));                     \
        ASSERT_STR_EQ(o_.data ? o_.data : "", (want));                                             \
        tt_buf_free(&o_);                                                                          \
    } while (0)

#define INFLATE_RC(d, bytes, rc)                                                                   \
    do {                                                                                           \
        static const unsigned char in_[] = bytes;                                                  \
        tt_buf_t o_ = TT_BUF_INIT;                                                                 \
        ASSERT_EQ(tt_wsd_inflate((d), (const char *)in_, sizeof in_, 0, &o_), (rc));               \
        tt_buf_free(&o_);                                                                          \
    } while (0)

/* Brace lists as one macro argument. */
/* clang-format off */
#define B(...) {__VA_ARGS__}
/* clang-format on */

/* ---- negotiation ---- */

typedef struct neg_s {
    const char *hdrs[3]; /* Sec-WebSocket-Extensions values, NULL-ended */
    tt_wsd_params_t wish;
    int rc;
    const char *answer; /* when rc == 1 */
    tt_wsd_params_t agreed;
} neg_t;

#define PMD "permessage-deflate"
#define SNCT "; server_no_context_takeover"
#define CNCT "; client_no_context_takeover"
/* clang-format off */
#define H1(a) {a, NULL, NULL}
#define H2(a, b) {a, b, NULL}
#define W0 {false, false, 0, 0}
#define ACC(h, wish, answer, cnct, sbits, cbits) {h, wish, 1, answer, {true, cnct, sbits, cbits}}
#define NOT(h, wish, rc) {h, wish, rc, NULL, W0}
/* clang-format on */

static const neg_t NEG[] = {
    /* plain offers and each parameter */
    ACC(H1(PMD), W0, PMD SNCT, false, 15, 15),
    ACC(H1(PMD SNCT), W0, PMD SNCT, false, 15, 15),
    ACC(H1(PMD CNCT), W0, PMD SNCT CNCT, true, 15, 15),
    ACC(H1(PMD "; client_max_window_bits"), W0, PMD SNCT, false, 15, 15),
    ACC(H1(PMD "; client_max_window_bits=12"), W0, PMD SNCT "; client_max_window_bits=12", false,
        15, 12),
    ACC(H1(PMD "; client_max_window_bits=8"), W0, PMD SNCT "; client_max_window_bits=8", false, 15,
        8),
    ACC(H1(PMD "; server_max_window_bits=10"), W0, PMD SNCT "; server_max_window_bits=10", false,
        10, 15),
    ACC(H1(PMD "; server_max_window_bits=8"), W0, PMD SNCT "; server_max_window_bits=8", false, 8,
        15),
    ACC(H1(PMD "; server_max_window_bits=15"), W0, PMD SNCT "; server_max_window_bits=15", false,
        15, 15),
    ACC(H1(PMD SNCT CNCT "; server_max_window_bits=9; client_max_window_bits=8"), W0,
        PMD SNCT CNCT "; server_max_window_bits=9; client_max_window_bits=8", true, 9, 8),
    /* the server's wishes */
    ACC(H1(PMD), B(false, true, 0, 0), PMD SNCT CNCT, true, 15, 15),
    ACC(H1(PMD), B(false, false, 11, 10), PMD SNCT, false, 11, 15),
    ACC(H1(PMD "; client_max_window_bits"), B(false, false, 0, 10),
        PMD SNCT "; client_max_window_bits=10", false, 15, 10),
    ACC(H1(PMD "; client_max_window_bits=12"), B(false, false, 0, 10),
        PMD SNCT "; client_max_window_bits=10", false, 15, 10),
    ACC(H1(PMD "; client_max_window_bits=9"), B(false, false, 0, 14),
        PMD SNCT "; client_max_window_bits=9", false, 15, 9),
    ACC(H1(PMD "; server_max_window_bits=13"), B(false, false, 11, 0),
        PMD SNCT "; server_max_window_bits=11", false, 11, 15),
    ACC(H1(PMD "; server_max_window_bits=9"), B(false, false, 11, 0),
        PMD SNCT "; server_max_window_bits=9", false, 9, 15),
    ACC(H1(PMD), B(true, false, 42, -1), PMD SNCT, false, 15, 15), /* nonsense wishes: 15 */
    /* spelling: case, spaces, quoted values */
    ACC(H1("Permessage-Deflate; Client_Max_Window_Bits=9"), W0,
        PMD SNCT "; client_max_window_bits=9", false, 15, 9),
    ACC(H1("  " PMD " ;\tclient_max_window_bits = 11 , x-foo  "), W0,
        PMD SNCT "; client_max_window_bits=11", false, 15, 11),
    ACC(H1(PMD "; client_max_window_bits=\"10\""), W0, PMD SNCT "; client_max_window_bits=10",
        false, 15, 10),
    ACC(H1(PMD "; server_max_window_bits=\"1\\3\""), W0, PMD SNCT "; server_max_window_bits=13",
        false, 13, 15),
    ACC(H1(", ," PMD ",,"), W0, PMD SNCT, false, 15, 15),
    /* several offers, several headers: the first acceptable one */
    ACC(H1(PMD "; client_max_window_bits=9, " PMD), W0, PMD SNCT "; client_max_window_bits=9",
        false, 15, 9),
    ACC(H1(PMD "; server_max_window_bits=7, " PMD "; server_max_window_bits=10"), W0,
        PMD SNCT "; server_max_window_bits=10", false, 10, 15),
    ACC(H1(PMD "; foo, " PMD CNCT), W0, PMD SNCT CNCT, true, 15, 15),
    ACC(H1("x-webkit-deflate-frame, " PMD CNCT), W0, PMD SNCT CNCT, true, 15, 15),
    ACC(H1("foo; bar=\"baz\"; qux, " PMD), W0, PMD SNCT, false, 15, 15),
    ACC(H2("x-foo; bar=1", PMD "; server_max_window_bits=12"), W0,
        PMD SNCT "; server_max_window_bits=12", false, 12, 15),
    ACC(H2(PMD "; foo", PMD "; client_max_window_bits=10"), W0,
        PMD SNCT "; client_max_window_bits=10", false, 15, 10),
    ACC(H2(PMD, PMD CNCT), W0, PMD SNCT, false, 15, 15),
    /* no offer of ours */
    NOT(H1(NULL), W0, 0),
    NOT(H1(""), W0, 0),
    NOT(H1(" , "), W0, 0),
    NOT(H1("x-webkit-deflate-frame"), W0, 0),
    NOT(H1("permessage-deflate-x; client_max_window_bits=3"), W0, 0),
    NOT(H2("foo", "bar; baz=\"1\""), W0, 0),
    /* offers to decline (RFC 7692 7.1): all declined gives -1 */
    NOT(H1(PMD "; foo"), W0, -1),
    NOT(H1(PMD "; foo=1"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=7"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=16"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=08"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=+9"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=abc"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=\"123456789012\""), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=7"), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=0"), W0, -1),
    NOT(H1(PMD "; client_no_context_takeover=1"), W0, -1),
    NOT(H1(PMD "; server_no_context_takeover=\"x\""), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=10; client_max_window_bits=10"), W0, -1),
    NOT(H1(PMD CNCT CNCT), W0, -1),
    NOT(H2(PMD "; foo", PMD "; bar"), W0, -1),
    /* malformed headers: -1 even after an acceptable offer */
    NOT(H1(PMD ";"), W0, -1),
    NOT(H1(PMD "; ;" CNCT), W0, -1),
    NOT(H1(";" PMD), W0, -1),
    NOT(H1(PMD " client_no_context_takeover"), W0, -1),
    NOT(H1(PMD "; client_max_window_bits="), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=1 0"), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=\"10"), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=\"10\\"), W0, -1),
    NOT(H1(PMD "; client_max_window_bits=\"10\"x"), W0, -1),
    NOT(H1(PMD "; x=\"\""), W0, -1),
    NOT(H1(PMD "; x=\"a b\""), W0, -1),
    NOT(H1(PMD "; x=\"a\tb\""), W0, -1),
    NOT(H1(PMD ", @bad"), W0, -1),
    NOT(H1(PMD ", foo; bar=\"a,b\""), W0, -1),
    NOT(H1(PMD "=1"), W0, -1),
    NOT(H1(PMD "; server_max_window_bits=10\x01"), W0, -1),
    NOT(H2(PMD, "foo bar"), W0, -1),
};

static bool params_eq(const tt_wsd_params_t *a, const tt_wsd_params_t *b)
{
    return a->server_no_context_takeover == b->server_no_context_takeover &&
           a->client_no_context_takeover == b->client_no_context_takeover &&
           a->server_max_window_bits == b->server_max_window_bits &&
           a->client_max_window_bits == b->client_max_window_bits;
}

TEST_IMPL(wsdeflate_negotiate)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(NEG); i++) {
        const neg_t *t = &NEG[i];
        tt_msg_t m;
        tt_buf_t answer = TT_BUF_INIT;
        tt_wsd_params_t p = t->wish;
        int rc;

        tt_msg_init(&m);
        tt_msg_add(&m, "Host", 4, "example.com", 11);
        for (int h = 0; h < 3 && t->hdrs[h]; h++)
            tt_msg_add(&m, "Sec-WebSocket-Extensions", 24, t->hdrs[h], strlen(t->hdrs[h]));
        rc = tt_wsd_negotiate(&m, &p, &answer);
        if (rc != t->rc)
            TT_TEST_FAIL("row %zu [%s]: rc %d, want %d", i, t->hdrs[0] ? t->hdrs[0] : "-", rc,
                         t->rc);
        if (rc == 1) {
            ASSERT_STR_EQ(answer.data, t->answer);
            if (!params_eq(&p, &t->agreed))
                TT_TEST_FAIL("row %zu: agreed %d %d %d %d", i, p.server_no_context_takeover,
                             p.client_no_context_takeover, p.server_max_window_bits,
                             p.client_max_window_bits);
        } else {
            ASSERT_EQ(answer.len, 0);
            ASSERT(params_eq(&p, &t->wish)); /* left as it was */
        }
        tt_buf_free(&answer);
        tt_msg_free(&m);
    }
    return 0;
}

/* The answer is appended to what the buffer holds. */
TEST_IMPL(wsdeflate_negotiate_appends)
{
    tt_msg_t m;
    tt_buf_t answer = TT_BUF_INIT;
    tt_wsd_params_t p = {false, false, 0, 0};

    tt_msg_init(&m);
    tt_msg_add(&m, "sec-websocket-extensions", 24, PMD, strlen(PMD));
    tt_buf_appends(&answer, "x, ");
    ASSERT_EQ(tt_wsd_negotiate(&m, &p, &answer), 1);
    ASSERT_STR_EQ(answer.data, "x, " PMD SNCT);
    tt_buf_free(&answer);
    tt_msg_free(&m);
    return 0;
}

/* ---- RFC 7692 7.2.3 ---- */

TEST_IMPL(wsdeflate_rfc7692_examples)
{
    tt_wsd_t *d = inflater(15, false);
    tt_wsd_t *n = inflater(15, true);

    /* 7.2.3.1: "Hello" in one compressed block; its fragments joined */
    INFLATE_OK(d, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), "Hello");
    /* 7.2.3.2: the same again, with context takeover: a back reference */
    INFLATE_OK(d, B(0xf2, 0x00, 0x11, 0x00, 0x00), "Hello");
    /* without takeover there is nothing to refer back to */
    INFLATE_OK(n, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), "Hello");
    INFLATE_RC(n, B(0xf2, 0x00, 0x11, 0x00, 0x00), TT_EPARSE);
    /* 7.2.3.3: a stored block */
    INFLATE_OK(d, B(0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00), "Hello");
    /* 7.2.3.4: a block with BFINAL set, then nothing the stream needs */
    INFLATE_OK(d, B(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00), "Hello");
    INFLATE_OK(n, B(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00), "Hello");
    /* 7.2.3.5: two blocks in one message, a sync flush between */
    INFLATE_OK(d, B(0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00),
               "Hello");
    INFLATE_OK(n, B(0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00),
               "Hello");
    tt_wsd_free(d);
    tt_wsd_free(n);
    return 0;
}

/* Our compressor gives the RFC's bytes for "Hello", and the frame of
 * 7.2.3.1: c1 07 and the payload. */
TEST_IMPL(wsdeflate_rfc7692_deflate)
{
    static const unsigned char HELLO[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const unsigned char FRAME[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    tt_buf_t c = TT_BUF_INIT;
    tt_rbuf_t *f;

    for (int w = 8; w <= 15; w++) {
        tt_buf_reset(&c);
        ASSERT_OK(tt_wsd_deflate("Hello", 5, w, &c));
        ASSERT(same(&c, HELLO, sizeof HELLO));
    }
    f = tt_wsd_frame_shared(TT_WS_TEXT, c.data, c.len);
    ASSERT_EQ(f->refs, 1);
    ASSERT_EQ(f->len, sizeof FRAME);
    ASSERT_OK(memcmp(f->data, FRAME, sizeof FRAME));
    tt_rbuf_unref(f);
    /* 0 is 15; the result is appended */
    ASSERT_OK(tt_wsd_deflate("Hello", 5, 0, &c));
    ASSERT_EQ(c.len, 2 * sizeof HELLO);
    ASSERT_OK(memcmp(c.data + sizeof HELLO, HELLO, sizeof HELLO));
    ASSERT_EQ(tt_wsd_deflate("Hello", 5, 7, &c), UV_EINVAL);
    ASSERT_EQ(tt_wsd_deflate("Hello", 5, 16, &c), UV_EINVAL);
    ASSERT_EQ(tt_wsd_deflate("Hello", 5, -15, &c), UV_EINVAL);
    ASSERT_EQ(c.len, 2 * sizeof HELLO);
    tt_buf_free(&c);
    return 0;
}

/* ---- round trips ---- */

static const size_t SIZES[] = {1,    2,    3,     10,    100,   250,   255,   256,
                               257,  258,  261,   262,   500,   762,   763,   1000,
                               4096, 8000, 16122, 16123, 40000, 70000, 300000};

/* Every size, kind and window: what tt_wsd_deflate makes, an inflater
 * with exactly that window takes back (zlib with window 8 included), and
 * so does tt_wsd. */
TEST_IMPL(wsdeflate_round_trip)
{
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT;
    size_t total_in = 0, total_out = 0;

    for (size_t i = 0; i < TT_ARRAY_SIZE(SIZES); i++) {
        for (int kind = 0; kind < 3; kind++) {
            make_data(&m, SIZES[i], kind, (uint32_t)(i * 3 + (size_t)kind + 1));
            for (int w = 8; w <= 15; w++) {
                tt_wsd_t *d;

                /* the big ones at a few windows only, to keep the test short */
                if (SIZES[i] > 20000 && w != 8 && w != 9 && w != 12 && w != 15)
                    continue;
                d = inflater(w, w % 2 == 0);
                tt_buf_reset(&c);
                ASSERT_OK(tt_wsd_deflate(m.data, m.len, w, &c));
                ASSERT(c.len < 4 || memcmp(c.data + c.len - 4, TAIL, 4) != 0);
                if (zlib_inflate_exact(&c, w, &o) != 0 || !same(&o, m.data, m.len))
                    TT_TEST_FAIL("size %zu kind %d window %d: zlib inflate", SIZES[i], kind, w);
                tt_buf_reset(&o);
                ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, m.len, &o));
                ASSERT(same(&o, m.data, m.len));
                /* random data: stored blocks at worst, when the window holds
                 * the block (zlib can store only what is still in it) */
                if (kind == 0 && w == 15)
                    ASSERT_LE(c.len, m.len + m.len / 1000 + 16);
                if (kind == 1 && w == 15) {
                    total_in += m.len;
                    total_out += c.len;
                }
                tt_wsd_free(d);
            }
        }
    }
    /* words from a small vocabulary compress well */
    ASSERT_LT(total_out * 4, total_in);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* The exact-window check of the round trip has teeth: a stream made with
 * a window of 15 from data that repeats 3 KiB back is refused by a
 * 512-byte window, and accepted by a 4 KiB one. */
TEST_IMPL(wsdeflate_window_check)
{
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT, z = TT_BUF_INIT;
    client_t cl;
    tt_wsd_t *d = inflater(9, false);

    make_data(&m, 20000, 2, 7);
    client_init(&cl, 15, false);
    client_send(&cl, m.data, m.len, Z_SYNC_FLUSH, &c);
    ASSERT_EQ(zlib_inflate_exact(&c, 9, &o), -1);
    ASSERT_OK(zlib_inflate_exact(&c, 12, &o));
    ASSERT(same(&o, m.data, m.len));
    /* our compressor at 9 stays within 512 bytes */
    ASSERT_OK(tt_wsd_deflate(m.data, m.len, 9, &z));
    ASSERT_OK(zlib_inflate_exact(&z, 9, &o));
    ASSERT(same(&o, m.data, m.len));
    /* tt_wsd is as lenient as zlib: within one message it follows a
     * reference past the agreed window, which costs it nothing... */
    tt_buf_reset(&o);
    ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
    ASSERT(same(&o, m.data, m.len));
    /* ...but it keeps no more than the window of earlier messages */
    client_send(&cl, m.data, 3000, Z_SYNC_FLUSH, &c);
    ASSERT_LT(c.len, 100);
    tt_buf_reset(&o);
    ASSERT_EQ(tt_wsd_inflate(d, c.data, c.len, 0, &o), TT_EPARSE);
    tt_wsd_free(d);
    deflateEnd(&cl.zs);
    tt_buf_free(&z);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* A shared frame goes through the RFC 6455 parser of a client and
 * inflates back: the path a published message takes. */
typedef struct got_s {
    tt_buf_t data;
    int opcode;
    bool rsv1;
} got_t;

static int got_message(void *owner, int opcode, const char *data, size_t len, bool rsv1)
{
    got_t *g = owner;

    tt_buf_reset(&g->data);
    tt_buf_append(&g->data, data, len);
    g->opcode = opcode;
    g->rsv1 = rsv1;
    return 0;
}

TEST_IMPL(wsdeflate_frame_shared)
{
    static const tt_ws_parser_cbs_t cbs = {got_message, NULL, NULL, NULL};
    static const size_t sizes[] = {0, 5, 125, 126, 200, 65535, 65536, 100000};
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT;
    got_t g = {TT_BUF_INIT, 0, false};

    for (size_t i = 0; i < TT_ARRAY_SIZE(sizes); i++) {
        int op = i % 2 ? TT_WS_TEXT : TT_WS_BINARY;
        tt_ws_parser_t ps;
        tt_wsd_t *d = inflater(15, false);
        tt_rbuf_t *f;

        make_data(&m, sizes[i], i % 3 == 0 ? 0 : 1, (uint32_t)i + 11);
        tt_buf_reset(&c);
        ASSERT_OK(tt_wsd_deflate(m.data, m.len, 15, &c));
        f = tt_wsd_frame_shared(op, c.data, c.len);
        ASSERT_EQ((unsigned char)f->data[0], 0xc0 | op); /* FIN, RSV1 */
        ASSERT_EQ((unsigned char)f->data[1] & 0x80, 0);  /* unmasked */
        tt_ws_parser_init(&ps, false, 0, true, &cbs, &g);
        ASSERT_OK(tt_ws_parser_feed(&ps, f->data, f->len, NULL));
        ASSERT_EQ(g.opcode, op);
        ASSERT(g.rsv1);
        ASSERT(same(&g.data, c.data, c.len));
        tt_buf_reset(&o);
        ASSERT_OK(tt_wsd_inflate(d, g.data.data, g.data.len, 0, &o));
        ASSERT(same(&o, m.data, m.len));
        tt_ws_parser_free(&ps);
        tt_rbuf_unref(f);
        tt_wsd_free(d);
    }
    tt_buf_free(&g.data);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* ---- context takeover ---- */

TEST_IMPL(wsdeflate_context_takeover)
{
    static const char *const MSGS[] = {
        "{\"channel\":\"prices\",\"data\":{\"symbol\":\"ABC\",\"price\":101.25,\"volume\":1200}}",
        "{\"channel\":\"prices\",\"data\":{\"symbol\":\"ABC\",\"price\":101.25,\"volume\":1200}}",
        "{\"channel\":\"prices\",\"data\":{\"symbol\":\"XYZ\",\"price\":7.5,\"volume\":90}}",
        "",
        "{\"channel\":\"prices\",\"data\":{\"symbol\":\"ABC\",\"price\":101.30,\"volume\":1300}}",
    };
    tt_buf_t c = TT_BUF_INIT, o = TT_BUF_INIT;
    client_t cl;
    tt_wsd_t *d = inflater(15, false), *fresh = inflater(15, false);
    size_t base = tt_wsd_memory(d);

    client_init(&cl, 15, false);
    for (size_t i = 0; i < TT_ARRAY_SIZE(MSGS); i++) {
        size_t n = strlen(MSGS[i]);
        client_send(&cl, MSGS[i], n, Z_SYNC_FLUSH, &c);
        if (i == 1)
            ASSERT_LT(c.len, 12); /* all of it a reference to the first */
        tt_buf_reset(&o);
        ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
        ASSERT(same(&o, MSGS[i], n));
        ASSERT_GT(tt_wsd_memory(d), base); /* the context stays */
        /* the second makes no sense without the first */
        if (i == 1)
            ASSERT_EQ(tt_wsd_inflate(fresh, c.data, c.len, 0, &o), TT_EPARSE);
    }
    deflateEnd(&cl.zs);
    tt_wsd_free(d);
    tt_wsd_free(fresh);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* Without takeover each message stands alone and the inflater holds
 * nothing between them. */
TEST_IMPL(wsdeflate_no_context_takeover)
{
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT;
    client_t cl;
    tt_wsd_t *d = inflater(12, true);
    size_t base = tt_wsd_memory(d);

    client_init(&cl, 12, true);
    for (int i = 0; i < 20; i++) {
        make_data(&m, (size_t)(i * 700), 1 + i % 2, 5); /* the same start every time */
        client_send(&cl, m.data, m.len, Z_SYNC_FLUSH, &c);
        tt_buf_reset(&o);
        ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
        ASSERT(same(&o, m.data, m.len));
        ASSERT_EQ(tt_wsd_memory(d), base);
    }
    deflateEnd(&cl.zs);
    tt_wsd_free(d);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* A message ended by a BFINAL block: the next one starts a new stream
 * that may still refer back to the previous message. */
TEST_IMPL(wsdeflate_bfinal_keeps_window)
{
    static const char M1[] = "the quick brown fox jumps over the lazy dog";
    tt_buf_t c = TT_BUF_INIT, o = TT_BUF_INIT;
    client_t cl;
    tt_wsd_t *d = inflater(15, false);

    client_init(&cl, 15, false);
    client_send(&cl, M1, strlen(M1), Z_FINISH, &c);
    tt_buf_append(&c, "\x00", 1); /* padding after the stream, as in 7.2.3.4 */
    ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
    ASSERT_STR_EQ(o.data, M1);
    ASSERT_EQ(deflateSetDictionary(&cl.zs, (const Bytef *)M1, (uInt)strlen(M1)), Z_OK);
    client_send(&cl, M1, strlen(M1), Z_SYNC_FLUSH, &c);
    ASSERT_LT(c.len, 10);
    tt_buf_reset(&o);
    ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
    ASSERT_STR_EQ(o.data, M1);
    deflateEnd(&cl.zs);
    tt_wsd_free(d);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* ---- the tail, empty and corrupt messages ---- */

TEST_IMPL(wsdeflate_tail)
{
    static const char M[] = "a message of some length, long enough to need a few bytes: "
                            "a message of some length";
    tt_buf_t c = TT_BUF_INIT, o = TT_BUF_INIT;
    tt_wsd_t *d = inflater(15, true);
    int parse_errors = 0;

    ASSERT_OK(tt_wsd_deflate(M, strlen(M), 15, &c));
    /* the sender must remove the tail: left in, the one we add is cut short */
    tt_buf_append(&c, TAIL, 4);
    ASSERT_EQ(tt_wsd_inflate(d, c.data, c.len, 0, &o), TT_EPARSE);
    c.len -= 4;
    /* a message cut short never passes for the whole one */
    for (size_t cut = 1; cut < c.len; cut++) {
        int rc;
        tt_buf_reset(&o);
        rc = tt_wsd_inflate(d, c.data, cut, 0, &o);
        ASSERT(rc == TT_EPARSE || (rc == 0 && !same(&o, M, strlen(M))));
        parse_errors += rc == TT_EPARSE;
    }
    ASSERT_GT(parse_errors, 0);
    /* the RFC's "Hello" without its last byte stops inside the block */
    INFLATE_RC(d, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07), TT_EPARSE);
    /* a stored block: 2 bytes short, the tail fills them, then 0xff 0xff
     * is a block of the reserved type */
    INFLATE_RC(d, B(0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c), TT_EPARSE);
    /* a message that ends on a sync flush of its own, tail removed: whole */
    INFLATE_OK(d, B(0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00),
               "Hello");
    tt_buf_reset(&o);
    ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
    ASSERT(same(&o, M, strlen(M)));
    tt_wsd_free(d);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

TEST_IMPL(wsdeflate_empty)
{
    tt_buf_t c = TT_BUF_INIT, o = TT_BUF_INIT;
    tt_wsd_t *d = inflater(15, false);
    size_t base = tt_wsd_memory(d);

    /* an empty message compresses to one byte, an empty stored block */
    ASSERT_OK(tt_wsd_deflate("", 0, 15, &c));
    ASSERT_EQ(c.len, 1);
    ASSERT_EQ(c.data[0], 0);
    ASSERT_OK(tt_wsd_deflate(NULL, 0, 8, &c));
    ASSERT_EQ(c.len, 2);
    /* an empty payload is an empty message, and allocates nothing */
    ASSERT_OK(tt_wsd_inflate(d, NULL, 0, 0, &o));
    ASSERT_OK(tt_wsd_inflate(d, "", 0, 10, &o));
    ASSERT_EQ(o.len, 0);
    ASSERT_EQ(tt_wsd_memory(d), base);
    /* the one byte too, with a limit of 0 (none) and of 1 */
    ASSERT_OK(tt_wsd_inflate(d, "\x00", 1, 0, &o));
    ASSERT_OK(tt_wsd_inflate(d, "\x00", 1, 1, &o));
    ASSERT_EQ(o.len, 0);
    /* and the context survives them */
    INFLATE_OK(d, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), "Hello");
    ASSERT_OK(tt_wsd_inflate(d, "\x00", 1, 0, &o));
    ASSERT_OK(tt_wsd_inflate(d, "", 0, 0, &o));
    INFLATE_OK(d, B(0xf2, 0x00, 0x11, 0x00, 0x00), "Hello");
    tt_wsd_free(d);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

TEST_IMPL(wsdeflate_corrupt)
{
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT;
    tt_wsd_t *d = inflater(15, false);
    size_t base = tt_wsd_memory(d);
    uint32_t s = 99;
    int errors = 0;

    INFLATE_RC(d, B(0xff), TT_EPARSE);                         /* block type 3 */
    INFLATE_RC(d, B(0x06, 0x00), TT_EPARSE);                   /* the same, BFINAL clear */
    INFLATE_RC(d, B(0x00, 0x05, 0x00, 0x00, 0x00), TT_EPARSE); /* stored: LEN != ~NLEN */
    INFLATE_RC(d, B(0xf2, 0x00, 0x11, 0x00, 0x00), TT_EPARSE); /* a reference before the start */
    /* a dynamic block with bad code lengths */
    INFLATE_RC(d, B(0x04, 0xff, 0xff, 0xff, 0xff, 0xff), TT_EPARSE);
    /* after an error the inflater has dropped its state and starts over */
    ASSERT_EQ(tt_wsd_memory(d), base);
    INFLATE_OK(d, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), "Hello");
    /* random bytes, and compressed data with a flipped byte, never crash:
     * an error, or some output (a flip may still decode) */
    make_data(&m, 5000, 1, 3);
    ASSERT_OK(tt_wsd_deflate(m.data, m.len, 15, &c));
    for (int i = 0; i < 400; i++) {
        tt_wsd_t *e = inflater(9 + i % 7, i % 2);
        int rc;
        tt_buf_reset(&o);
        if (i % 2) {
            char junk[64];
            for (size_t k = 0; k < sizeof junk; k++)
                junk[k] = (char)rng_next(&s);
            rc = tt_wsd_inflate(e, junk, 1 + rng_next(&s) % sizeof junk, 100000, &o);
        } else {
            size_t at = rng_next(&s) % c.len;
            c.data[at] ^= (char)(1 + rng_next(&s) % 255);
            rc = tt_wsd_inflate(e, c.data, c.len, 100000, &o);
            tt_buf_reset(&c);
            ASSERT_OK(tt_wsd_deflate(m.data, m.len, 15, &c));
        }
        ASSERT(rc == 0 || rc == TT_EPARSE || rc == TT_ELIMIT);
        errors += rc != 0;
        tt_wsd_free(e);
    }
    ASSERT_GT(errors, 200);
    tt_wsd_free(d);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* ---- the output limit ---- */

TEST_IMPL(wsdeflate_limit)
{
    const size_t n = 1 << 20;
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT;
    tt_wsd_t *d = inflater(15, false);

    tt_buf_reserve(&m, n);
    memset(m.data, 'a', n);
    m.len = n;
    ASSERT_OK(tt_wsd_deflate(m.data, m.len, 15, &c));
    ASSERT_LT(c.len, 2048); /* a small bomb: 1 MiB from about 1 KiB */
    /* over the limit: TT_ELIMIT, and we never held much more than it */
    ASSERT_EQ(tt_wsd_inflate(d, c.data, c.len, 1000, &o), TT_ELIMIT);
    ASSERT_LE(o.len, 1001);
    ASSERT_LE(o.cap, 4096);
    tt_buf_free(&o);
    ASSERT_EQ(tt_wsd_inflate(d, c.data, c.len, n - 1, &o), TT_ELIMIT);
    ASSERT_EQ(o.len, n);
    /* the limit counts this message only, not what out held before */
    tt_buf_reset(&o);
    tt_buf_appends(&o, "before:");
    ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, n, &o));
    ASSERT_EQ(o.len, 7 + n);
    ASSERT_OK(memcmp(o.data, "before:aaa", 10));
    ASSERT_EQ(o.data[o.len], '\0');
    /* 0: no limit */
    tt_buf_reset(&o);
    ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
    ASSERT(same(&o, m.data, m.len));
    /* "Hello" fits 5, not 4 */
    INFLATE_OK(d, B(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), "Hello");
    tt_buf_reset(&o);
    ASSERT_OK(tt_wsd_inflate(d, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, 5, &o));
    ASSERT_EQ(tt_wsd_inflate(d, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, 4, &o), TT_ELIMIT);
    tt_wsd_free(d);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}

/* ---- memory ---- */

/* What an inflater holds: its struct alone until the first compressed
 * message, then the zlib state with a window of 2^bits, which stays with
 * context takeover and goes after each message without it. */
TEST_IMPL(wsdeflate_memory)
{
    tt_buf_t m = TT_BUF_INIT, c = TT_BUF_INIT, o = TT_BUF_INIT;

    make_data(&m, 3000, 1, 1);
    ASSERT_OK(tt_wsd_deflate(m.data, m.len, 9, &c));
    for (int bits = 8; bits <= 15; bits++) {
        tt_wsd_t *d = inflater(bits, false), *n = inflater(bits, true);
        size_t base = tt_wsd_memory(d), held;
        int w = bits < 9 ? 9 : bits;

        ASSERT_LE(base, 32);
        ASSERT_OK(tt_wsd_inflate(d, c.data, c.len, 0, &o));
        held = tt_wsd_memory(d);
        fprintf(stderr, "inflater, client_max_window_bits=%d: %zu bytes idle, %zu with context\n",
                bits, base, held);
        ASSERT_GE(held, base + ((size_t)1 << w));
        ASSERT_LE(held, base + ((size_t)1 << w) + 8192);
        ASSERT_OK(tt_wsd_inflate(n, c.data, c.len, 0, &o));
        ASSERT_EQ(tt_wsd_memory(n), base);
        tt_wsd_free(d);
        tt_wsd_free(n);
    }
    tt_wsd_free(NULL);
    tt_buf_free(&m);
    tt_buf_free(&c);
    tt_buf_free(&o);
    return 0;
}
