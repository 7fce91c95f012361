/* Raw-frame WebSocket client for tests, over tt_tc_t (see wsclient.h).
 *
 *   tt_wsc_open: connect -> send handshake -> read response --101 ok--> open
 *                                                           \--else--> NULL
 *   open: frames are parsed straight out of tt_tc's buffer; a frame is
 *   consumed only once it is complete and valid, so a failed read leaves the
 *   stream where it stopped.
 *
 * The handshake key and the masks come from uv_random, with a xorshift
 * fallback seeded from the clock: tests need unpredictability only in the
 * sense that a server must not depend on a fixed mask. */
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "error.h"
#include "mem.h"
#include "wsclient.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_LEN 24    /* base64 of 16 bytes */
#define ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */
#define MAX_HEAD 14   /* 2 + 8 length bytes + 4 mask bytes */

struct tt_wsc_s {
    tt_tc_t *tc;
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static int ms_left(uint64_t deadline)
{
    uint64_t now = now_ms();
    return deadline > now ? (int)(deadline - now) : 0;
}

/* ---- randomness, SHA-1, base64 ---- */

static void random_bytes(void *out, size_t n)
{
    static uint64_t x;
    if (uv_random(NULL, NULL, out, n, 0, NULL) == 0)
        return;
    if (x == 0)
        x = uv_hrtime() | 1;
    unsigned char *p = out;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* base64(SHA-1(key + GUID)) into out (ACCEPT_LEN + 1 bytes). */
static int accept_for(const char *key, char *out)
{
    unsigned char digest[20];
    size_t olen = 0;
    char *in = tt_xmalloc(strlen(key) + sizeof WS_GUID);
    strcpy(in, key);
    strcat(in, WS_GUID);
    int rc = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), (const unsigned char *)in,
                        strlen(in), digest);
    free(in);
    if (rc == 0)
        rc = mbedtls_base64_encode((unsigned char *)out, ACCEPT_LEN + 1, &olen, digest, 20);
    return rc == 0 ? 0 : TT_EPARSE;
}

/* ---- handshake ---- */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Find the line "name:" in extra (header lines). Returns the value start
 * (blanks skipped) and its length in *vlen, or NULL. */
static const char *extra_find(const char *extra, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    for (const char *p = extra; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > n && p[n] == ':' && ieq_n(p, name, n)) {
            const char *v = p + n + 1, *ve = p + llen;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

static const char *const default_names[] = {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
                                            "Sec-WebSocket-Version"};

/* Whether the extra line [p, p+llen) only removes a default header. */
static int is_removal(const char *p, size_t llen)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(default_names); i++) {
        size_t n = strlen(default_names[i]);
        if (llen >= n + 1 && p[n] == ':' && ieq_n(p, default_names[i], n)) {
            for (size_t j = n + 1; j < llen; j++)
                if (p[j] != ' ' && p[j] != '\t')
                    return 0;
            return 1;
        }
    }
    return 0;
}

/* The request head; *key gets the key the accept value must match. */
static char *handshake_request(int port, const char *path, const char *extra, char *key)
{
    char rnd[16], host[64];
    size_t olen = 0, vlen;
    random_bytes(rnd, sizeof rnd);
    mbedtls_base64_encode((unsigned char *)key, KEY_LEN + 1, &olen, (unsigned char *)rnd, 16);
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    const char *values[] = {host, "websocket", "Upgrade", key, "13"};
    size_t cap = strlen(path) + (extra ? strlen(extra) : 0) + 512, len = 0;
    char *req = tt_xmalloc(cap);
    len += (size_t)snprintf(req, cap, "GET %s HTTP/1.1\r\n", path);
    for (size_t i = 0; i < TT_ARRAY_SIZE(default_names); i++)
        if (!extra || !extra_find(extra, default_names[i], &vlen))
            len +=
                (size_t)snprintf(req + len, cap - len, "%s: %s\r\n", default_names[i], values[i]);
    for (const char *p = extra; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (!is_removal(p, llen)) {
            memcpy(req + len, p, llen);
            memcpy(req + len + llen, "\r\n", 2);
            len += llen + 2;
        }
        p = eol ? eol + 2 : NULL;
    }
    memcpy(req + len, "\r\n", 3);
    const char *k = extra ? extra_find(extra, "Sec-WebSocket-Key", &vlen) : NULL;
    if (k) {
        vlen = vlen > 128 ? 128 : vlen;
        memcpy(key, k, vlen);
        key[vlen] = '\0';
    }
    return req;
}

