/* The model file: round trip, refused files (wrong version, corrupted line,
 * changed value, truncated), and training determinism. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "model.h"
#include "test.h"
#include "train.h"

static char src_path[4096];

static const char *src(const char *rel)
{
    const char *dir = getenv("MOWCHECK_SOURCE_DIR");
    snprintf(src_path, sizeof src_path, "%s/%s", dir ? dir : MOWCHECK_SOURCE_DIR, rel);
    return src_path;
}

/* The text with the first line starting `key ` replaced by `line`; its 1-based number
 * in *line_no. */
static char *replace_line(const char *text, const char *key, const char *line, int *line_no)
{
    size_t klen = strlen(key), line_len = strlen(line), used = 0;
    char *out = malloc(strlen(text) + line_len + 2);
    int n = 0;
    *line_no = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        n++;
        if (*line_no == 0 && strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            memcpy(out + used, line, line_len);
            used += line_len;
            out[used++] = '\n';
            *line_no = n;
        } else {
            memcpy(out + used, p, len);
            used += len;
        }
        p += len;
    }
    out[used] = '\0';
    return out;
}

static void expect_refused(const char *text, const char *want1, const char *want2)
{
    detect_model m;
    CHECK(model_from_text(text, "m.model", &m) == MC_ERR);
    const char *msg = mc_error_message();
    CHECK_MSG(strstr(msg, "model m.model") != NULL, "%s", msg);
    CHECK_MSG(strstr(msg, want1) != NULL, "'%s' not in: %s", want1, msg);
    if (want2)
        CHECK_MSG(strstr(msg, want2) != NULL, "'%s' not in: %s", want2, msg);
}

/* The text with the first `key` line replaced by `line` is refused naming that line
 * and saying want. */
static void refuse_line(const char *text, const char *key, const char *line, const char *want)
{
    int n = 0;
    char at[32];
    char *bad = replace_line(text, key, line, &n);
    snprintf(at, sizeof at, "line %d:", n);
    CHECK(n > 1);
    expect_refused(bad, at, want);
    free(bad);
}

/* Refusals every model file gets: version, key, features, checksum, emptiness. */
static void refuse_common(const char *text)
{
    int n = 0;
    char *bad = replace_line(text, "mowcheck-model", "mowcheck-model 2", &n);
    expect_refused(bad, "line 1", "version 2 is not supported");
    free(bad);
    bad = replace_line(text, "kind", "kindd trees", &n);
    expect_refused(bad, "unknown key 'kindd'", NULL);
    free(bad);
    bad = replace_line(text, "features", "features drop before", &n);
    expect_refused(bad, "feature list differs", NULL);
    free(bad);
    bad = replace_line(text, "sha256", "", &n);
    expect_refused(bad, "no sha256 line", NULL);
    free(bad);
    expect_refused("", "empty", NULL);
}

/* A tree model: a corrupted tree line is named, a missing tree or a changed leaf
 * is caught. */
static void refuse_trees(const char *text)
{
    int n = 0;
    refuse_line(text, "tree", "tree 1 0.5 2 0.25", "a tree needs 7 (feature, threshold) pairs");
    refuse_line(text, "tree", "tree 99 0.5 -1 0 -1 0 -1 0 -1 0 -1 0 -1 0 0 0 0 0 0 0 0 0",
                "corrupted line");
    const char *first = strstr(text, "\ntree ") + 1; /* drop the first tree line */
    const char *after = strchr(first, '\n') + 1;
    char *bad = malloc(strlen(text) + 1);
    memcpy(bad, text, (size_t)(first - text));
    strcpy(bad + (first - text), after);
    expect_refused(bad, "checksum mismatch", NULL); /* a lost line: the sum catches it */
    free(bad);
    bad = replace_line(text, "tree", "tree -1 0 -1 0 -1 0 -1 0 -1 0 -1 0 -1 0 1 1 1 1 1 1 1 1", &n);
    expect_refused(bad, "checksum mismatch", NULL); /* valid syntax, changed values */
    free(bad);
}

