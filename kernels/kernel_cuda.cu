/* CUDA backend: the window is copied to the GPU in strips of rows, each
 * thread walks KERNEL_CUDA_PX consecutive pixels of one row, accumulating in
 * registers while the label stays the same and flushing the run into the
 * per-label statistics with 64-bit integer atomics when it changes. Integer
 * sums: the result does not depend on the order of the atomics, and it is
 * bit-identical to the CPU backend (same per-pixel rule, kernel_internal.h,
 * compiled with --fmad=false and IEEE division).
 *
 * Strips alternate between two buffer sets and two streams, so the copy of one
 * strip overlaps the kernel of the previous one and a full 10980 x 10980 tile
 * needs only two strips' worth of device memory. The buffers are kept between
 * calls (a mutex serialises callers) and freed by kernel_cuda_release().
 *
 * B11 (SWIR, for NDMI) is optional: where the window has it, it is copied with
 * the other bands (at 20 m, like SCL) and each valid pixel also adds its NDMI
 * to n_moist and sum_m; where it has not, no buffer is made or copied and the
 * kernel is compiled without it (template argument HAS_SWIR false), so it does
 * the same work as before B11 existed. */
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel_internal.h"

/* The test tests/kernels/test_kernel_cuda_host.c builds this file as C++ against
 * a stand-in runtime (tests/kernels/fake_cuda) that runs the kernel on the CPU,
 * so the host logic (strips, copies, pitches) is checked where no GPU exists. */
#ifndef KERNEL_CUDA_LAUNCH
#define KERNEL_CUDA_LAUNCH(kernel, blocks, threads, stream, ...) \
    kernel<<<(blocks), (threads), 0, (stream)>>>(__VA_ARGS__)
#endif

/* Pixels per thread: a multiple of 8 (one 16-byte load of each band). */
#define KERNEL_CUDA_PX 32
#define KERNEL_CUDA_BLOCK 256
/* Device rows are padded to this many bytes, so that the 16-byte vector loads
 * of the last pixels of a row stay inside the row. */
#define KERNEL_CUDA_ROW_ALIGN 256
/* Input bytes per strip: two strips live on the GPU at a time. */
#define KERNEL_CUDA_STRIP_BYTES ((size_t)64 << 20)

union kernel_u16x8 {
    uint4 v;
    uint16_t h[8];
};

union kernel_u32x4 {
    uint4 v;
    uint32_t w[4];
};

union kernel_u16x4 {
    uint2 v;
    uint16_t h[4];
};

struct kernel_cuda_run {
    uint32_t label;
    uint32_t n_seen, n_valid, n_moist;
    long long sum_q, sum_m;
    unsigned long long sum_q2;
};

/* Device-side view of one strip (rows of the window on the GPU). */
struct kernel_cuda_strip {
    const uint16_t *red, *nir;
    const uint8_t *scl;
    const uint32_t *labels;
    const uint16_t *swir; /* B11 at 20 m, NULL where the window has none */
    size_t band_pitch, scl_pitch, label_pitch, swir_pitch; /* in elements */
    int width, height;
};

__device__ static void kernel_cuda_flush(const kernel_cuda_run &r, kernel_stats *stats,
                                         uint32_t n_labels)
{
    /* Label 0 and labels above n_labels are never written; a run with nothing
     * seen adds nothing (clear implies seen). */
    if (r.label - 1u >= n_labels || r.n_seen == 0)
        return;
    kernel_stats *st = &stats[r.label];
    atomicAdd((unsigned long long *)&st->n_seen, (unsigned long long)r.n_seen);
    if (r.n_valid == 0)
        return;
    atomicAdd((unsigned long long *)&st->n_valid, (unsigned long long)r.n_valid);
    /* two's complement: adding the signed sum as unsigned is a signed add */
    atomicAdd((unsigned long long *)&st->sum_q, (unsigned long long)r.sum_q);
    atomicAdd((unsigned long long *)&st->sum_q2, r.sum_q2);
    if (r.n_moist == 0)
        return;
    atomicAdd((unsigned long long *)&st->n_moist, (unsigned long long)r.n_moist);
    atomicAdd((unsigned long long *)&st->sum_m, (unsigned long long)r.sum_m);
}

