/* mowcheck-bench-labels: times labels_build and the label cache on a full tile.
 * Not a test. Builds N synthetic parcels (default 200000; 1-3 ha irregular
 * polygons, every 10th with a hole) in memory on a 10980 x 10980 grid of UTM 35N,
 * then times: labels_build with the parcels in the tile's CRS, labels_build with
 * the same parcels in EPSG:3301 (reprojection included), writing the cache, and
 * loading it back.
 *   mowcheck-bench-labels [N_PARCELS] [CACHE_DIR] */
#include <gdal.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "parcels.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static double frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static OGRGeometryH make_parcel(double cx, double cy, size_t *n_vertices)
{
    double area_m2 = 10000.0 * (1.0 + 2.0 * frand());
    double r0 = sqrt(area_m2 / M_PI);
    int nv = 8 + (int)(frand() * 33);
    OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    for (int k = 0; k < nv; k++) {
        double a = 2.0 * M_PI * (k + 0.3 * frand()) / nv, r = r0 * (0.8 + 0.4 * frand());
        OGR_G_AddPoint_2D(ring, cx + r * cos(a), cy + r * sin(a));
    }
    OGR_G_CloseRings(ring);
    OGR_G_AddGeometryDirectly(poly, ring);
    *n_vertices += (size_t)nv;
    if (frand() < 0.1) { /* a hole: a small square, clockwise */
        double h = 0.2 * r0;
        OGRGeometryH hole = OGR_G_CreateGeometry(wkbLinearRing);
        OGR_G_AddPoint_2D(hole, cx - h, cy - h);
        OGR_G_AddPoint_2D(hole, cx - h, cy + h);
        OGR_G_AddPoint_2D(hole, cx + h, cy + h);
        OGR_G_AddPoint_2D(hole, cx + h, cy - h);
        OGR_G_CloseRings(hole);
        OGR_G_AddGeometryDirectly(poly, hole);
        *n_vertices += 4;
    }
    return poly;
}

static parcel_set *make_set(size_t n, const tile_grid *t, size_t *n_vertices)
{
    parcel_set *s = calloc(1, sizeof *s);
    s->n = n;
    s->ids = calloc(n, sizeof *s->ids);
    s->geometries = calloc(n, sizeof *s->geometries);
    s->srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s->srs, t->epsg);
    OSRSetAxisMappingStrategy(s->srs, OAMS_TRADITIONAL_GIS_ORDER);
    s->source_path = strdup("synthetic");
    double extent = t->width * t->geotransform[1];
    size_t per_row = (size_t)ceil(sqrt((double)n));
    double cell = extent / per_row;
    for (size_t p = 0; p < n; p++) {
        double cx = t->geotransform[0] + (p % per_row + 0.5) * cell + (frand() - 0.5) * 0.3 * cell;
        double cy = t->geotransform[3] - (p / per_row + 0.5) * cell + (frand() - 0.5) * 0.3 * cell;
        char id[32];
        snprintf(id, sizeof id, "P%07zu", p);
        s->ids[p] = strdup(id);
        s->geometries[p] = make_parcel(cx, cy, n_vertices);
    }
    snprintf(s->hash, sizeof s->hash, "synthetic-%zu-epsg%d", n, t->epsg);
    return s;
}

/* The same parcels in EPSG:3301. */
static parcel_set *to_3301(const parcel_set *src)
{
    parcel_set *s = calloc(1, sizeof *s);
    s->n = src->n;
    s->ids = calloc(s->n, sizeof *s->ids);
    s->geometries = calloc(s->n, sizeof *s->geometries);
    s->srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(s->srs, 3301);
    OSRSetAxisMappingStrategy(s->srs, OAMS_TRADITIONAL_GIS_ORDER);
    s->source_path = strdup("synthetic-3301");
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src->srs, s->srs);
    for (size_t p = 0; p < s->n; p++) {
        s->ids[p] = strdup(src->ids[p]);
        s->geometries[p] = OGR_G_Clone(src->geometries[p]);
        OGR_G_Transform(s->geometries[p], ct);
    }
    OCTDestroyCoordinateTransformation(ct);
    snprintf(s->hash, sizeof s->hash, "synthetic-%zu-epsg3301", s->n);
    return s;
}

