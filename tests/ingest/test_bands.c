/* Block reading against statistics worked out by hand (no database): a 32 x 32 tile
 * in four 16 x 16 blocks, a label raster written by the test.
 *
 * label 1: x 2..5, y 2..5 (block 0,0). red 1000; nir 3000 for x 2..3 (NDVI 0.5,
 *          q 5000), nir 1000 for x 4..5 (NDVI 0); pixel (2,2) has red DN 0 (no data).
 *          offset 0:     n_seen 16, n_valid 15, sum_q 7*5000 = 35000, sum_q2 7*5000^2.
 *          offset -1000: red reflectance 0 -> no pixel valid; n_seen 16.
 * label 2: x 20..23, y 20..23 (block 1,1). red 2000, nir 6000; SCL pixel (10,10),
 *          i.e. x 20..21 y 20..21, is cloud (9): 12 valid of 16.
 *          offset 0: q = 10000 * 4000/8000 = 5000; offset -1000: 10000 * 4000/6000
 *          = 6666.67 -> 6667.
 * label 3: x 18..19, y 0..1 (block 1,0), whose SCL is all cloud (8): n_seen 4,
 *          n_valid 0, and B04/B08 of that block are never decoded.
 * Block 0,1 has no label: skipped without decoding.
 *
 * With B11 (SWIR, 20 m): DN 1000, except 20 m cell (1,1) (10 m x 2..3, y 2..3) DN 0 (no
 *          data) and the cells of label 2 (x 10..11, y 10..11) DN 3000.
 * label 1, offset 0: of the 15 valid pixels, x 2..3 y 2..3 (3 valid: (2,2) has no red)
 *          have no SWIR: n_moist 12; x 2..3 y 4..5 NDMI (3000 - 1000)/4000 = 0.5 (q 5000),
 *          x 4..5 y 2..5 (1000 - 1000)/2000 = 0: sum_m 4 * 5000 = 20000.
 * label 2, offset 0: (6000 - 3000)/9000 = 0.33333 -> q 3333, 12 valid: sum_m 39996;
 *          offset -1000: (5000 - 2000)/7000 = 0.428571 -> q 4286: sum_m 51432.
 * label 3: all cloud, nothing. Without B11 n_moist and sum_m stay 0 (checked above). */
#include "fixture.h"

#include "bands.h"
#include "error.h"
#include "log.h"
#include "scene.h"
#include "test.h"

static uint32_t labels[FX_H][FX_W];
static int64_t n_pixels[4];

static void make_labels(label_raster *lr)
{
    memset(labels, 0, sizeof labels);
    for (int y = 2; y <= 5; y++)
        for (int x = 2; x <= 5; x++)
            labels[y][x] = 1;
    for (int y = 20; y <= 23; y++)
        for (int x = 20; x <= 23; x++)
            labels[y][x] = 2;
    for (int y = 0; y <= 1; y++)
        for (int x = 18; x <= 19; x++)
            labels[y][x] = 3;
    n_pixels[1] = 16;
    n_pixels[2] = 16;
    n_pixels[3] = 4;
    memset(lr, 0, sizeof *lr);
    lr->width = FX_W;
    lr->height = FX_H;
    lr->labels = &labels[0][0];
    lr->n_labels = 3;
    lr->n_pixels = n_pixels;
}

static void make_scene(fx_scene *s)
{
    fx_scene_fill(s, 1000, 3000, 4);
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            if (x >= 4 && x <= 5)
                s->nir[y][x] = 1000;
            if (x >= 16 && y >= 16) {
                s->red[y][x] = 2000;
                s->nir[y][x] = 6000;
            }
        }
    s->red[2][2] = 0;
    s->scl[10][10] = 9;
    for (int y = 0; y < 8; y++)
        for (int x = 8; x < 16; x++)
            s->scl[y][x] = 8;
}

