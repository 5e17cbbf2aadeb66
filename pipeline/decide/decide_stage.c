/* The decide stage (decide_stage.h). */
#define _GNU_SOURCE
#include "decide_stage.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

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

/* Both store_evidence and store_parcel_problem start with their parcel_id, and both
 * lists are sorted by it (byte order): one lookup serves both. */
_Static_assert(offsetof(store_evidence, parcel_id) == 0, "parcel_id first");
_Static_assert(offsetof(store_parcel_problem, parcel_id) == 0, "parcel_id first");

static int cmp_parcel_key(const void *key, const void *elem)
{
    return strcmp(key, *(char *const *)elem);
}

static const store_evidence *evidence_of(const store_evidence *ev, size_t n, const char *parcel)
{
    return n ? bsearch(parcel, ev, n, sizeof *ev, cmp_parcel_key) : NULL;
}

static const store_parcel_problem *problem_of(const store_parcel_problem *pp, size_t n,
                                              const char *parcel)
{
    return n ? bsearch(parcel, pp, n, sizeof *pp, cmp_parcel_key) : NULL;
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

static const char *const problem_kinds[] = {"geometry_refused", "overlap", "too_small"};

/* A parcel the satellite cannot decide (store_parcel_problem): inconclusive, for a
 * person, whatever the evidence says. */
static void problem_result(const store_parcel_problem *p, decide_result *r)
{
    memset(r, 0, sizeof *r);
    r->outcome = DECIDE_INCONCLUSIVE;
    r->why = DECIDE_WHY_NO_OBSERVATIONS;
    r->longest_gap_days = -1;
    r->last_clear_day = INT32_MIN;
    switch (p->kind) {
    case STORE_PARCEL_REFUSED:
        snprintf(r->text, sizeof r->text, "Geometry refused: the parcel %s, so the satellite "
                 "cannot observe it; a person needs to check it.", p->detail);
        break;
    case STORE_PARCEL_OVERLAP:
        if (p->n_overlaps > 1)
            snprintf(r->text, sizeof r->text, "The parcel overlaps parcel %s and %zu other%s: "
                     "%.0f%% of its area is also in other parcels, and ground claimed twice "
                     "counts for neither; a person needs to check it.", p->detail,
                     p->n_overlaps - 1, p->n_overlaps > 2 ? "s" : "", 100 * p->share);
        else
            snprintf(r->text, sizeof r->text, "The parcel overlaps parcel %s: %.0f%% of its "
                     "area is also in that parcel, and ground claimed twice counts for neither; "
                     "a person needs to check it.", p->detail, 100 * p->share);
        break;
    default:
        snprintf(r->text, sizeof r->text, "Too small to observe: no 10 m pixel of the parcel "
                 "is left after the inner buffer (or it lies outside every tile measured so "
                 "far); a person needs to check it.");
    }
}

/* The reason's JSON with the parcel's problem added (replaces *json). */
static int add_problem_json(char **json, const store_parcel_problem *p)
{
    json_t *o = json_loads(*json, 0, NULL);
    json_t *u = json_object();
    if (!o || !u) {
        json_decref(o);
        json_decref(u);
        return MC_ERR;
    }
    json_object_set_new(u, "kind", json_string(problem_kinds[p->kind]));
    if (p->detail[0])
        json_object_set_new(u, "detail", json_string(p->detail));
    if (p->kind == STORE_PARCEL_OVERLAP) {
        json_object_set_new(u, "share", json_real((double)(int64_t)(p->share * 1e4 + 0.5) / 1e4));
        json_object_set_new(u, "parcels", json_integer((json_int_t)p->n_overlaps));
    }
    json_object_set_new(o, "unobservable", u);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        return MC_ERR;
    free(*json);
    *json = text;
    return MC_OK;
}

/* Where the night's decisions go. Claims wait in a batch and are recorded together
 * (store_decisions_put_claims: one round trip for many; at 200,000 claims a night the
 * round trips were most of decide's time). A parcel-level error is written on its own,
 * after the batch before it: whether it is kept depends on its parcel's claims being
 * stored. */
enum { WRITER_BATCH = 256 };
typedef struct decision_writer {
    store *s;
    const decide_stage_options *o;
    const char *as_of;
    decide_stage_summary *sum;
    size_t n; /* claims waiting */
    store_decision d[WRITER_BATCH];
    char *json[WRITER_BATCH];
    decide_result r[WRITER_BATCH];
    store_decision_effect effect[WRITER_BATCH];
    char case_number[WRITER_BATCH][CASENUM_MAX];
} decision_writer;

static void writer_drop(decision_writer *w)
{
    for (size_t k = 0; k < w->n; k++)
        free(w->json[k]);
    w->n = 0;
}

/* Records the waiting claims, then counts and logs each. */
static int writer_flush(decision_writer *w)
{
    int rc = store_decisions_put_claims(w->s, w->d, w->n, w->effect, w->case_number);
    for (size_t k = 0; k < w->n && rc == MC_OK; k++) {
        const decide_result *r = &w->r[k];
        const store_decision *d = &w->d[k];
        w->sum->n_outcome[r->outcome]++;
        count_effect(w->sum, w->effect[k]);
        w->sum->n_cases += decide_outcome_is_flag(r->outcome) && w->case_number[k][0];
        log_debug("decide: claim %s (parcel %s): %s (%s)%s%s", d->claim_id, d->parcel_id,
                  d->outcome, d->rule, w->case_number[k][0] ? ", case " : "",
                  w->case_number[k]);
    }
    writer_drop(w);
    return rc;
}

/* Queues claim c's decision r (its reason json is the writer's from now on). */
static int writer_add_claim(decision_writer *w, const registry_claim *c, const decide_result *r,
                            char *json, const char *model, int failed)
{
    size_t k = w->n++;
    w->r[k] = *r;
    w->json[k] = json;
    w->d[k] = (store_decision){
        .claim_id = c->claim_id, .parcel_id = c->parcel_id, .season = c->season,
        .applicant = c->applicant[0] ? c->applicant : NULL,
        .scheme = c->scheme[0] ? c->scheme : NULL,
        .window_start = failed ? NULL : c->window_start,
        .window_end = failed ? NULL : c->window_end, .min_mowings = c->min_mowings,
        .outcome = decide_outcome_name(r->outcome), .rule = decide_why_code(r->why),
        .reason_json = json, .reason_text = w->r[k].text, .model_version = model,
        .run_id = w->o->run_id, .as_of = w->as_of};
    return w->n == WRITER_BATCH ? writer_flush(w) : MC_OK;
}

/* One claim. failure: a registry failure of this claim (NULL: none); problem: its
 * parcel cannot be observed (NULL: it can). */
static int decide_one(decision_writer *w, const registry_claim *c, const store_evidence *ev,
                      const store_parcel_problem *problem, const char *failure)
{
    decide_event *events = calloc(ev && ev->n_events ? ev->n_events : 1, sizeof *events);
    if (!events)
        return mc_fail("claim %s: out of memory", c->claim_id);
    decide_claim_input in;
    claim_input(c, ev, w->o, events, &in);
    if (failure || c->invalid[0])
        in.failure = failure ? failure : c->invalid;
    decide_result r;
    decide_claim(&in, &w->o->params, &r);
    /* A parcel without a pixel may lie in a tile not measured yet (early in the season,
     * or its tile's scenes were refused): while the rule still waits (pending) it waits
     * too, so that no farmer gets a flag for a tile that simply has not arrived. */
    int unobservable = problem && r.outcome != DECIDE_ERROR &&
                       !(problem->kind == STORE_PARCEL_NO_PIXELS && r.outcome == DECIDE_PENDING);
    if (unobservable)
        problem_result(problem, &r);
    const char *model = ev && ev->model_version[0] ? ev->model_version : NULL;
    char *json = decide_reason_json(&in, &w->o->params, &r, model, ev ? ev->scenes_used : 0);
    free(events);
    if (!json || (unobservable && add_problem_json(&json, problem) != MC_OK)) {
        free(json);
        return mc_fail("claim %s: out of memory", c->claim_id);
    }
    return writer_add_claim(w, c, &r, json, model, in.failure != NULL);
}

/* A parcel whose claims could not be fetched: `error`, never a flag. */
static int decide_failed_parcel(decision_writer *w, const char *parcel, const char *failure)
{
    if (writer_flush(w) != MC_OK)
        return MC_ERR;
    const decide_stage_options *o = w->o;
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
                        .as_of = w->as_of};
    store_decision_effect effect;
    char case_number[CASENUM_MAX];
    int rc = store_decision_put(w->s, &d, &effect, case_number, sizeof case_number);
    free(json);
    if (rc != MC_OK)
        return MC_ERR;
    if (effect != STORE_DECISION_KEPT)
        w->sum->n_outcome[DECIDE_ERROR]++;
    count_effect(w->sum, effect);
    return MC_OK;
}

