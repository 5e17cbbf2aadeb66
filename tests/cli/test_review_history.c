/* Reviews are accountable (mowcheck review, mowcheck case; schemas/040):
 *   - every review is kept; a verdict that differs from a mowed/not_mowed verdict
 *     already on the case is refused without --supersede REASON (exit 2, nothing
 *     recorded), also when written straight into the database;
 *   - --supersede needs an earlier, differing verdict;
 *   - after needs_visit a verdict needs no --supersede;
 *   - each review records the database login (session_user), whatever the client
 *     sends; --inspector defaults to it;
 *   - `case` shows the whole history in words (no raw codes), which review overrides
 *     which and why, and the verdict that counts; the feed shows the latest verdict.
 * Fixture: report_test.h (C-2 inconclusive, C-5 and C-7 open, C-1 reviewed mowed).
 *
 * usage: test_review_history MOWCHECK_BINARY */
#include "../report/report_test.h"

static const char *bin;

static int mowcheck(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s --db '%s' 2>&1", bin, args, db_dsn);
    return run_capture(cmd, out);
}

static int review(const char *claim, const char *rest, char **out)
{
    char *number = fixture_case(claim, 2026), args[1024];
    snprintf(args, sizeof args, "review %s %s", number, rest);
    free(number);
    return mowcheck(args, out);
}

static long reviews_of(PGconn *c, const char *claim)
{
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*) FROM reviews JOIN cases USING (case_number)"
                          " WHERE claim_id = '%s'", claim);
    return db_count(c, q);
}

static void contains(const char *text, const char *needle, const char *what)
{
    CHECK_MSG(strstr(text, needle) != NULL, "%s: '%s' missing in:\n%s", what, needle, text);
}

static void test_supersede(PGconn *c, const char *login)
{
    char *out;
    CHECK_INT(review("C-2", "--verdict mowed --inspector anna --note 'mown on 2026-06-20'", &out), 0);
    contains(out, ": mowed", "first review");
    free(out);
    /* bob disagrees without --supersede: refused, nothing recorded, the feed unchanged */
    CHECK_INT(review("C-2", "--verdict not_mowed --inspector bob --note 'no swaths'", &out), 2);
    contains(out, "inspector anna found mowed on ", "refusal");
    contains(out, "needs --supersede REASON", "refusal");
    free(out);
    CHECK_INT(reviews_of(c, "C-2"), 1);
    /* agreeing needs no --supersede; a --supersede that agrees is refused */
    CHECK_INT(review("C-2", "--verdict mowed --inspector carl --note 'agree'", &out), 0);
    free(out);
    CHECK_INT(review("C-2", "--verdict mowed --inspector carl --note 'x' --supersede 'y'", &out), 2);
    contains(out, "agrees with review 2; nothing to supersede", "agreeing supersede");
    free(out);
    CHECK_INT(review("C-5", "--verdict mowed --inspector carl --note 'x' --supersede 'y'", &out), 2);
    contains(out, "no earlier review to supersede", "supersede on an unreviewed case");
    free(out);
    CHECK_INT(review("C-2", "--verdict not_mowed --inspector bob --note 'no swaths on 07-01'"
                            " --supersede 'anna looked at the 2025 orthophoto'", &out), 0);
    contains(out, "not mowed, overriding the earlier verdict", "supersede");
    free(out);
    CHECK_INT(reviews_of(c, "C-2"), 3);
    char q[400];
    snprintf(q, sizeof q, "SELECT count(*) FROM reviews r JOIN cases USING (case_number)"
                          " WHERE claim_id = 'C-2' AND db_login = '%s' AND supersedes ="
                          " (SELECT min(review_id) + 1 FROM reviews r2 JOIN cases c2 USING"
                          " (case_number) WHERE c2.claim_id = 'C-2')", login);
    CHECK_INT(db_count(c, q), 1); /* the third overrides the second (the latest) */

    char *number = fixture_case("C-2", 2026), args[200];
    snprintf(args, sizeof args, "case %s", number);
    CHECK_INT(mowcheck(args, &out), 0);
    char want[300];
    snprintf(want, sizeof want, "review 1:  mowed, by inspector anna (database login %s) on ",
             login);
    contains(out, want, "case history");
    contains(out, "note: mown on 2026-06-20", "case history");
    contains(out, "review 2:  mowed, by inspector carl", "case history");
    contains(out, "review 3:  not mowed, by inspector bob", "case history");
    contains(out, "overrides review 2: anna looked at the 2025 orthophoto", "case history");
    contains(out, "verdict:   not mowed (review 3 counts)", "case history");
    contains(out, "outcome:   inconclusive", "case history");
    CHECK_MSG(strstr(out, "not_mowed") == NULL && strstr(out, "needs_visit") == NULL,
              "raw codes in:\n%s", out);
    free(out);
    free(number);
    CHECK_INT(mowcheck("export decisions --season 2026", &out), 0);
    contains(out, ",inconclusive,", "feed");
    contains(out, ",not_mowed,\"Reviewed by inspector bob", "feed (the latest verdict)");
    free(out);
}

