/* Writing the sample: scene folders (GeoTIFFs, STAC item.json, the bad
 * deliveries), parcels.gpkg, truth and claims CSVs, and a manifest. */
#include <errno.h>
#include <gdal.h>
#include <jansson.h>
#include <math.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpl_conv.h"
#include "error.h"
#include "sample.h"

int sample_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return mc_fail("path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return mc_fail("cannot create directory %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return mc_fail("cannot create directory %s: %s", buf, strerror(errno));
    return MC_OK;
}

/* dir/name into out (4096 bytes), or a message when it does not fit. */
static int path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, 4096, "%s/%s", dir, name);
    if (n < 0 || n >= 4096)
        return mc_fail("path too long: %s/%s", dir, name);
    return MC_OK;
}

/* ---- geometry ---------------------------------------------------------- */

static OGRGeometryH ring_to_ogr(const sample_ring *r)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbLinearRing);
    for (int k = 0; k < r->n; k++)
        OGR_G_AddPoint_2D(g, r->xy[2 * k], r->xy[2 * k + 1]);
    OGR_G_AddPoint_2D(g, r->xy[0], r->xy[1]);
    return g;
}

static OGRGeometryH poly_to_ogr(const sample_poly *p)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(g, ring_to_ogr(&p->outer));
    if (p->has_hole)
        OGR_G_AddGeometryDirectly(g, ring_to_ogr(&p->hole));
    return g;
}

void *sample_ring_to_ogr_polygon(const sample_ring *r)
{
    OGRGeometryH g = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(g, ring_to_ogr(r));
    return g;
}

void *sample_shape_to_ogr(const sample_shape *s)
{
    if (s->n_polys == 1)
        return poly_to_ogr(&s->polys[0]);
    OGRGeometryH m = OGR_G_CreateGeometry(wkbMultiPolygon);
    for (int i = 0; i < s->n_polys; i++)
        OGR_G_AddGeometryDirectly(m, poly_to_ogr(&s->polys[i]));
    return m;
}

static OGRSpatialReferenceH srs_from_epsg(int epsg)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    if (OSRImportFromEPSG(s, epsg) != OGRERR_NONE) {
        OSRDestroySpatialReference(s);
        return NULL;
    }
    OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

/* ---- GeoTIFF ----------------------------------------------------------- */

int sample_write_gtiff(const char *path, int w, int h, int is_byte, const void *data,
                       const double gt[6], const char *wkt, int block, int threads)
{
    char bx[32], by[32], nt[32];
    snprintf(bx, sizeof bx, "BLOCKXSIZE=%d", block);
    snprintf(by, sizeof by, "BLOCKYSIZE=%d", block);
    snprintf(nt, sizeof nt, "NUM_THREADS=%d", threads > 0 ? threads : 1);
    char *opts[] = {"TILED=YES", bx, by, "COMPRESS=DEFLATE", "PREDICTOR=2", nt, NULL};
    CPLErrorReset();
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, w, h, 1,
                                 is_byte ? GDT_Byte : GDT_UInt16, opts);
    if (!ds)
        return mc_fail("cannot create %s: %s", path, CPLGetLastErrorMsg());
    GDALSetGeoTransform(ds, (double *)gt);
    GDALSetProjection(ds, wkt);
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    GDALSetRasterNoDataValue(b, 0);
    int rc = MC_OK;
    if (data && GDALRasterIO(b, GF_Write, 0, 0, w, h, (void *)data, w, h,
                             is_byte ? GDT_Byte : GDT_UInt16, 0, 0) != CE_None)
        rc = mc_fail("writing %s: %s", path, CPLGetLastErrorMsg());
    GDALClose(ds);
    if (rc == MC_OK && CPLGetLastErrorType() >= CE_Failure)
        rc = mc_fail("writing %s: %s", path, CPLGetLastErrorMsg());
    return rc;
}

/* ---- STAC item --------------------------------------------------------- */

typedef struct footprint {
    double lonlat[10]; /* LL, LR, UR, UL, LL */
    double bbox[4];
} footprint;

