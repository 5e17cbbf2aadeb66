#include "eval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"

/* ---- labels ---- */

typedef struct label_row {
    char *parcel_id;
    int year;
    int none;
    int32_t day;
    long line;
    int wrong_year; /* a date outside its year: the plot-year is left out */
} label_row;

static int label_cmp(const void *a, const void *b)
{
    const label_row *x = a, *y = b;
    int c = strcmp(x->parcel_id, y->parcel_id);
    if (c)
        return c;
    if (x->year != y->year)
        return x->year < y->year ? -1 : 1;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Splits on commas (labels have no quoted fields); strips the line end. */
static int split_plain(char *line, char **f, int max)
{
    line[strcspn(line, "\r\n")] = '\0';
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int parse_label(char *line, const char *name, long line_no, label_row *r)
{
    char *f[8];
    int n = split_plain(line, f, 8);
    if (n < 5)
        return mc_fail("labels %s: line %ld: want parcel_id,year,date,end_date,type", name,
                       line_no);
    char *end;
    long year = strtol(f[1], &end, 10);
    if (*f[0] == '\0' || end == f[1] || *end != '\0' || year < 1900 || year > 2999)
        return mc_fail("labels %s: line %ld: bad parcel_id or year '%.20s'", name, line_no, f[1]);
    r->year = (int)year;
    r->none = strcmp(f[4], "none") == 0;
    r->line = line_no;
    r->day = 0;
    r->wrong_year = 0;
    if (!r->none && strcmp(f[4], "mowing") != 0)
        return mc_fail("labels %s: line %ld: type '%.20s' (want mowing or none)", name, line_no,
                       f[4]);
    if (!r->none && date_parse(f[2], &r->day) != MC_OK)
        return mc_fail("labels %s: line %ld: bad mowing date '%.20s'", name, line_no, f[2]);
    if (!r->none && date_year(r->day) != year) {
        log_warn("labels %s: line %ld: mowing date %s is not in year %ld: plot-year %s %ld left "
                 "out (unlabelled)", name, line_no, f[2], year, f[0], year);
        r->wrong_year = 1;
    }
    if (r->none && *f[2] != '\0')
        return mc_fail("labels %s: line %ld: a 'none' row has no date", name, line_no);
    r->parcel_id = strdup(f[0]);
    return r->parcel_id ? MC_OK : mc_fail("labels %s: out of memory", name);
}

static int read_label_rows(FILE *in, const char *name, label_row **rows, size_t *n_rows)
{
    char *line = NULL;
    size_t cap = 0, capr = 0;
    long line_no = 0;
    int rc = MC_OK;
    *rows = NULL;
    *n_rows = 0;
    while (rc == MC_OK && getline(&line, &cap, in) >= 0) {
        if (++line_no == 1) {
            if (strncmp(line, "parcel_id,year,date", 19) != 0)
                rc = mc_fail("labels %s: line 1: header must start parcel_id,year,date", name);
            continue;
        }
        if (line[strspn(line, " \r\n")] == '\0')
            continue;
        if (*n_rows == capr) {
            capr = capr ? capr * 2 : 256;
            label_row *g = realloc(*rows, capr * sizeof *g);
            if (!g) {
                rc = mc_fail("labels %s: out of memory", name);
                break;
            }
            *rows = g;
        }
        rc = parse_label(line, name, line_no, &(*rows)[*n_rows]);
        if (rc == MC_OK)
            (*n_rows)++;
    }
    free(line);
    if (rc == MC_OK && line_no == 0)
        rc = mc_fail("labels %s: empty file", name);
    return rc;
}

/* Groups sorted rows into plot-years; a year with both `none` and mowing rows is an error. */
static int group_labels(label_row *rows, size_t n, const char *name, eval_labels *out)
{
    out->years = calloc(n ? n : 1, sizeof *out->years);
    if (!out->years)
        return mc_fail("labels %s: out of memory", name);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && rows[j].year == rows[i].year &&
               strcmp(rows[j].parcel_id, rows[i].parcel_id) == 0)
            j++;
        int wrong = 0;
        for (size_t k = i; k < j; k++)
            wrong |= rows[k].wrong_year;
        if (wrong) {
            i = j;
            continue;
        }
        eval_year *y = &out->years[out->n_years++];
        y->parcel_id = rows[i].parcel_id;
        rows[i].parcel_id = NULL;
        y->year = rows[i].year;
        y->parcel = SIZE_MAX;
        y->true_day = malloc((j - i) * sizeof *y->true_day);
        if (!y->true_day)
            return mc_fail("labels %s: out of memory", name);
        for (size_t k = i; k < j; k++) {
            if (rows[k].none)
                y->labelled_none = 1;
            else
                y->true_day[y->n_true++] = rows[k].day;
        }
        if (y->labelled_none && y->n_true > 0)
            return mc_fail("labels %s: line %ld: %s %d is labelled both 'none' and mowed", name,
                           rows[i].line, y->parcel_id, y->year);
        i = j;
    }
    return MC_OK;
}

