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
 * only /echo and /wsoh store them. Generated bodies are written in PIECE-sized
 * writes, at most MAX_INFLIGHT at a time, so memory stays bounded for any size.
 *
 * WebSocket routes (details at ws_command and the handlers below):
 *   /ws...    GET with Upgrade: websocket. A real RFC 6455 server: checks the
 *             handshake (400/405/426 otherwise), answers 101, then echoes
 *             every data message (continuations joined) as one unmasked frame
 *             with the same opcode, answers pings, echoes a close and ends
 *             the connection. It insists on masked, well-formed client frames
 *             and valid UTF-8 (close 1002/1007/1009 otherwise). Query options:
 *             grip=1 (accept the grip extension if offered), prefix=empty|P,
 *             close=CODE[&reason=R] (close right after the 101), reject=1|NNN
 *             (403 or NNN with a body instead of 101), h=Name:Value (extra
 *             101 headers).
 *   /wsoh...  POST of application/websocket-events (WebSocket-over-HTTP):
 *             answers every event of the body in one response. Query: grip=0,
 *             prefix=, meta=1 (Set-Meta-User: alice), kai=N
 *             (Keep-Alive-Interval), reject=1|NNN (for OPEN), h=Name:Value.
 *   /wslog    GET: what the WebSocket routes saw (opens, closes, events).
 *
 * States (enum conn_state, C_ prefix omitted):
 *
 *   READ_HEAD --head--> READ_BODY --message--> RESPOND --done, keep-alive--> READ_HEAD
 *       |                   |                   |  \--done, close--> LINGER --> CLOSED
 *       |                   |                   \--/ws 101--> WS --close, error, EOF--> LINGER
 *       \--EOF, error, bad request (400 then LINGER), /close --------------------> CLOSED
 *
 * WS: frames are parsed from the input buffer as they complete; reading
 * stops while WS_MAX_INFLIGHT replies are unwritten, so a client that does
 * not read sees backpressure as it would from a real backend.
 *
 * LINGER: our FIN is sent and input is discarded until the peer's EOF or
 * LINGER_MS, because closing with unread input makes the kernel send a reset
 * that can destroy a response still in flight (nginx's lingering close).
 */
#include <llhttp.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
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
/* WebSocket: the largest message /ws takes (close 1009 beyond), the input
 * that can hold one frame of it, and the size of the /wslog record. */
#define WS_MSG_LIMIT (16 * 1024 * 1024)
#define WS_IN_LIMIT (WS_MSG_LIMIT + 64)
#define WS_LOG_LIMIT (1024 * 1024)
#define WS_MAX_INFLIGHT 64

/* Prefixed: winsock already defines LINGER. */
enum conn_state { C_READ_HEAD, C_READ_BODY, C_RESPOND, C_WS, C_LINGER, C_CLOSED };

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
    R_RESPOND,
    R_WS,
    R_WSOH,
    R_WSLOG
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
    /* State C_WS: the connection speaks WebSocket (c->head keeps the
     * handshake request for "headers?"). */
    struct {
        tt_buf_t prefix; /* put before data messages: grip's message prefix, or "" */
        int msg_opcode;  /* opcode of the fragmented message being read, 0 if none */
        tt_buf_t msg;    /* its payload so far */
        int close_sent;  /* nothing more is sent after our close frame */
    } ws;
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
static void ws_process(conn_t *c);

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
    else if (c->state == C_WS)
        conn_read_update(c);
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
    if (n == 6 && strncmp(path, "/wslog", 6) == 0)
        return R_WSLOG;
    if (n >= 5 && strncmp(path, "/wsoh", 5) == 0)
        return R_WSOH;
    if (n >= 3 && strncmp(path, "/ws", 3) == 0)
        return R_WS;
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

/* ---- WebSocket: /ws (an RFC 6455 server) and /wsoh (WebSocket-over-HTTP) ----
 *
 * Both speak the same little command language in text messages, so tests can
 * make the backend do GRIP things through Tether (see ws_command). Replies
 * that are data go out behind the message prefix when grip is on ("m:" by
 * default), because a GRIP proxy drops unprefixed data from a grip backend;
 * control messages go out as "c:" plus JSON. Lifecycle lines for tests go
 * into ws_log (GET /wslog). */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA
};

/* Lines "ws <conn> open|close <code>|eof|fail <code>" and "wsoh <cid>
 * <EVENT>[ <code>]", bounded by WS_LOG_LIMIT. */
static tt_buf_t ws_log;

static void ws_log_add(const char *kind, const char *id, const char *what, int code)
{
    if (ws_log.len >= WS_LOG_LIMIT)
        return;
    if (code)
        tt_buf_appendf(&ws_log, "%s %s %s %d\n", kind, id, what, code);
    else
        tt_buf_appendf(&ws_log, "%s %s %s\n", kind, id, what);
}

