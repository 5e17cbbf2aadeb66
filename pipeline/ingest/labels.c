/* Label rasters: the parcel set put on one tile's 10 m grid.
 *
 * labels_build: copies every parcel's rings into flat arrays, reprojects them to
 * the tile's CRS (one PROJ transformation per thread), then rasterises bands of
 * rows in parallel with the exact scanline rule of labels_scan.c. A centre that a
 * second parcel also claims is marked LABELS_OVERLAP and ends as 0 (no pixel is
 * counted twice). A last pass per row clears what another tile owns (see
 * owner_lost_range, and zone_rows across UTM zones), resolves overlaps, counts
 * pixels per label and fills the occupancy index. Each band and each row is
 * written by one thread: no locks. */
#include "labels_internal.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

enum { LABELS_BAND_ROWS = 32 };

/* ---- grids and tiles ---- */

int labels_tile_scan_grid(const tile_grid *tile, labels_grid *g)
{
    const double *gt = tile->geotransform;
    if (tile->width <= 0 || tile->height <= 0)
        return mc_fail("tile %s: empty grid %dx%d", tile->tile_id, tile->width, tile->height);
    if (gt[2] != 0.0 || gt[4] != 0.0 || !(gt[1] > 0.0) || !(gt[5] < 0.0) || !isfinite(gt[0]) ||
        !isfinite(gt[3]))
        return mc_fail("tile %s: only north-up grids are supported (geotransform %g %g %g %g "
                       "%g %g)", tile->tile_id, gt[0], gt[1], gt[2], gt[3], gt[4], gt[5]);
    *g = (labels_grid){gt[0], gt[1], gt[3], gt[5], tile->width, tile->height};
    return MC_OK;
}

/* The footprint [west, east) x (south, north]. */
static void tile_footprint(const tile_grid *t, double *w, double *e, double *s, double *n)
{
    *w = t->geotransform[0];
    *e = t->geotransform[0] + t->width * t->geotransform[1];
    *n = t->geotransform[3];
    *s = t->geotransform[3] + t->height * t->geotransform[5];
}

static int cmp_tile_ptr(const void *a, const void *b)
{
    return strcmp((*(const tile_grid *const *)a)->tile_id, (*(const tile_grid *const *)b)->tile_id);
}

int labels_neighbours(const tile_grid *tile, const tile_grid *all_tiles, size_t n_tiles,
                      const tile_grid ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (n_tiles == 0)
        return MC_OK;
    const tile_grid **v = malloc(n_tiles * sizeof *v);
    if (!v)
        return mc_fail("tile %s: out of memory", tile->tile_id);
    double tw, te, ts, tn;
    tile_footprint(tile, &tw, &te, &ts, &tn);
    size_t k = 0;
    for (size_t i = 0; i < n_tiles; i++) {
        const tile_grid *u = &all_tiles[i];
        if (u->epsg != tile->epsg || strcmp(u->tile_id, tile->tile_id) == 0)
            continue;
        double uw, ue, us, un;
        tile_footprint(u, &uw, &ue, &us, &un);
        if (uw < te && ue > tw && us < tn && un > ts)
            v[k++] = u;
    }
    qsort(v, k, sizeof *v, cmp_tile_ptr);
    *out = v;
    *n = k;
    return MC_OK;
}

/* ---- memory ---- */

enum { LABELS_MMAP_MIN = 1 << 20 };

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Big blocks in transparent huge pages where the kernel has them: where THP is
 * "madvise" (the usual default), MAP_POPULATE alone faults a 10980² label raster in
 * as 118,000 small pages, each charged to the memory cgroup under a lock; asking
 * for huge pages on a 2 MiB-aligned block makes that ~240 faults and halved the
 * time to populate it (0.10-0.12 -> 0.05-0.08 CPU-s; docs/performance.md). The
 * block is mapped 2 MiB larger and trimmed, so labels_mem_free's munmap of `bytes`
 * from the returned address frees exactly it. */
static void *map_huge(size_t bytes)
{
    const size_t huge = (size_t)2 << 20, page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (bytes + page - 1) / page * page;
    char *raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (raw + len + huge > p + len)
        munmap(p + len, (size_t)(raw + len + huge - (p + len)));
    (void)madvise(p, len, MADV_HUGEPAGE); /* a hint: small pages where refused */
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
        return p;
    if (errno != EINVAL) { /* out of memory: say so now, not by a fault later */
        munmap(p, len);
        return NULL;
    }
    for (size_t off = 0; off < len; off += page) /* an older kernel: touch each page */
        p[off] = 0;
    return p;
}

void *labels_mem_alloc(size_t bytes)
{
    if (bytes < LABELS_MMAP_MIN)
        return calloc(1, bytes ? bytes : 1);
    /* (populating in slices on several threads with MADV_POPULATE_WRITE measured
     * no faster here: the zeroing does not scale) */
    return map_huge(bytes);
}

void labels_mem_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < LABELS_MMAP_MIN)
        free(p);
    else
        munmap(p, bytes);
}

/* ---- the raster ---- */

static size_t occ_cols(int width) { return (size_t)(width + LABELS_OCC_CELL - 1) / LABELS_OCC_CELL; }
static size_t occ_rows(int height) { return (size_t)(height + LABELS_OCC_CELL - 1) / LABELS_OCC_CELL; }

