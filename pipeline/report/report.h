/* The inspector report: one self-contained HTML file (inline CSS, SVG and script; nothing
 * fetched from the network) listing every flagged claim with its NDVI time line, the
 * reason, the case and the review status; and the escaping every report uses. */
#ifndef MOWCHECK_REPORT_H
#define MOWCHECK_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "store.h"

typedef struct report_options {
    int season;                        /* 0: all seasons */
    store_series_filter observed;      /* what counts as a clear observation */
    int chips;                         /* 1: before/after image chips cut from the scenes */
    const char *parcels_path;          /* for the chips; NULL: the store's parcel file */
    const char *id_field;              /* with parcels_path */
} report_options;

/* Writes text with & < > " ' as character references (safe in elements and quoted
 * attributes). */
void report_html_escape(FILE *out, const char *text);

/* Writes the inspector report to path (whole or not at all); *n_claims: claims listed. */
int report_inspector_write(store *s, const report_options *o, const char *path,
                           size_t *n_claims);

#endif
