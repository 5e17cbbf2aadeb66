/* Decisions, case numbers, reviews and the decision feed (store.h, "decisions,
 * cases, reviews"; tables in schemas/015_events.sql and schemas/020_decisions.sql). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "casenum.h"
#include "error.h"
#include "store.h"
#include "store_conn.h"

/* Second key of the advisory lock (class STORE_LOCK_CLASS) held by a decide run. */
enum { DECIDE_LOCK_KEY = 20 };

static char *dup_text(const PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col)); /* "" for NULL */
}

void store_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- evidence ---- */

static int find_parcel(store_evidence *ev, size_t n, const char *id, size_t *at)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ev[mid].parcel_id, id);
        if (c == 0) {
            *at = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The parcels with any evidence, with their summary and scenes used (one row each). */
static const char evidence_parcels_sql[] =
    "WITH p AS ("
    "  SELECT parcel_id FROM parcel_seasons WHERE season = $1"
    "  UNION SELECT parcel_id FROM events WHERE season = $1"
    "  UNION SELECT o.parcel_id FROM observation_parts o"
    "        WHERE o.acquired_on >= make_date($1, 1, 1)"
    "          AND o.acquired_on <= least(make_date($1, 12, 31), $2::date)),"
    " used AS (SELECT o.parcel_id, count(DISTINCT o.scene_id) AS n"
    "        FROM observation_parts o"
    "        WHERE o.acquired_on >= make_date($1, 1, 1)"
    "          AND o.acquired_on <= least(make_date($1, 12, 31), $2::date)"
    "          AND o.n_seen > 0 GROUP BY o.parcel_id)"
    " SELECT p.parcel_id, ps.parcel_id IS NOT NULL, coalesce(ps.sufficient, false),"
    "        coalesce(ps.reason IN ('uncertain_event', 'no_event_unconfirmed'), false),"
    "        coalesce(ps.model_version, ''),"
    "        coalesce(u.n, 0)"
    " FROM p LEFT JOIN parcel_seasons ps ON ps.parcel_id = p.parcel_id AND ps.season = $1"
    " LEFT JOIN used u ON u.parcel_id = p.parcel_id"
    " ORDER BY p.parcel_id COLLATE \"C\"";

static const char evidence_events_sql[] =
    "SELECT parcel_id, date_start - date '1970-01-01', date_end - date '1970-01-01',"
    "       date - date '1970-01-01', confidence"
    " FROM events WHERE season = $1 AND date_end <= $2::date"
    " ORDER BY parcel_id COLLATE \"C\", date";

/* Clear ("observed") dates: the test of store_export_series. */
static const char evidence_clear_sql[] =
    "SELECT parcel_id, acquired_on - date '1970-01-01' FROM observations o"
    " WHERE (o.set_hash = (SELECT set_hash FROM parcel_sets WHERE is_current)"
    "        OR NOT EXISTS (SELECT 1 FROM parcel_sets WHERE is_current))"
    "   AND acquired_on >= make_date($1, 1, 1)"
    "   AND acquired_on <= least(make_date($1, 12, 31), $2::date)"
    "   AND n_valid > 0 AND n_valid >= $3::bigint AND n_total > 0"
    "   AND n_valid >= n_total * $4::numeric"
    " ORDER BY parcel_id COLLATE \"C\", acquired_on";

static int load_events(store *s, const char *const *params, store_evidence *ev, size_t n)
{
    PGresult *r = store_query(s, "reading events", evidence_events_sql, 2, params);
    if (!r)
        return MC_ERR;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        size_t at;
        if (!find_parcel(ev, n, PQgetvalue(r, i, 0), &at))
            continue;
        store_evidence *e = &ev[at];
        store_event_row *grown = realloc(e->events, (e->n_events + 1) * sizeof *grown);
        if (!grown) {
            PQclear(r);
            return mc_fail("reading events: out of memory");
        }
        e->events = grown;
        store_event_row *x = &e->events[e->n_events++];
        x->day_start = (int32_t)atol(PQgetvalue(r, i, 1));
        x->day_end = (int32_t)atol(PQgetvalue(r, i, 2));
        x->day = (int32_t)atol(PQgetvalue(r, i, 3));
        x->confidence = atof(PQgetvalue(r, i, 4));
    }
    PQclear(r);
    return MC_OK;
}

