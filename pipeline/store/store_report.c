/* The reports' queries: the flagged claims (not_mowed, inconclusive) with their case,
 * the latest review and the reason, and where the current parcel file lives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_conn.h"

/* Same reason as the decision feed (store_export_decisions): a reviewed claim's reason
 * starts with the inspector's verdict. season 0: all seasons. */
static const char flagged_sql[] =
    "SELECT d.claim_id, d.parcel_id, d.season, d.outcome, coalesce(c.case_number, ''),"
    "  coalesce(lr.verdict, ''),"
    "  CASE WHEN lr.verdict IS NULL THEN d.reason_text"
    "       ELSE format('Reviewed by inspector %s on %s: %s. %s (Automatic: %s)',"
    "                   lr.inspector, to_char(lr.reviewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
    "                   replace(lr.verdict, '_', ' '), lr.note, d.reason_text) END,"
    "  coalesce(d.applicant, ''), coalesce(d.scheme, ''),"
    "  coalesce(to_char(d.window_start, 'YYYY-MM-DD'), ''),"
    "  coalesce(to_char(d.window_end, 'YYYY-MM-DD'), ''),"
    "  d.rule, d.decision_id, coalesce(lr.review_id, 0)"
    " FROM decisions d"
    " LEFT JOIN cases c ON c.claim_id = d.claim_id AND c.season = d.season"
    " LEFT JOIN LATERAL (SELECT review_id, verdict, inspector, note, reviewed_at FROM reviews r"
    "   WHERE r.case_number = c.case_number ORDER BY reviewed_at DESC, review_id DESC LIMIT 1) lr"
    "   ON true"
    " WHERE d.is_current AND d.claim_id IS NOT NULL"
    "   AND d.outcome IN ('not_mowed', 'inconclusive')"
    "   AND ($1::integer = 0 OR d.season = $1::integer)"
    " ORDER BY d.season, d.claim_id COLLATE \"C\", d.parcel_id COLLATE \"C\"";

static char *dup_or_null(const char *v, int *oom)
{
    char *c = strdup(v);
    if (!c)
        *oom = 1;
    return c;
}

int store_flagged_load(store *s, int season, store_flagged **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    char season_text[16];
    snprintf(season_text, sizeof season_text, "%d", season);
    const char *params[] = {season_text};
    PGresult *r = store_query(s, "loading the flagged claims", flagged_sql, 1, params);
    if (!r)
        return MC_ERR;
    size_t count = (size_t)PQntuples(r);
    store_flagged *v = calloc(count ? count : 1, sizeof *v);
    int oom = !v;
    for (size_t i = 0; !oom && i < count; i++) {
        int row = (int)i;
        v[i].claim_id = dup_or_null(PQgetvalue(r, row, 0), &oom);
        v[i].parcel_id = dup_or_null(PQgetvalue(r, row, 1), &oom);
        v[i].season = atoi(PQgetvalue(r, row, 2));
        v[i].outcome = dup_or_null(PQgetvalue(r, row, 3), &oom);
        v[i].case_number = dup_or_null(PQgetvalue(r, row, 4), &oom);
        v[i].reviewed = dup_or_null(PQgetvalue(r, row, 5), &oom);
        v[i].reason = dup_or_null(PQgetvalue(r, row, 6), &oom);
        v[i].applicant = dup_or_null(PQgetvalue(r, row, 7), &oom);
        v[i].scheme = dup_or_null(PQgetvalue(r, row, 8), &oom);
        v[i].window_start = dup_or_null(PQgetvalue(r, row, 9), &oom);
        v[i].window_end = dup_or_null(PQgetvalue(r, row, 10), &oom);
        v[i].rule = dup_or_null(PQgetvalue(r, row, 11), &oom);
        v[i].decision_id = strtoll(PQgetvalue(r, row, 12), NULL, 10);
        v[i].review_id = strtoll(PQgetvalue(r, row, 13), NULL, 10);
    }
    PQclear(r);
    if (oom) {
        store_flagged_free(v, count);
        return mc_fail("loading the flagged claims: out of memory");
    }
    *rows = v;
    *n = count;
    return MC_OK;
}

