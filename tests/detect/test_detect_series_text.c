/* The series reader on text as spreadsheets and other tools write it: CR-only and
 * CRLF line ends, line ends inside quoted fields, a UTF-8 byte order mark, and a
 * decimal comma. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "series.h"
#include "test.h"

static int read_text(const char *text, series_set *s)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    int rc = series_read(in, "text.csv", s);
    fclose(in);
    return rc;
}

/* The text is refused, and the message holds each of the expected parts (NULL-ended). */
static void check_refused(const char *text, const char *const *parts)
{
    series_set s;
    CHECK(read_text(text, &s) == MC_ERR);
    CHECK_INT(s.n_obs, 0);
    for (size_t i = 0; parts[i]; i++)
        CHECK_MSG(strstr(mc_error_message(), parts[i]), "want '%s' in: %s", parts[i],
                  mc_error_message());
    series_free(&s);
}

/* Two parcels, three rows, one of them a cloudy date; quoted id with a comma. */
static const char *const rows[] = {
    "parcel_id,date,ndvi,valid_share",
    "A1,2024-06-01,0.81,1",
    "A1,2024-06-06,,0",
    "\"B,2\",2024-06-01,-0.25,1",
};

/* The rows joined with the given line end (and a last one when last_end). */
static void join(char *buf, size_t size, const char *prefix, const char *end, int last_end)
{
    size_t n = sizeof rows / sizeof rows[0];
    snprintf(buf, size, "%s", prefix);
    for (size_t i = 0; i < n; i++) {
        strncat(buf, rows[i], size - strlen(buf) - 1);
        if (i + 1 < n || last_end)
            strncat(buf, end, size - strlen(buf) - 1);
    }
}

static void check_rows(const series_set *s, const char *how)
{
    CHECK_MSG(s->n_parcels == 2 && s->n_obs == 3, "%s: %zu parcels, %zu rows", how,
              s->n_parcels, s->n_obs);
    if (s->n_parcels != 2 || s->n_obs != 3)
        return;
    CHECK_STR(s->parcels[0].parcel_id, "A1");
    CHECK_STR(s->parcels[1].parcel_id, "B,2");
    CHECK_INT(s->parcels[0].count, 2);
    CHECK_INT(s->obs[0].day, date_days_from_civil(2024, 6, 1));
    CHECK_NEAR(s->obs[0].ndvi, 0.81, 1e-6);
    CHECK(isnan(s->obs[1].ndvi));
    CHECK_NEAR(s->obs[2].ndvi, -0.25, 1e-6);
}

static void test_line_ends_and_bom(void)
{
    static const struct {
        const char *how, *prefix, *end;
        int last_end;
    } cases[] = {
        {"LF", "", "\n", 1},
        {"CRLF", "", "\r\n", 1},
        {"CR only", "", "\r", 1},
        {"CR only, no end on the last line", "", "\r", 0},
        {"BOM and LF", "\xEF\xBB\xBF", "\n", 1},
        {"BOM and CRLF", "\xEF\xBB\xBF", "\r\n", 0},
        {"BOM and CR only", "\xEF\xBB\xBF", "\r", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        join(text, sizeof text, cases[i].prefix, cases[i].end, cases[i].last_end);
        series_set s;
        int rc = read_text(text, &s);
        CHECK_MSG(rc == MC_OK, "%s: %s", cases[i].how, mc_error_message());
        if (rc == MC_OK)
            check_rows(&s, cases[i].how);
        series_free(&s);
    }
}

/* Blank lines between CR-only lines (a CR CR pair) are blank lines, not rows, and the
 * line numbers in messages count them as the file has them. */
static void test_cr_line_numbers(void)
{
    const char *text = "parcel_id,date,ndvi\rA1,2024-06-01,0.8\r\rA1,2024-06-06,x\r";
    check_refused(text, (const char *const[]){"text.csv: 1 bad line", "line 4: bad ndvi 'x'",
                                              NULL});
}

/* A quoted field may hold line ends of any kind (PostgreSQL's CSV quotes an id with a
 * CR or LF in it): they stay in the field, and later line numbers count them. */
static void test_line_ends_inside_quotes(void)
{
    const char *text = "parcel_id,date,ndvi\r\n"
                       "\"A\rB\",2024-06-01,0.8\r\n"
                       "\"C\nD\",2024-06-01,0.7\r\n"
                       "\"E\r\n\"\"F\"\"\",2024-06-01,0.6\r\n";
    series_set s;
    int rc = read_text(text, &s);
    CHECK_MSG(rc == MC_OK, "%s", mc_error_message());
    if (rc == MC_OK && s.n_parcels == 3) {
        CHECK_STR(s.parcels[0].parcel_id, "A\rB");
        CHECK_STR(s.parcels[1].parcel_id, "C\nD");
        CHECK_STR(s.parcels[2].parcel_id, "E\r\n\"F\"");
        CHECK_NEAR(s.obs[2].ndvi, 0.6, 1e-6);
    } else {
        CHECK_INT(s.n_parcels, 3);
    }
    series_free(&s);

    /* lines 2-3, 4-5 and 6-7 hold the three records above; line 8 is bad */
    char bad[256];
    snprintf(bad, sizeof bad, "%sG,2024-06-01,x\r\n", text);
    check_refused(bad, (const char *const[]){"text.csv: 1 bad line", "line 8: bad ndvi 'x'",
                                             NULL});
}

/* 0,5 unquoted splits into two fields: refused, naming the line, never read as 0. */
static void test_decimal_comma(void)
{
    const char *text = "parcel_id,date,ndvi\n"
                       "A1,2024-06-01,0.8\n"
                       "A1,2024-06-06,0,5\n"
                       "A1,2024-06-11,\"0,5\"\n";
    check_refused(text, (const char *const[]){
                            "text.csv: 2 bad lines",
                            "line 3: 4 fields where the header has 3 (a decimal comma?",
                            "line 4: bad ndvi '0,5'", NULL});

    /* The same in a middle column: the later fields would shift by one. */
    check_refused("parcel_id,ndvi,date\nA1,0,5,2024-06-01\n",
                  (const char *const[]){"line 2: 4 fields where the header has 3", NULL});
}

int main(void)
{
    test_line_ends_and_bom();
    test_cr_line_numbers();
    test_line_ends_inside_quotes();
    test_decimal_comma();
    return test_summary();
}
