/* CPU backend: OpenMP over rows, one private accumulator array per thread,
 * merged once at the end (no locks in the pixel loop).
 *
 * Each row is processed in chunks of KERNEL_CHUNK_PX pixels, in two passes:
 *  1. per pixel, one packed 64-bit word (see below) holding q^2, q, and the
 *     clear and seen flags, computed 8 pixels at a time with SSE4.1, or AVX2
 *     where the CPU has it (chosen at run time; the same IEEE division,
 *     multiplication and round-half-even as kernel_ndvi_q_inline, so results are
 *     bit-identical to it); groups of 8 pixels that hold no parcel are skipped;
 *  2. 8 labels at a time: the words of the pixels that continue the current run
 *     are summed with SIMD masks into a register (parcels are spatially
 *     coherent: runs are long); only where the label changes is the run
 *     unpacked and added into stats[label]. No per-pixel branch.
 * Where the window has B11 (w->swir), pass 1 also writes a second, 32-bit word
 * per pixel for NDMI (below; computed only in groups with a clear pixel), and
 * pass 2 sums those words with the same label masks into a second accumulator
 * of the same run, flushed into n_moist and sum_m. Without B11 neither is done
 * (KERNEL_RUN_NDVI: that code is left out at compile time).
 * Measured with mowcheck-bench-kernel (scripts/bench-kernel). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE4_1__
#include <immintrin.h>
#endif

#include "kernel.h"
#include "kernel_internal.h"

/* Packed per-pixel word; a sum of up to KERNEL_SEGMENT_PX words cannot carry
 * from one field into the next:
 *   bits  0..31  q^2                  <= 1e8 per pixel,  32 px: 3.2e9  < 2^32
 *   bits 32..51  q + 10000 if clear   <= 20000,          32 px: 640000 < 2^20
 *   bits 52..57  clear (n_valid)      1,                 32 px: 32     < 2^6
 *   bits 58..63  seen (n_seen)        1,                 32 px: 32     < 2^6  */
#define KERNEL_SEGMENT_PX 32
#define KERNEL_PACK_Q_SHIFT 32
#define KERNEL_PACK_CLEAR_SHIFT 52
#define KERNEL_PACK_SEEN_SHIFT 58

/* Packed NDMI word (32 bits), same bound on the sum:
 *   bits  0..19  m + 10000 if moist   <= 20000,          32 px: 640000 < 2^20
 *   bits 20..25  moist (n_moist)      1,                 32 px: 32     < 2^6  */
#define KERNEL_PACK_MOIST_SHIFT 20

/* Pixels per chunk: even (SCL pairs) and a multiple of 8 (SIMD groups) and of
 * KERNEL_SEGMENT_PX. */
#define KERNEL_CHUNK_PX 512

/* The current run of equal labels, carried across chunks and rows. */
typedef struct kernel_run {
    uint32_t label;
    int64_t n_valid, n_seen, sum_q, sum_q2;
    int64_t n_moist, sum_m; /* KERNEL_RUN_NDVI_NDMI only */
} kernel_run;

typedef struct kernel_chunk {
    uint64_t v[KERNEL_CHUNK_PX];
} kernel_chunk;

typedef struct kernel_chunk_m {
    uint32_t v[KERNEL_CHUNK_PX];
} kernel_chunk_m;

/* What pass 2 sums: NDVI words only (no B11), or NDVI and NDMI words. Always a
 * constant where passed, so that each case is compiled on its own. */
enum { KERNEL_RUN_NDVI = 0, KERNEL_RUN_NDVI_NDMI = 1 };

int32_t kernel_ndvi_q(uint16_t red_dn, uint16_t nir_dn, int32_t offset)
{
    return kernel_ndvi_q_inline(red_dn, nir_dn, offset);
}

static inline uint64_t kernel_pack(int32_t q, int clear, int seen)
{
    if (!clear)
        return (uint64_t)(seen != 0) << KERNEL_PACK_SEEN_SHIFT;
    return (uint64_t)(uint32_t)(q * q) |
           (uint64_t)(uint32_t)(q + KERNEL_NDVI_SCALE) << KERNEL_PACK_Q_SHIFT |
           (uint64_t)1 << KERNEL_PACK_CLEAR_SHIFT | (uint64_t)(seen != 0) << KERNEL_PACK_SEEN_SHIFT;
}

/* Adds a sum of at most KERNEL_SEGMENT_PX packed words to the run. */
static inline void kernel_run_add_packed(kernel_run *r, uint64_t acc)
{
    int64_t n_clear = (int64_t)((acc >> KERNEL_PACK_CLEAR_SHIFT) & 63u);
    r->sum_q2 += (int64_t)(acc & 0xFFFFFFFFu);
    r->sum_q += (int64_t)((acc >> KERNEL_PACK_Q_SHIFT) & 0xFFFFFu) - KERNEL_NDVI_SCALE * n_clear;
    r->n_valid += n_clear;
    r->n_seen += (int64_t)(acc >> KERNEL_PACK_SEEN_SHIFT);
}

/* The same for a sum of at most KERNEL_SEGMENT_PX NDMI words. */
static inline void kernel_run_add_moist(kernel_run *r, uint32_t acc_m)
{
    int64_t n_moist = (int64_t)(acc_m >> KERNEL_PACK_MOIST_SHIFT);
    r->sum_m += (int64_t)(acc_m & 0xFFFFFu) - KERNEL_NDVI_SCALE * n_moist;
    r->n_moist += n_moist;
}

static inline uint64_t kernel_pixel_scalar(uint16_t red, uint16_t nir, uint8_t scl,
                                           const kernel_params *p)
{
    /* As in kernel_accumulate_row: a pixel that is not seen is not clear either. */
    int seen = kernel_pixel_seen(scl);
    int clear = seen && kernel_pixel_clear(red, nir, scl, p->reflectance_offset_dn,
                                           p->scl_valid_mask);
    int32_t q = clear ? kernel_ndvi_q_inline(red, nir, p->reflectance_offset_dn) : 0;
    return kernel_pack(q, clear, seen);
}

