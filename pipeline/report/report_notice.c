/* Farmer notices from templates (report_notice.h). */
#define _GNU_SOURCE
#include "report_notice.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_dir.h"
#include "error.h"
#include "log.h"
#include "dates.h"
#include "report_text.h"

/* ---- one language's templates ---- */
typedef struct notice_templates {
    char dir[4096], agency_path[4200];
    const char *lang;
    report_kv agency, strings;
    char *html, *txt;
    int appeal_days, evidence_days;
} notice_templates;

static void templates_free(notice_templates *t)
{
    report_kv_free(&t->agency);
    report_kv_free(&t->strings);
    free(t->html);
    free(t->txt);
}

static int deadline_days(const notice_templates *t, const char *key, int *days)
{
    const char *text = report_kv_get(&t->agency, key);
    char *end;
    long d = text ? strtol(text, &end, 10) : -1;
    if (!text || *end || d < 1 || d > 3650)
        return mc_fail("%s: %s must be a number of days (1..3650)", t->agency_path, key);
    *days = (int)d;
    return MC_OK;
}

/* An agency setting in the notice's language: `key.<lang>`, else `key`. */
static int agency_setting(const notice_templates *t, const char *key, const char **value)
{
    char k[128];
    snprintf(k, sizeof k, "%s.%s", key, t->lang);
    *value = report_kv_get(&t->agency, k);
    if (!*value)
        *value = report_kv_get(&t->agency, key);
    if (!*value)
        return mc_fail("%s: no '%s' (nor '%s')", t->agency_path, k, key);
    return MC_OK;
}

static const char *const agency_settings[] = {"agency_contact", "sender", "legal_basis",
                                              "contact", "data_tracker"};

