/* The detect stage on stored observations: the series the store holds (the values
 * `mowcheck export series` writes, built from the detect state, detect_state.h, which
 * reads only the parts of scenes committed since the last night), the detector over
 * every parcel-season, and the events and summaries of the parcel-seasons whose
 * results changed written back in one transaction. */
#ifndef MOWCHECK_DETECT_STAGE_H
#define MOWCHECK_DETECT_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "settings.h"
#include "store.h"

typedef struct detect_stage_summary {
    size_t n_parcels, n_seasons, n_events;
    size_t n_call_mowed, n_call_not_mowed, n_insufficient;
    size_t n_scenes_read;  /* scenes whose observation parts were read from the database */
    int state_rebuilt;     /* 1: the detect state was built anew (detect_state.h) */
    size_t n_stored;       /* parcel-seasons whose stored rows were written (changed) */
    char model_version[96]; /* "<model file name>@<first 12 hex of its SHA-256>" */
    double seconds;
} detect_stage_summary;

/* season 0: every season the store holds. events_out / summary_out (may be NULL)
 * also receive the CSVs `mowcheck detect --events-out/--summary-out` write. */
int detect_stage_run(store *s, const mc_settings *settings, int season, const char *events_out,
                     const char *summary_out, detect_stage_summary *out);

/* detect_run over all parcels of set with a progress bar ("parcels") on a terminal;
 * the result is the one detect_run gives. */
struct series_set;
struct detect_model;
struct detect_result;
int detect_stage_detect(const struct series_set *set, const struct detect_model *m,
                        struct detect_result *out);

/* Writes one of detect.h's CSVs (detect_write_events, detect_write_summaries) to path
 * ("-": stdout; NULL: nothing) through output_write: no half file on failure. */
struct detect_result;
int detect_stage_write_csv(const char *path, const struct detect_result *r,
                           int (*writer)(FILE *, const struct detect_result *));

/* "<file name>@<12 hex>" for a loaded model and the path it came from ("" = default). */
int detect_model_version(const char *path, const void *model, char *buf, size_t size);

#endif
