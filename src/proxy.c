/* Proxy session: one client request forwarded to a backend.
 *
 *   CONNECTING --connected--> FORWARDING --response head--> RESPONDING --end--> done
 *       |  connect failed: next target (failover); none left: 502
 *       '  reused connection went stale before answering: retry once on a fresh one
 *
 * The session is freed when both sides are finished with it: the response
 * has ended (or failed) and no callback of the client or the upstream can
 * still arrive. */
#include "proxy.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "mem.h"
#include "str.h"

enum px_state { PX_CONNECTING, PX_FORWARDING, PX_RESPONDING, PX_DONE };

typedef struct tt_proxy_s {
    tt_proxy_env_t *env;
    tt_client_t *cl;
    tt_msg_t *req;
    tt_snapshot_t *snap;
    const tt_route_t *route;
    size_t target;
    tt_upstream_t *up;
    tt_buf_t head;   /* backend request head, kept for failover and retry */
    tt_buf_t errors; /* why each target failed, for debug answers */
    enum px_state state;
    bool has_body, chunked_up, body_sent, body_done, retried;
    int status;
    uint64_t bytes_out;
    uint64_t start_ms;
} tt_proxy_t;

static void try_target(tt_proxy_t *px, bool fresh);

static const tt_target_t *cur_target(const tt_proxy_t *px)
{
    return &px->route->targets[px->target];
}

static bool debug_on(const tt_proxy_t *px)
{
    return px->snap->cfg->debug || (px->route && px->route->debug);
}

/* ---- request head rewriting -------------------------------------------------- */

static bool skip_request_header(const tt_route_t *route, const tt_msg_t *req, uint32_t i,
                                const tt_config_t *cfg)
{
    const char *name = tt_msg_name(req, i);
    uint32_t len = req->hdrs[i].name_len;
    if (tt_hdr_is_hop(req, name, len) || tt_str_ieq(name, len, "expect") ||
        tt_str_ieq(name, len, "host") || tt_str_ieq(name, len, "content-length"))
        return true; /* framing and Host are written by tt_proxy_build_head */
    if (tt_str_ieq(name, len, "x-forwarded-for") && cfg->x_forwarded_for.truncate >= 0)
        return true; /* rebuilt below */
    for (size_t h = 0; route && h < route->n_headers; h++)
        if (tt_str_ieq(name, len, route->headers[h].name))
            return true; /* replaced by the route's value */
    if (route && !route->no_grip) {
        /* GRIP needs plain bodies, and a client may not speak GRIP for the
         * backend (trusted upstreams come with Grip-Sig validation). */
        if (tt_str_ieq(name, len, "accept-encoding"))
            return true;
        if (len > 5 && tt_str_ieq(name, 5, "grip-"))
            return true;
    }
    return false;
}

/* X-Forwarded-For per "truncate:N,append": keep at most N existing entries. */
static void add_xff(const tt_config_t *cfg, const tt_msg_t *req, const char *peer, tt_buf_t *out)
{
    const tt_xff_rule_t *rule = &cfg->x_forwarded_for;
    if (rule->truncate < 0 && !rule->append)
        return;
    tt_buf_t v = TT_BUF_INIT;
    int kept = 0;
    if (rule->truncate != 0) {
        for (int i = tt_msg_find(req, "x-forwarded-for", 0); i >= 0;
             i = tt_msg_find(req, "x-forwarded-for", (uint32_t)i + 1)) {
            const char *s = tt_msg_value(req, (uint32_t)i);
            const char *end = s + req->hdrs[i].value_len;
            while (s < end && (rule->truncate < 0 || kept < rule->truncate)) {
                while (s < end && (*s == ' ' || *s == ','))
                    s++;
                const char *e = s;
                while (e < end && *e != ',')
                    e++;
                const char *t = e;
                while (t > s && t[-1] == ' ')
                    t--;
                if (t > s) {
                    tt_buf_appendf(&v, "%s%.*s", kept ? ", " : "", (int)(t - s), s);
                    kept++;
                }
                s = e;
            }
        }
    }
    if (rule->append && peer[0])
        tt_buf_appendf(&v, "%s%s", kept ? ", " : "", peer);
    if (v.len)
        tt_buf_appendf(out, "X-Forwarded-For: %s\r\n", v.data);
    tt_buf_free(&v);
}

