/* Certificates made at test time (never committed keys): mbedtls's
 * x509write API, EC P-256, into temporary directories.
 *
 *   pki.dir:   ca.crt (Tether Test CA), other-ca.crt (Other CA),
 *              client.crt/.key (CN=client, by the test CA),
 *              rogue.crt/.key (CN=rogue, by the other CA)
 *   pki.certs: localhost, example.com, _.example.org (*.example.org) and
 *              default (CN=default.test), all by the test CA, laid out like
 *              Pushpin's runner/certs. */
#ifndef TT_TEST_PKI_H
#define TT_TEST_PKI_H

#include <stdbool.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#define CA_NAME "CN=Tether Test CA"
#define OTHER_CA_NAME "CN=Other CA"

typedef struct pki_s {
    char *dir;   /* CAs and client certificates */
    char *certs; /* the server's certificate directory */
    int serial;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context ca, other; /* the two CAs' keys */
} pki_t;

/* "<dir>/<name>", by value: at(d, n).s lives until the end of the full
 * expression (C11 6.2.4p8), so it goes straight into a call's arguments. */
typedef struct path_s {
    char s[1024];
} path_t;

path_t at(const char *dir, const char *name);
/* Write `text` to dir/name (asserts on failure). */
void write_text(const char *dir, const char *name, const char *text);

/* Make both CAs and every certificate above (asserts on failure). */
void pki_make(pki_t *p);
/* dir/<base>.crt (CN=<cn>, SAN <cn>) and dir/<base>.key, signed by the test
 * CA or, with other_ca, by the other CA. */
void pki_leaf(pki_t *p, const char *dir, const char *base, const char *cn, bool other_ca);
/* Remove the directories and free everything. */
void pki_free(pki_t *p);

#endif
