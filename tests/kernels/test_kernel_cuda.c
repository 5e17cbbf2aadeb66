/* CPU and CUDA backends give bit-identical statistics, without and with B11
 * (NDMI). Skips (exit 77, and says why) where no GPU can be used or the build
 * has no CUDA backend. */
#include "kernel_testdata.h"

static void compare_backends(const kernel_window *w, const kernel_params *p, uint32_t n_labels,
                             const char *what)
{
    kernel_stats *cpu = testdata_stats(n_labels), *gpu = testdata_stats(n_labels);
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, w, p, cpu, n_labels, 2), KERNEL_OK);
    int rc = kernel_accumulate(KERNEL_DEVICE_CUDA, w, p, gpu, n_labels, 0);
    CHECK_MSG(rc == KERNEL_OK, "%s: CUDA failed: %s", what, kernel_error_message());
    long d = testdata_first_difference(gpu, cpu, n_labels);
    CHECK_MSG(d < 0,
              "%s: CUDA differs from CPU at label %ld (n_valid %lld vs %lld, sum_q %lld vs %lld, "
              "n_moist %lld vs %lld, sum_m %lld vs %lld)",
              what, d, d >= 0 ? (long long)gpu[d].n_valid : 0LL,
              d >= 0 ? (long long)cpu[d].n_valid : 0LL, d >= 0 ? (long long)gpu[d].sum_q : 0LL,
              d >= 0 ? (long long)cpu[d].sum_q : 0LL, d >= 0 ? (long long)gpu[d].n_moist : 0LL,
              d >= 0 ? (long long)cpu[d].n_moist : 0LL, d >= 0 ? (long long)gpu[d].sum_m : 0LL,
              d >= 0 ? (long long)cpu[d].sum_m : 0LL);
    /* CUDA adds into the caller's stats: a second run doubles them */
    rc = kernel_accumulate(KERNEL_DEVICE_CUDA, w, p, gpu, n_labels, 0);
    CHECK_MSG(rc == KERNEL_OK, "%s: second CUDA run failed: %s", what, kernel_error_message());
    int doubled = 1;
    for (uint32_t i = 0; i <= n_labels; i++)
        doubled &= gpu[i].n_valid == 2 * cpu[i].n_valid && gpu[i].n_seen == 2 * cpu[i].n_seen &&
                   gpu[i].sum_q == 2 * cpu[i].sum_q && gpu[i].sum_q2 == 2 * cpu[i].sum_q2 &&
                   gpu[i].n_moist == 2 * cpu[i].n_moist && gpu[i].sum_m == 2 * cpu[i].sum_m;
    CHECK_MSG(doubled, "%s: CUDA does not add into the caller's stats", what);
    free(cpu);
    free(gpu);
}

int main(void)
{
    if (!kernel_cuda_available()) {
        /* Asking for CUDA then fails with a reason; AUTO falls back to the CPU. */
        testdata_window t;
        testdata_random(&t, 16, 4, 3, 1);
        kernel_params p = {.reflectance_offset_dn = -1000,
                           .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
        kernel_stats *s = testdata_stats(3);
        CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CUDA, &t.w, &p, s, 3, 0), KERNEL_ERR_NO_CUDA);
        char reason[256];
        snprintf(reason, sizeof reason, "%s", kernel_error_message());
        CHECK(reason[0] != '\0');
        CHECK_INT(kernel_cuda_device_info(NULL, 0, NULL), KERNEL_ERR_NO_CUDA);
        CHECK_STR(kernel_device_name(KERNEL_DEVICE_AUTO), "cpu");
        CHECK_INT(kernel_accumulate(KERNEL_DEVICE_AUTO, &t.w, &p, s, 3, 0), KERNEL_OK);
        free(s);
        testdata_free(&t);
        if (test_failed)
            return test_summary();
        TEST_SKIP("no usable GPU here (%s): CPU vs CUDA not compared", reason);
    }
    static const struct {
        int width, height;
        uint32_t n_labels;
        int32_t offset;
        uint16_t mask;
        int strip_rows; /* 0: the backend's own */
    } cases[] = {
        {1000, 777, 500, -1000, KERNEL_SCL_DEFAULT_VALID_MASK, 0},
        {1000, 777, 500, 0, KERNEL_SCL_DEFAULT_VALID_MASK, 0},
        {999, 501, 3000, -1000, (1u << 0) | (1u << 4) | (1u << 5) | (1u << 7), 0},
        {1001, 333, 200, -1000, KERNEL_SCL_DEFAULT_VALID_MASK, 6}, /* many strips, odd tail */
        {37, 9, 7, -1000, KERNEL_SCL_DEFAULT_VALID_MASK, 2},
        {5, 3, 15, -1000, KERNEL_SCL_DEFAULT_VALID_MASK, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        testdata_window t;
        testdata_random(&t, cases[c].width, cases[c].height, cases[c].n_labels, 2000 + c);
        kernel_params p = {.reflectance_offset_dn = cases[c].offset,
                           .scl_valid_mask = cases[c].mask};
        char what[112];
        kernel_cuda_set_strip_rows(cases[c].strip_rows);
        for (int b11 = 0; b11 <= 1; b11++) {
            snprintf(what, sizeof what, "%dx%d, %u labels, offset %d, strip %d rows, B11 %s",
                     cases[c].width, cases[c].height, cases[c].n_labels, cases[c].offset,
                     cases[c].strip_rows, b11 ? "yes" : "no");
            kernel_window w = b11 ? testdata_with_swir(&t) : t.w;
            compare_backends(&w, &p, cases[c].n_labels, what);
        }
        testdata_free(&t);
    }
    kernel_cuda_set_strip_rows(0);
    char name[256];
    double peak = 0;
    CHECK_INT(kernel_cuda_device_info(name, sizeof name, &peak), KERNEL_OK);
    CHECK(peak > 1e11); /* any GPU of the last decade has more than 100 GB/s */
    printf("compared on %s\n", name);
    kernel_cuda_release();
    return test_summary();
}
