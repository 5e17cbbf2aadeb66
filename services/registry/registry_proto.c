/* Protocol pieces of the X-Road message protocol for REST (PR-REST, r1):
 * identifier parts, percent-decoding, UUIDs and the request hash. */
#include "registry.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>
#include <uuid/uuid.h>

#include "error.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* plus_is_space: the query-string rule; identifier parts keep '+' as is. */
static char *decode(const char *s, size_t len, int plus_is_space)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        /* No NUL and no control characters in identifiers or parameters. */
        if (c < 0x20 || c == 0x7f) {
            free(out);
            return NULL;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
}

char *registry_percent_decode(const char *s, size_t len) { return decode(s, len, 0); }

char *registry_query_decode(const char *s, size_t len) { return decode(s, len, 1); }

void registry_id_free(registry_id *id)
{
    for (int i = 0; i < id->n_parts; i++)
        free(id->part[i]);
    id->n_parts = 0;
}

int registry_id_parse(const char *text, size_t len, int min_parts, int max_parts,
                      registry_id *out)
{
    memset(out, 0, sizeof *out);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '/')
            continue;
        if (out->n_parts == max_parts) {
            registry_id_free(out);
            return mc_fail("more than %d parts", max_parts);
        }
        if (i == start) {
            registry_id_free(out);
            return mc_fail("part %d is empty", out->n_parts + 1);
        }
        char *part = registry_percent_decode(text + start, i - start);
        if (!part) {
            registry_id_free(out);
            return mc_fail("part %d is not valid percent-encoded text", out->n_parts + 1);
        }
        out->part[out->n_parts++] = part;
        start = i + 1;
    }
    if (out->n_parts < min_parts) {
        int n = out->n_parts;
        registry_id_free(out);
        return mc_fail("%d parts, expected at least %d", n, min_parts);
    }
    return MC_OK;
}

void registry_uuid4(char out[37])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

void registry_log_field(char *out, size_t cap, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    if (!text || !*text)
        text = "-";
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 4 < cap; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
}

/* ---- request hash ------------------------------------------------------
 *
 * PR-REST 1.0 (section 4.3, "Request hash header"): the response carries
 * X-Road-Request-Hash = base64(SHA512(SHA512(headers) + SHA512(body))), or
 * base64(SHA512(headers)) when the request has no body. The specification does
 * not spell out how "headers" are written down; we follow the serialisation the
 * X-Road security server uses for a REST request message (read, not copied, from
 * its RestRequest class), which is:
 *
 *     METHOD CRLF
 *     raw request target (path, and "?" query if any, exactly as received) CRLF
 *     Name ":" Value CRLF        for each received header, in arrival order
 *     "X-Road-Request-Id:" id CRLF   the id this response carries
 *
 * Header names keep the case they arrived in; values are trimmed of surrounding
 * white space (HTTP does not count it as part of the value). Left out are the
 * headers the protocol says a security server rewrites or drops ("Filtered
 * headers": Connection, Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE,
 * Trailer, Transfer-Encoding, Upgrade, Host, User-Agent, Server), the specially
 * handled Content-Length and Expect, and any X-Road-Request-Id or
 * X-Road-Request-Hash the client sent (the protocol says requests SHOULD NOT
 * carry them; the server's own request id is appended instead). A client can
 * therefore recompute the hash from the request it sent and the
 * X-Road-Request-Id of the answer. */

static const char *const hash_skipped[] = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "host", "user-agent", "server",
    "content-length", "expect", "x-road-request-id", "x-road-request-hash",
};

int registry_hash_skips(const char *name)
{
    for (size_t i = 0; i < sizeof hash_skipped / sizeof hash_skipped[0]; i++)
        if (strcasecmp(name, hash_skipped[i]) == 0)
            return 1;
    return 0;
}

static int hash_update(EVP_MD_CTX *ctx, const char *s)
{
    return EVP_DigestUpdate(ctx, s, strlen(s)) == 1 ? MC_OK : mc_fail("SHA-512 update failed");
}

int registry_hash_begin(registry_hash *h, const char *method, const char *raw_target)
{
    memset(h, 0, sizeof *h);
    h->headers = EVP_MD_CTX_new();
    h->body = EVP_MD_CTX_new();
    if (!h->headers || !h->body || EVP_DigestInit_ex(h->headers, EVP_sha512(), NULL) != 1 ||
        EVP_DigestInit_ex(h->body, EVP_sha512(), NULL) != 1) {
        registry_hash_free(h);
        return mc_fail("cannot start a SHA-512 digest");
    }
    if (hash_update(h->headers, method) || hash_update(h->headers, "\r\n") ||
        hash_update(h->headers, raw_target) || hash_update(h->headers, "\r\n"))
        return MC_ERR;
    return MC_OK;
}

const char *registry_trim(const char *value, size_t *len)
{
    if (!value)
        value = "";
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    *len = n;
    return value;
}

int registry_hash_header(registry_hash *h, const char *name, const char *value)
{
    if (registry_hash_skips(name))
        return MC_OK;
    size_t n = 0;
    value = registry_trim(value, &n);
    if (hash_update(h->headers, name) || hash_update(h->headers, ":") ||
        EVP_DigestUpdate(h->headers, value, n) != 1 || hash_update(h->headers, "\r\n"))
        return mc_fail("SHA-512 update failed");
    return MC_OK;
}

int registry_hash_body(registry_hash *h, const void *data, size_t n)
{
    if (n == 0)
        return MC_OK;
    h->body_bytes += n;
    return EVP_DigestUpdate(h->body, data, n) == 1 ? MC_OK : mc_fail("SHA-512 update failed");
}

int registry_hash_end(registry_hash *h, const char *request_id, char out[89])
{
    unsigned char head[SHA512_DIGEST_LENGTH], both[2 * SHA512_DIGEST_LENGTH];
    unsigned char final[SHA512_DIGEST_LENGTH];
    unsigned int n = 0;
    if (hash_update(h->headers, "X-Road-Request-Id:") || hash_update(h->headers, request_id) ||
        hash_update(h->headers, "\r\n"))
        return MC_ERR;
    if (EVP_DigestFinal_ex(h->headers, head, &n) != 1)
        return mc_fail("SHA-512 final failed");
    if (h->body_bytes == 0) {
        memcpy(final, head, sizeof final);
    } else {
        memcpy(both, head, sizeof head);
        if (EVP_DigestFinal_ex(h->body, both + SHA512_DIGEST_LENGTH, &n) != 1 ||
            EVP_Digest(both, sizeof both, final, &n, EVP_sha512(), NULL) != 1)
            return mc_fail("SHA-512 final failed");
    }
    EVP_EncodeBlock((unsigned char *)out, final, SHA512_DIGEST_LENGTH);
    return MC_OK;
}

void registry_hash_free(registry_hash *h)
{
    EVP_MD_CTX_free(h->headers);
    EVP_MD_CTX_free(h->body);
    h->headers = h->body = NULL;
}