static void test_needs_visit_and_defaults(PGconn *c, const char *login)
{
    char *out;
    /* no --inspector: the database login */
    CHECK_INT(review("C-7", "--verdict needs_visit --note 'cloud all summer'", &out), 0);
    free(out);
    CHECK_INT(review("C-7", "--verdict mowed --inspector dora --note 'visited: mown'", &out), 0);
    free(out);
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*) FROM reviews JOIN cases USING (case_number)"
                          " WHERE claim_id = 'C-7' AND inspector = '%s' AND verdict = 'needs_visit'",
             login);
    CHECK_INT(db_count(c, q), 1);
    char *number = fixture_case("C-7", 2026), args[200];
    snprintf(args, sizeof args, "case %s", number);
    CHECK_INT(mowcheck(args, &out), 0);
    contains(out, "review 1:  needs a field visit, by inspector ", "needs_visit in words");
    contains(out, "verdict:   mowed (review 2 counts)", "after a visit");
    free(out);
    free(number);
}

/* A login signs as itself or as a name mapped to it, never as a colleague: refused by
 * the database, through the command line (exit 1, nothing recorded) and straight in. */
static void test_signature(PGconn *c, const char *login)
{
    char *out, *number = fixture_case("C-7", 2026), q[400];
    CHECK_INT(review("C-7", "--verdict mowed --inspector mallory --note 'x'", &out), 1);
    contains(out, "may not sign a review as mallory", "review as a colleague");
    free(out);
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'mowed', 'mallory', 'x')", number);
    PGresult *r = PQexec(c, q);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR &&
          strstr(PQresultErrorMessage(r), "may not sign a review as mallory") != NULL);
    PQclear(r);
    CHECK_INT(db_count(c, "SELECT count(*) FROM reviews WHERE inspector = 'mallory'"), 0);
    snprintf(q, sizeof q, "SELECT count(*) FROM inspector_logins WHERE db_login = '%s'"
                          " AND inspector IN ('anna', 'bob', 'carl', 'dora', 'eve', 'frida')",
             login);
    CHECK_INT(db_count(c, q), 6); /* the mapped names sign (the tests below) */
    free(number);
}

/* Straight into the database: the same rule, and the login cannot be forged. */
static void test_database_rule(PGconn *c, const char *login)
{
    char *number = fixture_case("C-7", 2026), q[500];
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'not_mowed', 'eve', 'x')", number);
    PGresult *r = PQexec(c, q);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR &&
          strstr(PQresultErrorMessage(r), "needs --supersede") != NULL);
    PQclear(r);
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note, db_login,"
                          " supersede_reason) VALUES ('%s', 'not_mowed', 'eve', 'x', 'forged',"
                          " 'second look')", number);
    sql(c, q);
    snprintf(q, sizeof q, "SELECT count(*) FROM reviews WHERE inspector = 'eve' AND db_login = '%s'"
                          " AND supersede_reason = 'second look'", login);
    CHECK_INT(db_count(c, q), 1);
    CHECK_INT(db_count(c, "SELECT count(*) FROM reviews WHERE db_login = 'forged'"), 0);
    free(number);
}

/* Two inspectors at once on a case nobody has reviewed: the second waits for the
 * first (the trigger's lock), then sees its verdict and is refused without --supersede;
 * without the lock both would have been "the first". */
