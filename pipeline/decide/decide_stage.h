/* The decide stage: claims from the registry, the detector's evidence from the
 * store, the rule of decide.h, decisions (and case numbers) into the store.
 * Idempotent: running it twice on the same data writes nothing the second time. */
#ifndef MOWCHECK_DECIDE_STAGE_H
#define MOWCHECK_DECIDE_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "registry_client.h"
#include "store.h"

typedef struct decide_stage_options {
    const registry_config *registry;
    int season;
    int32_t as_of_day;               /* the run's date (days since 1970-01-01) */
    decide_params params;
    store_series_filter observed;    /* what counts as a clear observation */
    int64_t run_id;                  /* 0: none */
    const char *const *parcel_ids;   /* NULL: the store's parcels (store_decide_parcel_ids) */
    size_t n_parcel_ids;
} decide_stage_options;

typedef struct decide_stage_summary {
    size_t n_parcels;                /* asked about */
    size_t n_claims;                 /* answered */
    size_t n_failed_parcels;         /* registry or exchange failures */
    size_t n_outcome[DECIDE_N_OUTCOMES]; /* this run's outcomes (claims, and failed parcels
                                            without earlier decisions, as error) */
    size_t n_new, n_changed, n_unchanged, n_proposed, n_kept;
    size_t n_cases;                  /* flagged claims with a case number */
    char failure[512];               /* the registry's last failure ("" if none) */
} decide_stage_summary;

int decide_stage_run(store *s, const decide_stage_options *o, decide_stage_summary *sum);

#endif
