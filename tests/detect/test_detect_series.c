/* Hand-made NDVI series with known answers, run through the series reader and
 * the shipped default model. Observations every 5 days, 1 April .. 31 October 2024. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "error.h"
#include "test.h"

static detect_model model;

static int32_t D(int m, int d) { return date_days_from_civil(2024, m, d); }

typedef double (*ndvi_fn)(int32_t day);

/* The series CSV text of one parcel; ndvi NAN writes an empty field (cloudy date). */
static char *make_series(const char *id, ndvi_fn f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    fprintf(out, "parcel_id,date,ndvi,valid_share,other\n");
    for (int32_t d = D(4, 1); d <= D(10, 31); d += 5) {
        char date[11];
        date_format(d, date);
        double v = f(d);
        if (isnan(v))
            fprintf(out, "%s,%s,,0,x\n", id, date);
        else
            fprintf(out, "%s,%s,%.4f,1,x\n", id, date, v);
    }
    fclose(out);
    return buf;
}

static int run(const char *text, series_set *s, detect_result *r)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    int rc = detect_stream(in, "test", &model, s, r);
    fclose(in);
    return rc;
}

/* Regrowth after a cut: from 0.40 back towards 0.82 at 0.01/day. */
static double regrow(int32_t since) { return fmin(0.40 + 0.01 * since, 0.82); }

static int32_t cut1, cut2;
static double one_cut(int32_t d) { return d < cut1 ? 0.85 : regrow(d - cut1); }
static double two_cuts(int32_t d)
{
    return d < cut1 ? 0.85 : d < cut2 ? regrow(d - cut1) : regrow(d - cut2);
}
static double cloud_dip(int32_t d) { return d == D(7, 5) ? 0.30 : 0.85; }
static double grazing(int32_t d) { return d < D(6, 5) ? 0.85 : fmax(0.85 - 0.004 * (d - D(6, 5)), 0.35); }
static double harvest(int32_t d) { return d < D(7, 15) ? 0.85 : 0.18; }
static double gap_cut(int32_t d)
{
    if (d > D(5, 31) && d < D(7, 12))
        return NAN; /* six weeks of cloud */
    return d < D(6, 20) ? 0.85 : regrow(d - D(6, 20));
}
static double all_cloudy(int32_t d) { (void)d; return NAN; }

/* The first observation day on or after d (the grid starts 1 April, step 5). */
static int32_t obs_on_or_after(int32_t d)
{
    int32_t k = (d - D(4, 1) + 4) / 5;
    return D(4, 1) + 5 * k;
}

static int32_t expected_date(int32_t a, int32_t b)
{
    return a + (int32_t)lround(model.date_fraction * (b - a));
}

static void test_one_cut(void)
{
    cut1 = D(6, 17); /* cut between the observations of 15 and 20 June */
    char *t = make_series("P1", one_cut);
    series_set s;
    detect_result r;
    REQUIRE(run(t, &s, &r) == MC_OK);
    CHECK_INT(s.n_parcels, 1);
    CHECK_INT(r.n_events, 1);
    if (r.n_events == 1) {
        int32_t b = obs_on_or_after(cut1);
        CHECK_INT(r.events[0].day_start, b - 5);
        CHECK_INT(r.events[0].day_end, b);
        CHECK_INT(r.events[0].day, expected_date(b - 5, b));
        CHECK_STR(r.events[0].parcel_id, "P1");
        CHECK_INT(r.events[0].season, 2024);
        CHECK(r.events[0].confidence >= model.event_threshold && r.events[0].confidence <= 1);
    }
    REQUIRE(r.n_summaries == 1);
    /* 1 April .. 31 October every 5 days: 214 days / 5 -> 43 dates, all clear. */
    CHECK_INT(r.summaries[0].n_obs, 43);
    CHECK_INT(r.summaries[0].n_clear_obs, 43);
    CHECK_INT(r.summaries[0].n_events, 1);
    CHECK(r.summaries[0].call != DETECT_CALL_NOT_MOWED);
    CHECK_NEAR(r.summaries[0].mowed_probability, r.events[0].confidence, 1e-6);
    detect_result_free(&r);
    series_free(&s);
    free(t);
}

