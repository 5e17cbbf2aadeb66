/* Whole small text files (templates, migrations, the model) read into memory. */
#ifndef MOWCHECK_TEXT_FILE_H
#define MOWCHECK_TEXT_FILE_H

#include <stddef.h>

typedef enum {
    TEXT_FILE_OK = 0,
    TEXT_FILE_CANNOT_OPEN, /* errno tells why */
    TEXT_FILE_CANNOT_READ, /* a read error, or out of memory */
} text_file_status;

/* Reads all of path into *text, NUL-terminated (the caller frees it; "" for an
 * empty file), its length in bytes in *len (may be NULL). Leaves no message: each
 * caller names the file in its own words. */
text_file_status text_file_read(const char *path, char **text, size_t *len);

#endif