void tt_proxy_build_head(const tt_config_t *cfg, const tt_route_t *route,
                         const tt_target_t *target, const tt_msg_t *req, const char *peer,
                         bool tls, tt_buf_t *out)
{
    char *path = NULL;
    tt_route_rewrite_path(route, tt_msg_target(req), req->target_len, &path);
    tt_buf_appendf(out, "%s %s HTTP/1.1\r\n", llhttp_method_name((llhttp_method_t)req->method),
                   path);
    free(path);
    const char *host = NULL;
    if (target && target->host_header)
        host = target->host_header;
    else if (route && route->as_host)
        host = route->as_host;
    uint32_t hlen = 0;
    const char *client_host = tt_msg_get(req, "host", &hlen);
    if (host)
        tt_buf_appendf(out, "Host: %s\r\n", host);
    else if (client_host)
        tt_buf_appendf(out, "Host: %.*s\r\n", (int)hlen, client_host);
    for (uint32_t i = 0; i < req->n_hdrs; i++) {
        if (skip_request_header(route, req, i, cfg))
            continue;
        tt_buf_append(out, tt_msg_name(req, i), req->hdrs[i].name_len);
        tt_buf_append(out, ": ", 2);
        tt_buf_append(out, tt_msg_value(req, i), req->hdrs[i].value_len);
        tt_buf_append(out, "\r\n", 2);
    }
    for (size_t h = 0; route && h < route->n_headers; h++)
        tt_buf_appendf(out, "%s: %s\r\n", route->headers[h].name, route->headers[h].value);
    add_xff(cfg, req, peer, out);
    if (tls && cfg->set_x_forwarded_protocol != TT_XFP_NONE) {
        tt_buf_appends(out, "X-Forwarded-Proto: https\r\n");
        if (cfg->set_x_forwarded_protocol == TT_XFP_TRUE)
            tt_buf_appends(out, "X-Forwarded-Protocol: https\r\n");
    }
    if (cfg->cdn_loop)
        tt_buf_appendf(out, "CDN-Loop: %s\r\n", cfg->cdn_loop);
    if (req->chunked)
        tt_buf_appends(out, "Transfer-Encoding: chunked\r\n");
    else if (req->has_content_length)
        tt_buf_appendf(out, "Content-Length: %llu\r\n", (unsigned long long)req->content_length);
    tt_buf_appends(out, "\r\n");
}

/* ---- finishing --------------------------------------------------------------- */

static void access_log(tt_proxy_t *px, const char *outcome)
{
    if (tt_log_level < TT_LOG_INFO)
        return;
    const char *route_id = px->route && px->route->id ? px->route->id : "-";
    const tt_target_t *t = px->route && px->route->n_targets ? cur_target(px) : NULL;
    uint64_t ms = uv_now(px->env->loop) - px->start_ms;
    tt_log_info("%s %.*s -> %s:%d route=%s from=%s code=%d %llu %llums%s%s",
                llhttp_method_name((llhttp_method_t)px->req->method), (int)px->req->target_len,
                tt_msg_target(px->req), t ? t->host : "-", t ? t->port : 0, route_id,
                tt_client_peer(px->cl), px->status, (unsigned long long)px->bytes_out,
                (unsigned long long)ms, outcome ? " " : "", outcome ? outcome : "");
}

static void px_free(tt_proxy_t *px)
{
    px->env->stats.active--;
    tt_snapshot_unref(px->snap);
    tt_buf_free(&px->head);
    tt_buf_free(&px->errors);
    free(px);
}

/* The client is answered or gone: release the upstream and the session. */
static void px_finish(tt_proxy_t *px, const char *outcome)
{
    access_log(px, outcome);
    if (px->up) {
        tt_upstream_abort(px->up);
        px->up = NULL;
    }
    px->state = PX_DONE;
    px_free(px);
}

