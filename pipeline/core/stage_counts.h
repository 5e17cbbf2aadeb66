/* What the stages of this process counted, for `mowcheck run`'s summary.
 *
 * A stage records its counts by name as it ends (ingest: "scenes_new", ...; detect:
 * "events", ...; decide: "outcome_approved", ...); run clears them before a stage
 * and reads them after it, so a stage that failed early leaves its counts unknown
 * (not zero). The stages stay what they are: functions an operator can run alone,
 * which know nothing of run. Single-threaded use (the stages record from the main
 * thread). */
#ifndef MOWCHECK_STAGE_COUNTS_H
#define MOWCHECK_STAGE_COUNTS_H

#include <stdint.h>

enum { STAGE_COUNTS_MAX = 48, STAGE_COUNTS_NAME_MAX = 40 };

void stage_counts_clear(void);
/* Sets (or replaces) a count; names longer than STAGE_COUNTS_NAME_MAX - 1 or beyond
 * STAGE_COUNTS_MAX distinct names are dropped (a programming error, logged). */
void stage_counts_set(const char *name, int64_t value);
/* 1 and *value where the count was set since the last clear; 0 where not. */
int stage_counts_get(const char *name, int64_t *value);

#endif
