/* mowcheck run: the nightly batch, ingest -> detect -> decide, as one command.
 *
 * A thin layer: each stage is the same subcommand an operator can run alone, given
 * the same common options and settings. run holds the store open for the whole
 * batch, so a private cluster is started once and the stages join it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"
#include "decide.h"
#include "energy.h"
#include "error.h"
#include "log.h"
#include "stage_counts.h"

static const char usage_text[] =
    "usage: mowcheck run --scenes DIR --parcels FILE --registry URL [--season YEAR]\n"
    "                    [--as-of YYYY-MM-DD] [--summary-json FILE]\n\n"
    "The nightly batch: ingest the new scenes, detect mowing events on the stored\n"
    "series, and decide every claim the registry holds for the parcels. Common options\n"
    "and settings (--db, --state-dir, --config, --device, --id-field, registry_* ...)\n"
    "reach every stage. Exit 0: all done; 1: done, but something needs a person\n"
    "(refused scenes, registry failures); 2: bad usage; 3: a stage could not run.\n"
    "On a terminal each stage shows a progress bar; at the end (unless --quiet) a summary:\n"
    "scenes new / ingested / rejected / duplicates, parcels observed, parcel observations\n"
    "written, events, outcomes by kind, time and energy per stage, joules per parcel-date\n"
    "(\"not available\" where no energy counter can be read).";

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
    double cpu_seconds; /* mowcheck's own processor time (user + system) in the stage */
    energy_reading energy;
    int ran, gpu_used;
    char cpu_reason[128], gpu_reason[128]; /* why a counter could not be read */
} stage_result;

/* Processor time of this process so far (the stages run in it; the database server
 * is another process and not counted). */
static double cpu_s(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0.0;
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

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
    double t0 = now_s(), c0 = cpu_s();
    r->name = name;
    /* --quiet: the stages' summary lines are not printed (cron mails what a job prints) */
    int saved_stdout = log_get_level() > LOG_INFO ? cli_quiet_stdout_begin() : -1;
    r->exit_code = fn(a.n, a.v);
    cli_quiet_stdout_end(saved_stdout);
    r->seconds = now_s() - t0;
    r->cpu_seconds = cpu_s() - c0;
    energy_read(&meter, &r->energy);
    r->ran = 1;
    r->gpu_used = with_gpu;
    snprintf(r->cpu_reason, sizeof r->cpu_reason, "%s", meter.cpu_unavailable_reason);
    snprintf(r->gpu_reason, sizeof r->gpu_reason, "%s",
             meter.gpu_available ? "GPU counter not readable at the end"
                                 : meter.gpu_unavailable_reason);
}

/* ---- the summary: per stage, counts from the stages (stage_counts.h), energy ---- */

/* The run's energy: CPU of every stage, plus the GPU where a stage used one. Not
 * available as soon as one counter that counts could not be read. */
typedef struct run_energy {
    double seconds, cpu_joules, gpu_joules;
    int cpu_ok, gpu_used, gpu_ok;
    const char *reason; /* of the first counter missing */
    /* where no counter could be read and cpu_watts_per_core is set: an estimate,
     * cpu_seconds x watts_per_core, never reported as measured */
    double cpu_seconds, watts_per_core, estimated_joules;
    int estimated;
} run_energy;

static int energy_ok(const run_energy *e) { return e->cpu_ok && (!e->gpu_used || e->gpu_ok); }

/* The estimate where nothing was measured: a CPU run without counters (a GPU run
 * without its counter gets none: a GPU's power is not per core). */
static void estimate_energy(run_energy *e, double watts_per_core)
{
    if (energy_ok(e) || e->gpu_used || watts_per_core <= 0)
        return;
    e->estimated = 1;
    e->watts_per_core = watts_per_core;
    e->estimated_joules = e->cpu_seconds * watts_per_core;
}

/* "61.7 J estimated (30.9 CPU-s x 2 W per core; ...)": the total line's words. */
static void estimate_text(const run_energy *e, char *buf, size_t size)
{
    snprintf(buf, size, "%.1f J estimated (%.1f CPU-s x %g W per core; no counter: %s)",
             e->estimated_joules, e->cpu_seconds, e->watts_per_core,
             e->reason ? e->reason : "none");
}

static void total_energy(const stage_result *st, int n, double watts_per_core, run_energy *e)
{
    memset(e, 0, sizeof *e);
    e->cpu_ok = e->gpu_ok = 1;
    for (int i = 0; i < n; i++) {
        if (!st[i].ran)
            continue;
        e->seconds += st[i].seconds;
        e->cpu_seconds += st[i].cpu_seconds;
        e->cpu_joules += st[i].energy.cpu_joules;
        if (!st[i].energy.cpu_available && e->cpu_ok) {
            e->cpu_ok = 0;
            e->reason = st[i].cpu_reason;
        }
        if (!st[i].gpu_used)
            continue;
        e->gpu_used = 1;
        e->gpu_joules += st[i].energy.gpu_joules;
        if (!st[i].energy.gpu_available && e->gpu_ok) {
            e->gpu_ok = 0;
            if (e->cpu_ok)
                e->reason = st[i].gpu_reason;
        }
    }
    estimate_energy(e, watts_per_core);
}