/* A logistic model: its corrupted lines are named the same way. */
static void refuse_logistic(const char *text)
{
    int n = 0;
    refuse_line(text, "bias", "bias 0.5abc", "corrupted line");
    refuse_line(text, "weights", "weights 1 2 3", "'weights' needs 11 valid numbers");
    char *bad = replace_line(text, "bias", "bias 0.5", &n); /* valid syntax, changed value */
    expect_refused(bad, "checksum mismatch", NULL);
    free(bad);
}

static void test_file(void)
{
    detect_model m, m2;
    REQUIRE(model_load(src("schemas/models/mowing-default.model"), &m) == MC_OK);
    char *text, *text2;
    REQUIRE(model_to_text(&m, &text) == MC_OK);
    REQUIRE(model_from_text(text, "round trip", &m2) == MC_OK);
    REQUIRE(model_to_text(&m2, &text2) == MC_OK);
    CHECK_STR(text, text2);
    free(text2);
    CHECK_NEAR(m2.fold_b, m.fold_b, 0);

    refuse_common(text);
    refuse_trees(text);
    detect_model lr = m; /* the same file as a logistic model */
    lr.kind = MODEL_KIND_LOGISTIC;
    for (int i = 0; i < DETECT_N_FEATURES; i++)
        lr.mean[i] = 0, lr.scale[i] = 1, lr.weight[i] = 0.1 * (i + 1);
    lr.bias = -1;
    model_prepare(&lr);
    char *lr_text;
    REQUIRE(model_to_text(&lr, &lr_text) == MC_OK);
    REQUIRE(model_from_text(lr_text, "logistic", &m2) == MC_OK);
    CHECK_NEAR(model_raw_score(&m2, (float[DETECT_N_FEATURES]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}),
               -1 + 0.1 * 66, 1e-9);
    refuse_common(lr_text);
    refuse_logistic(lr_text);
    free(lr_text);

    const char *tmp = "test_detect_model.tmp.model";
    REQUIRE(model_save(tmp, &m) == MC_OK);
    CHECK(model_load(tmp, &m2) == MC_OK);
    remove(tmp);
    CHECK(model_load("/nonexistent/x.model", &m2) == MC_ERR);
    CHECK(strstr(mc_error_message(), "/nonexistent/x.model") != NULL);
    free(text);
}

static char *train_text(const series_set *s, const eval_labels *l, const unsigned char *keep,
                        uint64_t seed)
{
    train_options o;
    train_options_init(&o);
    o.seed = seed;
    detect_model m;
    char *text = NULL;
    if (train_model(s, l, keep, &o, &m) != MC_OK || model_to_text(&m, &text) != MC_OK) {
        fprintf(stderr, "%s\n", mc_error_message());
        return NULL;
    }
    return text;
}

static void test_determinism(void)
{
    series_set s;
    eval_labels l;
    REQUIRE(series_read_path(src("data-samples/mowing-train/series.csv"), &s) == MC_OK);
    REQUIRE(eval_labels_read(src("data-samples/mowing-train/labels.csv"), &l) == MC_OK);
    eval_labels_attach(&l, &s);
    char *a = train_text(&s, &l, NULL, 1), *b = train_text(&s, &l, NULL, 1);
    REQUIRE(a && b);
    CHECK_STR(a, b);
    /* The shipped default is what training on the shipped data gives. */
    detect_model shipped;
    char *shipped_text = NULL;
    REQUIRE(model_load(src("schemas/models/mowing-default.model"), &shipped) == MC_OK);
    REQUIRE(model_to_text(&shipped, &shipped_text) == MC_OK);
    CHECK_STR(a, shipped_text);
    free(shipped_text);
    free(a);
    free(b);
    /* One region only: the seed draws the inner folds; same seed, same file. */
    unsigned char *keep = calloc(s.n_parcels, 1);
    for (size_t i = 0; i < s.n_parcels; i++)
        keep[i] = strncmp(s.parcels[i].parcel_id, "NS", 2) == 0;
    a = train_text(&s, &l, keep, 7);
    b = train_text(&s, &l, keep, 7);
    REQUIRE(a && b);
    CHECK_STR(a, b);
    CHECK(strstr(a, "\nseed 7\n") != NULL);
    free(a);
    free(b);
    free(keep);
    eval_labels_free(&l);
    series_free(&s);
}