/* The NDMI word of a pixel whose NDVI word is `ndvi_word`: moist where it is
 * clear and SWIR has data and a positive reflectance. */
static inline uint32_t kernel_pixel_moist_scalar(uint64_t ndvi_word, uint16_t swir, uint16_t nir,
                                                 const kernel_params *p)
{
    if (!((ndvi_word >> KERNEL_PACK_CLEAR_SHIFT) & 1u) ||
        !kernel_pixel_moist(swir, p->reflectance_offset_dn))
        return 0;
    int32_t m = kernel_ndvi_q_inline(swir, nir, p->reflectance_offset_dn);
    return (uint32_t)(m + KERNEL_NDVI_SCALE) | (uint32_t)1 << KERNEL_PACK_MOIST_SHIFT;
}

#ifdef __SSE4_1__
/* Constants of the SIMD pass, set up once per window. */
typedef struct kernel_simd {
    __m128i offset, scl_lut, ones16, one32, scale_max, clear_bits, seen_bits, moist_bits;
    __m128 scale;
} kernel_simd;

static void kernel_simd_init(kernel_simd *k, const kernel_params *p)
{
    uint8_t lut[16];
    for (int c = 0; c < 16; c++)
        lut[c] = ((p->scl_valid_mask >> c) & 1u) ? 0xFF : 0;
    k->scl_lut = _mm_loadu_si128((const __m128i *)lut);
    k->offset = _mm_set1_epi32(p->reflectance_offset_dn);
    k->ones16 = _mm_set1_epi16(-1);
    k->one32 = _mm_set1_epi32(1);
    k->scale_max = _mm_set1_epi32(KERNEL_NDVI_SCALE);
    /* the high 32 bits of the packed word */
    k->clear_bits = _mm_set1_epi32(1 << (KERNEL_PACK_CLEAR_SHIFT - 32));
    k->seen_bits = _mm_set1_epi32(1 << (KERNEL_PACK_SEEN_SHIFT - 32));
    k->moist_bits = _mm_set1_epi32(1 << KERNEL_PACK_MOIST_SHIFT);
    k->scale = _mm_set1_ps((float)KERNEL_NDVI_SCALE);
}

/* Four pixels in 32-bit lanes: red/nir DN already widened, masks all-ones/zero;
 * class_ok: SCL class in the mask and both bands have data. Writes 4 packed words
 * and returns the clear mask. */
static inline __m128i kernel_simd_quad(const kernel_simd *k, __m128i red, __m128i nir,
                                    __m128i seen, __m128i class_ok, uint64_t *out)
{
    __m128i zero = _mm_setzero_si128();
    red = _mm_add_epi32(red, k->offset);
    nir = _mm_add_epi32(nir, k->offset);
    __m128i positive = _mm_and_si128(_mm_cmpgt_epi32(red, zero), _mm_cmpgt_epi32(nir, zero));
    __m128i clear = _mm_and_si128(_mm_and_si128(seen, class_ok), positive);
    /* Lanes that are not clear divide 0 by 1 so no lane sees a zero or negative
     * denominator; their result is masked out below. */
    __m128i num = _mm_and_si128(_mm_sub_epi32(nir, red), clear);
    __m128i den = _mm_blendv_epi8(k->one32, _mm_add_epi32(nir, red), clear);
    __m128 ratio = _mm_div_ps(_mm_cvtepi32_ps(num), _mm_cvtepi32_ps(den));
    /* cvtps rounds in the current mode (nearest-even), exactly as rintf does.
     * No clamp needed: in a clear lane both reflectances are positive, so
     * |nir - red| < nir + red, |ratio| <= 1 after rounding, |q| <= 10000. */
    __m128i q = _mm_cvtps_epi32(_mm_mul_ps(ratio, k->scale));
    __m128i lo = _mm_and_si128(_mm_mullo_epi32(q, q), clear);
    __m128i hi = _mm_and_si128(_mm_or_si128(_mm_add_epi32(q, k->scale_max), k->clear_bits), clear);
    hi = _mm_or_si128(hi, _mm_and_si128(seen, k->seen_bits));
    _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi32(lo, hi));
    _mm_storeu_si128((__m128i *)(out + 2), _mm_unpackhi_epi32(lo, hi));
    return clear;
}

/* Eight pixels starting at an even column; scl4 holds their 4 SCL pixels.
 * Loads the bands and gives 16-bit lane masks: seen (SCL != 0) and class_ok
 * (SCL class in the mask and both bands have data). */
static inline void kernel_simd_load8(const kernel_simd *k, const uint16_t *red,
                                     const uint16_t *nir, const uint8_t *scl4, __m128i *r16,
                                     __m128i *n16, __m128i *seen16, __m128i *ok16)
{
    __m128i zero = _mm_setzero_si128();
    *r16 = _mm_loadu_si128((const __m128i *)red);
    *n16 = _mm_loadu_si128((const __m128i *)nir);
    uint32_t s4;
    memcpy(&s4, scl4, sizeof s4);
    __m128i s8 = _mm_cvtsi32_si128((int)s4);
    s8 = _mm_unpacklo_epi8(s8, s8); /* 20 m -> 10 m: each SCL byte twice */
    __m128i s_zero = _mm_cmpeq_epi8(s8, zero);
    __m128i s_below16 = _mm_cmpeq_epi8(_mm_and_si128(s8, _mm_set1_epi8((char)0xF0)), zero);
    __m128i s_ok = _mm_and_si128(_mm_shuffle_epi8(k->scl_lut, s8), s_below16);
    __m128i no_data = _mm_or_si128(_mm_cmpeq_epi16(*r16, zero), _mm_cmpeq_epi16(*n16, zero));
    *seen16 = _mm_xor_si128(_mm_unpacklo_epi8(s_zero, s_zero), k->ones16);
    *ok16 = _mm_andnot_si128(no_data, _mm_unpacklo_epi8(s_ok, s_ok));
}

