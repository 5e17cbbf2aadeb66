/* The ingest stage: new scenes + parcels -> one stored observation per
 * (parcel, acquisition date).
 *
 * Only scenes the store does not have yet are read. Each scene is validated
 * before any pixel is used and stored in one transaction (observations and the
 * scene row together), so a run killed at any point and started again ends with
 * the same stored data. A bad scene is reported by path with the reason,
 * recorded as rejected, and the run goes on. */
#ifndef MOWCHECK_INGEST_H
#define MOWCHECK_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"
#include "store.h"

typedef struct ingest_options {
    const char *scenes_dir;     /* <scenes>/<scene_id>/{B04,B08,SCL}.tif [+ item.json] */
    const char *parcels_path;   /* any GDAL vector file */
    const char *id_field;       /* parcel id field; NULL: "parcel_id" */
    const char *state_dir;      /* label cache in <state_dir>/labels */
    double inner_buffer_m;
    double overlap_share;       /* parcels sharing more of their area: warned about and
                                 * flagged (0: PARCEL_OVERLAP_SHARE_DEFAULT) */
    uint16_t scl_valid_mask;    /* 0: KERNEL_SCL_DEFAULT_VALID_MASK */
    kernel_device device;       /* CUDA without a GPU is an error; AUTO falls back to CPU */
    int n_threads;              /* <= 0: all cores */
    const char *const *tiles;   /* only scenes of these tiles; NULL or n_tiles 0: all */
    size_t n_tiles;
} ingest_options;

typedef struct ingest_summary {
    size_t scenes_found;      /* deliveries (scene folders, .SAFE, zips) */
    int scenes_folder_empty;  /* the scenes folder holds nothing at all (an unmounted
                               * disk must not look like a quiet night) */
    size_t scenes_new;        /* not ingested before (in the tiles asked for) */
    size_t scenes_ingested;   /* stored by this run */
    size_t scenes_skipped;    /* already ingested, or being ingested by another worker */
    size_t scenes_rejected;   /* refused: bad name, item.json, band, read error */
    size_t scenes_duplicate;  /* another scene of the same tile and date is stored */
    size_t scenes_ignored;    /* refused or duplicate, but acknowledged by the operator
                               * (mowcheck scenes ignore): not in the two counts above */
    size_t scenes_remeasured; /* stored before, measured again: for this parcel set (the
                               * parcel file changed), or with the B11 that arrived since */
    long scenes_left_behind;  /* stored for another parcel set, folder gone: their dates
                               * are missing from this set's series */
    size_t scenes_with_swir;  /* of those stored or measured again: with B11, so NDMI too */
    size_t parcels;           /* in the parcel set */
    int64_t observations;     /* observation parts written (parcel x scene) */
    int64_t pixels_decoded;   /* 10 m pixels whose B04/B08 were decoded */
    int64_t pixels_skipped;   /* 10 m pixels never decoded (no parcel, all cloud) */
    double seconds;
} ingest_summary;

/* Runs the stage. MC_ERR only where the run itself cannot go on (parcels file,
 * database, label cache); bad scenes are counted in out->scenes_rejected. */
int ingest_run(const ingest_options *opt, store *s, ingest_summary *out);

/* The distinct tiles of the scene folders whose names parse, sorted; caller frees
 * with ingest_tiles_free. */
int ingest_list_tiles(const char *scenes_dir, char ***tiles, size_t *n);
void ingest_tiles_free(char **tiles, size_t n);

#endif