/* The approval threshold, worked out by hand. Group 0: 49 truly mowed plot-years
 * whose top event has confidence 0.99 and one not-mowed plot-year with an event at
 * 0.90; group 1: a not-mowed one at 0.80. Step 1: at t = 0.99, (49 + 1/2) / (49 + 1) =
 * 0.99 passes; at 0.90, 49.5 / 51 does not, so t0 = 0.99. Step 2: delta = logit(0.90) -
 * logit(0.80) = ln 9 - ln 4; t = sigma(ln 99 + ln 9 - ln 4) = 222.75 / 223.75. */
static void test_approval_threshold(void)
{
    enum { N = 51 };
    train_call c[N];
    for (int i = 0; i < N; i++)
        c[i] = (train_call){i < 49 ? 0.99f : i == 49 ? 0.90f : 0.80f, i < 49, i < 50 ? 0 : 1};
    /* float 0.99 etc. are not exact: the closed form uses the stored values */
    double l99 = log(0.99f / (1 - 0.99f)), l90 = log(0.90f / (1 - 0.90f)),
           l80 = log(0.80f / (1 - 0.80f));
    double want = 1 / (1 + exp(-(l99 + l90 - l80)));
    CHECK_NEAR(train_approval_threshold(c, N), want, 1e-9);
    CHECK_NEAR(want, 222.75 / 223.75, 1e-5);
    /* Without the not-mowed plot-year of group 1 there is no region margin. */
    CHECK_NEAR(train_approval_threshold(c, N - 1), 0.99f, 1e-9);
    /* 48 right approvals are too few: (48.5) / 49 < 0.99, never automatic. */
    CHECK_NEAR(train_approval_threshold(c + 1, N - 2), 1.0, 0);
}

/* Scoring candidates in batches gives model_raw_score's sums bit for bit, for every
 * batch size (the eight-wide groups and their remainders), with values exactly on a
 * split threshold and NaN among the features: on the processor's own path (AVX2 where
 * it has it) and on the portable one. */
static void test_batch_scores(void)
{
    detect_model *m = malloc(sizeof *m);
    REQUIRE(m && model_load(src("schemas/models/mowing-default.model"), m) == MC_OK);
    REQUIRE(m->kind == MODEL_KIND_TREES);
    enum { N = 23 };
    float x[N][DETECT_N_FEATURES];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++)
        for (int f = 0; f < DETECT_N_FEATURES; f++) {
            seed = seed * 1103515245u + 12345u;
            const model_tree *t = &m->tree[(seed >> 8) % (unsigned)m->n_trees];
            float on_split = t->threshold[(seed >> 4) % MODEL_TREE_NODES];
            x[i][f] = (seed >> 16) % 3 == 0 ? on_split
                      : (seed >> 16) % 7 == 1 ? NAN
                                               : (float)((seed >> 12) % 1000) / 100.0f - 2.0f;
        }
    for (size_t n = 1; n <= N; n++) {
        double z[N], zp[N];
        model_raw_scores(m, x[0], sizeof x[0], n, z);
        model_raw_scores_portable(m, x[0], sizeof x[0], n, zp);
        for (size_t i = 0; i < n; i++) {
            CHECK_MSG(z[i] == model_raw_score(m, x[i]), "batch of %zu, candidate %zu: %.17g vs %.17g",
                      n, i, z[i], model_raw_score(m, x[i]));
            CHECK_MSG(zp[i] == model_raw_score(m, x[i]),
                      "portable batch of %zu, candidate %zu: %.17g vs %.17g", n, i, zp[i],
                      model_raw_score(m, x[i]));
        }
    }
    free(m);
}

int main(void)
{
    test_batch_scores();
    test_approval_threshold();
    test_file();
    test_determinism();
    return test_summary();
}
