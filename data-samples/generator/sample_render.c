/* Rendering one window of a tile on one date: surface NDVI from the parcels'
 * trajectories and the land cover, converted to red/NIR reflectance (and, where
 * B11 is wanted, SWIR from NIR and the surface NDMI), blurred by a small point
 * spread function (so edge pixels mix, as real ones do), then the atmosphere:
 * clouds, thin cirrus at their fringes, shadows displaced by the sun, and the
 * swath edge. B11 is the mean of the four 10 m pixels of each 20 m cell. Everything is a pure function of ground position, date and
 * seed, so windows, threads and overlapping tiles all agree. */
#include <gdal.h>
#include <gdal_alg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sample.h"
#include "sample_prng.h"

/* Fixed sun: azimuth ~165 deg, elevation ~50 deg, clouds ~1.2 km high, so a
 * shadow lies about 1 km north-north-west of its cloud (whole 20 m cells). */
#define SHADOW_DX_M (-260.0)
#define SHADOW_DY_M 960.0

static const float cover_sigma_static[LC_COUNT] = {0.04f, 0.04f, 0.03f, 0.04f, 0.05f, 0.0f};
static const float cover_sigma_date[LC_COUNT] = {0.02f, 0.03f, 0.03f, 0.03f, 0.04f, 0.0f};

static int64_t global_col(const sample_tile *t, int x) { return llround(t->x0 / SAMPLE_PIXEL_M) + x; }
static int64_t global_row(const sample_tile *t, int y) { return llround(-t->y0 / SAMPLE_PIXEL_M) + y; }

/* Roads every few km (gently curved), lakes, forest, villages, and between them
 * unregistered grassland and arable land. */
static sample_cover landcover_at(uint64_t seed, double x, double y)
{
    double rx = fmod(x - 800.0 - 300.0 * sin(y / 1700.0), 3700.0);
    double ry = fmod(y - 600.0 - 250.0 * sin(x / 2100.0), 2900.0);
    if (fabs(rx) < 7.0 || fabs(ry) < 7.0)
        return LC_BARE;
    if (prng_value_noise(seed ^ 0x1a4e, x / 900.0, y / 900.0) > 0.86)
        return LC_WATER;
    double forest = 0.7 * prng_value_noise(seed ^ 0xf0e5, x / 1800.0, y / 1800.0) +
                    0.3 * prng_value_noise(seed ^ 0xf0e6, x / 400.0, y / 400.0);
    if (forest > 0.58)
        return LC_FOREST;
    if (prng_value_noise(seed ^ 0x7111, x / 600.0, y / 600.0) > 0.85)
        return LC_BARE;
    return prng_value_noise(seed ^ 0x6a55, x / 1200.0, y / 1200.0) > 0.35 ? LC_GRASS : LC_CROP;
}

static int rasterize(GDALDatasetH ds, int band, void **geoms, const double *burn, size_t n)
{
    if (n == 0)
        return MC_OK;
    int bands[1] = {band};
    CPLErr e = GDALRasterizeGeometries(ds, 1, bands, (int)n, (OGRGeometryH *)geoms, NULL, NULL,
                                       burn, NULL, NULL, NULL);
    return e == CE_None ? MC_OK : mc_fail("rasterising %zu geometries: %s", n, CPLGetLastErrorMsg());
}

/* Labels and ponds on the window plus a one-pixel halo, through GDAL's rasteriser
 * (pixel-centre rule) on an in-memory grid. */