void store_flagged_free(store_flagged *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].claim_id);
        free(rows[i].parcel_id);
        free(rows[i].outcome);
        free(rows[i].case_number);
        free(rows[i].reviewed);
        free(rows[i].reason);
        free(rows[i].applicant);
        free(rows[i].scheme);
        free(rows[i].window_start);
        free(rows[i].window_end);
        free(rows[i].rule);
    }
    free(rows);
}

int store_parcel_source(store *s, char **path, char **id_field, int *found)
{
    *path = *id_field = NULL;
    *found = 0;
    PGresult *r = store_query(s, "finding the current parcel set",
                              "SELECT source_path, id_field FROM parcel_sets WHERE is_current",
                              0, NULL);
    if (!r)
        return MC_ERR;
    int rc = MC_OK;
    if (PQntuples(r) == 1) {
        *path = strdup(PQgetvalue(r, 0, 0));
        *id_field = strdup(PQgetvalue(r, 0, 1));
        if (!*path || !*id_field) {
            free(*path);
            free(*id_field);
            *path = *id_field = NULL;
            rc = mc_fail("finding the current parcel set: out of memory");
        } else {
            *found = 1;
        }
    }
    PQclear(r);
    return rc;
}

/* ---- the inspector report's detail of one claim ---- */

/* A claim's window, tile, summary and detector reason (head_from_row reads them): the
 * window, then the tile, then HEAD_SUMMARY, from HEAD_FROM. */
#define HEAD_WINDOW                                                                         \
    "coalesce(d.window_start - date '1970-01-01', -2147483648),"                            \
    " coalesce(d.window_end - date '1970-01-01', -2147483648)"

#define HEAD_SUMMARY                                                                        \
    " CASE WHEN ps.parcel_id IS NULL THEN NULL ELSE"                                        \
    "   coalesce((SELECT max(e.confidence) FROM events e"                                   \
    "              WHERE e.parcel_id = d.parcel_id AND e.season = d.season"                 \
    "                AND e.date_end >= d.window_start AND e.date_start <= d.window_end),"   \
    "            0) END,"                                                                   \
    " coalesce(ps.reason, '')"

#define HEAD_FROM                                                                           \
    " FROM decisions d"                                                                     \
    " LEFT JOIN parcel_seasons ps ON ps.parcel_id = d.parcel_id AND ps.season = d.season"

/* The order that puts first the tile holding most of a parcel. */
#define MAIN_TILE_KEYS "t.n_pixels DESC, t.tile_id COLLATE \"C\""

/* The current flagged decisions (flagged_sql's) of season $1 (0: all). */
#define FLAGGED_WHERE                                                                       \
    " WHERE d.is_current AND d.claim_id IS NOT NULL"                                        \
    "   AND d.outcome IN ('not_mowed', 'inconclusive')"                                     \
    "   AND ($1::integer = 0 OR d.season = $1::integer)"

static const char window_sql[] =
    "SELECT " HEAD_WINDOW ","
    " coalesce((SELECT t.tile_id FROM parcel_tiles t JOIN parcel_sets ps"
    "             ON ps.set_hash = t.set_hash AND ps.is_current"
    "           WHERE t.parcel_id = d.parcel_id ORDER BY " MAIN_TILE_KEYS " LIMIT 1), ''),"
    HEAD_SUMMARY HEAD_FROM " WHERE d.is_current AND d.claim_id = $1 AND d.season = $2";

static const char events_sql[] =
    "SELECT date_start - date '1970-01-01', date_end - date '1970-01-01',"
    "       date - date '1970-01-01', confidence"
    " FROM events WHERE parcel_id = $1 AND season = $2 ORDER BY date";

/* The observed test is store_export_series's. */
static const char points_sql[] =
    "SELECT acquired_on - date '1970-01-01',"
    "       (n_valid > 0 AND n_valid >= $3::bigint AND n_total > 0"
    "        AND n_valid >= n_total * $4::numeric), coalesce(ndvi, 0)"
    " FROM observations o"
    " WHERE o.parcel_id = $1"
    "   AND (o.set_hash = (SELECT set_hash FROM parcel_sets WHERE is_current)"
    "        OR NOT EXISTS (SELECT 1 FROM parcel_sets WHERE is_current))"
    "   AND acquired_on >= make_date($2::integer, 1, 1)"
    "   AND acquired_on < make_date($2::integer + 1, 1, 1)"
    " ORDER BY acquired_on";