/* The scene's valid area (the tile, cut at the swath edge) in lon/lat. */
static int footprint_compute(const sample_region *r, const sample_scene *s, int swath,
                             OGRCoordinateTransformationH to_wgs84, footprint *fp)
{
    const sample_tile *t = &r->tiles[s->tile];
    const sample_date *d = &r->dates[s->date];
    double x0 = t->x0, x1 = t->x0 + SAMPLE_PIXEL_M * t->width;
    double y0 = t->y0 - SAMPLE_PIXEL_M * t->height, y1 = t->y0;
    double xb = x1, xt = x1;
    if (swath && d->swath_edge) {
        xb = fmin(x1, d->edge_x_m + (y0 - d->edge_y_m) * d->edge_dx_per_dy);
        xt = fmin(x1, d->edge_x_m + (y1 - d->edge_y_m) * d->edge_dx_per_dy);
    }
    double x[5] = {x0, xb, xt, x0, x0}, y[5] = {y0, y0, y1, y1, y0};
    if (!OCTTransform(to_wgs84, 5, x, y, NULL))
        return mc_fail("scene %s: cannot transform its footprint to EPSG:4326", s->id);
    for (int k = 0; k < 5; k++) {
        fp->lonlat[2 * k] = round(x[k] * 1e7) / 1e7;
        fp->lonlat[2 * k + 1] = round(y[k] * 1e7) / 1e7;
        if (k == 0)
            fp->bbox[0] = fp->bbox[2] = fp->lonlat[0], fp->bbox[1] = fp->bbox[3] = fp->lonlat[1];
        fp->bbox[0] = fmin(fp->bbox[0], fp->lonlat[2 * k]);
        fp->bbox[1] = fmin(fp->bbox[1], fp->lonlat[2 * k + 1]);
        fp->bbox[2] = fmax(fp->bbox[2], fp->lonlat[2 * k]);
        fp->bbox[3] = fmax(fp->bbox[3], fp->lonlat[2 * k + 1]);
    }
    return MC_OK;
}

/* A band asset; its grid follows from res_m (10 or 20 m) on the tile's 10 m grid. */
static json_t *asset_json(const char *file, const char *title, const char *band, const char *common,
                          int res_m, const sample_tile *t, int is_scl)
{
    int w = t->width * 10 / res_m, h = t->height * 10 / res_m;
    json_t *rb = json_pack("{s:i, s:s, s:i}", "nodata", 0, "data_type", is_scl ? "uint8" : "uint16",
                           "spatial_resolution", res_m);
    if (!is_scl) { /* baseline 04.00+: reflectance = DN * 0.0001 - 0.1 */
        json_object_set_new(rb, "bits_per_sample", json_integer(15));
        json_object_set_new(rb, "scale", json_real(0.0001));
        json_object_set_new(rb, "offset", json_real(-0.1));
    }
    json_t *a = json_pack("{s:s, s:s, s:s, s:[s,s]}", "href", file, "type",
                          "image/tiff; application=geotiff", "title", title, "roles", "data",
                          is_scl ? "data-mask" : "reflectance");
    if (common)
        json_object_set_new(a, "eo:bands", json_pack("[{s:s, s:s}]", "name", band, "common_name", common));
    json_object_set_new(a, "gsd", json_integer(res_m));
    json_object_set_new(a, "proj:shape", json_pack("[i,i]", h, w));
    json_object_set_new(a, "proj:transform", json_pack("[i,i,f,i,i,f]", res_m, 0, t->x0, 0, -res_m, t->y0));
    json_object_set_new(a, "raster:bands", json_pack("[o]", rb));
    return a;
}

