/* mowcheck run on the sample region (made by the generator, with its four bad
 * deliveries), against the bundled registry service and a database of its own:
 *
 *   night 1, stderr on a pseudo-terminal: a progress bar per stage ("scenes",
 *     "parcels", "claims") redrawn with '\r' and ending at 100%; the summary JSON's
 *     counts equal what the database holds, counted with plain SQL, and the faults the
 *     generator's manifest lists; energy per parcel-date is "not available" without
 *     RAPL (never a made-up number);
 *   night 2, stderr a file and a fake RAPL tree that reads 0 J: no bar and no '\r',
 *     nothing new, and per parcel-date "none: no parcel observations written";
 *   night 3, --quiet on the terminal: no bar and no text summary; no RAPL but
 *     cpu_watts_per_core 2.5: the JSON carries an estimate, labelled estimated, of
 *     2.5 W x the run's processor seconds, and still no measured joules.
 *
 * usage: test_run_summary MOWCHECK REGISTRY MAKE_SAMPLE */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "../client/client_test.h"

static const char *mowcheck, *registry_bin, *make_sample;
static char work[256], region[400], registry_url[160];

/* ---- running mowcheck with stderr on a pseudo-terminal or a file ---- */

typedef struct night {
    int exit_code;
    char *out, *err; /* stdout (a file) and stderr (the terminal's bytes, or the file) */
} night;

static void night_free(night *n)
{
    free(n->out);
    free(n->err);
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    REQUIRE(p != NULL);
    memcpy(p + *len, data, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
}

/* Opens a pseudo-terminal (raw, 120 columns); *slave_fd for the child. */
static int open_pty(int *slave_fd)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    REQUIRE(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    REQUIRE(slave >= 0);
    struct termios t;
    REQUIRE(tcgetattr(slave, &t) == 0);
    cfmakeraw(&t);
    REQUIRE(tcsetattr(slave, TCSANOW, &t) == 0);
    struct winsize ws = {.ws_row = 40, .ws_col = 120};
    REQUIRE(ioctl(slave, TIOCSWINSZ, &ws) == 0);
    *slave_fd = slave;
    return master;
}

/* Runs mowcheck run with extra args; stderr to a terminal when on_tty. The terminal
 * is read while the child runs (its buffer is small). Bounded: 300 s. */
static void run_night(const char *tag, int on_tty, const char *const *extra, night *res)
{
    char out_path[300], err_path[300], state[300], summary[300];
    snprintf(out_path, sizeof out_path, "%s/%s.out", work, tag);
    snprintf(err_path, sizeof err_path, "%s/%s.err", work, tag);
    snprintf(state, sizeof state, "%s/state", work);
    snprintf(summary, sizeof summary, "%s/%s.json", work, tag);
    char scenes[450], parcels[450];
    snprintf(scenes, sizeof scenes, "%s/scenes", region);
    snprintf(parcels, sizeof parcels, "%s/parcels.gpkg", region);
    const char *argv[40] = {mowcheck, "run", "--scenes", scenes, "--parcels", parcels,
                            "--registry", registry_url, "--as-of", "2026-11-01",
                            "--threads", "2", "--db", db_dsn, "--state-dir", state,
                            "--summary-json", summary};
    int n = 18;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int slave = -1, master = on_tty ? open_pty(&slave) : -1;
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (on_tty)
            close(master);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = on_tty ? slave : open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
            _exit(126);
        execv(mowcheck, (char *const *)argv);
        _exit(127);
    }
    char *tty_text = NULL;
    size_t tty_len = 0;
    if (on_tty)
        close(slave);
    append(&tty_text, &tty_len, "", 0);
    double deadline = now_ms() + 300000;
    int status = 0, done = 0;
    while (!done && now_ms() < deadline) {
        if (on_tty) {
            struct pollfd p = {.fd = master, .events = POLLIN};
            if (poll(&p, 1, 50) > 0) {
                char buf[4096];
                ssize_t got = read(master, buf, sizeof buf);
                if (got > 0)
                    append(&tty_text, &tty_len, buf, (size_t)got);
            }
        } else {
            sleep_ms(50);
        }
        done = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    REQUIRE(done);
    if (on_tty) { /* what is left (EIO once the terminal has no writer) */
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        char buf[4096];
        ssize_t got;
        while ((got = read(master, buf, sizeof buf)) > 0)
            append(&tty_text, &tty_len, buf, (size_t)got);
        close(master);
    }
    res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res->out = slurp(out_path);
    if (on_tty) {
        res->err = tty_text;
    } else {
        free(tty_text);
        res->err = slurp(err_path);
    }
}

static json_t *load_summary(const char *tag)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s.json", work, tag);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    CHECK_MSG(j != NULL, "%s: %s", path, e.text);
    REQUIRE(j != NULL);
    return j;
}

