/* Image chips (report_chips.h). */
#define _GNU_SOURCE
#include "report_chips.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_srs_api.h>
#include <openssl/evp.h>

#include "error.h"

typedef struct chip_window {
    int x0, y0, w, h, k; /* source window and the integer upscale factor */
    double gt[6];        /* of the chip (upscaled) */
} chip_window;

/* The parcel in the raster's CRS (a new geometry) and the window around it. */
static int chip_locate(GDALDatasetH red, OGRGeometryH lonlat, const char *dir,
                       OGRGeometryH *local, chip_window *cw)
{
    double gt[6];
    OGRSpatialReferenceH dst = GDALGetSpatialRef(red) ? OSRClone(GDALGetSpatialRef(red)) : NULL;
    if (!dst || GDALGetGeoTransform(red, gt) != CE_None || gt[2] != 0 || gt[4] != 0) {
        if (dst)
            OSRDestroySpatialReference(dst);
        return mc_fail("scene %s: B04.tif has no north-up georeferencing", dir);
    }
    OGRSpatialReferenceH wgs84 = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs84, 4326);
    OSRSetAxisMappingStrategy(wgs84, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(wgs84, dst);
    *local = OGR_G_Clone(lonlat);
    int ok = ct && OGR_G_Transform(*local, ct) == OGRERR_NONE;
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(wgs84);
    OSRDestroySpatialReference(dst);
    if (!ok)
        return mc_fail("scene %s: cannot reproject the parcel", dir);
    OGREnvelope e;
    OGR_G_GetEnvelope(*local, &e);
    double m = REPORT_CHIP_MARGIN_M;
    /* a millionth of a pixel of slack: the trip through EPSG:4326 leaves rounding noise */
    const double eps = 1e-6;
    int x0 = (int)floor((e.MinX - m - gt[0]) / gt[1] + eps);
    int x1 = (int)ceil((e.MaxX + m - gt[0]) / gt[1] - eps);
    int y0 = (int)floor((e.MaxY + m - gt[3]) / gt[5] + eps);
    int y1 = (int)ceil((e.MinY - m - gt[3]) / gt[5] - eps);
    int W = GDALGetRasterXSize(red), H = GDALGetRasterYSize(red);
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > W ? W : x1;
    y1 = y1 > H ? H : y1;
    if (x1 <= x0 || y1 <= y0)
        return mc_fail("scene %s: the parcel is outside the scene", dir);
    if (x1 - x0 > REPORT_CHIP_MAX_SRC_PX || y1 - y0 > REPORT_CHIP_MAX_SRC_PX)
        return mc_fail("scene %s: the parcel is too large for a chip", dir);
    cw->x0 = x0;
    cw->y0 = y0;
    cw->w = x1 - x0;
    cw->h = y1 - y0;
    int big = cw->w > cw->h ? cw->w : cw->h;
    cw->k = (REPORT_CHIP_MIN_PX + big - 1) / big;
    cw->k = cw->k < 1 ? 1 : cw->k > 8 ? 8 : cw->k;
    double g[6] = {gt[0] + x0 * gt[1], gt[1] / cw->k, 0, gt[3] + y0 * gt[5], 0, gt[5] / cw->k};
    memcpy(cw->gt, g, sizeof g);
    return MC_OK;
}

/* The colour of one pixel from the DNs of the chip's bands. */
typedef void (*chip_colour_fn)(const uint16_t *dn, int32_t offset, unsigned char rgb[3]);

static double reflectance(uint16_t dn, int32_t offset)
{
    double r = (dn + offset) / 10000.0;
    return r < 0 ? 0 : r;
}

