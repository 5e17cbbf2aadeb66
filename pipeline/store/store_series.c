/* The season's observations as the sums the store holds, for the detect stage's own
 * state: one read-only snapshot (the current parcel set, the scenes with what
 * identifies their parts, the parcels' sizes) and the parts of chosen scenes, read
 * with COPY in binary and parsed here: no text, no server-side aggregation. And the
 * series' observation rule in C, the same arithmetic as store_export_series. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dates.h"
#include "error.h"
#include "store.h"
#include "store_conn.h"
#include "store_series_rule.h"

/* ---- the observation rule ---- */

void store_share_text(double v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* The decimal text of the share (as store_export_series sends it) as mantissa and
 * power of ten: share = mantissa / 10^exp10 exactly. */
static int share_decimal(double share, uint64_t *mantissa, int *exp10)
{
    char text[40];
    store_share_text(share, text, sizeof text);
    uint64_t m = 0;
    int e = 0, digits = 0, after_point = 0;
    const char *p = text;
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            after_point = 1;
        } else if (*p >= '0' && *p <= '9') {
            if (++digits > 18)
                return mc_fail("min_valid_share %s: too many digits", text);
            m = m * 10 + (uint64_t)(*p - '0');
            e += after_point;
        } else {
            return mc_fail("min_valid_share %s: not a share in [0, 1]", text);
        }
    }
    if (*p)
        e -= atoi(p + 1);
    for (; e < 0; e++) /* 1e+00 and the like */
        m *= 10;
    *mantissa = m;
    *exp10 = e;
    return MC_OK;
}

int store_series_rule_make(const store_series_filter *filter, store_series_rule *rule)
{
    if (!(filter->min_valid_share >= 0 && filter->min_valid_share <= 1))
        return mc_fail("min_valid_share %g: want a share in [0, 1]", filter->min_valid_share);
    rule->min_valid_pixels = filter->min_valid_pixels;
    return share_decimal(filter->min_valid_share, &rule->share_mantissa, &rule->share_exp10);
}

/* n_valid >= n_total * share, exactly (numeric in SQL). Counts are below 2^40 here
 * (store_series_apply), the mantissa below 10^18. */
static int enough_share(const store_series_rule *r, int64_t n_valid, int64_t n_total)
{
    if (r->share_exp10 > 26) /* share < 10^-8: n_total * share < 1 <= n_valid */
        return 1;
    unsigned __int128 lhs = (unsigned __int128)n_valid, rhs = (unsigned __int128)n_total;
    for (int i = 0; i < r->share_exp10; i++)
        lhs *= 10;
    rhs *= r->share_mantissa;
    return lhs >= rhs;
}

/* round(sum / (n * 10000), 4) as numeric does it (half away from zero), as a float the
 * way the series reader takes "0.1234": the double nearest the decimal, then float. */
static float rounded_mean(int64_t sum, int64_t n)
{
    int64_t mag = sum < 0 ? -sum : sum;
    int64_t q = (2 * mag + n) / (2 * n); /* round half away from zero of |sum| / n */
    if (q == 0)
        return 0.0f;
    return (float)((double)(sum < 0 ? -q : q) / 10000.0);
}

int store_series_apply(const store_series_rule *r, int64_t n_total, const store_raw_part *sums,
                       float *ndvi, float *ndmi)
{
    const int64_t limit = (int64_t)1 << 40;
    *ndvi = *ndmi = NAN;
    if (n_total < 0 || n_total >= limit || sums->n_valid < 0 || sums->n_valid >= limit ||
        sums->n_moist < 0 || sums->n_moist >= limit)
        return MC_ERR;
    int64_t n_valid = sums->n_valid;
    int observed = n_valid > 0 && n_valid >= r->min_valid_pixels && n_total > 0 &&
                   enough_share(r, n_valid, n_total);
    if (!observed)
        return MC_OK;
    *ndvi = rounded_mean(sums->sum_q, n_valid);
    if (sums->n_moist > 0 && 2 * sums->n_moist >= n_valid)
        *ndmi = rounded_mean(sums->sum_m, sums->n_moist);
    return MC_OK;
}

/* ---- binary COPY ---- */

static const char copy_signature[11] = "PGCOPY\n\377\r\n";

typedef struct field {
    const unsigned char *data; /* NULL: SQL NULL */
    int32_t len;
} field;

typedef int (*row_fn)(void *arg, const field *fields, int n_fields);

