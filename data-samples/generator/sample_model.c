/* The sample region's model: tiles, dates, weather, parcels, trajectories,
 * claims and the scene list, all drawn from one seed in a fixed order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sample.h"
#include "sample_prng.h"

const sample_scheme sample_schemes[2] = {
    /* one mowing in summer */
    {"GRASS-1CUT", "2026-06-01", "2026-08-31", 1},
    /* two mowings by mid-September */
    {"GRASS-2CUT", "2026-05-01", "2026-09-15", 2},
};

/* ---- calendar ---------------------------------------------------------- */

static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

void sample_doy_to_date(int doy, int *month, int *day)
{
    int m = 0;
    while (m < 11 && doy > month_days[m]) {
        doy -= month_days[m];
        m++;
    }
    *month = m + 1;
    *day = doy;
}

static void date_format(sample_date *d)
{
    int month, day;
    sample_doy_to_date(d->doy, &month, &day);
    /* Always true for a day of the sample year; saying so also lets the compiler see
     * that each field has two digits and fits (-Wformat-truncation at -O3). */
    if (month < 1 || month > 12 || day < 1 || day > 31)
        abort();
    snprintf(d->iso, sizeof d->iso, "%04d-%02d-%02d", SAMPLE_YEAR, month, day);
    snprintf(d->compact, sizeof d->compact, "%04d%02d%02d", SAMPLE_YEAR, month, day);
}

/* ---- curves ------------------------------------------------------------ */

static double clamp01(double x) { return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x; }