static void test_two_cuts(void)
{
    cut1 = D(6, 7);
    cut2 = D(8, 12);
    char *t = make_series("P2", two_cuts);
    series_set s;
    detect_result r;
    REQUIRE(run(t, &s, &r) == MC_OK);
    CHECK_INT(r.n_events, 2);
    if (r.n_events == 2) {
        CHECK_INT(r.events[0].day_end, obs_on_or_after(cut1));
        CHECK_INT(r.events[1].day_end, obs_on_or_after(cut2));
        CHECK(r.events[0].day < r.events[1].day);
    }
    CHECK_INT(r.summaries[0].n_events, 2);
    detect_result_free(&r);
    series_free(&s);
    free(t);
}

/* Series that must give no event at all; the summary must not claim "not mowed"
 * unless nothing plausible is there. */
static void expect_no_event(const char *name, ndvi_fn f)
{
    char *t = make_series(name, f);
    series_set s;
    detect_result r;
    REQUIRE(run(t, &s, &r) == MC_OK);
    CHECK_MSG(r.n_events == 0, "%s: %zu events, want none", name, r.n_events);
    CHECK_INT(r.n_summaries, 1);
    CHECK(r.summaries[0].call != DETECT_CALL_MOWED);
    CHECK(r.summaries[0].mowed_probability < model.event_threshold);
    detect_result_free(&r);
    series_free(&s);
    free(t);
}

/* What real series hold that is no mowing, as issue cases: none may be approved
 * automatically (no event reaches the approval threshold). */
static double stepwise_grazing(int32_t d)
{
    int steps = d < D(6, 5) ? 0 : 1 + (d - D(6, 5)) / 20;
    return fmax(0.85 - 0.12 * steps, 0.45);
}
static double rotational_dips(int32_t d)
{
    int32_t into = (d - D(5, 20)) % 25;
    return d >= D(5, 20) && into < 10 ? 0.72 : 0.85;
}
static double drought_slide(int32_t d)
{
    if (d < D(6, 1))
        return 0.86;
    if (d < D(7, 12))
        return 0.86 - 0.40 * (d - D(6, 1)) / 41.0;
    return fmin(0.46 + 0.34 * (d - D(7, 12)) / 42.0, 0.80);
}
static double haze(int32_t d) { return d == D(7, 5) || d == D(7, 10) ? 0.70 : 0.85; }
static double ploughing(int32_t d) { return d < D(9, 2) ? 0.82 : 0.15; }

static void expect_no_approval(const char *name, ndvi_fn f)
{
    char *t = make_series(name, f);
    series_set s;
    detect_result r;
    REQUIRE(run(t, &s, &r) == MC_OK);
    REQUIRE(r.n_summaries == 1);
    CHECK_MSG(r.summaries[0].call != DETECT_CALL_MOWED &&
                  r.summaries[0].top_event_confidence < model.approval_threshold,
              "%s: approved automatically (top event %.3f, threshold %.3f)", name,
              r.summaries[0].top_event_confidence, model.approval_threshold);
    printf("%s: %zu events, top confidence %.3f\n", name, r.n_events,
           r.summaries[0].top_event_confidence);
    detect_result_free(&r);
    series_free(&s);
    free(t);
}

static void test_gap(void)
{
    char *t = make_series("P6", gap_cut);
    series_set s;
    detect_result r;
    REQUIRE(run(t, &s, &r) == MC_OK);
    REQUIRE(r.n_summaries == 1);
    /* Clear on 31 May, then cloudy until 15 July: 45 days without a clear observation. */
    int32_t last = D(5, 31), next = obs_on_or_after(D(7, 12));
    CHECK_INT(r.summaries[0].max_gap_days, next - last);
    CHECK(r.summaries[0].n_clear_obs < r.summaries[0].n_obs);
    CHECK(!r.summaries[0].well_covered);
    CHECK(r.summaries[0].call != DETECT_CALL_NOT_MOWED);
    if (r.n_events == 0)
        CHECK_INT(r.summaries[0].reason, DETECT_REASON_COVERAGE_GAP);
    for (size_t i = 0; i < r.n_events; i++) { /* if found, the interval spans the gap */
        CHECK_INT(r.events[i].day_start, last);
        CHECK_INT(r.events[i].day_end, next);
    }
    detect_result_free(&r);
    series_free(&s);
    free(t);
}

