#include "detect_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dates.h"
#include "detect_state_internal.h"
#include "error.h"
#include "log.h"

/* ---- parcel ids ---- */

static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, for the table only */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

static int grow_slots(detect_state *st)
{
    size_t n = st->n_slots ? st->n_slots * 2 : 1 << 16;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return mc_fail("detect state: out of memory");
    for (size_t p = 0; p < st->n_parcels; p++) {
        size_t i = id_hash(st->ids[p]) & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t)p + 1;
    }
    free(st->slots);
    st->slots = slots;
    st->n_slots = n;
    return MC_OK;
}

static int add_parcel(detect_state *st, const char *id, uint32_t *parcel)
{
    if (st->n_parcels == st->cap_parcels) {
        size_t cap = st->cap_parcels ? st->cap_parcels * 2 : 4096;
        char **ids = realloc(st->ids, cap * sizeof *ids);
        if (ids)
            st->ids = ids;
        uint32_t *n_obs = realloc(st->n_obs, cap * sizeof *n_obs);
        if (n_obs)
            st->n_obs = n_obs;
        uint64_t *first = realloc(st->first, cap * sizeof *first);
        if (first)
            st->first = first;
        if (!ids || !n_obs || !first)
            return mc_fail("detect state: out of memory");
        st->cap_parcels = cap;
    }
    if (st->n_parcels >= UINT32_MAX - 1 || !(st->ids[st->n_parcels] = strdup(id)))
        return mc_fail("detect state: out of memory");
    st->n_obs[st->n_parcels] = 0;
    st->first[st->n_parcels] = 0;
    *parcel = (uint32_t)st->n_parcels++;
    return MC_OK;
}

/* The parcel of id, added where new. */
int dstate_intern(detect_state *st, const char *id, uint32_t *parcel)
{
    if (2 * (st->n_parcels + 1) > st->n_slots && grow_slots(st) != MC_OK)
        return MC_ERR;
    size_t i = id_hash(id) & (st->n_slots - 1);
    for (; st->slots[i]; i = (i + 1) & (st->n_slots - 1))
        if (strcmp(st->ids[st->slots[i] - 1], id) == 0) {
            *parcel = st->slots[i] - 1;
            return MC_OK;
        }
    if (add_parcel(st, id, parcel) != MC_OK)
        return MC_ERR;
    st->slots[i] = *parcel + 1;
    return MC_OK;
}

/* ---- merging new parts ---- */

static void obs_sums(const detect_state *st, const state_obs *o, store_raw_part *v)
{
    v->day = o->day;
    if (o->n_total == WIDE) {
        const wide_obs *w = &st->wide[(uint32_t)o->sum_q];
        *v = (store_raw_part){o->day, w->n_total, w->n_valid, w->n_moist, w->sum_q, w->sum_m};
    } else {
        *v = (store_raw_part){o->day, o->n_total, o->n_valid, o->n_moist, o->sum_q, o->sum_m};
    }
}

static int fits16(int64_t v) { return v >= 0 && v < WIDE; }

/* v into *o, in the wide table where it does not fit 16 bytes. */
int dstate_obs_set(detect_state *st, const store_raw_part *v, const char *parcel_id,
                   state_obs *o)
{
    if (v->day < 0 || v->day > UINT16_MAX || v->n_total < 0 || v->n_valid < 0 || v->n_moist < 0)
        return mc_fail("parcel %s: a date (day %" PRId32 ") or pixel count out of range",
                       parcel_id, v->day);
    o->day = (uint16_t)v->day;
    if (fits16(v->n_total) && fits16(v->n_valid) && fits16(v->n_moist) &&
        v->sum_q >= INT32_MIN && v->sum_q <= INT32_MAX && v->sum_m >= INT32_MIN &&
        v->sum_m <= INT32_MAX) {
        o->n_total = (uint16_t)v->n_total;
        o->n_valid = (uint16_t)v->n_valid;
        o->n_moist = (uint16_t)v->n_moist;
        o->sum_q = (int32_t)v->sum_q;
        o->sum_m = (int32_t)v->sum_m;
        return MC_OK;
    }
    if (st->n_wide == st->cap_wide) {
        size_t cap = st->cap_wide ? st->cap_wide * 2 : 256;
        wide_obs *grown = cap <= INT32_MAX ? realloc(st->wide, cap * sizeof *grown) : NULL;
        if (!grown)
            return mc_fail("detect state: out of memory");
        st->wide = grown;
        st->cap_wide = cap;
    }
    st->wide[st->n_wide] = (wide_obs){v->n_total, v->n_valid, v->n_moist, v->sum_q, v->sum_m};
    o->n_total = WIDE;
    o->n_valid = o->n_moist = 0;
    o->sum_q = (int32_t)st->n_wide++;
    o->sum_m = 0;
    return MC_OK;
}

