/* The HTTP side of mowcheck-registry (libmicrohttpd, one thread per connection
 * so that a held request -- the delay and timeout faults -- holds nobody else).
 *
 * Every request goes: raw URI kept (URI log callback) -> body hashed -> on the
 * last call: X-Road ids, client certificate (mutual TLS), service path,
 * X-Road-Client, provider member, service code -> fault switch -> service. */
#include "registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "error.h"

/* Request line and headers must fit in a connection's memory: 128 KiB leaves room
 * for the default 1000 parcels per request with long ids (curl's and most
 * clients' URL limits are far lower; the client batches). */
enum { BODY_MAX_BYTES = 1 << 20, XROAD_ID_MAX = 256, CONNECTION_MEMORY_BYTES = 128 * 1024 };

struct registry_server {
    struct MHD_Daemon *daemon;
    const registry_config *cfg;
    const registry_claims *claims;
    char *openapi;
    size_t openapi_len;
    char *tls_cert, *tls_key, *tls_ca;
    char member_text[512];       /* INSTANCE/CLASS/MEMBER/SUBSYSTEM, decoded, for messages */
    atomic_long claims_requests; /* counts requests to `claims` for --fault-rate */
    atomic_int stopping;
    pthread_mutex_t log_lock;
    int port;
};

/* One request, from the URI log callback to the completion callback. */
typedef struct request {
    registry_server *srv;
    char *raw_target; /* path and query exactly as received */
    int started;
    registry_hash hash;
    int status;       /* 0 until a response is queued */
    char peer[64];
    char xroad_id[XROAD_ID_MAX + 1];
    char request_id[37];
    char request_hash[89];
    const char *client_header; /* X-Road-Client as received, NULL if absent */
    int client_headers;        /* how many X-Road-Client headers came */
    const char *xroad_id_header;
    char method[16];
} request;

/* ---- small helpers --------------------------------------------------------- */

int registry_fault_parse(const char *name, registry_fault *out)
{
    for (int f = FAULT_DELAY; f <= FAULT_REGISTRY_500; f++) {
        if (strcmp(name, registry_fault_name((registry_fault)f)) == 0) {
            *out = (registry_fault)f;
            return MC_OK;
        }
    }
    return mc_fail("unknown fault \"%s\" (delay, timeout, server-error, access-denied, "
                   "malformed-json, registry-404, registry-500)", name);
}

const char *registry_fault_name(registry_fault f)
{
    static const char *const names[] = {"none", "delay", "timeout", "server-error",
                                        "access-denied", "malformed-json", "registry-404",
                                        "registry-500"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "?";
}

/* Sleeps up to ms, in short steps so that a stop is noticed. 0 if stopped. */
static int hold(registry_server *s, long ms)
{
    struct timespec step = {0, 20 * 1000 * 1000};
    for (long waited = 0; waited < ms; waited += 20) {
        if (atomic_load(&s->stopping))
            return 0;
        nanosleep(&step, NULL);
    }
    return !atomic_load(&s->stopping);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        mc_fail("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                mc_fail("%s: out of memory", path);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        mc_fail("%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* ---- responses ---------------------------------------------------------------- */

static enum MHD_Result send_body(request *r, struct MHD_Connection *conn, int status,
                                 char *body, const char *content_type, const char *xroad_error,
                                 const char *service_text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Road-Id", r->xroad_id);
    MHD_add_response_header(resp, "X-Road-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Road-Request-Hash", r->request_hash);
    if (r->client_header && r->client_headers == 1) {
        size_t n = 0;
        const char *v = registry_trim(r->client_header, &n);
        char echo[1024];
        snprintf(echo, sizeof echo, "%.*s", (int)(n < sizeof echo ? n : sizeof echo - 1), v);
        MHD_add_response_header(resp, "X-Road-Client", echo);
    }
    if (service_text)
        MHD_add_response_header(resp, "X-Road-Service", service_text);
    if (xroad_error)
        MHD_add_response_header(resp, "X-Road-Error", xroad_error);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, "Allow", "GET");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    return ok;
}

static enum MHD_Result send_json(request *r, struct MHD_Connection *conn, int status,
                                 json_t *body, const char *xroad_error, const char *service)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    return send_body(r, conn, status, text, "application/json;charset=utf-8", xroad_error,
                     service);
}

/* An error of the exchange layer itself: X-Road-Error header plus the body
 * {"type", "message", "detail"} of PR-REST 4.6 (detail: this request's id). */
static enum MHD_Result xroad_error(request *r, struct MHD_Connection *conn, int status,
                                   const char *type, const char *service, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static enum MHD_Result xroad_error(request *r, struct MHD_Connection *conn, int status,
                                   const char *type, const char *service, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:s, s:s, s:s}", "type", type, "message", message, "detail",
                             r->request_id);
    if (!body) /* a message that is not UTF-8 (decoded from the request) */
        body = json_pack("{s:s, s:s, s:s}", "type", type, "message", "(message not UTF-8)",
                         "detail", r->request_id);
    return send_json(r, conn, status, body, type, service);
}

