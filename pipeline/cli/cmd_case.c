/* mowcheck case NUMBER | review NUMBER ...: a case in words with its review history,
 * and an inspector's verdict; thin layers over store_decisions.c. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casenum.h"
#include "cli.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "store.h"

/* ---- codes in words ---- */
typedef struct code_words {
    const char *code, *words;
} code_words;

static const code_words outcome_words[] = {
    {"approved", "approved"},
    {"not_mowed", "not mowed"},
    {"inconclusive", "inconclusive"},
    {"pending", "pending (the window is still open)"},
    {"error", "error (retried next night)"},
};
static const code_words verdict_words[] = {
    {"mowed", "mowed"},
    {"not_mowed", "not mowed"},
    {"needs_visit", "needs a field visit"},
};
/* where a mowing event lies against the obligation window (decide.c) */
static const code_words position_words[] = {
    {"before", "before the window"},
    {"straddles_start", "across the start of the window"},
    {"inside", "inside the window"},
    {"straddles_end", "across the end of the window"},
    {"spans_window", "spanning the whole window"},
    {"after", "after the window"},
};

/* The words of a code; a code without words is shown with spaces for underscores. */
static void put_words(FILE *out, const code_words *table, size_t n, const char *code)
{
    for (size_t i = 0; code && i < n; i++)
        if (strcmp(table[i].code, code) == 0) {
            fputs(table[i].words, out);
            return;
        }
    for (const char *c = code ? code : ""; *c; c++)
        cli_put_text_char(out, *c == '_' ? ' ' : *c);
}

#define PUT_WORDS(out, table, code) put_words(out, table, sizeof table / sizeof *table, code)

static const char *verdict_text(const char *code)
{
    for (size_t i = 0; i < sizeof verdict_words / sizeof *verdict_words; i++)
        if (strcmp(verdict_words[i].code, code) == 0)
            return verdict_words[i].words;
    return code;
}

/* ---- case ---- */

static const char case_usage[] =
    "usage: mowcheck case NUMBER\n\n"
    "Shows a case: the parcel and claim, the outcome and its reason in plain words, the\n"
    "evidence (mowing events, clear satellite views), and every review (who, with which\n"
    "database login, when, the verdict, and why a verdict overrode an earlier one).\n"
    "A mistyped number is refused by its check digits.";

/* The canonical form of a typed case number, or a message saying what is wrong. */
static int canonical_case(const char *typed, char *out, size_t size)
{
    int season;
    int64_t serial;
    if (casenum_parse(typed, &season, &serial) != MC_OK)
        return mc_fail_wrap("case number '%s'", typed);
    return casenum_format(season, serial, out, size);
}

static void print_events(FILE *out, json_t *reason)
{
    json_t *events = json_object_get(reason, "events");
    size_t i;
    json_t *e;
    if (json_array_size(events) == 0) {
        fputs("  events:    no mowing event detected this season\n", out);
        return;
    }
    json_array_foreach(events, i, e) {
        fprintf(out, "  %s  mowing on about ", i == 0 ? "events:  " : "         ");
        cli_put_text(out, json_string_value(json_object_get(e, "date")));
        fputs(" (between ", out);
        cli_put_text(out, json_string_value(json_object_get(e, "date_start")));
        fputs(" and ", out);
        cli_put_text(out, json_string_value(json_object_get(e, "date_end")));
        fprintf(out, "), confidence %.2f, ", json_number_value(json_object_get(e, "confidence")));
        PUT_WORDS(out, position_words, json_string_value(json_object_get(e, "position")));
        fputc('\n', out);
    }
}

static void print_evidence(FILE *out, const char *reason_json)
{
    json_t *reason = json_loads(reason_json ? reason_json : "", 0, NULL);
    if (!reason)
        return;
    json_t *ob = json_object_get(reason, "observations");
    if (ob) {
        print_events(out, reason);
        fprintf(out, "  views:     %lld clear in the season, %lld inside the window, longest gap "
                     "%lld days, last clear ",
                (long long)json_integer_value(json_object_get(ob, "clear_in_season")),
                (long long)json_integer_value(json_object_get(ob, "clear_in_window")),
                (long long)json_integer_value(json_object_get(ob, "longest_gap_days")));
        const char *last = json_string_value(json_object_get(ob, "last_clear"));
        cli_put_text(out, last ? last : "none");
        fputc('\n', out);
    }
    json_t *sc = json_object_get(reason, "scenes_used");
    if (sc)
        fprintf(out, "  scenes:    %lld used\n", (long long)json_integer_value(sc));
    json_decref(reason);
}

/* The position (1-based) of a review in the case's history; 0 where it is not there. */
static size_t review_position(const store_case *c, int64_t review_id)
{
    for (size_t i = 0; i < c->n_reviews; i++)
        if (c->reviews[i].review_id == review_id)
            return i + 1;
    return 0;
}

