/* Registry client over mutual TLS against mowcheck-registry --tls-cert/--tls-key/
 * --client-ca: accepted with the agency's client certificate, refused without
 * one or with a stranger's, and the client refuses a server certificate that its
 * CA did not sign (verification is always on). Certificates are made here with
 * the openssl command line.
 *
 * usage: test_client_tls REGISTRY_BINARY DATA_DIR   (MOWCHECK_TEST_PGHOST set) */
#include "client_test.h"

static char dir[256];
static store *st;
static PGconn *pg;

static int make_certificates(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; exec >openssl.log 2>&1\n"
             "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
             "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=agency-ca\n"
             "openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 2 "
             "  -subj /CN=stranger-ca\n"
             "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext\n"
             "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
             "openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1\n"
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "  -extfile server.ext -out server.pem\n"
             "openssl req $ec -keyout rogue.key -out rogue.csr -subj /CN=127.0.0.1\n"
             "openssl x509 -req -in rogue.csr -CA other-ca.pem -CAkey other-ca.key "
             "  -CAcreateserial -days 2 -extfile server.ext -out rogue.pem\n"
             "openssl req $ec -keyout client.key -out client.csr -subj /CN=mowcheck\n"
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "  -extfile client.ext -out client.pem\n"
             "openssl req $ec -keyout stranger.key -out stranger.csr -subj /CN=stranger\n"
             "openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key "
             "  -CAcreateserial -days 2 -extfile client.ext -out stranger.pem\n",
             dir);
    return system(cmd);
}

static const char *in_dir(const char *name)
{
    static char paths[8][300];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 300, "%s/%s", dir, name);
    return p;
}

typedef struct result {
    size_t n_claims, n_failed;
    long rows, rows_ok;
    char types[512];
} result;

static result fetch(const registry_config *c, const char *issue)
{
    const char *ids[] = {"EE-0001", "EE-0002"};
    registry_answer a;
    result r = {0};
    CHECK_INT(registry_fetch_claims(c, st, 0, issue, "tls test", 2026, ids, 2, &a), MC_OK);
    r.n_claims = a.n_claims;
    r.n_failed = a.n_failed;
    registry_answer_free(&a);
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE issue = '%s'", issue);
    r.rows = db_count(pg, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE issue = '%s' AND "
             "error_type IS NULL AND http_status = 200", issue);
    r.rows_ok = db_count(pg, sql);
    snprintf(sql, sizeof sql, "SELECT coalesce(string_agg(DISTINCT error_type, ','), '') FROM "
             "audit_log WHERE issue = '%s'", issue);
    PGresult *res = db_rows(pg, sql);
    snprintf(r.types, sizeof r.types, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return r;
}

static void test_mutual_tls(const char *binary, const char *claims)
{
    const char *args[] = {"--claims", claims, "--tls-cert", in_dir("server.pem"), "--tls-key",
                          in_dir("server.key"), "--client-ca", in_dir("ca.pem"), NULL};
    srv s;
    REQUIRE(srv_spawn(&s, binary, args, 1) == 0);
    registry_config c = client_config(s.base);
    c.tls_ca = in_dir("ca.pem");
    c.tls_cert = in_dir("client.pem");
    c.tls_key = in_dir("client.key");
    c.max_attempts = 2;

    /* The agency's client certificate: answered. */
    result r = fetch(&c, "tls-good");
    CHECK_INT(r.n_claims, 3);
    CHECK_INT(r.n_failed, 0);
    CHECK_INT(r.rows, 1);
    CHECK_INT(r.rows_ok, 1);

    /* Without a client certificate, or with a stranger's: refused, nothing returned;
     * the refusal is the exchange's (after the handshake) or the handshake's own. */
    const char *certs[][2] = {{NULL, NULL}, {"stranger.pem", "stranger.key"}};
    for (int i = 0; i < 2; i++) {
        registry_config bad = c;
        bad.tls_cert = certs[i][0] ? in_dir(certs[i][0]) : NULL;
        bad.tls_key = certs[i][1] ? in_dir(certs[i][1]) : NULL;
        char issue[32];
        snprintf(issue, sizeof issue, "tls-refused-%d", i);
        r = fetch(&bad, issue);
        CHECK_INT(r.n_claims, 0);
        CHECK_INT(r.n_failed, 2);
        CHECK_INT(r.rows_ok, 0);
        CHECK_MSG(strcmp(r.types, "Server.ClientProxy.SslAuthenticationFailed") == 0 ||
                  strcmp(r.types, "tls") == 0 || strcmp(r.types, "connection") == 0,
                  "case %d: error types %s", i, r.types);
        CHECK(r.rows >= 1 && r.rows <= 2);
    }

    /* The CA that did not sign the server's certificate: the client refuses the
     * server, once (a certificate does not mend itself in a retry). */
    registry_config wrong = c;
    wrong.tls_ca = in_dir("other-ca.pem");
    r = fetch(&wrong, "tls-wrong-ca");
    CHECK_INT(r.n_claims, 0);
    CHECK_INT(r.n_failed, 2);
    CHECK_INT(r.rows, 1);
    CHECK_STR(r.types, "tls");
    /* No CA given: the system's CAs do not know this one either. */
    wrong.tls_ca = NULL;
    r = fetch(&wrong, "tls-system-ca");
    CHECK_INT(r.n_claims, 0);
    CHECK_STR(r.types, "tls");
    srv_cleanup(&s);

    /* A server with a certificate from an unknown CA (same name, 127.0.0.1). */
    const char *rogue_args[] = {"--claims", claims, "--tls-cert", in_dir("rogue.pem"),
                                "--tls-key", in_dir("rogue.key"), "--client-ca",
                                in_dir("ca.pem"), NULL};
    REQUIRE(srv_spawn(&s, binary, rogue_args, 1) == 0);
    registry_config to_rogue = c;
    to_rogue.base_url = s.base;
    r = fetch(&to_rogue, "tls-rogue");
    CHECK_INT(r.n_claims, 0);
    CHECK_INT(r.n_failed, 2);
    CHECK_STR(r.types, "tls");
    CHECK_INT(srv_log_count(&s, "/claims?", 0), 0); /* no request reached it */
    srv_cleanup(&s);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s REGISTRY_BINARY DATA_DIR\n", argv[0]);
        return 2;
    }
    if (system("openssl version >/dev/null 2>&1") != 0)
        TEST_SKIP("no openssl command line");
    tmpdir_make(dir, "client-tls");
    if (make_certificates() != 0) {
        char *log = slurp(in_dir("openssl.log"));
        fprintf(stderr, "making certificates failed:\n%s\n", log);
        free(log);
        tmpdir_remove(dir);
        REQUIRE(0);
    }
    db_create("client_tls");
    st = db_store();
    pg = db_connect();
    char claims[600];
    snprintf(claims, sizeof claims, "%s/claims.csv", argv[2]);
    test_mutual_tls(argv[1], claims);
    PQfinish(pg);
    store_close(st);
    db_drop();
    tmpdir_remove(dir);
    return test_summary();
}
