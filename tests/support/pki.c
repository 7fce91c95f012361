/* Certificates made at test time: see pki.h. */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "support.h"
#include "task.h"

path_t at(const char *dir, const char *name)
{
    path_t p;
    snprintf(p.s, sizeof p.s, "%s/%s", dir, name);
    return p;
}

void write_text(const char *dir, const char *name, const char *text)
{
    char *path = tt_test_write_file(dir, name, text);
    ASSERT_NOT_NULL(path);
    free(path);
}

static void gen_key(pki_t *p, mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    ASSERT_OK(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
    ASSERT_OK(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  mbedtls_ctr_drbg_random, &p->drbg));
}

static void set_serial(mbedtls_x509write_cert *w, int serial)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
    /* 3.4 deprecated the mpi form. */
    unsigned char s[1] = {(unsigned char)serial};
    ASSERT_OK(mbedtls_x509write_crt_set_serial_raw(w, s, sizeof s));
#else
    mbedtls_mpi m;
    mbedtls_mpi_init(&m);
    ASSERT_OK(mbedtls_mpi_lset(&m, serial));
    ASSERT_OK(mbedtls_x509write_crt_set_serial(w, &m));
    mbedtls_mpi_free(&m);
#endif
}

/* subjectAltName with one dNSName, DER: SEQUENCE { [2] IA5String }. Written
 * by hand because 2.28 has no SAN writer (3.5 added one). */
static size_t san_der(unsigned char *out, const char *dns)
{
    size_t n = strlen(dns);
    ASSERT_LT(n, 100);
    out[0] = 0x30;
    out[1] = (unsigned char)(n + 2);
    out[2] = 0x82;
    out[3] = (unsigned char)n;
    memcpy(out + 4, dns, n);
    return n + 4;
}

/* Sign a certificate for `key` as `subject` and write it as PEM to
 * dir/file. A CA when `ca`; a leaf otherwise, with `san` if not NULL. */
static void issue(pki_t *p, mbedtls_pk_context *key, const char *subject, const char *san,
                  mbedtls_pk_context *issuer_key, const char *issuer, bool ca, const char *dir,
                  const char *file)
{
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    ASSERT_OK(mbedtls_x509write_crt_set_subject_name(&w, subject));
    ASSERT_OK(mbedtls_x509write_crt_set_issuer_name(&w, issuer));
    set_serial(&w, ++p->serial);
    ASSERT_OK(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20491231235959"));
    ASSERT_OK(mbedtls_x509write_crt_set_basic_constraints(&w, ca, ca ? 0 : -1));
    ASSERT_OK(mbedtls_x509write_crt_set_key_usage(&w, ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                               MBEDTLS_X509_KU_CRL_SIGN
                                                         : MBEDTLS_X509_KU_DIGITAL_SIGNATURE));
    if (san) {
        unsigned char der[128];
        size_t n = san_der(der, san);
        ASSERT_OK(mbedtls_x509write_crt_set_extension(
            &w, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
            der, n));
    }
    unsigned char pem[4096];
    ASSERT_OK(mbedtls_x509write_crt_pem(&w, pem, sizeof pem, mbedtls_ctr_drbg_random, &p->drbg));
    mbedtls_x509write_crt_free(&w);
    write_text(dir, file, (const char *)pem);
}

/* dir/<base>.crt (CN=<cn>, SAN <cn>) and dir/<base>.key, signed by a CA. */
static void leaf_by(pki_t *p, const char *dir, const char *base, const char *cn,
                    mbedtls_pk_context *ca_key, const char *ca_name)
{
    mbedtls_pk_context key;
    gen_key(p, &key);
    char subject[128], file[128];
    snprintf(subject, sizeof subject, "CN=%s", cn);
    snprintf(file, sizeof file, "%s.crt", base);
    issue(p, &key, subject, cn, ca_key, ca_name, false, dir, file);
    unsigned char pem[2048];
    ASSERT_OK(mbedtls_pk_write_key_pem(&key, pem, sizeof pem));
    snprintf(file, sizeof file, "%s.key", base);
    write_text(dir, file, (const char *)pem);
    mbedtls_pk_free(&key);
}

void pki_make(pki_t *p)
{
    memset(p, 0, sizeof *p);
    mbedtls_entropy_init(&p->entropy);
    mbedtls_ctr_drbg_init(&p->drbg);
    ASSERT_OK(mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func, &p->entropy, NULL, 0));
    p->dir = tt_test_tmpdir();
    p->certs = tt_test_tmpdir();
    ASSERT_NOT_NULL(p->dir);
    ASSERT_NOT_NULL(p->certs);
    gen_key(p, &p->ca);
    gen_key(p, &p->other);
    issue(p, &p->ca, CA_NAME, NULL, &p->ca, CA_NAME, true, p->dir, "ca.crt");
    issue(p, &p->other, OTHER_CA_NAME, NULL, &p->other, OTHER_CA_NAME, true, p->dir,
          "other-ca.crt");
    pki_leaf(p, p->certs, "localhost", "localhost", false);
    pki_leaf(p, p->certs, "example.com", "example.com", false);
    pki_leaf(p, p->certs, "_.example.org", "*.example.org", false);
    pki_leaf(p, p->certs, "default", "default.test", false);
    pki_leaf(p, p->dir, "client", "client", false);
    pki_leaf(p, p->dir, "rogue", "rogue", true);
}

void pki_leaf(pki_t *p, const char *dir, const char *base, const char *cn, bool other_ca)
{
    if (other_ca)
        leaf_by(p, dir, base, cn, &p->other, OTHER_CA_NAME);
    else
        leaf_by(p, dir, base, cn, &p->ca, CA_NAME);
}

void pki_free(pki_t *p)
{
    tt_test_rmtree(p->dir);
    tt_test_rmtree(p->certs);
    free(p->dir);
    free(p->certs);
    mbedtls_pk_free(&p->ca);
    mbedtls_pk_free(&p->other);
    mbedtls_ctr_drbg_free(&p->drbg);
    mbedtls_entropy_free(&p->entropy);
}
