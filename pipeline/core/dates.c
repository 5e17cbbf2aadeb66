#include "dates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Howard Hinnant's days-from-civil formula (public-domain algorithm description). */
int32_t date_days_from_civil(int year, int month, int day)
{
    int y = year - (month <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void date_civil_from_days(int32_t days, int *year, int *month, int *day)
{
    int z = days + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (*month <= 2);
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int date_parse(const char *t, int32_t *days)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (t[i] != '-')
                return MC_ERR;
        } else if (t[i] < '0' || t[i] > '9') {
            return MC_ERR;
        }
    }
    if (t[10] != '\0')
        return MC_ERR;
    int y = atoi(t), m = atoi(t + 5), d = atoi(t + 8);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
        return MC_ERR;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return MC_ERR;
    *days = date_days_from_civil(y, m, d);
    return MC_OK;
}

void date_format(int32_t days, char out[11])
{
    int y, m, d;
    date_civil_from_days(days, &y, &m, &d);
    /* Years are 1900..2999 in practice; the digits are written one by one. */
    unsigned yy = (unsigned)y % 10000u, mm = (unsigned)m % 100u, dd = (unsigned)d % 100u;
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + mm / 10);
    out[6] = (char)('0' + mm % 10);
    out[7] = '-';
    out[8] = (char)('0' + dd / 10);
    out[9] = (char)('0' + dd % 10);
    out[10] = '\0';
}

int date_year(int32_t days)
{
    int y, m, d;
    date_civil_from_days(days, &y, &m, &d);
    return y;
}

int date_doy(int32_t days)
{
    int y = date_year(days);
    return days - date_days_from_civil(y, 1, 1) + 1;
}