static double logistic(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Green-up from ndvi_min to ndvi_max around greenup_doy, autumn decline after day 245. */
static double grass_base(double lo, double hi, double greenup_doy, double autumn_drop, double t)
{
    return lo + (hi - lo) * logistic((t - greenup_doy) / 6.0) -
           autumn_drop * clamp01((t - 245.0) / 55.0);
}

/* The share of a cut's drop that shows dt days after it. On the day the sward falls
 * by most of the drop; over the first week the hay dries and is taken away and the
 * stubble browns, so NDVI falls further, to its lowest from day 7 to day 10; then the
 * sward regrows linearly back to the undisturbed curve by regrowth_days (4-8 weeks).
 * What the labelled cuts of data-samples/mowing-train show: after the first clear view
 * past the cut NDVI keeps falling in 7 of 10 cases, the lowest view comes a median of
 * 5 days after the cut date, and it takes a median of 45 days to come back within
 * 0.05 of the level before. */
static double mowing_effect(double dt, double regrowth_days)
{
    if (dt < 0.0)
        return 0.0;
    if (dt < 7.0)
        return 0.75 + 0.25 * dt / 7.0;
    if (dt < 10.0)
        return 1.0;
    if (dt < regrowth_days)
        return 1.0 - (dt - 10.0) / (regrowth_days - 10.0);
    return 0.0;
}

/* How far the cuts hold the sward below its undisturbed curve at day t. A new cut
 * takes off what has regrown since the last one, so the deficits do not add up:
 * the deepest one counts. */
static double mowing_deficit(const sample_parcel *p, double t)
{
    double deficit = 0.0;
    for (int k = 0; k < p->n_mowings; k++) {
        double d = p->mowing_drop[k] * mowing_effect(t - p->mowing_doy[k], p->regrowth_days[k]);
        if (d > deficit)
            deficit = d;
    }
    return deficit;
}

static double cereal_ndvi(double lo, double hi, double greenup_doy, double senescence_doy,
                          double harvest_doy, double t)
{
    if (t >= harvest_doy) /* stubble, then a little volunteer regrowth */
        return 0.2 + 0.1 * clamp01((t - harvest_doy - 20.0) / 50.0);
    double v = lo + (hi - lo) * logistic((t - greenup_doy) / 5.0);
    if (t > senescence_doy) /* ripening: yellowing towards straw */
        v -= (v - 0.33) * clamp01((t - senescence_doy) / (harvest_doy - senescence_doy));
    return v;
}

double sample_parcel_ndvi(const sample_parcel *p, double t)
{
    double v = 0.0;
    switch (p->type) {
    case PT_MEADOW:
        v = grass_base(p->ndvi_min, p->ndvi_max, p->greenup_doy, p->autumn_drop, t);
        v -= mowing_deficit(p, t);
        break;
    case PT_PASTURE:
        v = grass_base(p->ndvi_min, p->ndvi_max, p->greenup_doy, p->autumn_drop, t) -
            p->graze_decline * clamp01((t - 150.0) / 120.0);
        for (int k = 0; k < 3; k++)
            v += p->wiggle_amp[k] * sin(2.0 * M_PI * t / p->wiggle_period[k] + p->wiggle_phase[k]);
        break;
    case PT_CEREAL:
        v = cereal_ndvi(p->ndvi_min, p->ndvi_max, p->greenup_doy, p->senescence_doy,
                        p->harvest_doy, t);
        break;
    }
    return v < 0.05 ? 0.05 : v > 0.95 ? 0.95 : v;
}

double sample_cover_ndvi(sample_cover c, double t)
{
    switch (c) {
    case LC_FOREST:
        return 0.62 + 0.22 * logistic((t - 138.0) / 7.0) - 0.06 * clamp01((t - 262.0) / 40.0);
    case LC_GRASS:
        return grass_base(0.38, 0.78, 130.0, 0.12, t);
    case LC_CROP:
        return cereal_ndvi(0.17, 0.84, 158.0, 188.0, 215.0, t);
    case LC_BARE:
        return 0.16;
    case LC_WATER:
        return -0.25;
    default:
        return 0.0;
    }
}

/* ---- moisture: NDMI, for B11 -------------------------------------------- */

/* NDMI = (nir - swir) / (nir + swir) of vegetation follows its NDVI: a
 * piecewise-linear fit to the clear April-October grassland observations of
 * the training set (shared/data/mowing-train, real Sentinel-2: mean NDMI
 * -0.08, -0.03, 0.05, 0.17, 0.30, 0.41 at NDVI 0.4 ... 0.9). A fresh cut
 * (stubble, hay) follows the NDVI drop on its own. Below NDVI 0.35 (soil,
 * straw, stubble) it stays at -0.10. */
double sample_ndmi_of_ndvi(double ndvi)
{
    if (ndvi >= 0.55)
        return 1.2 * (ndvi - 0.55);
    return fmax(-0.10, 0.5 * (ndvi - 0.55));
}

/* A parcel's NDMI on day t given its NDVI that day. A meadow not mowed all
 * season dries from mid-summer: its standing grass turns to litter, NDMI
 * slides to ndmi_dry (0.0-0.1) while its NDVI stays where it was. */
double sample_parcel_ndmi(const sample_parcel *p, double t, double ndvi)
{
    double v = sample_ndmi_of_ndvi(ndvi) + p->ndmi_wet;
    if (p->type == PT_MEADOW && p->n_mowings == 0)
        v += (p->ndmi_dry - v) * clamp01((t - p->dry_start_doy) / p->dry_days);
    return v;
}

double sample_cover_ndmi(sample_cover c, double t)
{
    switch (c) {
    case LC_FOREST: /* mixed forest: conifers in spring, leaves from mid-May */
        return 0.28 + 0.17 * logistic((t - 138.0) / 7.0) - 0.05 * clamp01((t - 262.0) / 40.0);
    case LC_GRASS:
    case LC_CROP:
        return sample_ndmi_of_ndvi(sample_cover_ndvi(c, t));
    case LC_BARE: /* asphalt, gravel, roofs */
        return -0.06;
    case LC_WATER: /* water absorbs SWIR even more than NIR: both dark, NDMI > 0 */
        return 0.30;
    default:
        return 0.0;
    }
}

/* ---- weather ----------------------------------------------------------- */

/* Cloud field in [0, 1): value noise over three scales; cloud where above a
 * threshold chosen per date for the wanted cover. */
double sample_cloud_field(uint64_t seed, double x_m, double y_m)
{
    return 0.55 * prng_value_noise(seed, x_m / 4000.0, y_m / 4000.0) +
           0.30 * prng_value_noise(seed + 1, x_m / 1500.0, y_m / 1500.0) +
           0.15 * prng_value_noise(seed + 2, x_m / 500.0, y_m / 500.0);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The threshold that leaves `fraction` of the area (sampled every 100 m) cloudy. */
double sample_cloud_threshold(uint64_t seed, const double bbox[4], double fraction)
{
    if (fraction < 0.001)
        return 2.0;
    int nx = (int)((bbox[2] - bbox[0]) / 100.0), ny = (int)((bbox[3] - bbox[1]) / 100.0);
    if (nx < 2)
        nx = 2;
    if (ny < 2)
        ny = 2;
    if (nx > 1200)
        nx = 1200;
    if (ny > 1200)
        ny = 1200;
    size_t n = (size_t)nx * (size_t)ny;
    double *v = malloc(n * sizeof *v);
    if (!v)
        return 2.0;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++)
            v[(size_t)j * nx + i] = sample_cloud_field(seed, bbox[0] + (bbox[2] - bbox[0]) * (i + 0.5) / nx,
                                                       bbox[1] + (bbox[3] - bbox[1]) * (j + 0.5) / ny);
    qsort(v, n, sizeof *v, compare_double);
    size_t k = (size_t)((1.0 - fraction) * (double)n);
    double t = k >= n ? v[n - 1] : v[k];
    free(v);
    return t;
}

/* Estonian summer: about a third clear, a third broken cloud, a third overcast. */
static double draw_cloud_fraction(prng *rng)
{
    double u = prng_uniform(rng);
    if (u < 0.32)
        return prng_range(rng, 0.0, 0.02);
    if (u < 0.68)
        return prng_range(rng, 0.08, 0.6);
    return prng_range(rng, 0.75, 0.98);
}

/* ---- dates ------------------------------------------------------------- */

/* Relative orbit 79 sees both tiles every 5 days (S2B and S2C alternating);
 * relative orbit 36 sees the western tile every 10 days in May-August, with its
 * swath edge inside that tile. */
static int dates_build(sample_region *r, prng *rng)
{
    sample_date *d = calloc(64, sizeof *d);
    if (!d)
        return mc_fail("out of memory for dates");
    int n = 0;
    for (int doy = 92, k = 0; doy <= 304; doy += 5, k++) {
        sample_date *x = &d[n++];
        x->doy = doy;
        strcpy(x->satellite, k % 2 == 0 ? "S2B" : "S2C");
        x->relative_orbit = 79;
        x->tiles = 3u;
        x->hour = 9, x->minute = 50, x->second = 31;
    }
    for (int doy = 124; doy <= 234; doy += 10) {
        sample_date *x = &d[n++];
        x->doy = doy;
        strcpy(x->satellite, "S2B");
        x->relative_orbit = 36;
        x->tiles = 1u;
        x->swath_edge = 1;
        x->edge_x_m = 406000.0, x->edge_y_m = 6526000.0, x->edge_dx_per_dy = 0.21;
        x->hour = 10, x->minute = 0, x->second = 29;
    }
    /* in date order (insertion sort: n is small, and stable) */
    for (int i = 1; i < n; i++) {
        sample_date t = d[i];
        int j = i - 1;
        while (j >= 0 && d[j].doy > t.doy) {
            d[j + 1] = d[j];
            j--;
        }
        d[j + 1] = t;
    }
    for (int i = 0; i < n; i++) {
        date_format(&d[i]);
        d[i].seed = prng_next(rng);
        d[i].cloud_fraction = draw_cloud_fraction(rng);
        d[i].cloud_threshold = sample_cloud_threshold(d[i].seed, r->bbox, d[i].cloud_fraction);
    }
    r->dates = d;
    r->n_dates = n;
    return MC_OK;
}

/* ---- parcel shapes ----------------------------------------------------- */

/* A quadrilateral in a local frame (centre, angle), so that splitting it into
 * parts or neighbours keeps shared vertices bit-identical. */
typedef struct quad_frame {
    double cx, cy, cos_a, sin_a;
    double c[4][2]; /* BL, BR, TR, TL in local metres */
} quad_frame;

static void frame_point(const quad_frame *f, double lx, double ly, double *x, double *y)
{
    *x = f->cx + lx * f->cos_a - ly * f->sin_a;
    *y = f->cy + lx * f->sin_a + ly * f->cos_a;
}

static void ring_add(sample_ring *r, const quad_frame *f, double lx, double ly)
{
    frame_point(f, lx, ly, &r->xy[2 * r->n], &r->xy[2 * r->n + 1]);
    r->n++;
}

/* Point of the bottom (edge 0: BL->BR) or top (edge 1: TL->TR) edge at local x. */
static double edge_y_at(const quad_frame *f, int top, double lx)
{
    const double *a = top ? f->c[3] : f->c[0];
    const double *b = top ? f->c[2] : f->c[1];
    double t = (lx - a[0]) / (b[0] - a[0]);
    return a[1] + t * (b[1] - a[1]);
}

/* A jittered, slightly rotated rectangle inside the cell, margins >= margin_m. */
static void quad_in_cell(prng *rng, double cx0, double cy0, double cw, double ch, double margin_m,
                         int full, quad_frame *f)
{
    double ml = margin_m + prng_range(rng, 0, 50), mr = margin_m + prng_range(rng, 0, 50);
    double mb = margin_m + prng_range(rng, 0, 40), mt = margin_m + prng_range(rng, 0, 40);
    double w = cw - ml - mr, h = ch - mb - mt;
    double w2 = full ? w : w * prng_range(rng, 0.55, 1.0);
    double h2 = full ? h : h * prng_range(rng, 0.55, 1.0);
    double px = cx0 + ml + prng_uniform(rng) * (w - w2);
    double py = cy0 + mb + prng_uniform(rng) * (h - h2);
    double a = prng_range(rng, -3.0, 3.0) * M_PI / 180.0;
    f->cx = px + w2 / 2, f->cy = py + h2 / 2;
    f->cos_a = cos(a), f->sin_a = sin(a);
    static const double sx[4] = {-1, 1, 1, -1}, sy[4] = {-1, -1, 1, 1};
    for (int k = 0; k < 4; k++) {
        f->c[k][0] = sx[k] * w2 / 2 + prng_range(rng, -7, 7);
        f->c[k][1] = sy[k] * h2 / 2 + prng_range(rng, -7, 7);
    }
}

/* Outer ring of the part of the quad between local x lo and hi (NAN: the quad's own edge). */
static void quad_part_ring(const quad_frame *f, double lo, double hi, int chamfer_corner, prng *rng,
                           sample_ring *r)
{
    r->n = 0;
    double bl[2] = {f->c[0][0], f->c[0][1]}, tl[2] = {f->c[3][0], f->c[3][1]};
    double br[2] = {f->c[1][0], f->c[1][1]}, tr[2] = {f->c[2][0], f->c[2][1]};
    if (!isnan(lo)) {
        bl[0] = lo, bl[1] = edge_y_at(f, 0, lo);
        tl[0] = lo, tl[1] = edge_y_at(f, 1, lo);
    }
    if (!isnan(hi)) {
        br[0] = hi, br[1] = edge_y_at(f, 0, hi);
        tr[0] = hi, tr[1] = edge_y_at(f, 1, hi);
    }
    const double *pts[4] = {bl, br, tr, tl};
    for (int k = 0; k < 4; k++) {
        if (k == chamfer_corner) { /* cut the corner: two points along its edges */
            const double *prev = pts[(k + 3) % 4], *next = pts[(k + 1) % 4];
            double a = prng_range(rng, 0.1, 0.3), b = prng_range(rng, 0.1, 0.3);
            ring_add(r, f, pts[k][0] + a * (prev[0] - pts[k][0]), pts[k][1] + a * (prev[1] - pts[k][1]));
            ring_add(r, f, pts[k][0] + b * (next[0] - pts[k][0]), pts[k][1] + b * (next[1] - pts[k][1]));
        } else {
            ring_add(r, f, pts[k][0], pts[k][1]);
        }
    }
}

static void square_ring(const quad_frame *f, double lx, double ly, double half, sample_ring *r)
{
    r->n = 0;
    ring_add(r, f, lx - half, ly - half);
    ring_add(r, f, lx + half, ly - half);
    ring_add(r, f, lx + half, ly + half);
    ring_add(r, f, lx - half, ly + half);
}

/* ---- parcel trajectories ----------------------------------------------- */

static int draw_mowing_count(prng *rng)
{
    double u = prng_uniform(rng);
    return u < 0.15 ? 0 : u < 0.50 ? 1 : u < 0.85 ? 2 : 3;
}

/* n cut dates between 20 May and 20 September, at least 28 days apart. */
static void draw_mowings(prng *rng, sample_parcel *p, int n)
{
    p->n_mowings = n;
    for (int attempt = 0; attempt < 10000; attempt++) {
        int d[SAMPLE_MAX_MOWINGS];
        for (int k = 0; k < n; k++)
            d[k] = prng_int(rng, 140, 263);
        for (int i = 1; i < n; i++) /* sort */
            for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
                int t = d[j];
                d[j] = d[j - 1];
                d[j - 1] = t;
            }
        int ok = 1;
        for (int k = 1; k < n; k++)
            ok &= d[k] - d[k - 1] >= 28;
        if (ok) {
            memcpy(p->mowing_doy, d, sizeof(int) * (size_t)n);
            break;
        }
    }
    for (int k = 0; k < n; k++) {
        p->mowing_drop[k] = prng_range(rng, 0.2, 0.45);
        p->regrowth_days[k] = prng_int(rng, 28, 56);
    }
}

