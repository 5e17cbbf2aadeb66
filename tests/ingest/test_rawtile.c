/* The raw tile path (tiff_tiles.c through bands.c) against GDAL, bit for bit.
 *
 * One scene's pixels (301 x 270 at 10 m: odd width, edge tiles everywhere) are written
 * by GDAL in many ways: DEFLATE with and without the horizontal predictor, ZSTD,
 * uncompressed, big-endian, 10 m tiles of 32..256 px with SCL/B11 tiles of 16..64 px
 * (not multiples of each other), with and without B11. Each must give, read raw, the
 * statistics that MOWCHECK_DECODE=gdal gives, and all must give the same statistics as
 * each other (the pixels are the same). Bands that do not qualify (LZW, PackBits,
 * strips) fall back to GDAL with the same result. Garbage in tiles under skipped
 * windows (no parcel, all cloud) changes nothing, as they are never read; a corrupt or
 * truncated tile that is read fails naming the file and the tile. A hand-made file
 * whose tile holds more than a tile of DEFLATE data (libtiff ignores the excess) reads
 * as GDAL reads it. */
#include "fixture.h"

#include <cpl_conv.h>

#include "bands.h"
#include "error.h"
#include "log.h"
#include "scene.h"
#include "test.h"
#include "tiff_tiles.h"

enum { RW = 301, RH = 270, RSW = (RW + 1) / 2, RSH = (RH + 1) / 2, N_LABELS = 400 };

static uint16_t red[RH][RW], nir[RH][RW], swir[RSH][RSW];
static uint8_t scl[RSH][RSW];
static uint32_t labels[RH][RW];
static int64_t n_pixels[N_LABELS + 1];
static const char *const scene_id = "S2B_35VLF_20260615_0_L2A";

static uint32_t rng = 2026;
static uint32_t next_random(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Smooth fields plus noise (so the predictor matters), a few no-data pixels, SCL with
 * vegetation, soil, water, and one block of cloud that covers whole windows. */
static void make_pixels(void)
{
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++) {
            red[y][x] = (uint16_t)(400 + 3 * x + 2 * y + next_random() % 300);
            nir[y][x] = (uint16_t)(2500 + 5 * y - 2 * x + next_random() % 900);
            if (next_random() % 97 == 0)
                red[y][x] = 0;
        }
    static const uint8_t classes[] = {4, 4, 4, 5, 6, 4, 9, 3, 4, 5};
    for (int y = 0; y < RSH; y++)
        for (int x = 0; x < RSW; x++) {
            scl[y][x] = classes[next_random() % sizeof classes];
            swir[y][x] = (uint16_t)(next_random() % 5 == 0 ? 0 : 800 + next_random() % 2000);
            if (x >= 64 && x < 128 && y < 64)
                scl[y][x] = 8; /* cloud over 10 m x 128..255, y 0..127 */
        }
}

/* Parcels of 13 x 11 px with one-pixel gaps, none in 10 m x 0..127, y 128..255. */
static void make_labels(label_raster *lr)
{
    memset(n_pixels, 0, sizeof n_pixels);
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++) {
            int empty = x < 128 && y >= 128 && y < 256;
            uint32_t l = empty || x % 13 == 0 || y % 11 == 0
                             ? 0
                             : 1 + (uint32_t)((x / 13) + (y / 11) * 31) % N_LABELS;
            labels[y][x] = l;
            n_pixels[l] += l != 0;
        }
    *lr = (label_raster){.width = RW, .height = RH, .labels = &labels[0][0],
                         .n_labels = N_LABELS, .n_pixels = n_pixels};
}

/* How one case writes its files: options for B04, B08 and the 20 m bands (SCL, B11). */
typedef struct raw_case {
    const char *name;
    const char *red[8], *nir[8], *band20[8];
    int with_swir;
    int64_t expect_raw; /* bands the raw path should read */
    int windows_skipped; /* 1: the windows are small enough that some have no parcel or
                            only cloud (B04 tiles up to 128 px) */
} raw_case;

#define TILED(n) "TILED=YES", "BLOCKXSIZE=" #n, "BLOCKYSIZE=" #n
#define COG "COPY_SRC_OVERVIEWS=YES"