typedef struct binary_reader {
    unsigned char *buf;
    size_t len, cap, pos;
    int header_done, trailer_seen;
} binary_reader;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int append(binary_reader *br, const char *data, size_t n)
{
    if (br->pos > 0 && br->pos == br->len)
        br->pos = br->len = 0;
    if (br->len + n > br->cap) {
        if (br->pos > 0) { /* drop what is parsed */
            memmove(br->buf, br->buf + br->pos, br->len - br->pos);
            br->len -= br->pos;
            br->pos = 0;
        }
        size_t cap = br->cap ? br->cap : 1 << 16;
        while (cap < br->len + n)
            cap *= 2;
        if (cap != br->cap) {
            unsigned char *grown = realloc(br->buf, cap);
            if (!grown)
                return MC_ERR;
            br->buf = grown;
            br->cap = cap;
        }
    }
    memcpy(br->buf + br->len, data, n);
    br->len += n;
    return MC_OK;
}

enum { MAX_FIELDS = 16 };

/* Parses what is complete in the buffer: the header, then rows. */
static int parse_rows(binary_reader *br, const char *what, row_fn fn, void *arg)
{
    if (!br->header_done) {
        if (br->len - br->pos < 19)
            return MC_OK;
        const unsigned char *h = br->buf + br->pos;
        if (memcmp(h, copy_signature, sizeof copy_signature) != 0)
            return mc_fail("%s: not a binary COPY stream", what);
        uint32_t ext = be32(h + 15);
        if (br->len - br->pos < 19 + (size_t)ext)
            return MC_OK;
        br->pos += 19 + ext;
        br->header_done = 1;
    }
    while (!br->trailer_seen && br->len - br->pos >= 2) {
        const unsigned char *p = br->buf + br->pos, *end = br->buf + br->len;
        int16_t n = (int16_t)(p[0] << 8 | p[1]);
        if (n == -1) {
            br->trailer_seen = 1;
            br->pos += 2;
            break;
        }
        if (n < 0 || n > MAX_FIELDS)
            return mc_fail("%s: a row of %d fields in the binary COPY", what, n);
        field fields[MAX_FIELDS];
        const unsigned char *q = p + 2;
        int complete = 1;
        for (int i = 0; i < n && complete; i++) {
            if (end - q < 4) {
                complete = 0;
                break;
            }
            int32_t len = (int32_t)be32(q);
            q += 4;
            if (len < -1)
                return mc_fail("%s: a field of length %d in the binary COPY", what, len);
            if (len > 0 && end - q < len) {
                complete = 0;
                break;
            }
            fields[i] = (field){len < 0 ? NULL : q, len};
            q += len > 0 ? len : 0;
        }
        if (!complete)
            break;
        if (fn(arg, fields, n) != MC_OK)
            return MC_ERR;
        br->pos = (size_t)(q - br->buf);
    }
    return MC_OK;
}

/* Runs COPY (...) TO STDOUT (FORMAT binary) and hands each row to fn. */
static int copy_binary(store *s, const char *what, const char *sql, row_fn fn, void *arg)
{
    if (store_copy_start(s, what, sql, 0) != MC_OK)
        return MC_ERR;
    binary_reader br = {0};
    int rc = MC_OK, n;
    char *chunk;
    while ((n = PQgetCopyData(s->conn, &chunk, 0)) > 0) {
        if (rc == MC_OK && append(&br, chunk, (size_t)n) != MC_OK)
            rc = mc_fail("%s: out of memory", what);
        PQfreemem(chunk);
        if (rc == MC_OK)
            rc = parse_rows(&br, what, fn, arg);
    }
    rc = store_copy_out_end(s, what, n, rc);
    if (rc == MC_OK && (!br.trailer_seen || br.pos != br.len))
        rc = mc_fail("%s: the binary COPY stream ended early", what);
    free(br.buf);
    return rc;
}

static int field_int64(const field *f, int64_t *v)
{
    if (!f->data) {
        *v = 0;
        return MC_OK;
    }
    if (f->len == 8)
        *v = be64(f->data);
    else if (f->len == 4)
        *v = (int32_t)be32(f->data);
    else
        return MC_ERR;
    return MC_OK;
}

/* A text field as a NUL-terminated string in buf (ids are short). */
static int field_text(const field *f, char *buf, size_t size)
{
    if (!f->data || (size_t)f->len >= size || memchr(f->data, '\0', (size_t)f->len))
        return MC_ERR;
    memcpy(buf, f->data, (size_t)f->len);
    buf[f->len] = '\0';
    return MC_OK;
}

/* ---- the snapshot ---- */

/* Scenes of the current parcel set (all sets where none is current, as
 * store_export_series reads them) in the season (0: all). */
