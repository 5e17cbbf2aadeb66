/* Bad deliveries: each is reported by path with its reason, recorded as rejected,
 * and leaves what was stored before exactly as it was; the run goes on. An invalid
 * parcel polygon is reported by parcel id and the other parcels are still observed. */
#include <fcntl.h>
#include <sys/stat.h>

#include "fixture.h"

#include "db.h"
#include "error.h"
#include "ingest.h"
#include "log.h"
#include "test.h"

#define GOOD "S2B_35VLF_20260615_0_L2A"

static fx_scene sc;

/* Runs ingest with stderr captured into *text (caller frees). */
static int ingest_capture(const ingest_options *o, store *s, ingest_summary *sum, char **text)
{
    char path[] = "/tmp/mowcheck-test-stderr-XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = ingest_run(o, s, sum);
    if (rc != MC_OK)
        fprintf(stderr, "ingest_run: %s\n", mc_error_message());
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    *text = calloc((size_t)n + 1, 1);
    if (pread(fd, *text, (size_t)n, 0) != n)
        (*text)[0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void write_bad_scenes(const char *scenes)
{
    char path[1024];
    /* truncated B08: noise so the tiles, not the directory, fill the file */
    fx_scene noisy = sc;
    uint32_t r = 99;
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            r = r * 1103515245u + 12345u;
            noisy.nir[y][x] = (uint16_t)(1 + (r >> 16) % 60000);
        }
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260701_0_L2A", &noisy, NULL) == 0);
    snprintf(path, sizeof path, "%s/S2B_35VLF_20260701_0_L2A/B08.tif", scenes);
    REQUIRE(fx_truncate_half(path) == 0);
    /* missing SCL */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260702_0_L2A", &sc, NULL) == 0);
    snprintf(path, sizeof path, "%s/S2B_35VLF_20260702_0_L2A/SCL.tif", scenes);
    REQUIRE(unlink(path) == 0);
    /* B08 of the wrong size */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260703_0_L2A", &sc, NULL) == 0);
    snprintf(path, sizeof path, "%s/S2B_35VLF_20260703_0_L2A/B08.tif", scenes);
    REQUIRE(fx_write_band(path, 16, 16, GDT_UInt16, sc.nir, FX_X0, FX_Y0, 10, 32635) == 0);
    /* B08 in another CRS */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260704_0_L2A", &sc, NULL) == 0);
    snprintf(path, sizeof path, "%s/S2B_35VLF_20260704_0_L2A/B08.tif", scenes);
    REQUIRE(fx_write_band(path, FX_W, FX_H, GDT_UInt16, sc.nir, FX_X0, FX_Y0, 10, 32634) == 0);
    /* item.json that does not parse */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260705_0_L2A", &sc,
                           "{\"properties\": {\"datetime\": ") == 0);
    /* a folder whose name is no scene id */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_2026070_0_L2A", &sc, NULL) == 0);
    /* a second delivery of the stored tile-date */
    REQUIRE(fx_write_scene(scenes, "S2A_35VLF_20260615_0_L2A", &sc, NULL) == 0);
    /* B08 a named pipe: opening it would block ingest for good */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260706_0_L2A", &sc, NULL) == 0);
    snprintf(path, sizeof path, "%s/S2B_35VLF_20260706_0_L2A/B08.tif", scenes);
    REQUIRE(unlink(path) == 0 && mkfifo(path, 0644) == 0);
    /* folder names that are not UTF-8, and that would forge a log line */
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_\xff\xfe_0_L2A", &sc, NULL) == 0);
    REQUIRE(fx_write_scene(scenes, "S2B_35VLF_20260707\nmowcheck: forged_0_L2A", &sc, NULL) == 0);
}

static void expect_rejected(const char *log, const char *dsn, const char *scenes, const char *id,
                            const char *file, const char *reason)
{
    char path[1024], sql[1024], value[1024];
    snprintf(path, sizeof path, "%s/%s%s%s", scenes, id, *file ? "/" : "", file);
    CHECK_MSG(strstr(log, path) != NULL, "the log does not name %s:\n%s", path, log);
    snprintf(sql, sizeof sql, "SELECT reason FROM scene_rejections WHERE scene_id = '%s'", id);
    db_value(dsn, sql, value, sizeof value);
    CHECK_MSG(strstr(value, reason) != NULL, "%s: recorded reason '%s' lacks '%s'", id, value,
              reason);
}

