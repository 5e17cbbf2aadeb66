/* The decide stage (decide_stage.h). */
#define _GNU_SOURCE
#include "decide_stage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casenum.h"
#include "error.h"
#include "log.h"
#include "progress.h"
#include "dates.h"
#include "stage_counts.h"

static int cmp_claim(const void *a, const void *b)
{
    const registry_claim *x = a, *y = b;
    int c = strcmp(x->claim_id, y->claim_id);
    return c ? c : strcmp(x->parcel_id, y->parcel_id);
}

static const store_evidence *evidence_of(const store_evidence *ev, size_t n, const char *parcel)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ev[mid].parcel_id, parcel);
        if (c == 0)
            return &ev[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void count_effect(decide_stage_summary *sum, store_decision_effect e)
{
    switch (e) {
    case STORE_DECISION_NEW: sum->n_new++; break;
    case STORE_DECISION_CHANGED: sum->n_changed++; break;
    case STORE_DECISION_UNCHANGED: sum->n_unchanged++; break;
    case STORE_DECISION_PROPOSED: sum->n_proposed++; break;
    case STORE_DECISION_KEPT: sum->n_kept++; break;
    }
}

/* Builds the rule's input for one claim. A window that is not a date is a data
 * failure: the claim gets `error` (the client validates dates, so this is a guard). */
static void claim_input(const registry_claim *c, const store_evidence *ev, const decide_stage_options *o,
                        decide_event *events, decide_claim_input *in)
{
    memset(in, 0, sizeof *in);
    in->claim_id = c->claim_id;
    in->parcel_id = c->parcel_id;
    in->season = c->season;
    in->min_mowings = c->min_mowings;
    in->as_of = o->as_of_day;
    if (date_parse(c->window_start, &in->window_start) != MC_OK ||
        date_parse(c->window_end, &in->window_end) != MC_OK)
        in->failure = "the claim's window from the registry is not a pair of dates";
    if (!ev)
        return;
    for (size_t i = 0; i < ev->n_events; i++) {
        events[i].day_start = ev->events[i].day_start;
        events[i].day_end = ev->events[i].day_end;
        events[i].day = ev->events[i].day;
        events[i].confidence = ev->events[i].confidence;
    }
    in->events = events;
    in->n_events = ev->n_events;
    in->has_summary = ev->has_summary;
    in->sufficient = ev->sufficient;
    in->unsure = ev->unsure;
    in->clear_days = ev->clear_days;
    in->n_clear_days = ev->n_clear_days;
}

static int decide_one(store *s, const registry_claim *c, const store_evidence *ev,
                      const decide_stage_options *o, const char *as_of, decide_stage_summary *sum)
{
    decide_event *events = calloc(ev && ev->n_events ? ev->n_events : 1, sizeof *events);
    if (!events)
        return mc_fail("claim %s: out of memory", c->claim_id);
    decide_claim_input in;
    claim_input(c, ev, o, events, &in);
    decide_result r;
    decide_claim(&in, &o->params, &r);
    const char *model = ev && ev->model_version[0] ? ev->model_version : NULL;
    char *json = decide_reason_json(&in, &o->params, &r, model, ev ? ev->scenes_used : 0);
    free(events);
    if (!json)
        return mc_fail("claim %s: out of memory", c->claim_id);
    store_decision d = {.claim_id = c->claim_id, .parcel_id = c->parcel_id, .season = c->season,
                        .applicant = c->applicant, .scheme = c->scheme,
                        .window_start = in.failure ? NULL : c->window_start,
                        .window_end = in.failure ? NULL : c->window_end,
                        .min_mowings = c->min_mowings, .outcome = decide_outcome_name(r.outcome),
                        .rule = decide_why_code(r.why), .reason_json = json,
                        .reason_text = r.text, .model_version = model, .run_id = o->run_id,
                        .as_of = as_of};
    store_decision_effect effect;
    char case_number[CASENUM_MAX];
    int rc = store_decision_put(s, &d, &effect, case_number, sizeof case_number);
    free(json);
    if (rc != MC_OK)
        return MC_ERR;
    sum->n_outcome[r.outcome]++;
    count_effect(sum, effect);
    sum->n_cases += decide_outcome_is_flag(r.outcome) && case_number[0];
    log_debug("decide: claim %s (parcel %s): %s (%s)%s%s", c->claim_id, c->parcel_id,
              decide_outcome_name(r.outcome), decide_why_code(r.why), case_number[0] ? ", case " : "",
              case_number);
    return MC_OK;
}

/* A parcel whose claims could not be fetched: `error`, never a flag. */
static int decide_failed_parcel(store *s, const char *parcel, const decide_stage_options *o,
                                const char *failure, const char *as_of, decide_stage_summary *sum)
{
    decide_claim_input in = {.parcel_id = parcel, .season = o->season, .min_mowings = 1,
                             .failure = failure, .as_of = o->as_of_day};
    decide_result r;
    decide_claim(&in, &o->params, &r);
    char *json = decide_reason_json(&in, &o->params, &r, NULL, -1);
    if (!json)
        return mc_fail("parcel %s: out of memory", parcel);
    store_decision d = {.claim_id = NULL, .parcel_id = parcel, .season = o->season,
                        .outcome = decide_outcome_name(r.outcome), .rule = decide_why_code(r.why),
                        .reason_json = json, .reason_text = r.text, .run_id = o->run_id,
                        .as_of = as_of};
    store_decision_effect effect;
    char case_number[CASENUM_MAX];
    int rc = store_decision_put(s, &d, &effect, case_number, sizeof case_number);
    free(json);
    if (rc != MC_OK)
        return MC_ERR;
    if (effect != STORE_DECISION_KEPT)
        sum->n_outcome[DECIDE_ERROR]++;
    count_effect(sum, effect);
    return MC_OK;
}

static int write_decisions(store *s, registry_answer *a, const store_evidence *ev, size_t n_ev,
                           const decide_stage_options *o, decide_stage_summary *sum)
{
    char as_of[11], failure[600];
    date_format(o->as_of_day, as_of);
    snprintf(failure, sizeof failure, "registry: %s",
             a->failure[0] ? a->failure : "no answer for this parcel");
    if (a->n_claims > 1)
        qsort(a->claims, a->n_claims, sizeof *a->claims, cmp_claim);
    if (store_decide_begin(s) != MC_OK)
        return MC_ERR;
    progress bar;
    progress_begin(&bar, "claims", (int64_t)(a->n_claims + a->n_failed));
    for (size_t i = 0; i < a->n_claims; i++, progress_step(&bar, 1)) {
        const registry_claim *c = &a->claims[i];
        if (decide_one(s, c, evidence_of(ev, n_ev, c->parcel_id), o, as_of, sum) != MC_OK)
            goto fail;
    }
    for (size_t i = 0; i < a->n_failed; i++, progress_step(&bar, 1))
        if (decide_failed_parcel(s, a->failed_parcels[i], o, failure, as_of, sum) != MC_OK)
            goto fail;
    progress_end(&bar);
    if (store_decide_commit(s) != MC_OK)
        goto fail_committing;
    return MC_OK;
fail:
    progress_end(&bar);
fail_committing:
    store_decide_abort(s);
    return MC_ERR;
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* For `mowcheck run`'s summary (stage_counts.h): "claims", "outcome_approved", ... */
static void record_counts(const decide_stage_summary *sum)
{
    stage_counts_set("claims", (int64_t)sum->n_claims);
    stage_counts_set("failed_parcels", (int64_t)sum->n_failed_parcels);
    for (int i = 0; i < DECIDE_N_OUTCOMES; i++) {
        char name[STAGE_COUNTS_NAME_MAX];
        snprintf(name, sizeof name, "outcome_%s", decide_outcome_name((decide_outcome)i));
        stage_counts_set(name, (int64_t)sum->n_outcome[i]);
    }
}

int decide_stage_run(store *s, const decide_stage_options *o, decide_stage_summary *sum)
{
    double t0 = seconds_now();
    memset(sum, 0, sizeof *sum);
    char **owned = NULL;
    size_t n_parcels = o->n_parcel_ids;
    const char *const *parcels = o->parcel_ids;
    if (!parcels) {
        if (store_decide_parcel_ids(s, o->season, &owned, &n_parcels) != MC_OK)
            return mc_fail_wrap("decide, season %d", o->season);
        parcels = (const char *const *)owned;
    }
    sum->n_parcels = n_parcels;
    char issue[40], purpose[160];
    snprintf(issue, sizeof issue, "run %" PRId64, o->run_id);
    snprintf(purpose, sizeof purpose,
             "grassland subsidy: mowing check of season %d (mowcheck decide)", o->season);
    registry_answer a;
    memset(&a, 0, sizeof a);
    int rc = MC_OK;
    if (n_parcels > 0)
        rc = registry_fetch_claims(o->registry, s, o->run_id, issue, purpose, o->season, parcels,
                                   n_parcels, &a);
    double t1 = seconds_now();
    store_evidence *ev = NULL;
    size_t n_ev = 0;
    if (rc == MC_OK)
        rc = store_evidence_load(s, o->season, o->as_of_day, &o->observed, &ev, &n_ev);
    double t2 = seconds_now();
    if (rc == MC_OK) {
        sum->n_claims = a.n_claims;
        sum->n_failed_parcels = a.n_failed;
        snprintf(sum->failure, sizeof sum->failure, "%s", a.failure);
        rc = write_decisions(s, &a, ev, n_ev, o, sum);
        log_info("decide: registry %.1f s, evidence of %zu parcels %.1f s, %zu decisions %.1f s",
                 t1 - t0, n_ev, t2 - t1, a.n_claims + a.n_failed, seconds_now() - t2);
    }
    store_evidence_free(ev, n_ev);
    registry_answer_free(&a);
    store_strings_free(owned, owned ? n_parcels : 0);
    if (rc != MC_OK)
        return mc_fail_wrap("decide, season %d", o->season);
    record_counts(sum);
    return MC_OK;
}
