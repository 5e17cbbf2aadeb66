/* `mowcheck report`: the inspector report and the GIS exports of the flagged claims in
 * one folder; and `mowcheck export flagged` (called from cmd_export.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "report.h"
#include "report_gis.h"
#include "report_notice.h"
#include "series.h"
#include "store.h"

int cmd_export_flagged(const struct mc_settings *set, const char *output, int season,
                       const char *format, const char *parcels)
{
    report_gis_options o = {.season = season, .parcels_path = parcels, .output = output,
                            .observed = {.min_valid_pixels = set->min_valid_pixels,
                                         .min_valid_share = set->min_valid_share,
                                         .season = season}};
    if (report_gis_format_parse(format ? format : "geojson", &o.format) != MC_OK) {
        log_error("export flagged: %s", mc_error_message());
        return EXIT_USAGE;
    }
    /* the id field of a file given here is the setting; the store's file keeps its own */
    if (parcels)
        o.id_field = set->id_field;
    store *st;
    if (cli_open_store(set, &st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a write error, not a death */
    size_t n = 0;
    store_report_prefetch *prefetch = NULL;
    int rc = store_report_prefetch_load(st, season, &o.observed, &prefetch);
    o.prefetch = prefetch;
    if (rc == MC_OK)
        rc = report_flagged_export(st, &o, &n);
    store_report_prefetch_free(prefetch);
    if (rc != MC_OK)
        log_error("export flagged: %s", mc_error_message());
    else
        log_info("export flagged: %zu flagged claim(s) written to %s", n,
                 output ? output : "stdout");
    store_close(st);
    return rc == MC_OK ? EXIT_OK : EXIT_FAILURE_RUN;
}

static const char usage_text[] =
    "usage: mowcheck report [-o DIR] [--season YEAR] [--lang en|et] [--parcels FILE]\n"
    "       [--notice-date YYYY-MM-DD] [--templates DIR]\n\n"
    "Writes into DIR (default ./mowcheck-report):\n"
    "  report.html      the inspector report's index: every flagged claim (not_mowed,\n"
    "                   inconclusive) with its case, outcome, P(mowed), review and\n"
    "                   reason; filters, search and a map of the flagged parcels\n"
    "  cases/CASE.html  one page per case: NDVI time line, image chips\n"
    "  flagged.geojson  the flagged claims' parcels for GIS (EPSG:4326)\n"
    "  flagged.gpkg     the same as a GeoPackage\n"
    "  flagged.csv      the same as CSV with a wkt column; flagged.prj, .csvt and\n"
    "                   flagged.vrt (the CSV with its CRS, for ogrinfo and QGIS)\n"
    "  notices/LANG/CASE.html, CASE.txt   the farmer's notice of every case, from the\n"
    "                   templates (schemas/templates: LANG/ and agency.conf with the\n"
    "                   deadlines and the agency's details; --templates DIR or\n"
    "                   MOWCHECK_TEMPLATE_DIR); a notice is recorded when first issued\n"
    "                   and written unchanged by later runs\n"
    "--lang sets the language of the report and of the notices.\n"
    "The parcel file is the one of the last ingest unless --parcels is given.\n"
    "Exit 0: all written; 1: the report is written but a GIS export or the notices are\n"
    "not; 2: bad arguments; 3: no report.";

typedef struct report_args {
    const char *dir, *season, *parcels, *lang, *notice_date, *templates;
} report_args;

static int report_season(const char *text, int *season)
{
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text)
        return MC_OK;
    if (errno || *end || end == text || v < 1900 || v > 9999)
        return mc_fail("--season: '%s' is not a year", text);
    *season = (int)v;
    return MC_OK;
}

static int report_exports(store *st, const mc_settings *set, const report_args *a,
                          const report_options *ro)
{
    static const char *const names[] = {"flagged.geojson", "flagged.csv", "flagged.gpkg"};
    static const report_gis_format formats[] = {REPORT_GIS_GEOJSON, REPORT_GIS_CSV,
                                                REPORT_GIS_GPKG};
    int code = EXIT_OK;
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", a->dir, names[k]);
        report_gis_options o = {.season = ro->season, .parcels_path = a->parcels,
                                .id_field = a->parcels ? set->id_field : NULL,
                                .format = formats[k], .output = path,
                                .observed = ro->observed, .prefetch = ro->prefetch};
        size_t n;
        if (report_flagged_export(st, &o, &n) != MC_OK) {
            log_error("report: %s: %s", path, mc_error_message());
            code = EXIT_ATTENTION;
        } else {
            log_info("report: %s: %zu flagged claim(s)", path, n);
        }
    }
    return code;
}