/* has_swir: the strip has B11 (a compile-time constant where called). */
__device__ static inline void kernel_cuda_pixel(uint16_t red, uint16_t nir, uint8_t scl,
                                                uint16_t swir, bool has_swir, uint32_t label,
                                                const kernel_params &p, kernel_cuda_run &r,
                                                kernel_stats *stats, uint32_t n_labels)
{
    if (label != r.label) {
        kernel_cuda_flush(r, stats, n_labels);
        r.label = label;
        r.n_seen = r.n_valid = r.n_moist = 0;
        r.sum_q = r.sum_m = 0;
        r.sum_q2 = 0;
    }
    /* Same order of tests as kernel_accumulate_row. */
    if (label - 1u >= n_labels || !kernel_pixel_seen(scl))
        return;
    r.n_seen++;
    if (!kernel_pixel_clear(red, nir, scl, p.reflectance_offset_dn, p.scl_valid_mask))
        return;
    int32_t q = kernel_ndvi_q_inline(red, nir, p.reflectance_offset_dn);
    r.n_valid++;
    r.sum_q += q;
    r.sum_q2 += (unsigned long long)((long long)q * q);
    if (has_swir && kernel_pixel_moist(swir, p.reflectance_offset_dn)) {
        r.n_moist++;
        r.sum_m += kernel_ndvi_q_inline(swir, nir, p.reflectance_offset_dn);
    }
}

template <bool HAS_SWIR>
__global__ static void kernel_cuda_accumulate(kernel_cuda_strip s, kernel_params p,
                                              kernel_stats *stats, uint32_t n_labels)
{
    int per_row = (s.width + KERNEL_CUDA_PX - 1) / KERNEL_CUDA_PX;
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long long)per_row * s.height)
        return;
    int y = (int)(t / per_row);
    int x0 = (int)(t % per_row) * KERNEL_CUDA_PX;
    const uint16_t *red = s.red + (size_t)y * s.band_pitch;
    const uint16_t *nir = s.nir + (size_t)y * s.band_pitch;
    const uint8_t *scl = s.scl + (size_t)(y / 2) * s.scl_pitch;
    const uint32_t *labels = s.labels + (size_t)y * s.label_pitch;
    const uint16_t *swir = HAS_SWIR ? s.swir + (size_t)(y / 2) * s.swir_pitch : NULL;
    kernel_cuda_run r = {0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int g = 0; g < KERNEL_CUDA_PX; g += 8) {
        int x = x0 + g;
        if (x >= s.width)
            break;
        /* x is a multiple of 8 and rows are padded: these loads are aligned and
         * stay inside the row; pixels at or past the width are not used. */
        kernel_u16x8 r8, n8;
        kernel_u32x4 la, lb;
        r8.v = *(const uint4 *)(red + x);
        n8.v = *(const uint4 *)(nir + x);
        la.v = *(const uint4 *)(labels + x);
        lb.v = *(const uint4 *)(labels + x + 4);
        uint32_t s4 = *(const uint32_t *)(scl + x / 2);
        /* the 4 SWIR pixels of these 8: 8 bytes at an 8-byte aligned offset */
        kernel_u16x4 w4;
        w4.v = HAS_SWIR ? *(const uint2 *)(swir + x / 2) : make_uint2(0, 0);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            if (x + k >= s.width)
                break;
            uint32_t label = k < 4 ? la.w[k] : lb.w[k - 4];
            uint8_t c = (uint8_t)(s4 >> (8 * (k / 2)));
            kernel_cuda_pixel(r8.h[k], n8.h[k], c, w4.h[k / 2], HAS_SWIR, label, p, r, stats,
                              n_labels);
        }
    }
    kernel_cuda_flush(r, stats, n_labels);
}

