#include "output_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* A device, pipe or socket (/dev/null, a FIFO) is written in place: renaming a file
 * over it would replace it (as root, /dev/null would become a plain file). */
static int write_in_place(const char *path, output_writer write, void *arg)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return mc_fail("output %s: %s", path, strerror(errno));
    int rc = write(out, arg);
    if (fclose(out) != 0 && rc == MC_OK)
        rc = mc_fail("output %s: %s", path, strerror(errno));
    return rc;
}

int output_write(const char *path, output_writer write, void *arg)
{
    if (!path || strcmp(path, "-") == 0) {
        int rc = write(stdout, arg);
        if (fflush(stdout) != 0 && rc == MC_OK)
            rc = mc_fail("stdout: %s", strerror(errno));
        return rc;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return write_in_place(path, write, arg);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return mc_fail("output %s: path too long", path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return mc_fail("output %s: %s", tmp, strerror(errno));
    int rc = write(out, arg);
    if (fclose(out) != 0 && rc == MC_OK)
        rc = mc_fail("output %s: %s", tmp, strerror(errno));
    if (rc == MC_OK && rename(tmp, path) != 0)
        rc = mc_fail("output %s: %s", path, strerror(errno));
    if (rc != MC_OK)
        unlink(tmp);
    return rc;
}
