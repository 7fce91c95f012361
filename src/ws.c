/* WebSocket sessions.
 *
 *   HANDSHAKE --backend accepts--> OPEN --close sent and received--> done
 *       |  (over_http: OPEN event answered; passthrough: 101; test: at once)
 *       '--backend refuses--> its answer relayed, done
 *
 * The client side is the same for every backend: frames parsed with
 * tt_ws_parser (masking, UTF-8, sizes, control frames), pings answered,
 * the close handshake, subscriptions from GRIP control messages and
 * publishes. The backend side differs: over_http batches client events
 * into POSTs (one in flight, the rest queued), passthrough relays frames
 * over a second WebSocket. */
#include "ws.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "filter.h"
#include "grip.h"
#include "hub.h"
#include "log.h"
#include "mem.h"
#include "str.h"
#include "upstream.h"
#include "wsevents.h"
#include "wsdeflate.h"
#include "wsframe.h"

#define EVENTS_REQUEST_MAX 200000   /* bytes of events in one POST (Pushpin's) */
#define EVENTS_RESPONSE_MAX 1000000 /* bytes of a backend's events answer */
#define REJECT_BODY_MAX 100000      /* a refusing backend's body relayed */
#define RETRIES_MAX 5
#define RETRY_MS 1000
#define KEEP_ALIVE_MIN_S 20
#define CLOSE_WAIT_MS 5000

enum ws_kind { WS_OVER_HTTP, WS_PASS, WS_TEST };
enum ws_state { WS_HANDSHAKE, WS_OPEN, WS_DONE };

typedef struct meta_s {
    char *name;
    char *value;
} meta_t;

/* One channel subscription, embedded in the session's array. */
typedef struct ws_sub_s {
    tt_sub_t sub;
    char *channel;
    char **filters;
    size_t n_filters;
    bool implicit; /* from the target's sub=: cannot be unsubscribed */
} ws_sub_t;

typedef struct tt_ws_s {
    tt_proxy_env_t *env;
    tt_client_t *cl;
    tt_msg_t *req;
    tt_snapshot_t *snap;
    const tt_route_t *route;
    size_t target;
    enum ws_kind kind;
    enum ws_state state;
    tt_ws_parser_t parser; /* frames from the client */
    /* permessage-deflate, when allow_compression and the client offered it */
    tt_wsd_t *inflater;
    char *zext; /* the extension answer, until the 101 is sent */
    int zbits;  /* the window we compress with */
    bool close_sent, close_received, detached, grip, upgraded, client_gone;
    char prefix[32];
    char key[32]; /* the client's Sec-WebSocket-Key */
    /* channels */
    ws_sub_t *subs;
    size_t n_subs, cap_subs;
    meta_t *smeta; /* session meta from set-meta control messages (filters) */
    size_t n_smeta;
    /* keep-alive asked for by a control message */
    tt_rbuf_t *ka_frame;
    uint64_t ka_ms;
    bool ka_interval;
    uv_timer_t ka_timer;
    /* over_http */
    meta_t *meta; /* from Set-Meta-* answers, sent back as Meta-* */
    size_t n_meta;
    char cid[40];
    tt_buf_t events; /* encoded events waiting for the next request */
    size_t *ends;    /* where each queued event ends in `events` */
    size_t n_ends, cap_ends;
    bool in_flight, refresh;
    tt_upstream_t *up;
    tt_buf_t out;  /* the request in flight (head and body), kept for retries */
    tt_buf_t resp; /* its answer's body */
    tt_msg_t *resp_msg;
    int resp_status;
    int retries;
    uint64_t keep_alive_ms;
    uv_timer_t timer; /* retry backoff, keep-alive interval, close wait */
    /* passthrough */
    tt_upstream_t *bk;
    tt_ws_parser_t bparser; /* frames from the backend */
    int handles;
    /* idle timeout: one sweep timer for all sessions, not one per session */
    struct tt_ws_s *prev, *next;
    uint64_t last_activity;
} tt_ws_t;

#define IDLE_SWEEP_MS 1000

static tt_ws_t *live; /* open sessions, for the idle sweep */
static uv_timer_t sweep;
static bool sweep_init;

static void ws_finish(tt_ws_t *ws, const char *why);

/* Note the end of the event just appended to ws->events. */
static void queued(tt_ws_t *ws)
{
    if (ws->n_ends == ws->cap_ends) {
        ws->cap_ends = ws->cap_ends ? ws->cap_ends * 2 : 8;
        ws->ends = tt_xrealloc(ws->ends, ws->cap_ends * sizeof *ws->ends);
    }
    ws->ends[ws->n_ends++] = ws->events.len;
}
static void send_events(tt_ws_t *ws);
static void client_message(tt_ws_t *ws, int opcode, const char *data, size_t len);

/* ---- writing to the client ------------------------------------------------------ */

/* Data messages below this size are sent uncompressed: not worth it. */
#define COMPRESS_MIN 64

static void to_client(tt_ws_t *ws, int opcode, const char *data, size_t len)
{
    if (ws->state != WS_OPEN || ws->close_sent)
        return;
    tt_buf_t f = TT_BUF_INIT;
    tt_buf_t z = TT_BUF_INIT;
    bool data_msg = opcode == TT_WS_TEXT || opcode == TT_WS_BINARY;
    if (ws->inflater && data_msg && len >= COMPRESS_MIN &&
        tt_wsd_deflate(data, len, ws->zbits, &z) == 0 && z.len < len)
        tt_ws_frame(&f, opcode, true, true, z.data, z.len, NULL);
    else
        tt_ws_frame(&f, opcode, true, false, data, len, NULL);
    tt_client_raw_write(ws->cl, f.data, f.len);
    tt_buf_free(&z);
    tt_buf_free(&f);
}

static void close_client(tt_ws_t *ws, int code, const char *reason)
{
    if (ws->state != WS_OPEN || ws->close_sent)
        return;
    ws->close_sent = true;
    tt_buf_t f = TT_BUF_INIT;
    tt_ws_close_frame(&f, code, reason, reason ? strlen(reason) : 0, NULL);
    tt_client_raw_write(ws->cl, f.data, f.len);
    tt_buf_free(&f);
}

/* ---- subscriptions ----------------------------------------------------------------- */

static void deliver(tt_sub_t *sub, tt_delivery_t *d);

static size_t find_channel(const tt_ws_t *ws, const char *name)
{
    for (size_t i = 0; i < ws->n_subs; i++)
        if (strcmp(ws->subs[i].channel, name) == 0)
            return i;
    return (size_t)-1;
}

