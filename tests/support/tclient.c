/* Blocking-style TCP/HTTP client for tests, over a private libuv loop.
 *
 * Each call runs the client's own loop until its condition holds or its
 * deadline passes; between calls nothing runs, so a test that stops calling
 * stops reading and lets the kernel buffers fill (backpressure is visible to
 * the server). Incoming bytes go into one buffer [off, off + len) that is
 * read into directly and compacted only when its tail runs short, so long
 * streams cost O(1) per byte.
 *
 *   connect -> open --(EOF / reset)--> eof   (buffered bytes still readable)
 *                  \--(write timeout)--> dead (handle closed; calls fail)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "error.h"
#include "mem.h"
#include "platform.h"
#include "support.h"

#define READ_CHUNK (64 * 1024)
#define SEND_TIMEOUT_MS 30000
/* Buffered-but-unread limits: while sending, and while waiting for EOF. */
#define SEND_READ_LIMIT (16u * 1024 * 1024)
#define EOF_READ_LIMIT (256u * 1024 * 1024)
#define HEAD_LIMIT (1u * 1024 * 1024)
#define BODY_LIMIT (256u * 1024 * 1024)
#define LINE_LIMIT 4096
#define PATTERN_PIECE (64 * 1024)
/* Writes of the generated pattern kept in flight at once. */
#define PATTERN_INFLIGHT 4

struct tt_tc_s {
    uv_loop_t loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int timed_out;
    int connect_status; /* 1 while connecting, then 0 or a libuv error */
    int eof;            /* the peer closed (EOF) or reset (read_err) */
    int read_err;
    int reading;
    int dead; /* handle closed after a failed write; no more I/O */
    size_t read_limit;
    char *buf;
    size_t off, len, cap;
    int writes_pending;
    int write_err;
};

typedef struct {
    uv_write_t req;
    tt_tc_t *c;
} tc_write_t;

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static uint64_t deadline_after(int timeout_ms)
{
    return now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
}

/* ---- buffer ---- */

/* Make room for `extra` more bytes (plus the NUL) after the data. */
static void buf_reserve(tt_tc_t *c, size_t extra)
{
    if (c->cap - c->off - c->len >= extra + 1)
        return;
    if (c->off) {
        memmove(c->buf, c->buf + c->off, c->len);
        c->off = 0;
    }
    /* Keep a quarter free after compaction so moves stay amortised O(1). */
    if (c->cap - c->len < extra + 1 || c->cap - c->len < c->cap / 4) {
        size_t cap = c->cap ? c->cap : 4 * READ_CHUNK;
        while (cap - c->len < extra + 1 || cap - c->len < cap / 4)
            cap *= 2;
        c->buf = tt_xrealloc(c->buf, cap);
        c->cap = cap;
    }
}

const char *tt_tc_data(tt_tc_t *c, size_t *len)
{
    if (len)
        *len = c->len;
    if (!c->buf)
        return "";
    return c->buf + c->off;
}

void tt_tc_consume(tt_tc_t *c, size_t n)
{
    if (n >= c->len) {
        c->off = c->len = 0;
    } else {
        c->off += n;
        c->len -= n;
    }
    if (c->buf)
        c->buf[c->off + c->len] = '\0';
}

/* ---- loop plumbing ---- */

static void on_timer(uv_timer_t *t)
{
    tt_tc_t *c = t->data;
    c->timed_out = 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    tt_tc_t *c = h->data;
    (void)suggested;
    buf_reserve(c, READ_CHUNK);
    *b = uv_buf_init(c->buf + c->off + c->len, (unsigned)(c->cap - c->off - c->len - 1));
}

static void read_off(tt_tc_t *c)
{
    if (c->reading && !c->dead)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    tt_tc_t *c = s->data;
    (void)b;
    if (nread > 0) {
        c->len += (size_t)nread;
        c->buf[c->off + c->len] = '\0';
        if (c->len >= c->read_limit)
            read_off(c);
    } else if (nread < 0) {
        /* EOF and reset both mean the peer is gone; tests treat them alike. */
        c->eof = 1;
        if (nread != UV_EOF)
            c->read_err = (int)nread;
        read_off(c);
    }
}

