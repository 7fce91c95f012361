/* Test runner interface, after libuv's test/task.h.
 *
 * A test is a function defined with TEST_IMPL(name) in any test source file;
 * CMake scans the sources for TEST_IMPL and registers one ctest per test, run
 * as `tt_tests <name>` in its own process with a timeout. A test returns 0
 * when it passed; an ASSERT failure prints both values and aborts the
 * process. TEST_SKIP("why") reports a skipped case (ctest shows it skipped). */
#ifndef TT_TASK_H
#define TT_TASK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP_CODE 77

#define TEST_IMPL(name)                                                                            \
    int run_test_##name(void);                                                                     \
    int run_test_##name(void)

#define TEST_SKIP(why)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "SKIP: %s\n", (why));                                                      \
        return TEST_SKIP_CODE;                                                                     \
    } while (0)

#define TT_TEST_FAIL(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "Assertion failed in %s on line %d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        fflush(stderr);                                                                            \
        abort();                                                                                   \
    } while (0)

#define ASSERT(expr)                                                                               \
    do {                                                                                           \
        if (!(expr))                                                                               \
            TT_TEST_FAIL("%s", #expr);                                                             \
    } while (0)

#define ASSERT_INT_OP(a, op, b)                                                                    \
    do {                                                                                           \
        int64_t va_ = (int64_t)(a), vb_ = (int64_t)(b);                                            \
        if (!(va_ op vb_))                                                                         \
            TT_TEST_FAIL("%s %s %s (%" PRId64 " %s %" PRId64 ")", #a, #op, #b, va_, #op, vb_);     \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)
#define ASSERT_OK(a) ASSERT_INT_OP(a, ==, 0)

#define ASSERT_NULL(p) ASSERT((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0)                                   \
            TT_TEST_FAIL("%s == %s (\"%s\" == \"%s\")", #a, #b, sa_ ? sa_ : "(null)",              \
                         sb_ ? sb_ : "(null)");                                                    \
    } while (0)

/* `hay` contains `needle`. */
#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            TT_TEST_FAIL("%s contains %s (\"%s\" does not contain \"%s\")", #hay, #needle,         \
                         h_ ? h_ : "(null)", n_);                                                  \
    } while (0)

#define ASSERT_NOT_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ != NULL && strstr(h_, n_) != NULL)                                                  \
            TT_TEST_FAIL("%s does not contain %s (\"%s\" contains \"%s\")", #hay, #needle, h_,     \
                         n_);                                                                      \
    } while (0)

#endif
