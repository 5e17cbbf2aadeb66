/* The detector's output in PostgreSQL: events and parcel-season summaries
 * (schemas/015_events.sql), replaced per parcel-season in one transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "error.h"
#include "dates.h"
#include "store.h"
#include "store_conn.h"

static void copy_int(store_copy *cp, int64_t v, int end_row) { store_copy_int64(cp, v, end_row); }

static void copy_double(store_copy *cp, double v, int end_row)
{
    char text[40];
    snprintf(text, sizeof text, "%.6f", v);
    store_copy_text(cp, text, end_row);
}

static void copy_day(store_copy *cp, int32_t day, int end_row)
{
    char text[11];
    date_format(day, text);
    store_copy_text(cp, text, end_row);
}

static int load_seasons(store *s, const char *run_id, const char *model_version,
                        const store_detected_season *v, size_t n)
{
    store_copy cp;
    if (store_copy_begin(s, &cp, "storing parcel-season summaries",
                         "COPY detect_seasons_in FROM STDIN") != MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < n; i++) {
        store_copy_text(&cp, v[i].parcel_id, 0);
        copy_int(&cp, v[i].season, 0);
        copy_int(&cp, v[i].n_clear_obs, 0);
        store_copy_text(&cp, v[i].sufficient ? "t" : "f", 0);
        copy_double(&cp, v[i].mowed_probability, 0);
        store_copy_text(&cp, v[i].reason, 0);
        store_copy_text(&cp, model_version, 0);
        store_copy_text(&cp, run_id, 0);
        store_copy_text(&cp, v[i].keep_events ? "t" : "f", 1);
    }
    return store_copy_end(&cp, 0);
}

static int load_events(store *s, const char *run_id, const char *model_version,
                       const store_detected_event *v, size_t n)
{
    store_copy cp;
    if (store_copy_begin(s, &cp, "storing mowing events", "COPY detect_events_in FROM STDIN") !=
        MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < n; i++) {
        store_copy_text(&cp, v[i].parcel_id, 0);
        copy_int(&cp, v[i].season, 0);
        copy_day(&cp, v[i].day_start, 0);
        copy_day(&cp, v[i].day_end, 0);
        copy_day(&cp, v[i].day, 0);
        copy_double(&cp, v[i].confidence, 0);
        store_copy_text(&cp, model_version, 0);
        store_copy_text(&cp, run_id, 1);
    }
    return store_copy_end(&cp, 0);
}

/* Staging tables live for the transaction only; the replace is a few set statements.
 * A parcel-season already stored is updated in place: deleting and inserting the
 * same keys costs about twice as much (the new index entries of the primary key meet
 * the dead ones of the deleted rows; measured on 160,000 of 200,000 parcel-seasons:
 * 0.9-1.5 s against 0.6 s). */
static const char staging_sql[] =
    "CREATE TEMP TABLE detect_seasons_in (LIKE parcel_seasons, keep_events boolean NOT NULL)"
    " ON COMMIT DROP;"
    "CREATE TEMP TABLE detect_events_in (LIKE events) ON COMMIT DROP";
static const char update_sql[] =
    "UPDATE parcel_seasons p SET n_clear_obs = i.n_clear_obs, sufficient = i.sufficient,"
    " mowed_probability = i.mowed_probability, reason = i.reason,"
    " model_version = i.model_version, run_id = i.run_id"
    " FROM detect_seasons_in i WHERE p.parcel_id = i.parcel_id AND p.season = i.season";
static const char insert_new_sql[] =
    "INSERT INTO parcel_seasons (parcel_id, season, n_clear_obs, sufficient, mowed_probability,"
    " reason, model_version, run_id)"
    " SELECT i.parcel_id, i.season, i.n_clear_obs, i.sufficient, i.mowed_probability, i.reason,"
    " i.model_version, i.run_id FROM detect_seasons_in i"
    " ON CONFLICT (parcel_id, season) DO NOTHING"; /* updated already */

/* The staged rows replace the stored ones: the events of the seasons whose events
 * changed, the summaries updated in place, the new parcel-seasons inserted (where
 * the update did not reach them all). The insert skips the updated ones through the
 * primary key: a NOT EXISTS on parcel_seasons would scan the pages the insert itself
 * adds, once per row (quadratic: minutes for 200,000 new parcel-seasons). */
