/* base64 as GRIP needs it: Qt-lenient decoding for published and
 * instructed content (as Pushpin decodes), strict base64url for JWTs. */
#ifndef TT_BASE64_H
#define TT_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Decode n bytes. Lenient (strict_url false, standard alphabet) skips every
 * character outside the alphabet, '=' included, as Qt 5's
 * QByteArray::fromBase64 does. Strict (base64url, as JWT libraries) fails
 * on any such character, on a length that leaves 6 bits over, or on
 * non-zero unused bits. Returns a new NUL-terminated buffer (free()), or
 * NULL when strict decoding fails. */
unsigned char *tt_base64_decode(const char *s, size_t n, bool strict_url, size_t *out_len);

/* base64url without padding; a new NUL-terminated string (free()). */
char *tt_base64url_encode(const unsigned char *p, size_t n);

#endif
