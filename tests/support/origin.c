/* tt_origin: the fake origin server that integration tests put behind tether.
 *
 *   tt_origin --port-file PATH [--port N] [--watch-stdin]
 *
 * Listens on 127.0.0.1:N (0 = ephemeral), then writes "http 127.0.0.1:PORT\n"
 * to PATH (through PATH.tmp and a rename, so readers never see half a line).
 * Stops on SIGTERM/SIGINT, and with --watch-stdin also when stdin reaches EOF
 * (the test that started it has died). The routes are listed in route_of().
 *
 * A connection handles one request at a time. llhttp (strict) is paused at
 * the end of each request head and of each request; bytes that arrive while a
 * response is in progress stay in the input buffer (reading stops once it
 * holds IN_LIMIT) and are parsed when the response is done, so pipelined
 * requests are answered in order. Request bodies stream through on_body and
 * only /echo stores them. Generated bodies are written in PIECE-sized writes,
 * at most MAX_INFLIGHT at a time, so memory stays bounded for any size.
 *
 * States (enum conn_state, C_ prefix omitted):
 *
 *   READ_HEAD --head--> READ_BODY --message--> RESPOND --done, keep-alive--> READ_HEAD
 *       |                   |                      \--done, close--> LINGER --> CLOSED
 *       \--EOF, error, bad request (400 then LINGER), /close --------------------> CLOSED
 *
 * LINGER: our FIN is sent and input is discarded until the peer's EOF or
 * LINGER_MS, because closing with unread input makes the kernel send a reset
 * that can destroy a response still in flight (nginx's lingering close).
 */
#include <llhttp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "platform.h"

#define IN_LIMIT (1024 * 1024)
#define READ_RESERVE (64 * 1024)
#define HEAD_LIMIT (64 * 1024)
#define ECHO_LIMIT (16 * 1024 * 1024)
#define PIECE (64 * 1024)
#define MAX_INFLIGHT 2
#define MAX_CHUNK (16 * 1024 * 1024)
#define MAX_SLEEP_MS (10 * 60 * 1000)
#define LINGER_MS 2000

/* Prefixed: winsock already defines LINGER. */
enum conn_state { C_READ_HEAD, C_READ_BODY, C_RESPOND, C_LINGER, C_CLOSED };

enum route {
    R_NOT_FOUND,
    R_ECHO,
    R_STATUS,
    R_SIZE,
    R_CHUNKED,
    R_EOF,
    R_SLEEP,
    R_COUNT,
    R_CLOSE,
    R_RESPOND
};

/* A generated body: `total` pattern bytes, plain or in chunks of `chunk`. */
typedef struct {
    uint64_t total, done;
    uint64_t chunk, chunk_left;
    int chunked;
} gen_t;

typedef struct conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer; /* /sleep, then the lingering close */
    uv_shutdown_t shutdown_req;
    int handles_open;
    enum conn_state state;
    struct conn_s *prev, *next;
    llhttp_t parser;
    uint64_t id;
    unsigned req_no;
    tt_buf_t in; /* input; [in_off, in.len) is not parsed yet */
    size_t in_off;
    int reading;
    int peer_eof;
    /* Set by the parser callbacks, acted on after llhttp_execute returns. */
    int got_head, got_message;
    const char *method_at;
    /* The request being read or answered. */
    tt_buf_t url;
    tt_buf_t head; /* raw head exactly as received */
    tt_buf_t body; /* /echo only */
    enum route route;
    int is_head, keep_alive, http10, too_large;
    uint64_t body_bytes;
    uint32_t body_sum;
    /* The response. */
    int close_after;
    int user_connection; /* /respond supplied its own Connection header */
    int responded;       /* the final response head has been queued */
    int inflight;
    int gen_active;
    gen_t gen;
    /* Body buffers whose writes completed, reused so that a long body does
     * not allocate (and, under ASan, quarantine) a buffer per piece. */
    tt_buf_t spare[MAX_INFLIGHT];
    int nspare;
} conn_t;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_pipe_t stdin_pipe;
static int watching_stdin;
static int stopping;
static uint64_t conn_seq;
static conn_t conns = {.prev = &conns, .next = &conns};
static llhttp_settings_t settings;
static char pattern[PIECE + 26];

