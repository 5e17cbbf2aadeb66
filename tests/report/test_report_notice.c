/* Farmer notices: one per case in HTML and text, in English and Estonian, with the
 * evidence dates and events of the stored series, the appeal deadline from the agency's
 * file (30 days: 2026-11-02 -> 2026-12-02; a copy saying 14: -> 2026-11-16), the
 * access-log command, hostile strings escaped in HTML, template errors naming the file
 * and line, and `mowcheck report --lang et`.
 *
 * usage: test_report_notice MOWCHECK_BINARY */
#include "report_notice.h"
#include "report_test.h"
#include "series.h"

static char dir[256], templates[600];

static char *notice(const char *lang, const char *claim, const char *ext)
{
    char *number = fixture_case(claim, 2026), path[800];
    snprintf(path, sizeof path, "%s/%s/%s.%s", dir, lang, number, ext);
    free(number);
    char *text = slurp(path); /* harness.h; "" where missing */
    CHECK_MSG(*text, "%s missing or empty", path);
    return text;
}

static size_t write_notices(store *st, const char *lang, const char *tdir, const char *sub)
{
    char out[600];
    snprintf(out, sizeof out, "%s/%s", dir, sub);
    REQUIRE(mkdir(out, 0777) == 0);
    report_notice_options o = {.template_dir = tdir, .lang = lang,
                               .notice_day = date_days_from_civil(2026, 11, 2),
                               .season = 2026, .out_dir = out,
                               .observed = {.min_valid_pixels = 1, .min_valid_share = 0.5,
                                            .season = 2026}};
    size_t n = 0;
    int rc = report_notices_write(st, &o, &n);
    if (rc != MC_OK)
        fprintf(stderr, "notices %s: %s\n", lang, mc_error_message());
    REQUIRE(rc == MC_OK);
    return n;
}

static void check_contains(const char *text, const char *needle, const char *what)
{
    CHECK_MSG(strstr(text, needle) != NULL, "%s: '%s' missing", what, needle);
}

static void check_english(void)
{
    char *t = notice("en", "C-1", "txt");
    char *number = fixture_case("C-1", 2026);
    check_contains(t, number, "C-1 txt");
    check_contains(t, "Parcel:        P-1", "C-1 txt");
    check_contains(t, "mowing between 2026-06-01 and 2026-08-31", "C-1 txt");
    check_contains(t, "images show no mowing", "C-1 txt");
    check_contains(t, "2026-06-01, 2026-06-11, 2026-07-01, 2026-07-21", "C-1 txt");
    check_contains(t, "Dates lost to cloud:                                2026-06-21, 2026-07-11",
                   "C-1 txt");
    check_contains(t, "an inspector found that the parcel was mowed", "C-1 txt");
    check_contains(t, "appeal until 2026-12-02 (30 days after this notice)", "C-1 txt");
    check_contains(t, "Quote case number ", "C-1 txt");
    check_contains(t, "appeals@pria.example.ee", "C-1 txt");
    check_contains(t, "mowcheck access-log --applicant AP-1", "C-1 txt");
    check_contains(t, hostile_note, "C-1 txt (plain text keeps the note as written)");
    free(number);
    free(t);
    t = notice("en", "C-2", "txt");
    check_contains(t, "mowing between 2026-06-11 and 2026-06-21 (confidence 0.91)", "C-2 txt");
    check_contains(t, "do not show clearly", "C-2 txt");
    check_contains(t, "not clear enough for an automatic approval", "C-2 txt (rule sentence)");
    check_contains(t, "not reviewed yet", "C-2 txt");
    free(t);
    t = notice("en", "C-7", "txt"); /* no observations at all */
    check_contains(t, "images of the parcel in the period: none", "C-7 txt");
    check_contains(t, "never had a clear view of the parcel", "C-7 txt (rule sentence)");
    free(t);
    t = notice("en", "C-3", "txt"); /* a rule with no sentence adds an empty line only */
    CHECK(strstr(t, "rule.") == NULL && strstr(t, "{{") == NULL);
    free(t);
    t = notice("en", "C-1", "html");
    CHECK(strstr(t, hostile_note) == NULL);
    check_contains(t, "Looked &lt;b&gt;fine&lt;/b&gt; &amp; &quot;mowed&quot;", "C-1 html");
    CHECK_INT(strstr(t, "<script") != NULL, 0);
    free(t);
    t = notice("en", "C-3", "html");
    CHECK(strstr(t, hostile_parcel) == NULL);
    check_contains(t, "P-&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;amp;",
                   "C-3 html");
    CHECK(strstr(t, "<script") == NULL);
    check_contains(t, "<html lang=\"en\">", "C-3 html");
    free(t);
}

