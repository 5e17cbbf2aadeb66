/* Closed-form cases of the per-pixel rule and of the accumulation, worked out by
 * hand: fixed-point NDVI with both offsets, half-even ties, clamping, zero
 * denominators, a 4x4 window with known stats, SCL 20 m -> 10 m mapping with odd
 * widths, labels above n_labels; NDMI from B11 (n_moist, sum_m): B11 no data,
 * cloud, both offsets, ties, and the B11 20 m -> 10 m mapping of windows with
 * odd sizes at even offsets in a tile. Each window goes through every CPU entry
 * point. */
#include "kernel_testdata.h"

static const kernel_params params_b04 = {.reflectance_offset_dn = -1000,
                                         .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};

static void test_ndvi_q(void)
{
    /* offset 0: (3000 - 1000) / 4000 = 0.5 */
    CHECK_INT(kernel_ndvi_q(1000, 3000, 0), 5000);
    /* offset -1000: (3000 - 1000) / (3000 + 1000) = 0.5; offset 0: 2000 / 6000 = 0.333.. */
    CHECK_INT(kernel_ndvi_q(2000, 4000, -1000), 5000);
    CHECK_INT(kernel_ndvi_q(2000, 4000, 0), 3333);
    /* 4000 / 6000 = 0.6666.. -> 6666.67 -> 6667 */
    CHECK_INT(kernel_ndvi_q(1000, 5000, 0), 6667);
    CHECK_INT(kernel_ndvi_q(5000, 1000, 0), -6667);
    CHECK_INT(kernel_ndvi_q(1234, 1234, 0), 0);
    CHECK_INT(kernel_ndvi_q(1234, 1234, -1000), 0);
    /* Ties, exact in float: 2/64 = 1/32 -> 312.5 -> 312 (even, not 313);
     * 6/64 = 3/32 -> 937.5 -> 938 (even, not 937); 10/64 -> 1562.5 -> 1562. */
    CHECK_INT(kernel_ndvi_q(31, 33, 0), 312);
    CHECK_INT(kernel_ndvi_q(33, 31, 0), -312);
    CHECK_INT(kernel_ndvi_q(29, 35, 0), 938);
    CHECK_INT(kernel_ndvi_q(35, 29, 0), -938);
    CHECK_INT(kernel_ndvi_q(27, 37, 0), 1562);
    CHECK_INT(kernel_ndvi_q(1031, 1033, -1000), 312); /* 31, 33 after the offset */
    CHECK_INT(kernel_ndvi_q(1029, 1035, -1000), 938);
    /* Clamping: red reflectance -200, nir 500: 700 / 300 > 1 -> 10000, and back. */
    CHECK_INT(kernel_ndvi_q(800, 1500, -1000), 10000);
    CHECK_INT(kernel_ndvi_q(1500, 800, -1000), -10000);
    /* Zero and negative denominators: the sign of nir - red decides, ties +1. */
    CHECK_INT(kernel_ndvi_q(0, 0, 0), 10000);
    CHECK_INT(kernel_ndvi_q(1000, 1000, -1000), 10000);
    CHECK_INT(kernel_ndvi_q(900, 1100, -1000), 10000);
    CHECK_INT(kernel_ndvi_q(1100, 900, -1000), -10000);
    CHECK_INT(kernel_ndvi_q(500, 1200, -1000), 10000); /* -500, 200: den -300 */
    CHECK_INT(kernel_ndvi_q(1200, 500, -1000), -10000);
    /* Extremes of the DN range: (65535 - 1) / 65536 = 0.99997 -> 9999.7 -> 10000 */
    CHECK_INT(kernel_ndvi_q(1, 65535, 0), 10000);
    CHECK_INT(kernel_ndvi_q(65535, 1, 0), -10000);
}

/* The 4x4 window of the comment below, into stats through `how`. */
enum { VIA_WINDOW, VIA_CPU_1, VIA_CPU_2, VIA_CPU_4, VIA_COUNT };

static void accumulate_via(int how, const kernel_window *w, const kernel_params *p,
                           kernel_stats *stats, uint32_t n_labels)
{
    if (how == VIA_WINDOW) {
        kernel_accumulate_window(w, p, stats, n_labels);
        return;
    }
    int threads = how == VIA_CPU_1 ? 1 : how == VIA_CPU_2 ? 2 : 4;
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, w, p, stats, n_labels, threads), KERNEL_OK);
}

