/* GRIP, the pure part: a backend response's instructions (Grip-* headers or an
 * application/grip-instruct JSON body) parsed into a tt_instruct_t, the headers
 * that must not reach the client, and the Grip-Sig JWT (HS256) made for
 * backends and checked on requests from a chained GRIP proxy.
 *
 * No I/O and no loop: every function here is synchronous and never calls
 * back. The rules follow Pushpin's Instruct::fromResponse (see GRIP.md 1a),
 * error messages included, so a `debug` route shows the same text. */
#ifndef TT_GRIP_H
#define TT_GRIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_msg.h"

/* Pushpin's limits: filters per channel (MESSAGEFILTERSTACK_SIZE_MAX) and the
 * largest instruct body it buffers (MAX_ACCEPT_RESPONSE_BODY). */
#define TT_GRIP_FILTERS_MAX 5
#define TT_GRIP_JSON_MAX 100000

typedef enum { TT_HOLD_NONE = 0, TT_HOLD_RESPONSE, TT_HOLD_STREAM } tt_hold_mode_t;

typedef struct tt_grip_channel_s {
    char *name;    /* route prefix already prepended */
    char *prev_id; /* NULL if none (an empty prev-id counts as none) */
    char **filters;
    size_t n_filters; /* at most TT_GRIP_FILTERS_MAX */
} tt_grip_channel_t;

typedef struct tt_grip_pair_s {
    char *name;
    char *value;
} tt_grip_pair_t;

typedef struct tt_instruct_s {
    tt_hold_mode_t hold;         /* NONE: no Grip-Hold (and no JSON hold) */
    tt_grip_channel_t *channels; /* in order; header channels first, then JSON ones */
    size_t n_channels;           /* not limited here (connection_subscription_max is later) */
    int timeout;                 /* response hold, seconds: default 55, raised to at least 5 */

    /* Keep-alive (stream holds). keep_alive is set only when there are bytes
     * to send; ka_timeout is in seconds, default 55, raised to at least 1
     * (convert to milliseconds in 64 bits: it may be as large as INT_MAX). */
    bool keep_alive;
    char *ka_data;
    size_t ka_len;
    int ka_timeout;
    bool ka_interval; /* mode=interval: fixed period; else idle (restart after each send) */

    /* Grip-Link, URLs as given (absolute or relative; spaces and non-ASCII
     * bytes percent-encoded). The caller resolves them against the request. */
    char *next_link;       /* rel=next, NULL if none; the last one wins */
    int next_link_timeout; /* seconds, default 120 */
    char *gone_link;       /* rel=gone, NULL if none */

    /* Grip-Status: status 0 = not set; reason NULL = the standard reason. */
    int status;
    char *reason;

    /* Grip-Expose-Headers: when has_expose, only these response headers
     * reach the client (see tt_grip_header_allowed). */
    char **expose_headers;
    size_t n_expose;
    bool has_expose;

    tt_grip_pair_t *meta; /* Grip-Set-Meta and JSON hold.meta; unique names, later wins */
    size_t n_meta;

    /* JSON form only (has_response is then always true): the response to
     * send, which replaces the backend's whole response (a timeout response,
     * or the start of a stream). code already accounts for Grip-Status
     * (JSON code, else Grip-Status, else 200); resp_reason is never NULL.
     * body is NULL when empty. Headers are not filtered by expose_headers. */
    bool has_response;
    int code;
    char *resp_reason;
    tt_grip_pair_t *headers;
    size_t n_headers;
    char *body;
    size_t body_len;
} tt_instruct_t;

/* Whether `resp` carries GRIP instructions: any header named Grip-*, or a
 * Content-Type whose first value is exactly application/grip-instruct. */
bool tt_grip_present(const tt_msg_t *resp);

/* Whether the instructions are the JSON form, so the body must be read whole
 * (up to TT_GRIP_JSON_MAX bytes) and given to tt_grip_parse_json. */
