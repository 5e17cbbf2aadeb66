/* The sample generator: deterministic, well-formed, and its scenes, faults,
 * parcels, truth and claims are what data-samples/README.md says they are.
 * The B11 (SWIR) check compares the files with the generator's own model
 * (sample_model.c, linked in): the NDMI it meant each parcel to have.
 *
 * usage: test_sample GENERATOR REGION_DIR */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <jansson.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data-samples/generator/sample.h"
#include "pipeline/core/error.h"
#include "tests/test.h"

/* Paths here are short temporary ones; a cut path would fail a check anyway. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char *generator;

static int run_generator(const char *const *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[16] = {generator};
        int n = 1;
        for (; args[n - 1] && n < 15; n++)
            argv[n] = args[n - 1];
        argv[n] = NULL;
        execv(generator, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, (cap *= 2) + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static int same_bytes(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* ---- determinism: every file of run A equals the one of run B ---------- */

static const char *walk_a, *walk_b;
static int walk_files, walk_differ;

static int compare_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (type != FTW_F)
        return 0;
    char other[4096];
    snprintf(other, sizeof other, "%s%s", walk_b, path + strlen(walk_a));
    walk_files++;
    if (!same_bytes(path, other)) {
        walk_differ++;
        fprintf(stderr, "differs between runs: %s\n", path + strlen(walk_a));
    }
    return 0;
}

static int count_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path, (void)sb, (void)ftw;
    walk_files += type == FTW_F;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static void check_identical_trees(const char *a, const char *b)
{
    walk_a = a, walk_b = b, walk_files = 0, walk_differ = 0;
    nftw(a, compare_entry, 16, FTW_PHYS);
    int files_a = walk_files;
    CHECK_MSG(files_a > 300, "only %d files in %s", files_a, a);
    CHECK_INT(walk_differ, 0);
    walk_files = 0;
    nftw(b, count_entry, 16, FTW_PHYS);
    CHECK_INT(walk_files, files_a);
}

/* ---- the manifest ------------------------------------------------------ */

typedef struct scene_row {
    char id[64], tile[8], date[11], fault[24];
    int relative_orbit, sequence, has_item;
    double cloud_pct, nodata_pct;
} scene_row;

static int read_manifest(const char *dir, scene_row *rows, int cap)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/scenes.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0;
    if (!fgets(line, sizeof line, f))
        n = -1;
    while (n >= 0 && n < cap && fgets(line, sizeof line, f)) {
        scene_row *r = &rows[n];
        char sat[8];
        memset(r, 0, sizeof *r);
        line[strcspn(line, "\n")] = '\0';
        int got = sscanf(line, "%63[^,],%7[^,],%10[^,],%7[^,],%d,%d,%d,%lf,%lf,%23s", r->id, r->tile,
                         r->date, sat, &r->relative_orbit, &r->sequence, &r->has_item,
                         &r->cloud_pct, &r->nodata_pct, r->fault);
        if (got < 9)
            break;
        n++;
    }
    fclose(f);
    return n;
}

/* ---- rasters ----------------------------------------------------------- */

typedef struct band {
    int w, h, epsg, block_x, block_y;
    GDALDataType type;
    double gt[6];
    char compression[32];
} band;

static int open_band(const char *dir, const char *id, const char *name, band *b, void **data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/scenes/%s/%s.tif", dir, id, name);
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds)
        return -1;
    memset(b, 0, sizeof *b);
    b->w = GDALGetRasterXSize(ds), b->h = GDALGetRasterYSize(ds);
    GDALRasterBandH rb = GDALGetRasterBand(ds, 1);
    b->type = GDALGetRasterDataType(rb);
    GDALGetBlockSize(rb, &b->block_x, &b->block_y);
    GDALGetGeoTransform(ds, b->gt);
    OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
    const char *code = srs ? OSRGetAuthorityCode(srs, NULL) : NULL;
    b->epsg = code ? atoi(code) : 0;
    const char *c = GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE");
    snprintf(b->compression, sizeof b->compression, "%s", c ? c : "");
    int rc = 0;
    if (data) {
        int bytes = b->type == GDT_Byte ? 1 : 2;
        *data = malloc((size_t)b->w * b->h * bytes);
        CPLPushErrorHandler(CPLQuietErrorHandler);
        rc = *data && GDALRasterIO(rb, GF_Read, 0, 0, b->w, b->h, *data, b->w, b->h, b->type, 0, 0) == CE_None
                 ? 0
                 : -2;
        CPLPopErrorHandler();
    }
    GDALClose(ds);
    return rc;
}

/* B04, B08: 10 m uint16; B11: 20 m uint16; SCL: 20 m uint8. */
static void check_band_layout(const scene_row *s, const char *name, const band *b)
{
    int is_scl = strcmp(name, "SCL") == 0, is_20m = is_scl || strcmp(name, "B11") == 0;
    int size = is_20m ? 400 : 800;
    double res = is_20m ? 20.0 : 10.0;
    CHECK_MSG(b->w == size && b->h == size, "%s %s: %dx%d", s->id, name, b->w, b->h);
    CHECK_MSG(b->type == (is_scl ? GDT_Byte : GDT_UInt16), "%s %s: type %d", s->id, name, b->type);
    CHECK_MSG(b->epsg == 32635, "%s %s: EPSG %d", s->id, name, b->epsg);
    CHECK_MSG(b->gt[1] == res && b->gt[5] == -res && b->gt[2] == 0 && b->gt[4] == 0, "%s %s: pixel size",
              s->id, name);
    /* one common grid: corners on multiples of 20 m (so of 10 m as well) */
    CHECK_MSG(fmod(b->gt[0], 20.0) == 0 && fmod(b->gt[3], 20.0) == 0, "%s %s: origin %f %f", s->id,
              name, b->gt[0], b->gt[3]);
    CHECK_MSG(b->block_x == 256 && b->block_y == 256, "%s %s: blocks %dx%d", s->id, name,
              b->block_x, b->block_y);
    CHECK_MSG(strcmp(b->compression, "DEFLATE") == 0, "%s %s: compression %s", s->id, name,
              b->compression);
}

static double ndvi_of(uint16_t red_dn, uint16_t nir_dn)
{
    double r = (red_dn - 1000) / 10000.0, n = (nir_dn - 1000) / 10000.0;
    return (n - r) / (n + r);
}

