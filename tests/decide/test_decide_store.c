/* decide end to end: mowcheck-registry as a real process on loopback serving
 * tests/decide/data/claims.csv, the store on the suite's PostgreSQL with
 * observations, events and summaries written as SQL, the decide stage, cases,
 * reviews, the decision feed, the roles, and the mowcheck binary for `case`.
 *
 * usage: test_decide_store REGISTRY_BINARY MOWCHECK_BINARY DATA_DIR
 *
 * The data (as of 2026-10-05, season 2026, clear views every 5 days from 04-01):
 *   C-1 P-APPROVED  mowing 06-20 (06-15..06-25, 0.98)        -> approved
 *   C-2 P-NOTMOWED  no event, covered                        -> not_mowed, case 1
 *   C-3 P-EDGE      mowing 06-01 (05-27..06-06, 0.97)        -> inconclusive (edge), case 2
 *   C-4 P-CLOUDY    never a clear view                       -> inconclusive, case 3
 *   C-5 P-PENDING   window 09-01..10-31, still open          -> pending
 *   C-6'...  P-'... hostile ids, no event, covered           -> not_mowed, case 4
 *   P-NOCLAIM has no claim: no decision. */
#define _GNU_SOURCE /* asprintf */
#include <sys/wait.h>

#include "../client/client_test.h"
#include "casenum.h"
#include "decide_stage.h"
#include "detect.h"
#include "detect_stage.h"
#include "series.h"

static const char *registry_bin, *mowcheck_bin, *data_dir;
enum { N_PARCELS = 7 };
static const char hostile_claim[] = "C-6'; DROP TABLE cases; --";

static void sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s\n", q, PQresultErrorMessage(r));
    REQUIRE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
    PQclear(r);
}