/* Writes the set to a GeoPackage (one transaction) for timing parcels_load. */
static int write_gpkg(const parcel_set *s, const char *path)
{
    GDALDriverH drv = GDALGetDriverByName("GPKG");
    GDALDatasetH ds = drv ? GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    if (!ds)
        return -1;
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "parcels", s->srs, wkbPolygon, NULL);
    OGRFieldDefnH fd = OGR_Fld_Create("parcel_id", OFTString);
    if (!layer || OGR_L_CreateField(layer, fd, 1) != OGRERR_NONE) {
        OGR_Fld_Destroy(fd);
        GDALClose(ds);
        return -1;
    }
    OGR_Fld_Destroy(fd);
    GDALDatasetStartTransaction(ds, 0);
    for (size_t p = 0; p < s->n; p++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetFieldString(f, 0, s->ids[p]);
        OGR_F_SetGeometry(f, s->geometries[p]);
        OGRErr err = OGR_L_CreateFeature(layer, f);
        OGR_F_Destroy(f);
        if (err != OGRERR_NONE)
            break;
    }
    GDALDatasetCommitTransaction(ds);
    GDALClose(ds);
    return 0;
}

static int64_t total_pixels(const label_raster *lr)
{
    int64_t n = 0;
    for (uint32_t l = 1; l <= lr->n_labels; l++)
        n += lr->n_pixels[l];
    return n;
}

int main(int argc, char **argv)
{
    if (getenv("MOWCHECK_BENCH_VERBOSE"))
        log_set_level(LOG_DEBUG);
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 200000;
    char dir[256];
    if (argc > 2) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
    } else {
        snprintf(dir, sizeof dir, "/tmp/mowcheck-bench-labels-XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    tile_grid t = {.tile_id = "35VLF", .epsg = 32635,
                   .geotransform = {600000, 10, 0, 6500040, 0, -10}, .width = 10980, .height = 10980};
    size_t nv = 0;
    double t0 = now_s();
    parcel_set *s = make_set(n, &t, &nv);
    printf("synthetic parcels: %zu (%zu vertices) in %.2f s; threads %d\n", n, nv, now_s() - t0,
           omp_get_max_threads());

    label_raster *lr = NULL;
    for (int rep = 0; rep < 2; rep++) {
        t0 = now_s();
        if (labels_build(s, &t, &t, 1, 10.0, &lr) != MC_OK) {
            fprintf(stderr, "%s\n", mc_error_message());
            return 1;
        }
        double dt = now_s() - t0;
        printf("labels_build, parcels in the tile CRS, buffer 10 m: %.3f s (%lld labelled px)\n",
               dt, (long long)total_pixels(lr));
        labels_free(lr);
    }

    parcel_set *e = to_3301(s);
    t0 = now_s();
    if (labels_build(e, &t, &t, 1, 10.0, &lr) != MC_OK) {
        fprintf(stderr, "%s\n", mc_error_message());
        return 1;
    }
    printf("labels_build, parcels in EPSG:3301 (reprojected), buffer 10 m: %.3f s "
           "(%lld labelled px)\n", now_s() - t0, (long long)total_pixels(lr));
    labels_free(lr);

    t0 = now_s();
    if (labels_get_cached(dir, s, &t, &t, 1, 10.0, &lr) != MC_OK) {
        fprintf(stderr, "%s\n", mc_error_message());
        return 1;
    }
    printf("labels_get_cached, miss (build + write): %.3f s\n", now_s() - t0);
    labels_free(lr);
    for (int rep = 0; rep < 2; rep++) {
        t0 = now_s();
        if (labels_get_cached(dir, s, &t, &t, 1, 10.0, &lr) != MC_OK) {
            fprintf(stderr, "%s\n", mc_error_message());
            return 1;
        }
        double dt = now_s() - t0;
        printf("labels_get_cached, hit (load): %.3f s (%lld labelled px)\n", dt,
               (long long)total_pixels(lr));
        labels_free(lr);
    }
    char gpkg[400];
    snprintf(gpkg, sizeof gpkg, "%s/parcels-3301.gpkg", dir);
    GDALAllRegister();
    if (write_gpkg(e, gpkg) == 0) {
        parcel_set *loaded = NULL;
        t0 = now_s();
        if (parcels_load(gpkg, "parcel_id", 10.0, &loaded) != MC_OK) {
            fprintf(stderr, "%s\n", mc_error_message());
            return 1;
        }
        printf("parcels_load of a GeoPackage of %zu parcels (validity checks, hash): %.3f s "
               "(%zu refused)\n", loaded->n, now_s() - t0, loaded->n_refused);
        parcels_free(loaded);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "du -h %s | tail -1; rm -rf %s", dir, dir);
    if (argc <= 2 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    parcels_free(s);
    parcels_free(e);
    return 0;
}
