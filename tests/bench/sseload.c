/* sseload: fan-out load client for tests/bench/fanout.sh.
 *
 * Opens N HTTP/1.1 keep-alive GETs to a streaming URL (an HTTP stream or an
 * EventSource), waits until each has seen its "subscribed" marker, then
 * publishes messages itself (HTTP POST, GRIP JSON or a raw body) and times
 * when each connection sees each message.
 *
 * With --ws the GETs are WebSocket handshakes (RFC 6455, one fixed key): a
 * connection counts as subscribed once its 101 with the right
 * Sec-WebSocket-Accept has ended. Server frames are parsed minimally (header
 * bytes, opcode, payload length left): the token parser sees only the payload
 * of data frames; a close frame from the server counts as closed, pings are
 * counted and not answered. The client sends nothing after the handshake, so
 * it never masks anything. GRIP publishes then carry "ws-message" items.
 *
 * Every published message carries a token: "#r<k>#" for round k, "#b<k>#" for
 * burst message k. Connections keep no buffers: a few bytes of parser state
 * each (status code, marker position, token parser), fed byte by byte, so a
 * token or marker split across reads is still found. The read buffer is one
 * static buffer shared by all connections.
 *
 * Phases:
 *   1. connect N (at most --conc connecting or not yet subscribed at once);
 *   2. --ready-file is written once all are subscribed (or failed); then wait
 *      for --go-file (the caller measures the proxy's memory meanwhile) or
 *      --hold seconds;
 *   3. R rounds: t0, one publish, wait until every connection has the token
 *      (or --round-timeout), --gap ms pause;
 *   4. burst: M publishes back to back (one request each, the next sent as
 *      soon as the previous is answered, or all M items in one request with
 *      --burst-mode batch), then wait until every connection has all M
 *      tokens (or --burst-timeout).
 *
 * Beyond --per-proc connections the subscribers are split across child
 * processes (the per-process open-file limit); they write arrival times into
 * shared memory, and the parent process only publishes and counts. Times are
 * CLOCK_MONOTONIC (uv_hrtime), common to all processes.
 *
 * Output: per-round lines on stderr, and one "RESULT key=value ..." line on
 * stdout. Build: cc -O2 -o sseload sseload.c $(pkg-config --cflags --libs libuv)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---------------------------------------------------------------- options */
static const char *o_host = "127.0.0.1";
static int o_port;
static const char *o_path = "/stream";
static const char *o_accept; /* Accept header of the GETs, or none */
static const char *o_marker = "[stream open]";
static long o_conns = 1000;
static int o_conc = 256;
static int o_retries = 5; /* a subscription that fails is tried again this often */
static long o_per_proc = 15000;
static int o_src_count = 1; /* source addresses 127.0.0.1 .. 127.0.0.K */
static int o_pub_port;
static const char *o_pub_path = "/publish/";
static const char *o_pub_mode = "grip"; /* grip | raw */
static const char *o_channel = "test";
static int o_rounds = 20;
static int o_burst = 100;
static const char *o_burst_mode = "each"; /* each | batch */
static int o_payload = 32;                /* padding bytes after the token */
static double o_connect_timeout = 120, o_round_timeout = 10, o_burst_timeout = 60;
static double o_hold = 3, o_go_timeout = 300;
static int o_gap_ms = 100;
static const char *o_ready_file, *o_go_file;
static int o_ws; /* WebSocket subscribers instead of HTTP streams */

/* The RFC 6455 example key and its accept value: every connection uses it. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* ---------------------------------------------------------------- shared state */
typedef struct {
    _Atomic uint64_t ready, failed, closed, bytes;
    _Atomic uint64_t burst_got, burst_done, dups, stray, retries;
    _Atomic uint64_t ws_close, ws_ping, ws_bad; /* frames from the server (--ws) */
    _Atomic int stop;
    _Atomic uint64_t burst_t0; /* 0 until the burst starts */
    char first_error[128];
    _Atomic int first_error_set;
} shm_hdr_t;

static shm_hdr_t *S;
static _Atomic uint64_t *round_got; /* [R] */
static _Atomic uint64_t *t0;        /* [R] publish time of round k, 0 until then */
static uint64_t *arr;               /* [R][N] arrival of round k at conn i (0 = not yet) */
static uint64_t *burst_last;        /* [N] arrival of the conn's last new burst token */
static uint8_t *burst_bits;         /* [N][bw] */
static size_t bw;                   /* bytes of burst bitmap per connection */

static void *shm_alloc(size_t n)
{
    if (n == 0)
        n = 1;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}

static void set_error(const char *fmt, const char *a)
{
    int z = 0;
    if (atomic_compare_exchange_strong(&S->first_error_set, &z, 1))
        snprintf(S->first_error, sizeof S->first_error, fmt, a);
}

/* ---------------------------------------------------------------- subscribers */
enum { C_CONNECTING, C_HEAD, C_WAIT_MARK, C_WS_HEAD, C_READY, C_DONE, C_RETRY };

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uint32_t idx; /* global index */
    uint8_t st;
    uint8_t hs;     /* status line: 0 before the space, 1..3 digits, 4 done */
    uint16_t status;
    uint8_t mpos;   /* marker bytes matched */
    uint8_t tstate; /* token: 0 outside, 1 after '#', 2 in digits */
    char ttype;
    uint8_t tdig;
    uint32_t tnum;
    uint32_t bcount; /* distinct burst tokens */
    uint8_t tries;   /* failed attempts to subscribe */
    /* --ws: handshake and frame parser */
    uint8_t accepted; /* Sec-WebSocket-Accept value seen in the 101 */
    uint8_t epos;     /* bytes of "\r\n\r\n" matched (end of the 101) */
    uint8_t fh;       /* frame header bytes read; 0 = at a frame's start */
    uint8_t fneed;    /* header bytes of this frame (2, 4 or 10) */
    uint8_t fop;      /* opcode of the frame being read */
    uint64_t flen;    /* payload bytes: being summed up, then left to read */
    uint64_t due;     /* when a retry may start */
} conn_t;

