/* mowcheck access-log --applicant CODE [--format text|csv]: the farmer's view of
 * the audit log -- every registry request that concerned the applicant's parcels:
 * when, who asked, why, which of their parcels, and what came of it. Other
 * applicants' parcels and claims in the same requests are never shown. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "log.h"
#include "store.h"

static const char usage[] =
    "usage: mowcheck access-log --applicant CODE [--format text|csv]\n"
    "\n"
    "Lists who asked the registry about the applicant's parcels, when and why: the\n"
    "audit log of registry requests, seen from the farmer's side.";

/* A text from the database, safe on a terminal: control characters become '?'. */
static void put_text(FILE *out, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, out);
}

/* One CSV field (RFC 4180 quoting). A field that a spreadsheet would take for a
 * formula (= + - @ at the start) gets a leading apostrophe. */
static void put_csv(FILE *out, const char *s, int last)
{
    int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                  s[0] == '\r';
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', out);
    if (formula)
        fputc('\'', out);
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    if (quote)
        fputc('"', out);
    fputc(last ? '\n' : ',', out);
}

static void outcome_text(const store_access_entry *e, char *out, size_t cap)
{
    if (!e->error_type[0])
        snprintf(out, cap, "answered: %lld of your claims (HTTP %d)", (long long)e->n_claims,
                 e->http_status);
    else if (e->http_status)
        snprintf(out, cap, "failed: %s (HTTP %d)", e->error_type, e->http_status);
    else
        snprintf(out, cap, "failed: %s (no answer)", e->error_type);
}

static void print_text(FILE *out, const char *applicant, const store_access_entry *e, size_t n)
{
    fputs("Registry requests about the parcels of applicant ", out);
    put_text(out, applicant);
    fprintf(out, ": %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        char outcome[160];
        outcome_text(&e[i], outcome, sizeof outcome);
        fprintf(out, "\n%s  asked by ", e[i].logged_at);
        put_text(out, e[i].client);
        fputs(", official ", out);
        put_text(out, e[i].user_id);
        fputs("\n  why:      ", out);
        put_text(out, e[i].purpose[0] ? e[i].purpose : "-");
        fputs(" (issue ", out);
        put_text(out, e[i].issue[0] ? e[i].issue : "-");
        fprintf(out, ")\n  parcels:  ");
        put_text(out, e[i].parcels[0] ? e[i].parcels : "-");
        fprintf(out, " (season %d)\n  outcome:  %s\n  exchange: ", e[i].season, outcome);
        put_text(out, e[i].x_road_id);
        fputc('\n', out);
    }
}

static void print_csv(FILE *out, const store_access_entry *e, size_t n)
{
    fputs("logged_at,client,user_id,issue,purpose,season,parcels,outcome,http_status,"
          "error_type,x_road_id\n", out);
    for (size_t i = 0; i < n; i++) {
        char season[16], status[16];
        snprintf(season, sizeof season, "%d", e[i].season);
        snprintf(status, sizeof status, "%d", e[i].http_status);
        put_csv(out, e[i].logged_at, 0);
        put_csv(out, e[i].client, 0);
        put_csv(out, e[i].user_id, 0);
        put_csv(out, e[i].issue, 0);
        put_csv(out, e[i].purpose, 0);
        put_csv(out, season, 0);
        put_csv(out, e[i].parcels, 0);
        put_csv(out, e[i].error_type[0] ? "failed" : "answered", 0);
        put_csv(out, e[i].http_status ? status : "", 0);
        put_csv(out, e[i].error_type, 0);
        put_csv(out, e[i].x_road_id, 1);
    }
}

int cmd_access_log(int argc, char **argv)
{
    const char *applicant = NULL, *format = "text";
    const cli_option options[] = {
        {"applicant", &applicant, NULL, "the applicant's pseudonymous code"},
        {"format", &format, NULL, "text (default) or csv"},
        {NULL, NULL, NULL, NULL},
    };
    mc_settings st;
    const char *positional[argc > 0 ? argc : 1];
    int n_positional = 0;
    int parsed = cli_parse(argc, argv, usage, options, &st, positional, &n_positional);
    int code = parsed == CLI_HELP ? EXIT_OK : EXIT_USAGE;
    if (parsed == CLI_OK && (n_positional > 0 || !applicant || !*applicant))
        log_error("access-log: give --applicant CODE and nothing else (see --help)");
    else if (parsed == CLI_OK && strcmp(format, "text") != 0 && strcmp(format, "csv") != 0)
        log_error("access-log: --format %s: expected text or csv", format);
    else if (parsed == CLI_OK)
        code = EXIT_OK;
    if (parsed != CLI_OK || code != EXIT_OK) {
        settings_free(&st);
        return code;
    }
    store *s = NULL;
    store_access_entry *entries = NULL;
    size_t n = 0;
    if (cli_open_store(&st, &s) != MC_OK || store_audit_access_log(s, applicant, &entries, &n)) {
        log_error("access-log: %s", mc_error_message());
        code = EXIT_FAILURE_RUN;
    } else if (strcmp(format, "csv") == 0) {
        print_csv(stdout, entries, n);
    } else {
        print_text(stdout, applicant, entries, n);
    }
    if (code == EXIT_OK && fflush(stdout) != 0) {
        log_error("access-log: cannot write the output");
        code = EXIT_FAILURE_RUN;
    }
    store_access_entries_free(entries, n);
    if (s)
        store_close(s);
    settings_free(&st);
    return code;
}
