/* The ingest stage end to end on a real database, against values worked out on paper.
 *
 * Tile 35VLF: 32 x 32 px at 10 m, corner (500000, 6500000), EPSG:32635. Tile 35VMF:
 * the same grid 160 m (16 px) to the east, so the tiles overlap on x 500160..500320;
 * tile centres x 500160 and 500320, so a point west of x 500240 belongs to 35VLF.
 * Inner buffer 10 m: a parcel of 8 x 8 pixels keeps its inner 6 x 6 = 36 pixel centres.
 *
 * 35VLF pixels: red 1000, nir 3000 (NDVI 0.5 without offset), SCL 4, except
 *   - columns 4..6 of rows 0..7: nir 1000 (NDVI 0);
 *   - columns 16..23 of rows 0..7: red 2000, nir 4000;
 *   - SCL pixel (0,0) cloud (8): 10 m pixels x 0..1, y 0..1.
 * 35VMF pixels: red 1000, nir 1000 (NDVI 0), SCL 4.
 * Scenes: 35VLF on 2026-06-15 (baseline 03.01: offset 0) and 2026-06-20 (05.10: -1000,
 * same DNs); 35VMF on 2026-06-15 (03.01).
 *
 * Parcels (rectangles; columns/rows of 35VLF):
 *   A1 cols 0..7 rows 0..7 -> kept cols 1..6 rows 1..6: 18 px NDVI 0.5 (cols 1..3), 18 px
 *      NDVI 0 (cols 4..6); pixel (1,1) under cloud. 06-15: n_valid 35, sum_q 17*5000 =
 *      85000, mean 0.242857 -> 0.2429; std sqrt(35*17*5000^2 - 85000^2)/(35*10000) =
 *      sqrt(7.65e9)/350000 = 0.249898 -> 0.2499; share 35/36 = 0.9722.
 *      06-20: red 1000 - 1000 = 0 reflectance -> nothing valid, 36 seen.
 *   B1 cols 16..23 rows 0..7 -> 36 px red 2000 nir 4000: 06-15 NDVI 2000/6000 = 0.3333;
 *      06-20 (3000 - 1000)/(3000 + 1000) = 0.5. Inside the overlap but west of x 500240:
 *      35VLF's only, never counted twice.
 *   D1 cols 0..7, D2 cols 4..11, rows 16..23: kept cols 1..6 and 5..10; the shared
 *      cols 5..6 count for neither: 4 x 6 = 24 px each, NDVI 0.5 on 06-15.
 *   E1 x 500200..500280, rows 24..31: kept centres x 500215..500265 (6 cols) x 6 rows;
 *      the 3 cols west of 500240 are 35VLF's (NDVI 0.5), the 3 east 35VMF's (NDVI 0):
 *      06-15 one observation of 36 px, mean 0.25, std 0.25.
 *
 * Only the 35VLF scene of 06-15 has B11 (SWIR), DN 2000 everywhere, so NDMI =
 * (nir - 2000) / (nir + 2000): nir 3000 -> 0.2 (q 2000), nir 1000 -> -1000/3000 (q -3333),
 * nir 4000 -> 2000/6000 (q 3333). 06-15: A1 (17 * 2000 - 18 * 3333) / 35 / 10000 =
 * -0.0742686 -> -0.0743; B1 0.3333; D1, D2 0.2; E1 only 35VLF's 18 of its 36 valid pixels
 * have SWIR (35VMF's scene has no B11): exactly half, enough, 0.2. 06-20: no B11, empty. */
#include <unistd.h>

#include "fixture.h"

#include "db.h"
#include "error.h"
#include "ingest.h"
#include "log.h"
#include "test.h"

#define LF1 "S2B_35VLF_20260615_0_L2A"
#define LF2 "S2B_35VLF_20260620_0_L2A"
#define MF1 "S2B_35VMF_20260615_0_L2A"

static fx_scene lf, mf;

/* B11 DN 2000 everywhere for a 35VLF scene (see the file comment). */
static void write_swir_2000(const char *scenes, const char *id)
{
    static uint16_t swir[FX_SH][FX_SW];
    for (int y = 0; y < FX_SH; y++)
        for (int x = 0; x < FX_SW; x++)
            swir[y][x] = 2000;
    REQUIRE(fx_write_swir(scenes, id, &lf, swir) == 0);
}