int dstate_reserve_parts(part_batch *b, size_t n)
{
    if (n <= b->cap)
        return MC_OK;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < n)
        cap *= 2;
    new_part *grown = realloc(b->parts, cap * sizeof *grown);
    if (!grown)
        return mc_fail("detect state: out of memory reading observation parts");
    b->parts = grown;
    b->cap = cap;
    return MC_OK;
}

static int take_part(void *arg, const char *parcel_id, const store_raw_part *p)
{
    part_batch *b = arg;
    if (dstate_reserve_parts(b, b->n + 1) != MC_OK)
        return MC_ERR;
    new_part *np = &b->parts[b->n];
    if (dstate_obs_set(b->st, p, parcel_id, &np->obs) != MC_OK ||
        dstate_intern(b->st, parcel_id, &np->parcel) != MC_OK)
        return MC_ERR;
    b->n++;
    return MC_OK;
}

/* The parts of one date added up. */
static int add_parts(detect_state *st, state_obs *into, const state_obs *o, const char *parcel_id)
{
    store_raw_part a, b;
    obs_sums(st, into, &a);
    obs_sums(st, o, &b);
    a.n_total += b.n_total;
    a.n_valid += b.n_valid;
    a.n_moist += b.n_moist;
    a.sum_q += b.sum_q;
    a.sum_m += b.sum_m;
    return dstate_obs_set(st, &a, parcel_id, into);
}

/* Sorts a parcel's dates (already nearly in order: new ones come last) and adds up
 * the parts of one date (tiles of the same day). Returns the new count. */
static int fold_dates(detect_state *st, state_obs *o, uint32_t n, const char *parcel_id,
                      uint32_t *out)
{
    for (uint32_t i = 1; i < n; i++) {
        state_obs x = o[i];
        uint32_t j = i;
        for (; j > 0 && o[j - 1].day > x.day; j--)
            o[j] = o[j - 1];
        o[j] = x;
    }
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (w > 0 && o[w - 1].day == o[i].day) {
            if (add_parts(st, &o[w - 1], &o[i], parcel_id) != MC_OK)
                return MC_ERR;
        } else {
            o[w++] = o[i];
        }
    }
    *out = w;
    return MC_OK;
}

