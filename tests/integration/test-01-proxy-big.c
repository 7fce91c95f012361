/* Large bodies in both directions pass through in bounded memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "tether.h"

/* 1 GiB by default; TT_BIG_BYTES overrides (the sanitizer build uses less). */
static uint64_t big_bytes(void)
{
    const char *s = getenv("TT_BIG_BYTES");
    return s ? strtoull(s, NULL, 10) : (1ull << 30);
}

/* Peak resident memory of a process in KiB from /proc (Linux), or -1. */
static long peak_rss_kib(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    char *s = tt_test_read_file(path, NULL);
    long kib = -1;
    const char *p = s ? strstr(s, "VmHWM:") : NULL;
    if (p)
        kib = strtol(p + 6, NULL, 10);
    free(s);
    return kib;
}

TEST_IMPL(proxy_big_transfers)
{
    uint64_t n = big_bytes();
    tt_origin_t origin;
    ASSERT_OK(tt_origin_start(&origin));
    char routes[64];
    snprintf(routes, sizeof routes, "* 127.0.0.1:%d\n", origin.port);
    tt_tether_t t;
    ASSERT_OK(tt_tether_start(&t, "[runner]\nlog_level=2\n", routes, NULL));
    tt_tc_t *c = tt_tc_connect(t.port, 10000);
    ASSERT_NOT_NULL(c);
    char req[128];
    snprintf(req, sizeof req, "POST /count HTTP/1.1\r\nHost: h\r\nContent-Length: %llu\r\n\r\n",
             (unsigned long long)n);
    ASSERT_OK(tt_tc_sends(c, req));
    ASSERT_OK(tt_tc_send_pattern(c, n, 100000));
    tt_resp_t r;
    ASSERT_OK(tt_tc_read_response(c, &r, 30000, 0));
    char want[64];
    snprintf(want, sizeof want, "bytes=%llu sum=%u", (unsigned long long)n,
             (unsigned)tt_pattern_sum(n));
    ASSERT_STR_EQ(r.body, want);
    tt_resp_free(&r);
    snprintf(req, sizeof req, "GET /size/%llu HTTP/1.1\r\nHost: h\r\n\r\n", (unsigned long long)n);
    ASSERT_OK(tt_tc_sends(c, req));
    uint32_t sum = 0;
    ASSERT_OK(tt_tc_read_response_count(c, &r, &sum, 100000));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, n);
    ASSERT_EQ(sum, tt_pattern_sum(n));
    tt_resp_free(&r);
    long peak = peak_rss_kib(tt_proc_pid(t.proc));
    if (peak >= 0) {
        fprintf(stderr, "tether peak RSS after %llu bytes each way: %ld KiB\n",
                (unsigned long long)n, peak);
        /* Bounded: a few watermarks' worth of buffers, not the body. Under
         * AddressSanitizer freed memory sits in quarantine for a while. */
#if defined(__SANITIZE_ADDRESS__)
        ASSERT_LT(peak, 512 * 1024);
#else
        ASSERT_LT(peak, 64 * 1024);
#endif
    }
    tt_tc_close(c);
    ASSERT_EQ(tt_tether_stop(&t), 0);
    tt_origin_stop(&origin);
    return 0;
}
