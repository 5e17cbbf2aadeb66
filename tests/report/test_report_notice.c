/* Farmer notices: one per case in HTML and text, in English and Estonian, for every
 * outcome (not_mowed, inconclusive) x review state (none, mowed, not_mowed,
 * needs_visit):
 *   not reviewed   asks for evidence by the evidence deadline (21 days), no appeal;
 *   mowed          payment goes ahead, no appeal, no deadline;
 *   not_mowed      the appeal until the appeal deadline (30 days);
 *   needs_visit    a visit, evidence asked for, no appeal.
 * No inspector name or note in any notice. The Estonian notice has Estonian dates
 * (DD.MM.YYYY), decimal commas, "Teie", "taotlusaasta" and none of a list of English
 * words. Notices are recorded when first issued: a later run (another date) writes
 * them byte for byte the same; a new review makes a new notice with the new date.
 * Sender, legal basis, contact and data-tracker wording come from agency.conf; hostile
 * strings are escaped in HTML; template errors name the file and line.
 *
 * Rounds (fixture in report_test.h):
 *   1 (2026-11-02)  C-1 not_mowed/mowed, C-2 inconclusive/-, C-3 inconclusive/-,
 *                   C-5 not_mowed/-, C-7 inconclusive/-; again on 2026-11-20: the same files
 *   1b (2026-11-10) a later decision makes C-5 inconclusive: a new notice for it only
 *   2 (2026-11-20)  + reviews C-2 mowed, C-3 not_mowed, C-7 needs_visit, C-5 needs_visit
 *   3 (2026-12-01)  + review C-5 not_mowed
 *
 * usage: test_report_notice MOWCHECK_BINARY */
#include <ctype.h>

#include "report_notice.h"
#include "report_test.h"
#include "series.h"

static char dir[256], templates[600];

static char *notice(const char *sub, const char *claim, const char *ext)
{
    char *number = fixture_case(claim, 2026), path[800];
    snprintf(path, sizeof path, "%s/%s/%s.%s", dir, sub, number, ext);
    free(number);
    char *text = slurp(path); /* harness.h; "" where missing */
    CHECK_MSG(*text, "%s missing or empty", path);
    return text;
}

static int write_notices_rc(store *st, const char *lang, const char *tdir, const char *sub,
                            int32_t day, size_t *n)
{
    char out[600];
    snprintf(out, sizeof out, "%s/%s", dir, sub);
    REQUIRE(mkdir(out, 0777) == 0);
    report_notice_options o = {.template_dir = tdir, .lang = lang, .notice_day = day,
                               .season = 2026, .out_dir = out,
                               .observed = {.min_valid_pixels = 1, .min_valid_share = 0.5,
                                            .season = 2026}};
    *n = 0;
    return report_notices_write(st, &o, n);
}

static size_t write_notices(store *st, const char *lang, const char *tdir, const char *sub,
                            int32_t day)
{
    size_t n;
    int rc = write_notices_rc(st, lang, tdir, sub, day, &n);
    if (rc != MC_OK)
        fprintf(stderr, "notices %s: %s\n", lang, mc_error_message());
    REQUIRE(rc == MC_OK);
    return n;
}

static void contains(const char *text, const char *needle, const char *what)
{
    CHECK_MSG(strstr(text, needle) != NULL, "%s: '%s' missing", what, needle);
}

static void lacks(const char *text, const char *needle, const char *what)
{
    CHECK_MSG(strstr(text, needle) == NULL, "%s: '%s' present", what, needle);
}

/* ---- what each state says, per language ---- */
typedef struct state_words {
    const char *lang, *state;
    const char *must[3];    /* %s: the deadline where the state has one */
    const char *never[3];
} state_words;

