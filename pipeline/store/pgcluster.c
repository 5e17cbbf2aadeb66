#define _GNU_SOURCE
#include "pgcluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

enum { LOG_QUOTE_BYTES = 900, MAX_GROUPS = 64 };

/* ---- paths ---- */

static int path_join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return mc_fail("path %s/%s is too long", dir, name);
    return MC_OK;
}

/* mkdir -p */
static int make_dirs(const char *path, mode_t mode)
{
    char buf[PGCLUSTER_PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return mc_fail("path %s is too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return mc_fail("cannot create directory %s: %s", buf, strerror(errno));
        *p = saved;
        if (saved == '\0')
            break;
    }
    return MC_OK;
}

static int is_executable(const char *dir, const char *name)
{
    char path[PGCLUSTER_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return 0;
    return access(path, X_OK) == 0;
}

/* Compares "15" < "16" < "9.6" numerically by leading number, then the rest. */
static int version_less(const char *a, const char *b)
{
    long va = strtol(a, NULL, 10), vb = strtol(b, NULL, 10);
    if (va != vb)
        return va < vb;
    return strcmp(a, b) < 0;
}

int pgcluster_find_bin_dir(char *buf, size_t size)
{
    const char *path_env = getenv("PATH");
    if (path_env) {
        char *copy = strdup(path_env);
        if (!copy)
            return mc_fail("out of memory");
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            if (*dir && is_executable(dir, "pg_ctl") && is_executable(dir, "initdb") &&
                strlen(dir) < size) {
                strcpy(buf, dir);
                free(copy);
                return MC_OK;
            }
        }
        free(copy);
    }
    const char *root = "/usr/lib/postgresql";
    DIR *d = opendir(root);
    char best[256] = "";
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof best - 8)
                continue;
            char bin[PGCLUSTER_PATH_MAX];
            snprintf(bin, sizeof bin, "%s/%s/bin", root, e->d_name);
            if (is_executable(bin, "pg_ctl") && is_executable(bin, "initdb") &&
                (best[0] == '\0' || version_less(best, e->d_name)))
                snprintf(best, sizeof best, "%s", e->d_name);
        }
        closedir(d);
    }
    if (best[0] == '\0')
        return mc_fail("no PostgreSQL server found (pg_ctl and initdb neither on PATH nor in "
                       "%s/<version>/bin); install it (scripts/install-deps) or give --db DSN",
                       root);
    if (snprintf(buf, size, "%s/%s/bin", root, best) >= (int)size)
        return mc_fail("path %s/%s/bin is too long", root, best);
    return MC_OK;
}

/* ---- running as an unprivileged user when we are root ---- */

static int resolve_run_as(pgcluster *c)
{
    c->run_as[0] = '\0';
    if (geteuid() != 0)
        return MC_OK;
    const char *names[] = {"postgres", "nobody"};
    for (size_t i = 0; i < 2; i++) {
        struct passwd *pw = getpwnam(names[i]);
        if (pw && pw->pw_uid != 0) {
            snprintf(c->run_as, sizeof c->run_as, "%s", names[i]);
            c->run_uid = pw->pw_uid;
            c->run_gid = pw->pw_gid;
            return MC_OK;
        }
    }
    return mc_fail("running as root, and PostgreSQL refuses to run as root: no unprivileged "
                   "user 'postgres' or 'nobody' to run the private cluster as; create one or "
                   "give --db DSN");
}

static int chown_to_runner(const pgcluster *c, const char *path)
{
    if (c->run_as[0] == '\0')
        return MC_OK;
    if (chown(path, c->run_uid, c->run_gid) != 0)
        return mc_fail("cannot hand %s to user %s: %s", path, c->run_as, strerror(errno));
    return MC_OK;
}

/* The server's user must be able to reach pg_dir through every parent. */
static int make_parents_traversable(const pgcluster *c)
{
    if (c->run_as[0] == '\0')
        return MC_OK;
    char dir[PGCLUSTER_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", c->pg_dir);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        struct stat st;
        if (stat(dir, &st) != 0)
            return mc_fail("cannot stat %s: %s", dir, strerror(errno));
        int can = (st.st_mode & S_IXOTH) || (st.st_uid == c->run_uid && (st.st_mode & S_IXUSR)) ||
                  (st.st_gid == c->run_gid && (st.st_mode & S_IXGRP));
        if (!can) {
            if (chmod(dir, (st.st_mode & 07777) | S_IXOTH) != 0)
                return mc_fail("user %s cannot reach %s, and making %s traversable (o+x) "
                               "failed: %s", c->run_as, c->pg_dir, dir, strerror(errno));
            log_info("private database: made %s traversable (o+x) so that user %s can reach %s",
                     dir, c->run_as, c->pg_dir);
        }
        if (strcmp(dir, "/") == 0)
            break;
    }
    return MC_OK;
}

