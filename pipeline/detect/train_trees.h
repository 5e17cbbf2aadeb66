/* Gradient-boosted shallow trees for the candidate classifier, trained in C and
 * deterministically (no sampling: the same rows give the same trees, bit for bit).
 *
 * Log-loss boosting with Newton steps: each round fits one complete tree of depth
 * MODEL_TREE_DEPTH to the gradients g = p - y and hessians h = p (1 - p) of the
 * current raw scores. A split is the best gain
 *     G_L^2 / (H_L + lambda) + G_R^2 / (H_R + lambda) - G^2 / (H + lambda)
 * over every feature and every candidate threshold (up to TREES_MAX_CUTS quantiles
 * of the feature's training values), with at least min_leaf rows and a hessian sum
 * of min_hessian on each side; a node with no such split does not split. A leaf's
 * value is -learning_rate * G / (H + lambda). The raw score of a row is the base
 * log-odds plus its leaves, which the caller then calibrates (Platt scaling). */
#ifndef MOWCHECK_TRAIN_TREES_H
#define MOWCHECK_TRAIN_TREES_H

#include <stddef.h>

#include "model.h"

enum { TREES_MAX_CUTS = 32 };

typedef struct trees_options {
    int n_trees;          /* rounds (<= MODEL_MAX_TREES) */
    double learning_rate; /* shrinkage of each tree's leaves */
    double lambda;        /* L2 penalty on leaf values */
    int min_leaf;         /* fewest rows on each side of a split */
    double min_hessian;   /* least hessian sum on each side of a split */
} trees_options;

/* 200 trees, learning rate 0.05, lambda 1, min_leaf 10, min_hessian 1. */
void trees_options_init(trees_options *o);

/* Fits the trees of m (kind, tree_base, n_trees, tree[]) on n rows x (row-major,
 * DETECT_N_FEATURES floats each) with labels y (0/1). Calibration left alone. */
int trees_fit(const float *x, const int *y, size_t n, const trees_options *o, detect_model *m);

#endif