static const state_words expected_words[] = {
    {"en", "open", {"This is not a decision.", "please send us evidence by %s (21 days",
                    "You do not need to appeal"}, {"appeal until", "payment for this parcel goes"}},
    {"en", "mowed", {"found that the parcel was mowed. Your payment for this parcel goes ahead",
                     "Nothing more is needed from you."}, {"can appeal", "evidence by"}},
    {"en", "not_mowed", {"confirmed that the parcel was not mowed", "This decision affects your",
                         "you can appeal until %s (30 days after this notice)"},
     {"evidence by", "You do not need to appeal"}},
    {"en", "needs_visit", {"will visit the parcel", "please send it by %s (21 days"},
     {"can appeal"}},
    {"et", "open", {"See ei ole otsus.", "palume saata meile tõendid hiljemalt %s (21 päeva",
                    "Vaiet ei ole vaja esitada"}, {"vaide hiljemalt", "makstakse välja"}},
    {"et", "mowed", {"leidis, et põld on niidetud. Teie toetus selle põllu eest makstakse välja",
                     "Teilt ei ole rohkem midagi vaja."}, {"vaie", "tõendid hiljemalt"}},
    {"et", "not_mowed", {"kinnitas, et põldu ei niidetud", "See otsus mõjutab Teie toetust",
                         "võite esitada vaide hiljemalt %s (30 päeva"},
     {"tõendid hiljemalt", "Vaiet ei ole vaja"}},
    {"et", "needs_visit", {"kontrollib põldu kohapeal", "palume saata need hiljemalt %s (21 päeva"},
     {"vaide"}},
};

/* English words that must not appear in an Estonian notice (whole words; the data in
 * the fixture, such as GRASS-1CUT or the e-mail address, holds none of them). */
static const char *const english_words[] = {
    "the", "and", "of", "to", "is", "was", "not", "your", "you", "this", "that", "with",
    "by", "for", "in", "at", "be", "has", "notice", "parcel", "mowing", "mowed",
    "inspector", "payment", "evidence", "appeal", "case", "claim", "season", "year", "date",
    "dates", "none", "reviewed", "review", "yet", "details", "between", "confidence",
    "images", "satellite", "period", "required", "found", "until", "days", "what", "we",
    "who", "data", "questions", "legal", "basis", "scheme", "clear", "cloud", "seen", "send",
    "please", "decision", "visit", "automatic", "phone", "working", "board", "regulation",
    "article", "act", "view", "portal", "tracker", NULL};

/* The visible words of a notice: HTML without its style, tags and character references. */
static void check_no_english(const char *text, const char *what)
{
    char *t = strdup(text);
    REQUIRE(t != NULL);
    char *style = strstr(t, "<style>"), *style_end = style ? strstr(style, "</style>") : NULL;
    if (style && style_end)
        memset(style, ' ', (size_t)(style_end - style));
    for (char *p = t; *p; p++) {
        char *end = *p == '<' ? strchr(p, '>') : *p == '&' ? strchr(p, ';') : NULL;
        if (end)
            memset(p, ' ', (size_t)(end - p + 1));
    }
    for (char *p = t; *p;) {
        if (!isalpha((unsigned char)*p) && (unsigned char)*p < 0x80) {
            p++;
            continue;
        }
        char word[64];
        size_t n = 0;
        for (; *p && (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80); p++)
            if (n + 1 < sizeof word)
                word[n++] = (char)tolower((unsigned char)*p);
        word[n] = '\0';
        for (int i = 0; english_words[i]; i++)
            CHECK_MSG(strcmp(word, english_words[i]) != 0, "%s: English word '%s'", what, word);
    }
    free(t);
}

/* The notice of claim in sub/ says what its state says, with the deadline in the
 * language's date format. */
