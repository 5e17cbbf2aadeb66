/* The ingest stage (see ingest.h): scenes folder + parcels -> stored observations. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bands.h"
#include "error.h"
#include "log.h"
#include "parcel_members.h"
#include "parcels.h"
#include "progress.h"
#include "scene.h"
#include "stage_counts.h"
#include "text_check.h"

/* A scene of a tile and date that is stored (before or by this run). */
typedef struct stored_scene {
    char tile_id[TILE_ID_MAX];
    char acquired_on[11];
    char scene_id[SCENE_ID_MAX];
} stored_scene;

typedef struct ingest_ctx {
    const ingest_options *opt;
    store *s;
    int64_t run_id;
    ingest_summary *sum;
    kernel_params params;
    parcel_set *set;
    scene_info *scenes; /* new scenes whose name and item.json are fine */
    int *valid;         /* per scene: 1 while it passes validation */
    size_t n_scenes;
    scene_info *others; /* scenes of tiles not asked for (their grids decide ownership) */
    size_t n_others;
    tile_grid *grids;   /* every tile known: stored + found now */
    size_t n_grids;
    stored_scene *stored;
    size_t n_stored, cap_stored;
    unsigned char *observed; /* per parcel of the set: an observation written by this run */
    size_t parcels_observed;
    size_t n_other_set;      /* found scenes stored for another parcel set */
    size_t n_swir_added;     /* found scenes stored without B11 that have it now */
    progress bar;            /* scenes read, on a terminal */
} ingest_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return MC_OK;
    size_t n = *cap ? *cap * 2 : 32;
    while (n < need)
        n *= 2;
    void *p = realloc(*array, n * elem);
    if (!p)
        return mc_fail("out of memory");
    *array = p;
    *cap = n;
    return MC_OK;
}

static int remember_stored(ingest_ctx *c, const scene_info *sc)
{
    if (grow((void **)&c->stored, &c->cap_stored, c->n_stored + 1, sizeof *c->stored) != MC_OK)
        return MC_ERR;
    stored_scene *st = &c->stored[c->n_stored++];
    snprintf(st->tile_id, sizeof st->tile_id, "%s", sc->tile_id);
    snprintf(st->acquired_on, sizeof st->acquired_on, "%s", sc->acquired_on);
    snprintf(st->scene_id, sizeof st->scene_id, "%s", sc->scene_id);
    return MC_OK;
}

static const char *stored_scene_of(const ingest_ctx *c, const char *tile, const char *date)
{
    for (size_t i = 0; i < c->n_stored; i++)
        if (strcmp(c->stored[i].tile_id, tile) == 0 && strcmp(c->stored[i].acquired_on, date) == 0)
            return c->stored[i].scene_id;
    return NULL;
}

/* A refusal the operator has acknowledged (`mowcheck scenes ignore`): said at info
 * level and counted apart, so it no longer raises the night's exit code. */
static int acknowledged(ingest_ctx *c, const char *scene_id, const char *path,
                        const char *reason, int *yes)
{
    char why[512];
    if (store_scene_ignored(c->s, scene_id, path, yes, why, sizeof why) != MC_OK)
        return mc_fail_wrap("looking up whether scene %s is ignored", path);
    if (*yes) {
        log_info("scene %s: %s (ignored by the operator: %s)", path, reason, why);
        c->sum->scenes_ignored++;
    }
    return MC_OK;
}

/* Reports and records a refused scene; the run goes on. MC_ERR only when the store fails. */
/* Names come from the folder as delivered: escaped (text_escape) before they reach
 * the log or the database, so that a newline cannot forge a log line and bytes that
 * are not UTF-8 cannot stop the night with an encoding error. */
