/* Block-aligned, parallel band reading feeding the NDVI kernel (see bands.h). */
#include "bands.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>

#include "error.h"
#include "log.h"
#include "tiff_tiles.h"

/* B11 last: it is optional (scene->has_swir), the others are always opened. */
enum { BAND_RED = 0, BAND_NIR = 1, BAND_SCL = 2, BAND_SWIR = 3, N_BANDS = 4 };
static const char *const band_names[N_BANDS] = {"B04", "B08", "SCL", "B11"};

/* Strip windows below this many pixels are grown by whole strips. */
#define BANDS_MIN_WINDOW_PX 65536

void bands_configure_gdal(void)
{
    /* We decode one block per thread ourselves; GDAL's own worker threads would
     * only oversubscribe the cores. The block cache holds SCL blocks shared by
     * neighbouring windows; B04/B08 go straight into our buffers. */
    CPLSetConfigOption("GDAL_NUM_THREADS", "1");
    if (!CPLGetConfigOption("GDAL_CACHEMAX", NULL))
        CPLSetConfigOption("GDAL_CACHEMAX", "128");
}

typedef struct layout {
    int width, height;    /* the tile at 10 m */
    int win_w, win_h;     /* window size: even, a whole number of B04 blocks */
    int nx, ny;           /* windows across and down */
    /* Threads take groups of group_w x group_h windows: those under one 20 m tile, so
     * that its reader decodes that tile once (see layout_group). */
    int group_w, group_h, groups_x, groups_y;
} layout;

static void layout_make(int width, int height, int block_w, int block_h, layout *l)
{
    if (block_w <= 0 || block_w > width)
        block_w = width;
    if (block_h <= 0 || block_h > height)
        block_h = height;
    l->width = width;
    l->height = height;
    l->win_w = block_w % 2 ? 2 * block_w : block_w;
    l->win_h = block_h % 2 ? 2 * block_h : block_h;
    /* Strips (blocks as wide as the image, a few rows high): take several per window. */
    while (block_w >= width && (int64_t)l->win_w * l->win_h < BANDS_MIN_WINDOW_PX &&
           l->win_h < height)
        l->win_h *= 2; /* a multiple of the block height, still even */
    l->nx = (width + l->win_w - 1) / l->win_w;
    l->ny = (height + l->win_h - 1) / l->win_h;
    l->group_w = l->group_h = 1;
    l->groups_x = l->nx;
    l->groups_y = l->ny;
}

/* How many windows side by side one 20 m block of block_20m px spans (1 where it does
 * not line up with whole windows); at most 4. */
