/* The claims registry, asked through the data-exchange layer (X-Road message
 * protocol for REST; see DESIGN.md "Registry"). One narrow door: the decide stage
 * asks for the claims of a list of parcels and gets claims back, plus the parcels
 * whose answer could not be had (→ outcome `error`, retried next night).
 *
 * Every request attempt is written to the append-only audit log (who asked, why,
 * about which parcels, the exchange ids and hash of the answer, status, error). */
#ifndef MOWCHECK_REGISTRY_CLIENT_H
#define MOWCHECK_REGISTRY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "text_check.h"

typedef struct registry_claim {
    char claim_id[MC_ID_MAX + 1];
    char parcel_id[MC_ID_MAX + 1];
    int season;
    char applicant[64];      /* pseudonymous code: no names, no addresses */
    char scheme[64];
    char window_start[11];   /* YYYY-MM-DD */
    char window_end[11];
    int min_mowings;
    double declared_area_ha;
    char invalid[300];       /* why the claim fails validation ("" where valid): the
                              * claim alone gets `error`, the rest of its batch is decided */
} registry_claim;

typedef struct registry_config {
    const char *base_url;   /* security server, e.g. https://ss.agency.example or http://127.0.0.1:8480 */
    const char *service;    /* INSTANCE/CLASS/MEMBER/SUBSYSTEM of the registry, e.g. EE/GOV/70000000/registry */
    const char *client;     /* our X-Road-Client, e.g. EE/GOV/70000001/mowcheck */
    const char *user_id;    /* X-Road-UserId: the responsible official, e.g. EE38001010000 */
    const char *tls_cert, *tls_key, *tls_ca; /* mutual TLS; NULL/"" where plain HTTP on loopback */
    long timeout_ms;        /* per request */
    int max_attempts;       /* retries of exchange-layer errors and timeouts, with backoff */
    long backoff_ms;        /* first backoff; doubles per attempt */
    size_t max_url_bytes;   /* parcel ids are batched so each URL stays within this */
    size_t max_parcels;     /* and at most this many per request; 0: 1000 (the service's limit) */
    int breaker_failures;   /* after this many failed attempts in a row, nothing more is
                             * asked this run: the rest is `error` (0: 8) */
    int allow_plain_http;   /* 1: http:// although a client certificate is configured
                             * (development only); 0: that is refused */
} registry_config;

/* Checks the configuration before anything is asked (registry_fetch_claims does
 * too): URL, identity, TLS settings. MC_ERR with a message saying what to fix. */
int registry_check_config(const registry_config *cfg);

typedef struct registry_answer {
    registry_claim *claims;
    size_t n_claims;
    char **failed_parcels;   /* parcels whose batch failed after all retries */
    size_t n_failed;
    char failure[512];       /* the last failure, for the operator ("" if none) */
    int breaker_open;        /* the circuit breaker stopped the asking */
} registry_answer;

/* Asks for the claims of the given parcels in one season. `issue` is the run id or
 * case number that caused the request (X-Road-Issue); `purpose` says why, for the
 * audit log and the farmer's access log. Returns MC_ERR only for failures of our own
 * (bad configuration, database); registry and exchange failures end up in
 * answer->failed_parcels with MC_OK, a claim that fails validation in
 * answer->claims with its `invalid` reason. A claim id may come more than once
 * (in two batches): the caller decides what that means. */
int registry_fetch_claims(const registry_config *cfg, store *s, int64_t run_id,
                          const char *issue, const char *purpose, int season,
                          const char *const *parcel_ids, size_t n_parcels,
                          registry_answer *answer);

void registry_answer_free(registry_answer *answer);

#endif