static int reject(ingest_ctx *c, const char *scene_id, const char *path, const char *reason)
{
    char id[SCENE_PATH_MAX], where[SCENE_PATH_MAX], why[2 * SCENE_PATH_MAX];
    text_escape(scene_id, id, sizeof id);
    text_escape(path, where, sizeof where);
    text_escape(reason, why, sizeof why);
    int ignored;
    if (acknowledged(c, id, where, why, &ignored) != MC_OK)
        return MC_ERR;
    if (ignored)
        return MC_OK;
    log_warn("scene %s: %s", where, why);
    c->sum->scenes_rejected++;
    if (store_scene_reject(c->s, c->run_id, id, where, why) != MC_OK)
        return mc_fail_wrap("recording the rejection of scene %s", id);
    return MC_OK;
}

static int tile_wanted(const ingest_options *opt, const char *tile)
{
    if (!opt->tiles || opt->n_tiles == 0)
        return 1;
    for (size_t i = 0; i < opt->n_tiles; i++)
        if (strcmp(opt->tiles[i], tile) == 0)
            return 1;
    return 0;
}

static int push_scene(scene_info **array, size_t *n, size_t *cap, const scene_info *sc)
{
    if (grow((void **)array, cap, *n + 1, sizeof **array) != MC_OK)
        return MC_ERR;
    (*array)[(*n)++] = *sc;
    return MC_OK;
}

/* A delivery whose name is no scene of any layout: reported by name, with what is read. */
static int reject_unrecognised(ingest_ctx *c, const char *name, const char *path)
{
    char reason[2048];
    if (scene_safe_kind(name)) /* a product, just not one we read: its own reason */
        return reject(c, name, path, mc_error_message());
    snprintf(reason, sizeof reason,
             "%s; not a scene of any layout mowcheck reads (a scene folder named like "
             "S2B_35VLF_20260615_0_L2A or S2B_T35VLF_20260615T095031_L2A, a .SAFE folder or "
             ".SAFE.zip, or the archive's TT/L/SS/YYYY/M/ tree)",
             mc_error_message());
    return reject(c, name, path, reason);
}

/* Every delivery's normalised scene id, sorted by id then listing order: finds the
 * first delivery of a scene in O(log n). */
typedef struct delivery_id {
    char scene_id[SCENE_ID_MAX];
    size_t name_index;
} delivery_id;

static int cmp_delivery(const void *a, const void *b)
{
    const delivery_id *x = a, *y = b;
    int c = strcmp(x->scene_id, y->scene_id);
    return c ? c : (x->name_index > y->name_index) - (x->name_index < y->name_index);
}

static delivery_id *index_deliveries(const char *scenes_dir, char **names, size_t n)
{
    delivery_id *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        scene_info sc;
        ids[i].name_index = i;
        if (scene_identify(scenes_dir, names[i], &sc) == MC_OK)
            snprintf(ids[i].scene_id, sizeof ids[i].scene_id, "%s", sc.scene_id);
    }
    mc_error_clear();
    qsort(ids, n, sizeof *ids, cmp_delivery);
    return ids;
}

/* The earlier delivery of the same normalised scene, or NULL: one tile-date is one
 * scene, whatever layouts it arrived in. */
