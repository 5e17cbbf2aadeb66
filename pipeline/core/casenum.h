/* Case numbers for flagged decisions: MC-<season>-<serial, 6+ digits>-<2 check digits>,
 * e.g. MC-2026-000123-51. The check digits are ISO 7064 MOD 97-10 (as in IBAN) over the
 * digits of season and serial, so any single mistyped digit and any swap of two
 * neighbouring digits is rejected. The serial is assigned once per (claim, season)
 * by the store, which keeps the number stable across re-runs. */
#ifndef MOWCHECK_CASENUM_H
#define MOWCHECK_CASENUM_H

#include <stddef.h>
#include <stdint.h>

enum { CASENUM_MAX = 32 };

/* season 1000..9999, serial 0..999999999999. */
int casenum_format(int season, int64_t serial, char *buf, size_t size);

/* Accepts the printed form (case-insensitive prefix, surrounding spaces ignored).
 * A malformed number or wrong check digits is an error whose message says which. */
int casenum_parse(const char *text, int *season, int64_t *serial);

/* The two ISO 7064 MOD 97-10 check digits of a string of decimal digits. */
int casenum_check_digits(const char *digits);

#endif
