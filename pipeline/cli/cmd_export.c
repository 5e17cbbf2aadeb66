/* mowcheck export series [-o FILE] [--season YEAR] */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gdal.h>
#include <gdal_utils.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "store.h"

static const char usage_text[] =
    "usage: mowcheck export series|decisions|flagged [-o FILE] [--season YEAR]\n"
    "       [--format geojson|csv|gpkg] [--parcels FILE]\n\n"
    "flagged: the claims flagged for an inspector (not_mowed, inconclusive) for GIS, in\n"
    "  EPSG:4326, in the format of -o FILE's extension: .geojson (also the default on\n"
    "  stdout), .gpkg (GeoPackage), .csv with a wkt column (with .prj, .csvt and a .vrt\n"
    "  that declares the CRS), .fgb (FlatGeobuf); geometry from the parcel file of the\n"
    "  last ingest (or --parcels FILE); properties\n"
    "  claim_id,parcel_id,season,outcome,case_number,reviewed,reason,p_mowed,tile,\n"
    "  scheme,window_start,window_end,rule,n_events,event_dates\n\n"
    "decisions: the payment system's feed, every claim's current decision:\n"
    "  claim_id,parcel_id,season,outcome,case_number,reviewed,reason\n\n"
    "series: "
    "Writes the NDVI series as CSV (stdout by default):\n"
    "  parcel_id,date,ndvi,valid_share,n_valid,n_total,ndvi_std,n_seen,ndmi\n"
    "ndvi and ndvi_std are empty where the date is not observed (fewer valid pixels\n"
    "than --min-valid-pixels or a smaller share than --min-valid-share); ndmi also\n"
    "where fewer than half of the valid pixels had SWIR (the scene has no B11).\n"
    "More: man mowcheck.";

static int parse_season(const char *text, int *season)
{
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || *end || end == text || v < 1900 || v > 9999)
        return mc_fail("--season: '%s' is not a year", text ? text : "");
    *season = (int)v;
    return MC_OK;
}

typedef struct series_job {
    store *st;
    const store_series_filter *filter;
} series_job;

static int write_series(FILE *out, void *arg)
{
    series_job *job = arg;
    return store_export_series(job->st, job->filter, out);
}

static int export_series(const mc_settings *set, const char *output, int season)
{
    store *st;
    if (cli_open_store(set, &st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    /* `mowcheck export series | head`: a closed pipe is a write error, not a death
     * that would leave the private database running. */
    signal(SIGPIPE, SIG_IGN);
    store_series_filter f = {.min_valid_pixels = set->min_valid_pixels,
                             .min_valid_share = set->min_valid_share,
                             .season = season};
    series_job job = {st, &f};
    int rc = output_write(output, write_series, &job);
    if (rc == MC_OK && !output && fflush(stdout) != 0)
        rc = mc_fail("stdout: %s", strerror(errno));
    if (rc != MC_OK)
        log_error("export series: %s", mc_error_message());
    store_close(st);
    return rc == MC_OK ? EXIT_OK : EXIT_FAILURE_RUN;
}

/* ---- export flagged: the format from the file's extension ---- */

typedef struct flagged_format {
    const char *extension, *format; /* format: what report_gis writes itself */
    const char *gdal_driver;        /* else: GeoJSON converted by this GDAL driver */
} flagged_format;

static const flagged_format flagged_formats[] = {
    {".geojson", "geojson", NULL}, {".json", "geojson", NULL}, {".csv", "csv", NULL},
    {".gpkg", "gpkg", NULL},       {".fgb", NULL, "FlatGeobuf"},
};
enum { N_FLAGGED_FORMATS = sizeof flagged_formats / sizeof flagged_formats[0] };

/* The extension of a file name, or NULL: none, or not a file to name (a device such as
 * /dev/stdout, a pipe), which gets --format or GeoJSON. */
static const char *extension_of(const char *path)
{
    struct stat st;
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash) || (stat(path, &st) == 0 && !S_ISREG(st.st_mode)))
        return NULL;
    return dot;
}

static const flagged_format *format_of_extension(const char *dot)
{
    for (int i = 0; i < N_FLAGGED_FORMATS; i++)
        if (strcasecmp(dot, flagged_formats[i].extension) == 0)
            return &flagged_formats[i];
    return NULL;
}

/* GeoJSON at tmp -> output with driver, through GDAL; written to output.part, then
 * renamed, so a file is there whole or not at all. */
