/* Claims of the bundled registry: loading from CSV or PostgreSQL, validation,
 * lookup by parcel and season, JSON output. Everything is read once at start;
 * a bad row refuses the whole source, so the service never serves half a file. */
#include "registry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"

const char *const registry_field_names[REGISTRY_FIELD_COUNT] = {
    "claim_id", "parcel_id", "season", "applicant", "scheme",
    "window_start", "window_end", "min_mowings", "declared_area_ha",
};
enum {
    F_CLAIM_ID, F_PARCEL_ID, F_SEASON, F_APPLICANT, F_SCHEME,
    F_WINDOW_START, F_WINDOW_END, F_MIN_MOWINGS, F_AREA
};

/* ---- field checks ------------------------------------------------------ */

int registry_parse_int(const char *text, long min, long max, long *out)
{
    if (!text || !*text)
        return mc_fail("empty, expected a whole number");
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end != '\0' || end == text)
        return mc_fail("\"%s\" is not a whole number", text);
    if (v < min || v > max)
        return mc_fail("%ld is outside %ld..%ld", v, min, max);
    *out = v;
    return MC_OK;
}

int registry_claims_unchecked = 0;

/* The window date as the file has it (--unchecked-data): any text of 1..10 bytes. */
static int copy_unchecked_date(const char *text, char out[11])
{
    if (!text || !*text || strlen(text) > 10)
        return mc_fail("\"%s\" is not 1 to 10 bytes", text ? text : "");
    memcpy(out, text, strlen(text) + 1);
    return MC_OK;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int registry_parse_date(const char *text, char out[11])
{
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return mc_fail("\"%s\" is not a date YYYY-MM-DD", text ? text : "");
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
            return mc_fail("\"%s\" is not a date YYYY-MM-DD", text);
    int y = atoi(text), m = atoi(text + 5), d = atoi(text + 8);
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return mc_fail("\"%s\" is not a calendar date", text);
    memcpy(out, text, 11);
    return MC_OK;
}

static int parse_area(const char *text, double *out)
{
    if (!text || !*text)
        return mc_fail("empty, expected an area in hectares");
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end != '\0' || !isfinite(v) || v < 0)
        return mc_fail("\"%s\" is not an area in hectares (a number >= 0)", text);
    *out = v;
    return MC_OK;
}

static int check_text(const char *text, const char *what)
{
    if (!text || !*text)
        return mc_fail("%s is empty", what);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return mc_fail("%s contains a control character", what);
    json_t *utf8 = json_string(text); /* NULL unless valid UTF-8 */
    if (!utf8)
        return mc_fail("%s is not valid UTF-8", what);
    json_decref(utf8);
    return MC_OK;
}

/* Fills *c from the column texts (NULL = column absent or SQL NULL). On failure
 * the message names the column; the caller adds file and line. */
static int claim_from_fields(registry_claim *c, const char *const v[REGISTRY_FIELD_COUNT])
{
    long season = 0, mowings = 1;
    memset(c, 0, sizeof *c);
    for (int f = F_CLAIM_ID; f <= F_SCHEME; f++)
        if (f != F_SEASON && check_text(v[f], registry_field_names[f]))
            return MC_ERR;
    if (registry_parse_int(v[F_SEASON], 1900, 9999, &season))
        return mc_fail_wrap("season");
    int (*date)(const char *, char[11]) =
        registry_claims_unchecked ? copy_unchecked_date : registry_parse_date;
    if (date(v[F_WINDOW_START], c->window_start))
        return mc_fail_wrap("window_start");
    if (date(v[F_WINDOW_END], c->window_end))
        return mc_fail_wrap("window_end");
    if (!registry_claims_unchecked && strcmp(c->window_start, c->window_end) > 0)
        return mc_fail("window_end %s is before window_start %s", c->window_end,
                       c->window_start);
    if (v[F_MIN_MOWINGS] && *v[F_MIN_MOWINGS] &&
        registry_parse_int(v[F_MIN_MOWINGS], 1, 100, &mowings))
        return mc_fail_wrap("min_mowings");
    if (parse_area(v[F_AREA], &c->declared_area_ha))
        return mc_fail_wrap("declared_area_ha");
    c->season = (int)season;
    c->min_mowings = (int)mowings;
    c->claim_id = strdup(v[F_CLAIM_ID]);
    c->parcel_id = strdup(v[F_PARCEL_ID]);
    c->applicant = strdup(v[F_APPLICANT]);
    c->scheme = strdup(v[F_SCHEME]);
    if (!c->claim_id || !c->parcel_id || !c->applicant || !c->scheme)
        return mc_fail("out of memory");
    return MC_OK;
}