/* 1 if the statement fails with "permission denied" (or another refusal we expect). */
static int refused(PGconn *c, const char *q, const char *needle)
{
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    int ok = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
             strstr(PQresultErrorMessage(r), needle) != NULL;
    if (!ok)
        fprintf(stderr, "expected '%s' refused with '%s', got: %s\n", q, needle,
                PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static char *value(PGconn *c, const char *q)
{
    PGresult *r = db_rows(c, q);
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

/* The tile, the current parcel set h1, scenes every 5 days 04-01..10-03, and every
 * parcel of `values` (an SQL VALUES list) in h1 with 100 pixels, fully clear on every
 * date, except P-CLOUDY: never a valid pixel. */
static void seed_observations(PGconn *c, const char *values)
{
    char *q;
    sql(c, "INSERT INTO tiles VALUES ('35VLF', 32635, '{500000,10,0,6500000,0,-10}', 10980, 10980)");
    sql(c, "INSERT INTO parcel_sets (set_hash, source_path, id_field, n_parcels, is_current)"
           " VALUES ('h1', 'parcels.gpkg', 'parcel_id', 7, true)");
    sql(c, "CREATE TEMP TABLE tp (p text)");
    REQUIRE(asprintf(&q, "INSERT INTO tp VALUES %s", values) > 0);
    sql(c, q);
    free(q);
    sql(c, "INSERT INTO parcel_tiles SELECT 'h1', '35VLF', p, 100 FROM tp");
    sql(c, "INSERT INTO scenes (scene_id, tile_id, acquired_on, satellite, reflectance_offset_dn,"
           " path, set_hash)"
           " SELECT 'S2A_35VLF_' || to_char(d, 'YYYYMMDD') || '_0_L2A', '35VLF', d, 'S2A', -1000,"
           " '/scenes', 'h1' FROM generate_series(date '2026-04-01', date '2026-10-03',"
           " interval '5 days') d");
    sql(c, "SELECT observation_parts_partition(acquired_on, tile_id) FROM scenes");
    sql(c, "INSERT INTO observation_parts SELECT scene_id, p, 100,"
           " CASE WHEN p = 'P-CLOUDY' THEN 0 ELSE 100 END, 100,"
           " CASE WHEN p = 'P-CLOUDY' THEN 0 ELSE 600000 END,"
           " CASE WHEN p = 'P-CLOUDY' THEN 0 ELSE 3600000000 END, tile_id, acquired_on"
           " FROM scenes, tp");
}

static void load_evidence(PGconn *c)
{
    /* the test's login signs reviews as these inspectors (schemas/060_review_signature.sql) */
    sql(c, "INSERT INTO inspector_logins SELECT session_user, n FROM unnest(ARRAY['INSP-7',"
           " 'INSP-8', 'INSP-9', 'INSP-''11']) n");
    seed_observations(c, "('P-APPROVED'), ('P-NOTMOWED'), ('P-EDGE'), ('P-CLOUDY'),"
                         " ('P-PENDING'), ('P-''; DROP TABLE decisions; --'), ('P-NOCLAIM')");
    sql(c, "INSERT INTO parcel_seasons SELECT p, 2026, CASE WHEN p = 'P-CLOUDY' THEN 0 ELSE 38 END,"
           " p <> 'P-CLOUDY', CASE WHEN p IN ('P-APPROVED', 'P-EDGE') THEN 0.98 ELSE 0.01 END,"
           " CASE WHEN p IN ('P-APPROVED', 'P-EDGE') THEN 'confident_event'"
           "      WHEN p = 'P-CLOUDY' THEN 'no_observations' ELSE 'no_event_covered' END,"
           " 'model-test@1', NULL FROM tp");
    sql(c, "INSERT INTO events VALUES"
           " ('P-APPROVED', 2026, '2026-06-15', '2026-06-25', '2026-06-20', 0.98, 'model-test@1', NULL),"
           " ('P-EDGE', 2026, '2026-05-27', '2026-06-06', '2026-06-01', 0.97, 'model-test@1', NULL)");
}

static decide_stage_options options(const registry_config *reg)
{
    decide_stage_options o;
    memset(&o, 0, sizeof o);
    o.registry = reg;
    o.season = 2026;
    o.as_of_day = date_days_from_civil(2026, 10, 5);
    decide_params_default(&o.params);
    o.observed.min_valid_pixels = 1;
    o.observed.min_valid_share = 0.5;
    o.observed.season = 2026;
    return o;
}

static decide_stage_summary run_decide(store *st, const registry_config *reg)
{
    decide_stage_options o = options(reg);
    REQUIRE(store_run_begin(st, "decide", &o.run_id) == MC_OK);
    decide_stage_summary sum;
    int rc = decide_stage_run(st, &o, &sum);
    if (rc != MC_OK)
        fprintf(stderr, "decide: %s\n", mc_error_message());
    REQUIRE(rc == MC_OK);
    REQUIRE(store_run_end(st, o.run_id, "ok", NULL) == MC_OK);
    return sum;
}

static char *outcome_of(PGconn *c, const char *claim)
{
    char q[400];
    char *esc = PQescapeLiteral(c, claim, strlen(claim));
    snprintf(q, sizeof q, "SELECT outcome || '/' || rule FROM decisions WHERE claim_id = %s"
                          " AND is_current", esc);
    PQfreemem(esc);
    return value(c, q);
}

static void check_outcome(PGconn *c, const char *claim, const char *expected)
{
    char *v = outcome_of(c, claim);
    CHECK_MSG(strcmp(v, expected) == 0, "claim %s: %s, expected %s", claim, v, expected);
    free(v);
}

static void expected_case(int serial, char out[CASENUM_MAX])
{
    REQUIRE(casenum_format(2026, serial, out, CASENUM_MAX) == MC_OK);
}

static char *export_text(store *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(store_export_decisions(st, 2026, f) == MC_OK);
    fclose(f);
    return buf;
}

/* Runs the mowcheck binary; returns its exit code and its stdout+stderr. */
static int run_cli(const char *args, char **output)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s --db '%s' 2>&1", mowcheck_bin, args, db_dsn);
    return run_capture(cmd, output);
}

static void test_first_run(store *st, PGconn *c, const registry_config *reg)
{
    decide_stage_summary s = run_decide(st, reg);
    CHECK_INT(s.n_parcels, N_PARCELS);
    CHECK_INT(s.n_claims, 6);
    CHECK_INT(s.n_failed_parcels, 0);
    CHECK_INT(s.n_new, 6);
    CHECK_INT(s.n_outcome[DECIDE_APPROVED], 1);
    CHECK_INT(s.n_outcome[DECIDE_NOT_MOWED], 2);
    CHECK_INT(s.n_outcome[DECIDE_INCONCLUSIVE], 2);
    CHECK_INT(s.n_outcome[DECIDE_PENDING], 1);
    CHECK_INT(s.n_cases, 4);
    check_outcome(c, "C-1", "approved/enough_mowings");
    check_outcome(c, "C-2", "not_mowed/too_few_mowings");
    check_outcome(c, "C-3", "inconclusive/edge");
    check_outcome(c, "C-4", "inconclusive/no_observations");
    check_outcome(c, "C-5", "pending/window_open");
    check_outcome(c, hostile_claim, "not_mowed/too_few_mowings");
    /* cases in claim order, serials 1..4, numbers with valid check digits */
    PGresult *r = db_rows(c, "SELECT case_number, claim_id, serial FROM cases ORDER BY serial");
    REQUIRE(PQntuples(r) == 4);
    const char *claims[4] = {"C-2", "C-3", "C-4", hostile_claim};
    for (int i = 0; i < 4; i++) {
        char want[CASENUM_MAX];
        expected_case(i + 1, want);
        CHECK_STR(PQgetvalue(r, i, 0), want);
        CHECK_STR(PQgetvalue(r, i, 1), claims[i]);
        int season;
        int64_t serial;
        CHECK(casenum_parse(PQgetvalue(r, i, 0), &season, &serial) == MC_OK && serial == i + 1);
    }
    PQclear(r);
    /* the reason as data: the approved claim's event, counts, model, scenes */
    char *js = value(c, "SELECT reason_json->'events'->0->>'date' || ' ' ||"
                        " (reason_json->'observations'->>'clear_in_window') || ' ' ||"
                        " (reason_json->>'model_version') || ' ' || (reason_json->>'scenes_used')"
                        " FROM decisions WHERE claim_id = 'C-1'");
    /* views every 5 days 04-01..10-03 = 38 scenes; 18 inside 06-01..08-31 */
    CHECK_STR(js, "2026-06-20 18 model-test@1 38");
    free(js);
    /* the hostile texts are only data: the tables are all still there */
    CHECK_INT(db_count(c, "SELECT count(*) FROM pg_tables WHERE tablename IN"
                          " ('decisions', 'cases')"), 2);
}

static void test_rerun_same(store *st, PGconn *c, const registry_config *reg)
{
    long decisions = db_count(c, "SELECT count(*) FROM decisions");
    char *cases = value(c, "SELECT string_agg(case_number || claim_id, ',' ORDER BY serial) FROM cases");
    decide_stage_summary s = run_decide(st, reg);
    CHECK_INT(s.n_unchanged, 6);
    CHECK_INT(s.n_new + s.n_changed + s.n_proposed, 0);
    CHECK_INT(s.n_cases, 4);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions"), decisions);
    char *again = value(c, "SELECT string_agg(case_number || claim_id, ',' ORDER BY serial) FROM cases");
    CHECK_STR(again, cases);
    free(cases);
    free(again);
    CHECK_INT(db_count(c, "SELECT last_serial FROM case_serials WHERE season = 2026"), 4);
}

/* New evidence turns C-2 into an approval: a new current decision, the old one kept
 * as history, the case number stays the claim's. */
static void test_change(store *st, PGconn *c, const registry_config *reg)
{
    sql(c, "INSERT INTO events VALUES ('P-NOTMOWED', 2026, '2026-07-06', '2026-07-11',"
           " '2026-07-10', 0.99, 'model-test@1', NULL)");
    sql(c, "UPDATE parcel_seasons SET reason = 'confident_event', mowed_probability = 0.99"
           " WHERE parcel_id = 'P-NOTMOWED'");
    decide_stage_summary s = run_decide(st, reg);
    CHECK_INT(s.n_changed, 1);
    CHECK_INT(s.n_unchanged, 5);
    check_outcome(c, "C-2", "approved/enough_mowings");
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE claim_id = 'C-2'"), 2);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE claim_id = 'C-2' AND NOT is_current"
                          " AND outcome = 'not_mowed' AND superseded_at IS NOT NULL"), 1);
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases"), 4);
}

