/* mowcheck-registry speaks the X-Road message protocol for REST: headers,
 * request ids and hash, error bodies, identifier percent-encoding, the
 * metaservices and the claims service itself. The service runs as a real
 * process; expected values come from tests/registry/data/claims.csv by hand.
 *
 * usage: test_registry_protocol BINARY DATA_DIR OPENAPI_FILE */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <jansson.h>

#include "harness.h"

static const char *binary, *data_dir, *openapi_file;
static char base[200]; /* http://127.0.0.1:PORT/r1/EE/GOV/70000000/registry */

static const char *const client_hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck", NULL};

static json_t *parse(const http_resp *r)
{
    return json_loads(r->body, 0, NULL);
}

static const char *str_at(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* An exchange-layer error: status, X-Road-Error == body type == want_type,
 * detail == X-Road-Request-Id, message mentions `about`. */
static void check_xroad_error(const http_resp *r, long status, const char *want_type,
                              const char *about)
{
    CHECK_INT(r->status, status);
    char err[256], rid[256];
    CHECK_STR(header_in(r->headers, "X-Road-Error", err, sizeof err), want_type);
    json_t *b = parse(r);
    CHECK_MSG(b != NULL, "error body is not JSON: %s", r->body);
    CHECK_STR(str_at(b, "type"), want_type);
    CHECK_STR(str_at(b, "detail"), header_in(r->headers, "X-Road-Request-Id", rid, sizeof rid));
    const char *msg = str_at(b, "message");
    CHECK_MSG(msg && strstr(msg, about), "message \"%s\" should mention \"%s\"", msg ? msg : "",
              about);
    CHECK(is_uuid4(resp_header(r, "X-Road-Request-Id")));
    CHECK(resp_header(r, "X-Road-Request-Hash") != NULL);
    CHECK(resp_header(r, "X-Road-Id") != NULL);
    json_decref(b);
}

/* The registry's own error: no X-Road-Error, body {status, error, message}. */
static void check_registry_error(const http_resp *r, long status, const char *about)
{
    CHECK_INT(r->status, status);
    CHECK(resp_header(r, "X-Road-Error") == NULL);
    json_t *b = parse(r);
    CHECK_MSG(b != NULL, "error body is not JSON: %s", r->body);
    CHECK_INT(json_integer_value(json_object_get(b, "status")), status);
    const char *msg = str_at(b, "message");
    CHECK_MSG(msg && strstr(msg, about), "message \"%s\" should mention \"%s\"", msg ? msg : "",
              about);
    json_decref(b);
}

static void test_claims_by_parcel(void)
{
    http_resp r;
    char url[600];
    snprintf(url, sizeof url,
             "%s/claims?season=2026&parcel=EE-0002&parcel=EE-0001&parcel=EE%%2F0004"
             "&parcel=NOPE&parcel=EE-0001",
             base);
    http_get(&r, url, client_hdr);
    CHECK_INT(r.status, 200);
    CHECK_STR(resp_header(&r, "Content-Type"), "application/json;charset=utf-8");
    json_t *b = parse(&r);
    json_t *claims = json_object_get(b, "claims");
    REQUIRE(json_is_array(claims));
    /* EE-0002 has two 2026 claims (and a 2025 one, not asked); NOPE has none;
     * EE-0001 asked twice is answered once; EE/0004 came percent-encoded. */
    CHECK_INT(json_array_size(claims), 4);
    const char *want[] = {"C-2026-0002", "C-2026-0003", "C-2026-0001", "C-2026-0004"};
    for (size_t i = 0; i < 4 && i < json_array_size(claims); i++)
        CHECK_STR(str_at(json_array_get(claims, i), "claim_id"), want[i]);
    json_t *c1 = json_array_get(claims, 2);
    CHECK_STR(str_at(c1, "parcel_id"), "EE-0001");
    CHECK_INT(json_integer_value(json_object_get(c1, "season")), 2026);
    CHECK_STR(str_at(c1, "applicant"), "APP-7f3a");
    CHECK_STR(str_at(c1, "scheme"), "grassland-basic");
    CHECK_STR(str_at(c1, "window_start"), "2026-06-01");
    CHECK_STR(str_at(c1, "window_end"), "2026-08-31");
    CHECK_INT(json_integer_value(json_object_get(c1, "min_mowings")), 1);
    CHECK_NEAR(json_number_value(json_object_get(c1, "declared_area_ha")), 1.23, 1e-12);
    CHECK_INT(json_object_size(c1), 9);
    json_t *c3 = json_array_get(claims, 1);
    CHECK_STR(str_at(c3, "scheme"), "semi-natural, coastal"); /* quoted comma */
    CHECK_INT(json_integer_value(json_object_get(json_array_get(claims, 0), "min_mowings")), 2);
    json_t *c4 = json_array_get(claims, 3);
    CHECK_STR(str_at(c4, "parcel_id"), "EE/0004");
    CHECK_INT(json_integer_value(json_object_get(c4, "min_mowings")), 1); /* empty -> 1 */
    json_decref(b);
    http_free(&r);

    /* Quotes inside a quoted field; last season's claim by season. */
    snprintf(url, sizeof url, "%s/claims?season=2025&parcel=EE-0002&parcel=EE-0005", base);
    http_get(&r, url, client_hdr);
    b = parse(&r);
    claims = json_object_get(b, "claims");
    CHECK_INT(json_array_size(claims), 1);
    CHECK_STR(str_at(json_array_get(claims, 0), "claim_id"), "C-2025-0002");
    json_decref(b);
    http_free(&r);
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=EE-0005", base);
    http_get(&r, url, client_hdr);
    b = parse(&r);
    CHECK_STR(str_at(json_array_get(json_object_get(b, "claims"), 0), "applicant"), "APP-\"q\"");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(json_object_get(b, "claims"), 0),
                                                 "min_mowings")), 3);
    json_decref(b);
    http_free(&r);

    /* No claim at all: an empty list, not an error. */
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=NOPE", base);
    http_get(&r, url, client_hdr);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"claims\":[]}");
    http_free(&r);
}