int labels_alloc(int width, int height, uint32_t n_labels, label_raster **out)
{
    *out = NULL;
    label_raster *lr = calloc(1, sizeof *lr);
    if (!lr)
        return mc_fail("label raster: out of memory");
    lr->width = width;
    lr->height = height;
    lr->n_labels = n_labels;
    lr->labels = labels_mem_alloc((size_t)width * (size_t)height * sizeof *lr->labels);
    lr->n_pixels = calloc((size_t)n_labels + 1, sizeof *lr->n_pixels);
    lr->occupancy = calloc(occ_cols(width) * occ_rows(height), 1);
    if (!lr->labels || !lr->n_pixels || !lr->occupancy) {
        labels_free(lr);
        return mc_fail("label raster %dx%d: out of memory", width, height);
    }
    *out = lr;
    return MC_OK;
}

void labels_free(label_raster *lr)
{
    if (!lr)
        return;
    labels_mem_free(lr->labels, (size_t)lr->width * (size_t)lr->height * sizeof *lr->labels);
    free(lr->n_pixels);
    free(lr->occupancy);
    free(lr);
}

void labels_occ_mark(label_raster *lr, int y, int x0, int x1)
{
    if (x0 >= x1)
        return;
    uint8_t *row = lr->occupancy + (size_t)(y / LABELS_OCC_CELL) * occ_cols(lr->width);
    for (int c = x0 / LABELS_OCC_CELL; c <= (x1 - 1) / LABELS_OCC_CELL; c++)
        row[c] = 1;
}

static int window_scan(const label_raster *lr, int x0, int y0, int x1, int y1)
{
    for (int y = y0; y < y1; y++) {
        const uint32_t *row = lr->labels + (size_t)y * (size_t)lr->width;
        for (int x = x0; x < x1; x++)
            if (row[x])
                return 1;
    }
    return 0;
}

int labels_window_has_parcel(const label_raster *lr, int x0, int y0, int w, int h)
{
    int x1 = x0 + w, y1 = y0 + h;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > lr->width) x1 = lr->width;
    if (y1 > lr->height) y1 = lr->height;
    if (x0 >= x1 || y0 >= y1)
        return 0;
    if (!lr->occupancy)
        return window_scan(lr, x0, y0, x1, y1);
    const int C = LABELS_OCC_CELL;
    size_t cols = occ_cols(lr->width);
    for (int cy = y0 / C; cy <= (y1 - 1) / C; cy++) {
        for (int cx = x0 / C; cx <= (x1 - 1) / C; cx++) {
            if (!lr->occupancy[(size_t)cy * cols + (size_t)cx])
                continue;
            /* the part of this cell inside the window */
            int ax = cx * C > x0 ? cx * C : x0, bx = (cx + 1) * C < x1 ? (cx + 1) * C : x1;
            int ay = cy * C > y0 ? cy * C : y0, by = (cy + 1) * C < y1 ? (cy + 1) * C : y1;
            int whole = ax == cx * C && ay == cy * C &&
                        (bx == (cx + 1) * C || bx == lr->width) &&
                        (by == (cy + 1) * C || by == lr->height);
            if (whole || window_scan(lr, ax, ay, bx, by))
                return 1;
        }
    }
    return 0;
}

/* ---- parcels as flat arrays in the tile's CRS ---- */

typedef struct labels_flat {
    size_t n, n_pts, n_rings;
    size_t *pt_first;   /* n + 1: room for parcel p's points from pt_first[p] */
    size_t *pt_end;     /* n: parcel p's points are [pt_first[p], pt_end[p]) */
    size_t *ring_first; /* n + 1: parcel p's rings */
    size_t *ring_end;   /* per ring, relative to its parcel's first point */
    double *x, *y;
    int *row_lo, *row_hi; /* rows the parcel may cover; row_lo >= row_hi: none */
} labels_flat;

static void flat_free(labels_flat *f)
{
    free(f->pt_first);
    free(f->pt_end);
    free(f->ring_first);
    labels_mem_free(f->ring_end, (f->n_rings + 1) * sizeof(size_t));
    labels_mem_free(f->x, (f->n_pts + 1) * sizeof(double));
    labels_mem_free(f->y, (f->n_pts + 1) * sizeof(double));
    free(f->row_lo);
    free(f->row_hi);
}

/* The rings of a polygon or multipolygon, visited in order. */
static size_t geom_n_polygons(OGRGeometryH g)
{
    return wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiPolygon
               ? (size_t)OGR_G_GetGeometryCount(g) : 1;
}
static OGRGeometryH geom_polygon(OGRGeometryH g, size_t i)
{
    return wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiPolygon ? OGR_G_GetGeometryRef(g, (int)i)
                                                                   : g;
}

static int flat_count(const parcel_set *set, labels_flat *f)
{
    f->n = set->n;
    f->pt_first = calloc(set->n + 1, sizeof(size_t));
    f->pt_end = calloc(set->n + 1, sizeof(size_t));
    f->ring_first = calloc(set->n + 1, sizeof(size_t));
    f->row_lo = calloc(set->n + 1, sizeof(int));
    f->row_hi = calloc(set->n + 1, sizeof(int));
    if (!f->pt_first || !f->pt_end || !f->ring_first || !f->row_lo || !f->row_hi)
        return mc_fail("parcels %s: out of memory", set->source_path);
#pragma omp parallel for schedule(dynamic, 1024)
    for (size_t p = 0; p < set->n; p++) { /* counts first, prefix sums below */
        size_t rings = 0, pts = 0;
        OGRGeometryH g = set->geometries[p];
        for (size_t k = 0; g && k < geom_n_polygons(g); k++) {
            OGRGeometryH poly = geom_polygon(g, k);
            int nr = OGR_G_GetGeometryCount(poly);
            for (int r = 0; r < nr; r++)
                pts += (size_t)OGR_G_GetPointCount(OGR_G_GetGeometryRef(poly, r));
            rings += (size_t)nr;
        }
        f->pt_first[p + 1] = pts;
        f->ring_first[p + 1] = rings;
    }
    for (size_t p = 0; p < set->n; p++) {
        f->pt_first[p + 1] += f->pt_first[p];
        f->ring_first[p + 1] += f->ring_first[p];
    }
    size_t n_pts = f->n_pts = f->pt_first[set->n], n_rings = f->n_rings = f->ring_first[set->n];
    f->x = labels_mem_alloc((n_pts + 1) * sizeof(double));
    f->y = labels_mem_alloc((n_pts + 1) * sizeof(double));
    f->ring_end = labels_mem_alloc((n_rings + 1) * sizeof(size_t));
    if (!f->x || !f->y || !f->ring_end)
        return mc_fail("parcels %s: out of memory for %zu points", set->source_path, n_pts);
    return MC_OK;
}