/* Every review, oldest first; the last one is the verdict in force. */
static void print_reviews(FILE *out, const store_case *c)
{
    if (c->n_reviews == 0) {
        fputs("  review:    not reviewed yet\n", out);
        return;
    }
    for (size_t i = 0; i < c->n_reviews; i++) {
        const store_review_row *r = &c->reviews[i];
        fprintf(out, "  review %zu:  ", i + 1);
        PUT_WORDS(out, verdict_words, r->verdict);
        fputs(", by inspector ", out);
        cli_put_text(out, r->inspector);
        if (r->db_login[0]) {
            fputs(" (database login ", out);
            cli_put_text(out, r->db_login);
            fputs(") on ", out);
        } else {
            fputs(" (database login not recorded) on ", out);
        }
        cli_put_text(out, r->reviewed_at);
        if (r->supersedes) {
            fprintf(out, "\n             overrides review %zu: ", review_position(c, r->supersedes));
            cli_put_text(out, r->supersede_reason);
        }
        fputs("\n             note: ", out);
        cli_put_text(out, r->note);
        fputc('\n', out);
    }
    fputs("  verdict:   ", out);
    PUT_WORDS(out, verdict_words, c->reviews[c->n_reviews - 1].verdict);
    fprintf(out, " (review %zu counts)\n", c->n_reviews);
}

static void print_case(FILE *out, const store_case *c)
{
    fputs("Case ", out);
    cli_put_text(out, c->case_number);
    fputs("\n  claim:     ", out);
    cli_put_text(out, c->claim_id);
    fprintf(out, " (season %d, scheme ", c->season);
    cli_put_text(out, c->scheme[0] ? c->scheme : "-");
    fputs(", applicant ", out);
    cli_put_text(out, c->applicant[0] ? c->applicant : "-");
    fputs(")\n  parcel:    ", out);
    cli_put_text(out, c->parcel_id);
    fputs("\n  window:    ", out);
    cli_put_text(out, c->window_start);
    fputs(" to ", out);
    cli_put_text(out, c->window_end);
    fprintf(out, ", at least %d mowing%s\n  outcome:   ", c->min_mowings,
            c->min_mowings == 1 ? "" : "s");
    if (c->outcome[0])
        PUT_WORDS(out, outcome_words, c->outcome);
    else
        fputs("(no current decision)", out);
    fputs(" (decided ", out);
    cli_put_text(out, c->decided_at);
    fputs(", as of ", out);
    cli_put_text(out, c->as_of);
    fputs(", model ", out);
    cli_put_text(out, c->model_version[0] ? c->model_version : "-");
    fputs(")\n  reason:    ", out);
    cli_put_text(out, c->reason_text);
    fputc('\n', out);
    print_evidence(out, c->reason_json);
    print_reviews(out, c);
    if (c->proposal_outcome) {
        fputs("  later run: would now decide ", out);
        PUT_WORDS(out, outcome_words, c->proposal_outcome);
        fputs(" (", out);
        cli_put_text(out, c->proposed_at);
        fputs("): ", out);
        cli_put_text(out, c->proposal_text);
        fputs("\n             the reviewed decision stays as it is.\n", out);
    }
}