static void run(const scene_info *sc, const tile_grid *g, const label_raster *lr, int32_t offset,
                int threads, kernel_stats st[4], bands_counts *c)
{
    kernel_params p = {.reflectance_offset_dn = offset,
                       .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    memset(st, 0, 4 * sizeof *st);
    memset(c, 0, sizeof *c);
    int rc = bands_accumulate(sc, g, lr, &p, KERNEL_DEVICE_CPU, threads, st, c);
    CHECK_MSG(rc == MC_OK, "bands_accumulate: %s", mc_error_message());
}

static void test_swir(const char *dir, const char *id, const fx_scene *s, const label_raster *lr)
{
    static uint16_t swir[FX_SH][FX_SW];
    for (int y = 0; y < FX_SH; y++)
        for (int x = 0; x < FX_SW; x++)
            swir[y][x] = 1000;
    swir[1][1] = 0;
    for (int y = 10; y <= 11; y++)
        for (int x = 10; x <= 11; x++)
            swir[y][x] = 3000;
    REQUIRE(fx_write_swir(dir, id, s, swir) == 0);
    scene_info sc;
    tile_grid g;
    REQUIRE(scene_load(dir, id, &sc) == MC_OK);
    CHECK_MSG(scene_validate(&sc, &g) == MC_OK, "with B11: %s", mc_error_message());
    CHECK_INT(sc.has_swir, 1);

    kernel_stats st[4], st2[4];
    bands_counts c, c2;
    run(&sc, &g, lr, 0, 1, st, &c);
    CHECK_INT(st[1].n_valid, 15); /* NDVI as without B11 */
    CHECK_INT(st[1].sum_q, 35000);
    CHECK_INT(st[1].n_moist, 12);
    CHECK_INT(st[1].sum_m, 20000);
    CHECK_INT(st[2].n_moist, 12);
    CHECK_INT(st[2].sum_m, 39996);
    CHECK_INT(st[3].n_moist, 0);
    run(&sc, &g, lr, 0, 3, st2, &c2);
    CHECK(memcmp(st, st2, sizeof st) == 0);
    if (kernel_cuda_available()) {
        kernel_params pc = {.reflectance_offset_dn = 0,
                            .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
        memset(st2, 0, sizeof st2);
        CHECK_INT(bands_accumulate(&sc, &g, lr, &pc, KERNEL_DEVICE_CUDA, 2, st2, &c2), MC_OK);
        CHECK(memcmp(st, st2, sizeof st) == 0);
    }
    run(&sc, &g, lr, -1000, 2, st, &c);
    CHECK_INT(st[1].n_moist, 0);
    CHECK_INT(st[2].n_moist, 12);
    CHECK_INT(st[2].sum_m, 51432);

    /* a B11 on the wrong grid (10 m) or of the wrong type refuses the scene, naming it */
    char b11[512];
    snprintf(b11, sizeof b11, "%s/%s/B11.tif", dir, id);
    REQUIRE(fx_write_band(b11, FX_W, FX_H, GDT_UInt16, s->red, s->x0, s->y0, 10, s->epsg) == 0);
    CHECK_INT(scene_validate(&sc, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), b11) != NULL, "message '%s' does not name %s",
              mc_error_message(), b11);
    REQUIRE(fx_write_band(b11, FX_SW, FX_SH, GDT_Byte, s->scl, s->x0, s->y0, 20, s->epsg) == 0);
    CHECK_INT(scene_validate(&sc, &g), MC_ERR);
    CHECK(strstr(mc_error_message(), "UInt16") != NULL);
    /* an empty file where B11 should be: present, so not silently ignored */
    FILE *f = fopen(b11, "w");
    REQUIRE(f != NULL);
    fclose(f);
    CHECK_INT(scene_validate(&sc, &g), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), b11) != NULL, "message '%s' does not name %s",
              mc_error_message(), b11);
    unlink(b11);
}

/* The plausibility rule on closed-form sample counts. */
static void test_plausible(void)
{
    scene_info sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.path, sizeof sc.path, "/scenes/S2B_35VLF_20260615_0_L2A");
    snprintf(sc.offset_source, sizeof sc.offset_source, "processing baseline 05.11");
    sc.reflectance_offset_dn = -1000;
    bands_counts c = {.veg_sampled = 2000, .veg_below_zero = 1500};
    CHECK_INT(bands_check_plausible(&sc, &c), MC_ERR);
    const char *m = mc_error_message();
    CHECK_MSG(strstr(m, "offset looks applied twice") && strstr(m, "75%") && strstr(m, sc.path) &&
                  strstr(m, "05.11"),
              "message '%s'", m);
    c = (bands_counts){.veg_sampled = 2000, .veg_ndvi_not_positive = 1200};
    CHECK_INT(bands_check_plausible(&sc, &c), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "implausible NDVI") != NULL, "message '%s'",
              mc_error_message());
    c = (bands_counts){.veg_sampled = 2000, .veg_below_zero = 500, .veg_ndvi_not_positive = 400};
    CHECK_INT(bands_check_plausible(&sc, &c), MC_OK); /* 45%: not mostly */
    c = (bands_counts){.veg_sampled = BANDS_PLAUSIBLE_MIN_VEG - 1,
                       .veg_below_zero = BANDS_PLAUSIBLE_MIN_VEG - 1};
    CHECK_INT(bands_check_plausible(&sc, &c), MC_OK); /* too few to judge */
}

