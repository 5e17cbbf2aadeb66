/* The mowing detector's model: what a trained model holds, and its versioned
 * text file (format in schemas/model-format.md). The default model ships at
 * schemas/models/mowing-default.model. */
#ifndef MOWCHECK_MODEL_H
#define MOWCHECK_MODEL_H

#include <stdint.h>

#define MODEL_FORMAT_VERSION 2
#define DETECT_N_FEATURES 11
#define DETECT_N_SEASON_FEATURES 11

/* The path of the shipped default model (in the source tree). */
#include "data_dir.h" /* installed beside the binary, else the source tree */
#define MODEL_DEFAULT_PATH mc_data_file("schemas/models/mowing-default.model")

typedef struct detect_model {
    /* logistic regression on standardised features: z = bias + sum w_i (x_i - mean_i) / scale_i,
     * then the calibration: p = 1 / (1 + exp(-(calib_a * z + calib_b))) */
    double mean[DETECT_N_FEATURES];
    double scale[DETECT_N_FEATURES];
    double weight[DETECT_N_FEATURES];
    double bias;
    double calib_a, calib_b;
    /* the season model: logistic regression on features of the whole parcel-season
     * (detect_season_feature_names), calibrated the same way: P(mowed this season) */
    double season_mean[DETECT_N_SEASON_FEATURES];
    double season_scale[DETECT_N_SEASON_FEATURES];
    double season_weight[DETECT_N_SEASON_FEATURES];
    double season_bias;
    double season_calib_a, season_calib_b;
    double season_event_min; /* a season's events are kept only when P(mowed) >= this */
    /* candidates */
    double min_drop;        /* NDVI drop that makes a candidate */
    double spike_depth;     /* an observation this far below both neighbours is a spike (cloud) */
    /* harvest / ploughing gate: after a drop to bare soil (NDVI < harvest_bare_ndvi) with
     * observations 10..60 days later that show less than harvest_min_regrowth, it is no cut */
    double harvest_bare_ndvi, harvest_min_regrowth;
    /* events */
    double event_threshold; /* calibrated p at which a candidate becomes an event */
    double date_fraction;   /* date = last clear before + fraction * (first clear after - it) */
    int min_separation_days; /* two events are at least this far apart */
    /* sufficiency / reject region */
    double auto_mowed_threshold; /* max p >= this: "mowed" can be decided automatically */
    double not_mowed_threshold;  /* max p < this and good coverage: "not mowed" supported */
    int max_gap_days;            /* longest gap between clear observations for "not mowed" */
    int min_clear_obs;           /* fewest clear observations in the season for "not mowed" */
    int season_doy_start, season_doy_end; /* the part of the year checked for coverage */
    /* provenance */
    uint64_t seed;
    long trained_parcels, trained_candidates, trained_positives;
    /* derived at load (not in the file): folded weights for speed */
    double fold_w[DETECT_N_FEATURES];
    double fold_b;
    double season_fold_w[DETECT_N_SEASON_FEATURES];
    double season_fold_b;
} detect_model;

extern const char *const detect_feature_names[DETECT_N_FEATURES];
extern const char *const detect_season_feature_names[DETECT_N_SEASON_FEATURES];

/* Fills the fixed parameters with their defaults and the weights with zeros. */
void model_init(detect_model *m);
/* Computes the derived fields; call after changing weights, mean or scale. */
void model_prepare(detect_model *m);
/* Reads a model file; a wrong version, unknown key, missing key, bad number or
 * checksum mismatch is refused with a message naming the file and line. */
int model_load(const char *path, detect_model *m);
/* Writes the model (deterministic: same model, same bytes). */
int model_save(const char *path, const detect_model *m);
/* The text of the file, malloc'ed (for tests and for hashing). */
int model_to_text(const detect_model *m, char **text);
int model_from_text(const char *text, const char *name, detect_model *m);

#endif
