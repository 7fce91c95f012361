/* A raw-frame WebSocket client for tests (RFC 6455), written independently of
 * Tether's own src/ws* code so that the tests check Tether against a second
 * implementation. It sits on the blocking-style tt_tc_t client: every call
 * runs the client's private loop until its condition holds or its timeout
 * passes, and nothing runs between calls.
 *
 * It is deliberately strict about what the server sends (a masked frame, a
 * fragmented or oversized control frame, a non-minimal length are errors) and
 * deliberately loose about what it sends: tests choose opcode, FIN, RSV bits
 * and masking frame by frame, so they can send what a real client never
 * would. Nothing is answered automatically (no pong, no close reply).
 *
 * Results follow support.h: 0 ok, negative on failure: TT_ETIMEOUT,
 * TT_ECLOSED (the TCP connection ended), TT_EPARSE (the server broke the
 * protocol; the reason goes to stderr), TT_ELIMIT, or a libuv code. */
#ifndef TT_TEST_WSCLIENT_H
#define TT_TEST_WSCLIENT_H

#include <stddef.h>

#include "support.h"

/* Opcodes (RFC 6455 5.2). */
enum {
    TT_WS_CONT = 0x0,
    TT_WS_TEXT = 0x1,
    TT_WS_BINARY = 0x2,
    TT_WS_CLOSE = 0x8,
    TT_WS_PING = 0x9,
    TT_WS_PONG = 0xA
};

/* RSV bits as they go into tt_wsc_send_frame's `rsv` (and come out in
 * tt_wsc_frame_t.rsv): RSV1 is 4, RSV2 is 2, RSV3 is 1. */
enum { TT_WS_RSV1 = 4, TT_WS_RSV2 = 2, TT_WS_RSV3 = 1 };

/* Largest frame payload tt_wsc_read_frame accepts (TT_ELIMIT beyond). */
#define TT_WSC_MAX_PAYLOAD (64u * 1024 * 1024)

typedef struct tt_wsc_s tt_wsc_t;

/* Connect to 127.0.0.1:port and do the opening handshake for `path`
 * ("/ws?grip=1"). The request carries Host, Upgrade: websocket, Connection:
 * Upgrade, a fresh random Sec-WebSocket-Key and Sec-WebSocket-Version: 13,
 * then `extra_headers` (complete "Name: value\r\n" lines, may be NULL). A
 * default header whose name appears in extra_headers is not sent: the extra
 * line replaces it, and an extra line with an empty value ("Upgrade:\r\n")
 * only removes it; so tests can send broken handshakes. With a replaced key,
 * the accept value is checked against that key.
 *
 * Returns the client once the answer is a valid 101 (status 101, Upgrade:
 * websocket, Connection: upgrade, the right Sec-WebSocket-Accept); NULL
 * otherwise (the reason goes to stderr). When `resp` is not NULL it receives
 * the handshake response in every case where one was read (the 101 head, or
 * a rejection's status, head and body); the caller frees it with
 * tt_resp_free. On a connection failure *resp is zeroed. Frames that arrived
 * right behind the 101 stay buffered for tt_wsc_read_frame. timeout_ms bounds
 * the connect and the handshake together. */
tt_wsc_t *tt_wsc_open(int port, const char *path, const char *extra_headers, tt_resp_t *resp,
                      int timeout_ms);

/* Send one frame with full control: opcode (0..15, not checked), fin (0/1),
 * rsv (0..7, see TT_WS_RSV*), masked (0/1; a client must mask, tests send
 * unmasked frames on purpose) and a payload of any length (len may be 0, data
 * may then be NULL). Waits until the bytes are written. */
int tt_wsc_send_frame(tt_wsc_t *w, int opcode, int fin, int rsv, int masked, const void *data,
                      size_t len);

/* One masked, final text frame holding the C string s. */
int tt_wsc_send_text(tt_wsc_t *w, const char *s);
/* One masked, final binary frame. */
int tt_wsc_send_binary(tt_wsc_t *w, const void *d, size_t len);
/* One masked ping with the C string s as payload (may be NULL or ""). */
int tt_wsc_send_ping(tt_wsc_t *w, const char *s);
/* One masked close frame: code (2 bytes, big-endian) then the reason (may be
 * NULL). code < 0 sends a close frame with an empty payload. */
int tt_wsc_send_close(tt_wsc_t *w, int code, const char *reason);

/* One frame as read. data (len bytes, plus a NUL not counted) is always
 * allocated, "" when empty. For close frames, close_code is the code or 1005
 * (no code in the payload) and close_reason the reason ("" if none), and data
 * still holds the raw payload; other frames have close_code 0 and
 * close_reason NULL. Release with tt_wsc_frame_free. */
typedef struct {
    int opcode;
    int fin;
    int rsv;
    char *data;
    size_t len;
    int close_code;
    char *close_reason;
} tt_wsc_frame_t;

/* Read exactly one frame. Server frames must be unmasked; a masked one, a
 * control frame that is fragmented or longer than 125 bytes, a close payload
 * of one byte, or a length not in its shortest form is TT_EPARSE. RSV bits
 * and reserved opcodes are reported as they are, not judged. On failure *f is
 * zeroed. */
int tt_wsc_read_frame(tt_wsc_t *w, tt_wsc_frame_t *f, int timeout_ms);

/* Read frames until a whole data message or a close frame. Continuation
 * frames are joined: *f gets the first frame's opcode and rsv, fin 1 and the
 * whole payload. Pings and pongs on the way are dropped, not answered. A
 * close frame is returned as it is (opcode TT_WS_CLOSE). A continuation
 * without a message, a new data frame inside a message or a reserved opcode
 * is TT_EPARSE. timeout_ms bounds the whole call. */
int tt_wsc_read_message(tt_wsc_t *w, tt_wsc_frame_t *f, int timeout_ms);

/* Read frames, dropping everything else, until a close frame. Returns its
 * code (1005 if it had none), -1 if the TCP connection ended without one, or
 * TT_ETIMEOUT / TT_EPARSE. Sends nothing back. */
int tt_wsc_expect_close(tt_wsc_t *w, int timeout_ms);

/* Encode one frame into a malloc'd buffer (caller frees), *out_len bytes;
 * same arguments as tt_wsc_send_frame. For tests that send frames in pieces
 * through tt_wsc_tc. */
char *tt_wsc_encode(int opcode, int fin, int rsv, int masked, const void *data, size_t len,
                    size_t *out_len);

/* The underlying TCP client, borrowed: raw bytes (tt_tc_send), EOF checks
 * (tt_tc_wait_eof), or the bytes buffered but not yet read as frames. */
tt_tc_t *tt_wsc_tc(tt_wsc_t *w);

/* Release the fields of *f and zero it. Safe on a zeroed *f. */
void tt_wsc_frame_free(tt_wsc_frame_t *f);

/* Close the TCP connection at once (no closing handshake) and free the
 * client. NULL is a no-op. */
void tt_wsc_close(tt_wsc_t *w);

#endif