/* Read into the buffer (until `limit` bytes are buffered) while waiting. */
static void read_on(tt_tc_t *c, size_t limit)
{
    c->read_limit = limit;
    if (c->reading || c->eof || c->dead || c->len >= limit)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

typedef int (*tc_cond_fn)(tt_tc_t *c, void *arg);

/* Run the loop until done(c, arg) or the deadline. Returns done's value. */
static int tc_run(tt_tc_t *c, uint64_t deadline, tc_cond_fn done, void *arg)
{
    c->timed_out = 0;
    if (done(c, arg))
        return 1;
    uint64_t now = now_ms();
    /* The loop runs only inside these calls, so its clock is stale by however
     * long the test did something else: refresh it, or the timer counts from
     * the past and a read could wait with no timer at all. */
    uv_update_time(&c->loop);
    uv_timer_start(&c->timer, on_timer, deadline > now ? deadline - now : 0, 0);
    while (!done(c, arg) && !c->timed_out)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->timer);
    return done(c, arg);
}

static int cond_got_more(tt_tc_t *c, void *arg)
{
    return c->len > *(size_t *)arg || c->eof || c->dead;
}

/* Wait for more bytes than are buffered now. Returns 0 when some arrived,
 * TT_ECLOSED on EOF/reset, TT_ETIMEOUT at the deadline. */
static int tc_fill(tt_tc_t *c, uint64_t deadline)
{
    size_t before = c->len;
    read_on(c, before + SEND_READ_LIMIT);
    tc_run(c, deadline, cond_got_more, &before);
    if (c->len > before)
        return 0;
    return c->eof || c->dead ? TT_ECLOSED : TT_ETIMEOUT;
}

/* ---- connect, close ---- */

static void on_connect(uv_connect_t *req, int status)
{
    tt_tc_t *c = req->data;
    c->connect_status = status;
}

static int cond_connected(tt_tc_t *c, void *arg)
{
    (void)arg;
    return c->connect_status != 1;
}

/* Close the handles and run the loop until every callback has run, which
 * also cancels pending writes (their callbacks run with UV_ECANCELED). */
static void tc_shut(tt_tc_t *c)
{
    if (!c->dead) {
        c->dead = 1;
        c->reading = 0;
        uv_close((uv_handle_t *)&c->tcp, NULL);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

tt_tc_t *tt_tc_connect(int port, int timeout_ms)
{
    tt_platform_init();
    tt_tc_t *c = tt_xcalloc(1, sizeof *c);
    if (uv_loop_init(&c->loop) != 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(&c->loop, &c->timer);
    uv_tcp_init(&c->loop, &c->tcp);
    c->timer.data = c;
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_connect_t req;
    req.data = c;
    c->connect_status = 1;
    int rc = uv_tcp_connect(&req, &c->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc == 0) {
        tc_run(c, deadline_after(timeout_ms), cond_connected, NULL);
        /* On timeout, closing the handle cancels the request (status 1 -> err). */
        rc = c->connect_status == 1 ? TT_ETIMEOUT : c->connect_status;
    }
    if (rc == 0)
        return c;
    fprintf(stderr, "tt_tc_connect %d: %s\n", port, tt_strerror(rc));
    tt_tc_close(c);
    return NULL;
}

void tt_tc_close(tt_tc_t *c)
{
    if (!c)
        return;
    tc_shut(c);
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&c->loop) != 0)
        fprintf(stderr, "tt_tc_close: loop still busy\n");
    free(c->buf);
    free(c);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
    tc_write_t *w = (tc_write_t *)req;
    tt_tc_t *c = w->c;
    c->writes_pending--;
    if (status < 0 && c->write_err == 0)
        c->write_err = status;
    free(w);
}

/* Queue one write of memory that stays valid until its callback. */
static int tc_write(tt_tc_t *c, const char *data, size_t len)
{
    tc_write_t *w = tt_xmalloc(sizeof *w);
    w->c = c;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(w);
        return rc;
    }
    c->writes_pending++;
    return 0;
}

static int cond_writes_below(tt_tc_t *c, void *arg)
{
    return c->writes_pending < *(int *)arg || c->write_err != 0;
}

/* Wait until fewer than `max` writes are pending. On timeout the connection
 * is closed, so no request is left pointing at the caller's memory. */
static int tc_wait_writes(tt_tc_t *c, int max, uint64_t deadline)
{
    read_on(c, c->len + SEND_READ_LIMIT);
    tc_run(c, deadline, cond_writes_below, &max);
    read_off(c);
    if (c->write_err)
        return c->write_err;
    if (c->writes_pending >= max) {
        tc_shut(c);
        return TT_ETIMEOUT;
    }
    return 0;
}