/* Reads a head's five columns (window_sql's) from column col of a row on. */
static int head_from_row(const PGresult *r, int row, int col, const char *claim_id,
                         store_report_detail *d)
{
    d->window_start = atoi(PQgetvalue(r, row, col));
    d->window_end = atoi(PQgetvalue(r, row, col + 1));
    d->tile_id = strdup(PQgetvalue(r, row, col + 2));
    d->has_summary = !PQgetisnull(r, row, col + 3);
    d->window_confidence = d->has_summary ? atof(PQgetvalue(r, row, col + 3)) : 0;
    d->detector_reason = strdup(PQgetvalue(r, row, col + 4));
    if (!d->tile_id || !d->detector_reason)
        return mc_fail("claim %s: out of memory", claim_id);
    return MC_OK;
}

static int detail_head(store *s, const store_flagged *f, const char *season,
                       store_report_detail *d)
{
    const char *p[] = {f->claim_id, season};
    PGresult *r = store_query(s, "reading the claim's window", window_sql, 2, p);
    if (!r)
        return MC_ERR;
    int ok = PQntuples(r) == 1;
    int rc = ok ? head_from_row(r, 0, 0, f->claim_id, d) : MC_OK;
    PQclear(r);
    if (!ok)
        return mc_fail("claim %s, season %s: no current decision", f->claim_id, season);
    return rc;
}

static int detail_events(store *s, const store_flagged *f, const char *season,
                         store_report_detail *d)
{
    const char *p[] = {f->parcel_id, season};
    PGresult *r = store_query(s, "reading the parcel's events", events_sql, 2, p);
    if (!r)
        return MC_ERR;
    size_t n = (size_t)PQntuples(r);
    d->events = calloc(n ? n : 1, sizeof *d->events);
    for (size_t i = 0; d->events && i < n; i++) {
        d->events[i].day_start = atoi(PQgetvalue(r, (int)i, 0));
        d->events[i].day_end = atoi(PQgetvalue(r, (int)i, 1));
        d->events[i].day = atoi(PQgetvalue(r, (int)i, 2));
        d->events[i].confidence = atof(PQgetvalue(r, (int)i, 3));
    }
    d->n_events = d->events ? n : 0;
    PQclear(r);
    return d->events ? MC_OK : mc_fail("parcel %s: out of memory", f->parcel_id);
}

static int detail_points(store *s, const store_flagged *f, const char *season,
                         const store_series_filter *observed, store_report_detail *d)
{
    char min_px[32], share[40];
    snprintf(min_px, sizeof min_px, "%lld", (long long)observed->min_valid_pixels);
    snprintf(share, sizeof share, "%.17g", observed->min_valid_share);
    const char *p[] = {f->parcel_id, season, min_px, share};
    PGresult *r = store_query(s, "reading the parcel's observations", points_sql, 4, p);
    if (!r)
        return MC_ERR;
    size_t n = (size_t)PQntuples(r);
    d->points = calloc(n ? n : 1, sizeof *d->points);
    for (size_t i = 0; d->points && i < n; i++) {
        d->points[i].day = atoi(PQgetvalue(r, (int)i, 0));
        d->points[i].observed = PQgetvalue(r, (int)i, 1)[0] == 't';
        d->points[i].ndvi = atof(PQgetvalue(r, (int)i, 2));
    }
    d->n_points = d->points ? n : 0;
    PQclear(r);
    return d->points ? MC_OK : mc_fail("parcel %s: out of memory", f->parcel_id);
}

/* ---- every flagged claim's detail at once (store_report_prefetch_load) ---- */

/* Every flagged claim's head (window_sql's columns), by claim_id (byte order), season.
 * The main tiles are joined, not looked up per claim: parcel_tiles has no index on
 * parcel_id alone, and a planner without statistics on it scans it once per claim. */
static const char all_heads_sql[] =
    "SELECT d.claim_id, d.season, " HEAD_WINDOW ", coalesce(mt.tile_id, '')," HEAD_SUMMARY
    HEAD_FROM
    " LEFT JOIN (SELECT DISTINCT ON (t.parcel_id) t.parcel_id, t.tile_id"
    "            FROM parcel_tiles t JOIN parcel_sets cs"
    "              ON cs.set_hash = t.set_hash AND cs.is_current"
    "            ORDER BY t.parcel_id, " MAIN_TILE_KEYS ") mt"
    "   ON mt.parcel_id = d.parcel_id"
    FLAGGED_WHERE " ORDER BY d.claim_id COLLATE \"C\", d.season";

