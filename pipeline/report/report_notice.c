/* Farmer notices from templates (report_notice.h). */
#define _GNU_SOURCE
#include "report_notice.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_dir.h"
#include "error.h"
#include "report.h"
#include "dates.h"
#include "text_file.h"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int report_template_dir(const char *option, char *buf, size_t size)
{
    const char *env = getenv("MOWCHECK_TEMPLATE_DIR"), *schemas = getenv("MOWCHECK_SCHEMA_DIR");
    int n;
    if (option && *option)
        n = snprintf(buf, size, "%s", option);
    else if (env && *env)
        n = snprintf(buf, size, "%s", env);
    else if (schemas && *schemas)
        n = snprintf(buf, size, "%s/templates", schemas);
    else
        n = snprintf(buf, size, "%s", mc_data_file("schemas/templates"));
    if (n < 0 || (size_t)n >= size)
        return mc_fail("templates folder: path too long");
    if (!is_dir(buf))
        return mc_fail("templates folder %s: not found (set MOWCHECK_TEMPLATE_DIR)", buf);
    return MC_OK;
}

static int read_text(const char *path, char **text)
{
    switch (text_file_read(path, text, NULL)) {
    case TEXT_FILE_OK: return MC_OK;
    case TEXT_FILE_CANNOT_OPEN: return mc_fail("template %s: %s", path, strerror(errno));
    case TEXT_FILE_CANNOT_READ: break;
    }
    return mc_fail("template %s: cannot read", path);
}

/* ---- key = value files ---- */
typedef struct kv_file {
    char *text;  /* owns the strings below (split in place) */
    report_var *vars;
    size_t n;
} kv_file;

