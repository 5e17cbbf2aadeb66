/* Image chips for the inspector report: a parcel cut from a scene's B04/B08 with GDAL,
 * coloured by NDVI (brown 0 .. green 0.9, grey no data), the parcel outline drawn in
 * magenta, as a PNG encoded in base64 for a data: URI. */
#ifndef MOWCHECK_REPORT_CHIPS_H
#define MOWCHECK_REPORT_CHIPS_H

#include <stdint.h>

#include <ogr_api.h>

enum { REPORT_CHIP_MARGIN_M = 30, REPORT_CHIP_MIN_PX = 64, REPORT_CHIP_MAX_SRC_PX = 300 };

/* scene_dir holds B04.tif and B08.tif; parcel in EPSG:4326 (lon, lat). *b64: malloc'd. */
int report_chip_png_base64(const char *scene_dir, int32_t offset_dn, OGRGeometryH parcel,
                           char **b64);

#endif
