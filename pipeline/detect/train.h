/* Training the mowing detector, in C and deterministically (same data, same
 * seed: byte-identical model file).
 *
 * 1. candidates of the labelled plot-years (detect_candidates); a candidate is a
 *    cut when a ground mowing date lies in [day_a - 3, day_b + 3];
 *    date_fraction = median position of the true date inside the candidate interval;
 *    the candidate gate min_drop (0.06, 0.08, 0.10 or 0.12) is the one with the
 *    best out-of-fold F1 in step 3;
 * 2. L2-regularised logistic regression on standardised features (Newton's
 *    method: exact, no randomness);
 * 3. inner cross-validation inside the training data only: leave one region out
 *    (region = leading letters of the parcel id) when there are at least two,
 *    else 3 folds drawn from the seed. Out-of-fold scores give the calibration
 *    (Platt scaling), the event threshold (best MODCiX F1), and the out-of-fold
 *    plot-years for the season model;
 * 4. the season model ("mowed at all", on whole-season features with out-of-fold
 *    candidate probabilities): logistic regression, its own second leave-one-group-out
 *    for the calibration, and the "not mowed" threshold;
 * 5. the approval threshold (train_approval_threshold) on the out-of-fold event
 *    confidences: automatic approvals >= 99% precise inside the training data. */
#ifndef MOWCHECK_TRAIN_H
#define MOWCHECK_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "eval.h"
#include "model.h"
#include "series.h"

typedef struct train_options {
    uint64_t seed;   /* folds when the parcels have fewer than two regions */
    double l2;       /* ridge penalty on standardised weights (logistic) */
    model_kind kind; /* the candidate classifier: trees (default) or logistic */
    FILE *log;       /* progress lines (NULL: quiet) */
} train_options;

void train_options_init(train_options *o);

/* Trains on the labelled plot-years of parcels with keep[parcel] (keep NULL: all).
 * Labels must be attached to s (eval_labels_attach). */
int train_model(const series_set *s, const eval_labels *l, const unsigned char *keep,
                const train_options *o, detect_model *out);

/* One possible automatic approval: an out-of-fold plot-year with an event, scored by
 * its most confident event. */
typedef struct train_call {
    double score;
    int truly_mowed;
    int group; /* region */
} train_call;

/* The approval threshold from the possible approvals c: the lowest t whose approvals
 * (score >= t) have a Jeffreys posterior-mean precision (right + 1/2) / (calls + 1)
 * >= 0.99, raised on the logit scale by the gap between the highest and
 * second-highest per-group maximum logit of not-mowed plot-years
 * (schemas/model-format.md). 1: never automatic. */
double train_approval_threshold(const train_call *c, size_t n);

/* Leave-one-region-out: for each region, train on the others, detect on it; the
 * figures are pooled and printed to out, with the baseline's, the approval curve
 * and the reliability of the event confidences. *model_scores, *base_scores and
 * *reliability receive the pooled figures (each may be NULL). */
int train_cv_region(const series_set *s, const eval_labels *l, const train_options *o,
                    FILE *out, eval_scores *model_scores, eval_scores *base_scores,
                    eval_reliability *reliability);

#endif
