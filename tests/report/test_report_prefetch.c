/* The flagged claims' details read at once (store_report_prefetch_load) are those read
 * claim by claim: for every flagged claim of the fixture (report_test.h, with
 * fixture_series and a 2025 date of P-2), with one season and with all seasons, the
 * detail served from memory (window, tile, P(mowed), detector reason, events, points)
 * equals the detail read from the database, bit for bit (clear and clouded dates, a
 * parcel without observations, a parcel id with markup, a claim without a summary).
 * Once loaded they are served from memory (observations and events deleted afterwards do
 * not change them), and a claim they do not hold, or another filter, is read from the
 * database. */
#include "report_test.h"

static const store_series_filter observed = {.min_valid_pixels = 1, .min_valid_share = 0.5};

/* A 2025 scene of P-2 (the claim C-6), clear, NDVI 0.75; and more tiles: P-1 as much on
 * 35VLA as on 35VLF (the first by name wins), P-2 mostly on 35VKF, and P-1 mostly on
 * 35VMF in an older parcel set (which does not count). */
static void fixture_extra(void)
{
    PGconn *c = db_connect();
    sql(c, "INSERT INTO tiles SELECT t, 32635, '{500000,10,0,6600000,0,-10}', 10980, 10980"
           " FROM unnest(ARRAY['35VLA', '35VKF', '35VMF']) t");
    sql(c, "INSERT INTO parcel_sets VALUES ('h0', '/old.gpkg', 'parcel_id', 1, false)");
    sql(c, "INSERT INTO parcel_tiles VALUES ('h1', '35VLA', 'P-1', 100), ('h1', '35VKF', 'P-2',"
           " 150), ('h0', '35VMF', 'P-1', 500)");
    sql(c, "INSERT INTO scenes (scene_id, tile_id, acquired_on, satellite, reflectance_offset_dn,"
           " path, set_hash) VALUES ('S2A_35VLF_20250605_0_L2A', '35VLF', '2025-06-05', 'S2A',"
           " -1000, '/scenes', 'h1')");
    sql(c, "SELECT observation_parts_partition(date '2025-06-05', '35VLF')");
    sql(c, "INSERT INTO observation_parts VALUES ('S2A_35VLF_20250605_0_L2A', 'P-2', 100, 100,"
           " 100, 750000, 5625000000, '35VLF', '2025-06-05')");
    PQfinish(c);
}

/* Doubles compared bit for bit. */
static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int same_events(const store_report_detail *a, const store_report_detail *b)
{
    int same = a->n_events == b->n_events;
    for (size_t k = 0; same && k < a->n_events; k++) {
        const store_event_row *x = &a->events[k], *y = &b->events[k];
        same = x->day_start == y->day_start && x->day_end == y->day_end && x->day == y->day &&
               same_double(x->confidence, y->confidence);
    }
    return same;
}

static int same_points(const store_report_detail *a, const store_report_detail *b)
{
    int same = a->n_points == b->n_points;
    for (size_t k = 0; same && k < a->n_points; k++) {
        const store_report_point *x = &a->points[k], *y = &b->points[k];
        same = x->day == y->day && x->observed == y->observed && same_double(x->ndvi, y->ndvi);
    }
    return same;
}

static int same_detail(const store_report_detail *a, const store_report_detail *b)
{
    return a->window_start == b->window_start && a->window_end == b->window_end &&
           strcmp(a->tile_id, b->tile_id) == 0 && a->has_summary == b->has_summary &&
           same_double(a->window_confidence, b->window_confidence) &&
           strcmp(a->detector_reason, b->detector_reason) == 0 && same_events(a, b) &&
           same_points(a, b);
}

static void load(store *st, const store_flagged *f, const store_series_filter *filter,
                 const store_report_prefetch *points, store_report_detail *d)
{
    int rc = store_report_detail_load(st, f, filter, points, d);
    if (rc != MC_OK)
        fprintf(stderr, "claim %s: %s\n", f->claim_id, mc_error_message());
    REQUIRE(rc == MC_OK);
}

/* Every flagged claim of season (0: all): the held detail equals the database's. Returns
 * the number of points and events compared. */