static void test_fields_selection(void)
{
    http_resp r;
    char url[600];
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=EE-0001&fields=claim_id,window_end"
             "&fields=min_mowings", base);
    http_get(&r, url, client_hdr);
    CHECK_INT(r.status, 200);
    json_t *b = parse(&r);
    json_t *c = json_array_get(json_object_get(b, "claims"), 0);
    CHECK_INT(json_object_size(c), 3);
    CHECK_STR(str_at(c, "claim_id"), "C-2026-0001");
    CHECK_STR(str_at(c, "window_end"), "2026-08-31");
    CHECK(json_object_get(c, "applicant") == NULL);
    json_decref(b);
    http_free(&r);
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=EE-0001&fields=name", base);
    http_get(&r, url, client_hdr);
    check_registry_error(&r, 400, "unknown field \"name\"");
    http_free(&r);
}

static void test_claims_request_errors(void)
{
    static const struct {
        const char *query;
        long status;
        const char *about;
    } cases[] = {
        {"season=2026", 400, "parcel is required"},
        {"parcel=EE-0001", 400, "season is required"},
        {"season=2026&season=2025&parcel=EE-0001", 400, "season given 2 times"},
        {"season=twenty&parcel=EE-0001", 400, "not a whole number"},
        {"season=2026&parcel=", 400, "parcel is empty"},
        {"season=2026&parcel=EE%ZZ", 400, "not valid percent-encoded"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp r;
        char url[600];
        snprintf(url, sizeof url, "%s/claims?%s", base, cases[i].query);
        http_get(&r, url, client_hdr);
        check_registry_error(&r, cases[i].status, cases[i].about);
        http_free(&r);
    }
    http_resp r;
    char url[600];
    snprintf(url, sizeof url, "%s/claims/EE-0001?season=2026&parcel=EE-0001", base);
    http_get(&r, url, client_hdr);
    check_registry_error(&r, 404, "no such resource");
    http_free(&r);
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=EE-0001", base);
    http_opts del = {.method = "DELETE"};
    http_do(&r, url, client_hdr, &del);
    check_registry_error(&r, 405, "GET only");
    CHECK_STR(resp_header(&r, "Allow"), "GET");
    http_free(&r);
}

/* The default limit, 1000 parcels, fits in one request with 20-character ids. */
static void test_many_parcels(void)
{
    for (int n = 1000; n <= 1001; n++) {
        size_t cap = (size_t)n * 32 + 600;
        char *url = malloc(cap);
        size_t len = (size_t)snprintf(url, cap, "%s/claims?season=2026&parcel=EE-0001", base);
        for (int i = 1; i < n; i++)
            len += (size_t)snprintf(url + len, cap - len, "&parcel=EE-X-%015d", i);
        http_resp r;
        http_get(&r, url, client_hdr);
        if (n == 1000) {
            CHECK_INT(r.status, 200);
            json_t *b = parse(&r);
            CHECK_INT(json_array_size(json_object_get(b, "claims")), 1);
            json_decref(b);
        } else {
            check_registry_error(&r, 400, "1001 parcels in one request, at most 1000");
        }
        http_free(&r);
        free(url);
    }
}

static void test_ids_and_hash(void)
{
    http_resp r1, r2;
    char url[600], hash[89], id1[64];
    const char *hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck",
                         "X-Road-Id: 5c2b9a1e-0d5f-4e7a-9b1c-3f2e1d0c9b8a",
                         "X-Road-UserId: EE38001010000", "X-Road-Issue: run-2026-11-23",
                         "Accept: application/json", NULL};
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=EE-0001", base);
    http_get(&r1, url, hdr);
    CHECK_INT(r1.status, 200);
    CHECK_STR(resp_header(&r1, "X-Road-Id"), "5c2b9a1e-0d5f-4e7a-9b1c-3f2e1d0c9b8a");
    CHECK_STR(resp_header(&r1, "X-Road-Client"), "EE/GOV/70000001/mowcheck");
    CHECK_STR(resp_header(&r1, "X-Road-Service"), "EE/GOV/70000000/registry/claims");
    snprintf(id1, sizeof id1, "%s", resp_header(&r1, "X-Road-Request-Id"));
    CHECK(is_uuid4(id1));
    char *canon = canonical_request(r1.sent_headers, id1);
    REQUIRE(canon != NULL);
    /* What the hash covers, worked out from the request we sent. */
    CHECK(strstr(canon, "GET\r\n/r1/EE/GOV/70000000/registry/claims?season=2026&parcel=EE-0001"
                        "\r\n") == canon);
    CHECK(strstr(canon, "X-Road-UserId:EE38001010000\r\n") != NULL);
    CHECK(strstr(canon, "Host:") == NULL);
    expected_hash(canon, NULL, hash);
    CHECK_STR(resp_header(&r1, "X-Road-Request-Hash"), hash);
    CHECK_INT(strlen(hash), 88);
    free(canon);

    /* Same request again: a new request id, so a new hash; same X-Road-Id echoed. */
    http_get(&r2, url, hdr);
    const char *id2 = resp_header(&r2, "X-Road-Request-Id");
    CHECK(is_uuid4(id2) && strcmp(id1, id2) != 0);
    CHECK(strcmp(resp_header(&r2, "X-Road-Request-Hash"), hash) != 0);
    http_free(&r1);
    http_free(&r2);

    /* No X-Road-Id: the server makes one (a UUID v4). */
    http_get(&r1, url, client_hdr);
    CHECK(is_uuid4(resp_header(&r1, "X-Road-Id")));
    http_free(&r1);

    /* With a body: SHA512(SHA512(headers) + SHA512(body)). */
    http_opts post = {.method = "POST", .body = "{\"parcel\": [\"EE-0001\"]}"};
    const char *post_hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck",
                              "Content-Type: application/json", NULL};
    http_do(&r1, url, post_hdr, &post);
    check_registry_error(&r1, 405, "GET only");
    canon = canonical_request(r1.sent_headers, resp_header(&r1, "X-Road-Request-Id"));
    REQUIRE(canon != NULL);
    expected_hash(canon, post.body, hash);
    CHECK_STR(resp_header(&r1, "X-Road-Request-Hash"), hash);
    char no_body[89];
    expected_hash(canon, NULL, no_body);
    CHECK(strcmp(hash, no_body) != 0);
    free(canon);
    http_free(&r1);

    /* A malformed X-Road-Id (too long) is an exchange-layer error. */
    char long_id[400] = "X-Road-Id: ";
    memset(long_id + 11, 'a', 300);
    long_id[311] = '\0';
    const char *bad_id[] = {"X-Road-Client: EE/GOV/70000001/mowcheck", long_id, NULL};
    http_get(&r1, url, bad_id);
    check_xroad_error(&r1, 400, "Client.BadRequest", "X-Road-Id");
    CHECK(is_uuid4(resp_header(&r1, "X-Road-Id")));
    http_free(&r1);
}