/* The integer at a dotted path ("scenes.new"); -1 where it is not an integer. */
static long count_at(json_t *j, const char *path)
{
    char copy[80];
    snprintf(copy, sizeof copy, "%s", path);
    json_t *v = j;
    for (char *save, *k = strtok_r(copy, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

/* ---- independent counts: the generator's manifest and the database ---- */

typedef struct manifest {
    int scenes, rejected, duplicates; /* rejected: bad deliveries that are not duplicates */
} manifest;

static manifest read_manifest(void)
{
    char path[450], line[512];
    snprintf(path, sizeof path, "%s/scenes.csv", region);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    manifest m = {0};
    REQUIRE(fgets(line, sizeof line, f) != NULL); /* header: ...,fault last */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *fault = strrchr(line, ',');
        fault = fault ? fault + 1 : "";
        m.scenes++;
        if (strcmp(fault, "duplicate") == 0)
            m.duplicates++;
        else if (*fault)
            m.rejected++;
    }
    fclose(f);
    return m;
}

static int lines_in(const char *name)
{
    char path[450], line[512];
    snprintf(path, sizeof path, "%s/%s", region, name);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    int n = 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    return n;
}

/* "label [...] N/N 100%" as the last draw of that label; returns N (-1: none). */
static long final_bar(const char *tty, const char *label)
{
    char needle[40];
    snprintf(needle, sizeof needle, "\r%s [", label);
    const char *last = NULL;
    for (const char *p = tty; (p = strstr(p, needle)); p++)
        last = p;
    if (!last)
        return -1;
    const char *close = strchr(last, ']');
    long done = -1, total = -2;
    int percent = -1;
    if (!close || sscanf(close + 1, " %ld/%ld %d%%", &done, &total, &percent) != 3)
        return -1;
    const char *end = close + strcspn(close, "\r\n");
    CHECK_MSG(*end == '\n', "the %s bar does not end its line", label);
    return done == total && percent == 100 ? total : -1;
}

static void check_night1(const night *n1, const manifest *m)
{
    CHECK_INT(n1->exit_code, 1); /* done, but refused scenes need a person */
    json_t *j = load_summary("night1");
    PGconn *c = db_connect();
    /* scenes: the manifest's deliveries and faults, and the database's rows */
    CHECK_INT(count_at(j, "scenes.found"), m->scenes);
    CHECK_INT(count_at(j, "scenes.new"), m->scenes);
    CHECK_INT(count_at(j, "scenes.rejected"), m->rejected);
    CHECK_INT(count_at(j, "scenes.duplicates"), m->duplicates);
    CHECK_INT(count_at(j, "scenes.ingested"), m->scenes - m->rejected - m->duplicates);
    CHECK_INT(count_at(j, "scenes.ingested"), db_count(c, "SELECT count(*) FROM scenes"));
    CHECK_INT(count_at(j, "scenes.rejected") + count_at(j, "scenes.duplicates"),
              db_count(c, "SELECT count(*) FROM scene_rejections"));
    CHECK_INT(count_at(j, "scenes.skipped"), 0);
    /* every sample scene carries B11 */
    CHECK_INT(count_at(j, "scenes.with_b11"), count_at(j, "scenes.ingested"));
    /* parcels and observations */
    CHECK_INT(count_at(j, "parcels.in_set"), lines_in("truth.csv") - 1);
    CHECK_INT(count_at(j, "parcels.observed"),
              db_count(c, "SELECT count(DISTINCT parcel_id) FROM observation_parts"));
    CHECK_INT(count_at(j, "parcels.observations_written"),
              db_count(c, "SELECT count(*) FROM observation_parts"));
    CHECK(count_at(j, "parcels.observations_written") > 1000);
    CHECK_INT(count_at(j, "parcels.with_series"),
              db_count(c, "SELECT count(DISTINCT parcel_id) FROM parcel_seasons"));
    CHECK_INT(count_at(j, "parcel_seasons"), db_count(c, "SELECT count(*) FROM parcel_seasons"));
    CHECK_INT(count_at(j, "events_detected"), db_count(c, "SELECT count(*) FROM events"));
    CHECK(count_at(j, "events_detected") > 0);
    /* claims and outcomes */
    CHECK_INT(count_at(j, "claims"),
              db_count(c, "SELECT count(*) FROM decisions WHERE is_current AND claim_id IS NOT NULL"));
    CHECK(count_at(j, "claims") > 0);
    CHECK_INT(count_at(j, "failed_parcels"), 0);
    static const char *const kinds[] = {"approved", "not_mowed", "inconclusive", "pending", "error"};
    long sum = 0;
    for (int i = 0; i < 5; i++) {
        char path[64], q[200];
        snprintf(path, sizeof path, "outcomes.%s", kinds[i]);
        snprintf(q, sizeof q, "SELECT count(*) FROM decisions WHERE is_current AND outcome = '%s'",
                 kinds[i]);
        CHECK_MSG(count_at(j, path) == db_count(c, q), "%s: %ld in the summary, %ld stored",
                  kinds[i], count_at(j, path), db_count(c, q));
        sum += count_at(j, path);
    }
    CHECK_INT(sum, count_at(j, "claims"));
    /* stages */
    json_t *stages = json_object_get(j, "stages");
    CHECK_INT(json_array_size(stages), 3);
    static const int exits[] = {1, 0, 0};
    for (size_t i = 0; i < 3 && i < json_array_size(stages); i++) {
        json_t *s = json_array_get(stages, i);
        CHECK(json_is_true(json_object_get(s, "ran")));
        CHECK_INT(json_integer_value(json_object_get(s, "exit")), exits[i]);
        CHECK(json_number_value(json_object_get(s, "seconds")) > 0);
    }
    /* energy: a number only where a counter was read */
    json_t *joules = json_object_get(j, "joules"), *per = json_object_get(j, "joules_per_parcel_date");
    const char *per_text = json_string_value(json_object_get(j, "joules_per_parcel_date_text"));
    REQUIRE(per_text != NULL);
    if (json_is_null(joules)) {
        CHECK(json_is_null(per));
        CHECK(strncmp(per_text, "not available (", 15) == 0);
        CHECK(strstr(n1->out, "energy per parcel-date: not available (") != NULL);
        printf("no energy counter here: %s\n", per_text);
    } else {
        CHECK_NEAR(json_number_value(per),
                   json_number_value(joules) / count_at(j, "parcels.observations_written"), 1e-9);
    }
    /* the runs table keeps the same summary (the report's footer reads it) */
    PGresult *r = db_rows(c, "SELECT summary::text FROM runs WHERE command = 'run'");
    CHECK_INT(PQntuples(r), 1);
    json_t *stored = PQntuples(r) ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    CHECK(stored && json_equal(stored, j));
    json_decref(stored);
    PQclear(r);
    /* the text summary */
    char line[200];
    snprintf(line, sizeof line, "  scenes:  %d found, %d new, %d ingested, %d rejected, %d duplicates",
             m->scenes, m->scenes, m->scenes - m->rejected - m->duplicates, m->rejected,
             m->duplicates);
    CHECK_MSG(strstr(n1->out, line) != NULL, "no '%s' in:\n%s", line, n1->out);
    /* the bars: each ends at 100% with its stage's count */
    long scenes_bar = final_bar(n1->err, "scenes"), parcels_bar = final_bar(n1->err, "parcels");
    long claims_bar = final_bar(n1->err, "claims");
    /* scenes read: all that passed validation (the truncated band fails while reading) */
    CHECK_MSG(scenes_bar >= count_at(j, "scenes.ingested") + m->duplicates &&
                  scenes_bar <= m->scenes,
              "scenes bar %ld", scenes_bar);
    CHECK_INT(parcels_bar, count_at(j, "parcels.with_series"));
    CHECK_INT(claims_bar, count_at(j, "claims"));
    CHECK(strstr(n1->err, "mowcheck: run: stage detect\n") != NULL);
    json_decref(j);
    PQfinish(c);
}

/* A powercap tree with one package whose counter never moves: 0 J, available. */
static void fake_rapl(char *root, size_t size)
{
    snprintf(root, size, "%s/powercap", work);
    char path[400];
    snprintf(path, sizeof path, "%s/intel-rapl:0", root);
    REQUIRE(mkdir(root, 0755) == 0 && mkdir(path, 0755) == 0);
    static const char *const files[][2] = {
        {"name", "package-0\n"}, {"energy_uj", "5000000\n"}, {"max_energy_range_uj", "262143328850\n"}};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/intel-rapl:0/%s", root, files[i][0]);
        FILE *f = fopen(path, "w");
        REQUIRE(f != NULL);
        fputs(files[i][1], f);
        fclose(f);
    }
}

static void check_night2(const night *n2)
{
    CHECK_INT(n2->exit_code, 1); /* the refused scenes are refused again */
    CHECK(strchr(n2->err, '\r') == NULL);
    CHECK(strstr(n2->err, "[#") == NULL && strstr(n2->err, "[.") == NULL);
    CHECK(strstr(n2->err, "mowcheck: run: stage decide\n") != NULL);
    json_t *j = load_summary("night2");
    CHECK_INT(count_at(j, "scenes.new"), count_at(j, "scenes.rejected") + count_at(j, "scenes.duplicates"));
    CHECK_INT(count_at(j, "scenes.ingested"), 0);
    CHECK_INT(count_at(j, "parcels.observations_written"), 0);
    CHECK_INT(count_at(j, "parcels.observed"), 0);
    /* the fake counter read 0 J: a real reading, so a number; no quotient without parcel-dates */
    CHECK(json_is_number(json_object_get(j, "joules")));
    CHECK_NEAR(json_number_value(json_object_get(j, "joules")), 0.0, 1e-12);
    CHECK(json_is_null(json_object_get(j, "joules_per_parcel_date")));
    CHECK_STR(json_string_value(json_object_get(j, "joules_per_parcel_date_text")),
              "none: no parcel observations written");
    CHECK(strstr(n2->out, "energy per parcel-date: none: no parcel observations written") != NULL);
    json_decref(j);
}

static void check_night3(const night *n3)
{
    CHECK(n3->exit_code == 1);
    CHECK(strchr(n3->err, '\r') == NULL);
    CHECK(strstr(n3->out, "run summary") == NULL);
    CHECK(strstr(n3->err, "mowcheck: run: stage") == NULL); /* info lines are off */
    json_t *j = load_summary("night3");
    CHECK(json_is_null(json_object_get(j, "cpu_joules"))); /* nothing measured */
    CHECK(json_is_null(json_object_get(j, "joules_per_parcel_date")));
    double cpu = json_number_value(json_object_get(j, "cpu_seconds"));
    json_t *est = json_object_get(j, "energy_estimate");
    CHECK(cpu > 0);
    CHECK_STR(json_string_value(json_object_get(est, "basis")),
              "estimated from CPU time, not measured");
    CHECK_NEAR(json_number_value(json_object_get(est, "watts_per_core")), 2.5, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(est, "joules")), 2.5 * cpu, 0.01);
    json_decref(j);
}

