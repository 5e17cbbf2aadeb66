/* The detect stage's own state between nights: a file in the state directory
 * (detect/<database key>-<season|all>.state) holding
 *   - what it summarises: the database key, the season, the current parcel set and
 *     every scene whose parts it holds (id, tile, date, when and by which run the
 *     parts were written, with or without B11);
 *   - per parcel, per date, the sums of its observation parts (integers, as stored),
 *     so that the series is computed exactly as store_export_series would, under
 *     whatever settings the night has;
 *   - a digest of the results stored per parcel-season by the run that wrote the
 *     file, so that a night stores only the parcel-seasons whose results changed.
 * The database stays the truth: a night reads its scene list in one snapshot and
 * fetches (binary COPY) only the parts of scenes the file does not hold; where a
 * scene it holds was removed or measured again, the parcel set changed, or the file
 * is missing, of another version or damaged (magic, version, SHA-256), it is
 * rebuilt from the database. It is written whole to a temporary file and renamed. */
#ifndef MOWCHECK_DETECT_STATE_H
#define MOWCHECK_DETECT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "series.h"
#include "store.h"

typedef struct detect_state detect_state;

/* Where the state of this database and season filter lives; "" where the state
 * directory cannot be used (then every night reads everything). */
int detect_state_path(const char *state_dir, const char *db_key, int season, char *buf,
                      size_t size);

/* The season's series as the store holds it now: the state at path (may be "") is
 * read, brought up to date from the database and turned into *set under filter's
 * rule. *state (free with detect_state_free) keeps what detect_state_store_results
 * and detect_state_save need. *fetched_scenes: scenes whose parts were read from the
 * database; *rebuilt: 1 where the state was built anew (why: logged). */
int detect_state_load(store *s, const char *path, const char *db_key, int season,
                      const store_series_filter *filter, detect_state **state, series_set *set,
                      size_t *fetched_scenes, int *rebuilt);

/* Stores the results of detecting on the set detect_state_load gave: only the
 * parcel-seasons whose stored rows would change, where the state knows what the
 * last run stored (the same model, and no other detect run since); all of them
 * otherwise. *n_stored: parcel-seasons written. */
int detect_state_store_results(store *s, detect_state *state, int64_t run_id,
                               const char *model_version, const detect_result *r,
                               size_t *n_stored);

/* Writes the state (after its results are committed); "" path: nothing. */
int detect_state_save(const detect_state *state, const char *path);
void detect_state_free(detect_state *state);

#endif
