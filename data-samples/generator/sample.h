/* mowcheck-make-sample: a synthetic but realistic Sentinel-2 L2A sample region.
 *
 * model  (sample_model.c):  tiles, acquisition dates, weather, parcels and their
 *                           NDVI trajectories, truth and claims; all from one seed.
 * render (sample_render.c): ground-truth NDVI (and NDMI) -> B04/B08 DNs, SCL and
 *                           B11 for a window of a tile on one date (clouds,
 *                           shadows, noise, swath).
 * write  (sample_write.c):  GeoTIFFs, item.json, parcels.gpkg, CSVs, fault scenes.
 * bench  (sample_bench.c):  one full-size tile-date plus many parcels, by blocks.
 *
 * Coordinates: UTM 35N (EPSG:32635) metres, y up; pixel (i, j) of a tile covers
 * [x0 + 10 i, x0 + 10 (i + 1)] x [y0 - 10 (j + 1), y0 - 10 j]. */
#ifndef MOWCHECK_SAMPLE_H
#define MOWCHECK_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

enum {
    SAMPLE_UTM_EPSG = 32635,
    SAMPLE_PARCEL_EPSG = 3301,
    SAMPLE_YEAR = 2026,
    SAMPLE_MAX_MOWINGS = 3,
    SAMPLE_RING_MAX = 6,
};

#define SAMPLE_PIXEL_M 10.0

typedef struct sample_tile {
    char id[8];          /* MGRS, e.g. 35VLF */
    double x0, y0;       /* upper-left corner, UTM m (multiples of 20 m) */
    int width, height;   /* 10 m pixels (even) */
} sample_tile;

/* Land cover of a pixel outside the parcels (and the parcel types). */
typedef enum {
    LC_FOREST = 0,
    LC_GRASS,     /* unregistered grassland */
    LC_CROP,      /* unregistered arable land */
    LC_BARE,      /* roads, yards, villages */
    LC_WATER,
    LC_PARCEL,    /* look up the parcel */
    LC_COUNT
} sample_cover;

typedef enum { PT_MEADOW = 0, PT_PASTURE, PT_CEREAL } sample_parcel_type;

typedef struct sample_ring {
    int n;
    double xy[2 * SAMPLE_RING_MAX];
} sample_ring;

typedef struct sample_poly {
    sample_ring outer;
    int has_hole;
    sample_ring hole;
} sample_poly;

/* At most two parts; parts and holes are what the sample needs. */
typedef struct sample_shape {
    int n_polys;
    sample_poly polys[2];
} sample_shape;

typedef struct sample_parcel {
    char id[16];
    sample_parcel_type type;
    const char *feature;      /* normal, tiny, hole, multipolygon, multipolygon-hole,
                                 adjacent, overlapping, tile-edge */
    sample_shape shape;       /* UTM */
    double area_ha;           /* of the EPSG:3301 geometry, as declared */
    /* trajectory */
    int n_mowings;
    int mowing_doy[SAMPLE_MAX_MOWINGS];
    double mowing_drop[SAMPLE_MAX_MOWINGS];
    int regrowth_days[SAMPLE_MAX_MOWINGS];
    double ndvi_min, ndvi_max, greenup_doy, autumn_drop;
    double graze_decline, wiggle_amp[3], wiggle_period[3], wiggle_phase[3];
    int winter_cereal, emerge_doy, senescence_doy, harvest_doy;
    double sigma_static, sigma_date;   /* pixel NDVI noise: fixed per pixel, per date */
    /* moisture (NDMI), from stateless hashes so the sequential stream, hence
     * parcels.gpkg and the CSVs, stay as they were before B11 */
    double ndmi_wet;                   /* offset to the NDVI-NDMI relation */
    double dry_start_doy, dry_days, ndmi_dry; /* unmown meadows: drying to ndmi_dry */
} sample_parcel;

typedef struct sample_date {
    int doy;
    char iso[11];              /* YYYY-MM-DD */
    char compact[9];           /* YYYYMMDD */
    char satellite[4];         /* S2B, S2C */
    int relative_orbit;
    unsigned tiles;            /* bit t: tile t delivered */
    int swath_edge;            /* 1: no data east of the edge line */
    double edge_x_m, edge_y_m, edge_dx_per_dy;
    double cloud_fraction;
    double cloud_threshold;    /* of the cloud field; > 1 means clear */
    uint64_t seed;
    int hour, minute, second;
} sample_date;

typedef enum {
    FAULT_NONE = 0,
    FAULT_TRUNCATED_B08,
    FAULT_MISSING_SCL,
    FAULT_BAD_ITEM,
    FAULT_DUPLICATE,
} sample_fault;

