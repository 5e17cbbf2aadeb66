/* Inside the store: the text of a share as the series SQL sends it (the shortest
 * decimal that reads back as the double, so 0.1 stays 0.1 in numeric), shared by
 * store_export_series and the observation rule in C (store_series.c). */
#ifndef MOWCHECK_STORE_SERIES_RULE_H
#define MOWCHECK_STORE_SERIES_RULE_H

#include <stddef.h>

void store_share_text(double v, char *buf, size_t size);

#endif
