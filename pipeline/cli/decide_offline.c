#include "decide_offline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims_csv.h"
#include "error.h"
#include "output_file.h"
#include "series.h"
#include "text_check.h"

typedef struct offline_ctx {
    const decide_offline_options *o;
    const series_set *series;
    const detect_result *detected;
    const claims_csv_row *rows;
    size_t n_rows;
    detect_result_index ix; /* where each parcel's events and summaries start */
    decide_offline_summary *sum;
} offline_ctx;

static int cmp_parcel_id(const void *key, const void *elem)
{
    return strcmp(key, ((const series_parcel *)elem)->parcel_id);
}

/* The parcel's index in the series, or SIZE_MAX. */
static size_t find_parcel(const series_set *s, const char *id)
{
    const series_parcel *p = bsearch(id, s->parcels, s->n_parcels, sizeof *p, cmp_parcel_id);
    return p ? (size_t)(p - s->parcels) : SIZE_MAX;
}

/* The detector's evidence on one parcel-season, as the decide stage reads it from the
 * store: events that ended by as_of, clear days up to as_of, the summary's flags. */
typedef struct evidence {
    decide_event *events;
    size_t n_events;
    int32_t *clear;
    size_t n_clear;
    int has_summary, sufficient, unsure;
    double top_confidence;
} evidence;

static int gather(const offline_ctx *c, size_t parcel, int season, evidence *ev)
{
    memset(ev, 0, sizeof *ev);
    if (parcel == SIZE_MAX)
        return MC_OK;
    const series_parcel *sp = &c->series->parcels[parcel];
    size_t e0 = c->ix.ev_first[parcel], e1 = c->ix.ev_first[parcel + 1];
    ev->events = calloc(e1 - e0 + 1, sizeof *ev->events);
    ev->clear = calloc(sp->count + 1, sizeof *ev->clear);
    if (!ev->events || !ev->clear)
        return mc_fail("decide: out of memory");
    for (size_t i = e0; i < e1; i++) {
        const detect_event *e = &c->detected->events[i];
        if (e->season != season || e->day_end > c->o->as_of_day)
            continue;
        ev->events[ev->n_events++] = (decide_event){e->day_start, e->day_end, e->day,
                                                    e->confidence};
        if (e->confidence > ev->top_confidence)
            ev->top_confidence = e->confidence;
    }
    for (size_t i = 0; i < sp->count; i++) {
        const series_obs *ob = &c->series->obs[sp->first + i];
        if (!isnan(ob->ndvi) && date_year(ob->day) == season && ob->day <= c->o->as_of_day)
            ev->clear[ev->n_clear++] = ob->day;
    }
    for (size_t i = c->ix.sum_first[parcel]; i < c->ix.sum_first[parcel + 1]; i++) {
        const detect_summary *s = &c->detected->summaries[i];
        if (s->season != season)
            continue;
        ev->has_summary = 1;
        ev->sufficient = s->sufficient;
        ev->unsure = s->reason == DETECT_REASON_UNCERTAIN_EVENT ||
                     s->reason == DETECT_REASON_NO_EVENT_UNCONFIRMED;
    }
    return MC_OK;
}

static void evidence_free(evidence *ev)
{
    free(ev->events);
    free(ev->clear);
}

static int decide_row(const offline_ctx *c, const claims_csv_row *row, FILE *out)
{
    const registry_claim *cl = &row->claim;
    evidence ev;
    size_t parcel = row->failure[0] ? SIZE_MAX : find_parcel(c->series, cl->parcel_id);
    if (gather(c, parcel, cl->season, &ev) != MC_OK) {
        evidence_free(&ev);
        return MC_ERR;
    }
    decide_claim_input in = {.claim_id = cl->claim_id, .parcel_id = cl->parcel_id,
                             .season = cl->season, .min_mowings = cl->min_mowings,
                             .failure = row->failure[0] ? row->failure : NULL,
                             .events = ev.events, .n_events = ev.n_events,
                             .has_summary = ev.has_summary, .sufficient = ev.sufficient,
                             .unsure = ev.unsure, .clear_days = ev.clear,
                             .n_clear_days = ev.n_clear, .as_of = c->o->as_of_day};
    if (!row->failure[0]) {
        date_parse(cl->window_start, &in.window_start);
        date_parse(cl->window_end, &in.window_end);
    }
    decide_result r;
    decide_claim(&in, &c->o->params, &r);
    c->sum->n_claims++;
    c->sum->n_outcome[r.outcome]++;
    /* ids and texts from the claims file: guarded as in the decision feed (a cell that
     * would be a spreadsheet formula gets an apostrophe) */
    text_csv_cell(out, cl->claim_id, 0);
    text_csv_cell(out, cl->parcel_id, 0);
    fprintf(out, "%d,", cl->season);
    text_csv_cell(out, cl->window_start, 0);
    text_csv_cell(out, cl->window_end, 0);
    fprintf(out, "%d,%s,%s,%.4f,", cl->min_mowings, decide_outcome_name(r.outcome),
            decide_why_code(r.why), ev.top_confidence);
    text_csv_cell(out, r.text, 1);
    evidence_free(&ev);
    return MC_OK;
}

static int write_decisions(FILE *out, void *arg)
{
    const offline_ctx *c = arg;
    fputs("claim_id,parcel_id,season,window_start,window_end,min_mowings,outcome,rule,"
          "top_confidence,reason\n", out);
    for (size_t i = 0; i < c->n_rows; i++) {
        if (c->o->season && c->rows[i].claim.season != c->o->season && !c->rows[i].failure[0])
            continue;
        if (decide_row(c, &c->rows[i], out) != MC_OK)
            return MC_ERR;
    }
    return ferror(out) ? mc_fail("decisions: write error") : MC_OK;
}

int decide_offline_run(const decide_offline_options *o, decide_offline_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    series_set s;
    detect_result r = {0};
    claims_csv_row *rows = NULL;
    size_t n_rows = 0;
    if (claims_csv_read(o->claims_path, &rows, &n_rows) != MC_OK)
        return MC_ERR;
    series_rules rules = {.min_valid_share = o->min_valid_share};
    if (series_read_path_rules(o->series_path, &rules, &s) != MC_OK) {
        free(rows);
        return MC_ERR;
    }
    offline_ctx c = {o, &s, &r, rows, n_rows, {NULL, NULL}, sum};
    int rc = detect_run(&s, o->model, &r);
    if (rc == MC_OK)
        rc = detect_result_index_make(&r, s.n_parcels, &c.ix);
    if (rc == MC_OK)
        rc = output_write(o->out_path, write_decisions, &c);
    detect_result_index_free(&c.ix);
    detect_result_free(&r);
    series_free(&s);
    free(rows);
    return rc;
}