/* A reviewed decision stays; the later run's differing outcome is recorded beside it. */
static void test_review_freezes(store *st, PGconn *c, const registry_config *reg)
{
    char c3[CASENUM_MAX];
    expected_case(2, c3);
    REQUIRE(store_review_add(st, c3, "mowed", "INSP-7", "seen mown on the 2026-06-03 orthophoto, "
                             "\"fresh\" swaths; ok") == MC_OK);
    CHECK(store_review_add(st, c3, "rejected", "INSP-7", "x") != MC_OK);
    char *before = value(c, "SELECT decision_id FROM decisions WHERE claim_id = 'C-3' AND is_current");
    sql(c, "DELETE FROM events WHERE parcel_id = 'P-EDGE'");
    sql(c, "UPDATE parcel_seasons SET reason = 'no_event_covered' WHERE parcel_id = 'P-EDGE'");
    decide_stage_summary s = run_decide(st, reg);
    CHECK_INT(s.n_proposed, 1);
    check_outcome(c, "C-3", "inconclusive/edge");
    char *after = value(c, "SELECT decision_id FROM decisions WHERE claim_id = 'C-3' AND is_current");
    CHECK_STR(after, before);
    free(before);
    free(after);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decision_proposals WHERE claim_id = 'C-3'"
                          " AND outcome = 'not_mowed'"), 1);
    s = run_decide(st, reg); /* the same proposal again: not recorded twice */
    CHECK_INT(s.n_proposed, 0);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decision_proposals"), 1);
    /* not even the owner can change it */
    CHECK(refused(c, "UPDATE decisions SET outcome = 'approved' WHERE claim_id = 'C-3'",
                  "has been reviewed"));
    CHECK(refused(c, "DELETE FROM reviews", "append-only"));
    store_case kase;
    int found = 0;
    REQUIRE(store_case_get(st, c3, &kase, &found) == MC_OK && found);
    CHECK_STR(kase.claim_id, "C-3");
    CHECK_STR(kase.parcel_id, "P-EDGE");
    CHECK_STR(kase.outcome, "inconclusive");
    CHECK_INT(kase.n_reviews, 1);
    CHECK_STR(kase.reviews[0].verdict, "mowed");
    CHECK_STR(kase.proposal_outcome, "not_mowed");
    store_case_free(&kase);
    REQUIRE(store_case_get(st, "MC-2026-999999-00", &kase, &found) == MC_OK);
    CHECK(!found);
}

static void test_export(store *st)
{
    char *csv = export_text(st);
    if (getenv("DECIDE_TEST_DUMP"))
        fputs(csv, stderr);
    char c2[CASENUM_MAX], c3[CASENUM_MAX], c4[CASENUM_MAX], c6[CASENUM_MAX], want[512];
    expected_case(1, c2);
    expected_case(2, c3);
    expected_case(3, c4);
    expected_case(4, c6);
    CHECK(strncmp(csv, "claim_id,parcel_id,season,outcome,case_number,reviewed,reason\n", 62) == 0);
    CHECK(strstr(csv, "\nC-1,P-APPROVED,2026,approved,,,\"Mowing detected inside the window "
                      "2026-06-01 to 2026-08-31: 1 of 1 required") != NULL);
    /* C-2 was flagged once, then approved: its case number stays with it */
    snprintf(want, sizeof want, "\nC-2,P-NOTMOWED,2026,approved,%s,,\"Mowing detected", c2);
    CHECK(strstr(csv, want) != NULL);
    /* reviewed: the inspector's verdict, then the note (quotes doubled), then the machine's */
    snprintf(want, sizeof want, "\nC-3,P-EDGE,2026,inconclusive,%s,mowed,\"Reviewed by inspector "
                                "INSP-7 on ", c3);
    CHECK(strstr(csv, want) != NULL);
    CHECK(strstr(csv, ": mowed. seen mown on the 2026-06-03 orthophoto, \"\"fresh\"\" swaths; ok "
                      "(Automatic: A mowing was detected close to the window's edge") != NULL);
    snprintf(want, sizeof want, "\nC-4,P-CLOUDY,2026,inconclusive,%s,,", c4);
    CHECK(strstr(csv, want) != NULL);
    CHECK(strstr(csv, "\nC-5,P-PENDING,2026,pending,,,The window 2026-09-01 to 2026-10-31 is "
                      "still open: 0 of 1 required mowings detected so far.\n") != NULL);
    snprintf(want, sizeof want, "\nC-6'; DROP TABLE cases; --,P-'; DROP TABLE decisions; --,2026,"
                                "not_mowed,%s,,", c6);
    CHECK(strstr(csv, want) != NULL);
    int lines = 0;
    for (const char *p = csv; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 7); /* header + 6 claims; no row for P-NOCLAIM */
    free(csv);
}

/* The roles: the inspector reads and writes reviews only; the batch writes
 * decisions but not reviews; neither changes the audit log. */
