/* The series CSV for a small hand-made case, through store_export_series and
 * through `mowcheck export series` (cmd_export), against the shared test cluster.
 *
 * Parcel pixels (set-x): A: 6 in 35VLF + 4 in 35VLG = 10; "B,x": 3; C"q: 2.
 * Scenes and parts (q = 10000 * NDVI of each valid pixel):
 *   35VLF 2026-06-15: A q {5000, 6000, 7000} (seen 5); B,x q {-2000} (seen 3);
 *                     C"q q {3333, 3334} (seen 2)
 *   35VLG 2026-06-15: A q {8000, 4000} (seen 4)
 *   35VLF 2026-06-20: A q 2500 x 6 (seen 6)
 *   35VLF 2025-07-01: B,x q {1000, 2000, 3000} (seen 3)
 * By hand:
 *   A 06-15: n 5, mean 6000 -> 0.6000, var (1+0+1+4+4)e6/5 = 2e6, std 1414.21 -> 0.1414,
 *            share 5/10 = 0.5000, seen 9
 *   A 06-20: n 6, 0.2500, std 0, share 6/10 (the parcel's total over both tiles), seen 6
 *   B,x 2025-07-01: n 3, 0.2000, var 2e6/3, std 816.50 -> 0.0816, share 1.0000
 *   B,x 06-15: n 1 < min_valid_pixels 2 -> not observed; share 1/3 -> 0.3333
 *   C"q 06-15: mean 3333.5 -> 0.33335 -> 0.3334 (half away from zero);
 *              n*sum_q2 - sum_q^2 = 2*22224445 - 6667^2 = 1, std = 1/(2*10000) = 0.00005 -> 0.0001 */
#define _GNU_SOURCE
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "store_test.h"

static const char *header =
    "parcel_id,date,ndvi,valid_share,n_valid,n_total,ndvi_std,n_seen,ndmi\n";
static const char *row_a1 = "A,2026-06-15,0.6000,0.5000,5,10,0.1414,9,0.2500\n";
static const char *row_a2 = "A,2026-06-20,0.2500,0.6000,6,10,0.0000,6,\n";
static const char *row_b0 = "\"B,x\",2025-07-01,0.2000,1.0000,3,3,0.0816,3,\n";
static const char *row_b1 = "\"B,x\",2026-06-15,,0.3333,1,3,,3,\n";
static const char *row_c1 = "\"C\"\"q\",2026-06-15,0.3334,1.0000,2,2,0.0001,2,0.1234\n";

static void commit(store *s, const char *id, const char *tile, const char *date, int has_swir,
                   const store_obs_part *parts, size_t n)
{
    scene_info sc;
    memset(&sc, 0, sizeof sc);
    sc.has_swir = has_swir;
    snprintf(sc.scene_id, sizeof sc.scene_id, "%s", id);
    snprintf(sc.tile_id, sizeof sc.tile_id, "%s", tile);
    snprintf(sc.acquired_on, sizeof sc.acquired_on, "%s", date);
    snprintf(sc.satellite, sizeof sc.satellite, "S2A");
    snprintf(sc.path, sizeof sc.path, "/scenes/%s", id);
    int dup = -1;
    REQUIRE(store_scene_commit(s, 0, &sc, "set-x", parts, n, &dup, NULL) == MC_OK);
    REQUIRE(dup == 0);
}

static void fill(store *s)
{
    REQUIRE(store_parcel_set_put(s, "set-x", "/data/p.gpkg", "parcel_id", 3) == MC_OK);
    tile_grid g1 = {"35VLF", 32635, {600000, 10, 0, 6500040, 0, -10}, 10980, 10980};
    tile_grid g2 = {"35VLG", 32635, {600000, 10, 0, 6600000, 0, -10}, 10980, 10980};
    REQUIRE(store_tile_put(s, &g1) == MC_OK && store_tile_put(s, &g2) == MC_OK);
    const char *ids1[] = {"A", "B,x", "C\"q"};
    int64_t px1[] = {6, 3, 2};
    const char *ids2[] = {"A"};
    int64_t px2[] = {4};
    REQUIRE(store_parcel_tile_put(s, "set-x", "35VLF", ids1, px1, 3) == MC_OK);
    REQUIRE(store_parcel_tile_put(s, "set-x", "35VLG", ids2, px2, 1) == MC_OK);

    /* NDMI (the last two numbers: pixels with SWIR, their fixed-point NDMI sum), only
     * in the scenes with B11:
     *   C"q 06-15: 2468 / (2 * 10000) = 0.1234.
     *   A 06-15: 35VLF has B11 (3 pixels, 7500), 35VLG has none (NULL): 7500 / 30000 =
     *            0.2500 over the 3 of A's 5 valid pixels that have SWIR (2 * 3 >= 5).
     *   A 06-20: only 2 of 6 valid pixels with SWIR (2 * 2 < 6): no NDMI.
     *   B,x 06-15: SWIR, but the date is not observed (1 valid pixel): no NDMI. */
    store_obs_part f0615[] = {
        {"C\"q", 2, {2, 2, 6667, 3333LL * 3333 + 3334LL * 3334, 2, 2468}},
        {"A", 6, {3, 5, 18000, 110000000, 3, 7500}},
        {"B,x", 3, {1, 3, -2000, 4000000, 1, 500}},
    };
    store_obs_part g0615[] = {{"A", 4, {2, 4, 12000, 80000000, 0, 0}}};
    store_obs_part f0620[] = {{"A", 6, {6, 6, 15000, 6 * 6250000, 2, 6000}}};
    store_obs_part f0701[] = {{"B,x", 3, {3, 3, 6000, 14000000, 0, 0}}};
    commit(s, "S2A_35VLF_20260620_0_L2A", "35VLF", "2026-06-20", 1, f0620, 1);
    commit(s, "S2A_35VLF_20260615_0_L2A", "35VLF", "2026-06-15", 1, f0615, 3);
    commit(s, "S2A_35VLG_20260615_0_L2A", "35VLG", "2026-06-15", 0, g0615, 1);
    commit(s, "S2A_35VLF_20250701_0_L2A", "35VLF", "2025-07-01", 0, f0701, 1);
}

