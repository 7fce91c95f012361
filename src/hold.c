/* GRIP holds: what Tether does when a backend answers with instructions.
 *
 * A response hold keeps the client waiting on its channels until a
 * publish answers it (http-response) or its timeout sends the backend's
 * original ("timeout") response. A stream hold sends the backend's status,
 * headers and body at once, then appends every published http-stream
 * content, with keep-alives on idle and next-link fetches on hint, gap or
 * timeout. prev-id mismatches make a response hold retry the request with
 * Grip-Last, and a stream hold fetch its next link (GRIP.md 5). */
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "str.h"

static void stream_deliver(tt_sub_t *sub, tt_delivery_t *d);
static void response_deliver(tt_sub_t *sub, tt_delivery_t *d);

static const char *instruct_error(void)
{
    return "Error while proxying to origin.";
}

/* ---- subscriptions --------------------------------------------------------- */

static void unsubscribe_all(tt_proxy_t *px)
{
    for (size_t i = 0; i < px->n_subs; i++)
        tt_hub_unsubscribe(px->env->hub, &px->subs[i]);
    for (size_t i = 0; px->last_ids && i < px->n_subs; i++)
        free(px->last_ids[i]);
    free(px->subs);
    free(px->last_ids);
    px->subs = NULL;
    px->last_ids = NULL;
    px->n_subs = 0;
}

/* Subscribe to the instruct's channels (at most connection_subscription_max). */
static void subscribe_all(tt_proxy_t *px, enum tt_sub_mode mode)
{
    unsubscribe_all(px);
    const tt_instruct_t *in = px->in;
    size_t max = (size_t)px->snap->cfg->connection_subscription_max;
    size_t n = in->n_channels < max ? in->n_channels : max;
    if (in->n_channels > max)
        tt_log_warn("%zu channels asked, connection_subscription_max is %zu: the rest ignored",
                    in->n_channels, max);
    px->subs = tt_xcalloc(n ? n : 1, sizeof *px->subs);
    px->last_ids = tt_xcalloc(n ? n : 1, sizeof *px->last_ids);
    px->n_subs = n;
    tt_sub_cb cb = mode == TT_SUB_STREAM ? stream_deliver : response_deliver;
    for (size_t i = 0; i < n; i++) {
        if (in->channels[i].prev_id)
            px->last_ids[i] = tt_xstrdup(in->channels[i].prev_id);
        tt_hub_subscribe(px->env->hub, &px->subs[i], in->channels[i].name, mode, cb, px);
        tt_log_debug("subscribe %.*s channel=%s", (int)px->req->target_len, tt_msg_target(px->req),
                     in->channels[i].name);
    }
}

static size_t sub_index(const tt_proxy_t *px, const tt_sub_t *sub)
{
    return (size_t)(sub - px->subs);
}

static void init_timers(tt_proxy_t *px)
{
    if (px->timers_init)
        return;
    px->timers_init = true;
    uv_timer_init(px->env->loop, &px->timer);
    uv_timer_init(px->env->loop, &px->ka_timer);
    px->timer.data = px;
    px->ka_timer.data = px;
}

void tt__hold_release(tt_proxy_t *px)
{
    if (px->n_subs || px->subs)
        unsubscribe_all(px);
    if (px->timers_init) {
        uv_timer_stop(&px->timer);
        uv_timer_stop(&px->ka_timer);
    }
    if (px->in && px->in->gone_link && px->client_gone && px->held) {
        /* The client left while held: tell the backend (rel=gone). */
        tt__proxy_gone(px->env, px, px->in->gone_link);
    }
    if (px->held) {
        px->held = false;
        px->env->stats.holding--;
    }
}

static void mark_held(tt_proxy_t *px)
{
    /* What a held session no longer needs: a retry or link fetch rebuilds
     * the request head. Held connections are many; keep them small. */
    tt_buf_free(&px->head);
    tt_buf_free(&px->errors);
    if (!px->held) {
        px->held = true;
        px->env->stats.holding++;
        px->env->stats.held++;
    }
    px->state = PX_HELD;
}