static size_t check_same(store *st, int season)
{
    store_flagged *rows;
    size_t n;
    REQUIRE(store_flagged_load(st, season, &rows, &n) == MC_OK);
    CHECK_INT((long)n, fixture_flagged_count(season));
    store_report_prefetch *points;
    REQUIRE(store_report_prefetch_load(st, season, &observed, &points) == MC_OK);
    size_t compared = 0;
    for (size_t i = 0; i < n; i++) {
        store_report_detail from_db, held;
        load(st, &rows[i], &observed, NULL, &from_db);
        load(st, &rows[i], &observed, points, &held);
        if (!same_detail(&from_db, &held))
            fprintf(stderr, "claim %s (season %d): %zu points, %zu events held; %zu, %zu in"
                    " the database\n", rows[i].claim_id, season, held.n_points, held.n_events,
                    from_db.n_points, from_db.n_events);
        CHECK(same_detail(&from_db, &held));
        compared += from_db.n_points + from_db.n_events;
        store_report_detail_free(&from_db);
        store_report_detail_free(&held);
    }
    store_report_prefetch_free(points);
    store_flagged_free(rows, n);
    return compared;
}

static const store_flagged *flagged_claim(store_flagged *rows, size_t n, const char *claim)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].claim_id, claim) == 0)
            return &rows[i];
    REQUIRE(!"claim not flagged");
    return NULL;
}

/* Held points are served from memory; what they do not hold comes from the database. */
static void check_held(store *st)
{
    store_flagged *rows;
    size_t n;
    REQUIRE(store_flagged_load(st, 0, &rows, &n) == MC_OK);
    store_report_prefetch *points;
    REQUIRE(store_report_prefetch_load(st, 2026, &observed, &points) == MC_OK);
    PGconn *c = db_connect();
    sql(c, "DELETE FROM observation_parts WHERE parcel_id = 'P-1' AND acquired_on = '2026-06-01'");
    sql(c, "DELETE FROM events WHERE parcel_id = 'P-2'");
    PQfinish(c);

    store_report_detail held, from_db;
    const store_flagged *c2 = flagged_claim(rows, n, "C-2");
    load(st, c2, &observed, points, &held);
    load(st, c2, &observed, NULL, &from_db);
    CHECK_INT((long)held.n_events, 1);
    CHECK_INT((long)from_db.n_events, 0);
    CHECK(held.n_events == 1 && held.events[0].confidence > 0.90 &&
          held.events[0].confidence < 0.92);
    CHECK(held.has_summary && held.window_confidence > 0.90);
    CHECK(from_db.has_summary && from_db.window_confidence < 0.01);
    store_report_detail_free(&held);
    store_report_detail_free(&from_db);

    const store_flagged *c1 = flagged_claim(rows, n, "C-1");
    load(st, c1, &observed, points, &held);
    CHECK_STR(held.tile_id, "35VLA");
    store_report_detail_free(&held);
    load(st, c2, &observed, points, &held);
    CHECK_STR(held.tile_id, "35VKF");
    store_report_detail_free(&held);
    load(st, c1, &observed, points, &held);
    load(st, c1, &observed, NULL, &from_db);
    CHECK_INT((long)held.n_points, 6);
    CHECK_INT((long)from_db.n_points, 5);
    CHECK_INT(held.points[0].observed, 1);
    CHECK(held.points[0].ndvi > 0.59 && held.points[0].ndvi < 0.61);
    store_report_detail_free(&held);
    store_report_detail_free(&from_db);

    /* another filter: every date has 100 valid pixels of 100, so none is clear here */
    store_series_filter strict = {.min_valid_pixels = 101, .min_valid_share = 0.5};
    load(st, c1, &strict, points, &held);
    CHECK_INT((long)held.n_points, 5);
    for (size_t k = 0; k < held.n_points; k++)
        CHECK_INT(held.points[k].observed, 0);
    store_report_detail_free(&held);

    /* a claim of 2025, not held by the 2026 points */
    load(st, flagged_claim(rows, n, "C-6"), &observed, points, &held);
    CHECK_INT((long)held.n_points, 1);
    CHECK(held.n_points == 1 && held.points[0].ndvi > 0.74 && held.points[0].ndvi < 0.76);
    store_report_detail_free(&held);

    store_report_prefetch_free(points);
    store_flagged_free(rows, n);
}

int main(void)
{
    db_create("report_prefetch");
    char dir[] = "/tmp/mowcheck-report-prefetch-XXXXXX", parcels[100];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", dir);
    fixture_parcels(parcels);
    store *st = db_store();
    fixture_store(st, parcels);
    fixture_series();
    fixture_extra();

    /* C-1, C-5 (P-1: 4 clear, 2 clouded dates), C-2 (P-2: 6 clear, an event), C-3 and C-7
     * none */
    CHECK_INT((long)check_same(st, 2026), 6 + 6 + 6 + 1);
    CHECK_INT((long)check_same(st, 0), 6 + 6 + 6 + 1 + 1);
    check_held(st);

    store_close(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    db_drop();
    return test_summary();
}