static void answer_error(tt_proxy_t *px, int status, const char *what)
{
    if (status == 504)
        px->env->stats.gateway_timeout++;
    else
        px->env->stats.bad_gateway++;
    px->status = status;
    tt_buf_t body = TT_BUF_INIT;
    tt_buf_appendf(&body, "%s\n", what);
    if (debug_on(px) && px->errors.len)
        tt_buf_append(&body, px->errors.data, px->errors.len);
    if (tt_client_responded(px->cl)) {
        tt_client_abort(px->cl);
    } else {
        px->bytes_out = body.len;
        tt_client_simple(px->cl, status, NULL, "text/plain", body.data);
    }
    tt_buf_free(&body);
    px_finish(px, "error");
}

/* ---- client side callbacks ------------------------------------------------------ */

static void send_body_piece(tt_proxy_t *px, const char *data, size_t len)
{
    if (px->chunked_up) {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        tt_upstream_send2(px->up, size, (size_t)n, data, len);
        tt_upstream_send(px->up, "\r\n", 2);
    } else {
        tt_upstream_send(px->up, data, len);
    }
}

static void cl_on_body(void *x, const char *data, size_t len)
{
    tt_proxy_t *px = x;
    if (!px->up || len == 0)
        return;
    px->body_sent = true;
    send_body_piece(px, data, len);
    if (tt_upstream_congested(px->up))
        tt_client_pause_body(px->cl);
}

static void cl_on_body_end(void *x)
{
    tt_proxy_t *px = x;
    px->body_done = true;
    if (!px->up)
        return;
    if (px->chunked_up)
        tt_upstream_send(px->up, "0\r\n\r\n", 5);
    tt_upstream_request_done(px->up, px->req->method == HTTP_HEAD);
}

static void cl_on_drain(void *x)
{
    tt_proxy_t *px = x;
    if (px->up && px->state == PX_RESPONDING)
        tt_upstream_resume(px->up);
}

static void cl_on_abort(void *x)
{
    tt_proxy_t *px = x;
    px_finish(px, "client-gone");
}

static const tt_exchange_ops_t client_ops = {cl_on_body, cl_on_body_end, cl_on_drain,
                                             cl_on_abort};

/* ---- upstream callbacks ---------------------------------------------------------- */

static void up_on_connected(void *x, int status)
{
    tt_proxy_t *px = x;
    if (status < 0) {
        const tt_target_t *t = cur_target(px);
        px->up = NULL;
        tt_buf_appendf(&px->errors, "%s:%d: %s\n", t->host, t->port, uv_strerror(status));
        tt_log_info("connect to %s:%d failed: %s", t->host, t->port, uv_strerror(status));
        if (px->target + 1 < px->route->n_targets) {
            px->target++;
            px->env->stats.failovers++;
            try_target(px, false);
            return;
        }
        answer_error(px, 502, "Unable to connect to any targets.");
        return;
    }
    px->state = PX_FORWARDING;
    tt_upstream_send(px->up, px->head.data, px->head.len);
    if (px->has_body) {
        tt_client_want_body(px->cl); /* also resumes after a retry */
        tt_client_resume_body(px->cl);
    } else {
        tt_upstream_request_done(px->up, px->req->method == HTTP_HEAD);
    }
}

static void up_on_head(void *x, tt_msg_t *resp)
{
    tt_proxy_t *px = x;
    px->state = PX_RESPONDING;
    px->status = resp->status;
    tt_buf_t h = TT_BUF_INIT;
    for (uint32_t i = 0; i < resp->n_hdrs; i++) {
        const char *name = tt_msg_name(resp, i);
        uint32_t len = resp->hdrs[i].name_len;
        if (tt_hdr_is_hop(resp, name, len) || tt_str_ieq(name, len, "content-length"))
            continue;
        tt_buf_append(&h, name, len);
        tt_buf_append(&h, ": ", 2);
        tt_buf_append(&h, tt_msg_value(resp, i), resp->hdrs[i].value_len);
        tt_buf_append(&h, "\r\n", 2);
    }
    int64_t clen = resp->has_content_length ? (int64_t)resp->content_length : -1;
    tt_resp_head_t rh = {resp->status, NULL, h.data ? h.data : "", h.len, clen};
    if (resp->target_len)
        rh.reason = tt_msg_target(resp);
    tt_client_respond(px->cl, &rh);
    tt_buf_free(&h);
}