static void check_state(const char *sub, const char *lang, const char *claim, const char *state,
                        const char *deadline)
{
    const state_words *w = NULL;
    for (size_t i = 0; i < sizeof expected_words / sizeof *expected_words; i++)
        if (strcmp(expected_words[i].lang, lang) == 0 && strcmp(expected_words[i].state, state) == 0)
            w = &expected_words[i];
    REQUIRE(w != NULL);
    static const char *const exts[] = {"txt", "html"};
    for (int e = 0; e < 2; e++) {
        char what[200];
        snprintf(what, sizeof what, "%s %s %s (%s)", sub, claim, exts[e], state);
        char *t = notice(sub, claim, exts[e]);
        for (int i = 0; i < 3 && w->must[i]; i++) {
            char want[300];
            snprintf(want, sizeof want, w->must[i], deadline);
            contains(t, want, what);
        }
        for (int i = 0; i < 3 && w->never[i]; i++)
            lacks(t, w->never[i], what);
        /* never the inspector's name or internal note */
        lacks(t, "inspector-1", what);
        lacks(t, "Looked", what);
        lacks(t, "Reason for", what); /* the decision's internal reason text */
        if (strcmp(lang, "et") == 0)
            check_no_english(t, what);
        free(t);
    }
}

/* Whether text holds a date written YYYY-MM-DD. */
static int has_iso_date(const char *text)
{
    static const char pattern[] = "dddd-dd-dd";
    for (const char *p = text; *p; p++) {
        size_t i = 0;
        while (pattern[i] && p[i] &&
               (pattern[i] == 'd' ? isdigit((unsigned char)p[i]) : p[i] == pattern[i]))
            i++;
        if (!pattern[i])
            return 1;
    }
    return 0;
}

static void check_settings_and_formats(void)
{
    char *t = notice("r1-en", "C-2", "txt");
    contains(t, "mowing between 2026-06-11 and 2026-06-21 (confidence 0.91)", "C-2 txt");
    contains(t, "do not show clearly", "C-2 txt");
    contains(t, "not clear enough for an automatic approval", "C-2 txt (rule sentence)");
    contains(t, "Agricultural Registers and Information Board", "C-2 txt (sender)");
    contains(t, "Legal basis: Regulation (EU) 2021/2116", "C-2 txt");
    contains(t, "info@pria.example.ee", "C-2 txt (contact)");
    contains(t, "Data Tracker view of the state portal", "C-2 txt (data tracker)");
    lacks(t, "access-log", "C-2 txt");
    contains(t, "NOTICE ON YOUR GRASSLAND CLAIM                                  2026-11-02",
             "C-2 txt");
    free(t);
    t = notice("r1-en", "C-1", "txt");
    contains(t, "Parcel:        P-1", "C-1 txt");
    contains(t, "2026-06-01, 2026-06-11, 2026-07-01, 2026-07-21", "C-1 txt");
    contains(t, "Dates lost to cloud:                                2026-06-21, 2026-07-11",
             "C-1 txt");
    free(t);
    t = notice("r1-en", "C-7", "txt"); /* no observations at all */
    contains(t, "images of the parcel in the period: none", "C-7 txt");
    contains(t, "never had a clear view of the parcel", "C-7 txt (rule sentence)");
    free(t);
    t = notice("r1-et", "C-2", "txt");
    contains(t, "niitmine 11.06.2026 kuni 21.06.2026 (kindlus 0,91)", "C-2 et txt");
    contains(t, "niitmine ajavahemikus 01.06.2026 kuni 31.08.2026", "C-2 et txt");
    contains(t, "taotlusaasta 2026", "C-2 et txt");
    contains(t, "TAOTLUSE KOHTA                            02.11.2026", "C-2 et txt");
    contains(t, "Põllumajanduse Registrite ja Informatsiooni Amet", "C-2 et txt (sender)");
    contains(t, "riigiportaali andmejälgija vaates", "C-2 et txt (data tracker)");
    contains(t, "Õiguslik alus: Euroopa Parlamendi", "C-2 et txt");
    lacks(t, "hooaeg", "C-2 et txt");
    CHECK_MSG(!has_iso_date(t), "C-2 et txt: an ISO date");
    free(t);
    t = notice("r1-et", "C-1", "html");
    contains(t, "<html lang=\"et\">", "C-1 et html");
    contains(t, "inspektor leidis, et põld on niidetud", "C-1 et html");
    free(t);
}