static void test_roles(PGconn *c)
{
    char c4[CASENUM_MAX], q[512];
    expected_case(3, c4);
    sql(c, "INSERT INTO audit_log (attempt, client, service, user_id, parcel_ids, x_road_id,"
           " duration_ms) VALUES (1, 'EE/GOV/1/x', 'EE/GOV/2/r/claims', 'EE1', '{P-1}', 'id', 1)");
    sql(c, "SET ROLE mowcheck_inspector");
    CHECK(db_count(c, "SELECT count(*) FROM decisions") > 0);
    CHECK(db_count(c, "SELECT count(*) FROM cases") == 4);
    CHECK(refused(c, "UPDATE decisions SET outcome = 'approved'", "permission denied"));
    CHECK(refused(c, "DELETE FROM decisions", "permission denied"));
    CHECK(refused(c, "INSERT INTO cases (case_number, claim_id, parcel_id, season, serial)"
                     " VALUES ('x', 'y', 'z', 2026, 99)", "permission denied"));
    CHECK(refused(c, "UPDATE audit_log SET user_id = 'x'", "permission denied"));
    CHECK(refused(c, "DELETE FROM audit_log", "permission denied"));
    CHECK(refused(c, "INSERT INTO audit_log (attempt, client, service, user_id, parcel_ids,"
                     " x_road_id, duration_ms) VALUES (1, 'a', 'b', 'c', '{}', 'd', 1)",
                  "permission denied"));
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'needs_visit', 'INSP-9', 'cloud all summer')", c4);
    sql(c, q);
    CHECK(refused(c, "UPDATE reviews SET verdict = 'mowed'", "permission denied"));
    sql(c, "RESET ROLE");
    sql(c, "SET ROLE mowcheck_batch");
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'mowed', 'batch', 'no')", c4);
    CHECK(refused(c, q, "permission denied"));
    CHECK(refused(c, "UPDATE audit_log SET user_id = 'x'", "permission denied"));
    CHECK(refused(c, "DELETE FROM audit_log", "permission denied"));
    CHECK(refused(c, "DELETE FROM cases", "permission denied"));
    /* audit rows only through audit_log_append, which fills who and when itself */
    CHECK(refused(c, "INSERT INTO audit_log (attempt, client, service, user_id, parcel_ids,"
                     " x_road_id, duration_ms, logged_at) VALUES (1, 'a', 'b', 'c', '{}', 'forged',"
                     " 1, '2020-01-01')", "permission denied"));
    sql(c, "BEGIN");
    sql(c, "SELECT audit_log_append(NULL, 1, 'EE/GOV/1/x', 'EE/GOV/2/r/claims', 'EE1', NULL,"
           " NULL, 2026, '[\"P-1\"]', '[]', '[]', '[]', 'id2', NULL, NULL, NULL, 200, NULL, NULL,"
           " 1, NULL)");
    CHECK_INT(db_count(c, "SELECT count(*) FROM audit_log WHERE x_road_id = 'id2'"
                          " AND logged_by = session_user AND logged_at > now() - interval '1 hour'"), 1);
    sql(c, "UPDATE decisions SET is_current = is_current WHERE claim_id = 'C-1'");
    sql(c, "ROLLBACK");
    /* a case number whose check digits do not match its season and serial */
    CHECK(refused(c, "INSERT INTO cases (case_number, claim_id, parcel_id, season, serial)"
                     " VALUES ('MC-2026-000099-00', 'C-X', 'P-X', 2026, 99)", "check_digits"));
    sql(c, "RESET ROLE");
    CHECK(refused(c, "UPDATE audit_log SET user_id = 'x'", "append-only")); /* even the owner */
    CHECK(refused(c, "INSERT INTO cases (case_number, claim_id, parcel_id, season, serial)"
                     " VALUES ('MC-2026-000005-00', 'C-X', 'P-X', 2026, 5)", "check_digits"));
    /* even the owner's direct insert gets the database's who and when */
    sql(c, "BEGIN");
    sql(c, "INSERT INTO audit_log (attempt, client, service, user_id, parcel_ids, x_road_id,"
           " duration_ms, logged_at, logged_by) VALUES (1, 'a', 'b', 'c', '{}', 'id3', 1,"
           " '2020-01-01', 'somebody else')");
    CHECK_INT(db_count(c, "SELECT count(*) FROM audit_log WHERE x_road_id = 'id3'"
                          " AND logged_by = session_user AND logged_at > '2021-01-01'"), 1);
    sql(c, "ROLLBACK");
    sql(c, "SET ROLE mowcheck_inspector");
    CHECK(refused(c, "SELECT audit_log_append(NULL, 1, 'a', 'b', 'c', NULL, NULL, 2026, '[]',"
                     " '[]', '[]', '[]', 'id4', NULL, NULL, NULL, 200, NULL, NULL, 1, NULL)",
                  "permission denied"));
    sql(c, "RESET ROLE");
}

/* The stored detections as if `mowcheck detect` had made them with the shipped model:
 * decide refuses to apply one model's threshold to another model's events. */
static void detected_with_shipped_model(PGconn *c)
{
    detect_model *m = malloc(sizeof *m);
    char version[128], q[512];
    REQUIRE(m && detect_load_model(NULL, m) == MC_OK);
    REQUIRE(detect_model_version(NULL, m, version, sizeof version) == MC_OK);
    free(m);
    snprintf(q, sizeof q, "UPDATE parcel_seasons SET model_version = '%s';"
                          "UPDATE events SET model_version = '%s'", version, version);
    sql(c, q);
}

/* mowcheck decide through the CLI (the shipped model's thresholds): the summary
 * line, and nothing changes when run again on the same data. */
static void test_decide_cli(PGconn *c, const char *base)
{
    char args[700], *out = NULL;
    detected_with_shipped_model(c);
    snprintf(args, sizeof args, "decide --registry %s --season 2026 --as-of 2026-10-05"
                                " --registry-user-id EE38001010000 --min-valid-pixels 1"
                                " --min-valid-share 0.5", base);
    CHECK_INT(run_cli(args, &out), 0);
    CHECK_MSG(strstr(out, "decide: season 2026: 7 parcels asked, 6 claims: ") != NULL, "output: %s",
              out);
    free(out);
    CHECK_INT(run_cli(args, &out), 0);
    CHECK_MSG(strstr(out, "decide: 0 new, 0 changed, 6 unchanged, 0 proposed beside a review") !=
                  NULL, "output: %s", out);
    free(out);
    CHECK_INT(run_cli("decide --registry http://127.0.0.1:9 --as-of 2026-13-01", &out), 2);
    CHECK(strstr(out, "--as-of: '2026-13-01' is not a date") != NULL);
    free(out);
    /* plain http:// with client-certificate settings: refused, unless allowed outright */
    snprintf(args, sizeof args, "decide --registry %s --season 2026 --as-of 2026-10-05"
                                " --registry-user-id EE38001010000 --registry-tls-cert /no/cert.pem",
             base);
    CHECK_INT(run_cli(args, &out), 2);
    CHECK_MSG(strstr(out, "is plain http:// but client-certificate settings are given") != NULL,
              "output: %s", out);
    free(out);
    strncat(args, " --registry-allow-plain-http 1", sizeof args - strlen(args) - 1);
    CHECK_INT(run_cli(args, &out), 0);
    CHECK_MSG(strstr(out, "claims travel in cleartext") != NULL, "output: %s", out);
    free(out);
}

