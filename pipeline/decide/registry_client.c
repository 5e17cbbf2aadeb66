/* The registry client: claims through the exchange layer (X-Road message protocol
 * for REST, r1), with libcurl. One easy handle per registry_fetch_claims call, so
 * the connection (and its TLS session) is reused from batch to batch.
 *
 * Per batch of parcels: up to max_attempts attempts; each attempt is written to
 * the audit log (its own autocommitted INSERT) before anything else happens.
 *
 * What is retried (with exponential backoff):
 *   - timeouts and connection failures;
 *   - exchange-layer errors (X-Road-Error) whose type is not client.*
 *     (server.* / Server.* and anything unknown). A client.* error says our
 *     request is at fault: sending the same bytes again cannot help.
 *   - the registry's own 5xx (no X-Road-Error) once at most; its 4xx never.
 * What fails a batch at once: a malformed answer, a claim that fails validation,
 * TLS verification failures. A failed batch never invents a claim: its parcels
 * go to answer->failed_parcels (decide records `error`, retried next night). */
#include "registry_client.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <uuid/uuid.h>

#include "error.h"
#include "log.h"

enum {
    XROAD_VALUE_MAX = 256,                /* kept bytes of an X-Road response header */
    BODY_MAX_BYTES = 64 * 1024 * 1024,    /* an answer larger than this is refused */
    DEFAULT_MAX_PARCELS = 1000,           /* the bundled service's default limit */
    BACKOFF_MAX_MS = 60000,
    REGISTRY_5XX_MAX_ATTEMPTS = 2,        /* the registry's own 5xx: one retry at most */
    DEFAULT_BREAKER_FAILURES = 8,         /* failed attempts in a row that stop the asking */
    HEADER_VALUE_MAX = 255                /* X-Road-UserId, X-Road-Issue */
};

/* The fields decide uses; nothing else is asked for (data minimisation). */
static const char registry_fields[] =
    "claim_id,parcel_id,season,applicant,scheme,window_start,window_end,min_mowings,"
    "declared_area_ha";

/* What one attempt got back. */
typedef struct exchange {
    char *body;
    size_t body_len;
    int body_too_big;
    char *sent;          /* the request head as sent (for the request hash) */
    size_t sent_len;
    long http_status;
    CURLcode curl_rc;
    char curl_error[CURL_ERROR_SIZE];
    char response_id[XROAD_VALUE_MAX + 1];  /* X-Road-Id of the answer */
    char request_id[XROAD_VALUE_MAX + 1];   /* X-Road-Request-Id */
    char request_hash[XROAD_VALUE_MAX + 1]; /* X-Road-Request-Hash */
    char xroad_error[XROAD_VALUE_MAX + 1];  /* X-Road-Error */
} exchange;

/* How an attempt ended. */
typedef enum { ATTEMPT_OK, ATTEMPT_RETRY, ATTEMPT_FAIL } attempt_verdict;

typedef struct attempt_result {
    attempt_verdict verdict;
    char error_type[XROAD_VALUE_MAX + 1]; /* "" on success */
    char message[1024];
    int max_attempts; /* for this kind of error (the registry's 5xx: 2) */
} attempt_result;

typedef struct session {
    const registry_config *cfg;
    store *s;
    int64_t run_id;
    const char *issue, *purpose;
    int season;
    CURL *curl;
    char *base;          /* base_url without trailing '/' */
    char base_shown[600];/* base for messages: without user and password */
    char *service_path;  /* INSTANCE/CLASS/MEMBER/SUBSYSTEM/claims, each part encoded */
    char *client_id;     /* X-Road-Client value, each part encoded */
    char *url_prefix;    /* base/r1/<service_path>?season=YYYY&fields=... */
    exchange ex;
    registry_answer *answer;
    size_t claims_cap, failed_cap;
    size_t max_parcels;
    int failures_in_a_row;   /* failed attempts since the last good answer */
    int breaker_failures;    /* where the circuit breaker opens */
    char breaker_why[700];   /* why it opened ("" while closed) */
} session;

/* ---- small helpers ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* A header value we send: printable ASCII, 1..HEADER_VALUE_MAX bytes. */
static int header_value_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return n > 0 && n <= HEADER_VALUE_MAX;
}

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* Appends text to a malloc'd string. */
static int str_append(char **buf, size_t *len, const char *text, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return mc_fail("out of memory");
    memcpy(p + *len, text, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return MC_OK;
}

/* A value received from the other side, made safe to store and print: printable
 * ASCII only (anything else becomes '?'), at most cap-1 bytes. */
static void copy_printable(char *out, size_t cap, const char *in, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

/* "A/B/C[/D]" (parts may be percent-encoded already, e.g. a member code with '/'
 * written as %2F) → each part decoded, checked, and encoded again on its own. */
static int id_encode(CURL *curl, const char *text, int min_parts, int max_parts,
                     const char *what, char **out)
{
    char *result = NULL;
    size_t len = 0;
    int n_parts = 0;
    const char *p = text;
    *out = NULL;
    if (!text || !*text)
        return mc_fail("%s is not set (INSTANCE/CLASS/MEMBER/SUBSYSTEM)", what);
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        int dec_len = 0;
        /* (length 0 would make curl take the whole rest of the string) */
        char *part = n ? curl_easy_unescape(curl, p, (int)n, &dec_len) : NULL;
        char *enc = part && dec_len > 0 && strlen(part) == (size_t)dec_len && !has_control(part)
                        ? curl_easy_escape(curl, part, dec_len)
                        : NULL;
        curl_free(part);
        if (!enc) {
            free(result);
            return mc_fail("%s '%s': part %d is empty or holds control characters", what, text,
                           n_parts + 1);
        }
        int rc = (n_parts ? str_append(&result, &len, "/", 1) : MC_OK) ||
                 str_append(&result, &len, enc, strlen(enc));
        curl_free(enc);
        if (rc) {
            free(result);
            return MC_ERR;
        }
        n_parts++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n_parts < min_parts || n_parts > max_parts) {
        free(result);
        return mc_fail("%s '%s': %d parts, expected %s", what, text, n_parts,
                       min_parts == max_parts ? "INSTANCE/CLASS/MEMBER/SUBSYSTEM"
                                              : "INSTANCE/CLASS/MEMBER[/SUBSYSTEM]");
    }
    *out = result;
    return MC_OK;
}

/* The URL as messages, the audit log and decision reasons show it: a user and
 * password in it (https://user:secret@host/) become "***". */
static void url_shown(const char *url, char *out, size_t size)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t host_len = strcspn(auth, "/");
    const char *at = memchr(auth, '@', host_len);
    const char *last_at = at;
    while (last_at && (at = memchr(last_at + 1, '@', host_len - (size_t)(last_at + 1 - auth))))
        last_at = at;
    if (!last_at) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s***%s", (int)(auth - url), url, last_at);
}