static void sub_free(ws_sub_t *s)
{
    free(s->channel);
    for (size_t i = 0; i < s->n_filters; i++)
        free(s->filters[i]);
    free(s->filters);
}

/* Subscriptions are linked into the hub by address: to move one, unlink
 * it and link it again at its new place. */
static void sub_move(tt_ws_t *ws, ws_sub_t *to, ws_sub_t *from)
{
    tt_hub_unsubscribe(ws->env->hub, &from->sub);
    *to = *from;
    memset(&to->sub, 0, sizeof to->sub);
    tt_hub_subscribe(ws->env->hub, &to->sub, to->channel, TT_SUB_WS, deliver, ws);
}

static void subscribe(tt_ws_t *ws, const char *name, bool implicit, char *const *filters,
                      size_t n_filters)
{
    if (find_channel(ws, name) != (size_t)-1)
        return;
    if (ws->n_subs >= (size_t)ws->snap->cfg->connection_subscription_max) {
        tt_log_info("ws %s: subscribe %s refused: connection_subscription_max (%d) reached",
                    ws->cid, name, ws->snap->cfg->connection_subscription_max);
        return;
    }
    if (ws->n_subs == ws->cap_subs) {
        size_t cap = ws->cap_subs ? ws->cap_subs * 2 : 2;
        ws_sub_t *subs = tt_xcalloc(cap, sizeof *subs);
        for (size_t i = 0; i < ws->n_subs; i++)
            sub_move(ws, &subs[i], &ws->subs[i]);
        free(ws->subs);
        ws->subs = subs;
        ws->cap_subs = cap;
    }
    ws_sub_t *s = &ws->subs[ws->n_subs++];
    memset(s, 0, sizeof *s);
    s->channel = tt_xstrdup(name);
    s->implicit = implicit;
    if (n_filters) {
        s->filters = tt_xcalloc(n_filters, sizeof *s->filters);
        for (size_t i = 0; i < n_filters; i++)
            s->filters[i] = tt_xstrdup(filters[i]);
        s->n_filters = n_filters;
    }
    tt_hub_subscribe(ws->env->hub, &s->sub, name, TT_SUB_WS, deliver, ws);
    tt_log_debug("subscribe ws %.*s channel=%s", (int)ws->req->target_len, tt_msg_target(ws->req),
                 name);
}

static void unsubscribe(tt_ws_t *ws, const char *name)
{
    size_t i = find_channel(ws, name);
    if (i == (size_t)-1 || ws->subs[i].implicit)
        return;
    size_t last = ws->n_subs - 1;
    tt_hub_unsubscribe(ws->env->hub, &ws->subs[i].sub);
    sub_free(&ws->subs[i]);
    if (i != last)
        sub_move(ws, &ws->subs[i], &ws->subs[last]);
    ws->n_subs--;
}

static void unsubscribe_all(tt_ws_t *ws)
{
    for (size_t i = 0; i < ws->n_subs; i++) {
        tt_hub_unsubscribe(ws->env->hub, &ws->subs[i].sub);
        sub_free(&ws->subs[i]);
    }
    free(ws->subs);
    ws->subs = NULL;
    ws->n_subs = ws->cap_subs = 0;
}

static const char *meta_get(const meta_t *m, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0)
            return m[i].value;
    return NULL;
}

static const char *ws_meta(void *owner, const char *name)
{
    const tt_ws_t *ws = owner;
    return meta_get(ws->smeta, ws->n_smeta, name);
}

static bool ws_subscribed(void *owner, const char *channel)
{
    return find_channel(owner, channel) != (size_t)-1;
}

static void deliver(tt_sub_t *sub, tt_delivery_t *d)
{
    tt_ws_t *ws = sub->owner;
    ws_sub_t *s = tt_container_of(sub, ws_sub_t, sub);
    const tt_pub_ws_message_t *m = &d->item->ws_message;
    if (!m->present || ws->state != WS_OPEN || ws->close_sent)
        return;
    if (m->action == TT_ACT_CLOSE) {
        close_client(ws, m->close_code >= 0 ? m->close_code : TT_WS_CLOSE_NORMAL, m->close_reason);
        return;
    }
    if (m->action == TT_ACT_REFRESH) {
        if (ws->kind == WS_OVER_HTTP && !ws->detached) {
            ws->refresh = true;
            send_events(ws);
        }
        return;
    }
    if (m->action != TT_ACT_SEND)
        return;
    if (tt_client_queued(ws->cl) > ws->snap->cfg->subscriber_queue_max) {
        ws->env->stats.slow_subscribers++;
        tt_log_info("slow ws subscriber %s: disconnecting", tt_client_peer(ws->cl));
        ws_finish(ws, "slow");
        return;
    }
    if (s->n_filters) {
        const char *content = m->content;
        size_t len = m->content_len;
        tt_buf_t scratch = TT_BUF_INIT;
        tt_filter_ctx_t ctx = {ws_meta, ws_subscribed, ws};
        bool pass =
            tt_filter_pass(s->filters, s->n_filters, &ctx, d->item, &content, &len, &scratch);
        bool rewritten = scratch.data != NULL;
        if (pass && rewritten) { /* this subscriber's own copy */
            static const int op[] = {TT_WS_TEXT, TT_WS_BINARY, TT_WS_PING, TT_WS_PONG};
            to_client(ws, op[m->type], content, len);
        }
        tt_buf_free(&scratch);
        if (!pass || rewritten)
            return;
    }
    /* A compressed frame (window 15) is shared by the clients whose window
     * allows it; the others get the plain one, which is always allowed. */
    bool z = ws->inflater && ws->zbits == 15;
    tt_client_raw_shared(ws->cl, z ? tt_hub_ws_frame_z(d) : tt_hub_ws_frame(d));
}

/* ---- keep-alive from a control message ------------------------------------------- */

static void on_ka(uv_timer_t *t)
{
    tt_ws_t *ws = t->data;
    if (ws->ka_frame && ws->state == WS_OPEN && !ws->close_sent)
        tt_client_raw_shared(ws->cl, ws->ka_frame);
    if (!ws->ka_interval && ws->ka_ms)
        uv_timer_start(&ws->ka_timer, on_ka, ws->ka_ms, 0);
}

static void restart_ka(tt_ws_t *ws)
{
    if (ws->ka_frame && !ws->ka_interval)
        uv_timer_start(&ws->ka_timer, on_ka, ws->ka_ms, 0);
}

