/* Scenes against the shared test cluster: commit, duplicate tile-date, parts of
 * two tiles adding up to exact hand-computed statistics, all-or-nothing commits
 * (constraint failure and SIGKILL mid-commit), rejections, advisory claims. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_test.h"

static const char *set_hash = "set-1";

static scene_info make_scene(const char *id, const char *tile, const char *date)
{
    scene_info sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.scene_id, sizeof sc.scene_id, "%s", id);
    snprintf(sc.tile_id, sizeof sc.tile_id, "%s", tile);
    snprintf(sc.acquired_on, sizeof sc.acquired_on, "%s", date);
    snprintf(sc.satellite, sizeof sc.satellite, "%.3s", id);
    snprintf(sc.processing_baseline, sizeof sc.processing_baseline, "05.10");
    sc.reflectance_offset_dn = -1000;
    snprintf(sc.path, sizeof sc.path, "/scenes/%s", id);
    return sc;
}

static store_obs_part part(const char *parcel, int64_t n_total, int64_t n_valid, int64_t n_seen,
                           int64_t sum_q, int64_t sum_q2)
{
    store_obs_part p = {parcel, n_total, {n_valid, n_seen, sum_q, sum_q2, 0, 0}};
    return p;
}

/* Two tiles; parcel A has 6 pixels in 35VLF and 4 in 35VLG; "B\tx" 3 in 35VLF. */
static void setup(store *s, int64_t *run_id)
{
    REQUIRE(store_run_begin(s, "ingest", run_id) == MC_OK);
    REQUIRE(store_parcel_set_put(s, set_hash, "/data/parcels.gpkg", "parcel_id", 2) == MC_OK);
    tile_grid g1 = {"35VLF", 32635, {600000, 10, 0, 6500040, 0, -10}, 10980, 10980};
    tile_grid g2 = {"35VLG", 32635, {600000, 10, 0, 6600000.5, 0, -10}, 10980, 10980};
    REQUIRE(store_tile_put(s, &g1) == MC_OK);
    REQUIRE(store_tile_put(s, &g2) == MC_OK);
    const char *ids1[] = {"A", "B\tx"};
    int64_t px1[] = {6, 3};
    const char *ids2[] = {"A"};
    int64_t px2[] = {4};
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLF", ids1, px1, 2) == MC_OK);
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLG", ids2, px2, 1) == MC_OK);
}

static void test_tiles(store *s)
{
    tile_grid *g;
    size_t n;
    REQUIRE(store_tiles_get(s, &g, &n) == MC_OK);
    REQUIRE(n == 2);
    CHECK_STR(g[1].tile_id, "35VLG");
    CHECK_INT(g[1].epsg, 32635);
    CHECK(g[1].geotransform[3] == 6600000.5 && g[1].geotransform[5] == -10);
    CHECK_INT(g[0].width, 10980);
    free(g);
    /* The same grid again is fine; another grid under the same name is refused. */
    tile_grid same = {"35VLF", 32635, {600000, 10, 0, 6500040, 0, -10}, 10980, 10980};
    CHECK(store_tile_put(s, &same) == MC_OK);
    tile_grid close_enough = same;
    close_enough.geotransform[0] += 1e-9; /* rounding noise of another reader */
    CHECK(store_tile_put(s, &close_enough) == MC_OK);
    tile_grid other = same;
    other.geotransform[0] = 600010;
    CHECK(store_tile_put(s, &other) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "35VLF") != NULL, "message: %s", mc_error_message());
}

/* A on 2026-06-15: q {5000, 6000, 7000} valid in 35VLF, {8000, 4000} in 35VLG.
 * Together: n = 5, mean q 6000 -> 0.6; deviations -1000, 0, 1000, 2000, -2000:
 * variance 10e6 / 5 = 2e6, std q = sqrt(2e6) = 1414.2135623730950488 -> 0.14142135623730950488;
 * valid_share = 5 / (6 + 4). */