static void kv_free(kv_file *kv)
{
    free(kv->text);
    free(kv->vars);
    memset(kv, 0, sizeof *kv);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int kv_load(const char *path, kv_file *kv)
{
    memset(kv, 0, sizeof *kv);
    if (read_text(path, &kv->text) != MC_OK)
        return MC_ERR;
    size_t cap = 1;
    for (const char *p = kv->text; *p; p++)
        cap += *p == '\n';
    kv->vars = calloc(cap, sizeof *kv->vars);
    if (!kv->vars)
        return mc_fail("%s: out of memory", path);
    int line = 0;
    for (char *save = NULL, *l = kv->text; l; l = save) {
        save = strchr(l, '\n');
        if (save)
            *save++ = '\0';
        line++;
        char *t = trim(l);
        if (!*t || *t == '#')
            continue;
        char *eq = strchr(t, '=');
        if (!eq)
            return mc_fail("%s: line %d: expected key = value", path, line);
        *eq = '\0';
        kv->vars[kv->n].name = trim(t);
        kv->vars[kv->n++].value = trim(eq + 1);
    }
    return MC_OK;
}

static const char *kv_get(const kv_file *kv, const char *key)
{
    for (size_t i = kv->n; i-- > 0;) /* the last one wins */
        if (strcmp(kv->vars[i].name, key) == 0)
            return kv->vars[i].value;
    return NULL;
}

/* ---- rendering ---- */
int report_render(FILE *out, const char *tmpl, const char *what, const report_var *vars,
                  size_t n_vars, int html)
{
    int line = 1;
    for (const char *p = tmpl; *p;) {
        if (p[0] != '{' || p[1] != '{') {
            line += *p == '\n';
            fputc(*p++, out);
            continue;
        }
        const char *end = strstr(p + 2, "}}");
        if (!end || memchr(p + 2, '\n', (size_t)(end - p - 2)))
            return mc_fail("template %s: line %d: '{{' without '}}'", what, line);
        size_t len = (size_t)(end - p - 2);
        const report_var *v = NULL;
        for (size_t i = 0; i < n_vars && !v; i++)
            if (strlen(vars[i].name) == len && memcmp(vars[i].name, p + 2, len) == 0)
                v = &vars[i];
        if (!v)
            return mc_fail("template %s: line %d: unknown {{%.*s}}", what, line, (int)len, p + 2);
        if (html)
            report_html_escape(out, v->value);
        else
            fputs(v->value, out);
        p = end + 2;
    }
    return ferror(out) ? mc_fail("template %s: write failed", what) : MC_OK;
}

/* Renders to a new string (plain text), trailing white space removed. */
static int render_string(const char *tmpl, const char *what, const report_var *vars, size_t n,
                         char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return mc_fail("template %s: out of memory", what);
    int rc = report_render(m, tmpl, what, vars, n, 0);
    fclose(m);
    if (rc != MC_OK) {
        free(buf);
        return rc;
    }
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        buf[--len] = '\0';
    *text = buf;
    return MC_OK;
}

/* ---- one language's templates ---- */
typedef struct notice_templates {
    char dir[4096];
    kv_file agency, strings;
    char *html, *txt, *appeal;
    int deadline_days;
} notice_templates;

static void templates_free(notice_templates *t)
{
    kv_free(&t->agency);
    kv_free(&t->strings);
    free(t->html);
    free(t->txt);
    free(t->appeal);
}

static int templates_load(const report_notice_options *o, notice_templates *t)
{
    memset(t, 0, sizeof *t);
    if (!o->lang || !*o->lang || strchr(o->lang, '/') || o->lang[0] == '.')
        return mc_fail("--lang: '%s' is not a language folder", o->lang ? o->lang : "");
    char path[4200];
    snprintf(path, sizeof path, "%s/agency.conf", o->template_dir);
    if (kv_load(path, &t->agency) != MC_OK)
        return MC_ERR;
    const char *days = kv_get(&t->agency, "appeal_deadline_days");
    char *end;
    long d = days ? strtol(days, &end, 10) : -1;
    if (!days || *end || d < 1 || d > 3650)
        return mc_fail("%s: appeal_deadline_days must be a number of days (1..3650)", path);
    t->deadline_days = (int)d;
    if (!kv_get(&t->agency, "agency_contact"))
        return mc_fail("%s: no agency_contact", path);
    snprintf(t->dir, sizeof t->dir, "%s/%s", o->template_dir, o->lang);
    if (!is_dir(t->dir))
        return mc_fail("language %s: no folder %s", o->lang, t->dir);
    snprintf(path, sizeof path, "%s/strings.conf", t->dir);
    if (kv_load(path, &t->strings) != MC_OK)
        return MC_ERR;
    snprintf(path, sizeof path, "%s/notice.html", t->dir);
    if (read_text(path, &t->html) != MC_OK)
        return MC_ERR;
    snprintf(path, sizeof path, "%s/notice.txt", t->dir);
    if (read_text(path, &t->txt) != MC_OK)
        return MC_ERR;
    snprintf(path, sizeof path, "%s/appeal.txt", t->dir);
    return read_text(path, &t->appeal);
}

static int word(const notice_templates *t, const char *key, const char **value)
{
    *value = kv_get(&t->strings, key);
    if (!*value)
        return mc_fail("%s/strings.conf: no '%s'", t->dir, key);
    return MC_OK;
}

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
static char *dates_text(const store_flagged *f, const store_report_detail *d, int observed,
                        const char *none)
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
        char date[11];
        date_format(d->points[i].day, date);
        fprintf(m, "%s%s", n++ ? ", " : "", date);
    }
    if (!n)
        fputs(none, m);
    fclose(m);
    return buf;
}

static int events_text(const notice_templates *t, const store_report_detail *d, char **text)
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
        char a[11], b[11], c[16];
        date_format(d->events[i].day_start, a);
        date_format(d->events[i].day_end, b);
        snprintf(c, sizeof c, "%.2f", d->events[i].confidence);
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

static int write_rendered(const char *path, const char *tmpl, const char *what,
                          const report_var *vars, size_t n, int html)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return mc_fail("notice %s: %s", path, strerror(errno));
    int rc = report_render(out, tmpl, what, vars, n, html);
    if (fclose(out) != 0 && rc == MC_OK)
        rc = mc_fail("notice %s: %s", path, strerror(errno));
    return rc;
}

typedef struct notice_texts {
    char *clear, *cloudy, *events, *appeal, *access;
} notice_texts;

static void texts_free(notice_texts *x)
{
    free(x->clear);
    free(x->cloudy);
    free(x->events);
    free(x->appeal);
    free(x->access);
}

