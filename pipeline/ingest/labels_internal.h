/* Shared between labels.c (building) and labels_cache.c (the on-disk cache). */
#ifndef MOWCHECK_LABELS_INTERNAL_H
#define MOWCHECK_LABELS_INTERNAL_H

#include <stddef.h>

#include "labels_scan.h"
#include "parcels.h"

/* Bump when the pixel rule, the ownership rule or the cache format changes:
 * it is part of every cache key. */
#define LABELS_ALGORITHM_VERSION \
    "labels-v2 half-open, dist>=buffer, UTM-zone then nearest-centre ownership"

#define LABELS_OVERLAP UINT32_MAX /* transient: a centre claimed by two parcels */

/* The tile's grid as the scan sees it; fails for rotated or south-up grids. */
int labels_tile_scan_grid(const tile_grid *tile, labels_grid *g);

/* The tiles of all_tiles that can take pixels from `tile`: same EPSG, another id,
 * footprint overlapping. *out (malloc'd, sorted by tile id) holds *n pointers. */
int labels_neighbours(const tile_grid *tile, const tile_grid *all_tiles, size_t n_tiles,
                      const tile_grid ***out, size_t *n);

/* The tiles of all_tiles in the UTM zone east or west of `tile`'s (same hemisphere)
 * whose footprint may overlap it: they take its centres that lie in their zone's
 * band. None for tiles outside WGS 84 UTM. *out (malloc'd, sorted by id). */
int labels_zone_neighbours(const tile_grid *tile, const tile_grid *all_tiles, size_t n_tiles,
                           const tile_grid ***out, size_t *n);

/* An empty raster (labels zeroed, counts zeroed, occupancy zeroed). */
int labels_alloc(int width, int height, uint32_t n_labels, label_raster **out);

/* Zeroed memory for big arrays. Large blocks are mapped in transparent huge pages
 * where the kernel gives them and populated at once: on virtual machines where each
 * first-touch page fault costs microseconds, faulting in a 10980² label raster page
 * by page took over a second. Free with labels_mem_free and the same size. */
void *labels_mem_alloc(size_t bytes);
void labels_mem_free(void *p, size_t bytes);

/* Marks pixels [x0, x1) of row y in the occupancy index. */
void labels_occ_mark(label_raster *lr, int y, int x0, int x1);

#endif
