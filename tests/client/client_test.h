/* Shared pieces of the registry client tests: a database of its own on the
 * suite's throwaway cluster, the store opened on it, the audit rows read back
 * with plain libpq, and a tiny capture server that records the raw request and
 * answers what the test says (for what the real service never sends: bad claims).
 * The real mowcheck-registry is started with tests/registry/harness.h. */
#ifndef MOWCHECK_TEST_CLIENT_H
#define MOWCHECK_TEST_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "../registry/harness.h"
#include "error.h"
#include "registry_client.h"
#include "store.h"

#include <sys/wait.h>

#define CLIENT_FN static __attribute__((unused))

static char db_dsn[512], db_name[64];

/* Creates database <tag>_<pid> on the suite's cluster; skips without one. */
CLIENT_FN void db_create(const char *tag)
{
    const char *host = getenv("MOWCHECK_TEST_PGHOST");
    if (!host || !*host)
        TEST_SKIP("MOWCHECK_TEST_PGHOST not set (run through ctest)");
    char admin[600];
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=postgres", host);
    snprintf(db_name, sizeof db_name, "%s_%ld", tag, (long)getpid());
    snprintf(db_dsn, sizeof db_dsn, "host=%s dbname=%s user=postgres", host, db_name);
    PGconn *c = PQconnectdb(admin);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db_name);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
    REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

CLIENT_FN void db_drop(void)
{
    char admin[600], sql[200];
    snprintf(admin, sizeof admin, "host=%s dbname=postgres user=postgres",
             getenv("MOWCHECK_TEST_PGHOST"));
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    PGconn *c = PQconnectdb(admin);
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

CLIENT_FN store *db_store(void)
{
    char schemas[600];
    snprintf(schemas, sizeof schemas, "%s/schemas", getenv("MOWCHECK_SOURCE_DIR"));
    store_options o = {.dsn = db_dsn, .schema_dir = schemas};
    store *s = NULL;
    if (store_open(&o, &s) != MC_OK)
        fprintf(stderr, "store_open: %s\n", mc_error_message());
    REQUIRE(s != NULL);
    return s;
}

/* A plain connection for reading the audit log as a test. */
CLIENT_FN PGconn *db_connect(void)
{
    PGconn *c = PQconnectdb(db_dsn);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    return c;
}

/* The result of a query that must succeed (caller PQclear()s). */
CLIENT_FN PGresult *db_rows(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(r));
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    return r;
}

