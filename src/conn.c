/* Stream connection: shared read buffer, try-then-queue writes, backpressure
 * accounting, close through the loop. */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"

typedef struct write_req_s {
    uv_write_t req;
    size_t len;
    tt_rbuf_t *shared; /* NULL: the bytes follow in data[] */
    char data[];
} write_req_t;

/* One read buffer for the whole loop thread: read callbacks consume it
 * synchronously, so it never needs to be per connection. */
static char read_buf[TT_CONN_READ_BUF];

int tt_conn_init(uv_loop_t *loop, tt_conn_t *c, void *owner)
{
    memset(c, 0, sizeof *c);
    c->data = owner;
    c->tcp.data = c;
    return uv_tcp_init(loop, &c->tcp);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof read_buf;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    tt_conn_t *c = s->data;
    if (nread == 0 || c->closing || c->tls_eof)
        return;
    if (c->tls && nread > 0) {
        /* Ciphertext: the engine hands plaintext to tls_recv. */
        if (tt_tls_feed(c->tls, buf->base, (size_t)nread) != 0 && !c->closing)
            c->on_read(c, TT_ETLS, NULL);
        return;
    }
    c->on_read(c, nread, buf->base);
}

int tt_conn_read_start(tt_conn_t *c)
{
    if (c->reading || c->closing)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rc == 0)
        c->reading = true;
    return rc;
}

void tt_conn_read_stop(tt_conn_t *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void written(tt_conn_t *c, size_t n)
{
    c->queued -= n;
    if (c->above_high && c->queued <= TT_CONN_LOW_WATER) {
        c->above_high = false;
        if (c->on_drain && !c->closing)
            c->on_drain(c);
    }
    if (c->queued == 0 && c->on_flush && !c->closing) {
        tt_conn_cb cb = c->on_flush;
        c->on_flush = NULL;
        cb(c);
    }
}

static void write_cb(uv_write_t *req, int status)
{
    write_req_t *w = tt_container_of(req, write_req_t, req);
    tt_conn_t *c = req->handle->data;
    size_t n = w->len;
    tt_rbuf_unref(w->shared);
    free(w);
    if (status < 0 && !c->write_error) {
        c->write_error = status;
        tt_log_debug("write failed: %s", uv_strerror(status));
    }
    written(c, n);
}

/* Queue w (w->len bytes at `data`) behind what is already queued. */
static void submit(tt_conn_t *c, write_req_t *w, char *data)
{
    uv_buf_t buf = uv_buf_init(data, (unsigned)w->len);
    c->queued += w->len;
    if (c->queued >= TT_CONN_HIGH_WATER)
        c->above_high = true;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
    if (rc < 0) {
        c->queued -= w->len;
        tt_rbuf_unref(w->shared);
        free(w);
        if (!c->write_error)
            c->write_error = rc;
    }
}

/* Copy what the socket did not take (bufs from byte `skip` on) and queue it. */
static void enqueue(tt_conn_t *c, const uv_buf_t *bufs, int n, size_t skip)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += bufs[i].len;
    total -= skip;
    write_req_t *w = tt_xmalloc(sizeof *w + total);
    w->shared = NULL;
    w->len = total;
    char *p = w->data;
    for (int i = 0; i < n; i++) {
        size_t len = bufs[i].len;
        const char *base = bufs[i].base;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(p, base + skip, len - skip);
        p += len - skip;
        skip = 0;
    }
    submit(c, w, w->data);
}

static void raw_writev(tt_conn_t *c, const uv_buf_t *bufs, int n);