static void draw_trajectory(prng *rng, sample_parcel *p, int n_mowings)
{
    switch (p->type) {
    case PT_MEADOW:
        p->ndvi_min = prng_range(rng, 0.32, 0.45);
        p->ndvi_max = prng_range(rng, 0.76, 0.88);
        p->greenup_doy = prng_range(rng, 122, 138);
        p->autumn_drop = prng_range(rng, 0.08, 0.18);
        draw_mowings(rng, p, n_mowings < 0 ? draw_mowing_count(rng) : n_mowings);
        p->sigma_static = 0.03, p->sigma_date = 0.04;
        break;
    case PT_PASTURE:
        p->ndvi_min = prng_range(rng, 0.30, 0.42);
        p->ndvi_max = prng_range(rng, 0.62, 0.74);
        p->greenup_doy = prng_range(rng, 120, 135);
        p->autumn_drop = prng_range(rng, 0.05, 0.12);
        p->graze_decline = prng_range(rng, 0.08, 0.16);
        for (int k = 0; k < 3; k++) {
            p->wiggle_amp[k] = prng_range(rng, 0.008, 0.02);
            p->wiggle_period[k] = prng_range(rng, 12, 40);
            p->wiggle_phase[k] = prng_range(rng, 0, 2 * M_PI);
        }
        p->sigma_static = 0.07, p->sigma_date = 0.06;
        break;
    case PT_CEREAL:
        p->winter_cereal = prng_uniform(rng) < 0.4;
        p->ndvi_max = prng_range(rng, 0.80, 0.88);
        if (p->winter_cereal) {
            p->ndvi_min = prng_range(rng, 0.38, 0.50);
            p->greenup_doy = prng_range(rng, 112, 125);
            p->senescence_doy = prng_int(rng, 170, 180);
            p->harvest_doy = prng_int(rng, 191, 203);
        } else {
            p->ndvi_min = prng_range(rng, 0.15, 0.20);
            p->emerge_doy = prng_int(rng, 128, 142);
            p->greenup_doy = p->emerge_doy + 22;
            p->senescence_doy = prng_int(rng, 182, 190);
            p->harvest_doy = prng_int(rng, 198, 212);
        }
        p->sigma_static = 0.02, p->sigma_date = 0.03;
        break;
    }
}

