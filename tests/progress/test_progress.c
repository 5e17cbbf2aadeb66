/* Progress bars: the line's text worked out by hand; on a pseudo-terminal the bar
 * redraws with '\r', is throttled, steps aside for log lines and ends at 100% with a
 * newline; on a file, or with --quiet, nothing is drawn. Also: detection with the
 * "parcels" bar gives exactly detect_run's result and steps it once per parcel, and
 * the counts the stages leave for `mowcheck run`. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "detect.h"
#include "detect_stage.h"
#include "error.h"
#include "log.h"
#include "progress.h"
#include "stage_counts.h"
#include "test.h"

static void check_format(void)
{
    char buf[256], d[32];
    /* 80 columns: the tail "  50/200  25% 0:10 elapsed, 0:30 left" is 37 characters,
     * so the bar gets 79 - 6 ("scenes") - 37 - 3 (" []") = 33 cells, 50/200 of them
     * filled: 8. Time left: 10 s / 50 * 150 = 30 s. */
    size_t n = progress_format(buf, sizeof buf, "scenes", 50, 200, 10.0, 80);
    CHECK_STR(buf, "scenes [########.........................]  50/200  25% 0:10 elapsed, "
                   "0:30 left");
    CHECK_INT(n, strlen(buf));
    CHECK(n <= 79);
    /* wide terminal: the bar stops at 40 cells; all done */
    progress_format(buf, sizeof buf, "claims", 7, 7, 3725.0, 200);
    CHECK_STR(buf, "claims [########################################] 7/7 100% 1:02:05 elapsed, "
                   "0:00 left");
    /* nothing done yet: the time left is unknown; 199/200 is 99%, not 100% */
    progress_format(buf, sizeof buf, "parcels", 0, 3, 0.4, 80);
    CHECK(strstr(buf, " 0/3   0% 0:00 elapsed, ? left") != NULL);
    progress_format(buf, sizeof buf, "parcels", 199, 200, 1.0, 80);
    CHECK(strstr(buf, "199/200  99%") != NULL);
    /* narrow terminal: no bar, cut to the width so the line never wraps */
    n = progress_format(buf, sizeof buf, "scenes", 1, 2, 1.0, 30);
    CHECK_INT(n, 29);
    CHECK(strchr(buf, '[') == NULL);
    CHECK(strncmp(buf, "scenes 1/2  50% 0:01 elapsed,", 29) == 0);
    progress_format_duration(59.6, d, sizeof d);
    CHECK_STR(d, "1:00");
    progress_format_duration(NAN, d, sizeof d);
    CHECK_STR(d, "?");
    progress_format_duration(-1, d, sizeof d);
    CHECK_STR(d, "?");
}

/* ---- stderr on a pseudo-terminal, a file ---- */

static int saved_stderr = -1;