static void test_empty(void)
{
    series_set s;
    detect_result r;
    REQUIRE(run("parcel_id,date,ndvi\n", &s, &r) == MC_OK);
    CHECK_INT(s.n_parcels, 0);
    CHECK_INT(r.n_events, 0);
    CHECK_INT(r.n_summaries, 0);
    detect_result_free(&r);
    series_free(&s);

    char *t = make_series("P7", all_cloudy);
    REQUIRE(run(t, &s, &r) == MC_OK);
    CHECK_INT(r.n_events, 0);
    REQUIRE(r.n_summaries == 1);
    CHECK_INT(r.summaries[0].n_clear_obs, 0);
    CHECK_INT(r.summaries[0].sufficient, 0);
    CHECK_INT(r.summaries[0].reason, DETECT_REASON_NO_OBSERVATIONS);
    detect_result_free(&r);
    series_free(&s);
    free(t);

    /* No header at all is an error. */
    CHECK(run("", &s, &r) == MC_ERR);
    CHECK(strstr(mc_error_message(), "empty") != NULL);
}

static void test_garbage(void)
{
    const char *text = "parcel_id,date,ndvi\n"
                       "G1,2024-06-01,0.8\n"
                       "G1,2024-13-01,0.8\n"  /* line 3: bad month */
                       "G1,2024-06-11,NaN\n"  /* line 4 */
                       "G1,2024-06-16,abc\n"  /* line 5 */
                       "G1,2024-06-21,0.3x\n" /* line 6 */
                       "G1,2024-06-26,1.7\n"  /* line 7: out of range */
                       "G1,2024-06-31,0.4\n"  /* line 8: no 31 June */
                       "G1\n"                 /* line 9 */
                       "G1,2024-06-01,0.7\n"; /* line 10: duplicate of line 2 */
    series_set s;
    detect_result r;
    CHECK(run(text, &s, &r) == MC_ERR);
    const char *msg = mc_error_message();
    CHECK(strstr(msg, "series test") != NULL);
    CHECK(strstr(msg, "8 bad lines") != NULL);
    const char *lines[] = {"line 3:", "line 4:", "line 5:", "line 6:", "line 7:",
                           "line 8:", "line 9:", "line 10:"};
    for (int i = 0; i < 8; i++)
        CHECK_MSG(strstr(msg, lines[i]) != NULL, "'%s' missing from: %s", lines[i], msg);
    CHECK(strstr(msg, "line 2:") == NULL);
    CHECK_INT(s.n_parcels, 0); /* nothing detected from a refused file */
    CHECK_INT(r.n_events, 0);
    CHECK(run("id,date,ndvi\n", &s, &r) == MC_ERR);
    CHECK(strstr(mc_error_message(), "line 1") != NULL);
}

static void test_dates(void)
{
    int32_t d;
    CHECK(date_parse("1970-01-01", &d) == MC_OK && d == 0);
    CHECK(date_parse("2024-02-29", &d) == MC_OK && d == 19782);
    CHECK(date_parse("2023-02-29", &d) == MC_ERR);
    CHECK(date_parse("2024-1-01", &d) == MC_ERR);
    CHECK_INT(date_doy(D(12, 31)), 366);
    CHECK_INT(date_doy(date_days_from_civil(2023, 3, 16)), 75);
    char out[11];
    date_format(19782, out);
    CHECK_STR(out, "2024-02-29");
}

/* Optional nir/swir1 columns give NDMI = (nir - swir1) / (nir + swir1); an unusable
 * value leaves it unknown without refusing the line; no columns, no NDMI. */
static void test_ndmi_columns(void)
{
    const char *text = "parcel_id,date,ndvi,nir,swir1\n"
                       "N1,2024-06-01,0.8,0.4,0.2\n"
                       "N1,2024-06-06,0.7,abc,0.2\n"
                       "N1,2024-06-11,,0.4,0.2\n"
                       "N1,2024-06-16,0.7,,\n";
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    series_set s;
    REQUIRE(series_read(in, "ndmi", &s) == MC_OK);
    fclose(in);
    REQUIRE(s.n_obs == 4);
    CHECK_NEAR(s.obs[0].ndmi, 0.2 / 0.6, 1e-6);
    CHECK(isnan(s.obs[1].ndmi));
    CHECK(isnan(s.obs[2].ndmi)); /* no clear NDVI: nothing observed */
    CHECK(isnan(s.obs[3].ndmi));
    series_free(&s);
}

/* mowcheck's own export carries NDMI in an ndmi column (from B11): it is taken as
 * given and wins over nir/swir1; an empty or unusable value falls back to nir/swir1,
 * else NDMI is unknown; the line is never refused for it. */
