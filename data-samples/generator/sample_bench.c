/* --bench-tile: one full-size Sentinel-2 tile-date (10980 x 10980 at 10 m,
 * B04/B08 DEFLATE tiled 1024 x 1024, SCL 5490 x 5490) and N parcels, for the
 * ingest benchmark. The benchmark is defined on B04 + B08 + SCL, so B11
 * (5490 x 5490, like SCL) is written only when asked for (--bench-b11). Rendered and written in strips of rows, so memory stays
 * bounded (a few hundred MB) whatever the tile size. */
#include <gdal.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpl_conv.h"
#include "error.h"
#include "sample.h"
#include "sample_prng.h"

enum { BENCH_SIZE = 10980, BENCH_BLOCK = 1024, BENCH_STRIP = 512, BENCH_MAX_PARCELS = 1000000 }; /* 1,000,000: cells of 110 m, parcels of about 1 ha */

typedef struct bench_grid {
    sample_tile tile;
    uint64_t seed;
    long n;            /* parcels; parcel k sits in cell (k % cols, k / cols) */
    int cols, rows;
    double cw, ch;     /* cell size, m */
} bench_grid;

static void bench_cell_origin(const bench_grid *g, long k, double *x0, double *y0)
{
    *x0 = g->tile.x0 + (double)(k % g->cols) * g->cw;
    *y0 = g->tile.y0 - (double)(k / g->cols + 1) * g->ch; /* lower-left of the cell */
}

