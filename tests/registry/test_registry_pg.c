/* mowcheck-registry serving claims from a PostgreSQL table (the suite's
 * throwaway cluster; this test makes and drops its own database): the same
 * answers as from CSV, the same validation (a bad row refuses to start). */
#include <jansson.h>
#include <libpq-fe.h>

#include "harness.h"

static const char *binary;
static char admin_dsn[512], dsn[512], dbname[64];

static int exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "SQL failed: %s\n%s\n", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static void create_tables(void)
{
    PGconn *c = PQconnectdb(dsn);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    REQUIRE(exec(c, "CREATE SCHEMA registry"));
    REQUIRE(exec(c, "CREATE TABLE registry.claims (claim_id text PRIMARY KEY, parcel_id text "
                    "NOT NULL, season int, applicant text, scheme text, window_start date, "
                    "window_end date, min_mowings int, declared_area_ha numeric, "
                    "registered_by text)"));
    REQUIRE(exec(c, "INSERT INTO registry.claims VALUES "
                    "('C-1', 'EE-0001', 2026, 'APP-1', 'basic', '2026-06-01', '2026-08-31', 2, "
                    "1.25, 'clerk'), "
                    "('C-2', 'EE-0002', 2026, 'APP-2', 'coastal', '2026-07-15', '2026-09-30', "
                    "NULL, 0.4, 'clerk'), "
                    "('C-3', 'EE-0001', 2025, 'APP-1', 'basic', '2025-06-01', '2025-08-31', 1, "
                    "1.25, 'clerk'), "
                    "('C-4', 'x''; DROP TABLE registry.claims; --', 2026, 'APP-4', 'basic', "
                    "'2026-06-01', '2026-08-31', 1, 3, 'clerk')"));
    /* A second table whose third row breaks the rules. */
    REQUIRE(exec(c, "CREATE TABLE bad_claims AS SELECT * FROM registry.claims"));
    REQUIRE(exec(c, "UPDATE bad_claims SET min_mowings = 0 WHERE claim_id = 'C-3'"));
    PQfinish(c);
}

static json_t *ask(const srv *s, const char *query)
{
    char url[700];
    snprintf(url, sizeof url, "%s/r1/EE/GOV/70000000/registry/claims?%s", s->base, query);
    const char *hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck", NULL};
    http_resp r;
    http_get(&r, url, hdr);
    CHECK_INT(r.status, 200);
    json_t *b = json_loads(r.body, 0, NULL);
    http_free(&r);
    return b;
}

static void test_serve_from_table(void)
{
    const char *args[] = {"--claims-db", dsn, "--claims-table", "registry.claims", NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    json_t *b = ask(&s, "season=2026&parcel=EE-0002&parcel=EE-0001&parcel=EE-0003");
    json_t *claims = json_object_get(b, "claims");
    CHECK_INT(json_array_size(claims), 2);
    json_t *c2 = json_array_get(claims, 0), *c1 = json_array_get(claims, 1);
    CHECK_STR(json_string_value(json_object_get(c2, "claim_id")), "C-2");
    CHECK_STR(json_string_value(json_object_get(c2, "window_start")), "2026-07-15");
    CHECK_INT(json_integer_value(json_object_get(c2, "min_mowings")), 1); /* NULL -> 1 */
    CHECK_NEAR(json_number_value(json_object_get(c2, "declared_area_ha")), 0.4, 1e-12);
    CHECK_STR(json_string_value(json_object_get(c1, "claim_id")), "C-1");
    CHECK_INT(json_integer_value(json_object_get(c1, "season")), 2026);
    CHECK_INT(json_integer_value(json_object_get(c1, "min_mowings")), 2);
    CHECK(json_object_get(c1, "registered_by") == NULL); /* only the claim fields */
    json_decref(b);
    /* A hostile parcel id is only data. */
    b = ask(&s, "season=2026&parcel=x%27%3B%20DROP%20TABLE%20registry.claims%3B%20--");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(b, "claims"), 0),
                                                "claim_id")), "C-4");
    json_decref(b);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

static void test_refusals(void)
{
    char *err = NULL;
    const char *bad[] = {"--claims-db", dsn, "--claims-table", "bad_claims", "--listen",
                         "127.0.0.1:0", NULL};
    CHECK_INT(run_to_end(binary, bad, &err), 3);
    CHECK_MSG(strstr(err, "table bad_claims, row 3 (claim_id C-3): min_mowings: 0 is outside"),
              "stderr: %s", err);
    free(err);
    const char *missing[] = {"--claims-db", dsn, "--claims-table", "nope\"; DROP", "--listen",
                             "127.0.0.1:0", NULL};
    CHECK_INT(run_to_end(binary, missing, &err), 3);
    CHECK_MSG(strstr(err, "does not exist"), "stderr: %s", err);
    free(err);
    char no_db[600];
    snprintf(no_db, sizeof no_db, "%s_missing", dsn);
    const char *unreachable[] = {"--claims-db", no_db, "--listen", "127.0.0.1:0", NULL};
    CHECK_INT(run_to_end(binary, unreachable, &err), 3);
    CHECK_MSG(strstr(err, "claims database: cannot connect"), "stderr: %s", err);
    free(err);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s BINARY (env MOWCHECK_TEST_PGHOST)\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    const char *host = getenv("MOWCHECK_TEST_PGHOST");
    if (!host || !*host)
        TEST_SKIP("MOWCHECK_TEST_PGHOST not set (run through ctest)");
    snprintf(admin_dsn, sizeof admin_dsn, "host=%s dbname=postgres user=postgres", host);
    snprintf(dbname, sizeof dbname, "registry_test_%ld", (long)getpid());
    snprintf(dsn, sizeof dsn, "host=%s user=postgres dbname=%s", host, dbname);
    PGconn *admin = PQconnectdb(admin_dsn);
    REQUIRE(PQstatus(admin) == CONNECTION_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    REQUIRE(exec(admin, sql));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    create_tables();
    test_serve_from_table();
    test_refusals();
    curl_global_cleanup();
    snprintf(sql, sizeof sql, "DROP DATABASE %s", dbname);
    CHECK(exec(admin, sql));
    PQfinish(admin);
    return test_summary();
}
