/* TLS over real sockets: https_ports with curl as an independent client,
 * SNI, a bad client beside good ones, certificate reload, and TLS toward
 * backends (a second tether, and openssl s_server for mutual TLS). All
 * certificates are made at test time (tests/support/pki.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "platform.h"
#include "task.h"
#include "tether.h"

#define T_MS 10000

static int have_tool(const char *tool, const char *arg)
{
    char *out = NULL;
    const char *args[] = {arg, NULL};
    int rc = tt_run_tool(tool, args, T_MS, &out);
    free(out);
    return rc == 0;
}

/* tether with https_ports serving the certificates in pki->certs, the test
 * target at /t and `routes` for the rest. */
static void start_https(tt_tether_t *t, pki_t *pki, const char *extra, const char *routes)
{
    char conf[4096];
    snprintf(conf, sizeof conf, "[runner]\nhttps_ports=127.0.0.1:0\n[tether]\ncerts_dir=%s\n%s",
             pki->certs, extra ? extra : "");
    char all[4096];
    snprintf(all, sizeof all, "*,path_beg=/t/,path_rem=2 test\n%s", routes ? routes : "");
    ASSERT_OK(tt_tether_start(t, conf, all, NULL));
    ASSERT_GT(t->https_port, 0);
}

/* curl https://NAME:PORT/PATH resolved to 127.0.0.1, trusting the test CA;
 * returns curl's exit status, *out gets its output (-v: the certificate's
 * subject is in it). */
static int curl_get(pki_t *pki, int port, const char *name, const char *path, char **out)
{
    char url[512], resolve[300];
    snprintf(url, sizeof url, "https://%s:%d%s", name, port, path);
    snprintf(resolve, sizeof resolve, "%s:%d:127.0.0.1", name, port);
    const char *args[] = {"-sS", "-v", "--max-time", "5", "--cacert", at(pki->dir, "ca.crt").s,
                          "--resolve", resolve, url, NULL};
    return tt_run_tool("curl", args, T_MS, out);
}

