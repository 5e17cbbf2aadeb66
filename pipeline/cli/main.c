/* mowcheck: the nightly mowing check. A thin layer over the stage functions. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "the nightly batch: ingest -> detect -> decide"},
    {"version", cmd_version, "print the version"},
    {"ingest", cmd_ingest, "read new scenes, store per-parcel NDVI per date"},
    {"access-log", cmd_access_log, "who asked the registry about an applicant's parcels"},
    {"export", cmd_export, "write the NDVI series as CSV (export series [-o FILE])"},
    {"detect", cmd_detect, "mowing events per parcel-season from a series CSV"},
    {"train", cmd_train, "train the mowing detector's model (deterministic)"},
    {"eval", cmd_eval, "score the detector and the Sen4CAP-style rule (--cv region)"},
    {"decide", cmd_decide, "claims from the registry -> one decision per claim and season"},
    {"case", cmd_case, "show a case: claim, outcome, reason, evidence, review"},
    {"review", cmd_review, "record an inspector's verdict on a case"},
    {"report", cmd_report, "inspector report (HTML) and GIS exports of the flagged claims"},
    {"scenes", cmd_scenes, "scenes ignore SCENE --reason TEXT: acknowledge a bad delivery"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out)
{
    fprintf(out, "usage: mowcheck COMMAND [options]   (mowcheck COMMAND --help for more)\n\n"
                 "Commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nThe manual: man mowcheck\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mowcheck: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
