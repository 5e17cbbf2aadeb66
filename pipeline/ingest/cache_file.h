/* The files of ingest's on-disk caches (label rasters, parsed parcel sets): folders
 * made where missing, and files written whole or not at all. */
#ifndef MOWCHECK_CACHE_FILE_H
#define MOWCHECK_CACHE_FILE_H

#include <stddef.h>

/* mkdir -p; what names the cache in messages ("label cache"). */
int cache_file_make_dirs(const char *dir, const char *what);

/* Writes head (head_n bytes) then body (body_n bytes) to a temporary file beside
 * path, syncs it and renames it to path: a reader sees the old file or the whole
 * new one, never a part. Nothing is left behind on failure. */
int cache_file_write(const char *path, const void *head, size_t head_n, const void *body,
                     size_t body_n, const char *what);

#endif