/* Reads until the peer closes (bounded). */
static char *raw_exchange(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    char *out = NULL;
    size_t len = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write(fd, request, strlen(request)) == (ssize_t)strlen(request)) {
        double deadline = now_ms() + 5000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[4096];
        while (now_ms() < deadline && poll(&p, 1, 100) >= 0) {
            if (!(p.revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0)
                break;
            grow_append(&out, &len, buf, (size_t)n);
        }
    }
    close(fd);
    return out ? out : strdup("");
}

/* The hash over a request whose every byte we wrote ourselves, against the
 * serialisation written out by hand. */
static void test_hash_by_hand(int port)
{
    char *resp = raw_exchange(port,
                              "GET /r1/EE/GOV/70000000/registry/listMethods HTTP/1.1\r\n"
                              "Host: 127.0.0.1\r\n"
                              "X-Road-Client:   EE/GOV/70000001/mowcheck  \r\n"
                              "User-Agent: raw-test\r\n"
                              "x-road-issue: case 7\r\n"
                              "Connection: close\r\n"
                              "\r\n");
    char rid[64], got[100], want[89], hand[512];
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    REQUIRE(header_in(resp, "X-Road-Request-Id", rid, sizeof rid) != NULL);
    REQUIRE(header_in(resp, "X-Road-Request-Hash", got, sizeof got) != NULL);
    snprintf(hand, sizeof hand,
             "GET\r\n/r1/EE/GOV/70000000/registry/listMethods\r\n"
             "X-Road-Client:EE/GOV/70000001/mowcheck\r\n"
             "x-road-issue:case 7\r\n"
             "X-Road-Request-Id:%s\r\n", rid);
    expected_hash(hand, NULL, want);
    CHECK_STR(got, want);
    free(resp);
}

