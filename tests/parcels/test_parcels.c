/* parcels_load, labels_build and the label cache on files the test writes with OGR.
 *
 * Tiles are small grids in EPSG:32635 (UTM 35N, where Estonia's east lies) with
 * 10 m pixels; pixel centres are at x = 5 mod 10. Expected counts are worked out
 * in the comments. */
#include <fcntl.h>
#include <math.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <omp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "parcels.h"
#include "test.h"

static char tmpdir[256];

/* ---- writing inputs ---- */

typedef struct feat {
    const char *id;  /* NULL: leave the id unset */
    const char *wkt; /* NULL: no geometry */
} feat;

/* Writes a GeoPackage with one layer; id field `field` (text unless int_ids). */
static const char *vector_driver = "GPKG"; /* test_parcel_cache writes a shapefile too */

static void write_gpkg(const char *path, int epsg, const char *field, int int_ids,
                       OGRwkbGeometryType type, const feat *f, size_t n)
{
    GDALDriverH drv = GDALGetDriverByName(vector_driver);
    REQUIRE(drv);
    unlink(path);
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    REQUIRE(ds);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    REQUIRE(OSRImportFromEPSG(srs, epsg) == OGRERR_NONE);
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "parcels", srs, type, NULL);
    REQUIRE(layer);
    OGRFieldDefnH fd = OGR_Fld_Create(field, int_ids ? OFTInteger64 : OFTString);
    REQUIRE(OGR_L_CreateField(layer, fd, 1) == OGRERR_NONE);
    OGR_Fld_Destroy(fd);
    OGRFieldDefnH other = OGR_Fld_Create("crop", OFTString);
    OGR_L_CreateField(layer, other, 1);
    OGR_Fld_Destroy(other);
    for (size_t i = 0; i < n; i++) {
        OGRFeatureH ft = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        if (f[i].id && int_ids)
            OGR_F_SetFieldInteger64(ft, 0, atoll(f[i].id));
        else if (f[i].id)
            OGR_F_SetFieldString(ft, 0, f[i].id);
        if (f[i].wkt) {
            OGRGeometryH g = NULL;
            char *w = (char *)f[i].wkt;
            REQUIRE(OGR_G_CreateFromWkt(&w, srs, &g) == OGRERR_NONE);
            OGR_F_SetGeometryDirectly(ft, g);
        }
        REQUIRE(OGR_L_CreateFeature(layer, ft) == OGRERR_NONE);
        OGR_F_Destroy(ft);
    }
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
}

static char *path_in_tmp(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* A WKT rectangle. */
static const char *rect_wkt(double x0, double y0, double x1, double y1)
{
    static char buf[16][256];
    static int k;
    char *p = buf[k++ % 16];
    snprintf(p, 256, "POLYGON((%.6f %.6f,%.6f %.6f,%.6f %.6f,%.6f %.6f,%.6f %.6f))", x0, y0, x1,
             y0, x1, y1, x0, y1, x0, y0);
    return p;
}

/* ---- capturing warnings ---- */

static char captured[65536];
static int saved_stderr = -1;

static void capture_start(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(path_in_tmp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}

static void capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(path_in_tmp("stderr.txt"), "r");
    size_t n = f ? fread(captured, 1, sizeof captured - 1, f) : 0;
    captured[n] = 0;
    if (f)
        fclose(f);
}

/* ---- grids ---- */

static tile_grid tile(const char *id, int epsg, double x0, double y0, int w, int h)
{
    tile_grid t = {.epsg = epsg, .geotransform = {x0, 10, 0, y0, 0, -10}, .width = w, .height = h};
    snprintf(t.tile_id, sizeof t.tile_id, "%s", id);
    return t;
}

static const double X0 = 500000, Y0 = 6500000; /* the test tile's north-west corner */

static label_raster *build(const parcel_set *s, const tile_grid *t, const tile_grid *all,
                           size_t n_all, double b)
{
    label_raster *lr = NULL;
    if (labels_build(s, t, all, n_all, b, &lr) != MC_OK)
        fprintf(stderr, "labels_build: %s\n", mc_error_message());
    return lr;
}

/* ---- loading ---- */

static void test_load_basic(void)
{
    const char *p = path_in_tmp("basic.gpkg");
    feat f[] = {
        {"EE-1", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)},
        {"EE-2", "MULTIPOLYGON(((500200 6499900,500300 6499900,500300 6500000,500200 6500000,"
                 "500200 6499900),(500230 6499930,500270 6499930,500270 6499970,500230 6499970,"
                 "500230 6499930)),((500400 6499900,500450 6499900,500450 6499950,500400 6499950,"
                 "500400 6499900)))"},
    };
    write_gpkg(p, 32635, "parcel_id", 0, wkbUnknown, f, 2);
    parcel_set *s = NULL, *s2 = NULL, *s3 = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 10, &s) == MC_OK);
    CHECK_INT(s->n, 2);
    CHECK_STR(s->ids[0], "EE-1");
    CHECK_STR(s->ids[1], "EE-2");
    CHECK_INT(s->n_refused, 0);
    CHECK_INT(strlen(s->hash), 64);
    CHECK_STR(s->source_path, p);
    REQUIRE(parcels_load(p, "parcel_id", 10, &s2) == MC_OK);
    CHECK_STR(s->hash, s2->hash); /* same content, same hash */
    REQUIRE(parcels_load(p, "parcel_id", 5, &s3) == MC_OK);
    CHECK(strcmp(s->hash, s3->hash) != 0); /* the buffer is part of it */

    /* EE-1: 10 x 10 centres at buffer 0, 8 x 8 at 10 m. EE-2: square 10 x 10 less a
     * hole of 4 x 4 (centres 500235..500265) = 84, plus a part of 5 x 5 = 109 at 0 m;
     * at 10 m: 8 x 8 less the hole grown to (500220, 500280): 6 x 6, = 28, plus 3 x 3 */
    tile_grid t = tile("35VLF", 32635, X0, Y0, 100, 100);
    label_raster *lr0 = build(s3, &t, &t, 1, 0), *lr10 = build(s, &t, &t, 1, 10);
    REQUIRE(lr0 && lr10);
    CHECK_INT(lr0->n_labels, 2);
    CHECK_INT(lr0->n_pixels[1], 100);
    CHECK_INT(lr0->n_pixels[2], 109);
    CHECK_INT(lr10->n_pixels[1], 64);
    CHECK_INT(lr10->n_pixels[2], 28 + 9);
    CHECK_INT(lr10->labels[1 * 100 + 1], 1);
    CHECK_INT(lr10->labels[0], 0);
    CHECK_INT(lr10->labels[5 * 100 + 21], 2);
    CHECK_INT(lr10->labels[5 * 100 + 25], 0); /* in the hole's buffer */
    /* the occupancy index agrees with a scan of the window */
    CHECK(labels_window_has_parcel(lr10, 0, 0, 16, 16));
    CHECK(!labels_window_has_parcel(lr10, 0, 50, 100, 50));
    CHECK(!labels_window_has_parcel(lr10, 9, 0, 11, 100)); /* columns 9..19 are empty */
    CHECK(labels_window_has_parcel(lr10, 8, 8, 1, 1));
    CHECK(!labels_window_has_parcel(lr10, 8, 9, 1, 1));
    CHECK(!labels_window_has_parcel(lr10, 200, 200, 16, 16));
    labels_free(lr0);
    labels_free(lr10);
    parcels_free(s);
    parcels_free(s2);
    parcels_free(s3);

    /* integer ids are printed */
    const char *pi = path_in_tmp("intids.gpkg");
    feat fi[] = {{"1001", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)}, {"7", rect_wkt(X0, Y0 - 300, X0 + 100, Y0 - 200)}};
    write_gpkg(pi, 32635, "pid", 1, wkbPolygon, fi, 2);
    REQUIRE(parcels_load(pi, "pid", 10, &s) == MC_OK);
    CHECK_STR(s->ids[0], "1001");
    CHECK_STR(s->ids[1], "7");
    parcels_free(s);
}