static void set_keep_alive(tt_ws_t *ws, const tt_wsctl_t *c)
{
    tt_rbuf_unref(ws->ka_frame);
    ws->ka_frame = NULL;
    uv_timer_stop(&ws->ka_timer);
    if (!c->ka_enabled)
        return;
    ws->ka_frame = tt_ws_frame_shared(c->ka_type, c->ka_content, c->ka_len);
    ws->ka_ms = (uint64_t)(c->ka_timeout > 0 ? c->ka_timeout : 55) * 1000;
    ws->ka_interval = c->ka_interval;
    uv_timer_start(&ws->ka_timer, on_ka, ws->ka_ms, ws->ka_interval ? ws->ka_ms : 0);
}

/* ---- GRIP control messages ----------------------------------------------------------- */

/* Set (value not NULL) or delete a name in a meta list. Names compare
 * case-insensitively: Set-Meta-* names are header names. */
static void meta_set(meta_t **list, size_t *n, const char *name, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        if (tt_str_icmp((*list)[i].name, name) != 0)
            continue;
        free((*list)[i].value);
        if (value) {
            (*list)[i].value = tt_xstrdup(value);
        } else {
            free((*list)[i].name);
            (*list)[i] = (*list)[--*n];
        }
        return;
    }
    if (!value)
        return;
    *list = tt_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[*n].name = tt_xstrdup(name);
    (*list)[*n].value = tt_xstrdup(value);
    (*n)++;
}

static void meta_free(meta_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].value);
    }
    free(list);
}

static void control(tt_ws_t *ws, const char *json, size_t len)
{
    char err[256] = "";
    tt_wsctl_t *c = NULL;
    if (tt_wsctl_parse(json, len, &c, err, sizeof err) != 0) {
        tt_log_info("ws %s: bad GRIP control message: %s", ws->cid, err);
        return;
    }
    char name[512];
    switch (c->type) {
    case TT_WSCTL_SUBSCRIBE:
        snprintf(name, sizeof name, "%s%s", ws->route->prefix ? ws->route->prefix : "", c->channel);
        subscribe(ws, name, false, c->filters, c->n_filters);
        break;
    case TT_WSCTL_UNSUBSCRIBE:
        snprintf(name, sizeof name, "%s%s", ws->route->prefix ? ws->route->prefix : "", c->channel);
        unsubscribe(ws, name);
        break;
    case TT_WSCTL_DETACH:
        ws->detached = true;
        if (ws->bk) {
            tt_upstream_abort(ws->bk);
            ws->bk = NULL;
        }
        break;
    case TT_WSCTL_KEEP_ALIVE:
        set_keep_alive(ws, c);
        break;
    case TT_WSCTL_SET_META:
        meta_set(&ws->smeta, &ws->n_smeta, c->name, c->value);
        break;
    default:
        break;
    }
    tt_wsctl_free(c);
}

/* A data message from the backend: control, prefixed, or plain. */
static void from_backend(tt_ws_t *ws, int opcode, const char *data, size_t len)
{
    if (ws->grip && opcode == TT_WS_TEXT && len >= 2 && memcmp(data, "c:", 2) == 0) {
        control(ws, data + 2, len - 2);
        return;
    }
    if (ws->grip) {
        size_t pl = strlen(ws->prefix);
        if (len < pl || memcmp(data, ws->prefix, pl) != 0)
            return; /* unprefixed messages are dropped, as Pushpin does */
        data += pl;
        len -= pl;
    }
    to_client(ws, opcode, data, len);
    restart_ka(ws);
}

/* ---- life ---------------------------------------------------------------------------- */

static void unlink_live(tt_ws_t *ws)
{
    if (ws->prev)
        ws->prev->next = ws->next;
    else if (live == ws)
        live = ws->next;
    if (ws->next)
        ws->next->prev = ws->prev;
    ws->prev = ws->next = NULL;
    if (!live && sweep_init)
        uv_timer_stop(&sweep);
}

static void ws_free(tt_ws_t *ws)
{
    tt_ws_parser_free(&ws->parser);
    tt_ws_parser_free(&ws->bparser);
    tt_wsd_free(ws->inflater);
    free(ws->zext);
    meta_free(ws->meta, ws->n_meta);
    meta_free(ws->smeta, ws->n_smeta);
    tt_buf_free(&ws->events);
    free(ws->ends);
    tt_buf_free(&ws->out);
    tt_buf_free(&ws->resp);
    tt_rbuf_unref(ws->ka_frame);
    tt_snapshot_unref(ws->snap);
    ws->env->stats.active--;
    free(ws);
}

static void timer_closed(uv_handle_t *h)
{
    tt_ws_t *ws = h->data;
    if (--ws->handles == 0)
        ws_free(ws);
}

/* End the session: whatever side ended it, release the other. */
static void ws_finish(tt_ws_t *ws, const char *why)
{
    if (ws->state == WS_DONE)
        return;
    bool was_open = ws->state == WS_OPEN;
    ws->state = WS_DONE;
    unlink_live(ws);
    tt_log_info("ws %.*s from=%s closed: %s", (int)ws->req->target_len, tt_msg_target(ws->req),
                tt_client_peer(ws->cl), why);
    unsubscribe_all(ws);
    if (ws->up) {
        tt_upstream_abort(ws->up);
        ws->up = NULL;
    }
    if (ws->bk) {
        tt_upstream_abort(ws->bk);
        ws->bk = NULL;
    }
    if (!ws->client_gone) {
        if (was_open)
            tt_client_raw_end(ws->cl);
        else
            tt_client_abort(ws->cl);
    }
    ws->handles = 2;
    uv_close((uv_handle_t *)&ws->timer, timer_closed);
    uv_close((uv_handle_t *)&ws->ka_timer, timer_closed);
}

/* ---- the client side ------------------------------------------------------------------ */

/* A compressed message from the client: inflate it (bounded), check text. */
static int inflated_message(tt_ws_t *ws, int opcode, const char *data, size_t len)
{
    tt_buf_t out = TT_BUF_INIT;
    int rc = tt_wsd_inflate(ws->inflater, data, len, ws->snap->cfg->ws_max_message, &out);
    int code = rc == TT_ELIMIT ? TT_WS_CLOSE_TOO_BIG
               : rc != 0       ? TT_WS_CLOSE_INVALID_DATA
               : opcode == TT_WS_TEXT && !tt_utf8_valid(out.data, out.len)
                   ? TT_WS_CLOSE_INVALID_DATA
                   : 0;
    if (code) {
        tt_log_info("ws %s: bad compressed message: %d", tt_client_peer(ws->cl), code);
        close_client(ws, code, code == TT_WS_CLOSE_TOO_BIG ? "message too big" : "bad data");
        tt_buf_free(&out);
        ws_finish(ws, "bad compressed message");
        return 1;
    }
    client_message(ws, opcode, out.data ? out.data : "", out.len);
    tt_buf_free(&out);
    return ws->state == WS_DONE;
}

