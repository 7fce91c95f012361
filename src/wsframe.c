/* RFC 6455 framing (see wsframe.h). Pure: no I/O, no loop.
 *
 * The parser is a resumable switch loop over three states:
 *
 *            +------------------- frame ended <------------------+
 *            v                                                   |
 *   feed --> HEAD --head whole and valid--> BODY --payload in----+
 *            |  |                            |
 *            |  +--empty payload-------------|--> frame ended
 *            |                               |
 *            +--bad head: 1002, 1009         +--bad payload: 1002, 1007
 *            v                               |
 *            DONE <--------------------------+
 *            also after a close frame, or when a callback returned nonzero;
 *            DONE ignores all later input
 *
 * A head split across reads is gathered in the parser's 14-byte _hdr; a
 * whole head is read where it lies. At "frame ended" a control frame is
 * delivered at once, a data frame joins its message, which is delivered on
 * FIN.
 *
 * Payloads take one of two paths. A frame that is a message by itself (a
 * control frame, or a data frame with FIN that continues nothing) and lies
 * whole in the input is delivered from there: as is when unmasked, unmasked
 * on the stack when small, else through a temporary copy. Anything else is
 * unmasked into the reassembly buffer (asm), which holds the data message so
 * far followed by the payload of a control frame being received; asm is
 * freed as soon as it holds no message, so an idle connection owns none.
 * It grows by doubling as bytes arrive, so a peer cannot make us allocate
 * much more than it sends, nor copy much by sending tiny fragments.
 *
 * UTF-8 is checked as payload arrives (fail fast, as Autobahn expects), and
 * once more at FIN for a sequence left open. */
#include "wsframe.h"

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "error.h"
#include "mem.h"
#include "str.h"

/* RFC 6455 1.3: appended to the client's key before hashing. */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
#define GUID_LEN (sizeof WS_GUID - 1)
#define SHA1_LEN 20
#define KEY_RAW_LEN 16
#define KEY_B64_LEN 24
#define ACCEPT_B64_LEN 28

/* A masked frame that arrives whole is unmasked on the stack up to this
 * size, so that small client messages cost no allocation. */
#define SCRATCH 2048
/* The smallest reassembly buffer worth allocating for a growing frame. */
#define ASM_MIN 256

struct tt__ws_asm_s {
    size_t len;     /* bytes held */
    size_t msg_len; /* the data message's part; the rest is a control payload */
    size_t cap;
    char data[];
};

/* ---- UTF-8 ---- */

/* Validator states: 0 between characters, 1-3 continuation bytes still
 * expected (any of 80..BF), 4-7 the first continuation of a lead byte that
 * narrows it (RFC 3629 section 4), 8 rejected. */
enum { U_ACCEPT = 0, U_E0 = 4, U_ED = 5, U_F0 = 6, U_F4 = 7, U_REJECT = 8 };

static uint32_t utf8_lead(unsigned char c)
{
    if (c < 0x80)
        return U_ACCEPT;
    if (c < 0xc2) /* a continuation byte, or an overlong 2-byte lead */
        return U_REJECT;
    if (c < 0xe0)
        return 1;
    if (c == 0xe0)
        return U_E0; /* A0..BF next, else overlong */
    if (c == 0xed)
        return U_ED; /* 80..9F next, else a surrogate */
    if (c < 0xf0)
        return 2;
    if (c == 0xf0)
        return U_F0; /* 90..BF next, else overlong */
    if (c < 0xf4)
        return 3;
    if (c == 0xf4)
        return U_F4; /* 80..8F next, else above U+10FFFF */
    return U_REJECT;
}

static uint32_t utf8_next(uint32_t s, unsigned char c)
{
    static const unsigned char lo[8] = {0, 0x80, 0x80, 0x80, 0xa0, 0x80, 0x90, 0x80};
    static const unsigned char hi[8] = {0, 0xbf, 0xbf, 0xbf, 0xbf, 0x9f, 0xbf, 0x8f};
    static const unsigned char after[8] = {0, 0, 1, 2, 1, 1, 2, 2};

    if (s == U_ACCEPT)
        return utf8_lead(c);
    if (c < lo[s] || c > hi[s])
        return U_REJECT;
    return after[s];
}

