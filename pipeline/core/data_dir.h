/* Where mowcheck's shipped data is (migrations, the detector's model, notice templates,
 * the registry's OpenAPI document): beside the installed binary in
 * <prefix>/share/mowcheck/, else in the source tree the binary was built from. Nothing
 * is compiled in but the source tree, so an installed copy works where the tree is gone
 * and a relocated prefix (a Debian package, /opt) works as installed. */
#ifndef MOWCHECK_DATA_DIR_H
#define MOWCHECK_DATA_DIR_H

#include <stddef.h>

/* The path of rel (e.g. "schemas/templates"): <dir of the running binary>/../share/
 * mowcheck/<rel> where that exists, else MOWCHECK_SOURCE_DIR/<rel> where that exists.
 * Fails naming both places. */
int mc_data_path(const char *rel, char *buf, size_t size);

/* The same as a string this thread keeps until its next call: where none exists, the
 * installed place (so that the caller's open fails naming it). */
const char *mc_data_file(const char *rel);

#endif
