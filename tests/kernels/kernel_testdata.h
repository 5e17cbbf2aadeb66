/* Test data for the kernel tests: owned buffers for a window, a random window
 * with spatially coherent labels, and the simple per-pixel reference. */
#ifndef MOWCHECK_KERNEL_TESTDATA_H
#define MOWCHECK_KERNEL_TESTDATA_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel_internal.h"
#include "test.h"

typedef struct testdata_window {
    kernel_window w;
    uint16_t *red, *nir;
    uint8_t *scl;
    uint32_t *labels;
    uint16_t *swir; /* B11 at 20 m, swir_stride = scl_stride + 1; w.swir is NULL until
                     * a test sets it to this (testdata_with_swir) */
} testdata_window;

/* Buffers for a width x height window whose rows are `pad` elements longer
 * than needed (so that a stride bug reads the wrong pixels); B11 is allocated
 * (rows one element longer again than SCL's) but not in the window. */
static inline void testdata_alloc(testdata_window *t, int width, int height, int pad)
{
    ptrdiff_t band_stride = width + pad, scl_stride = (width + 1) / 2 + pad;
    ptrdiff_t label_stride = width + 2 * pad;
    int scl_rows = (height + 1) / 2;
    t->red = calloc((size_t)band_stride * height + 1, sizeof *t->red);
    t->nir = calloc((size_t)band_stride * height + 1, sizeof *t->nir);
    t->scl = calloc((size_t)scl_stride * scl_rows + 1, 1);
    t->labels = calloc((size_t)label_stride * height + 1, sizeof *t->labels);
    t->swir = calloc((size_t)(scl_stride + 1) * scl_rows + 1, sizeof *t->swir);
    REQUIRE(t->red && t->nir && t->scl && t->labels && t->swir);
    t->w = (kernel_window){.width = width, .height = height, .red = t->red, .nir = t->nir,
                           .band_stride = band_stride, .scl = t->scl, .scl_stride = scl_stride,
                           .labels = t->labels, .label_stride = label_stride, .swir = NULL,
                           .swir_stride = scl_stride + 1};
}

/* The window of t with its B11. */
static inline kernel_window testdata_with_swir(const testdata_window *t)
{
    kernel_window w = t->w;
    w.swir = t->swir;
    return w;
}

static inline void testdata_free(testdata_window *t)
{
    free(t->red);
    free(t->nir);
    free(t->scl);
    free(t->labels);
    free(t->swir);
    memset(t, 0, sizeof *t);
}

static inline uint64_t testdata_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Random pixels: DNs over the whole uint16 range with extra weight on 0 and on
 * values near the offset, SCL 0-11 plus a few values >= 16, labels in runs of
 * 1-60 px (0, in range, above n_labels), every pixel of the padding random too;
 * B11 likewise (drawn last, so the other bands do not depend on it). */
static inline void testdata_random(testdata_window *t, int width, int height, uint32_t n_labels,
                            uint64_t seed)
{
    testdata_alloc(t, width, height, 3);
    uint64_t s = seed;
    size_t n_band = (size_t)t->w.band_stride * height;
    for (size_t i = 0; i < n_band; i++) {
        uint64_t r = testdata_rand(&s);
        unsigned kind = (unsigned)(r % 16);
        t->red[i] = kind == 0 ? 0 : kind < 4 ? (uint16_t)(900 + (r >> 8) % 250)
                                             : (uint16_t)(r >> 16);
        t->nir[i] = kind == 1 ? 0 : kind < 4 ? (uint16_t)(900 + (r >> 24) % 250)
                                             : (uint16_t)(r >> 32);
        if (kind >= 4 && kind < 12) { /* realistic reflectances */
            t->red[i] = (uint16_t)(1000 + (r >> 16) % 3000);
            t->nir[i] = (uint16_t)(1000 + (r >> 32) % 6000);
        }
    }
    size_t n_scl = (size_t)t->w.scl_stride * ((height + 1) / 2);
    for (size_t i = 0; i < n_scl; i++) {
        uint64_t r = testdata_rand(&s);
        t->scl[i] = r % 50 == 0 ? (uint8_t)(16 + (r >> 8) % 240) : (uint8_t)((r >> 8) % 12);
    }
    size_t n_lab = (size_t)t->w.label_stride * height;
    for (size_t i = 0; i < n_lab;) {
        uint64_t r = testdata_rand(&s);
        size_t run = 1 + (size_t)(r % 60);
        unsigned kind = (unsigned)((r >> 8) % 10);
        uint32_t label = kind < 3 ? 0 : kind == 3 ? n_labels + 1 + (uint32_t)((r >> 16) % 1000)
                                                  : 1 + (uint32_t)((r >> 16) % n_labels);
        if (kind == 4)
            label = 0xFFFFFFFFu; /* the largest label must not wrap to 0 */
        for (; run > 0 && i < n_lab; run--, i++)
            t->labels[i] = label;
    }
    size_t n_swir = (size_t)t->w.swir_stride * ((height + 1) / 2);
    for (size_t i = 0; i < n_swir; i++) {
        uint64_t r = testdata_rand(&s);
        unsigned kind = (unsigned)(r % 16);
        t->swir[i] = kind == 0   ? 0
                     : kind < 3  ? (uint16_t)(900 + (r >> 8) % 250)   /* near the offset */
                     : kind < 12 ? (uint16_t)(1200 + (r >> 16) % 4000) /* realistic */
                                 : (uint16_t)(r >> 32);
    }
}

/* The simple rule, pixel by pixel (kernel_internal.h), into stats. */
static inline void testdata_reference(const kernel_window *w, const kernel_params *p,
                               kernel_stats *stats, uint32_t n_labels)
{
    for (int y = 0; y < w->height; y++)
        kernel_accumulate_row(w, p, y, stats, n_labels);
}

static inline kernel_stats *testdata_stats(uint32_t n_labels)
{
    /* one entry more than the API needs: a sentinel that must stay 0 */
    kernel_stats *s = calloc((size_t)n_labels + 2, sizeof *s);
    REQUIRE(s != NULL);
    return s;
}

/* Index of the first differing label, or -1 when the n_labels + 2 entries are equal. */
static inline long testdata_first_difference(const kernel_stats *a, const kernel_stats *b,
                                      uint32_t n_labels)
{
    for (size_t i = 0; i < (size_t)n_labels + 2; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            return (long)i;
    return -1;
}

#endif
