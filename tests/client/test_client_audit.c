/* The audit log: append-only whoever asks (trigger for the owner and superusers,
 * privileges for the batch and inspector roles), rows committed on their own (a
 * crash right after the request leaves the row; a call inside an open
 * transaction is refused), hostile texts stored as data; and the farmer's access
 * log, from store_audit_access_log and from `mowcheck access-log`, listing the
 * applicant's requests and nothing of other applicants.
 *
 * usage: test_client_audit REGISTRY_BINARY MOWCHECK_BINARY DATA_DIR */
#include "client_test.h"
#include "store.h"
#include "store_conn.h"

static const char *binary, *mowcheck, *data_dir;
static store *st;
static PGconn *pg;
static char role_batch[64], role_inspector[64];

/* Runs SQL that must fail; returns the SQLSTATE ("" if it succeeded). */
static const char *must_fail(PGconn *c, const char *sql)
{
    static char state[8];
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s",
             s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? "" : code ? code : "?");
    PQclear(r);
    return state;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
}

static int fetch(const char *base, const char *issue, const char *purpose, int season,
                 const char *const *ids, size_t n, int max_attempts)
{
    registry_config c = client_config(base);
    c.max_attempts = max_attempts;
    registry_answer a;
    int rc = registry_fetch_claims(&c, st, 0, issue, purpose, season, ids, n, &a);
    registry_answer_free(&a);
    return rc;
}

/* ---- append-only ---------------------------------------------------------------- */

static void test_append_only(void)
{
    long rows = db_count(pg, "SELECT count(*) FROM audit_log");
    REQUIRE(rows > 0);
    /* The owner (a superuser here) is refused by the triggers. */
    CHECK_STR(must_fail(pg, "UPDATE audit_log SET user_id = 'someone else'"), "42501");
    CHECK_STR(must_fail(pg, "DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)"),
              "42501");
    CHECK_STR(must_fail(pg, "TRUNCATE audit_log"), "42501");
    CHECK_STR(must_fail(pg, "TRUNCATE audit_log CASCADE"), "42501");
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log"), rows);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE user_id = 'someone else'"), 0);

    /* The batch role: INSERT and SELECT only; the inspector: SELECT only. */
    char sql[600];
    snprintf(role_batch, sizeof role_batch, "client_batch_%ld", (long)getpid());
    snprintf(role_inspector, sizeof role_inspector, "client_inspector_%ld", (long)getpid());
    snprintf(sql, sizeof sql,
             "CREATE ROLE %s NOLOGIN; CREATE ROLE %s NOLOGIN;"
             " GRANT INSERT, SELECT ON audit_log TO %s;"
             " GRANT USAGE ON SEQUENCE audit_log_id_seq TO %s;"
             " GRANT SELECT ON audit_log TO %s;",
             role_batch, role_inspector, role_batch, role_batch, role_inspector);
    exec_ok(pg, sql);
    snprintf(sql, sizeof sql, "SET ROLE %s", role_batch);
    exec_ok(pg, sql);
    static const char insert[] =
        "INSERT INTO audit_log (attempt, client, service, user_id, parcel_ids, x_road_id,"
        " duration_ms) VALUES (1, 'EE/GOV/1/x', 'EE/GOV/2/y/claims', 'EE1', '{P-1}', 'id', 0)";
    exec_ok(pg, insert);
    CHECK_STR(must_fail(pg, "UPDATE audit_log SET user_id = 'x'"), "42501");
    CHECK_STR(must_fail(pg, "DELETE FROM audit_log"), "42501");
    CHECK_STR(must_fail(pg, "TRUNCATE audit_log"), "42501");
    CHECK_STR(must_fail(pg, "ALTER TABLE audit_log DISABLE TRIGGER USER"), "42501");
    CHECK_STR(must_fail(pg, "DROP TRIGGER audit_log_no_update_delete ON audit_log"), "42501");
    exec_ok(pg, "RESET ROLE");
    snprintf(sql, sizeof sql, "SET ROLE %s", role_inspector);
    exec_ok(pg, sql);
    CHECK(db_count(pg, "SELECT count(*) FROM audit_log") == rows + 1);
    CHECK_STR(must_fail(pg, insert), "42501");
    CHECK_STR(must_fail(pg, "UPDATE audit_log SET user_id = 'x'"), "42501");
    CHECK_STR(must_fail(pg, "DELETE FROM audit_log"), "42501");
    exec_ok(pg, "RESET ROLE");
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log"), rows + 1);
}

static void drop_roles(void)
{
    char sql[300];
    snprintf(sql, sizeof sql, "DROP OWNED BY %s, %s; DROP ROLE %s, %s", role_batch,
             role_inspector, role_batch, role_inspector);
    exec_ok(pg, sql);
}

/* ---- committed on its own ------------------------------------------------------ */

