/* Reading a parcel set from any vector file GDAL reads. */
#define _GNU_SOURCE /* asprintf */
#include "parcels.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <inttypes.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "text_check.h"

/* What is being read, and the growing arrays. */
typedef struct parcels_reader {
    const char *path;
    const char *id_field;
    int field;          /* index of the id field; -1: the FID column is the id */
    OGRFieldType type;
    parcel_set *set;
    GIntBig *fids;
    size_t cap;
    EVP_MD_CTX *md;
    unsigned char *wkb;
    size_t wkb_cap;
    char **notes;       /* the warnings about features left out, where asked for */
    size_t n_notes;
    int keep_notes;
} parcels_reader;

void parcels_free(parcel_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->ids ? set->ids[i] : NULL);
        free(set->refused ? set->refused[i] : NULL);
        if (set->geometries && set->geometries[i])
            OGR_G_DestroyGeometry(set->geometries[i]);
    }
    free(set->ids);
    free(set->refused);
    free(set->geometries);
    if (set->srs)
        OSRDestroySpatialReference(set->srs);
    free(set->source_path);
    parcels_wkb_free(set->wkb);
    free(set);
}

static int hash_bytes(parcels_reader *r, const void *p, size_t n)
{
    if (EVP_DigestUpdate(r->md, p, n) != 1)
        return mc_fail("parcels %s: SHA-256 update failed", r->path);
    return MC_OK;
}

/* A string including its terminating NUL, so "ab"+"c" and "a"+"bc" differ. */
static int hash_str(parcels_reader *r, const char *s)
{
    return hash_bytes(r, s, strlen(s) + 1);
}

static int reader_grow(parcels_reader *r)
{
    parcel_set *set = r->set;
    if (set->n < r->cap)
        return MC_OK;
    size_t cap = r->cap ? r->cap * 2 : 1024;
    char **ids = realloc(set->ids, cap * sizeof *ids);
    if (ids)
        set->ids = ids;
    void **geoms = realloc(set->geometries, cap * sizeof *geoms);
    if (geoms)
        set->geometries = geoms;
    GIntBig *fids = realloc(r->fids, cap * sizeof *fids);
    if (fids)
        r->fids = fids;
    if (!ids || !geoms || !fids)
        return mc_fail("parcels %s: out of memory after %zu features", r->path, set->n);
    r->cap = cap;
    return MC_OK;
}

/* The id of a feature as text; fails naming the feature when it is empty. */
static int read_id(parcels_reader *r, OGRFeatureH f, char **out)
{
    char buf[32];
    GIntBig fid = OGR_F_GetFID(f);
    if (r->field < 0) {
        snprintf(buf, sizeof buf, "%" PRId64, (int64_t)fid);
        *out = strdup(buf);
    } else if (!OGR_F_IsFieldSetAndNotNull(f, r->field)) {
        return mc_fail("parcels %s: feature %" PRId64 " has no id (field \"%s\" is empty)",
                       r->path, (int64_t)fid, r->id_field);
    } else if (r->type == OFTString) {
        const char *s = OGR_F_GetFieldAsString(f, r->field);
        if (!s || !*s)
            return mc_fail("parcels %s: feature %" PRId64 " has an empty id (field \"%s\")",
                           r->path, (int64_t)fid, r->id_field);
        *out = strdup(s);
    } else {
        snprintf(buf, sizeof buf, "%" PRId64, (int64_t)OGR_F_GetFieldAsInteger64(f, r->field));
        *out = strdup(buf);
    }
    if (!*out)
        return mc_fail("parcels %s: out of memory", r->path);
    return MC_OK;
}

/* Adds the geometry's WKB (length first; length 0 for none) to the content hash. */
static int hash_geometry(parcels_reader *r, OGRGeometryH g)
{
    uint64_t n = g ? (uint64_t)OGR_G_WkbSize(g) : 0;
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(n >> (8 * i));
    if (hash_bytes(r, len, sizeof len))
        return MC_ERR;
    if (n == 0)
        return MC_OK;
    if (n > r->wkb_cap) {
        unsigned char *w = realloc(r->wkb, n);
        if (!w)
            return mc_fail("parcels %s: out of memory", r->path);
        r->wkb = w;
        r->wkb_cap = n;
    }
    if (OGR_G_ExportToWkb(g, wkbNDR, r->wkb) != OGRERR_NONE)
        return mc_fail("parcels %s: cannot export a geometry to WKB", r->path);
    return hash_bytes(r, r->wkb, n);
}