/* ---- host side ---------------------------------------------------------- */

static int kernel_cuda_check(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return KERNEL_OK;
    return kernel_set_error(KERNEL_ERR_CUDA, "CUDA: %s failed: %s (%s)", what,
                            cudaGetErrorString(e), cudaGetErrorName(e));
}

static size_t kernel_cuda_pitch(size_t row_bytes)
{
    return (row_bytes + KERNEL_CUDA_ROW_ALIGN - 1) / KERNEL_CUDA_ROW_ALIGN * KERNEL_CUDA_ROW_ALIGN;
}

/* Row pitches (bytes) of a window `width` pixels wide on the device. */
struct kernel_cuda_layout {
    size_t band, scl, label, swir;
};

static kernel_cuda_layout kernel_cuda_layout_for(int width)
{
    kernel_cuda_layout l;
    l.band = kernel_cuda_pitch((size_t)width * sizeof(uint16_t));
    l.scl = kernel_cuda_pitch((size_t)(width + 1) / 2);
    l.label = kernel_cuda_pitch((size_t)width * sizeof(uint32_t));
    l.swir = kernel_cuda_pitch((size_t)(width + 1) / 2 * sizeof(uint16_t));
    return l;
}

/* Device buffers for `rows` rows (even) of one strip. */
struct kernel_cuda_buffers {
    uint16_t *red, *nir;
    uint8_t *scl;
    uint32_t *labels;
    uint16_t *swir; /* made on the first window with B11 */
    size_t red_bytes, nir_bytes, scl_bytes, label_bytes, swir_bytes; /* capacities */
};

static void kernel_cuda_buffers_free(kernel_cuda_buffers *b)
{
    cudaFree(b->red);
    cudaFree(b->nir);
    cudaFree(b->scl);
    cudaFree(b->labels);
    cudaFree(b->swir);
    memset(b, 0, sizeof *b);
}

static int kernel_cuda_grow(void **ptr, size_t *capacity, size_t bytes, const char *what)
{
    if (*capacity >= bytes)
        return KERNEL_OK;
    cudaFree(*ptr);
    *ptr = NULL;
    *capacity = 0;
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        *ptr = NULL;
        return kernel_set_error(KERNEL_ERR_CUDA, "CUDA: cudaMalloc of %zu bytes for %s failed: %s",
                                bytes, what, cudaGetErrorString(e));
    }
    *capacity = bytes;
    return KERNEL_OK;
}

static int kernel_cuda_buffers_reserve(kernel_cuda_buffers *b, const kernel_cuda_layout &l,
                                       int rows, bool has_swir)
{
    int rc;
    if ((rc = kernel_cuda_grow((void **)&b->red, &b->red_bytes, l.band * rows, "B04")) ||
        (rc = kernel_cuda_grow((void **)&b->nir, &b->nir_bytes, l.band * rows, "B08")) ||
        (rc = kernel_cuda_grow((void **)&b->scl, &b->scl_bytes, l.scl * ((rows + 1) / 2), "SCL")) ||
        (rc = kernel_cuda_grow((void **)&b->labels, &b->label_bytes, l.label * rows, "labels")))
        return rc;
    if (has_swir &&
        (rc = kernel_cuda_grow((void **)&b->swir, &b->swir_bytes, l.swir * ((rows + 1) / 2), "B11")))
        return rc;
    return KERNEL_OK;
}

/* What the backend keeps between calls. */
static struct {
    pthread_mutex_t lock;
    kernel_cuda_buffers buf[2];
    cudaStream_t stream[2];
    kernel_stats *stats;
    size_t stats_bytes;
} kernel_cuda_ws = {PTHREAD_MUTEX_INITIALIZER, {}, {NULL, NULL}, NULL, 0};