static inline void kernel_simd_group8(const kernel_simd *k, const uint16_t *red,
                                      const uint16_t *nir, const uint8_t *scl4, uint64_t *out)
{
    __m128i zero = _mm_setzero_si128(), r16, n16, seen16, ok16;
    kernel_simd_load8(k, red, nir, scl4, &r16, &n16, &seen16, &ok16);
    kernel_simd_quad(k, _mm_cvtepu16_epi32(r16), _mm_cvtepu16_epi32(n16),
                     _mm_cvtepi16_epi32(seen16), _mm_cvtepi16_epi32(ok16), out);
    kernel_simd_quad(k, _mm_unpackhi_epi16(r16, zero), _mm_unpackhi_epi16(n16, zero),
                     _mm_cvtepi16_epi32(_mm_unpackhi_epi64(seen16, seen16)),
                     _mm_cvtepi16_epi32(_mm_unpackhi_epi64(ok16, ok16)), out + 4);
}

/* The 4 SWIR pixels (20 m) of 8 pixels starting at an even column, each twice;
 * *has_data16: 16-bit lane mask, SWIR DN != 0. */
static inline __m128i kernel_simd_swir8(const kernel_simd *k, const uint16_t *swir4,
                                        __m128i *has_data16)
{
    __m128i s4 = _mm_loadl_epi64((const __m128i *)swir4);
    __m128i s16 = _mm_unpacklo_epi16(s4, s4);
    *has_data16 = _mm_xor_si128(_mm_cmpeq_epi16(s16, _mm_setzero_si128()), k->ones16);
    return s16;
}

/* Four NDMI words: swir/nir DN widened to 32-bit lanes, clear: the NDVI clear
 * mask, has_data: SWIR DN != 0. The operations of kernel_simd_quad with red
 * replaced by SWIR (so the same NDMI as kernel_ndvi_q_inline, and no clamp
 * needed: both reflectances are positive in a moist lane). */
static inline void kernel_simd_moist4(const kernel_simd *k, __m128i swir, __m128i nir,
                                      __m128i clear, __m128i has_data, uint32_t *out)
{
    swir = _mm_add_epi32(swir, k->offset);
    nir = _mm_add_epi32(nir, k->offset);
    __m128i moist = _mm_and_si128(_mm_and_si128(clear, has_data),
                                  _mm_cmpgt_epi32(swir, _mm_setzero_si128()));
    __m128i num = _mm_and_si128(_mm_sub_epi32(nir, swir), moist);
    __m128i den = _mm_blendv_epi8(k->one32, _mm_add_epi32(nir, swir), moist);
    __m128 ratio = _mm_div_ps(_mm_cvtepi32_ps(num), _mm_cvtepi32_ps(den));
    __m128i m = _mm_cvtps_epi32(_mm_mul_ps(ratio, k->scale));
    __m128i word = _mm_or_si128(_mm_add_epi32(m, k->scale_max), k->moist_bits);
    _mm_storeu_si128((__m128i *)out, _mm_and_si128(word, moist));
}

/* kernel_simd_group8 plus the 8 NDMI words (out_m), from the clear masks of the
 * NDVI words; a group with no clear pixel has no NDMI to compute. */
static inline void kernel_simd_group8_swir(const kernel_simd *k, const uint16_t *red,
                                           const uint16_t *nir, const uint8_t *scl4,
                                           const uint16_t *swir4, uint64_t *out, uint32_t *out_m)
{
    __m128i zero = _mm_setzero_si128(), r16, n16, seen16, ok16, sok16;
    kernel_simd_load8(k, red, nir, scl4, &r16, &n16, &seen16, &ok16);
    __m128i n_lo = _mm_cvtepu16_epi32(n16), n_hi = _mm_unpackhi_epi16(n16, zero);
    __m128i c_lo = kernel_simd_quad(k, _mm_cvtepu16_epi32(r16), n_lo, _mm_cvtepi16_epi32(seen16),
                                    _mm_cvtepi16_epi32(ok16), out);
    __m128i c_hi = kernel_simd_quad(k, _mm_unpackhi_epi16(r16, zero), n_hi,
                                    _mm_cvtepi16_epi32(_mm_unpackhi_epi64(seen16, seen16)),
                                    _mm_cvtepi16_epi32(_mm_unpackhi_epi64(ok16, ok16)), out + 4);
    __m128i any = _mm_or_si128(c_lo, c_hi);
    if (_mm_testz_si128(any, any)) {
        _mm_storeu_si128((__m128i *)out_m, zero);
        _mm_storeu_si128((__m128i *)(out_m + 4), zero);
        return;
    }
    __m128i s16 = kernel_simd_swir8(k, swir4, &sok16);
    kernel_simd_moist4(k, _mm_cvtepu16_epi32(s16), n_lo, c_lo, _mm_cvtepi16_epi32(sok16), out_m);
    kernel_simd_moist4(k, _mm_unpackhi_epi16(s16, zero), n_hi, c_hi,
                       _mm_cvtepi16_epi32(_mm_unpackhi_epi64(sok16, sok16)), out_m + 4);
}

#define KERNEL_AVX2 __attribute__((target("avx2")))

/* kernel_simd_quad for eight pixels in one 256-bit pass (AVX2, chosen at run
 * time): DN widened to 32-bit lanes, masks in 32-bit lanes; the same operations
 * lane by lane, so the same words. Returns the clear mask. */