/* The hand-computed pairs of test_ndvi_q as pixels of a 24 x 2 window (SIMD
 * groups and a scalar tail), one label each, all clear where both reflectances
 * are positive: through the window the backends must give the same q. */
static void test_ndvi_q_in_window(void)
{
    static const struct {
        uint16_t red, nir;
        int clear;
        int32_t q;
    } px[] = {
        {2000, 4000, 1, 5000}, {1031, 1033, 1, 312},   {1033, 1031, 1, -312},
        {1029, 1035, 1, 938},  {1035, 1029, 1, -938},  {1027, 1037, 1, 1562},
        {2000, 2000, 1, 0},    {3000, 1500, 1, -6000}, {800, 1500, 0, 0},
        {1500, 800, 0, 0},     {1000, 1000, 0, 0},     {0, 4000, 0, 0},
        {4000, 0, 0, 0},       {1001, 65535, 1, 10000}, {65535, 1001, 1, -10000},
        {1100, 1300, 1, 5000}, {1500, 1500, 1, 0},     {1001, 1002, 1, 3333},
    };
    const int n = (int)(sizeof px / sizeof px[0]);
    testdata_window t;
    testdata_alloc(&t, 24, 2, 0);
    memset(t.scl, 4, 12);
    for (int i = 0; i < 48; i++) {
        t.red[i] = px[i % n].red;
        t.nir[i] = px[i % n].nir;
        t.labels[i] = (uint32_t)(i + 1);
    }
    for (int how = 0; how < VIA_COUNT; how++) {
        kernel_stats *s = testdata_stats(48);
        accumulate_via(how, &t.w, &params_b04, s, 48);
        for (int i = 0; i < 48; i++) {
            const kernel_stats *st = &s[i + 1];
            int c = px[i % n].clear;
            CHECK_MSG(st->n_seen == 1 && st->n_valid == c && st->sum_q == px[i % n].q &&
                          st->sum_q2 == (int64_t)px[i % n].q * px[i % n].q,
                      "pixel %d (%u/%u) via %d: n_valid %lld sum_q %lld, expected %d %d", i,
                      px[i % n].red, px[i % n].nir, how, (long long)st->n_valid,
                      (long long)st->sum_q, c, px[i % n].q);
        }
        free(s);
    }
    testdata_free(&t);
}

/* Labels        SCL (20 m)      red / nir DN (offset -1000)
 *  1 1 2 2       4 | 9           2000/4000  1000/3000  ....       ....
 *  1 1 2 0       --+--              0/4000  1500/1500  ....       ....
 *  3 1 2 2       5 | 0           1100/1300  3000/1500  ....       ....
 *  3 7 2 1                       1033/1031  ....       ....       ....
 * (....: 2000/4000, a clear-looking pixel whose SCL or label excludes it)
 * label 1: (0,0) clear 0.5 -> 5000; (1,0) red reflectance 0 -> seen only;
 *          (0,1) red no data -> seen only; (1,1) 500/500 -> 0; (1,2) 2000/500 ->
 *          -1500/2500 = -0.6 -> -6000; (3,3) SCL 0 -> not seen.
 *          n_seen 5, n_valid 3, sum_q -1000, sum_q2 25e6 + 0 + 36e6 = 61e6
 * label 2: (2,0) (3,0) (2,1) cloud (9): seen only; (2,2) (3,2) (2,3) SCL 0.
 *          n_seen 3, n_valid 0
 * label 3: (0,2) 100/300 -> 0.5 -> 5000; (0,3) 33/31 -> -2/64 -> -312.5 -> -312.
 *          n_seen 2, n_valid 2, sum_q 4688, sum_q2 25e6 + 97344 = 25097344
 * label 7 > n_labels = 3: ignored; label 0 and (3,1): nothing. */