static int kernel_cuda_ws_streams(void)
{
    for (int i = 0; i < 2; i++) {
        if (kernel_cuda_ws.stream[i])
            continue;
        int rc = kernel_cuda_check(
            cudaStreamCreateWithFlags(&kernel_cuda_ws.stream[i], cudaStreamNonBlocking),
            "cudaStreamCreate");
        if (rc)
            return rc;
    }
    return KERNEL_OK;
}

static void kernel_cuda_ws_free(void)
{
    for (int i = 0; i < 2; i++) {
        kernel_cuda_buffers_free(&kernel_cuda_ws.buf[i]);
        if (kernel_cuda_ws.stream[i])
            cudaStreamDestroy(kernel_cuda_ws.stream[i]);
        kernel_cuda_ws.stream[i] = NULL;
    }
    cudaFree(kernel_cuda_ws.stats);
    kernel_cuda_ws.stats = NULL;
    kernel_cuda_ws.stats_bytes = 0;
}

static pthread_once_t kernel_cuda_once = PTHREAD_ONCE_INIT;
static int kernel_cuda_usable;

static void kernel_cuda_probe(void)
{
    int n = 0;
    /* A device is usable when one is present and a context can be made on it. */
    kernel_cuda_usable = cudaGetDeviceCount(&n) == cudaSuccess && n > 0 &&
                         cudaSetDevice(0) == cudaSuccess && cudaFree(0) == cudaSuccess;
    if (!kernel_cuda_usable)
        cudaGetLastError(); /* clear the error of the probe */
}

extern "C" int kernel_cuda_available(void)
{
    pthread_once(&kernel_cuda_once, kernel_cuda_probe);
    return kernel_cuda_usable;
}

/* Copies rows [y0, y0 + rows) of the window into b, on `stream`. */
static int kernel_cuda_upload(const kernel_window *w, int y0, int rows,
                              const kernel_cuda_layout &l, kernel_cuda_buffers *b,
                              cudaStream_t stream)
{
    int rc;
    size_t scl_row_bytes = (size_t)(w->width + 1) / 2;
    if ((rc = kernel_cuda_check(cudaMemcpy2DAsync(b->red, l.band, w->red + (ptrdiff_t)y0 * w->band_stride,
                                                  w->band_stride * sizeof(uint16_t),
                                                  w->width * sizeof(uint16_t), rows,
                                                  cudaMemcpyHostToDevice, stream),
                                "copying B04 to the GPU")) ||
        (rc = kernel_cuda_check(cudaMemcpy2DAsync(b->nir, l.band, w->nir + (ptrdiff_t)y0 * w->band_stride,
                                                  w->band_stride * sizeof(uint16_t),
                                                  w->width * sizeof(uint16_t), rows,
                                                  cudaMemcpyHostToDevice, stream),
                                "copying B08 to the GPU")) ||
        (rc = kernel_cuda_check(cudaMemcpy2DAsync(b->scl, l.scl, w->scl + (ptrdiff_t)(y0 / 2) * w->scl_stride,
                                                  w->scl_stride, scl_row_bytes, (rows + 1) / 2,
                                                  cudaMemcpyHostToDevice, stream),
                                "copying SCL to the GPU")) ||
        (rc = kernel_cuda_check(cudaMemcpy2DAsync(b->labels, l.label,
                                                  w->labels + (ptrdiff_t)y0 * w->label_stride,
                                                  w->label_stride * sizeof(uint32_t),
                                                  w->width * sizeof(uint32_t), rows,
                                                  cudaMemcpyHostToDevice, stream),
                                "copying the label raster to the GPU")))
        return rc;
    if (w->swir &&
        (rc = kernel_cuda_check(cudaMemcpy2DAsync(b->swir, l.swir,
                                                  w->swir + (ptrdiff_t)(y0 / 2) * w->swir_stride,
                                                  w->swir_stride * sizeof(uint16_t),
                                                  scl_row_bytes * sizeof(uint16_t), (rows + 1) / 2,
                                                  cudaMemcpyHostToDevice, stream),
                                "copying B11 to the GPU")))
        return rc;
    return KERNEL_OK;
}

