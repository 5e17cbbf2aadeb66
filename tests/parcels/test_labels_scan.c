/* The scanline rule on hand-made coordinates (no GDAL). Grid: 100 x 100 pixels of
 * 10 m, west edge x = 0, north edge y = 1000, so pixel centres are
 * X_i = 5 + 10 i and Y_j = 995 - 10 j. Expected counts are worked out on paper in
 * the comments; a brute-force per-pixel check on random polygons backs them up. */
#include <math.h>

#include "labels_scan.h"
#include "test.h"

static const labels_grid G = {0.0, 10.0, 1000.0, -10.0, 100, 100};

typedef struct shape {
    double x[64], y[64];
    size_t ring_end[8];
    size_t n_rings, n;
} shape;

static void ring(shape *s, const double *xy, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        s->x[s->n] = xy[2 * k];
        s->y[s->n] = xy[2 * k + 1];
        s->n++;
    }
    s->ring_end[s->n_rings++] = s->n;
}

static void rect(shape *s, double x0, double y0, double x1, double y1)
{
    double xy[] = {x0, y0, x1, y0, x1, y1, x0, y1};
    ring(s, xy, 4);
}

static labels_scan_scratch *scratch;

/* Pixel count of a shape; fills mask[j][i] with 1 where labelled (may be NULL). */
static long scan(const shape *s, double buffer_m, unsigned char mask[100][100])
{
    labels_polygon p = {s->x, s->y, s->ring_end, s->n_rings};
    const labels_run *runs;
    size_t n;
    if (labels_scan_polygon(&G, &p, buffer_m, 0, G.height, scratch, &runs, &n) != 0)
        return -1;
    long total = 0;
    if (mask)
        memset(mask, 0, 100 * 100);
    for (size_t k = 0; k < n; k++) {
        CHECK(runs[k].x0 < runs[k].x1);
        CHECK(k == 0 || runs[k].row > runs[k - 1].row ||
              (runs[k].row == runs[k - 1].row && runs[k].x0 > runs[k - 1].x1));
        total += runs[k].x1 - runs[k].x0;
        for (int i = runs[k].x0; mask && i < runs[k].x1; i++)
            mask[runs[k].row][i] = 1;
    }
    return total;
}

static void test_square(void)
{
    shape s = {0};
    unsigned char m[100][100];
    rect(&s, 0, 900, 100, 1000);
    /* buffer 0: centres x 5..95 and y 905..995: 10 x 10 */
    CHECK_INT(scan(&s, 0.0, m), 100);
    CHECK(m[0][0] && m[9][9] && !m[10][0] && !m[0][10]);
    /* buffer 10: the square shrinks to [10, 90]: centres 15..85, 8 x 8 */
    CHECK_INT(scan(&s, 10.0, m), 64);
    CHECK(!m[0][0] && m[1][1] && m[8][8] && !m[9][9]);
    /* buffer 5: the outer centres lie exactly 5 m from the boundary and count */
    CHECK_INT(scan(&s, 5.0, NULL), 100);
    CHECK_INT(scan(&s, 5.000001, NULL), 64);
    /* buffer 50: nothing is 50 m from every edge but the centre point (50, 950),
     * which is no pixel centre */
    CHECK_INT(scan(&s, 50.0, NULL), 0);
    /* orientation does not matter */
    shape r = {0};
    double cw[] = {0, 900, 0, 1000, 100, 1000, 100, 900};
    ring(&r, cw, 4);
    CHECK_INT(scan(&r, 10.0, NULL), 64);
    /* an explicit closing point changes nothing */
    shape c = {0};
    double closed[] = {0, 900, 100, 900, 100, 1000, 0, 1000, 0, 900};
    ring(&c, closed, 5);
    CHECK_INT(scan(&c, 10.0, NULL), 64);
}

