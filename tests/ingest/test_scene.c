/* Scene ids, item.json, the offset rule, and validation of the bands (no database). */
#include "fixture.h"

#include "error.h"
#include "log.h"
#include "scene.h"
#include "test.h"

static fx_scene base;

static void test_ids(void)
{
    scene_info s;
    memset(&s, 0, sizeof s);
    CHECK_INT(scene_parse_id("S2B_35VLF_20260615_0_L2A", &s), MC_OK);
    CHECK_STR(s.satellite, "S2B");
    CHECK_STR(s.tile_id, "35VLF");
    CHECK_STR(s.acquired_on, "2026-06-15");
    CHECK_INT(s.sequence, 0);
    CHECK_INT(scene_parse_id("S2A_34VEM_20240229_12_L2A", &s), MC_OK);
    CHECK_STR(s.acquired_on, "2024-02-29");
    CHECK_INT(s.sequence, 12);
    const char *bad[] = {
        "S2B_35VLF_20260615_0_L1C",  /* not L2A */
        "S2B_35VLF_20250229_0_L2A",  /* no 29 February in 2025 */
        "S2B_35VLF_20261301_0_L2A",  /* month 13 */
        "S2B_35VIF_20260615_0_L2A",  /* I is not an MGRS letter */
        "S2B_61VLF_20260615_0_L2A",  /* zone 61 */
        "S2B_35VLF_20260615__L2A",   /* no sequence */
        "S2E_35VLF_20260615_0_L2A",  /* no such satellite */
        "S2B_35VLF_20260615_0_L2A_", /* trailing junk */
        "tmp",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(scene_parse_id(bad[i], &s) == MC_ERR, "%s accepted", bad[i]);
        CHECK_MSG(strstr(mc_error_message(), bad[i]) != NULL, "message '%s' does not name %s",
                  mc_error_message(), bad[i]);
    }
}

static void test_offsets(void)
{
    int32_t off = 7;
    CHECK_INT(scene_offset_for("05.10", "2026-06-15", &off), MC_OK);
    CHECK_INT(off, -1000);
    CHECK_INT(scene_offset_for("04.00", "2019-06-15", &off), MC_OK); /* baseline wins */
    CHECK_INT(off, -1000);
    CHECK_INT(scene_offset_for("03.01", "2026-06-15", &off), MC_OK);
    CHECK_INT(off, 0);
    CHECK_INT(scene_offset_for("", "2022-01-25", &off), MC_OK); /* by date: first day */
    CHECK_INT(off, -1000);
    CHECK_INT(scene_offset_for("", "2022-01-24", &off), MC_OK);
    CHECK_INT(off, 0);
    CHECK_INT(scene_offset_for("4.0", "2026-06-15", &off), MC_ERR);
}

static void write_item(const char *dir, const char *id, const char *json)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/item.json", dir, id);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(json, f);
    fclose(f);
}

