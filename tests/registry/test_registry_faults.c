/* Each fault switch of mowcheck-registry, as a client sees it: the exchange
 * layer's errors come with X-Road-Error and its body, the registry's own errors
 * without; a delay delays, a timeout never answers and still lets the service
 * stop on SIGTERM; --fault-rate N hits exactly every Nth claims request.
 *
 * usage: test_registry_faults BINARY DATA_DIR */
#include <jansson.h>

#include "harness.h"

static const char *binary;
static char claims_csv[600];
static const char *const client_hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck",
                                         "X-Road-Id: fault-test-1", NULL};

static int start(srv *s, const char *fault, const char *extra1, const char *extra2)
{
    const char *args[] = {"--claims", claims_csv, "--fault", fault, extra1, extra2, NULL};
    return srv_spawn(s, binary, args, 0);
}

static void claims_url(const srv *s, char *url, size_t cap)
{
    snprintf(url, cap, "%s/r1/EE/GOV/70000000/registry/claims?season=2026&parcel=EE-0001",
             s->base);
}

static int is_good_answer(const http_resp *r)
{
    json_t *b = json_loads(r->body, 0, NULL);
    json_t *c = json_array_get(json_object_get(b, "claims"), 0);
    int ok = r->status == 200 && c &&
             strcmp(json_string_value(json_object_get(c, "claim_id")), "C-2026-0001") == 0;
    json_decref(b);
    return ok;
}

/* X-Road-Error == body type, detail == request id, ids still present. */
static void check_exchange_error(const http_resp *r, long status, const char *type)
{
    char e[200], rid[100];
    CHECK_INT(r->status, status);
    CHECK_STR(header_in(r->headers, "X-Road-Error", e, sizeof e), type);
    json_t *b = json_loads(r->body, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(b, "type")), type);
    CHECK_STR(json_string_value(json_object_get(b, "detail")),
              header_in(r->headers, "X-Road-Request-Id", rid, sizeof rid));
    CHECK(json_string_value(json_object_get(b, "message")) != NULL);
    CHECK_STR(resp_header(r, "X-Road-Id"), "fault-test-1");
    json_decref(b);
}

static void test_exchange_errors(void)
{
    static const struct {
        const char *fault, *type;
    } cases[] = {
        {"server-error", "Server.ServerProxy.InternalError"},
        {"access-denied", "Server.ServerProxy.AccessDenied"},
    };
    for (size_t i = 0; i < 2; i++) {
        srv s;
        char url[400];
        REQUIRE(start(&s, cases[i].fault, NULL, NULL) == 0);
        claims_url(&s, url, sizeof url);
        http_resp r;
        http_get(&r, url, client_hdr);
        check_exchange_error(&r, 500, cases[i].type);
        http_free(&r);
        /* Faults are for the claims service; the metaservices still answer. */
        snprintf(url, sizeof url, "%s/r1/EE/GOV/70000000/registry/listMethods", s.base);
        http_get(&r, url, client_hdr);
        CHECK_INT(r.status, 200);
        http_free(&r);
        CHECK_INT(srv_stop(&s), 0);
        srv_cleanup(&s);
    }
}

static void test_registry_errors(void)
{
    static const struct {
        const char *fault;
        long status;
    } cases[] = {{"registry-404", 404}, {"registry-500", 500}};
    for (size_t i = 0; i < 2; i++) {
        srv s;
        char url[400];
        REQUIRE(start(&s, cases[i].fault, NULL, NULL) == 0);
        claims_url(&s, url, sizeof url);
        http_resp r;
        http_get(&r, url, client_hdr);
        CHECK_INT(r.status, cases[i].status);
        CHECK(resp_header(&r, "X-Road-Error") == NULL); /* the provider's own answer */
        CHECK(is_uuid4(resp_header(&r, "X-Road-Request-Id")));
        json_t *b = json_loads(r.body, 0, NULL);
        CHECK_INT(json_integer_value(json_object_get(b, "status")), cases[i].status);
        CHECK(json_object_get(b, "type") == NULL);
        json_decref(b);
        http_free(&r);
        CHECK_INT(srv_stop(&s), 0);
        srv_cleanup(&s);
    }
}