int eval_labels_read_stream(FILE *in, const char *name, eval_labels *out)
{
    memset(out, 0, sizeof *out);
    label_row *rows;
    size_t n;
    int rc = read_label_rows(in, name, &rows, &n);
    if (rc == MC_OK) {
        if (n > 1)
            qsort(rows, n, sizeof *rows, label_cmp);
        rc = group_labels(rows, n, name, out);
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i].parcel_id);
    free(rows);
    if (rc != MC_OK)
        eval_labels_free(out);
    return rc;
}

int eval_labels_read(const char *path, eval_labels *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return mc_fail("labels %s: cannot open: %s", path, strerror(errno));
    int rc = eval_labels_read_stream(f, path, out);
    fclose(f);
    return rc;
}

void eval_labels_free(eval_labels *l)
{
    for (size_t i = 0; i < l->n_years; i++) {
        free(l->years[i].parcel_id);
        free(l->years[i].true_day);
    }
    free(l->years);
    memset(l, 0, sizeof *l);
}

static int parcel_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const series_parcel *)elem)->parcel_id);
}

size_t eval_labels_attach(eval_labels *l, const series_set *s)
{
    size_t missing = 0;
    for (size_t i = 0; i < l->n_years; i++) {
        const series_parcel *p =
            s->n_parcels ? bsearch(l->years[i].parcel_id, s->parcels, s->n_parcels,
                                   sizeof *s->parcels, parcel_cmp)
                         : NULL;
        l->years[i].parcel = p ? (size_t)(p - s->parcels) : SIZE_MAX;
        missing += !p;
    }
    return missing;
}

void eval_region(const char *parcel_id, char *region, size_t size)
{
    size_t n = 0;
    while (parcel_id[n] && isalpha((unsigned char)parcel_id[n]) && n + 1 < size) {
        region[n] = parcel_id[n];
        n++;
    }
    region[n] = '\0';
}

/* ---- scoring ---- */

static int in_doy_window(int32_t day)
{
    int doy = date_doy(day);
    return doy >= EVAL_DOY_FIRST && doy <= EVAL_DOY_LAST;
}

/* One-to-one matching, nearest pairs first (ties: earlier true event, then earlier
 * detection). Returns the number of matches; adds errors; flags matched detections. */
static int match_events(const int32_t *t, int nt, const detect_event *const *d, int nd,
                        unsigned char *det_matched, double *abs_sum, double *sum)
{
    unsigned char true_matched[64] = {0};
    int matches = 0;
    for (int j = 0; j < nd; j++)
        det_matched[j] = 0;
    for (;;) {
        int bi = -1, bj = -1, best = EVAL_MATCH_DAYS + 1;
        for (int i = 0; i < nt && i < 64; i++)
            for (int j = 0; j < nd; j++) {
                if (true_matched[i] || det_matched[j])
                    continue;
                int dist = abs(d[j]->day - t[i]);
                if (dist < best) {
                    best = dist;
                    bi = i;
                    bj = j;
                }
            }
        if (bi < 0)
            return matches;
        true_matched[bi] = det_matched[bj] = 1;
        matches++;
        *abs_sum += abs(d[bj]->day - t[bi]);
        *sum += d[bj]->day - t[bi];
    }
}

static int excluded_year(const eval_year *y)
{
    for (int i = 1; i < y->n_true; i++)
        if (y->true_day[i] - y->true_day[i - 1] < EVAL_MIN_EVENT_SPACING_DAYS)
            return 1;
    return 0;
}