static void test_items(const char *dir)
{
    const char *id = "S2B_35VLF_20260615_0_L2A";
    char item[1024];
    scene_info s;
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    /* no item.json: by the date (after 2022-01-25) */
    CHECK_INT(scene_load(dir, id, &s), MC_OK);
    CHECK_INT(s.reflectance_offset_dn, -1000);
    CHECK_STR(s.processing_baseline, "");
    fx_item(item, sizeof item, id, "2026-06-15", "35VLF", "03.01");
    write_item(dir, id, item);
    CHECK_INT(scene_load(dir, id, &s), MC_OK);
    CHECK_INT(s.reflectance_offset_dn, 0);
    CHECK_STR(s.processing_baseline, "03.01");
    /* mgrs:* triple and raster:bands offset -0.1 at scale 0.0001 = -1000 DN */
    write_item(dir, id,
               "{\"id\": \"S2B_35VLF_20260615_0_L2A\", \"properties\": {\"datetime\": "
               "\"2026-06-15T09:50:00Z\", \"mgrs:utm_zone\": 35, \"mgrs:latitude_band\": \"V\", "
               "\"mgrs:grid_square\": \"LF\"}, \"assets\": {\"red\": {\"raster:bands\": "
               "[{\"offset\": -0.1, \"scale\": 0.0001}]}, \"nir\": {\"raster:bands\": "
               "[{\"offset\": -0.1, \"scale\": 0.0001}]}}}");
    CHECK_INT(scene_load(dir, id, &s), MC_OK);
    CHECK_INT(s.reflectance_offset_dn, -1000);
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"properties\": {\"datetime\": \"2026-06-16T09:50:00Z\"}}", "2026-06-16"},
        {"{\"properties\": {\"s2:mgrs_tile\": \"35VLG\"}}", "35VLG"},
        {"{\"id\": \"S2A_35VLF_20260615_0_L2A\", \"properties\": {}}", "S2A_35VLF"},
        {"{\"properties\": {\"s2:processing_baseline\": \"five\"}}", "five"},
        {"{\"properties\": {\"s2:processing_baseline\": \"05.10\"}, \"assets\": {\"B04\": "
         "{\"raster:bands\": [{\"offset\": 0, \"scale\": 0.0001}]}}}",
         "contradicts"},
        {"{\"properties\": {\"datetime\": 20260615}}", "datetime"},
        {"{\"properties\": {", "does not parse"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_item(dir, id, bad[i].json);
        CHECK_MSG(scene_load(dir, id, &s) == MC_ERR, "item %zu accepted", i);
        const char *m = mc_error_message();
        CHECK_MSG(strstr(m, bad[i].needle) && strstr(m, "item.json") && strstr(m, dir),
                  "item %zu: message '%s'", i, m);
    }
}

/* Collection-1 ids and .SAFE names normalise to the one id of their tile-date. */
static void test_layout_names(void)
{
    scene_info s;
    memset(&s, 0, sizeof s);
    CHECK_INT(scene_parse_id("S2B_T35VLF_20260621T095031_L2A", &s), MC_OK);
    CHECK_STR(s.scene_id, "S2B_35VLF_20260621_0_L2A");
    CHECK_STR(s.tile_id, "35VLF");
    CHECK_STR(s.acquired_on, "2026-06-21");
    CHECK_INT(scene_parse_id("S2B_T35VIF_20260621T095031_L2A", &s), MC_ERR); /* I: no tile */
    CHECK_INT(scene_identify("/scenes", "S2B_MSIL2A_20260621T095031_N0511_R079_T35VMF_"
                                        "20260621T125011.SAFE.zip", &s), MC_OK);
    CHECK_STR(s.scene_id, "S2B_35VMF_20260621_0_L2A");
    CHECK_STR(s.processing_baseline, "05.11");
    CHECK(s.is_safe && s.in_zip);
    CHECK_INT(scene_identify("/scenes", "35/V/LF/2026/6/S2B_35VLF_20260621_0_L2A", &s), MC_OK);
    CHECK_STR(s.path, "/scenes/35/V/LF/2026/6/S2B_35VLF_20260621_0_L2A");
    CHECK_STR(s.scene_id, "S2B_35VLF_20260621_0_L2A");
    CHECK_INT(scene_identify("/scenes", "S2B_MSIL1C_20260621T095031_N0511_R079_T35VMF_"
                                        "20260621T125011.SAFE", &s), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "Level-2A") != NULL, "message '%s'", mc_error_message());
}