/* A login role that has mowcheck_inspector only: reads cases and decisions, records
 * reviews, cannot change a decision. */
static void test_inspector_login(PGconn *c)
{
    char q[400], login[64];
    snprintf(login, sizeof login, "decide_insp_%ld", (long)getpid());
    snprintf(q, sizeof q, "DROP ROLE IF EXISTS %s", login);
    sql(c, q);
    snprintf(q, sizeof q, "CREATE ROLE %s LOGIN IN ROLE mowcheck_inspector", login);
    sql(c, q);
    snprintf(q, sizeof q, "INSERT INTO inspector_logins VALUES ('%s', 'INSP-10')", login);
    sql(c, q);
    char dsn[600];
    snprintf(dsn, sizeof dsn, "host=%s dbname=%s user=%s", getenv("MOWCHECK_TEST_PGHOST"),
             db_name, login);
    PGconn *ic = PQconnectdb(dsn);
    REQUIRE(PQstatus(ic) == CONNECTION_OK);
    char c4[CASENUM_MAX];
    expected_case(3, c4);
    CHECK_INT(db_count(ic, "SELECT count(*) FROM decisions WHERE is_current AND claim_id = 'C-4'"), 1);
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'not_mowed', 'INSP-10', 'seen')", c4);
    sql(ic, q);
    CHECK(refused(ic, "UPDATE decisions SET outcome = 'approved' WHERE claim_id = 'C-5'",
                  "permission denied"));
    CHECK(refused(ic, "DELETE FROM audit_log", "permission denied"));
    PQfinish(ic);
    /* mowcheck itself opens the up-to-date database as the inspector (no DDL needed). */
    store_options opt = {.dsn = dsn};
    store *as_inspector = NULL;
    int opened = store_open(&opt, &as_inspector);
    CHECK_MSG(opened == MC_OK, "store_open as inspector: %s", mc_error_message());
    if (opened == MC_OK)
        store_close(as_inspector);
    snprintf(q, sizeof q, "DROP OWNED BY %s; DROP ROLE %s", login, login);
    sql(c, q);
}

/* Hostile review texts: non-UTF-8 is refused with a message, a long note with
 * quotes, commas, newlines and escape sequences is stored as it is, shown on the
 * terminal without control characters and quoted in the feed. */
static void test_hostile_review(store *st)
{
    char c4[CASENUM_MAX], args[128], *out = NULL;
    expected_case(3, c4);
    CHECK(store_review_add(st, c4, "mowed", "INSP-11", "bad \xff\xfe bytes") != MC_OK);
    CHECK(strstr(mc_error_message(), "invalid byte sequence") != NULL);
    size_t n = 20000;
    char *note = malloc(n + 64);
    REQUIRE(note != NULL);
    strcpy(note, "x'); DROP TABLE reviews; --, \"quoted\"\n\x1b[31mred\x1b[0m\t");
    size_t len = strlen(note);
    memset(note + len, 'n', n - len);
    note[n] = '\0';
    REQUIRE(store_review_supersede(st, c4, "needs_visit", "INSP-'11", note, "visit first") ==
            MC_OK);
    snprintf(args, sizeof args, "case %s", c4);
    CHECK_INT(run_cli(args, &out), 0);
    CHECK(strstr(out, "\x1b") == NULL);
    CHECK(strstr(out, "needs a field visit, by inspector INSP-'11") != NULL);
    CHECK(strstr(out, "x'); DROP TABLE reviews; --, \"quoted\"??[31mred?[0m?nnnn") != NULL);
    free(out);
    char *csv = export_text(st);
    CHECK(strstr(csv, ",needs_visit,\"Reviewed by inspector INSP-'11 on ") != NULL);
    /* control characters of the note become '?' in the feed: one line per decision */
    CHECK(strstr(csv, "x'); DROP TABLE reviews; --, \"\"quoted\"\"??[31mred?[0m?nnn") != NULL);
    CHECK(strchr(csv, '\x1b') == NULL);
    free(csv);
    free(note);
}

/* The detector saw a plausible candidate without an event (no_event_unconfirmed):
 * the classifier is unsure, so the not_mowed flag becomes inconclusive; the claim
 * keeps its case number. */
static void test_unconfirmed(store *st, PGconn *c, const registry_config *reg)
{
    sql(c, "UPDATE parcel_seasons SET reason = 'no_event_unconfirmed', sufficient = false"
           " WHERE parcel_id = 'P-''; DROP TABLE decisions; --'");
    decide_stage_summary s = run_decide(st, reg);
    CHECK_INT(s.n_changed, 1);
    check_outcome(c, hostile_claim, "inconclusive/unsure");
    char c6[CASENUM_MAX];
    expected_case(4, c6);
    char *num = value(c, "SELECT case_number FROM cases WHERE parcel_id LIKE 'P-''; DROP%'");
    CHECK_STR(num, c6);
    free(num);
}