CLIENT_FN long db_count(PGconn *c, const char *sql)
{
    PGresult *r = db_rows(c, sql);
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

CLIENT_FN int has_parcel(const registry_answer *a, const char *parcel)
{
    for (size_t i = 0; i < a->n_failed; i++)
        if (strcmp(a->failed_parcels[i], parcel) == 0)
            return 1;
    return 0;
}

CLIENT_FN const registry_claim *find_claim(const registry_answer *a, const char *claim_id)
{
    const registry_claim *found = NULL;
    int n = 0;
    for (size_t i = 0; i < a->n_claims; i++)
        if (strcmp(a->claims[i].claim_id, claim_id) == 0) {
            found = &a->claims[i];
            n++;
        }
    return n == 1 ? found : NULL;
}

/* Lines of the service's access log (stdout) that name this X-Road-Id. */
CLIENT_FN int srv_log_count_now(const srv *s, const char *needle)
{
    char *log = slurp(s->out_path);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(log);
    return n;
}

/* The service writes a request's access-log line once the response is sent, which
 * can be after the client has read it: wait up to 5 s for `expected` lines. */
CLIENT_FN int srv_log_count(const srv *s, const char *needle, int expected)
{
    int n = srv_log_count_now(s, needle);
    for (int tries = 0; tries < 100 && n < expected; tries++) {
        usleep(50000);
        n = srv_log_count_now(s, needle);
    }
    return n;
}

/* A registry_config with test defaults for the service at base. */
CLIENT_FN registry_config client_config(const char *base)
{
    registry_config c = {
        .base_url = base,
        .service = "EE/GOV/70000000/registry",
        .client = "EE/GOV/70000001/mowcheck",
        .user_id = "EE38001010000",
        .timeout_ms = 5000,
        .max_attempts = 3,
        .backoff_ms = 10,
        .max_url_bytes = 4000,
    };
    return c;
}

/* ---- the capture server ---------------------------------------------------------- */

enum { CAPTURE_MAX = 16 };

typedef struct capture {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    char *requests[CAPTURE_MAX]; /* raw request heads as received */
    int n_requests;
    const char *answer;          /* the full HTTP response to send (status line on) */
    char base[64];
} capture;

CLIENT_FN void *capture_run(void *arg)
{
    capture *cp = arg;
    for (;;) {
        int c = accept(cp->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char *buf = calloc(1, 65536);
        size_t n = 0;
        while (n < 65535 && !strstr(buf, "\r\n\r\n")) {
            ssize_t got = recv(c, buf + n, 65535 - n, 0);
            if (got <= 0)
                break;
            n += (size_t)got;
        }
        pthread_mutex_lock(&cp->lock);
        const char *answer = cp->answer;
        if (cp->n_requests < CAPTURE_MAX)
            cp->requests[cp->n_requests++] = buf;
        else
            free(buf);
        pthread_mutex_unlock(&cp->lock);
        size_t len = strlen(answer), sent = 0;
        while (sent < len) {
            ssize_t k = send(c, answer + sent, len - sent, MSG_NOSIGNAL);
            if (k <= 0)
                break;
            sent += (size_t)k;
        }
        close(c);
    }
}

CLIENT_FN void capture_start(capture *cp)
{
    memset(cp, 0, sizeof *cp);
    pthread_mutex_init(&cp->lock, NULL);
    cp->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    REQUIRE(bind(cp->fd, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(cp->fd, 16) == 0);
    getsockname(cp->fd, (struct sockaddr *)&a, &len);
    cp->port = ntohs(a.sin_port);
    snprintf(cp->base, sizeof cp->base, "http://127.0.0.1:%d", cp->port);
    REQUIRE(pthread_create(&cp->thread, NULL, capture_run, cp) == 0);
}

/* Sets the answer: a 200 with this JSON body (Connection: close). Caller frees the result. */
CLIENT_FN char *capture_json_answer(capture *cp, const char *json)
{
    char *answer = malloc(strlen(json) + 512);
    sprintf(answer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
            "X-Road-Id: echo\r\nX-Road-Request-Id: 11111111-2222-4333-8444-555555555555\r\n"
            "Connection: close\r\n\r\n%s",
            strlen(json), json);
    pthread_mutex_lock(&cp->lock);
    cp->answer = answer;
    pthread_mutex_unlock(&cp->lock);
    return answer;
}

/* Sets a whole HTTP response as the answer (the caller keeps it alive). */
CLIENT_FN void capture_set_answer(capture *cp, const char *answer)
{
    pthread_mutex_lock(&cp->lock);
    cp->answer = answer;
    pthread_mutex_unlock(&cp->lock);
}

CLIENT_FN void capture_reset(capture *cp)
{
    pthread_mutex_lock(&cp->lock);
    for (int i = 0; i < cp->n_requests; i++)
        free(cp->requests[i]);
    cp->n_requests = 0;
    pthread_mutex_unlock(&cp->lock);
}

CLIENT_FN void capture_stop(capture *cp)
{
    shutdown(cp->fd, SHUT_RDWR);
    close(cp->fd);
    pthread_join(cp->thread, NULL);
    capture_reset(cp);
    pthread_mutex_destroy(&cp->lock);
}

/* Runs a shell command; returns its exit code and its stdout+stderr (*output, freed by
 * the caller). */
CLIENT_FN int run_capture(const char *cmd, char **output)
{
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    int st = pclose(p);
    *output = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