/* dn: B04 (red), B08 (near infrared). */
static void ndvi_colour(const uint16_t *dn, int32_t offset, unsigned char rgb[3])
{
    if (dn[0] == 0 || dn[1] == 0) { /* no data */
        rgb[0] = rgb[1] = rgb[2] = 128;
        return;
    }
    double r = reflectance(dn[0], offset), n = reflectance(dn[1], offset);
    double ndvi = r + n > 0 ? (n - r) / (n + r) : 0;
    double t = ndvi / 0.9;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    static const double lo[3] = {165, 120, 80}, hi[3] = {20, 140, 40};
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned char)lround(lo[c] + t * (hi[c] - lo[c]));
}

/* dn: B04, B03, B02. Reflectance 0 .. 0.3 stretched with a square root (dark grassland
 * stays readable), the usual look of a true-colour quicklook. */
static void true_colour(const uint16_t *dn, int32_t offset, unsigned char rgb[3])
{
    for (int c = 0; c < 3; c++) {
        if (dn[c] == 0) { /* no data */
            rgb[0] = rgb[1] = rgb[2] = 128;
            return;
        }
        double v = reflectance(dn[c], offset) / REPORT_CHIP_TRUE_COLOUR_MAX;
        rgb[c] = (unsigned char)lround(255 * sqrt(v > 1 ? 1 : v));
    }
}

enum { CHIP_MAX_BANDS = 3 };

/* The chip as an RGB MEM dataset with the outline burnt in. */
static int chip_render(GDALDatasetH *bands, int n_bands, chip_colour_fn colour, int32_t offset,
                       const chip_window *cw, OGRGeometryH local, const char *dir,
                       GDALDatasetH *out)
{
    int W = cw->w * cw->k, H = cw->h * cw->k;
    size_t n_px = (size_t)W * H;
    uint16_t *dn = malloc(sizeof *dn * n_px * (size_t)n_bands);
    unsigned char *rgb = malloc(n_px * 3);
    int rc = dn && rgb ? MC_OK : mc_fail("chip: out of memory");
    for (int b = 0; rc == MC_OK && b < n_bands; b++)
        if (GDALRasterIO(GDALGetRasterBand(bands[b], 1), GF_Read, cw->x0, cw->y0, cw->w, cw->h,
                         dn + n_px * (size_t)b, W, H, GDT_UInt16, 0, 0) != CE_None)
            rc = mc_fail("scene %s: cannot read the chip: %s", dir, CPLGetLastErrorMsg());
    GDALDatasetH mem = NULL;
    if (rc == MC_OK) {
        for (size_t i = 0; i < n_px; i++) {
            uint16_t px[CHIP_MAX_BANDS];
            for (int b = 0; b < n_bands; b++)
                px[b] = dn[n_px * (size_t)b + i];
            colour(px, offset, rgb + 3 * i);
        }
        mem = GDALCreate(GDALGetDriverByName("MEM"), "", W, H, 3, GDT_Byte, NULL);
        if (!mem)
            rc = mc_fail("chip: cannot create an image in memory");
    }
    for (int b = 0; rc == MC_OK && b < 3; b++)
        if (GDALRasterIOEx(GDALGetRasterBand(mem, b + 1), GF_Write, 0, 0, W, H, rgb + b, W, H,
                           GDT_Byte, 3, (GSpacing)W * 3, NULL) != CE_None)
            rc = mc_fail("chip: cannot write the image");
    if (rc == MC_OK) {
        GDALSetGeoTransform(mem, (double *)cw->gt);
        GDALSetProjection(mem, GDALGetProjectionRef(bands[0]));
        OGRGeometryH edge = OGR_G_Boundary(local);
        int burn_bands[3] = {1, 2, 3};
        double burn[3] = {255, 0, 255};
        char *opts[] = {"ALL_TOUCHED=TRUE", NULL};
        if (!edge || GDALRasterizeGeometries(mem, 3, burn_bands, 1, &edge, NULL, NULL, burn,
                                             opts, NULL, NULL) != CE_None)
            rc = mc_fail("chip: cannot draw the parcel outline");
        if (edge)
            OGR_G_DestroyGeometry(edge);
    }
    free(dn);
    free(rgb);
    if (rc != MC_OK && mem)
        GDALClose(mem);
    *out = rc == MC_OK ? mem : NULL;
    return rc;
}

