#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "error.h"

/* SETTING_DOUBLE_OR_UNSET: a number in its bounds, or empty (the default here): NAN,
 * "not set", for settings whose absence means something (the model's own value, no
 * estimate). */
typedef enum {
    SETTING_STRING,
    SETTING_INT,
    SETTING_INT64,
    SETTING_DOUBLE,
    SETTING_DOUBLE_OR_UNSET
} setting_type;

typedef struct setting_def {
    const char *name;
    setting_type type;
    size_t offset;
    const char *default_value;
    double min, max; /* numeric bounds, inclusive */
} setting_def;

#define FIELD(f) offsetof(mc_settings, f)
static const setting_def setting_defs[] = {
    {"db", SETTING_STRING, FIELD(db), "", 0, 0},
    {"state_dir", SETTING_STRING, FIELD(state_dir), "", 0, 0},
    {"config", SETTING_STRING, FIELD(config), "", 0, 0},
    {"device", SETTING_STRING, FIELD(device), "auto", 0, 0},
    {"threads", SETTING_INT, FIELD(threads), "0", 0, 4096},
    {"id_field", SETTING_STRING, FIELD(id_field), "parcel_id", 0, 0},
    {"inner_buffer_m", SETTING_DOUBLE, FIELD(inner_buffer_m), "10", 0, 1000},
    {"parcel_overlap_share", SETTING_DOUBLE, FIELD(parcel_overlap_share), "0.1", 0.001, 1},
    {"min_valid_pixels", SETTING_INT64, FIELD(min_valid_pixels), "5", 1, 1e12},
    {"min_valid_share", SETTING_DOUBLE, FIELD(min_valid_share), "0.5", 0, 1},
    {"scl_valid_classes", SETTING_STRING, FIELD(scl_valid_classes), "4,5", 0, 0},
    {"model", SETTING_STRING, FIELD(model), "", 0, 0},
    {"approval_min_confidence", SETTING_DOUBLE_OR_UNSET, FIELD(approval_min_confidence), "",
     1e-6, 1},
    {"cpu_watts_per_core", SETTING_DOUBLE_OR_UNSET, FIELD(cpu_watts_per_core), "", 0.001, 1000},
    {"registry_url", SETTING_STRING, FIELD(registry_url), "", 0, 0},
    {"registry_service", SETTING_STRING, FIELD(registry_service), "EE/GOV/70000000/registry", 0, 0},
    {"registry_client", SETTING_STRING, FIELD(registry_client), "EE/GOV/70000001/mowcheck", 0, 0},
    {"registry_user_id", SETTING_STRING, FIELD(registry_user_id), "", 0, 0},
    {"registry_tls_cert", SETTING_STRING, FIELD(registry_tls_cert), "", 0, 0},
    {"registry_tls_key", SETTING_STRING, FIELD(registry_tls_key), "", 0, 0},
    {"registry_tls_ca", SETTING_STRING, FIELD(registry_tls_ca), "", 0, 0},
    {"registry_timeout_ms", SETTING_INT, FIELD(registry_timeout_ms), "10000", 1, 3600000},
    {"registry_max_attempts", SETTING_INT, FIELD(registry_max_attempts), "4", 1, 20},
    {"registry_backoff_ms", SETTING_INT, FIELD(registry_backoff_ms), "500", 0, 600000},
    {"registry_max_url_bytes", SETTING_INT, FIELD(registry_max_url_bytes), "4000", 256, 1000000},
    {"registry_breaker_failures", SETTING_INT, FIELD(registry_breaker_failures), "8", 1, 1000},
    {"registry_allow_plain_http", SETTING_INT, FIELD(registry_allow_plain_http), "0", 0, 1},
};
#undef FIELD
enum { N_SETTINGS = sizeof setting_defs / sizeof setting_defs[0] };

static const setting_def *find_def(const char *name)
{
    char canonical[64];
    size_t len = strlen(name);
    if (len >= sizeof canonical)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        canonical[i] = name[i] == '-' ? '_' : name[i];
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp(setting_defs[i].name, canonical) == 0)
            return &setting_defs[i];
    return NULL;
}

int settings_known(const char *name) { return find_def(name) != NULL; }

/* Edit distance (insertions, deletions, substitutions) of two short names, '-' = '_'. */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAX = 64 };
    size_t la = strlen(a), lb = strlen(b), row[MAX + 1];
    if (la > MAX || lb > MAX)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            char ca = a[i - 1] == '-' ? '_' : a[i - 1], cb = b[j - 1] == '-' ? '_' : b[j - 1];
            size_t best = diag + (ca != cb);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = row[j];
            row[j] = best;
        }
    }
    return row[lb];
}

