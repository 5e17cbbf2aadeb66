/* Registry client against every fault switch of mowcheck-registry, and against
 * answers the real service never gives (invalid claims, from the capture server):
 * the right parcels fail, the right number of attempts is made (and audited, one
 * row each, with the error type), retries back off, and no claim is invented.
 *
 * usage: test_client_faults REGISTRY_BINARY DATA_DIR   (MOWCHECK_TEST_PGHOST set) */
#include "client_test.h"

static const char *binary, *data_dir;
static store *st;
static PGconn *pg;

static const char *const parcels[] = {"EE-0001", "EE-0002", "EE-0003"};

typedef struct outcome {
    int rc;
    size_t n_claims, n_failed;
    size_t n_valid;     /* claims without an `invalid` reason */
    char invalid[300];  /* the first invalid claim's reason */
    long rows;          /* audit rows of this issue */
    long rows_typed;    /* ... with the expected error type */
    double elapsed_ms;
    char failure[512];
} outcome;

/* One fetch of the three parcels (issue names the case); counts its audit rows. */
static outcome fetch(const registry_config *c, const char *issue, const char *error_type)
{
    outcome o;
    registry_answer a;
    double t0 = now_ms();
    o.rc = registry_fetch_claims(c, st, 0, issue, "fault test", 2026, parcels, 3, &a);
    o.elapsed_ms = now_ms() - t0;
    o.n_claims = a.n_claims;
    o.n_failed = a.n_failed;
    o.n_valid = 0;
    o.invalid[0] = '\0';
    for (size_t i = 0; i < a.n_claims; i++) {
        o.n_valid += a.claims[i].invalid[0] == '\0';
        if (a.claims[i].invalid[0] && !o.invalid[0])
            snprintf(o.invalid, sizeof o.invalid, "%s", a.claims[i].invalid);
    }
    snprintf(o.failure, sizeof o.failure, "%s", a.failure);
    if (a.n_failed == 3)
        CHECK(has_parcel(&a, "EE-0001") && has_parcel(&a, "EE-0002") &&
              has_parcel(&a, "EE-0003"));
    registry_answer_free(&a);
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE issue = '%s'", issue);
    o.rows = db_count(pg, sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE issue = '%s' AND error_type = '%s'"
             " AND claim_ids = '{}' AND error_message LIKE '%%' || x_road_id || '%%'",
             issue, error_type ? error_type : "");
    o.rows_typed = db_count(pg, sql);
    return o;
}

static void with_fault(srv *s, const char *fault, const char *rate, const char *delay_ms)
{
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[12] = {"--claims", claims, "--fault", fault};
    int n = 4;
    if (rate) {
        args[n++] = "--fault-rate";
        args[n++] = rate;
    }
    if (delay_ms) {
        args[n++] = "--delay-ms";
        args[n++] = delay_ms;
    }
    args[n] = NULL;
    REQUIRE(srv_spawn(s, binary, args, 0) == 0);
}

/* Exchange-layer server errors: retried up to max_attempts, then the batch fails. */
static void test_server_errors(void)
{
    static const struct {
        const char *fault, *type;
    } cases[] = {{"server-error", "Server.ServerProxy.InternalError"},
                 {"access-denied", "Server.ServerProxy.AccessDenied"}};
    for (int i = 0; i < 2; i++) {
        srv s;
        with_fault(&s, cases[i].fault, NULL, NULL);
        registry_config c = client_config(s.base);
        c.max_attempts = 3;
        c.backoff_ms = 100;
        outcome o = fetch(&c, cases[i].fault, cases[i].type);
        CHECK_INT(o.rc, MC_OK);
        CHECK_INT(o.n_claims, 0);
        CHECK_INT(o.n_failed, 3);
        CHECK_INT(o.rows, 3);
        CHECK_INT(o.rows_typed, 3);
        CHECK(o.elapsed_ms >= 100 + 200); /* backoff 100 ms, then 200 ms */
        CHECK(strstr(o.failure, cases[i].type) != NULL);
        CHECK_INT(srv_log_count(&s, "/claims?", 3), 3);
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE issue = '%s' AND "
                 "http_status = 500 AND request_id IS NOT NULL AND response_x_road_id = x_road_id"
                 " AND request_hash_ok",
                 cases[i].fault);
        CHECK_INT(db_count(pg, sql), 3);
        snprintf(sql, sizeof sql, "SELECT string_agg(attempt::text, ',' ORDER BY id) FROM "
                 "audit_log WHERE issue = '%s'", cases[i].fault);
        PGresult *r = db_rows(pg, sql);
        CHECK_STR(PQgetvalue(r, 0, 0), "1,2,3");
        PQclear(r);
        srv_cleanup(&s);
    }
}

