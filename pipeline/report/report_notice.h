/* Farmer notices: one per case, in HTML and plain text, from the templates of a
 * language (schemas/templates/<lang>/notice.{html,txt}, strings.conf, appeal.txt) and
 * the agency's appeal terms (schemas/templates/agency.conf: appeal_deadline_days,
 * agency_contact). Templates hold {{name}}; in HTML every value is escaped. */
#ifndef MOWCHECK_REPORT_NOTICE_H
#define MOWCHECK_REPORT_NOTICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

typedef struct report_notice_options {
    const char *template_dir;     /* holds agency.conf and <lang>/ */
    const char *lang;             /* "en", "et", ... (a folder of template_dir) */
    int32_t notice_day;           /* the notice's date, days since 1970-01-01 */
    int season;                   /* 0: all seasons */
    store_series_filter observed; /* what counts as a clear image */
    const char *out_dir;          /* writes <case_number>.html and .txt here (must exist) */
} report_notice_options;

/* The templates folder: option, $MOWCHECK_TEMPLATE_DIR, $MOWCHECK_SCHEMA_DIR/templates,
 * the source tree's schemas/templates. */
int report_template_dir(const char *option, char *buf, size_t size);

/* A template variable. */
typedef struct report_var {
    const char *name, *value;
} report_var;

/* Writes tmpl with every {{name}} replaced by its value (HTML-escaped where html);
 * an unknown or unterminated {{ fails naming `what` (the template file) and the line. */
int report_render(FILE *out, const char *tmpl, const char *what, const report_var *vars,
                  size_t n_vars, int html);

/* Writes a notice for every flagged claim with a case; *n_written: cases written. */
int report_notices_write(store *s, const report_notice_options *o, size_t *n_written);

#endif