static uv_loop_t *loop;
static conn_t *conns;
static long c_first, c_count, c_next, c_inflight;
static char req_get[1024];
static size_t req_get_len;
static size_t marker_len;
static struct sockaddr_in dst;

static void start_more(void);
static void start_conn(conn_t *c);

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* Failed subscriptions wait here (FIFO, at most one entry per connection)
 * for their retry: some servers refuse new streams under a connection storm
 * (Pushpin answers 500 "Accept service unavailable"). */
static conn_t **retryq;
static size_t rq_head, rq_len;
static uv_timer_t retry_timer;

static void on_closed_retry(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->due = uv_hrtime() + (uint64_t)c->tries * 100000000u; /* 100 ms per failed try */
    retryq[(rq_head + rq_len++) % (size_t)c_count] = c;
}

static void on_retry_timer(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_hrtime();
    while (rq_len && c_inflight < o_conc && retryq[rq_head]->due <= now) {
        conn_t *c = retryq[rq_head];
        rq_head = (rq_head + 1) % (size_t)c_count;
        rq_len--;
        c->hs = 0;
        c->status = 0;
        c->mpos = 0;
        c->tstate = 0;
        c->accepted = c->epos = c->fh = 0;
        start_conn(c);
    }
    start_more();
}

static void conn_finish(conn_t *c, int failed)
{
    if (c->st == C_DONE || c->st == C_RETRY)
        return;
    int was_ready = c->st == C_READY;
    if (!was_ready && failed && c->tries < o_retries && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        c->tries++;
        c->st = C_RETRY;
        c_inflight--;
        atomic_fetch_add(&S->retries, 1);
        uv_close((uv_handle_t *)&c->tcp, on_closed_retry);
        start_more();
        return;
    }
    c->st = C_DONE;
    if (!was_ready) {
        c_inflight--;
        if (failed)
            atomic_fetch_add(&S->failed, 1);
    } else {
        atomic_fetch_add(&S->closed, 1);
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (!was_ready)
        start_more();
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char rbuf[65536];
    (void)h;
    (void)sz;
    b->base = rbuf;
    b->len = sizeof rbuf;
}

static void on_token(conn_t *c, char type, uint32_t k, uint64_t now)
{
    size_t N = (size_t)o_conns;
    if (type == 'r') {
        /* a token of a round not started yet (e.g. a message the server
         * replays from its history) is not a delivery */
        if (k >= (uint32_t)o_rounds || !atomic_load_explicit(&t0[k], memory_order_acquire)) {
            atomic_fetch_add_explicit(&S->stray, 1, memory_order_relaxed);
            return;
        }
        uint64_t *slot = &arr[(size_t)k * N + c->idx];
        if (*slot) {
            atomic_fetch_add_explicit(&S->dups, 1, memory_order_relaxed);
            return;
        }
        *slot = now;
        atomic_fetch_add_explicit(&round_got[k], 1, memory_order_release);
    } else {
        if (k >= (uint32_t)o_burst || !atomic_load_explicit(&S->burst_t0, memory_order_acquire)) {
            atomic_fetch_add_explicit(&S->stray, 1, memory_order_relaxed);
            return;
        }
        uint8_t *bits = burst_bits + (size_t)c->idx * bw;
        uint8_t m = (uint8_t)(1u << (k & 7));
        if (bits[k >> 3] & m) {
            atomic_fetch_add_explicit(&S->dups, 1, memory_order_relaxed);
            return;
        }
        bits[k >> 3] |= m;
        burst_last[c->idx] = now;
        atomic_fetch_add_explicit(&S->burst_got, 1, memory_order_release);
        if (++c->bcount == (uint32_t)o_burst)
            atomic_fetch_add_explicit(&S->burst_done, 1, memory_order_release);
    }
}

/* Feed bytes of a subscribed connection through the token parser. */
static void scan_tokens(conn_t *c, const char *p, const char *end, uint64_t now)
{
    while (p < end) {
        if (c->tstate == 0) {
            const char *h = memchr(p, '#', (size_t)(end - p));
            if (!h)
                return;
            p = h + 1;
            c->tstate = 1;
            continue;
        }
        char ch = *p++;
        if (c->tstate == 1) {
            if (ch == 'r' || ch == 'b') {
                c->ttype = ch;
                c->tstate = 2;
                c->tnum = 0;
                c->tdig = 0;
            } else if (ch != '#') {
                c->tstate = 0;
            }
        } else { /* digits */
            if (ch >= '0' && ch <= '9' && c->tdig < 9) {
                c->tnum = c->tnum * 10 + (uint32_t)(ch - '0');
                c->tdig++;
            } else if (ch == '#' && c->tdig > 0) {
                on_token(c, c->ttype, c->tnum, now);
                c->tstate = 0;
            } else {
                c->tstate = ch == '#' ? 1 : 0;
            }
        }
    }
}

/* --ws: walk the server's frames, handing data-frame payloads to the token
 * parser. Returns 0, or -1 when the connection is to be closed (a close frame
 * or a frame a server may not send). */
static int scan_frames(conn_t *c, const char *p, const char *end, uint64_t now)
{
    while (p < end) {
        if (c->fh < 2 || c->fh < c->fneed) { /* header bytes */
            uint8_t ch = (uint8_t)*p++;
            if (c->fh == 0) {
                c->fop = ch & 0x0f;
                c->flen = 0;
                c->fneed = 2;
            } else if (c->fh == 1) {
                if (ch & 0x80) { /* masked: servers never mask */
                    atomic_fetch_add_explicit(&S->ws_bad, 1, memory_order_relaxed);
                    set_error("masked frame from the server%s", "");
                    return -1;
                }
                uint8_t l7 = ch & 0x7f;
                if (l7 == 126)
                    c->fneed = 4;
                else if (l7 == 127)
                    c->fneed = 10;
                else
                    c->flen = l7;
            } else {
                c->flen = (c->flen << 8) | ch;
            }
            c->fh++;
            if (c->fh < c->fneed)
                continue;
            /* header complete */
            switch (c->fop) {
            case 0x1: case 0x2: /* a new message: no token carries over */
                c->tstate = 0;
                break;
            case 0x0: /* continuation */
                break;
            case 0x8:
                atomic_fetch_add_explicit(&S->ws_close, 1, memory_order_relaxed);
                return -1;
            case 0x9:
                atomic_fetch_add_explicit(&S->ws_ping, 1, memory_order_relaxed);
                break;
            case 0xa:
                break;
            default:
                atomic_fetch_add_explicit(&S->ws_bad, 1, memory_order_relaxed);
                set_error("frame with a reserved opcode from the server%s", "");
                return -1;
            }
            if (c->flen == 0)
                c->fh = 0;
            continue;
        }
        /* payload */
        size_t take = (size_t)(end - p);
        if ((uint64_t)take > c->flen)
            take = (size_t)c->flen;
        if (c->fop <= 0x2)
            scan_tokens(c, p, p + take, now);
        p += take;
        c->flen -= take;
        if (c->flen == 0)
            c->fh = 0;
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn_t *c = s->data;
    if (n < 0) {
        if (c->st != C_READY)
            set_error("connection closed before subscribed: %s", uv_strerror((int)n));
        conn_finish(c, 1);
        return;
    }
    if (n == 0)
        return;
    uint64_t now = uv_hrtime();
    atomic_fetch_add_explicit(&S->bytes, (uint64_t)n, memory_order_relaxed);
    const char *p = b->base, *end = b->base + n;
    while (c->st == C_HEAD && p < end) {
        char ch = *p++;
        if (c->hs == 0) {
            if (ch == ' ')
                c->hs = 1;
        } else if (c->hs <= 3) {
            if (ch < '0' || ch > '9') {
                set_error("bad status line%s", "");
                conn_finish(c, 1);
                return;
            }
            c->status = (uint16_t)(c->status * 10 + (ch - '0'));
            if (++c->hs == 4) {
                if (c->status != (o_ws ? 101 : 200)) {
                    char code[8];
                    snprintf(code, sizeof code, "%u", c->status);
                    set_error("GET answered %s", code);
                    conn_finish(c, 1);
                    return;
                }
                c->st = o_ws ? C_WS_HEAD : C_WAIT_MARK;
            }
        }
    }
    /* --ws: the 101's headers, until the blank line; the accept value must
     * be among them */
    static const char ws_accept[] = WS_ACCEPT;
    while (c->st == C_WS_HEAD && p < end) {
        char ch = *p++;
        if (!c->accepted) {
            if (ch == ws_accept[c->mpos]) {
                if (++c->mpos == sizeof ws_accept - 1)
                    c->accepted = 1;
            } else {
                c->mpos = ch == ws_accept[0] ? 1 : 0;
            }
        }
        if (ch == "\r\n\r\n"[c->epos]) {
            if (++c->epos == 4) {
                if (!c->accepted) {
                    set_error("101 without Sec-WebSocket-Accept: %s", WS_ACCEPT);
                    conn_finish(c, 1);
                    return;
                }
                c->st = C_READY;
                c_inflight--;
                atomic_fetch_add(&S->ready, 1);
                start_more();
            }
        } else {
            c->epos = ch == '\r' ? 1 : 0;
        }
    }
    while (c->st == C_WAIT_MARK && p < end) {
        char ch = *p++;
        if (ch == o_marker[c->mpos]) {
            if (++c->mpos == marker_len) {
                c->st = C_READY;
                c_inflight--;
                atomic_fetch_add(&S->ready, 1);
                start_more();
            }
        } else {
            c->mpos = ch == o_marker[0] ? 1 : 0;
        }
    }
    if (c->st == C_READY) {
        if (!o_ws)
            scan_tokens(c, p, end, now);
        else if (scan_frames(c, p, end, now) < 0)
            conn_finish(c, 0);
    }
}

static void on_write_done(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    free(w);
    if (status < 0 && c->st != C_DONE) {
        set_error("write: %s", uv_strerror(status));
        conn_finish(c, 1);
    }
}

static void on_connect(uv_connect_t *r, int status)
{
    conn_t *c = r->data;
    if (status < 0) {
        set_error("connect: %s", uv_strerror(status));
        conn_finish(c, 1);
        return;
    }
    c->st = C_HEAD;
    uv_buf_t b = uv_buf_init(req_get, (unsigned)req_get_len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w < 0 && w != UV_EAGAIN) {
        set_error("write: %s", uv_strerror(w));
        conn_finish(c, 1);
        return;
    }
    if (w < (int)req_get_len) {
        size_t off = w > 0 ? (size_t)w : 0;
        uv_write_t *wr = malloc(sizeof *wr);
        wr->data = c;
        b = uv_buf_init(req_get + off, (unsigned)(req_get_len - off));
        uv_write(wr, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void start_conn(conn_t *c)
{
    c->st = C_CONNECTING;
    int rc = uv_tcp_init_ex(loop, &c->tcp, AF_INET);
    if (rc < 0) {
        set_error("socket: %s", uv_strerror(rc));
        c->st = C_DONE;
        atomic_fetch_add(&S->failed, 1);
        return;
    }
    c->tcp.data = c;
    c->creq.data = c;
    c_inflight++;
    if (o_src_count > 1) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        }
        struct sockaddr_in src;
        char a[32];
        snprintf(a, sizeof a, "127.0.0.%d", 1 + (int)(c->idx % (uint32_t)o_src_count));
        uv_ip4_addr(a, 0, &src);
        rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
        if (rc < 0) {
            set_error("bind: %s", uv_strerror(rc));
            conn_finish(c, 1);
            return;
        }
    }
    rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&dst, on_connect);
    if (rc < 0) {
        set_error("connect: %s", uv_strerror(rc));
        conn_finish(c, 1);
    }
}

static void start_more(void)
{
    while (c_next < c_count && c_inflight < o_conc && rq_len == 0)
        start_conn(&conns[c_next++]);
}

static void subscribers_start(long first, long count)
{
    c_first = first;
    c_count = count;
    conns = calloc((size_t)(count ? count : 1), sizeof *conns);
    if (!conns) {
        fprintf(stderr, "sseload: out of memory\n");
        exit(2);
    }
    for (long i = 0; i < count; i++)
        conns[i].idx = (uint32_t)(first + i);
    retryq = calloc((size_t)(count ? count : 1), sizeof *retryq);
    uv_timer_init(loop, &retry_timer);
    uv_timer_start(&retry_timer, on_retry_timer, 10, 10);
    uv_unref((uv_handle_t *)&retry_timer);
    start_more();
}

/* Child process: subscribers only, until the parent says stop. */
static void on_child_tick(uv_timer_t *t)
{
    if (atomic_load(&S->stop) || getppid() == 1)
        uv_stop(t->loop);
}

/* ---------------------------------------------------------------- publisher */
typedef void (*pub_cb)(int status);

static struct {
    uv_tcp_t *tcp; /* one per connection: a closing one is never reused */
    int state; /* 0 none, 1 connecting, 2 open */
    char *req;
    size_t req_len;
    char rb[65536];
    size_t rlen;
    pub_cb cb;
    int busy;
} P;
static struct sockaddr_in pub_dst;

static void pub_complete(int status)
{
    pub_cb cb = P.cb;
    P.busy = 0;
    free(P.req);
    P.req = NULL;
    P.cb = NULL;
    if (cb)
        cb(status);
}

static void pub_on_close(uv_handle_t *h)
{
    free(h);
}

static void pub_drop(void)
{
    if (P.state == 1 || P.state == 2) {
        uv_close((uv_handle_t *)P.tcp, pub_on_close);
        P.tcp = NULL;
        P.state = 0;
    }
    P.rlen = 0;
}

static void pub_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    (void)sz;
    if (P.rlen >= sizeof P.rb - 1)
        P.rlen = 0; /* oversized answer: only the head matters */
    b->base = P.rb + P.rlen;
    b->len = sizeof P.rb - 1 - P.rlen;
}

/* Is a whole response in P.rb? Returns its status (>0), 0 if not yet. */
static int pub_parse(int eof, int *close_after)
{
    P.rb[P.rlen] = 0;
    char *he = strstr(P.rb, "\r\n\r\n");
    if (!he)
        return 0;
    int status = 0;
    if (sscanf(P.rb, "HTTP/%*s %d", &status) != 1)
        status = -2;
    long clen = -1;
    int chunked = 0;
    *close_after = 0;
    for (char *l = strstr(P.rb, "\r\n"); l && l < he; l = strstr(l + 2, "\r\n")) {
        char *h = l + 2;
        if (strncasecmp(h, "content-length:", 15) == 0)
            clen = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strstr(h, "chunked") &&
                 strstr(h, "chunked") < strstr(h, "\r\n"))
            chunked = 1;
        else if (strncasecmp(h, "connection:", 11) == 0 && strncasecmp(h + 11, " close", 6) == 0)
            *close_after = 1;
    }
    const char *body = he + 4;
    size_t have = P.rlen - (size_t)(body - P.rb);
    if (clen >= 0)
        return have >= (size_t)clen ? status : 0;
    if (chunked)
        return (strstr(body, "\r\n0\r\n\r\n") || strncmp(body, "0\r\n\r\n", 5) == 0) ? status
                                                                                     : 0;
    *close_after = 1;
    return eof ? status : 0;
}