/* The parts join the parcels' dates: a new array, parcel by parcel. */
int dstate_merge_parts(detect_state *st, const part_batch *b)
{
    size_t np = st->n_parcels;
    uint64_t *added = calloc(np + 1, sizeof *added);
    if (!added)
        return mc_fail("detect state: out of memory");
    for (size_t i = 0; i < b->n; i++)
        added[b->parts[i].parcel + 1]++;
    for (size_t p = 0; p < np; p++)
        added[p + 1] += added[p]; /* added[p]: first new part of parcel p once sorted */
    new_part *sorted = malloc((b->n ? b->n : 1) * sizeof *sorted);
    uint64_t *at = malloc((np + 1) * sizeof *at);
    state_obs *obs = malloc((st->n_obs_total + b->n + 1) * sizeof *obs);
    int rc = sorted && at && obs ? MC_OK : mc_fail("detect state: out of memory");
    if (rc == MC_OK) {
        memcpy(at, added, (np + 1) * sizeof *at);
        for (size_t i = 0; i < b->n; i++)
            sorted[at[b->parts[i].parcel]++] = b->parts[i];
    }
    uint64_t w = 0;
    for (size_t p = 0; p < np && rc == MC_OK; p++) {
        state_obs *dst = obs + w;
        if (st->n_obs[p]) /* (st->obs is NULL in a state without observations) */
            memcpy(dst, st->obs + st->first[p], st->n_obs[p] * sizeof *dst);
        uint64_t n = st->n_obs[p];
        for (uint64_t k = added[p]; k < added[p + 1]; k++)
            dst[n++] = sorted[k].obs;
        if (n > UINT32_MAX)
            rc = mc_fail("parcel %s: too many dates", st->ids[p]);
        uint32_t kept = 0;
        if (rc == MC_OK)
            rc = fold_dates(st, dst, (uint32_t)n, st->ids[p], &kept);
        st->first[p] = w;
        st->n_obs[p] = kept;
        w += kept;
    }
    free(added);
    free(sorted);
    free(at);
    if (rc != MC_OK) {
        free(obs);
        return MC_ERR;
    }
    free(st->obs);
    st->obs = obs;
    st->n_obs_total = w;
    return MC_OK;
}

/* ---- the series ---- */

static const detect_state *sort_state; /* qsort has no argument */

static int by_id(const void *a, const void *b)
{
    return strcmp(sort_state->ids[*(const uint32_t *)a], sort_state->ids[*(const uint32_t *)b]);
}

/* The parcel's size as the view takes it: over all tiles of the set, else its parts'. */
static int64_t *sizes_of(detect_state *st, const store_series_snapshot *snap)
{
    int64_t *size = malloc((st->n_parcels + snap->n_sizes + 1) * sizeof *size);
    if (!size)
        return NULL;
    for (size_t p = 0; p < st->n_parcels; p++)
        size[p] = -1;
    for (size_t i = 0; i < snap->n_sizes; i++) {
        uint32_t p; /* a parcel without dates yet is added: it has no series */
        if (dstate_intern(st, snap->sizes[i].parcel_id, &p) != MC_OK) {
            free(size);
            return NULL;
        }
        size[p] = snap->sizes[i].n_pixels;
    }
    return size;
}

static int build_series(detect_state *st, const store_series_snapshot *snap,
                        const store_series_filter *filter, series_set *set)
{
    memset(set, 0, sizeof *set);
    store_series_rule rule;
    if (store_series_rule_make(filter, &rule) != MC_OK)
        return MC_ERR;
    int64_t *size = sizes_of(st, snap);
    uint32_t *order = malloc((st->n_parcels + 1) * sizeof *order);
    set->parcels = malloc((st->n_parcels + 1) * sizeof *set->parcels);
    set->obs = malloc((st->n_obs_total + 1) * sizeof *set->obs);
    int rc = size && order && set->parcels && set->obs ? MC_OK
                                                       : mc_fail("detect state: out of memory");
    size_t n = 0;
    for (size_t p = 0; p < st->n_parcels && rc == MC_OK; p++)
        if (st->n_obs[p])
            order[n++] = (uint32_t)p;
    sort_state = st;
    if (rc == MC_OK)
        qsort(order, n, sizeof *order, by_id);
    for (size_t i = 0; i < n && rc == MC_OK; i++) {
        uint32_t p = order[i];
        series_parcel *sp = &set->parcels[set->n_parcels];
        sp->first = set->n_obs;
        sp->count = st->n_obs[p];
        if (!(sp->parcel_id = strdup(st->ids[p]))) {
            rc = mc_fail("detect state: out of memory");
            break;
        }
        set->n_parcels++;
        for (uint32_t k = 0; k < st->n_obs[p] && rc == MC_OK; k++) {
            store_raw_part sums;
            obs_sums(st, &st->obs[st->first[p] + k], &sums);
            series_obs *so = &set->obs[set->n_obs++];
            so->day = sums.day;
            if (store_series_apply(&rule, size[p] >= 0 ? size[p] : sums.n_total, &sums, &so->ndvi,
                                   &so->ndmi) != MC_OK)
                rc = mc_fail("parcel %s: pixel counts out of range", st->ids[p]);
        }
    }
    free(size);
    free(order);
    if (rc != MC_OK)
        series_free(set);
    return rc;
}

