/* The store: opening and closing it (a DSN or the private cluster, then the
 * migrations), runs, parcel sets and tiles. The connection helpers are in
 * store_conn.c, scenes in store_scene.c, migrations in store_migrate.c, the series
 * export in store_export.c. */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "store_conn.h"
#include "store_migrate.h"
/* ---- open / close ---- */

static void store_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("database: %.*s", (int)strcspn(message, "\n"), message);
}

static int connect_params(store *s, const char *const *keys, const char *const *vals,
                          const char *label)
{
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn)
        return mc_fail("%s: out of memory", label);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
        msg[strcspn(msg, "\n")] = '\0';
        return mc_fail("cannot connect to %s: %s", label, msg);
    }
    PQsetNoticeProcessor(s->conn, store_notice, NULL);
    const char *host = PQhost(s->conn);
    snprintf(s->where, sizeof s->where, "database %s on %s", PQdb(s->conn),
             host && *host ? host : "localhost");
    /* Dates as YYYY-MM-DD and times in UTC, whatever the server's defaults. */
    return store_exec(s, "setting the session", "SET datestyle = 'ISO, YMD'; SET timezone = 'UTC'",
                      0, NULL);
}

static int connect_dsn(store *s, const char *dsn)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {dsn, "mowcheck", NULL};
    /* A DSN may hold a password: name it in messages by what libpq tells after connecting. */
    return connect_params(s, keys, vals, "the database given by --db/MOWCHECK_DB");
}

static int connect_private(store *s, const char *state_dir)
{
    s->cluster = calloc(1, sizeof *s->cluster);
    if (!s->cluster)
        return mc_fail("out of memory");
    if (pgcluster_open(s->cluster, state_dir) != MC_OK) {
        free(s->cluster);
        s->cluster = NULL;
        return MC_ERR;
    }
    const char *keys[] = {"host", "port", "dbname", "user", "application_name", NULL};
    const char *vals[] = {s->cluster->socket_dir, PGCLUSTER_PORT, PGCLUSTER_DATABASE,
                          PGCLUSTER_SUPERUSER, "mowcheck", NULL};
    char label[PGCLUSTER_PATH_MAX + 64];
    snprintf(label, sizeof label, "the private database (socket %s)", s->cluster->socket_dir);
    return connect_params(s, keys, vals, label);
}

int store_open(const store_options *opt, store **out)
{
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s)
        return mc_fail("out of memory");
    snprintf(s->where, sizeof s->where, "database");
    int rc = opt->dsn && *opt->dsn ? connect_dsn(s, opt->dsn) : connect_private(s, opt->state_dir);
    char schema_dir[4096];
    if (rc == MC_OK)
        rc = store_schema_dir(opt->schema_dir, schema_dir, sizeof schema_dir);
    if (rc == MC_OK)
        rc = store_migrate(s, schema_dir, &s->n_migrations_applied);
    if (rc != MC_OK) {
        char saved[2048];
        snprintf(saved, sizeof saved, "%s", mc_error_message());
        store_close(s);
        mc_fail("%s", saved);
        return MC_ERR;
    }
    *out = s;
    return MC_OK;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    if (s->cluster) {
        if (pgcluster_close(s->cluster) != MC_OK)
            log_warn("%s", mc_error_message());
        free(s->cluster);
    }
    free(s);
}

/* ---- runs ---- */

int store_run_begin(store *s, const char *command, int64_t *run_id)
{
    char host[256] = "", pid[24];
    gethostname(host, sizeof host - 1);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    const char *params[] = {command, host, pid, MOWCHECK_VERSION};
    PGresult *r = store_query(s, "recording the run",
                              "INSERT INTO runs (command, host, pid, version) "
                              "VALUES ($1, $2, $3, $4) RETURNING run_id",
                              4, params);
    if (!r)
        return MC_ERR;
    *run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return MC_OK;
}

int store_run_end(store *s, int64_t run_id, const char *status, const char *summary_json)
{
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, run_id);
    const char *params[] = {id, status, summary_json};
    PGresult *r = store_query(s, "closing the run",
                              "UPDATE runs SET ended_at = now(), status = $2, summary = $3::jsonb "
                              "WHERE run_id = $1 RETURNING run_id",
                              3, params);
    if (!r)
        return mc_fail_wrap("run %" PRId64, run_id);
    int found = PQntuples(r) == 1;
    PQclear(r);
    if (!found)
        return mc_fail("run %" PRId64 ": no such run in %s", run_id, s->where);
    return MC_OK;
}

