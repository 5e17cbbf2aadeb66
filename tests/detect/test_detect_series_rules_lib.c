/* The series reader's observation rules (series_rules) in the library: which rows
 * count as observed, and that the readers without rules still ignore the columns. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "series.h"
#include "test.h"

static const char text[] = "parcel_id,date,ndvi,valid_share,cloud_score\n"
                           "A1,2024-06-01,0.81,1,1\n"     /* clear */
                           "A1,2024-06-02,0.40,0.3,1\n"   /* partly clouded */
                           "A1,2024-06-03,0.41,1,0.2\n"   /* the cloud mask says cloud */
                           "A1,2024-06-04,0.82,0.5,0.5\n" /* at the threshold: observed */
                           "A1,2024-06-05,0.83,,\n"       /* unknown shares: as ndvi says */
                           "A1,2024-06-06,,1,1\n";        /* no ndvi: not observed */

static int read_with(const char *csv, const series_rules *rules, series_set *s)
{
    FILE *in = fmemopen((void *)csv, strlen(csv), "r");
    int rc = series_read_rules(in, "rules.csv", rules, s);
    fclose(in);
    return rc;
}

static void test_rules_applied(void)
{
    series_rules rules = {.min_valid_share = 0.5};
    series_set s;
    REQUIRE(read_with(text, &rules, &s) == MC_OK);
    REQUIRE(s.n_obs == 6);
    const int observed[] = {1, 0, 0, 1, 1, 0};
    for (int i = 0; i < 6; i++)
        CHECK_MSG((!isnan(s.obs[i].ndvi)) == observed[i], "row %d", i + 2);
    CHECK_NEAR(s.obs[3].ndvi, 0.82, 1e-6);
    series_free(&s);

    rules.min_valid_share = 0.0; /* everything with an ndvi counts */
    REQUIRE(read_with(text, &rules, &s) == MC_OK);
    int n_observed = 0;
    for (size_t i = 0; i < s.n_obs; i++)
        n_observed += !isnan(s.obs[i].ndvi);
    CHECK_INT(n_observed, 5);
    series_free(&s);
}

/* Without rules (the store's own export) the columns are ignored, as before. */
static void test_no_rules(void)
{
    series_set s;
    REQUIRE(read_with(text, NULL, &s) == MC_OK);
    CHECK(!isnan(s.obs[1].ndvi) && !isnan(s.obs[2].ndvi));
    series_free(&s);
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    REQUIRE(series_read(in, "plain", &s) == MC_OK);
    fclose(in);
    CHECK(!isnan(s.obs[1].ndvi));
    series_free(&s);
}

static void test_bad_shares(void)
{
    series_rules rules = {.min_valid_share = 0.5};
    const char *bad = "parcel_id,date,ndvi,valid_share,cloud_score\n"
                      "A1,2024-06-01,0.81,nan,1\n"
                      "A1,2024-06-02,0.80,1,-0.1\n"
                      "A1,2024-06-03,0.80,0,5,1\n";
    series_set s;
    CHECK(read_with(bad, &rules, &s) == MC_ERR);
    const char *msg = mc_error_message();
    CHECK_MSG(strstr(msg, "rules.csv: 3 bad lines") &&
                  strstr(msg, "line 2: bad valid_share 'nan' (want a number in [0, 1] or empty)") &&
                  strstr(msg, "line 3: bad cloud_score '-0.1'") &&
                  strstr(msg, "line 4: 6 fields where the header has 5"),
              "%s", msg);
    series_free(&s);
}

int main(void)
{
    test_rules_applied();
    test_no_rules();
    test_bad_shares();
    return test_summary();
}