/* ---- child processes ---- */

/* Up to LOG_QUOTE_BYTES of the end of what `path` got after `from`. */
static void read_log_tail(const char *path, off_t from, char *buf, size_t size)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        end = 0;
    size_t want = size - 1 < LOG_QUOTE_BYTES ? size - 1 : LOG_QUOTE_BYTES;
    off_t start = end - (off_t)want > from ? end - (off_t)want : from;
    if (start < 0)
        start = 0;
    ssize_t n = pread(fd, buf, (size_t)(end - start) < want ? (size_t)(end - start) : want, start);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Runs argv[0] (a full path) with its output appended to commands.log, as the
 * cluster's user where we are root. Returns MC_OK on exit status 0; otherwise
 * fails with the command's output quoted. *status gets the exit status (or -1). */
/* initdb and pg_ctl die with mowcheck: a mowcheck killed during the first initdb
 * would otherwise leave an initdb writing on into data.initdb while the next run
 * clears that folder and runs its own. (The server that pg_ctl starts is its own
 * process and lives on; the started-by-mowcheck marker says who stops it.) */
static void die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* after setuid, which clears it */
    if (getppid() != parent)
        _exit(125); /* the parent died before the line above */
}

static int run_command(const pgcluster *c, char *const argv[], const char *what, int *status)
{
    *status = -1;
    int log_fd = open(c->commands_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return mc_fail("cannot open %s: %s", c->commands_log, strerror(errno));
    off_t log_start = lseek(log_fd, 0, SEEK_END);
    dprintf(log_fd, "==> %s:", what);
    for (int i = 0; argv[i]; i++)
        dprintf(log_fd, " %s", argv[i]);
    dprintf(log_fd, "\n");

    /* Look up the groups before fork: only async-signal-safe calls in the child. */
    gid_t groups[MAX_GROUPS];
    int n_groups = MAX_GROUPS;
    if (c->run_as[0] && getgrouplist(c->run_as, c->run_gid, groups, &n_groups) < 0)
        n_groups = 0;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        return mc_fail("%s: fork failed: %s", what, strerror(errno));
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        if (c->run_as[0]) {
            if (setgroups((size_t)n_groups, groups) != 0 || setgid(c->run_gid) != 0 ||
                setuid(c->run_uid) != 0) {
                dprintf(2, "cannot switch to user %s: %s\n", c->run_as, strerror(errno));
                _exit(126);
            }
        }
        die_with_parent(parent);
        if (chdir(c->pg_dir) != 0)
            (void)chdir("/");
        execv(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log_fd);
    int wstatus;
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR)
            return mc_fail("%s: waitpid failed: %s", what, strerror(errno));
    }
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        *status = 0;
        return MC_OK;
    }
    *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    char tail[LOG_QUOTE_BYTES + 1];
    read_log_tail(c->commands_log, log_start, tail, sizeof tail);
    if (WIFSIGNALED(wstatus))
        return mc_fail("%s killed by signal %d; output (%s):\n%s", what, WTERMSIG(wstatus),
                       c->commands_log, tail);
    return mc_fail("%s failed (exit status %d); output (%s):\n%s", what, *status,
                   c->commands_log, tail);
}

/* ---- cluster set-up ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Appends the include of mowcheck.conf to postgresql.conf (once, right after initdb). */
static int add_conf_include(const char *data_dir)
{
    char path[PGCLUSTER_PATH_MAX];
    if (path_join(path, sizeof path, data_dir, "postgresql.conf") != MC_OK)
        return MC_ERR;
    FILE *f = fopen(path, "a");
    if (!f)
        return mc_fail("cannot open %s: %s", path, strerror(errno));
    fprintf(f, "\n# mowcheck: socket-only settings, rewritten at every start\n"
               "include_if_exists = 'mowcheck.conf'\n");
    if (fclose(f) != 0)
        return mc_fail("cannot write %s: %s", path, strerror(errno));
    return MC_OK;
}

/* Writes data/mowcheck.conf: Unix socket in socket_dir only. Written at every start
 * so that a moved state directory still works. */