typedef struct class_stats {
    double ndvi_sum[12], nir_sum[12];
    long n[12];
    long zero_dn_valid_scl, nonzero_dn_nodata_scl, dn_below_offset;
    /* B11, per 20 m cell: SWIR reflectance, and NDMI against the cell's mean NIR */
    double swir_sum[12], ndmi_sum[12];
    long n_cells[12];
    long swir_nodata_mismatch, swir_below_offset;
} class_stats;

static double reflectance(uint16_t dn) { return (dn - 1000) / 10000.0; }

/* B11 against SCL: DN 0 exactly where SCL is 0 (both by the cell's centre). */
static void accumulate_swir(const uint16_t *nir, const uint16_t *swir, const uint8_t *scl, class_stats *cs)
{
    for (int cj = 0; cj < 400; cj++)
        for (int ci = 0; ci < 400; ci++) {
            uint8_t c = scl[cj * 400 + ci];
            uint16_t s = swir[cj * 400 + ci];
            cs->swir_nodata_mismatch += (s == 0) != (c == 0);
            if (s == 0 || c == 0)
                continue;
            cs->swir_below_offset += s < 1000;
            double n = 0;
            int k = 0;
            for (; k < 4; k++) {
                uint16_t dn = nir[(size_t)(2 * cj + k / 2) * 800 + (size_t)(2 * ci + k % 2)];
                if (dn == 0)
                    break;
                n += reflectance(dn) / 4;
            }
            if (k < 4 || c >= 12)
                continue;
            cs->swir_sum[c] += reflectance(s);
            cs->ndmi_sum[c] += (n - reflectance(s)) / (n + reflectance(s));
            cs->n_cells[c]++;
        }
}

/* Per SCL class: mean NDVI and NIR reflectance of the four 10 m pixels under each 20 m cell. */
static void accumulate_classes(const uint16_t *red, const uint16_t *nir, const uint8_t *scl,
                               class_stats *cs)
{
    for (int cj = 0; cj < 400; cj++)
        for (int ci = 0; ci < 400; ci++) {
            uint8_t c = scl[cj * 400 + ci];
            for (int k = 0; k < 4; k++) {
                size_t o = (size_t)(2 * cj + k / 2) * 800 + (size_t)(2 * ci + k % 2);
                if (red[o] == 0 || nir[o] == 0) {
                    cs->zero_dn_valid_scl += c != 0;
                    continue;
                }
                cs->nonzero_dn_nodata_scl += c == 0;
                cs->dn_below_offset += red[o] < 1000 || nir[o] < 1000;
                if (c < 12) {
                    cs->ndvi_sum[c] += ndvi_of(red[o], nir[o]);
                    cs->nir_sum[c] += (nir[o] - 1000) / 10000.0;
                    cs->n[c]++;
                }
            }
        }
}

static void check_scene_pixels(const char *dir, const scene_row *s, class_stats *summer)
{
    band b04, b08, scl, b11;
    void *red = NULL, *nir = NULL, *cls = NULL, *swir = NULL;
    int ok = open_band(dir, s->id, "B04", &b04, &red) == 0 && open_band(dir, s->id, "B08", &b08, &nir) == 0 &&
             open_band(dir, s->id, "SCL", &scl, &cls) == 0 && open_band(dir, s->id, "B11", &b11, &swir) == 0;
    CHECK_MSG(ok, "scene %s: cannot read its bands (B04, B08, SCL, B11)", s->id);
    if (ok) {
        check_band_layout(s, "B04", &b04);
        check_band_layout(s, "B08", &b08);
        check_band_layout(s, "SCL", &scl);
        check_band_layout(s, "B11", &b11);
        CHECK_MSG(b04.gt[0] == scl.gt[0] && b04.gt[3] == scl.gt[3], "%s: SCL corner differs", s->id);
        CHECK_MSG(memcmp(b11.gt, scl.gt, sizeof b11.gt) == 0 && b11.w == scl.w && b11.h == scl.h,
                  "%s: B11 is not on SCL's grid", s->id);
        class_stats cs;
        memset(&cs, 0, sizeof cs);
        accumulate_classes(red, nir, cls, &cs);
        accumulate_swir(nir, swir, cls, &cs);
        CHECK_MSG(cs.swir_nodata_mismatch == 0, "%s: B11 DN 0 and SCL 0 disagree in %ld cells", s->id,
                  cs.swir_nodata_mismatch);
        CHECK_MSG(cs.swir_below_offset == 0, "%s: %ld B11 DNs below the +1000 offset", s->id, cs.swir_below_offset);
        /* DN 0 exactly where outside the swath (whole 20 m cells, up to the edge cells) */
        CHECK_MSG(cs.dn_below_offset == 0, "%s: %ld valid DNs below the +1000 offset", s->id, cs.dn_below_offset);
        long edge_tolerance = 4 * 800; /* the edge line cuts some 20 m cells */
        CHECK_MSG(cs.zero_dn_valid_scl <= edge_tolerance && cs.nonzero_dn_nodata_scl <= edge_tolerance,
                  "%s: DN 0 and SCL 0 disagree (%ld, %ld)", s->id, cs.zero_dn_valid_scl,
                  cs.nonzero_dn_nodata_scl);
        if (s->nodata_pct > 0) {
            const uint16_t *r = red;
            CHECK_MSG(r[400 * 800 + 799] == 0 && r[400 * 800] != 0,
                      "%s: swath edge: the east should be DN 0, the west not", s->id);
        }
        if (strcmp(s->date, "2026-06-10") >= 0 && strcmp(s->date, "2026-08-10") <= 0)
            for (int c = 0; c < 12; c++) {
                summer->ndvi_sum[c] += cs.ndvi_sum[c];
                summer->nir_sum[c] += cs.nir_sum[c];
                summer->n[c] += cs.n[c];
                summer->swir_sum[c] += cs.swir_sum[c];
                summer->ndmi_sum[c] += cs.ndmi_sum[c];
                summer->n_cells[c] += cs.n_cells[c];
            }
    }
    free(red), free(nir), free(cls), free(swir);
}