static void test_case_cli(void)
{
    char c3[CASENUM_MAX], args[256], *out = NULL;
    expected_case(2, c3);
    snprintf(args, sizeof args, "case %s", c3);
    int code = run_cli(args, &out);
    CHECK_INT(code, 0);
    CHECK(strstr(out, "P-EDGE") != NULL);
    CHECK(strstr(out, "outcome:   inconclusive") != NULL);
    /* the evidence of the reviewed decision: the event as it was when decided */
    CHECK(strstr(out, "mowing on about 2026-06-01 (between 2026-05-27 and 2026-06-06), "
                      "confidence 0.97, across the start of the window") != NULL);
    CHECK(strstr(out, "review 1:  mowed, by inspector INSP-7") != NULL);
    CHECK(strstr(out, "later run: would now decide not mowed") != NULL);
    free(out);
    /* lower-case prefix and spaces are accepted */
    char lower[64];
    snprintf(lower, sizeof lower, "case ' mc%s '", c3 + 2);
    code = run_cli(lower, &out);
    CHECK_INT(code, 0);
    free(out);
    /* one digit of the serial mistyped: refused by the check digits, exit 2 */
    char typo[CASENUM_MAX];
    snprintf(typo, sizeof typo, "%s", c3);
    typo[12] = typo[12] == '2' ? '3' : '2';
    snprintf(args, sizeof args, "case %s", typo);
    code = run_cli(args, &out);
    CHECK_INT(code, 2);
    CHECK_MSG(strstr(out, "the check digits do not match") != NULL, "output: %s", out);
    free(out);
    code = run_cli("case MC-2026-000099-00x", &out);
    CHECK_INT(code, 2);
    free(out);
    /* a well-formed number that no case has */
    char none[CASENUM_MAX];
    expected_case(99, none);
    snprintf(args, sizeof args, "case %s", none);
    code = run_cli(args, &out);
    CHECK_INT(code, 2);
    CHECK(strstr(out, "no such case") != NULL);
    free(out);
    /* review through the CLI; a mistyped number records nothing */
    snprintf(args, sizeof args, "review %s --verdict not_mowed --inspector INSP-8 --note 'x'", typo);
    CHECK_INT(run_cli(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "review %s --verdict maybe --inspector INSP-8 --note x", c3);
    CHECK_INT(run_cli(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "review %s --verdict needs_visit --inspector INSP-8 "
                                "--note 'field visit: cows on it' --supersede 'orthophoto "
                                "too old'", c3);
    CHECK_INT(run_cli(args, &out), 0);
    free(out);
    /* export decisions through the CLI shows the latest verdict */
    CHECK_INT(run_cli("export decisions", &out), 0);
    CHECK(strstr(out, ",inconclusive,") != NULL && strstr(out, ",needs_visit,\"Reviewed by "
                                                              "inspector INSP-8") != NULL);
    free(out);
}

/* Registry faults: error outcomes, never a flag, no case numbers; decisions of
 * earlier runs are kept; the next good run decides. */
static void test_faults(void)
{
    db_create("decide_faults");
    store *st = db_store();
    PGconn *c = db_connect();
    load_evidence(c);
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *bad_args[] = {"--claims", claims, "--fault", "server-error", NULL};
    srv bad;
    REQUIRE(srv_spawn(&bad, registry_bin, bad_args, 0) == 0);
    registry_config reg = client_config(bad.base);
    reg.max_attempts = 2;
    reg.backoff_ms = 1;
    decide_stage_summary s = run_decide(st, &reg);
    CHECK_INT(s.n_failed_parcels, N_PARCELS);
    CHECK_INT(s.n_claims, 0);
    CHECK_INT(s.n_outcome[DECIDE_ERROR], N_PARCELS);
    CHECK_INT(s.n_cases, 0);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE is_current AND outcome = 'error'"
                          " AND claim_id IS NULL"), N_PARCELS);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE outcome <> 'error'"), 0);
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases"), 0);
    /* every attempt is in the audit log: 2 attempts of one batch */
    CHECK_INT(db_count(c, "SELECT count(*) FROM audit_log WHERE error_type IS NOT NULL"), 2);
    /* the feed shows the errors, without a case number */
    char *csv = export_text(st);
    if (getenv("DECIDE_TEST_DUMP"))
        fputs(csv, stderr);
    CHECK(strstr(csv, "\n,P-APPROVED,2026,error,,,The parcel's claims could not be fetched: "
                      "registry: request ") != NULL);
    free(csv);
    /* a rerun with the same fault changes nothing */
    s = run_decide(st, &reg);
    CHECK_INT(s.n_unchanged, N_PARCELS);
    srv_cleanup(&bad);

    const char *good_args[] = {"--claims", claims, NULL};
    srv good;
    REQUIRE(srv_spawn(&good, registry_bin, good_args, 0) == 0);
    registry_config ok = client_config(good.base);
    s = run_decide(st, &ok);
    CHECK_INT(s.n_failed_parcels, 0);
    CHECK_INT(s.n_cases, 4);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE is_current AND claim_id IS NULL"),
              1); /* P-NOCLAIM: no claim came, its error stays until the registry answers it */
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE is_current AND claim_id IS NULL"
                          " AND parcel_id = 'P-NOCLAIM'"), 1);
    check_outcome(c, "C-2", "not_mowed/too_few_mowings");
    srv_cleanup(&good);

    /* the registry fails again: the claims keep their decisions, nothing is flagged anew */
    srv bad2;
    REQUIRE(srv_spawn(&bad2, registry_bin, bad_args, 0) == 0);
    reg.base_url = bad2.base;
    s = run_decide(st, &reg);
    CHECK_INT(s.n_failed_parcels, N_PARCELS);
    CHECK_INT(s.n_kept, 6);
    CHECK_INT(s.n_outcome[DECIDE_ERROR], 1); /* P-NOCLAIM, unchanged */
    check_outcome(c, "C-1", "approved/enough_mowings");
    check_outcome(c, "C-2", "not_mowed/too_few_mowings");
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases"), 4);
    srv_cleanup(&bad2);
    PQfinish(c);
    store_close(st);
    db_drop();
}

/* ---- a night with bad data: no claim lost, no night stopped ---- */

#define LONG_PARCEL "P-LONG-" \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* The parcel set holds every kind of trouble (see claims-bad-night.csv): a parcel
 * too small to observe (a member without a pixel), a refused geometry, one that
 * another covers, a claim id given for two parcels, a claim with a window date that
 * is no date beside a good claim of the same parcel, a window in another year, a
 * 200-byte parcel id. */
static void load_bad_night(PGconn *c)
{
    seed_observations(c, "('P-OK'), ('P-OVER'), ('P-DUPA'), ('P-DUPB'), ('P-BADWIN'),"
                         " ('P-YEAR'), ('" LONG_PARCEL "'), ('-P-FORMULA'), ('P-BIG'), ('P-NOCLAIM')");
    sql(c, "INSERT INTO parcel_set_members SELECT 'h1', p, NULL FROM tp");
    sql(c, "INSERT INTO parcel_set_members VALUES ('h1', 'P-SMALL', NULL),"
           " ('h1', 'P-GEOM', 'has an invalid geometry (Self-intersection[500150 6499870])')");
    sql(c, "INSERT INTO parcel_overlaps VALUES ('h1', 'P-OVER', 'P-OK', 0.8),"
           " ('h1', 'P-BIG', 'P-DUPA', 0.06), ('h1', 'P-BIG', 'P-DUPB', 0.07),"
           " ('h1', 'P-YEAR', 'P-DUPA', 0.06), ('h1', 'P-YEAR', 'P-DUPB', 0.07)");
    sql(c, "INSERT INTO parcel_seasons SELECT p, 2026, 38, true,"
           " CASE WHEN p = 'P-OK' THEN 0.98 ELSE 0.01 END,"
           " CASE WHEN p = 'P-OK' THEN 'confident_event' ELSE 'no_event_covered' END,"
           " 'model-test@1', NULL FROM tp");
    sql(c, "INSERT INTO events VALUES"
           " ('P-OK', 2026, '2026-06-15', '2026-06-25', '2026-06-20', 0.98, 'model-test@1', NULL),"
           " ('P-OVER', 2026, '2026-06-15', '2026-06-25', '2026-06-20', 0.98, 'model-test@1', NULL)");
}