static void check_escaping(void)
{
    char *t = notice("r1-en", "C-3", "html");
    lacks(t, hostile_parcel, "C-3 html");
    contains(t, "P-&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;amp;", "C-3 html");
    lacks(t, "<script", "C-3 html");
    contains(t, "<html lang=\"en\">", "C-3 html");
    free(t);
    t = notice("r1-en", "C-3", "txt"); /* a rule with no sentence adds an empty line only */
    CHECK(strstr(t, "rule.") == NULL && strstr(t, "{{") == NULL);
    free(t);
}

/* Every file of dir a is byte for byte the same in dir b. */
static void check_same_files(const char *a, const char *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "diff -r '%s/%s' '%s/%s' >&2", dir, a, dir, b);
    CHECK_MSG(system(cmd) == 0, "notices of %s and %s differ", a, b);
}

static void review(store *st, const char *claim, const char *verdict)
{
    char *number = fixture_case(claim, 2026);
    int rc = store_review_add(st, number, verdict, "inspector-1", "Looked at it");
    CHECK_MSG(rc == MC_OK, "review %s: %s", claim, mc_error_message());
    free(number);
}

static long notice_rows(const char *where)
{
    PGconn *c = db_connect();
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*) FROM notices WHERE %s", where);
    long n = db_count(c, q);
    PQfinish(c);
    return n;
}

/* A later run decides C-5 anew (inconclusive now): a new notice, dated that day; the
 * other cases keep theirs. */
static void check_new_decision(store *st)
{
    int64_t run_id;
    REQUIRE(store_run_begin(st, "decide", &run_id) == MC_OK);
    REQUIRE(store_decide_begin(st) == MC_OK);
    store_decision d = {
        .claim_id = "C-5", .parcel_id = "P-1", .season = 2026, .applicant = "AP-1",
        .scheme = "GRASS-1CUT", .window_start = "2026-06-01", .window_end = "2026-08-31",
        .min_mowings = 1, .outcome = "inconclusive", .rule = "coverage_gap",
        .reason_json = "{\"test\": true}", .reason_text = "Reason for C-5: a gap",
        .model_version = "model-test@2", .run_id = run_id, .as_of = "2026-11-09"};
    store_decision_effect eff;
    char number[32];
    REQUIRE(store_decision_put(st, &d, &eff, number, sizeof number) == MC_OK);
    REQUIRE(store_decide_commit(st) == MC_OK);
    REQUIRE(store_run_end(st, run_id, "ok", NULL) == MC_OK);
    CHECK_INT(eff, STORE_DECISION_CHANGED);
    write_notices(st, "en", templates, "r1-changed", date_days_from_civil(2026, 11, 10));
    char *t = notice("r1-changed", "C-5", "txt");
    contains(t, "GRASSLAND CLAIM                                  2026-11-10", "C-5 (new decision)");
    contains(t, "do not show clearly", "C-5 (new decision)");
    contains(t, "long spell without any clear satellite view", "C-5 (new decision)");
    free(t);
    t = notice("r1-changed", "C-2", "txt");
    contains(t, "GRASSLAND CLAIM                                  2026-11-02", "C-2 (unchanged)");
    free(t);
    CHECK_INT(notice_rows("lang = 'en'"), fixture_flagged_count(2026) + 1);
}