/* The registry's own error (no X-Road-Error): the provider answered. */
static enum MHD_Result registry_error(request *r, struct MHD_Connection *conn, int status,
                                      const char *service, const char *message)
{
    const char *reason = MHD_get_reason_phrase_for((unsigned)status);
    json_t *body = json_pack("{s:i, s:s, s:s}", "status", status, "error", reason, "message",
                             message);
    if (!body)
        body = json_pack("{s:i, s:s, s:s}", "status", status, "error", reason, "message",
                         "(message not UTF-8)");
    return send_json(r, conn, status, body, NULL, service);
}

/* ---- query strings ------------------------------------------------------------- */

typedef struct query_param {
    char *name, *value;
} query_param;

typedef struct query {
    query_param *p;
    size_t n;
} query;

static void query_free(query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].name);
        free(q->p[i].value);
    }
    free(q->p);
}

/* Splits and decodes "a=1&b=2"; MC_ERR with a message if a part is malformed. */
static int query_parse(const char *raw, query *q)
{
    memset(q, 0, sizeof *q);
    if (!raw || !*raw)
        return MC_OK;
    size_t parts = 1;
    for (const char *p = raw; *p; p++)
        parts += *p == '&';
    q->p = calloc(parts, sizeof *q->p);
    if (!q->p)
        return mc_fail("out of memory");
    const char *p = raw;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            query_param *qp = &q->p[q->n++];
            qp->name = registry_query_decode(p, nlen);
            qp->value = eq ? registry_query_decode(eq + 1, len - nlen - 1) : strdup("");
            if (!qp->name || !qp->value)
                return mc_fail("query parameter %zu is not valid percent-encoded text", q->n);
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return MC_OK;
}

static size_t query_count(const query *q, const char *name, const char **last)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->p[i].name, name) == 0) {
            n++;
            if (last)
                *last = q->p[i].value;
        }
    }
    return n;
}

/* ---- services ------------------------------------------------------------------- */

static json_t *service_list(const registry_server *s)
{
    const registry_id *m = &s->cfg->member;
    return json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}]}", "service",
                     "object_type", "SERVICE", "xroad_instance", m->part[0], "member_class",
                     m->part[1], "member_code", m->part[2], "subsystem_code", m->part[3],
                     "service_code", "claims", "service_type", "OPENAPI", "endpoint_list",
                     "method", "GET", "path", "/");
}

/* fields=claim_id,parcel_id,... (comma lists, may repeat); all fields without it. */
static int parse_fields(const query *q, unsigned *fields)
{
    *fields = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->p[i].name, "fields") != 0)
            continue;
        char *list = q->p[i].value, *save = NULL;
        char *copy = strdup(list);
        if (!copy)
            return mc_fail("out of memory");
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int f = 0;
            while (f < REGISTRY_FIELD_COUNT && strcmp(t, registry_field_names[f]) != 0)
                f++;
            if (f == REGISTRY_FIELD_COUNT) {
                mc_fail("unknown field \"%s\" in fields", t);
                free(copy);
                return MC_ERR;
            }
            *fields |= 1u << f;
        }
        free(copy);
    }
    if (*fields == 0)
        *fields = REGISTRY_FIELDS_ALL;
    return MC_OK;
}

/* Checks the claims request; on success *season and *fields are set. */
static int claims_params(const registry_server *s, const query *q, long *season,
                         unsigned *fields)
{
    const char *season_text = NULL;
    size_t n_season = query_count(q, "season", &season_text);
    size_t n_parcels = query_count(q, "parcel", NULL);
    if (n_season == 0)
        return mc_fail("parameter season is required");
    if (n_season > 1)
        return mc_fail("parameter season given %zu times, expected once", n_season);
    if (registry_parse_int(season_text, 1900, 9999, season))
        return mc_fail_wrap("parameter season");
    if (n_parcels == 0)
        return mc_fail("at least one parameter parcel is required (the registry is never "
                       "listed whole)");
    if ((long)n_parcels > s->cfg->max_parcels)
        return mc_fail("%zu parcels in one request, at most %ld", n_parcels,
                       s->cfg->max_parcels);
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->p[i].name, "parcel") == 0 && q->p[i].value[0] == '\0')
            return mc_fail("parameter parcel is empty");
    return parse_fields(q, fields);
}

