#include "detect.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "progress.h"

enum {
    SPIKE_SPAN_DAYS = 25,    /* a dip is a spike only when its neighbours are this close */
    PERSIST_DAYS = 20,       /* a cut stays low for weeks; a cloud dip does not */
    NEXT_MAX_DAYS = 45,      /* the next observation still tells something */
    REGROWTH_FROM_DAYS = 10, /* regrowth window after the drop */
    REGROWTH_TO_DAYS = 60,
    DENSITY_DAYS = 30,       /* observation density: clear observations within +-30 days */
    PEAK_DOY = 190,          /* doy_offset is the distance to early July */
    PRE_DAYS = 20,           /* pre_decline: how far NDVI already fell in the 20 days before */
    SPIKE_DEEP_FACTOR = 3,   /* a dip 3 x spike_depth below both neighbours is a spike anyway */
    GROW_DOY_FIRST = 75,     /* season features look at the growing season (mid-March .. */
    GROW_DOY_LAST = 300,     /* .. late October), where mowing happens */
    LATE_OBS = 3,            /* late level: mean of the last 3 clear observations in it */
    SEASON_GAP_CAP_DAYS = 120,
};

/* Clear NDVI values are never NaN, so plain comparisons do (fmaxf is a libm call here). */
static inline float max_f(float a, float b) { return a > b ? a : b; }
static inline float min_f(float a, float b) { return a < b ? a : b; }

void detect_work_free(detect_work *w)
{
    free(w->day);
    free(w->ndvi);
    free(w->ndmi);
    free(w->cand);
    free(w->z);
    memset(w, 0, sizeof *w);
}

static int work_reserve(detect_work *w, size_t n)
{
    if (n <= w->cap)
        return MC_OK;
    size_t cap = n < 256 ? 256 : n * 2;
    int32_t *day = realloc(w->day, cap * sizeof *day);
    if (day)
        w->day = day;
    float *ndvi = realloc(w->ndvi, cap * sizeof *ndvi);
    if (ndvi)
        w->ndvi = ndvi;
    float *ndmi = realloc(w->ndmi, cap * sizeof *ndmi);
    if (ndmi)
        w->ndmi = ndmi;
    detect_candidate *cand = realloc(w->cand, cap * sizeof *cand);
    if (cand)
        w->cand = cand;
    double *z = realloc(w->z, cap * sizeof *z);
    if (z)
        w->z = z;
    if (!day || !ndvi || !ndmi || !cand || !z)
        return mc_fail("detect: out of memory for %zu observations", n);
    w->cap = cap;
    return MC_OK;
}

/* Clear observations with single-date dips removed; returns their number. */
static size_t clear_series(const series_obs *obs, size_t n, float spike_depth, int32_t *day,
                           float *v, float *ndmi)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(obs[i].ndvi)) {
            day[c] = obs[i].day;
            ndmi[c] = obs[i].ndmi;
            v[c++] = obs[i].ndvi;
        }
    if (c < 3)
        return c;
    /* Decide every spike on the original neighbours, then compact. prev_v keeps the
     * original value of the observation before k after it may have moved. */
    size_t out = 1;
    float prev_v = v[0];
    for (size_t k = 1; k + 1 < c; k++) {
        /* A dip is a spike when the next observation is back at the level before
         * (a cut does not regrow that fast), or when it lies far below both. */
        float cur = v[k], next = v[k + 1];
        int close = day[k + 1] - day[k - 1] <= SPIKE_SPAN_DAYS;
        int back = cur < min_f(prev_v, next) - spike_depth && next >= prev_v - spike_depth;
        int deep = cur < min_f(prev_v, next) - SPIKE_DEEP_FACTOR * spike_depth;
        int spike = close && (back || deep);
        prev_v = cur;
        if (!spike) {
            day[out] = day[k];
            ndmi[out] = ndmi[k];
            v[out++] = cur;
        }
    }
    day[out] = day[c - 1];
    ndmi[out] = ndmi[c - 1];
    v[out++] = v[c - 1];
    return out;
}

/* Day of year with the year's bounds cached in the work area (candidates come in date order). */
static int doy_of(detect_work *w, int32_t day)
{
    if (day < w->jan1 || day >= w->next_jan1) {
        int year = date_year(day);
        w->jan1 = date_days_from_civil(year, 1, 1);
        w->next_jan1 = date_days_from_civil(year + 1, 1, 1);
    }
    return day - w->jan1 + 1;
}