static void check_overlap_identical(const char *dir, const scene_row *lf, const scene_row *mf)
{
    static const char *const names[4] = {"B04", "B08", "B11", "SCL"};
    for (int k = 0; k < 4; k++) {
        band a, b;
        void *da = NULL, *db = NULL;
        if (open_band(dir, lf->id, names[k], &a, &da) == 0 && open_band(dir, mf->id, names[k], &b, &db) == 0) {
            /* the tiles' origins are 7000 m apart: MF column 0 is LF column 700 (10 m), 350 (20 m) */
            int shift = (int)((b.gt[0] - a.gt[0]) / a.gt[1]), bytes = a.type == GDT_Byte ? 1 : 2;
            int same = 1;
            for (int j = 0; j < a.h && same; j++)
                same = memcmp((char *)da + ((size_t)j * a.w + shift) * bytes, (char *)db + (size_t)j * b.w * bytes,
                              (size_t)(a.w - shift) * bytes) == 0;
            CHECK_MSG(same, "%s/%s: the overlap of %s and %s differs", lf->date, names[k], lf->id, mf->id);
        } else {
            CHECK_MSG(0, "cannot read %s of %s / %s", names[k], lf->id, mf->id);
        }
        free(da), free(db);
    }
}

/* ---- item.json --------------------------------------------------------- */

static void check_item(const char *dir, const scene_row *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/scenes/%s/item.json", dir, s->id);
    if (!s->has_item) {
        CHECK_MSG(access(path, F_OK) != 0, "%s: item.json should be absent", s->id);
        return;
    }
    json_error_t err;
    json_t *item = json_load_file(path, 0, &err);
    CHECK_MSG(item != NULL, "%s: item.json: %s", path, err.text);
    if (!item)
        return;
    json_t *props = json_object_get(item, "properties");
    const char *dt = json_string_value(json_object_get(props, "datetime"));
    CHECK_MSG(dt && strncmp(dt, s->date, 10) == 0, "%s: datetime %s", s->id, dt ? dt : "(none)");
    CHECK_STR(json_string_value(json_object_get(props, "s2:mgrs_tile")), s->tile);
    CHECK_STR(json_string_value(json_object_get(props, "s2:processing_baseline")), "05.11");
    CHECK_STR(json_string_value(json_object_get(item, "id")), s->id);
    json_t *rb = json_array_get(json_object_get(json_object_get(json_object_get(item, "assets"), "B08"), "raster:bands"), 0);
    CHECK_NEAR(json_number_value(json_object_get(rb, "offset")), -0.1, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(rb, "scale")), 0.0001, 1e-12);
    json_t *b11 = json_object_get(json_object_get(item, "assets"), "B11");
    CHECK_MSG(b11 != NULL, "%s: item.json has no B11 asset", s->id);
    rb = json_array_get(json_object_get(b11, "raster:bands"), 0);
    CHECK_STR(json_string_value(json_object_get(b11, "href")), "./B11.tif");
    CHECK_STR(json_string_value(json_object_get(b11, "title")), "SWIR 1.6 (band 11) - 20m");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(b11, "eo:bands"), 0), "common_name")),
              "swir16");
    CHECK_INT(json_integer_value(json_object_get(b11, "gsd")), 20);
    CHECK_INT(json_integer_value(json_array_get(json_object_get(b11, "proj:shape"), 0)), 400);
    CHECK_STR(json_string_value(json_object_get(rb, "data_type")), "uint16");
    CHECK_NEAR(json_number_value(json_object_get(rb, "offset")), -0.1, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(rb, "scale")), 0.0001, 1e-12);
    json_decref(item);
}

/* ---- faults ------------------------------------------------------------ */

static void check_fault(const char *dir, const scene_row *s, const scene_row *rows, int n)
{
    char path[4096];
    band b;
    void *data = NULL;
    if (strcmp(s->fault, "truncated-B08") == 0) {
        CPLPushErrorHandler(CPLQuietErrorHandler);
        int rc = open_band(dir, s->id, "B08", &b, &data);
        CPLPopErrorHandler();
        CHECK_MSG(rc != 0, "%s: a truncated B08 should not read", s->id);
        free(data), data = NULL;
        CHECK_MSG(open_band(dir, s->id, "B04", &b, &data) == 0, "%s: B04 should read", s->id);
        free(data), data = NULL;
        CHECK_MSG(open_band(dir, s->id, "B11", &b, &data) == 0, "%s: B11 should read", s->id);
    } else if (strcmp(s->fault, "missing-SCL") == 0) {
        snprintf(path, sizeof path, "%s/scenes/%s/SCL.tif", dir, s->id);
        CHECK_MSG(access(path, F_OK) != 0, "%s: SCL.tif should be missing", s->id);
        CHECK_MSG(open_band(dir, s->id, "B08", &b, &data) == 0, "%s: B08 should read", s->id);
        free(data), data = NULL;
        CHECK_MSG(open_band(dir, s->id, "B11", &b, &data) == 0, "%s: B11 should read", s->id);
    } else if (strcmp(s->fault, "bad-item-json") == 0) {
        json_error_t err;
        snprintf(path, sizeof path, "%s/scenes/%s/item.json", dir, s->id);
        json_t *j = json_load_file(path, 0, &err);
        CHECK_MSG(access(path, F_OK) == 0 && j == NULL, "%s: item.json should exist and not parse", s->id);
        json_decref(j);
        CHECK_MSG(open_band(dir, s->id, "SCL", &b, &data) == 0, "%s: SCL should read", s->id);
    } else if (strcmp(s->fault, "duplicate") == 0) {
        CHECK_INT(s->sequence, 1);
        const scene_row *twin = NULL;
        for (int i = 0; i < n; i++)
            if (rows[i].sequence == 0 && !strcmp(rows[i].tile, s->tile) && !strcmp(rows[i].date, s->date))
                twin = &rows[i];
        CHECK_MSG(twin != NULL, "%s: no _0_ delivery of the same tile-date", s->id);
        static const char *const files[4] = {"B04.tif", "B08.tif", "B11.tif", "SCL.tif"};
        for (int k = 0; twin && k < 4; k++) {
            char a[4096], c[4096];
            snprintf(a, sizeof a, "%s/scenes/%s/%s", dir, s->id, files[k]);
            snprintf(c, sizeof c, "%s/scenes/%s/%s", dir, twin->id, files[k]);
            CHECK_MSG(same_bytes(a, c), "%s: %s differs from its first delivery", s->id, files[k]);
        }
        check_item(dir, s);
    } else {
        CHECK_MSG(0, "%s: unknown fault '%s'", s->id, s->fault);
    }
    free(data);
}

