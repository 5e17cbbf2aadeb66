/* The inspector report in headless Chromium: it loads with no console message; each
 * filter, the search, the review filter and the order by risk work when the page is
 * opened with them in its hash (the DOM Chromium dumps has the other rows hidden);
 * #case= marks its row; the column headers are sticky (hidden on a phone, where rows are
 * cards); changing the hash of the open page, typing in the search box
 * and following the links (index -> case page -> back to the index's row) work (a
 * harness page drives the report in an iframe); at 1280 px and at 390 px (cards) the
 * index and a case page have no horizontal scroll; screenshots at both widths are
 * written to MOWCHECK_BINARY_DIR/tests/report/. Skips (77) where no Chromium is installed.
 *
 * usage: test_report_chromium CHROMIUM_BINARY
 *
 * Fixture (report_test.h), season 2026: flagged C-1 P-1 not_mowed P 0.05 (reviewed
 * mowed), C-2 P-2 inconclusive P 0.55, C-3 hostile inconclusive (no tile, no P), C-5
 * P-1 not_mowed P 0.05, C-7 P-MISSING inconclusive (no tile, no P). */
#define _GNU_SOURCE
#include "report.h"
#include "report_test.h"

static char dir[256], user_dir[300];
static const char *chromium;

static const char flags[] =
    "--no-sandbox --headless --disable-gpu --no-first-run --disable-background-networking"
    " --disable-component-update --disable-sync --allow-file-access-from-files";

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Runs Chromium on a page of dir with `hash`; returns the dumped DOM, *log its stderr. */
static char *dump(const char *page, const char *hash, char **log)
{
    char cmd[3000], out[400], err[400];
    snprintf(out, sizeof out, "%s/dom.html", dir);
    snprintf(err, sizeof err, "%s/chromium.log", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' %s --user-data-dir='%s' --enable-logging=stderr --v=0"
             " --virtual-time-budget=5000 --dump-dom 'file://%s/%s%s' >'%s' 2>'%s'",
             chromium, flags, user_dir, dir, page, hash, out, err);
    int st = system(cmd);
    CHECK_MSG(st == 0, "chromium exited %d: see %s", st, err);
    *log = slurp(err);
    return slurp(out);
}

static void check_quiet(const char *what, const char *log)
{
    /* no console message at all: our script logs nothing, so any is an error */
    CHECK_MSG(strstr(log, ":CONSOLE") == NULL && strstr(log, "Uncaught") == NULL,
              "%s: console output:\n%s", what, log);
}

/* Rows shown: rows minus those the script hid (Chromium serialises hidden as hidden=""). */
static char *check_filter(const char *hash, int shown)
{
    char *log = NULL, *dom = dump("report.html", hash, &log);
    int rows = count(dom, " data-outcome="), hidden = count(dom, "\" hidden=\"\"");
    CHECK_INT(rows, 5);
    CHECK_MSG(rows - hidden == shown, "%s: %d of %d rows shown, expected %d", hash, rows - hidden,
              rows, shown);
    char counter[64];
    snprintf(counter, sizeof counter, "<span id=\"shown\">%d</span>", shown);
    CHECK_MSG(strstr(dom, counter) != NULL, "%s: counter not %d", hash, shown);
    check_quiet(hash, log);
    free(log);
    return dom;
}

static void check_filters(void)
{
    free(check_filter("", 5));
    free(check_filter("#outcome=not_mowed", 2));
    free(check_filter("#outcome=inconclusive", 3));
    free(check_filter("#tile=35VLF", 3));
    free(check_filter("#tile=35vlf", 3)); /* any letter case */
    free(check_filter("#pmin=0.5", 1));
    free(check_filter("#outcome=not_mowed&pmin=0.5", 0));
    free(check_filter("#outcome=not_mowed&tile=35vlf&pmax=0.3", 2)); /* all three apply */
    free(check_filter("#outcome=NOT_MOWED", 2));
    free(check_filter("#review=none", 4));
    free(check_filter("#review=mowed", 1));
    free(check_filter("#review=any", 1));
    free(check_filter("#q=p-2", 1));
    free(check_filter("#q=C-5", 1));
    char *number = fixture_case("C-7", 2026), hash[200];
    snprintf(hash, sizeof hash, "#q=%s", number + 3); /* part of a case number */
    free(check_filter(hash, 1));
    /* #case= shows everything and marks the case's row */
    snprintf(hash, sizeof hash, "#case=%s", number);
    char *dom = check_filter(hash, 5), want[200];
    snprintf(want, sizeof want, "<tr id=\"case-%s\"", number);
    const char *row = strstr(dom, want), *end = row ? strchr(row, '>') : NULL;
    CHECK_MSG(end && memmem(row, (size_t)(end - row), "class=\"hl\"", 10) != NULL,
              "%s: row not marked", hash);
    CHECK_INT(count(dom, "class=\"hl\""), 1);
    free(dom);
    free(number);
}