static void pub_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if ((uv_tcp_t *)s != P.tcp)
        return; /* a dropped connection's last read */
    int close_after = 0, st;
    if (n < 0) {
        st = P.busy ? pub_parse(1, &close_after) : 0;
        pub_drop();
        if (P.busy)
            pub_complete(st > 0 ? st : -1);
        return;
    }
    P.rlen += (size_t)n;
    if (!P.busy)
        return;
    st = pub_parse(0, &close_after);
    if (st == 0)
        return;
    P.rlen = 0;
    if (close_after)
        pub_drop();
    pub_complete(st);
}

static void pub_on_write(uv_write_t *w, int status)
{
    int mine = w->handle == (uv_stream_t *)P.tcp;
    free(w);
    if (!mine)
        return;
    if (status < 0 && P.busy) {
        pub_drop();
        pub_complete(-1);
    }
}

static void pub_send(void)
{
    uv_buf_t b = uv_buf_init(P.req, (unsigned)P.req_len);
    uv_write_t *w = malloc(sizeof *w);
    uv_write(w, (uv_stream_t *)P.tcp, &b, 1, pub_on_write);
}

static void pub_on_connect(uv_connect_t *r, int status)
{
    int mine = r->handle == (uv_stream_t *)P.tcp;
    free(r);
    if (!mine)
        return;
    if (status < 0) {
        fprintf(stderr, "sseload: publish connect: %s\n", uv_strerror(status));
        pub_drop();
        pub_complete(-1);
        return;
    }
    P.state = 2;
    uv_read_start((uv_stream_t *)P.tcp, pub_alloc, pub_on_read);
    pub_send();
}