static void check_estonian(void)
{
    char *t = notice("et", "C-2", "txt");
    check_contains(t, "niitmine 2026-06-11 kuni 2026-06-21 (kindlus 0.91)", "C-2 et txt");
    check_contains(t, "vaide kuni 2026-12-02 (30 päeva", "C-2 et txt");
    check_contains(t, "Juhtumi number", "C-2 et txt");
    check_contains(t, "ei ole automaatseks heakskiitmiseks piisavalt selge", "C-2 et txt (reegel)");
    check_contains(t, "mowcheck access-log --applicant AP-1", "C-2 et txt");
    free(t);
    t = notice("et", "C-1", "html");
    check_contains(t, "<html lang=\"et\">", "C-1 et html");
    check_contains(t, "inspektor leidis, et põld on niidetud", "C-1 et html");
    check_contains(t, "niitmist (või skeemi nõutud arvu niitmisi) ei olnud näha", "C-1 et html");
    free(t);
}

/* The deadline comes from agency.conf: a copy that says 14 days moves it. */
static void check_agency_file(store *st)
{
    char tdir[600], cmd[3000];
    snprintf(tdir, sizeof tdir, "%s/tpl", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && sed -i 's/^appeal_deadline_days = .*/"
                              "appeal_deadline_days = 14/' '%s/agency.conf'",
             templates, tdir, tdir);
    REQUIRE(system(cmd) == 0);
    CHECK_INT((long)write_notices(st, "en", tdir, "en14"), 5);
    char *t = notice("en14", "C-2", "txt");
    check_contains(t, "appeal until 2026-11-16 (14 days after this notice)", "14-day txt");
    free(t);
}

static void check_template_errors(void)
{
    report_var v[] = {{"a", "<1>"}};
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHECK_INT(report_render(m, "x {{a}} y", "t.html", v, 1, 1), MC_OK);
    fflush(m);
    CHECK_STR(buf, "x &lt;1&gt; y");
    CHECK_INT(report_render(m, "line 1\n{{nope}}", "t.html", v, 1, 1), MC_ERR);
    CHECK(strstr(mc_error_message(), "t.html") && strstr(mc_error_message(), "line 2") &&
          strstr(mc_error_message(), "nope"));
    CHECK_INT(report_render(m, "{{a", "t.txt", v, 1, 0), MC_ERR);
    fclose(m);
    free(buf);
}

static void check_cli(const char *bin)
{
    char out[600], cmd[1600], path[800];
    snprintf(out, sizeof out, "%s/cli", dir);
    snprintf(cmd, sizeof cmd, "'%s' report -o '%s' --season 2026 --lang et --notice-date 2026-11-02"
                              " --db '%s' 2>/dev/null", bin, out, db_dsn);
    CHECK_INT(system(cmd), 0);
    char *number = fixture_case("C-5", 2026);
    snprintf(path, sizeof path, "%s/notices/et/%s.txt", out, number);
    char *t = slurp(path);
    check_contains(t, "vaide kuni 2026-12-02", path);
    free(t);
    free(number);
    snprintf(cmd, sizeof cmd, "'%s' report -o '%s' --lang ../x --db '%s' 2>/dev/null", bin, out,
             db_dsn);
    int st = system(cmd);
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    db_create("report_notice");
    snprintf(dir, sizeof dir, "/tmp/mowcheck-report-notice-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(templates, sizeof templates, "%s/schemas/templates", getenv("MOWCHECK_SOURCE_DIR"));
    char parcels[400];
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    fixture_parcels(parcels);
    store *st = db_store();
    fixture_store(st, parcels);
    fixture_series();

    CHECK_INT((long)write_notices(st, "en", templates, "en"), fixture_flagged_count(2026));
    CHECK_INT((long)write_notices(st, "et", templates, "et"), fixture_flagged_count(2026));
    check_english();
    check_estonian();
    check_agency_file(st);
    check_template_errors();
    check_cli(argv[1]);

    store_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