static void make_scenes(const char *scenes)
{
    fx_scene_fill(&lf, 1000, 3000, 4);
    for (int y = 0; y < 8; y++) {
        for (int x = 4; x <= 6; x++)
            lf.nir[y][x] = 1000;
        for (int x = 16; x <= 23; x++) {
            lf.red[y][x] = 2000;
            lf.nir[y][x] = 4000;
        }
    }
    lf.scl[0][0] = 8;
    fx_scene_fill(&mf, 1000, 1000, 4);
    mf.x0 = FX_X0 + 160;
    char item[1024];
    fx_item(item, sizeof item, LF1, "2026-06-15", "35VLF", "03.01");
    REQUIRE(fx_write_scene(scenes, LF1, &lf, item) == 0);
    write_swir_2000(scenes, LF1);
    fx_item(item, sizeof item, LF2, "2026-06-20", "35VLF", "05.10");
    REQUIRE(fx_write_scene(scenes, LF2, &lf, item) == 0);
    fx_item(item, sizeof item, MF1, "2026-06-15", "35VMF", "03.01");
    REQUIRE(fx_write_scene(scenes, MF1, &mf, item) == 0);
}

/* Column/row rectangle of 35VLF in map units. */
static void cell_rect(char *buf, size_t size, int c0, int r0, int c1, int r1)
{
    fx_rect(buf, size, FX_X0 + 10 * c0, FX_Y0 - 10 * (r1 + 1), FX_X0 + 10 * (c1 + 1),
            FX_Y0 - 10 * r0);
}

static void make_parcels(const char *path)
{
    static char wkt[5][256];
    cell_rect(wkt[0], sizeof wkt[0], 0, 0, 7, 7);
    cell_rect(wkt[1], sizeof wkt[1], 16, 0, 23, 7);
    cell_rect(wkt[2], sizeof wkt[2], 0, 16, 7, 23);
    cell_rect(wkt[3], sizeof wkt[3], 4, 16, 11, 23);
    fx_rect(wkt[4], sizeof wkt[4], 500200, FX_Y0 - 320, 500280, FX_Y0 - 240);
    const char *ids[] = {"A1", "B1", "D1", "D2", "E1"};
    const char *w[] = {wkt[0], wkt[1], wkt[2], wkt[3], wkt[4]};
    REQUIRE(fx_write_parcels(path, 32635, ids, w, 5) == 0);
}

/* A1 in Estonia's own CRS (EPSG:3301): its corners transformed from UTM 35N. Over 80 m
 * the straight edges of either CRS are within millimetres of each other, far from the
 * 5 m between any pixel centre and the buffered edge. */
