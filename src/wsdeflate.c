/* permessage-deflate, RFC 7692 (see wsdeflate.h). Pure: no I/O, no loop.
 * The only file that includes zlib.h.
 *
 * The inflater's zlib state comes and goes with the messages:
 *
 *   tt_wsd_new --> NONE --first compressed message--> OPEN (kept: takeover)
 *                   ^                                   |
 *                   +--message done, when the client    |
 *                   |  has no context takeover ---------+
 *                   +--error: context lost -------------+
 *
 * so a connection that never sends a compressed message, or whose client
 * agreed to client_no_context_takeover, holds 24 bytes between messages.
 *
 * Inflating runs zlib with Z_BLOCK, which stops at every block boundary,
 * so that after the appended 0x00 0x00 0xff 0xff we can tell a message that
 * ended between blocks, as every whole message does, from one cut short.
 *
 * Negotiation parses RFC 6455 9.1's grammar by hand: extension-list =
 * 1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) ), with optional
 * spaces around the separators and empty list elements tolerated (RFC 9110
 * 5.6.1). */
#include "wsdeflate.h"

#define ZLIB_CONST
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zlib.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "str.h"
#include "wsframe.h"

#define WINDOW_MIN 8
#define WINDOW_MAX 15
/* zlib's raw deflate refuses a window of 8 (256 bytes), so clients built
 * on zlib compress with 9 even after agreeing to 8; we inflate with 9 too,
 * which takes everything 8 does for 256 more bytes. */
#define ZLIB_WINDOW_MIN 9
/* zlib keeps this much lookahead at the end of its window, so a message
 * fits a window of w whole when it is at most 2^w - MIN_LOOKAHEAD bytes. */
#define MIN_LOOKAHEAD 262
/* Output space below which inflating asks the buffer for more. */
#define OUT_MIN 1024

static const char TAIL[4] = {0x00, 0x00, (char)0xff, (char)0xff};

struct tt_wsd_s {
    z_stream *zs; /* NULL until a compressed message comes, and between them without takeover */
    size_t mem;   /* bytes held: this struct, zs and what zlib allocated */
    int bits;     /* the window we inflate with, 9..15 */
    bool no_takeover;
};

/* ---- zlib memory ---- */

/* Each block zlib asks for carries its size in front, so that an inflater
 * can count what it holds. */
typedef union zhead_u {
    size_t n;
    max_align_t align;
} zhead_t;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    size_t n = (size_t)items * size;
    zhead_t *h = tt_xmalloc(sizeof *h + n);

    h->n = n + sizeof *h;
    if (opaque)
        ((tt_wsd_t *)opaque)->mem += h->n;
    return h + 1;
}

static void z_free(voidpf opaque, voidpf p)
{
    zhead_t *h = (zhead_t *)p - 1;

    if (opaque)
        ((tt_wsd_t *)opaque)->mem -= h->n;
    free(h);
}

/* Initialisation fails only on bad arguments, ruled out here, and on a
 * zlib library of another major version than the header: nothing to go on
 * with. */
static void z_init_failed(const char *what, int rc)
{
    tt_log_error("zlib %s failed (%d): built with zlib %s, running %s", what, rc, ZLIB_VERSION,
                 zlibVersion());
    abort();
}

/* ---- negotiation: scanning ---- */

typedef struct scan_s {
    const char *s, *end;
} scan_t;

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void ows(scan_t *sc)
{
    while (sc->s < sc->end && (*sc->s == ' ' || *sc->s == '\t'))
        sc->s++;
}

/* A token at the cursor: its length, 0 if there is none. */
static size_t token(scan_t *sc, const char **t)
{
    *t = sc->s;
    while (sc->s < sc->end && is_tchar((unsigned char)*sc->s))
        sc->s++;
    return (size_t)(sc->s - *t);
}

/* The rest of a quoted string, its opening quote taken, unescaped into v
 * (cap bytes; *vlen is cap + 1 when it does not fit). Returns false when
 * the string is not closed or, unescaped, is not a token, as RFC 6455 9.1
 * requires of a quoted parameter value. */