static int on_message(void *owner, int opcode, const char *data, size_t len, bool rsv1)
{
    tt_ws_t *ws = owner;
    if (rsv1 && ws->inflater)
        return inflated_message(ws, opcode, data, len);
    client_message(ws, opcode, data, len);
    return ws->state == WS_DONE;
}

static int on_ping(void *owner, const char *data, size_t len)
{
    tt_ws_t *ws = owner;
    if (ws->kind == WS_PASS && ws->bk && !ws->detached) {
        tt_buf_t f = TT_BUF_INIT;
        unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
        tt_ws_frame(&f, TT_WS_PING, true, false, data, len, mask);
        tt_upstream_send(ws->bk, f.data, f.len);
        tt_buf_free(&f);
        return 0;
    }
    to_client(ws, TT_WS_PONG, data, len);
    return 0;
}

static int on_pong(void *owner, const char *data, size_t len)
{
    tt_ws_t *ws = owner;
    if (ws->kind == WS_PASS && ws->bk && !ws->detached) {
        tt_buf_t f = TT_BUF_INIT;
        unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
        tt_ws_frame(&f, TT_WS_PONG, true, false, data, len, mask);
        tt_upstream_send(ws->bk, f.data, f.len);
        tt_buf_free(&f);
    }
    return 0;
}

static void on_close_wait(uv_timer_t *t)
{
    ws_finish(t->data, "close handshake timed out");
}

static int on_close(void *owner, int code, const char *reason, size_t len)
{
    tt_ws_t *ws = owner;
    ws->close_received = true;
    if (ws->close_sent || ws->detached || ws->kind == WS_TEST) {
        if (!ws->close_sent) {
            tt_buf_t r = TT_BUF_INIT;
            tt_buf_append(&r, reason, len);
            close_client(ws, code == TT_WS_CLOSE_NO_STATUS ? TT_WS_CLOSE_NORMAL : code, r.data);
            tt_buf_free(&r);
        }
        ws_finish(ws, "closed by client");
        return 1;
    }
    if (ws->kind == WS_OVER_HTTP) {
        tt_wse_encode_close(&ws->events, code, reason, len);
        queued(ws);
        send_events(ws);
    } else if (ws->bk) {
        tt_buf_t f = TT_BUF_INIT;
        unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
        tt_ws_close_frame(&f, code, reason, len, mask);
        tt_upstream_send(ws->bk, f.data, f.len);
        tt_buf_free(&f);
    }
    /* The backend answers the close; if it does not, we do. */
    uv_timer_start(&ws->timer, on_close_wait, CLOSE_WAIT_MS, 0);
    return 1;
}

static const tt_ws_parser_cbs_t client_cbs = {on_message, on_ping, on_pong, on_close};

static void on_client_data(void *x, const char *data, size_t len)
{
    tt_ws_t *ws = x;
    if (ws->state != WS_OPEN)
        return;
    ws->last_activity = uv_now(ws->env->loop);
    const char *why = NULL;
    int rc = tt_ws_parser_feed(&ws->parser, data, len, &why);
    if (rc > 1 && ws->state == WS_OPEN) {
        /* A protocol error by the client: close with its code. */
        tt_log_info("ws %s: client broke the protocol: %d %s", tt_client_peer(ws->cl), rc,
                    why ? why : "");
        close_client(ws, rc, why);
        ws_finish(ws, "protocol error");
    }
}

static void on_client_drain(void *x)
{
    tt_ws_t *ws = x;
    if (ws->bk)
        tt_upstream_resume(ws->bk);
}

static void send_disconnect(tt_ws_t *ws);

static void on_client_closed(void *x, int err)
{
    tt_ws_t *ws = x;
    (void)err;
    ws->client_gone = true;
    if (ws->kind == WS_OVER_HTTP && !ws->close_received && !ws->detached && ws->state == WS_OPEN)
        send_disconnect(ws);
    ws_finish(ws, "client gone");
}

/* Tether stops: close with 1001 (going away), as a server should. */
static void on_client_shutdown(void *x)
{
    tt_ws_t *ws = x;
    close_client(ws, TT_WS_CLOSE_GOING_AWAY, "server shutting down");
    ws_finish(ws, "server shutting down");
}

static const tt_raw_ops_t raw_ops = {on_client_data, on_client_drain, on_client_closed,
                                     on_client_shutdown};

static void client_message(tt_ws_t *ws, int opcode, const char *data, size_t len)
{
    if (ws->detached || ws->close_received)
        return;
    if (ws->kind == WS_OVER_HTTP) {
        tt_wse_encode(&ws->events, opcode == TT_WS_TEXT ? TT_WSE_TEXT : TT_WSE_BINARY, data, len,
                      true);
        queued(ws);
        send_events(ws);
    } else if (ws->kind == WS_PASS && ws->bk) {
        tt_buf_t f = TT_BUF_INIT;
        unsigned char mask[4];
        uv_random(NULL, NULL, mask, sizeof mask, 0, NULL);
        tt_ws_frame(&f, opcode, true, false, data, len, mask);
        tt_upstream_send(ws->bk, f.data, f.len);
        tt_buf_free(&f);
    }
}

/* Switch the client to WebSocket: 101 with the accept key and the
 * backend's headers that belong to the client. */