static void test_ndmi_column(void)
{
    const char *text = "parcel_id,date,ndvi,valid_share,n_valid,n_total,ndvi_std,n_seen,ndmi\n"
                       "E1,2024-06-01,0.8,1,36,36,0.01,36,0.3125\n"
                       "E1,2024-06-06,0.7,1,36,36,0.01,36,\n"
                       "E1,2024-06-11,0.7,1,36,36,0.01,36,1.5\n"
                       "E1,2024-06-16,,0,0,36,,36,\n";
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    series_set s;
    REQUIRE(series_read(in, "export", &s) == MC_OK);
    fclose(in);
    REQUIRE(s.n_obs == 4);
    CHECK_NEAR(s.obs[0].ndmi, 0.3125, 1e-7);
    CHECK(isnan(s.obs[1].ndmi)); /* the scene had no B11 */
    CHECK(isnan(s.obs[2].ndmi)); /* out of [-1, 1]: unknown, not an error */
    CHECK(isnan(s.obs[3].ndmi));
    series_free(&s);

    const char *both = "parcel_id,date,ndvi,ndmi,nir,swir1\n"
                       "F1,2024-06-01,0.8,-0.25,0.4,0.2\n"
                       "F1,2024-06-06,0.8,,0.4,0.2\n";
    in = fmemopen((void *)both, strlen(both), "r");
    REQUIRE(series_read(in, "both", &s) == MC_OK);
    fclose(in);
    REQUIRE(s.n_obs == 2);
    CHECK_NEAR(s.obs[0].ndmi, -0.25, 1e-7);
    CHECK_NEAR(s.obs[1].ndmi, 0.2 / 0.6, 1e-6);
    series_free(&s);
}

/* The series CSV with columns appended: header_cells after the header, cell(row) after
 * data row `row` (0 = the first). */
static char *with_columns(const char *plain, const char *header_cells,
                          void (*cell)(int row, char *out))
{
    char *out = malloc(2 * strlen(plain) + 4096), *o = out;
    int row = -1; /* the header */
    for (const char *p = plain; *p; row++) {
        const char *nl = strchr(p, '\n');
        memcpy(o, p, (size_t)(nl - p));
        o += nl - p;
        if (row < 0)
            strcpy(o, header_cells);
        else
            cell(row, o);
        o += strlen(o);
        *o++ = '\n';
        p = nl + 1;
    }
    *o = '\0';
    return out;
}

static double ndmi_level;

/* nir, swir1 with (nir - swir1) / (nir + swir1) = ndmi_level, nir + swir1 = 0.6 */
static void band_cells(int row, char *out)
{
    (void)row;
    sprintf(out, ",%.9f,%.9f", 0.3 * (1 + ndmi_level), 0.3 * (1 - ndmi_level));
}

static char *with_bands(const char *plain) { return with_columns(plain, ",nir,swir1", band_cells); }

/* The one-cut series with nir/swir1 columns whose NDMI equals the season model's
 * training mean gives the same events and season probability as without them
 * (unknown NDMI enters at the mean), and other NDMI values move the probability. */
static void test_ndmi_degrades(void)
{
    cut1 = D(6, 17);
    char *plain = make_series("P8", one_cut);
    series_set s0, s1, s2;
    detect_result r0, r1, r2;
    REQUIRE(run(plain, &s0, &r0) == MC_OK);
    ndmi_level = model.season_mean[DETECT_N_SEASON_FEATURES - 1];
    char *at_mean = with_bands(plain);
    REQUIRE(run(at_mean, &s1, &r1) == MC_OK);
    ndmi_level = -0.3; /* very dry all season: less likely mowed */
    char *dry = with_bands(plain);
    REQUIRE(run(dry, &s2, &r2) == MC_OK);
    REQUIRE(r0.n_summaries == 1 && r1.n_summaries == 1 && r2.n_summaries == 1);
    CHECK(isnan(r0.summaries[0].season_x[DETECT_N_SEASON_FEATURES - 1]));
    CHECK_INT(r1.n_events, r0.n_events);
    CHECK_NEAR(r1.summaries[0].season_probability, r0.summaries[0].season_probability, 1e-5);
    if (model.season_weight[DETECT_N_SEASON_FEATURES - 1] > 0)
        CHECK(r2.summaries[0].season_probability < r0.summaries[0].season_probability);
    CHECK(r0.summaries[0].season_probability > 0.5);
    /* NDMI moves the season figure only: the call follows the events, with or without it. */
    CHECK_INT(r0.summaries[0].call, r1.summaries[0].call);
    CHECK_INT(r0.summaries[0].call, r2.summaries[0].call);
    detect_result_free(&r0);
    detect_result_free(&r1);
    detect_result_free(&r2);
    series_free(&s0);
    series_free(&s1);
    series_free(&s2);
    free(plain);
    free(at_mean);
    free(dry);
}

