/* The on-disk cache of parsed parcel sets (parcels_load_cached in parcels.h).
 *
 * Reading a 200k-parcel GeoPackage through OGR, checking every geometry and hashing
 * it costs about half a second of CPU; a nightly run reads the same file night
 * after night. So the parsed set is kept in <cache_dir>/parcels-<key>.mcp, key =
 * SHA-256 over the cache format, the parcel hash's version, GDAL's release, the id
 * field, the inner buffer and the bytes of every file the dataset consists of (as
 * GDAL lists them, e.g. a shapefile's .shp, .dbf, .shx, .prj; a GeoPackage's -wal
 * too where one exists). Any change to the file is another key.
 *
 * Format (little-endian):
 *   header, 88 bytes: magic "MCPARCEL", u32 version, u32 zero, u64 payload bytes,
 *     u8[32] key, u8[32] SHA-256 of the payload
 *   payload: u8[64] the set's hash (hex), u64 n, u64 n_refused, u64 n_dropped,
 *     str CRS (WKT2), u32 count + str each: the warnings of the features left out
 *     (without the leading "parcels <path>: "), then per parcel: str id, str why
 *     its geometry was refused (length 0xffffffff where accepted), u32 WKB length
 *     (0 where refused) and the WKB (2D, little-endian).
 *   str: u32 length, then the bytes (no NUL).
 * Everything is checked on load: size, magic, version, key, checksum, every length
 * and count; a file that fails is reported and the vector file is read again (and
 * the cache rewritten). Written to a temporary file in the same folder, synced,
 * then renamed. Geometries and the CRS of a cached set are parsed from the WKB
 * when first needed (parcels_need_geometries): a night whose label rasters and
 * parcel members are known already needs neither. */
#define _GNU_SOURCE
#include "parcels.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <errno.h>
#include <fcntl.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache_file.h"
#include "error.h"
#include "log.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the parcel cache format is written little-endian; add byte swapping for this host"
#endif

enum { CACHE_VERSION = 1, HEADER_BYTES = 88, NO_TEXT = 0xffffffffu };
static const char CACHE_MAGIC[8] = {'M', 'C', 'P', 'A', 'R', 'C', 'E', 'L'};

/* What a cached set keeps to parse its geometries and CRS when first asked. */
struct parcel_set_wkb {
    unsigned char *payload; /* the whole payload; WKB and CRS point into it */
    const unsigned char **wkb;
    uint32_t *wkb_len;
    char *srs_wkt;
};

void parcels_wkb_free(struct parcel_set_wkb *w)
{
    if (!w)
        return;
    free(w->payload);
    free(w->wkb);
    free(w->wkb_len);
    free(w->srs_wkt);
    free(w);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the key ---- */

static int digest_file(EVP_MD_CTX *md, const char *file, const char *path)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return mc_fail("parcels %s: %s is not a plain file", path, file);
    }
    uint64_t size = (uint64_t)st.st_size;
    int rc = EVP_DigestUpdate(md, &size, sizeof size) == 1 ? MC_OK : MC_ERR;
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    uint64_t seen = 0;
    ssize_t n = 0;
    while (rc == MC_OK && buf && (n = read(fd, buf, CHUNK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || EVP_DigestUpdate(md, buf, (size_t)n) != 1)
            rc = MC_ERR;
        else
            seen += (uint64_t)n;
    }
    free(buf);
    close(fd);
    if (rc != MC_OK || !buf || seen != size)
        return mc_fail("parcels %s: cannot read %s for its digest", path, file);
    return MC_OK;
}

/* The files the dataset consists of, digested in GDAL's order; a GeoPackage's
 * (or other SQLite file's) write-ahead log where one exists: it holds rows too. */
static int digest_dataset(EVP_MD_CTX *md, const char *path)
{
    GDALAllRegister();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    CPLPopErrorHandler();
    if (!ds)
        return mc_fail("parcels %s: cannot open it", path);
    char **files = GDALGetFileList(ds);
    GDALClose(ds);
    int rc = files && files[0] ? MC_OK : mc_fail("parcels %s: GDAL names no file", path);
    for (int i = 0; rc == MC_OK && files[i]; i++) {
        rc = digest_file(md, files[i], path);
        char wal[4096];
        struct stat st;
        if (rc == MC_OK && snprintf(wal, sizeof wal, "%s-wal", files[i]) < (int)sizeof wal &&
            stat(wal, &st) == 0 && st.st_size > 0)
            rc = digest_file(md, wal, path);
    }
    CSLDestroy(files);
    return rc;
}