static void test_committed_alone(const char *base)
{
    const char *ids[] = {"EE-0001"};
    /* Inside an open transaction: refused, before any request. */
    REQUIRE(store_begin(st, "test") == MC_OK);
    CHECK_INT(fetch(base, "in-tx", "test", 2026, ids, 1, 1), MC_ERR);
    CHECK(strstr(mc_error_message(), "transaction") != NULL);
    store_rollback(st);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'in-tx'"), 0);

    /* A process that dies right after its request leaves the row behind. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        store *child = db_store();
        registry_config c = client_config(base);
        registry_answer a;
        registry_fetch_claims(&c, child, 0, "crash", "test", 2026, ids, 1, &a);
        abort(); /* no clean-up, no commit of anything else */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = 'crash' AND "
                           "claim_ids = '{C-2026-0001}' AND applicants = '{APP-7f3a}'"), 1);
}

/* ---- hostile texts --------------------------------------------------------------- */

static void test_hostile_texts(const char *base)
{
    const char *ids[] = {"x'; DROP TABLE audit_log; --", "EE-\xff\xfe-bad-utf8", "EE-0001"};
    CHECK_INT(fetch(base, "'; DROP TABLE audit_log; --", "why \"quoted\", \xff", 2026, ids, 3,
                    1), MC_OK);
    CHECK_INT(db_count(pg, "SELECT count(*) FROM audit_log WHERE issue = "
                           "'''; DROP TABLE audit_log; --' AND purpose = 'why \"quoted\", \\xFF'"
                           " AND parcel_ids = ARRAY['EE-0001', 'EE-\\xFF\\xFE-bad-utf8',"
                           " 'x''; DROP TABLE audit_log; --']"), 1);
}

/* ---- the access log ------------------------------------------------------------------ */

static const store_access_entry *entry_with(const store_access_entry *e, size_t n,
                                            const char *issue, int nth)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].issue, issue) == 0 && nth-- == 0)
            return &e[i];
    return NULL;
}

static size_t access_of(const char *applicant, store_access_entry **e)
{
    size_t n = 0;
    CHECK_INT(store_audit_access_log(st, applicant, e, &n), MC_OK);
    return n;
}

