/* The TLS engine (src/tls.c) with a client and a server engine wired to each
 * other in memory: each one's io->send is the other's input. Certificates
 * are made at test time with mbedtls's x509write API (EC P-256) into
 * temporary directories, so no key is ever committed:
 *
 *   pki.dir:   ca.crt (Tether Test CA), other-ca.crt (Other CA),
 *              client.crt/.key (CN=client, by the test CA),
 *              rogue.crt/.key (CN=rogue, by the other CA)
 *   pki.certs: localhost, example.com, _.example.org (*.example.org) and
 *              default (CN=default.test), all by the test CA, laid out like
 *              Pushpin's runner/certs. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/version.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "buf.h"
#include "pki.h"
#include "error.h"
#include "support.h"
#include "task.h"
#include "tls.h"

#define ERR_LEN 512

/* ---- configs ---- */

static tt_tls_config_t *server_cfg(const pki_t *p)
{
    char err[ERR_LEN] = "";
    tt_tls_config_t *c = tt_tls_server_config_new(err, sizeof err);
    if (!c)
        TT_TEST_FAIL("server config: %s", err);
    if (tt_tls_server_load_dir(c, p->certs, err, sizeof err) != 0)
        TT_TEST_FAIL("load_dir: %s", err);
    return c;
}

/* A client trusting dir/<ca> (NULL: none), with dir/<cert>.crt/.key if
 * `cert` is not NULL. */
static tt_tls_config_t *client_cfg(const pki_t *p, const char *ca, bool verify, const char *cert)
{
    char err[ERR_LEN] = "", crt[1024] = "", key[1024] = "";
    if (cert) {
        snprintf(crt, sizeof crt, "%s/%s.crt", p->dir, cert);
        snprintf(key, sizeof key, "%s/%s.key", p->dir, cert);
    }
    tt_tls_config_t *c =
        tt_tls_client_config_new(ca ? at(p->dir, ca).s : NULL, verify, cert ? crt : NULL,
                                 cert ? key : NULL, err, sizeof err);
    if (!c)
        TT_TEST_FAIL("client config: %s", err);
    return c;
}

/* ---- two engines over memory ---- */

typedef struct peer_s {
    tt_tls_t *tls;
    tt_buf_t wire;  /* ciphertext it sent, not yet delivered */
    tt_buf_t plain; /* plaintext it received */
    int eof;        /* close_notify received */
    int rc;         /* first failure of a feed into it */
} peer_t;

static void on_send(void *owner, const char *data, size_t len)
{
    peer_t *p = owner;
    ASSERT_GT(len, 0);
    tt_buf_append(&p->wire, data, len);
}

static void on_plain(void *owner, const char *data, size_t len)
{
    peer_t *p = owner;
    if (!data) {
        ASSERT_EQ(len, 0);
        p->eof++;
        return;
    }
    ASSERT_GT(len, 0);
    tt_buf_append(&p->plain, data, len);
}

static const tt_tls_io_t pipe_io = {on_send, on_plain};

/* Feed `from`'s pending ciphertext to `to`; false if there was none. */
static bool deliver(peer_t *from, peer_t *to)
{
    if (from->wire.len == 0)
        return false;
    tt_buf_t b = from->wire;
    memset(&from->wire, 0, sizeof from->wire);
    int rc = tt_tls_feed(to->tls, b.data, b.len);
    if (rc != 0 && to->rc == 0)
        to->rc = rc;
    tt_buf_free(&b);
    return true;
}

/* Move bytes both ways until both sides are quiet. */
static void pump(peer_t *c, peer_t *s)
{
    for (int i = 0; i < 1000; i++) {
        bool a = deliver(c, s);
        bool b = deliver(s, c);
        if (!a && !b)
            return;
    }
    TT_TEST_FAIL("the peers never went quiet");
}

/* Create both engines; the client asks for `name`. No handshake yet. */
static void pair_new(peer_t *c, peer_t *s, tt_tls_config_t *ccfg, tt_tls_config_t *scfg,
                     const char *name)
{
    memset(c, 0, sizeof *c);
    memset(s, 0, sizeof *s);
    c->tls = tt_tls_new(ccfg, false, name, &pipe_io, c);
    s->tls = tt_tls_new(scfg, true, NULL, &pipe_io, s);
    ASSERT_NOT_NULL(c->tls);
    ASSERT_NOT_NULL(s->tls);
}

