/* Raw tile reading of plain tiled GeoTIFFs: libtiff + libdeflate/libzstd (see tiff_tiles.h). */
#include "tiff_tiles.h"

#include <stdio.h>

#include "error.h"

#ifndef MOWCHECK_HAVE_RAW_TILES

int tiff_tiles_built_in(void) { return 0; }

tiff_tiles *tiff_tiles_open(const char *path, int width, int height, int bytes_per_sample,
                            char *why, size_t why_size)
{
    (void)path, (void)width, (void)height, (void)bytes_per_sample;
    snprintf(why, why_size, "built without libdeflate or libtiff >= 4.5");
    return NULL;
}

void tiff_tiles_tile_size(const tiff_tiles *t, int *tile_w, int *tile_h)
{
    (void)t;
    *tile_w = *tile_h = 0;
}

int tiff_tiles_read(tiff_tiles *t, int x0, int y0, int w, int h, void *buf, ptrdiff_t stride)
{
    (void)t, (void)x0, (void)y0, (void)w, (void)h, (void)buf, (void)stride;
    return mc_fail("raw tile reading is not built in");
}

void tiff_tiles_close(tiff_tiles *t) { (void)t; }

#else

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libdeflate.h>
#include <tiffio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef MOWCHECK_HAVE_ZSTD
#include <zstd.h>
#endif

struct tiff_tiles {
    char *path;
    TIFF *tif;
    int width, height, tile_w, tile_h, tiles_across;
    int bytes_per_sample;
    int compression; /* COMPRESSION_NONE, _ADOBE_DEFLATE / _DEFLATE or _ZSTD */
    int predictor;   /* PREDICTOR_NONE or PREDICTOR_HORIZONTAL */
    int swab;        /* 16-bit samples in the other byte order */
    size_t tile_bytes;
    uint8_t *raw;    /* one tile's compressed bytes */
    size_t raw_cap;
    uint8_t *cache;  /* the last tile decoded for a partial copy */
    int64_t cached_tile;
    struct libdeflate_decompressor *inflater;
#ifdef MOWCHECK_HAVE_ZSTD
    ZSTD_DCtx *zstd;
#endif
    char message[512]; /* libtiff's last error on this handle */
};

int tiff_tiles_built_in(void) { return 1; }

/* libtiff's messages go into the handle, never to stderr: the caller decides. */
static int keep_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)module;
    tiff_tiles *t = user;
    if (t)
        vsnprintf(t->message, sizeof t->message, fmt, ap);
    return 1;
}

static int ignore_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                               va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1; /* GeoTIFF tags libtiff does not know, and the like */
}

static TIFF *open_quietly(tiff_tiles *t, const char *path)
{
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, keep_tiff_error, t);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, ignore_tiff_warning, t);
    /* "m": plain reads, no memory map: a file cut short while mapped would be a SIGBUS. */
    TIFF *tif = TIFFOpenExt(path, "rm", opts);
    TIFFOpenOptionsFree(opts);
    return tif;
}

static int compression_supported(int compression)
{
    switch (compression) {
    case COMPRESSION_NONE:
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE:
        return 1;
#ifdef MOWCHECK_HAVE_ZSTD
    case COMPRESSION_ZSTD:
        return 1;
#endif
    default:
        return 0;
    }
}

/* The sample layout: one unsigned sample of bytes_per_sample bytes, most significant
 * bit first, in a tiled image of the expected size. NULL or the reason. */
static const char *layout_refusal(tiff_tiles *t, int width, int height, int bytes_per_sample)
{
    TIFF *tif = t->tif;
    uint32_t iw = 0, ih = 0, tw = 0, th = 0;
    uint16_t spp = 0, bits = 0, format = 0, fill = 0;
    if (!TIFFIsTiled(tif))
        return "not tiled (strips)";
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &iw);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &ih);
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_FILLORDER, &fill);
    if ((int64_t)iw != width || (int64_t)ih != height)
        return "first image is not the band's full resolution";
    if (spp != 1 || bits != 8 * bytes_per_sample || format != SAMPLEFORMAT_UINT)
        return "not one unsigned sample of the band's size";
    if (fill != FILLORDER_MSB2LSB)
        return "reversed bit fill order";
    uint16_t photometric = PHOTOMETRIC_MINISBLACK;
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    if (photometric != PHOTOMETRIC_MINISBLACK && photometric != PHOTOMETRIC_PALETTE)
        return "photometric interpretation other than grey or palette";
    if (tw == 0 || th == 0 || tw > 16384 || th > 16384)
        return "implausible tile size";
    t->width = width;
    t->height = height;
    t->tile_w = (int)tw;
    t->tile_h = (int)th;
    t->tiles_across = (int)((iw + tw - 1) / tw);
    t->bytes_per_sample = bytes_per_sample;
    t->tile_bytes = (size_t)tw * th * (size_t)bytes_per_sample;
    t->swab = bytes_per_sample == 2 && TIFFIsByteSwapped(tif);
    return NULL;
}