/* Features of the drop between clear observations a = b-1 and b. */
/* Returns 1 when observations 10..60 days after the drop exist (regrowth is known). */
static int candidate_features(const int32_t *day, const float *v, size_t c, size_t b,
                              float *x)
{
    size_t a = b - 1;
    float before = v[a], after = v[b];
    float drop = before - after;
    float pre_max = before;
    for (size_t j = a; j-- > 0 && day[a] - day[j] <= PRE_DAYS;)
        pre_max = max_f(pre_max, v[j]);
    float next_max = -2.0f, regrow_max = -2.0f;
    int n_near = 0;
    for (size_t j = b + 1; j < c && day[j] - day[b] <= REGROWTH_TO_DAYS; j++) {
        int dt = day[j] - day[b];
        if (dt <= PERSIST_DAYS)
            next_max = max_f(next_max, v[j]);
        if (dt >= REGROWTH_FROM_DAYS)
            regrow_max = max_f(regrow_max, v[j]);
    }
    if (next_max < -1.5f && b + 1 < c && day[b + 1] - day[b] <= NEXT_MAX_DAYS)
        next_max = v[b + 1];
    float persist = next_max < -1.5f ? drop : before - next_max;
    float rebound = 0.0f;
    if (b + 1 < c && day[b + 1] - day[b] <= NEXT_MAX_DAYS)
        rebound = (v[b + 1] - v[b]) / (float)(day[b + 1] - day[b]);
    rebound = min_f(max_f(rebound, -0.05f), 0.1f);
    float regrowth = regrow_max < -1.5f ? 0.0f : regrow_max - after;
    for (size_t j = a + 1; j-- > 0 && day[b] - day[j] <= DENSITY_DAYS;)
        n_near++;
    for (size_t j = b; j < c && day[j] - day[b] <= DENSITY_DAYS; j++)
        n_near++;
    int gap = day[b] - day[a];
    x[0] = drop;
    x[1] = before;
    x[2] = after;
    x[3] = persist;
    x[4] = rebound;
    x[5] = regrowth;
    x[6] = (float)(gap > 90 ? 90 : gap);
    x[7] = drop / (float)(gap < 1 ? 1 : gap);
    x[8] = (float)n_near;
    x[9] = 0.0f; /* doy_offset: set once the date is known */
    x[10] = pre_max - before;
    return regrow_max > -1.5f;
}

static float calibrated(const detect_model *m, double z)
{
    return (float)(1.0 / (1.0 + exp(-(m->calib_a * z + m->calib_b))));
}

/* Scores the candidates (all at once: faster for trees), then removes harvests. */
static void score_candidates(const detect_model *gate, const detect_model *m,
                             detect_candidate *cand, double *z, size_t n)
{
    model_raw_scores(m, cand[0].x, sizeof cand[0], n, z);
    for (size_t i = 0; i < n; i++) {
        detect_candidate *k = &cand[i];
        k->p = calibrated(m, z[i]);
        /* Bare soil that does not green up again is a harvest or ploughing, not a cut. */
        if (k->regrowth_known && k->x[2] < gate->harvest_bare_ndvi &&
            k->x[5] < gate->harvest_min_regrowth)
            k->p = 0.0f;
    }
}

int detect_candidates(const series_obs *obs, size_t n, const detect_model *gate,
                      const detect_model *m, detect_work *w, detect_candidate **cand,
                      size_t *n_cand)
{
    *n_cand = 0;
    if (work_reserve(w, n + 1) != MC_OK)
        return MC_ERR;
    *cand = w->cand;
    size_t c = clear_series(obs, n, (float)gate->spike_depth, w->day, w->ndvi, w->ndmi);
    w->n_clear = c;
    const int32_t *day = w->day;
    const float *v = w->ndvi;
    float min_drop = (float)gate->min_drop;
    for (size_t b = 1; b < c; b++) {
        if (v[b - 1] - v[b] < min_drop)
            continue; /* the cheap gate: most observation pairs stop here */
        detect_candidate *k = &w->cand[(*n_cand)++];
        k->day_a = day[b - 1];
        k->day_b = day[b];
        k->day = k->day_a + (int32_t)lround(gate->date_fraction * (k->day_b - k->day_a));
        k->regrowth_known = (unsigned char)candidate_features(day, v, c, b, k->x);
        k->x[9] = (float)abs(doy_of(w, k->day) - PEAK_DOY);
        k->p = 0.0f;
    }
    if (m && *n_cand)
        score_candidates(gate, m, w->cand, w->z, *n_cand);
    return MC_OK;
}