/* ---- configuration ------------------------------------------------------------------ */

int registry_check_config(const registry_config *c)
{
    if (!c->base_url || !*c->base_url)
        return mc_fail("registry: no URL configured (registry_url or --registry)");
    char shown[600], escaped[700];
    url_shown(c->base_url, shown, sizeof shown);
    text_escape(shown, escaped, sizeof escaped);
    if (strncmp(c->base_url, "http://", 7) != 0 && strncmp(c->base_url, "https://", 8) != 0)
        return mc_fail("registry URL '%s': expected http:// or https://", escaped);
    if (has_control(c->base_url) || strchr(c->base_url, '?') || strchr(c->base_url, '#'))
        return mc_fail("registry URL '%s': no query, fragment or control characters",
                       escaped);
    if (!c->user_id || !*c->user_id)
        return mc_fail("registry: registry_user_id is not set (X-Road-UserId: every registry "
                       "query names the responsible official)");
    if (!header_value_ok(c->user_id))
        return mc_fail("registry_user_id: expected printable ASCII, at most %d bytes",
                       HEADER_VALUE_MAX);
    if (c->tls_key && *c->tls_key && !(c->tls_cert && *c->tls_cert))
        return mc_fail("registry: a TLS key without a certificate (registry_tls_cert)");
    int has_tls_settings = (c->tls_cert && *c->tls_cert) || (c->tls_ca && *c->tls_ca);
    if (strncmp(c->base_url, "http://", 7) == 0 && has_tls_settings && !c->allow_plain_http)
        return mc_fail("registry URL '%s' is plain http:// but client-certificate settings are "
                       "given (registry_tls_*): the claims would travel in cleartext; use "
                       "https://, or set registry_allow_plain_http = 1 for development", escaped);
    if (c->timeout_ms <= 0 || c->max_attempts < 1 || c->backoff_ms < 0)
        return mc_fail("registry: timeout_ms must be > 0, max_attempts >= 1, backoff_ms >= 0");
    return MC_OK;
}

static int check_request_text(const char *issue, const char *purpose, int season)
{
    if (issue && *issue && !header_value_ok(issue))
        return mc_fail("registry: the issue (X-Road-Issue) must be printable ASCII, at most %d "
                       "bytes", HEADER_VALUE_MAX);
    if (purpose && has_control(purpose))
        return mc_fail("registry: the purpose holds control characters");
    if (season < 1900 || season > 9999)
        return mc_fail("registry: season %d is not a year", season);
    return MC_OK;
}

/* ---- curl callbacks ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    exchange *ex = user;
    size_t bytes = size * n;
    if (ex->body_len + bytes > BODY_MAX_BYTES) {
        ex->body_too_big = 1;
        return 0; /* aborts the transfer */
    }
    char *p = realloc(ex->body, ex->body_len + bytes + 1);
    if (!p)
        return 0;
    memcpy(p + ex->body_len, data, bytes);
    ex->body_len += bytes;
    p[ex->body_len] = '\0';
    ex->body = p;
    return bytes;
}

/* Copies the value of header `name` from a raw header line into out if it matches. */
static void take_header(const char *line, size_t len, const char *name, char *out)
{
    size_t nlen = strlen(name);
    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return;
    const char *v = line + nlen + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    copy_printable(out, XROAD_VALUE_MAX + 1, v, (size_t)(end - v));
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    exchange *ex = user;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response block (after 100 Continue, say): forget the last one's. */
        ex->response_id[0] = ex->request_id[0] = ex->request_hash[0] = ex->xroad_error[0] = 0;
        return len;
    }
    take_header(data, len, "X-Road-Id", ex->response_id);
    take_header(data, len, "X-Road-Request-Id", ex->request_id);
    take_header(data, len, "X-Road-Request-Hash", ex->request_hash);
    take_header(data, len, "X-Road-Error", ex->xroad_error);
    return len;
}