static void upgrade_client(tt_ws_t *ws, const tt_msg_t *resp)
{
    tt_buf_t h = TT_BUF_INIT;
    char accept[TT_WS_ACCEPT_SIZE];
    tt_ws_accept_key(ws->key, strlen(ws->key), accept);
    tt_buf_appendf(&h, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                   accept);
    for (uint32_t i = 0; resp && i < resp->n_hdrs; i++) {
        const char *n = tt_msg_name(resp, i);
        uint32_t nl = resp->hdrs[i].name_len;
        if (tt_hdr_is_hop(resp, n, nl) || tt_str_ieq(n, nl, "content-type") ||
            tt_str_ieq(n, nl, "content-length") || tt_str_ieq(n, nl, "keep-alive-interval") ||
            tt_str_ieq(n, nl, "sec-websocket-extensions") ||
            tt_str_ieq(n, nl, "sec-websocket-accept") ||
            (nl > 9 && tt_str_ieq(n, 9, "set-meta-")) || tt_grip_header_hidden(n, nl))
            continue;
        tt_buf_appendf(&h, "%.*s: %.*s\r\n", (int)nl, n, (int)resp->hdrs[i].value_len,
                       tt_msg_value(resp, i));
    }
    if (ws->zext) {
        tt_buf_appendf(&h, "Sec-WebSocket-Extensions: %s\r\n", ws->zext);
        free(ws->zext);
        ws->zext = NULL;
    }
    ws->state = WS_OPEN;
    ws->upgraded = true;
    tt_client_upgrade(ws->cl, h.data, h.len, &raw_ops, ws);
    tt_buf_free(&h);
    const tt_target_t *t = &ws->route->targets[ws->target];
    for (size_t i = 0; i < t->n_subs; i++)
        subscribe(ws, t->subs[i], true, NULL, 0);
}

/* ---- WebSocket-over-HTTP ---------------------------------------------------------------- */

static bool skip_client_header(const tt_msg_t *req, uint32_t i)
{
    const char *n = tt_msg_name(req, i);
    uint32_t nl = req->hdrs[i].name_len;
    static const char *const drop[] = {"host",
                                       "content-length",
                                       "content-type",
                                       "accept",
                                       "connection-id",
                                       "expect",
                                       "sec-websocket-key",
                                       "sec-websocket-version",
                                       "sec-websocket-extensions",
                                       "accept-encoding"};
    if (tt_hdr_is_hop(req, n, nl))
        return true;
    for (size_t k = 0; k < TT_ARRAY_SIZE(drop); k++)
        if (tt_str_ieq(n, nl, drop[k]))
            return true;
    if (nl > 5 && tt_str_ieq(n, 5, "meta-"))
        return true;
    return nl > 5 && tt_str_ieq(n, 5, "grip-");
}

/* Request line and Host toward the backend (the route's rewrites applied). */
static void request_start(const tt_ws_t *ws, const char *method, tt_buf_t *out)
{
    const tt_route_t *route = ws->route;
    const tt_target_t *t = &route->targets[ws->target];
    const tt_msg_t *req = ws->req;
    char *path = NULL;
    tt_route_rewrite_path(route, tt_msg_target(req), req->target_len, &path);
    tt_buf_reset(out);
    tt_buf_appendf(out, "%s %s HTTP/1.1\r\n", method, path);
    free(path);
    tt_proxy_append_host(route, t, req, out);
}

/* The POST of a batch of events: the client's headers, the session's meta,
 * a fresh Grip-Sig, and the events. */
static void build_post(tt_ws_t *ws, const char *body, size_t len)
{
    const tt_route_t *route = ws->route;
    const tt_msg_t *req = ws->req;
    request_start(ws, "POST", &ws->out);
    for (uint32_t i = 0; i < req->n_hdrs; i++) {
        if (skip_client_header(req, i))
            continue;
        tt_buf_appendf(&ws->out, "%.*s: %.*s\r\n", (int)req->hdrs[i].name_len, tt_msg_name(req, i),
                       (int)req->hdrs[i].value_len, tt_msg_value(req, i));
    }
    for (size_t h = 0; h < route->n_headers; h++)
        tt_buf_appendf(&ws->out, "%s: %s\r\n", route->headers[h].name, route->headers[h].value);
    tt_buf_appendf(&ws->out,
                   "Content-Type: application/websocket-events\r\n"
                   "Accept: application/websocket-events\r\nConnection-Id: %s\r\n",
                   ws->cid);
    for (size_t i = 0; i < ws->n_meta; i++)
        tt_buf_appendf(&ws->out, "Meta-%s: %s\r\n", ws->meta[i].name, ws->meta[i].value);
    if (!route->no_grip)
        tt_proxy_grip_headers(ws->env, route, &ws->out);
    tt_buf_appendf(&ws->out, "Content-Length: %zu\r\n\r\n", len);
    tt_buf_append(&ws->out, body, len);
}

static void post_events(tt_ws_t *ws);

static void on_retry(uv_timer_t *t)
{
    tt_ws_t *ws = t->data;
    post_events(ws);
}

/* The request failed: try again a few times, then give up on the session. */
static void request_failed(tt_ws_t *ws, const char *why)
{
    ws->up = NULL;
    ws->env->stats.bad_gateway++;
    if (ws->state == WS_HANDSHAKE) {
        if (ws->target + 1 < ws->route->n_targets) {
            ws->target++;
            ws->env->stats.failovers++;
            post_events(ws);
            return;
        }
        tt_log_info("ws %s: backend failed: %s", ws->cid, why);
        tt_client_simple(ws->cl, 502, NULL, "text/plain", "Unable to connect to any targets.\n");
        ws->client_gone = true; /* answered: the client is the server's again */
        ws_finish(ws, why);
        return;
    }
    if (++ws->retries > RETRIES_MAX) {
        tt_log_info("ws %s: backend failed %d times (%s): closing", ws->cid, RETRIES_MAX, why);
        close_client(ws, TT_WS_CLOSE_INTERNAL, "backend unavailable");
        ws_finish(ws, "backend unavailable");
        return;
    }
    uint64_t backoff = RETRY_MS + (uint64_t)(rand() % 1000);
    tt_log_debug("ws %s: request failed (%s), retry %d in %llu ms", ws->cid, why, ws->retries,
                 (unsigned long long)backoff);
    uv_timer_start(&ws->timer, on_retry, backoff, 0);
}

/* A refusal of the OPEN: the backend's answer goes to the client as it is. */
static void relay_rejection(tt_ws_t *ws)
{
    const tt_msg_t *r = ws->resp_msg;
    tt_buf_t h = TT_BUF_INIT;
    tt_proxy_response_headers(r, NULL, &h);
    tt_resp_head_t rh = {ws->resp_status, r->target_len ? tt_msg_target(r) : NULL,
                         h.data ? h.data : "", h.len, (int64_t)ws->resp.len};
    tt_client_respond(ws->cl, &rh);
    tt_client_body(ws->cl, ws->resp.data, ws->resp.len);
    tt_client_end(ws->cl);
    tt_buf_free(&h);
    ws->client_gone = true;
    ws_finish(ws, "refused by the backend");
}

/* The grip extension from every Sec-WebSocket-Extensions line together:
 * the first grip item wins, as in Pushpin. */