static void test_commit_and_sum(store *s, int64_t run_id)
{
    scene_info s1 = make_scene("S2A_35VLF_20260615_0_L2A", "35VLF", "2026-06-15");
    scene_info s2 = make_scene("S2B_35VLG_20260615_0_L2A", "35VLG", "2026-06-15");
    store_obs_part p1[] = {part("A", 6, 3, 5, 18000, 110000000),
                           part("B\tx", 3, 1, 3, -2000, 4000000)};
    store_obs_part p2[] = {part("A", 4, 2, 4, 12000, 80000000)};
    int dup = -1;
    store_scene_state state = STORE_SCENE_STORED;
    CHECK(store_scene_state_of(s, s1.scene_id, set_hash, 0, &state) == MC_OK &&
          state == STORE_SCENE_NEW);
    CHECK(store_scene_commit(s, run_id, &s1, set_hash, p1, 2, &dup, NULL) == MC_OK);
    CHECK_INT(dup, 0);
    CHECK(store_scene_commit(s, run_id, &s2, set_hash, p2, 1, &dup, NULL) == MC_OK);
    CHECK_INT(dup, 0);
    CHECK(store_scene_state_of(s, s1.scene_id, set_hash, 0, &state) == MC_OK &&
          state == STORE_SCENE_STORED);
    CHECK(store_scene_state_of(s, s1.scene_id, "another-set", 0, &state) == MC_OK &&
          state == STORE_SCENE_OTHER_SET);

    char buf[128];
    const char *where = " FROM observations WHERE parcel_id = 'A' AND acquired_on = '2026-06-15'";
    char sql[256];
#define OBS(col) (snprintf(sql, sizeof sql, "SELECT " col "%s", where), sql)
    CHECK_INT(store_test_int(s, OBS("n_valid")), 5);
    CHECK_INT(store_test_int(s, OBS("n_seen")), 9);
    CHECK_INT(store_test_int(s, OBS("n_total")), 10);
    CHECK_INT(store_test_int(s, OBS("n_parts")), 2);
    CHECK_INT(store_test_int(s, OBS("sum_q")), 30000);
    CHECK_STR(store_test_value(s, OBS("ndvi = 0.6"), buf, sizeof buf), "t");
    CHECK_STR(store_test_value(s, OBS("valid_share = 0.5"), buf, sizeof buf), "t");
    CHECK_STR(store_test_value(s, OBS("round(ndvi_std, 12)::text"), buf, sizeof buf),
              "0.141421356237");
#undef OBS
    /* The id with a tab went through COPY's escaping intact. */
    CHECK_INT(store_test_int(s, "SELECT n_valid FROM observations WHERE parcel_id = E'B\\tx'"), 1);
    CHECK_INT(store_test_int(s, "SELECT n_total FROM observations WHERE parcel_id = E'B\\tx'"), 3);
    char expected[128];
    snprintf(expected, sizeof expected, "S2A 35VLF 2026-06-15 05.10 -1000 %lld", (long long)run_id);
    CHECK_STR(store_test_value(s, "SELECT satellite || ' ' || tile_id || ' ' || acquired_on || ' ' "
                                  "|| processing_baseline || ' ' || reflectance_offset_dn || ' ' "
                                  "|| run_id FROM scenes "
                                  "WHERE scene_id = 'S2A_35VLF_20260615_0_L2A'",
                               buf, sizeof buf),
              expected);
}

/* The parts are sent in COPY's binary format: what is stored is exactly what was
 * given, for ids that text COPY would escape (tab, newline, backslash), non-ASCII
 * ids, numbers beyond 32 bits up to the int64 limits, dates before 2000 (negative
 * days in the binary date) and a leap day, with and without the NDMI sums (NULL). */
static void test_commit_exact_values(store *s, int64_t run_id)
{
    static const struct {
        const char *scene_id, *tile_id, *date;
        int swir;
    } scenes[] = {{"S2A_35VLF_19991231_0_L2A", "35VLF", "1999-12-31", 0},
                  {"S2B_35VLG_20320229_0_L2A", "35VLG", "2032-02-29", 1}};
    store_obs_part parts[] = {
        part("A", 6, 3, 5, 18000, 110000000),
        part("B\tx", 3, 1, 3, -2000, 4000000),
        part("line\nbreak\\back\r", 4294967296LL, 4294967295LL, 4294967296LL,
             -9223372036854775807LL, 9223372036854775807LL),
        part("P\xc3\xb5ld-\xc3\xbc 'q\"", 0, 0, 0, 0, 0),
    };
    parts[2].stats.n_moist = 4294967295LL;
    parts[2].stats.sum_m = -9223372036854775807LL;
    parts[3].stats.n_moist = 0;
    parts[3].stats.sum_m = 0;
    size_t n = sizeof parts / sizeof parts[0];
    for (size_t k = 0; k < sizeof scenes / sizeof scenes[0]; k++) {
        scene_info sc = make_scene(scenes[k].scene_id, scenes[k].tile_id, scenes[k].date);
        sc.has_swir = scenes[k].swir;
        int dup = -1;
        CHECK(store_scene_commit(s, run_id, &sc, set_hash, parts, n, &dup, NULL) == MC_OK);
        CHECK_INT(dup, 0);
        for (size_t i = 0; i < n; i++) {
            const store_obs_part *p = &parts[i];
            char expected[512], got[512], sql[512];
            if (sc.has_swir)
                snprintf(expected, sizeof expected, "%s|%s|%s|%lld|%lld|%lld|%lld|%lld|%lld|%lld",
                         sc.scene_id, sc.tile_id, sc.acquired_on, (long long)p->n_total,
                         (long long)p->stats.n_valid, (long long)p->stats.n_seen,
                         (long long)p->stats.sum_q, (long long)p->stats.sum_q2,
                         (long long)p->stats.n_moist, (long long)p->stats.sum_m);
            else
                snprintf(expected, sizeof expected,
                         "%s|%s|%s|%lld|%lld|%lld|%lld|%lld|NULL|NULL", sc.scene_id, sc.tile_id,
                         sc.acquired_on, (long long)p->n_total, (long long)p->stats.n_valid,
                         (long long)p->stats.n_seen, (long long)p->stats.sum_q,
                         (long long)p->stats.sum_q2);
            /* the id as a hex literal: nothing of it passes through SQL quoting */
            char hex[2 * 64 + 1] = "";
            for (const unsigned char *c = (const unsigned char *)p->parcel_id; *c; c++)
                snprintf(hex + strlen(hex), 3, "%02x", *c);
            snprintf(sql, sizeof sql,
                     "SELECT concat_ws('|', scene_id, tile_id, acquired_on, n_total, n_valid, "
                     "n_seen, sum_q, sum_q2, coalesce(n_moist::text, 'NULL'), "
                     "coalesce(sum_m::text, 'NULL')) FROM observation_parts "
                     "WHERE parcel_id = convert_from('\\x%s'::bytea, 'UTF8') "
                     "AND acquired_on = '%s'",
                     hex, sc.acquired_on);
            CHECK_STR(store_test_value(s, sql, got, sizeof got), expected);
        }
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM observation_parts WHERE scene_id = '%s'", sc.scene_id);
        CHECK_INT(store_test_int(s, sql), (long long)n);
    }
    /* a scene without parts: a binary COPY of no rows (header and trailer only) */
    scene_info empty = make_scene("S2A_35VLF_19991226_0_L2A", "35VLF", "1999-12-26");
    int dup = -1;
    CHECK(store_scene_commit(s, run_id, &empty, set_hash, parts, 0, &dup, NULL) == MC_OK);
    CHECK_INT(dup, 0);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM scenes WHERE scene_id = "
                                "'S2A_35VLF_19991226_0_L2A'"),
              1);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts WHERE scene_id = "
                                "'S2A_35VLF_19991226_0_L2A'"),
              0);
}

