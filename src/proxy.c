/* Proxy session, the backend side: one client request forwarded to a
 * backend, and the further backend requests a GRIP hold makes (retries, next
 * links, gone links). The state diagram is in session.h.
 *
 * Connect failures move to the next target (failover); a pooled connection
 * that went stale before answering is retried once on a fresh one. The
 * session is freed when the response has ended (or failed), no callback of
 * the client or the upstream can still arrive, and its timers are closed. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grip.h"
#include "hub.h"
#include "log.h"
#include "mem.h"
#include "str.h"
#include "ws.h"
#include "wsframe.h"

/* Request bodies kept for a GRIP retry; a longer body cannot be retried. */
#define RETRY_BODY_MAX 100000

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

typedef struct head_opts_s {
    const char *method; /* NULL: the client's */
    const char *path;   /* NULL: the client's target rewritten by the route */
    bool no_body;       /* no framing headers (link fetches) */
} head_opts_t;

static bool skip_request_header(const tt_proxy_t *px, const tt_msg_t *req, uint32_t i)
{
    const char *name = tt_msg_name(req, i);
    uint32_t len = req->hdrs[i].name_len;
    const tt_route_t *route = px->route;
    if (tt_hdr_is_hop(req, name, len) || tt_str_ieq(name, len, "expect") ||
        tt_str_ieq(name, len, "host") || tt_str_ieq(name, len, "content-length"))
        return true; /* framing and Host are written by build_head */
    if (tt_str_ieq(name, len, "x-forwarded-for") && px->snap->cfg->x_forwarded_for.truncate >= 0)
        return true; /* rebuilt below */
    for (size_t h = 0; h < route->n_headers; h++)
        if (tt_str_ieq(name, len, route->headers[h].name))
            return true; /* replaced by the route's value */
    if (px->grip) {
        /* GRIP needs plain bodies; a client's GRIP headers pass only when
         * its own Grip-Sig proved it a trusted GRIP proxy. */
        if (tt_str_ieq(name, len, "accept-encoding"))
            return true;
        if (len > 5 && tt_str_ieq(name, 5, "grip-") && !px->trusted)
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
    for (int i = tt_msg_find(req, "x-forwarded-for", 0); i >= 0 && rule->truncate != 0;
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
    if (rule->append && peer[0])
        tt_buf_appendf(&v, "%s%s", kept ? ", " : "", peer);
    if (v.len)
        tt_buf_appendf(out, "X-Forwarded-For: %s\r\n", v.data);
    tt_buf_free(&v);
}

/* Grip-Last for each channel with a known last id (retries, links). */
static void add_grip_last(const tt_proxy_t *px, tt_buf_t *out)
{
    const tt_instruct_t *in = px->in;
    for (size_t i = 0; in && i < in->n_channels; i++) {
        /* What the client has: the stream's running id, else the hold's prev-id. */
        const char *id = px->last_ids && px->last_ids[i] ? px->last_ids[i] : NULL;
        if (!id)
            id = in->channels[i].prev_id;
        if (!id && px->env->hub)
            id = tt_hub_last_id(px->env->hub, in->channels[i].name);
        if (!id)
            continue;
        tt_buf_appends(out, "Grip-Last: ");
        tt_grip_last_format(out, in->channels[i].name, id);
        tt_buf_appends(out, "\r\n");
    }
}

static void build_head(tt_proxy_t *px, const head_opts_t *o, tt_buf_t *out)
{
    const tt_config_t *cfg = px->snap->cfg;
    const tt_route_t *route = px->route;
    const tt_target_t *target = cur_target(px);
    const tt_msg_t *req = px->req;
    char *path = NULL;
    if (!o->path)
        tt_route_rewrite_path(route, tt_msg_target(req), req->target_len, &path);
    tt_buf_appendf(out, "%s %s HTTP/1.1\r\n",
                   o->method ? o->method : llhttp_method_name((llhttp_method_t)req->method),
                   o->path ? o->path : path);
    free(path);
    tt_proxy_append_host(route, target, req, out);
    for (uint32_t i = 0; i < req->n_hdrs; i++) {
        if (skip_request_header(px, req, i))
            continue;
        tt_buf_append(out, tt_msg_name(req, i), req->hdrs[i].name_len);
        tt_buf_append(out, ": ", 2);
        tt_buf_append(out, tt_msg_value(req, i), req->hdrs[i].value_len);
        tt_buf_append(out, "\r\n", 2);
    }
    for (size_t h = 0; h < route->n_headers; h++)
        tt_buf_appendf(out, "%s: %s\r\n", route->headers[h].name, route->headers[h].value);
    add_xff(cfg, req, tt_client_peer(px->cl), out);
    if (tt_client_tls(px->cl) && cfg->set_x_forwarded_protocol != TT_XFP_NONE) {
        tt_buf_appends(out, "X-Forwarded-Proto: https\r\n");
        if (cfg->set_x_forwarded_protocol == TT_XFP_TRUE)
            tt_buf_appends(out, "X-Forwarded-Protocol: https\r\n");
    }
    if (cfg->cdn_loop)
        tt_buf_appendf(out, "CDN-Loop: %s\r\n", cfg->cdn_loop);
    if (px->grip && !px->trusted)
        tt_proxy_grip_headers(px->env, route, out);
    if (px->purpose != PX_ORIGINAL)
        add_grip_last(px, out);
    if (o->no_body)
        tt_buf_appends(out, "Content-Length: 0\r\n");
    else if (req->chunked)
        tt_buf_appends(out, "Transfer-Encoding: chunked\r\n");
    else if (req->has_content_length)
        tt_buf_appendf(out, "Content-Length: %llu\r\n", (unsigned long long)req->content_length);
    tt_buf_appends(out, "\r\n");
}

void tt_proxy_append_host(const tt_route_t *route, const tt_target_t *target, const tt_msg_t *req,
                          tt_buf_t *out)
{
    uint32_t len = 0;
    const char *client_host = tt_msg_get(req, "host", &len);
    if (target->host_header)
        tt_buf_appendf(out, "Host: %s\r\n", target->host_header);
    else if (route->as_host)
        tt_buf_appendf(out, "Host: %s\r\n", route->as_host);
    else if (client_host)
        tt_buf_appendf(out, "Host: %.*s\r\n", (int)len, client_host);
}

void tt_proxy_grip_headers(tt_proxy_env_t *env, const tt_route_t *route, tt_buf_t *out)
{
    const tt_config_t *cfg = env->snap->cfg;
    const char *iss = route->sig_iss ? route->sig_iss : cfg->sig_iss;
    const char *key = route->sig_key ? route->sig_key : cfg->sig_key;
    int64_t now = (int64_t)(uv_now(env->loop) / 1000);
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0)
        now = tv.tv_sec;
    tt_buf_t id = TT_BUF_INIT;
    tt_buf_appendf(&id, "%s\n%s", iss, key);
    if (!env->sig_token || env->sig_time != now || strcmp(env->sig_for, id.data) != 0) {
        unsigned char *k = NULL;
        size_t klen = 0;
        if (tt_grip_key_decode(key, &k, &klen) != 0) {
            tt_buf_free(&id);
            return; /* check-config rejects such keys; nothing to sign with */
        }
        free(env->sig_token);
        free(env->sig_for);
        env->sig_token = tt_grip_sig_make(k, klen, iss, now);
        env->sig_for = tt_xstrdup(id.data);
        env->sig_time = now;
        free(k);
    }
    tt_buf_free(&id);
    tt_buf_appendf(out, "Grip-Sig: %s\r\nGrip-Feature: %s\r\n", env->sig_token, tt_grip_features());
}

typedef struct tt_tls_client_s {
    struct tt_tls_client_s *next;
    char *key; /* "insecure|ca|cert|key" */
    tt_tls_config_t *cfg;
} tls_client_t;

tt_tls_config_t *tt_proxy_target_tls(tt_proxy_env_t *env, const tt_target_t *t, char *err,
                                     size_t errlen)
{
    const char *ca = env->snap->cfg->tls_ca_file;
    tt_buf_t key = TT_BUF_INIT;
    tt_buf_appendf(&key, "%d|%s|%s|%s", t->insecure, ca ? ca : "",
                   t->client_cert ? t->client_cert : "", t->client_key ? t->client_key : "");
    for (tls_client_t *c = env->tls_clients; c; c = c->next)
        if (strcmp(c->key, key.data) == 0) {
            tt_buf_free(&key);
            return c->cfg;
        }
    tt_tls_config_t *cfg =
        tt_tls_client_config_new(ca, !t->insecure, t->client_cert, t->client_key, err, errlen);
    if (!cfg) {
        tt_buf_free(&key);
        return NULL;
    }
    tls_client_t *c = tt_xcalloc(1, sizeof *c);
    c->key = key.data;
    c->cfg = cfg;
    c->next = env->tls_clients;
    env->tls_clients = c;
    return cfg;
}

const char *tt_proxy_target_sni(const tt_target_t *t)
{
    return t->host_header ? t->host_header : t->host;
}

void tt_proxy_env_clear(tt_proxy_env_t *env)
{
    while (env->tls_clients) {
        tls_client_t *c = env->tls_clients;
        env->tls_clients = c->next;
        tt_tls_config_unref(c->cfg);
        free(c->key);
        free(c);
    }
    free(env->sig_token);
    free(env->sig_for);
    env->sig_token = env->sig_for = NULL;
}

void tt_proxy_response_headers(const tt_msg_t *resp, const tt_instruct_t *in, tt_buf_t *out)
{
    for (uint32_t i = 0; i < resp->n_hdrs; i++) {
        const char *name = tt_msg_name(resp, i);
        uint32_t len = resp->hdrs[i].name_len;
        if (tt_hdr_is_hop(resp, name, len) || tt_str_ieq(name, len, "content-length"))
            continue;
        if (in ? !tt_grip_header_allowed(in, name, len) : tt_grip_header_hidden(name, len))
            continue;
        tt_buf_append(out, name, len);
        tt_buf_append(out, ": ", 2);
        tt_buf_append(out, tt_msg_value(resp, i), resp->hdrs[i].value_len);
        tt_buf_append(out, "\r\n", 2);
    }
}

/* ---- finishing --------------------------------------------------------------- */

static void access_log(tt_proxy_t *px, const char *outcome)
{
    if (tt_log_level < TT_LOG_INFO)
        return;
    const char *route_id = px->route && px->route->id ? px->route->id : "-";
    const tt_target_t *t = px->route && px->route->n_targets ? cur_target(px) : NULL;
    uint64_t ms = uv_now(px->env->loop) - px->start_ms;
    bool test = t && t->type == TT_TARGET_TEST;
    tt_log_info("%s %.*s -> %s:%d route=%s from=%s code=%d %llu %llums%s%s",
                llhttp_method_name((llhttp_method_t)px->req->method), (int)px->req->target_len,
                tt_msg_target(px->req), t ? (test ? "test" : t->host) : "-", t ? t->port : 0,
                route_id, tt_client_peer(px->cl), px->status, (unsigned long long)px->bytes_out,
                (unsigned long long)ms, outcome ? " " : "", outcome ? outcome : "");
}

static void px_free(tt_proxy_t *px)
{
    px->env->stats.active--;
    tt_snapshot_unref(px->snap);
    tt_buf_free(&px->head);
    tt_buf_free(&px->body);
    tt_buf_free(&px->errors);
    tt_buf_free(&px->resp_body);
    tt_buf_free(&px->resp_headers);
    free(px->resp_reason);
    free(px->link_url);
    tt_grip_instruct_free(px->in);
    free(px);
}

static void timer_closed(uv_handle_t *h)
{
    tt_proxy_t *px = h->data;
    if (--px->handles == 0)
        px_free(px);
}

/* The client is answered or gone: release the upstream, the hold and the
 * session (after its timers close). */
void tt__proxy_finish(tt_proxy_t *px, const char *outcome)
{
    if (px->state == PX_DONE)
        return;
    access_log(px, outcome);
    if (px->up) {
        tt_upstream_abort(px->up);
        px->up = NULL;
    }
    px->state = PX_DONE;
    tt__hold_release(px);
    if (!px->timers_init) {
        px_free(px);
        return;
    }
    px->handles = 2;
    uv_close((uv_handle_t *)&px->timer, timer_closed);
    uv_close((uv_handle_t *)&px->ka_timer, timer_closed);
}

void tt__proxy_error(tt_proxy_t *px, int status, const char *what, const char *why)
{
    if (status == 504)
        px->env->stats.gateway_timeout++;
    else
        px->env->stats.bad_gateway++;
    px->status = status;
    if (why)
        tt_buf_appendf(&px->errors, "%s\n", why);
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
    tt__proxy_finish(px, "error");
}

/* ---- client side callbacks ------------------------------------------------------ */

static void send_body_piece(tt_proxy_t *px, const char *data, size_t len)
{
    if (px->chunked_up) {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        uv_buf_t b[3] = {uv_buf_init(size, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                         uv_buf_init("\r\n", 2)};
        tt_upstream_sendv(px->up, b, 3);
    } else {
        tt_upstream_send(px->up, data, len);
    }
}

static void cl_on_body(void *x, const char *data, size_t len)
{
    tt_proxy_t *px = x;
    if (len == 0)
        return;
    if (px->grip) {
        if (px->body.len + len <= RETRY_BODY_MAX)
            tt_buf_append(&px->body, data, len);
        else
            px->body_kept_all = false;
    }
    if (!px->up || px->state != PX_FORWARDING)
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
    if (!px->up || px->state != PX_FORWARDING)
        return;
    if (px->chunked_up)
        tt_upstream_send(px->up, "0\r\n\r\n", 5);
    tt_upstream_request_done(px->up, px->req->method == HTTP_HEAD);
}

static void cl_on_drain(void *x)
{
    tt_proxy_t *px = x;
    if (px->up && (px->state == PX_RESPONDING || px->state == PX_STREAMING))
        tt_upstream_resume(px->up);
}

static void cl_on_abort(void *x)
{
    tt_proxy_t *px = x;
    px->client_gone = true;
    tt__proxy_finish(px, "client-gone");
}

static const tt_exchange_ops_t client_ops = {cl_on_body, cl_on_body_end, cl_on_drain, cl_on_abort};

/* ---- upstream callbacks ---------------------------------------------------------- */

/* Send what is known of the request: the head, then (for a retry) the kept
 * body, or ask the client for the body. */
static void send_request(tt_proxy_t *px)
{
    px->state = PX_FORWARDING;
    bool head_only = px->req->method == HTTP_HEAD;
    if (px->purpose == PX_LINK) {
        tt_upstream_send(px->up, px->head.data, px->head.len);
        tt_upstream_request_done(px->up, false);
        return;
    }
    if (px->purpose == PX_RETRY || (px->body_done && px->has_body)) {
        /* The body was read before: send the kept copy (chunked if it came so). */
        tt_upstream_send(px->up, px->head.data, px->head.len);
        if (px->body.len)
            send_body_piece(px, px->body.data, px->body.len);
        if (px->chunked_up)
            tt_upstream_send(px->up, "0\r\n\r\n", 5);
        tt_upstream_request_done(px->up, head_only);
        return;
    }
    tt_upstream_send(px->up, px->head.data, px->head.len);
    if (px->has_body) {
        tt_client_want_body(px->cl); /* also resumes after a stale-connection retry */
        tt_client_resume_body(px->cl);
    } else {
        tt_upstream_request_done(px->up, head_only);
    }
}

static void up_on_connected(void *x, int status)
{
    tt_proxy_t *px = x;
    if (status >= 0) {
        send_request(px);
        return;
    }
    const tt_target_t *t = cur_target(px);
    px->up = NULL;
    tt_buf_appendf(&px->errors, "%s:%d: %s\n", t->host, t->port, uv_strerror(status));
    tt_log_info("connect to %s:%d failed: %s", t->host, t->port, uv_strerror(status));
    if (px->purpose != PX_LINK && px->target + 1 < px->route->n_targets) {
        px->target++;
        px->env->stats.failovers++;
        try_target(px, false);
        return;
    }
    if (px->purpose == PX_LINK) {
        tt__hold_on_error(px, 502, "next link: cannot connect");
        return;
    }
    tt__proxy_error(px, 502, "Unable to connect to any targets.", NULL);
}

static void up_on_head(void *x, tt_msg_t *resp)
{
    tt_proxy_t *px = x;
    px->status = resp->status;
    if (px->grip && (px->purpose == PX_LINK || tt_grip_present(resp)) && tt__hold_on_head(px, resp))
        return;
    if (px->purpose != PX_ORIGINAL && tt_client_responded(px->cl)) {
        /* A retry answered without GRIP after the client got a head: cannot be. */
        tt__proxy_error(px, 502, "Error while proxying to origin.", "retry without GRIP");
        return;
    }
    px->state = PX_RESPONDING;
    tt_buf_t h = TT_BUF_INIT;
    tt_proxy_response_headers(resp, NULL, &h);
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
    if (px->state != PX_RESPONDING) {
        tt__hold_on_body(px, data, len);
        return;
    }
    px->bytes_out += len;
    tt_client_body(px->cl, data, len);
    if (tt_client_congested(px->cl))
        tt_upstream_pause(px->up);
}

static void up_on_end(void *x)
{
    tt_proxy_t *px = x;
    px->up = NULL; /* it returns to the pool by itself */
    if (px->state != PX_RESPONDING) {
        tt__hold_on_end(px);
        return;
    }
    px->env->stats.responses++;
    tt_client_end(px->cl);
    tt__proxy_finish(px, NULL);
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
    tt_log_info("backend %s:%d failed: %s", t->host, t->port, why);
    int status = err == UV_ETIMEDOUT && px->state == PX_FORWARDING ? 504 : 502;
    if (px->state == PX_STREAMING || px->state == PX_INSTRUCT || px->purpose == PX_LINK) {
        tt__hold_on_error(px, status, why);
        return;
    }
    tt_buf_appendf(&px->errors, "%s:%d: %s\n", t->host, t->port, why);
    if (status == 504)
        tt__proxy_error(px, 504, "Gateway Timeout: the backend did not answer in time.", NULL);
    else
        tt__proxy_error(px, 502, "Error while proxying to origin.", NULL);
}

static void up_on_drain(void *x)
{
    tt_proxy_t *px = x;
    if (px->purpose == PX_ORIGINAL)
        tt_client_resume_body(px->cl);
}

static const tt_up_ops_t up_ops = {up_on_connected, up_on_head,  up_on_body,
                                   up_on_end,       up_on_error, up_on_drain};

static void try_target(tt_proxy_t *px, bool fresh)
{
    const tt_target_t *t = cur_target(px);
    px->state = PX_CONNECTING;
    tt_buf_reset(&px->head);
    head_opts_t o = {NULL, NULL, false};
    build_head(px, &o, &px->head);
    tt_tls_config_t *tls = NULL;
    if (t->ssl) {
        char err[256];
        tls = tt_proxy_target_tls(px->env, t, err, sizeof err);
        if (!tls) {
            tt_log_error("TLS toward %s:%d: %s", t->host, t->port, err);
            tt__proxy_error(px, 502, "Error while proxying to origin.", err);
            return;
        }
    }
    px->up = tt_upstream_get(px->env->pool, t->host, t->port, tls, tt_proxy_target_sni(t), fresh,
                             &up_ops, px);
}

/* ---- GRIP's further requests ----------------------------------------------------- */

void tt__proxy_retry(tt_proxy_t *px)
{
    if (px->has_body && !px->body_kept_all) {
        tt__proxy_error(px, 502, "Error while proxying to origin.",
                        "request body too large to retry");
        return;
    }
    px->purpose = PX_RETRY;
    px->retried = false;
    px->env->stats.retries++;
    try_target(px, false);
}

/* Split an absolute http URL into host, port and path; a relative one keeps
 * the route's target. Returns false for what Tether cannot fetch. */
static bool resolve_link(const tt_proxy_t *px, const char *url, char *host, size_t hostlen,
                         int *port, const char **path, bool *tls)
{
    const tt_target_t *t = cur_target(px);
    *tls = false;
    if (url[0] == '/') {
        *tls = t->ssl;
        snprintf(host, hostlen, "%s", t->host);
        *port = t->port;
        *path = url;
        return true;
    }
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    *port = colon ? atoi(colon + 1) : 80;
    size_t nl = colon ? (size_t)(colon - h) : hl;
    if (nl == 0 || nl >= hostlen || *port <= 0 || *port > 65535)
        return false;
    memcpy(host, h, nl);
    host[nl] = '\0';
    *path = slash ? slash : "/";
    return true;
}

void tt__proxy_fetch_link(tt_proxy_t *px, const char *url)
{
    char host[256];
    int port;
    const char *path;
    bool ssl;
    if (!resolve_link(px, url, host, sizeof host, &port, &path, &ssl)) {
        tt__hold_on_error(px, 502, "next link: unsupported URL");
        return;
    }
    px->purpose = PX_LINK;
    px->env->stats.link_fetches++;
    px->state = PX_CONNECTING;
    tt_buf_reset(&px->head);
    head_opts_t o = {"GET", path, true};
    build_head(px, &o, &px->head);
    const tt_target_t *t = cur_target(px);
    tt_tls_config_t *tls = ssl ? tt_proxy_target_tls(px->env, t, NULL, 0) : NULL;
    if (ssl && !tls) {
        tt__hold_on_error(px, 502, "next link: TLS unavailable");
        return;
    }
    px->up = tt_upstream_get(px->env->pool, host, port, tls, ssl ? tt_proxy_target_sni(t) : NULL,
                             false, &up_ops, px);
}

/* Requests nobody waits for (gone links, WebSocket DISCONNECT). */
typedef struct gone_s {
    tt_upstream_t *up;
    tt_buf_t head;
} gone_t;

static void gone_done(gone_t *g)
{
    tt_buf_free(&g->head);
    free(g);
}

static void gone_connected(void *x, int status)
{
    gone_t *g = x;
    if (status < 0) {
        gone_done(g);
        return;
    }
    tt_upstream_send(g->up, g->head.data, g->head.len);
    tt_upstream_request_done(g->up, false);
}

static void gone_head(void *x, tt_msg_t *resp)
{
    (void)x;
    tt_log_debug("gone link answered %d", resp->status);
}

static void gone_body(void *x, const char *data, size_t len)
{
    (void)x;
    (void)data;
    (void)len;
}

static void gone_end(void *x)
{
    gone_done(x);
}

static void gone_error(void *x, int err, const char *why, bool retryable)
{
    (void)err;
    (void)retryable;
    tt_log_info("gone link failed: %s", why);
    gone_done(x);
}

static const tt_up_ops_t gone_ops = {gone_connected, gone_head,  gone_body,
                                     gone_end,       gone_error, NULL};

void tt_proxy_fire(tt_proxy_env_t *env, const char *host, int port, tt_tls_config_t *tls,
                   const char *sni, const char *request, size_t len)
{
    gone_t *g = tt_xcalloc(1, sizeof *g);
    tt_buf_append(&g->head, request, len);
    g->up = tt_upstream_get(env->pool, host, port, tls, sni, false, &gone_ops, g);
}

void tt__proxy_gone(tt_proxy_env_t *env, const tt_proxy_t *px, const char *url)
{
    char host[256];
    int port;
    const char *path;
    bool ssl;
    if (!resolve_link(px, url, host, sizeof host, &port, &path, &ssl))
        return;
    const tt_target_t *t = cur_target(px);
    tt_tls_config_t *tls = ssl ? tt_proxy_target_tls(env, t, NULL, 0) : NULL;
    if (ssl && !tls)
        return;
    tt_buf_t req = TT_BUF_INIT;
    tt_buf_appendf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, host);
    tt_proxy_grip_headers(env, px->route, &req);
    tt_buf_appends(&req, "Content-Length: 0\r\n\r\n");
    tt_proxy_fire(env, host, port, tls, ssl ? tt_proxy_target_sni(t) : NULL, req.data, req.len);
    tt_buf_free(&req);
}

/* ---- entry ------------------------------------------------------------------------ */

static void reject(tt_client_t *cl, tt_proxy_env_t *env, int status, const char *body)
{
    env->stats.no_route++;
    tt_client_simple(cl, status, NULL, "text/plain", body);
}

/* A client's own Grip-Sig, valid under upstream_key, makes it a trusted
 * GRIP proxy in front of us: its GRIP headers go to the backend. */
static bool client_trusted(const tt_config_t *cfg, const tt_msg_t *req)
{
    uint32_t len = 0;
    const char *sig = tt_msg_get(req, "grip-sig", &len);
    if (!sig || !cfg->upstream_key)
        return false;
    unsigned char *key = NULL;
    size_t klen = 0;
    if (tt_grip_key_decode(cfg->upstream_key, &key, &klen) != 0)
        return false;
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    bool ok = tt_grip_sig_check(sig, len, key, klen, tv.tv_sec);
    free(key);
    return ok;
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
    bool ws = tt_ws_is_upgrade(req);
    const tt_route_t *route = tt_routes_match(env->snap->routes, host ? host : "", hlen, target,
                                              plen, ws, tt_client_tls(cl));
    if (!route || route->n_targets == 0) {
        tt_log_info("no route for %.*s%.*s", (int)hlen, host ? host : "", (int)plen, target);
        reject(cl, env, 502, "No route for this request.\n");
        return;
    }
    if (ws) {
        tt_ws_start(env, cl, req, route);
        return;
    }
    if (tt_msg_type_is(req, "application/websocket-events") &&
        !client_trusted(env->snap->cfg, req)) {
        /* Only Tether speaks WebSocket-over-HTTP to backends (GRIP.md 3). */
        tt_client_simple(cl, 403, NULL, "text/plain",
                         "Forbidden: clients may not send application/websocket-events\n");
        return;
    }
    tt_proxy_t *px = tt_xcalloc(1, sizeof *px);
    px->env = env;
    env->stats.active++;
    px->cl = cl;
    px->req = req;
    px->snap = tt_snapshot_ref(env->snap);
    px->route = route;
    px->grip = !route->no_grip;
    px->trusted = px->grip && client_trusted(env->snap->cfg, req);
    px->has_body = req->chunked || (req->has_content_length && req->content_length > 0);
    px->body_kept_all = true;
    px->chunked_up = req->chunked;
    px->start_ms = uv_now(env->loop);
    tt_client_attach(cl, &client_ops, px);
    if (route->targets[0].type == TT_TARGET_TEST) {
        tt__hold_test_target(px);
        return;
    }
    try_target(px, false);
}
