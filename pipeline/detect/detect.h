/* Mowing detection: candidate NDVI drops, their features, the model, and the
 * per parcel-season summary that the decision stage uses.
 *
 * How it works (schemas/model-format.md has the details):
 *   1. clear observations (ndvi not NaN) of a parcel, in date order; an
 *      observation lying spike_depth below both neighbours (within 25 days) is a
 *      single-date dip (cloud, haze, snow) and is dropped;
 *   2. every pair of consecutive clear observations (a, b) whose NDVI falls by at
 *      least min_drop is a candidate; its features (detect_feature_names):
 *      drop, before, after, persist, rebound_rate, regrowth, gap_days,
 *      drop_rate, density, doy_offset;
 *   3. the model gives each candidate a calibrated probability p of being a cut;
 *      candidates with p >= event_threshold become events, strongest first, at
 *      least min_separation_days apart; the event lies in [day a, day b], its
 *      best-estimate date is a + date_fraction * (b - a);
 *   4. seasons are calendar years; every year in which the parcel has any row
 *      gets a summary (observation counts, events, the largest p, and the call):
 *      "mowed" (a whole-season claim would be approved) when an event of the
 *      season has confidence >= the model's approval_threshold;
 *   5. the season model: whole-season features (the two strongest candidates,
 *      events, NDVI peak, drawdown, late level, clear share, longest gap, the
 *      strongest candidate's regrowth and persistence, mean NDMI when the series
 *      has nir/swir1) give season_probability = calibrated P(mowed this season),
 *      which supports a "not mowed" call and is shown in the report; it never
 *      holds back an approval the events support.
 *
 * Library entry points: detect_run() over a series_set; detect_stream() parses a
 * series CSV from any FILE* (a file or an in-memory stream) and runs detection. */
#ifndef MOWCHECK_DETECT_H
#define MOWCHECK_DETECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "series.h"

/* One mowing event. */
typedef struct detect_event {
    size_t parcel;          /* index into series_set.parcels */
    const char *parcel_id;  /* points into the series_set: valid while it lives */
    int season;             /* calendar year of `day` */
    int32_t day_start;      /* last clear observation before the cut (days since 1970-01-01) */
    int32_t day_end;        /* first clear observation after the cut */
    int32_t day;            /* best estimate */
    float confidence;       /* calibrated probability in [0, 1] */
} detect_event;

/* The call the evidence supports for a parcel-season. Automatic outcomes are
 * approvals only (DESIGN.md): DETECT_CALL_NOT_MOWED means "the series supports
 * not mowed", which the decision stage still hands to a person. */
typedef enum {
    DETECT_CALL_NONE = 0,       /* evidence insufficient: inspector */
    DETECT_CALL_MOWED = 1,      /* a confident mowing event */
    DETECT_CALL_NOT_MOWED = 2,  /* good coverage and no plausible event */
} detect_call;

/* Why the summary says what it says (detect_reason_text gives a short code). */
typedef enum {
    DETECT_REASON_CONFIDENT_EVENT = 0,   /* an event with confidence >= approval_threshold */
    DETECT_REASON_UNCERTAIN_EVENT,       /* events, all below approval_threshold */
    DETECT_REASON_NO_EVENT_COVERED,      /* no plausible candidate, coverage good */
    DETECT_REASON_NO_OBSERVATIONS,       /* no clear observation at all in the season */
    DETECT_REASON_TOO_FEW_OBSERVATIONS,  /* fewer than min_clear_obs clear observations */
    DETECT_REASON_COVERAGE_GAP,          /* a gap longer than max_gap_days in the season window */
    DETECT_REASON_NO_EVENT_UNCONFIRMED,  /* no event, good coverage, but some candidate has
                                          * season_probability >= not_mowed_threshold (or the model never
                                          * supports "not mowed": threshold 0) */
} detect_reason;

/* One parcel and season. */
typedef struct detect_summary {
    size_t parcel;
    const char *parcel_id;
    int season;
    int n_obs;             /* rows (dates) in the season, observed or not */
    int n_clear_obs;       /* rows with an NDVI value */
    int max_gap_days;      /* longest stretch without a clear observation within the season window
                            * (season_doy_start..season_doy_end), window edges included */
    int well_covered;      /* 1: at least min_clear_obs clear observations in the season window
                            * and no gap longer than max_gap_days there */
    int n_events;
    float mowed_probability; /* largest calibrated p of any candidate in the season (0: none) */
    float top_event_confidence; /* the most confident event of the season (0: none): with
                                 * the model's approval_threshold it drives call */
    float season_probability; /* the season model's calibrated P(mowed this season): a
                               * figure for the report and the "not mowed" support; the
                               * season's events are reported only when it is >= the model's
                               * season_event_min */
    float season_x[DETECT_N_SEASON_FEATURES]; /* the season model's features */
    int sufficient;        /* 1: call is DETECT_CALL_MOWED or DETECT_CALL_NOT_MOWED */
    detect_call call;
    detect_reason reason;
} detect_summary;