static void ws_log_conn(conn_t *c, const char *what, int code)
{
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)c->id);
    if (code)
        tt_log_info("conn=%llu ws %s %d", (unsigned long long)c->id, what, code);
    else
        tt_log_info("conn=%llu ws %s", (unsigned long long)c->id, what);
    ws_log_add("ws", id, what, code);
}

/* All values of header `name` in a raw head, joined with ", " into out
 * (out.data is never NULL afterwards). Returns how many lines had it. */
static int head_values(const tt_buf_t *head, const char *name, tt_buf_t *out)
{
    size_t n = strlen(name);
    int count = 0;
    tt_buf_reset(out);
    tt_buf_appends(out, "");
    const char *line = head->data ? strstr(head->data, "\r\n") : NULL;
    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if (iprefix(line, name) && line[n] == ':') {
            const char *v = line + n + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (count++)
                tt_buf_appends(out, ", ");
            tt_buf_append(out, v, (size_t)(ve - v));
        }
        line = eol;
    }
    return count;
}

/* The first comma-separated item of v with its parameters (after ';') cut
 * off when `name_only`, blanks trimmed: [*s, *e). */
static void first_item(const char *v, int name_only, const char **s, const char **e)
{
    while (*v == ' ' || *v == '\t')
        v++;
    const char *end = v;
    while (*end && *end != ',' && !(name_only && *end == ';'))
        end++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *s = v;
    *e = end;
}

/* Whether the comma-separated list v has an item named tok (before any
 * ';' parameters), ignoring case. */