int main(void)
{
    char dir[256], scenes[512], parcels[512], state[512], dsn[512];
    log_set_level(LOG_WARN);
    GDALAllRegister();
    if (!getenv("MOWCHECK_TEST_PGHOST"))
        TEST_SKIP("MOWCHECK_TEST_PGHOST not set (run through ctest)");
    fx_tmpdir(dir, sizeof dir, "ingest-bad");
    snprintf(scenes, sizeof scenes, "%s/scenes", dir);
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    fx_scene_fill(&sc, 1000, 3000, 4);
    REQUIRE(fx_write_scene(scenes, GOOD, &sc, NULL) == 0);

    /* P1 in the first block, P2 in the last; BAD1 a self-crossing "bow tie" */
    char w1[256], w2[256];
    fx_rect(w1, sizeof w1, FX_X0, FX_Y0 - 80, FX_X0 + 80, FX_Y0);
    fx_rect(w2, sizeof w2, FX_X0 + 200, FX_Y0 - 280, FX_X0 + 280, FX_Y0 - 200);
    /* OVA and OVB: the same square twice (their ground counts for neither); TINY:
     * 15 m wide, nothing left after the 10 m inner buffer */
    char wo[256], wt[256];
    fx_rect(wo, sizeof wo, FX_X0 + 100, FX_Y0 - 280, FX_X0 + 180, FX_Y0 - 200);
    fx_rect(wt, sizeof wt, FX_X0, FX_Y0 - 200, FX_X0 + 15, FX_Y0 - 185);
    /* HUGE (400 m x 400 m, off the scene) wholly covers S1..S3 (100 m x 100 m each):
     * each takes 6% of HUGE, 19% in all */
    char wh[256], ws[3][256];
    fx_rect(wh, sizeof wh, FX_X0 + 5000, FX_Y0 - 400, FX_X0 + 5400, FX_Y0);
    for (int k = 0; k < 3; k++)
        fx_rect(ws[k], sizeof ws[k], FX_X0 + 5000 + 120 * k, FX_Y0 - 100, FX_X0 + 5100 + 120 * k,
                FX_Y0);
    const char *ids[] = {"P1", "P2", "BAD1", "OVA", "OVB", "TINY", "HUGE", "S1", "S2", "S3"};
    const char *wkt[] = {w1, w2,
                         "POLYGON ((500100 6499900, 500160 6499840, 500160 6499900, 500100 "
                         "6499840, 500100 6499900))", wo, wo, wt, wh, ws[0], ws[1], ws[2]};
    REQUIRE(fx_write_parcels(parcels, 32635, ids, wkt, 10) == 0);

    db_create("mowcheck_ingest_bad", dsn, sizeof dsn);
    store *s = db_open(dsn);
    ingest_options o = {.scenes_dir = scenes, .parcels_path = parcels, .state_dir = state,
                        .inner_buffer_m = 10, .device = KERNEL_DEVICE_CPU, .n_threads = 2};
    ingest_summary sum;
    char *log;
    CHECK_INT(ingest_capture(&o, s, &sum, &log), MC_OK);
    CHECK_INT(sum.scenes_ingested, 1);
    CHECK_MSG(strstr(log, "BAD1") != NULL, "the invalid polygon is not reported by id:\n%s", log);
    CHECK_MSG(strstr(log, "parcels OVA and OVB overlap: the shared area is 100% of OVA and "
                          "100% of OVB") != NULL, "the overlap is not reported:\n%s", log);
    CHECK_MSG(strstr(log, "parcel HUGE overlaps 3 other parcels: 19% of its area in all") != NULL,
              "the huge parcel is not reported:\n%s", log);
    free(log);
    /* every parcel is a member of the set, so that decide asks about each */
    char members[256];
    db_value(dsn, "SELECT string_agg(parcel_id || ':' || coalesce(left(refused, 25), '-'), ','"
                  " ORDER BY parcel_id) FROM parcel_set_members", members, sizeof members);
    CHECK_STR(members, "BAD1:has an invalid geometry (,HUGE:-,OVA:-,OVB:-,P1:-,P2:-,S1:-,S2:-,"
                       "S3:-,TINY:-");
    db_value(dsn, "SELECT string_agg(parcel_id || '/' || other_parcel_id || '/' || share, ','"
                  " ORDER BY parcel_id, other_parcel_id) FROM parcel_overlaps", members,
             sizeof members);
    CHECK_STR(members, "HUGE/S1/0.0625,HUGE/S2/0.0625,HUGE/S3/0.0625,OVA/OVB/1,OVB/OVA/1,"
                       "S1/HUGE/1,S2/HUGE/1,S3/HUGE/1");
    char *before = db_export(s);
    db_row row;
    CHECK(db_find_row(before, "P1", "2026-06-15", &row) && strcmp(row.f[5], "36") == 0);
    CHECK(db_find_row(before, "P2", "2026-06-15", &row) && strcmp(row.f[5], "36") == 0);
    CHECK(!db_find_row(before, "BAD1", "2026-06-15", &row));

    write_bad_scenes(scenes);
    CHECK_INT(ingest_capture(&o, s, &sum, &log), MC_OK);
    CHECK_INT(sum.scenes_found, 11);
    CHECK_INT(sum.scenes_new, 10); /* each scene once: found = skipped + new */
    CHECK_INT(sum.scenes_skipped, 1);
    CHECK_INT(sum.scenes_ingested, 0);
    CHECK_INT(sum.scenes_rejected, 9);
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260706_0_L2A", "B08.tif",
                    "is not a regular file");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_\\xff\\xfe_0_L2A", "", "S2B_35VLF_\\xff");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260707\\nmowcheck: forged_0_L2A", "", "");
    CHECK_MSG(!strstr(log, "\nmowcheck: forged"), "a folder name forged a log line:\n%s", log);
    CHECK_INT(sum.scenes_duplicate, 1);
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260701_0_L2A", "B08.tif", "B08.tif");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260702_0_L2A", "SCL.tif", "SCL");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260703_0_L2A", "B08.tif", "16x16");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260704_0_L2A", "B08.tif", "CRS");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_20260705_0_L2A", "item.json", "does not parse");
    expect_rejected(log, dsn, scenes, "S2B_35VLF_2026070_0_L2A", "", "2026070");
    expect_rejected(log, dsn, scenes, "S2A_35VLF_20260615_0_L2A", "", "duplicate of " GOOD);
    free(log);
    char *after = db_export(s);
    CHECK_STR(after, before);
    char n[64];
    db_value(dsn, "SELECT count(*) FROM observation_parts", n, sizeof n);
    CHECK_STR(n, "2"); /* P1 and P2 of the good scene, nothing of the bad ones */
    free(before);
    free(after);
    store_close(s);
    fx_rmtree(dir);
    return test_summary();
}
