/* The inspector report in headless Chromium: it loads with no console message, the
 * filters work (driven by the page's #outcome=...&tile=...&pmin=... link form, read by
 * its inline script: the DOM Chromium dumps has the other rows hidden), and a
 * screenshot is written (MOWCHECK_BINARY_DIR/tests/report/report-screenshot.png).
 * Skips (77) where no Chromium is installed.
 *
 * usage: test_report_chromium CHROMIUM_BINARY
 *
 * Fixture (report_test.h), season 2026: flagged C-1 P-1 not_mowed P 0.05, C-2 P-2
 * inconclusive P 0.55, C-3 hostile inconclusive (no tile, no P), C-5 P-1 not_mowed,
 * C-7 P-MISSING inconclusive (no tile, no P). */
#include "report.h"
#include "report_test.h"

static char dir[256], user_dir[300];
static const char *chromium;

static const char flags[] =
    "--no-sandbox --headless --disable-gpu --no-first-run --disable-background-networking"
    " --disable-component-update --disable-sync";

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Runs Chromium on the report with `hash`; returns the dumped DOM, *log its stderr. */
static char *dump(const char *hash, char **log)
{
    char cmd[3000], out[400], err[400];
    snprintf(out, sizeof out, "%s/dom.html", dir);
    snprintf(err, sizeof err, "%s/chromium.log", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' %s --user-data-dir='%s' --enable-logging=stderr --v=0"
             " --virtual-time-budget=2000 --dump-dom 'file://%s/report.html%s' >'%s' 2>'%s'",
             chromium, flags, user_dir, dir, hash, out, err);
    int st = system(cmd);
    CHECK_MSG(st == 0, "chromium exited %d: see %s", st, err);
    *log = slurp(err);
    return slurp(out);
}

/* Rows shown: rows minus those the script hid (Chromium serialises hidden as hidden=""). */
static void check_filter(const char *hash, int shown)
{
    char *log = NULL, *dom = dump(hash, &log);
    int rows = count(dom, "<tr data-outcome="), hidden = count(dom, "\" hidden=\"\"");
    CHECK_INT(rows, 5);
    CHECK_MSG(rows - hidden == shown, "%s: %d of %d rows shown, expected %d", hash, rows - hidden,
              rows, shown);
    char counter[64];
    snprintf(counter, sizeof counter, "<span id=\"shown\">%d</span>", shown);
    CHECK_MSG(strstr(dom, counter) != NULL, "%s: counter not %d", hash, shown);
    /* no console message at all: our script logs nothing, so any is an error */
    CHECK_MSG(strstr(log, ":CONSOLE") == NULL && strstr(log, "Uncaught") == NULL,
              "%s: console output:\n%s", hash, log);
    free(dom);
    free(log);
}

static void check_screenshot(void)
{
    char shot[700], cmd[3000];
    snprintf(shot, sizeof shot, "%s/tests/report/report-screenshot.png",
             getenv("MOWCHECK_BINARY_DIR") ? getenv("MOWCHECK_BINARY_DIR") : dir);
    unlink(shot);
    snprintf(cmd, sizeof cmd,
             "'%s' %s --user-data-dir='%s' --window-size=1400,900 --hide-scrollbars"
             " --virtual-time-budget=2000 --screenshot='%s' 'file://%s/report.html'"
             " >/dev/null 2>&1",
             chromium, flags, user_dir, shot, dir);
    CHECK_INT(system(cmd), 0);
    GDALDatasetH ds = GDALOpen(shot, GA_ReadOnly);
    CHECK_MSG(ds != NULL, "no screenshot at %s", shot);
    if (ds) {
        CHECK_INT(GDALGetRasterXSize(ds), 1400);
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

    check_filter("", 5);
    check_filter("#outcome=not_mowed", 2);
    check_filter("#outcome=inconclusive", 3);
    check_filter("#tile=35VLF", 3);
    check_filter("#pmin=0.5", 1);
    check_filter("#outcome=not_mowed&pmin=0.5", 0);
    check_screenshot();

    store_close(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
