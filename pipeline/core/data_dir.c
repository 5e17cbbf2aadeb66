/* The shipped data beside the installed binary or in the source tree (data_dir.h). */
#include "data_dir.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#ifndef MOWCHECK_SOURCE_DIR
#define MOWCHECK_SOURCE_DIR "."
#endif

/* <dir of /proc/self/exe>/../share/mowcheck/<rel>; 0 where the binary is not known. */
static int installed_path(const char *rel, char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    int m = snprintf(buf, size, "%s/../share/mowcheck/%s", exe, rel);
    return m > 0 && (size_t)m < size;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int mc_data_path(const char *rel, char *buf, size_t size)
{
    char installed[PATH_MAX + 64] = "";
    if (installed_path(rel, installed, sizeof installed) && exists(installed)) {
        if (snprintf(buf, size, "%s", installed) >= (int)size)
            return mc_fail("%s: path too long", installed);
        return MC_OK;
    }
    int n = snprintf(buf, size, "%s/%s", MOWCHECK_SOURCE_DIR, rel);
    if (n > 0 && (size_t)n < size && exists(buf))
        return MC_OK;
    return mc_fail("%s: found neither beside the program (%s) nor in the source tree (%s/%s)",
                   rel, installed[0] ? installed : "?", MOWCHECK_SOURCE_DIR, rel);
}

const char *mc_data_file(const char *rel)
{
    static _Thread_local char path[PATH_MAX + 64];
    if (mc_data_path(rel, path, sizeof path) != MC_OK) {
        mc_error_clear();
        if (!installed_path(rel, path, sizeof path))
            snprintf(path, sizeof path, "%s/%s", MOWCHECK_SOURCE_DIR, rel);
    }
    return path;
}
