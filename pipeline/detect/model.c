#include "model.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "text_file.h"

const char *const detect_feature_names[DETECT_N_FEATURES] = {
    "drop", "before", "after", "persist", "rebound_rate",
    "regrowth", "gap_days", "drop_rate", "density", "doy_offset",
    "pre_decline",
};

const char *const detect_season_feature_names[DETECT_N_SEASON_FEATURES] = {
    "top_p", "second_p", "n_events", "peak", "drawdown", "late_drop", "clear_share", "gap_days",
    "top_regrowth", "top_persist", "ndmi_mean",
};

void model_init(detect_model *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < DETECT_N_FEATURES; i++)
        m->scale[i] = 1.0;
    for (int i = 0; i < DETECT_N_SEASON_FEATURES; i++)
        m->season_scale[i] = 1.0;
    m->calib_a = 1.0;
    m->season_calib_a = 1.0;
    m->min_drop = 0.06;
    m->spike_depth = 0.05;
    m->harvest_bare_ndvi = 0.30;
    m->harvest_min_regrowth = 0.10;
    m->event_threshold = 0.5;
    m->date_fraction = 0.5;
    m->min_separation_days = 30;
    m->approval_threshold = 1.0;
    m->not_mowed_threshold = 0.1;
    m->max_gap_days = 30;
    m->min_clear_obs = 8;
    m->season_doy_start = 91;
    m->season_doy_end = 273;
    model_prepare(m);
}

void model_prepare(detect_model *m)
{
    m->fold_b = m->bias;
    for (int i = 0; i < DETECT_N_FEATURES; i++) {
        m->fold_w[i] = m->weight[i] / m->scale[i];
        m->fold_b -= m->fold_w[i] * m->mean[i];
    }
    m->season_fold_b = m->season_bias;
    for (int i = 0; i < DETECT_N_SEASON_FEATURES; i++) {
        m->season_fold_w[i] = m->season_weight[i] / m->season_scale[i];
        m->season_fold_b -= m->season_fold_w[i] * m->season_mean[i];
    }
    for (int t = 0; t < m->n_trees; t++)
        for (int k = 0; k < MODEL_TREE_NODES; k++) {
            int f = m->tree[t].feature[k];
            m->split[t].feature[k] = (unsigned char)(f < 0 ? 0 : f);
            m->split[t].threshold[k] = f < 0 ? INFINITY : m->tree[t].threshold[k];
        }
}

const char *model_kind_name(model_kind k)
{
    return k == MODEL_KIND_TREES ? "trees" : "logistic";
}

int model_kind_parse(const char *name, model_kind *k)
{
    if (strcmp(name, "logistic") == 0)
        *k = MODEL_KIND_LOGISTIC;
    else if (strcmp(name, "trees") == 0)
        *k = MODEL_KIND_TREES;
    else
        return MC_ERR;
    return MC_OK;
}

/* The leaf of one tree (depth MODEL_TREE_DEPTH = 3, breadth-first nodes). */
static inline double tree_value(const struct model_split *s, const model_tree *t, const float *x)
{
    _Static_assert(MODEL_TREE_DEPTH == 3, "tree_value walks three levels");
    int node = 1 + (x[s->feature[0]] > s->threshold[0]);
    node = 2 * node + 1 + (x[s->feature[node]] > s->threshold[node]);
    node = 2 * node + 1 + (x[s->feature[node]] > s->threshold[node]);
    return t->leaf[node - MODEL_TREE_NODES];
}

double model_raw_score(const detect_model *m, const float *x)
{
    if (m->kind == MODEL_KIND_TREES) {
        double z = m->tree_base; /* summed in tree order: the same bits everywhere */
        for (int i = 0; i < m->n_trees; i++)
            z += tree_value(&m->split[i], &m->tree[i], x);
        return z;
    }
    double z = m->fold_b;
    for (int i = 0; i < DETECT_N_FEATURES; i++)
        z += m->fold_w[i] * x[i];
    return z;
}

/* Eight candidates at once (GCC vector extensions: SSE or NEON pairs, or plain code;
 * on x86-64 processors with AVX2 trees_lanes_avx2, chosen at run time). All seven
 * comparisons of a tree are made for the eight side by side, the path is picked with
 * masks, and each candidate's leaves are added in tree order, so the sums are
 * model_raw_score's, bit for bit. */
