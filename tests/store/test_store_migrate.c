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

/* A schema dir of the source's migrations that pass keep(version). */
static void copy_schemas(const char *dir, int (*keep)(int version))
{
    char src[1024];
    REQUIRE(store_schema_dir(NULL, src, sizeof src) == MC_OK);
    DIR *d = opendir(src);
    REQUIRE(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 8 || e->d_name[0] < '0' || e->d_name[0] > '9' ||
            strcmp(e->d_name + len - 4, ".sql") != 0 || !keep(atoi(e->d_name)))
            continue;
        char from[1400];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        copy_file(from, dir, e->d_name);
    }
    closedir(d);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1400];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int upto_003(int version) { return version <= 3; }
/* what a database made before 004 existed ran: up to 020 without 004 and 005 */
static int before_004(int version) { return version <= 20 && version != 4 && version != 5; }

/* Two tiles, two seasons: 35VLF holds A, B'q and C, 35VLG holds A and B'q; one scene
 * per tile on 2025-07-01, 2026-06-01 and 2026-06-11: 6 scenes, 3 x 3 + 3 x 2 = 15
 * parts, 3 dates x 3 parcels = 9 observations. A 35VLF part: n_total 10, 5 of 8 seen
 * pixels valid at q = 6000; a 35VLG part: n_total 4, 2 of 4 valid at q = 7000. */
static void fill_unpartitioned(store *s)
{
    const char *sql =
        "INSERT INTO parcel_sets (set_hash, source_path, id_field, n_parcels, is_current) "
        "  VALUES ('h1', '/p.gpkg', 'parcel_id', 3, true);"
        "INSERT INTO tiles VALUES ('35VLF', 32635, '{600000,10,0,6500040,0,-10}', 10980, 10980),"
        "  ('35VLG', 32635, '{600000,10,0,6600000,0,-10}', 10980, 10980);"
        "INSERT INTO parcel_tiles VALUES ('h1', '35VLF', 'A', 10), ('h1', '35VLF', 'B''q', 10),"
        "  ('h1', '35VLF', 'C', 10), ('h1', '35VLG', 'A', 4), ('h1', '35VLG', 'B''q', 4);"
        "INSERT INTO scenes (scene_id, tile_id, acquired_on, satellite, reflectance_offset_dn,"
        "  path, set_hash) SELECT 'S2A_' || t || '_' || to_char(d, 'YYYYMMDD') || '_0_L2A', t, d,"
        "  'S2A', -1000, '/scenes', 'h1' FROM unnest(ARRAY['35VLF', '35VLG']) t,"
        "  unnest(ARRAY[date '2025-07-01', '2026-06-01', '2026-06-11']) d;"
        "INSERT INTO observation_parts SELECT s.scene_id, t.parcel_id,"
        "  CASE WHEN s.tile_id = '35VLF' THEN 10 ELSE 4 END,"
        "  CASE WHEN s.tile_id = '35VLF' THEN 5 ELSE 2 END,"
        "  CASE WHEN s.tile_id = '35VLF' THEN 8 ELSE 4 END,"
        "  CASE WHEN s.tile_id = '35VLF' THEN 5 * 6000 ELSE 2 * 7000 END,"
        "  CASE WHEN s.tile_id = '35VLF' THEN 5 * 36000000 ELSE 2 * 49000000 END"
        "  FROM scenes s JOIN parcel_tiles t USING (tile_id);";
    REQUIRE(store_exec(s, "filling the old schema", sql, 0, NULL) == MC_OK);
}

static const char parts_digest_sql[] =
    "SELECT md5(string_agg(concat_ws('|', scene_id, parcel_id, n_total, n_valid, n_seen, sum_q,"
    " sum_q2), E'\\n' ORDER BY scene_id, parcel_id)) FROM observation_parts";
/* The columns of 001's view (023 appends n_moist and ndmi; they have no old value). */
static const char observations_digest_sql[] =
    "SELECT md5(string_agg(row(set_hash, parcel_id, acquired_on, n_valid, n_seen, n_total, sum_q,"
    " sum_q2, n_parts, ndvi, ndvi_std, valid_share)::text, E'\\n' ORDER BY parcel_id, acquired_on))"
    " FROM observations o";

/* What the partitioned table must hold after 004 moved the rows of fill_unpartitioned. */
static void check_moved(store *s, const char *parts_before, const char *obs_before)
{
    char buf[512];
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts"), 15);
    CHECK_STR(store_test_value(s, parts_digest_sql, buf, sizeof buf), parts_before);
    CHECK_STR(store_test_value(s, observations_digest_sql, buf, sizeof buf), obs_before);
    CHECK_STR(store_test_value(s, "SELECT string_agg(relid || ':' || n, ',' ORDER BY relid::text)"
                                  " FROM (SELECT tableoid::regclass::text AS relid, count(*) AS n"
                                  "       FROM observation_parts GROUP BY 1) x",
                               buf, sizeof buf),
              "observation_parts_2025_35vlf:3,observation_parts_2025_35vlg:2,"
              "observation_parts_2026_35vlf:6,observation_parts_2026_35vlg:4");
    /* A on 2026-06-01: 5 + 2 valid of 10 + 4 pixels, q (5 * 6000 + 2 * 7000) / 7 */
    CHECK_STR(store_test_value(s, "SELECT n_valid || ' ' || n_total || ' ' || n_parts || ' ' ||"
                                  " (valid_share = 0.5) || ' ' || (ndvi = 44000 / 70000.0)"
                                  " FROM observations WHERE parcel_id = 'A'"
                                  " AND acquired_on = '2026-06-01'",
                               buf, sizeof buf),
              "7 14 2 true true");
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observations"), 9);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM pg_class "
                                "WHERE relname = 'observation_parts_unpartitioned'"),
              0);
}

