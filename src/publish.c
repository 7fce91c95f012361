/* Publish API requests: read the body, parse it (pubitem), hand the batch to
 * the hub, answer. One exchange object per request, freed when answered or
 * when the client goes away. */
#include "publish.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "grip.h"
#include "hub.h"
#include "log.h"
#include "mem.h"
#include "pubitem.h"
#include "snapshot.h"
#include "str.h"

typedef struct pub_req_s {
    tt_publish_env_t *env;
    tt_client_t *cl;
    tt_msg_t *req;
    tt_buf_t body;
    bool json;      /* answer in JSON */
    bool receivers; /* ?receivers=1 */
} pub_req_t;

/* Pushpin's Accept rule: no header means text; otherwise the last usable
 * media range of all Accept headers wins (q ignored, case-sensitive):
 * text/plain, text/ *, * / * give text, application/json and application/ *
 * JSON. Returns -1 when nothing is usable (406). */
static int pick_format(const tt_msg_t *req, bool *json)
{
    *json = false;
    int verdict = -1, seen = 0;
    for (int i = tt_msg_find(req, "accept", 0); i >= 0;
         i = tt_msg_find(req, "accept", (uint32_t)i + 1)) {
        seen = 1;
        const char *v = tt_msg_value(req, (uint32_t)i);
        const char *end = v + req->hdrs[i].value_len;
        while (v < end) {
            while (v < end && (*v == ' ' || *v == ','))
                v++;
            const char *e = v;
            while (e < end && *e != ',' && *e != ';' && *e != ' ')
                e++;
            size_t n = (size_t)(e - v);
            if ((n == 10 && !memcmp(v, "text/plain", n)) || (n == 6 && !memcmp(v, "text/*", n)) ||
                (n == 3 && !memcmp(v, "*/*", n)))
                verdict = 0;
            else if ((n == 16 && !memcmp(v, "application/json", n)) ||
                     (n == 13 && !memcmp(v, "application/*", n)))
                verdict = 1;
            while (e < end && *e != ',')
                e++; /* skip parameters */
            v = e;
        }
    }
    if (!seen)
        return 0;
    if (verdict < 0)
        return -1;
    *json = verdict == 1;
    return 0;
}

/* Successes follow Accept; errors are always text/plain, as Pushpin's. */
static void answer(pub_req_t *p, int status, const char *message)
{
    tt_buf_t b = TT_BUF_INIT;
    if (p->json && status == 200) {
        char *esc = message ? tt_xstrdup(message) : tt_xstrdup("");
        tt_buf_appendf(&b, "{\"message\":\"%s\"}\n", esc);
        free(esc);
    } else {
        tt_buf_appendf(&b, "%s\n", message);
    }
    tt_client_simple(p->cl, status, NULL,
                     p->json && status == 200 ? "application/json" : "text/plain", b.data);
    tt_buf_free(&b);
}

static void done(pub_req_t *p)
{
    tt_buf_free(&p->body);
    free(p);
}

/* publish_auth: "bearer:TOKEN" or "jwt:KEY". */
static bool authorized(const tt_config_t *cfg, const tt_msg_t *req)
{
    const char *rule = cfg->publish_auth;
    if (!rule)
        return true;
    uint32_t len = 0;
    const char *auth = tt_msg_get(req, "authorization", &len);
    if (!auth || len < 7 || !tt_str_ieq(auth, 7, "Bearer "))
        return false;
    const char *cred = auth + 7;
    size_t clen = len - 7;
    if (strncmp(rule, "bearer:", 7) == 0)
        return strlen(rule + 7) == clen && memcmp(rule + 7, cred, clen) == 0;
    if (strncmp(rule, "jwt:", 4) == 0) {
        unsigned char *key = NULL;
        size_t klen = 0;
        if (tt_grip_key_decode(rule + 4, &key, &klen) != 0)
            return false;
        uv_timeval64_t tv;
        uv_gettimeofday(&tv);
        bool ok = tt_grip_sig_check(cred, clen, key, klen, tv.tv_sec);
        free(key);
        return ok;
    }
    return false;
}

/* The JSON channel name of each item, taken before the hub owns the batch. */
static char **channel_names(const tt_pub_batch_t *b)
{
    char **names = tt_xcalloc(b->n ? b->n : 1, sizeof *names);
    for (size_t i = 0; i < b->n; i++) {
        tt_buf_t e = TT_BUF_INIT;
        for (const char *c = b->items[i].channel; *c; c++) {
            if (*c == '"' || *c == '\\')
                tt_buf_append(&e, "\\", 1);
            if ((unsigned char)*c < 0x20)
                tt_buf_appendf(&e, "\\u%04x", (unsigned)(unsigned char)*c);
            else
                tt_buf_append(&e, c, 1);
        }
        names[i] = e.data ? e.data : tt_xstrdup("");
    }
    return names;
}