static int seen_before(const query *q, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(q->p[j].name, "parcel") == 0 && strcmp(q->p[j].value, q->p[i].value) == 0)
            return 1;
    return 0;
}

/* {"claims": [...]} in the order the parcels were asked; parcels without a claim absent. */
static json_t *claims_answer(const registry_server *s, const query *q, int season,
                             unsigned fields)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < q->n; i++) {
        if (strcmp(q->p[i].name, "parcel") != 0 || seen_before(q, i))
            continue;
        const registry_claim *first = NULL;
        size_t n = registry_claims_find(s->claims, q->p[i].value, season, &first);
        for (size_t k = 0; k < n; k++)
            json_array_append_new(list, registry_claim_json(&first[k], fields));
    }
    return list ? json_pack("{s:o}", "claims", list) : NULL;
}

static enum MHD_Result service_claims(request *r, struct MHD_Connection *conn,
                                      const char *service, const char *subpath,
                                      const char *raw_query)
{
    registry_server *s = r->srv;
    if (strcmp(r->method, "GET") != 0)
        return registry_error(r, conn, MHD_HTTP_METHOD_NOT_ALLOWED, service,
                              "the claims service answers GET only");
    if (*subpath && strcmp(subpath, "/") != 0)
        return registry_error(r, conn, MHD_HTTP_NOT_FOUND, service,
                              "no such resource under claims");
    query q;
    long season = 0;
    unsigned fields = 0;
    if (query_parse(raw_query, &q) || claims_params(s, &q, &season, &fields)) {
        query_free(&q);
        return registry_error(r, conn, MHD_HTTP_BAD_REQUEST, service, mc_error_message());
    }
    json_t *body = claims_answer(s, &q, (int)season, fields);
    query_free(&q);
    if (!body)
        return registry_error(r, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, service,
                              "out of memory");
    return send_json(r, conn, MHD_HTTP_OK, body, NULL, service);
}

static enum MHD_Result service_openapi(request *r, struct MHD_Connection *conn,
                                       const char *service, const char *raw_query)
{
    registry_server *s = r->srv;
    query q;
    const char *code = NULL;
    if (query_parse(raw_query, &q)) {
        query_free(&q);
        return xroad_error(r, conn, 400, "Client.BadRequest", service, "%s",
                           mc_error_message());
    }
    size_t n = query_count(&q, "serviceCode", &code);
    enum MHD_Result ok;
    if (n != 1) {
        ok = xroad_error(r, conn, 400, "Client.BadRequest", service,
                         "getOpenAPI needs exactly one parameter serviceCode");
    } else if (strcmp(code, "claims") != 0) {
        ok = xroad_error(r, conn, 400, "Client.UnknownService", service,
                         "Unknown service SERVICE:%s/%s", s->member_text, code);
    } else {
        char *body = malloc(s->openapi_len + 1);
        if (!body) {
            ok = MHD_NO;
        } else {
            memcpy(body, s->openapi, s->openapi_len + 1);
            ok = send_body(r, conn, 200, body, "application/json;charset=utf-8", NULL, service);
        }
    }
    query_free(&q);
    return ok;
}

/* Answers the fault switch for this request; 0 if the request goes on normally. */
static int fault_applies(registry_server *s)
{
    if (s->cfg->fault == FAULT_NONE)
        return 0;
    long n = atomic_fetch_add(&s->claims_requests, 1) + 1;
    return n % s->cfg->fault_rate == 0;
}