/* Keeps the request head as sent; the rest of curl's verbose output goes nowhere. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t n, void *user)
{
    exchange *ex = user;
    (void)h;
    if (type == CURLINFO_HEADER_OUT && ex->sent_len + n < 1024 * 1024) {
        char *p = realloc(ex->sent, ex->sent_len + n + 1);
        if (p) {
            memcpy(p + ex->sent_len, data, n);
            ex->sent_len += n;
            p[ex->sent_len] = '\0';
            ex->sent = p;
        }
    }
    return 0;
}

/* ---- the request hash ---------------------------------------------------------------------
 * PR-REST 4.3: the answer's X-Road-Request-Hash is base64(SHA-512) of the request as
 * the provider's side received it: METHOD CRLF target CRLF, then Name:Value CRLF
 * for each header sent (in order, values trimmed) except the ones an exchange
 * rewrites, then X-Road-Request-Id:<id> CRLF (no body: we send GET). We recompute
 * it from what curl sent, so the audit log says whether the request arrived as sent.
 * A mismatch is recorded and logged, not fatal: the exact serialisation is the
 * exchange's, and a difference must not stop the night's batch. */
static int hash_skips(const char *name, size_t n)
{
    static const char *const skipped[] = {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "user-agent", "server",
        "content-length", "expect", "x-road-request-id", "x-road-request-hash"};
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        if (strlen(skipped[i]) == n && strncasecmp(name, skipped[i], n) == 0)
            return 1;
    return 0;
}

static int digest_text(EVP_MD_CTX *ctx, const char *s, size_t n)
{
    return EVP_DigestUpdate(ctx, s, n) == 1 ? 0 : -1;
}

/* 1: the hash matches what we sent; -1: it does not; 0: nothing to check. */
static int request_hash_check(const exchange *ex)
{
    if (!ex->sent || !ex->request_hash[0] || !ex->request_id[0])
        return 0;
    const char *line_end = strstr(ex->sent, "\r\n");
    const char *sp1 = line_end ? memchr(ex->sent, ' ', (size_t)(line_end - ex->sent)) : NULL;
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!sp2 || !ctx || EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return 0;
    }
    int bad = digest_text(ctx, ex->sent, (size_t)(sp1 - ex->sent)) ||
              digest_text(ctx, "\r\n", 2) ||
              digest_text(ctx, sp1 + 1, (size_t)(sp2 - sp1 - 1)) || digest_text(ctx, "\r\n", 2);
    for (const char *line = line_end + 2; !bad && strncmp(line, "\r\n", 2) != 0;) {
        const char *end = strstr(line, "\r\n");
        const char *colon = end ? memchr(line, ':', (size_t)(end - line)) : NULL;
        if (!colon)
            break;
        if (!hash_skips(line, (size_t)(colon - line))) {
            const char *v = colon + 1, *ve = end;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            bad = digest_text(ctx, line, (size_t)(colon - line) + 1) ||
                  digest_text(ctx, v, (size_t)(ve - v)) || digest_text(ctx, "\r\n", 2);
        }
        line = end + 2;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    bad = bad || digest_text(ctx, "X-Road-Request-Id:", 18) ||
          digest_text(ctx, ex->request_id, strlen(ex->request_id)) ||
          digest_text(ctx, "\r\n", 2) || EVP_DigestFinal_ex(ctx, md, &md_len) != 1;
    EVP_MD_CTX_free(ctx);
    if (bad)
        return 0;
    char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)b64, md, (int)md_len);
    return strcmp(b64, ex->request_hash) == 0 ? 1 : -1;
}

/* ---- the handle ------------------------------------------------------------------------ */

static int setup_handle(session *ss)
{
    const registry_config *c = ss->cfg;
    CURL *h = ss->curl;
    long connect_ms = c->timeout_ms < 10000 ? c->timeout_ms : 10000;
    int bad = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
              curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
              curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
              /* The security server is the agency's own and is reached directly: a
               * proxy picked up from the environment never sees this traffic. */
              curl_easy_setopt(h, CURLOPT_PROXY, "") ||
              curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) ||
              curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) ||
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) ||
              curl_easy_setopt(h, CURLOPT_WRITEDATA, &ss->ex) ||
              curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) ||
              curl_easy_setopt(h, CURLOPT_HEADERDATA, &ss->ex) ||
              curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ss->ex.curl_error) ||
              curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug) ||
              curl_easy_setopt(h, CURLOPT_DEBUGDATA, &ss->ex) ||
              curl_easy_setopt(h, CURLOPT_VERBOSE, 1L) || /* feeds on_debug only */
              /* TLS verification is always on; there is no setting to turn it off. */
              curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) ||
              curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) ||
              curl_easy_setopt(h, CURLOPT_USERAGENT, "mowcheck/" MOWCHECK_VERSION);
    if (!bad && c->tls_ca && *c->tls_ca)
        bad = curl_easy_setopt(h, CURLOPT_CAINFO, c->tls_ca) != CURLE_OK;
    if (!bad && c->tls_cert && *c->tls_cert)
        bad = curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls_cert) != CURLE_OK;
    if (!bad && c->tls_key && *c->tls_key)
        bad = curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls_key) != CURLE_OK;
    if (bad)
        return mc_fail("registry: this libcurl lacks an option the client needs (TLS, "
                       "protocol restriction)");
    if (strncmp(c->base_url, "http://", 7) == 0 && c->tls_cert && *c->tls_cert)
        log_warn("registry %s: plain HTTP allowed by registry_allow_plain_http: the client "
                 "certificate is not used and the claims travel in cleartext", ss->base_shown);
    return MC_OK;
}

