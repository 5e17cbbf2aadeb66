/* The subcommands. Each takes the arguments after `mowcheck` (argv[0] is the
 * command name) and returns the process exit code (cli.h). */
#ifndef MOWCHECK_COMMANDS_H
#define MOWCHECK_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_access_log(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