static int64_t count_of(const char *name)
{
    int64_t v;
    return stage_counts_get(name, &v) ? v : -1;
}

static json_t *json_count(const char *name)
{
    int64_t v = count_of(name);
    return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

/* Seconds and joules to the millisecond / millijoule: enough, and readable. */
static json_t *json_rounded(double v) { return json_real(round(v * 1000) / 1000); }

static json_t *json_energy(int available, double joules)
{
    return available ? json_rounded(joules) : json_null();
}

static json_t *stage_json(const stage_result *r)
{
    json_t *o = json_pack("{s:s, s:b}", "stage", r->name, "ran", r->ran);
    if (!o || !r->ran)
        return o;
    json_object_set_new(o, "exit", json_integer(r->exit_code));
    json_object_set_new(o, "seconds", json_rounded(r->seconds));
    json_object_set_new(o, "cpu_joules", json_energy(r->energy.cpu_available, r->energy.cpu_joules));
    json_object_set_new(o, "gpu_joules", json_energy(r->gpu_used && r->energy.gpu_available,
                                                     r->energy.gpu_joules));
    return o;
}

static json_t *counts_json(void)
{
    json_t *outcomes = json_object();
    for (int i = 0; i < DECIDE_N_OUTCOMES; i++) {
        const char *kind = decide_outcome_name((decide_outcome)i);
        char name[STAGE_COUNTS_NAME_MAX];
        snprintf(name, sizeof name, "outcome_%s", kind);
        json_object_set_new(outcomes, kind, json_count(name));
    }
    return json_pack(
        "{s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o, s:o}, s:o, s:o, s:o, s:o, "
        "s:o}",
        "scenes", "found", json_count("scenes_found"), "new", json_count("scenes_new"),
        "ingested", json_count("scenes_ingested"), "rejected", json_count("scenes_rejected"),
        "duplicates", json_count("scenes_duplicate"), "skipped", json_count("scenes_skipped"),
        "remeasured", json_count("scenes_remeasured"), "with_b11", json_count("scenes_with_swir"),
        "parcels", "in_set", json_count("parcels"), "observed", json_count("parcels_observed"),
        "observations_written", json_count("parcel_observations"),
        "with_series", json_count("detect_parcels"),
        "parcel_seasons", json_count("parcel_seasons"), "events_detected", json_count("events"),
        "claims", json_count("claims"), "failed_parcels", json_count("failed_parcels"),
        "outcomes", outcomes);
}

/* What the batch was and how it ended, for the JSON summary (a monitoring system reads
 * it without the log). */
typedef struct run_meta {
    int exit_code;
    int season;
    time_t started, ended;
} run_meta;

static json_t *json_time(time_t t)
{
    char buf[32];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* The season the batch decides: --season, else the year of --as-of, else this year. */
static int run_season(const run_args *a)
{
    if (a->season)
        return atoi(a->season);
    if (a->as_of && strlen(a->as_of) >= 4)
        return atoi(a->as_of);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

/* The summary as JSON (the runs table's and --summary-json's); caller frees. */
static char *summary_json(const stage_result *st, int n, const run_energy *e, const run_meta *m)
{
    json_t *stages = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(stages, stage_json(&st[i]));
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(MOWCHECK_VERSION));
    json_object_set_new(o, "season", json_integer(m->season));
    json_object_set_new(o, "started_at", json_time(m->started));
    json_object_set_new(o, "ended_at", json_time(m->ended));
    json_object_set_new(o, "exit_code", json_integer(m->exit_code));
    json_object_set_new(o, "stages", stages);
    json_object_set_new(o, "seconds", json_rounded(e->seconds));
    json_object_set_new(o, "cpu_joules", json_energy(e->cpu_ok, e->cpu_joules));
    json_object_set_new(o, "gpu_joules", json_energy(e->gpu_used && e->gpu_ok, e->gpu_joules));
    json_object_set_new(o, "joules", json_energy(energy_ok(e), e->cpu_joules + e->gpu_joules));
    double per = 0;
    energy_per_status ps = energy_per_parcel_date(energy_ok(e), e->cpu_joules + e->gpu_joules,
                                                  count_of("parcel_observations"), &per);
    char text[200];
    energy_per_format(ps, per, e->reason, text, sizeof text);
    json_object_set_new(o, "joules_per_parcel_date", ps == ENERGY_PER_OK ? json_real(per)
                                                                         : json_null());
    json_object_set_new(o, "joules_per_parcel_date_text", json_string(text));
    if (!energy_ok(e)) {
        snprintf(text, sizeof text, "not available (%s)", e->reason ? e->reason : "no counter");
        json_object_set_new(o, "energy", json_string(text));
    }
    json_object_set_new(o, "cpu_seconds", json_rounded(e->cpu_seconds));
    if (e->estimated) {
        int64_t written = count_of("parcel_observations");
        json_t *est = json_pack("{s:s, s:o, s:o, s:o}", "basis",
                                "estimated from CPU time, not measured", "joules",
                                json_rounded(e->estimated_joules), "cpu_seconds",
                                json_rounded(e->cpu_seconds), "watts_per_core",
                                json_real(e->watts_per_core));
        if (est && written > 0)
            json_object_set_new(est, "joules_per_parcel_date",
                                json_real(e->estimated_joules / (double)written));
        json_object_set_new(o, "energy_estimate", est);
    }
    json_object_update_new(o, counts_json());
    char *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    return out;
}

static void count_text(const char *name, char *buf, size_t size)
{
    int64_t v = count_of(name);
    if (v >= 0)
        snprintf(buf, size, "%lld", (long long)v);
    else
        snprintf(buf, size, "?");
}

/* "48 new" for each name, joined; "?" where a stage did not say. */
static void print_counts(const char *title, const char *const *names, const char *const *words,
                         int n)
{
    printf("  %-9s", title);
    for (int i = 0; i < n; i++) {
        char v[32];
        count_text(names[i], v, sizeof v);
        printf("%s%s %s", i ? ", " : "", v, words[i]);
    }
    printf("\n");
}

static void print_summary(const stage_result *st, int n, const run_energy *e)
{
    printf("\nrun summary\n  %-8s %6s %10s  %s\n", "stage", "exit", "seconds", "energy");
    for (int i = 0; i < n; i++) {
        if (!st[i].ran) {
            printf("  %-8s %6s %10s  %s\n", st[i].name, "-", "-", "not run");
            continue;
        }
        /* the reason a counter is missing is said once, on the total line */
        char cpu[64] = "not available", gpu[80] = "";
        if (st[i].energy.cpu_available)
            energy_format(1, st[i].energy.cpu_joules, NULL, cpu, sizeof cpu);
        if (st[i].gpu_used && st[i].energy.gpu_available)
            snprintf(gpu, sizeof gpu, ", GPU %.1f J", st[i].energy.gpu_joules);
        else if (st[i].gpu_used)
            snprintf(gpu, sizeof gpu, ", GPU not available");
        printf("  %-8s %6d %10.1f  CPU %s%s\n", st[i].name, st[i].exit_code, st[i].seconds, cpu,
               gpu);
    }
    char total[300];
    if (e->estimated)
        estimate_text(e, total, sizeof total);
    else
        energy_format(energy_ok(e), e->cpu_joules + e->gpu_joules, e->reason, total,
                      sizeof total);
    printf("  %-8s %6s %10.1f  %s\n", "total", "", e->seconds, total);
    static const char *const scenes[] = {"scenes_found",     "scenes_new",
                                         "scenes_ingested",  "scenes_rejected",
                                         "scenes_duplicate", "scenes_skipped",
                                         "scenes_remeasured", "scenes_with_swir"};
    static const char *const scene_words[] = {"found", "new", "ingested", "rejected",
                                              "duplicates", "skipped (stored before)",
                                              "measured again (new parcel set, or B11 arrived)",
                                              "of those stored, with B11 (NDMI)"};
    print_counts("scenes:", scenes, scene_words, 8);
    static const char *const parcels[] = {"parcels", "parcels_observed", "parcel_observations"};
    static const char *const parcel_words[] = {"in the parcel set", "observed by this run",
                                               "parcel observations written"};
    print_counts("parcels:", parcels, parcel_words, 3);
    static const char *const detect[] = {"detect_parcels", "parcel_seasons", "events"};
    static const char *const detect_words[] = {"parcels with a series", "parcel-seasons",
                                               "mowing events detected"};
    print_counts("detect:", detect, detect_words, 3);
    const char *outcomes[DECIDE_N_OUTCOMES + 1], *outcome_words[DECIDE_N_OUTCOMES + 1];
    char names[DECIDE_N_OUTCOMES][STAGE_COUNTS_NAME_MAX];
    outcomes[0] = "claims", outcome_words[0] = "claims";
    for (int i = 0; i < DECIDE_N_OUTCOMES; i++) {
        outcome_words[i + 1] = decide_outcome_name((decide_outcome)i);
        snprintf(names[i], sizeof names[i], "outcome_%s", outcome_words[i + 1]);
        outcomes[i + 1] = names[i];
    }
    print_counts("decide:", outcomes, outcome_words, DECIDE_N_OUTCOMES + 1);
    double per = 0;
    energy_per_status ps = energy_per_parcel_date(energy_ok(e), e->cpu_joules + e->gpu_joules,
                                                  count_of("parcel_observations"), &per);
    char text[200];
    energy_per_format(ps, per, e->reason, text, sizeof text);
    int64_t written = count_of("parcel_observations");
    if (e->estimated && written > 0)
        snprintf(text, sizeof text, "%.3g J estimated (from processor time, not measured)",
                 e->estimated_joules / (double)written);
    else if (e->estimated) /* an estimate, but no observation to share it */
        energy_per_format(ENERGY_PER_NOTHING_WRITTEN, 0, NULL, text, sizeof text);
    printf("  energy per parcel-date: %s\n", text);
}

static int worst(int a, int b) { return a > b ? a : b; }

static int check_season(const char *text)
{
    char *end;
    long year = strtol(text, &end, 10);
    if (end == text || *end || year < 1900 || year > 9999)
        return mc_fail("--season '%s' is not a year", text);
    return MC_OK;
}

int cmd_run(int argc, char **argv)
{
    run_args a = {0};
    const cli_option options[] = {
        {"scenes", &a.scenes, NULL, "DIR: the scenes folder (<scene_id>/B04.tif ...)"},
        {"parcels", &a.parcels, NULL, "FILE: the parcels (any GDAL vector format)"},
        {"registry", &a.registry, NULL, "URL: the exchange layer's security server"},
        {"season", &a.season, NULL, "YEAR: the claims' season (default: the as-of year)"},
        {"as-of", &a.as_of, NULL, "YYYY-MM-DD: decide as on this date (default: today)"},
        {"summary-json", &a.summary_json, NULL,
         "FILE: also write the run summary as JSON (counts, time, energy)"},
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
    /* Every setting is checked before the first stage: bad settings are exit 2 now,
     * not a failure after hours of ingest. */
    if (settings_device(&set, &device) != MC_OK || settings_check_common(&set) != MC_OK ||
        settings_check_registry(&set, a.registry) != MC_OK ||
        (a.season && check_season(a.season) != MC_OK)) {
        log_error("run: %s", mc_error_message());
        settings_free(&set);
        return EXIT_USAGE;
    }
    char scenes[4096], parcels[4096];
    if (cli_absolute_path("scenes", a.scenes, scenes, sizeof scenes) != MC_OK ||
        cli_absolute_path("parcels", a.parcels, parcels, sizeof parcels) != MC_OK) {
        log_error("run: %s", mc_error_message());
        settings_free(&set);
        return EXIT_FAILURE_RUN;
    }
    /* Held for the whole batch: the stages join the same (private) database. */
    store *held;
    if (cli_open_store(&set, &held) != MC_OK) {
        log_error("%s", mc_error_message());
        settings_free(&set);
        return EXIT_FAILURE_RUN;
    }
    /* One run at a time per database (and so per state directory): a second one
     * says so and waits; the lock ends with the connection, also when killed. */
    int got_lock = 0;
    if (store_stage_lock(held, "run", 0, &got_lock) == MC_OK && !got_lock) {
        log_warn("run: another mowcheck run is working on this database; waiting for it to "
                 "finish");
        if (store_stage_lock(held, "run", 1, &got_lock) != MC_OK)
            log_warn("run: %s", mc_error_message());
    }
    int64_t run_id = 0;
    if (store_run_begin(held, "run", &run_id) != MC_OK)
        log_warn("run: %s (the run is not recorded)", mc_error_message());
    stage_argv common = {.n = 0};
    collect_common(argc, argv, &common);
    const char *ingest_extra[] = {"--scenes", scenes, "--parcels", parcels, NULL};
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
    time_t started = time(NULL);
    stage_result st[3] = {{.name = "ingest"}, {.name = "detect"}, {.name = "decide"}};
    stage_counts_clear(); /* each stage records its own counts as it ends */
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
     * if asked, in a file; as text on stdout unless --quiet. */
    run_energy energy;
    total_energy(st, 3, isnan(set.cpu_watts_per_core) ? 0 : set.cpu_watts_per_core, &energy);
    run_meta meta = {.exit_code = code, .season = run_season(&a), .started = started,
                     .ended = time(NULL)};
    char *json = summary_json(st, 3, &energy, &meta);
    if (!json)
        log_warn("run: out of memory writing the summary");
    if (log_get_level() <= LOG_INFO)
        print_summary(st, 3, &energy);
    const char *status = code > EXIT_ATTENTION ? "failed" : code ? "partial" : "ok";
    if (run_id > 0 && store_run_end(held, run_id, status, json) != MC_OK)
        log_warn("run: %s", mc_error_message());
    if (a.summary_json && json) {
        FILE *f = fopen(a.summary_json, "w");
        int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
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