/* One row per flagged (parcel, season): its points as "day observed ndvi" triples by date
 * (points_sql's observed test and numbers) and its events as "start end date confidence"
 * quadruples by date (events_sql's), separated by spaces ("" where none). One row per
 * parcel keeps the result a fraction of one row per date. The constant season range
 * lets the planner skip other seasons' tables. */
static const char all_parcels_sql[] =
    "WITH flagged AS (SELECT DISTINCT d.parcel_id, d.season FROM decisions d" FLAGGED_WHERE ")"
    " SELECT f.parcel_id, f.season,"
    "   coalesce(string_agg(concat_ws(' ', o.acquired_on - date '1970-01-01',"
    "       CASE WHEN o.n_valid > 0 AND o.n_valid >= $2::bigint AND o.n_total > 0"
    "            AND o.n_valid >= o.n_total * $3::numeric THEN 1 ELSE 0 END,"
    "       coalesce(o.ndvi, 0)), ' ' ORDER BY o.acquired_on)"
    "     FILTER (WHERE o.acquired_on IS NOT NULL), ''),"
    "   coalesce((SELECT string_agg(concat_ws(' ', e.date_start - date '1970-01-01',"
    "               e.date_end - date '1970-01-01', e.date - date '1970-01-01',"
    "               e.confidence), ' ' ORDER BY e.date)"
    "             FROM events e WHERE e.parcel_id = f.parcel_id AND e.season = f.season), '')"
    " FROM flagged f"
    " LEFT JOIN observations o ON o.parcel_id = f.parcel_id"
    "   AND (o.set_hash = (SELECT set_hash FROM parcel_sets WHERE is_current)"
    "        OR NOT EXISTS (SELECT 1 FROM parcel_sets WHERE is_current))"
    "   AND o.acquired_on >= make_date(f.season, 1, 1)"
    "   AND o.acquired_on < make_date(f.season + 1, 1, 1)"
    "   AND ($1::integer = 0 OR (o.acquired_on >= make_date($1::integer, 1, 1)"
    "                        AND o.acquired_on < make_date($1::integer + 1, 1, 1)))"
    " GROUP BY f.parcel_id, f.season"
    " ORDER BY f.parcel_id COLLATE \"C\", f.season";

typedef struct held_claim {
    char *claim_id;
    int season;
    store_report_detail head; /* window, tile, summary, reason; no events or points */
} held_claim;

typedef struct held_parcel {
    char *parcel_id;
    int season;
    size_t first_point, n_points, first_event, n_events;
} held_parcel;

struct store_report_prefetch {
    store_series_filter observed; /* the points' filter */
    held_claim *claims;           /* by claim_id (byte order), season */
    size_t n_claims;
    held_parcel *parcels;         /* by parcel_id (byte order), season */
    size_t n_parcels;
    store_report_point *points;
    size_t n_points, cap_points;
    store_event_row *events;
    size_t n_events, cap_events;
};

/* Makes room for one more element in *v (n used of *cap, each size bytes). */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return MC_OK;
    size_t cap2 = *cap ? 2 * *cap : 1024;
    void *v2 = realloc(*v, cap2 * size);
    if (!v2)
        return MC_ERR;
    *v = v2;
    *cap = cap2;
    return MC_OK;
}

/* Appends the "day observed ndvi" triples of text to pf->points. */
static int points_parse(store_report_prefetch *pf, const char *text, const char *parcel_id)
{
    const char *c = text;
    while (*c) {
        char *e1, *e2, *e3;
        store_report_point pt = {.day = (int32_t)strtol(c, &e1, 10)};
        pt.observed = strtol(e1, &e2, 10) == 1;
        pt.ndvi = strtod(e2, &e3); /* as atof, the per-claim reading */
        if (e1 == c || e2 == e1 || e3 == e2)
            return mc_fail("parcel %s: unreadable observations '%s'", parcel_id, text);
        if (grow((void **)&pf->points, &pf->cap_points, pf->n_points, sizeof pt) != MC_OK)
            return mc_fail("parcel %s: out of memory", parcel_id);
        pf->points[pf->n_points++] = pt;
        c = e3;
    }
    return MC_OK;
}