/* Every second request fails: the retry succeeds and nothing is lost or doubled. */
static void test_intermittent(void)
{
    srv s;
    with_fault(&s, "server-error", "2", NULL);
    registry_config c = client_config(s.base);
    c.max_parcels = 2; /* two batches: ok; fail + ok */
    outcome o = fetch(&c, "intermittent", "Server.ServerProxy.InternalError");
    CHECK_INT(o.rc, MC_OK);
    CHECK_INT(o.n_claims, 3);
    CHECK_INT(o.n_failed, 0);
    CHECK_INT(o.rows, 3);
    CHECK_INT(o.rows_typed, 1);
    /* Request 1 (EE-0001, EE-0002: 3 claims) answered; request 2 (EE-0003) failed;
     * its retry, request 3, answered (no claim for EE-0003). */
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'intermittent' AND "
                           "error_type IS NULL"), 2);
    CHECK_INT(db_count(pg, "SELECT sum(cardinality(claim_ids)) FROM audit_log WHERE "
                           "issue = 'intermittent'"), 3);
    srv_cleanup(&s);
}

static void test_timeouts(void)
{
    srv s;
    with_fault(&s, "timeout", NULL, NULL);
    registry_config c = client_config(s.base);
    c.timeout_ms = 300;
    c.max_attempts = 2;
    outcome o = fetch(&c, "timeout", "timeout");
    CHECK_INT(o.rc, MC_OK);
    CHECK_INT(o.n_claims, 0);
    CHECK_INT(o.n_failed, 3);
    CHECK_INT(o.rows, 2);
    CHECK_INT(o.rows_typed, 2);
    CHECK(o.elapsed_ms >= 2 * 300);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'timeout' AND "
                           "http_status IS NULL AND duration_ms >= 290 AND request_hash IS NULL"
                           " AND request_hash_ok IS NULL"), 2);
    srv_cleanup(&s);

    /* A slow answer within the timeout is an answer; beyond it, a timeout. */
    with_fault(&s, "delay", NULL, "400");
    c = client_config(s.base);
    c.timeout_ms = 3000;
    o = fetch(&c, "delay-ok", "");
    CHECK_INT(o.n_claims, 3);
    CHECK_INT(o.n_failed, 0);
    CHECK_INT(o.rows, 1);
    CHECK(o.elapsed_ms >= 400);
    c.timeout_ms = 150;
    c.max_attempts = 2;
    o = fetch(&c, "delay-late", "timeout");
    CHECK_INT(o.n_claims, 0);
    CHECK_INT(o.n_failed, 3);
    CHECK_INT(o.rows_typed, 2);
    srv_cleanup(&s);
}

/* The registry's own answers (no X-Road-Error) and a broken body. */
static void test_registry_answers(void)
{
    static const struct {
        const char *fault, *type;
        long attempts, status;
    } cases[] = {{"registry-404", "registry", 1, 404},
                 {"registry-500", "registry", 2, 500}, /* one retry at most */
                 {"malformed-json", "malformed", 1, 200}};
    for (int i = 0; i < 3; i++) {
        srv s;
        with_fault(&s, cases[i].fault, NULL, NULL);
        registry_config c = client_config(s.base);
        c.max_attempts = 4;
        outcome o = fetch(&c, cases[i].fault, cases[i].type);
        CHECK_INT(o.rc, MC_OK);
        CHECK_INT(o.n_claims, 0);
        CHECK_INT(o.n_failed, 3);
        CHECK_MSG(o.rows == cases[i].attempts, "%s: %ld rows", cases[i].fault, o.rows);
        CHECK_INT(o.rows_typed, cases[i].attempts);
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE issue = '%s' AND "
                 "http_status = %ld", cases[i].fault, cases[i].status);
        CHECK_INT(db_count(pg, sql), cases[i].attempts);
        srv_cleanup(&s);
    }
}

