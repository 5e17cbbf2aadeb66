/* Farmer notices: one per case, in HTML and plain text, from the templates of a
 * language (schemas/templates/<lang>/notice.{html,txt} and strings.conf, where every
 * sentence and the date and number formats live) and the agency's settings
 * (schemas/templates/agency.conf: deadlines, sender, legal basis, contact, the data
 * tracker wording; a key.<lang> line wins over key). Templates hold {{name}}; in HTML
 * every value is escaped.
 *
 * What a notice says follows the case's state: open (not reviewed: evidence asked for
 * by a date, no appeal), the inspector's verdict mowed (payment goes ahead), not_mowed
 * (the appeal and its deadline) or needs_visit (a visit; evidence asked for). No
 * inspector name or note appears. Each notice is recorded when first issued (store:
 * date, deadline, content hash, bodies) and written unchanged on every later run; a new
 * decision or review of the case makes a new notice. */
#ifndef MOWCHECK_REPORT_NOTICE_H
#define MOWCHECK_REPORT_NOTICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report_text.h"
#include "store.h"

typedef struct report_notice_options {
    const char *template_dir;     /* holds agency.conf and <lang>/ */
    const char *lang;             /* "en", "et", ... (a folder of template_dir) */
    int32_t notice_day;           /* the date of notices issued now (days since 1970-01-01);
                                     a notice issued before keeps its own */
    int season;                   /* 0: all seasons */
    store_series_filter observed; /* what counts as a clear image */
    const store_report_prefetch *prefetch; /* as report_options.prefetch */
    const char *out_dir;          /* writes <case_number>.html and .txt here (must exist) */
} report_notice_options;

/* Writes the notice of every flagged claim with a case, issuing (and recording) those
 * not issued yet; *n_written: cases written. A case that cannot be written is named in
 * the log and the others are still written (then the result is MC_ERR). */
int report_notices_write(store *s, const report_notice_options *o, size_t *n_written);

#endif