static int write_socket_conf(const pgcluster *c)
{
    char path[PGCLUSTER_PATH_MAX], tmp[PGCLUSTER_PATH_MAX];
    if (path_join(path, sizeof path, c->data_dir, "mowcheck.conf") != MC_OK ||
        path_join(tmp, sizeof tmp, c->data_dir, "mowcheck.conf.tmp") != MC_OK)
        return MC_ERR;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mc_fail("cannot create %s: %s", tmp, strerror(errno));
    fprintf(f, "listen_addresses = ''\nport = %s\nunix_socket_permissions = 0700\n"
               "unix_socket_directories = '",
            PGCLUSTER_PORT);
    for (const char *p = c->socket_dir; *p; p++) { /* a quote in a value is doubled */
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    fprintf(f, "'\n");
    if (fclose(f) != 0)
        return mc_fail("cannot write %s: %s", tmp, strerror(errno));
    if (chown_to_runner(c, tmp) != MC_OK)
        return MC_ERR;
    if (rename(tmp, path) != 0)
        return mc_fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
    return MC_OK;
}

/* initdb into data.initdb, then rename: a killed initdb leaves no half cluster. */
static int create_cluster(pgcluster *c)
{
    char staging[PGCLUSTER_PATH_MAX], initdb[PGCLUSTER_PATH_MAX];
    if (path_join(staging, sizeof staging, c->pg_dir, "data.initdb") != MC_OK ||
        path_join(initdb, sizeof initdb, c->bin_dir, "initdb") != MC_OK)
        return MC_ERR;
    if (access(staging, F_OK) == 0 && nftw(staging, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return mc_fail("cannot remove the leftover %s: %s", staging, strerror(errno));
    log_info("private database: creating a PostgreSQL cluster in %s", c->data_dir);
    if (c->run_as[0])
        log_info("private database: running as root, so the cluster runs as the unprivileged "
                 "user %s", c->run_as);
    char *argv[] = {initdb, "-D", staging, "-U", PGCLUSTER_SUPERUSER, "-A", "trust",
                    "-E", "UTF8", "--locale=C", NULL};
    int status;
    if (run_command(c, argv, "initdb", &status) != MC_OK)
        return mc_fail_wrap("creating the private database in %s", c->pg_dir);
    if (add_conf_include(staging) != MC_OK)
        return MC_ERR;
    if (rename(staging, c->data_dir) != 0)
        return mc_fail("cannot rename %s to %s: %s", staging, c->data_dir, strerror(errno));
    return MC_OK;
}

static int server_answers(const pgcluster *c)
{
    const char *keys[] = {"host", "port", "dbname", "user", "connect_timeout", NULL};
    const char *vals[] = {c->socket_dir, PGCLUSTER_PORT, "postgres", PGCLUSTER_SUPERUSER, "10",
                          NULL};
    return PQpingParams(keys, vals, 0) == PQPING_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int start_server(pgcluster *c)
{
    char pg_ctl[PGCLUSTER_PATH_MAX];
    if (path_join(pg_ctl, sizeof pg_ctl, c->bin_dir, "pg_ctl") != MC_OK)
        return MC_ERR;
    if (write_socket_conf(c) != MC_OK)
        return MC_ERR;
    int fd = open(c->server_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return mc_fail("cannot create %s: %s", c->server_log, strerror(errno));
    close(fd);
    if (chown_to_runner(c, c->server_log) != MC_OK)
        return MC_ERR;
    off_t server_log_start = file_size(c->server_log);
    /* The marker says a mowcheck started this server, so the last user may stop it.
     * It is written before the start: a mowcheck killed just after pg_ctl start
     * returned still leaves a server that the next run stops when it is done. */
    char marker[PGCLUSTER_PATH_MAX];
    if (path_join(marker, sizeof marker, c->pg_dir, "started-by-mowcheck") != MC_OK)
        return MC_ERR;
    fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return mc_fail("cannot create %s: %s", marker, strerror(errno));
    dprintf(fd, "%ld\n", (long)getpid());
    close(fd);
    log_info("private database: starting PostgreSQL (socket %s)", c->socket_dir);
    double t0 = now_s();
    char *argv[] = {pg_ctl, "start", "-D", c->data_dir, "-l", c->server_log, "-w", "-t", "120",
                    NULL};
    int status;
    if (run_command(c, argv, "pg_ctl start", &status) != MC_OK) {
        char tail[LOG_QUOTE_BYTES + 1];
        read_log_tail(c->server_log, server_log_start, tail, sizeof tail);
        if (!server_answers(c))
            unlink(marker);
        return mc_fail_wrap("starting the private database in %s (server log %s:\n%s\n)",
                            c->data_dir, c->server_log, tail);
    }
    c->started_here = 1;
    log_debug("private database: started in %.3f s", now_s() - t0);
    return MC_OK;
}

/* The postmaster's pid from data/postmaster.pid; 0 where there is none. */
static long postmaster_pid(const pgcluster *c)
{
    char path[PGCLUSTER_PATH_MAX];
    if (path_join(path, sizeof path, c->data_dir, "postmaster.pid") != MC_OK)
        return 0;
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f && fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    if (f)
        fclose(f);
    return pid > 0 ? pid : 0;
}

/* Waits until the postmaster `pid` has exited and removed its pid file, polling
 * every 2 ms: pg_ctl stop -w polls every 100 ms, which was half the time a fast
 * shutdown took (docs/performance.md). */
static int wait_for_exit(const pgcluster *c, long pid, double timeout_s)
{
    double until = now_s() + timeout_s;
    for (;;) {
        long now_pid = postmaster_pid(c);
        int alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
        if (now_pid != pid || !alive)
            return MC_OK; /* gone (a pid file left by a crash names a dead pid) */
        if (now_s() > until)
            return mc_fail("the private database in %s did not stop within %.0f s (pid %ld)",
                           c->data_dir, timeout_s, pid);
        usleep(2000);
    }
}

static int stop_server(pgcluster *c)
{
    char pg_ctl[PGCLUSTER_PATH_MAX], marker[PGCLUSTER_PATH_MAX];
    if (path_join(pg_ctl, sizeof pg_ctl, c->bin_dir, "pg_ctl") != MC_OK ||
        path_join(marker, sizeof marker, c->pg_dir, "started-by-mowcheck") != MC_OK)
        return MC_ERR;
    if (access(marker, F_OK) != 0)
        return MC_OK; /* started by someone else: theirs to stop */
    log_info("private database: stopping PostgreSQL in %s", c->data_dir);
    double t0 = now_s();
    long pid = postmaster_pid(c);
    /* Fast shutdown: sessions end, committed work is on disk (WAL) already; the
     * shutdown checkpoint is waited for below, so the store is never left to a
     * half-stopped server. -W: pg_ctl only signals, the wait is ours. */
    char *argv[] = {pg_ctl, "stop", "-D", c->data_dir, "-m", "fast", pid ? "-W" : "-w", "-t",
                    "120", NULL};
    int status;
    if (run_command(c, argv, "pg_ctl stop", &status) != MC_OK ||
        (pid && wait_for_exit(c, pid, 120) != MC_OK))
        return mc_fail_wrap("stopping the private database in %s", c->data_dir);
    unlink(marker);
    log_debug("private database: stopped in %.3f s", now_s() - t0);
    return MC_OK;
}

static int create_database(const pgcluster *c)
{
    const char *keys[] = {"host", "port", "dbname", "user", NULL};
    const char *vals[] = {c->socket_dir, PGCLUSTER_PORT, "postgres", PGCLUSTER_SUPERUSER, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        mc_fail("private database (socket %s): cannot connect: %s", c->socket_dir,
                PQerrorMessage(conn));
        PQfinish(conn);
        return MC_ERR;
    }
    int rc = MC_OK;
    PGresult *r = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '" PGCLUSTER_DATABASE "'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = mc_fail("private database: looking up database %s: %s", PGCLUSTER_DATABASE,
                     PQerrorMessage(conn));
    } else if (PQntuples(r) == 0) {
        PQclear(r);
        log_info("private database: creating database %s", PGCLUSTER_DATABASE);
        r = PQexec(conn, "CREATE DATABASE " PGCLUSTER_DATABASE);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = mc_fail("private database: CREATE DATABASE %s: %s", PGCLUSTER_DATABASE,
                         PQerrorMessage(conn));
    }
    PQclear(r);
    PQfinish(conn);
    return rc;
}

/* ---- locks ---- */

static int open_lock(const pgcluster *c, const char *name, int how, int *fd_out)
{
    char path[PGCLUSTER_PATH_MAX];
    if (path_join(path, sizeof path, c->pg_dir, name) != MC_OK)
        return MC_ERR;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return mc_fail("cannot open %s: %s", path, strerror(errno));
    while (flock(fd, how) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return mc_fail("cannot lock %s: %s", path, strerror(e));
        }
    }
    *fd_out = fd;
    return MC_OK;
}

/* ---- open / close ---- */

static int set_paths(pgcluster *c, const char *state_dir)
{
    memset(c, 0, sizeof *c);
    c->users_fd = -1;
    if (!state_dir || !*state_dir)
        return mc_fail("no database configured (--db or MOWCHECK_DB) and no state directory "
                       "for a private one");
    if (make_dirs(state_dir, 0700) != MC_OK)
        return mc_fail_wrap("state directory");
    char abs_state[PATH_MAX];
    if (!realpath(state_dir, abs_state))
        return mc_fail("state directory %s: %s", state_dir, strerror(errno));
    if (strpbrk(abs_state, "\"\n"))
        return mc_fail("state directory %s: a path with a double quote or newline cannot hold "
                       "the private database", abs_state);
    if (path_join(c->pg_dir, sizeof c->pg_dir, abs_state, "pg") != MC_OK ||
        path_join(c->data_dir, sizeof c->data_dir, c->pg_dir, "data") != MC_OK ||
        path_join(c->socket_dir, sizeof c->socket_dir, c->pg_dir, "socket") != MC_OK ||
        path_join(c->server_log, sizeof c->server_log, c->pg_dir, "server.log") != MC_OK ||
        path_join(c->commands_log, sizeof c->commands_log, c->pg_dir, "commands.log") != MC_OK)
        return MC_ERR;
    size_t socket_len = strlen(c->socket_dir) + strlen("/.s.PGSQL." PGCLUSTER_PORT);
    if (socket_len > PGCLUSTER_SOCKET_PATH_MAX)
        return mc_fail("state directory %s: the private database's socket path %s/.s.PGSQL.%s "
                       "would be %zu bytes, over the %d that Unix sockets allow; use a shorter "
                       "--state-dir",
                       abs_state, c->socket_dir, PGCLUSTER_PORT, socket_len,
                       PGCLUSTER_SOCKET_PATH_MAX);
    return MC_OK;
}

static int prepare_dirs(pgcluster *c)
{
    if (make_dirs(c->pg_dir, 0700) != MC_OK || make_dirs(c->socket_dir, 0700) != MC_OK)
        return MC_ERR;
    if (chown_to_runner(c, c->pg_dir) != MC_OK || chown_to_runner(c, c->socket_dir) != MC_OK)
        return MC_ERR;
    if (access(c->data_dir, F_OK) == 0 && chown_to_runner(c, c->data_dir) != MC_OK)
        return MC_ERR;
    return make_parents_traversable(c);
}

/* With ctl.lock held: initdb if needed, start if not running, create the database. */
static int ensure_running(pgcluster *c)
{
    char version_file[PGCLUSTER_PATH_MAX];
    if (path_join(version_file, sizeof version_file, c->data_dir, "PG_VERSION") != MC_OK)
        return MC_ERR;
    if (access(version_file, F_OK) != 0) {
        if (access(c->data_dir, F_OK) == 0)
            return mc_fail("%s exists but holds no PostgreSQL cluster (no PG_VERSION); move it "
                           "away and run again",
                           c->data_dir);
        if (create_cluster(c) != MC_OK)
            return MC_ERR;
    }
    if (!server_answers(c) && start_server(c) != MC_OK)
        return MC_ERR;
    return create_database(c);
}

int pgcluster_open(pgcluster *c, const char *state_dir)
{
    if (set_paths(c, state_dir) != MC_OK || resolve_run_as(c) != MC_OK ||
        pgcluster_find_bin_dir(c->bin_dir, sizeof c->bin_dir) != MC_OK)
        return MC_ERR;
    if (prepare_dirs(c) != MC_OK)
        return MC_ERR;
    int ctl_fd;
    if (open_lock(c, "ctl.lock", LOCK_EX, &ctl_fd) != MC_OK)
        return MC_ERR;
    int rc = open_lock(c, "users.lock", LOCK_SH, &c->users_fd);
    if (rc == MC_OK && ensure_running(c) != MC_OK) {
        rc = MC_ERR;
        if (c->started_here) { /* leave nothing running that nobody will stop */
            char saved[2048];
            snprintf(saved, sizeof saved, "%s", mc_error_message());
            stop_server(c);
            mc_fail("%s", saved);
        }
        close(c->users_fd);
        c->users_fd = -1;
    }
    close(ctl_fd);
    return rc;
}

int pgcluster_close(pgcluster *c)
{
    if (c->users_fd < 0)
        return MC_OK;
    int rc = MC_OK, ctl_fd;
    if (open_lock(c, "ctl.lock", LOCK_EX, &ctl_fd) != MC_OK) {
        rc = MC_ERR;
    } else {
        /* Exclusive means no other mowcheck uses the cluster now. */
        if (flock(c->users_fd, LOCK_EX | LOCK_NB) == 0)
            rc = stop_server(c);
        else
            log_debug("private database: still in use by another mowcheck, left running");
        close(ctl_fd);
    }
    close(c->users_fd);
    c->users_fd = -1;
    return rc;
}