static void conn_close(conn_t *c);
static void conn_linger(conn_t *c);
static void conn_process(conn_t *c);
static void conn_read_update(conn_t *c);
static void respond_done(conn_t *c);

/* ---- small helpers ---- */

static const char *reason(int status)
{
    static const struct {
        int status;
        const char *text;
    } reasons[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {103, "Early Hints"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {413, "Content Too Large"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < TT_ARRAY_SIZE(reasons); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Status";
}

/* 1xx, 204 and 304 responses never have a body (RFC 9112 6.3). */
static int status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* Whether s starts with `prefix`, ignoring ASCII case. */
static int iprefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower((unsigned char)*s) != lower((unsigned char)*prefix))
            return 0;
    return 1;
}

/* Parse all of [p, e) as a decimal number no larger than max. */
static int parse_u64(const char *p, const char *e, uint64_t max, uint64_t *out)
{
    uint64_t x = 0;
    if (p == e)
        return -1;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (x > (max - (uint64_t)(*p - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *out = x;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = lower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decode [p, e) into out. '+' stays '+': tests spell a space %20. */
static void pct_decode(tt_buf_t *out, const char *p, const char *e)
{
    tt_buf_reset(out);
    tt_buf_reserve(out, (size_t)(e - p));
    while (p < e) {
        if (*p == '%' && e - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            char ch = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            tt_buf_append(out, &ch, 1);
            p += 3;
        } else {
            tt_buf_append(out, p++, 1);
        }
    }
}

/* The request path (after scheme and authority of an absolute URL) and the
 * query (after '?', "" if none). */
static void url_split(conn_t *c, const char **path, const char **path_end, const char **query)
{
    const char *u = c->url.data;
    const char *q = strchr(u, '?');
    *path_end = q ? q : u + c->url.len;
    *query = q ? q + 1 : "";
    *path = u;
    if (iprefix(u, "http://")) {
        const char *slash = strchr(u + 7, '/');
        *path = slash && slash < *path_end ? slash : *path_end;
    }
}

/* Find parameter `name` in a query string; [*v, *ve) is its raw value. */
static int query_param(const char *q, const char *name, const char **v, const char **ve)
{
    size_t n = strlen(name);
    while (*q) {
        const char *amp = strchr(q, '&');
        const char *end = amp ? amp : q + strlen(q);
        if ((size_t)(end - q) > n && strncmp(q, name, n) == 0 && q[n] == '=') {
            *v = q + n + 1;
            *ve = end;
            return 1;
        }
        q = amp ? amp + 1 : end;
    }
    return 0;
}

/* ---- writing ---- */

typedef struct {
    uv_write_t req;
    conn_t *c;
    tt_buf_t data;
} wreq_t;

static void gen_pump(conn_t *c);

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    conn_t *c = w->c;
    if (c->state != C_CLOSED && c->nspare < MAX_INFLIGHT && w->data.cap >= PIECE) {
        tt_buf_reset(&w->data);
        c->spare[c->nspare++] = w->data;
    } else {
        tt_buf_free(&w->data);
    }
    free(w);
    c->inflight--;
    if (c->state == C_CLOSED)
        return;
    if (status < 0) {
        tt_log_debug("conn=%llu write: %s", (unsigned long long)c->id, uv_strerror(status));
        conn_close(c);
        return;
    }
    if (c->state == C_RESPOND)
        gen_pump(c);
}

/* Queue the bytes of `b`, taking them over (b is left empty). */
static void conn_write(conn_t *c, tt_buf_t *b)
{
    wreq_t *w = tt_xmalloc(sizeof *w);
    w->c = c;
    w->data = *b;
    *b = (tt_buf_t)TT_BUF_INIT;
    uv_buf_t ub = uv_buf_init(w->data.data, (unsigned)w->data.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
    if (rc < 0) {
        tt_buf_free(&w->data);
        free(w);
        conn_close(c);
        return;
    }
    c->inflight++;
}

/* Append about PIECE bytes of generated body, with chunk framing. */
static void gen_fill(gen_t *g, tt_buf_t *out)
{
    while (out->len < PIECE && g->done < g->total) {
        if (g->chunked && g->chunk_left == 0) {
            uint64_t left = g->total - g->done;
            g->chunk_left = left < g->chunk ? left : g->chunk;
            tt_buf_appendf(out, "%llx\r\n", (unsigned long long)g->chunk_left);
        }
        uint64_t want = g->chunked ? g->chunk_left : g->total - g->done;
        size_t room = out->len < PIECE ? PIECE - out->len : 1;
        size_t n = want < room ? (size_t)want : room;
        tt_buf_append(out, pattern + g->done % 26, n);
        g->done += n;
        if (g->chunked && (g->chunk_left -= n) == 0)
            tt_buf_appends(out, "\r\n");
    }
}

/* Keep the generated body flowing, MAX_INFLIGHT writes at most; when all
 * of the response is written, finish it. */
static void gen_pump(conn_t *c)
{
    while (c->gen_active && c->inflight < MAX_INFLIGHT && c->state == C_RESPOND) {
        tt_buf_t b = TT_BUF_INIT;
        if (c->nspare > 0)
            b = c->spare[--c->nspare];
        tt_buf_reserve(&b, PIECE + 64);
        gen_fill(&c->gen, &b);
        if (c->gen.done == c->gen.total) {
            if (c->gen.chunked)
                tt_buf_appends(&b, "0\r\n\r\n");
            c->gen_active = 0;
        }
        if (b.len)
            conn_write(c, &b);
        else
            tt_buf_free(&b);
    }
    if (c->state == C_RESPOND && c->responded && c->inflight == 0 && !c->gen_active)
        respond_done(c);
}

/* ---- responses ---- */

static void log_request(conn_t *c, int status)
{
    tt_log_info("conn=%llu req=%u %s %s -> %d", (unsigned long long)c->id, c->req_no,
                llhttp_method_name((llhttp_method_t)c->parser.method), c->url.data, status);
}

/* Status line, with the request's version (1.0 or 1.1). */
static void head_begin(conn_t *c, tt_buf_t *h, int status)
{
    log_request(c, status);
    c->responded = 1;
    tt_buf_appendf(h, "HTTP/1.%d %d %s\r\n", c->http10 ? 0 : 1, status, reason(status));
}

/* Connection header, X-Origin-*, blank line. */
static void head_end(conn_t *c, tt_buf_t *h)
{
    if (!c->user_connection && c->close_after)
        tt_buf_appends(h, "Connection: close\r\n");
    else if (!c->user_connection && c->http10)
        tt_buf_appends(h, "Connection: keep-alive\r\n");
    tt_buf_appendf(h, "X-Origin-Conn: %llu\r\nX-Origin-Req: %u\r\n\r\n", (unsigned long long)c->id,
                   c->req_no);
}

/* A whole response from memory. Content-Length and body are left out where
 * the status has no body; the body alone is left out for HEAD. */
static void respond_simple(conn_t *c, int status, const char *extra, const char *body, size_t len)
{
    tt_buf_t h = TT_BUF_INIT;
    head_begin(c, &h, status);
    if (extra)
        tt_buf_appends(&h, extra);
    if (status_has_body(status))
        tt_buf_appendf(&h, "Content-Length: %llu\r\n", (unsigned long long)len);
    head_end(c, &h);
    if (status_has_body(status) && !c->is_head)
        tt_buf_append(&h, body, len);
    conn_write(c, &h);
}

static void respond_text(conn_t *c, int status, const char *text)
{
    respond_simple(c, status, NULL, text, strlen(text));
}

/* /size, /chunked, /eof: the head now, the body as writes complete.
 * HTTP/1.0 has no chunked coding, so /chunked falls back to /eof there. */
static void respond_generated(conn_t *c, enum route mode, uint64_t n, uint64_t chunk)
{
    tt_buf_t h = TT_BUF_INIT;
    memset(&c->gen, 0, sizeof c->gen);
    c->gen.total = n;
    if (mode == R_CHUNKED && c->http10)
        mode = R_EOF;
    if (mode == R_EOF)
        c->close_after = 1;
    head_begin(c, &h, 200);
    if (mode == R_SIZE)
        tt_buf_appendf(&h, "Content-Length: %llu\r\n", (unsigned long long)n);
    if (mode == R_CHUNKED) {
        tt_buf_appends(&h, "Transfer-Encoding: chunked\r\n");
        c->gen.chunked = 1;
        c->gen.chunk = chunk;
    }
    head_end(c, &h);
    conn_write(c, &h);
    c->gen_active = !c->is_head;
    gen_pump(c);
}

static void respond_echo(conn_t *c)
{
    if (c->too_large) {
        c->close_after = 1;
        respond_text(c, 413, "too large");
        return;
    }
    tt_buf_t body = TT_BUF_INIT;
    tt_buf_append(&body, c->head.data, c->head.len);
    tt_buf_append(&body, c->body.data, c->body.len);
    respond_simple(c, 200, "Content-Type: text/plain\r\n", body.data, body.len);
    tt_buf_free(&body);
}

static void respond_status(conn_t *c, const char *arg, const char *end)
{
    uint64_t st;
    if (parse_u64(arg, end, 599, &st) < 0 || st < 100) {
        respond_text(c, 404, "not found");
        return;
    }
    char text[32];
    snprintf(text, sizeof text, "status %d", (int)st);
    respond_simple(c, (int)st, NULL, text, strlen(text));
}

/* One "h=Name:Value" of /respond, decoded in kv: add it to hdrs and note
 * the headers that change framing or the connection. Returns -1 if bad. */
static int custom_header(conn_t *c, tt_buf_t *kv, tt_buf_t *hdrs, int *own_framing)
{
    char *colon = memchr(kv->data, ':', kv->len);
    if (!colon || colon == kv->data)
        return -1;
    *colon = '\0';
    const char *val = colon + 1;
    while (*val == ' ')
        val++;
    if (iprefix(kv->data, "content-length") || iprefix(kv->data, "transfer-encoding"))
        *own_framing = 1;
    if (iprefix(kv->data, "connection")) {
        c->user_connection = 1;
        if (strstr(val, "close"))
            c->close_after = 1;
    }
    tt_buf_appendf(hdrs, "%s: %s\r\n", kv->data, val);
    return 0;
}

/* The value of the request's first Grip-Last header, copied to out ("" if none). */
static int grip_last(const conn_t *c, char *out, size_t outlen)
{
    const char *h = c->head.data;
    size_t n = c->head.len;
    out[0] = '\0';
    for (size_t i = 0; i + 11 < n; i++) {
        if (h[i] != '\n' || !iprefix(h + i + 1, "grip-last:"))
            continue;
        const char *v = h + i + 11;
        while (*v == ' ')
            v++;
        const char *e = strstr(v, "\r\n");
        size_t len = e ? (size_t)(e - v) : 0;
        if (len >= outlen)
            len = outlen - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

/* /respond?status=NNN&h=Name:Value&...&body=TEXT. With a Content-Length or
 * Transfer-Encoding among the h= headers the body is sent as given, unframed
 * by us, so that tests can craft odd framing. GRIP retries and links: when
 * the request carries Grip-Last and the query has lh= or lb=, those headers
 * and that body are used instead (plus X-Grip-Last echoing the value). */
static void respond_custom(conn_t *c)
{
    const char *path, *pe, *q;
    url_split(c, &path, &pe, &q);
    tt_buf_t hdrs = TT_BUF_INIT, body = TT_BUF_INIT, kv = TT_BUF_INIT;
    tt_buf_t lhdrs = TT_BUF_INIT, lbody = TT_BUF_INIT;
    uint64_t status = 200;
    int own_framing = 0, bad = 0, last_mode = 0;
    char last[512];
    int has_last = grip_last(c, last, sizeof last);
    tt_buf_appends(&hdrs, "");
    tt_buf_appends(&lhdrs, "");
    while (*q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(end - q));
        size_t klen = (size_t)((eq ? eq : end) - q);
        pct_decode(&kv, eq ? eq + 1 : end, end);
        if (klen == 6 && strncmp(q, "status", 6) == 0)
            bad |= parse_u64(kv.data, kv.data + kv.len, 599, &status) < 0 || status < 100;
        else if (klen == 4 && strncmp(q, "body", 4) == 0)
            tt_buf_append(&body, kv.data, kv.len);
        else if (klen == 1 && q[0] == 'h')
            bad |= custom_header(c, &kv, &hdrs, &own_framing) < 0;
        else if (klen == 2 && strncmp(q, "lb", 2) == 0)
            tt_buf_append(&lbody, kv.data, kv.len), last_mode = 1;
        else if (klen == 2 && strncmp(q, "lh", 2) == 0)
            bad |= custom_header(c, &kv, &lhdrs, &own_framing) < 0, last_mode = 1;
        q = amp ? amp + 1 : end;
    }
    if (has_last && last_mode) {
        tt_buf_t t = hdrs;
        hdrs = lhdrs;
        lhdrs = t;
        t = body;
        body = lbody;
        lbody = t;
        tt_buf_appendf(&hdrs, "X-Grip-Last: %s\r\n", last);
    }
    if (bad) {
        c->user_connection = 0;
        respond_text(c, 400, "bad respond query");
    } else {
        int st = (int)status;
        tt_buf_t h = TT_BUF_INIT;
        head_begin(c, &h, st);
        tt_buf_append(&h, hdrs.data, hdrs.len);
        if (!own_framing && status_has_body(st))
            tt_buf_appendf(&h, "Content-Length: %llu\r\n", (unsigned long long)body.len);
        head_end(c, &h);
        if ((own_framing || status_has_body(st)) && !c->is_head)
            tt_buf_append(&h, body.data, body.len);
        conn_write(c, &h);
    }
    tt_buf_free(&hdrs);
    tt_buf_free(&body);
    tt_buf_free(&kv);
    tt_buf_free(&lhdrs);
    tt_buf_free(&lbody);
}

static void on_sleep_done(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->state == C_RESPOND)
        respond_text(c, 200, "slept");
}

/* Which route [path, pe) names; [*arg, pe) is the part after its prefix. */
static enum route route_of(const char *path, const char *pe, const char **arg)
{
    static const struct {
        const char *prefix;
        enum route route;
    } with_arg[] = {{"/status/", R_STATUS},
                    {"/size/", R_SIZE},
                    {"/chunked/", R_CHUNKED},
                    {"/eof/", R_EOF},
                    {"/sleep/", R_SLEEP}};
    size_t n = (size_t)(pe - path);
    *arg = pe;
    if (n >= 5 && strncmp(path, "/echo", 5) == 0)
        return R_ECHO;
    for (size_t i = 0; i < TT_ARRAY_SIZE(with_arg); i++) {
        size_t pl = strlen(with_arg[i].prefix);
        if (n > pl && strncmp(path, with_arg[i].prefix, pl) == 0) {
            *arg = path + pl;
            return with_arg[i].route;
        }
    }
    if (n == 6 && strncmp(path, "/count", 6) == 0)
        return R_COUNT;
    if (n == 6 && strncmp(path, "/close", 6) == 0)
        return R_CLOSE;
    if (n == 8 && strncmp(path, "/respond", 8) == 0)
        return R_RESPOND;
    return R_NOT_FOUND;
}

/* /size/N, /eof/N, /chunked/N[?chunk=M]. */
static void respond_sized(conn_t *c, const char *arg, const char *pe, const char *q)
{
    uint64_t n, chunk = 1000;
    const char *v, *ve;
    if (parse_u64(arg, pe, UINT64_MAX / 2, &n) < 0) {
        respond_text(c, 404, "not found");
        return;
    }
    if (c->route == R_CHUNKED && query_param(q, "chunk", &v, &ve) &&
        (parse_u64(v, ve, MAX_CHUNK, &chunk) < 0 || chunk == 0)) {
        respond_text(c, 400, "bad chunk size");
        return;
    }
    respond_generated(c, c->route, n, chunk);
}

/* Answer the request that has just been read completely. */
static void respond(conn_t *c)
{
    const char *path, *pe, *q, *arg;
    url_split(c, &path, &pe, &q);
    route_of(path, pe, &arg);
    uint64_t ms;
    char text[64];
    switch (c->route) {
    case R_ECHO:
        respond_echo(c);
        break;
    case R_STATUS:
        respond_status(c, arg, pe);
        break;
    case R_SIZE:
    case R_EOF:
    case R_CHUNKED:
        respond_sized(c, arg, pe, q);
        break;
    case R_SLEEP:
        if (parse_u64(arg, pe, MAX_SLEEP_MS, &ms) < 0)
            respond_text(c, 404, "not found");
        else
            uv_timer_start(&c->timer, on_sleep_done, ms, 0);
        break;
    case R_COUNT:
        snprintf(text, sizeof text, "bytes=%llu sum=%lu", (unsigned long long)c->body_bytes,
                 (unsigned long)c->body_sum);
        respond_text(c, 200, text);
        break;
    case R_CLOSE:
        log_request(c, 0);
        conn_close(c);
        break;
    case R_RESPOND:
        respond_custom(c);
        break;
    default:
        respond_text(c, 404, "not found");
        break;
    }
}

/* The response has been written: go on with the next request or close. */
static void respond_done(conn_t *c)
{
    if (c->close_after) {
        conn_linger(c);
        return;
    }
    c->state = C_READ_HEAD;
    conn_process(c);
}

/* ---- the request side ---- */

static void request_reset(conn_t *c)
{
    tt_buf_reset(&c->url);
    tt_buf_appends(&c->url, ""); /* url.data is never NULL */
    tt_buf_reset(&c->head);
    tt_buf_free(&c->body);
    c->got_head = c->got_message = 0;
    c->route = R_NOT_FOUND;
    c->is_head = c->keep_alive = c->http10 = c->too_large = 0;
    c->body_bytes = 0;
    c->body_sum = 0;
    c->close_after = c->user_connection = 0;
    c->responded = c->gen_active = 0;
}

static int on_message_begin(llhttp_t *p)
{
    request_reset(p->data);
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    (void)len;
    if (c->head.len == 0 && !c->method_at)
        c->method_at = at;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    tt_buf_append(&c->url, at, len);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    const char *path, *pe, *q, *arg;
    c->http10 = p->http_major == 1 && p->http_minor == 0;
    c->is_head = p->method == HTTP_HEAD;
    url_split(c, &path, &pe, &q);
    c->route = route_of(path, pe, &arg);
    c->got_head = 1;
    /* Pause so that the raw head can be cut exactly where it ends. */
    return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    c->body_bytes += len;
    if (c->route == R_COUNT) {
        uint32_t s = c->body_sum;
        for (size_t i = 0; i < len; i++)
            s += (unsigned char)at[i];
        c->body_sum = s;
    } else if (c->route == R_ECHO && !c->too_large) {
        if (c->head.len + c->body.len + len > ECHO_LIMIT)
            c->too_large = 1;
        else
            tt_buf_append(&c->body, at, len);
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    c->keep_alive = llhttp_should_keep_alive(p);
    c->got_message = 1;
    return HPE_PAUSED;
}

/* Reject a request that cannot be parsed or is too big, then close. */
static void bad_request(conn_t *c, int status, const char *why)
{
    tt_buf_t h = TT_BUF_INIT;
    if (c->state == C_READ_HEAD)
        c->req_no++; /* head_done did not count this one */
    c->state = C_RESPOND;
    c->close_after = 1;
    c->user_connection = c->is_head = 0;
    c->responded = 1;
    tt_log_info("conn=%llu req=%u bad request: %s", (unsigned long long)c->id, c->req_no, why);
    tt_buf_appendf(&h, "HTTP/1.1 %d %s\r\nContent-Length: %llu\r\n", status, reason(status),
                   (unsigned long long)strlen(why));
    head_end(c, &h);
    tt_buf_appends(&h, why);
    conn_write(c, &h);
}

/* Whether the raw head has "Expect: 100-continue". */
static int wants_continue(const tt_buf_t *head)
{
    const char *line = strstr(head->data, "\r\n");
    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        if (iprefix(line, "expect:")) {
            const char *v = line + 7;
            while (*v == ' ' || *v == '\t')
                v++;
            if (iprefix(v, "100-continue"))
                return 1;
        }
        line = strstr(line, "\r\n");
    }
    return 0;
}

/* The head is complete: count the request, answer Expect, read the body. */
static void head_done(conn_t *c)
{
    c->state = C_READ_BODY;
    c->req_no++;
    if (!c->http10 && wants_continue(&c->head)) {
        tt_buf_t h = TT_BUF_INIT;
        tt_buf_appendf(&h,
                       "HTTP/1.1 100 Continue\r\nX-Origin-Conn: %llu\r\nX-Origin-Req: %u\r\n\r\n",
                       (unsigned long long)c->id, c->req_no);
        conn_write(c, &h);
    }
}

/* The request is complete: answer it. After an Upgrade or CONNECT request
 * the bytes that follow are not HTTP, so such connections close after the
 * (ordinary) answer. */
static void message_done(conn_t *c)
{
    c->state = C_RESPOND;
    c->close_after = !c->keep_alive || c->parser.upgrade;
    respond(c);
}

/* Run llhttp over the unparsed input once; returns how much it used. */
static int execute(conn_t *c, size_t *used)
{
    const char *data = c->in.data ? c->in.data + c->in_off : "";
    size_t n = c->in.len - c->in_off;
    c->method_at = NULL;
    llhttp_errno_t err = llhttp_execute(&c->parser, data, n);
    *used = err == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&c->parser) - data);
    if (c->state == C_READ_HEAD) {
        /* Keep the head's bytes from the method on (leading CRLFs are not
         * part of the request). */
        const char *start = c->head.len ? data : c->method_at;
        if (start)
            tt_buf_append(&c->head, start, (size_t)(data + *used - start));
    }
    c->in_off += *used;
    if (err == HPE_PAUSED)
        llhttp_resume(&c->parser);
    return err;
}

/* Parse buffered input until a request is complete, more input is needed,
 * or the input is bad. Answers at most one request per call chain. */
static void conn_process(conn_t *c)
{
    while (c->state == C_READ_HEAD || c->state == C_READ_BODY) {
        size_t used;
        if (c->in_off == c->in.len && c->state == C_READ_HEAD && c->head.len == 0)
            break; /* nothing buffered, no request started */
        int err = execute(c, &used);
        if (c->state == C_READ_HEAD && c->head.len > HEAD_LIMIT) {
            bad_request(c, 431, "request head too large");
        } else if (err != HPE_OK && err != HPE_PAUSED) {
            bad_request(c, 400, llhttp_errno_name((llhttp_errno_t)err));
        } else if (c->got_head) {
            c->got_head = 0;
            head_done(c);
        } else if (c->got_message) {
            c->got_message = 0;
            message_done(c);
        } else if (used == 0 || c->in_off == c->in.len) {
            break;
        }
    }
    if (c->in_off == c->in.len) {
        tt_buf_reset(&c->in);
        c->in_off = 0;
    }
    if (c->peer_eof && (c->state == C_READ_HEAD || c->state == C_READ_BODY)) {
        /* The client is done sending: every request it sent has been
         * answered, or it stopped in the middle of one. */
        if (c->state == C_READ_HEAD && c->head.len == 0)
            conn_linger(c);
        else
            conn_close(c);
    }
    if (c->state != C_CLOSED)
        conn_read_update(c);
}

/* ---- connection life ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char discard[READ_RESERVE];
    conn_t *c = h->data;
    (void)suggested;
    if (c->state == C_LINGER) {
        *b = uv_buf_init(discard, sizeof discard);
        return;
    }
    if (c->in_off > 0) {
        tt_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    tt_buf_reserve(&c->in, READ_RESERVE);
    *b = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    conn_t *c = s->data;
    (void)b;
    if (c->state == C_CLOSED || nread == 0)
        return;
    if (c->state == C_LINGER) {
        if (nread < 0)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        c->peer_eof = 1;
    } else {
        c->in.len += (size_t)nread;
        c->in.data[c->in.len] = '\0';
    }
    if (c->state == C_RESPOND)
        conn_read_update(c);
    else
        conn_process(c);
}

/* Read while there is room for input (and always while lingering). */
static void conn_read_update(conn_t *c)
{
    int want = c->state == C_LINGER ||
               (!c->peer_eof && c->state != C_CLOSED && c->in.len - c->in_off < IN_LIMIT);
    if (want && !c->reading)
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
    else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    tt_buf_free(&c->in);
    tt_buf_free(&c->url);
    tt_buf_free(&c->head);
    tt_buf_free(&c->body);
    while (c->nspare > 0)
        tt_buf_free(&c->spare[--c->nspare]);
    free(c);
}

/* Close at once. Memory goes in the last close callback; pending writes
 * are cancelled first and see state C_CLOSED. */
static void conn_close(conn_t *c)
{
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_linger_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    if (c->state == C_CLOSED)
        return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
}

/* Send our FIN after everything written, then wait for the peer's. */
static void conn_linger(conn_t *c)
{
    if (c->state == C_LINGER || c->state == C_CLOSED)
        return;
    c->state = C_LINGER;
    uv_timer_stop(&c->timer);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        conn_close(c);
        return;
    }
    if (!c->peer_eof)
        conn_read_update(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0 || stopping)
        return;
    conn_t *c = tt_xcalloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->handles_open = 2;
    c->tcp.data = c->timer.data = c;
    c->prev = conns.prev;
    c->next = &conns;
    conns.prev->next = c;
    conns.prev = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->id = ++conn_seq;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->state = C_READ_HEAD;
    request_reset(c);
    conn_read_update(c);
}

/* ---- process ---- */

static void stop(void *arg)
{
    (void)arg;
    if (stopping)
        return;
    stopping = 1;
    tt_log_info("stopping");
    uv_close((uv_handle_t *)&server, NULL);
    if (watching_stdin)
        uv_close((uv_handle_t *)&stdin_pipe, NULL);
    while (conns.next != &conns)
        conn_close(conns.next);
    tt_platform_signals_stop();
}

static void on_stdin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char sink[256];
    (void)h;
    (void)suggested;
    *b = uv_buf_init(sink, sizeof sink);
}

static void on_stdin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)s;
    (void)b;
    if (nread < 0)
        stop(NULL);
}