static int rasterize_window(render_static *st, void **label_geoms, const int32_t *label_values,
                            size_t n_label, void **pond_geoms, size_t n_pond, int32_t *ponds)
{
    int W = st->w + 2, H = st->h + 2;
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("MEM"), "", W, H, 2, GDT_Int32, NULL);
    if (!ds)
        return mc_fail("cannot create an in-memory raster %dx%d", W, H);
    double gt[6] = {st->tile->x0 + SAMPLE_PIXEL_M * (st->x0 - 1), SAMPLE_PIXEL_M, 0,
                    st->tile->y0 - SAMPLE_PIXEL_M * (st->y0 - 1), 0, -SAMPLE_PIXEL_M};
    GDALSetGeoTransform(ds, gt);
    double *burn = malloc(sizeof(double) * ((n_label > n_pond ? n_label : n_pond) + 1));
    int rc = burn ? MC_OK : mc_fail("out of memory for burn values");
    for (size_t i = 0; rc == MC_OK && i < n_label; i++)
        burn[i] = label_values[i];
    if (rc == MC_OK)
        rc = rasterize(ds, 1, label_geoms, burn, n_label);
    for (size_t i = 0; rc == MC_OK && i < n_pond; i++)
        burn[i] = 1;
    if (rc == MC_OK)
        rc = rasterize(ds, 2, pond_geoms, burn, n_pond);
    if (rc == MC_OK &&
        (GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, W, H, st->label, W, H, GDT_Int32, 0, 0) != CE_None ||
         GDALRasterIO(GDALGetRasterBand(ds, 2), GF_Read, 0, 0, W, H, ponds, W, H, GDT_Int32, 0, 0) != CE_None))
        rc = mc_fail("reading back the rasterised labels");
    free(burn);
    GDALClose(ds);
    return rc;
}

int render_static_build(render_static *st, const sample_tile *tile, int x0, int y0, int w, int h,
                        uint64_t seed, void **label_geoms, const int32_t *label_values,
                        size_t n_label_geoms, void **pond_geoms, size_t n_pond_geoms,
                        const float *label_sigma_static)
{
    memset(st, 0, sizeof *st);
    st->tile = tile, st->x0 = x0, st->y0 = y0, st->w = w, st->h = h;
    size_t n = (size_t)(w + 2) * (size_t)(h + 2);
    st->label = malloc(n * sizeof *st->label);
    st->cover = malloc(n);
    st->offset = malloc(n * sizeof *st->offset);
    int32_t *ponds = malloc(n * sizeof *ponds);
    if (!st->label || !st->cover || !st->offset || !ponds) {
        free(ponds);
        render_static_free(st);
        return mc_fail("out of memory for a %dx%d window of tile %s", w, h, tile->id);
    }
    if (rasterize_window(st, label_geoms, label_values, n_label_geoms, pond_geoms, n_pond_geoms,
                         ponds) != MC_OK) {
        free(ponds);
        render_static_free(st);
        return mc_fail_wrap("tile %s", tile->id);
    }
    int W = w + 2;
#pragma omp parallel for schedule(static)
    for (int j = 0; j < h + 2; j++) {
        int64_t grow = global_row(tile, y0 - 1 + j);
        double y = tile->y0 - SAMPLE_PIXEL_M * (y0 - 1 + j + 0.5);
        for (int i = 0; i < W; i++) {
            size_t k = (size_t)j * W + i;
            int64_t gcol = global_col(tile, x0 - 1 + i);
            double x = tile->x0 + SAMPLE_PIXEL_M * (x0 - 1 + i + 0.5);
            int32_t label = st->label[k];
            sample_cover c = label > 0 ? LC_PARCEL : ponds[k] ? LC_WATER : landcover_at(seed, x, y);
            float sigma = label > 0 ? label_sigma_static[label] : cover_sigma_static[c];
            st->cover[k] = (uint8_t)c;
            st->offset[k] = (float)(sigma * prng_hash_normal(prng_hash(seed, (uint64_t)gcol, (uint64_t)grow, 0x5747)));
        }
    }
    free(ponds);
    return MC_OK;
}

void render_static_free(render_static *st)
{
    free(st->label);
    free(st->cover);
    free(st->offset);
    st->label = NULL, st->cover = NULL, st->offset = NULL;
}

/* Vegetation raises NIR; red follows from NDVI = (nir - red) / (nir + red). */
static void ndvi_to_reflectance(double ndvi, int water, double brightness, float *red, float *nir)
{
    double n = water ? 0.025 : 0.17 + 0.27 * fmin(1.0, fmax(0.0, (ndvi - 0.1) / 0.75));
    n *= brightness;
    *nir = (float)n;
    *red = (float)(n * (1.0 - ndvi) / (1.0 + ndvi));
}

