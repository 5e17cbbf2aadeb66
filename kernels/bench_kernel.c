/* mowcheck-bench-kernel: the NDVI zonal kernel alone on a synthetic tile in memory.
 *
 * Not a test: it reports figures. The tile has parcels laid out as slanted
 * polygons on a grid (separated by label-0 roads and unlabelled cells), DNs in
 * the ranges of Sentinel-2 L2A with the baseline 04.00 offset, a no-data
 * corner, and SCL with about 30 % cloud, shadow and cirrus in blobs.
 *
 *   mowcheck-bench-kernel [--width PX] [--height PX] [--labels N] [--threads N]
 *                         [--repeat N] [--seed N] [--no-reference] [--no-cuda] [--sse-only]
 *                         [--no-swir] [--json]
 * --sse-only keeps the CPU backend off AVX2 (to compare the two code paths).
 * Rates are pixels / best wall time; *_per_cpu_s rates are pixels / CPU time of
 * all threads, the per-core rate that holds also on a machine shared with
 * other work. The figures without "swir" in their name are of windows without
 * B11 (NDVI only, as before B11 was added); the *_swir_* figures are of the same
 * tile with B11 (NDVI and NDMI), unless --no-swir. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernel.h"
#include "kernel_internal.h"

typedef struct bench_options {
    int width, height, threads, repeat, json, reference, cuda, sse_only, swir;
    uint32_t labels;
    uint64_t seed;
} bench_options;

typedef struct bench_tile {
    int width, height, scl_width, scl_height;
    uint16_t *red, *nir;
    uint8_t *scl;
    uint32_t *labels;
    uint16_t *swir; /* B11 at 20 m, on the SCL grid */
} bench_tile;

static uint64_t bench_rand(uint64_t *s)
{
    /* splitmix64: cheap, and good enough for synthetic pixels */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_parse_int(const char *flag, const char *value, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || errno || *end || v < min || v > max) {
        fprintf(stderr, "mowcheck-bench-kernel: %s needs an integer in [%ld, %ld], got \"%s\"\n",
                flag, min, max, value ? value : "");
        return -1;
    }
    *out = v;
    return 0;
}

static int bench_parse(int argc, char **argv, bench_options *o)
{
    *o = (bench_options){.width = 10980, .height = 10980, .labels = 200000, .threads = 0,
                         .repeat = 3, .seed = 1, .reference = 1, .cuda = 1, .swir = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        int takes = 1;
        if (!strcmp(a, "--json")) {
            o->json = 1, takes = 0;
        } else if (!strcmp(a, "--no-reference")) {
            o->reference = 0, takes = 0;
        } else if (!strcmp(a, "--sse-only")) {
            o->sse_only = 1, takes = 0;
        } else if (!strcmp(a, "--no-cuda")) {
            o->cuda = 0, takes = 0;
        } else if (!strcmp(a, "--no-swir")) {
            o->swir = 0, takes = 0;
        } else if (!strcmp(a, "--width") || !strcmp(a, "--height")) {
            if (bench_parse_int(a, v, 2, 100000, &n))
                return -1;
            *(a[2] == 'w' ? &o->width : &o->height) = (int)n;
        } else if (!strcmp(a, "--labels")) {
            if (bench_parse_int(a, v, 1, 100000000, &n))
                return -1;
            o->labels = (uint32_t)n;
        } else if (!strcmp(a, "--threads")) {
            if (bench_parse_int(a, v, 0, 4096, &n))
                return -1;
            o->threads = (int)n;
        } else if (!strcmp(a, "--repeat")) {
            if (bench_parse_int(a, v, 1, 1000, &n))
                return -1;
            o->repeat = (int)n;
        } else if (!strcmp(a, "--seed")) {
            if (bench_parse_int(a, v, 0, 2147483647, &n))
                return -1;
            o->seed = (uint64_t)n;
        } else {
            fprintf(stderr, "usage: mowcheck-bench-kernel [--width PX] [--height PX] [--labels N] "
                            "[--threads N] [--repeat N] [--seed N] [--no-reference] [--no-cuda] [--sse-only] "
                            "[--no-swir] [--json]\n(unknown option \"%s\")\n", a);
            return -1;
        }
        i += takes;
    }
    if (o->threads == 0)
        o->threads = omp_get_max_threads();
    return 0;
}

