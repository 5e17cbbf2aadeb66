/* A stand-in for the CUDA runtime, for tests only: kernels/kernel_cuda.cu built
 * as C++ against it runs its kernel thread by thread on the CPU, with "device"
 * memory in host malloc (filled with a pattern, so reads of uninitialised
 * padding show) and synchronous streams. It checks the backend's host logic
 * (strips, 2-D copies, pitches, vector loads, statistics) where no GPU exists;
 * it says nothing about GPU arithmetic, which test_kernel_cuda covers on a GPU. */
#ifndef MOWCHECK_FAKE_CUDA_RUNTIME_H
#define MOWCHECK_FAKE_CUDA_RUNTIME_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define __device__
#define __global__

struct uint4 {
    unsigned x, y, z, w;
};
struct uint2 {
    unsigned x, y;
};
static inline uint2 make_uint2(unsigned x, unsigned y)
{
    uint2 v = {x, y};
    return v;
}
struct fake_dim3 {
    unsigned x;
};
/* one "thread" at a time: the launch below sets these before each call */
static fake_dim3 blockIdx, threadIdx, blockDim;
/* allocations not yet freed: the test checks that kernel_cuda_release frees all */
static long fake_cuda_live_allocations;

typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
typedef struct fake_stream *cudaStream_t;
typedef struct fake_event *cudaEvent_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost };
enum cudaDeviceAttr { cudaDevAttrMemoryClockRate, cudaDevAttrGlobalMemoryBusWidth };
#define cudaStreamNonBlocking 1u
struct cudaDeviceProp {
    char name[256];
};

#define KERNEL_CUDA_LAUNCH(kernel, blocks, threads, stream, ...)   \
    do {                                                           \
        (void)(stream);                                            \
        blockDim.x = (threads);                                    \
        for (unsigned b_ = 0; b_ < (unsigned)(blocks); b_++)       \
            for (unsigned t_ = 0; t_ < (unsigned)(threads); t_++) { \
                blockIdx.x = b_;                                   \
                threadIdx.x = t_;                                  \
                kernel(__VA_ARGS__);                               \
            }                                                      \
    } while (0)

static inline unsigned long long atomicAdd(unsigned long long *a, unsigned long long v)
{
    unsigned long long old = *a;
    *a += v;
    return old;
}

static inline const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaErrorMemoryAllocation ? "out of memory" : "invalid value";
}
static inline const char *cudaGetErrorName(cudaError_t e)
{
    return e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation" : "cudaErrorInvalidValue";
}
static inline cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaFree(void *p)
{
    if (p) {
        fake_cuda_live_allocations--;
        std::free(p);
    }
    return cudaSuccess;
}
static inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = std::malloc(n ? n : 1);
    if (!*p)
        return cudaErrorMemoryAllocation;
    fake_cuda_live_allocations++;
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)*p)[i] = (unsigned char)(i * 131u + 7u);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned)
{
    *s = (cudaStream_t)std::malloc(1);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    std::free(s);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static inline cudaError_t cudaMemset(void *p, int v, size_t n)
{
    std::memset(p, v, n);
    return cudaSuccess;
}
static inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t)
{
    return cudaMemset(p, v, n);
}
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind)
{
    std::memcpy(d, s, n);
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpy2DAsync(void *d, size_t dpitch, const void *s, size_t spitch,
                                            size_t width, size_t height, cudaMemcpyKind,
                                            cudaStream_t)
{
    if (dpitch < width || spitch < width)
        return cudaErrorInvalidValue; /* as the real one */
    for (size_t y = 0; y < height; y++)
        std::memcpy((char *)d + y * dpitch, (const char *)s + y * spitch, width);
    return cudaSuccess;
}
static inline cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = (cudaEvent_t)std::malloc(1);
    return cudaSuccess;
}
static inline cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    std::free(e);
    return cudaSuccess;
}
static inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
static inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t, cudaEvent_t)
{
    *ms = 1.0f;
    return cudaSuccess;
}
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    std::snprintf(p->name, sizeof p->name, "fake CUDA device (host emulation)");
    return cudaSuccess;
}
/* the figures of an H100 SXM: 2619 MHz HBM3 on a 5120-bit bus -> 3.35 TB/s */
static inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int)
{
    *v = a == cudaDevAttrMemoryClockRate ? 2619000 : 5120;
    return cudaSuccess;
}

extern "C" long fake_cuda_allocations(void) { return fake_cuda_live_allocations; }

#endif
