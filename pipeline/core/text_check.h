/* Checks and guards for text that comes from outside (parcel files, the registry,
 * folder names) and goes into the database, logs and CSV files. */
#ifndef MOWCHECK_TEXT_CHECK_H
#define MOWCHECK_TEXT_CHECK_H

#include <stddef.h>
#include <stdio.h>

/* The longest parcel id and claim id, in bytes, everywhere: ingest refuses a
 * longer parcel id, the registry client a longer claim or parcel id. */
enum { MC_ID_MAX = 255 };

/* 1 where the bytes are well-formed UTF-8 (no overlong forms, no surrogates). */
int text_is_utf8(const char *s, size_t n);
/* 1 where the text holds a C0 control character (CR, LF, ESC, BEL, ...) or DEL. */
int text_has_control(const char *s);
/* Why an id (parcel or claim) cannot be used, or NULL: empty, longer than
 * MC_ID_MAX bytes, not UTF-8, or holding a control character. */
const char *text_id_problem(const char *id);

/* Writes s to out[size] with control characters and bytes that are not UTF-8
 * shown as \n, \r, \t, \e or \xNN, so that one name cannot forge a log line or
 * a terminal escape (a backslash stays as it is: the text is for reading, not for
 * reversing). Truncates (with "...") where out is too small. Returns out. */
char *text_escape(const char *s, char *out, size_t size);

/* 1 where a spreadsheet would read the field as a formula: it starts with '=',
 * '+', '-', '@', TAB or CR. */
int text_csv_formula(const char *s);

/* Writes one CSV cell for files people open in spreadsheets (then ',' or, with
 * last, '\n'): control characters become '?', a cell that would be a formula gets
 * a leading apostrophe, and a cell with a comma or quote is quoted. The decision
 * feed applies the same rule in SQL (mowcheck_csv_cell, schemas/031_csv_cell.sql). */
void text_csv_cell(FILE *out, const char *v, int last);

#endif