/* The binary date: days since 2000-01-01, as the server counts them; no non-date. */
static void test_date_days(store *s)
{
    const char *dates[] = {"0001-01-01", "1582-10-10", "1900-02-28", "1900-03-01",
                           "1999-12-31", "2000-01-01", "2000-02-29", "2000-03-01",
                           "2026-06-15", "2100-02-28", "2100-03-01", "9999-12-31"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        int32_t days = 0;
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT date '%s' - date '2000-01-01'", dates[i]);
        CHECK_MSG(store_date_days(dates[i], &days) == MC_OK, "%s", dates[i]);
        CHECK_INT(days, store_test_int(s, sql));
    }
    const char *bad[] = {"2026-02-29", "2100-02-29", "2026-13-01", "2026-04-31", "2026-6-15",
                         "2026-06-15x", "0000-01-01", "", "20260615", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t days = 0;
        CHECK_MSG(store_date_days(bad[i], &days) == MC_ERR, "%s", bad[i] ? bad[i] : "NULL");
    }
    CHECK(strstr(mc_error_message(), "is not a date") != NULL);
}

/* Another scene of a stored tile-date, or the same scene again: nothing written. */
static void test_duplicate(store *s, int64_t run_id)
{
    long long scenes = store_test_int(s, "SELECT count(*) FROM scenes");
    long long parts = store_test_int(s, "SELECT count(*) FROM observation_parts");
    scene_info again = make_scene("S2A_35VLF_20260615_1_L2A", "35VLF", "2026-06-15");
    store_obs_part p[] = {part("A", 6, 6, 6, 6000, 6000000)};
    int dup = 0;
    CHECK(store_scene_commit(s, run_id, &again, set_hash, p, 1, &dup, NULL) == MC_OK);
    CHECK_INT(dup, 1);
    scene_info same = make_scene("S2A_35VLF_20260615_0_L2A", "35VLF", "2026-06-15");
    dup = 0;
    CHECK(store_scene_commit(s, run_id, &same, set_hash, p, 1, &dup, NULL) == MC_OK);
    CHECK_INT(dup, 1);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM scenes"), scenes);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts"), parts);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM scenes WHERE scene_id = "
                                "'S2A_35VLF_20260615_1_L2A'"),
              0);
}

/* A part that breaks a constraint (n_valid > n_seen) fails the whole commit. */
static void test_commit_is_atomic(store *s, int64_t run_id)
{
    scene_info sc = make_scene("S2A_35VLF_20260620_0_L2A", "35VLF", "2026-06-20");
    store_obs_part p[] = {part("A", 6, 2, 2, 100, 5000), part("B\tx", 3, 3, 2, 100, 5000)};
    int dup = 0;
    store_scene_state state = STORE_SCENE_STORED;
    CHECK(store_scene_commit(s, run_id, &sc, set_hash, p, 2, &dup, NULL) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), sc.scene_id) != NULL, "message: %s",
              mc_error_message());
    CHECK(store_scene_state_of(s, sc.scene_id, set_hash, 0, &state) == MC_OK &&
          state == STORE_SCENE_NEW);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts WHERE scene_id = "
                                "'S2A_35VLF_20260620_0_L2A'"),
              0);
    /* The connection is usable afterwards. */
    p[1].stats.n_seen = 3;
    CHECK(store_scene_commit(s, run_id, &sc, set_hash, p, 2, &dup, NULL) == MC_OK && dup == 0);
}

