/* RFC 6455 WebSocket framing, the pure part: a resumable frame parser that
 * hands whole messages to its owner, frame writers, the opening handshake
 * checks of both sides, UTF-8 validation and the close-code rules.
 *
 * No I/O and no loop: the parser calls its owner back synchronously from
 * tt_ws_parser_feed(); every other function is synchronous and never calls
 * back. Loop thread or any thread: nothing here is shared.
 *
 * Protocol errors are reported as the close code to send to the peer
 * (1002 protocol error, 1007 invalid data, 1009 message too big), with a
 * short static reason that may go in the close frame. */
#ifndef TT_WSFRAME_H
#define TT_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_msg.h"
#include "rbuf.h"

enum tt_ws_opcode {
    TT_WS_CONT = 0,
    TT_WS_TEXT = 1,
    TT_WS_BINARY = 2,
    TT_WS_CLOSE = 8,
    TT_WS_PING = 9,
    TT_WS_PONG = 10
};

/* Close codes (RFC 6455 7.4.1). NO_STATUS and ABNORMAL are never sent: they
 * stand for "no code in the close frame" and "no close frame at all". */
#define TT_WS_CLOSE_NORMAL 1000
#define TT_WS_CLOSE_GOING_AWAY 1001
#define TT_WS_CLOSE_PROTOCOL 1002
#define TT_WS_CLOSE_UNSUPPORTED 1003
#define TT_WS_CLOSE_NO_STATUS 1005
#define TT_WS_CLOSE_ABNORMAL 1006
#define TT_WS_CLOSE_INVALID_DATA 1007
#define TT_WS_CLOSE_POLICY 1008
#define TT_WS_CLOSE_TOO_BIG 1009
#define TT_WS_CLOSE_INTERNAL 1011

/* Payload limit of a control frame, and so of a close reason (125 - 2). */
#define TT_WS_CONTROL_MAX 125
#define TT_WS_REASON_MAX 123
/* Longest frame head: 2 bytes, 8 of extended length, 4 of mask key. */
#define TT_WS_HEAD_MAX 14
/* Sizes of the handshake keys as text, NUL included. */
#define TT_WS_KEY_SIZE 25
#define TT_WS_ACCEPT_SIZE 29

/* ---- UTF-8 ---- */

/* Incremental UTF-8 validator (RFC 3629): rejects overlong forms, UTF-16
 * surrogates (U+D800..U+DFFF), code points above U+10FFFF and stray bytes.
 * A rejection is final. Four bytes of state, no allocation. */
typedef struct tt_utf8_s {
    uint32_t state;
} tt_utf8_t;

void tt_utf8_init(tt_utf8_t *u);
/* Check the next len bytes. Returns false as soon as the text so far can no
 * longer be valid UTF-8 (a sequence may stay open across calls). */
bool tt_utf8_feed(tt_utf8_t *u, const char *s, size_t len);
/* Whether the text fed so far is valid and ends on a character boundary. */
bool tt_utf8_complete(const tt_utf8_t *u);
/* Whether s is valid, complete UTF-8. */
bool tt_utf8_valid(const char *s, size_t len);

/* ---- close codes ---- */

/* Whether a peer may send `code` in a close frame (RFC 6455 7.4): 1000-1003,
 * 1007-1011, the registered 1012-1014, and 3000-4999. 1004-1006, 1015 and
 * the rest of 0-2999 are not, nor anything from 5000 on. */
bool tt_ws_close_code_valid(int code);

/* ---- parser ---- */

/* What the parser reports. Each callback may be NULL (the event is then
 * ignored) and returns 0 to go on, or nonzero to stop: the parser then
 * ignores all later input and tt_ws_parser_feed() returns that value.
 * Payloads are unmasked and valid during the call only. A callback must not
 * feed, free or re-initialise the parser that called it. */