static int windows_per_block(int block_20m, int win)
{
    int n = 2 * block_20m % win == 0 ? 2 * block_20m / win : 1;
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

/* A 20 m block (SCL, B11) under several windows is decoded once per thread that reads
 * it (each keeps its last block): windows grouped by block keep that to once. Where
 * the groups would be too few to share among the threads, every window is its own. */
static void layout_group(layout *l, int block_20m_w, int block_20m_h, int threads)
{
    int gw = windows_per_block(block_20m_w, l->win_w);
    int gh = windows_per_block(block_20m_h, l->win_h);
    int gx = (l->nx + gw - 1) / gw, gy = (l->ny + gh - 1) / gh;
    if ((int64_t)gx * gy < 4 * (int64_t)threads)
        return;
    l->group_w = gw;
    l->group_h = gh;
    l->groups_x = gx;
    l->groups_y = gy;
}

/* One thread's handles and buffers: per band either a raw tile reader (raw[b]) or GDAL. */
typedef struct reader {
    char path[N_BANDS][SCENE_BAND_PATH_MAX];
    tiff_tiles *raw[N_BANDS];
    GDALDatasetH ds[N_BANDS];
    GDALRasterBandH band[N_BANDS];
    int block_w[N_BANDS], block_h[N_BANDS];
    int n_bands;         /* N_BANDS with B11, else N_BANDS - 1 */
    uint16_t *red, *nir; /* win_w * win_h, stride win_w */
    uint8_t *scl;        /* win_w/2 * win_h/2, stride win_w/2 */
    uint16_t *swir;      /* as scl; NULL without B11 */
} reader;

static void reader_close(reader *r)
{
    for (int b = 0; b < N_BANDS; b++) {
        if (r->ds[b])
            GDALClose(r->ds[b]);
        tiff_tiles_close(r->raw[b]);
    }
    free(r->red);
    free(r->nir);
    free(r->scl);
    free(r->swir);
    memset(r, 0, sizeof *r);
}

/* The raw reader of band b, which bands_accumulate's probe found to qualify: that it
 * no longer does means the file changed under us. */
static int reader_open_raw(reader *r, int b, const layout *l)
{
    int w = b < BAND_SCL ? l->width : (l->width + 1) / 2;
    int h = b < BAND_SCL ? l->height : (l->height + 1) / 2;
    char why[256];
    r->raw[b] = tiff_tiles_open(r->path[b], w, h, b == BAND_SCL ? 1 : 2, why, sizeof why);
    if (!r->raw[b])
        return mc_fail("%s: cannot read its tiles any more: %s", r->path[b], why);
    tiff_tiles_tile_size(r->raw[b], &r->block_w[b], &r->block_h[b]);
    return MC_OK;
}

/* raw_band: the bands to read with tiff_tiles (NULL: all through GDAL). */
static int reader_open(reader *r, const scene_info *scene, const layout *l, int with_buffers,
                       const int *raw_band)
{
    memset(r, 0, sizeof *r);
    r->n_bands = scene->has_swir ? N_BANDS : N_BANDS - 1;
    for (int b = 0; b < r->n_bands; b++) {
        if (scene_band_path(scene, band_names[b], r->path[b], sizeof r->path[b]) != MC_OK)
            return MC_ERR;
        if (raw_band && raw_band[b]) {
            if (reader_open_raw(r, b, l) != MC_OK)
                return MC_ERR;
            continue;
        }
        CPLErrorReset();
        r->ds[b] = GDALOpenEx(r->path[b], GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
        if (!r->ds[b])
            return mc_fail("%s: GDAL cannot open it: %s", r->path[b], CPLGetLastErrorMsg());
        r->band[b] = GDALGetRasterBand(r->ds[b], 1);
        GDALGetBlockSize(r->band[b], &r->block_w[b], &r->block_h[b]);
    }
    if (with_buffers) {
        size_t px = (size_t)l->win_w * l->win_h;
        r->red = malloc(px * sizeof *r->red);
        r->nir = malloc(px * sizeof *r->nir);
        r->scl = malloc(px / 4 * sizeof *r->scl);
        r->swir = scene->has_swir ? malloc(px / 4 * sizeof *r->swir) : NULL;
        if (!r->red || !r->nir || !r->scl || (scene->has_swir && !r->swir))
            return mc_fail("scene %s: out of memory for read buffers", scene->path);
    }
    return MC_OK;
}

static int read_failed(const reader *r, int b, CPLErr err, int x0, int y0)
{
    if (err == CE_None && CPLGetLastErrorType() != CE_Failure && CPLGetLastErrorType() != CE_Fatal)
        return MC_OK;
    const char *msg = CPLGetLastErrorMsg();
    return mc_fail("%s: read error at pixel (%d, %d): %s", r->path[b], x0, y0,
                   msg && *msg ? msg : "unknown GDAL error");
}

/* Reads w x h pixels of a uint16 band at (x0, y0) into buf with `stride` elements per row.
 * Where the window is exactly one of the file's blocks, the block is decoded straight
 * into buf (no block cache, no copy). */
static int read_u16(reader *r, int b, const layout *l, int x0, int y0, int w, int h,
                    uint16_t *buf, ptrdiff_t stride)
{
    if (r->raw[b])
        return tiff_tiles_read(r->raw[b], x0, y0, w, h, buf, stride);
    CPLErrorReset();
    CPLErr err;
    if (r->block_w[b] == l->win_w && r->block_h[b] == l->win_h && stride == l->win_w &&
        x0 % l->win_w == 0 && y0 % l->win_h == 0)
        err = GDALReadBlock(r->band[b], x0 / l->win_w, y0 / l->win_h, buf);
    else
        err = GDALRasterIO(r->band[b], GF_Read, x0, y0, w, h, buf, w, h, GDT_UInt16, 0,
                           (GSpacing)(stride * (ptrdiff_t)sizeof *buf));
    return read_failed(r, b, err, x0, y0);
}

/* The 20 m pixels (SCL, B11) under the 10 m window at (x0, y0) (x0, y0 even);
 * stride in elements of `type`. */
static int read_20m(reader *r, int b, GDALDataType type, int x0, int y0, int w, int h, void *buf,
                    ptrdiff_t stride)
{
    int sw = (w + 1) / 2, sh = (h + 1) / 2;
    if (r->raw[b])
        return tiff_tiles_read(r->raw[b], x0 / 2, y0 / 2, sw, sh, buf, stride);
    CPLErrorReset();
    CPLErr err = GDALRasterIO(r->band[b], GF_Read, x0 / 2, y0 / 2, sw, sh, buf, sw, sh, type, 0,
                              (GSpacing)(stride * GDALGetDataTypeSizeBytes(type)));
    return read_failed(r, b, err, x0 / 2, y0 / 2);
}

static int read_scl(reader *r, int x0, int y0, int w, int h, uint8_t *buf, ptrdiff_t stride)
{
    return read_20m(r, BAND_SCL, GDT_Byte, x0, y0, w, h, buf, stride);
}

/* B11 where the scene has it (r->n_bands says); nothing to read otherwise. */
static int read_swir(reader *r, int x0, int y0, int w, int h, uint16_t *buf, ptrdiff_t stride)
{
    if (r->n_bands <= BAND_SWIR)
        return MC_OK;
    return read_20m(r, BAND_SWIR, GDT_UInt16, x0, y0, w, h, buf, stride);
}

/* Counts the plausibility sample of one decoded window (see bands_counts): cheap, as
 * only one pixel in eight is looked at, and only pixels already decoded. */
static void sample_vegetation(const uint16_t *red, const uint16_t *nir, ptrdiff_t stride,
                              const uint8_t *scl, ptrdiff_t scl_stride, int w, int h,
                              int32_t offset, bands_counts *c)
{
    enum { SCL_VEGETATION = 4 };
    for (int y = 0; y < h; y += 4)
        for (int x = 0; x < w; x += 2) {
            uint16_t r = red[(ptrdiff_t)y * stride + x], n = nir[(ptrdiff_t)y * stride + x];
            if (scl[(ptrdiff_t)(y / 2) * scl_stride + x / 2] != SCL_VEGETATION || !r || !n)
                continue;
            c->veg_sampled++;
            if ((int32_t)r + offset <= 0 || (int32_t)n + offset <= 0)
                c->veg_below_zero++;
            else if (n <= r)
                c->veg_ndvi_not_positive++;
        }
}

int bands_check_plausible(const scene_info *scene, const bands_counts *c)
{
    if (c->veg_sampled < BANDS_PLAUSIBLE_MIN_VEG)
        return MC_OK;
    double below = (double)c->veg_below_zero / (double)c->veg_sampled;
    double bad = (double)(c->veg_below_zero + c->veg_ndvi_not_positive) / (double)c->veg_sampled;
    if (bad <= 0.5)
        return MC_OK;
    if (below > 0.5 && scene->reflectance_offset_dn != 0)
        return mc_fail("scene %s: reflectance offset looks applied twice: %.0f%% of %lld sampled "
                       "clear vegetation pixels (SCL 4) are at or below zero reflectance after the "
                       "offset of %d DN (from %s); the pixels seem to have had it removed already. "
                       "Not stored",
                       scene->path, 100 * below, (long long)c->veg_sampled,
                       (int)scene->reflectance_offset_dn,
                       scene->offset_source[0] ? scene->offset_source : "the scene's metadata");
    return mc_fail("scene %s: implausible NDVI: %.0f%% of %lld sampled clear vegetation pixels "
                   "(SCL 4) have an NDVI <= 0 or a reflectance <= 0 (offset %d DN from %s); red "
                   "and NIR mixed up, or not surface reflectance. Not stored",
                   scene->path, 100 * bad, (long long)c->veg_sampled,
                   (int)scene->reflectance_offset_dn,
                   scene->offset_source[0] ? scene->offset_source : "the scene's metadata");
}

typedef struct job {
    const scene_info *scene;
    const label_raster *lr;
    const kernel_params *params;
    layout l;
    int raw_band[N_BANDS]; /* 1: read with tiff_tiles, 0: GDAL */
    int scl_block_w, scl_block_h;
    /* full-tile buffers (CUDA path); NULL on the CPU path */
    uint16_t *tile_red, *tile_nir, *tile_swir; /* tile_swir: NULL without B11 */
    uint8_t *tile_scl;
} job;

/* One window, CPU path: decode into the reader's buffers and accumulate into stats. */
static int window_cpu(const job *j, reader *r, int x0, int y0, int w, int h, kernel_stats *stats,
                      bands_counts *c)
{
    const layout *l = &j->l;
    kernel_window kw = {
        .width = w, .height = h, .red = r->red, .nir = r->nir, .band_stride = l->win_w,
        .scl = r->scl, .scl_stride = l->win_w / 2,
        .labels = j->lr->labels + (ptrdiff_t)y0 * l->width + x0, .label_stride = l->width,
        .swir = r->swir, .swir_stride = l->win_w / 2,
    };
    if (read_scl(r, x0, y0, w, h, r->scl, kw.scl_stride) != MC_OK)
        return MC_ERR;
    if (!kernel_window_may_be_clear(r->scl, (w + 1) / 2, (h + 1) / 2, kw.scl_stride,
                                    j->params->scl_valid_mask)) {
        kernel_count_seen_window(&kw, j->params, stats, j->lr->n_labels);
        c->windows_cloudy++;
        c->pixels_skipped += (int64_t)w * h;
        return MC_OK;
    }
    if (read_u16(r, BAND_RED, l, x0, y0, w, h, r->red, l->win_w) != MC_OK ||
        read_u16(r, BAND_NIR, l, x0, y0, w, h, r->nir, l->win_w) != MC_OK ||
        read_swir(r, x0, y0, w, h, r->swir, kw.swir_stride) != MC_OK)
        return MC_ERR;
    c->pixels_decoded += (int64_t)w * h;
    sample_vegetation(r->red, r->nir, l->win_w, r->scl, kw.scl_stride, w, h,
                      j->params->reflectance_offset_dn, c);
    kernel_accumulate_window(&kw, j->params, stats, j->lr->n_labels);
    return MC_OK;
}

/* One window, full-tile path: decode into the tile buffers (left zero where skipped). */
static int window_tile(const job *j, reader *r, int x0, int y0, int w, int h, bands_counts *c)
{
    const layout *l = &j->l;
    ptrdiff_t scl_stride = (l->width + 1) / 2;
    uint8_t *scl = j->tile_scl + (ptrdiff_t)(y0 / 2) * scl_stride + x0 / 2;
    if (read_scl(r, x0, y0, w, h, scl, scl_stride) != MC_OK)
        return MC_ERR;
    if (!kernel_window_may_be_clear(scl, (w + 1) / 2, (h + 1) / 2, scl_stride,
                                    j->params->scl_valid_mask)) {
        /* DN 0 is no data: the kernel then counts these pixels as seen, not valid. */
        c->windows_cloudy++;
        c->pixels_skipped += (int64_t)w * h;
        return MC_OK;
    }
    ptrdiff_t off = (ptrdiff_t)y0 * l->width + x0;
    ptrdiff_t off20 = (ptrdiff_t)(y0 / 2) * scl_stride + x0 / 2;
    if (read_u16(r, BAND_RED, l, x0, y0, w, h, j->tile_red + off, l->width) != MC_OK ||
        read_u16(r, BAND_NIR, l, x0, y0, w, h, j->tile_nir + off, l->width) != MC_OK ||
        (j->tile_swir && read_swir(r, x0, y0, w, h, j->tile_swir + off20, scl_stride) != MC_OK))
        return MC_ERR;
    c->pixels_decoded += (int64_t)w * h;
    sample_vegetation(j->tile_red + off, j->tile_nir + off, l->width, scl, scl_stride, w, h,
                      j->params->reflectance_offset_dn, c);
    return MC_OK;
}

static void counts_add(bands_counts *into, const bands_counts *from)
{
    into->pixels_decoded += from->pixels_decoded;
    into->pixels_skipped += from->pixels_skipped;
    into->windows_no_parcel += from->windows_no_parcel;
    into->windows_cloudy += from->windows_cloudy;
    into->veg_sampled += from->veg_sampled;
    into->veg_below_zero += from->veg_below_zero;
    into->veg_ndvi_not_positive += from->veg_ndvi_not_positive;
    into->bands_raw += from->bands_raw;
}

/* Keeps the first failure's message (this thread's mc_error_message()). */
static void record_failure(int *failed, char *message, size_t size)
{
#pragma omp critical(bands_error)
    {
        int already;
#pragma omp atomic read
        already = *failed;
        if (!already) {
            snprintf(message, size, "%s", mc_error_message());
#pragma omp atomic write
            *failed = 1;
        }
    }
}

/* Window (wx, wy): skipped without a parcel, else read and accumulated into stats
 * (CPU path) or the tile buffers (stats NULL, full-tile path). */
static int window_run(const job *j, reader *r, int wx, int wy, kernel_stats *stats,
                      bands_counts *c)
{
    const layout *l = &j->l;
    int x0 = wx * l->win_w, y0 = wy * l->win_h;
    int w = l->width - x0 < l->win_w ? l->width - x0 : l->win_w;
    int h = l->height - y0 < l->win_h ? l->height - y0 : l->win_h;
    if (!labels_window_has_parcel(j->lr, x0, y0, w, h)) {
        c->windows_no_parcel++;
        c->pixels_skipped += (int64_t)w * h;
        return MC_OK;
    }
    return stats ? window_cpu(j, r, x0, y0, w, h, stats, c) : window_tile(j, r, x0, y0, w, h, c);
}

/* The windows of group g, row by row; stops once any thread has failed (*failed). */
static void group_run(const job *j, reader *r, int64_t g, kernel_stats *stats, bands_counts *c,
                      int *failed, char *message, size_t size)
{
    const layout *l = &j->l;
    int gx0 = (int)(g % l->groups_x) * l->group_w, gy0 = (int)(g / l->groups_x) * l->group_h;
    for (int wy = gy0; wy < gy0 + l->group_h && wy < l->ny; wy++)
        for (int wx = gx0; wx < gx0 + l->group_w && wx < l->nx; wx++) {
            int stop;
#pragma omp atomic read
            stop = *failed;
            if (stop)
                return;
            if (window_run(j, r, wx, wy, stats, c) != MC_OK)
                record_failure(failed, message, size);
        }
}

/* Runs every window on `threads` threads. stats_partial: threads * per_thread entries
 * (CPU path) or NULL (full-tile path). The first failure's message is kept. */
static int run_windows(const job *j, int threads, kernel_stats *stats_partial, size_t per_thread,
                       bands_counts *counts)
{
    const layout *l = &j->l;
    int64_t n_groups = (int64_t)l->groups_x * l->groups_y;
    int failed = 0;
    char message[2048] = "";
    bands_counts *tc = calloc((size_t)threads, sizeof *tc);
    if (!tc)
        return mc_fail("scene %s: out of memory", j->scene->path);
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
        reader r;
        /* GDAL's error handler stack is per thread: keep its messages for ours. */
        CPLPushErrorHandler(CPLQuietErrorHandler);
        int ok = reader_open(&r, j->scene, l, stats_partial != NULL, j->raw_band) == MC_OK;
        if (!ok)
            record_failure(&failed, message, sizeof message);
        kernel_stats *mine = stats_partial ? stats_partial + (size_t)t * per_thread : NULL;
#pragma omp for schedule(dynamic, 1)
        for (int64_t g = 0; g < n_groups; g++)
            if (ok)
                group_run(j, &r, g, mine, &tc[t], &failed, message, sizeof message);
        reader_close(&r);
        CPLPopErrorHandler();
    }
    for (int t = 0; t < threads; t++)
        counts_add(counts, &tc[t]);
    free(tc);
    if (failed)
        return mc_fail("%s", message);
    return MC_OK;
}

static int accumulate_cpu(job *j, int threads, kernel_stats *stats, bands_counts *counts)
{
    size_t per_thread = (size_t)j->lr->n_labels + 1;
    kernel_stats *partial = calloc((size_t)threads * per_thread, sizeof *partial);
    if (!partial)
        return mc_fail("scene %s: out of memory for %d thread accumulators", j->scene->path,
                       threads);
    int rc = run_windows(j, threads, partial, per_thread, counts);
    if (rc == MC_OK) /* integer sums: the merge order cannot change the result */
        for (int t = 0; t < threads; t++)
            kernel_stats_add(stats, partial + (size_t)t * per_thread, per_thread);
    free(partial);
    return rc;
}

static int accumulate_tile(job *j, kernel_device device, int threads, kernel_stats *stats,
                           bands_counts *counts)
{
    const layout *l = &j->l;
    size_t px = (size_t)l->width * l->height;
    size_t scl_px = (size_t)((l->width + 1) / 2) * ((l->height + 1) / 2);
    j->tile_red = calloc(px, sizeof *j->tile_red);
    j->tile_nir = calloc(px, sizeof *j->tile_nir);
    j->tile_scl = calloc(scl_px, sizeof *j->tile_scl);
    j->tile_swir = j->scene->has_swir ? calloc(scl_px, sizeof *j->tile_swir) : NULL;
    int rc = MC_OK;
    if (!j->tile_red || !j->tile_nir || !j->tile_scl || (j->scene->has_swir && !j->tile_swir))
        rc = mc_fail("scene %s: out of memory for full-tile buffers (%zu px)", j->scene->path, px);
    if (rc == MC_OK)
        rc = run_windows(j, threads, NULL, 0, counts);
    if (rc == MC_OK) {
        kernel_window kw = {
            .width = l->width, .height = l->height, .red = j->tile_red, .nir = j->tile_nir,
            .band_stride = l->width, .scl = j->tile_scl, .scl_stride = (l->width + 1) / 2,
            .labels = j->lr->labels, .label_stride = l->width,
            .swir = j->tile_swir, .swir_stride = (l->width + 1) / 2,
        };
        int krc = kernel_accumulate(device, &kw, j->params, stats, j->lr->n_labels, threads);
        if (krc != KERNEL_OK)
            rc = mc_fail("scene %s: %s kernel: %s", j->scene->path, kernel_device_name(device),
                         kernel_error_message());
    }
    free(j->tile_red);
    free(j->tile_nir);
    free(j->tile_scl);
    free(j->tile_swir);
    return rc;
}

/* MOWCHECK_DECODE=gdal sends every band through GDAL: the reference the raw path is
 * tested against, and a way out should a file read raw ever differ. */
static int raw_decode_wanted(const scene_info *scene)
{
    const char *mode = getenv("MOWCHECK_DECODE");
    const char *why = mode && !strcmp(mode, "gdal") ? "MOWCHECK_DECODE=gdal"
                      : scene->in_zip               ? "the bands are inside a zip"
                      : !tiff_tiles_built_in()      ? "built without raw tile reading"
                                                    : NULL;
    if (why)
        log_debug("scene %s: every band decoded by GDAL: %s", scene->scene_id, why);
    return why == NULL;
}

/* 1 where band b (open in the probe) is a GeoTIFF that tiff_tiles reads. */
static int band_reads_raw(const reader *probe, int b)
{
    GDALDriverH driver = GDALGetDatasetDriver(probe->ds[b]);
    const char *format = driver ? GDALGetDriverShortName(driver) : "unknown";
    char why[256];
    tiff_tiles *t = NULL;
    if (strcmp(format, "GTiff") != 0)
        snprintf(why, sizeof why, "a %s file, not a GeoTIFF", format);
    else
        t = tiff_tiles_open(probe->path[b], GDALGetRasterXSize(probe->ds[b]),
                            GDALGetRasterYSize(probe->ds[b]),
                            GDALGetDataTypeSizeBytes(GDALGetRasterDataType(probe->band[b])), why,
                            sizeof why);
    if (!t) {
        log_debug("%s: decoded by GDAL: %s", probe->path[b], why);
        return 0;
    }
    tiff_tiles_close(t);
    return 1;
}

/* Opens every band once with GDAL: B04's block size decides the windows, and each band
 * that qualifies is read raw. */
static int probe_scene(const scene_info *scene, const tile_grid *grid, job *j)
{
    reader probe;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int rc = reader_open(&probe, scene, NULL, 0, NULL);
    if (rc == MC_OK) {
        layout_make(grid->width, grid->height, probe.block_w[BAND_RED], probe.block_h[BAND_RED],
                    &j->l);
        j->scl_block_w = probe.block_w[BAND_SCL];
        j->scl_block_h = probe.block_h[BAND_SCL];
        int wanted = raw_decode_wanted(scene);
        for (int b = 0; b < probe.n_bands; b++)
            j->raw_band[b] = wanted && band_reads_raw(&probe, b);
    }
    reader_close(&probe);
    CPLPopErrorHandler();
    return rc;
}

int bands_accumulate(const scene_info *scene, const tile_grid *grid, const label_raster *lr,
                     const kernel_params *params, kernel_device device, int n_threads,
                     kernel_stats *stats, bands_counts *counts)
{
    bands_counts local = {0};
    if (!counts)
        counts = &local;
    if (lr->width != grid->width || lr->height != grid->height)
        return mc_fail("scene %s: label raster %dx%d does not fit the tile grid %dx%d",
                       scene->path, lr->width, lr->height, grid->width, grid->height);
    job j = {.scene = scene, .lr = lr, .params = params};
    if (probe_scene(scene, grid, &j) != MC_OK)
        return MC_ERR;
    int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
    int64_t n_windows = (int64_t)j.l.nx * j.l.ny;
    if (threads > n_windows)
        threads = (int)n_windows > 0 ? (int)n_windows : 1;
    layout_group(&j.l, j.scl_block_w, j.scl_block_h, threads);
    if (device == KERNEL_DEVICE_AUTO)
        device = kernel_cuda_available() ? KERNEL_DEVICE_CUDA : KERNEL_DEVICE_CPU;
    log_debug("scene %s: %dx%d windows of %dx%d px in groups of %dx%d on %d threads, kernel on %s",
              scene->scene_id, j.l.nx, j.l.ny, j.l.win_w, j.l.win_h, j.l.group_w, j.l.group_h,
              threads, kernel_device_name(device));
    bands_counts mine = {0};
    for (int b = 0; b < N_BANDS; b++)
        mine.bands_raw += j.raw_band[b];
    int rc = device == KERNEL_DEVICE_CUDA ? accumulate_tile(&j, device, threads, stats, &mine)
                                      : accumulate_cpu(&j, threads, stats, &mine);
    counts_add(counts, &mine);
    if (rc != MC_OK)
        return rc;
    return bands_check_plausible(scene, &mine);
}