/* Create both engines and run the handshake as far as it goes. */
static void pair_connect(peer_t *c, peer_t *s, tt_tls_config_t *ccfg, tt_tls_config_t *scfg,
                         const char *name)
{
    pair_new(c, s, ccfg, scfg, name);
    ASSERT_OK(tt_tls_start(s->tls)); /* a no-op for a server */
    c->rc = tt_tls_start(c->tls);
    pump(c, s);
}

static void pair_free(peer_t *c, peer_t *s)
{
    tt_tls_free(c->tls);
    tt_tls_free(s->tls);
    tt_buf_free(&c->wire);
    tt_buf_free(&c->plain);
    tt_buf_free(&s->wire);
    tt_buf_free(&s->plain);
}

static void expect_ok(const peer_t *c, const peer_t *s)
{
    if (c->rc || s->rc)
        TT_TEST_FAIL("handshake failed: client \"%s\", server \"%s\"", tt_tls_error(c->tls),
                     tt_tls_error(s->tls));
    ASSERT(tt_tls_handshake_done(c->tls));
    ASSERT(tt_tls_handshake_done(s->tls));
    ASSERT_STR_EQ(tt_tls_error(c->tls), "");
    ASSERT_STR_EQ(tt_tls_error(s->tls), "");
}

static void expect_subject(const tt_tls_t *t, const char *want)
{
    char sub[256];
    ASSERT_OK(tt_tls_peer_subject(t, sub, sizeof sub));
    ASSERT_STR_EQ(sub, want);
}

/* Connect with `name`, expect success and the server certificate `want`. */
static void expect_cert(tt_tls_config_t *ccfg, tt_tls_config_t *scfg, const char *name,
                        const char *want, const char *want_sni)
{
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, name);
    expect_ok(&c, &s);
    expect_subject(c.tls, want);
    ASSERT_STR_EQ(tt_tls_sni(s.tls), want_sni);
    pair_free(&c, &s);
}

/* Connect with `name`, expect both sides to fail with these reasons. */
static void expect_fail(tt_tls_config_t *ccfg, tt_tls_config_t *scfg, const char *name,
                        const char *client_why, const char *server_why)
{
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, name);
    fprintf(stderr, "client: %s\nserver: %s\n", tt_tls_error(c.tls), tt_tls_error(s.tls));
    ASSERT(!tt_tls_handshake_done(c.tls) || !tt_tls_handshake_done(s.tls));
    if (client_why) {
        ASSERT_EQ(c.rc, TT_ETLS);
        ASSERT_CONTAINS(tt_tls_error(c.tls), client_why);
    }
    if (server_why) {
        ASSERT_EQ(s.rc, TT_ETLS);
        ASSERT_CONTAINS(tt_tls_error(s.tls), server_why);
    }
    pair_free(&c, &s);
}

