/* Block-aligned reading of a scene's bands into the NDVI kernel.
 *
 * The tile is cut into windows that follow B04's internal GeoTIFF blocks (even
 * sizes, so each window starts at an even pixel and SCL maps by x/2, y/2). Each
 * OpenMP thread opens its own GDAL handles (they are not thread-safe), keeps its
 * own statistics array, and takes whole windows; the integer partial sums are
 * added at the end, so the result does not depend on thread count or order.
 * A window with no parcel pixel is never decoded; a window whose SCL has no clear
 * pixel has only SCL decoded. Where the scene has B11 (scene->has_swir), its 20 m
 * pixels are read with B04/B08 and the kernel adds NDMI as well.
 *
 * Each band that is a plain tiled GeoTIFF (DEFLATE, ZSTD or none, predictor none or
 * horizontal) is read tile by tile with libtiff and inflated with libdeflate/libzstd
 * (tiff_tiles.h), GDAL's own overhead aside; every other band (JP2, a zip, strips,
 * other codecs) goes through GDAL. Both give the same pixels. MOWCHECK_DECODE=gdal in
 * the environment sends every band through GDAL. */
#ifndef MOWCHECK_BANDS_H
#define MOWCHECK_BANDS_H

#include <stdint.h>

#include "kernel.h"
#include "parcels.h"
#include "scene.h"

typedef struct bands_counts {
    int64_t pixels_decoded;       /* 10 m pixels whose B04 and B08 were decoded */
    int64_t pixels_skipped;       /* 10 m pixels never decoded (no parcel, or all cloud) */
    int64_t windows_no_parcel;    /* windows skipped by the label raster */
    int64_t windows_cloudy;       /* windows with SCL read but no clear class */
    /* The plausibility sample (every 4th row, every 2nd pixel of the decoded windows):
     * pixels SCL calls vegetation (4) with data in both bands, those of them whose red
     * or NIR reflectance is <= 0 after the offset, and those whose NDVI is <= 0. */
    int64_t veg_sampled, veg_below_zero, veg_ndvi_not_positive;
    /* Bands read by the raw tile reader (tiff_tiles.h) rather than GDAL. */
    int64_t bands_raw;
} bands_counts;

/* Clear vegetation pixels the sample needs before a scene is judged implausible. */
#define BANDS_PLAUSIBLE_MIN_VEG 1000

/* Sets GDAL's configuration for ingest: no GDAL-internal threads (we parallelise by
 * block), a modest block cache. Call once before bands_accumulate. */
void bands_configure_gdal(void);

/* A scene whose sampled vegetation pixels (SCL 4) mostly have a reflectance <= 0 after
 * the offset ("reflectance offset looks applied twice") or an NDVI <= 0 fails with the
 * cause; fewer than BANDS_PLAUSIBLE_MIN_VEG sampled pixels are not judged. */
int bands_check_plausible(const scene_info *scene, const bands_counts *counts);

/* Adds the scene's pixels into stats (lr->n_labels + 1 entries, zeroed by the caller).
 * device CPU: per-block on n_threads threads (<= 0: OpenMP default). device CUDA:
 * decodes into full-tile buffers and calls the kernel once. A read error (e.g. a
 * truncated file that GDAL opened) fails with the file's path and GDAL's message;
 * so does a scene bands_check_plausible refuses; stats are then undefined. counts
 * may be NULL. */
int bands_accumulate(const scene_info *scene, const tile_grid *grid, const label_raster *lr,
                     const kernel_params *params, kernel_device device, int n_threads,
                     kernel_stats *stats, bands_counts *counts);

#endif
