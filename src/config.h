/* Settings from a pushpin.conf-style INI file, parsed into an immutable
 * value. An existing pushpin.conf loads unchanged: keys Tether does not use
 * are accepted (known Pushpin keys silently, unknown keys with a warning).
 * Tether's own settings live in a [tether] section that Pushpin ignores.
 *
 * Paths in the file are resolved relative to the file's directory. Durations
 * accept a unit suffix (`500ms`, `5s`, `2m`); a bare number means seconds. */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define TT_DEFAULT_HTTP_PORT 7999
#define TT_DEFAULT_PUSH_PORT 5561

typedef struct tt_listen_s {
    char addr[64]; /* numeric IPv4/IPv6 address; "0.0.0.0" when the entry had none */
    int port;      /* 0..65535; 0 asks the OS for a free port (tests) */
} tt_listen_t;

enum tt_xfp_mode { TT_XFP_NONE = 0, TT_XFP_PROTO_ONLY, TT_XFP_TRUE };

/* x_forwarded_for = "truncate:N,append" (either part optional). */
typedef struct tt_xff_rule_s {
    int truncate; /* keep at most N existing entries; -1 keeps all */
    bool append;  /* append the client's address */
} tt_xff_rule_t;

typedef struct tt_config_s {
    char *path; /* the file, as given; NULL for built-in defaults */
    char *dir;  /* its directory, for relative paths; "." by default */

    /* [global] */
    int port_offset;

    /* [runner] */
    tt_listen_t *http_ports; /* http_port list; default one entry 0.0.0.0:7999 */
    size_t n_http_ports;
    tt_listen_t *https_ports; /* https_ports list; none by default */
    size_t n_https_ports;
    char *certs_dir; /* [tether] certs_dir, "<dir>/runner/certs" as Pushpin: <host>.crt/.key */
    int client_maxconn;        /* 50000 */
    size_t client_buffer_size; /* 8192: the whole request head must fit (431 otherwise) */
    int log_level;             /* 2 */
    bool allow_compression;

    /* [proxy] */
    char *routesfile; /* resolved path; default "<dir>/routes" */
    bool debug;
    bool auto_cross_origin;
    bool accept_x_forwarded_protocol;
    enum tt_xfp_mode set_x_forwarded_protocol; /* proto-only */
    tt_xff_rule_t x_forwarded_for;             /* default: truncate -1, append false */
    tt_xff_rule_t x_forwarded_for_trusted;
    bool accept_pushpin_route;
    char *cdn_loop; /* NULL when unset */
    bool log_from;
    bool log_user_agent;
    char *sig_iss;      /* "pushpin" */
    char *sig_key;      /* "changeme" (raw value; "base64:"/"file:" decoded by grip) */
    char *upstream_key; /* NULL when unset */

    /* [handler] */
    char push_in_http_addr[64];           /* "127.0.0.1" */
    int push_in_http_port;                /* 5561 */
    size_t push_in_http_max_headers_size; /* 10000 */
    size_t push_in_http_max_body_size;    /* 1000000 */
    int message_rate;                     /* per-connection sends/s; 0 = unlimited */
    int message_hwm;                      /* 25000 */
    uint64_t message_wait_ms;             /* 5000 (pushpin.conf gives ms) */
    uint64_t id_cache_ttl_ms;             /* 60 s in pushpin.conf (seconds) */
    int connection_subscription_max;      /* 20 */
    uint64_t subscription_linger_ms;      /* 60 s */

    /* [tether]: Tether's own limits and timeouts */
    uint64_t max_request_body;             /* bytes, 0 = unlimited (default) -> 413 */
    size_t max_response_header_size;       /* 65536: backend response head -> 502 */
    uint64_t client_header_timeout_ms;     /* 30 s to receive a request head -> 408 */
    uint64_t client_idle_timeout_ms;       /* 60 s keep-alive idle between requests */
    uint64_t backend_connect_timeout_ms;   /* 5 s per target, then failover / 502 */
    uint64_t backend_response_timeout_ms;  /* 60 s from request sent to response head -> 504 */
    uint64_t backend_keepalive_timeout_ms; /* 30 s an idle pooled backend connection is kept */
    int backend_pool_size;                 /* 32 idle connections kept per target */
    uint64_t shutdown_grace_ms;            /* 10 s for in-flight requests on SIGTERM */
    size_t subscriber_queue_max; /* 1 MiB unsent to one held client: past it, it is cut off */
    size_t ws_max_message;       /* 1 MiB: a larger WebSocket message closes with 1009 */
    uint64_t ws_idle_timeout_ms; /* 0 (off): close a WebSocket silent this long with 1001 */
    char *tls_cert, *tls_key;    /* default certificate for https_ports (beside runner/certs) */
    char *tls_ca_file;           /* CAs for backends' certificates; NULL: the system's */
    /* Publish API authentication (off by default, as Pushpin): "bearer:TOKEN"
     * or "jwt:KEY" (an HS256 JWT signed with KEY, base64: allowed). */
    char *publish_auth;
} tt_config_t;

/* A config with every default; `dir` is the base for relative paths (NULL = "."). */
tt_config_t *tt_config_defaults(const char *dir);

/* Parse INI text. `name` is the file name used in diagnostics and `dir` the
 * base for relative paths. Errors and warnings go to `diag` (may be NULL).
 * Returns 0 and a new config in *out, or TT_EPARSE (then *out is NULL) when
 * there was at least one error. All errors are reported, not just the first. */
int tt_config_parse(const char *text, size_t len, const char *name, const char *dir,
                    tt_config_t **out, tt_diag_t *diag);

/* Read and parse a file. A missing file is an error. */
int tt_config_load(const char *path, tt_config_t **out, tt_diag_t *diag);

/* Parse "[addr:]port" ("[::1]:80" for IPv6). Returns 0 or TT_EPARSE. */
int tt_listen_parse(const char *s, tt_listen_t *out);

/* Parse a duration ("250ms", "5s", "2m", "1h", bare = seconds). */
int tt_duration_parse(const char *s, uint64_t *ms_out);

void tt_config_free(tt_config_t *c);

#endif
