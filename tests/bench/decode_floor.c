/* mowcheck-bench-decode: the time GDAL alone needs to decode a scene's bands.
 *
 * Not a test: it reports the floor that `mowcheck ingest` is measured against
 * (DESIGN.md, "Numbers": ingest within 1.3x of it). It decodes every internal
 * block of B04, B08 and SCL of one scene folder and does nothing else with the
 * pixels: block-aligned GDALReadBlock, whole blocks spread over N OpenMP threads
 * (dynamic schedule), one dataset handle per thread and band (GDAL handles are
 * not thread-safe), GDAL's own threading off and a modest block cache, as the
 * ingest configures it. Opening the datasets is inside the timed region, as it is
 * for the ingest. One untimed pass first, so the files are in the page cache for
 * every timed pass; the least wall time and the least CPU time of --repeat
 * passes are reported.
 *
 *   mowcheck-bench-decode [--threads N] [--repeat N] [--json] [--parcels FILE] SCENE_DIR
 *
 * --parcels FILE: also the ingest's decode + kernel of the scene (bands_accumulate
 * on the label raster of FILE's parcels, built untimed first), once with the raw tile
 * reader where the bands qualify and once with MOWCHECK_DECODE=gdal, each best of
 * --repeat, beside the floor: decode_kernel_raw_s, decode_kernel_gdal_s and their
 * CPU times, and raw_to_floor (wall) and raw_to_floor_cpu.
 *
 * Rates: tile_mpx_s counts 10 m pixels of the tile (B04's width x height) per
 * second, the unit the ingest reports; decoded_mpx_s counts every pixel decoded
 * (B04 + B08 + SCL); *_per_cpu_s divides by the CPU time of all threads. */
#include <errno.h>
#include <gdal.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bands.h"
#include "cpl_conv.h"
#include "cpl_error.h"
#include "error.h"
#include "parcels.h"
#include "scene.h"

enum { DECODE_BANDS = 3, DECODE_PATH_MAX = 4096 };

static const char *const decode_band_names[DECODE_BANDS] = {"B04", "B08", "SCL"};

typedef struct decode_band {
    char path[DECODE_PATH_MAX];
    int width, height, block_w, block_h, blocks_x, blocks_y;
    size_t block_bytes;
} decode_band;

typedef struct decode_item {
    int band, bx, by;
} decode_item;

typedef struct decode_plan {
    decode_band band[DECODE_BANDS];
    decode_item *items;
    size_t n_items, max_block_bytes;
} decode_plan;

typedef struct decode_options {
    const char *scene_dir, *parcels;
    int threads, repeat, json;
} decode_options;

/* Best wall and CPU time of the ingest's decode + kernel, raw path and GDAL path. */
typedef struct kernel_timing {
    double raw_s, raw_cpu_s, gdal_s, gdal_cpu_s;
    int64_t bands_raw, pixels_decoded;
} kernel_timing;

static double decode_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double decode_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static int decode_parse_int(const char *flag, const char *value, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || errno || *end || v < min || v > max)
        return mc_fail("%s needs an integer in [%ld, %ld], got \"%s\"", flag, min, max,
                       value ? value : "");
    *out = (int)v;
    return MC_OK;
}

static int decode_parse(int argc, char **argv, decode_options *o)
{
    *o = (decode_options){.threads = 0, .repeat = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--threads")) {
            if (decode_parse_int(a, v, 0, 1024, &o->threads) != MC_OK)
                return MC_ERR;
            i++;
        } else if (!strcmp(a, "--repeat")) {
            if (decode_parse_int(a, v, 1, 100, &o->repeat) != MC_OK)
                return MC_ERR;
            i++;
        } else if (!strcmp(a, "--parcels")) {
            if (!v)
                return mc_fail("--parcels needs a file");
            o->parcels = v;
            i++;
        } else if (a[0] != '-' && !o->scene_dir) {
            o->scene_dir = a;
        } else {
            return mc_fail("unknown argument \"%s\"", a);
        }
    }
    if (!o->scene_dir)
        return mc_fail("no scene folder given");
    if (o->threads == 0)
        o->threads = omp_get_num_procs();
    return MC_OK;
}

/* GDAL's last message on this thread, or a stand-in where it left none. */
static const char *decode_gdal_message(void)
{
    const char *m = CPLGetLastErrorMsg();
    return m && *m ? m : "missing or not a raster GDAL reads";
}