/* Earth Search v1: the offset already removed (flag), the band files named by the assets. */
static void test_earth_search_item(const char *dir)
{
    const char *id = "S2B_35VLF_20260617_0_L2A";
    scene_info s;
    char path[4096];
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    write_item(dir, id,
               "{\"id\": \"S2B_35VLF_20260617_0_L2A\", \"properties\": {\"datetime\": "
               "\"2026-06-17T09:50:00Z\", \"s2:processing_baseline\": \"05.11\", "
               "\"earthsearch:boa_offset_applied\": true}, \"assets\": {\"red\": {\"href\": "
               "\"./B04.tif\", \"raster:bands\": [{\"offset\": -0.1, \"scale\": 0.0001}]}, "
               "\"nir\": {\"href\": \"https://example.org/x/B08.tif\"}, \"scl\": {\"href\": "
               "\"scl.tif\"}, \"swir16\": {\"href\": \"swir16.tif\"}}}");
    CHECK_INT(scene_load(dir, id, &s), MC_OK);
    CHECK_INT(s.reflectance_offset_dn, 0);
    CHECK_MSG(strstr(s.offset_source, "boa_offset_applied") != NULL, "source '%s'", s.offset_source);
    REQUIRE(scene_band_path(&s, "SCL", path, sizeof path) == MC_OK);
    CHECK_MSG(strstr(path, "/scl.tif") != NULL, "SCL path %s", path);
    REQUIRE(scene_band_path(&s, "B08", path, sizeof path) == MC_OK);
    CHECK_MSG(strstr(path, id) && strstr(path, "/B08.tif") && !strstr(path, "example.org"),
              "B08 path %s", path);
    write_item(dir, id, "{\"properties\": {\"earthsearch:boa_offset_applied\": \"yes\"}}");
    CHECK_INT(scene_load(dir, id, &s), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "boa_offset_applied") != NULL, "message '%s'",
              mc_error_message());
    snprintf(path, sizeof path, "%s/%s", dir, id);
    fx_rmtree(path); /* the listing test counts the folders */
}

/* Writes the scene, lets `damage` change it, and checks validation's message names `needle`. */
static void expect_invalid(const char *dir, const char *id, const char *command, const char *needle)
{
    scene_info s;
    tile_grid g;
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s/%s' && %s", dir, id, command);
    REQUIRE(system(cmd) == 0);
    REQUIRE(scene_load(dir, id, &s) == MC_OK);
    CHECK_MSG(scene_validate(&s, &g) == MC_ERR, "'%s' accepted", command);
    const char *m = mc_error_message();
    CHECK_MSG(strstr(m, needle) != NULL && strstr(m, dir) != NULL,
              "after '%s': message '%s' lacks '%s' or the path", command, m, needle);
}

