/* mowcheck-registry: command line, start, wait for SIGTERM/SIGINT, stop. */
#include "registry.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_dir.h"
#include "error.h"

/* Installed beside the binary (share/mowcheck/), else the source tree's. */
#define MOWCHECK_REGISTRY_OPENAPI mc_data_file("schemas/registry-openapi.json")

enum { EXIT_USAGE = 2, EXIT_START = 3 };

static const char usage[] =
    "usage: mowcheck-registry (--claims FILE | --claims-db DSN [--claims-table NAME])\n"
    "                         [--listen HOST:PORT] [--member INSTANCE/CLASS/MEMBER/SUBSYSTEM]\n"
    "                         [--tls-cert FILE --tls-key FILE --client-ca FILE]\n"
    "                         [--fault KIND [--fault-rate N] [--delay-ms N]]\n"
    "                         [--openapi FILE] [--port-file FILE] [--max-parcels N]\n"
    "                         [--unchecked-data]\n"
    "\n"
    "A claims registry behind the X-Road message protocol for REST (r1), for\n"
    "development, tests and demos. Services: claims, listMethods, allowedMethods,\n"
    "getOpenAPI. Prints its access log on stdout (time peer client X-Road-Id method\n"
    "target status), nothing else; stops cleanly on SIGTERM or SIGINT.\n"
    "\n"
    "  --claims FILE        claims CSV (header: claim_id,parcel_id,season,applicant,scheme,\n"
    "                       window_start,window_end,min_mowings,declared_area_ha)\n"
    "  --claims-db DSN      read the claims from PostgreSQL instead (once, at start)\n"
    "  --claims-table NAME  table (or schema.table) with the same columns (default claims)\n"
    "  --listen HOST:PORT   numeric address (default 127.0.0.1:0); port 0 picks a free\n"
    "                       port and prints \"listening on HOST:PORT\" once\n"
    "  --port-file FILE     write the bound port to FILE\n"
    "  --member ID          the subsystem served (default EE/GOV/70000000/registry)\n"
    "  --tls-cert/--tls-key/--client-ca  HTTPS; clients must present a certificate\n"
    "                       signed by the client CA (mutual TLS)\n"
    "  --fault KIND         delay, timeout, server-error, access-denied, malformed-json,\n"
    "                       registry-404, registry-500 (applies to the claims service)\n"
    "  --unchecked-data     serve the claims as the file has them: dates that are no\n"
    "                       dates, windows ending before they start, one claim_id for\n"
    "                       two parcels (a registry with bad data, for tests)\n"
    "  --fault-rate N       fault only every Nth claims request (default 1: all)\n"
    "  --delay-ms N         delay of the delay fault (default 1000); how long the\n"
    "                       timeout fault holds a request (default 1 hour)\n"
    "  --max-parcels N      parcels accepted in one claims request (default 1000)\n"
    "More: man mowcheck.\n";

static void fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "mowcheck-registry: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see mowcheck-registry --help)\n");
    exit(EXIT_USAGE);
}

static long number_arg(const char *name, const char *text, long min, long max)
{
    long v = 0;
    if (registry_parse_int(text, min, max, &v)) {
        fprintf(stderr, "mowcheck-registry: error: %s: %s\n", name, mc_error_message());
        exit(EXIT_USAGE);
    }
    return v;
}

/* "127.0.0.1:8080" or "[::1]:8080". */
static void parse_listen(registry_config *c, const char *text)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        fail_usage("--listen %s: expected HOST:PORT", text);
    const char *host = text;
    size_t host_len = (size_t)(colon - text);
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    free(c->listen_host);
    c->listen_host = strndup(host, host_len);
    c->listen_port = (int)number_arg("--listen port", colon + 1, 0, 65535);
}

typedef struct options {
    const char *claims, *claims_db, *claims_table, *member;
} options;

