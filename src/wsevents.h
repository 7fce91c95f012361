/* WebSocket-over-HTTP and GRIP WebSocket control, the pure parts:
 *
 *  - the application/websocket-events codec: the events Tether and an
 *    `over_http` backend exchange in request and response bodies;
 *  - the GRIP control messages a backend sends as TEXT messages "c:{json}";
 *  - the backend's Sec-WebSocket-Extensions "grip" (is it on, which prefix).
 *
 * No I/O and no loop: every function here is synchronous and never calls
 * back. The rules follow Pushpin 1.36 (websocketoverhttp.cpp,
 * wscontrolmessage.cpp, handlerengine.cpp, wsproxysession.cpp) and were
 * checked against the running program; control message errors are Pushpin's
 * own text. Where Tether is stricter than Pushpin, the function says so. */
#ifndef TT_WSEVENTS_H
#define TT_WSEVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* WebSocket opcodes (RFC 6455) for keep-alive and send-delayed messages. */
#define TT_WSE_OP_TEXT 1
#define TT_WSE_OP_BINARY 2
#define TT_WSE_OP_PING 9
#define TT_WSE_OP_PONG 10

/* "No status received" (RFC 6455): what a CLOSE event without a code means. */
#define TT_WSE_CLOSE_NO_STATUS 1005

/* Pushpin's handler defaults, in seconds (DEFAULT_WS_KEEPALIVE_TIMEOUT,
 * DEFAULT_WS_SENDDELAYED_TIMEOUT). */
#define TT_WSCTL_KA_TIMEOUT 55
#define TT_WSCTL_SD_TIMEOUT 1

/* A message prefix buffer for tt_wse_grip_extension that any sane backend fits. */
#define TT_WSE_PREFIX_CAP 256

/* ---- application/websocket-events ---- */

enum tt_wse_type {
    TT_WSE_OPEN,
    TT_WSE_TEXT,
    TT_WSE_BINARY,
    TT_WSE_PING,
    TT_WSE_PONG,
    TT_WSE_CLOSE,
    TT_WSE_DISCONNECT
};

typedef struct tt_wse_event_s {
    enum tt_wse_type type;
    const char *content; /* points into the parsed body; NULL when !has_content */
    size_t len;
    bool has_content; /* the event had a length field (even "0") */
} tt_wse_event_t;

/* The event's name on the wire ("TEXT"), a static string. */
const char *tt_wse_name(enum tt_wse_type type);

/* Append one event: "NAME <hex-length>\r\n<content>\r\n", or "NAME\r\n"
 * when !has_content (content may then be NULL). The length is lower-case
 * hex, as Pushpin writes it. Whether PING/PONG carry empty content is the
 * caller's choice (Pushpin omits it). */
void tt_wse_encode(tt_buf_t *out, enum tt_wse_type type, const char *content, size_t len,
                   bool has_content);

/* Append a CLOSE event: content is the code as 2 bytes big-endian (only the
 * low 16 bits are used) then the reason's `len` bytes (UTF-8, not checked).
 * A code < 0 or TT_WSE_CLOSE_NO_STATUS gives "CLOSE\r\n" without content,
 * reason ignored: what Pushpin sends when the client's close had no code. */
void tt_wse_encode_close(tt_buf_t *out, int code, const char *reason, size_t len);

/* Parse a whole response body of `len` bytes. Returns 0 with a new array in
 * *events (free() it; NULL when *n is 0) whose content pointers point into
 * `body`, or TT_EPARSE with *events NULL, *n 0 and the reason in `err` (may
 * be NULL), e.g. "unknown event name \"FOO\" at byte 6". An empty body is 0
 * events. At most len / 6 events: the shortest event is 6 bytes.
 *
 * Accepted as Pushpin does: hex lengths in either case, with blanks around,
 * a '+' or a "0x" prefix; any event with content ("OPEN 2\r\nhi\r\n").
 * Stricter than Pushpin, which skips unknown or lower-case names and empty
 * lines, takes a negative length as "to the end", cuts content short at the
 * end of the body and skips the two bytes after content unchecked: here
 * each of these is an error (unknown event name, bad hex length, length
 * beyond body, missing CRLF). */
int tt_wse_parse(const char *body, size_t len, tt_wse_event_t **events, size_t *n, char *err,
                 size_t errlen);

