/* The audit log of registry requests (schemas/010_audit.sql): one append-only row
 * per request attempt, and the farmer's access log read from it.
 *
 * Lists go to PostgreSQL as JSON arrays (built by jansson, unpacked by the
 * server), so no text is ever spliced into SQL. Texts that are not valid UTF-8
 * (a hostile parcel id) are kept readable: each byte >= 0x80 becomes \xNN. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "store.h"
#include "store_conn.h"

/* text as a JSON string; invalid UTF-8 bytes spelt \xNN. NULL only when out of memory. */
static json_t *json_text(const char *text)
{
    json_t *j = json_string(text);
    if (j)
        return j;
    size_t n = strlen(text);
    char *buf = malloc(4 * n + 1), *p = buf;
    if (!buf)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        p += *c < 0x80 ? sprintf(p, "%c", *c) : sprintf(p, "\\x%02X", *c);
    j = json_string(buf);
    free(buf);
    return j;
}

/* A text parameter that PostgreSQL will accept (valid UTF-8); *tmp holds it. */
static const char *param_text(const char *text, char **tmp)
{
    *tmp = NULL;
    if (!text)
        return NULL;
    json_t *j = json_text(text);
    if (!j)
        return NULL;
    *tmp = strdup(json_string_value(j));
    json_decref(j);
    return *tmp;
}

/* The list as a JSON array text (malloc'd). */
static char *json_list(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *item = json_text(items[i] ? items[i] : "");
        if (!item || json_array_append_new(a, item)) {
            json_decref(a);
            a = NULL;
        }
    }
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

/* Through audit_log_append (schemas/032): the batch role may not INSERT into the
 * table; the database fills who (the login) and when itself. */
static const char insert_sql[] =
    "SELECT audit_log_append($1::bigint, $2::int, $3, $4, $5, $6, $7, $8::int, $9::json,"
    " $10::json, $11::json, $12::json, $13, $14, $15, $16, $17::int, $18, $19, $20::bigint,"
    " $21::boolean)";

enum { N_TEXTS = 11 };

int store_audit_append(store *s, const store_audit_row *row)
{
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        return mc_fail("audit log: called inside an open transaction (%s); an audit row is "
                       "committed on its own", s->where);
    char run_id[32], attempt[16], season[16], status[16], duration[32];
    snprintf(run_id, sizeof run_id, "%" PRId64, row->run_id);
    snprintf(attempt, sizeof attempt, "%d", row->attempt);
    snprintf(season, sizeof season, "%d", row->season);
    snprintf(status, sizeof status, "%d", row->http_status);
    snprintf(duration, sizeof duration, "%" PRId64, row->duration_ms < 0 ? 0 : row->duration_ms);
    const char *texts_in[N_TEXTS] = {row->client, row->service, row->user_id, row->issue,
                                     row->purpose, row->x_road_id, row->response_x_road_id,
                                     row->request_id, row->request_hash, row->error_type,
                                     row->error_message};
    char *tmp[N_TEXTS] = {0};
    const char *t[N_TEXTS];
    for (int i = 0; i < N_TEXTS; i++)
        t[i] = param_text(texts_in[i], &tmp[i]);
    char *lists[4] = {json_list(row->parcel_ids, row->n_parcels),
                      json_list(row->claim_ids, row->n_claims),
                      json_list(row->claim_parcels, row->n_claims),
                      json_list(row->applicants, row->n_claims)};
    int rc = MC_OK;
    for (int i = 0; i < N_TEXTS; i++)
        if (texts_in[i] && !t[i])
            rc = mc_fail("out of memory");
    for (int i = 0; i < 4; i++)
        if (!lists[i])
            rc = mc_fail("out of memory");
    if (rc == MC_OK) {
        const char *hash_ok = row->request_hash_check > 0   ? "true"
                              : row->request_hash_check < 0 ? "false"
                                                            : NULL;
        const char *params[21] = {
            row->run_id ? run_id : NULL, attempt, t[0], t[1], t[2], t[3], t[4],
            row->season ? season : NULL, lists[0], lists[1], lists[2], lists[3], t[5], t[6],
            t[7], t[8], row->http_status ? status : NULL, t[9], t[10], duration, hash_ok};
        rc = store_exec(s, "audit log: insert", insert_sql, 21, params);
    }
    for (int i = 0; i < N_TEXTS; i++)
        free(tmp[i]);
    for (int i = 0; i < 4; i++)
        free(lists[i]);
    return rc;
}