static const char scene_filter[] =
    " FROM scenes s"
    " WHERE (s.set_hash = (SELECT set_hash FROM parcel_sets WHERE is_current)"
    "        OR NOT EXISTS (SELECT 1 FROM parcel_sets WHERE is_current))"
    "   AND (%d = 0 OR (s.acquired_on >= make_date(%d, 1, 1)"
    "                   AND s.acquired_on < make_date(%d + 1, 1, 1)))";

static int read_scenes(store *s, int season, store_series_snapshot *snap)
{
    char sql[1024];
    int n = snprintf(sql, sizeof sql,
                     "SELECT s.scene_id, s.tile_id, (s.acquired_on - date '1970-01-01'),"
                     " (extract(epoch FROM s.ingested_at) * 1000000)::int8,"
                     " coalesce(s.run_id, 0), s.has_swir, s.set_hash");
    snprintf(sql + n, sizeof sql - (size_t)n, scene_filter, season, season, season);
    strncat(sql, " ORDER BY s.scene_id COLLATE \"C\"", sizeof sql - strlen(sql) - 1);
    PGresult *r = store_query(s, "reading the season's scenes", sql, 0, NULL);
    if (!r)
        return MC_ERR;
    size_t rows = (size_t)PQntuples(r);
    snap->scenes = calloc(rows ? rows : 1, sizeof *snap->scenes);
    int rc = snap->scenes ? MC_OK : mc_fail("reading the season's scenes: out of memory");
    for (size_t i = 0; i < rows && rc == MC_OK; i++) {
        store_series_scene *sc = &snap->scenes[i];
        sc->scene_id = strdup(PQgetvalue(r, (int)i, 0));
        sc->tile_id = strdup(PQgetvalue(r, (int)i, 1));
        sc->day = (int32_t)atol(PQgetvalue(r, (int)i, 2));
        sc->ingested_us = strtoll(PQgetvalue(r, (int)i, 3), NULL, 10);
        sc->run_id = strtoll(PQgetvalue(r, (int)i, 4), NULL, 10);
        sc->has_swir = PQgetvalue(r, (int)i, 5)[0] == 't';
        snap->n_scenes++;
        if (!sc->scene_id || !sc->tile_id)
            rc = mc_fail("reading the season's scenes: out of memory");
        else if (i > 0 && strcmp(PQgetvalue(r, (int)i, 6), PQgetvalue(r, 0, 6)) != 0 &&
                 !snap->set_hash[0])
            rc = mc_fail("the observations: no parcel set is current and the scenes were "
                         "measured for several (%s, %s)", PQgetvalue(r, 0, 6),
                         PQgetvalue(r, (int)i, 6));
    }
    PQclear(r);
    return rc;
}

static int read_current_set(store *s, store_series_snapshot *snap)
{
    PGresult *r = store_query(s, "reading the current parcel set",
                              "SELECT coalesce((SELECT set_hash FROM parcel_sets WHERE is_current),"
                              " '')", 0, NULL);
    if (!r)
        return MC_ERR;
    snap->set_hash = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return snap->set_hash ? MC_OK : mc_fail("reading the current parcel set: out of memory");
}

typedef struct size_sink {
    store_series_snapshot *snap;
    size_t cap;
} size_sink;

static int take_size(void *arg, const field *f, int n)
{
    size_sink *sink = arg;
    store_series_snapshot *snap = sink->snap;
    if (snap->n_sizes == sink->cap) {
        size_t cap = sink->cap ? sink->cap * 2 : 4096;
        store_parcel_size *grown = realloc(snap->sizes, cap * sizeof *grown);
        if (!grown)
            return mc_fail("reading the parcels' sizes: out of memory");
        snap->sizes = grown;
        sink->cap = cap;
    }
    char id[STORE_PARCEL_ID_MAX];
    store_parcel_size *z = &snap->sizes[snap->n_sizes];
    if (n != 2 || field_text(&f[0], id, sizeof id) != MC_OK || field_int64(&f[1], &z->n_pixels))
        return mc_fail("reading the parcels' sizes: an unexpected row");
    if (!(z->parcel_id = strdup(id)))
        return mc_fail("reading the parcels' sizes: out of memory");
    snap->n_sizes++;
    return MC_OK;
}

/* Pixels of each parcel of the current set over all its tiles (the n_total of
 * the observations view). */
