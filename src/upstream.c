/* Backend connections and the keep-alive pool.
 *
 *   RESOLVING -> CONNECTING -> ACTIVE -> (response complete) -> IDLE -> ACTIVE ...
 *        \            \           \                               \
 *         '------------'-----------'-------> CLOSED <--- EOF/timeout'
 *
 * One timer per connection serves the connect timeout, the response timeout
 * and the idle timeout in the pool, since only one applies at a time. */
#include "upstream.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "error.h"
#include "evloop.h"
#include "log.h"
#include "mem.h"

enum up_state { UP_RESOLVING, UP_CONNECTING, UP_ACTIVE, UP_IDLE, UP_CLOSED };

typedef struct pool_key_s {
    char *name;           /* host:port, plus the TLS config for TLS connections */
    tt_tls_config_t *tls; /* referenced; NULL for plain TCP */
    char *sni;
    tt_upstream_t *idle; /* most recently used first */
    int n_idle;
    struct pool_key_s *next;
} pool_key_t;

struct tt_pool_s {
    uv_loop_t *loop;
    uv_timer_t sweep; /* closes connections idle past keepalive_timeout */
    tt_pool_opts_t opts;
    tt_pool_stats_t stats;
    pool_key_t *keys;
    int live; /* connections not yet freed */
    bool closing;
};

struct tt_upstream_s {
    tt_conn_t conn;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_getaddrinfo_t *gai; /* while resolving; freed by its callback */
    tt_defer_t step;
    tt_pool_t *pool;
    pool_key_t *key;
    tt_upstream_t *prev, *next; /* in key->idle */
    char *host;
    int port;
    tt_parser_t parser;
    tt_msg_t resp;
    const tt_up_ops_t *ops;
    void *x;
    enum up_state state;
    int status; /* connect result to report */
    int handles;
    bool reused, got_bytes, req_done, resp_done, keep_alive;
    bool raw;            /* after a 101: bytes are another protocol's, passed as they come */
    uint64_t deadline;   /* the response timeout, lazily timed (0 = none) */
    uint64_t idle_since; /* when it went back to the pool */
};

static void up_close(tt_upstream_t *u);
static void on_sweep(uv_timer_t *t);
static void fail(tt_upstream_t *u, int err, const char *why);

/* ---- pool ------------------------------------------------------------------ */

tt_pool_t *tt_pool_new(uv_loop_t *loop, const tt_pool_opts_t *opts)
{
    tt_pool_t *p = tt_xcalloc(1, sizeof *p);
    p->loop = loop;
    p->opts = *opts;
    uv_timer_init(loop, &p->sweep);
    p->sweep.data = p;
    uint64_t every = opts->keepalive_timeout_ms / 4 + 1;
    uv_timer_start(&p->sweep, on_sweep, every, every);
    uv_unref((uv_handle_t *)&p->sweep);
    return p;
}

const tt_pool_stats_t *tt_pool_stats(const tt_pool_t *p)
{
    return &p->stats;
}

static void pool_freed(uv_handle_t *h)
{
    free(h->data);
}

static void pool_maybe_free(tt_pool_t *p)
{
    if (!p->closing || p->live > 0 || uv_is_closing((uv_handle_t *)&p->sweep))
        return;
    pool_key_t *k = p->keys;
    while (k) {
        pool_key_t *next = k->next;
        free(k->name);
        free(k->sni);
        tt_tls_config_unref(k->tls);
        free(k);
        k = next;
    }
    p->keys = NULL;
    uv_close((uv_handle_t *)&p->sweep, pool_freed);
}

void tt_pool_close(tt_pool_t *p)
{
    p->closing = true;
    for (pool_key_t *k = p->keys; k; k = k->next)
        while (k->idle)
            up_close(k->idle);
    pool_maybe_free(p);
}

static pool_key_t *key_for(tt_pool_t *p, const char *host, int port, tt_tls_config_t *tls,
                           const char *sni)
{
    char name[600];
    if (tls)
        snprintf(name, sizeof name, "%s:%d tls %p %s", host, port, (void *)tls, sni ? sni : "");
    else
        snprintf(name, sizeof name, "%s:%d", host, port);
    for (pool_key_t *k = p->keys; k; k = k->next)
        if (strcmp(k->name, name) == 0)
            return k;
    pool_key_t *k = tt_xcalloc(1, sizeof *k);
    k->name = tt_xstrdup(name);
    k->tls = tls ? tt_tls_config_ref(tls) : NULL;
    k->sni = sni ? tt_xstrdup(sni) : NULL;
    k->next = p->keys;
    p->keys = k;
    return k;
}