/* Centres exactly on the boundary: west and south sides count, east and north not. */
static void test_centre_on_edge(void)
{
    shape s = {0};
    unsigned char m[100][100];
    /* edges through the centres x = 5, x = 105, y = 895, y = 995 */
    rect(&s, 5, 895, 105, 995);
    CHECK_INT(scan(&s, 0.0, m), 100);
    for (int i = 0; i < 11; i++)
        CHECK(!m[0][i]); /* row 0 (Y = 995) is on the north edge: out */
    CHECK(m[10][0]);      /* Y = 895 (south edge) and X = 5 (west edge): in */
    CHECK(!m[5][10]);     /* X = 105 (east edge): out */
    /* two parcels sharing the edge x = 55 (a column of centres) split it */
    shape a = {0}, b = {0};
    unsigned char ma[100][100], mb[100][100];
    rect(&a, 5, 895, 55, 995);
    rect(&b, 55, 895, 105, 995);
    CHECK_INT(scan(&a, 0.0, ma), 50);
    CHECK_INT(scan(&b, 0.0, mb), 50);
    int both = 0;
    for (int j = 0; j < 100; j++)
        for (int i = 0; i < 100; i++)
            both += ma[j][i] && mb[j][i];
    CHECK_INT(both, 0);
    CHECK(mb[5][5] && !ma[5][5]); /* X = 55 goes to the parcel east of it */
    /* with a buffer, centres exactly buffer_m inside count: [0, 100] x [900, 1000]
     * shifted so that centres sit on the shrunk boundary: square [-5, 105] with
     * buffer 10 shrinks to [5, 95]: centres 5..95 all count, 10 x 10 */
    shape t = {0};
    rect(&t, -5, 895, 105, 1005);
    CHECK_INT(scan(&t, 10.0, NULL), 100);
}

static void test_triangle(void)
{
    shape s = {0};
    /* right triangle (0, 900), (100, 1000), (0, 1000): hypotenuse y = 900 + x;
     * centre (i, j) is on it when i + j = 9 (east side: out), inside when i + j < 9:
     * 45 centres */
    double xy[] = {0, 900, 100, 1000, 0, 1000};
    ring(&s, xy, 3);
    CHECK_INT(scan(&s, 0.0, NULL), 45);
    /* buffer 7: from the hypotenuse (Y - 900 - X) / sqrt 2 >= 7, i.e. >= 9.9, and
     * the values are multiples of 10, so i + j <= 8; from the legs X >= 7 and
     * Y <= 993, so i >= 1 and j >= 1: pairs with i' + j' <= 6 = 28 */
    CHECK_INT(scan(&s, 7.0, NULL), 28);
}

static void test_hole(void)
{
    shape s = {0};
    rect(&s, 0, 900, 100, 1000);
    rect(&s, 30, 930, 70, 970);
    /* the hole holds centres x 35..65, y 935..965: 16 */
    CHECK_INT(scan(&s, 0.0, NULL), 84);
    /* buffer 10: outer gives 8 x 8; the hole grown by 10 m (a rounded square
     * reaching (20, 80) open) removes centres 25..75 in x and y: 6 x 6, the corner
     * ones too ((25, 925) is 7.07 m from the hole's corner) */
    CHECK_INT(scan(&s, 10.0, NULL), 28);
}

static void test_multipolygon_and_concave(void)
{
    shape s = {0};
    rect(&s, 0, 900, 100, 1000);
    rect(&s, 200, 900, 250, 950); /* centres 205..245 x 905..945: 5 x 5 */
    CHECK_INT(scan(&s, 0.0, NULL), 125);
    /* with buffer 10 the small one keeps 215..235: 3 x 3 */
    CHECK_INT(scan(&s, 10.0, NULL), 64 + 9);
    /* a U: the notch [30, 70] x [930, 1000] holds 4 x 7 centres; rows 0..6 have two
     * spans each */
    shape u = {0};
    double xy[] = {0, 900, 100, 900, 100, 1000, 70, 1000, 70, 930, 30, 930, 30, 1000, 0, 1000};
    ring(&u, xy, 8);
    unsigned char m[100][100];
    CHECK_INT(scan(&u, 0.0, m), 100 - 28);
    CHECK(m[0][2] && !m[0][3] && !m[0][6] && m[0][7] && m[7][4]);
}

static void test_clipping(void)
{
    shape s = {0};
    /* half outside to the west and north: centres 5..45 x 955..995 */
    rect(&s, -50, 950, 50, 1050);
    CHECK_INT(scan(&s, 0.0, NULL), 25);
    shape far = {0};
    rect(&far, 5000, 5000, 5100, 5100);
    CHECK_INT(scan(&far, 0.0, NULL), 0);
    /* a row range: rows [3, 5) only */
    shape t = {0};
    rect(&t, 0, 900, 100, 1000);
    labels_polygon p = {t.x, t.y, t.ring_end, t.n_rings};
    const labels_run *runs;
    size_t n;
    CHECK_INT(labels_scan_polygon(&G, &p, 0.0, 3, 5, scratch, &runs, &n), 0);
    CHECK_INT(n, 2);
    CHECK(n == 2 && runs[0].row == 3 && runs[1].row == 4 && runs[0].x1 == 10);
}