static void fill_4x4(testdata_window *t)
{
    static const uint32_t labels[4][4] = {{1, 1, 2, 2}, {1, 1, 2, 0}, {3, 1, 2, 2}, {3, 7, 2, 1}};
    static const uint16_t red[4][4] = {{2000, 1000, 2000, 2000},
                                       {0, 1500, 2000, 2000},
                                       {1100, 3000, 2000, 2000},
                                       {1033, 2000, 2000, 2000}};
    static const uint16_t nir[4][4] = {{4000, 3000, 4000, 4000},
                                       {4000, 1500, 4000, 4000},
                                       {1300, 1500, 4000, 4000},
                                       {1031, 4000, 4000, 4000}};
    static const uint8_t scl[2][2] = {{4, 9}, {5, 0}};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            t->labels[y * t->w.label_stride + x] = labels[y][x];
            t->red[y * t->w.band_stride + x] = red[y][x];
            t->nir[y * t->w.band_stride + x] = nir[y][x];
        }
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++)
            t->scl[y * t->w.scl_stride + x] = scl[y][x];
}

static void check_stats(const kernel_stats *s, int64_t n_valid, int64_t n_seen, int64_t sum_q,
                        int64_t sum_q2)
{
    CHECK_INT(s->n_valid, n_valid);
    CHECK_INT(s->n_seen, n_seen);
    CHECK_INT(s->sum_q, sum_q);
    CHECK_INT(s->sum_q2, sum_q2);
}

static void check_moist(const kernel_stats *s, int64_t n_moist, int64_t sum_m)
{
    CHECK_INT(s->n_moist, n_moist);
    CHECK_INT(s->sum_m, sum_m);
}

static void test_window_4x4(void)
{
    for (int pad = 0; pad <= 5; pad += 5)
        for (int how = 0; how < VIA_COUNT; how++) {
            testdata_window t;
            testdata_alloc(&t, 4, 4, pad);
            /* padding holds a clear pixel with a parcel: a stride bug would count it */
            for (ptrdiff_t i = 0; i < t.w.label_stride * 4; i++)
                t.labels[i] = 1;
            for (ptrdiff_t i = 0; i < t.w.band_stride * 4; i++)
                t.red[i] = 2000, t.nir[i] = 4000;
            for (ptrdiff_t i = 0; i < t.w.scl_stride * 2; i++)
                t.scl[i] = 4;
            fill_4x4(&t);
            kernel_stats *s = testdata_stats(3);
            accumulate_via(how, &t.w, &params_b04, s, 3);
            check_stats(&s[0], 0, 0, 0, 0);
            check_stats(&s[1], 3, 5, -1000, 61000000);
            check_stats(&s[2], 0, 3, 0, 0);
            check_stats(&s[3], 2, 2, 4688, 25097344);
            check_stats(&s[4], 0, 0, 0, 0); /* sentinel: label 7 never reaches it */
            for (int i = 0; i <= 4; i++)
                check_moist(&s[i], 0, 0); /* no B11: no NDMI */
            /* Statistics add: running the window again doubles every field. */
            accumulate_via(how, &t.w, &params_b04, s, 3);
            check_stats(&s[1], 6, 10, -2000, 122000000);
            free(s);
            testdata_free(&t);
        }
}

/* The 4x4 window with B11 (20 m, one value per SCL pixel):
 *   B11  2000 | 1200        offset -1000: reflectances 1000 | 200
 *        -----+-----                                  -----+-----
 *        1300 | 1700                                   300 |  700
 * Valid pixels (above) and their NDMI = (nir - swir) / (nir + swir):
 *  label 1: (0,0) nir 3000, swir 1000: 2000/4000 = 0.5 -> 5000
 *           (1,1) nir  500, swir 1000: -500/1500 = -0.3333 -> -3333
 *           (1,2) nir  500, swir  300: 200/800 = 0.25 -> 2500
 *           ((1,0) and (0,1) are seen but not valid: no NDMI, though B11 is there)
 *           n_moist 3, sum_m 5000 - 3333 + 2500 = 4167
 *  label 2: all cloud (B11 1200) or SCL 0 (B11 1700): n_moist 0
 *  label 3: (0,2) nir 300, swir 300: 0 -> 0
 *           (0,3) nir  31, swir 300: -269/331 = -0.812689 -> -8126.89 -> -8127
 *           n_moist 2, sum_m -8127
 * NDVI fields as without B11. */
