#include "claims_csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_fields.h"
#include "dates.h"
#include "error.h"

enum { MAX_FIELDS = 64 };

typedef enum { COL_CLAIM, COL_PARCEL, COL_SEASON, COL_START, COL_END, COL_MIN, COL_APPLICANT,
               COL_SCHEME, COL_AREA, N_COLS } column;

static const char *const column_names[N_COLS] = {
    "claim_id", "parcel_id", "season", "window_start", "window_end", "min_mowings",
    "applicant", "scheme", "declared_area_ha"};
enum { N_REQUIRED = COL_MIN + 1 };

static int read_header(char *line, const char *path, int *col)
{
    char *f[MAX_FIELDS];
    int n = csv_split(line, f, MAX_FIELDS);
    for (int c = 0; c < N_COLS; c++)
        col[c] = -1;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < N_COLS; c++)
            if (strcmp(f[i], column_names[c]) == 0)
                col[c] = i;
    for (int c = 0; c < N_REQUIRED; c++)
        if (col[c] < 0)
            return mc_fail("claims %s: line 1: no column '%s' (the header needs claim_id, "
                           "parcel_id, season, window_start, window_end, min_mowings)",
                           path, column_names[c]);
    return MC_OK;
}

/* Copies text into a fixed field; 0 when it does not fit. */
static int copy_field(char *dst, size_t size, const char *text)
{
    size_t len = strlen(text);
    if (len >= size)
        return 0;
    memcpy(dst, text, len + 1);
    return 1;
}

static long whole(const char *text, long min, long max, int *ok)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    *ok = end != text && *end == '\0' && errno == 0 && v >= min && v <= max;
    return v;
}

static const char *field(char **f, int n, int col) { return col >= 0 && col < n ? f[col] : ""; }

/* One claim line into row; problems go to row->failure, naming the field. */
static void read_claim(char *line, const int *col, claims_csv_row *row)
{
    char *f[MAX_FIELDS];
    int n = csv_split(line, f, MAX_FIELDS);
    registry_claim *c = &row->claim;
    const char *why = NULL;
    int ok = 1;
    int32_t day;
    if (n < 0)
        why = "an unterminated quote";
    else if (!copy_field(c->claim_id, sizeof c->claim_id, field(f, n, col[COL_CLAIM])) ||
             !c->claim_id[0])
        why = "claim_id is empty or longer than 63 bytes";
    else if (!copy_field(c->parcel_id, sizeof c->parcel_id, field(f, n, col[COL_PARCEL])) ||
             !c->parcel_id[0])
        why = "parcel_id is empty or longer than 63 bytes";
    else if ((c->season = (int)whole(field(f, n, col[COL_SEASON]), 1900, 2999, &ok)), !ok)
        why = "season is not a year";
    else if (!copy_field(c->window_start, sizeof c->window_start, field(f, n, col[COL_START])) ||
             date_parse(c->window_start, &day) != MC_OK)
        why = "window_start is not a date (YYYY-MM-DD)";
    else if (!copy_field(c->window_end, sizeof c->window_end, field(f, n, col[COL_END])) ||
             date_parse(c->window_end, &day) != MC_OK)
        why = "window_end is not a date (YYYY-MM-DD)";
    else if ((c->min_mowings = (int)whole(field(f, n, col[COL_MIN]), 1, 20, &ok)), !ok)
        why = "min_mowings is not a whole number 1..20";
    if (n >= 0) {
        copy_field(c->applicant, sizeof c->applicant, field(f, n, col[COL_APPLICANT]));
        copy_field(c->scheme, sizeof c->scheme, field(f, n, col[COL_SCHEME]));
        c->declared_area_ha = atof(field(f, n, col[COL_AREA]));
    }
    if (why)
        snprintf(row->failure, sizeof row->failure, "claims file line %ld: %s", row->line, why);
}

static int push_row(claims_csv_row **rows, size_t *n, size_t *cap)
{
    if (*n < *cap)
        return MC_OK;
    size_t grown_cap = *cap ? *cap * 2 : 256;
    claims_csv_row *grown = realloc(*rows, grown_cap * sizeof *grown);
    if (!grown)
        return mc_fail("claims: out of memory");
    *rows = grown;
    *cap = grown_cap;
    return MC_OK;
}

int claims_csv_read(const char *path, claims_csv_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return mc_fail("claims %s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t line_cap = 0, cap = 0;
    long line_no = 0;
    int col[N_COLS], rc = MC_OK;
    for (int c = 0; c < N_COLS; c++) /* read_header sets them from line 1 */
        col[c] = -1;
    while (rc == MC_OK && getline(&line, &line_cap, f) > 0) {
        line_no++;
        if (line_no == 1) {
            rc = read_header(line, path, col);
            continue;
        }
        if (line[strspn(line, "\r\n")] == '\0')
            continue; /* a blank line */
        if ((rc = push_row(rows, n, &cap)) != MC_OK)
            break;
        claims_csv_row *row = &(*rows)[(*n)++];
        memset(row, 0, sizeof *row);
        row->line = line_no;
        read_claim(line, col, row);
    }
    if (rc == MC_OK && line_no == 0)
        rc = mc_fail("claims %s: the file is empty (no header)", path);
    if (rc == MC_OK && ferror(f))
        rc = mc_fail("claims %s: read error", path);
    free(line);
    fclose(f);
    if (rc != MC_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}