KERNEL_AVX2 static inline __m256i kernel_avx2_oct(const kernel_simd *k, __m256i red_dn,
                                                  __m256i nir_dn, __m256i seen, __m256i class_ok,
                                                  uint64_t *out)
{
    __m256i zero = _mm256_setzero_si256();
    __m256i offset = _mm256_broadcastsi128_si256(k->offset);
    __m256i rd = _mm256_add_epi32(red_dn, offset);
    __m256i nr = _mm256_add_epi32(nir_dn, offset);
    __m256i positive = _mm256_and_si256(_mm256_cmpgt_epi32(rd, zero), _mm256_cmpgt_epi32(nr, zero));
    __m256i clear = _mm256_and_si256(_mm256_and_si256(seen, class_ok), positive);
    __m256i num = _mm256_and_si256(_mm256_sub_epi32(nr, rd), clear);
    __m256i den = _mm256_blendv_epi8(_mm256_broadcastsi128_si256(k->one32),
                                     _mm256_add_epi32(nr, rd), clear);
    __m256 ratio = _mm256_div_ps(_mm256_cvtepi32_ps(num), _mm256_cvtepi32_ps(den));
    __m256i q = _mm256_cvtps_epi32(
        _mm256_mul_ps(ratio, _mm256_broadcast_ps((const __m128 *)&k->scale)));
    __m256i lo = _mm256_and_si256(_mm256_mullo_epi32(q, q), clear);
    __m256i hi = _mm256_and_si256(
        _mm256_or_si256(_mm256_add_epi32(q, _mm256_broadcastsi128_si256(k->scale_max)),
                        _mm256_broadcastsi128_si256(k->clear_bits)),
        clear);
    hi = _mm256_or_si256(hi, _mm256_and_si256(seen, _mm256_broadcastsi128_si256(k->seen_bits)));
    __m256i a = _mm256_unpacklo_epi32(lo, hi); /* pixels 0 1 | 4 5 */
    __m256i b = _mm256_unpackhi_epi32(lo, hi); /* pixels 2 3 | 6 7 */
    _mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(a, b, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 4), _mm256_permute2x128_si256(a, b, 0x31));
    return clear;
}

/* The eight pixels of kernel_simd_group8 in one AVX2 pass. */
KERNEL_AVX2 static inline void kernel_avx2_group8(const kernel_simd *k, const uint16_t *red,
                                                  const uint16_t *nir, const uint8_t *scl4,
                                                  uint64_t *out)
{
    __m128i r16, n16, seen16, ok16;
    kernel_simd_load8(k, red, nir, scl4, &r16, &n16, &seen16, &ok16);
    kernel_avx2_oct(k, _mm256_cvtepu16_epi32(r16), _mm256_cvtepu16_epi32(n16),
                    _mm256_cvtepi16_epi32(seen16), _mm256_cvtepi16_epi32(ok16), out);
}

/* kernel_simd_moist4 for eight pixels in one AVX2 pass. */
KERNEL_AVX2 static inline void kernel_avx2_moist8(const kernel_simd *k, __m256i swir_dn,
                                                  __m256i nir_dn, __m256i clear,
                                                  __m256i has_data, uint32_t *out)
{
    __m256i offset = _mm256_broadcastsi128_si256(k->offset);
    __m256i sw = _mm256_add_epi32(swir_dn, offset);
    __m256i nr = _mm256_add_epi32(nir_dn, offset);
    __m256i moist = _mm256_and_si256(_mm256_and_si256(clear, has_data),
                                     _mm256_cmpgt_epi32(sw, _mm256_setzero_si256()));
    __m256i num = _mm256_and_si256(_mm256_sub_epi32(nr, sw), moist);
    __m256i den = _mm256_blendv_epi8(_mm256_broadcastsi128_si256(k->one32),
                                     _mm256_add_epi32(nr, sw), moist);
    __m256 ratio = _mm256_div_ps(_mm256_cvtepi32_ps(num), _mm256_cvtepi32_ps(den));
    __m256i m = _mm256_cvtps_epi32(
        _mm256_mul_ps(ratio, _mm256_broadcast_ps((const __m128 *)&k->scale)));
    __m256i word = _mm256_or_si256(_mm256_add_epi32(m, _mm256_broadcastsi128_si256(k->scale_max)),
                                   _mm256_broadcastsi128_si256(k->moist_bits));
    _mm256_storeu_si256((__m256i *)out, _mm256_and_si256(word, moist));
}

/* kernel_simd_group8_swir in AVX2. */
KERNEL_AVX2 static inline void kernel_avx2_group8_swir(const kernel_simd *k, const uint16_t *red,
                                                       const uint16_t *nir, const uint8_t *scl4,
                                                       const uint16_t *swir4, uint64_t *out,
                                                       uint32_t *out_m)
{
    __m128i r16, n16, seen16, ok16, sok16;
    kernel_simd_load8(k, red, nir, scl4, &r16, &n16, &seen16, &ok16);
    __m256i nr = _mm256_cvtepu16_epi32(n16);
    __m256i clear = kernel_avx2_oct(k, _mm256_cvtepu16_epi32(r16), nr,
                                    _mm256_cvtepi16_epi32(seen16), _mm256_cvtepi16_epi32(ok16), out);
    if (_mm256_testz_si256(clear, clear)) {
        _mm256_storeu_si256((__m256i *)out_m, _mm256_setzero_si256());
        return;
    }
    __m128i s16 = kernel_simd_swir8(k, swir4, &sok16);
    kernel_avx2_moist8(k, _mm256_cvtepu16_epi32(s16), nr, clear, _mm256_cvtepi16_epi32(sok16),
                       out_m);
}

static inline int kernel_labels_zero8(const uint32_t *labels)
{
    __m128i a = _mm_loadu_si128((const __m128i *)labels);
    __m128i b = _mm_loadu_si128((const __m128i *)(labels + 4));
    __m128i any = _mm_or_si128(a, b);
    return _mm_testz_si128(any, any);
}