/* A child commits a scene of 200k parts and is SIGKILLed at some moment: the scene
 * is then either absent with no parts, or present with all of them. */
static void test_kill_mid_commit(const char *dsn)
{
    enum { N_PARTS = 200000 };
    const long delays_us[] = {0, 20000, 60000, 150000, 400000};
    int saw_absent = 0;
    for (size_t k = 0; k < sizeof delays_us / sizeof delays_us[0]; k++) {
        char id[64], date[16];
        snprintf(date, sizeof date, "2026-07-%02zu", k + 1);
        snprintf(id, sizeof id, "S2A_35VLG_202607%02zu_0_L2A", k + 1);
        int ready[2];
        REQUIRE(pipe(ready) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(ready[0]);
            store *s = store_test_open(dsn, NULL);
            if (!s)
                _exit(2);
            store_obs_part *p = calloc(N_PARTS, sizeof *p);
            char (*names)[16] = calloc(N_PARTS, sizeof *names);
            for (int i = 0; i < N_PARTS; i++) {
                snprintf(names[i], sizeof names[i], "P%07d", i);
                p[i] = part(names[i], 4, 1, 2, 5000, 25000000);
            }
            scene_info sc = make_scene(id, "35VLG", date);
            int dup;
            if (write(ready[1], "x", 1) != 1)
                _exit(3);
            int rc = store_scene_commit(s, 0, &sc, set_hash, p, N_PARTS, &dup, NULL);
            _exit(rc == MC_OK ? 0 : 4);
        }
        close(ready[1]);
        char c;
        CHECK(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        struct timespec ts = {0, delays_us[k] * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        store *s = store_test_open(dsn, NULL);
        REQUIRE(s != NULL);
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM scenes WHERE scene_id = '%s'", id);
        long long has_scene = store_test_int(s, sql);
        /* The killed session's transaction ends when the server sees the socket close. */
        for (int tries = 0; tries < 50; tries++) {
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()");
            if (store_test_int(s, sql) == 0)
                break;
            usleep(100000);
        }
        snprintf(sql, sizeof sql, "SELECT count(*) FROM scenes WHERE scene_id = '%s'", id);
        has_scene = store_test_int(s, sql);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM observation_parts WHERE scene_id = '%s'",
                 id);
        long long n_parts = store_test_int(s, sql);
        CHECK_MSG(has_scene ? n_parts == N_PARTS : n_parts == 0,
                  "kill after %ld us: scene %lld, parts %lld", delays_us[k], has_scene, n_parts);
        saw_absent |= !has_scene;
        store_close(s);
    }
    CHECK(saw_absent); /* at least one kill landed before the commit */
}

static void test_rejections(store *s, int64_t run_id)
{
    int64_t run2;
    REQUIRE(store_run_begin(s, "ingest", &run2) == MC_OK);
    const char *path = "/scenes/S2A_35VLF_20260801_0_L2A";
    CHECK(store_scene_reject(s, run_id, "S2A_35VLF_20260801_0_L2A", path,
                             "B08.tif: missing") == MC_OK);
    CHECK(store_scene_reject(s, run2, "S2A_35VLF_20260801_0_L2A", path,
                             "B08.tif: truncated (TIFFReadEncodedTile failed)") == MC_OK);
    char buf[256], sql[512];
    snprintf(sql, sizeof sql,
             "SELECT n_seen || '|' || reason || '|' || (first_run_id = %lld) || '|' || "
             "(last_run_id = %lld) || '|' || (resolved_at IS NULL) FROM scene_rejections "
             "WHERE path = '%s'",
             (long long)run_id, (long long)run2, path);
    CHECK_STR(store_test_value(s, sql, buf, sizeof buf),
              "2|B08.tif: truncated (TIFFReadEncodedTile failed)|true|true|true");
    /* Ingested on a later night: the rejection is marked resolved. */
    scene_info sc = make_scene("S2A_35VLF_20260801_0_L2A", "35VLF", "2026-08-01");
    store_obs_part p[] = {part("A", 6, 6, 6, 30000, 150000000)};
    int dup;
    CHECK(store_scene_commit(s, run2, &sc, set_hash, p, 1, &dup, NULL) == MC_OK && dup == 0);
    snprintf(sql, sizeof sql,
             "SELECT (resolved_at IS NOT NULL)::text FROM scene_rejections WHERE path = '%s'",
             path);
    CHECK_STR(store_test_value(s, sql, buf, sizeof buf), "true");
    CHECK(store_run_end(s, run2, "partial", "{\"scenes\": 1, \"rejected\": 1}") == MC_OK);
    snprintf(sql, sizeof sql,
             "SELECT status || ' ' || (summary->>'rejected') || ' ' || (ended_at IS NOT NULL) "
             "FROM runs WHERE run_id = %lld",
             (long long)run2);
    CHECK_STR(store_test_value(s, sql, buf, sizeof buf), "partial 1 true");
    CHECK(store_run_end(s, 999999, "ok", NULL) == MC_ERR);
}

/* The database keeps parts tied to their scene, its tile and its date (checked per
 * statement, 002 and 004), and a part goes nowhere without its partition. */
static void test_parts_need_scene(store *s)
{
    PGresult *r = PQexec(s->conn, "INSERT INTO observation_parts VALUES "
                                  "('S2A_NOSUCH_20260101_0_L2A', 'A', 1, 1, 1, 1, 1, "
                                  "'35VLF', '2026-01-01')");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK_MSG(strstr(PQresultErrorMessage(r), "NOSUCH") != NULL, "message: %s",
              PQresultErrorMessage(r));
    PQclear(r);
    /* a stored scene, but filed under another date of its tile */
    r = PQexec(s->conn, "INSERT INTO observation_parts VALUES "
                        "('S2A_35VLF_20260615_0_L2A', 'Z', 1, 1, 1, 1, 1, '35VLF', '2026-06-20')");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK_MSG(strstr(PQresultErrorMessage(r), "is not of tile 35VLF on 2026-06-20") != NULL,
              "message: %s", PQresultErrorMessage(r));
    PQclear(r);
    /* a tile-season without a partition (none is made by a plain INSERT) */
    r = PQexec(s->conn, "INSERT INTO observation_parts VALUES "
                        "('S2A_35VLF_20260615_0_L2A', 'Z', 1, 1, 1, 1, 1, '35VLF', '2031-06-15')");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK_MSG(strstr(PQresultErrorMessage(r), "no partition") != NULL, "message: %s",
              PQresultErrorMessage(r));
    PQclear(r);
    /* straight into a leaf (as ingest copies): the leaf's own check (005) */
    r = PQexec(s->conn, "INSERT INTO observation_parts_2026_35vlf VALUES "
                        "('S2A_NOSUCH_20260615_0_L2A', 'A', 1, 1, 1, 1, 1, '35VLF', '2026-06-15')");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK_MSG(strstr(PQresultErrorMessage(r), "scene S2A_NOSUCH_20260615_0_L2A is not in scenes"),
              "message: %s", PQresultErrorMessage(r));
    PQclear(r);
    r = PQexec(s->conn, "INSERT INTO observation_parts_2026_35vlf VALUES "
                        "('S2B_35VLG_20260615_0_L2A', 'Z', 1, 1, 1, 1, 1, '35VLF', '2026-06-15')");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK_MSG(strstr(PQresultErrorMessage(r), "is not of tile 35VLF on 2026-06-15") != NULL,
              "message: %s", PQresultErrorMessage(r));
    PQclear(r);
    /* one statement, several scenes (080's short way is for one): the first row's scene
     * exists, a later row's does not, or is filed under another date; two good scenes */
    const struct {
        const char *second, *message;
    } mixed[] = {
        {"('S2A_NOSUCH_20260615_0_L2A', 'B', 1, 1, 1, 1, 1, '35VLF', '2026-06-15')",
         "scene S2A_NOSUCH_20260615_0_L2A is not in scenes"},
        {"('S2A_35VLF_20260620_0_L2A', 'B', 1, 1, 1, 1, 1, '35VLF', '2026-06-15')",
         "scene S2A_35VLF_20260620_0_L2A is not of tile 35VLF on 2026-06-15"},
        {"('S2A_35VLF_20260620_0_L2A', 'B', 1, 1, 1, 1, 1, '35VLF', '2026-06-20')", NULL},
    };
    for (size_t k = 0; k < sizeof mixed / sizeof mixed[0]; k++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "INSERT INTO observation_parts_2026_35vlf VALUES "
                 "('S2A_35VLF_20260615_0_L2A', 'Z', 1, 1, 1, 1, 1, '35VLF', '2026-06-15'), %s",
                 mixed[k].second);
        CHECK(store_exec(s, "t", "BEGIN", 0, NULL) == MC_OK);
        r = PQexec(s->conn, sql);
        if (mixed[k].message)
            CHECK_MSG(PQresultStatus(r) == PGRES_FATAL_ERROR &&
                          strstr(PQresultErrorMessage(r), mixed[k].message) != NULL,
                      "%s: %s", mixed[k].second, PQresultErrorMessage(r));
        else
            CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", mixed[k].second,
                      PQresultErrorMessage(r));
        PQclear(r);
        CHECK(store_exec(s, "t", "ROLLBACK", 0, NULL) == MC_OK);
    }
    CHECK(store_exec(s, "t", "UPDATE scenes SET acquired_on = '2026-06-16' "
                             "WHERE scene_id = 'S2A_35VLF_20260615_0_L2A'", 0, NULL) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "cannot change") != NULL, "message: %s",
              mc_error_message());
    CHECK(store_exec(s, "t", "BEGIN", 0, NULL) == MC_OK);
    CHECK(store_exec(s, "t", "DELETE FROM scenes WHERE scene_id = 'S2A_35VLF_20260620_0_L2A'", 0,
                     NULL) == MC_OK);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts "
                                "WHERE scene_id = 'S2A_35VLF_20260620_0_L2A'"),
              0);
    CHECK(store_exec(s, "t", "ROLLBACK", 0, NULL) == MC_OK);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts "
                                "WHERE scene_id = 'S2A_35VLF_20260620_0_L2A'"),
              2);
}

