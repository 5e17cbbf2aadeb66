/* The inspector report, offline (inline CSS, SVG and script; nothing fetched from the
 * network): an index page (report.html: filters, search, the table of every flagged
 * claim with its case, outcome, P(mowed), review and reason, and an SVG map of the
 * flagged parcels) and one page per case beside it (cases/<CASE>.html: the NDVI time
 * line and the image chips), linked both ways with relative links; and the escaping
 * every report uses. The words come from <templates>/<lang>/report.conf. */
#ifndef MOWCHECK_REPORT_H
#define MOWCHECK_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "store.h"

typedef struct report_options {
    int season;                        /* 0: all seasons */
    store_series_filter observed;      /* what counts as a clear observation */
    const store_report_prefetch *prefetch; /* the claims' details read at once (store.h);
                                              NULL: read claim by claim */
    int chips;                         /* 1: before/after image chips cut from the scenes */
    const char *parcels_path;          /* for the chips; NULL: the store's parcel file */
    const char *id_field;              /* with parcels_path */
    const char *template_dir;          /* NULL: report_template_dir's default */
    const char *lang;                  /* NULL: "en" */
} report_options;

/* Writes text with & < > " ' as character references (safe in elements and quoted
 * attributes). */
void report_html_escape(FILE *out, const char *text);

/* Writes the index page to path (whole or not at all) and the case pages to the folder
 * cases/ beside it; *n_claims: claims listed. */
int report_inspector_write(store *s, const report_options *o, const char *path,
                           size_t *n_claims);

#endif