static int notice_one(const notice_templates *t, const report_notice_options *o,
                      const store_flagged *f, const store_report_detail *d)
{
    if (!safe_file_name(f->case_number))
        return mc_fail("claim %s: case number '%s' is not usable as a file name", f->claim_id,
                       f->case_number);
    char key[64], season[16], notice_date[11], deadline[11], days[16];
    const char *outcome_text, *review_text, *none;
    snprintf(key, sizeof key, "outcome.%s", f->outcome);
    if (word(t, key, &outcome_text) != MC_OK)
        return MC_ERR;
    /* why, in the notice's language: optional per rule ("" where the templates have none) */
    snprintf(key, sizeof key, "rule.%s", f->rule ? f->rule : "");
    const char *rule_text = kv_get(&t->strings, key);
    if (!rule_text)
        rule_text = "";
    snprintf(key, sizeof key, "review.%s", *f->reviewed ? f->reviewed : "none");
    if (word(t, key, &review_text) != MC_OK || word(t, "dates.none", &none) != MC_OK)
        return MC_ERR;
    snprintf(season, sizeof season, "%d", f->season);
    snprintf(days, sizeof days, "%d", t->deadline_days);
    date_format(o->notice_day, notice_date);
    date_format(o->notice_day + t->deadline_days, deadline);
    notice_texts x = {0};
    int rc = events_text(t, d, &x.events);
    x.clear = dates_text(f, d, 1, none);
    x.cloudy = dates_text(f, d, 0, none);
    if (rc == MC_OK && (!x.clear || !x.cloudy ||
                        asprintf(&x.access, "mowcheck access-log --applicant %s", f->applicant) < 0))
        rc = mc_fail("notice: out of memory");
    report_var vars[] = {
        {"case_number", f->case_number}, {"claim_id", f->claim_id},
        {"parcel_id", f->parcel_id}, {"season", season}, {"scheme", f->scheme},
        {"window_start", f->window_start}, {"window_end", f->window_end},
        {"applicant", f->applicant}, {"outcome_text", outcome_text},
        {"rule_text", rule_text},
        {"reason", f->reason}, {"review", review_text}, {"clear_dates", x.clear},
        {"cloudy_dates", x.cloudy}, {"events", x.events}, {"notice_date", notice_date},
        {"appeal_deadline", deadline}, {"appeal_deadline_days", days},
        {"agency_contact", kv_get(&t->agency, "agency_contact")},
        {"access_log_command", x.access}, {"appeal_text", NULL}};
    size_t n_vars = sizeof vars / sizeof *vars;
    if (rc == MC_OK) /* the appeal text may use every other variable */
        rc = render_string(t->appeal, "appeal.txt", vars, n_vars - 1, &x.appeal);
    vars[n_vars - 1].value = x.appeal;
    char path[4200];
    if (rc == MC_OK) {
        snprintf(path, sizeof path, "%s/%s.html", o->out_dir, f->case_number);
        rc = write_rendered(path, t->html, "notice.html", vars, n_vars, 1);
    }
    if (rc == MC_OK) {
        snprintf(path, sizeof path, "%s/%s.txt", o->out_dir, f->case_number);
        rc = write_rendered(path, t->txt, "notice.txt", vars, n_vars, 0);
    }
    texts_free(&x);
    return rc;
}

int report_notices_write(store *s, const report_notice_options *o, size_t *n_written)
{
    *n_written = 0;
    notice_templates t;
    int rc = templates_load(o, &t);
    store_flagged *rows = NULL;
    size_t n = 0;
    if (rc == MC_OK)
        rc = store_flagged_load(s, o->season, &rows, &n);
    for (size_t i = 0; rc == MC_OK && i < n; i++) {
        if (!*rows[i].case_number)
            continue;
        store_report_detail d;
        rc = store_report_detail_load(s, &rows[i], &o->observed, &d);
        if (rc == MC_OK) {
            rc = notice_one(&t, o, &rows[i], &d);
            store_report_detail_free(&d);
        }
        if (rc == MC_OK)
            ++*n_written;
    }
    store_flagged_free(rows, n);
    templates_free(&t);
    return rc;
}