static void test_load_errors(void)
{
    const char *p = path_in_tmp("errs.gpkg");
    feat f[] = {{"A", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)}};
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 1);
    parcel_set *s = NULL;
    CHECK(parcels_load(p, "kood", 10, &s) == MC_ERR && !s);
    CHECK(strstr(mc_error_message(), p) && strstr(mc_error_message(), "\"kood\"") &&
          strstr(mc_error_message(), "parcel_id"));

    const char *pd = path_in_tmp("dups.gpkg");
    feat fd[] = {{"A", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)}, {"B", rect_wkt(X0, Y0 - 300, X0 + 100, Y0 - 200)},
                 {"A", rect_wkt(X0, Y0 - 500, X0 + 100, Y0 - 400)}};
    write_gpkg(pd, 32635, "parcel_id", 0, wkbPolygon, fd, 3);
    CHECK(parcels_load(pd, "parcel_id", 10, &s) == MC_ERR && !s);
    CHECK(strstr(mc_error_message(), "duplicate id \"A\"") && strstr(mc_error_message(), "features 1 and 3"));

    const char *pe = path_in_tmp("empty-id.gpkg");
    feat fe[] = {{"A", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)}, {NULL, rect_wkt(X0, Y0 - 300, X0 + 100, Y0 - 200)}};
    write_gpkg(pe, 32635, "parcel_id", 0, wkbPolygon, fe, 2);
    CHECK(parcels_load(pe, "parcel_id", 10, &s) == MC_ERR && !s);
    CHECK(strstr(mc_error_message(), "feature 2 has no id"));

    const char *pp = path_in_tmp("points.gpkg");
    feat fp[] = {{"A", "POINT(500000 6500000)"}};
    write_gpkg(pp, 32635, "parcel_id", 0, wkbPoint, fp, 1);
    CHECK(parcels_load(pp, "parcel_id", 10, &s) == MC_ERR && !s);
    CHECK(strstr(mc_error_message(), "expected polygons"));

    const char *pn = path_in_tmp("table.gpkg");
    feat fn[] = {{"A", NULL}};
    write_gpkg(pn, 32635, "parcel_id", 0, wkbNone, fn, 1);
    CHECK(parcels_load(pn, "parcel_id", 10, &s) == MC_ERR && !s);
    CHECK(strstr(mc_error_message(), "has no geometry column"));

    CHECK(parcels_load(path_in_tmp("missing.gpkg"), "parcel_id", 10, &s) == MC_ERR);
    CHECK(strstr(mc_error_message(), "missing.gpkg"));
    CHECK_MSG(strstr(mc_error_message(), "no such file") != NULL, "message '%s'",
              mc_error_message());
}

/* A bow-tie is reported by id and refused; a line among polygons too; the others load. */
static void test_invalid_refused(void)
{
    const char *p = path_in_tmp("invalid.gpkg");
    feat f[] = {
        {"GOOD", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)},
        {"BOWTIE-7", "POLYGON((500200 6499900,500300 6500000,500300 6499900,500200 6500000,"
                     "500200 6499900))"},
        {"LINE-8", "LINESTRING(500000 6499000,500100 6499100)"},
        {"NOGEOM-9", NULL},
    };
    write_gpkg(p, 32635, "parcel_id", 0, wkbUnknown, f, 4);
    parcel_set *s = NULL;
    capture_start();
    int rc = parcels_load(p, "parcel_id", 0, &s);
    capture_end();
    REQUIRE(rc == MC_OK);
    CHECK_INT(s->n, 4);
    CHECK_INT(s->n_refused, 3);
    CHECK(s->geometries[0] && !s->geometries[1] && !s->geometries[2] && !s->geometries[3]);
    CHECK_MSG(strstr(captured, "parcel BOWTIE-7 has an invalid geometry"), "%s", captured);
    CHECK_MSG(strstr(captured, "parcel LINE-8 is a"), "%s", captured);
    CHECK_MSG(strstr(captured, "parcel NOGEOM-9 has no geometry"), "%s", captured);
    /* the reasons stay with the set: decide gives them to the parcels' claims */
    CHECK(s->refused && !s->refused[0]);
    CHECK(s->refused && s->refused[1] && strstr(s->refused[1], "has an invalid geometry"));
    CHECK(s->refused && s->refused[3] && strcmp(s->refused[3], "has no geometry") == 0);
    tile_grid t = tile("35VLF", 32635, X0, Y0, 100, 100);
    label_raster *lr = build(s, &t, &t, 1, 0);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 100);
    CHECK_INT(lr->n_pixels[2], 0);
    labels_free(lr);
    parcels_free(s);
}

