/* Test harness for mowcheck-registry: the service runs as a real process on
 * loopback (port 0, found from its "listening on" line), the test talks to it
 * with libcurl. Every wait is bounded, so a hung server fails a test instead
 * of hanging the suite. */
#ifndef MOWCHECK_TEST_REGISTRY_HARNESS_H
#define MOWCHECK_TEST_REGISTRY_HARNESS_H

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "test.h"

/* Not every test uses every helper. */
#define HARNESS_FN static __attribute__((unused))

enum { SRV_START_TIMEOUT_MS = 15000, SRV_STOP_TIMEOUT_MS = 10000 };

HARNESS_FN double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

HARNESS_FN void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* A fresh temporary directory (removed by tmpdir_remove). */
HARNESS_FN void tmpdir_make(char out[256], const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, 256, "%s/mowcheck-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(out)) {
        fprintf(stderr, "mkdtemp %s: %s\n", out, strerror(errno));
        exit(1);
    }
}

HARNESS_FN void tmpdir_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Whole file into a malloc'd string ("" if missing). */
HARNESS_FN char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* ---- the service process ---------------------------------------------------- */

typedef struct srv {
    pid_t pid;
    int port;
    int exited, exit_code; /* after srv_stop / srv_wait */
    char dir[256];
    char out_path[300], err_path[300];
    char base[128];        /* http(s)://127.0.0.1:PORT */
} srv;

/* Spawns binary with args (NULL-terminated; --listen 127.0.0.1:0 is added) and
 * stdout/stderr to files. Returns 0 once it listens, -1 if it exited or hung. */
HARNESS_FN int srv_spawn(srv *s, const char *binary, const char *const *args, int tls)
{
    memset(s, 0, sizeof *s);
    tmpdir_make(s->dir, "srv");
    snprintf(s->out_path, sizeof s->out_path, "%s/stdout", s->dir);
    snprintf(s->err_path, sizeof s->err_path, "%s/stderr", s->dir);
    const char *argv[64];
    int n = 0;
    argv[n++] = binary;
    for (int i = 0; args[i] && n < 60; i++)
        argv[n++] = args[i];
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n] = NULL;
    fflush(NULL);
    s->pid = fork();
    if (s->pid == 0) {
        FILE *o = freopen(s->out_path, "w", stdout);
        FILE *e = freopen(s->err_path, "w", stderr);
        if (!o || !e)
            _exit(126);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    double deadline = now_ms() + SRV_START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->exited = 1;
            s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            char *err = slurp(s->err_path);
            fprintf(stderr, "%s exited (%d) before listening:\n%s\n", binary, s->exit_code, err);
            free(err);
            return -1;
        }
        char *out = slurp(s->out_path);
        char *p = strstr(out, "listening on 127.0.0.1:");
        if (p && strchr(p, '\n')) {
            s->port = atoi(p + strlen("listening on 127.0.0.1:"));
            free(out);
            snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", tls ? "https" : "http",
                     s->port);
            return s->port > 0 ? 0 : -1;
        }
        free(out);
        sleep_ms(20);
    }
    fprintf(stderr, "%s did not start listening within %d ms\n", binary, SRV_START_TIMEOUT_MS);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->exited = 1;
    s->exit_code = -1;
    return -1;
}

/* Waits up to timeout_ms for the process to end; 0 if it did. */
HARNESS_FN int srv_wait(srv *s, long timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    while (!s->exited && now_ms() < deadline) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->exited = 1;
            s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return 0;
        }
        sleep_ms(10);
    }
    return s->exited ? 0 : -1;
}

/* SIGTERM, then waits; SIGKILL if it does not stop in time. Returns the exit code
 * (-1 if it had to be killed). The temporary directory stays for srv_log. */
HARNESS_FN int srv_stop(srv *s)
{
    if (!s->exited) {
        kill(s->pid, SIGTERM);
        if (srv_wait(s, SRV_STOP_TIMEOUT_MS) != 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->exited = 1;
            s->exit_code = -1;
        }
    }
    return s->exit_code;
}

HARNESS_FN void srv_cleanup(srv *s)
{
    srv_stop(s);
    tmpdir_remove(s->dir);
}

