/* Tiny scenes and parcel files written with GDAL for the ingest tests.
 * A test tile is FX_W x FX_H pixels at 10 m, upper-left corner (FX_X0, FX_Y0) in
 * EPSG:32635, tiled DEFLATE GeoTIFFs with 16 x 16 blocks; SCL is 20 m. */
#ifndef MOWCHECK_TEST_INGEST_FIXTURE_H
#define MOWCHECK_TEST_INGEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

enum { FX_W = 32, FX_H = 32, FX_SW = 16, FX_SH = 16 };
#define FX_X0 500000.0
#define FX_Y0 6500000.0

/* One scene's pixels, filled by the test. */
typedef struct fx_scene {
    uint16_t red[FX_H][FX_W], nir[FX_H][FX_W];
    uint8_t scl[FX_SH][FX_SW];
    double x0, y0;   /* upper-left corner */
    int epsg;
} fx_scene;

static inline void fx_scene_fill(fx_scene *s, uint16_t red, uint16_t nir, uint8_t scl)
{
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            s->red[y][x] = red;
            s->nir[y][x] = nir;
        }
    memset(s->scl, scl, sizeof s->scl);
    s->x0 = FX_X0;
    s->y0 = FX_Y0;
    s->epsg = 32635;
}

static inline int fx_mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    return mkdir(tmp, 0755) == 0 || access(tmp, F_OK) == 0 ? 0 : -1;
}

/* Writes one band as a GeoTIFF with the GTiff creation options opts (NULL-terminated),
 * pixel size px_m. */
static inline int fx_write_band_opts(const char *path, int w, int h, GDALDataType type,
                                     const void *data, double x0, double y0, double px_m, int epsg,
                                     char **opts)
{
    GDALAllRegister();
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", w, h, 1, type, NULL);
    if (!mem)
        return -1;
    double gt[6] = {x0, px_m, 0, y0, 0, -px_m};
    GDALSetGeoTransform(mem, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, epsg);
    GDALSetSpatialRef(mem, srs);
    OSRDestroySpatialReference(srs);
    CPLErr e = GDALRasterIO(GDALGetRasterBand(mem, 1), GF_Write, 0, 0, w, h, (void *)data, w, h,
                            type, 0, 0);
    GDALDatasetH ds = e == CE_None ? GDALCreateCopy(GDALGetDriverByName("GTiff"), path, mem, 0,
                                                    opts, NULL, NULL)
                                   : NULL;
    GDALClose(mem);
    if (!ds)
        return -1;
    GDALClose(ds);
    return 0;
}

/* Writes one band as a cloud-optimised GeoTIFF (16 x 16 DEFLATE tiles, directory
 * first, as the public catalogs deliver them), pixel size px_m. */
static inline int fx_write_band(const char *path, int w, int h, GDALDataType type, const void *data,
                                double x0, double y0, double px_m, int epsg)
{
    /* COPY_SRC_OVERVIEWS puts the directory before the tiles, as in a COG. */
    char *opts[] = {"TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16", "COMPRESS=DEFLATE",
                    "COPY_SRC_OVERVIEWS=YES", NULL};
    return fx_write_band_opts(path, w, h, type, data, x0, y0, px_m, epsg, opts);
}

/* Cuts a file to half its size (a delivery that stopped halfway). */
static inline int fx_truncate_half(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return truncate(path, st.st_size / 2);
}

/* Writes <dir>/<id>/{B04,B08,SCL}.tif and, where item is not NULL, item.json. */
static inline int fx_write_scene(const char *dir, const char *id, const fx_scene *s,
                                 const char *item)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, id);
    if (fx_mkdirs(path) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s/B04.tif", dir, id);
    if (fx_write_band(path, FX_W, FX_H, GDT_UInt16, s->red, s->x0, s->y0, 10, s->epsg))
        return -1;
    snprintf(path, sizeof path, "%s/%s/B08.tif", dir, id);
    if (fx_write_band(path, FX_W, FX_H, GDT_UInt16, s->nir, s->x0, s->y0, 10, s->epsg))
        return -1;
    snprintf(path, sizeof path, "%s/%s/SCL.tif", dir, id);
    if (fx_write_band(path, FX_SW, FX_SH, GDT_Byte, s->scl, s->x0, s->y0, 20, s->epsg))
        return -1;
    if (item) {
        snprintf(path, sizeof path, "%s/%s/item.json", dir, id);
        FILE *f = fopen(path, "w");
        if (!f)
            return -1;
        fputs(item, f);
        fclose(f);
    }
    return 0;
}

/* Writes <dir>/<id>/B11.tif: the optional SWIR band, uint16 at 20 m on SCL's grid. */
static inline int fx_write_swir(const char *dir, const char *id, const fx_scene *s,
                                const uint16_t swir[FX_SH][FX_SW])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/B11.tif", dir, id);
    return fx_write_band(path, FX_SW, FX_SH, GDT_UInt16, swir, s->x0, s->y0, 20, s->epsg);
}

/* A STAC item naming date, tile and baseline. */
static inline void fx_item(char *buf, size_t size, const char *id, const char *date,
                           const char *tile, const char *baseline)
{
    snprintf(buf, size,
             "{\"type\": \"Feature\", \"id\": \"%s\", \"properties\": {\"datetime\": "
             "\"%sT09:50:21.024000Z\", \"s2:mgrs_tile\": \"%s\", \"s2:processing_baseline\": "
             "\"%s\"}, \"assets\": {}}",
             id, date, tile, baseline);
}

/* A GeoPackage of parcels: ids[i] with polygon wkt[i], all in `epsg`. */
static inline int fx_write_parcels(const char *path, int epsg, const char *const *ids,
                                   const char *const *wkt, int n)
{
    GDALAllRegister();
    unlink(path);
    GDALDriverH drv = GDALGetDriverByName("GPKG");
    GDALDatasetH ds = GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds)
        return -1;
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, epsg);
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    OGRLayerH layer = GDALDatasetCreateLayer(ds, "parcels", srs, wkbUnknown, NULL);
    OGRFieldDefnH fd = OGR_Fld_Create("parcel_id", OFTString);
    OGR_L_CreateField(layer, fd, 1);
    OGR_Fld_Destroy(fd);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(layer));
        OGR_F_SetFieldString(f, 0, ids[i]);
        OGRGeometryH g = NULL;
        char *w = (char *)wkt[i];
        if (OGR_G_CreateFromWkt(&w, srs, &g) != OGRERR_NONE)
            rc = -1;
        else {
            OGR_F_SetGeometryDirectly(f, g);
            if (OGR_L_CreateFeature(layer, f) != OGRERR_NONE)
                rc = -1;
        }
        OGR_F_Destroy(f);
    }
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
    return rc;
}

/* An axis-aligned rectangle in UTM 35N as WKT. */
static inline void fx_rect(char *buf, size_t size, double xmin, double ymin, double xmax,
                           double ymax)
{
    snprintf(buf, size, "POLYGON ((%.3f %.3f, %.3f %.3f, %.3f %.3f, %.3f %.3f, %.3f %.3f))", xmin,
             ymin, xmax, ymin, xmax, ymax, xmin, ymax, xmin, ymin);
}

/* A fresh temporary folder under /tmp. */
static inline void fx_tmpdir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/tmp/mowcheck-test-%s-XXXXXX", name);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline void fx_rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
