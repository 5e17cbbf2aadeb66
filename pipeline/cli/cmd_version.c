#include <stdio.h>

#include "commands.h"
#include "kernel.h"

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("mowcheck %s (kernels: cpu%s)\n", MOWCHECK_VERSION,
           kernel_cuda_available() ? ", cuda" : "");
    return 0;
}
