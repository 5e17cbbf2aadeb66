/* Scenes: claims between concurrent workers, the all-or-nothing commit of a
 * scene and its observation parts, and the record of refused scenes. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "store.h"
#include "store_conn.h"

static void run_id_text(int64_t run_id, char buf[24], const char **param)
{
    snprintf(buf, 24, "%" PRId64, run_id);
    *param = run_id > 0 ? buf : NULL; /* 0: no run */
}

int store_scene_state_of(store *s, const char *scene_id, const char *set_hash, int swir_on_disk,
                         store_scene_state *state)
{
    const char *params[] = {scene_id, set_hash};
    PGresult *r = store_query(s, "looking up the scene",
                              "SELECT set_hash = $2, has_swir FROM scenes WHERE scene_id = $1", 2,
                              params);
    if (!r)
        return mc_fail_wrap("scene %s", scene_id);
    if (PQntuples(r) == 0)
        *state = STORE_SCENE_NEW;
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        *state = STORE_SCENE_OTHER_SET;
    else if (swir_on_disk && strcmp(PQgetvalue(r, 0, 1), "t") != 0)
        *state = STORE_SCENE_SWIR_ADDED;
    else
        *state = STORE_SCENE_STORED;
    PQclear(r);
    return MC_OK;
}

int store_scene_claim(store *s, const char *scene_id, const char *set_hash, int swir_on_disk,
                      int *claimed)
{
    *claimed = 0;
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, store_lock_key(scene_id));
    const char *params[] = {key};
    PGresult *r = store_query(s, "claiming the scene", "SELECT pg_try_advisory_lock($1::bigint)",
                              1, params);
    if (!r)
        return mc_fail_wrap("scene %s", scene_id);
    int locked = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!locked)
        return MC_OK; /* another worker has it */
    store_scene_state state;
    if (store_scene_state_of(s, scene_id, set_hash, swir_on_disk, &state) != MC_OK) {
        store_scene_release(s, scene_id);
        return MC_ERR;
    }
    if (state == STORE_SCENE_STORED) {
        store_scene_release(s, scene_id);
        return MC_OK;
    }
    *claimed = 1;
    return MC_OK;
}

void store_scene_release(store *s, const char *scene_id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, store_lock_key(scene_id));
    const char *params[] = {key};
    PGresult *r = PQexecParams(s->conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, params,
                               NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        log_warn("scene %s: releasing the claim: %s", scene_id, PQerrorMessage(s->conn));
    PQclear(r);
}

/* The scene row; *inserted = 0 where a scene of the same id or tile-date exists. */
static int insert_scene(store *s, int64_t run_id, const scene_info *sc, const char *set_hash,
                        int *inserted)
{
    char seq[16], offset[16], run[24];
    const char *run_param;
    snprintf(seq, sizeof seq, "%d", sc->sequence);
    snprintf(offset, sizeof offset, "%" PRId32, sc->reflectance_offset_dn);
    run_id_text(run_id, run, &run_param);
    const char *params[] = {sc->scene_id, sc->tile_id, sc->acquired_on, sc->satellite, seq,
                            sc->processing_baseline[0] ? sc->processing_baseline : NULL,
                            offset, sc->path, set_hash, run_param, sc->has_swir ? "t" : "f"};
    PGresult *r = store_query(
        s, "storing the scene",
        "INSERT INTO scenes (scene_id, tile_id, acquired_on, satellite, sequence, "
        "processing_baseline, reflectance_offset_dn, path, set_hash, run_id, has_swir) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING "
        "RETURNING 1",
        11, params);
    if (!r)
        return MC_ERR;
    *inserted = PQntuples(r) == 1;
    PQclear(r);
    return MC_OK;
}

/* The partition of observation_parts (season, then tile; schemas/004) that takes
 * this scene's parts, made where missing. In a transaction of its own, before the
 * scene's: making a partition locks its season exclusively until commit, and
 * inside the scene's transaction that would hold every other worker of the season
 * for the whole scene (and could deadlock two first scenes of two tiles). */
static int ensure_partition(store *s, const scene_info *sc, char *leaf, size_t size)
{
    const char *params[] = {sc->acquired_on, sc->tile_id};
    PGresult *r = store_query(s, "making the scene's partition of observation_parts",
                              "SELECT observation_parts_partition($1::date, $2)::text", 2,
                              params);
    if (!r)
        return MC_ERR;
    int fits = snprintf(leaf, size, "%s", PQgetvalue(r, 0, 0)) < (int)size;
    PQclear(r);
    return fits ? MC_OK : mc_fail("partition name of tile %s too long", sc->tile_id);
}

/* Into the leaf partition itself (its name as the server quotes it): COPY into the
 * partitioned parent would insert row by row (schemas/005). Each row carries the
 * scene's tile and date: the partition keys. The NDMI sums only where the scene has
 * B11; without it they stay NULL (schemas/023). Binary COPY: the server takes the
 * numbers as they are instead of parsing ~1.4 million decimal fields per full
 * tile-date (docs/performance.md). */
