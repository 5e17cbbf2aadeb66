/* The store's connection helpers that every store_*.c file builds its queries on:
 * statements with parameters, transactions, advisory lock keys, COPY in and out.
 * Opening and closing the store (which runs the migrations) is store.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store_conn.h"

enum { COPY_FLUSH_BYTES = 1 << 16 };
/* ---- helpers ---- */

int store_fail_result(store *s, const char *what, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = PQerrorMessage(s->conn);
    char clean[1024];
    snprintf(clean, sizeof clean, "%s", msg);
    size_t n = strlen(clean);
    while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
        clean[--n] = '\0';
    return mc_fail("%s (%s): %s", what, s->where, clean);
}

PGresult *store_query(store *s, const char *what, const char *sql, int n_params,
                      const char *const *params)
{
    PGresult *r = n_params > 0 ? PQexecParams(s->conn, sql, n_params, NULL, params, NULL, NULL, 0)
                               : PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    store_fail_result(s, what, r);
    PQclear(r);
    return NULL;
}

int store_exec(store *s, const char *what, const char *sql, int n_params,
               const char *const *params)
{
    PGresult *r = store_query(s, what, sql, n_params, params);
    if (!r)
        return MC_ERR;
    PQclear(r);
    return MC_OK;
}

int store_begin(store *s, const char *what) { return store_exec(s, what, "BEGIN", 0, NULL); }

int store_commit(store *s, const char *what) { return store_exec(s, what, "COMMIT", 0, NULL); }

void store_rollback(store *s)
{
    if (PQtransactionStatus(s->conn) == PQTRANS_IDLE)
        return;
    PGresult *r = PQexec(s->conn, "ROLLBACK");
    PQclear(r);
}

int64_t store_lock_key(const char *text)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL);
    uint64_t key = 0;
    for (int i = 0; i < 8; i++)
        key = key << 8 | digest[i];
    return (int64_t)key;
}

/* ---- COPY ---- */

static void copy_reserve(store_copy *cp, size_t more)
{
    if (cp->failed || cp->len + more <= cp->cap)
        return;
    size_t cap = cp->cap ? cp->cap : 4096;
    while (cap < cp->len + more)
        cap *= 2;
    char *b = realloc(cp->buf, cap);
    if (!b) {
        cp->failed = 1;
        mc_fail("%s: out of memory", cp->what);
        return;
    }
    cp->buf = b;
    cp->cap = cap;
}

static void copy_flush(store_copy *cp, int force)
{
    if (cp->failed || cp->len == 0 || (!force && cp->len < COPY_FLUSH_BYTES))
        return;
    if (PQputCopyData(cp->s->conn, cp->buf, (int)cp->len) != 1) {
        cp->failed = 1;
        store_fail_result(cp->s, cp->what, NULL);
    }
    cp->len = 0;
}

static void copy_end_field(store_copy *cp, int end_row)
{
    copy_reserve(cp, 1);
    if (cp->failed)
        return;
    cp->buf[cp->len++] = end_row ? '\n' : '\t';
    if (end_row)
        copy_flush(cp, 0);
}

int store_copy_start(store *s, const char *what, const char *copy_sql, int to_server)
{
    PGresult *r = PQexec(s->conn, copy_sql);
    if (PQresultStatus(r) != (to_server ? PGRES_COPY_IN : PGRES_COPY_OUT)) {
        store_fail_result(s, what, r);
        PQclear(r);
        return MC_ERR;
    }
    PQclear(r);
    return MC_OK;
}

int store_copy_begin(store *s, store_copy *cp, const char *what, const char *copy_sql)
{
    memset(cp, 0, sizeof *cp);
    cp->s = s;
    cp->what = what;
    return store_copy_start(s, what, copy_sql, 1);
}

/* Text format: backslash, tab, newline and carriage return are escaped; NULL is \N. */
void store_copy_text(store_copy *cp, const char *text, int end_row)
{
    if (!text) {
        copy_reserve(cp, 3);
        if (cp->failed)
            return;
        cp->buf[cp->len++] = '\\';
        cp->buf[cp->len++] = 'N';
        copy_end_field(cp, end_row);
        return;
    }
    size_t n = strlen(text);
    copy_reserve(cp, 2 * n + 1);
    if (cp->failed)
        return;
    for (const char *p = text; *p; p++) {
        char e = *p == '\\' ? '\\' : *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : 0;
        if (e) {
            cp->buf[cp->len++] = '\\';
            cp->buf[cp->len++] = e;
        } else {
            cp->buf[cp->len++] = *p;
        }
    }
    copy_end_field(cp, end_row);
}

void store_copy_int64(store_copy *cp, int64_t v, int end_row)
{
    copy_reserve(cp, 24);
    if (cp->failed)
        return;
    cp->len += (size_t)snprintf(cp->buf + cp->len, 24, "%" PRId64, v);
    copy_end_field(cp, end_row);
}

/* ---- binary COPY (PGCOPY: signature, flags, header extension; per row a 16-bit
 * field count, per field a 32-bit length (-1: NULL) and the value; trailer -1) ---- */