static int has_item(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (; v; v = strchr(v, ',') ? strchr(v, ',') + 1 : NULL) {
        const char *s, *e;
        first_item(v, 1, &s, &e);
        if ((size_t)(e - s) == n && iprefix(s, tok))
            return 1;
    }
    return 0;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned ch = s[i], k, min;
        uint32_t cp;
        if (ch < 0x80) {
            i++;
            continue;
        }
        if ((ch & 0xE0) == 0xC0)
            k = 1, cp = ch & 0x1F, min = 0x80;
        else if ((ch & 0xF0) == 0xE0)
            k = 2, cp = ch & 0x0F, min = 0x800;
        else if ((ch & 0xF8) == 0xF0)
            k = 3, cp = ch & 0x07, min = 0x10000;
        else
            return 0;
        if (n - i <= k)
            return 0;
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Codes a peer may put in a close frame (RFC 6455 7.4, IANA registry). */
static int close_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static void json_str(tt_buf_t *b, const char *s, size_t n)
{
    tt_buf_appends(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            tt_buf_appendf(b, "\\%c", ch);
        else if (ch < 0x20)
            tt_buf_appendf(b, "\\u%04x", ch);
        else
            tt_buf_append(b, s + i, 1);
    }
    tt_buf_appends(b, "\"");
}

/* reject=1 -> 403, reject=NNN -> NNN (200..599); 0 when not asked. */
static int reject_status(const char *q)
{
    const char *v, *ve;
    uint64_t st;
    if (!query_param(q, "reject", &v, &ve) || (ve - v == 1 && *v == '0'))
        return 0;
    if (parse_u64(v, ve, 599, &st) == 0 && st >= 200)
        return (int)st;
    return 403;
}

static void respond_reject(conn_t *c, int status)
{
    const char *body = "rejected by origin\n";
    respond_simple(c, status, "Content-Type: text/plain\r\nX-Origin-Reject: yes\r\n", body,
                   strlen(body));
}

/* The h=Name:Value query parameters, as header lines appended to hdrs. */
static void query_headers(conn_t *c, const char *q, tt_buf_t *hdrs)
{
    tt_buf_t kv = TT_BUF_INIT;
    int own_framing = 0;
    while (*q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        if (end - q > 2 && q[0] == 'h' && q[1] == '=') {
            pct_decode(&kv, q + 2, end);
            custom_header(c, &kv, hdrs, &own_framing);
        }
        q = amp ? amp + 1 : end;
    }
    tt_buf_free(&kv);
}

/* The grip message prefix asked for by prefix=: absent -> "m:" (and the
 * extension header is plain "grip"), "empty" -> "", else the decoded value.
 * Appends the Sec-WebSocket-Extensions line to hdrs. */
static void grip_prefix(const char *q, tt_buf_t *prefix, tt_buf_t *hdrs)
{
    const char *v, *ve;
    tt_buf_reset(prefix);
    tt_buf_appends(prefix, "");
    if (!query_param(q, "prefix", &v, &ve)) {
        tt_buf_appends(prefix, "m:");
        tt_buf_appends(hdrs, "Sec-WebSocket-Extensions: grip\r\n");
        return;
    }
    if (!(ve - v == 5 && strncmp(v, "empty", 5) == 0))
        pct_decode(prefix, v, ve);
    tt_buf_appendf(hdrs, "Sec-WebSocket-Extensions: grip; message-prefix=\"%s\"\r\n", prefix->data);
}

/* Sec-WebSocket-Protocol: the first protocol the request offers, if any. */
static void echo_protocol(conn_t *c, tt_buf_t *hdrs)
{
    tt_buf_t val = TT_BUF_INIT;
    const char *s, *e;
    if (head_values(&c->head, "Sec-WebSocket-Protocol", &val)) {
        first_item(val.data, 0, &s, &e);
        if (e > s) {
            tt_buf_appends(hdrs, "Sec-WebSocket-Protocol: ");
            tt_buf_append(hdrs, s, (size_t)(e - s));
            tt_buf_appends(hdrs, "\r\n");
        }
    }
    tt_buf_free(&val);
}

/* ---- replies, as frames (/ws) or as events (/wsoh) ---- */

typedef struct {
    conn_t *c;
    tt_buf_t *events; /* /wsoh: the response body; NULL for /ws */
    const char *prefix;
} ws_out_t;

/* One unmasked frame whose payload is pre then d. Dropped after our close. */
static void ws_frame(conn_t *c, int opcode, int fin, const char *pre, size_t plen, const char *d,
                     size_t n)
{
    tt_buf_t b = TT_BUF_INIT;
    size_t len = plen + n;
    unsigned char h[10];
    size_t hl = 2;
    if (c->ws.close_sent || c->state != C_WS)
        return;
    h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    tt_buf_reserve(&b, hl + len);
    tt_buf_append(&b, h, hl);
    tt_buf_append(&b, pre, plen);
    tt_buf_append(&b, d, n);
    conn_write(c, &b);
}

static void event_append(tt_buf_t *ev, const char *name, const char *pre, size_t plen,
                         const char *d, size_t n, int with_content)
{
    if (!with_content) {
        tt_buf_appendf(ev, "%s\r\n", name);
        return;
    }
    tt_buf_appendf(ev, "%s %llx\r\n", name, (unsigned long long)(plen + n));
    tt_buf_append(ev, pre, plen);
    tt_buf_append(ev, d, n);
    tt_buf_appends(ev, "\r\n");
}

/* A whole message: pre then d. Events of control types carry content only
 * when there is some (as Pushpin encodes them). */
static void out_send(ws_out_t *o, int opcode, const char *pre, const char *d, size_t n)
{
    static const char *const names[] = {"CONT", "TEXT", "BINARY", "",     "",    "",
                                        "",     "",     "CLOSE",  "PING", "PONG"};
    size_t plen = strlen(pre);
    if (!o->events)
        ws_frame(o->c, opcode, 1, pre, plen, d, n);
    else
        event_append(o->events, names[opcode], pre, plen, d, n, opcode < 8 || plen + n > 0);
}

/* A close frame or CLOSE event with `code` (none when < 0) and reason. */
static void out_close(ws_out_t *o, int code, const char *reason, size_t rlen)
{
    char cb[2] = {(char)(code >> 8 & 0xFF), (char)(code & 0xFF)};
    tt_buf_t p = TT_BUF_INIT;
    if (code >= 0) {
        tt_buf_append(&p, cb, 2);
        tt_buf_append(&p, reason, rlen);
    }
    out_send(o, OP_CLOSE, "", p.data ? p.data : "", p.len);
    if (!o->events)
        o->c->ws.close_sent = 1;
    tt_buf_free(&p);
}

/* Whether [s, s+n) starts with cmd; [*arg, *arg + *alen) is the rest. */
static int cmd_arg(const char *s, size_t n, const char *cmd, const char **arg, size_t *alen)
{
    size_t k = strlen(cmd);
    if (n < k || memcmp(s, cmd, k) != 0)
        return 0;
    *arg = s + k;
    *alen = n - k;
    return 1;
}

static int cmd_is(const char *s, size_t n, const char *cmd)
{
    return n == strlen(cmd) && memcmp(s, cmd, n) == 0;
}

/* The GRIP control message a command asks for, as JSON into j; 0 if s is
 * not one of sub:, unsub:, detach, ka:, meta:. */
static int control_json(const char *s, size_t n, tt_buf_t *j)
{
    const char *a;
    size_t an;
    if (cmd_arg(s, n, "subf:", &a, &an)) {
        /* subf:CHAN:FILTER[,FILTER...] subscribes with filters */
        const char *colon = memchr(a, ':', an);
        size_t cn = colon ? (size_t)(colon - a) : an;
        tt_buf_appends(j, "{\"type\":\"subscribe\",\"channel\":");
        json_str(j, a, cn);
        tt_buf_appends(j, ",\"filters\":[");
        const char *f = colon ? colon + 1 : a + an;
        while (f < a + an) {
            const char *comma = memchr(f, ',', (size_t)(a + an - f));
            size_t fl = comma ? (size_t)(comma - f) : (size_t)(a + an - f);
            json_str(j, f, fl);
            f += fl + (comma ? 1 : 0);
            if (comma)
                tt_buf_appends(j, ",");
        }
        tt_buf_appends(j, "]");
    } else if (cmd_arg(s, n, "sub:", &a, &an) || cmd_arg(s, n, "unsub:", &a, &an)) {
        tt_buf_appendf(j,
                       "{\"type\":\"%s\",\"channel\":", s[0] == 's' ? "subscribe" : "unsubscribe");
        json_str(j, a, an);
    } else if (cmd_is(s, n, "detach")) {
        tt_buf_appends(j, "{\"type\":\"detach\"");
    } else if (cmd_arg(s, n, "ka:", &a, &an)) {
        tt_buf_appends(j, "{\"type\":\"keep-alive\",\"content\":");
        json_str(j, a, an);
        tt_buf_appends(j, ",\"timeout\":1");
    } else if (cmd_arg(s, n, "meta:", &a, &an)) {
        const char *eq = memchr(a, '=', an);
        tt_buf_appends(j, "{\"type\":\"set-meta\",\"name\":");
        json_str(j, a, eq ? (size_t)(eq - a) : an);
        if (eq) {
            tt_buf_appends(j, ",\"value\":");
            json_str(j, eq + 1, an - (size_t)(eq + 1 - a));
        }
    } else {
        return 0;
    }
    tt_buf_appends(j, "}");
    return 1;
}

/* "Name: value\n" for each Connection-Id and Meta-* request header. */
static void meta_lines(const conn_t *c, tt_buf_t *out)
{
    const char *line = strstr(c->head.data, "\r\n");
    tt_buf_appends(out, "");
    while (line && line[2] != '\r' && line[2] != '\0') {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if (iprefix(line, "meta-") || iprefix(line, "connection-id:")) {
            tt_buf_append(out, line, (size_t)(eol - line));
            tt_buf_appends(out, "\n");
        }
        line = eol;
    }
}

/* "close:CODE[ REASON]" -> a close; 0 if the code is not a number. */
static int cmd_close(ws_out_t *o, const char *a, size_t an)
{
    const char *sp = memchr(a, ' ', an);
    const char *ce = sp ? sp : a + an;
    uint64_t code;
    if (parse_u64(a, ce, 65535, &code) < 0)
        return 0;
    out_close(o, (int)code, sp ? sp + 1 : "", sp ? an - (size_t)(sp + 1 - a) : 0);
    return 1;
}

/* "frag:TEXT" -> TEXT (behind the prefix) as three frames on /ws; one
 * event on /wsoh, whose frames the proxy makes. */
static void cmd_frag(ws_out_t *o, const char *a, size_t an)
{
    size_t third = an / 3;
    if (o->events) {
        out_send(o, OP_TEXT, o->prefix, a, an);
        return;
    }
    ws_frame(o->c, OP_TEXT, 0, o->prefix, strlen(o->prefix), a, third);
    ws_frame(o->c, OP_CONT, 0, "", 0, a + third, third);
    ws_frame(o->c, OP_CONT, 1, "", 0, a + 2 * third, an - 2 * third);
}

/* "big:N" -> one data message of N pattern bytes; "burst:N" -> N messages
 * "1".."N". Both behind the prefix; 0 if N is not a number in range. */
static int cmd_generate(ws_out_t *o, const char *a, size_t an, int burst)
{
    uint64_t n;
    if (parse_u64(a, a + an, burst ? 100000 : WS_MSG_LIMIT, &n) < 0)
        return 0;
    if (burst) {
        for (uint64_t i = 1; i <= n; i++) {
            char num[24];
            int len = snprintf(num, sizeof num, "%llu", (unsigned long long)i);
            out_send(o, OP_TEXT, o->prefix, num, (size_t)len);
        }
        return 1;
    }
    char *big = tt_xmalloc((size_t)n + 1);
    for (uint64_t i = 0; i < n; i++)
        big[i] = pattern[i % 26];
    out_send(o, OP_TEXT, o->prefix, big, (size_t)n);
    free(big);
    return 1;
}

/* Run the command in text message s, if it is one. Returns 1 if it was.
 * Commands (anything else is echoed behind the prefix):
 *   sub:CHAN subf:CHAN:F1,F2 unsub:CHAN detach ka:TEXT meta:NAME[=VALUE]
 *             -> the GRIP control message c:{"type":"subscribe","channel":..}
 *                (unsubscribe, detach, keep-alive with timeout 1, set-meta)
 *   close:CODE[ REASON] -> a close frame / CLOSE event
 *   ping:DATA  -> a ping;  frag:TEXT -> TEXT in three frames (/ws)
 *   big:N      -> N bytes 'a'..'z' repeated;  burst:N -> messages "1".."N"
 *   headers?   -> the raw request head;  grip-sig -> Grip-Sig or "(none)"
 *   echo-meta  -> "Name: value\n" per Connection-Id and Meta-* header
 * Control messages go out whether or not grip was negotiated, so tests can
 * also check that a proxy passes "c:" text through when grip is off. */
static int ws_command(ws_out_t *o, const char *s, size_t n)
{
    tt_buf_t t = TT_BUF_INIT;
    const char *a;
    size_t an;
    int done = 1;
    if (control_json(s, n, &t)) {
        out_send(o, OP_TEXT, "c:", t.data, t.len);
    } else if (cmd_arg(s, n, "close:", &a, &an)) {
        done = cmd_close(o, a, an);
    } else if (cmd_arg(s, n, "ping:", &a, &an)) {
        out_send(o, OP_PING, "", a, an);
    } else if (cmd_arg(s, n, "frag:", &a, &an)) {
        cmd_frag(o, a, an);
    } else if (cmd_arg(s, n, "big:", &a, &an) || cmd_arg(s, n, "burst:", &a, &an)) {
        done = cmd_generate(o, a, an, s[1] == 'u');
    } else if (cmd_is(s, n, "headers?")) {
        out_send(o, OP_TEXT, o->prefix, o->c->head.data, o->c->head.len);
    } else if (cmd_is(s, n, "echo-meta")) {
        meta_lines(o->c, &t);
        out_send(o, OP_TEXT, o->prefix, t.data, t.len);
    } else if (cmd_is(s, n, "grip-sig")) {
        if (!head_values(&o->c->head, "Grip-Sig", &t))
            tt_buf_appends(&t, "(none)");
        out_send(o, OP_TEXT, o->prefix, t.data, t.len);
    } else {
        done = 0;
    }
    tt_buf_free(&t);
    return done;
}

/* ---- /ws: the connection after the 101 ---- */

typedef struct {
    int fin, opcode;
    char *data; /* unmasked in place, in the input buffer */
    size_t len;
} ws_frame_t;

/* Send a close with `code` unless one went out, then close the TCP
 * connection once it is written (RFC 6455 7.1.7 "fail the connection"). */
static void ws_fail(conn_t *c, int code, const char *why)
{
    ws_out_t o = {c, NULL, ""};
    tt_log_info("conn=%llu ws protocol error: %s", (unsigned long long)c->id, why);
    ws_log_conn(c, "fail", code);
    if (!c->ws.close_sent)
        out_close(&o, code, why, strlen(why));
    conn_linger(c);
}

/* The header of a client frame at p: 1 with *f and *used filled (payload
 * unmasked), 0 if more input is needed, or minus the close code to fail
 * with (*why says why). */
static int ws_parse(char *p, size_t n, ws_frame_t *f, size_t *used, const char **why)
{
    const unsigned char *u = (const unsigned char *)p;
    if (n < 2)
        return 0;
    f->fin = u[0] >> 7;
    f->opcode = u[0] & 0x0F;
    uint64_t len = u[1] & 0x7F;
    size_t hl = 2;
    /* Opcodes 3-7 and 0xB-0xF are reserved: their low three bits are over 2. */
    *why = (u[0] & 0x70)         ? "RSV bits set without an extension"
           : !(u[1] & 0x80)      ? "unmasked frame from the client"
           : (f->opcode & 7) > 2 ? "reserved opcode"
                                 : NULL;
    if (*why)
        return -1002;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)u[2] << 8 | u[3];
        hl = 4;
        *why = len < 126 ? "16-bit length not in shortest form" : NULL;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | u[2 + i];
        hl = 10;
        *why = len <= 0xFFFF || len >> 63 ? "64-bit length not in shortest form" : NULL;
    }
    if (!*why && f->opcode >= 8 && (!f->fin || len > 125))
        *why = "fragmented or long control frame";
    if (*why)
        return -1002;
    if (len > WS_MSG_LIMIT) {
        *why = "frame too big";
        return -1009;
    }
    if (n < hl + 4 + len)
        return 0;
    const unsigned char *mask = u + hl;
    f->data = p + hl + 4;
    f->len = (size_t)len;
    for (size_t i = 0; i < f->len; i++)
        f->data[i] = (char)(f->data[i] ^ mask[i & 3]);
    *used = hl + 4 + f->len;
    return 1;
}

