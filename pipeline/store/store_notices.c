/* Farmer notices as first issued (store.h, "farmer notices"; table notices in
 * schemas/040_review_history.sql). The content hash is computed by the database, so
 * the same function checks it on every read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dates.h"
#include "error.h"
#include "store.h"
#include "store_conn.h"

#define NOTICE_HASH "encode(sha256(convert_to(body_text || body_html, 'UTF8')), 'hex')"

static void key_params(const store_notice_key *key, char decision[24], char review[24],
                       const char *p[4])
{
    snprintf(decision, 24, "%lld", (long long)key->decision_id);
    snprintf(review, 24, "%lld", (long long)key->review_id);
    p[0] = key->case_number;
    p[1] = key->lang;
    p[2] = decision;
    p[3] = key->review_id ? review : NULL;
}

static int32_t day_or_none(const PGresult *r, int col)
{
    int32_t day;
    if (PQgetisnull(r, 0, col) || date_parse(PQgetvalue(r, 0, col), &day) != MC_OK)
        return INT32_MIN;
    return day;
}

int store_notice_find(store *s, const store_notice_key *key, store_farmer_notice *n, int *found)
{
    memset(n, 0, sizeof *n);
    *found = 0;
    char decision[24], review[24];
    const char *p[4];
    key_params(key, decision, review, p);
    PGresult *r = store_query(
        s, "reading the notice",
        "SELECT notice_id, state, to_char(issued_on, 'YYYY-MM-DD'),"
        " to_char(deadline, 'YYYY-MM-DD'), body_text, body_html,"
        " content_sha256 = " NOTICE_HASH
        " FROM notices WHERE case_number = $1 AND lang = $2 AND decision_id = $3"
        " AND review_id IS NOT DISTINCT FROM $4::bigint",
        4, p);
    if (!r)
        return mc_fail_wrap("case %s", key->case_number);
    if (PQntuples(r) == 1) {
        n->notice_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        n->state = strdup(PQgetvalue(r, 0, 1));
        n->issued_on = day_or_none(r, 2);
        n->deadline = day_or_none(r, 3);
        n->body_text = strdup(PQgetvalue(r, 0, 4));
        n->body_html = strdup(PQgetvalue(r, 0, 5));
        n->intact = PQgetvalue(r, 0, 6)[0] == 't';
        *found = 1;
    }
    PQclear(r);
    if (*found && (!n->state || !n->body_text || !n->body_html)) {
        store_notice_free(n);
        *found = 0;
        return mc_fail("case %s: reading the notice: out of memory", key->case_number);
    }
    return MC_OK;
}

int store_notice_put(store *s, const store_notice_key *key, const store_farmer_notice *n)
{
    char decision[24], review[24], issued[11], deadline[11];
    const char *p[9];
    key_params(key, decision, review, p);
    date_format(n->issued_on, issued);
    if (n->deadline != INT32_MIN)
        date_format(n->deadline, deadline);
    p[4] = n->state;
    p[5] = issued;
    p[6] = n->deadline != INT32_MIN ? deadline : NULL;
    p[7] = n->body_text;
    p[8] = n->body_html;
    if (store_exec(s, "recording the notice",
                   "INSERT INTO notices (case_number, lang, decision_id, review_id, state,"
                   " issued_on, deadline, body_text, body_html, content_sha256)"
                   " VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6::date, $7::date,"
                   " $8::text, $9::text, encode(sha256(convert_to($8::text || $9::text,"
                   " 'UTF8')), 'hex'))"
                   " ON CONFLICT DO NOTHING",
                   9, p) != MC_OK)
        return mc_fail_wrap("case %s", key->case_number);
    return MC_OK;
}

void store_notice_free(store_farmer_notice *n)
{
    free(n->state);
    free(n->body_text);
    free(n->body_html);
    memset(n, 0, sizeof *n);
}