static void fill_pattern(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* ---- tests ---- */

TEST_IMPL(tls_handshake_and_data)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, "localhost");
    expect_ok(&c, &s);
    expect_subject(c.tls, "CN=localhost");
    ASSERT(tt_tls_peer_verified(c.tls));
    ASSERT(!tt_tls_peer_verified(s.tls));
    char sub[64];
    ASSERT_EQ(tt_tls_peer_subject(s.tls, sub, sizeof sub), TT_ETLS); /* no client cert */
    ASSERT_STR_EQ(tt_tls_sni(s.tls), "localhost");
    ASSERT_STR_EQ(tt_tls_sni(c.tls), "localhost");

    ASSERT_OK(tt_tls_write(c.tls, "hello", 5));
    pump(&c, &s);
    ASSERT_STR_EQ(s.plain.data, "hello");
    ASSERT_OK(tt_tls_write(s.tls, "world", 5));
    pump(&c, &s);
    ASSERT_STR_EQ(c.plain.data, "world");

    /* Many records each way, larger than one flush. */
    size_t big = 300 * 1000;
    char *data = malloc(big);
    ASSERT_NOT_NULL(data);
    fill_pattern(data, big, 3);
    ASSERT_OK(tt_tls_write(c.tls, data, big));
    ASSERT_OK(tt_tls_write(s.tls, data, big));
    pump(&c, &s);
    ASSERT_EQ(s.plain.len, 5 + big);
    ASSERT_EQ(c.plain.len, 5 + big);
    ASSERT(memcmp(s.plain.data + 5, data, big) == 0);
    ASSERT(memcmp(c.plain.data + 5, data, big) == 0);
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(s.rc, 0);
    free(data);

    pair_free(&c, &s);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_sni_selects_cert)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    expect_cert(ccfg, scfg, "localhost", "CN=localhost", "localhost");
    expect_cert(ccfg, scfg, "example.com", "CN=example.com", "example.com");
    /* Names are matched without regard to case, and a final dot. */
    expect_cert(ccfg, scfg, "Example.COM", "CN=example.com", "example.com");
    tt_tls_config_t *insecure = client_cfg(&pki, NULL, false, NULL);
    expect_cert(insecure, scfg, "example.com.", "CN=example.com", "example.com");
    /* A name that no host can have is refused, not passed on. */
    expect_fail(insecure, scfg, "evil\x01name", "unrecognized_name",
                "invalid server name in the ClientHello");
    expect_fail(insecure, scfg, "a..example.com", "unrecognized_name",
                "invalid server name in the ClientHello");
    tt_tls_config_unref(insecure);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_sni_wildcard)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    tt_tls_config_t *insecure = client_cfg(&pki, NULL, false, NULL);
    expect_cert(ccfg, scfg, "www.example.org", "CN=*.example.org", "www.example.org");
    expect_cert(ccfg, scfg, "api.example.org", "CN=*.example.org", "api.example.org");
    /* One label only: the bare domain and deeper names get the default. */
    expect_cert(insecure, scfg, "example.org", "CN=default.test", "example.org");
    expect_cert(insecure, scfg, "a.b.example.org", "CN=default.test", "a.b.example.org");
    /* A verifying client refuses the default certificate for that name. */
    expect_fail(ccfg, scfg, "a.b.example.org", "certificate verify failed", NULL);
    tt_tls_config_unref(insecure);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_sni_default_cert)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *insecure = client_cfg(&pki, NULL, false, NULL);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    expect_cert(insecure, scfg, "unknown.test", "CN=default.test", "unknown.test");
    expect_cert(ccfg, scfg, "default.test", "CN=default.test", "default.test");
    /* No SNI at all (an IP address, an old client). */
    expect_cert(insecure, scfg, NULL, "CN=default.test", "");

    /* Without a default certificate, unknown names fail clearly. */
    char err[ERR_LEN] = "";
    tt_tls_config_t *strict = tt_tls_server_config_new(err, sizeof err);
    ASSERT_NOT_NULL(strict);
    if (tt_tls_server_add_cert(strict, "localhost", at(pki.certs, "localhost.crt").s,
                               at(pki.certs, "localhost.key").s, err, sizeof err) != 0 ||
        tt_tls_server_add_cert(strict, "*.example.org", at(pki.certs, "_.example.org.crt").s,
                               at(pki.certs, "_.example.org.key").s, err, sizeof err) != 0)
        TT_TEST_FAIL("add_cert: %s", err);
    expect_cert(ccfg, strict, "localhost", "CN=localhost", "localhost");
    expect_cert(ccfg, strict, "x.example.org", "CN=*.example.org", "x.example.org");
    expect_fail(insecure, strict, "unknown.test", "unrecognized_name",
                "no certificate for server name 'unknown.test'");
    expect_fail(insecure, strict, NULL, NULL,
                "the client sent no server name and there is no default certificate");
    tt_tls_config_unref(strict);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(insecure);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_verify_unknown_ca)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "other-ca.crt", true, NULL);
    expect_fail(ccfg, scfg, "localhost",
                "certificate verify failed: The certificate is not correctly signed by the "
                "trusted CA",
                "the peer sent a fatal alert: unknown_ca (48)");
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_verify_hostname_mismatch)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    /* The server answers with its default certificate (default.test). */
    expect_fail(ccfg, scfg, "wrong.test",
                "certificate verify failed: ", "the peer sent a fatal alert: bad_certificate (42)");
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, "wrong.test");
    ASSERT_CONTAINS(tt_tls_error(c.tls), "Common Name (CN) does not match");
    ASSERT_CONTAINS(tt_tls_error(c.tls), "(expected 'wrong.test')");
    ASSERT_NOT_CONTAINS(tt_tls_error(c.tls), "not correctly signed");
    pair_free(&c, &s);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_insecure_accepts)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    /* Wrong CA and wrong name: accepted all the same, and said so. */
    tt_tls_config_t *ccfg = client_cfg(&pki, "other-ca.crt", false, NULL);
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, "wrong.test");
    expect_ok(&c, &s);
    ASSERT(!tt_tls_peer_verified(c.tls));
    expect_subject(c.tls, "CN=default.test");
    ASSERT_OK(tt_tls_write(c.tls, "GET / HTTP/1.1\r\n\r\n", 18));
    pump(&c, &s);
    ASSERT_STR_EQ(s.plain.data, "GET / HTTP/1.1\r\n\r\n");
    pair_free(&c, &s);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