static void grip_from(tt_ws_t *ws, const tt_msg_t *r)
{
    tt_buf_t all = TT_BUF_INIT;
    for (int i = tt_msg_find(r, "sec-websocket-extensions", 0); i >= 0;
         i = tt_msg_find(r, "sec-websocket-extensions", (uint32_t)i + 1))
        tt_buf_appendf(&all, "%s%.*s", all.len ? ", " : "", (int)r->hdrs[i].value_len,
                       tt_msg_value(r, (uint32_t)i));
    if (all.len && !ws->route->no_grip)
        tt_wse_grip_extension(all.data, all.len, &ws->grip, ws->prefix, sizeof ws->prefix);
    tt_buf_free(&all);
}

static void apply_response_headers(tt_ws_t *ws, const tt_msg_t *r)
{
    for (uint32_t i = 0; i < r->n_hdrs; i++) {
        const char *n = tt_msg_name(r, i);
        uint32_t nl = r->hdrs[i].name_len;
        if (nl > 9 && tt_str_ieq(n, 9, "set-meta-")) {
            /* An empty value deletes (GRIP.md 3). */
            char *name = tt_xstrndup(n + 9, nl - 9);
            const char *v = tt_msg_value(r, i);
            meta_set(&ws->meta, &ws->n_meta, name, *v ? v : NULL);
            free(name);
        } else if (tt_str_ieq(n, nl, "keep-alive-interval")) {
            long s = strtol(tt_msg_value(r, i), NULL, 10);
            ws->keep_alive_ms =
                s > 0 ? (uint64_t)(s < KEEP_ALIVE_MIN_S ? KEEP_ALIVE_MIN_S : s) * 1000 : 0;
        }
    }
    if (ws->state == WS_HANDSHAKE)
        grip_from(ws, r);
}

static void on_keep_alive_interval(uv_timer_t *t)
{
    tt_ws_t *ws = t->data;
    ws->refresh = true; /* an empty request lets the backend speak */
    send_events(ws);
}

static void play_events(tt_ws_t *ws, const tt_wse_event_t *ev, size_t n)
{
    for (size_t i = 0; i < n && ws->state == WS_OPEN; i++) {
        const tt_wse_event_t *e = &ev[i];
        switch (e->type) {
        case TT_WSE_TEXT:
            from_backend(ws, TT_WS_TEXT, e->content, e->len);
            break;
        case TT_WSE_BINARY:
            from_backend(ws, TT_WS_BINARY, e->content, e->len);
            break;
        case TT_WSE_PING:
            to_client(ws, TT_WS_PING, e->content, e->len);
            break;
        case TT_WSE_PONG:
            to_client(ws, TT_WS_PONG, e->content, e->len);
            break;
        case TT_WSE_CLOSE: {
            int code;
            const char *reason;
            size_t rl;
            tt_wse_close_parse(e->content, e->len, &code, &reason, &rl);
            char r[128];
            snprintf(r, sizeof r, "%.*s", (int)(rl < sizeof r ? rl : sizeof r - 1), reason);
            close_client(ws, code == TT_WS_CLOSE_NO_STATUS ? TT_WS_CLOSE_NORMAL : code, r);
            if (ws->close_received)
                ws_finish(ws, "closed");
            break;
        }
        case TT_WSE_DISCONNECT:
            ws_finish(ws, "backend disconnected");
            break;
        default:
            break;
        }
    }
}

static void response_done(tt_ws_t *ws)
{
    char err[256] = "";
    tt_wse_event_t *ev = NULL;
    size_t n = 0;
    if (tt_wse_parse(ws->resp.data ? ws->resp.data : "", ws->resp.len, &ev, &n, err, sizeof err)) {
        tt_log_info("ws %s: bad events from the backend: %s", ws->cid, err);
        if (ws->state == WS_HANDSHAKE) {
            relay_rejection(ws);
            return;
        }
        close_client(ws, TT_WS_CLOSE_INTERNAL, "bad backend answer");
        ws_finish(ws, err);
        return;
    }
    if (ws->state == WS_HANDSHAKE) {
        /* The first answer must open the connection. */
        if (n == 0 || ev[0].type != TT_WSE_OPEN) {
            free(ev);
            relay_rejection(ws);
            return;
        }
        upgrade_client(ws, ws->resp_msg);
        play_events(ws, ev + 1, n - 1);
    } else {
        play_events(ws, ev, n);
    }
    free(ev);
    ws->retries = 0;
    /* The timer also waits for a close handshake: leave it to that then. */
    if (ws->state == WS_OPEN && ws->keep_alive_ms && !ws->close_received)
        uv_timer_start(&ws->timer, on_keep_alive_interval, ws->keep_alive_ms, 0);
    ws->in_flight = false;
    ws->resp_msg = NULL;
    if (ws->state == WS_OPEN && (ws->events.len || ws->refresh))
        send_events(ws);
}

static void up_connected(void *x, int status)
{
    tt_ws_t *ws = x;
    if (status < 0) {
        request_failed(ws, uv_strerror(status));
        return;
    }
    tt_upstream_send(ws->up, ws->out.data, ws->out.len);
    tt_upstream_request_done(ws->up, false);
}

static void up_head(void *x, tt_msg_t *resp)
{
    tt_ws_t *ws = x;
    ws->resp_status = resp->status;
    ws->resp_msg = resp;
    tt_buf_reset(&ws->resp);
    bool events = tt_msg_type_is(resp, "application/websocket-events");
    if (resp->status == 200 && events)
        apply_response_headers(ws, resp);
    else
        ws->resp_status = resp->status == 200 ? 502 : resp->status;
}

static void up_body(void *x, const char *data, size_t len)
{
    tt_ws_t *ws = x;
    size_t max =
        ws->state == WS_HANDSHAKE && ws->resp_status != 200 ? REJECT_BODY_MAX : EVENTS_RESPONSE_MAX;
    if (ws->resp.len + len <= max)
        tt_buf_append(&ws->resp, data, len);
}

static void up_end(void *x)
{
    tt_ws_t *ws = x;
    ws->up = NULL;
    if (ws->resp_status != 200) {
        if (ws->state == WS_HANDSHAKE) {
            relay_rejection(ws);
            return;
        }
        char why[64];
        snprintf(why, sizeof why, "backend answered %d", ws->resp_status);
        ws->in_flight = false;
        ws->resp_msg = NULL;
        request_failed(ws, why);
        ws->in_flight = true; /* the retry resends ws->out */
        return;
    }
    response_done(ws);
}