static void parse_args(int argc, char **argv, registry_config *c, options *o)
{
    static const struct option longs[] = {
        {"claims", required_argument, 0, 'c'},   {"claims-db", required_argument, 0, 'D'},
        {"claims-table", required_argument, 0, 'T'}, {"listen", required_argument, 0, 'l'},
        {"member", required_argument, 0, 'm'},   {"tls-cert", required_argument, 0, 'C'},
        {"tls-key", required_argument, 0, 'K'},  {"client-ca", required_argument, 0, 'A'},
        {"fault", required_argument, 0, 'f'},    {"fault-rate", required_argument, 0, 'r'},
        {"delay-ms", required_argument, 0, 'd'}, {"openapi", required_argument, 0, 'o'},
        {"port-file", required_argument, 0, 'p'}, {"max-parcels", required_argument, 0, 'n'},
        {"unchecked-data", no_argument, 0, 'U'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    long delay_ms = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': o->claims = optarg; break;
        case 'D': o->claims_db = optarg; break;
        case 'T': o->claims_table = optarg; break;
        case 'l': parse_listen(c, optarg); break;
        case 'm': o->member = optarg; break;
        case 'C': c->tls_cert = optarg; break;
        case 'K': c->tls_key = optarg; break;
        case 'A': c->client_ca = optarg; break;
        case 'f':
            if (registry_fault_parse(optarg, &c->fault))
                fail_usage("--fault: %s", mc_error_message());
            break;
        case 'r': c->fault_rate = number_arg("--fault-rate", optarg, 1, 1000000); break;
        case 'd': delay_ms = number_arg("--delay-ms", optarg, 0, 86400000); break;
        case 'o': c->openapi_path = optarg; break;
        case 'p': c->port_file = optarg; break;
        case 'n': c->max_parcels = number_arg("--max-parcels", optarg, 1, 100000); break;
        case 'U': registry_claims_unchecked = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fail_usage("%s", "bad option");
        }
    }
    if (optind < argc)
        fail_usage("unexpected argument %s", argv[optind]);
    if (!o->claims == !o->claims_db)
        fail_usage("%s", "give exactly one of --claims FILE and --claims-db DSN");
    if (!c->tls_cert != !c->tls_key || !c->tls_cert != !c->client_ca)
        fail_usage("%s", "--tls-cert, --tls-key and --client-ca go together (mutual TLS)");
    c->delay_ms = delay_ms >= 0 ? delay_ms : c->fault == FAULT_TIMEOUT ? 3600000L : 1000L;
    if (registry_id_parse(o->member, strlen(o->member), 4, 4, &c->member))
        fail_usage("--member: %s (INSTANCE/CLASS/MEMBER/SUBSYSTEM)", mc_error_message());
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        return mc_fail("%s: cannot write the port file", path);
    return MC_OK;
}

/* Loads the claims, starts serving, waits for a stop signal. */
static int run(registry_config *c, const options *o, const sigset_t *stop_signals)
{
    registry_claims claims;
    int rc = o->claims ? registry_claims_load_csv(&claims, o->claims)
                       : registry_claims_load_pg(&claims, o->claims_db, o->claims_table);
    if (rc)
        return MC_ERR;
    registry_server *srv = NULL;
    rc = registry_server_start(c, &claims, &srv);
    if (rc == MC_OK && c->port_file)
        rc = write_port_file(c->port_file, registry_server_port(srv));
    if (rc == MC_OK) {
        if (c->listen_port == 0) {
            printf(strchr(c->listen_host, ':') ? "listening on [%s]:%d\n" : "listening on %s:%d\n",
                   c->listen_host, registry_server_port(srv));
            fflush(stdout);
        }
        int sig = 0;
        sigwait(stop_signals, &sig);
    }
    registry_server_stop(srv);
    registry_claims_free(&claims);
    return rc;
}

int main(int argc, char **argv)
{
    registry_config cfg = {.listen_host = strdup("127.0.0.1"),
                           .openapi_path = MOWCHECK_REGISTRY_OPENAPI,
                           .fault_rate = 1,
                           .max_parcels = 1000};
    options o = {.claims_table = "claims", .member = "EE/GOV/70000000/registry"};
    parse_args(argc, argv, &cfg, &o);

    /* Block the stop signals in every thread (the server's threads inherit the
     * mask) and take them with sigwait in this one. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = run(&cfg, &o, &stop_signals);
    if (rc != MC_OK)
        fprintf(stderr, "mowcheck-registry: error: %s\n", mc_error_message());
    registry_id_free(&cfg.member);
    free(cfg.listen_host);
    return rc == MC_OK ? 0 : EXIT_START;
}