static int templates_load(const report_notice_options *o, notice_templates *t)
{
    memset(t, 0, sizeof *t);
    if (!o->lang || !*o->lang || strchr(o->lang, '/') || o->lang[0] == '.')
        return mc_fail("--lang: '%s' is not a language folder", o->lang ? o->lang : "");
    t->lang = o->lang;
    snprintf(t->agency_path, sizeof t->agency_path, "%s/agency.conf", o->template_dir);
    if (report_kv_load(t->agency_path, &t->agency) != MC_OK ||
        deadline_days(t, "appeal_deadline_days", &t->appeal_days) != MC_OK ||
        deadline_days(t, "evidence_deadline_days", &t->evidence_days) != MC_OK)
        return MC_ERR;
    for (size_t i = 0; i < sizeof agency_settings / sizeof *agency_settings; i++) {
        const char *v;
        if (agency_setting(t, agency_settings[i], &v) != MC_OK)
            return MC_ERR;
    }
    snprintf(t->dir, sizeof t->dir, "%s/%s", o->template_dir, o->lang);
    if (!report_is_dir(t->dir))
        return mc_fail("language %s: no folder %s", o->lang, t->dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/strings.conf", t->dir);
    if (report_kv_load(path, &t->strings) != MC_OK)
        return MC_ERR;
    snprintf(path, sizeof path, "%s/notice.html", t->dir);
    if (report_read_template(path, &t->html) != MC_OK)
        return MC_ERR;
    snprintf(path, sizeof path, "%s/notice.txt", t->dir);
    return report_read_template(path, &t->txt);
}

static int word(const notice_templates *t, const char *key, const char **value)
{
    *value = report_kv_get(&t->strings, key);
    if (!*value)
        return mc_fail("%s/strings.conf: no '%s'", t->dir, key);
    return MC_OK;
}

/* ---- dates and numbers in the notice's language ---- */
/* A day written by the pattern of strings.conf format.date (YYYY, MM, DD; other
 * characters as they are), e.g. DD.MM.YYYY -> 01.05.2026. */
static void format_day(const char *pattern, int32_t day, char out[32])
{
    char iso[11];
    date_format(day, iso); /* YYYY-MM-DD */
    size_t n = 0;
    for (const char *p = pattern; *p && n + 5 < 32;) {
        if (strncmp(p, "YYYY", 4) == 0) {
            memcpy(out + n, iso, 4), n += 4, p += 4;
        } else if (strncmp(p, "MM", 2) == 0) {
            memcpy(out + n, iso + 5, 2), n += 2, p += 2;
        } else if (strncmp(p, "DD", 2) == 0) {
            memcpy(out + n, iso + 8, 2), n += 2, p += 2;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

/* A YYYY-MM-DD text in the notice's format; as it is where it is not a date. */
static void format_date_text(const char *pattern, const char *text, char out[32])
{
    int32_t day;
    if (date_parse(text, &day) == MC_OK)
        format_day(pattern, day, out);
    else
        snprintf(out, 32, "%s", text);
}

static void format_decimal(const char *separator, double v, char out[32])
{
    char num[24];
    snprintf(num, sizeof num, "%.2f", v);
    char *dot = strchr(num, '.');
    if (dot)
        *dot = '\0';
    snprintf(out, 32, "%s%s%s", num, dot ? separator : "", dot ? dot + 1 : "");
}

typedef struct notice_format {
    const char *date, *decimal;
} notice_format;

/* ---- the evidence in words ---- */
static int in_window(const store_flagged *f, int32_t day)
{
    int32_t a, b;
    if (date_parse(f->window_start, &a) != MC_OK ||
        date_parse(f->window_end, &b) != MC_OK)
        return 1; /* window unknown: the whole season */
    return day >= a && day <= b;
}

/* Dates (clear or cloudy) in the window, comma-separated; `none` where there are none. */
static char *dates_text(const notice_format *fmt, const store_flagged *f,
                        const store_report_detail *d, int observed, const char *none)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    int n = 0;
    for (size_t i = 0; i < d->n_points; i++) {
        if (d->points[i].observed != observed || !in_window(f, d->points[i].day))
            continue;
        char date[32];
        format_day(fmt->date, d->points[i].day, date);
        fprintf(m, "%s%s", n++ ? ", " : "", date);
    }
    if (!n)
        fputs(none, m);
    fclose(m);
    return buf;
}

static int events_text(const notice_templates *t, const notice_format *fmt,
                       const store_report_detail *d, char **text)
{
    const char *none, *format;
    if (word(t, "event.none", &none) != MC_OK || word(t, "event.format", &format) != MC_OK)
        return MC_ERR;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return mc_fail("notice: out of memory");
    int rc = MC_OK;
    for (size_t i = 0; rc == MC_OK && i < d->n_events; i++) {
        char a[32], b[32], c[32];
        format_day(fmt->date, d->events[i].day_start, a);
        format_day(fmt->date, d->events[i].day_end, b);
        format_decimal(fmt->decimal, d->events[i].confidence, c);
        report_var v[] = {{"start", a}, {"end", b}, {"confidence", c}};
        if (i)
            fputs("; ", m);
        rc = report_render(m, format, "strings.conf event.format", v, 3, 0);
    }
    if (d->n_events == 0)
        fputs(none, m);
    fclose(m);
    if (rc != MC_OK) {
        free(buf);
        return rc;
    }
    *text = buf;
    return MC_OK;
}

/* ---- one notice ---- */
static int safe_file_name(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    return 1;
}

static int write_file(const char *path, const char *text)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return mc_fail("notice %s: %s", path, strerror(errno));
    fputs(text, out);
    int failed = ferror(out);
    if ((fclose(out) != 0 || failed))
        return mc_fail("notice %s: write failed", path);
    return MC_OK;
}

/* What the notice says follows: the review's verdict, or "open" where there is none. */
static const char *notice_state(const store_flagged *f)
{
    if (!f->reviewed || !*f->reviewed)
        return "open";
    return f->reviewed; /* mowed, not_mowed, needs_visit */
}

/* The deadline of a state: evidence while nothing is decided, the appeal after a
 * not_mowed verdict, none after mowed. */
static int32_t notice_deadline(const notice_templates *t, const char *state, int32_t day,
                               int *days)
{
    *days = strcmp(state, "not_mowed") == 0 ? t->appeal_days
            : strcmp(state, "mowed") == 0   ? 0
                                            : t->evidence_days;
    return *days ? day + *days : INT32_MIN;
}

typedef struct notice_texts {
    char *clear, *cloudy, *events, *next, *html, *txt;
} notice_texts;

static void texts_free(notice_texts *x)
{
    free(x->clear);
    free(x->cloudy);
    free(x->events);
    free(x->next);
    free(x->html);
    free(x->txt);
}

/* The words of a notice that depend on its state and outcome. */
typedef struct notice_words {
    const char *finding, *status, *rule, *review, *next_heading, *next, *none;
    const char *contact, *sender, *legal_basis, *questions, *data_tracker;
} notice_words;

static int notice_words_load(const notice_templates *t, const store_flagged *f,
                             const char *state, notice_words *w)
{
    char key[96];
    snprintf(key, sizeof key, "finding.%s", f->outcome);
    if (word(t, key, &w->finding) != MC_OK)
        return MC_ERR;
    snprintf(key, sizeof key, "status.%s", state);
    if (word(t, key, &w->status) != MC_OK)
        return MC_ERR;
    snprintf(key, sizeof key, "review.%s", strcmp(state, "open") == 0 ? "none" : state);
    if (word(t, key, &w->review) != MC_OK)
        return MC_ERR;
    snprintf(key, sizeof key, "next.heading.%s", state);
    if (word(t, key, &w->next_heading) != MC_OK)
        return MC_ERR;
    snprintf(key, sizeof key, "next.%s", state);
    if (word(t, key, &w->next) != MC_OK || word(t, "dates.none", &w->none) != MC_OK)
        return MC_ERR;
    /* why, in the notice's language: optional per rule ("" where the templates have none) */
    snprintf(key, sizeof key, "rule.%s", f->rule ? f->rule : "");
    w->rule = report_kv_get(&t->strings, key);
    if (!w->rule)
        w->rule = "";
    if (agency_setting(t, "agency_contact", &w->contact) != MC_OK ||
        agency_setting(t, "sender", &w->sender) != MC_OK ||
        agency_setting(t, "legal_basis", &w->legal_basis) != MC_OK ||
        agency_setting(t, "contact", &w->questions) != MC_OK ||
        agency_setting(t, "data_tracker", &w->data_tracker) != MC_OK)
        return MC_ERR;
    return MC_OK;
}

/* Renders both bodies of a new notice issued on n->issued_on into x->html, x->txt. */
static int notice_render(const notice_templates *t, const store_flagged *f,
                         const store_report_detail *d, const store_farmer_notice *n,
                         notice_texts *x)
{
    notice_format fmt;
    notice_words w;
    if (word(t, "format.date", &fmt.date) != MC_OK ||
        word(t, "format.decimal", &fmt.decimal) != MC_OK ||
        notice_words_load(t, f, n->state, &w) != MC_OK)
        return MC_ERR;
    char season[16], notice_date[32], deadline[32] = "", days[16], start[32], end[32];
    int n_days;
    notice_deadline(t, n->state, n->issued_on, &n_days);
    snprintf(season, sizeof season, "%d", f->season);
    snprintf(days, sizeof days, "%d", n_days);
    format_day(fmt.date, n->issued_on, notice_date);
    if (n->deadline != INT32_MIN)
        format_day(fmt.date, n->deadline, deadline);
    format_date_text(fmt.date, f->window_start, start);
    format_date_text(fmt.date, f->window_end, end);
    int rc = events_text(t, &fmt, d, &x->events);
    x->clear = dates_text(&fmt, f, d, 1, w.none);
    x->cloudy = dates_text(&fmt, f, d, 0, w.none);
    if (rc == MC_OK && (!x->clear || !x->cloudy))
        rc = mc_fail("notice: out of memory");
    report_var vars[] = {
        {"case_number", f->case_number}, {"claim_id", f->claim_id},
        {"parcel_id", f->parcel_id}, {"season", season}, {"scheme", f->scheme},
        {"window_start", start}, {"window_end", end}, {"finding", w.finding},
        {"status", w.status}, {"rule_text", w.rule}, {"review", w.review},
        {"clear_dates", x->clear}, {"cloudy_dates", x->cloudy}, {"events", x->events},
        {"notice_date", notice_date}, {"deadline", deadline}, {"deadline_days", days},
        {"agency_contact", w.contact}, {"sender", w.sender}, {"legal_basis", w.legal_basis},
        {"contact", w.questions}, {"data_tracker", w.data_tracker},
        {"next_heading", w.next_heading}, {"next_text", NULL}};
    size_t n_vars = sizeof vars / sizeof *vars;
    if (rc == MC_OK) /* the next steps may use every other variable */
        rc = report_render_trimmed(w.next, "strings.conf next.*", vars, n_vars - 1, &x->next);
    vars[n_vars - 1].value = x->next;
    if (rc == MC_OK)
        rc = report_render_alloc(t->html, "notice.html", vars, n_vars, 1, &x->html);
    if (rc == MC_OK)
        rc = report_render_alloc(t->txt, "notice.txt", vars, n_vars, 0, &x->txt);
    return rc;
}

/* The notice of a case as first issued: found in the store, or rendered now (dated
 * o->notice_day) and recorded. */
static int notice_issue(store *s, const notice_templates *t, const report_notice_options *o,
                        const store_flagged *f, store_farmer_notice *n)
{
    store_notice_key key = {.case_number = f->case_number, .lang = o->lang,
                            .decision_id = f->decision_id, .review_id = f->review_id};
    int found;
    if (store_notice_find(s, &key, n, &found) != MC_OK)
        return MC_ERR;
    if (found)
        return MC_OK;
    store_report_detail d;
    if (store_report_detail_load(s, f, &o->observed, o->prefetch, &d) != MC_OK)
        return MC_ERR;
    int days;
    store_farmer_notice fresh = {.state = (char *)notice_state(f), .issued_on = o->notice_day};
    fresh.deadline = notice_deadline(t, fresh.state, fresh.issued_on, &days);
    notice_texts x = {0};
    int rc = notice_render(t, f, &d, &fresh, &x);
    store_report_detail_free(&d);
    fresh.body_html = x.html;
    fresh.body_text = x.txt;
    if (rc == MC_OK)
        rc = store_notice_put(s, &key, &fresh);
    texts_free(&x);
    if (rc == MC_OK) /* what the store holds: another report may have issued it first */
        rc = store_notice_find(s, &key, n, &found);
    if (rc == MC_OK && !found)
        rc = mc_fail("case %s: the notice was not recorded", f->case_number);
    return rc;
}

static int notice_one(store *s, const notice_templates *t, const report_notice_options *o,
                      const store_flagged *f)
{
    if (!safe_file_name(f->case_number))
        return mc_fail("claim %s: case number '%s' is not usable as a file name", f->claim_id,
                       f->case_number);
    store_farmer_notice n;
    if (notice_issue(s, t, o, f, &n) != MC_OK)
        return MC_ERR;
    int rc = MC_OK;
    if (!n.intact)
        rc = mc_fail("case %s: notice %lld no longer matches its recorded content hash "
                     "(changed in the database); not written", f->case_number,
                     (long long)n.notice_id);
    char path[4200];
    if (rc == MC_OK) {
        snprintf(path, sizeof path, "%s/%s.html", o->out_dir, f->case_number);
        rc = write_file(path, n.body_html);
    }
    if (rc == MC_OK) {
        snprintf(path, sizeof path, "%s/%s.txt", o->out_dir, f->case_number);
        rc = write_file(path, n.body_text);
    }
    store_notice_free(&n);
    return rc;
}

int report_notices_write(store *s, const report_notice_options *o, size_t *n_written)
{
    *n_written = 0;
    notice_templates t;
    int rc = templates_load(o, &t);
    store_flagged *rows = NULL;
    size_t n = 0, n_failed = 0;
    if (rc == MC_OK)
        rc = store_flagged_load(s, o->season, &rows, &n);
    /* one case that cannot be written is named and the others still are */
    for (size_t i = 0; rc == MC_OK && i < n; i++) {
        if (!*rows[i].case_number)
            continue;
        if (notice_one(s, &t, o, &rows[i]) == MC_OK) {
            ++*n_written;
        } else {
            log_error("report: notice: %s", mc_error_message());
            n_failed++;
        }
    }
    store_flagged_free(rows, n);
    templates_free(&t);
    if (rc == MC_OK && n_failed)
        rc = mc_fail("%zu notice(s) not written (see above)", n_failed);
    return rc;
}
