/* The series CSV, written by the server (COPY ... TO STDOUT, CSV) so that quoting
 * and number formatting are exact and the same on every run. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_conn.h"
#include "store_series_rule.h"

/* Numbers are rounded in numeric (exact, half away from zero) to 4 decimals.
 * ndvi and ndvi_std are NULL (empty in the CSV) where the date is not observed; ndmi
 * also where less than half of the valid pixels had SWIR (B11) data, e.g. a scene
 * without B11. */
static const char series_sql[] =
    "COPY (SELECT parcel_id, to_char(acquired_on, 'YYYY-MM-DD') AS date,"
    " CASE WHEN observed THEN round(ndvi, 4) END AS ndvi,"
    " round(valid_share, 4) AS valid_share, n_valid, n_total,"
    " CASE WHEN observed THEN round(ndvi_std, 4) END AS ndvi_std, n_seen,"
    " CASE WHEN observed AND 2 * n_moist >= n_valid THEN round(ndmi, 4) END AS ndmi"
    " FROM (SELECT o.*, (n_valid > 0 AND n_valid >= %" PRId64 " AND n_total > 0"
    "        AND n_valid >= n_total * %s::numeric) AS observed"
    "       FROM observations o"
    "       WHERE (o.set_hash = (SELECT set_hash FROM parcel_sets WHERE is_current)"
    "              OR NOT EXISTS (SELECT 1 FROM parcel_sets WHERE is_current))"
    "         AND (%d = 0 OR (acquired_on >= make_date(%d, 1, 1)"
    "                         AND acquired_on < make_date(%d + 1, 1, 1)))) x"
    " ORDER BY parcel_id COLLATE \"C\", acquired_on)"
    " TO STDOUT WITH (FORMAT csv, HEADER)";

int store_export_series(store *s, const store_series_filter *filter, FILE *out)
{
    char share[40], sql[sizeof series_sql + 128];
    store_share_text(filter->min_valid_share, share, sizeof share);
    snprintf(sql, sizeof sql, series_sql, filter->min_valid_pixels, share, filter->season,
             filter->season, filter->season);
    return store_copy_out(s, "exporting the series", sql, out);
}
