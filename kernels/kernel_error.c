#include <stdarg.h>
#include <stdio.h>

#include "kernel.h"
#include "kernel_internal.h"

static _Thread_local char kernel_message[512];

int kernel_set_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kernel_message, sizeof kernel_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *kernel_error_message(void) { return kernel_message; }

#ifndef MOWCHECK_HAVE_CUDA
/* Built without nvcc: the CUDA backend says so instead of pretending. */
int kernel_cuda_available(void) { return 0; }

int kernel_accumulate_cuda(const kernel_window *w, const kernel_params *p, kernel_stats *stats,
                           uint32_t n_labels)
{
    (void)w;
    (void)p;
    (void)stats;
    (void)n_labels;
    return kernel_set_error(KERNEL_ERR_NO_CUDA, "this build has no CUDA backend (nvcc not found)");
}

int kernel_cuda_device_info(char *name, size_t name_len, double *peak_bytes_per_s)
{
    if (name && name_len)
        name[0] = '\0';
    if (peak_bytes_per_s)
        *peak_bytes_per_s = 0;
    return kernel_set_error(KERNEL_ERR_NO_CUDA, "this build has no CUDA backend (nvcc not found)");
}

int kernel_cuda_time_kernel(const kernel_window *w, const kernel_params *p, uint32_t n_labels,
                            int repeats, double *seconds)
{
    (void)w;
    (void)p;
    (void)n_labels;
    (void)repeats;
    if (seconds)
        *seconds = 0;
    return kernel_set_error(KERNEL_ERR_NO_CUDA, "this build has no CUDA backend (nvcc not found)");
}

void kernel_cuda_release(void) {}

void kernel_cuda_set_strip_rows(int rows) { (void)rows; }
#endif