/* POST body to the publish URL; cb(status) once answered (-1 on failure). */
static void publish(const char *body, size_t len, pub_cb cb)
{
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      o_pub_path, o_host, o_pub_port,
                      strcmp(o_pub_mode, "grip") == 0 ? "application/json" : "text/plain", len);
    P.req = malloc((size_t)hl + len);
    memcpy(P.req, head, (size_t)hl);
    memcpy(P.req + hl, body, len);
    P.req_len = (size_t)hl + len;
    P.cb = cb;
    P.busy = 1;
    P.rlen = 0;
    if (P.state == 2) {
        pub_send();
        return;
    }
    P.tcp = malloc(sizeof *P.tcp);
    uv_tcp_init(loop, P.tcp);
    uv_tcp_nodelay(P.tcp, 1);
    P.state = 1;
    uv_connect_t *cr = malloc(sizeof *cr);
    int rc = uv_tcp_connect(cr, P.tcp, (const struct sockaddr *)&pub_dst, pub_on_connect);
    if (rc < 0) {
        free(cr);
        fprintf(stderr, "sseload: publish connect: %s\n", uv_strerror(rc));
        pub_drop();
        pub_complete(-1);
    }
}

/* The message bodies. */
static void content_of(char type, int k, char *out, size_t cap)
{
    int n = snprintf(out, cap, "#%c%d# ", type, k);
    for (int i = 0; i < o_payload && (size_t)n + 2 < cap; i++)
        out[n++] = 'x';
    out[n] = 0;
}