static int bench_write_parcels(const bench_grid *g, const char *path)
{
    unlink(path);
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL), est = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(utm, SAMPLE_UTM_EPSG);
    OSRImportFromEPSG(est, SAMPLE_PARCEL_EPSG);
    OSRSetAxisMappingStrategy(utm, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(est, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(utm, est);
    GDALDatasetH ds = ct ? GDALCreate(GDALGetDriverByName("GPKG"), path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    char *opts[] = {"GEOMETRY_NAME=geom", "FID=fid", "SPATIAL_INDEX=YES", NULL};
    OGRLayerH layer = ds ? GDALDatasetCreateLayer(ds, "parcels", est, wkbPolygon, opts) : NULL;
    int rc = layer ? MC_OK : mc_fail("cannot create %s: %s", path, CPLGetLastErrorMsg());
    if (rc == MC_OK) {
        OGRFieldDefnH fd = OGR_Fld_Create("parcel_id", OFTString);
        if (OGR_L_CreateField(layer, fd, TRUE) != OGRERR_NONE ||
            GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
            rc = mc_fail("%s: cannot set up layer parcels", path);
        OGR_Fld_Destroy(fd);
    }
    OGRFeatureDefnH defn = layer ? OGR_L_GetLayerDefn(layer) : NULL;
    for (long k = 0; rc == MC_OK && k < g->n; k++) {
        double x0, y0;
        sample_ring ring;
        float ndvi;
        bench_cell_origin(g, k, &x0, &y0);
        sample_bench_parcel(g->seed, k, x0, y0, g->cw, g->ch, &ring, &ndvi);
        OGRGeometryH geom = sample_ring_to_ogr_polygon(&ring);
        OGRFeatureH f = OGR_F_Create(defn);
        char id[24];
        snprintf(id, sizeof id, "B%07ld", k + 1);
        OGR_F_SetFieldString(f, 0, id);
        if (OGR_G_Transform(geom, ct) != OGRERR_NONE)
            rc = mc_fail("%s: parcel %s: cannot transform to EPSG:%d", path, id, SAMPLE_PARCEL_EPSG);
        OGR_F_SetGeometryDirectly(f, geom);
        if (rc == MC_OK && OGR_L_CreateFeature(layer, f) != OGRERR_NONE)
            rc = mc_fail("%s: parcel %s: %s", path, id, CPLGetLastErrorMsg());
        OGR_F_Destroy(f);
    }
    if (rc == MC_OK && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        rc = mc_fail("%s: cannot commit: %s", path, CPLGetLastErrorMsg());
    if (ds)
        GDALClose(ds);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(utm);
    OSRDestroySpatialReference(est);
    return rc;
}

static GDALDatasetH bench_create_band(const char *path, int size, GDALDataType type, const char *wkt,
                                      double res_m, double x0, double y0)
{
    char *opts[] = {"TILED=YES", "BLOCKXSIZE=1024", "BLOCKYSIZE=1024", "COMPRESS=DEFLATE",
                    "PREDICTOR=2", "NUM_THREADS=ALL_CPUS", "BIGTIFF=NO", NULL};
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, size, size, 1, type, opts);
    if (!ds)
        return NULL;
    double gt[6] = {x0, res_m, 0, y0, 0, -res_m};
    GDALSetGeoTransform(ds, gt);
    GDALSetProjection(ds, wkt);
    GDALSetRasterNoDataValue(GDALGetRasterBand(ds, 1), 0);
    return ds;
}

typedef struct bench_strip_ctx {
    const bench_grid *g;
    const sample_date *date;
    const float *ndvi, *sigma_static, *sigma_date;
    const float *ndmi;         /* per label; only with b11 */
    GDALDatasetH b04, b08, scl;
    GDALDatasetH b11;          /* NULL: no B11 */
} bench_strip_ctx;

/* The parcels whose cells meet rows [y0 - 1, y0 + h + 1) of the tile. */
static int bench_strip_geoms(const bench_grid *g, int y0, int h, void ***geoms, int32_t **values,
                             size_t *n)
{
    int r0 = (int)floor(SAMPLE_PIXEL_M * (y0 - 1) / g->ch), r1 = (int)floor(SAMPLE_PIXEL_M * (y0 + h + 1) / g->ch);
    r0 = r0 < 0 ? 0 : r0;
    r1 = r1 >= g->rows ? g->rows - 1 : r1;
    long k0 = (long)r0 * g->cols, k1 = (long)(r1 + 1) * g->cols;
    if (k1 > g->n)
        k1 = g->n;
    size_t count = k1 > k0 ? (size_t)(k1 - k0) : 0;
    *geoms = calloc(count + 1, sizeof **geoms);
    *values = malloc(sizeof(int32_t) * (count + 1));
    if (!*geoms || !*values)
        return mc_fail("out of memory for %zu parcels", count);
    for (size_t i = 0; i < count; i++) {
        long k = k0 + (long)i;
        double cx, cy;
        sample_ring ring;
        float ndvi;
        bench_cell_origin(g, k, &cx, &cy);
        sample_bench_parcel(g->seed, k, cx, cy, g->cw, g->ch, &ring, &ndvi);
        (*geoms)[i] = sample_ring_to_ogr_polygon(&ring);
        (*values)[i] = (int32_t)(k + 1);
    }
    *n = count;
    return MC_OK;
}

static int bench_strip(const bench_strip_ctx *c, int y0, int h)
{
    const bench_grid *g = c->g;
    void **geoms = NULL;
    int32_t *values = NULL;
    size_t n = 0;
    render_static st;
    memset(&st, 0, sizeof st);
    render_out o = {.red = NULL, .nir = NULL, .scl = NULL, .swir = NULL};
    int rc = bench_strip_geoms(g, y0, h, &geoms, &values, &n);
    if (rc == MC_OK)
        rc = render_static_build(&st, &g->tile, 0, y0, g->tile.width, h, g->seed ^ 0x1a9dc0fe5ULL,
                                 geoms, values, n, NULL, 0, c->sigma_static);
    for (size_t i = 0; geoms && i < n; i++)
        OGR_G_DestroyGeometry(geoms[i]);
    free(geoms), free(values);
    size_t npx = (size_t)g->tile.width * (size_t)h;
    if (rc == MC_OK) {
        o.red = malloc(npx * 2), o.nir = malloc(npx * 2), o.scl = malloc(npx / 4);
        o.swir = c->b11 ? malloc(npx / 2) : NULL;
        rc = o.red && o.nir && o.scl && (o.swir || !c->b11) ? MC_OK
                                                             : mc_fail("out of memory for a strip of %d rows", h);
    }
    render_values v = {c->ndvi, c->sigma_static, c->sigma_date, {0}, c->ndmi, {0}};
    for (int k = 0; k < LC_COUNT; k++) {
        v.cover_ndvi[k] = (float)sample_cover_ndvi((sample_cover)k, c->date->doy);
        v.cover_ndmi[k] = (float)sample_cover_ndmi((sample_cover)k, c->date->doy);
    }
    if (rc == MC_OK)
        rc = render_scene(&st, c->date, &v, &o);
    int w = g->tile.width;
    if (rc == MC_OK &&
        (GDALRasterIO(GDALGetRasterBand(c->b04, 1), GF_Write, 0, y0, w, h, o.red, w, h, GDT_UInt16, 0, 0) != CE_None ||
         GDALRasterIO(GDALGetRasterBand(c->b08, 1), GF_Write, 0, y0, w, h, o.nir, w, h, GDT_UInt16, 0, 0) != CE_None ||
         GDALRasterIO(GDALGetRasterBand(c->scl, 1), GF_Write, 0, y0 / 2, w / 2, h / 2, o.scl, w / 2, h / 2, GDT_Byte, 0, 0) != CE_None ||
         (c->b11 && GDALRasterIO(GDALGetRasterBand(c->b11, 1), GF_Write, 0, y0 / 2, w / 2, h / 2, o.swir, w / 2, h / 2,
                                 GDT_UInt16, 0, 0) != CE_None)))
        rc = mc_fail("writing rows %d..%d: %s", y0, y0 + h, CPLGetLastErrorMsg());
    render_static_free(&st);
    free(o.red), free(o.nir), free(o.scl), free(o.swir);
    return rc;
}

static int bench_rasters(const bench_grid *g, const char *scene_dir, const float *ndvi,
                         const float *sigma_static, const float *sigma_date, const float *ndmi)
{
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL);
    char *wkt = NULL;
    OSRImportFromEPSG(utm, SAMPLE_UTM_EPSG);
    OSRExportToWkt(utm, &wkt);
    OSRDestroySpatialReference(utm);
    char p04[4200], p08[4200], pscl[4200], p11[4200];
    snprintf(p04, sizeof p04, "%s/B04.tif", scene_dir);
    snprintf(p08, sizeof p08, "%s/B08.tif", scene_dir);
    snprintf(pscl, sizeof pscl, "%s/SCL.tif", scene_dir);
    snprintf(p11, sizeof p11, "%s/B11.tif", scene_dir);
    const sample_tile *t = &g->tile;
    bench_strip_ctx c = {g, NULL, ndvi, sigma_static, sigma_date, ndmi,
                         bench_create_band(p04, t->width, GDT_UInt16, wkt, 10, t->x0, t->y0),
                         bench_create_band(p08, t->width, GDT_UInt16, wkt, 10, t->x0, t->y0),
                         bench_create_band(pscl, t->width / 2, GDT_Byte, wkt, 20, t->x0, t->y0),
                         ndmi ? bench_create_band(p11, t->width / 2, GDT_UInt16, wkt, 20, t->x0, t->y0) : NULL};
    /* 15 June, relative orbit 79, a fifth of the tile under cloud */
    sample_date date = {.doy = 166, .satellite = "S2B", .relative_orbit = 79, .tiles = 1u,
                        .cloud_fraction = 0.2, .seed = prng_hash(g->seed, 0xda7e, 166, 0)};
    double bbox[4] = {t->x0, t->y0 - SAMPLE_PIXEL_M * t->height, t->x0 + SAMPLE_PIXEL_M * t->width, t->y0};
    date.cloud_threshold = sample_cloud_threshold(date.seed, bbox, date.cloud_fraction);
    c.date = &date;
    int rc = c.b04 && c.b08 && c.scl && (c.b11 || !ndmi) ? MC_OK : mc_fail("cannot create the bands in %s: %s", scene_dir, CPLGetLastErrorMsg());
    for (int y0 = 0; rc == MC_OK && y0 < t->height; y0 += BENCH_STRIP)
        rc = bench_strip(&c, y0, y0 + BENCH_STRIP <= t->height ? BENCH_STRIP : t->height - y0);
    CPLErrorReset();
    if (c.b04)
        GDALClose(c.b04);
    if (c.b08)
        GDALClose(c.b08);
    if (c.scl)
        GDALClose(c.scl);
    if (c.b11)
        GDALClose(c.b11);
    if (rc == MC_OK && CPLGetLastErrorType() >= CE_Failure)
        rc = mc_fail("closing the bands in %s: %s", scene_dir, CPLGetLastErrorMsg());
    CPLFree(wkt);
    return rc;
}

int sample_bench_tile(const char *out_dir, uint64_t seed, long n_parcels, int with_b11)
{
    if (n_parcels > BENCH_MAX_PARCELS)
        return mc_fail("--parcels %ld: at most %d fit one tile at a sensible size", n_parcels,
                       BENCH_MAX_PARCELS);
    /* the real 35VLF grid: upper-left corner (300000, 6600000) */
    bench_grid g = {{"35VLF", 300000.0, 6600000.0, BENCH_SIZE, BENCH_SIZE}, seed, n_parcels, 0, 0, 0, 0};
    g.cols = (int)ceil(sqrt((double)n_parcels));
    g.rows = (int)((n_parcels + g.cols - 1) / g.cols);
    g.cw = SAMPLE_PIXEL_M * BENCH_SIZE / g.cols;
    g.ch = SAMPLE_PIXEL_M * BENCH_SIZE / g.rows;
    char scene_dir[4096], gpkg[4096];
    snprintf(scene_dir, sizeof scene_dir, "%s/scenes/S2B_35VLF_20260615_0_L2A", out_dir);
    snprintf(gpkg, sizeof gpkg, "%s/parcels.gpkg", out_dir);
    float *ndvi = malloc(sizeof(float) * (size_t)(n_parcels + 1));
    float *ss = malloc(sizeof(float) * (size_t)(n_parcels + 1));
    float *sd = malloc(sizeof(float) * (size_t)(n_parcels + 1));
    float *ndmi = with_b11 ? malloc(sizeof(float) * (size_t)(n_parcels + 1)) : NULL;
    int rc = ndvi && ss && sd && (ndmi || !with_b11) ? MC_OK : mc_fail("out of memory for %ld parcels", n_parcels);
    for (long k = 0; rc == MC_OK && k < n_parcels; k++) {
        double x0, y0;
        sample_ring ring;
        bench_cell_origin(&g, k, &x0, &y0);
        sample_bench_parcel(seed, k, x0, y0, g.cw, g.ch, &ring, &ndvi[k + 1]);
        ss[k + 1] = 0.03f, sd[k + 1] = 0.04f;
        if (ndmi) /* green grass: NDMI from the NDVI relation alone */
            ndmi[k + 1] = (float)sample_ndmi_of_ndvi(ndvi[k + 1]);
    }
    if (rc == MC_OK)
        rc = sample_mkdirs(scene_dir);
    GDALSetCacheMax64((GIntBig)256 << 20);
    if (rc == MC_OK)
        rc = bench_rasters(&g, scene_dir, ndvi, ss, sd, ndmi);
    if (rc == MC_OK)
        rc = bench_write_parcels(&g, gpkg);
    free(ndvi), free(ss), free(sd), free(ndmi);
    if (rc == MC_OK)
        fprintf(stderr, "mowcheck-make-sample: %s: one tile-date %dx%d (%s%s) and %ld parcels\n",
                out_dir, BENCH_SIZE, BENCH_SIZE, scene_dir, with_b11 ? ", with B11" : "", n_parcels);
    return rc;
}