/* Copies the rings, dropping repeated consecutive points and the closing point
 * (rings are closed implicitly): a zero-length edge adds nothing to the pixel rule,
 * and each point dropped is one PROJ need not transform. */
static void flat_fill_one(const parcel_set *set, labels_flat *f, size_t p)
{
    OGRGeometryH g = set->geometries[p];
    size_t off = f->pt_first[p], ring = f->ring_first[p];
    double *x = f->x, *y = f->y;
    for (size_t k = 0; g && k < geom_n_polygons(g); k++) {
        OGRGeometryH poly = geom_polygon(g, k);
        int nr = OGR_G_GetGeometryCount(poly);
        for (int r = 0; r < nr; r++) {
            OGRGeometryH lr = OGR_G_GetGeometryRef(poly, r);
            int np = OGR_G_GetPointCount(lr);
            OGR_G_GetPoints(lr, x + off, sizeof(double), y + off, sizeof(double), NULL, 0);
            size_t w = off;
            for (size_t i = off; i < off + (size_t)np; i++) {
                if (w > off && x[i] == x[w - 1] && y[i] == y[w - 1])
                    continue;
                x[w] = x[i];
                y[w] = y[i];
                w++;
            }
            if (w - off > 1 && x[w - 1] == x[off] && y[w - 1] == y[off])
                w--;
            off = w;
            f->ring_end[ring++] = off - f->pt_first[p];
        }
    }
    f->pt_end[p] = off;
}

/* The tile's footprint in the parcels' CRS, as a box widened by 2 % of its size
 * each side: its boundary densified (64 points an edge) and transformed back. A
 * parcel whose own box misses it cannot touch the tile and is not transformed.
 * Returns 0 when the footprint does not transform (then nothing is skipped). */
static int footprint_in_source(const parcel_set *set, OGRSpatialReferenceH dst,
                               const labels_grid *g, double box[4])
{
    enum { PER_EDGE = 64, N = 4 * PER_EDGE };
    OGRCoordinateTransformationH back = OCTNewCoordinateTransformation(dst, set->srs);
    if (!back)
        return 0;
    double x[N], y[N], w = g->width * g->dx, h = g->height * g->dy;
    int ok[N];
    for (int k = 0; k < PER_EDGE; k++) {
        double t = (double)k / PER_EDGE;
        x[k] = g->x0 + t * w, y[k] = g->y0;
        x[PER_EDGE + k] = g->x0 + w, y[PER_EDGE + k] = g->y0 + t * h;
        x[2 * PER_EDGE + k] = g->x0 + w - t * w, y[2 * PER_EDGE + k] = g->y0 + h;
        x[3 * PER_EDGE + k] = g->x0, y[3 * PER_EDGE + k] = g->y0 + h - t * h;
    }
    int all = OCTTransformEx(back, N, x, y, NULL, ok);
    OCTDestroyCoordinateTransformation(back);
    box[0] = box[2] = INFINITY;
    box[1] = box[3] = -INFINITY;
    for (int k = 0; all && k < N; k++) {
        if (!ok[k] || !isfinite(x[k]) || !isfinite(y[k]))
            return 0;
        box[0] = x[k] < box[0] ? x[k] : box[0];
        box[1] = x[k] > box[1] ? x[k] : box[1];
        box[2] = y[k] < box[2] ? y[k] : box[2];
        box[3] = y[k] > box[3] ? y[k] : box[3];
    }
    if (!all)
        return 0;
    double mx = 0.02 * (box[1] - box[0]), my = 0.02 * (box[3] - box[2]);
    box[0] -= mx, box[1] += mx, box[2] -= my, box[3] += my;
    return 1;
}

/* 1 where parcel p's points (still in the source CRS) miss the box. */
static int flat_outside(const labels_flat *f, size_t p, const double box[4])
{
    for (size_t k = f->pt_first[p]; k < f->pt_end[p]; k++)
        if (f->x[k] >= box[0] && f->x[k] <= box[1] && f->y[k] >= box[2] && f->y[k] <= box[3])
            return 0;
    /* no point inside; the parcel may still span the box: compare the boxes */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t k = f->pt_first[p]; k < f->pt_end[p]; k++) {
        x0 = f->x[k] < x0 ? f->x[k] : x0;
        x1 = f->x[k] > x1 ? f->x[k] : x1;
        y0 = f->y[k] < y0 ? f->y[k] : y0;
        y1 = f->y[k] > y1 ? f->y[k] : y1;
    }
    return x1 < box[0] || x0 > box[1] || y1 < box[2] || y0 > box[3];
}