static char *body_of(char type, int first, int count, size_t *len)
{
    int grip = strcmp(o_pub_mode, "grip") == 0;
    size_t cap = (size_t)count * ((size_t)o_payload + 160) + 64;
    char *b = malloc(cap), c[4096];
    size_t n = 0;
    if (grip)
        n += (size_t)snprintf(b + n, cap - n, "{\"items\":[");
    for (int k = first; k < first + count; k++) {
        content_of(type, k, c, sizeof c);
        if (grip && o_ws) /* one WebSocket text message per item */
            n += (size_t)snprintf(b + n, cap - n,
                                  "%s{\"channel\":\"%s\",\"formats\":{\"ws-message\":"
                                  "{\"content\":\"%s\"}}}",
                                  k > first ? "," : "", o_channel, c);
        else if (grip)
            n += (size_t)snprintf(b + n, cap - n,
                                  "%s{\"channel\":\"%s\",\"formats\":{\"http-stream\":"
                                  "{\"content\":\"%s\\n\"}}}",
                                  k > first ? "," : "", o_channel, c);
        else
            n += (size_t)snprintf(b + n, cap - n, "%s", c);
    }
    if (grip)
        n += (size_t)snprintf(b + n, cap - n, "]}");
    *len = n;
    return b;
}

/* ---------------------------------------------------------------- the run (parent) */
enum { PH_CONNECT, PH_HOLD, PH_ROUND, PH_GAP, PH_BURST, PH_DONE };
static int phase = PH_CONNECT;
static uint64_t t_start, t_phase, t_connected, hold_until;
static uint64_t ready_n; /* subscribed connections when the connect phase ended */
static int cur_round;
static uint64_t *t_answered;
static int *pub_status;
static uint64_t burst_t0, burst_pub_end;
static int burst_sent, burst_answered, burst_errors;
static int nproc_children;
static pid_t *children;
static int exit_code;

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void on_round_answer(int status)
{
    t_answered[cur_round] = uv_hrtime();
    pub_status[cur_round] = status;
}

static void burst_next(void);

static void on_burst_answer(int status)
{
    burst_answered++;
    if (status != 200 && status != 201 && status != 202)
        burst_errors++;
    if (burst_answered == burst_sent && burst_sent < o_burst && strcmp(o_burst_mode, "each") == 0)
        burst_next();
    else if (burst_answered == burst_sent)
        burst_pub_end = uv_hrtime();
}

static void burst_next(void)
{
    size_t len;
    char *b = body_of('b', burst_sent, 1, &len);
    burst_sent++;
    publish(b, len, on_burst_answer);
    free(b);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t r = (size_t)ceil(p / 100.0 * (double)n);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return ms(v[r - 1]);
}

/* Stop the child processes and reap them (their CPU time counts once reaped). */
static void reap_children(void)
{
    atomic_store(&S->stop, 1);
    for (int i = 0; i < nproc_children; i++) {
        if (children[i] <= 0)
            continue;
        int st;
        for (int k = 0; k < 500 && waitpid(children[i], &st, WNOHANG) == 0; k++)
            usleep(10000);
        if (waitpid(children[i], &st, WNOHANG) == 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], &st, 0);
        }
        children[i] = 0;
    }
}