/* How a pixel's NDMI moves with its NDVI deviation: the slope of the NDVI-NDMI
 * relation (sample_ndmi_of_ndvi) at the mean; none for bare ground and water. */
static double ndmi_slope(sample_cover c, double mean_ndvi)
{
    if (c == LC_WATER || c == LC_BARE)
        return 0.0;
    return mean_ndvi >= 0.55 ? 1.2 : mean_ndvi >= 0.35 ? 0.5 : 0.0;
}

/* SWIR from NIR and NDMI = (nir - swir) / (nir + swir); the pixel's NDMI is the
 * mean plus the NDVI deviation carried through the relation plus its own
 * per-date noise (sd 0.02), so the parcel mean stays the mean. */
static float surface_swir(const render_values *v, sample_cover c, int32_t label, double mean_ndvi,
                          double ndvi_dev, uint64_t pixel_hash, float nir)
{
    double mean = label > 0 ? v->label_ndmi[label] : v->cover_ndmi[c];
    double ndmi = mean + ndmi_slope(c, mean_ndvi) * ndvi_dev + 0.02 * prng_hash_normal(pixel_hash);
    ndmi = fmin(0.8, fmax(-0.6, ndmi));
    return (float)(nir * (1.0 - ndmi) / (1.0 + ndmi));
}

static void surface_row(const render_static *st, const sample_date *date, const render_values *v,
                        int j, float *red, float *nir, float *swir)
{
    int W = st->w + 2;
    int64_t grow = global_row(st->tile, st->y0 - 1 + j);
    for (int i = 0; i < W; i++) {
        size_t k = (size_t)j * W + i;
        uint64_t gcol = (uint64_t)global_col(st->tile, st->x0 - 1 + i);
        int32_t label = st->label[k];
        sample_cover c = (sample_cover)st->cover[k];
        double mean = label > 0 ? v->label_ndvi[label] : v->cover_ndvi[c];
        double sigma = label > 0 ? v->label_sigma_date[label] : cover_sigma_date[c];
        double noise = sigma * prng_hash_normal(prng_hash(date->seed, gcol, (uint64_t)grow, 1));
        double ndvi = mean + st->offset[k] + noise;
        double dev = st->offset[k] + noise;
        ndvi = fmin(0.95, fmax(-0.6, ndvi));
        double bright = 1.0 + 0.03 * prng_hash_normal(prng_hash(date->seed, gcol, (uint64_t)grow, 2));
        ndvi_to_reflectance(ndvi, c == LC_WATER, bright, &red[k], &nir[k]);
        if (swir)
            swir[k] = surface_swir(v, c, label, mean, dev, prng_hash(date->seed, gcol, (uint64_t)grow, 5),
                                   nir[k]);
    }
}

/* 3x3 binomial point spread function: centre 1/4, edges 1/8, corners 1/16. */
static float psf(const float *a, int W, int i, int j)
{
    const float *r0 = a + (size_t)j * W + i, *r1 = r0 + W, *r2 = r1 + W;
    return (r0[0] + 2 * r0[1] + r0[2] + 2 * (r1[0] + 2 * r1[1] + r1[2]) + r2[0] + 2 * r2[1] + r2[2]) / 16.0f;
}

/* Water clouds are bright in SWIR 1.6 um too, a little less than in NIR; ice
 * (cirrus) absorbs there, so thin cirrus and haze are darker in SWIR. A
 * shadow, lit by the (bluer) sky alone, loses more SWIR than NIR. */
typedef struct atmosphere {
    uint8_t scl;          /* 0: take the surface class */
    float alpha;          /* cloud blend */
    float cloud_red, cloud_nir, cloud_swir;
    float shade_red, shade_nir, shade_swir;
} atmosphere;

