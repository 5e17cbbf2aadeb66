/* Case numbers: format, check digits worked out by hand, and rejection of typos. */
#include "casenum.h"
#include "error.h"
#include "test.h"

static void test_check_digits_by_hand(void)
{
    /* 202600012300 mod 97 = 60, so the check digits are 98 - 60 = 38
     * (and 202600012338 mod 97 = 1, the MOD 97-10 condition). */
    CHECK_INT(casenum_check_digits("2026000123"), 38);
    CHECK_INT(casenum_check_digits("2026004711"), 48);
    /* The published IBAN example GB82 WEST 1234 5698 7654 32: with the letters
     * turned into numbers (W=32 E=14 S=28 T=29, G=16 B=11) the check digits are 82. */
    CHECK_INT(casenum_check_digits("32142829123456987654321611"), 82);
}

static void test_format_and_parse(void)
{
    char buf[CASENUM_MAX];
    REQUIRE(casenum_format(2026, 123, buf, sizeof buf) == MC_OK);
    CHECK_STR(buf, "MC-2026-000123-38");

    int season = 0;
    int64_t serial = -1;
    CHECK(casenum_parse(buf, &season, &serial) == MC_OK);
    CHECK_INT(season, 2026);
    CHECK_INT(serial, 123);
    CHECK(casenum_parse("  mc-2026-000123-XX", &season, &serial) == MC_ERR);

    /* Large serials keep all their digits. */
    REQUIRE(casenum_format(2027, 1234567, buf, sizeof buf) == MC_OK);
    CHECK(strncmp(buf, "MC-2027-1234567-", 16) == 0);
    CHECK(casenum_parse(buf, &season, &serial) == MC_OK);
    CHECK_INT(serial, 1234567);
}

static void test_typos_rejected(void)
{
    char good[CASENUM_MAX];
    REQUIRE(casenum_format(2026, 4711, good, sizeof good) == MC_OK);
    int season;
    int64_t serial;
    /* Every single-digit change and every swap of neighbouring digits is caught. */
    int changed = 0, caught = 0;
    for (size_t i = 0; good[i]; i++) {
        if (good[i] < '0' || good[i] > '9')
            continue;
        for (char d = '0'; d <= '9'; d++) {
            if (d == good[i])
                continue;
            char typo[CASENUM_MAX];
            memcpy(typo, good, sizeof typo);
            typo[i] = d;
            changed++;
            caught += casenum_parse(typo, &season, &serial) == MC_ERR;
        }
        if (good[i + 1] >= '0' && good[i + 1] <= '9' && good[i + 1] != good[i]) {
            char swapped[CASENUM_MAX];
            memcpy(swapped, good, sizeof swapped);
            swapped[i] = good[i + 1];
            swapped[i + 1] = good[i];
            changed++;
            caught += casenum_parse(swapped, &season, &serial) == MC_ERR;
        }
    }
    CHECK(changed > 100);
    CHECK_INT(caught, changed);
    CHECK(casenum_parse("MC-2026-000123", &season, &serial) == MC_ERR);
    CHECK(strstr(mc_error_message(), "not a case number") != NULL);
    CHECK(casenum_parse("", &season, &serial) == MC_ERR);
    CHECK(casenum_parse("XX-2026-000123-00", &season, &serial) == MC_ERR);
}

int main(void)
{
    test_check_digits_by_hand();
    test_format_and_parse();
    test_typos_rejected();
    return test_summary();
}