static enum MHD_Result answer_fault(request *r, struct MHD_Connection *conn, const char *service,
                                    int *handled)
{
    registry_server *s = r->srv;
    *handled = 1;
    switch (s->cfg->fault) {
    case FAULT_DELAY:
        if (!hold(s, s->cfg->delay_ms))
            return MHD_NO;
        *handled = 0;
        return MHD_YES;
    case FAULT_TIMEOUT:
        hold(s, s->cfg->delay_ms);
        return MHD_NO; /* close without an answer */
    case FAULT_SERVER_ERROR:
        return xroad_error(r, conn, 500, "Server.ServerProxy.InternalError", service,
                           "Internal error of the provider's security server (injected fault)");
    case FAULT_ACCESS_DENIED:
        return xroad_error(r, conn, 500, "Server.ServerProxy.AccessDenied", service,
                           "Request is not allowed: SERVICE:%s/claims (injected fault)",
                           s->member_text);
    case FAULT_MALFORMED_JSON: {
        char *body = strdup("{\"claims\": [{\"claim_id\": \"C-");
        return body ? send_body(r, conn, 200, body, "application/json;charset=utf-8", NULL,
                                service)
                    : MHD_NO;
    }
    case FAULT_REGISTRY_404:
        return registry_error(r, conn, 404, service, "no such resource (injected fault)");
    case FAULT_REGISTRY_500:
        return registry_error(r, conn, 500, service,
                              "the registry failed to answer (injected fault)");
    case FAULT_NONE:
        break;
    }
    *handled = 0;
    return MHD_YES;
}

/* ---- the protocol checks ---------------------------------------------------------- */

static int member_matches(const registry_id *want, const registry_id *got)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(want->part[i], got->part[i]) != 0)
            return 0;
    return 1;
}

/* Splits "/r1/I/C/M/S/SERVICE[/rest]" into the service id (decoded) and the rest. */
static int parse_service_path(const char *path, registry_id *service, const char **rest,
                              size_t *id_len)
{
    if (strncmp(path, "/r", 2) != 0 || path[2] < '0' || path[2] > '9' || path[3] != '/')
        return mc_fail("the path does not start with /r1/ (X-Road message protocol for REST)");
    if (path[2] != '1')
        return mc_fail("unsupported protocol version r%c", path[2]);
    const char *id = path + 4, *p = id;
    for (int slashes = 0; *p && !(*p == '/' && ++slashes == 5); p++)
        ;
    *rest = p;
    *id_len = (size_t)(p - id);
    if (registry_id_parse(id, *id_len, 5, 5, service))
        return mc_fail_wrap("service identifier INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE");
    return MC_OK;
}

static int check_xroad_id(request *r)
{
    size_t n = 0;
    const char *h = r->xroad_id_header ? registry_trim(r->xroad_id_header, &n) : NULL;
    if (!h) {
        registry_uuid4(r->xroad_id);
        return MC_OK;
    }
    int bad = n == 0 || n > XROAD_ID_MAX;
    for (size_t i = 0; i < n && !bad; i++)
        bad = h[i] <= 0x20 || h[i] >= 0x7f;
    if (bad) {
        registry_uuid4(r->xroad_id);
        return mc_fail("malformed X-Road-Id header (1..%d printable ASCII characters)",
                       XROAD_ID_MAX);
    }
    memcpy(r->xroad_id, h, n);
    r->xroad_id[n] = '\0';
    return MC_OK;
}

/* Mutual TLS: libmicrohttpd asks for a client certificate; we insist on one that
 * verifies against --client-ca. */
static int check_client_certificate(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return mc_fail("no TLS session");
    gnutls_session_t tls = (gnutls_session_t)ci->tls_session;
    unsigned int n_peers = 0, status = 0;
    if (gnutls_certificate_type_get(tls) != GNUTLS_CRT_X509 ||
        !gnutls_certificate_get_peers(tls, &n_peers) || n_peers == 0)
        return mc_fail("the client did not supply a TLS certificate");
    int rc = gnutls_certificate_verify_peers2(tls, &status);
    if (rc != GNUTLS_E_SUCCESS)
        return mc_fail("client certificate not verified: %s", gnutls_strerror(rc));
    if (status != 0) {
        gnutls_datum_t why = {NULL, 0};
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
        mc_fail("client certificate not trusted: %s", why.data ? (char *)why.data : "?");
        gnutls_free(why.data);
        return MC_ERR;
    }
    return MC_OK;
}

