/* HTTP/1.x server: listeners and client connections.
 *
 * Client state (one exchange at a time):
 *
 *   IDLE --bytes--> HEAD --head--> EXCHANGE --request done + response done--> IDLE
 *     |               |                |                                    (keep-alive)
 *     '--timeout--> close   '--error--> 4xx, LINGER --> close        '--> LINGER/close
 *
 * In EXCHANGE the request body (rq_*) and the response (rs_*) progress on
 * their own: a handler may answer before the body is read (then the
 * connection cannot be reused and is closed after a linger). Request body
 * bytes that arrive before the handler wants them wait in `early` and
 * reading stops; bytes of the next pipelined request wait unparsed in `stash`.
 * Work that must not run inside a caller's stack is posted with tt_defer. */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "evloop.h"
#include "log.h"
#include "mem.h"
#include "str.h"

/* Unparsed pipelined bytes kept beyond this stop reading until used. */
#define STASH_MAX (64 * 1024)
/* How long a closing connection keeps reading (and dropping) what its peer
 * still sends, so that our last response is not destroyed by an RST. */
#define LINGER_MS 2000

enum cl_state { CL_IDLE, CL_HEAD, CL_EXCHANGE, CL_RAW, CL_LINGER, CL_CLOSED };

struct tt_server_s {
    uv_tcp_t tcp;
    tt_tls_config_t *tls; /* NULL: plain HTTP */
    uv_loop_t *loop;
    tt_server_opts_t opts;
    tt_server_stats_t *stats;
    tt_server_stats_t own_stats;
    tt_client_t *clients; /* doubly linked */
    int open;
    int port;
    bool stopping;
    bool listener_closed;
    void (*stop_cb)(tt_server_t *s, void *arg);
    void *stop_arg;
};

struct tt_client_s {
    tt_conn_t conn;
    uv_timer_t timer;
    uint64_t deadline; /* when the timer's action is due; 0 = disarmed */
    tt_defer_t step;
    tt_defer_t flush; /* sends a response head that no body joined */
    tt_server_t *srv;
    tt_client_t *prev, *next;
    tt_parser_t parser;
    tt_msg_t req;
    tt_buf_t stash;    /* unparsed bytes (next requests) */
    tt_buf_t early;    /* request body read before the handler wanted it */
    tt_buf_t out_head; /* response head waiting to leave with the first body bytes */
    const tt_exchange_ops_t *ops;
    const tt_raw_ops_t *raw;
    void *x;
    uint64_t body_seen;
    enum cl_state state;
    int handles; /* open uv handles: conn + timer */
    char peer[48];
    bool head_ready;  /* parsed a head not yet handed to the handler */
    bool rq_complete; /* whole request body parsed */
    bool rq_end_sent; /* on_body_end delivered */
    bool want_body, body_paused;
    bool parse_paused; /* parser stopped at the end of a message */
    bool rs_started, rs_done;
    bool keep_alive;
    bool chunked_out, no_body_out, head_pending;
    bool close_after;
};

static void client_step(tt_defer_t *d);
static void client_close(tt_client_t *cl);
static void update_reading(tt_client_t *cl);

static tt_server_stats_t *stats_of(tt_server_t *s)
{
    return s->stats ? s->stats : &s->own_stats;
}

/* ---- parser callbacks ---------------------------------------------------- */

static int on_head(void *owner, tt_msg_t *m)
{
    tt_client_t *cl = owner;
    (void)m;
    cl->head_ready = true;
    cl->body_seen = 0;
    return 0;
}

static int on_body(void *owner, const char *at, size_t len)
{
    tt_client_t *cl = owner;
    uint64_t limit = cl->srv->opts.body_limit;
    cl->body_seen += len;
    if (limit && cl->body_seen > limit) {
        cl->parser.fail = TT_PARSE_BODY_TOO_LARGE;
        return -1;
    }
    if (cl->want_body && !cl->body_paused && cl->early.len == 0 && cl->ops)
        cl->ops->on_body(cl->x, at, len);
    else
        tt_buf_append(&cl->early, at, len);
    return 0;
}

static int on_complete(void *owner)
{
    tt_client_t *cl = owner;
    cl->rq_complete = true;
    cl->parse_paused = true;
    return 1; /* stop: the next pipelined request waits its turn */
}