static void report_untransformed(const parcel_set *set, const unsigned char *bad,
                                 const tile_grid *tile)
{
    size_t n_bad = 0;
    for (size_t p = 0; p < set->n; p++)
        if (bad[p] == 2 && n_bad++ < 20)
            log_warn("parcels %s: parcel %s does not transform to EPSG:%d (tile %s); left out",
                     set->source_path, set->ids[p], tile->epsg, tile->tile_id);
    if (n_bad > 20)
        log_warn("parcels %s: %zu parcels in all do not transform to EPSG:%d", set->source_path,
                 n_bad, tile->epsg);
}

/* Reprojects the parcels that can touch the tile (one transformation per thread);
 * a parcel whose points do not all transform is reported and left out. */
static int flat_transform(const parcel_set *set, labels_flat *f, OGRSpatialReferenceH dst,
                          const tile_grid *tile, const labels_grid *g)
{
    int nt = omp_get_max_threads();
    OGRCoordinateTransformationH *ct = calloc((size_t)nt, sizeof *ct);
    unsigned char *bad = calloc(set->n + 1, 1); /* 1: off the tile, 2: failed */
    size_t max_pts = 0;
    for (size_t p = 0; p < set->n; p++)
        if (f->pt_first[p + 1] - f->pt_first[p] > max_pts)
            max_pts = f->pt_first[p + 1] - f->pt_first[p];
    int *ok = malloc((size_t)nt * (max_pts + 1) * sizeof *ok);
    int rc = MC_OK;
    if (!ct || !bad || !ok)
        rc = mc_fail("parcels %s: out of memory", set->source_path);
    for (int t = 0; rc == MC_OK && t < nt; t++)
        if (!(ct[t] = OCTNewCoordinateTransformation(set->srs, dst)))
            rc = mc_fail("parcels %s: no transformation from the parcels' CRS to EPSG:%d "
                         "(tile %s)", set->source_path, tile->epsg, tile->tile_id);
    double box[4];
    int have_box = rc == MC_OK && footprint_in_source(set, dst, g, box);
    if (rc == MC_OK) {
#pragma omp parallel for schedule(dynamic, 512)
        for (size_t p = 0; p < set->n; p++) {
            size_t a = f->pt_first[p], n = f->pt_end[p] - a;
            if (n == 0)
                continue;
            if (have_box && flat_outside(f, p, box)) {
                bad[p] = 1;
                continue;
            }
            int *okp = ok + (size_t)omp_get_thread_num() * (max_pts + 1);
            int all = OCTTransformEx(ct[omp_get_thread_num()], (int)n, f->x + a, f->y + a, NULL, okp);
            for (size_t k = 0; all && k < n; k++)
                all = okp[k] && isfinite(f->x[a + k]) && isfinite(f->y[a + k]);
            if (!all)
                bad[p] = 2;
        }
        for (size_t p = 0; p < set->n; p++)
            if (bad[p])
                f->row_lo[p] = -1; /* marker read by flat_rows: no rows */
        report_untransformed(set, bad, tile);
    }
    for (int t = 0; ct && t < nt; t++)
        if (ct[t])
            OCTDestroyCoordinateTransformation(ct[t]);
    free(ct);
    free(bad);
    free(ok);
    return rc;
}

/* Rows each parcel may cover; parcels wholly off the tile get none. */
static void flat_rows(labels_flat *f, const labels_grid *g)
{
    double west = g->x0, east = g->x0 + g->width * g->dx;
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < f->n; p++) {
        size_t a = f->pt_first[p], b = f->pt_end[p];
        if (a == b || f->row_lo[p] < 0) {
            f->row_lo[p] = f->row_hi[p] = 0;
            continue;
        }
        double x0 = f->x[a], x1 = f->x[a], y0 = f->y[a], y1 = f->y[a];
        int finite = 1;
        for (size_t k = a; k < b; k++) {
            x0 = fmin(x0, f->x[k]);
            x1 = fmax(x1, f->x[k]);
            y0 = fmin(y0, f->y[k]);
            y1 = fmax(y1, f->y[k]);
            finite &= isfinite(f->x[k]) && isfinite(f->y[k]);
        }
        if (!finite || x1 < west || x0 > east) {
            f->row_lo[p] = f->row_hi[p] = 0;
            continue;
        }
        labels_grid_rows_near(g, y0, y1, &f->row_lo[p], &f->row_hi[p]);
    }
}

static int flat_build(const parcel_set *set, const tile_grid *tile, const labels_grid *g,
                      labels_flat *f)
{
    if (flat_count(set, f))
        return MC_ERR;
#pragma omp parallel for schedule(dynamic, 1024)
    for (size_t p = 0; p < set->n; p++)
        flat_fill_one(set, f, p);
    OGRSpatialReferenceH dst = OSRNewSpatialReference(NULL);
    if (!dst || OSRImportFromEPSG(dst, tile->epsg) != OGRERR_NONE) {
        if (dst)
            OSRDestroySpatialReference(dst);
        return mc_fail("tile %s: unknown CRS EPSG:%d", tile->tile_id, tile->epsg);
    }
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    int rc = MC_OK;
    if (!OSRIsSame(set->srs, dst))
        rc = flat_transform(set, f, dst, tile, g);
    OSRDestroySpatialReference(dst);
    if (rc == MC_OK)
        flat_rows(f, g);
    return rc;
}

/* ---- rasterising in bands of rows ---- */

static void write_runs(label_raster *lr, uint32_t label, const labels_run *runs, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint32_t *row = lr->labels + (size_t)runs[k].row * (size_t)lr->width;
        for (int32_t x = runs[k].x0; x < runs[k].x1; x++) {
            uint32_t v = row[x];
            row[x] = (v == 0 || v == label) ? label : LABELS_OVERLAP;
        }
    }
}