static json_t *item_json(const sample_region *r, const sample_scene *s, const footprint *fp,
                         int created_days_later)
{
    const sample_tile *t = &r->tiles[s->tile];
    const sample_date *d = &r->dates[s->date];
    char datetime[40], created[40], platform[16], datatake[64];
    snprintf(datetime, sizeof datetime, "%sT%02d:%02d:%02d.024000Z", d->iso, d->hour, d->minute, d->second);
    int month, day;
    sample_doy_to_date(d->doy + created_days_later, &month, &day);
    snprintf(created, sizeof created, "%04d-%02d-%02dT%02d:%02d:11.000000Z", SAMPLE_YEAR, month, day,
             d->hour + 3, d->minute);
    snprintf(platform, sizeof platform, "sentinel-2%c", d->satellite[2] + ('a' - 'A'));
    snprintf(datatake, sizeof datatake, "GS2%c_%sT%02d%02d%02d_0%02d_N05.11", d->satellite[2],
             d->compact, d->hour, d->minute, d->second, d->relative_orbit % 100);
    json_t *ring = json_array();
    for (int k = 0; k < 5; k++)
        json_array_append_new(ring, json_pack("[f,f]", fp->lonlat[2 * k], fp->lonlat[2 * k + 1]));
    json_t *props = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s], s:f, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
        "datetime", datetime, "created", created, "platform", platform, "constellation", "sentinel-2",
        "instruments", "msi", "eo:cloud_cover", round(s->cloud_cover_pct * 100) / 100, "proj:epsg",
        SAMPLE_UTM_EPSG, "mgrs:utm_zone", 35, "mgrs:latitude_band", "V", "mgrs:grid_square", t->id + 3,
        "s2:mgrs_tile", t->id, "s2:processing_baseline", "05.11", "s2:product_type", "S2MSI2A",
        "s2:datatake_id", datatake, "sat:relative_orbit", d->relative_orbit, "s2:sequence",
        s->sequence == 0 ? "0" : "1");
    json_object_set_new(props, "s2:nodata_pixel_percentage", json_real(round(s->nodata_pct * 100) / 100));
    json_t *assets = json_pack("{s:o, s:o, s:o, s:o}",
                               "B04", asset_json("./B04.tif", "Red (band 4) - 10m", "B04", "red", 10, t, 0),
                               "B08", asset_json("./B08.tif", "NIR 1 (band 8) - 10m", "B08", "nir", 10, t, 0),
                               "B11", asset_json("./B11.tif", "SWIR 1.6 (band 11) - 20m", "B11", "swir16", 20, t, 0),
                               "SCL", asset_json("./SCL.tif", "Scene classification map (SCL)", "SCL", NULL, 20, t, 1));
    return json_pack(
        "{s:s, s:s, s:[s,s,s,s,s], s:s, s:[f,f,f,f], s:{s:s, s:[o]}, s:o, s:[], s:o, s:s}", "type",
        "Feature", "stac_version", "1.0.0", "stac_extensions",
        "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
        "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
        "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json", "id", s->id, "bbox",
        fp->bbox[0], fp->bbox[1], fp->bbox[2], fp->bbox[3], "geometry", "type", "Polygon",
        "coordinates", ring, "properties", props, "links", "assets", assets, "collection",
        "sentinel-2-l2a");
}

static int write_item(const char *dir, const sample_region *r, const sample_scene *s,
                      const footprint *fp, int broken)
{
    char path[4096];
    if (path_join(path, dir, "item.json") != MC_OK)
        return MC_ERR;
    json_t *item = item_json(r, s, fp, s->fault == FAULT_DUPLICATE ? 2 : 0);
    if (!item)
        return mc_fail("scene %s: cannot build its STAC item", s->id);
    char *text = json_dumps(item, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(item);
    if (!text)
        return mc_fail("scene %s: cannot serialise its STAC item", s->id);
    size_t len = strlen(text);
    if (broken) /* a delivery cut off mid-transfer: the JSON stops half-way */
        len /= 2;
    FILE *f = fopen(path, "wb");
    int rc = MC_OK;
    if (!f || fwrite(text, 1, len, f) != len || (!broken && fputc('\n', f) == EOF))
        rc = mc_fail("cannot write %s: %s", path, strerror(errno));
    if (f && fclose(f) != 0 && rc == MC_OK)
        rc = mc_fail("cannot write %s: %s", path, strerror(errno));
    free(text);
    return rc;
}

/* ---- scenes ------------------------------------------------------------ */

typedef struct tile_context {
    render_static st;
} tile_context;

typedef struct scene_job {
    const sample_region *r;
    const char *scenes_dir;
    const char *wkt;
    tile_context *tiles;
    const float *sigma_static, *sigma_date;
} scene_job;

static int truncate_file(const char *path, double keep)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mc_fail("cannot stat %s: %s", path, strerror(errno));
    if (truncate(path, (off_t)(sb.st_size * keep)) != 0)
        return mc_fail("cannot truncate %s: %s", path, strerror(errno));
    return MC_OK;
}

