/* mowcheck version: the version, the compute backends, and where the shipped data is
 * read from (installed beside the binary, or the source tree of a build). */
#include <stdio.h>

#include "commands.h"
#include "data_dir.h"
#include "kernel.h"

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("mowcheck %s (kernels: cpu%s)\n", MOWCHECK_VERSION,
           kernel_cuda_available() ? ", cuda" : "");
    printf("data: %s\n", mc_data_file("schemas"));
    return 0;
}
