/* `mowcheck export flagged` (called from cmd_export.c): the flagged claims for GIS users. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "report_gis.h"
#include "store.h"

int cmd_export_flagged(const struct mc_settings *set, const char *output, int season,
                       const char *format, const char *parcels)
{
    report_gis_options o = {.season = season, .parcels_path = parcels, .output = output};
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
    int rc = report_flagged_export(st, &o, &n);
    if (rc != MC_OK)
        log_error("export flagged: %s", mc_error_message());
    else
        log_info("export flagged: %zu flagged claim(s) written to %s", n,
                 output ? output : "stdout");
    store_close(st);
    return rc == MC_OK ? EXIT_OK : EXIT_FAILURE_RUN;
}