/* A server that wants client certificates signed by the test CA. */
static tt_tls_config_t *mtls_server(const pki_t *p, bool required)
{
    tt_tls_config_t *c = server_cfg(p);
    char err[ERR_LEN] = "";
    if (tt_tls_server_set_client_ca(c, at(p->dir, "ca.crt").s, required, err, sizeof err) != 0)
        TT_TEST_FAIL("set_client_ca: %s", err);
    return c;
}

TEST_IMPL(tls_mutual_required)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = mtls_server(&pki, true);
    tt_tls_config_t *anon = client_cfg(&pki, "ca.crt", true, NULL);
    tt_tls_config_t *good = client_cfg(&pki, "ca.crt", true, "client");
    tt_tls_config_t *rogue = client_cfg(&pki, "ca.crt", true, "rogue");

    peer_t c, s;
    pair_connect(&c, &s, good, scfg, "localhost");
    expect_ok(&c, &s);
    expect_subject(s.tls, "CN=client");
    expect_subject(c.tls, "CN=localhost");
    ASSERT(tt_tls_peer_verified(s.tls));
    ASSERT_OK(tt_tls_write(c.tls, "ping", 4));
    pump(&c, &s);
    ASSERT_STR_EQ(s.plain.data, "ping");
    pair_free(&c, &s);

    expect_fail(anon, scfg, "localhost", "the peer sent a fatal alert: handshake_failure (40)",
                "client certificate required but none was sent");
    expect_fail(rogue, scfg, "localhost", "the peer sent a fatal alert: unknown_ca (48)",
                "certificate verify failed: The certificate is not correctly signed by the "
                "trusted CA");
    tt_tls_config_unref(rogue);
    tt_tls_config_unref(good);
    tt_tls_config_unref(anon);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_mutual_optional)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = mtls_server(&pki, false);
    tt_tls_config_t *anon = client_cfg(&pki, "ca.crt", true, NULL);
    tt_tls_config_t *good = client_cfg(&pki, "ca.crt", true, "client");
    tt_tls_config_t *rogue = client_cfg(&pki, "ca.crt", true, "rogue");
    peer_t c, s;

    pair_connect(&c, &s, anon, scfg, "localhost");
    expect_ok(&c, &s);
    ASSERT(!tt_tls_peer_verified(s.tls));
    pair_free(&c, &s);

    pair_connect(&c, &s, good, scfg, "localhost");
    expect_ok(&c, &s);
    ASSERT(tt_tls_peer_verified(s.tls));
    expect_subject(s.tls, "CN=client");
    pair_free(&c, &s);

    /* Accepted, but not verified: the owner decides. */
    pair_connect(&c, &s, rogue, scfg, "localhost");
    expect_ok(&c, &s);
    ASSERT(!tt_tls_peer_verified(s.tls));
    expect_subject(s.tls, "CN=rogue");
    pair_free(&c, &s);

    tt_tls_config_unref(rogue);
    tt_tls_config_unref(good);
    tt_tls_config_unref(anon);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

/* Feed `bytes` to a fresh server; expect a failure with `why` and no reply. */
static void server_rejects(tt_tls_config_t *scfg, const char *bytes, size_t len, const char *why)
{
    peer_t s;
    memset(&s, 0, sizeof s);
    s.tls = tt_tls_new(scfg, true, NULL, &pipe_io, &s);
    ASSERT_NOT_NULL(s.tls);
    ASSERT_EQ(tt_tls_feed(s.tls, bytes, len), TT_ETLS);
    ASSERT_STR_EQ(tt_tls_error(s.tls), why);
    ASSERT_EQ(s.wire.len, 0);
    ASSERT(!tt_tls_handshake_done(s.tls));
    /* Dead for good. */
    ASSERT_EQ(tt_tls_feed(s.tls, "\x16", 1), TT_ETLS);
    ASSERT_EQ(tt_tls_write(s.tls, "x", 1), TT_ETLS);
    tt_tls_free(s.tls);
}