/* Overlapping parcels: centres in both shrunk polygons count for neither. */
static void test_overlap(void)
{
    const char *p = path_in_tmp("overlap.gpkg");
    /* A = [0, 200] x [0, 200] and B = [100, 300] x [100, 300] (metres from the
     * corner, y downwards). Buffer 0: each 20 x 20 = 400; the shared square
     * [100, 200]^2 holds 10 x 10 centres: A 300, B 300. Buffer 10: A shrinks to
     * [10, 190], B to [110, 290]; shared [110, 190]^2: 8 x 8; each 18 x 18 - 64 = 260 */
    feat f[] = {{"A", rect_wkt(X0, Y0 - 200, X0 + 200, Y0)},
                {"B", rect_wkt(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)}};
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 2);
    parcel_set *s = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 0, &s) == MC_OK);
    tile_grid t = tile("35VLF", 32635, X0, Y0, 100, 100);
    label_raster *lr = build(s, &t, &t, 1, 0);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 300);
    CHECK_INT(lr->n_pixels[2], 300);
    CHECK_INT(lr->labels[15 * 100 + 15], 0);
    CHECK_INT(lr->labels[5 * 100 + 5], 1);
    CHECK_INT(lr->labels[25 * 100 + 25], 2);
    labels_free(lr);
    lr = build(s, &t, &t, 1, 10);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 260);
    CHECK_INT(lr->n_pixels[2], 260);
    labels_free(lr);
    parcels_free(s);

    /* repeated points (dropped before reprojecting) change nothing: 8 x 8 */
    const char *pr = path_in_tmp("repeated.gpkg");
    feat fr[] = {{"R", "POLYGON((500000 6499900,500100 6499900,500100 6499900,500100 6500000,"
                       "500100 6500000,500000 6500000,500000 6499900,500000 6499900))"}};
    write_gpkg(pr, 32635, "parcel_id", 0, wkbPolygon, fr, 1);
    REQUIRE(parcels_load(pr, "parcel_id", 10, &s) == MC_OK);
    lr = build(s, &t, &t, 1, 10);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 64);
    labels_free(lr);
    parcels_free(s);
}

/* Ids that cannot be stored, exported or asked about (a newline, bytes that are
 * not UTF-8, more than 255 bytes) leave their feature out, named by number; the
 * others load, a 200-byte id among them. */
static void test_bad_ids(void)
{
    char long_ok[201], too_long[301];
    memset(long_ok, 'L', 200);
    long_ok[200] = '\0';
    memset(too_long, 'T', 300);
    too_long[300] = '\0';
    const char *p = path_in_tmp("bad-ids.gpkg");
    feat f[] = {
        {"GOOD", rect_wkt(X0, Y0 - 100, X0 + 100, Y0)},
        {"EE-1\nforged", rect_wkt(X0, Y0 - 300, X0 + 100, Y0 - 200)},
        {"EE-\xff\xfe", rect_wkt(X0, Y0 - 500, X0 + 100, Y0 - 400)},
        {too_long, rect_wkt(X0, Y0 - 700, X0 + 100, Y0 - 600)},
        {long_ok, rect_wkt(X0, Y0 - 900, X0 + 100, Y0 - 800)},
    };
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 5);
    parcel_set *s = NULL;
    capture_start();
    int rc = parcels_load(p, "parcel_id", 10, &s);
    capture_end();
    REQUIRE(rc == MC_OK);
    CHECK_INT(s->n, 2);
    CHECK_INT(s->n_dropped, 3);
    CHECK_STR(s->ids[0], "GOOD");
    CHECK_STR(s->ids[1], long_ok);
    CHECK_MSG(strstr(captured, "feature 2: the id \"EE-1\\nforged\"") &&
                  strstr(captured, "control character"), "%s", captured);
    CHECK_MSG(strstr(captured, "feature 3: the id \"EE-\\xff\\xfe\"") &&
                  strstr(captured, "not valid UTF-8"), "%s", captured);
    CHECK_MSG(strstr(captured, "feature 4: ") && strstr(captured, "longer than 255 bytes"), "%s",
              captured);
    CHECK_MSG(!strstr(captured, "\nforged"), "a raw newline reached the log: %s", captured);
    parcels_free(s);
}

/* Overlaps by area: A and B share a quarter of each; C and D are the same square;
 * E only touches A. */
static void test_find_overlaps(void)
{
    const char *p = path_in_tmp("overlaps.gpkg");
    feat f[] = {
        {"A", rect_wkt(X0, Y0 - 200, X0 + 200, Y0)},
        {"B", rect_wkt(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)},
        {"C", rect_wkt(X0 + 1000, Y0 - 100, X0 + 1100, Y0)},
        {"D", rect_wkt(X0 + 1000, Y0 - 100, X0 + 1100, Y0)},
        {"E", rect_wkt(X0 - 200, Y0 - 200, X0, Y0)},
        {"F", rect_wkt(X0 + 5000, Y0 - 100, X0 + 5010, Y0)},
    };
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 6);
    parcel_set *s = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 10, &s) == MC_OK);
    parcel_overlap *ov = NULL;
    size_t n = 0;
    REQUIRE(parcels_find_overlaps(s, 0.1, &ov, &n) == MC_OK);
    REQUIRE(n == 2);
    CHECK(ov[0].a == 0 && ov[0].b == 1);
    CHECK(fabs(ov[0].share_a - 0.25) < 1e-9 && fabs(ov[0].share_b - 0.25) < 1e-9);
    CHECK(ov[1].a == 2 && ov[1].b == 3);
    CHECK(fabs(ov[1].share_a - 1) < 1e-9 && fabs(ov[1].share_b - 1) < 1e-9);
    free(ov);
    REQUIRE(parcels_find_overlaps(s, 0.3, &ov, &n) == MC_OK);
    CHECK(n == 1 && ov[0].a == 2 && ov[0].b == 3);
    free(ov);
    parcels_free(s);
}

/* ---- reprojection ---- */

