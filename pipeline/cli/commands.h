/* The subcommands. Each takes the arguments after `mowcheck` (argv[0] is the
 * command name) and returns the process exit code (cli.h). */
#ifndef MOWCHECK_COMMANDS_H
#define MOWCHECK_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_access_log(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_decide(int argc, char **argv);
int cmd_case(int argc, char **argv);
int cmd_review(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_scenes(int argc, char **argv);
/* `mowcheck export decisions` (cmd_decide.c): the decision feed; season 0: all. */
struct mc_settings;
int cmd_export_decisions(const struct mc_settings *set, const char *output, int season);
/* `mowcheck export flagged` (cmd_report.c): flagged claims as GeoJSON or CSV;
 * format NULL: geojson; parcels NULL: the store's current parcel file. */
int cmd_export_flagged(const struct mc_settings *set, const char *output, int season,
                       const char *format, const char *parcels);

#endif
