/* The routes file, in Pushpin's syntax:
 *     CONDITION[,prop[=v]...] TARGET[,prop[=v]...] [TARGET...]
 * `#` starts a comment; values may be "quoted" with \\ and \" escapes.
 * Parsing is pure: text in, an immutable tt_routes_t out, or line-numbered
 * errors. Matching follows Pushpin's best-match order (see tt_routes_match). */
#ifndef TT_ROUTE_H
#define TT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

enum tt_target_type { TT_TARGET_HOST = 0, TT_TARGET_TEST };

typedef struct tt_target_s {
    enum tt_target_type type;
    char *host; /* name or numeric address, IPv6 without brackets */
    int port;
    bool ssl, insecure, over_http, one_event, untrusted, trust_connect_host;
    char *host_header; /* host=..., NULL if unset */
    char *client_cert, *client_key;
    char **subs; /* sub=chan, may repeat */
    size_t n_subs;
} tt_target_t;

typedef struct tt_header_s {
    char *name;
    char *value;
} tt_header_t;

enum tt_route_proto { TT_PROTO_ANY = 0, TT_PROTO_HTTP, TT_PROTO_WS };

typedef struct tt_route_s {
    char *host; /* exact host (lower case, no port) or NULL for `*` */
    char *id;   /* id=, NULL if unset */
    enum tt_route_proto proto;
    int ssl;           /* -1 any, 0 ssl=no, 1 ssl=yes */
    char *path_beg;    /* NULL if unset */
    int path_rem;      /* -1 if unset */
    char *replace_beg; /* NULL if unset */
    char *as_host;
    tt_header_t *headers; /* header=Name:Value, may repeat */
    size_t n_headers;
    char *prefix; /* channel prefix */
    char *sig_iss, *sig_key;
    int log_level; /* -1 if unset */
    bool no_grip, debug, orig_headers, session, aco;
    tt_target_t *targets; /* tried in order on connect failure */
    size_t n_targets;
    int line; /* line in the routes file (0 for --route) */
} tt_route_t;

typedef struct tt_routes_s {
    tt_route_t *routes;
    size_t n;
} tt_routes_t;

/* Parse routes text; `name` is used in diagnostics ("routes:3: error: ...").
 * Returns 0 with *out set, or TT_EPARSE with every error in `diag`.
 * Unknown condition or target props are errors. An empty file is valid. */
int tt_routes_parse(const char *text, size_t len, const char *name, tt_routes_t **out,
                    tt_diag_t *diag);

/* Read and parse a file. */
int tt_routes_load(const char *path, tt_routes_t **out, tt_diag_t *diag);

/* Best match for a request: host (from Host, may carry a :port, compared
 * case-insensitively without the port), path (no query), ws and tls flags.
 * Order: exact host beats `*`; within a host a route with proto beats one
 * without, then the longest path_beg, then one with ssl; ties go to the
 * earlier line. Returns NULL when nothing matches. */
const tt_route_t *tt_routes_match(const tt_routes_t *r, const char *host, size_t host_len,
                                  const char *path, size_t path_len, bool ws, bool tls);

/* The route with id=`id`, or NULL. */
const tt_route_t *tt_routes_find_id(const tt_routes_t *r, const char *id);

/* Apply path_rem / replace_beg to a request target (path plus query).
 * Writes a new malloc'd string to *out. */
void tt_route_rewrite_path(const tt_route_t *route, const char *target, size_t len, char **out);

void tt_routes_free(tt_routes_t *r);

#endif