static void test_client_header_errors(void)
{
    static const char *const bad[] = {
        "X-Road-Client: EE/GOV",                /* too few parts */
        "X-Road-Client: EE//70000001/mowcheck", /* empty part */
        "X-Road-Client: EE/GOV/7%ZZ/mowcheck",  /* bad percent-encoding */
        "X-Road-Client: EE/GOV/1/2/3",          /* too many parts */
        "X-Road-Client: EE/GOV/70000001/a%00b", /* NUL inside */
    };
    char url[600];
    snprintf(url, sizeof url, "%s/claims?season=2026&parcel=EE-0001", base);
    http_resp r;
    http_get(&r, url, NULL);
    check_xroad_error(&r, 400, "Client.BadRequest", "Missing X-Road-Client");
    CHECK(is_uuid4(resp_header(&r, "X-Road-Id")));
    http_free(&r);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *h[] = {bad[i], NULL};
        http_get(&r, url, h);
        check_xroad_error(&r, 400, "Client.BadRequest", "Malformed X-Road-Client");
        http_free(&r);
    }
    const char *twice[] = {"X-Road-Client: EE/GOV/1/a", "X-Road-Client: EE/GOV/2/b", NULL};
    http_get(&r, url, twice);
    check_xroad_error(&r, 400, "Client.BadRequest", "2 times");
    http_free(&r);
    /* A member without a subsystem, and percent-encoded parts, are fine. */
    const char *member_only[] = {"X-Road-Client: EE/GOV/70000001", NULL};
    http_get(&r, url, member_only);
    CHECK_INT(r.status, 200);
    http_free(&r);
    const char *encoded[] = {"X-Road-Client: EE/GOV/7000%2F0001/mow%20check", NULL};
    http_get(&r, url, encoded);
    CHECK_INT(r.status, 200);
    CHECK_STR(resp_header(&r, "X-Road-Client"), "EE/GOV/7000%2F0001/mow%20check");
    http_free(&r);
}