/* ---- parcel layout ------------------------------------------------------ */

enum { CELL_W = 400, CELL_H = 320, CELL_MARGIN = 100 };

typedef enum {
    KIND_NORMAL = 0,
    KIND_TINY,
    KIND_HOLE,
    KIND_MULTI,
    KIND_MULTI_HOLE,
    KIND_ADJACENT,
    KIND_OVERLAP,
} cell_kind;

static sample_parcel *parcel_new(sample_region *r, size_t *cap)
{
    if (r->n_parcels == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        sample_parcel *p = realloc(r->parcels, nc * sizeof *p);
        if (!p)
            return NULL;
        r->parcels = p;
        *cap = nc;
    }
    sample_parcel *p = &r->parcels[r->n_parcels++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "EE-%04zu", r->n_parcels);
    return p;
}

static sample_parcel_type draw_type(prng *rng)
{
    double u = prng_uniform(rng);
    return u < 0.58 ? PT_MEADOW : u < 0.78 ? PT_PASTURE : PT_CEREAL;
}

static void add_pond(sample_region *r, const sample_ring *hole)
{
    if (r->n_ponds < (int)(sizeof r->ponds / sizeof r->ponds[0]))
        r->ponds[r->n_ponds++] = *hole;
}

/* Parcels that cross the middle of the tiles' overlap (x = 408500 m), where the
 * owning tile changes: one from inside the overlap into the eastern tile only,
 * one from the western tile only across the whole overlap. */