static void up_on_body(void *x, const char *data, size_t len)
{
    tt_proxy_t *px = x;
    px->bytes_out += len;
    tt_client_body(px->cl, data, len);
    if (tt_client_congested(px->cl))
        tt_upstream_pause(px->up);
}

static void up_on_end(void *x)
{
    tt_proxy_t *px = x;
    px->up = NULL; /* it returns to the pool by itself */
    px->env->stats.responses++;
    tt_client_end(px->cl);
    px_finish(px, NULL);
}

static void up_on_error(void *x, int err, const char *why, bool retryable)
{
    tt_proxy_t *px = x;
    const tt_target_t *t = cur_target(px);
    px->up = NULL;
    if (retryable && !px->body_sent && !px->retried) {
        /* A pooled connection that the backend had closed while idle. */
        px->retried = true;
        px->env->stats.retries++;
        tt_log_debug("retrying on a fresh connection to %s:%d: %s", t->host, t->port, why);
        try_target(px, true);
        return;
    }
    tt_buf_appendf(&px->errors, "%s:%d: %s\n", t->host, t->port, why);
    tt_log_info("backend %s:%d failed: %s", t->host, t->port, why);
    if (err == UV_ETIMEDOUT && px->state == PX_FORWARDING)
        answer_error(px, 504, "Gateway Timeout: the backend did not answer in time.");
    else
        answer_error(px, 502, "Error while proxying to origin.");
}

static void up_on_drain(void *x)
{
    tt_proxy_t *px = x;
    tt_client_resume_body(px->cl);
}

static const tt_up_ops_t up_ops = {up_on_connected, up_on_head,  up_on_body,
                                   up_on_end,       up_on_error, up_on_drain};

static void try_target(tt_proxy_t *px, bool fresh)
{
    const tt_target_t *t = cur_target(px);
    px->state = PX_CONNECTING;
    tt_buf_reset(&px->head);
    tt_proxy_build_head(px->snap->cfg, px->route, t, px->req, tt_client_peer(px->cl),
                        tt_client_tls(px->cl), &px->head);
    px->up = tt_upstream_get(px->env->pool, t->host, t->port, fresh, &up_ops, px);
}

/* ---- entry ------------------------------------------------------------------------ */

static void reject(tt_client_t *cl, tt_proxy_env_t *env, int status, const char *body)
{
    env->stats.no_route++;
    tt_client_simple(cl, status, NULL, "text/plain", body);
}

void tt_proxy_request(tt_client_t *cl, tt_msg_t *req, void *arg)
{
    tt_proxy_env_t *env = arg;
    env->stats.requests++;
    uint32_t hlen = 0;
    const char *host = tt_msg_get(req, "host", &hlen);
    const char *target = tt_msg_target(req);
    const char *q = memchr(target, '?', req->target_len);
    size_t plen = q ? (size_t)(q - target) : req->target_len;
    const tt_route_t *route = tt_routes_match(env->snap->routes, host ? host : "", hlen, target,
                                              plen, false, tt_client_tls(cl));
    if (!route || route->n_targets == 0) {
        tt_log_info("no route for %.*s%.*s", (int)hlen, host ? host : "", (int)plen, target);
        reject(cl, env, 502, "No route for this request.\n");
        return;
    }
    if (route->targets[0].type == TT_TARGET_TEST) {
        reject(cl, env, 501, "The test target is not available yet.\n");
        return;
    }
    tt_proxy_t *px = tt_xcalloc(1, sizeof *px);
    px->env = env;
    env->stats.active++;
    px->cl = cl;
    px->req = req;
    px->snap = tt_snapshot_ref(env->snap);
    px->route = route;
    px->has_body = req->chunked || (req->has_content_length && req->content_length > 0);
    px->chunked_up = req->chunked;
    px->start_ms = uv_now(px->env->loop);
    tt_client_attach(cl, &client_ops, px);
    try_target(px, false);
}
