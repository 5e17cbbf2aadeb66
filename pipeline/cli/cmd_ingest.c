/* mowcheck ingest: a thin layer over ingest_run(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "ingest.h"
#include "log.h"
#include "settings.h"
#include "store.h"

static const char usage_text[] =
    "usage: mowcheck ingest --scenes DIR --parcels FILE [--id-field NAME] [--tile T]...\n"
    "       mowcheck ingest --scenes DIR --list-tiles\n"
    "Reads the scenes not stored yet, computes each parcel's NDVI per date and stores it.\n"
    "Scenes as the archives deliver them: <scene_id>/ folders (B04.tif... or an item.json's\n"
    "assets), Earth Search collection-1 ids, the archive's TT/L/SS/YYYY/M/ tree, .SAFE\n"
    "folders and .SAFE.zip files.\n"
    "Exit 0: all done; 1: done, but some scenes were refused (see the warnings) or the\n"
    "scenes folder is empty; 2: usage; 3: could not run. More: man mowcheck.";

/* --tile may repeat and take comma-separated lists; cli_parse keeps only the last
 * value, so the tiles are gathered from argv here. Returns the count or -1. */
static int collect_tiles(int argc, char **argv, char ***tiles)
{
    char **list = NULL;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--tile") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--tile=", 7) == 0)
            v = argv[i] + 7;
        if (!v)
            continue;
        char *copy = strdup(v), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
            char **grown = realloc(list, (size_t)(n + 1) * sizeof *list);
            if (!grown)
                break;
            list = grown;
            list[n++] = strdup(t);
        }
        free(copy);
    }
    *tiles = list;
    return n;
}

static void free_tiles(char **tiles, int n)
{
    for (int i = 0; i < n; i++)
        free(tiles[i]);
    free(tiles);
}