/* Parcels: a grid of cells about `cell` px wide, 90 % of them holding a parcel
 * (labels shuffled so neighbours are far apart in the stats array), each
 * shrunk by 1-3 px margins and with slanted left/right edges. */
static void bench_make_labels(bench_tile *t, uint32_t n_labels, uint64_t *rng)
{
    double cell_d = sqrt((double)t->width * t->height * 0.9 / n_labels);
    int cell = cell_d < 4 ? 4 : (int)cell_d;
    int cols = (t->width + cell - 1) / cell, rows = (t->height + cell - 1) / cell;
    size_t n_cells = (size_t)cols * rows;
    uint32_t *cell_label = calloc(n_cells, sizeof *cell_label);
    float *geom = malloc(n_cells * 6 * sizeof *geom);
    if (!cell_label || !geom) {
        fprintf(stderr, "mowcheck-bench-kernel: out of memory for %zu parcel cells\n", n_cells);
        exit(1);
    }
    uint32_t next = 1;
    for (size_t c = 0; c < n_cells && next <= n_labels; c++)
        if (bench_rand(rng) % 10 != 0)
            cell_label[c] = next++;
    for (size_t c = n_cells - 1; c > 0; c--) { /* Fisher-Yates */
        size_t j = bench_rand(rng) % (c + 1);
        uint32_t tmp = cell_label[c];
        cell_label[c] = cell_label[j];
        cell_label[j] = tmp;
    }
    for (size_t c = 0; c < n_cells; c++) {
        float *g = geom + 6 * c; /* left, right, top, bottom margins; left, right slopes */
        for (int k = 0; k < 4; k++)
            g[k] = 1.0f + (float)(bench_rand(rng) % 3);
        g[4] = (float)((int)(bench_rand(rng) % 41) - 20) / 80.0f;
        g[5] = (float)((int)(bench_rand(rng) % 41) - 20) / 80.0f;
    }
    for (int y = 0; y < t->height; y++) {
        int cy = y / cell, dy = y - cy * cell;
        uint32_t *row = t->labels + (size_t)y * t->width;
        for (int cx = 0; cx < cols; cx++) {
            const float *g = geom + 6 * ((size_t)cy * cols + cx);
            uint32_t label = cell_label[(size_t)cy * cols + cx];
            int x0 = cx * cell, x1 = x0 + cell < t->width ? x0 + cell : t->width;
            int inside_y = dy >= (int)g[2] && dy < cell - (int)g[3];
            int left = x0 + (int)(g[0] + fabsf(g[4]) * (float)dy);
            int right = x1 - (int)(g[1] + fabsf(g[5]) * (float)(cell - dy));
            for (int x = x0; x < x1; x++)
                row[x] = inside_y && x >= left && x < right ? label : 0;
        }
    }
    free(cell_label);
    free(geom);
}

/* SCL in blobs of 32 x 32 SCL px: 22 % cloud (8/9), 5 % shadow (3), 3 % cirrus
 * (10); clear blobs are vegetation with some bare soil, water and unclassified. */
static void bench_make_scl(bench_tile *t, uint64_t *rng)
{
    const int blob = 32;
    for (int by = 0; by < t->scl_height; by += blob)
        for (int bx = 0; bx < t->scl_width; bx += blob) {
            unsigned kind = (unsigned)(bench_rand(rng) % 100);
            for (int y = by; y < by + blob && y < t->scl_height; y++)
                for (int x = bx; x < bx + blob && x < t->scl_width; x++) {
                    unsigned r = (unsigned)(bench_rand(rng) % 100);
                    uint8_t c = kind < 22 ? (r < 60 ? 9 : 8)
                                : kind < 27 ? 3
                                : kind < 30 ? 10
                                : r < 85   ? 4
                                : r < 96   ? 5
                                : r < 98   ? 6
                                           : 7;
                    t->scl[(size_t)y * t->scl_width + x] = c;
                }
        }
}