/* ---- parcel sets and tiles ---- */

int store_parcel_set_put(store *s, const char *set_hash, const char *source_path,
                         const char *id_field, size_t n_parcels)
{
    char n[24], lock[64];
    snprintf(n, sizeof n, "%zu", n_parcels);
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d, %d)", STORE_LOCK_CLASS,
             STORE_LOCK_PARCEL_SET);
    const char *params[] = {set_hash, source_path, id_field, n};
    if (store_begin(s, "recording the parcel set") != MC_OK)
        return MC_ERR;
    if (store_exec(s, "locking the parcel sets", lock, 0, NULL) != MC_OK ||
        store_exec(s, "recording the parcel set",
                   "UPDATE parcel_sets SET is_current = false WHERE is_current AND set_hash <> $1",
                   1, params) != MC_OK ||
        store_exec(s, "recording the parcel set",
                   "INSERT INTO parcel_sets (set_hash, source_path, id_field, n_parcels, "
                   "is_current) VALUES ($1, $2, $3, $4, true) "
                   "ON CONFLICT (set_hash) DO UPDATE SET source_path = EXCLUDED.source_path, "
                   "is_current = true, last_used_at = now()",
                   4, params) != MC_OK ||
        store_commit(s, "recording the parcel set") != MC_OK) {
        store_rollback(s);
        return mc_fail_wrap("parcel set %s (%s)", set_hash, source_path);
    }
    return MC_OK;
}

int store_parcel_members_known(store *s, const char *set_hash, int *known)
{
    const char *params[] = {set_hash};
    PGresult *r = store_query(s, "reading the parcel set's members",
                              "SELECT 1 FROM parcel_set_members WHERE set_hash = $1 LIMIT 1", 1,
                              params);
    if (!r)
        return mc_fail_wrap("parcel set %s", set_hash);
    *known = PQntuples(r) > 0;
    PQclear(r);
    return MC_OK;
}

static int copy_members(store *s, const char *set_hash, const char *const *ids,
                        const char *const *refused, size_t n)
{
    store_copy cp;
    if (store_copy_begin(s, &cp, "storing the parcel set's members",
                         "COPY parcel_set_members (set_hash, parcel_id, refused) FROM STDIN") !=
        MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < n && !cp.failed; i++) {
        store_copy_text(&cp, set_hash, 0);
        store_copy_text(&cp, ids[i], 0);
        store_copy_text(&cp, refused ? refused[i] : NULL, 1);
    }
    return store_copy_end(&cp, 0);
}

static int copy_overlaps(store *s, const char *set_hash, const store_parcel_overlap *ov,
                         size_t n)
{
    store_copy cp;
    if (store_copy_begin(s, &cp, "storing the parcel overlaps",
                         "COPY parcel_overlaps (set_hash, parcel_id, other_parcel_id, share) "
                         "FROM STDIN") != MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < n && !cp.failed; i++) {
        char share[32];
        snprintf(share, sizeof share, "%.17g", ov[i].share);
        store_copy_text(&cp, set_hash, 0);
        store_copy_text(&cp, ov[i].parcel_id, 0);
        store_copy_text(&cp, ov[i].other_parcel_id, 0);
        store_copy_text(&cp, share, 1);
    }
    return store_copy_end(&cp, 0);
}

int store_parcel_members_put(store *s, const char *set_hash, const char *const *ids,
                             const char *const *refused, size_t n,
                             const store_parcel_overlap *overlaps, size_t n_overlaps)
{
    char lock[80];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d, %d)", STORE_LOCK_CLASS,
             STORE_LOCK_PARCEL_MEMBERS);
    int known = 0;
    if (store_begin(s, "storing the parcel set's members") != MC_OK)
        return mc_fail_wrap("parcel set %s", set_hash);
    if (store_exec(s, "locking the parcel set's members", lock, 0, NULL) != MC_OK ||
        store_parcel_members_known(s, set_hash, &known) != MC_OK)
        goto fail;
    if (!known && (copy_members(s, set_hash, ids, refused, n) != MC_OK ||
                   copy_overlaps(s, set_hash, overlaps, n_overlaps) != MC_OK))
        goto fail;
    if (store_commit(s, "storing the parcel set's members") != MC_OK)
        goto fail;
    return MC_OK;
fail:
    store_rollback(s);
    return mc_fail_wrap("parcel set %s", set_hash);
}