static int chip_encode(GDALDatasetH mem, char **b64)
{
    char name[64];
    snprintf(name, sizeof name, "/vsimem/mowcheck-chip-%p.png", (void *)mem);
    GDALDatasetH png = GDALCreateCopy(GDALGetDriverByName("PNG"), name, mem, 0, NULL, NULL, NULL);
    if (!png)
        return mc_fail("chip: cannot write PNG: %s", CPLGetLastErrorMsg());
    GDALClose(png);
    vsi_l_offset len = 0;
    GByte *bytes = VSIGetMemFileBuffer(name, &len, TRUE);
    char *out = bytes ? malloc(4 * ((size_t)len / 3 + 1) + 1) : NULL;
    if (out)
        EVP_EncodeBlock((unsigned char *)out, bytes, (int)len);
    CPLFree(bytes);
    if (!out)
        return mc_fail("chip: out of memory");
    *b64 = out;
    return MC_OK;
}

/* A chip from the named bands of scene_dir (all on one grid), coloured by `colour`. */
static int chip_make(const char *scene_dir, const char *const *names, int n_bands,
                     chip_colour_fn colour, int32_t offset_dn, OGRGeometryH parcel, char **b64)
{
    *b64 = NULL;
    GDALDatasetH bands[CHIP_MAX_BANDS] = {NULL};
    CPLPushErrorHandler(CPLQuietErrorHandler); /* failures are reported by our message */
    int rc = MC_OK;
    for (int b = 0; rc == MC_OK && b < n_bands; b++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.tif", scene_dir, names[b]);
        bands[b] = GDALOpen(path, GA_ReadOnly);
        if (!bands[b])
            rc = mc_fail("scene %s: cannot open %s", scene_dir, path);
        else if (b > 0 && (GDALGetRasterXSize(bands[b]) != GDALGetRasterXSize(bands[0]) ||
                           GDALGetRasterYSize(bands[b]) != GDALGetRasterYSize(bands[0])))
            rc = mc_fail("scene %s: %s and %s differ in size", scene_dir, names[0], names[b]);
    }
    OGRGeometryH local = NULL;
    chip_window cw;
    GDALDatasetH mem = NULL;
    if (rc == MC_OK)
        rc = chip_locate(bands[0], parcel, scene_dir, &local, &cw);
    if (rc == MC_OK)
        rc = chip_render(bands, n_bands, colour, offset_dn, &cw, local, scene_dir, &mem);
    if (rc == MC_OK)
        rc = chip_encode(mem, b64);
    if (mem)
        GDALClose(mem);
    if (local)
        OGR_G_DestroyGeometry(local);
    for (int b = 0; b < n_bands; b++)
        if (bands[b])
            GDALClose(bands[b]);
    CPLPopErrorHandler();
    return rc;
}

int report_chip_png_base64(const char *scene_dir, int32_t offset_dn, OGRGeometryH parcel,
                           char **b64)
{
    static const char *const names[] = {"B04", "B08"};
    return chip_make(scene_dir, names, 2, ndvi_colour, offset_dn, parcel, b64);
}

int report_chip_true_colour_base64(const char *scene_dir, int32_t offset_dn, OGRGeometryH parcel,
                                   char **b64)
{
    static const char *const names[] = {"B04", "B03", "B02"};
    *b64 = NULL;
    char path[4200];
    struct stat st;
    for (int b = 1; b < 3; b++) { /* B03 and B02 are optional: no chip without them */
        snprintf(path, sizeof path, "%s/%s.tif", scene_dir, names[b]);
        if (stat(path, &st) != 0)
            return MC_OK;
    }
    return chip_make(scene_dir, names, 3, true_colour, offset_dn, parcel, b64);
}
