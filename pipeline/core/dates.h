/* Calendar dates as day numbers (days since 1970-01-01, proleptic Gregorian): the one
 * date arithmetic every part shares (series files, events, windows, reports). */
#ifndef MOWCHECK_DATES_H
#define MOWCHECK_DATES_H

#include <stdint.h>

int32_t date_days_from_civil(int year, int month, int day);
void date_civil_from_days(int32_t days, int *year, int *month, int *day);
/* Strict YYYY-MM-DD (a real calendar date, years 1900..2999). MC_OK or MC_ERR (no message). */
int date_parse(const char *text, int32_t *days);
/* Writes YYYY-MM-DD (11 bytes with the terminator). */
void date_format(int32_t days, char out[11]);
/* Calendar year and day of year (1..366) of a day number. */
int date_year(int32_t days);
int date_doy(int32_t days);

#endif
