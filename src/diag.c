/* Diagnostics list for configuration loaders. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

static void add(tt_diag_t *d, const char *kind, const char *file, int line, const char *fmt,
                va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (file && line > 0)
        tt_buf_appendf(&d->text, "%s:%d: %s: %s\n", file, line, kind, msg);
    else if (file)
        tt_buf_appendf(&d->text, "%s: %s: %s\n", file, kind, msg);
    else
        tt_buf_appendf(&d->text, "%s: %s\n", kind, msg);
}

void tt_diag_error(tt_diag_t *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, "error", file, line, fmt, ap);
    va_end(ap);
    d->errors++;
}

void tt_diag_warn(tt_diag_t *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, "warning", file, line, fmt, ap);
    va_end(ap);
    d->warnings++;
}

void tt_diag_free(tt_diag_t *d)
{
    tt_buf_free(&d->text);
    d->errors = d->warnings = 0;
}