/* ---- filters (Grip-Channel `filter=`) ----------------------------------------------- */

static const char *hold_meta(void *owner, const char *name)
{
    const tt_proxy_t *px = owner;
    for (size_t i = 0; i < px->in->n_meta; i++)
        if (strcmp(px->in->meta[i].name, name) == 0)
            return px->in->meta[i].value;
    return NULL;
}

static bool hold_subscribed(void *owner, const char *channel)
{
    const tt_proxy_t *px = owner;
    for (size_t i = 0; i < px->n_subs; i++)
        if (strcmp(px->in->channels[i].name, channel) == 0)
            return true;
    return false;
}

static bool filters_pass(tt_proxy_t *px, size_t ch, const tt_pub_item_t *item, const char **content,
                         size_t *len, tt_buf_t *scratch)
{
    const tt_grip_channel_t *c = &px->in->channels[ch];
    tt_filter_ctx_t ctx = {hold_meta, hold_subscribed, px};
    return tt_filter_pass(c->filters, c->n_filters, &ctx, item, content, len, scratch);
}

/* ---- response holds ------------------------------------------------------------ */

static void send_response(tt_proxy_t *px, int code, const char *reason, const char *headers,
                          size_t hlen, const char *body, size_t blen)
{
    tt_resp_head_t rh = {code, reason, headers ? headers : "", hlen, (int64_t)blen};
    px->status = code;
    px->bytes_out = blen;
    tt_client_respond(px->cl, &rh);
    tt_client_body(px->cl, body, blen);
    tt_client_end(px->cl);
}

static void on_response_timeout(uv_timer_t *t)
{
    tt_proxy_t *px = t->data;
    send_response(px, px->resp_status, px->resp_reason, px->resp_headers.data, px->resp_headers.len,
                  px->resp_body.data, px->resp_body.len);
    tt__proxy_finish(px, "timeout");
}

/* The timeout response's headers with the published ones laid over them. */
static void merge_headers(const tt_proxy_t *px, const tt_pub_http_response_t *r, tt_buf_t *out)
{
    const char *p = px->resp_headers.data;
    const char *end = p ? p + px->resp_headers.len : NULL;
    while (p && p < end) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        bool replaced = false;
        for (size_t i = 0; colon && i < r->n_headers; i++)
            if (tt_str_ieq(p, (size_t)(colon - p), r->headers[i].name))
                replaced = true;
        if (!replaced)
            tt_buf_append(out, p, (size_t)(eol + 2 - p));
        p = eol + 2;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *n = r->headers[i].name;
        if (tt_str_icmp(n, "content-length") == 0 || tt_str_icmp(n, "transfer-encoding") == 0 ||
            tt_str_icmp(n, "connection") == 0)
            continue;
        tt_buf_appendf(out, "%s: %s\r\n", n, r->headers[i].value);
    }
}

static void retry(tt_proxy_t *px)
{
    unsubscribe_all(px);
    uv_timer_stop(&px->timer);
    tt__proxy_retry(px);
}

