/* Application life cycle.
 *
 *   load config + routes -> listen -> RUNNING --SIGHUP / routes file change--> reload
 *                                        |
 *                                   SIGTERM/SIGINT -> STOPPING (no accepts; in-flight
 *                                   requests finish within shutdown_grace) -> exit 0
 *
 * A reload parses the config file and the routes again into a new snapshot;
 * if anything is wrong the errors are logged and the old snapshot stays. */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "evloop.h"
#include "log.h"
#include "mem.h"
#include "platform.h"
#include "hub.h"
#include "proxy.h"
#include "publish.h"
#include "route.h"
#include "server.h"
#include "snapshot.h"
#include "tls.h"
#include "upstream.h"
#include "ws.h"

#define MAX_LISTENERS 32
#define RELOAD_DEBOUNCE_MS 1000

typedef struct app_s {
    uv_loop_t *loop;
    const tt_app_opts_t *opts;
    tt_proxy_env_t env;
    tt_publish_env_t pub;
    tt_server_t *servers[MAX_LISTENERS];
    const char *kinds[MAX_LISTENERS];
    char addrs[MAX_LISTENERS][64];
    int n_servers;
    int servers_open;
    tt_server_stats_t http_stats;
    uv_fs_event_t watch;
    uv_timer_t debounce;
    uv_timer_t grace;
    uv_pipe_t stdin_pipe;
    bool stdin_open;
    char *watched_name;
    bool watching;
    bool stopping;
    int exit_code;
} app_t;

/* ---- loading ------------------------------------------------------------------ */

static void apply_cli(const tt_app_opts_t *o, tt_config_t *cfg, tt_diag_t *d)
{
    if (o->n_ports) {
        free(cfg->http_ports);
        cfg->http_ports = tt_xcalloc((size_t)o->n_ports, sizeof *cfg->http_ports);
        cfg->n_http_ports = 0;
        for (int i = 0; i < o->n_ports; i++) {
            if (tt_listen_parse(o->ports[i], &cfg->http_ports[cfg->n_http_ports]) != 0)
                tt_diag_error(d, "--port", 0, "invalid [addr:]port '%s'", o->ports[i]);
            else
                cfg->n_http_ports++;
        }
    }
    if (o->log_level >= 0)
        cfg->log_level = o->log_level;
}

static tt_routes_t *load_routes(const tt_app_opts_t *o, const tt_config_t *cfg, tt_diag_t *d)
{
    tt_routes_t *routes = NULL;
    if (o->n_routes) {
        tt_buf_t text = TT_BUF_INIT;
        for (int i = 0; i < o->n_routes; i++)
            tt_buf_appendf(&text, "%s\n", o->routes[i]);
        tt_routes_parse(text.data, text.len, "--route", &routes, d);
        tt_buf_free(&text);
        return routes;
    }
    tt_routes_load(cfg->routesfile, &routes, d);
    return routes;
}

/* The certificates for https_ports: tls_cert/tls_key as the default, and
 * Pushpin's runner/certs directory (<host>.crt/.key, default.crt,
 * _.example.com.crt). NULL with the reasons in `d` when unusable. */
static tt_tls_config_t *load_tls(const tt_config_t *cfg, tt_diag_t *d)
{
    char err[512];
    tt_tls_config_t *c = tt_tls_server_config_new(err, sizeof err);
    if (!c) {
        tt_diag_error(d, cfg->path, 0, "TLS: %s", err);
        return NULL;
    }
    bool any = false;
    uv_fs_t req;
    bool dir = uv_fs_stat(NULL, &req, cfg->certs_dir, NULL) == 0 && (req.statbuf.st_mode & S_IFDIR);
    uv_fs_req_cleanup(&req);
    /* The directory first: tls_cert then adds the default, unless the
     * directory already has one (a clear error, not a silent choice). */
    if (dir) {
        if (tt_tls_server_load_dir(c, cfg->certs_dir, err, sizeof err) != 0)
            tt_diag_error(d, cfg->certs_dir, 0, "%s", err);
        else
            any = true;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        tt_diag_error(d, cfg->path, 0, "tls_cert and tls_key go together");
    } else if (cfg->tls_cert) {
        if (tt_tls_server_add_cert(c, NULL, cfg->tls_cert, cfg->tls_key, err, sizeof err) != 0)
            tt_diag_error(d, cfg->path, 0, "tls_cert: %s", err);
        else
            any = true;
    }
    if (!any && !d->errors)
        tt_diag_error(d, cfg->path, 0,
                      "https_ports needs certificates: %s/<host>.crt and .key, or tls_cert and "
                      "tls_key",
                      cfg->certs_dir);
    if (d->errors) {
        tt_tls_config_unref(c);
        return NULL;
    }
    return c;
}