/* The leaves of observation_parts (partitions holding rows), sorted, ","-separated. */
static const char *leaves(store *s, const char *like, char *buf, size_t size)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(string_agg(relid::text, ',' ORDER BY relid::text), '') "
             "FROM pg_partition_tree('observation_parts') WHERE isleaf AND relid::text LIKE '%s'",
             like);
    return store_test_value(s, sql, buf, size);
}

/* One leaf per (season, tile) of the stored scenes, each part in its own; a scene of
 * a new season makes its season partition (Jan 1 to Jan 1) and leaf; a tile id that
 * is not an MGRS name gets a leaf named by a digest. */
static void test_partitions(store *s, int64_t run_id)
{
    char buf[512];
    /* stored so far: 35VLF on 06-15, 06-20, 08-01, 35VLG on 06-15 (all 2026) */
    CHECK_STR(leaves(s, "%", buf, sizeof buf),
              "observation_parts_2026_35vlf,observation_parts_2026_35vlg");
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts_2026_35vlf"), 2 + 2 + 1);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts_2026_35vlg"), 1);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts p JOIN scenes c "
                                "USING (scene_id) WHERE p.tableoid::regclass::text <> "
                                "'observation_parts_2026_' || lower(c.tile_id)"),
              0);

    scene_info next = make_scene("S2A_35VLF_20270501_0_L2A", "35VLF", "2027-05-01");
    store_obs_part p[] = {part("A", 6, 6, 6, 36000, 216000000)};
    int dup = -1;
    CHECK(store_scene_commit(s, run_id, &next, set_hash, p, 1, &dup, NULL) == MC_OK && dup == 0);
    CHECK_STR(leaves(s, "observation_parts_2027%", buf, sizeof buf),
              "observation_parts_2027_35vlf");
    CHECK_STR(store_test_value(s, "SELECT pg_get_expr(relpartbound, oid) FROM pg_class "
                                  "WHERE relname = 'observation_parts_2027'",
                               buf, sizeof buf),
              "FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')");
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts_2027_35vlf "
                                "WHERE parcel_id = 'A' AND sum_q = 36000"),
              1);
    /* the observation of the new season through the view: 36000 / 6 / 10000 */
    CHECK_STR(store_test_value(s, "SELECT ndvi = 0.6 FROM observations "
                                  "WHERE parcel_id = 'A' AND acquired_on = '2027-05-01'",
                               buf, sizeof buf),
              "t");

    tile_grid odd = {"T-1 (test)", 32635, {800000, 10, 0, 6500000, 0, -10}, 10, 10};
    REQUIRE(store_tile_put(s, &odd) == MC_OK);
    scene_info odd_scene = make_scene("S2A_T1_20270502_0_L2A", "T-1 (test)", "2027-05-02");
    CHECK(store_scene_commit(s, run_id, &odd_scene, set_hash, p, 1, &dup, NULL) == MC_OK && dup == 0);
    /* 'observation_parts_2027_x' + 16 hex digits of md5('T-1 (test)') */
    CHECK_STR(store_test_value(s, "SELECT relid::text || ' ' || "
                                  "pg_get_expr(c.relpartbound, c.oid) "
                                  "FROM pg_partition_tree('observation_parts') t "
                                  "JOIN pg_class c ON c.oid = t.relid "
                                  "WHERE isleaf AND relid::text LIKE '%x%'",
                               buf, sizeof buf),
              "observation_parts_2027_x2d0129a32169653d FOR VALUES IN ('T-1 (test)')");
}