static void test_concurrent_reviews(void)
{
    char *number = fixture_case("C-3", 2026), q[400];
    PGconn *a = db_connect(), *b = db_connect();
    sql(a, "BEGIN");
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'mowed', 'anna', 'first')", number);
    sql(a, q);
    snprintf(q, sizeof q, "INSERT INTO reviews (case_number, verdict, inspector, note)"
                          " VALUES ('%s', 'not_mowed', 'bob', 'second')", number);
    REQUIRE(PQsendQuery(b, q) == 1);
    usleep(300 * 1000); /* b is now waiting for a's lock */
    REQUIRE(PQconsumeInput(b) == 1);
    CHECK_MSG(PQisBusy(b), "the second review did not wait for the first");
    sql(a, "COMMIT");
    PGresult *r = PQgetResult(b);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR &&
          strstr(PQresultErrorMessage(r), "anna already found mowed") != NULL);
    PQclear(r);
    while ((r = PQgetResult(b)) != NULL)
        PQclear(r);
    snprintf(q, sizeof q, "SELECT count(*) FROM reviews WHERE case_number = '%s'", number);
    CHECK_INT(db_count(a, q), 1);
    PQfinish(a);
    PQfinish(b);
    free(number);
}

/* A review from before schemas/040 has no login: the case says so. */
static void test_review_without_login(PGconn *c)
{
    sql(c, "ALTER TABLE reviews DISABLE TRIGGER reviews_append_only");
    sql(c, "UPDATE reviews SET db_login = NULL WHERE inspector = 'inspector-1'"); /* C-1's */
    sql(c, "ALTER TABLE reviews ENABLE TRIGGER reviews_append_only");
    char *number = fixture_case("C-1", 2026), args[200], *out;
    snprintf(args, sizeof args, "case %s", number);
    CHECK_INT(mowcheck(args, &out), 0);
    contains(out, "review 1:  mowed, by inspector inspector-1 (database login not recorded) on ",
             "a review without login");
    free(out);
    free(number);
}

/* A login that has mowcheck_inspector: its own name is recorded. */
static void test_inspector_login(PGconn *c)
{
    char q[400], login[64];
    snprintf(login, sizeof login, "review_insp_%ld", (long)getpid());
    snprintf(q, sizeof q, "CREATE ROLE %s LOGIN IN ROLE mowcheck_inspector", login);
    sql(c, q);
    snprintf(q, sizeof q, "INSERT INTO inspector_logins VALUES ('%s', 'frida')", login);
    sql(c, q);
    char *number = fixture_case("C-5", 2026), cmd[1500], *out;
    snprintf(cmd, sizeof cmd, "'%s' review %s --verdict mowed --inspector frida --note seen"
                              " --db 'host=%s dbname=%s user=%s' 2>&1", bin, number,
             getenv("MOWCHECK_TEST_PGHOST"), db_name, login);
    int code = run_capture(cmd, &out);
    CHECK_MSG(code == 0, "review as %s: %s", login, out);
    free(out);
    snprintf(q, sizeof q, "SELECT count(*) FROM reviews WHERE inspector = 'frida' AND"
                          " db_login = '%s'", login);
    CHECK_INT(db_count(c, q), 1);
    free(number);
    snprintf(q, sizeof q, "DROP OWNED BY %s; DROP ROLE %s", login, login);
    sql(c, q);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    bin = argv[1];
    db_create("review_history");
    store *st = db_store();
    fixture_store(st, "/nonexistent/parcels.gpkg");
    PGconn *c = db_connect();
    PGresult *r = db_rows(c, "SELECT session_user");
    char login[64];
    snprintf(login, sizeof login, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    /* the test plays several inspectors from one login: the agency's mapping */
    sql(c, "INSERT INTO inspector_logins SELECT session_user, n FROM unnest(ARRAY['anna', 'bob',"
           " 'carl', 'dora', 'eve', 'frida']) n");

    test_signature(c, login);
    test_supersede(c, login);
    test_needs_visit_and_defaults(c, login);
    test_database_rule(c, login);
    test_inspector_login(c);
    test_concurrent_reviews();
    test_review_without_login(c);

    PQfinish(c);
    store_close(st);
    db_drop();
    return test_summary();
}