/* Build a snapshot from the files and the command line, or NULL with the
 * reasons in `d`. */
static tt_snapshot_t *load_snapshot(const tt_app_opts_t *o, tt_diag_t *d)
{
    tt_config_t *cfg = NULL;
    if (o->config_path)
        tt_config_load(o->config_path, &cfg, d);
    else
        cfg = tt_config_defaults(".");
    if (!cfg)
        return NULL;
    apply_cli(o, cfg, d);
    tt_routes_t *routes = load_routes(o, cfg, d);
    tt_tls_config_t *tls = cfg->n_https_ports && !d->errors ? load_tls(cfg, d) : NULL;
    if (d->errors || !routes) {
        tt_config_free(cfg);
        tt_routes_free(routes);
        tt_tls_config_unref(tls);
        return NULL;
    }
    tt_snapshot_t *s = tt_snapshot_new(cfg, routes);
    s->tls_server = tls;
    return s;
}

int tt_app_check_config(const tt_app_opts_t *o, FILE *out)
{
    tt_diag_t d = TT_DIAG_INIT;
    tt_snapshot_t *s = load_snapshot(o, &d);
    if (d.text.len)
        fputs(d.text.data, out);
    if (s)
        fprintf(out, "configuration ok: %zu route(s)\n", s->routes->n);
    tt_snapshot_unref(s);
    tt_diag_free(&d);
    return s ? 0 : 1;
}

static void log_diag(const tt_diag_t *d)
{
    if (!d->text.len)
        return;
    const char *p = d->text.data;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        char line[600];
        snprintf(line, sizeof line, "%.*s", len, p);
        tt_log(strstr(line, ": error: ") ? TT_LOG_ERROR : TT_LOG_WARN, "%s", line);
        p += len + (nl ? 1 : 0);
    }
}

static void describe_routes(const tt_routes_t *r)
{
    if (r->n == 0)
        tt_log_warn("no routes: every request will be answered 502");
    for (size_t i = 0; i < r->n; i++) {
        const tt_route_t *rt = &r->routes[i];
        tt_buf_t b = TT_BUF_INIT;
        for (size_t t = 0; t < rt->n_targets; t++) {
            const tt_target_t *tg = &rt->targets[t];
            if (tg->type == TT_TARGET_TEST)
                tt_buf_appendf(&b, "%stest", t ? ", " : "");
            else
                tt_buf_appendf(&b, "%s%s:%d%s", t ? ", " : "", tg->host, tg->port,
                               tg->ssl ? " (tls)" : "");
        }
        tt_log_info("route %s%s%s -> %s", rt->host ? rt->host : "*", rt->path_beg ? " " : "",
                    rt->path_beg ? rt->path_beg : "", b.data ? b.data : "(none)");
        tt_buf_free(&b);
    }
}

/* ---- reload ------------------------------------------------------------------- */

static void reload(app_t *a, const char *why)
{
    tt_diag_t d = TT_DIAG_INIT;
    tt_snapshot_t *s = load_snapshot(a->opts, &d);
    log_diag(&d);
    tt_diag_free(&d);
    if (!s) {
        tt_log_error("reload (%s) rejected: the previous configuration stays in force", why);
        return;
    }
    tt_snapshot_unref(a->env.snap);
    a->env.snap = s;
    for (int i = 0; i < a->n_servers; i++)
        if (a->servers[i] && strcmp(a->kinds[i], "https") == 0)
            tt_server_set_tls(a->servers[i], s->tls_server);
    tt_log_set_level(s->cfg->log_level);
    tt_log_info("reloaded (%s): %zu route(s)", why, s->routes->n);
    describe_routes(s->routes);
}

static void on_debounce(uv_timer_t *t)
{
    app_t *a = t->data;
    if (!a->stopping)
        reload(a, "routes file changed");
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    app_t *a = h->data;
    (void)events;
    if (status < 0 || a->stopping)
        return;
    /* The directory is watched, since editors replace files by renaming;
     * a burst of events settles into one reload. */
    if (filename && a->watched_name && strcmp(filename, a->watched_name) != 0)
        return;
    uv_timer_start(&a->debounce, on_debounce, RELOAD_DEBOUNCE_MS, 0);
}

static void start_watch(app_t *a)
{
    const char *path = a->env.snap->cfg->routesfile;
    if (a->opts->n_routes || !path)
        return;
    char *dir = tt_platform_dirname(path);
    const char *base = path + strlen(path);
    while (base > path && base[-1] != '/' && base[-1] != '\\')
        base--;
    a->watched_name = tt_xstrdup(base);
    uv_fs_event_init(a->loop, &a->watch);
    a->watch.data = a;
    int rc = uv_fs_event_start(&a->watch, on_fs_event, dir, 0);
    if (rc == 0) {
        a->watching = true;
        uv_unref((uv_handle_t *)&a->watch);
    } else {
        tt_log_warn("cannot watch %s for changes: %s (SIGHUP still reloads)", dir, uv_strerror(rc));
        uv_close((uv_handle_t *)&a->watch, NULL);
    }
    free(dir);
}