const char *settings_nearest(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        size_t d = edit_distance(name, setting_defs[i].name);
        if (d < best_d) {
            best_d = d;
            best = setting_defs[i].name;
        }
    }
    /* A suggestion only where it is plausibly a slip: a third of the name at most. */
    return best && best_d <= 1 + strlen(name) / 3 ? best : NULL;
}

static int parse_number(const setting_def *d, const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    while (*end && isspace((unsigned char)*end))
        end++;
    if (errno != 0 || end == value || *end != '\0' || !isfinite(v))
        return mc_fail("setting %s: '%s' is not a number", d->name, value);
    if ((d->type == SETTING_INT || d->type == SETTING_INT64) && v != floor(v))
        return mc_fail("setting %s: '%s' is not a whole number", d->name, value);
    if (v < d->min || v > d->max)
        return mc_fail("setting %s: %s is outside %g..%g", d->name, value, d->min, d->max);
    *out = v;
    return MC_OK;
}

static int apply(mc_settings *s, const setting_def *d, const char *value)
{
    void *field = (char *)s + d->offset;
    double v = 0;
    switch (d->type) {
    case SETTING_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return mc_fail("out of memory");
        free(*(char **)field);
        *(char **)field = copy;
        return MC_OK;
    }
    case SETTING_INT:
        if (parse_number(d, value, &v) != MC_OK)
            return MC_ERR;
        *(int *)field = (int)v;
        return MC_OK;
    case SETTING_INT64:
        if (parse_number(d, value, &v) != MC_OK)
            return MC_ERR;
        *(int64_t *)field = (int64_t)v;
        return MC_OK;
    case SETTING_DOUBLE_OR_UNSET:
        if (!*value) {
            *(double *)field = NAN;
            return MC_OK;
        }
        __attribute__((fallthrough)); /* a number like any other */
    case SETTING_DOUBLE:
        if (parse_number(d, value, &v) != MC_OK)
            return MC_ERR;
        *(double *)field = v;
        return MC_OK;
    }
    return mc_fail("setting %s: unknown type", d->name);
}

int settings_set(mc_settings *s, const char *name, const char *value)
{
    const setting_def *d = find_def(name);
    if (!d)
        return mc_fail("unknown setting '%s'", name);
    return apply(s, d, value);
}

static char *trim(char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return p;
}

/* The file: `name = value` lines; '#' starts a comment; [section] lines are allowed
 * (for the reader's order only). A name that is no setting is refused with its line,
 * like the same slip as a flag, since a silently ignored misspelling leaves the
 * default in force. */
static int load_file(mc_settings *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return mc_fail("config %s: %s", path, strerror(errno));
    char line[4096];
    int line_no = 0;
    int status = MC_OK;
    while (status == MC_OK && fgets(line, sizeof line, f)) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *text = trim(line);
        if (*text == '\0' || *text == '[')
            continue;
        char *eq = strchr(text, '=');
        if (!eq) {
            status = mc_fail("config %s:%d: expected 'name = value'", path, line_no);
            break;
        }
        *eq = '\0';
        char *name = trim(text);
        char *value = trim(eq + 1);
        if (!find_def(name)) {
            const char *near = settings_nearest(name);
            status = mc_fail("config %s:%d: unknown setting '%s'%s%s%s", path, line_no, name,
                             near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
            break;
        }
        if (settings_set(s, name, value) != MC_OK)
            status = mc_fail_wrap("config %s:%d", path, line_no);
    }
    fclose(f);
    return status;
}

static int load_env(mc_settings *s)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char env_name[80] = "MOWCHECK_";
        size_t len = strlen(env_name);
        for (const char *c = setting_defs[i].name; *c && len + 1 < sizeof env_name; c++)
            env_name[len++] = (char)toupper((unsigned char)*c);
        env_name[len] = '\0';
        const char *value = getenv(env_name);
        if (value && apply(s, &setting_defs[i], value) != MC_OK)
            return mc_fail_wrap("environment %s", env_name);
    }
    return MC_OK;
}

int settings_load(mc_settings *s, const char *config_path)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (apply(s, &setting_defs[i], setting_defs[i].default_value) != MC_OK)
            return MC_ERR;
    if (!config_path || !*config_path)
        config_path = getenv("MOWCHECK_CONFIG");
    if (config_path && *config_path) {
        if (load_file(s, config_path) != MC_OK)
            return MC_ERR;
        if (settings_set(s, "config", config_path) != MC_OK)
            return MC_ERR;
    }
    return load_env(s);
}

void settings_free(mc_settings *s)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (setting_defs[i].type == SETTING_STRING) {
            char **field = (char **)((char *)s + setting_defs[i].offset);
            free(*field);
            *field = NULL;
        }
}