static const tt_parser_cbs_t parser_cbs = {on_head, on_body, on_complete};

/* ---- timers and reading --------------------------------------------------- */

/* The client's one timer is lazy: arming it only moves `deadline`, and
 * the libuv timer is restarted only when the new deadline comes before the
 * pending one. A request arms and disarms it a few times; restarting the
 * timer each time costs more than the request's own parsing. */
static void on_timer(uv_timer_t *t)
{
    tt_client_t *cl = t->data;
    if (!cl->deadline)
        return; /* disarmed */
    uint64_t now = uv_now(t->loop);
    if (now < cl->deadline) {
        uv_timer_start(&cl->timer, on_timer, cl->deadline - now, 0);
        return;
    }
    cl->deadline = 0;
    if (cl->state == CL_HEAD) {
        tt_log_info("%s: request head timeout from %s", cl->srv->opts.name, cl->peer);
        cl->state = CL_EXCHANGE;
        cl->keep_alive = false;
        tt_client_simple(cl, 408, NULL, "text/plain", "Request Timeout\n");
        return;
    }
    client_close(cl); /* idle keep-alive or linger expired */
}

static void arm_timer(tt_client_t *cl, uint64_t ms)
{
    if (!ms) {
        cl->deadline = 0; /* the pending timer, if any, fires and does nothing */
        return;
    }
    cl->deadline = uv_now(cl->timer.loop) + ms;
    if (!uv_is_active((uv_handle_t *)&cl->timer) || uv_timer_get_due_in(&cl->timer) > ms)
        uv_timer_start(&cl->timer, on_timer, ms, 0);
}

static void update_reading(tt_client_t *cl)
{
    bool read;
    switch (cl->state) {
    case CL_IDLE:
    case CL_HEAD:
    case CL_LINGER:
        read = cl->stash.len < STASH_MAX;
        break;
    case CL_RAW:
        read = !cl->body_paused;
        break;
    case CL_EXCHANGE:
        if (!cl->rq_complete)
            read = cl->want_body && !cl->body_paused && cl->early.len == 0;
        else
            read = cl->stash.len < STASH_MAX; /* to notice a disconnect */
        break;
    default:
        read = false;
    }
    if (read)
        tt_conn_read_start(&cl->conn);
    else
        tt_conn_read_stop(&cl->conn);
}

/* ---- errors --------------------------------------------------------------- */

static void parse_failed(tt_client_t *cl)
{
    tt_server_t *s = cl->srv;
    stats_of(s)->bad_requests++;
    int status = 400;
    const char *why = tt_parser_error(&cl->parser);
    if (cl->parser.fail == TT_PARSE_URI_TOO_LONG)
        status = 414;
    else if (cl->parser.fail == TT_PARSE_HEAD_TOO_LARGE)
        status = 431;
    else if (cl->parser.fail == TT_PARSE_BODY_TOO_LARGE)
        status = 413;
    tt_log_info("%s: bad request from %s: %d %s", s->opts.name, cl->peer, status, why);
    cl->keep_alive = false;
    cl->stash.len = 0;
    if (cl->state == CL_EXCHANGE && cl->rs_started) {
        tt_client_abort(cl);
        return;
    }
    if (cl->state == CL_EXCHANGE && cl->ops) {
        const tt_exchange_ops_t *ops = cl->ops;
        cl->ops = NULL;
        ops->on_abort(cl->x);
    }
    cl->state = CL_EXCHANGE;
    char body[256];
    const tt_server_texts_t *t = s->opts.texts;
    if (t) {
        const char *text = status == 413   ? t->body_too_large
                           : status == 400 ? t->bad_request
                                           : t->head_too_large;
        snprintf(body, sizeof body, "%s\n", text);
        status = 400;
    } else {
        snprintf(body, sizeof body, "%s: %s\n", tt_http_reason(status), why);
    }
    tt_client_simple(cl, status, NULL, "text/plain", body);
}

/* ---- parsing -------------------------------------------------------------- */

