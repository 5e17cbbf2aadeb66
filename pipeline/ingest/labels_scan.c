/* Exact scanline rasterisation with an inner buffer; see labels_scan.h for the rule. */
#include "labels_scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pix_range {
    int32_t a, b; /* pixels [a, b) */
} pix_range;

struct labels_scan_scratch {
    /* per row in range: counts then starts (prefix sums); fill cursors */
    int *cross_off, *rem_off, *cross_cur, *rem_cur;
    size_t rows_cap;
    double *cross;
    size_t cross_cap;
    pix_range *rem;
    size_t rem_cap;
    labels_run *runs;
    size_t runs_n, runs_cap;
};

labels_scan_scratch *labels_scan_scratch_new(void)
{
    return calloc(1, sizeof(labels_scan_scratch));
}

void labels_scan_scratch_free(labels_scan_scratch *s)
{
    if (!s)
        return;
    free(s->cross_off);
    free(s->rem_off);
    free(s->cross_cur);
    free(s->rem_cur);
    free(s->cross);
    free(s->rem);
    free(s->runs);
    free(s);
}

/* A buffer of at least n items of size sz: p itself, or p grown (NULL when out
 * of memory; p is then still valid and owned by the caller). */
static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    void *q = realloc(p, c * sz);
    if (q)
        *cap = c;
    return q;
}

/* The hot helpers are inline; the estimate uses a multiplication by 1/dx and the
 * loops settle the exact answer against labels_grid_col_x, so rounding in the
 * estimate never changes a result. */
static inline double dmin(double a, double b) { return b < a ? b : a; }
static inline double dmax(double a, double b) { return b > a ? b : a; }

static inline int col_estimate(const labels_grid *g, double inv_dx, double x, double bias)
{
    double t = (x - g->x0) * inv_dx - 0.5 + bias;
    if (!(t > 0.0))
        return 0;
    if (t >= (double)g->width)
        return g->width;
    return (int)t;
}

static inline int first_col_ge(const labels_grid *g, double inv_dx, double x)
{
    int i = col_estimate(g, inv_dx, x, 1.0); /* floor(t) + 1 >= ceil(t) */
    while (i > 0 && labels_grid_col_x(g, i - 1) >= x)
        i--;
    while (i < g->width && labels_grid_col_x(g, i) < x)
        i++;
    return i;
}

static inline int first_col_gt(const labels_grid *g, double inv_dx, double x)
{
    int i = col_estimate(g, inv_dx, x, 1.0);
    while (i > 0 && labels_grid_col_x(g, i - 1) > x)
        i--;
    while (i < g->width && labels_grid_col_x(g, i) <= x)
        i++;
    return i;
}

int labels_grid_first_col_ge(const labels_grid *g, double x)
{
    return first_col_ge(g, 1.0 / g->dx, x);
}

int labels_grid_first_col_gt(const labels_grid *g, double x)
{
    return first_col_gt(g, 1.0 / g->dx, x);
}

static inline int clamp_row(double t, int height)
{
    if (!(t > 0.0))
        return 0;
    if (t >= (double)height)
        return height;
    return (int)t;
}

static inline void rows_near(const labels_grid *g, double inv_dy, double y_lo, double y_hi,
                             int *j_lo, int *j_hi)
{
    /* Y_j decreases with j: y_hi gives the first row, y_lo the last. The bounds are
     * widened by one row each side to absorb rounding (callers test Y_j exactly). */
    double t_first = (y_hi - g->y0) * inv_dy - 0.5;
    double t_last = (y_lo - g->y0) * inv_dy - 0.5;
    *j_lo = clamp_row(t_first - 1.0, g->height);
    *j_hi = clamp_row(t_last + 2.0, g->height);
    if (*j_hi < *j_lo)
        *j_hi = *j_lo;
}

void labels_grid_rows_near(const labels_grid *g, double y_lo, double y_hi, int *j_lo, int *j_hi)
{
    rows_near(g, 1.0 / g->dy, y_lo, y_hi, j_lo, j_hi);
}

/* An edge's constants for capsule(): computed once per edge, used on every row. */
typedef struct capsule_edge {
    double ax, ay, bx, by, r;
    double dx, dy, len2, rlen;     /* B - A, |B - A|^2, r |B - A| */
    double dy_dx, len2_dx;         /* dy / dx, len2 / dx (dx != 0) */
    double dx_dy, rlen_dy;         /* dx / dy, rlen / dy (dy != 0) */
} capsule_edge;

static inline void capsule_prepare(capsule_edge *e, double ax, double ay, double bx, double by,
                                   double r)
{
    e->ax = ax, e->ay = ay, e->bx = bx, e->by = by, e->r = r;
    e->dx = bx - ax, e->dy = by - ay;
    e->len2 = e->dx * e->dx + e->dy * e->dy;
    e->rlen = r * sqrt(e->len2);
    e->dy_dx = e->dx != 0.0 ? e->dy / e->dx : 0.0;
    e->len2_dx = e->dx != 0.0 ? e->len2 / e->dx : 0.0;
    e->dx_dy = e->dy != 0.0 ? e->dx / e->dy : 0.0;
    e->rlen_dy = e->dy != 0.0 ? e->rlen / e->dy : 0.0;
}

