/* tether publish CHANNEL [CONTENT]: build the publish item (http-stream,
 * http-response and ws-message formats, as pushpin-publish does), POST it
 * with a small blocking client on a private libuv loop, print the answer. */
#include "publish_cli.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "mem.h"

#define MAX_HEADERS 32
#define TIMEOUT_MS 10000

static const char usage[] =
    "usage: tether publish [options] CHANNEL [CONTENT]\n"
    "  --id ID            item id\n"
    "  --prev-id ID       previous item id\n"
    "  --code N           HTTP status for long-poll (http-response) subscribers\n"
    "  -H, --header H     'Name: value' header for http-response (repeatable)\n"
    "  --meta K=V         item meta (repeatable)\n"
    "  --hint             send a hint instead of content (subscribers re-fetch)\n"
    "  --close            close streams and WebSockets on the channel\n"
    "  --no-eol           do not append a newline to CONTENT\n"
    "  --no-seq           bypass sequencing\n"
    "  --spec URL         control API (default $GRIP_URL or http://127.0.0.1:5561)\n"
    "  --token T          Authorization: Bearer T (for publish_auth)\n";

typedef struct opts_s {
    const char *channel, *content, *id, *prev_id, *spec, *token;
    const char *headers[MAX_HEADERS];
    int n_headers;
    const char *meta[MAX_HEADERS];
    int n_meta;
    int code;
    bool hint, close, no_eol, no_seq;
} opts_t;

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "tether publish: %s%s%s\n%s", what, arg ? " " : "", arg ? arg : "", usage);
    return 2;
}

static int parse(int argc, char **argv, opts_t *o)
{
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        bool flag = true;
        if (strcmp(a, "--hint") == 0)
            o->hint = true;
        else if (strcmp(a, "--close") == 0)
            o->close = true;
        else if (strcmp(a, "--no-eol") == 0)
            o->no_eol = true;
        else if (strcmp(a, "--no-seq") == 0)
            o->no_seq = true;
        else
            flag = false;
        if (flag)
            continue;
        if (a[0] == '-' && a[1] != '\0') {
            if (!v)
                return bad_usage("option needs a value:", a);
            i++;
            if (strcmp(a, "--id") == 0)
                o->id = v;
            else if (strcmp(a, "--prev-id") == 0)
                o->prev_id = v;
            else if (strcmp(a, "--spec") == 0)
                o->spec = v;
            else if (strcmp(a, "--token") == 0)
                o->token = v;
            else if (strcmp(a, "--code") == 0) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*end || n < 100 || n > 999)
                    return bad_usage("invalid --code", v);
                o->code = (int)n;
            } else if ((strcmp(a, "-H") == 0 || strcmp(a, "--header") == 0) &&
                       o->n_headers < MAX_HEADERS) {
                if (!strchr(v, ':'))
                    return bad_usage("header must be 'Name: value':", v);
                o->headers[o->n_headers++] = v;
            } else if (strcmp(a, "--meta") == 0 && o->n_meta < MAX_HEADERS) {
                if (!strchr(v, '='))
                    return bad_usage("meta must be K=V:", v);
                o->meta[o->n_meta++] = v;
            } else
                return bad_usage("unknown option", a);
            continue;
        }
        if (pos == 0)
            o->channel = a;
        else if (pos == 1)
            o->content = a;
        else
            return bad_usage("too many arguments at", a);
        pos++;
    }
    if (!o->channel)
        return bad_usage("missing CHANNEL", NULL);
    if (!o->content && !o->hint && !o->close)
        return bad_usage("missing CONTENT (or --hint / --close)", NULL);
    return 0;
}

/* The JSON item, as pushpin-publish builds it. */
static char *build_body(const opts_t *o)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *item = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "items"), item);
    cJSON_AddStringToObject(item, "channel", o->channel);
    if (o->id)
        cJSON_AddStringToObject(item, "id", o->id);
    if (o->prev_id)
        cJSON_AddStringToObject(item, "prev-id", o->prev_id);
    if (o->no_seq)
        cJSON_AddBoolToObject(item, "no-seq", 1);
    if (o->n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(item, "meta");
        for (int i = 0; i < o->n_meta; i++) {
            const char *eq = strchr(o->meta[i], '=');
            char *k = tt_xstrndup(o->meta[i], (size_t)(eq - o->meta[i]));
            cJSON_AddStringToObject(meta, k, eq + 1);
            free(k);
        }
    }
    cJSON *formats = cJSON_AddObjectToObject(item, "formats");
    cJSON *hr = cJSON_AddObjectToObject(formats, "http-response");
    cJSON *hs = cJSON_AddObjectToObject(formats, "http-stream");
    cJSON *ws = cJSON_AddObjectToObject(formats, "ws-message");
    if (o->hint) {
        cJSON_AddStringToObject(hr, "action", "hint");
        cJSON_AddStringToObject(hs, "action", "hint");
    } else if (o->close) {
        cJSON_DeleteItemFromObject(formats, "http-response");
        cJSON_AddStringToObject(hs, "action", "close");
        cJSON_AddStringToObject(ws, "action", "close");
    } else {
        tt_buf_t text = TT_BUF_INIT;
        tt_buf_appends(&text, o->content);
        if (o->code)
            cJSON_AddNumberToObject(hr, "code", o->code);
        if (o->n_headers) {
            cJSON *h = cJSON_AddObjectToObject(hr, "headers");
            for (int i = 0; i < o->n_headers; i++) {
                const char *colon = strchr(o->headers[i], ':');
                char *k = tt_xstrndup(o->headers[i], (size_t)(colon - o->headers[i]));
                const char *val = colon + 1;
                while (*val == ' ')
                    val++;
                cJSON_AddStringToObject(h, k, val);
                free(k);
            }
        }
        cJSON_AddStringToObject(ws, "content", text.data);
        if (!o->no_eol)
            tt_buf_appends(&text, "\n");
        cJSON_AddStringToObject(hr, "body", text.data);
        cJSON_AddStringToObject(hs, "content", text.data);
        tt_buf_free(&text);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* ---- a tiny blocking HTTP client on a private loop ------------------------------- */

typedef struct http_s {
    uv_loop_t loop;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    tt_buf_t req, resp;
    char port[8];
    int error;
    bool done;
} http_t;

static void finish(http_t *h, int err)
{
    if (h->done)
        return;
    h->done = true;
    h->error = err;
    uv_close((uv_handle_t *)&h->timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&h->tcp))
        uv_close((uv_handle_t *)&h->tcp, NULL);
}