void tt_conn_writev(tt_conn_t *c, const uv_buf_t *bufs, int n)
{
    if (c->tls) {
        /* Plaintext: the engine encrypts and calls tls_send. Small pieces
         * (a head and its body) go as one record. */
        char joined[16384];
        size_t total = 0;
        for (int i = 0; i < n; i++)
            total += bufs[i].len;
        if (n > 1 && total <= sizeof joined) {
            size_t o = 0;
            for (int i = 0; i < n; i++) {
                memcpy(joined + o, bufs[i].base, bufs[i].len);
                o += bufs[i].len;
            }
            if (tt_tls_write(c->tls, joined, total) != 0)
                c->write_error = TT_ETLS;
            return;
        }
        for (int i = 0; i < n && !c->write_error; i++)
            if (bufs[i].len && tt_tls_write(c->tls, bufs[i].base, bufs[i].len) != 0)
                c->write_error = TT_ETLS;
        return;
    }
    raw_writev(c, bufs, n);
}

static void raw_writev(tt_conn_t *c, const uv_buf_t *bufs, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += bufs[i].len;
    if (c->closing || c->write_error || total == 0)
        return;
    size_t done = 0;
    if (c->queued == 0) {
        int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n);
        if (rc > 0) {
            done = (size_t)rc;
        } else if (rc < 0 && rc != UV_EAGAIN && rc != UV_ENOSYS) {
            c->write_error = rc;
            return;
        }
    }
    if (done < total)
        enqueue(c, bufs, n, done);
}

void tt_conn_write2(tt_conn_t *c, const void *a, size_t alen, const void *b, size_t blen)
{
    uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen),
                        uv_buf_init((char *)b, (unsigned)blen)};
    tt_conn_writev(c, bufs, blen ? 2 : 1);
}

void tt_conn_write_shared(tt_conn_t *c, tt_rbuf_t *b)
{
    if (c->closing || c->write_error || b->len == 0)
        return;
    if (c->tls) { /* each TLS connection encrypts for itself: no sharing */
        uv_buf_t buf = uv_buf_init(b->data, b->len);
        tt_conn_writev(c, &buf, 1);
        return;
    }
    size_t off = 0;
    if (c->queued == 0) {
        uv_buf_t buf = uv_buf_init(b->data, b->len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
            c->write_error = n;
            return;
        }
    }
    if (off == b->len)
        return;
    write_req_t *w = tt_xmalloc(sizeof *w);
    w->shared = tt_rbuf_ref(b);
    w->len = b->len - off;
    submit(c, w, b->data + off);
}

void tt_conn_write(tt_conn_t *c, const void *data, size_t len)
{
    tt_conn_write2(c, data, len, NULL, 0);
}

static void close_cb(uv_handle_t *h)
{
    tt_conn_t *c = h->data;
    tt_tls_free(c->tls);
    c->tls = NULL;
    if (c->on_close)
        c->on_close(c);
}

void tt_conn_close(tt_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
}

void tt_conn_peer(const tt_conn_t *c, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    out[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, outlen);
    else
        uv_ip4_name((struct sockaddr_in *)&ss, out, outlen);
}

/* ---- TLS ------------------------------------------------------------------ */

static void tls_send(void *owner, const char *data, size_t len)
{
    tt_conn_t *c = owner;
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    raw_writev(c, &buf, 1);
}

static void tls_recv(void *owner, const char *data, size_t len)
{
    tt_conn_t *c = owner;
    if (c->closing)
        return;
    if (!data) { /* close_notify: a clean end of stream, said once */
        c->tls_eof = true;
        c->on_read(c, UV_EOF, NULL);
        return;
    }
    c->on_read(c, (ssize_t)len, data);
}

static const tt_tls_io_t tls_io = {tls_send, tls_recv};

int tt_conn_start_tls(tt_conn_t *c, tt_tls_config_t *cfg, bool server, const char *server_name)
{
    c->tls = tt_tls_new(cfg, server, server_name, &tls_io, c);
    if (!c->tls)
        return TT_ETLS;
    return tt_tls_start(c->tls);
}

const char *tt_conn_tls_error(const tt_conn_t *c)
{
    return c->tls ? tt_tls_error(c->tls) : "";
}

bool tt_conn_is_tls(const tt_conn_t *c)
{
    return c->tls != NULL;
}
