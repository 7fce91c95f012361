/* TLS engine with no I/O of its own (a "memory BIO"): the owner feeds it the
 * ciphertext it read from the socket and gets back ciphertext to write
 * (io->send) and plaintext for the protocol (io->recv_plain), so the same
 * engine runs over any libuv stream, or over nothing at all in tests.
 *
 * mbedtls stays behind this header: no mbedtls type or code crosses it.
 * Failures are TT_ETLS (or TT_ECLOSED for a write after close_notify) with a
 * human reason from tt_tls_error() or the `err` text of the loaders.
 *
 * Versions: TLS 1.2 only with mbedtls 2.28 (Debian 12, the Windows cross
 * build), which has no TLS 1.3; TLS 1.2 and 1.3 with a 3.x built with
 * MBEDTLS_SSL_PROTO_TLS1_3. Cipher suites are ECDHE with AES-GCM or
 * ChaCha20-Poly1305 only; ALPN offers/accepts "http/1.1".
 *
 * Memory per connection: mbedtls allocates one input and one output record
 * buffer per connection in tt_tls_new (MBEDTLS_SSL_IN_CONTENT_LEN and
 * MBEDTLS_SSL_OUT_CONTENT_LEN, 16 KiB each by default, plus record overhead:
 * 2 x 16717 bytes with Debian's 2.28), kept for the connection's whole life,
 * idle or not. Measured with 2.28 and glibc: about 36 KiB per established
 * server connection in all, 37 KiB while handshaking; a client also keeps
 * the server's parsed certificate chain. Less needs a library built with
 * smaller *_CONTENT_LEN (the input one cannot go below what peers send:
 * max_fragment_length is a client's request that servers and browsers
 * mostly ignore) or with MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH.
 *
 * Threads: everything runs on the loop thread that owns the objects. A
 * config holds the random generator its connections share, which is not
 * thread-safe (the Windows build of mbedtls has no threading layer): a
 * config and its connections stay on one thread; a second loop builds its
 * own config. */
#ifndef TT_TLS_H
#define TT_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* ---- configuration (shared, refcounted) -------------------------------- */

typedef struct tt_tls_config_s tt_tls_config_t;

/* A server config with no certificate yet, refcount 1. Returns NULL (and
 * `err`, which may be NULL, says why) only if the random generator cannot
 * be seeded. Add certificates before the first tt_tls_new(): the config is
 * frozen from then on. */
tt_tls_config_t *tt_tls_server_config_new(char *err, size_t errlen);

/* Load a certificate chain (PEM, leaf first) and its private key (PEM,
 * unencrypted) for host `name`: "example.com" (exact, case-insensitive),
 * "*.example.com" or "_.example.com" (wildcard: one label), or NULL for the
 * default certificate, served to clients that send no server name or an
 * unknown one. Without a default, such clients fail the handshake. Returns
 * 0, or TT_ETLS with `err` = "<path>: <why>" (unreadable file, bad PEM, key
 * not matching the certificate, duplicate name, frozen config). */
int tt_tls_server_add_cert(tt_tls_config_t *c, const char *name, const char *cert_pem_path,
                           const char *key_pem_path, char *err, size_t errlen);

/* Load every <host>.crt with its <host>.key from `dir`, like Pushpin's
 * runner/certs: default.crt is the default certificate, _.example.com.crt
 * serves *.example.com; other files are ignored. Returns 0, or TT_ETLS with
 * `err` set at the first bad pair or if the directory has no .crt file. */
int tt_tls_server_load_dir(tt_tls_config_t *c, const char *dir, char *err, size_t errlen);

/* Ask clients for a certificate signed by a CA in `ca_file` (PEM bundle):
 * with `required`, a client without a valid one fails the handshake; else
 * one is verified if sent (see tt_tls_peer_verified). Returns 0 or TT_ETLS
 * with `err` set. */
int tt_tls_server_set_client_ca(tt_tls_config_t *c, const char *ca_file, bool required, char *err,
                                size_t errlen);

/* A client config (toward backends), refcount 1. With `verify`, the server's
 * chain must lead to a CA of `ca_file` (PEM bundle), or when it is NULL of
 * the system bundle: $SSL_CERT_FILE, then the usual Linux/BSD/macOS paths
 * (/etc/ssl/certs/ca-certificates.crt first). Windows has no such file, so
 * there a CA file must be given (the certificate store is not read). Without
 * `verify` (insecure) any certificate is accepted and `ca_file` is only
 * checked for readability. `cert` and `key` (both or neither) are the
 * client's own chain and key for mutual TLS. Returns NULL with `err` set on
 * failure. */
tt_tls_config_t *tt_tls_client_config_new(const char *ca_file, bool verify, const char *cert,
                                          const char *key, char *err, size_t errlen);