/* The codec: compression and predictor this reader undoes. NULL or the reason. */
static const char *codec_refusal(tiff_tiles *t)
{
    uint16_t compression = 0, predictor = PREDICTOR_NONE;
    TIFFGetFieldDefaulted(t->tif, TIFFTAG_COMPRESSION, &compression);
    if (!compression_supported(compression))
        return "compression other than DEFLATE, ZSTD or none";
    /* The predictor tag belongs to the codec: libtiff knows it only where it has the codec. */
    if (compression != COMPRESSION_NONE &&
        (!TIFFIsCODECConfigured(compression) ||
         !TIFFGetFieldDefaulted(t->tif, TIFFTAG_PREDICTOR, &predictor)))
        return "libtiff cannot say which predictor the file uses";
    if (predictor != PREDICTOR_NONE && predictor != PREDICTOR_HORIZONTAL)
        return "predictor other than none or horizontal";
    t->compression = compression;
    t->predictor = predictor;
    return NULL;
}

/* GDAL reads a tile with no bytes (a sparse file) as nodata: left to GDAL. */
static const char *sparse_refusal(tiff_tiles *t)
{
    uint32_t n = TIFFNumberOfTiles(t->tif);
    for (uint32_t i = 0; i < n; i++)
        if (TIFFGetStrileByteCount(t->tif, i) == 0 || TIFFGetStrileOffset(t->tif, i) == 0)
            return "sparse (a tile without data)";
    return NULL;
}

static const char *decoders_make(tiff_tiles *t)
{
    t->cache = malloc(t->tile_bytes);
    t->inflater = libdeflate_alloc_decompressor();
#ifdef MOWCHECK_HAVE_ZSTD
    t->zstd = ZSTD_createDCtx();
    if (!t->zstd)
        return "out of memory";
#endif
    return t->cache && t->inflater ? NULL : "out of memory";
}

tiff_tiles *tiff_tiles_open(const char *path, int width, int height, int bytes_per_sample,
                            char *why, size_t why_size)
{
    tiff_tiles *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        snprintf(why, why_size, "out of memory");
        free(t);
        return NULL;
    }
    t->cached_tile = -1;
    t->tif = open_quietly(t, path);
    const char *refusal = NULL;
    if (!t->tif)
        refusal = t->message[0] ? t->message : "libtiff cannot open it";
    if (!refusal)
        refusal = layout_refusal(t, width, height, bytes_per_sample);
    if (!refusal)
        refusal = codec_refusal(t);
    if (!refusal)
        refusal = sparse_refusal(t);
    if (!refusal)
        refusal = decoders_make(t);
    if (refusal) {
        snprintf(why, why_size, "%s", refusal);
        tiff_tiles_close(t);
        return NULL;
    }
    return t;
}

void tiff_tiles_tile_size(const tiff_tiles *t, int *tile_w, int *tile_h)
{
    *tile_w = t->tile_w;
    *tile_h = t->tile_h;
}

void tiff_tiles_close(tiff_tiles *t)
{
    if (!t)
        return;
    if (t->tif)
        TIFFClose(t->tif);
    if (t->inflater)
        libdeflate_free_decompressor(t->inflater);
#ifdef MOWCHECK_HAVE_ZSTD
    ZSTD_freeDCtx(t->zstd);
#endif
    free(t->raw);
    free(t->cache);
    free(t->path);
    free(t);
}

static int tile_fail(const tiff_tiles *t, uint32_t tile, const char *what)
{
    return mc_fail("%s: tile %u (column %u, row %u of %dx%d px): %s", t->path, tile,
                   tile % (uint32_t)t->tiles_across, tile / (uint32_t)t->tiles_across, t->tile_w,
                   t->tile_h, what);
}