/* has_swir: b->swir holds this strip's B11 (else the kernel reads no B11). */
static int kernel_cuda_launch(const kernel_cuda_buffers *b, const kernel_cuda_layout &l, int width,
                              int rows, bool has_swir, const kernel_params *p,
                              kernel_stats *stats, uint32_t n_labels, cudaStream_t stream)
{
    kernel_cuda_strip s;
    s.red = b->red;
    s.nir = b->nir;
    s.scl = b->scl;
    s.labels = b->labels;
    s.swir = has_swir ? b->swir : NULL;
    s.band_pitch = l.band / sizeof(uint16_t);
    s.scl_pitch = l.scl;
    s.label_pitch = l.label / sizeof(uint32_t);
    s.swir_pitch = l.swir / sizeof(uint16_t);
    s.width = width;
    s.height = rows;
    long long threads = (long long)((width + KERNEL_CUDA_PX - 1) / KERNEL_CUDA_PX) * rows;
    long long blocks = (threads + KERNEL_CUDA_BLOCK - 1) / KERNEL_CUDA_BLOCK;
    if (blocks > 2147483647LL)
        return kernel_set_error(KERNEL_ERR_ARGS, "CUDA: a strip of %d x %d px is too large", width,
                                rows);
    if (has_swir) {
        KERNEL_CUDA_LAUNCH(kernel_cuda_accumulate<true>, (unsigned)blocks, KERNEL_CUDA_BLOCK,
                           stream, s, *p, stats, n_labels);
    } else {
        KERNEL_CUDA_LAUNCH(kernel_cuda_accumulate<false>, (unsigned)blocks, KERNEL_CUDA_BLOCK,
                           stream, s, *p, stats, n_labels);
    }
    return kernel_cuda_check(cudaGetLastError(), "launching the NDVI zonal kernel");
}

static int kernel_cuda_strip_rows_set; /* tests only; under kernel_cuda_ws.lock */

extern "C" void kernel_cuda_set_strip_rows(int rows)
{
    pthread_mutex_lock(&kernel_cuda_ws.lock);
    kernel_cuda_strip_rows_set = rows > 0 ? rows : 0;
    pthread_mutex_unlock(&kernel_cuda_ws.lock);
}

/* Rows per strip: even (SCL rows pair up), at most the window, about
 * KERNEL_CUDA_STRIP_BYTES of input. */
static int kernel_cuda_strip_rows(const kernel_cuda_layout &l, int height, bool has_swir)
{
    size_t row_bytes = 2 * l.band + l.label + l.scl / 2 + 1 + (has_swir ? l.swir / 2 + 1 : 0);
    size_t rows = kernel_cuda_strip_rows_set ? (size_t)kernel_cuda_strip_rows_set
                                             : KERNEL_CUDA_STRIP_BYTES / row_bytes;
    rows = rows < 2 ? 2 : rows & ~(size_t)1;
    return rows >= (size_t)height ? height : (int)rows;
}

static int kernel_cuda_stats_add(kernel_stats *into, const kernel_stats *dev, uint32_t n_labels)
{
    size_t n = (size_t)n_labels + 1;
    kernel_stats *host = (kernel_stats *)malloc(n * sizeof *host);
    if (!host)
        return kernel_set_error(KERNEL_ERR_NOMEM, "CUDA: out of memory for %u label stats",
                                n_labels);
    int rc = kernel_cuda_check(cudaMemcpy(host, dev, n * sizeof *host, cudaMemcpyDeviceToHost),
                               "copying the statistics from the GPU");
    if (rc == KERNEL_OK)
        kernel_stats_add(into, host, n);
    free(host);
    return rc;
}