/* Parcel indices per band of LABELS_BAND_ROWS rows (a parcel may be in several). */
static int bands_build(const labels_flat *f, int height, size_t **off, size_t **items,
                       size_t *n_bands)
{
    size_t nb = (size_t)(height + LABELS_BAND_ROWS - 1) / LABELS_BAND_ROWS;
    size_t *o = calloc(nb + 1, sizeof *o), *cur = calloc(nb + 1, sizeof *cur);
    if (!o || !cur) {
        free(o);
        free(cur);
        return mc_fail("label raster: out of memory");
    }
    for (size_t p = 0; p < f->n; p++)
        if (f->row_lo[p] < f->row_hi[p])
            for (int b = f->row_lo[p] / LABELS_BAND_ROWS; b <= (f->row_hi[p] - 1) / LABELS_BAND_ROWS; b++)
                o[b + 1]++;
    for (size_t b = 0; b < nb; b++)
        o[b + 1] += o[b];
    size_t *it = malloc((o[nb] + 1) * sizeof *it);
    if (!it) {
        free(o);
        free(cur);
        return mc_fail("label raster: out of memory");
    }
    memcpy(cur, o, nb * sizeof *cur);
    for (size_t p = 0; p < f->n; p++)
        if (f->row_lo[p] < f->row_hi[p])
            for (int b = f->row_lo[p] / LABELS_BAND_ROWS; b <= (f->row_hi[p] - 1) / LABELS_BAND_ROWS; b++)
                it[cur[b]++] = p;
    free(cur);
    *off = o;
    *items = it;
    *n_bands = nb;
    return MC_OK;
}

static int rasterise(const parcel_set *set, const labels_flat *f, const labels_grid *g,
                     double buffer_m, label_raster *lr)
{
    size_t *off, *items, nb;
    if (bands_build(f, g->height, &off, &items, &nb))
        return MC_ERR;
    int oom = 0;
#pragma omp parallel
    {
        labels_scan_scratch *s = labels_scan_scratch_new();
        if (!s) {
#pragma omp atomic write
            oom = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t b = 0; b < nb; b++) {
            int lo = (int)b * LABELS_BAND_ROWS, hi = lo + LABELS_BAND_ROWS;
            for (size_t k = off[b]; s && k < off[b + 1]; k++) {
                size_t p = items[k];
                labels_polygon poly = {f->x + f->pt_first[p], f->y + f->pt_first[p],
                                       f->ring_end + f->ring_first[p],
                                       f->ring_first[p + 1] - f->ring_first[p]};
                const labels_run *runs;
                size_t n_runs;
                if (labels_scan_polygon(g, &poly, buffer_m, lo, hi, s, &runs, &n_runs)) {
#pragma omp atomic write
                    oom = 1;
                    break;
                }
                write_runs(lr, (uint32_t)(p + 1), runs, n_runs);
            }
        }
        labels_scan_scratch_free(s);
    }
    free(off);
    free(items);
    if (oom)
        return mc_fail("parcels %s: out of memory while rasterising", set->source_path);
    return MC_OK;
}

/* ---- ownership, overlaps, counts ---- */

typedef struct owner_nb {
    double west, east, south, north; /* footprint [west, east) x (south, north] */
    double cx, cy;                   /* centre */
    int before;                      /* its id sorts before this tile's: it wins ties */
} owner_nb;

typedef struct owner_ctx {
    const labels_grid *g;
    double cx, cy; /* this tile's centre */
    owner_nb *nb;
    size_t n;
    size_t n_zone; /* tiles of a neighbouring UTM zone that take pixels */
    int *zone_cols; /* [2 * (k * height + j)]: the columns [a, b) of row j zone tile k takes */
} owner_ctx;

/* Whether neighbour u's centre is nearer to (x, y) than this tile's (ties by id).
 * For grids on multiples of 5 m every term is an exact integer in a double, so
 * both tiles take the same decision for a shared centre. */
static int owner_closer(const owner_ctx *o, const owner_nb *u, double x, double y)
{
    double ux = x - u->cx, uy = y - u->cy, tx = x - o->cx, ty = y - o->cy;
    double du = ux * ux + uy * uy, dt = tx * tx + ty * ty;
    return du < dt || (du == dt && u->before);
}

/* The columns [*a, *b) of row j that neighbour u takes: those in its footprint
 * nearer to its centre. The bisector is a straight line: estimate, then settle
 * the boundary with the exact predicate. */
static void owner_lost_range(const owner_ctx *o, const owner_nb *u, int j, int *a, int *b)
{
    const labels_grid *g = o->g;
    double y = labels_grid_row_y(g, j);
    *a = *b = 0;
    if (!(y > u->south && y <= u->north))
        return;
    int fa = labels_grid_first_col_ge(g, u->west), fb = labels_grid_first_col_ge(g, u->east);
    if (fa >= fb)
        return;
    if (u->cx == o->cx) {
        if (owner_closer(o, u, labels_grid_col_x(g, fa), y))
            *a = fa, *b = fb;
        return;
    }
    double ey = (y - u->cy) * (y - u->cy) - (y - o->cy) * (y - o->cy);
    double xs = 0.5 * (u->cx + o->cx) - ey / (2.0 * (o->cx - u->cx));
    int k = labels_grid_first_col_ge(g, xs);
    k = k < fa ? fa : k > fb ? fb : k;
    if (u->cx > o->cx) { /* u takes the east side [k, fb) */
        while (k > fa && owner_closer(o, u, labels_grid_col_x(g, k - 1), y))
            k--;
        while (k < fb && !owner_closer(o, u, labels_grid_col_x(g, k), y))
            k++;
        *a = k, *b = fb;
    } else { /* u takes the west side [fa, k) */
        while (k < fb && owner_closer(o, u, labels_grid_col_x(g, k), y))
            k++;
        while (k > fa && !owner_closer(o, u, labels_grid_col_x(g, k - 1), y))
            k--;
        *a = fa, *b = k;
    }
}