static void test_window_4x4_swir(void)
{
    static const uint16_t swir[2][2] = {{2000, 1200}, {1300, 1700}};
    for (int how = 0; how < VIA_COUNT; how++) {
        testdata_window t;
        testdata_alloc(&t, 4, 4, 3);
        fill_4x4(&t);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++)
                t.swir[y * t.w.swir_stride + x] = swir[y][x];
        t.swir[2] = t.swir[t.w.swir_stride + 2] = 2000; /* padding: must not be read */
        kernel_window w = testdata_with_swir(&t);
        kernel_stats *s = testdata_stats(3);
        accumulate_via(how, &w, &params_b04, s, 3);
        check_stats(&s[1], 3, 5, -1000, 61000000);
        check_stats(&s[2], 0, 3, 0, 0);
        check_stats(&s[3], 2, 2, 4688, 25097344);
        check_moist(&s[0], 0, 0);
        check_moist(&s[1], 3, 4167);
        check_moist(&s[2], 0, 0);
        check_moist(&s[3], 2, -8127);
        check_moist(&s[4], 0, 0); /* sentinel */
        /* additive: a second run doubles the NDMI fields too */
        accumulate_via(how, &w, &params_b04, s, 3);
        check_moist(&s[1], 6, 8334);
        check_moist(&s[3], 4, -16254);
        free(s);
        testdata_free(&t);
    }
}

/* B11 that adds nothing at offset -1000, and something at offset 0:
 *   B11  0    | 1200
 *        1000 | 1700
 * Offset -1000: B11 0 is no data, so (0,0) and (1,1) of label 1 are valid for
 * NDVI (as above) but add no NDMI; B11 1000 is reflectance 0, not positive, so
 * (1,2), (0,2), (0,3) add none either: every n_moist and sum_m is 0.
 * Offset 0 (valid pixels as in test_window_4x4_offset0): B11 0 still no data;
 * B11 1000 (reflectance 1000):
 *  label 1: (1,2) nir 1500: 500/2500 = 0.2 -> 2000; n_moist 1, sum_m 2000
 *  label 3: (0,2) nir 1300: 300/2300 = 0.130435 -> 1304.35 -> 1304
 *           (0,3) nir 1031: 31/2031 = 0.0152634 -> 152.63 -> 153
 *           n_moist 2, sum_m 1457 */
static void test_window_4x4_swir_no_data(void)
{
    static const uint16_t swir[2][2] = {{0, 1200}, {1000, 1700}};
    kernel_params p0 = {.reflectance_offset_dn = 0, .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    for (int how = 0; how < VIA_COUNT; how++) {
        testdata_window t;
        testdata_alloc(&t, 4, 4, 0);
        fill_4x4(&t);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++)
                t.swir[y * t.w.swir_stride + x] = swir[y][x];
        kernel_window w = testdata_with_swir(&t);
        kernel_stats *s = testdata_stats(3);
        accumulate_via(how, &w, &params_b04, s, 3);
        check_stats(&s[1], 3, 5, -1000, 61000000);
        check_stats(&s[3], 2, 2, 4688, 25097344);
        for (int i = 0; i <= 4; i++)
            check_moist(&s[i], 0, 0);
        free(s);
        s = testdata_stats(3);
        accumulate_via(how, &w, &p0, s, 3);
        check_stats(&s[1], 4, 5, 5000, 47217778);
        check_stats(&s[3], 2, 2, 823, 693989);
        check_moist(&s[1], 1, 2000);
        check_moist(&s[2], 0, 0);
        check_moist(&s[3], 2, 1457);
        free(s);
        testdata_free(&t);
    }
}

/* NDMI pairs worked out as in test_ndvi_q (offset -1000), one per B11 pixel:
 * a 18 x 2 window, 9 B11/SCL pixels, each 2 x 2 pixels of one label with the
 * same nir, so that two SIMD groups of 8 and a scalar tail of 2 see them.
 *   swir/nir 1031/1033: (33 - 31) / 64 = 1/32 -> 312.5 -> 312 (half to even)
 *            1033/1031: -312;  1029/1035: 6/64 -> 937.5 -> 938;  1035/1029: -938
 *            1027/1037: 10/64 -> 1562.5 -> 1562;  2000/4000: 2000/4000 -> 5000
 *            1001/65535: 64534/64536 -> 9999.69 -> 10000
 *            900/4000: swir reflectance -100: not moist
 *            1100/1300 (the tail): 200/400 -> 5000
 * Red is 2000 everywhere: every pixel is valid (n_valid 4 per label). */