static const raw_case cases[] = {
    {"DEFLATE predictor 2, 64/64, B11",
     {TILED(64), "COMPRESS=DEFLATE", "PREDICTOR=2", COG},
     {TILED(64), "COMPRESS=DEFLATE", "PREDICTOR=2", COG},
     {TILED(64), "COMPRESS=DEFLATE", "PREDICTOR=2", COG}, 1, 4, 1},
    {"DEFLATE, 32/64",
     {TILED(32), "COMPRESS=DEFLATE", COG},
     {TILED(32), "COMPRESS=DEFLATE", COG},
     {TILED(64), "COMPRESS=DEFLATE", COG}, 0, 3, 1},
    {"ZSTD predictor 2, 128/48, B11",
     {TILED(128), "COMPRESS=ZSTD", "PREDICTOR=2", COG},
     {TILED(128), "COMPRESS=ZSTD", "PREDICTOR=2", COG},
     {TILED(48), "COMPRESS=ZSTD", "PREDICTOR=2", COG}, 1, 4, 1},
    {"uncompressed, 64/16",
     {TILED(64), COG}, {TILED(64), COG}, {TILED(16), COG}, 0, 3, 1},
    {"big-endian DEFLATE predictor 2, 256/32 and 64/32, B11",
     {TILED(256), "COMPRESS=DEFLATE", "PREDICTOR=2", "ENDIANNESS=BIG"},
     {TILED(64), "COMPRESS=DEFLATE", "PREDICTOR=2", "ENDIANNESS=BIG"},
     {TILED(32), "COMPRESS=DEFLATE", "PREDICTOR=2", "ENDIANNESS=BIG"}, 1, 4, 0},
    {"fallback: B08 LZW, SCL and B11 in strips",
     {TILED(64), "COMPRESS=DEFLATE", "PREDICTOR=2", COG},
     {TILED(64), "COMPRESS=LZW", "PREDICTOR=2", COG},
     {"TILED=NO", "COMPRESS=DEFLATE"}, 1, 1, 1},
    {"fallback: B04 in strips, B08 PackBits",
     {"TILED=NO", "BLOCKYSIZE=8", "COMPRESS=DEFLATE"},
     {TILED(64), "COMPRESS=PACKBITS"},
     {TILED(32), "COMPRESS=DEFLATE"}, 0, 1, 0},
};

static int write_case(const char *dir, const raw_case *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, scene_id);
    if (fx_mkdirs(path) != 0)
        return -1;
    const struct {
        const char *band;
        int w, h;
        GDALDataType type;
        const void *data;
        const char *const *opts;
    } files[] = {{"B04", RW, RH, GDT_UInt16, red, c->red},
                 {"B08", RW, RH, GDT_UInt16, nir, c->nir},
                 {"SCL", RSW, RSH, GDT_Byte, scl, c->band20},
                 {"B11", RSW, RSH, GDT_UInt16, swir, c->band20}};
    int n = c->with_swir ? 4 : 3;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s.tif", dir, scene_id, files[i].band);
        double px_m = files[i].w == RW ? 10 : 20;
        if (fx_write_band_opts(path, files[i].w, files[i].h, files[i].type, files[i].data,
                               FX_X0, FX_Y0, px_m, 32635, (char **)files[i].opts) != 0)
            return -1;
    }
    return 0;
}

static int accumulate(const scene_info *sc, const tile_grid *g, const label_raster *lr,
                      int threads, int force_gdal, kernel_stats *st, bands_counts *c)
{
    kernel_params p = {.reflectance_offset_dn = -1000,
                       .scl_valid_mask = KERNEL_SCL_DEFAULT_VALID_MASK};
    memset(st, 0, (N_LABELS + 1) * sizeof *st);
    memset(c, 0, sizeof *c);
    if (force_gdal)
        setenv("MOWCHECK_DECODE", "gdal", 1);
    int rc = bands_accumulate(sc, g, lr, &p, KERNEL_DEVICE_CPU, threads, st, c);
    unsetenv("MOWCHECK_DECODE");
    return rc;
}

static int counts_equal(const bands_counts *a, const bands_counts *b)
{
    return a->pixels_decoded == b->pixels_decoded && a->pixels_skipped == b->pixels_skipped &&
           a->windows_no_parcel == b->windows_no_parcel && a->windows_cloudy == b->windows_cloudy &&
           a->veg_sampled == b->veg_sampled && a->veg_below_zero == b->veg_below_zero &&
           a->veg_ndvi_not_positive == b->veg_ndvi_not_positive;
}

static kernel_stats st_raw[N_LABELS + 1], st_gdal[N_LABELS + 1], st_ref[2][N_LABELS + 1];
static int have_ref[2];

