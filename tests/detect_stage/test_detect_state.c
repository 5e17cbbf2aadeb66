/* The detect stage's state between nights (detect_state.c): the series it builds
 * from stored sums equals the one `mowcheck export series` writes, read back by
 * the series reader, under several settings; an incremental night stores the same
 * events and summaries as a night from scratch, after a scene is added, after one
 * is removed, and after the settings change; a night without new scenes reads no
 * parts and stores nothing; a damaged state file is named in a log line and
 * rebuilt. */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../store/store_test.h"
#include "detect_stage.h"
#include "detect_state.h"
#include "series.h"

static const char set_hash[] = "detect-state-test-set";

static scene_info make_scene(const char *tile, int32_t day)
{
    scene_info sc;
    memset(&sc, 0, sizeof sc);
    char date[11], compact[9];
    date_format(day, date);
    snprintf(compact, sizeof compact, "%.4s%.2s%.2s", date, date + 5, date + 8);
    snprintf(sc.scene_id, sizeof sc.scene_id, "S2B_%s_%s_0_L2A", tile, compact);
    snprintf(sc.tile_id, sizeof sc.tile_id, "%s", tile);
    snprintf(sc.acquired_on, sizeof sc.acquired_on, "%s", date);
    snprintf(sc.satellite, sizeof sc.satellite, "S2B");
    sc.reflectance_offset_dn = -1000;
    sc.has_swir = (day % 3) != 0;
    snprintf(sc.path, sizeof sc.path, "/scenes/%s", sc.scene_id);
    return sc;
}

enum { N_PARCELS = 40 };
static char ids[N_PARCELS][16];

/* Parcels 7 and 9 (in both tiles) are larger than the state's 16-byte dates hold. */
static int64_t parcel_px(int i) { return i == 7 || i == 9 ? 70000 + i : 20 + (i * 7) % 50; }

/* Parcel i on day k of tile t: sizes, cloud, NDVI and NDMI vary so that rounding
 * ties, negative means, partial cover and the share threshold all occur. */
static store_obs_part part_of(int i, int k, int t)
{
    store_obs_part p = {ids[i], parcel_px(i), {0}};
    int64_t valid = ((i + k * 3 + t) % 5 == 0) ? 0 : p.n_total - (i + k) % (p.n_total / 2 + 1);
    int64_t q = 7000 - ((k * 37 + i * 11) % 60) * 50 - (k > 8 && i % 4 == 0 ? 3500 : 0);
    if (i % 9 == 0)
        q = -q / 7; /* water: negative NDVI */
    p.stats.n_seen = p.n_total;
    p.stats.n_valid = valid;
    p.stats.sum_q = valid * q + (valid ? (i % 3) * valid / 2 : 0); /* means end in .5 too */
    p.stats.sum_q2 = valid * q * q;
    p.stats.n_moist = valid - valid / 3;
    p.stats.sum_m = p.stats.n_moist * (q / 3 - 777);
    return p;
}

static void store_date(store *s, int64_t run_id, const char *tile, int k)
{
    int32_t day = date_days_from_civil(2026, 4, 20) + 4 * k;
    int t = strcmp(tile, "35VLF") != 0;
    store_obs_part parts[N_PARCELS];
    size_t n = 0;
    for (int i = 0; i < N_PARCELS; i++)
        if (!t || i % 4 == 1) /* every fourth parcel lies in both tiles */
            parts[n++] = part_of(i, k, t);
    scene_info sc = make_scene(tile, day);
    int duplicate = 0;
    REQUIRE(store_scene_commit(s, run_id, &sc, set_hash, parts, n, &duplicate, NULL) == MC_OK);
    REQUIRE(!duplicate);
}

