/* The ingest tests' database: a fresh one of their own on the shared test cluster
 * (socket dir in MOWCHECK_TEST_PGHOST), the series export as text, and direct SQL. */
#ifndef MOWCHECK_TEST_INGEST_DB_H
#define MOWCHECK_TEST_INGEST_DB_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "test.h"

static inline void db_admin(const char *sql)
{
    char admin[1024];
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=postgres",
             getenv("MOWCHECK_TEST_PGHOST"));
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to the test cluster: %s", PQerrorMessage(c));
        exit(1);
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
}

/* Drops and creates database `name`; fills dsn. Skips where no cluster is given. */
static inline void db_create(const char *name, char *dsn, size_t size)
{
    const char *host = getenv("MOWCHECK_TEST_PGHOST");
    if (!host || !*host)
        TEST_SKIP("MOWCHECK_TEST_PGHOST not set (run through ctest)");
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    db_admin(sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    db_admin(sql);
    snprintf(dsn, size, "host=%s dbname=%s user=postgres", host, name);
}

static inline store *db_open(const char *dsn)
{
    store_options opt = {.dsn = dsn};
    store *s = NULL;
    if (store_open(&opt, &s) != MC_OK) {
        fprintf(stderr, "store_open(%s): %s\n", dsn, mc_error_message());
        exit(1);
    }
    return s;
}

/* The whole series CSV (every date observed: thresholds 1 pixel, share 0). Caller frees. */
static inline char *db_export(store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    store_series_filter filter = {.min_valid_pixels = 1, .min_valid_share = 0, .season = 0};
    if (store_export_series(s, &filter, f) != MC_OK)
        fprintf(stderr, "export: %s\n", mc_error_message());
    fclose(f);
    return buf;
}

/* The export's row of parcel/date, split into its 9 fields (parcel_id,date,ndvi,
 * valid_share,n_valid,n_total,ndvi_std,n_seen,ndmi); 0 where there is no such row. */
typedef struct db_row {
    char f[9][64];
} db_row;

static inline int db_find_row(const char *csv, const char *parcel, const char *date, db_row *row)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s,%s,", parcel, date);
    for (const char *line = csv; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            memset(row, 0, sizeof *row);
            int k = 0;
            size_t j = 0;
            for (size_t i = 0; i < n && k < 9; i++) {
                if (line[i] == ',') {
                    k++;
                    j = 0;
                } else if (j < 63) {
                    row->f[k][j++] = line[i];
                }
            }
            return 1;
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static inline int db_count_rows(const char *csv, const char *parcel)
{
    int n = 0;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "\n%s,", parcel);
    for (const char *p = csv; (p = strstr(p, prefix)) != NULL; p++)
        n++;
    return n;
}

/* The first value of a query, as text ("" for NULL or no row). */
static inline void db_value(const char *dsn, const char *sql, char *buf, size_t size)
{
    PGconn *c = PQconnectdb(dsn);
    PGresult *r = PQexec(c, sql);
    buf[0] = '\0';
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

#endif
