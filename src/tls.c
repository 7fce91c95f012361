/* TLS engine over memory buffers (see tls.h): mbedtls driven through custom
 * bio callbacks, server certificates chosen by SNI, clients that verify
 * their backend, and failure reasons a person can act on.
 *
 * Data flow: tt_tls_feed points `in` at the caller's bytes and runs mbedtls,
 * which pulls them through bio_recv (WANT_READ once they are used up) and
 * pushes records through bio_send into `out`. `out` goes to io->send after
 * each mbedtls call returns, never from inside one, so the owner's callbacks
 * may call back into the engine: writes made then are queued in order, a
 * feed goes to `backlog`, and a free is deferred to the end of the outermost
 * engine call (`depth`).
 *
 * States:
 *   HANDSHAKE --handshake complete--> OPEN
 *       |                              |
 *       +--------- fatal error --------+--> FAILED (final; `reason` set)
 * In OPEN each direction closes on its own: sent_close (no more writes)
 * and peer_closed (no more reads). Writes before OPEN wait in `pending`.
 *
 * mbedtls 2.28 vs 3.x: the calls that differ are isolated behind
 * MBEDTLS_VERSION_NUMBER checks below (key parsing and pair checks take an
 * RNG in 3.x; versions are set as an enum from 3.2; curves became groups;
 * fields such as in_msg are private in 3.x). Only 2.28 is built here. */
#include "tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <mbedtls/version.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "buf.h"
#include "compat.h"
#include "error.h"
#include "log.h"
#include "mem.h"

/* Certificates, keys and CA bundles are small; a system bundle is ~200 KiB. */
#define TLS_FILE_MAX (4 * 1024 * 1024)
/* One record's worth of plaintext per mbedtls_ssl_read (on the stack). */
#define TLS_READ_CHUNK 16384
/* Hand ciphertext to the owner at least this often during a large write. */
#define TLS_FLUSH_AT (64 * 1024)
/* RFC 1035: at most 253 characters in a host name written with dots. */
#define TLS_HOST_MAX 253

#if MBEDTLS_VERSION_MAJOR >= 3
/* 3.x hides struct fields behind MBEDTLS_PRIVATE(); 2.x has them public. */
#define TLS_PRIVATE(member) MBEDTLS_PRIVATE(member)
#else
#define TLS_PRIVATE(member) member
#endif

/* ---- configuration ------------------------------------------------------ */

typedef struct tls_cert_s {
    struct tls_cert_s *next;
    char *name; /* lower case; for a wildcard the part after "*."; NULL: default */
    bool wildcard;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
} tls_cert_t;

struct tt_tls_config_s {
    int refs;
    bool server;
    bool frozen; /* a connection uses it: no more changes */
    bool verify; /* client: the server is checked; server: a client CA is set */
    bool have_ca;
    int suites[8]; /* the cipher suites of `wanted_suites` this build has, 0-ended */
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;  /* trusted CAs (a client's servers, or a server's clients) */
    tls_cert_t *certs;    /* server: one per name; client: its own, for mutual TLS */
    tls_cert_t *fallback; /* server: the default certificate */
};

/* Forward secrecy and AEAD only, ECDSA certificates first. */
static const int wanted_suites[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

#if MBEDTLS_VERSION_MAJOR < 3
/* 2.28 allows every curve it was built with by default, 192-bit ones
 * included. 3.x defaults to the modern set, so this is 2.x only. The list
 * also bounds the curves of ECDSA certificates the peer may use. */
static const mbedtls_ecp_group_id curves[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    MBEDTLS_ECP_DP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    MBEDTLS_ECP_DP_SECP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED)
    MBEDTLS_ECP_DP_SECP521R1,
#endif
    MBEDTLS_ECP_DP_NONE};
#endif

/* mbedtls keeps the pointer: static storage. */
static const char *alpn_protocols[] = {"http/1.1", NULL};

/* Candidates for the system CA bundle, after $SSL_CERT_FILE. */
static const char *const system_ca_paths[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch, Gentoo */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
    "/etc/ssl/ca-bundle.pem",             /* openSUSE */
    "/etc/ssl/cert.pem",                  /* macOS, Alpine, FreeBSD, OpenBSD */
};

static int errf(char *err, size_t errlen, const char *fmt, ...) TT_PRINTF(3, 4);

/* Fill `err` (may be NULL); returns TT_ETLS. */
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return TT_ETLS;
}

/* mbedtls's text for a code, e.g. "SSL - ... (-0x7380)". */
static const char *mbed_text(int rc, char *buf, size_t len)
{
    char text[160];
    mbedtls_strerror(rc, text, sizeof text);
    snprintf(buf, len, "%s (-0x%04x)", text, (unsigned)-rc);
    return buf;
}