static int cache_key(const char *path, const char *id_field, double inner_buffer_m,
                     unsigned char key[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char head[512];
    snprintf(head, sizeof head, "mowcheck parcel cache %d|%s|GDAL %s|id %s|buffer %.17g",
             CACHE_VERSION, PARCELS_HASH_VERSION, GDALVersionInfo("RELEASE_NAME"), id_field,
             inner_buffer_m);
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                     EVP_DigestUpdate(md, head, strlen(head) + 1) == 1
                 ? MC_OK
                 : mc_fail("parcels %s: SHA-256 failed", path);
    if (rc == MC_OK)
        rc = digest_dataset(md, path);
    unsigned int len = 0;
    if (rc == MC_OK && (EVP_DigestFinal_ex(md, key, &len) != 1 || len != 32))
        rc = mc_fail("parcels %s: SHA-256 failed", path);
    EVP_MD_CTX_free(md);
    return rc;
}

static int cache_path(const char *dir, const unsigned char key[32], char *buf, size_t size)
{
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    int n = snprintf(buf, size, "%s/parcels-%s.mcp", dir, hex);
    return n < 0 || (size_t)n >= size ? mc_fail("parcel cache %s: path too long", dir) : MC_OK;
}

/* ---- writing ---- */

typedef struct out_buf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} out_buf;