static int convert_vector(const char *tmp, const char *output, const char *driver)
{
    char part[4200];
    snprintf(part, sizeof part, "%s.part", output);
    unlink(part);
    GDALAllRegister();
    GDALDatasetH src = GDALOpenEx(tmp, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    char *argv[] = {"-f", (char *)driver, NULL};
    GDALVectorTranslateOptions *o = GDALVectorTranslateOptionsNew(argv, NULL);
    int err = 0;
    GDALDatasetH out = src && o ? GDALVectorTranslate(part, NULL, 1, &src, o, &err) : NULL;
    GDALVectorTranslateOptionsFree(o);
    int ok = out != NULL && !err;
    if (out)
        GDALClose(out);
    if (src)
        GDALClose(src);
    if (!ok || rename(part, output) != 0) {
        unlink(part);
        return mc_fail("export flagged: writing %s as %s: %s", output, driver,
                       *CPLGetLastErrorMsg() ? CPLGetLastErrorMsg() : strerror(errno));
    }
    return MC_OK;
}

/* The format follows -o FILE's extension (GeoJSON, CSV, GeoPackage, FlatGeobuf); an
 * extension that says another format than --format, or none mowcheck writes, is refused
 * rather than writing GeoJSON into a .gpkg. */
static int export_flagged(const mc_settings *set, const char *output, int season,
                          const char *format, const char *parcels)
{
    const char *ext = output ? extension_of(output) : NULL;
    const flagged_format *f = ext ? format_of_extension(ext) : NULL;
    if (ext && !f) {
        log_error("export flagged -o %s: cannot tell the format from the name; use .geojson, "
                  ".csv, .gpkg or .fgb",
                  output);
        return EXIT_USAGE;
    }
    if (f && format && (!f->format || strcmp(format, f->format) != 0)) {
        log_error("export flagged -o %s: --format %s contradicts the file's extension", output,
                  format);
        return EXIT_USAGE;
    }
    if (!f || f->format)
        return cmd_export_flagged(set, output, season, f ? f->format : format, parcels);
    char tmp[] = "/tmp/mowcheck-flagged-XXXXXX.geojson";
    int fd = mkstemps(tmp, 8);
    if (fd < 0) {
        log_error("export flagged: temporary file: %s", strerror(errno));
        return EXIT_FAILURE_RUN;
    }
    close(fd);
    int code = cmd_export_flagged(set, tmp, season, "geojson", parcels);
    if (code == EXIT_OK && convert_vector(tmp, output, f->gdal_driver) != MC_OK) {
        log_error("%s", mc_error_message());
        code = EXIT_FAILURE_RUN;
    }
    unlink(tmp);
    return code;
}

int cmd_export(int argc, char **argv)
{
    const char *output = NULL, *season_text = NULL, *format = NULL, *parcels = NULL;
    const cli_option options[] = {
        {"output", &output, NULL, "FILE: write here instead of stdout (also -o FILE)"},
        {"season", &season_text, NULL, "YEAR: only dates of this year"},
        {"format", &format, NULL, "geojson|csv|gpkg: for export flagged (default geojson)"},
        {"parcels", &parcels, NULL, "FILE: for export flagged, instead of the stored path"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char **positional = calloc((size_t)argc + 1, sizeof *positional);
    if (!positional)
        return EXIT_FAILURE_RUN;
    int n_pos = 0, code = EXIT_USAGE;
    int parsed = cli_parse(argc, argv, usage_text, options, &set, positional, &n_pos);
    const char *kind = NULL;
    int season = 0;
    if (parsed == CLI_HELP) {
        code = EXIT_OK;
        goto done;
    }
    if (parsed != CLI_OK)
        goto done;
    /* cli_parse leaves short options to the command: -o FILE arrives as two positionals. */
    for (int i = 0; i < n_pos; i++) {
        if (strcmp(positional[i], "-o") == 0 && i + 1 < n_pos) {
            output = positional[++i];
        } else if (!kind && positional[i][0] != '-') {
            kind = positional[i];
        } else {
            log_error("export: unexpected argument '%s' (see mowcheck export --help)",
                      positional[i]);
            goto done;
        }
    }
    if (!kind || (strcmp(kind, "series") != 0 && strcmp(kind, "decisions") != 0 &&
                  strcmp(kind, "flagged") != 0)) {
        log_error("export: %s '%s'; this mowcheck exports: series, decisions, flagged",
                  kind ? "unknown kind" : "what?", kind ? kind : "");
        goto done;
    }
    if (season_text && parse_season(season_text, &season) != MC_OK) {
        log_error("%s", mc_error_message());
        goto done;
    }
    if (strcmp(kind, "decisions") == 0) /* the payment system's feed (cmd_decide.c) */
        code = cmd_export_decisions(&set, output, season);
    else if (strcmp(kind, "flagged") == 0) /* GeoJSON / CSV for GIS (cmd_report.c) */
        code = export_flagged(&set, output, season, format, parcels);
    else
        code = export_series(&set, output, season);
done:
    free(positional);
    settings_free(&set);
    return code;
}