static void test_ndmi_ties(void)
{
    static const struct {
        uint16_t swir, nir;
        int moist;
        int32_t m;
    } cell[9] = {{1031, 1033, 1, 312},   {1033, 1031, 1, -312}, {1029, 1035, 1, 938},
                 {1035, 1029, 1, -938},  {1027, 1037, 1, 1562}, {2000, 4000, 1, 5000},
                 {1001, 65535, 1, 10000}, {900, 4000, 0, 0},     {1100, 1300, 1, 5000}};
    for (int avx2 = 0; avx2 <= 1; avx2++) {
        kernel_cpu_set_simd(avx2);
        for (int how = 0; how < VIA_COUNT; how++) {
            testdata_window t;
            testdata_alloc(&t, 18, 2, 0);
            memset(t.scl, 4, 9);
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 18; x++) {
                    t.red[y * 18 + x] = 2000;
                    t.nir[y * 18 + x] = cell[x / 2].nir;
                    t.labels[y * 18 + x] = (uint32_t)(x / 2 + 1);
                }
            for (int c = 0; c < 9; c++)
                t.swir[c] = cell[c].swir;
            kernel_window w = testdata_with_swir(&t);
            kernel_stats *s = testdata_stats(9);
            accumulate_via(how, &w, &params_b04, s, 9);
            for (int c = 0; c < 9; c++)
                CHECK_MSG(s[c + 1].n_valid == 4 && s[c + 1].n_moist == 4 * cell[c].moist &&
                              s[c + 1].sum_m == 4 * cell[c].m,
                          "B11 %u nir %u via %d, avx2 %d: n_valid %lld n_moist %lld sum_m %lld, "
                          "expected 4 %d %d",
                          cell[c].swir, cell[c].nir, how, avx2, (long long)s[c + 1].n_valid,
                          (long long)s[c + 1].n_moist, (long long)s[c + 1].sum_m,
                          4 * cell[c].moist, 4 * cell[c].m);
            free(s);
            testdata_free(&t);
        }
    }
    kernel_cpu_set_simd(1);
}

/* B11 20 m -> 10 m in windows of odd size at even offsets (x0, y0) of a tile:
 * the window's B11 pointer is the tile's at (x0 / 2, y0 / 2), and tile pixel
 * (X, Y) takes B11 pixel (X / 2, Y / 2). Every pixel is valid (SCL 4, red 2000,
 * nir 4000: reflectance 3000) with a label of its own; B11 pixel (cx, cy) of the
 * tile is DN[(cx + 3 * cy) % 8] of this table, NDMI (3000 - s) / (3000 + s) of
 * reflectance s = DN - 1000:
 *   DN 2000: 2000/4000 = 0.5 -> 5000    DN 4000: 0 -> 0
 *   DN 2500: 1500/4500 -> 3333          DN 1600: 2400/3600 -> 6666.67 -> 6667
 *   DN 6000: -2000/8000 -> -2500        DN 1000: reflectance 0, not moist
 *   DN 0: no data, not moist            DN 1200: 2800/3200 = 0.875 -> 8750
 * Windows 5x3 and 21x5 (SIMD groups and a scalar tail), at (0,0), (2,2), (4,0). */