/* Runs binary with args to completion (bounded); returns the exit code and its stderr. */
HARNESS_FN int run_to_end(const char *binary, const char *const *args, char **err_text)
{
    srv s;
    memset(&s, 0, sizeof s);
    tmpdir_make(s.dir, "run");
    snprintf(s.err_path, sizeof s.err_path, "%s/stderr", s.dir);
    snprintf(s.out_path, sizeof s.out_path, "%s/stdout", s.dir);
    const char *argv[64];
    int n = 0;
    argv[n++] = binary;
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    s.pid = fork();
    if (s.pid == 0) {
        FILE *o = freopen(s.out_path, "w", stdout);
        FILE *e = freopen(s.err_path, "w", stderr);
        if (!o || !e)
            _exit(126);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    if (srv_wait(&s, SRV_START_TIMEOUT_MS) != 0) {
        kill(s.pid, SIGKILL);
        waitpid(s.pid, NULL, 0);
        s.exit_code = -1;
    }
    *err_text = slurp(s.err_path);
    tmpdir_remove(s.dir);
    return s.exit_code;
}

/* ---- HTTP with libcurl ---------------------------------------------------------- */

typedef struct http_resp {
    CURLcode curl_rc;
    long status;
    char *body;
    size_t body_len;
    char *headers;      /* response header block as received */
    char *sent_headers; /* the request line and headers as sent (CURLINFO_HEADER_OUT) */
    double elapsed_ms;
} http_resp;

typedef struct http_opts {
    const char *method;          /* default GET */
    const char *body;            /* request body (POST etc.) */
    long timeout_ms;             /* default 5000 */
    const char *cert, *key, *ca; /* TLS client certificate and server CA */
} http_opts;

HARNESS_FN size_t grow_append(char **buf, size_t *len, const char *data, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return 0;
    memcpy(p + *len, data, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return n;
}

typedef struct sink {
    char *buf;
    size_t len;
} sink;

HARNESS_FN size_t on_data(char *data, size_t size, size_t n, void *user)
{
    sink *k = user;
    return grow_append(&k->buf, &k->len, data, size * n);
}

HARNESS_FN int on_debug(CURL *h, curl_infotype type, char *data, size_t n, void *user)
{
    (void)h;
    if (type == CURLINFO_HEADER_OUT) {
        sink *k = user;
        grow_append(&k->buf, &k->len, data, n);
    }
    return 0;
}

HARNESS_FN void http_free(http_resp *r)
{
    free(r->body);
    free(r->headers);
    free(r->sent_headers);
    memset(r, 0, sizeof *r);
}

/* One request; headers is a NULL-terminated list of "Name: value". */
HARNESS_FN void http_do(http_resp *r, const char *url, const char *const *headers,
                    const http_opts *o)
{
    static const http_opts none = {0};
    if (!o)
        o = &none;
    memset(r, 0, sizeof *r);
    sink body = {0}, head = {0}, sent = {0};
    CURL *h = curl_easy_init();
    struct curl_slist *list = NULL;
    for (int i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &sent);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms ? o->timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    if (o->method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, o->method);
    if (o->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(o->body));
    }
    if (o->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca);
    if (o->cert)
        curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert);
    if (o->key)
        curl_easy_setopt(h, CURLOPT_SSLKEY, o->key);
    double t0 = now_ms();
    r->curl_rc = curl_easy_perform(h);
    r->elapsed_ms = now_ms() - t0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = body.buf ? body.buf : strdup("");
    r->body_len = body.len;
    r->headers = head.buf ? head.buf : strdup("");
    r->sent_headers = sent.buf ? sent.buf : strdup("");
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
}

HARNESS_FN void http_get(http_resp *r, const char *url, const char *const *headers)
{
    http_do(r, url, headers, NULL);
}

/* Value of a header in a header block (first match, case-insensitive name,
 * value trimmed) into out; NULL if absent. */
HARNESS_FN const char *header_in(const char *block, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *line = block; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            const char *ve = line + len;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            snprintf(out, cap, "%.*s", (int)(ve - v), v);
            return out;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

HARNESS_FN const char *resp_header(const http_resp *r, const char *name)
{
    static char value[1024];
    return header_in(r->headers, name, value, sizeof value);
}

/* xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx, lower-case hex. */
HARNESS_FN int is_uuid4(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* ---- the request hash, recomputed from what was sent --------------------------
 * PR-REST 4.3: base64(SHA512(headers)) without a body, else
 * base64(SHA512(SHA512(headers) + SHA512(body))); "headers" written as
 * METHOD CRLF target CRLF, Name:Value CRLF for the headers sent except the
 * filtered ones, then X-Road-Request-Id:<id> CRLF. */

HARNESS_FN int hash_skipped_name(const char *name, size_t n)
{
    static const char *const skip[] = {"connection", "keep-alive", "proxy-authenticate",
                                       "proxy-authorization", "te", "trailer",
                                       "transfer-encoding", "upgrade", "host", "user-agent",
                                       "server", "content-length", "expect",
                                       "x-road-request-id", "x-road-request-hash"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strlen(skip[i]) == n && strncasecmp(name, skip[i], n) == 0)
            return 1;
    return 0;
}

/* The canonical header text from a raw request header block (malloc'd). */
HARNESS_FN char *canonical_request(const char *sent, const char *request_id)
{
    char *out = NULL;
    size_t len = 0;
    const char *end = strstr(sent, "\r\n");
    if (!end)
        return NULL;
    const char *sp1 = memchr(sent, ' ', (size_t)(end - sent));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
    if (!sp2)
        return NULL;
    grow_append(&out, &len, sent, (size_t)(sp1 - sent));
    grow_append(&out, &len, "\r\n", 2);
    grow_append(&out, &len, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    grow_append(&out, &len, "\r\n", 2);
    for (const char *line = end + 2; *line && strncmp(line, "\r\n", 2) != 0;) {
        const char *le = strstr(line, "\r\n");
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!le || !colon)
            break;
        if (!hash_skipped_name(line, (size_t)(colon - line))) {
            const char *v = colon + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            grow_append(&out, &len, line, (size_t)(colon - line) + 1);
            grow_append(&out, &len, v, (size_t)(ve - v));
            grow_append(&out, &len, "\r\n", 2);
        }
        line = le + 2;
    }
    grow_append(&out, &len, "X-Road-Request-Id:", 18);
    grow_append(&out, &len, request_id, strlen(request_id));
    grow_append(&out, &len, "\r\n", 2);
    return out;
}

HARNESS_FN void sha512_base64(const void *data, size_t n, char out[89], unsigned char raw[64])
{
    unsigned int len = 0;
    EVP_Digest(data, n, raw, &len, EVP_sha512(), NULL);
    EVP_EncodeBlock((unsigned char *)out, raw, 64);
}

/* The expected X-Road-Request-Hash of a request (body may be NULL or ""). */
HARNESS_FN void expected_hash(const char *canonical, const char *body, char out[89])
{
    unsigned char head[64], both[128];
    char b64[89];
    sha512_base64(canonical, strlen(canonical), out, head);
    if (body && *body) {
        memcpy(both, head, 64);
        sha512_base64(body, strlen(body), b64, both + 64);
        sha512_base64(both, 128, out, head);
    }
}

#endif
