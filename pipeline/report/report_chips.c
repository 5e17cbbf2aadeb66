/* Image chips (report_chips.h). */
#define _GNU_SOURCE
#include "report_chips.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void ndvi_colour(uint16_t red_dn, uint16_t nir_dn, int32_t offset, unsigned char rgb[3])
{
    if (red_dn == 0 || nir_dn == 0) { /* no data */
        rgb[0] = rgb[1] = rgb[2] = 128;
        return;
    }
    double r = (red_dn + offset) / 10000.0, n = (nir_dn + offset) / 10000.0;
    r = r < 0 ? 0 : r;
    n = n < 0 ? 0 : n;
    double ndvi = r + n > 0 ? (n - r) / (n + r) : 0;
    double t = ndvi / 0.9;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    static const double lo[3] = {165, 120, 80}, hi[3] = {20, 140, 40};
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned char)lround(lo[c] + t * (hi[c] - lo[c]));
}

/* The chip as an RGB MEM dataset with the outline burnt in. */
static int chip_render(GDALDatasetH red, GDALDatasetH nir, int32_t offset, const chip_window *cw,
                       OGRGeometryH local, const char *dir, GDALDatasetH *out)
{
    int W = cw->w * cw->k, H = cw->h * cw->k;
    uint16_t *r = malloc(sizeof *r * (size_t)W * H), *n = malloc(sizeof *n * (size_t)W * H);
    unsigned char *rgb = malloc((size_t)W * H * 3);
    int rc = r && n && rgb ? MC_OK : mc_fail("chip: out of memory");
    if (rc == MC_OK &&
        (GDALRasterIO(GDALGetRasterBand(red, 1), GF_Read, cw->x0, cw->y0, cw->w, cw->h, r, W, H,
                      GDT_UInt16, 0, 0) != CE_None ||
         GDALRasterIO(GDALGetRasterBand(nir, 1), GF_Read, cw->x0, cw->y0, cw->w, cw->h, n, W, H,
                      GDT_UInt16, 0, 0) != CE_None))
        rc = mc_fail("scene %s: cannot read the chip: %s", dir, CPLGetLastErrorMsg());
    GDALDatasetH mem = NULL;
    if (rc == MC_OK) {
        for (size_t i = 0; i < (size_t)W * H; i++)
            ndvi_colour(r[i], n[i], offset, rgb + 3 * i);
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
        GDALSetProjection(mem, GDALGetProjectionRef(red));
        OGRGeometryH edge = OGR_G_Boundary(local);
        int bands[3] = {1, 2, 3};
        double burn[3] = {255, 0, 255};
        char *opts[] = {"ALL_TOUCHED=TRUE", NULL};
        if (!edge || GDALRasterizeGeometries(mem, 3, bands, 1, &edge, NULL, NULL, burn, opts, NULL,
                                             NULL) != CE_None)
            rc = mc_fail("chip: cannot draw the parcel outline");
        if (edge)
            OGR_G_DestroyGeometry(edge);
    }
    free(r);
    free(n);
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

int report_chip_png_base64(const char *scene_dir, int32_t offset_dn, OGRGeometryH parcel,
                           char **b64)
{
    *b64 = NULL;
    char p4[4200], p8[4200];
    snprintf(p4, sizeof p4, "%s/B04.tif", scene_dir);
    snprintf(p8, sizeof p8, "%s/B08.tif", scene_dir);
    CPLPushErrorHandler(CPLQuietErrorHandler); /* failures are reported by our message */
    GDALDatasetH red = GDALOpen(p4, GA_ReadOnly), nir = red ? GDALOpen(p8, GA_ReadOnly) : NULL;
    int rc = red && nir ? MC_OK : mc_fail("scene %s: cannot open %s", scene_dir, red ? p8 : p4);
    if (rc == MC_OK && (GDALGetRasterXSize(red) != GDALGetRasterXSize(nir) ||
                        GDALGetRasterYSize(red) != GDALGetRasterYSize(nir)))
        rc = mc_fail("scene %s: B04 and B08 differ in size", scene_dir);
    OGRGeometryH local = NULL;
    chip_window cw;
    GDALDatasetH mem = NULL;
    if (rc == MC_OK)
        rc = chip_locate(red, parcel, scene_dir, &local, &cw);
    if (rc == MC_OK)
        rc = chip_render(red, nir, offset_dn, &cw, local, scene_dir, &mem);
    if (rc == MC_OK)
        rc = chip_encode(mem, b64);
    if (mem)
        GDALClose(mem);
    if (local)
        OGR_G_DestroyGeometry(local);
    if (nir)
        GDALClose(nir);
    if (red)
        GDALClose(red);
    CPLPopErrorHandler();
    return rc;
}