static void ws_on_message(conn_t *c, int opcode, const char *d, size_t n)
{
    ws_out_t o = {c, NULL, c->ws.prefix.data};
    if (c->ws.close_sent)
        return; /* closing: data that crossed our close is ignored */
    if (opcode == OP_TEXT && !utf8_valid((const unsigned char *)d, n)) {
        ws_fail(c, 1007, "invalid UTF-8 in a text message");
        return;
    }
    if (opcode == OP_TEXT && ws_command(&o, d, n))
        return;
    out_send(&o, opcode, o.prefix, d, n);
}

/* A close from the client ends the connection: answered with the same
 * payload unless we closed first, then our FIN. */
static void ws_on_close(conn_t *c, const ws_frame_t *f)
{
    int code = 1005;
    if (f->len == 1) {
        ws_fail(c, 1002, "close payload of one byte");
        return;
    }
    if (f->len >= 2) {
        code = (unsigned char)f->data[0] << 8 | (unsigned char)f->data[1];
        if (!close_code_ok(code)) {
            ws_fail(c, 1002, "invalid close code");
            return;
        }
        if (!utf8_valid((const unsigned char *)f->data + 2, f->len - 2)) {
            ws_fail(c, 1007, "invalid UTF-8 in the close reason");
            return;
        }
    }
    ws_log_conn(c, "close", code);
    if (!c->ws.close_sent) {
        ws_frame(c, OP_CLOSE, 1, "", 0, f->data, f->len);
        c->ws.close_sent = 1;
    }
    conn_linger(c);
}