static int parcels_tile_edge(sample_region *r, prng *rng, size_t *cap)
{
    static const double boxes[2][4] = {{408150, 6527030, 409450, 6527230},
                                       {407600, 6524420, 409400, 6524680}};
    for (int k = 0; k < 2; k++) {
        sample_parcel *p = parcel_new(r, cap);
        if (!p)
            return mc_fail("out of memory for parcels");
        quad_frame f = {.cx = (boxes[k][0] + boxes[k][2]) / 2, .cy = (boxes[k][1] + boxes[k][3]) / 2,
                        .cos_a = cos(1.5 * M_PI / 180), .sin_a = sin(1.5 * M_PI / 180)};
        double hw = (boxes[k][2] - boxes[k][0]) / 2, hh = (boxes[k][3] - boxes[k][1]) / 2;
        double c[4][2] = {{-hw, -hh}, {hw, -hh + 6}, {hw - 9, hh}, {-hw + 4, hh - 5}};
        memcpy(f.c, c, sizeof c);
        p->type = PT_MEADOW;
        p->feature = "tile-edge";
        p->shape.n_polys = 1;
        quad_part_ring(&f, NAN, NAN, -1, rng, &p->shape.polys[0].outer);
        draw_trajectory(rng, p, k == 0 ? 2 : 1);
    }
    return MC_OK;
}

static int cell_blocked(double x0, double y0)
{
    static const double boxes[2][4] = {{408150, 6527030, 409450, 6527230},
                                       {407600, 6524420, 409400, 6524680}};
    for (int k = 0; k < 2; k++)
        if (x0 < boxes[k][2] + 40 && x0 + CELL_W > boxes[k][0] - 40 && y0 < boxes[k][3] + 40 &&
            y0 + CELL_H > boxes[k][1] - 40)
            return 1;
    return 0;
}

