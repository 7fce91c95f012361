/* Error codes. Functions return 0 on success and a negative int on failure:
 * libuv's UV_E* codes pass through unchanged, Tether's own start at -5000.
 * Foreign codes (mbedtls, SQLite, Win32) are translated where they arise. */
#ifndef TT_ERROR_H
#define TT_ERROR_H

enum {
    TT_EPARSE = -5000, /* malformed input */
    TT_ELIMIT = -5001, /* a configured limit was exceeded */
    TT_ETLS = -5002,   /* TLS failure */
    TT_ESTORE = -5003, /* storage failure */
    TT_ENOROUTE = -5004,
    TT_ETIMEOUT = -5005,
    TT_ECLOSED = -5006, /* peer closed before the exchange was complete */
    TT_AGAIN = -5100,   /* not an error: need more input */
    TT_DECLINED = -5101 /* not an error: not handled here */
};

/* Message for an error code (ours or libuv's). Never NULL. */
const char *tt_strerror(int err);

#endif