static void up_error(void *x, int err, const char *why, bool retryable)
{
    tt_ws_t *ws = x;
    (void)err;
    (void)retryable;
    ws->resp_msg = NULL;
    request_failed(ws, why);
}

static const tt_up_ops_t events_ops = {up_connected, up_head, up_body, up_end, up_error, NULL};

static void post_events(tt_ws_t *ws)
{
    const tt_target_t *t = &ws->route->targets[ws->target];
    ws->in_flight = true;
    tt_tls_config_t *tls = NULL;
    char err[256];
    if (t->ssl && !(tls = tt_proxy_target_tls(ws->env, t, err, sizeof err))) {
        request_failed(ws, err);
        return;
    }
    ws->up = tt_upstream_get(ws->env->pool, t->host, t->port, tls, tt_proxy_target_sni(t), false,
                             &events_ops, ws);
}

/* Bytes of the queued events that go in the next request: all of them,
 * or with `one_event` (or past the size limit) only the first ones. */
static size_t batch_size(const tt_ws_t *ws)
{
    const tt_target_t *t = &ws->route->targets[ws->target];
    size_t take = 0;
    for (size_t i = 0; i < ws->n_ends; i++) {
        if (i > 0 && (t->one_event || ws->ends[i] > EVENTS_REQUEST_MAX))
            break;
        take = ws->ends[i];
    }
    return take;
}

static void dequeue(tt_ws_t *ws, size_t take)
{
    tt_buf_consume(&ws->events, take);
    size_t k = 0;
    for (size_t i = 0; i < ws->n_ends; i++)
        if (ws->ends[i] > take)
            ws->ends[k++] = ws->ends[i] - take;
    ws->n_ends = k;
}

/* Send the queued events (or an empty refresh) when no request is in flight. */
static void send_events(tt_ws_t *ws)
{
    if (ws->in_flight || ws->state == WS_DONE || ws->detached)
        return;
    if (!ws->events.len && !ws->refresh)
        return;
    uv_timer_stop(&ws->timer);
    size_t take = batch_size(ws);
    build_post(ws, ws->events.data ? ws->events.data : "", take);
    dequeue(ws, take);
    ws->refresh = false;
    post_events(ws);
}

/* DISCONNECT: the client left without a close; nobody waits for the answer. */
static void send_disconnect(tt_ws_t *ws)
{
    tt_buf_t ev = TT_BUF_INIT;
    tt_wse_encode(&ev, TT_WSE_DISCONNECT, NULL, 0, false);
    build_post(ws, ev.data, ev.len);
    tt_buf_free(&ev);
    const tt_target_t *t = &ws->route->targets[ws->target];
    tt_tls_config_t *tls = t->ssl ? tt_proxy_target_tls(ws->env, t, NULL, 0) : NULL;
    if (t->ssl && !tls)
        return;
    tt_proxy_fire(ws->env, t->host, t->port, tls, tt_proxy_target_sni(t), ws->out.data,
                  ws->out.len);
}

/* ---- passthrough ------------------------------------------------------------------------ */

static int bk_message(void *owner, int opcode, const char *data, size_t len, bool rsv1)
{
    (void)rsv1;
    from_backend(owner, opcode, data, len);
    return ((tt_ws_t *)owner)->state == WS_DONE;
}

static int bk_ping(void *owner, const char *data, size_t len)
{
    to_client(owner, TT_WS_PING, data, len);
    return 0;
}

static int bk_pong(void *owner, const char *data, size_t len)
{
    to_client(owner, TT_WS_PONG, data, len);
    return 0;
}

static int bk_close(void *owner, int code, const char *reason, size_t len)
{
    tt_ws_t *ws = owner;
    char r[128];
    snprintf(r, sizeof r, "%.*s", (int)(len < sizeof r ? len : sizeof r - 1), reason);
    close_client(ws, code == TT_WS_CLOSE_NO_STATUS ? TT_WS_CLOSE_NORMAL : code, r);
    if (ws->close_received)
        ws_finish(ws, "closed");
    return 1;
}

static const tt_ws_parser_cbs_t backend_cbs = {bk_message, bk_ping, bk_pong, bk_close};

static void pass_connected(void *x, int status)
{
    tt_ws_t *ws = x;
    if (status < 0) {
        ws->bk = NULL;
        request_failed(ws, uv_strerror(status));
        return;
    }
    tt_upstream_send(ws->bk, ws->out.data, ws->out.len);
    tt_upstream_request_done(ws->bk, false);
}

static void pass_head(void *x, tt_msg_t *resp)
{
    tt_ws_t *ws = x;
    ws->resp_status = resp->status;
    ws->resp_msg = resp;
    tt_buf_reset(&ws->resp);
    if (resp->status != 101)
        return; /* a refusal: its body follows, then it is relayed */
    grip_from(ws, resp);
    tt_ws_parser_init(&ws->bparser, false, ws->snap->cfg->ws_max_message, false, &backend_cbs, ws);
    upgrade_client(ws, resp);
    ws->resp_msg = NULL;
}

static void pass_body(void *x, const char *data, size_t len)
{
    tt_ws_t *ws = x;
    if (ws->resp_status != 101) {
        if (ws->resp.len + len <= REJECT_BODY_MAX)
            tt_buf_append(&ws->resp, data, len);
        return;
    }
    const char *why = NULL;
    int rc = tt_ws_parser_feed(&ws->bparser, data, len, &why);
    if (rc > 1 && ws->state == WS_OPEN) {
        tt_log_info("ws: backend broke the protocol: %d %s", rc, why ? why : "");
        close_client(ws, TT_WS_CLOSE_INTERNAL, "backend protocol error");
        ws_finish(ws, "backend protocol error");
        return;
    }
    if (ws->bk && tt_client_congested(ws->cl))
        tt_upstream_pause(ws->bk);
}

static void pass_end(void *x)
{
    tt_ws_t *ws = x;
    ws->bk = NULL;
    if (ws->state == WS_HANDSHAKE)
        relay_rejection(ws);
}

static void pass_error(void *x, int err, const char *why, bool retryable)
{
    tt_ws_t *ws = x;
    (void)err;
    (void)retryable;
    ws->bk = NULL;
    if (ws->state == WS_HANDSHAKE) {
        request_failed(ws, why);
        return;
    }
    if (ws->detached)
        return; /* the backend side was let go on purpose */
    close_client(ws, TT_WS_CLOSE_GOING_AWAY, "backend gone");
    ws_finish(ws, why);
}

static const tt_up_ops_t pass_ops = {pass_connected, pass_head,  pass_body,
                                     pass_end,       pass_error, NULL};