/* The nightly invariant, from the registry's side: every claim it holds for a
 * parcel of the set has exactly one current decision, and the feed has one row per
 * claim plus one per parcel whose claims failed as a whole. */
static void check_invariant(PGconn *c, store *st, const char *claims_csv)
{
    FILE *f = fopen(claims_csv, "r");
    REQUIRE(f != NULL);
    char line[1024];
    int n_claims = 0;
    REQUIRE(fgets(line, sizeof line, f) != NULL); /* header */
    const char *seen[64];
    while (fgets(line, sizeof line, f) && n_claims < 64) {
        char *comma = strchr(line, ','), *parcel = comma + 1, *end = strchr(parcel, ',');
        *comma = *end = '\0';
        if (strcmp(parcel, "P-NOTINSET") == 0)
            continue; /* not a parcel of ours: never asked, never answered */
        int dup = 0;
        for (int i = 0; i < n_claims; i++)
            dup |= strcmp(seen[i], line) == 0;
        if (dup)
            continue;
        seen[n_claims++] = strdup(line);
        char q[1200];
        snprintf(q, sizeof q, "SELECT count(*) FROM decisions WHERE claim_id = '%s'"
                              " AND season = 2026 AND is_current", line);
        CHECK_MSG(db_count(c, q) == 1, "claim %s: %ld current decisions", line, db_count(c, q));
    }
    fclose(f);
    char *csv = export_text(st);
    int rows = -1; /* the header */
    for (const char *p = csv; *p; p++)
        rows += *p == '\n';
    long parcel_errors = db_count(c, "SELECT count(*) FROM decisions WHERE is_current"
                                     " AND claim_id IS NULL AND season = 2026");
    CHECK_INT(rows, n_claims + parcel_errors);
    for (int i = 0; i < n_claims; i++)
        free((char *)seen[i]);
    free(csv);
}

static char *reason_of(PGconn *c, const char *claim)
{
    char q[300];
    snprintf(q, sizeof q, "SELECT reason_text FROM decisions WHERE claim_id = '%s' AND is_current",
             claim);
    return value(c, q);
}

static void check_reason(PGconn *c, const char *claim, const char *needle)
{
    char *r = reason_of(c, claim);
    CHECK_MSG(strstr(r, needle) != NULL, "claim %s: reason '%s' lacks '%s'", claim, r, needle);
    free(r);
}

static void test_bad_night(void)
{
    db_create("decide_night");
    store *st = db_store();
    PGconn *c = db_connect();
    load_bad_night(c);
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims-bad-night.csv", data_dir);
    const char *args[] = {"--claims", claims, "--unchecked-data", NULL};
    srv s;
    REQUIRE(srv_spawn(&s, registry_bin, args, 0) == 0);
    registry_config reg = client_config(s.base);
    reg.max_parcels = 1; /* one parcel a batch: C-DUP comes in two batches */
    decide_stage_summary sum = run_decide(st, &reg);
    /* item 1: asked about every parcel of the set, also those without a pixel */
    CHECK_INT(sum.n_parcels, 12);
    check_outcome(c, "C-OK", "approved/enough_mowings");
    check_outcome(c, "C-SMALL", "inconclusive/no_observations");
    check_reason(c, "C-SMALL", "Too small to observe");
    /* ... but while its window is open it waits like any claim: its tile may come later */
    check_outcome(c, "C-SMALL-LATE", "pending/window_open");
    check_outcome(c, "C-GEOM", "inconclusive/no_observations");
    check_reason(c, "C-GEOM", "Geometry refused: the parcel has an invalid geometry "
                              "(Self-intersection");
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases WHERE claim_id IN ('C-SMALL', 'C-GEOM')"), 2);
    /* item 2: the parcel another covers is for a person, whatever its events say */
    check_outcome(c, "C-OVER", "inconclusive/no_observations");
    check_reason(c, "C-OVER", "overlaps parcel P-OK: 80% of its area");
    char *kind = value(c, "SELECT reason_json->'unobservable'->>'kind' FROM decisions"
                          " WHERE claim_id = 'C-OVER'");
    CHECK_STR(kind, "overlap");
    free(kind);
    /* item 3: one claim id for two parcels is an error for the claim and both parcels */
    check_outcome(c, "C-DUP", "error/failure");
    check_reason(c, "C-DUP", "claim C-DUP came for more than one parcel in one night "
                             "(P-DUPA, P-DUPB)");
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE is_current AND claim_id IS NULL"
                          " AND parcel_id = 'P-DUPB' AND outcome = 'error'"), 1);
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases WHERE claim_id = 'C-DUP'"), 0);
    /* item 8: the bad claim alone is an error naming the field; its neighbour is decided */
    check_outcome(c, "C-BADWIN", "error/failure");
    check_reason(c, "C-BADWIN", "window_end '2026-02-30' is not a date");
    check_outcome(c, "C-BADWIN-OK", "not_mowed/too_few_mowings");
    /* a parcel that loses a little to each of several parcels, more in all */
    check_outcome(c, "C-BIG", "inconclusive/no_observations");
    check_reason(c, "C-BIG", "overlaps parcel P-DUPB and 1 other: 13% of its area is also in "
                             "other parcels");
    /* item 10: a window in another year than the season (an error before any overlap) */
    check_outcome(c, "C-YEAR", "error/bad_claim");
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases WHERE claim_id = 'C-YEAR'"), 0);
    /* item 9: a 200-byte parcel id is asked about and decided */
    check_outcome(c, "C-LONG", "not_mowed/too_few_mowings");
    /* item 16: ids a spreadsheet would take for formulas are guarded in the feed */
    check_outcome(c, "@C-FORMULA", "not_mowed/too_few_mowings");
    char *feed = export_text(st);
    CHECK_MSG(strstr(feed, "\n'@C-FORMULA,'-P-FORMULA,2026,not_mowed,") != NULL, "%s", feed);
    CHECK(strstr(feed, "\n@C-FORMULA") == NULL);
    free(feed);
    CHECK(sum.n_failed_parcels >= 3); /* the run says it needs attention */
    check_invariant(c, st, claims);
    /* a second night on the same data changes nothing */
    sum = run_decide(st, &reg);
    CHECK_INT(sum.n_new + sum.n_changed, 0);
    check_invariant(c, st, claims);
    srv_cleanup(&s);
    PQfinish(c);
    store_close(st);
    db_drop();
}