/* ---- version-dependent mbedtls calls ---- */

static int parse_key(tt_tls_config_t *c, mbedtls_pk_context *pk, const unsigned char *buf,
                     size_t len)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    /* 3.x takes an RNG (blinding while it checks RSA keys). */
    return mbedtls_pk_parse_key(pk, buf, len, NULL, 0, mbedtls_ctr_drbg_random, &c->drbg);
#else
    (void)c;
    return mbedtls_pk_parse_key(pk, buf, len, NULL, 0);
#endif
}

static int check_pair(tt_tls_config_t *c, const mbedtls_pk_context *pub,
                      const mbedtls_pk_context *prv)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    return mbedtls_pk_check_pair(pub, prv, mbedtls_ctr_drbg_random, &c->drbg);
#else
    (void)c;
    return mbedtls_pk_check_pair(pub, prv);
#endif
}

/* TLS 1.2 at least; 1.3 too where the library has it (not 2.28). */
static void set_versions(mbedtls_ssl_config *conf)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
#endif
#else
    /* (major 3, minor 3) is TLS 1.2, also the highest 2.28 speaks. */
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
#if MBEDTLS_VERSION_MAJOR < 3
    mbedtls_ssl_conf_curves(conf, curves);
#endif
}

/* ---- files and names ---- */

/* Read a whole file into one allocation of exactly its size + 1 (NUL
 * added), with stdio unbuffered: key material then exists in one place
 * only, which the caller wipes. */
static unsigned char *load_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IONBF, 0);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0 || size > TLS_FILE_MAX) {
        errf(err, errlen, "%s: %s", path, size > TLS_FILE_MAX ? "file too large" : "cannot read");
        fclose(f);
        return NULL;
    }
    unsigned char *p = tt_xmalloc((size_t)size + 1);
    size_t n = fread(p, 1, (size_t)size, f);
    int bad = ferror(f) || n != (size_t)size;
    int saved = errno;
    fclose(f);
    p[n] = '\0';
    if (bad) {
        mbedtls_platform_zeroize(p, (size_t)size + 1);
        free(p);
        errf(err, errlen, "%s: cannot read: %s", path, strerror(saved));
        return NULL;
    }
    *len = n;
    return p;
}

/* PEM parsers want the terminating NUL counted; DER must not have it. */
static size_t parse_len(const unsigned char *p, size_t len)
{
    return strstr((const char *)p, "-----BEGIN") ? len + 1 : len;
}

/* Append the certificates of a PEM/DER file to `crt`. A system bundle may
 * hold a few certificates this mbedtls cannot parse (`partial_ok`): they are
 * skipped with a warning; in any other file that is an error. */
static int load_certs(mbedtls_x509_crt *crt, const char *path, bool partial_ok, char *err,
                      size_t errlen)
{
    size_t len;
    unsigned char *p = load_file(path, &len, err, errlen);
    if (!p)
        return TT_ETLS;
    int rc = mbedtls_x509_crt_parse(crt, p, parse_len(p, len));
    free(p);
    char m[224];
    if (rc < 0)
        return errf(err, errlen, "%s: bad certificate: %s", path, mbed_text(rc, m, sizeof m));
    if (rc > 0 && !partial_ok)
        return errf(err, errlen, "%s: %d certificate(s) could not be parsed", path, rc);
    if (rc > 0)
        tt_log_warn("%s: skipped %d certificate(s) that could not be parsed", path, rc);
    return 0;
}

/* Load an unencrypted private key; the file's bytes are wiped after. */
static int load_key(tt_tls_config_t *c, mbedtls_pk_context *pk, const char *path, char *err,
                    size_t errlen)
{
    size_t len;
    unsigned char *p = load_file(path, &len, err, errlen);
    if (!p)
        return TT_ETLS;
    int rc = parse_key(c, pk, p, parse_len(p, len));
    mbedtls_platform_zeroize(p, len + 1);
    free(p);
    char m[224];
    if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
        return errf(err, errlen, "%s: the key is encrypted (not supported)", path);
    if (rc != 0)
        return errf(err, errlen, "%s: bad private key: %s", path, mbed_text(rc, m, sizeof m));
    return 0;
}

static tls_cert_t *cert_new(void)
{
    tls_cert_t *e = tt_xcalloc(1, sizeof *e);
    mbedtls_x509_crt_init(&e->chain);
    mbedtls_pk_init(&e->key);
    return e;
}

static void cert_free(tls_cert_t *e)
{
    mbedtls_x509_crt_free(&e->chain);
    mbedtls_pk_free(&e->key); /* wipes the key */
    free(e->name);
    free(e);
}