/* ---- ownership across UTM zones ----
 * A pixel centre of a tile in UTM zone Z whose longitude lies in zone Z +- 1 (same
 * hemisphere) belongs to that zone when one of its tiles contains the point; then
 * it is cleared here. Along a row (constant northing) longitude, and the easting
 * and northing in the other zone's CRS, change monotonically with x, so each row's
 * lost columns are one interval per such tile, found by bisection with exact
 * per-point transforms (about 70 a row and tile, and only for tiles near a zone
 * edge). Centres in the tile's own band are never taken by another zone. */

/* The UTM zone 1..60 of a WGS 84 UTM code, 0 otherwise; *hemi 1 north, -1 south. */
static int utm_zone(int epsg, int *hemi)
{
    *hemi = epsg >= 32601 && epsg <= 32660 ? 1 : epsg >= 32701 && epsg <= 32760 ? -1 : 0;
    return *hemi == 1 ? epsg - 32600 : *hemi == -1 ? epsg - 32700 : 0;
}

static OGRCoordinateTransformationH ct_between(int from_epsg, int to_epsg)
{
    OGRSpatialReferenceH a = OSRNewSpatialReference(NULL), b = OSRNewSpatialReference(NULL);
    OGRCoordinateTransformationH ct = NULL;
    if (a && b && OSRImportFromEPSG(a, from_epsg) == OGRERR_NONE &&
        OSRImportFromEPSG(b, to_epsg) == OGRERR_NONE) {
        OSRSetAxisMappingStrategy(a, OAMS_TRADITIONAL_GIS_ORDER);
        OSRSetAxisMappingStrategy(b, OAMS_TRADITIONAL_GIS_ORDER);
        ct = OCTNewCoordinateTransformation(a, b);
    }
    if (a)
        OSRDestroySpatialReference(a);
    if (b)
        OSRDestroySpatialReference(b);
    return ct;
}

/* Whether tile u's footprint meets tile t's footprint brought into u's CRS (its
 * boundary, 16 points an edge, as a box: a prefilter; rows are tested exactly). */
static int zone_overlaps(const tile_grid *t, const tile_grid *u, int *meets)
{
    enum { PER_EDGE = 16, N = 4 * PER_EDGE };
    OGRCoordinateTransformationH ct = ct_between(t->epsg, u->epsg);
    if (!ct)
        return mc_fail("tile %s: no transformation from EPSG:%d to EPSG:%d (tile %s)",
                       t->tile_id, t->epsg, u->epsg, u->tile_id);
    double w, e, s, n, x[N], y[N];
    int ok[N];
    tile_footprint(t, &w, &e, &s, &n);
    for (int k = 0; k < PER_EDGE; k++) {
        double f = (double)k / PER_EDGE;
        x[k] = w + f * (e - w), y[k] = n;
        x[PER_EDGE + k] = e, y[PER_EDGE + k] = n + f * (s - n);
        x[2 * PER_EDGE + k] = e - f * (e - w), y[2 * PER_EDGE + k] = s;
        x[3 * PER_EDGE + k] = w, y[3 * PER_EDGE + k] = s + f * (n - s);
    }
    int all = OCTTransformEx(ct, N, x, y, NULL, ok);
    OCTDestroyCoordinateTransformation(ct);
    double bw = INFINITY, be = -INFINITY, bs = INFINITY, bn = -INFINITY;
    for (int k = 0; all && k < N; k++) {
        if (!ok[k] || !isfinite(x[k]) || !isfinite(y[k]))
            return mc_fail("tile %s: footprint does not transform to EPSG:%d (tile %s)",
                           t->tile_id, u->epsg, u->tile_id);
        bw = fmin(bw, x[k]), be = fmax(be, x[k]), bs = fmin(bs, y[k]), bn = fmax(bn, y[k]);
    }
    if (!all)
        return mc_fail("tile %s: footprint does not transform to EPSG:%d (tile %s)",
                       t->tile_id, u->epsg, u->tile_id);
    double uw, ue, us, un;
    tile_footprint(u, &uw, &ue, &us, &un);
    *meets = uw < be && ue > bw && us < bn && un > bs;
    return MC_OK;
}

int labels_zone_neighbours(const tile_grid *tile, const tile_grid *all_tiles, size_t n_tiles,
                           const tile_grid ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int hemi, zone = utm_zone(tile->epsg, &hemi);
    if (!zone || n_tiles == 0)
        return MC_OK;
    const tile_grid **v = malloc(n_tiles * sizeof *v);
    if (!v)
        return mc_fail("tile %s: out of memory", tile->tile_id);
    size_t k = 0;
    for (size_t i = 0; i < n_tiles; i++) {
        int uh, uz = utm_zone(all_tiles[i].epsg, &uh), meets = 0;
        if (uh != hemi || (uz != zone - 1 && uz != zone + 1))
            continue;
        if (zone_overlaps(tile, &all_tiles[i], &meets)) {
            free(v);
            return MC_ERR;
        }
        if (meets)
            v[k++] = &all_tiles[i];
    }
    qsort(v, k, sizeof *v, cmp_tile_ptr);
    *out = v;
    *n = k;
    return MC_OK;
}

