/* permessage-deflate (RFC 7692), the pure part: the server side of the
 * negotiation, a per-connection inflater for the client's messages, and a
 * stateless compressor whose output one published message shares among all
 * its compressing subscribers.
 *
 * Tether always answers with server_no_context_takeover: each message it
 * sends is compressed on its own, so one compressed frame fits every
 * subscriber and no connection keeps a compressor between messages. Only
 * the inflater has per-connection state, and only while it is needed.
 *
 * No I/O, no loop, no callbacks. zlib stays inside wsdeflate.c: no zlib code
 * or type crosses this header. Any thread; nothing is shared. */
#ifndef TT_WSDEFLATE_H
#define TT_WSDEFLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http_msg.h"
#include "rbuf.h"

/* Parameters of the extension (RFC 7692 7.1). The window sizes are base-2
 * logarithms of the LZ77 window, 8..15. */
typedef struct tt_wsd_params_s {
    bool server_no_context_takeover; /* always true once Tether agreed */
    bool client_no_context_takeover; /* the client compresses each message on its own */
    int server_max_window_bits;      /* the window of our compressor */
    int client_max_window_bits;      /* the window of the client's, so of our inflater */
} tt_wsd_params_t;

/* ---- negotiation ---- */

/* Server side of the negotiation: read the client's offers from every
 * Sec-WebSocket-Extensions header of req (comma-separated, parameters with
 * or without values, values as tokens or quoted strings), take the first
 * permessage-deflate offer that RFC 7692 7.1 lets us accept, and append the
 * value of the Sec-WebSocket-Extensions answer to response_value.
 *
 * On entry *p holds what the server would like; a zeroed struct asks for
 * nothing. client_no_context_takeover true asks every client for it (an
 * idle connection then holds no inflate state at all); client_max_window_bits
 * (8..15; other values mean 15) is the largest window we want to keep for a
 * client, granted only by clients that offered that parameter;
 * server_max_window_bits (the same) caps the window we compress with;
 * server_no_context_takeover is ignored. When an offer is accepted *p holds
 * the agreed parameters, each window 8..15, ready for tt_wsd_new() and
 * tt_wsd_deflate(); otherwise *p and response_value are left as they were.
 *
 * The answer always has server_no_context_takeover; client_no_context_takeover
 * when offered or asked for; server_max_window_bits when offered, the smaller
 * of the offer and our cap; client_max_window_bits when offered with a value,
 * or without one and our cap is below 15.
 *
 * Returns 1 when an offer was accepted; 0 when there was no
 * permessage-deflate offer; -1 when a header does not follow the grammar of
 * RFC 6455 9.1, or every permessage-deflate offer had to be declined (an
 * unknown, repeated or valueless parameter, a value out of range). On 0 and
 * -1 the handshake goes on without compression, as RFC 7692 allows. */
int tt_wsd_negotiate(const tt_msg_t *req, tt_wsd_params_t *p, tt_buf_t *response_value);

/* ---- client to server: the inflater ---- */

/* A connection's inflater (client -> server messages). */
typedef struct tt_wsd_s tt_wsd_t;

/* A new inflater for the agreed parameters p (borrowed): only
 * client_no_context_takeover and client_max_window_bits matter. 8 is
 * inflated with a window of 9: zlib cannot compress with 8, so clients
 * built on it use 9 even when they agreed to 8, and a larger window accepts
 * every stream a smaller one does. It allocates only itself (24 bytes on
 * 64-bit systems); the zlib state comes with the first compressed message. */
tt_wsd_t *tt_wsd_new(const tt_wsd_params_t *p);

/* Release the inflater and its zlib state. NULL is fine. */
void tt_wsd_free(tt_wsd_t *d);

/* Inflate one message: `in` is the payload of all its frames joined, as
 * sent (RSV1 on its first frame); the 0x00 0x00 0xff 0xff tail that the
 * sender removed is added here (RFC 7692 7.2.2). The text is appended to
 * out; at most max_out bytes of it (0: no limit), checked while inflating,
 * so a small bomb cannot make us allocate much more than max_out. A stream
 * that ends with a BFINAL block is fine, bytes after that block are ignored.
 * An empty payload, which is no DEFLATE stream but which some peers send for
 * an empty message, gives an empty message. Text messages must still be
 * checked for UTF-8 by the caller.
 *
 * The zlib state is allocated on the first call, kept across messages
 * (context takeover), and freed after each message when the client agreed
 * to client_no_context_takeover. It costs 7.3 KiB plus the window
 * (2^client_max_window_bits bytes) on 64-bit systems: 39.2 KiB with 15,
 * 11.2 KiB with 12, 7.7 KiB with 8 or 9 (measured with zlib 1.2.13, malloc's
 * overhead aside); tt_wsd_memory() tells the exact figure.
 *
 * Returns 0; TT_ELIMIT when the message inflates to more than max_out bytes
 * (close with 1009); TT_EPARSE when the data is not DEFLATE, is cut short,
 * or refers back before the start of what was sent or beyond the window
 * kept from earlier messages (close with 1007). Like zlib, it follows a
 * reference past the agreed window within one message, which costs nothing.
 * After an error out holds some undefined part of the message and the
 * inflater has dropped its context: close the connection. */
int tt_wsd_inflate(tt_wsd_t *d, const char *in, size_t len, size_t max_out, tt_buf_t *out);

/* Bytes the inflater holds now: itself, and the zlib state while it exists
 * (malloc's own overhead aside). For metrics and tests. */
size_t tt_wsd_memory(const tt_wsd_t *d);

/* ---- server to client: the compressor ---- */

/* Compress one message on its own (no context takeover) and append the
 * payload to send with RSV1 set to out: raw DEFLATE blocks ended by a sync
 * flush, whose trailing 0x00 0x00 0xff 0xff is removed (RFC 7692 7.2.1).
 * An empty message gives the one byte 0x00. Stateless: call it once per
 * published message and share the result among every compressing
 * subscriber whose server_max_window_bits is at least window_bits.
 *
 * window_bits is the agreed server_max_window_bits, 8..15 (0 means 15). The
 * compressor uses no larger window than the message needs (a message under
 * 2^w - 262 bytes fits a window of w whole). zlib cannot compress with a
 * 256-byte window, so with 8 a message over 256 bytes is Huffman-coded
 * only, without back references. The call allocates one zlib state and
 * frees it before returning: about 12 KiB for a message under 250 bytes,
 * growing with the window it needs to about 262 KiB for window 15.
 *
 * The result may be larger than the message (random data): the caller may
 * then send it uncompressed, RSV1 clear, which RFC 7692 allows per message.
 * Returns 0, or UV_EINVAL when window_bits is out of range (out untouched). */
int tt_wsd_deflate(const char *in, size_t len, int window_bits, tt_buf_t *out);

/* One whole compressed frame: FIN and RSV1 set, unmasked (server to
 * client), opcode TT_WS_TEXT or TT_WS_BINARY, payload from tt_wsd_deflate(),
 * in a new shared buffer with one reference. len must fit the buffer: less
 * than 4 GiB minus the head. */
tt_rbuf_t *tt_wsd_frame_shared(int opcode, const char *data, size_t len);

#endif
