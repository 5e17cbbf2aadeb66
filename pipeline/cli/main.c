/* mowcheck: the nightly mowing check. A thin layer over the stage functions. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int summary_on_stdout; /* stdout carries only a summary: silenced by --quiet */
} command;

static const command commands[] = {
    {"run", cmd_run, "the nightly batch: ingest -> detect -> decide", 0},
    {"version", cmd_version, "print the version", 0},
    {"ingest", cmd_ingest, "read new scenes, store per-parcel NDVI per date", 0},
    {"access-log", cmd_access_log, "who asked the registry about an applicant's parcels", 0},
    {"export", cmd_export, "write the NDVI series as CSV (export series [-o FILE])", 0},
    {"detect", cmd_detect, "mowing events per parcel-season from a series CSV", 0},
    {"train", cmd_train, "train the mowing detector's model (deterministic)", 0},
    {"eval", cmd_eval, "score the detector and the Sen4CAP-style rule (--cv region)", 0},
    {"decide", cmd_decide, "claims from the registry -> one decision per claim and season", 1},
    {"case", cmd_case, "show a case: claim, outcome, reason, evidence, review", 0},
    {"review", cmd_review, "record an inspector's verdict on a case", 0},
    {"report", cmd_report, "inspector report (HTML) and GIS exports of the flagged claims", 0},
    {"scenes", cmd_scenes, "scenes ignore SCENE --reason TEXT: acknowledge a bad delivery", 0},
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

static int has_quiet(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quiet") == 0)
            return 1;
    return 0;
}

/* --quiet prints nothing on success: for a command whose stdout holds only its summary
 * (cron mails whatever a job prints), that summary is not printed. */
static int run_command(const command *c, int argc, char **argv)
{
    int saved = c->summary_on_stdout && has_quiet(argc, argv) ? cli_quiet_stdout_begin() : -1;
    int code = c->run(argc, argv);
    cli_quiet_stdout_end(saved);
    return code;
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
            return run_command(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "mowcheck: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