#endif

/* Pass 1 over pixels [x0, x0 + n) of one row; x0 is even. GROUP8 computes the
 * words of 8 pixels; groups without any parcel are skipped, the tail is scalar. */
#define KERNEL_CHUNK_COMPUTE_BODY(GROUP8)                                           \
    int i = 0;                                                                    \
    for (; i + 8 <= n; i += 8) {                                                  \
        int x = x0 + i;                                                           \
        if (kernel_labels_zero8(labels + x)) {                                    \
            /* pass 2 adds these words to no label; keep them defined */          \
            memset(c->v + i, 0, 8 * sizeof c->v[0]);                              \
            continue;                                                             \
        }                                                                         \
        GROUP8(k, red + x, nir + x, scl + x / 2, c->v + i);                       \
    }                                                                             \
    for (; i < n; i++) {                                                          \
        int x = x0 + i;                                                           \
        c->v[i] = kernel_pixel_scalar(red[x], nir[x], scl[x / 2], p);             \
    }

/* The same with B11: also the NDMI words into m. */
#define KERNEL_CHUNK_COMPUTE_SWIR_BODY(GROUP8)                                      \
    int i = 0;                                                                    \
    for (; i + 8 <= n; i += 8) {                                                  \
        int x = x0 + i;                                                           \
        if (kernel_labels_zero8(labels + x)) {                                    \
            memset(c->v + i, 0, 8 * sizeof c->v[0]);                              \
            memset(m->v + i, 0, 8 * sizeof m->v[0]);                              \
            continue;                                                             \
        }                                                                         \
        GROUP8(k, red + x, nir + x, scl + x / 2, swir + x / 2, c->v + i, m->v + i); \
    }                                                                             \
    for (; i < n; i++) {                                                          \
        int x = x0 + i;                                                           \
        c->v[i] = kernel_pixel_scalar(red[x], nir[x], scl[x / 2], p);             \
        m->v[i] = kernel_pixel_moist_scalar(c->v[i], swir[x / 2], nir[x], p);     \
    }

typedef void (*kernel_chunk_fn)(const uint16_t *red, const uint16_t *nir, const uint8_t *scl,
                                const uint32_t *labels, int x0, int n, const kernel_params *p,
                                const void *simd, kernel_chunk *c);
typedef void (*kernel_chunk_swir_fn)(const uint16_t *red, const uint16_t *nir, const uint8_t *scl,
                                     const uint16_t *swir, const uint32_t *labels, int x0, int n,
                                     const kernel_params *p, const void *simd, kernel_chunk *c,
                                     kernel_chunk_m *m);

#ifdef __SSE4_1__
static void kernel_chunk_compute_sse(const uint16_t *red, const uint16_t *nir, const uint8_t *scl,
                                     const uint32_t *labels, int x0, int n,
                                     const kernel_params *p, const void *simd, kernel_chunk *c)
{
    const kernel_simd *k = simd;
    KERNEL_CHUNK_COMPUTE_BODY(kernel_simd_group8)
}

KERNEL_AVX2 static void kernel_chunk_compute_avx2(const uint16_t *red, const uint16_t *nir,
                                                  const uint8_t *scl, const uint32_t *labels,
                                                  int x0, int n, const kernel_params *p,
                                                  const void *simd, kernel_chunk *c)
{
    const kernel_simd *k = simd;
    KERNEL_CHUNK_COMPUTE_BODY(kernel_avx2_group8)
}

static void kernel_chunk_compute_swir_sse(const uint16_t *red, const uint16_t *nir,
                                          const uint8_t *scl, const uint16_t *swir,
                                          const uint32_t *labels, int x0, int n,
                                          const kernel_params *p, const void *simd,
                                          kernel_chunk *c, kernel_chunk_m *m)
{
    const kernel_simd *k = simd;
    KERNEL_CHUNK_COMPUTE_SWIR_BODY(kernel_simd_group8_swir)
}

KERNEL_AVX2 static void kernel_chunk_compute_swir_avx2(const uint16_t *red, const uint16_t *nir,
                                                       const uint8_t *scl, const uint16_t *swir,
                                                       const uint32_t *labels, int x0, int n,
                                                       const kernel_params *p, const void *simd,
                                                       kernel_chunk *c, kernel_chunk_m *m)
{
    const kernel_simd *k = simd;
    KERNEL_CHUNK_COMPUTE_SWIR_BODY(kernel_avx2_group8_swir)
}

/* -1: AVX2 where the CPU has it; 0: SSE4.1 only (tests compare the two). */
static int kernel_cpu_simd_choice = -1;

void kernel_cpu_set_simd(int allow_avx2) { kernel_cpu_simd_choice = allow_avx2 ? -1 : 0; }

static kernel_chunk_fn kernel_chunk_compute_pick(void)
{
    if (kernel_cpu_simd_choice != 0 && __builtin_cpu_supports("avx2"))
        return kernel_chunk_compute_avx2;
    return kernel_chunk_compute_sse;
}

static kernel_chunk_swir_fn kernel_chunk_compute_swir_pick(void)
{
    if (kernel_cpu_simd_choice != 0 && __builtin_cpu_supports("avx2"))
        return kernel_chunk_compute_swir_avx2;
    return kernel_chunk_compute_swir_sse;
}
#else
static void kernel_chunk_compute_scalar(const uint16_t *red, const uint16_t *nir,
                                        const uint8_t *scl, const uint32_t *labels, int x0, int n,
                                        const kernel_params *p, const void *simd, kernel_chunk *c)
{
    (void)labels;
    (void)simd;
    for (int i = 0; i < n; i++) {
        int x = x0 + i;
        c->v[i] = kernel_pixel_scalar(red[x], nir[x], scl[x / 2], p);
    }
}