/* ---- results ---- */

typedef struct result_buf {
    detect_result *r;
    size_t cap_events, cap_summaries;
} result_buf;

static int push_event(result_buf *b, const detect_event *e)
{
    if (b->r->n_events == b->cap_events) {
        size_t cap = b->cap_events ? b->cap_events * 2 : 256;
        detect_event *grown = realloc(b->r->events, cap * sizeof *grown);
        if (!grown)
            return mc_fail("detect: out of memory for events");
        b->r->events = grown;
        b->cap_events = cap;
    }
    b->r->events[b->r->n_events++] = *e;
    return MC_OK;
}

static int push_summary(result_buf *b, const detect_summary *s)
{
    if (b->r->n_summaries == b->cap_summaries) {
        size_t cap = b->cap_summaries ? b->cap_summaries * 2 : 256;
        detect_summary *grown = realloc(b->r->summaries, cap * sizeof *grown);
        if (!grown)
            return mc_fail("detect: out of memory for summaries");
        b->r->summaries = grown;
        b->cap_summaries = cap;
    }
    b->r->summaries[b->r->n_summaries++] = *s;
    return MC_OK;
}

/* ---- choosing events ---- */

/* A candidate's place in the order of strength: larger p first, the lower index on ties. */
typedef struct ranked {
    float p;
    uint32_t index;
} ranked;