int settings_device(const mc_settings *s, kernel_device *device)
{
    if (strcmp(s->device, "auto") == 0)
        *device = KERNEL_DEVICE_AUTO;
    else if (strcmp(s->device, "cpu") == 0)
        *device = KERNEL_DEVICE_CPU;
    else if (strcmp(s->device, "cuda") == 0)
        *device = KERNEL_DEVICE_CUDA;
    else
        return mc_fail("device '%s': expected auto, cpu or cuda", s->device);
    return MC_OK;
}

int settings_scl_mask(const mc_settings *s, uint16_t *mask)
{
    uint16_t m = 0;
    const char *p = s->scl_valid_classes;
    while (*p) {
        char *end;
        long c = strtol(p, &end, 10);
        if (end == p || c < 0 || c > 11)
            return mc_fail("scl_valid_classes '%s': expected SCL classes 0..11 separated by commas",
                           s->scl_valid_classes);
        m |= (uint16_t)(1u << c);
        p = end;
        while (*p == ' ' || *p == ',')
            p++;
    }
    if (m == 0)
        return mc_fail("scl_valid_classes is empty: no pixel could ever count");
    *mask = m;
    return MC_OK;
}

int settings_state_dir(const mc_settings *s, char *buf, size_t size)
{
    int n;
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (s->state_dir && *s->state_dir)
        n = snprintf(buf, size, "%s", s->state_dir);
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/mowcheck", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.local/state/mowcheck", home);
    else
        return mc_fail("no state directory: set --state-dir, MOWCHECK_STATE_DIR or HOME");
    if (n < 0 || (size_t)n >= size)
        return mc_fail("state directory path too long");
    return MC_OK;
}

/* ---- checks before any stage runs ---- */

static int readable_file(const char *setting, const char *path, FILE **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return mc_fail("%s %s: %s", setting, path, strerror(errno));
    *out = f;
    return MC_OK;
}

static int load_certificate(const char *setting, const char *path, X509 **cert)
{
    FILE *f = NULL;
    if (readable_file(setting, path, &f) != MC_OK)
        return MC_ERR;
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (!*cert)
        return mc_fail("%s %s: not a PEM certificate", setting, path);
    return MC_OK;
}

/* Mutual TLS that cannot work fails every registry request of the night: the files
 * must be there, parse, and the key must belong to the certificate. */
static int check_tls(const mc_settings *s)
{
    const char *cert_path = s->registry_tls_cert, *key_path = s->registry_tls_key;
    if (*key_path && !*cert_path)
        return mc_fail("registry_tls_key is set but registry_tls_cert is not");
    if (*cert_path && !*key_path)
        return mc_fail("registry_tls_cert is set but registry_tls_key is not");
    if (*s->registry_tls_ca) {
        X509 *ca = NULL;
        if (load_certificate("registry_tls_ca", s->registry_tls_ca, &ca) != MC_OK)
            return MC_ERR;
        X509_free(ca);
    }
    if (!*cert_path)
        return MC_OK;
    X509 *cert = NULL;
    if (load_certificate("registry_tls_cert", cert_path, &cert) != MC_OK)
        return MC_ERR;
    FILE *f = NULL;
    if (readable_file("registry_tls_key", key_path, &f) != MC_OK) {
        X509_free(cert);
        return MC_ERR;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    int rc = MC_OK;
    if (!key)
        rc = mc_fail("registry_tls_key %s: not a PEM private key (or it needs a passphrase)",
                     key_path);
    else if (X509_check_private_key(cert, key) != 1)
        rc = mc_fail("registry_tls_key %s does not match the certificate registry_tls_cert %s",
                     key_path, cert_path);
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

int settings_check_registry(const mc_settings *s, const char *url)
{
    if (!url || !*url)
        url = s->registry_url;
    if (!*url)
        return mc_fail("no registry URL: give --registry URL or the registry_url setting");
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return mc_fail("registry URL '%s': expected http:// or https://", url);
    if (!*s->registry_user_id)
        return mc_fail("registry_user_id is not set: every registry query names the responsible "
                       "official (X-Road-UserId)");
    return check_tls(s);
}

int settings_check_common(const mc_settings *s)
{
    kernel_device device;
    uint16_t mask;
    char dir[4096];
    if (settings_device(s, &device) != MC_OK || settings_scl_mask(s, &mask) != MC_OK)
        return MC_ERR;
    if (!*s->db && settings_state_dir(s, dir, sizeof dir) != MC_OK)
        return MC_ERR;
    if (*s->model) {
        FILE *f = NULL;
        if (readable_file("model", s->model, &f) != MC_OK)
            return MC_ERR;
        fclose(f);
    }
    return MC_OK;
}