static void kernel_chunk_compute_swir_scalar(const uint16_t *red, const uint16_t *nir,
                                             const uint8_t *scl, const uint16_t *swir,
                                             const uint32_t *labels, int x0, int n,
                                             const kernel_params *p, const void *simd,
                                             kernel_chunk *c, kernel_chunk_m *m)
{
    (void)labels;
    (void)simd;
    for (int i = 0; i < n; i++) {
        int x = x0 + i;
        c->v[i] = kernel_pixel_scalar(red[x], nir[x], scl[x / 2], p);
        m->v[i] = kernel_pixel_moist_scalar(c->v[i], swir[x / 2], nir[x], p);
    }
}

void kernel_cpu_set_simd(int allow_avx2) { (void)allow_avx2; }

static kernel_chunk_fn kernel_chunk_compute_pick(void) { return kernel_chunk_compute_scalar; }

static kernel_chunk_swir_fn kernel_chunk_compute_swir_pick(void)
{
    return kernel_chunk_compute_swir_scalar;
}
#endif

/* Adds the packed sums acc (NDVI) and, for KERNEL_RUN_NDVI_NDMI, acc_m (NDMI)
 * to the run, then the run to its label and starts a new run of `label`. */
static inline void kernel_run_next(kernel_run *r, uint64_t acc, uint32_t acc_m,
                                   kernel_stats *stats, uint32_t n_labels, int kind,
                                   uint32_t label)
{
    kernel_run_add_packed(r, acc);
    if (kind == KERNEL_RUN_NDVI_NDMI)
        kernel_run_add_moist(r, acc_m);
    /* Label 0 (no parcel) and labels above n_labels are never written; the
     * unsigned subtraction folds both tests into one. */
    if (r->label - 1u < n_labels) {
        kernel_stats *st = &stats[r->label];
        st->n_valid += r->n_valid;
        st->n_seen += r->n_seen;
        st->sum_q += r->sum_q;
        st->sum_q2 += r->sum_q2;
        if (kind == KERNEL_RUN_NDVI_NDMI) {
            st->n_moist += r->n_moist;
            st->sum_m += r->sum_m;
        }
    }
    r->n_valid = r->n_seen = r->sum_q = r->sum_q2 = 0;
    if (kind == KERNEL_RUN_NDVI_NDMI)
        r->n_moist = r->sum_m = 0;
    r->label = label;
}

/* Scalar pass 2 over words [i0, i1) (and NDMI words vm, for KERNEL_RUN_NDVI_NDMI):
 * add while the label holds, flush on change. */
static inline void kernel_words_accumulate(const uint32_t *labels, const uint64_t *v,
                                           const uint32_t *vm, int i0, int i1, kernel_run *r,
                                           uint64_t *acc, uint32_t *acc_m, kernel_stats *stats,
                                           uint32_t n_labels, int kind)
{
    for (int i = i0; i < i1; i++) {
        if (labels[i] != r->label) {
            kernel_run_next(r, *acc, *acc_m, stats, n_labels, kind, labels[i]);
            *acc = *acc_m = 0;
        }
        *acc += v[i];
        if (kind == KERNEL_RUN_NDVI_NDMI)
            *acc_m += vm[i];
    }
}

#ifdef __SSE4_1__
/* Sum of the words of 8 pixels whose 32-bit lane masks are ma (pixels 0-3) and mb (4-7). */
static inline uint64_t kernel_sum8_masked(const uint64_t *v, __m128i ma, __m128i mb)
{
    __m128i s0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)v), _mm_cvtepi32_epi64(ma));
    __m128i s1 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(v + 2)),
                               _mm_cvtepi32_epi64(_mm_srli_si128(ma, 8)));
    __m128i s2 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(v + 4)), _mm_cvtepi32_epi64(mb));
    __m128i s3 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(v + 6)),
                               _mm_cvtepi32_epi64(_mm_srli_si128(mb, 8)));
    __m128i s = _mm_add_epi64(_mm_add_epi64(s0, s1), _mm_add_epi64(s2, s3));
    return (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
}

/* The same for 8 NDMI words: the lane masks are already 32-bit. */
static inline uint32_t kernel_sum8_masked32(const uint32_t *v, __m128i ma, __m128i mb)
{
    __m128i s = _mm_add_epi32(_mm_and_si128(_mm_loadu_si128((const __m128i *)v), ma),
                              _mm_and_si128(_mm_loadu_si128((const __m128i *)(v + 4)), mb));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

/* Pass 2 for 8 pixels: the pixels of the current run are summed first, then
 * each other label of the group in turn becomes the run (sums do not depend on
 * the order, so a label that appears twice in the group is summed at once).
 * No per-pixel branch; the loop runs once per label change. */
static inline void kernel_group8_accumulate(const uint32_t *labels, const uint64_t *v,
                                            const uint32_t *vm, kernel_run *r, uint64_t *acc,
                                            uint32_t *acc_m, kernel_stats *stats,
                                            uint32_t n_labels, int kind)
{
    __m128i la = _mm_loadu_si128((const __m128i *)labels);
    __m128i lb = _mm_loadu_si128((const __m128i *)(labels + 4));
    __m128i cur = _mm_set1_epi32((int)r->label);
    __m128i ea = _mm_cmpeq_epi32(la, cur), eb = _mm_cmpeq_epi32(lb, cur);
    unsigned in_run = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(ea)) |
                      (unsigned)_mm_movemask_ps(_mm_castsi128_ps(eb)) << 4;
    *acc += kernel_sum8_masked(v, ea, eb);
    if (kind == KERNEL_RUN_NDVI_NDMI)
        *acc_m += kernel_sum8_masked32(vm, ea, eb);
    for (unsigned left = ~in_run & 0xFFu; left;) {
        uint32_t label = labels[__builtin_ctz(left)];
        kernel_run_next(r, *acc, *acc_m, stats, n_labels, kind, label);
        cur = _mm_set1_epi32((int)label);
        ea = _mm_cmpeq_epi32(la, cur);
        eb = _mm_cmpeq_epi32(lb, cur);
        left &= ~((unsigned)_mm_movemask_ps(_mm_castsi128_ps(ea)) |
                  (unsigned)_mm_movemask_ps(_mm_castsi128_ps(eb)) << 4);
        *acc = kernel_sum8_masked(v, ea, eb);
        if (kind == KERNEL_RUN_NDVI_NDMI)
            *acc_m = kernel_sum8_masked32(vm, ea, eb);
    }
}
#endif