static void dispatch(tt_client_t *cl)
{
    tt_server_t *s = cl->srv;
    cl->head_ready = false;
    cl->state = CL_EXCHANGE;
    arm_timer(cl, 0);
    stats_of(s)->requests++;
    cl->keep_alive = cl->req.keep_alive && !cl->close_after && !s->stopping;
    uint64_t limit = s->opts.body_limit;
    if (limit && cl->req.has_content_length && cl->req.content_length > limit) {
        cl->keep_alive = false;
        stats_of(s)->bad_requests++;
        tt_log_info("%s: request body of %llu bytes from %s over the limit of %llu", s->opts.name,
                    (unsigned long long)cl->req.content_length, cl->peer,
                    (unsigned long long)limit);
        if (s->opts.texts) {
            char body[256];
            snprintf(body, sizeof body, "%s\n", s->opts.texts->body_too_large);
            tt_client_simple(cl, 400, NULL, "text/plain", body);
        } else {
            tt_client_simple(cl, 413, NULL, "text/plain",
                             "Content Too Large: request body too large\n");
        }
        return;
    }
    s->opts.on_request(cl, &cl->req, s->opts.arg);
}

/* Parse `len` bytes; what the parser leaves (paused at a message end) is
 * kept in the stash. */
static void feed(tt_client_t *cl, const char *data, size_t len)
{
    if (cl->state == CL_IDLE) {
        cl->state = CL_HEAD;
        arm_timer(cl, cl->srv->opts.header_timeout_ms);
    }
    bool error;
    size_t used = tt_parser_execute(&cl->parser, data, len, &error);
    if (error) {
        parse_failed(cl);
        return;
    }
    if (used < len)
        tt_buf_append(&cl->stash, data + used, len - used);
    if (cl->head_ready)
        dispatch(cl);
    if (cl->state == CL_EXCHANGE && cl->rq_complete && cl->want_body && !cl->body_paused)
        tt_defer_post(&cl->step, client_step);
}

static void on_read(tt_conn_t *c, ssize_t n, const char *data)
{
    tt_client_t *cl = c->data;
    if (n < 0) {
        if (n == TT_ETLS) {
            stats_of(cl->srv)->tls_failures++;
            tt_log_info("%s: TLS with %s failed: %s", cl->srv->opts.name, cl->peer,
                        tt_conn_tls_error(&cl->conn));
        }
        if (cl->state == CL_RAW && cl->raw) {
            const tt_raw_ops_t *raw = cl->raw;
            cl->raw = NULL;
            raw->on_close(cl->x, (int)n);
            client_close(cl);
            return;
        }
        if (cl->state == CL_EXCHANGE && cl->ops) {
            const tt_exchange_ops_t *ops = cl->ops;
            cl->ops = NULL;
            tt_log_debug("%s: client %s went away: %s", cl->srv->opts.name, cl->peer,
                         uv_strerror((int)n));
            ops->on_abort(cl->x);
        }
        client_close(cl);
        return;
    }
    if (cl->state == CL_LINGER)
        return;
    if (cl->state == CL_RAW) {
        cl->raw->on_data(cl->x, data, (size_t)n);
        return;
    }
    if (cl->parse_paused || cl->state == CL_EXCHANGE) {
        if (cl->rq_complete || cl->parse_paused) {
            tt_buf_append(&cl->stash, data, (size_t)n);
            update_reading(cl);
            return;
        }
    }
    feed(cl, data, (size_t)n);
    if (cl->state != CL_CLOSED)
        update_reading(cl);
}

/* ---- the step: runs outside every caller's stack -------------------------- */

static void next_request(tt_client_t *cl)
{
    tt_server_t *s = cl->srv;
    cl->ops = NULL;
    cl->x = NULL;
    cl->rq_complete = cl->rq_end_sent = cl->want_body = cl->body_paused = false;
    cl->rs_started = cl->rs_done = cl->chunked_out = cl->no_body_out = false;
    tt_buf_free(&cl->early);
    /* Keep the head's buffers for the next request unless one was large. */
    if (cl->req.buf.cap > 4096 || cl->req.cap_hdrs > 64) {
        tt_msg_free(&cl->req);
        tt_msg_init(&cl->req);
    } else {
        tt_msg_reset(&cl->req);
    }
    cl->state = CL_IDLE;
    if (cl->parse_paused) {
        cl->parse_paused = false;
        tt_parser_resume(&cl->parser);
    }
    if (s->stopping && cl->stash.len == 0) {
        client_close(cl);
        return;
    }
    arm_timer(cl, s->opts.idle_timeout_ms);
    if (cl->stash.len) {
        tt_buf_t pending = cl->stash;
        cl->stash = (tt_buf_t)TT_BUF_INIT;
        feed(cl, pending.data, pending.len);
        tt_buf_free(&pending);
    }
    if (cl->state != CL_CLOSED)
        update_reading(cl);
}