static int load_clear(store *s, const char *const *params, store_evidence *ev, size_t n)
{
    PGresult *r = store_query(s, "reading clear observations", evidence_clear_sql, 4, params);
    if (!r)
        return MC_ERR;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        size_t at;
        if (!find_parcel(ev, n, PQgetvalue(r, i, 0), &at))
            continue;
        store_evidence *e = &ev[at];
        int32_t *grown = realloc(e->clear_days, (e->n_clear_days + 1) * sizeof *grown);
        if (!grown) {
            PQclear(r);
            return mc_fail("reading clear observations: out of memory");
        }
        e->clear_days = grown;
        e->clear_days[e->n_clear_days++] = (int32_t)atol(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return MC_OK;
}

int store_evidence_load(store *s, int season, int32_t as_of_day,
                        const store_series_filter *observed, store_evidence **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    char season_s[16], as_of[32], min_px[32], share[64];
    snprintf(season_s, sizeof season_s, "%d", season);
    /* the date as days since the epoch, converted by the server */
    PGresult *d = NULL;
    {
        char days[32];
        snprintf(days, sizeof days, "%" PRId32, as_of_day);
        const char *p[1] = {days};
        d = store_query(s, "reading the as-of date",
                        "SELECT to_char(date '1970-01-01' + $1::integer, 'YYYY-MM-DD')", 1, p);
        if (!d)
            return MC_ERR;
        snprintf(as_of, sizeof as_of, "%s", PQgetvalue(d, 0, 0));
        PQclear(d);
    }
    snprintf(min_px, sizeof min_px, "%" PRId64, observed->min_valid_pixels);
    snprintf(share, sizeof share, "%.17g", observed->min_valid_share);
    const char *params[4] = {season_s, as_of, min_px, share};
    PGresult *r = store_query(s, "reading parcel-seasons", evidence_parcels_sql, 2, params);
    if (!r)
        return MC_ERR;
    size_t n = (size_t)PQntuples(r);
    store_evidence *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev) {
        PQclear(r);
        return mc_fail("reading parcel-seasons: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ev[i].parcel_id = dup_text(r, (int)i, 0);
        ev[i].has_summary = PQgetvalue(r, (int)i, 1)[0] == 't';
        ev[i].sufficient = PQgetvalue(r, (int)i, 2)[0] == 't';
        ev[i].unsure = PQgetvalue(r, (int)i, 3)[0] == 't';
        ev[i].model_version = dup_text(r, (int)i, 4);
        ev[i].scenes_used = atoll(PQgetvalue(r, (int)i, 5));
    }
    PQclear(r);
    if (load_events(s, params, ev, n) != MC_OK || load_clear(s, params, ev, n) != MC_OK) {
        store_evidence_free(ev, n);
        return mc_fail_wrap("season %d", season);
    }
    *out = ev;
    *n_out = n;
    return MC_OK;
}

void store_evidence_free(store_evidence *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++) {
        free(ev[i].parcel_id);
        free(ev[i].model_version);
        free(ev[i].events);
        free(ev[i].clear_days);
    }
    free(ev);
}

int store_decide_parcel_ids(store *s, int season, char ***ids, size_t *n)
{
    char season_s[16];
    snprintf(season_s, sizeof season_s, "%d", season);
    const char *p[1] = {season_s};
    return store_query_strings(
        s, "listing the parcels to decide",
        "SELECT parcel_id FROM (SELECT parcel_id FROM parcel_tiles WHERE set_hash ="
        "   (SELECT set_hash FROM parcel_sets WHERE is_current)"
        " UNION SELECT parcel_id FROM parcel_set_members WHERE set_hash ="
        "   (SELECT set_hash FROM parcel_sets WHERE is_current)"
        " UNION SELECT parcel_id FROM parcel_seasons WHERE season = $1"
        " UNION SELECT parcel_id FROM events WHERE season = $1) u"
        " ORDER BY parcel_id COLLATE \"C\"",
        1, p, ids, n);
}

/* ---- parcels the satellite cannot decide ---- */

