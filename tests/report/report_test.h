/* Shared pieces of the report tests: a store on the suite's cluster holding flagged
 * and approved decisions written through the store API, and a parcel GeoPackage in
 * EPSG:32635 made with OGR.
 *
 * The fixture (season 2026 unless said):
 *   C-1  P-1                        not_mowed     reviewed "mowed" with a hostile note
 *   C-2  P-2                        inconclusive
 *   C-3  hostile_parcel             inconclusive  (the id carries markup, quotes, &)
 *   C-4  P-APPROVED                 approved      (not flagged)
 *   C-5  P-1                        not_mowed     (a second claim on P-1)
 *   C-6  P-2, season 2025           not_mowed     (another season)
 *   C-7  P-MISSING                  inconclusive  (not in the parcel file)
 * Parcels are 100 m squares whose south-west corner is (500000 + 1000 k, 6500000), UTM 35N:
 * P-1 k = 0 (on the central meridian, 27 degrees E exactly), P-2 k = 1, hostile k = 2,
 * P-APPROVED k = 3. */
#ifndef MOWCHECK_TEST_REPORT_H
#define MOWCHECK_TEST_REPORT_H

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "../client/client_test.h"

#define REPORT_FN static __attribute__((unused))

static const char hostile_parcel[] = "P-<script>alert(\"x\")</script>&'amp;";
static const char hostile_note[] = "Looked <b>fine</b> & \"mowed\" </textarea><script>x()</script>";

typedef struct fixture_claim {
    const char *claim, *parcel;
    int season;
    const char *outcome, *rule; /* rule: decide_why_code; "test" has no notice sentence */
} fixture_claim;

static const fixture_claim fixture_claims[] = {
    {"C-1", "P-1", 2026, "not_mowed", "too_few_mowings"},
    {"C-2", "P-2", 2026, "inconclusive", "season_unconfirmed"},
    {"C-3", hostile_parcel, 2026, "inconclusive", "test"},
    {"C-4", "P-APPROVED", 2026, "approved", "enough_mowings"},
    {"C-5", "P-1", 2026, "not_mowed", "too_few_mowings"},
    {"C-6", "P-2", 2025, "not_mowed", "too_few_mowings"},
    {"C-7", "P-MISSING", 2026, "inconclusive", "no_observations"},
};
enum { N_FIXTURE = sizeof fixture_claims / sizeof *fixture_claims };

REPORT_FN void fixture_parcels(const char *path)
{
    GDALAllRegister();
    GDALDriverH drv = GDALGetDriverByName("GPKG");
    REQUIRE(drv != NULL);
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    REQUIRE(ds != NULL);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 32635);
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "parcels", srs, wkbPolygon, NULL);
    OSRDestroySpatialReference(srs);
    REQUIRE(layer != NULL);
    OGRFieldDefnH fd = OGR_Fld_Create("parcel_id", OFTString);
    REQUIRE(OGR_L_CreateField(layer, fd, 1) == OGRERR_NONE);
    OGR_Fld_Destroy(fd);
    const char *ids[] = {"P-1", "P-2", hostile_parcel, "P-APPROVED"};
    for (int k = 0; k < 4; k++) {
        char wkt[300];
        double x = 500000 + 1000.0 * k, y = 6500000;
        snprintf(wkt, sizeof wkt, "POLYGON ((%.0f %.0f, %.0f %.0f, %.0f %.0f, %.0f %.0f, %.0f %.0f))",
                 x, y, x + 100, y, x + 100, y + 100, x, y + 100, x, y);
        OGRGeometryH g = NULL;
        char *p = wkt;
        REQUIRE(OGR_G_CreateFromWkt(&p, NULL, &g) == OGRERR_NONE);
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetFieldString(f, 0, ids[k]);
        OGR_F_SetGeometryDirectly(f, g);
        REQUIRE(OGR_L_CreateFeature(layer, f) == OGRERR_NONE);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

/* Writes the fixture's decisions (and their cases) and the review of C-1. */
REPORT_FN void fixture_store(store *st, const char *parcels_path)
{
    REQUIRE(store_parcel_set_put(st, "h1", parcels_path, "parcel_id", 4) == MC_OK);
    int64_t run_id;
    REQUIRE(store_run_begin(st, "decide", &run_id) == MC_OK);
    REQUIRE(store_decide_begin(st) == MC_OK);
    for (int i = 0; i < N_FIXTURE; i++) {
        const fixture_claim *c = &fixture_claims[i];
        char reason[200], as_of[16];
        snprintf(reason, sizeof reason, "Reason for %s: <no mowing> & \"seen\"", c->claim);
        snprintf(as_of, sizeof as_of, "%d-10-05", c->season);
        store_decision d = {
            .claim_id = c->claim, .parcel_id = c->parcel, .season = c->season,
            .applicant = "AP-1", .scheme = "GRASS-1CUT", .window_start = "2026-06-01",
            .window_end = "2026-08-31", .min_mowings = 1, .outcome = c->outcome,
            .rule = c->rule, .reason_json = "{\"test\": true}", .reason_text = reason,
            .model_version = "model-test@1", .run_id = run_id, .as_of = as_of};
        store_decision_effect eff;
        char number[32];
        int rc = store_decision_put(st, &d, &eff, number, sizeof number);
        if (rc != MC_OK)
            fprintf(stderr, "decision %s: %s\n", c->claim, mc_error_message());
        REQUIRE(rc == MC_OK);
    }
    REQUIRE(store_decide_commit(st) == MC_OK);
    REQUIRE(store_run_end(st, run_id, "ok", NULL) == MC_OK);
    PGconn *c = db_connect();
    /* the test's login may sign as inspector-1 (schemas/060_review_signature.sql) */
    PQclear(db_rows(c, "INSERT INTO inspector_logins VALUES (session_user, 'inspector-1')"
                       " ON CONFLICT DO NOTHING RETURNING 1"));
    PGresult *r = db_rows(c, "SELECT case_number FROM cases WHERE claim_id = 'C-1'");
    REQUIRE(PQntuples(r) == 1);
    REQUIRE(store_review_add(st, PQgetvalue(r, 0, 0), "mowed", "inspector-1", hostile_note) ==
            MC_OK);
    PQclear(r);
    PQfinish(c);
}

/* The case number of a claim, from the database ("" where none). */
REPORT_FN char *fixture_case(const char *claim, int season)
{
    PGconn *c = db_connect();
    char q[200];
    snprintf(q, sizeof q, "SELECT case_number FROM cases WHERE claim_id = '%s' AND season = %d",
             claim, season);
    PGresult *r = db_rows(c, q);
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Flagged claims in the database, counted with plain SQL. */
REPORT_FN int fixture_flagged_count(int season)
{
    PGconn *c = db_connect();
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*) FROM decisions WHERE is_current AND outcome IN"
                          " ('not_mowed', 'inconclusive') AND (%d = 0 OR season = %d)",
             season, season);
    PGresult *r = db_rows(c, q);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

REPORT_FN void sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s\n", q, PQresultErrorMessage(r));
    REQUIRE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
    PQclear(r);
}