static void idle_remove(tt_upstream_t *u)
{
    if (u->state != UP_IDLE)
        return;
    if (u->prev)
        u->prev->next = u->next;
    else
        u->key->idle = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->prev = u->next = NULL;
    u->key->n_idle--;
    u->pool->stats.idle--;
}

/* ---- lifetime -------------------------------------------------------------- */

static void handle_closed(tt_upstream_t *u)
{
    if (--u->handles > 0)
        return;
    tt_pool_t *p = u->pool;
    tt_msg_free(&u->resp);
    free(u->host);
    free(u);
    p->live--;
    pool_maybe_free(p);
}

static void on_conn_closed(tt_conn_t *c)
{
    handle_closed(c->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void up_close(tt_upstream_t *u)
{
    if (u->state == UP_CLOSED)
        return;
    if (u->state == UP_IDLE)
        idle_remove(u);
    else
        u->pool->stats.active--;
    u->state = UP_CLOSED;
    u->ops = NULL;
    tt_defer_cancel(&u->step);
    if (u->gai) {
        /* uv_cancel fails once the lookup runs: on_resolved then sees no
         * owner and only frees the request. */
        u->gai->data = NULL;
        uv_cancel((uv_req_t *)u->gai);
        u->gai = NULL;
        u->handles--;
    }
    uv_close((uv_handle_t *)&u->timer, on_timer_closed);
    tt_conn_close(&u->conn);
}

static void fail(tt_upstream_t *u, int err, const char *why)
{
    const tt_up_ops_t *ops = u->ops;
    void *x = u->x;
    bool retryable = u->reused && !u->got_bytes;
    up_close(u);
    if (ops)
        ops->on_error(x, err, why, retryable);
}

/* ---- response parsing ------------------------------------------------------ */

static int on_head(void *owner, tt_msg_t *m)
{
    tt_upstream_t *u = owner;
    if (m->status >= 100 && m->status < 200 && m->status != 101)
        return 0;    /* interim response: skip, the real one follows */
    u->deadline = 0; /* the response timer, if pending, fires and does nothing */
    u->keep_alive = m->keep_alive;
    if (m->status == 101) {
        u->raw = true;
        u->keep_alive = false;
    }
    if (u->ops)
        u->ops->on_head(u->x, m);
    return u->raw ? 1 : 0; /* after a 101 the parser stops: the rest is raw */
}

static int on_body(void *owner, const char *at, size_t len)
{
    tt_upstream_t *u = owner;
    if (u->ops)
        u->ops->on_body(u->x, at, len);
    return 0;
}

static void to_pool(tt_upstream_t *u);

static int on_complete(void *owner)
{
    tt_upstream_t *u = owner;
    if (u->resp.status >= 100 && u->resp.status < 200 && u->resp.status != 101)
        return 0;
    u->resp_done = true;
    const tt_up_ops_t *ops = u->ops;
    u->ops = NULL;
    if (ops)
        ops->on_end(u->x);
    return 1; /* stop parsing: anything after a response is an error, see to_pool */
}

static const tt_parser_cbs_t parser_cbs = {on_head, on_body, on_complete};

static void on_read(tt_conn_t *c, ssize_t n, const char *data)
{
    tt_upstream_t *u = c->data;
    if (u->state == UP_IDLE) {
        /* An idle connection has nothing to say: EOF or stray bytes end it. */
        up_close(u);
        return;
    }
    if (u->raw) {
        if (n < 0)
            fail(u, (int)n, n == UV_EOF ? "backend closed the connection" : uv_strerror((int)n));
        else if (u->ops)
            u->ops->on_body(u->x, data, (size_t)n);
        return;
    }
    if (n == TT_ETLS) {
        char why[300];
        snprintf(why, sizeof why, "TLS: %s", tt_conn_tls_error(&u->conn));
        fail(u, TT_ETLS, why);
        return;
    }
    if (n < 0) {
        if (u->got_bytes && !tt_parser_finish(&u->parser)) {
            fail(u, TT_ECLOSED, "backend closed the connection mid-response");
            return;
        }
        if (!u->got_bytes) {
            fail(u, (int)n,
                 n == UV_EOF ? "backend closed the connection without a response"
                             : uv_strerror((int)n));
            return;
        }
        /* finish() completed a close-delimited body: on_complete ran. */
        u->keep_alive = false;
        up_close(u);
        return;
    }
    u->got_bytes = true;
    bool error;
    size_t used = tt_parser_execute(&u->parser, data, (size_t)n, &error);
    if (u->state == UP_CLOSED)
        return;
    if (error) {
        fail(u, TT_EPARSE, tt_parser_error(&u->parser));
        return;
    }
    if (u->raw) {
        if (used < (size_t)n && u->ops)
            u->ops->on_body(u->x, data + used, (size_t)n - used);
        return;
    }
    if (u->resp_done) {
        if (used < (size_t)n)
            u->keep_alive = false; /* bytes past the response: do not trust the stream */
        to_pool(u);
    }
}

/* ---- pool return ----------------------------------------------------------- */

/* Idle connections expire by a sweep over the pool, not a timer each: a
 * timer start and stop per request is measurable at tens of thousands of
 * requests a second. The most recently used are first in each list, so the
 * expired ones are at the tail. */
static void on_sweep(uv_timer_t *t)
{
    tt_pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    for (pool_key_t *k = p->keys; k; k = k->next) {
        tt_upstream_t *last = k->idle;
        while (last && last->next)
            last = last->next;
        while (last && now - last->idle_since >= p->opts.keepalive_timeout_ms) {
            tt_upstream_t *prev = last->prev;
            up_close(last);
            last = prev;
        }
    }
}

static void to_pool(tt_upstream_t *u)
{
    tt_pool_t *p = u->pool;
    pool_key_t *k = u->key;
    if (!u->keep_alive || !u->req_done || p->closing || k->n_idle >= p->opts.max_idle ||
        u->conn.queued) {
        up_close(u);
        return;
    }
    p->stats.active--;
    p->stats.idle++;
    u->state = UP_IDLE;
    u->ops = NULL;
    u->resp_done = u->req_done = u->got_bytes = false;
    u->parser.head_done = false;
    tt_parser_resume(&u->parser);
    tt_parser_expect_no_body(&u->parser, false);
    u->next = k->idle;
    u->prev = NULL;
    if (k->idle)
        k->idle->prev = u;
    k->idle = u;
    k->n_idle++;
    u->idle_since = uv_now(p->loop);
    tt_conn_read_start(&u->conn);
}

/* ---- connecting ------------------------------------------------------------ */

static void report_connected(tt_defer_t *d)
{
    tt_upstream_t *u = tt_container_of(d, tt_upstream_t, step);
    if (u->status < 0) {
        const tt_up_ops_t *ops = u->ops;
        void *x = u->x;
        int status = u->status;
        up_close(u);
        if (ops)
            ops->on_connected(x, status);
        return;
    }
    if (u->ops)
        u->ops->on_connected(u->x, 0);
}

static void connect_failed(tt_upstream_t *u, int status)
{
    u->pool->stats.connect_failures++;
    u->status = status;
    uv_timer_stop(&u->timer);
    tt_defer_post(&u->step, report_connected);
}

static void on_connect(uv_connect_t *req, int status)
{
    tt_upstream_t *u = req->data;
    if (u->state == UP_CLOSED)
        return;
    if (status < 0) {
        connect_failed(u, status);
        return;
    }
    uv_timer_stop(&u->timer);
    u->state = UP_ACTIVE;
    uv_tcp_nodelay(&u->conn.tcp, 1);
    if (u->key->tls && tt_conn_start_tls(&u->conn, u->key->tls, false, u->key->sni) != 0) {
        connect_failed(u, TT_ETLS);
        return;
    }
    tt_conn_read_start(&u->conn);
    /* Over TLS the request waits in the engine until the handshake is
     * done; a failed handshake arrives as a read error with its reason. */
    report_connected(&u->step);
}

static void start_connect(tt_upstream_t *u, const struct sockaddr *sa)
{
    u->state = UP_CONNECTING;
    u->connect_req.data = u;
    int rc = uv_tcp_connect(&u->connect_req, &u->conn.tcp, sa, on_connect);
    if (rc < 0)
        connect_failed(u, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    tt_upstream_t *u = req->data;
    free(req);
    if (u == NULL) { /* closed while resolving */
        uv_freeaddrinfo(res);
        return;
    }
    u->gai = NULL;
    if (status < 0 || !res) {
        tt_log_info("resolving %s: %s", u->host, uv_strerror(status));
        connect_failed(u, status < 0 ? status : UV_EAI_NONAME);
    } else {
        start_connect(u, res->ai_addr);
    }
    uv_freeaddrinfo(res);
    handle_closed(u); /* the resolver's hold on u */
}

static void on_connect_timeout(uv_timer_t *t)
{
    tt_upstream_t *u = t->data;
    if (u->state == UP_RESOLVING || u->state == UP_CONNECTING) {
        u->pool->stats.timeouts++;
        connect_failed(u, UV_ETIMEDOUT);
        return;
    }
    /* The response timeout is lazy, as the client's timer is: a request on
     * a pooled connection moves the deadline without restarting the timer. */
    uint64_t now = uv_now(t->loop);
    if (u->state != UP_ACTIVE || !u->deadline)
        return;
    if (now < u->deadline) {
        uv_timer_start(&u->timer, on_connect_timeout, u->deadline - now, 0);
        return;
    }
    u->pool->stats.timeouts++;
    fail(u, UV_ETIMEDOUT, "backend response timeout");
}

static void on_conn_drain(tt_conn_t *c)
{
    tt_upstream_t *u = c->data;
    if (u->state == UP_ACTIVE && u->ops && u->ops->on_drain)
        u->ops->on_drain(u->x);
}

static tt_upstream_t *reuse(tt_pool_t *p, pool_key_t *k, const tt_up_ops_t *ops, void *x)
{
    tt_upstream_t *u = k->idle;
    idle_remove(u);
    p->stats.active++;
    p->stats.reuses++;
    u->state = UP_ACTIVE;
    u->reused = true;
    u->ops = ops;
    u->x = x;
    u->status = 0;
    tt_conn_read_start(&u->conn);
    tt_defer_post(&u->step, report_connected);
    return u;
}

tt_upstream_t *tt_upstream_get(tt_pool_t *p, const char *host, int port, tt_tls_config_t *tls,
                               const char *sni, bool fresh, const tt_up_ops_t *ops, void *x)
{
    pool_key_t *k = key_for(p, host, port, tls, sni);
    /* Past keepalive_timeout a connection is not trusted, sweep or not. */
    while (k->idle && uv_now(p->loop) - k->idle->idle_since >= p->opts.keepalive_timeout_ms)
        up_close(k->idle);
    if (!fresh && k->idle)
        return reuse(p, k, ops, x);
    tt_upstream_t *u = tt_xcalloc(1, sizeof *u);
    u->pool = p;
    u->key = k;
    u->ops = ops;
    u->x = x;
    u->host = tt_xstrdup(host);
    u->port = port;
    p->live++;
    p->stats.active++;
    p->stats.connects++;
    tt_conn_init(p->loop, &u->conn, u);
    u->conn.on_read = on_read;
    u->conn.on_drain = on_conn_drain;
    u->conn.on_close = on_conn_closed;
    uv_timer_init(p->loop, &u->timer);
    u->timer.data = u;
    u->handles = 2;
    tt_msg_init(&u->resp);
    tt_parser_init(&u->parser, HTTP_RESPONSE, &u->resp, p->opts.head_limit, &parser_cbs, u);
    uv_timer_start(&u->timer, on_connect_timeout, p->opts.connect_timeout_ms, 0);

    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        start_connect(u, (struct sockaddr *)&ss);
        return u;
    }
    u->state = UP_RESOLVING;
    u->gai = tt_xmalloc(sizeof *u->gai);
    u->gai->data = u;
    u->handles++; /* held until on_resolved */
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(p->loop, u->gai, on_resolved, host, service, &hints);
    if (rc < 0) {
        free(u->gai);
        u->gai = NULL;
        u->handles--;
        connect_failed(u, rc);
    }
    return u;
}

bool tt_upstream_reused(const tt_upstream_t *u)
{
    return u->reused;
}

void tt_upstream_send(tt_upstream_t *u, const void *data, size_t len)
{
    if (u->state == UP_ACTIVE)
        tt_conn_write(&u->conn, data, len);
}

void tt_upstream_send2(tt_upstream_t *u, const void *a, size_t alen, const void *b, size_t blen)
{
    if (u->state == UP_ACTIVE)
        tt_conn_write2(&u->conn, a, alen, b, blen);
}

void tt_upstream_sendv(tt_upstream_t *u, const uv_buf_t *bufs, int n)
{
    if (u->state == UP_ACTIVE)
        tt_conn_writev(&u->conn, bufs, n);
}

void tt_upstream_request_done(tt_upstream_t *u, bool no_body)
{
    u->req_done = true;
    tt_parser_expect_no_body(&u->parser, no_body);
    uint64_t ms = u->pool->opts.response_timeout_ms;
    if (u->state != UP_ACTIVE || u->resp_done || u->parser.head_done)
        return;
    u->deadline = uv_now(u->pool->loop) + ms;
    if (!uv_is_active((uv_handle_t *)&u->timer) || uv_timer_get_due_in(&u->timer) > ms)
        uv_timer_start(&u->timer, on_connect_timeout, ms, 0);
}

void tt_upstream_pause(tt_upstream_t *u)
{
    tt_conn_read_stop(&u->conn);
}

void tt_upstream_resume(tt_upstream_t *u)
{
    if (u->state == UP_ACTIVE)
        tt_conn_read_start(&u->conn);
}

bool tt_upstream_congested(const tt_upstream_t *u)
{
    return tt_conn_congested(&u->conn);
}

void tt_upstream_abort(tt_upstream_t *u)
{
    up_close(u);
}