int main(void)
{
    test_plausible();
    char dir[256];
    log_set_level(LOG_ERROR);
    GDALAllRegister();
    bands_configure_gdal();
    fx_tmpdir(dir, sizeof dir, "bands");
    fx_scene s;
    make_scene(&s);
    const char *id = "S2B_35VLF_20260615_0_L2A";
    REQUIRE(fx_write_scene(dir, id, &s, NULL) == 0);
    scene_info sc;
    tile_grid g;
    label_raster lr;
    REQUIRE(scene_load(dir, id, &sc) == MC_OK);
    REQUIRE(scene_validate(&sc, &g) == MC_OK);
    make_labels(&lr);

    kernel_stats st[4], st3[4];
    bands_counts c, c3;
    run(&sc, &g, &lr, 0, 1, st, &c);
    CHECK_INT(st[1].n_seen, 16);
    CHECK_INT(st[1].n_valid, 15);
    CHECK_INT(st[1].sum_q, 35000);
    CHECK_INT(st[1].sum_q2, 7LL * 5000 * 5000);
    CHECK_INT(st[2].n_seen, 16);
    CHECK_INT(st[2].n_valid, 12);
    CHECK_INT(st[2].sum_q, 12 * 5000);
    CHECK_INT(st[2].sum_q2, 12LL * 5000 * 5000);
    CHECK_INT(st[3].n_seen, 4);
    CHECK_INT(st[3].n_valid, 0);
    CHECK_INT(c.pixels_decoded, 2 * 256);
    CHECK_INT(c.pixels_skipped, 2 * 256);
    CHECK_INT(c.windows_no_parcel, 1);
    CHECK_INT(c.windows_cloudy, 1);

    /* the same on 3 threads, bit for bit */
    run(&sc, &g, &lr, 0, 3, st3, &c3);
    CHECK(memcmp(st, st3, sizeof st) == 0);
    CHECK_INT(c3.pixels_decoded, c.pixels_decoded);

    /* the full-tile path through the CUDA kernel gives the same integers */
    if (kernel_cuda_available()) {
        kernel_params pc = {.reflectance_offset_dn = 0,
                            .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
        memset(st3, 0, sizeof st3);
        CHECK_INT(bands_accumulate(&sc, &g, &lr, &pc, KERNEL_DEVICE_CUDA, 2, st3, &c3), MC_OK);
        CHECK(memcmp(st, st3, sizeof st) == 0);
        CHECK_INT(c3.pixels_decoded, c.pixels_decoded);
    } else {
        printf("no CUDA GPU: the full-tile CUDA path is not exercised here\n");
    }

    /* baseline 04.00 offset */
    run(&sc, &g, &lr, -1000, 2, st, &c);
    CHECK_INT(st[1].n_seen, 16);
    CHECK_INT(st[1].n_valid, 0);
    CHECK_INT(st[2].n_valid, 12);
    CHECK_INT(st[2].sum_q, 12 * 6667);
    CHECK_INT(st[2].sum_q2, 12LL * 6667 * 6667);

    /* no B11: the NDMI sums stay 0 */
    CHECK_INT(sc.has_swir, 0);
    CHECK_INT(st[2].n_moist, 0);
    CHECK_INT(st[2].sum_m, 0);
    test_swir(dir, id, &s, &lr);

    /* a truncated B08 that GDAL still opens: the read fails, naming the file */
    char b08[512];
    snprintf(b08, sizeof b08, "%s/%s/B08.tif", dir, id);
    /* noise, so that the tiles and not the directory fill the file */
    uint32_t r = 12345;
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            r = r * 1103515245u + 12345u;
            s.nir[y][x] = (uint16_t)(1 + (r >> 16) % 60000);
        }
    REQUIRE(fx_write_scene(dir, id, &s, NULL) == 0);
    REQUIRE(fx_truncate_half(b08) == 0);
    kernel_params p = {.reflectance_offset_dn = 0, .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    memset(st, 0, sizeof st);
    int validated = scene_validate(&sc, &g);
    int rc = validated == MC_OK ? bands_accumulate(&sc, &g, &lr, &p, KERNEL_DEVICE_CPU, 2, st, &c)
                                : MC_ERR;
    CHECK_INT(rc, MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), b08) != NULL, "message '%s' does not name %s",
              mc_error_message(), b08);
    printf("truncated B08 (%s at validation): %s\n", validated == MC_OK ? "opened" : "refused",
           mc_error_message());

    fx_rmtree(dir);
    return test_summary();
}
