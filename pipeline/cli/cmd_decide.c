/* mowcheck decide and the `decisions` kind of mowcheck export: thin layers over
 * decide_stage.c and store_decisions.c (case and review: cmd_case.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "decide_offline.h"
#include "decide_stage.h"
#include "detect.h"
#include "detect_stage.h"
#include "error.h"
#include "log.h"
#include "series.h"
#include "store.h"

/* ---- shared ---- */

static int open_store(const mc_settings *set, store **st)
{
    if (cli_open_store(set, st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    return EXIT_OK;
}

static int parse_int_arg(const char *name, const char *text, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || *end || end == text || x < lo || x > hi)
        return mc_fail("--%s: '%s' is not a whole number in %ld..%ld", name, text ? text : "",
                       lo, hi);
    *v = x;
    return MC_OK;
}

/* Parses the command line; positional arguments into pos (argc entries). */
static int parse(int argc, char **argv, const char *usage, const cli_option *opt,
                 mc_settings *set, const char ***pos, int *n_pos, int *code)
{
    *pos = calloc((size_t)argc + 1, sizeof **pos);
    if (!*pos) {
        settings_load(set, NULL);
        *code = EXIT_FAILURE_RUN;
        return 0;
    }
    int parsed = cli_parse(argc, argv, usage, opt, set, *pos, n_pos);
    *code = parsed == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    return parsed == CLI_OK;
}

/* ---- decide ---- */

static const char decide_usage[] =
    "usage: mowcheck decide --registry URL [--season YEAR] [--as-of YYYY-MM-DD]\n"
    "                       [--min-clear-in-window N] [--wait-after-window-days N]\n"
    "       mowcheck decide --series S --claims C.csv -o decisions.csv [--as-of ...]\n\n"
    "Asks the registry (through the exchange layer) for the claims of the stored parcels,\n"
    "applies each claim's scheme window and min_mowings to the detected mowing events and\n"
    "records one decision per claim: approved, not_mowed, inconclusive, pending or error.\n"
    "not_mowed and inconclusive are flags for an inspector and get a case number; nothing\n"
    "is rejected automatically. Registry identity and TLS come from the registry_* settings.\n"
    "Exit 1 where the registry failed for some parcels (they are retried next run).\n\n"
    "With --series and --claims: the same rule on a series CSV and a claims CSV (the\n"
    "registry's CSV format), with no database and no registry: try an operating point\n"
    "(approval_min_confidence) on last year's claims. Nothing is stored.";

static int today_utc(int32_t *day)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return mc_fail("cannot read the clock");
    *day = date_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return MC_OK;
}

static void registry_from_settings(const mc_settings *set, const char *url, registry_config *c)
{
    memset(c, 0, sizeof *c);
    c->base_url = url ? url : set->registry_url;
    c->service = set->registry_service;
    c->client = set->registry_client;
    c->user_id = set->registry_user_id;
    c->tls_cert = set->registry_tls_cert;
    c->tls_key = set->registry_tls_key;
    c->tls_ca = set->registry_tls_ca;
    c->timeout_ms = set->registry_timeout_ms;
    c->max_attempts = set->registry_max_attempts;
    c->backoff_ms = set->registry_backoff_ms;
    c->max_url_bytes = (size_t)set->registry_max_url_bytes;
    c->breaker_failures = set->registry_breaker_failures;
    c->allow_plain_http = set->registry_allow_plain_http;
}