static void report(pub_req_t *p, char **names, const size_t *counts, size_t n)
{
    tt_buf_t out = TT_BUF_INIT;
    tt_buf_appends(&out, "{\"message\":\"Published\",\"items\":[");
    for (size_t i = 0; i < n; i++)
        tt_buf_appendf(&out, "%s{\"channel\":\"%s\",\"receivers\":%zu}", i ? "," : "", names[i],
                       counts[i]);
    tt_buf_appends(&out, "]}\n");
    tt_client_simple(p->cl, 200, NULL, "application/json", out.data);
    tt_buf_free(&out);
}

static void publish(pub_req_t *p)
{
    char err[TT_PUBITEM_ERR_LEN];
    tt_pub_batch_t *b = NULL;
    if (tt_pubitem_parse(p->body.data ? p->body.data : "", p->body.len, &b, err, sizeof err)) {
        p->env->stats.errors++;
        tt_log_info("publish rejected: %s", err);
        answer(p, 400, err);
        return;
    }
    size_t n = b->n;
    size_t *counts = tt_xcalloc(n ? n : 1, sizeof *counts);
    char **names = p->receivers ? channel_names(b) : NULL;
    p->env->stats.published_items += n;
    tt_hub_publish(p->env->hub, b, counts); /* the hub owns b from here */
    if (names)
        report(p, names, counts, n);
    else
        answer(p, 200, "Published");
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(counts);
}

static void on_body(void *x, const char *data, size_t len)
{
    pub_req_t *p = x;
    tt_buf_append(&p->body, data, len);
}

static void on_body_end(void *x)
{
    pub_req_t *p = x;
    const char *t = tt_msg_target(p->req);
    if (strncmp(t, "/recover", 8) == 0) {
        tt_hub_recover(p->env->hub);
        answer(p, 200, "Updated");
    } else {
        publish(p);
    }
    done(p);
}

static void on_abort(void *x)
{
    done(x);
}

static const tt_exchange_ops_t ops = {on_body, on_body_end, NULL, on_abort};

static bool path_is(const char *t, size_t len, const char *path)
{
    const char *q = memchr(t, '?', len);
    size_t plen = q ? (size_t)(q - t) : len;
    size_t n = strlen(path);
    return plen == n && memcmp(t, path, n) == 0;
}

static void text(tt_client_t *cl, int status, const char *extra, const char *body)
{
    tt_client_simple(cl, status, extra, "text/plain", body);
}

/* Pushpin's order of checks: 411, 406 (any path), 404, 405, then the body. */
void tt_publish_request(tt_client_t *cl, tt_msg_t *req, void *arg)
{
    tt_publish_env_t *env = arg;
    env->stats.requests++;
    const char *t = tt_msg_target(req);
    size_t len = req->target_len;
    bool json = false;
    bool post_like = req->method == HTTP_POST || req->method == HTTP_PUT;
    if (req->chunked || (post_like && !req->has_content_length)) {
        text(cl, 411, NULL, "Request requires Content-Length.\n");
        return;
    }
    if (pick_format(req, &json) != 0) {
        text(cl, 406, NULL,
             "Not Acceptable. Supported formats are text/plain and "
             "application/json.\n");
        return;
    }
    if (path_is(t, len, "/") || path_is(t, len, "//")) {
        text(cl, 200, NULL, "Pushpin API\n");
        return;
    }
    bool is_publish = path_is(t, len, "/publish") || path_is(t, len, "/publish/");
    bool is_recover = path_is(t, len, "/recover") || path_is(t, len, "/recover/");
    if (!is_publish && !is_recover) {
        text(cl, 404, NULL, "Not Found\n");
        return;
    }
    if (req->method != HTTP_POST) {
        char body[64];
        snprintf(body, sizeof body, "Method not allowed: %s.\n",
                 llhttp_method_name((llhttp_method_t)req->method));
        text(cl, 405, "Allow: POST\r\n", body);
        return;
    }
    if (!authorized((*env->snap)->cfg, req)) {
        env->stats.unauthorized++;
        tt_log_info("publish from %s refused: not authorized", tt_client_peer(cl));
        text(cl, 401, "WWW-Authenticate: Bearer\r\n",
             "Unauthorized: publish_auth requires a valid bearer token\n");
        return;
    }
    pub_req_t *p = tt_xcalloc(1, sizeof *p);
    p->env = env;
    p->cl = cl;
    p->req = req;
    p->json = json;
    const char *q = memchr(t, '?', len);
    p->receivers = q && strstr(q, "receivers=1") != NULL;
    tt_client_attach(cl, &ops, p);
    tt_client_want_body(cl);
}
