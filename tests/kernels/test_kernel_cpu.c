/* The optimised CPU backend against the simple per-pixel reference rule
 * (kernel_accumulate_row) on random windows, and independence of the thread
 * count: 1, 2, 3 and 7 threads give bit-identical statistics. */
#include "kernel_testdata.h"

static void compare_with_reference(const testdata_window *t, const kernel_params *p,
                                   uint32_t n_labels, const char *what)
{
    kernel_stats *ref = testdata_stats(n_labels);
    testdata_reference(&t->w, p, ref, n_labels);
    /* the data must exercise every part of the rule */
    int64_t valid = 0, seen = 0;
    for (uint32_t i = 1; i <= n_labels; i++)
        valid += ref[i].n_valid, seen += ref[i].n_seen;
    CHECK_MSG(valid > 1000 && seen > valid, "%s: %lld valid of %lld seen", what,
              (long long)valid, (long long)seen);

    kernel_stats *s = testdata_stats(n_labels);
    kernel_accumulate_window(&t->w, p, s, n_labels);
    long d = testdata_first_difference(s, ref, n_labels);
    CHECK_MSG(d < 0, "%s: kernel_accumulate_window differs at label %ld", what, d);
    free(s);

    /* AVX2 where this CPU has it, then SSE4.1 only: both code paths. */
    for (int avx2 = 1; avx2 >= 0; avx2--) {
        kernel_cpu_set_simd(avx2);
        static const int threads[] = {1, 2, 3, 7};
        for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
            s = testdata_stats(n_labels);
            CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &t->w, p, s, n_labels, threads[k]),
                      KERNEL_OK);
            d = testdata_first_difference(s, ref, n_labels);
            CHECK_MSG(d < 0, "%s, %d threads, avx2 %d: differs at label %ld (n_valid %lld vs %lld)",
                      what, threads[k], avx2, d, d >= 0 ? (long long)s[d].n_valid : 0LL,
                      d >= 0 ? (long long)ref[d].n_valid : 0LL);
            free(s);
        }
    }
    kernel_cpu_set_simd(1);
    free(ref);
}

int main(void)
{
    static const struct {
        int width, height;
        uint32_t n_labels;
        int32_t offset;
        uint16_t mask;
    } cases[] = {
        {1000, 777, 500, -1000, KERNEL_SCL_DEFAULT_VALID_MASK},
        {1000, 777, 500, 0, KERNEL_SCL_DEFAULT_VALID_MASK},
        /* class 0 in the mask: still not clear, since not seen; 7 unclassified */
        {999, 501, 3000, -1000, (1u << 0) | (1u << 4) | (1u << 5) | (1u << 7)},
        {33, 65, 7, -1000, KERNEL_SCL_DEFAULT_VALID_MASK},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        testdata_window t;
        testdata_random(&t, cases[c].width, cases[c].height, cases[c].n_labels, 1000 + c);
        kernel_params p = {.reflectance_offset_dn = cases[c].offset,
                           .scl_valid_mask = cases[c].mask};
        char what[96];
        snprintf(what, sizeof what, "%dx%d, %u labels, offset %d, mask 0x%x", cases[c].width,
                 cases[c].height, cases[c].n_labels, cases[c].offset, cases[c].mask);
        if (cases[c].width * cases[c].height < 10000) {
            /* too small for the 1000-valid-pixel floor: compare only */
            kernel_stats *ref = testdata_stats(cases[c].n_labels), *s = testdata_stats(cases[c].n_labels);
            testdata_reference(&t.w, &p, ref, cases[c].n_labels);
            CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &t.w, &p, s, cases[c].n_labels, 3), KERNEL_OK);
            CHECK_MSG(testdata_first_difference(s, ref, cases[c].n_labels) < 0, "%s differs", what);
            free(ref);
            free(s);
        } else {
            compare_with_reference(&t, &p, cases[c].n_labels, what);
        }
        testdata_free(&t);
    }
    /* One label over the whole window: the run never breaks, so every packed
     * sum in the backend is unpacked before it could overflow. */
    testdata_window t;
    testdata_random(&t, 1000, 777, 1, 7);
    for (ptrdiff_t i = 0; i < t.w.label_stride * 777; i++)
        t.labels[i] = 1;
    for (size_t i = 0; i < (size_t)t.w.band_stride * 777; i++) {
        t.red[i] = 1001; /* reflectance 1 and 65535 - 1000: q = 10000 after rounding */
        t.nir[i] = 65535;
    }
    memset(t.scl, 4, (size_t)t.w.scl_stride * 389);
    kernel_params p = {.reflectance_offset_dn = -1000, .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    kernel_stats *s = testdata_stats(1);
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &t.w, &p, s, 1, 2), KERNEL_OK);
    /* 64534 / 64536 = 0.99996901 -> 9999.69 -> 10000 */
    CHECK_INT(s[1].n_valid, 777000);
    CHECK_INT(s[1].n_seen, 777000);
    CHECK_INT(s[1].sum_q, 7770000000LL);
    CHECK_INT(s[1].sum_q2, 77700000000000LL);
    free(s);
    testdata_free(&t);
    return test_summary();
}
