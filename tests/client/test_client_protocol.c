/* Registry client, protocol side: the exact request sent (path, query, headers,
 * percent-encoding of each identifier part), the answer read against the real
 * mowcheck-registry (an odd member code with '/' and a space), the audit row of
 * each request with the exchange ids and a request hash recomputed here, and
 * batching within max_url_bytes and max_parcels.
 *
 * usage: test_client_protocol REGISTRY_BINARY DATA_DIR   (MOWCHECK_TEST_PGHOST set) */
#include "client_test.h"
#include "settings.h"

static const char *binary, *data_dir;
static store *st;
static PGconn *pg;

static const char fields[] = "claim_id,parcel_id,season,applicant,scheme,window_start,"
                             "window_end,min_mowings,declared_area_ha";

/* The request line's target of a raw request head, into out. */
static void request_target(const char *raw, char *out, size_t cap)
{
    const char *sp1 = strchr(raw, ' ');
    const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    snprintf(out, cap, "%.*s", sp2 ? (int)(sp2 - sp1 - 1) : 0, sp2 ? sp1 + 1 : "");
}

/* What is sent, byte for byte (the capture server records it). */
static void test_request_sent(void)
{
    capture cp;
    capture_start(&cp);
    char *answer = capture_json_answer(&cp, "{\"claims\": []}");
    registry_config c = client_config(cp.base);
    c.service = "EE/GOV/70%2F00 00/registry"; /* member code "70/00 00", written encoded */
    c.client = "EE/GOV/7000 0001/mow check";
    const char *parcels[] = {"EE 0001", "EE/0004", "a&b=c+d", "EE-0002", "EE 0001"};
    registry_answer a;
    int rc = registry_fetch_claims(&c, st, 0, "run-42", "decide: claims of season 2026", 2026,
                                   parcels, 5, &a);
    CHECK_INT(rc, MC_OK);
    CHECK_INT(a.n_claims, 0);
    CHECK_INT(a.n_failed, 0);
    REQUIRE(cp.n_requests == 1);
    const char *raw = cp.requests[0];
    char target[2048], expected[2048], v[512];
    request_target(raw, target, sizeof target);
    /* Each identifier part encoded on its own; parcels sorted, once each, encoded. */
    snprintf(expected, sizeof expected,
             "/r1/EE/GOV/70%%2F00%%2000/registry/claims?season=2026&fields=%s"
             "&parcel=EE%%200001&parcel=EE-0002&parcel=EE%%2F0004&parcel=a%%26b%%3Dc%%2Bd",
             fields);
    CHECK_STR(target, expected);
    CHECK(strncmp(raw, "GET ", 4) == 0);
    CHECK_STR(header_in(raw, "X-Road-Client", v, sizeof v), "EE/GOV/7000%200001/mow%20check");
    CHECK_STR(header_in(raw, "X-Road-UserId", v, sizeof v), "EE38001010000");
    CHECK_STR(header_in(raw, "X-Road-Issue", v, sizeof v), "run-42");
    CHECK_STR(header_in(raw, "Accept", v, sizeof v), "application/json");
    char id1[64] = "";
    header_in(raw, "X-Road-Id", id1, sizeof id1);
    CHECK(is_uuid4(id1));

    /* A second call: a fresh X-Road-Id; the audit rows name both. */
    rc = registry_fetch_claims(&c, st, 0, "run-42", "again", 2026, parcels, 1, &a);
    CHECK_INT(rc, MC_OK);
    REQUIRE(cp.n_requests == 2);
    char id2[64] = "";
    header_in(cp.requests[1], "X-Road-Id", id2, sizeof id2);
    CHECK(is_uuid4(id2));
    CHECK(strcmp(id1, id2) != 0);
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE x_road_id IN ('%s', '%s') AND http_status = 200"
             " AND error_type IS NULL AND client = 'EE/GOV/7000%%200001/mow%%20check'"
             " AND service = 'EE/GOV/70%%2F00%%2000/registry/claims' AND issue = 'run-42'",
             id1, id2);
    CHECK_INT(db_count(pg, sql), 2);
    /* The capture server sends no X-Road-Request-Hash: nothing to check. */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE x_road_id IN ('%s', '%s')"
             " AND request_hash_ok IS NULL", id1, id2);
    CHECK_INT(db_count(pg, sql), 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE x_road_id = '%s' AND parcel_ids = "
             "ARRAY['EE 0001', 'EE-0002', 'EE/0004', 'a&b=c+d'] AND claim_ids = '{}'"
             " AND purpose = 'decide: claims of season 2026' AND season = 2026", id1);
    CHECK_INT(db_count(pg, sql), 1);
    registry_answer_free(&a);

    /* An answer whose X-Road-Request-Hash is not that of the request sent: kept (the
     * claims are checked on their own), the mismatch recorded. */
    static const char wrong_hash[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
        "X-Road-Request-Id: 11111111-2222-4333-8444-555555555555\r\n"
        "X-Road-Request-Hash: AAAA\r\nConnection: close\r\n\r\n{\"claims\":[]}";
    capture_set_answer(&cp, wrong_hash);
    CHECK_INT(registry_fetch_claims(&c, st, 0, "wrong-hash", "x", 2026, parcels, 1, &a), MC_OK);
    CHECK_INT(a.n_failed, 0);
    registry_answer_free(&a);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'wrong-hash' AND "
                           "NOT request_hash_ok AND request_hash = 'AAAA'"), 1);
    capture_stop(&cp);
    free(answer);
}