/* DNs with the +1000 offset of baseline 04.00: red 1100-3600, NIR 2000-7000;
 * a no-data triangle in the upper-left corner (edge of the swath). */
static void bench_make_bands(bench_tile *t, uint64_t seed)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < t->height; y++) {
        uint64_t rng = seed ^ ((uint64_t)y * 0x9E3779B97F4A7C15ull);
        for (int x = 0; x < t->width; x++) {
            size_t i = (size_t)y * t->width + x;
            uint64_t r = bench_rand(&rng);
            int nodata = x + y < t->width / 8;
            t->red[i] = nodata ? 0 : (uint16_t)(1100 + r % 2500);
            t->nir[i] = nodata ? 0 : (uint16_t)(2000 + (r >> 20) % 5000);
        }
    }
}

/* B11 DNs with the +1000 offset: 1800-4800 (SWIR reflectance 0.08-0.38, dry
 * soil to wet vegetation), no data where the 10 m bands' corner has none. */
static void bench_make_swir(bench_tile *t, uint64_t seed)
{
#pragma omp parallel for schedule(static)
    for (int y = 0; y < t->scl_height; y++) {
        uint64_t rng = seed ^ ((uint64_t)y * 0xD1B54A32D192ED03ull);
        for (int x = 0; x < t->scl_width; x++) {
            uint64_t r = bench_rand(&rng);
            int nodata = 2 * x + 2 * y < t->width / 8;
            t->swir[(size_t)y * t->scl_width + x] = nodata ? 0 : (uint16_t)(1800 + r % 3000);
        }
    }
}

static void bench_make_tile(bench_tile *t, const bench_options *o)
{
    uint64_t rng = o->seed;
    t->width = o->width;
    t->height = o->height;
    t->scl_width = (o->width + 1) / 2;
    t->scl_height = (o->height + 1) / 2;
    size_t n = (size_t)o->width * o->height;
    t->red = malloc(n * sizeof *t->red);
    t->nir = malloc(n * sizeof *t->nir);
    t->labels = malloc(n * sizeof *t->labels);
    t->scl = malloc((size_t)t->scl_width * t->scl_height);
    t->swir = malloc((size_t)t->scl_width * t->scl_height * sizeof *t->swir);
    if (!t->red || !t->nir || !t->labels || !t->scl || !t->swir) {
        fprintf(stderr, "mowcheck-bench-kernel: out of memory for a %dx%d tile\n", o->width,
                o->height);
        exit(1);
    }
    bench_make_bands(t, o->seed);
    bench_make_labels(t, o->labels, &rng);
    bench_make_scl(t, &rng);
    bench_make_swir(t, o->seed + 1);
}

/* The tile as a window, with its B11 (with_swir) or without. */
static kernel_window bench_window(const bench_tile *t, int with_swir)
{
    return (kernel_window){.width = t->width, .height = t->height, .red = t->red, .nir = t->nir,
                           .band_stride = t->width, .scl = t->scl, .scl_stride = t->scl_width,
                           .labels = t->labels, .label_stride = t->width,
                           .swir = with_swir ? t->swir : NULL, .swir_stride = t->scl_width};
}

typedef int (*bench_fn)(const kernel_window *, const kernel_params *, kernel_stats *, uint32_t,
                        int);

static int bench_reference(const kernel_window *w, const kernel_params *p, kernel_stats *s,
                           uint32_t n_labels, int threads)
{
    (void)threads;
    for (int y = 0; y < w->height; y++)
        kernel_accumulate_row(w, p, y, s, n_labels);
    return KERNEL_OK;
}