/* Runs mowcheck with args; its stdout into *out (malloc'd); returns the exit code. */
static int run_mowcheck(const char *const *args, char **out)
{
    char dir[256], out_path[300];
    tmpdir_make(dir, "cli");
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    const char *argv[32] = {mowcheck};
    int n = 1;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout))
            _exit(126);
        execv(mowcheck, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    *out = slurp(out_path);
    tmpdir_remove(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

static void test_access_log(const char *base, const char *failing_base)
{
    /* r1: three applicants' parcels in one request. */
    const char *r1[] = {"EE-0001", "EE-0002", "EE-0005"};
    CHECK_INT(fetch(base, "run-1", "nightly decide", 2026, r1, 3, 1), MC_OK);
    /* r2: exchange failure (two attempts) about EE-0002 (APP-91c0) and EE/0004. */
    const char *r2[] = {"EE-0002", "EE/0004"};
    CHECK_INT(fetch(failing_base, "run-2", "nightly decide", 2026, r2, 2, 2), MC_OK);
    /* r3: EE-0001 in 2025, when nobody claimed it; r4: a parcel nobody claims. */
    const char *r3[] = {"EE-0001"}, *r4[] = {"EE-0003"};
    CHECK_INT(fetch(base, "run-3", "last year", 2025, r3, 1, 1), MC_OK);
    CHECK_INT(fetch(base, "run-4", "nightly decide", 2026, r4, 1, 1), MC_OK);

    store_access_entry *e = NULL;
    size_t n = access_of("APP-91c0", &e);
    CHECK_INT(n, 3);
    const store_access_entry *x = entry_with(e, n, "run-1", 0);
    REQUIRE(x != NULL);
    CHECK_STR(x->parcels, "EE-0002"); /* not EE-0001 or EE-0005: other applicants' */
    CHECK_INT(x->n_claims, 2);
    CHECK_INT(x->http_status, 200);
    CHECK_STR(x->error_type, "");
    CHECK_STR(x->client, "EE/GOV/70000001/mowcheck");
    CHECK_STR(x->user_id, "EE38001010000");
    CHECK_STR(x->purpose, "nightly decide");
    CHECK_INT(x->season, 2026);
    CHECK(is_uuid4(x->x_road_id));
    for (int k = 0; k < 2; k++) {
        x = entry_with(e, n, "run-2", k);
        REQUIRE(x != NULL);
        CHECK_STR(x->parcels, "EE-0002"); /* EE/0004 is not theirs */
        CHECK_STR(x->error_type, "Server.ServerProxy.InternalError");
        CHECK_INT(x->http_status, 500);
        CHECK_INT(x->n_claims, 0);
    }
    CHECK(strcmp(e[0].logged_at, e[2].logged_at) <= 0); /* oldest first */
    store_access_entries_free(e, n);

    n = access_of("APP-7f3a", &e);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(e[i].parcels, "EE-0001");
        CHECK(strcmp(e[i].issue, "run-3") != 0); /* 2025: EE-0001 was not theirs */
        CHECK(strcmp(e[i].issue, "run-2") != 0 && strcmp(e[i].issue, "run-4") != 0);
        found += strcmp(e[i].issue, "run-1") == 0;
    }
    CHECK_INT(found, 1);
    store_access_entries_free(e, n);

    /* EE/0004 was only asked about in a failed request: not known to be APP-0a0a's
     * until an answer says so; then the earlier failed attempts show too. */
    n = access_of("APP-0a0a", &e);
    CHECK_INT(n, 0);
    store_access_entries_free(e, n);
    const char *r5[] = {"EE/0004"};
    CHECK_INT(fetch(base, "run-5", "case 123", 2026, r5, 1, 1), MC_OK);
    n = access_of("APP-0a0a", &e);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        CHECK_STR(e[i].parcels, "EE/0004");
    CHECK(entry_with(e, n, "run-5", 0) && entry_with(e, n, "run-2", 1));
    store_access_entries_free(e, n);

    n = access_of("APP-nobody", &e);
    CHECK_INT(n, 0);
    store_access_entries_free(e, n);

    /* The command: text and CSV, the applicant's rows only. */
    char *out = NULL;
    const char *text_args[] = {"access-log", "--db", db_dsn, "--applicant", "APP-91c0", NULL};
    CHECK_INT(run_mowcheck(text_args, &out), 0);
    CHECK(strstr(out, "applicant APP-91c0: 3") != NULL);
    CHECK(strstr(out, "run-1") && strstr(out, "run-2") && !strstr(out, "run-3"));
    CHECK(strstr(out, "EE38001010000") && strstr(out, "nightly decide"));
    CHECK(strstr(out, "answered: 2 of your claims (HTTP 200)") != NULL);
    CHECK(strstr(out, "failed: Server.ServerProxy.InternalError (HTTP 500)") != NULL);
    CHECK(!strstr(out, "EE-0001") && !strstr(out, "EE-0005") && !strstr(out, "EE/0004"));
    CHECK(!strstr(out, "APP-7f3a") && !strstr(out, "APP-0a0a"));
    free(out);
    const char *csv_args[] = {"access-log", "--db", db_dsn, "--applicant", "APP-91c0",
                              "--format", "csv", NULL};
    CHECK_INT(run_mowcheck(csv_args, &out), 0);
    CHECK(strncmp(out, "logged_at,client,user_id,issue,purpose,season,parcels,outcome,"
                       "http_status,error_type,x_road_id\n", 90) == 0);
    CHECK_INT(count_lines(out), 4);
    CHECK(strstr(out, ",EE38001010000,run-1,nightly decide,2026,EE-0002,answered,200,,") != NULL);
    CHECK(strstr(out, ",run-2,nightly decide,2026,EE-0002,failed,500,"
                      "Server.ServerProxy.InternalError,") != NULL);
    free(out);
    /* An applicant code with quotes (APP-"q", from the CSV) as a command-line argument. */
    const char *q_args[] = {"access-log", "--db", db_dsn, "--applicant", "APP-\"q\"",
                            "--format", "csv", NULL};
    CHECK_INT(run_mowcheck(q_args, &out), 0);
    CHECK_INT(count_lines(out), 2);
    CHECK(strstr(out, ",EE-0005,answered,200,,") != NULL);
    free(out);
    const char *bad_args[] = {"access-log", "--db", db_dsn, NULL};
    CHECK_INT(run_mowcheck(bad_args, &out), 2);
    free(out);
    const char *bad_format[] = {"access-log", "--db", db_dsn, "--applicant", "A", "--format",
                                "xml", NULL};
    CHECK_INT(run_mowcheck(bad_format, &out), 2);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s REGISTRY_BINARY MOWCHECK_BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    mowcheck = argv[2];
    data_dir = argv[3];
    db_create("client_audit");
    st = db_store();
    pg = db_connect();
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, NULL};
    const char *failing[] = {"--claims", claims, "--fault", "server-error", NULL};
    srv s, f;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    REQUIRE(srv_spawn(&f, binary, failing, 0) == 0);
    test_access_log(s.base, f.base);
    test_committed_alone(s.base);
    test_hostile_texts(s.base);
    test_append_only();
    drop_roles();
    srv_cleanup(&s);
    srv_cleanup(&f);
    PQfinish(pg);
    store_close(st);
    db_drop();
    return test_summary();
}
