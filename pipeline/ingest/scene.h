/* Scene discovery and validation: what a scenes folder holds and whether its bands
 * can be used (GDAL). The scene and grid types are in core/scene_types.h. */
#ifndef MOWCHECK_SCENE_H
#define MOWCHECK_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "scene_types.h"

/* ---- scene discovery and validation (scene.c) ---- */

/* Parses a scene id such as S2B_35VLF_20260615_0_L2A strictly into satellite,
 * tile, acquisition date and sequence (other fields untouched). */
int scene_parse_id(const char *scene_id, scene_info *out);

/* The reflectance offset the processing baseline implies: -1000 DN from 04.00, else 0.
 * baseline "" (unknown): decided by the date (from 2022-01-25: -1000). */
int scene_offset_for(const char *baseline, const char *acquired_on, int32_t *offset_dn);

/* Reads <scenes_dir>/<scene_id>: the id, then item.json where present (its date, tile,
 * baseline and raster:bands offset/scale must agree with the name and each other).
 * Fills *out including path and reflectance_offset_dn. Fails with the reason. */
int scene_load(const char *scenes_dir, const char *scene_id, scene_info *out);

/* The sub-folders of scenes_dir, sorted by name; caller frees with scene_names_free. */
int scene_list_dirs(const char *scenes_dir, char ***names, size_t *n);
void scene_names_free(char **names, size_t n);

/* qsort order of scenes: acquisition date, tile, sequence (then id). */
int scene_compare(const void *a, const void *b);

/* Opens B04, B08 and SCL and checks them before any pixel is used: all present and
 * readable by GDAL; B04/B08 uint16 of equal size and geotransform; SCL uint8 at 20 m
 * (width ceil(w/2), height ceil(h/2)) with the same upper-left corner and CRS; the CRS
 * projected with an EPSG code. B11 (SWIR) is optional: where B11.tif exists it must be
 * uint16 on SCL's 20 m grid, else the scene fails like any other bad band; sets
 * scene->has_swir. Fills *grid (tile id from the scene). */
int scene_validate(scene_info *scene, tile_grid *grid);

/* 1 where the scene's folder has a B11.tif (present, not yet validated; a dangling
 * link counts as present). */
int scene_swir_present(const scene_info *scene);

/* The path of one band file of a scene ("B04", "B08", "SCL", "B11"). */
int scene_band_path(const scene_info *scene, const char *band, char *buf, size_t size);

/* 1 where two grids are the same (CRS, geotransform within 1e-6 m, size). */
int scene_grids_equal(const tile_grid *a, const tile_grid *b);

#endif