static int kernel_cuda_run_window(const kernel_window *w, const kernel_params *p,
                                  kernel_stats *stats, uint32_t n_labels)
{
    int rc;
    size_t stats_bytes = ((size_t)n_labels + 1) * sizeof(kernel_stats);
    bool has_swir = w->swir != NULL;
    kernel_cuda_layout l = kernel_cuda_layout_for(w->width);
    int strip = kernel_cuda_strip_rows(l, w->height, has_swir);
    if ((rc = kernel_cuda_check(cudaSetDevice(0), "cudaSetDevice")) ||
        (rc = kernel_cuda_ws_streams()) ||
        (rc = kernel_cuda_grow((void **)&kernel_cuda_ws.stats, &kernel_cuda_ws.stats_bytes,
                               stats_bytes, "the label statistics")) ||
        (rc = kernel_cuda_buffers_reserve(&kernel_cuda_ws.buf[0], l, strip, has_swir)) ||
        (rc = kernel_cuda_buffers_reserve(&kernel_cuda_ws.buf[1], l, strip, has_swir)))
        return rc;
    /* Zero the statistics before either stream adds to them. */
    if ((rc = kernel_cuda_check(cudaMemsetAsync(kernel_cuda_ws.stats, 0, stats_bytes,
                                                kernel_cuda_ws.stream[0]),
                                "clearing the statistics on the GPU")) ||
        (rc = kernel_cuda_check(cudaStreamSynchronize(kernel_cuda_ws.stream[0]),
                                "clearing the statistics on the GPU")))
        return rc;
    for (int y0 = 0, k = 0; y0 < w->height; y0 += strip, k ^= 1) {
        int rows = w->height - y0 < strip ? w->height - y0 : strip;
        /* Buffer set k was last used by the strip before the previous one, on
         * the same stream: stream order makes the copy wait for that kernel. */
        if ((rc = kernel_cuda_upload(w, y0, rows, l, &kernel_cuda_ws.buf[k],
                                     kernel_cuda_ws.stream[k])) ||
            (rc = kernel_cuda_launch(&kernel_cuda_ws.buf[k], l, w->width, rows, has_swir, p,
                                     kernel_cuda_ws.stats, n_labels, kernel_cuda_ws.stream[k])))
            break;
    }
    for (int i = 0; i < 2; i++) {
        int rs = kernel_cuda_check(cudaStreamSynchronize(kernel_cuda_ws.stream[i]),
                                   "running the NDVI zonal kernel");
        if (rc == KERNEL_OK)
            rc = rs;
    }
    if (rc)
        return rc;
    return kernel_cuda_stats_add(stats, kernel_cuda_ws.stats, n_labels);
}

extern "C" int kernel_accumulate_cuda(const kernel_window *w, const kernel_params *p,
                                      kernel_stats *stats, uint32_t n_labels)
{
    if (!kernel_cuda_available())
        return kernel_set_error(KERNEL_ERR_NO_CUDA, "CUDA: no usable GPU on this machine");
    if (w->width == 0 || w->height == 0)
        return KERNEL_OK;
    pthread_mutex_lock(&kernel_cuda_ws.lock);
    int rc = kernel_cuda_run_window(w, p, stats, n_labels);
    pthread_mutex_unlock(&kernel_cuda_ws.lock);
    return rc;
}

extern "C" void kernel_cuda_release(void)
{
    if (!kernel_cuda_available())
        return;
    pthread_mutex_lock(&kernel_cuda_ws.lock);
    kernel_cuda_ws_free();
    pthread_mutex_unlock(&kernel_cuda_ws.lock);
}