/* Appends the "start end date confidence" quadruples of text to pf->events. */
static int events_parse(store_report_prefetch *pf, const char *text, const char *parcel_id)
{
    const char *c = text;
    while (*c) {
        char *e1, *e2, *e3, *e4;
        store_event_row ev = {.day_start = (int32_t)strtol(c, &e1, 10)};
        ev.day_end = (int32_t)strtol(e1, &e2, 10);
        ev.day = (int32_t)strtol(e2, &e3, 10);
        ev.confidence = strtod(e3, &e4);
        if (e1 == c || e2 == e1 || e3 == e2 || e4 == e3)
            return mc_fail("parcel %s: unreadable events '%s'", parcel_id, text);
        if (grow((void **)&pf->events, &pf->cap_events, pf->n_events, sizeof ev) != MC_OK)
            return mc_fail("parcel %s: out of memory", parcel_id);
        pf->events[pf->n_events++] = ev;
        c = e4;
    }
    return MC_OK;
}

static int parcels_fill(store_report_prefetch *pf, const PGresult *r)
{
    size_t n = (size_t)PQntuples(r);
    pf->parcels = calloc(n ? n : 1, sizeof *pf->parcels);
    if (!pf->parcels)
        return mc_fail("reading the flagged parcels' observations: out of memory");
    for (size_t i = 0; i < n; i++) {
        held_parcel *h = &pf->parcels[i];
        h->parcel_id = strdup(PQgetvalue(r, (int)i, 0));
        if (!h->parcel_id)
            return mc_fail("reading the flagged parcels' observations: out of memory");
        pf->n_parcels = i + 1;
        h->season = atoi(PQgetvalue(r, (int)i, 1));
        h->first_point = pf->n_points;
        h->first_event = pf->n_events;
        if (points_parse(pf, PQgetvalue(r, (int)i, 2), h->parcel_id) != MC_OK ||
            events_parse(pf, PQgetvalue(r, (int)i, 3), h->parcel_id) != MC_OK)
            return MC_ERR;
        h->n_points = pf->n_points - h->first_point;
        h->n_events = pf->n_events - h->first_event;
    }
    return MC_OK;
}

static int claims_fill(store_report_prefetch *pf, const PGresult *r)
{
    size_t n = (size_t)PQntuples(r);
    pf->claims = calloc(n ? n : 1, sizeof *pf->claims);
    if (!pf->claims)
        return mc_fail("reading the flagged claims' windows: out of memory");
    for (size_t i = 0; i < n; i++) {
        held_claim *h = &pf->claims[i];
        pf->n_claims = i + 1;
        h->claim_id = strdup(PQgetvalue(r, (int)i, 0));
        if (!h->claim_id)
            return mc_fail("reading the flagged claims' windows: out of memory");
        h->season = atoi(PQgetvalue(r, (int)i, 1));
        if (head_from_row(r, (int)i, 2, h->claim_id, &h->head) != MC_OK)
            return MC_ERR;
    }
    return MC_OK;
}

static int prefetch_fill(store *s, const char *const params[3], store_report_prefetch *pf)
{
    PGresult *r = store_query(s, "reading the flagged parcels' observations", all_parcels_sql,
                              3, params);
    int rc = r ? parcels_fill(pf, r) : MC_ERR;
    PQclear(r);
    if (rc != MC_OK)
        return rc;
    r = store_query(s, "reading the flagged claims' windows", all_heads_sql, 1, params);
    rc = r ? claims_fill(pf, r) : MC_ERR;
    PQclear(r);
    return rc;
}

/* Both queries run without nested loops: right after decide, before autovacuum has
 * analysed the new decisions, the planner takes them for one row and joins the
 * observations view (or the main tiles) by a nested loop, aggregating the whole season
 * once per flagged parcel (minutes at 10,000 claims); hash or merge joins read it once. */
static int prefetch_read(store *s, int season, store_report_prefetch *pf)
{
    char season_text[16], min_px[32], share[40];
    snprintf(season_text, sizeof season_text, "%d", season);
    snprintf(min_px, sizeof min_px, "%lld", (long long)pf->observed.min_valid_pixels);
    snprintf(share, sizeof share, "%.17g", pf->observed.min_valid_share);
    const char *params[] = {season_text, min_px, share};
    const char *what = "reading the flagged claims";
    if (store_begin(s, what) != MC_OK)
        return MC_ERR;
    int rc = store_exec(s, what, "SET LOCAL enable_nestloop = off", 0, NULL);
    if (rc == MC_OK)
        rc = prefetch_fill(s, params, pf);
    if (rc == MC_OK)
        rc = store_commit(s, what);
    if (rc != MC_OK)
        store_rollback(s);
    return rc;
}