typedef float v8f __attribute__((vector_size(8 * sizeof(float))));
typedef int v8i __attribute__((vector_size(8 * sizeof(int))));
enum { LANES = 8 };

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Feature f of the k candidates into xs[f] (lanes past k: 0). */
static ALWAYS_INLINE void lanes_load(const char *base, size_t stride, size_t k, v8f *xs)
{
    for (int f = 0; f < DETECT_N_FEATURES; f++)
        for (int j = 0; j < LANES; j++)
            xs[f][j] = (size_t)j < k ? ((const float *)(base + (size_t)j * stride))[f] : 0.0f;
}

/* The leaf (0..7) that each of the eight candidates reaches in the tree of split s. */
static ALWAYS_INLINE void lanes_leaf(const struct model_split *s, const v8f *xs, v8i *leaf)
{
    v8i c[MODEL_TREE_NODES];
#pragma GCC unroll 7 /* the seven masks stay in registers */
    for (int n = 0; n < MODEL_TREE_NODES; n++) {
        float th = s->threshold[n];
        c[n] = xs[s->feature[n]] > (v8f){th, th, th, th, th, th, th, th};
    }
    v8i l1 = c[0];                               /* -1: right at the root */
    v8i l2 = (l1 & c[2]) | (~l1 & c[1]);         /* at node 1 + l1 */
    v8i l3 = (l1 & ((l2 & c[6]) | (~l2 & c[5]))) | (~l1 & ((l2 & c[4]) | (~l2 & c[3])));
    *leaf = (l1 & 4) | (l2 & 2) | (l3 & 1);
}