static const char parcel_problems_sql[] =
    "WITH cur AS (SELECT set_hash FROM parcel_sets WHERE is_current),"
    " px AS (SELECT parcel_id, sum(n_pixels) AS n FROM parcel_tiles"
    "        WHERE set_hash = (SELECT set_hash FROM cur) GROUP BY parcel_id),"
    " ov AS (SELECT parcel_id,"
    "               (array_agg(other_parcel_id ORDER BY share DESC,"
    "                          other_parcel_id COLLATE \"C\"))[1] AS other_parcel_id,"
    "               least(1, sum(share)) AS share, count(*) AS n"
    "        FROM parcel_overlaps WHERE set_hash = (SELECT set_hash FROM cur)"
    "        GROUP BY parcel_id)"
    " SELECT m.parcel_id,"
    "        CASE WHEN m.refused IS NOT NULL THEN 0 WHEN ov.parcel_id IS NOT NULL THEN 1 ELSE 2 END,"
    "        coalesce(m.refused, ov.other_parcel_id, ''), coalesce(ov.share, 0),"
    "        coalesce(ov.n, 0)"
    " FROM parcel_set_members m"
    " LEFT JOIN px ON px.parcel_id = m.parcel_id LEFT JOIN ov ON ov.parcel_id = m.parcel_id"
    " WHERE m.set_hash = (SELECT set_hash FROM cur)"
    "   AND (m.refused IS NOT NULL OR ov.parcel_id IS NOT NULL"
    "        OR (coalesce(px.n, 0) = 0 AND EXISTS (SELECT 1 FROM parcel_tiles t"
    "            WHERE t.set_hash = (SELECT set_hash FROM cur))))"
    " ORDER BY m.parcel_id COLLATE \"C\"";

int store_parcel_problems_load(store *s, store_parcel_problem **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    PGresult *r = store_query(s, "reading the parcels that cannot be observed",
                              parcel_problems_sql, 0, NULL);
    if (!r)
        return MC_ERR;
    size_t n = (size_t)PQntuples(r);
    store_parcel_problem *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        PQclear(r);
        return mc_fail("reading the parcels that cannot be observed: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        p[i].parcel_id = dup_text(r, (int)i, 0);
        p[i].kind = (store_parcel_problem_kind)atoi(PQgetvalue(r, (int)i, 1));
        p[i].detail = dup_text(r, (int)i, 2);
        p[i].share = atof(PQgetvalue(r, (int)i, 3));
        p[i].n_overlaps = (size_t)atoll(PQgetvalue(r, (int)i, 4));
    }
    PQclear(r);
    *out = p;
    *n_out = n;
    return MC_OK;
}

void store_parcel_problems_free(store_parcel_problem *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].parcel_id);
        free(p[i].detail);
    }
    free(p);
}

/* ---- the nightly invariant ---- */

static char *json_list_text(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

static const char check_sql[] =
    "WITH c AS (SELECT DISTINCT e AS claim_id FROM json_array_elements_text($2::json) e),"
    " p AS (SELECT DISTINCT e AS parcel_id FROM json_array_elements_text($3::json) e),"
    " bad AS ("
    "  SELECT 'claim ' || c.claim_id || ' has ' || count(d.decision_id) || ' current decisions' AS what"
    "  FROM c LEFT JOIN decisions d ON d.claim_id = c.claim_id AND d.season = $1 AND d.is_current"
    "  GROUP BY c.claim_id HAVING count(d.decision_id) <> 1"
    "  UNION ALL"
    "  SELECT 'parcel ' || p.parcel_id || ' has no current decision' FROM p"
    "  WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.parcel_id = p.parcel_id"
    "                    AND d.season = $1 AND d.is_current))"
    " SELECT count(*), min(what COLLATE \"C\") FROM bad";

int store_decisions_check(store *s, int season, const char *const *claim_ids, size_t n_claims,
                          const char *const *parcel_ids, size_t n_parcels, size_t *n_bad,
                          char *bad, size_t size)
{
    char season_s[16];
    char *claims = json_list_text(claim_ids, n_claims);
    char *parcels = json_list_text(parcel_ids, n_parcels);
    *n_bad = 0;
    bad[0] = '\0';
    if (!claims || !parcels) {
        free(claims);
        free(parcels);
        return mc_fail("checking the decisions: out of memory");
    }
    snprintf(season_s, sizeof season_s, "%d", season);
    const char *p[3] = {season_s, claims, parcels};
    PGresult *r = store_query(s, "checking that every claim has one decision", check_sql, 3, p);
    free(claims);
    free(parcels);
    if (!r)
        return MC_ERR;
    *n_bad = (size_t)atoll(PQgetvalue(r, 0, 0));
    snprintf(bad, size, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return MC_OK;
}

/* ---- writing decisions ---- */

int store_decide_begin(store *s)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d, %d)", STORE_LOCK_CLASS,
             DECIDE_LOCK_KEY);
    if (store_begin(s, "starting the decisions") != MC_OK)
        return MC_ERR;
    if (store_exec(s, "waiting for another decide run", sql, 0, NULL) != MC_OK) {
        store_rollback(s);
        return MC_ERR;
    }
    return MC_OK;
}