static void claim_free(registry_claim *c)
{
    free(c->claim_id);
    free(c->parcel_id);
    free(c->applicant);
    free(c->scheme);
}

void registry_claims_free(registry_claims *c)
{
    for (size_t i = 0; i < c->count; i++)
        claim_free(&c->items[i]);
    free(c->items);
    c->items = NULL;
    c->count = 0;
}

static int claims_push(registry_claims *c, size_t *cap, const registry_claim *claim)
{
    if (c->count == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        registry_claim *p = realloc(c->items, n * sizeof *p);
        if (!p)
            return mc_fail("out of memory");
        c->items = p;
        *cap = n;
    }
    c->items[c->count++] = *claim;
    return MC_OK;
}

static int by_claim_id(const void *a, const void *b)
{
    return strcmp((*(registry_claim *const *)a)->claim_id, (*(registry_claim *const *)b)->claim_id);
}

static int by_parcel(const void *a, const void *b)
{
    const registry_claim *x = a, *y = b;
    int r = strcmp(x->parcel_id, y->parcel_id);
    if (r == 0)
        r = (x->season > y->season) - (x->season < y->season);
    return r ? r : strcmp(x->claim_id, y->claim_id);
}

/* Refuses duplicate claim ids (naming both rows), then sorts for lookup.
 * where[i] says where claim i came from ("line 7", "row 3"). */
static int claims_finish(registry_claims *c, char (*where)[32], const char *source)
{
    registry_claim **order = malloc((c->count ? c->count : 1) * sizeof *order);
    if (!order)
        return mc_fail("out of memory");
    for (size_t i = 0; i < c->count; i++)
        order[i] = &c->items[i];
    if (c->count > 1)
        qsort(order, c->count, sizeof *order, by_claim_id);
    for (size_t i = 1; i < c->count && !registry_claims_unchecked; i++) {
        if (strcmp(order[i - 1]->claim_id, order[i]->claim_id) == 0) {
            size_t a = (size_t)(order[i - 1] - c->items), b = (size_t)(order[i] - c->items);
            if (a > b) {
                size_t t = a;
                a = b;
                b = t;
            }
            mc_fail("%s, %s: duplicate claim_id \"%s\" (first on %s)", source, where[b],
                    c->items[b].claim_id, where[a]);
            free(order);
            return MC_ERR;
        }
    }
    free(order);
    if (c->count > 1)
        qsort(c->items, c->count, sizeof *c->items, by_parcel);
    return MC_OK;
}

/* ---- CSV ------------------------------------------------------------------ */

/* Splits one CSV record (RFC 4180 quoting, no line breaks inside quotes) in place.
 * Returns the number of fields or -1 if a quote is not closed / stray. */
static int csv_split(char *line, char **fields, int max_fields)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max_fields)
            return -1;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            if (*p != ',' && *p != '\0')
                return -1;
        } else {
            while (*p && *p != ',') {
                if (*p == '"')
                    return -1;
                out++;
                p++;
            }
        }
        char sep = *p;
        *out = '\0';
        fields[n++] = start;
        if (sep == '\0')
            return n;
        p++;
    }
}

