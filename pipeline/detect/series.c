#include "series.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv_fields.h"
#include "error.h"

enum { SERIES_MAX_REPORTED = 20, SERIES_MAX_FIELDS = 256 };


/* ---- CSV ---- */

enum { LINE_END_OF_INPUT = -1, LINE_OUT_OF_MEMORY = -2 };

/* Reads the CSV text record by record. */
typedef struct line_reader {
    FILE *in;
    char *buf;      /* the record just read, NUL-terminated, its line end dropped */
    size_t cap;
    long line_no;   /* the line of the file where that record starts */
    long next_line; /* where the next one starts */
} line_reader;

static int put_char(line_reader *lr, size_t at, int ch)
{
    if (at + 1 >= lr->cap) {
        size_t cap = lr->cap ? lr->cap * 2 : 256;
        char *grown = realloc(lr->buf, cap);
        if (!grown)
            return MC_ERR;
        lr->buf = grown;
        lr->cap = cap;
    }
    lr->buf[at] = (char)ch;
    return MC_OK;
}

/* After a CR: 1 when it ends a line by itself, 0 when an LF follows (then the LF
 * does); the next character stays unread. */
static int lone_cr(FILE *in)
{
    int next = getc_unlocked(in);
    if (next != EOF)
        ungetc(next, in);
    return next != '\n';
}

/* Reads one record into lr->buf: one line, whatever its end (LF, CRLF, or a lone CR,
 * as some spreadsheet exports write), or more lines where a quoted field holds line
 * ends (as PostgreSQL's CSV writes an id with a CR or LF in it). Returns the length,
 * LINE_END_OF_INPUT when nothing is left, or LINE_OUT_OF_MEMORY. */
static long read_record(line_reader *lr)
{
    size_t len = 0;
    int ch, quoted = 0, field_start = 1, just_closed = 0;
    lr->line_no = lr->next_line++;
    while ((ch = getc_unlocked(lr->in)) != EOF) {
        if (!quoted && (ch == '\n' || ch == '\r')) {
            if (ch == '\r' && !lone_cr(lr->in))
                getc_unlocked(lr->in); /* the LF of a CRLF */
            break;
        }
        if (quoted && (ch == '\n' || (ch == '\r' && lone_cr(lr->in))))
            lr->next_line++;
        if (ch == '"') { /* a quote opens a field only at its start ("" inside: one quote) */
            int opens = !quoted && (field_start || just_closed);
            just_closed = quoted;
            quoted = opens;
        } else {
            just_closed = 0;
        }
        field_start = !quoted && ch == ',';
        if (put_char(lr, len++, ch) != MC_OK)
            return LINE_OUT_OF_MEMORY;
    }
    if (ch == EOF && len == 0)
        return LINE_END_OF_INPUT;
    if (put_char(lr, len, '\0') != MC_OK)
        return LINE_OUT_OF_MEMORY;
    return (long)len;
}

typedef struct row {
    char *parcel_id; /* owned until moved into a series_parcel */
    series_obs obs;
    long line;
} row;

typedef struct reader {
    const char *name;
    const series_rules *rules; /* NULL: no observation rules */
    int col_id, col_date, col_ndvi, col_ndmi, col_nir, col_swir1, n_cols;
    int col_valid_share, col_cloud_score;
    row *rows;
    size_t n_rows, cap_rows;
    char bad[SERIES_MAX_REPORTED][160];
    long n_bad;
} reader;

static void note_bad(reader *r, long line, const char *fmt, const char *what)
{
    if (r->n_bad < SERIES_MAX_REPORTED) {
        char detail[120];
        snprintf(detail, sizeof detail, fmt, what);
        snprintf(r->bad[r->n_bad], sizeof r->bad[0], "line %ld: %s", line, detail);
    }
    r->n_bad++;
}