/* A tile that could not be read: a file cut short says so, else libtiff's reason. */
static int read_failed(tiff_tiles *t, uint32_t tile, uint64_t bytes)
{
    struct stat st;
    uint64_t offset = TIFFGetStrileOffset(t->tif, tile);
    char what[sizeof t->message + 64];
    if (fstat(TIFFFileno(t->tif), &st) == 0 && offset + bytes > (uint64_t)st.st_size)
        snprintf(what, sizeof what,
                 "the file ends at byte %lld, inside the tile's %llu bytes at offset %llu "
                 "(truncated)",
                 (long long)st.st_size, (unsigned long long)bytes, (unsigned long long)offset);
    else
        snprintf(what, sizeof what, "%s", t->message[0] ? t->message : "read error");
    return tile_fail(t, tile, what);
}

/* The tile's compressed bytes into t->raw; *n their count. */
static int read_raw(tiff_tiles *t, uint32_t tile, size_t *n)
{
    int err = 0;
    uint64_t bytes = TIFFGetStrileByteCountWithErr(t->tif, tile, &err);
    /* DEFLATE and ZSTD grow incompressible data by well under 1/8. */
    if (err || bytes == 0 || bytes > t->tile_bytes + t->tile_bytes / 8 + 4096)
        return tile_fail(t, tile, "implausible byte count in the directory");
    if (bytes > t->raw_cap) {
        uint8_t *grown = realloc(t->raw, bytes);
        if (!grown)
            return tile_fail(t, tile, "out of memory");
        t->raw = grown;
        t->raw_cap = bytes;
    }
    t->message[0] = '\0';
    tmsize_t got = TIFFReadRawTile(t->tif, tile, t->raw, (tmsize_t)bytes);
    if (got != (tmsize_t)bytes)
        return read_failed(t, tile, bytes);
    *n = (size_t)bytes;
    return MC_OK;
}

/* The n compressed bytes in t->raw into out (tile_bytes): NULL, or why they do not
 * make exactly one tile. */
static const char *inflate_raw(tiff_tiles *t, size_t n, uint8_t *out)
{
    if (t->compression == COMPRESSION_NONE) {
        if (n < t->tile_bytes)
            return "uncompressed tile shorter than a tile";
        memcpy(out, t->raw, t->tile_bytes);
        return NULL;
    }
#ifdef MOWCHECK_HAVE_ZSTD
    if (t->compression == COMPRESSION_ZSTD) {
        size_t got = ZSTD_decompressDCtx(t->zstd, out, t->tile_bytes, t->raw, n);
        if (ZSTD_isError(got))
            return ZSTD_getErrorName(got);
        return got == t->tile_bytes ? NULL : "ZSTD data shorter than a tile";
    }
#endif
    /* NULL for the actual size: the data must fill the tile exactly. */
    enum libdeflate_result r =
        libdeflate_zlib_decompress(t->inflater, t->raw, n, out, t->tile_bytes, NULL);
    return r == LIBDEFLATE_SUCCESS             ? NULL
           : r == LIBDEFLATE_SHORT_OUTPUT      ? "DEFLATE data shorter than a tile"
           : r == LIBDEFLATE_INSUFFICIENT_SPACE ? "DEFLATE data longer than a tile"
                                                : "corrupt DEFLATE data";
}

/* One row of 16-bit samples stored as differences to the left neighbour, back to
 * values: a running sum modulo 2^16. SSE2 sums 8 samples at a time (a prefix sum in
 * three shifted adds, plus the last sum of the previous 8); the scalar loop is one
 * dependent add per sample. */
static void running_sum_u16(uint16_t *row, int n)
{
    int x = 1;
#ifdef __SSE2__
    __m128i carry = _mm_setzero_si128();
    for (x = 0; x + 8 <= n; x += 8) {
        __m128i v = _mm_loadu_si128((const __m128i *)(row + x));
        v = _mm_add_epi16(v, _mm_slli_si128(v, 2));
        v = _mm_add_epi16(v, _mm_slli_si128(v, 4));
        v = _mm_add_epi16(v, _mm_slli_si128(v, 8));
        v = _mm_add_epi16(v, carry);
        _mm_storeu_si128((__m128i *)(row + x), v);
        carry = _mm_shuffle_epi32(_mm_shufflehi_epi16(v, 0xff), 0xff); /* lane 7 everywhere */
    }
    if (x == 0)
        x = 1;
#endif
    for (; x < n; x++)
        row[x] = (uint16_t)(row[x] + row[x - 1]);
}

/* Byte order, then the horizontal predictor (each sample stored as the difference to
 * its left neighbour, modulo 2^bits), as libtiff undoes them. */