/* ---- stop ----------------------------------------------------------------------- */

static void finish_stop(app_t *a)
{
    uv_timer_stop(&a->grace);
    uv_close((uv_handle_t *)&a->grace, NULL);
    uv_close((uv_handle_t *)&a->debounce, NULL);
    if (a->watching)
        uv_close((uv_handle_t *)&a->watch, NULL);
    a->watching = false;
    tt_platform_signals_stop();
    if (a->stdin_open)
        uv_close((uv_handle_t *)&a->stdin_pipe, NULL);
    a->stdin_open = false;
    tt_pool_close(a->env.pool);
    a->env.pool = NULL;
    tt_ws_close_all();
    tt_hub_free(a->env.hub);
    a->env.hub = NULL;
    tt_proxy_env_clear(&a->env);
    tt_evloop_close();
    tt_log_info("stopped");
}

static void on_server_stopped(tt_server_t *s, void *arg)
{
    app_t *a = arg;
    for (int i = 0; i < a->n_servers; i++)
        if (a->servers[i] == s)
            a->servers[i] = NULL;
    if (--a->servers_open == 0)
        finish_stop(a);
}

static void on_grace(uv_timer_t *t)
{
    app_t *a = t->data;
    tt_log_warn("shutdown grace time over: closing %d open connection(s)", a->http_stats.open);
    for (int i = 0; i < a->n_servers; i++)
        if (a->servers[i])
            tt_server_close(a->servers[i]);
}

static void on_stop(void *arg)
{
    app_t *a = arg;
    if (a->stopping) {
        tt_log_warn("second stop request: closing now");
        on_grace(&a->grace);
        return;
    }
    a->stopping = true;
    tt_log_info("stopping: %d connection(s) open, up to %llu ms to finish", a->http_stats.open,
                (unsigned long long)a->env.snap->cfg->shutdown_grace_ms);
    uv_timer_stop(&a->debounce);
    uv_timer_start(&a->grace, on_grace, a->env.snap->cfg->shutdown_grace_ms, 0);
    a->servers_open = a->n_servers;
    for (int i = 0; i < a->n_servers; i++)
        tt_server_stop(a->servers[i], on_server_stopped, a);
    if (a->n_servers == 0)
        finish_stop(a);
}

static void on_reload(void *arg)
{
    app_t *a = arg;
    if (!a->stopping)
        reload(a, "SIGHUP");
}

/* ---- stdin watch: a supervisor (or a test) that goes away stops us --------------- */

static void stdin_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char scratch[256];
    (void)h;
    (void)size;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void stdin_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    app_t *a = s->data;
    (void)buf;
    if (n < 0 && !a->stopping) {
        tt_log_info("stdin closed: stopping");
        on_stop(a);
    }
}

static void watch_stdin(app_t *a)
{
    uv_pipe_init(a->loop, &a->stdin_pipe, 0);
    a->stdin_pipe.data = a;
    a->stdin_open = true;
    int rc = uv_pipe_open(&a->stdin_pipe, 0);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&a->stdin_pipe, stdin_alloc, stdin_read);
    if (rc != 0)
        tt_log_warn("cannot watch stdin: %s", uv_strerror(rc));
    else
        uv_unref((uv_handle_t *)&a->stdin_pipe);
}

/* ---- start ---------------------------------------------------------------------- */

static int write_port_file(app_t *a, const char *path)
{
    tt_buf_t b = TT_BUF_INIT;
    for (int i = 0; i < a->n_servers; i++)
        tt_buf_appendf(&b, "%s %s:%d\n", a->kinds[i], a->addrs[i], tt_server_port(a->servers[i]));
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = -1;
    if (f) {
        rc = fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
        rc |= fclose(f);
        if (rc == 0) {
            uv_fs_t req;
            rc = uv_fs_rename(NULL, &req, tmp, path, NULL);
            uv_fs_req_cleanup(&req);
        }
    }
    tt_buf_free(&b);
    return rc;
}

