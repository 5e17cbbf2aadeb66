/* CPU backend: OpenMP over rows, one private accumulator array per thread,
 * merged once at the end (no locks in the pixel loop). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel_internal.h"

int32_t kernel_ndvi_q(uint16_t red_dn, uint16_t nir_dn, int32_t offset)
{
    return kernel_ndvi_q_inline(red_dn, nir_dn, offset);
}

void kernel_accumulate_window(const kernel_window *w, const kernel_params *p,
                              kernel_stats *stats, uint32_t n_labels)
{
    for (int y = 0; y < w->height; y++)
        kernel_accumulate_row(w, p, y, stats, n_labels);
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

static int accumulate_cpu(const kernel_window *w, const kernel_params *p, kernel_stats *stats,
                          uint32_t n_labels, int n_threads)
{
    int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
    if (threads > w->height)
        threads = w->height > 0 ? w->height : 1;
    if (threads == 1) {
        kernel_accumulate_window(w, p, stats, n_labels);
        return KERNEL_OK;
    }
    size_t per_thread = (size_t)n_labels + 1;
    kernel_stats *partial = calloc((size_t)threads * per_thread, sizeof *partial);
    if (!partial)
        return kernel_set_error(KERNEL_ERR_NOMEM, "out of memory for %d thread accumulators",
                                threads);
#pragma omp parallel num_threads(threads)
    {
        kernel_stats *mine = partial + (size_t)omp_get_thread_num() * per_thread;
#pragma omp for schedule(dynamic, 16)
        for (int y = 0; y < w->height; y++)
            kernel_accumulate_row(w, p, y, mine, n_labels);
    }
    /* Integer sums: the merge order cannot change the result. */
    for (int t = 0; t < threads; t++)
        kernel_stats_add(stats, partial + (size_t)t * per_thread, per_thread);
    free(partial);
    return KERNEL_OK;
}

int kernel_accumulate(kernel_device device, const kernel_window *w, const kernel_params *p,
                      kernel_stats *stats, uint32_t n_labels, int n_threads)
{
    if (!w || !p || !stats || w->width < 0 || w->height < 0)
        return kernel_set_error(KERNEL_ERR_ARGS, "kernel_accumulate: bad arguments");
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