static int read_header(reader *r, char *line)
{
    char *fields[SERIES_MAX_FIELDS];
    int n = csv_split(line, fields, SERIES_MAX_FIELDS);
    r->col_id = r->col_date = r->col_ndvi = r->col_ndmi = r->col_nir = r->col_swir1 = -1;
    r->col_valid_share = r->col_cloud_score = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(fields[i], "valid_share") == 0)
            r->col_valid_share = i;
        else if (strcmp(fields[i], "cloud_score") == 0)
            r->col_cloud_score = i;
        else if (strcmp(fields[i], "nir") == 0)
            r->col_nir = i;
        else if (strcmp(fields[i], "swir1") == 0)
            r->col_swir1 = i;
        else if (strcmp(fields[i], "ndmi") == 0)
            r->col_ndmi = i;
        if (strcmp(fields[i], "parcel_id") == 0)
            r->col_id = i;
        else if (strcmp(fields[i], "date") == 0)
            r->col_date = i;
        else if (strcmp(fields[i], "ndvi") == 0)
            r->col_ndvi = i;
    }
    r->n_cols = n;
    if (r->col_id < 0 || r->col_date < 0 || r->col_ndvi < 0)
        return mc_fail("series %s: line 1: the header needs the columns parcel_id, date and ndvi",
                       r->name);
    return MC_OK;
}

/* Parses a number field: empty gives NAN (unknown); else a finite number in [lo, hi]. */
static int parse_number(const char *t, double lo, double hi, double *out)
{
    if (*t == '\0') {
        *out = NAN;
        return MC_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi)
        return MC_ERR;
    *out = v;
    return MC_OK;
}

/* Parses an NDVI text: empty = not observed; else a finite number in [-1, 1]. */
static int parse_ndvi(const char *t, float *out)
{
    double v;
    if (parse_number(t, -1.0, 1.0, &v) != MC_OK)
        return MC_ERR;
    *out = (float)v;
    return MC_OK;
}

/* The observation rules: a row whose valid_share or cloud_score lies below
 * min_valid_share was not observed (its ndvi becomes NAN). A bad number in either
 * field is a bad line (noted); returns MC_ERR then. */
static int apply_rules(reader *r, char **fields, int n, long line_no, series_obs *obs)
{
    if (!r->rules)
        return MC_OK;
    const int cols[] = {r->col_valid_share, r->col_cloud_score};
    static const char *const names[] = {"valid_share", "cloud_score"};
    for (int k = 0; k < 2; k++) {
        if (cols[k] < 0 || n <= cols[k])
            continue;
        double share;
        if (parse_number(fields[cols[k]], 0.0, 1.0, &share) != MC_OK) {
            char what[100];
            snprintf(what, sizeof what, "bad %s '%.40s' (want a number in [0, 1] or empty)",
                     names[k], fields[cols[k]]);
            note_bad(r, line_no, "%s", what);
            return MC_ERR;
        }
        if (share < r->rules->min_valid_share) /* NAN (unknown) never is */
            obs->ndvi = NAN;
    }
    return MC_OK;
}

/* More fields than the header names: most often an unquoted decimal comma (0,5),
 * which would otherwise read as 0 and shift every later field. */
static int too_many_fields(reader *r, int n, long line_no)
{
    if (n <= r->n_cols)
        return 0;
    char what[100];
    snprintf(what, sizeof what,
             "%d fields where the header has %d (a decimal comma? write 0.5, not 0,5)", n,
             r->n_cols);
    note_bad(r, line_no, "%s", what);
    return 1;
}

/* NDMI from the optional ndmi field (mowcheck's own export, from B11), else from the
 * nir and swir1 fields; NAN when absent or unusable. */
static float row_ndmi(const reader *r, char **fields, int n)
{
    float ndmi;
    if (r->col_ndmi >= 0 && n > r->col_ndmi && parse_ndvi(fields[r->col_ndmi], &ndmi) == MC_OK &&
        !isnan(ndmi))
        return ndmi;
    if (r->col_nir < 0 || r->col_swir1 < 0 || n <= r->col_nir || n <= r->col_swir1)
        return NAN;
    char *e1, *e2;
    double nir = strtod(fields[r->col_nir], &e1), swir = strtod(fields[r->col_swir1], &e2);
    if (e1 == fields[r->col_nir] || *e1 || e2 == fields[r->col_swir1] || *e2 ||
        !isfinite(nir) || !isfinite(swir) || nir < 0 || swir < 0 || nir + swir <= 1e-6 ||
        nir > 2 || swir > 2)
        return NAN;
    return (float)((nir - swir) / (nir + swir));
}