/* Split CLOSE content into code and reason. Returns 0 with *code (0..65535)
 * and the reason (pointing into content, *rlen bytes, not UTF-8 checked);
 * empty content gives TT_WSE_CLOSE_NO_STATUS and an empty reason (""). One
 * byte of content returns TT_EPARSE, outputs set as for empty content:
 * Pushpin treats it as a close without a code. */
int tt_wse_close_parse(const char *content, size_t len, int *code, const char **reason,
                       size_t *rlen);

/* ---- GRIP control messages ---- */

enum tt_wsctl_type {
    TT_WSCTL_SUBSCRIBE,
    TT_WSCTL_UNSUBSCRIBE,
    TT_WSCTL_DETACH,
    TT_WSCTL_KEEP_ALIVE,
    TT_WSCTL_SET_META,
    TT_WSCTL_SESSION,
    TT_WSCTL_SEND_DELAYED,
    TT_WSCTL_FLUSH_DELAYED
};

/* One control message. Only the fields of its type are set; the others are
 * NULL / 0. Strings are NUL-terminated copies. */
typedef struct tt_wsctl_s {
    enum tt_wsctl_type type;

    /* subscribe, unsubscribe: never empty, without the route's prefix. */
    char *channel;
    /* subscribe: in order. Not limited in number: Pushpin limits filters
     * only for HTTP (Grip-Channel), not here. */
    char **filters;
    size_t n_filters;

    /* keep-alive. ka_enabled when content or content-bin was given, even
     * empty; otherwise the message turns keep-alives off and the other ka_
     * fields are defaults. ka_content is NUL-terminated (not counted in
     * ka_len), NULL when disabled. ka_type is message-type as a
     * TT_WSE_OP_*, default text even for content-bin (as Pushpin). ka_timeout
     * is in seconds, > 0: TT_WSCTL_KA_TIMEOUT when absent or 0. ka_interval:
     * mode "interval"; any other mode is idle. */
    bool ka_enabled;
    char *ka_content;
    size_t ka_len;
    int ka_type;
    int ka_timeout;
    bool ka_interval;

    /* set-meta: name never empty; value NULL when absent (delete the meta). */
    char *name;
    char *value;

    /* session: NULL when absent or empty (Pushpin then clears the session id). */
    char *session_id;

    /* send-delayed: the message to send after sd_timeout seconds (> 0,
     * TT_WSCTL_SD_TIMEOUT when absent or 0) unless flushed or replaced.
     * sd_content is never NULL: empty when no content was given, as Pushpin
     * then sends an empty message. sd_type as ka_type. */
    char *sd_content;
    size_t sd_len;
    int sd_type;
    int sd_timeout;
} tt_wsctl_t;

/* Parse the JSON after "c:" (`len` bytes). Returns 0 and a new message in
 * *out (free with tt_wsctl_free), or TT_EPARSE with *out NULL and Pushpin's
 * reason in `err` (may be NULL), e.g. "grip control object does not contain
 * 'channel'", "'type' contains unknown value: foo" or "grip control message
 * is not valid json". Pushpin logs such a message and ignores it; the
 * connection goes on. Value conversions follow Qt: content-bin is lenient
 * base64; a timeout may be a number (rounded), a bool or a numeric string
 * (else 0), is checked only when there is content, and is clamped to
 * INT_MAX. */
int tt_wsctl_parse(const char *json, size_t len, tt_wsctl_t **out, char *err, size_t errlen);

/* Free a control message and everything in it. NULL is fine. */
void tt_wsctl_free(tt_wsctl_t *c);

/* The grip extension in the backend's Sec-WebSocket-Extensions value (`len`
 * bytes; several header lines joined with ", "). Parsed as Pushpin does:
 * items split at commas outside quotes; the first item named exactly "grip"
 * (case-sensitive) counts; its message-prefix parameter (case-sensitive,
 * quoted with backslash escapes or unquoted and trimmed; the last one wins)
 * is the prefix, "m:" when absent, "" when given without a value.
 *
 * Returns 0 with *grip, and the prefix NUL-terminated in `prefix` (size
 * prefix_cap > 0; "" when !*grip). TT_EPARSE: the grip item's parameters are
 * malformed (an unterminated quote, a '=' at the end), *grip false: Pushpin
 * then ignores the extension. TT_ELIMIT: the prefix does not fit, *grip false. */
int tt_wse_grip_extension(const char *value, size_t len, bool *grip, char *prefix,
                          size_t prefix_cap);

#endif