/* A client.* exchange error says our request is wrong: not retried. */
static void test_client_error(void)
{
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    registry_config c = client_config(s.base);
    c.service = "EE/GOV/79999999/registry"; /* a provider this server is not */
    c.max_attempts = 4;
    outcome o = fetch(&c, "client-error", "Client.UnknownMember");
    CHECK_INT(o.rc, MC_OK);
    CHECK_INT(o.n_claims, 0);
    CHECK_INT(o.n_failed, 3);
    CHECK_INT(o.rows, 1);
    CHECK_INT(o.rows_typed, 1);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'client-error' AND "
                           "http_status = 400"), 1);
    srv_cleanup(&s);
}

/* Nobody listening: connection failures, retried, then failed. */
static void test_connection_refused(void)
{
    srv s;
    with_fault(&s, "delay", NULL, "0");
    char base[128];
    snprintf(base, sizeof base, "%s", s.base);
    srv_cleanup(&s); /* the port is free again */
    registry_config c = client_config(base);
    c.max_attempts = 3;
    outcome o = fetch(&c, "refused", "connection");
    CHECK_INT(o.rc, MC_OK);
    CHECK_INT(o.n_failed, 3);
    CHECK_INT(o.rows_typed, 3);
}

/* Claims that fail validation (capture server), beside a valid claim of another
 * parcel: the bad claim alone is marked invalid, its reason naming the field, and
 * the valid one is kept; the attempt is a success in the audit log. A claim of a
 * parcel nobody asked about cannot be attributed: the batch fails. */
static void test_invalid_claims(void)
{
    static const char good[] =
        "{\"claim_id\": \"C-1\", \"parcel_id\": \"EE-0001\", \"season\": 2026, "
        "\"applicant\": \"APP-1\", \"scheme\": \"basic\", \"window_start\": \"2026-06-01\", "
        "\"window_end\": \"2026-08-31\", \"min_mowings\": 1, \"declared_area_ha\": 1.5";
    static const char other[] =
        "{\"claim_id\": \"C-2\", \"parcel_id\": \"EE-0002\", \"season\": 2026, "
        "\"applicant\": \"APP-2\", \"scheme\": \"basic\", \"window_start\": \"2026-06-01\", "
        "\"window_end\": \"2026-08-31\", \"min_mowings\": 1, \"declared_area_ha\": 2.5}";
    static const struct {
        const char *extra, *field;
    } cases[] = {
        {", \"window_end\": \"2026-05-31\"", "window_end"},
        {", \"window_start\": \"2026-02-30\"", "window_start"},
        {", \"window_end\": \"31.08.2026\"", "window_end"},
        {", \"min_mowings\": 0", "min_mowings"},
        {", \"season\": 2025", "season"},
        {", \"declared_area_ha\": \"big\"", "declared_area_ha"},
        {", \"applicant\": 17", "applicant"},
        {", \"scheme\": \"GRASS\\u001b[2J\\r\\n\"", "scheme"},
        {", \"parcel_id\": \"EE-0999\"", "parcel_id"},
    };
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    capture cp;
    capture_start(&cp);
    registry_config c = client_config(cp.base);
    for (size_t i = 0; i < N_CASES; i++) {
        /* The bad field comes after the good one: later keys would be duplicates,
         * so the good object is cut before that key instead. */
        char body[4096], obj[1024];
        snprintf(obj, sizeof obj, "%s", good);
        char key[64];
        snprintf(key, sizeof key, ", \"%s\"", cases[i].field);
        char *at = strstr(obj, key);
        if (at) {
            char *next = strstr(at + 2, ", \"");
            memmove(at, next ? next : at + strlen(at), strlen(next ? next : at + strlen(at)) + 1);
        }
        snprintf(body, sizeof body, "{\"claims\": [%s%s}, %s]}", obj, cases[i].extra, other);
        char *answer = capture_json_answer(&cp, body);
        char issue[64];
        snprintf(issue, sizeof issue, "invalid-%zu", i);
        int unattributable = strcmp(cases[i].field, "parcel_id") == 0;
        outcome o = fetch(&c, issue, unattributable ? "malformed" : "");
        CHECK_INT(o.rc, MC_OK);
        CHECK_INT(o.rows, 1);
        if (unattributable) {
            CHECK_INT(o.n_claims, 0);
            CHECK_INT(o.n_failed, 3);
            CHECK_INT(o.rows_typed, 1);
            CHECK_MSG(strstr(o.failure, "parcel EE-0999 was not asked for") &&
                          strstr(o.failure, "request "),
                      "case %zu: %s", i, o.failure);
        } else {
            CHECK_INT(o.n_claims, 2);
            CHECK_INT(o.n_valid, 1);
            CHECK_INT(o.n_failed, 0);
            CHECK_MSG(strstr(o.invalid, cases[i].field) && strstr(o.invalid, "claim C-1"),
                      "case %zu: %s", i, o.invalid);
        }
        free(answer);
    }
    /* The same object, valid: accepted (so the cases above fail for their field). */
    char body[2048];
    snprintf(body, sizeof body, "{\"claims\": [%s}]}", good);
    char *answer = capture_json_answer(&cp, body);
    outcome o = fetch(&c, "valid", "");
    CHECK_INT(o.n_claims, 1);
    CHECK_INT(o.n_valid, 1);
    CHECK_INT(o.n_failed, 0);
    free(answer);
    /* A claim without an id: its parcel fails alone, the other parcel's claim stays. */
    snprintf(body, sizeof body, "{\"claims\": [{\"parcel_id\": \"EE-0001\"}, %s]}", other);
    answer = capture_json_answer(&cp, body);
    o = fetch(&c, "no-id", "");
    CHECK_INT(o.n_claims, 1);
    CHECK_INT(o.n_failed, 1);
    CHECK_MSG(strstr(o.failure, "claim_id") != NULL, "%s", o.failure);
    free(answer);
    /* The same claim twice in one answer: both are handed on (decide makes the claim
     * an error, see tests/decide). */
    snprintf(body, sizeof body, "{\"claims\": [%s}, %s}]}", good, good);
    answer = capture_json_answer(&cp, body);
    o = fetch(&c, "twice", "");
    CHECK_INT(o.n_claims, 2);
    free(answer);
    capture_stop(&cp);
}