static void test_swir_mapping_in_tile(void)
{
    static const uint16_t dn[8] = {2000, 4000, 2500, 1600, 6000, 1000, 0, 1200};
    static const int moist[8] = {1, 1, 1, 1, 1, 0, 0, 1};
    static const int32_t m[8] = {5000, 0, 3333, 6667, -2500, 0, 0, 8750};
    static const struct {
        int x0, y0, width, height;
    } win[] = {{0, 0, 5, 3}, {2, 2, 5, 3}, {4, 0, 5, 3}, {0, 0, 21, 5}, {2, 2, 21, 5},
               {4, 0, 21, 5}};
    const int tw = 27, th = 9, sw = (tw + 1) / 2, sh = (th + 1) / 2;
    testdata_window tile;
    testdata_alloc(&tile, tw, th, 0);
    memset(tile.scl, 4, (size_t)tile.w.scl_stride * sh);
    for (int i = 0; i < tw * th; i++)
        tile.red[i] = 2000, tile.nir[i] = 4000;
    for (int cy = 0; cy < sh; cy++)
        for (int cx = 0; cx < sw; cx++)
            tile.swir[cy * tile.w.swir_stride + cx] = dn[(cx + 3 * cy) % 8];
    for (size_t k = 0; k < sizeof win / sizeof win[0]; k++) {
        int x0 = win[k].x0, y0 = win[k].y0, ww = win[k].width, wh = win[k].height;
        kernel_window w = testdata_with_swir(&tile);
        w.width = ww;
        w.height = wh;
        w.red = tile.red + y0 * tile.w.band_stride + x0;
        w.nir = tile.nir + y0 * tile.w.band_stride + x0;
        w.scl = tile.scl + (y0 / 2) * tile.w.scl_stride + x0 / 2;
        w.swir = tile.swir + (y0 / 2) * tile.w.swir_stride + x0 / 2;
        w.labels = tile.labels + y0 * tile.w.label_stride + x0;
        for (int y = 0; y < wh; y++)
            for (int x = 0; x < ww; x++)
                tile.labels[(y0 + y) * tile.w.label_stride + x0 + x] = (uint32_t)(y * ww + x + 1);
        uint32_t n = (uint32_t)(ww * wh);
        for (int how = 0; how < VIA_COUNT; how++) {
            kernel_stats *s = testdata_stats(n);
            accumulate_via(how, &w, &params_b04, s, n);
            int bad = 0;
            for (int y = 0; y < wh; y++)
                for (int x = 0; x < ww; x++) {
                    int c = ((x0 + x) / 2 + 3 * ((y0 + y) / 2)) % 8;
                    const kernel_stats *st = &s[y * ww + x + 1];
                    bad += st->n_valid != 1 || st->sum_q != 5000 || st->n_moist != moist[c] ||
                           st->sum_m != m[c];
                }
            CHECK_MSG(bad == 0, "window %dx%d at (%d,%d) via %d: %d pixels wrong", ww, wh, x0, y0,
                      how, bad);
            free(s);
        }
        memset(tile.labels, 0, (size_t)tile.w.label_stride * th * sizeof *tile.labels);
    }
    testdata_free(&tile);
}

/* With offset 0 the same window: (1,0) 1000/3000 -> 0.5 -> 5000 becomes clear,
 * (1,2) 3000/1500 -> -1500/4500 -> -3333.33 -> -3333, (0,0) 2000/6000 -> 3333,
 * (1,1) -> 0. Label 1: n_valid 4, sum_q 3333 + 5000 + 0 - 3333 = 5000,
 * sum_q2 3333^2 * 2 + 25e6 = 22217778 + 25e6 = 47217778.
 * Label 3: (0,2) 1100/1300 -> 200/2400 -> 833.33 -> 833; (0,3) 1033/1031 ->
 * -2/2064 -> -9.69 -> -10. sum_q 823, sum_q2 693889 + 100 = 693989. */
