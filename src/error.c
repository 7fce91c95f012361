/* Error strings for Tether's own codes, falling back to libuv's. */
#include "error.h"

#include <uv.h>

const char *tt_strerror(int err)
{
    switch (err) {
    case TT_EPARSE:
        return "malformed input";
    case TT_ELIMIT:
        return "limit exceeded";
    case TT_ETLS:
        return "TLS error";
    case TT_ESTORE:
        return "storage error";
    case TT_ENOROUTE:
        return "no route";
    case TT_ETIMEOUT:
        return "timed out";
    case TT_ECLOSED:
        return "connection closed early";
    case TT_AGAIN:
        return "need more input";
    case TT_DECLINED:
        return "declined";
    default:
        return uv_strerror(err);
    }
}