static int push_row(reader *r, const char *id, series_obs obs, long line)
{
    if (r->n_rows == r->cap_rows) {
        size_t cap = r->cap_rows ? r->cap_rows * 2 : 1024;
        row *grown = realloc(r->rows, cap * sizeof *grown);
        if (!grown)
            return mc_fail("series %s: out of memory at line %ld", r->name, line);
        r->rows = grown;
        r->cap_rows = cap;
    }
    char *copy = strdup(id);
    if (!copy)
        return mc_fail("series %s: out of memory at line %ld", r->name, line);
    r->rows[r->n_rows++] = (row){copy, obs, line};
    return MC_OK;
}

static int read_row(reader *r, char *line, long line_no)
{
    char *fields[SERIES_MAX_FIELDS];
    int n = csv_split(line, fields, SERIES_MAX_FIELDS);
    if (n == 1 && fields[0][0] == '\0')
        return MC_OK; /* blank line */
    if (n < 0) {
        note_bad(r, line_no, "%s", "unterminated quote");
        return MC_OK;
    }
    if (n <= r->col_id || n <= r->col_date || n <= r->col_ndvi) {
        note_bad(r, line_no, "%s", "too few fields");
        return MC_OK;
    }
    if (too_many_fields(r, n, line_no))
        return MC_OK;
    const char *id = fields[r->col_id];
    series_obs obs;
    if (*id == '\0') {
        note_bad(r, line_no, "%s", "empty parcel_id");
    } else if (date_parse(fields[r->col_date], &obs.day) != MC_OK) {
        note_bad(r, line_no, "bad date '%.40s' (want YYYY-MM-DD)", fields[r->col_date]);
    } else if (parse_ndvi(fields[r->col_ndvi], &obs.ndvi) != MC_OK) {
        note_bad(r, line_no, "bad ndvi '%.40s' (want a number in [-1, 1] or empty)",
                 fields[r->col_ndvi]);
    } else if (apply_rules(r, fields, n, line_no, &obs) == MC_OK) {
        obs.ndmi = isnan(obs.ndvi) ? NAN : row_ndmi(r, fields, n);
        return push_row(r, id, obs, line_no);
    }
    return MC_OK;
}

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->parcel_id, y->parcel_id);
    if (c)
        return c;
    if (x->obs.day != y->obs.day)
        return x->obs.day < y->obs.day ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void free_rows(reader *r)
{
    for (size_t i = 0; i < r->n_rows; i++)
        free(r->rows[i].parcel_id);
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}

static int report_bad(reader *r)
{
    char msg[1800];
    int used = snprintf(msg, sizeof msg, "series %s: %ld bad line%s, file refused", r->name,
                        r->n_bad, r->n_bad == 1 ? "" : "s");
    for (long i = 0; i < r->n_bad && i < SERIES_MAX_REPORTED; i++)
        if (used < (int)sizeof msg)
            used += snprintf(msg + used, sizeof msg - used, "; %s", r->bad[i]);
    if (r->n_bad > SERIES_MAX_REPORTED && used < (int)sizeof msg)
        snprintf(msg + used, sizeof msg - used, "; and %ld more", r->n_bad - SERIES_MAX_REPORTED);
    return mc_fail("%s", msg);
}

