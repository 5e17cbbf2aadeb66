/* Flagged claims as GeoJSON (GDAL's GeoJSON driver) or CSV with WKT (see report_gis.h). */
#define _GNU_SOURCE
#include "report_gis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "output_file.h"
#include "error.h"
#include "log.h"
#include "text_check.h"

int report_gis_format_parse(const char *text, report_gis_format *format)
{
    if (text && strcmp(text, "geojson") == 0)
        *format = REPORT_GIS_GEOJSON;
    else if (text && strcmp(text, "csv") == 0)
        *format = REPORT_GIS_CSV;
    else
        return mc_fail("--format: '%s' is not geojson or csv", text ? text : "");
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

/* ---- GeoJSON ---- */
static const char *const text_fields[] = {"claim_id", "parcel_id", "outcome", "case_number",
                                          "reviewed", "reason"};

static int geojson_fields(OGRLayerH layer, const char *path)
{
    for (size_t i = 0; i < sizeof text_fields / sizeof *text_fields; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(text_fields[i], OFTString);
        OGRErr e = OGR_L_CreateField(layer, fd, 1);
        OGR_Fld_Destroy(fd);
        if (e != OGRERR_NONE)
            return mc_fail("output %s: cannot create field %s", path, text_fields[i]);
        if (i == 1) { /* season after parcel_id, in the order of the decision feed */
            fd = OGR_Fld_Create("season", OFTInteger);
            e = OGR_L_CreateField(layer, fd, 1);
            OGR_Fld_Destroy(fd);
            if (e != OGRERR_NONE)
                return mc_fail("output %s: cannot create field season", path);
        }
    }
    return MC_OK;
}

static int geojson_feature(OGRLayerH layer, const store_flagged *r, OGRGeometryH geom,
                           const char *path)
{
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
    OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "claim_id"), r->claim_id);
    OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "parcel_id"), r->parcel_id);
    OGR_F_SetFieldInteger(f, OGR_F_GetFieldIndex(f, "season"), r->season);
    OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "outcome"), r->outcome);
    OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "case_number"), r->case_number);
    if (*r->reviewed)
        OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "reviewed"), r->reviewed);
    else
        OGR_F_SetFieldNull(f, OGR_F_GetFieldIndex(f, "reviewed"));
    OGR_F_SetFieldString(f, OGR_F_GetFieldIndex(f, "reason"), r->reason);
    if (geom)
        OGR_F_SetGeometry(f, geom);
    OGRErr e = OGR_L_CreateFeature(layer, f);
    OGR_F_Destroy(f);
    if (e != OGRERR_NONE)
        return mc_fail("output %s: cannot write claim %s: %s", path, r->claim_id,
                       CPLGetLastErrorMsg());
    return MC_OK;
}

static int write_geojson(const gis_rows *g, const char *path)
{
    GDALDriverH drv = GDALGetDriverByName("GeoJSON");
    if (!drv)
        return mc_fail("output %s: GDAL has no GeoJSON driver", path);
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds)
        return mc_fail("output %s: cannot create: %s", path, CPLGetLastErrorMsg());
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    char *lco[] = {"RFC7946=YES", "WRITE_NAME=YES", NULL};
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "flagged", wgs84, wkbUnknown, lco);
    OSRDestroySpatialReference(wgs84);
    int rc = layer ? geojson_fields(layer, path)
                   : mc_fail("output %s: cannot create the layer: %s", path, CPLGetLastErrorMsg());
    for (size_t i = 0; rc == MC_OK && i < g->n; i++)
        rc = geojson_feature(layer, &g->rows[i], g->geoms[i], path);
    GDALClose(ds); /* flushes: the file is complete only now */
    if (rc == MC_OK && CPLGetLastErrorType() >= CE_Failure)
        rc = mc_fail("output %s: %s", path, CPLGetLastErrorMsg());
    return rc;
}

/* ---- CSV ---- */
/* For spreadsheets: no control characters, no formulas (text_check.h). */
static void csv_field(FILE *out, const char *v, int last) { text_csv_cell(out, v, last); }

static int write_csv(const gis_rows *g, FILE *out)
{
    fputs("claim_id,parcel_id,season,outcome,case_number,reviewed,reason,wkt\n", out);
    for (size_t i = 0; i < g->n; i++) {
        const store_flagged *r = &g->rows[i];
        char season[16], *wkt = NULL;
        snprintf(season, sizeof season, "%d", r->season);
        if (g->geoms[i] && OGR_G_ExportToWkt(g->geoms[i], &wkt) != OGRERR_NONE)
            return mc_fail("claim %s: cannot write the geometry as WKT", r->claim_id);
        const char *cols[] = {r->claim_id, r->parcel_id, season, r->outcome,
                              r->case_number, r->reviewed, r->reason, wkt ? wkt : ""};
        for (size_t c = 0; c < 8; c++)
            csv_field(out, cols[c], c == 7);
        CPLFree(wkt);
    }
    return ferror(out) ? mc_fail("write failed: %s", strerror(errno)) : MC_OK;
}

/* output_write writers: stdout, a device or pipe in place, or FILE.tmp renamed. */
static int csv_writer(FILE *out, void *arg) { return write_csv(arg, out); }

/* GDAL writes the GeoJSON in memory; the bytes then go where the output goes. */
static int geojson_writer(FILE *out, void *arg)
{
    char name[64];
    snprintf(name, sizeof name, "/vsimem/mowcheck-flagged-%p.geojson", arg);
    int rc = write_geojson(arg, name);
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
    int rc = load_rows(s, o, &g);
    if (rc == MC_OK) {
        CPLErrorReset();
        rc = output_write(o->output,
                              o->format == REPORT_GIS_GEOJSON ? geojson_writer : csv_writer, &g);
    }
    if (rc == MC_OK)
        *n_written = g.n;
    gis_rows_free(&g);
    return rc;
}