TEST_IMPL(tls_plain_http_detected)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    static const char get[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    server_rejects(scfg, get, sizeof get - 1, "not TLS (plain HTTP request?)");
    server_rejects(scfg, "POST /x", 7, "not TLS (plain HTTP request?)");
    server_rejects(scfg, "G", 1, "not TLS (plain HTTP request?)");
    server_rejects(scfg, "\x00\x01\x02", 3, "not TLS (first byte 0x00)");
    server_rejects(scfg, "SSH-2.0-OpenSSH_9.2\r\n", 21, "not TLS (first byte 0x53)");
    /* A handshake record that is not a ClientHello: mbedtls's own words. */
    peer_t g;
    memset(&g, 0, sizeof g);
    g.tls = tt_tls_new(scfg, true, NULL, &pipe_io, &g);
    ASSERT_EQ(tt_tls_feed(g.tls, "\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9), TT_ETLS);
    ASSERT_CONTAINS(tt_tls_error(g.tls), "TLS error: SSL - ");
    ASSERT_CONTAINS(tt_tls_error(g.tls), "(-0x");
    tt_tls_free(g.tls);
    tt_buf_free(&g.wire);

    /* A client whose backend answers in plain HTTP. */
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    peer_t c;
    memset(&c, 0, sizeof c);
    c.tls = tt_tls_new(ccfg, false, "localhost", &pipe_io, &c);
    ASSERT_NOT_NULL(c.tls);
    ASSERT_OK(tt_tls_start(c.tls));
    ASSERT_GT(c.wire.len, 0); /* the ClientHello */
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    ASSERT_EQ(tt_tls_feed(c.tls, resp, sizeof resp - 1), TT_ETLS);
    ASSERT_STR_EQ(tt_tls_error(c.tls), "not TLS (plain HTTP response?)");
    tt_tls_free(c.tls);
    tt_buf_free(&c.wire);

    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_truncated_client_hello)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    peer_t c, s;
    pair_new(&c, &s, ccfg, scfg, "example.com");
    ASSERT_OK(tt_tls_start(c.tls));
    tt_buf_t hello = c.wire;
    memset(&c.wire, 0, sizeof c.wire);
    ASSERT_GT(hello.len, 50);

    /* One byte at a time: the server waits, says nothing, fails nothing. */
    for (size_t i = 0; i + 1 < hello.len; i++) {
        ASSERT_OK(tt_tls_feed(s.tls, hello.data + i, 1));
        ASSERT_EQ(s.wire.len, 0);
        ASSERT(!tt_tls_handshake_done(s.tls));
    }
    ASSERT_STR_EQ(tt_tls_error(s.tls), "");
    ASSERT_OK(tt_tls_feed(s.tls, hello.data + hello.len - 1, 1));
    ASSERT_GT(s.wire.len, 0);
    pump(&c, &s);
    expect_ok(&c, &s);
    expect_subject(c.tls, "CN=example.com");
    pair_free(&c, &s);

    /* A server freed in the middle of a ClientHello leaks nothing. */
    pair_new(&c, &s, ccfg, scfg, "example.com");
    ASSERT_OK(tt_tls_feed(s.tls, hello.data, hello.len / 2));
    pair_free(&c, &s);

    tt_buf_free(&hello);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_close_notify)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, "localhost");
    expect_ok(&c, &s);

    ASSERT_OK(tt_tls_write(c.tls, "last words", 10));
    ASSERT_OK(tt_tls_close_notify(c.tls));
    ASSERT_OK(tt_tls_close_notify(c.tls)); /* twice is fine */
    ASSERT_EQ(tt_tls_write(c.tls, "more", 4), TT_ECLOSED);
    pump(&c, &s);
    ASSERT_STR_EQ(s.plain.data, "last words");
    ASSERT_EQ(s.eof, 1);
    ASSERT_EQ(c.eof, 0);

    /* Half-closed: the server may still answer, then closes too. */
    ASSERT_OK(tt_tls_write(s.tls, "bye", 3));
    ASSERT_OK(tt_tls_close_notify(s.tls));
    pump(&c, &s);
    ASSERT_STR_EQ(c.plain.data, "bye");
    ASSERT_EQ(c.eof, 1);
    ASSERT_EQ(s.eof, 1);
    ASSERT_EQ(c.rc, 0);
    ASSERT_EQ(s.rc, 0);
    ASSERT(tt_tls_handshake_done(c.tls));
    pair_free(&c, &s);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_write_before_handshake)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    peer_t c, s;
    pair_new(&c, &s, ccfg, scfg, "localhost");
    ASSERT_OK(tt_tls_write(c.tls, "early-1 ", 8));
    ASSERT_OK(tt_tls_write(c.tls, "early-2", 7));
    ASSERT_OK(tt_tls_close_notify(c.tls)); /* after them, once possible */
    ASSERT_EQ(tt_tls_write(c.tls, "late", 4), TT_ECLOSED);
    ASSERT_OK(tt_tls_write(s.tls, "server-early", 12));
    ASSERT_EQ(tt_tls_pending(c.tls), 15);
    ASSERT_EQ(tt_tls_pending(s.tls), 12);
    ASSERT_EQ(s.wire.len, 0);
    ASSERT(!tt_tls_handshake_done(c.tls));

    ASSERT_OK(tt_tls_start(c.tls));
    pump(&c, &s);
    expect_ok(&c, &s);
    ASSERT_STR_EQ(s.plain.data, "early-1 early-2");
    ASSERT_EQ(s.eof, 1);
    ASSERT_STR_EQ(c.plain.data, "server-early");
    ASSERT_EQ(tt_tls_pending(c.tls), 0);
    ASSERT_EQ(tt_tls_pending(s.tls), 0);
    pair_free(&c, &s);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