static void test_window_4x4_offset0(void)
{
    testdata_window t;
    testdata_alloc(&t, 4, 4, 0);
    fill_4x4(&t);
    kernel_params p = {.reflectance_offset_dn = 0, .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    for (int how = 0; how < VIA_COUNT; how++) {
        kernel_stats *s = testdata_stats(3);
        accumulate_via(how, &t.w, &p, s, 3);
        check_stats(&s[1], 4, 5, 5000, 47217778);
        check_stats(&s[2], 0, 3, 0, 0);
        check_stats(&s[3], 2, 2, 823, 693989);
        free(s);
    }
    testdata_free(&t);
}

/* A mask that makes cloud (9) clear too: label 2's (2,0) (3,0) (2,1) become
 * clear with 2000/4000 -> 5000 each; label 1's (1,2) is SCL 5, now not clear. */
static void test_window_4x4_mask(void)
{
    testdata_window t;
    testdata_alloc(&t, 4, 4, 0);
    fill_4x4(&t);
    kernel_params p = {.reflectance_offset_dn = -1000, .scl_valid_mask = (1u << 4) | (1u << 9)};
    for (int how = 0; how < VIA_COUNT; how++) {
        kernel_stats *s = testdata_stats(3);
        accumulate_via(how, &t.w, &p, s, 3);
        check_stats(&s[1], 2, 5, 5000, 25000000);
        check_stats(&s[2], 3, 3, 15000, 75000000);
        check_stats(&s[3], 0, 2, 0, 0);
        free(s);
    }
    testdata_free(&t);
}

/* SCL 20 m -> 10 m, width 5 (odd), height 3 (odd): SCL is 3 x 2.
 *   SCL  4 8 4        pixel x: 0 1 2 3 4  -> SCL column 0 0 1 1 2
 *        8 4 8        pixel y: 0 1 2      -> SCL row    0 0 1
 * Clear (class 4) pixels, by hand:
 *   y0: 1 1 0 0 1
 *   y1: 1 1 0 0 1
 *   y2: 0 0 1 1 0
 * One label per pixel; every pixel 2000/4000 (-> 5000) and seen. The padding
 * column of SCL is class 4, the other classes 8, so reading it would show. */
static void test_scl_mapping_odd(void)
{
    static const int clear[3][5] = {{1, 1, 0, 0, 1}, {1, 1, 0, 0, 1}, {0, 0, 1, 1, 0}};
    static const uint8_t scl[2][3] = {{4, 8, 4}, {8, 4, 8}};
    for (int how = 0; how < VIA_COUNT; how++) {
        testdata_window t;
        testdata_alloc(&t, 5, 3, 2);
        memset(t.scl, 4, (size_t)t.w.scl_stride * 2);
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                t.scl[y * t.w.scl_stride + x] = scl[y][x];
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 5; x++) {
                t.labels[y * t.w.label_stride + x] = (uint32_t)(y * 5 + x + 1);
                t.red[y * t.w.band_stride + x] = 2000;
                t.nir[y * t.w.band_stride + x] = 4000;
            }
        kernel_stats *s = testdata_stats(15);
        accumulate_via(how, &t.w, &params_b04, s, 15);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 5; x++) {
                const kernel_stats *st = &s[y * 5 + x + 1];
                CHECK_MSG(st->n_valid == clear[y][x] && st->n_seen == 1 &&
                              st->sum_q == 5000 * clear[y][x],
                          "pixel (%d,%d) via %d: n_valid %lld n_seen %lld sum_q %lld", x, y, how,
                          (long long)st->n_valid, (long long)st->n_seen, (long long)st->sum_q);
            }
        free(s);
        testdata_free(&t);
    }
}

/* Wide odd windows go through the 8-pixel SIMD groups and a scalar tail: SCL
 * column c is clear (4) when c % 3 == 0 and row r when r % 2 == 0, so 10 m pixel
 * (x, y) is clear exactly when (x / 2) % 3 == 0 and (y / 2) % 2 == 0. */
static void test_scl_mapping_wide(void)
{
    for (int width = 17; width <= 41; width += 12) {
        int height = 7;
        testdata_window t;
        testdata_alloc(&t, width, height, 1);
        int sw = (width + 1) / 2;
        for (int r = 0; r < (height + 1) / 2; r++)
            for (int c = 0; c < sw + 1; c++) /* + 1: the padding column */
                t.scl[r * t.w.scl_stride + c] = c < sw && c % 3 == 0 && r % 2 == 0 ? 4 : 8;
        uint32_t n = (uint32_t)(width * height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                t.labels[y * t.w.label_stride + x] = (uint32_t)(y * width + x + 1);
                t.red[y * t.w.band_stride + x] = 1100; /* 100 / 300 -> 5000 */
                t.nir[y * t.w.band_stride + x] = 1300;
            }
        for (int how = 0; how < VIA_COUNT; how++) {
            kernel_stats *s = testdata_stats(n);
            accumulate_via(how, &t.w, &params_b04, s, n);
            int bad = 0;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) {
                    int c = (x / 2) % 3 == 0 && (y / 2) % 2 == 0;
                    const kernel_stats *st = &s[y * width + x + 1];
                    if (st->n_valid != c || st->n_seen != 1 || st->sum_q != 5000 * c ||
                        st->sum_q2 != 25000000LL * c)
                        bad++;
                }
            CHECK_MSG(bad == 0, "width %d via %d: %d pixels wrong", width, how, bad);
            free(s);
        }
        testdata_free(&t);
    }
}

