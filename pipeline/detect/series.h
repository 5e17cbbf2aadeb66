/* Per-parcel NDVI time series: the series CSV reader and the in-memory form
 * that detection works on.
 *
 * Series CSV (DESIGN.md, "Files between stages"): a header line naming at least
 * parcel_id, date and ndvi, in any order; an optional ndmi column (what `mowcheck
 * export series` writes where the scenes had B11), or else nir and swir1 columns
 * (surface reflectance), give each observation its NDMI; an empty or unusable
 * ndmi or nir/swir1 value only leaves that NDMI unknown (NAN), it never refuses the
 * line. Line ends may be LF, CRLF or a lone CR, and a quoted field may hold any of
 * them (line numbers in messages count them); a UTF-8 byte order mark before the
 * header is skipped. One row per parcel and acquisition date:
 *   - date is YYYY-MM-DD;
 *   - ndvi is a finite number in [-1, 1], or empty: the date was not observed
 *     (cloudy); such rows are kept, they are the cloudy dates.
 * Observation rules (series_rules, what the nightly run applies to its own
 * observations; series_read_rules): a row whose valid_share (share of the parcel's
 * pixels that were clear) or, where the file has that column, cloud_score (1 = clear,
 * 0 = cloud) lies below min_valid_share was not observed either: its ndvi counts as
 * empty, a cloudy date. These two fields are numbers in [0, 1], or empty (unknown:
 * the row counts as the ndvi says). Without rules (series_read: the store's own
 * export, whose ndvi is already empty where the date was not observed) both columns
 * are ignored, like every other column (n_valid, blue, red, ...).
 * Garbage policy: a file with any bad line (bad date, NaN/inf, text in a number,
 * ndvi out of range, missing fields, more fields than the header has (an unquoted
 * decimal comma such as 0,5 splits a number in two), duplicate parcel+date, and,
 * with rules, a bad valid_share or cloud_score) is refused as a whole, and the
 * message lists the bad lines (up to 20, then a count) with the file name and line
 * number. Nothing is detected from a refused file: a partly read series could turn
 * a missing mowing into a "not mowed". */
#ifndef MOWCHECK_SERIES_H
#define MOWCHECK_SERIES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dates.h"

/* One acquisition date of one parcel. */
typedef struct series_obs {
    int32_t day;  /* days since 1970-01-01 */
    float ndvi;   /* NAN: not observed on that date */
    float ndmi;   /* (nir - swir1) / (nir + swir1) from the CSV's ndmi column or its nir
                   * and swir1 columns (vegetation moisture), else NAN: optional evidence */
} series_obs;

/* One parcel: its observations are obs[first .. first+count-1], sorted by day. */
typedef struct series_parcel {
    char *parcel_id;
    size_t first;
    size_t count;
} series_parcel;

/* All parcels of a file, sorted by parcel_id (byte order). */
typedef struct series_set {
    series_parcel *parcels;
    size_t n_parcels;
    series_obs *obs;
    size_t n_obs;
} series_set;

/* The observation rules a series file is read under (see above). */
typedef struct series_rules {
    double min_valid_share; /* valid_share or cloud_score below this: not observed */
} series_rules;

/* Reads a series CSV from a stream (a file, or an in-memory stream from
 * fmemopen/open_memstream), applying the observation rules (rules NULL: none, the
 * ndvi column alone says what was observed). `name` is used in messages. On MC_ERR
 * *out is empty. */
int series_read_rules(FILE *in, const char *name, const series_rules *rules, series_set *out);
/* Same, opening the file at path. */
int series_read_path_rules(const char *path, const series_rules *rules, series_set *out);
/* series_read_rules and series_read_path_rules without rules. */
int series_read(FILE *in, const char *name, series_set *out);
int series_read_path(const char *path, series_set *out);
void series_free(series_set *s);
/* Forgets the NDMI of every observation (NAN): what a series from mowcheck's own
 * store looks like (ingest keeps NDVI only), so a model trained or evaluated on it
 * matches what the nightly run can use. */
void series_drop_ndmi(series_set *s);

#endif