static void put(out_buf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(out_buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(out_buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(out_buf *b, const char *s)
{
    if (!s) {
        put_u32(b, NO_TEXT);
        return;
    }
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static int encode_set(const parcel_set *set, const char *const *notes, size_t n_notes,
                      out_buf *b)
{
    char *wkt = NULL;
    const char *opts[] = {"FORMAT=WKT2_2018", NULL};
    if (!set->srs || OSRExportToWktEx(set->srs, &wkt, opts) != OGRERR_NONE || !wkt) {
        CPLFree(wkt);
        return mc_fail("parcels %s: cannot export the CRS for the cache", set->source_path);
    }
    put(b, set->hash, 64);
    put_u64(b, set->n);
    put_u64(b, set->n_refused);
    put_u64(b, set->n_dropped);
    put_str(b, wkt);
    CPLFree(wkt);
    put_u32(b, (uint32_t)n_notes);
    for (size_t i = 0; i < n_notes; i++)
        put_str(b, notes[i]);
    unsigned char *wkb = NULL;
    size_t wkb_cap = 0;
    for (size_t i = 0; i < set->n && !b->failed; i++) {
        put_str(b, set->ids[i]);
        put_str(b, set->refused ? set->refused[i] : NULL);
        OGRGeometryH g = set->geometries[i];
        size_t n = g ? (size_t)OGR_G_WkbSize(g) : 0;
        if (n > wkb_cap) {
            unsigned char *w = realloc(wkb, n);
            if (!w) {
                b->failed = 1;
                break;
            }
            wkb = w;
            wkb_cap = n;
        }
        if (n && OGR_G_ExportToWkb(g, wkbNDR, wkb) != OGRERR_NONE) {
            free(wkb);
            return mc_fail("parcels %s: parcel %s: cannot export its geometry for the cache",
                           set->source_path, set->ids[i]);
        }
        put_u32(b, (uint32_t)n);
        put(b, wkb, n);
    }
    free(wkb);
    return b->failed ? mc_fail("parcels %s: out of memory for the cache", set->source_path)
                     : MC_OK;
}

static int cache_write(const char *file, const parcel_set *set, const char *const *notes,
                       size_t n_notes, const unsigned char key[32])
{
    out_buf b = {0};
    unsigned char h[HEADER_BYTES] = {0};
    unsigned int len = 0;
    int rc = encode_set(set, notes, n_notes, &b);
    if (rc == MC_OK && (EVP_Digest(b.p, b.len, h + 56, &len, EVP_sha256(), NULL) != 1 ||
                        len != 32))
        rc = mc_fail("parcel cache %s: SHA-256 failed", file);
    memcpy(h, CACHE_MAGIC, 8);
    uint32_t version = CACHE_VERSION;
    uint64_t bytes = b.len;
    memcpy(h + 8, &version, 4);
    memcpy(h + 16, &bytes, 8);
    memcpy(h + 24, key, 32);
    if (rc == MC_OK)
        rc = cache_file_write(file, h, sizeof h, b.p, b.len, "parcel cache");
    free(b.p);
    return rc;
}

/* ---- reading ---- */

typedef struct in_buf {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} in_buf;

static const unsigned char *take(in_buf *b, size_t n)
{
    if (b->bad || n > b->len - b->pos) {
        b->bad = 1;
        return NULL;
    }
    const unsigned char *p = b->p + b->pos;
    b->pos += n;
    return p;
}

static uint32_t take_u32(in_buf *b)
{
    uint32_t v = 0;
    const unsigned char *p = take(b, 4);
    if (p)
        memcpy(&v, p, 4);
    return v;
}

static uint64_t take_u64(in_buf *b)
{
    uint64_t v = 0;
    const unsigned char *p = take(b, 8);
    if (p)
        memcpy(&v, p, 8);
    return v;
}

/* A malloc'd copy of the next string; NULL where none was stored (*none = 1) or the
 * payload is bad (b->bad) or memory is out (b->bad too). */
static char *take_str(in_buf *b, int *none)
{
    *none = 0;
    uint32_t n = take_u32(b);
    if (b->bad)
        return NULL;
    if (n == NO_TEXT) {
        *none = 1;
        return NULL;
    }
    const unsigned char *p = take(b, n);
    char *s = p ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        b->bad = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    if (strlen(s) != n) { /* an embedded NUL */
        free(s);
        b->bad = 1;
        return NULL;
    }
    return s;
}

static int read_file(const char *file, unsigned char h[HEADER_BYTES], unsigned char **payload,
                     size_t *n)
{
    *payload = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mc_fail("parcel cache %s: %s", file, strerror(errno));
    struct stat st;
    int rc = MC_OK;
    if (fstat(fd, &st) != 0 || st.st_size < HEADER_BYTES || pread(fd, h, HEADER_BYTES, 0) !=
                                                                 HEADER_BYTES)
        rc = mc_fail("parcel cache %s: too short for a header", file);
    uint64_t bytes = 0;
    if (rc == MC_OK) {
        memcpy(&bytes, h + 16, 8);
        if (bytes != (uint64_t)st.st_size - HEADER_BYTES)
            rc = mc_fail("parcel cache %s: %llu payload bytes, header says %llu (truncated?)",
                         file, (unsigned long long)(st.st_size - HEADER_BYTES),
                         (unsigned long long)bytes);
    }
    if (rc == MC_OK && !(*payload = malloc(bytes ? bytes : 1)))
        rc = mc_fail("parcel cache %s: out of memory", file);
    for (size_t done = 0; rc == MC_OK && done < bytes;) {
        ssize_t r = pread(fd, *payload + done, bytes - done, HEADER_BYTES + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = mc_fail("parcel cache %s: short read", file);
        else
            done += (size_t)r;
    }
    close(fd);
    if (rc != MC_OK) {
        free(*payload);
        *payload = NULL;
        return MC_ERR;
    }
    *n = bytes;
    return MC_OK;
}

static int check_header(const char *file, const unsigned char *h, const unsigned char key[32],
                        const unsigned char *payload, size_t n)
{
    uint32_t version;
    memcpy(&version, h + 8, 4);
    if (memcmp(h, CACHE_MAGIC, 8) != 0)
        return mc_fail("parcel cache %s: not a parcel cache file", file);
    if (version != CACHE_VERSION)
        return mc_fail("parcel cache %s: format version %u, expected %d", file, version,
                       CACHE_VERSION);
    if (memcmp(h + 24, key, 32) != 0)
        return mc_fail("parcel cache %s: made for another parcel file", file);
    unsigned char sum[32];
    unsigned int len = 0;
    if (EVP_Digest(payload, n, sum, &len, EVP_sha256(), NULL) != 1 || len != 32 ||
        memcmp(sum, h + 56, 32) != 0)
        return mc_fail("parcel cache %s: checksum does not match (corrupt file)", file);
    return MC_OK;
}

/* The parcels: ids, refusals and where each WKB lies. */
static int decode_parcels(in_buf *b, parcel_set *set, struct parcel_set_wkb *w,
                          const char *file)
{
    size_t refused = 0;
    for (size_t i = 0; i < set->n && !b->bad; i++) {
        int none = 0;
        set->ids[i] = take_str(b, &none);
        if (!set->ids[i] || !*set->ids[i])
            return mc_fail("parcel cache %s: parcel %zu has no id", file, i + 1);
        set->refused[i] = take_str(b, &none);
        if (b->bad)
            break;
        w->wkb_len[i] = take_u32(b);
        w->wkb[i] = take(b, w->wkb_len[i]);
        refused += set->refused[i] != NULL;
        if (!b->bad && (set->refused[i] != NULL) == (w->wkb_len[i] != 0))
            return mc_fail("parcel cache %s: parcel %s is both refused and drawn, or neither",
                           file, set->ids[i]);
    }
    if (b->bad)
        return mc_fail("parcel cache %s: payload ends early", file);
    if (refused != set->n_refused)
        return mc_fail("parcel cache %s: %zu refused parcels, header says %zu", file, refused,
                       set->n_refused);
    return MC_OK;
}

/* The set from a checked payload (payload's ownership passes to the set on success);
 * the dropped-feature notes are logged again with today's path. */
static int decode_set(const char *file, const char *path, unsigned char *payload, size_t n,
                      parcel_set **out)
{
    in_buf b = {payload, n, 0, 0};
    parcel_set *set = calloc(1, sizeof *set);
    struct parcel_set_wkb *w = calloc(1, sizeof *w);
    if (!set || !w) {
        free(set);
        free(w);
        return mc_fail("parcel cache %s: out of memory", file);
    }
    set->wkb = w;
    const unsigned char *hash = take(&b, 64);
    uint64_t count = take_u64(&b), n_refused = take_u64(&b), n_dropped = take_u64(&b);
    int none = 0, rc = MC_OK;
    w->srs_wkt = take_str(&b, &none);
    uint32_t n_notes = take_u32(&b);
    /* each parcel takes at least 12 bytes, each note 4: bounds before allocating */
    if (b.bad || !w->srs_wkt || count > n / 12 || n_refused > count || n_notes > n / 4)
        rc = mc_fail("parcel cache %s: bad counts", file);
    for (uint32_t i = 0; rc == MC_OK && i < n_notes; i++) {
        char *note = take_str(&b, &none);
        if (!note)
            rc = mc_fail("parcel cache %s: bad note %u", file, i + 1);
        else
            log_warn("parcels %s: %s", path, note);
        free(note);
    }
    if (rc == MC_OK) {
        memcpy(set->hash, hash, 64);
        set->hash[64] = '\0';
        set->n = (size_t)count;
        set->n_refused = (size_t)n_refused;
        set->n_dropped = (size_t)n_dropped;
        set->ids = calloc(set->n + 1, sizeof *set->ids);
        set->refused = calloc(set->n + 1, sizeof *set->refused);
        set->geometries = calloc(set->n + 1, sizeof *set->geometries);
        w->wkb = calloc(set->n + 1, sizeof *w->wkb);
        w->wkb_len = calloc(set->n + 1, sizeof *w->wkb_len);
        set->source_path = strdup(path);
        if (!set->ids || !set->refused || !set->geometries || !w->wkb || !w->wkb_len ||
            !set->source_path)
            rc = mc_fail("parcel cache %s: out of memory for %zu parcels", file, set->n);
    }
    if (rc == MC_OK)
        rc = decode_parcels(&b, set, w, file);
    if (rc == MC_OK && b.pos != b.len)
        rc = mc_fail("parcel cache %s: %zu bytes after the last parcel", file, b.len - b.pos);
    if (rc != MC_OK) {
        parcels_free(set); /* frees w, not the payload: still the caller's */
        return MC_ERR;
    }
    w->payload = payload;
    *out = set;
    return MC_OK;
}

static int cache_read(const char *file, const char *path, const unsigned char key[32],
                      parcel_set **out)
{
    unsigned char h[HEADER_BYTES], *payload = NULL;
    size_t n = 0;
    if (read_file(file, h, &payload, &n) != MC_OK)
        return MC_ERR;
    if (check_header(file, h, key, payload, n) != MC_OK ||
        decode_set(file, path, payload, n, out) != MC_OK) {
        free(payload);
        return MC_ERR;
    }
    parcel_set *set = *out;
    for (size_t i = 0; i < set->n; i++)
        if (set->refused[i])
            log_warn("parcels %s: parcel %s %s; refused", path, set->ids[i], set->refused[i]);
    return MC_OK;
}

/* ---- geometries on demand ---- */

int parcels_need_geometries(const parcel_set *cset)
{
    /* The geometries and CRS of a cached set are the parse of its stored WKB: filling
     * them in completes the set, it does not change it. */
    parcel_set *set = (parcel_set *)cset;
    struct parcel_set_wkb *w = set->wkb;
    if (!w || set->srs)
        return MC_OK;
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (!srs || OSRImportFromWkt(srs, &(char *){w->srs_wkt}) != OGRERR_NONE) {
        if (srs)
            OSRDestroySpatialReference(srs);
        return mc_fail("parcels %s: the cached CRS does not parse", set->source_path);
    }
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    for (size_t i = 0; i < set->n; i++) {
        if (!w->wkb_len[i])
            continue;
        OGRGeometryH g = NULL;
        if (OGR_G_CreateFromWkb(w->wkb[i], srs, &g, (int)w->wkb_len[i]) != OGRERR_NONE) {
            for (size_t k = 0; k < i; k++)
                if (set->geometries[k]) {
                    OGR_G_DestroyGeometry(set->geometries[k]);
                    set->geometries[k] = NULL;
                }
            OSRDestroySpatialReference(srs);
            return mc_fail("parcels %s: parcel %s: the cached geometry does not parse",
                           set->source_path, set->ids[i]);
        }
        set->geometries[i] = g;
    }
    set->srs = srs;
    return MC_OK;
}

/* ---- the entry point ---- */

int parcels_load_cached(const char *cache_dir, const char *path, const char *id_field,
                        double inner_buffer_m, parcel_set **out)
{
    *out = NULL;
    unsigned char key[32];
    char file[4096];
    double t0 = now_s();
    if (!path || !*path || !id_field || !*id_field || !cache_dir || !*cache_dir ||
        cache_key(path, id_field, inner_buffer_m, key) != MC_OK ||
        cache_file_make_dirs(cache_dir, "parcel cache") != MC_OK ||
        cache_path(cache_dir, key, file, sizeof file) != MC_OK) {
        /* no key (say, a database or a URL; or a wrong argument): read as ever */
        log_debug("parcels %s: not cached (%s)", path ? path : "", mc_error_message());
        mc_error_clear();
        return parcels_load(path, id_field, inner_buffer_m, out);
    }
    if (access(file, F_OK) == 0) {
        if (cache_read(file, path, key, out) == MC_OK) {
            log_debug("parcels %s: %zu parcels (%zu refused), hash %.12s, from cache %s in "
                      "%.3f s",
                      path, (*out)->n, (*out)->n_refused, (*out)->hash, file, now_s() - t0);
            return MC_OK;
        }
        log_warn("%s; reading the parcel file again", mc_error_message());
        mc_error_clear();
    }
    char **notes = NULL;
    size_t n_notes = 0;
    int rc = parcels_load_noting(path, id_field, inner_buffer_m, out, &notes, &n_notes);
    /* The key again: a file replaced while it was read must not be cached under the key
     * of the bytes before (they may come back, and would then find this set). */
    unsigned char key_after[32];
    if (rc == MC_OK && (cache_key(path, id_field, inner_buffer_m, key_after) != MC_OK ||
                        memcmp(key, key_after, sizeof key) != 0)) {
        log_warn("parcels %s: the file changed while it was read; not cached", path);
        mc_error_clear();
    } else if (rc == MC_OK &&
               cache_write(file, *out, (const char *const *)notes, n_notes, key) != MC_OK) {
        /* the set is right; only the next run reads the file again */
        log_warn("%s; parcels %s not cached", mc_error_message(), path);
        mc_error_clear();
    }
    for (size_t i = 0; i < n_notes; i++)
        free(notes[i]);
    free(notes);
    return rc;
}