static enum MHD_Result dispatch(request *r, struct MHD_Connection *conn, const char *path,
                                const char *raw_query)
{
    registry_server *s = r->srv;
    registry_id service, client;
    const char *rest = NULL;
    size_t id_len = 0, client_len = 0;
    if (parse_service_path(path, &service, &rest, &id_len))
        return xroad_error(r, conn, 400, "Client.BadRequest", NULL, "%s", mc_error_message());
    char service_text[1024];
    snprintf(service_text, sizeof service_text, "%.*s", (int)id_len, path + 4);
    const char *client_text = registry_trim(r->client_header, &client_len);
    enum MHD_Result ok;
    if (r->client_headers == 0) {
        ok = xroad_error(r, conn, 400, "Client.BadRequest", service_text,
                         "Missing X-Road-Client header");
    } else if (r->client_headers > 1) {
        ok = xroad_error(r, conn, 400, "Client.BadRequest", service_text,
                         "X-Road-Client header given %d times", r->client_headers);
    } else if (registry_id_parse(client_text, client_len, 3, 4, &client)) {
        ok = xroad_error(r, conn, 400, "Client.BadRequest", service_text,
                         "Malformed X-Road-Client header (INSTANCE/CLASS/MEMBER[/SUBSYSTEM]): %s",
                         mc_error_message());
    } else {
        registry_id_free(&client);
        const char *code = service.part[4];
        int handled = 0;
        if (!member_matches(&s->cfg->member, &service)) {
            ok = xroad_error(r, conn, 400, "Client.UnknownMember", service_text,
                             "Unknown service provider SUBSYSTEM:%s/%s/%s/%s (this server "
                             "provides SUBSYSTEM:%s)", service.part[0], service.part[1],
                             service.part[2], service.part[3], s->member_text);
        } else if (strcmp(code, "claims") == 0) {
            ok = fault_applies(s) ? answer_fault(r, conn, service_text, &handled) : MHD_YES;
            if (!handled && ok == MHD_YES)
                ok = service_claims(r, conn, service_text, rest, raw_query);
        } else if ((strcmp(code, "listMethods") == 0 || strcmp(code, "allowedMethods") == 0) &&
                   !*rest) {
            ok = send_json(r, conn, 200, service_list(s), NULL, service_text);
        } else if (strcmp(code, "getOpenAPI") == 0 && !*rest) {
            ok = service_openapi(r, conn, service_text, raw_query);
        } else {
            ok = xroad_error(r, conn, 400, "Client.UnknownService", service_text,
                             "Unknown service SERVICE:%s/%s%s", s->member_text, code, rest);
        }
    }
    registry_id_free(&service);
    return ok;
}

/* ---- libmicrohttpd callbacks -------------------------------------------------------- */

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                 const char *value)
{
    request *r = cls;
    (void)kind;
    if (strcasecmp(name, "X-Road-Client") == 0) {
        r->client_headers++;
        r->client_header = value;
    } else if (strcasecmp(name, "X-Road-Id") == 0 && !r->xroad_id_header) {
        r->xroad_id_header = value;
    }
    registry_hash_header(&r->hash, name, value);
    return MHD_YES;
}


static void note_peer(request *r, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(r->peer, sizeof r->peer, "-");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->peer, sizeof r->peer);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->peer,
                  sizeof r->peer);
}

/* Called once per request as soon as the request line is read. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = cls;
    r->raw_target = strdup(uri);
    note_peer(r, conn);
    return r;
}

static enum MHD_Result finish(request *r, struct MHD_Connection *conn)
{
    registry_server *s = r->srv;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, on_header, r);
    registry_uuid4(r->request_id);
    if (registry_hash_end(&r->hash, r->request_id, r->request_hash))
        return MHD_NO;
    int bad_id = check_xroad_id(r);
    if (s->cfg->tls_cert && check_client_certificate(conn))
        return xroad_error(r, conn, 500, "Server.ClientProxy.SslAuthenticationFailed", NULL,
                           "Client certificate required: %s", mc_error_message());
    if (bad_id)
        return xroad_error(r, conn, 400, "Client.BadRequest", NULL, "%s", mc_error_message());
    if (r->hash.body_bytes > BODY_MAX_BYTES)
        return registry_error(r, conn, 413, NULL,
                              "request body larger than 1 MiB");
    char *target = strdup(r->raw_target);
    if (!target)
        return MHD_NO;
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    enum MHD_Result ok = dispatch(r, conn, target, q);
    free(target);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    request *r = *con_cls;
    (void)cls, (void)url, (void)version;
    if (!r || !r->raw_target)
        return MHD_NO;
    if (!r->started) {
        r->started = 1;
        snprintf(r->method, sizeof r->method, "%s", method);
        if (registry_hash_begin(&r->hash, method, r->raw_target))
            return MHD_NO;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* Past the limit the body is still read, but no longer hashed (it is refused). */
        if (r->hash.body_bytes <= BODY_MAX_BYTES)
            registry_hash_body(&r->hash, upload_data, *upload_data_size);
        else
            r->hash.body_bytes += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(r, conn);
}

