/* The registry's claims CSV (the file mowcheck-registry serves, and what an agency
 * exports from its claims system): a header naming the columns claim_id, parcel_id,
 * season, window_start, window_end and min_mowings (applicant, scheme and
 * declared_area_ha optional), in any order, then one claim per line. Used by
 * `mowcheck decide --series S --claims C.csv` to try the decision rule on past
 * claims without a registry or a database. */
#ifndef MOWCHECK_CLAIMS_CSV_H
#define MOWCHECK_CLAIMS_CSV_H

#include <stddef.h>

#include "registry_client.h"

/* One line of the file. A line that cannot be a claim keeps what could be read
 * and says why in failure (the field and the line): its claim is decided `error`,
 * the others are decided as usual. */
typedef struct claims_csv_row {
    registry_claim claim;
    long line;
    char failure[200]; /* "" when the claim is valid */
} claims_csv_row;

/* Reads the file at path. A missing column in the header or an unreadable file
 * is MC_ERR (naming the file); bad lines are rows with a failure. */
int claims_csv_read(const char *path, claims_csv_row **rows, size_t *n);

#endif