bool tt_grip_is_json(const tt_msg_t *resp);

/* Parse the Grip-* headers of `resp`. `prefix` (the route's channel prefix,
 * may be NULL) is prepended to every channel name. Returns 0 and a new
 * instruct in *out (free with tt_grip_instruct_free), or TT_EPARSE with the
 * reason in `err` (may be NULL), e.g. "Grip-Timeout has invalid value"; *out
 * is then NULL. A response with instructions but no Grip-Hold and no next
 * link is not held: Pushpin then sends it as is, minus the Grip-* headers
 * and with Grip-Status and Grip-Expose-Headers applied. */
int tt_grip_parse_headers(const tt_msg_t *resp, const char *prefix, tt_instruct_t **out, char *err,
                          size_t errlen);

/* Parse the JSON form: the headers first, exactly as tt_grip_parse_headers
 * (Grip-Link, Grip-Hold, Grip-Channel... still apply), then the body of
 * `len` bytes on top: JSON channels are added, hold/timeout/keep-alive/meta
 * override, and the response fields are filled. Fails with TT_EPARSE if the
 * body is over TT_GRIP_JSON_MAX ("GRIP instruct response too large"), if
 * resp->status is not 200, or on bad JSON or a wrong type. Same contract as
 * tt_grip_parse_headers otherwise. */
int tt_grip_parse_json(const tt_msg_t *resp, const char *body, size_t len, const char *prefix,
                       tt_instruct_t **out, char *err, size_t errlen);

/* Free an instruct and everything in it. NULL is fine. */
void tt_grip_instruct_free(tt_instruct_t *in);

/* Whether a response header must never reach the client: every Grip-*. */
bool tt_grip_header_hidden(const char *name, size_t len);

/* Whether a header of the backend's response goes to the client under `in`
 * (header form): not hidden, and listed in Grip-Expose-Headers if any. */
bool tt_grip_header_allowed(const tt_instruct_t *in, const char *name, size_t len);

/* Decode a sig_key / upstream_key setting: "base64:XXXX" gives the decoded
 * bytes (leniently, as Qt: characters outside the alphabet are skipped),
 * anything else its own bytes. Returns 0 with a new buffer in *key (free()
 * it; NUL-terminated, not counted in *key_len), or TT_EPARSE for "file:..."
 * keys, which are not supported yet. */
int tt_grip_key_decode(const char *setting, unsigned char **key, size_t *key_len);

/* A Grip-Sig token: HS256 JWT with header {"typ":"JWT","alg":"HS256"} and
 * claims {"exp":now+3600,"iss":iss}, byte for byte what Pushpin 1.36 sends.
 * `now` is Unix time in seconds. Returns a new NUL-terminated string (free()),
 * or NULL only if mbedtls fails to compute the HMAC. */
char *tt_grip_sig_make(const unsigned char *key, size_t key_len, const char *iss, int64_t now);

/* Check a Grip-Sig token of `len` bytes: three base64url parts (no padding),
 * header alg "HS256", a valid HMAC-SHA256 with `key`, a JSON object claim
 * with a numeric "exp" greater than `now` (and > 0). iss is not checked,
 * as in Pushpin. Returns true if valid. */
bool tt_grip_sig_check(const char *token, size_t len, const unsigned char *key, size_t key_len,
                       int64_t now);

/* The value Tether sends as Grip-Feature (a static string). */
const char *tt_grip_features(void);

/* Parse one Grip-Last value "CHANNEL; last-id=ID" (ID may be "quoted").
 * Returns 0 with new strings in *channel and *last_id (free() both), or
 * TT_EPARSE (no channel, no last-id, bad quoting) with both set to NULL. */
int tt_grip_last_parse(const char *value, size_t len, char **channel, char **last_id);

/* Append a Grip-Last value "CHANNEL; last-id=ID" to `out`, as Pushpin writes it. */
void tt_grip_last_format(tt_buf_t *out, const char *channel, const char *last_id);

#endif
