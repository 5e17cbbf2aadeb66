/* The claims CSV that `decide --series --claims` reads: columns in any order, a bad
 * line becomes a claim with a failure naming the line and the field (decided
 * `error`), the others are read; a header without a required column, a missing or
 * empty file is refused naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims_csv.h"
#include "error.h"
#include "test.h"

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "test_claims_csv.%s.csv", name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_good_and_bad_lines(void)
{
    const char *path = write_file(
        "mixed",
        "scheme,claim_id,parcel_id,season,window_start,window_end,min_mowings,applicant\n"
        "GRASS-1CUT,C-1,P-1,2026,2026-06-01,2026-08-31,1,AP-1\n"
        "GRASS-1CUT,C-2,P-2,2026,2026-06-01,2026-02-30,1,AP-2\n"
        "\n"
        "GRASS-2CUT,\"C-3,x\",P-3,2026,2026-05-01,2026-09-15,2,AP-3\n"
        "GRASS-1CUT,C-4,P-4,twenty,2026-06-01,2026-08-31,1,AP-4\n"
        "GRASS-1CUT,C-5,P-5,2026,2026-06-01,2026-08-31,0,AP-5\n");
    claims_csv_row *rows;
    size_t n;
    REQUIRE(claims_csv_read(path, &rows, &n) == MC_OK);
    REQUIRE(n == 5);
    CHECK_STR(rows[0].claim.claim_id, "C-1");
    CHECK_STR(rows[0].claim.scheme, "GRASS-1CUT");
    CHECK_STR(rows[0].claim.applicant, "AP-1");
    CHECK_INT(rows[0].claim.min_mowings, 1);
    CHECK_STR(rows[0].failure, "");
    CHECK_STR(rows[1].failure, "claims file line 3: window_end is not a date (YYYY-MM-DD)");
    CHECK_STR(rows[2].claim.claim_id, "C-3,x");
    CHECK_INT(rows[2].line, 5);
    CHECK_STR(rows[2].failure, "");
    CHECK_STR(rows[3].failure, "claims file line 6: season is not a year");
    CHECK_STR(rows[4].failure, "claims file line 7: min_mowings is not a whole number 1..20");
    free(rows);
    remove(path);
}

static void test_refused_files(void)
{
    claims_csv_row *rows;
    size_t n;
    const char *path = write_file("header", "claim_id,parcel_id,season,window_start,window_end\n");
    CHECK(claims_csv_read(path, &rows, &n) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), path) && strstr(mc_error_message(), "min_mowings"),
              "%s", mc_error_message());
    remove(path);
    path = write_file("empty", "");
    CHECK(claims_csv_read(path, &rows, &n) == MC_ERR);
    CHECK(strstr(mc_error_message(), "empty") != NULL);
    remove(path);
    CHECK(claims_csv_read("/nonexistent/claims.csv", &rows, &n) == MC_ERR);
    CHECK(strstr(mc_error_message(), "/nonexistent/claims.csv: cannot open") != NULL);
}

int main(void)
{
    test_good_and_bad_lines();
    test_refused_files();
    return test_summary();
}