static void store_season(store *s, int n_dates)
{
    int64_t run_id;
    REQUIRE(store_run_begin(s, "ingest", &run_id) == MC_OK);
    REQUIRE(store_parcel_set_put(s, set_hash, "/data/parcels.gpkg", "parcel_id", N_PARCELS) ==
            MC_OK);
    tile_grid a = {"35VLF", 32635, {400000, 10, 0, 6500000, 0, -10}, 100, 100};
    tile_grid b = {"35VMF", 32635, {500000, 10, 0, 6500000, 0, -10}, 100, 100};
    REQUIRE(store_tile_put(s, &a) == MC_OK);
    REQUIRE(store_tile_put(s, &b) == MC_OK);
    const char *id_ptr[N_PARCELS];
    int64_t px[N_PARCELS];
    for (int i = 0; i < N_PARCELS; i++) {
        snprintf(ids[i], sizeof ids[i], "P-%03d", i);
        id_ptr[i] = ids[i];
        px[i] = parcel_px(i);
    }
    /* parcel 3 has no size row: the view falls back on its parts' n_total */
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLF", id_ptr + 4, px + 4, N_PARCELS - 4) ==
            MC_OK);
    for (int k = 0; k < n_dates; k++) {
        store_date(s, run_id, "35VLF", k);
        if (k % 2 == 0)
            store_date(s, run_id, "35VMF", k);
    }
    REQUIRE(store_run_end(s, run_id, "ok", NULL) == MC_OK);
}

static int same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* The state's series against the exported CSV read back. */
static void check_series_equal(store *s, const char *state_path, double share, int64_t pixels)
{
    store_series_filter f = {pixels, share, 2026};
    char *csv = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&csv, &len);
    REQUIRE(mem && store_export_series(s, &f, mem) == MC_OK);
    fclose(mem);
    FILE *in = fmemopen(csv, len, "r");
    series_set expected, got;
    REQUIRE(series_read(in, "export", &expected) == MC_OK);
    fclose(in);
    free(csv);
    detect_state *st;
    size_t fetched;
    int rebuilt;
    REQUIRE(detect_state_load(s, state_path, "test", 2026, &f, &st, &got, &fetched, &rebuilt) ==
            MC_OK);
    CHECK_INT(got.n_parcels, expected.n_parcels);
    CHECK_INT(got.n_obs, expected.n_obs);
    size_t bad = 0;
    for (size_t i = 0; i < got.n_parcels && i < expected.n_parcels; i++) {
        CHECK_STR(got.parcels[i].parcel_id, expected.parcels[i].parcel_id);
        CHECK_INT(got.parcels[i].count, expected.parcels[i].count);
    }
    for (size_t i = 0; i < got.n_obs && i < expected.n_obs; i++)
        bad += got.obs[i].day != expected.obs[i].day ||
               !same_float(got.obs[i].ndvi, expected.obs[i].ndvi) ||
               !same_float(got.obs[i].ndmi, expected.obs[i].ndmi);
    CHECK_MSG(bad == 0, "share %g, pixels %lld: %zu observations differ", share,
              (long long)pixels, bad);
    REQUIRE(detect_state_save(st, state_path) == MC_OK);
    detect_state_free(st);
    series_free(&got);
    series_free(&expected);
}

/* events and parcel_seasons as stored, but for the run that wrote them */
static void stored_rows(store *s, char *buf, size_t size)
{
    store_test_value(s, "SELECT md5(coalesce((SELECT string_agg(concat_ws(',', parcel_id, season,"
                        " date_start, date_end, date, confidence, model_version), ';' ORDER BY"
                        " parcel_id, date) FROM events), '') || '/' || coalesce((SELECT"
                        " string_agg(concat_ws(',', parcel_id, season, n_clear_obs, sufficient,"
                        " mowed_probability, reason, model_version), ';' ORDER BY parcel_id,"
                        " season) FROM parcel_seasons), ''))",
                     buf, size);
}

static void run_detect(store *s, mc_settings *set, detect_stage_summary *sum)
{
    int rc = detect_stage_run(s, set, 2026, NULL, NULL, sum);
    if (rc != MC_OK)
        fprintf(stderr, "detect_stage_run: %s\n", mc_error_message());
    REQUIRE(rc == MC_OK);
}

/* Incremental, then from scratch (state file removed, stored rows cleared): the
 * same stored rows. */