int tt_tc_send(tt_tc_t *c, const void *data, size_t len)
{
    if (c->dead)
        return TT_ECLOSED;
    const char *p = data;
    uint64_t deadline = deadline_after(SEND_TIMEOUT_MS);
    while (len > 0) {
        /* uv_buf_t lengths are 32-bit on Windows. */
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        int rc = tc_write(c, p, n);
        if (rc == 0)
            rc = tc_wait_writes(c, 1, deadline);
        if (rc < 0)
            return rc;
        p += n;
        len -= n;
    }
    return 0;
}

int tt_tc_sends(tt_tc_t *c, const char *s)
{
    return tt_tc_send(c, s, strlen(s));
}

/* 64 KiB of the pattern plus one period, so any offset has a full piece. */
static const char *pattern(void)
{
    static char pat[PATTERN_PIECE + 26];
    if (!pat[0])
        for (size_t i = 0; i < sizeof pat; i++)
            pat[i] = (char)('a' + i % 26);
    return pat;
}

int tt_tc_send_pattern(tt_tc_t *c, uint64_t total, int timeout_ms)
{
    if (c->dead)
        return TT_ECLOSED;
    const char *pat = pattern();
    uint64_t deadline = deadline_after(timeout_ms);
    uint64_t queued = 0;
    while (queued < total) {
        uint64_t left = total - queued;
        size_t n = left < PATTERN_PIECE ? (size_t)left : PATTERN_PIECE;
        int rc = tc_write(c, pat + queued % 26, n);
        if (rc == 0)
            rc = tc_wait_writes(c, PATTERN_INFLIGHT, deadline);
        if (rc < 0)
            return rc;
        queued += n;
    }
    return tc_wait_writes(c, 1, deadline);
}

/* ---- raw reading ---- */

static int cond_have_n(tt_tc_t *c, void *arg)
{
    return c->len >= *(size_t *)arg || c->eof || c->dead;
}

size_t tt_tc_read_n(tt_tc_t *c, size_t n, int timeout_ms)
{
    read_on(c, n > SEND_READ_LIMIT ? n : SEND_READ_LIMIT);
    tc_run(c, deadline_after(timeout_ms), cond_have_n, &n);
    read_off(c);
    return c->len;
}

static int cond_eof(tt_tc_t *c, void *arg)
{
    (void)arg;
    return c->eof || c->dead;
}

int tt_tc_wait_eof(tt_tc_t *c, int timeout_ms)
{
    read_on(c, EOF_READ_LIMIT);
    tc_run(c, deadline_after(timeout_ms), cond_eof, NULL);
    read_off(c);
    return c->eof;
}

/* ---- response parsing ---- */

/* Where the body goes: stored in r->body, or counted and summed. */
typedef struct {
    tt_tc_t *c;
    tt_resp_t *r;
    uint64_t deadline;
    int store;
    size_t cap;
    uint32_t sum;
} rd_t;

static int sink(rd_t *d, const char *p, size_t n)
{
    tt_resp_t *r = d->r;
    if (!d->store) {
        uint32_t s = d->sum;
        for (size_t i = 0; i < n; i++)
            s += (unsigned char)p[i];
        d->sum = s;
        r->body_len += n;
        return 0;
    }
    if (r->body_len + n > BODY_LIMIT)
        return TT_ELIMIT;
    if (r->body_len + n + 1 > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (r->body_len + n + 1 > cap)
            cap *= 2;
        r->body = tt_xrealloc(r->body, cap);
        d->cap = cap;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* Pass `n` body bytes from the stream to the sink. */
static int read_exact(rd_t *d, uint64_t n)
{
    tt_tc_t *c = d->c;
    while (n > 0) {
        if (c->len == 0) {
            int rc = tc_fill(c, d->deadline);
            if (rc < 0)
                return rc;
        }
        size_t take = c->len < n ? c->len : (size_t)n;
        int rc = sink(d, c->buf + c->off, take);
        if (rc < 0)
            return rc;
        tt_tc_consume(c, take);
        n -= take;
    }
    return 0;
}

/* Wait for a CRLF-terminated line within `limit` bytes; *end gets the
 * offset of its CR from the start of the buffered data. */
static int wait_line(rd_t *d, const char *delim, size_t limit, size_t *end)
{
    tt_tc_t *c = d->c;
    size_t dlen = strlen(delim), scanned = 0;
    for (;;) {
        const char *data = c->buf ? c->buf + c->off : "";
        size_t from = scanned > dlen ? scanned - dlen : 0;
        for (size_t i = from; i + dlen <= c->len; i++) {
            if (memcmp(data + i, delim, dlen) == 0) {
                *end = i;
                return 0;
            }
        }
        scanned = c->len;
        if (c->len > limit)
            return TT_EPARSE;
        int rc = tc_fill(c, d->deadline);
        if (rc < 0)
            return rc;
    }
}

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* Case-insensitive compare of n bytes. */
static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Callback per header line of a head: name and value (blanks trimmed). */
typedef int (*hdr_fn)(const char *name, size_t nlen, const char *val, size_t vlen, void *arg);

/* Walk the header lines of a raw head. Returns TT_EPARSE on a malformed
 * line, or the first non-zero value returned by fn. */
static int each_header(const char *head, hdr_fn fn, void *arg)
{
    const char *p = strstr(head, "\r\n");
    if (!p)
        return TT_EPARSE;
    p += 2;
    while (strncmp(p, "\r\n", 2) != 0) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', eol ? (size_t)(eol - p) : 0);
        if (!eol || !colon || colon == p || *p == ' ' || *p == '\t')
            return TT_EPARSE;
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        int rc = fn(p, (size_t)(colon - p), v, (size_t)(ve - v), arg);
        if (rc != 0)
            return rc;
        p = eol + 2;
    }
    return 0;
}

typedef struct {
    int chunked;
    int has_te;
    int has_cl;
    uint64_t cl;
} framing_t;

static int parse_cl(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 18)
        return TT_EPARSE;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return TT_EPARSE;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 0;
}