/* A square given in UTM 35N as an EPSG:3301 WKT (corners transformed with OSR). */
static void square_3301_wkt(double x0, double y0, double x1, double y1, char *wkt, size_t size)
{
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL), est = OSRNewSpatialReference(NULL);
    REQUIRE(OSRImportFromEPSG(utm, 32635) == OGRERR_NONE && OSRImportFromEPSG(est, 3301) == OGRERR_NONE);
    OSRSetAxisMappingStrategy(utm, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(est, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(utm, est);
    REQUIRE(ct);
    double x[] = {x0, x1, x1, x0}, y[] = {y0, y0, y1, y1};
    REQUIRE(OCTTransform(ct, 4, x, y, NULL));
    snprintf(wkt, size, "POLYGON((%.9f %.9f,%.9f %.9f,%.9f %.9f,%.9f %.9f,%.9f %.9f))", x[0],
             y[0], x[1], y[1], x[2], y[2], x[3], y[3], x[0], y[0]);
    /* 3301 is metric with easting ~ 7e5 and northing ~ 6.5e6 here: check we wrote that */
    CHECK(x[0] > 600000 && x[0] < 800000 && y[0] > 6400000 && y[0] < 6700000);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(utm);
    OSRDestroySpatialReference(est);
}

static void write_square_3301(const char *path, double x0, double y0, double x1, double y1)
{
    char wkt[512];
    square_3301_wkt(x0, y0, x1, y1, wkt, sizeof wkt);
    feat f[] = {{"EST-1", wkt}};
    write_gpkg(path, 3301, "parcel_id", 0, wkbPolygon, f, 1);
}

static void test_reprojection(void)
{
    tile_grid t = tile("35VLF", 32635, X0, Y0, 100, 100);
    parcel_set *s = NULL;
    /* Exact case: a 300 m UTM square on pixel edges. Every centre is 5 m from the
     * edges and the round trip moves points by far less than a millimetre (the
     * edges bend by micrometres over 300 m), so the count is exact:
     * 30 x 30 at buffer 0, 28 x 28 at 10 m. */
    const char *p = path_in_tmp("est.gpkg");
    write_square_3301(p, X0 + 200, Y0 - 800, X0 + 500, Y0 - 500);
    REQUIRE(parcels_load(p, "parcel_id", 0, &s) == MC_OK);
    label_raster *lr = build(s, &t, &t, 1, 0);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 900);
    CHECK_INT(lr->labels[50 * 100 + 20], 1);
    CHECK_INT(lr->labels[50 * 100 + 19], 0);
    CHECK_INT(lr->labels[79 * 100 + 49], 1);
    CHECK_INT(lr->labels[80 * 100 + 49], 0);
    labels_free(lr);
    lr = build(s, &t, &t, 1, 10);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 784);
    labels_free(lr);
    parcels_free(s);

    /* Off-grid case: a square whose edges lie between centres at odd offsets; the
     * answer in UTM is 30 x 30 (centres 500215..500505 in x, 6499205..6499495 in y);
     * through 3301 it must agree within one row and one column. */
    write_square_3301(p, X0 + 213.7, Y0 - 798.2, X0 + 511.1, Y0 - 501.3);
    REQUIRE(parcels_load(p, "parcel_id", 0, &s) == MC_OK);
    lr = build(s, &t, &t, 1, 0);
    REQUIRE(lr);
    CHECK_MSG(lr->n_pixels[1] >= 29 * 29 && lr->n_pixels[1] <= 31 * 31, "%lld",
              (long long)lr->n_pixels[1]);
    CHECK_INT(lr->n_pixels[1], 30 * 30); /* the edges are >= 1.3 m from any centre */
    labels_free(lr);
    parcels_free(s);

    /* Parcels far from the tile are not even transformed; one that covers the
     * whole tile with no vertex near it still gets every pixel (10 x 10 km square,
     * 1 km tile in its middle); the 300 m square as before. */
    char far[512], cover[512], small[512];
    square_3301_wkt(X0 + 50000, Y0 - 50000, X0 + 50300, Y0 - 49700, far, sizeof far);
    square_3301_wkt(X0 - 4500, Y0 - 5500, X0 + 5500, Y0 + 4500, cover, sizeof cover);
    square_3301_wkt(X0 + 200, Y0 - 800, X0 + 500, Y0 - 500, small, sizeof small);
    feat f3[] = {{"FAR", far}, {"COVER", cover}, {"SMALL", small}};
    write_gpkg(p, 3301, "parcel_id", 0, wkbPolygon, f3, 3);
    REQUIRE(parcels_load(p, "parcel_id", 0, &s) == MC_OK);
    lr = build(s, &t, &t, 1, 0);
    REQUIRE(lr);
    CHECK_INT(lr->n_pixels[1], 0);
    CHECK_INT(lr->n_pixels[2], 10000 - 900); /* all but the overlap with SMALL */
    CHECK_INT(lr->n_pixels[3], 0);           /* SMALL lies wholly inside COVER */
    labels_free(lr);
    parcels_free(s);
}

/* ---- ownership between overlapping tiles ---- */

static long long count_label(const label_raster *lr, uint32_t l)
{
    long long n = 0;
    for (size_t k = 0; k < (size_t)lr->width * lr->height; k++)
        n += lr->labels[k] == l;
    return n;
}

/* Tiles A (35VLF, [X0, X0 + 1000] x [Y0 - 1000, Y0]) and B, overlapping it by
 * 400 m in x (and 400 m in y for the diagonal case). A parcel covering both: the
 * two counts add up to the single-tile count over the union, no centre in both,
 * and every centre is where the nearer tile centre says. */
static void check_ownership(double bx0, double by0, const char *bid, long long union_count)
{
    tile_grid tiles[3] = {tile("35VLF", 32635, X0, Y0, 100, 100),
                          tile(bid, 32635, bx0, by0, 100, 100),
                          tile("34VFL", 32634, X0, Y0, 100, 100)}; /* other zone: takes nothing */
    const char *p = path_in_tmp("own.gpkg");
    feat f[] = {{"BIG", rect_wkt(X0 - 2000, Y0 - 3000, X0 + 3000, Y0 + 2000)}};
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 1);
    parcel_set *s = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 0, &s) == MC_OK);
    label_raster *a = build(s, &tiles[0], tiles, 3, 0), *b = build(s, &tiles[1], tiles, 3, 0);
    REQUIRE(a && b);
    CHECK_INT(a->n_pixels[1] + b->n_pixels[1], union_count);
    if (bx0 == X0 + 600 && by0 == Y0) {
        CHECK_INT(a->n_pixels[1], 8000);
        CHECK_INT(b->n_pixels[1], 8000);
    }
    CHECK_INT(a->n_pixels[1], count_label(a, 1));
    /* centre by centre: owned by exactly one, the nearer (ties: 35VLF < 35VMF) */
    double acx = X0 + 500, acy = Y0 - 500, bcx = bx0 + 500, bcy = by0 - 500;
    int wrong = 0, both = 0;
    for (int j = 0; j < 100; j++) {
        for (int i = 0; i < 100; i++) {
            double x = X0 + 5 + 10 * i, y = Y0 - 5 - 10 * j;
            int bi = (int)((x - bx0) / 10), bj = (int)((by0 - y) / 10);
            int in_b = x > bx0 && x < bx0 + 1000 && y < by0 && y > by0 - 1000;
            double da = (x - acx) * (x - acx) + (y - acy) * (y - acy);
            double db = (x - bcx) * (x - bcx) + (y - bcy) * (y - bcy);
            int a_owns = !in_b || da < db || (da == db && strcmp("35VLF", bid) < 0);
            wrong += (a->labels[j * 100 + i] == 1) != a_owns;
            if (in_b)
                both += a->labels[j * 100 + i] && b->labels[bj * 100 + bi];
        }
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(both, 0);
    labels_free(a);
    labels_free(b);
    parcels_free(s);
}