static void score_year(const eval_labels *l, size_t yi, const detect_result *r,
                       const detect_result_index *ix, eval_outcome *o)
{
    const eval_year *y = &l->years[yi];
    memset(o, 0, sizeof *o);
    o->year = yi;
    o->excluded = excluded_year(y);
    int32_t t[64];
    for (int i = 0; i < y->n_true && o->n_true < 64; i++)
        if (in_doy_window(y->true_day[i]))
            t[o->n_true++] = y->true_day[i];
    o->truly_mowed = o->n_true > 0;
    const detect_event *d[64];
    const detect_event *top = NULL;
    for (size_t e = ix->ev_first[y->parcel]; e < ix->ev_first[y->parcel + 1]; e++) {
        const detect_event *ev = &r->events[e];
        if (ev->season != y->year || !in_doy_window(ev->day) || o->n_det == 64)
            continue;
        d[o->n_det++] = ev;
        if (!top || ev->confidence > top->confidence)
            top = ev;
    }
    unsigned char det_matched[64];
    o->n_match = match_events(t, o->n_true, d, o->n_det, det_matched, &o->abs_err_days,
                              &o->err_days);
    for (int j = 0; j < o->n_det; j++)
        if (d[j] == top)
            o->top_matched = det_matched[j];
    o->top_confidence = top ? top->confidence : 0.0f;
    for (size_t k = ix->sum_first[y->parcel]; k < ix->sum_first[y->parcel + 1]; k++) {
        const detect_summary *s = &r->summaries[k];
        if (s->season != y->year)
            continue;
        o->has_summary = 1;
        o->call = s->call;
        o->mowed_probability = s->mowed_probability;
        o->season_probability = s->season_probability;
        memcpy(o->season_x, s->season_x, sizeof o->season_x);
        o->well_covered = s->well_covered;
    }
}

int eval_outcomes(const eval_labels *l, const series_set *s, const detect_result *r,
                  const unsigned char *keep, eval_outcome **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    detect_result_index ix;
    if (detect_result_index_make(r, s->n_parcels, &ix) != MC_OK)
        return MC_ERR;
    eval_outcome *o = malloc((l->n_years ? l->n_years : 1) * sizeof *o);
    if (!o) {
        detect_result_index_free(&ix);
        return mc_fail("eval: out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < l->n_years; i++) {
        size_t p = l->years[i].parcel;
        if (p == SIZE_MAX || (keep && !keep[p]))
            continue;
        score_year(l, i, r, &ix, &o[n++]);
    }
    detect_result_index_free(&ix);
    *out = o;
    *n_out = n;
    return MC_OK;
}

void eval_accumulate(eval_scores *acc, const eval_outcome *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o[i].excluded) {
            acc->n_excluded++;
            continue;
        }
        acc->tp += o[i].n_match;
        acc->abs_err_sum += o[i].abs_err_days;
        acc->err_sum += o[i].err_days;
        acc->fn += o[i].n_true - o[i].n_match;
        acc->fp += o[i].n_det - o[i].n_match;
        acc->n_years++;
        acc->n_years_correct += o[i].truly_mowed == (o[i].n_det > 0);
        if (!o[i].has_summary)
            continue;
        acc->n_summaries++;
        if (o[i].call == DETECT_CALL_MOWED) {
            acc->auto_mowed++;
            acc->auto_mowed_truly += o[i].truly_mowed;
            acc->auto_mowed_matched += o[i].top_matched;
        } else if (o[i].call == DETECT_CALL_NOT_MOWED) {
            acc->not_mowed++;
            acc->not_mowed_truly += !o[i].truly_mowed;
        }
    }
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

double eval_precision(const eval_scores *s) { return ratio(s->tp, s->tp + s->fp); }
double eval_recall(const eval_scores *s) { return ratio(s->tp, s->tp + s->fn); }
double eval_f1(const eval_scores *s) { return ratio(2.0 * s->tp, 2.0 * s->tp + s->fp + s->fn); }
double eval_mae_days(const eval_scores *s) { return ratio(s->abs_err_sum, s->tp); }
double eval_bias_days(const eval_scores *s) { return ratio(s->err_sum, s->tp); }
double eval_accuracy(const eval_scores *s) { return ratio(s->n_years_correct, s->n_years); }