int store_tile_put(store *s, const tile_grid *g)
{
    char epsg[16], w[16], h[16], gt[6 * 32 + 8];
    snprintf(epsg, sizeof epsg, "%d", g->epsg);
    snprintf(w, sizeof w, "%d", g->width);
    snprintf(h, sizeof h, "%d", g->height);
    /* %.17g prints each double so that it reads back bit for bit. A grid already stored
     * must match (geotransform within 1e-6 m, as scene_grids_equal). */
    snprintf(gt, sizeof gt, "{%.17g,%.17g,%.17g,%.17g,%.17g,%.17g}", g->geotransform[0],
             g->geotransform[1], g->geotransform[2], g->geotransform[3], g->geotransform[4],
             g->geotransform[5]);
    const char *params[] = {g->tile_id, epsg, gt, w, h};
    /* Two statements, not one: a statement's snapshot predates a concurrent worker's insert
     * that made ours DO NOTHING, so a single INSERT ... SELECT would not see that row. */
    if (store_exec(s, "recording the tile",
                   "INSERT INTO tiles (tile_id, epsg, geotransform, width, height) "
                   "VALUES ($1, $2, $3::float8[], $4, $5) ON CONFLICT (tile_id) DO NOTHING",
                   5, params) != MC_OK)
        return mc_fail_wrap("tile %s", g->tile_id);
    PGresult *r = store_query(
        s, "checking the tile",
        "SELECT epsg = $2::int AND width = $4::int AND height = $5::int"
        " AND (SELECT bool_and(abs(a - b) <= 1e-6)"
        "      FROM unnest(geotransform, $3::float8[]) AS u(a, b))"
        " FROM tiles WHERE tile_id = $1",
        5, params);
    if (!r)
        return mc_fail_wrap("tile %s", g->tile_id);
    int same = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!same)
        return mc_fail("tile %s: its grid (EPSG:%d, %dx%d px, geotransform %s) differs from the "
                       "one stored in %s",
                       g->tile_id, g->epsg, g->width, g->height, gt, s->where);
    return MC_OK;
}

int store_tiles_get(store *s, tile_grid **grids, size_t *n)
{
    *grids = NULL;
    *n = 0;
    PGresult *r = store_query(s, "reading the tiles",
                              "SELECT tile_id, epsg, width, height, geotransform[1], "
                              "geotransform[2], geotransform[3], geotransform[4], "
                              "geotransform[5], geotransform[6] FROM tiles ORDER BY tile_id",
                              0, NULL);
    if (!r)
        return MC_ERR;
    size_t rows = (size_t)PQntuples(r);
    tile_grid *g = rows ? calloc(rows, sizeof *g) : NULL;
    if (rows && !g) {
        PQclear(r);
        return mc_fail("reading the tiles: out of memory");
    }
    for (size_t i = 0; i < rows; i++) {
        snprintf(g[i].tile_id, sizeof g[i].tile_id, "%s", PQgetvalue(r, (int)i, 0));
        g[i].epsg = atoi(PQgetvalue(r, (int)i, 1));
        g[i].width = atoi(PQgetvalue(r, (int)i, 2));
        g[i].height = atoi(PQgetvalue(r, (int)i, 3));
        for (int k = 0; k < 6; k++)
            g[i].geotransform[k] = strtod(PQgetvalue(r, (int)i, 4 + k), NULL);
    }
    PQclear(r);
    *grids = g;
    *n = rows;
    return MC_OK;
}