/* A worker whose scene transaction is open in a season holds off another that makes
 * a new tile's partition there (its CREATE waits for the season's lock); nothing
 * fails, and the second scene is stored once the first commits. */
static void test_partition_waits_for_open_scene(store *s, const char *dsn)
{
    REQUIRE(store_exec(s, "t", "BEGIN", 0, NULL) == MC_OK);
    REQUIRE(store_exec(s, "t",
                       "INSERT INTO scenes (scene_id, tile_id, acquired_on, satellite, "
                       "reflectance_offset_dn, path, set_hash) VALUES ('S2A_35VLF_20260910_0_L2A', "
                       "'35VLF', '2026-09-10', 'S2A', -1000, '/scenes/x', 'set-1')",
                       0, NULL) == MC_OK);
    REQUIRE(store_exec(s, "t",
                       "INSERT INTO observation_parts VALUES ('S2A_35VLF_20260910_0_L2A', 'A', "
                       "6, 1, 1, 100, 10000, '35VLF', '2026-09-10')",
                       0, NULL) == MC_OK);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        store *mine = store_test_open(dsn, NULL);
        scene_info sc = make_scene("S2A_35VLH_20260910_0_L2A", "35VLH", "2026-09-10");
        store_obs_part p[] = {part("P1", 7, 7, 7, 70000, 700000000)};
        int dup = 0;
        int ok = mine && store_scene_commit(mine, 0, &sc, set_hash, p, 1, &dup, NULL) == MC_OK;
        if (!ok)
            fprintf(stderr, "worker: %s\n", mc_error_message());
        if (mine)
            store_close(mine);
        _exit(ok && !dup ? 0 : 1);
    }
    store *watch = store_test_open(dsn, NULL);
    REQUIRE(watch != NULL);
    long long waiting = 0;
    for (int tries = 0; tries < 200 && waiting == 0; tries++) {
        waiting = store_test_int(watch, "SELECT count(*) FROM pg_locks WHERE NOT granted "
                                        "AND relation = 'observation_parts_2026'::regclass");
        if (waiting == 0)
            usleep(50000);
    }
    CHECK_INT(waiting, 1);
    CHECK(store_exec(s, "t", "COMMIT", 0, NULL) == MC_OK);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker failed");
    char buf[256];
    CHECK_STR(leaves(watch, "observation_parts_2026%", buf, sizeof buf),
              "observation_parts_2026_35vlf,observation_parts_2026_35vlg,"
              "observation_parts_2026_35vlh");
    CHECK_INT(store_test_int(watch, "SELECT sum(sum_q) FROM observation_parts "
                                    "WHERE acquired_on = '2026-09-10'"),
              100 + 70000);
    store_close(watch);
}

