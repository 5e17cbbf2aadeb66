/* Scoring mowing detections against ground truth, MODCiX style, the Sen4CAP-style
 * baseline rule, and leave-one-region-out cross-validation.
 *
 * Labels CSV: parcel_id,year,date,end_date,type; type `mowing` (date = day of the
 * cut) or `none` (not mowed that year, date empty). end_date is read and ignored.
 * A plot-year without rows is unlabelled: it is not scored at all.
 *
 * Scoring (data-samples/mowing-train/README.md): per labelled plot-year, true
 * events and detections outside day-of-year 75..300 are dropped; plot-years whose
 * true events lie less than 15 days apart are left out; true and detected events
 * are matched one-to-one, nearest pairs first, when within +-12 days. TP =
 * matches, FN = true - matches, FP = detections - matches (detections in `none`
 * plot-years are false positives). Date error = detected - true over matches.
 * Mowed-or-not: truth = any true event, call = any detection (in 75..300). */
#ifndef MOWCHECK_EVAL_H
#define MOWCHECK_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "detect.h"
#include "series.h"

enum {
    EVAL_MATCH_DAYS = 12,
    EVAL_DOY_FIRST = 75,
    EVAL_DOY_LAST = 300,
    EVAL_MIN_EVENT_SPACING_DAYS = 15,
};

typedef struct eval_year {
    char *parcel_id;
    int year;
    int n_true;        /* mowing dates (all of the year) */
    int32_t *true_day; /* sorted */
    int labelled_none; /* a `none` row */
    size_t parcel;     /* index in the attached series_set, or SIZE_MAX when absent */
} eval_year;

typedef struct eval_labels {
    eval_year *years; /* sorted by parcel_id, year */
    size_t n_years;
} eval_labels;

int eval_labels_read(const char *path, eval_labels *out);
int eval_labels_read_stream(FILE *in, const char *name, eval_labels *out);
void eval_labels_free(eval_labels *l);
/* Resolves parcel indices in s; returns the number of labelled plot-years whose parcel is absent. */
size_t eval_labels_attach(eval_labels *l, const series_set *s);

/* One scored plot-year. */
typedef struct eval_outcome {
    size_t year;       /* index into labels.years */
    int excluded;      /* true events < 15 days apart */
    int n_true, n_det, n_match;
    double abs_err_days, err_days; /* sums over the matches (detected - true) */
    int truly_mowed;
    float mowed_probability;
    float top_confidence;  /* of the most confident detection in 75..300 (0: none) */
    float season_probability;
    float season_x[DETECT_N_SEASON_FEATURES];
    int top_matched;   /* the most confident detection (in 75..300) matches a true event */
    int has_summary;
    detect_call call;
    int well_covered;
} eval_outcome;

/* Scores the plot-years whose parcel has keep[parcel] (keep NULL: all). *out malloc'ed. */
int eval_outcomes(const eval_labels *l, const series_set *s, const detect_result *r,
                  const unsigned char *keep, eval_outcome **out, size_t *n_out);

/* Pooled figures. */
typedef struct eval_scores {
    long tp, fp, fn;
    double abs_err_sum, err_sum;
    long n_years, n_years_correct, n_excluded;
    long n_summaries;         /* scored plot-years with a detect summary */
    long auto_mowed, auto_mowed_truly, auto_mowed_matched;
    long not_mowed, not_mowed_truly;
} eval_scores;

void eval_accumulate(eval_scores *acc, const eval_outcome *o, size_t n);
double eval_precision(const eval_scores *s);
double eval_recall(const eval_scores *s);
double eval_f1(const eval_scores *s);
double eval_mae_days(const eval_scores *s);
double eval_bias_days(const eval_scores *s);
double eval_accuracy(const eval_scores *s);
/* Prints the figures (reject-region lines only when with_reject). */
void eval_print(FILE *out, const char *title, const eval_scores *s, int with_reject);

/* The approval curve over scored plot-years o: for each threshold t of a fixed range,
 * a whole-season claim is approved automatically when the plot-year's most
 * confident detection (day of year 75..300) has confidence >= t; printed: the share
 * of mowed plot-years approved, the precision of the approvals, and the false
 * approvals among the not-mowed plot-years. The row of each threshold in marks
 * (n_marks of them, e.g. a model's approval_threshold) is added and marked with
 * mark_label. */
void eval_print_approval_curve(FILE *out, const eval_outcome *o, size_t n, const double *marks,
                               int n_marks, const char *mark_label);

/* Reliability of the event confidences: the scored plot-years' most confident
 * detections (day of year 75..300) binned by confidence; per bin their number, mean
 * confidence and the share that match a true cut. Calibrated confidences have the
 * share close to the mean. */
enum { EVAL_RELIABILITY_BINS = 5 };
typedef struct eval_reliability {
    double lower[EVAL_RELIABILITY_BINS], upper[EVAL_RELIABILITY_BINS];
    long n[EVAL_RELIABILITY_BINS];
    double mean_confidence[EVAL_RELIABILITY_BINS];
    double matched_share[EVAL_RELIABILITY_BINS];
} eval_reliability;

/* Bins [0, 0.5), [0.5, 0.8), [0.8, 0.9), [0.9, 0.95), [0.95, 1]. */
void eval_reliability_of(const eval_outcome *o, size_t n, eval_reliability *r);
void eval_print_reliability(FILE *out, const eval_reliability *r);

/* The Sen4CAP-style rule over the kept parcels: consecutive clear observations
 * with drop >= 0.12, NDVI before > 0.5, after < 0.75, the next observation not
 * rising faster than 0.05/day; events >= 30 days apart (largest drops first);
 * date = the middle of the interval; confidence 1. No summaries. */
int eval_baseline(const series_set *s, const unsigned char *keep, detect_result *out);

/* The region of a parcel id: its leading letters ("LR12" -> "LR"). */
void eval_region(const char *parcel_id, char *region, size_t size);

#endif