/* Write the port line to PATH.tmp, then rename it over PATH. */
static int write_port_file(const char *path, int port)
{
    char tmp[4096], line[64];
    uv_fs_t req;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(line, sizeof line, "http 127.0.0.1:%d\n", port);
    int fd =
        uv_fs_open(NULL, &req, tmp, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_TRUNC, 0644, NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0)
        return fd;
    uv_buf_t b = uv_buf_init(line, (unsigned)len);
    int rc = uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    if (rc != len)
        return rc < 0 ? rc : UV_EIO;
    rc = uv_fs_rename(NULL, &req, tmp, path, NULL);
    uv_fs_req_cleanup(&req);
    return rc;
}

static int listen_on(int port, int *bound)
{
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int namelen = sizeof name;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&server, (struct sockaddr *)&name, &namelen);
    if (rc == 0) {
        /* sin_port is in network byte order. */
        const unsigned char *pp = (const unsigned char *)&((struct sockaddr_in *)&name)->sin_port;
        *bound = pp[0] << 8 | pp[1];
    }
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: tt_origin --port-file PATH [--port N] [--watch-stdin]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL;
    int port = 0, bound = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
            port_file = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--watch-stdin") == 0)
            watching_stdin = 1;
        else
            return usage();
    }
    if (!port_file || port < 0 || port > 65535)
        return usage();
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)('a' + i % 26);
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_method = on_method;
    settings.on_url = on_url;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;

    tt_platform_init();
    loop = uv_default_loop();
    tt_platform_hooks_t hooks = {stop, NULL, NULL};
    int rc = tt_platform_signals_start(loop, &hooks);
    if (rc == 0)
        rc = listen_on(port, &bound);
    if (rc == 0)
        rc = write_port_file(port_file, bound);
    if (rc == 0 && watching_stdin) {
        uv_pipe_init(loop, &stdin_pipe, 0);
        rc = uv_pipe_open(&stdin_pipe, 0);
        if (rc == 0)
            rc = uv_read_start((uv_stream_t *)&stdin_pipe, on_stdin_alloc, on_stdin_read);
    }
    if (rc != 0) {
        tt_log_error("tt_origin: %s", uv_strerror(rc));
        return 1;
    }
    tt_log_info("listening on 127.0.0.1:%d", bound);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