static void ws_on_frame(conn_t *c, const ws_frame_t *f)
{
    switch (f->opcode) {
    case OP_TEXT:
    case OP_BINARY:
        if (c->ws.msg_opcode) {
            ws_fail(c, 1002, "new data frame inside a fragmented message");
        } else if (f->fin) {
            ws_on_message(c, f->opcode, f->data, f->len);
        } else {
            c->ws.msg_opcode = f->opcode;
            tt_buf_reset(&c->ws.msg);
            tt_buf_append(&c->ws.msg, f->data, f->len);
        }
        break;
    case OP_CONT:
        if (!c->ws.msg_opcode) {
            ws_fail(c, 1002, "continuation frame without a message");
        } else if (c->ws.msg.len + f->len > WS_MSG_LIMIT) {
            ws_fail(c, 1009, "message too big");
        } else {
            tt_buf_append(&c->ws.msg, f->data, f->len);
            if (f->fin) {
                int op = c->ws.msg_opcode;
                c->ws.msg_opcode = 0;
                ws_on_message(c, op, c->ws.msg.data, c->ws.msg.len);
            }
        }
        break;
    case OP_PING:
        ws_frame(c, OP_PONG, 1, "", 0, f->data, f->len);
        break;
    case OP_PONG:
        break;
    default:
        ws_on_close(c, f);
        break;
    }
}