typedef struct tt_ws_parser_cbs_s {
    /* A whole data message, its fragments joined. opcode is TT_WS_TEXT or
     * TT_WS_BINARY. rsv1: the first frame had RSV1 set (permessage-deflate);
     * such a message was not checked for UTF-8, as it is compressed. */
    int (*on_message)(void *owner, int opcode, const char *data, size_t len, bool rsv1);
    int (*on_ping)(void *owner, const char *data, size_t len);
    int (*on_pong)(void *owner, const char *data, size_t len);
    /* A valid close frame: code is TT_WS_CLOSE_NO_STATUS when it had no
     * payload (reason is then "" and len 0). The reason is valid UTF-8. The
     * parser ignores all later input. */
    int (*on_close)(void *owner, int code, const char *reason, size_t len);
} tt_ws_parser_cbs_t;

typedef struct tt__ws_asm_s tt__ws_asm_t;

/* Parser states; see the diagram in wsframe.c. */
enum tt__ws_state { TT__WS_HEAD = 0, TT__WS_BODY, TT__WS_DONE };

/* The parser state, public so that connections can embed it; the fields are
 * private. 72 bytes on 64-bit systems, plus a reassembly buffer that exists
 * only while a message is fragmented or a frame is split across reads. */
typedef struct tt_ws_parser_s {
    const tt_ws_parser_cbs_t *_cbs;
    void *_owner;
    tt__ws_asm_t *_asm;           /* reassembly: message so far, then a pending control payload */
    uint64_t _remain;             /* payload bytes of the current frame still to come */
    size_t _max_message;          /* 0 = no limit */
    tt_utf8_t _utf8;              /* of the text message being reassembled */
    uint8_t _hdr[TT_WS_HEAD_MAX]; /* a frame head split across reads */
    uint8_t _hdr_len;
    uint8_t _state;      /* enum tt__ws_state */
    uint8_t _opcode;     /* of the current frame */
    uint8_t _msg_opcode; /* of the data message in progress, 0 if none */
    uint8_t _mask[4];
    uint8_t _mask_pos; /* payload bytes unmasked so far, mod 4 */
    unsigned _fin : 1;
    unsigned _masked : 1;
    unsigned _partial : 1; /* part of the current frame's payload is buffered */
    unsigned _msg_rsv1 : 1;
    unsigned _require_mask : 1;
    unsigned _allow_rsv1 : 1;
} tt_ws_parser_t;

/* Set up a parser; it allocates nothing yet. require_mask: true on the
 * server side (client frames must be masked), false on the client side
 * (server frames must not be). max_message bounds the payload of a data
 * message, fragments together (0 = no limit). allow_rsv1: permessage-deflate
 * was negotiated, so RSV1 may be set on the first frame of a data message.
 * cbs is borrowed for the parser's life; owner is passed to each callback. */
void tt_ws_parser_init(tt_ws_parser_t *p, bool require_mask, size_t max_message, bool allow_rsv1,
                       const tt_ws_parser_cbs_t *cbs, void *owner);

/* Feed the next bytes from the peer; frames may be cut anywhere. Calls back
 * synchronously for each complete message and control frame, control frames
 * as soon as they end, even between the fragments of a message. Returns 0
 * when all bytes were taken; or a close code (TT_WS_CLOSE_PROTOCOL,
 * TT_WS_CLOSE_INVALID_DATA, TT_WS_CLOSE_TOO_BIG) when the peer broke the
 * protocol, with a short static reason in *why; or the nonzero value a
 * callback returned (*why NULL). After any of these, and after a close
 * frame, later bytes are ignored and feed returns 0. why may be NULL. */
int tt_ws_parser_feed(tt_ws_parser_t *p, const char *data, size_t len, const char **why);

/* Whether the parser has stopped: a close frame came, the peer broke the
 * protocol, or a callback said stop. */
static inline bool tt_ws_parser_done(const tt_ws_parser_t *p)
{
    return p->_state == TT__WS_DONE;
}