static int read_sizes(store *s, store_series_snapshot *snap)
{
    size_sink sink = {snap, 0};
    return copy_binary(s, "reading the parcels' sizes",
                       "COPY (SELECT parcel_id, sum(n_pixels)::int8 FROM parcel_tiles"
                       " WHERE set_hash = (SELECT set_hash FROM parcel_sets WHERE is_current)"
                       " GROUP BY parcel_id) TO STDOUT (FORMAT binary)",
                       take_size, &sink);
}

int store_series_begin(store *s, int season, store_series_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    if (store_exec(s, "reading the observations",
                   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) != MC_OK)
        return MC_ERR;
    if (read_current_set(s, snap) != MC_OK || read_scenes(s, season, snap) != MC_OK ||
        read_sizes(s, snap) != MC_OK) {
        store_rollback(s);
        store_series_end(s, snap);
        return MC_ERR;
    }
    return MC_OK;
}

void store_series_end(store *s, store_series_snapshot *snap)
{
    /* A read that failed on the server left the snapshot aborted: roll it back, so
     * that the connection can close the run and go on. */
    if (PQtransactionStatus(s->conn) == PQTRANS_INTRANS)
        store_exec(s, "reading the observations", "COMMIT", 0, NULL);
    else
        store_rollback(s);
    for (size_t i = 0; i < snap->n_scenes; i++) {
        free(snap->scenes[i].scene_id);
        free(snap->scenes[i].tile_id);
    }
    for (size_t i = 0; i < snap->n_sizes; i++)
        free(snap->sizes[i].parcel_id);
    free(snap->scenes);
    free(snap->sizes);
    free(snap->set_hash);
    memset(snap, 0, sizeof *snap);
}

/* ---- parts ---- */

typedef struct part_sink {
    store_part_fn fn;
    void *arg;
} part_sink;

static int take_part(void *arg, const field *f, int n)
{
    part_sink *sink = arg;
    char id[STORE_PARCEL_ID_MAX];
    int64_t day;
    store_raw_part p;
    if (n != 7 || field_text(&f[0], id, sizeof id) != MC_OK || field_int64(&f[1], &day) ||
        field_int64(&f[2], &p.n_total) || field_int64(&f[3], &p.n_valid) ||
        field_int64(&f[4], &p.n_moist) || field_int64(&f[5], &p.sum_q) ||
        field_int64(&f[6], &p.sum_m))
        return mc_fail("reading observation parts: an unexpected row (parcel id longer than "
                       "%d bytes?)", STORE_PARCEL_ID_MAX - 1);
    p.day = (int32_t)day;
    return sink->fn(sink->arg, id, &p);
}

/* Appends text to the growing sql; MC_ERR when out of memory. */
static int sql_add(char **sql, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        size_t grown_cap = (*cap + n + 1) * 2;
        char *grown = realloc(*sql, grown_cap);
        if (!grown)
            return MC_ERR;
        *sql = grown;
        *cap = grown_cap;
    }
    memcpy(*sql + *len, text, n + 1);
    *len += n;
    return MC_OK;
}

static int same_leaf(const store_series_scene *a, const store_series_scene *b)
{
    char da[11], db[11];
    date_format(a->day, da);
    date_format(b->day, db);
    return strcmp(a->tile_id, b->tile_id) == 0 && strncmp(da, db, 4) == 0;
}

/* One SELECT per partition leaf (tile and season), naming its tile, the scenes'
 * dates and ids as literals: the tile and dates prune the partitions to the leaf,
 * and the dates find the scenes' blocks through the BRIN index, one pass over the
 * leaf's matching (and not yet summarised) blocks for all of its scenes. */
