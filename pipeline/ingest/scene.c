/* Scene discovery and validation: what a scene folder claims to be (its name and
 * item.json) and whether its bands can be trusted before any pixel is used. */
#define _GNU_SOURCE /* VSIStatBufL: struct stat64 */
#include "scene.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_error.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_srs_api.h>

#include "error.h"
#include "log.h"

/* Processing baseline 04.00 (from 25 January 2022) added a -1000 DN offset. */
#define SCENE_OFFSET_BASELINE 400
#define SCENE_OFFSET_FROM_DATE "2022-01-25"
#define SCENE_OFFSET_DN (-1000)

static int parse_digits(const char *s, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYYMMDD (compact) or YYYY-MM-DD into "YYYY-MM-DD"; 1 when a real date. */
static int parse_date(const char *s, int compact, char out[11])
{
    int y, m, d;
    if (compact) {
        if (!parse_digits(s, 4, &y) || !parse_digits(s + 4, 2, &m) || !parse_digits(s + 6, 2, &d))
            return 0;
    } else {
        if (!parse_digits(s, 4, &y) || s[4] != '-' || !parse_digits(s + 5, 2, &m) || s[7] != '-' ||
            !parse_digits(s + 8, 2, &d))
            return 0;
    }
    if (y < 2015 || y > 2100 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return 0;
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
    memcpy(out, tmp, 11);
    return 1;
}

/* MGRS tile: UTM zone 01-60, latitude band C-X without I and O, 100 km square
 * letters A-Z without I and O. */
static int valid_mgrs_tile(const char *t)
{
    int zone;
    if (strlen(t) != 5 || !parse_digits(t, 2, &zone) || zone < 1 || zone > 60)
        return 0;
    if (!strchr("CDEFGHJKLMNPQRSTUVWX", t[2]))
        return 0;
    for (int i = 3; i < 5; i++)
        if (t[i] < 'A' || t[i] > 'Z' || t[i] == 'I' || t[i] == 'O')
            return 0;
    return 1;
}

static int valid_satellite(const char *id)
{
    return id[0] == 'S' && id[1] == '2' && id[2] >= 'A' && id[2] <= 'D' && id[3] == '_';
}

/* Fills the normalised identity of a scene: one tile-date, whatever the layout, is
 * S2X_TILE_YYYYMMDD_N_L2A. */
static void set_identity(scene_info *out, const char *satellite, const char *tile,
                         const char *date, int sequence)
{
    snprintf(out->satellite, sizeof out->satellite, "%.3s", satellite);
    snprintf(out->tile_id, sizeof out->tile_id, "%s", tile);
    snprintf(out->acquired_on, sizeof out->acquired_on, "%s", date);
    out->sequence = sequence;
    snprintf(out->scene_id, sizeof out->scene_id, "%.3s_%s_%.4s%.2s%.2s_%d_L2A", satellite, tile,
             date, date + 5, date + 8, sequence);
}

/* Earth Search collection-1: S2B_T35VLF_20260621T095031_L2A (tile with its T, the
 * sensing time); 1 when the id has that form, else 0 (no message). */
static int parse_collection1_id(const char *id, scene_info *out)
{
    char tile[6], date[11];
    int hhmmss;
    if (strlen(id) != 30 || !valid_satellite(id) || id[4] != 'T' || id[10] != '_' ||
        id[19] != 'T' || id[26] != '_' || strcmp(id + 26, "_L2A") != 0)
        return 0;
    memcpy(tile, id + 5, 5);
    tile[5] = '\0';
    if (!valid_mgrs_tile(tile) || !parse_date(id + 11, 1, date) || !parse_digits(id + 20, 6, &hhmmss))
        return 0;
    set_identity(out, id, tile, date, 0);
    return 1;
}

int scene_parse_id(const char *id, scene_info *out)
{
    /* S2B_35VLF_20260615_0_L2A, or collection-1's S2B_T35VLF_20260615T095031_L2A */
    if (parse_collection1_id(id, out))
        return MC_OK;
    size_t len = strlen(id);
    if (len < 24 || len >= SCENE_ID_MAX)
        return mc_fail("scene id '%s': expected S2X_TILE_YYYYMMDD_N_L2A", id);
    if (!valid_satellite(id))
        return mc_fail("scene id '%s': expected a satellite S2A..S2D at the start", id);
    char tile[6];
    memcpy(tile, id + 4, 5);
    tile[5] = '\0';
    if (!valid_mgrs_tile(tile) || id[9] != '_')
        return mc_fail("scene id '%s': '%s' is not an MGRS tile", id, tile);
    char date[11];
    if (!parse_date(id + 10, 1, date) || id[18] != '_')
        return mc_fail("scene id '%s': '%.8s' is not a date YYYYMMDD", id, id + 10);
    const char *p = id + 19;
    int seq = 0, n_digits = 0;
    while (isdigit((unsigned char)*p) && n_digits < 4) {
        seq = seq * 10 + (*p - '0');
        p++;
        n_digits++;
    }
    if (n_digits == 0 || strcmp(p, "_L2A") != 0)
        return mc_fail("scene id '%s': expected _<sequence>_L2A after the date", id);
    set_identity(out, id, tile, date, seq);
    return MC_OK;
}

/* "05.10" -> 510; -1 when not NN.NN. */
static int baseline_number(const char *b)
{
    int major, minor;
    if (strlen(b) != 5 || !parse_digits(b, 2, &major) || b[2] != '.' || !parse_digits(b + 3, 2, &minor))
        return -1;
    return major * 100 + minor;
}

int scene_offset_for(const char *baseline, const char *acquired_on, int32_t *offset_dn)
{
    if (baseline && *baseline) {
        int n = baseline_number(baseline);
        if (n < 0)
            return mc_fail("processing baseline '%s': expected NN.NN", baseline);
        *offset_dn = n >= SCENE_OFFSET_BASELINE ? SCENE_OFFSET_DN : 0;
        return MC_OK;
    }
    *offset_dn = strcmp(acquired_on, SCENE_OFFSET_FROM_DATE) >= 0 ? SCENE_OFFSET_DN : 0;
    return MC_OK;
}

/* ---- item.json ---- */

static int item_string(json_t *obj, const char *key, const char **out, const char *file)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return MC_OK;
    if (!json_is_string(v))
        return mc_fail("%s: '%s' is not a string", file, key);
    *out = json_string_value(v);
    return MC_OK;
}

/* The tile an item names: s2:mgrs_tile, or the mgrs:* triple of newer catalogs. */
static int item_tile(json_t *props, char tile[TILE_ID_MAX], const char *file)
{
    const char *t;
    tile[0] = '\0';
    if (item_string(props, "s2:mgrs_tile", &t, file) != MC_OK)
        return MC_ERR;
    if (t) {
        snprintf(tile, TILE_ID_MAX, "%s", t);
        return MC_OK;
    }
    json_t *zone = json_object_get(props, "mgrs:utm_zone");
    const char *band = NULL, *square = NULL;
    if (!zone)
        return MC_OK;
    if (!json_is_integer(zone) || item_string(props, "mgrs:latitude_band", &band, file) != MC_OK ||
        item_string(props, "mgrs:grid_square", &square, file) != MC_OK || !band || !square)
        return mc_fail("%s: incomplete mgrs:utm_zone/latitude_band/grid_square", file);
    snprintf(tile, TILE_ID_MAX, "%02d%s%s", (int)json_integer_value(zone), band, square);
    return MC_OK;
}

/* Offset in DN from an asset's raster:bands (offset / scale); *found = 0 without one. */
static int asset_offset(json_t *assets, const char *const *keys, int32_t *offset_dn, int *found,
                        const char *file)
{
    *found = 0;
    for (int k = 0; keys[k]; k++) {
        json_t *asset = json_object_get(assets, keys[k]);
        json_t *bands = asset ? json_object_get(asset, "raster:bands") : NULL;
        if (!bands)
            continue;
        json_t *b0 = json_is_array(bands) ? json_array_get(bands, 0) : NULL;
        if (!json_is_object(b0))
            return mc_fail("%s: assets.%s raster:bands is not a list of objects", file, keys[k]);
        json_t *off = json_object_get(b0, "offset"), *scale = json_object_get(b0, "scale");
        if (!off)
            continue;
        if (!json_is_number(off) || (scale && !json_is_number(scale)))
            return mc_fail("%s: assets.%s raster:bands offset/scale are not numbers", file, keys[k]);
        double s = scale ? json_number_value(scale) : 1.0;
        if (!(fabs(s) > 0))
            return mc_fail("%s: assets.%s raster:bands scale is 0", file, keys[k]);
        double dn = json_number_value(off) / s;
        if (!(fabs(dn) < 65536))
            return mc_fail("%s: assets.%s raster:bands offset %g is out of range", file, keys[k],
                           json_number_value(off));
        *offset_dn = (int32_t)lround(dn);
        *found = 1;
        return MC_OK;
    }
    return MC_OK;
}

/* Offset from raster:bands of the red and NIR assets; both must agree where both say. */
static int item_band_offset(json_t *root, int32_t *offset_dn, int *found, const char *file)
{
    static const char *const red_keys[] = {"B04", "red", NULL};
    static const char *const nir_keys[] = {"B08", "nir", NULL};
    json_t *assets = json_object_get(root, "assets");
    *found = 0;
    if (!assets)
        return MC_OK;
    if (!json_is_object(assets))
        return mc_fail("%s: 'assets' is not an object", file);
    int32_t red = 0, nir = 0;
    int has_red, has_nir;
    if (asset_offset(assets, red_keys, &red, &has_red, file) != MC_OK ||
        asset_offset(assets, nir_keys, &nir, &has_nir, file) != MC_OK)
        return MC_ERR;
    if (has_red && has_nir && red != nir)
        return mc_fail("%s: raster:bands offsets of red (%d DN) and nir (%d DN) differ", file,
                       (int)red, (int)nir);
    *found = has_red || has_nir;
    *offset_dn = has_red ? red : nir;
    return MC_OK;
}

/* The last component of the delivery's path: the folder (or zip) name as delivered. */
static const char *delivery_name(const scene_info *sc)
{
    const char *slash = strrchr(sc->path, '/');
    return slash ? slash + 1 : sc->path;
}

/* Each band's file from the item's assets (Earth Search v1 names them red, nir, scl,
 * swir16; older catalogs B04, B08, SCL, B11). A relative href is relative to the item;
 * a URL (the archive's own address) is the file of that name in the synced folder. */
static int item_band_files(json_t *root, scene_info *sc, const char *file)
{
    static const char *const keys[SCENE_N_BANDS][3] = {
        {"B04", "red", NULL}, {"B08", "nir", NULL}, {"SCL", "scl", NULL}, {"B11", "swir16", NULL}};
    json_t *assets = json_object_get(root, "assets");
    if (!json_is_object(assets))
        return MC_OK;
    for (int b = 0; b < SCENE_N_BANDS; b++)
        for (int k = 0; keys[b][k]; k++) {
            json_t *asset = json_object_get(assets, keys[b][k]);
            const char *href = NULL;
            if (!asset || item_string(asset, "href", &href, file) != MC_OK)
                continue;
            if (!href)
                continue;
            const char *name = href;
            if (strstr(href, "://"))
                name = strrchr(href, '/') + 1;
            else if (strncmp(href, "./", 2) == 0)
                name = href + 2;
            if (!*name || name[0] == '/' || strstr(name, "..") || strlen(name) >= SCENE_BAND_FILE_MAX)
                return mc_fail("%s: assets.%s href '%s' is not a file of the scene's folder", file,
                               keys[b][k], href);
            snprintf(sc->band_file[b], sizeof sc->band_file[b], "%s", name);
            break;
        }
    mc_error_clear();
    return MC_OK;
}

/* Earth Search v1 items whose pixels already had the BOA offset removed carry
 * earthsearch:boa_offset_applied = true, while raster:bands and the baseline still
 * describe the offset: subtracting it again would push dark pixels below zero. */
static int item_offset_applied(json_t *props, int *applied, const char *file)
{
    json_t *flag = json_object_get(props, "earthsearch:boa_offset_applied");
    *applied = 0;
    if (!flag || json_is_null(flag))
        return MC_OK;
    if (!json_is_boolean(flag))
        return mc_fail("%s: earthsearch:boa_offset_applied is not true or false", file);
    *applied = json_is_true(flag);
    return MC_OK;
}

/* Checks item.json against the name and fills the baseline, offset and band files. */
static int apply_item(json_t *root, scene_info *sc, const char *file)
{
    if (!json_is_object(root))
        return mc_fail("%s: not a JSON object", file);
    const char *id = NULL;
    if (item_string(root, "id", &id, file) != MC_OK)
        return MC_ERR;
    if (id && strcmp(id, delivery_name(sc)) != 0 && strcmp(id, sc->scene_id) != 0)
        return mc_fail("%s: id '%s' does not match the folder name %s", file, id,
                       delivery_name(sc));
    if (item_band_files(root, sc, file) != MC_OK)
        return MC_ERR;
    json_t *props = json_object_get(root, "properties");
    if (!json_is_object(props))
        return mc_fail("%s: no 'properties' object", file);
    const char *datetime = NULL, *baseline = NULL;
    char tile[TILE_ID_MAX], date[11];
    if (item_string(props, "datetime", &datetime, file) != MC_OK ||
        item_string(props, "s2:processing_baseline", &baseline, file) != MC_OK ||
        item_tile(props, tile, file) != MC_OK)
        return MC_ERR;
    if (datetime) {
        if (strlen(datetime) < 10 || !parse_date(datetime, 0, date))
            return mc_fail("%s: datetime '%s' is not an ISO date", file, datetime);
        if (strcmp(date, sc->acquired_on) != 0)
            return mc_fail("%s: datetime %s does not match the date %s in the scene id", file, date,
                           sc->acquired_on);
    }
    if (tile[0] && strcmp(tile, sc->tile_id) != 0)
        return mc_fail("%s: tile %s does not match the tile %s in the scene id", file, tile,
                       sc->tile_id);
    if (baseline) {
        if (baseline_number(baseline) < 0)
            return mc_fail("%s: s2:processing_baseline '%s': expected NN.NN", file, baseline);
        snprintf(sc->processing_baseline, sizeof sc->processing_baseline, "%s", baseline);
    }
    int32_t band_offset = 0;
    int has_band_offset, applied;
    if (item_band_offset(root, &band_offset, &has_band_offset, file) != MC_OK ||
        item_offset_applied(props, &applied, file) != MC_OK)
        return MC_ERR;
    if (applied) {
        sc->reflectance_offset_dn = 0;
        snprintf(sc->offset_source, sizeof sc->offset_source,
                 "earthsearch:boa_offset_applied = true");
        log_debug("scene %s: earthsearch:boa_offset_applied: the pixels are reflectance x 10000, "
                  "no offset is added", sc->path);
        return MC_OK;
    }
    if (baseline) {
        snprintf(sc->offset_source, sizeof sc->offset_source, "processing baseline %s", baseline);
        if (scene_offset_for(baseline, sc->acquired_on, &sc->reflectance_offset_dn) != MC_OK)
            return mc_fail_wrap("%s", file);
        if (has_band_offset && band_offset != sc->reflectance_offset_dn)
            return mc_fail("%s: raster:bands offset %d DN contradicts processing baseline %s (%d DN)",
                           file, (int)band_offset, baseline, (int)sc->reflectance_offset_dn);
    } else if (has_band_offset) {
        if (band_offset != 0 && band_offset != SCENE_OFFSET_DN)
            return mc_fail("%s: raster:bands offset %d DN is neither 0 nor %d", file,
                           (int)band_offset, SCENE_OFFSET_DN);
        sc->reflectance_offset_dn = band_offset;
        snprintf(sc->offset_source, sizeof sc->offset_source, "raster:bands offset");
    } else {
        scene_offset_for("", sc->acquired_on, &sc->reflectance_offset_dn);
        snprintf(sc->offset_source, sizeof sc->offset_source, "the acquisition date");
        log_debug("scene %s: item.json names no processing baseline; offset %d DN by the date %s",
                  sc->path, (int)sc->reflectance_offset_dn, sc->acquired_on);
    }
    return MC_OK;
}

int scene_identify(const char *scenes_dir, const char *name, scene_info *out)
{
    static const char *const default_files[SCENE_N_BANDS] = {"B04.tif", "B08.tif", "SCL.tif",
                                                             "B11.tif"};
    memset(out, 0, sizeof *out);
    int n = snprintf(out->path, sizeof out->path, "%s/%s", scenes_dir, name);
    if (n < 0 || (size_t)n >= sizeof out->path)
        return mc_fail("scene %s/%s: path too long", scenes_dir, name);
    for (int b = 0; b < SCENE_N_BANDS; b++)
        snprintf(out->band_file[b], sizeof out->band_file[b], "%s", default_files[b]);
    const char *base = delivery_name(out);
    int safe = scene_safe_kind(base);
    if (safe) {
        /* the product's metadata names its band files (scene_safe_load) */
        memset(out->band_file, 0, sizeof out->band_file);
        out->is_safe = 1;
        out->in_zip = safe == SCENE_SAFE_ZIP;
        return scene_safe_parse_name(base, out);
    }
    return scene_parse_id(base, out);
}

/* item.json where the folder has one; tile and date from the name otherwise. */
static int load_item(scene_info *out)
{
    char file[SCENE_BAND_PATH_MAX];
    snprintf(file, sizeof file, "%s/item.json", out->path);
    struct stat st;
    if (stat(file, &st) != 0) {
        scene_offset_for("", out->acquired_on, &out->reflectance_offset_dn);
        snprintf(out->offset_source, sizeof out->offset_source, "the acquisition date");
        log_debug("scene %s: no item.json; tile and date from the name, offset %d DN by the date",
                  out->path, (int)out->reflectance_offset_dn);
        return MC_OK;
    }
    if (!S_ISREG(st.st_mode))
        return mc_fail("%s: not a regular file", file);
    json_error_t jerr;
    json_t *root = json_load_file(file, 0, &jerr);
    if (!root)
        return mc_fail("%s: does not parse: %s (line %d)", file, jerr.text, jerr.line);
    int rc = apply_item(root, out, file);
    json_decref(root);
    return rc;
}

int scene_load(const char *scenes_dir, const char *name, scene_info *out)
{
    if (scene_identify(scenes_dir, name, out) != MC_OK)
        return MC_ERR;
    return out->is_safe ? scene_safe_load(out) : load_item(out);
}

/* ---- order ---- */

int scene_compare(const void *a, const void *b)
{
    const scene_info *x = a, *y = b;
    int c = strcmp(x->acquired_on, y->acquired_on);
    if (c == 0)
        c = strcmp(x->tile_id, y->tile_id);
    if (c == 0)
        c = (x->sequence > y->sequence) - (x->sequence < y->sequence);
    if (c == 0)
        c = strcmp(x->scene_id, y->scene_id);
    return c;
}

/* ---- validation ---- */

static int band_index(const char *band)
{
    static const char *const names[SCENE_N_BANDS] = {"B04", "B08", "SCL", "B11"};
    for (int b = 0; b < SCENE_N_BANDS; b++)
        if (strcmp(names[b], band) == 0)
            return b;
    return -1;
}

int scene_band_path(const scene_info *scene, const char *band, char *buf, size_t size)
{
    int b = band_index(band);
    if (b < 0)
        return mc_fail("scene %s: no band %s", scene->path, band);
    int n = snprintf(buf, size, "%s%s/%s", scene->in_zip ? "/vsizip/" : "", scene->path,
                     scene->band_file[b]);
    if (n < 0 || (size_t)n >= size)
        return mc_fail("scene %s: path too long", scene->path);
    return MC_OK;
}

typedef struct band_file {
    char path[SCENE_BAND_PATH_MAX];
    GDALDatasetH ds;
    int width, height;
    GDALDataType type;
    double gt[6];
    OGRSpatialReferenceH srs; /* owned by ds */
} band_file;

static int open_band(const scene_info *scene, const char *band, band_file *bf)
{
    struct stat st;
    if (scene_band_path(scene, band, bf->path, sizeof bf->path) != MC_OK)
        return MC_ERR;
    VSIStatBufL vst;
    if (scene->in_zip ? VSIStatL(bf->path, &vst) != 0 : stat(bf->path, &st) != 0)
        return mc_fail("band %s missing: %s: %s", band, bf->path,
                       scene->in_zip ? "not in the zip" : strerror(errno));
    if (!scene->in_zip && !S_ISREG(st.st_mode)) /* a FIFO or a device would block the read */
        return mc_fail("band %s: %s is not a regular file", band, bf->path);
    CPLErrorReset();
    bf->ds = GDALOpenEx(bf->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!bf->ds)
        return mc_fail("%s: GDAL cannot open it: %s", bf->path,
                       *CPLGetLastErrorMsg() ? CPLGetLastErrorMsg() : "unknown format");
    if (GDALGetRasterCount(bf->ds) < 1)
        return mc_fail("%s: no raster band", bf->path);
    GDALRasterBandH rb = GDALGetRasterBand(bf->ds, 1);
    bf->width = GDALGetRasterXSize(bf->ds);
    bf->height = GDALGetRasterYSize(bf->ds);
    bf->type = GDALGetRasterDataType(rb);
    if (GDALGetGeoTransform(bf->ds, bf->gt) != CE_None)
        return mc_fail("%s: no geotransform", bf->path);
    if (bf->gt[2] != 0 || bf->gt[4] != 0 || !(bf->gt[1] > 0) || !(bf->gt[5] < 0))
        return mc_fail("%s: rotated or flipped geotransform is not supported", bf->path);
    bf->srs = GDALGetSpatialRef(bf->ds);
    if (!bf->srs)
        return mc_fail("%s: no coordinate reference system", bf->path);
    return MC_OK;
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

static int check_10m_pair(const band_file *red, const band_file *nir)
{
    if (red->type != GDT_UInt16)
        return mc_fail("%s: data type %s, expected UInt16", red->path, GDALGetDataTypeName(red->type));
    if (nir->type != GDT_UInt16)
        return mc_fail("%s: data type %s, expected UInt16", nir->path, GDALGetDataTypeName(nir->type));
    if (red->width != nir->width || red->height != nir->height)
        return mc_fail("%s is %dx%d but %s is %dx%d", nir->path, nir->width, nir->height, red->path,
                       red->width, red->height);
    for (int i = 0; i < 6; i++)
        if (!near(red->gt[i], nir->gt[i], 1e-6))
            return mc_fail("%s: geotransform differs from %s", nir->path, red->path);
    if (!OSRIsSame(red->srs, nir->srs))
        return mc_fail("%s: CRS differs from %s", nir->path, red->path);
    if (!OSRIsProjected(red->srs))
        return mc_fail("%s: CRS is not projected", red->path);
    return MC_OK;
}

/* A 20 m band (SCL, B11) over the 10 m grid of red: half the resolution, same corner, CRS. */
static int check_20m_grid(const band_file *red, const band_file *b)
{
    int want_w = (red->width + 1) / 2, want_h = (red->height + 1) / 2;
    if (b->width != want_w || b->height != want_h)
        return mc_fail("%s is %dx%d, expected %dx%d (20 m over the %dx%d 10 m bands)", b->path,
                       b->width, b->height, want_w, want_h, red->width, red->height);
    if (!near(b->gt[1], 2 * red->gt[1], 1e-6) || !near(b->gt[5], 2 * red->gt[5], 1e-6))
        return mc_fail("%s: pixel size %gx%g, expected %gx%g", b->path, b->gt[1], b->gt[5],
                       2 * red->gt[1], 2 * red->gt[5]);
    if (!near(b->gt[0], red->gt[0], 1e-6) || !near(b->gt[3], red->gt[3], 1e-6))
        return mc_fail("%s: upper-left corner (%.3f, %.3f) differs from %s (%.3f, %.3f)", b->path,
                       b->gt[0], b->gt[3], red->path, red->gt[0], red->gt[3]);
    if (!OSRIsSame(b->srs, red->srs))
        return mc_fail("%s: CRS differs from %s", b->path, red->path);
    return MC_OK;
}

static int check_20m_band(const band_file *red, const band_file *b, GDALDataType want)
{
    if (b->type != want)
        return mc_fail("%s: data type %s, expected %s", b->path, GDALGetDataTypeName(b->type),
                       want == GDT_Byte ? "Byte (uint8)" : GDALGetDataTypeName(want));
    return check_20m_grid(red, b);
}

/* Present unless nothing is there at all: a dangling link or an unreadable entry is
 * present, so it fails validation rather than pass for "no B11". */
int scene_swir_present(const scene_info *scene)
{
    char path[SCENE_BAND_PATH_MAX];
    struct stat st;
    if (scene_band_path(scene, "B11", path, sizeof path) != MC_OK)
        return 0; /* B04's path, as long, has failed already */
    if (scene->is_safe && !scene->band_file[SCENE_BAND_SWIR][0])
        return 0; /* the product's metadata lists no B11 */
    if (scene->in_zip) {
        VSIStatBufL vst;
        return VSIStatL(path, &vst) == 0;
    }
    return lstat(path, &st) == 0 || errno != ENOENT;
}

/* B11 is optional: absent, the scene gives NDVI only; present, it must be right. */
static int check_swir(const scene_info *scene, const band_file *red, band_file *swir,
                      int *has_swir)
{
    *has_swir = 0;
    if (!scene_swir_present(scene))
        return MC_OK;
    if (open_band(scene, "B11", swir) != MC_OK || check_20m_band(red, swir, GDT_UInt16) != MC_OK)
        return MC_ERR;
    *has_swir = 1;
    return MC_OK;
}

static int grid_epsg(const band_file *red, int *epsg)
{
    OGRSpatialReferenceH srs = OSRClone(red->srs);
    const char *code = NULL;
    if (srs) {
        OSRAutoIdentifyEPSG(srs);
        const char *auth = OSRGetAuthorityName(srs, NULL);
        if (auth && strcmp(auth, "EPSG") == 0)
            code = OSRGetAuthorityCode(srs, NULL);
    }
    *epsg = code ? atoi(code) : 0;
    if (srs)
        OSRDestroySpatialReference(srs);
    if (*epsg <= 0)
        return mc_fail("%s: CRS has no EPSG code", red->path);
    return MC_OK;
}

int scene_validate(scene_info *scene, tile_grid *grid)
{
    static const char *const names[3] = {"B04", "B08", "SCL"};
    band_file bf[4]; /* the three above, then the optional B11 */
    memset(bf, 0, sizeof bf);
    /* Quiet GDAL's own printing: its message becomes part of ours. */
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int rc = MC_OK;
    for (int i = 0; i < 3 && rc == MC_OK; i++)
        rc = open_band(scene, names[i], &bf[i]);
    if (rc == MC_OK)
        rc = check_10m_pair(&bf[0], &bf[1]);
    if (rc == MC_OK)
        rc = check_20m_band(&bf[0], &bf[2], GDT_Byte);
    if (rc == MC_OK)
        rc = check_swir(scene, &bf[0], &bf[3], &scene->has_swir);
    if (rc == MC_OK) {
        memset(grid, 0, sizeof *grid);
        snprintf(grid->tile_id, sizeof grid->tile_id, "%s", scene->tile_id);
        memcpy(grid->geotransform, bf[0].gt, sizeof grid->geotransform);
        grid->width = bf[0].width;
        grid->height = bf[0].height;
        rc = grid_epsg(&bf[0], &grid->epsg);
    }
    for (int i = 0; i < 4; i++)
        if (bf[i].ds)
            GDALClose(bf[i].ds);
    CPLPopErrorHandler();
    return rc;
}

int scene_grids_equal(const tile_grid *a, const tile_grid *b)
{
    if (a->epsg != b->epsg || a->width != b->width || a->height != b->height)
        return 0;
    for (int i = 0; i < 6; i++)
        if (!near(a->geotransform[i], b->geotransform[i], 1e-6))
            return 0;
    return 1;
}