/* Why the geometry cannot be a parcel (malloc'd text), or NULL when it is fine.
 * Runs on many threads at once: GDAL gives every IsValid call its own GEOS
 * context, and CPL error state is per thread. */
static char *geometry_problem(OGRGeometryH g)
{
    char *why = NULL;
    if (!g || OGR_G_IsEmpty(g))
        return strdup("has no geometry");
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t != wkbPolygon && t != wkbMultiPolygon) {
        if (asprintf(&why, "is a %s, not a polygon or multipolygon",
                     OGRGeometryTypeToName(OGR_G_GetGeometryType(g))) < 0)
            why = NULL;
        return why ? why : strdup("is not a polygon");
    }
    /* GEOS explains why through CPLError; keep it off stderr and into our message. */
    CPLErrorReset();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int valid = OGR_G_IsValid(g);
    CPLPopErrorHandler();
    if (!valid) {
        const char *msg = CPLGetLastErrorMsg();
        if (asprintf(&why, "has an invalid geometry (%s)",
                     msg && *msg ? msg : "e.g. a self-intersection") < 0)
            why = NULL;
        CPLErrorReset();
        return why ? why : strdup("has an invalid geometry");
    }
    OGR_G_FlattenTo2D(g);
    return NULL;
}

/* Checks every geometry (in parallel); refuses and reports by id those that
 * cannot be parcels. */
static int check_geometries(parcels_reader *r)
{
    parcel_set *set = r->set;
    char **why = calloc(set->n + 1, sizeof *why);
    if (!why)
        return mc_fail("parcels %s: out of memory", r->path);
#pragma omp parallel for schedule(dynamic, 256)
    for (size_t p = 0; p < set->n; p++)
        why[p] = geometry_problem(set->geometries[p]);
    for (size_t p = 0; p < set->n; p++) {
        if (!why[p])
            continue;
        log_warn("parcels %s: parcel %s %s; refused", r->path, set->ids[p], why[p]);
        if (set->geometries[p])
            OGR_G_DestroyGeometry(set->geometries[p]);
        set->geometries[p] = NULL;
        set->n_refused++;
    }
    set->refused = why; /* kept: decide gives the parcel's claims this reason */
    return MC_OK;
}

/* Takes note (malloc'd) where the caller asked for the notes, else frees it. */
static int keep_note(parcels_reader *r, char *note)
{
    if (!r->keep_notes) {
        free(note);
        return MC_OK;
    }
    char **v = realloc(r->notes, (r->n_notes + 1) * sizeof *v);
    if (!v) {
        free(note);
        return mc_fail("parcels %s: out of memory", r->path);
    }
    r->notes = v;
    r->notes[r->n_notes++] = note;
    return MC_OK;
}

static int read_feature(parcels_reader *r, OGRFeatureH f)
{
    parcel_set *set = r->set;
    if (reader_grow(r))
        return MC_ERR;
    char *id = NULL;
    if (read_id(r, f, &id))
        return MC_ERR;
    const char *bad = text_id_problem(id);
    if (bad) {
        /* It cannot be stored, exported or asked of the registry: left out, named. */
        char shown[160];
        char *note = NULL;
        if (asprintf(&note, "feature %" PRId64 ": the id \"%s\" (field \"%s\") %s; parcel left out",
                     (int64_t)OGR_F_GetFID(f), text_escape(id, shown, sizeof shown), r->id_field,
                     bad) < 0)
            note = NULL;
        free(id);
        set->n_dropped++;
        if (!note)
            return mc_fail("parcels %s: out of memory", r->path);
        log_warn("parcels %s: %s", r->path, note);
        return keep_note(r, note);
    }
    OGRGeometryH g = OGR_F_StealGeometry(f);
    if (hash_str(r, id) || hash_geometry(r, g)) {
        free(id);
        if (g)
            OGR_G_DestroyGeometry(g);
        return MC_ERR;
    }
    set->ids[set->n] = id;
    r->fids[set->n] = OGR_F_GetFID(f);
    set->geometries[set->n] = g; /* checked in check_geometries */
    set->n++;
    return MC_OK;
}