static bool quoted(scan_t *sc, char *v, size_t cap, size_t *vlen)
{
    *vlen = 0;
    while (sc->s < sc->end) {
        unsigned char c = (unsigned char)*sc->s++;
        if (c == '"')
            return *vlen > 0;
        if (c == '\\') {
            if (sc->s == sc->end)
                return false;
            c = (unsigned char)*sc->s++;
        }
        if (!is_tchar(c))
            return false;
        if (*vlen < cap)
            v[*vlen] = (char)c;
        if (*vlen <= cap)
            (*vlen)++;
    }
    return false;
}

/* A parameter's value after "=": a token or a quoted string, copied to v
 * as quoted() does. */
static bool param_value(scan_t *sc, char *v, size_t cap, size_t *vlen)
{
    const char *t;
    size_t n;

    ows(sc);
    if (sc->s < sc->end && *sc->s == '"') {
        sc->s++;
        return quoted(sc, v, cap, vlen);
    }
    n = token(sc, &t);
    if (n == 0)
        return false;
    *vlen = n <= cap ? n : cap + 1;
    memcpy(v, t, n <= cap ? n : cap);
    return true;
}

/* ---- negotiation: one offer ---- */

enum { P_SERVER_NCT = 1, P_CLIENT_NCT = 2, P_SERVER_BITS = 4, P_CLIENT_BITS = 8 };

/* One element of the list. */
typedef struct offer_s {
    bool pmd;        /* permessage-deflate, else another extension */
    bool declined;   /* a parameter that RFC 7692 7.1 says to decline */
    unsigned seen;   /* P_* */
    bool client_nct; /* client_no_context_takeover */
    int server_bits; /* 0: absent */
    int client_bits; /* 0: absent, -1: without a value */
} offer_t;

/* A window size value: 8..15 in decimal without leading zeros (RFC 7692
 * 7.1.2.1), else 0. */
static int window_value(const char *v, size_t n)
{
    if (n == 1 && v[0] >= '8' && v[0] <= '9')
        return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return 0;
}

/* Note one parameter of a permessage-deflate offer; has_value tells
 * whether it had "=value" (v, n). */
static void offer_param(offer_t *o, const char *name, size_t nlen, bool has_value, const char *v,
                        size_t n)
{
    static const char *const NAMES[] = {"server_no_context_takeover", "client_no_context_takeover",
                                        "server_max_window_bits", "client_max_window_bits"};
    unsigned bit = 0;

    for (unsigned i = 0; i < TT_ARRAY_SIZE(NAMES) && !bit; i++)
        if (tt_str_ieq(name, nlen, NAMES[i]))
            bit = 1u << i;
    if (bit == 0 || (o->seen & bit)) {
        o->declined = true; /* unknown or repeated */
        return;
    }
    o->seen |= bit;
    if (bit == P_SERVER_NCT || bit == P_CLIENT_NCT) {
        o->declined |= has_value;
        o->client_nct |= bit == P_CLIENT_NCT;
    } else if (bit == P_SERVER_BITS) {
        o->server_bits = has_value ? window_value(v, n) : 0;
        o->declined |= o->server_bits == 0;
    } else {
        o->client_bits = has_value ? window_value(v, n) : -1;
        o->declined |= o->client_bits == 0;
    }
}

/* Parse the next element of the list into *o. Returns 1 when one was read
 * (the cursor is then past its comma, if any), 0 at the end of the value,
 * -1 when the value is malformed. Empty elements are skipped. */
static int next_offer(scan_t *sc, offer_t *o)
{
    const char *name, *pname;
    size_t nlen, plen;

    memset(o, 0, sizeof *o);
    for (;;) {
        ows(sc);
        if (sc->s == sc->end)
            return 0;
        if (*sc->s != ',')
            break;
        sc->s++;
    }
    nlen = token(sc, &name);
    if (nlen == 0)
        return -1;
    o->pmd = tt_str_ieq(name, nlen, "permessage-deflate");
    for (;;) {
        char v[8] = {0};
        size_t vlen = 0;
        bool has_value = false;

        ows(sc);
        if (sc->s == sc->end)
            return 1;
        if (*sc->s == ',') {
            sc->s++;
            return 1;
        }
        if (*sc->s++ != ';')
            return -1;
        ows(sc);
        plen = token(sc, &pname);
        if (plen == 0)
            return -1;
        ows(sc);
        if (sc->s < sc->end && *sc->s == '=') {
            sc->s++;
            if (!param_value(sc, v, sizeof v, &vlen))
                return -1;
            has_value = true;
        }
        if (o->pmd)
            offer_param(o, pname, plen, has_value, v, vlen);
    }
}