/* Component comp (0: x, 1: y) of column i's centre on row y, transformed by ct. */
static int zone_coord(OGRCoordinateTransformationH ct, const labels_grid *g, int i, double y,
                      int comp, double *v)
{
    double px = labels_grid_col_x(g, i), py = y;
    int ok = 0;
    if (!OCTTransformEx(ct, 1, &px, &py, NULL, &ok) || !ok || !isfinite(px) || !isfinite(py))
        return -1;
    *v = comp ? py : px;
    return 0;
}

/* The first column in [lo, hi) where the transformed coordinate satisfies
 * v >= thr (above, strict: v > thr) or v <= thr (!above, strict: v < thr); the
 * condition must go from false to true along the row. hi if none; -1 on failure. */
static int zone_first(OGRCoordinateTransformationH ct, const labels_grid *g, double y, int lo,
                      int hi, int comp, double thr, int above, int strict)
{
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        double v;
        if (zone_coord(ct, g, mid, y, comp, &v))
            return -1;
        int c = above ? (strict ? v > thr : v >= thr) : (strict ? v < thr : v <= thr);
        if (c)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The columns [*a, *b) within [lo, hi) of row y whose centres lie in u's footprint
 * [west, east) x (south, north] (ct: this tile's CRS to u's). */
static int zone_in_footprint(OGRCoordinateTransformationH ct, const labels_grid *g, double y,
                             int lo, int hi, const tile_grid *u, int *a, int *b)
{
    double uw, ue, us, un, n0, n1;
    tile_footprint(u, &uw, &ue, &us, &un);
    *a = *b = lo;
    if (lo >= hi)
        return 0;
    if (zone_coord(ct, g, lo, y, 1, &n0) || zone_coord(ct, g, hi - 1, y, 1, &n1))
        return -1;
    int a1 = zone_first(ct, g, y, lo, hi, 0, uw, 1, 0);
    int b1 = zone_first(ct, g, y, lo, hi, 0, ue, 1, 0);
    int a2, b2;
    if (n1 > n0) { /* northing rises along the row */
        a2 = zone_first(ct, g, y, lo, hi, 1, us, 1, 1);
        b2 = zone_first(ct, g, y, lo, hi, 1, un, 1, 1);
    } else if (n1 < n0) {
        a2 = zone_first(ct, g, y, lo, hi, 1, un, 0, 0);
        b2 = zone_first(ct, g, y, lo, hi, 1, us, 0, 0);
    } else {
        a2 = n0 > us && n0 <= un ? lo : hi;
        b2 = hi;
    }
    if (a1 < 0 || b1 < 0 || a2 < 0 || b2 < 0)
        return -1;
    int s = a1 > a2 ? a1 : a2, e = b1 < b2 ? b1 : b2;
    if (s < e)
        *a = s, *b = e;
    return 0;
}

/* Fills o->zone_cols for every row (rows in parallel, transformations per thread). */
static int zone_rows(const tile_grid *tile, const tile_grid **zn, owner_ctx *o)
{
    const labels_grid *g = o->g;
    int hemi, zone = utm_zone(tile->epsg, &hemi), fail = 0;
    double lon_w = (zone - 1) * 6.0 - 180.0, lon_e = zone * 6.0 - 180.0;
#pragma omp parallel
    {
        OGRCoordinateTransformationH ll = ct_between(tile->epsg, 4326);
        OGRCoordinateTransformationH *to = calloc(o->n_zone, sizeof *to);
        int bad = !ll || !to;
        for (size_t k = 0; !bad && k < o->n_zone; k++)
            bad = !(to[k] = ct_between(tile->epsg, zn[k]->epsg));
        if (bad) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int j = 0; j < g->height; j++) {
            double y = labels_grid_row_y(g, j);
            int kw = -2, ke = -2; /* band edges' columns, found when first needed */
            for (size_t k = 0; !bad && k < o->n_zone; k++) {
                int uh, east = utm_zone(zn[k]->epsg, &uh) > zone, lo, hi;
                if (east && ke == -2)
                    ke = zone_first(ll, g, y, 0, g->width, 0, lon_e, 1, 0);
                if (!east && kw == -2)
                    kw = zone_first(ll, g, y, 0, g->width, 0, lon_w, 1, 0);
                lo = east ? ke : 0, hi = east ? g->width : kw;
                int *ab = o->zone_cols + 2 * (k * (size_t)g->height + (size_t)j);
                if (lo < 0 || hi < 0 || zone_in_footprint(to[k], g, y, lo, hi, zn[k], ab, ab + 1))
                    bad = 1;
            }
            if (bad) {
#pragma omp atomic write
                fail = 1;
            }
        }
        for (size_t k = 0; to && k < o->n_zone; k++)
            if (to[k])
                OCTDestroyCoordinateTransformation(to[k]);
        free(to);
        if (ll)
            OCTDestroyCoordinateTransformation(ll);
    }
    if (fail)
        return mc_fail("tile %s: pixel centres do not transform between UTM zones (EPSG:%d, "
                       "EPSG:4326 and its neighbours)", tile->tile_id, tile->epsg);
    return MC_OK;
}

static int owner_init_zones(const tile_grid *tile, const tile_grid *all, size_t n_all,
                            owner_ctx *o)
{
    const tile_grid **zn;
    size_t n;
    if (labels_zone_neighbours(tile, all, n_all, &zn, &n))
        return MC_ERR;
    int rc = MC_OK;
    if (n > 0) {
        o->n_zone = n;
        o->zone_cols = calloc(2 * n * (size_t)o->g->height, sizeof *o->zone_cols);
        rc = o->zone_cols ? zone_rows(tile, zn, o)
                          : mc_fail("tile %s: out of memory", tile->tile_id);
    }
    free(zn);
    return rc;
}