/* Release the reassembly buffer. The parser may be initialised again. */
void tt_ws_parser_free(tt_ws_parser_t *p);

/* ---- writers ---- */

/* Write the head of a frame whose payload has `len` bytes into h, which has
 * room for TT_WS_HEAD_MAX bytes; returns its size. With mask_key (4 bytes)
 * the head says masked and carries the key: the caller masks the payload. */
size_t tt_ws_frame_head(unsigned char *h, int opcode, bool fin, bool rsv1, uint64_t len,
                        const unsigned char *mask_key);

/* Append one frame to out. Server frames go unmasked (mask_key NULL); client
 * frames (toward WebSocket backends) need a fresh 4-byte mask_key. */
void tt_ws_frame(tt_buf_t *out, int opcode, bool fin, bool rsv1, const char *data, size_t len,
                 const unsigned char *mask_key);

/* One whole unmasked frame (FIN set) in a new buffer with one reference, to
 * be rendered once and written to many clients. len must fit the buffer:
 * less than 4 GiB minus the head. */
tt_rbuf_t *tt_ws_frame_shared(int opcode, const char *data, size_t len);

/* Append a close frame. code 0 or TT_WS_CLOSE_NO_STATUS writes an empty
 * payload (reason ignored); otherwise the code and the reason, cut to
 * TT_WS_REASON_MAX bytes on a UTF-8 character boundary. mask_key as for
 * tt_ws_frame(). */
void tt_ws_close_frame(tt_buf_t *out, int code, const char *reason, size_t len,
                       const unsigned char *mask_key);

/* ---- handshake ---- */

/* Whether a request asks for a WebSocket upgrade at all: an Upgrade header
 * listing the token "websocket" (case-insensitive). */
bool tt_ws_is_upgrade(const tt_msg_t *req);

/* Check a client's opening handshake (RFC 6455 4.2.1): method GET, HTTP/1.1
 * or later, Upgrade lists "websocket", Connection lists "upgrade", one
 * Sec-WebSocket-Key that is the base64 of 16 bytes, Sec-WebSocket-Version
 * 13. Returns 0 if it is good; otherwise the status to answer with a static
 * reason in *why (why may be NULL): 400, or 426 when the version is missing
 * or not 13 (the answer must then carry "Sec-WebSocket-Version: 13"). */
int tt_ws_check_upgrade(const tt_msg_t *req, const char **why);

/* The Sec-WebSocket-Accept value for a key (`len` bytes): base64 of the
 * SHA-1 of the key and the RFC 6455 GUID, 28 characters and a NUL. Returns 0,
 * or TT_ETLS if mbedtls cannot hash (built without SHA-1); out is then "". */
int tt_ws_accept_key(const char *key, size_t len, char out[TT_WS_ACCEPT_SIZE]);

/* Random bytes: fill buf with len bytes, return 0 or nonzero on failure. The
 * signature of mbedtls's f_rng, so mbedtls_ctr_drbg_random fits. */
typedef int (*tt_ws_rand_fn)(void *ctx, unsigned char *buf, size_t len);

/* A new Sec-WebSocket-Key for a request to a backend: 16 random bytes from
 * rnd(ctx, ...) in base64, 24 characters and a NUL. rnd NULL uses libuv's
 * uv_random (the OS's CSPRNG, synchronously). Returns 0, or the nonzero
 * value of rnd or the UV_E* code of uv_random; out is then "". */
int tt_ws_client_key(char out[TT_WS_KEY_SIZE], tt_ws_rand_fn rnd, void *ctx);

/* Check a backend's answer to our handshake made with `key` (RFC 6455
 * 4.2.2): status 101, Upgrade lists "websocket", Connection lists "upgrade",
 * and Sec-WebSocket-Accept matches the key. Returns 0, or TT_EPARSE with a
 * static reason in *why (why may be NULL). Extensions and subprotocols are
 * left to the caller. */
int tt_ws_check_response(const tt_msg_t *resp, const char *key, const char **why);

#endif