/* Records a registry failure that touches some claims (the night goes on). */
static void note_failure(decide_stage_summary *sum, size_t n_parcels, const char *why)
{
    sum->n_failed_parcels += n_parcels;
    snprintf(sum->failure, sizeof sum->failure, "%.*s", (int)sizeof sum->failure - 1, why);
}

/* Claims [first, end) share one claim id (sorted by claim, parcel): the registry
 * gave one claim for several parcels. Which parcel it belongs to is for the registry
 * to correct: the claim gets `error`, and so does each of its parcels. */
static int decide_duplicate(decision_writer *w, const registry_claim *claims, size_t first,
                            size_t end)
{
    char why[900], shown[MC_ID_MAX * 4 + 8];
    int len = snprintf(why, sizeof why, "registry: claim %s came for more than one parcel in "
                       "one night (", text_escape(claims[first].claim_id, shown, sizeof shown));
    for (size_t i = first; i < end && len > 0 && (size_t)len < sizeof why; i++)
        len += snprintf(why + len, sizeof why - (size_t)len, "%s%s", i > first ? ", " : "",
                        text_escape(claims[i].parcel_id, shown, sizeof shown));
    if (len > 0 && (size_t)len < sizeof why)
        snprintf(why + len, sizeof why - (size_t)len, "); the registry's data needs correcting");
    log_warn("decide: %s: error for the claim and its parcels", why);
    note_failure(w->sum, end - first, why);
    if (decide_one(w, &claims[first], NULL, NULL, why) != MC_OK)
        return MC_ERR;
    for (size_t i = first + 1; i < end; i++)
        if (strcmp(claims[i].parcel_id, claims[i - 1].parcel_id) != 0 &&
            strcmp(claims[i].parcel_id, claims[first].parcel_id) != 0 &&
            decide_failed_parcel(w, claims[i].parcel_id, why) != MC_OK)
            return MC_ERR;
    return MC_OK;
}