static const parcel_set *sort_set;
static int cmp_id_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(sort_set->ids[i], sort_set->ids[j]);
    return c ? c : (i < j ? -1 : i > j);
}

static int check_duplicates(parcels_reader *r)
{
    parcel_set *set = r->set;
    if (set->n < 2)
        return MC_OK;
    size_t *order = malloc(set->n * sizeof *order);
    if (!order)
        return mc_fail("parcels %s: out of memory", r->path);
    for (size_t i = 0; i < set->n; i++)
        order[i] = i;
    sort_set = set; /* parcels_load is not called concurrently with itself here */
    qsort(order, set->n, sizeof *order, cmp_id_index);
    int rc = MC_OK;
    for (size_t k = 1; k < set->n && rc == MC_OK; k++) {
        size_t a = order[k - 1], b = order[k];
        if (strcmp(set->ids[a], set->ids[b]) == 0)
            rc = mc_fail("parcels %s: duplicate id \"%s\" (features %" PRId64 " and %" PRId64 ")",
                         r->path, set->ids[a], (int64_t)r->fids[a], (int64_t)r->fids[b]);
    }
    free(order);
    return rc;
}

/* Finds the id field (or the FID column of that name) and checks its type. */
static int find_id_field(parcels_reader *r, OGRLayerH layer)
{
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
    r->field = OGR_FD_GetFieldIndex(defn, r->id_field);
    if (r->field < 0) {
        const char *fid = OGR_L_GetFIDColumn(layer);
        if (fid && *fid && strcasecmp(fid, r->id_field) == 0)
            return MC_OK;
        char names[512] = "";
        for (int i = 0; i < OGR_FD_GetFieldCount(defn); i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                     OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(defn, i)));
        }
        return mc_fail("parcels %s: no id field \"%s\" in layer \"%s\" (fields: %s)", r->path,
                       r->id_field, OGR_L_GetName(layer), *names ? names : "none");
    }
    r->type = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, r->field));
    if (r->type != OFTString && r->type != OFTInteger && r->type != OFTInteger64)
        return mc_fail("parcels %s: id field \"%s\" is of type %s; expected text or integer",
                       r->path, r->id_field, OGR_GetFieldTypeName(r->type));
    return MC_OK;
}

static int read_srs(parcels_reader *r, OGRLayerH layer)
{
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    if (!srs)
        return mc_fail("parcels %s: layer \"%s\" has no coordinate reference system", r->path,
                       OGR_L_GetName(layer));
    r->set->srs = OSRClone(srs);
    if (!r->set->srs)
        return mc_fail("parcels %s: cannot copy the CRS", r->path);
    OSRSetAxisMappingStrategy(r->set->srs, OAMS_TRADITIONAL_GIS_ORDER);
    char *wkt = NULL;
    const char *opts[] = {"FORMAT=WKT2_2018", NULL};
    if (OSRExportToWktEx(r->set->srs, &wkt, opts) != OGRERR_NONE || !wkt) {
        CPLFree(wkt);
        return mc_fail("parcels %s: cannot export the CRS as WKT", r->path);
    }
    int rc = hash_str(r, wkt);
    CPLFree(wkt);
    return rc;
}

static int check_layer_type(parcels_reader *r, OGRLayerH layer)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_L_GetGeomType(layer));
    if (t == wkbNone)
        return mc_fail("parcels %s: layer \"%s\" has no geometry column", r->path,
                       OGR_L_GetName(layer));
    if (t == wkbPoint || t == wkbMultiPoint || t == wkbLineString || t == wkbMultiLineString)
        return mc_fail("parcels %s: layer \"%s\" holds %s geometries; expected polygons", r->path,
                       OGR_L_GetName(layer), OGRGeometryTypeToName(OGR_L_GetGeomType(layer)));
    return MC_OK;
}