static atmosphere atmosphere_at(const sample_date *date, double x, double y, uint64_t cell_hash)
{
    atmosphere a = {.scl = 0, .alpha = 0.0f, .shade_red = 1.0f, .shade_nir = 1.0f, .shade_swir = 1.0f};
    double t = date->cloud_threshold;
    if (t > 1.0)
        return a;
    double c = sample_cloud_field(date->seed, x, y);
    if (c >= t) { /* cloud: thicker (brighter, more opaque) towards its core */
        double thick = fmin(1.0, (c - t) / 0.15);
        a.scl = c >= t + 0.06 ? 9 : 8;
        a.alpha = (float)(0.55 + 0.45 * thick);
        a.cloud_red = (float)(0.22 + 0.33 * thick), a.cloud_nir = (float)(0.25 + 0.33 * thick);
        a.cloud_swir = (float)(0.18 + 0.24 * thick);
        return a;
    }
    if (c >= t - 0.035) { /* thin cirrus at the fringe; SCL sometimes calls it unclassified */
        a.scl = prng_hash_uniform(cell_hash) < 0.25 ? 7 : 10;
        a.alpha = (float)(0.1 + 0.25 * (c - (t - 0.035)) / 0.035);
        a.cloud_red = 0.2f, a.cloud_nir = 0.22f, a.cloud_swir = 0.14f;
        return a;
    }
    if (c >= t - 0.06) { /* faint haze that SCL misses */
        a.alpha = 0.04f, a.cloud_red = 0.2f, a.cloud_nir = 0.22f, a.cloud_swir = 0.14f;
    }
    double cs = sample_cloud_field(date->seed, x - SHADOW_DX_M, y - SHADOW_DY_M);
    if (cs >= t) {
        a.scl = 3;
        a.shade_red = 0.45f, a.shade_nir = 0.38f, a.shade_swir = 0.30f;
    } else if (cs >= t - 0.035) { /* penumbra, unflagged */
        a.shade_red = 0.8f, a.shade_nir = 0.8f, a.shade_swir = 0.8f;
    }
    return a;
}

static int outside_swath(const sample_date *d, double x, double y)
{
    return d->swath_edge && x > d->edge_x_m + (y - d->edge_y_m) * d->edge_dx_per_dy;
}

static uint16_t to_dn(double reflectance)
{
    /* processing baseline 04.00+: DN = reflectance * 10000 + 1000; 0 is no data */
    long dn = lround(reflectance * 10000.0) + 1000;
    return (uint16_t)(dn < 1 ? 1 : dn > 65535 ? 65535 : dn);
}

static uint8_t surface_scl(const render_static *st, int ci, int cj, double ndvi,
                           uint64_t cell_hash)
{
    int W = st->w + 2;
    size_t k = (size_t)(2 * cj + 1) * W + (size_t)(2 * ci + 1);
    double u = prng_hash_uniform(cell_hash);
    if (u < 0.004)
        return 7;
    if (u < 0.0065 && st->cover[k] == LC_FOREST)
        return 2;
    if (u < 0.0066)
        return 1;
    if (st->cover[k] == LC_WATER)
        return 6;
    return ndvi < 0.3 ? 5 : 4;
}

/* One 20 m cell: its SCL class, its four 10 m pixels and, where swir is given,
 * its B11 value: the mean of its four pixels' SWIR through the atmosphere. */