extern "C" int kernel_cuda_device_info(char *name, size_t name_len, double *peak_bytes_per_s)
{
    if (name && name_len)
        name[0] = '\0';
    if (peak_bytes_per_s)
        *peak_bytes_per_s = 0;
    if (!kernel_cuda_available())
        return kernel_set_error(KERNEL_ERR_NO_CUDA, "CUDA: no usable GPU on this machine");
    cudaDeviceProp prop;
    int clock_khz = 0, bus_bits = 0, rc;
    if ((rc = kernel_cuda_check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties")) ||
        (rc = kernel_cuda_check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0),
                                "reading the memory clock rate")) ||
        (rc = kernel_cuda_check(
             cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0),
             "reading the memory bus width")))
        return rc;
    if (name && name_len) {
        strncpy(name, prop.name, name_len - 1);
        name[name_len - 1] = '\0';
    }
    /* double data rate: two transfers per memory clock */
    if (peak_bytes_per_s)
        *peak_bytes_per_s = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);
    return KERNEL_OK;
}

/* Whole window resident on the GPU; times `repeats` kernel runs with events. */
static int kernel_cuda_time_resident(const kernel_window *w, const kernel_params *p,
                                     uint32_t n_labels, int repeats, double *seconds,
                                     kernel_cuda_buffers *b, kernel_stats **dev_stats,
                                     cudaEvent_t ev[2])
{
    int rc;
    size_t stats_bytes = ((size_t)n_labels + 1) * sizeof(kernel_stats), cap = 0;
    kernel_cuda_layout l = kernel_cuda_layout_for(w->width);
    if ((rc = kernel_cuda_buffers_reserve(b, l, w->height, w->swir != NULL)) ||
        (rc = kernel_cuda_grow((void **)dev_stats, &cap, stats_bytes, "the label statistics")) ||
        (rc = kernel_cuda_upload(w, 0, w->height, l, b, 0)) ||
        (rc = kernel_cuda_check(cudaDeviceSynchronize(), "copying the window to the GPU")))
        return rc;
    *seconds = 0;
    for (int i = 0; i < repeats; i++) {
        float ms = 0;
        if ((rc = kernel_cuda_check(cudaMemset(*dev_stats, 0, stats_bytes), "cudaMemset")) ||
            (rc = kernel_cuda_check(cudaEventRecord(ev[0], 0), "cudaEventRecord")) ||
            (rc = kernel_cuda_launch(b, l, w->width, w->height, w->swir != NULL, p, *dev_stats,
                                     n_labels, 0)) ||
            (rc = kernel_cuda_check(cudaEventRecord(ev[1], 0), "cudaEventRecord")) ||
            (rc = kernel_cuda_check(cudaEventSynchronize(ev[1]), "running the NDVI zonal kernel")) ||
            (rc = kernel_cuda_check(cudaEventElapsedTime(&ms, ev[0], ev[1]), "timing the kernel")))
            return rc;
        if (i == 0 || ms * 1e-3 < *seconds)
            *seconds = ms * 1e-3;
    }
    return KERNEL_OK;
}

extern "C" int kernel_cuda_time_kernel(const kernel_window *w, const kernel_params *p,
                                       uint32_t n_labels, int repeats, double *seconds)
{
    if (!kernel_cuda_available())
        return kernel_set_error(KERNEL_ERR_NO_CUDA, "CUDA: no usable GPU on this machine");
    if (!w || !p || !seconds || w->width <= 0 || w->height <= 0 || repeats < 1)
        return kernel_set_error(KERNEL_ERR_ARGS, "kernel_cuda_time_kernel: bad arguments");
    kernel_cuda_buffers b;
    memset(&b, 0, sizeof b);
    kernel_stats *dev_stats = NULL;
    cudaEvent_t ev[2] = {NULL, NULL};
    int rc = kernel_cuda_check(cudaEventCreate(&ev[0]), "cudaEventCreate");
    if (rc == KERNEL_OK)
        rc = kernel_cuda_check(cudaEventCreate(&ev[1]), "cudaEventCreate");
    if (rc == KERNEL_OK)
        rc = kernel_cuda_time_resident(w, p, n_labels, repeats, seconds, &b, &dev_stats, ev);
    for (int i = 0; i < 2; i++)
        if (ev[i])
            cudaEventDestroy(ev[i]);
    cudaFree(dev_stats);
    kernel_cuda_buffers_free(&b);
    return rc;
}