static void check_scenes(const char *dir)
{
    static scene_row rows[256];
    int n = read_manifest(dir, rows, 256);
    REQUIRE(n > 60);
    int dates[2] = {0, 0}, faults = 0, no_item = 0, with_nodata = 0, pairs = 0;
    const char *tiles[2] = {"35VLF", "35VMF"};
    class_stats summer;
    memset(&summer, 0, sizeof summer);
    for (int i = 0; i < n; i++) {
        const scene_row *s = &rows[i];
        char expect[64];
        snprintf(expect, sizeof expect, "_%s_%c%c%c%c%c%c%c%c_%d_L2A", s->tile, s->date[0], s->date[1],
                 s->date[2], s->date[3], s->date[5], s->date[6], s->date[8], s->date[9], s->sequence);
        CHECK_MSG(strstr(s->id, expect) == s->id + 3, "scene id %s does not carry %s", s->id, expect);
        CHECK_MSG(strcmp(s->date, "2026-04-01") >= 0 && strcmp(s->date, "2026-10-31") <= 0, "%s: date %s",
                  s->id, s->date);
        if (s->fault[0]) {
            faults++;
            check_fault(dir, s, rows, n);
            continue;
        }
        for (int t = 0; t < 2; t++)
            dates[t] += strcmp(s->tile, tiles[t]) == 0;
        no_item += !s->has_item;
        with_nodata += s->nodata_pct > 0;
        check_item(dir, s);
        check_scene_pixels(dir, s, &summer);
        if (i + 1 < n && !strcmp(s->tile, "35VLF") && !strcmp(rows[i + 1].tile, "35VMF") &&
            !strcmp(s->date, rows[i + 1].date) && !rows[i + 1].fault[0] && pairs++ % 10 == 0)
            check_overlap_identical(dir, s, &rows[i + 1]);
    }
    CHECK_MSG(dates[0] >= 30 && dates[1] >= 30, "dates per tile: %d, %d", dates[0], dates[1]);
    CHECK_MSG(dates[0] != dates[1], "some dates should have one tile only");
    CHECK_MSG(pairs >= dates[1] * 0.9, "most dates should have both tiles (%d pairs)", pairs);
    CHECK_INT(faults, 4);
    CHECK_MSG(no_item > 0 && no_item < n / 4, "%d scenes without item.json", no_item);
    CHECK_MSG(with_nodata > 0 && with_nodata < n / 4, "%d scenes with no-data", with_nodata);
    /* classes behave like Sentinel-2's: vegetation green, thick cloud bright and flat,
     * shadow dark, water negative (summer scenes) */
    for (int c = 3; c <= 9; c++)
        REQUIRE(summer.n[c] > 0 || c == 5 || c == 7 || c == 8);
    double veg = summer.ndvi_sum[4] / summer.n[4], cloud = summer.ndvi_sum[9] / summer.n[9];
    double water = summer.ndvi_sum[6] / summer.n[6];
    double nir_veg = summer.nir_sum[4] / summer.n[4], nir_shadow = summer.nir_sum[3] / summer.n[3];
    CHECK_MSG(veg > 0.6, "mean NDVI of SCL 4 in summer: %.3f", veg);
    CHECK_MSG(cloud < 0.25, "mean NDVI of SCL 9: %.3f (clouds must wreck NDVI)", cloud);
    CHECK_MSG(water < 0.0, "mean NDVI of SCL 6: %.3f", water);
    CHECK_MSG(nir_shadow < 0.6 * nir_veg, "NIR in shadow %.3f vs vegetation %.3f", nir_shadow, nir_veg);
    /* B11: green summer vegetation moist (NDMI well above 0), thick cloud bright in
     * SWIR as well, shadow dark, water dark in both NIR and SWIR */
    for (int c = 3; c <= 9; c++)
        REQUIRE(summer.n_cells[c] > 0 || c == 5 || c == 7 || c == 8);
    double ndmi_veg = summer.ndmi_sum[4] / summer.n_cells[4];
    double swir_veg = summer.swir_sum[4] / summer.n_cells[4], swir_cloud = summer.swir_sum[9] / summer.n_cells[9];
    double swir_shadow = summer.swir_sum[3] / summer.n_cells[3], swir_water = summer.swir_sum[6] / summer.n_cells[6];
    CHECK_MSG(ndmi_veg > 0.15 && ndmi_veg < 0.5, "mean NDMI of SCL 4 in summer: %.3f", ndmi_veg);
    CHECK_MSG(swir_cloud > 0.2 && swir_cloud > 1.5 * swir_veg, "SWIR of SCL 9 %.3f vs vegetation %.3f", swir_cloud,
              swir_veg);
    CHECK_MSG(swir_shadow < 0.6 * swir_veg, "SWIR in shadow %.3f vs vegetation %.3f", swir_shadow, swir_veg);
    CHECK_MSG(swir_water < 0.05, "SWIR of SCL 6: %.3f", swir_water);
    printf("summer B11: NDMI of SCL 4 %.3f; SWIR vegetation %.3f, cloud %.3f, shadow %.3f, water %.3f\n", ndmi_veg,
           swir_veg, swir_cloud, swir_shadow, swir_water);
}

/* ---- parcels, truth, claims ------------------------------------------- */

typedef struct truth_row {
    char id[16], type[16], feature[24];
    int n_mowings;
    double area_ha;
} truth_row;

static int read_truth(const char *dir, truth_row *rows, int cap)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(line, sizeof line, f)) {
        if (f)
            fclose(f);
        return -1;
    }
    CHECK_STR(line, "parcel_id,type,n_mowings,mowing_dates,harvest_date,area_ha,feature\n");
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        truth_row *r = &rows[n];
        char *fields[7], *save = NULL, *p = line;
        int k = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *tok; k < 7 && (tok = strsep(&p, ",")); k++)
            fields[k] = tok;
        (void)save;
        if (k != 7)
            break;
        snprintf(r->id, sizeof r->id, "%s", fields[0]);
        snprintf(r->type, sizeof r->type, "%s", fields[1]);
        r->n_mowings = atoi(fields[2]);
        r->area_ha = atof(fields[5]);
        snprintf(r->feature, sizeof r->feature, "%s", fields[6]);
        /* mowing dates: as many as n_mowings, May-September */
        int dates = fields[3][0] ? 1 : 0;
        for (char *c = fields[3]; *c; c++)
            dates += *c == ';';
        CHECK_MSG(dates == r->n_mowings, "%s: %d dates for %d mowings", r->id, dates, r->n_mowings);
        CHECK_MSG(!fields[3][0] || (strncmp(fields[3], "2026-05", 7) >= 0 && strncmp(fields[3], "2026-09-30", 10) <= 0),
                  "%s: first mowing %s", r->id, fields[3]);
        CHECK_MSG(strcmp(r->type, "cereal") != 0 || strncmp(fields[4], "2026-07", 7) == 0,
                  "%s: harvest %s not in July", r->id, fields[4]);
        n++;
    }
    fclose(f);
    return n;
}