static void render_cell(const render_static *st, const sample_date *date, const float *red,
                        const float *nir, const float *swir, int ci, int cj, render_out *out,
                        int64_t counts[3])
{
    const sample_tile *t = st->tile;
    int px = st->x0 + 2 * ci, py = st->y0 + 2 * cj;
    double xc = t->x0 + SAMPLE_PIXEL_M * (px + 1), yc = t->y0 - SAMPLE_PIXEL_M * (py + 1);
    uint64_t cell_hash = prng_hash(date->seed, (uint64_t)global_col(t, px), (uint64_t)global_row(t, py), 4);
    atmosphere a = atmosphere_at(date, xc, yc, cell_hash);
    double sr = 0, sn = 0, ss = 0;
    for (int dj = 0; dj < 2; dj++)
        for (int di = 0; di < 2; di++) {
            int i = 2 * ci + di, j = 2 * cj + dj;
            size_t o = (size_t)j * st->w + i;
            float r = red[o], n = nir[o];
            sr += r, sn += n;
            double x = t->x0 + SAMPLE_PIXEL_M * (st->x0 + i + 0.5);
            double y = t->y0 - SAMPLE_PIXEL_M * (st->y0 + j + 0.5);
            double tex = 1.0 + 0.05 * prng_hash_normal(prng_hash(date->seed, (uint64_t)global_col(t, st->x0 + i),
                                                                 (uint64_t)global_row(t, st->y0 + j), 3));
            if (swir)
                ss += swir[o] * a.shade_swir * (1 - a.alpha) + a.alpha * a.cloud_swir * tex;
            if (outside_swath(date, x, y)) {
                out->red[o] = 0, out->nir[o] = 0;
                continue;
            }
            double rr = r * a.shade_red * (1 - a.alpha) + a.alpha * a.cloud_red * tex;
            double nn = n * a.shade_nir * (1 - a.alpha) + a.alpha * a.cloud_nir * tex;
            out->red[o] = to_dn(rr), out->nir[o] = to_dn(nn);
        }
    uint8_t scl;
    int nodata = outside_swath(date, xc, yc);
    if (swir) /* no data like SCL: by the cell's centre */
        out->swir[(size_t)cj * (st->w / 2) + ci] = nodata ? 0 : to_dn(ss / 4.0);
    if (nodata)
        scl = 0, counts[2]++;
    else if (a.scl)
        scl = a.scl;
    else
        scl = surface_scl(st, ci, cj, (sn - sr) / (sn + sr), cell_hash);
    if (scl >= 8 && scl <= 10)
        counts[1]++;
    counts[0]++;
    out->scl[(size_t)cj * (st->w / 2) + ci] = scl;
}

int render_scene(const render_static *st, const sample_date *date, const render_values *v,
                 render_out *out)
{
    int W = st->w + 2, H = st->h + 2, with_swir = out->swir != NULL;
    size_t n_halo = (size_t)W * H, n = (size_t)st->w * st->h;
    float *sred = malloc(sizeof(float) * n_halo), *snir = malloc(sizeof(float) * n_halo);
    float *red = malloc(sizeof(float) * n), *nir = malloc(sizeof(float) * n);
    float *sswir = with_swir ? malloc(sizeof(float) * n_halo) : NULL;
    float *swir = with_swir ? malloc(sizeof(float) * n) : NULL;
    out->n_cells = out->n_cloud_cells = out->n_nodata_cells = 0;
    if (!sred || !snir || !red || !nir || (with_swir && (!sswir || !swir))) {
        free(sred), free(snir), free(red), free(nir), free(sswir), free(swir);
        return mc_fail("out of memory rendering a %dx%d window of tile %s", st->w, st->h, st->tile->id);
    }
#pragma omp parallel for schedule(static)
    for (int j = 0; j < H; j++)
        surface_row(st, date, v, j, sred, snir, sswir);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < st->h; j++)
        for (int i = 0; i < st->w; i++) {
            red[(size_t)j * st->w + i] = psf(sred, W, i, j);
            nir[(size_t)j * st->w + i] = psf(snir, W, i, j);
            if (with_swir)
                swir[(size_t)j * st->w + i] = psf(sswir, W, i, j);
        }
    int64_t n_cells = 0, n_cloud = 0, n_nodata = 0;
#pragma omp parallel for schedule(static) reduction(+ : n_cells, n_cloud, n_nodata)
    for (int cj = 0; cj < st->h / 2; cj++) {
        int64_t counts[3] = {0, 0, 0};
        for (int ci = 0; ci < st->w / 2; ci++)
            render_cell(st, date, red, nir, swir, ci, cj, out, counts);
        n_cells += counts[0], n_cloud += counts[1], n_nodata += counts[2];
    }
    out->n_cells = n_cells, out->n_cloud_cells = n_cloud, out->n_nodata_cells = n_nodata;
    free(sred), free(snir), free(red), free(nir), free(sswir), free(swir);
    return MC_OK;
}