/* Parse and act on every whole frame buffered. */
static void ws_process(conn_t *c)
{
    while (c->state == C_WS) {
        ws_frame_t f;
        size_t used = 0;
        const char *why = NULL;
        int rc = ws_parse(c->in.data ? c->in.data + c->in_off : NULL, c->in.len - c->in_off, &f,
                          &used, &why);
        if (rc == 0)
            break;
        if (rc < 0) {
            ws_fail(c, -rc, why);
            break;
        }
        c->in_off += used;
        ws_on_frame(c, &f);
    }
    if (c->in_off == c->in.len) {
        tt_buf_reset(&c->in);
        c->in_off = 0;
    }
    if (c->state == C_WS && c->peer_eof) {
        ws_log_conn(c, "eof", 0);
        conn_linger(c);
    }
    if (c->state != C_CLOSED)
        conn_read_update(c);
}

/* What is wrong with the handshake request, as (status, extra header line,
 * reason), or NULL if nothing; *key gets the Sec-WebSocket-Key. A missing
 * upgrade or an unknown version is 426 (RFC 6455 4.2.2), the rest 400. */
static const char *ws_check(conn_t *c, tt_buf_t *key, int *status, const char **extra)
{
    tt_buf_t v = TT_BUF_INIT;
    unsigned char raw[64];
    size_t olen = 0;
    const char *why = NULL;
    *status = 400;
    *extra = "";
    if (c->parser.method != HTTP_GET) {
        why = "websocket handshake must be GET";
        *status = 405;
        *extra = "Allow: GET\r\n";
    } else if (c->http10) {
        why = "websocket handshake needs HTTP/1.1";
    } else if (!head_values(&c->head, "Upgrade", &v) || !has_item(v.data, "websocket")) {
        why = "websocket upgrade required";
        *status = 426;
        *extra = "Upgrade: websocket\r\n";
    } else if (!head_values(&c->head, "Connection", &v) || !has_item(v.data, "upgrade")) {
        why = "Connection: upgrade missing";
    } else if (head_values(&c->head, "Sec-WebSocket-Version", &v) != 1 ||
               strcmp(v.data, "13") != 0) {
        why = "unsupported Sec-WebSocket-Version";
        *status = 426;
        *extra = "Sec-WebSocket-Version: 13\r\n";
    } else if (head_values(&c->head, "Sec-WebSocket-Key", key) != 1 ||
               mbedtls_base64_decode(raw, sizeof raw, &olen, (const unsigned char *)key->data,
                                     key->len) != 0 ||
               olen != 16) {
        why = "bad Sec-WebSocket-Key";
    }
    tt_buf_free(&v);
    return why;
}

/* base64(SHA-1(key GUID)) into out (29 bytes). */
static void ws_accept_value(const tt_buf_t *key, char *out)
{
    unsigned char digest[20];
    size_t olen = 0;
    tt_buf_t in = TT_BUF_INIT;
    tt_buf_append(&in, key->data, key->len);
    tt_buf_appends(&in, WS_GUID);
    mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), (const unsigned char *)in.data, in.len,
               digest);
    mbedtls_base64_encode((unsigned char *)out, 29, &olen, digest, sizeof digest);
    out[olen] = '\0';
    tt_buf_free(&in);
}