static void undo_predictor(const tiff_tiles *t, uint8_t *out)
{
    size_t n = (size_t)t->tile_w * t->tile_h;
    if (t->bytes_per_sample == 2) {
        uint16_t *s = (uint16_t *)out;
        if (t->swab)
            for (size_t i = 0; i < n; i++)
                s[i] = (uint16_t)(s[i] << 8 | s[i] >> 8);
        if (t->predictor == PREDICTOR_HORIZONTAL)
            for (int y = 0; y < t->tile_h; y++)
                running_sum_u16(s + (size_t)y * t->tile_w, t->tile_w);
        return;
    }
    if (t->predictor == PREDICTOR_HORIZONTAL)
        for (int y = 0; y < t->tile_h; y++) {
            uint8_t *row = out + (size_t)y * t->tile_w;
            for (int x = 1; x < t->tile_w; x++)
                row[x] = (uint8_t)(row[x] + row[x - 1]);
        }
}

/* One whole tile into out (tile_bytes, rows of tile_w samples). A tile whose data do
 * not inflate to exactly one tile is handed to libtiff, which GDAL reads it with: it
 * takes some odd ones (a stream longer than the tile) and refuses the corrupt ones. */
static int decode_tile(tiff_tiles *t, uint32_t tile, uint8_t *out)
{
    size_t n = 0;
    if (read_raw(t, tile, &n) != MC_OK)
        return MC_ERR;
    const char *why = inflate_raw(t, n, out);
    if (!why) {
        undo_predictor(t, out);
        return MC_OK;
    }
    if (TIFFReadEncodedTile(t->tif, tile, out, (tmsize_t)t->tile_bytes) ==
        (tmsize_t)t->tile_bytes)
        return MC_OK; /* byte order and predictor undone by libtiff */
    return tile_fail(t, tile, why);
}

/* The part of tile (tx, ty) inside the window: straight into buf where the window
 * holds the whole tile with the tile's own row length, else through the cache. */
static int copy_tile_part(tiff_tiles *t, int tx, int ty, int x0, int y0, int w, int h,
                          uint8_t *buf, ptrdiff_t stride)
{
    int px = tx * t->tile_w, py = ty * t->tile_h;
    int ix0 = px > x0 ? px : x0, iy0 = py > y0 ? py : y0;
    int ix1 = px + t->tile_w < x0 + w ? px + t->tile_w : x0 + w;
    int iy1 = py + t->tile_h < y0 + h ? py + t->tile_h : y0 + h;
    size_t bps = (size_t)t->bytes_per_sample;
    uint8_t *dst = buf + ((ptrdiff_t)(iy0 - y0) * stride + (ix0 - x0)) * (ptrdiff_t)bps;
    uint32_t tile = (uint32_t)ty * (uint32_t)t->tiles_across + (uint32_t)tx;
    if (ix0 == px && iy0 == py && ix1 - ix0 == t->tile_w && iy1 - iy0 == t->tile_h &&
        stride == t->tile_w)
        return decode_tile(t, tile, dst);
    if (t->cached_tile != (int64_t)tile) {
        t->cached_tile = -1;
        if (decode_tile(t, tile, t->cache) != MC_OK)
            return MC_ERR;
        t->cached_tile = tile;
    }
    const uint8_t *src = t->cache + ((size_t)(iy0 - py) * t->tile_w + (size_t)(ix0 - px)) * bps;
    for (int y = iy0; y < iy1; y++) {
        memcpy(dst, src, (size_t)(ix1 - ix0) * bps);
        dst += stride * (ptrdiff_t)bps;
        src += (size_t)t->tile_w * bps;
    }
    return MC_OK;
}

int tiff_tiles_read(tiff_tiles *t, int x0, int y0, int w, int h, void *buf, ptrdiff_t stride)
{
    if (x0 < 0 || y0 < 0 || w <= 0 || h <= 0 || x0 + w > t->width || y0 + h > t->height)
        return mc_fail("%s: window %dx%d at (%d, %d) outside the %dx%d image", t->path, w, h, x0,
                       y0, t->width, t->height);
    for (int ty = y0 / t->tile_h; ty <= (y0 + h - 1) / t->tile_h; ty++)
        for (int tx = x0 / t->tile_w; tx <= (x0 + w - 1) / t->tile_w; tx++)
            if (copy_tile_part(t, tx, ty, x0, y0, w, h, buf, stride) != MC_OK)
                return MC_ERR;
    return MC_OK;
}

#endif