static int replace_staged(store *s, size_t n_seasons, size_t n_events)
{
    if (store_exec(s, "storing detections",
                   "ANALYZE detect_seasons_in;"
                   "DELETE FROM events e USING detect_seasons_in i WHERE e.parcel_id = i.parcel_id"
                   " AND e.season = i.season AND NOT i.keep_events",
                   0, NULL) != MC_OK)
        return MC_ERR;
    PGresult *r = store_query(s, "storing parcel-season summaries", update_sql, 0, NULL);
    if (!r)
        return MC_ERR;
    size_t updated = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (updated < n_seasons &&
        store_exec(s, "storing parcel-season summaries", insert_new_sql, 0, NULL) != MC_OK)
        return MC_ERR;
    if (n_events && store_exec(s, "storing mowing events",
                               "INSERT INTO events SELECT * FROM detect_events_in", 0,
                               NULL) != MC_OK)
        return MC_ERR;
    return MC_OK;
}

/* Whether the last run that stored detections is written_by (read under the lock). */
static int last_writer_is(store *s, int64_t written_by, int *is)
{
    char id[32];
    snprintf(id, sizeof id, "%" PRId64, written_by);
    const char *p[1] = {id};
    PGresult *r = store_query(s, "reading the last detect run that stored",
                              "SELECT count(*) FROM detection_writer WHERE run_id = $1::bigint",
                              1, p);
    if (!r)
        return MC_ERR;
    *is = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    PQclear(r);
    return MC_OK;
}

int store_detection_replace_since(store *s, int64_t written_by, int64_t run_id,
                                  const char *model_version,
                                  const store_detected_season *seasons, size_t n_seasons,
                                  const store_detected_event *events, size_t n_events,
                                  int *stale)
{
    *stale = 0;
    if (run_id <= 0)
        return mc_fail("storing detections: no run (the detect stage records one first)");
    char run_text[32];
    snprintf(run_text, sizeof run_text, "%" PRId64, run_id);
    if (store_begin(s, "storing detections") != MC_OK)
        return MC_ERR;
    /* Two detect runs at once (two `mowcheck run` on one database) take turns here
     * instead of one dying on a duplicate key. */
    char key[32];
    snprintf(key, sizeof key, "%" PRId64, store_lock_key("mowcheck stage detect"));
    const char *lock[1] = {key}, *run[1] = {run_text};
    int last_ok = 1;
    if (store_exec(s, "waiting for another detect run", "SELECT pg_advisory_xact_lock($1::bigint)",
                   1, lock) != MC_OK ||
        (written_by > 0 && last_writer_is(s, written_by, &last_ok) != MC_OK))
        goto fail;
    if (!last_ok) {
        store_rollback(s);
        *stale = 1;
        return MC_OK;
    }
    if (store_exec(s, "storing detections", staging_sql, 0, NULL) != MC_OK ||
        load_seasons(s, run_text, model_version, seasons, n_seasons) != MC_OK ||
        load_events(s, run_text, model_version, events, n_events) != MC_OK ||
        replace_staged(s, n_seasons, n_events) != MC_OK ||
        store_exec(s, "recording the run that stored detections",
                   "INSERT INTO detection_writer (run_id) VALUES ($1::bigint)"
                   " ON CONFLICT (only_row) DO UPDATE SET run_id = EXCLUDED.run_id",
                   1, run) != MC_OK)
        goto fail;
    return store_commit(s, "storing detections");
fail:
    store_rollback(s);
    return MC_ERR;
}

int store_detection_replace(store *s, int64_t run_id, const char *model_version,
                            const store_detected_season *seasons, size_t n_seasons,
                            const store_detected_event *events, size_t n_events)
{
    int stale;
    return store_detection_replace_since(s, 0, run_id, model_version, seasons, n_seasons, events,
                                         n_events, &stale);
}

int store_detection_models(store *s, int season, char ***versions, size_t *n)
{
    char season_s[16];
    snprintf(season_s, sizeof season_s, "%d", season);
    const char *p[1] = {season_s};
    return store_query_strings(s, "reading the detector's model versions",
                               "SELECT DISTINCT model_version FROM parcel_seasons"
                               " WHERE season = $1 ORDER BY 1",
                               1, p, versions, n);
}