/* One case: raw on 2 threads (and 1) equals GDAL, and equals every other case. */
static void run_case(const char *root, int i, const label_raster *lr)
{
    const raw_case *c = &cases[i];
    char dir[512];
    snprintf(dir, sizeof dir, "%s/case%d", root, i);
    REQUIRE(write_case(dir, c) == 0);
    scene_info sc;
    tile_grid g;
    REQUIRE(scene_load(dir, scene_id, &sc) == MC_OK);
    REQUIRE(scene_validate(&sc, &g) == MC_OK);
    CHECK_INT(sc.has_swir, c->with_swir);
    bands_counts cr, cg, c1;
    CHECK_MSG(accumulate(&sc, &g, lr, 2, 0, st_raw, &cr) == MC_OK, "%s, raw: %s", c->name,
              mc_error_message());
    CHECK_MSG(accumulate(&sc, &g, lr, 2, 1, st_gdal, &cg) == MC_OK, "%s, GDAL: %s", c->name,
              mc_error_message());
    CHECK_MSG(cr.bands_raw == c->expect_raw, "%s: %lld bands read raw, expected %lld", c->name,
              (long long)cr.bands_raw, (long long)c->expect_raw);
    CHECK_INT(cg.bands_raw, 0);
    CHECK_MSG(memcmp(st_raw, st_gdal, sizeof st_raw) == 0, "%s: raw and GDAL statistics differ",
              c->name);
    CHECK_MSG(counts_equal(&cr, &cg), "%s: raw and GDAL window counts differ", c->name);
    CHECK(cr.pixels_decoded > 0);
    if (c->windows_skipped)
        CHECK_MSG(cr.windows_no_parcel > 0 && cr.windows_cloudy > 0,
                  "%s: no window skipped, so skipping is not compared", c->name);
    CHECK(accumulate(&sc, &g, lr, 1, 0, st_gdal, &c1) == MC_OK);
    CHECK_MSG(memcmp(st_raw, st_gdal, sizeof st_raw) == 0, "%s: 1 and 2 threads differ", c->name);
    if (!have_ref[c->with_swir]) {
        memcpy(st_ref[c->with_swir], st_raw, sizeof st_raw);
        have_ref[c->with_swir] = 1;
    }
    CHECK_MSG(memcmp(st_raw, st_ref[c->with_swir], sizeof st_raw) == 0,
              "%s: statistics differ from those of the first case", c->name);
    printf("%-55s raw bands %lld, %lld px decoded, %lld/%lld windows without parcel/cloudy\n",
           c->name, (long long)cr.bands_raw, (long long)cr.pixels_decoded,
           (long long)cr.windows_no_parcel, (long long)cr.windows_cloudy);
}

/* Overwrites the bytes of tile (tx, ty) of a GeoTIFF with garbage (GDAL says where
 * the tile is). */
static void corrupt_tile(const char *path, int tx, int ty)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    REQUIRE(ds != NULL);
    char key[64];
    snprintf(key, sizeof key, "BLOCK_OFFSET_%d_%d", tx, ty);
    const char *off = GDALGetMetadataItem(GDALGetRasterBand(ds, 1), key, "TIFF");
    snprintf(key, sizeof key, "BLOCK_SIZE_%d_%d", tx, ty);
    const char *size = GDALGetMetadataItem(GDALGetRasterBand(ds, 1), key, "TIFF");
    REQUIRE(off != NULL && size != NULL);
    long offset = atol(off), n = atol(size);
    GDALClose(ds);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f != NULL && n > 8);
    fseek(f, offset + 2, SEEK_SET); /* past the zlib header: the data itself */
    for (long i = 0; i < n - 6; i++)
        fputc(0x5a, f);
    fclose(f);
}

/* Tiles under windows that are skipped are never decoded: garbage there changes
 * nothing. B04 tile (0, 2) has no parcel pixel, B08 tile (2, 1) lies under the all-cloud
 * SCL block (case 0: 64 px tiles). */
static void test_skipped_never_read(const char *root, const label_raster *lr)
{
    char dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/skipped", root);
    REQUIRE(write_case(dir, &cases[0]) == 0);
    snprintf(path, sizeof path, "%s/%s/B04.tif", dir, scene_id);
    corrupt_tile(path, 0, 2);
    snprintf(path, sizeof path, "%s/%s/B08.tif", dir, scene_id);
    corrupt_tile(path, 2, 1);
    scene_info sc;
    tile_grid g;
    bands_counts c;
    REQUIRE(scene_load(dir, scene_id, &sc) == MC_OK);
    REQUIRE(scene_validate(&sc, &g) == MC_OK);
    CHECK_MSG(accumulate(&sc, &g, lr, 2, 0, st_raw, &c) == MC_OK, "skipped tiles were read: %s",
              mc_error_message());
    CHECK_INT(c.bands_raw, 4);
    CHECK(memcmp(st_raw, st_ref[1], sizeof st_raw) == 0);
    /* the same garbage in a tile that is read refuses the scene */
    snprintf(path, sizeof path, "%s/%s/B04.tif", dir, scene_id);
    corrupt_tile(path, 3, 3);
    CHECK_INT(accumulate(&sc, &g, lr, 2, 0, st_raw, &c), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "tile 18 (column 3, row 3") != NULL, "message '%s'",
              mc_error_message());
}

