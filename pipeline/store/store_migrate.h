/* Inside the store: the schema migrations (schemas/NNN_*.sql), applied by store_open. */
#ifndef MOWCHECK_STORE_MIGRATE_H
#define MOWCHECK_STORE_MIGRATE_H

#include <stddef.h>

#include "store_conn.h"

/* Applies schemas/NNN_*.sql not applied yet; *n_applied gets how many were. */
int store_migrate(store *s, const char *schema_dir, int *n_applied);
/* The schema directory: option, $MOWCHECK_SCHEMA_DIR, the source tree's, the installed one. */
int store_schema_dir(const char *option, char *buf, size_t size);

#endif
