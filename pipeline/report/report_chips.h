/* Image chips for the inspector report: a parcel cut from a scene's bands with GDAL, the
 * parcel outline drawn in magenta, as a PNG encoded in base64 for a data: URI. NDVI
 * from B04/B08 (brown 0 .. green 0.9, grey no data); true colour from B04/B03/B02 where
 * the scene folder has the optional B02.tif and B03.tif (reflectance 0 .. 0.3, square
 * root stretch). */
#ifndef MOWCHECK_REPORT_CHIPS_H
#define MOWCHECK_REPORT_CHIPS_H

#include <stdint.h>

#include <ogr_api.h>

enum { REPORT_CHIP_MARGIN_M = 30, REPORT_CHIP_MIN_PX = 64, REPORT_CHIP_MAX_SRC_PX = 300 };
#define REPORT_CHIP_TRUE_COLOUR_MAX 0.3 /* reflectance shown as full brightness */

/* scene_dir holds B04.tif and B08.tif; parcel in EPSG:4326 (lon, lat). *b64: malloc'd. */
int report_chip_png_base64(const char *scene_dir, int32_t offset_dn, OGRGeometryH parcel,
                           char **b64);
/* The same in true colour; MC_OK with *b64 NULL where the scene has no B02 or B03. */
int report_chip_true_colour_base64(const char *scene_dir, int32_t offset_dn, OGRGeometryH parcel,
                                   char **b64);

#endif