static void on_alloc(uv_handle_t *hd, size_t size, uv_buf_t *buf)
{
    http_t *h = hd->data;
    tt_buf_reserve(&h->resp, size);
    *buf = uv_buf_init(h->resp.data + h->resp.len, (unsigned)size);
}

/* A response is complete at EOF, or when Content-Length bytes are in. */
static bool complete(const tt_buf_t *r)
{
    const char *end = r->data ? strstr(r->data, "\r\n\r\n") : NULL;
    if (!end)
        return false;
    const char *cl = strstr(r->data, "Content-Length: ");
    if (!cl || cl > end)
        return false;
    size_t want = (size_t)strtoul(cl + 16, NULL, 10);
    return r->len - (size_t)(end + 4 - r->data) >= want;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    http_t *h = s->data;
    (void)buf;
    if (n < 0) {
        finish(h, n == UV_EOF ? 0 : (int)n);
        return;
    }
    h->resp.len += (size_t)n;
    h->resp.data[h->resp.len] = '\0';
    if (complete(&h->resp))
        finish(h, 0);
}

static void on_written(uv_write_t *w, int status)
{
    http_t *h = w->data;
    if (status < 0)
        finish(h, status);
}

static void on_connect(uv_connect_t *c, int status)
{
    http_t *h = c->data;
    if (status < 0) {
        finish(h, status);
        return;
    }
    uv_buf_t b = uv_buf_init(h->req.data, (unsigned)h->req.len);
    h->write.data = h;
    uv_write(&h->write, (uv_stream_t *)&h->tcp, &b, 1, on_written);
    uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    http_t *h = g->data;
    if (status < 0 || !res) {
        finish(h, status < 0 ? status : UV_EAI_NONAME);
    } else {
        h->connect.data = h;
        int rc = uv_tcp_connect(&h->connect, &h->tcp, res->ai_addr, on_connect);
        if (rc < 0)
            finish(h, rc);
    }
    uv_freeaddrinfo(res);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, UV_ETIMEDOUT);
}

/* POST `body` to http://host:port/path; the raw response in h->resp. */
static int post(http_t *h, const char *url, const char *token, const char *body)
{
    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "tether publish: only http:// control URLs are supported: %s\n", url);
        return UV_EINVAL;
    }
    const char *host = url + 7, *slash = strchr(host, '/');
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    char *hostport = tt_xstrndup(host, hl);
    char *colon = strrchr(hostport, ':');
    snprintf(h->port, sizeof h->port, "%s", colon ? colon + 1 : "80");
    if (colon)
        *colon = '\0';
    const char *path = slash && strcmp(slash, "/") != 0 ? slash : "/publish/";
    tt_buf_appendf(&h->req,
                   "POST %s HTTP/1.1\r\nHost: %.*s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n",
                   path, (int)hl, host, strlen(body));
    if (token)
        tt_buf_appendf(&h->req, "Authorization: Bearer %s\r\n", token);
    tt_buf_appendf(&h->req, "\r\n%s", body);
    uv_loop_init(&h->loop);
    uv_tcp_init(&h->loop, &h->tcp);
    uv_timer_init(&h->loop, &h->timer);
    h->tcp.data = h->timer.data = h->gai.data = h;
    uv_timer_start(&h->timer, on_timeout, TIMEOUT_MS, 0);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(&h->loop, &h->gai, on_resolved, hostport, h->port, &hints);
    if (rc < 0)
        finish(h, rc);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
    free(hostport);
    return h->error;
}

int tt_publish_cli(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *spec = o.spec ? o.spec : getenv("GRIP_URL");
    if (!spec || !*spec)
        spec = "http://127.0.0.1:5561";
    char *body = build_body(&o);
    http_t h;
    memset(&h, 0, sizeof h);
    rc = post(&h, spec, o.token, body);
    free(body);
    int status = 0;
    if (rc == 0 && h.resp.data && sscanf(h.resp.data, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    const char *msg = h.resp.data ? strstr(h.resp.data, "\r\n\r\n") : NULL;
    if (rc != 0)
        fprintf(stderr, "tether publish: %s: %s\n", spec, uv_strerror(rc));
    else if (status == 200)
        printf("%s", msg ? msg + 4 : "Published\n");
    else
        fprintf(stderr, "tether publish: %d %s", status, msg ? msg + 4 : "\n");
    tt_buf_free(&h.req);
    tt_buf_free(&h.resp);
    return rc == 0 && status == 200 ? 0 : 1;
}