static void response_deliver(tt_sub_t *sub, tt_delivery_t *d)
{
    tt_proxy_t *px = sub->owner;
    const tt_pub_item_t *item = d->item;
    const tt_pub_http_response_t *r = &item->http_response;
    if (!r->present || px->state != PX_HELD)
        return;
    size_t i = sub_index(px, sub);
    const char *want = px->last_ids ? px->last_ids[i] : NULL;
    if (r->action == TT_ACT_HINT || r->action == TT_ACT_REFRESH ||
        (want && item->prev_id && strcmp(item->prev_id, want) != 0)) {
        retry(px); /* Grip-Last tells the backend what the client has */
        return;
    }
    if (r->action != TT_ACT_SEND)
        return; /* close is not a response action */
    const char *content = r->has_body ? r->body : "";
    size_t clen = r->has_body ? r->body_len : 0;
    tt_buf_t scratch = TT_BUF_INIT;
    if (!filters_pass(px, i, item, &content, &clen, &scratch)) {
        tt_buf_free(&scratch);
        return;
    }
    /* The head is this subscriber's (merged headers); the body is shared
     * unless a filter rewrote it for this subscriber. */
    tt_buf_t h = TT_BUF_INIT;
    merge_headers(px, r, &h);
    tt_rbuf_t *body = scratch.data ? tt_rbuf_copy(scratch.data, scratch.len)
                                   : tt_rbuf_ref(tt_hub_response_body(d));
    tt_buf_free(&scratch);
    tt_resp_head_t rh = {r->code ? r->code : 200, r->reason, h.data ? h.data : "", h.len,
                         (int64_t)body->len};
    px->status = rh.status;
    px->bytes_out = body->len;
    tt_client_respond(px->cl, &rh);
    tt_client_body_shared(px->cl, body);
    tt_rbuf_unref(body);
    tt_client_end(px->cl);
    tt_buf_free(&h);
    tt__proxy_finish(px, "published");
}

/* A long-poll whose prev-id is already behind retries at once. */
static bool behind(tt_proxy_t *px)
{
    for (size_t i = 0; i < px->n_subs; i++) {
        const char *want = px->last_ids[i];
        const char *last = tt_hub_last_id(px->env->hub, px->in->channels[i].name);
        if (want && last && strcmp(want, last) != 0)
            return true;
    }
    return false;
}

static void start_response_hold(tt_proxy_t *px)
{
    init_timers(px);
    subscribe_all(px, TT_SUB_RESPONSE);
    mark_held(px);
    if (behind(px)) {
        retry(px);
        return;
    }
    uv_timer_start(&px->timer, on_response_timeout, (uint64_t)px->in->timeout * 1000, 0);
}

/* ---- stream holds ---------------------------------------------------------------- */

static void write_stream(tt_proxy_t *px, const char *data, size_t len)
{
    px->bytes_out += len;
    tt_client_body(px->cl, data, len);
}

static void on_keep_alive(uv_timer_t *t);

static void restart_keep_alive(tt_proxy_t *px)
{
    const tt_instruct_t *in = px->in;
    if (!in || !in->keep_alive || in->ka_interval)
        return;
    uint64_t ms = (uint64_t)in->ka_timeout * 1000;
    uv_timer_start(&px->ka_timer, on_keep_alive, ms, 0);
}

static void on_keep_alive(uv_timer_t *t)
{
    tt_proxy_t *px = t->data;
    if (px->state != PX_HELD)
        return;
    write_stream(px, px->in->ka_data, px->in->ka_len);
    restart_keep_alive(px);
}

static void on_link_timeout(uv_timer_t *t)
{
    tt_proxy_t *px = t->data;
    if (px->state == PX_HELD && px->in->next_link)
        tt__proxy_fetch_link(px, px->in->next_link);
}

static void restart_link_timer(tt_proxy_t *px)
{
    if (px->in->next_link && px->in->next_link_timeout > 0)
        uv_timer_start(&px->timer, on_link_timeout, (uint64_t)px->in->next_link_timeout * 1000, 0);
}

static void end_stream(tt_proxy_t *px, const char *why)
{
    tt_client_end(px->cl);
    tt__proxy_finish(px, why);
}

static void fetch_next(tt_proxy_t *px)
{
    if (!px->in->next_link)
        return;
    uv_timer_stop(&px->timer);
    tt__proxy_fetch_link(px, px->in->next_link);
}