/* Four workers store first scenes of a new season at once (two of one tile): they are
 * held at the start by the season's creation lock, released together, and all
 * succeed; each (season, tile) has one leaf. */
static void test_partitions_concurrent(store *s, const char *dsn)
{
    REQUIRE(store_exec(s, "holding the lock",
                       "SELECT pg_advisory_lock("
                       "hashtextextended('observation_parts season 2028', 0))",
                       0, NULL) == MC_OK);
    const char *scenes[][3] = {{"S2A_35VLF_20280501_0_L2A", "35VLF", "2028-05-01"},
                               {"S2B_35VLF_20280506_0_L2A", "35VLF", "2028-05-06"},
                               {"S2A_35VLG_20280501_0_L2A", "35VLG", "2028-05-01"},
                               {"S2A_35VLJ_20280502_0_L2A", "35VLJ", "2028-05-02"}};
    enum { N = 4 };
    pid_t child[N];
    for (int i = 0; i < N; i++) {
        child[i] = fork();
        REQUIRE(child[i] >= 0);
        if (child[i] == 0) {
            store *mine = store_test_open(dsn, NULL);
            scene_info sc = make_scene(scenes[i][0], scenes[i][1], scenes[i][2]);
            store_obs_part p[] = {part("Q1", 4, 2, 3, 1000 * (i + 1), 1000000)};
            int dup = 0;
            int ok = mine && store_scene_commit(mine, 0, &sc, set_hash, p, 1, &dup, NULL) == MC_OK;
            if (!ok)
                fprintf(stderr, "worker %d: %s\n", i, mc_error_message());
            if (mine)
                store_close(mine);
            _exit(ok && !dup ? 0 : 1);
        }
    }
    const char *waiting_sql = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                              "AND NOT granted";
    for (int tries = 0; tries < 200; tries++) {
        if (store_test_int(s, waiting_sql) == N)
            break;
        usleep(50000);
    }
    CHECK_INT(store_test_int(s, waiting_sql), N);
    REQUIRE(store_exec(s, "releasing the lock", "SELECT pg_advisory_unlock_all()", 0, NULL) ==
            MC_OK);
    for (int i = 0; i < N; i++) {
        int status = 0;
        REQUIRE(waitpid(child[i], &status, 0) == child[i]);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed", i);
    }
    char buf[256];
    CHECK_STR(leaves(s, "observation_parts_2028%", buf, sizeof buf),
              "observation_parts_2028_35vlf,observation_parts_2028_35vlg,"
              "observation_parts_2028_35vlj");
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts_2028_35vlf"), 2);
    CHECK_INT(store_test_int(s, "SELECT sum(sum_q) FROM observation_parts "
                                "WHERE acquired_on >= '2028-01-01'"),
              1000 + 2000 + 3000 + 4000);
}

/* Two connections: one claims, the other is refused until it is released;
 * an ingested scene is never claimed. */