/* ---- a hand-made TIFF: 32 x 16 uint16, two 16 x 16 DEFLATE tiles, predictor 2, the
 * second tile's stream holding a 17th row (libtiff, and so GDAL, ignores the excess) ---- */
enum { ODD_W = 32, ODD_H = 16, ODD_T = 16 };

static void put_le(uint8_t *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One IFD entry of type SHORT (3) or LONG (4), one value or a pointer to several. */
static uint8_t *ifd_entry(uint8_t *p, uint16_t tag, uint16_t type, uint32_t count, uint32_t value)
{
    put_le(p, tag, 2);
    put_le(p + 2, type, 2);
    put_le(p + 4, count, 4);
    put_le(p + 8, value, type == 3 && count == 1 ? 2 : 4);
    return p + 12;
}

/* Tile tx's rows (rows of them) as predictor-2 differences, deflated (CPLFree it). */
static void *odd_tile_stream(int tx, int rows, size_t *n)
{
    static uint16_t diff[ODD_T * (ODD_T + 1)];
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < ODD_T; x++) {
            int gx = tx * ODD_T + x;
            uint16_t v = (uint16_t)(1000 + 37 * gx + 101 * y + (gx * y) % 7);
            uint16_t left = (uint16_t)(1000 + 37 * (gx - 1) + 101 * y + ((gx - 1) * y) % 7);
            diff[y * ODD_T + x] = x == 0 ? v : (uint16_t)(v - left);
        }
    return CPLZLibDeflate(diff, (size_t)rows * ODD_T * 2, -1, NULL, 0, n);
}

static void write_odd_tiff(const char *path)
{
    size_t n[2];
    void *stream[2] = {odd_tile_stream(0, ODD_T, &n[0]), odd_tile_stream(1, ODD_T + 1, &n[1])};
    REQUIRE(stream[0] && stream[1]);
    enum { N_TAGS = 13, ARRAYS = 8 + 2 + N_TAGS * 12 + 4, DATA = ARRAYS + 16 };
    uint8_t head[DATA];
    memset(head, 0, sizeof head);
    memcpy(head, "II*\0", 4);
    put_le(head + 4, 8, 4);
    put_le(head + 8, N_TAGS, 2);
    uint8_t *e = head + 10;
    e = ifd_entry(e, 256, 3, 1, ODD_W);
    e = ifd_entry(e, 257, 3, 1, ODD_H);
    e = ifd_entry(e, 258, 3, 1, 16);
    e = ifd_entry(e, 259, 3, 1, 8);  /* Adobe DEFLATE */
    e = ifd_entry(e, 262, 3, 1, 1);  /* grey */
    e = ifd_entry(e, 277, 3, 1, 1);
    e = ifd_entry(e, 284, 3, 1, 1);
    e = ifd_entry(e, 317, 3, 1, 2);  /* horizontal predictor */
    e = ifd_entry(e, 322, 3, 1, ODD_T);
    e = ifd_entry(e, 323, 3, 1, ODD_T);
    e = ifd_entry(e, 324, 4, 2, ARRAYS);
    e = ifd_entry(e, 325, 4, 2, ARRAYS + 8);
    ifd_entry(e, 339, 3, 1, 1);      /* unsigned */
    put_le(head + ARRAYS, DATA, 4);
    put_le(head + ARRAYS + 4, (uint32_t)(DATA + n[0]), 4);
    put_le(head + ARRAYS + 8, (uint32_t)n[0], 4);
    put_le(head + ARRAYS + 12, (uint32_t)n[1], 4);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(head, 1, sizeof head, f) == sizeof head);
    REQUIRE(fwrite(stream[0], 1, n[0], f) == n[0] && fwrite(stream[1], 1, n[1], f) == n[1]);
    fclose(f);
    CPLFree(stream[0]);
    CPLFree(stream[1]);
}

