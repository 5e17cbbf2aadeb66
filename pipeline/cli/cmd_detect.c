/* mowcheck detect | train | eval: the mowing detector on series CSV files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "detect.h"
#include "detect_stage.h"
#include "error.h"
#include "eval.h"
#include "log.h"
#include "train.h"

static int fail_run(mc_settings *s, int code)
{
    log_error("%s", mc_error_message());
    settings_free(s);
    return code;
}

/* The nightly run's observation rules, so that a series file given on the command
 * line (detect --series, train, eval) is read the way ingest judges its own dates. */
static series_rules observation_rules(const mc_settings *s)
{
    return (series_rules){.min_valid_share = s->min_valid_share};
}

/* Reads the series CSV at path under the settings' observation rules and detects on it. */
static int detect_series_file(const mc_settings *s, const char *path, const detect_model *m,
                              series_set *set, detect_result *r)
{
    memset(r, 0, sizeof *r);
    series_rules rules = observation_rules(s);
    if (series_read_path_rules(path, &rules, set) != MC_OK)
        return MC_ERR;
    if (detect_run(set, m, r) != MC_OK) {
        mc_fail_wrap("series %s", path);
        series_free(set);
        return MC_ERR;
    }
    return MC_OK;
}


/* --repeat N: runs detection N more times over the loaded series and prints the
 * rate (scripts/bench-detect). One thread; parsing and writing are not timed. */
