/* A tiny test harness: CHECK keeps going and counts, REQUIRE stops the test.
 * A test program returns test_summary(), which prints "N passed, N failed". */
#ifndef MOWCHECK_TEST_H
#define MOWCHECK_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            test_passed++;                                                            \
        } else {                                                                      \
            test_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (cond) {                                                          \
            test_passed++;                                                   \
        } else {                                                             \
            test_failed++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#define CHECK_INT(a, b)                                                                     \
    do {                                                                                    \
        long long va_ = (long long)(a), vb_ = (long long)(b);                               \
        CHECK_MSG(va_ == vb_, "%s = %lld, expected %lld", #a, va_, vb_);                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                               \
    do {                                                                                    \
        double va_ = (double)(a), vb_ = (double)(b);                                        \
        CHECK_MSG(fabs(va_ - vb_) <= (tol), "%s = %.9g, expected %.9g (tol %g)", #a, va_, vb_, \
                  (double)(tol));                                                           \
    } while (0)

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *sa_ = (a), *sb_ = (b);                                                  \
        CHECK_MSG(sa_ && sb_ && strcmp(sa_, sb_) == 0, "%s = \"%s\", expected \"%s\"", #a,  \
                  sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                              \
    } while (0)

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failed++;                                                             \
            exit(test_summary());                                                      \
        }                                                                              \
        test_passed++;                                                                 \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed == 0 && test_passed > 0 ? 0 : 1;
}

/* Exit code 77 makes ctest report the test as skipped (SKIP_RETURN_CODE 77). */
#define TEST_SKIP(...)                        \
    do {                                      \
        printf("SKIPPED: ");                  \
        printf(__VA_ARGS__);                  \
        printf("\n");                         \
        exit(77);                             \
    } while (0)

#endif
