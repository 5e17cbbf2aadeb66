/* Flagged claims as GeoJSON, GeoPackage (GDAL's drivers) or CSV with WKT (see
 * report_gis.h). */
#define _GNU_SOURCE
#include "report_gis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "dates.h"
#include "error.h"
#include "log.h"
#include "output_file.h"
#include "text_check.h"

int report_gis_format_parse(const char *text, report_gis_format *format)
{
    if (text && strcmp(text, "geojson") == 0)
        *format = REPORT_GIS_GEOJSON;
    else if (text && strcmp(text, "csv") == 0)
        *format = REPORT_GIS_CSV;
    else if (text && strcmp(text, "gpkg") == 0)
        *format = REPORT_GIS_GPKG;
    else
        return mc_fail("--format: '%s' is not geojson, csv or gpkg", text ? text : "");
    return MC_OK;
}

typedef report_flagged_set gis_rows;

static gis_rows *sort_ctx; /* qsort has no context argument in C11 */

static int cmp_by_parcel(const void *a, const void *b)
{
    return strcmp(sort_ctx->rows[*(const size_t *)a].parcel_id,
                  sort_ctx->rows[*(const size_t *)b].parcel_id);
}

static void gis_rows_free(gis_rows *g)
{
    for (size_t i = 0; g->geoms && i < g->n; i++)
        if (g->geoms[i])
            OGR_G_DestroyGeometry(g->geoms[i]);
    free(g->geoms);
    free(g->by_parcel);
    store_flagged_free(g->rows, g->n);
    memset(g, 0, sizeof *g);
}

/* Sets the geometry of every row whose parcel is `id` (a parcel may carry several claims). */
static int attach_geometry(gis_rows *g, const char *id, OGRGeometryH geom,
                           OGRCoordinateTransformationH ct, const char *path)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) { /* first row with parcel_id >= id */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(g->rows[g->by_parcel[mid]].parcel_id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k < g->n && strcmp(g->rows[g->by_parcel[k]].parcel_id, id) == 0; k++) {
        size_t i = g->by_parcel[k];
        if (g->geoms[i])
            continue; /* the first feature with the id wins, as in ingest */
        OGRGeometryH c = OGR_G_Clone(geom);
        if (!c || OGR_G_Transform(c, ct) != OGRERR_NONE) {
            if (c)
                OGR_G_DestroyGeometry(c);
            return mc_fail("parcels %s: parcel %s: cannot reproject to EPSG:4326", path, id);
        }
        g->geoms[i] = c;
    }
    return MC_OK;
}

static int read_geometries(gis_rows *g, const char *path, const char *id_field)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return mc_fail("parcels %s: cannot open: %s", path, CPLGetLastErrorMsg());
    int rc = MC_OK;
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OGRCoordinateTransformationH ct = NULL;
    OGRLayerH layer = GDALDatasetGetLayerCount(ds) > 0 ? GDALDatasetGetLayer(ds, 0) : NULL;
    OGRSpatialReferenceH src = layer ? OGR_L_GetSpatialRef(layer) : NULL;
    int idx = layer ? OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(layer), id_field) : -1;
    if (!layer)
        rc = mc_fail("parcels %s: no layer", path);
    else if (idx < 0)
        rc = mc_fail("parcels %s: no id field '%s'", path, id_field);
    else if (!src)
        rc = mc_fail("parcels %s: the layer has no coordinate reference system", path);
    if (rc == MC_OK) {
        OSRImportFromEPSG(wgs84, 4326);
        OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
        OGRSpatialReferenceH s = OSRClone(src);
        OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
        ct = OCTNewCoordinateTransformation(s, wgs84);
        OSRDestroySpatialReference(s);
        if (!ct)
            rc = mc_fail("parcels %s: no transformation to EPSG:4326", path);
    }
    OGRFeatureH f;
    if (rc == MC_OK)
        OGR_L_ResetReading(layer);
    while (rc == MC_OK && (f = OGR_L_GetNextFeature(layer)) != NULL) {
        OGRGeometryH geom = OGR_F_GetGeometryRef(f);
        if (geom && OGR_F_IsFieldSetAndNotNull(f, idx))
            rc = attach_geometry(g, OGR_F_GetFieldAsString(f, idx), geom, ct, path);
        OGR_F_Destroy(f);
    }
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(wgs84);
    GDALClose(ds);
    return rc;
}