int store_report_prefetch_load(store *s, int season, const store_series_filter *observed,
                               store_report_prefetch **prefetch)
{
    *prefetch = NULL;
    store_report_prefetch *pf = calloc(1, sizeof *pf);
    if (!pf)
        return mc_fail("reading the flagged claims: out of memory");
    pf->observed = *observed;
    int rc = prefetch_read(s, season, pf);
    if (rc != MC_OK) {
        store_report_prefetch_free(pf);
        return rc;
    }
    *prefetch = pf;
    return MC_OK;
}

void store_report_prefetch_free(store_report_prefetch *prefetch)
{
    if (!prefetch)
        return;
    for (size_t i = 0; i < prefetch->n_claims; i++) {
        free(prefetch->claims[i].claim_id);
        store_report_detail_free(&prefetch->claims[i].head);
    }
    for (size_t i = 0; i < prefetch->n_parcels; i++)
        free(prefetch->parcels[i].parcel_id);
    free(prefetch->claims);
    free(prefetch->parcels);
    free(prefetch->points);
    free(prefetch->events);
    free(prefetch);
}

static int id_season_cmp(const char *id_a, int season_a, const char *id_b, int season_b)
{
    int c = strcmp(id_a, id_b);
    return c ? c : (season_a > season_b) - (season_a < season_b);
}

static int held_claim_cmp(const void *key, const void *elem)
{
    const store_flagged *f = key;
    const held_claim *h = elem;
    return id_season_cmp(f->claim_id, f->season, h->claim_id, h->season);
}

static int held_parcel_cmp(const void *key, const void *elem)
{
    const store_flagged *f = key;
    const held_parcel *h = elem;
    return id_season_cmp(f->parcel_id, f->season, h->parcel_id, h->season);
}

static const held_claim *held_claim_find(const store_report_prefetch *pf,
                                         const store_flagged *f)
{
    return pf ? bsearch(f, pf->claims, pf->n_claims, sizeof *pf->claims, held_claim_cmp)
              : NULL;
}

static const held_parcel *held_parcel_find(const store_report_prefetch *pf,
                                           const store_flagged *f)
{
    return pf ? bsearch(f, pf->parcels, pf->n_parcels, sizeof *pf->parcels, held_parcel_cmp)
              : NULL;
}

static int same_filter(const store_series_filter *a, const store_series_filter *b)
{
    return a->min_valid_pixels == b->min_valid_pixels &&
           !(a->min_valid_share < b->min_valid_share) &&
           !(a->min_valid_share > b->min_valid_share);
}

/* A malloc'ed copy of n elements of size bytes (at least one byte: never NULL on success). */
static void *copy_of(const void *v, size_t n, size_t size)
{
    void *c = malloc(n ? n * size : 1);
    if (c && n)
        memcpy(c, v, n * size);
    return c;
}

static int head_held(const held_claim *h, store_report_detail *d)
{
    *d = h->head;
    d->tile_id = strdup(h->head.tile_id);
    d->detector_reason = strdup(h->head.detector_reason);
    if (!d->tile_id || !d->detector_reason)
        return mc_fail("claim %s: out of memory", h->claim_id);
    return MC_OK;
}

static int events_held(const store_report_prefetch *pf, const held_parcel *h,
                       store_report_detail *d)
{
    d->events = copy_of(pf->events + h->first_event, h->n_events, sizeof *d->events);
    d->n_events = d->events ? h->n_events : 0;
    return d->events ? MC_OK : mc_fail("parcel %s: out of memory", h->parcel_id);
}

static int points_held(const store_report_prefetch *pf, const held_parcel *h,
                       store_report_detail *d)
{
    d->points = copy_of(pf->points + h->first_point, h->n_points, sizeof *d->points);
    d->n_points = d->points ? h->n_points : 0;
    return d->points ? MC_OK : mc_fail("parcel %s: out of memory", h->parcel_id);
}