/* The exchange hash (PR-REST 4.3) of the request the client sends, recomputed
 * from its parts: what the capture test above showed is sent. */
static void hash_of(const char *target, const char *client, const char *xroad_id,
                    const char *issue, const char *request_id, char out[89])
{
    char canonical[4096];
    snprintf(canonical, sizeof canonical,
             "GET\r\n%s\r\nAccept:application/json\r\nX-Road-Client:%s\r\nX-Road-Id:%s\r\n"
             "X-Road-UserId:EE38001010000\r\nX-Road-Issue:%s\r\nX-Road-Request-Id:%s\r\n",
             target, client, xroad_id, issue, request_id);
    expected_hash(canonical, NULL, out);
}

/* Against the real service serving an odd member code. */
static void test_real_service(void)
{
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, "--member", "EE/GOV/70%2F00 00/registry", NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    registry_config c = client_config(s.base);
    c.service = "EE/GOV/70%2F00 00/registry";
    const char *parcels[] = {"EE-0009", "EE/0004", "EE-0002", "EE-0001"};
    registry_answer a;
    int64_t run_id = 0;
    REQUIRE(store_run_begin(st, "test", &run_id) == MC_OK);
    int rc = registry_fetch_claims(&c, st, run_id, "RUN-7", "decide", 2026, parcels, 4, &a);
    CHECK_INT(rc, MC_OK);
    CHECK_INT(a.n_claims, 4);
    CHECK_INT(a.n_failed, 0);
    const registry_claim *k = find_claim(&a, "C-2026-0003");
    REQUIRE(k != NULL);
    CHECK_STR(k->parcel_id, "EE-0002");
    CHECK_STR(k->applicant, "APP-91c0");
    CHECK_STR(k->scheme, "semi-natural, coastal");
    CHECK_STR(k->window_start, "2026-07-10");
    CHECK_STR(k->window_end, "2026-09-30");
    CHECK_INT(k->min_mowings, 1);
    CHECK_INT(k->season, 2026);
    CHECK_NEAR(k->declared_area_ha, 0.75, 1e-12);
    k = find_claim(&a, "C-2026-0004");
    REQUIRE(k != NULL);
    CHECK_STR(k->parcel_id, "EE/0004");
    CHECK_INT(k->min_mowings, 1); /* empty in the CSV: the default */
    CHECK_NEAR(k->declared_area_ha, 2.0, 1e-12);
    k = find_claim(&a, "C-2026-0002");
    CHECK(k && k->min_mowings == 2 && strcmp(k->window_start, "2026-06-15") == 0);
    CHECK(find_claim(&a, "C-2026-0001") != NULL);
    CHECK(find_claim(&a, "C-2025-0002") == NULL); /* another season */
    registry_answer_free(&a);

    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT x_road_id, response_x_road_id, request_id, request_hash, "
             "array_to_string(claim_ids, ','), array_to_string(claim_parcels, ','), "
             "array_to_string(applicants, ','), attempt, duration_ms FROM audit_log "
             "WHERE run_id = %lld", (long long)run_id);
    PGresult *r = db_rows(pg, sql);
    REQUIRE(PQntuples(r) == 1);
    const char *xid = PQgetvalue(r, 0, 0), *rid = PQgetvalue(r, 0, 2);
    CHECK(is_uuid4(xid));
    CHECK_STR(PQgetvalue(r, 0, 1), xid); /* the service echoes our X-Road-Id */
    CHECK(is_uuid4(rid));
    char target[1024], hash[89];
    snprintf(target, sizeof target,
             "/r1/EE/GOV/70%%2F00%%2000/registry/claims?season=2026&fields=%s"
             "&parcel=EE-0001&parcel=EE-0002&parcel=EE-0009&parcel=EE%%2F0004", fields);
    hash_of(target, "EE/GOV/70000001/mowcheck", xid, "RUN-7", rid, hash);
    CHECK_STR(PQgetvalue(r, 0, 3), hash);
    char hsql[200];
    snprintf(hsql, sizeof hsql, "SELECT count(*) FROM audit_log WHERE x_road_id = '%s' AND "
             "request_hash_ok", xid);
    CHECK_INT(db_count(pg, hsql), 1); /* the client's own check agreed */
    CHECK_STR(PQgetvalue(r, 0, 4), "C-2026-0001,C-2026-0002,C-2026-0003,C-2026-0004");
    CHECK_STR(PQgetvalue(r, 0, 5), "EE-0001,EE-0002,EE-0002,EE/0004");
    CHECK_STR(PQgetvalue(r, 0, 6), "APP-7f3a,APP-91c0,APP-91c0,APP-0a0a");
    CHECK_STR(PQgetvalue(r, 0, 7), "1");
    CHECK(atol(PQgetvalue(r, 0, 8)) >= 0);
    /* The service saw this very request. */
    char needle[200];
    snprintf(needle, sizeof needle, " EE/GOV/70000001/mowcheck %s GET ", xid);
    CHECK_INT(srv_log_count(&s, needle, 1), 1);
    PQclear(r);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