/* ---- negotiation: the answer ---- */

static int wish_bits(int bits)
{
    return bits >= WINDOW_MIN && bits <= WINDOW_MAX ? bits : WINDOW_MAX;
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* Agree on the offer o given the server's wishes w, into *p, and write the
 * answer. */
static void agree(const offer_t *o, const tt_wsd_params_t *w, tt_wsd_params_t *p, tt_buf_t *out)
{
    tt_wsd_params_t a;
    int client_cap = wish_bits(w->client_max_window_bits);

    a.server_no_context_takeover = true;
    a.client_no_context_takeover = o->client_nct || w->client_no_context_takeover;
    a.server_max_window_bits = wish_bits(w->server_max_window_bits);
    if (o->server_bits)
        a.server_max_window_bits = min_int(a.server_max_window_bits, o->server_bits);
    a.client_max_window_bits = WINDOW_MAX;
    if (o->client_bits)
        a.client_max_window_bits =
            o->client_bits > 0 ? min_int(o->client_bits, client_cap) : client_cap;

    tt_buf_appends(out, "permessage-deflate; server_no_context_takeover");
    if (a.client_no_context_takeover)
        tt_buf_appends(out, "; client_no_context_takeover");
    if (o->server_bits)
        tt_buf_appendf(out, "; server_max_window_bits=%d", a.server_max_window_bits);
    if (o->client_bits > 0 || (o->client_bits < 0 && a.client_max_window_bits < WINDOW_MAX))
        tt_buf_appendf(out, "; client_max_window_bits=%d", a.client_max_window_bits);
    *p = a;
}

int tt_wsd_negotiate(const tt_msg_t *req, tt_wsd_params_t *p, tt_buf_t *response_value)
{
    offer_t o, chosen;
    bool found = false, declined = false;
    int rc;

    for (int i = tt_msg_find(req, "sec-websocket-extensions", 0); i >= 0;
         i = tt_msg_find(req, "sec-websocket-extensions", (uint32_t)i + 1)) {
        const char *v = tt_msg_value(req, (uint32_t)i);
        scan_t sc = {v, v + req->hdrs[i].value_len};

        /* The whole list is read even after a good offer: a malformed
         * header anywhere means we cannot trust how we split it. */
        while ((rc = next_offer(&sc, &o)) > 0) {
            if (!o.pmd)
                continue;
            if (o.declined)
                declined = true;
            else if (!found) {
                chosen = o;
                found = true;
            }
        }
        if (rc < 0)
            return -1;
    }
    if (!found)
        return declined ? -1 : 0;
    agree(&chosen, p, p, response_value);
    return 1;
}

/* ---- the inflater ---- */

tt_wsd_t *tt_wsd_new(const tt_wsd_params_t *p)
{
    tt_wsd_t *d = tt_xcalloc(1, sizeof *d);

    d->mem = sizeof *d;
    d->bits = wish_bits(p->client_max_window_bits);
    if (d->bits < ZLIB_WINDOW_MIN)
        d->bits = ZLIB_WINDOW_MIN;
    d->no_takeover = p->client_no_context_takeover;
    return d;
}

static void stream_open(tt_wsd_t *d)
{
    z_stream *zs = tt_xcalloc(1, sizeof *zs);
    int rc;

    zs->zalloc = z_alloc;
    zs->zfree = z_free;
    zs->opaque = d;
    d->mem += sizeof *zs;
    /* A negative window: raw DEFLATE, no zlib header or checksum. */
    rc = inflateInit2(zs, -d->bits);
    if (rc != Z_OK)
        z_init_failed("inflateInit2", rc);
    d->zs = zs;
}

static void stream_close(tt_wsd_t *d)
{
    if (!d->zs)
        return;
    inflateEnd(d->zs);
    free(d->zs);
    d->zs = NULL;
    d->mem -= sizeof(z_stream);
}

/* The stream ended with a BFINAL block (RFC 7692 7.2.3.4). A new one
 * starts with the next message, with the same window behind it: with
 * context takeover, a sender that ended its stream may still refer back to
 * what it sent. Copying the window costs little, and only in this rare case. */
static void stream_restart(tt_wsd_t *d)
{
    unsigned char *dict = tt_xmalloc((size_t)1 << d->bits);
    uInt n = 0;

    inflateGetDictionary(d->zs, dict, &n);
    inflateReset(d->zs);
    if (n)
        inflateSetDictionary(d->zs, dict, n);
    free(dict);
}

void tt_wsd_free(tt_wsd_t *d)
{
    if (!d)
        return;
    stream_close(d);
    free(d);
}

size_t tt_wsd_memory(const tt_wsd_t *d)
{
    return d->mem;
}

/* One message being inflated. */
typedef struct job_s {
    z_stream *zs;
    tt_buf_t *out;
    size_t start;  /* out->len when the message began */
    size_t limit;  /* bytes allowed; one more tells us it was passed */
    bool boundary; /* zlib stopped between two blocks */
    bool ended;    /* a BFINAL block ended the stream */
} job_t;

/* Output space for the next inflate() call: never more than one byte past
 * the limit, so a bomb costs us at most the limit. */
static uInt job_room(job_t *j)
{
    tt_buf_t *b = j->out;
    size_t made = b->len - j->start;
    size_t left = j->limit - made + 1;
    size_t room = b->cap ? b->cap - b->len - 1 : 0; /* tt_buf keeps a NUL */

    if (room < left && room < OUT_MIN) {
        size_t want = made > OUT_MIN ? made : OUT_MIN; /* double the output so far */
        tt_buf_reserve(b, want < left ? want : left);
        room = b->cap - b->len - 1;
    }
    if (room > left)
        room = left;
    return room > UINT_MAX ? UINT_MAX : (uInt)room;
}

/* One inflate() call; *full tells whether it filled the output space. */
static int job_step(job_t *j, bool *full)
{
    z_stream *zs = j->zs;
    uInt room = job_room(j), in_before = zs->avail_in;
    int rc;

    zs->next_out = (Bytef *)j->out->data + j->out->len;
    zs->avail_out = room;
    rc = inflate(zs, Z_BLOCK);
    j->out->len += room - zs->avail_out;
    j->out->data[j->out->len] = '\0';
    *full = zs->avail_out == 0;
    if (j->out->len - j->start > j->limit)
        return TT_ELIMIT;
    /* A call that moved nothing says nothing new about where zlib stands:
     * resumed at a block boundary without input, zlib steps past it. */
    if (zs->avail_out != room || zs->avail_in != in_before)
        j->boundary = (zs->data_type & 128) != 0;
    if (rc == Z_STREAM_END)
        j->ended = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return TT_EPARSE; /* Z_DATA_ERROR: bad data, or a distance beyond the window */
    return 0;
}

/* Inflate the next len bytes of the message. */
static int job_feed(job_t *j, const char *in, size_t len)
{
    z_stream *zs = j->zs;
    bool full = false;
    int rc;

    zs->next_in = (const Bytef *)in;
    zs->avail_in = 0;
    while (!j->ended && (len > 0 || zs->avail_in > 0 || full)) {
        if (zs->avail_in == 0 && len > 0) {
            zs->avail_in = len > UINT_MAX ? UINT_MAX : (uInt)len;
            len -= zs->avail_in;
        }
        rc = job_step(j, &full);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int tt_wsd_inflate(tt_wsd_t *d, const char *in, size_t len, size_t max_out, tt_buf_t *out)
{
    /* SIZE_MAX - 1 at most: the limit plus one must not wrap. */
    size_t limit = max_out && max_out < SIZE_MAX ? max_out : SIZE_MAX - 1;
    job_t j = {NULL, out, out->len, limit, false, false};
    int rc;

    if (len == 0)
        return 0;
    if (!d->zs)
        stream_open(d);
    j.zs = d->zs;
    rc = job_feed(&j, in, len);
    if (rc == 0)
        rc = job_feed(&j, TAIL, sizeof TAIL);
    if (rc == 0 && !j.ended && !j.boundary)
        rc = TT_EPARSE; /* cut short: it stopped inside a block */
    if (rc == 0 && j.ended && !d->no_takeover)
        stream_restart(d);
    else if (rc < 0 || d->no_takeover)
        stream_close(d);
    return rc;
}

/* ---- the compressor ---- */

/* The window and memLevel to compress len bytes with, the window at most
 * bits (9..15): the smallest window that holds the whole message, as a
 * larger one would find no more matches; and the smallest memLevel (hash
 * table of 2^(memLevel+7) entries, blocks of 2^(memLevel+6) symbols) whose
 * blocks hold it, from 3 up to zlib's default of 8. Small messages, the
 * common case, so cost a small zlib state. */
static void deflate_shape(size_t len, int bits, int *window, int *mem_level)
{
    int w = ZLIB_WINDOW_MIN, m = 3;

    while (w < bits && ((size_t)1 << w) - MIN_LOOKAHEAD < len)
        w++;
    while (m < 8 && ((size_t)1 << (m + 6)) < len)
        m++;
    *window = w;
    *mem_level = m;
}

/* Compress all of in with a sync flush, appending to out. */
static void deflate_run(z_stream *zs, const char *in, size_t len, tt_buf_t *out)
{
    uInt room;
    int rc;

    zs->next_in = (const Bytef *)in;
    zs->avail_in = 0;
    do {
        if (zs->avail_in == 0) {
            zs->avail_in = len > UINT_MAX ? UINT_MAX : (uInt)len;
            len -= zs->avail_in;
        }
        tt_buf_reserve(out, OUT_MIN);
        zs->next_out = (Bytef *)out->data + out->len;
        room = out->cap - out->len - 1 > UINT_MAX ? UINT_MAX : (uInt)(out->cap - out->len - 1);
        zs->avail_out = room;
        rc = deflate(zs, len > 0 ? Z_NO_FLUSH : Z_SYNC_FLUSH);
        out->len += room - zs->avail_out;
        /* Z_BUF_ERROR: no progress possible, more room needed next turn. */
    } while ((rc == Z_OK || rc == Z_BUF_ERROR) && (len > 0 || zs->avail_out == 0));
    out->data[out->len] = '\0';
}

int tt_wsd_deflate(const char *in, size_t len, int window_bits, tt_buf_t *out)
{
    z_stream zs;
    int window, mem_level, strategy = Z_DEFAULT_STRATEGY, rc;
    size_t start = out->len;

    if (window_bits == 0)
        window_bits = WINDOW_MAX;
    if (window_bits < WINDOW_MIN || window_bits > WINDOW_MAX)
        return UV_EINVAL;
    deflate_shape(len, window_bits, &window, &mem_level);
    /* A back reference in a message of at most 256 bytes is shorter than
     * 256; beyond that only Huffman coding keeps within a window of 8. */
    if (window_bits < ZLIB_WINDOW_MIN && len > 256)
        strategy = Z_HUFFMAN_ONLY;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    rc = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window, mem_level, strategy);
    if (rc != Z_OK)
        z_init_failed("deflateInit2", rc);
    deflate_run(&zs, in, len, out);
    deflateEnd(&zs);
    /* A sync flush always ends with an empty stored block: 0x00 0x00 0xff
     * 0xff after the block head, the part RFC 7692 7.2.1 removes. */
    if (out->len - start >= sizeof TAIL && !memcmp(out->data + out->len - 4, TAIL, 4))
        out->len -= sizeof TAIL;
    out->data[out->len] = '\0';
    return 0;
}

tt_rbuf_t *tt_wsd_frame_shared(int opcode, const char *data, size_t len)
{
    unsigned char h[TT_WS_HEAD_MAX];
    size_t hn = tt_ws_frame_head(h, opcode, true, true, len, NULL);
    tt_rbuf_t *b = tt_rbuf_new(hn + len);

    memcpy(b->data, h, hn);
    if (len)
        memcpy(b->data + hn, data, len);
    return b;
}