static int on_framing_header(const char *name, size_t nlen, const char *v, size_t vlen, void *arg)
{
    framing_t *f = arg;
    if (nlen == 17 && ieq(name, "transfer-encoding", 17)) {
        f->has_te = 1;
        /* chunked must be the last coding applied. */
        f->chunked = vlen >= 7 && ieq(v + vlen - 7, "chunked", 7);
    } else if (nlen == 14 && ieq(name, "content-length", 14)) {
        uint64_t x;
        if (parse_cl(v, vlen, &x) < 0 || (f->has_cl && x != f->cl))
            return TT_EPARSE;
        f->has_cl = 1;
        f->cl = x;
    }
    return 0;
}

/* "HTTP/1.x NNN ..." -> status, or TT_EPARSE. */
static int parse_status_line(const char *head)
{
    if (strncmp(head, "HTTP/1.", 7) != 0 || (head[7] != '0' && head[7] != '1') || head[8] != ' ')
        return TT_EPARSE;
    const char *s = head + 9;
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return TT_EPARSE;
    if (s[3] != ' ' && s[3] != '\r')
        return TT_EPARSE;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

static int parse_hex(const char *p, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i < n; i++) {
        int ch = lower((unsigned char)p[i]), v;
        if (ch >= '0' && ch <= '9')
            v = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            v = ch - 'a' + 10;
        else
            break;
        if (i >= 15)
            return TT_EPARSE;
        x = x * 16 + (uint64_t)v;
    }
    /* Digits, then nothing or a chunk extension. */
    if (i == 0 || (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
        return TT_EPARSE;
    *out = x;
    return 0;
}

static int read_chunked(rd_t *d)
{
    tt_tc_t *c = d->c;
    for (;;) {
        size_t end;
        uint64_t size;
        int rc = wait_line(d, "\r\n", LINE_LIMIT, &end);
        if (rc < 0)
            return rc;
        if (parse_hex(c->buf + c->off, end, &size) < 0)
            return TT_EPARSE;
        tt_tc_consume(c, end + 2);
        if (size == 0)
            break;
        if ((rc = read_exact(d, size)) < 0)
            return rc;
        if ((rc = wait_line(d, "\r\n", 2, &end)) < 0)
            return rc;
        if (end != 0)
            return TT_EPARSE;
        tt_tc_consume(c, 2);
    }
    /* Trailer fields, then the empty line. */
    for (;;) {
        size_t end;
        int rc = wait_line(d, "\r\n", LINE_LIMIT, &end);
        if (rc < 0)
            return rc;
        tt_tc_consume(c, end + 2);
        if (end == 0)
            return 0;
    }
}

static int read_until_close(rd_t *d)
{
    tt_tc_t *c = d->c;
    for (;;) {
        if (c->len > 0) {
            int rc = sink(d, c->buf + c->off, c->len);
            if (rc < 0)
                return rc;
            tt_tc_consume(c, c->len);
        }
        int rc = tc_fill(c, d->deadline);
        if (rc == TT_ECLOSED)
            break;
        if (rc < 0)
            return rc;
    }
    d->r->closed = 1;
    return 0;
}

static int read_head(rd_t *d)
{
    tt_tc_t *c = d->c;
    size_t end;
    int rc = wait_line(d, "\r\n\r\n", HEAD_LIMIT, &end);
    if (rc < 0)
        return rc;
    d->r->head = tt_xstrndup(c->buf + c->off, end + 4);
    tt_tc_consume(c, end + 4);
    return 0;
}

static int read_body(rd_t *d, int head_request)
{
    tt_resp_t *r = d->r;
    framing_t f;
    memset(&f, 0, sizeof f);
    int rc = each_header(r->head, on_framing_header, &f);
    if (rc < 0)
        return rc;
    if (f.has_te && f.has_cl)
        return TT_EPARSE; /* a conforming sender never sends both */
    if (f.has_te && !f.chunked)
        return TT_EPARSE;
    r->chunked = f.chunked;
    if (head_request || r->status / 100 == 1 || r->status == 204 || r->status == 304)
        return 0;
    if (f.chunked)
        return read_chunked(d);
    if (f.has_cl)
        return read_exact(d, f.cl);
    return read_until_close(d);
}

static int read_response(tt_tc_t *c, tt_resp_t *r, int timeout_ms, int head_request, int store,
                         uint32_t *sum)
{
    memset(r, 0, sizeof *r);
    if (c->dead)
        return TT_ECLOSED;
    rd_t d = {c, r, deadline_after(timeout_ms), store, 0, 0};
    int rc = read_head(&d);
    if (rc == 0)
        rc = r->status = parse_status_line(r->head);
    if (rc >= 0)
        rc = read_body(&d, head_request);
    if (rc == 0 && store && !r->body)
        r->body = tt_xstrdup("");
    if (rc == 0 && !r->closed) {
        /* Pick up a FIN that is already there, without waiting for one. */
        if (c->len == 0 && !c->eof) {
            read_on(c, SEND_READ_LIMIT);
            uv_run(&c->loop, UV_RUN_NOWAIT);
        }
        r->closed = c->eof && c->len == 0;
    }
    read_off(c);
    if (sum)
        *sum = d.sum;
    if (rc < 0) {
        int status = r->status > 0 ? r->status : 0;
        tt_resp_free(r);
        r->status = status;
        return rc;
    }
    return 0;
}

int tt_tc_read_response(tt_tc_t *c, tt_resp_t *r, int timeout_ms, int head_request)
{
    return read_response(c, r, timeout_ms, head_request, 1, NULL);
}

int tt_tc_read_response_count(tt_tc_t *c, tt_resp_t *r, uint32_t *sum, int timeout_ms)
{
    return read_response(c, r, timeout_ms, 0, 0, sum);
}

typedef struct {
    const char *name;
    size_t nlen;
    char *buf;
    size_t buflen;
    int count;
} hdr_find_t;

static int on_find_header(const char *name, size_t nlen, const char *v, size_t vlen, void *arg)
{
    hdr_find_t *f = arg;
    if (nlen != f->nlen || !ieq(name, f->name, nlen))
        return 0;
    f->count++;
    if (!f->buf)
        return 0;
    if (f->buflen > 0) {
        size_t n = vlen < f->buflen - 1 ? vlen : f->buflen - 1;
        memcpy(f->buf, v, n);
        f->buf[n] = '\0';
    }
    return 1; /* stop at the first */
}

const char *tt_resp_header(const tt_resp_t *r, const char *name, char *buf, size_t buflen)
{
    if (!r->head || !buf)
        return NULL;
    hdr_find_t f = {name, strlen(name), buf, buflen, 0};
    each_header(r->head, on_find_header, &f);
    return f.count ? buf : NULL;
}

int tt_resp_header_count(const tt_resp_t *r, const char *name)
{
    if (!r->head)
        return 0;
    hdr_find_t f = {name, strlen(name), NULL, 0, 0};
    each_header(r->head, on_find_header, &f);
    return f.count;
}

void tt_resp_free(tt_resp_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

int tt_http_request(int port, const char *request, tt_resp_t *r, int timeout_ms)
{
    memset(r, 0, sizeof *r);
    tt_tc_t *c = tt_tc_connect(port, timeout_ms);
    if (!c)
        return TT_ECLOSED;
    int rc = tt_tc_sends(c, request);
    if (rc == 0)
        rc = tt_tc_read_response(c, r, timeout_ms, strncmp(request, "HEAD ", 5) == 0);
    tt_tc_close(c);
    return rc;
}