/* Pass 2: walk the labels of the chunk, adding packed words while the label
 * holds and flushing the run when it changes; the packed sum is unpacked every
 * KERNEL_SEGMENT_PX pixels at most, before any field could carry. For
 * KERNEL_RUN_NDVI_NDMI the NDMI words m alike, with the same label masks.
 * Inlined at its two callers so that `kind` is a constant in each. */
__attribute__((always_inline)) static inline void
kernel_chunk_accumulate(const uint32_t *labels, int n, const kernel_chunk *c,
                        const kernel_chunk_m *m, kernel_run *r, kernel_stats *stats,
                        uint32_t n_labels, int kind)
{
    const uint32_t *vm = kind == KERNEL_RUN_NDVI_NDMI ? m->v : NULL;
    for (int s = 0; s < n; s += KERNEL_SEGMENT_PX) {
        int end = s + KERNEL_SEGMENT_PX < n ? s + KERNEL_SEGMENT_PX : n;
        uint64_t acc = 0;
        uint32_t acc_m = 0;
        int i = s;
#ifdef __SSE4_1__
        for (; i + 8 <= end; i += 8)
            kernel_group8_accumulate(labels + i, c->v + i, vm ? vm + i : NULL, r, &acc, &acc_m,
                                     stats, n_labels, kind);
#endif
        kernel_words_accumulate(labels, c->v, vm, i, end, r, &acc, &acc_m, stats, n_labels,
                                kind);
        kernel_run_add_packed(r, acc);
        if (kind == KERNEL_RUN_NDVI_NDMI)
            kernel_run_add_moist(r, acc_m);
    }
}

/* Rows [y0, y1) of a window with B11: NDVI and NDMI words, one run. */
static void kernel_accumulate_rows_swir(const kernel_window *w, const kernel_params *p, int y0,
                                        int y1, kernel_stats *stats, uint32_t n_labels,
                                        const void *simd)
{
    kernel_chunk_swir_fn compute = kernel_chunk_compute_swir_pick();
    kernel_chunk chunk;
    kernel_chunk_m moist;
    kernel_run run = {0};
    for (int y = y0; y < y1; y++) {
        const uint16_t *red = w->red + (ptrdiff_t)y * w->band_stride;
        const uint16_t *nir = w->nir + (ptrdiff_t)y * w->band_stride;
        const uint8_t *scl = w->scl + (ptrdiff_t)(y / 2) * w->scl_stride;
        const uint16_t *swir = w->swir + (ptrdiff_t)(y / 2) * w->swir_stride;
        const uint32_t *labels = w->labels + (ptrdiff_t)y * w->label_stride;
        for (int x0 = 0; x0 < w->width; x0 += KERNEL_CHUNK_PX) {
            int n = w->width - x0 < KERNEL_CHUNK_PX ? w->width - x0 : KERNEL_CHUNK_PX;
            compute(red, nir, scl, swir, labels, x0, n, p, simd, &chunk, &moist);
            kernel_chunk_accumulate(labels + x0, n, &chunk, &moist, &run, stats, n_labels,
                                    KERNEL_RUN_NDVI_NDMI);
        }
    }
    kernel_run_next(&run, 0, 0, stats, n_labels, KERNEL_RUN_NDVI_NDMI, 0);
}

/* Rows [y0, y1) of the window into stats, through one run and one scratch chunk. */
static void kernel_accumulate_rows(const kernel_window *w, const kernel_params *p, int y0, int y1,
                                   kernel_stats *stats, uint32_t n_labels, const void *simd)
{
    if (w->swir) {
        kernel_accumulate_rows_swir(w, p, y0, y1, stats, n_labels, simd);
        return;
    }
    kernel_chunk_fn compute = kernel_chunk_compute_pick();
    kernel_chunk chunk;
    kernel_run run = {0};
    for (int y = y0; y < y1; y++) {
        const uint16_t *red = w->red + (ptrdiff_t)y * w->band_stride;
        const uint16_t *nir = w->nir + (ptrdiff_t)y * w->band_stride;
        const uint8_t *scl = w->scl + (ptrdiff_t)(y / 2) * w->scl_stride;
        const uint32_t *labels = w->labels + (ptrdiff_t)y * w->label_stride;
        for (int x0 = 0; x0 < w->width; x0 += KERNEL_CHUNK_PX) {
            int n = w->width - x0 < KERNEL_CHUNK_PX ? w->width - x0 : KERNEL_CHUNK_PX;
            compute(red, nir, scl, labels, x0, n, p, simd, &chunk);
            kernel_chunk_accumulate(labels + x0, n, &chunk, NULL, &run, stats, n_labels,
                                    KERNEL_RUN_NDVI);
        }
    }
    kernel_run_next(&run, 0, 0, stats, n_labels, KERNEL_RUN_NDVI, 0);
}

static void kernel_accumulate_rows_simd(const kernel_window *w, const kernel_params *p, int y0,
                                        int y1, kernel_stats *stats, uint32_t n_labels)
{
#ifdef __SSE4_1__
    kernel_simd simd;
    kernel_simd_init(&simd, p);
    kernel_accumulate_rows(w, p, y0, y1, stats, n_labels, &simd);
#else
    kernel_accumulate_rows(w, p, y0, y1, stats, n_labels, NULL);
#endif
}