int store_decide_commit(store *s)
{
    if (store_exec(s, "updating the case counters", "SELECT case_serials_catch_up()", 0, NULL) !=
        MC_OK)
        return MC_ERR;
    return store_commit(s, "committing the decisions");
}

void store_decide_abort(store *s) { store_rollback(s); }

static const char *season_text(int season, char buf[16])
{
    snprintf(buf, 16, "%d", season);
    return buf;
}

enum { CUR_NONE, CUR_SAME, CUR_DIFFERENT };

/* The current parcel-level error decision of the parcel-season: whether it is the same
 * as d, and its id. (A claim's decision is compared on the server: decision_put_claim,
 * schemas/090.) */
static int current_parcel_error(store *s, const store_decision *d, int *state, char *id,
                                size_t id_size)
{
    char season[16];
    const char *p[6] = {d->parcel_id, season_text(d->season, season), d->outcome, d->rule,
                        d->reason_json, d->model_version};
    PGresult *r = store_query(
        s, "reading the current decision",
        "SELECT decision_id, (outcome = $3 AND rule = $4"
        "        AND reason_json - 'failure' = $5::jsonb - 'failure'"
        "        AND model_version IS NOT DISTINCT FROM $6)"
        " FROM decisions WHERE claim_id IS NULL AND parcel_id = $1 AND season = $2"
        "   AND is_current",
        6, p);
    if (!r)
        return MC_ERR;
    *state = CUR_NONE;
    if (PQntuples(r) == 1) {
        snprintf(id, id_size, "%s", PQgetvalue(r, 0, 0));
        *state = PQgetvalue(r, 0, 1)[0] == 't' ? CUR_SAME : CUR_DIFFERENT;
    }
    PQclear(r);
    return MC_OK;
}

static int insert_decision(store *s, const store_decision *d)
{
    char season[16], mm[16], run[32];
    snprintf(mm, sizeof mm, "%d", d->min_mowings);
    snprintf(run, sizeof run, "%" PRId64, d->run_id);
    const char *p[16] = {d->claim_id,  d->parcel_id,   season_text(d->season, season),
                         d->applicant, d->scheme,      d->window_start,
                         d->window_end, d->claim_id ? mm : NULL, d->outcome,
                         d->rule,      d->reason_json, d->reason_text,
                         d->model_version, d->run_id > 0 ? run : NULL, d->as_of};
    return store_exec(s, "recording the decision",
                      "INSERT INTO decisions (claim_id, parcel_id, season, applicant, scheme,"
                      " window_start, window_end, min_mowings, outcome, rule, reason_json,"
                      " reason_text, model_version, run_id, as_of)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13,"
                      " $14, $15)",
                      15, p);
}

static int supersede(store *s, const char *decision_id)
{
    const char *p[1] = {decision_id};
    return store_exec(s, "superseding the decision",
                      "UPDATE decisions SET is_current = false, superseded_at = now()"
                      " WHERE decision_id = $1",
                      1, p);
}

static int put_parcel_error(store *s, const store_decision *d, store_decision_effect *effect)
{
    char season[16];
    const char *p[2] = {d->parcel_id, season_text(d->season, season)};
    PGresult *r = store_query(s, "reading the parcel's decisions",
                              "SELECT 1 FROM decisions WHERE parcel_id = $1 AND season = $2"
                              " AND is_current AND claim_id IS NOT NULL LIMIT 1",
                              2, p);
    if (!r)
        return MC_ERR;
    int known = PQntuples(r) > 0;
    PQclear(r);
    if (known) {
        *effect = STORE_DECISION_KEPT; /* its claims keep their decisions until the next run */
        return MC_OK;
    }
    int state;
    char id[32];
    if (current_parcel_error(s, d, &state, id, sizeof id) != MC_OK)
        return MC_ERR;
    if (state == CUR_SAME) {
        *effect = STORE_DECISION_UNCHANGED;
        return MC_OK;
    }
    if (state == CUR_DIFFERENT && supersede(s, id) != MC_OK)
        return MC_ERR;
    *effect = state == CUR_NONE ? STORE_DECISION_NEW : STORE_DECISION_CHANGED;
    return insert_decision(s, d);
}

