/* Helpers for the store tests: a fresh database of the test's own on the shared
 * cluster (socket dir in MOWCHECK_TEST_PGHOST), and direct SQL for checking. */
#ifndef MOWCHECK_STORE_TEST_H
#define MOWCHECK_STORE_TEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "store_conn.h"
#include "store_migrate.h"
#include "test.h"

static inline void store_test_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Drops and creates database `name`; fills dsn. Skips where no cluster is given. */
static inline void store_test_create_db(const char *name, char *dsn, size_t size)
{
    const char *host = getenv("MOWCHECK_TEST_PGHOST");
    if (!host || !*host)
        TEST_SKIP("MOWCHECK_TEST_PGHOST not set (run through ctest)");
    char admin[1024], sql[256];
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=postgres", host);
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to the test cluster: %s", PQerrorMessage(c));
        exit(1);
    }
    PQsetNoticeProcessor(c, store_test_quiet, NULL);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PGresult *r = PQexec(c, sql);
    PQclear(r);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "CREATE DATABASE %s: %s", name, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
    snprintf(dsn, size, "host=%s dbname=%s user=postgres", host, name);
}

static inline store *store_test_open(const char *dsn, const char *schema_dir)
{
    store_options opt = {.dsn = dsn, .schema_dir = schema_dir};
    store *s = NULL;
    if (store_open(&opt, &s) != MC_OK) {
        fprintf(stderr, "store_open(%s): %s\n", dsn, mc_error_message());
        return NULL;
    }
    return s;
}

/* The first value of a query as text, in buf ("" for NULL, "ERROR" on failure). */
static inline const char *store_test_value(store *s, const char *sql, char *buf, size_t size)
{
    PGresult *r = PQexec(s->conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(s->conn));
        snprintf(buf, size, "ERROR");
    } else {
        snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return buf;
}

static inline long long store_test_int(store *s, const char *sql)
{
    char buf[64];
    return atoll(store_test_value(s, sql, buf, sizeof buf));
}

#endif