/* A new scene after the migration goes to its own (new) partition. */
static void check_ingest_after(store *s)
{
    scene_info sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.scene_id, sizeof sc.scene_id, "S2B_35VLG_20270601_0_L2A");
    snprintf(sc.tile_id, sizeof sc.tile_id, "35VLG");
    snprintf(sc.acquired_on, sizeof sc.acquired_on, "2027-06-01");
    snprintf(sc.satellite, sizeof sc.satellite, "S2B");
    snprintf(sc.path, sizeof sc.path, "/scenes/x");
    store_obs_part p[] = {{"A", 4, {4, 4, 28000, 196000000, 0, 0}}};
    int dup = -1;
    CHECK(store_scene_commit(s, 0, &sc, "h1", p, 1, &dup, NULL) == MC_OK && dup == 0);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts_2027_35vlg"), 1);
    char buf[64];
    /* 28000 / 4 / 10000 = 0.7 over A's 14 pixels */
    CHECK_STR(store_test_value(s, "SELECT (ndvi = 0.7) || ' ' || n_total FROM observations "
                                  "WHERE acquired_on = '2027-06-01'",
                               buf, sizeof buf),
              "true 14");
}

/* A database made with migrations 001-003 and holding data: the rest, 004 first,
 * moves every row into the partitions, and the observations read the same. */
static void test_partition_from_003(void)
{
    char dsn[512], dir[] = "/tmp/mc-store-003-XXXXXX", parts[64], obs[64];
    REQUIRE(mkdtemp(dir) != NULL);
    copy_schemas(dir, upto_003);
    store_test_create_db("store_migrate_003", dsn, sizeof dsn);
    store *s = store_test_open(dsn, dir);
    REQUIRE(s != NULL);
    CHECK_INT(s->n_migrations_applied, 3);
    fill_unpartitioned(s);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM observation_parts"), 15);
    store_test_value(s, parts_digest_sql, parts, sizeof parts);
    store_test_value(s, observations_digest_sql, obs, sizeof obs);
    store_close(s);
    remove_dir(dir);

    s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    CHECK(s->n_migrations_applied >= 5); /* 004, 010, 011, 015, 020, ... */
    check_moved(s, parts, obs);
    check_ingest_after(s);
    store_close(s);
}

/* A database that ran everything but 004 and 005 (made before they existed): they
 * are applied after 020, move the rows and give the roles back what 020 granted
 * them, on the leaves too (ingest copies into a leaf by name). */
static void test_partition_after_020(void)
{
    char dsn[512], dir[] = "/tmp/mc-store-020-XXXXXX", parts[64], obs[64], buf[256];
    REQUIRE(mkdtemp(dir) != NULL);
    copy_schemas(dir, before_004);
    store_test_create_db("store_migrate_020", dsn, sizeof dsn);
    store *s = store_test_open(dsn, dir);
    REQUIRE(s != NULL);
    fill_unpartitioned(s);
    store_test_value(s, parts_digest_sql, parts, sizeof parts);
    store_test_value(s, observations_digest_sql, obs, sizeof obs);
    store_close(s);
    remove_dir(dir);

    s = store_test_open(dsn, NULL);
    REQUIRE(s != NULL);
    /* 004, 005 and what builds on them: 021-023 and any later migration */
    CHECK(s->n_migrations_applied >= 5);
    static const char order[] = "1,2,3,10,11,15,20,4,5,21,22,23";
    CHECK_MSG(strncmp(store_test_value(s, "SELECT string_agg(version::text, ',' ORDER BY "
                                          "applied_at, version) FROM schema_migrations",
                                       buf, sizeof buf),
                      order, strlen(order)) == 0,
              "applied in the order %s, expected %s...", buf, order);
    check_moved(s, parts, obs);
    CHECK_STR(store_test_value(s, "SELECT concat_ws(' ',"
                                  " has_table_privilege('mowcheck_batch', 'observation_parts',"
                                  "                     'INSERT'),"
                                  " has_table_privilege('mowcheck_batch', 'observation_parts',"
                                  "                     'DELETE'),"
                                  " has_table_privilege('mowcheck_batch', 'observations', 'SELECT'),"
                                  " has_table_privilege('mowcheck_inspector', 'observation_parts',"
                                  "                     'SELECT'),"
                                  " has_table_privilege('mowcheck_inspector', 'observations',"
                                  "                     'SELECT'),"
                                  " has_table_privilege('mowcheck_inspector', 'observation_parts',"
                                  "                     'INSERT'))",
                               buf, sizeof buf),
              "t t t t t f");
    CHECK_STR(store_test_value(s, "SELECT string_agg(concat_ws(' ', relid,"
                                  " has_table_privilege('mowcheck_batch', relid, 'INSERT'),"
                                  " has_table_privilege('mowcheck_inspector', relid, 'SELECT'),"
                                  " has_table_privilege('mowcheck_inspector', relid, 'INSERT'),"
                                  " (SELECT count(*) FROM pg_trigger WHERE tgrelid = relid)),"
                                  " ',' ORDER BY relid::text)"
                                  " FROM pg_partition_tree('observation_parts')"
                                  " WHERE isleaf AND relid::text LIKE '%2026%'",
                               buf, sizeof buf),
              "observation_parts_2026_35vlf t t f 2,observation_parts_2026_35vlg t t f 2");
    check_ingest_after(s);
    store_close(s);
}

int main(void)
{
    test_source_schemas();
    test_checksum_and_rollback();
    test_concurrent_open();
    test_partition_from_003();
    test_partition_after_020();
    return test_summary();
}