/* An irregular parcel across the overlap, buffer 10 m: the two tiles' counts add
 * up to the count on one tile grid covering the union of both (same 10 m grid). */
static void check_split_parcel(double bx0, double by0)
{
    tile_grid tiles[2] = {tile("35VLF", 32635, X0, Y0, 100, 100), tile("35VMF", 32635, bx0, by0, 100, 100)};
    double ux0 = X0 < bx0 ? X0 : bx0, uy0 = Y0 > by0 ? Y0 : by0;
    double ux1 = X0 + 1000 > bx0 + 1000 ? X0 + 1000 : bx0 + 1000;
    double uy1 = Y0 - 1000 < by0 - 1000 ? Y0 - 1000 : by0 - 1000;
    tile_grid whole = tile("UNION", 32635, ux0, uy0, (int)((ux1 - ux0) / 10), (int)((uy0 - uy1) / 10));
    char wkt[512];
    snprintf(wkt, sizeof wkt, "POLYGON((%f %f,%f %f,%f %f,%f %f,%f %f))", X0 + 123.4, Y0 - 201.7,
             X0 + 1441.9, Y0 - 388.2, X0 + 1302.5, Y0 - 1377.3, X0 + 655.5, Y0 - 955.1, X0 + 123.4,
             Y0 - 201.7);
    const char *p = path_in_tmp("split.gpkg");
    feat f[] = {{"SPLIT", wkt}};
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 1);
    parcel_set *s = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 10, &s) == MC_OK);
    label_raster *a = build(s, &tiles[0], tiles, 2, 10), *b = build(s, &tiles[1], tiles, 2, 10);
    label_raster *u = build(s, &whole, &whole, 1, 10);
    REQUIRE(a && b && u);
    CHECK(a->n_pixels[1] > 1000 && b->n_pixels[1] > 1000); /* it really is split */
    /* the union grid's pixels of the parcel that lie on A or B (for diagonal
     * neighbours the union grid is their bounding box, larger than A + B) */
    long long on_ab = 0;
    for (int j = 0; j < whole.height; j++) {
        for (int i = 0; i < whole.width; i++) {
            double x = ux0 + 5 + 10 * i, y = uy0 - 5 - 10 * j;
            int in_a = x > X0 && x < X0 + 1000 && y < Y0 && y > Y0 - 1000;
            int in_b = x > bx0 && x < bx0 + 1000 && y < by0 && y > by0 - 1000;
            on_ab += u->labels[(size_t)j * whole.width + i] == 1 && (in_a || in_b);
        }
    }
    CHECK_INT(a->n_pixels[1] + b->n_pixels[1], on_ab);
    labels_free(a);
    labels_free(b);
    labels_free(u);
    parcels_free(s);
}

static void test_ownership(void)
{
    check_split_parcel(X0 + 600, Y0);
    check_split_parcel(X0 + 610, Y0);
    check_split_parcel(X0 + 600, Y0 - 600);
    check_split_parcel(X0 + 610, Y0 - 590);
    /* B 600 m east: the bisector x = X0 + 800 lies between centres; A keeps its
     * first 80 columns, B its last 80: union 160 x 100 = 16000 */
    check_ownership(X0 + 600, Y0, "35VMF", 16000);
    /* B 610 m east: centres at x = X0 + 805 are equidistant; the tie goes to the
     * smaller id. Union 161 x 100 */
    check_ownership(X0 + 610, Y0, "35VMF", 16100);
    check_ownership(X0 + 610, Y0, "35ULF", 16100); /* B wins the ties now */
    /* diagonal: B 600 m east and 600 m south; union 2 * 10000 - 40 * 40 */
    check_ownership(X0 + 600, Y0 - 600, "35VMF", 20000 - 1600);
}

/* ---- ownership across UTM zones ---- */