static int listen_one(app_t *a, const char *kind, const char *addr, int port,
                      const tt_server_opts_t *so, tt_server_stats_t *stats)
{
    if (a->n_servers == MAX_LISTENERS)
        return UV_EMFILE;
    int rc = tt_server_listen(a->loop, addr, port, so, stats, &a->servers[a->n_servers]);
    if (rc != 0) {
        tt_log_error("cannot listen on %s:%d (%s): %s", addr, port, kind, uv_strerror(rc));
        return rc;
    }
    tt_log_info("listening on %s:%d (%s)", addr, tt_server_port(a->servers[a->n_servers]), kind);
    a->kinds[a->n_servers] = kind;
    snprintf(a->addrs[a->n_servers], sizeof a->addrs[0], "%s", addr);
    a->n_servers++;
    return 0;
}

static int start_listeners(app_t *a)
{
    const tt_config_t *cfg = a->env.snap->cfg;
    tt_server_opts_t so;
    memset(&so, 0, sizeof so);
    so.name = "http";
    so.head_limit = cfg->client_buffer_size;
    so.body_limit = cfg->max_request_body;
    so.header_timeout_ms = cfg->client_header_timeout_ms;
    so.idle_timeout_ms = cfg->client_idle_timeout_ms;
    so.maxconn = cfg->client_maxconn;
    so.on_request = tt_proxy_request;
    so.arg = &a->env;
    for (size_t i = 0; i < cfg->n_http_ports; i++) {
        const tt_listen_t *l = &cfg->http_ports[i];
        int rc = listen_one(a, "http", l->addr, l->port, &so, &a->http_stats);
        if (rc != 0)
            return rc;
    }
    tt_server_opts_t ts = so;
    ts.name = "https";
    ts.tls = true;
    for (size_t i = 0; i < cfg->n_https_ports; i++) {
        const tt_listen_t *l = &cfg->https_ports[i];
        int rc = listen_one(a, "https", l->addr, l->port, &ts, &a->http_stats);
        if (rc != 0)
            return rc;
        tt_server_set_tls(a->servers[a->n_servers - 1], a->env.snap->tls_server);
    }
    /* The control API: private, Pushpin's limits. */
    tt_server_opts_t co = so;
    co.name = "control";
    co.head_limit = cfg->push_in_http_max_headers_size;
    co.body_limit = cfg->push_in_http_max_body_size;
    co.maxconn = 0;
    co.on_request = tt_publish_request;
    static const tt_server_texts_t pushpin_texts = {
        "Failed to parse request header.", "Request header too large.", "Request body too large."};
    co.texts = &pushpin_texts;
    co.arg = &a->pub;
    return listen_one(a, "control", cfg->push_in_http_addr, cfg->push_in_http_port, &co, NULL);
}

int tt_app_run(const tt_app_opts_t *opts)
{
    app_t a;
    memset(&a, 0, sizeof a);
    a.opts = opts;
    a.loop = uv_default_loop();
    tt_diag_t d = TT_DIAG_INIT;
    tt_snapshot_t *snap = load_snapshot(opts, &d);
    log_diag(&d);
    tt_diag_free(&d);
    if (!snap) {
        tt_log_error("configuration has errors: not starting");
        return 1;
    }
    tt_log_set_level(snap->cfg->log_level);
    tt_log_info("tether %s starting%s%s", TT_VERSION, opts->config_path ? " with " : "",
                opts->config_path ? opts->config_path : "");
    tt_evloop_init(a.loop);
    a.env.loop = a.loop;
    a.env.snap = snap;
    const tt_config_t *cfg = snap->cfg;
    tt_pool_opts_t po = {cfg->backend_connect_timeout_ms, cfg->backend_response_timeout_ms,
                         cfg->backend_keepalive_timeout_ms, cfg->backend_pool_size,
                         cfg->max_response_header_size};
    a.env.pool = tt_pool_new(a.loop, &po);
    tt_hub_opts_t ho = {cfg->message_wait_ms, cfg->id_cache_ttl_ms};
    a.env.hub = tt_hub_new(a.loop, &ho);
    a.pub.hub = a.env.hub;
    a.pub.snap = &a.env.snap;
    uv_timer_init(a.loop, &a.debounce);
    a.debounce.data = &a;
    uv_timer_init(a.loop, &a.grace);
    a.grace.data = &a;
    uv_unref((uv_handle_t *)&a.grace);
    tt_platform_hooks_t hooks = {on_stop, on_reload, &a};
    tt_platform_signals_start(a.loop, &hooks);
    describe_routes(snap->routes);
    if (opts->watch_stdin)
        watch_stdin(&a);
    if (start_listeners(&a) != 0) {
        a.exit_code = 1;
        on_stop(&a);
    } else {
        start_watch(&a);
        if (opts->port_file && write_port_file(&a, opts->port_file) != 0)
            tt_log_error("cannot write port file %s", opts->port_file);
    }
    uv_run(a.loop, UV_RUN_DEFAULT);
    tt_snapshot_unref(a.env.snap);
    free(a.watched_name);
    uv_loop_close(a.loop);
    return a.exit_code;
}