static void on_linger_flush(tt_conn_t *c);
static void handle_closed(tt_client_t *cl);

static void start_linger(tt_client_t *cl)
{
    cl->state = CL_LINGER;
    tt_buf_free(&cl->stash);
    tt_buf_free(&cl->early);
    if (cl->conn.queued)
        cl->conn.on_flush = on_linger_flush;
    else
        on_linger_flush(&cl->conn);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    tt_client_t *cl = req->data;
    (void)status;
    free(req);
    if (cl->state == CL_LINGER) {
        arm_timer(cl, LINGER_MS);
        tt_conn_read_start(&cl->conn);
    }
    handle_closed(cl);
}

static void on_linger_flush(tt_conn_t *c)
{
    tt_client_t *cl = c->data;
    if (cl->state != CL_LINGER)
        return;
    uv_shutdown_t *req = tt_xmalloc(sizeof *req);
    req->data = cl;
    if (uv_shutdown(req, (uv_stream_t *)&cl->conn.tcp, on_shutdown) != 0) {
        free(req);
        client_close(cl);
        return;
    }
    cl->handles++; /* the shutdown request holds the client until its callback */
}

static void client_step(tt_defer_t *d)
{
    tt_client_t *cl = tt_container_of(d, tt_client_t, step);
    if (cl->state == CL_RAW) {
        /* Bytes that arrived with the upgrade request. */
        if (cl->stash.len && cl->raw) {
            tt_buf_t b = cl->stash;
            cl->stash = (tt_buf_t)TT_BUF_INIT;
            cl->raw->on_data(cl->x, b.data, b.len);
            tt_buf_free(&b);
        }
        return;
    }
    if (cl->state != CL_EXCHANGE)
        return;
    if (cl->rs_done) {
        if (cl->keep_alive && cl->rq_complete)
            next_request(cl);
        else
            start_linger(cl);
        return;
    }
    if (!cl->want_body || cl->body_paused || !cl->ops)
        return;
    if (cl->early.len) {
        tt_buf_t e = cl->early;
        cl->early = (tt_buf_t)TT_BUF_INIT;
        cl->ops->on_body(cl->x, e.data, e.len);
        tt_buf_free(&e);
    }
    if (cl->rq_complete && !cl->rq_end_sent && cl->ops && !cl->body_paused) {
        cl->rq_end_sent = true;
        cl->ops->on_body_end(cl->x);
    }
    if (cl->state == CL_EXCHANGE)
        update_reading(cl);
}

/* ---- lifetime ------------------------------------------------------------- */

static void maybe_stopped(tt_server_t *s)
{
    if (!s->stopping || s->open > 0 || !s->listener_closed)
        return;
    if (s->stop_cb)
        s->stop_cb(s, s->stop_arg);
    tt_tls_config_unref(s->tls);
    free(s);
}

static void handle_closed(tt_client_t *cl)
{
    if (--cl->handles > 0)
        return;
    tt_server_t *s = cl->srv;
    free(cl);
    /* Counted until the memory is gone, so the server outlives its clients. */
    s->open--;
    stats_of(s)->open--;
    maybe_stopped(s);
}