static int session_open(session *ss)
{
    const registry_config *c = ss->cfg;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return mc_fail("libcurl: %s", curl_easy_strerror(curl_init_rc));
    ss->curl = curl_easy_init();
    if (!ss->curl)
        return mc_fail("libcurl: cannot create a handle");
    ss->max_parcels = c->max_parcels ? c->max_parcels : DEFAULT_MAX_PARCELS;
    ss->breaker_failures = c->breaker_failures > 0 ? c->breaker_failures
                                                   : DEFAULT_BREAKER_FAILURES;
    ss->base = strdup(c->base_url);
    if (!ss->base)
        return mc_fail("out of memory");
    size_t n = strlen(ss->base);
    while (n > 0 && ss->base[n - 1] == '/')
        ss->base[--n] = '\0';
    url_shown(ss->base, ss->base_shown, sizeof ss->base_shown);
    char *service_id = NULL;
    if (id_encode(ss->curl, c->service, 4, 4, "registry service", &service_id) ||
        id_encode(ss->curl, c->client, 3, 4, "registry client (X-Road-Client)", &ss->client_id))
        return free(service_id), MC_ERR;
    if (strlen(ss->client_id) > 512)
        return free(service_id), mc_fail("registry client (X-Road-Client) is longer than 512 "
                                         "bytes");
    size_t len = 0;
    int rc = str_append(&ss->service_path, &len, service_id, strlen(service_id)) ||
             str_append(&ss->service_path, &len, "/claims", 7);
    free(service_id);
    if (rc)
        return MC_ERR;
    char season[64];
    snprintf(season, sizeof season, "?season=%d&fields=", ss->season);
    len = 0;
    if (str_append(&ss->url_prefix, &len, ss->base, strlen(ss->base)) ||
        str_append(&ss->url_prefix, &len, "/r1/", 4) ||
        str_append(&ss->url_prefix, &len, ss->service_path, strlen(ss->service_path)) ||
        str_append(&ss->url_prefix, &len, season, strlen(season)) ||
        str_append(&ss->url_prefix, &len, registry_fields, strlen(registry_fields)))
        return MC_ERR;
    return setup_handle(ss);
}

static void session_close(session *ss)
{
    if (ss->curl)
        curl_easy_cleanup(ss->curl);
    free(ss->ex.body);
    free(ss->ex.sent);
    free(ss->base);
    free(ss->service_path);
    free(ss->client_id);
    free(ss->url_prefix);
}

/* ---- the answer ------------------------------------------------------------------------ */

static int answer_fail_parcels(session *ss, const char *const *ids, size_t n, const char *why)
{
    registry_answer *a = ss->answer;
    if (a->n_failed + n > ss->failed_cap) {
        size_t cap = ss->failed_cap ? ss->failed_cap * 2 : 64;
        while (cap < a->n_failed + n)
            cap *= 2;
        char **p = realloc(a->failed_parcels, cap * sizeof *p);
        if (!p)
            return mc_fail("out of memory");
        a->failed_parcels = p;
        ss->failed_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        char *copy = strdup(ids[i]);
        if (!copy)
            return mc_fail("out of memory");
        a->failed_parcels[a->n_failed++] = copy;
    }
    snprintf(a->failure, sizeof a->failure, "%.*s", (int)sizeof a->failure - 1, why);
    return MC_OK;
}

static int answer_add_claims(session *ss, const registry_claim *claims, size_t n)
{
    registry_answer *a = ss->answer;
    if (a->n_claims + n > ss->claims_cap) {
        size_t cap = ss->claims_cap ? ss->claims_cap * 2 : 64;
        while (cap < a->n_claims + n)
            cap *= 2;
        registry_claim *p = realloc(a->claims, cap * sizeof *p);
        if (!p)
            return mc_fail("out of memory");
        a->claims = p;
        ss->claims_cap = cap;
    }
    if (n)
        memcpy(a->claims + a->n_claims, claims, n * sizeof *claims);
    a->n_claims += n;
    return MC_OK;
}

void registry_answer_free(registry_answer *answer)
{
    if (!answer)
        return;
    for (size_t i = 0; i < answer->n_failed; i++)
        free(answer->failed_parcels[i]);
    free(answer->failed_parcels);
    free(answer->claims);
    memset(answer, 0, sizeof *answer);
}

/* ---- validating a claim ------------------------------------------------------------------ */