static void stream_deliver(tt_sub_t *sub, tt_delivery_t *d)
{
    tt_proxy_t *px = sub->owner;
    const tt_pub_item_t *item = d->item;
    const tt_pub_http_stream_t *st = &item->http_stream;
    if (!st->present || px->state != PX_HELD)
        return;
    if (st->action == TT_ACT_CLOSE) {
        end_stream(px, "closed");
        return;
    }
    if (st->action == TT_ACT_HINT || st->action == TT_ACT_REFRESH) {
        fetch_next(px);
        return;
    }
    size_t i = sub_index(px, sub);
    const char *last = px->last_ids[i];
    if (!item->no_seq && last && item->prev_id && strcmp(item->prev_id, last) != 0 &&
        px->in->next_link) {
        tt_log_debug("channel %s: gap (prev-id %s, last %s): recovering", item->channel,
                     item->prev_id, last);
        fetch_next(px);
        return;
    }
    if (item->id) {
        free(px->last_ids[i]);
        px->last_ids[i] = tt_xstrdup(item->id);
    }
    if (tt_client_queued(px->cl) > px->snap->cfg->subscriber_queue_max) {
        px->env->stats.slow_subscribers++;
        tt_log_info("slow subscriber %s: %zu bytes unsent, disconnecting", tt_client_peer(px->cl),
                    tt_client_queued(px->cl));
        tt_client_abort(px->cl);
        tt__proxy_finish(px, "slow");
        return;
    }
    const char *content = st->content;
    size_t clen = st->content_len;
    tt_buf_t scratch = TT_BUF_INIT;
    if (!filters_pass(px, i, item, &content, &clen, &scratch)) {
        tt_buf_free(&scratch);
        return;
    }
    px->bytes_out += clen;
    if (scratch.data) /* rewritten for this subscriber: its own copy */
        write_stream(px, scratch.data, scratch.len);
    else
        tt_client_body_shared(px->cl, tt_client_chunked(px->cl) ? tt_hub_stream_chunk(d)
                                                                : tt_hub_stream_raw(d));
    tt_buf_free(&scratch);
    restart_keep_alive(px);
    restart_link_timer(px);
}

static void start_stream_hold(tt_proxy_t *px)
{
    init_timers(px);
    subscribe_all(px, TT_SUB_STREAM);
    mark_held(px);
    const tt_instruct_t *in = px->in;
    if (in->keep_alive) {
        uint64_t ms = (uint64_t)in->ka_timeout * 1000;
        uv_timer_start(&px->ka_timer, on_keep_alive, ms, in->ka_interval ? ms : 0);
    }
    restart_link_timer(px);
}

/* ---- the backend's GRIP response --------------------------------------------------- */

/* Status line and headers of a stream's start or a plain answer under `in`. */
static void respond_stream_head(tt_proxy_t *px, const tt_msg_t *resp)
{
    tt_buf_t h = TT_BUF_INIT;
    tt_proxy_response_headers(resp, px->in, &h);
    int code = px->in->status ? px->in->status : resp->status;
    const char *reason =
        px->in->status ? px->in->reason : (resp->target_len ? tt_msg_target(resp) : NULL);
    px->status = code;
    tt_resp_head_t rh = {code, reason, h.data ? h.data : "", h.len, -1};
    tt_client_respond(px->cl, &rh);
    tt_client_flush(px->cl);
    tt_buf_free(&h);
}

static void grip_failed(tt_proxy_t *px, const char *why)
{
    px->env->stats.grip_errors++;
    tt_log_info("GRIP instructions from the backend rejected: %s", why);
    if (px->state == PX_STREAMING || tt_client_responded(px->cl)) {
        end_stream(px, "grip-error");
        return;
    }
    tt__proxy_error(px, 502, instruct_error(), why);
}

/* A next link's response: its body continues the stream, its GRIP headers
 * replace the instructions in force. */
static bool link_head(tt_proxy_t *px, tt_msg_t *resp)
{
    if (resp->status < 200 || resp->status >= 300) {
        tt_log_info("next link answered %d: ending the stream", resp->status);
        end_stream(px, "link-failed");
        return true;
    }
    char err[256] = "";
    tt_instruct_t *in = NULL;
    if (tt_grip_present(resp) &&
        tt_grip_parse_headers(resp, px->route->prefix, &in, err, sizeof err) != 0) {
        grip_failed(px, err);
        return true;
    }
    if (in) {
        tt_grip_instruct_free(px->in);
        px->in = in;
    } else {
        /* No instructions: the stream ends after this body. */
        px->in->hold = TT_HOLD_NONE;
        free(px->in->next_link);
        px->in->next_link = NULL;
    }
    px->state = PX_STREAMING;
    return true;
}

