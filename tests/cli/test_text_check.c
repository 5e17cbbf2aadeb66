/* Text from outside (parcel ids, folder names, registry fields) on its way into
 * logs, the database and CSV files: UTF-8 and id checks, escaping, the CSV formula
 * test, and a log line that cannot be split by what it prints. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "test.h"
#include "text_check.h"

static void test_utf8(void)
{
    CHECK(text_is_utf8("Pärnu õ", strlen("Pärnu õ")));
    CHECK(!text_is_utf8("EE-\xff", 4));
    CHECK(!text_is_utf8("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!text_is_utf8("\xed\xa0\x80", 3));     /* a surrogate */
    CHECK(!text_is_utf8("\xe2\x82", 2));         /* cut short */
    CHECK(text_is_utf8("\xf0\x9f\x8c\xbe", 4));  /* U+1F33E */
}

static void test_ids(void)
{
    char long_id[300];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[255] = '\0';
    CHECK(text_id_problem(long_id) == NULL);
    long_id[255] = 'x';
    long_id[256] = '\0';
    CHECK(text_id_problem(long_id) && strstr(text_id_problem(long_id), "255"));
    CHECK(text_id_problem("") != NULL);
    CHECK(strstr(text_id_problem("EE-1\nx"), "control"));
    CHECK(strstr(text_id_problem("EE-\x1b[31m"), "control"));
    CHECK(strstr(text_id_problem("EE-\xfe"), "UTF-8"));
    CHECK(text_id_problem("EE-0001 Põld") == NULL);
}

static void test_escape(void)
{
    char out[64];
    CHECK_STR(text_escape("a\nb\rc\td\x1b[0m\x07", out, sizeof out), "a\\nb\\rc\\td\\e[0m\\x07");
    CHECK_STR(text_escape("Põld \xff!", out, sizeof out), "Põld \\xff!");
    CHECK_STR(text_escape(NULL, out, sizeof out), "(null)");
    char small[8];
    CHECK_STR(text_escape("abcdefghij", small, sizeof small), "abcd...");
    CHECK_STR(text_escape("ab\xc3\xb5\xc3\xb5xyz", small, sizeof small), "ab\xc3\xb5...");
}

static void test_formula(void)
{
    const char *risky[] = {"=1+1", "+49", "-2", "@SUM(A1)", "\tx", "\rx"};
    for (size_t i = 0; i < sizeof risky / sizeof risky[0]; i++)
        CHECK_MSG(text_csv_formula(risky[i]), "%s", risky[i]);
    CHECK(!text_csv_formula("EE-0001"));
    CHECK(!text_csv_formula(""));
    CHECK(!text_csv_formula(NULL));
}

/* The cells of flagged.csv (report_gis.c): formulas guarded, control characters
 * gone, commas and quotes quoted. */
static void test_csv_cell(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    REQUIRE(f != NULL);
    text_csv_cell(f, "=HYPERLINK(\"http://x\",\"y\")", 0);
    text_csv_cell(f, "-P-1", 0);
    text_csv_cell(f, "a\nb\x1b[0m\x07", 0);
    text_csv_cell(f, "\r=1", 0);
    text_csv_cell(f, "EE-0001", 1);
    fclose(f);
    CHECK_STR(buf, "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'-P-1,a?b?[0m?,?=1,EE-0001\n");
    free(buf);
}

/* A message with a newline, an escape sequence and bytes that are not UTF-8 is one
 * line on stderr, with none of them raw. */
static void test_log_line(void)
{
    char path[] = "/tmp/mowcheck-test-log-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    log_warn("scene %s: refused", "S2B\nmowcheck: error: forged\x1b[2J\xff");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[512] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    REQUIRE(n > 0);
    CHECK_STR(buf, "mowcheck: warning: scene S2B\\nmowcheck: error: forged\\e[2J\\xff: refused\n");
}

int main(void)
{
    test_utf8();
    test_ids();
    test_escape();
    test_formula();
    test_csv_cell();
    test_log_line();
    return test_summary();
}