/* The circuit breaker: with the registry down, after breaker_failures failed
 * attempts in a row nothing more is asked; every parcel is failed, the rest
 * without a request. An isolated failure (every second request) never opens it. */
static void test_circuit_breaker(void)
{
    srv s;
    with_fault(&s, "server-error", NULL, NULL);
    registry_config c = client_config(s.base);
    c.max_parcels = 1;      /* three batches */
    c.max_attempts = 2;
    c.breaker_failures = 3; /* batch 1: 2 attempts; batch 2: 1, then the breaker opens */
    outcome o = fetch(&c, "breaker", "Server.ServerProxy.InternalError");
    CHECK_INT(o.rc, MC_OK);
    CHECK_INT(o.n_failed, 3);
    CHECK_INT(o.rows, 3); /* without the breaker: 3 batches x 2 attempts = 6 */
    CHECK_MSG(strstr(o.failure, "circuit breaker") && strstr(o.failure, "3 registry requests"),
              "%s", o.failure);
    CHECK_INT(srv_log_count(&s, "/claims?", 3), 3);
    srv_cleanup(&s);

    with_fault(&s, "server-error", "2", NULL);
    c = client_config(s.base);
    c.max_parcels = 1;
    c.breaker_failures = 2;
    o = fetch(&c, "breaker-isolated", "Server.ServerProxy.InternalError");
    CHECK_INT(o.n_failed, 0);
    CHECK_INT(o.rows_typed, 2); /* requests 2 and 4 failed, each retried at once */
    CHECK(!strstr(o.failure, "circuit breaker"));
    srv_cleanup(&s);
}

/* A password in the registry URL appears nowhere: not in the failure (which becomes
 * the decisions' reason) and not in the audit log. */
static void test_credentials_redacted(void)
{
    srv s;
    with_fault(&s, "delay", NULL, "0");
    char url[200];
    snprintf(url, sizeof url, "http://mowcheck:s3cr3t-pw@%s", s.base + strlen("http://"));
    srv_cleanup(&s); /* nobody listens: a connection failure names the URL */
    registry_config c = client_config(url);
    c.max_attempts = 1;
    outcome o = fetch(&c, "redacted", "connection");
    CHECK_INT(o.n_failed, 3);
    CHECK_MSG(!strstr(o.failure, "s3cr3t") && strstr(o.failure, "http://***@127.0.0.1"), "%s",
              o.failure);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'redacted'"), 1);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE audit_log::text LIKE '%s3cr3t%'"),
              0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s REGISTRY_BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    data_dir = argv[2];
    db_create("client_faults");
    st = db_store();
    pg = db_connect();
    test_server_errors();
    test_intermittent();
    test_timeouts();
    test_registry_answers();
    test_client_error();
    test_connection_refused();
    test_invalid_claims();
    test_circuit_breaker();
    test_credentials_redacted();
    PQfinish(pg);
    store_close(st);
    db_drop();
    return test_summary();
}
