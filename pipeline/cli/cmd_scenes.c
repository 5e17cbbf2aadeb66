/* mowcheck scenes ignore SCENE --reason TEXT: an operator acknowledges a permanently bad
 * delivery, so that it no longer makes every night exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "store.h"

static const char usage_text[] =
    "usage: mowcheck scenes ignore SCENE --reason TEXT\n\n"
    "Acknowledges a delivery that stays bad (a truncated band the archive never fixes, a\n"
    "second delivery of a stored tile-date): ingest still refuses it, but says so at info\n"
    "level and it no longer raises the exit code. SCENE is a scene id\n"
    "(S2B_35VMF_20260524_0_L2A), the delivery's path or its folder name, as the warning\n"
    "named it. Who and why are recorded; a second call replaces the reason. More: man mowcheck.";

static int ignore_scene(const mc_settings *set, const char *scene, const char *reason)
{
    store *st;
    if (cli_open_store(set, &st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    int rc = store_scene_ignore(st, scene, reason);
    store_close(st);
    if (rc != MC_OK) {
        log_error("scenes ignore: %s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    if (log_get_level() <= LOG_INFO)
        printf("scenes: %s ignored from now on (%s)\n", scene, reason);
    return EXIT_OK;
}

int cmd_scenes(int argc, char **argv)
{
    const char *reason = NULL;
    const cli_option options[] = {
        {"reason", &reason, NULL, "TEXT: why the delivery is acknowledged (required)"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int n_pos = 0, code = EXIT_USAGE;
    if (!pos)
        return EXIT_FAILURE_RUN;
    int parsed = cli_parse(argc, argv, usage_text, options, &set, pos, &n_pos);
    if (parsed == CLI_HELP)
        code = EXIT_OK;
    else if (parsed != CLI_OK)
        code = EXIT_USAGE;
    else if (n_pos != 2 || strcmp(pos[0], "ignore") != 0)
        log_error("scenes: expected 'ignore SCENE' (see mowcheck scenes --help)");
    else if (!reason || !*reason || strspn(reason, " \t") == strlen(reason))
        log_error("scenes ignore %s: --reason TEXT is required (it is recorded)", pos[1]);
    else
        code = ignore_scene(&set, pos[1], reason);
    free(pos);
    settings_free(&set);
    return code;
}
