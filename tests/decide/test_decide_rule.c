/* The decision rule on decision cases kept as data (cases.txt, format in its
 * header), plus the structured reason and the words. Expected outcomes and
 * counts were worked out by hand from the rule in pipeline/decide/decide.h. */
#include <jansson.h>

#include "decide.h"
#include "series.h"
#include "test.h"

enum { MAX_EVENTS = 16, MAX_CLEAR = 512 };

typedef struct dcase {
    char name[96];
    int line;
    decide_claim_input in;
    decide_event events[MAX_EVENTS];
    int32_t clear[MAX_CLEAR];
    char failure[256];
    char expect_outcome[32], expect_rule[48];
    int counts[4], has_counts;
    int coverage[2], has_coverage;
    char says[4][160]; /* phrases the reason text must contain */
    int n_says;
} dcase;

static int32_t day_of(const char *text, const dcase *c)
{
    int32_t d = 0;
    if (date_parse(text, &d) != 0) {
        fprintf(stderr, "cases.txt:%d (%s): bad date '%s'\n", c->line, c->name, text);
        exit(2);
    }
    return d;
}

static void add_clear(dcase *c, int32_t d)
{
    if (c->in.n_clear_days >= MAX_CLEAR) {
        fprintf(stderr, "cases.txt: case %s: more than %d clear days\n", c->name, MAX_CLEAR);
        exit(2);
    }
    c->clear[c->in.n_clear_days++] = d;
}