/* ---- freshness ---- */

static void free_scenes(store_series_scene *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].scene_id);
        free(v[i].tile_id);
    }
    free(v);
}

static void clear_series(detect_state *st)
{
    for (size_t p = 0; p < st->n_parcels; p++)
        free(st->ids[p]);
    free(st->ids);
    free(st->n_obs);
    free(st->first);
    free(st->obs);
    free(st->wide);
    free(st->slots);
    free_scenes(st->scenes, st->n_scenes);
    st->ids = NULL;
    st->n_obs = NULL;
    st->first = NULL;
    st->obs = NULL;
    st->wide = NULL;
    st->n_wide = st->cap_wide = 0;
    st->slots = NULL;
    st->scenes = NULL;
    st->n_parcels = st->cap_parcels = st->n_obs_total = st->n_slots = st->n_scenes = 0;
}

static int same_scene(const store_series_scene *a, const store_series_scene *b)
{
    return strcmp(a->tile_id, b->tile_id) == 0 && a->day == b->day &&
           a->ingested_us == b->ingested_us && a->run_id == b->run_id &&
           a->has_swir == b->has_swir;
}

/* Scenes of the snapshot the state lacks (into *fresh); *stale = why the state no
 * longer describes the database (NULL where it does). */
static int compare_scenes(const detect_state *st, const store_series_snapshot *snap,
                          const store_series_scene ***fresh, size_t *n_fresh, char *stale,
                          size_t size)
{
    *n_fresh = 0;
    stale[0] = '\0';
    *fresh = malloc((snap->n_scenes + 1) * sizeof **fresh);
    if (!*fresh)
        return mc_fail("detect state: out of memory");
    size_t i = 0, j = 0;
    while (i < st->n_scenes && !stale[0]) {
        int c = j < snap->n_scenes ? strcmp(st->scenes[i].scene_id, snap->scenes[j].scene_id) : -1;
        if (c < 0)
            snprintf(stale, size, "scene %s is no longer stored", st->scenes[i].scene_id);
        else if (c > 0)
            (*fresh)[(*n_fresh)++] = &snap->scenes[j++];
        else if (!same_scene(&st->scenes[i], &snap->scenes[j]))
            snprintf(stale, size, "scene %s was measured again", st->scenes[i].scene_id);
        else
            i++, j++;
    }
    while (j < snap->n_scenes)
        (*fresh)[(*n_fresh)++] = &snap->scenes[j++];
    return MC_OK;
}

static int copy_scenes(detect_state *st, const store_series_snapshot *snap)
{
    free_scenes(st->scenes, st->n_scenes);
    st->n_scenes = 0;
    st->scenes = calloc(snap->n_scenes + 1, sizeof *st->scenes);
    if (!st->scenes)
        return mc_fail("detect state: out of memory");
    for (size_t i = 0; i < snap->n_scenes; i++) {
        st->scenes[i] = snap->scenes[i];
        st->scenes[i].scene_id = strdup(snap->scenes[i].scene_id);
        st->scenes[i].tile_id = strdup(snap->scenes[i].tile_id);
        st->n_scenes++;
        if (!st->scenes[i].scene_id || !st->scenes[i].tile_id)
            return mc_fail("detect state: out of memory");
    }
    return MC_OK;
}

static int set_text(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    return *field ? MC_OK : mc_fail("detect state: out of memory");
}

