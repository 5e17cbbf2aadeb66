/* The on-disk cache of label rasters.
 *
 * File name: <cache_dir>/labels-<tile>-<key>.mcl, key = SHA-256 over everything the
 * labels depend on: the algorithm version, the parcel set's content hash, the inner
 * buffer, the tile's grid and the grids of the tiles that can take pixels from it.
 *
 * Format (little-endian):
 *   header, 112 bytes: magic "MCLABELS", u32 version, u32 width, u32 height,
 *     u32 n_labels, u64 n_runs, u64 payload bytes, u8[32] key, u8[32] SHA-256 of
 *     the payload, u8[8] zero
 *   payload: per row, u32 run count, then per run u32 x0, u32 length, u32 label.
 * Runs are validated on load (inside the row, ordered, label in range), the
 * checksum too; anything wrong is reported and the raster is rebuilt. Written to
 * a temporary file in the same folder, synced, then renamed. */
#include "labels_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <omp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_file.h"
#include "error.h"
#include "log.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the label cache format is written little-endian; add byte swapping for this host"
#endif

enum { CACHE_VERSION = 1, HEADER_BYTES = 112 };
static const char CACHE_MAGIC[8] = {'M', 'C', 'L', 'A', 'B', 'E', 'L', 'S'};

typedef struct cache_header {
    uint32_t version, width, height, n_labels;
    uint64_t n_runs, payload_bytes;
    unsigned char key[32], sum[32];
} cache_header;

static int sha256(const void *data, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return mc_fail("SHA-256 failed");
    return MC_OK;
}

/* ---- the key ---- */

static int key_add(EVP_MD_CTX *md, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int key_add(EVP_MD_CTX *md, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf || EVP_DigestUpdate(md, buf, (size_t)n + 1) != 1)
        return mc_fail("label cache key: hashing failed");
    return MC_OK;
}

static int key_add_grid(EVP_MD_CTX *md, const tile_grid *t)
{
    const double *gt = t->geotransform;
    return key_add(md, "tile %s epsg %d gt %.17g %.17g %.17g %.17g %.17g %.17g size %d %d",
                   t->tile_id, t->epsg, gt[0], gt[1], gt[2], gt[3], gt[4], gt[5], t->width,
                   t->height);
}

static int cache_key(const parcel_set *set, const tile_grid *tile, const tile_grid *all,
                     size_t n_all, double buffer_m, unsigned char key[32])
{
    const tile_grid **nbs = NULL;
    size_t n_nb = 0;
    if (labels_neighbours(tile, all, n_all, &nbs, &n_nb))
        return MC_ERR;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? MC_OK
                                                                : mc_fail("label cache key: no SHA-256");
    if (rc == MC_OK)
        rc = key_add(md, "%s|format %d|parcels %s %zu|buffer %.17g", LABELS_ALGORITHM_VERSION,
                     CACHE_VERSION, set->hash, set->n, buffer_m);
    if (rc == MC_OK)
        rc = key_add_grid(md, tile);
    for (size_t i = 0; rc == MC_OK && i < n_nb; i++)
        rc = key_add_grid(md, nbs[i]);
    const tile_grid **zn = NULL;
    size_t n_zn = 0;
    if (rc == MC_OK)
        rc = labels_zone_neighbours(tile, all, n_all, &zn, &n_zn);
    for (size_t i = 0; rc == MC_OK && i < n_zn; i++)
        rc = key_add_grid(md, zn[i]);
    free(zn);
    unsigned int len = 0;
    if (rc == MC_OK && (EVP_DigestFinal_ex(md, key, &len) != 1 || len != 32))
        rc = mc_fail("label cache key: SHA-256 failed");
    EVP_MD_CTX_free(md);
    free(nbs);
    return rc;
}