static char *export_text(store *s, int64_t min_pixels, double min_share, int season)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    store_series_filter filter = {min_pixels, min_share, season};
    int rc = store_export_series(s, &filter, f);
    fclose(f);
    if (rc != MC_OK)
        fprintf(stderr, "export: %s\n", mc_error_message());
    return text;
}

static char *concat(const char *const *parts, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]);
    char *out = calloc(1, len);
    for (size_t i = 0; i < n; i++)
        strcat(out, parts[i]);
    return out;
}

static void test_export(store *s)
{
    const char *all[] = {header, row_a1, row_a2, row_b0, row_b1, row_c1};
    char *want = concat(all, 6), *got = export_text(s, 2, 0.5, 0);
    CHECK_STR(got, want);
    free(want);
    free(got);

    const char *season[] = {header, row_a1, row_a2, row_b1, row_c1};
    want = concat(season, 5);
    got = export_text(s, 2, 0.5, 2026);
    CHECK_STR(got, want);
    free(want);
    free(got);

    /* min_valid_share 0.6: A's 06-15 (share 0.5) is no longer observed; 06-20 (exactly 0.6)
     * still is: the share is compared exactly, not in binary floating point. */
    const char *strict[] = {header, "A,2026-06-15,,0.5000,5,10,,9,\n", row_a2};
    want = concat(strict, 3);
    got = export_text(s, 2, 0.6, 2026);
    CHECK(got && strncmp(got, want, strlen(want)) == 0);
    if (got && strncmp(got, want, strlen(want)) != 0)
        fprintf(stderr, "got:\n%s\nwanted to start with:\n%s\n", got, want);
    free(want);
    free(got);

    got = export_text(s, 2, 0.5, 2024);
    CHECK_STR(got, header);
    free(got);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return text;
}

static void test_command(const char *dsn)
{
    char dir[] = "/tmp/mc-store-export-XXXXXX", out[256];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(out, sizeof out, "%s/series.csv", dir);
    char *argv[] = {"export", "series", "-o", out, "--db", (char *)dsn, "--season", "2026",
                    "--min-valid-pixels", "2", "--min-valid-share", "0.5", NULL};
    CHECK_INT(cmd_export(12, argv), EXIT_OK);
    const char *season[] = {header, row_a1, row_a2, row_b1, row_c1};
    char *want = concat(season, 5), *got = read_all(out);
    CHECK_STR(got, want);
    free(want);
    free(got);
    unlink(out);

    char *bad_kind[] = {"export", "parcels", "--db", (char *)dsn, NULL};
    CHECK_INT(cmd_export(4, bad_kind), EXIT_USAGE);
    char *bad_season[] = {"export", "series", "--db", (char *)dsn, "--season", "26x", NULL};
    CHECK_INT(cmd_export(6, bad_season), EXIT_USAGE);
    char *bad_db[] = {"export", "series", "--db", "host=/nonexistent dbname=x", NULL};
    CHECK_INT(cmd_export(4, bad_db), EXIT_FAILURE_RUN);
    char *missing_dir[] = {"export", "series", "-o", "/nonexistent/dir/s.csv", "--db",
                           (char *)dsn, NULL};
    CHECK_INT(cmd_export(6, missing_dir), EXIT_FAILURE_RUN);
    rmdir(dir);
}

int main(void)
{
    char dsn[512];
    store_test_create_db("store_export", dsn, sizeof dsn);
    store *s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    fill(s);
    test_export(s);
    store_close(s);
    test_command(dsn);
    return test_summary();
}
