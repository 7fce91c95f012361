/* Leveled logging: one line per call, prefixed with UTC time and level. */
#include "log.h"

#include <time.h>
#include <uv.h>

int tt_log_level = TT_LOG_INFO;
static FILE *log_file;

void tt_log_set_level(int level)
{
    tt_log_level = level;
}

void tt_log_set_file(FILE *f)
{
    log_file = f;
}

void tt_log_write(int level, const char *fmt, ...)
{
    static const char *names[] = {"ERR", "WARN", "INFO", "DEBUG", "TRACE"};
    FILE *out = log_file ? log_file : stderr;
    uv_timeval64_t tv;
    char stamp[32] = "";
    if (uv_gettimeofday(&tv) == 0) {
        time_t secs = (time_t)tv.tv_sec;
        struct tm tm;
        struct tm *p = gmtime(&secs);
        if (p) {
            tm = *p;
            size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
            snprintf(stamp + n, sizeof stamp - n, ".%03d", (int)(tv.tv_usec / 1000));
        }
    }
    if (level < 0)
        level = 0;
    if (level > TT_LOG_TRACE)
        level = TT_LOG_TRACE;
    fprintf(out, "[%s] %s ", names[level], stamp);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}