static void make_parcels_3301(const char *path)
{
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL), est = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(utm, 32635);
    OSRImportFromEPSG(est, 3301);
    OSRSetAxisMappingStrategy(utm, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(est, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(utm, est);
    double x[5] = {FX_X0, FX_X0 + 80, FX_X0 + 80, FX_X0, FX_X0};
    double y[5] = {FX_Y0 - 80, FX_Y0 - 80, FX_Y0, FX_Y0, FX_Y0 - 80};
    REQUIRE(ct && OCTTransform(ct, 5, x, y, NULL));
    char wkt[512];
    snprintf(wkt, sizeof wkt,
             "POLYGON ((%.4f %.4f, %.4f %.4f, %.4f %.4f, %.4f %.4f, %.4f %.4f))", x[0], y[0], x[1],
             y[1], x[2], y[2], x[3], y[3], x[4], y[4]);
    const char *ids[] = {"A1"};
    const char *w[] = {wkt};
    REQUIRE(fx_write_parcels(path, 3301, ids, w, 1) == 0);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(utm);
    OSRDestroySpatialReference(est);
}

static void check_row(const char *csv, const char *parcel, const char *date, const char *ndvi,
                      const char *share, int n_valid, int n_total, const char *std, int n_seen)
{
    db_row r;
    CHECK_MSG(db_find_row(csv, parcel, date, &r), "no row %s %s", parcel, date);
    if (!db_find_row(csv, parcel, date, &r))
        return;
    if (*ndvi)
        CHECK_MSG(fabs(atof(r.f[2]) - atof(ndvi)) < 1e-9, "%s %s ndvi %s, expected %s", parcel,
                  date, r.f[2], ndvi);
    else
        CHECK_MSG(r.f[2][0] == '\0', "%s %s ndvi '%s', expected empty", parcel, date, r.f[2]);
    CHECK_MSG(fabs(atof(r.f[3]) - atof(share)) < 1e-9, "%s %s share %s, expected %s", parcel, date,
              r.f[3], share);
    CHECK_MSG(atoi(r.f[4]) == n_valid, "%s %s n_valid %s, expected %d", parcel, date, r.f[4], n_valid);
    CHECK_MSG(atoi(r.f[5]) == n_total, "%s %s n_total %s, expected %d", parcel, date, r.f[5], n_total);
    if (*std)
        CHECK_MSG(fabs(atof(r.f[6]) - atof(std)) < 1e-9, "%s %s std %s, expected %s", parcel,
                  date, r.f[6], std);
    CHECK_MSG(atoi(r.f[7]) == n_seen, "%s %s n_seen %s, expected %d", parcel, date, r.f[7], n_seen);
}

static void check_ndmi(const char *csv, const char *parcel, const char *date, const char *ndmi)
{
    db_row r;
    if (!db_find_row(csv, parcel, date, &r))
        return; /* check_row says so */
    if (*ndmi)
        CHECK_MSG(r.f[8][0] && fabs(atof(r.f[8]) - atof(ndmi)) < 1e-9, "%s %s ndmi '%s', expected %s",
                  parcel, date, r.f[8], ndmi);
    else
        CHECK_MSG(r.f[8][0] == '\0', "%s %s ndmi '%s', expected empty", parcel, date, r.f[8]);
}

static ingest_options options(const char *scenes, const char *parcels, const char *state)
{
    ingest_options o = {.scenes_dir = scenes, .parcels_path = parcels, .state_dir = state,
                        .inner_buffer_m = 10, .device = KERNEL_DEVICE_CPU, .n_threads = 2};
    return o;
}

static void test_closed_form(const char *dir, const char *scenes)
{
    char dsn[512], parcels[512], state[512];
    db_create("mowcheck_ingest_closed", dsn, sizeof dsn);
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    make_parcels(parcels);
    store *s = db_open(dsn);
    ingest_options o = options(scenes, parcels, state);
    ingest_summary sum;
    if (!kernel_cuda_available()) { /* --device cuda without a GPU: refused before any work */
        o.device = KERNEL_DEVICE_CUDA;
        CHECK_INT(ingest_run(&o, s, &sum), MC_ERR);
        CHECK(strstr(mc_error_message(), "cuda") != NULL);
        CHECK_INT(sum.scenes_ingested, 0);
        o.device = KERNEL_DEVICE_AUTO; /* auto without a GPU: the CPU */
        CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest: %s", mc_error_message());
    } else {
        CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest: %s", mc_error_message());
    }
    o.device = KERNEL_DEVICE_CPU;
    CHECK_INT(sum.scenes_found, 3);
    CHECK_INT(sum.scenes_new, 3);
    CHECK_INT(sum.scenes_ingested, 3);
    CHECK_INT(sum.scenes_rejected, 0);
    CHECK_INT(sum.scenes_with_swir, 1); /* LF1 only */
    CHECK_INT(sum.parcels, 5);
    /* 35VLF owns A1 B1 D1 D2 E1 (5 parts, 2 scenes), 35VMF owns part of E1 */
    CHECK_INT(sum.observations, 5 + 5 + 1);
    char *csv = db_export(s);
    check_row(csv, "A1", "2026-06-15", "0.2429", "0.9722", 35, 36, "0.2499", 36);
    check_row(csv, "A1", "2026-06-20", "", "0", 0, 36, "", 36);
    check_row(csv, "B1", "2026-06-15", "0.3333", "1", 36, 36, "0", 36);
    check_row(csv, "B1", "2026-06-20", "0.5", "1", 36, 36, "0", 36);
    check_row(csv, "D1", "2026-06-15", "0.5", "1", 24, 24, "0", 24);
    check_row(csv, "D2", "2026-06-15", "0.5", "1", 24, 24, "0", 24);
    check_row(csv, "E1", "2026-06-15", "0.25", "1", 36, 36, "0.25", 36);
    check_row(csv, "E1", "2026-06-20", "", "0", 0, 36, "", 18);
    check_ndmi(csv, "A1", "2026-06-15", "-0.0743");
    check_ndmi(csv, "B1", "2026-06-15", "0.3333");
    check_ndmi(csv, "D1", "2026-06-15", "0.2");
    check_ndmi(csv, "D2", "2026-06-15", "0.2");
    check_ndmi(csv, "E1", "2026-06-15", "0.2");
    check_ndmi(csv, "A1", "2026-06-20", "");
    check_ndmi(csv, "B1", "2026-06-20", "");
    CHECK_INT(db_count_rows(csv, "E1"), 2); /* one observation per date, not per tile */
    CHECK_INT(db_count_rows(csv, "B1"), 2);

    /* a second run: nothing new, the same data */
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest again: %s", mc_error_message());
    CHECK_INT(sum.scenes_found, 3);
    CHECK_INT(sum.scenes_ingested, 0);
    CHECK_INT(sum.scenes_skipped, 3);
    CHECK_INT(sum.pixels_decoded, 0);
    char *again = db_export(s);
    CHECK_STR(again, csv);
    free(again);

    /* only tile 35VMF asked for, on a fresh database: 35VLF still owns its half of E1 */
    store_close(s);
    db_create("mowcheck_ingest_closed", dsn, sizeof dsn);
    s = db_open(dsn);
    const char *only[] = {"35VMF"};
    o.tiles = only;
    o.n_tiles = 1;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest --tile: %s", mc_error_message());
    CHECK_INT(sum.scenes_found, 1);
    CHECK_INT(sum.scenes_ingested, 1);
    free(csv);
    csv = db_export(s);
    db_row r;
    CHECK(db_find_row(csv, "E1", "2026-06-15", &r));
    CHECK_STR(r.f[4], "18"); /* 35VMF's 18 pixels only; 35VLF's come with its own task */
    CHECK_INT(db_count_rows(csv, "A1"), 0);
    free(csv);
    store_close(s);
}

/* A scene stored without B11 is measured again once its B11 arrives: 35VLF 06-20
 * (baseline 05.10, offset -1000) gets B11 DN 2000 -> reflectance 0.1; B1 nir 0.3:
 * (0.3 - 0.1) / 0.4 = 0.5. D1 stays unobserved on 06-20 (red reflectance 0): no NDMI
 * either. NDVI stays as it was. */
static void test_swir_arrives(const char *dir)
{
    char dsn[512], parcels[512], state[512], scenes[512];
    db_create("mowcheck_ingest_swir", dsn, sizeof dsn);
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    snprintf(state, sizeof state, "%s/state-swir", dir);
    snprintf(scenes, sizeof scenes, "%s/scenes-swir", dir);
    make_scenes(scenes);
    store *s = db_open(dsn);
    ingest_options o = options(scenes, parcels, state);
    ingest_summary sum;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest: %s", mc_error_message());
    CHECK_INT(sum.scenes_with_swir, 1);
    char *before = db_export(s);
    check_ndmi(before, "B1", "2026-06-20", "");

    write_swir_2000(scenes, LF2);
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest with B11: %s", mc_error_message());
    CHECK_INT(sum.scenes_new, 0);
    CHECK_INT(sum.scenes_remeasured, 1);
    CHECK_INT(sum.scenes_with_swir, 1);
    CHECK_INT(sum.scenes_skipped, 2);
    char *after = db_export(s);
    check_row(after, "B1", "2026-06-20", "0.5", "1", 36, 36, "0", 36);
    check_ndmi(after, "B1", "2026-06-20", "0.5");
    check_ndmi(after, "D1", "2026-06-20", "");
    check_ndmi(after, "B1", "2026-06-15", "0.3333"); /* LF1 untouched */
    CHECK_INT(db_count_rows(after, "B1"), 2);

    /* stored with B11 now: the next night has nothing to do */
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest again: %s", mc_error_message());
    CHECK_INT(sum.scenes_remeasured, 0);
    CHECK_INT(sum.scenes_skipped, 3);
    char *again = db_export(s);
    CHECK_STR(again, after);
    free(before);
    free(after);
    free(again);
    store_close(s);
}

static void test_reprojection(const char *dir, const char *scenes)
{
    char dsn[512], parcels[512], state[512];
    db_create("mowcheck_ingest_3301", dsn, sizeof dsn);
    snprintf(parcels, sizeof parcels, "%s/parcels-3301.gpkg", dir);
    snprintf(state, sizeof state, "%s/state-3301", dir);
    make_parcels_3301(parcels);
    store *s = db_open(dsn);
    ingest_options o = options(scenes, parcels, state);
    ingest_summary sum;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest 3301: %s", mc_error_message());
    CHECK_INT(sum.scenes_ingested, 3);
    char *csv = db_export(s);
    check_row(csv, "A1", "2026-06-15", "0.2429", "0.9722", 35, 36, "0.2499", 36);
    free(csv);
    store_close(s);
}

/* The agency's parcel file changes mid-season (D2 withdrawn): the stored scenes are
 * measured again for the new set, so its series is whole. Without D2, D1 keeps its
 * shared columns 5..6: 6 x 6 = 36 px. Then back to the first file with 35VLF's
 * 06-20 folder gone: that scene stays measured for the second set, and is reported. */
static void test_parcel_set_change(const char *dir, const char *scenes)
{
    char dsn[512], first[512], second[512], state[512];
    db_create("mowcheck_ingest_setchange", dsn, sizeof dsn);
    snprintf(first, sizeof first, "%s/parcels-first.gpkg", dir);
    snprintf(second, sizeof second, "%s/parcels-second.gpkg", dir);
    snprintf(state, sizeof state, "%s/state-setchange", dir);
    make_parcels(first);
    static char wkt[4][256];
    cell_rect(wkt[0], sizeof wkt[0], 0, 0, 7, 7);
    cell_rect(wkt[1], sizeof wkt[1], 16, 0, 23, 7);
    cell_rect(wkt[2], sizeof wkt[2], 0, 16, 7, 23);
    fx_rect(wkt[3], sizeof wkt[3], 500200, FX_Y0 - 320, 500280, FX_Y0 - 240);
    const char *ids[] = {"A1", "B1", "D1", "E1"};
    const char *w[] = {wkt[0], wkt[1], wkt[2], wkt[3]};
    REQUIRE(fx_write_parcels(second, 32635, ids, w, 4) == 0);

    store *s = db_open(dsn);
    ingest_options o = options(scenes, first, state);
    ingest_summary sum;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest: %s", mc_error_message());
    CHECK_INT(sum.scenes_ingested, 3);
    o.parcels_path = second;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest, new set: %s", mc_error_message());
    CHECK_INT(sum.scenes_new, 0);
    CHECK_INT(sum.scenes_ingested, 0);
    CHECK_INT(sum.scenes_remeasured, 3);
    CHECK_INT(sum.scenes_left_behind, 0);
    char *csv = db_export(s);
    check_row(csv, "D1", "2026-06-15", "0.5", "1", 36, 36, "0", 36);
    check_row(csv, "A1", "2026-06-15", "0.2429", "0.9722", 35, 36, "0.2499", 36);
    check_row(csv, "E1", "2026-06-15", "0.25", "1", 36, 36, "0.25", 36);
    CHECK_INT(db_count_rows(csv, "D2"), 0);
    CHECK_INT(db_count_rows(csv, "A1"), 2);

    /* the same as ingesting the new set alone */
    char dsn2[512];
    db_create("mowcheck_ingest_setchange_fresh", dsn2, sizeof dsn2);
    store *fresh = db_open(dsn2);
    CHECK_MSG(ingest_run(&o, fresh, &sum) == MC_OK, "fresh: %s", mc_error_message());
    char *fresh_csv = db_export(fresh);
    CHECK_STR(csv, fresh_csv);
    free(fresh_csv);
    store_close(fresh);

    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "again: %s", mc_error_message());
    CHECK_INT(sum.scenes_skipped, 3);
    CHECK_INT(sum.scenes_remeasured, 0);

    char gone[600];
    snprintf(gone, sizeof gone, "%s/%s", scenes, LF2);
    fx_rmtree(gone);
    o.parcels_path = first;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "back to the first set: %s", mc_error_message());
    CHECK_INT(sum.scenes_remeasured, 2);
    CHECK_INT(sum.scenes_left_behind, 1);
    free(csv);
    csv = db_export(s);
    check_row(csv, "D2", "2026-06-15", "0.5", "1", 24, 24, "0", 24);
    CHECK_INT(db_count_rows(csv, "A1"), 1); /* 06-20 is the second set's */
    free(csv);
    store_close(s);
}