/* (lon, lat) <-> UTM of EPSG code epsg. */
static void utm_ll(int epsg, int to_ll, double *x, double *y, int n)
{
    OGRSpatialReferenceH a = OSRNewSpatialReference(NULL), b = OSRNewSpatialReference(NULL);
    REQUIRE(OSRImportFromEPSG(a, epsg) == OGRERR_NONE && OSRImportFromEPSG(b, 4326) == OGRERR_NONE);
    OSRSetAxisMappingStrategy(a, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(b, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = to_ll ? OCTNewCoordinateTransformation(a, b)
                                            : OCTNewCoordinateTransformation(b, a);
    REQUIRE(ct && OCTTransform(ct, n, x, y, NULL));
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(a);
    OSRDestroySpatialReference(b);
}

/* Labelled pixels of lr (tile t) west of 24 deg E (*west) and east of it (*east),
 * and the rows with any labelled pixel. */
static void count_by_meridian(const label_raster *lr, const tile_grid *t, long long *west,
                              long long *east, int *rows)
{
    *west = *east = 0;
    *rows = 0;
    double *x = malloc(sizeof(double) * (size_t)t->width);
    double *y = malloc(sizeof(double) * (size_t)t->width);
    REQUIRE(x && y);
    for (int j = 0; j < t->height; j++) {
        for (int i = 0; i < t->width; i++) {
            x[i] = t->geotransform[0] + 10 * i + 5;
            y[i] = t->geotransform[3] - 10 * j - 5;
        }
        utm_ll(t->epsg, 1, x, y, t->width);
        int any = 0;
        for (int i = 0; i < t->width; i++) {
            if (!lr->labels[(size_t)j * t->width + i])
                continue;
            any = 1;
            if (x[i] < 24.0)
                (*west)++;
            else
                (*east)++;
        }
        *rows += any;
    }
    free(x);
    free(y);
}

/* Zone 35 tile A whose west third lies west of 24 deg E (at 58.5 N), zone 34 tile B
 * whose east third lies east of it; a 1 km UTM-35 square parcel on A's pixel edges,
 * centred on the meridian, inside both. Alone, A labels 100 x 100 = 10000 pixels.
 * With both: A keeps only centres with lon >= 24, B only those with lon < 24, and
 * the sum is 10000 up to the grids' difference: B's grid is turned by ~5 deg
 * against A's, and along any row the count of 10 m centres in an interval of
 * length L is within 1 of L / 10, so each labelled row of each tile adds at most
 * one pixel of error against the area (24 E is 3 deg from both central meridians:
 * the two projections' scales agree to 1e-6, well under a pixel). Tolerance: the
 * number of labelled rows of A plus those of B (about 210 of 10000; the actual
 * difference is far smaller as the errors cancel). */
static void test_zone_ownership(void)
{
    double ex[] = {24.0}, ey[] = {58.5}, wx[] = {24.0}, wy[] = {58.5};
    utm_ll(32635, 0, ex, ey, 1);
    utm_ll(32634, 0, wx, wy, 1);
    double ax = 10 * round(ex[0] / 10), ay = 10 * round(ey[0] / 10); /* on A's pixel edges */
    double bx = 10 * round(wx[0] / 10), by = 10 * round(wy[0] / 10);
    tile_grid tiles[2] = {tile("35VLF", 32635, ax - 1000, ay + 1500, 300, 300),
                          tile("34VFL", 32634, bx - 2000, by + 1500, 300, 300)};
    const char *p = path_in_tmp("zones.gpkg");
    feat f[] = {{"MERIDIAN", rect_wkt(ax - 500, ay - 500, ax + 500, ay + 500)}};
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 1);
    parcel_set *s = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 0, &s) == MC_OK);

    /* no other-zone tile: A keeps its pixels west of 24 E */
    label_raster *ref = build(s, &tiles[0], tiles, 1, 0);
    REQUIRE(ref);
    CHECK_INT(ref->n_pixels[1], 10000);
    long long rw, re;
    int rrows;
    count_by_meridian(ref, &tiles[0], &rw, &re, &rrows);
    CHECK(rw > 4000 && re > 4000); /* the parcel really straddles the meridian */
    labels_free(ref);
    /* a zone 34 tile 50 km north, not containing those points, takes nothing */
    tile_grid far[2] = {tiles[0], tile("34VFM", 32634, bx - 2000, by + 51500, 300, 300)};
    ref = build(s, &far[0], far, 2, 0);
    REQUIRE(ref);
    CHECK_INT(ref->n_pixels[1], 10000);
    labels_free(ref);

    label_raster *a = build(s, &tiles[0], tiles, 2, 0), *b = build(s, &tiles[1], tiles, 2, 0);
    REQUIRE(a && b);
    long long aw, ae, bw, be;
    int arows, brows;
    count_by_meridian(a, &tiles[0], &aw, &ae, &arows);
    count_by_meridian(b, &tiles[1], &bw, &be, &brows);
    CHECK_INT(aw, 0);  /* zone 35 keeps nothing west of 24 E */
    CHECK_INT(be, 0);  /* zone 34 keeps nothing east of it */
    CHECK_INT(ae, re); /* and zone 35 loses nothing east of it */
    CHECK(a->n_pixels[1] > 0 && b->n_pixels[1] > 0);
    CHECK_INT(a->n_pixels[1], ae);
    CHECK_INT(b->n_pixels[1], bw);
    long long sum = a->n_pixels[1] + b->n_pixels[1], diff = sum > 10000 ? sum - 10000 : 10000 - sum;
    CHECK_MSG(diff <= arows + brows, "zone 35 %lld + zone 34 %lld = %lld, tolerance %d",
              (long long)a->n_pixels[1], (long long)b->n_pixels[1], sum, arows + brows);
    log_info("zones: zone 35 %lld + zone 34 %lld = %lld pixels (single zone 10000, tolerance %d)",
             (long long)a->n_pixels[1], (long long)b->n_pixels[1], sum, arows + brows);
    labels_free(a);
    labels_free(b);
    parcels_free(s);
}

/* ---- the cache ---- */

static int file_exists_with_prefix(const char *dir, char *found, size_t size)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/labels-35VLF-*.mcl 2>/dev/null | head -1", dir);
    FILE *f = popen(cmd, "r");
    if (!f)
        return 0;
    int ok = fgets(found, (int)size, f) != NULL;
    pclose(f);
    if (ok)
        found[strcspn(found, "\n")] = 0;
    return ok;
}

static int same_labels(const label_raster *a, const label_raster *b)
{
    return a->width == b->width && a->height == b->height && a->n_labels == b->n_labels &&
           memcmp(a->labels, b->labels, (size_t)a->width * a->height * 4) == 0 &&
           memcmp(a->n_pixels, b->n_pixels, (a->n_labels + 1) * sizeof(int64_t)) == 0;
}

