/* Inside the store: the connection and helpers (store_conn.c) that every store_*.c
 * file uses to add its own queries. Not for the stages: they use store.h only.
 *
 * A store is one libpq connection and is not thread-safe: one thread at a time. */
#ifndef MOWCHECK_STORE_CONN_H
#define MOWCHECK_STORE_CONN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgcluster.h"

typedef struct store store; /* as in store.h */

struct store {
    PGconn *conn;
    pgcluster *cluster; /* the private cluster we registered with; NULL with a DSN */
    char where[256];    /* for messages: "database <dbname> on <host>" */
    int n_migrations_applied; /* by store_open, for tests and the log */
};

/* Advisory lock classes (two-int form, first key) so that modules do not collide.
 * The one-bigint form is used for scene claims (a hash of the scene id). */
enum {
    STORE_LOCK_CLASS = 0x6d6f77, /* "mow" */
    STORE_LOCK_MIGRATIONS = 1,
    STORE_LOCK_PARCEL_SET = 2,
    STORE_LOCK_PARCEL_MEMBERS = 3
};

/* Runs a statement with text parameters (may be 0). Returns the result when its
 * status is COMMAND_OK or TUPLES_OK, else NULL with mc_fail("<what>: <server message>").
 * The caller PQclear()s the result. */
PGresult *store_query(store *s, const char *what, const char *sql, int n_params,
                      const char *const *params);
/* Same, for statements whose result is not needed. */
int store_exec(store *s, const char *what, const char *sql, int n_params,
               const char *const *params);
/* Runs a query whose rows are one text column: *v gets a malloc'ed copy of each row
 * (NULL as ""), free with store_strings_free. */
int store_query_strings(store *s, const char *what, const char *sql, int n_params,
                        const char *const *params, char ***v, size_t *n);
/* Records the error of a failed result (or of the connection when r is NULL). */
int store_fail_result(store *s, const char *what, const PGresult *r);

int store_begin(store *s, const char *what);
int store_commit(store *s, const char *what);
/* Rolls back, keeping the current error message (for use on failure paths). */
void store_rollback(store *s);

/* COPY ... FROM STDIN, buffered and sent in blocks of 64 KiB. Text format
 * (store_copy_begin): fields escaped by store_copy_text / store_copy_int64, rows ended
 * by end_row. Binary format (store_copy_binary_begin, "... FROM STDIN (FORMAT binary)"):
 * each row opens with store_copy_row(number of fields), then one store_copy_bin_*
 * call per field, in network byte order; for bulk writes, where it spares the server
 * parsing every number (docs/performance.md). */
typedef struct store_copy {
    store *s;
    const char *what;
    char *buf;
    size_t len, cap;
    int failed;
    int binary;
} store_copy;

/* Sends a COPY statement and checks the server is ready for its data (to_server = 1:
 * FROM STDIN) or about to send it (0: TO STDOUT). */
int store_copy_start(store *s, const char *what, const char *copy_sql, int to_server);
int store_copy_begin(store *s, store_copy *cp, const char *what, const char *copy_sql);
/* After a COPY TO STDOUT's last PQgetCopyData (its return value `last`): reads the
 * statement's result; rc is the caller's result so far, kept where it is a failure. */
int store_copy_out_end(store *s, const char *what, int last, int rc);
/* Adds a text field (escaped; NULL for SQL NULL) or an int64; the last one of a row with end_row = 1. */
void store_copy_text(store_copy *cp, const char *text, int end_row);
void store_copy_int64(store_copy *cp, int64_t v, int end_row);

/* Starts a binary COPY (copy_sql must say FORMAT binary) and sends its header. */
int store_copy_binary_begin(store *s, store_copy *cp, const char *what, const char *copy_sql);
void store_copy_row(store_copy *cp, int n_fields);
void store_copy_bin_int64(store_copy *cp, int64_t v);                /* bigint */
void store_copy_bin_text(store_copy *cp, const char *text);          /* text; NULL: SQL NULL */
void store_copy_bin_date(store_copy *cp, int32_t days_since_2000);   /* date */
void store_copy_bin_null(store_copy *cp);
/* A date "YYYY-MM-DD" (proleptic Gregorian, years 1-9999) as PostgreSQL's binary date:
 * days since 2000-01-01. MC_ERR (with a message naming the text) where it is none. */
int store_date_days(const char *ymd, int32_t *days_since_2000);

/* Sends the rest (the binary trailer too) and finishes the COPY; on failure (or
 * abort = 1) the COPY is aborted. */
int store_copy_end(store_copy *cp, int abort);

/* Runs a COPY (...) TO STDOUT and writes its rows to out as they come. */
int store_copy_out(store *s, const char *what, const char *copy_sql, FILE *out);

/* 64-bit advisory lock key of a text (first 8 bytes of its SHA-256). */
int64_t store_lock_key(const char *text);

#endif
