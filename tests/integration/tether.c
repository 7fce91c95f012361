/* Integration-test harness for the tether binary. */
#include "tether.h"

#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int tt_tether_start(tt_tether_t *t, const char *conf, const char *routes,
                    const char *const *extra)
{
    memset(t, 0, sizeof *t);
    t->dir = tt_test_tmpdir();
    if (!t->dir)
        return -1;
    char buf[8192];
    /* The control API on a free port too, so that tests run in parallel. */
    snprintf(buf, sizeof buf, "[runner]\nlog_level=3\n[handler]\npush_in_http_port=0\n%s",
             conf ? conf : "");
    t->conf = tt_test_write_file(t->dir, "tether.conf", buf);
    t->routes = tt_test_write_file(t->dir, "routes", routes ? routes : "");
    char pf[4096];
    snprintf(pf, sizeof pf, "%s/ports", t->dir);
    snprintf(buf, sizeof buf, "%s/tether.log", t->dir);
    t->log = tt_xstrdup(buf);
    /* --watch-stdin: tether stops when this test process dies, even by abort. */
    const char *args[32] = {"run",         "-c",          t->conf, "--port",
                            "127.0.0.1:0", "--port-file", pf,      "--watch-stdin"};
    int n = 8;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    t->proc = tt_proc_start("tether", args, t->log);
    if (!t->proc)
        return -1;
    t->port = tt_proc_wait_port(t->proc, pf, "http", 10000);
    t->control_port = tt_proc_wait_port(t->proc, pf, "control", 10000);
    if (conf && strstr(conf, "https_ports"))
        t->https_port = tt_proc_wait_port(t->proc, pf, "https", 10000);
    if (t->port <= 0 || t->control_port <= 0) {
        char *log = tt_tether_log(t);
        fprintf(stderr, "tether did not start; log:\n%s\n", log ? log : "(none)");
        free(log);
        return -1;
    }
    return 0;
}

char *tt_tether_log(const tt_tether_t *t)
{
    return tt_test_read_file(t->log, NULL);
}

int tt_tether_wait_log(const tt_tether_t *t, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        char *log = tt_tether_log(t);
        int found = log && strstr(log, needle) != NULL;
        free(log);
        if (found)
            return 1;
        tt_test_sleep_ms(50);
    }
    return 0;
}

int tt_tether_stop(tt_tether_t *t)
{
    int rc = -1;
    if (t->proc) {
        int64_t status = -1;
        int sig = 0;
        tt_proc_close_stdin(t->proc);
        if (tt_proc_wait_exit(t->proc, 15000, &status, &sig))
            rc = sig ? -1 : (int)status;
        tt_proc_free(t->proc);
    }
    if (rc != 0 && t->log) {
        char *log = tt_tether_log(t);
        fprintf(stderr, "tether log:\n%s\n", log ? log : "(none)");
        free(log);
    }
    if (t->dir)
        tt_test_rmtree(t->dir);
    free(t->dir);
    free(t->conf);
    free(t->routes);
    free(t->log);
    memset(t, 0, sizeof *t);
    return rc;
}

int tt_tether_cli(const char *const *args, char **out)
{
    char *dir = tt_test_tmpdir();
    char logp[4096];
    snprintf(logp, sizeof logp, "%s/out", dir);
    tt_proc_t *p = tt_proc_start("tether", args, logp);
    int64_t status = -1;
    int sig = 0;
    int rc = -1;
    if (p && tt_proc_wait_exit(p, 15000, &status, &sig))
        rc = sig ? -1 : (int)status;
    tt_proc_free(p);
    *out = tt_test_read_file(logp, NULL);
    if (!*out)
        *out = tt_xstrdup("");
    tt_test_rmtree(dir);
    free(dir);
    return rc;
}

int tt_tether_publish(const tt_tether_t *t, const char *json, tt_resp_t *r)
{
    size_t n = strlen(json);
    char *req = tt_xmalloc(n + 200);
    snprintf(req, n + 200,
             "POST /publish/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             n, json);
    tt_resp_t own;
    tt_resp_t *out = r ? r : &own;
    int rc = tt_http_request(t->control_port, req, out, 10000);
    free(req);
    int status = rc == 0 ? out->status : -1;
    if (!r)
        tt_resp_free(&own);
    return status;
}

int tt_dead_port(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t tcp;
    uv_tcp_init(&loop, &tcp);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_bind(&tcp, (struct sockaddr *)&sa, 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&tcp, (struct sockaddr *)&bound, &len);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ntohs(bound.sin_port);
}