static void report(void)
{
    reap_children();
    size_t N = (size_t)o_conns;
    uint64_t *lasts = calloc((size_t)o_rounds + 1, sizeof *lasts);
    uint64_t *answers = calloc((size_t)o_rounds + 1, sizeof *answers);
    uint64_t *d = malloc(((size_t)o_rounds * N + 1) * sizeof *d);
    size_t nd = 0, nl = 0, na = 0;
    uint64_t round_lost = 0;
    for (int r = 0; r < o_rounds && r <= cur_round; r++) {
        uint64_t last = 0, got = 0;
        for (size_t i = 0; i < N; i++) {
            uint64_t a = arr[(size_t)r * N + i];
            if (!a)
                continue;
            uint64_t lat = a > t0[r] ? a - t0[r] : 0;
            d[nd++] = lat;
            if (lat > last)
                last = lat;
            got++;
        }
        if (got)
            lasts[nl++] = last;
        if (t_answered[r])
            answers[na++] = t_answered[r] - t0[r];
        round_lost += ready_n > got ? ready_n - got : 0;
    }
    qsort(d, nd, sizeof *d, cmp_u64);
    qsort(lasts, nl, sizeof *lasts, cmp_u64);
    qsort(answers, na, sizeof *answers, cmp_u64);

    uint64_t blast = 0;
    for (size_t i = 0; i < N; i++)
        if (burst_last[i] > blast)
            blast = burst_last[i];
    uint64_t bgot = atomic_load(&S->burst_got);
    uint64_t bexp = ready_n * (uint64_t)o_burst;
    double bsecs = blast > burst_t0 ? (double)(blast - burst_t0) / 1e9 : NAN;
    double psecs = burst_pub_end > burst_t0 ? (double)(burst_pub_end - burst_t0) / 1e9 : NAN;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct rusage rc;
    getrusage(RUSAGE_CHILDREN, &rc);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + rc.ru_utime.tv_sec +
                          rc.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec + rc.ru_utime.tv_usec +
                          rc.ru_stime.tv_usec) /
                     1e6;

    fprintf(stderr,
            "sseload: rounds: publish->last p50 %.1f ms p99 %.1f ms max %.1f ms; per delivery "
            "p50 %.1f p99 %.1f max %.1f ms; publish answered p50 %.1f ms; lost %llu\n",
            pct(lasts, nl, 50), pct(lasts, nl, 99), pct(lasts, nl, 100), pct(d, nd, 50),
            pct(d, nd, 99), pct(d, nd, 100), pct(answers, na, 50), (unsigned long long)round_lost);
    if (o_burst > 0)
        fprintf(stderr,
                "sseload: burst: %d messages (%s) published in %.3f s, %llu/%llu deliveries in "
                "%.3f s = %.0f/s, lost %llu, publish errors %d\n",
                o_burst, o_burst_mode, psecs, (unsigned long long)bgot,
                (unsigned long long)bexp, bsecs, (double)bgot / bsecs,
                (unsigned long long)(bexp - bgot), burst_errors);

    printf("RESULT conns=%ld ready=%llu failed=%llu closed=%llu connect_s=%.2f rounds=%d "
           "last_p50_ms=%.1f last_p99_ms=%.1f last_max_ms=%.1f deliv_p50_ms=%.1f "
           "deliv_p99_ms=%.1f deliv_max_ms=%.1f answer_p50_ms=%.1f round_lost=%llu "
           "burst=%d burst_mode=%s burst_pub_s=%.3f burst_s=%.3f burst_got=%llu "
           "burst_expected=%llu burst_lost=%llu burst_rate=%.0f burst_errors=%d dups=%llu "
           "stray=%llu retries=%llu client_cpu_s=%.2f procs=%d ws=%d ws_close=%llu ws_ping=%llu "
           "ws_bad=%llu\n",
           o_conns, (unsigned long long)ready_n, (unsigned long long)atomic_load(&S->failed),
           (unsigned long long)atomic_load(&S->closed), ms(t_connected - t_start) / 1000,
           o_rounds, pct(lasts, nl, 50), pct(lasts, nl, 99), pct(lasts, nl, 100), pct(d, nd, 50),
           pct(d, nd, 99), pct(d, nd, 100), pct(answers, na, 50), (unsigned long long)round_lost,
           o_burst, o_burst_mode, psecs, bsecs, (unsigned long long)bgot,
           (unsigned long long)bexp, (unsigned long long)(bexp - bgot),
           bsecs > 0 ? (double)bgot / bsecs : 0.0, burst_errors,
           (unsigned long long)atomic_load(&S->dups), (unsigned long long)atomic_load(&S->stray),
           (unsigned long long)atomic_load(&S->retries), cpu, nproc_children ? nproc_children : 1,
           o_ws, (unsigned long long)atomic_load(&S->ws_close),
           (unsigned long long)atomic_load(&S->ws_ping), (unsigned long long)atomic_load(&S->ws_bad));
    fflush(stdout);
    free(lasts);
    free(answers);
    free(d);
}

static void finish(uv_timer_t *t)
{
    phase = PH_DONE;
    report();
    atomic_store(&S->stop, 1);
    uv_timer_stop(t);
    uv_stop(loop);
}

static void start_round(void)
{
    size_t len;
    char *b = body_of('r', cur_round, 1, &len);
    uint64_t now = uv_hrtime();
    atomic_store(&t0[cur_round], now);
    publish(b, len, on_round_answer);
    free(b);
    phase = PH_ROUND;
    t_phase = now;
}

