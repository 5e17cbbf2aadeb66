/* Gradient-boosted trees (train_trees.h has the method). */
#include "train_trees.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

enum { D = DETECT_N_FEATURES, N_BINS = TREES_MAX_CUTS + 1, LEVEL_MAX = MODEL_TREE_LEAVES / 2 };

void trees_options_init(trees_options *o)
{
    o->n_trees = 200;
    o->learning_rate = 0.05;
    o->lambda = 1.0;
    o->min_leaf = 10;
    o->min_hessian = 1.0;
}

/* Candidate thresholds of one feature: values at evenly spaced ranks of its sorted
 * training values, without repeats and without the largest value (nothing would go
 * right of it). A row goes right of cut b when its value is > cut[b]. */
typedef struct feature_cuts {
    float cut[TREES_MAX_CUTS];
    int n;
} feature_cuts;

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void find_cuts(const float *x, size_t n, int f, float *scratch, feature_cuts *c)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = x[i * D + f];
    qsort(scratch, n, sizeof *scratch, cmp_float);
    c->n = 0;
    for (int q = 1; q <= TREES_MAX_CUTS; q++) {
        float v = scratch[(size_t)((double)q / (TREES_MAX_CUTS + 1) * (double)n)];
        if (v < scratch[n - 1] && (c->n == 0 || v > c->cut[c->n - 1]))
            c->cut[c->n++] = v;
    }
}

/* The bin of a value: the first cut it does not exceed (c->n: right of every cut). */
static unsigned char bin_of(const feature_cuts *c, float v)
{
    int b = 0;
    while (b < c->n && v > c->cut[b])
        b++;
    return (unsigned char)b;
}

typedef struct node_stats {
    double g[D][N_BINS], h[D][N_BINS];
    long count[D][N_BINS];
    double g_all, h_all;
    long n_all;
} node_stats;

typedef struct split {
    int feature; /* -1: no split */
    int bin;     /* rows in bins <= bin go left */
    double gain;
} split;

static double score_of(double g, double h, double lambda) { return g * g / (h + lambda); }

static split best_split(const node_stats *s, const feature_cuts *cuts, const trees_options *o)
{
    split best = {-1, 0, 0.0};
    double parent = score_of(s->g_all, s->h_all, o->lambda);
    for (int f = 0; f < D; f++) {
        double gl = 0, hl = 0;
        long nl = 0;
        for (int b = 0; b < cuts[f].n; b++) {
            gl += s->g[f][b];
            hl += s->h[f][b];
            nl += s->count[f][b];
            double gr = s->g_all - gl, hr = s->h_all - hl;
            long nr = s->n_all - nl;
            if (nl < o->min_leaf || nr < o->min_leaf || hl < o->min_hessian ||
                hr < o->min_hessian)
                continue;
            double gain = score_of(gl, hl, o->lambda) + score_of(gr, hr, o->lambda) - parent;
            if (gain > best.gain + 1e-12) /* ties: the first feature and cut win */
                best = (split){f, b, gain};
        }
    }
    return best;
}

typedef struct fit_state {
    const float *x;
    const int *y;
    size_t n;
    const trees_options *o;
    const feature_cuts *cuts;
    const unsigned char *bins; /* n x D */
    double *raw, *g, *h;
    int *node;                 /* the node each row is at while a tree grows */
    node_stats *stats;         /* LEVEL_MAX of them */
} fit_state;

/* One level of the tree: statistics of every node on it, then its splits. */
static void grow_level(fit_state *st, int level, model_tree *t)
{
    int first = (1 << level) - 1, width = 1 << level;
    memset(st->stats, 0, (size_t)width * sizeof *st->stats);
    for (size_t i = 0; i < st->n; i++) {
        node_stats *s = &st->stats[st->node[i] - first];
        s->g_all += st->g[i];
        s->h_all += st->h[i];
        s->n_all++;
        for (int f = 0; f < D; f++) {
            int b = st->bins[i * D + f];
            s->g[f][b] += st->g[i];
            s->h[f][b] += st->h[i];
            s->count[f][b]++;
        }
    }
    for (int k = 0; k < width; k++) {
        split sp = best_split(&st->stats[k], st->cuts, st->o);
        t->feature[first + k] = (signed char)sp.feature;
        t->threshold[first + k] = sp.feature >= 0 ? st->cuts[sp.feature].cut[sp.bin] : 0.0f;
    }
    for (size_t i = 0; i < st->n; i++) {
        int k = st->node[i];
        int f = t->feature[k];
        int right = f >= 0 && st->x[i * D + f] > t->threshold[k];
        st->node[i] = 2 * k + 1 + right;
    }
}