int store_report_detail_load(store *s, const store_flagged *f,
                             const store_series_filter *observed,
                             const store_report_prefetch *prefetch, store_report_detail *d)
{
    memset(d, 0, sizeof *d);
    char season[16];
    snprintf(season, sizeof season, "%d", f->season);
    const held_claim *claim = held_claim_find(prefetch, f);
    const held_parcel *parcel = held_parcel_find(prefetch, f);
    int points_fit = parcel && same_filter(&prefetch->observed, observed);
    int rc = claim ? head_held(claim, d) : detail_head(s, f, season, d);
    if (rc == MC_OK)
        rc = parcel ? events_held(prefetch, parcel, d) : detail_events(s, f, season, d);
    if (rc == MC_OK)
        rc = points_fit ? points_held(prefetch, parcel, d)
                        : detail_points(s, f, season, observed, d);
    if (rc != MC_OK)
        store_report_detail_free(d);
    return rc;
}

void store_report_detail_free(store_report_detail *d)
{
    free(d->tile_id);
    free(d->detector_reason);
    free(d->events);
    free(d->points);
    memset(d, 0, sizeof *d);
}

/* ---- runs for the report's footer ---- */

static const char runs_sql[] =
    "SELECT DISTINCT ON (command) command, status,"
    "       to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
    "       extract(epoch FROM ended_at - started_at),"
    "       CASE WHEN jsonb_typeof(summary -> 'cpu_joules') = 'number'"
    "            THEN (summary ->> 'cpu_joules')::double precision END,"
    "       summary::text"
    " FROM runs WHERE command IN ('ingest', 'detect', 'decide', 'run')"
    " ORDER BY command, started_at DESC, run_id DESC";

int store_report_runs(store *s, store_run_info **runs, size_t *n)
{
    *runs = NULL;
    *n = 0;
    PGresult *r = store_query(s, "reading the last runs", runs_sql, 0, NULL);
    if (!r)
        return MC_ERR;
    size_t count = (size_t)PQntuples(r);
    store_run_info *v = calloc(count ? count : 1, sizeof *v);
    int oom = !v;
    for (size_t i = 0; !oom && i < count; i++) {
        int row = (int)i;
        v[i].command = dup_or_null(PQgetvalue(r, row, 0), &oom);
        v[i].status = dup_or_null(PQgetvalue(r, row, 1), &oom);
        v[i].started_at = dup_or_null(PQgetvalue(r, row, 2), &oom);
        v[i].seconds = PQgetisnull(r, row, 3) ? NAN : atof(PQgetvalue(r, row, 3));
        v[i].cpu_joules = PQgetisnull(r, row, 4) ? NAN : atof(PQgetvalue(r, row, 4));
        if (!PQgetisnull(r, row, 5))
            v[i].summary = dup_or_null(PQgetvalue(r, row, 5), &oom);
    }
    PQclear(r);
    if (oom) {
        store_report_runs_free(v, count);
        return mc_fail("reading the last runs: out of memory");
    }
    *runs = v;
    *n = count;
    return MC_OK;
}

void store_report_runs_free(store_run_info *runs, size_t n)
{
    for (size_t i = 0; runs && i < n; i++) {
        free(runs[i].command);
        free(runs[i].status);
        free(runs[i].started_at);
        free(runs[i].summary);
    }
    free(runs);
}

int store_report_scene(store *s, const char *tile_id, int32_t day, char **path,
                       int32_t *offset_dn, int *found)
{
    *path = NULL;
    *found = 0;
    char day_text[16];
    snprintf(day_text, sizeof day_text, "%d", (int)day);
    const char *p[] = {tile_id, day_text};
    PGresult *r = store_query(s, "finding the scene of a date",
                              "SELECT path, reflectance_offset_dn FROM scenes"
                              " WHERE tile_id = $1 AND acquired_on = date '1970-01-01' + $2::integer",
                              2, p);
    if (!r)
        return MC_ERR;
    int rc = MC_OK;
    if (PQntuples(r) == 1) {
        *path = strdup(PQgetvalue(r, 0, 0));
        *offset_dn = atoi(PQgetvalue(r, 0, 1));
        *found = *path != NULL;
        if (!*path)
            rc = mc_fail("finding the scene of a date: out of memory");
    }
    PQclear(r);
    return rc;
}