void kernel_accumulate_window(const kernel_window *w, const kernel_params *p,
                              kernel_stats *stats, uint32_t n_labels)
{
    kernel_accumulate_rows_simd(w, p, 0, w->height, stats, n_labels);
}

void kernel_count_seen_window(const kernel_window *w, const kernel_params *p,
                              kernel_stats *stats, uint32_t n_labels)
{
    (void)p;
    for (int y = 0; y < w->height; y++) {
        const uint8_t *scl = w->scl + (ptrdiff_t)(y / 2) * w->scl_stride;
        const uint32_t *labels = w->labels + (ptrdiff_t)y * w->label_stride;
        for (int x = 0; x < w->width; x++)
            if (labels[x] != 0 && labels[x] <= n_labels && kernel_pixel_seen(scl[x / 2]))
                stats[labels[x]].n_seen++;
    }
}

int kernel_window_may_be_clear(const uint8_t *scl, int scl_width, int scl_height,
                               ptrdiff_t scl_stride, uint16_t scl_valid_mask)
{
    for (int y = 0; y < scl_height; y++)
        for (int x = 0; x < scl_width; x++) {
            uint8_t c = scl[(ptrdiff_t)y * scl_stride + x];
            if (c < 16 && ((scl_valid_mask >> c) & 1u))
                return 1;
        }
    return 0;
}

/* Rows per parallel task: large enough that the run state rarely restarts,
 * small enough to balance uneven rows (label 0 is cheap) across threads. */
#define KERNEL_ROWS_PER_TASK 8

static int accumulate_cpu(const kernel_window *w, const kernel_params *p, kernel_stats *stats,
                          uint32_t n_labels, int n_threads)
{
    int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
    int tasks = (w->height + KERNEL_ROWS_PER_TASK - 1) / KERNEL_ROWS_PER_TASK;
    if (threads > tasks)
        threads = tasks > 0 ? tasks : 1;
    if (threads == 1) {
        kernel_accumulate_window(w, p, stats, n_labels);
        return KERNEL_OK;
    }
    size_t per_thread = (size_t)n_labels + 1;
    kernel_stats *partial = calloc((size_t)threads * per_thread, sizeof *partial);
    if (!partial)
        return kernel_set_error(KERNEL_ERR_NOMEM,
                                "out of memory for %d thread accumulators of %u labels", threads,
                                n_labels);
#pragma omp parallel num_threads(threads)
    {
        kernel_stats *mine = partial + (size_t)omp_get_thread_num() * per_thread;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tasks; t++) {
            int y0 = t * KERNEL_ROWS_PER_TASK;
            int y1 = y0 + KERNEL_ROWS_PER_TASK < w->height ? y0 + KERNEL_ROWS_PER_TASK : w->height;
            kernel_accumulate_rows_simd(w, p, y0, y1, mine, n_labels);
        }
    }
    /* Integer sums: the merge order cannot change the result. */
    for (int t = 0; t < threads; t++)
        kernel_stats_add(stats, partial + (size_t)t * per_thread, per_thread);
    free(partial);
    return KERNEL_OK;
}

static int kernel_window_check(const kernel_window *w, const kernel_params *p,
                               const kernel_stats *stats)
{
    if (!w || !p || !stats)
        return kernel_set_error(KERNEL_ERR_ARGS, "kernel_accumulate: null window, params or stats");
    if (w->width < 0 || w->height < 0)
        return kernel_set_error(KERNEL_ERR_ARGS, "kernel_accumulate: negative window size %dx%d",
                                w->width, w->height);
    if (w->width > 0 && w->height > 0 && (!w->red || !w->nir || !w->scl || !w->labels))
        return kernel_set_error(KERNEL_ERR_ARGS, "kernel_accumulate: %dx%d window lacks a band",
                                w->width, w->height);
    if (w->width > 0 && w->height > 0 &&
        (w->band_stride < w->width || w->label_stride < w->width ||
         w->scl_stride < (w->width + 1) / 2))
        return kernel_set_error(KERNEL_ERR_ARGS,
                                "kernel_accumulate: row strides (bands %td, labels %td, scl %td) "
                                "shorter than the %d px window width",
                                w->band_stride, w->label_stride, w->scl_stride, w->width);
    if (w->width > 0 && w->height > 0 && w->swir && w->swir_stride < (w->width + 1) / 2)
        return kernel_set_error(KERNEL_ERR_ARGS,
                                "kernel_accumulate: B11 row stride %td shorter than the %d px "
                                "(20 m) of a %d px window width",
                                w->swir_stride, (w->width + 1) / 2, w->width);
    return KERNEL_OK;
}

int kernel_accumulate(kernel_device device, const kernel_window *w, const kernel_params *p,
                      kernel_stats *stats, uint32_t n_labels, int n_threads)
{
    int rc = kernel_window_check(w, p, stats);
    if (rc != KERNEL_OK)
        return rc;
    if (w->width == 0 || w->height == 0)
        return KERNEL_OK;
    if (device == KERNEL_DEVICE_AUTO)
        device = kernel_cuda_available() ? KERNEL_DEVICE_CUDA : KERNEL_DEVICE_CPU;
    if (device == KERNEL_DEVICE_CUDA)
        return kernel_accumulate_cuda(w, p, stats, n_labels);
    return accumulate_cpu(w, p, stats, n_labels, n_threads);
}

const char *kernel_device_name(kernel_device device)
{
    if (device == KERNEL_DEVICE_AUTO)
        device = kernel_cuda_available() ? KERNEL_DEVICE_CUDA : KERNEL_DEVICE_CPU;
    return device == KERNEL_DEVICE_CUDA ? "cuda" : "cpu";
}
