/* The optimised CPU backend against the simple per-pixel reference rule
 * (kernel_accumulate_row) on random windows, with and without B11, and
 * independence of the thread count: 1, 2, 3 and 7 threads give bit-identical
 * statistics. The reference's NDMI sums are checked in turn against the rule
 * of kernel.h written out here from the public kernel_ndvi_q. */
#include "kernel_testdata.h"

/* n_moist and sum_m of the whole window, straight from kernel.h: a pixel with a
 * label in [1, n_labels], SCL seen and clear, B04/B08 with data and positive
 * reflectances, B11 (at (y / 2, x / 2)) not 0 and positive after the offset. */
static void moist_by_definition(const kernel_window *w, const kernel_params *p,
                                uint32_t n_labels, int64_t *n_moist, int64_t *sum_m)
{
    *n_moist = *sum_m = 0;
    int32_t off = p->reflectance_offset_dn;
    for (int y = 0; y < w->height; y++)
        for (int x = 0; x < w->width; x++) {
            uint32_t label = w->labels[y * w->label_stride + x];
            uint16_t red = w->red[y * w->band_stride + x], nir = w->nir[y * w->band_stride + x];
            uint8_t scl = w->scl[(y / 2) * w->scl_stride + x / 2];
            uint16_t swir = w->swir[(y / 2) * w->swir_stride + x / 2];
            int clear = scl != 0 && scl < 16 && ((p->scl_valid_mask >> scl) & 1u) && red != 0 &&
                        nir != 0 && red + off > 0 && nir + off > 0;
            if (label == 0 || label > n_labels || !clear || swir == 0 || swir + off <= 0)
                continue;
            (*n_moist)++;
            *sum_m += kernel_ndvi_q(swir, nir, off);
        }
}

static void compare_with_reference(const kernel_window *w, const kernel_params *p,
                                   uint32_t n_labels, const char *what)
{
    kernel_stats *ref = testdata_stats(n_labels);
    testdata_reference(w, p, ref, n_labels);
    /* the data must exercise every part of the rule */
    int64_t valid = 0, seen = 0, moist = 0, sum_m = 0;
    for (uint32_t i = 1; i <= n_labels; i++) {
        valid += ref[i].n_valid, seen += ref[i].n_seen;
        moist += ref[i].n_moist, sum_m += ref[i].sum_m;
    }
    CHECK_MSG(valid > 1000 && seen > valid, "%s: %lld valid of %lld seen", what,
              (long long)valid, (long long)seen);
    if (w->swir) {
        int64_t def_moist, def_sum_m;
        moist_by_definition(w, p, n_labels, &def_moist, &def_sum_m);
        CHECK_MSG(moist > 500 && moist < valid, "%s: %lld moist of %lld valid", what,
                  (long long)moist, (long long)valid);
        CHECK_MSG(moist == def_moist && sum_m == def_sum_m,
                  "%s: reference n_moist %lld sum_m %lld, by definition %lld %lld", what,
                  (long long)moist, (long long)sum_m, (long long)def_moist, (long long)def_sum_m);
    } else {
        CHECK_MSG(moist == 0 && sum_m == 0, "%s: NDMI without B11", what);
    }

    kernel_stats *s = testdata_stats(n_labels);
    kernel_accumulate_window(w, p, s, n_labels);
    long d = testdata_first_difference(s, ref, n_labels);
    CHECK_MSG(d < 0, "%s: kernel_accumulate_window differs at label %ld", what, d);
    free(s);

    /* AVX2 where this CPU has it, then SSE4.1 only: both code paths. */
    for (int avx2 = 1; avx2 >= 0; avx2--) {
        kernel_cpu_set_simd(avx2);
        static const int threads[] = {1, 2, 3, 7};
        for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
            s = testdata_stats(n_labels);
            CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, w, p, s, n_labels, threads[k]),
                      KERNEL_OK);
            d = testdata_first_difference(s, ref, n_labels);
            CHECK_MSG(d < 0,
                      "%s, %d threads, avx2 %d: differs at label %ld (n_valid %lld vs %lld, "
                      "n_moist %lld vs %lld)",
                      what, threads[k], avx2, d, d >= 0 ? (long long)s[d].n_valid : 0LL,
                      d >= 0 ? (long long)ref[d].n_valid : 0LL,
                      d >= 0 ? (long long)s[d].n_moist : 0LL,
                      d >= 0 ? (long long)ref[d].n_moist : 0LL);
            free(s);
        }
    }
    kernel_cpu_set_simd(1);
    free(ref);
}

