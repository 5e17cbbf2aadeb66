/* Texts from the templates folder, shared by the inspector report and the farmer
 * notices: where the folder is, key = value files (a language's strings.conf and
 * report.conf, the agency's agency.conf) and {{name}} templates. */
#ifndef MOWCHECK_REPORT_TEXT_H
#define MOWCHECK_REPORT_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* The templates folder: option, $MOWCHECK_TEMPLATE_DIR, $MOWCHECK_SCHEMA_DIR/templates,
 * the source tree's schemas/templates. */
int report_template_dir(const char *option, char *buf, size_t size);
int report_is_dir(const char *path);
/* A whole template file (*text malloc'd); a failure names the file. */
int report_read_template(const char *path, char **text);

/* A template variable (and one line of a key = value file). */
typedef struct report_var {
    const char *name, *value;
} report_var;

/* A key = value file ('#' starts a comment line; the last of a repeated key wins). */
typedef struct report_kv {
    char *text;  /* owns the strings below (split in place) */
    report_var *vars;
    size_t n;
} report_kv;

int report_kv_load(const char *path, report_kv *kv);
const char *report_kv_get(const report_kv *kv, const char *key); /* NULL: absent */
void report_kv_free(report_kv *kv);

/* Writes tmpl with every {{name}} replaced by its value (HTML-escaped where html);
 * an unknown or unterminated {{ fails naming `what` (the template file) and the line. */
int report_render(FILE *out, const char *tmpl, const char *what, const report_var *vars,
                  size_t n_vars, int html);
/* The same into a new string (*text); _trimmed: plain text, trailing space removed. */
int report_render_alloc(const char *tmpl, const char *what, const report_var *vars, size_t n,
                        int html, char **text);
int report_render_trimmed(const char *tmpl, const char *what, const report_var *vars,
                          size_t n, char **text);

#endif