/* max_url_bytes and max_parcels split the parcels; every claim comes once. */
static void test_batching(void)
{
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    registry_config c = client_config(s.base);
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s/r1/EE/GOV/70000000/registry/claims?season=2026&fields=%s",
             s.base, fields);
    /* "&parcel=EE-000N" is 15 bytes: room for exactly three parcels per URL. */
    c.max_url_bytes = strlen(prefix) + 3 * 15;
    const char *parcels[] = {"EE-0007", "EE-0001", "EE-0002", "EE-0003", "EE-0004",
                             "EE-0005", "EE-0006", "EE-0002", "EE-0001"};
    registry_answer a;
    CHECK_INT(registry_fetch_claims(&c, st, 0, "batch-3", "test", 2026, parcels, 9, &a), MC_OK);
    CHECK_INT(a.n_claims, 4); /* EE-0001: 1, EE-0002: 2, EE-0005: 1 */
    CHECK(find_claim(&a, "C-2026-0001") && find_claim(&a, "C-2026-0002") &&
          find_claim(&a, "C-2026-0003") && find_claim(&a, "C-2026-0005"));
    CHECK_INT(a.n_failed, 0);
    registry_answer_free(&a);
    PGresult *r = db_rows(pg, "SELECT array_to_string(parcel_ids, ' ') FROM audit_log "
                              "WHERE issue = 'batch-3' ORDER BY id");
    REQUIRE(PQntuples(r) == 3);
    CHECK_STR(PQgetvalue(r, 0, 0), "EE-0001 EE-0002 EE-0003");
    CHECK_STR(PQgetvalue(r, 1, 0), "EE-0004 EE-0005 EE-0006");
    CHECK_STR(PQgetvalue(r, 2, 0), "EE-0007");
    PQclear(r);
    CHECK_INT(srv_log_count(&s, "/claims?season=2026", 3), 3);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'batch-3' AND "
                           "request_hash_ok"), 3);

    /* One byte less: two parcels per URL, four requests. */
    c.max_url_bytes--;
    CHECK_INT(registry_fetch_claims(&c, st, 0, "batch-2", "test", 2026, parcels, 9, &a), MC_OK);
    CHECK_INT(a.n_claims, 4);
    registry_answer_free(&a);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'batch-2'"), 4);
    CHECK_INT(db_count(pg, "SELECT max(cardinality(parcel_ids)) FROM audit_log "
                           "WHERE issue = 'batch-2'"), 2);

    /* max_parcels caps a request however long the URL may be. */
    c.max_url_bytes = 4000;
    c.max_parcels = 3;
    CHECK_INT(registry_fetch_claims(&c, st, 0, "batch-p", "test", 2026, parcels, 9, &a), MC_OK);
    CHECK_INT(a.n_claims, 4);
    registry_answer_free(&a);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'batch-p'"), 3);

    /* A parcel id that cannot fit in any URL fails alone; no request is made for it. */
    char long_id[300];
    memset(long_id, 'x', 200);
    long_id[200] = '\0';
    const char *with_long[] = {"EE-0001", long_id, "EE-0002"};
    c.max_parcels = 0;
    c.max_url_bytes = strlen(prefix) + 3 * 15;
    CHECK_INT(registry_fetch_claims(&c, st, 0, "batch-long", "test", 2026, with_long, 3, &a),
              MC_OK);
    CHECK_INT(a.n_claims, 3);
    CHECK_INT(a.n_failed, 1);
    CHECK(has_parcel(&a, long_id));
    CHECK(strstr(a.failure, "registry_max_url_bytes") != NULL);
    registry_answer_free(&a);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'batch-long'"), 1);

    /* Ids the service would refuse (and with them the whole batch) fail alone, unsent. */
    const char *odd[] = {"EE-0001", "bad\nid", ""};
    CHECK_INT(registry_fetch_claims(&c, st, 0, "batch-odd", "test", 2026, odd, 3, &a), MC_OK);
    CHECK_INT(a.n_claims, 1);
    CHECK_INT(a.n_failed, 2);
    CHECK(has_parcel(&a, "bad\nid") && has_parcel(&a, ""));
    registry_answer_free(&a);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'batch-odd' AND "
                           "parcel_ids = '{EE-0001}'"), 1);
    srv_cleanup(&s);
}

