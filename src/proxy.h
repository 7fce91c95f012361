/* Forwarding one client request to a backend and its response back.
 *
 * tt_proxy_request() is the HTTP server's request handler: it matches a
 * route, rewrites the head by the header rules (hop-by-hop removal, Host,
 * X-Forwarded-*, route headers), tries the route's targets in order until a
 * connection succeeds (failover), streams the body both ways with
 * backpressure, and answers 502/504 with a reason when the backend fails. */
#ifndef TT_PROXY_H
#define TT_PROXY_H

#include <stdint.h>

#include "server.h"
#include "snapshot.h"
#include "upstream.h"

typedef struct tt_proxy_stats_s {
    uint64_t requests, responses, no_route, bad_gateway, gateway_timeout, retries, failovers;
    int active;
} tt_proxy_stats_t;

/* What every request needs from the application. */
typedef struct tt_proxy_env_s {
    uv_loop_t *loop;
    tt_snapshot_t *snap; /* current snapshot; the request takes a ref */
    tt_pool_t *pool;
    tt_proxy_stats_t stats;
} tt_proxy_env_t;

/* Server on_request handler; `arg` is a tt_proxy_env_t. */
void tt_proxy_request(tt_client_t *cl, tt_msg_t *req, void *arg);

/* Build the backend request head for `req` under `route`/`target` into `out`
 * (request line, headers, final CRLF). Pure: used by the proxy and tests.
 * `peer` is the client address, `tls` whether the client used TLS, and
 * `chunked` tells that the body will be sent chunked. */
void tt_proxy_build_head(const tt_config_t *cfg, const tt_route_t *route,
                         const tt_target_t *target, const tt_msg_t *req, const char *peer,
                         bool tls, tt_buf_t *out);

#endif
