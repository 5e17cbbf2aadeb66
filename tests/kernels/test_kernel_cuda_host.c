/* The CUDA backend's host logic without a GPU: kernels/kernel_cuda.cu is built
 * as C++ against a stand-in runtime (fake_cuda/cuda_runtime.h) that runs the
 * kernel thread by thread on the CPU. Checks, against the per-pixel reference:
 * strips (even, odd last strip, one strip), 2-D copies with row padding, the
 * 16-byte vector loads at row ends (device padding is filled with a pattern),
 * adding into the caller's stats, the resident timing path, the bandwidth
 * formula, and that kernel_cuda_release frees every device buffer. Each case
 * runs without B11 and then with it (NDMI: n_moist and sum_m, B11 copied at
 * 20 m with its own pitch and 8-byte loads); without B11 no B11 buffer is made. */
#include "kernel_testdata.h"

long fake_cuda_allocations(void);

int main(void)
{
    REQUIRE(kernel_cuda_available());
    static const struct {
        int width, height;
        uint32_t n_labels;
        int32_t offset;
        int strip_rows;
    } cases[] = {
        {1000, 777, 500, -1000, 0},  /* one strip */
        {1001, 333, 200, -1000, 6},  /* 56 strips, the last one 3 rows */
        {37, 9, 7, 0, 2},            /* width not a multiple of 8 or 32 */
        {5, 3, 15, -1000, 0},        /* narrower than one vector load */
        {999, 501, 3000, -1000, 4},
        {64, 64, 10, 0, 64},
    };
    long live_without_b11 = -1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int b11 = 0; b11 <= 1; b11++) {
            testdata_window t;
            testdata_random(&t, cases[c].width, cases[c].height, cases[c].n_labels, 3000 + c);
            kernel_window w = b11 ? testdata_with_swir(&t) : t.w;
            kernel_params p = {.reflectance_offset_dn = cases[c].offset,
                               .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
            kernel_stats *ref = testdata_stats(cases[c].n_labels);
            kernel_stats *got = testdata_stats(cases[c].n_labels);
            testdata_reference(&w, &p, ref, cases[c].n_labels);
            testdata_reference(&w, &p, ref, cases[c].n_labels); /* twice: see below */
            int64_t moist = 0;
            for (uint32_t i = 1; i <= cases[c].n_labels; i++)
                moist += ref[i].n_moist;
            CHECK_MSG(b11 ? moist > 0 || cases[c].width * cases[c].height < 100 : moist == 0,
                      "case %zu, B11 %d: reference n_moist %lld", c, b11, (long long)moist);
            kernel_cuda_set_strip_rows(cases[c].strip_rows);
            /* the backend adds into the caller's stats: two runs give twice */
            for (int run = 0; run < 2; run++)
                CHECK_MSG(kernel_accumulate(KERNEL_DEVICE_CUDA, &w, &p, got, cases[c].n_labels,
                                            0) == KERNEL_OK,
                          "case %zu, B11 %d: %s", c, b11, kernel_error_message());
            long d = testdata_first_difference(got, ref, cases[c].n_labels);
            CHECK_MSG(d < 0,
                      "case %zu (%dx%d, strip %d, B11 %d): differs at label %ld (n_moist %lld vs "
                      "%lld, sum_m %lld vs %lld)",
                      c, cases[c].width, cases[c].height, cases[c].strip_rows, b11, d,
                      d >= 0 ? (long long)got[d].n_moist : 0LL,
                      d >= 0 ? (long long)ref[d].n_moist : 0LL,
                      d >= 0 ? (long long)got[d].sum_m : 0LL, d >= 0 ? (long long)ref[d].sum_m : 0LL);
            /* the strip buffers: two sets of B04, B08, SCL, labels, and one set of
             * statistics; the first window with B11 adds one B11 buffer per set */
            if (c == 0 && !b11)
                live_without_b11 = fake_cuda_allocations();
            if (c == 0 && b11)
                CHECK_INT(fake_cuda_allocations(), live_without_b11 + 2);
            double seconds = -1;
            CHECK_INT(kernel_cuda_time_kernel(&w, &p, cases[c].n_labels, 2, &seconds), KERNEL_OK);
            CHECK_NEAR(seconds, 1e-3, 1e-9); /* the stand-in's events say 1 ms */
            free(ref);
            free(got);
            testdata_free(&t);
        }
    CHECK_INT(live_without_b11, 9);
    kernel_cuda_set_strip_rows(0);
    char name[64];
    double peak = 0;
    CHECK_INT(kernel_cuda_device_info(name, sizeof name, &peak), KERNEL_OK);
    /* 2 transfers per clock x 2619 MHz x 5120 bit / 8 = 3352.32 GB/s */
    CHECK_NEAR(peak, 3352.32e9, 1e3);
    CHECK(strncmp(name, "fake CUDA", 9) == 0);
    CHECK(fake_cuda_allocations() > 0);
    kernel_cuda_release();
    CHECK_INT(fake_cuda_allocations(), 0);
    return test_summary();
}