static int bench_cpu(const kernel_window *w, const kernel_params *p, kernel_stats *s,
                     uint32_t n_labels, int threads)
{
    return kernel_accumulate(KERNEL_DEVICE_CPU, w, p, s, n_labels, threads);
}

static int bench_cuda(const kernel_window *w, const kernel_params *p, kernel_stats *s,
                      uint32_t n_labels, int threads)
{
    (void)threads;
    return kernel_accumulate(KERNEL_DEVICE_CUDA, w, p, s, n_labels, 0);
}

static double bench_cpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best wall time of `repeat` runs (seconds); the stats of the last run stay in
 * `out`. *best_cpu_s (if not NULL): the least CPU time of the process over one
 * run, all threads summed: Mpx per CPU second is the per-core rate even where
 * other programs share the cores (OpenMP spin-waits count against it). */
static double bench_time_cpu(bench_fn fn, const kernel_window *w, const kernel_params *p,
                             kernel_stats *out, uint32_t n_labels, int threads, int repeat,
                             double *best_cpu_s)
{
    double best = INFINITY, best_cpu = INFINITY;
    for (int r = 0; r < repeat; r++) {
        memset(out, 0, ((size_t)n_labels + 1) * sizeof *out);
        double t0 = bench_now_s(), c0 = bench_cpu_now_s();
        if (fn(w, p, out, n_labels, threads) != KERNEL_OK) {
            fprintf(stderr, "mowcheck-bench-kernel: %s\n", kernel_error_message());
            exit(1);
        }
        double dc = bench_cpu_now_s() - c0, dt = bench_now_s() - t0;
        if (dt < best)
            best = dt;
        if (dc < best_cpu)
            best_cpu = dc;
    }
    if (best_cpu_s)
        *best_cpu_s = best_cpu;
    return best;
}

static double bench_time(bench_fn fn, const kernel_window *w, const kernel_params *p,
                         kernel_stats *out, uint32_t n_labels, int threads, int repeat)
{
    return bench_time_cpu(fn, w, p, out, n_labels, threads, repeat, NULL);
}

typedef struct bench_figure {
    const char *key, *unit;
    double value;
} bench_figure;

static bench_figure figures[32];
static int n_figures;

static void bench_report(const char *key, double value, const char *unit)
{
    if (n_figures < (int)(sizeof figures / sizeof figures[0]))
        figures[n_figures++] = (bench_figure){key, unit, value};
}

static int bench_same(const kernel_stats *a, const kernel_stats *b, uint32_t n_labels,
                      const char *what)
{
    if (memcmp(a, b, ((size_t)n_labels + 1) * sizeof *a) == 0)
        return 1;
    fprintf(stderr, "mowcheck-bench-kernel: %s differs from the reference\n", what);
    return 0;
}

/* 1 where a and b have the same NDVI fields (n_valid, n_seen, sum_q, sum_q2). */
static int bench_same_ndvi(const kernel_stats *a, const kernel_stats *b, uint32_t n_labels,
                           const char *what)
{
    for (size_t i = 0; i <= n_labels; i++)
        if (a[i].n_valid != b[i].n_valid || a[i].n_seen != b[i].n_seen ||
            a[i].sum_q != b[i].sum_q || a[i].sum_q2 != b[i].sum_q2) {
            fprintf(stderr, "mowcheck-bench-kernel: %s: NDVI of label %zu differs\n", what, i);
            return 0;
        }
    return 1;
}

/* The same figures for the tile with B11 (NDVI + NDMI): CPU at 1 and all
 * threads, the reference rule, CUDA where there is a GPU. ndvi: the CPU
 * result without B11, whose NDVI fields B11 must not change. */