/* Opens the store and finds the case; prints the failure. */
static int load_case(const mc_settings *set, const char *number, store **st, store_case *c)
{
    if (cli_open_store(set, st) != MC_OK) {
        log_error("%s", mc_error_message());
        return EXIT_FAILURE_RUN;
    }
    int found;
    if (store_case_get(*st, number, c, &found) != MC_OK) {
        log_error("%s", mc_error_message());
        store_close(*st);
        return EXIT_FAILURE_RUN;
    }
    if (!found) {
        log_error("case %s: no such case", number);
        store_close(*st);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Parses the command line and the one case number: EXIT_OK or the exit code. */
static int parse_case_command(int argc, char **argv, const char *usage, const cli_option *options,
                              mc_settings *set, char number[CASENUM_MAX])
{
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int n_pos = 0;
    if (!pos) {
        settings_load(set, NULL);
        return EXIT_FAILURE_RUN;
    }
    int parsed = cli_parse(argc, argv, usage, options, set, pos, &n_pos);
    int code = parsed == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    if (parsed == CLI_OK) {
        if (n_pos != 1)
            log_error("%s: give one case number (see mowcheck %s --help)", argv[0], argv[0]);
        else if (canonical_case(pos[0], number, CASENUM_MAX) != MC_OK)
            log_error("%s", mc_error_message());
        else
            code = EXIT_OK;
    }
    free(pos);
    return parsed == CLI_HELP ? -1 : code;
}

int cmd_case(int argc, char **argv)
{
    mc_settings set;
    char number[CASENUM_MAX];
    const cli_option options[] = {{NULL, NULL, NULL, NULL}};
    int code = parse_case_command(argc, argv, case_usage, options, &set, number);
    if (code == EXIT_OK) {
        store *st;
        store_case c;
        if ((code = load_case(&set, number, &st, &c)) == EXIT_OK) {
            print_case(stdout, &c);
            store_case_free(&c);
            store_close(st);
        }
    }
    settings_free(&set);
    return code < 0 ? EXIT_OK : code;
}

/* ---- review ---- */

static const char review_usage[] =
    "usage: mowcheck review NUMBER --verdict mowed|not_mowed|needs_visit --note TEXT\n"
    "                       [--inspector ID] [--supersede REASON]\n\n"
    "Records an inspector's verdict on a case, with the database login that records it.\n"
    "Every review is kept (mowcheck case shows them all); the latest one counts. A verdict\n"
    "that differs from a mowed or not_mowed verdict already on the case is refused unless\n"
    "--supersede gives the reason for overriding it. A reviewed decision is never changed\n"
    "by a later run; what a later run would decide is shown beside it (mowcheck case).";

static int check_review_args(const char *verdict, const char *inspector, const char *note,
                             const char *supersede)
{
    if (!verdict || (strcmp(verdict, "mowed") != 0 && strcmp(verdict, "not_mowed") != 0 &&
                     strcmp(verdict, "needs_visit") != 0))
        return mc_fail("review: --verdict must be mowed, not_mowed or needs_visit (got '%s')",
                       verdict ? verdict : "");
    if (inspector && !inspector[0])
        return mc_fail("review: --inspector ID must not be empty");
    if (!note || !note[0])
        return mc_fail("review: --note TEXT is required (why the verdict)");
    if (supersede && !supersede[0])
        return mc_fail("review: --supersede REASON must say why the earlier verdict is wrong");
    return MC_OK;
}

/* The rule the database enforces (schemas/040_review_history.sql), checked first so
 * that the inspector is told what to do: a verdict that differs from a final one
 * (mowed, not_mowed) needs --supersede; --supersede needs a differing earlier verdict. */
static int review_allowed(const store_case *c, const char *verdict, const char *supersede)
{
    const store_review_row *last = c->n_reviews ? &c->reviews[c->n_reviews - 1] : NULL;
    int final = last && (strcmp(last->verdict, "mowed") == 0 ||
                         strcmp(last->verdict, "not_mowed") == 0);
    if (!supersede && final && strcmp(last->verdict, verdict) != 0)
        return mc_fail("review: case %s: inspector %s found %s on %s (review %zu); a different "
                       "verdict needs --supersede REASON", c->case_number, last->inspector,
                       verdict_text(last->verdict), last->reviewed_at, c->n_reviews);
    if (supersede && !last)
        return mc_fail("review: case %s: no earlier review to supersede", c->case_number);
    if (supersede && strcmp(last->verdict, verdict) == 0)
        return mc_fail("review: case %s: '%s' agrees with review %zu; nothing to supersede",
                       c->case_number, verdict_text(verdict), c->n_reviews);
    return MC_OK;
}

int cmd_review(int argc, char **argv)
{
    const char *verdict = NULL, *inspector = NULL, *note = NULL, *supersede = NULL;
    const cli_option options[] = {
        {"verdict", &verdict, NULL, "mowed | not_mowed | needs_visit"},
        {"inspector", &inspector, NULL, "ID: the inspector's identifier (default: the database login)"},
        {"note", &note, NULL, "TEXT: why (what was seen, where)"},
        {"supersede", &supersede, NULL, "REASON: override the case's differing verdict, and why"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings set;
    char number[CASENUM_MAX];
    int code = parse_case_command(argc, argv, review_usage, options, &set, number);
    if (code == EXIT_OK && check_review_args(verdict, inspector, note, supersede) != MC_OK) {
        log_error("%s", mc_error_message());
        code = EXIT_USAGE;
    }
    store *st;
    store_case c;
    if (code == EXIT_OK && (code = load_case(&set, number, &st, &c)) == EXIT_OK) {
        int allowed = review_allowed(&c, verdict, supersede) == MC_OK;
        store_case_free(&c);
        if (!allowed) {
            log_error("%s", mc_error_message());
            code = EXIT_USAGE;
        } else if (store_review_supersede(st, number, verdict, inspector, note, supersede) != MC_OK) {
            log_error("%s", mc_error_message());
            code = EXIT_ATTENTION;
        } else {
            printf("review: case %s: ", number);
            PUT_WORDS(stdout, verdict_words, verdict);
            fputs(supersede ? ", overriding the earlier verdict\n" : "\n", stdout);
        }
        store_close(st);
    }
    settings_free(&set);
    return code < 0 ? EXIT_OK : code;
}