TEST_IMPL(tls_tampered_record)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    peer_t c, s;
    pair_connect(&c, &s, ccfg, scfg, "localhost");
    expect_ok(&c, &s);
    ASSERT_OK(tt_tls_write(c.tls, "transfer 10 to alice", 20));
    ASSERT_GT(c.wire.len, 30);
    c.wire.data[c.wire.len - 3] ^= 0x01; /* in the GCM tag */
    pump(&c, &s);
    fprintf(stderr, "client: %s\nserver: %s\n", tt_tls_error(c.tls), tt_tls_error(s.tls));
    ASSERT_EQ(s.plain.len, 0); /* nothing forged gets through */
    ASSERT_EQ(s.rc, TT_ETLS);
    ASSERT_CONTAINS(tt_tls_error(s.tls), "TLS error: SSL - ");
    ASSERT_EQ(c.rc, TT_ETLS);
    ASSERT_STR_EQ(tt_tls_error(c.tls), "the peer sent a fatal alert: bad_record_mac (20)");
    pair_free(&c, &s);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

/* A TLS 1.2-style ClientHello without extensions, offering one suite. */
static size_t old_client_hello(unsigned char *out, unsigned char minor, unsigned suite)
{
    unsigned char *p = out;
    static const unsigned char head[] = {0x16, 0x03, 0x01, 0x00, 45, /* record */
                                         0x01, 0x00, 0x00, 41};      /* ClientHello */
    memcpy(p, head, sizeof head);
    p += sizeof head;
    *p++ = 0x03;
    *p++ = minor;
    memset(p, 0x42, 32); /* random */
    p += 32;
    *p++ = 0; /* no session id */
    *p++ = 0;
    *p++ = 2;
    *p++ = (unsigned char)(suite >> 8);
    *p++ = (unsigned char)suite;
    *p++ = 1; /* compression: null */
    *p++ = 0;
    return (size_t)(p - out);
}

/* The server fails with `why` and answers with a fatal alert `alert`. */
static void old_client_rejected(tt_tls_config_t *scfg, unsigned char minor, unsigned suite,
                                const char *why, unsigned char alert)
{
    unsigned char hello[64];
    size_t n = old_client_hello(hello, minor, suite);
    ASSERT_EQ(n, 50);
    peer_t s;
    memset(&s, 0, sizeof s);
    s.tls = tt_tls_new(scfg, true, NULL, &pipe_io, &s);
    ASSERT_EQ(tt_tls_feed(s.tls, (const char *)hello, n), TT_ETLS);
    ASSERT_STR_EQ(tt_tls_error(s.tls), why);
    ASSERT_EQ(s.wire.len, 7);
    ASSERT_EQ((unsigned char)s.wire.data[0], 0x15); /* alert record */
    ASSERT_EQ((unsigned char)s.wire.data[5], 2);    /* fatal */
    ASSERT_EQ((unsigned char)s.wire.data[6], alert);
    tt_tls_free(s.tls);
    tt_buf_free(&s.wire);
}