static int cmp_day(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted, without repeats (two "clear" lines may name the same day). */
static void normalise_clear(dcase *c)
{
    qsort(c->clear, c->in.n_clear_days, sizeof c->clear[0], cmp_day);
    size_t n = 0;
    for (size_t i = 0; i < c->in.n_clear_days; i++)
        if (n == 0 || c->clear[n - 1] != c->clear[i])
            c->clear[n++] = c->clear[i];
    c->in.n_clear_days = n;
}

static void parse_line(dcase *c, char *line)
{
    if (strncmp(line, "says ", 5) == 0) {
        REQUIRE(c->n_says < 4);
        snprintf(c->says[c->n_says++], sizeof c->says[0], "%s", line + 5);
        return;
    }
    char *save = NULL, *key = strtok_r(line, " \t", &save);
    char *a = strtok_r(NULL, " \t", &save);
    char *b = a ? strtok_r(NULL, " \t", &save) : NULL;
    char *d3 = b ? strtok_r(NULL, " \t", &save) : NULL;
    char *d4 = d3 ? strtok_r(NULL, " \t", &save) : NULL;
    if (strcmp(key, "window") == 0) {
        c->in.window_start = day_of(a, c);
        c->in.window_end = day_of(b, c);
    } else if (strcmp(key, "min_mowings") == 0) {
        c->in.min_mowings = atoi(a);
    } else if (strcmp(key, "as_of") == 0) {
        c->in.as_of = day_of(a, c);
    } else if (strcmp(key, "detector") == 0) {
        c->in.has_summary = strcmp(a, "none") != 0;
        c->in.sufficient = strcmp(a, "sufficient") == 0;
        c->in.unsure = strcmp(a, "unsure") == 0;
    } else if (strcmp(key, "event") == 0) {
        REQUIRE(c->in.n_events < MAX_EVENTS && d4);
        decide_event *e = &c->events[c->in.n_events++];
        e->day = day_of(a, c);
        e->day_start = day_of(b, c);
        e->day_end = day_of(d3, c);
        e->confidence = atof(d4);
    } else if (strcmp(key, "clear") == 0) {
        for (char *t = a; t; t = b, b = b ? d3 : NULL, d3 = d3 ? d4 : NULL,
                  d4 = d4 ? strtok_r(NULL, " \t", &save) : NULL)
            add_clear(c, day_of(t, c));
    } else if (strcmp(key, "clear_every") == 0) {
        int step = atoi(a);
        REQUIRE(step > 0);
        for (int32_t d = day_of(b, c), e = day_of(d3, c); d <= e; d += step)
            add_clear(c, d);
    } else if (strcmp(key, "expect") == 0) {
        snprintf(c->expect_outcome, sizeof c->expect_outcome, "%s", a);
        snprintf(c->expect_rule, sizeof c->expect_rule, "%s", b);
    } else if (strcmp(key, "counts") == 0) {
        c->has_counts = 1;
        c->counts[0] = atoi(a), c->counts[1] = atoi(b), c->counts[2] = atoi(d3),
        c->counts[3] = atoi(d4);
    } else if (strcmp(key, "coverage") == 0) {
        c->has_coverage = 1;
        c->coverage[0] = atoi(a), c->coverage[1] = atoi(b);
    } else {
        fprintf(stderr, "cases.txt:%d: unknown key '%s'\n", c->line, key);
        exit(2);
    }
}

static void run_case(dcase *c)
{
    normalise_clear(c);
    c->in.events = c->events;
    c->in.clear_days = c->clear;
    c->in.failure = c->failure[0] ? c->failure : NULL;
    c->in.claim_id = c->name;
    c->in.parcel_id = "P-1";
    decide_params p;
    decide_params_default(&p);
    decide_result r;
    decide_claim(&c->in, &p, &r);
    CHECK_MSG(strcmp(decide_outcome_name(r.outcome), c->expect_outcome) == 0 &&
                  strcmp(decide_why_code(r.why), c->expect_rule) == 0,
              "case %s (line %d): %s/%s, expected %s/%s", c->name, c->line,
              decide_outcome_name(r.outcome), decide_why_code(r.why), c->expect_outcome,
              c->expect_rule);
    if (c->has_counts)
        CHECK_MSG(r.n_in_window == c->counts[0] && r.n_certain == c->counts[1] &&
                      r.n_possible == c->counts[2] && r.n_unsure == c->counts[3],
                  "case %s: counts %d %d %d %d, expected %d %d %d %d", c->name, r.n_in_window,
                  r.n_certain, r.n_possible, r.n_unsure, c->counts[0], c->counts[1],
                  c->counts[2], c->counts[3]);
    if (c->has_coverage)
        CHECK_MSG(r.n_clear_in_window == c->coverage[0] && r.longest_gap_days == c->coverage[1],
                  "case %s: coverage %d %d, expected %d %d", c->name, r.n_clear_in_window,
                  r.longest_gap_days, c->coverage[0], c->coverage[1]);
    CHECK_MSG(r.text[0] != '\0', "case %s: no reason text", c->name);
    for (int i = 0; i < c->n_says; i++)
        CHECK_MSG(strstr(r.text, c->says[i]) != NULL, "case %s: '%s' not in: %s", c->name,
                  c->says[i], r.text);
    CHECK_MSG(strstr(r.text, "0 confident") == NULL, "case %s: %s", c->name, r.text);
    /* never an automatic rejection: only approved is automatic, and only on the events */
    if (r.outcome == DECIDE_APPROVED)
        CHECK(r.n_certain >= c->in.min_mowings);
}

static int run_cases(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    char line[1024];
    int lineno = 0, n = 0;
    dcase *c = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '#')
            continue;
        if (strncmp(s, "case ", 5) == 0) {
            REQUIRE(c == NULL);
            c = calloc(1, sizeof *c);
            snprintf(c->name, sizeof c->name, "%s", s + 5);
            c->line = lineno;
            c->in.min_mowings = 1;
            c->in.season = 2026;
        } else if (strcmp(s, "end") == 0) {
            REQUIRE(c != NULL && c->expect_outcome[0]);
            run_case(c);
            free(c);
            c = NULL;
            n++;
        } else if (strncmp(s, "failure ", 8) == 0) {
            REQUIRE(c != NULL);
            snprintf(c->failure, sizeof c->failure, "%s", s + 8);
        } else {
            REQUIRE(c != NULL);
            c->line = c->line ? c->line : lineno;
            parse_line(c, s);
        }
    }
    fclose(f);
    REQUIRE(c == NULL);
    return n;
}