/* Load a chain and its key into `e` and check that they belong together. */
static int load_pair(tt_tls_config_t *c, tls_cert_t *e, const char *cert_path, const char *key_path,
                     char *err, size_t errlen)
{
    if (load_certs(&e->chain, cert_path, false, err, errlen) != 0 ||
        load_key(c, &e->key, key_path, err, errlen) != 0)
        return TT_ETLS;
    if (check_pair(c, &e->chain.pk, &e->key) != 0)
        return errf(err, errlen, "%s: the key does not match the certificate %s", key_path,
                    cert_path);
    return 0;
}

/* Lower-case copy of a host name (letters, digits, '-', '_', dot-separated
 * non-empty labels, one trailing dot dropped), or NULL if `s` is not one.
 * Names come from the network too (SNI), so nothing else gets through. */
static char *host_norm(const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > TLS_HOST_MAX)
        return NULL;
    char *h = tt_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool dot = ch == '.';
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || dot;
        if (!ok || (dot && (i == 0 || s[i - 1] == '.'))) {
            free(h);
            return NULL;
        }
        h[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    h[n] = '\0';
    return h;
}

/* The certificate for a normalized host: exact name, else a wildcard for
 * its parent (one label only, as RFC 6125 says), else NULL. */
static tls_cert_t *cert_find(const tt_tls_config_t *c, const char *host)
{
    const char *parent = strchr(host, '.');
    tls_cert_t *wild = NULL;
    for (tls_cert_t *e = c->certs; e; e = e->next) {
        if (!e->name)
            continue;
        if (!e->wildcard && strcmp(e->name, host) == 0)
            return e;
        if (e->wildcard && parent && !wild && strcmp(e->name, parent + 1) == 0)
            wild = e;
    }
    return wild;
}

/* Server: pick the certificate for the name in the ClientHello. */
static int sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len);

/* ---- config objects ---- */

static void config_free(tt_tls_config_t *c)
{
    while (c->certs) {
        tls_cert_t *e = c->certs;
        c->certs = e->next;
        cert_free(e);
    }
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    free(c);
}

/* Keep the suites of `wanted_suites` that this build knows. */
static int pick_suites(tt_tls_config_t *c, char *err, size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < TT_ARRAY_SIZE(wanted_suites); i++) {
        if (mbedtls_ssl_ciphersuite_from_id(wanted_suites[i]))
            c->suites[n++] = wanted_suites[i];
    }
    c->suites[n] = 0;
    if (n == 0)
        return errf(err, errlen, "this mbedtls has no ECDHE AES-GCM or ChaCha20-Poly1305 suite");
    mbedtls_ssl_conf_ciphersuites(&c->conf, c->suites);
    return 0;
}

static tt_tls_config_t *config_new(bool server, char *err, size_t errlen)
{
    tt_tls_config_t *c = tt_xcalloc(1, sizeof *c);
    c->refs = 1;
    c->server = server;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    mbedtls_x509_crt_init(&c->ca);
    char m[224];
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
    /* 3.x: TLS 1.3 and the PSA-based code paths need this first. */
    if (psa_crypto_init() != PSA_SUCCESS) {
        errf(err, errlen, "cannot initialize PSA crypto");
        goto fail;
    }
#endif
    static const unsigned char pers[] = "tether tls";
    int rc =
        mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, pers, sizeof pers - 1);
    if (rc != 0) {
        errf(err, errlen, "cannot seed the random generator: %s", mbed_text(rc, m, sizeof m));
        goto fail;
    }
    rc = mbedtls_ssl_config_defaults(&c->conf,
                                     server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                     MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        errf(err, errlen, "cannot set TLS defaults: %s", mbed_text(rc, m, sizeof m));
        goto fail;
    }
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    set_versions(&c->conf);
    if (pick_suites(c, err, errlen) != 0)
        goto fail;
#if defined(MBEDTLS_SSL_ALPN)
    if (mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn_protocols) != 0) {
        errf(err, errlen, "cannot set ALPN");
        goto fail;
    }
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    /* The default already, stated: renegotiation is an attack surface only. */
    mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
    /* Nothing resumes sessions yet, so a ticket would only cost memory. */
    if (!server)
        mbedtls_ssl_conf_session_tickets(&c->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
    if (server)
        mbedtls_ssl_conf_sni(&c->conf, sni_cb, c);
    return c;
fail:
    config_free(c);
    return NULL;
}

tt_tls_config_t *tt_tls_server_config_new(char *err, size_t errlen)
{
    return config_new(true, err, errlen);
}

/* Check that `c` is a server config that may still change. */
static int server_mutable(const tt_tls_config_t *c, char *err, size_t errlen)
{
    if (!c->server)
        return errf(err, errlen, "not a server TLS config");
    if (c->frozen)
        return errf(err, errlen, "the TLS config is in use (change it before any connection)");
    return 0;
}

