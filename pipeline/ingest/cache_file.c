/* Folders and atomic writes for ingest's caches (cache_file.h). */
#include "cache_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int cache_file_make_dirs(const char *dir, const char *what)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return mc_fail("%s: bad folder name \"%s\"", what, dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return mc_fail("%s %s: cannot create folder %s: %s", what, dir, buf, strerror(errno));
        buf[i] = c;
    }
    return MC_OK;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cache_file_write(const char *path, const void *head, size_t head_n, const void *body,
                     size_t body_n, const char *what)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp)
        return mc_fail("%s %s: out of memory", what, path);
    snprintf(tmp, plen + 8, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = MC_OK;
    if (fd < 0) {
        rc = mc_fail("%s %s: cannot create a temporary file: %s", what, path, strerror(errno));
    } else {
        if (write_all(fd, head, head_n) || write_all(fd, body, body_n) || fsync(fd) != 0)
            rc = mc_fail("%s %s: write failed: %s", what, tmp, strerror(errno));
        if (close(fd) != 0 && rc == MC_OK)
            rc = mc_fail("%s %s: close failed: %s", what, tmp, strerror(errno));
        if (rc == MC_OK && rename(tmp, path) != 0)
            rc = mc_fail("%s %s: rename failed: %s", what, path, strerror(errno));
        if (rc != MC_OK)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}