static void start_burst(void)
{
    phase = PH_BURST;
    burst_t0 = uv_hrtime();
    atomic_store(&S->burst_t0, burst_t0);
    t_phase = burst_t0;
    if (strcmp(o_burst_mode, "batch") == 0) {
        size_t len;
        char *b = body_of('b', 0, o_burst, &len);
        burst_sent = o_burst;
        burst_answered = o_burst - 1;
        publish(b, len, on_burst_answer);
        free(b);
    } else {
        burst_next();
    }
}

static void after_rounds(uv_timer_t *t)
{
    if (o_burst > 0)
        start_burst();
    else
        finish(t);
}

static int children_alive(void)
{
    for (int i = 0; i < nproc_children; i++) {
        if (children[i] <= 0)
            continue;
        int st;
        if (waitpid(children[i], &st, WNOHANG) == children[i]) {
            fprintf(stderr, "sseload: client process %d exited early\n", (int)children[i]);
            children[i] = 0;
            return 0;
        }
    }
    return 1;
}

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    if (nproc_children && !children_alive()) {
        exit_code = 1;
        finish(t);
        return;
    }
    uint64_t ready = atomic_load(&S->ready), failed = atomic_load(&S->failed);
    uint64_t closed = atomic_load(&S->closed);
    uint64_t alive = ready > closed ? ready - closed : 0;
    switch (phase) {
    case PH_CONNECT:
        if (ready + failed >= (uint64_t)o_conns ||
            now - t_start > (uint64_t)(o_connect_timeout * 1e9)) {
            t_connected = now;
            ready_n = ready;
            fprintf(stderr, "sseload: %llu/%ld subscribed, %llu failed, %llu retried, in %.2f s%s%s\n",
                    (unsigned long long)ready, o_conns, (unsigned long long)failed,
                    (unsigned long long)atomic_load(&S->retries),
                    ms(now - t_start) / 1000, S->first_error_set ? "; first error: " : "",
                    S->first_error_set ? S->first_error : "");
            if (ready == 0) {
                exit_code = 1;
                finish(t);
                return;
            }
            if (o_ready_file) {
                FILE *f = fopen(o_ready_file, "w");
                if (f) {
                    fprintf(f, "%llu\n", (unsigned long long)ready);
                    fclose(f);
                }
            }
            phase = PH_HOLD;
            hold_until = now + (uint64_t)((o_go_file ? o_go_timeout : o_hold) * 1e9);
        }
        break;
    case PH_HOLD: {
        struct stat sb;
        int go = o_go_file ? stat(o_go_file, &sb) == 0 : 0;
        if (!go && now >= hold_until && o_go_file)
            fprintf(stderr, "sseload: no go file after %.0f s; going on\n", o_go_timeout);
        if (go || now >= hold_until) {
            if (o_rounds > 0) {
                cur_round = 0;
                start_round();
            } else {
                after_rounds(t);
            }
        }
        break;
    }
    case PH_ROUND: {
        uint64_t got = atomic_load_explicit(&round_got[cur_round], memory_order_acquire);
        int timed_out = now - t0[cur_round] > (uint64_t)(o_round_timeout * 1e9);
        if (!((got >= alive && t_answered[cur_round]) || timed_out))
            break;
        uint64_t last = 0;
        for (size_t i = 0; i < (size_t)o_conns; i++) {
            uint64_t a = arr[(size_t)cur_round * (size_t)o_conns + i];
            if (a > last)
                last = a;
        }
        fprintf(stderr,
                "sseload: round %d: %llu/%llu delivered, last after %.1f ms, publish answered "
                "%d after %.1f ms%s\n",
                cur_round, (unsigned long long)got, (unsigned long long)ready_n,
                last ? ms(last - t0[cur_round]) : NAN, pub_status[cur_round],
                t_answered[cur_round] ? ms(t_answered[cur_round] - t0[cur_round]) : NAN,
                timed_out ? " (timed out)" : "");
        if (P.busy) { /* the publish was not answered: give up on it */
            pub_drop();
            pub_complete(-1);
        }
        phase = PH_GAP;
        t_phase = now;
        break;
    }
    case PH_GAP:
        if (now - t_phase >= (uint64_t)o_gap_ms * 1000000) {
            if (++cur_round < o_rounds)
                start_round();
            else {
                cur_round = o_rounds - 1;
                after_rounds(t);
            }
        }
        break;
    case PH_BURST: {
        uint64_t done = atomic_load_explicit(&S->burst_done, memory_order_acquire);
        int published = burst_answered >= o_burst;
        uint64_t since = burst_pub_end ? burst_pub_end : t_phase;
        int timed_out = published ? now - since > (uint64_t)(o_burst_timeout * 1e9)
                                  : now - t_phase > (uint64_t)(o_burst_timeout * 4 * 1e9);
        if ((published && done >= alive) || timed_out) {
            if (timed_out)
                fprintf(stderr, "sseload: burst timed out (%d/%d published, %llu conns complete)\n",
                        burst_answered, o_burst, (unsigned long long)done);
            finish(t);
        }
        break;
    }
    default:
        break;
    }
}

