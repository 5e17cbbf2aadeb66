/* mowcheck decide | case NUMBER | review NUMBER ... and the `decisions` kind of
 * mowcheck export: thin layers over decide_stage.c and store_decisions.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "casenum.h"
#include "cli.h"
#include "commands.h"
#include "decide_stage.h"
#include "detect.h"
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

/* Text from the database or the registry, safe on a terminal: control characters
 * become '?'. */
static void put_text(FILE *out, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++)
        fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, out);
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
    "                       [--min-clear-in-window N] [--wait-after-window-days N]\n\n"
    "Asks the registry (through the exchange layer) for the claims of the stored parcels,\n"
    "applies each claim's scheme window and min_mowings to the detected mowing events and\n"
    "records one decision per claim: approved, not_mowed, inconclusive, pending or error.\n"
    "not_mowed and inconclusive are flags for an inspector and get a case number; nothing\n"
    "is rejected automatically. Registry identity and TLS come from the registry_* settings.\n"
    "Exit 1 where the registry failed for some parcels (they are retried next run).";

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
} decide_args;

static int decide_options(const mc_settings *set, const decide_args *a, decide_stage_options *o)
{
    memset(o, 0, sizeof *o);
    decide_params_default(&o->params);
    detect_model m;
    if (detect_load_model(set->model, &m) != MC_OK)
        return mc_fail_wrap("decide: the detector's model");
    /* an event counts where the detector would call it automatically */
    o->params.min_confidence = m.auto_mowed_threshold;
    o->params.max_gap_days = m.max_gap_days;
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
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char **pos;
    int n_pos = 0, code;
    if (!parse(argc, argv, decide_usage, options, &set, &pos, &n_pos, &code))
        goto done;
    code = EXIT_USAGE;
    if (n_pos > 0) {
        log_error("decide: unexpected argument '%s' (see mowcheck decide --help)", pos[0]);
        goto done;
    }
    decide_stage_options o;
    registry_config reg;
    registry_from_settings(&set, a.registry, &reg);
    if (decide_options(&set, &a, &o) != MC_OK) {
        log_error("%s", mc_error_message());
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
    code = decide_with_store(st, &o);
    store_close(st);
done:
    free(pos);
    settings_free(&set);
    return code;
}

/* ---- case ---- */

static const char case_usage[] =
    "usage: mowcheck case NUMBER\n\n"
    "Shows a case: the parcel and claim, the outcome and its reason in plain words, the\n"
    "evidence (mowing events, clear satellite views), and the inspector's review.\n"
    "A mistyped number is refused by its check digits.";

/* The canonical form of a typed case number, or a message saying what is wrong. */
static int canonical_case(const char *typed, char *out, size_t size)
{
    int season;
    int64_t serial;
    if (casenum_parse(typed, &season, &serial) != MC_OK)
        return mc_fail_wrap("case number '%s'", typed);
    return casenum_format(season, serial, out, size);
}

static void print_events(FILE *out, json_t *reason)
{
    json_t *events = json_object_get(reason, "events");
    size_t i;
    json_t *e;
    if (json_array_size(events) == 0) {
        fputs("  events:    no mowing event detected this season\n", out);
        return;
    }
    json_array_foreach(events, i, e) {
        fprintf(out, "  %s  mowing on about ", i == 0 ? "events:  " : "         ");
        put_text(out, json_string_value(json_object_get(e, "date")));
        fputs(" (between ", out);
        put_text(out, json_string_value(json_object_get(e, "date_start")));
        fputs(" and ", out);
        put_text(out, json_string_value(json_object_get(e, "date_end")));
        fprintf(out, "), confidence %.2f, ", json_number_value(json_object_get(e, "confidence")));
        put_text(out, json_string_value(json_object_get(e, "position")));
        fputs(" the window\n", out);
    }
}

static void print_evidence(FILE *out, const char *reason_json)
{
    json_t *reason = json_loads(reason_json ? reason_json : "", 0, NULL);
    if (!reason)
        return;
    json_t *ob = json_object_get(reason, "observations");
    if (ob) {
        print_events(out, reason);
        fprintf(out, "  views:     %lld clear in the season, %lld inside the window, longest gap "
                     "%lld days, last clear ",
                (long long)json_integer_value(json_object_get(ob, "clear_in_season")),
                (long long)json_integer_value(json_object_get(ob, "clear_in_window")),
                (long long)json_integer_value(json_object_get(ob, "longest_gap_days")));
        const char *last = json_string_value(json_object_get(ob, "last_clear"));
        put_text(out, last ? last : "none");
        fputc('\n', out);
    }
    json_t *sc = json_object_get(reason, "scenes_used");
    if (sc)
        fprintf(out, "  scenes:    %lld used\n", (long long)json_integer_value(sc));
    json_decref(reason);
}

static void print_case(FILE *out, const store_case *c)
{
    fputs("Case ", out);
    put_text(out, c->case_number);
    fputs("\n  claim:     ", out);
    put_text(out, c->claim_id);
    fprintf(out, " (season %d, scheme ", c->season);
    put_text(out, c->scheme[0] ? c->scheme : "-");
    fputs(", applicant ", out);
    put_text(out, c->applicant[0] ? c->applicant : "-");
    fputs(")\n  parcel:    ", out);
    put_text(out, c->parcel_id);
    fputs("\n  window:    ", out);
    put_text(out, c->window_start);
    fputs(" to ", out);
    put_text(out, c->window_end);
    fprintf(out, ", at least %d mowing%s\n  outcome:   ", c->min_mowings,
            c->min_mowings == 1 ? "" : "s");
    put_text(out, c->outcome[0] ? c->outcome : "(no current decision)");
    fputs(" (decided ", out);
    put_text(out, c->decided_at);
    fputs(", as of ", out);
    put_text(out, c->as_of);
    fputs(", model ", out);
    put_text(out, c->model_version[0] ? c->model_version : "-");
    fputs(")\n  reason:    ", out);
    put_text(out, c->reason_text);
    fputc('\n', out);
    print_evidence(out, c->reason_json);
    if (c->n_reviews == 0)
        fputs("  review:    not reviewed yet\n", out);
    for (size_t i = 0; i < c->n_reviews; i++) {
        const store_review_row *r = &c->reviews[i];
        fputs(i + 1 == c->n_reviews ? "  review:    " : "  earlier:   ", out);
        put_text(out, r->verdict);
        fputs(" by inspector ", out);
        put_text(out, r->inspector);
        fputs(" on ", out);
        put_text(out, r->reviewed_at);
        fputs(": ", out);
        put_text(out, r->note);
        fputc('\n', out);
    }
    if (c->proposal_outcome) {
        fputs("  later run: would now decide ", out);
        put_text(out, c->proposal_outcome);
        fputs(" (", out);
        put_text(out, c->proposed_at);
        fputs("): ", out);
        put_text(out, c->proposal_text);
        fputs("\n             the reviewed decision stays as it is.\n", out);
    }
}

/* Opens the store and finds the case; prints the failure. found: 0 = no such case. */
static int load_case(const mc_settings *set, const char *number, store **st, store_case *c,
                     int *found)
{
    int code = open_store(set, st);
    if (code != EXIT_OK)
        return code;
    if (store_case_get(*st, number, c, found) != MC_OK) {
        log_error("%s", mc_error_message());
        store_close(*st);
        return EXIT_FAILURE_RUN;
    }
    if (!*found) {
        log_error("case %s: no such case", number);
        store_close(*st);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cmd_case(int argc, char **argv)
{
    mc_settings set;
    const char **pos;
    int n_pos = 0, code;
    const cli_option options[] = {{NULL, NULL, NULL, NULL}};
    if (!parse(argc, argv, case_usage, options, &set, &pos, &n_pos, &code))
        goto done;
    code = EXIT_USAGE;
    char number[CASENUM_MAX];
    if (n_pos != 1) {
        log_error("case: give one case number (see mowcheck case --help)");
        goto done;
    }
    if (canonical_case(pos[0], number, sizeof number) != MC_OK) {
        log_error("%s", mc_error_message());
        goto done;
    }
    store *st;
    store_case c;
    int found;
    if ((code = load_case(&set, number, &st, &c, &found)) != EXIT_OK)
        goto done;
    print_case(stdout, &c);
    store_case_free(&c);
    store_close(st);
done:
    free(pos);
    settings_free(&set);
    return code;
}

/* ---- review ---- */

static const char review_usage[] =
    "usage: mowcheck review NUMBER --verdict mowed|not_mowed|needs_visit --inspector ID\n"
    "                       --note TEXT\n\n"
    "Records an inspector's verdict on a case. A reviewed decision is never changed by a\n"
    "later run; what a later run would decide is shown beside it (mowcheck case).";

static int check_review_args(const char *verdict, const char *inspector, const char *note)
{
    if (!verdict || (strcmp(verdict, "mowed") != 0 && strcmp(verdict, "not_mowed") != 0 &&
                     strcmp(verdict, "needs_visit") != 0))
        return mc_fail("review: --verdict must be mowed, not_mowed or needs_visit (got '%s')",
                       verdict ? verdict : "");
    if (!inspector || !inspector[0])
        return mc_fail("review: --inspector ID is required");
    if (!note || !note[0])
        return mc_fail("review: --note TEXT is required (why the verdict)");
    return MC_OK;
}

int cmd_review(int argc, char **argv)
{
    const char *verdict = NULL, *inspector = NULL, *note = NULL;
    const cli_option options[] = {
        {"verdict", &verdict, NULL, "mowed | not_mowed | needs_visit"},
        {"inspector", &inspector, NULL, "ID: the inspector's identifier"},
        {"note", &note, NULL, "TEXT: why (what was seen, where)"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    const char **pos;
    int n_pos = 0, code;
    if (!parse(argc, argv, review_usage, options, &set, &pos, &n_pos, &code))
        goto done;
    code = EXIT_USAGE;
    char number[CASENUM_MAX];
    if (n_pos != 1) {
        log_error("review: give one case number (see mowcheck review --help)");
        goto done;
    }
    if (canonical_case(pos[0], number, sizeof number) != MC_OK ||
        check_review_args(verdict, inspector, note) != MC_OK) {
        log_error("%s", mc_error_message());
        goto done;
    }
    store *st;
    store_case c;
    int found;
    if ((code = load_case(&set, number, &st, &c, &found)) != EXIT_OK)
        goto done;
    store_case_free(&c);
    if (store_review_add(st, number, verdict, inspector, note) != MC_OK) {
        log_error("%s", mc_error_message());
        code = EXIT_FAILURE_RUN;
    } else {
        printf("review: case %s: %s by inspector ", number, verdict);
        put_text(stdout, inspector);
        fputc('\n', stdout);
    }
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