static void test_capsule(void)
{
    double lo, hi;
    /* horizontal segment, line 6 m away: the end disks reach sqrt(100 - 36) = 8 m out */
    CHECK(labels_capsule_row_interval(0, 0, 100, 0, 10, 6, &lo, &hi));
    CHECK_NEAR(lo, -8, 1e-12);
    CHECK_NEAR(hi, 108, 1e-12);
    CHECK(!labels_capsule_row_interval(0, 0, 100, 0, 10, 10, &lo, &hi)); /* open */
    CHECK(labels_capsule_row_interval(0, 0, 100, 0, 10, -6, &lo, &hi));
    /* vertical segment: the slab +-10 m, then the top disk */
    CHECK(labels_capsule_row_interval(0, 0, 0, 100, 10, 50, &lo, &hi));
    CHECK_NEAR(lo, -10, 1e-12);
    CHECK_NEAR(hi, 10, 1e-12);
    CHECK(labels_capsule_row_interval(0, 0, 0, 100, 10, 105, &lo, &hi));
    CHECK_NEAR(hi, sqrt(75.0), 1e-12);
    /* diagonal y = x: distance |x - 5| / sqrt 2 < sqrt 2 at y = 5 gives (3, 7) */
    CHECK(labels_capsule_row_interval(0, 0, 10, 10, sqrt(2.0), 5, &lo, &hi));
    CHECK_NEAR(lo, 3, 1e-9);
    CHECK_NEAR(hi, 7, 1e-9);
}

/* ---- brute force: the rule evaluated per pixel, written independently ---- */

static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double qx = ax + t * dx - px, qy = ay + t * dy - py;
    return sqrt(qx * qx + qy * qy);
}

static int brute_inside(const shape *s, double px, double py, double b)
{
    int inside = 0;
    size_t start = 0;
    for (size_t r = 0; r < s->n_rings; r++) {
        for (size_t k = start; k < s->ring_end[r]; k++) {
            size_t k1 = k + 1 < s->ring_end[r] ? k + 1 : start;
            double ax = s->x[k], ay = s->y[k], bx = s->x[k1], by = s->y[k1];
            if (b > 0 && seg_dist(px, py, ax, ay, bx, by) < b)
                return 0;
            if ((ay <= py) != (by <= py)) {
                double xc = ax + (py - ay) * (bx - ax) / (by - ay);
                if (px >= xc) /* the crossing is at or west of the point */
                    inside ^= 1;
            }
        }
        start = s->ring_end[r];
    }
    return inside;
}

static unsigned long long rng = 88172645463325252ULL;
static double frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void test_random_against_brute_force(void)
{
    int mismatches = 0;
    long total = 0;
    unsigned char m[100][100];
    for (int trial = 0; trial < 300; trial++) {
        shape s = {0};
        /* a star-shaped ring, sometimes with a hole, sometimes a second part */
        double cx = 100 + 800 * frand(), cy = 100 + 800 * frand(), r0 = 20 + 200 * frand();
        int nv = 3 + (int)(frand() * 20);
        double xy[64];
        for (int k = 0; k < nv; k++) {
            double a = 2 * M_PI * k / nv, r = r0 * (0.5 + 0.5 * frand());
            xy[2 * k] = cx + r * cos(a);
            xy[2 * k + 1] = cy + r * sin(a);
        }
        ring(&s, xy, (size_t)nv);
        if (trial % 3 == 1) {
            double h = r0 * 0.2;
            double hole[] = {cx - h, cy - h, cx - h, cy + h, cx + h, cy + h, cx + h, cy - h};
            ring(&s, hole, 4);
        }
        double b = (trial % 4) * 7.3;
        long n = scan(&s, b, m);
        total += n;
        for (int j = 0; j < 100; j++)
            for (int i = 0; i < 100; i++)
                mismatches += m[j][i] != brute_inside(&s, 5 + 10.0 * i, 995 - 10.0 * j, b);
    }
    CHECK_INT(mismatches, 0);
    CHECK(total > 10000); /* the polygons did cover pixels */
}

int main(void)
{
    scratch = labels_scan_scratch_new();
    REQUIRE(scratch);
    test_square();
    test_centre_on_edge();
    test_triangle();
    test_hole();
    test_multipolygon_and_concave();
    test_clipping();
    test_capsule();
    test_random_against_brute_force();
    labels_scan_scratch_free(scratch);
    return test_summary();
}