static void check_rounds(store *st)
{
    int32_t day1 = date_days_from_civil(2026, 11, 2), day2 = date_days_from_civil(2026, 11, 20),
            day3 = date_days_from_civil(2026, 12, 1);
    long flagged = fixture_flagged_count(2026);
    CHECK_INT((long)write_notices(st, "en", templates, "r1-en", day1), flagged);
    CHECK_INT((long)write_notices(st, "et", templates, "r1-et", day1), flagged);
    CHECK_INT(notice_rows("issued_on = '2026-11-02'"), 2 * flagged);
    for (int k = 0; k < 2; k++) {
        const char *lang = k ? "et" : "en", *sub = k ? "r1-et" : "r1-en";
        check_state(sub, lang, "C-1", "mowed", "");
        check_state(sub, lang, "C-2", "open", k ? "23.11.2026" : "2026-11-23");
        check_state(sub, lang, "C-5", "open", k ? "23.11.2026" : "2026-11-23");
    }
    check_settings_and_formats();
    check_escaping();
    /* the same run another day: nothing re-dated, every file the same */
    write_notices(st, "en", templates, "r1-en-again", day2);
    write_notices(st, "et", templates, "r1-et-again", day2);
    check_same_files("r1-en", "r1-en-again");
    check_same_files("r1-et", "r1-et-again");
    CHECK_INT(notice_rows("true"), 2 * flagged);
    check_new_decision(st);

    review(st, "C-2", "mowed");
    review(st, "C-3", "not_mowed");
    review(st, "C-7", "needs_visit");
    review(st, "C-5", "needs_visit");
    write_notices(st, "en", templates, "r2-en", day2);
    write_notices(st, "et", templates, "r2-et", day2);
    for (int k = 0; k < 2; k++) {
        const char *lang = k ? "et" : "en", *sub = k ? "r2-et" : "r2-en";
        check_state(sub, lang, "C-1", "mowed", ""); /* unchanged: still dated round 1 */
        check_state(sub, lang, "C-2", "mowed", "");
        check_state(sub, lang, "C-3", "not_mowed", k ? "20.12.2026" : "2026-12-20");
        check_state(sub, lang, "C-7", "needs_visit", k ? "11.12.2026" : "2026-12-11");
        check_state(sub, lang, "C-5", "needs_visit", k ? "11.12.2026" : "2026-12-11");
    }
    char *t = notice("r2-en", "C-1", "txt");
    contains(t, "2026-11-02", "C-1 r2 (first issued in round 1)");
    free(t);
    t = notice("r2-en", "C-2", "txt");
    contains(t, "GRASSLAND CLAIM                                  2026-11-20", "C-2 r2 (new)");
    free(t);
    CHECK_INT(notice_rows("true"), 2 * flagged + 1 + 2 * 4);

    review(st, "C-5", "not_mowed"); /* after a visit: no --supersede needed */
    write_notices(st, "en", templates, "r3-en", day3);
    write_notices(st, "et", templates, "r3-et", day3);
    check_state("r3-en", "en", "C-5", "not_mowed", "2026-12-31");
    check_state("r3-et", "et", "C-5", "not_mowed", "31.12.2026");
    check_state("r3-et", "et", "C-7", "needs_visit", "11.12.2026"); /* as issued in round 2 */
}

/* The deadlines and settings come from agency.conf (a copy in a language folder "xx",
 * so that its notices are issued anew): 14 days moves the appeal deadline, and a
 * missing setting is named. */
static void check_agency_file(store *st)
{
    char tdir[600], cmd[5000];
    snprintf(tdir, sizeof tdir, "%s/tpl", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && cp -r '%s/en' '%s/xx' && sed -i"
                              " 's/^appeal_deadline_days = .*/appeal_deadline_days = 14/' "
                              "'%s/agency.conf' && sed -i 's/^\\([a-z_]*\\)\\.en = /\\1.xx = /' '%s/agency.conf'",
             templates, tdir, tdir, tdir, tdir, tdir);
    REQUIRE(system(cmd) == 0);
    write_notices(st, "xx", tdir, "xx", date_days_from_civil(2026, 11, 2));
    char *t = notice("xx", "C-5", "txt");
    contains(t, "appeal until 2026-11-16 (14 days after this notice)", "14-day txt");
    free(t);
    snprintf(cmd, sizeof cmd, "sed -i '/^legal_basis/d' '%s/agency.conf'", tdir);
    REQUIRE(system(cmd) == 0);
    size_t n;
    CHECK_INT(write_notices_rc(st, "xx", tdir, "xx-bad", date_days_from_civil(2026, 11, 2), &n),
              MC_ERR);
    CHECK(strstr(mc_error_message(), "agency.conf: no 'legal_basis.xx'") != NULL);
}