/* decision_put_claim's parameters for d (schemas/090); the numbers are written into
 * text. */
typedef struct claim_params {
    char season[16], min_mowings[16], run[32];
    const char *values[15];
} claim_params;

static void claim_params_make(const store_decision *d, claim_params *cp)
{
    snprintf(cp->min_mowings, sizeof cp->min_mowings, "%d", d->min_mowings);
    snprintf(cp->run, sizeof cp->run, "%" PRId64, d->run_id);
    const char *v[15] = {d->claim_id,  d->parcel_id,   season_text(d->season, cp->season),
                         d->applicant, d->scheme,      d->window_start,
                         d->window_end, cp->min_mowings, d->outcome,
                         d->rule,      d->reason_json, d->reason_text,
                         d->model_version, d->run_id > 0 ? cp->run : NULL, d->as_of};
    memcpy(cp->values, v, sizeof v);
}

static const char put_claim_sql[] =
    "SELECT o_effect, o_case_number FROM decision_put_claim($1, $2, $3::integer, $4, $5,"
    " $6::date, $7::date, $8::integer, $9, $10, $11::jsonb, $12, $13, $14::bigint, $15::date)";

/* The effect and case number of one decision_put_claim answer. */
static int claim_answer(const PGresult *r, store_decision_effect *effect, char *case_number,
                        size_t size)
{
    static const char *const names[] = {[STORE_DECISION_NEW] = "new",
                                        [STORE_DECISION_UNCHANGED] = "unchanged",
                                        [STORE_DECISION_CHANGED] = "changed",
                                        [STORE_DECISION_PROPOSED] = "proposed"};
    if (PQntuples(r) != 1)
        return mc_fail("decision_put_claim returned %d rows", PQntuples(r));
    const char *e = PQgetvalue(r, 0, 0);
    size_t k = 0;
    while (k < sizeof names / sizeof *names && strcmp(e, names[k]) != 0)
        k++;
    if (k == sizeof names / sizeof *names)
        return mc_fail("decision_put_claim: unknown effect '%s'", e);
    *effect = (store_decision_effect)k;
    snprintf(case_number, size, "%s", PQgetvalue(r, 0, 1));
    return MC_OK;
}

static int put_claim(store *s, const store_decision *d, store_decision_effect *effect,
                     char *case_number, size_t size)
{
    claim_params cp;
    claim_params_make(d, &cp);
    PGresult *r = store_query(s, "recording the decision", put_claim_sql, 15, cp.values);
    if (!r)
        return MC_ERR;
    int rc = claim_answer(r, effect, case_number, size);
    PQclear(r);
    return rc;
}

int store_decision_put(store *s, const store_decision *d, store_decision_effect *effect,
                       char *case_number, size_t size)
{
    case_number[0] = '\0';
    int rc = d->claim_id ? put_claim(s, d, effect, case_number, size)
                         : put_parcel_error(s, d, effect);
    if (rc != MC_OK)
        return mc_fail_wrap("claim %s, parcel %s, season %d", d->claim_id ? d->claim_id : "-",
                            d->parcel_id, d->season);
    return MC_OK;
}

/* Reads what is left of a pipeline up to its sync (which must have been sent). */
static void pipeline_drain(store *s)
{
    while (PQstatus(s->conn) == CONNECTION_OK) {
        PGresult *r = PQgetResult(s->conn);
        if (!r)
            continue; /* the end of one query's results */
        int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync)
            break;
    }
}

/* The answer to query i of a pipeline: its result, then the NULL that ends it. */
static int pipeline_answer(store *s, const store_decision *d, store_decision_effect *effect,
                           char *case_number, size_t size)
{
    PGresult *r = PQgetResult(s->conn);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK
                 ? claim_answer(r, effect, case_number, size)
                 : store_fail_result(s, "recording the decision", r);
    PQclear(r);
    PGresult *end = PQgetResult(s->conn);
    PQclear(end);
    if (rc != MC_OK)
        return mc_fail_wrap("claim %s, parcel %s, season %d", d->claim_id, d->parcel_id,
                            d->season);
    return MC_OK;
}