static int report_notices(store *st, const report_args *a, const report_options *ro)
{
    report_notice_options o = {.lang = a->lang, .season = ro->season, .observed = ro->observed,
                               .prefetch = ro->prefetch};
    char templates[4096], dir[4200];
    if (report_template_dir(a->templates, templates, sizeof templates) != MC_OK) {
        log_error("report: %s", mc_error_message());
        return EXIT_ATTENTION;
    }
    o.template_dir = templates;
    if (a->notice_date) {
        if (date_parse(a->notice_date, &o.notice_day) != MC_OK) {
            log_error("report: --notice-date '%s' is not YYYY-MM-DD", a->notice_date);
            return EXIT_USAGE;
        }
    } else {
        o.notice_day = (int32_t)(time(NULL) / 86400); /* today, UTC */
    }
    snprintf(dir, sizeof dir, "%s/notices", a->dir);
    int made = mkdir(dir, 0777) == 0 || errno == EEXIST;
    snprintf(dir, sizeof dir, "%s/notices/%s", a->dir, a->lang);
    if (!made || (mkdir(dir, 0777) != 0 && errno != EEXIST)) {
        log_error("report: folder %s: %s", dir, strerror(errno));
        return EXIT_FAILURE_RUN;
    }
    o.out_dir = dir;
    size_t n;
    if (report_notices_write(st, &o, &n) != MC_OK) {
        log_error("report: notices: %s", mc_error_message());
        return EXIT_ATTENTION;
    }
    log_info("report: %s: %zu notice(s) (HTML and text)", dir, n);
    return EXIT_OK;
}

/* A language without templates is refused before anything is written. */
static int check_lang(const report_args *a)
{
    char templates[4096], dir[4200];
    struct stat st;
    if (report_template_dir(a->templates, templates, sizeof templates) != MC_OK)
        return mc_fail_wrap("report");
    snprintf(dir, sizeof dir, "%s/%s", templates, a->lang);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mc_fail("report: --lang %s: no notice templates for it (%s)", a->lang, dir);
    return MC_OK;
}

static int report_all(const mc_settings *set, const report_args *a, int season)
{
    if (mkdir(a->dir, 0777) != 0 && errno != EEXIST) {
        log_error("report: folder %s: %s", a->dir, strerror(errno));
        return EXIT_FAILURE_RUN;
    }
    store *st;
    if (cli_open_store(set, &st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    report_options o = {.season = season,
                        .observed = {.min_valid_pixels = set->min_valid_pixels,
                                     .min_valid_share = set->min_valid_share,
                                     .season = season},
                        .chips = 1, .parcels_path = a->parcels,
                        .id_field = a->parcels ? set->id_field : NULL,
                        .template_dir = a->templates, .lang = a->lang};
    /* The index, the exports and the notices read every claim's detail: read once. */
    store_report_prefetch *prefetch = NULL;
    if (store_report_prefetch_load(st, season, &o.observed, &prefetch) != MC_OK) {
        log_error("report: %s", mc_error_message());
        store_close(st);
        return EXIT_FAILURE_RUN;
    }
    o.prefetch = prefetch;
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", a->dir);
    size_t n;
    int code = EXIT_OK;
    if (report_inspector_write(st, &o, path, &n) != MC_OK) {
        log_error("report: %s", mc_error_message());
        code = EXIT_FAILURE_RUN;
    } else {
        log_info("report: %s: %zu flagged claim(s)", path, n);
        code = report_exports(st, set, a, &o);
        int c = report_notices(st, a, &o);
        code = c > code ? c : code;
    }
    store_report_prefetch_free(prefetch);
    store_close(st);
    return code;
}

int cmd_report(int argc, char **argv)
{
    report_args a = {.dir = "mowcheck-report", .lang = "en"};
    const cli_option options[] = {
        {"output", &a.dir, NULL, "DIR: write here (also -o DIR; default ./mowcheck-report)"},
        {"season", &a.season, NULL, "YEAR: only this season's claims (default: all)"},
        {"parcels", &a.parcels, NULL, "FILE: the parcel file (default: the last ingest's)"},
        {"lang", &a.lang, NULL, "en|et: the report's and the notices' language (default en)"},
        {"notice-date", &a.notice_date, NULL,
         "YYYY-MM-DD: the date of notices issued now (default today)"},
        {"templates", &a.templates, NULL, "DIR: the notice templates (default schemas/templates)"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char **positional = calloc((size_t)argc + 1, sizeof *positional);
    if (!positional)
        return EXIT_FAILURE_RUN;
    int n_pos = 0, code = EXIT_USAGE, season = 0;
    int parsed = cli_parse(argc, argv, usage_text, options, &set, positional, &n_pos);
    if (parsed == CLI_HELP)
        code = EXIT_OK;
    if (parsed != CLI_OK)
        goto done;
    /* cli_parse leaves short options to the command: -o DIR arrives as two positionals. */
    for (int i = 0; i < n_pos; i++) {
        if (strcmp(positional[i], "-o") == 0 && i + 1 < n_pos) {
            a.dir = positional[++i];
        } else {
            log_error("report: unexpected argument '%s' (see mowcheck report --help)",
                      positional[i]);
            goto done;
        }
    }
    for (const char *p = a.lang; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '-' || *p == '_')) {
            log_error("report: --lang '%s' is not a language code (en, et, ...)", a.lang);
            goto done;
        }
    if (report_season(a.season, &season) != MC_OK || check_lang(&a) != MC_OK) {
        log_error("%s", mc_error_message());
        goto done;
    }
    code = report_all(&set, &a, season);
done:
    free(positional);
    settings_free(&set);
    return code;
}
