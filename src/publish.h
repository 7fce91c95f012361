/* The publish (control) API, Pushpin's HTTP interface on
 * push_in_http_addr:push_in_http_port (127.0.0.1:5561):
 *   GET /            200 "Pushpin API"
 *   POST /publish[/] {"items":[...]} -> hub; answers after the fan-out
 *   POST /recover    forget every channel's last id
 * Answers follow Accept (text/plain or application/json, else 406), errors
 * are Pushpin's texts. Beyond Pushpin, off by default: `publish_auth`
 * requires a bearer token or an HS256 JWT, and `?receivers=1` asks for a
 * JSON answer with each item's receiver count. */
#ifndef TT_PUBLISH_H
#define TT_PUBLISH_H

#include <stdint.h>

#include "server.h"

typedef struct tt_hub_s tt_hub_t;
typedef struct tt_snapshot_s tt_snapshot_t;

typedef struct tt_publish_stats_s {
    uint64_t requests, published_items, errors, unauthorized;
} tt_publish_stats_t;

typedef struct tt_publish_env_s {
    tt_hub_t *hub;
    tt_snapshot_t **snap; /* the app's current snapshot */
    tt_publish_stats_t stats;
} tt_publish_env_t;

/* Server on_request handler; `arg` is a tt_publish_env_t. */
void tt_publish_request(tt_client_t *cl, tt_msg_t *req, void *arg);

#endif
