/* Diagnostics collected while loading configuration: each one a line
 * "file:line: error: why" or "file:line: warning: why". Loaders never print;
 * the caller decides (check-config prints all, a reload logs them). */
#ifndef TT_DIAG_H
#define TT_DIAG_H

#include "compat.h"
#include "buf.h"

typedef struct tt_diag_s {
    tt_buf_t text; /* all lines, each ending in '\n' */
    int errors;
    int warnings;
} tt_diag_t;

#define TT_DIAG_INIT                                                                               \
    {                                                                                              \
        TT_BUF_INIT, 0, 0                                                                          \
    }

/* line <= 0 omits the line number; file NULL omits the file. */
void tt_diag_error(tt_diag_t *d, const char *file, int line, const char *fmt, ...) TT_PRINTF(4, 5);
void tt_diag_warn(tt_diag_t *d, const char *file, int line, const char *fmt, ...) TT_PRINTF(4, 5);
void tt_diag_free(tt_diag_t *d);

#endif
