/* mowcheck run: the nightly batch, ingest -> detect -> decide, as one command.
 *
 * A thin layer: each stage is the same subcommand an operator can run alone, given
 * the same common options and settings. run holds the store open for the whole
 * batch, so a private cluster is started once and the stages join it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "energy.h"
#include "error.h"
#include "log.h"

static const char usage_text[] =
    "usage: mowcheck run --scenes DIR --parcels FILE --registry URL [--season YEAR]\n"
    "                    [--as-of YYYY-MM-DD] [--summary-json FILE]\n\n"
    "The nightly batch: ingest the new scenes, detect mowing events on the stored\n"
    "series, and decide every claim the registry holds for the parcels. Common options\n"
    "and settings (--db, --state-dir, --config, --device, --id-field, registry_* ...)\n"
    "reach every stage. Exit 0: all done; 1: done, but something needs a person\n"
    "(refused scenes, registry failures); 2: bad usage; 3: a stage could not run.";

/* The options that belong to run itself; everything else is passed to each stage. */
typedef struct run_args {
    const char *scenes, *parcels, *registry, *season, *as_of, *summary_json;
} run_args;

static int is_run_option(const char *arg, const char **name_out)
{
    static const char *const names[] = {"scenes", "parcels", "registry", "season", "as-of",
                                        "summary-json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, names[i], n) == 0 &&
            (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
            *name_out = names[i];
            return 1;
        }
    }
    return 0;
}

typedef struct stage_argv {
    char *v[256];
    int n;
} stage_argv;