/* The open interval of x where (x, y) is closer than r to the edge: the two end
 * disks and the slab along the segment, with s = x - ax:
 * 0 <= s dx + ea dy <= len2 and |s dy - ea dx| < r len. */
static inline int capsule(const capsule_edge *e, double y, double *lo, double *hi)
{
    double l = INFINITY, h = -INFINITY, r = e->r;
    double ea = y - e->ay, eb = y - e->by;
    if (fabs(ea) < r) {
        double w = sqrt(r * r - ea * ea);
        l = dmin(l, e->ax - w);
        h = dmax(h, e->ax + w);
    }
    if (fabs(eb) < r) {
        double w = sqrt(r * r - eb * eb);
        l = dmin(l, e->bx - w);
        h = dmax(h, e->bx + w);
    }
    if (e->len2 > 0.0) {
        double s_lo = -INFINITY, s_hi = INFINITY;
        int empty = 0;
        if (e->dx != 0.0) {
            double p0 = -ea * e->dy_dx, p1 = e->len2_dx - ea * e->dy_dx;
            s_lo = dmin(p0, p1);
            s_hi = dmax(p0, p1);
        } else if (!(ea * e->dy >= 0.0 && ea * e->dy <= e->len2)) {
            empty = 1;
        }
        if (e->dy != 0.0) {
            double q0 = ea * e->dx_dy - e->rlen_dy, q1 = ea * e->dx_dy + e->rlen_dy;
            s_lo = dmax(s_lo, dmin(q0, q1));
            s_hi = dmin(s_hi, dmax(q0, q1));
        } else if (!(fabs(ea * e->dx) < e->rlen)) {
            empty = 1;
        }
        if (!empty && s_lo < s_hi) {
            l = dmin(l, e->ax + s_lo);
            h = dmax(h, e->ax + s_hi);
        }
    }
    if (!(l < h))
        return 0;
    *lo = l;
    *hi = h;
    return 1;
}

int labels_capsule_row_interval(double ax, double ay, double bx, double by, double r, double y,
                                double *lo, double *hi)
{
    capsule_edge e;
    capsule_prepare(&e, ax, ay, bx, by, r);
    return capsule(&e, y, lo, hi);
}

static void sort_doubles(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double t = v[i];
        int k = i;
        for (; k > 0 && v[k - 1] > t; k--)
            v[k] = v[k - 1];
        v[k] = t;
    }
}

static void sort_ranges(pix_range *v, int n)
{
    for (int i = 1; i < n; i++) {
        pix_range t = v[i];
        int k = i;
        for (; k > 0 && v[k - 1].a > t.a; k--)
            v[k] = v[k - 1];
        v[k] = t;
    }
}

static int emit(labels_scan_scratch *s, int row, int a, int b)
{
    if (a >= b)
        return 0;
    labels_run *last = s->runs_n ? &s->runs[s->runs_n - 1] : NULL;
    if (last && last->row == row && last->x1 == a) { /* no centre between two spans */
        last->x1 = b;
        return 0;
    }
    labels_run *r = grow(s->runs, &s->runs_cap, s->runs_n + 1, sizeof *r);
    if (!r)
        return -1;
    s->runs = r;
    s->runs[s->runs_n++] = (labels_run){row, a, b};
    return 0;
}

/* Visits every edge, lower end first (so both parcels sharing an edge compute the
 * same crossings). pass 0 counts per row, pass 1 fills. */
static void edges_pass(const labels_grid *g, const labels_polygon *poly, double r, int jlo,
                       int jhi, labels_scan_scratch *s, int fill)
{
    const double inv_dx = 1.0 / g->dx, inv_dy = 1.0 / g->dy;
    size_t start = 0;
    for (size_t ring = 0; ring < poly->n_rings; ring++) {
        size_t end = poly->ring_end[ring];
        for (size_t k = start; k < end; k++) {
            size_t k1 = k + 1 < end ? k + 1 : start;
            double ax = poly->x[k], ay = poly->y[k], bx = poly->x[k1], by = poly->y[k1];
            if (ay > by) {
                double t = ax; ax = bx; bx = t;
                t = ay; ay = by; by = t;
            }
            int a, b;
            if (ay < by) {
                rows_near(g, inv_dy, ay, by, &a, &b);
                if (a < jlo) a = jlo;
                if (b > jhi) b = jhi;
                for (int j = a; j < b; j++) {
                    double y = labels_grid_row_y(g, j);
                    if (!fill)
                        s->cross_off[j - jlo + 1]++;
                    else if (ay <= y && y < by)
                        s->cross[s->cross_cur[j - jlo]++] = ax + (y - ay) * (bx - ax) / (by - ay);
                }
            }
            if (r > 0.0) {
                capsule_edge e;
                if (fill)
                    capsule_prepare(&e, ax, ay, bx, by, r);
                rows_near(g, inv_dy, ay - r, by + r, &a, &b);
                if (a < jlo) a = jlo;
                if (b > jhi) b = jhi;
                for (int j = a; j < b; j++) {
                    double lo, hi;
                    if (!fill) {
                        s->rem_off[j - jlo + 1]++;
                    } else if (capsule(&e, labels_grid_row_y(g, j), &lo, &hi)) {
                        pix_range pr = {first_col_gt(g, inv_dx, lo), first_col_ge(g, inv_dx, hi)};
                        if (pr.a < pr.b)
                            s->rem[s->rem_cur[j - jlo]++] = pr;
                    }
                }
            }
        }
        start = end;
    }
}