static int is_date(const char *s)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* A string field into out[cap]: present, a string, no NUL inside, fits. */
static int claim_text(json_t *obj, const char *field, char *out, size_t cap)
{
    json_t *v = json_object_get(obj, field);
    if (!json_is_string(v))
        return mc_fail("field %s is %s", field, v ? "not a string" : "missing");
    size_t n = json_string_length(v);
    const char *text = json_string_value(v);
    if (n == 0 || strlen(text) != n)
        return mc_fail("field %s is empty or holds a NUL character", field);
    if (n >= cap)
        return mc_fail("field %s is longer than %zu bytes", field, cap - 1);
    if (has_control(text)) /* it would reach the feed, notices and the report */
        return mc_fail("field %s holds a control character", field);
    memcpy(out, text, n + 1);
    return MC_OK;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The claim's identity: its id, and its parcel, which must be one asked for.
 * `batch` is sorted. */
static int claim_identity(json_t *obj, const char *const *batch, size_t n_batch,
                          registry_claim *c)
{
    if (!json_is_object(obj))
        return mc_fail("not a JSON object");
    if (claim_text(obj, "parcel_id", c->parcel_id, sizeof c->parcel_id))
        return MC_ERR;
    const char *key = c->parcel_id;
    if (!bsearch(&key, batch, n_batch, sizeof *batch, cmp_str_ptr)) {
        mc_fail("field parcel_id: parcel %s was not asked for", key);
        c->parcel_id[0] = '\0'; /* not ours: the claim cannot be attributed */
        return MC_ERR;
    }
    if (claim_text(obj, "claim_id", c->claim_id, sizeof c->claim_id))
        return MC_ERR;
    const char *bad = text_id_problem(c->claim_id);
    if (bad) {
        c->claim_id[0] = '\0';
        return mc_fail("field claim_id %s", bad);
    }
    return MC_OK;
}

/* The rest of the claim: every field a decision uses, checked. */
static int claim_fields(json_t *obj, int season, registry_claim *c)
{
    if (claim_text(obj, "applicant", c->applicant, sizeof c->applicant) ||
        claim_text(obj, "scheme", c->scheme, sizeof c->scheme) ||
        claim_text(obj, "window_start", c->window_start, sizeof c->window_start) ||
        claim_text(obj, "window_end", c->window_end, sizeof c->window_end))
        return MC_ERR;
    json_t *v = json_object_get(obj, "season");
    if (!json_is_integer(v) || json_integer_value(v) != season)
        return mc_fail("field season is not %d", season);
    c->season = season;
    if (!is_date(c->window_start))
        return mc_fail("field window_start '%s' is not a date (YYYY-MM-DD)", c->window_start);
    if (!is_date(c->window_end))
        return mc_fail("field window_end '%s' is not a date (YYYY-MM-DD)", c->window_end);
    if (strcmp(c->window_end, c->window_start) < 0)
        return mc_fail("field window_end %s is before window_start %s", c->window_end,
                       c->window_start);
    v = json_object_get(obj, "min_mowings");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100))
        return mc_fail("field min_mowings is not a whole number from 1 to 100");
    c->min_mowings = v ? (int)json_integer_value(v) : 1; /* DESIGN.md: default 1 */
    v = json_object_get(obj, "declared_area_ha");
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return mc_fail("field declared_area_ha is %s", v ? "not a number >= 0" : "missing");
    c->declared_area_ha = json_number_value(v);
    return MC_OK;
}

/* How one element of the answer's claims array turned out. */
typedef enum { CLAIM_VALID, CLAIM_INVALID, CLAIM_PARCEL_ONLY, CLAIM_UNKNOWN } claim_kind;

/* One claim of the answer. A claim whose id and parcel are known but whose other
 * fields fail keeps its identity and the reason (CLAIM_INVALID: `error` for it
 * alone); one whose parcel is known but not its id fails that parcel
 * (CLAIM_PARCEL_ONLY); one that names no parcel asked for cannot be attributed
 * (CLAIM_UNKNOWN: the batch fails). The reason is in mc_error_message(). */
static claim_kind claim_parse(json_t *obj, int season, const char *const *batch,
                              size_t n_batch, registry_claim *c)
{
    memset(c, 0, sizeof *c);
    if (claim_identity(obj, batch, n_batch, c))
        return c->parcel_id[0] ? CLAIM_PARCEL_ONLY : CLAIM_UNKNOWN;
    if (claim_fields(obj, season, c) == MC_OK)
        return CLAIM_VALID;
    char shown[MC_ID_MAX * 4 + 8];
    snprintf(c->invalid, sizeof c->invalid, "registry: claim %s: %s",
             text_escape(c->claim_id, shown, sizeof shown), mc_error_message());
    c->season = season;
    c->min_mowings = 1;
    c->window_start[0] = c->window_end[0] = '\0';
    return CLAIM_INVALID;
}

/* The body of a 200 answer → claims (malloc'd, *n), invalid ones with their reason;
 * the parcels of claims without a usable id go to the answer's failed parcels. On
 * failure (not JSON, no claims array, a claim of no parcel asked for): MC_ERR,
 * message naming the request and the field. */