static int load_rows(store *s, const report_gis_options *o, gis_rows *g)
{
    memset(g, 0, sizeof *g);
    if (store_flagged_load(s, o->season, &g->rows, &g->n) != MC_OK)
        return MC_ERR;
    g->geoms = calloc(g->n ? g->n : 1, sizeof *g->geoms);
    g->by_parcel = calloc(g->n ? g->n : 1, sizeof *g->by_parcel);
    if (!g->geoms || !g->by_parcel)
        return mc_fail("flagged export: out of memory");
    for (size_t i = 0; i < g->n; i++)
        g->by_parcel[i] = i;
    sort_ctx = g;
    qsort(g->by_parcel, g->n, sizeof *g->by_parcel, cmp_by_parcel);
    sort_ctx = NULL;
    if (g->n == 0)
        return MC_OK; /* nothing flagged: no parcel file needed */
    char *path = NULL, *field = NULL;
    int found = 0;
    if (!o->parcels_path && store_parcel_source(s, &path, &field, &found) != MC_OK)
        return MC_ERR;
    if (!o->parcels_path && !found)
        return mc_fail("flagged export: the store records no parcel file; give --parcels FILE");
    int rc = read_geometries(g, o->parcels_path ? o->parcels_path : path,
                             o->id_field ? o->id_field : field ? field : "parcel_id");
    free(path);
    free(field);
    for (size_t i = 0; rc == MC_OK && i < g->n; i++)
        if (!g->geoms[i])
            log_warn("flagged export: parcel %s (claim %s) is not in the parcel file;"
                     " written without geometry", g->rows[i].parcel_id, g->rows[i].claim_id);
    return rc;
}

int report_flagged_set_load(store *s, int season, const char *parcels_path,
                            const char *id_field, report_flagged_set *set)
{
    report_gis_options o = {.season = season, .parcels_path = parcels_path,
                            .id_field = id_field};
    GDALAllRegister();
    if (load_rows(s, &o, set) != MC_OK) {
        gis_rows_free(set);
        return MC_ERR;
    }
    return MC_OK;
}

void report_flagged_set_free(report_flagged_set *set) { gis_rows_free(set); }

/* ---- what the report shows beside the decision ---- */
typedef struct gis_extra {
    int has_p;
    double p_mowed;    /* the figure the decision rule used (store_report_detail) */
    char tile[32];
    size_t n_events;
    char *event_dates; /* "start/end; start/end" of the season's detected events */
} gis_extra;

static void extras_free(gis_extra *x, size_t n)
{
    for (size_t i = 0; x && i < n; i++)
        free(x[i].event_dates);
    free(x);
}

static int extras_load(store *s, const report_gis_options *o, const gis_rows *g,
                       gis_extra **out)
{
    gis_extra *x = calloc(g->n ? g->n : 1, sizeof *x);
    if (!x)
        return mc_fail("flagged export: out of memory");
    int rc = MC_OK;
    for (size_t i = 0; rc == MC_OK && i < g->n; i++) {
        store_report_detail d;
        rc = store_report_detail_load(s, &g->rows[i], &o->observed, o->prefetch, &d);
        if (rc != MC_OK)
            break;
        x[i].has_p = d.has_summary;
        x[i].p_mowed = d.window_confidence;
        snprintf(x[i].tile, sizeof x[i].tile, "%s", d.tile_id);
        x[i].n_events = d.n_events;
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        for (size_t k = 0; m && k < d.n_events; k++) {
            char a[11], b[11];
            date_format(d.events[k].day_start, a);
            date_format(d.events[k].day_end, b);
            fprintf(m, "%s%s/%s", k ? "; " : "", a, b);
        }
        if (m)
            fclose(m);
        x[i].event_dates = buf;
        store_report_detail_free(&d);
        if (!buf)
            rc = mc_fail("flagged export: out of memory");
    }
    if (rc != MC_OK) {
        extras_free(x, g->n);
        return rc;
    }
    *out = x;
    return MC_OK;
}