static int owner_init(const tile_grid *tile, const tile_grid *all, size_t n_all,
                      const labels_grid *g, owner_ctx *o)
{
    const tile_grid **nbs;
    size_t n;
    if (labels_neighbours(tile, all, n_all, &nbs, &n))
        return MC_ERR;
    *o = (owner_ctx){g, g->x0 + 0.5 * g->width * g->dx, g->y0 + 0.5 * g->height * g->dy,
                     NULL, 0, 0, NULL};
    o->nb = calloc(n + 1, sizeof *o->nb);
    if (!o->nb) {
        free(nbs);
        return mc_fail("tile %s: out of memory", tile->tile_id);
    }
    for (size_t i = 0; i < n; i++) {
        owner_nb *u = &o->nb[i];
        tile_footprint(nbs[i], &u->west, &u->east, &u->south, &u->north);
        u->cx = 0.5 * (u->west + u->east);
        u->cy = 0.5 * (u->south + u->north);
        u->before = strcmp(nbs[i]->tile_id, tile->tile_id) < 0;
    }
    o->n = n;
    free(nbs);
    return owner_init_zones(tile, all, n_all, o);
}

/* Clears what other tiles own and overlap markers; counts; marks occupancy. */
static int finish(const owner_ctx *o, label_raster *lr)
{
    int nt = omp_get_max_threads();
    size_t nl = (size_t)lr->n_labels + 1;
    int64_t *counts = calloc((size_t)nt * nl, sizeof *counts);
    if (!counts)
        return mc_fail("label raster: out of memory for pixel counts");
    int n_cell_rows = (int)occ_rows(lr->height);
    size_t cols = occ_cols(lr->width);
#pragma omp parallel for schedule(dynamic, 4)
    for (int cr = 0; cr < n_cell_rows; cr++) {
        int64_t *cnt = counts + (size_t)omp_get_thread_num() * nl;
        uint8_t *occ = lr->occupancy + (size_t)cr * cols;
        int y1 = (cr + 1) * LABELS_OCC_CELL < lr->height ? (cr + 1) * LABELS_OCC_CELL : lr->height;
        for (int y = cr * LABELS_OCC_CELL; y < y1; y++) {
            uint32_t *row = lr->labels + (size_t)y * (size_t)lr->width;
            for (size_t i = 0; i < o->n; i++) {
                int a, b;
                owner_lost_range(o, &o->nb[i], y, &a, &b);
                if (a < b)
                    memset(row + a, 0, (size_t)(b - a) * sizeof *row);
            }
            for (size_t k = 0; k < o->n_zone; k++) {
                const int *ab = o->zone_cols + 2 * (k * (size_t)lr->height + (size_t)y);
                if (ab[0] < ab[1])
                    memset(row + ab[0], 0, (size_t)(ab[1] - ab[0]) * sizeof *row);
            }
            for (int x = 0; x < lr->width; x++) {
                uint32_t v = row[x];
                if (!v)
                    continue;
                if (v == LABELS_OVERLAP) {
                    row[x] = 0;
                    continue;
                }
                cnt[v]++;
                occ[x / LABELS_OCC_CELL] = 1;
            }
        }
    }
    for (int t = 0; t < nt; t++)
        for (size_t l = 1; l < nl; l++)
            lr->n_pixels[l] += counts[(size_t)t * nl + l];
    free(counts);
    return MC_OK;
}

int labels_build(const parcel_set *set, const tile_grid *tile, const tile_grid *all_tiles,
                 size_t n_tiles, double inner_buffer_m, label_raster **out)
{
    *out = NULL;
    labels_grid g;
    if (labels_tile_scan_grid(tile, &g))
        return MC_ERR;
    if (!isfinite(inner_buffer_m) || inner_buffer_m < 0)
        return mc_fail("tile %s: inner buffer %g m must be >= 0", tile->tile_id, inner_buffer_m);
    if (!set->srs)
        return mc_fail("parcels %s: no CRS", set->source_path ? set->source_path : "(unnamed)");
    if (set->n >= LABELS_OVERLAP - 1)
        return mc_fail("parcels %s: too many parcels (%zu)", set->source_path, set->n);
    labels_flat f = {0};
    owner_ctx o = {0};
    label_raster *lr = NULL;
    double t0 = omp_get_wtime(), t1 = 0, t2 = 0, t3 = 0;
    int rc = flat_build(set, tile, &g, &f);
    if (rc == MC_OK)
        rc = owner_init(tile, all_tiles, n_tiles, &g, &o);
    if (rc == MC_OK)
        rc = labels_alloc(tile->width, tile->height, (uint32_t)set->n, &lr);
    t1 = omp_get_wtime();
    if (rc == MC_OK)
        rc = rasterise(set, &f, &g, inner_buffer_m, lr);
    t2 = omp_get_wtime();
    if (rc == MC_OK)
        rc = finish(&o, lr);
    t3 = omp_get_wtime();
    log_debug("labels for tile %s: geometry %.3f s, rasterise %.3f s, ownership and counts "
              "%.3f s", tile->tile_id, t1 - t0, t2 - t1, t3 - t2);
    flat_free(&f);
    free(o.nb);
    free(o.zone_cols);
    if (rc != MC_OK) {
        labels_free(lr);
        return mc_fail_wrap("labels for tile %s", tile->tile_id);
    }
    *out = lr;
    return MC_OK;
}