int store_decisions_put_claims(store *s, const store_decision *d, size_t n,
                               store_decision_effect *effects, char (*case_numbers)[CASENUM_MAX])
{
    if (n == 0)
        return MC_OK;
    if (!PQenterPipelineMode(s->conn))
        return store_fail_result(s, "recording the decisions (pipeline mode)", NULL);
    size_t sent = 0;
    for (; sent < n; sent++) {
        claim_params cp;
        claim_params_make(&d[sent], &cp);
        if (!PQsendQueryParams(s->conn, put_claim_sql, 15, NULL, cp.values, NULL, NULL, 0))
            break;
    }
    int rc = MC_OK;
    int synced = PQpipelineSync(s->conn) == 1;
    if (sent < n || !synced)
        rc = store_fail_result(s, "recording the decisions (sending)", NULL);
    for (size_t i = 0; i < sent && rc == MC_OK; i++)
        rc = pipeline_answer(s, &d[i], &effects[i], case_numbers[i], CASENUM_MAX);
    if (synced)
        pipeline_drain(s);
    if (!PQexitPipelineMode(s->conn))
        PQreset(s->conn); /* answers left unread on a failed connection: start it afresh
                           * (the server rolls the open transaction back) */
    return rc;
}

/* ---- cases and reviews ---- */

static const char case_sql[] =
    "SELECT c.case_number, c.claim_id, c.parcel_id, c.season,"
    "       to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "       d.applicant, d.scheme, to_char(d.window_start, 'YYYY-MM-DD'),"
    "       to_char(d.window_end, 'YYYY-MM-DD'), coalesce(d.min_mowings, 0), d.outcome,"
    "       d.rule, d.reason_text, d.reason_json::text, d.model_version,"
    "       to_char(d.decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "       to_char(d.as_of, 'YYYY-MM-DD')"
    " FROM cases c LEFT JOIN decisions d"
    "   ON d.claim_id = c.claim_id AND d.season = c.season AND d.is_current"
    " WHERE c.case_number = $1";

static int case_reviews(store *s, const char *number, store_case *c)
{
    const char *p[1] = {number};
    PGresult *r = store_query(
        s, "reading the reviews",
        "SELECT verdict, inspector, note,"
        " to_char(reviewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " review_id, db_login, coalesce(supersedes, 0), supersede_reason"
        " FROM reviews WHERE case_number = $1 ORDER BY reviewed_at, review_id",
        1, p);
    if (!r)
        return MC_ERR;
    size_t n = (size_t)PQntuples(r);
    c->reviews = calloc(n ? n : 1, sizeof *c->reviews);
    for (size_t i = 0; c->reviews && i < n; i++) {
        c->reviews[i].verdict = dup_text(r, (int)i, 0);
        c->reviews[i].inspector = dup_text(r, (int)i, 1);
        c->reviews[i].note = dup_text(r, (int)i, 2);
        c->reviews[i].reviewed_at = dup_text(r, (int)i, 3);
        c->reviews[i].review_id = strtoll(PQgetvalue(r, (int)i, 4), NULL, 10);
        c->reviews[i].db_login = dup_text(r, (int)i, 5);
        c->reviews[i].supersedes = strtoll(PQgetvalue(r, (int)i, 6), NULL, 10);
        if (!PQgetisnull(r, (int)i, 7))
            c->reviews[i].supersede_reason = dup_text(r, (int)i, 7);
    }
    c->n_reviews = c->reviews ? n : 0;
    PQclear(r);
    char season[16];
    const char *q[2] = {c->claim_id, season_text(c->season, season)};
    r = store_query(s, "reading the proposals",
                    "SELECT outcome, reason_text,"
                    " to_char(proposed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                    " FROM decision_proposals WHERE claim_id = $1 AND season = $2"
                    " ORDER BY proposal_id DESC LIMIT 1",
                    2, q);
    if (!r)
        return MC_ERR;
    if (PQntuples(r) == 1) {
        c->proposal_outcome = dup_text(r, 0, 0);
        c->proposal_text = dup_text(r, 0, 1);
        c->proposed_at = dup_text(r, 0, 2);
    }
    PQclear(r);
    return MC_OK;
}

