/* HTTP/1.x server side: listeners, client connections, request parsing and
 * response framing. Protocol-agnostic about what answers: a handler gets
 * each request head and drives the response (the proxy, later the control
 * and admin APIs).
 *
 * One request at a time per connection: pipelined requests wait, unparsed,
 * until the previous response is complete, so responses go out in order.
 *
 * Handler contract. on_request() is called with the request head. The
 * handler attaches its exchange with tt_client_attach(), asks for the body
 * with tt_client_want_body() (this also answers `Expect: 100-continue`), and
 * answers with tt_client_respond() + tt_client_body()* + tt_client_end(), or
 * tt_client_simple(), or gives up with tt_client_abort(). After end/abort
 * the handler must not use the client again. If the connection dies first,
 * ops->on_abort(x) is called once and the client must not be used after it.
 * None of these calls re-enters the handler synchronously. */
#ifndef TT_SERVER_H
#define TT_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conn.h"
#include "config.h"
#include "http_msg.h"

typedef struct tt_client_s tt_client_t;
typedef struct tt_server_s tt_server_t;

typedef struct tt_exchange_ops_s {
    void (*on_body)(void *x, const char *data, size_t len);
    void (*on_body_end)(void *x);
    void (*on_drain)(void *x); /* the client's write queue drained: produce more */
    void (*on_abort)(void *x); /* connection lost before tt_client_end */
} tt_exchange_ops_t;

/* Answers for requests the server refuses itself: all 400, with these bodies. */
typedef struct tt_server_texts_s {
    const char *bad_request;    /* unparsable head */
    const char *head_too_large; /* head (or target) over head_limit */
    const char *body_too_large; /* body over body_limit */
} tt_server_texts_t;

typedef struct tt_server_opts_s {
    const char *name;           /* for logs: "http", "control" */
    size_t head_limit;          /* bytes of request head (431/414 past it) */
    uint64_t body_limit;        /* 0 = unlimited (413 past it) */
    uint64_t header_timeout_ms; /* to receive a whole head (408) */
    uint64_t idle_timeout_ms;   /* keep-alive wait for the next request */
    int maxconn;                /* 503 past it, 0 = unlimited */
    bool tls;                   /* requests arrive over TLS (X-Forwarded-Proto, route ssl=) */
    /* Pushpin's control API answers limits with 400 and its own texts;
     * NULL keeps the standard 400/414/431/413 answers. */
    const struct tt_server_texts_s *texts;
    void (*on_request)(tt_client_t *cl, tt_msg_t *req, void *arg);
    void *arg;
} tt_server_opts_t;

typedef struct tt_server_stats_s {
    uint64_t accepted, rejected_maxconn, requests, bad_requests, tls_failures;
    int open;
} tt_server_stats_t;

/* Listen on addr:port (port 0 = any free port). `opts` is copied; `stats` is
 * shared (may be NULL) so several listeners can add to one set of counters. */
int tt_server_listen(uv_loop_t *loop, const char *addr, int port, const tt_server_opts_t *opts,
                     tt_server_stats_t *stats, tt_server_t **out);
/* Serve TLS with `cfg` (takes a reference; replaces the one in force for
 * new connections; NULL = plain). Connections keep the config they began with. */
void tt_server_set_tls(tt_server_t *s, tt_tls_config_t *cfg);
/* The port actually bound. */
int tt_server_port(const tt_server_t *s);
/* Stop accepting. Idle keep-alive connections are closed; busy ones close
 * after their current response. `cb` runs when every connection is gone,
 * and the server is freed right after it returns. */
void tt_server_stop(tt_server_t *s, void (*cb)(tt_server_t *s, void *arg), void *arg);
/* Close every connection now (after tt_server_stop, to end the grace time). */
void tt_server_close(tt_server_t *s);
int tt_server_open_connections(const tt_server_t *s);

void tt_client_attach(tt_client_t *cl, const tt_exchange_ops_t *ops, void *x);
void tt_client_want_body(tt_client_t *cl);
void tt_client_pause_body(tt_client_t *cl);
void tt_client_resume_body(tt_client_t *cl);

typedef struct tt_resp_head_s {
    int status;
    const char *reason;  /* NULL = standard phrase */
    const char *headers; /* "Name: value\r\n" lines, no framing or Connection headers */
    size_t headers_len;
    int64_t content_length; /* -1 = unknown: chunked (HTTP/1.1) or close-delimited */
} tt_resp_head_t;

void tt_client_respond(tt_client_t *cl, const tt_resp_head_t *h);
/* Body bytes (borrowed). The head is held back to leave with the first body
 * bytes in one write; tt_client_flush sends it now (streams that must show
 * their head before any body exists). */
void tt_client_body(tt_client_t *cl, const char *data, size_t len);
void tt_client_flush(tt_client_t *cl);
/* Whether body bytes go out as HTTP chunks (else raw, close-delimited or
 * Content-Length). Valid after tt_client_respond. */
bool tt_client_chunked(const tt_client_t *cl);
/* Already framed body bytes, shared (no copy): a chunk when chunked. */
void tt_client_body_shared(tt_client_t *cl, tt_rbuf_t *b);
/* Bytes queued for the client and not yet written. */
size_t tt_client_queued(const tt_client_t *cl);
void tt_client_end(tt_client_t *cl);
/* Another protocol on the connection (WebSocket). */
typedef struct tt_raw_ops_s {
    void (*on_data)(void *x, const char *data, size_t len); /* bytes from the client */
    void (*on_drain)(void *x);                              /* the client's write queue drained */
    void (*on_close)(void *x, int err); /* the connection ended; do not use the client after */
    void (*on_shutdown)(void *x);       /* the server stops: say goodbye (may be NULL) */
} tt_raw_ops_t;

/* Answer 101 with `headers` (lines; the status line and final CRLF are
 * added, nothing else) and hand the connection to `ops`: from now on every
 * byte the client sends goes to ops->on_data (bytes that came with the
 * request are delivered on the next loop turn). The request stays valid
 * until the connection closes. */
void tt_client_upgrade(tt_client_t *cl, const char *headers, size_t len, const tt_raw_ops_t *ops,
                       void *x);
/* Raw bytes to the client (borrowed), or a shared buffer (referenced). */
void tt_client_raw_write(tt_client_t *cl, const char *data, size_t len);
void tt_client_raw_shared(tt_client_t *cl, tt_rbuf_t *b);
void tt_client_raw_pause(tt_client_t *cl);
void tt_client_raw_resume(tt_client_t *cl);
/* End an upgraded connection: send what is queued, then close (with a
 * linger so the peer reads our last bytes). No callback follows. */
void tt_client_raw_end(tt_client_t *cl);
/* The client's request (valid during the exchange, or while upgraded). */
const tt_msg_t *tt_client_request(const tt_client_t *cl);

/* A whole small response: status, optional extra header lines, text body. */
void tt_client_simple(tt_client_t *cl, int status, const char *extra_headers,
                      const char *content_type, const char *body);
void tt_client_abort(tt_client_t *cl);
/* Whether the response has started (headers sent). */
bool tt_client_responded(const tt_client_t *cl);
bool tt_client_congested(const tt_client_t *cl);
/* Request facts the handler needs. */
const char *tt_client_peer(const tt_client_t *cl);
bool tt_client_tls(const tt_client_t *cl);
/* Mark the connection to close after this response (shutdown). */
void tt_client_close_after(tt_client_t *cl);

#endif