/* Order by risk: the lowest P(mowed) first, not_mowed before inconclusive, no P last. */
static void check_risk_order(void)
{
    char *dom = check_filter("#sort=risk", 5);
    const char *order[] = {">C-1</td>", ">C-5</td>", ">C-2</td>"};
    const char *prev = dom;
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(dom, order[i]);
        CHECK_MSG(at && at >= prev, "sort=risk: %s out of order", order[i]);
        prev = at ? at : prev;
    }
    free(dom);
}

/* The harness: opens the report in an iframe of the given width and runs the steps;
 * each step's answer goes into <pre id="out">, one line each. */
static const char harness[] =
    "<!DOCTYPE html><html><body><pre id=\"out\"></pre>\n"
    "<iframe id=\"f\" style=\"width:%dpx;height:800px;border:0\" src=\"report.html\"></iframe>\n"
    "<script>\n"
    "var f=document.getElementById('f'),out=[],step=0;\n"
    "function d(){return f.contentDocument;}\n"
    "function shown(){return d().getElementById('shown').textContent;}\n"
    "function say(s){out.push(s);document.getElementById('out').textContent=out.join('\\n');}\n"
    "function wide(){var e=d().documentElement;return 'scroll '+e.scrollWidth+' of '+\n"
    " f.contentWindow.innerWidth;}\n"
    "function later(fn){setTimeout(fn,300);}\n"
    "f.onload=function(){var w=f.contentWindow;step++;\n"
    " if(step===1){say('load '+shown()+' '+wide());\n"
    "  say('header '+getComputedStyle(d().querySelector('#claims th')).position+' '+\n"
    "   getComputedStyle(d().querySelector('#claims thead')).display);\n"
    "  w.location.hash='#outcome=inconclusive&tile=35vlf';\n"
    "  later(function(){say('hash '+shown()+' '+d().getElementById('f-outcome').value+' '+\n"
    "    d().getElementById('f-tile').value);\n"
    "   var q=d().getElementById('f-q');q.value='p-2';q.dispatchEvent(new Event('input'));\n"
    "   say('search '+shown()+' '+w.location.hash);\n"
    "   w.location.hash='';\n"
    "   later(function(){say('cleared '+shown());\n"
    "    f.src=d().querySelector('#claims a').href;});});}\n"
    " else if(step===2){say('case '+d().title+' '+wide());\n"
    "  f.src=d().querySelector('a').href;}\n"
    " else if(step===3){later(function(){var r=d().querySelector('tr.hl');\n"
    "  say('back '+(r?r.id:'none')+' '+shown()+' '+w.location.hash);});}\n"
    "};\n"
    "</script></body></html>\n";

static char *run_harness(int width)
{
    char path[400];
    snprintf(path, sizeof path, "%s/harness.html", dir);
    FILE *h = fopen(path, "w");
    REQUIRE(h != NULL);
    fprintf(h, harness, width);
    fclose(h);
    char *log = NULL, *dom = dump("harness.html", "", &log);
    const char *a = strstr(dom, "<pre id=\"out\">"), *b = a ? strstr(a, "</pre>") : NULL;
    char *text = a && b ? strndup(a + 14, (size_t)(b - a - 14)) : strdup("");
    char what[64];
    snprintf(what, sizeof what, "harness at %d px", width);
    check_quiet(what, log);
    free(log);
    free(dom);
    return text;
}