/* Validate `name` for add_cert: NULL (default), "*.host", "_.host", "host". */
static int cert_name(const tt_tls_config_t *c, const char *name, char **norm, bool *wildcard,
                     char *err, size_t errlen)
{
    *norm = NULL;
    *wildcard = false;
    if (!name)
        return c->fallback ? errf(err, errlen, "a default certificate is already set") : 0;
    const char *host = name;
    if ((name[0] == '*' || name[0] == '_') && name[1] == '.') {
        *wildcard = true;
        host = name + 2;
    }
    *norm = host_norm(host, strlen(host));
    if (!*norm)
        return errf(err, errlen, "invalid host name '%s'", name);
    for (tls_cert_t *e = c->certs; e; e = e->next) {
        if (e->name && e->wildcard == *wildcard && strcmp(e->name, *norm) == 0) {
            free(*norm);
            *norm = NULL;
            return errf(err, errlen, "a certificate for '%s' is already set", name);
        }
    }
    return 0;
}

int tt_tls_server_add_cert(tt_tls_config_t *c, const char *name, const char *cert_pem_path,
                           const char *key_pem_path, char *err, size_t errlen)
{
    char *norm;
    bool wildcard;
    if (server_mutable(c, err, errlen) != 0 ||
        cert_name(c, name, &norm, &wildcard, err, errlen) != 0)
        return TT_ETLS;
    tls_cert_t *e = cert_new();
    e->name = norm;
    e->wildcard = wildcard;
    if (load_pair(c, e, cert_pem_path, key_pem_path, err, errlen) != 0) {
        cert_free(e);
        return TT_ETLS;
    }
    if (!name) {
        /* Served when no SNI callback picks another (no or unknown name). */
        int rc = mbedtls_ssl_conf_own_cert(&c->conf, &e->chain, &e->key);
        if (rc != 0) {
            cert_free(e);
            return errf(err, errlen, "%s: cannot use the certificate", cert_pem_path);
        }
        c->fallback = e;
    }
    e->next = c->certs;
    c->certs = e;
    return 0;
}

/* One directory entry of tt_tls_server_load_dir: "<base>.crt" + "<base>.key". */
static int load_dir_entry(tt_tls_config_t *c, const char *dir, const uv_dirent_t *ent, int *found,
                          char *err, size_t errlen)
{
    size_t n = strlen(ent->name);
    if (ent->type == UV_DIRENT_DIR || n <= 4 || strcmp(ent->name + n - 4, ".crt") != 0)
        return 0;
    tt_buf_t crt = TT_BUF_INIT, key = TT_BUF_INIT;
    tt_buf_appendf(&crt, "%s/%s", dir, ent->name);
    tt_buf_appendf(&key, "%s/%.*s.key", dir, (int)(n - 4), ent->name);
    char *base = tt_xstrndup(ent->name, n - 4);
    /* Pushpin's runner/certs: default.crt, or default_<port>.crt as Pushpin
     * 1.36 names its default per port. One default serves every port here:
     * the first one found wins. */
    bool per_port = strncmp(base, "default_", 8) == 0 && base[8] &&
                    strspn(base + 8, "0123456789") == strlen(base + 8);
    bool is_default = strcmp(base, "default") == 0 || per_port;
    int rc = 0;
    if (!(per_port && c->fallback))
        rc = tt_tls_server_add_cert(c, is_default ? NULL : base, crt.data, key.data, err, errlen);
    free(base);
    tt_buf_free(&crt);
    tt_buf_free(&key);
    if (rc == 0)
        (*found)++;
    return rc;
}

int tt_tls_server_load_dir(tt_tls_config_t *c, const char *dir, char *err, size_t errlen)
{
    if (server_mutable(c, err, errlen) != 0)
        return TT_ETLS;
    uv_fs_t req;
    int n = uv_fs_scandir(NULL, &req, dir, 0, NULL);
    if (n < 0) {
        uv_fs_req_cleanup(&req);
        return errf(err, errlen, "%s: cannot list: %s", dir, uv_strerror(n));
    }
    uv_dirent_t ent;
    int rc = 0, found = 0;
    while (rc == 0 && uv_fs_scandir_next(&req, &ent) != UV_EOF)
        rc = load_dir_entry(c, dir, &ent, &found, err, errlen);
    uv_fs_req_cleanup(&req);
    if (rc == 0 && found == 0)
        return errf(err, errlen, "%s: no certificate (<host>.crt with <host>.key)", dir);
    return rc;
}

int tt_tls_server_set_client_ca(tt_tls_config_t *c, const char *ca_file, bool required, char *err,
                                size_t errlen)
{
    if (server_mutable(c, err, errlen) != 0)
        return TT_ETLS;
    if (c->have_ca)
        return errf(err, errlen, "a client CA is already set");
    if (load_certs(&c->ca, ca_file, false, err, errlen) != 0)
        return TT_ETLS;
    c->have_ca = true;
    c->verify = true;
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_authmode(&c->conf,
                              required ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_OPTIONAL);
    return 0;
}