static int write_scene_bands(const scene_job *job, const sample_scene *s, const char *dir,
                             const render_out *o)
{
    const sample_tile *t = &job->r->tiles[s->tile];
    char path[4096];
    double gt10[6] = {t->x0, 10, 0, t->y0, 0, -10}, gt20[6] = {t->x0, 20, 0, t->y0, 0, -20};
    if (path_join(path, dir, "B04.tif") != MC_OK)
        return MC_ERR;
    if (sample_write_gtiff(path, t->width, t->height, 0, o->red, gt10, job->wkt, 256, 1) != MC_OK)
        return MC_ERR;
    if (path_join(path, dir, "B08.tif") != MC_OK)
        return MC_ERR;
    if (sample_write_gtiff(path, t->width, t->height, 0, o->nir, gt10, job->wkt, 256, 1) != MC_OK)
        return MC_ERR;
    if (s->fault == FAULT_TRUNCATED_B08 && truncate_file(path, 0.45) != MC_OK)
        return MC_ERR;
    if (path_join(path, dir, "B11.tif") != MC_OK)
        return MC_ERR;
    if (sample_write_gtiff(path, t->width / 2, t->height / 2, 0, o->swir, gt20, job->wkt, 256, 1) != MC_OK)
        return MC_ERR;
    if (s->fault == FAULT_MISSING_SCL)
        return MC_OK;
    if (path_join(path, dir, "SCL.tif") != MC_OK)
        return MC_ERR;
    return sample_write_gtiff(path, t->width / 2, t->height / 2, 1, o->scl, gt20, job->wkt, 256, 1);
}

