#include "stage_counts.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static struct {
    char name[STAGE_COUNTS_NAME_MAX];
    int64_t value;
} counts[STAGE_COUNTS_MAX];
static int n_counts;

void stage_counts_clear(void) { n_counts = 0; }

void stage_counts_set(const char *name, int64_t value)
{
    for (int i = 0; i < n_counts; i++)
        if (strcmp(counts[i].name, name) == 0) {
            counts[i].value = value;
            return;
        }
    if (n_counts == STAGE_COUNTS_MAX || strlen(name) >= STAGE_COUNTS_NAME_MAX) {
        log_debug("stage count %s not kept (name too long or table full)", name);
        return;
    }
    snprintf(counts[n_counts].name, sizeof counts[n_counts].name, "%s", name);
    counts[n_counts++].value = value;
}

int stage_counts_get(const char *name, int64_t *value)
{
    for (int i = 0; i < n_counts; i++)
        if (strcmp(counts[i].name, name) == 0) {
            *value = counts[i].value;
            return 1;
        }
    return 0;
}