typedef struct gis_job {
    const gis_rows *g;
    const gis_extra *x;
    report_gis_format format;
} gis_job;

/* ---- GeoJSON and GeoPackage (OGR) ---- */
typedef struct gis_field {
    const char *name;
    OGRFieldType type;
} gis_field;

/* The decision feed's columns, then what the report shows (the CSV has the same, with
 * wkt between). */
static const gis_field gis_fields[] = {
    {"claim_id", OFTString},   {"parcel_id", OFTString},   {"season", OFTInteger},
    {"outcome", OFTString},    {"case_number", OFTString}, {"reviewed", OFTString},
    {"reason", OFTString},     {"p_mowed", OFTReal},       {"tile", OFTString},
    {"scheme", OFTString},     {"window_start", OFTDate},  {"window_end", OFTDate},
    {"rule", OFTString},       {"n_events", OFTInteger},   {"event_dates", OFTString},
};
enum { N_GIS_FIELDS = sizeof gis_fields / sizeof *gis_fields };

static int ogr_fields(OGRLayerH layer, const char *path)
{
    for (size_t i = 0; i < N_GIS_FIELDS; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(gis_fields[i].name, gis_fields[i].type);
        OGRErr e = OGR_L_CreateField(layer, fd, 1);
        OGR_Fld_Destroy(fd);
        if (e != OGRERR_NONE)
            return mc_fail("output %s: cannot create field %s", path, gis_fields[i].name);
    }
    return MC_OK;
}

/* A text field; "" is null (not reviewed, unknown). */
static void set_text(OGRFeatureH f, const char *name, const char *v)
{
    int i = OGR_F_GetFieldIndex(f, name);
    if (v && *v)
        OGR_F_SetFieldString(f, i, v);
    else
        OGR_F_SetFieldNull(f, i);
}

static void set_date(OGRFeatureH f, const char *name, const char *v)
{
    int i = OGR_F_GetFieldIndex(f, name), y, m, d;
    int32_t day;
    if (v && date_parse(v, &day) == MC_OK) {
        date_civil_from_days(day, &y, &m, &d);
        OGR_F_SetFieldDateTime(f, i, y, m, d, 0, 0, 0, 0);
    } else {
        OGR_F_SetFieldNull(f, i);
    }
}

static int ogr_feature(OGRLayerH layer, const store_flagged *r, const gis_extra *x,
                       OGRGeometryH geom, const char *path)
{
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
    set_text(f, "claim_id", r->claim_id);
    set_text(f, "parcel_id", r->parcel_id);
    OGR_F_SetFieldInteger(f, OGR_F_GetFieldIndex(f, "season"), r->season);
    set_text(f, "outcome", r->outcome);
    set_text(f, "case_number", r->case_number);
    set_text(f, "reviewed", r->reviewed);
    OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "reason"), r->reason);
    if (x->has_p)
        OGR_F_SetFieldDouble(f, OGR_F_GetFieldIndex(f, "p_mowed"), x->p_mowed);
    else
        OGR_F_SetFieldNull(f, OGR_F_GetFieldIndex(f, "p_mowed"));
    set_text(f, "tile", x->tile);
    set_text(f, "scheme", r->scheme);
    set_date(f, "window_start", r->window_start);
    set_date(f, "window_end", r->window_end);
    set_text(f, "rule", r->rule);
    OGR_F_SetFieldInteger(f, OGR_F_GetFieldIndex(f, "n_events"), (int)x->n_events);
    set_text(f, "event_dates", x->event_dates);
    if (geom)
        OGR_F_SetGeometry(f, geom);
    OGRErr e = OGR_L_CreateFeature(layer, f);
    OGR_F_Destroy(f);
    if (e != OGRERR_NONE)
        return mc_fail("output %s: cannot write claim %s: %s", path, r->claim_id,
                       CPLGetLastErrorMsg());
    return MC_OK;
}