static int bench_detect(const series_set *set, const detect_model *m, const char *repeat_text)
{
    char *end;
    long repeat = strtol(repeat_text, &end, 10);
    if (end == repeat_text || *end != '\0' || repeat < 1 || repeat > 1000000)
        return mc_fail("--repeat '%s': want 1..1000000", repeat_text);
    struct timespec t0, t1;
    size_t seasons = 0, events = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < repeat; i++) {
        detect_result r;
        if (detect_run(set, m, &r) != MC_OK)
            return MC_ERR;
        seasons += r.n_summaries;
        events += r.n_events;
        detect_result_free(&r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("detect benchmark: %zu parcel-seasons (%zu observations per pass, %zu events) in "
           "%.3f s on one thread: %.0f parcel-seasons/s\n",
           seasons, set->n_obs, events / (size_t)repeat, s, (double)seasons / s);
    return MC_OK;
}

/* mowcheck detect without --series: the stored observations in, events stored. */
static int detect_stored(const mc_settings *set, const char *events_out, const char *summary_out,
                         const char *season_text)
{
    int season = 0;
    if (season_text) {
        char *end;
        long v = strtol(season_text, &end, 10);
        if (end == season_text || *end || v < 1900 || v > 2999) {
            log_error("detect: --season '%s': want a year", season_text);
            return EXIT_USAGE;
        }
        season = (int)v;
    }
    store *st;
    if (cli_open_store(set, &st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    detect_stage_summary sum;
    int rc = detect_stage_run(st, set, season, events_out, summary_out, &sum);
    store_close(st);
    if (rc != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    log_info("detect: %zu parcels, %zu parcel-seasons, %zu events (model %s, %.1f s); "
             "evidence suffices for %zu mowed and %zu not-mowed calls, %zu need a person; "
             "%zu scenes read from the database%s, %zu parcel-seasons changed and stored",
             sum.n_parcels, sum.n_seasons, sum.n_events, sum.model_version, sum.seconds,
             sum.n_call_mowed, sum.n_call_not_mowed, sum.n_insufficient, sum.n_scenes_read,
             sum.state_rebuilt ? " (state rebuilt)" : "", sum.n_stored);
    return EXIT_OK;
}

int cmd_detect(int argc, char **argv)
{
    const char *series = NULL, *events_out = NULL, *summary_out = NULL, *repeat = NULL;
    const char *season_text = NULL;
    const cli_option options[] = {
        {"season", &season_text, NULL, "stored observations: only this season (default all)"},
        {"series", &series, NULL, "series CSV (parcel_id,date,ndvi[,...]) to detect on"},
        {"events-out", &events_out, NULL, "events CSV to write ('-': stdout)"},
        {"summary-out", &summary_out, NULL, "per parcel-season summary CSV to write"},
        {"repeat", &repeat, NULL, "benchmark: detect N more times in memory, print the rate"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings s;
    const char *pos[argc + 1];
    int npos;
    int rc = cli_parse(argc, argv,
                       "usage: mowcheck detect [--season YEAR] [--events-out FILE] "
                       "[--summary-out FILE] [--model FILE]\n"
                       "       mowcheck detect --series FILE --events-out FILE "
                       "[--summary-out FILE] [--model FILE]\n\n"
                       "Without --series, detects on the stored observations and stores the\n"
                       "events and per parcel-season summaries for the decide stage.",
                       options, &s, pos, &npos);
    if (rc != CLI_OK) {
        settings_free(&s);
        return rc == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    }
    if (npos > 0 || (series && !events_out)) {
        log_error("detect: --series FILE needs --events-out FILE (see mowcheck detect --help)");
        settings_free(&s);
        return EXIT_USAGE;
    }
    if (!series) {
        rc = detect_stored(&s, events_out, summary_out, season_text);
        settings_free(&s);
        return rc;
    }
    detect_model m;
    if (detect_load_model(s.model, &m) != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    series_set set;
    detect_result r;
    if (detect_series_file(&s, series, &m, &set, &r) != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    rc = detect_stage_write_csv(events_out, &r, detect_write_events);
    if (rc == MC_OK && summary_out)
        rc = detect_stage_write_csv(summary_out, &r, detect_write_summaries);
    if (rc == MC_OK && repeat)
        rc = bench_detect(&set, &m, repeat);
    if (rc == MC_OK) {
        size_t decided = 0;
        for (size_t i = 0; i < r.n_summaries; i++)
            decided += r.summaries[i].call == DETECT_CALL_MOWED;
        log_info("detect: %zu parcels, %zu parcel-seasons, %zu events, %zu seasons with a "
                 "confident mowing", set.n_parcels, r.n_summaries, r.n_events, decided);
    }
    detect_result_free(&r);
    series_free(&set);
    if (rc != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    settings_free(&s);
    return EXIT_OK;
}

static int parse_seed(const char *text, uint64_t *seed)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text ? text : "1", &end, 10);
    if (!text || end == text || *end != '\0' || errno || text[0] == '-')
        return mc_fail("--seed '%s': want a non-negative integer", text ? text : "");
    *seed = v;
    return MC_OK;
}

static const char kind_help[] =
    "candidate classifier: trees (gradient-boosted, the default) or logistic";

/* --kind: NULL keeps the default of train_options_init. */
static int parse_kind(const char *text, model_kind *kind)
{
    if (text && model_kind_parse(text, kind) != MC_OK)
        return mc_fail("--kind '%s': want trees or logistic", text);
    return MC_OK;
}

static const char ndvi_only_help[] =
    "ignore the NDMI (ndmi, nir/swir1 columns): see what a series from scenes without B11 supports";

/* Reads series (under the observation rules) and labels and attaches them; warns
 * about labelled parcels without a series.
 * ndvi_only: NDMI is ignored, as if the series came from scenes without B11 (ingest
 * then stores NDVI only), to see what the nightly run's detection can do then. */
static int load_training(const mc_settings *s, const char *series, const char *labels,
                         int ndvi_only, series_set *set, eval_labels *l)
{
    series_rules rules = observation_rules(s);
    if (series_read_path_rules(series, &rules, set) != MC_OK)
        return MC_ERR;
    if (ndvi_only)
        series_drop_ndmi(set);
    if (eval_labels_read(labels, l) != MC_OK) {
        series_free(set);
        return MC_ERR;
    }
    size_t missing = eval_labels_attach(l, set);
    if (missing)
        log_warn("%zu labelled plot-years of %s have no series in %s; left out", missing,
                 labels, series);
    return MC_OK;
}

int cmd_train(int argc, char **argv)
{
    const char *series = NULL, *labels = NULL, *model_out = NULL, *seed_text = "1";
    const char *kind = NULL;
    int ndvi_only = 0;
    const cli_option options[] = {
        {"series", &series, NULL, "series CSV"},
        {"labels", &labels, NULL, "labels CSV (parcel_id,year,date,end_date,type)"},
        {"model-out", &model_out, NULL, "model file to write"},
        {"seed", &seed_text, NULL, "seed for the inner folds when there is one region (default 1)"},
        {"kind", &kind, NULL, kind_help},
        {"ndvi-only", NULL, &ndvi_only, ndvi_only_help},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings s;
    const char *pos[argc + 1];
    int npos;
    int rc = cli_parse(argc, argv,
                       "usage: mowcheck train --series S --labels L --model-out M [--seed N]\n"
                       "                      [--kind trees|logistic] [--ndvi-only]",
                       options, &s, pos, &npos);
    if (rc != CLI_OK) {
        settings_free(&s);
        return rc == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    }
    train_options o;
    train_options_init(&o);
    if (npos > 0 || !series || !labels || !model_out || parse_seed(seed_text, &o.seed) != MC_OK ||
        parse_kind(kind, &o.kind) != MC_OK) {
        log_error("train: needs --series, --labels and --model-out%s%s",
                  mc_error_message()[0] ? "; " : "", mc_error_message());
        settings_free(&s);
        return EXIT_USAGE;
    }
    series_set set;
    eval_labels l;
    if (load_training(&s, series, labels, ndvi_only, &set, &l) != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    o.log = log_get_level() <= LOG_INFO ? stderr : NULL;
    detect_model m;
    rc = train_model(&set, &l, NULL, &o, &m);
    if (rc == MC_OK)
        rc = model_save(model_out, &m);
    series_free(&set);
    eval_labels_free(&l);
    if (rc != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    settings_free(&s);
    return EXIT_OK;
}

static int eval_plain(const series_set *set, const eval_labels *l, const detect_model *m)
{
    detect_result r, b;
    eval_outcome *o = NULL;
    size_t n = 0;
    if (detect_run(set, m, &r) != MC_OK)
        return MC_ERR;
    eval_scores ms = {0}, bs = {0};
    int rc = eval_outcomes(l, set, &r, NULL, &o, &n);
    eval_accumulate(&ms, o, n);
    free(o);
    o = NULL;
    detect_result_free(&r);
    if (rc == MC_OK)
        rc = eval_baseline(set, NULL, &b);
    if (rc == MC_OK) {
        rc = eval_outcomes(l, set, &b, NULL, &o, &n);
        eval_accumulate(&bs, o, n);
        free(o);
        detect_result_free(&b);
    }
    if (rc == MC_OK) {
        eval_print(stdout, "mowcheck detector (model as given; in-sample if it was trained on "
                           "these data):", &ms, 1);
        eval_print(stdout, "Sen4CAP-style rule:", &bs, 0);
    }
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *series = NULL, *labels = NULL, *cv = NULL, *seed_text = "1", *kind = NULL;
    int ndvi_only = 0;
    const cli_option options[] = {
        {"series", &series, NULL, "series CSV"},
        {"labels", &labels, NULL, "labels CSV"},
        {"cv", &cv, NULL, "region: leave-one-region-out cross-validation (trains per fold)"},
        {"seed", &seed_text, NULL, "training seed for --cv (default 1)"},
        {"kind", &kind, NULL, kind_help},
        {"ndvi-only", NULL, &ndvi_only, ndvi_only_help},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings s;
    const char *pos[argc + 1];
    int npos;
    int rc = cli_parse(argc, argv,
                       "usage: mowcheck eval --series S --labels L [--model M] [--cv region]\n"
                       "                     [--kind trees|logistic] [--ndvi-only]",
                       options, &s, pos, &npos);
    if (rc != CLI_OK) {
        settings_free(&s);
        return rc == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    }
    train_options o;
    train_options_init(&o);
    if (npos > 0 || !series || !labels || (cv && strcmp(cv, "region") != 0) ||
        parse_seed(seed_text, &o.seed) != MC_OK || parse_kind(kind, &o.kind) != MC_OK) {
        log_error("eval: needs --series and --labels; --cv takes only 'region'; --kind trees or "
                  "logistic");
        settings_free(&s);
        return EXIT_USAGE;
    }
    series_set set;
    eval_labels l;
    if (load_training(&s, series, labels, ndvi_only, &set, &l) != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    if (cv) {
        rc = train_cv_region(&set, &l, &o, stdout, NULL, NULL, NULL);
    } else {
        detect_model m;
        rc = detect_load_model(s.model, &m);
        if (rc == MC_OK)
            rc = eval_plain(&set, &l, &m);
    }
    series_free(&set);
    eval_labels_free(&l);
    if (rc != MC_OK)
        return fail_run(&s, EXIT_FAILURE_RUN);
    settings_free(&s);
    return EXIT_OK;
}
