/* Migrations against the shared test cluster: applied once, idempotent, in order,
 * each in its own transaction; a changed applied file is refused; two processes
 * migrating at once apply each file once. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_test.h"

static int count_schema_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 8 && e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
            strcmp(e->d_name + len - 4, ".sql") == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void copy_file(const char *from, const char *dir, const char *name)
{
    FILE *in = fopen(from, "r");
    REQUIRE(in != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *out = fopen(path, "w");
    REQUIRE(out != NULL);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
}

/* The real schemas/: everything applied on the first open, nothing on the second. */
static void test_source_schemas(void)
{
    char dsn[512], dir[1024], buf[128], before[128];
    REQUIRE(store_schema_dir(NULL, dir, sizeof dir) == MC_OK);
    int n_files = count_schema_files(dir);
    CHECK(n_files >= 1);
    store_test_create_db("store_migrate_src", dsn, sizeof dsn);
    store *s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    CHECK_INT(s->n_migrations_applied, n_files);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM schema_migrations"), n_files);
    CHECK_STR(store_test_value(s, "SELECT name FROM schema_migrations WHERE version = 1", buf,
                               sizeof buf),
              "001_foundation.sql");
    CHECK_INT(store_test_int(s, "SELECT length(sha256) FROM schema_migrations WHERE version = 1"),
              64);
    store_test_value(s, "SELECT max(applied_at)::text FROM schema_migrations", before,
                     sizeof before);
    store_close(s);

    s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    CHECK_INT(s->n_migrations_applied, 0);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM schema_migrations"), n_files);
    CHECK_STR(store_test_value(s, "SELECT max(applied_at)::text FROM schema_migrations", buf,
                               sizeof buf),
              before);
    store_close(s);
}

/* A private schema dir: order, a failing migration rolled back, a changed file refused. */
static void test_checksum_and_rollback(void)
{
    char dsn[512], src[1024], dir[] = "/tmp/mc-store-schemas-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(store_schema_dir(NULL, src, sizeof src) == MC_OK);
    char from[1200];
    snprintf(from, sizeof from, "%s/001_foundation.sql", src);
    copy_file(from, dir, "001_foundation.sql");
    /* 002 depends on 001 and 003 on 002: they only apply in numeric order. */
    write_text(dir, "002_extra.sql", "CREATE TABLE extra (run_id bigint REFERENCES runs);\n");
    write_text(dir, "003_more.sql", "ALTER TABLE extra ADD COLUMN note text;\n");
    write_text(dir, "README.txt", "not a migration\n");
    store_test_create_db("store_migrate_sum", dsn, sizeof dsn);

    store *s = store_test_open(dsn, dir);
    REQUIRE(s != NULL);
    CHECK_INT(s->n_migrations_applied, 3);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM information_schema.columns "
                                "WHERE table_name = 'extra'"),
              2);
    store_close(s);

    /* A migration that fails half-way leaves nothing of itself behind. */
    write_text(dir, "004_bad.sql", "CREATE TABLE bad_one (x int);\nSELECT 1 / 0;\n");
    store_options opt = {.dsn = dsn, .schema_dir = dir};
    CHECK(store_open(&opt, &s) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "004_bad.sql") != NULL, "message: %s",
              mc_error_message());
    CHECK_MSG(strstr(mc_error_message(), "division by zero") != NULL, "message: %s",
              mc_error_message());
    char path[1200];
    snprintf(path, sizeof path, "%s/004_bad.sql", dir);
    unlink(path);
    s = store_test_open(dsn, dir);
    REQUIRE(s != NULL);
    CHECK_INT(s->n_migrations_applied, 0);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM pg_tables WHERE tablename = 'bad_one'"), 0);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM schema_migrations"), 3);
    store_close(s);

    /* Editing an applied file is refused, naming the file. */
    write_text(dir, "002_extra.sql",
               "CREATE TABLE extra (run_id bigint REFERENCES runs); -- edited\n");
    CHECK(store_open(&opt, &s) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "002_extra.sql") != NULL &&
                  strstr(mc_error_message(), "changed") != NULL,
              "message: %s", mc_error_message());

    /* Two files with the same number are refused. */
    write_text(dir, "002_extra.sql", "CREATE TABLE extra (run_id bigint REFERENCES runs);\n");
    write_text(dir, "002_twin.sql", "SELECT 1;\n");
    CHECK(store_open(&opt, &s) == MC_ERR);
    CHECK_MSG(strstr(mc_error_message(), "same number") != NULL, "message: %s",
              mc_error_message());

    const char *names[] = {"001_foundation.sql", "002_extra.sql", "002_twin.sql", "003_more.sql",
                           "README.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Four processes open a fresh database at once: each migration applied exactly once. */
static void test_concurrent_open(void)
{
    char dsn[512], dir[1024];
    REQUIRE(store_schema_dir(NULL, dir, sizeof dir) == MC_OK);
    int n_files = count_schema_files(dir);
    store_test_create_db("store_migrate_race", dsn, sizeof dsn);
    enum { N = 4 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        REQUIRE(pids[i] >= 0);
        if (pids[i] == 0) {
            store *s = store_test_open(dsn, NULL);
            int applied = s ? s->n_migrations_applied : -1;
            store_close(s);
            _exit(applied < 0 ? 255 : applied);
        }
    }
    int total = 0, ok = 1;
    for (int i = 0; i < N; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 255)
            ok = 0;
        else
            total += WEXITSTATUS(st);
    }
    CHECK(ok);
    CHECK_INT(total, n_files);
    store *s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM schema_migrations"), n_files);
    store_close(s);
}

int main(void)
{
    test_source_schemas();
    test_checksum_and_rollback();
    test_concurrent_open();
    return test_summary();
}
