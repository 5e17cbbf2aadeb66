#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "error.h"
#include "train_trees.h"

enum { NP = DETECT_N_FEATURES + 1, LABEL_SLACK_DAYS = 3, MAX_GROUPS = 64 };
_Static_assert(DETECT_N_SEASON_FEATURES <= DETECT_N_FEATURES, "newton_fit's arrays hold NP");

/* The season gate (a season whose P(mowed) is below this reports no events) is
 * off: at 0.5 it changed the leave-one-region-out figures by one plot-year either
 * way (F1 +0.002, mowed-or-not accuracy -0.005), so it is not worth its risk. */
static const double SEASON_EVENT_MIN = 0.0;

void train_options_init(train_options *o)
{
    o->seed = 1;
    o->l2 = 1.0;
    o->kind = MODEL_KIND_TREES;
    o->log = NULL;
}

/* ---- training set ---- */

typedef struct sample {
    float x[DETECT_N_FEATURES];
    int y;
    int group;
    double pos;  /* where the true date lies in the interval (0..1), -1 if not a cut */
    double z;    /* out-of-fold raw score */
} sample;

typedef struct sample_set {
    sample *v;
    size_t n, cap;
} sample_set;

static int push_sample(sample_set *ss, const sample *x)
{
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? ss->cap * 2 : 1024;
        sample *g = realloc(ss->v, ss->cap * sizeof *g);
        if (!g)
            return mc_fail("train: out of memory");
        ss->v = g;
    }
    ss->v[ss->n++] = *x;
    return MC_OK;
}

