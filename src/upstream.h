/* Connections toward backends, with a keep-alive pool per target.
 *
 * tt_upstream_get() hands out a connection (an idle pooled one when there is
 * one, else a new one: name resolution, connect, connect timeout) and calls
 * ops->on_connected(x, status) on a later loop turn. The owner then sends the
 * request with tt_upstream_send(), says tt_upstream_request_done() when the
 * last byte is queued (this starts the response timeout), and receives
 * on_head, on_body*, on_end. After on_end the connection goes back to the
 * pool by itself when both sides allow keep-alive; the owner must not use
 * it again. On failure on_error(x, err, why, retryable) is called once and the
 * connection is closed; `retryable` means a reused connection died before
 * any response byte (the backend closed it while idle), so the request may
 * be sent again on a fresh connection. tt_upstream_abort() closes it from
 * the owner's side, with no more callbacks. After a 101 answer the
 * connection carries another protocol (WebSocket): on_body gets its bytes
 * as they come, and its end is reported through on_error (UV_EOF). */
#ifndef TT_UPSTREAM_H
#define TT_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "http_msg.h"
#include "tls.h"

typedef struct tt_upstream_s tt_upstream_t;
typedef struct tt_pool_s tt_pool_t;

typedef struct tt_up_ops_s {
    void (*on_connected)(void *x, int status);
    void (*on_head)(void *x, tt_msg_t *resp);
    void (*on_body)(void *x, const char *data, size_t len);
    void (*on_end)(void *x);
    void (*on_error)(void *x, int err, const char *why, bool retryable);
    void (*on_drain)(void *x); /* the request write queue drained */
} tt_up_ops_t;

typedef struct tt_pool_opts_s {
    uint64_t connect_timeout_ms;
    uint64_t response_timeout_ms;
    uint64_t keepalive_timeout_ms; /* idle time kept in the pool */
    int max_idle;                  /* per target */
    size_t head_limit;             /* response head bytes */
} tt_pool_opts_t;

typedef struct tt_pool_stats_s {
    uint64_t connects, connect_failures, reuses, timeouts;
    int idle, active;
} tt_pool_stats_t;

tt_pool_t *tt_pool_new(uv_loop_t *loop, const tt_pool_opts_t *opts);
const tt_pool_stats_t *tt_pool_stats(const tt_pool_t *p);
/* Close idle connections and free the pool once no connection is left;
 * active connections must have been aborted or finished. */
void tt_pool_close(tt_pool_t *p);

/* `fresh` skips the idle list (a retry after a stale reuse). With `tls`
 * (a client config, referenced while needed) the connection speaks TLS,
 * with `sni` as the server name to send and verify. Never NULL. */
tt_upstream_t *tt_upstream_get(tt_pool_t *p, const char *host, int port, tt_tls_config_t *tls,
                               const char *sni, bool fresh, const tt_up_ops_t *ops, void *x);
bool tt_upstream_reused(const tt_upstream_t *u);
void tt_upstream_send(tt_upstream_t *u, const void *data, size_t len);
void tt_upstream_send2(tt_upstream_t *u, const void *a, size_t alen, const void *b, size_t blen);
void tt_upstream_sendv(tt_upstream_t *u, const uv_buf_t *bufs, int n);
/* `no_body`: the request was HEAD, so the response carries no body. */
void tt_upstream_request_done(tt_upstream_t *u, bool no_body);
void tt_upstream_pause(tt_upstream_t *u);
void tt_upstream_resume(tt_upstream_t *u);
bool tt_upstream_congested(const tt_upstream_t *u);
void tt_upstream_abort(tt_upstream_t *u);

#endif