/* Runs argv to its end with stdout and stderr to log (bounded: 300 s); 0 on exit 0. */
static int run_logged(const char *const *argv, const char *log)
{
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    double deadline = now_ms() + 300000;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        sleep_ms(100);
    }
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
        char *text = slurp(log);
        fprintf(stderr, "%s failed:\n%s\n", argv[0], text);
        free(text);
    }
    return ok ? 0 : -1;
}

/* The sample region with its faults (about 20 s). */
static int make_region(void)
{
    char log[300];
    snprintf(log, sizeof log, "%s/generator.log", work);
    const char *argv[] = {make_sample, "--out", region, "--with-faults", "--threads", "2", NULL};
    return run_logged(argv, log);
}

/* After night 1: the inspector report's footer shows the run with its energy per
 * parcel-date as the summary says (here: not available). */
static void check_report_footer(void)
{
    char out[300], log[300], page[320];
    snprintf(out, sizeof out, "%s/report", work);
    snprintf(log, sizeof log, "%s/report.log", work);
    snprintf(page, sizeof page, "%s/report.html", out);
    const char *argv[] = {mowcheck, "report", "-o", out, "--db", db_dsn, "--season", "2026",
                          "--quiet", NULL};
    CHECK(run_logged(argv, log) == 0);
    char *html = slurp(page);
    const char *li = strstr(html, "<li class=\"run\">run started");
    CHECK_MSG(li && strstr(li, "energy per parcel-date: not available (no RAPL counters") &&
                  strstr(li, "energy per parcel-date") < strstr(li, "</li>"),
              "footer: %.300s", li ? li : "(no run line)");
    free(html);
}