static const truth_row *find_truth(const truth_row *rows, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].id, id))
            return &rows[i];
    return NULL;
}

static void check_parcels(const char *dir, const truth_row *truth, int n_truth)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/parcels.gpkg", dir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    REQUIRE(ds != NULL);
    OGRLayerH layer = GDALDatasetGetLayerByName(ds, "parcels");
    REQUIRE(layer != NULL);
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(layer);
    CHECK_STR(srs ? OSRGetAuthorityCode(srs, NULL) : NULL, "3301");
    int idx = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(layer), "parcel_id");
    REQUIRE(idx >= 0);
    CHECK_INT(OGR_Fld_GetType(OGR_FD_GetFieldDefn(OGR_L_GetLayerDefn(layer), idx)), OFTString);
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(utm, 32635);
    OSRSetAxisMappingStrategy(utm, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(srs, utm);
    int n = 0, multi_with_hole = 0, tiny = 0, crossing = 0, invalid = 0, area_mismatch = 0;
    static OGRGeometryH all[1024];
    static const truth_row *all_truth[1024];
    OGRFeatureH f;
    OGR_L_ResetReading(layer);
    while ((f = OGR_L_GetNextFeature(layer))) {
        n++;
        const char *id = OGR_F_GetFieldAsString(f, idx);
        OGRGeometryH g = OGR_G_Clone(OGR_F_GetGeometryRef(f));
        const truth_row *t = find_truth(truth, n_truth, id);
        CHECK_MSG(t != NULL, "parcel %s is not in truth.csv", id);
        invalid += !OGR_G_IsValid(g);
        double area_ha = OGR_G_Area(g) / 10000.0;
        if (t && fabs(area_ha - t->area_ha) > 0.0001)
            area_mismatch++;
        tiny += area_ha < 0.1;
        if (wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiPolygon)
            for (int p = 0; p < OGR_G_GetGeometryCount(g); p++)
                multi_with_hole += OGR_G_GetGeometryCount(OGR_G_GetGeometryRef(g, p)) > 1;
        /* across the middle of the overlap, where the owning tile changes */
        OGREnvelope e;
        OGR_G_Transform(g, ct);
        OGR_G_GetEnvelope(g, &e);
        crossing += e.MinX < 408500 && e.MaxX > 408500;
        if (n <= 1024)
            all[n - 1] = g, all_truth[n - 1] = t;
        else
            OGR_G_DestroyGeometry(g);
        OGR_F_Destroy(f);
    }
    /* parcels overlap only where the truth says so (a digitising slip) */
    int overlaps = 0, unexpected = 0;
    for (int i = 0; i < n && i < 1024; i++)
        for (int j = i + 1; j < n && j < 1024; j++) {
            if (!OGR_G_Intersects(all[i], all[j]))
                continue;
            OGRGeometryH x = OGR_G_Intersection(all[i], all[j]);
            if (x && OGR_G_Area(x) > 1.0) {
                overlaps++;
                unexpected += !all_truth[i] || !all_truth[j] || strcmp(all_truth[i]->feature, "overlapping") ||
                              strcmp(all_truth[j]->feature, "overlapping");
            }
            if (x)
                OGR_G_DestroyGeometry(x);
        }
    for (int i = 0; i < n && i < 1024; i++)
        OGR_G_DestroyGeometry(all[i]);
    CHECK_MSG(overlaps >= 1 && unexpected == 0, "%d overlapping pairs, %d not marked", overlaps, unexpected);
    CHECK_INT(n, n_truth);
    CHECK_MSG(n >= 200 && n <= 600, "%d parcels", n);
    CHECK_INT(invalid, 0);
    CHECK_INT(area_mismatch, 0);
    CHECK_MSG(tiny >= 3, "%d parcels under 0.1 ha", tiny);
    CHECK_MSG(multi_with_hole >= 1, "no multipolygon with a hole");
    CHECK_MSG(crossing >= 2, "%d parcels cross x = 408500", crossing);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(utm);
    GDALClose(ds);
}

static void check_claims(const char *dir, const truth_row *truth, int n_truth)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/claims.csv", dir);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    REQUIRE(fgets(line, sizeof line, f) != NULL);
    CHECK_STR(line, "claim_id,parcel_id,season,applicant,scheme,window_start,window_end,min_mowings,declared_area_ha\n");
    int n = 0, schemes_1 = 0, schemes_2 = 0, meadows = 0;
    while (fgets(line, sizeof line, f)) {
        char claim[32], parcel[16], applicant[24], scheme[24], ws[11], we[11];
        int season, min_mowings;
        double area;
        int got = sscanf(line, "%31[^,],%15[^,],%d,%23[^,],%23[^,],%10[^,],%10[^,],%d,%lf", claim, parcel,
                         &season, applicant, scheme, ws, we, &min_mowings, &area);
        CHECK_MSG(got == 9, "claims.csv: bad line %s", line);
        if (got != 9)
            continue;
        n++;
        const truth_row *t = find_truth(truth, n_truth, parcel);
        CHECK_MSG(t != NULL, "claim %s: parcel %s unknown", claim, parcel);
        if (t) {
            CHECK_NEAR(area, round(t->area_ha * 100) / 100, 1e-9);
            meadows += !strcmp(t->type, "meadow");
        }
        CHECK_INT(season, 2026);
        CHECK_MSG(strncmp(applicant, "AP-", 3) == 0 && strlen(applicant) == 11, "applicant %s", applicant);
        CHECK_MSG(strcmp(ws, we) < 0, "claim %s: window %s..%s", claim, ws, we);
        schemes_1 += min_mowings == 1;
        schemes_2 += min_mowings == 2;
    }
    fclose(f);
    CHECK_MSG(n > n_truth / 2 && n < n_truth, "%d claims for %d parcels", n, n_truth);
    CHECK_MSG(schemes_1 > 0 && schemes_2 > 0, "schemes: %d one-cut, %d two-cut", schemes_1, schemes_2);
    CHECK_MSG(meadows > n / 2, "only %d of %d claims on meadows", meadows, n);
}

/* ---- the pixels follow the truth: a cut shows as an NDVI drop ---------- */

typedef struct parcel_raster {
    int32_t *label;   /* 800 x 800 on 35VLF, parcel index + 1 */
    int n;
    char (*ids)[16];
} parcel_raster;