/* Observations, summaries and an event (see test_report_html.c), and a run with energy. */
REPORT_FN void fixture_series(void)
{
    PGconn *c = db_connect();
    sql(c, "INSERT INTO tiles VALUES ('35VLF', 32635, '{500000,10,0,6600000,0,-10}', 10980, 10980)");
    sql(c, "INSERT INTO parcel_tiles VALUES ('h1', '35VLF', 'P-1', 100), ('h1', '35VLF', 'P-2', 100)");
    sql(c, "INSERT INTO scenes (scene_id, tile_id, acquired_on, satellite, reflectance_offset_dn,"
           " path, set_hash) SELECT 'S2A_35VLF_' || to_char(d, 'YYYYMMDD') || '_0_L2A', '35VLF',"
           " d, 'S2A', -1000, '/scenes', 'h1' FROM generate_series(date '2026-06-01',"
           " date '2026-07-21', interval '10 days') d");
    /* parts carry their scene's tile and date and go to its partition (schemas/004) */
    sql(c, "SELECT observation_parts_partition(acquired_on, tile_id) FROM scenes");
    sql(c, "INSERT INTO observation_parts SELECT scene_id, 'P-1', 100, v, 100, v::bigint * 6000,"
           " v::bigint * 36000000, tile_id, acquired_on FROM (SELECT scene_id, tile_id,"
           " acquired_on, CASE WHEN acquired_on IN"
           " ('2026-06-21', '2026-07-11') THEN 0 ELSE 100 END AS v FROM scenes) s");
    sql(c, "INSERT INTO observation_parts SELECT scene_id, 'P-2', 100, 100, 100, 700000,"
           " 4900000000, tile_id, acquired_on FROM scenes");
    sql(c, "INSERT INTO parcel_seasons VALUES ('P-1', 2026, 4, true, 0.05, 'no_event_covered',"
           " 'm@1', NULL), ('P-2', 2026, 6, true, 0.55, 'uncertain_event', 'm@1', NULL)");
    sql(c, "INSERT INTO events VALUES ('P-2', 2026, '2026-06-11', '2026-06-21', '2026-06-16',"
           " 0.91, 'm@1', NULL)");
    /* a run that recorded its energy, next to the fixture's decide run (none recorded) */
    sql(c, "INSERT INTO runs (command, status, started_at, ended_at, summary) VALUES ('run', 'ok',"
           " '2026-11-01 02:00:00+00', '2026-11-01 02:01:30+00', '{\"cpu_joules\": 12.5}')");
    PQfinish(c);
}

#endif
