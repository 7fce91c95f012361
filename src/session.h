/* A client request's life inside Tether, shared by proxy.c (talking to
 * backends) and hold.c (GRIP: holding the client on channels). Private to
 * those two files.
 *
 *   CONNECTING -> FORWARDING -> RESPONDING ----------------------------> done
 *                                  | GRIP instructions
 *                                  v
 *                              INSTRUCT (reading the instruct / timeout body)
 *                                  | response hold        | stream hold
 *                                  v                      v
 *                                HELD  <--- retry ---   STREAMING (initial body) -> HELD
 *                                  |                      ^   | next link / hint / gap
 *                                  '--> answered, done    '-- LINKING (appending a link's body)
 */
#ifndef TT_SESSION_H
#define TT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "grip.h"
#include "hub.h"
#include "proxy.h"

enum px_state {
    PX_CONNECTING,
    PX_FORWARDING,
    PX_RESPONDING, /* plain passthrough of the backend's response */
    PX_INSTRUCT,   /* GRIP response: collecting its body */
    PX_STREAMING,  /* stream hold: relaying the backend's body to the client */
    PX_HELD,       /* subscribed, waiting for publishes */
    PX_DONE
};

/* What a backend exchange is for. */
enum px_purpose { PX_ORIGINAL, PX_RETRY, PX_LINK };

typedef struct tt_proxy_s {
    tt_proxy_env_t *env;
    tt_client_t *cl;
    tt_msg_t *req;
    tt_snapshot_t *snap;
    const tt_route_t *route;
    size_t target;
    tt_upstream_t *up;
    tt_buf_t head;   /* backend request head, kept for failover, retries */
    tt_buf_t body;   /* request body kept for retries (GRIP routes, bounded) */
    tt_buf_t errors; /* why each target failed, for debug answers */
    enum px_state state;
    enum px_purpose purpose;
    bool has_body, chunked_up, body_sent, body_done, retried, body_kept_all;
    bool grip;    /* the route speaks GRIP (not no_grip) */
    bool trusted; /* the client's Grip-Sig validated against upstream_key */
    int status;
    uint64_t bytes_out;
    uint64_t start_ms;

    /* GRIP */
    tt_instruct_t *in;
    tt_buf_t resp_body;    /* instruct JSON or the timeout response body */
    tt_buf_t resp_headers; /* the timeout response's headers, client-ready lines */
    int resp_status;
    char *resp_reason;
    tt_sub_t *subs;
    size_t n_subs;
    char **last_ids;     /* per subscription: the id of the last item seen (stream) */
    uv_timer_t timer;    /* response timeout, or the next-link timeout */
    uv_timer_t ka_timer; /* stream keep-alive */
    bool timers_init;
    bool held;          /* counted in stats.holding */
    bool client_gone;   /* the client disconnected (rel=gone is due) */
    tt_msg_t *resp_msg; /* the backend response head, valid until its end */
    int handles;        /* open timers; the session is freed when the last closes */
    char *link_url;     /* the link being fetched */
    bool link_pending;  /* another link fetch was asked for while one runs */
} tt_proxy_t;

/* proxy.c */
void tt__proxy_finish(tt_proxy_t *px, const char *outcome);
void tt__proxy_error(tt_proxy_t *px, int status, const char *what, const char *why);
/* Send the request again (GRIP retry), with Grip-Last for channels with prev-id. */
void tt__proxy_retry(tt_proxy_t *px);
/* GET a next link (resolved against the route's target) and append its body. */
void tt__proxy_fetch_link(tt_proxy_t *px, const char *url);
/* POST to a gone link, fire and forget. */
void tt__proxy_gone(tt_proxy_env_t *env, const tt_proxy_t *px, const char *url);

/* hold.c */
/* A GRIP response head arrived (purpose ORIGINAL/RETRY/LINK). Returns true
 * if hold.c takes the response over; false means plain passthrough. */
bool tt__hold_on_head(tt_proxy_t *px, tt_msg_t *resp);
void tt__hold_on_body(tt_proxy_t *px, const char *data, size_t len);
void tt__hold_on_end(tt_proxy_t *px);
/* The backend failed while hold.c owned the response. */
void tt__hold_on_error(tt_proxy_t *px, int status, const char *why);
/* The client went away or the session ends: unsubscribe, stop timers. */
void tt__hold_release(tt_proxy_t *px);
/* The test target: answer from Tether itself. */
void tt__hold_test_target(tt_proxy_t *px);

#endif