static void line_has(const char *text, const char *needle, int width)
{
    CHECK_MSG(strstr(text, needle) != NULL, "at %d px: '%s' missing in:\n%s", width, needle,
              text);
}

/* "scroll W of V" with W <= V: no horizontal scroll. */
static void no_scroll(const char *text, const char *step, int width)
{
    const char *at = strstr(text, step);
    at = at ? strstr(at, "scroll ") : NULL;
    int scroll = 0, view = 0;
    CHECK_MSG(at && sscanf(at, "scroll %d of %d", &scroll, &view) == 2, "at %d px: no %s width",
              width, step);
    CHECK_MSG(view == width && scroll <= view, "at %d px: %s scrolls (%d of %d)", width, step,
              scroll, view);
}

static void check_interaction(int width)
{
    char *text = run_harness(width);
    char *c1 = fixture_case("C-1", 2026), *c2 = fixture_case("C-2", 2026), want[300];
    line_has(text, "load 5 ", width);
    no_scroll(text, "load", width);
    /* sticky column headers; on a phone the rows are cards and the header row is gone */
    line_has(text, width > 760 ? "header sticky table-header-group" : "header sticky none", width);
    line_has(text, "hash 1 inconclusive 35VLF", width); /* the open page followed the hash */
    line_has(text, "search 1 #q=p-2&amp;outcome=inconclusive&amp;tile=35VLF", width);
    line_has(text, "cleared 5", width);
    /* the first case link is the first row's (C-1), its page links back to its row */
    snprintf(want, sizeof want, "case Case %s", c1);
    line_has(text, want, width);
    no_scroll(text, "case ", width);
    snprintf(want, sizeof want, "back case-%s 5 #case=%s", c1, c1);
    line_has(text, want, width);
    free(c1);
    free(c2);
    free(text);
}

static void screenshot(int width, int height, const char *page)
{
    char shot[700], cmd[3000];
    snprintf(shot, sizeof shot, "%s/tests/report/report-%s-%d.png",
             getenv("MOWCHECK_BINARY_DIR") ? getenv("MOWCHECK_BINARY_DIR") : dir,
             strchr(page, '/') ? "case" : "index", width);
    unlink(shot);
    snprintf(cmd, sizeof cmd,
             "'%s' %s --user-data-dir='%s' --window-size=%d,%d --hide-scrollbars"
             " --virtual-time-budget=2000 --screenshot='%s' 'file://%s/%s' >/dev/null 2>&1",
             chromium, flags, user_dir, width, height, shot, dir, page);
    CHECK_INT(system(cmd), 0);
    GDALDatasetH ds = GDALOpen(shot, GA_ReadOnly);
    CHECK_MSG(ds != NULL, "no screenshot at %s", shot);
    if (ds) {
        CHECK_INT(GDALGetRasterXSize(ds), width);
        CHECK_STR(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "PNG");
        GDALClose(ds);
    }
    printf("screenshot: %s\n", shot);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    chromium = argv[1];
    if (access(chromium, X_OK) != 0)
        TEST_SKIP("no Chromium (install Debian's chromium)");
    db_create("report_chromium");
    snprintf(dir, sizeof dir, "/tmp/mowcheck-report-chromium-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(user_dir, sizeof user_dir, "%s/profile", dir);
    char parcels[400], path[400];
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    fixture_parcels(parcels);
    store *st = db_store();
    fixture_store(st, parcels);
    fixture_series();
    report_options o = {.season = 2026, .observed = {.min_valid_pixels = 1,
                                                     .min_valid_share = 0.5, .season = 2026}};
    snprintf(path, sizeof path, "%s/report.html", dir);
    size_t n = 0;
    REQUIRE(report_inspector_write(st, &o, path, &n) == MC_OK);
    REQUIRE(n == 5);

    check_filters();
    check_risk_order();
    check_interaction(1280);
    check_interaction(390);
    char *c2 = fixture_case("C-2", 2026), page[200];
    snprintf(page, sizeof page, "cases/%s.html", c2);
    free(c2);
    screenshot(1280, 900, "report.html");
    screenshot(390, 844, "report.html");
    screenshot(390, 844, page);

    store_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