/* The odd tile reads as GDAL reads it, whole and through a window across both tiles. */
static void test_odd_stream(const char *root)
{
    char path[512], why[256];
    snprintf(path, sizeof path, "%s/odd.tif", root);
    write_odd_tiff(path);
    static uint16_t ref[ODD_H][ODD_W], got[ODD_H][ODD_W];
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    REQUIRE(ds != NULL);
    CHECK(GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, ODD_W, ODD_H, ref, ODD_W, ODD_H,
                       GDT_UInt16, 0, 0) == CE_None);
    GDALClose(ds);
    CHECK_INT(ref[15][31], (uint16_t)(1000 + 37 * 31 + 101 * 15 + (31 * 15) % 7));
    tiff_tiles *t = tiff_tiles_open(path, ODD_W, ODD_H, 2, why, sizeof why);
    CHECK_MSG(t != NULL, "%s: %s", path, why);
    if (!t)
        return;
    CHECK_MSG(tiff_tiles_read(t, 0, 0, ODD_W, ODD_H, got, ODD_W) == MC_OK, "%s",
              mc_error_message());
    CHECK(memcmp(got, ref, sizeof got) == 0);
    memset(got, 0, sizeof got);
    CHECK(tiff_tiles_read(t, 6, 3, 20, 9, got, ODD_W) == MC_OK);
    int same = 1;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 20; x++)
            same &= got[y][x] == ref[3 + y][6 + x];
    CHECK_MSG(same, "a window across the two tiles differs from GDAL's pixels");
    tiff_tiles_close(t);
}

/* Overwrites 32 bytes at each of a few places in the second half of the file. */
static void corrupt(const char *path)
{
    struct stat stt;
    REQUIRE(stat(path, &stt) == 0);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f != NULL);
    for (int k = 4; k < 8; k++) {
        fseek(f, stt.st_size * k / 8, SEEK_SET);
        for (int i = 0; i < 32; i++)
            fputc(0x5a, f);
    }
    fclose(f);
}

/* A corrupt and a truncated B04 (noise, so tiles fill the file): both paths refuse,
 * the raw one naming the file and the tile. */
static void test_damaged(const char *root, const label_raster *lr, int truncate_it)
{
    char dir[512], b04[1024];
    snprintf(dir, sizeof dir, "%s/damaged%d", root, truncate_it);
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++)
            red[y][x] = (uint16_t)(1 + next_random() % 60000);
    REQUIRE(write_case(dir, &cases[0]) == 0);
    snprintf(b04, sizeof b04, "%s/%s/B04.tif", dir, scene_id);
    if (truncate_it)
        REQUIRE(fx_truncate_half(b04) == 0);
    else
        corrupt(b04);
    scene_info sc;
    tile_grid g;
    bands_counts c;
    REQUIRE(scene_load(dir, scene_id, &sc) == MC_OK);
    REQUIRE(scene_validate(&sc, &g) == MC_OK);
    CHECK_INT(accumulate(&sc, &g, lr, 2, 0, st_raw, &c), MC_ERR);
    const char *m = mc_error_message();
    CHECK_MSG(strstr(m, b04) && strstr(m, "tile "), "message '%s' names no file and tile", m);
    printf("%s B04, raw: %s\n", truncate_it ? "truncated" : "corrupt", m);
    CHECK_INT(accumulate(&sc, &g, lr, 2, 1, st_gdal, &c), MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), b04) != NULL, "GDAL's message '%s' does not name %s",
              mc_error_message(), b04);
}

int main(void)
{
    if (!tiff_tiles_built_in()) {
        printf("built without raw tile reading (libdeflate or libtiff >= 4.5 missing)\n");
        return 77;
    }
    log_set_level(LOG_ERROR);
    GDALAllRegister();
    bands_configure_gdal();
    char root[256];
    fx_tmpdir(root, sizeof root, "rawtile");
    make_pixels();
    label_raster lr;
    make_labels(&lr);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
        run_case(root, i, &lr);
    CHECK(have_ref[0] && have_ref[1]);
    int64_t valid = 0;
    for (int l = 1; l <= N_LABELS; l++)
        valid += st_ref[1][l].n_valid + st_ref[1][l].n_moist;
    CHECK_MSG(valid > 10000, "only %lld valid pixels: the cases compare too little",
              (long long)valid);
    test_skipped_never_read(root, &lr);
    test_odd_stream(root);
    test_damaged(root, &lr, 0);
    test_damaged(root, &lr, 1);
    fx_rmtree(root);
    return test_summary();
}