/* The access log: time, peer, client, X-Road-Id, method, target, status; one line each. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    registry_server *s = cls;
    request *r = *con_cls;
    (void)conn, (void)toe;
    if (!r)
        return;
    char when[32], client[300], id[300], target[2048], method[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    registry_log_field(client, sizeof client, r->client_headers ? r->client_header : NULL);
    registry_log_field(id, sizeof id, r->xroad_id);
    registry_log_field(target, sizeof target, r->raw_target);
    registry_log_field(method, sizeof method, r->method);
    pthread_mutex_lock(&s->log_lock);
    if (r->status)
        printf("%s %s %s %s %s %s %d\n", when, r->peer[0] ? r->peer : "-", client, id, method,
               target, r->status);
    else
        printf("%s %s %s %s %s %s -\n", when, r->peer[0] ? r->peer : "-", client, id, method,
               target);
    fflush(stdout);
    pthread_mutex_unlock(&s->log_lock);
    registry_hash_free(&r->hash);
    free(r->raw_target);
    free(r);
    *con_cls = NULL;
}

/* Identifier parts keep their percent-encoding until we split the path ourselves:
 * "%2F" inside a member code must not become a path separator. */
static size_t keep_escaped(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("mowcheck-registry: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- start and stop ------------------------------------------------------------------ */

static int load_tls(registry_server *s)
{
    const registry_config *c = s->cfg;
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return mc_fail("this libmicrohttpd was built without TLS; --tls-cert cannot be used");
    s->tls_cert = read_file(c->tls_cert, NULL);
    s->tls_key = s->tls_cert ? read_file(c->tls_key, NULL) : NULL;
    s->tls_ca = s->tls_key ? read_file(c->client_ca, NULL) : NULL;
    return s->tls_ca ? MC_OK : MC_ERR;
}

static int bind_address(const registry_config *c, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, c->listen_host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)c->listen_port);
        return AF_INET;
    }
    if (inet_pton(AF_INET6, c->listen_host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)c->listen_port);
        return AF_INET6;
    }
    return mc_fail("listen address \"%s\" is not a numeric IPv4 or IPv6 address",
                   c->listen_host), 0;
}

static int start_daemon(registry_server *s)
{
    const registry_config *c = s->cfg;
    struct sockaddr_storage ss;
    int family = bind_address(c, &ss);
    if (!family)
        return MC_ERR;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        {MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_ca},
        {MHD_OPTION_END, 0, NULL},
    };
    if (c->tls_cert)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK,
        keep_escaped, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_LIMIT,
        256u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_BYTES,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!s->daemon)
        return mc_fail("cannot listen on %s port %d (address in use, or bad TLS files?)",
                       c->listen_host, c->listen_port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : c->listen_port;
    return MC_OK;
}

int registry_server_start(const registry_config *cfg, const registry_claims *claims,
                          registry_server **out)
{
    registry_server *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return mc_fail("out of memory");
    s->cfg = cfg;
    s->claims = claims;
    pthread_mutex_init(&s->log_lock, NULL);
    const registry_id *m = &cfg->member;
    snprintf(s->member_text, sizeof s->member_text, "%s/%s/%s/%s", m->part[0], m->part[1],
             m->part[2], m->part[3]);
    json_error_t jerr;
    json_t *doc = NULL;
    int rc = MC_OK;
    s->openapi = read_file(cfg->openapi_path, &s->openapi_len);
    if (!s->openapi)
        rc = MC_ERR;
    else if (!(doc = json_loadb(s->openapi, s->openapi_len, 0, &jerr)))
        rc = mc_fail("%s, line %d: not valid JSON: %s", cfg->openapi_path, jerr.line, jerr.text);
    json_decref(doc);
    if (rc == MC_OK && cfg->tls_cert)
        rc = load_tls(s);
    if (rc == MC_OK)
        rc = start_daemon(s);
    if (rc != MC_OK) {
        registry_server_stop(s);
        return MC_ERR;
    }
    *out = s;
    return MC_OK;
}

int registry_server_port(const registry_server *s) { return s->port; }

void registry_server_stop(registry_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1); /* held requests give up within a step */
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->log_lock);
    free(s->openapi);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->tls_ca);
    free(s);
}