/* SHA-256 hex of the counts as "parcel_id\tn_pixels\n" lines, in order. */
static int parcel_tile_digest(const char *const *parcel_ids, const int64_t *n_pixels, size_t n,
                              char hex[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return mc_fail("parcel pixel counts: SHA-256 unavailable");
    }
    for (size_t i = 0; i < n; i++) {
        char count[32];
        int len = snprintf(count, sizeof count, "\t%" PRId64 "\n", n_pixels[i]);
        EVP_DigestUpdate(ctx, parcel_ids[i], strlen(parcel_ids[i]));
        EVP_DigestUpdate(ctx, count, (size_t)len);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return MC_OK;
}

/* 1 where the stored counts of (set, tile) have this digest already. */
static int parcel_tile_unchanged(store *s, const char *set_hash, const char *tile_id,
                                 const char *digest, int *unchanged)
{
    const char *params[] = {set_hash, tile_id, digest};
    PGresult *r = store_query(s, "checking parcel pixel counts",
                              "SELECT 1 FROM parcel_tile_digests WHERE set_hash = $1 AND "
                              "tile_id = $2 AND digest = $3",
                              3, params);
    if (!r)
        return MC_ERR;
    *unchanged = PQntuples(r) == 1;
    PQclear(r);
    return MC_OK;
}

/* Workers of several tiles (or the same tile twice) may store the same counts at once:
 * a transaction-level advisory lock per (set, tile) makes them take turns, and the digest
 * is checked again under the lock, so the second one finds the counts stored. */
static int lock_parcel_tile(store *s, const char *set_hash, const char *tile_id)
{
    char key_text[256], key[32];
    snprintf(key_text, sizeof key_text, "parcel_tiles %s %s", set_hash, tile_id);
    snprintf(key, sizeof key, "%" PRId64, store_lock_key(key_text));
    const char *params[] = {key};
    return store_exec(s, "locking parcel pixel counts", "SELECT pg_advisory_xact_lock($1::bigint)",
                      1, params);
}

int store_parcel_tile_put(store *s, const char *set_hash, const char *tile_id,
                          const char *const *parcel_ids, const int64_t *n_pixels, size_t n)
{
    char digest[65], n_text[32];
    int unchanged = 0;
    if (parcel_tile_digest(parcel_ids, n_pixels, n, digest) != MC_OK)
        return mc_fail_wrap("parcel set %s, tile %s", set_hash, tile_id);
    snprintf(n_text, sizeof n_text, "%zu", n);
    const char *params[] = {set_hash, tile_id, digest, n_text};
    store_copy cp;
    if (store_begin(s, "storing parcel pixel counts") != MC_OK)
        return MC_ERR;
    if (lock_parcel_tile(s, set_hash, tile_id) != MC_OK ||
        parcel_tile_unchanged(s, set_hash, tile_id, digest, &unchanged) != MC_OK)
        goto fail;
    if (unchanged)
        return store_commit(s, "storing parcel pixel counts");
    if (store_exec(s, "storing parcel pixel counts",
                   "DELETE FROM parcel_tiles WHERE set_hash = $1 AND tile_id = $2", 2,
                   params) != MC_OK ||
        store_copy_begin(s, &cp, "storing parcel pixel counts",
                         "COPY parcel_tiles (set_hash, tile_id, parcel_id, n_pixels) "
                         "FROM STDIN") != MC_OK)
        goto fail;
    for (size_t i = 0; i < n && !cp.failed; i++) {
        store_copy_text(&cp, set_hash, 0);
        store_copy_text(&cp, tile_id, 0);
        store_copy_text(&cp, parcel_ids[i], 0);
        store_copy_int64(&cp, n_pixels[i], 1);
    }
    if (store_copy_end(&cp, 0) != MC_OK ||
        store_exec(s, "storing parcel pixel counts",
                   "INSERT INTO parcel_tile_digests (set_hash, tile_id, digest, n_parcels) "
                   "VALUES ($1, $2, $3, $4::integer) ON CONFLICT (set_hash, tile_id) DO UPDATE "
                   "SET digest = EXCLUDED.digest, n_parcels = EXCLUDED.n_parcels",
                   4, params) != MC_OK ||
        store_commit(s, "storing parcel pixel counts") != MC_OK)
        goto fail;
    return MC_OK;
fail:
    store_rollback(s);
    return mc_fail_wrap("parcel set %s, tile %s", set_hash, tile_id);
}

/* ---- stage locks (store.h) ---- */

static void stage_key(const char *name, char key[32])
{
    char text[128];
    snprintf(text, sizeof text, "mowcheck stage %s", name);
    snprintf(key, 32, "%" PRId64, store_lock_key(text));
}

int store_stage_lock(store *s, const char *name, int wait, int *acquired)
{
    char key[32];
    stage_key(name, key);
    const char *p[1] = {key};
    PGresult *r = store_query(s, "taking the stage lock",
                              wait ? "SELECT pg_advisory_lock($1::bigint), true"
                                   : "SELECT 1, pg_try_advisory_lock($1::bigint)",
                              1, p);
    if (!r)
        return mc_fail_wrap("lock of %s", name);
    *acquired = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    return MC_OK;
}

void store_stage_unlock(store *s, const char *name)
{
    char key[32];
    stage_key(name, key);
    const char *p[1] = {key};
    PGresult *r = store_query(s, "releasing the stage lock",
                              "SELECT pg_advisory_unlock($1::bigint)", 1, p);
    PQclear(r);
}