/* Groups: regions of the kept labelled parcels, or seeded folds. group_of[parcel]. */
static int assign_groups(const series_set *s, const eval_labels *l, const unsigned char *keep,
                         uint64_t seed, int *group_of)
{
    char names[MAX_GROUPS][16];
    int n = 0;
    for (size_t p = 0; p < s->n_parcels; p++)
        group_of[p] = -1;
    for (size_t i = 0; i < l->n_years; i++) {
        size_t p = l->years[i].parcel;
        if (p == SIZE_MAX || (keep && !keep[p]) || group_of[p] >= 0)
            continue;
        char r[16];
        eval_region(s->parcels[p].parcel_id, r, sizeof r);
        int g = 0;
        while (g < n && strcmp(names[g], r) != 0)
            g++;
        if (g == n && n < MAX_GROUPS)
            strcpy(names[n++], r);
        group_of[p] = g < MAX_GROUPS ? g : MAX_GROUPS - 1;
    }
    if (n >= 2)
        return n;
    /* One region: three folds from a seeded hash of the parcel index (splitmix64). */
    for (size_t p = 0; p < s->n_parcels; p++) {
        if (group_of[p] < 0)
            continue;
        uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (p + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        group_of[p] = (int)((z ^ (z >> 31)) % 3);
    }
    return 3;
}

static int collect_year(const eval_year *y, const detect_candidate *cand, size_t nc, int group,
                        sample_set *ss)
{
    for (size_t k = 0; k < nc; k++) {
        if (date_year(cand[k].day) != y->year)
            continue;
        sample smp = {.y = 0, .group = group, .pos = -1};
        memcpy(smp.x, cand[k].x, sizeof smp.x);
        for (int t = 0; t < y->n_true; t++) {
            int32_t d = y->true_day[t];
            if (d >= cand[k].day_a - LABEL_SLACK_DAYS && d <= cand[k].day_b + LABEL_SLACK_DAYS) {
                smp.y = 1;
                int span = cand[k].day_b - cand[k].day_a;
                double pos = span > 0 ? (double)(d - cand[k].day_a) / span : 0.5;
                smp.pos = pos < 0 ? 0 : pos > 1 ? 1 : pos;
            }
        }
        if (push_sample(ss, &smp) != MC_OK)
            return MC_ERR;
    }
    return MC_OK;
}

static int collect(const series_set *s, const eval_labels *l, const unsigned char *keep,
                   const int *group_of, const detect_model *gate, sample_set *ss)
{
    detect_work w = {0};
    int rc = MC_OK;
    for (size_t i = 0; i < l->n_years && rc == MC_OK; i++) {
        const eval_year *y = &l->years[i];
        if (y->parcel == SIZE_MAX || (keep && !keep[y->parcel]))
            continue;
        const series_parcel *p = &s->parcels[y->parcel];
        detect_candidate *cand;
        size_t nc;
        rc = detect_candidates(s->obs + p->first, p->count, gate, NULL, &w, &cand, &nc);
        if (rc == MC_OK)
            rc = collect_year(y, cand, nc, group_of[y->parcel], ss);
    }
    detect_work_free(&w);
    return rc;
}

/* ---- logistic regression (Newton) ---- */

/* Solves A x = b (n x n, symmetric positive definite) by Cholesky; A is overwritten. */
static int cholesky_solve(double *a, double *b, int n)
{
    for (int j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (int k = 0; k < j; k++)
            d -= a[j * n + k] * a[j * n + k];
        if (!(d > 1e-12))
            return MC_ERR;
        d = sqrt(d);
        a[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double v = a[i * n + j];
            for (int k = 0; k < j; k++)
                v -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = v / d;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            b[i] -= a[i * n + k] * b[k];
        b[i] /= a[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        for (int k = i + 1; k < n; k++)
            b[i] -= a[k * n + i] * b[k];
        b[i] /= a[i * n + i];
    }
    return MC_OK;
}

/* Fits p = sigma(beta[0] + sum beta[j] u_j) on rows u (dim columns, already scaled);
 * penalty l2 on beta[1..]. */
static int newton_fit(const double *u, const int *y, size_t n, int dim, double l2, double *beta)
{
    int np = dim + 1;
    for (int j = 0; j < np; j++)
        beta[j] = 0;
    for (int iter = 0; iter < 100; iter++) {
        double h[NP * NP] = {0}, g[NP] = {0};
        for (size_t i = 0; i < n; i++) {
            const double *r = u + i * dim;
            double z = beta[0];
            for (int j = 0; j < dim; j++)
                z += beta[j + 1] * r[j];
            double p = 1.0 / (1.0 + exp(-z)), wgt = p * (1 - p), e = p - y[i];
            double xr[NP];
            xr[0] = 1;
            for (int j = 0; j < dim; j++)
                xr[j + 1] = r[j];
            for (int a = 0; a < np; a++) {
                g[a] += e * xr[a];
                for (int b = 0; b <= a; b++)
                    h[a * np + b] += wgt * xr[a] * xr[b];
            }
        }
        for (int a = 1; a < np; a++) {
            g[a] += l2 * beta[a];
            h[a * np + a] += l2;
        }
        h[0] += 1e-9;
        for (int a = 0; a < np; a++)
            for (int b = a + 1; b < np; b++)
                h[a * np + b] = h[b * np + a];
        if (cholesky_solve(h, g, np) != MC_OK)
            return mc_fail("train: the logistic regression is singular (too few candidates?)");
        double step = 0;
        for (int a = 0; a < np; a++) {
            beta[a] -= g[a];
            step = fmax(step, fabs(g[a]));
        }
        if (step < 1e-10)
            break;
    }
    return MC_OK;
}

/* Boosted trees on the rows with g != skip_group; writes the trees. */
static int fit_trees(const sample_set *ss, int skip_group, detect_model *m)
{
    size_t n = 0;
    float *x = malloc((ss->n ? ss->n : 1) * DETECT_N_FEATURES * sizeof *x);
    int *y = malloc((ss->n ? ss->n : 1) * sizeof *y);
    int rc = x && y ? MC_OK : mc_fail("train: out of memory");
    for (size_t i = 0; i < ss->n && rc == MC_OK; i++) {
        if (ss->v[i].group == skip_group)
            continue;
        memcpy(x + n * DETECT_N_FEATURES, ss->v[i].x, sizeof ss->v[i].x);
        y[n++] = ss->v[i].y;
    }
    trees_options to;
    trees_options_init(&to);
    if (rc == MC_OK)
        rc = trees_fit(x, y, n, &to, m);
    free(x);
    free(y);
    m->calib_a = 1;
    m->calib_b = 0;
    model_prepare(m);
    return rc;
}

static int fit_logistic(const sample_set *ss, int skip_group, double l2, detect_model *m);

/* The candidate classifier of m's kind on the rows with g != skip_group
 * (calibration reset to the identity). */
static int fit_model(const sample_set *ss, int skip_group, double l2, detect_model *m)
{
    return m->kind == MODEL_KIND_TREES ? fit_trees(ss, skip_group, m)
                                       : fit_logistic(ss, skip_group, l2, m);
}

/* Standardises the rows with g != skip_group and fits; writes mean/scale/weights/bias. */
static int fit_logistic(const sample_set *ss, int skip_group, double l2, detect_model *m)
{
    size_t n = 0;
    double mean[DETECT_N_FEATURES] = {0}, sq[DETECT_N_FEATURES] = {0};
    for (size_t i = 0; i < ss->n; i++) {
        if (ss->v[i].group == skip_group)
            continue;
        n++;
        for (int j = 0; j < DETECT_N_FEATURES; j++)
            mean[j] += ss->v[i].x[j];
    }
    if (n < 10)
        return mc_fail("train: only %zu candidates to train on", n);
    for (int j = 0; j < DETECT_N_FEATURES; j++)
        mean[j] /= (double)n;
    double *u = malloc(n * DETECT_N_FEATURES * sizeof *u);
    int *y = malloc(n * sizeof *y);
    if (!u || !y) {
        free(u);
        free(y);
        return mc_fail("train: out of memory");
    }
    for (size_t i = 0; i < ss->n; i++)
        if (ss->v[i].group != skip_group)
            for (int j = 0; j < DETECT_N_FEATURES; j++)
                sq[j] += (ss->v[i].x[j] - mean[j]) * (ss->v[i].x[j] - mean[j]);
    for (int j = 0; j < DETECT_N_FEATURES; j++) {
        m->mean[j] = mean[j];
        m->scale[j] = sqrt(sq[j] / (double)n) > 1e-9 ? sqrt(sq[j] / (double)n) : 1.0;
    }
    size_t k = 0;
    for (size_t i = 0; i < ss->n; i++) {
        if (ss->v[i].group == skip_group)
            continue;
        for (int j = 0; j < DETECT_N_FEATURES; j++)
            u[k * DETECT_N_FEATURES + j] = (ss->v[i].x[j] - m->mean[j]) / m->scale[j];
        y[k++] = ss->v[i].y;
    }
    double beta[NP];
    int rc = newton_fit(u, y, n, DETECT_N_FEATURES, l2, beta);
    free(u);
    free(y);
    if (rc != MC_OK)
        return MC_ERR;
    m->bias = beta[0];
    for (int j = 0; j < DETECT_N_FEATURES; j++)
        m->weight[j] = beta[j + 1];
    m->calib_a = 1;
    m->calib_b = 0;
    model_prepare(m);
    return MC_OK;
}

/* Platt scaling on the out-of-fold scores: p = sigma(a z + b). */
static int calibrate(const sample_set *ss, detect_model *m)
{
    double *u = malloc((ss->n ? ss->n : 1) * sizeof *u);
    int *y = malloc((ss->n ? ss->n : 1) * sizeof *y);
    if (!u || !y) {
        free(u);
        free(y);
        return mc_fail("train: out of memory");
    }
    for (size_t i = 0; i < ss->n; i++) {
        u[i] = ss->v[i].z;
        y[i] = ss->v[i].y;
    }
    double beta[2];
    int rc = newton_fit(u, y, ss->n, 1, 0.0, beta);
    free(u);
    free(y);
    if (rc != MC_OK)
        return MC_ERR;
    m->calib_a = beta[1];
    m->calib_b = beta[0];
    return MC_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_position(const sample_set *ss)
{
    double *v = malloc((ss->n ? ss->n : 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        return 0.5;
    for (size_t i = 0; i < ss->n; i++)
        if (ss->v[i].pos >= 0)
            v[n++] = ss->v[i].pos;
    double med = 0.5;
    if (n > 0) {
        qsort(v, n, sizeof *v, cmp_double);
        med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
    free(v);
    return med;
}

/* ---- thresholds from out-of-fold detections ---- */

typedef struct fold_models {
    detect_model m[MAX_GROUPS];
    int n;
} fold_models;

/* Runs every fold's model on its own held-out parcels and scores the plot-years. */
static int oof_outcomes(const series_set *s, const eval_labels *l, const int *group_of,
                        fold_models *fm, double event_threshold, eval_outcome **all,
                        size_t *n_all)
{
    *all = NULL;
    *n_all = 0;
    unsigned char *keep = malloc(s->n_parcels ? s->n_parcels : 1);
    if (!keep)
        return mc_fail("train: out of memory");
    int rc = MC_OK;
    for (int g = 0; g < fm->n && rc == MC_OK; g++) {
        for (size_t p = 0; p < s->n_parcels; p++)
            keep[p] = group_of[p] == g;
        fm->m[g].event_threshold = event_threshold;
        detect_result r;
        rc = detect_run_subset(s, keep, &fm->m[g], &r);
        eval_outcome *o = NULL;
        size_t n = 0;
        if (rc == MC_OK)
            rc = eval_outcomes(l, s, &r, keep, &o, &n);
        detect_result_free(&r);
        if (rc == MC_OK) {
            eval_outcome *g2 = realloc(*all, (*n_all + n + 1) * sizeof *g2);
            if (!g2)
                rc = mc_fail("train: out of memory");
            else {
                *all = g2;
                memcpy(*all + *n_all, o, n * sizeof *o);
                *n_all += n;
            }
        }
        free(o);
    }
    free(keep);
    return rc;
}

static int choose_event_threshold(const series_set *s, const eval_labels *l,
                                  const int *group_of, fold_models *fm, double *best_t,
                                  double *f1_out)
{
    double best_f1 = -1;
    *best_t = 0.5;
    for (int step = 0; step <= 12; step++) {
        double t = 0.20 + 0.05 * step;
        eval_outcome *o;
        size_t n;
        if (oof_outcomes(s, l, group_of, fm, t, &o, &n) != MC_OK)
            return MC_ERR;
        eval_scores sc = {0};
        eval_accumulate(&sc, o, n);
        free(o);
        if (eval_f1(&sc) > best_f1 + 1e-12) {
            best_f1 = eval_f1(&sc);
            *best_t = t;
        }
    }
    *f1_out = best_f1;
    return MC_OK;
}

/* ---- the season model ---- */

/* Fits standardised L2 logistic regression on the season features of the outcomes
 * with use[i]; writes the season_* fields (calibration left alone). */
static int fit_season(const eval_outcome *o, size_t n, const unsigned char *use, double l2,
                      detect_model *m)
{
    enum { D = DETECT_N_SEASON_FEATURES };
    /* Unknown values (NAN: e.g. no nir/swir1 columns) are left out of the mean and
     * scale and enter the fit at the mean, as detection treats them. */
    double mean[D] = {0}, sq[D] = {0};
    size_t k = 0, known[D] = {0};
    for (size_t i = 0; i < n; i++)
        if (use[i]) {
            k++;
            for (int j = 0; j < D; j++)
                if (!isnan(o[i].season_x[j])) {
                    mean[j] += o[i].season_x[j];
                    known[j]++;
                }
        }
    if (k < 10)
        return mc_fail("train: only %zu plot-years for the season model", k);
    for (int j = 0; j < D; j++)
        mean[j] = known[j] ? mean[j] / (double)known[j] : 0.0;
    for (size_t i = 0; i < n; i++)
        if (use[i])
            for (int j = 0; j < D; j++)
                if (!isnan(o[i].season_x[j]))
                    sq[j] += (o[i].season_x[j] - mean[j]) * (o[i].season_x[j] - mean[j]);
    for (int j = 0; j < D; j++) {
        m->season_mean[j] = mean[j];
        double sd = known[j] ? sqrt(sq[j] / (double)known[j]) : 0.0;
        m->season_scale[j] = sd > 1e-9 ? sd : 1.0;
    }
    double *u = malloc(k * D * sizeof *u);
    int *y = malloc(k * sizeof *y);
    if (!u || !y) {
        free(u);
        free(y);
        return mc_fail("train: out of memory");
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!use[i])
            continue;
        for (int j = 0; j < D; j++)
            u[k * D + j] = isnan(o[i].season_x[j])
                               ? 0.0
                               : (o[i].season_x[j] - m->season_mean[j]) / m->season_scale[j];
        y[k++] = o[i].truly_mowed;
    }
    double beta[NP];
    int rc = newton_fit(u, y, k, D, l2, beta);
    free(u);
    free(y);
    if (rc != MC_OK)
        return MC_ERR;
    m->season_bias = beta[0];
    for (int j = 0; j < D; j++)
        m->season_weight[j] = beta[j + 1];
    model_prepare(m);
    return MC_OK;
}

static double season_raw(const detect_model *m, const float *x)
{
    double z = m->season_fold_b;
    for (int j = 0; j < DETECT_N_SEASON_FEATURES; j++)
        z += m->season_fold_w[j] * (isnan(x[j]) ? m->season_mean[j] : x[j]);
    return z;
}

/* The season model from the out-of-fold plot-years o (their candidate p are
 * out-of-fold): a second leave-one-group-out over the same groups gives out-of-fold
 * season scores, Platt scaling on them the calibration; the weights are then fitted
 * on all. o[i].season_probability receives the calibrated out-of-fold probability,
 * and n_det is zeroed where the season gate (season_event_min) would drop the events. */
static int train_season(const eval_labels *l, const int *group_of, int n_groups,
                        eval_outcome *o, size_t n, double l2, detect_model *out)
{
    unsigned char *use = malloc(n ? n : 1);
    double *z = malloc((n ? n : 1) * sizeof *z);
    int *y = malloc((n ? n : 1) * sizeof *y);
    detect_model *fm = malloc(sizeof *fm);
    int rc = !use || !z || !y || !fm ? mc_fail("train: out of memory") : MC_OK;
    for (int g = 0; g < n_groups && rc == MC_OK; g++) {
        for (size_t i = 0; i < n; i++)
            use[i] = !o[i].excluded && group_of[l->years[o[i].year].parcel] != g;
        *fm = *out;
        rc = fit_season(o, n, use, l2, fm);
        for (size_t i = 0; i < n && rc == MC_OK; i++)
            if (group_of[l->years[o[i].year].parcel] == g)
                z[i] = season_raw(fm, o[i].season_x);
    }
    size_t k = 0;
    for (size_t i = 0; i < n && rc == MC_OK; i++)
        if (!o[i].excluded) {
            z[k] = z[i];
            y[k++] = o[i].truly_mowed;
        }
    double beta[2] = {0, 1};
    if (rc == MC_OK)
        rc = newton_fit(z, y, k, 1, 0.0, beta);
    if (rc == MC_OK) {
        out->season_calib_a = beta[1];
        out->season_calib_b = beta[0];
        for (size_t i = 0; i < n; i++)
            use[i] = !o[i].excluded;
        rc = fit_season(o, n, use, l2, out);
    }
    if (rc == MC_OK) {
        /* the out-of-fold scores again (z was compacted), now calibrated */
        for (int g = 0; g < n_groups && rc == MC_OK; g++) {
            for (size_t i = 0; i < n; i++)
                use[i] = !o[i].excluded && group_of[l->years[o[i].year].parcel] != g;
            *fm = *out;
            rc = fit_season(o, n, use, l2, fm);
            fm->season_calib_a = out->season_calib_a;
            fm->season_calib_b = out->season_calib_b;
            for (size_t i = 0; i < n && rc == MC_OK; i++)
                if (group_of[l->years[o[i].year].parcel] == g) {
                    double zz = season_raw(fm, o[i].season_x);
                    o[i].season_probability =
                        (float)(1.0 / (1.0 + exp(-(fm->season_calib_a * zz +
                                                   fm->season_calib_b))));
                    if (o[i].season_probability < out->season_event_min)
                        o[i].n_det = 0;
                }
        }
    }
    free(use);
    free(z);
    free(y);
    free(fm);
    return rc;
}

/* The approval threshold, in two steps on the out-of-fold plot-years that had an
 * event (their top event confidence, whether truly mowed, their group):
 * 1. t0 = the lowest threshold (tried: each plot-year's own top confidence) whose
 *    approvals (top confidence >= t0) have a posterior-mean precision
 *    (right + 1/2) / (approvals + 1) >= 0.99 (Jeffreys prior: with no wrong approval
 *    this needs >= 49 approvals);
 * 2. a margin for the shift between regions: for each group (region) holding a
 *    possible wrong approval (a not-mowed plot-year with an event), the logit of its
 *    highest top confidence; delta = the largest minus the second largest of these
 *    (0 with fewer than two such groups): how far the worst region's not-mowed plots
 *    scored above all the others', i.e. what one more, unseen region may add. The
 *    threshold is sigma(logit(t0) + delta). No t0: 1 (never automatic). */
static const double AUTO_PRIOR = 0.5, AUTO_MIN_PRECISION = 0.99;

static double logit(double p)
{
    p = p < 1e-6 ? 1e-6 : p > 1 - 1e-6 ? 1 - 1e-6 : p;
    return log(p / (1 - p));
}

static int cmp_desc(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? 1 : -1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Step 1: the candidate thresholds are the plot-years' own scores. */
static double jeffreys_threshold(const train_call *c, size_t n)
{
    double *v = malloc((n ? n : 1) * 2 * sizeof *v); /* (score, truly mowed) pairs */
    if (!v)
        return 1.0;
    for (size_t i = 0; i < n; i++) {
        v[2 * i] = c[i].score;
        v[2 * i + 1] = c[i].truly_mowed;
    }
    qsort(v, n, 2 * sizeof *v, cmp_desc);
    double best = 1.0;
    long ok = 0;
    for (size_t i = 0; i < n; i++) {
        ok += v[2 * i + 1] > 0.5;
        if (i + 1 < n && v[2 * (i + 1)] == v[2 * i])
            continue; /* ties: a threshold takes all of them */
        long calls = (long)i + 1;
        if (((double)ok + AUTO_PRIOR) / ((double)calls + 2 * AUTO_PRIOR) >= AUTO_MIN_PRECISION)
            best = v[2 * i];
    }
    free(v);
    return best;
}

double train_approval_threshold(const train_call *c, size_t n)
{
    double t0 = jeffreys_threshold(c, n);
    if (t0 >= 1.0)
        return 1.0;
    double top[MAX_GROUPS];
    int has[MAX_GROUPS] = {0};
    for (size_t i = 0; i < n; i++) {
        int g = c[i].group;
        if (c[i].truly_mowed || g < 0 || g >= MAX_GROUPS)
            continue;
        double z = logit(c[i].score);
        if (!has[g] || z > top[g])
            top[g] = z;
        has[g] = 1;
    }
    double first = 0, second = 0; /* the two largest group maxima */
    int n_has = 0;
    for (int g = 0; g < MAX_GROUPS; g++) {
        if (!has[g])
            continue;
        if (n_has == 0 || top[g] > first) {
            second = first;
            first = top[g];
        } else if (n_has == 1 || top[g] > second)
            second = top[g];
        n_has++;
    }
    double delta = n_has >= 2 ? first - second : 0.0;
    return 1.0 / (1.0 + exp(-(logit(t0) + delta)));
}

/* The approval threshold from the out-of-fold plot-years o: every scored plot-year
 * with an event is a possible approval, scored by its most confident event. */
static double choose_approval_threshold(const eval_labels *l, const int *group_of,
                                        const eval_outcome *o, size_t n)
{
    train_call *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        return 1.0; /* out of memory: never automatic */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!o[i].excluded && o[i].n_det > 0)
            c[k++] = (train_call){o[i].top_confidence, o[i].truly_mowed,
                                  group_of[l->years[o[i].year].parcel]};
    double t = train_approval_threshold(c, k);
    free(c);
    return t;
}

/* Highest threshold (not above the event threshold) whose "not mowed" calls
 * (no candidate above it, coverage good) are truly not mowed with
 * right / (calls + 1) >= 0.9. */
static double choose_not_mowed_threshold(const eval_outcome *o, size_t n, double event_t)
{
    double best = 0.0; /* 0: never; "not mowed" only where the data back it */
    for (int step = 0; step <= 48; step++) {
        double t = 0.02 + 0.01 * step;
        if (t > event_t)
            break;
        long calls = 0, ok = 0;
        for (size_t i = 0; i < n; i++) {
            if (o[i].excluded || !o[i].well_covered || o[i].season_probability >= t)
                continue;
            calls++;
            ok += !o[i].truly_mowed;
        }
        if (calls > 0 && (double)ok / (double)(calls + 1) >= 0.9)
            best = t;
    }
    return best;
}

static int inner_folds(const series_set *s, const eval_labels *l, const int *group_of,
                       int n_groups, sample_set *ss, const train_options *o, detect_model *out,
                       double *oof_f1)
{
    fold_models *fm = calloc(1, sizeof *fm);
    if (!fm)
        return mc_fail("train: out of memory");
    fm->n = n_groups;
    int rc = MC_OK;
    for (int g = 0; g < n_groups && rc == MC_OK; g++) {
        fm->m[g] = *out;
        rc = fit_model(ss, g, o->l2, &fm->m[g]);
        for (size_t i = 0; i < ss->n && rc == MC_OK; i++)
            if (ss->v[i].group == g)
                ss->v[i].z = model_raw_score(&fm->m[g], ss->v[i].x);
    }
    if (rc == MC_OK)
        rc = calibrate(ss, out);
    for (int g = 0; g < n_groups && rc == MC_OK; g++) {
        fm->m[g].calib_a = out->calib_a;
        fm->m[g].calib_b = out->calib_b;
        fm->m[g].approval_threshold = 1; /* chosen below from the events' confidences */
        fm->m[g].not_mowed_threshold = 0;
    }
    if (rc == MC_OK)
        rc = choose_event_threshold(s, l, group_of, fm, &out->event_threshold, oof_f1);
    eval_outcome *oc = NULL;
    size_t n = 0;
    if (rc == MC_OK)
        rc = oof_outcomes(s, l, group_of, fm, out->event_threshold, &oc, &n);
    if (rc == MC_OK) {
        out->season_event_min = SEASON_EVENT_MIN;
        rc = train_season(l, group_of, n_groups, oc, n, o->l2, out);
    }
    if (rc == MC_OK) {
        out->approval_threshold = choose_approval_threshold(l, group_of, oc, n);
        out->not_mowed_threshold = choose_not_mowed_threshold(oc, n, out->event_threshold);
    }
    free(oc);
    free(fm);
    return rc;
}

/* The candidate gates tried; the one with the best out-of-fold F1 is kept. */
static const double min_drops[] = {0.06, 0.08, 0.10, 0.12};
enum { N_MIN_DROPS = sizeof min_drops / sizeof min_drops[0] };

/* Everything for one candidate gate: date fraction, inner folds, final fit. */
static int train_with_gate(const series_set *s, const eval_labels *l, const unsigned char *keep,
                           const int *group_of, int n_groups, const train_options *o,
                           double min_drop, detect_model *out, sample_set *ss, double *oof_f1)
{
    model_init(out);
    out->kind = o->kind;
    out->seed = o->seed;
    out->min_drop = min_drop;
    ss->n = 0;
    /* First pass fixes the date fraction (it moves the dates the features see). */
    int rc = collect(s, l, keep, group_of, out, ss);
    if (rc == MC_OK) {
        out->date_fraction = median_position(ss);
        ss->n = 0;
        rc = collect(s, l, keep, group_of, out, ss);
    }
    if (rc == MC_OK)
        rc = inner_folds(s, l, group_of, n_groups, ss, o, out, oof_f1);
    if (rc == MC_OK) {
        double a = out->calib_a, b = out->calib_b;
        rc = fit_model(ss, -2, o->l2, out);
        out->calib_a = a;
        out->calib_b = b;
        model_prepare(out);
    }
    return rc;
}

int train_model(const series_set *s, const eval_labels *l, const unsigned char *keep,
                const train_options *o, detect_model *out)
{
    int *group_of = malloc((s->n_parcels ? s->n_parcels : 1) * sizeof *group_of);
    detect_model *trial = malloc(sizeof *trial);
    if (!group_of || !trial) {
        free(group_of);
        free(trial);
        return mc_fail("train: out of memory");
    }
    int n_groups = assign_groups(s, l, keep, o->seed, group_of);
    sample_set ss = {0};
    double best_f1 = -1;
    int rc = MC_OK;
    for (int i = 0; i < N_MIN_DROPS && rc == MC_OK; i++) {
        double f1 = 0;
        rc = train_with_gate(s, l, keep, group_of, n_groups, o, min_drops[i], trial, &ss, &f1);
        if (rc == MC_OK && f1 > best_f1 + 1e-12) {
            best_f1 = f1;
            *out = *trial;
        }
    }
    if (rc == MC_OK) /* the samples of the chosen gate, for the counts */
        rc = train_with_gate(s, l, keep, group_of, n_groups, o, out->min_drop, trial, &ss,
                             &best_f1);
    if (rc == MC_OK) {
        long pos = 0, parcels = 0;
        for (size_t i = 0; i < ss.n; i++)
            pos += ss.v[i].y;
        for (size_t p = 0; p < s->n_parcels; p++)
            parcels += group_of[p] >= 0;
        out->trained_parcels = parcels;
        out->trained_candidates = (long)ss.n;
        out->trained_positives = pos;
        model_prepare(out);
        if (o->log)
            fprintf(o->log, "trained %s on %ld parcels, %zu candidates (%ld cuts), %d inner folds: "
                            "min drop %.2f (out-of-fold F1 %.3f), event threshold %.2f, "
                            "approvals at event confidence %.4f, 'not mowed' below "
                            "%.2f, date fraction %.3f\n",
                    model_kind_name(out->kind), parcels, ss.n, pos, n_groups, out->min_drop, best_f1, out->event_threshold,
                    out->approval_threshold, out->not_mowed_threshold, out->date_fraction);
    }
    free(ss.v);
    free(group_of);
    free(trial);
    return rc;
}

/* ---- leave-one-region-out ---- */

/* The held-out plot-years of every fold, and each fold's approval threshold. */
typedef struct cv_pool {
    eval_outcome *o;
    size_t n, cap;
    double threshold[MAX_GROUPS];
    int n_folds;
} cv_pool;

static int pool_add(cv_pool *p, const eval_outcome *o, size_t n, double threshold)
{
    if (p->n + n > p->cap) {
        size_t cap = (p->n + n) * 2;
        eval_outcome *grown = realloc(p->o, cap * sizeof *grown);
        if (!grown)
            return mc_fail("cv: out of memory");
        p->o = grown;
        p->cap = cap;
    }
    memcpy(p->o + p->n, o, n * sizeof *o);
    p->n += n;
    if (p->n_folds < MAX_GROUPS)
        p->threshold[p->n_folds++] = threshold;
    return MC_OK;
}

static int cv_fold(const series_set *s, const eval_labels *l, const train_options *o,
                   const char *region, FILE *out, eval_scores *ms, eval_scores *bs,
                   cv_pool *pool)
{
    unsigned char *train_keep = malloc(s->n_parcels ? s->n_parcels : 1);
    unsigned char *test_keep = malloc(s->n_parcels ? s->n_parcels : 1);
    if (!train_keep || !test_keep) {
        free(train_keep);
        free(test_keep);
        return mc_fail("cv: out of memory");
    }
    for (size_t p = 0; p < s->n_parcels; p++) {
        char r[16];
        eval_region(s->parcels[p].parcel_id, r, sizeof r);
        test_keep[p] = strcmp(r, region) == 0;
        train_keep[p] = !test_keep[p];
    }
    detect_model m;
    detect_result r = {0}, b = {0};
    eval_outcome *o1 = NULL, *o2 = NULL;
    size_t n1 = 0, n2 = 0;
    int rc = train_model(s, l, train_keep, o, &m);
    if (rc == MC_OK)
        rc = detect_run_subset(s, test_keep, &m, &r);
    if (rc == MC_OK)
        rc = eval_outcomes(l, s, &r, test_keep, &o1, &n1);
    if (rc == MC_OK)
        rc = eval_baseline(s, test_keep, &b);
    if (rc == MC_OK)
        rc = eval_outcomes(l, s, &b, test_keep, &o2, &n2);
    if (rc == MC_OK) {
        eval_scores f = {0};
        eval_accumulate(&f, o1, n1);
        eval_accumulate(ms, o1, n1);
        eval_accumulate(bs, o2, n2);
        fprintf(out, "fold %s held out: F1 %.3f  MAE %.2f  accuracy %.3f  approval threshold "
                     "%.4f: automatic 'mowed' %ld/%ld (truly mowed %ld)\n",
                region, eval_f1(&f), eval_mae_days(&f), eval_accuracy(&f),
                m.approval_threshold, f.auto_mowed, f.n_summaries, f.auto_mowed_truly);
        rc = pool_add(pool, o1, n1, m.approval_threshold);
    }
    free(o1);
    free(o2);
    detect_result_free(&r);
    detect_result_free(&b);
    free(train_keep);
    free(test_keep);
    return rc;
}

int train_cv_region(const series_set *s, const eval_labels *l, const train_options *o,
                    FILE *out, eval_scores *model_scores, eval_scores *base_scores,
                    eval_reliability *reliability)
{
    char regions[MAX_GROUPS][16];
    int n = 0;
    for (size_t i = 0; i < l->n_years; i++) {
        if (l->years[i].parcel == SIZE_MAX)
            continue;
        char r[16];
        eval_region(l->years[i].parcel_id, r, sizeof r);
        int g = 0;
        while (g < n && strcmp(regions[g], r) != 0)
            g++;
        if (g == n && n < MAX_GROUPS)
            strcpy(regions[n++], r);
    }
    if (n < 2)
        return mc_fail("cv: the labelled parcels come from %d region(s); leave-one-region-out "
                       "needs at least 2 (region = leading letters of the parcel id)", n);
    eval_scores ms = {0}, bs = {0};
    cv_pool pool = {0};
    for (int g = 0; g < n; g++)
        if (cv_fold(s, l, o, regions[g], out, &ms, &bs, &pool) != MC_OK) {
            free(pool.o);
            return mc_fail_wrap("cv: fold %s", regions[g]);
        }
    eval_print(out, "mowcheck detector, leave-one-region-out (pooled):", &ms, 1);
    eval_print(out, "Sen4CAP-style rule, same plot-years:", &bs, 0);
    eval_print_approval_curve(out, pool.o, pool.n, pool.threshold, pool.n_folds,
                              "<- a fold's own threshold (nested, as shipped)");
    eval_reliability rel;
    eval_reliability_of(pool.o, pool.n, &rel);
    eval_print_reliability(out, &rel);
    if (reliability)
        *reliability = rel;
    free(pool.o);
    if (model_scores)
        *model_scores = ms;
    if (base_scores)
        *base_scores = bs;
    return MC_OK;
}