static int write_ogr(const gis_job *job, const char *path)
{
    int gpkg = job->format == REPORT_GIS_GPKG;
    GDALDriverH drv = GDALGetDriverByName(gpkg ? "GPKG" : "GeoJSON");
    if (!drv)
        return mc_fail("output %s: GDAL has no %s driver", path, gpkg ? "GPKG" : "GeoJSON");
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds)
        return mc_fail("output %s: cannot create: %s", path, CPLGetLastErrorMsg());
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    char *geojson_lco[] = {"RFC7946=YES", "WRITE_NAME=YES", NULL};
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "flagged", wgs84, wkbUnknown,
                                             gpkg ? NULL : geojson_lco);
    OSRDestroySpatialReference(wgs84);
    int rc = layer ? ogr_fields(layer, path)
                   : mc_fail("output %s: cannot create the layer: %s", path, CPLGetLastErrorMsg());
    /* one transaction: a GeoPackage writes thousands of features in a blink */
    int tx = rc == MC_OK && GDALDatasetStartTransaction(ds, FALSE) == OGRERR_NONE;
    for (size_t i = 0; rc == MC_OK && i < job->g->n; i++)
        rc = ogr_feature(layer, &job->g->rows[i], &job->x[i], job->g->geoms[i], path);
    if (tx && GDALDatasetCommitTransaction(ds) != OGRERR_NONE && rc == MC_OK)
        rc = mc_fail("output %s: %s", path, CPLGetLastErrorMsg());
    GDALClose(ds); /* flushes: the file is complete only now */
    if (rc == MC_OK && CPLGetLastErrorType() >= CE_Failure)
        rc = mc_fail("output %s: %s", path, CPLGetLastErrorMsg());
    return rc;
}

/* ---- CSV ---- */
/* For spreadsheets: no control characters, no formulas (text_check.h). */
static void csv_field(FILE *out, const char *v, int last) { text_csv_cell(out, v, last); }

/* The columns, and their OGR types for the .csvt beside a CSV file. */
static const char csv_header[] =
    "claim_id,parcel_id,season,outcome,case_number,reviewed,reason,wkt,"
    "p_mowed,tile,scheme,window_start,window_end,rule,n_events,event_dates\n";
static const char csv_types[] =
    "String,String,Integer,String,String,String,String,WKT,"
    "Real,String,String,Date,Date,String,Integer,String\n";

static int write_csv(const gis_job *job, FILE *out)
{
    const gis_rows *g = job->g;
    fputs(csv_header, out);
    for (size_t i = 0; i < g->n; i++) {
        const store_flagged *r = &g->rows[i];
        const gis_extra *x = &job->x[i];
        char season[16], p[32] = "", n_events[24], *wkt = NULL;
        snprintf(season, sizeof season, "%d", r->season);
        if (x->has_p)
            snprintf(p, sizeof p, "%.4f", x->p_mowed);
        snprintf(n_events, sizeof n_events, "%zu", x->n_events);
        if (g->geoms[i] && OGR_G_ExportToWkt(g->geoms[i], &wkt) != OGRERR_NONE)
            return mc_fail("claim %s: cannot write the geometry as WKT", r->claim_id);
        const char *cols[] = {r->claim_id,    r->parcel_id,   season,    r->outcome,
                              r->case_number, r->reviewed,    r->reason, wkt ? wkt : "",
                              p,              x->tile,        r->scheme, r->window_start,
                              r->window_end,  r->rule,        n_events,  x->event_dates};
        size_t n_cols = sizeof cols / sizeof *cols;
        for (size_t c = 0; c < n_cols; c++)
            csv_field(out, cols[c], c + 1 == n_cols);
        CPLFree(wkt);
    }
    return ferror(out) ? mc_fail("write failed: %s", strerror(errno)) : MC_OK;
}

/* A file beside the CSV: its name with the extension replaced (flagged.csv ->
 * flagged.prj), written whole. */