static char *scenes_sql(store *s, const char *select, const store_series_scene *const *scenes,
                        size_t n)
{
    size_t len = 0, cap = 0;
    char *sql = NULL;
    unsigned char *done = calloc(n + 1, 1);
    int ok = done && sql_add(&sql, &len, &cap, "COPY (") == MC_OK;
    for (size_t i = 0; i < n && ok; i++) {
        if (done[i])
            continue;
        char *tile = PQescapeLiteral(s->conn, scenes[i]->tile_id, strlen(scenes[i]->tile_id));
        ok = tile && sql_add(&sql, &len, &cap, len > 6 ? " UNION ALL " : "") == MC_OK &&
             sql_add(&sql, &len, &cap, select) == MC_OK &&
             sql_add(&sql, &len, &cap, " WHERE p.tile_id = ") == MC_OK &&
             sql_add(&sql, &len, &cap, tile) == MC_OK &&
             sql_add(&sql, &len, &cap, " AND p.acquired_on IN (") == MC_OK;
        PQfreemem(tile);
        for (size_t j = i, k = 0; j < n && ok; j++) /* the dates */
            if (!done[j] && same_leaf(scenes[i], scenes[j])) {
                char date[32];
                snprintf(date, sizeof date, "%sdate '", k++ ? ", " : "");
                date_format(scenes[j]->day, date + strlen(date));
                ok = sql_add(&sql, &len, &cap, date) == MC_OK &&
                     sql_add(&sql, &len, &cap, "'") == MC_OK;
            }
        ok = ok && sql_add(&sql, &len, &cap, ") AND p.scene_id IN (") == MC_OK;
        for (size_t j = i, k = 0; j < n && ok; j++) /* the ids */
            if (!done[j] && same_leaf(scenes[i], scenes[j])) {
                char *id = PQescapeLiteral(s->conn, scenes[j]->scene_id,
                                           strlen(scenes[j]->scene_id));
                ok = id && sql_add(&sql, &len, &cap, k++ ? ", " : "") == MC_OK &&
                     sql_add(&sql, &len, &cap, id) == MC_OK;
                PQfreemem(id);
                done[j] = 1;
            }
        ok = ok && sql_add(&sql, &len, &cap, ")") == MC_OK;
    }
    ok = ok && sql_add(&sql, &len, &cap, ") TO STDOUT (FORMAT binary)") == MC_OK;
    free(done);
    if (!ok) {
        free(sql);
        return NULL;
    }
    return sql;
}

static const char parts_select[] =
    "SELECT p.parcel_id, (p.acquired_on - date '1970-01-01'), p.n_total, p.n_valid,"
    " coalesce(p.n_moist, 0), p.sum_q, coalesce(p.sum_m, 0) FROM observation_parts p";

int store_series_parts(store *s, const store_series_scene *const *scenes, size_t n,
                       store_part_fn fn, void *arg)
{
    if (n == 0)
        return MC_OK;
    char *sql = scenes_sql(s, parts_select, scenes, n);
    if (!sql)
        return mc_fail("reading observation parts: out of memory");
    part_sink sink = {fn, arg};
    int rc = copy_binary(s, "reading observation parts", sql, take_part, &sink);
    free(sql);
    return rc;
}

int store_series_all_parts(store *s, int season, store_part_fn fn, void *arg)
{
    char sql[2048];
    int n = snprintf(sql, sizeof sql,
                     "COPY (%s JOIN (SELECT s.scene_id, s.tile_id, s.acquired_on", parts_select);
    n += snprintf(sql + n, sizeof sql - (size_t)n, scene_filter, season, season, season);
    n += snprintf(sql + n, sizeof sql - (size_t)n,
                  ") s ON s.scene_id = p.scene_id AND s.tile_id = p.tile_id"
                  " AND s.acquired_on = p.acquired_on");
    if (season)
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      " WHERE p.acquired_on >= make_date(%d, 1, 1)"
                      " AND p.acquired_on < make_date(%d + 1, 1, 1)", season, season);
    snprintf(sql + n, sizeof sql - (size_t)n, ") TO STDOUT (FORMAT binary)");
    part_sink sink = {fn, arg};
    return copy_binary(s, "reading observation parts", sql, take_part, &sink);
}

int store_detect_runs_check(store *s, const store_detect_run_mark *last, int64_t this_run_id,
                            int *unchanged, store_detect_run_mark *this_run)
{
    char last_id[24], last_us[24], self[24];
    snprintf(last_id, sizeof last_id, "%" PRId64, last->run_id);
    snprintf(last_us, sizeof last_us, "%" PRId64, last->started_us);
    snprintf(self, sizeof self, "%" PRId64, this_run_id);
    const char *params[] = {last_id, last_us, self};
    PGresult *r = store_query(
        s, "reading the detect runs",
        "SELECT (SELECT count(*) FROM runs WHERE command = 'detect' AND run_id > $1::bigint"
        "        AND run_id <> $3::bigint),"
        " (SELECT count(*) FROM runs WHERE run_id = $1::bigint"
        "        AND (extract(epoch FROM started_at) * 1000000)::int8 = $2::bigint),"
        " (SELECT (extract(epoch FROM started_at) * 1000000)::int8 FROM runs"
        "  WHERE run_id = $3::bigint)",
        3, params);
    if (!r)
        return MC_ERR;
    *unchanged = strtoll(PQgetvalue(r, 0, 0), NULL, 10) == 0 &&
                 strtoll(PQgetvalue(r, 0, 1), NULL, 10) == 1;
    this_run->run_id = this_run_id;
    this_run->started_us = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    PQclear(r);
    return MC_OK;
}