/* A night of more claims than decide records at a time (store_decisions_put_claims
 * takes them in batches of 256): every claim gets its decision and every flag its own
 * case; a claim the server refuses in the middle of a batch fails the night naming
 * that claim, leaves nothing half-written, and the next night records them all. */
static void test_many_claims(void)
{
    enum { N = 600 };
    db_create("decide_many");
    store *st = db_store();
    PGconn *c = db_connect();
    char values[N * 12], *v = values;
    for (int i = 1; i <= N; i++)
        v += sprintf(v, "%s('P-%04d')", i > 1 ? ", " : "", i);
    seed_observations(c, values);
    /* every parcel mowed on 06-20 with confidence 0.98, except every third: nothing seen */
    sql(c, "INSERT INTO parcel_seasons SELECT p, 2026, 38, true, 0.98, 'confident_event',"
           " 'model-test@1', NULL FROM tp");
    sql(c, "INSERT INTO events SELECT p, 2026, '2026-06-15', '2026-06-25', '2026-06-20', 0.98,"
           " 'model-test@1', NULL FROM tp WHERE substr(p, 3)::int % 3 <> 0");
    char claims[] = "/tmp/mowcheck-many-claims-XXXXXX";
    int fd = mkstemp(claims);
    REQUIRE(fd >= 0);
    FILE *f = fdopen(fd, "w");
    REQUIRE(f != NULL);
    fprintf(f, "claim_id,parcel_id,season,applicant,scheme,window_start,window_end,min_mowings,"
               "declared_area_ha\n");
    for (int i = 1; i <= N; i++)
        fprintf(f, "C-%04d,P-%04d,2026,AP-%04d,GRASS-1CUT,2026-06-01,2026-08-31,1,1.0\n", i, i, i);
    REQUIRE(fclose(f) == 0);
    const char *args[] = {"--claims", claims, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, registry_bin, args, 0) == 0);
    registry_config reg = client_config(s.base);

    sql(c, "CREATE FUNCTION refuse_c0450() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
           " IF NEW.claim_id = 'C-0450' THEN RAISE EXCEPTION 'refused for the test'; END IF;"
           " RETURN NEW; END $$");
    sql(c, "CREATE TRIGGER refuse_c0450 BEFORE INSERT ON decisions FOR EACH ROW"
           " EXECUTE FUNCTION refuse_c0450()");
    decide_stage_options o = options(&reg);
    REQUIRE(store_run_begin(st, "decide", &o.run_id) == MC_OK);
    decide_stage_summary sum;
    CHECK_INT(decide_stage_run(st, &o, &sum), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "claim C-0450") != NULL, "%s", mc_error_message());
    CHECK_MSG(strstr(mc_error_message(), "refused for the test") != NULL, "%s",
              mc_error_message());
    REQUIRE(store_run_end(st, o.run_id, "failed", NULL) == MC_OK);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions"), 0);
    CHECK_INT(db_count(c, "SELECT count(*) FROM cases"), 0);

    sql(c, "DROP TRIGGER refuse_c0450 ON decisions");
    sum = run_decide(st, &reg);
    CHECK_INT(sum.n_new, N);
    CHECK_INT(sum.n_outcome[DECIDE_APPROVED], N - N / 3);
    CHECK_INT(sum.n_outcome[DECIDE_NOT_MOWED], N / 3);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions WHERE is_current"), N);
    CHECK_INT(db_count(c, "SELECT count(*) FROM decisions d JOIN cases k USING (claim_id, season)"
                          " WHERE d.is_current AND d.outcome = 'not_mowed'"
                          " AND substr(d.claim_id, 3)::int % 3 = 0"), N / 3);
    CHECK_INT(db_count(c, "SELECT max(serial) FROM cases"), N / 3);
    CHECK_INT(db_count(c, "SELECT count(DISTINCT serial) FROM cases"), N / 3);
    CHECK_INT(db_count(c, "SELECT last_serial FROM case_serials WHERE season = 2026"), N / 3);
    /* the same night again writes nothing */
    sum = run_decide(st, &reg);
    CHECK_INT(sum.n_unchanged, N);
    CHECK_INT(sum.n_cases, N / 3);
    srv_cleanup(&s);
    unlink(claims);
    PQfinish(c);
    store_close(st);
    db_drop();
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 4);
    registry_bin = argv[1];
    mowcheck_bin = argv[2];
    data_dir = argv[3];
    db_create("decide_store");
    store *st = db_store();
    PGconn *c = db_connect();
    load_evidence(c);
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, registry_bin, args, 0) == 0);
    registry_config reg = client_config(s.base);

    test_first_run(st, c, &reg);
    test_rerun_same(st, c, &reg);
    test_change(st, c, &reg);
    test_review_freezes(st, c, &reg);
    test_export(st);
    test_roles(c);
    test_unconfirmed(st, c, &reg);
    test_case_cli();
    test_decide_cli(c, s.base);
    test_inspector_login(c);
    test_hostile_review(st);

    srv_cleanup(&s);
    PQfinish(c);
    store_close(st);
    db_drop();
    test_faults();
    test_bad_night();
    test_many_claims();
    return test_summary();
}