static void on_conn_closed(tt_conn_t *c)
{
    handle_closed(c->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void client_close(tt_client_t *cl)
{
    if (cl->state == CL_CLOSED)
        return;
    tt_server_t *s = cl->srv;
    bool was_raw = cl->state == CL_RAW;
    cl->state = CL_CLOSED;
    if (was_raw && cl->raw) {
        const tt_raw_ops_t *raw = cl->raw;
        cl->raw = NULL;
        raw->on_close(cl->x, UV_ECANCELED);
    }
    if (cl->ops) {
        const tt_exchange_ops_t *ops = cl->ops;
        cl->ops = NULL;
        ops->on_abort(cl->x);
    }
    tt_defer_cancel(&cl->step);
    tt_defer_cancel(&cl->flush);
    tt_buf_free(&cl->out_head);
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        s->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    tt_msg_free(&cl->req);
    tt_buf_free(&cl->stash);
    tt_buf_free(&cl->early);
    uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
    tt_conn_close(&cl->conn);
}

static void on_drain(tt_conn_t *c)
{
    tt_client_t *cl = c->data;
    if (cl->state == CL_EXCHANGE && cl->ops && cl->ops->on_drain)
        cl->ops->on_drain(cl->x);
    else if (cl->state == CL_RAW && cl->raw && cl->raw->on_drain)
        cl->raw->on_drain(cl->x);
}

static void on_connection(uv_stream_t *ls, int status)
{
    tt_server_t *s = ls->data;
    if (status < 0) {
        tt_log_warn("%s: accept: %s", s->opts.name, uv_strerror(status));
        return;
    }
    tt_client_t *cl = tt_xcalloc(1, sizeof *cl);
    cl->srv = s;
    tt_conn_init(s->loop, &cl->conn, cl);
    if (uv_accept(ls, (uv_stream_t *)&cl->conn.tcp) != 0) {
        cl->handles = 1;
        cl->conn.on_close = on_conn_closed;
        tt_conn_close(&cl->conn);
        return;
    }
    uv_timer_init(s->loop, &cl->timer);
    cl->timer.data = cl;
    cl->handles = 2;
    cl->conn.on_read = on_read;
    cl->conn.on_drain = on_drain;
    cl->conn.on_close = on_conn_closed;
    uv_tcp_nodelay(&cl->conn.tcp, 1);
    tt_conn_peer(&cl->conn, cl->peer, sizeof cl->peer);
    tt_msg_init(&cl->req);
    tt_parser_init(&cl->parser, HTTP_REQUEST, &cl->req, s->opts.head_limit, &parser_cbs, cl);
    cl->next = s->clients;
    if (s->clients)
        s->clients->prev = cl;
    s->clients = cl;
    s->open++;
    tt_server_stats_t *st = stats_of(s);
    st->accepted++;
    st->open++;
    cl->state = CL_IDLE;
    if (s->stopping || (s->opts.maxconn && s->open > s->opts.maxconn)) {
        st->rejected_maxconn++;
        tt_log_warn("%s: connection from %s refused: client_maxconn (%d) reached", s->opts.name,
                    cl->peer, s->opts.maxconn);
        cl->state = CL_EXCHANGE;
        cl->keep_alive = false;
        tt_client_simple(cl, 503, "Retry-After: 1\r\n", "text/plain",
                         "Service Unavailable: too many connections\n");
        return;
    }
    arm_timer(cl, s->opts.idle_timeout_ms);
    if (s->tls && tt_conn_start_tls(&cl->conn, s->tls, true, NULL) != 0) {
        st->tls_failures++;
        client_close(cl);
        return;
    }
    tt_conn_read_start(&cl->conn);
}

/* ---- handler API ---------------------------------------------------------- */

void tt_client_attach(tt_client_t *cl, const tt_exchange_ops_t *ops, void *x)
{
    cl->ops = ops;
    cl->x = x;
}

void tt_client_want_body(tt_client_t *cl)
{
    if (cl->want_body)
        return;
    cl->want_body = true;
    const char *expect = tt_msg_get(&cl->req, "expect", NULL);
    if (expect && tt_str_icmp(expect, "100-continue") == 0 && cl->req.minor >= 1 &&
        !cl->rs_started && !cl->rq_complete && cl->early.len == 0)
        tt_conn_write(&cl->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    tt_defer_post(&cl->step, client_step);
    update_reading(cl);
}

void tt_client_pause_body(tt_client_t *cl)
{
    cl->body_paused = true;
    update_reading(cl);
}

void tt_client_resume_body(tt_client_t *cl)
{
    if (!cl->body_paused)
        return;
    cl->body_paused = false;
    tt_defer_post(&cl->step, client_step);
    update_reading(cl);
}

/* The head waits in out_head so that it leaves with the first body bytes in
 * one system call; a deferred flush sends it alone if no body comes in the
 * same loop iteration. */
static void flush_head(tt_defer_t *d)
{
    tt_client_t *cl = tt_container_of(d, tt_client_t, flush);
    if (!cl->head_pending)
        return;
    cl->head_pending = false;
    tt_conn_write(&cl->conn, cl->out_head.data, cl->out_head.len);
}

void tt_client_respond(tt_client_t *cl, const tt_resp_head_t *h)
{
    if (cl->rs_started || cl->state != CL_EXCHANGE)
        return;
    cl->rs_started = true;
    bool head = cl->req.method == HTTP_HEAD;
    bool bodiless = h->status < 200 || h->status == 204 || h->status == 304;
    cl->no_body_out = head || bodiless;
    if (cl->close_after || cl->srv->stopping)
        cl->keep_alive = false;
    tt_buf_t *b = &cl->out_head;
    tt_buf_reset(b);
    tt_buf_appendf(b, "HTTP/1.%d %d %s\r\n", cl->req.minor >= 1 ? 1 : 0, h->status,
                   h->reason ? h->reason : tt_http_reason(h->status));
    tt_buf_append(b, h->headers, h->headers_len);
    if (h->content_length >= 0) {
        if (h->status != 204 && h->status >= 200)
            tt_buf_appendf(b, "Content-Length: %lld\r\n", (long long)h->content_length);
    } else if (!cl->no_body_out) {
        if (cl->req.minor >= 1 && cl->req.major == 1) {
            cl->chunked_out = true;
            tt_buf_appends(b, "Transfer-Encoding: chunked\r\n");
        } else {
            cl->keep_alive = false; /* the body ends where the connection does */
        }
    }
    if (!cl->keep_alive)
        tt_buf_appends(b, "Connection: close\r\n");
    else if (cl->req.minor == 0)
        tt_buf_appends(b, "Connection: keep-alive\r\n");
    tt_buf_appends(b, "\r\n");
    cl->head_pending = true;
    tt_defer_post(&cl->flush, flush_head);
}

void tt_client_flush(tt_client_t *cl)
{
    flush_head(&cl->flush);
}

/* Write the pending head (if any), then `n` pieces. */
static void write_out(tt_client_t *cl, uv_buf_t *pieces, int n)
{
    uv_buf_t bufs[5];
    int k = 0;
    if (cl->head_pending) {
        cl->head_pending = false;
        bufs[k++] = uv_buf_init(cl->out_head.data, (unsigned)cl->out_head.len);
    }
    for (int i = 0; i < n; i++)
        bufs[k++] = pieces[i];
    tt_conn_writev(&cl->conn, bufs, k);
}

void tt_client_body(tt_client_t *cl, const char *data, size_t len)
{
    if (!cl->rs_started || cl->rs_done || cl->no_body_out || len == 0)
        return;
    if (!cl->chunked_out) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        write_out(cl, &b, 1);
        return;
    }
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                     uv_buf_init("\r\n", 2)};
    write_out(cl, b, 3);
}

void tt_client_upgrade(tt_client_t *cl, const char *headers, size_t len, const tt_raw_ops_t *ops,
                       void *x)
{
    tt_buf_t b = TT_BUF_INIT;
    tt_buf_appends(&b, "HTTP/1.1 101 Switching Protocols\r\n");
    tt_buf_append(&b, headers, len);
    tt_buf_appends(&b, "\r\n");
    tt_conn_write(&cl->conn, b.data, b.len);
    tt_buf_free(&b);
    cl->state = CL_RAW;
    cl->ops = NULL;
    cl->raw = ops;
    cl->x = x;
    cl->rs_started = true;
    cl->body_paused = false;
    tt_buf_free(&cl->out_head);
    tt_buf_free(&cl->early);
    arm_timer(cl, 0);
    if (cl->stash.len)
        tt_defer_post(&cl->step, client_step);
    update_reading(cl);
}

void tt_client_raw_write(tt_client_t *cl, const char *data, size_t len)
{
    if (cl->state == CL_RAW)
        tt_conn_write(&cl->conn, data, len);
}

void tt_client_raw_shared(tt_client_t *cl, tt_rbuf_t *b)
{
    if (cl->state == CL_RAW)
        tt_conn_write_shared(&cl->conn, b);
}

void tt_client_raw_pause(tt_client_t *cl)
{
    cl->body_paused = true;
    update_reading(cl);
}

void tt_client_raw_resume(tt_client_t *cl)
{
    cl->body_paused = false;
    update_reading(cl);
}

void tt_client_raw_end(tt_client_t *cl)
{
    if (cl->state != CL_RAW)
        return;
    cl->raw = NULL;
    start_linger(cl);
}

const tt_msg_t *tt_client_request(const tt_client_t *cl)
{
    return &cl->req;
}

bool tt_client_chunked(const tt_client_t *cl)
{
    return cl->chunked_out;
}

void tt_client_body_shared(tt_client_t *cl, tt_rbuf_t *b)
{
    if (!cl->rs_started || cl->rs_done || cl->no_body_out)
        return;
    if (cl->head_pending)
        flush_head(&cl->flush);
    tt_conn_write_shared(&cl->conn, b);
}

size_t tt_client_queued(const tt_client_t *cl)
{
    return cl->conn.queued;
}

void tt_client_end(tt_client_t *cl)
{
    if (!cl->rs_started || cl->rs_done)
        return;
    uv_buf_t last = uv_buf_init("0\r\n\r\n", 5);
    write_out(cl, &last, cl->chunked_out ? 1 : 0);
    cl->rs_done = true;
    cl->ops = NULL;
    tt_defer_post(&cl->step, client_step);
}

void tt_client_simple(tt_client_t *cl, int status, const char *extra_headers,
                      const char *content_type, const char *body)
{
    tt_buf_t h = TT_BUF_INIT;
    if (content_type)
        tt_buf_appendf(&h, "Content-Type: %s\r\n", content_type);
    if (extra_headers)
        tt_buf_appends(&h, extra_headers);
    size_t blen = body ? strlen(body) : 0;
    tt_resp_head_t rh = {status, NULL, h.data ? h.data : "", h.len, (int64_t)blen};
    tt_client_respond(cl, &rh);
    tt_client_body(cl, body, blen);
    tt_client_end(cl);
    tt_buf_free(&h);
}

void tt_client_abort(tt_client_t *cl)
{
    cl->ops = NULL;
    client_close(cl);
}

bool tt_client_responded(const tt_client_t *cl)
{
    return cl->rs_started;
}

bool tt_client_congested(const tt_client_t *cl)
{
    return tt_conn_congested(&cl->conn);
}

const char *tt_client_peer(const tt_client_t *cl)
{
    return cl->peer;
}

bool tt_client_tls(const tt_client_t *cl)
{
    return cl->srv->opts.tls;
}

void tt_client_close_after(tt_client_t *cl)
{
    cl->close_after = true;
    cl->keep_alive = false;
}

/* ---- server --------------------------------------------------------------- */

static void free_server(uv_handle_t *h)
{
    free(h->data);
}

int tt_server_listen(uv_loop_t *loop, const char *addr, int port, const tt_server_opts_t *opts,
                     tt_server_stats_t *stats, tt_server_t **out)
{
    struct sockaddr_storage ss;
    int rc = strchr(addr, ':') ? uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss);
    if (rc != 0)
        return rc;
    tt_server_t *s = tt_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->opts = *opts;
    s->stats = stats;
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    rc = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tcp, 511, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&s->tcp, free_server);
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &len);
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    *out = s;
    return 0;
}