typedef struct detect_result {
    detect_event *events;      /* sorted by parcel, then day */
    size_t n_events;
    detect_summary *summaries; /* sorted by parcel, then season */
    size_t n_summaries;
} detect_result;

/* One candidate with its features (for training and inspection). */
typedef struct detect_candidate {
    int32_t day_a, day_b;  /* the clear observations around the drop */
    int32_t day;           /* best-estimate date */
    float x[DETECT_N_FEATURES];
    float p;               /* calibrated probability (0 before scoring) */
    unsigned char regrowth_known; /* observations 10..60 days after the drop exist */
} detect_candidate;

/* Reusable scratch space: one per thread. */
typedef struct detect_work {
    int32_t *day;
    float *ndvi;
    float *ndmi; /* of the clear observations, NAN where unknown */
    detect_candidate *cand;
    double *z;   /* raw scores of the candidates */
    size_t cap;
    int32_t jan1, next_jan1; /* cached bounds of the last year looked up */
    size_t n_clear; /* spike-free clear observations left in day/ndvi by detect_candidates */
} detect_work;

void detect_work_free(detect_work *w);

/* The candidates of one parcel's observations (sorted by day), features filled,
 * p filled when m != NULL (candidate parameters come from gate, which may equal m).
 * *cand points into w. */
int detect_candidates(const series_obs *obs, size_t n, const detect_model *gate,
                      const detect_model *m, detect_work *w, detect_candidate **cand,
                      size_t *n_cand);

/* Chooses the events among n candidates (step 3 above): chosen[i] becomes 1 for an
 * event, 2 for a candidate at or above event_threshold that lies within
 * min_separation_days of a stronger event (a tie in p goes to the lower index), 0 for
 * one below the threshold. n log n. MC_ERR only when out of memory. */
int detect_choose_events(const detect_candidate *cand, size_t n, const detect_model *m,
                         unsigned char *chosen);

/* Runs detection over all parcels and seasons. *out is owned by the caller
 * (detect_result_free). */
int detect_run(const series_set *s, const detect_model *m, detect_result *out);
/* detect_run, stepping *bar by one per parcel as it goes (progress.h). */
struct progress;
int detect_run_progress(const series_set *s, const detect_model *m, struct progress *bar,
                        detect_result *out);
/* Same, for the parcels with keep[parcel] != 0 (keep NULL: all). */
int detect_run_subset(const series_set *s, const unsigned char *keep, const detect_model *m,
                      detect_result *out);
void detect_result_free(detect_result *r);

/* Where each parcel's rows start in a result (both arrays are sorted by parcel):
 * parcel p's events are events[ev_first[p] .. ev_first[p + 1]), its summaries
 * summaries[sum_first[p] .. sum_first[p + 1]). n_parcels + 1 entries each. */
typedef struct detect_result_index {
    size_t *ev_first;
    size_t *sum_first;
} detect_result_index;

int detect_result_index_make(const detect_result *r, size_t n_parcels, detect_result_index *ix);
void detect_result_index_free(detect_result_index *ix);

/* Parses a series CSV from `in` (name for messages) into *s and detects into *out.
 * On failure both are empty. */
int detect_stream(FILE *in, const char *name, const detect_model *m, series_set *s,
                  detect_result *out);

/* Loads the model at path, or the shipped default where path is NULL or "". */
int detect_load_model(const char *path, detect_model *m);

const char *detect_reason_text(detect_reason r);
const char *detect_call_text(detect_call c);

/* CSV writers: events (parcel_id,season,date_start,date_end,date,confidence) and
 * summaries (parcel_id,season,n_obs,n_clear_obs,max_gap_days,n_events,
 * mowed_probability,sufficient,call,reason,season_probability). */
int detect_write_events(FILE *out, const detect_result *r);
int detect_write_summaries(FILE *out, const detect_result *r);

#endif