typedef struct sample_scene {
    char id[64];
    int date;                  /* index in region dates */
    int tile;
    int sequence;
    int has_item;
    sample_fault fault;
    int duplicate_of;          /* scene index, for FAULT_DUPLICATE */
    /* filled while rendering */
    double cloud_cover_pct, nodata_pct;
} sample_scene;

typedef struct sample_claim {
    char claim_id[24];
    int parcel;
    char applicant[16];
    int scheme;                /* index into sample_schemes */
} sample_claim;

typedef struct sample_scheme {
    const char *code;
    const char *window_start, *window_end;
    int min_mowings;
} sample_scheme;

extern const sample_scheme sample_schemes[2];

typedef struct sample_region {
    uint64_t seed;
    int n_tiles;
    sample_tile tiles[2];
    double bbox[4];            /* xmin, ymin, xmax, ymax of all tiles */
    int n_dates;
    sample_date *dates;
    size_t n_parcels;
    sample_parcel *parcels;
    int n_ponds;               /* water bodies in parcel holes (burned as LC_WATER) */
    sample_ring ponds[16];
    size_t n_claims;
    sample_claim *claims;
    size_t n_scenes;
    sample_scene *scenes;
    float *parcel_ndvi;        /* [parcel * n_dates + date]: the parcel's mean NDVI */
    float *parcel_ndmi;        /* [parcel * n_dates + date]: the parcel's mean NDMI (B11) */
} sample_region;

/* model */
int sample_region_build(uint64_t seed, int with_faults, sample_region *out);
void sample_region_free(sample_region *r);
double sample_parcel_ndvi(const sample_parcel *p, double doy);
double sample_cover_ndvi(sample_cover c, double doy);
double sample_ndmi_of_ndvi(double ndvi);
double sample_parcel_ndmi(const sample_parcel *p, double doy, double ndvi);
double sample_cover_ndmi(sample_cover c, double doy);
double sample_cloud_field(uint64_t seed, double x_m, double y_m);
double sample_cloud_threshold(uint64_t seed, const double bbox[4], double fraction);
void sample_doy_to_date(int doy, int *month, int *day);

void sample_bench_parcel(uint64_t seed, long k, double x0, double y0, double cw, double ch,
                         sample_ring *out, float *ndvi);

/* render */
typedef struct render_static {
    const sample_tile *tile;
    int x0, y0, w, h;          /* window in tile pixels; w, h even */
    /* (w + 2) x (h + 2), with a one-pixel halo for the point spread function */
    int32_t *label;            /* parcel label (0 = none) */
    uint8_t *cover;            /* sample_cover */
    float *offset;             /* the pixel's fixed NDVI offset */
} render_static;

typedef struct render_values {
    const float *label_ndvi;          /* per label (index 0 unused) on this date */
    const float *label_sigma_static;  /* per label */
    const float *label_sigma_date;    /* per label */
    float cover_ndvi[LC_COUNT];       /* on this date */
    const float *label_ndmi;          /* per label on this date; only read for swir */
    float cover_ndmi[LC_COUNT];
} render_values;

typedef struct render_out {
    uint16_t *red, *nir;       /* w x h */
    uint8_t *scl;              /* (w/2) x (h/2) */
    uint16_t *swir;            /* B11, (w/2) x (h/2); NULL: not rendered */
    int64_t n_cells, n_cloud_cells, n_nodata_cells;
} render_out;

/* Labels come from geometries in UTM (OGRGeometryH each, burn value = label). */
int render_static_build(render_static *st, const sample_tile *tile, int x0, int y0, int w, int h,
                        uint64_t seed, void **label_geoms, const int32_t *label_values,
                        size_t n_label_geoms, void **pond_geoms, size_t n_pond_geoms,
                        const float *label_sigma_static);
void render_static_free(render_static *st);
int render_scene(const render_static *st, const sample_date *date, const render_values *v,
                 render_out *out);

/* geometry helpers (sample_write.c) */
void *sample_shape_to_ogr(const sample_shape *s);
void *sample_ring_to_ogr_polygon(const sample_ring *r);

/* write */
int sample_write_scenes(const sample_region *r, const char *out_dir, int threads);
int sample_write_vectors(sample_region *r, const char *out_dir);
int sample_write_tables(const sample_region *r, const char *out_dir);
int sample_write_manifest(const sample_region *r, const char *out_dir);
int sample_write_gtiff(const char *path, int w, int h, int is_byte, const void *data,
                       const double gt[6], const char *wkt, int block, int threads);
int sample_mkdirs(const char *path);

/* bench */
int sample_bench_tile(const char *out_dir, uint64_t seed, long n_parcels, int with_b11);

#endif