/* Our own mistakes are MC_ERR, before any request. */
static void test_bad_configuration(void)
{
    registry_config c = client_config("http://127.0.0.1:9");
    const char *parcels[] = {"EE-0001"};
    registry_answer a;
    long before = db_count(pg, "SELECT count(*) FROM audit_log");
    c.user_id = "";
    CHECK_INT(registry_fetch_claims(&c, st, 0, "x", "x", 2026, parcels, 1, &a), MC_ERR);
    CHECK(strstr(mc_error_message(), "registry_user_id") != NULL);
    c = client_config("http://127.0.0.1:9");
    c.service = "EE/GOV/70000000";
    CHECK_INT(registry_fetch_claims(&c, st, 0, "x", "x", 2026, parcels, 1, &a), MC_ERR);
    c = client_config("http://127.0.0.1:9");
    c.service = "EE//70000000/registry";
    CHECK_INT(registry_fetch_claims(&c, st, 0, "x", "x", 2026, parcels, 1, &a), MC_ERR);
    c = client_config("ftp://127.0.0.1:9");
    CHECK_INT(registry_fetch_claims(&c, st, 0, "x", "x", 2026, parcels, 1, &a), MC_ERR);
    c = client_config("http://127.0.0.1:9");
    CHECK_INT(registry_fetch_claims(&c, st, 0, "x\r\nX-Evil: 1", "x", 2026, parcels, 1, &a),
              MC_ERR); /* no header injection through the issue */
    CHECK_INT(registry_fetch_claims(&c, st, 0, "run-\xc3\xa4", "x", 2026, parcels, 1, &a),
              MC_ERR); /* header values are ASCII */
    c.user_id = "EE3800101\t0000";
    CHECK_INT(registry_fetch_claims(&c, st, 0, "x", "x", 2026, parcels, 1, &a), MC_ERR);
    CHECK_INT(registry_fetch_claims(&c, NULL, 0, "x", "x", 2026, parcels, 1, &a), MC_ERR);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log"), before);
}

/* The registry settings: their defaults, and the environment over them. */
static void test_settings(void)
{
    mc_settings set;
    REQUIRE(settings_load(&set, NULL) == MC_OK);
    CHECK_STR(set.registry_service, "EE/GOV/70000000/registry");
    CHECK_STR(set.registry_client, "EE/GOV/70000001/mowcheck");
    CHECK_STR(set.registry_url, "");
    CHECK_INT(set.registry_timeout_ms, 10000);
    CHECK_INT(set.registry_max_attempts, 4);
    CHECK_INT(set.registry_backoff_ms, 500);
    CHECK_INT(set.registry_max_url_bytes, 4000);
    CHECK_INT(settings_set(&set, "registry-max-attempts", "0"), MC_ERR);
    CHECK_INT(settings_set(&set, "registry-user-id", "EE38001010000"), MC_OK);
    CHECK_STR(set.registry_user_id, "EE38001010000");
    settings_free(&set);
    setenv("MOWCHECK_REGISTRY_TIMEOUT_MS", "2500", 1);
    setenv("MOWCHECK_REGISTRY_TLS_CA", "/etc/agency/ca.pem", 1);
    REQUIRE(settings_load(&set, NULL) == MC_OK);
    CHECK_INT(set.registry_timeout_ms, 2500);
    CHECK_STR(set.registry_tls_ca, "/etc/agency/ca.pem");
    settings_free(&set);
    unsetenv("MOWCHECK_REGISTRY_TIMEOUT_MS");
    unsetenv("MOWCHECK_REGISTRY_TLS_CA");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s REGISTRY_BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    data_dir = argv[2];
    db_create("client_protocol");
    st = db_store();
    pg = db_connect();
    test_request_sent();
    test_real_service();
    test_batching();
    test_bad_configuration();
    test_settings();
    PQfinish(pg);
    store_close(st);
    db_drop();
    return test_summary();
}