TEST_IMPL(tls_https_with_curl)
{
    if (!have_tool("curl", "--version"))
        TEST_SKIP("curl is not installed");
    pki_t pki;
    pki_make(&pki);
    tt_tether_t t;
    start_https(&t, &pki, NULL, NULL);
    /* Held streams work over TLS: curl reads the stream, a publish ends it. */
    char url[256];
    snprintf(url, sizeof url, "https://localhost:%d/t/stream", t.https_port);
    char resolve[64];
    snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", t.https_port);
    char *logp = NULL;
    char *dir = tt_test_tmpdir();
    logp = tt_test_write_file(dir, "curl.out", "");
    const char *args[] = {"-sSN", "--max-time", "8", "--cacert", at(pki.dir, "ca.crt").s,
                          "--resolve", resolve, url, NULL};
    tt_proc_t *curl = tt_proc_start_tool("curl", args, logp);
    ASSERT_NOT_NULL(curl);
    ASSERT(tt_tether_wait_log(&t, "subscribe /t/stream channel=test", T_MS));
    ASSERT_EQ(tt_tether_publish(&t, "{\"items\":[{\"channel\":\"test\",\"formats\":{"
                                    "\"http-stream\":{\"content\":\"over tls\\n\"}}}]}",
                                NULL),
              200);
    ASSERT_EQ(tt_tether_publish(&t, "{\"items\":[{\"channel\":\"test\",\"formats\":{"
                                    "\"http-stream\":{\"action\":\"close\"}}}]}",
                                NULL),
              200);
    int64_t status = -1;
    ASSERT(tt_proc_wait_exit(curl, T_MS, &status, NULL));
    ASSERT_EQ(status, 0);
    tt_proc_free(curl);
    char *got = tt_test_read_file(logp, NULL);
    ASSERT_STR_EQ(got, "[stream open]\nover tls\n");
    free(got);
    free(logp);
    tt_test_rmtree(dir);
    free(dir);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_sni)
{
    if (!have_tool("curl", "--version"))
        TEST_SKIP("curl is not installed");
    pki_t pki;
    pki_make(&pki);
    tt_tether_t t;
    start_https(&t, &pki, NULL, NULL);
    static const struct {
        const char *name, *subject;
    } cases[] = {
        {"localhost", "CN=localhost"},
        {"example.com", "CN=example.com"},
        {"api.example.org", "CN=*.example.org"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out;
        ASSERT_EQ(curl_get(&pki, t.https_port, cases[i].name, "/t/response?x", &out), 28);
        /* 28: curl's own timeout on the held long-poll, after a verified handshake. */
        ASSERT_CONTAINS(out, cases[i].subject);
        ASSERT_CONTAINS(out, "SSL certificate verify ok");
        free(out);
    }
    /* An unknown name gets the default certificate, which curl rejects for
     * that name: the server still answered with it. */
    char *out;
    ASSERT_NE(curl_get(&pki, t.https_port, "unknown.test", "/", &out), 0);
    ASSERT_CONTAINS(out, "default.test");
    free(out);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    pki_free(&pki);
    return 0;
}

/* Plain HTTP and a truncated hello on the TLS port fail alone. */
TEST_IMPL(tls_bad_clients)
{
    pki_t pki;
    pki_make(&pki);
    tt_tether_t t;
    start_https(&t, &pki, NULL, NULL);
    tt_tc_t *plain = tt_tc_connect(t.https_port, T_MS);
    ASSERT_NOT_NULL(plain);
    ASSERT_OK(tt_tc_sends(plain, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT(tt_tc_wait_eof(plain, T_MS));
    tt_tc_close(plain);
    tt_tc_t *half = tt_tc_connect(t.https_port, T_MS);
    ASSERT_OK(tt_tc_send(half, "\x16\x03\x01\x00\x80\x01\x00", 7));
    ASSERT(tt_tether_wait_log(&t, "not TLS (plain HTTP request?)", T_MS));
    /* Plain HTTP on the http port still works meanwhile. */
    tt_resp_t r;
    ASSERT_OK(tt_http_request(t.port, "GET /t/x HTTP/1.1\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 404);
    tt_resp_free(&r);
    tt_tc_close(half);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_cert_reload)
{
    if (!tt_platform_can_reload_signal())
        TEST_SKIP("no SIGHUP on this OS");
    if (!have_tool("curl", "--version"))
        TEST_SKIP("curl is not installed");
    pki_t pki;
    pki_make(&pki);
    tt_tether_t t;
    start_https(&t, &pki, NULL, NULL);
    char *out;
    curl_get(&pki, t.https_port, "localhost", "/t/x", &out);
    ASSERT_CONTAINS(out, "CN=localhost");
    free(out);
    /* A new certificate for localhost, then SIGHUP: new connections get it. */
    pki_leaf(&pki, pki.certs, "localhost", "localhost", false);
    ASSERT_OK(tt_proc_signal(t.proc, SIGHUP));
    ASSERT(tt_tether_wait_log(&t, "reloaded (SIGHUP)", T_MS));
    ASSERT_EQ(curl_get(&pki, t.https_port, "localhost", "/t/x", &out), 0);
    free(out);
    /* A broken certificate is refused; the ones in force stay. */
    write_text(pki.certs, "localhost.crt", "-----BEGIN CERTIFICATE-----\nbroken\n");
    ASSERT_OK(tt_proc_signal(t.proc, SIGHUP));
    ASSERT(tt_tether_wait_log(&t, "reload (SIGHUP) rejected", T_MS));
    ASSERT_EQ(curl_get(&pki, t.https_port, "localhost", "/t/x", &out), 0);
    ASSERT_CONTAINS(out, "CN=localhost");
    free(out);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    pki_free(&pki);
    return 0;
}

/* Toward backends: tether B (plain) -> ssl target -> tether A (https). */
TEST_IMPL(tls_backend)
{
    pki_t pki;
    pki_make(&pki);
    tt_tether_t a;
    start_https(&a, &pki, NULL, NULL);
    char conf[2048], routes[4096];
    snprintf(conf, sizeof conf, "[tether]\ntls_ca_file=%s\n", at(pki.dir, "ca.crt").s);
    snprintf(routes, sizeof routes,
             "*,path_beg=/ok,replace_beg=/t 127.0.0.1:%d,ssl,host=localhost\n"
             "*,path_beg=/wrongname,replace_beg=/t,debug 127.0.0.1:%d,ssl,host=wrong.test\n"
             "*,path_beg=/insecure,replace_beg=/t 127.0.0.1:%d,ssl,insecure,host=wrong.test\n",
             a.https_port, a.https_port, a.https_port);
    tt_tether_t b;
    ASSERT_OK(tt_tether_start(&b, conf, routes, NULL));
    tt_resp_t r;
    ASSERT_OK(tt_http_request(b.port, "GET /ok/nothing HTTP/1.1\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 404); /* A's test target answered, over verified TLS */
    tt_resp_free(&r);
    ASSERT_OK(tt_http_request(b.port, "GET /wrongname/x HTTP/1.1\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.body, "certificate verify failed");
    tt_resp_free(&r);
    ASSERT_OK(tt_http_request(b.port, "GET /insecure/x HTTP/1.1\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 404);
    tt_resp_free(&r);
    /* A stream held at A reaches the client through B's TLS connection. */
    tt_tc_t *c = tt_tc_connect(b.port, T_MS);
    ASSERT_OK(tt_tc_sends(c, "GET /ok/stream HTTP/1.1\r\nHost: h\r\n\r\n"));
    ASSERT(tt_tether_wait_log(&a, "subscribe /t/stream channel=test", T_MS));
    ASSERT_EQ(tt_tether_publish(&a, "{\"items\":[{\"channel\":\"test\",\"formats\":{"
                                    "\"http-stream\":{\"content\":\"through two\\n\"}}}]}",
                                NULL),
              200);
    for (int i = 0; i < 100; i++) {
        size_t have = 0;
        const char *d = tt_tc_data(c, &have);
        if (d && strstr(d, "through two"))
            break;
        tt_tc_read_n(c, have + 1, 50);
    }
    ASSERT_CONTAINS(tt_tc_data(c, NULL), "through two");
    tt_tc_close(c);
    ASSERT_EQ(tt_tether_stop(&b), 0);
    /* An unknown CA: the same route fails verification. */
    snprintf(conf, sizeof conf, "[tether]\ntls_ca_file=%s\n", at(pki.dir, "other-ca.crt").s);
    snprintf(routes, sizeof routes, "*,debug 127.0.0.1:%d,ssl,host=localhost\n", a.https_port);
    ASSERT_OK(tt_tether_start(&b, conf, routes, NULL));
    ASSERT_OK(tt_http_request(b.port, "GET /t/x HTTP/1.1\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 502);
    ASSERT_CONTAINS(r.body, "TLS: ");
    tt_resp_free(&r);
    ASSERT_EQ(tt_tether_stop(&b), 0);
    ASSERT_EQ(tt_tether_stop(&a), 0);
    pki_free(&pki);
    return 0;
}

/* Mutual TLS toward a backend that requires a client certificate: openssl
 * s_server, an independent TLS server. */
TEST_IMPL(tls_backend_mutual)
{
    if (!have_tool("openssl", "version"))
        TEST_SKIP("openssl is not installed");
    pki_t pki;
    pki_make(&pki);
    int port = tt_dead_port();
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%d", port);
    const char *args[] = {"s_server", "-quiet", "-accept", portarg, "-cert",
                          at(pki.certs, "localhost.crt").s, "-key",
                          at(pki.certs, "localhost.key").s, "-CAfile", at(pki.dir, "ca.crt").s,
                          "-Verify", "1", "-verify_return_error", "-www", NULL};
    char *dir = tt_test_tmpdir();
    char *logp = tt_test_write_file(dir, "s_server.log", "");
    tt_proc_t *srv = tt_proc_start_tool("openssl", args, logp);
    ASSERT_NOT_NULL(srv);
    tt_tc_t *probe = NULL;
    for (int i = 0; i < 100 && !(probe = tt_tc_connect(port, 100)); i++)
        tt_test_sleep_ms(50);
    ASSERT_NOT_NULL(probe);
    tt_tc_close(probe);
    char conf[2048], routes[4096];
    snprintf(conf, sizeof conf, "[tether]\ntls_ca_file=%s\n", at(pki.dir, "ca.crt").s);
    snprintf(routes, sizeof routes,
             "*,path_beg=/with,replace_beg=/,no_grip 127.0.0.1:%d,ssl,host=localhost,"
             "client_cert=%s,client_key=%s\n"
             "*,path_beg=/without,replace_beg=/,no_grip,debug 127.0.0.1:%d,ssl,host=localhost\n",
             port, at(pki.dir, "client.crt").s, at(pki.dir, "client.key").s, port);
    tt_tether_t b;
    ASSERT_OK(tt_tether_start(&b, conf, routes, NULL));
    tt_resp_t r;
    ASSERT_OK(tt_http_request(b.port, "GET /with HTTP/1.0\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body, "s_server");
    tt_resp_free(&r);
    ASSERT_OK(tt_http_request(b.port, "GET /without HTTP/1.0\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_EQ(r.status, 502);
    tt_resp_free(&r);
    ASSERT_EQ(tt_tether_stop(&b), 0);
    tt_proc_free(srv);
    free(logp);
    tt_test_rmtree(dir);
    free(dir);
    pki_free(&pki);
    return 0;
}

/* Over https_ports the backend sees X-Forwarded-Proto: https, and routes
 * can match on ssl=yes|no. */
TEST_IMPL(tls_forwarded_proto_and_ssl_routes)
{
    if (!have_tool("curl", "--version"))
        TEST_SKIP("curl is not installed");
    pki_t pki;
    pki_make(&pki);
    tt_origin_t origin;
    ASSERT_OK(tt_origin_start(&origin));
    char routes[512];
    snprintf(routes, sizeof routes,
             "*,ssl=yes,path_beg=/echo 127.0.0.1:%d,host=secure.test\n"
             "*,ssl=no,path_beg=/echo 127.0.0.1:%d,host=plain.test\n",
             origin.port, origin.port);
    tt_tether_t t;
    start_https(&t, &pki, NULL, routes);
    char *out;
    ASSERT_EQ(curl_get(&pki, t.https_port, "localhost", "/echo", &out), 0);
    ASSERT_CONTAINS(out, "X-Forwarded-Proto: https");
    ASSERT_CONTAINS(out, "Host: secure.test");
    free(out);
    tt_resp_t r;
    ASSERT_OK(tt_http_request(t.port, "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n", &r, T_MS));
    ASSERT_NOT_CONTAINS(r.body, "X-Forwarded-Proto");
    ASSERT_CONTAINS(r.body, "Host: plain.test");
    tt_resp_free(&r);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    tt_origin_stop(&origin);
    pki_free(&pki);
    return 0;
}

/* Pushpin 1.36 names its default certificate default_<port>.crt: clients
 * without SNI get it here too. */
TEST_IMPL(tls_pushpin_default_per_port)
{
    if (!have_tool("openssl", "version"))
        TEST_SKIP("openssl is not installed");
    pki_t pki;
    pki_make(&pki);
    char *certs = tt_test_tmpdir();
    pki_leaf(&pki, certs, "default_443", "pushpin-default.test", false);
    char conf[2048];
    snprintf(conf, sizeof conf, "[runner]\nhttps_ports=127.0.0.1:0\n[tether]\ncerts_dir=%s\n",
             certs);
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, conf, "* test\n", NULL));
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", t.https_port);
    const char *args[] = {"s_client", "-connect", addr, "-noservername", "-CAfile",
                          at(pki.dir, "ca.crt").s, NULL};
    char *out;
    tt_run_tool("openssl", args, T_MS, &out);
    ASSERT_CONTAINS(out, "pushpin-default.test");
    free(out);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    tt_test_rmtree(certs);
    free(certs);
    pki_free(&pki);
    return 0;
}
