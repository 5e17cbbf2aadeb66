#include "casenum.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"

/* The digits mod 97, one digit at a time so that any length fits. */
static int mod97(const char *digits)
{
    int r = 0;
    for (const char *p = digits; *p; p++)
        r = (r * 10 + (*p - '0')) % 97;
    return r;
}

int casenum_check_digits(const char *digits)
{
    char shifted[64];
    snprintf(shifted, sizeof shifted, "%s00", digits);
    return 98 - mod97(shifted);
}

int casenum_format(int season, int64_t serial, char *buf, size_t size)
{
    if (season < 1000 || season > 9999)
        return mc_fail("case number: season %d out of range", season);
    if (serial < 0 || serial > INT64_C(999999999999))
        return mc_fail("case number: serial %" PRId64 " out of range", serial);
    char digits[32];
    snprintf(digits, sizeof digits, "%04d%06" PRId64, season, serial);
    int n = snprintf(buf, size, "MC-%04d-%06" PRId64 "-%02d", season, serial,
                     casenum_check_digits(digits));
    if (n < 0 || (size_t)n >= size)
        return mc_fail("case number: buffer too small");
    return MC_OK;
}

static int all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return len > 0;
}

int casenum_parse(const char *text, int *season, int64_t *serial)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    char number[CASENUM_MAX + 1];
    if (len > CASENUM_MAX)
        return mc_fail("'%.40s...' is not a case number (too long)", text);
    memcpy(number, text, len);
    number[len] = '\0';

    /* MC-SSSS-NNNNNN-CC */
    const char *dash1 = strchr(number, '-');
    const char *dash2 = dash1 ? strchr(dash1 + 1, '-') : NULL;
    const char *dash3 = dash2 ? strchr(dash2 + 1, '-') : NULL;
    if (!dash3 || strchr(dash3 + 1, '-') || strncasecmp(number, "MC-", 3) != 0 ||
        dash1 != number + 2 || dash2 - dash1 - 1 != 4 || !all_digits(dash1 + 1, 4) ||
        dash3 - dash2 - 1 < 6 || dash3 - dash2 - 1 > 12 ||
        !all_digits(dash2 + 1, (size_t)(dash3 - dash2 - 1)) || strlen(dash3 + 1) != 2 ||
        !all_digits(dash3 + 1, 2))
        return mc_fail("'%s' is not a case number (expected MC-YYYY-NNNNNN-CC)", number);

    char digits[32];
    snprintf(digits, sizeof digits, "%.4s%.*s%s", dash1 + 1, (int)(dash3 - dash2 - 1),
             dash2 + 1, dash3 + 1);
    if (mod97(digits) != 1)
        return mc_fail("case number %s: the check digits do not match (mistyped?)", number);
    if (sscanf(dash1 + 1, "%4d", season) != 1 || sscanf(dash2 + 1, "%" SCNd64, serial) != 1)
        return mc_fail("'%s' is not a case number", number);
    return MC_OK;
}