/* Labels above n_labels (including 2^32 - 1) are ignored and never written. */
static void test_labels_out_of_range(void)
{
    testdata_window t;
    testdata_alloc(&t, 20, 2, 0);
    memset(t.scl, 4, 10);
    for (int x = 0; x < 20; x++)
        for (int y = 0; y < 2; y++) {
            t.red[y * 20 + x] = 2000;
            t.nir[y * 20 + x] = 4000;
            /* row 0: 1 1 2 2 3 3 4 4 ...; row 1: 0xFFFFFFFF then 2 */
            t.labels[y * 20 + x] = y == 0 ? (uint32_t)(x / 2 + 1) : x < 10 ? 0xFFFFFFFFu : 2;
        }
    for (int how = 0; how < VIA_COUNT; how++) {
        kernel_stats *s = testdata_stats(2);
        accumulate_via(how, &t.w, &params_b04, s, 2);
        check_stats(&s[0], 0, 0, 0, 0);
        check_stats(&s[1], 2, 2, 10000, 50000000);
        check_stats(&s[2], 12, 12, 60000, 300000000);
        check_stats(&s[3], 0, 0, 0, 0); /* the sentinel past n_labels */
        free(s);
    }
    testdata_free(&t);
}

static void test_bad_arguments(void)
{
    kernel_stats s[2] = {{0}};
    kernel_window w = {.width = 4, .height = 4};
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, NULL, &params_b04, s, 1, 1), KERNEL_ERR_ARGS);
    CHECK(strstr(kernel_error_message(), "null") != NULL);
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &w, &params_b04, s, 1, 1), KERNEL_ERR_ARGS);
    CHECK(strstr(kernel_error_message(), "4x4 window lacks a band") != NULL);
    uint16_t band[16] = {0};
    uint8_t scl[4] = {0};
    uint32_t labels[16] = {0};
    w = (kernel_window){.width = 4, .height = 4, .red = band, .nir = band, .band_stride = 3,
                        .scl = scl, .scl_stride = 2, .labels = labels, .label_stride = 4};
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &w, &params_b04, s, 1, 1), KERNEL_ERR_ARGS);
    CHECK(strstr(kernel_error_message(), "strides") != NULL);
    w.band_stride = 4;
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &w, &params_b04, s, 1, 1), KERNEL_OK);
    uint16_t swir[4] = {0};
    w.swir = swir;
    w.swir_stride = 1; /* 4 px wide: 2 B11 px per row */
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &w, &params_b04, s, 1, 1), KERNEL_ERR_ARGS);
    CHECK(strstr(kernel_error_message(), "B11 row stride 1") != NULL);
    w.swir_stride = 2;
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &w, &params_b04, s, 1, 1), KERNEL_OK);
    w.width = w.height = 0; /* empty windows are fine and add nothing */
    CHECK_INT(kernel_accumulate(KERNEL_DEVICE_CPU, &w, &params_b04, s, 1, 1), KERNEL_OK);
    CHECK_INT(s[1].n_seen, 0);
}

int main(void)
{
    test_ndvi_q();
    kernel_cpu_set_simd(0); /* the SSE4.1 path, then AVX2 where the CPU has it */
    test_ndvi_q_in_window();
    kernel_cpu_set_simd(1);
    test_ndvi_q_in_window();
    test_window_4x4();
    test_window_4x4_offset0();
    test_window_4x4_mask();
    test_window_4x4_swir();
    test_window_4x4_swir_no_data();
    test_ndmi_ties();
    test_swir_mapping_in_tile();
    test_scl_mapping_odd();
    test_scl_mapping_wide();
    test_labels_out_of_range();
    test_bad_arguments();
    return test_summary();
}