static void push(stage_argv *a, const char *s)
{
    if (a->n < 255)
        a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

/* argv[1..] minus run's own options: the common options every stage gets. */
static void collect_common(int argc, char **argv, stage_argv *common)
{
    for (int i = 1; i < argc; i++) {
        const char *name;
        if (is_run_option(argv[i], &name)) {
            if (!strchr(argv[i], '=') && i + 1 < argc)
                i++; /* its value */
            continue;
        }
        push(common, argv[i]);
    }
}

typedef struct stage_result {
    const char *name;
    int exit_code;
    double seconds;
    energy_reading energy;
    int ran;
} stage_result;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run_stage(const char *name, int (*fn)(int, char **), const stage_argv *common,
                      const char *const *extra, int with_gpu, stage_result *r)
{
    stage_argv a = {.n = 0};
    push(&a, name);
    for (const char *const *e = extra; *e; e++)
        push(&a, *e);
    for (int i = 0; i < common->n; i++)
        push(&a, common->v[i]);
    log_info("run: stage %s", name);
    energy_meter meter;
    energy_start(&meter, with_gpu);
    double t0 = now_s();
    r->name = name;
    r->exit_code = fn(a.n, a.v);
    r->seconds = now_s() - t0;
    energy_read(&meter, &r->energy);
    r->ran = 1;
}

static void print_summary(const stage_result *st, int n, FILE *json_out)
{
    double total = 0, joules = 0;
    int energy_ok = 1;
    printf("\nrun summary\n  %-8s %6s %10s  %s\n", "stage", "exit", "seconds", "CPU energy");
    for (int i = 0; i < n; i++) {
        if (!st[i].ran) {
            printf("  %-8s %6s %10s  %s\n", st[i].name, "-", "-", "not run");
            continue;
        }
        char energy[160];
        energy_format(st[i].energy.cpu_available, st[i].energy.cpu_joules,
                      "no readable RAPL counter", energy, sizeof energy);
        printf("  %-8s %6d %10.1f  %s\n", st[i].name, st[i].exit_code, st[i].seconds, energy);
        total += st[i].seconds;
        joules += st[i].energy.cpu_joules;
        energy_ok &= st[i].energy.cpu_available;
    }
    printf("  %-8s %6s %10.1f  %s\n", "total", "", total,
           energy_ok ? "" : "energy: not available on this machine");
    if (!json_out)
        return;
    fprintf(json_out, "{\"stages\": [");
    for (int i = 0; i < n; i++) {
        fprintf(json_out, "%s{\"stage\": \"%s\", \"ran\": %s", i ? ", " : "", st[i].name,
                st[i].ran ? "true" : "false");
        if (st[i].ran) {
            fprintf(json_out, ", \"exit\": %d, \"seconds\": %.3f, \"cpu_joules\": ",
                    st[i].exit_code, st[i].seconds);
            if (st[i].energy.cpu_available)
                fprintf(json_out, "%.3f", st[i].energy.cpu_joules);
            else
                fprintf(json_out, "null");
        }
        fprintf(json_out, "}");
    }
    fprintf(json_out, "], \"seconds\": %.3f, \"cpu_joules\": ", total);
    if (energy_ok)
        fprintf(json_out, "%.3f}\n", joules);
    else
        fprintf(json_out, "null}\n");
}

static int worst(int a, int b) { return a > b ? a : b; }

int cmd_run(int argc, char **argv)
{
    run_args a = {0};
    const cli_option options[] = {
        {"scenes", &a.scenes, NULL, "DIR: the scenes folder (<scene_id>/B04.tif ...)"},
        {"parcels", &a.parcels, NULL, "FILE: the parcels (any GDAL vector format)"},
        {"registry", &a.registry, NULL, "URL: the exchange layer's security server"},
        {"season", &a.season, NULL, "YEAR: the claims' season (default: the as-of year)"},
        {"as-of", &a.as_of, NULL, "YYYY-MM-DD: decide as on this date (default: today)"},
        {"summary-json", &a.summary_json, NULL, "FILE: also write the run summary as JSON"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char *pos[argc + 1];
    int n_pos;
    int rc = cli_parse(argc, argv, usage_text, options, &set, pos, &n_pos);
    if (rc != CLI_OK || n_pos > 0 || !a.scenes || !a.parcels || !(a.registry || set.registry_url[0])) {
        if (rc == CLI_OK)
            log_error("run: needs --scenes DIR --parcels FILE --registry URL (see --help)");
        settings_free(&set);
        return rc == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    }
    kernel_device device;
    if (settings_device(&set, &device) != MC_OK) {
        log_error("%s", mc_error_message());
        settings_free(&set);
        return EXIT_USAGE;
    }
    /* Held for the whole batch: the stages join the same (private) database. */
    store *held;
    if (cli_open_store(&set, &held) != MC_OK) {
        log_error("%s", mc_error_message());
        settings_free(&set);
        return EXIT_FAILURE_RUN;
    }
    int64_t run_id = 0;
    if (store_run_begin(held, "run", &run_id) != MC_OK)
        log_warn("run: %s (the run is not recorded)", mc_error_message());
    stage_argv common = {.n = 0};
    collect_common(argc, argv, &common);
    const char *ingest_extra[] = {"--scenes", a.scenes, "--parcels", a.parcels, NULL};
    const char *detect_extra[] = {a.season ? "--season" : NULL, a.season, NULL};
    const char *decide_extra[7] = {NULL};
    int k = 0;
    if (a.registry) {
        decide_extra[k++] = "--registry";
        decide_extra[k++] = a.registry;
    }
    if (a.season) {
        decide_extra[k++] = "--season";
        decide_extra[k++] = a.season;
    }
    if (a.as_of) {
        decide_extra[k++] = "--as-of";
        decide_extra[k++] = a.as_of;
    }
    stage_result st[3] = {{.name = "ingest"}, {.name = "detect"}, {.name = "decide"}};
    int uses_gpu = device != KERNEL_DEVICE_CPU && kernel_cuda_available();
    run_stage("ingest", cmd_ingest, &common, ingest_extra, uses_gpu, &st[0]);
    int code = st[0].exit_code;
    if (code <= EXIT_ATTENTION) {
        run_stage("detect", cmd_detect, &common, detect_extra, 0, &st[1]);
        code = worst(code, st[1].exit_code);
    }
    if (code <= EXIT_ATTENTION) {
        run_stage("decide", cmd_decide, &common, decide_extra, 0, &st[2]);
        code = worst(code, st[2].exit_code);
    }
    /* The summary as JSON: in the runs table (the report's footer reads it) and,
     * if asked, in a file. */
    char *json = NULL;
    size_t json_len = 0;
    FILE *mem = open_memstream(&json, &json_len);
    print_summary(st, 3, mem);
    if (mem)
        fclose(mem);
    const char *status = code > EXIT_ATTENTION ? "failed" : code ? "partial" : "ok";
    if (run_id > 0 && store_run_end(held, run_id, status, json) != MC_OK)
        log_warn("run: %s", mc_error_message());
    if (a.summary_json && json) {
        FILE *f = fopen(a.summary_json, "w");
        int ok = f && fputs(json, f) >= 0;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok)
            log_warn("run: cannot write %s", a.summary_json);
    }
    free(json);
    if (code > EXIT_ATTENTION)
        log_error("run: stopped: a stage could not run (see above)");
    store_close(held);
    settings_free(&set);
    return code;
}