static int list_tiles(const char *scenes_dir)
{
    char **tiles;
    size_t n;
    if (ingest_list_tiles(scenes_dir, &tiles, &n) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s\n", tiles[i]);
    ingest_tiles_free(tiles, n);
    return EXIT_OK;
}

static void print_summary(const ingest_summary *s)
{
    printf("ingest: %zu scenes found, %zu new, %zu ingested, %zu skipped (already stored), "
           "%zu rejected, %zu duplicates\n",
           s->scenes_found, s->scenes_new, s->scenes_ingested, s->scenes_skipped,
           s->scenes_rejected, s->scenes_duplicate);
    if (s->scenes_remeasured || s->scenes_left_behind)
        printf("ingest: %zu stored scenes measured again (the parcel set changed, or their B11 "
               "arrived), %ld left measured for an earlier parcel set\n",
               s->scenes_remeasured, s->scenes_left_behind);
    if (s->scenes_ignored)
        printf("ingest: %zu refused scenes ignored as the operator asked (mowcheck scenes ignore)\n",
               s->scenes_ignored);
    size_t stored = s->scenes_ingested + s->scenes_remeasured;
    if (stored && s->scenes_with_swir == stored)
        printf("ingest: every scene stored has B11 (SWIR): NDMI stored beside NDVI\n");
    else if (stored && s->scenes_with_swir == 0)
        printf("ingest: no scene stored has B11 (SWIR): NDVI only; approvals rest on the NDVI "
               "events, the season figure goes without NDMI\n");
    else if (stored)
        printf("ingest: %zu of %zu scenes stored have B11 (SWIR); the dates of the others have "
               "NDVI only\n",
               s->scenes_with_swir, stored);
    int64_t total = s->pixels_decoded + s->pixels_skipped;
    printf("ingest: %zu parcels, %lld parcel observations written; %.1f Mpx decoded, %.1f Mpx "
           "skipped (%.0f%%); %.1f s\n",
           s->parcels, (long long)s->observations, s->pixels_decoded / 1e6,
           s->pixels_skipped / 1e6, total ? 100.0 * s->pixels_skipped / total : 0.0, s->seconds);
}

typedef struct ingest_args {
    const char *scenes, *parcels, *tile;
    int list;
} ingest_args;

static int run_ingest(const mc_settings *set, const ingest_args *a, char **tiles, int n_tiles)
{
    /* Absolute paths: the store records them, and report runs from anywhere. */
    char scenes[4096], parcels[4096];
    if (cli_absolute_path("scenes", a->scenes, scenes, sizeof scenes) != MC_OK ||
        cli_absolute_path("parcels", a->parcels, parcels, sizeof parcels) != MC_OK) {
        log_error("ingest: %s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    ingest_options opt = {
        .scenes_dir = scenes, .parcels_path = parcels,
        .id_field = set->id_field,
        .inner_buffer_m = set->inner_buffer_m, .n_threads = set->threads,
        .overlap_share = set->parcel_overlap_share,
        .tiles = (const char *const *)tiles, .n_tiles = (size_t)n_tiles,
    };
    char state_dir[4096];
    if (settings_device(set, &opt.device) != MC_OK ||
        settings_scl_mask(set, &opt.scl_valid_mask) != MC_OK ||
        settings_state_dir(set, state_dir, sizeof state_dir) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_USAGE;
    }
    opt.state_dir = state_dir;
    if (opt.device == KERNEL_DEVICE_CUDA && !kernel_cuda_available()) {
        log_error("--device cuda: no usable CUDA GPU (or mowcheck was built without CUDA); "
                  "use --device auto or cpu");
        return EXIT_USAGE;
    }
    store *st;
    if (cli_open_store(set, &st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    ingest_summary sum;
    int rc = ingest_run(&opt, st, &sum);
    store_close(st);
    if (rc != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    if (log_get_level() <= LOG_INFO) /* --quiet: nothing on success */
        print_summary(&sum);
    return sum.scenes_rejected || sum.scenes_duplicate || sum.scenes_left_behind ||
                   sum.scenes_folder_empty
               ? EXIT_ATTENTION
               : EXIT_OK;
}

int cmd_ingest(int argc, char **argv)
{
    ingest_args a = {0};
    const cli_option options[] = {
        {"scenes", &a.scenes, NULL, "scenes folder: <scenes>/<scene_id>/{B04,B08,SCL}.tif"},
        {"parcels", &a.parcels, NULL, "parcels: any vector file GDAL reads"},
        {"tile", &a.tile, NULL, "only this tile's scenes (repeatable, or T1,T2)"},
        {"list-tiles", NULL, &a.list, "print the tiles found in the scenes folder"},
        {NULL, NULL, NULL, NULL},
    };
    /* --id-field is the id_field setting, parsed by cli_parse as any setting. */
    mc_settings set;
    const char **positional = calloc((size_t)argc + 1, sizeof *positional);
    int n_positional = 0, code;
    if (!positional)
        return EXIT_FAILURE_RUN;
    int prc = cli_parse(argc, argv, usage_text, options, &set, positional, &n_positional);
    if (prc == CLI_HELP) {
        code = EXIT_OK;
    } else if (prc != CLI_OK) {
        code = EXIT_USAGE;
    } else if (n_positional > 0) {
        log_error("ingest: unexpected argument '%s' (see mowcheck ingest --help)", positional[0]);
        code = EXIT_USAGE;
    } else if (!a.scenes) {
        log_error("ingest: --scenes DIR is required (see mowcheck ingest --help)");
        code = EXIT_USAGE;
    } else if (a.list) {
        code = list_tiles(a.scenes);
    } else if (!a.parcels) {
        log_error("ingest: --parcels FILE is required (see mowcheck ingest --help)");
        code = EXIT_USAGE;
    } else {
        char **tiles;
        int n_tiles = collect_tiles(argc, argv, &tiles);
        code = run_ingest(&set, &a, tiles, n_tiles);
        free_tiles(tiles, n_tiles);
    }
    free(positional);
    settings_free(&set);
    return code;
}
