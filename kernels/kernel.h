/* NDVI + cloud mask + per-parcel accumulation: one API, two backends.
 *
 * The kernel knows nothing of files, GDAL or databases: it takes bands already
 * decoded into memory and a label raster (parcel label per 10 m pixel, 0 = none),
 * and adds each valid pixel's fixed-point NDVI to its label's statistics.
 *
 * Everything is accumulated in integers, so the result is bit-identical between
 * the CPU (OpenMP) and CUDA backends and independent of thread count and order;
 * statistics are additive, so partial results of blocks, tiles and scenes merge
 * exactly by adding their fields. */
#ifndef MOWCHECK_KERNEL_H
#define MOWCHECK_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NDVI in fixed point: q = round-half-even(KERNEL_NDVI_SCALE * ndvi), ndvi clamped to [-1, 1]. */
#define KERNEL_NDVI_SCALE 10000

/* Default valid SCL classes: 4 vegetation, 5 not vegetated. */
#define KERNEL_SCL_DEFAULT_VALID_MASK ((uint16_t)((1u << 4) | (1u << 5)))

typedef struct kernel_params {
    int32_t reflectance_offset_dn; /* added to every DN: -1000 from baseline 04.00, else 0 */
    uint16_t scl_valid_mask;       /* bit c set: SCL class c counts as clear */
} kernel_params;

/* Per-label statistics. Index 0 (no parcel) is never written. */
typedef struct kernel_stats {
    int64_t n_valid; /* clear pixels with data: these carry NDVI */
    int64_t n_seen;  /* pixels the scene covers (SCL != 0), clear or not: from SCL alone,
                      * so a block whose SCL has no clear pixel need not be decoded */
    int64_t sum_q;   /* sum of fixed-point NDVI over valid pixels */
    int64_t sum_q2;  /* sum of squares of fixed-point NDVI over valid pixels */
    int64_t n_moist; /* valid pixels whose B11 (SWIR) has data (DN != 0) and a positive
                      * reflectance (DN + offset > 0): these carry NDMI; unchanged
                      * (so 0 from zeroed stats) where the window has no B11 */
    int64_t sum_m;   /* sum of fixed-point NDMI = (nir - swir) / (nir + swir) over them,
                      * same scale and rounding as NDVI: kernel_ndvi_q(swir, nir, offset) */
} kernel_stats;

/* A rectangular window of a tile, all bands on the 10 m grid except SCL.
 * The window must start at an even column and row of the tile so that the
 * 20 m SCL pixel of 10 m pixel (x, y) is scl[(y / 2) * scl_stride + x / 2]
 * (nearest neighbour, grids aligned at the upper-left corner). */
typedef struct kernel_window {
    int width, height;
    const uint16_t *red; /* B04 DN, 0 = no data */
    const uint16_t *nir; /* B08 DN, 0 = no data */
    ptrdiff_t band_stride; /* elements between rows of red and nir */
    const uint8_t *scl;    /* SCL at 20 m, (height + 1) / 2 rows of (width + 1) / 2 used */
    ptrdiff_t scl_stride;
    const uint32_t *labels; /* parcel label per pixel, 0 = none */
    ptrdiff_t label_stride;
    /* B11 (SWIR 1.6 um) DN at 20 m on the SCL grid: the SWIR of 10 m pixel (x, y) is
     * swir[(y / 2) * swir_stride + x / 2] (nearest neighbour, like SCL). Optional:
     * NULL where the scene has no B11; then n_moist and sum_m stay unchanged. A valid
     * pixel (see n_valid) adds to n_moist and sum_m when its SWIR DN is not 0 and
     * SWIR + offset > 0. */
    const uint16_t *swir;
    ptrdiff_t swir_stride;
} kernel_window;

typedef enum kernel_device {
    KERNEL_DEVICE_AUTO = 0, /* CUDA when a GPU is present, else CPU */
    KERNEL_DEVICE_CPU,
    KERNEL_DEVICE_CUDA
} kernel_device;

enum { KERNEL_OK = 0, KERNEL_ERR_ARGS = -1, KERNEL_ERR_NO_CUDA = -2, KERNEL_ERR_CUDA = -3,
       KERNEL_ERR_NOMEM = -4 };

/* Merges partial statistics: into[i] += from[i] for n labels, every field. Integer
 * sums, so the order of merging cannot change the result (threads, blocks, tiles). */
static inline void kernel_stats_add(kernel_stats *into, const kernel_stats *from, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        into[i].n_valid += from[i].n_valid;
        into[i].n_seen += from[i].n_seen;
        into[i].sum_q += from[i].sum_q;
        into[i].sum_q2 += from[i].sum_q2;
        into[i].n_moist += from[i].n_moist;
        into[i].sum_m += from[i].sum_m;
    }
}

/* The fixed-point NDVI of one pixel; no masking. Exposed for tests. */
int32_t kernel_ndvi_q(uint16_t red_dn, uint16_t nir_dn, int32_t reflectance_offset_dn);

/* Single-threaded: adds the window's pixels into stats[label] (stats has n_labels + 1
 * entries). Meant for callers that already run one block per thread (ingest). */
void kernel_accumulate_window(const kernel_window *w, const kernel_params *p,
                              kernel_stats *stats, uint32_t n_labels);

/* Single-threaded, SCL and labels only: adds n_seen for a window whose B04/B08 were not
 * decoded because no SCL pixel in it is clear (w->red, w->nir and w->swir are not read).
 * Gives exactly what kernel_accumulate_window would have given for such a window (no
 * valid pixel, so nothing for n_moist either). */
void kernel_count_seen_window(const kernel_window *w, const kernel_params *p,
                              kernel_stats *stats, uint32_t n_labels);

/* 1 where at least one SCL pixel of the window (at 20 m) is a clear class: only then
 * can the window add to n_valid, and only then need its bands be decoded. */
int kernel_window_may_be_clear(const uint8_t *scl, int scl_width, int scl_height,
                               ptrdiff_t scl_stride, uint16_t scl_valid_mask);

/* Whole window on the chosen device, in parallel (n_threads <= 0: OpenMP default).
 * Adds into stats. Returns KERNEL_OK or a KERNEL_ERR_* code; kernel_error_message()
 * says more. */
int kernel_accumulate(kernel_device device, const kernel_window *w, const kernel_params *p,
                      kernel_stats *stats, uint32_t n_labels, int n_threads);

/* 1 where the CUDA backend was built and a GPU can be used now, else 0. */
int kernel_cuda_available(void);

/* The GPU's name and its theoretical memory bandwidth (bytes/s, from the memory
 * clock and bus width). KERNEL_ERR_NO_CUDA where kernel_cuda_available() is 0. */
int kernel_cuda_device_info(char *name, size_t name_len, double *peak_bytes_per_s);

/* For benchmarks: copies the window to the GPU once, then runs the CUDA kernel
 * `repeats` times on the resident data and stores the best kernel-only time
 * (seconds, CUDA events; no transfers) in *seconds. */
int kernel_cuda_time_kernel(const kernel_window *w, const kernel_params *p, uint32_t n_labels,
                            int repeats, double *seconds);

/* Frees the GPU buffers the CUDA backend keeps between calls (no-op without CUDA). */
void kernel_cuda_release(void);

/* Name of the device a call with `device` would use: "cpu" or "cuda". */
const char *kernel_device_name(kernel_device device);

/* Human-readable reason for the last failure on this thread. */
const char *kernel_error_message(void);

#ifdef __cplusplus
}
#endif
#endif