/* One row: spans from the sorted crossings minus the merged removal ranges. */
static int scan_row(const labels_grid *g, labels_scan_scratch *s, int row, double *cross,
                    int n_cross, pix_range *rem, int n_rem)
{
    sort_doubles(cross, n_cross);
    sort_ranges(rem, n_rem);
    const double inv_dx = 1.0 / g->dx;
    int ri = 0, rem_a = 0, rem_b = 0; /* the current merged removal range */
    for (int c = 0; c + 1 < n_cross; c += 2) {
        int a = first_col_ge(g, inv_dx, cross[c]);
        int b = first_col_ge(g, inv_dx, cross[c + 1]);
        while (a < b) {
            /* advance to the merged removal range that ends after a */
            while (rem_b <= a && ri < n_rem) {
                rem_a = rem[ri].a;
                rem_b = rem[ri].b;
                ri++;
                while (ri < n_rem && rem[ri].a <= rem_b) {
                    if (rem[ri].b > rem_b)
                        rem_b = rem[ri].b;
                    ri++;
                }
            }
            if (rem_b <= a || rem_a >= b) { /* no removal inside [a, b) */
                if (emit(s, row, a, b))
                    return -1;
                break;
            }
            if (rem_a > a && emit(s, row, a, rem_a))
                return -1;
            a = rem_b;
        }
    }
    return 0;
}

int labels_scan_polygon(const labels_grid *g, const labels_polygon *poly, double buffer_m,
                        int row_lo, int row_hi, labels_scan_scratch *s,
                        const labels_run **runs, size_t *n_runs)
{
    s->runs_n = 0;
    *runs = s->runs;
    *n_runs = 0;
    size_t n_pts = poly->n_rings ? poly->ring_end[poly->n_rings - 1] : 0;
    if (n_pts == 0)
        return 0;
    double ymin = poly->y[0], ymax = poly->y[0];
    for (size_t k = 1; k < n_pts; k++) {
        ymin = dmin(ymin, poly->y[k]);
        ymax = dmax(ymax, poly->y[k]);
    }
    int jlo, jhi;
    rows_near(g, 1.0 / g->dy, ymin, ymax, &jlo, &jhi);
    if (jlo < row_lo)
        jlo = row_lo;
    if (jhi > row_hi)
        jhi = row_hi;
    if (jlo >= jhi)
        return 0;
    size_t nr = (size_t)(jhi - jlo);
    if (nr + 1 > s->rows_cap) {
        size_t cap = (nr + 1) * 2;
        int *a = realloc(s->cross_off, cap * sizeof(int));
        if (a) s->cross_off = a;
        int *b = realloc(s->rem_off, cap * sizeof(int));
        if (b) s->rem_off = b;
        int *c = realloc(s->cross_cur, cap * sizeof(int));
        if (c) s->cross_cur = c;
        int *d = realloc(s->rem_cur, cap * sizeof(int));
        if (d) s->rem_cur = d;
        if (!a || !b || !c || !d)
            return -1;
        s->rows_cap = cap;
    }
    memset(s->cross_off, 0, (nr + 1) * sizeof(int));
    memset(s->rem_off, 0, (nr + 1) * sizeof(int));
    double r = buffer_m > 0.0 ? buffer_m : 0.0;
    edges_pass(g, poly, r, jlo, jhi, s, 0);
    for (size_t i = 0; i < nr; i++) {
        s->cross_off[i + 1] += s->cross_off[i];
        s->rem_off[i + 1] += s->rem_off[i];
    }
    double *cross = grow(s->cross, &s->cross_cap, (size_t)s->cross_off[nr] + 1, sizeof *cross);
    if (!cross)
        return -1;
    s->cross = cross;
    pix_range *rem = grow(s->rem, &s->rem_cap, (size_t)s->rem_off[nr] + 1, sizeof *rem);
    if (!rem)
        return -1;
    s->rem = rem;
    memcpy(s->cross_cur, s->cross_off, nr * sizeof(int));
    memcpy(s->rem_cur, s->rem_off, nr * sizeof(int));
    edges_pass(g, poly, r, jlo, jhi, s, 1);
    for (size_t i = 0; i < nr; i++) {
        int c0 = s->cross_off[i], n_c = s->cross_cur[i] - c0;
        int r0 = s->rem_off[i], n_r = s->rem_cur[i] - r0;
        if (n_c >= 2 && scan_row(g, s, jlo + (int)i, s->cross + c0, n_c, s->rem + r0, n_r))
            return -1;
    }
    *runs = s->runs;
    *n_runs = s->runs_n;
    return 0;
}