/* Whether the comma-separated header value has the token `tok`. */
static int has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *te = e;
        while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - v) == n && ieq_n(v, tok, n))
            return 1;
        v = e;
    }
    return 0;
}

/* Check a 101 answer. Returns NULL when it is valid, else why not. */
static const char *check_101(const tt_resp_t *r, const char *key)
{
    char v[256], want[ACCEPT_LEN + 1];
    if (r->status != 101)
        return "status is not 101";
    if (!tt_resp_header(r, "Upgrade", v, sizeof v) || !has_token(v, "websocket"))
        return "no Upgrade: websocket";
    if (!tt_resp_header(r, "Connection", v, sizeof v) || !has_token(v, "upgrade"))
        return "no Connection: upgrade";
    if (tt_resp_header_count(r, "Sec-WebSocket-Accept") != 1)
        return "not exactly one Sec-WebSocket-Accept";
    if (accept_for(key, want) < 0)
        return "cannot compute the accept value";
    if (strcmp(tt_resp_header(r, "Sec-WebSocket-Accept", v, sizeof v), want) != 0)
        return "wrong Sec-WebSocket-Accept";
    return NULL;
}

tt_wsc_t *tt_wsc_open(int port, const char *path, const char *extra_headers, tt_resp_t *resp,
                      int timeout_ms)
{
    tt_resp_t r;
    char key[130];
    memset(&r, 0, sizeof r);
    if (resp)
        memset(resp, 0, sizeof *resp);
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    tt_tc_t *tc = tt_tc_connect(port, timeout_ms);
    if (!tc)
        return NULL;
    char *req = handshake_request(port, path, extra_headers, key);
    int rc = tt_tc_sends(tc, req);
    free(req);
    if (rc == 0)
        rc = tt_tc_read_response(tc, &r, ms_left(deadline), 0);
    const char *why = rc < 0 ? tt_strerror(rc) : check_101(&r, key);
    if (resp)
        *resp = r;
    else
        tt_resp_free(&r);
    if (why) {
        fprintf(stderr, "tt_wsc_open %s: %s\n", path, why);
        tt_tc_close(tc);
        return NULL;
    }
    tt_wsc_t *w = tt_xcalloc(1, sizeof *w);
    w->tc = tc;
    return w;
}

/* ---- sending ---- */

char *tt_wsc_encode(int opcode, int fin, int rsv, int masked, const void *data, size_t len,
                    size_t *out_len)
{
    unsigned char *out = tt_xmalloc(MAX_HEAD + len + 1);
    size_t n = 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F));
    unsigned char mbit = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (unsigned char)(mbit | len);
    } else if (len <= 0xFFFF) {
        out[n++] = mbit | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = mbit | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char mask[4] = {0, 0, 0, 0};
    if (masked) {
        random_bytes(mask, 4);
        memcpy(out + n, mask, 4);
        n += 4;
    }
    const unsigned char *src = data;
    for (size_t i = 0; i < len; i++)
        out[n + i] = src[i] ^ mask[i & 3];
    *out_len = n + len;
    return (char *)out;
}

int tt_wsc_send_frame(tt_wsc_t *w, int opcode, int fin, int rsv, int masked, const void *data,
                      size_t len)
{
    size_t n;
    char *bytes = tt_wsc_encode(opcode, fin, rsv, masked, data, len, &n);
    int rc = tt_tc_send(w->tc, bytes, n);
    free(bytes);
    return rc;
}

