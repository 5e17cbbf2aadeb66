/* The inspector report's footer shows a run's joules per parcel-date from the summary
 * `mowcheck run` stores: the number where a counter was read, "not available (...)" or
 * "none: ..." where not (escaped like every outside string), and nothing for runs
 * that did not record it. */
#include "../client/client_test.h"
#include "report.h"

static char dir[64];

static void sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s: %s\n", q, PQresultErrorMessage(r));
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
}

/* Adds a run of `command` on day 2026-11-DD at 02:00 for 90 s with this summary. */
static void add_run(PGconn *c, const char *command, int day, const char *summary)
{
    char q[1024];
    snprintf(q, sizeof q,
             "INSERT INTO runs (command, status, started_at, ended_at, summary) VALUES ('%s', 'ok',"
             " '2026-11-%02d 02:00:00+00', '2026-11-%02d 02:01:30+00', '%s')",
             command, day, day, summary);
    sql(c, q);
}

/* The report's <li> of the latest run of command (malloc'd, "" where none). */
static char *footer_line(store *st, const char *command)
{
    char path[128];
    snprintf(path, sizeof path, "%s/report.html", dir);
    report_options o = {.season = 2026, .observed = {.min_valid_pixels = 1, .min_valid_share = 0.5}};
    size_t n = 1;
    int rc = report_inspector_write(st, &o, path, &n);
    if (rc != MC_OK)
        fprintf(stderr, "report: %s\n", mc_error_message());
    REQUIRE(rc == MC_OK);
    CHECK_INT(n, 0);
    char *html = slurp(path), needle[64];
    snprintf(needle, sizeof needle, "<li class=\"run\">%s started", command);
    const char *li = strstr(html, needle);
    char *line = strndup(li ? li : "", li ? strcspn(li, "\n") : 0);
    free(html);
    return line;
}

int main(void)
{
    db_create("report_footer");
    snprintf(dir, sizeof dir, "/tmp/mowcheck-footer-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    store *st = db_store();
    PGconn *c = db_connect();

    /* 25 J over 2000 parcel observations: 0.0125 J each */
    add_run(c, "run", 1, "{\"cpu_joules\": 25.0, \"joules\": 25.0, \"joules_per_parcel_date\": 0.0125,"
                         " \"joules_per_parcel_date_text\": \"0.0125 J\"}");
    add_run(c, "ingest", 1, "{\"scenes_new\": 4}");
    char *line = footer_line(st, "run");
    CHECK_STR(line, "<li class=\"run\">run started 2026-11-01 02:00:00 UTC (ok): 90.0 s, CPU energy"
                    " 25.0 J, 0.0125 J per parcel-date</li>");
    free(line);
    line = footer_line(st, "ingest"); /* a stage's own run: no per parcel-date */
    CHECK_STR(line, "<li class=\"run\">ingest started 2026-11-01 02:00:00 UTC (ok): 90.0 s, energy:"
                    " not available</li>");
    free(line);

    /* no counter: not available, never a number */
    add_run(c, "run", 2, "{\"cpu_joules\": null, \"joules\": null, \"joules_per_parcel_date\": null,"
                         " \"joules_per_parcel_date_text\": \"not available (no RAPL counters <b>)\"}");
    line = footer_line(st, "run");
    CHECK_STR(line, "<li class=\"run\">run started 2026-11-02 02:00:00 UTC (ok): 90.0 s, energy: not"
                    " available, energy per parcel-date: not available (no RAPL counters &lt;b&gt;)</li>");
    free(line);

    /* a reading but nothing written */
    add_run(c, "run", 3, "{\"cpu_joules\": 3.5, \"joules\": 3.5, \"joules_per_parcel_date\": null,"
                         " \"joules_per_parcel_date_text\": \"none: no parcel observations written\"}");
    line = footer_line(st, "run");
    CHECK_STR(line, "<li class=\"run\">run started 2026-11-03 02:00:00 UTC (ok): 90.0 s, CPU energy"
                    " 3.5 J, energy per parcel-date: none: no parcel observations written</li>");
    free(line);

    /* no counter, an estimate from CPU time: shown, and always labelled estimated */
    add_run(c, "run", 4, "{\"cpu_joules\": null, \"joules\": null, \"joules_per_parcel_date\": null,"
                         " \"joules_per_parcel_date_text\": \"not available (no RAPL)\","
                         " \"energy_estimate\": {\"basis\": \"estimated from CPU time, not measured\","
                         " \"joules\": 61.75, \"cpu_seconds\": 24.7, \"watts_per_core\": 2.5,"
                         " \"joules_per_parcel_date\": 0.0309}}");
    line = footer_line(st, "run");
    CHECK_STR(line, "<li class=\"run\">run started 2026-11-04 02:00:00 UTC (ok): 90.0 s, CPU energy"
                    " ~61.8 J (estimated from processor time, not measured), ~0.0309 J per"
                    " parcel-date (estimated from processor time, not measured)</li>");
    free(line);

    PQfinish(c);
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
