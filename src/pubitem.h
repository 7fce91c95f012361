/* Publish request parser: the JSON body of `POST /publish` becomes a list of
 * items, validated the way Pushpin's handler validates them
 * (handlerengine.cpp, publishitem.cpp, publishformat.cpp), with Pushpin's
 * exact error texts. Pure: no I/O, no globals; the HTTP layer (status codes,
 * Accept, size limits) lives elsewhere. What Pushpin 1.36 really answers is
 * recorded in tests/fixtures/pushpin-publish-answers.md. */
#ifndef TT_PUBITEM_H
#define TT_PUBITEM_H

#include <stdbool.h>
#include <stddef.h>

/* Error texts are one line; a long key in "headers contains '<key>' ..." is
 * cut to fit. */
#define TT_PUBITEM_ERR_LEN 512

typedef enum { TT_ACT_SEND = 0, TT_ACT_HINT, TT_ACT_CLOSE, TT_ACT_REFRESH } tt_pub_action_t;

typedef struct tt_pub_pair_s {
    char *name;
    char *value;
} tt_pub_pair_t;

/* `content-filters`, which every format accepts. `present` tells an absent
 * list (deliver to everyone) from an empty one (only to subscriptions that
 * have no filters). */
typedef struct tt_pub_filters_s {
    bool present;
    char **names;
    size_t n;
} tt_pub_filters_t;

/* Unless noted, the fields below are filled only for action send. */
typedef struct tt_pub_http_response_s {
    bool present;
    tt_pub_action_t action; /* any of the four parse (refresh: Pushpin 1.38+) */
    int code;               /* 0..999, 200 when absent (set for every action) */
    char *reason;           /* NULL: the standard reason for `code` */
    tt_pub_pair_t *headers; /* [[k,v],..] in order, or {k:v} sorted by key */
    size_t n_headers;
    bool has_body; /* body or body-bin was given */
    char *body;    /* body, or body-bin decoded; NUL-terminated, may hold NULs */
    size_t body_len;
    char *body_patch_json; /* body-patch, a JSON array as compact text; NULL if absent */
    tt_pub_filters_t filters;
} tt_pub_http_response_t;

typedef struct tt_pub_http_stream_s {
    bool present;
    tt_pub_action_t action;
    char *content; /* content, or content-bin decoded; never NULL for send */
    size_t content_len;
    tt_pub_filters_t filters;
} tt_pub_http_stream_t;

typedef enum { TT_WSMSG_TEXT = 0, TT_WSMSG_BINARY, TT_WSMSG_PING, TT_WSMSG_PONG } tt_ws_type_t;

typedef struct tt_pub_ws_message_s {
    bool present;
    tt_pub_action_t action;
    tt_ws_type_t type; /* `type`, else text for content and binary for content-bin */
    char *content;     /* never NULL for send ("" for a ping/pong without content) */
    size_t content_len;
    int close_code;     /* action close: `code` (>= 0), -1 when absent */
    char *close_reason; /* action close: `reason`, NULL when absent or "" */
    tt_pub_filters_t filters;
} tt_pub_ws_message_t;

typedef struct tt_pub_item_s {
    char *channel; /* never NULL; may be "" (Pushpin accepts it) */
    char *id;      /* NULL when absent */
    char *prev_id; /* NULL when absent */
    bool no_seq;
    int size;            /* >= 0, or -1 when absent */
    tt_pub_pair_t *meta; /* sorted by name */
    size_t n_meta;
    /* None present is possible: `formats` holding only unknown keys is accepted. */
    tt_pub_http_response_t http_response;
    tt_pub_http_stream_t http_stream;
    tt_pub_ws_message_t ws_message;
} tt_pub_item_t;

typedef struct tt_pub_batch_s {
    tt_pub_item_t *items;
    size_t n; /* may be 0: `{"items":[]}` is valid */
} tt_pub_batch_t;

/* Parse a publish body of `len` bytes (the caller bounds len; Pushpin allows
 * 1,000,000). Returns 0 with a new batch in *out (free it with
 * tt_pubitem_free), or TT_EPARSE with *out NULL and Pushpin's response text,
 * without its trailing newline, in err (may be NULL):
 *   "Body is not valid JSON."   syntax, bad UTF-8, or a top level that is not
 *                               an object or an array
 *   "Invalid format."           the top level is an array
 *   "Invalid format: <detail>"  e.g. "object does not contain 'items'",
 *                               "'ws-message' contains 'type' with unknown value";
 *                               an unknown `action` gives "Invalid format: "
 *                               with an empty detail, as in Pushpin.
 * Two deliberate differences from Pushpin 1.36: invalid base64 in body-bin or
 * content-bin is an error ("'<format>' contains '<key>' with invalid value")
 * where Pushpin publishes whatever Qt salvages (missing padding and whitespace
 * are still accepted); and action "refresh" parses, as in Pushpin 1.38+.
 * Strings are not checked for HTTP safety: header names and values, reasons
 * and close reasons may hold CR, LF and other control bytes, so whoever
 * writes them out must vet them. Pure and synchronous; safe on any thread. */
int tt_pubitem_parse(const char *json, size_t len, tt_pub_batch_t **out, char *err, size_t errlen);

/* Free a batch and everything in it. NULL is fine. */
void tt_pubitem_free(tt_pub_batch_t *b);

/* The action's name as in the JSON ("send", ...). */
const char *tt_pub_action_name(tt_pub_action_t a);

#endif