/* The structured reason of a straddling event: every field a person needs. */
static void test_reason_json(void)
{
    decide_event ev[2] = {{date_days_from_civil(2026, 5, 27), date_days_from_civil(2026, 6, 6),
                           date_days_from_civil(2026, 6, 1), 0.97},
                          {date_days_from_civil(2026, 5, 6), date_days_from_civil(2026, 5, 11),
                           date_days_from_civil(2026, 5, 10), 0.5}};
    int32_t clear[3] = {date_days_from_civil(2026, 5, 27), date_days_from_civil(2026, 6, 6),
                        date_days_from_civil(2026, 9, 10)};
    decide_claim_input in = {.claim_id = "C-1", .parcel_id = "P-1", .season = 2026,
                             .window_start = date_days_from_civil(2026, 6, 1),
                             .window_end = date_days_from_civil(2026, 8, 31), .min_mowings = 1,
                             .events = ev, .n_events = 2, .has_summary = 1, .sufficient = 1,
                             .clear_days = clear, .n_clear_days = 3,
                             .as_of = date_days_from_civil(2026, 10, 1)};
    decide_params p;
    decide_params_default(&p);
    decide_result r;
    decide_claim(&in, &p, &r);
    CHECK_STR(decide_outcome_name(r.outcome), "inconclusive");
    CHECK_STR(decide_why_code(r.why), "edge");
    CHECK(strstr(r.text, "2026-06-01 to 2026-08-31") != NULL);
    char *js = decide_reason_json(&in, &p, &r, "mowing-default@abc", 42);
    REQUIRE(js != NULL);
    json_error_t err;
    json_t *o = json_loads(js, 0, &err);
    REQUIRE(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "rule")), "edge");
    CHECK_STR(json_string_value(json_object_get(o, "outcome")), "inconclusive");
    CHECK_STR(json_string_value(json_object_get(o, "window_start")), "2026-06-01");
    CHECK_STR(json_string_value(json_object_get(o, "model_version")), "mowing-default@abc");
    CHECK_INT(json_integer_value(json_object_get(o, "scenes_used")), 42);
    json_t *evs = json_object_get(o, "events");
    CHECK_INT(json_array_size(evs), 2);
    json_t *e0 = json_array_get(evs, 0), *e1 = json_array_get(evs, 1);
    CHECK_STR(json_string_value(json_object_get(e0, "date")), "2026-06-01");
    CHECK_STR(json_string_value(json_object_get(e0, "date_start")), "2026-05-27");
    CHECK_STR(json_string_value(json_object_get(e0, "position")), "straddles_start");
    CHECK(json_is_true(json_object_get(e0, "date_in_window")));
    CHECK_NEAR(json_number_value(json_object_get(e0, "confidence")), 0.97, 1e-9);
    CHECK_STR(json_string_value(json_object_get(e1, "position")), "before");
    CHECK(json_is_false(json_object_get(e1, "confident")));
    json_t *ob = json_object_get(o, "observations");
    CHECK_INT(json_integer_value(json_object_get(ob, "clear_in_season")), 3);
    CHECK_INT(json_integer_value(json_object_get(ob, "clear_in_window")), 1);
    /* 05-27 -> 06-06 -> 09-10: the longest gap is 96 days */
    CHECK_INT(json_integer_value(json_object_get(ob, "longest_gap_days")), 96);
    CHECK_STR(json_string_value(json_object_get(ob, "last_clear")), "2026-09-10");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(o, "mowings"), "possible")), 1);
    json_decref(o);
    /* deterministic: same input, same text */
    char *js2 = decide_reason_json(&in, &p, &r, "mowing-default@abc", 42);
    CHECK_STR(js2, js);
    free(js);
    free(js2);
}

/* A failure: the reason says what failed, and nothing about mowing. */
static void test_failure_reason(void)
{
    decide_claim_input in = {.claim_id = "C-9", .parcel_id = "P-9", .season = 2026,
                             .window_start = date_days_from_civil(2026, 6, 1),
                             .window_end = date_days_from_civil(2026, 8, 31), .min_mowings = 1,
                             .failure = "registry: X-Road-Error server.ServerProxyError",
                             .as_of = date_days_from_civil(2026, 10, 1)};
    decide_params p;
    decide_params_default(&p);
    decide_result r;
    decide_claim(&in, &p, &r);
    CHECK_INT(r.outcome, DECIDE_ERROR);
    CHECK(!decide_outcome_is_flag(r.outcome));
    CHECK(strstr(r.text, "server.ServerProxyError") != NULL);
    char *js = decide_reason_json(&in, &p, &r, NULL, -1);
    json_t *o = json_loads(js, 0, NULL);
    REQUIRE(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "failure")), in.failure);
    CHECK(json_object_get(o, "events") == NULL);
    CHECK(json_object_get(o, "scenes_used") == NULL);
    json_decref(o);
    free(js);
}

static void test_names(void)
{
    decide_outcome o;
    for (int i = 0; i < DECIDE_N_OUTCOMES; i++) {
        CHECK(decide_outcome_parse(decide_outcome_name((decide_outcome)i), &o) == 0);
        CHECK_INT(o, i);
    }
    CHECK(decide_outcome_parse("rejected", &o) != 0);
    CHECK(decide_outcome_is_flag(DECIDE_NOT_MOWED) && decide_outcome_is_flag(DECIDE_INCONCLUSIVE));
    CHECK(!decide_outcome_is_flag(DECIDE_APPROVED) && !decide_outcome_is_flag(DECIDE_PENDING));
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    int n = run_cases(argv[1]);
    printf("%d decision cases\n", n);
    CHECK(n >= 25);
    test_reason_json();
    test_failure_reason();
    test_names();
    return test_summary();
}