static void test_cache(void)
{
    const char *p = path_in_tmp("cache.gpkg");
    feat f[] = {{"A", rect_wkt(X0, Y0 - 200, X0 + 200, Y0)},
                {"B", rect_wkt(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)},
                {"C", rect_wkt(X0 + 500, Y0 - 900, X0 + 900, Y0 - 500)}};
    write_gpkg(p, 32635, "parcel_id", 0, wkbPolygon, f, 3);
    parcel_set *s = NULL;
    REQUIRE(parcels_load(p, "parcel_id", 10, &s) == MC_OK);
    tile_grid t = tile("35VLF", 32635, X0, Y0, 100, 100);
    const char *dir = path_in_tmp("cache/sub");
    label_raster *built = build(s, &t, &t, 1, 10), *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL;
    REQUIRE(built);
    /* the result does not depend on the number of threads */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    label_raster *one = build(s, &t, &t, 1, 10);
    omp_set_num_threads(3);
    label_raster *three = build(s, &t, &t, 1, 10);
    omp_set_num_threads(threads);
    REQUIRE(one && three);
    CHECK(same_labels(built, one) && same_labels(built, three));
    labels_free(one);
    labels_free(three);
    /* labels_window_has_parcel agrees with a plain scan on random windows */
    int disagree = 0;
    unsigned seed = 12345;
    for (int k = 0; k < 2000; k++) {
        seed = seed * 1103515245u + 12345u;
        int x0 = (int)(seed >> 8) % 110 - 5, y0 = (int)(seed >> 16) % 110 - 5;
        int w = 1 + (int)(seed >> 4) % 40, h = 1 + (int)(seed >> 20) % 40;
        int any = 0;
        for (int y = y0 < 0 ? 0 : y0; y < y0 + h && y < 100; y++)
            for (int x = x0 < 0 ? 0 : x0; x < x0 + w && x < 100; x++)
                any |= built->labels[y * 100 + x] != 0;
        disagree += labels_window_has_parcel(built, x0, y0, w, h) != any;
    }
    CHECK_INT(disagree, 0);
    REQUIRE(labels_get_cached(dir, s, &t, &t, 1, 10, &c1) == MC_OK);
    char file[600];
    REQUIRE(file_exists_with_prefix(dir, file, sizeof file));
    struct stat st1;
    REQUIRE(stat(file, &st1) == 0);
    CHECK(same_labels(built, c1));
    /* a hit: read, not rebuilt (no warning; same labels) */
    capture_start();
    int rc = labels_get_cached(dir, s, &t, &t, 1, 10, &c2);
    capture_end();
    REQUIRE(rc == MC_OK);
    CHECK(same_labels(built, c2));
    CHECK_STR(captured, "");
    CHECK(labels_window_has_parcel(c2, 1, 1, 1, 1) && !labels_window_has_parcel(c2, 40, 0, 10, 40));
    /* corrupt one byte of the payload: reported and rebuilt */
    FILE *fp = fopen(file, "r+b");
    REQUIRE(fp);
    fseek(fp, 112 + 4 * 5, SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, 112 + 4 * 5, SEEK_SET);
    fputc(ch ^ 0x40, fp);
    fclose(fp);
    capture_start();
    rc = labels_get_cached(dir, s, &t, &t, 1, 10, &c3);
    capture_end();
    REQUIRE(rc == MC_OK);
    CHECK(same_labels(built, c3));
    CHECK_MSG(strstr(captured, "checksum does not match") && strstr(captured, "rebuilding"), "%s",
              captured);
    /* truncated: reported and rebuilt; the rebuilt file is whole again */
    REQUIRE(truncate(file, 150) == 0);
    capture_start();
    rc = labels_get_cached(dir, s, &t, &t, 1, 10, &c4);
    capture_end();
    REQUIRE(rc == MC_OK);
    CHECK(same_labels(built, c4));
    CHECK_MSG(strstr(captured, "truncated") && strstr(captured, file), "%s", captured);
    struct stat st2;
    REQUIRE(stat(file, &st2) == 0);
    CHECK_INT(st2.st_size, st1.st_size);
    /* another buffer or another neighbour set is another key: a second file */
    label_raster *c5 = NULL;
    tile_grid two[2] = {t, tile("35VMF", 32635, X0 + 600, Y0, 100, 100)};
    REQUIRE(labels_get_cached(dir, s, &two[0], two, 2, 10, &c5) == MC_OK);
    CHECK(c5->n_pixels[3] < built->n_pixels[3]); /* C reaches into 35VMF's half */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 2", dir);
    CHECK(system(cmd) == 0);
    labels_free(built);
    labels_free(c1);
    labels_free(c2);
    labels_free(c3);
    labels_free(c4);
    labels_free(c5);
    parcels_free(s);
}

/* ---- the parcel cache ---- */

static int count_files(const char *dir, const char *glob)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s/%s 2>/dev/null | wc -l", dir, glob);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f && fscanf(f, "%d", &n) != 1)
        n = -1;
    if (f)
        pclose(f);
    return n;
}

/* Two sets are the same set: ids, hash, refusals, left-out count, and (parsed) the
 * same labels on a tile and the same overlaps. */
static void check_same_set(const parcel_set *ref, const parcel_set *s, const char *what)
{
    CHECK_MSG(s->n == ref->n && s->n_refused == ref->n_refused &&
                  s->n_dropped == ref->n_dropped,
              "%s: %zu/%zu/%zu parcels/refused/left out, expected %zu/%zu/%zu", what, s->n,
              s->n_refused, s->n_dropped, ref->n, ref->n_refused, ref->n_dropped);
    CHECK_STR(s->hash, ref->hash);
    for (size_t i = 0; i < ref->n && i < s->n; i++) {
        CHECK_STR(s->ids[i], ref->ids[i]);
        CHECK_STR(s->refused[i] ? s->refused[i] : "-", ref->refused[i] ? ref->refused[i] : "-");
    }
    REQUIRE(parcels_need_geometries(s) == MC_OK);
    CHECK(s->srs && OSRIsSame(s->srs, ref->srs));
    tile_grid t = tile("35VLF", 32635, X0, Y0, 100, 100);
    label_raster *a = build(ref, &t, &t, 1, 10), *b = build(s, &t, &t, 1, 10);
    REQUIRE(a && b);
    CHECK_MSG(same_labels(a, b), "%s: other labels", what);
    labels_free(a);
    labels_free(b);
    parcel_overlap *oa = NULL, *ob = NULL;
    size_t na = 0, nb = 0;
    REQUIRE(parcels_find_overlaps(ref, 0.1, &oa, &na) == MC_OK);
    REQUIRE(parcels_find_overlaps(s, 0.1, &ob, &nb) == MC_OK);
    CHECK_MSG(na == nb && na > 0 && memcmp(oa, ob, na * sizeof *oa) == 0, "%s: other overlaps",
              what);
    free(oa);
    free(ob);
}

/* Loads through the cache with warnings captured. */
static parcel_set *load_cached(const char *dir, const char *p, double buffer)
{
    parcel_set *s = NULL;
    capture_start();
    int rc = parcels_load_cached(dir, p, "parcel_id", buffer, &s);
    capture_end();
    if (rc != MC_OK)
        fprintf(stderr, "parcels_load_cached: %s\n", mc_error_message());
    return s;
}

/* Flips one bit of the file at offset. */
static void flip_byte(const char *file, long offset)
{
    FILE *fp = fopen(file, "r+b");
    REQUIRE(fp);
    fseek(fp, offset, SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, offset, SEEK_SET);
    fputc(ch ^ 0x10, fp);
    fclose(fp);
}

