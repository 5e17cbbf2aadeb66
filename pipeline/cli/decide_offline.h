/* mowcheck decide --series S --claims C.csv -o decisions.csv: the nightly decision
 * rule on a series CSV and a claims CSV, with no database and no registry, so an
 * agency can try an operating point (approval_min_confidence) on last year's claims.
 * Detection runs on the series with the configured model; each claim is decided
 * from its parcel's events and clear observations in the claim's season, up to the
 * as-of date, as the stored path does. */
#ifndef MOWCHECK_DECIDE_OFFLINE_H
#define MOWCHECK_DECIDE_OFFLINE_H

#include "decide.h"
#include "detect.h"

typedef struct decide_offline_options {
    const char *series_path, *claims_path, *out_path;
    const detect_model *model;
    decide_params params;
    int32_t as_of_day;
    int season;        /* 0: every claim; else only the claims of this season */
    double min_valid_share; /* the series rows observed: as detect --series reads them */
} decide_offline_options;

typedef struct decide_offline_summary {
    size_t n_claims;
    size_t n_outcome[DECIDE_N_OUTCOMES];
} decide_offline_summary;

/* Writes decisions.csv: claim_id,parcel_id,season,window_start,window_end,min_mowings,
 * outcome,rule,top_confidence,reason (one row per claim, in the claims file's order). */
int decide_offline_run(const decide_offline_options *o, decide_offline_summary *sum);

#endif