/* NDMI on only some dates (B11 from mid-season on): the season's NDMI counts as known
 * only where at least two thirds of its clear dates have it. */
static int ndmi_first_row;

static void ndmi_cell(int row, char *out) { sprintf(out, row >= ndmi_first_row ? ",0.2" : ","); }

static char *with_ndmi_from(const char *plain, int first_row)
{
    ndmi_first_row = first_row;
    return with_columns(plain, ",ndmi", ndmi_cell);
}

static void test_ndmi_partial_season(void)
{
    cut1 = D(6, 17);
    char *plain = make_series("P10", one_cut);
    int rows = 0;
    for (const char *p = plain; (p = strchr(p, '\n')) != NULL; p++)
        rows++;
    rows--; /* the header */
    char *all = with_ndmi_from(plain, 0), *late = with_ndmi_from(plain, rows / 2);
    series_set s1, s2;
    detect_result r1, r2;
    REQUIRE(run(all, &s1, &r1) == MC_OK);
    REQUIRE(run(late, &s2, &r2) == MC_OK);
    REQUIRE(r1.n_summaries == 1 && r2.n_summaries == 1);
    CHECK_NEAR(r1.summaries[0].season_x[DETECT_N_SEASON_FEATURES - 1], 0.2, 1e-6);
    CHECK(isnan(r2.summaries[0].season_x[DETECT_N_SEASON_FEATURES - 1]));
    CHECK_INT(r2.summaries[0].call, r1.summaries[0].call); /* NDMI never holds a call back */
    detect_result_free(&r1);
    detect_result_free(&r2);
    series_free(&s1);
    series_free(&s2);
    free(plain);
    free(all);
    free(late);
}

/* The call follows the most confident event and the approval threshold alone: a
 * season model that finds the season unlikely mowed holds no approval back. */
static void test_call_follows_events(void)
{
    cut1 = D(6, 17);
    char *plain = make_series("P9", one_cut);
    detect_model shipped = model;
    series_set s0, s1;
    detect_result r0, r1;
    REQUIRE(run(plain, &s0, &r0) == MC_OK);
    REQUIRE(r0.n_summaries == 1 && r0.n_events == 1);
    float top = r0.summaries[0].top_event_confidence;
    CHECK_NEAR(top, r0.events[0].confidence, 0);
    model.approval_threshold = top; /* the cut just reaches it */
    model.season_bias -= 50;        /* and the season model calls the season unmown */
    model_prepare(&model);
    REQUIRE(run(plain, &s1, &r1) == MC_OK);
    CHECK(r1.summaries[0].season_probability < 0.01);
    CHECK_INT(r1.summaries[0].call, DETECT_CALL_MOWED);
    CHECK_INT(r1.summaries[0].reason, DETECT_REASON_CONFIDENT_EVENT);
    CHECK_INT(r1.summaries[0].sufficient, 1);
    detect_result_free(&r1);
    series_free(&s1);
    model.approval_threshold = nextafter(top, 2.0); /* just above it: a person decides */
    REQUIRE(run(plain, &s1, &r1) == MC_OK);
    CHECK(r1.summaries[0].call != DETECT_CALL_MOWED);
    CHECK_INT(r1.summaries[0].reason, DETECT_REASON_UNCERTAIN_EVENT);
    model = shipped;
    detect_result_free(&r0);
    detect_result_free(&r1);
    series_free(&s0);
    series_free(&s1);
    free(plain);
}

int main(void)
{
    char path[4096];
    const char *src = getenv("MOWCHECK_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/schemas/models/mowing-default.model",
             src ? src : MOWCHECK_SOURCE_DIR);
    if (model_load(path, &model) != MC_OK) {
        fprintf(stderr, "%s\n", mc_error_message());
        return 1;
    }
    test_dates();
    test_one_cut();
    test_two_cuts();
    expect_no_event("cloud dip", cloud_dip);
    expect_no_event("grazing", grazing);
    expect_no_event("harvest", harvest);
    expect_no_approval("stepwise grazing", stepwise_grazing);
    expect_no_approval("rotational grazing dips", rotational_dips);
    expect_no_approval("drought slide and regrowth", drought_slide);
    expect_no_approval("haze on two dates", haze);
    expect_no_approval("ploughing", ploughing);
    test_gap();
    test_empty();
    test_garbage();
    test_ndmi_columns();
    test_ndmi_column();
    test_ndmi_partial_season();
    test_ndmi_degrades();
    test_call_follows_events();
    return test_summary();
}