enum { CSV_MAX_COLUMNS = 64, CSV_MAX_LINE = 65536 };

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int csv_header(char *line, const char *path, int column_of[REGISTRY_FIELD_COUNT])
{
    char *cols[CSV_MAX_COLUMNS];
    if (strncmp(line, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
        memmove(line, line + 3, strlen(line + 3) + 1);
    int n = csv_split(line, cols, CSV_MAX_COLUMNS);
    if (n < 0)
        return mc_fail("%s, line 1: the header is not valid CSV", path);
    for (int f = 0; f < REGISTRY_FIELD_COUNT; f++)
        column_of[f] = -1;
    for (int i = 0; i < n; i++) {
        for (int f = 0; f < REGISTRY_FIELD_COUNT; f++) {
            if (strcmp(cols[i], registry_field_names[f]) != 0)
                continue;
            if (column_of[f] >= 0)
                return mc_fail("%s, line 1: column %s appears twice", path, cols[i]);
            column_of[f] = i;
        }
    }
    for (int f = 0; f < REGISTRY_FIELD_COUNT; f++)
        if (column_of[f] < 0 && f != F_MIN_MOWINGS)
            return mc_fail("%s, line 1: no column %s in the header (a header line with the "
                           "column names is required)", path, registry_field_names[f]);
    return MC_OK;
}

static int csv_row(char *line, const char *path, long lineno,
                   const int column_of[REGISTRY_FIELD_COUNT], registry_claim *claim)
{
    char *cols[CSV_MAX_COLUMNS];
    const char *v[REGISTRY_FIELD_COUNT];
    int n = csv_split(line, cols, CSV_MAX_COLUMNS);
    if (n < 0)
        return mc_fail("%s, line %ld: not valid CSV (unbalanced quotes or too many columns)",
                       path, lineno);
    for (int f = 0; f < REGISTRY_FIELD_COUNT; f++) {
        int col = column_of[f];
        if (col >= n)
            return mc_fail("%s, line %ld: %d columns, the header has more (no %s)", path,
                           lineno, n, registry_field_names[f]);
        v[f] = col >= 0 ? cols[col] : NULL;
    }
    if (claim_from_fields(claim, v)) {
        claim_free(claim);
        return mc_fail_wrap("%s, line %ld", path, lineno);
    }
    return MC_OK;
}

static int csv_read(FILE *f, const char *path, registry_claims *out, char (**where)[32])
{
    char *line = malloc(CSV_MAX_LINE);
    int column_of[REGISTRY_FIELD_COUNT] = {0}; /* csv_header sets every entry */
    size_t cap = 0, where_cap = 0;
    long lineno = 0;
    int rc = MC_OK, have_header = 0;
    if (!line)
        return mc_fail("out of memory");
    while (rc == MC_OK && fgets(line, CSV_MAX_LINE, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = mc_fail("%s, line %ld: longer than %d bytes", path, lineno, CSV_MAX_LINE - 1);
            break;
        }
        chomp(line);
        if (!have_header) {
            rc = csv_header(line, path, column_of);
            have_header = 1;
            continue;
        }
        if (line[0] == '\0')
            continue; /* blank lines (e.g. at the end) carry nothing */
        registry_claim claim;
        rc = csv_row(line, path, lineno, column_of, &claim);
        if (rc == MC_OK && out->count == where_cap) {
            where_cap = where_cap ? where_cap * 2 : 64;
            char(*w)[32] = realloc(*where, where_cap * sizeof **where);
            if (!w) {
                claim_free(&claim);
                rc = mc_fail("out of memory");
                break;
            }
            *where = w;
        }
        if (rc == MC_OK) {
            snprintf((*where)[out->count], 32, "line %ld", lineno);
            rc = claims_push(out, &cap, &claim);
            if (rc != MC_OK)
                claim_free(&claim);
        }
    }
    if (rc == MC_OK && ferror(f))
        rc = mc_fail("%s: read error", path);
    if (rc == MC_OK && !have_header)
        rc = mc_fail("%s: empty file (a header line with the column names is required)", path);
    free(line);
    return rc;
}

int registry_claims_load_csv(registry_claims *out, const char *path)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return mc_fail("%s: cannot open: %s", path, strerror(errno));
    char(*where)[32] = NULL;
    int rc = csv_read(f, path, out, &where);
    fclose(f);
    if (rc == MC_OK)
        rc = claims_finish(out, where, path);
    free(where);
    if (rc != MC_OK)
        registry_claims_free(out);
    return rc;
}

/* ---- PostgreSQL --------------------------------------------------------- */

/* "schema.table" or "table", each part quoted as an identifier. */
static char *quoted_table(PGconn *conn, const char *table)
{
    const char *dot = strchr(table, '.');
    char *a = PQescapeIdentifier(conn, table, dot ? (size_t)(dot - table) : strlen(table));
    char *b = dot ? PQescapeIdentifier(conn, dot + 1, strlen(dot + 1)) : NULL;
    char *out = NULL;
    if (a && (!dot || b)) {
        size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
        out = malloc(n);
        if (out)
            snprintf(out, n, "%s%s%s", a, b ? "." : "", b ? b : "");
    }
    PQfreemem(a);
    PQfreemem(b);
    return out;
}

static int pg_rows(PGresult *res, const char *table, registry_claims *out, char (**where)[32])
{
    size_t cap = 0;
    int n = PQntuples(res);
    *where = malloc((n ? (size_t)n : 1) * sizeof **where);
    if (!*where)
        return mc_fail("out of memory");
    for (int r = 0; r < n; r++) {
        const char *v[REGISTRY_FIELD_COUNT];
        for (int f = 0; f < REGISTRY_FIELD_COUNT; f++)
            v[f] = PQgetisnull(res, r, f) ? NULL : PQgetvalue(res, r, f);
        registry_claim claim;
        if (claim_from_fields(&claim, v)) {
            claim_free(&claim);
            return mc_fail_wrap("table %s, row %d (claim_id %s)", table, r + 1,
                                v[F_CLAIM_ID] ? v[F_CLAIM_ID] : "NULL");
        }
        snprintf((*where)[out->count], 32, "row %d", r + 1);
        if (claims_push(out, &cap, &claim)) {
            claim_free(&claim);
            return MC_ERR;
        }
    }
    return MC_OK;
}

int registry_claims_load_pg(registry_claims *out, const char *dsn, const char *table)
{
    memset(out, 0, sizeof *out);
    PGconn *conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        mc_fail("claims database: cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return MC_ERR;
    }
    char *qt = quoted_table(conn, table);
    char sql[1024];
    /* Text casts: the same validation as for CSV, whatever the column types are. */
    snprintf(sql, sizeof sql,
             "SELECT claim_id::text, parcel_id::text, season::text, applicant::text, "
             "scheme::text, window_start::text, window_end::text, min_mowings::text, "
             "declared_area_ha::text FROM %s ORDER BY claim_id",
             qt ? qt : "");
    PGresult *res = qt ? PQexec(conn, sql) : NULL;
    int rc = MC_OK;
    char(*where)[32] = NULL;
    if (!qt)
        rc = mc_fail("claims table \"%s\": not a valid table name", table);
    else if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = mc_fail("claims table %s: %s", table, PQresultErrorMessage(res));
    else
        rc = pg_rows(res, table, out, &where);
    if (rc == MC_OK) {
        char source[300];
        snprintf(source, sizeof source, "table %s", table);
        rc = claims_finish(out, where, source);
    }
    free(where);
    free(qt);
    PQclear(res);
    PQfinish(conn);
    if (rc != MC_OK)
        registry_claims_free(out);
    return rc;
}

/* ---- lookup and JSON ------------------------------------------------------- */

size_t registry_claims_find(const registry_claims *c, const char *parcel_id, int season,
                            const registry_claim **first)
{
    size_t lo = 0, hi = c->count;
    while (lo < hi) { /* first claim with (parcel, season) >= the key */
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(c->items[mid].parcel_id, parcel_id);
        if (r == 0)
            r = (c->items[mid].season > season) - (c->items[mid].season < season);
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    while (lo + n < c->count && c->items[lo + n].season == season &&
           strcmp(c->items[lo + n].parcel_id, parcel_id) == 0)
        n++;
    *first = n ? &c->items[lo] : NULL;
    return n;
}

json_t *registry_claim_json(const registry_claim *c, unsigned fields)
{
    json_t *o = json_object();
    json_t *v[REGISTRY_FIELD_COUNT] = {
        json_string(c->claim_id), json_string(c->parcel_id), json_integer(c->season),
        json_string(c->applicant), json_string(c->scheme), json_string(c->window_start),
        json_string(c->window_end), json_integer(c->min_mowings),
        json_real(c->declared_area_ha),
    };
    for (int f = 0; f < REGISTRY_FIELD_COUNT; f++) {
        if (o && v[f] && (fields & (1u << f)))
            json_object_set(o, registry_field_names[f], v[f]);
        json_decref(v[f]);
    }
    return o;
}
