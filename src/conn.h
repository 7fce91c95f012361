/* A byte stream to a peer (client or backend) over a libuv TCP handle, with
 * an accounted write queue for backpressure.
 *
 * Reads land in one buffer shared by every connection of the loop: the read
 * callback must consume or copy the bytes before it returns. Writes are tried
 * at once (uv_try_write) and only what the socket did not take is copied and
 * queued, so a fast peer costs no copy. `queued` counts bytes not yet written;
 * when it falls to TT_CONN_LOW_WATER after having passed TT_CONN_HIGH_WATER,
 * on_drain is called so the producer can resume. Over TLS (tt_conn_start_tls)
 * the same calls carry plaintext; the bytes counted are ciphertext.
 *
 * The conn is embedded in its owner. tt_conn_close() closes the handle and
 * calls on_close from the loop; the owner frees itself there, never before. */
#ifndef TT_CONN_H
#define TT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "rbuf.h"
#include "tls.h"

#define TT_CONN_HIGH_WATER (256 * 1024)
#define TT_CONN_LOW_WATER (64 * 1024)
#define TT_CONN_READ_BUF (64 * 1024)

typedef struct tt_conn_s tt_conn_t;

/* nread > 0: data; nread < 0: UV_EOF or an error (the conn stays open until
 * the owner closes it). */
typedef void (*tt_conn_read_cb)(tt_conn_t *c, ssize_t nread, const char *data);
typedef void (*tt_conn_cb)(tt_conn_t *c);

struct tt_conn_s {
    uv_tcp_t tcp;
    tt_conn_read_cb on_read;
    tt_conn_cb on_drain; /* may be NULL */
    tt_conn_cb on_close; /* called once the handle is closed */
    tt_conn_cb on_flush; /* one-shot: called from a write callback when queued reaches 0;
                          set it only while queued > 0 */
    void *data;          /* the owner */
    tt_tls_t *tls;       /* NULL: plain TCP */
    bool tls_eof;        /* the peer's close_notify was reported as EOF */
    size_t queued;
    int write_error; /* first write failure, 0 if none */
    bool reading;
    bool closing;
    bool above_high;
};

/* Prepare the handle on `loop` (before uv_accept or connect). */
int tt_conn_init(uv_loop_t *loop, tt_conn_t *c, void *owner);
int tt_conn_read_start(tt_conn_t *c);
void tt_conn_read_stop(tt_conn_t *c);
/* Queue bytes (borrowed: copied if they cannot be written at once).
 * Errors surface through write_error and the next read. */
void tt_conn_write(tt_conn_t *c, const void *data, size_t len);
/* Several pieces in order, one system call when possible (n <= 1024, the
 * most one uv_write takes everywhere). Borrowed, like tt_conn_write. */
void tt_conn_writev(tt_conn_t *c, const uv_buf_t *bufs, int n);
/* Two pieces in order (head then body), one system call when possible. */
void tt_conn_write2(tt_conn_t *c, const void *a, size_t alen, const void *b, size_t blen);
/* Queue a shared buffer (takes a reference while queued; no copy). */
void tt_conn_write_shared(tt_conn_t *c, tt_rbuf_t *b);
/* Close now; pending writes are dropped. Safe to call twice. */
void tt_conn_close(tt_conn_t *c);
/* Whether the producer should stop until on_drain. */
static inline bool tt_conn_congested(const tt_conn_t *c)
{
    return c->queued >= TT_CONN_HIGH_WATER;
}

/* Run TLS over this connection from now on (server: right after accept;
 * client: right after connect, which sends the ClientHello). Reads then
 * deliver plaintext; a TLS failure arrives as a read of TT_ETLS (the reason
 * in tt_conn_tls_error). Writes take plaintext; before the handshake is
 * done they wait in the engine. Returns 0 or TT_ETLS. */
int tt_conn_start_tls(tt_conn_t *c, tt_tls_config_t *cfg, bool server, const char *server_name);
const char *tt_conn_tls_error(const tt_conn_t *c);
bool tt_conn_is_tls(const tt_conn_t *c);

/* The peer's address as text ("1.2.3.4" or "::1"); "" if unknown. */
void tt_conn_peer(const tt_conn_t *c, char *out, size_t outlen);

#endif