typedef struct decide_inputs {
    registry_answer *answer;
    const store_evidence *ev;
    size_t n_ev;
    const store_parcel_problem *problems;
    size_t n_problems;
} decide_inputs;

static int write_claims(decision_writer *w, const decide_inputs *in, progress *bar)
{
    const registry_answer *a = in->answer;
    for (size_t i = 0; i < a->n_claims;) {
        size_t end = i + 1;
        while (end < a->n_claims && strcmp(a->claims[end].claim_id, a->claims[i].claim_id) == 0)
            end++;
        const registry_claim *c = &a->claims[i];
        int rc;
        if (end - i > 1) {
            rc = decide_duplicate(w, a->claims, i, end);
        } else {
            if (c->invalid[0])
                note_failure(w->sum, 1, c->invalid);
            rc = decide_one(w, c, evidence_of(in->ev, in->n_ev, c->parcel_id),
                            problem_of(in->problems, in->n_problems, c->parcel_id), NULL);
        }
        if (rc != MC_OK)
            return MC_ERR;
        progress_step(bar, (int64_t)(end - i));
        i = end;
    }
    return writer_flush(w);
}

static int write_all(decision_writer *w, const decide_inputs *in, const char *failure)
{
    const registry_answer *a = in->answer;
    progress bar;
    progress_begin(&bar, "claims", (int64_t)(a->n_claims + a->n_failed));
    int rc = write_claims(w, in, &bar);
    for (size_t i = 0; i < a->n_failed && rc == MC_OK; i++, progress_step(&bar, 1))
        rc = decide_failed_parcel(w, a->failed_parcels[i], failure);
    progress_end(&bar);
    writer_drop(w); /* what a failure left waiting */
    return rc;
}

