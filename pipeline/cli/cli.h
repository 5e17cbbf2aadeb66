/* Command-line parsing shared by every subcommand.
 *
 * A command lists its own options in a cli_option table; every setting of
 * settings.h is also accepted as --name value, as are --config, --quiet,
 * --verbose and --help. Settings come from the config file, then the
 * environment, then the flags. */
#ifndef MOWCHECK_CLI_H
#define MOWCHECK_CLI_H

#include <stdio.h>

#include "output_file.h"
#include "settings.h"
#include "store.h"

typedef struct cli_option {
    const char *name;    /* without the leading dashes, e.g. "scenes" */
    const char **value;  /* receives the argument; NULL for a switch */
    int *is_set;         /* set to 1 when given; may be NULL for valued options */
    const char *help;    /* one line for --help */
} cli_option;

enum { CLI_OK = 0, CLI_HELP = 1, CLI_ERR = -1 };

/* Parses argv[1..argc-1] (argv[0] is the command name). Loads settings into *s
 * (the caller frees them with settings_free, also on CLI_ERR). Positional arguments are
 * returned in positional[0..*n_positional-1] (pointers into argv; the array holds argc
 * entries). CLI_HELP: --help was given and the help text was printed. */
int cli_parse(int argc, char **argv, const char *usage, const cli_option *options,
              mc_settings *s, const char **positional, int *n_positional);

/* An input path made absolute (realpath), so that what the store records still
 * works from another folder: "--parcels FILE: no such file" where it is missing.
 * GDAL's own names (/vsi..., PG:..., URLs) are kept as given. */
int cli_absolute_path(const char *option, const char *path, char *buf, size_t size);

/* With --quiet a command whose stdout carries only its summary prints nothing on
 * success: stdout goes to /dev/null until cli_quiet_stdout_end (stderr, with warnings
 * and errors, is untouched). Returns the saved stdout for _end, or -1 (then _end does
 * nothing). */
int cli_quiet_stdout_begin(void);
void cli_quiet_stdout_end(int saved);

/* Opens the store the settings name: the DSN (--db, MOWCHECK_DB) or the private
 * cluster in the state directory. */
int cli_open_store(const mc_settings *set, store **out);

/* Text from the database or the registry, safe on a terminal: control characters
 * become '?'. */
void cli_put_text(FILE *out, const char *text);
void cli_put_text_char(FILE *out, char c);

/* Exit codes of mowcheck, documented in man mowcheck (EXIT STATUS) and docs/operator.md. */
enum {
    EXIT_OK = 0,          /* all done */
    EXIT_ATTENTION = 1,   /* done, but something needs a person (rejected scenes, errors) */
    EXIT_USAGE = 2,       /* bad command line or settings */
    EXIT_FAILURE_RUN = 3  /* could not run (database, files) */
};

#endif