/* A REQUIRE that fails exits: the registry service must not outlive the test. */
static srv reg;
static void stop_registry(void)
{
    if (reg.pid > 0 && !reg.exited)
        srv_stop(&reg);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_run_summary MOWCHECK REGISTRY MAKE_SAMPLE\n");
        return 2;
    }
    mowcheck = argv[1], registry_bin = argv[2], make_sample = argv[3];
    db_create("run_summary");
    tmpdir_make(work, "run-summary");
    snprintf(region, sizeof region, "%s/region", work);
    REQUIRE(make_region() == 0);
    char claims[450];
    snprintf(claims, sizeof claims, "%s/claims.csv", region);
    const char *reg_args[] = {"--claims", claims, NULL};
    REQUIRE(srv_spawn(&reg, registry_bin, reg_args, 0) == 0);
    atexit(stop_registry);
    snprintf(registry_url, sizeof registry_url, "%s", reg.base);
    setenv("MOWCHECK_REGISTRY_USER_ID", "EE38001010000", 1);
    setenv("MOWCHECK_POWERCAP_ROOT", "/nonexistent/powercap", 1); /* as on this VM: no RAPL */
    setenv("TERM", "xterm", 1);
    manifest m = read_manifest();
    CHECK(m.rejected >= 1 && m.duplicates >= 1);

    night n1, n2, n3;
    run_night("night1", 1, NULL, &n1);
    check_night1(&n1, &m);
    check_report_footer();
    char root[300];
    fake_rapl(root, sizeof root);
    setenv("MOWCHECK_POWERCAP_ROOT", root, 1);
    run_night("night2", 0, NULL, &n2);
    check_night2(&n2);
    const char *quiet[] = {"--quiet", NULL};
    setenv("MOWCHECK_POWERCAP_ROOT", "/nonexistent/powercap", 1);
    setenv("MOWCHECK_CPU_WATTS_PER_CORE", "2.5", 1);
    run_night("night3", 1, quiet, &n3);
    unsetenv("MOWCHECK_CPU_WATTS_PER_CORE");
    check_night3(&n3);
    if (test_failed) {
        fprintf(stderr, "---- night 1 stdout\n%s\n---- night 2 stderr\n%s\n", n1.out, n2.err);
    }
    night_free(&n1), night_free(&n2), night_free(&n3);
    srv_cleanup(&reg);
    tmpdir_remove(work);
    db_drop();
    return test_summary();
}
