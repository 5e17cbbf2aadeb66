#define _GNU_SOURCE
#include "text_file.h"

#include <stdio.h>
#include <stdlib.h>

text_file_status text_file_read(const char *path, char **text, size_t *len)
{
    *text = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return TEXT_FILE_CANNOT_OPEN;
    char *buf = NULL;
    size_t n_buf = 0;
    FILE *mem = open_memstream(&buf, &n_buf);
    char chunk[8192];
    size_t n;
    while (mem && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    int bad = ferror(f) || !mem;
    fclose(f);
    if (mem && fclose(mem) != 0)
        bad = 1;
    if (bad) {
        free(buf);
        return TEXT_FILE_CANNOT_READ;
    }
    *text = buf;
    if (len)
        *len = n_buf;
    return TEXT_FILE_OK;
}