/* ?close=CODE[&reason=TEXT]: close right after the handshake. */
static void ws_close_param(conn_t *c, const char *q)
{
    const char *v, *ve;
    uint64_t code;
    tt_buf_t reason = TT_BUF_INIT;
    ws_out_t o = {c, NULL, ""};
    if (!query_param(q, "close", &v, &ve) || parse_u64(v, ve, 65535, &code) < 0)
        return;
    if (query_param(q, "reason", &v, &ve))
        pct_decode(&reason, v, ve);
    out_close(&o, (int)code, reason.data ? reason.data : "", reason.len);
    tt_buf_free(&reason);
}

/* /ws: check the opening handshake, answer 101 and switch to C_WS. */
static void ws_handshake(conn_t *c)
{
    const char *path, *pe, *q, *extra, *v, *ve;
    tt_buf_t key = TT_BUF_INIT, h = TT_BUF_INIT, ext = TT_BUF_INIT;
    int status, reject;
    char accept[32];
    url_split(c, &path, &pe, &q);
    const char *why = ws_check(c, &key, &status, &extra);
    if ((reject = reject_status(q)) != 0 || why) {
        tt_buf_free(&key);
        if (reject)
            respond_reject(c, reject);
        else
            respond_simple(c, status, extra, why, strlen(why));
        return;
    }
    ws_accept_value(&key, accept);
    head_begin(c, &h, 101);
    tt_buf_appendf(&h, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                   accept);
    echo_protocol(c, &h);
    tt_buf_appends(&c->ws.prefix, "");
    if (query_param(q, "grip", &v, &ve) && ve - v == 1 && *v == '1' &&
        head_values(&c->head, "Sec-WebSocket-Extensions", &ext) && has_item(ext.data, "grip"))
        grip_prefix(q, &c->ws.prefix, &h);
    query_headers(c, q, &h);
    c->user_connection = 1; /* the Connection header is ours */
    head_end(c, &h);
    conn_write(c, &h);
    c->state = C_WS;
    ws_log_conn(c, "open", 0);
    ws_close_param(c, q);
    tt_buf_free(&key);
    tt_buf_free(&ext);
    ws_process(c);
}

/* ---- /wsoh: WebSocket-over-HTTP (pushpin.org/docs/protocols/websocket-over-http) ---- */

typedef struct {
    char name[16];
    const char *data; /* NULL when the event has no content */
    size_t len;
} wsoh_event_t;

/* One event at *p: "NAME\r\n" or "NAME <hex length>\r\n<content>\r\n".
 * Returns 0 and advances *p, or -1 if malformed. */
static int wsoh_parse(const char **p, const char *e, wsoh_event_t *ev)
{
    const char *s = *p, *nl = s;
    while (nl + 1 < e && !(nl[0] == '\r' && nl[1] == '\n'))
        nl++;
    if (nl + 1 >= e)
        return -1;
    const char *sp = memchr(s, ' ', (size_t)(nl - s));
    const char *ne = sp ? sp : nl;
    if (ne == s || (size_t)(ne - s) >= sizeof ev->name)
        return -1;
    memcpy(ev->name, s, (size_t)(ne - s));
    ev->name[ne - s] = '\0';
    ev->data = NULL;
    ev->len = 0;
    *p = nl + 2;
    if (!sp)
        return 0;
    if (nl - sp < 2 || nl - sp > 9)
        return -1;
    for (const char *h = sp + 1; h < nl; h++) {
        if (hexval((unsigned char)*h) < 0)
            return -1;
        ev->len = ev->len * 16 + (size_t)hexval((unsigned char)*h);
    }
    if ((size_t)(e - *p) < ev->len + 2 || memcmp(*p + ev->len, "\r\n", 2) != 0)
        return -1;
    ev->data = *p;
    *p += ev->len + 2;
    return 0;
}

/* Act on one event; 0, or -1 for an unknown event. *open notes OPEN. */
static int wsoh_event(ws_out_t *o, const wsoh_event_t *ev, const char *cid, int *open)
{
    const char *d = ev->data ? ev->data : "";
    int code = 0;
    if (strcmp(ev->name, "CLOSE") == 0 && ev->len >= 2)
        code = (unsigned char)d[0] << 8 | (unsigned char)d[1];
    ws_log_add("wsoh", cid, ev->name, code);
    if (strcmp(ev->name, "OPEN") == 0) {
        *open = 1;
        tt_buf_appends(o->events, "OPEN\r\n");
    } else if (strcmp(ev->name, "TEXT") == 0) {
        if (!ws_command(o, d, ev->len))
            out_send(o, OP_TEXT, o->prefix, d, ev->len);
    } else if (strcmp(ev->name, "BINARY") == 0) {
        out_send(o, OP_BINARY, o->prefix, d, ev->len);
    } else if (strcmp(ev->name, "PING") == 0) {
        out_send(o, OP_PONG, "", d, ev->len);
    } else if (strcmp(ev->name, "CLOSE") == 0) {
        out_send(o, OP_CLOSE, "", d, ev->len);
    } else if (strcmp(ev->name, "PONG") != 0 && strcmp(ev->name, "DISCONNECT") != 0) {
        return -1;
    }
    return 0;
}