static const char *delivered_before(const delivery_id *ids, size_t n, const scene_info *sc,
                                    char **names, size_t i)
{
    delivery_id key;
    snprintf(key.scene_id, sizeof key.scene_id, "%s", sc->scene_id);
    key.name_index = 0;
    size_t lo = 0, hi = n; /* first entry >= key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_delivery(&ids[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && strcmp(ids[lo].scene_id, sc->scene_id) == 0 && ids[lo].name_index < i)
        return names[ids[lo].name_index];
    return NULL;
}

static int reject_second_delivery(ingest_ctx *c, const scene_info *sc, const char *first)
{
    char reason[SCENE_PATH_MAX + 256];
    snprintf(reason, sizeof reason,
             "duplicate of %s/%s: the same scene %s (tile %s, date %s) in another layout",
             c->opt->scenes_dir, first, sc->scene_id, sc->tile_id, sc->acquired_on);
    int ignored;
    if (acknowledged(c, sc->scene_id, sc->path, reason, &ignored) != MC_OK)
        return MC_ERR;
    if (ignored)
        return MC_OK;
    log_warn("scene %s: %s; not read", sc->path, reason);
    c->sum->scenes_duplicate++;
    if (store_scene_reject(c->s, c->run_id, sc->scene_id, sc->path, reason) != MC_OK)
        return mc_fail_wrap("recording duplicate scene %s", sc->path);
    return MC_OK;
}

/* Sorts the scene folders into: refused by name, other tiles, already stored, new. */
static int discover(ingest_ctx *c)
{
    char **names;
    size_t n_names, cap_scenes = 0, cap_others = 0;
    if (scene_list_dirs(c->opt->scenes_dir, &names, &n_names) != MC_OK)
        return MC_ERR;
    c->sum->scenes_folder_empty = n_names == 0;
    delivery_id *ids = index_deliveries(c->opt->scenes_dir, names, n_names);
    int rc = ids ? MC_OK : mc_fail("out of memory");
    for (size_t i = 0; i < n_names && rc == MC_OK; i++) {
        scene_info sc;
        char path[SCENE_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", c->opt->scenes_dir, names[i]);
        if (scene_identify(c->opt->scenes_dir, names[i], &sc) != MC_OK) {
            /* never stored, so new: each found scene is counted once, as skipped or new,
             * and every rejected one among the new */
            c->sum->scenes_found++;
            c->sum->scenes_new++;
            rc = reject_unrecognised(c, names[i], path);
            continue;
        }
        if (!tile_wanted(c->opt, sc.tile_id)) { /* another task's tile */
            rc = push_scene(&c->others, &c->n_others, &cap_others, &sc);
            continue;
        }
        c->sum->scenes_found++;
        const char *first = delivered_before(ids, n_names, &sc, names, i);
        if (first) {
            rc = reject_second_delivery(c, &sc, first);
            continue;
        }
        store_scene_state state;
        if ((rc = store_scene_state_of(c->s, sc.scene_id, c->set->hash, scene_swir_present(&sc),
                                       &state)) != MC_OK)
            break;
        if (state == STORE_SCENE_STORED) {
            c->sum->scenes_skipped++;
            rc = remember_stored(c, &sc);
            continue;
        }
        if (state == STORE_SCENE_OTHER_SET)
            c->n_other_set++;
        else if (state == STORE_SCENE_SWIR_ADDED)
            c->n_swir_added++;
        else
            c->sum->scenes_new++;
        if (scene_load(c->opt->scenes_dir, names[i], &sc) != MC_OK) {
            char id[SCENE_ID_MAX]; /* the identity the name gave, for the record */
            snprintf(id, sizeof id, "%s", sc.scene_id);
            rc = reject(c, id, path, mc_error_message());
            continue;
        }
        rc = push_scene(&c->scenes, &c->n_scenes, &cap_scenes, &sc);
    }
    scene_names_free(names, n_names);
    free(ids);
    if (rc == MC_OK && c->n_scenes > 1)
        qsort(c->scenes, c->n_scenes, sizeof *c->scenes, scene_compare);
    if (rc == MC_OK && !(c->valid = calloc(c->n_scenes ? c->n_scenes : 1, sizeof *c->valid)))
        rc = mc_fail("out of memory");
    return rc;
}

static const tile_grid *grid_of(const ingest_ctx *c, const char *tile)
{
    for (size_t i = 0; i < c->n_grids; i++)
        if (strcmp(c->grids[i].tile_id, tile) == 0)
            return &c->grids[i];
    return NULL;
}

static int add_grid(ingest_ctx *c, const tile_grid *g)
{
    tile_grid *p = realloc(c->grids, (c->n_grids + 1) * sizeof *p);
    if (!p)
        return mc_fail("out of memory");
    c->grids = p;
    c->grids[c->n_grids++] = *g;
    if (store_tile_put(c->s, g) != MC_OK)
        return mc_fail_wrap("storing the grid of tile %s", g->tile_id);
    return MC_OK;
}

/* Validates every new scene before any pixel is used; learns the grids of new tiles. */
static int validate_scenes(ingest_ctx *c)
{
    for (size_t i = 0; i < c->n_scenes; i++) {
        scene_info *sc = &c->scenes[i];
        tile_grid g;
        if (scene_validate(sc, &g) != MC_OK) {
            if (reject(c, sc->scene_id, sc->path, mc_error_message()) != MC_OK)
                return MC_ERR;
            continue;
        }
        const tile_grid *known = grid_of(c, sc->tile_id);
        if (known && !scene_grids_equal(known, &g)) {
            char reason[512];
            snprintf(reason, sizeof reason,
                     "grid (EPSG:%d, %dx%d px, corner %.3f %.3f) differs from tile %s's known grid "
                     "(EPSG:%d, %dx%d px, corner %.3f %.3f)",
                     g.epsg, g.width, g.height, g.geotransform[0], g.geotransform[3], sc->tile_id,
                     known->epsg, known->width, known->height, known->geotransform[0],
                     known->geotransform[3]);
            if (reject(c, sc->scene_id, sc->path, reason) != MC_OK)
                return MC_ERR;
            continue;
        }
        if (!known && add_grid(c, &g) != MC_OK)
            return MC_ERR;
        c->valid[i] = 1;
    }
    return MC_OK;
}

/* Tiles of other tasks (--tile) still decide which tile owns a ground point, so
 * their grids are read from any of their scenes that validates (nothing is refused). */
static int learn_other_grids(ingest_ctx *c)
{
    for (size_t i = 0; i < c->n_others; i++) {
        tile_grid g;
        if (grid_of(c, c->others[i].tile_id))
            continue;
        /* discover only identified it: its metadata names its band files */
        scene_info full;
        const char *name = c->others[i].path + strlen(c->opt->scenes_dir) + 1;
        if (scene_load(c->opt->scenes_dir, name, &full) != MC_OK ||
            scene_validate(&full, &g) != MC_OK) {
            mc_error_clear();
            continue;
        }
        if (add_grid(c, &g) != MC_OK)
            return MC_ERR;
    }
    return MC_OK;
}

/* The observation parts of one scene: every parcel this tile owns pixels of, so that a
 * parcel split over tiles adds up to its whole pixel count. */
static int scene_parts(const label_raster *lr, const parcel_set *set, const kernel_stats *stats,
                       store_obs_part **parts, size_t *n_parts)
{
    size_t n = 0;
    for (uint32_t l = 1; l <= lr->n_labels; l++)
        n += lr->n_pixels[l] > 0;
    store_obs_part *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return mc_fail("out of memory for %zu observation parts", n);
    size_t k = 0;
    for (uint32_t l = 1; l <= lr->n_labels; l++) {
        if (lr->n_pixels[l] <= 0)
            continue;
        p[k].parcel_id = set->ids[l - 1];
        p[k].n_total = lr->n_pixels[l];
        p[k].stats = stats[l];
        k++;
    }
    *parts = p;
    *n_parts = n;
    return MC_OK;
}

/* Reads one claimed scene and stores it (one transaction in the store). */
static int ingest_scene(ingest_ctx *c, const scene_info *sc, const tile_grid *g,
                        const label_raster *lr)
{
    kernel_stats *stats = calloc((size_t)lr->n_labels + 1, sizeof *stats);
    if (!stats)
        return mc_fail("scene %s: out of memory", sc->path);
    kernel_params p = c->params;
    p.reflectance_offset_dn = sc->reflectance_offset_dn;
    bands_counts counts = {0};
    double t0 = now_s();
    if (bands_accumulate(sc, g, lr, &p, c->opt->device, c->opt->n_threads, stats, &counts) !=
        MC_OK) {
        free(stats);
        /* Nothing of this scene was stored: the read failed before the commit. */
        return reject(c, sc->scene_id, sc->path, mc_error_message());
    }
    double t_read = now_s() - t0;
    c->sum->pixels_decoded += counts.pixels_decoded;
    c->sum->pixels_skipped += counts.pixels_skipped;
    store_obs_part *parts = NULL;
    size_t n_parts = 0;
    int rc = scene_parts(lr, c->set, stats, &parts, &n_parts);
    free(stats);
    if (rc != MC_OK)
        return MC_ERR;
    int duplicate = 0, remeasured = 0;
    rc = store_scene_commit(c->s, c->run_id, sc, c->set->hash, parts, n_parts, &duplicate,
                            &remeasured);
    free(parts);
    if (rc != MC_OK)
        return mc_fail_wrap("storing scene %s", sc->scene_id);
    if (duplicate) {
        const char *other = stored_scene_of(c, sc->tile_id, sc->acquired_on);
        char reason[SCENE_ID_MAX + 128];
        snprintf(reason, sizeof reason, "duplicate of %s (same tile %s and date %s)",
                 other ? other : "a scene already stored", sc->tile_id, sc->acquired_on);
        int ignored;
        if (acknowledged(c, sc->scene_id, sc->path, reason, &ignored) != MC_OK)
            return MC_ERR;
        if (ignored)
            return MC_OK;
        log_warn("scene %s: %s is a duplicate of %s; not stored", sc->path, sc->scene_id,
                 other ? other : "a stored scene of the same tile and date");
        c->sum->scenes_duplicate++;
        if (store_scene_reject(c->s, c->run_id, sc->scene_id, sc->path, reason) != MC_OK)
            return mc_fail_wrap("recording duplicate scene %s", sc->scene_id);
        return MC_OK;
    }
    if (remeasured)
        c->sum->scenes_remeasured++;
    else
        c->sum->scenes_ingested++;
    c->sum->scenes_with_swir += sc->has_swir != 0;
    c->sum->observations += (int64_t)n_parts;
    for (uint32_t l = 1; l <= lr->n_labels; l++)
        if (lr->n_pixels[l] > 0 && !c->observed[l - 1]) {
            c->observed[l - 1] = 1;
            c->parcels_observed++;
        }
    log_info("scene %s: %zu parcels observed, %.1f Mpx decoded in %.2f s, stored in %.2f s",
             sc->scene_id, n_parts, counts.pixels_decoded / 1e6, t_read, now_s() - t0 - t_read);
    return remember_stored(c, sc);
}

static int claim_and_ingest(ingest_ctx *c, const scene_info *sc, const tile_grid *g,
                            const label_raster *lr)
{
    int claimed = 0;
    if (store_scene_claim(c->s, sc->scene_id, c->set->hash, sc->has_swir, &claimed) != MC_OK)
        return mc_fail_wrap("claiming scene %s", sc->scene_id);
    if (!claimed) {
        log_info("scene %s: taken by another worker or already stored; skipped", sc->scene_id);
        c->sum->scenes_skipped++;
        return MC_OK;
    }
    int rc = ingest_scene(c, sc, g, lr);
    store_scene_release(c->s, sc->scene_id);
    return rc;
}

/* The tile's parcel pixel counts, per parcel the tile owns pixels of. */
static int put_parcel_tile(ingest_ctx *c, const char *tile, const label_raster *lr)
{
    size_t n = 0;
    const char **ids = malloc(((size_t)lr->n_labels + 1) * sizeof *ids);
    int64_t *px = malloc(((size_t)lr->n_labels + 1) * sizeof *px);
    int rc = MC_OK;
    if (!ids || !px)
        rc = mc_fail("out of memory");
    for (uint32_t l = 1; rc == MC_OK && l <= lr->n_labels; l++)
        if (lr->n_pixels[l] > 0) {
            ids[n] = c->set->ids[l - 1];
            px[n++] = lr->n_pixels[l];
        }
    if (rc == MC_OK && store_parcel_tile_put(c->s, c->set->hash, tile, ids, px, n) != MC_OK)
        rc = mc_fail_wrap("storing parcel pixel counts of tile %s", tile);
    free(ids);
    free(px);
    return rc;
}

/* One tile: its label raster (through the cache), then its new scenes by date. */
static int ingest_tile(ingest_ctx *c, const char *tile)
{
    const tile_grid *g = grid_of(c, tile);
    char cache_dir[SCENE_PATH_MAX];
    snprintf(cache_dir, sizeof cache_dir, "%s/labels", c->opt->state_dir);
    label_raster *lr = NULL;
    double t0 = now_s();
    if (labels_get_cached(cache_dir, c->set, g, c->grids, c->n_grids, c->opt->inner_buffer_m,
                          &lr) != MC_OK)
        return mc_fail_wrap("label raster of tile %s", tile);
    log_debug("tile %s: label raster in %.2f s", tile, now_s() - t0);
    int rc = put_parcel_tile(c, tile, lr);
    for (size_t i = 0; i < c->n_scenes && rc == MC_OK; i++)
        if (c->valid[i] && strcmp(c->scenes[i].tile_id, tile) == 0) {
            rc = claim_and_ingest(c, &c->scenes[i], g, lr);
            progress_step(&c->bar, 1);
        }
    labels_free(lr);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ingest_tiles(ingest_ctx *c)
{
    const char **tiles = calloc(c->n_scenes ? c->n_scenes : 1, sizeof *tiles);
    size_t n = 0, n_valid = 0;
    if (!tiles)
        return mc_fail("out of memory");
    for (size_t i = 0; i < c->n_scenes; i++) {
        if (!c->valid[i])
            continue;
        n_valid++;
        size_t k = 0;
        while (k < n && strcmp(tiles[k], c->scenes[i].tile_id) != 0)
            k++;
        if (k == n)
            tiles[n++] = c->scenes[i].tile_id;
    }
    qsort(tiles, n, sizeof *tiles, cmp_str);
    int rc = MC_OK;
    /* The bar counts every scene found, as the summary does: those already decided
     * (stored before, refused, duplicates) at once, then each one read. */
    progress_begin(&c->bar, "scenes", (int64_t)c->sum->scenes_found);
    progress_step(&c->bar, (int64_t)c->sum->scenes_found - (int64_t)n_valid);
    for (size_t k = 0; k < n && rc == MC_OK; k++)
        rc = ingest_tile(c, tiles[k]);
    progress_end(&c->bar);
    free(tiles);
    return rc;
}

static int load_parcels(ingest_ctx *c)
{
    const char *id_field = c->opt->id_field ? c->opt->id_field : "parcel_id";
    char cache_dir[SCENE_PATH_MAX];
    snprintf(cache_dir, sizeof cache_dir, "%s/parcels", c->opt->state_dir);
    if (parcels_load_cached(cache_dir, c->opt->parcels_path, id_field, c->opt->inner_buffer_m,
                            &c->set) != MC_OK)
        return MC_ERR;
    c->sum->parcels = c->set->n;
    if (!(c->observed = calloc(c->set->n + 1, 1)))
        return mc_fail("parcels %s: out of memory", c->opt->parcels_path);
    if (store_parcel_set_put(c->s, c->set->hash, c->set->source_path, id_field, c->set->n) != MC_OK)
        return mc_fail_wrap("storing parcel set %s", c->opt->parcels_path);
    if (parcel_members_record(c->s, c->set, c->opt->overlap_share, NULL) != MC_OK)
        return MC_ERR;
    log_info("parcels %s: %zu parcels (%zu refused)", c->opt->parcels_path, c->set->n,
             c->set->n_refused);
    return MC_OK;
}

static int load_grids(ingest_ctx *c)
{
    tile_grid *grids = NULL;
    size_t n = 0;
    if (store_tiles_get(c->s, &grids, &n) != MC_OK)
        return mc_fail_wrap("reading stored tiles");
    c->grids = grids;
    c->n_grids = n;
    return MC_OK;
}

/* Stored scenes still measured for an earlier parcel set (their folders are gone, or
 * they were refused now): the current set's series lacks their dates. */
static int count_left_behind(ingest_ctx *c)
{
    if (store_scenes_of_other_sets(c->s, c->set->hash, c->opt->tiles,
                                   c->opt->n_tiles, &c->sum->scenes_left_behind) != MC_OK)
        return mc_fail_wrap("counting scenes of earlier parcel sets");
    if (c->sum->scenes_left_behind > 0)
        log_warn("ingest: %ld stored scenes were measured for an earlier parcel set and could "
                 "not be measured again (folder no longer in %s, or refused): their dates are "
                 "missing from the series of %s",
                 c->sum->scenes_left_behind, c->opt->scenes_dir, c->opt->parcels_path);
    return MC_OK;
}

static char *summary_json(const ingest_summary *sum)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                          "scenes_found", (json_int_t)sum->scenes_found,
                          "scenes_new", (json_int_t)sum->scenes_new,
                          "scenes_ingested", (json_int_t)sum->scenes_ingested,
                          "scenes_skipped", (json_int_t)sum->scenes_skipped,
                          "scenes_rejected", (json_int_t)sum->scenes_rejected,
                          "scenes_duplicate", (json_int_t)sum->scenes_duplicate,
                          "scenes_remeasured", (json_int_t)sum->scenes_remeasured,
                          "scenes_left_behind", (json_int_t)sum->scenes_left_behind,
                          "scenes_with_swir", (json_int_t)sum->scenes_with_swir,
                          "scenes_ignored", (json_int_t)sum->scenes_ignored,
                          "parcels", (json_int_t)sum->parcels,
                          "observations", (json_int_t)sum->observations,
                          "pixels_decoded", (json_int_t)sum->pixels_decoded,
                          "pixels_skipped", (json_int_t)sum->pixels_skipped,
                          "seconds", sum->seconds);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return text;
}

/* For `mowcheck run`'s summary (stage_counts.h). */
static void record_counts(const ingest_summary *sum, size_t parcels_observed)
{
    stage_counts_set("scenes_found", (int64_t)sum->scenes_found);
    stage_counts_set("scenes_new", (int64_t)sum->scenes_new);
    stage_counts_set("scenes_ingested", (int64_t)sum->scenes_ingested);
    stage_counts_set("scenes_skipped", (int64_t)sum->scenes_skipped);
    stage_counts_set("scenes_rejected", (int64_t)sum->scenes_rejected);
    stage_counts_set("scenes_duplicate", (int64_t)sum->scenes_duplicate);
    stage_counts_set("scenes_remeasured", (int64_t)sum->scenes_remeasured);
    stage_counts_set("scenes_with_swir", (int64_t)sum->scenes_with_swir);
    stage_counts_set("scenes_ignored", (int64_t)sum->scenes_ignored);
    stage_counts_set("parcels", (int64_t)sum->parcels);
    stage_counts_set("parcels_observed", (int64_t)parcels_observed);
    stage_counts_set("parcel_observations", sum->observations);
}

static int check_options(const ingest_options *opt)
{
    if (!opt->scenes_dir || !*opt->scenes_dir)
        return mc_fail("ingest: no scenes folder given (--scenes)");
    if (!opt->parcels_path || !*opt->parcels_path)
        return mc_fail("ingest: no parcels file given (--parcels)");
    if (!opt->state_dir || !*opt->state_dir)
        return mc_fail("ingest: no state directory for the label cache");
    if (!(opt->inner_buffer_m >= 0))
        return mc_fail("ingest: inner buffer %g m is negative", opt->inner_buffer_m);
    if (opt->device == KERNEL_DEVICE_CUDA && !kernel_cuda_available())
        return mc_fail("--device cuda: no usable CUDA GPU (or mowcheck was built without CUDA); "
                       "use --device auto or cpu");
    return MC_OK;
}

static void ctx_free(ingest_ctx *c)
{
    parcels_free(c->set);
    free(c->scenes);
    free(c->valid);
    free(c->others);
    free(c->grids);
    free(c->stored);
    free(c->observed);
}

int ingest_run(const ingest_options *opt, store *s, ingest_summary *out)
{
    memset(out, 0, sizeof *out);
    if (check_options(opt) != MC_OK)
        return MC_ERR;
    double t0 = now_s();
    ingest_ctx c = {.opt = opt, .s = s, .sum = out};
    c.params.scl_valid_mask = opt->scl_valid_mask ? opt->scl_valid_mask
                                                  : KERNEL_SCL_DEFAULT_VALID_MASK;
    bands_configure_gdal();
    if (store_run_begin(s, "ingest", &c.run_id) != MC_OK)
        return mc_fail_wrap("starting the ingest run");
    int rc = load_parcels(&c);
    if (rc == MC_OK)
        rc = load_grids(&c);
    if (rc == MC_OK)
        rc = discover(&c);
    if (rc == MC_OK && out->scenes_folder_empty)
        log_warn("ingest: the scenes folder %s is empty: no scene at all (is the disk "
                 "mounted, the sync finished?)",
                 opt->scenes_dir);
    if (rc == MC_OK && c.n_other_set > 0)
        log_info("ingest: %zu stored scenes were measured for another parcel set; they are "
                 "measured again for %s (set %.12s)",
                 c.n_other_set, opt->parcels_path, c.set->hash);
    if (rc == MC_OK && c.n_swir_added > 0)
        log_info("ingest: %zu stored scenes were measured without B11, which they have now; "
                 "they are measured again for NDMI",
                 c.n_swir_added);
    if (rc == MC_OK)
        rc = validate_scenes(&c);
    if (rc == MC_OK)
        rc = learn_other_grids(&c);
    if (rc == MC_OK)
        rc = ingest_tiles(&c);
    if (rc == MC_OK)
        rc = count_left_behind(&c);
    out->seconds = now_s() - t0;
    record_counts(out, c.parcels_observed);
    ctx_free(&c);

    char *json = summary_json(out);
    const char *status = rc != MC_OK ? "failed"
                         : out->scenes_rejected || out->scenes_duplicate ||
                                   out->scenes_folder_empty
                             ? "partial"
                             : "ok";
    if (rc != MC_OK) {
        /* Keep the failure's message: ending the run must not overwrite it. */
        char message[2048];
        snprintf(message, sizeof message, "%s", mc_error_message());
        store_run_end(s, c.run_id, status, json);
        mc_fail("%s", message);
    } else if (store_run_end(s, c.run_id, status, json) != MC_OK) {
        rc = mc_fail_wrap("ending the ingest run");
    }
    free(json);
    return rc;
}

int ingest_list_tiles(const char *scenes_dir, char ***tiles, size_t *n)
{
    char **names;
    size_t n_names, count = 0;
    *tiles = NULL;
    *n = 0;
    if (scene_list_dirs(scenes_dir, &names, &n_names) != MC_OK)
        return MC_ERR;
    char **list = calloc(n_names ? n_names : 1, sizeof *list);
    if (!list) {
        scene_names_free(names, n_names);
        return mc_fail("out of memory");
    }
    for (size_t i = 0; i < n_names; i++) {
        scene_info sc;
        if (scene_identify(scenes_dir, names[i], &sc) != MC_OK) {
            log_warn("scenes folder %s: '%s' is not a scene; ignored", scenes_dir, names[i]);
            mc_error_clear();
            continue;
        }
        size_t k = 0;
        while (k < count && strcmp(list[k], sc.tile_id) != 0)
            k++;
        if (k == count && !(list[count++] = strdup(sc.tile_id))) {
            scene_names_free(names, n_names);
            ingest_tiles_free(list, count - 1);
            return mc_fail("out of memory");
        }
    }
    scene_names_free(names, n_names);
    qsort(list, count, sizeof *list, cmp_str);
    *tiles = list;
    *n = count;
    return MC_OK;
}

void ingest_tiles_free(char **tiles, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tiles[i]);
    free(tiles);
}