static void check_same_as_scratch(store *s, mc_settings *set, const char *state_path)
{
    detect_stage_summary sum;
    char incremental[64], scratch[64];
    run_detect(s, set, &sum);
    stored_rows(s, incremental, sizeof incremental);
    CHECK(store_test_int(s, "SELECT count(*) FROM events") > 0);
    unlink(state_path);
    REQUIRE(store_test_int(s, "WITH a AS (DELETE FROM events RETURNING 1),"
                              " b AS (DELETE FROM parcel_seasons RETURNING 1)"
                              " SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)") > 0);
    run_detect(s, set, &sum);
    CHECK_INT(sum.state_rebuilt, 1);
    stored_rows(s, scratch, sizeof scratch);
    CHECK_STR(incremental, scratch);
}

/* Runs detect with stderr in a file; returns what it logged (static buffer). */
static const char *detect_logged(store *s, mc_settings *set, detect_stage_summary *sum)
{
    static char text[8192];
    char path[] = "/tmp/detect-state-log-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    run_detect(s, set, sum);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

/* Every stored parcel-season written again by detect run run_id (n_clear_obs 999),
 * through the store as a detect run writes. */
static void store_all_as(store *s, int64_t run_id)
{
    char **ids_stored, **model;
    size_t n, n_model;
    REQUIRE(store_query_strings(s, "test", "SELECT parcel_id FROM parcel_seasons"
                                           " WHERE season = 2026 ORDER BY parcel_id",
                                0, NULL, &ids_stored, &n) == MC_OK);
    REQUIRE(store_query_strings(s, "test", "SELECT max(model_version) FROM parcel_seasons", 0,
                                NULL, &model, &n_model) == MC_OK);
    REQUIRE(n > 0 && n_model == 1);
    store_detected_season *v = calloc(n, sizeof *v);
    REQUIRE(v != NULL);
    for (size_t i = 0; i < n; i++)
        v[i] = (store_detected_season){ids_stored[i], 2026, 999, 1, 0.5, "no_event_covered", 1};
    REQUIRE(store_detection_replace(s, run_id, model[0], v, n, NULL, 0) == MC_OK);
    free(v);
    store_strings_free(ids_stored, n);
    store_strings_free(model, n_model);
}

/* A detect run that started before the run the state names but stored after it (two
 * runs at once, with other state files): its rows stand where the state believes its
 * own, so the next night stores every parcel-season again. */
static void test_earlier_run_stored_later(store *s, mc_settings *set)
{
    detect_stage_summary sum;
    char before[64], after[64];
    run_detect(s, set, &sum);
    int64_t early;
    REQUIRE(store_run_begin(s, "detect", &early) == MC_OK);
    run_detect(s, set, &sum); /* started after `early`: it stores everything */
    stored_rows(s, before, sizeof before);
    store_all_as(s, early); /* `early` stores late */
    REQUIRE(store_run_end(s, early, "ok", NULL) == MC_OK);
    run_detect(s, set, &sum);
    CHECK_INT(sum.n_stored, sum.n_seasons);
    stored_rows(s, after, sizeof after);
    CHECK_STR(after, before);
    run_detect(s, set, &sum); /* and then the state is trusted again */
    CHECK_INT(sum.n_stored, 0);
}

/* A read of the night's parts refused by the server (here a lock timeout): the night
 * fails with the server's words, the connection is usable and the run is closed. */
static void test_read_fails_on_server(store *s, mc_settings *set, const char *dsn)
{
    int64_t ingest_run;
    REQUIRE(store_run_begin(s, "ingest", &ingest_run) == MC_OK);
    store_date(s, ingest_run, "35VMF", 21); /* a new scene: its parts will be read */
    REQUIRE(store_run_end(s, ingest_run, "ok", NULL) == MC_OK);
    PGconn *other = PQconnectdb(dsn);
    REQUIRE(PQstatus(other) == CONNECTION_OK);
    PQclear(PQexec(other, "BEGIN"));
    PGresult *r = PQexec(other, "LOCK TABLE observation_parts IN ACCESS EXCLUSIVE MODE");
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    REQUIRE(store_test_int(s, "SELECT count(*) FROM set_config('lock_timeout', '300ms', false)")
            == 1);
    long long last_run = store_test_int(s, "SELECT max(run_id) FROM runs");
    detect_stage_summary sum;
    CHECK_INT(detect_stage_run(s, set, 2026, NULL, NULL, &sum), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "lock timeout") != NULL, "%s", mc_error_message());
    CHECK_INT(PQtransactionStatus(s->conn), PQTRANS_IDLE);
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE run_id > %lld AND command = 'detect'"
             " AND status = 'failed' AND ended_at IS NOT NULL", last_run);
    CHECK_INT(store_test_int(s, q), 1); /* the night's run, closed as failed */
    REQUIRE(store_test_int(s, "SELECT count(*) FROM set_config('lock_timeout', '0', false)") == 1);
    detect_stage_summary again;
    run_detect(s, set, &again); /* the next night reads the scene */
    CHECK_INT(again.n_scenes_read, 1);
}