static void bench_swir_figures(const kernel_window *w, const kernel_params *p,
                               const bench_options *o, const kernel_stats *ndvi, double mpx,
                               int *ok)
{
    size_t n_stats = (size_t)o->labels + 1;
    kernel_stats *ref = calloc(n_stats, sizeof *ref), *s = calloc(n_stats, sizeof *s);
    if (!ref || !s) {
        fprintf(stderr, "mowcheck-bench-kernel: out of memory for %u label stats\n", o->labels);
        exit(1);
    }
    double one_cpu = 0, all_cpu = 0;
    double one = bench_time_cpu(bench_cpu, w, p, ref, o->labels, 1, o->repeat, &one_cpu);
    bench_report("cpu_1_thread_swir_mpx_s", mpx / one, "Mpx/s");
    bench_report("cpu_1_thread_swir_mpx_per_cpu_s", mpx / one_cpu, "Mpx/s");
    *ok &= bench_same_ndvi(ref, ndvi, o->labels, "the CPU result with B11");
    int64_t valid = 0, moist = 0;
    for (size_t i = 1; i < n_stats; i++)
        valid += ref[i].n_valid, moist += ref[i].n_moist;
    bench_report("swir_moist_of_valid", valid ? (double)moist / (double)valid : 0, "");
    if (o->reference) {
        double dt = bench_time(bench_reference, w, p, s, o->labels, 1, 1);
        bench_report("cpu_reference_1_thread_swir_mpx_s", mpx / dt, "Mpx/s");
        *ok &= bench_same(ref, s, o->labels, "the reference rule with B11");
    }
    double all = bench_time_cpu(bench_cpu, w, p, s, o->labels, o->threads, o->repeat, &all_cpu);
    *ok &= bench_same(s, ref, o->labels, "the multi-threaded CPU result with B11");
    bench_report("cpu_all_threads_swir_mpx_s", mpx / all, "Mpx/s");
    bench_report("cpu_all_threads_swir_mpx_per_cpu_s", mpx / all_cpu, "Mpx/s");
    if (o->cuda && kernel_cuda_available()) {
        double kernel_s = 0;
        double with_transfers = bench_time(bench_cuda, w, p, s, o->labels, 0, o->repeat);
        *ok &= bench_same(s, ref, o->labels, "the CUDA result with B11");
        if (kernel_cuda_time_kernel(w, p, o->labels, o->repeat, &kernel_s) != KERNEL_OK) {
            fprintf(stderr, "mowcheck-bench-kernel: %s\n", kernel_error_message());
            *ok = 0;
        } else {
            bench_report("cuda_swir_with_transfers_mpx_s", mpx / with_transfers, "Mpx/s");
            bench_report("cuda_swir_kernel_mpx_s", mpx / kernel_s, "Mpx/s");
        }
    }
    free(ref);
    free(s);
}

static void bench_cuda_figures(const kernel_window *w, const kernel_params *p,
                               const bench_options *o, kernel_stats *ref, kernel_stats *s,
                               double mpx, int *ok)
{
    char name[256];
    double peak_bytes_s = 0, kernel_s = 0;
    if (kernel_cuda_device_info(name, sizeof name, &peak_bytes_s) != KERNEL_OK) {
        fprintf(stderr, "mowcheck-bench-kernel: %s\n", kernel_error_message());
        *ok = 0;
        return;
    }
    double with_transfers = bench_time(bench_cuda, w, p, s, o->labels, 0, o->repeat);
    *ok &= bench_same(s, ref, o->labels, "the CUDA result");
    if (kernel_cuda_time_kernel(w, p, o->labels, o->repeat, &kernel_s) != KERNEL_OK) {
        fprintf(stderr, "mowcheck-bench-kernel: %s\n", kernel_error_message());
        *ok = 0;
        return;
    }
    double bytes = (double)w->width * w->height * (2 + 2 + 4) +
                   (double)((w->width + 1) / 2) * ((w->height + 1) / 2);
    printf("cuda_device: %s\n", name);
    bench_report("cuda_with_transfers_mpx_s", mpx / with_transfers, "Mpx/s");
    bench_report("cuda_kernel_mpx_s", mpx / kernel_s, "Mpx/s");
    bench_report("cuda_kernel_ms", kernel_s * 1e3, "ms");
    bench_report("cuda_read_gb_s", bytes / kernel_s / 1e9, "GB/s");
    bench_report("cuda_peak_gb_s", peak_bytes_s / 1e9, "GB/s");
    bench_report("cuda_bandwidth_fraction", bytes / kernel_s / peak_bytes_s, "");
}

