/* The mowing detector's model: what a trained model holds, and its versioned
 * text file (format in schemas/model-format.md). The default model ships at
 * schemas/models/mowing-default.model. */
#ifndef MOWCHECK_MODEL_H
#define MOWCHECK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_FORMAT_VERSION 3
#define DETECT_N_FEATURES 11
#define DETECT_N_SEASON_FEATURES 11

/* Gradient-boosted trees: complete trees of depth MODEL_TREE_DEPTH, stored as their
 * MODEL_TREE_NODES split nodes (breadth first) and MODEL_TREE_LEAVES leaves. */
enum {
    MODEL_TREE_DEPTH = 3,
    MODEL_TREE_NODES = (1 << MODEL_TREE_DEPTH) - 1,
    MODEL_TREE_LEAVES = 1 << MODEL_TREE_DEPTH,
    MODEL_MAX_TREES = 500,
};

typedef enum { MODEL_KIND_LOGISTIC = 0, MODEL_KIND_TREES = 1 } model_kind;

/* One tree: at split node k go right when x[feature[k]] > threshold[k]; a node with
 * feature -1 does not split (always left). The leaf values add to the raw score. */
typedef struct model_tree {
    signed char feature[MODEL_TREE_NODES];
    float threshold[MODEL_TREE_NODES];
    double leaf[MODEL_TREE_LEAVES];
} model_tree;

/* The path of the shipped default model (in the source tree). */
#include "data_dir.h" /* installed beside the binary, else the source tree */
#define MODEL_DEFAULT_PATH mc_data_file("schemas/models/mowing-default.model")

typedef struct detect_model {
    /* The candidate classifier gives a raw score z, then the calibration:
     * p = 1 / (1 + exp(-(calib_a * z + calib_b))). kind logistic: regression on
     * standardised features, z = bias + sum w_i (x_i - mean_i) / scale_i; kind trees:
     * z = tree_base + the leaves the candidate reaches in each of the n_trees trees. */
    model_kind kind;
    double mean[DETECT_N_FEATURES];
    double scale[DETECT_N_FEATURES];
    double weight[DETECT_N_FEATURES];
    double bias;
    double tree_base;
    int n_trees;
    model_tree tree[MODEL_MAX_TREES];
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
    /* approvals / reject region */
    double approval_threshold;   /* an event of at least this calibrated confidence counts
                                  * towards an automatic approval (chosen in training so that
                                  * approvals are >= 99% precise out of fold; 1: never) */
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
    /* the trees for evaluation without a branch per node: a node that does not split
     * reads feature 0 against +infinity (always left) */
    struct model_split {
        unsigned char feature[MODEL_TREE_NODES];
        float threshold[MODEL_TREE_NODES];
    } split[MODEL_MAX_TREES];
} detect_model;

extern const char *const detect_feature_names[DETECT_N_FEATURES];
extern const char *const detect_season_feature_names[DETECT_N_SEASON_FEATURES];

/* Fills the fixed parameters with their defaults and the weights with zeros. */
void model_init(detect_model *m);
/* Computes the derived fields; call after changing weights, mean, scale or trees. */
void model_prepare(detect_model *m);
/* The candidate classifier's raw score of features x (before the calibration). */
double model_raw_score(const detect_model *m, const float *x);
/* The raw scores of n feature vectors, the first at x and each `stride` bytes after
 * the one before, into z: bit for bit model_raw_score's, faster for trees (the trees
 * are walked for all n at once, so the walks overlap in the processor). */
void model_raw_scores(const detect_model *m, const float *x, size_t stride, size_t n, double *z);
/* model_raw_scores without the processor-specific path (AVX2): the same bits; for the
 * tests, which check both on any processor. */
void model_raw_scores_portable(const detect_model *m, const float *x, size_t stride, size_t n,
                               double *z);
/* "logistic" or "trees"; model_kind_parse is MC_ERR for anything else. */
const char *model_kind_name(model_kind k);
int model_kind_parse(const char *name, model_kind *k);
/* Reads a model file; a wrong version, unknown key, missing key, bad number or
 * checksum mismatch is refused with a message naming the file and line. */
int model_load(const char *path, detect_model *m);
/* Writes the model (deterministic: same model, same bytes). */
int model_save(const char *path, const detect_model *m);
/* The text of the file, malloc'ed (for tests and for hashing). */
int model_to_text(const detect_model *m, char **text);
int model_from_text(const char *text, const char *name, detect_model *m);

#endif
