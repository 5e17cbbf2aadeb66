/* The CUDA backend's host logic without a GPU: kernels/kernel_cuda.cu is built
 * as C++ against a stand-in runtime (fake_cuda/cuda_runtime.h) that runs the
 * kernel thread by thread on the CPU. Checks, against the per-pixel reference:
 * strips (even, odd last strip, one strip), 2-D copies with row padding, the
 * 16-byte vector loads at row ends (device padding is filled with a pattern),
 * adding into the caller's stats, the resident timing path, the bandwidth
 * formula, and that kernel_cuda_release frees every device buffer. */
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
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        testdata_window t;
        testdata_random(&t, cases[c].width, cases[c].height, cases[c].n_labels, 3000 + c);
        kernel_params p = {.reflectance_offset_dn = cases[c].offset,
                           .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
        kernel_stats *ref = testdata_stats(cases[c].n_labels);
        kernel_stats *got = testdata_stats(cases[c].n_labels);
        testdata_reference(&t.w, &p, ref, cases[c].n_labels);
        testdata_reference(&t.w, &p, ref, cases[c].n_labels); /* twice: see below */
        kernel_cuda_set_strip_rows(cases[c].strip_rows);
        /* the backend adds into the caller's stats: two runs give twice */
        for (int run = 0; run < 2; run++)
            CHECK_MSG(kernel_accumulate(KERNEL_DEVICE_CUDA, &t.w, &p, got, cases[c].n_labels, 0) ==
                          KERNEL_OK,
                      "case %zu: %s", c, kernel_error_message());
        long d = testdata_first_difference(got, ref, cases[c].n_labels);
        CHECK_MSG(d < 0, "case %zu (%dx%d, strip %d): differs at label %ld", c, cases[c].width,
                  cases[c].height, cases[c].strip_rows, d);
        double seconds = -1;
        CHECK_INT(kernel_cuda_time_kernel(&t.w, &p, cases[c].n_labels, 2, &seconds), KERNEL_OK);
        CHECK_NEAR(seconds, 1e-3, 1e-9); /* the stand-in's events say 1 ms */
        free(ref);
        free(got);
        testdata_free(&t);
    }
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
