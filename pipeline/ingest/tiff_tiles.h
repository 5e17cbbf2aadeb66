/* Reading a tiled GeoTIFF band without GDAL: libtiff finds each tile's bytes
 * (TIFFReadRawTile), libdeflate or libzstd inflates them, and the horizontal
 * predictor is undone here. Only the plainest files qualify (tiled, one unsigned
 * 8- or 16-bit sample, DEFLATE, ZSTD or no compression, predictor none or 2,
 * every tile present); anything else is left to GDAL, which reads every format.
 * Pixel values are those GDAL returns for the same window, bit for bit.
 *
 * A handle is not thread-safe: each thread opens its own. It keeps the last tile it
 * decoded, so windows smaller than a tile (SCL and B11 at 20 m under a 10 m window)
 * decode each tile once while they walk across it. Built without libdeflate or
 * libtiff >= 4.5, no file qualifies (MOWCHECK_HAVE_RAW_TILES unset). */
#ifndef MOWCHECK_TIFF_TILES_H
#define MOWCHECK_TIFF_TILES_H

#include <stddef.h>

typedef struct tiff_tiles tiff_tiles;

/* 1 where the raw reader is built in. */
int tiff_tiles_built_in(void);

/* Opens path for raw tile reading if it qualifies: a tiled band of width x height
 * pixels of bytes_per_sample (1: uint8, 2: uint16) bytes. Returns NULL where it
 * does not (or cannot be opened), with the reason in why. */
tiff_tiles *tiff_tiles_open(const char *path, int width, int height, int bytes_per_sample,
                            char *why, size_t why_size);

/* The file's tile size in pixels. */
void tiff_tiles_tile_size(const tiff_tiles *t, int *tile_w, int *tile_h);

/* Reads the w x h pixels at (x0, y0) (inside the image) into buf, `stride` samples
 * per row, decoding only the tiles the window touches. A tile that cannot be read or
 * inflated (a truncated or corrupt file) fails naming the file and the tile. */
int tiff_tiles_read(tiff_tiles *t, int x0, int y0, int w, int h, void *buf, ptrdiff_t stride);

void tiff_tiles_close(tiff_tiles *t);

#endif