int tt_wsc_send_text(tt_wsc_t *w, const char *s)
{
    return tt_wsc_send_frame(w, TT_WS_TEXT, 1, 0, 1, s, strlen(s));
}

int tt_wsc_send_binary(tt_wsc_t *w, const void *d, size_t len)
{
    return tt_wsc_send_frame(w, TT_WS_BINARY, 1, 0, 1, d, len);
}

int tt_wsc_send_ping(tt_wsc_t *w, const char *s)
{
    return tt_wsc_send_frame(w, TT_WS_PING, 1, 0, 1, s, s ? strlen(s) : 0);
}

int tt_wsc_send_close(tt_wsc_t *w, int code, const char *reason)
{
    if (code < 0)
        return tt_wsc_send_frame(w, TT_WS_CLOSE, 1, 0, 1, NULL, 0);
    size_t rlen = reason ? strlen(reason) : 0;
    char *p = tt_xmalloc(rlen + 2);
    p[0] = (char)(code >> 8 & 0xFF);
    p[1] = (char)(code & 0xFF);
    if (rlen)
        memcpy(p + 2, reason, rlen);
    int rc = tt_wsc_send_frame(w, TT_WS_CLOSE, 1, 0, 1, p, rlen + 2);
    free(p);
    return rc;
}

/* ---- reading ---- */

/* Wait until n bytes are buffered. */
static int need(tt_wsc_t *w, size_t n, uint64_t deadline)
{
    size_t have;
    tt_tc_data(w->tc, &have);
    if (have >= n)
        return 0;
    if (tt_tc_read_n(w->tc, n, ms_left(deadline)) >= n)
        return 0;
    /* read_n stops early only at EOF; tell that from the deadline passing. */
    return tt_tc_wait_eof(w->tc, 0) ? TT_ECLOSED : TT_ETIMEOUT;
}

static int bad(const char *why)
{
    fprintf(stderr, "tt_wsc_read_frame: %s\n", why);
    return TT_EPARSE;
}

/* Parse the header at p (hlen bytes known to be there after need()):
 * payload length and header size. */
static int parse_len(const unsigned char *p, size_t *hlen, uint64_t *plen)
{
    unsigned len7 = p[1] & 0x7F;
    uint64_t x = len7;
    *hlen = 2;
    if (len7 == 126) {
        x = (uint64_t)p[2] << 8 | p[3];
        *hlen = 4;
        if (x < 126)
            return bad("16-bit length not in shortest form");
    } else if (len7 == 127) {
        x = 0;
        for (int i = 0; i < 8; i++)
            x = x << 8 | p[2 + i];
        *hlen = 10;
        if (x >> 63)
            return bad("64-bit length with the top bit set");
        if (x <= 0xFFFF)
            return bad("64-bit length not in shortest form");
    }
    *plen = x;
    return 0;
}

/* Control frame rules (RFC 6455 5.5) and the close payload (5.5.1). */
static int finish_control(tt_wsc_frame_t *f)
{
    if (!f->fin)
        return bad("fragmented control frame");
    if (f->len > 125)
        return bad("control frame longer than 125 bytes");
    if (f->opcode != TT_WS_CLOSE)
        return 0;
    if (f->len == 1)
        return bad("close payload of one byte");
    f->close_code = 1005;
    if (f->len >= 2)
        f->close_code = (unsigned char)f->data[0] << 8 | (unsigned char)f->data[1];
    f->close_reason = tt_xstrndup(f->len >= 2 ? f->data + 2 : "", f->len >= 2 ? f->len - 2 : 0);
    return 0;
}