static void test_malformed_json(void)
{
    srv s;
    char url[400];
    REQUIRE(start(&s, "malformed-json", NULL, NULL) == 0);
    claims_url(&s, url, sizeof url);
    http_resp r;
    http_get(&r, url, client_hdr);
    CHECK_INT(r.status, 200);
    CHECK(resp_header(&r, "X-Road-Error") == NULL);
    CHECK(strncmp(resp_header(&r, "Content-Type"), "application/json", 16) == 0);
    json_error_t err;
    json_t *b = json_loads(r.body, 0, &err);
    CHECK_MSG(b == NULL, "body parsed as JSON: %s", r.body);
    json_decref(b);
    CHECK(r.body_len > 0);
    http_free(&r);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

static void test_delay(void)
{
    srv s;
    char url[400];
    REQUIRE(start(&s, "delay", "--delay-ms", "400") == 0);
    claims_url(&s, url, sizeof url);
    http_resp r;
    http_get(&r, url, client_hdr);
    CHECK(is_good_answer(&r));
    CHECK_MSG(r.elapsed_ms >= 400, "answered after %.0f ms, delay 400 ms", r.elapsed_ms);
    http_free(&r);
    /* A client that waits less than the delay times out. */
    http_opts quick = {.timeout_ms = 150};
    http_do(&r, url, client_hdr, &quick);
    CHECK_INT(r.curl_rc, CURLE_OPERATION_TIMEDOUT);
    http_free(&r);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

static void test_timeout_and_stop(void)
{
    srv s;
    char url[400];
    REQUIRE(start(&s, "timeout", NULL, NULL) == 0);
    claims_url(&s, url, sizeof url);
    http_resp r;
    http_opts o = {.timeout_ms = 700};
    http_do(&r, url, client_hdr, &o);
    CHECK_INT(r.curl_rc, CURLE_OPERATION_TIMEDOUT);
    CHECK_INT(r.status, 0);
    CHECK_MSG(r.elapsed_ms >= 650 && r.elapsed_ms < 5000, "gave up after %.0f ms",
              r.elapsed_ms);
    http_free(&r);

    /* Stop while a request is held: a child process keeps one waiting. */
    pid_t waiter = fork();
    if (waiter == 0) {
        http_resp w;
        http_opts long_wait = {.timeout_ms = 20000};
        http_do(&w, url, client_hdr, &long_wait);
        _exit(w.curl_rc == CURLE_OK ? 0 : 1);
    }
    sleep_ms(300);
    double t0 = now_ms();
    CHECK_INT(srv_stop(&s), 0);
    double stop_ms = now_ms() - t0;
    CHECK_MSG(stop_ms < 3000, "stopping took %.0f ms with a held request", stop_ms);
    int status = 0;
    double deadline = now_ms() + 10000;
    while (waitpid(waiter, &status, WNOHANG) == 0 && now_ms() < deadline)
        sleep_ms(10);
    if (now_ms() >= deadline) {
        kill(waiter, SIGKILL);
        waitpid(waiter, &status, 0);
    }
    /* The held request got no answer: the connection closed without one. */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    /* the line is written when the server lets the connection go, maybe after the
     * client saw it close: wait for it */
    static const char line[] = " fault-test-1 GET /r1/EE/GOV/70000000/registry/claims?season=2026&"
                               "parcel=EE-0001 -\n";
    char *log = slurp(s.out_path);
    for (int tries = 0; tries < 100 && !strstr(log, line); tries++) {
        free(log);
        sleep_ms(50);
        log = slurp(s.out_path);
    }
    CHECK(strstr(log, line) != NULL);
    free(log);
    srv_cleanup(&s);
}

/* --fault-rate 3: requests 3 and 6 fail, the others are answered. */
static void test_fault_rate(void)
{
    srv s;
    char url[400];
    REQUIRE(start(&s, "server-error", "--fault-rate", "3") == 0);
    claims_url(&s, url, sizeof url);
    for (int i = 1; i <= 6; i++) {
        http_resp r;
        http_get(&r, url, client_hdr);
        if (i % 3 == 0)
            check_exchange_error(&r, 500, "Server.ServerProxy.InternalError");
        else
            CHECK_MSG(is_good_answer(&r), "request %d: status %ld", i, r.status);
        http_free(&r);
    }
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);

    REQUIRE(start(&s, "timeout", "--fault-rate", "2") == 0);
    claims_url(&s, url, sizeof url);
    http_opts o = {.timeout_ms = 500};
    for (int i = 1; i <= 4; i++) {
        http_resp r;
        http_do(&r, url, client_hdr, &o);
        if (i % 2 == 0)
            CHECK_INT(r.curl_rc, CURLE_OPERATION_TIMEDOUT);
        else
            CHECK(is_good_answer(&r));
        http_free(&r);
    }
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

static void test_bad_fault_options(void)
{
    const char *unknown[] = {"--claims", claims_csv, "--fault", "explode", NULL};
    char *err = NULL;
    CHECK_INT(run_to_end(binary, unknown, &err), 2);
    CHECK_MSG(strstr(err, "unknown fault \"explode\""), "stderr: %s", err);
    free(err);
    const char *rate[] = {"--claims", claims_csv, "--fault", "delay", "--fault-rate", "0", NULL};
    CHECK_INT(run_to_end(binary, rate, &err), 2);
    CHECK_MSG(strstr(err, "--fault-rate"), "stderr: %s", err);
    free(err);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    snprintf(claims_csv, sizeof claims_csv, "%s/claims.csv", argv[2]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_exchange_errors();
    test_registry_errors();
    test_malformed_json();
    test_delay();
    test_timeout_and_stop();
    test_fault_rate();
    test_bad_fault_options();
    curl_global_cleanup();
    return test_summary();
}