static void pass_connect(tt_ws_t *ws)
{
    const tt_route_t *route = ws->route;
    const tt_target_t *t = &route->targets[ws->target];
    const tt_msg_t *req = ws->req;
    request_start(ws, "GET", &ws->out);
    for (uint32_t i = 0; i < req->n_hdrs; i++) {
        const char *n = tt_msg_name(req, i);
        uint32_t nl = req->hdrs[i].name_len;
        if (tt_hdr_is_hop(req, n, nl) || tt_str_ieq(n, nl, "host") ||
            tt_str_ieq(n, nl, "sec-websocket-extensions") || (nl > 5 && tt_str_ieq(n, 5, "grip-")))
            continue;
        tt_buf_appendf(&ws->out, "%.*s: %.*s\r\n", (int)nl, n, (int)req->hdrs[i].value_len,
                       tt_msg_value(req, i));
    }
    tt_buf_appends(&ws->out, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    if (!route->no_grip) {
        tt_buf_appends(&ws->out, "Sec-WebSocket-Extensions: grip\r\n");
        tt_proxy_grip_headers(ws->env, route, &ws->out);
    }
    tt_buf_appends(&ws->out, "\r\n");
    tt_tls_config_t *tls = NULL;
    char err[256];
    if (t->ssl && !(tls = tt_proxy_target_tls(ws->env, t, err, sizeof err))) {
        request_failed(ws, err);
        return;
    }
    ws->bk = tt_upstream_get(ws->env->pool, t->host, t->port, tls, tt_proxy_target_sni(t), true,
                             &pass_ops, ws);
}

/* ---- entry ------------------------------------------------------------------------------ */

static void hs_abort(void *x)
{
    tt_ws_t *ws = x;
    ws->client_gone = true;
    ws_finish(ws, "client left during the handshake");
}

static void hs_body(void *x, const char *data, size_t len)
{
    (void)x;
    (void)data;
    (void)len;
}

static void hs_end(void *x)
{
    (void)x;
}

static const tt_exchange_ops_t handshake_ops = {hs_body, hs_end, NULL, hs_abort};

static void make_cid(char out[40])
{
    unsigned char r[16];
    uv_random(NULL, NULL, r, sizeof r, 0, NULL);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* UUID version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

/* permessage-deflate with allow_compression: Tether asks for
 * client_no_context_takeover, so an idle connection holds no zlib state. */
static void negotiate_compression(tt_ws_t *ws)
{
    if (!ws->snap->cfg->allow_compression)
        return;
    tt_wsd_params_t p;
    memset(&p, 0, sizeof p);
    p.client_no_context_takeover = true;
    tt_buf_t ext = TT_BUF_INIT;
    if (tt_wsd_negotiate(ws->req, &p, &ext) == 1) {
        ws->inflater = tt_wsd_new(&p);
        ws->zbits = p.server_max_window_bits ? p.server_max_window_bits : 15;
        ws->zext = ext.data;
        return;
    }
    tt_buf_free(&ext);
}

/* Close sessions whose client said nothing for ws_idle_timeout (1001). */
static void on_sweep(uv_timer_t *t)
{
    uint64_t now = uv_now(t->loop);
    tt_ws_t *next;
    for (tt_ws_t *ws = live; ws; ws = next) {
        next = ws->next;
        uint64_t idle = ws->snap->cfg->ws_idle_timeout_ms;
        if (ws->state == WS_OPEN && idle && now - ws->last_activity >= idle) {
            close_client(ws, TT_WS_CLOSE_GOING_AWAY, "idle timeout");
            ws_finish(ws, "idle timeout");
        }
    }
}

static void track_idle(tt_ws_t *ws)
{
    if (!ws->snap->cfg->ws_idle_timeout_ms)
        return;
    ws->last_activity = uv_now(ws->env->loop);
    ws->next = live;
    if (live)
        live->prev = ws;
    live = ws;
    if (!sweep_init) {
        uv_timer_init(ws->env->loop, &sweep);
        uv_unref((uv_handle_t *)&sweep);
        sweep_init = true;
    }
    if (!uv_is_active((uv_handle_t *)&sweep))
        uv_timer_start(&sweep, on_sweep, IDLE_SWEEP_MS, IDLE_SWEEP_MS);
}

void tt_ws_close_all(void)
{
    if (sweep_init) {
        sweep_init = false;
        uv_close((uv_handle_t *)&sweep, NULL);
    }
}

void tt_ws_start(tt_proxy_env_t *env, tt_client_t *cl, tt_msg_t *req, const tt_route_t *route)
{
    const char *why = NULL;
    int status = tt_ws_check_upgrade(req, &why);
    if (status) {
        char body[256];
        snprintf(body, sizeof body, "%s: %s\n", tt_http_reason(status), why ? why : "");
        tt_log_info("ws handshake from %s refused: %d %s", tt_client_peer(cl), status, body);
        tt_client_simple(cl, status, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL,
                         "text/plain", body);
        return;
    }
    tt_ws_t *ws = tt_xcalloc(1, sizeof *ws);
    ws->env = env;
    env->stats.active++;
    ws->cl = cl;
    ws->req = req;
    ws->snap = tt_snapshot_ref(env->snap);
    ws->route = route;
    snprintf(ws->prefix, sizeof ws->prefix, "m:");
    uint32_t klen = 0;
    const char *key = tt_msg_get(req, "sec-websocket-key", &klen);
    snprintf(ws->key, sizeof ws->key, "%.*s", (int)klen, key ? key : "");
    make_cid(ws->cid);
    uv_timer_init(env->loop, &ws->timer);
    uv_timer_init(env->loop, &ws->ka_timer);
    ws->timer.data = ws->ka_timer.data = ws;
    negotiate_compression(ws);
    tt_ws_parser_init(&ws->parser, true, ws->snap->cfg->ws_max_message, ws->inflater != NULL,
                      &client_cbs, ws);
    tt_client_attach(cl, &handshake_ops, ws);
    track_idle(ws);
    const tt_target_t *t = &route->targets[0];
    if (t->type == TT_TARGET_TEST) {
        ws->kind = WS_TEST;
        upgrade_client(ws, NULL);
        subscribe(ws, "test", true, NULL, 0);
    } else if (t->over_http) {
        ws->kind = WS_OVER_HTTP;
        tt_wse_encode(&ws->events, TT_WSE_OPEN, NULL, 0, false);
        queued(ws);
        send_events(ws);
    } else {
        ws->kind = WS_PASS;
        pass_connect(ws);
    }
}
