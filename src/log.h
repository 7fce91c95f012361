/* Leveled logging to stderr (or a file), Pushpin's levels:
 * 0 error, 1 warning, 2 info (default), 3 debug, 4 trace. */
#ifndef TT_LOG_H
#define TT_LOG_H

#include "compat.h"
#include <stdarg.h>
#include <stdio.h>

enum { TT_LOG_ERROR = 0, TT_LOG_WARN = 1, TT_LOG_INFO = 2, TT_LOG_DEBUG = 3, TT_LOG_TRACE = 4 };

extern int tt_log_level;

void tt_log_set_level(int level);
/* Send log lines to `f` (borrowed; NULL means stderr). */
void tt_log_set_file(FILE *f);
void tt_log_write(int level, const char *fmt, ...) TT_PRINTF(2, 3);

#define tt_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= tt_log_level)                                                               \
            tt_log_write((level), __VA_ARGS__);                                                    \
    } while (0)
#define tt_log_error(...) tt_log(TT_LOG_ERROR, __VA_ARGS__)
#define tt_log_warn(...) tt_log(TT_LOG_WARN, __VA_ARGS__)
#define tt_log_info(...) tt_log(TT_LOG_INFO, __VA_ARGS__)
#define tt_log_debug(...) tt_log(TT_LOG_DEBUG, __VA_ARGS__)

#endif
