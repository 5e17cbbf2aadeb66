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

static const char window_sql[] =
    "SELECT coalesce(d.window_start - date '1970-01-01', -2147483648),"
    "       coalesce(d.window_end - date '1970-01-01', -2147483648),"
    "       coalesce((SELECT t.tile_id FROM parcel_tiles t JOIN parcel_sets ps"
    "                   ON ps.set_hash = t.set_hash AND ps.is_current"
    "                 WHERE t.parcel_id = d.parcel_id"
    "                 ORDER BY t.n_pixels DESC, t.tile_id COLLATE \"C\" LIMIT 1), ''),"
    "       CASE WHEN ps.parcel_id IS NULL THEN NULL ELSE"
    "         coalesce((SELECT max(e.confidence) FROM events e"
    "                    WHERE e.parcel_id = d.parcel_id AND e.season = d.season"
    "                      AND e.date_end >= d.window_start AND e.date_start <= d.window_end),"
    "                  0) END,"
    "       coalesce(ps.reason, '')"
    " FROM decisions d"
    " LEFT JOIN parcel_seasons ps ON ps.parcel_id = d.parcel_id AND ps.season = d.season"
    " WHERE d.is_current AND d.claim_id = $1 AND d.season = $2";

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

static int detail_head(store *s, const store_flagged *f, const char *season,
                       store_report_detail *d)
{
    const char *p[] = {f->claim_id, season};
    PGresult *r = store_query(s, "reading the claim's window", window_sql, 2, p);
    if (!r)
        return MC_ERR;
    int ok = PQntuples(r) == 1;
    if (ok) {
        d->window_start = atoi(PQgetvalue(r, 0, 0));
        d->window_end = atoi(PQgetvalue(r, 0, 1));
        d->tile_id = strdup(PQgetvalue(r, 0, 2));
        d->has_summary = !PQgetisnull(r, 0, 3);
        d->window_confidence = d->has_summary ? atof(PQgetvalue(r, 0, 3)) : 0;
        d->detector_reason = strdup(PQgetvalue(r, 0, 4));
    }
    PQclear(r);
    if (!ok)
        return mc_fail("claim %s, season %s: no current decision", f->claim_id, season);
    if (!d->tile_id || !d->detector_reason)
        return mc_fail("claim %s: out of memory", f->claim_id);
    return MC_OK;
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

/* ---- the season's points of every flagged claim at once (store_report_points_load) ---- */

/* One row per flagged (parcel, season): its points as "day observed ndvi" triples by date,
 * separated by spaces ("" where none), with points_sql's observed test and numbers. One
 * row per parcel keeps the result a fraction of one row per date. The flagged claims are
 * flagged_sql's; the constant season range lets the planner skip other seasons' tables. */
static const char all_points_sql[] =
    "WITH flagged AS ("
    "  SELECT DISTINCT parcel_id, season FROM decisions"
    "  WHERE is_current AND claim_id IS NOT NULL AND outcome IN ('not_mowed', 'inconclusive')"
    "    AND ($1::integer = 0 OR season = $1::integer))"
    " SELECT f.parcel_id, f.season,"
    "   coalesce(string_agg(concat_ws(' ', o.acquired_on - date '1970-01-01',"
    "       CASE WHEN o.n_valid > 0 AND o.n_valid >= $2::bigint AND o.n_total > 0"
    "            AND o.n_valid >= o.n_total * $3::numeric THEN 1 ELSE 0 END,"
    "       coalesce(o.ndvi, 0)), ' ' ORDER BY o.acquired_on)"
    "     FILTER (WHERE o.acquired_on IS NOT NULL), '')"
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

typedef struct points_entry {
    char *parcel_id;
    int season;
    size_t first, n; /* in store_report_points.points */
} points_entry;

struct store_report_points {
    store_series_filter observed;
    points_entry *entries; /* by parcel_id (byte order), season */
    size_t n_entries;
    store_report_point *points;
    size_t n_points, cap;
};

static int points_push(store_report_points *p, const store_report_point *pt)
{
    if (p->n_points == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        store_report_point *v = realloc(p->points, cap * sizeof *v);
        if (!v)
            return MC_ERR;
        p->points = v;
        p->cap = cap;
    }
    p->points[p->n_points++] = *pt;
    return MC_OK;
}

/* Appends the triples of one row (all_points_sql) to p->points. */
static int points_parse(store_report_points *p, const char *text, const char *parcel_id)
{
    const char *c = text;
    while (*c) {
        char *end;
        store_report_point pt;
        pt.day = (int32_t)strtol(c, &end, 10);
        int ok = end != c;
        c = end;
        pt.observed = (int)strtol(c, &end, 10) == 1;
        ok = ok && end != c;
        c = end;
        pt.ndvi = strtod(c, &end); /* as atof, the per-claim reading */
        ok = ok && end != c;
        c = end;
        if (!ok)
            return mc_fail("parcel %s: unreadable observations '%s'", parcel_id, text);
        if (points_push(p, &pt) != MC_OK)
            return mc_fail("parcel %s: out of memory", parcel_id);
    }
    return MC_OK;
}

static int points_fill(store_report_points *p, PGresult *r)
{
    size_t n = (size_t)PQntuples(r);
    p->entries = calloc(n ? n : 1, sizeof *p->entries);
    if (!p->entries)
        return mc_fail("reading the flagged parcels' observations: out of memory");
    for (size_t i = 0; i < n; i++) {
        points_entry *e = &p->entries[i];
        e->parcel_id = strdup(PQgetvalue(r, (int)i, 0));
        if (!e->parcel_id)
            return mc_fail("reading the flagged parcels' observations: out of memory");
        p->n_entries = i + 1;
        e->season = atoi(PQgetvalue(r, (int)i, 1));
        e->first = p->n_points;
        if (points_parse(p, PQgetvalue(r, (int)i, 2), e->parcel_id) != MC_OK)
            return MC_ERR;
        e->n = p->n_points - e->first;
    }
    return MC_OK;
}

/* Runs all_points_sql without nested loops: right after decide, before autovacuum has
 * analysed the new decisions, the planner takes them for one row and joins the
 * observations view by a nested loop, aggregating the whole season once per flagged
 * parcel (minutes at 10,000 claims); hash or merge joins read it once. */
static PGresult *all_points_query(store *s, const char *const params[3])
{
    const char *what = "reading the flagged parcels' observations";
    if (store_begin(s, what) != MC_OK)
        return NULL;
    PGresult *r = NULL;
    if (store_exec(s, what, "SET LOCAL enable_nestloop = off", 0, NULL) == MC_OK)
        r = store_query(s, what, all_points_sql, 3, params);
    if (r && store_commit(s, what) != MC_OK) {
        PQclear(r);
        r = NULL;
    }
    if (!r)
        store_rollback(s);
    return r;
}

int store_report_points_load(store *s, int season, const store_series_filter *observed,
                             store_report_points **points)
{
    *points = NULL;
    char season_text[16], min_px[32], share[40];
    snprintf(season_text, sizeof season_text, "%d", season);
    snprintf(min_px, sizeof min_px, "%lld", (long long)observed->min_valid_pixels);
    snprintf(share, sizeof share, "%.17g", observed->min_valid_share);
    const char *params[] = {season_text, min_px, share};
    store_report_points *p = calloc(1, sizeof *p);
    if (!p)
        return mc_fail("reading the flagged parcels' observations: out of memory");
    p->observed = *observed;
    PGresult *r = all_points_query(s, params);
    int rc = r ? points_fill(p, r) : MC_ERR;
    PQclear(r);
    if (rc != MC_OK) {
        store_report_points_free(p);
        return rc;
    }
    *points = p;
    return MC_OK;
}

void store_report_points_free(store_report_points *points)
{
    if (!points)
        return;
    for (size_t i = 0; i < points->n_entries; i++)
        free(points->entries[i].parcel_id);
    free(points->entries);
    free(points->points);
    free(points);
}

static int same_filter(const store_series_filter *a, const store_series_filter *b)
{
    return a->min_valid_pixels == b->min_valid_pixels &&
           !(a->min_valid_share < b->min_valid_share) &&
           !(a->min_valid_share > b->min_valid_share);
}

static int entry_cmp(const void *key, const void *elem)
{
    const points_entry *k = key, *e = elem;
    int c = strcmp(k->parcel_id, e->parcel_id);
    return c ? c : (k->season > e->season) - (k->season < e->season);
}

/* The parcel's points held in points; NULL where it holds none for them. */
static const points_entry *points_find(const store_report_points *points,
                                       const store_series_filter *observed,
                                       const store_flagged *f)
{
    if (!points || !same_filter(&points->observed, observed))
        return NULL;
    points_entry key = {.parcel_id = f->parcel_id, .season = f->season};
    return bsearch(&key, points->entries, points->n_entries, sizeof key, entry_cmp);
}

static int detail_points_held(const store_report_points *points, const points_entry *e,
                              const store_flagged *f, store_report_detail *d)
{
    d->points = calloc(e->n ? e->n : 1, sizeof *d->points);
    if (!d->points)
        return mc_fail("parcel %s: out of memory", f->parcel_id);
    if (e->n)
        memcpy(d->points, points->points + e->first, e->n * sizeof *d->points);
    d->n_points = e->n;
    return MC_OK;
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

int store_report_detail_load(store *s, const store_flagged *f,
                             const store_series_filter *observed,
                             const store_report_points *points, store_report_detail *d)
{
    memset(d, 0, sizeof *d);
    char season[16];
    snprintf(season, sizeof season, "%d", f->season);
    int rc = detail_head(s, f, season, d);
    if (rc == MC_OK)
        rc = detail_events(s, f, season, d);
    const points_entry *held = points_find(points, observed, f);
    if (rc == MC_OK)
        rc = held ? detail_points_held(points, held, f, d)
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
