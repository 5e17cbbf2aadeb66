/* The detect stage on stored observations: parts written through the store as
 * ingest writes them, detection over the stored series, events and summaries
 * stored, re-running changes nothing, and stale events of a parcel-season are
 * replaced. */
#include "../store/store_test.h"
#include "detect_stage.h"
#include "series.h"

static const char set_hash[] = "detect-stage-test-set";

static scene_info make_scene(int32_t day)
{
    scene_info sc;
    memset(&sc, 0, sizeof sc);
    char date[11], compact[9];
    date_format(day, date);
    snprintf(compact, sizeof compact, "%.4s%.2s%.2s", date, date + 5, date + 8);
    snprintf(sc.scene_id, sizeof sc.scene_id, "S2B_35VLF_%s_0_L2A", compact);
    snprintf(sc.tile_id, sizeof sc.tile_id, "35VLF");
    snprintf(sc.acquired_on, sizeof sc.acquired_on, "%s", date);
    snprintf(sc.satellite, sizeof sc.satellite, "S2B");
    snprintf(sc.processing_baseline, sizeof sc.processing_baseline, "05.10");
    sc.reflectance_offset_dn = -1000;
    snprintf(sc.path, sizeof sc.path, "/scenes/%s", sc.scene_id);
    return sc;
}

/* 100 clear pixels all at `ndvi` (std 0); ndvi < 0: the parcel was under cloud. */
static store_obs_part part(const char *parcel, double ndvi)
{
    store_obs_part p = {parcel, 100, {.n_seen = 100}};
    if (ndvi >= 0) {
        int64_t q = (int64_t)(ndvi * 10000 + 0.5);
        p.stats.n_valid = 100;
        p.stats.sum_q = 100 * q;
        p.stats.sum_q2 = 100 * q * q;
    }
    return p;
}

/* CUT: 0.80 every 5 days from 1 May, cut between 10 and 15 June (0.42, then regrowth).
 * FLAT: 0.80 all season. CLOUDY: never seen clear. */
static void store_season(store *s)
{
    int64_t run_id;
    REQUIRE(store_run_begin(s, "ingest", &run_id) == MC_OK);
    REQUIRE(store_parcel_set_put(s, set_hash, "/data/parcels.gpkg", "parcel_id", 3) == MC_OK);
    tile_grid g = {"35VLF", 32635, {400000, 10, 0, 6500000, 0, -10}, 100, 100};
    REQUIRE(store_tile_put(s, &g) == MC_OK);
    const char *ids[] = {"CLOUDY", "CUT", "FLAT"};
    int64_t px[] = {100, 100, 100};
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLF", ids, px, 3) == MC_OK);
    int32_t may1 = date_days_from_civil(2026, 5, 1), cut_after = date_days_from_civil(2026, 6, 10);
    for (int i = 0; i < 30; i++) {
        int32_t day = may1 + 5 * i;
        double cut_ndvi = day <= cut_after ? 0.80 : 0.42 + 0.025 * ((day - cut_after) / 5 - 1);
        if (cut_ndvi > 0.80)
            cut_ndvi = 0.80;
        store_obs_part parts[] = {part("CLOUDY", -1), part("CUT", cut_ndvi), part("FLAT", 0.80)};
        scene_info sc = make_scene(day);
        int duplicate = 0;
        REQUIRE(store_scene_commit(s, run_id, &sc, set_hash, parts, 3, &duplicate, NULL) == MC_OK);
        REQUIRE(!duplicate);
    }
    REQUIRE(store_run_end(s, run_id, "ok", NULL) == MC_OK);
}

static void check_detections(store *s)
{
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM events"), 1);
    char buf[128];
    CHECK_STR(store_test_value(s, "SELECT parcel_id || ' ' || season || ' ' || date_start || ' ' "
                                  "|| date_end FROM events", buf, sizeof buf),
              "CUT 2026 2026-06-10 2026-06-15");
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM events WHERE date BETWEEN '2026-06-10' "
                                "AND '2026-06-15' AND confidence > 0.5"), 1);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM parcel_seasons WHERE season = 2026"), 3);
    CHECK_INT(store_test_int(s, "SELECT n_clear_obs FROM parcel_seasons WHERE parcel_id = 'FLAT'"),
              30);
    CHECK_INT(store_test_int(s, "SELECT n_clear_obs FROM parcel_seasons WHERE parcel_id = "
                                "'CLOUDY'"), 0);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM parcel_seasons WHERE parcel_id = 'CLOUDY' "
                                "AND NOT sufficient"), 1);
}

int main(void)
{
    char dsn[512];
    store_test_create_db("mowcheck_test_detect_stage", dsn, sizeof dsn);
    store *s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    store_season(s);

    /* A stale event of FLAT (say from an older model) must be replaced, not kept. */
    int64_t old_run;
    REQUIRE(store_run_begin(s, "detect", &old_run) == MC_OK);
    store_detected_season stale_season = {"FLAT", 2026, 30, 1, 0.99, "confident_event", 0};
    store_detected_event stale = {"FLAT", 2026, date_days_from_civil(2026, 7, 1),
                                  date_days_from_civil(2026, 7, 6),
                                  date_days_from_civil(2026, 7, 3), 0.99};
    REQUIRE(store_detection_replace(s, old_run, "old@000000000000", &stale_season, 1, &stale, 1) ==
            MC_OK);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM events WHERE parcel_id = 'FLAT'"), 1);

    mc_settings set;
    REQUIRE(settings_load(&set, NULL) == MC_OK);
    char state_dir[] = "/tmp/detect-stage-test-XXXXXX"; /* the detect state's, not $HOME's */
    REQUIRE(mkdtemp(state_dir) != NULL);
    REQUIRE(settings_set(&set, "state_dir", state_dir) == MC_OK);
    detect_stage_summary sum;
    int rc = detect_stage_run(s, &set, 2026, NULL, NULL, &sum);
    if (rc != MC_OK)
        fprintf(stderr, "detect_stage_run: %s\n", mc_error_message());
    REQUIRE(rc == MC_OK);
    CHECK_INT(sum.n_parcels, 3);
    CHECK_INT(sum.n_seasons, 3);
    CHECK_INT(sum.n_events, 1);
    CHECK(strncmp(sum.model_version, "mowing-default.model@", 21) == 0);
    CHECK_INT(strlen(sum.model_version), 21 + 12);
    check_detections(s);
    char version_sql[256], buf[128];
    snprintf(version_sql, sizeof version_sql,
             "SELECT count(*) FROM parcel_seasons WHERE model_version = '%s'", sum.model_version);
    CHECK_INT(store_test_int(s, version_sql), 3);
    CHECK_STR(store_test_value(s, "SELECT status FROM runs WHERE command = 'detect' ORDER BY "
                                  "run_id DESC LIMIT 1", buf, sizeof buf), "ok");

    /* Again: the same rows (the stage is idempotent). */
    REQUIRE(detect_stage_run(s, &set, 2026, NULL, NULL, &sum) == MC_OK);
    check_detections(s);

    /* A bad model file fails the stage with its message and stores nothing new. */
    REQUIRE(settings_set(&set, "model", "/nonexistent/model") == MC_OK);
    CHECK(detect_stage_run(s, &set, 2026, NULL, NULL, &sum) == MC_ERR);
    CHECK(strstr(mc_error_message(), "/nonexistent/model") != NULL);
    check_detections(s);

    settings_free(&set);
    store_close(s);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", state_dir);
    CHECK(system(rm) == 0);
    return test_summary();
}