void eval_print(FILE *out, const char *title, const eval_scores *s, int with_reject)
{
    fprintf(out, "%s\n", title);
    fprintf(out, "  events: TP %ld  FP %ld  FN %ld  precision %.3f  recall %.3f  F1 %.3f\n",
            s->tp, s->fp, s->fn, eval_precision(s), eval_recall(s), eval_f1(s));
    fprintf(out, "  date error of found events: MAE %.2f days  bias %+.2f days\n",
            eval_mae_days(s), eval_bias_days(s));
    fprintf(out, "  mowed-or-not: %ld/%ld plot-years right, accuracy %.3f (%ld left out: "
                 "true events < 15 days apart)\n",
            s->n_years_correct, s->n_years, eval_accuracy(s), s->n_excluded);
    if (!with_reject)
        return;
    fprintf(out, "  automatic 'mowed': %ld of %ld plot-years (%.1f%%), truly mowed %.3f, "
                 "confident event matches a true one %.3f\n",
            s->auto_mowed, s->n_summaries, 100.0 * ratio(s->auto_mowed, s->n_summaries),
            ratio(s->auto_mowed_truly, s->auto_mowed), ratio(s->auto_mowed_matched, s->auto_mowed));
    fprintf(out, "  series supports 'not mowed' (goes to an inspector): %ld plot-years, truly "
                 "not mowed %.3f\n",
            s->not_mowed, ratio(s->not_mowed_truly, s->not_mowed));
    fprintf(out, "  decided (mowed or not mowed): %ld of %ld (%.1f%%); the rest inconclusive\n",
            s->auto_mowed + s->not_mowed, s->n_summaries,
            100.0 * ratio(s->auto_mowed + s->not_mowed, s->n_summaries));
}

/* ---- the approval curve ---- */

typedef struct approval_row {
    long mowed, not_mowed;       /* scored plot-years */
    long approved_right, approved_wrong;
} approval_row;

static approval_row approvals_at(const eval_outcome *o, size_t n, double t)
{
    approval_row r = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        if (o[i].excluded)
            continue;
        int approved = o[i].n_det > 0 && o[i].top_confidence >= t;
        if (o[i].truly_mowed) {
            r.mowed++;
            r.approved_right += approved;
        } else {
            r.not_mowed++;
            r.approved_wrong += approved;
        }
    }
    return r;
}

static void print_approval_row(FILE *out, double t, const approval_row *r, const char *mark)
{
    long approved = r->approved_right + r->approved_wrong;
    char precision[16] = "    -";
    if (approved)
        snprintf(precision, sizeof precision, "%.3f", ratio(r->approved_right, approved));
    fprintf(out, "  %9.4f  %5.1f%% (%3ld/%3ld)  %9s  %3ld/%3ld  %s\n", t,
            100.0 * ratio(r->approved_right, r->mowed), r->approved_right, r->mowed, precision,
            r->approved_wrong, r->not_mowed, mark);
}

void eval_print_approval_curve(FILE *out, const eval_outcome *o, size_t n, const double *marks,
                               int n_marks, const char *mark_label)
{
    static const double grid[] = {0.50, 0.60, 0.70, 0.80, 0.85, 0.90, 0.92, 0.94,
                                  0.95, 0.96, 0.97, 0.98, 0.99, 0.995};
    enum { N_GRID = sizeof grid / sizeof grid[0] };
    fprintf(out, "approval curve (a whole-season claim is approved when its most confident "
                 "event reaches the threshold):\n");
    fprintf(out, "  threshold  mowed approved     precision  false approvals (of not mowed)\n");
    int next_mark = 0;
    double sorted_marks[64];
    int nm = n_marks < 64 ? n_marks : 64;
    for (int i = 0; i < nm; i++)
        sorted_marks[i] = marks[i];
    for (int i = 1; i < nm; i++) /* a handful: insertion sort */
        for (int j = i; j > 0 && sorted_marks[j] < sorted_marks[j - 1]; j--) {
            double t = sorted_marks[j];
            sorted_marks[j] = sorted_marks[j - 1];
            sorted_marks[j - 1] = t;
        }
    for (int g = 0; g <= N_GRID; g++) {
        double t = g < N_GRID ? grid[g] : 2.0;
        for (; next_mark < nm && sorted_marks[next_mark] <= t; next_mark++) {
            approval_row r = approvals_at(o, n, sorted_marks[next_mark]);
            print_approval_row(out, sorted_marks[next_mark], &r, mark_label);
        }
        if (g < N_GRID) {
            approval_row r = approvals_at(o, n, t);
            print_approval_row(out, t, &r, "");
        }
    }
}