static int parcels_in_cell(sample_region *r, prng *rng, size_t *cap, cell_kind kind, double x0,
                           double y0)
{
    quad_frame f;
    sample_parcel *p = parcel_new(r, cap);
    if (!p)
        return mc_fail("out of memory for parcels");
    int chamfer = prng_uniform(rng) < 0.3 ? prng_int(rng, 0, 3) : -1;
    switch (kind) {
    case KIND_TINY: { /* < 0.1 ha: fewer pixels than a count threshold wants */
        double w = prng_range(rng, 18, 30), h = prng_range(rng, 20, 32);
        f = (quad_frame){.cx = x0 + prng_range(rng, 100, CELL_W - 100),
                         .cy = y0 + prng_range(rng, 100, CELL_H - 100), .cos_a = 1, .sin_a = 0};
        double c[4][2] = {{-w / 2, -h / 2}, {w / 2, -h / 2}, {w / 2, h / 2}, {-w / 2, h / 2}};
        memcpy(f.c, c, sizeof c);
        p->type = PT_MEADOW, p->feature = "tiny";
        p->shape.n_polys = 1;
        quad_part_ring(&f, NAN, NAN, -1, rng, &p->shape.polys[0].outer);
        break;
    }
    case KIND_HOLE:
    case KIND_MULTI:
    case KIND_MULTI_HOLE: {
        quad_in_cell(rng, x0, y0, CELL_W, CELL_H, 25, 1, &f);
        p->type = prng_uniform(rng) < 0.7 ? PT_MEADOW : PT_PASTURE;
        double left = f.c[0][0] > f.c[3][0] ? f.c[0][0] : f.c[3][0];
        double right = f.c[1][0] < f.c[2][0] ? f.c[1][0] : f.c[2][0];
        double split = left + (right - left) * prng_range(rng, 0.5, 0.65);
        double gap = prng_range(rng, 15, 25); /* a ditch or a farm track */
        sample_poly *a = &p->shape.polys[0];
        if (kind == KIND_HOLE) {
            p->feature = "hole";
            p->shape.n_polys = 1;
            quad_part_ring(&f, NAN, NAN, -1, rng, &a->outer);
        } else {
            p->feature = kind == KIND_MULTI ? "multipolygon" : "multipolygon-hole";
            p->shape.n_polys = 2;
            quad_part_ring(&f, NAN, split - gap / 2, -1, rng, &a->outer);
            quad_part_ring(&f, split + gap / 2, NAN, -1, rng, &p->shape.polys[1].outer);
        }
        if (kind != KIND_MULTI) { /* a pond in the first part */
            double cx = (left + (kind == KIND_HOLE ? right : split)) / 2;
            a->has_hole = 1;
            square_ring(&f, cx, prng_range(rng, -20, 20), prng_range(rng, 20, 35), &a->hole);
            add_pond(r, &a->hole);
        }
        break;
    }
    case KIND_ADJACENT:
    case KIND_OVERLAP: {
        /* two parcels sharing one edge vertex for vertex or, as digitising slips
         * do in real registers, overlapping along it by 12-20 m */
        quad_in_cell(rng, x0, y0, CELL_W, CELL_H, 25, 1, &f);
        double left = f.c[0][0] > f.c[3][0] ? f.c[0][0] : f.c[3][0];
        double right = f.c[1][0] < f.c[2][0] ? f.c[1][0] : f.c[2][0];
        double split = left + (right - left) * prng_range(rng, 0.4, 0.6);
        double overlap = kind == KIND_OVERLAP ? prng_range(rng, 12, 20) : 0.0;
        const char *feature = kind == KIND_OVERLAP ? "overlapping" : "adjacent";
        p->type = PT_MEADOW, p->feature = feature;
        p->shape.n_polys = 1;
        quad_part_ring(&f, NAN, split, -1, rng, &p->shape.polys[0].outer);
        draw_trajectory(rng, p, -1);
        p = parcel_new(r, cap);
        if (!p)
            return mc_fail("out of memory for parcels");
        p->type = prng_uniform(rng) < 0.5 ? PT_CEREAL : PT_MEADOW;
        p->feature = feature;
        p->shape.n_polys = 1;
        quad_part_ring(&f, split - overlap, NAN, -1, rng, &p->shape.polys[0].outer);
        break;
    }
    default:
        quad_in_cell(rng, x0, y0, CELL_W, CELL_H, 25, 0, &f);
        p->type = draw_type(rng), p->feature = "normal";
        p->shape.n_polys = 1;
        quad_part_ring(&f, NAN, NAN, chamfer, rng, &p->shape.polys[0].outer);
        break;
    }
    draw_trajectory(rng, p, -1);
    return MC_OK;
}

/* Cells of 400 x 320 m over the region; about a third hold parcels. A few of
 * those, chosen by a shuffle, get the special shapes. */
