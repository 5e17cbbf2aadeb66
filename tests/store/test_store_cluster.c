/* The private cluster: store_open without a DSN into a fresh state directory
 * creates and starts PostgreSQL (as an unprivileged user when we are root), a
 * second store on the same directory joins it, the last store_close stops it,
 * and opening again reuses the data. A socket path that is too long is refused. */
#define _GNU_SOURCE
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgcluster.h"
#include "store_test.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int server_answers(const char *socket_dir)
{
    const char *keys[] = {"host", "port", "dbname", "user", NULL};
    const char *vals[] = {socket_dir, PGCLUSTER_PORT, "postgres", PGCLUSTER_SUPERUSER, NULL};
    return PQpingParams(keys, vals, 0) == PQPING_OK;
}

static store *open_private(const char *state_dir)
{
    store_options opt = {.dsn = NULL, .state_dir = state_dir};
    store *s = NULL;
    if (store_open(&opt, &s) != MC_OK) {
        fprintf(stderr, "store_open(state dir %s): %s\n", state_dir, mc_error_message());
        return NULL;
    }
    return s;
}

static void test_lifecycle(const char *state_dir)
{
    char socket_dir[1024], pid_file[1024];
    snprintf(socket_dir, sizeof socket_dir, "%s/pg/socket", state_dir);
    snprintf(pid_file, sizeof pid_file, "%s/pg/data/postmaster.pid", state_dir);

    store *s = open_private(state_dir);
    REQUIRE(s != NULL);
    REQUIRE(s->cluster != NULL);
    CHECK_INT(s->cluster->started_here, 1);
    CHECK(s->n_migrations_applied >= 1);
    if (geteuid() == 0) {
        /* As root the server runs as an unprivileged user that owns the data. */
        CHECK(s->cluster->run_as[0] != '\0');
        struct stat st;
        CHECK(stat(pid_file, &st) == 0 && st.st_uid != 0);
        struct passwd *pw = getpwnam(s->cluster->run_as);
        CHECK(pw && st.st_uid == pw->pw_uid);
    }
    char buf[64];
    CHECK_STR(store_test_value(s, "SHOW listen_addresses", buf, sizeof buf), "");
    int64_t run_id;
    CHECK(store_run_begin(s, "test", &run_id) == MC_OK);

    /* A second mowcheck on the same state directory joins; its close stops nothing. */
    store *t = open_private(state_dir);
    REQUIRE(t != NULL);
    CHECK_INT(t->cluster->started_here, 0);
    CHECK_INT(t->n_migrations_applied, 0);
    /* ... quietly: each stage of a run closes its store, and "still in use" three
     * times a night said nothing the operator needs */
    char log_path[] = "/tmp/mc-store-cluster-log-XXXXXX";
    int log_fd = mkstemp(log_path);
    REQUIRE(log_fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(log_fd, 2);
    store_close(t);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char said[512] = {0};
    CHECK(pread(log_fd, said, sizeof said - 1, 0) >= 0);
    close(log_fd);
    unlink(log_path);
    CHECK_MSG(strstr(said, "still in use") == NULL, "closing said: %s", said);
    CHECK(server_answers(socket_dir));
    CHECK(store_run_end(s, run_id, "ok", NULL) == MC_OK);

    /* The last one out stops it. */
    store_close(s);
    CHECK(!server_answers(socket_dir));
    CHECK(access(pid_file, F_OK) != 0);

    /* Opening again starts it over the same data. */
    s = open_private(state_dir);
    REQUIRE(s != NULL);
    CHECK_INT(s->cluster->started_here, 1);
    CHECK_INT(s->n_migrations_applied, 0);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE run_id = %lld", (long long)run_id);
    CHECK_STR(store_test_value(s, sql, buf, sizeof buf), "ok");
    store_close(s);
    CHECK(!server_answers(socket_dir));
}

/* Three mowchecks start at once on a fresh state directory: one creates and starts
 * the cluster, the others wait and join; the last to leave stops it. A staging
 * directory left by an initdb that was killed is cleared first. */
static void test_concurrent(const char *state_dir)
{
    char staging[1024], socket_dir[1024];
    snprintf(staging, sizeof staging, "%s/pg/data.initdb", state_dir);
    snprintf(socket_dir, sizeof socket_dir, "%s/pg/socket", state_dir);
    char cmd_dir[1024];
    snprintf(cmd_dir, sizeof cmd_dir, "%s/pg", state_dir);
    REQUIRE(mkdir(state_dir, 0700) == 0 && mkdir(cmd_dir, 0700) == 0 && mkdir(staging, 0700) == 0);
    char junk[1100];
    snprintf(junk, sizeof junk, "%s/PG_VERSION", staging);
    FILE *f = fopen(junk, "w");
    REQUIRE(f != NULL);
    fclose(f);

    enum { N = 3 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        REQUIRE(pids[i] >= 0);
        if (pids[i] == 0) {
            store *s = open_private(state_dir);
            if (!s)
                _exit(1);
            int64_t run_id;
            int ok = store_run_begin(s, "concurrent", &run_id) == MC_OK;
            struct timespec ts = {0, 300000000L * (i + 1)};
            nanosleep(&ts, NULL);
            store_close(s);
            _exit(ok ? 0 : 2);
        }
    }
    int all_ok = 1;
    for (int i = 0; i < N; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(all_ok);
    CHECK(!server_answers(socket_dir));
    CHECK(access(staging, F_OK) != 0);
    store *s = open_private(state_dir);
    REQUIRE(s != NULL);
    CHECK_INT(store_test_int(s, "SELECT count(*) FROM runs WHERE command = 'concurrent'"), N);
    store_close(s);
    CHECK(!server_answers(socket_dir));
}

/* A child opens the private cluster of a fresh state directory; the parent kills it
 * with SIGKILL as soon as `ready` says so. */
static void kill_during_open(const char *state_dir, int (*ready)(const char *state_dir))
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        store *s = open_private(state_dir);
        (void)s;
        pause();
        _exit(0);
    }
    for (int i = 0; i < 60000 && !ready(state_dir); i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
}

static int server_up(const char *state_dir)
{
    char socket_dir[1024];
    snprintf(socket_dir, sizeof socket_dir, "%s/pg/socket", state_dir);
    return server_answers(socket_dir);
}

static int initdb_writing(const char *state_dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pg/data.initdb/base", state_dir);
    return access(path, F_OK) == 0;
}

/* Killed right after the server came up (before pg_ctl start even returned): the
 * next run on the directory joins the server and, the last one out, stops it. */
static void test_killed_after_start(const char *state_dir)
{
    kill_during_open(state_dir, server_up);
    REQUIRE(server_up(state_dir));
    store *s = open_private(state_dir);
    REQUIRE(s != NULL);
    store_close(s);
    CHECK_MSG(!server_up(state_dir), "the server of a killed run is left running for good");
}

/* Killed during the first initdb: initdb dies too, and the next run creates the
 * cluster from scratch. */
static void test_killed_during_initdb(const char *state_dir)
{
    kill_during_open(state_dir, initdb_writing);
    struct timespec ts = {0, 300000000L};
    nanosleep(&ts, NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "pgrep -f 'initd[b] -D %s/pg/data.initdb' >/dev/null", state_dir);
    CHECK_MSG(system(cmd) != 0, "an orphaned initdb still runs");
    store *s = open_private(state_dir);
    CHECK_MSG(s != NULL, "the run after a killed initdb fails");
    if (s)
        store_close(s);
    CHECK(!server_up(state_dir));
}

static void test_socket_path_too_long(const char *base)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", base,
             "a-state-directory-whose-name-is-far-too-long-for-a-unix-socket-path-"
             "because-sun-path-holds-only-108-bytes");
    store_options opt = {.dsn = NULL, .state_dir = dir};
    store *s = NULL;
    CHECK(store_open(&opt, &s) == MC_ERR);
    CHECK(s == NULL);
    CHECK_MSG(strstr(mc_error_message(), "Unix sockets") != NULL &&
                  strstr(mc_error_message(), "--state-dir") != NULL,
              "message: %s", mc_error_message());
}

int main(void)
{
    char bin[PGCLUSTER_PATH_MAX];
    if (pgcluster_find_bin_dir(bin, sizeof bin) != MC_OK)
        TEST_SKIP("%s", mc_error_message());
    char base[] = "/tmp/mc-store-cluster-XXXXXX";
    REQUIRE(mkdtemp(base) != NULL);
    char state_dir[256];
    snprintf(state_dir, sizeof state_dir, "%s/state", base);
    test_lifecycle(state_dir);
    snprintf(state_dir, sizeof state_dir, "%s/state2", base);
    test_concurrent(state_dir);
    snprintf(state_dir, sizeof state_dir, "%s/state3", base);
    test_killed_after_start(state_dir);
    snprintf(state_dir, sizeof state_dir, "%s/state4", base);
    test_killed_during_initdb(state_dir);
    test_socket_path_too_long(base);
    nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