/* The batch role (mowcheck report) records notices; the inspector role only reads them;
 * nobody changes one. */
static void check_roles(void)
{
    static const char copy[] =
        "INSERT INTO notices (case_number, lang, decision_id, review_id, state, issued_on,"
        " deadline, content_sha256, body_text, body_html) SELECT case_number, 'zz', decision_id,"
        " review_id, state, issued_on, deadline, content_sha256, body_text, body_html"
        " FROM notices WHERE lang = 'en' LIMIT 1";
    PGconn *c = db_connect();
    sql(c, "SET ROLE mowcheck_batch");
    sql(c, copy);
    PGresult *r = PQexec(c, "UPDATE notices SET issued_on = issued_on + 1");
    CHECK(strstr(PQresultErrorMessage(r), "permission denied") != NULL);
    PQclear(r);
    sql(c, "RESET ROLE");
    sql(c, "SET ROLE mowcheck_inspector");
    CHECK(db_count(c, "SELECT count(*) FROM notices WHERE lang = 'zz'") == 1);
    r = PQexec(c, copy);
    CHECK(strstr(PQresultErrorMessage(r), "permission denied") != NULL);
    PQclear(r);
    sql(c, "RESET ROLE");
    PQfinish(c);
}

/* A recorded notice changed behind mowcheck's back is named, not written. */
static void check_tampered(store *st)
{
    PGconn *c = db_connect();
    sql(c, "ALTER TABLE notices DISABLE TRIGGER notices_append_only");
    sql(c, "UPDATE notices SET body_text = body_text || 'x' WHERE lang = 'en' AND case_number ="
           " (SELECT case_number FROM cases WHERE claim_id = 'C-1')");
    sql(c, "ALTER TABLE notices ENABLE TRIGGER notices_append_only");
    CHECK(db_count(c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'notices_append_only'") == 1);
    PGresult *r = PQexec(c, "DELETE FROM notices");
    CHECK(strstr(PQresultErrorMessage(r), "append-only") != NULL);
    PQclear(r);
    PQfinish(c);
    size_t n;
    CHECK_INT(write_notices_rc(st, "en", templates, "tampered", date_days_from_civil(2026, 12, 1),
                               &n), MC_ERR);
    CHECK(strstr(mc_error_message(), "1 notice(s) not written") != NULL);
    CHECK_INT((long)n, fixture_flagged_count(2026) - 1);
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

/* mowcheck report --lang et twice, days apart: the same notices. */
static void check_cli(const char *bin)
{
    char cmd[1600], path[800];
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "'%s' report -o '%s/cli%d' --season 2026 --lang et"
                                  " --notice-date 2026-12-0%d --db '%s' 2>/dev/null",
                 bin, dir, k, 3 + k, db_dsn);
        CHECK_INT(system(cmd), 0);
    }
    check_same_files("cli0/notices/et", "cli1/notices/et");
    char *number = fixture_case("C-5", 2026);
    snprintf(path, sizeof path, "%s/cli0/notices/et/%s.txt", dir, number);
    char *t = slurp(path);
    contains(t, "vaide hiljemalt 31.12.2026", path);
    free(t);
    free(number);
    snprintf(cmd, sizeof cmd, "'%s' report -o '%s/cli0' --lang ../x --db '%s' 2>/dev/null", bin,
             dir, db_dsn);
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

    check_rounds(st);
    check_agency_file(st);
    check_template_errors();
    check_cli(argv[1]);
    check_roles();
    check_tampered(st);

    store_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
