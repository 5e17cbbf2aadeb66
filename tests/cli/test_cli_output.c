/* Command outputs: written whole or not at all to a file, in place to a device or
 * pipe (never renamed over /dev/null), and a failing writer leaves nothing behind. */
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "test.h"

static int write_hello(FILE *out, void *arg)
{
    (void)arg;
    return fputs("hello\n", out) < 0 ? mc_fail("write failed") : MC_OK;
}

static int write_then_fail(FILE *out, void *arg)
{
    (void)arg;
    fputs("half", out);
    return mc_fail("the database went away");
}

int main(void)
{
    char dir[] = "/tmp/mowcheck-cli-output-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[256], tmp[300], line[32] = "";
    snprintf(path, sizeof path, "%s/out.csv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    REQUIRE(output_write(path, write_hello, NULL) == MC_OK);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    CHECK_STR(line, "hello\n");
    CHECK(access(tmp, F_OK) != 0);

    /* A failing writer keeps the earlier file and leaves no temp file. */
    CHECK(output_write(path, write_then_fail, NULL) == MC_ERR);
    CHECK(strstr(mc_error_message(), "database went away") != NULL);
    f = fopen(path, "r");
    REQUIRE(f != NULL);
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    CHECK_STR(line, "hello\n");
    CHECK(access(tmp, F_OK) != 0);

    /* A FIFO is written in place: still a FIFO afterwards (as /dev/null stays a device). */
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    pid_t reader = fork();
    REQUIRE(reader >= 0);
    if (reader == 0) {
        FILE *r = fopen(fifo, "r");
        char buf[32];
        while (r && fgets(buf, sizeof buf, r))
            ;
        _exit(0);
    }
    CHECK(output_write(fifo, write_hello, NULL) == MC_OK);
    struct stat st;
    REQUIRE(stat(fifo, &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(output_write("/dev/null", write_hello, NULL) == MC_OK);
    REQUIRE(stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));

    unlink(fifo);
    unlink(path);
    rmdir(dir);
    return test_summary();
}