static void test_path_errors(int port)
{
    static const struct {
        const char *path;
        const char *type, *about;
    } cases[] = {
        {"/r1/EE/GOV/70000001/registry/claims?season=2026&parcel=EE-0001",
         "Client.UnknownMember", "70000001"},
        {"/r1/EE/GOV/70000000/other/claims?season=2026&parcel=EE-0001", "Client.UnknownMember",
         "SUBSYSTEM:EE/GOV/70000000/other"},
        {"/r1/EE/GOV/70000000/registry/parcels", "Client.UnknownService", "parcels"},
        {"/r1/EE/GOV/70000000/registry", "Client.BadRequest", "SERVICE"},
        {"/r2/EE/GOV/70000000/registry/claims", "Client.BadRequest", "version r2"},
        {"/claims?season=2026", "Client.BadRequest", "/r1/"},
        {"/r1/EE/GOV/70000000/registry/cla%2", "Client.BadRequest", "percent-encoded"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp r;
        char url[600];
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, cases[i].path);
        http_get(&r, url, client_hdr);
        check_xroad_error(&r, 400, cases[i].type, cases[i].about);
        http_free(&r);
    }
}

static void test_metaservices(void)
{
    static const char *const list_services[] = {"listMethods", "allowedMethods"};
    http_resp r;
    char url[600];
    for (int i = 0; i < 2; i++) {
        snprintf(url, sizeof url, "%s/%s", base, list_services[i]);
        http_get(&r, url, client_hdr);
        CHECK_INT(r.status, 200);
        json_t *b = parse(&r);
        json_t *svc = json_object_get(b, "service");
        CHECK_INT(json_array_size(svc), 1);
        json_t *s = json_array_get(svc, 0);
        CHECK_STR(str_at(s, "object_type"), "SERVICE");
        CHECK_STR(str_at(s, "xroad_instance"), "EE");
        CHECK_STR(str_at(s, "member_class"), "GOV");
        CHECK_STR(str_at(s, "member_code"), "70000000");
        CHECK_STR(str_at(s, "subsystem_code"), "registry");
        CHECK_STR(str_at(s, "service_code"), "claims");
        CHECK_STR(str_at(s, "service_type"), "OPENAPI");
        json_t *ep = json_array_get(json_object_get(s, "endpoint_list"), 0);
        CHECK_STR(str_at(ep, "method"), "GET");
        json_decref(b);
        http_free(&r);
    }
    snprintf(url, sizeof url, "%s/getOpenAPI?serviceCode=claims", base);
    http_get(&r, url, client_hdr);
    CHECK_INT(r.status, 200);
    char *want = slurp(openapi_file);
    CHECK(strlen(want) > 100 && strcmp(r.body, want) == 0);
    json_t *doc = parse(&r);
    CHECK_STR(str_at(doc, "openapi"), "3.0.3");
    CHECK(json_object_get(json_object_get(doc, "paths"), "/claims") != NULL);
    json_decref(doc);
    free(want);
    http_free(&r);
    snprintf(url, sizeof url, "%s/getOpenAPI", base);
    http_get(&r, url, client_hdr);
    check_xroad_error(&r, 400, "Client.BadRequest", "serviceCode");
    http_free(&r);
    snprintf(url, sizeof url, "%s/getOpenAPI?serviceCode=parcels", base);
    http_get(&r, url, client_hdr);
    check_xroad_error(&r, 400, "Client.UnknownService", "parcels");
    http_free(&r);
}

