/* The reports' queries: the flagged claims (not_mowed, inconclusive) with their case,
 * the latest review and the reason, and where the current parcel file lives. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_internal.h"

/* Same reason as the decision feed (store_export_decisions): a reviewed claim's reason
 * starts with the inspector's verdict. season 0: all seasons. */
static const char flagged_sql[] =
    "SELECT d.claim_id, d.parcel_id, d.season, d.outcome, coalesce(c.case_number, ''),"
    "  coalesce(lr.verdict, ''),"
    "  CASE WHEN lr.verdict IS NULL THEN d.reason_text"
    "       ELSE format('Reviewed by inspector %s on %s: %s. %s (Automatic: %s)',"
    "                   lr.inspector, to_char(lr.reviewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
    "                   replace(lr.verdict, '_', ' '), lr.note, d.reason_text) END"
    " FROM decisions d"
    " LEFT JOIN cases c ON c.claim_id = d.claim_id AND c.season = d.season"
    " LEFT JOIN LATERAL (SELECT verdict, inspector, note, reviewed_at FROM reviews r"
    "   WHERE r.case_number = c.case_number ORDER BY reviewed_at DESC, review_id DESC LIMIT 1) lr"
    "   ON true"
    " WHERE d.is_current AND d.claim_id IS NOT NULL"
    "   AND d.outcome IN ('not_mowed', 'inconclusive')"
    "   AND ($1::integer = 0 OR d.season = $1::integer)"
    " ORDER BY d.season, d.claim_id COLLATE \"C\", d.parcel_id COLLATE \"C\"";

static char *dup_or_null(const char *v, int *oom)
{
    char *c = strdup(v);
    if (!c)
        *oom = 1;
    return c;
}

int store_flagged_load(store *s, int season, store_flagged **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    char season_text[16];
    snprintf(season_text, sizeof season_text, "%d", season);
    const char *params[] = {season_text};
    PGresult *r = store_query(s, "loading the flagged claims", flagged_sql, 1, params);
    if (!r)
        return MC_ERR;
    size_t count = (size_t)PQntuples(r);
    store_flagged *v = calloc(count ? count : 1, sizeof *v);
    int oom = !v;
    for (size_t i = 0; !oom && i < count; i++) {
        int row = (int)i;
        v[i].claim_id = dup_or_null(PQgetvalue(r, row, 0), &oom);
        v[i].parcel_id = dup_or_null(PQgetvalue(r, row, 1), &oom);
        v[i].season = atoi(PQgetvalue(r, row, 2));
        v[i].outcome = dup_or_null(PQgetvalue(r, row, 3), &oom);
        v[i].case_number = dup_or_null(PQgetvalue(r, row, 4), &oom);
        v[i].reviewed = dup_or_null(PQgetvalue(r, row, 5), &oom);
        v[i].reason = dup_or_null(PQgetvalue(r, row, 6), &oom);
    }
    PQclear(r);
    if (oom) {
        store_flagged_free(v, count);
        return mc_fail("loading the flagged claims: out of memory");
    }
    *rows = v;
    *n = count;
    return MC_OK;
}

void store_flagged_free(store_flagged *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].claim_id);
        free(rows[i].parcel_id);
        free(rows[i].outcome);
        free(rows[i].case_number);
        free(rows[i].reviewed);
        free(rows[i].reason);
    }
    free(rows);
}

int store_parcel_source(store *s, char **path, char **id_field, int *found)
{
    *path = *id_field = NULL;
    *found = 0;
    PGresult *r = store_query(s, "finding the current parcel set",
                              "SELECT source_path, id_field FROM parcel_sets WHERE is_current",
                              0, NULL);
    if (!r)
        return MC_ERR;
    int rc = MC_OK;
    if (PQntuples(r) == 1) {
        *path = strdup(PQgetvalue(r, 0, 0));
        *id_field = strdup(PQgetvalue(r, 0, 1));
        if (!*path || !*id_field) {
            free(*path);
            free(*id_field);
            *path = *id_field = NULL;
            rc = mc_fail("finding the current parcel set: out of memory");
        } else {
            *found = 1;
        }
    }
    PQclear(r);
    return rc;
}
