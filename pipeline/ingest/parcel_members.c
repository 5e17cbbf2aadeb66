/* A parcel set's members and overlaps into the store (parcel_members.h). */
#include "parcel_members.h"

#include <stdlib.h>

#include "error.h"
#include "log.h"

/* Rows for every pair direction whose parcel loses more than min_share of its area
 * in all: one large overlap, or many small ones (a huge mis-digitised parcel that
 * covers a hundred others loses a little to each). totals[p]: parcel p's shares
 * summed (an upper bound where overlaps overlap each other). */
static size_t overlap_rows(const parcel_set *set, const parcel_overlap *ov, size_t n,
                           double min_share, const double *totals, store_parcel_overlap *rows)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = set->ids[ov[i].a], *b = set->ids[ov[i].b];
        log_warn("parcels %s: parcels %s and %s overlap: the shared area is %.0f%% of %s and "
                 "%.0f%% of %s; it counts for neither, and the claims of a parcel that loses "
                 "more than %.0f%% of its area go to an inspector",
                 set->source_path, a, b, 100 * ov[i].share_a, a, 100 * ov[i].share_b, b,
                 100 * min_share);
        if (totals[ov[i].a] > min_share)
            rows[k++] = (store_parcel_overlap){a, b, ov[i].share_a};
        if (totals[ov[i].b] > min_share)
            rows[k++] = (store_parcel_overlap){b, a, ov[i].share_b};
    }
    return k;
}

/* Each parcel's shares summed over its overlaps; a parcel that loses more than
 * min_share only in sum is named once more, with how many parcels it overlaps. */
static int overlap_totals(const parcel_set *set, const parcel_overlap *ov, size_t n,
                          double min_share, double **out)
{
    double *t = calloc(set->n + 1, sizeof *t);
    size_t *count = calloc(set->n + 1, sizeof *count);
    unsigned char *single = calloc(set->n + 1, 1);
    if (!t || !count || !single) {
        free(t);
        free(count);
        free(single);
        return mc_fail("parcels %s: out of memory", set->source_path);
    }
    for (size_t i = 0; i < n; i++) {
        t[ov[i].a] += ov[i].share_a;
        t[ov[i].b] += ov[i].share_b;
        count[ov[i].a]++;
        count[ov[i].b]++;
        single[ov[i].a] |= ov[i].share_a > min_share;
        single[ov[i].b] |= ov[i].share_b > min_share;
    }
    for (size_t p = 0; p < set->n; p++)
        if (t[p] > min_share && !single[p])
            log_warn("parcels %s: parcel %s overlaps %zu other parcels: %.0f%% of its area in "
                     "all; its claims go to an inspector", set->source_path, set->ids[p],
                     count[p], 100 * (t[p] < 1 ? t[p] : 1));
    free(count);
    free(single);
    *out = t;
    return MC_OK;
}

int parcel_members_record(store *s, const parcel_set *set, double min_share,
                          size_t *n_overlaps)
{
    int known = 0;
    if (n_overlaps)
        *n_overlaps = 0;
    if (min_share <= 0)
        min_share = PARCEL_OVERLAP_SHARE_DEFAULT;
    if (store_parcel_members_known(s, set->hash, &known) != MC_OK)
        return MC_ERR;
    if (known)
        return MC_OK;
    parcel_overlap *ov = NULL;
    size_t n_ov = 0;
    if (parcels_find_overlaps(set, min_share, &ov, &n_ov) != MC_OK)
        return MC_ERR;
    double *totals = NULL;
    store_parcel_overlap *rows = calloc(2 * n_ov + 1, sizeof *rows);
    if (!rows || overlap_totals(set, ov, n_ov, min_share, &totals) != MC_OK) {
        free(rows);
        free(ov);
        return mc_fail("parcels %s: out of memory", set->source_path);
    }
    size_t n_rows = overlap_rows(set, ov, n_ov, min_share, totals, rows);
    free(totals);
    int rc = store_parcel_members_put(s, set->hash, (const char *const *)set->ids,
                                      (const char *const *)set->refused, set->n, rows, n_rows);
    free(rows);
    free(ov);
    if (rc != MC_OK)
        return mc_fail_wrap("parcels %s", set->source_path);
    if (n_overlaps)
        *n_overlaps = n_ov;
    return MC_OK;
}