bool tt__hold_on_head(tt_proxy_t *px, tt_msg_t *resp)
{
    if (px->purpose == PX_LINK)
        return link_head(px, resp);
    tt_buf_reset(&px->resp_body);
    px->resp_msg = resp;
    if (tt_grip_is_json(resp)) {
        px->state = PX_INSTRUCT;
        return true;
    }
    char err[256] = "";
    tt_instruct_t *in = NULL;
    if (tt_grip_parse_headers(resp, px->route->prefix, &in, err, sizeof err) != 0) {
        grip_failed(px, err);
        return true;
    }
    tt_grip_instruct_free(px->in);
    px->in = in;
    if (in->hold == TT_HOLD_RESPONSE) {
        px->state = PX_INSTRUCT;
        tt_buf_reset(&px->resp_headers);
        tt_proxy_response_headers(resp, in, &px->resp_headers);
        px->resp_status = in->status ? in->status : resp->status;
        free(px->resp_reason);
        px->resp_reason = NULL;
        if (in->status && in->reason)
            px->resp_reason = tt_xstrdup(in->reason);
        else if (!in->status && resp->target_len)
            px->resp_reason = tt_xstrndup(tt_msg_target(resp), resp->target_len);
        return true;
    }
    if (in->hold == TT_HOLD_STREAM || in->next_link) {
        respond_stream_head(px, resp);
        px->state = PX_STREAMING;
        return true;
    }
    /* Instructions without a hold: the response as it is, minus Grip-*, with
     * Grip-Status and Grip-Expose-Headers applied. */
    tt_buf_t h = TT_BUF_INIT;
    tt_proxy_response_headers(resp, in, &h);
    int code = in->status ? in->status : resp->status;
    const char *reason = in->status ? in->reason : (resp->target_len ? tt_msg_target(resp) : NULL);
    int64_t clen = resp->has_content_length ? (int64_t)resp->content_length : -1;
    tt_resp_head_t rh = {code, reason, h.data ? h.data : "", h.len, clen};
    px->status = code;
    px->state = PX_RESPONDING;
    tt_client_respond(px->cl, &rh);
    tt_buf_free(&h);
    return true;
}

void tt__hold_on_body(tt_proxy_t *px, const char *data, size_t len)
{
    if (px->state == PX_STREAMING) {
        write_stream(px, data, len);
        if (px->up && tt_client_congested(px->cl))
            tt_upstream_pause(px->up);
        return;
    }
    if (px->state != PX_INSTRUCT)
        return;
    if (px->resp_body.len + len > TT_GRIP_JSON_MAX) {
        grip_failed(px, "GRIP instruct response too large");
        return;
    }
    tt_buf_append(&px->resp_body, data, len);
}

/* The JSON form: a whole instruct body has arrived. */
static void json_ready(tt_proxy_t *px)
{
    char err[256] = "";
    tt_instruct_t *in = NULL;
    if (tt_grip_parse_json(px->resp_msg, px->resp_body.data, px->resp_body.len, px->route->prefix,
                           &in, err, sizeof err) != 0) {
        grip_failed(px, err);
        return;
    }
    tt_grip_instruct_free(px->in);
    px->in = in;
    tt_buf_t h = TT_BUF_INIT;
    for (size_t i = 0; i < in->n_headers; i++)
        tt_buf_appendf(&h, "%s: %s\r\n", in->headers[i].name, in->headers[i].value);
    if (in->hold == TT_HOLD_RESPONSE) {
        tt_buf_free(&px->resp_headers);
        px->resp_headers = h;
        tt_buf_reset(&px->resp_body);
        tt_buf_append(&px->resp_body, in->body ? in->body : "", in->body_len);
        px->resp_status = in->code;
        free(px->resp_reason);
        px->resp_reason = in->resp_reason ? tt_xstrdup(in->resp_reason) : NULL;
        start_response_hold(px);
        return;
    }
    px->status = in->code;
    tt_resp_head_t rh = {in->code, in->resp_reason, h.data ? h.data : "", h.len,
                         in->hold == TT_HOLD_STREAM ? -1 : (int64_t)in->body_len};
    tt_client_respond(px->cl, &rh);
    tt_buf_free(&h);
    if (in->body_len)
        write_stream(px, in->body, in->body_len);
    if (in->hold == TT_HOLD_STREAM) {
        tt_client_flush(px->cl);
        start_stream_hold(px);
        return;
    }
    tt_client_end(px->cl);
    tt__proxy_finish(px, NULL);
}