/* A member code with a slash in it, and every part percent-encoded. */
static void test_percent_encoded_member(void)
{
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, "--member", "EE/GOV/70%2F00/reg%20istry", NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    http_resp r;
    char url[600];
    snprintf(url, sizeof url,
             "%s/r1/%%45E/GOV/70%%2F00/reg%%20istry/%%63laims?season=2026&parcel=EE-0001",
             s.base);
    http_get(&r, url, client_hdr);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "C-2026-0001") != NULL);
    http_free(&r);
    /* The slash unencoded splits the member code: another provider. */
    snprintf(url, sizeof url, "%s/r1/EE/GOV/70/00/reg%%20istry/claims?season=2026", s.base);
    http_get(&r, url, client_hdr);
    check_xroad_error(&r, 400, "Client.UnknownMember", "SUBSYSTEM:EE/GOV/70/00");
    http_free(&r);
    snprintf(url, sizeof url, "%s/r1/EE/GOV/70%%2F00/reg%%20istry/listMethods", s.base);
    http_get(&r, url, client_hdr);
    json_t *b = parse(&r);
    json_t *svc = json_array_get(json_object_get(b, "service"), 0);
    CHECK_STR(str_at(svc, "member_code"), "70/00");
    CHECK_STR(str_at(svc, "subsystem_code"), "reg istry");
    json_decref(b);
    http_free(&r);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

/* One access-log line per request: time, peer, client, X-Road-Id, method, target, status. */
static void check_access_log(const srv *s)
{
    char *out = slurp(s->out_path);
    int lines = 0, with_id = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    CHECK_MSG(lines > 40, "only %d access log lines", lines);
    CHECK(strncmp(out, "listening on 127.0.0.1:", 23) == 0);
    for (char *p = strstr(out, " 5c2b9a1e-0d5f-4e7a-9b1c-3f2e1d0c9b8a GET "); p;
         p = strstr(p + 1, " 5c2b9a1e-0d5f-4e7a-9b1c-3f2e1d0c9b8a GET "))
        with_id++;
    CHECK_INT(with_id, 2);
    CHECK(strstr(out, " 127.0.0.1 EE/GOV/70000001/mowcheck 5c2b9a1e-0d5f-4e7a-9b1c-3f2e1d0c9b8a "
                      "GET /r1/EE/GOV/70000000/registry/claims?season=2026&parcel=EE-0001 200\n"));
    CHECK(strstr(out, " 127.0.0.1 - ") != NULL); /* the request without X-Road-Client */
    free(out);
    char *err = slurp(s->err_path);
    CHECK_MSG(err[0] == '\0', "stderr not empty: %s", err);
    free(err);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s BINARY DATA_DIR OPENAPI_FILE\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    data_dir = argv[2];
    openapi_file = argv[3];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", data_dir);
    const char *args[] = {"--claims", claims, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    snprintf(base, sizeof base, "%s/r1/EE/GOV/70000000/registry", s.base);

    test_claims_by_parcel();
    test_fields_selection();
    test_claims_request_errors();
    test_many_parcels();
    test_ids_and_hash();
    test_hash_by_hand(s.port);
    test_client_header_errors();
    test_path_errors(s.port);
    test_metaservices();

    CHECK_INT(srv_stop(&s), 0); /* SIGTERM: a clean stop */
    check_access_log(&s);
    srv_cleanup(&s);
    test_percent_encoded_member();
    curl_global_cleanup();
    return test_summary();
}
