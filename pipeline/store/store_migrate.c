/* Schema migrations: schemas/NNN_name.sql, applied in order, each in its own
 * transaction, recorded with the SHA-256 of the file. An applied file that has
 * changed since is refused: migrations are history, a change is a new file. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "data_dir.h"
#include "log.h"
#include "store_conn.h"
#include "store_migrate.h"
#include "text_file.h"

typedef struct migration {
    int version;
    char name[256];  /* the file name */
    char *sql;
    char sha256[65];
} migration;

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_schema_dir(const char *option, char *buf, size_t size)
{
    const char *env = getenv("MOWCHECK_SCHEMA_DIR");
    const char *dir = NULL;
    if (option && *option)
        dir = option;
    else if (env && *env)
        dir = env;
    else /* installed beside the binary, else the source tree (data_dir.h) */
        dir = mc_data_file("schemas");
    if (!is_dir(dir))
        return mc_fail("schema directory %s: not found (set MOWCHECK_SCHEMA_DIR)", dir);
    if (snprintf(buf, size, "%s", dir) >= (int)size)
        return mc_fail("schema directory %s: path too long", dir);
    return MC_OK;
}

/* NNN_name.sql: three or more digits, an underscore, ".sql". */
static int migration_version(const char *name)
{
    size_t digits = 0;
    while (isdigit((unsigned char)name[digits]))
        digits++;
    size_t len = strlen(name);
    if (digits < 3 || name[digits] != '_' || len < digits + 5 ||
        strcmp(name + len - 4, ".sql") != 0)
        return -1;
    return atoi(name);
}

static int read_file(const char *path, char **text)
{
    switch (text_file_read(path, text, NULL)) {
    case TEXT_FILE_OK: return MC_OK;
    case TEXT_FILE_CANNOT_OPEN: return mc_fail("migration %s: %s", path, strerror(errno));
    case TEXT_FILE_CANNOT_READ: break;
    }
    return mc_fail("migration %s: cannot read", path);
}

static void sha256_hex(const char *text, char hex[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static int by_version(const void *a, const void *b)
{
    const migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static void free_migrations(migration *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].sql);
    free(m);
}

static int load_migrations(const char *dir, migration **out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (!d)
        return mc_fail("schema directory %s: %s", dir, strerror(errno));
    migration *m = NULL;
    size_t n = 0, cap = 0;
    int rc = MC_OK;
    struct dirent *e;
    while (rc == MC_OK && (e = readdir(d)) != NULL) {
        int version = migration_version(e->d_name);
        if (version < 0 || strlen(e->d_name) >= sizeof m->name)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            migration *grown = realloc(m, cap * sizeof *m);
            if (!grown) {
                rc = mc_fail("out of memory");
                break;
            }
            m = grown;
        }
        migration *mi = &m[n];
        memset(mi, 0, sizeof *mi);
        mi->version = version;
        snprintf(mi->name, sizeof mi->name, "%s", e->d_name);
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = read_file(path, &mi->sql);
        if (rc == MC_OK) {
            sha256_hex(mi->sql, mi->sha256);
            n++;
        }
    }
    closedir(d);
    if (rc == MC_OK) {
        qsort(m, n, sizeof *m, by_version);
        for (size_t i = 1; i < n; i++)
            if (m[i].version == m[i - 1].version)
                rc = mc_fail("schema directory %s: %s and %s have the same number", dir,
                             m[i - 1].name, m[i].name);
    }
    if (rc != MC_OK) {
        free_migrations(m, n);
        return MC_ERR;
    }
    *out = m;
    *n_out = n;
    return MC_OK;
}

static int apply_one(store *s, const migration *m)
{
    char what[512], version[16];
    snprintf(what, sizeof what, "applying migration %s", m->name);
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name, m->sha256};
    if (store_begin(s, what) != MC_OK)
        return MC_ERR;
    if (store_exec(s, what, m->sql, 0, NULL) != MC_OK ||
        store_exec(s, what,
                   "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", 3,
                   params) != MC_OK ||
        store_commit(s, what) != MC_OK) {
        store_rollback(s);
        return MC_ERR;
    }
    log_info("database: applied migration %s", m->name);
    return MC_OK;
}

/* With the migration lock held. */
static int migrate_locked(store *s, const char *dir, const migration *m, size_t n, int *applied)
{
    /* Created only where missing: roles that may not create tables (the inspector's)
     * still open an up-to-date database. */
    PGresult *exists = store_query(s, "looking for schema_migrations",
                                   "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL);
    if (!exists)
        return MC_ERR;
    int have_table = strcmp(PQgetvalue(exists, 0, 0), "t") == 0;
    PQclear(exists);
    if (!have_table &&
        store_exec(s, "creating schema_migrations",
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " sha256 text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   0, NULL) != MC_OK)
        return MC_ERR;
    PGresult *r = store_query(s, "reading schema_migrations",
                              "SELECT version, name, sha256 FROM schema_migrations ORDER BY version",
                              0, NULL);
    if (!r)
        return MC_ERR;
    int rows = PQntuples(r), rc = MC_OK;
    for (int i = 0; i < rows && rc == MC_OK; i++) {
        int version = atoi(PQgetvalue(r, i, 0));
        const migration *found = NULL;
        for (size_t k = 0; k < n; k++)
            if (m[k].version == version)
                found = &m[k];
        if (!found)
            log_warn("database: migration %s is applied but not in %s (a newer mowcheck?)",
                     PQgetvalue(r, i, 1), dir);
        else if (strcmp(found->sha256, PQgetvalue(r, i, 2)) != 0)
            rc = mc_fail("migration %s/%s was changed after it was applied to %s (sha256 %s, "
                         "applied %s); never edit an applied migration, add a new one",
                         dir, found->name, s->where, found->sha256, PQgetvalue(r, i, 2));
    }
    for (size_t k = 0; k < n && rc == MC_OK; k++) {
        int done = 0;
        for (int i = 0; i < rows; i++)
            done |= atoi(PQgetvalue(r, i, 0)) == m[k].version;
        if (done)
            continue;
        rc = apply_one(s, &m[k]);
        if (rc == MC_OK)
            (*applied)++;
        else
            mc_fail_wrap("%s/%s", dir, m[k].name);
    }
    PQclear(r);
    return rc;
}

int store_migrate(store *s, const char *schema_dir, int *n_applied)
{
    *n_applied = 0;
    migration *m;
    size_t n;
    if (load_migrations(schema_dir, &m, &n) != MC_OK)
        return MC_ERR;
    if (n == 0) {
        free_migrations(m, n);
        return mc_fail("schema directory %s: no migrations (NNN_name.sql) found", schema_dir);
    }
    char lock[128], unlock[128];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d, %d)", STORE_LOCK_CLASS,
             STORE_LOCK_MIGRATIONS);
    snprintf(unlock, sizeof unlock, "SELECT pg_advisory_unlock(%d, %d)", STORE_LOCK_CLASS,
             STORE_LOCK_MIGRATIONS);
    int rc = store_exec(s, "taking the migration lock", lock, 0, NULL);
    if (rc == MC_OK) {
        rc = migrate_locked(s, schema_dir, m, n, n_applied);
        PGresult *r = PQexec(s->conn, unlock);
        PQclear(r);
    }
    free_migrations(m, n);
    return rc;
}