/* ---------------------------------------------------------------- main */
static void usage(void)
{
    fprintf(stderr,
            "usage: sseload --port P --pub-port Q [--host H] [--path /stream] [--accept TYPE]\n"
            "  [--ws 0|1]\n"
            "  [--marker STR] [--conns N] [--conc C] [--retries K] [--per-proc K] [--src-count S]\n"
            "  [--pub-path /publish/] [--pub-mode grip|raw] [--channel test]\n"
            "  [--rounds R] [--burst M] [--burst-mode each|batch] [--payload B]\n"
            "  [--connect-timeout S] [--round-timeout S] [--burst-timeout S] [--gap MS]\n"
            "  [--hold S] [--ready-file F] [--go-file F] [--go-timeout S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) o_host = v;
        else if (!strcmp(a, "--port")) o_port = atoi(v);
        else if (!strcmp(a, "--path")) o_path = v;
        else if (!strcmp(a, "--accept")) o_accept = v;
        else if (!strcmp(a, "--ws")) o_ws = atoi(v);
        else if (!strcmp(a, "--marker")) o_marker = v;
        else if (!strcmp(a, "--conns")) o_conns = atol(v);
        else if (!strcmp(a, "--conc")) o_conc = atoi(v);
        else if (!strcmp(a, "--retries")) o_retries = atoi(v);
        else if (!strcmp(a, "--per-proc")) o_per_proc = atol(v);
        else if (!strcmp(a, "--src-count")) o_src_count = atoi(v);
        else if (!strcmp(a, "--pub-port")) o_pub_port = atoi(v);
        else if (!strcmp(a, "--pub-path")) o_pub_path = v;
        else if (!strcmp(a, "--pub-mode")) o_pub_mode = v;
        else if (!strcmp(a, "--channel")) o_channel = v;
        else if (!strcmp(a, "--rounds")) o_rounds = atoi(v);
        else if (!strcmp(a, "--burst")) o_burst = atoi(v);
        else if (!strcmp(a, "--burst-mode")) o_burst_mode = v;
        else if (!strcmp(a, "--payload")) o_payload = atoi(v);
        else if (!strcmp(a, "--connect-timeout")) o_connect_timeout = atof(v);
        else if (!strcmp(a, "--round-timeout")) o_round_timeout = atof(v);
        else if (!strcmp(a, "--burst-timeout")) o_burst_timeout = atof(v);
        else if (!strcmp(a, "--gap")) o_gap_ms = atoi(v);
        else if (!strcmp(a, "--hold")) o_hold = atof(v);
        else if (!strcmp(a, "--ready-file")) o_ready_file = v;
        else if (!strcmp(a, "--go-file")) o_go_file = v;
        else if (!strcmp(a, "--go-timeout")) o_go_timeout = atof(v);
        else usage();
    }
    if (o_port <= 0 || o_pub_port <= 0 || o_conns < 1 || o_rounds < 0 || o_burst < 0 ||
        o_rounds > 100000 || o_burst > 1000000 || o_conc < 1 || o_retries < 0 || o_retries > 100 || o_per_proc < 1 ||
        o_src_count < 1 || o_src_count > 250 || o_payload < 0 || o_payload > 4000 ||
        !*o_marker || strlen(o_marker) > 200 ||
        (strcmp(o_burst_mode, "each") && strcmp(o_burst_mode, "batch")) ||
        (strcmp(o_pub_mode, "grip") && strcmp(o_pub_mode, "raw")))
        usage();
    if (strcmp(o_pub_mode, "raw") == 0 && strcmp(o_burst_mode, "batch") == 0) {
        fprintf(stderr, "sseload: --burst-mode batch needs --pub-mode grip\n");
        exit(2);
    }
    marker_len = strlen(o_marker);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    req_get_len = (size_t)snprintf(req_get, sizeof req_get,
                                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s%sUser-Agent: sseload\r\n\r\n",
                                   o_path, o_host, o_port, o_accept ? "Accept: " : "",
                                   o_accept ? o_accept : "", o_accept ? "\r\n" : "",
                                   o_ws ? "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                          "Sec-WebSocket-Key: " WS_KEY "\r\n"
                                          "Sec-WebSocket-Version: 13\r\n"
                                        : "");
    uv_ip4_addr(o_host, o_port, &dst);
    uv_ip4_addr(o_host, o_pub_port, &pub_dst);

    size_t N = (size_t)o_conns;
    bw = ((size_t)o_burst + 7) / 8;
    S = shm_alloc(sizeof *S);
    round_got = shm_alloc(((size_t)o_rounds + 1) * sizeof *round_got);
    arr = shm_alloc(((size_t)o_rounds * N + 1) * sizeof *arr);
    burst_last = shm_alloc(N * sizeof *burst_last);
    burst_bits = shm_alloc(N * bw + 1);
    t0 = shm_alloc(((size_t)o_rounds + 1) * sizeof *t0);
    t_answered = calloc((size_t)o_rounds + 1, sizeof *t_answered);
    pub_status = calloc((size_t)o_rounds + 1, sizeof *pub_status);

    t_start = uv_hrtime();
    if (o_conns > o_per_proc) {
        nproc_children = (int)((o_conns + o_per_proc - 1) / o_per_proc);
        children = calloc((size_t)nproc_children, sizeof *children);
        fflush(NULL);
        for (int p = 0; p < nproc_children; p++) {
            long first = (long)((size_t)p * N / (size_t)nproc_children);
            long next = (long)((size_t)(p + 1) * N / (size_t)nproc_children);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                atomic_store(&S->stop, 1);
                exit(2);
            }
            if (pid == 0) {
                loop = uv_loop_new();
                uv_timer_t tick;
                uv_timer_init(loop, &tick);
                uv_timer_start(&tick, on_child_tick, 20, 20);
                subscribers_start(first, next - first);
                uv_run(loop, UV_RUN_DEFAULT);
                _exit(0);
            }
            children[p] = pid;
        }
        loop = uv_default_loop();
    } else {
        loop = uv_default_loop();
        subscribers_start(0, o_conns);
    }
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    reap_children();
    return exit_code;
}