static int stronger_first(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A candidate's place in day order (the index on ties). */
typedef struct dated {
    int32_t day;
    uint32_t index;
} dated;

static int earlier_first(const void *a, const void *b)
{
    const dated *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Candidate indices in day order into by_day, and each candidate's position there into
 * pos. detect_candidates gives them in day order already; anything else is sorted. */
static void day_order(const detect_candidate *cand, size_t n, dated *by_day, uint32_t *pos)
{
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        by_day[i] = (dated){cand[i].day, (uint32_t)i};
        sorted = sorted && (i == 0 || cand[i - 1].day <= cand[i].day);
    }
    if (!sorted)
        qsort(by_day, n, sizeof *by_day, earlier_first);
    for (size_t k = 0; k < n; k++)
        pos[by_day[k].index] = (uint32_t)k;
}

/* Marks candidate i 2 (suppressed) when it is at or above the threshold and not chosen. */
static void suppress(const detect_candidate *cand, uint32_t i, const detect_model *m,
                     unsigned char *chosen)
{
    if (chosen[i] == 0 && !(cand[i].p < m->event_threshold))
        chosen[i] = 2;
}

/* Suppresses every candidate within min_separation_days of the chosen one at day
 * position k: its neighbours in day order, on both sides. */
static void suppress_near(const detect_candidate *cand, const dated *by_day, size_t n, size_t k,
                          const detect_model *m, unsigned char *chosen)
{
    int32_t day = by_day[k].day;
    for (size_t j = k; j-- > 0 && day - by_day[j].day < m->min_separation_days;)
        suppress(cand, by_day[j].index, m, chosen);
    for (size_t j = k + 1; j < n && by_day[j].day - day < m->min_separation_days; j++)
        suppress(cand, by_day[j].index, m, chosen);
}

enum { CHOOSE_ON_STACK = 64 }; /* most parcels have a handful of candidates */

/* Strongest first: every candidate at or above the threshold, in the order of strength,
 * is chosen (1) unless a chosen one lies within min_separation_days (then 2); below the
 * threshold, 0. This is the same as choosing, round after round, the strongest candidate
 * that no chosen one blocks: chosen ones only ever block more. Each chosen candidate
 * suppresses its neighbours in day order, and chosen ones are min_separation_days apart,
 * so a candidate is looked at by at most two of them: n log n for the sorting, n after.
 * p is never NaN (finite features, a model refused unless finite). */
int detect_choose_events(const detect_candidate *cand, size_t n, const detect_model *m,
                         unsigned char *chosen)
{
    ranked ranked_stack[CHOOSE_ON_STACK];
    dated dated_stack[CHOOSE_ON_STACK];
    uint32_t pos_stack[CHOOSE_ON_STACK];
    int on_stack = n <= CHOOSE_ON_STACK;
    ranked *order = on_stack ? ranked_stack : malloc(n * sizeof *order);
    dated *by_day = on_stack ? dated_stack : malloc(n * sizeof *by_day);
    uint32_t *pos = on_stack ? pos_stack : malloc(n * sizeof *pos);
    int rc = MC_OK;
    if (!order || !by_day || !pos || n > UINT32_MAX) {
        rc = mc_fail("detect: out of memory choosing among %zu candidates", n);
        goto done;
    }
    size_t n_eligible = 0;
    for (size_t i = 0; i < n; i++) {
        chosen[i] = 0;
        if (!(cand[i].p < m->event_threshold))
            order[n_eligible++] = (ranked){cand[i].p, (uint32_t)i};
    }
    qsort(order, n_eligible, sizeof *order, stronger_first);
    day_order(cand, n, by_day, pos);
    for (size_t r = 0; r < n_eligible; r++) {
        uint32_t i = order[r].index;
        if (chosen[i] == 2)
            continue;
        chosen[i] = 1;
        suppress_near(cand, by_day, n, pos[i], m, chosen);
    }
done:
    if (!on_stack) {
        free(order);
        free(by_day);
        free(pos);
    }
    return rc;
}

/* The index of the first of the n sorted days that is >= d (n when none is). A season
 * looks only at its own observations: scanning all of the parcel's years for each
 * season cost more than the rest of the season's work. */
static size_t first_on_or_after(const int32_t *day, size_t n, int32_t d)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (day[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The longest stretch without a clear observation inside [from, to]. */
static int coverage_gap(const int32_t *day, size_t c, int32_t from, int32_t to, int *n_inside)
{
    int32_t last = from;
    int gap = 0;
    *n_inside = 0;
    size_t end = first_on_or_after(day, c, to + 1);
    for (size_t i = first_on_or_after(day, c, from); i < end; i++) {
        (*n_inside)++;
        if (day[i] - last > gap)
            gap = day[i] - last;
        last = day[i];
    }
    if (to - last > gap)
        gap = to - last;
    return gap;
}

static void decide_summary(detect_summary *s, const detect_model *m, int n_clear_window)
{
    s->call = DETECT_CALL_NONE;
    s->well_covered = n_clear_window >= m->min_clear_obs && s->max_gap_days <= m->max_gap_days;
    if (s->n_clear_obs == 0)
        s->reason = DETECT_REASON_NO_OBSERVATIONS;
    else if (s->n_events > 0 && s->top_event_confidence >= m->approval_threshold) {
        s->call = DETECT_CALL_MOWED;
        s->reason = DETECT_REASON_CONFIDENT_EVENT;
    } else if (s->n_events > 0)
        s->reason = DETECT_REASON_UNCERTAIN_EVENT;
    else if (n_clear_window < m->min_clear_obs)
        s->reason = DETECT_REASON_TOO_FEW_OBSERVATIONS;
    else if (s->max_gap_days > m->max_gap_days)
        s->reason = DETECT_REASON_COVERAGE_GAP;
    else if (s->season_probability >= m->not_mowed_threshold)
        s->reason = DETECT_REASON_NO_EVENT_UNCONFIRMED;
    else {
        s->call = DETECT_CALL_NOT_MOWED;
        s->reason = DETECT_REASON_NO_EVENT_COVERED;
    }
    s->sufficient = s->call != DETECT_CALL_NONE;
}

typedef struct parcel_ctx {
    const series_set *s;
    size_t parcel;
    const detect_model *m;
    detect_candidate *cand;
    size_t n_cand;
    const unsigned char *chosen;
    const int32_t *clear_day;
    const float *clear_ndvi;
    const float *clear_ndmi;
    size_t n_clear;
} parcel_ctx;

/* Features of the whole season (growing-season part of the year [from, to]):
 * the two strongest candidates (>= min_separation_days apart), the events, and the
 * NDVI shape: peak, largest fall from a running maximum, late level below the peak,
 * the share of dates observed clear, the longest gap. */
static void season_features(const parcel_ctx *c, int32_t from, int32_t to, const detect_summary *s,
                            float *x)
{
    float p1 = 0.0f, p2 = 0.0f, regrowth = 0.0f, persist = 0.0f;
    int32_t d1 = 0;
    int n_ev = 0;
    for (size_t i = 0; i < c->n_cand; i++) {
        const detect_candidate *k = &c->cand[i];
        if (k->day >= from && k->day <= to && k->p > p1) {
            p1 = k->p;
            d1 = k->day;
            regrowth = k->x[5];
            persist = k->x[3];
        }
    }
    for (size_t i = 0; i < c->n_cand; i++) {
        const detect_candidate *k = &c->cand[i];
        if (k->day < from || k->day > to)
            continue;
        n_ev += c->chosen[i] == 1;
        if (abs(k->day - d1) >= c->m->min_separation_days && k->p > p2)
            p2 = k->p;
    }
    float peak = 0.0f, run = -2.0f, drawdown = 0.0f, late[LATE_OBS], ndmi_sum = 0.0f;
    int n_in = 0, n_ndmi = 0;
    size_t end = first_on_or_after(c->clear_day, c->n_clear, to + 1);
    for (size_t i = first_on_or_after(c->clear_day, c->n_clear, from); i < end; i++) {
        float v = c->clear_ndvi[i];
        if (!isnan(c->clear_ndmi[i])) {
            ndmi_sum += c->clear_ndmi[i];
            n_ndmi++;
        }
        peak = n_in == 0 ? v : max_f(peak, v);
        run = max_f(run, v);
        drawdown = max_f(drawdown, run - v);
        late[n_in % LATE_OBS] = v;
        n_in++;
    }
    float late_sum = 0.0f;
    int n_late = n_in < LATE_OBS ? n_in : LATE_OBS;
    for (int i = 0; i < n_late; i++)
        late_sum += late[i];
    x[0] = p1;
    x[1] = p2;
    x[2] = (float)n_ev;
    x[3] = peak;
    x[4] = drawdown;
    x[5] = n_late ? peak - late_sum / (float)n_late : 0.0f;
    x[6] = s->n_obs ? (float)s->n_clear_obs / (float)s->n_obs : 0.0f;
    x[7] = (float)(s->max_gap_days > SEASON_GAP_CAP_DAYS ? SEASON_GAP_CAP_DAYS : s->max_gap_days);
    x[8] = regrowth; /* of the strongest candidate: grass regrows after a cut */
    x[9] = persist;  /* of the strongest candidate: a cut stays low for weeks */
    /* Grass left standing dries out (litter): lower NDMI. Unknown without it, and where
     * fewer than two thirds of the clear dates have it (say B11 only from mid-season):
     * a mean over the late dates alone would read as dry against the training. */
    x[10] = n_ndmi > 0 && 3 * n_ndmi >= 2 * n_in ? ndmi_sum / (float)n_ndmi : NAN;
}

static float season_p(const detect_model *m, const float *x)
{
    double z = m->season_fold_b;
    for (int i = 0; i < DETECT_N_SEASON_FEATURES; i++) /* unknown: the training mean */
        z += m->season_fold_w[i] * (isnan(x[i]) ? m->season_mean[i] : x[i]);
    return (float)(1.0 / (1.0 + exp(-(m->season_calib_a * z + m->season_calib_b))));
}

/* One summary per calendar year with rows; events of that year pushed first. */
static int emit_season(const parcel_ctx *c, int year, int32_t jan1, int32_t next_jan1,
                       int n_obs, int n_clear, result_buf *b)
{
    const series_parcel *p = &c->s->parcels[c->parcel];
    detect_summary s = {.parcel = c->parcel, .parcel_id = p->parcel_id, .season = year,
                        .n_obs = n_obs, .n_clear_obs = n_clear};
    int n_window;
    s.max_gap_days = coverage_gap(c->clear_day, c->n_clear, jan1 + c->m->season_doy_start - 1,
                                  jan1 + c->m->season_doy_end - 1, &n_window);
    season_features(c, jan1 + GROW_DOY_FIRST - 1, jan1 + GROW_DOY_LAST - 1, &s, s.season_x);
    s.season_probability = season_p(c->m, s.season_x);
    /* A season the season model finds unlikely mowed reports no events. */
    int keep = s.season_probability >= c->m->season_event_min;
    for (size_t i = 0; i < c->n_cand; i++) {
        const detect_candidate *k = &c->cand[i];
        if (k->day < jan1 || k->day >= next_jan1)
            continue;
        if (k->p > s.mowed_probability)
            s.mowed_probability = k->p;
        if (c->chosen[i] != 1 || !keep)
            continue;
        detect_event e = {c->parcel, p->parcel_id, year, k->day_a, k->day_b, k->day, k->p};
        if (push_event(b, &e) != MC_OK)
            return MC_ERR;
        s.n_events++;
        if (k->p > s.top_event_confidence)
            s.top_event_confidence = k->p;
    }
    decide_summary(&s, c->m, n_window);
    return push_summary(b, &s);
}

/* Several parcels' spike-free clear series and candidates, scored together: the trees
 * score eight candidates side by side, and one parcel's candidates seldom fill the last
 * eight (a candidate's score does not depend on its neighbours: the same bits). */
enum { BLOCK_PARCELS = 64 };
typedef struct parcel_block {
    size_t n;                              /* parcels in the block */
    size_t parcel[BLOCK_PARCELS];
    size_t clear_first[BLOCK_PARCELS + 1]; /* parcel j's clear observations: day[clear_first[j]..] */
    size_t cand_first[BLOCK_PARCELS + 1];  /* parcel j's candidates: cand[cand_first[j]..] */
    int32_t *day;
    float *ndvi, *ndmi;
    size_t cap_clear;
    detect_candidate *cand;
    double *z;
    size_t cap_cand;
} parcel_block;

static void block_free(parcel_block *k)
{
    free(k->day);
    free(k->ndvi);
    free(k->ndmi);
    free(k->cand);
    free(k->z);
    memset(k, 0, sizeof *k);
}

/* Room for `clear` more clear observations and `cand` more candidates. */
static int block_reserve(parcel_block *k, size_t clear, size_t cand)
{
    size_t need = k->clear_first[k->n] + clear;
    if (need > k->cap_clear) {
        size_t cap = need * 2;
        int32_t *day = realloc(k->day, cap * sizeof *day);
        if (day)
            k->day = day;
        float *ndvi = realloc(k->ndvi, cap * sizeof *ndvi);
        if (ndvi)
            k->ndvi = ndvi;
        float *ndmi = realloc(k->ndmi, cap * sizeof *ndmi);
        if (ndmi)
            k->ndmi = ndmi;
        if (!day || !ndvi || !ndmi)
            return mc_fail("detect: out of memory for %zu observations", need);
        k->cap_clear = cap;
    }
    need = k->cand_first[k->n] + cand;
    if (need > k->cap_cand) {
        size_t cap = need * 2;
        detect_candidate *c = realloc(k->cand, cap * sizeof *c);
        if (c)
            k->cand = c;
        double *z = realloc(k->z, cap * sizeof *z);
        if (z)
            k->z = z;
        if (!c || !z)
            return mc_fail("detect: out of memory for %zu candidates", need);
        k->cap_cand = cap;
    }
    return MC_OK;
}

/* Adds a parcel: its clear series and its candidates, not yet scored. */
static int block_add(parcel_block *k, const series_set *s, size_t parcel, const detect_model *m,
                     detect_work *w)
{
    const series_parcel *p = &s->parcels[parcel];
    detect_candidate *cand;
    size_t n_cand;
    if (detect_candidates(s->obs + p->first, p->count, m, NULL, w, &cand, &n_cand) != MC_OK ||
        block_reserve(k, w->n_clear, n_cand) != MC_OK)
        return MC_ERR;
    size_t c0 = k->clear_first[k->n], k0 = k->cand_first[k->n];
    if (w->n_clear) { /* (the block's arrays are NULL until something is put in them) */
        memcpy(k->day + c0, w->day, w->n_clear * sizeof *k->day);
        memcpy(k->ndvi + c0, w->ndvi, w->n_clear * sizeof *k->ndvi);
        memcpy(k->ndmi + c0, w->ndmi, w->n_clear * sizeof *k->ndmi);
    }
    if (n_cand)
        memcpy(k->cand + k0, cand, n_cand * sizeof *k->cand);
    k->parcel[k->n++] = parcel;
    k->clear_first[k->n] = c0 + w->n_clear;
    k->cand_first[k->n] = k0 + n_cand;
    return MC_OK;
}

/* Events and season summaries of the block's parcel j (its candidates scored). */
static int finish_parcel(const series_set *s, const parcel_block *k, size_t j,
                         const detect_model *m, unsigned char **chosen, size_t *chosen_cap,
                         result_buf *b)
{
    size_t parcel = k->parcel[j];
    const series_parcel *p = &s->parcels[parcel];
    const series_obs *obs = s->obs + p->first;
    size_t c0 = k->clear_first[j];
    parcel_ctx c = {s, parcel, m, k->cand + k->cand_first[j], k->cand_first[j + 1] - k->cand_first[j],
                    NULL, k->day + c0, k->ndvi + c0, k->ndmi + c0, k->clear_first[j + 1] - c0};
    if (c.n_cand > *chosen_cap) {
        unsigned char *grown = realloc(*chosen, c.n_cand * 2);
        if (!grown)
            return mc_fail("detect: out of memory");
        *chosen = grown;
        *chosen_cap = c.n_cand * 2;
    }
    if (detect_choose_events(c.cand, c.n_cand, m, *chosen) != MC_OK)
        return MC_ERR;
    c.chosen = *chosen;
    size_t i = 0;
    while (i < p->count) {
        int year = date_year(obs[i].day);
        int32_t jan1 = date_days_from_civil(year, 1, 1);
        int32_t next = date_days_from_civil(year + 1, 1, 1);
        int n_obs = 0, n_clear = 0;
        for (; i < p->count && obs[i].day < next; i++) {
            n_obs++;
            n_clear += !isnan(obs[i].ndvi);
        }
        if (emit_season(&c, year, jan1, next, n_obs, n_clear, b) != MC_OK)
            return MC_ERR;
    }
    return MC_OK;
}

/* An upper bound of the parcel-seasons of the kept parcels (calendar years from the
 * first to the last row), so the result arrays are allocated once: growing them
 * costs more than detection itself. */
static size_t count_seasons(const series_set *s, const unsigned char *keep)
{
    size_t n = 0;
    for (size_t p = 0; p < s->n_parcels; p++) {
        const series_parcel *sp = &s->parcels[p];
        if ((keep && !keep[p]) || sp->count == 0)
            continue;
        n += (size_t)(date_year(s->obs[sp->first + sp->count - 1].day) -
                      date_year(s->obs[sp->first].day) + 1);
    }
    return n;
}

enum { PROGRESS_EVERY_PARCELS = 1024 }; /* a bar step per so many parcels: cheap */

static int run_parcels(const series_set *s, const unsigned char *keep, const detect_model *m,
                       progress *bar, detect_result *out)
{
    memset(out, 0, sizeof *out);
    result_buf b = {out, 0, 0};
    size_t seasons = count_seasons(s, keep);
    if (seasons > 0) {
        out->summaries = malloc(seasons * sizeof *out->summaries);
        out->events = malloc(seasons * sizeof *out->events); /* about one per season; grows */
        if (!out->summaries || !out->events) {
            detect_result_free(out);
            return mc_fail("detect: out of memory for %zu parcel-seasons", seasons);
        }
        b.cap_summaries = b.cap_events = seasons;
    }
    detect_work w = {0};
    parcel_block blk = {0};
    unsigned char *chosen = NULL;
    size_t chosen_cap = 0;
    int rc = MC_OK;
    for (size_t i = 0; i < s->n_parcels && rc == MC_OK;) {
        blk.n = 0;
        for (; i < s->n_parcels && blk.n < BLOCK_PARCELS && rc == MC_OK; i++) {
            if (!keep || keep[i])
                rc = block_add(&blk, s, i, m, &w);
            if (bar && ((i + 1) % PROGRESS_EVERY_PARCELS == 0 || i + 1 == s->n_parcels))
                progress_step(bar, (int64_t)(i % PROGRESS_EVERY_PARCELS) + 1);
        }
        if (rc == MC_OK && blk.cand_first[blk.n] > 0)
            score_candidates(m, m, blk.cand, blk.z, blk.cand_first[blk.n]);
        for (size_t j = 0; j < blk.n && rc == MC_OK; j++)
            rc = finish_parcel(s, &blk, j, m, &chosen, &chosen_cap, &b);
    }
    detect_work_free(&w);
    block_free(&blk);
    free(chosen);
    if (rc != MC_OK)
        detect_result_free(out);
    return rc;
}

int detect_run_subset(const series_set *s, const unsigned char *keep, const detect_model *m,
                      detect_result *out)
{
    return run_parcels(s, keep, m, NULL, out);
}

int detect_run_progress(const series_set *s, const detect_model *m, progress *bar,
                        detect_result *out)
{
    return run_parcels(s, NULL, m, bar, out);
}

int detect_run(const series_set *s, const detect_model *m, detect_result *out)
{
    return detect_run_subset(s, NULL, m, out);
}

int detect_result_index_make(const detect_result *r, size_t n_parcels, detect_result_index *ix)
{
    ix->ev_first = calloc(n_parcels + 1, sizeof *ix->ev_first);
    ix->sum_first = calloc(n_parcels + 1, sizeof *ix->sum_first);
    if (!ix->ev_first || !ix->sum_first) {
        detect_result_index_free(ix);
        return mc_fail("detect: out of memory indexing %zu parcels", n_parcels);
    }
    for (size_t i = 0; i < r->n_events; i++)
        ix->ev_first[r->events[i].parcel + 1]++;
    for (size_t i = 0; i < r->n_summaries; i++)
        ix->sum_first[r->summaries[i].parcel + 1]++;
    for (size_t p = 0; p < n_parcels; p++) {
        ix->ev_first[p + 1] += ix->ev_first[p];
        ix->sum_first[p + 1] += ix->sum_first[p];
    }
    return MC_OK;
}

void detect_result_index_free(detect_result_index *ix)
{
    free(ix->ev_first);
    free(ix->sum_first);
    ix->ev_first = ix->sum_first = NULL;
}

void detect_result_free(detect_result *r)
{
    free(r->events);
    free(r->summaries);
    memset(r, 0, sizeof *r);
}

int detect_stream(FILE *in, const char *name, const detect_model *m, series_set *s,
                  detect_result *out)
{
    memset(out, 0, sizeof *out);
    if (series_read(in, name, s) != MC_OK)
        return MC_ERR;
    if (detect_run(s, m, out) != MC_OK) {
        mc_fail_wrap("series %s", name);
        series_free(s);
        return MC_ERR;
    }
    return MC_OK;
}

int detect_load_model(const char *path, detect_model *m)
{
    return model_load(path && *path ? path : MODEL_DEFAULT_PATH, m);
}

const char *detect_reason_text(detect_reason r)
{
    switch (r) {
    case DETECT_REASON_CONFIDENT_EVENT: return "confident_event";
    case DETECT_REASON_UNCERTAIN_EVENT: return "uncertain_event";
    case DETECT_REASON_NO_EVENT_COVERED: return "no_event_good_coverage";
    case DETECT_REASON_NO_OBSERVATIONS: return "no_clear_observations";
    case DETECT_REASON_TOO_FEW_OBSERVATIONS: return "too_few_clear_observations";
    case DETECT_REASON_COVERAGE_GAP: return "coverage_gap";
    case DETECT_REASON_NO_EVENT_UNCONFIRMED: return "no_event_unconfirmed";
    }
    return "unknown";
}

const char *detect_call_text(detect_call c)
{
    switch (c) {
    case DETECT_CALL_MOWED: return "mowed";
    case DETECT_CALL_NOT_MOWED: return "not_mowed";
    case DETECT_CALL_NONE: return "none";
    }
    return "none";
}

/* Quotes an id only when CSV needs it. */
static void put_id(FILE *out, const char *id)
{
    if (!strpbrk(id, ",\"\n\r")) {
        fputs(id, out);
        return;
    }
    fputc('"', out);
    for (const char *p = id; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

int detect_write_events(FILE *out, const detect_result *r)
{
    fprintf(out, "parcel_id,season,date_start,date_end,date,confidence\n");
    for (size_t i = 0; i < r->n_events; i++) {
        const detect_event *e = &r->events[i];
        char a[11], b[11], d[11];
        date_format(e->day_start, a);
        date_format(e->day_end, b);
        date_format(e->day, d);
        put_id(out, e->parcel_id);
        fprintf(out, ",%d,%s,%s,%s,%.4f\n", e->season, a, b, d, e->confidence);
    }
    return ferror(out) ? mc_fail("events: write error") : MC_OK;
}

int detect_write_summaries(FILE *out, const detect_result *r)
{
    fprintf(out, "parcel_id,season,n_obs,n_clear_obs,max_gap_days,n_events,mowed_probability,"
                 "sufficient,call,reason,season_probability\n");
    for (size_t i = 0; i < r->n_summaries; i++) {
        const detect_summary *s = &r->summaries[i];
        put_id(out, s->parcel_id);
        fprintf(out, ",%d,%d,%d,%d,%d,%.4f,%d,%s,%s,%.4f\n", s->season, s->n_obs,
                s->n_clear_obs, s->max_gap_days, s->n_events, s->mowed_probability,
                s->sufficient, detect_call_text(s->call), detect_reason_text(s->reason),
                s->season_probability);
    }
    return ferror(out) ? mc_fail("summaries: write error") : MC_OK;
}