/* Skip ASCII, eight bytes at a time while it lasts. */
static const unsigned char *skip_ascii(const unsigned char *p, const unsigned char *end)
{
    uint64_t w;

    while (end - p >= 8) {
        memcpy(&w, p, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
        p += 8;
    }
    while (p < end && *p < 0x80)
        p++;
    return p;
}

void tt_utf8_init(tt_utf8_t *u)
{
    u->state = U_ACCEPT;
}

bool tt_utf8_feed(tt_utf8_t *u, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    uint32_t st = u->state;

    while (st != U_REJECT && p < end) {
        if (st == U_ACCEPT && (p = skip_ascii(p, end)) == end)
            break;
        st = utf8_next(st, *p++);
    }
    u->state = st;
    return st != U_REJECT;
}

bool tt_utf8_complete(const tt_utf8_t *u)
{
    return u->state == U_ACCEPT;
}

bool tt_utf8_valid(const char *s, size_t len)
{
    tt_utf8_t u;

    if (len == 0)
        return true;
    tt_utf8_init(&u);
    return tt_utf8_feed(&u, s, len) && tt_utf8_complete(&u);
}

/* The length of s's longest prefix of at most max bytes that does not end
 * inside a character (s is assumed to be UTF-8). */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

/* ---- close codes ---- */

bool tt_ws_close_code_valid(int code)
{
    if (code >= 3000 && code <= 4999)
        return true;
    if (code < 1000 || code > 1014)
        return false;
    /* 1004 is reserved; 1005 and 1006 are never sent on the wire. */
    return code < 1004 || code > 1006;
}

/* ---- masking ---- */

/* dst = src XOR the mask key, starting at byte `pos` of the key's cycle.
 * Eight bytes at a time with the key repeated twice. */
static void unmask(char *dst, const char *src, size_t n, const uint8_t *key, unsigned pos)
{
    uint8_t k[8];
    uint64_t kw, w;
    size_t i = 0;

    for (unsigned j = 0; j < 8; j++)
        k[j] = key[(pos + j) & 3];
    memcpy(&kw, k, 8);
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= kw;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = (char)(src[i] ^ k[i & 7]);
}

/* ---- parser: helpers ---- */

static bool is_control(unsigned op)
{
    return (op & 8) != 0;
}

/* Stop for good: later input is ignored and the buffer goes now, since the
 * connection is closing. */
static void stop(tt_ws_parser_t *p)
{
    p->_state = TT__WS_DONE;
    free(p->_asm);
    p->_asm = NULL;
}

static int fail(tt_ws_parser_t *p, const char **why, int code, const char *reason)
{
    stop(p);
    *why = reason;
    return code;
}

/* The result of a callback: nonzero stops the parser. */
static int called(tt_ws_parser_t *p, int rc)
{
    if (rc)
        stop(p);
    return rc;
}

static size_t head_size(const uint8_t *h)
{
    unsigned len7 = h[1] & 0x7f;
    size_t n = (h[1] & 0x80) ? 6 : 2;

    return n + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
}

static uint64_t payload_len(const uint8_t *h)
{
    unsigned len7 = h[1] & 0x7f;
    unsigned bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    uint64_t n = bytes ? 0 : len7;

    for (unsigned i = 0; i < bytes; i++)
        n = n << 8 | h[2 + i];
    return n;
}

static size_t msg_len(const tt_ws_parser_t *p)
{
    return p->_asm ? p->_asm->msg_len : 0;
}

/* Whether the current data message is text to check (compressed text is
 * checked by whoever inflates it). */
static bool checks_utf8(const tt_ws_parser_t *p)
{
    return p->_msg_opcode == TT_WS_TEXT && !p->_msg_rsv1;
}

/* ---- parser: frame heads ---- */

static const char *check_control(unsigned op, bool fin, bool rsv1, uint64_t len)
{
    if (op > TT_WS_PONG)
        return "unknown opcode";
    if (!fin)
        return "fragmented control frame";
    if (len > TT_WS_CONTROL_MAX)
        return "control frame too long";
    if (rsv1)
        return "reserved bit set";
    return NULL;
}

static const char *check_data(const tt_ws_parser_t *p, unsigned op, bool rsv1)
{
    if (op > TT_WS_BINARY)
        return "unknown opcode";
    if (op == TT_WS_CONT && !p->_msg_opcode)
        return "continuation without a message";
    if (op != TT_WS_CONT && p->_msg_opcode)
        return "new message inside a fragmented one";
    /* permessage-deflate marks the first frame of a message only (RFC 7692 6). */
    if (rsv1 && (!p->_allow_rsv1 || op == TT_WS_CONT))
        return "reserved bit set";
    return NULL;
}

static bool too_big(const tt_ws_parser_t *p, uint64_t len)
{
    size_t max = p->_max_message ? p->_max_message : SIZE_MAX;

    return len > (uint64_t)(max - msg_len(p));
}

/* Check a whole frame head and make it the current frame. */
static int start_frame(tt_ws_parser_t *p, const uint8_t *h, const char **why)
{
    unsigned op = h[0] & 0x0f;
    bool fin = h[0] & 0x80, rsv1 = h[0] & 0x40, masked = h[1] & 0x80;
    uint64_t len = payload_len(h);
    const char *bad;

    if (h[0] & 0x30)
        return fail(p, why, TT_WS_CLOSE_PROTOCOL, "reserved bit set");
    bad = is_control(op) ? check_control(op, fin, rsv1, len) : check_data(p, op, rsv1);
    if (bad)
        return fail(p, why, TT_WS_CLOSE_PROTOCOL, bad);
    if (masked != (bool)p->_require_mask)
        return fail(p, why, TT_WS_CLOSE_PROTOCOL, masked ? "masked frame" : "unmasked frame");
    if (len >> 63)
        return fail(p, why, TT_WS_CLOSE_PROTOCOL, "frame length out of range");
    if (!is_control(op) && too_big(p, len))
        return fail(p, why, TT_WS_CLOSE_TOO_BIG, "message too big");

    p->_opcode = (uint8_t)op;
    p->_fin = fin;
    p->_masked = masked;
    p->_remain = len;
    p->_mask_pos = 0;
    p->_partial = 0;
    if (masked)
        memcpy(p->_mask, h + head_size(h) - 4, 4);
    if (op == TT_WS_TEXT || op == TT_WS_BINARY) {
        p->_msg_opcode = (uint8_t)op;
        p->_msg_rsv1 = rsv1;
        tt_utf8_init(&p->_utf8);
    }
    return 0;
}

/* Copy head bytes into _hdr; true once the head there is whole. */
static bool gather_head(tt_ws_parser_t *p, const char **pos, const char *end)
{
    for (;;) {
        size_t need = p->_hdr_len < 2 ? 2 : head_size(p->_hdr);
        if (p->_hdr_len == need)
            return true;
        if (*pos == end)
            return false;
        p->_hdr[p->_hdr_len++] = (uint8_t)(*pos)[0];
        (*pos)++;
    }
}

/* ---- parser: delivery ---- */

static int message(tt_ws_parser_t *p, const char *data, size_t n)
{
    int op = p->_msg_opcode;
    bool rsv1 = p->_msg_rsv1;

    p->_msg_opcode = 0;
    p->_msg_rsv1 = 0;
    if (!p->_cbs->on_message)
        return 0;
    return called(p, p->_cbs->on_message(p->_owner, op, data, n, rsv1));
}

static int close_frame(tt_ws_parser_t *p, const char *data, size_t n, const char **why)
{
    int code = TT_WS_CLOSE_NO_STATUS, rc = 0;

    if (n == 1)
        return fail(p, why, TT_WS_CLOSE_PROTOCOL, "close frame of 1 byte");
    if (n >= 2) {
        code = (unsigned char)data[0] << 8 | (unsigned char)data[1];
        if (!tt_ws_close_code_valid(code))
            return fail(p, why, TT_WS_CLOSE_PROTOCOL, "invalid close code");
        if (!tt_utf8_valid(data + 2, n - 2))
            return fail(p, why, TT_WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
        data += 2;
        n -= 2;
    } else {
        data = "";
    }
    p->_state = TT__WS_DONE;
    if (p->_cbs->on_close)
        rc = p->_cbs->on_close(p->_owner, code, data, n);
    stop(p);
    return rc;
}

static int control(tt_ws_parser_t *p, const char *data, size_t n, const char **why)
{
    const tt_ws_parser_cbs_t *cbs = p->_cbs;

    switch (p->_opcode) {
    case TT_WS_PING:
        return cbs->on_ping ? called(p, cbs->on_ping(p->_owner, data, n)) : 0;
    case TT_WS_PONG:
        return cbs->on_pong ? called(p, cbs->on_pong(p->_owner, data, n)) : 0;
    default:
        return close_frame(p, data, n, why);
    }
}

/* A frame that is a message by itself, its payload unmasked in data. */
static int deliver(tt_ws_parser_t *p, const char *data, size_t n, const char **why)
{
    p->_state = TT__WS_HEAD;
    if (is_control(p->_opcode))
        return control(p, data, n, why);
    if (checks_utf8(p) && !tt_utf8_valid(data, n))
        return fail(p, why, TT_WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
    return message(p, data, n);
}

/* Such a frame, whole in the input: no copy unless it must be unmasked. */
static int deliver_direct(tt_ws_parser_t *p, const char *at, size_t n, const char **why)
{
    char stack[SCRATCH];
    char *copy = NULL;
    int rc;

    if (p->_masked) {
        copy = n <= sizeof stack ? stack : tt_xmalloc(n);
        unmask(copy, at, n, p->_mask, 0);
        at = copy;
    }
    rc = deliver(p, at, n, why);
    if (copy != stack)
        free(copy);
    return rc;
}

/* The buffered control frame has ended: deliver it from asm, then drop it. */
static int end_control(tt_ws_parser_t *p, const char **why)
{
    tt__ws_asm_t *a = p->_asm;
    size_t off = a ? a->msg_len : 0;
    const char *data = a ? a->data + off : "";
    size_t n = a ? a->len - off : 0;
    int rc;

    /* The bytes stay in place during the call; only len forgets them. */
    if (a)
        a->len = off;
    rc = control(p, data, n, why);
    if (rc == 0 && p->_asm && p->_asm->msg_len == 0) {
        free(p->_asm);
        p->_asm = NULL;
    }
    return rc;
}

/* The buffered frame has ended. */
static int end_frame(tt_ws_parser_t *p, const char **why)
{
    tt__ws_asm_t *a = p->_asm;
    int rc;

    p->_state = TT__WS_HEAD;
    if (is_control(p->_opcode))
        return end_control(p, why);
    if (!p->_fin)
        return 0;
    if (checks_utf8(p) && !tt_utf8_complete(&p->_utf8))
        return fail(p, why, TT_WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
    p->_asm = NULL;
    rc = message(p, a ? a->data : "", a ? a->msg_len : 0);
    free(a);
    return rc;
}

/* ---- parser: buffering ---- */

/* Room for n more bytes in asm. It grows by doubling, so that a message in
 * many small fragments costs few copies, and only as bytes arrive, so that a
 * peer announcing a big frame and sending it slowly holds about what it
 * sent. It stops at the end of the current frame unless more fragments of
 * the message will follow, and at max_message plus a control payload. */
static tt__ws_asm_t *asm_reserve(tt_ws_parser_t *p, size_t n)
{
    tt__ws_asm_t *a = p->_asm;
    size_t len = a ? a->len : 0, cap = a ? a->cap : 0;
    size_t want = cap < ASM_MIN / 2 ? ASM_MIN : cap * 2;
    uint64_t frame_end = (uint64_t)len + n + p->_remain;
    bool more = !is_control(p->_opcode) && !p->_fin;

    if (len + n <= cap)
        return a;
    if (!more && want > frame_end)
        want = (size_t)frame_end;
    if (p->_max_message && p->_max_message < SIZE_MAX - TT_WS_CONTROL_MAX &&
        want > p->_max_message + TT_WS_CONTROL_MAX)
        want = p->_max_message + TT_WS_CONTROL_MAX;
    if (want < len + n)
        want = len + n;
    a = tt_xrealloc(a, sizeof *a + want);
    if (!p->_asm)
        a->len = a->msg_len = 0;
    a->cap = want;
    p->_asm = a;
    return a;
}

/* Unmask n payload bytes of the current frame into asm. */
static int buffer_payload(tt_ws_parser_t *p, const char *at, size_t n, const char **why)
{
    tt__ws_asm_t *a;
    char *dst;

    if (n == 0)
        return 0;
    a = asm_reserve(p, n);
    dst = a->data + a->len;
    if (p->_masked) {
        unmask(dst, at, n, p->_mask, p->_mask_pos);
        p->_mask_pos = (uint8_t)((p->_mask_pos + n) & 3);
    } else {
        memcpy(dst, at, n);
    }
    a->len += n;
    if (is_control(p->_opcode))
        return 0;
    a->msg_len += n;
    if (checks_utf8(p) && !tt_utf8_feed(&p->_utf8, dst, n))
        return fail(p, why, TT_WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
    return 0;
}

/* ---- parser: states ---- */

static int read_body(tt_ws_parser_t *p, const char **pos, const char *end, const char **why)
{
    size_t avail = (size_t)(end - *pos);
    size_t n = p->_remain < avail ? (size_t)p->_remain : avail;
    const char *at = *pos;
    bool alone = is_control(p->_opcode) || (p->_fin && p->_opcode != TT_WS_CONT);
    int rc;

    *pos += n;
    p->_remain -= n;
    if (alone && !p->_partial && p->_remain == 0)
        return deliver_direct(p, at, n, why);
    rc = buffer_payload(p, at, n, why);
    if (rc)
        return rc;
    p->_partial = 1;
    return p->_remain ? 0 : end_frame(p, why);
}

static int read_head(tt_ws_parser_t *p, const char **pos, const char *end, const char **why)
{
    const uint8_t *h = (const uint8_t *)*pos;
    size_t avail = (size_t)(end - *pos);
    int rc;

    if (p->_hdr_len == 0 && avail >= 2 && avail >= head_size(h))
        *pos += head_size(h);
    else if (gather_head(p, pos, end))
        h = p->_hdr;
    else
        return 0;
    p->_hdr_len = 0;
    rc = start_frame(p, h, why);
    if (rc)
        return rc;
    p->_state = TT__WS_BODY;
    /* An empty payload ends the frame now, even with no input left. */
    return p->_remain ? 0 : read_body(p, pos, end, why);
}

/* ---- parser: API ---- */

void tt_ws_parser_init(tt_ws_parser_t *p, bool require_mask, size_t max_message, bool allow_rsv1,
                       const tt_ws_parser_cbs_t *cbs, void *owner)
{
    memset(p, 0, sizeof *p);
    p->_cbs = cbs;
    p->_owner = owner;
    p->_max_message = max_message;
    p->_require_mask = require_mask;
    p->_allow_rsv1 = allow_rsv1;
    p->_state = TT__WS_HEAD;
}

int tt_ws_parser_feed(tt_ws_parser_t *p, const char *data, size_t len, const char **why)
{
    const char *ignored, *end;
    int rc = 0;

    if (!why)
        why = &ignored;
    *why = NULL;
    if (len == 0)
        return 0;
    end = data + len;
    while (rc == 0 && data < end) {
        switch (p->_state) {
        case TT__WS_HEAD:
            rc = read_head(p, &data, end, why);
            break;
        case TT__WS_BODY:
            rc = read_body(p, &data, end, why);
            break;
        default:
            return 0;
        }
    }
    return rc;
}

void tt_ws_parser_free(tt_ws_parser_t *p)
{
    free(p->_asm);
    p->_asm = NULL;
}

/* ---- writers ---- */

size_t tt_ws_frame_head(unsigned char *h, int opcode, bool fin, bool rsv1, uint64_t len,
                        const unsigned char *mask_key)
{
    unsigned char m = mask_key ? 0x80 : 0;
    size_t n = 2;

    h[0] = (unsigned char)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
    if (len < 126) {
        h[1] = (unsigned char)(m | len);
    } else if (len <= 0xffff) {
        h[1] = m | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        n = 4;
    } else {
        h[1] = m | 127;
        for (unsigned i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask_key) {
        memcpy(h + n, mask_key, 4);
        n += 4;
    }
    return n;
}

void tt_ws_frame(tt_buf_t *out, int opcode, bool fin, bool rsv1, const char *data, size_t len,
                 const unsigned char *mask_key)
{
    unsigned char h[TT_WS_HEAD_MAX];
    size_t hn = tt_ws_frame_head(h, opcode, fin, rsv1, len, mask_key);
    char *dst;

    tt_buf_reserve(out, hn + len);
    dst = out->data + out->len;
    memcpy(dst, h, hn);
    if (mask_key)
        unmask(dst + hn, data, len, mask_key, 0);
    else if (len)
        memcpy(dst + hn, data, len);
    out->len += hn + len;
    out->data[out->len] = '\0';
}

tt_rbuf_t *tt_ws_frame_shared(int opcode, const char *data, size_t len)
{
    unsigned char h[TT_WS_HEAD_MAX];
    size_t hn = tt_ws_frame_head(h, opcode, true, false, len, NULL);
    tt_rbuf_t *b = tt_rbuf_new(hn + len);

    memcpy(b->data, h, hn);
    if (len)
        memcpy(b->data + hn, data, len);
    return b;
}

void tt_ws_close_frame(tt_buf_t *out, int code, const char *reason, size_t len,
                       const unsigned char *mask_key)
{
    char payload[2 + TT_WS_REASON_MAX];
    size_t n = 0;

    if (code != 0 && code != TT_WS_CLOSE_NO_STATUS) {
        len = utf8_cut(reason, len, TT_WS_REASON_MAX);
        payload[0] = (char)(code >> 8 & 0xff);
        payload[1] = (char)(code & 0xff);
        if (len)
            memcpy(payload + 2, reason, len);
        n = 2 + len;
    }
    tt_ws_frame(out, TT_WS_CLOSE, true, false, payload, n, mask_key);
}

/* ---- handshake ---- */

/* Whether any header `name` of m lists `token` (case-insensitive). */
static bool hdr_lists(const tt_msg_t *m, const char *name, const char *token)
{
    for (int i = tt_msg_find(m, name, 0); i >= 0; i = tt_msg_find(m, name, (uint32_t)i + 1))
        if (tt_str_list_has(tt_msg_value(m, (uint32_t)i), m->hdrs[i].value_len, token))
            return true;
    return false;
}

/* The first header `name` with spaces and tabs trimmed, or NULL. */
static const char *hdr_trimmed(const tt_msg_t *m, const char *name, size_t *len)
{
    uint32_t n;
    const char *v = tt_msg_get(m, name, &n);

    if (!v)
        return NULL;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *len = n;
    return v;
}

/* Whether the request has exactly one Sec-WebSocket-Key, the base64 of 16
 * bytes (RFC 6455 4.1, item 7). */
static bool key_ok(const tt_msg_t *req)
{
    unsigned char raw[KEY_RAW_LEN];
    size_t n, olen;
    const char *v = hdr_trimmed(req, "sec-websocket-key", &n);
    int first = tt_msg_find(req, "sec-websocket-key", 0);

    if (!v || tt_msg_find(req, "sec-websocket-key", (uint32_t)first + 1) >= 0)
        return false;
    return n == KEY_B64_LEN &&
           mbedtls_base64_decode(raw, sizeof raw, &olen, (const unsigned char *)v, n) == 0 &&
           olen == KEY_RAW_LEN;
}

bool tt_ws_is_upgrade(const tt_msg_t *req)
{
    return hdr_lists(req, "upgrade", "websocket");
}

/* What is wrong with an upgrade request, or NULL; *status says how to answer. */
static const char *upgrade_problem(const tt_msg_t *req, int *status)
{
    size_t n;
    const char *v;

    *status = 400;
    if (req->method != HTTP_GET)
        return "WebSocket handshake must be GET";
    if (req->major < 1 || (req->major == 1 && req->minor < 1))
        return "WebSocket handshake needs HTTP/1.1";
    if (!tt_ws_is_upgrade(req))
        return "Upgrade: websocket missing";
    if (!hdr_lists(req, "connection", "upgrade"))
        return "Connection: Upgrade missing";
    v = hdr_trimmed(req, "sec-websocket-version", &n);
    if (!v || n != 2 || memcmp(v, "13", 2) != 0) {
        *status = 426;
        return "unsupported Sec-WebSocket-Version";
    }
    if (!key_ok(req))
        return "bad Sec-WebSocket-Key";
    return NULL;
}

int tt_ws_check_upgrade(const tt_msg_t *req, const char **why)
{
    int status;
    const char *bad = upgrade_problem(req, &status);

    if (why)
        *why = bad;
    return bad ? status : 0;
}

int tt_ws_accept_key(const char *key, size_t len, char out[TT_WS_ACCEPT_SIZE])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
    unsigned char stack[KEY_B64_LEN + GUID_LEN], sha[SHA1_LEN];
    unsigned char *in = stack;
    size_t olen;
    int rc;

    out[0] = '\0';
    if (!md)
        return TT_ETLS;
    if (len > KEY_B64_LEN)
        in = tt_xmalloc(len + GUID_LEN);
    if (len)
        memcpy(in, key, len);
    memcpy(in + len, WS_GUID, GUID_LEN);
    rc = mbedtls_md(md, in, len + GUID_LEN, sha);
    if (in != stack)
        free(in);
    if (rc || mbedtls_base64_encode((unsigned char *)out, TT_WS_ACCEPT_SIZE, &olen, sha,
                                    sizeof sha) != 0) {
        out[0] = '\0';
        return TT_ETLS;
    }
    return 0;
}

int tt_ws_client_key(char out[TT_WS_KEY_SIZE], tt_ws_rand_fn rnd, void *ctx)
{
    unsigned char raw[KEY_RAW_LEN];
    size_t olen;
    int rc;

    out[0] = '\0';
    rc = rnd ? rnd(ctx, raw, sizeof raw) : uv_random(NULL, NULL, raw, sizeof raw, 0, NULL);
    if (rc)
        return rc;
    /* Cannot fail: the output has room for 24 characters and the NUL. */
    if (mbedtls_base64_encode((unsigned char *)out, TT_WS_KEY_SIZE, &olen, raw, sizeof raw) != 0)
        return TT_ETLS;
    return 0;
}

static const char *response_problem(const tt_msg_t *resp, const char *key)
{
    char want[TT_WS_ACCEPT_SIZE];
    size_t n;
    const char *v;

    if (resp->status != 101)
        return "WebSocket handshake not answered with 101";
    if (!hdr_lists(resp, "upgrade", "websocket"))
        return "Upgrade: websocket missing";
    if (!hdr_lists(resp, "connection", "upgrade"))
        return "Connection: Upgrade missing";
    v = hdr_trimmed(resp, "sec-websocket-accept", &n);
    if (!v || tt_ws_accept_key(key, strlen(key), want) != 0 || n != ACCEPT_B64_LEN ||
        memcmp(v, want, n) != 0)
        return "bad Sec-WebSocket-Accept";
    return NULL;
}

int tt_ws_check_response(const tt_msg_t *resp, const char *key, const char **why)
{
    const char *bad = response_problem(resp, key);

    if (why)
        *why = bad;
    return bad ? TT_EPARSE : 0;
}