/* Moves the sorted rows into the set; duplicates (same parcel and date) are bad lines. */
static int build_set(reader *r, series_set *out)
{
    if (r->n_rows > 1)
        qsort(r->rows, r->n_rows, sizeof *r->rows, row_cmp);
    for (size_t i = 1; i < r->n_rows; i++)
        if (r->rows[i].obs.day == r->rows[i - 1].obs.day &&
            strcmp(r->rows[i].parcel_id, r->rows[i - 1].parcel_id) == 0) {
            char what[80];
            snprintf(what, sizeof what, "%.40s on a date already given at line %ld",
                     r->rows[i].parcel_id, r->rows[i - 1].line);
            note_bad(r, r->rows[i].line, "duplicate row: parcel %s", what);
        }
    if (r->n_bad)
        return report_bad(r);
    out->obs = malloc((r->n_rows ? r->n_rows : 1) * sizeof *out->obs);
    out->parcels = malloc((r->n_rows ? r->n_rows : 1) * sizeof *out->parcels);
    if (!out->obs || !out->parcels)
        return mc_fail("series %s: out of memory", r->name);
    for (size_t i = 0; i < r->n_rows; i++) {
        out->obs[i] = r->rows[i].obs;
        if (i == 0 ||
            strcmp(r->rows[i].parcel_id, out->parcels[out->n_parcels - 1].parcel_id) != 0) {
            out->parcels[out->n_parcels++] = (series_parcel){r->rows[i].parcel_id, i, 0};
            r->rows[i].parcel_id = NULL; /* moved */
        }
        out->parcels[out->n_parcels - 1].count++;
    }
    out->n_obs = r->n_rows;
    return MC_OK;
}

/* A UTF-8 byte order mark, as spreadsheet programs put before the header. */
static char *skip_bom(char *line)
{
    static const char bom[] = "\xEF\xBB\xBF";
    return strncmp(line, bom, sizeof bom - 1) == 0 ? line + sizeof bom - 1 : line;
}

int series_read_rules(FILE *in, const char *name, const series_rules *rules, series_set *out)
{
    memset(out, 0, sizeof *out);
    reader r = {.name = name, .rules = rules};
    line_reader lr = {.in = in, .next_line = 1};
    int rc = MC_OK;
    long len = read_record(&lr);
    if (len == LINE_END_OF_INPUT) {
        rc = ferror(in) ? mc_fail("series %s: read error in the header line", name)
                        : mc_fail("series %s: empty file (no header line)", name);
        goto done;
    }
    if (len == LINE_OUT_OF_MEMORY || read_header(&r, skip_bom(lr.buf)) != MC_OK) {
        rc = len == LINE_OUT_OF_MEMORY ? mc_fail("series %s: out of memory at line 1", name)
                                       : MC_ERR;
        goto done;
    }
    while ((len = read_record(&lr)) != LINE_END_OF_INPUT) {
        if (len == LINE_OUT_OF_MEMORY) {
            rc = mc_fail("series %s: out of memory at line %ld", name, lr.line_no);
            goto done;
        }
        if (read_row(&r, lr.buf, lr.line_no) != MC_OK) {
            rc = MC_ERR;
            goto done;
        }
    }
    if (ferror(in)) {
        rc = mc_fail("series %s: read error after line %ld", name, lr.line_no);
        goto done;
    }
    rc = build_set(&r, out);
done:
    free(lr.buf);
    free_rows(&r);
    if (rc != MC_OK)
        series_free(out);
    return rc;
}

int series_read(FILE *in, const char *name, series_set *out)
{
    return series_read_rules(in, name, NULL, out);
}

int series_read_path_rules(const char *path, const series_rules *rules, series_set *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return mc_fail("series %s: cannot open: %s", path, strerror(errno));
    int rc = series_read_rules(f, path, rules, out);
    fclose(f);
    return rc;
}

int series_read_path(const char *path, series_set *out)
{
    return series_read_path_rules(path, NULL, out);
}

void series_drop_ndmi(series_set *s)
{
    for (size_t i = 0; i < s->n_obs; i++)
        s->obs[i].ndmi = NAN;
}

void series_free(series_set *s)
{
    if (s->parcels)
        for (size_t i = 0; i < s->n_parcels; i++)
            free(s->parcels[i].parcel_id);
    free(s->parcels);
    free(s->obs);
    memset(s, 0, sizeof *s);
}