static int answer_parse(session *ss, const char *xroad_id, const char *const *batch,
                        size_t n_batch, registry_claim **out, size_t *n_out)
{
    json_error_t jerr;
    *out = NULL;
    *n_out = 0;
    json_t *root = json_loadb(ss->ex.body ? ss->ex.body : "", ss->ex.body_len,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mc_fail("request %s: the answer is not valid JSON (line %d: %s)", xroad_id,
                       jerr.line, jerr.text);
    json_t *list = json_object_get(root, "claims");
    if (!json_is_array(list)) {
        json_decref(root);
        return mc_fail("request %s: the answer has no \"claims\" array", xroad_id);
    }
    size_t n = json_array_size(list), k = 0;
    registry_claim *claims = calloc(n ? n : 1, sizeof *claims);
    /* parcels of claims without a usable id, failed once the whole answer is read (a
     * batch that fails after all fails its parcels once, not these twice) */
    struct orphan {
        char parcel[MC_ID_MAX + 1];
        char why[512];
    } *orphans = calloc(n ? n : 1, sizeof *orphans);
    size_t n_orphans = 0;
    int rc = claims && orphans ? MC_OK : mc_fail("out of memory");
    for (size_t i = 0; rc == MC_OK && i < n; i++) {
        claim_kind kind = claim_parse(json_array_get(list, i), ss->season, batch, n_batch,
                                      &claims[k]);
        if (kind == CLAIM_UNKNOWN) {
            rc = mc_fail_wrap("request %s: claim %zu", xroad_id, i + 1);
        } else if (kind == CLAIM_PARCEL_ONLY) {
            struct orphan *o = &orphans[n_orphans++];
            snprintf(o->parcel, sizeof o->parcel, "%s", claims[k].parcel_id);
            snprintf(o->why, sizeof o->why, "registry: request %s: claim %zu of parcel %s: %s",
                     xroad_id, i + 1, o->parcel, mc_error_message());
        } else {
            if (kind == CLAIM_INVALID)
                log_warn("%s (request %s; the claim gets error, the rest of the batch is "
                         "decided)", claims[k].invalid, xroad_id);
            k++;
        }
    }
    json_decref(root);
    for (size_t i = 0; rc == MC_OK && i < n_orphans; i++) {
        const char *parcel = orphans[i].parcel;
        log_warn("%s", orphans[i].why);
        rc = answer_fail_parcels(ss, &parcel, 1, orphans[i].why);
    }
    free(orphans);
    if (rc != MC_OK) {
        free(claims);
        return MC_ERR;
    }
    *out = claims;
    *n_out = k;
    return MC_OK;
}

/* ---- one attempt ------------------------------------------------------------------------ */

static void new_uuid4(char out[37])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

static int perform(session *ss, const char *url, const char *xroad_id)
{
    exchange *ex = &ss->ex;
    free(ex->body);
    free(ex->sent);
    memset(ex, 0, sizeof *ex);
    char line[1024];
    struct curl_slist *list = NULL, *next;
#define ADD_HEADER(...)                                                   \
    do {                                                                  \
        snprintf(line, sizeof line, __VA_ARGS__);                         \
        if (!(next = curl_slist_append(list, line)))                      \
            goto oom;                                                     \
        list = next;                                                      \
    } while (0)
    ADD_HEADER("Accept: application/json");
    ADD_HEADER("X-Road-Client: %s", ss->client_id);
    ADD_HEADER("X-Road-Id: %s", xroad_id);
    ADD_HEADER("X-Road-UserId: %s", ss->cfg->user_id);
    if (ss->issue && *ss->issue)
        ADD_HEADER("X-Road-Issue: %s", ss->issue);
#undef ADD_HEADER
    if (curl_easy_setopt(ss->curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(ss->curl, CURLOPT_HTTPHEADER, list) != CURLE_OK) {
        curl_slist_free_all(list);
        return mc_fail("request %s: libcurl refused the URL or headers", xroad_id);
    }
    ex->curl_rc = curl_easy_perform(ss->curl);
    curl_easy_getinfo(ss->curl, CURLINFO_RESPONSE_CODE, &ex->http_status);
    curl_easy_setopt(ss->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    return MC_OK;
oom:
    curl_slist_free_all(list);
    return mc_fail("out of memory");
}

static int is_tls_failure(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
           rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
           rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_ENGINE_NOTFOUND ||
           rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CRL_BADFILE ||
           rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_SSL_CLIENTCERT;
}

/* The "message" of an error body ({"type", "message", "detail"}), if it has one. */
static void error_body_message(const exchange *ex, char *out, size_t cap)
{
    json_t *root = ex->body ? json_loadb(ex->body, ex->body_len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(root, "message"));
    copy_printable(out, cap, m ? m : "", m ? strlen(m) : 0);
    json_decref(root);
}

/* Classifies a transfer that did not end in a usable 200. */
static void classify_failure(const session *ss, const char *xroad_id, attempt_result *r)
{
    const exchange *ex = &ss->ex;
    char detail[300];
    r->max_attempts = ss->cfg->max_attempts;
    if (ex->curl_rc != CURLE_OK) {
        const char *what = ex->curl_error[0] ? ex->curl_error : curl_easy_strerror(ex->curl_rc);
        if (ex->curl_rc == CURLE_OPERATION_TIMEDOUT) {
            snprintf(r->error_type, sizeof r->error_type, "timeout");
            r->verdict = ATTEMPT_RETRY;
        } else if (is_tls_failure(ex->curl_rc)) {
            snprintf(r->error_type, sizeof r->error_type, "tls");
            r->verdict = ATTEMPT_FAIL; /* a certificate does not mend itself in seconds */
        } else if (ex->body_too_big) {
            snprintf(r->error_type, sizeof r->error_type, "malformed");
            what = "the answer is larger than 64 MiB";
            r->verdict = ATTEMPT_FAIL;
        } else {
            snprintf(r->error_type, sizeof r->error_type, "connection");
            r->verdict = ATTEMPT_RETRY;
        }
        snprintf(r->message, sizeof r->message, "request %s to %.200s: %s: %.300s", xroad_id,
                 ss->base_shown, r->error_type, what);
        return;
    }
    error_body_message(ex, detail, sizeof detail);
    if (ex->xroad_error[0]) {
        snprintf(r->error_type, sizeof r->error_type, "%s", ex->xroad_error);
        r->verdict = strncasecmp(ex->xroad_error, "client.", 7) == 0 ? ATTEMPT_FAIL
                                                                      : ATTEMPT_RETRY;
        snprintf(r->message, sizeof r->message, "request %s: exchange error %.100s (HTTP %ld): %.300s",
                 xroad_id, ex->xroad_error, ex->http_status, detail);
        return;
    }
    snprintf(r->error_type, sizeof r->error_type, "registry");
    r->verdict = ex->http_status >= 500 ? ATTEMPT_RETRY : ATTEMPT_FAIL;
    r->max_attempts = r->max_attempts < REGISTRY_5XX_MAX_ATTEMPTS ? r->max_attempts
                                                                   : REGISTRY_5XX_MAX_ATTEMPTS;
    snprintf(r->message, sizeof r->message, "request %s: the registry answered HTTP %ld: %.300s",
             xroad_id, ex->http_status, detail[0] ? detail : "(no message)");
}

/* ---- the audit row ------------------------------------------------------------------------ */

static int audit_attempt(session *ss, int attempt, const char *xroad_id,
                         const char *const *batch, size_t n_batch, const registry_claim *claims,
                         size_t n_claims, const attempt_result *r, double duration_ms)
{
    const exchange *ex = &ss->ex;
    int hash_check = request_hash_check(ex);
    if (hash_check < 0)
        log_warn("registry: request %s: the answer's X-Road-Request-Hash does not match the "
                 "request sent (recorded in the audit log)", xroad_id);
    const char **cols = calloc(3 * (n_claims ? n_claims : 1), sizeof *cols);
    if (!cols)
        return mc_fail("out of memory");
    for (size_t i = 0; i < n_claims; i++) {
        cols[i] = claims[i].claim_id;
        cols[n_claims + i] = claims[i].parcel_id;
        cols[2 * n_claims + i] = claims[i].applicant;
    }
    store_audit_row row = {
        .run_id = ss->run_id,
        .attempt = attempt,
        .client = ss->client_id,
        .service = ss->service_path,
        .user_id = ss->cfg->user_id,
        .issue = ss->issue,
        .purpose = ss->purpose,
        .season = ss->season,
        .parcel_ids = batch,
        .n_parcels = n_batch,
        .claim_ids = cols,
        .claim_parcels = cols + n_claims,
        .applicants = cols + 2 * n_claims,
        .n_claims = n_claims,
        .x_road_id = xroad_id,
        .response_x_road_id = ex->response_id[0] ? ex->response_id : NULL,
        .request_id = ex->request_id[0] ? ex->request_id : NULL,
        .request_hash = ex->request_hash[0] ? ex->request_hash : NULL,
        .request_hash_check = hash_check,
        .http_status = (int)ex->http_status,
        .error_type = r->error_type[0] ? r->error_type : NULL,
        .error_message = r->error_type[0] ? r->message : NULL,
        .duration_ms = (int64_t)llround(duration_ms),
    };
    int rc = store_audit_append(ss->s, &row);
    free(cols);
    if (rc)
        return mc_fail_wrap("request %s: the audit row could not be written, so no further "
                            "registry request is made", xroad_id);
    return MC_OK;
}

/* ---- one batch ----------------------------------------------------------------------------- */

/* The circuit breaker: after breaker_failures failed attempts in a row (whatever
 * the batches), the registry or the exchange is down. Retrying every batch on its
 * own would take the whole night (4 attempts of 10 s each, per batch); instead
 * nothing more is asked: this batch and every later one fail at once (`error`,
 * retried next night), and the night goes on to its end in minutes. */
static int breaker_open(session *ss, const char *const *batch, size_t n_batch,
                        const char *last)
{
    snprintf(ss->breaker_why, sizeof ss->breaker_why,
             "not asked: the last %d registry requests failed in a row (circuit breaker, "
             "setting registry_breaker_failures); the last: %.500s",
             ss->failures_in_a_row, last);
    log_error("registry: %d requests failed in a row: asking no more this run; the parcels "
              "left get error and are asked again next run (last failure: %s)",
              ss->failures_in_a_row, last);
    ss->answer->breaker_open = 1;
    return answer_fail_parcels(ss, batch, n_batch, ss->breaker_why);
}

/* Asks for one batch (sorted ids, URL ready) with retries. MC_ERR only for our own failures. */
static int fetch_batch(session *ss, const char *url, const char *const *batch, size_t n_batch)
{
    const registry_config *c = ss->cfg;
    long backoff_ms = c->backoff_ms;
    for (int attempt = 1;; attempt++) {
        char xroad_id[37];
        attempt_result r = {.verdict = ATTEMPT_OK, .max_attempts = c->max_attempts};
        registry_claim *claims = NULL;
        size_t n_claims = 0;
        new_uuid4(xroad_id);
        double t0 = mono_ms();
        if (perform(ss, url, xroad_id))
            return MC_ERR;
        double duration_ms = mono_ms() - t0;
        const exchange *ex = &ss->ex;
        if (ex->curl_rc == CURLE_OK && ex->http_status == 200 && !ex->xroad_error[0]) {
            if (answer_parse(ss, xroad_id, batch, n_batch, &claims, &n_claims)) {
                r.verdict = ATTEMPT_FAIL;
                snprintf(r.error_type, sizeof r.error_type, "malformed");
                snprintf(r.message, sizeof r.message, "%s", mc_error_message());
            }
        } else {
            classify_failure(ss, xroad_id, &r);
        }
        int rc = audit_attempt(ss, attempt, xroad_id, batch, n_batch, claims, n_claims, &r,
                               duration_ms);
        if (rc == MC_OK && r.verdict == ATTEMPT_OK) {
            log_debug("registry: request %s: %zu parcels, %zu claims, %.0f ms", xroad_id, n_batch,
                      n_claims, duration_ms);
            rc = answer_add_claims(ss, claims, n_claims);
        }
        free(claims);
        if (rc || r.verdict == ATTEMPT_OK) {
            ss->failures_in_a_row = 0;
            return rc;
        }
        if (++ss->failures_in_a_row >= ss->breaker_failures)
            return breaker_open(ss, batch, n_batch, r.message);
        int last = r.verdict == ATTEMPT_FAIL || attempt >= r.max_attempts;
        if (r.verdict == ATTEMPT_FAIL)
            log_warn("registry: %s (attempt %d; not retried, the batch fails)", r.message,
                     attempt);
        else
            log_warn("registry: %s (attempt %d of %d%s)", r.message, attempt, r.max_attempts,
                     last ? ", giving up on this batch" : ", will retry");
        if (last)
            return answer_fail_parcels(ss, batch, n_batch, r.message);
        sleep_ms(backoff_ms);
        backoff_ms = backoff_ms * 2 < BACKOFF_MAX_MS ? backoff_ms * 2 : BACKOFF_MAX_MS;
    }
}

/* ---- batching ----------------------------------------------------------------------------- */

/* The parcel ids once each, sorted (malloc'd array of pointers into the caller's). */
static const char **unique_sorted(const char *const *ids, size_t n, size_t *n_out)
{
    const char **u = malloc((n ? n : 1) * sizeof *u);
    if (!u) {
        mc_fail("out of memory");
        return NULL;
    }
    memcpy(u, ids, n * sizeof *u);
    qsort(u, n, sizeof *u, cmp_str_ptr);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(u[k - 1], u[i]) != 0)
            u[k++] = u[i];
    *n_out = k;
    return u;
}

/* Walks the parcels, filling URLs up to max_url_bytes (and max_parcels), one batch
 * at a time. A parcel id that cannot fit in a URL alone fails on its own. */
static int fetch_all(session *ss, const char **ids, size_t n)
{
    size_t limit = ss->cfg->max_url_bytes;
    size_t prefix_len = strlen(ss->url_prefix);
    const char **batch = malloc((n ? n : 1) * sizeof *batch);
    char *url = NULL;
    size_t url_len = 0, n_batch = 0;
    int rc = batch ? MC_OK : mc_fail("out of memory");
    for (size_t i = 0; rc == MC_OK && i <= n; i++) {
        char *esc = i < n ? curl_easy_escape(ss->curl, ids[i], 0) : NULL;
        if (i < n && !esc) {
            rc = mc_fail("out of memory");
            break;
        }
        size_t add = esc ? strlen("&parcel=") + strlen(esc) : 0;
        int flush = n_batch > 0 && (i == n || url_len + add > limit || n_batch == ss->max_parcels);
        if (flush) {
            rc = ss->breaker_why[0] ? answer_fail_parcels(ss, batch, n_batch, ss->breaker_why)
                                    : fetch_batch(ss, url, batch, n_batch);
            n_batch = 0;
        }
        if (rc == MC_OK && esc && (!*ids[i] || has_control(ids[i]))) {
            /* The service refuses such an id (and with it the whole batch): it fails alone. */
            char why[512];
            snprintf(why, sizeof why, "parcel id '%.100s' is empty or holds control characters; "
                     "not sent", esc);
            log_warn("registry: %s", why);
            rc = answer_fail_parcels(ss, &ids[i], 1, why);
        } else if (rc == MC_OK && esc && prefix_len + add > limit) {
            char why[512];
            snprintf(why, sizeof why, "parcel id '%.100s%s' does not fit in a request URL of at "
                     "most %zu bytes (registry_max_url_bytes)", ids[i],
                     strlen(ids[i]) > 100 ? "..." : "", limit);
            log_warn("registry: %s", why);
            rc = answer_fail_parcels(ss, &ids[i], 1, why);
        } else if (rc == MC_OK && esc) {
            if (n_batch == 0) {
                url_len = 0;
                rc = str_append(&url, &url_len, ss->url_prefix, prefix_len);
            }
            if (rc == MC_OK)
                rc = str_append(&url, &url_len, "&parcel=", 8) ||
                     str_append(&url, &url_len, esc, strlen(esc));
            batch[n_batch++] = ids[i];
        }
        curl_free(esc);
    }
    free(url);
    free(batch);
    return rc;
}

int registry_fetch_claims(const registry_config *cfg, store *s, int64_t run_id,
                          const char *issue, const char *purpose, int season,
                          const char *const *parcel_ids, size_t n_parcels,
                          registry_answer *answer)
{
    memset(answer, 0, sizeof *answer);
    if (!s)
        return mc_fail("registry: no store: every registry request is written to the audit log");
    if (registry_check_config(cfg) || check_request_text(issue, purpose, season))
        return MC_ERR;
    if (n_parcels == 0)
        return MC_OK;
    session ss = {.cfg = cfg, .s = s, .run_id = run_id, .issue = issue, .purpose = purpose,
                  .season = season, .answer = answer};
    size_t n_unique = 0;
    const char **ids = NULL;
    int rc = session_open(&ss);
    if (rc == MC_OK)
        rc = (ids = unique_sorted(parcel_ids, n_parcels, &n_unique)) ? MC_OK : MC_ERR;
    if (rc == MC_OK)
        rc = fetch_all(&ss, ids, n_unique);
    if (rc == MC_OK)
        log_info("registry: %zu parcels asked, %zu claims, %zu parcels failed", n_unique,
                 answer->n_claims, answer->n_failed);
    free(ids);
    session_close(&ss);
    return rc;
}
