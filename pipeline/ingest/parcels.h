/* Parcels and their label rasters.
 *
 * A parcel set is read once from any vector file GDAL reads (polygons and
 * multipolygons with holes, any CRS). A label raster puts the set on one tile's
 * 10 m grid: pixel (x, y) holds label L (parcel ids[L - 1]) when
 *   - its centre lies inside the parcel shrunk by the inner buffer,
 *   - no other parcel's shrunk polygon contains that centre (overlaps count for
 *     neither parcel: no pixel is counted twice), and
 *   - this tile owns the ground point (see labels_build), so that where tiles
 *     overlap each point is counted in exactly one tile;
 * else 0. Label rasters are cached on disk keyed by everything they depend on,
 * so a tile is rasterised once per parcel set, not once per night.
 * The exact rule for centres on a boundary (west/south sides in, east/north out;
 * a centre exactly buffer_m inside counts) is in labels_scan.h. */
#ifndef MOWCHECK_PARCELS_H
#define MOWCHECK_PARCELS_H

#include <stddef.h>
#include <stdint.h>

#include "scene.h"

typedef struct parcel_set {
    size_t n;               /* parcels; label L <-> ids[L - 1] */
    char **ids;             /* parcel ids as text (integer ids are printed) */
    void **geometries;      /* OGRGeometryH each, in the file's CRS; NULL for a refused parcel */
    void *srs;              /* OGRSpatialReferenceH of the file */
    char hash[65];          /* hex content hash: id field, ids, geometries (WKB), buffer */
    char *source_path;
    size_t n_refused;       /* invalid or empty geometries, reported by id, never labelled */
    char **refused;         /* per parcel: why its geometry was refused; NULL where accepted */
    size_t n_dropped;       /* features left out: an id that is not usable (text_id_problem) */
    /* A set read from the parcel cache: its geometries and srs stay NULL until
     * parcels_need_geometries parses them from this (NULL for a set read from the file). */
    struct parcel_set_wkb *wkb;
} parcel_set;

/* Two parcels of a set whose areas overlap: the shared area is share_a of parcel
 * a's own area and share_b of b's. */
typedef struct parcel_overlap {
    size_t a, b;            /* indices into ids, a < b */
    double share_a, share_b;
} parcel_overlap;

/* Reads the parcels. Duplicate or missing ids are errors (naming the feature);
 * invalid polygons are reported by parcel id (log warning) and refused; a feature
 * whose id is empty, longer than MC_ID_MAX bytes, not UTF-8 or holds a control
 * character is reported by feature number and left out (n_dropped). */
int parcels_load(const char *path, const char *id_field, double inner_buffer_m,
                 parcel_set **out);
void parcels_free(parcel_set *set);

/* parcels_load through a cache of the parsed set in cache_dir (parcels_cache.c): keyed
 * by the bytes of the dataset's files, the id field, the buffer, GDAL's release and
 * the cache format, so a warm night reads no vector file. A cache file that is
 * unreadable, corrupt or made for something else is reported and rebuilt, never
 * trusted; written atomically. The set is the one parcels_load gives (same ids,
 * hash, refusals and warnings), except that its geometries and srs are parsed when
 * first needed: call parcels_need_geometries before using them. A dataset that is
 * not made of plain files (a database, a URL) is read uncached. */
int parcels_load_cached(const char *cache_dir, const char *path, const char *id_field,
                        double inner_buffer_m, parcel_set **out);
/* Fills in the geometries and srs of a set read from the cache (a no-op otherwise).
 * Not thread-safe: call it before handing the set to threads. */
int parcels_need_geometries(const parcel_set *set);

/* Between parcels.c and parcels_cache.c. The first thing hashed into a set's content
 * hash (part of the parcel cache's key too). parcels_load_noting is parcels_load that
 * also hands back the warnings about features left out (each without its leading
 * "parcels <path>: "; *notes and each note malloc'd), so that a set read from the
 * cache can say them again. */
#define PARCELS_HASH_VERSION "mowcheck parcels v1"
int parcels_load_noting(const char *path, const char *id_field, double inner_buffer_m,
                        parcel_set **out, char ***notes, size_t *n_notes);
void parcels_wkb_free(struct parcel_set_wkb *w);

/* The pairs of accepted parcels whose overlap is more than min_share (0..1) of
 * either parcel's area, sorted by (a, b). *out is malloc'd (NULL where none). */
int parcels_find_overlaps(const parcel_set *set, double min_share, parcel_overlap **out,
                          size_t *n);

/* labels_free frees rasters made by labels_build / labels_get_cached (their pixel
 * array may be a memory mapping, not malloc'd). A raster made by hand (say in a
 * test; occupancy NULL) works with labels_window_has_parcel; its maker frees it. */
typedef struct label_raster {
    int width, height;     /* the tile's 10 m grid */
    uint32_t *labels;      /* width * height, row-major; 0 = no parcel / not owned */
    uint32_t n_labels;     /* = set->n */
    int64_t *n_pixels;     /* per label, n_labels + 1 entries (index 0 unused) */
    /* Coarse index for labels_window_has_parcel: one byte per LABELS_OCC_CELL²
     * pixels, 1 where the cell holds a label. NULL: the window is scanned. */
    uint8_t *occupancy;
} label_raster;

enum { LABELS_OCC_CELL = 16 };

/* Rasterises the set onto tile `tile`. `all_tiles` (including `tile`) decides
 * ownership: a pixel centre belongs to the tile of the same CRS whose centre is
 * nearest (ties: the smaller tile id); tiles of other CRSs do not take pixels from
 * this one. */
int labels_build(const parcel_set *set, const tile_grid *tile, const tile_grid *all_tiles,
                 size_t n_tiles, double inner_buffer_m, label_raster **out);

/* labels_build through a cache in cache_dir (created if missing); a cache file that
 * is unreadable or does not match is rebuilt, never trusted. Written atomically. */
int labels_get_cached(const char *cache_dir, const parcel_set *set, const tile_grid *tile,
                      const tile_grid *all_tiles, size_t n_tiles, double inner_buffer_m,
                      label_raster **out);

/* 1 where any pixel of the window [x0, x0+w) x [y0, y0+h) has a label. */
int labels_window_has_parcel(const label_raster *lr, int x0, int y0, int w, int h);

void labels_free(label_raster *lr);

#endif