/* Parcels onto the 35VLF grid (pixel-centre rule), reprojected from EPSG:3301. */
static int parcels_on_tile(const char *dir, const band *grid, parcel_raster *pr)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/parcels.gpkg", dir);
    GDALDatasetH vds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    if (!vds)
        return -1;
    OGRLayerH layer = GDALDatasetGetLayerByName(vds, "parcels");
    int n = (int)OGR_L_GetFeatureCount(layer, TRUE);
    OGRGeometryH *geoms = calloc((size_t)n, sizeof *geoms);
    double *burn = calloc((size_t)n, sizeof *burn);
    pr->ids = calloc((size_t)n, sizeof *pr->ids);
    pr->label = calloc(800 * 800, sizeof *pr->label);
    OGRSpatialReferenceH utm = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(utm, 32635);
    OSRSetAxisMappingStrategy(utm, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(OGR_L_GetSpatialRef(layer), utm);
    OGRFeatureH f;
    int k = 0;
    OGR_L_ResetReading(layer);
    while ((f = OGR_L_GetNextFeature(layer)) && k < n) {
        snprintf(pr->ids[k], 16, "%s", OGR_F_GetFieldAsString(f, 0));
        geoms[k] = OGR_G_Clone(OGR_F_GetGeometryRef(f));
        OGR_G_Transform(geoms[k], ct);
        burn[k] = k + 1;
        k++;
        OGR_F_Destroy(f);
    }
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", 800, 800, 1, GDT_Int32, NULL);
    GDALSetGeoTransform(mem, (double *)grid->gt);
    int bands[1] = {1};
    int rc = GDALRasterizeGeometries(mem, 1, bands, k, geoms, NULL, NULL, burn, NULL, NULL, NULL) == CE_None &&
                     GDALRasterIO(GDALGetRasterBand(mem, 1), GF_Read, 0, 0, 800, 800, pr->label, 800, 800,
                                  GDT_Int32, 0, 0) == CE_None
                 ? 0
                 : -1;
    pr->n = k;
    GDALClose(mem);
    for (int i = 0; i < k; i++)
        OGR_G_DestroyGeometry(geoms[i]);
    free(geoms), free(burn);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(utm);
    GDALClose(vds);
    return rc;
}

/* Mean NDVI of each parcel's clear (SCL 4/5) pixels on one scene; NAN under 20 pixels. */
static int parcel_means(const char *dir, const scene_row *s, const parcel_raster *pr, double *mean)
{
    band b;
    void *red = NULL, *nir = NULL, *scl = NULL;
    int rc = open_band(dir, s->id, "B04", &b, &red) == 0 && open_band(dir, s->id, "B08", &b, &nir) == 0 &&
                     open_band(dir, s->id, "SCL", &b, &scl) == 0
                 ? 0
                 : -1;
    double *sum = calloc((size_t)pr->n + 1, sizeof *sum);
    long *count = calloc((size_t)pr->n + 1, sizeof *count);
    for (int j = 0; rc == 0 && j < 800; j++)
        for (int i = 0; i < 800; i++) {
            int32_t l = pr->label[j * 800 + i];
            uint8_t c = ((uint8_t *)scl)[(j / 2) * 400 + i / 2];
            uint16_t r = ((uint16_t *)red)[j * 800 + i], n = ((uint16_t *)nir)[j * 800 + i];
            if (l > 0 && (c == 4 || c == 5) && r && n) {
                sum[l] += ndvi_of(r, n);
                count[l]++;
            }
        }
    for (int l = 1; l <= pr->n; l++)
        mean[l - 1] = count[l] >= 20 ? sum[l] / count[l] : NAN;
    free(sum), free(count), free(red), free(nir), free(scl);
    return rc;
}

