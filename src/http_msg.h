/* HTTP/1.x message heads and the llhttp wrapper shared by the server side
 * (requests from clients) and the client side (responses from backends).
 *
 * A tt_msg_t owns a copy of the head's bytes (target or reason, header
 * names and values) in one buffer; headers are offsets into it, so the
 * buffer may grow while parsing. The parser copies only the head: body bytes
 * are handed to the owner as pointers into the read buffer. */
#ifndef TT_HTTP_MSG_H
#define TT_HTTP_MSG_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

typedef struct tt_hdr_s {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
} tt_hdr_t;

typedef struct tt_msg_s {
    tt_buf_t buf;
    uint32_t target_off, target_len; /* request target, or response reason */
    tt_hdr_t *hdrs;
    uint32_t n_hdrs, cap_hdrs;
    int method; /* llhttp_method_t, requests */
    int status; /* responses */
    int major, minor;
    bool has_content_length;
    uint64_t content_length;
    bool chunked;
    bool keep_alive; /* as llhttp judges it at headers-complete */
    bool upgrade;
    uint8_t conn_scan; /* 0 not looked, 1 Connection names no other header, 2 it does */
} tt_msg_t;

void tt_msg_init(tt_msg_t *m);
void tt_msg_reset(tt_msg_t *m);
void tt_msg_free(tt_msg_t *m);

static inline const char *tt_msg_target(const tt_msg_t *m)
{
    return m->buf.data + m->target_off;
}
static inline const char *tt_msg_name(const tt_msg_t *m, uint32_t i)
{
    return m->buf.data + m->hdrs[i].name_off;
}
static inline const char *tt_msg_value(const tt_msg_t *m, uint32_t i)
{
    return m->buf.data + m->hdrs[i].value_off;
}

/* Index of the first header named `name` (case-insensitive) at or after
 * `from`, or -1. */
int tt_msg_find(const tt_msg_t *m, const char *name, uint32_t from);
/* Value of the first header `name` (NUL-terminated, in the message) or NULL. */
const char *tt_msg_get(const tt_msg_t *m, const char *name, uint32_t *len);
/* Whether the message's Content-Type media type is `type` (compared
 * case-insensitively, parameters ignored). */
bool tt_msg_type_is(const tt_msg_t *m, const char *type);
/* Append a header (copies both). */
void tt_msg_add(tt_msg_t *m, const char *name, size_t nlen, const char *value, size_t vlen);

/* What the parser reports to its owner. A callback returns 0 to go on, > 0
 * to pause the parser (the unparsed rest is left for tt_parser_execute's
 * caller), < 0 to fail (set ps->fail first to say why). */
typedef struct tt_parser_cbs_s {
    int (*on_head)(void *owner, tt_msg_t *m);
    int (*on_body)(void *owner, const char *at, size_t len);
    int (*on_complete)(void *owner);
} tt_parser_cbs_t;

enum tt_parse_fail {
    TT_PARSE_OK = 0,
    TT_PARSE_BAD,            /* malformed (400 / 502) */
    TT_PARSE_URI_TOO_LONG,   /* 414 */
    TT_PARSE_HEAD_TOO_LARGE, /* 431 / 502 */
    TT_PARSE_BODY_TOO_LARGE, /* 413 */
    TT_PARSE_BAD_NAME        /* 400: a header name with a non-token character */
};

typedef struct tt_parser_s {
    llhttp_t p;
    tt_msg_t *msg;
    size_t head_limit; /* bytes of head allowed, 0 = none */
    size_t head_bytes;
    enum tt_parse_fail fail;
    bool in_value;
    bool paused;
    bool head_done;
    bool no_body; /* the response being parsed answers a HEAD */
    const tt_parser_cbs_t *cbs;
    void *owner;
} tt_parser_t;

/* type is HTTP_REQUEST or HTTP_RESPONSE. Strict parsing: no lenient flags. */
void tt_parser_init(tt_parser_t *ps, llhttp_type_t type, tt_msg_t *msg, size_t head_limit,
                    const tt_parser_cbs_t *cbs, void *owner);

/* Feed bytes. Returns the number consumed: less than len when a callback
 * paused the parser (call again with the rest after tt_parser_resume) or on
 * error (then ps->fail is set and tt_parser_error describes it). */
size_t tt_parser_execute(tt_parser_t *ps, const char *data, size_t len, bool *error);
void tt_parser_resume(tt_parser_t *ps);
/* Tell the parser the stream ended; returns false if a message was cut short.
 * For close-delimited response bodies this completes the message. */
bool tt_parser_finish(tt_parser_t *ps);
/* The next response has no body (answer to HEAD). */
void tt_parser_expect_no_body(tt_parser_t *ps, bool yes);
const char *tt_parser_error(const tt_parser_t *ps);

/* Hop-by-hop headers (RFC 9110 7.6.1 plus the ones Pushpin strips), and the
 * names listed in the message's own Connection header. */
bool tt_hdr_is_hop(const tt_msg_t *m, const char *name, size_t len);

/* Standard reason phrase for a status code ("Unknown" if none). */
const char *tt_http_reason(int status);

#endif