int main(void)
{
    char dsn[512], state_dir[] = "/tmp/detect-state-test-XXXXXX";
    REQUIRE(mkdtemp(state_dir) != NULL);
    store_test_create_db("mowcheck_test_detect_state", dsn, sizeof dsn);
    store *s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    store_season(s, 14);

    /* the series, under the default and other observation rules */
    char series_state[600];
    snprintf(series_state, sizeof series_state, "%s/series.state", state_dir);
    const double shares[] = {0.5, 0.3, 0.1234567, 0.75, 0.0, 1.0};
    for (size_t i = 0; i < sizeof shares / sizeof *shares; i++)
        check_series_equal(s, series_state, shares[i], i % 2 ? 25 : 0);
    int64_t ingest_run;
    REQUIRE(store_run_begin(s, "ingest", &ingest_run) == MC_OK);
    store_date(s, ingest_run, "35VMF", 15); /* a new scene into an existing state */
    check_series_equal(s, series_state, 0.5, 0);

    mc_settings set;
    REQUIRE(settings_load(&set, NULL) == MC_OK);
    REQUIRE(settings_set(&set, "state_dir", state_dir) == MC_OK);
    REQUIRE(settings_set(&set, "db", dsn) == MC_OK);
    char state_path[600];
    REQUIRE(detect_state_path(state_dir, dsn, 2026, state_path, sizeof state_path) == MC_OK);
    CHECK(strstr(state_path, state_dir) == state_path);

    detect_stage_summary sum;
    run_detect(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 1);
    CHECK_INT(sum.n_stored, sum.n_seasons);
    CHECK_INT(sum.n_parcels, N_PARCELS);
    CHECK(access(state_path, R_OK) == 0);

    /* nothing new: no parts read, nothing stored */
    run_detect(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 0);
    CHECK_INT(sum.n_scenes_read, 0);
    CHECK_INT(sum.n_stored, 0);

    /* a night with one new tile-date: its scene only, the parcels it changed only; the
     * night is appended to the state file, not written whole */
    struct stat before_night, after_night;
    REQUIRE(stat(state_path, &before_night) == 0);
    store_date(s, ingest_run, "35VMF", 16);
    run_detect(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 0);
    CHECK_INT(sum.n_scenes_read, 1);
    CHECK(sum.n_stored > 0 && sum.n_stored <= N_PARCELS / 4);
    REQUIRE(stat(state_path, &after_night) == 0);
    CHECK_INT(after_night.st_ino, before_night.st_ino);
    CHECK(after_night.st_size > before_night.st_size);
    run_detect(s, &set, &sum); /* read back with its section: nothing new */
    CHECK_INT(sum.state_rebuilt, 0);
    CHECK_INT(sum.n_scenes_read, 0);
    CHECK_INT(sum.n_stored, 0);
    store_date(s, ingest_run, "35VLF", 17);
    check_same_as_scratch(s, &set, state_path);

    /* a scene removed: rebuilt, same as from scratch */
    run_detect(s, &set, &sum);
    REQUIRE(store_test_int(s, "WITH d AS (DELETE FROM scenes WHERE scene_id ="
                              " 'S2B_35VLF_20260510_0_L2A' RETURNING 1) SELECT count(*) FROM d")
            == 1);
    run_detect(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 1);
    check_same_as_scratch(s, &set, state_path);

    /* other settings: the stored rows those settings give from scratch */
    REQUIRE(settings_set(&set, "min_valid_share", "0.8") == MC_OK);
    check_same_as_scratch(s, &set, state_path);

    /* a damaged state file is named and rebuilt */
    run_detect(s, &set, &sum);
    int fd = open(state_path, O_RDWR);
    REQUIRE(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char byte;
    REQUIRE(pread(fd, &byte, 1, size / 2) == 1);
    byte ^= 0x10;
    REQUIRE(pwrite(fd, &byte, 1, size / 2) == 1);
    close(fd);
    const char *logged = detect_logged(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 1);
    CHECK_MSG(strstr(logged, state_path) && strstr(logged, "checksum"), "logged: %s", logged);
    check_same_as_scratch(s, &set, state_path);

    /* a night of three scenes, two of them in one tile's leaf */
    store_date(s, ingest_run, "35VLF", 19);
    store_date(s, ingest_run, "35VLF", 20);
    store_date(s, ingest_run, "35VMF", 20);
    run_detect(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 0);
    CHECK_INT(sum.n_scenes_read, 3);
    check_same_as_scratch(s, &set, state_path);
    check_series_equal(s, series_state, 0.5, 5);

    /* a night's section cut short (a crash while appending): named and rebuilt */
    store_date(s, ingest_run, "35VMF", 18);
    run_detect(s, &set, &sum);
    REQUIRE(stat(state_path, &after_night) == 0);
    REQUIRE(truncate(state_path, after_night.st_size - 7) == 0);
    logged = detect_logged(s, &set, &sum);
    CHECK_INT(sum.state_rebuilt, 1);
    CHECK_MSG(strstr(logged, state_path) && strstr(logged, "cut short"), "logged: %s", logged);
    check_same_as_scratch(s, &set, state_path);

    /* another detect run in between (another state directory, another model):
     * everything is stored again */
    char before[64], after[64];
    stored_rows(s, before, sizeof before);
    int64_t other;
    REQUIRE(store_run_begin(s, "detect", &other) == MC_OK);
    REQUIRE(store_test_int(s, "WITH u AS (UPDATE parcel_seasons SET n_clear_obs = 999"
                              " RETURNING 1) SELECT count(*) FROM u") > 0);
    run_detect(s, &set, &sum);
    CHECK_INT(sum.n_stored, sum.n_seasons);
    stored_rows(s, after, sizeof after);
    CHECK_STR(after, before);

    /* the run the state names is not this database's (made again under the same DSN,
     * run ids counting from 1 again): everything is stored */
    run_detect(s, &set, &sum);
    CHECK_INT(sum.n_stored, 0);
    REQUIRE(store_test_int(s, "WITH u AS (UPDATE runs SET started_at = started_at - interval"
                              " '1 day' WHERE command = 'detect' RETURNING 1)"
                              " SELECT count(*) FROM u") > 0);
    REQUIRE(store_test_int(s, "WITH u AS (UPDATE parcel_seasons SET n_clear_obs = 999"
                              " RETURNING 1) SELECT count(*) FROM u") > 0);
    run_detect(s, &set, &sum);
    CHECK_INT(sum.n_stored, sum.n_seasons);
    stored_rows(s, after, sizeof after);
    CHECK_STR(after, before);

    test_earlier_run_stored_later(s, &set);
    test_read_fails_on_server(s, &set, dsn);

    settings_free(&set);
    store_close(s);
    char rm[700]; /* the state files and their lock files */
    snprintf(rm, sizeof rm, "rm -rf '%s'", state_dir);
    CHECK(system(rm) == 0);
    return test_summary();
}