void tt_server_set_tls(tt_server_t *s, tt_tls_config_t *cfg)
{
    if (cfg)
        tt_tls_config_ref(cfg);
    tt_tls_config_unref(s->tls);
    s->tls = cfg;
    s->opts.tls = cfg != NULL;
}

int tt_server_port(const tt_server_t *s)
{
    return s->port;
}

int tt_server_open_connections(const tt_server_t *s)
{
    return s->open;
}

static void on_listener_closed(uv_handle_t *h)
{
    tt_server_t *s = h->data;
    s->listener_closed = true;
    maybe_stopped(s);
}

void tt_server_stop(tt_server_t *s, void (*cb)(tt_server_t *s, void *arg), void *arg)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->stop_cb = cb;
    s->stop_arg = arg;
    uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
    tt_client_t *next;
    for (tt_client_t *cl = s->clients; cl; cl = next) {
        next = cl->next;
        if (cl->state == CL_IDLE && cl->stash.len == 0)
            client_close(cl);
        else if (cl->state == CL_RAW && cl->raw && cl->raw->on_shutdown)
            cl->raw->on_shutdown(cl->x);
        else
            cl->close_after = true;
    }
}

void tt_server_close(tt_server_t *s)
{
    tt_client_t *next;
    for (tt_client_t *cl = s->clients; cl; cl = next) {
        next = cl->next;
        client_close(cl);
    }
}