/* Points stderr at a new pseudo-terminal (raw, 100 columns); returns its master. */
static int stderr_to_pty(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    REQUIRE(master >= 0);
    REQUIRE(grantpt(master) == 0 && unlockpt(master) == 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    REQUIRE(slave >= 0);
    struct termios t;
    REQUIRE(tcgetattr(slave, &t) == 0);
    cfmakeraw(&t); /* bytes as written: no "\n" -> "\r\n" */
    REQUIRE(tcsetattr(slave, TCSANOW, &t) == 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 100};
    REQUIRE(ioctl(slave, TIOCSWINSZ, &ws) == 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    REQUIRE(dup2(slave, STDERR_FILENO) == STDERR_FILENO);
    close(slave);
    return master;
}

static void restore_stderr(void)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
}

/* All the master has (the writes are done: nothing more will come). */
static char *drain(int master)
{
    int flags = fcntl(master, F_GETFL);
    fcntl(master, F_SETFL, flags | O_NONBLOCK);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    REQUIRE(buf != NULL);
    for (;;) {
        ssize_t got = read(master, buf + n, cap - n);
        if (got <= 0)
            break;
        n += (size_t)got;
        if (n == cap)
            break;
    }
    buf[n] = '\0';
    return buf;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* 1000 quick steps with a log line at 500: few draws, the message on a line of
 * its own, the bar back under it, 100% at the end and a newline. */
static void check_terminal_fast(void)
{
    int master = stderr_to_pty();
    double t0 = now_s();
    progress p;
    progress_begin(&p, "items", 1000);
    for (int i = 0; i < 1000; i++) {
        if (i == 500)
            log_info("halfway there");
        progress_step(&p, 1);
    }
    progress_end(&p);
    double elapsed = now_s() - t0;
    restore_stderr();
    char *out = drain(master);
    close(master);
    CHECK(out[0] == '\r');
    CHECK(strstr(out, "\ritems [") == out);
    CHECK(strstr(out, "1000/1000 100%") != NULL);
    size_t len = strlen(out);
    CHECK(len > 0 && out[len - 1] == '\n');
    CHECK_INT(count(out, "\n"), 2); /* the log line and the end of the bar */
    /* the message starts after the bar's line is wiped: "\r<spaces>\r" */
    const char *msg = strstr(out, "mowcheck: halfway there\n");
    REQUIRE(msg != NULL);
    CHECK(msg[-1] == '\r' && msg[-2] == ' ');
    CHECK(strstr(msg, "\ritems [") == msg + strlen("mowcheck: halfway there\n"));
    /* throttled: the first draw, one per 0.1 s, one after the log line, the last */
    int draws = count(out, "\ritems [");
    CHECK_MSG(draws >= 3 && draws <= 3 + (int)ceil(elapsed / PROGRESS_REDRAW_S),
              "%d draws in %.3f s", draws, elapsed);
    /* every drawn line fits the 100 columns */
    for (const char *s = out; (s = strstr(s, "\ritems [")); s++)
        CHECK(strcspn(s + 1, "\r\n") <= 99);
    free(out);
}

/* Slow steps (30 ms each): the bar is redrawn as time passes, not only at the end. */
static void check_terminal_slow(void)
{
    int master = stderr_to_pty();
    progress p;
    progress_begin(&p, "scenes", 12);
    for (int i = 0; i < 12; i++) {
        sleep_ms(30);
        progress_step(&p, 1);
    }
    progress_end(&p);
    restore_stderr();
    char *out = drain(master);
    close(master);
    int draws = count(out, "\rscenes [");
    /* 0.36 s: at least 3 redraws between the first and the last, at most 1 per 0.1 s */
    CHECK_MSG(draws >= 4 && draws <= 7, "%d draws", draws);
    CHECK(strstr(out, "12/12 100%") != NULL);
    CHECK(strstr(out, " 0/12   0%") != NULL);
    free(out);
}

static void check_quiet_terminal(void)
{
    int master = stderr_to_pty();
    log_set_level(LOG_WARN); /* --quiet */
    progress p;
    progress_begin(&p, "claims", 10);
    progress_step(&p, 10);
    progress_end(&p);
    log_warn("only this");
    log_set_level(LOG_INFO);
    restore_stderr();
    char *out = drain(master);
    close(master);
    CHECK_STR(out, "mowcheck: warning: only this\n");
    free(out);
}

static void check_file(void)
{
    char path[] = "/tmp/mowcheck-progress-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    REQUIRE(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    close(fd);
    progress p;
    progress_begin(&p, "scenes", 3);
    progress_step(&p, 1);
    log_info("scene one");
    progress_step(&p, 2);
    progress_end(&p);
    restore_stderr();
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char text[256] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    CHECK_STR(text, "mowcheck: scene one\n"); /* the log line only: no bar, no '\r' */
}

/* ---- detection with the bar equals detection without ---- */

/* n_parcels parcels, a season every 5 days with cloudy dates and, on two parcels of
 * three, a cut on a day that depends on the parcel. */
static char *make_series(int n_parcels)
{
    char *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    REQUIRE(f != NULL);
    fprintf(f, "parcel_id,date,ndvi\n");
    for (int p = 0; p < n_parcels; p++) {
        int cut = p % 3 ? 160 + p % 60 : -1; /* day of year */
        for (int doy = 95; doy <= 270; doy += 5) {
            double v = 0.25 + 0.55 * fmin(1.0, (doy - 95) / 60.0);
            if (cut > 0 && doy >= cut)
                v = fmin(v, 0.35 + 0.01 * (doy - cut));
            int32_t day = date_days_from_civil(2026, 1, 1) + doy - 1;
            char date[11];
            date_format(day, date);
            if ((p + doy / 5) % 7 == 0)
                fprintf(f, "P-%04d,%s,\n", p, date); /* lost to cloud */
            else
                fprintf(f, "P-%04d,%s,%.4f\n", p, date, v);
        }
    }
    REQUIRE(fclose(f) == 0);
    return csv;
}

/* Field by field (struct padding is not part of the result). */
static int same_summary(const detect_summary *a, const detect_summary *b)
{
    int same = a->parcel == b->parcel && a->parcel_id == b->parcel_id && a->season == b->season &&
               a->n_obs == b->n_obs && a->n_clear_obs == b->n_clear_obs &&
               a->max_gap_days == b->max_gap_days && a->well_covered == b->well_covered &&
               a->n_events == b->n_events && a->mowed_probability == b->mowed_probability &&
               a->season_probability == b->season_probability && a->sufficient == b->sufficient &&
               a->call == b->call && a->reason == b->reason;
    for (int k = 0; same && k < DETECT_N_SEASON_FEATURES; k++)
        same = a->season_x[k] == b->season_x[k] || (isnan(a->season_x[k]) && isnan(b->season_x[k]));
    return same;
}

static void read_series(int n_parcels, char **csv, series_set *set)
{
    *csv = make_series(n_parcels);
    FILE *in = fmemopen(*csv, strlen(*csv), "r");
    REQUIRE(in != NULL);
    REQUIRE(series_read(in, "synthetic", set) == MC_OK);
    fclose(in);
    CHECK_INT(set->n_parcels, n_parcels);
}

/* The "parcels" bar is stepped by exactly one per parcel: 2,100 parcels are two full
 * steps of 1,024 and a rest of 52 (a total above that shows no clamping). */
static void check_detection_steps(void)
{
    char *csv;
    series_set set;
    read_series(2100, &csv, &set);
    detect_model m;
    REQUIRE(detect_load_model(NULL, &m) == MC_OK);
    progress bar;
    progress_begin(&bar, "parcels", 1000000);
    detect_result r;
    REQUIRE(detect_run_progress(&set, &m, &bar, &r) == MC_OK);
    CHECK_INT(bar.done, 2100);
    progress_end(&bar);
    detect_result_free(&r);
    series_free(&set);
    free(csv);
}

static void check_detection_with_bar(void)
{
    char *csv;
    series_set set;
    read_series(300, &csv, &set);
    detect_model m;
    REQUIRE(detect_load_model(NULL, &m) == MC_OK);
    detect_result whole, chunked;
    REQUIRE(detect_run(&set, &m, &whole) == MC_OK);
    REQUIRE(detect_stage_detect(&set, &m, &chunked) == MC_OK);
    CHECK(whole.n_events > 0); /* else the comparison below says little */
    CHECK_INT(chunked.n_events, whole.n_events);
    CHECK_INT(chunked.n_summaries, whole.n_summaries);
    int same = chunked.n_events == whole.n_events && chunked.n_summaries == whole.n_summaries;
    for (size_t i = 0; same && i < whole.n_events; i++) {
        const detect_event *a = &whole.events[i], *b = &chunked.events[i];
        same = a->parcel == b->parcel && a->parcel_id == b->parcel_id && a->day == b->day &&
               a->day_start == b->day_start && a->day_end == b->day_end &&
               a->confidence == b->confidence && a->season == b->season;
    }
    for (size_t i = 0; same && i < whole.n_summaries; i++)
        same = same_summary(&whole.summaries[i], &chunked.summaries[i]);
    CHECK_MSG(same, "the result with the bar differs from detect_run's");
    detect_result_free(&whole);
    detect_result_free(&chunked);
    series_free(&set);
    free(csv);
}

static void check_stage_counts(void)
{
    int64_t v = 0;
    stage_counts_clear();
    CHECK(!stage_counts_get("scenes_new", &v));
    stage_counts_set("scenes_new", 48);
    stage_counts_set("events", 0);
    stage_counts_set("scenes_new", 49); /* replaced, not added */
    CHECK(stage_counts_get("scenes_new", &v) && v == 49);
    CHECK(stage_counts_get("events", &v) && v == 0); /* zero is a count, not unknown */
    stage_counts_clear();
    CHECK(!stage_counts_get("events", &v));
}

int main(void)
{
    setenv("TERM", "xterm", 1);
    log_set_level(LOG_INFO);
    check_format();
    check_terminal_fast();
    check_terminal_slow();
    check_quiet_terminal();
    check_file();
    check_detection_with_bar();
    check_detection_steps();
    check_stage_counts();
    return test_summary();
}