static int read_layer(parcels_reader *r, GDALDatasetH ds, double inner_buffer_m)
{
    if (GDALDatasetGetLayerCount(ds) < 1)
        return mc_fail("parcels %s: the file has no layer", r->path);
    OGRLayerH layer = GDALDatasetGetLayer(ds, 0);
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", inner_buffer_m);
    if (find_id_field(r, layer) || check_layer_type(r, layer) ||
        hash_str(r, PARCELS_HASH_VERSION) || hash_str(r, r->id_field) || hash_str(r, buf) ||
        read_srs(r, layer))
        return MC_ERR;
    OGR_L_ResetReading(layer);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(layer)) != NULL) {
        int rc = read_feature(r, f);
        OGR_F_Destroy(f);
        if (rc)
            return MC_ERR;
    }
    if (CPLGetLastErrorType() == CE_Failure && *CPLGetLastErrorMsg())
        log_debug("parcels %s: GDAL reported: %s", r->path, CPLGetLastErrorMsg());
    if (check_duplicates(r))
        return MC_ERR;
    return check_geometries(r);
}

static int finish_hash(parcels_reader *r)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(r->md, d, &n) != 1 || n != 32)
        return mc_fail("parcels %s: SHA-256 failed", r->path);
    for (unsigned i = 0; i < n; i++)
        snprintf(r->set->hash + 2 * i, 3, "%02x", d[i]);
    return MC_OK;
}

int parcels_load(const char *path, const char *id_field, double inner_buffer_m,
                 parcel_set **out)
{
    return parcels_load_noting(path, id_field, inner_buffer_m, out, NULL, NULL);
}

int parcels_load_noting(const char *path, const char *id_field, double inner_buffer_m,
                        parcel_set **out, char ***notes, size_t *n_notes)
{
    *out = NULL;
    if (notes) {
        *notes = NULL;
        *n_notes = 0;
    }
    if (!path || !*path)
        return mc_fail("parcels: no parcel file given");
    if (!id_field || !*id_field)
        return mc_fail("parcels %s: no id field name given", path);
    if (!isfinite(inner_buffer_m) || inner_buffer_m < 0)
        return mc_fail("parcels %s: inner buffer %g m must be >= 0", path, inner_buffer_m);
    GDALAllRegister();
    CPLErrorReset();
    CPLPushErrorHandler(CPLQuietErrorHandler); /* the reason goes into our message */
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    VSIStatBufL st;
    if (!ds && !strchr(path, ':') && VSIStatL(path, &st) != 0) /* not PG:..., URLs */
        return mc_fail("parcels %s: no such file", path);
    if (!ds)
        return mc_fail("parcels %s: cannot open as a vector file (%s)", path,
                       *CPLGetLastErrorMsg() ? CPLGetLastErrorMsg() : "unknown format");
    parcels_reader r = {.path = path, .id_field = id_field, .keep_notes = notes != NULL};
    r.set = calloc(1, sizeof *r.set);
    r.md = EVP_MD_CTX_new();
    int rc = MC_OK;
    if (!r.set || !r.md || EVP_DigestInit_ex(r.md, EVP_sha256(), NULL) != 1)
        rc = mc_fail("parcels %s: out of memory", path);
    if (rc == MC_OK)
        rc = read_layer(&r, ds, inner_buffer_m);
    if (rc == MC_OK)
        rc = finish_hash(&r);
    if (rc == MC_OK && !(r.set->source_path = strdup(path)))
        rc = mc_fail("parcels %s: out of memory", path);
    GDALClose(ds);
    EVP_MD_CTX_free(r.md);
    free(r.fids);
    free(r.wkb);
    if (rc != MC_OK || !notes) {
        for (size_t i = 0; i < r.n_notes; i++)
            free(r.notes[i]);
        free(r.notes);
    } else {
        *notes = r.notes;
        *n_notes = r.n_notes;
    }
    if (rc != MC_OK) {
        parcels_free(r.set);
        return MC_ERR;
    }
    log_debug("parcels %s: %zu parcels (%zu refused), hash %.12s", path, r.set->n,
              r.set->n_refused, r.set->hash);
    *out = r.set;
    return MC_OK;
}