static int sidecar(const char *csv_path, const char *ext, const char *text)
{
    char path[4200];
    const char *dot = strrchr(csv_path, '.'), *slash = strrchr(csv_path, '/');
    size_t base = dot && (!slash || dot > slash) ? (size_t)(dot - csv_path) : strlen(csv_path);
    if (snprintf(path, sizeof path, "%.*s.%s", (int)base, csv_path, ext) >= (int)sizeof path)
        return mc_fail("output %s: path too long", csv_path);
    FILE *f = fopen(path, "w");
    if (!f)
        return mc_fail("output %s: %s", path, strerror(errno));
    fputs(text, f);
    return fclose(f) == 0 ? MC_OK : mc_fail("output %s: %s", path, strerror(errno));
}

/* The CRS of a CSV written to a file (GDAL's CSV driver knows no CRS of its own): a
 * .prj (WKT of EPSG:4326), a .csvt with the column types, and an OGR VRT that names the
 * CSV, its geometry column and EPSG:4326, so that ogrinfo and QGIS open it with its
 * CRS. Not for stdout or a pipe. */
static int csv_sidecars(const char *csv_path)
{
    struct stat st;
    if (!csv_path || strcmp(csv_path, "-") == 0 || stat(csv_path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return MC_OK;
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    char *wkt = NULL;
    OSRExportToWkt(wgs84, &wkt);
    OSRDestroySpatialReference(wgs84);
    int rc = wkt ? sidecar(csv_path, "prj", wkt) : mc_fail("output %s: no WKT of EPSG:4326",
                                                           csv_path);
    CPLFree(wkt);
    if (rc == MC_OK)
        rc = sidecar(csv_path, "csvt", csv_types);
    const char *slash = strrchr(csv_path, '/'), *name = slash ? slash + 1 : csv_path;
    char *vrt = NULL;
    if (rc == MC_OK &&
        asprintf(&vrt, "<OGRVRTDataSource>\n  <OGRVRTLayer name=\"flagged\">\n"
                       "    <SrcDataSource relativeToVRT=\"1\">%s</SrcDataSource>\n"
                       "    <GeometryType>wkbPolygon</GeometryType>\n"
                       "    <LayerSRS>EPSG:4326</LayerSRS>\n"
                       "    <GeometryField encoding=\"WKT\" field=\"wkt\"/>\n"
                       "  </OGRVRTLayer>\n</OGRVRTDataSource>\n", name) < 0)
        rc = mc_fail("output %s: out of memory", csv_path);
    if (rc == MC_OK)
        rc = sidecar(csv_path, "vrt", vrt);
    free(vrt);
    return rc;
}

/* output_write writers: stdout, a device or pipe in place, or FILE.tmp renamed. */
static int csv_writer(FILE *out, void *arg) { return write_csv(arg, out); }

/* GDAL writes the GeoJSON or GeoPackage in memory; the bytes then go where the output
 * goes. */
static int ogr_writer(FILE *out, void *arg)
{
    const gis_job *job = arg;
    char name[80];
    snprintf(name, sizeof name, "/vsimem/mowcheck-flagged-%p.%s", arg,
             job->format == REPORT_GIS_GPKG ? "gpkg" : "geojson");
    int rc = write_ogr(job, name);
    vsi_l_offset len = 0;
    GByte *bytes = rc == MC_OK ? VSIGetMemFileBuffer(name, &len, FALSE) : NULL;
    if (rc == MC_OK && (!bytes || fwrite(bytes, 1, (size_t)len, out) != (size_t)len))
        rc = mc_fail("write failed: %s", strerror(errno));
    VSIUnlink(name);
    return rc;
}

int report_flagged_export(store *s, const report_gis_options *o, size_t *n_written)
{
    *n_written = 0;
    GDALAllRegister();
    gis_rows g;
    gis_extra *x = NULL;
    int rc = load_rows(s, o, &g);
    if (rc == MC_OK)
        rc = extras_load(s, o, &g, &x);
    if (rc == MC_OK) {
        CPLErrorReset();
        gis_job job = {&g, x, o->format};
        rc = output_write(o->output, o->format == REPORT_GIS_CSV ? csv_writer : ogr_writer, &job);
    }
    if (rc == MC_OK && o->format == REPORT_GIS_CSV)
        rc = csv_sidecars(o->output);
    if (rc == MC_OK)
        *n_written = g.n;
    extras_free(x, g.n);
    gis_rows_free(&g);
    return rc;
}