static void trees_lanes(const detect_model *m, const char *base, size_t stride, size_t k,
                        double *z)
{
    v8f xs[DETECT_N_FEATURES];
    lanes_load(base, stride, k, xs);
    double acc[LANES];
    for (int j = 0; j < LANES; j++)
        acc[j] = m->tree_base;
    for (int t = 0; t < m->n_trees; t++) {
        v8i leaf;
        lanes_leaf(&m->split[t], xs, &leaf);
        const double *values = m->tree[t].leaf;
        for (int j = 0; j < LANES; j++)
            acc[j] += values[leaf[j]];
    }
    for (size_t j = 0; j < k; j++)
        z[j] = acc[j];
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define HAVE_TREES_AVX2 1
/* trees_lanes with AVX2: the leaf values are fetched with two gathers and added four
 * lanes at a time (each lane's sum is still added in tree order: the same bits). */
__attribute__((target("avx2"))) static void trees_lanes_avx2(const detect_model *m,
                                                           const char *base, size_t stride,
                                                           size_t k, double *z)
{
    v8f xs[DETECT_N_FEATURES];
    lanes_load(base, stride, k, xs);
    __m256d lo = _mm256_set1_pd(m->tree_base), hi = lo;
    for (int t = 0; t < m->n_trees; t++) {
        v8i leaf;
        lanes_leaf(&m->split[t], xs, &leaf);
        __m256i at = (__m256i)leaf;
        const double *values = m->tree[t].leaf;
        lo = _mm256_add_pd(lo, _mm256_i32gather_pd(values, _mm256_castsi256_si128(at), 8));
        hi = _mm256_add_pd(hi, _mm256_i32gather_pd(values, _mm256_extracti128_si256(at, 1), 8));
    }
    double acc[LANES];
    _mm256_storeu_pd(acc, lo);
    _mm256_storeu_pd(acc + 4, hi);
    for (size_t j = 0; j < k; j++)
        z[j] = acc[j];
}
#endif

typedef void lanes_fn(const detect_model *, const char *, size_t, size_t, double *);

static void raw_scores_with(lanes_fn *lanes, const detect_model *m, const float *x, size_t stride,
                            size_t n, double *z)
{
    const char *base = (const char *)x;
    if (m->kind != MODEL_KIND_TREES) {
        for (size_t i = 0; i < n; i++)
            z[i] = model_raw_score(m, (const float *)(base + i * stride));
        return;
    }
    for (size_t i = 0; i < n; i += LANES)
        lanes(m, base + i * stride, stride, n - i < LANES ? n - i : LANES, z + i);
}

void model_raw_scores(const detect_model *m, const float *x, size_t stride, size_t n, double *z)
{
    lanes_fn *lanes = trees_lanes;
#ifdef HAVE_TREES_AVX2
    if (__builtin_cpu_supports("avx2"))
        lanes = trees_lanes_avx2;
#endif
    raw_scores_with(lanes, m, x, stride, n, z);
}

void model_raw_scores_portable(const detect_model *m, const float *x, size_t stride, size_t n,
                               double *z)
{
    raw_scores_with(trees_lanes, m, x, stride, n, z);
}

/* ---- writing ---- */

static int sha256_hex(const char *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        return mc_fail("model: SHA-256 failed");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return MC_OK;
}

static void put_vector(FILE *f, const char *key, const double *v, int n)
{
    fprintf(f, "%s", key);
    for (int i = 0; i < n; i++)
        fprintf(f, " %.17g", v[i]);
    fputc('\n', f);
}

/* "trees N base", then one line per tree: its split nodes as feature and threshold
 * pairs (breadth first), then its leaves. Thresholds are floats: %.9g reads back
 * to the same float, so a saved model splits exactly as the trained one. */
static void put_trees(FILE *f, const detect_model *m)
{
    fprintf(f, "trees %d %.17g\n", m->n_trees, m->tree_base);
    for (int i = 0; i < m->n_trees; i++) {
        const model_tree *t = &m->tree[i];
        fputs("tree", f);
        for (int k = 0; k < MODEL_TREE_NODES; k++)
            fprintf(f, " %d %.9g", t->feature[k], (double)t->threshold[k]);
        for (int k = 0; k < MODEL_TREE_LEAVES; k++)
            fprintf(f, " %.17g", t->leaf[k]);
        fputc('\n', f);
    }
}

int model_to_text(const detect_model *m, char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return mc_fail("model: out of memory");
    fprintf(f, "mowcheck-model %d\n", MODEL_FORMAT_VERSION);
    fprintf(f, "# mowing detector: %s on candidate NDVI drops (schemas/model-format.md)\n",
            m->kind == MODEL_KIND_TREES ? "gradient-boosted trees" : "logistic regression");
    fprintf(f, "kind %s\n", model_kind_name(m->kind));
    fprintf(f, "features");
    for (int i = 0; i < DETECT_N_FEATURES; i++)
        fprintf(f, " %s", detect_feature_names[i]);
    fputc('\n', f);
    if (m->kind == MODEL_KIND_TREES)
        put_trees(f, m);
    else {
        put_vector(f, "mean", m->mean, DETECT_N_FEATURES);
        put_vector(f, "scale", m->scale, DETECT_N_FEATURES);
        put_vector(f, "weights", m->weight, DETECT_N_FEATURES);
        fprintf(f, "bias %.17g\n", m->bias);
    }
    fprintf(f, "calibration %.17g %.17g\n", m->calib_a, m->calib_b);
    fprintf(f, "season_features");
    for (int i = 0; i < DETECT_N_SEASON_FEATURES; i++)
        fprintf(f, " %s", detect_season_feature_names[i]);
    fputc('\n', f);
    put_vector(f, "season_mean", m->season_mean, DETECT_N_SEASON_FEATURES);
    put_vector(f, "season_scale", m->season_scale, DETECT_N_SEASON_FEATURES);
    put_vector(f, "season_weights", m->season_weight, DETECT_N_SEASON_FEATURES);
    fprintf(f, "season_bias %.17g\n", m->season_bias);
    fprintf(f, "season_calibration %.17g %.17g\n", m->season_calib_a, m->season_calib_b);
    fprintf(f, "season_event_min %.17g\n", m->season_event_min);
    fprintf(f, "min_drop %.17g\n", m->min_drop);
    fprintf(f, "spike_depth %.17g\n", m->spike_depth);
    fprintf(f, "harvest_gate %.17g %.17g\n", m->harvest_bare_ndvi, m->harvest_min_regrowth);
    fprintf(f, "event_threshold %.17g\n", m->event_threshold);
    fprintf(f, "date_fraction %.17g\n", m->date_fraction);
    fprintf(f, "min_separation_days %d\n", m->min_separation_days);
    fprintf(f, "approval_threshold %.17g\n", m->approval_threshold);
    fprintf(f, "not_mowed_threshold %.17g\n", m->not_mowed_threshold);
    fprintf(f, "max_gap_days %d\n", m->max_gap_days);
    fprintf(f, "min_clear_obs %d\n", m->min_clear_obs);
    fprintf(f, "season_doy %d %d\n", m->season_doy_start, m->season_doy_end);
    fprintf(f, "seed %llu\n", (unsigned long long)m->seed);
    fprintf(f, "trained_on %ld %ld %ld\n", m->trained_parcels, m->trained_candidates,
            m->trained_positives);
    if (fclose(f) != 0) {
        free(buf);
        return mc_fail("model: out of memory");
    }
    char hex[65];
    if (sha256_hex(buf, len, hex) != MC_OK) {
        free(buf);
        return MC_ERR;
    }
    char *out = malloc(len + 80);
    if (!out) {
        free(buf);
        return mc_fail("model: out of memory");
    }
    memcpy(out, buf, len);
    snprintf(out + len, 80, "sha256 %s\n", hex);
    free(buf);
    *text = out;
    return MC_OK;
}

int model_save(const char *path, const detect_model *m)
{
    char *text;
    if (model_to_text(m, &text) != MC_OK)
        return MC_ERR;
    FILE *f = fopen(path, "w");
    if (!f) {
        free(text);
        return mc_fail("model %s: cannot write: %s", path, strerror(errno));
    }
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    free(text);
    if (!ok)
        return mc_fail("model %s: write failed: %s", path, strerror(errno));
    return MC_OK;
}

/* ---- reading ---- */

/* Which kind of model a key belongs to. */
enum { FOR_LOGISTIC = 1, FOR_TREES = 2, FOR_ALL = 3 };

typedef struct key_spec {
    const char *key;
    int n_values; /* numbers after the key; -1: special (features, kind, tree) */
    int kinds;
} key_spec;

static const key_spec keys[] = {
    {"kind", -1, FOR_ALL}, {"features", -1, FOR_ALL}, {"mean", DETECT_N_FEATURES, FOR_LOGISTIC},
    {"scale", DETECT_N_FEATURES, FOR_LOGISTIC}, {"weights", DETECT_N_FEATURES, FOR_LOGISTIC},
    {"bias", 1, FOR_LOGISTIC}, {"trees", 2, FOR_TREES}, {"tree", -1, FOR_TREES},
    {"calibration", 2, FOR_ALL}, {"min_drop", 1, FOR_ALL},
    {"spike_depth", 1, FOR_ALL}, {"harvest_gate", 2, FOR_ALL}, {"event_threshold", 1, FOR_ALL}, {"date_fraction", 1, FOR_ALL},
    {"min_separation_days", 1, FOR_ALL}, {"approval_threshold", 1, FOR_ALL}, {"not_mowed_threshold", 1, FOR_ALL},
    {"max_gap_days", 1, FOR_ALL}, {"min_clear_obs", 1, FOR_ALL}, {"season_doy", 2, FOR_ALL}, {"seed", 1, FOR_ALL},
    {"trained_on", 3, FOR_ALL}, {"season_features", -1, FOR_ALL}, {"season_mean", DETECT_N_SEASON_FEATURES, FOR_ALL},
    {"season_scale", DETECT_N_SEASON_FEATURES, FOR_ALL}, {"season_weights", DETECT_N_SEASON_FEATURES, FOR_ALL},
    {"season_bias", 1, FOR_ALL}, {"season_calibration", 2, FOR_ALL}, {"season_event_min", 1, FOR_ALL},
};
enum { N_KEYS = sizeof keys / sizeof keys[0] };

static int kind_bit(model_kind k) { return k == MODEL_KIND_TREES ? FOR_TREES : FOR_LOGISTIC; }

static int parse_numbers(char *rest, double *v, int n)
{
    char *save = NULL;
    int got = 0;
    for (char *tok = strtok_r(rest, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (got == n)
            return MC_ERR;
        char *end;
        errno = 0;
        double x = strtod(tok, &end);
        if (end == tok || *end != '\0' || errno == ERANGE || !isfinite(x))
            return MC_ERR;
        v[got++] = x;
    }
    return got == n ? MC_OK : MC_ERR;
}

static int check_features(char *rest, const char *const *names, int n)
{
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(rest, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (i == n || strcmp(tok, names[i]) != 0)
            return MC_ERR;
        i++;
    }
    return i == n ? MC_OK : MC_ERR;
}

static int is_whole(double x, double lo, double hi)
{
    return x == floor(x) && x >= lo && x <= hi;
}

static int store_value(detect_model *m, const char *key, const double *v)
{
    if (strcmp(key, "mean") == 0)
        memcpy(m->mean, v, sizeof m->mean);
    else if (strcmp(key, "scale") == 0) {
        for (int i = 0; i < DETECT_N_FEATURES; i++)
            if (!(v[i] > 0))
                return MC_ERR;
        memcpy(m->scale, v, sizeof m->scale);
    } else if (strcmp(key, "weights") == 0)
        memcpy(m->weight, v, sizeof m->weight);
    else if (strcmp(key, "season_mean") == 0)
        memcpy(m->season_mean, v, sizeof m->season_mean);
    else if (strcmp(key, "season_scale") == 0) {
        for (int i = 0; i < DETECT_N_SEASON_FEATURES; i++)
            if (!(v[i] > 0))
                return MC_ERR;
        memcpy(m->season_scale, v, sizeof m->season_scale);
    } else if (strcmp(key, "season_weights") == 0)
        memcpy(m->season_weight, v, sizeof m->season_weight);
    else if (strcmp(key, "season_bias") == 0)
        m->season_bias = v[0];
    else if (strcmp(key, "season_calibration") == 0)
        m->season_calib_a = v[0], m->season_calib_b = v[1];
    else if (strcmp(key, "season_event_min") == 0 && v[0] >= 0 && v[0] <= 1)
        m->season_event_min = v[0];
    else if (strcmp(key, "bias") == 0)
        m->bias = v[0];
    else if (strcmp(key, "calibration") == 0)
        m->calib_a = v[0], m->calib_b = v[1];
    else if (strcmp(key, "min_drop") == 0 && v[0] > 0 && v[0] < 1)
        m->min_drop = v[0];
    else if (strcmp(key, "spike_depth") == 0 && v[0] > 0 && v[0] < 2)
        m->spike_depth = v[0];
    else if (strcmp(key, "harvest_gate") == 0 && v[0] >= -1 && v[0] <= 1 && v[1] >= 0 && v[1] <= 2)
        m->harvest_bare_ndvi = v[0], m->harvest_min_regrowth = v[1];
    else if (strcmp(key, "event_threshold") == 0 && v[0] >= 0 && v[0] <= 1)
        m->event_threshold = v[0];
    else if (strcmp(key, "date_fraction") == 0 && v[0] >= 0 && v[0] <= 1)
        m->date_fraction = v[0];
    else if (strcmp(key, "min_separation_days") == 0 && is_whole(v[0], 0, 366))
        m->min_separation_days = (int)v[0];
    else if (strcmp(key, "approval_threshold") == 0 && v[0] >= 0 && v[0] <= 1)
        m->approval_threshold = v[0];
    else if (strcmp(key, "trees") == 0 && is_whole(v[0], 1, MODEL_MAX_TREES))
        m->n_trees = (int)v[0], m->tree_base = v[1];
    else if (strcmp(key, "not_mowed_threshold") == 0 && v[0] >= 0 && v[0] <= 1)
        m->not_mowed_threshold = v[0];
    else if (strcmp(key, "max_gap_days") == 0 && is_whole(v[0], 1, 366))
        m->max_gap_days = (int)v[0];
    else if (strcmp(key, "min_clear_obs") == 0 && is_whole(v[0], 0, 366))
        m->min_clear_obs = (int)v[0];
    else if (strcmp(key, "season_doy") == 0 && is_whole(v[0], 1, 366) && is_whole(v[1], v[0], 366))
        m->season_doy_start = (int)v[0], m->season_doy_end = (int)v[1];
    else if (strcmp(key, "seed") == 0 && is_whole(v[0], 0, 9e15))
        m->seed = (uint64_t)v[0];
    else if (strcmp(key, "trained_on") == 0 && is_whole(v[0], 0, 1e15) &&
             is_whole(v[1], 0, 1e15) && is_whole(v[2], 0, 1e15))
        m->trained_parcels = (long)v[0], m->trained_candidates = (long)v[1],
        m->trained_positives = (long)v[2];
    else
        return MC_ERR;
    return MC_OK;
}

/* One "tree" line: MODEL_TREE_NODES (feature, threshold) pairs, then the leaves. */
static int parse_tree(char *rest, model_tree *t)
{
    double v[2 * MODEL_TREE_NODES + MODEL_TREE_LEAVES];
    if (parse_numbers(rest, v, 2 * MODEL_TREE_NODES + MODEL_TREE_LEAVES) != MC_OK)
        return MC_ERR;
    for (int k = 0; k < MODEL_TREE_NODES; k++) {
        if (!is_whole(v[2 * k], -1, DETECT_N_FEATURES - 1))
            return MC_ERR;
        t->feature[k] = (signed char)v[2 * k];
        t->threshold[k] = (float)v[2 * k + 1];
        if (!isfinite(t->threshold[k]))
            return MC_ERR;
    }
    for (int k = 0; k < MODEL_TREE_LEAVES; k++)
        t->leaf[k] = v[2 * MODEL_TREE_NODES + k];
    return MC_OK;
}

/* Parses one "key values" line; seen[] counts the keys met. */
static int parse_line(char *line, const char *name, long line_no, detect_model *m, int *seen)
{
    char *rest = line + strcspn(line, " \t");
    if (*rest)
        *rest++ = '\0';
    int k = 0;
    while (k < N_KEYS && strcmp(keys[k].key, line) != 0)
        k++;
    if (k == N_KEYS)
        return mc_fail("model %s: line %ld: unknown key '%.40s' (corrupted file?)", name, line_no,
                       line);
    if (strcmp(line, "tree") == 0) { /* one line per tree, in order */
        if (seen[k] == MODEL_MAX_TREES)
            return mc_fail("model %s: line %ld: more than %d trees", name, line_no,
                           MODEL_MAX_TREES);
        if (parse_tree(rest, &m->tree[seen[k]]) != MC_OK)
            return mc_fail("model %s: line %ld: a tree needs %d (feature, threshold) pairs with "
                           "features -1..%d and %d leaf values (corrupted line)", name, line_no,
                           MODEL_TREE_NODES, DETECT_N_FEATURES - 1, MODEL_TREE_LEAVES);
        seen[k]++;
        return MC_OK;
    }
    if (seen[k]++)
        return mc_fail("model %s: line %ld: key '%s' given twice", name, line_no, line);
    if (strcmp(line, "kind") == 0) {
        if (model_kind_parse(rest, &m->kind) != MC_OK)
            return mc_fail("model %s: line %ld: kind '%.40s' is not supported (logistic or "
                           "trees)", name, line_no, rest);
        return MC_OK;
    }
    if (strcmp(line, "season_features") == 0) {
        if (check_features(rest, detect_season_feature_names, DETECT_N_SEASON_FEATURES) != MC_OK)
            return mc_fail("model %s: line %ld: the season feature list differs from this "
                           "mowcheck's", name, line_no);
        return MC_OK;
    }
    if (strcmp(line, "features") == 0) {
        if (check_features(rest, detect_feature_names, DETECT_N_FEATURES) != MC_OK)
            return mc_fail("model %s: line %ld: the feature list differs from this mowcheck's "
                           "(%s ... %s)", name, line_no, detect_feature_names[0],
                           detect_feature_names[DETECT_N_FEATURES - 1]);
        return MC_OK;
    }
    double v[DETECT_N_FEATURES + DETECT_N_SEASON_FEATURES];
    if (parse_numbers(rest, v, keys[k].n_values) != MC_OK || store_value(m, line, v) != MC_OK)
        return mc_fail("model %s: line %ld: '%s' needs %d valid number%s (corrupted line)", name,
                       line_no, line, keys[k].n_values, keys[k].n_values == 1 ? "" : "s");
    return MC_OK;
}

static int check_version(const char *line, const char *name)
{
    int version = 0;
    char tail;
    if (sscanf(line, "mowcheck-model %d%c", &version, &tail) != 1)
        return mc_fail("model %s: line 1: not a mowcheck model file (want 'mowcheck-model %d')",
                       name, MODEL_FORMAT_VERSION);
    if (version != MODEL_FORMAT_VERSION)
        return mc_fail("model %s: line 1: format version %d is not supported (this mowcheck "
                       "reads version %d; retrain with mowcheck train)", name, version,
                       MODEL_FORMAT_VERSION);
    return MC_OK;
}

static int check_checksum(const char *text, size_t body_len, const char *hex, const char *name,
                          long line_no)
{
    char want[65];
    if (sha256_hex(text, body_len, want) != MC_OK)
        return MC_ERR;
    if (strlen(hex) != 64 || strcmp(hex, want) != 0)
        return mc_fail("model %s: line %ld: checksum mismatch: the file was changed or "
                       "corrupted after training", name, line_no);
    return MC_OK;
}

/* After the last line: every key of the model's kind present, none of the other
 * kind, and as many tree lines as the trees line says. */
static int check_keys(const detect_model *m, const int *seen, const char *name)
{
    int bit = kind_bit(m->kind);
    for (int k = 0; k < N_KEYS; k++) {
        int belongs = (keys[k].kinds & bit) != 0;
        if (belongs && !seen[k])
            return mc_fail("model %s: key '%s' missing", name, keys[k].key);
        if (!belongs && seen[k])
            return mc_fail("model %s: key '%s' does not belong to a %s model", name,
                           keys[k].key, model_kind_name(m->kind));
    }
    for (int k = 0; k < N_KEYS; k++)
        if (strcmp(keys[k].key, "tree") == 0 && m->kind == MODEL_KIND_TREES &&
            seen[k] != m->n_trees)
            return mc_fail("model %s: %d tree lines, but the trees line says %d (truncated or "
                           "corrupted)", name, seen[k], m->n_trees);
    return MC_OK;
}

static int parse_text(char *copy, const char *text, const char *name, detect_model *m)
{
    int seen[N_KEYS] = {0};
    long line_no = 0;
    char *p = copy;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (!nl)
            return mc_fail("model %s: line %ld: truncated (no sha256 line at the end)", name,
                           line_no + 1);
        *nl = '\0';
        line_no++;
        size_t offset = (size_t)(p - copy);
        if (line_no == 1) {
            if (check_version(p, name) != MC_OK)
                return MC_ERR;
        } else if (strncmp(p, "sha256 ", 7) == 0) {
            if (check_checksum(text, offset, p + 7, name, line_no) != MC_OK)
                return MC_ERR;
            if (nl[1] != '\0')
                return mc_fail("model %s: line %ld: text after the sha256 line", name,
                               line_no + 1);
            return check_keys(m, seen, name);
        } else if (p[0] != '#' && p[0] != '\0') {
            if (parse_line(p, name, line_no, m, seen) != MC_OK)
                return MC_ERR;
        }
        p = nl + 1;
    }
    if (line_no == 0)
        return mc_fail("model %s: empty file", name);
    return mc_fail("model %s: line %ld: truncated (no sha256 line at the end)", name, line_no);
}

int model_from_text(const char *text, const char *name, detect_model *m)
{
    model_init(m);
    char *copy = strdup(text);
    if (!copy)
        return mc_fail("model %s: out of memory", name);
    int rc = parse_text(copy, text, name, m);
    free(copy);
    if (rc == MC_OK)
        model_prepare(m);
    return rc;
}

int model_load(const char *path, detect_model *m)
{
    char *buf;
    size_t len;
    text_file_status st = text_file_read(path, &buf, &len);
    if (st == TEXT_FILE_CANNOT_OPEN)
        return mc_fail("model %s: cannot open: %s", path, strerror(errno));
    if (st != TEXT_FILE_OK)
        return mc_fail("model %s: cannot read", path);
    int rc = MC_OK;
    if (len > 1000000)
        rc = mc_fail("model %s: too large to be a model file", path);
    else if (memchr(buf, '\0', len))
        rc = mc_fail("model %s: binary data in a text file (corrupted)", path);
    else if (len == 0)
        rc = mc_fail("model %s: empty file", path);
    else
        rc = model_from_text(buf, path, m);
    free(buf);
    return rc;
}