static int cache_path(const char *dir, const tile_grid *tile, const unsigned char key[32],
                      char *buf, size_t size)
{
    char tid[TILE_ID_MAX + 1], hex[65];
    size_t k = 0;
    for (const char *c = tile->tile_id; *c && k < TILE_ID_MAX; c++)
        tid[k++] = ((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= 'a' && *c <= 'z')) ? *c : '_';
    tid[k] = 0;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    int n = snprintf(buf, size, "%s/labels-%s-%s.mcl", dir, tid, hex);
    if (n < 0 || (size_t)n >= size)
        return mc_fail("label cache %s: path too long", dir);
    return MC_OK;
}

/* ---- encoding ---- */

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Runs of equal non-zero labels in a row; writes them at w when not NULL. */
static uint32_t row_runs(const uint32_t *row, int width, uint32_t *w)
{
    uint32_t count = 0;
    for (int x = 0; x < width;) {
        uint32_t v = row[x];
        if (!v) {
            x++;
            continue;
        }
        int x0 = x;
        while (x < width && row[x] == v)
            x++;
        if (w) {
            w[3 * count] = (uint32_t)x0;
            w[3 * count + 1] = (uint32_t)(x - x0);
            w[3 * count + 2] = v;
        }
        count++;
    }
    return count;
}

/* The payload: per row its run count, then its runs. Two passes, rows in parallel. */
static int encode_payload(const label_raster *lr, uint32_t **out, size_t *n_words,
                          uint64_t *n_runs)
{
    int h = lr->height;
    size_t *start = calloc((size_t)h + 1, sizeof *start);
    if (!start)
        return mc_fail("label cache: out of memory");
#pragma omp parallel for schedule(dynamic, 64)
    for (int y = 0; y < h; y++)
        start[y + 1] = row_runs(lr->labels + (size_t)y * (size_t)lr->width, lr->width, NULL);
    uint64_t runs = 0;
    for (int y = 0; y < h; y++) {
        runs += start[y + 1];
        start[y + 1] = start[y] + 1 + 3 * start[y + 1];
    }
    size_t n = start[h];
    uint32_t *w = labels_mem_alloc(n * sizeof *w);
    if (!w) {
        free(start);
        return mc_fail("label cache: out of memory for %zu runs", (size_t)runs);
    }
#pragma omp parallel for schedule(dynamic, 64)
    for (int y = 0; y < h; y++)
        w[start[y]] = row_runs(lr->labels + (size_t)y * (size_t)lr->width, lr->width,
                               w + start[y] + 1);
    free(start);
    *out = w;
    *n_words = n;
    *n_runs = runs;
    return MC_OK;
}

/* Where each row's runs start in the payload (in bytes); checks the lengths. */
static int payload_rows(const unsigned char *p, size_t bytes, uint64_t n_runs, int height,
                        size_t *start, const char *path)
{
    size_t pos = 0;
    uint64_t seen = 0;
    for (int y = 0; y < height; y++) {
        if (pos + 4 > bytes)
            return mc_fail("label cache %s: payload ends at row %d", path, y);
        uint32_t count = get_u32(p + pos);
        if ((uint64_t)count * 12 > bytes - pos - 4)
            return mc_fail("label cache %s: row %d claims %u runs past the end", path, y, count);
        start[y] = pos;
        pos += 4 + (size_t)count * 12;
        seen += count;
    }
    if (pos != bytes || seen != n_runs)
        return mc_fail("label cache %s: payload length or run count does not match", path);
    return MC_OK;
}

/* One row's runs into the raster: -1 (and nothing marked) for a bad run. */
static int decode_row(const unsigned char *p, label_raster *lr, int y)
{
    uint32_t count = get_u32(p);
    uint32_t *row = lr->labels + (size_t)y * (size_t)lr->width;
    uint64_t prev_end = 0;
    for (uint32_t k = 0; k < count; k++) {
        const unsigned char *r = p + 4 + 12 * (size_t)k;
        uint32_t x0 = get_u32(r), len = get_u32(r + 4), v = get_u32(r + 8);
        if (len == 0 || x0 < prev_end || (uint64_t)x0 + len > (uint64_t)lr->width || v == 0 ||
            v > lr->n_labels)
            return -1;
        for (uint32_t x = x0; x < x0 + len; x++)
            row[x] = v;
#pragma omp atomic
        lr->n_pixels[v] += len;
        labels_occ_mark(lr, y, (int)x0, (int)(x0 + len));
        prev_end = (uint64_t)x0 + len;
    }
    return 0;
}