TEST_IMPL(tls_old_clients_rejected)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    /* TLS_RSA_WITH_AES_128_CBC_SHA only: no forward secrecy, not offered. */
    old_client_rejected(scfg, 3, 0x002f, "no shared cipher", 40 /* handshake_failure */);
    /* TLS 1.0 only (with a suite we have). */
    old_client_rejected(scfg, 1, 0xc02b, "unsupported protocol version (TLS 1.2 or newer required)",
                        70 /* protocol_version */);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}

static void expect_load_error(int rc, const char *err, const char *want)
{
    ASSERT_EQ(rc, TT_ETLS);
    ASSERT_CONTAINS(err, want);
}

TEST_IMPL(tls_config_errors)
{
    pki_t pki;
    pki_make(&pki);
    char err[ERR_LEN];
    tt_tls_config_t *c = tt_tls_server_config_new(err, sizeof err);
    ASSERT_NOT_NULL(c);
    path_t crt_p = at(pki.certs, "localhost.crt"), key_p = at(pki.certs, "localhost.key");
    path_t other_key_p = at(pki.certs, "example.com.key"), missing_p = at(pki.dir, "missing.crt");
    const char *crt = crt_p.s, *key = key_p.s, *other_key = other_key_p.s, *missing = missing_p.s;
    write_text(pki.dir, "garbage.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n");

    int rc = tt_tls_server_add_cert(c, "a.test", missing, key, err, sizeof err);
    expect_load_error(rc, err, "missing.crt: cannot open: ");
    rc = tt_tls_server_add_cert(c, "a.test", at(pki.dir, "garbage.crt").s, key, err, sizeof err);
    expect_load_error(rc, err, "garbage.crt: bad certificate: ");
    rc = tt_tls_server_add_cert(c, "a.test", crt, at(pki.dir, "garbage.crt").s, err, sizeof err);
    expect_load_error(rc, err, "garbage.crt: bad private key: ");
    rc = tt_tls_server_add_cert(c, "a.test", crt, other_key, err, sizeof err);
    expect_load_error(rc, err, "the key does not match the certificate");
    rc = tt_tls_server_add_cert(c, "bad name", crt, key, err, sizeof err);
    expect_load_error(rc, err, "invalid host name 'bad name'");
    rc = tt_tls_server_add_cert(c, "a..test", crt, key, err, sizeof err);
    expect_load_error(rc, err, "invalid host name");
    ASSERT_OK(tt_tls_server_add_cert(c, "a.test", crt, key, err, sizeof err));
    rc = tt_tls_server_add_cert(c, "A.Test.", crt, key, err, sizeof err);
    expect_load_error(rc, err, "a certificate for 'A.Test.' is already set");
    ASSERT_OK(tt_tls_server_add_cert(c, "*.a.test", crt, key, err, sizeof err));
    rc = tt_tls_server_add_cert(c, "_.a.test", crt, key, err, sizeof err);
    expect_load_error(rc, err, "is already set");
    ASSERT_OK(tt_tls_server_add_cert(c, NULL, crt, key, err, sizeof err));
    rc = tt_tls_server_add_cert(c, NULL, crt, key, err, sizeof err);
    expect_load_error(rc, err, "a default certificate is already set");

    /* Frozen once a connection uses it. */
    peer_t s;
    memset(&s, 0, sizeof s);
    s.tls = tt_tls_new(c, true, NULL, &pipe_io, &s);
    ASSERT_NOT_NULL(s.tls);
    ASSERT_NULL(tt_tls_new(c, false, "x", &pipe_io, &s)); /* wrong side */
    rc = tt_tls_server_add_cert(c, "b.test", crt, key, err, sizeof err);
    expect_load_error(rc, err, "in use");
    rc = tt_tls_server_load_dir(c, pki.certs, err, sizeof err);
    expect_load_error(rc, err, "in use");
    tt_tls_config_unref(c); /* the connection keeps it alive */
    tt_tls_free(s.tls);

    /* Directories. */
    c = tt_tls_server_config_new(err, sizeof err);
    rc = tt_tls_server_load_dir(c, pki.dir, err, sizeof err); /* ca.crt has no ca.key */
    expect_load_error(rc, err, "ca.key: cannot open: ");
    char *empty = tt_test_tmpdir();
    write_text(empty, "README", "no certificates here\n");
    rc = tt_tls_server_load_dir(c, empty, err, sizeof err);
    expect_load_error(rc, err, ": no certificate (<host>.crt with <host>.key)");
    rc = tt_tls_server_load_dir(c, at(empty, "nope").s, err, sizeof err);
    expect_load_error(rc, err, "nope: cannot list: ");
    tt_test_rmtree(empty);
    free(empty);
    tt_tls_config_unref(c);

    /* Client side. */
    ASSERT_NULL(tt_tls_client_config_new(NULL, false, crt, NULL, err, sizeof err));
    ASSERT_CONTAINS(err, "needs its key");
    ASSERT_NULL(tt_tls_client_config_new(missing, true, NULL, NULL, err, sizeof err));
    ASSERT_CONTAINS(err, "missing.crt: cannot open: ");
    ASSERT_NULL(
        tt_tls_client_config_new(at(pki.dir, "ca.crt").s, true, crt, other_key, err, sizeof err));
    ASSERT_CONTAINS(err, "the key does not match the certificate");

    /* A verifying client needs a name to check. */
    c = tt_tls_client_config_new(at(pki.dir, "ca.crt").s, true, NULL, NULL, err, sizeof err);
    ASSERT_NOT_NULL(c);
    peer_t p;
    memset(&p, 0, sizeof p);
    p.tls = tt_tls_new(c, false, NULL, &pipe_io, &p);
    ASSERT_NOT_NULL(p.tls);
    ASSERT_EQ(tt_tls_start(p.tls), TT_ETLS);
    ASSERT_STR_EQ(tt_tls_error(p.tls), "no server name to check the certificate against");
    ASSERT_EQ(p.wire.len, 0);
    tt_tls_free(p.tls);
    tt_tls_config_unref(c);
    pki_free(&pki);
    return 0;
}

