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

#include "grip.h"
#include "server.h"
#include "snapshot.h"
#include "upstream.h"

typedef struct tt_hub_s tt_hub_t;

typedef struct tt_proxy_stats_s {
    uint64_t requests, responses, no_route, bad_gateway, gateway_timeout, retries, failovers;
    uint64_t held, grip_errors, slow_subscribers, link_fetches;
    int active, holding;
} tt_proxy_stats_t;

/* What every request needs from the application. */
typedef struct tt_proxy_env_s {
    uv_loop_t *loop;
    tt_snapshot_t *snap; /* current snapshot; the request takes a ref */
    tt_pool_t *pool;
    tt_hub_t *hub;
    tt_proxy_stats_t stats;
    struct tt_tls_client_s *tls_clients; /* TLS configs toward backends, by options */
    /* Grip-Sig cache: tokens change once a second at most. */
    char *sig_token;
    char *sig_for; /* "iss\nkey" the token was made for */
    int64_t sig_time;
} tt_proxy_env_t;

/* Send a whole request to host:port and ignore the answer (gone links,
 * WebSocket DISCONNECT events). `request` is copied. */
void tt_proxy_fire(tt_proxy_env_t *env, const char *host, int port, tt_tls_config_t *tls,
                   const char *sni, const char *request, size_t len);

/* The Host line toward a backend: the target's host=, else the route's
 * as_host, else the client's Host. */
void tt_proxy_append_host(const tt_route_t *route, const tt_target_t *target, const tt_msg_t *req,
                          tt_buf_t *out);

/* Client-ready header lines of a backend response: hop-by-hop, framing and
 * Grip-* headers removed (and those Grip-Expose-Headers does not list, when
 * `in` is given). */
void tt_proxy_response_headers(const tt_msg_t *resp, const tt_instruct_t *in, tt_buf_t *out);

/* The TLS client config for a target with `ssl` (its insecure,
 * client_cert and client_key options, and tls_ca_file), made once and
 * cached; NULL with the reason in err when it cannot be built. Borrowed. */
tt_tls_config_t *tt_proxy_target_tls(tt_proxy_env_t *env, const tt_target_t *t, char *err,
                                     size_t errlen);
/* The name a TLS backend is asked for and checked against. */
const char *tt_proxy_target_sni(const tt_target_t *t);

/* Free what the environment caches (at shutdown). */
void tt_proxy_env_clear(tt_proxy_env_t *env);

/* Server on_request handler; `arg` is a tt_proxy_env_t. */
void tt_proxy_request(tt_client_t *cl, tt_msg_t *req, void *arg);

/* Grip-Sig (HS256 with the route's or the global key and issuer) and
 * Grip-Feature header lines for a request to a GRIP route's backend. */
void tt_proxy_grip_headers(tt_proxy_env_t *env, const tt_route_t *route, tt_buf_t *out);

#endif