/* ---- loading ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void detect_state_free(detect_state *st)
{
    if (!st)
        return;
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* and with it the lock */
    clear_series(st);
    free_scenes(st->new_scenes, st->n_new_scenes);
    free(st->new_parts);
    for (size_t i = 0; i < st->n_digests; i++)
        free(st->digests[i].parcel_id);
    free(st->digests);
    free(st->model_version);
    free(st->db_key);
    free(st->set_hash);
    free(st);
}

void dstate_forget_results(detect_state *st)
{
    for (size_t i = 0; i < st->n_digests; i++)
        free(st->digests[i].parcel_id);
    free(st->digests);
    st->digests = NULL;
    st->n_digests = 0;
    st->stored_by = (store_detect_run_mark){0, 0};
}

/* One detect at a time per state file (<path>.lock, held until detect_state_free):
 * a night's section is appended to the file another night read. -1: no lock. */
static int lock_state(const char *path)
{
    if (!path[0])
        return -1;
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        log_warn("detect: cannot lock %s: %s", lock_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The state as read from path, or an empty one (with the reason logged); it holds
 * lock_fd (lock_state) from now on. */
static detect_state *open_state(const char *path, const char *db_key, int season,
                                const char *set_hash, int lock_fd, int *usable)
{
    detect_state *st = calloc(1, sizeof *st);
    if (!st) {
        if (lock_fd >= 0)
            close(lock_fd);
        return NULL;
    }
    st->lock_fd = lock_fd;
    char why[256] = "";
    int missing = 1;
    if (path[0])
        dstate_read_file(path, st, &missing, why, sizeof why);
    *usable = !missing && !why[0];
    if (*usable && (strcmp(st->db_key, db_key) != 0 || st->season != season))
        snprintf(why, sizeof why, "it describes another database or season");
    else if (*usable && strcmp(st->set_hash, set_hash) != 0)
        snprintf(why, sizeof why, "the current parcel set changed");
    if (why[0]) {
        log_warn("detect: state file %s is not usable (%s); rebuilding it from the database",
                 path, why);
        *usable = 0;
    } else if (missing && path[0]) {
        log_info("detect: no state file %s yet; building it from the database", path);
    }
    if (!*usable) {
        clear_series(st);
        dstate_forget_results(st);
    }
    st->from_file = *usable;
    if (set_text(&st->db_key, db_key) != MC_OK || set_text(&st->set_hash, set_hash) != MC_OK) {
        detect_state_free(st);
        return NULL;
    }
    st->season = season;
    return st;
}

/* The parts of the fresh scenes (all of the snapshot's where all) join the state;
 * tonight's scenes, new parcels and parts are kept for the file's next section. */
static int fetch_parts(store *s, detect_state *st, const store_series_snapshot *snap,
                       int season, const store_series_scene *const *fresh, size_t n_fresh,
                       int all)
{
    part_batch b = {st, NULL, 0, 0};
    st->first_new_parcel = st->n_parcels;
    int rc = all ? store_series_all_parts(s, season, take_part, &b)
                 : store_series_parts(s, fresh, n_fresh, take_part, &b);
    if (rc == MC_OK)
        rc = dstate_merge_parts(st, &b);
    if (all) { /* the state is written whole: no section */
        free(b.parts);
        b = (part_batch){st, NULL, 0, 0};
    }
    st->new_parts = b.parts;
    st->n_new_parts = b.n;
    st->new_scenes = calloc(n_fresh + 1, sizeof *st->new_scenes);
    if (rc == MC_OK && !st->new_scenes)
        rc = mc_fail("detect state: out of memory");
    for (size_t i = 0; i < n_fresh && rc == MC_OK; i++) {
        st->new_scenes[i] = *fresh[i];
        st->new_scenes[i].scene_id = strdup(fresh[i]->scene_id);
        st->new_scenes[i].tile_id = strdup(fresh[i]->tile_id);
        st->n_new_scenes++;
        if (!st->new_scenes[i].scene_id || !st->new_scenes[i].tile_id)
            rc = mc_fail("detect state: out of memory");
    }
    if (rc == MC_OK)
        rc = copy_scenes(st, snap);
    return rc;
}

int detect_state_load(store *s, const char *path, const char *db_key, int season,
                      const store_series_filter *filter, detect_state **state, series_set *set,
                      size_t *fetched_scenes, int *rebuilt)
{
    *state = NULL;
    memset(set, 0, sizeof *set);
    store_series_snapshot snap;
    double t[5];
    t[0] = now_s();
    /* The file's lock before the snapshot: a detect that waited for another must see
     * what that one stored, or it would take its scenes for removed ones. */
    int lock_fd = lock_state(path);
    if (store_series_begin(s, season, &snap) != MC_OK) {
        if (lock_fd >= 0)
            close(lock_fd);
        return MC_ERR;
    }
    t[1] = now_s();
    int usable = 0;
    detect_state *st = open_state(path, db_key, season, snap.set_hash, lock_fd, &usable);
    t[2] = now_s();
    const store_series_scene **fresh = NULL;
    size_t n_fresh = 0;
    char stale[300] = "";
    int rc = st ? MC_OK : mc_fail("detect state: out of memory");
    if (rc == MC_OK && usable)
        rc = compare_scenes(st, &snap, &fresh, &n_fresh, stale, sizeof stale);
    if (rc == MC_OK && usable && stale[0]) {
        log_info("detect: %s; rebuilding the state %s from the database", stale, path);
        clear_series(st);
        usable = st->from_file = 0;
    }
    *rebuilt = !usable;
    *fetched_scenes = usable ? n_fresh : snap.n_scenes;
    if (rc == MC_OK)
        rc = fetch_parts(s, st, &snap, season, fresh, n_fresh, !usable);
    free(fresh);
    t[3] = now_s();
    if (rc == MC_OK)
        rc = build_series(st, &snap, filter, set);
    store_series_end(s, &snap);
    t[4] = now_s();
    log_debug("detect: scenes and parcel sizes %.2f s, state file read %.2f s, parts read and "
              "merged %.2f s, series built %.2f s", t[1] - t[0], t[2] - t[1], t[3] - t[2],
              t[4] - t[3]);
    if (rc != MC_OK) {
        detect_state_free(st);
        return MC_ERR;
    }
    *state = st;
    return MC_OK;
}

/* ---- results ---- */

static int digest_text(const char *text, int n, unsigned char *out)
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (n < 0 || !EVP_Digest(text, (size_t)n, full, &len, EVP_sha256(), NULL))
        return MC_ERR;
    memcpy(out, full, DIGEST_BYTES);
    return MC_OK;
}

/* What parcel_seasons and events would hold for one parcel-season, as digests. */
static int season_digest(const detect_summary *d, const detect_event *ev, size_t n_ev,
                         const char *model_version, result_digest *out)
{
    char text[4096];
    int n = snprintf(text, sizeof text, "%d|%d|%.6f|%s|%s", d->n_clear_obs, d->sufficient,
                     (double)d->mowed_probability, detect_reason_text(d->reason), model_version);
    int rc = digest_text(text, n, out->summary);
    n = snprintf(text, sizeof text, "%s", model_version);
    for (size_t i = 0; i < n_ev && n > 0 && (size_t)n < sizeof text - 64; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "|%" PRId32 ",%" PRId32 ",%" PRId32
                      ",%.6f", ev[i].day_start, ev[i].day_end, ev[i].day,
                      (double)ev[i].confidence);
    if (rc != MC_OK || (size_t)n >= sizeof text - 64 || digest_text(text, n, out->events))
        return mc_fail("detect state: cannot digest the results of parcel %s", d->parcel_id);
    return MC_OK;
}

static int cmp_key(const char *id_a, int season_a, const char *id_b, int season_b)
{
    int c = strcmp(id_a, id_b);
    return c ? c : (season_a > season_b) - (season_a < season_b);
}

/* The events of summary i: r's events are sorted by parcel, then day. */
static size_t season_events(const detect_result *r, size_t *ev, const detect_summary *d)
{
    while (*ev < r->n_events && cmp_key(r->events[*ev].parcel_id, r->events[*ev].season,
                                        d->parcel_id, d->season) < 0)
        (*ev)++;
    size_t n = 0;
    while (*ev + n < r->n_events && r->events[*ev + n].parcel == d->parcel &&
           r->events[*ev + n].season == d->season)
        n++;
    return n;
}

static int digest_cmp(const result_digest *a, const detect_summary *d)
{
    return cmp_key(a->parcel_id, a->season, d->parcel_id, d->season);
}

static void digests_free(result_digest *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].parcel_id);
    free(v);
}

