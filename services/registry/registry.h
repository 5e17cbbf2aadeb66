/* mowcheck-registry: the bundled claims registry behind an X-Road-style
 * exchange layer (X-Road message protocol for REST, r1). For development,
 * tests and demos; production talks to the agency's security server.
 *
 * registry_claims.c  claims: CSV / PostgreSQL loading, validation, lookup, JSON
 * registry_proto.c   protocol pieces: identifiers, percent-decoding, request hash
 * registry_server.c  the HTTP server (libmicrohttpd), services, faults, TLS
 * registry_main.c    command line, signals */
#ifndef MOWCHECK_REGISTRY_H
#define MOWCHECK_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

/* ---- claims ---------------------------------------------------------- */

typedef struct registry_claim {
    char *claim_id;
    char *parcel_id;
    int season;
    char *applicant; /* pseudonymous code */
    char *scheme;
    char window_start[11]; /* YYYY-MM-DD */
    char window_end[11];
    int min_mowings;
    double declared_area_ha;
} registry_claim;

typedef struct registry_claims {
    registry_claim *items; /* sorted by (parcel_id, season, claim_id) */
    size_t count;
} registry_claims;

/* 1: load claims without checking the windows' dates and order or that claim ids are
 * unique (--unchecked-data: a registry with bad data, for tests of the client). */
extern int registry_claims_unchecked;

/* Loads and validates a claims CSV (header required, columns by name; unknown
 * columns ignored; min_mowings optional, default 1). Any bad row refuses the
 * whole file with a message naming the file, line and column. */
int registry_claims_load_csv(registry_claims *out, const char *path);

/* The same from a PostgreSQL table with the same columns (read once, at start). */
int registry_claims_load_pg(registry_claims *out, const char *dsn, const char *table);

void registry_claims_free(registry_claims *c);

/* Claims of one parcel in one season: *first and the number found (0 if none). */
size_t registry_claims_find(const registry_claims *c, const char *parcel_id, int season,
                            const registry_claim **first);

/* Output field selection: a bit per claim field, in DESIGN.md order. */
enum { REGISTRY_FIELD_COUNT = 9 };
extern const char *const registry_field_names[REGISTRY_FIELD_COUNT];
#define REGISTRY_FIELDS_ALL ((1u << REGISTRY_FIELD_COUNT) - 1u)

/* A new JSON object with the selected fields of one claim. */
json_t *registry_claim_json(const registry_claim *c, unsigned fields);

/* Field checks shared by CSV and PostgreSQL loading (exposed for tests). */
int registry_parse_date(const char *text, char out[11]); /* YYYY-MM-DD, real date */
int registry_parse_int(const char *text, long min, long max, long *out);

/* ---- protocol -------------------------------------------------------- */

/* Decodes one percent-encoded identifier part (no '+' rule, no NUL, no control
 * characters). Returns a malloc'd string or NULL if malformed. */
char *registry_percent_decode(const char *s, size_t len);

/* Decodes a query-string component ('+' is a space). NULL if malformed. */
char *registry_query_decode(const char *s, size_t len);

/* An X-Road identifier split into its decoded parts. */
typedef struct registry_id {
    char *part[5];
    int n_parts;
} registry_id;

void registry_id_free(registry_id *id);

/* Splits "A/B/C[/D...]" on '/' and percent-decodes each part; min..max parts,
 * each non-empty. MC_ERR with a message if malformed. */
int registry_id_parse(const char *text, size_t len, int min_parts, int max_parts,
                      registry_id *out);

/* A fresh random UUID (version 4), lower case, into out[37]. */
void registry_uuid4(char out[37]);

/* The request hash of the X-Road message protocol for REST (see registry_proto.c). */
typedef struct registry_hash {
    EVP_MD_CTX *headers; /* over the serialised request line and headers */
    EVP_MD_CTX *body;    /* over the body, if any */
    size_t body_bytes;
} registry_hash;

int registry_hash_begin(registry_hash *h, const char *method, const char *raw_target);
/* Adds one received header unless it is one the protocol filters out. */
int registry_hash_header(registry_hash *h, const char *name, const char *value);
int registry_hash_body(registry_hash *h, const void *data, size_t n);
/* Appends the X-Road-Request-Id header and writes base64(hash) (89 bytes with NUL). */
int registry_hash_end(registry_hash *h, const char *request_id, char out[89]);
void registry_hash_free(registry_hash *h);
/* A header value without surrounding spaces and tabs: start, and length in *len. */
const char *registry_trim(const char *value, size_t *len);
/* 1 if the header is left out of the hash (hop-by-hop, host, ...). */
int registry_hash_skips(const char *name);

/* Copies text for a one-line log field: spaces, control and non-ASCII bytes
 * become %XX, an empty or NULL string becomes "-", at most cap-1 bytes. */
void registry_log_field(char *out, size_t cap, const char *text);

/* ---- server ---------------------------------------------------------- */

typedef enum {
    FAULT_NONE = 0,
    FAULT_DELAY,          /* answer normally, after --delay-ms */
    FAULT_TIMEOUT,        /* hold the request, never answer (until stopped) */
    FAULT_SERVER_ERROR,   /* 500 + X-Road-Error: Server.ServerProxy.InternalError */
    FAULT_ACCESS_DENIED,  /* X-Road-Error: Server.ServerProxy.AccessDenied */
    FAULT_MALFORMED_JSON, /* 200 with a broken JSON body */
    FAULT_REGISTRY_404,   /* the registry's own 404, no X-Road-Error */
    FAULT_REGISTRY_500    /* the registry's own 500, no X-Road-Error */
} registry_fault;

int registry_fault_parse(const char *name, registry_fault *out);
const char *registry_fault_name(registry_fault f);

typedef struct registry_config {
    registry_id member;      /* INSTANCE/CLASS/MEMBER/SUBSYSTEM served */
    char *listen_host;       /* numeric address */
    int listen_port;         /* 0 = any free port */
    const char *port_file;   /* write the bound port here, if set */
    const char *openapi_path;
    const char *tls_cert, *tls_key, *client_ca; /* all three or none */
    registry_fault fault;
    long fault_rate;         /* fault every Nth service request (1 = every one) */
    long delay_ms;           /* for FAULT_DELAY; for FAULT_TIMEOUT how long to hold */
    long max_parcels;        /* parcels per claims request */
} registry_config;

typedef struct registry_server registry_server;

/* Starts the server on its own threads; *out receives it. */
int registry_server_start(const registry_config *cfg, const registry_claims *claims,
                          registry_server **out);
int registry_server_port(const registry_server *s);
/* Releases held requests, stops the threads, frees everything. */
void registry_server_stop(registry_server *s);

#endif