static int read_frame(tt_wsc_t *w, tt_wsc_frame_t *f, uint64_t deadline)
{
    size_t hlen = 2;
    uint64_t plen = 0;
    memset(f, 0, sizeof *f);
    int rc = need(w, 2, deadline);
    if (rc < 0)
        return rc;
    const unsigned char *p = (const unsigned char *)tt_tc_data(w->tc, NULL);
    if (p[1] & 0x80)
        return bad("masked frame from the server");
    unsigned len7 = p[1] & 0x7F;
    if ((rc = need(w, len7 == 126 ? 4 : len7 == 127 ? 10 : 2, deadline)) < 0)
        return rc;
    if ((rc = parse_len((const unsigned char *)tt_tc_data(w->tc, NULL), &hlen, &plen)) < 0)
        return rc;
    if (plen > TT_WSC_MAX_PAYLOAD)
        return TT_ELIMIT;
    if ((rc = need(w, hlen + (size_t)plen, deadline)) < 0)
        return rc;
    p = (const unsigned char *)tt_tc_data(w->tc, NULL);
    f->fin = p[0] >> 7;
    f->rsv = p[0] >> 4 & 7;
    f->opcode = p[0] & 0x0F;
    f->len = (size_t)plen;
    f->data = tt_xstrndup((const char *)p + hlen, f->len);
    tt_tc_consume(w->tc, hlen + f->len);
    if (f->opcode >= 8 && (rc = finish_control(f)) < 0)
        tt_wsc_frame_free(f);
    return rc;
}

int tt_wsc_read_frame(tt_wsc_t *w, tt_wsc_frame_t *f, int timeout_ms)
{
    return read_frame(w, f, now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0));
}

static int is_data(int opcode)
{
    return opcode == TT_WS_TEXT || opcode == TT_WS_BINARY;
}

/* Append the continuation fr to the message m (fr is consumed). */
static void join(tt_wsc_frame_t *m, tt_wsc_frame_t *fr)
{
    m->data = tt_xrealloc(m->data, m->len + fr->len + 1);
    memcpy(m->data + m->len, fr->data, fr->len);
    m->len += fr->len;
    m->data[m->len] = '\0';
    m->fin = fr->fin;
    tt_wsc_frame_free(fr);
}

int tt_wsc_read_message(tt_wsc_t *w, tt_wsc_frame_t *f, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    tt_wsc_frame_t m, fr;
    memset(&m, 0, sizeof m);
    memset(f, 0, sizeof *f);
    for (;;) {
        int rc = read_frame(w, &fr, deadline);
        if (rc == 0 && fr.opcode == TT_WS_CLOSE) {
            tt_wsc_frame_free(&m);
            *f = fr;
            return 0;
        }
        if (rc == 0 && (fr.opcode == TT_WS_PING || fr.opcode == TT_WS_PONG)) {
            tt_wsc_frame_free(&fr);
            continue;
        }
        if (rc == 0 && !(m.data ? fr.opcode == TT_WS_CONT : is_data(fr.opcode))) {
            tt_wsc_frame_free(&fr);
            rc = bad(m.data ? "expected a continuation frame" : "expected a data frame");
        }
        if (rc < 0) {
            tt_wsc_frame_free(&m);
            return rc;
        }
        if (m.data)
            join(&m, &fr);
        else
            m = fr;
        if (m.fin) {
            *f = m;
            return 0;
        }
    }
}

int tt_wsc_expect_close(tt_wsc_t *w, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        tt_wsc_frame_t fr;
        int rc = read_frame(w, &fr, deadline);
        if (rc == TT_ECLOSED)
            return -1;
        if (rc < 0)
            return rc;
        int is_close = fr.opcode == TT_WS_CLOSE, code = fr.close_code;
        tt_wsc_frame_free(&fr);
        if (is_close)
            return code;
    }
}

/* ---- misc ---- */

tt_tc_t *tt_wsc_tc(tt_wsc_t *w)
{
    return w->tc;
}

void tt_wsc_frame_free(tt_wsc_frame_t *f)
{
    free(f->data);
    free(f->close_reason);
    memset(f, 0, sizeof *f);
}

void tt_wsc_close(tt_wsc_t *w)
{
    if (!w)
        return;
    tt_tc_close(w->tc);
    free(w);
}