/* One boosting round: gradients, the tree, its leaves, the new raw scores. */
static void boost_round(fit_state *st, model_tree *t)
{
    for (size_t i = 0; i < st->n; i++) {
        double p = 1.0 / (1.0 + exp(-st->raw[i]));
        st->g[i] = p - st->y[i];
        st->h[i] = p * (1.0 - p);
        st->node[i] = 0;
    }
    for (int level = 0; level < MODEL_TREE_DEPTH; level++)
        grow_level(st, level, t);
    double gsum[MODEL_TREE_LEAVES] = {0}, hsum[MODEL_TREE_LEAVES] = {0};
    for (size_t i = 0; i < st->n; i++) {
        gsum[st->node[i] - MODEL_TREE_NODES] += st->g[i];
        hsum[st->node[i] - MODEL_TREE_NODES] += st->h[i];
    }
    for (int k = 0; k < MODEL_TREE_LEAVES; k++)
        /* + 0.0: an empty leaf is 0, not -0, in the model file */
        t->leaf[k] = -st->o->learning_rate * gsum[k] / (hsum[k] + st->o->lambda) + 0.0;
    for (size_t i = 0; i < st->n; i++)
        st->raw[i] += t->leaf[st->node[i] - MODEL_TREE_NODES];
}

static int prepare_bins(const float *x, size_t n, feature_cuts *cuts, unsigned char *bins)
{
    float *scratch = malloc(n * sizeof *scratch);
    if (!scratch)
        return mc_fail("train: out of memory");
    for (int f = 0; f < D; f++)
        find_cuts(x, n, f, scratch, &cuts[f]);
    free(scratch);
    for (size_t i = 0; i < n; i++)
        for (int f = 0; f < D; f++)
            bins[i * D + f] = bin_of(&cuts[f], x[i * D + f]);
    return MC_OK;
}

int trees_fit(const float *x, const int *y, size_t n, const trees_options *o, detect_model *m)
{
    if (n < 2 * (size_t)o->min_leaf)
        return mc_fail("train: only %zu candidates for the trees", n);
    if (o->n_trees < 1 || o->n_trees > MODEL_MAX_TREES)
        return mc_fail("train: %d trees (1..%d)", o->n_trees, MODEL_MAX_TREES);
    long pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += y[i] != 0;
    if (pos == 0 || pos == (long)n)
        return mc_fail("train: the candidates are all of one class");
    feature_cuts cuts[D];
    fit_state st = {x, y, n, o, cuts, NULL, NULL, NULL, NULL, NULL, NULL};
    unsigned char *bins = malloc(n * D);
    st.raw = malloc(n * sizeof *st.raw);
    st.g = malloc(n * sizeof *st.g);
    st.h = malloc(n * sizeof *st.h);
    st.node = malloc(n * sizeof *st.node);
    st.stats = malloc(LEVEL_MAX * sizeof *st.stats);
    int rc = !bins || !st.raw || !st.g || !st.h || !st.node || !st.stats
                 ? mc_fail("train: out of memory")
                 : prepare_bins(x, n, cuts, bins);
    st.bins = bins;
    if (rc == MC_OK) {
        m->kind = MODEL_KIND_TREES;
        m->tree_base = log((double)pos / (double)((long)n - pos));
        m->n_trees = o->n_trees;
        for (size_t i = 0; i < n; i++)
            st.raw[i] = m->tree_base;
        for (int r = 0; r < o->n_trees; r++)
            boost_round(&st, &m->tree[r]);
    }
    free(bins);
    free(st.raw);
    free(st.g);
    free(st.h);
    free(st.node);
    free(st.stats);
    return rc;
}