int main(int argc, char **argv)
{
    bench_options o;
    if (bench_parse(argc, argv, &o))
        return 2;
    kernel_cpu_set_simd(!o.sse_only);
    bench_tile t;
    double t0 = bench_now_s();
    bench_make_tile(&t, &o);
    kernel_window w = bench_window(&t, 0);
    kernel_params p = {.reflectance_offset_dn = -1000, .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    size_t n_stats = (size_t)o.labels + 1;
    kernel_stats *ref = calloc(n_stats, sizeof *ref), *s = calloc(n_stats, sizeof *s);
    if (!ref || !s) {
        fprintf(stderr, "mowcheck-bench-kernel: out of memory for %u label stats\n", o.labels);
        return 1;
    }
    double mpx = (double)o.width * o.height / 1e6;
    printf("tile: %dx%d px, %u parcels, generated in %.2f s\n", o.width, o.height, o.labels,
           bench_now_s() - t0);
    int ok = 1;
    double one_cpu = 0, all_cpu = 0;
    double one = bench_time_cpu(bench_cpu, &w, &p, ref, o.labels, 1, o.repeat, &one_cpu);
    bench_report("cpu_1_thread_mpx_s", mpx / one, "Mpx/s");
    bench_report("cpu_1_thread_mpx_per_cpu_s", mpx / one_cpu, "Mpx/s");
    if (o.reference) {
        double dt = bench_time(bench_reference, &w, &p, s, o.labels, 1, 1);
        bench_report("cpu_reference_1_thread_mpx_s", mpx / dt, "Mpx/s");
        ok &= bench_same(ref, s, o.labels, "the reference rule");
    }
    /* untimed: starts the OpenMP thread pool and faults in the accumulators */
    bench_time(bench_cpu, &w, &p, s, o.labels, o.threads, 1);
    double all = bench_time_cpu(bench_cpu, &w, &p, s, o.labels, o.threads, o.repeat, &all_cpu);
    ok &= bench_same(s, ref, o.labels, "the multi-threaded CPU result");
    bench_report("cpu_threads", o.threads, "");
    bench_report("cpu_all_threads_mpx_s", mpx / all, "Mpx/s");
    bench_report("cpu_all_threads_per_core_mpx_s", mpx / all / o.threads, "Mpx/s");
    bench_report("cpu_all_threads_mpx_per_cpu_s", mpx / all_cpu, "Mpx/s");
    if (o.cuda && kernel_cuda_available())
        bench_cuda_figures(&w, &p, &o, ref, s, mpx, &ok);
    else
        printf("cuda: not available (%s)\n",
               o.cuda ? "no usable GPU or no CUDA backend in this build" : "--no-cuda");
    if (o.swir) {
        kernel_window ws = bench_window(&t, 1);
        bench_swir_figures(&ws, &p, &o, ref, mpx, &ok);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    bench_report("peak_rss_mib", (double)ru.ru_maxrss / 1024.0, "MiB");
    for (int i = 0; i < n_figures; i++)
        printf("%s: %.3f%s%s\n", figures[i].key, figures[i].value, *figures[i].unit ? " " : "",
               figures[i].unit);
    printf("results: %s\n", ok ? "identical across backends and thread counts" : "DIFFER");
    if (o.json) {
        printf("{\"width\": %d, \"height\": %d, \"labels\": %u", o.width, o.height, o.labels);
        for (int i = 0; i < n_figures; i++)
            printf(", \"%s\": %.6g", figures[i].key, figures[i].value);
        printf(", \"identical\": %s}\n", ok ? "true" : "false");
    }
    free(ref);
    free(s);
    free(t.red);
    free(t.nir);
    free(t.labels);
    free(t.scl);
    free(t.swir);
    kernel_cuda_release();
    return ok ? 0 : 1;
}
