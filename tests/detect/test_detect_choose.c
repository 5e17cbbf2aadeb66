/* Choosing events among a parcel's candidates: strongest first, at least
 * min_separation_days apart. detect_choose_events must give exactly what the plain
 * definition gives (checked against a straightforward reference on random candidate
 * sets), and stay fast when one parcel has decades of daily observations. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect.h"
#include "error.h"
#include "test.h"

/* The definition, round by round: among the candidates at or above the event threshold
 * that are neither chosen nor within min_separation_days of a chosen one, the one with
 * the largest p (the lowest index on ties) is chosen; those blocked are marked 2. */
static void reference_choose(const detect_candidate *cand, size_t n, const detect_model *m,
                             unsigned char *chosen)
{
    memset(chosen, 0, n);
    for (;;) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (chosen[i] || cand[i].p < m->event_threshold)
                continue;
            int blocked = 0;
            for (size_t j = 0; j < n && !blocked; j++)
                blocked = chosen[j] == 1 && abs(cand[j].day - cand[i].day) < m->min_separation_days;
            if (blocked)
                chosen[i] = 2;
            else if (best == n || cand[i].p > cand[best].p)
                best = i;
        }
        if (best == n)
            return;
        chosen[best] = 1;
    }
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* A random candidate set: days in order (as detect_candidates gives them), often
 * several on one day and many within a separation of each other; p drawn from a few
 * levels so that ties are common, or from a fine grid. */
static void random_candidates(detect_candidate *cand, size_t n, int coarse_p)
{
    int32_t day = 19000 + (int32_t)(rng() % 100);
    for (size_t i = 0; i < n; i++) {
        day += (int32_t)(rng() % 4 == 0 ? 0 : rng() % 25);
        memset(&cand[i], 0, sizeof cand[i]);
        cand[i].day = day;
        cand[i].p = coarse_p ? (float)(rng() % 5) / 4.0f : (float)(rng() % 10001) / 10000.0f;
    }
}

static void test_matches_reference(void)
{
    detect_model m;
    REQUIRE(detect_load_model(NULL, &m) == MC_OK);
    enum { MAX_N = 300, SETS = 3000 };
    detect_candidate cand[MAX_N];
    unsigned char want[MAX_N], got[MAX_N];
    static const int separations[] = {0, 1, 5, 30, 90, 366};
    static const double thresholds[] = {0.0, 0.25, 0.5, 0.97, 1.0};
    int differing = 0, with_events = 0, with_blocked = 0;
    for (int set = 0; set < SETS; set++) {
        size_t n = set % 10 == 0 ? rng() % MAX_N : rng() % 24;
        random_candidates(cand, n, set % 2);
        m.min_separation_days = separations[rng() % 6];
        m.event_threshold = thresholds[rng() % 5];
        if (set % 7 == 0) /* also out of day order: the definition does not need it */
            for (size_t i = 0; i + 1 < n; i += 2)
                cand[i].day += (int32_t)(rng() % 40);
        reference_choose(cand, n, &m, want);
        memset(got, 0xAA, sizeof got);
        REQUIRE(detect_choose_events(cand, n, &m, got) == MC_OK);
        int same = memcmp(want, got, n) == 0;
        differing += !same;
        if (!same && differing <= 3)
            fprintf(stderr, "set %d (n %zu, separation %d, threshold %g) differs\n", set, n,
                    m.min_separation_days, m.event_threshold);
        with_events += memchr(want, 1, n) != NULL;
        with_blocked += memchr(want, 2, n) != NULL;
    }
    CHECK_INT(differing, 0);
    /* the sets exercised both outcomes */
    CHECK(with_events > SETS / 2);
    CHECK(with_blocked > SETS / 4);
}

/* Daily NDVI for 200 seasons of one parcel, the worst case for choosing: a cut every
 * 31 days all year round (so thousands of events, each just far enough from the last),
 * with regrowth, and day to day noise of up to +-0.05 that adds many small drops. */
static char *daily_series(int first_year, int years)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    fprintf(out, "parcel_id,date,ndvi\n");
    int32_t from = date_days_from_civil(first_year, 1, 1);
    int32_t to = date_days_from_civil(first_year + years, 1, 1);
    for (int32_t d = from; d < to; d++) {
        double v = fmin(0.35 + 0.02 * ((d - from) % 31), 0.85);
        v += ((double)(rng() % 1001) / 1000.0 - 0.5) * 0.1;
        char date[11];
        date_format(d, date);
        fprintf(out, "P1,%s,%.4f\n", date, v);
    }
    fclose(out);
    return buf;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static void test_decades_of_daily_data(void)
{
    detect_model m;
    REQUIRE(detect_load_model(NULL, &m) == MC_OK);
    m.event_threshold = 0.0; /* every candidate may become an event: the most work */
    char *text = daily_series(1900, 200);
    FILE *in = fmemopen(text, strlen(text), "r");
    series_set s;
    REQUIRE(series_read(in, "daily", &s) == MC_OK);
    fclose(in);
    REQUIRE(s.n_parcels == 1);
    /* How many candidates this parcel gives: the work choose_events faces. */
    detect_work w = {0};
    detect_candidate *cand;
    size_t n_cand, n_eligible = 0;
    REQUIRE(detect_candidates(s.obs, s.n_obs, &m, &m, &w, &cand, &n_cand) == MC_OK);
    for (size_t i = 0; i < n_cand; i++)
        n_eligible += cand[i].p >= m.event_threshold;
    detect_work_free(&w);
    printf("200 seasons, %zu daily observations: %zu candidates, %zu at or above the event "
           "threshold\n", s.n_obs, n_cand, n_eligible);
    CHECK(n_eligible > 2000);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    detect_result r;
    REQUIRE(detect_run(&s, &m, &r) == MC_OK);
    double took = seconds_since(&t0);
    printf("detect: %zu seasons, %zu events in %.3f s\n", r.n_summaries, r.n_events, took);
    CHECK_INT(r.n_summaries, 200);
    CHECK_MSG(took < 0.5, "detection took %.3f s", took);
    detect_result_free(&r);
    series_free(&s);
    free(text);
}

int main(void)
{
    test_matches_reference();
    test_decades_of_daily_data();
    return test_summary();
}
