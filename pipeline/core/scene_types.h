/* What mowcheck knows about one Sentinel-2 L2A scene and about a tile's grid: the
 * types that ingest fills and the store records (no I/O here). */
#ifndef MOWCHECK_SCENE_TYPES_H
#define MOWCHECK_SCENE_TYPES_H

#include <stdint.h>

enum { SCENE_ID_MAX = 128, TILE_ID_MAX = 16, SCENE_PATH_MAX = 4096, SCENE_BAND_FILE_MAX = 256 };

/* The bands a scene is read from, in the order of scene_info.band_file. */
enum { SCENE_BAND_RED = 0, SCENE_BAND_NIR = 1, SCENE_BAND_SCL = 2, SCENE_BAND_SWIR = 3,
       SCENE_N_BANDS = 4 };

typedef struct scene_info {
    char scene_id[SCENE_ID_MAX];      /* e.g. S2B_35VLF_20260615_0_L2A */
    char tile_id[TILE_ID_MAX];        /* MGRS tile, e.g. 35VLF */
    char satellite[8];                /* S2A, S2B, S2C */
    char acquired_on[11];             /* YYYY-MM-DD (UTC) */
    int sequence;                     /* the _N_ of the scene id */
    char processing_baseline[8];      /* "05.10"; "" when unknown */
    int32_t reflectance_offset_dn;    /* -1000 from baseline 04.00, else 0 */
    char offset_source[64];           /* what decided the offset, for messages */
    char path[SCENE_PATH_MAX];        /* the delivery: the scene's folder, or a .SAFE.zip */
    int is_safe;                      /* a Copernicus .SAFE product (MTD_MSIL2A.xml, JP2) */
    int in_zip;                       /* path is a zip file, read through GDAL's /vsizip/ */
    /* Each band's file relative to path (inside the zip where in_zip), as the layout
     * names it: "B04.tif", an item's asset href, or a .SAFE granule's JP2. */
    char band_file[SCENE_N_BANDS][SCENE_BAND_FILE_MAX];
    int has_swir;                     /* B11.tif present and valid (set by scene_validate):
                                       * the parcels get NDMI as well as NDVI */
} scene_info;

/* The 10 m pixel grid of a tile, as read from its B04 band. */
typedef struct tile_grid {
    char tile_id[TILE_ID_MAX];
    int epsg;                 /* the tile's projected CRS (UTM) */
    double geotransform[6];   /* GDAL order: x0, dx, 0, y0, 0, dy (dy < 0) */
    int width, height;        /* pixels at 10 m */
} tile_grid;

#endif
