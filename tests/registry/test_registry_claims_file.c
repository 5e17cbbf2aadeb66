/* Claims CSV loading: a bad file refuses to start (exit 3) with a message that
 * names the file, the line and what is wrong; good files in other shapes (BOM,
 * CRLF, reordered columns, no min_mowings column, header only) load.
 * The bad files are kept as data in tests/registry/data/.
 *
 * usage: test_registry_claims_file BINARY DATA_DIR */
#include <jansson.h>

#include "harness.h"

static const char *binary, *data_dir;

static void expect_refused(const char *file, const char *message)
{
    char path[600], want[800];
    snprintf(path, sizeof path, "%s/%s", data_dir, file);
    snprintf(want, sizeof want, "%s%s", path, message);
    const char *args[] = {"--claims", path, "--listen", "127.0.0.1:0", NULL};
    char *err = NULL;
    int code = run_to_end(binary, args, &err);
    CHECK_MSG(code == 3, "%s: exit %d", file, code);
    CHECK_MSG(strstr(err, want) != NULL, "%s: stderr \"%s\" lacks \"%s\"", file, err, want);
    free(err);
}

static const struct {
    const char *file, *message; /* message follows the file's path */
} refused[] = {
    {"bad-date.csv", ", line 3: window_end: \"2026-02-30\" is not a calendar date"},
    {"bad-season.csv", ", line 2: season: \"2026a\" is not a whole number"},
    {"bad-mowings.csv", ", line 4: min_mowings: 0 is outside 1..100"},
    {"duplicate-claim.csv", ", line 5: duplicate claim_id \"C-1\" (first on line 2)"},
    {"no-header.csv", ", line 1: no column claim_id in the header"},
    {"missing-column.csv", ", line 1: no column window_end in the header"},
    {"window-reversed.csv", ", line 2: window_end 2026-06-01 is before window_start 2026-08-31"},
    {"bad-quotes.csv", ", line 3: not valid CSV"},
    {"empty.csv", ": empty file"},
    {"bad-area.csv", ", line 3: declared_area_ha: \"-1\" is not an area"},
    {"empty-claim-id.csv", ", line 2: claim_id is empty"},
    {"short-row.csv", ", line 3: 4 columns, the header has more (no scheme)"},
    {"no-such-file.csv", ": cannot open: No such file or directory"},
};

static json_t *ask(const srv *s, const char *query)
{
    char url[600];
    snprintf(url, sizeof url, "%s/r1/EE/GOV/70000000/registry/claims?%s", s->base, query);
    const char *hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck", NULL};
    http_resp r;
    http_get(&r, url, hdr);
    CHECK_INT(r.status, 200);
    json_t *b = json_loads(r.body, 0, NULL);
    http_free(&r);
    return b;
}

static void test_good_shapes(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bom-crlf-reordered.csv", data_dir);
    const char *args[] = {"--claims", path, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    json_t *b = ask(&s, "season=2026&parcel=P-9");
    json_t *c = json_array_get(json_object_get(b, "claims"), 0);
    CHECK_STR(json_string_value(json_object_get(c, "claim_id")), "C-9");
    CHECK_STR(json_string_value(json_object_get(c, "window_end")), "2026-09-30"); /* no \r */
    CHECK_INT(json_integer_value(json_object_get(c, "min_mowings")), 1); /* no column: 1 */
    CHECK_NEAR(json_number_value(json_object_get(c, "declared_area_ha")), 0.5, 0);
    json_decref(b);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);

    snprintf(path, sizeof path, "%s/header-only.csv", data_dir);
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    b = ask(&s, "season=2026&parcel=P-1");
    CHECK_INT(json_array_size(json_object_get(b, "claims")), 0);
    json_decref(b);
    CHECK_INT(srv_stop(&s), 0);
    srv_cleanup(&s);
}

static void test_usage_errors(void)
{
    char path[600], *err = NULL;
    snprintf(path, sizeof path, "%s/claims.csv", data_dir);
    const char *none[] = {"--listen", "127.0.0.1:0", NULL};
    CHECK_INT(run_to_end(binary, none, &err), 2);
    CHECK(strstr(err, "--claims FILE") != NULL);
    free(err);
    const char *member[] = {"--claims", path, "--member", "EE/GOV/70000000", NULL};
    CHECK_INT(run_to_end(binary, member, &err), 2);
    CHECK(strstr(err, "--member") != NULL);
    free(err);
    const char *listen[] = {"--claims", path, "--listen", "localhost:99999", NULL};
    CHECK_INT(run_to_end(binary, listen, &err), 2);
    CHECK(strstr(err, "--listen port") != NULL);
    free(err);
    const char *openapi[] = {"--claims", path, "--openapi", path, "--listen", "127.0.0.1:0",
                             NULL};
    CHECK_INT(run_to_end(binary, openapi, &err), 3); /* a CSV is not an OpenAPI document */
    CHECK(strstr(err, "not valid JSON") != NULL);
    free(err);
}

/* --port-file writes the bound port; --max-parcels bounds a request; SIGINT
 * stops as cleanly as SIGTERM. */
static void test_port_file_and_limits(void)
{
    char path[600], dir[256], port_file[300];
    snprintf(path, sizeof path, "%s/claims.csv", data_dir);
    tmpdir_make(dir, "port");
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    const char *args[] = {"--claims", path, "--port-file", port_file, "--max-parcels", "2",
                          NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 0) == 0);
    char *text = slurp(port_file);
    CHECK_INT(atoi(text), s.port);
    free(text);
    json_t *b = ask(&s, "season=2026&parcel=EE-0001&parcel=EE-0005");
    CHECK_INT(json_array_size(json_object_get(b, "claims")), 2);
    json_decref(b);
    char url[600];
    snprintf(url, sizeof url, "%s/r1/EE/GOV/70000000/registry/claims?season=2026&parcel=A"
             "&parcel=B&parcel=C", s.base);
    const char *hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck", NULL};
    http_resp r;
    http_get(&r, url, hdr);
    CHECK_INT(r.status, 400);
    CHECK(strstr(r.body, "3 parcels in one request, at most 2") != NULL);
    CHECK(resp_header(&r, "X-Road-Error") == NULL);
    http_free(&r);
    kill(s.pid, SIGINT);
    CHECK_INT(srv_wait(&s, SRV_STOP_TIMEOUT_MS), 0);
    CHECK_INT(s.exit_code, 0);
    srv_cleanup(&s);
    tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    data_dir = argv[2];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_refused(refused[i].file, refused[i].message);
    test_good_shapes();
    test_usage_errors();
    test_port_file_and_limits();
    curl_global_cleanup();
    return test_summary();
}
