/* Splitting one CSV line into fields, the way every CSV reader of mowcheck reads them. */
#ifndef MOWCHECK_CSV_FIELDS_H
#define MOWCHECK_CSV_FIELDS_H

/* Splits a line in place into fields (commas; double-quoted fields with "" escapes;
 * a trailing \n or \r\n removed). Returns the number of fields (at most max_fields),
 * or -1 for an unterminated quote. */
int csv_split(char *line, char **fields, int max_fields);

#endif