void tt__hold_on_end(tt_proxy_t *px)
{
    if (px->state == PX_INSTRUCT) {
        if (!px->in || px->in->hold != TT_HOLD_RESPONSE) {
            json_ready(px); /* resp_msg is still valid inside on_end */
            px->resp_msg = NULL;
            return;
        }
        px->resp_msg = NULL;
        start_response_hold(px);
        return;
    }
    if (px->state != PX_STREAMING)
        return;
    if (px->in->hold == TT_HOLD_STREAM) {
        start_stream_hold(px);
        return;
    }
    if (px->in->next_link) {
        tt__proxy_fetch_link(px, px->in->next_link); /* paging: one response from many */
        return;
    }
    end_stream(px, NULL);
}

void tt__hold_on_error(tt_proxy_t *px, int status, const char *why)
{
    if (tt_client_responded(px->cl) || px->state == PX_STREAMING) {
        tt_log_info("stream ended: %s", why);
        end_stream(px, "backend-error");
        return;
    }
    tt__proxy_error(px, status,
                    status == 504 ? "Gateway Timeout: the backend did not answer in "
                                    "time."
                                  : instruct_error(),
                    why);
}

/* ---- the test target ------------------------------------------------------------------- */

/* Pushpin's built-in `test` target: /response holds a long-poll and /stream
 * a stream on channel "test", so that publishing works out of the box. */
void tt__hold_test_target(tt_proxy_t *px)
{
    /* The route's path rewrites apply, as for any target. */
    char *t = NULL;
    tt_route_rewrite_path(px->route, tt_msg_target(px->req), px->req->target_len, &t);
    size_t len = strlen(t);
    const char *q = memchr(t, '?', len);
    size_t plen = q ? (size_t)(q - t) : len;
    bool response = tt_str_ieq(t, plen, "/response"), stream = tt_str_ieq(t, plen, "/stream");
    free(t);
    tt_instruct_t *in = tt_xcalloc(1, sizeof *in);
    in->n_channels = 1;
    in->channels = tt_xcalloc(1, sizeof *in->channels);
    in->channels[0].name = tt_xstrdup("test");
    in->timeout = 55;
    px->in = in;
    px->grip = true;
    px->target = 0;
    if (response) {
        in->hold = TT_HOLD_RESPONSE;
        tt_buf_appends(&px->resp_headers, "Content-Type: text/plain\r\n");
        tt_buf_appends(&px->resp_body, "timeout\n");
        px->resp_status = 200;
        start_response_hold(px);
        return;
    }
    if (stream) {
        in->hold = TT_HOLD_STREAM;
        px->status = 200;
        const char *h = "Content-Type: text/plain\r\n";
        tt_resp_head_t rh = {200, NULL, h, strlen(h), -1};
        tt_client_respond(px->cl, &rh);
        write_stream(px, "[stream open]\n", 14);
        tt_client_flush(px->cl);
        start_stream_hold(px);
        return;
    }
    px->status = 404;
    tt_client_simple(px->cl, 404, NULL, "text/plain", "Not Found\n");
    tt__proxy_finish(px, NULL);
}