/* ---- overlaps ---- */

typedef struct parcel_box {
    size_t p;
    OGREnvelope env;
    double area;
} parcel_box;

static int cmp_box_west(const void *a, const void *b)
{
    const parcel_box *x = a, *y = b;
    if (x->env.MinX != y->env.MinX)
        return x->env.MinX < y->env.MinX ? -1 : 1;
    return x->p < y->p ? -1 : x->p > y->p;
}

static int cmp_overlap(const void *a, const void *b)
{
    const parcel_overlap *x = a, *y = b;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    return x->b < y->b ? -1 : x->b > y->b;
}

/* The area the two envelopes share: never less than the parcels share. */
static double envelope_overlap_area(const OGREnvelope *a, const OGREnvelope *b)
{
    double w = fmin(a->MaxX, b->MaxX) - fmax(a->MinX, b->MinX);
    double h = fmin(a->MaxY, b->MaxY) - fmax(a->MinY, b->MinY);
    return w > 0 && h > 0 ? w * h : 0;
}

/* The shared area of two parcels (0 where GEOS cannot say). */
static double shared_area(OGRGeometryH a, OGRGeometryH b)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    OGRGeometryH x = OGR_G_Intersection(a, b);
    CPLPopErrorHandler();
    double area = x ? OGR_G_Area(x) : 0;
    if (x)
        OGR_G_DestroyGeometry(x);
    return area;
}

static int overlap_add(parcel_overlap **v, size_t *n, size_t *cap, const parcel_overlap *o)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        parcel_overlap *g = realloc(*v, c * sizeof *g);
        if (!g)
            return MC_ERR;
        *v = g;
        *cap = c;
    }
    (*v)[(*n)++] = *o;
    return MC_OK;
}

/* A sweep over the parcels sorted by west edge: only pairs whose envelopes share
 * at least min_share of the smaller parcel's area are intersected (neighbours that
 * merely touch share no area and are never intersected past that test). */
int parcels_find_overlaps(const parcel_set *set, double min_share, parcel_overlap **out,
                          size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (parcels_need_geometries(set) != MC_OK)
        return MC_ERR;
    parcel_box *box = malloc((set->n ? set->n : 1) * sizeof *box);
    if (!box)
        return mc_fail("parcels %s: out of memory", set->source_path);
    size_t nb = 0;
    for (size_t p = 0; p < set->n; p++) {
        if (!set->geometries[p])
            continue;
        box[nb].p = p;
        OGR_G_GetEnvelope(set->geometries[p], &box[nb].env);
        box[nb].area = OGR_G_Area(set->geometries[p]);
        if (box[nb].area > 0)
            nb++;
    }
    qsort(box, nb, sizeof *box, cmp_box_west);
    parcel_overlap *v = NULL;
    size_t n = 0, cap = 0;
    int oom = 0;
#pragma omp parallel for schedule(dynamic, 64)
    for (size_t i = 0; i < nb; i++) {
        for (size_t j = i + 1; j < nb && box[j].env.MinX < box[i].env.MaxX; j++) {
            double smaller = fmin(box[i].area, box[j].area);
            if (envelope_overlap_area(&box[i].env, &box[j].env) <= min_share * smaller)
                continue;
            double shared = shared_area(set->geometries[box[i].p], set->geometries[box[j].p]);
            if (shared <= min_share * smaller)
                continue;
            int first = box[i].p < box[j].p;
            parcel_overlap o = {first ? box[i].p : box[j].p, first ? box[j].p : box[i].p, 0, 0};
            o.share_a = fmin(1.0, shared / (first ? box[i].area : box[j].area));
            o.share_b = fmin(1.0, shared / (first ? box[j].area : box[i].area));
#pragma omp critical(parcels_overlaps)
            oom |= overlap_add(&v, &n, &cap, &o) != MC_OK;
        }
    }
    free(box);
    if (oom) {
        free(v);
        return mc_fail("parcels %s: out of memory", set->source_path);
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_overlap);
    *out = v;
    *n_out = n;
    return MC_OK;
}