static int copy_parts(store *s, const scene_info *sc, const char *leaf,
                      const store_obs_part *parts, size_t n)
{
    int32_t date;
    if (store_date_days(sc->acquired_on, &date) != MC_OK)
        return mc_fail_wrap("the scene's acquisition date");
    store_copy cp;
    char sql[512];
    snprintf(sql, sizeof sql,
             "COPY %s (scene_id, parcel_id, n_total, n_valid, n_seen, sum_q, sum_q2, tile_id, "
             "acquired_on%s) FROM STDIN (FORMAT binary)",
             leaf, sc->has_swir ? ", n_moist, sum_m" : "");
    if (store_copy_binary_begin(s, &cp, "storing the observations", sql) != MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < n && !cp.failed; i++) {
        store_copy_row(&cp, sc->has_swir ? 11 : 9);
        store_copy_bin_text(&cp, sc->scene_id);
        store_copy_bin_text(&cp, parts[i].parcel_id);
        store_copy_bin_int64(&cp, parts[i].n_total);
        store_copy_bin_int64(&cp, parts[i].stats.n_valid);
        store_copy_bin_int64(&cp, parts[i].stats.n_seen);
        store_copy_bin_int64(&cp, parts[i].stats.sum_q);
        store_copy_bin_int64(&cp, parts[i].stats.sum_q2);
        store_copy_bin_text(&cp, sc->tile_id);
        store_copy_bin_date(&cp, date);
        if (sc->has_swir) {
            store_copy_bin_int64(&cp, parts[i].stats.n_moist);
            store_copy_bin_int64(&cp, parts[i].stats.sum_m);
        }
    }
    return store_copy_end(&cp, 0);
}

/* A scene stored for another parcel set becomes this set's, and one stored without
 * B11 gets the B11 it has now: the row is re-pointed and its old parts deleted (tile
 * and date prune the partitions), in the caller's transaction. *taken = 0 where the
 * scene is not stored (or stored as it is). */
static int take_over_scene(store *s, int64_t run_id, const scene_info *sc, const char *set_hash,
                           int *taken)
{
    char run[24];
    const char *run_param;
    run_id_text(run_id, run, &run_param);
    const char *params[] = {sc->scene_id, set_hash, run_param, sc->path,
                            sc->has_swir ? "t" : "f"};
    const char *where[] = {sc->scene_id, sc->tile_id, sc->acquired_on};
    PGresult *r = store_query(s, "re-measuring the scene",
                              "UPDATE scenes SET set_hash = $2, run_id = $3, path = $4, "
                              "has_swir = $5, ingested_at = now() WHERE scene_id = $1 "
                              "AND (set_hash <> $2 OR (NOT has_swir AND $5::boolean)) "
                              "RETURNING 1",
                              5, params);
    if (!r)
        return MC_ERR;
    *taken = PQntuples(r) == 1;
    PQclear(r);
    if (!*taken)
        return MC_OK;
    return store_exec(s, "re-measuring the scene",
                      "DELETE FROM observation_parts WHERE scene_id = $1 AND tile_id = $2 "
                      "AND acquired_on = $3::date",
                      3, where);
}

int store_scene_commit(store *s, int64_t run_id, const scene_info *scene, const char *set_hash,
                       const store_obs_part *parts, size_t n_parts, int *duplicate,
                       int *remeasured)
{
    int taken = 0, inserted = 0;
    *duplicate = 0;
    if (remeasured)
        *remeasured = 0;
    const char *params[] = {scene->path};
    char leaf[256];
    if (ensure_partition(s, scene, leaf, sizeof leaf) != MC_OK)
        return mc_fail_wrap("scene %s (%s)", scene->scene_id, scene->path);
    if (store_begin(s, "storing the scene") != MC_OK)
        return mc_fail_wrap("scene %s", scene->scene_id);
    if (take_over_scene(s, run_id, scene, set_hash, &taken) != MC_OK)
        goto fail;
    if (!taken && insert_scene(s, run_id, scene, set_hash, &inserted) != MC_OK)
        goto fail;
    if (!taken && !inserted) {
        store_rollback(s);
        *duplicate = 1;
        return MC_OK;
    }
    if (copy_parts(s, scene, leaf, parts, n_parts) != MC_OK ||
        store_exec(s, "storing the scene",
                   "UPDATE scene_rejections SET resolved_at = now() "
                   "WHERE path = $1 AND resolved_at IS NULL",
                   1, params) != MC_OK ||
        store_commit(s, "storing the scene") != MC_OK)
        goto fail;
    if (remeasured)
        *remeasured = taken;
    return MC_OK;
fail:
    store_rollback(s);
    return mc_fail_wrap("scene %s (%s)", scene->scene_id, scene->path);
}

int store_scenes_of_other_sets(store *s, const char *set_hash, const char *const *tiles,
                               size_t n_tiles, long *n)
{
    *n = 0;
    const char *params[] = {set_hash};
    PGresult *r = store_query(s, "counting scenes of other parcel sets",
                              "SELECT tile_id, count(*) FROM scenes WHERE set_hash <> $1 "
                              "GROUP BY tile_id",
                              1, params);
    if (!r)
        return MC_ERR;
    for (int i = 0; i < PQntuples(r); i++) {
        int wanted = n_tiles == 0;
        for (size_t t = 0; t < n_tiles && !wanted; t++)
            wanted = strcmp(tiles[t], PQgetvalue(r, i, 0)) == 0;
        if (wanted)
            *n += atol(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return MC_OK;
}

int store_scene_reject(store *s, int64_t run_id, const char *scene_id, const char *path,
                       const char *reason)
{
    char run[24];
    const char *run_param;
    run_id_text(run_id, run, &run_param);
    const char *params[] = {path, scene_id && *scene_id ? scene_id : NULL, reason, run_param};
    if (store_exec(s, "recording the rejected scene",
                   "INSERT INTO scene_rejections (path, scene_id, reason, first_run_id, "
                   "last_run_id) VALUES ($1, $2, $3, $4, $4) "
                   "ON CONFLICT (path) DO UPDATE SET scene_id = EXCLUDED.scene_id, "
                   "reason = EXCLUDED.reason, last_run_id = EXCLUDED.last_run_id, "
                   "last_seen_at = now(), n_seen = scene_rejections.n_seen + 1, "
                   "resolved_at = NULL",
                   4, params) != MC_OK)
        return mc_fail_wrap("scene %s (%s)", scene_id ? scene_id : "?", path);
    return MC_OK;
}
