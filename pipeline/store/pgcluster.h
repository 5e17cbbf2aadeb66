/* A private PostgreSQL cluster in mowcheck's state directory, for a first run
 * that needs no database set-up.
 *
 *   <state_dir>/pg/data          the cluster (initdb; made in data.initdb, then renamed)
 *   <state_dir>/pg/socket/       its Unix socket (no TCP: listen_addresses = '')
 *   <state_dir>/pg/server.log    the server's log
 *   <state_dir>/pg/commands.log  output of initdb and pg_ctl
 *
 * Run as root, initdb and pg_ctl run as the `postgres` system user (or `nobody`),
 * since PostgreSQL refuses to run as root.
 *
 * Several mowcheck processes may share the cluster: each holds a shared lock on
 * pg/users.lock while it uses it, and the last one to leave stops the cluster if
 * a mowcheck started it. Starting and stopping are serialised by pg/ctl.lock. */
#ifndef MOWCHECK_PGCLUSTER_H
#define MOWCHECK_PGCLUSTER_H

#include <sys/types.h>

enum { PGCLUSTER_PATH_MAX = 4096 };

/* The longest Unix socket path the kernel takes (sun_path holds 108 bytes). */
enum { PGCLUSTER_SOCKET_PATH_MAX = 107 };

/* The port only names the socket file (.s.PGSQL.<port>); nothing listens on TCP. */
#define PGCLUSTER_PORT "5432"
#define PGCLUSTER_SUPERUSER "mowcheck"
#define PGCLUSTER_DATABASE "mowcheck"

typedef struct pgcluster {
    char pg_dir[PGCLUSTER_PATH_MAX];     /* <state_dir>/pg, absolute */
    char data_dir[PGCLUSTER_PATH_MAX];
    char socket_dir[PGCLUSTER_PATH_MAX];
    char server_log[PGCLUSTER_PATH_MAX];
    char commands_log[PGCLUSTER_PATH_MAX];
    char bin_dir[PGCLUSTER_PATH_MAX];    /* holds initdb and pg_ctl */
    char run_as[64];                     /* user the server runs as; "" = ourselves */
    uid_t run_uid;
    gid_t run_gid;
    int started_here;                    /* this process started the server */
    int users_fd;                        /* shared lock on users.lock while open; -1 */
} pgcluster;

/* Creates (initdb) and starts the cluster where needed, creates the database
 * PGCLUSTER_DATABASE, and registers this process as a user of the cluster.
 * c is filled in; on failure nothing needs closing. */
int pgcluster_open(pgcluster *c, const char *state_dir);

/* Deregisters this process; stops the server (pg_ctl stop -m fast) if it was the
 * last user and a mowcheck started the server. Returns MC_ERR if stopping failed. */
int pgcluster_close(pgcluster *c);

/* The directory holding initdb and pg_ctl: PATH's pg_ctl where initdb sits
 * beside it, else the highest /usr/lib/postgresql/<version>/bin. */
int pgcluster_find_bin_dir(char *buf, size_t size);

#endif
