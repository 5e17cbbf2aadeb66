/* Exact scanline rasterisation of one polygon onto the pixel centres of a
 * north-up grid, with an inner buffer. No GDAL in here: coordinates in, runs out,
 * so it can be tested on hand-made coordinates.
 *
 * The pixel rule (what "inside the parcel shrunk by buffer_m" means exactly):
 *   a pixel centre p counts when
 *     (1) p is inside the polygon by the even-odd rule over all its rings (so holes
 *         and multipolygon parts work), with the boundary half-open: a centre on the
 *         west or south side of the boundary is inside, one on the east or north side
 *         is not (an edge covers the rows with ymin <= Y < ymax; a span covers
 *         xleft <= X < xright). Two parcels that share an edge therefore split the
 *         centres on it with no overlap and no gap; and
 *     (2) its distance to every edge of every ring is >= buffer_m (a centre exactly
 *         buffer_m from the boundary counts). With buffer_m = 0 only (1) applies.
 *   Per row, (1) gives spans along the row's centre line; (2) removes the union of
 *   the open intervals where the line passes closer than buffer_m to an edge (the
 *   edge's "capsule", segment plus disk, cuts a line in one interval, closed form).
 *
 * Works in world coordinates; pixel centre (i, j) is
 *   X_i = x0 + (i + 0.5) * dx,  Y_j = y0 + (j + 0.5) * dy   (dx > 0, dy < 0)
 * and every decision is taken by comparing those exact doubles, so the ownership
 * code and the tests see the same centres. */
#ifndef MOWCHECK_LABELS_SCAN_H
#define MOWCHECK_LABELS_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct labels_grid {
    double x0, dx; /* west edge of column 0, pixel width (> 0) */
    double y0, dy; /* north edge of row 0, pixel height (< 0) */
    int width, height;
} labels_grid;

/* One polygon or multipolygon: all rings' points in x[] and y[]; ring r holds the
 * points [r ? ring_end[r - 1] : 0, ring_end[r]). Rings are closed implicitly (an
 * explicit closing point equal to the first one is harmless). Orientation is free. */
typedef struct labels_polygon {
    const double *x, *y;
    const size_t *ring_end;
    size_t n_rings;
} labels_polygon;

/* Pixels [x0, x1) of row `row`. */
typedef struct labels_run {
    int32_t row, x0, x1;
} labels_run;

typedef struct labels_scan_scratch labels_scan_scratch;

labels_scan_scratch *labels_scan_scratch_new(void);
void labels_scan_scratch_free(labels_scan_scratch *s);

/* Rasterises `poly` onto the rows [row_lo, row_hi) of `g` (clipped to the grid).
 * On success *runs (owned by the scratch, valid until its next use) holds *n_runs
 * runs ordered by row then x, disjoint, not touching. Returns 0, or -1 when out of memory. */
int labels_scan_polygon(const labels_grid *g, const labels_polygon *poly, double buffer_m,
                        int row_lo, int row_hi, labels_scan_scratch *s,
                        const labels_run **runs, size_t *n_runs);

/* The exact centre coordinates used by the scan. */
static inline double labels_grid_col_x(const labels_grid *g, int i)
{
    return g->x0 + ((double)i + 0.5) * g->dx;
}
static inline double labels_grid_row_y(const labels_grid *g, int j)
{
    return g->y0 + ((double)j + 0.5) * g->dy;
}

/* The first column i in [0, width] whose centre satisfies X_i >= x (or X_i > x). */
int labels_grid_first_col_ge(const labels_grid *g, double x);
int labels_grid_first_col_gt(const labels_grid *g, double x);

/* The rows [*j_lo, *j_hi) whose centre Y_j may lie in [y_lo, y_hi] (a superset by
 * a row or two each side, clipped to the grid; callers test Y_j exactly). */
void labels_grid_rows_near(const labels_grid *g, double y_lo, double y_hi, int *j_lo, int *j_hi);

/* The open interval (*lo, *hi) of x where the point (x, y) lies closer than r to the
 * segment (ax, ay)-(bx, by). Returns 0 when there is none. Exposed for tests. */
int labels_capsule_row_interval(double ax, double ay, double bx, double by, double r, double y,
                                double *lo, double *hi);

#endif