static int parcels_build(sample_region *r, prng *rng)
{
    size_t cap = 0;
    if (parcels_tile_edge(r, rng, &cap) != MC_OK)
        return MC_ERR;
    double gx0 = r->bbox[0] + CELL_MARGIN, gy0 = r->bbox[1] + CELL_MARGIN;
    int cols = (int)((r->bbox[2] - CELL_MARGIN - gx0) / CELL_W);
    int rows = (int)((r->bbox[3] - CELL_MARGIN - gy0) / CELL_H);
    int *cells = malloc(sizeof(int) * (size_t)cols * (size_t)rows);
    if (!cells)
        return mc_fail("out of memory for the parcel layout");
    int n = 0;
    for (int j = 0; j < rows; j++)
        for (int i = 0; i < cols; i++) {
            int take = prng_uniform(rng) < 0.32;
            if (take && !cell_blocked(gx0 + i * CELL_W, gy0 + j * CELL_H))
                cells[n++] = j * cols + i;
        }
    /* kinds: shuffle a kind list over the chosen cells */
    cell_kind *kinds = calloc((size_t)n, sizeof *kinds);
    if (!kinds) {
        free(cells);
        return mc_fail("out of memory for the parcel layout");
    }
    static const struct { cell_kind kind; int count; } special[] = {
        {KIND_TINY, 8}, {KIND_HOLE, 2},     {KIND_MULTI, 2},
        {KIND_MULTI_HOLE, 3}, {KIND_ADJACENT, 5}, {KIND_OVERLAP, 1}};
    int k = 0;
    for (size_t s = 0; s < sizeof special / sizeof special[0]; s++)
        for (int c = 0; c < special[s].count && k < n; c++)
            kinds[k++] = special[s].kind;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = prng_int(rng, 0, i);
        cell_kind t = kinds[i];
        kinds[i] = kinds[j];
        kinds[j] = t;
    }
    int rc = MC_OK;
    for (int c = 0; c < n && rc == MC_OK; c++)
        rc = parcels_in_cell(r, rng, &cap, kinds[c], gx0 + (cells[c] % cols) * CELL_W,
                             gy0 + (cells[c] / cols) * CELL_H);
    free(kinds);
    free(cells);
    return rc;
}

/* ---- claims ------------------------------------------------------------ */

static void applicant_code(uint64_t seed, int k, char out[16])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint64_t h = prng_hash(seed, 0xa9911ca7, (uint64_t)k, 0);
    memcpy(out, "AP-", 3);
    for (int i = 0; i < 8; i++)
        out[3 + i] = alphabet[(h >> (5 * i)) & 31];
    out[11] = '\0';
}

static int claims_build(sample_region *r, prng *rng)
{
    r->claims = calloc(r->n_parcels, sizeof *r->claims);
    if (!r->claims)
        return mc_fail("out of memory for claims");
    int n_applicants = (int)(r->n_parcels / 5) + 1;
    for (size_t i = 0; i < r->n_parcels; i++) {
        const sample_parcel *p = &r->parcels[i];
        double want = p->type == PT_MEADOW ? 0.93 : p->type == PT_PASTURE ? 0.75 : 0.06;
        if (strcmp(p->feature, "tiny") == 0 || strcmp(p->feature, "tile-edge") == 0)
            want = 1.0;
        int claimed = prng_uniform(rng) < want;
        int scheme = prng_uniform(rng) < 0.7 ? 0 : 1;
        int applicant = prng_int(rng, 0, n_applicants - 1);
        if (!claimed)
            continue;
        sample_claim *c = &r->claims[r->n_claims++];
        snprintf(c->claim_id, sizeof c->claim_id, "CL-2026-%05zu", r->n_claims);
        c->parcel = (int)i;
        c->scheme = scheme;
        applicant_code(r->seed, applicant, c->applicant);
    }
    return MC_OK;
}

/* ---- scenes ------------------------------------------------------------ */

static sample_scene *scene_add(sample_region *r, int date, int tile, int sequence)
{
    sample_scene *s = &r->scenes[r->n_scenes++];
    memset(s, 0, sizeof *s);
    const sample_date *d = &r->dates[date];
    s->date = date, s->tile = tile, s->sequence = sequence;
    snprintf(s->id, sizeof s->id, "%s_%s_%s_%d_L2A", d->satellite, r->tiles[tile].id, d->compact,
             sequence);
    /* most deliveries carry a STAC item; a few come without (tile and date from the name) */
    s->has_item = prng_hash_uniform(prng_hash(r->seed, 0x17e3, (uint64_t)date, (uint64_t)tile)) >= 0.12;
    return s;
}

/* Bad deliveries go on dates the tile otherwise lacks (relative orbit 36 does not
 * see the eastern tile), so the good series stays complete; the duplicate is a
 * second delivery (_1_) of a June scene. */
static void scenes_faults(sample_region *r)
{
    static const sample_fault kinds[3] = {FAULT_TRUNCATED_B08, FAULT_MISSING_SCL, FAULT_BAD_ITEM};
    int k = 0, seen = 0;
    for (int d = 0; d < r->n_dates && k < 3; d++) {
        if (r->dates[d].tiles & 2u)
            continue;
        if (seen++ % 3 != 2)
            continue;
        sample_scene *s = scene_add(r, d, 1, 0);
        s->fault = kinds[k++];
        s->has_item = 1;
    }
    for (size_t i = 0; i < r->n_scenes; i++) {
        sample_scene *o = &r->scenes[i];
        if (o->fault == FAULT_NONE && o->tile == 0 && r->dates[o->date].doy >= 166 && o->has_item) {
            sample_scene *s = scene_add(r, o->date, 0, 1);
            s->fault = FAULT_DUPLICATE;
            s->has_item = 1;
            s->duplicate_of = (int)i;
            break;
        }
    }
}