/* ---- reliability ---- */

void eval_reliability_of(const eval_outcome *o, size_t n, eval_reliability *r)
{
    static const double edges[EVAL_RELIABILITY_BINS + 1] = {0.0, 0.5, 0.8, 0.9, 0.95, 1.0};
    memset(r, 0, sizeof *r);
    for (int b = 0; b < EVAL_RELIABILITY_BINS; b++) {
        r->lower[b] = edges[b];
        r->upper[b] = edges[b + 1];
    }
    for (size_t i = 0; i < n; i++) {
        if (o[i].excluded || o[i].n_det == 0)
            continue;
        int b = 0;
        while (b + 1 < EVAL_RELIABILITY_BINS && o[i].top_confidence >= edges[b + 1])
            b++;
        r->n[b]++;
        r->mean_confidence[b] += o[i].top_confidence;
        r->matched_share[b] += o[i].top_matched;
    }
    for (int b = 0; b < EVAL_RELIABILITY_BINS; b++) {
        r->mean_confidence[b] = ratio(r->mean_confidence[b], (double)r->n[b]);
        r->matched_share[b] = ratio(r->matched_share[b], (double)r->n[b]);
    }
}

void eval_print_reliability(FILE *out, const eval_reliability *r)
{
    fprintf(out, "reliability of the event confidences (each plot-year's most confident event):\n"
                 "  confidence    events  mean confidence  matches a true cut\n");
    for (int b = 0; b < EVAL_RELIABILITY_BINS; b++)
        fprintf(out, "  %.2f-%.2f  %8ld  %15.3f  %18.3f\n", r->lower[b], r->upper[b], r->n[b],
                r->mean_confidence[b], r->matched_share[b]);
}

/* ---- Sen4CAP-style baseline ---- */

enum { BASE_MAX = 1024 };

static int baseline_parcel(const series_set *s, size_t pi, detect_result *out, size_t *cap)
{
    const series_parcel *p = &s->parcels[pi];
    int32_t day[BASE_MAX];
    float v[BASE_MAX];
    size_t c = 0;
    for (size_t i = 0; i < p->count && c < BASE_MAX; i++)
        if (!isnan(s->obs[p->first + i].ndvi)) {
            day[c] = s->obs[p->first + i].day;
            v[c++] = s->obs[p->first + i].ndvi;
        }
    detect_event cand[BASE_MAX];
    float drop[BASE_MAX];
    int n = 0;
    for (size_t b = 1; b < c; b++) {
        float d = v[b - 1] - v[b];
        if (d < 0.12f || v[b - 1] <= 0.5f || v[b] >= 0.75f)
            continue;
        if (b + 1 < c && (v[b + 1] - v[b]) / (float)(day[b + 1] - day[b]) > 0.05f)
            continue; /* rebounds too fast: a cloud */
        int32_t mid = day[b - 1] + (day[b] - day[b - 1]) / 2;
        cand[n] = (detect_event){pi, p->parcel_id, date_year(mid), day[b - 1], day[b], mid, 1.0f};
        drop[n++] = d;
    }
    /* Largest drops first, at least 30 days apart; keep them in date order. */
    unsigned char keep[BASE_MAX] = {0};
    for (;;) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int blocked = keep[i];
            for (int j = 0; j < n && !blocked; j++)
                blocked = keep[j] && abs(cand[j].day - cand[i].day) < 30;
            if (!blocked && (best < 0 || drop[i] > drop[best]))
                best = i;
        }
        if (best < 0)
            break;
        keep[best] = 1;
    }
    for (int i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        if (out->n_events == *cap) {
            *cap = *cap ? *cap * 2 : 256;
            detect_event *g = realloc(out->events, *cap * sizeof *g);
            if (!g)
                return mc_fail("baseline: out of memory");
            out->events = g;
        }
        out->events[out->n_events++] = cand[i];
    }
    return MC_OK;
}

int eval_baseline(const series_set *s, const unsigned char *keep, detect_result *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    for (size_t i = 0; i < s->n_parcels; i++)
        if ((!keep || keep[i]) && baseline_parcel(s, i, out, &cap) != MC_OK) {
            detect_result_free(out);
            return MC_ERR;
        }
    return MC_OK;
}