static int doy_of(const char *iso)
{
    static const int start[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    return start[atoi(iso + 5) - 1] + atoi(iso + 8);
}

/* For cuts with a 35VLF observation (at least 20 clear pixels of the parcel) in
 * the 10 days before and the 4 days from it, the parcel's mean NDVI must fall:
 * the truth drops it by 0.20-0.45 (less whatever regrowth from an earlier cut
 * or green-up happens in between, hence "most", and a mean above 0.15). */
static void check_mowing_visible(const char *dir)
{
    static scene_row rows[256];
    static truth_row truth[1024];
    int n = read_manifest(dir, rows, 256), n_truth = read_truth(dir, truth, 1024);
    REQUIRE(n > 0 && n_truth > 0);
    int clear[64], n_clear = 0;
    for (int i = 0; i < n && n_clear < 64; i++)
        if (!rows[i].fault[0] && !strcmp(rows[i].tile, "35VLF") && rows[i].cloud_pct < 60 && rows[i].nodata_pct == 0)
            clear[n_clear++] = i;
    band grid;
    REQUIRE(open_band(dir, rows[clear[0]].id, "B04", &grid, NULL) == 0);
    parcel_raster pr = {0};
    REQUIRE(parcels_on_tile(dir, &grid, &pr) == 0);
    double *means = malloc(sizeof(double) * (size_t)n_clear * pr.n);
    for (int c = 0; c < n_clear; c++)
        REQUIRE(parcel_means(dir, &rows[clear[c]], &pr, means + (size_t)c * pr.n) == 0);
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/truth-events.csv", dir);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    int pairs = 0, dropped = 0;
    double drop_sum = 0;
    while (fgets(line, sizeof line, f)) {
        char id[16], date[11];
        if (sscanf(line, "%15[^,],2026,%10[^,],,mowing", id, date) != 2)
            continue;
        int p = -1, m = doy_of(date);
        for (int i = 0; i < pr.n; i++)
            if (!strcmp(pr.ids[i], id))
                p = i;
        int before = -1, after = -1;
        for (int c = 0; c < n_clear; c++) {
            int d = doy_of(rows[clear[c]].date);
            if (d >= m - 10 && d < m)
                before = c;
            if (d >= m && d <= m + 4 && after < 0)
                after = c;
        }
        if (p < 0 || before < 0 || after < 0)
            continue;
        double a = means[(size_t)before * pr.n + p], b = means[(size_t)after * pr.n + p];
        if (isnan(a) || isnan(b))
            continue;
        pairs++;
        dropped += b < a - 0.1;
        drop_sum += a - b;
    }
    fclose(f);
    /* control: grazed pastures decline slowly, they never drop like a cut */
    int steps = 0, falls = 0;
    for (int i = 0; i < n_truth; i++) {
        int p = -1;
        for (int k = 0; k < pr.n; k++)
            if (!strcmp(pr.ids[k], truth[i].id))
                p = k;
        if (p < 0 || strcmp(truth[i].type, "pasture") != 0)
            continue;
        for (int c = 0; c + 1 < n_clear; c++) {
            int d0 = doy_of(rows[clear[c]].date), d1 = doy_of(rows[clear[c + 1]].date);
            double a = means[(size_t)c * pr.n + p], b = means[(size_t)(c + 1) * pr.n + p];
            if (d0 < 160 || d1 > 240 || d1 - d0 > 15 || isnan(a) || isnan(b))
                continue;
            steps++;
            falls += b < a - 0.1;
        }
    }
    CHECK_MSG(steps >= 20 && falls <= steps / 20, "pastures: %d of %d steps fall by > 0.1", falls, steps);
    printf("pastures: %d of %d steps between observations fall by > 0.1\n", falls, steps);
    CHECK_MSG(pairs >= 5, "only %d cuts with clear dates around them", pairs);
    CHECK_MSG(dropped >= 0.8 * pairs, "%d of %d cuts drop NDVI by > 0.1", dropped, pairs);
    CHECK_MSG(pairs > 0 && drop_sum / pairs > 0.15, "mean drop %.3f", pairs ? drop_sum / pairs : 0.0);
    printf("mowing visible: %d of %d cuts drop NDVI by > 0.1 (mean drop %.3f)\n", dropped, pairs,
           pairs ? drop_sum / pairs : 0.0);
    free(means), free(pr.label), free(pr.ids);
}

/* ---- B11: the files carry the NDMI the generator meant ---------------- */

/* Pixels whose 20 m cell and its surroundings lie inside one parcel: the cell's
 * 2 x 2 pixels, the 1-pixel reach of the point spread function that mixes
 * neighbours, and 1 pixel more for the test's labels (rasterised from EPSG:3301)
 * differing from the generator's (UTM) at the edge. Label of the cell, or 0. */
static int32_t interior_cell_label(const int32_t *label, int ci, int cj)
{
    int32_t l = label[(size_t)(2 * cj) * 800 + (size_t)(2 * ci)];
    if (l <= 0 || ci < 1 || cj < 1 || ci > 398 || cj > 398)
        return 0;
    for (int j = 2 * cj - 2; j <= 2 * cj + 3; j++)
        for (int i = 2 * ci - 2; i <= 2 * ci + 3; i++)
            if (label[(size_t)j * 800 + (size_t)i] != l)
                return 0;
    return l;
}

/* Mean NDMI of each parcel's clear interior pixels on one scene, as ingest forms
 * it: per 10 m pixel (nir - swir) / (nir + swir), the pixel's B08 against the B11
 * of its 20 m cell (nearest neighbour); NAN under 80 pixels. */
static int parcel_ndmi_means(const char *dir, const scene_row *s, const parcel_raster *pr, double *mean)
{
    band b;
    void *nir = NULL, *swir = NULL, *scl = NULL;
    int rc = open_band(dir, s->id, "B08", &b, &nir) == 0 && open_band(dir, s->id, "B11", &b, &swir) == 0 &&
                     open_band(dir, s->id, "SCL", &b, &scl) == 0
                 ? 0
                 : -1;
    double *sum = calloc((size_t)pr->n + 1, sizeof *sum);
    long *count = calloc((size_t)pr->n + 1, sizeof *count);
    for (int cj = 0; rc == 0 && cj < 400; cj++)
        for (int ci = 0; ci < 400; ci++) {
            int32_t l = interior_cell_label(pr->label, ci, cj);
            uint8_t c = ((uint8_t *)scl)[cj * 400 + ci];
            uint16_t sw = ((uint16_t *)swir)[cj * 400 + ci];
            if (!l || (c != 4 && c != 5) || !sw)
                continue;
            for (int k = 0; k < 4; k++) {
                uint16_t n = ((uint16_t *)nir)[(size_t)(2 * cj + k / 2) * 800 + (size_t)(2 * ci + k % 2)];
                if (!n)
                    continue;
                sum[l] += (reflectance(n) - reflectance(sw)) / (reflectance(n) + reflectance(sw));
                count[l]++;
            }
        }
    for (int l = 1; l <= pr->n; l++)
        mean[l - 1] = count[l] >= 80 ? sum[l] / count[l] : NAN;
    free(sum), free(count), free(nir), free(swir), free(scl);
    return rc;
}

static int region_date_index(const sample_region *r, const char *iso)
{
    for (int d = 0; d < r->n_dates; d++)
        if (!strcmp(r->dates[d].iso, iso))
            return d;
    return -1;
}

/* Per parcel of the late season (15 August - 30 September): mean NDMI over those
 * dates of the meadows never mown, and of the mown ones. */
static void check_late_season(const truth_row *truth, int n_truth, const parcel_raster *pr, const double *means,
                              const scene_row *rows, const int *clear, int n_clear)
{
    double sum[2] = {0, 0}, unmown_max = -1;
    int n[2] = {0, 0};
    const char *unmown_max_id = "";
    for (int i = 0; i < n_truth; i++) {
        int p = -1;
        for (int k = 0; k < pr->n; k++)
            if (!strcmp(pr->ids[k], truth[i].id))
                p = k;
        if (p < 0 || strcmp(truth[i].type, "meadow") != 0)
            continue;
        double s = 0;
        int m = 0;
        for (int c = 0; c < n_clear; c++) {
            double v = means[(size_t)c * pr->n + p];
            if (!isnan(v) && strcmp(rows[clear[c]].date, "2026-08-15") >= 0 && strcmp(rows[clear[c]].date, "2026-09-30") <= 0)
                s += v, m++;
        }
        if (m < 2)
            continue;
        int mown = truth[i].n_mowings > 0;
        sum[mown] += s / m, n[mown]++;
        if (!mown && s / m > unmown_max)
            unmown_max = s / m, unmown_max_id = truth[i].id;
    }
    REQUIRE(n[0] >= 3 && n[1] >= 20);
    double unmown = sum[0] / n[0], mown = sum[1] / n[1];
    /* the model dries unmown meadows to NDMI 0.0-0.1 by September; mown ones
     * regrow green (NDMI 0.2-0.45, less where a summer cut is still regrowing: that
     * takes 4-8 weeks, so the mown mean sits about 0.09 above the unmown one) */
    CHECK_MSG(unmown < mown - 0.05, "late-season NDMI: unmown %.3f, mown %.3f", unmown, mown);
    CHECK_MSG(unmown_max < mown, "unmown meadow %s: late-season NDMI %.3f, above the mown mean %.3f", unmown_max_id,
              unmown_max, mown);
    printf("late-season NDMI (15 Aug - 30 Sep): %d unmown meadows %.3f (highest %.3f), %d mown %.3f\n", n[0], unmown,
           unmown_max, n[1], mown);
}

/* The generator's own targets (sample_model.c, same seed) against what the
 * files give on the clear 35VLF dates. */
static void check_ndmi_follows_model(const char *dir, uint64_t seed)
{
    static scene_row rows[256];
    static truth_row truth[1024];
    int n = read_manifest(dir, rows, 256), n_truth = read_truth(dir, truth, 1024);
    REQUIRE(n > 0 && n_truth > 0);
    sample_region r;
    REQUIRE(sample_region_build(seed, 1, &r) == MC_OK);
    int clear[64], n_clear = 0;
    for (int i = 0; i < n && n_clear < 64; i++)
        if (!rows[i].fault[0] && !strcmp(rows[i].tile, "35VLF") && rows[i].cloud_pct < 60 && rows[i].nodata_pct == 0)
            clear[n_clear++] = i;
    band grid;
    REQUIRE(n_clear >= 10 && open_band(dir, rows[clear[0]].id, "B08", &grid, NULL) == 0);
    parcel_raster pr = {0};
    REQUIRE(parcels_on_tile(dir, &grid, &pr) == 0);
    /* the file's parcel order is the model's (EE-0001 is parcel 0) */
    int same_order = pr.n == (int)r.n_parcels;
    for (int p = 0; same_order && p < pr.n; p++)
        same_order = !strcmp(pr.ids[p], r.parcels[p].id);
    REQUIRE(same_order);
    double *means = malloc(sizeof(double) * (size_t)n_clear * pr.n);
    REQUIRE(means != NULL);
    int compared = 0, off = 0;
    double worst = 0, abs_sum = 0;
    for (int c = 0; c < n_clear; c++) {
        REQUIRE(parcel_ndmi_means(dir, &rows[clear[c]], &pr, means + (size_t)c * pr.n) == 0);
        int d = region_date_index(&r, rows[clear[c]].date);
        REQUIRE(d >= 0);
        for (int p = 0; p < pr.n; p++) {
            double got = means[(size_t)c * pr.n + p];
            if (isnan(got))
                continue;
            double want = r.parcel_ndmi[(size_t)p * r.n_dates + (size_t)d], err = fabs(got - want);
            /* Tolerance 0.04. A pixel's NDMI is the parcel's plus its NDVI noise
             * through the slope of the NDVI-NDMI relation (1.2) plus 0.02 of its own.
             * The fixed per-pixel part does not average out over dates: for the
             * noisiest parcels (pastures, fixed NDVI sd 0.07 -> NDMI sd 0.084) the
             * mean of 80 pixels is off by sd 0.084 / sqrt(80) = 0.009, so up to
             * ~0.03 at 3 sd. Unflagged haze (4 % of a cirrus with NDMI ~0.2) adds
             * up to ~0.01; DN rounding (< 0.001) and the curvature of
             * (1 - x) / (1 + x) under the noise (~0.002) are small. On average the
             * error must be far smaller: below 0.008. */
            compared++;
            abs_sum += err;
            off += err > 0.04;
            if (err > worst)
                worst = err;
            if (err > 0.04)
                fprintf(stderr, "%s on %s: NDMI %.3f from the files, %.3f meant\n", r.parcels[p].id,
                        rows[clear[c]].date, got, want);
        }
    }
    CHECK_MSG(compared >= 500, "only %d parcel-dates with 80 clear interior pixels", compared);
    CHECK_INT(off, 0);
    CHECK_MSG(compared > 0 && abs_sum / compared < 0.008, "mean |error| %.4f", compared ? abs_sum / compared : 0.0);
    printf("B11: %d parcel-dates, NDMI from the files vs the model: mean |error| %.4f, worst %.4f\n", compared,
           compared ? abs_sum / compared : 0.0, worst);
    check_late_season(truth, n_truth, &pr, means, rows, clear, n_clear);
    free(means), free(pr.label), free(pr.ids);
    sample_region_free(&r);
}

static void check_region_committed(const char *generated, const char *region)
{
    static const char *const files[4] = {"parcels.gpkg", "truth.csv", "truth-events.csv", "claims.csv"};
    for (int k = 0; k < 4; k++) {
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", generated, files[k]);
        snprintf(b, sizeof b, "%s/%s", region, files[k]);
        CHECK_MSG(same_bytes(a, b), "%s is not what the generator makes with the default seed", b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_sample GENERATOR REGION_DIR\n");
        return 2;
    }
    generator = argv[1];
    GDALAllRegister();
    char tmpl[] = "/tmp/mowcheck-sample-test-XXXXXX";
    char *root = mkdtemp(tmpl);
    REQUIRE(root != NULL);
    char a[4096], b[4096], c[4096], d[4096];
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c, sizeof c, "%s/c", root);
    snprintf(d, sizeof d, "%s/d", root);

    /* the same seed twice, with different thread counts: the same bytes */
    const char *run_a[] = {"--out", a, "--seed", "7", "--with-faults", NULL};
    const char *run_b[] = {"--out", b, "--seed", "7", "--with-faults", "--threads", "1", NULL};
    REQUIRE(run_generator(run_a) == 0);
    REQUIRE(run_generator(run_b) == 0);
    check_identical_trees(a, b);
    /* writing over a sample is refused unless forced */
    CHECK(run_generator(run_a) == 1);

    check_scenes(a);
    static truth_row truth[1024];
    int n_truth = read_truth(a, truth, 1024);
    REQUIRE(n_truth > 0);
    check_parcels(a, truth, n_truth);
    check_claims(a, truth, n_truth);
    check_mowing_visible(a);
    check_ndmi_follows_model(a, 7);

    /* the committed region is the default seed's, and another seed differs */
    const char *run_c[] = {"--out", c, "--vectors-only", NULL};
    const char *run_d[] = {"--out", d, "--vectors-only", "--seed", "8", NULL};
    REQUIRE(run_generator(run_c) == 0);
    REQUIRE(run_generator(run_d) == 0);
    check_region_committed(c, argv[2]);
    snprintf(a, sizeof a, "%s/claims.csv", c);
    snprintf(b, sizeof b, "%s/claims.csv", d);
    CHECK(!same_bytes(a, b));

    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    GDALDestroyDriverManager();
    return test_summary();
}