static void test_validation(const char *dir)
{
    const char *id = "S2B_35VLF_20260616_0_L2A";
    scene_info s;
    tile_grid g;
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    REQUIRE(scene_load(dir, id, &s) == MC_OK);
    CHECK_INT(scene_validate(&s, &g), MC_OK);
    CHECK_INT(g.epsg, 32635);
    CHECK_INT(g.width, FX_W);
    CHECK_INT(g.height, FX_H);
    CHECK_NEAR(g.geotransform[0], FX_X0, 0);
    CHECK_NEAR(g.geotransform[3], FX_Y0, 0);
    CHECK_NEAR(g.geotransform[5], -10, 0);
    CHECK_STR(g.tile_id, "35VLF");

    char tiff[4096];
    expect_invalid(dir, id, "rm SCL.tif", "SCL.tif");
    expect_invalid(dir, id, "echo garbage > B08.tif", "B08.tif");
    /* a wrong-size B08 */
    snprintf(tiff, sizeof tiff, "%s/%s/B08.tif", dir, id);
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    uint16_t small[16 * 16] = {0};
    REQUIRE(fx_write_band(tiff, 16, 16, GDT_UInt16, small, FX_X0, FX_Y0, 10, 32635) == 0);
    REQUIRE(scene_load(dir, id, &s) == MC_OK);
    CHECK_INT(scene_validate(&s, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "16x16") && strstr(mc_error_message(), tiff),
              "message '%s'", mc_error_message());
    /* B08 in another CRS (UTM 34N) */
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    REQUIRE(fx_write_band(tiff, FX_W, FX_H, GDT_UInt16, base.nir, FX_X0, FX_Y0, 10, 32634) == 0);
    CHECK_INT(scene_validate(&s, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "CRS") && strstr(mc_error_message(), tiff),
              "message '%s'", mc_error_message());
    /* SCL at 10 m instead of 20 m */
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    snprintf(tiff, sizeof tiff, "%s/%s/SCL.tif", dir, id);
    REQUIRE(fx_write_band(tiff, FX_SW, FX_SH, GDT_Byte, base.scl, FX_X0, FX_Y0, 10, 32635) == 0);
    CHECK_INT(scene_validate(&s, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "pixel size") && strstr(mc_error_message(), tiff),
              "message '%s'", mc_error_message());
    /* SCL shifted by one 20 m pixel */
    REQUIRE(fx_write_band(tiff, FX_SW, FX_SH, GDT_Byte, base.scl, FX_X0 + 20, FX_Y0, 20, 32635) == 0);
    CHECK_INT(scene_validate(&s, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "upper-left") != NULL, "message '%s'", mc_error_message());
    /* B04 as Byte */
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    snprintf(tiff, sizeof tiff, "%s/%s/B04.tif", dir, id);
    uint8_t bytes[FX_W * FX_H] = {0};
    REQUIRE(fx_write_band(tiff, FX_W, FX_H, GDT_Byte, bytes, FX_X0, FX_Y0, 10, 32635) == 0);
    CHECK_INT(scene_validate(&s, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "UInt16") && strstr(mc_error_message(), tiff),
              "message '%s'", mc_error_message());
    /* geographic CRS */
    REQUIRE(fx_write_scene(dir, id, &base, NULL) == 0);
    for (int b = 0; b < 3; b++) {
        const char *band[] = {"B04", "B08", "SCL"};
        snprintf(tiff, sizeof tiff, "%s/%s/%s.tif", dir, id, band[b]);
        int w = b == 2 ? FX_SW : FX_W;
        REQUIRE(fx_write_band(tiff, w, w, b == 2 ? GDT_Byte : GDT_UInt16,
                              b == 2 ? (void *)base.scl : (void *)base.red, 27, 58, b == 2 ? 0.0002 : 0.0001,
                              4326) == 0);
    }
    CHECK_INT(scene_validate(&s, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "not projected") != NULL, "message '%s'",
              mc_error_message());
}

static void test_listing(const char *dir)
{
    char **names;
    size_t n;
    REQUIRE(scene_list_dirs(dir, &names, &n) == MC_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(names[0], "S2B_35VLF_20260615_0_L2A");
        CHECK_STR(names[1], "S2B_35VLF_20260616_0_L2A");
    }
    scene_names_free(names, n);
    scene_info s[3];
    memset(s, 0, sizeof s);
    scene_parse_id("S2B_35VLG_20260615_0_L2A", &s[0]);
    scene_parse_id("S2B_35VLF_20260615_1_L2A", &s[1]);
    scene_parse_id("S2A_35VLF_20260615_0_L2A", &s[2]);
    qsort(s, 3, sizeof s[0], scene_compare);
    CHECK_STR(s[0].scene_id, "S2A_35VLF_20260615_0_L2A");
    CHECK_STR(s[1].scene_id, "S2B_35VLF_20260615_1_L2A");
    CHECK_STR(s[2].scene_id, "S2B_35VLG_20260615_0_L2A");
    CHECK_INT(scene_list_dirs("/nonexistent/scenes", &names, &n), MC_ERR);
    CHECK(strstr(mc_error_message(), "/nonexistent/scenes") != NULL);
}

int main(void)
{
    char dir[256];
    log_set_level(LOG_ERROR);
    GDALAllRegister();
    fx_tmpdir(dir, sizeof dir, "scene");
    fx_scene_fill(&base, 1000, 3000, 4);
    test_ids();
    test_offsets();
    test_items(dir);
    test_layout_names();
    test_earth_search_item(dir);
    test_validation(dir);
    test_listing(dir);
    fx_rmtree(dir);
    return test_summary();
}
