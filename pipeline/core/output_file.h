/* Output files of the commands: written to FILE.tmp and renamed, so a failed
 * export never leaves a half file where the payment system or a GIS user reads. */
#ifndef MOWCHECK_OUTPUT_FILE_H
#define MOWCHECK_OUTPUT_FILE_H

#include <stdio.h>

/* Writes an output through write(out, arg): to stdout where path is NULL or "-", else
 * to path.tmp renamed to path on success (a failure leaves no half file). A device or
 * pipe (/dev/null, a FIFO) is written in place. */
typedef int (*output_writer)(FILE *out, void *arg);
int output_write(const char *path, output_writer write, void *arg);

#endif