/* The response headers: Content-Type always; on OPEN the grip extension,
 * meta, protocol and h= headers; Keep-Alive-Interval when asked. */
static void wsoh_headers(conn_t *c, const char *q, int open, tt_buf_t *prefix, tt_buf_t *hdrs)
{
    const char *v, *ve;
    int grip = !(query_param(q, "grip", &v, &ve) && ve - v == 1 && *v == '0');
    tt_buf_t discard = TT_BUF_INIT;
    tt_buf_appends(hdrs, "Content-Type: application/websocket-events\r\n");
    tt_buf_reset(prefix);
    tt_buf_appends(prefix, "");
    if (grip)
        grip_prefix(q, prefix, open ? hdrs : &discard);
    if (query_param(q, "kai", &v, &ve)) {
        tt_buf_appends(hdrs, "Keep-Alive-Interval: ");
        tt_buf_append(hdrs, v, (size_t)(ve - v));
        tt_buf_appends(hdrs, "\r\n");
    }
    if (open && query_param(q, "meta", &v, &ve) && ve - v == 1 && *v == '1')
        tt_buf_appends(hdrs, "Set-Meta-User: alice\r\n");
    if (open) {
        echo_protocol(c, hdrs);
        query_headers(c, q, hdrs);
    }
    tt_buf_free(&discard);
}

/* Run the events of the body into `out`. Returns NULL, or why it failed. */
static const char *wsoh_run(conn_t *c, ws_out_t *o, int *open)
{
    tt_buf_t cid = TT_BUF_INIT;
    const char *p = c->body.data ? c->body.data : "", *e = p + c->body.len, *why = NULL;
    if (!head_values(&c->head, "Connection-Id", &cid))
        tt_buf_appends(&cid, "-");
    int events = 0;
    while (p < e && !why) {
        wsoh_event_t ev;
        if (wsoh_parse(&p, e, &ev) < 0)
            why = "malformed websocket-events body";
        else if (wsoh_event(o, &ev, cid.data, open) < 0)
            why = "unknown websocket event";
        events++;
    }
    /* "wsoh <cid> REQUEST <n>": how many events the request carried. */
    ws_log_add("wsoh", cid.data, "REQUEST", events);
    tt_buf_free(&cid);
    return why;
}

static void wsoh_respond(conn_t *c)
{
    const char *path, *pe, *q;
    tt_buf_t ct = TT_BUF_INIT, out = TT_BUF_INIT, hdrs = TT_BUF_INIT, prefix = TT_BUF_INIT;
    int open = 0, reject;
    url_split(c, &path, &pe, &q);
    head_values(&c->head, "Content-Type", &ct);
    if (c->parser.method != HTTP_POST) {
        respond_simple(c, 405, "Allow: POST\r\n", "POST only", 9);
    } else if (strcmp(ct.data, "application/websocket-events") != 0) {
        respond_text(c, 415, "expected Content-Type: application/websocket-events");
    } else if (c->too_large) {
        c->close_after = 1;
        respond_text(c, 413, "too large");
    } else {
        /* The prefix is the same for every request of the connection: the
         * query says it, as the OPEN answer told the proxy. */
        wsoh_headers(c, q, 0, &prefix, &hdrs);
        ws_out_t o = {c, &out, prefix.data};
        const char *why = wsoh_run(c, &o, &open);
        if (why) {
            respond_text(c, 400, why);
        } else if (open && (reject = reject_status(q)) != 0) {
            respond_reject(c, reject);
        } else {
            tt_buf_reset(&hdrs);
            wsoh_headers(c, q, open, &prefix, &hdrs);
            respond_simple(c, 200, hdrs.data, out.data ? out.data : "", out.len);
        }
    }
    tt_buf_free(&ct);
    tt_buf_free(&out);
    tt_buf_free(&hdrs);
    tt_buf_free(&prefix);
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
    case R_WS:
        ws_handshake(c);
        break;
    case R_WSOH:
        wsoh_respond(c);
        break;
    case R_WSLOG:
        respond_simple(c, 200, "Content-Type: text/plain\r\n", ws_log.data ? ws_log.data : "",
                       ws_log.len);
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
    } else if ((c->route == R_ECHO || c->route == R_WSOH) && !c->too_large) {
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
    else if (c->state == C_WS)
        ws_process(c);
    else
        conn_process(c);
}

/* Read while there is room for input (and always while lingering). */
static void conn_read_update(conn_t *c)
{
    /* A WebSocket frame is parsed only once it is whole, so the input may
     * have to hold the largest frame accepted. */
    size_t limit = c->state == C_WS ? WS_IN_LIMIT : IN_LIMIT;
    int want = c->state == C_LINGER ||
               (!c->peer_eof && c->state != C_CLOSED && c->in.len - c->in_off < limit &&
                !(c->state == C_WS && c->inflight >= WS_MAX_INFLIGHT));
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
    tt_buf_free(&c->ws.prefix);
    tt_buf_free(&c->ws.msg);
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