static void test_claims(const char *dsn)
{
    store *a = store_test_open(dsn, NULL), *b = store_test_open(dsn, NULL);
    REQUIRE(a && b);
    const char *id = "S2B_35VLF_20260901_0_L2A";
    int ca = -1, cb = -1;
    CHECK(store_scene_claim(a, id, "set", 0, &ca) == MC_OK && ca == 1);
    CHECK(store_scene_claim(b, id, "set", 0, &cb) == MC_OK && cb == 0);
    store_scene_release(a, id);
    CHECK(store_scene_claim(b, id, "set", 0, &cb) == MC_OK && cb == 1);
    CHECK(store_scene_claim(a, id, "set", 0, &ca) == MC_OK && ca == 0);
    store_close(b); /* a session's claims end with it (a killed worker frees its scenes) */
    ca = 0; /* the server ends the closed session a moment later */
    for (int tries = 0; tries < 100 && ca == 0; tries++) {
        CHECK(store_scene_claim(a, id, "set", 0, &ca) == MC_OK);
        if (ca == 0)
            usleep(50000);
    }
    CHECK_INT(ca, 1);
    store_scene_release(a, id);
    CHECK(store_scene_claim(a, "S2A_35VLF_20260615_0_L2A", set_hash, 0, &ca) == MC_OK && ca == 0);
    /* ... and the refused claim of an ingested scene left no lock behind. */
    CHECK_INT(store_test_int(a, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND pid = pg_backend_pid()"),
              0);
    store_close(a);
}

/* Unchanged pixel counts are not rewritten (the row versions stay); changed ones replace. */
static void test_parcel_tile_counts_rewritten_only_when_changed(store *s)
{
    const char *ids[] = {"P1", "P2"};
    int64_t px[] = {7, 9};
    tile_grid g = {"35VLH", 32635, {500000, 10, 0, 6500000, 0, -10}, 10, 10};
    REQUIRE(store_tile_put(s, &g) == MC_OK);
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLH", ids, px, 2) == MC_OK);
    char before[64], after[64];
    const char *xmin_sql = "SELECT string_agg(xmin::text, ',' ORDER BY parcel_id) "
                           "FROM parcel_tiles WHERE tile_id = '35VLH'";
    store_test_value(s, xmin_sql, before, sizeof before);
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLH", ids, px, 2) == MC_OK);
    CHECK_STR(store_test_value(s, xmin_sql, after, sizeof after), before);

    px[1] = 10;
    REQUIRE(store_parcel_tile_put(s, set_hash, "35VLH", ids, px, 2) == MC_OK);
    CHECK(strcmp(store_test_value(s, xmin_sql, after, sizeof after), before) != 0);
    CHECK_INT(store_test_int(s, "SELECT sum(n_pixels) FROM parcel_tiles "
                                "WHERE tile_id = '35VLH'"), 17);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM parcel_tile_digests "
                                "WHERE tile_id = '35VLH'"), 1);
}

/* Two workers storing the same tile's counts at once (ingest --tile on two machines):
 * both are held at the start by a lock on the same key, released together; both must
 * succeed and the counts be stored once. */
static void test_parcel_tile_counts_concurrent(store *s, const char *dsn)
{
    tile_grid g = {"35VLJ", 32635, {700000, 10, 0, 6500000, 0, -10}, 10, 10};
    REQUIRE(store_tile_put(s, &g) == MC_OK);
    char key_text[128], key_sql[512];
    snprintf(key_text, sizeof key_text, "parcel_tiles %s 35VLJ", set_hash);
    snprintf(key_sql, sizeof key_sql, "SELECT pg_advisory_lock(%lld)",
             (long long)store_lock_key(key_text));
    REQUIRE(store_exec(s, "holding the lock", key_sql, 0, NULL) == MC_OK);
    pid_t child[2];
    for (int i = 0; i < 2; i++) {
        child[i] = fork();
        REQUIRE(child[i] >= 0);
        if (child[i] == 0) {
            store *mine = store_test_open(dsn, NULL);
            const char *ids[] = {"Q1", "Q2", "Q3"};
            int64_t px[] = {4, 5, 6};
            int ok = mine && store_parcel_tile_put(mine, set_hash, "35VLJ", ids, px, 3) == MC_OK;
            if (!ok)
                fprintf(stderr, "worker %d: %s\n", i, mc_error_message());
            if (mine)
                store_close(mine);
            _exit(ok ? 0 : 1);
        }
    }
    /* Both workers are waiting on the lock before it is released. */
    for (int tries = 0; tries < 200; tries++) {
        if (store_test_int(s, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                              "AND NOT granted") == 2)
            break;
        usleep(50000);
    }
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND NOT granted"), 2);
    REQUIRE(store_exec(s, "releasing the lock", "SELECT pg_advisory_unlock_all()", 0, NULL) ==
            MC_OK);
    for (int i = 0; i < 2; i++) {
        int status = 0;
        REQUIRE(waitpid(child[i], &status, 0) == child[i]);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed", i);
    }
    CHECK_INT(store_test_int(s, "SELECT sum(n_pixels) FROM parcel_tiles WHERE tile_id = '35VLJ'"),
              15);
}

int main(void)
{
    char dsn[512];
    store_test_create_db("store_scene", dsn, sizeof dsn);
    store *s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    int64_t run_id;
    setup(s, &run_id);
    test_tiles(s);
    test_commit_and_sum(s, run_id);
    test_duplicate(s, run_id);
    test_commit_is_atomic(s, run_id);
    test_parts_need_scene(s);
    test_rejections(s, run_id);
    test_parcel_tile_counts_rewritten_only_when_changed(s);
    test_parcel_tile_counts_concurrent(s, dsn);
    test_partitions(s, run_id);
    test_partition_waits_for_open_scene(s, dsn);
    test_partitions_concurrent(s, dsn);
    test_commit_exact_values(s, run_id); /* seasons 1999 and 2032: after the partition tests */
    test_date_days(s);
    store_close(s);
    test_claims(dsn);
    test_kill_mid_commit(dsn);
    return test_summary();
}
