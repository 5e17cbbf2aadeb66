/* Mutual TLS: with --tls-cert/--tls-key/--client-ca the registry serves HTTPS
 * and answers only a client whose certificate the client CA signed. The
 * certificates are made here with the openssl command line in a temp dir:
 * an agency CA (server and good client), and a stranger CA (bad client).
 *
 * usage: test_registry_tls BINARY DATA_DIR */
#include <jansson.h>

#include "harness.h"

static char dir[256];

static int sh(const char *fmt, const char *arg)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, arg, arg, arg, arg, arg, arg, arg, arg, arg, arg, arg, arg);
    return system(cmd);
}

/* CA, server certificate for 127.0.0.1, client certificates from both CAs. */
static int make_certificates(void)
{
    static const char script[] =
        "set -e; cd '%s'; exec >openssl.log 2>&1\n"
        "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
        "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=test-agency-ca\n"
        "openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=stranger-ca\n"
        "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext\n"
        "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
        "openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1\n"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "  -extfile server.ext -out server.pem\n"
        "openssl req $ec -keyout client.key -out client.csr -subj /CN=mowcheck-client\n"
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "  -extfile client.ext -out client.pem\n"
        "openssl req $ec -keyout stranger.key -out stranger.csr -subj /CN=stranger\n"
        "openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key "
        "  -CAcreateserial -days 2 -extfile client.ext -out stranger.pem\n";
    return sh(script, dir);
}

static void path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    const char *binary = argv[1];
    if (system("openssl version >/dev/null 2>&1") != 0)
        TEST_SKIP("no openssl command line");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tmpdir_make(dir, "tls");
    if (make_certificates() != 0) {
        char log[300];
        path(log, sizeof log, "openssl.log");
        char *text = slurp(log);
        fprintf(stderr, "making certificates failed:\n%s\n", text);
        free(text);
        tmpdir_remove(dir);
        REQUIRE(0);
    }
    char claims[600], cert[300], key[300], ca[300], ccert[300], ckey[300], scert[300],
        skey[300];
    snprintf(claims, sizeof claims, "%s/claims.csv", argv[2]);
    path(cert, sizeof cert, "server.pem");
    path(key, sizeof key, "server.key");
    path(ca, sizeof ca, "ca.pem");
    path(ccert, sizeof ccert, "client.pem");
    path(ckey, sizeof ckey, "client.key");
    path(scert, sizeof scert, "stranger.pem");
    path(skey, sizeof skey, "stranger.key");
    const char *args[] = {"--claims", claims, "--tls-cert", cert, "--tls-key", key,
                          "--client-ca", ca, NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 1) == 0);
    char url[400];
    snprintf(url, sizeof url, "%s/r1/EE/GOV/70000000/registry/claims?season=2026&parcel=EE-0001",
             s.base);
    const char *hdr[] = {"X-Road-Client: EE/GOV/70000001/mowcheck", NULL};

    /* The right client certificate: answered, over TLS verified against the CA. */
    http_resp r;
    http_opts good = {.ca = ca, .cert = ccert, .key = ckey};
    http_do(&r, url, hdr, &good);
    CHECK_INT(r.curl_rc, CURLE_OK);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "\"C-2026-0001\"") != NULL);
    CHECK(is_uuid4(resp_header(&r, "X-Road-Request-Id")));
    http_free(&r);

    /* No client certificate, or one from another CA: refused, no data. */
    http_opts none = {.ca = ca};
    http_opts stranger = {.ca = ca, .cert = scert, .key = skey};
    const http_opts *refused[] = {&none, &stranger};
    for (int i = 0; i < 2; i++) {
        http_do(&r, url, hdr, refused[i]);
        CHECK_MSG(r.curl_rc != CURLE_OK || r.status == 500, "case %d: curl %d status %ld", i,
                  (int)r.curl_rc, r.status);
        CHECK_MSG(strstr(r.body, "C-2026-0001") == NULL, "case %d: data given out", i);
        if (r.curl_rc == CURLE_OK) {
            CHECK_STR(resp_header(&r, "X-Road-Error"),
                      "Server.ClientProxy.SslAuthenticationFailed");
            json_t *b = json_loads(r.body, 0, NULL);
            const char *msg = json_string_value(json_object_get(b, "message"));
            CHECK_MSG(msg && strstr(msg, i == 0 ? "did not supply" : "not trusted"),
                      "message: %s", msg ? msg : r.body);
            json_decref(b);
        }
        http_free(&r);
    }

    /* Plain HTTP to the TLS port gets nothing useful either. */
    char plain[400];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/r1/EE/GOV/70000000/registry/claims"
             "?season=2026&parcel=EE-0001", s.port);
    http_opts quick = {.timeout_ms = 3000};
    http_do(&r, plain, hdr, &quick);
    CHECK(strstr(r.body, "C-2026-0001") == NULL);
    CHECK(r.status != 200);
    http_free(&r);

    /* The client must also check the server: a CA that did not sign it fails. */
    char other_ca[300];
    path(other_ca, sizeof other_ca, "other-ca.pem");
    http_opts wrong_ca = {.ca = other_ca, .cert = ccert, .key = ckey};
    http_do(&r, url, hdr, &wrong_ca);
    CHECK(r.curl_rc == CURLE_PEER_FAILED_VERIFICATION || r.curl_rc == CURLE_SSL_CACERT_BADFILE ||
          r.curl_rc == CURLE_SSL_CONNECT_ERROR);
    http_free(&r);

    CHECK_INT(srv_stop(&s), 0);
    char *log = slurp(s.out_path);
    CHECK(strstr(log, " 200\n") != NULL && strstr(log, " 500\n") != NULL);
    free(log);
    srv_cleanup(&s);

    /* Half the TLS options is a usage error; a key that does not exist refuses to start. */
    char *err = NULL;
    const char *half[] = {"--claims", claims, "--tls-cert", cert, NULL};
    CHECK_INT(run_to_end(binary, half, &err), 2);
    CHECK(strstr(err, "go together") != NULL);
    free(err);
    const char *missing[] = {"--claims", claims, "--tls-cert", cert, "--tls-key", "/nonexistent.key",
                             "--client-ca", ca, "--listen", "127.0.0.1:0", NULL};
    CHECK_INT(run_to_end(binary, missing, &err), 3);
    CHECK_MSG(strstr(err, "/nonexistent.key") != NULL, "stderr: %s", err);
    free(err);

    tmpdir_remove(dir);
    curl_global_cleanup();
    return test_summary();
}