/* Fills an allocated raster from a payload, checking every run. Rows in parallel,
 * whole occupancy cells per thread (no two threads mark the same cell). */
static int decode_payload(const unsigned char *p, size_t bytes, uint64_t n_runs,
                          label_raster *lr, const char *path)
{
    size_t *start = malloc(((size_t)lr->height + 1) * sizeof *start);
    if (!start)
        return mc_fail("label cache %s: out of memory", path);
    if (payload_rows(p, bytes, n_runs, lr->height, start, path)) {
        free(start);
        return MC_ERR;
    }
    int bad_row = lr->height, cells = (lr->height + LABELS_OCC_CELL - 1) / LABELS_OCC_CELL;
#pragma omp parallel for schedule(dynamic, 8) reduction(min : bad_row)
    for (int c = 0; c < cells; c++)
        for (int y = c * LABELS_OCC_CELL; y < (c + 1) * LABELS_OCC_CELL && y < lr->height; y++)
            if (decode_row(p + start[y], lr, y) && y < bad_row)
                bad_row = y;
    free(start);
    if (bad_row < lr->height)
        return mc_fail("label cache %s: bad run at row %d", path, bad_row);
    return MC_OK;
}

/* ---- reading ---- */

static int read_all(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int check_header(const unsigned char *h, const tile_grid *tile, uint32_t n_labels,
                        const unsigned char key[32], uint64_t file_bytes, cache_header *ch,
                        const char *path)
{
    if (memcmp(h, CACHE_MAGIC, 8) != 0)
        return mc_fail("label cache %s: not a label cache file", path);
    ch->version = get_u32(h + 8);
    ch->width = get_u32(h + 12);
    ch->height = get_u32(h + 16);
    ch->n_labels = get_u32(h + 20);
    ch->n_runs = get_u64(h + 24);
    ch->payload_bytes = get_u64(h + 32);
    memcpy(ch->key, h + 40, 32);
    memcpy(ch->sum, h + 72, 32);
    if (ch->version != CACHE_VERSION)
        return mc_fail("label cache %s: format version %u, expected %d", path, ch->version,
                       CACHE_VERSION);
    if (ch->width != (uint32_t)tile->width || ch->height != (uint32_t)tile->height ||
        ch->n_labels != n_labels || memcmp(ch->key, key, 32) != 0)
        return mc_fail("label cache %s: made for another tile grid or parcel set", path);
    if (ch->payload_bytes != file_bytes - HEADER_BYTES)
        return mc_fail("label cache %s: %llu payload bytes, header says %llu (truncated?)", path,
                       (unsigned long long)(file_bytes - HEADER_BYTES),
                       (unsigned long long)ch->payload_bytes);
    return MC_OK;
}

static int cache_read(const char *path, const tile_grid *tile, uint32_t n_labels,
                      const unsigned char key[32], label_raster **out)
{
    *out = NULL;
    double t0 = omp_get_wtime();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mc_fail("label cache %s: %s", path, strerror(errno));
    struct stat st;
    unsigned char h[HEADER_BYTES], sum[32];
    cache_header ch;
    unsigned char *payload = NULL;
    label_raster *lr = NULL;
    int rc = MC_OK;
    if (fstat(fd, &st) != 0 || st.st_size < HEADER_BYTES || read_all(fd, h, HEADER_BYTES))
        rc = mc_fail("label cache %s: too short for a header", path);
    if (rc == MC_OK)
        rc = check_header(h, tile, n_labels, key, (uint64_t)st.st_size, &ch, path);
    if (rc == MC_OK && !(payload = labels_mem_alloc(ch.payload_bytes + 1)))
        rc = mc_fail("label cache %s: out of memory", path);
    if (rc == MC_OK && read_all(fd, payload, ch.payload_bytes))
        rc = mc_fail("label cache %s: short read", path);
    if (rc == MC_OK && (sha256(payload, ch.payload_bytes, sum) || memcmp(sum, ch.sum, 32) != 0))
        rc = mc_fail("label cache %s: checksum does not match (corrupt file)", path);
    double t1 = omp_get_wtime();
    if (rc == MC_OK)
        rc = labels_alloc(tile->width, tile->height, n_labels, &lr);
    double t2 = omp_get_wtime();
    if (rc == MC_OK)
        rc = decode_payload(payload, ch.payload_bytes, ch.n_runs, lr, path);
    log_debug("label cache %s: read and check %.3f s, allocate %.3f s, decode %.3f s", path,
              t1 - t0, t2 - t1, omp_get_wtime() - t2);
    close(fd);
    if (payload)
        labels_mem_free(payload, ch.payload_bytes + 1);
    if (rc != MC_OK) {
        labels_free(lr);
        return MC_ERR;
    }
    *out = lr;
    return MC_OK;
}

/* ---- writing ---- */

static int cache_write(const char *path, const label_raster *lr, const unsigned char key[32])
{
    uint32_t *words = NULL;
    size_t n_words = 0;
    uint64_t n_runs = 0;
    if (encode_payload(lr, &words, &n_words, &n_runs))
        return MC_ERR;
    unsigned char h[HEADER_BYTES] = {0};
    memcpy(h, CACHE_MAGIC, 8);
    put_u32(h + 8, CACHE_VERSION);
    put_u32(h + 12, (uint32_t)lr->width);
    put_u32(h + 16, (uint32_t)lr->height);
    put_u32(h + 20, lr->n_labels);
    put_u64(h + 24, n_runs);
    put_u64(h + 32, (uint64_t)n_words * 4);
    memcpy(h + 40, key, 32);
    if (sha256(words, n_words * 4, h + 72)) {
        labels_mem_free(words, n_words * 4);
        return MC_ERR;
    }
    int rc = cache_file_write(path, h, sizeof h, words, n_words * 4, "label cache");
    labels_mem_free(words, n_words * 4);
    return rc;
}

int labels_get_cached(const char *cache_dir, const parcel_set *set, const tile_grid *tile,
                      const tile_grid *all_tiles, size_t n_tiles, double inner_buffer_m,
                      label_raster **out)
{
    *out = NULL;
    unsigned char key[32];
    char path[4096];
    if (cache_file_make_dirs(cache_dir, "label cache") ||
        cache_key(set, tile, all_tiles, n_tiles, inner_buffer_m, key) ||
        cache_path(cache_dir, tile, key, path, sizeof path))
        return mc_fail_wrap("labels for tile %s", tile->tile_id);
    if (access(path, F_OK) == 0) {
        if (cache_read(path, tile, (uint32_t)set->n, key, out) == MC_OK) {
            log_debug("labels for tile %s: from cache %s", tile->tile_id, path);
            return MC_OK;
        }
        log_warn("%s; rebuilding it", mc_error_message());
        mc_error_clear();
    }
    double t0 = omp_get_wtime();
    if (parcels_need_geometries(set) != MC_OK ||
        labels_build(set, tile, all_tiles, n_tiles, inner_buffer_m, out))
        return MC_ERR;
    log_info("labels for tile %s: %zu parcels rasterised in %.2f s", tile->tile_id, set->n,
             omp_get_wtime() - t0);
    if (cache_write(path, *out, key) != MC_OK) {
        /* the labels are right; only the next run will have to build them again */
        log_warn("%s; labels for tile %s not cached", mc_error_message(), tile->tile_id);
        mc_error_clear();
    }
    return MC_OK;
}