/* With and without B11 on the same window: NDVI fields equal, NDMI fields 0 without. */
static void compare_swir_null(const testdata_window *t, const kernel_params *p,
                              uint32_t n_labels, const char *what)
{
    kernel_window with = testdata_with_swir(t);
    kernel_stats *a = testdata_stats(n_labels), *b = testdata_stats(n_labels);
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &t->w, p, a, n_labels, 2), KERNEL_OK);
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &with, p, b, n_labels, 2), KERNEL_OK);
    int bad = 0;
    for (uint32_t i = 0; i < n_labels + 2; i++)
        bad += a[i].n_valid != b[i].n_valid || a[i].n_seen != b[i].n_seen ||
               a[i].sum_q != b[i].sum_q || a[i].sum_q2 != b[i].sum_q2 || a[i].n_moist != 0 ||
               a[i].sum_m != 0;
    CHECK_MSG(bad == 0, "%s: %d labels where B11 changes NDVI, or NDMI without B11", what, bad);
    free(a);
    free(b);
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
        char what[112];
        snprintf(what, sizeof what, "%dx%d, %u labels, offset %d, mask 0x%x", cases[c].width,
                 cases[c].height, cases[c].n_labels, cases[c].offset, cases[c].mask);
        if (cases[c].width * cases[c].height < 10000) {
            /* too small for the 1000-valid-pixel floor: compare only */
            kernel_stats *ref = testdata_stats(cases[c].n_labels), *s = testdata_stats(cases[c].n_labels);
            kernel_window with = testdata_with_swir(&t);
            testdata_reference(&t.w, &p, ref, cases[c].n_labels);
            testdata_reference(&with, &p, ref, cases[c].n_labels);
            CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &t.w, &p, s, cases[c].n_labels, 3), KERNEL_OK);
            CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &with, &p, s, cases[c].n_labels, 3), KERNEL_OK);
            CHECK_MSG(testdata_first_difference(s, ref, cases[c].n_labels) < 0, "%s differs", what);
            free(ref);
            free(s);
        } else {
            compare_with_reference(&t.w, &p, cases[c].n_labels, what);
            kernel_window with = testdata_with_swir(&t);
            strncat(what, ", B11", sizeof what - strlen(what) - 1);
            compare_with_reference(&with, &p, cases[c].n_labels, what);
        }
        compare_swir_null(&t, &p, cases[c].n_labels, what);
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
    for (size_t i = 0; i < (size_t)t.w.swir_stride * 389; i++)
        t.swir[i] = 1001; /* NDMI as NDVI: 10000 at every pixel */
    kernel_window with = testdata_with_swir(&t);
    kernel_params p = {.reflectance_offset_dn = -1000, .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    for (int b11 = 0; b11 <= 1; b11++) {
        kernel_stats *s = testdata_stats(1);
        CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, b11 ? &with : &t.w, &p, s, 1, 2), KERNEL_OK);
        /* 64534 / 64536 = 0.99996901 -> 9999.69 -> 10000 */
        CHECK_INT(s[1].n_valid, 777000);
        CHECK_INT(s[1].n_seen, 777000);
        CHECK_INT(s[1].sum_q, 7770000000LL);
        CHECK_INT(s[1].sum_q2, 77700000000000LL);
        CHECK_INT(s[1].n_moist, b11 ? 777000 : 0);
        CHECK_INT(s[1].sum_m, b11 ? 7770000000LL : 0);
        free(s);
    }
    testdata_free(&t);
    return test_summary();
}