/* $SSL_CERT_FILE (OpenSSL's convention), else the first readable
 * well-known bundle, else NULL. */
static const char *system_ca_file(void)
{
    const char *env = getenv("SSL_CERT_FILE");
    if (env && *env)
        return env;
    for (size_t i = 0; i < TT_ARRAY_SIZE(system_ca_paths); i++) {
        FILE *f = fopen(system_ca_paths[i], "rb");
        if (f) {
            fclose(f);
            return system_ca_paths[i];
        }
    }
    return NULL;
}

tt_tls_config_t *tt_tls_client_config_new(const char *ca_file, bool verify, const char *cert,
                                          const char *key, char *err, size_t errlen)
{
    if (!cert != !key) {
        errf(err, errlen, "a client certificate needs its key and the other way round");
        return NULL;
    }
    tt_tls_config_t *c = config_new(false, err, errlen);
    if (!c)
        return NULL;
    c->verify = verify;
    const char *ca = ca_file ? ca_file : verify ? system_ca_file() : NULL;
    if (verify && !ca) {
        errf(err, errlen, "no CA file given and no system CA bundle found (set one)");
        goto fail;
    }
    if (ca) {
        if (load_certs(&c->ca, ca, !ca_file, err, errlen) != 0)
            goto fail;
        c->have_ca = true;
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    }
    mbedtls_ssl_conf_authmode(&c->conf,
                              verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    if (cert) {
        tls_cert_t *e = cert_new();
        e->next = c->certs;
        c->certs = e;
        if (load_pair(c, e, cert, key, err, errlen) != 0 ||
            mbedtls_ssl_conf_own_cert(&c->conf, &e->chain, &e->key) != 0) {
            goto fail;
        }
    }
    return c;
fail:
    config_free(c);
    return NULL;
}

tt_tls_config_t *tt_tls_config_ref(tt_tls_config_t *c)
{
    c->refs++;
    return c;
}

void tt_tls_config_unref(tt_tls_config_t *c)
{
    if (c && --c->refs == 0)
        config_free(c);
}

/* ---- connection --------------------------------------------------------- */

enum tt_tls_state { TLS_HANDSHAKE, TLS_OPEN, TLS_FAILED };

struct tt_tls_s {
    mbedtls_ssl_context ssl;
    tt_tls_config_t *cfg;
    tt_tls_io_t io;
    void *owner;
    const unsigned char *in; /* fed ciphertext that mbedtls has not pulled yet */
    size_t in_len;
    tt_buf_t out;     /* ciphertext from mbedtls, handed to io->send after each call */
    tt_buf_t pending; /* plaintext written before OPEN, or while a write runs */
    tt_buf_t backlog; /* ciphertext fed from inside a callback */
    char *name;       /* server: SNI received; client: the name asked for */
    char *reason;     /* why it failed */
    enum tt_tls_state state;
    int depth; /* engine calls in progress on this connection */
    bool server;
    bool done;         /* the handshake completed */
    bool doomed;       /* tt_tls_free came from a callback: free at the end */
    bool seen_input;   /* the first bytes were checked */
    bool writing;      /* encrypting: further writes queue behind */
    bool close_queued; /* close_notify once the queued writes are out */
    bool sent_close;
    bool peer_closed;
};

static const char *state_name(enum tt_tls_state s)
{
    switch (s) {
    case TLS_HANDSHAKE:
        return "handshake";
    case TLS_OPEN:
        return "open";
    case TLS_FAILED:
        return "failed";
    }
    return "?";
}

static void set_state(tt_tls_t *t, enum tt_tls_state s)
{
    tt_log_debug("tls %p: %s -> %s", (void *)t, state_name(t->state), state_name(s));
    t->state = s;
}

static void set_reason(tt_tls_t *t, const char *fmt, ...) TT_PRINTF(2, 3);

/* Record why the connection fails (the first reason wins). */
static void set_reason(tt_tls_t *t, const char *fmt, ...)
{
    if (t->reason)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->reason = tt_xstrdup(buf);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    tt_tls_t *t = ctx;
    tt_buf_append(&t->out, buf, len);
    return (int)len; /* len is at most one record (MBEDTLS_SSL_OUT_BUFFER_LEN) */
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    tt_tls_t *t = ctx;
    if (t->in_len == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < t->in_len ? len : t->in_len;
    memcpy(buf, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

/* Hand what mbedtls wrote to the owner. The buffer is detached first: a
 * write from inside io->send fills a fresh one, sent by that inner call. */
static void flush(tt_tls_t *t)
{
    if (t->out.len == 0)
        return;
    tt_buf_t b = t->out;
    memset(&t->out, 0, sizeof t->out);
    if (!t->doomed)
        t->io.send(t->owner, b.data, b.len);
    tt_buf_free(&b);
}

/* TLS alert descriptions (RFC 5246 7.2, RFC 8446 6). */
static const struct {
    unsigned char code;
    const char *name;
} alerts[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {22, "record_overflow"},
    {40, "handshake_failure"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {100, "no_renegotiation"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {112, "unrecognized_name"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

static const char *alert_name(unsigned d)
{
    for (size_t i = 0; i < TT_ARRAY_SIZE(alerts); i++) {
        if (alerts[i].code == d)
            return alerts[i].name;
    }
    return "unknown alert";
}

/* "certificate verify failed: <mbedtls's lines joined with "; ">". */
static void verify_reason(tt_tls_t *t)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    char info[384] = "";
    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    size_t n = strlen(info);
    while (n > 0 && info[n - 1] == '\n')
        info[--n] = '\0';
    tt_buf_t b = TT_BUF_INIT;
    tt_buf_appends(&b, "certificate verify failed: ");
    for (const char *p = info; *p; p++) {
        if (*p == '\n')
            tt_buf_appends(&b, "; ");
        else
            tt_buf_append(&b, p, 1);
    }
    if (!t->server && t->name && (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH))
        tt_buf_appendf(&b, " (expected '%s')", t->name);
    set_reason(t, "%s", b.data);
    tt_buf_free(&b);
}

static bool is_version_error(int rc)
{
#if defined(MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION)
    if (rc == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION) /* 2.x */
        return true;
#endif
#if defined(MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION)
    if (rc == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION) /* 3.x */
        return true;
#endif
    return false;
}

/* Turn an mbedtls failure into words (unless a reason is already set). */
static void describe(tt_tls_t *t, int rc)
{
    char m[224];
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        verify_reason(t);
    } else if (t->server && !t->done && !t->name && !t->cfg->fallback) {
        set_reason(t, "the client sent no server name and there is no default certificate");
    } else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        /* No getter for the alert: in_msg is the record just parsed,
         * [level, description]. */
        unsigned d = t->ssl.TLS_PRIVATE(in_msg)[1];
        set_reason(t, "the peer sent a fatal alert: %s (%u)", alert_name(d), d);
#if defined(MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN)
    } else if (rc == MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN) { /* 2.x */
        set_reason(t, "no shared cipher");
#endif
#if defined(MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
    } else if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) { /* 2.x */
        set_reason(t, "client certificate required but none was sent");
#endif
    } else if (is_version_error(rc)) {
        set_reason(t, "unsupported protocol version (TLS 1.2 or newer required)");
    } else {
        set_reason(t, "TLS error: %s", mbed_text(rc, m, sizeof m));
    }
}

/* A fatal error: note why, send the alert mbedtls made (if any), stop. */
static int fail(tt_tls_t *t, int rc)
{
    if (t->state != TLS_FAILED) {
        describe(t, rc);
#if defined(MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
        /* 2.28 stops here without a word to the client, which would wait
         * for the server's Finished: send handshake_failure, as OpenSSL. */
        if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
            mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                           MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
#endif
        set_state(t, TLS_FAILED);
        tt_log_debug("tls %p: %s", (void *)t, t->reason);
    }
    flush(t);
    return TT_ETLS;
}

static int sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    tt_tls_config_t *c = arg;
    tt_tls_t *t = tt_container_of(ssl, tt_tls_t, ssl);
    char *host = host_norm((const char *)name, len);
    if (!host) {
        set_reason(t, "invalid server name in the ClientHello");
        return -1;
    }
    free(t->name);
    t->name = host;
    tls_cert_t *e = cert_find(c, host);
    if (!e)
        e = c->fallback;
    if (!e) {
        set_reason(t, "no certificate for server name '%s' and no default certificate", host);
        return -1; /* mbedtls answers with an unrecognized_name alert */
    }
    return mbedtls_ssl_set_hs_own_cert(ssl, &e->chain, &e->key);
}

/* Uppercase letters then a space or '/' ("GET ", "PRI ", "HTTP/"), as far
 * as the bytes go. */
static bool looks_like_http(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len && i < 8 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    return i > 0 && (i == len || p[i] == ' ' || p[i] == '/');
}

/* The peer's first byte starts a TLS record: a handshake (0x16), or for a
 * client also an alert (0x15). Anything else fails at once, with a hint. */
static bool check_first_bytes(tt_tls_t *t, const unsigned char *p, size_t len)
{
    t->seen_input = true;
    if (p[0] == 0x16 || (!t->server && p[0] == 0x15))
        return true;
    if (looks_like_http(p, len))
        set_reason(t, "not TLS (plain HTTP %s?)", t->server ? "request" : "response");
    else
        set_reason(t, "not TLS (first byte 0x%02x)", p[0]);
    return false;
}

/* Encrypt and send; stops early only on failure or a free from a callback. */
static int encrypt(tt_tls_t *t, const unsigned char *p, size_t len)
{
    while (len > 0 && !t->doomed && t->state == TLS_OPEN) {
        int n = mbedtls_ssl_write(&t->ssl, p, len);
        if (n <= 0) /* the bio takes everything, so WANT_WRITE cannot happen */
            return fail(t, n ? n : MBEDTLS_ERR_SSL_INTERNAL_ERROR);
        p += n;
        len -= (size_t)n;
        if (t->out.len >= TLS_FLUSH_AT)
            flush(t);
    }
    flush(t);
    return t->state == TLS_FAILED ? TT_ETLS : 0;
}

static int send_close(tt_tls_t *t)
{
    t->close_queued = false;
    t->sent_close = true;
    int rc = mbedtls_ssl_close_notify(&t->ssl);
    flush(t);
    if (rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
        return fail(t, rc);
    return 0;
}

/* Send `len` bytes, then what callbacks queued meanwhile (in order), then a
 * queued close_notify. */
static int send_plain(tt_tls_t *t, const char *data, size_t len)
{
    t->writing = true;
    int rc = encrypt(t, (const unsigned char *)data, len);
    while (rc == 0 && t->pending.len > 0 && !t->doomed) {
        tt_buf_t b = t->pending;
        memset(&t->pending, 0, sizeof t->pending);
        rc = encrypt(t, (const unsigned char *)b.data, b.len);
        tt_buf_free(&b);
    }
    t->writing = false;
    if (rc == 0 && t->close_queued && !t->doomed)
        rc = send_close(t);
    return rc;
}

/* mbedtls returned WANT_READ: more input is needed, unless it stopped with
 * input left (after a refused renegotiation, for one) and moved forward. */
static bool must_wait(const tt_tls_t *t, size_t before)
{
    return t->in_len == 0 || t->in_len == before;
}

static int handshake(tt_tls_t *t)
{
    while (t->state == TLS_HANDSHAKE && !t->doomed) {
        size_t before = t->in_len;
        int rc = mbedtls_ssl_handshake(&t->ssl);
        flush(t);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            if (must_wait(t, before))
                return 0;
            continue;
        }
        if (rc != 0)
            return fail(t, rc);
        t->done = true;
        set_state(t, TLS_OPEN);
        return send_plain(t, NULL, 0);
    }
    return t->state == TLS_FAILED ? TT_ETLS : 0;
}

/* Decrypt what was fed and deliver it, until mbedtls needs more input. */
static int read_records(tt_tls_t *t)
{
    unsigned char buf[TLS_READ_CHUNK];
    while (t->state == TLS_OPEN && !t->peer_closed && !t->doomed) {
        size_t before = t->in_len;
        int n = mbedtls_ssl_read(&t->ssl, buf, sizeof buf);
        flush(t); /* alerts, or answers to post-handshake messages */
        if (n > 0) {
            t->io.recv_plain(t->owner, (const char *)buf, (size_t)n);
        } else if (n == 0 || n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) {
            /* 0: an empty record (mbedtls bounds how many in a row). */
            if (must_wait(t, before))
                return 0;
        } else if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            t->peer_closed = true;
            t->io.recv_plain(t->owner, NULL, 0);
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        } else if (n == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue; /* 3.x, TLS 1.3: a ticket we do not use */
#endif
        } else {
            return fail(t, n);
        }
    }
    return t->state == TLS_FAILED ? TT_ETLS : 0;
}

/* Run mbedtls over `len` fed bytes; what is left after a close or an error
 * is dropped. */
static int consume(tt_tls_t *t, const char *data, size_t len)
{
    if (!t->seen_input && !check_first_bytes(t, (const unsigned char *)data, len))
        return fail(t, 0);
    t->in = (const unsigned char *)data;
    t->in_len = len;
    int rc = handshake(t);
    if (rc == 0)
        rc = read_records(t);
    t->in = NULL;
    t->in_len = 0;
    return rc;
}

static void destroy(tt_tls_t *t)
{
    mbedtls_ssl_free(&t->ssl);
    tt_buf_free(&t->out);
    tt_buf_free(&t->pending);
    tt_buf_free(&t->backlog);
    free(t->name);
    free(t->reason);
    tt_tls_config_unref(t->cfg);
    free(t);
}

static void enter(tt_tls_t *t)
{
    t->depth++;
}

/* End an engine call: the outermost one runs input fed from callbacks and
 * carries out a deferred free. Returns rc (or the backlog's failure); t may
 * be gone afterwards. */
static int leave(tt_tls_t *t, int rc)
{
    while (t->depth == 1 && t->backlog.len > 0 && !t->doomed && t->state != TLS_FAILED) {
        tt_buf_t b = t->backlog;
        memset(&t->backlog, 0, sizeof t->backlog);
        int r = consume(t, b.data, b.len);
        tt_buf_free(&b);
        if (r != 0)
            rc = r;
    }
    if (--t->depth == 0 && t->doomed)
        destroy(t);
    return rc;
}

/* Client: the name for SNI and the certificate check. */
static void client_name(tt_tls_t *t, const char *name)
{
    if (name && *name) {
        t->name = tt_xstrdup(name);
        if (mbedtls_ssl_set_hostname(&t->ssl, name) != 0) {
            set_reason(t, "invalid server name '%.300s'", name);
            set_state(t, TLS_FAILED);
        }
    } else if (t->cfg->verify) {
        /* mbedtls 2.28 would skip the name check silently: refuse instead. */
        set_reason(t, "no server name to check the certificate against");
        set_state(t, TLS_FAILED);
    }
}

tt_tls_t *tt_tls_new(tt_tls_config_t *c, bool server, const char *server_name,
                     const tt_tls_io_t *io, void *owner)
{
    if (server != c->server)
        return NULL;
    tt_tls_t *t = tt_xcalloc(1, sizeof *t);
    mbedtls_ssl_init(&t->ssl);
    int rc = mbedtls_ssl_setup(&t->ssl, &c->conf);
    if (rc != 0) {
        char m[224];
        tt_log_error("tls: cannot set up a connection: %s", mbed_text(rc, m, sizeof m));
        mbedtls_ssl_free(&t->ssl);
        free(t);
        return NULL;
    }
    c->frozen = true;
    t->cfg = tt_tls_config_ref(c);
    t->io = *io;
    t->owner = owner;
    t->server = server;
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    if (!server)
        client_name(t, server_name);
    return t;
}

int tt_tls_start(tt_tls_t *t)
{
    if (t->state == TLS_FAILED)
        return TT_ETLS;
    if (t->server || t->state != TLS_HANDSHAKE)
        return 0;
    enter(t);
    return leave(t, handshake(t));
}

int tt_tls_feed(tt_tls_t *t, const char *data, size_t len)
{
    if (t->state == TLS_FAILED)
        return TT_ETLS;
    if (len == 0 || t->doomed)
        return 0;
    if (t->depth > 0) {
        tt_buf_append(&t->backlog, data, len); /* run by the outermost leave() */
        return 0;
    }
    enter(t);
    return leave(t, consume(t, data, len));
}

int tt_tls_write(tt_tls_t *t, const char *data, size_t len)
{
    if (t->state == TLS_FAILED)
        return TT_ETLS;
    if (t->sent_close || t->close_queued)
        return TT_ECLOSED;
    if (len == 0 || t->doomed)
        return 0;
    if (t->state == TLS_HANDSHAKE || t->writing) {
        tt_buf_append(&t->pending, data, len);
        return 0;
    }
    enter(t);
    return leave(t, send_plain(t, data, len));
}

size_t tt_tls_pending(const tt_tls_t *t)
{
    return t->pending.len;
}

int tt_tls_close_notify(tt_tls_t *t)
{
    if (t->state == TLS_FAILED)
        return TT_ETLS;
    if (t->sent_close || t->close_queued || t->doomed)
        return 0;
    if (t->state == TLS_HANDSHAKE || t->writing) {
        t->close_queued = true;
        return 0;
    }
    enter(t);
    return leave(t, send_close(t));
}

bool tt_tls_handshake_done(const tt_tls_t *t)
{
    return t->done;
}

const char *tt_tls_error(const tt_tls_t *t)
{
    return t->reason ? t->reason : "";
}

const char *tt_tls_sni(const tt_tls_t *t)
{
    return t->name ? t->name : "";
}

int tt_tls_peer_subject(const tt_tls_t *t, char *out, size_t outlen)
{
    if (outlen == 0)
        return TT_ETLS;
    out[0] = '\0';
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&t->ssl);
    if (!crt)
        return TT_ETLS;
    /* mbedtls turns control characters into '?'. */
    return mbedtls_x509_dn_gets(out, outlen, &crt->subject) < 0 ? TT_ETLS : 0;
}

bool tt_tls_peer_verified(const tt_tls_t *t)
{
    return t->done && t->cfg->verify && mbedtls_ssl_get_peer_cert(&t->ssl) != NULL &&
           mbedtls_ssl_get_verify_result(&t->ssl) == 0;
}

void tt_tls_free(tt_tls_t *t)
{
    if (!t)
        return;
    if (t->depth > 0) {
        t->doomed = true;
        return;
    }
    destroy(t);
}