static void test_parcel_cache(void)
{
    char p[512], dir[512]; /* path_in_tmp's buffers are reused */
    snprintf(p, sizeof p, "%s", path_in_tmp("cached.gpkg"));
    snprintf(dir, sizeof dir, "%s", path_in_tmp("state/parcels"));
    feat f[] = {
        {"A", rect_wkt(X0, Y0 - 200, X0 + 200, Y0)},
        {"B", rect_wkt(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)},
        {"BOWTIE-7", "POLYGON((500200 6499900,500300 6500000,500300 6499900,500200 6500000,"
                     "500200 6499900))"},
        {"EE-\xff", rect_wkt(X0 + 500, Y0 - 500, X0 + 600, Y0 - 400)},
        {"M", "MULTIPOLYGON(((500600 6499400,500700 6499400,500700 6499300,500600 6499300,"
              "500600 6499400)),((500800 6499400,500900 6499400,500900 6499300,500800 6499300,"
              "500800 6499400)))"},
        {"NOGEOM-9", NULL},
    };
    write_gpkg(p, 32635, "parcel_id", 0, wkbUnknown, f, 6);
    parcel_set *ref = NULL;
    capture_start();
    int rc = parcels_load(p, "parcel_id", 10, &ref);
    capture_end();
    REQUIRE(rc == MC_OK);
    char ref_warnings[sizeof captured];
    snprintf(ref_warnings, sizeof ref_warnings, "%s", captured);
    CHECK(strstr(ref_warnings, "BOWTIE-7") && strstr(ref_warnings, "feature 4: the id"));

    /* cold: read from the file, the cache written; warm: from the cache, with the same
     * warnings, nothing parsed until asked */
    parcel_set *cold = load_cached(dir, p, 10);
    REQUIRE(cold);
    CHECK_STR(captured, ref_warnings);
    CHECK_INT(count_files(dir, "parcels-*.mcp"), 1);
    CHECK(cold->wkb == NULL && cold->srs != NULL);
    check_same_set(ref, cold, "cold");
    parcel_set *warm = load_cached(dir, p, 10);
    REQUIRE(warm);
    CHECK_STR(captured, ref_warnings);
    CHECK_MSG(warm->wkb != NULL && warm->srs == NULL && warm->geometries[0] == NULL,
              "the warm set did not come from the cache");
    check_same_set(ref, warm, "warm");
    parcels_free(cold);
    parcels_free(warm);

    char file[600];
    snprintf(file, sizeof file, "ls %s/parcels-*.mcp", dir);
    FILE *ls = popen(file, "r");
    REQUIRE(ls && fgets(file, sizeof file, ls));
    pclose(ls);
    file[strcspn(file, "\n")] = 0;
    struct stat st1;
    REQUIRE(stat(file, &st1) == 0);

    /* corrupt, truncated, not a cache file, another format version: each reported,
     * the file read again, the same set, the cache whole again */
    struct {
        const char *what, *message;
        long offset; /* -1: truncate */
    } damage[] = {{"payload byte", "checksum does not match", 88 + 70},
                  {"truncated", "truncated", -1},
                  {"magic", "not a parcel cache file", 2},
                  {"version", "format version", 8}};
    for (size_t k = 0; k < sizeof damage / sizeof damage[0]; k++) {
        if (damage[k].offset < 0)
            REQUIRE(truncate(file, st1.st_size / 2) == 0);
        else
            flip_byte(file, damage[k].offset);
        parcel_set *again = load_cached(dir, p, 10);
        REQUIRE(again);
        CHECK_MSG(strstr(captured, damage[k].message) && strstr(captured, file) &&
                      strstr(captured, "reading the parcel file again"),
                  "%s: %s", damage[k].what, captured);
        CHECK_MSG(again->wkb == NULL, "%s: a damaged cache was used", damage[k].what);
        check_same_set(ref, again, damage[k].what);
        parcels_free(again);
        struct stat st2;
        REQUIRE(stat(file, &st2) == 0);
        CHECK_INT(st2.st_size, st1.st_size);
        parcel_set *fine = load_cached(dir, p, 10);
        REQUIRE(fine);
        CHECK_MSG(fine->wkb != NULL, "%s: the rewritten cache was not used", damage[k].what);
        parcels_free(fine);
    }

    /* another buffer is another key; so is a changed file: never the stale set */
    parcel_set *other = load_cached(dir, p, 0);
    REQUIRE(other);
    CHECK(other->wkb == NULL && strcmp(other->hash, ref->hash) != 0);
    parcels_free(other);
    CHECK_INT(count_files(dir, "parcels-*.mcp"), 2);
    feat more[7];
    memcpy(more, f, sizeof f);
    more[6] = (feat){"NEW", rect_wkt(X0 + 700, Y0 - 900, X0 + 800, Y0 - 800)};
    write_gpkg(p, 32635, "parcel_id", 0, wkbUnknown, more, 7);
    parcel_set *changed = load_cached(dir, p, 10);
    REQUIRE(changed);
    CHECK(changed->wkb == NULL && changed->n == ref->n + 1);
    CHECK_STR(changed->ids[changed->n - 1], "NEW");
    parcels_free(changed);
    CHECK_INT(count_files(dir, "parcels-*.mcp"), 3);
    CHECK_INT(count_files(dir, "*.mcp.*"), 0); /* no temporary file left (<name>.mcp.XXXXXX) */
    parcels_free(ref);

    /* a shapefile is several files: new ids in its .dbf alone (the same .shp) make
     * another key too */
    char shp[600], base[400];
    snprintf(base, sizeof base, "%s", path_in_tmp("shape"));
    snprintf(shp, sizeof shp, "%s.shp", base);
    feat a[] = {{"A", rect_wkt(X0, Y0 - 200, X0 + 200, Y0)},
                {"B", rect_wkt(X0 + 100, Y0 - 300, X0 + 300, Y0 - 100)}};
    feat renamed[] = {{"A2", a[0].wkt}, {"B", a[1].wkt}};
    vector_driver = "ESRI Shapefile";
    for (int round = 0; round < 2; round++) {
        char rm[2600];
        snprintf(rm, sizeof rm, "rm -f %s.shp %s.shx %s.dbf %s.prj %s.cpg", base, base, base,
                 base, base);
        REQUIRE(system(rm) == 0);
        write_gpkg(shp, 32635, "parcel_id", 0, wkbPolygon, round ? renamed : a, 2);
        parcel_set *first = load_cached(dir, shp, 10), *second = load_cached(dir, shp, 10);
        REQUIRE(first && second);
        CHECK_MSG(first->wkb == NULL && second->wkb != NULL, "round %d: not cached", round);
        CHECK_STR(first->ids[0], round ? "A2" : "A");
        CHECK_STR(second->ids[0], round ? "A2" : "A");
        CHECK_STR(second->hash, first->hash);
        parcels_free(first);
        parcels_free(second);
    }
    vector_driver = "GPKG";
}

int main(void)
{
    GDALAllRegister();
    snprintf(tmpdir, sizeof tmpdir, "%s/mowcheck-parcels-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    REQUIRE(mkdtemp(tmpdir));
    if (!GDALGetDriverByName("GPKG"))
        TEST_SKIP("GDAL has no GPKG driver");
    test_load_basic();
    test_load_errors();
    test_invalid_refused();
    test_overlap();
    test_bad_ids();
    test_find_overlaps();
    test_reprojection();
    test_ownership();
    test_zone_ownership();
    test_cache();
    test_parcel_cache();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (test_failed == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_summary();
}