/* Take a reference; returns c. */
tt_tls_config_t *tt_tls_config_ref(tt_tls_config_t *c);
/* Drop a reference; the last one frees the config (keys are wiped). NULL is
 * a no-op. Connections hold their own reference. */
void tt_tls_config_unref(tt_tls_config_t *c);

/* ---- connection --------------------------------------------------------- */

typedef struct tt_tls_s tt_tls_t;

/* The owner's side. Both are called synchronously from tt_tls_feed,
 * tt_tls_start, tt_tls_write and tt_tls_close_notify, never from inside
 * mbedtls. The data is borrowed for the duration of the call.
 * - send: ciphertext for the socket, in order.
 * - recv_plain: plaintext from the peer; (NULL, 0) once, when the peer sent
 *   close_notify (a clean end of stream: an EOF without it may be a
 *   truncation). TLS 1.2 asks the receiver to answer with its own
 *   close_notify (tt_tls_close_notify) before closing the socket.
 * From inside them the owner may call tt_tls_write, tt_tls_close_notify,
 * tt_tls_feed (queued and handled when the current call ends) and
 * tt_tls_free (deferred until the current call returns; nothing more is
 * delivered after it). */
typedef struct tt_tls_io_s {
    void (*send)(void *owner, const char *data, size_t len);
    void (*recv_plain)(void *owner, const char *data, size_t len);
} tt_tls_io_t;

/* A connection on config `c` (takes a reference and freezes the config).
 * `server` must match the config's kind. Client: `server_name` (copied) is
 * sent as SNI and, when the config verifies, checked against the server's
 * certificate; a verifying client without one fails at tt_tls_start (never
 * connect unchecked). Server: `server_name` is ignored. `io` is copied;
 * `owner` is passed to its callbacks. Returns NULL only if mbedtls cannot
 * allocate its record buffers or `server` does not match the config. */
tt_tls_t *tt_tls_new(tt_tls_config_t *c, bool server, const char *server_name,
                     const tt_tls_io_t *io, void *owner);

/* Start the handshake: a client sends its ClientHello (through io->send);
 * a server does nothing (it waits for one). Returns 0 or TT_ETLS. */
int tt_tls_start(tt_tls_t *t);

/* Hand over `len` bytes of ciphertext read from the socket (borrowed; all
 * are taken, and dropped after the peer's close_notify or a failure).
 * Drives the handshake, then delivers plaintext through io->recv_plain and
 * answers through io->send. Returns 0 (also while more bytes are needed),
 * or TT_ETLS on a fatal error: the connection is dead, the reason is in
 * tt_tls_error() and any alert for the peer has been sent; close the
 * socket. On "not TLS (plain HTTP request?)" nothing was sent, so the owner
 * may answer in plain HTTP (a 400, as nginx does) before closing. An
 * unfinished handshake just waits: the owner's timer bounds it. */
int tt_tls_feed(tt_tls_t *t, const char *data, size_t len);

/* Encrypt `len` bytes of plaintext (borrowed) and send them. Before the
 * handshake is done they are copied and queued, then sent right after it
 * (tt_tls_pending counts them: the owner bounds this, as it bounds its
 * socket queue). Returns 0, TT_ECLOSED after close_notify, or TT_ETLS. */
int tt_tls_write(tt_tls_t *t, const char *data, size_t len);

/* Plaintext bytes queued by tt_tls_write until the handshake is done. */
size_t tt_tls_pending(const tt_tls_t *t);

/* Send close_notify: no more writes (they return TT_ECLOSED). Before the
 * handshake is done it waits, behind any queued writes, and goes out once
 * the handshake completes. Reading goes on (the peer may still send).
 * Returns 0 or TT_ETLS. */
int tt_tls_close_notify(tt_tls_t *t);

/* The handshake completed (stays true after a close_notify). */
bool tt_tls_handshake_done(const tt_tls_t *t);

/* Why the connection failed: e.g. "certificate verify failed: ...", "no
 * shared cipher", "not TLS (plain HTTP request?)". "" if it has not.
 * Valid until tt_tls_free. */
const char *tt_tls_error(const tt_tls_t *t);

/* Server: the name the client asked for in SNI (lower case), "" if none
 * (yet). Client: the name it asked for. Valid until tt_tls_free. */
const char *tt_tls_sni(const tt_tls_t *t);

/* The peer certificate's subject, e.g. "CN=localhost", into `out` (always
 * NUL-terminated). Returns 0, or TT_ETLS if the peer sent no certificate. */
int tt_tls_peer_subject(const tt_tls_t *t, char *out, size_t outlen);

/* The peer sent a certificate and it was verified (client with verify on;
 * server with a client CA). */
bool tt_tls_peer_verified(const tt_tls_t *t);

/* Free the connection and drop its config reference. Sends nothing (call
 * tt_tls_close_notify first for a clean close). NULL is a no-op. From inside
 * an io callback the free is deferred until the engine call returns. */
void tt_tls_free(tt_tls_t *t);

#endif