/* Size and block layout of one band, read once up front. */
static int decode_band_describe(const char *scene_dir, int k, decode_band *b)
{
    snprintf(b->path, sizeof b->path, "%s/%s.tif", scene_dir, decode_band_names[k]);
    GDALDatasetH ds = GDALOpenEx(b->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return mc_fail("%s: cannot open: %s", b->path, decode_gdal_message());
    GDALRasterBandH band = GDALGetRasterCount(ds) >= 1 ? GDALGetRasterBand(ds, 1) : NULL;
    if (!band) {
        GDALClose(ds);
        return mc_fail("%s: no raster band", b->path);
    }
    b->width = GDALGetRasterXSize(ds);
    b->height = GDALGetRasterYSize(ds);
    GDALGetBlockSize(band, &b->block_w, &b->block_h);
    b->blocks_x = (b->width + b->block_w - 1) / b->block_w;
    b->blocks_y = (b->height + b->block_h - 1) / b->block_h;
    b->block_bytes = (size_t)b->block_w * (size_t)b->block_h *
                     (size_t)GDALGetDataTypeSizeBytes(GDALGetRasterDataType(band));
    GDALClose(ds);
    return MC_OK;
}

static int decode_plan_make(const char *scene_dir, decode_plan *p)
{
    memset(p, 0, sizeof *p);
    size_t n = 0;
    for (int k = 0; k < DECODE_BANDS; k++) {
        if (decode_band_describe(scene_dir, k, &p->band[k]) != MC_OK)
            return MC_ERR;
        n += (size_t)p->band[k].blocks_x * (size_t)p->band[k].blocks_y;
        if (p->band[k].block_bytes > p->max_block_bytes)
            p->max_block_bytes = p->band[k].block_bytes;
    }
    if (p->band[1].width != p->band[0].width || p->band[1].height != p->band[0].height)
        return mc_fail("%s: %dx%d, but %s is %dx%d", p->band[1].path, p->band[1].width,
                       p->band[1].height, p->band[0].path, p->band[0].width, p->band[0].height);
    p->items = malloc(n * sizeof *p->items);
    if (!p->items)
        return mc_fail("out of memory for %zu blocks", n);
    for (int k = 0; k < DECODE_BANDS; k++)
        for (int by = 0; by < p->band[k].blocks_y; by++)
            for (int bx = 0; bx < p->band[k].blocks_x; bx++)
                p->items[p->n_items++] = (decode_item){k, bx, by};
    return MC_OK;
}

/* One pass: every thread opens its own handles and decodes whole blocks. */
static int decode_pass(const decode_plan *p, int threads)
{
    int failed = 0;
    char message[1024] = "";
#pragma omp parallel num_threads(threads)
    {
        GDALDatasetH ds[DECODE_BANDS] = {NULL, NULL, NULL};
        GDALRasterBandH band[DECODE_BANDS] = {NULL, NULL, NULL};
        void *buf = malloc(p->max_block_bytes);
        int mine_ok = buf != NULL;
        for (int k = 0; mine_ok && k < DECODE_BANDS; k++) {
            ds[k] = GDALOpenEx(p->band[k].path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
            band[k] = ds[k] ? GDALGetRasterBand(ds[k], 1) : NULL;
            if (!band[k]) {
                mine_ok = 0;
#pragma omp critical(decode_error)
                snprintf(message, sizeof message, "%.900s: cannot open: %.100s", p->band[k].path,
                         decode_gdal_message());
            }
        }
        if (!mine_ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < p->n_items; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || !mine_ok)
                continue;
            const decode_item *it = &p->items[i];
            if (GDALReadBlock(band[it->band], it->bx, it->by, buf) != CE_None) {
#pragma omp critical(decode_error)
                snprintf(message, sizeof message, "%.900s: block (%d, %d): %.80s",
                         p->band[it->band].path, it->bx, it->by, decode_gdal_message());
#pragma omp atomic write
                failed = 1;
            }
        }
        for (int k = 0; k < DECODE_BANDS; k++)
            if (ds[k])
                GDALClose(ds[k]);
        free(buf);
    }
    return failed ? mc_fail("%s", message[0] ? message : "out of memory for a block buffer") : MC_OK;
}

/* The scene as the ingest reads it: scene_load wants its folder and its name apart. */
static int kernel_scene_load(const char *scene_dir, scene_info *sc, tile_grid *g)
{
    char parent[DECODE_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", scene_dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    const char *name = slash ? slash + 1 : parent;
    if (slash)
        *slash = '\0';
    if (scene_load(slash ? (*parent ? parent : "/") : ".", name, sc) != MC_OK ||
        scene_validate(sc, g) != MC_OK)
        return MC_ERR;
    return MC_OK;
}

/* One bands_accumulate of the whole scene, timed; force_gdal sets MOWCHECK_DECODE=gdal. */
static int kernel_pass(const scene_info *sc, const tile_grid *g, const label_raster *lr,
                       int threads, int force_gdal, double *wall_s, double *cpu_s,
                       bands_counts *counts)
{
    kernel_params params = {.reflectance_offset_dn = sc->reflectance_offset_dn,
                            .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    kernel_stats *stats = calloc((size_t)lr->n_labels + 1, sizeof *stats);
    if (!stats)
        return mc_fail("out of memory for %u parcels' statistics", lr->n_labels);
    if (force_gdal)
        setenv("MOWCHECK_DECODE", "gdal", 1);
    memset(counts, 0, sizeof *counts);
    double t0 = decode_now_s(), c0 = decode_cpu_s();
    int rc = bands_accumulate(sc, g, lr, &params, KERNEL_DEVICE_CPU, threads, stats, counts);
    *wall_s = decode_now_s() - t0;
    *cpu_s = decode_cpu_s() - c0;
    unsetenv("MOWCHECK_DECODE");
    free(stats);
    return rc;
}

/* Raw and GDAL passes alternate, so that a change in the machine's load hits both. */
static int kernel_measure(const decode_options *o, kernel_timing *t)
{
    parcel_set *set = NULL;
    label_raster *lr = NULL;
    scene_info sc;
    tile_grid g;
    int rc = kernel_scene_load(o->scene_dir, &sc, &g);
    if (rc == MC_OK)
        rc = parcels_load(o->parcels, "parcel_id", 10, &set);
    if (rc == MC_OK)
        rc = labels_build(set, &g, &g, 1, 10, &lr);
    bands_counts c;
    double wall = 0, cpu = 0;
    *t = (kernel_timing){0};
    for (int r = 0; rc == MC_OK && r <= o->repeat; r++) /* pass 0: untimed */
        for (int gdal = 0; rc == MC_OK && gdal <= 1; gdal++) {
            rc = kernel_pass(&sc, &g, lr, o->threads, gdal, &wall, &cpu, &c);
            double *best_s = gdal ? &t->gdal_s : &t->raw_s;
            double *best_cpu_s = gdal ? &t->gdal_cpu_s : &t->raw_cpu_s;
            if (r == 1 || (r > 1 && wall < *best_s))
                *best_s = wall;
            if (r == 1 || (r > 1 && cpu < *best_cpu_s))
                *best_cpu_s = cpu;
            if (!gdal) {
                t->bands_raw = c.bands_raw;
                t->pixels_decoded = c.pixels_decoded;
            }
        }
    if (lr)
        labels_free(lr);
    parcels_free(set);
    return rc;
}

static void kernel_print(const decode_options *o, const kernel_timing *t, double floor_s,
                         double floor_cpu_s)
{
    printf("decode_kernel_raw_s: %.3f s, cpu %.3f s (%lld bands read raw, %.1f Mpx decoded)\n",
           t->raw_s, t->raw_cpu_s, (long long)t->bands_raw, (double)t->pixels_decoded / 1e6);
    printf("decode_kernel_gdal_s: %.3f s, cpu %.3f s (MOWCHECK_DECODE=gdal)\n", t->gdal_s,
           t->gdal_cpu_s);
    printf("raw_to_floor: %.2f (wall), %.2f (cpu); gdal_to_floor: %.2f (wall), %.2f (cpu)\n",
           t->raw_s / floor_s, t->raw_cpu_s / floor_cpu_s, t->gdal_s / floor_s,
           t->gdal_cpu_s / floor_cpu_s);
    if (o->json)
        printf("{\"decode_kernel_raw_s\": %.6g, \"decode_kernel_raw_cpu_s\": %.6g, "
               "\"decode_kernel_gdal_s\": %.6g, \"decode_kernel_gdal_cpu_s\": %.6g, "
               "\"bands_raw\": %lld, \"raw_to_floor\": %.6g, \"raw_to_floor_cpu\": %.6g}\n",
               t->raw_s, t->raw_cpu_s, t->gdal_s, t->gdal_cpu_s, (long long)t->bands_raw,
               t->raw_s / floor_s, t->raw_cpu_s / floor_cpu_s);
}

static void decode_print(const decode_options *o, const decode_plan *p, double best_s,
                         double cpu_s)
{
    double tile_mpx = (double)p->band[0].width * p->band[0].height / 1e6, all_mpx = 0;
    for (int k = 0; k < DECODE_BANDS; k++)
        all_mpx += (double)p->band[k].width * p->band[k].height / 1e6;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("scene: %s (B04 %dx%d blocks %dx%d, SCL %dx%d), %zu blocks\n", o->scene_dir,
           p->band[0].width, p->band[0].height, p->band[0].block_w, p->band[0].block_h,
           p->band[2].width, p->band[2].height, p->n_items);
    printf("threads: %d\n", o->threads);
    printf("decode_s: %.3f s (best of %d)\n", best_s, o->repeat);
    printf("tile_mpx_s: %.1f Mpx/s\n", tile_mpx / best_s);
    printf("tile_mpx_s_per_thread: %.1f Mpx/s\n", tile_mpx / best_s / o->threads);
    printf("decoded_mpx_s: %.1f Mpx/s (B04 + B08 + SCL pixels)\n", all_mpx / best_s);
    printf("decode_cpu_s: %.3f s (CPU time of all threads, least of %d)\n", cpu_s, o->repeat);
    printf("decoded_mpx_per_cpu_s: %.1f Mpx/s\n", all_mpx / cpu_s);
    printf("peak_rss_mib: %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    if (o->json)
        printf("{\"threads\": %d, \"decode_s\": %.6g, \"decode_cpu_s\": %.6g, \"tile_mpx\": %.6g, \"decoded_mpx\": %.6g, "
               "\"tile_mpx_s\": %.6g, \"decoded_mpx_s\": %.6g, \"decoded_mpx_per_cpu_s\": %.6g, "
               "\"peak_rss_mib\": %.6g}\n",
               o->threads, best_s, cpu_s, tile_mpx, all_mpx, tile_mpx / best_s, all_mpx / best_s,
               all_mpx / cpu_s, (double)ru.ru_maxrss / 1024.0);
}

int main(int argc, char **argv)
{
    decode_options o;
    if (decode_parse(argc, argv, &o) != MC_OK) {
        fprintf(stderr, "mowcheck-bench-decode: %s\nusage: mowcheck-bench-decode [--threads N] "
                        "[--repeat N] [--json] [--parcels FILE] SCENE_DIR\n", mc_error_message());
        return 2;
    }
    /* As the ingest sets GDAL up (pipeline/ingest/bands.c): we parallelise by block. */
    CPLSetConfigOption("GDAL_NUM_THREADS", "1");
    CPLSetConfigOption("GDAL_CACHEMAX", "128");
    GDALAllRegister();
    decode_plan p;
    int rc = decode_plan_make(o.scene_dir, &p);
    if (rc == MC_OK)
        rc = decode_pass(&p, o.threads); /* untimed: page cache and thread pool */
    double best_s = 0, best_cpu_s = 0;
    for (int r = 0; rc == MC_OK && r < o.repeat; r++) {
        double t0 = decode_now_s(), c0 = decode_cpu_s();
        rc = decode_pass(&p, o.threads);
        double dt = decode_now_s() - t0, dc = decode_cpu_s() - c0;
        /* each the least over the passes: other work on the machine only adds */
        if (r == 0 || dt < best_s)
            best_s = dt;
        if (r == 0 || dc < best_cpu_s)
            best_cpu_s = dc;
    }
    kernel_timing kt = {0};
    if (rc == MC_OK && o.parcels)
        rc = kernel_measure(&o, &kt);
    if (rc == MC_OK) {
        decode_print(&o, &p, best_s, best_cpu_s);
        if (o.parcels)
            kernel_print(&o, &kt, best_s, best_cpu_s);
    } else
        fprintf(stderr, "mowcheck-bench-decode: %s\n", mc_error_message());
    free(p.items);
    GDALDestroyDriverManager();
    return rc == MC_OK ? 0 : 1;
}