static void copy_digest(result_digest *to, const result_digest *from)
{
    *to = *from;
    to->parcel_id = strdup(from->parcel_id);
}

enum { SUMMARY_CHANGED = 1, EVENTS_CHANGED = 2 };

/* The new digests and, per summary, what of it differs from what is stored
 * (SUMMARY_CHANGED, EVENTS_CHANGED). The old digests of parcel-seasons absent from r
 * are kept where they are trusted (their rows stay as that run stored them), dropped
 * where not (another run may have written those rows since). */
static int diff_results(const detect_state *st, const detect_result *r, const char *model_version,
                        int trust, unsigned char *changed, result_digest **out, size_t *n_out)
{
    result_digest *v = calloc(r->n_summaries + st->n_digests + 1, sizeof *v);
    if (!v)
        return mc_fail("detect state: out of memory");
    size_t n = 0, old = 0, ev = 0;
    int rc = MC_OK;
    for (size_t i = 0; i < r->n_summaries && rc == MC_OK; i++) {
        const detect_summary *d = &r->summaries[i];
        size_t n_ev = season_events(r, &ev, d);
        for (; old < st->n_digests && digest_cmp(&st->digests[old], d) < 0; old++)
            if (trust)
                copy_digest(&v[n++], &st->digests[old]);
        result_digest *nd = &v[n++];
        nd->parcel_id = strdup(d->parcel_id);
        nd->season = d->season;
        rc = season_digest(d, r->events + ev, n_ev, model_version, nd);
        const result_digest *was = old < st->n_digests && digest_cmp(&st->digests[old], d) == 0
                                       ? &st->digests[old++]
                                       : NULL;
        changed[i] = 0;
        if (!trust || !was || memcmp(was->summary, nd->summary, DIGEST_BYTES) != 0)
            changed[i] |= SUMMARY_CHANGED;
        if (!trust || !was || memcmp(was->events, nd->events, DIGEST_BYTES) != 0)
            changed[i] |= EVENTS_CHANGED;
    }
    for (; old < st->n_digests && trust; old++)
        copy_digest(&v[n++], &st->digests[old]);
    for (size_t i = 0; i < n && rc == MC_OK; i++)
        if (!v[i].parcel_id)
            rc = mc_fail("detect state: out of memory");
    if (rc != MC_OK) {
        for (size_t i = 0; i < n; i++)
            free(v[i].parcel_id);
        free(v);
        return MC_ERR;
    }
    *out = v;
    *n_out = n;
    return MC_OK;
}