/* ---- the farmer's access log ---------------------------------------------------------- */

/* mine: (season, parcel) pairs that some answer showed to be the applicant's. */
static const char access_sql[] =
    "WITH mine AS ("
    "  SELECT DISTINCT a.season, u.parcel"
    "  FROM audit_log a, unnest(a.applicants, a.claim_parcels) AS u(applicant, parcel)"
    "  WHERE a.applicants @> ARRAY[$1::text] AND u.applicant = $1),"
    " mine_parcels AS (SELECT coalesce(array_agg(DISTINCT parcel), '{}') AS ids FROM mine)"
    " SELECT a.id,"
    "  to_char(a.logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    "  a.client, a.user_id, coalesce(a.issue, ''), coalesce(a.purpose, ''), a.service,"
    "  a.x_road_id, coalesce(a.season, 0),"
    "  coalesce((SELECT string_agg(p, ',' ORDER BY p) FROM (SELECT DISTINCT p"
    "    FROM unnest(a.parcel_ids || a.claim_parcels) AS p"
    "    WHERE EXISTS (SELECT 1 FROM mine m WHERE m.season IS NOT DISTINCT FROM a.season"
    "                  AND m.parcel = p)) q), ''),"
    "  (SELECT count(*) FROM unnest(a.applicants) AS x WHERE x = $1),"
    "  coalesce(a.http_status, 0), coalesce(a.error_type, '')"
    " FROM audit_log a, mine_parcels mp"
    " WHERE a.applicants @> ARRAY[$1::text]"
    "    OR (a.parcel_ids && mp.ids AND EXISTS (SELECT 1 FROM unnest(a.parcel_ids) AS p"
    "        JOIN mine m ON m.parcel = p AND m.season IS NOT DISTINCT FROM a.season))"
    " ORDER BY a.logged_at, a.id";

static char *dup_value(const PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col));
}

void store_access_entries_free(store_access_entry *entries, size_t n)
{
    for (size_t i = 0; entries && i < n; i++) {
        store_access_entry *e = &entries[i];
        free(e->logged_at);
        free(e->client);
        free(e->user_id);
        free(e->issue);
        free(e->purpose);
        free(e->service);
        free(e->x_road_id);
        free(e->parcels);
        free(e->error_type);
    }
    free(entries);
}

int store_audit_access_log(store *s, const char *applicant, store_access_entry **entries,
                           size_t *n)
{
    *entries = NULL;
    *n = 0;
    char *tmp = NULL;
    const char *params[1] = {param_text(applicant, &tmp)};
    if (!params[0])
        return mc_fail("out of memory");
    PGresult *r = store_query(s, "access log", access_sql, 1, params);
    free(tmp);
    if (!r)
        return MC_ERR;
    int rows = PQntuples(r);
    store_access_entry *e = calloc(rows ? (size_t)rows : 1, sizeof *e);
    if (!e) {
        PQclear(r);
        return mc_fail("out of memory");
    }
    int ok = 1;
    for (int i = 0; i < rows; i++) {
        e[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        e[i].logged_at = dup_value(r, i, 1);
        e[i].client = dup_value(r, i, 2);
        e[i].user_id = dup_value(r, i, 3);
        e[i].issue = dup_value(r, i, 4);
        e[i].purpose = dup_value(r, i, 5);
        e[i].service = dup_value(r, i, 6);
        e[i].x_road_id = dup_value(r, i, 7);
        e[i].season = atoi(PQgetvalue(r, i, 8));
        e[i].parcels = dup_value(r, i, 9);
        e[i].n_claims = strtoll(PQgetvalue(r, i, 10), NULL, 10);
        e[i].http_status = atoi(PQgetvalue(r, i, 11));
        e[i].error_type = dup_value(r, i, 12);
        ok = ok && e[i].logged_at && e[i].client && e[i].user_id && e[i].issue &&
             e[i].purpose && e[i].service && e[i].x_road_id && e[i].parcels && e[i].error_type;
    }
    PQclear(r);
    if (!ok) {
        store_access_entries_free(e, (size_t)rows);
        return mc_fail("access log: out of memory");
    }
    *entries = e;
    *n = (size_t)rows;
    return MC_OK;
}