static char *summary_json(const decide_stage_summary *sum)
{
    json_t *o = json_object();
    json_object_set_new(o, "parcels", json_integer((json_int_t)sum->n_parcels));
    json_object_set_new(o, "claims", json_integer((json_int_t)sum->n_claims));
    json_object_set_new(o, "failed_parcels", json_integer((json_int_t)sum->n_failed_parcels));
    json_t *oc = json_object();
    for (int i = 0; i < DECIDE_N_OUTCOMES; i++)
        json_object_set_new(oc, decide_outcome_name((decide_outcome)i),
                            json_integer((json_int_t)sum->n_outcome[i]));
    json_object_set_new(o, "outcomes", oc);
    json_object_set_new(o, "new", json_integer((json_int_t)sum->n_new));
    json_object_set_new(o, "changed", json_integer((json_int_t)sum->n_changed));
    json_object_set_new(o, "unchanged", json_integer((json_int_t)sum->n_unchanged));
    json_object_set_new(o, "proposed_beside_review", json_integer((json_int_t)sum->n_proposed));
    json_object_set_new(o, "kept_after_failure", json_integer((json_int_t)sum->n_kept));
    json_object_set_new(o, "cases", json_integer((json_int_t)sum->n_cases));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static void print_summary(const decide_stage_summary *sum, int season)
{
    printf("decide: season %d: %zu parcels asked, %zu claims: %zu approved, %zu not_mowed, "
           "%zu inconclusive, %zu pending, %zu error; %zu flagged with a case number\n",
           season, sum->n_parcels, sum->n_claims, sum->n_outcome[DECIDE_APPROVED],
           sum->n_outcome[DECIDE_NOT_MOWED], sum->n_outcome[DECIDE_INCONCLUSIVE],
           sum->n_outcome[DECIDE_PENDING], sum->n_outcome[DECIDE_ERROR], sum->n_cases);
    printf("decide: %zu new, %zu changed, %zu unchanged, %zu proposed beside a review, "
           "%zu kept after a registry failure\n",
           sum->n_new, sum->n_changed, sum->n_unchanged, sum->n_proposed, sum->n_kept);
    if (sum->n_failed_parcels)
        log_warn("decide: the registry failed for %zu parcels (outcome error, retried next run): "
                 "%s", sum->n_failed_parcels, sum->failure);
}

typedef struct decide_args {
    const char *registry, *season, *as_of, *min_clear, *wait_days;
    const char *series, *claims, *output;
} decide_args;

/* The options from the settings and arguments; *m gets the detector's model. */
static int decide_options(const mc_settings *set, const decide_args *a, decide_stage_options *o,
                          detect_model *m)
{
    memset(o, 0, sizeof *o);
    decide_params_default(&o->params);
    if (detect_load_model(set->model, m) != MC_OK)
        return mc_fail_wrap("decide: the detector's model");
    /* an event counts towards an approval at the agency's approval_min_confidence,
     * else at the threshold the model was trained with */
    o->params.min_confidence = isnan(set->approval_min_confidence) ? m->approval_threshold
                                                                   : set->approval_min_confidence;
    o->params.max_gap_days = m->max_gap_days;
    long v = 0;
    if (a->min_clear) {
        if (parse_int_arg("min-clear-in-window", a->min_clear, 0, 366, &v) != MC_OK)
            return MC_ERR;
        o->params.min_clear_in_window = (int)v;
    }
    if (a->wait_days) {
        if (parse_int_arg("wait-after-window-days", a->wait_days, 0, 366, &v) != MC_OK)
            return MC_ERR;
        o->params.wait_after_window_days = (int)v;
    }
    if (a->as_of) {
        if (date_parse(a->as_of, &o->as_of_day) != MC_OK)
            return mc_fail("--as-of: '%s' is not a date (YYYY-MM-DD)", a->as_of);
    } else if (today_utc(&o->as_of_day) != MC_OK) {
        return MC_ERR;
    }
    o->season = date_year(o->as_of_day);
    if (a->season) {
        if (parse_int_arg("season", a->season, 1900, 2999, &v) != MC_OK)
            return MC_ERR;
        o->season = (int)v;
    }
    o->observed.min_valid_pixels = set->min_valid_pixels;
    o->observed.min_valid_share = set->min_valid_share;
    o->observed.season = o->season;
    return MC_OK;
}

static int decide_with_store(store *st, decide_stage_options *o)
{
    if (store_run_begin(st, "decide", &o->run_id) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    decide_stage_summary sum;
    int rc = decide_stage_run(st, o, &sum);
    char *js = rc == MC_OK ? summary_json(&sum) : NULL;
    const char *status = rc != MC_OK ? "failed" : sum.n_failed_parcels ? "partial" : "ok";
    if (rc != MC_OK)
        log_error("%s", mc_error_message());
    else
        print_summary(&sum, o->season);
    if (store_run_end(st, o->run_id, status, js) != MC_OK)
        log_error("%s", mc_error_message());
    free(js);
    if (rc != MC_OK)
        return EXIT_FAILURE_RUN;
    return sum.n_failed_parcels ? EXIT_ATTENTION : EXIT_OK;
}

/* The events of the season must come from the model whose approval threshold decide
 * applies: `detect --model X` then a plain `decide` would judge X's confidences by
 * another model's threshold. A mismatch is refused (exit 2) before anything is
 * decided. */
static int same_model_as_detect(store *st, int season, const char *version)
{
    char **used;
    size_t n;
    if (store_detection_models(st, season, &used, &n) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    int code = EXIT_OK;
    for (size_t i = 0; i < n && code == EXIT_OK; i++)
        if (used[i][0] && strcmp(used[i], version) != 0) {
            log_error("decide: the %d season's events were detected with model %s, but decide "
                      "would apply the threshold of model %s (the model setting); run decide "
                      "with the model detect used, or detect again with this one",
                      season, used[i], version);
            code = EXIT_USAGE;
        }
    store_strings_free(used, n);
    return code;
}

/* decide --series S --claims C -o OUT: no store, no registry. */
static int decide_offline(const mc_settings *set, const decide_args *a)
{
    if (!a->series || !a->claims || !a->output) {
        log_error("decide: --series, --claims and -o go together (see mowcheck decide --help)");
        return EXIT_USAGE;
    }
    decide_stage_options o;
    detect_model *m = malloc(sizeof *m); /* large: its trees */
    if (!m || decide_options(set, a, &o, m) != MC_OK) {
        log_error("%s", m ? mc_error_message() : "decide: out of memory");
        free(m);
        return EXIT_USAGE;
    }
    decide_offline_options off = {.series_path = a->series, .claims_path = a->claims,
                                  .out_path = a->output, .model = m,
                                  .params = o.params, .as_of_day = o.as_of_day,
                                  .season = a->season ? o.season : 0,
                                  .min_valid_share = set->min_valid_share};
    decide_offline_summary sum;
    int rc = decide_offline_run(&off, &sum);
    free(m);
    if (rc != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    printf("decide: %zu claims from %s: %zu approved, %zu not_mowed, %zu inconclusive, "
           "%zu pending, %zu error (approval threshold %.4f); written to %s\n", sum.n_claims,
           a->claims, sum.n_outcome[DECIDE_APPROVED], sum.n_outcome[DECIDE_NOT_MOWED],
           sum.n_outcome[DECIDE_INCONCLUSIVE], sum.n_outcome[DECIDE_PENDING],
           sum.n_outcome[DECIDE_ERROR], o.params.min_confidence, a->output);
    return sum.n_outcome[DECIDE_ERROR] ? EXIT_ATTENTION : EXIT_OK;
}

int cmd_decide(int argc, char **argv)
{
    decide_args a = {0};
    const cli_option options[] = {
        {"registry", &a.registry, NULL, "URL: the security server (default: registry_url)"},
        {"season", &a.season, NULL, "YEAR: the claims' season (default: the as-of year)"},
        {"as-of", &a.as_of, NULL, "YYYY-MM-DD: decide as on this date (default: today, UTC)"},
        {"min-clear-in-window", &a.min_clear, NULL,
         "N: fewest clear views inside the window for not_mowed (default 3)"},
        {"wait-after-window-days", &a.wait_days, NULL,
         "N: days to wait for a clear view after the window (default 30)"},
        {"series", &a.series, NULL, "FILE: decide offline on this series CSV (with --claims)"},
        {"claims", &a.claims, NULL, "FILE: the claims CSV to decide offline (with --series)"},
        {"output", &a.output, NULL, "FILE: offline decisions CSV (also -o FILE)"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char **pos;
    int n_pos = 0, code;
    if (!parse(argc, argv, decide_usage, options, &set, &pos, &n_pos, &code))
        goto done;
    code = EXIT_USAGE;
    for (int i = 0; i < n_pos; i++) {
        if (strcmp(pos[i], "-o") == 0 && i + 1 < n_pos) {
            a.output = pos[++i];
            continue;
        }
        log_error("decide: unexpected argument '%s' (see mowcheck decide --help)", pos[i]);
        goto done;
    }
    if (a.series || a.claims || a.output) {
        code = decide_offline(&set, &a);
        goto done;
    }
    decide_stage_options o;
    registry_config reg;
    registry_from_settings(&set, a.registry, &reg);
    detect_model *model = malloc(sizeof *model); /* large: its trees */
    char version[128] = "";
    int options_ok = model && decide_options(&set, &a, &o, model) == MC_OK &&
                     detect_model_version(set.model, model, version, sizeof version) == MC_OK;
    free(model); /* the stored path needs only the threshold and the version from it */
    if (!options_ok) {
        log_error("%s", model ? mc_error_message() : "decide: out of memory");
        goto done;
    }
    o.registry = &reg;
    if (registry_check_config(&reg) != MC_OK) { /* e.g. http:// with a client certificate */
        log_error("%s", mc_error_message());
        goto done;
    }
    store *st;
    if ((code = open_store(&set, &st)) != EXIT_OK)
        goto done;
    code = same_model_as_detect(st, o.season, version);
    if (code == EXIT_OK)
        code = decide_with_store(st, &o);
    store_close(st);
done:
    free(pos);
    settings_free(&set);
    return code;
}

/* ---- export decisions ---- */

typedef struct decisions_job {
    store *st;
    int season;
} decisions_job;

static int write_decisions(FILE *out, void *arg)
{
    decisions_job *job = arg;
    return store_export_decisions(job->st, job->season, out);
}

int cmd_export_decisions(const struct mc_settings *set, const char *output, int season)
{
    store *st;
    int code = open_store(set, &st);
    if (code != EXIT_OK)
        return code;
    decisions_job job = {st, season};
    int rc = output_write(output, write_decisions, &job);
    if (rc != MC_OK)
        log_error("export decisions: %s", mc_error_message());
    store_close(st);
    return rc == MC_OK ? EXIT_OK : EXIT_FAILURE_RUN;
}
