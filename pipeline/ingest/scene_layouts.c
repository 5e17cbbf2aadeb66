/* The delivery layouts beyond the plain <scenes>/<scene_id>/ folder: finding scenes in
 * the public archive's nested TT/L/SS/YYYY/M/ tree, and Copernicus .SAFE products
 * (folders and .zip files), whose metadata GDAL's XML parser reads and whose JP2
 * bands GDAL's JP2OpenJPEG driver decodes, through /vsizip/ for a zip. */
#include "scene.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_minixml.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "error.h"
#include "log.h"

/* ---- discovery ---- */

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static int name_list_add(name_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            return mc_fail("out of memory");
        l->v = grown;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name)))
        return mc_fail("out of memory");
    l->n++;
    return MC_OK;
}

static int all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int all_upper(const char *s, size_t len)
{
    if (strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The archive's nesting, one level per depth: UTM zone, latitude band, grid square,
 * year, month (35/V/LF/2026/6/). */
static int archive_level(int depth, const char *name)
{
    switch (depth) {
    case 0: return all_digits(name, 1, 2);
    case 1: return all_upper(name, 1);
    case 2: return all_upper(name, 2);
    case 3: return all_digits(name, 4, 4);
    case 4: return all_digits(name, 1, 2);
    default: return 0;
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the deliveries under root/rel: folders (a scene or something to report by name)
 * and zip files; descends into the archive's nesting. */
static int walk(const char *root, const char *rel, int depth, name_list *out)
{
    char dir[SCENE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return mc_fail("scenes folder %s: %s", dir, strerror(errno));
    name_list here = {0};
    int rc = MC_OK;
    struct dirent *e;
    while (rc == MC_OK && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            rc = name_list_add(&here, e->d_name);
    closedir(d);
    if (here.n)
        qsort(here.v, here.n, sizeof *here.v, cmp_names);
    for (size_t i = 0; i < here.n && rc == MC_OK; i++) {
        char child[SCENE_PATH_MAX], path[SCENE_PATH_MAX];
        struct stat st;
        int n = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", here.v[i]);
        int m = snprintf(path, sizeof path, "%s/%s", root, child);
        if (n < 0 || (size_t)n >= sizeof child || m < 0 || (size_t)m >= sizeof path ||
            stat(path, &st) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            if (ends_with(here.v[i], ".zip"))
                rc = name_list_add(out, child);
        } else if (S_ISDIR(st.st_mode)) {
            if (archive_level(depth, here.v[i]))
                rc = walk(root, child, depth + 1, out);
            else
                rc = name_list_add(out, child);
        }
    }
    scene_names_free(here.v, here.n);
    return rc;
}

void scene_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int scene_list_dirs(const char *scenes_dir, char ***names, size_t *n)
{
    name_list out = {0};
    *names = NULL;
    *n = 0;
    if (walk(scenes_dir, "", 0, &out) != MC_OK) {
        scene_names_free(out.v, out.n);
        return MC_ERR;
    }
    *names = out.v;
    *n = out.n;
    return MC_OK;
}

/* ---- .SAFE products ---- */

int scene_safe_kind(const char *name)
{
    return ends_with(name, ".SAFE") ? SCENE_SAFE_FOLDER
           : ends_with(name, ".SAFE.zip") ? SCENE_SAFE_ZIP
                                          : 0;
}

/* S2B_MSIL2A_20260621T095031_N0511_R079_T35VLF_20260621T125011.SAFE[.zip] */
int scene_safe_parse_name(const char *name, scene_info *out)
{
    char **f = CSLTokenizeString2(name, "_.", 0);
    int n = CSLCount(f), rc = MC_ERR;
    if (n < 7 || strlen(f[0]) != 3 || f[0][0] != 'S' || f[0][1] != '2' || f[0][2] < 'A' ||
        f[0][2] > 'D')
        mc_fail("product %s: expected S2X_MSIL2A_YYYYMMDDTHHMMSS_Nxxxx_Rxxx_Txxxxx_....SAFE",
                name);
    else if (strcmp(f[1], "MSIL2A") != 0)
        mc_fail("product %s: a %s product; mowcheck reads Level-2A (MSIL2A) only", name, f[1]);
    else if (strlen(f[2]) != 15 || f[2][8] != 'T' || strlen(f[3]) != 5 || f[3][0] != 'N' ||
             !all_digits(f[3] + 1, 4, 4) || f[5][0] != 'T')
        mc_fail("product %s: expected S2X_MSIL2A_YYYYMMDDTHHMMSS_Nxxxx_Rxxx_Txxxxx_....SAFE",
                name);
    else {
        /* The same checks as a scene id: build one and parse it. */
        char id[64];
        snprintf(id, sizeof id, "%s_%s_%.8s_0_L2A", f[0], f[5] + 1, f[2]);
        if (scene_parse_id(id, out) != MC_OK)
            mc_fail_wrap("product %s", name);
        else {
            snprintf(out->processing_baseline, sizeof out->processing_baseline, "%.2s.%.2s",
                     f[3] + 1, f[3] + 3);
            rc = MC_OK;
        }
    }
    CSLDestroy(f);
    return rc;
}

/* The product's root as GDAL opens it, and its prefix relative to scene->path (the
 * .SAFE folder inside a zip; "" for a folder). */
static int safe_root(const scene_info *sc, char *root, size_t size, char *prefix, size_t psize)
{
    prefix[0] = '\0';
    if (!sc->in_zip) {
        snprintf(root, size, "%s", sc->path);
        return MC_OK;
    }
    char zip[SCENE_BAND_PATH_MAX];
    snprintf(zip, sizeof zip, "/vsizip/%s", sc->path);
    char **entries = VSIReadDir(zip);
    for (int i = 0; entries && entries[i]; i++)
        if (ends_with(entries[i], ".SAFE")) {
            snprintf(prefix, psize, "%s/", entries[i]);
            break;
        }
    CSLDestroy(entries);
    if (!prefix[0])
        return mc_fail("%s: no .SAFE folder inside the zip (or not a readable zip)", sc->path);
    int n = snprintf(root, size, "%s/%.*s", zip, (int)strlen(prefix) - 1, prefix);
    if (n < 0 || (size_t)n >= size)
        return mc_fail("%s: path too long", sc->path);
    return MC_OK;
}

/* The granule's band files: IMAGE_FILE entries (without extension) ending in
 * _B04_10m, _B08_10m, _SCL_20m, _B11_20m. */
static void safe_band_files(CPLXMLNode *granule, const char *prefix, scene_info *sc)
{
    static const char *const suffix[SCENE_N_BANDS] = {"_B04_10m", "_B08_10m", "_SCL_20m",
                                                      "_B11_20m"};
    for (int b = 0; b < SCENE_N_BANDS; b++)
        sc->band_file[b][0] = '\0';
    for (CPLXMLNode *n = granule ? granule->psChild : NULL; n; n = n->psNext) {
        if (n->eType != CXT_Element || strncmp(n->pszValue, "IMAGE_FILE", 10) != 0)
            continue;
        const char *file = CPLGetXMLValue(n, NULL, "");
        for (int b = 0; b < SCENE_N_BANDS; b++)
            if (ends_with(file, suffix[b]))
                snprintf(sc->band_file[b], sizeof sc->band_file[b], "%s%s.jp2", prefix, file);
    }
}

/* BOA_ADD_OFFSET of B04 (band_id 3) and B08 (band_id 7); *found 0 where the product
 * has no offset list (baselines before 04.00). */
static int safe_offset(CPLXMLNode *tree, int32_t *offset_dn, int *found, const char *file)
{
    CPLXMLNode *list = CPLSearchXMLNode(tree, "=BOA_ADD_OFFSET_VALUES_LIST");
    long red = 0, nir = 0;
    int has_red = 0, has_nir = 0;
    *found = 0;
    for (CPLXMLNode *n = list ? list->psChild : NULL; n; n = n->psNext) {
        if (n->eType != CXT_Element || strcmp(n->pszValue, "BOA_ADD_OFFSET") != 0)
            continue;
        const char *band = CPLGetXMLValue(n, "band_id", ""), *text = CPLGetXMLValue(n, NULL, "");
        char *end;
        long v = strtol(text, &end, 10);
        if (end == text || *end)
            return mc_fail("%s: BOA_ADD_OFFSET '%s' of band %s is not a whole number", file, text,
                           band);
        if (strcmp(band, "3") == 0)
            red = v, has_red = 1;
        else if (strcmp(band, "7") == 0)
            nir = v, has_nir = 1;
    }
    if (has_red && has_nir && red != nir)
        return mc_fail("%s: BOA_ADD_OFFSET of B04 (%ld) and B08 (%ld) differ", file, red, nir);
    if (has_red || has_nir) {
        *offset_dn = (int32_t)(has_red ? red : nir);
        *found = 1;
    }
    return MC_OK;
}

static int safe_apply(CPLXMLNode *tree, const char *prefix, scene_info *sc, const char *file)
{
    CPLXMLNode *info = CPLSearchXMLNode(tree, "=Product_Info");
    if (!info)
        return mc_fail("%s: no Product_Info (not an L2A product's MTD_MSIL2A.xml?)", file);
    const char *start = CPLGetXMLValue(info, "PRODUCT_START_TIME", "");
    if (strlen(start) < 10 || strncmp(start, sc->acquired_on, 10) != 0)
        return mc_fail("%s: PRODUCT_START_TIME '%s' does not match the date %s in the product name",
                       file, start, sc->acquired_on);
    const char *baseline = CPLGetXMLValue(info, "PROCESSING_BASELINE", NULL);
    if (baseline)
        snprintf(sc->processing_baseline, sizeof sc->processing_baseline, "%s", baseline);
    safe_band_files(CPLSearchXMLNode(info, "Granule"), prefix, sc);
    static const char *const needed[3] = {"B04 at 10 m", "B08 at 10 m", "SCL at 20 m"};
    for (int b = 0; b < 3; b++)
        if (!sc->band_file[b][0])
            return mc_fail("%s: the product lists no %s (IMAGE_FILE)", file, needed[b]);
    int found;
    if (safe_offset(tree, &sc->reflectance_offset_dn, &found, file) != MC_OK)
        return MC_ERR;
    if (found) {
        snprintf(sc->offset_source, sizeof sc->offset_source, "BOA_ADD_OFFSET of MTD_MSIL2A.xml");
        return MC_OK;
    }
    snprintf(sc->offset_source, sizeof sc->offset_source, "processing baseline %s",
             sc->processing_baseline);
    if (scene_offset_for(sc->processing_baseline, sc->acquired_on, &sc->reflectance_offset_dn) !=
        MC_OK)
        return mc_fail_wrap("%s", file);
    return MC_OK;
}

int scene_safe_load(scene_info *sc)
{
    char root[SCENE_BAND_PATH_MAX], prefix[SCENE_BAND_FILE_MAX], file[SCENE_BAND_PATH_MAX + 16];
    if (safe_root(sc, root, sizeof root, prefix, sizeof prefix) != MC_OK)
        return MC_ERR;
    snprintf(file, sizeof file, "%s/MTD_MSIL2A.xml", root);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    CPLXMLNode *tree = CPLParseXMLFile(file);
    CPLPopErrorHandler();
    if (!tree)
        return mc_fail("%s: %s", file,
                       *CPLGetLastErrorMsg() ? CPLGetLastErrorMsg() : "missing or not XML");
    CPLStripXMLNamespace(tree, NULL, TRUE);
    int rc = safe_apply(tree, prefix, sc, file);
    CPLDestroyXMLNode(tree);
    return rc;
}
