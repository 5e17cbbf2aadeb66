/* Shared by the backends: the per-pixel rule, written once so that the CPU
 * and CUDA code cannot drift apart. */
#ifndef MOWCHECK_KERNEL_INTERNAL_H
#define MOWCHECK_KERNEL_INTERNAL_H

#include <math.h>

#include "kernel.h"

#ifdef __CUDACC__
#define KERNEL_HD __host__ __device__ static inline
#else
#define KERNEL_HD static inline
#endif

/* NDVI = (nir - red) / (nir + red) on reflectance (DN + offset) / 10000; the
 * 1/10000 cancels. Numerator and denominator are exact in float (|v| < 2^24);
 * the one division and one multiplication are IEEE-rounded on both backends
 * (no fast-math, no FMA contraction), and rintf rounds half to even. */
KERNEL_HD int32_t kernel_ndvi_q_inline(uint16_t red_dn, uint16_t nir_dn, int32_t offset)
{
    int32_t red = (int32_t)red_dn + offset;
    int32_t nir = (int32_t)nir_dn + offset;
    int32_t den = nir + red;
    if (den <= 0)
        return nir >= red ? KERNEL_NDVI_SCALE : -KERNEL_NDVI_SCALE;
    float ratio = (float)(nir - red) / (float)den;
    int32_t q = (int32_t)rintf(ratio * (float)KERNEL_NDVI_SCALE);
    if (q > KERNEL_NDVI_SCALE)
        q = KERNEL_NDVI_SCALE;
    if (q < -KERNEL_NDVI_SCALE)
        q = -KERNEL_NDVI_SCALE;
    return q;
}

/* A pixel is seen when the scene covers it (SCL != 0). It counts as clear when
 * both bands have data, the SCL class is in the mask, and the reflectances are positive (the offset can make dark pixels
 * negative; their NDVI would be meaningless). */
KERNEL_HD int kernel_pixel_seen(uint8_t scl) { return scl != 0; }

KERNEL_HD int kernel_pixel_clear(uint16_t red_dn, uint16_t nir_dn, uint8_t scl, int32_t offset,
                                 uint16_t scl_valid_mask)
{
    return red_dn != 0 && nir_dn != 0 && scl < 16 &&
           ((scl_valid_mask >> scl) & 1u) && (int32_t)red_dn + offset > 0 &&
           (int32_t)nir_dn + offset > 0;
}

/* A clear pixel also carries NDMI when its B11 (SWIR) has data and a positive
 * reflectance; its NDMI is kernel_ndvi_q_inline(swir, nir, offset). */
KERNEL_HD int kernel_pixel_moist(uint16_t swir_dn, int32_t offset)
{
    return swir_dn != 0 && (int32_t)swir_dn + offset > 0;
}

#ifndef __CUDACC__
/* The simple rule, one pixel at a time: the reference the backends are tested
 * against. */
static inline void kernel_accumulate_row(const kernel_window *w, const kernel_params *p, int y,
                                         kernel_stats *stats, uint32_t n_labels)
{
    const uint16_t *red = w->red + (ptrdiff_t)y * w->band_stride;
    const uint16_t *nir = w->nir + (ptrdiff_t)y * w->band_stride;
    const uint8_t *scl = w->scl + (ptrdiff_t)(y / 2) * w->scl_stride;
    const uint32_t *labels = w->labels + (ptrdiff_t)y * w->label_stride;
    const uint16_t *swir = w->swir ? w->swir + (ptrdiff_t)(y / 2) * w->swir_stride : NULL;
    for (int x = 0; x < w->width; x++) {
        uint32_t label = labels[x];
        if (label == 0 || label > n_labels)
            continue;
        uint8_t s = scl[x / 2];
        if (!kernel_pixel_seen(s))
            continue;
        kernel_stats *st = &stats[label];
        st->n_seen++;
        if (!kernel_pixel_clear(red[x], nir[x], s, p->reflectance_offset_dn, p->scl_valid_mask))
            continue;
        int64_t q = kernel_ndvi_q_inline(red[x], nir[x], p->reflectance_offset_dn);
        st->n_valid++;
        st->sum_q += q;
        st->sum_q2 += q * q;
        if (swir && kernel_pixel_moist(swir[x / 2], p->reflectance_offset_dn)) {
            st->n_moist++;
            st->sum_m += kernel_ndvi_q_inline(swir[x / 2], nir[x], p->reflectance_offset_dn);
        }
    }
}

#endif

#ifdef __cplusplus
extern "C" {
#endif
int kernel_set_error(int code, const char *fmt, ...);
int kernel_accumulate_cuda(const kernel_window *w, const kernel_params *p, kernel_stats *stats,
                           uint32_t n_labels);
/* For tests: 0 keeps the CPU backend to SSE4.1 even where AVX2 is there, 1 (the
 * default) lets it use AVX2; both must give the same statistics. */
void kernel_cpu_set_simd(int allow_avx2);

/* For tests: rows per strip the CUDA backend copies at a time (even; 0: its own
 * choice, about 64 MiB of input), so that small windows can cross strips. */
void kernel_cuda_set_strip_rows(int rows);
#ifdef __cplusplus
}
#endif

#endif