/* The changed summaries and their events, as the store takes them. */
/* written_by: the run the state says stored the rows left out (0: none left out). */
static int store_changed(store *s, int64_t written_by, int64_t run_id, const char *model_version,
                         const detect_result *r, const unsigned char *changed, size_t *n_stored,
                         int *stale)
{
    *stale = 0;
    store_detected_season *seasons = calloc(r->n_summaries + 1, sizeof *seasons);
    store_detected_event *events = calloc(r->n_events + 1, sizeof *events);
    if (!seasons || !events) {
        free(seasons);
        free(events);
        return mc_fail("detect: out of memory");
    }
    size_t ns = 0, ne = 0, ev = 0;
    for (size_t i = 0; i < r->n_summaries; i++) {
        const detect_summary *d = &r->summaries[i];
        size_t n_ev = season_events(r, &ev, d);
        if (!changed[i])
            continue;
        int keep_events = !(changed[i] & EVENTS_CHANGED);
        seasons[ns++] = (store_detected_season){d->parcel_id, d->season, d->n_clear_obs,
                                                d->sufficient, d->mowed_probability,
                                                detect_reason_text(d->reason), keep_events};
        for (size_t k = 0; k < n_ev && !keep_events; k++) {
            const detect_event *e = &r->events[ev + k];
            events[ne++] = (store_detected_event){e->parcel_id, e->season, e->day_start,
                                                  e->day_end, e->day, e->confidence};
        }
    }
    /* Even with nothing changed the last writer is checked (under the lock): rows of
     * another run may stand where the state believes its own. */
    int rc = ns || written_by ? store_detection_replace_since(s, written_by, run_id,
                                                              model_version, seasons, ns, events,
                                                              ne, stale)
                              : MC_OK;
    free(seasons);
    free(events);
    *n_stored = ns;
    return rc;
}