/* label_values: 2 (n_parcels + 1) floats, this thread's: NDVI then NDMI per label. */
static int render_one(const scene_job *job, sample_scene *s, const footprint *fp, float *label_values)
{
    const sample_region *r = job->r;
    const sample_tile *t = &r->tiles[s->tile];
    sample_date date = r->dates[s->date];
    if (s->fault != FAULT_NONE) /* bad deliveries are drawn whole: the fault is in the files */
        date.swath_edge = 0;
    float *label_ndvi = label_values, *label_ndmi = label_values + r->n_parcels + 1;
    render_values v = {label_ndvi, job->sigma_static, job->sigma_date, {0}, label_ndmi, {0}};
    label_ndvi[0] = 0, label_ndmi[0] = 0;
    for (size_t p = 0; p < r->n_parcels; p++) {
        label_ndvi[p + 1] = r->parcel_ndvi[p * (size_t)r->n_dates + (size_t)s->date];
        label_ndmi[p + 1] = r->parcel_ndmi[p * (size_t)r->n_dates + (size_t)s->date];
    }
    for (int c = 0; c < LC_COUNT; c++) {
        v.cover_ndvi[c] = (float)sample_cover_ndvi((sample_cover)c, date.doy);
        v.cover_ndmi[c] = (float)sample_cover_ndmi((sample_cover)c, date.doy);
    }
    size_t npx = (size_t)t->width * t->height;
    render_out o = {.red = malloc(npx * 2), .nir = malloc(npx * 2), .scl = malloc(npx / 4), .swir = malloc(npx / 2)};
    char dir[4096];
    int rc = o.red && o.nir && o.scl && o.swir ? path_join(dir, job->scenes_dir, s->id)
                                               : mc_fail("out of memory for scene %s", s->id);
    if (rc == MC_OK)
        rc = render_scene(&job->tiles[s->tile].st, &date, &v, &o);
    if (rc == MC_OK) {
        s->cloud_cover_pct = 100.0 * (double)o.n_cloud_cells / (double)(o.n_cells - o.n_nodata_cells);
        s->nodata_pct = 100.0 * (double)o.n_nodata_cells / (double)o.n_cells;
        rc = sample_mkdirs(dir);
    }
    if (rc == MC_OK)
        rc = write_scene_bands(job, s, dir, &o);
    if (rc == MC_OK && s->has_item)
        rc = write_item(dir, r, s, fp, s->fault == FAULT_BAD_ITEM);
    free(o.red), free(o.nir), free(o.scl), free(o.swir);
    return rc == MC_OK ? MC_OK : mc_fail_wrap("scene %s", s->id);
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return mc_fail("cannot open %s: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return mc_fail("cannot create %s: %s", to, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    int rc = MC_OK;
    while (rc == MC_OK && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = mc_fail("cannot write %s: %s", to, strerror(errno));
    if (ferror(in))
        rc = mc_fail("cannot read %s", from);
    fclose(in);
    if (fclose(out) != 0 && rc == MC_OK)
        rc = mc_fail("cannot write %s: %s", to, strerror(errno));
    return rc;
}

/* A second delivery of the same tile-date: the same pixels, a later item. */
static int write_duplicate(const scene_job *job, const sample_scene *s, const footprint *fp)
{
    const sample_scene *o = &job->r->scenes[s->duplicate_of];
    char dir[4096], from[4096], to[4096];
    if (path_join(dir, job->scenes_dir, s->id) != MC_OK || sample_mkdirs(dir) != MC_OK)
        return MC_ERR;
    static const char *const files[4] = {"B04.tif", "B08.tif", "B11.tif", "SCL.tif"};
    for (int k = 0; k < 4; k++) {
        char odir[4096];
        if (path_join(odir, job->scenes_dir, o->id) != MC_OK || path_join(from, odir, files[k]) != MC_OK ||
            path_join(to, dir, files[k]) != MC_OK || copy_file(from, to) != MC_OK)
            return mc_fail_wrap("scene %s", s->id);
    }
    return write_item(dir, job->r, s, fp, 0);
}

static int tiles_prepare(sample_region *r, tile_context *tiles, float *sigma_static)
{
    size_t n = r->n_parcels;
    void **geoms = calloc(n, sizeof *geoms), **ponds = calloc((size_t)r->n_ponds + 1, sizeof *ponds);
    int32_t *values = malloc(sizeof(int32_t) * (n + 1));
    int rc = geoms && ponds && values ? MC_OK : mc_fail("out of memory for parcel geometries");
    for (size_t i = 0; rc == MC_OK && i < n; i++) {
        geoms[i] = sample_shape_to_ogr(&r->parcels[i].shape);
        values[i] = (int32_t)(i + 1);
    }
    for (int i = 0; rc == MC_OK && i < r->n_ponds; i++)
        ponds[i] = sample_ring_to_ogr_polygon(&r->ponds[i]);
    for (int t = 0; rc == MC_OK && t < r->n_tiles; t++)
        rc = render_static_build(&tiles[t].st, &r->tiles[t], 0, 0, r->tiles[t].width,
                                 r->tiles[t].height, r->seed ^ 0x1a9dc0fe5ULL, geoms, values, n,
                                 ponds, (size_t)r->n_ponds, sigma_static);
    for (size_t i = 0; geoms && i < n; i++)
        if (geoms[i])
            OGR_G_DestroyGeometry(geoms[i]);
    for (int i = 0; ponds && i < r->n_ponds; i++)
        if (ponds[i])
            OGR_G_DestroyGeometry(ponds[i]);
    free(geoms), free(ponds), free(values);
    return rc;
}

static int footprints_compute(const sample_region *r, footprint *fps)
{
    OGRSpatialReferenceH utm = srs_from_epsg(SAMPLE_UTM_EPSG), wgs = srs_from_epsg(4326);
    OGRCoordinateTransformationH ct = utm && wgs ? OCTNewCoordinateTransformation(utm, wgs) : NULL;
    int rc = ct ? MC_OK : mc_fail("cannot set up EPSG:%d -> EPSG:4326 (PROJ data missing?)", SAMPLE_UTM_EPSG);
    for (size_t i = 0; rc == MC_OK && i < r->n_scenes; i++)
        rc = footprint_compute(r, &r->scenes[i], r->scenes[i].fault == FAULT_NONE, ct, &fps[i]);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (utm)
        OSRDestroySpatialReference(utm);
    if (wgs)
        OSRDestroySpatialReference(wgs);
    return rc;
}

static int utm_wkt(char **wkt)
{
    OGRSpatialReferenceH s = srs_from_epsg(SAMPLE_UTM_EPSG);
    if (!s || OSRExportToWkt(s, wkt) != OGRERR_NONE) {
        if (s)
            OSRDestroySpatialReference(s);
        return mc_fail("cannot describe EPSG:%d (PROJ data missing?)", SAMPLE_UTM_EPSG);
    }
    OSRDestroySpatialReference(s);
    return MC_OK;
}

static int scenes_render_all(scene_job *job, sample_region *r, const footprint *fps, int threads)
{
    int failed = 0;
    char first_error[2048] = "";
#pragma omp parallel num_threads(threads)
    {
        float *label_values = malloc(2 * sizeof(float) * (r->n_parcels + 1));
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < r->n_scenes; i++) {
            if (r->scenes[i].fault == FAULT_DUPLICATE)
                continue;
            int rc = label_values ? render_one(job, &r->scenes[i], &fps[i], label_values)
                                : mc_fail("out of memory for scene %s", r->scenes[i].id);
            if (rc != MC_OK) {
#pragma omp critical(sample_error)
                {
                    if (!failed++)
                        snprintf(first_error, sizeof first_error, "%s", mc_error_message());
                }
            }
        }
        free(label_values);
    }
    if (failed)
        return mc_fail("%s%s", first_error, failed > 1 ? " (and more scenes failed)" : "");
    for (size_t i = 0; i < r->n_scenes; i++)
        if (r->scenes[i].fault == FAULT_DUPLICATE) {
            r->scenes[i].cloud_cover_pct = r->scenes[r->scenes[i].duplicate_of].cloud_cover_pct;
            r->scenes[i].nodata_pct = r->scenes[r->scenes[i].duplicate_of].nodata_pct;
            if (write_duplicate(job, &r->scenes[i], &fps[i]) != MC_OK)
                return MC_ERR;
        }
    return MC_OK;
}

int sample_write_scenes(const sample_region *cr, const char *out_dir, int threads)
{
    sample_region *r = (sample_region *)cr; /* scenes get their measured cloud cover */
    char scenes_dir[4096];
    if (path_join(scenes_dir, out_dir, "scenes") != MC_OK)
        return MC_ERR;
    if (sample_mkdirs(scenes_dir) != MC_OK)
        return MC_ERR;
    tile_context tiles[2];
    memset(tiles, 0, sizeof tiles);
    float *sigma_static = malloc(sizeof(float) * (r->n_parcels + 1));
    float *sigma_date = malloc(sizeof(float) * (r->n_parcels + 1));
    footprint *fps = calloc(r->n_scenes, sizeof *fps);
    char *wkt = NULL;
    int rc = sigma_static && sigma_date && fps ? MC_OK : mc_fail("out of memory for scenes");
    for (size_t p = 0; rc == MC_OK && p < r->n_parcels; p++) {
        sigma_static[p + 1] = (float)r->parcels[p].sigma_static;
        sigma_date[p + 1] = (float)r->parcels[p].sigma_date;
    }
    if (rc == MC_OK)
        rc = utm_wkt(&wkt);
    if (rc == MC_OK)
        rc = footprints_compute(r, fps);
    if (rc == MC_OK)
        rc = tiles_prepare(r, tiles, sigma_static);
    if (rc == MC_OK) {
        scene_job job = {r, scenes_dir, wkt, tiles, sigma_static, sigma_date};
        rc = scenes_render_all(&job, r, fps, threads);
    }
    for (int t = 0; t < 2; t++)
        render_static_free(&tiles[t].st);
    CPLFree(wkt);
    free(sigma_static), free(sigma_date), free(fps);
    return rc;
}

/* ---- vectors ----------------------------------------------------------- */

static int write_parcel_feature(OGRLayerH layer, sample_parcel *p, OGRCoordinateTransformationH ct)
{
    OGRGeometryH g = sample_shape_to_ogr(&p->shape);
    if (OGR_G_Transform(g, ct) != OGRERR_NONE) {
        OGR_G_DestroyGeometry(g);
        return mc_fail("parcel %s: cannot transform to EPSG:%d", p->id, SAMPLE_PARCEL_EPSG);
    }
    p->area_ha = round(OGR_G_Area(g) / 10000.0 * 10000.0) / 10000.0;
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
    OGR_F_SetFieldString(f, 0, p->id);
    OGR_F_SetFieldDouble(f, 1, p->area_ha);
    OGR_F_SetGeometryDirectly(f, g);
    int rc = OGR_L_CreateFeature(layer, f) == OGRERR_NONE
                 ? MC_OK
                 : mc_fail("parcel %s: cannot write it: %s", p->id, CPLGetLastErrorMsg());
    OGR_F_Destroy(f);
    return rc;
}

static int create_parcel_layer(GDALDatasetH ds, OGRSpatialReferenceH srs, OGRLayerH *out)
{
    char *opts[] = {"GEOMETRY_NAME=geom", "FID=fid", "SPATIAL_INDEX=YES", NULL};
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "parcels", srs, wkbUnknown, opts);
    if (!layer)
        return mc_fail("cannot create layer parcels: %s", CPLGetLastErrorMsg());
    OGRFieldDefnH fid = OGR_Fld_Create("parcel_id", OFTString);
    OGR_Fld_SetWidth(fid, 16);
    OGRFieldDefnH farea = OGR_Fld_Create("area_ha", OFTReal);
    int ok = OGR_L_CreateField(layer, fid, TRUE) == OGRERR_NONE &&
             OGR_L_CreateField(layer, farea, TRUE) == OGRERR_NONE;
    OGR_Fld_Destroy(fid);
    OGR_Fld_Destroy(farea);
    if (!ok)
        return mc_fail("cannot create the fields of layer parcels: %s", CPLGetLastErrorMsg());
    *out = layer;
    return MC_OK;
}