/* The nightly batch runs as a login in mowcheck_batch, not as the owner: it ingests
 * (new season-tile partitions, pixel-count digests, scenes measured again for a new
 * parcel set); an inspector login may not make partitions. */
static void test_batch_role(const char *dir, const char *scenes)
{
    char dsn[512], parcels[512], second[512], state[512], sql[512];
    db_create("mowcheck_ingest_batch", dsn, sizeof dsn);
    snprintf(parcels, sizeof parcels, "%s/parcels-batch.gpkg", dir);
    snprintf(second, sizeof second, "%s/parcels-batch-2.gpkg", dir);
    snprintf(state, sizeof state, "%s/state-batch", dir);
    make_parcels(parcels);
    static char wkt[256];
    cell_rect(wkt, sizeof wkt, 0, 0, 7, 7);
    const char *ids[] = {"A1"};
    const char *w[] = {wkt};
    REQUIRE(fx_write_parcels(second, 32635, ids, w, 1) == 0);
    store_close(db_open(dsn)); /* the owner applies the migrations */
    long pid = (long)getpid();
    snprintf(sql, sizeof sql,
             "DROP ROLE IF EXISTS batch_%ld; CREATE ROLE batch_%ld LOGIN IN ROLE mowcheck_batch;"
             "DROP ROLE IF EXISTS insp_%ld; CREATE ROLE insp_%ld LOGIN IN ROLE mowcheck_inspector",
             pid, pid, pid, pid);
    db_admin(sql);
    char batch_dsn[600], insp_dsn[600];
    snprintf(batch_dsn, sizeof batch_dsn, "host=%s dbname=mowcheck_ingest_batch user=batch_%ld",
             getenv("MOWCHECK_TEST_PGHOST"), pid);
    snprintf(insp_dsn, sizeof insp_dsn, "host=%s dbname=mowcheck_ingest_batch user=insp_%ld",
             getenv("MOWCHECK_TEST_PGHOST"), pid);

    store *s = db_open(batch_dsn);
    ingest_options o = options(scenes, parcels, state);
    ingest_summary sum;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "ingest as the batch role: %s",
              mc_error_message());
    CHECK_INT(sum.scenes_ingested, 3);
    o.parcels_path = second;
    CHECK_MSG(ingest_run(&o, s, &sum) == MC_OK, "new parcel set as the batch role: %s",
              mc_error_message());
    CHECK_INT(sum.scenes_remeasured, 3);
    store_close(s);

    PGconn *insp = PQconnectdb(insp_dsn);
    REQUIRE(PQstatus(insp) == CONNECTION_OK);
    PGresult *r = PQexec(insp, "SELECT observation_parts_partition('2031-06-01', '35VLF')");
    CHECK_MSG(PQresultStatus(r) == PGRES_FATAL_ERROR &&
                  strstr(PQerrorMessage(insp), "permission denied") != NULL,
              "inspector making a partition: %s", PQerrorMessage(insp));
    PQclear(r);
    PQfinish(insp);
    db_admin("DROP DATABASE mowcheck_ingest_batch WITH (FORCE)");
    snprintf(sql, sizeof sql, "DROP ROLE batch_%ld; DROP ROLE insp_%ld", pid, pid);
    db_admin(sql);
}

int main(void)
{
    char dir[256], scenes[512];
    log_set_level(LOG_WARN);
    GDALAllRegister();
    if (!getenv("MOWCHECK_TEST_PGHOST"))
        TEST_SKIP("MOWCHECK_TEST_PGHOST not set (run through ctest)");
    fx_tmpdir(dir, sizeof dir, "ingest");
    snprintf(scenes, sizeof scenes, "%s/scenes", dir);
    make_scenes(scenes);
    test_closed_form(dir, scenes);
    test_swir_arrives(dir);
    test_reprojection(dir, scenes);
    test_batch_role(dir, scenes);
    test_parcel_set_change(dir, scenes); /* last: removes a scene folder */
    fx_rmtree(dir);
    return test_summary();
}