static void put_be(store_copy *cp, uint64_t v, int bytes)
{
    copy_reserve(cp, (size_t)bytes);
    if (cp->failed)
        return;
    for (int i = bytes - 1; i >= 0; i--)
        cp->buf[cp->len++] = (char)(v >> (8 * i) & 0xff);
}

int store_copy_binary_begin(store *s, store_copy *cp, const char *what, const char *copy_sql)
{
    static const char signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', 0};
    if (store_copy_begin(s, cp, what, copy_sql) != MC_OK)
        return MC_ERR;
    cp->binary = 1;
    copy_reserve(cp, sizeof signature);
    if (!cp->failed) {
        memcpy(cp->buf, signature, sizeof signature);
        cp->len = sizeof signature;
    }
    put_be(cp, 0, 4); /* flags: no OIDs */
    put_be(cp, 0, 4); /* no header extension */
    return MC_OK;
}

void store_copy_row(store_copy *cp, int n_fields)
{
    copy_flush(cp, 0); /* between rows: a block ends where a row does, as in text */
    put_be(cp, (uint64_t)(uint16_t)n_fields, 2);
}

void store_copy_bin_int64(store_copy *cp, int64_t v)
{
    put_be(cp, 8, 4);
    put_be(cp, (uint64_t)v, 8);
}

void store_copy_bin_date(store_copy *cp, int32_t days_since_2000)
{
    put_be(cp, 4, 4);
    put_be(cp, (uint64_t)(uint32_t)days_since_2000, 4);
}

void store_copy_bin_null(store_copy *cp) { put_be(cp, 0xffffffffu, 4); }

void store_copy_bin_text(store_copy *cp, const char *text)
{
    if (!text) {
        store_copy_bin_null(cp);
        return;
    }
    size_t n = strlen(text);
    put_be(cp, (uint64_t)n, 4);
    copy_reserve(cp, n);
    if (cp->failed)
        return;
    memcpy(cp->buf + cp->len, text, n);
    cp->len += n;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard
 * Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int store_date_days(const char *ymd, int32_t *days_since_2000)
{
    static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, used = 0;
    if (!ymd || strlen(ymd) != 10 || sscanf(ymd, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 ||
        used != 10 || y < 1 || m < 1 || m > 12 || d < 1 || d > month_days[m - 1] ||
        (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return mc_fail("'%s' is not a date (YYYY-MM-DD)", ymd ? ymd : "(none)");
    *days_since_2000 = (int32_t)(days_from_civil(y, m, d) - days_from_civil(2000, 1, 1));
    return MC_OK;
}

int store_copy_end(store_copy *cp, int abort)
{
    if (cp->binary)
        put_be(cp, 0xffff, 2); /* the trailer: a field count of -1 */
    copy_flush(cp, 1);
    int failed = cp->failed || abort;
    free(cp->buf);
    cp->buf = NULL;
    if (PQputCopyEnd(cp->s->conn, failed ? "aborted by mowcheck" : NULL) != 1 && !failed) {
        store_fail_result(cp->s, cp->what, NULL);
        failed = 1;
    }
    PGresult *r;
    while ((r = PQgetResult(cp->s->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !failed) {
            store_fail_result(cp->s, cp->what, r);
            failed = 1;
        }
        PQclear(r);
    }
    return failed ? MC_ERR : MC_OK;
}

int store_copy_out(store *s, const char *what, const char *copy_sql, FILE *out)
{
    if (store_copy_start(s, what, copy_sql, 0) != MC_OK)
        return MC_ERR;
    int rc = MC_OK, n;
    char *row;
    while ((n = PQgetCopyData(s->conn, &row, 0)) > 0) {
        if (rc == MC_OK && fwrite(row, 1, (size_t)n, out) != (size_t)n)
            rc = mc_fail("%s: write failed: %s", what, strerror(errno));
        PQfreemem(row);
    }
    return store_copy_out_end(s, what, n, rc);
}

int store_copy_out_end(store *s, const char *what, int last, int rc)
{
    if (last == -2 && rc == MC_OK)
        rc = store_fail_result(s, what, NULL);
    PGresult *r;
    while ((r = PQgetResult(s->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == MC_OK)
            rc = store_fail_result(s, what, r);
        PQclear(r);
    }
    return rc;
}

int store_query_strings(store *s, const char *what, const char *sql, int n_params,
                        const char *const *params, char ***v, size_t *n)
{
    *v = NULL;
    *n = 0;
    PGresult *r = store_query(s, what, sql, n_params, params);
    if (!r)
        return MC_ERR;
    size_t rows = (size_t)PQntuples(r);
    char **out = calloc(rows ? rows : 1, sizeof *out);
    int rc = out ? MC_OK : mc_fail("%s: out of memory", what);
    for (size_t i = 0; i < rows && rc == MC_OK; i++)
        if (!(out[i] = strdup(PQgetvalue(r, (int)i, 0))))
            rc = mc_fail("%s: out of memory", what);
    PQclear(r);
    if (rc != MC_OK) {
        for (size_t i = 0; out && i < rows; i++)
            free(out[i]);
        free(out);
        return MC_ERR;
    }
    *v = out;
    *n = rows;
    return MC_OK;
}