static int scenes_build(sample_region *r, int with_faults)
{
    r->scenes = calloc((size_t)r->n_dates * 2 + 8, sizeof *r->scenes);
    if (!r->scenes)
        return mc_fail("out of memory for scenes");
    for (int d = 0; d < r->n_dates; d++)
        for (int t = 0; t < r->n_tiles; t++)
            if (r->dates[d].tiles & (1u << t))
                scene_add(r, d, t, 0);
    if (with_faults)
        scenes_faults(r);
    return MC_OK;
}

/* A parcel's moisture parameters, from hashes of (seed, parcel index): drawing
 * them from the sequential stream would move every later draw. */
static void draw_moisture(uint64_t seed, size_t index, sample_parcel *p)
{
    double u[4];
    for (int k = 0; k < 4; k++)
        u[k] = prng_hash_uniform(prng_hash(seed, 0x30157e, index, (uint64_t)k));
    p->ndmi_wet = -0.03 + 0.06 * u[0];
    p->dry_start_doy = 182.0 + 18.0 * u[1]; /* early to mid July */
    p->dry_days = 50.0 + 20.0 * u[2];
    p->ndmi_dry = 0.10 * u[3];
}

/* The parcel mean NDVI per date: the trajectory plus a small per-date wobble
 * (illumination, residual atmosphere) common to the parcel's pixels; and the
 * parcel mean NDMI from that NDVI. */
static int parcel_tables_build(sample_region *r)
{
    r->parcel_ndvi = malloc(sizeof(float) * r->n_parcels * (size_t)r->n_dates);
    r->parcel_ndmi = malloc(sizeof(float) * r->n_parcels * (size_t)r->n_dates);
    if (!r->parcel_ndvi || !r->parcel_ndmi)
        return mc_fail("out of memory for the NDVI and NDMI tables");
    for (size_t p = 0; p < r->n_parcels; p++) {
        sample_parcel *pa = &r->parcels[p];
        draw_moisture(r->seed, p, pa);
        for (int d = 0; d < r->n_dates; d++) {
            double wobble = 0.01 * prng_hash_normal(prng_hash(r->seed, 0x7ab1e, p, (uint64_t)d));
            float ndvi = (float)(sample_parcel_ndvi(pa, r->dates[d].doy) + wobble);
            r->parcel_ndvi[p * (size_t)r->n_dates + (size_t)d] = ndvi;
            r->parcel_ndmi[p * (size_t)r->n_dates + (size_t)d] =
                (float)sample_parcel_ndmi(pa, r->dates[d].doy, ndvi);
        }
    }
    return MC_OK;
}

int sample_region_build(uint64_t seed, int with_faults, sample_region *r)
{
    memset(r, 0, sizeof *r);
    r->seed = seed;
    r->n_tiles = 2;
    /* Eastern edge of 35VLF and western edge of 35VMF (real tiles: UL corners at
     * x = 300000 and 400000, y = 6600000; 109.8 km wide, overlapping 9.8 km). */
    r->tiles[0] = (sample_tile){"35VLF", 401000.0, 6530000.0, 800, 800};
    r->tiles[1] = (sample_tile){"35VMF", 408000.0, 6530000.0, 800, 800};
    r->bbox[0] = 401000.0, r->bbox[1] = 6522000.0, r->bbox[2] = 416000.0, r->bbox[3] = 6530000.0;
    prng rng = prng_seeded(seed);
    if (dates_build(r, &rng) != MC_OK || parcels_build(r, &rng) != MC_OK ||
        claims_build(r, &rng) != MC_OK || scenes_build(r, with_faults) != MC_OK ||
        parcel_tables_build(r) != MC_OK) {
        sample_region_free(r);
        return MC_ERR;
    }
    return MC_OK;
}

void sample_region_free(sample_region *r)
{
    free(r->dates);
    free(r->parcels);
    free(r->claims);
    free(r->scenes);
    free(r->parcel_ndvi);
    free(r->parcel_ndmi);
    memset(r, 0, sizeof *r);
}

/* ---- benchmark parcels ------------------------------------------------- */

/* Parcel k of the benchmark grid: a pure function of (seed, k), so a strip of
 * the tile can rebuild just the parcels it crosses. */
void sample_bench_parcel(uint64_t seed, long k, double x0, double y0, double cw, double ch,
                         sample_ring *out, float *ndvi)
{
    prng rng = prng_seeded(prng_hash(seed, 0xbe4c, (uint64_t)k, 0));
    quad_frame f;
    double margin = cw < 150.0 ? 5.0 : 15.0;
    quad_in_cell(&rng, x0, y0, cw, ch, margin, 0, &f);
    int chamfer = prng_uniform(&rng) < 0.3 ? prng_int(&rng, 0, 3) : -1;
    quad_part_ring(&f, NAN, NAN, chamfer, &rng, out);
    *ndvi = (float)prng_range(&rng, 0.3, 0.85);
}