/* ---- callbacks that call back into the engine ---- */

typedef struct live_s {
    tt_tls_t *tls;
    struct live_s *other;
    tt_buf_t plain;
    int deliveries;
    bool echo;     /* write back what arrives, from inside recv_plain */
    bool free_now; /* free the engine from inside recv_plain */
} live_t;

/* Ciphertext goes straight into the other engine, from inside this one. */
static void live_send(void *owner, const char *data, size_t len)
{
    live_t *l = owner;
    if (l->other->tls)
        tt_tls_feed(l->other->tls, data, len);
}

static void live_plain(void *owner, const char *data, size_t len)
{
    live_t *l = owner;
    if (!data)
        return;
    l->deliveries++;
    tt_buf_append(&l->plain, data, len);
    if (l->echo)
        ASSERT_OK(tt_tls_write(l->tls, data, len));
    if (l->free_now) {
        tt_tls_free(l->tls);
        l->tls = NULL;
    }
}

static const tt_tls_io_t live_io = {live_send, live_plain};

TEST_IMPL(tls_reentrant_callbacks)
{
    pki_t pki;
    pki_make(&pki);
    tt_tls_config_t *scfg = server_cfg(&pki);
    tt_tls_config_t *ccfg = client_cfg(&pki, "ca.crt", true, NULL);
    live_t c, s;
    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    c.other = &s;
    s.other = &c;
    c.tls = tt_tls_new(ccfg, false, "localhost", &live_io, &c);
    s.tls = tt_tls_new(scfg, true, NULL, &live_io, &s);
    s.echo = true;

    /* The whole handshake runs inside this call, nested both ways. */
    ASSERT_OK(tt_tls_start(c.tls));
    if (!tt_tls_handshake_done(c.tls) || !tt_tls_handshake_done(s.tls))
        TT_TEST_FAIL("client \"%s\", server \"%s\"", tt_tls_error(c.tls), tt_tls_error(s.tls));

    ASSERT_OK(tt_tls_write(c.tls, "ping", 4));
    ASSERT_STR_EQ(s.plain.data, "ping");
    ASSERT_STR_EQ(c.plain.data, "ping");

    /* Two records; the server frees itself on the first: no second one. */
    size_t big = 20000;
    char *data = malloc(big);
    ASSERT_NOT_NULL(data);
    fill_pattern(data, big, 1);
    s.echo = false;
    s.free_now = true;
    s.deliveries = 0;
    ASSERT_OK(tt_tls_write(c.tls, data, big));
    ASSERT_NULL(s.tls);
    ASSERT_EQ(s.deliveries, 1);
    free(data);

    tt_tls_free(c.tls);
    tt_buf_free(&c.plain);
    tt_buf_free(&s.plain);
    tt_tls_config_unref(ccfg);
    tt_tls_config_unref(scfg);
    pki_free(&pki);
    return 0;
}