int store_case_get(store *s, const char *case_number, store_case *c, int *found)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    const char *p[1] = {case_number};
    PGresult *r = store_query(s, "reading the case", case_sql, 1, p);
    if (!r)
        return mc_fail_wrap("case %s", case_number);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return MC_OK;
    }
    *found = 1;
    c->case_number = dup_text(r, 0, 0);
    c->claim_id = dup_text(r, 0, 1);
    c->parcel_id = dup_text(r, 0, 2);
    c->season = atoi(PQgetvalue(r, 0, 3));
    c->created_at = dup_text(r, 0, 4);
    c->applicant = dup_text(r, 0, 5);
    c->scheme = dup_text(r, 0, 6);
    c->window_start = dup_text(r, 0, 7);
    c->window_end = dup_text(r, 0, 8);
    c->min_mowings = atoi(PQgetvalue(r, 0, 9));
    c->outcome = dup_text(r, 0, 10);
    c->rule = dup_text(r, 0, 11);
    c->reason_text = dup_text(r, 0, 12);
    c->reason_json = dup_text(r, 0, 13);
    c->model_version = dup_text(r, 0, 14);
    c->decided_at = dup_text(r, 0, 15);
    c->as_of = dup_text(r, 0, 16);
    PQclear(r);
    if (case_reviews(s, case_number, c) != MC_OK) {
        store_case_free(c);
        *found = 0;
        return mc_fail_wrap("case %s", case_number);
    }
    return MC_OK;
}

void store_case_free(store_case *c)
{
    char **fields[] = {&c->case_number, &c->claim_id,    &c->parcel_id,   &c->created_at,
                       &c->applicant,   &c->scheme,      &c->window_start, &c->window_end,
                       &c->outcome,     &c->rule,        &c->reason_text, &c->reason_json,
                       &c->model_version, &c->decided_at, &c->as_of,     &c->proposal_outcome,
                       &c->proposal_text, &c->proposed_at};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
    for (size_t i = 0; i < c->n_reviews; i++) {
        free(c->reviews[i].verdict);
        free(c->reviews[i].inspector);
        free(c->reviews[i].note);
        free(c->reviews[i].reviewed_at);
        free(c->reviews[i].db_login);
        free(c->reviews[i].supersede_reason);
    }
    free(c->reviews);
    c->reviews = NULL;
    c->n_reviews = 0;
}

int store_review_add(store *s, const char *case_number, const char *verdict,
                     const char *inspector, const char *note)
{
    return store_review_supersede(s, case_number, verdict, inspector, note, NULL);
}

int store_review_supersede(store *s, const char *case_number, const char *verdict,
                           const char *inspector, const char *note, const char *reason)
{
    const char *p[5] = {case_number, verdict, inspector, note, reason};
    if (store_exec(s, "recording the review",
                   "INSERT INTO reviews (case_number, verdict, inspector, note, supersede_reason)"
                   " VALUES ($1, $2, coalesce($3, session_user), $4, $5)",
                   5, p) != MC_OK)
        return mc_fail_wrap("case %s", case_number);
    return MC_OK;
}

/* ---- the decision feed ---- */

/* COPY writes the CSV (quoting exact for any text); text cells go through
 * mowcheck_csv_cell (schemas/031): no control characters, no formulas. season is an
 * integer we format. */
static const char feed_sql[] =
    "COPY (SELECT mowcheck_csv_cell(d.claim_id) AS claim_id,"
    "  mowcheck_csv_cell(d.parcel_id) AS parcel_id, d.season, d.outcome, c.case_number,"
    "  lr.verdict AS reviewed,"
    "  mowcheck_csv_cell(CASE WHEN lr.verdict IS NULL THEN d.reason_text"
    "       ELSE format('Reviewed by inspector %%s on %%s: %%s. %%s (Automatic: %%s)',"
    "                   lr.inspector, to_char(lr.reviewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
    "                   replace(lr.verdict, '_', ' '), lr.note, d.reason_text) END) AS reason"
    " FROM decisions d"
    " LEFT JOIN cases c ON c.claim_id = d.claim_id AND c.season = d.season"
    " LEFT JOIN LATERAL (SELECT verdict, inspector, note, reviewed_at FROM reviews r"
    "   WHERE r.case_number = c.case_number ORDER BY reviewed_at DESC, review_id DESC LIMIT 1) lr"
    "   ON true"
    " WHERE d.is_current AND (%d = 0 OR d.season = %d)"
    " ORDER BY d.season, d.claim_id COLLATE \"C\" NULLS LAST, d.parcel_id COLLATE \"C\")"
    " TO STDOUT WITH (FORMAT csv, HEADER)";

int store_export_decisions(store *s, int season, FILE *out)
{
    char sql[sizeof feed_sql + 64];
    snprintf(sql, sizeof sql, feed_sql, season, season);
    return store_copy_out(s, "exporting the decisions", sql, out);
}
