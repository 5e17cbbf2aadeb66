/* Scene discovery and validation: what a scenes folder holds and whether its bands
 * can be used (GDAL). The scene and grid types are in core/scene_types.h. */
#ifndef MOWCHECK_SCENE_H
#define MOWCHECK_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "scene_types.h"

/* A band's path as GDAL opens it: the delivery's path, its band file, and /vsizip/. */
enum { SCENE_BAND_PATH_MAX = SCENE_PATH_MAX + SCENE_BAND_FILE_MAX + 16 };

/* ---- scene discovery and validation (scene.c) ---- */

/* Parses a scene id strictly into satellite, tile, acquisition date and sequence, and
 * sets scene_id to the normalised form (other fields untouched). Accepted:
 * S2B_35VLF_20260615_0_L2A (Earth Search v1, the archive's COG folders) and Earth
 * Search collection-1's S2B_T35VLF_20260615T095031_L2A (normalised to sequence 0). */
int scene_parse_id(const char *scene_id, scene_info *out);

/* The identity of the delivery <scenes_dir>/<name> from its name alone (name may be a
 * relative path such as 35/V/LF/2026/6/S2B_35VLF_20260621_0_L2A): a scene folder, a
 * .SAFE folder or a .SAFE.zip. Sets path, the normalised id, tile, date and the
 * layout's default band files; reads no file. Fails naming what is not a scene. */
int scene_identify(const char *scenes_dir, const char *name, scene_info *out);

/* The reflectance offset the processing baseline implies: -1000 DN from 04.00, else 0.
 * baseline "" (unknown): decided by the date (from 2022-01-25: -1000). */
int scene_offset_for(const char *baseline, const char *acquired_on, int32_t *offset_dn);

/* Reads <scenes_dir>/<name>: scene_identify, then the metadata. A scene folder:
 * item.json where present (its date, tile, baseline and raster:bands offset/scale must
 * agree with the name and each other; the asset hrefs name the band files;
 * earthsearch:boa_offset_applied = true means the pixels carry no offset any more).
 * A .SAFE product: MTD_MSIL2A.xml (scene_safe_load). Fills *out including
 * reflectance_offset_dn and offset_source. Fails with the reason. */
int scene_load(const char *scenes_dir, const char *name, scene_info *out);

/* ---- layouts (scene_layouts.c) ---- */

/* The deliveries in scenes_dir, sorted, as paths relative to it: every folder and zip
 * file, descending into the public archive's nesting (35/V/LF/2026/6/<scene>/);
 * caller frees with scene_names_free. A folder that is not a scene is listed too, so
 * that it is reported by name. */
int scene_list_dirs(const char *scenes_dir, char ***names, size_t *n);
void scene_names_free(char **names, size_t n);

enum { SCENE_SAFE_FOLDER = 1, SCENE_SAFE_ZIP = 2 };
/* SCENE_SAFE_FOLDER for a name ending .SAFE, SCENE_SAFE_ZIP for .SAFE.zip, else 0. */
int scene_safe_kind(const char *name);
/* S2B_MSIL2A_20260621T095031_N0511_R079_T35VLF_20260621T125011.SAFE[.zip]: the
 * normalised identity (sequence 0) and the baseline from the name. */
int scene_safe_parse_name(const char *name, scene_info *out);
/* MTD_MSIL2A.xml of an identified .SAFE (folder, or zip through /vsizip/): the start
 * time must match the name; baseline, BOA_ADD_OFFSET, and the granule's B04/B08 (10 m),
 * SCL and B11 (20 m) JP2 files. */
int scene_safe_load(scene_info *sc);

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