int detect_state_store_results(store *s, detect_state *st, int64_t run_id,
                               const char *model_version, const detect_result *r,
                               size_t *n_stored)
{
    *n_stored = 0;
    int unchanged = 0;
    store_detect_run_mark this_run;
    if (store_detect_runs_check(s, &st->stored_by, run_id, &unchanged, &this_run) != MC_OK)
        return MC_ERR;
    int trust = unchanged && st->stored_by.run_id > 0 && st->model_version &&
                strcmp(st->model_version, model_version) == 0;
    unsigned char *changed = malloc(r->n_summaries + 1);
    result_digest *digests = NULL;
    size_t n_digests = 0;
    int rc = changed ? MC_OK : mc_fail("detect: out of memory");
    for (int stale = 1; rc == MC_OK && stale; trust = 0) {
        digests_free(digests, n_digests);
        digests = NULL;
        n_digests = 0;
        rc = diff_results(st, r, model_version, trust, changed, &digests, &n_digests);
        if (rc == MC_OK)
            rc = store_changed(s, trust ? st->stored_by.run_id : 0, run_id, model_version, r,
                               changed, n_stored, &stale);
        if (rc == MC_OK && stale)
            log_info("detect: another detect run stored results since run %" PRId64
                     ": storing every parcel-season", st->stored_by.run_id);
    }
    free(changed);
    if (rc != MC_OK) {
        digests_free(digests, n_digests);
        return MC_ERR;
    }
    dstate_forget_results(st);
    st->digests = digests;
    st->n_digests = n_digests;
    st->stored_by = this_run;
    return set_text(&st->model_version, model_version);
}

int detect_state_path(const char *state_dir, const char *db_key, int season, char *buf,
                      size_t size)
{
    buf[0] = '\0';
    if (!state_dir || !state_dir[0])
        return MC_OK;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(db_key, strlen(db_key), digest, &len, EVP_sha256(), NULL))
        return mc_fail("detect state: SHA-256 failed");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/detect", state_dir);
    if ((mkdir(state_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        log_warn("detect: cannot make %s (%s): no state between nights, the whole season is "
                 "read from the database", dir, strerror(errno));
        return MC_OK;
    }
    char season_text[16];
    if (season)
        snprintf(season_text, sizeof season_text, "%d", season);
    else
        snprintf(season_text, sizeof season_text, "all");
    int n = snprintf(buf, size, "%s/", dir);
    for (unsigned i = 0; i < 8 && n > 0 && (size_t)n + 3 < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%02x", digest[i]);
    if (n < 0 || (size_t)n + strlen(season_text) + 8 >= size) {
        buf[0] = '\0';
        return MC_OK;
    }
    snprintf(buf + n, size - (size_t)n, "-%s.state", season_text);
    return MC_OK;
}