static int write_decisions(store *s, const decide_inputs *in, const decide_stage_options *o,
                           decide_stage_summary *sum)
{
    registry_answer *a = in->answer;
    char as_of[11], failure[600];
    date_format(o->as_of_day, as_of);
    snprintf(failure, sizeof failure, "registry: %s",
             a->failure[0] ? a->failure : "no answer for this parcel");
    if (a->n_claims > 1)
        qsort(a->claims, a->n_claims, sizeof *a->claims, cmp_claim);
    decision_writer *w = calloc(1, sizeof *w);
    if (!w)
        return mc_fail("decide: out of memory");
    w->s = s;
    w->o = o;
    w->as_of = as_of;
    w->sum = sum;
    int rc = store_decide_begin(s);
    if (rc == MC_OK) {
        rc = write_all(w, in, failure);
        rc = rc == MC_OK ? store_decide_commit(s) : rc;
        if (rc != MC_OK)
            store_decide_abort(s);
    }
    free(w);
    return rc;
}

/* The nightly invariant: every claim the registry returned has exactly one current
 * decision, every parcel whose claims failed at least one. A miss is a defect of
 * mowcheck, never to be left silent: the run fails naming it. */
static int check_feed(store *s, const registry_answer *a, int season)
{
    const char **claims = malloc((a->n_claims + 1) * sizeof *claims);
    if (!claims)
        return mc_fail("checking the decisions: out of memory");
    for (size_t i = 0; i < a->n_claims; i++)
        claims[i] = a->claims[i].claim_id;
    size_t n_bad = 0;
    char bad[600];
    int rc = store_decisions_check(s, season, claims, a->n_claims,
                                   (const char *const *)a->failed_parcels, a->n_failed, &n_bad,
                                   bad, sizeof bad);
    free(claims);
    if (rc != MC_OK)
        return MC_ERR;
    if (n_bad > 0)
        return mc_fail("the decision feed does not hold one decision per claim: %zu claims or "
                       "parcels wrong, e.g. %s", n_bad, bad);
    return MC_OK;
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
    store_parcel_problem *pp = NULL;
    size_t n_pp = 0;
    if (rc == MC_OK)
        rc = store_evidence_load(s, o->season, o->as_of_day, &o->observed, &ev, &n_ev);
    if (rc == MC_OK)
        rc = store_parcel_problems_load(s, &pp, &n_pp);
    double t2 = seconds_now();
    if (rc == MC_OK) {
        sum->n_claims = a.n_claims;
        sum->n_failed_parcels = a.n_failed;
        snprintf(sum->failure, sizeof sum->failure, "%s", a.failure);
        decide_inputs in = {&a, ev, n_ev, pp, n_pp};
        rc = write_decisions(s, &in, o, sum);
        if (rc == MC_OK)
            rc = check_feed(s, &a, o->season);
        log_info("decide: registry %.1f s, evidence of %zu parcels %.1f s, %zu decisions %.1f s",
                 t1 - t0, n_ev, t2 - t1, a.n_claims + a.n_failed, seconds_now() - t2);
    }
    store_parcel_problems_free(pp, n_pp);
    store_evidence_free(ev, n_ev);
    registry_answer_free(&a);
    store_strings_free(owned, owned ? n_parcels : 0);
    if (rc != MC_OK)
        return mc_fail_wrap("decide, season %d", o->season);
    record_counts(sum);
    return MC_OK;
}
