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

/* Pushpin's Accept rule: text/plain (or none, or * / *) and application/json. */
static int pick_format(const tt_msg_t *req, bool *json)
{
    uint32_t len = 0;
    const char *accept = tt_msg_get(req, "accept", &len);
    *json = false;
    if (!accept || len == 0)
        return 0;
    if (tt_str_list_has(accept, len, "*/*") || tt_str_list_has(accept, len, "text/plain") ||
        tt_str_list_has(accept, len, "text/*"))
        return 0;
    if (tt_str_list_has(accept, len, "application/json")) {
        *json = true;
        return 0;
    }
    return -1;
}

static void answer(pub_req_t *p, int status, const char *message)
{
    tt_buf_t b = TT_BUF_INIT;
    if (p->json) {
        char *esc = message ? tt_xstrdup(message) : tt_xstrdup("");
        tt_buf_appendf(&b, "{\"message\":\"%s\"}\n", esc);
        free(esc);
    } else {
        tt_buf_appendf(&b, "%s\n", message);
    }
    tt_client_simple(p->cl, status, NULL, p->json ? "application/json" : "text/plain", b.data);
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

void tt_publish_request(tt_client_t *cl, tt_msg_t *req, void *arg)
{
    tt_publish_env_t *env = arg;
    env->stats.requests++;
    const char *t = tt_msg_target(req);
    size_t len = req->target_len;
    bool json = false;
    bool is_publish = path_is(t, len, "/publish") || path_is(t, len, "/publish/");
    bool is_recover = path_is(t, len, "/recover") || path_is(t, len, "/recover/");
    if (path_is(t, len, "/") && req->method == HTTP_GET) {
        tt_client_simple(cl, 200, NULL, "text/plain", "Pushpin API\n");
        return;
    }
    if (!is_publish && !is_recover) {
        tt_client_simple(cl, 404, NULL, "text/plain", "Not Found\n");
        return;
    }
    if (req->method != HTTP_POST) {
        tt_client_simple(cl, 405, "Allow: POST\r\n", "text/plain", "Method Not Allowed\n");
        return;
    }
    if (pick_format(req, &json) != 0) {
        tt_client_simple(cl, 406, NULL, "text/plain", "Not Acceptable\n");
        return;
    }
    if (!authorized((*env->snap)->cfg, req)) {
        env->stats.unauthorized++;
        tt_log_info("publish from %s refused: not authorized", tt_client_peer(cl));
        tt_client_simple(cl, 401, "WWW-Authenticate: Bearer\r\n", "text/plain",
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