int sample_write_vectors(sample_region *r, const char *out_dir)
{
    char path[4096];
    if (path_join(path, out_dir, "parcels.gpkg") != MC_OK)
        return MC_ERR;
    unlink(path);
    OGRSpatialReferenceH utm = srs_from_epsg(SAMPLE_UTM_EPSG), est = srs_from_epsg(SAMPLE_PARCEL_EPSG);
    OGRCoordinateTransformationH ct = utm && est ? OCTNewCoordinateTransformation(utm, est) : NULL;
    GDALDatasetH ds = NULL;
    OGRLayerH layer = NULL;
    int rc = ct ? MC_OK : mc_fail("cannot set up EPSG:%d -> EPSG:%d (PROJ data missing?)",
                                  SAMPLE_UTM_EPSG, SAMPLE_PARCEL_EPSG);
    if (rc == MC_OK) {
        ds = GDALCreate(GDALGetDriverByName("GPKG"), path, 0, 0, 0, GDT_Unknown, NULL);
        rc = ds ? create_parcel_layer(ds, est, &layer) : mc_fail("cannot create %s: %s", path, CPLGetLastErrorMsg());
    }
    if (rc == MC_OK && GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
        rc = mc_fail("%s: cannot start a transaction", path);
    for (size_t i = 0; rc == MC_OK && i < r->n_parcels; i++)
        rc = write_parcel_feature(layer, &r->parcels[i], ct);
    if (rc == MC_OK && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
        rc = mc_fail("%s: cannot commit: %s", path, CPLGetLastErrorMsg());
    if (ds)
        GDALClose(ds);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (utm)
        OSRDestroySpatialReference(utm);
    if (est)
        OSRDestroySpatialReference(est);
    return rc == MC_OK ? MC_OK : mc_fail_wrap("%s", path);
}

/* ---- tables ------------------------------------------------------------ */

static const char *type_name(sample_parcel_type t)
{
    return t == PT_MEADOW ? "meadow" : t == PT_PASTURE ? "pasture" : "cereal";
}

static void format_doy(int doy, char out[11])
{
    int month, day;
    sample_doy_to_date(doy, &month, &day);
    snprintf(out, 11, "%04d-%02d-%02d", SAMPLE_YEAR, month, day);
}

static int close_checked(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return mc_fail("cannot write %s: %s", path, strerror(errno));
    return MC_OK;
}

static int write_truth(const sample_region *r, const char *out_dir)
{
    char path[4096];
    if (path_join(path, out_dir, "truth.csv") != MC_OK)
        return MC_ERR;
    FILE *f = fopen(path, "w");
    if (!f)
        return mc_fail("cannot create %s: %s", path, strerror(errno));
    fprintf(f, "parcel_id,type,n_mowings,mowing_dates,harvest_date,area_ha,feature\n");
    for (size_t i = 0; i < r->n_parcels; i++) {
        const sample_parcel *p = &r->parcels[i];
        char dates[64] = "", d[11];
        for (int k = 0; k < p->n_mowings; k++) {
            format_doy(p->mowing_doy[k], d);
            if (k)
                strcat(dates, ";");
            strcat(dates, d);
        }
        char harvest[11] = "";
        if (p->type == PT_CEREAL)
            format_doy(p->harvest_doy, harvest);
        fprintf(f, "%s,%s,%d,%s,%s,%.4f,%s\n", p->id, type_name(p->type), p->n_mowings, dates,
                harvest, p->area_ha, p->feature);
    }
    return close_checked(f, path);
}

/* One row per event, in the format of the training labels (labels.csv):
 * a mowing per row, or one `none` row for a parcel not mowed this year. */
static int write_truth_events(const sample_region *r, const char *out_dir)
{
    char path[4096];
    if (path_join(path, out_dir, "truth-events.csv") != MC_OK)
        return MC_ERR;
    FILE *f = fopen(path, "w");
    if (!f)
        return mc_fail("cannot create %s: %s", path, strerror(errno));
    fprintf(f, "parcel_id,year,date,end_date,type\n");
    for (size_t i = 0; i < r->n_parcels; i++) {
        const sample_parcel *p = &r->parcels[i];
        char d[11];
        for (int k = 0; k < p->n_mowings; k++) {
            format_doy(p->mowing_doy[k], d);
            fprintf(f, "%s,%d,%s,,mowing\n", p->id, SAMPLE_YEAR, d);
        }
        if (p->n_mowings == 0)
            fprintf(f, "%s,%d,,,none\n", p->id, SAMPLE_YEAR);
    }
    return close_checked(f, path);
}

static int write_claims(const sample_region *r, const char *out_dir)
{
    char path[4096];
    if (path_join(path, out_dir, "claims.csv") != MC_OK)
        return MC_ERR;
    FILE *f = fopen(path, "w");
    if (!f)
        return mc_fail("cannot create %s: %s", path, strerror(errno));
    fprintf(f, "claim_id,parcel_id,season,applicant,scheme,window_start,window_end,min_mowings,"
               "declared_area_ha\n");
    for (size_t i = 0; i < r->n_claims; i++) {
        const sample_claim *c = &r->claims[i];
        const sample_scheme *s = &sample_schemes[c->scheme];
        fprintf(f, "%s,%s,%d,%s,%s,%s,%s,%d,%.2f\n", c->claim_id, r->parcels[c->parcel].id,
                SAMPLE_YEAR, c->applicant, s->code, s->window_start, s->window_end, s->min_mowings,
                r->parcels[c->parcel].area_ha);
    }
    return close_checked(f, path);
}

int sample_write_tables(const sample_region *r, const char *out_dir)
{
    if (write_truth(r, out_dir) != MC_OK || write_truth_events(r, out_dir) != MC_OK ||
        write_claims(r, out_dir) != MC_OK)
        return MC_ERR;
    return MC_OK;
}

static const char *fault_name(sample_fault f)
{
    static const char *const names[] = {"", "truncated-B08", "missing-SCL", "bad-item-json", "duplicate"};
    return names[f];
}

int sample_write_manifest(const sample_region *r, const char *out_dir)
{
    char path[4096];
    if (path_join(path, out_dir, "scenes.csv") != MC_OK)
        return MC_ERR;
    FILE *f = fopen(path, "w");
    if (!f)
        return mc_fail("cannot create %s: %s", path, strerror(errno));
    fprintf(f, "scene_id,tile,date,satellite,relative_orbit,sequence,has_item,cloud_cover_pct,"
               "nodata_pct,fault\n");
    for (size_t i = 0; i < r->n_scenes; i++) {
        const sample_scene *s = &r->scenes[i];
        const sample_date *d = &r->dates[s->date];
        fprintf(f, "%s,%s,%s,%s,%d,%d,%d,%.2f,%.2f,%s\n", s->id, r->tiles[s->tile].id, d->iso,
                d->satellite, d->relative_orbit, s->sequence, s->has_item, s->cloud_cover_pct,
                s->nodata_pct, fault_name(s->fault));
    }
    return close_checked(f, path);
}
